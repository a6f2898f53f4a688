// Tests for cuda/gated_delta_step.cu (the recurrent decode step, fp32 state) against the CPU
// recurrent operator on the same bf16-rounded inputs: a batch of sequences with different
// states over several steps, the 2B's and 4B's head sizes, dK 129..256, odd sizes (dK and dV not multiples
// of 32), strong decay. The kernel's math is fp32 like the reference: relative RMS <= 1e-5.
// jetblock_decode_step (the step fused with the q/k norms, gates and dynamic conv) against the
// unfused kernels it replaces: jet_qk_gates + dynamic_conv + gated_delta_step.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../cpu/op_test_util.h"
#include "cpu/ops.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"

namespace {

using jet::cuda::bf16;
using jet::test::DevBuf;

// reversed: batch row b steps the state of sequence B - 1 - b (the backend's `seqs` mapping).
void run_case(int B, int H, int dK, int dV, int steps, uint32_t seed, float g_lo = -0.5f,
              bool reversed = false) {
    const float scale = 1.f / std::sqrt(float(dK));
    const size_t ss = size_t(H) * dK * dV;
    auto S = jet::test::random_vec(B * ss, seed, -0.5f, 0.5f);
    std::vector<float> S_ref = S;
    DevBuf<float> dS(S.size()), dg(size_t(B) * H), db(size_t(B) * H), dout(size_t(B) * H * dV);
    DevBuf<bf16> dq(size_t(B) * H * dK), dk(size_t(B) * H * dK), dv(size_t(B) * H * dV);
    jet::test::upload(dS, S);
    std::vector<int32_t> seqs(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) seqs[size_t(b)] = reversed ? B - 1 - b : b;
    DevBuf<int32_t> dseqs(seqs.size());
    jet::test::upload(dseqs, seqs);
    double worst_o = 0;
    for (int step = 0; step < steps; ++step) {
        const uint32_t s = seed + 10 * (step + 1);
        auto q = jet::test::random_vec(size_t(B) * H * dK, s);
        auto k = jet::test::random_vec(size_t(B) * H * dK, s + 1);
        jet::cpu::l2norm_heads(q.data(), B, H, dK, 1e-6f);
        jet::cpu::l2norm_heads(k.data(), B, H, dK, 1e-6f);
        auto v = jet::test::random_vec(size_t(B) * H * dV, s + 2);
        const auto g = jet::test::random_vec(size_t(B) * H, s + 3, g_lo, 0.f);
        const auto beta = jet::test::random_vec(size_t(B) * H, s + 4, 0.f, 1.f);
        jet::test::round_bf16(q);
        jet::test::round_bf16(k);
        jet::test::round_bf16(v);
        jet::test::upload(dq, q);
        jet::test::upload(dk, k);
        jet::test::upload(dv, v);
        jet::test::upload(dg, g);
        jet::test::upload(db, beta);
        jet::cuda::gated_delta_step(dq.get(), dk.get(), dv.get(), dg.get(), db.get(), dS.get(),
                                    dout.get(), B, H, dK, dV, scale, nullptr,
                                    reversed ? dseqs.get() : nullptr);
        const auto o = jet::test::download(dout);
        std::vector<float> o_ref(o.size());
        for (int b = 0; b < B; ++b)
            jet::cpu::gated_delta_recurrent(
                q.data() + size_t(b) * H * dK, k.data() + size_t(b) * H * dK,
                v.data() + size_t(b) * H * dV, g.data() + size_t(b) * H, beta.data() + size_t(b) * H,
                S_ref.data() + size_t(seqs[size_t(b)]) * ss, o_ref.data() + size_t(b) * H * dV, 1,
                H, dK, dV, scale);
        worst_o = std::max(worst_o, jet::test::rel_rms(o, o_ref));
    }
    const double es = jet::test::rel_rms(jet::test::download(dS), S_ref);
    EXPECT_LE(worst_o, 1e-5) << "B=" << B << " H=" << H << " dK=" << dK << " dV=" << dV;
    EXPECT_LE(es, 1e-5) << "B=" << B << " H=" << H << " dK=" << dK << " dV=" << dV;
    std::printf("[ gdn step ] B=%d H=%d dK=%d dV=%d steps=%d: rel RMS o %.3e, state %.3e\n", B, H,
                dK, dV, steps, worst_o, es);
}

TEST(CudaGatedDeltaStep, BatchOf2BHeads) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(3, 12, 96, 256, 4, 1);
}

