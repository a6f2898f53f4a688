// Tests for cpu/activations.cpp (silu, silu_mul) against a double-precision reference.
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

double silu_ref(double v) { return v / (1.0 + std::exp(-v)); }

TEST(Activations, SiluMatchesReference) {
    for (int64_t n : {1, 17, 8960, 100000}) {  // the last runs on the pool
        auto x = jet::test::random_vec(n, uint32_t(n), -10.f, 10.f);
        std::vector<double> ref(x.begin(), x.end());
        for (auto &r : ref) r = silu_ref(r);
        jet::cpu::silu(x.data(), n);
        EXPECT_LT(jet::test::rel_err(x, ref), 1e-6) << n;
    }
}

TEST(Activations, SiluExtremesStayFinite) {
    std::vector<float> x = {-1000.f, -88.f, -20.f, 0.f, 20.f, 88.f, 1000.f};
    jet::cpu::silu(x.data(), int64_t(x.size()));
    for (float v : x) EXPECT_TRUE(std::isfinite(v)) << v;
    EXPECT_EQ(x[0], -0.f);
    EXPECT_EQ(x[3], 0.f);
    EXPECT_EQ(x[6], 1000.f);
}

TEST(Activations, SiluMulMatchesReferenceAndMayAlias) {
    for (int64_t n : {1, 8960, 70001}) {
        auto gate = jet::test::random_vec(n, 1, -8.f, 8.f);
        const auto up = jet::test::random_vec(n, 2, -2.f, 2.f);
        std::vector<double> ref(n);
        for (int64_t i = 0; i < n; ++i) ref[i] = silu_ref(gate[i]) * up[i];
        std::vector<float> out(n);
        jet::cpu::silu_mul(gate.data(), up.data(), out.data(), n);
        EXPECT_LT(jet::test::rel_err(out, ref), 1e-6);
        jet::cpu::silu_mul(gate.data(), up.data(), gate.data(), n);  // out aliases gate
        EXPECT_EQ(gate, out);
    }
}

}  // namespace
