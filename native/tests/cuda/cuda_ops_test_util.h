// cuda_ops_test_util.h - helpers of the CUDA backend's op tests (cuda/kernels.h): random inputs that
// are exactly representable in bf16, a launcher wrapper that turns jet::Error into a failure,
// and the tolerance rule: a bf16 output may be off its fp64 reference by at most about twice the
// error that rounding the reference to bf16 alone causes.
#pragma once

#include <random>
#include <vector>

#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"

namespace jet::test {

// Normal(0, scale) values rounded to bf16, so the host reference sees exactly the GPU's inputs.
inline std::vector<float> randn_bf16(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(n);
    for (auto &x : v) x = round_bf16(nd(rng));
    return v;
}

inline double bf16_tolerance(const std::vector<double> &ref) {
    return 2.0 * bf16_rounding_rms(ref) + 1e-6;
}

}  // namespace jet::test

// Runs a launcher; a jet::Error becomes a test failure with its message.
#define JET_LAUNCH_OK(expr)                                                        \
    do {                                                                           \
        try {                                                                      \
            expr;                                                                  \
        } catch (const jet::Error &e_) {                                           \
            FAIL() << #expr << " threw: " << e_.what();                            \
        }                                                                          \
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess) << #expr;                  \
    } while (0)
