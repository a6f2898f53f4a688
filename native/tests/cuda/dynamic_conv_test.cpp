// Tests for cuda/dynamic_conv.cu against the CPU operator (cpu/ops.h dynamic_conv, with the
// generator bias added to its kernels on the host): decode (T = 1) and short prefill (the
// one-thread-per-channel path), long prefill (the parallel path + state kernel), batch > 1,
// row strides wider than the data, W = 1..8, the 2B's width; then the goldens of the official
// DynamicShortConvolution (prefill of 77 tokens, then 3 decode steps).
// The math is fp32 like the reference and only y is rounded to bf16: y's relative RMS error
// <= 2x the error of rounding the reference to bf16; the state is a copy: bit-exact.
#include <gtest/gtest.h>

#include <vector>

#include "../cpu/op_test_util.h"
#include "cpu/ops.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"
#include "safetensors.h"

namespace {

using jet::cuda::bf16;
using jet::test::DevBuf;

void run_case(int B, int T, int C, int W, int ldu, int ldk, bool with_bias, uint32_t seed) {
    const size_t rows = size_t(B) * T;
    const auto u = jet::test::random_vec(rows * ldu, seed);
    const auto kern = jet::test::random_vec(rows * ldk, seed + 1);
    auto bias = jet::test::random_vec(size_t(C) * W, seed + 2, -0.5f, 0.5f);
    jet::test::round_bf16(bias);
    const auto state0 = jet::test::random_vec(size_t(B) * C * W, seed + 3);

    DevBuf<float> du(u.size()), dk(kern.size()), dst(state0.size());
    DevBuf<bf16> db(bias.size()), dy(rows * C);
    jet::test::upload(du, u);
    jet::test::upload(dk, kern);
    jet::test::upload(dst, state0);
    jet::test::upload(db, bias);
    jet::cuda::dynamic_conv(du.get(), ldu, dk.get(), ldk, with_bias ? db.get() : nullptr, dst.get(),
                            dy.get(), B, T, C, W, nullptr);
    jet::test::sync_ok();
    const auto y = jet::test::download(dy);
    const auto st = jet::test::download(dst);

    std::vector<float> y_ref(rows * C), st_ref = state0;
    for (int b = 0; b < B; ++b) {
        std::vector<float> ub(size_t(T) * C), kb(size_t(T) * C * W);
        for (int t = 0; t < T; ++t) {
            const size_t row = size_t(b) * T + t;
            for (int c = 0; c < C; ++c) ub[size_t(t) * C + c] = u[row * ldu + c];
            for (int i = 0; i < C * W; ++i)
                kb[size_t(t) * C * W + i] = kern[row * ldk + i] + (with_bias ? bias[i] : 0.f);
        }
        jet::cpu::dynamic_conv(ub.data(), kb.data(), st_ref.data() + size_t(b) * C * W,
                               y_ref.data() + size_t(b) * T * C, T, C, W);
    }
    const double err = jet::test::rel_rms(y, y_ref), floor = jet::test::bf16_rounding_rms(y_ref);
    EXPECT_LE(err, 2 * floor) << "B=" << B << " T=" << T << " C=" << C << " W=" << W;
    EXPECT_EQ(st, st_ref) << "B=" << B << " T=" << T << " C=" << C << " W=" << W;
    std::printf("[ dconv ] B=%d T=%d C=%d W=%d: rel RMS %.3e (bf16 rounding %.3e)\n", B, T, C, W,
                err, floor);
}

TEST(CudaDynamicConv, DecodeStep) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(2, 1, 64, 4, 64, 256, true, 1);
    run_case(3, 1, 3072, 4, 3072, 3072 * 4, true, 2);
}

TEST(CudaDynamicConv, ShortPrefill) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(2, 3, 64, 4, 64, 256, true, 3);  // T < W: the state supplies most taps
    run_case(2, 32, 100, 4, 128, 512, false, 4);
}

TEST(CudaDynamicConv, LongPrefillStridedBatched) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(2, 33, 64, 4, 80, 300, true, 5);
    run_case(1, 4096, 3072, 4, 3072, 3072 * 4, true, 6);  // 2B shapes
}

TEST(CudaDynamicConv, KernelWidths) {
    JET_SKIP_WITHOUT_CUDA();
    for (int W : {1, 2, 3, 8}) {
        run_case(1, 70, 48, W, 48, 48 * W, true, 10 + W);
        run_case(1, 2, 48, W, 48, 48 * W, true, 20 + W);
    }
}

