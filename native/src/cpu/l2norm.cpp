// cpu/l2norm.cpp - x <- x / sqrt(sum x^2 + eps) per head vector (JetBlock q and k, docs/model.md section 5.1).
#include <algorithm>
#include <cmath>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

JET_CLONES
void l2norm_vectors(float *x, int64_t v0, int64_t v1, int D, float eps) {
    for (int64_t v = v0; v < v1; ++v) {
        float *xv = x + v * D;
        float ss = 0.f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < D; ++i) ss += xv[i] * xv[i];
        const float inv = 1.f / std::sqrt(ss + eps);
#pragma omp simd
        for (int i = 0; i < D; ++i) xv[i] *= inv;
    }
}

}  // namespace

void l2norm_heads(float *x, int T, int H, int D, float eps) {
    if (T <= 0 || H <= 0 || D <= 0) return;
    const int64_t n = static_cast<int64_t>(T) * H;
    parallel_for_min(n, std::max(1, 16384 / D),
                     [&](int64_t b, int64_t e) { l2norm_vectors(x, b, e, D, eps); });
}

}  // namespace jet::cpu
