// Tests for cpu/jet_gates.cpp: beta = sigmoid(b), g = -exp(A_log) softplus(a + dt_bias).
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

TEST(JetGates, MatchesReference) {
    const int T = 37, H = 12;
    const auto a = jet::test::random_vec(T * H, 1, -30.f, 30.f);  // both softplus branches
    const auto b = jet::test::random_vec(T * H, 2, -10.f, 10.f);
    const auto A_log = jet::test::random_vec(H, 3, -2.f, 2.f);
    const auto dt_bias = jet::test::random_vec(H, 4, -1.f, 1.f);
    std::vector<float> g(T * H), beta(T * H);
    jet::cpu::jet_gates(a.data(), b.data(), A_log.data(), dt_bias.data(), g.data(), beta.data(), T,
                        H);
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
            const int i = t * H + h;
            const double z = double(a[i]) + dt_bias[h];
            const double sp = std::log1p(std::exp(z));
            const double g_ref = -std::exp(double(A_log[h])) * sp;
            const double beta_ref = 1.0 / (1.0 + std::exp(-double(b[i])));
            EXPECT_NEAR(g[i], g_ref, 2e-6 * std::max(1.0, std::abs(g_ref))) << t << "," << h;
            EXPECT_NEAR(beta[i], beta_ref, 1e-6) << t << "," << h;
            EXPECT_LE(g[i], 0.f);
            EXPECT_GE(beta[i], 0.f);
            EXPECT_LE(beta[i], 1.f);
        }
}

TEST(JetGates, ExtremeInputsStayFinite) {
    const float a[4] = {-1000.f, 1000.f, 0.f, 88.f}, b[4] = {-1000.f, 1000.f, 0.f, 88.f};
    const float A_log[1] = {0.f}, dt[1] = {0.f};
    float g[4], beta[4];
    jet::cpu::jet_gates(a, b, A_log, dt, g, beta, 4, 1);
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(std::isfinite(g[i]));
        EXPECT_TRUE(std::isfinite(beta[i]));
    }
    EXPECT_EQ(g[1], -1000.f);
    EXPECT_NEAR(g[2], -std::log(2.0), 1e-7);
    EXPECT_EQ(beta[2], 0.5f);
}

}  // namespace
