// Tests for cpu/gated_rmsnorm.cpp: per head, o / sqrt(mean(o^2) + eps) * w * silu(G).
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

TEST(GatedRmsNorm, MatchesReference) {
    for (auto [T, H, D] : {std::tuple{1, 1, 4}, {1, 12, 256}, {70, 3, 33}, {200, 12, 256}}) {
        auto o = jet::test::random_vec(size_t(T) * H * D, T + H + D, -0.1f, 0.1f);
        const auto G = jet::test::random_vec(o.size(), 5, -6.f, 6.f);
        const auto w = jet::test::random_vec(D, 6, 0.5f, 1.5f);
        std::vector<double> ref(o.size());
        for (int64_t v = 0; v < int64_t(T) * H; ++v) {
            double ss = 0;
            for (int i = 0; i < D; ++i) ss += double(o[v * D + i]) * o[v * D + i];
            const double inv = 1.0 / std::sqrt(ss / D + 1e-5);
            for (int i = 0; i < D; ++i) {
                const double g = G[v * D + i];
                ref[v * D + i] = o[v * D + i] * inv * w[i] * g / (1.0 + std::exp(-g));
            }
        }
        jet::cpu::gated_rmsnorm(o.data(), G.data(), w.data(), T, H, D, 1e-5f);
        EXPECT_LT(jet::test::rel_err(o, ref), 2e-6) << T << " " << H << " " << D;
    }
}

}  // namespace
