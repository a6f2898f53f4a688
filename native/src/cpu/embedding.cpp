// cpu/embedding.cpp - x[t, :] = table[ids[t], :] (fp32 or bf16 table). Ids are validated by the
// caller (backend.h).
#include <algorithm>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {

void embedding(const float *table, const int32_t *ids, float *x, int T, int D) {
    if (T <= 0 || D <= 0) return;
    parallel_for_min(T, std::max(1, 65536 / D), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            std::memcpy(x + t * D, table + static_cast<int64_t>(ids[t]) * D, sizeof(float) * D);
    });
}

void embedding_bf16(const uint16_t *table, const int32_t *ids, float *x, int T, int D) {
    if (T <= 0 || D <= 0) return;
    parallel_for_min(T, std::max(1, 65536 / D), [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            bf16_to_f32(table + static_cast<int64_t>(ids[t]) * D, x + t * D, D);
    });
}

}  // namespace jet::cpu
