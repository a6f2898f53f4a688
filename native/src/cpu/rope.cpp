// cpu/rope.cpp - rotary position embedding, rotate-half layout (docs/model.md section 4.4).
// Angles follow the reference's float32 arithmetic: inv_freq_j = 1 / theta^(2j/hd) rounded to
// float, angle = float(pos) * inv_freq_j in float, then an accurate cos/sin of that angle.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

JET_CLONES
void rotate_heads(float *xt, int n_heads, int head_dim, const float *cs, const float *sn) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h) {
        float *a = xt + static_cast<int64_t>(h) * head_dim;
        float *b = a + half;
#pragma omp simd
        for (int j = 0; j < half; ++j) {
            const float x1 = a[j], x2 = b[j];
            a[j] = x1 * cs[j] - x2 * sn[j];
            b[j] = x2 * cs[j] + x1 * sn[j];
        }
    }
}

}  // namespace

void rope(float *x, int T, int n_heads, int head_dim, const int32_t *positions, double theta) {
    if (T <= 0 || n_heads <= 0 || head_dim < 2) return;
    const int half = head_dim / 2;
    std::vector<float> inv_freq(half);
    for (int j = 0; j < half; ++j) {
        const float expo = static_cast<float>(2 * j) / static_cast<float>(head_dim);
        inv_freq[j] = 1.f / static_cast<float>(std::pow(theta, static_cast<double>(expo)));
    }
    const int64_t row = static_cast<int64_t>(n_heads) * head_dim;
    parallel_for_min(T, std::max<int64_t>(1, 8192 / row), [&](int64_t b, int64_t e) {
        std::vector<float> cs(half), sn(half);
        for (int64_t t = b; t < e; ++t) {
            const float pos = static_cast<float>(positions[t]);
            for (int j = 0; j < half; ++j) {
                const double angle = static_cast<double>(pos * inv_freq[j]);
                cs[j] = static_cast<float>(std::cos(angle));
                sn[j] = static_cast<float>(std::sin(angle));
            }
            rotate_heads(x + t * row, n_heads, head_dim, cs.data(), sn.data());
        }
    });
}

}  // namespace jet::cpu
