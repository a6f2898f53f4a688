// cpu/rmsnorm.cpp - y = w * x / sqrt(mean(x^2) + eps) per row (docs/model.md section 4.2), in fp32.
#include <algorithm>
#include <cmath>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

JET_CLONES
void rmsnorm_rows(const float *x, const float *w, float *y, int64_t r0, int64_t r1, int D,
                  float eps) {
    for (int64_t r = r0; r < r1; ++r) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        float ss = 0.f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < D; ++i) ss += xr[i] * xr[i];
        const float inv = 1.f / std::sqrt(ss / static_cast<float>(D) + eps);
#pragma omp simd
        for (int i = 0; i < D; ++i) yr[i] = w[i] * (xr[i] * inv);
    }
}

}  // namespace

void rmsnorm(const float *x, const float *w, float *y, int T, int D, float eps) {
    if (T <= 0 || D <= 0) return;
    parallel_for_min(T, std::max(1, 16384 / D),
                     [&](int64_t b, int64_t e) { rmsnorm_rows(x, w, y, b, e, D, eps); });
}

}  // namespace jet::cpu
