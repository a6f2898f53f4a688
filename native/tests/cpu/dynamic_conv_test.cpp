// Tests for cpu/dynamic_conv.cpp: a double-precision reference with state in and out, a prefill
// split into pieces, and the goldens of the official DynamicShortConvolution
// (../shared/fixtures/kernels: prefill, state, three decode steps).
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"
#include "safetensors.h"

namespace {

// y[t][c] = silu(sum_j k[t][c][j] * u[t - W + 1 + j][c]), u before the start from the state.
std::vector<double> reference(const std::vector<float> &u, const std::vector<float> &kern,
                              const std::vector<float> &state0, int T, int C, int W,
                              std::vector<double> &state_out) {
    std::vector<double> y(size_t(T) * C);
    auto input = [&](int t, int c) -> double {  // t may be negative: from the state
        return t >= 0 ? u[size_t(t) * C + c] : state0[size_t(c) * W + (W + t)];
    };
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < C; ++c) {
            double acc = 0;
            for (int j = 0; j < W; ++j)
                acc += kern[(size_t(t) * C + c) * W + j] * input(t - W + 1 + j, c);
            y[size_t(t) * C + c] = acc / (1.0 + std::exp(-acc));
        }
    state_out.resize(size_t(C) * W);
    for (int c = 0; c < C; ++c)
        for (int j = 0; j < W; ++j) state_out[size_t(c) * W + j] = input(T - W + j, c);
    return y;
}

TEST(DynamicConv, MatchesReferenceWithState) {
    for (auto [T, C, W] :
         {std::tuple{1, 5, 4}, {3, 64, 4}, {77, 130, 4}, {20, 3072, 4}, {9, 7, 1}, {6, 10, 8}}) {
        const auto u = jet::test::random_vec(size_t(T) * C, T + C);
        const auto kern = jet::test::random_vec(size_t(T) * C * W, W + 1);
        const auto state0 = jet::test::random_vec(size_t(C) * W, 3);
        std::vector<double> state_ref;
        const auto y_ref = reference(u, kern, state0, T, C, W, state_ref);
        std::vector<float> state = state0, y(size_t(T) * C);
        jet::cpu::dynamic_conv(u.data(), kern.data(), state.data(), y.data(), T, C, W);
        EXPECT_LT(jet::test::rel_err(y, y_ref), 1e-6) << T << " " << C << " " << W;
        EXPECT_EQ(jet::test::rel_err(state, state_ref), 0.0);  // a copy of inputs: exact
    }
}

TEST(DynamicConv, SplitPrefillEqualsWhole) {
    const int T = 50, C = 96, W = 4;
    const auto u = jet::test::random_vec(size_t(T) * C, 1);
    const auto kern = jet::test::random_vec(size_t(T) * C * W, 2);
    std::vector<float> s1(size_t(C) * W, 0.f), s2 = s1, y1(size_t(T) * C), y2(y1.size());
    jet::cpu::dynamic_conv(u.data(), kern.data(), s1.data(), y1.data(), T, C, W);
    for (int t0 : {0, 2, 3, 30}) {  // pieces of 2, 1, 27, 20 tokens
        const int t1 = t0 == 0 ? 2 : t0 == 2 ? 3 : t0 == 3 ? 30 : T;
        jet::cpu::dynamic_conv(u.data() + size_t(t0) * C, kern.data() + size_t(t0) * C * W,
                               s2.data(), y2.data() + size_t(t0) * C, t1 - t0, C, W);
    }
    EXPECT_EQ(y1, y2);
    EXPECT_EQ(s1, s2);
}

// ---- goldens: D=64 channels, W=4, generator 48 -> 8 -> 256 ---------------------------------

TEST(DynamicConvGolden, PrefillAndDecodeMatchOfficialModule) {
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    auto f = jet::SafetensorsFile::open(path);
    const auto x = f->get("dconv_x").to_f32(), gen_in = f->get("dconv_gen_in").to_f32();
    const auto w1 = f->get("dconv_kernel_generator_w1_weight").to_f32();
    const auto w2 = f->get("dconv_kernel_generator_w2_weight").to_f32();
    const auto b2 = f->get("dconv_kernel_generator_w2_bias").to_f32();
    const int Ttot = int(f->get("dconv_x").shape[1]), C = int(f->get("dconv_x").shape[2]);
    const int G = int(f->get("dconv_gen_in").shape[2]);
    const int R = int(f->get("dconv_kernel_generator_w1_weight").shape[0]);
    const int W = int(f->get("dconv_kernel_generator_w2_weight").shape[0]) / C;
    const int P = int(f->get("dconv_y").shape[1]);
    ASSERT_EQ(W, 4);
    ASSERT_EQ(Ttot, P + 3);
    // Kernels for every token: w2 silu(w1 gen_in) + b2, read as [C][W].
    std::vector<float> hidden(size_t(Ttot) * R), kern(size_t(Ttot) * C * W);
    jet::cpu::matmul(gen_in.data(), w1.data(), nullptr, hidden.data(), Ttot, G, R);
    jet::cpu::silu(hidden.data(), int64_t(hidden.size()));
    jet::cpu::matmul(hidden.data(), w2.data(), b2.data(), kern.data(), Ttot, R, C * W);

    std::vector<float> state(size_t(C) * W, 0.f), y(size_t(P) * C);
    jet::cpu::dynamic_conv(x.data(), kern.data(), state.data(), y.data(), P, C, W);
    EXPECT_LT(jet::test::rel_err(y, f->get("dconv_y").to_f32()), 1e-5);
    EXPECT_LT(jet::test::rel_err(state, f->get("dconv_state").to_f32()), 1e-6);

    std::vector<float> yd(size_t(3) * C);
    for (int s = 0; s < 3; ++s)
        jet::cpu::dynamic_conv(x.data() + size_t(P + s) * C, kern.data() + size_t(P + s) * C * W,
                               state.data(), yd.data() + size_t(s) * C, 1, C, W);
    EXPECT_LT(jet::test::rel_err(yd, f->get("dconv_decode_y").to_f32()), 1e-5);
    EXPECT_LT(jet::test::rel_err(state, f->get("dconv_state_after").to_f32()), 1e-6);
}

}  // namespace
