// Tests for cpu/rope.cpp against a double-precision reference of docs/model.md section 4.4's rotate-half RoPE.
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

std::vector<double> reference(const std::vector<float> &x, const std::vector<int32_t> &pos, int nh,
                              int hd, double theta) {
    std::vector<double> y(x.begin(), x.end());
    const int half = hd / 2;
    for (size_t t = 0; t < pos.size(); ++t)
        for (int h = 0; h < nh; ++h)
            for (int j = 0; j < half; ++j) {
                const double ang = pos[t] * std::pow(theta, -2.0 * j / hd);
                const size_t a = (t * nh + h) * hd + j, b = a + half;
                y[a] = x[a] * std::cos(ang) - x[b] * std::sin(ang);
                y[b] = x[b] * std::cos(ang) + x[a] * std::sin(ang);
            }
    return y;
}

TEST(Rope, MatchesReference) {
    const int nh = 3, hd = 128;
    // Arbitrary (not sorted, repeated) positions; the reference's float32 angles differ from
    // exact ones by about pos * 6e-8 rad, so positions stay small enough for a tight bound.
    const std::vector<int32_t> pos = {0, 1, 2, 17, 100, 999, 1000, 3, 3};
    auto x = jet::test::random_vec(pos.size() * nh * hd, 4);
    const auto ref = reference(x, pos, nh, hd, 1e6);
    jet::cpu::rope(x.data(), int(pos.size()), nh, hd, pos.data(), 1e6);
    EXPECT_LT(jet::test::rel_err(x, ref), 1e-4);
}

TEST(Rope, PositionZeroIsIdentityAndNormsArePreserved) {
    const int nh = 2, hd = 8;
    const std::vector<int32_t> pos = {0, 12345};
    const auto x0 = jet::test::random_vec(pos.size() * nh * hd, 5);
    auto x = x0;
    jet::cpu::rope(x.data(), 2, nh, hd, pos.data(), 10000.0);
    for (int i = 0; i < nh * hd; ++i) EXPECT_EQ(x[i], x0[i]);
    for (int h = 0; h < nh; ++h) {  // rotation: each (j, j + hd/2) pair keeps its length
        for (int j = 0; j < hd / 2; ++j) {
            const size_t a = size_t(nh + h) * hd + j, b = a + hd / 2;
            EXPECT_NEAR(std::hypot(x[a], x[b]), std::hypot(x0[a], x0[b]), 1e-6);
        }
    }
}

TEST(Rope, SmallThetaLargeAnglesMatchReference) {
    const int nh = 1, hd = 16;
    std::vector<int32_t> pos(70);
    for (int i = 0; i < 70; ++i) pos[i] = i * 3;
    auto x = jet::test::random_vec(pos.size() * nh * hd, 6);
    const auto ref = reference(x, pos, nh, hd, 10.0);
    jet::cpu::rope(x.data(), int(pos.size()), nh, hd, pos.data(), 10.0);
    EXPECT_LT(jet::test::rel_err(x, ref), 1e-4);
}

}  // namespace
