// Tests for cpu/rmsnorm.cpp against a double-precision reference.
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

std::vector<double> reference(const std::vector<float> &x, const std::vector<float> &w, int T,
                              int D, double eps) {
    std::vector<double> y(x.size());
    for (int t = 0; t < T; ++t) {
        double ss = 0;
        for (int i = 0; i < D; ++i) ss += double(x[t * D + i]) * x[t * D + i];
        const double inv = 1.0 / std::sqrt(ss / D + eps);
        for (int i = 0; i < D; ++i) y[t * D + i] = w[i] * x[t * D + i] * inv;
    }
    return y;
}

TEST(RmsNorm, MatchesReference) {
    for (auto [T, D] : {std::pair{1, 1}, {1, 1536}, {3, 7}, {64, 1536}, {300, 33}}) {
        const auto x = jet::test::random_vec(size_t(T) * D, T + D, -3.f, 3.f);
        const auto w = jet::test::random_vec(D, 7, 0.5f, 1.5f);
        std::vector<float> y(x.size());
        jet::cpu::rmsnorm(x.data(), w.data(), y.data(), T, D, 1e-6f);
        EXPECT_LT(jet::test::rel_err(y, reference(x, w, T, D, 1e-6)), 2e-6) << T << "x" << D;
    }
}

TEST(RmsNorm, InPlaceAndZeroRows) {
    const int T = 5, D = 40;
    auto x = jet::test::random_vec(size_t(T) * D, 11);
    std::fill(x.begin(), x.begin() + D, 0.f);  // a zero row stays zero (eps keeps it finite)
    const auto w = jet::test::random_vec(D, 12);
    const auto ref = reference(x, w, T, D, 1e-5);
    jet::cpu::rmsnorm(x.data(), w.data(), x.data(), T, D, 1e-5f);
    EXPECT_LT(jet::test::rel_err(x, ref), 2e-6);
    for (int i = 0; i < D; ++i) EXPECT_EQ(x[i], 0.f);
}

}  // namespace
