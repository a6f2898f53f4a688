// cpu/activations.cpp - silu(x) = x * sigmoid(x), and the MLP's silu(gate) * up.
#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

constexpr int64_t kMinPerThread = 16384;

JET_CLONES
void silu_range(float *x, int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) x[i] = silu_approx(x[i]);
}

JET_CLONES
void silu_mul_range(const float *gate, const float *up, float *out, int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) out[i] = silu_approx(gate[i]) * up[i];
}

}  // namespace

void silu(float *x, int64_t n) {
    parallel_for_min(n, kMinPerThread, [&](int64_t b, int64_t e) { silu_range(x, b, e); });
}

void silu_mul(const float *gate, const float *up, float *out, int64_t n) {
    parallel_for_min(n, kMinPerThread,
                     [&](int64_t b, int64_t e) { silu_mul_range(gate, up, out, b, e); });
}

}  // namespace jet::cpu