// W > 8 (the CPU backend runs any conv size): the generic kernel, prefill longer and shorter
// than W, a batched decode step, and an odd channel count.
TEST(CudaDynamicConv, WideKernelsTakeTheGenericPath) {
    JET_SKIP_WITHOUT_CUDA();
    for (int W : {9, 12}) {
        run_case(1, 70, 48, W, 48, 48 * W, true, 30 + W);
        run_case(2, 5, 40, W, 40, 40 * W, true, 40 + W);   // T < W
        run_case(3, 1, 37, W, 40, 37 * W + 3, false, 50 + W);
    }
}

TEST(CudaDynamicConv, RejectsBadArguments) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<float> f(1 << 12);
    DevBuf<bf16> y(1 << 12);
    EXPECT_THROW(jet::cuda::dynamic_conv(f.get(), 8, f.get(), 32, nullptr, f.get(), y.get(), 1, 4,
                                         8, 0, nullptr),
                 jet::Error);  // W < 1
    EXPECT_THROW(jet::cuda::dynamic_conv(f.get(), 8, f.get(), 32, nullptr, f.get(), y.get(), 1, 4,
                                         8, 5, nullptr),
                 jet::Error);  // ldk < C * W
    EXPECT_THROW(jet::cuda::dynamic_conv(f.get(), 4, f.get(), 32, nullptr, f.get(), y.get(), 1, 4,
                                         8, 4, nullptr),
                 jet::Error);  // ldu < C
    EXPECT_THROW(jet::cuda::dynamic_conv(f.get(), 8, f.get(), 32, nullptr, nullptr, y.get(), 1, 4,
                                         8, 4, nullptr),
                 jet::Error);
}

// ---- goldens of the official DynamicShortConvolution (D=64, W=4, generator 48 -> 8 -> 256) ----

TEST(CudaDynamicConvGolden, PrefillThenDecodeMatchOfficial) {
    JET_SKIP_WITHOUT_CUDA();
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    auto f = jet::SafetensorsFile::open(path);
    const auto x = f->get("dconv_x").to_f32(), gin = f->get("dconv_gen_in").to_f32();
    const auto w1 = f->get("dconv_kernel_generator_w1_weight").to_f32();
    const auto w2 = f->get("dconv_kernel_generator_w2_weight").to_f32();
    const auto b2 = f->get("dconv_kernel_generator_w2_bias").to_f32();
    const auto y_ref = f->get("dconv_y").to_f32(), st_ref = f->get("dconv_state").to_f32();
    const auto yd_ref = f->get("dconv_decode_y").to_f32();
    const auto st2_ref = f->get("dconv_state_after").to_f32();
    const int D = 64, W = 4, Tall = 80, P = 77, G = 48, R = 8;
    // The generator on the host (fp32, with its bias: the kernel's bf16 bias is tested above).
    std::vector<float> hid(size_t(Tall) * R), kern(size_t(Tall) * D * W);
    jet::cpu::matmul(gin.data(), w1.data(), nullptr, hid.data(), Tall, G, R);
    jet::cpu::silu(hid.data(), int64_t(hid.size()));
    jet::cpu::matmul(hid.data(), w2.data(), b2.data(), kern.data(), Tall, R, D * W);

    DevBuf<float> du(x.size()), dk(kern.size()), dst(size_t(D) * W);
    DevBuf<bf16> dy(size_t(Tall) * D);
    jet::test::upload(du, x);
    jet::test::upload(dk, kern);
    jet::test::upload(dst, std::vector<float>(size_t(D) * W, 0.f));
    jet::cuda::dynamic_conv(du.get(), D, dk.get(), D * W, nullptr, dst.get(), dy.get(), 1, P, D, W,
                            nullptr);
    jet::test::sync_ok();
    auto y = jet::test::download(dy);
    y.resize(size_t(P) * D);
    EXPECT_LE(jet::test::rel_rms(y, y_ref), 2 * jet::test::bf16_rounding_rms(y_ref));
    const auto st = jet::test::download(dst);
    EXPECT_LE(jet::test::rel_rms(st, st_ref), 1e-6);
    for (int t = P; t < Tall; ++t)  // three decode steps
        jet::cuda::dynamic_conv(du.get() + size_t(t) * D, D, dk.get() + size_t(t) * D * W, D * W,
                                nullptr, dst.get(), dy.get() + size_t(t) * D, 1, 1, D, W, nullptr);
    jet::test::sync_ok();
    const auto yall = jet::test::download(dy);
    const std::vector<float> yd(yall.begin() + size_t(P) * D, yall.end());
    EXPECT_LE(jet::test::rel_rms(yd, yd_ref), 2 * jet::test::bf16_rounding_rms(yd_ref));
    EXPECT_LE(jet::test::rel_rms(jet::test::download(dst), st2_ref), 1e-6);
}

}  // namespace
