// Tests for cpu/l2norm.cpp against a double-precision reference.
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

TEST(L2Norm, MatchesReferencePerHead) {
    for (auto [T, H, D] : {std::tuple{1, 1, 1}, {1, 12, 96}, {65, 3, 17}, {512, 12, 96}}) {
        auto x = jet::test::random_vec(size_t(T) * H * D, T * H + D, -2.f, 2.f);
        std::vector<double> ref(x.size());
        for (int64_t v = 0; v < int64_t(T) * H; ++v) {
            double ss = 0;
            for (int i = 0; i < D; ++i) ss += double(x[v * D + i]) * x[v * D + i];
            for (int i = 0; i < D; ++i) ref[v * D + i] = x[v * D + i] / std::sqrt(ss + 1e-6);
        }
        jet::cpu::l2norm_heads(x.data(), T, H, D, 1e-6f);
        EXPECT_LT(jet::test::rel_err(x, ref), 2e-6) << T << " " << H << " " << D;
    }
}

TEST(L2Norm, ZeroVectorStaysZero) {
    std::vector<float> x(2 * 8, 0.f);
    x[8] = 3.f;
    x[9] = 4.f;
    jet::cpu::l2norm_heads(x.data(), 1, 2, 8, 1e-6f);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(x[i], 0.f);
    EXPECT_NEAR(x[8], 0.6f, 1e-6);
    EXPECT_NEAR(x[9], 0.8f, 1e-6);
}

}  // namespace