// More (sequence, head, 32-column) tiles than resident blocks: each persistent block walks
// several, loading the next tile's state while it computes one (2B heads, batch 48: 4,608 tiles).
TEST(CudaGatedDeltaStep, ManyTilesPerBlock) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(48, 12, 96, 256, 2, 31);
    run_case(40, 12, 96, 256, 2, 32, -0.5f, true);  // rows mapped to other sequences' states
    run_case(24, 8, 192, 192, 2, 33);               // the 32-row instantiation
    run_case(33, 16, 128, 250, 2, 34, -0.5f, true);  // 16 rows, a partial last column block
}

TEST(CudaGatedDeltaStep, FourBHeads) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(2, 16, 128, 256, 2, 2);
}

TEST(CudaGatedDeltaStep, LargeKeyDims) {  // the PostNAS candidates 192/192/8 and dK = 256
    JET_SKIP_WITHOUT_CUDA();
    run_case(2, 8, 192, 192, 3, 6);
    run_case(1, 4, 256, 576, 2, 7);
    run_case(1, 2, 129, 50, 2, 8);
}

TEST(CudaGatedDeltaStep, OddSizes) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(1, 3, 20, 50, 3, 3);
    run_case(2, 1, 1, 1, 2, 4);
}

TEST(CudaGatedDeltaStep, StrongDecay) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(1, 4, 96, 64, 3, 5, -80.f);
}

// Raw projection rows laid out as the CUDA backend's: q | k | u | (gap) | a | b.
void run_fused_case(int B, int H, int dK, int dV, int W, int steps, uint32_t seed, bool bias) {
    const int C = H * dV, u_col = 2 * H * dK, ab_col = u_col + C + 3, ld = ab_col + 2 * H + 1;
    const float scale = 1.f / std::sqrt(float(dK));
    const size_t ss = size_t(B) * H * dK * dV;
    const auto S0 = jet::test::random_vec(ss, seed, -0.5f, 0.5f);
    const auto conv0 = jet::test::random_vec(size_t(B) * C * W, seed + 1);
    const auto A_log = jet::test::random_vec(size_t(H), seed + 2, -1.f, 1.f);
    const auto dt_bias = jet::test::random_vec(size_t(H), seed + 3, -1.f, 1.f);
    auto bias_h = jet::test::random_vec(size_t(C) * W, seed + 4, -0.3f, 0.3f);
    jet::test::round_bf16(bias_h);
    DevBuf<float> dS(ss), dS_ref(ss), dconv(conv0.size()), dconv_ref(conv0.size());
    DevBuf<float> dA{size_t(H)}, ddt{size_t(H)}, dproj(size_t(B) * ld), dkern(size_t(B) * C * W);
    DevBuf<float> dg(size_t(B) * H), dbeta(size_t(B) * H), o(size_t(B) * C), o_ref(size_t(B) * C);
    DevBuf<bf16> dbias(bias_h.size()), q(size_t(B) * H * dK), k(size_t(B) * H * dK), v(size_t(B) * C);
    for (auto *d : {&dS, &dS_ref}) jet::test::upload(*d, S0);
    for (auto *d : {&dconv, &dconv_ref}) jet::test::upload(*d, conv0);
    jet::test::upload(dA, A_log);
    jet::test::upload(ddt, dt_bias);
    jet::test::upload(dbias, bias_h);
    const bf16 *bp = bias ? dbias.get() : nullptr;
    double worst_o = 0;
    for (int step = 0; step < steps; ++step) {
        jet::test::upload(dproj, jet::test::random_vec(size_t(B) * ld, seed + 10 * (step + 1), -3.f, 3.f));
        jet::test::upload(dkern, jet::test::random_vec(size_t(B) * C * W, seed + 10 * (step + 1) + 1));
        jet::cuda::jet_qk_gates(dproj.get(), ld, ab_col, dA.get(), ddt.get(), q.get(), k.get(),
                                dg.get(), dbeta.get(), B, H, dK, nullptr);
        jet::cuda::dynamic_conv(dproj.get() + u_col, ld, dkern.get(), C * W, bp, dconv_ref.get(),
                                v.get(), B, 1, C, W, nullptr);
        jet::cuda::gated_delta_step(q.get(), k.get(), v.get(), dg.get(), dbeta.get(), dS_ref.get(),
                                    o_ref.get(), B, H, dK, dV, scale, nullptr);
        jet::cuda::jetblock_decode_step(dproj.get(), ld, u_col, ab_col, dkern.get(), C * W, bp,
                                        dA.get(), ddt.get(), dconv.get(), W, dS.get(), o.get(), B,
                                        H, dK, dV, scale, nullptr);
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        worst_o = std::max(worst_o, jet::test::rel_rms(jet::test::download(o),
                                                       jet::test::download(o_ref)));
    }
    const double es = jet::test::rel_rms(jet::test::download(dS), jet::test::download(dS_ref));
    // The q / k norms are summed in another order than jet_qk_gates does, which can move a
    // bf16-rounded q or k value by one ulp: hence not 1e-5. A wrong index gives O(1).
    EXPECT_LE(worst_o, 1e-3) << "B=" << B << " H=" << H << " dK=" << dK << " dV=" << dV;
    EXPECT_LE(es, 1e-3) << "B=" << B << " H=" << H << " dK=" << dK << " dV=" << dV;
    EXPECT_EQ(jet::test::download(dconv), jet::test::download(dconv_ref)) << "conv state";
    std::printf("[ jetblock step ] B=%d H=%d dK=%d dV=%d W=%d: rel RMS o %.3e, state %.3e\n", B, H,
                dK, dV, W, worst_o, es);
}

