// op_test_util.h - helpers shared by the CPU operator tests: seeded random data, error
// measures against double-precision references, and the shared golden fixtures.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "cpu/simd.h"

namespace jet::test {

inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

// max |got - ref| / max |ref| (max |ref| floored at 1e-30): the error relative to the tensor's
// scale, so one tolerance fits tensors of any magnitude.
template <class G, class R>
double rel_err(const G &got, const R &ref) {
    EXPECT_EQ(got.size(), ref.size());
    double num = 0, den = 1e-30;
    for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
        const double g = got[i], r = ref[i];
        if (std::isnan(g) || std::isinf(g)) return INFINITY;
        num = std::max(num, std::abs(g - r));
        den = std::max(den, std::abs(r));
    }
    return num / den;
}

// y = x W^T + bias in double: x [T, K], W [N, K] (row-major), bias [N] or null.
inline std::vector<double> matmul_reference(const std::vector<float> &x, const std::vector<float> &W,
                                            const float *bias, int T, int K, int N) {
    std::vector<double> y(static_cast<size_t>(T) * N);
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) {
            double s = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; ++k)
                s += double(x[size_t(t) * K + k]) * double(W[size_t(n) * K + k]);
            y[size_t(t) * N + n] = s;
        }
    return y;
}

// The decode GEMV kernels this CPU runs, widest first: a test sets each as the limit in turn.
inline std::vector<jet::cpu::GemvIsa> gemv_isas() {
    using jet::cpu::GemvIsa;
    std::vector<GemvIsa> isas;
    for (GemvIsa isa : {GemvIsa::Avx512, GemvIsa::Avx2, GemvIsa::Portable}) {
        jet::cpu::set_gemv_isa_limit(isa);
        if (jet::cpu::gemv_isa() == isa) isas.push_back(isa);
    }
    jet::cpu::set_gemv_isa_limit(GemvIsa::Avx512);
    return isas;
}

// Puts the GEMV limit back to "the widest the CPU runs" when the test ends.
struct GemvIsaLimit {
    ~GemvIsaLimit() { jet::cpu::set_gemv_isa_limit(jet::cpu::GemvIsa::Avx512); }
};

inline std::string shared_dir() { return JET_SHARED_DIR; }

// The kernel goldens (../shared/fixtures/kernels/kernels.safetensors), or "" when absent.
inline std::string kernels_golden_path() {
    const std::string p = shared_dir() + "/fixtures/kernels/kernels.safetensors";
    return std::filesystem::exists(p) ? p : std::string();
}

}  // namespace jet::test

#define JET_SKIP_WITHOUT_KERNEL_GOLDENS(path_var)                               \
    const std::string path_var = ::jet::test::kernels_golden_path();            \
    if (path_var.empty())                                                       \
    GTEST_SKIP() << "kernel goldens not found at " << ::jet::test::shared_dir() \
                 << "/fixtures/kernels/kernels.safetensors (../shared beside the checkout)"
