// cpu/gated_rmsnorm.cpp - JetBlock output norm (docs/model.md section 5.5): per head of D values,
// o <- o / sqrt(mean(o^2) + eps) * w * silu(G), in fp32.
#include <algorithm>
#include <cmath>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

JET_CLONES
void gated_rmsnorm_heads(float *o, const float *G, const float *w, int64_t v0, int64_t v1, int D,
                         float eps) {
    for (int64_t v = v0; v < v1; ++v) {
        float *ov = o + v * D;
        const float *gv = G + v * D;
        float ss = 0.f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < D; ++i) ss += ov[i] * ov[i];
        const float inv = 1.f / std::sqrt(ss / static_cast<float>(D) + eps);
#pragma omp simd
        for (int i = 0; i < D; ++i) ov[i] = ov[i] * inv * w[i] * silu_approx(gv[i]);
    }
}

}  // namespace

void gated_rmsnorm(float *o, const float *G, const float *w, int T, int H, int D, float eps) {
    if (T <= 0 || H <= 0 || D <= 0) return;
    const int64_t n = static_cast<int64_t>(T) * H;
    parallel_for_min(n, std::max(1, 8192 / D),
                     [&](int64_t b, int64_t e) { gated_rmsnorm_heads(o, G, w, b, e, D, eps); });
}

}  // namespace jet::cpu