TEST(CudaJetBlockDecodeStep, MatchesUnfusedKernels) {
    JET_SKIP_WITHOUT_CUDA();
    run_fused_case(3, 12, 96, 256, 4, 3, 21, true);   // the 2B
    run_fused_case(2, 16, 128, 256, 4, 2, 22, true);  // the 4B
    run_fused_case(1, 4, 256, 64, 3, 2, 23, false);   // dK = 256, no generator bias
    run_fused_case(2, 3, 20, 50, 2, 3, 24, true);     // odd sizes
    run_fused_case(4, 40, 96, 256, 4, 2, 25, true);   // more tiles than resident blocks
}

TEST(CudaJetBlockDecodeStep, RejectsBadLayout) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<float> f32(1 << 16);
    // u_col overlapping k (u_col < 2 H dK)
    EXPECT_THROW(jet::cuda::jetblock_decode_step(f32.get(), 4096, 10, 2000, f32.get(), 1024, nullptr,
                                                 f32.get(), f32.get(), f32.get(), 4, f32.get(),
                                                 f32.get(), 1, 2, 16, 32, 1.f, nullptr),
                 jet::Error);
    // W = 9
    EXPECT_THROW(jet::cuda::jetblock_decode_step(f32.get(), 4096, 64, 2000, f32.get(), 1024, nullptr,
                                                 f32.get(), f32.get(), f32.get(), 9, f32.get(),
                                                 f32.get(), 1, 2, 16, 32, 1.f, nullptr),
                 jet::Error);
}

TEST(CudaGatedDeltaStep, RejectsBadArguments) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<bf16> b16(1 << 12);
    DevBuf<float> f32(1 << 16);
    EXPECT_THROW(jet::cuda::gated_delta_step(b16.get(), b16.get(), b16.get(), f32.get(), f32.get(),
                                             f32.get(), f32.get(), 1, 1, 257, 4, 1.f, nullptr),
                 jet::Error);  // dK > 256
    EXPECT_THROW(jet::cuda::gated_delta_step(b16.get(), b16.get(), nullptr, f32.get(), f32.get(),
                                             f32.get(), f32.get(), 1, 1, 16, 4, 1.f, nullptr),
                 jet::Error);
}

}  // namespace
