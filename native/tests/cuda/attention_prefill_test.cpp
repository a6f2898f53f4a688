// Tests for cuda/attention_prefill.cu against the CPU operator (cpu/ops.h attention) on the same
// bf16-rounded inputs: T = 1, T not a multiple of 64, long T, batch > 1, a continued prefill
// (queries after cached rows), sliding windows (first prefill and a ring laid out after
// earlier rows), GQA group sizes 1..6, hd 64 and 128.
// Tolerance: relative RMS error <= 2x the error of rounding the fp32 reference output to bf16
// (the kernel rounds P to bf16 for the tensor cores and the output to bf16; FlashAttention's
// bar is 2x PyTorch's own bf16 error, which is itself above the pure output rounding).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cpu/ops.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"
#include "../cpu/op_test_util.h"

namespace {

using jet::cuda::bf16;
using jet::test::DevBuf;

struct Case {
    int B, T, L, nh, nkv, hd, q_pos0, k_pos0, window;
};

void run_case(const Case &c, uint32_t seed) {
    const size_t qn = size_t(c.B) * c.T * c.nh * c.hd, kn = size_t(c.B) * c.L * c.nkv * c.hd;
    auto q = jet::test::random_vec(qn, seed, -2.f, 2.f);
    auto k = jet::test::random_vec(kn, seed + 1, -2.f, 2.f);
    auto v = jet::test::random_vec(kn, seed + 2);
    jet::test::round_bf16(q);
    jet::test::round_bf16(k);
    jet::test::round_bf16(v);

    DevBuf<bf16> dq(qn), dk(kn), dv(kn), dout(qn);
    jet::test::upload(dq, q);
    jet::test::upload(dk, k);
    jet::test::upload(dv, v);
    jet::cuda::attention_prefill(dq.get(), dk.get(), dv.get(), dout.get(), c.B, c.T, c.L, c.nh,
                                 c.nkv, c.hd, c.q_pos0, c.k_pos0, c.window, nullptr);
    jet::test::sync_ok();
    const auto got = jet::test::download(dout);

    std::vector<float> ref(qn);
    std::vector<int32_t> qpos(c.T), kpos(c.L);
    for (int i = 0; i < c.T; ++i) qpos[i] = c.q_pos0 + i;
    for (int j = 0; j < c.L; ++j) kpos[j] = c.k_pos0 + j;
    const size_t qs = size_t(c.T) * c.nh * c.hd, ks = size_t(c.L) * c.nkv * c.hd;
    for (int b = 0; b < c.B; ++b)
        jet::cpu::attention(q.data() + b * qs, k.data() + b * ks, v.data() + b * ks, qpos.data(),
                            kpos.data(), ref.data() + b * qs, c.T, c.L, c.nh, c.nkv, c.hd,
                            c.window);
    const double err = jet::test::rel_rms(got, ref);
    const double floor = jet::test::bf16_rounding_rms(ref);
    EXPECT_LE(err, 2.0 * floor) << "B=" << c.B << " T=" << c.T << " L=" << c.L << " nh=" << c.nh
                                << " nkv=" << c.nkv << " hd=" << c.hd << " window=" << c.window;
    std::printf("[ attn prefill ] B=%d T=%d L=%d nh=%d nkv=%d hd=%d q0=%d k0=%d w=%d: rel RMS %.3e "
                "(bf16 rounding %.3e, ratio %.2f)\n",
                c.B, c.T, c.L, c.nh, c.nkv, c.hd, c.q_pos0, c.k_pos0, c.window, err, floor,
                err / floor);
}

TEST(CudaAttentionPrefill, SingleToken) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 1, 1, 12, 2, 128, 0, 0, 0}, 1);
}

TEST(CudaAttentionPrefill, LengthNotMultipleOfTile) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 100, 100, 4, 2, 128, 0, 0, 0}, 2);
    run_case({1, 65, 65, 2, 2, 64, 0, 0, 0}, 3);
}

TEST(CudaAttentionPrefill, BatchContinuedPrefillGqa) {
    JET_SKIP_WITHOUT_CUDA();
    // 77 new queries at positions 50.. against a cache of 127 rows; 6 query heads per kv head.
    run_case({2, 77, 127, 12, 2, 128, 50, 0, 0}, 4);
    run_case({3, 40, 140, 8, 8, 64, 100, 0, 0}, 5);
}

TEST(CudaAttentionPrefill, SlidingWindowFirstPrefill) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 300, 300, 4, 2, 128, 0, 0, 64}, 6);   // window boundary inside tiles
    run_case({2, 200, 200, 4, 1, 128, 0, 0, 100}, 7);  // window not a multiple of 64
    run_case({1, 50, 50, 2, 1, 128, 0, 0, 1}, 8);      // a window of one: out = v of itself
}

TEST(CudaAttentionPrefill, SlidingWindowAfterRing) {
    JET_SKIP_WITHOUT_CUDA();
    // The caller unrolled the ring (63 earlier rows from position 100) before the new rows:
    // queries at 163..362, keys 100..362, window 64.
    run_case({1, 200, 263, 4, 2, 128, 163, 100, 64}, 9);
}

TEST(CudaAttentionPrefill, LongSequence) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 4096, 4096, 4, 2, 128, 0, 0, 0}, 10);
    run_case({1, 4096, 4096, 2, 1, 128, 0, 0, 1152}, 11);  // the 2B's swa window
}

TEST(CudaAttentionPrefill, RejectsBadSizes) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<bf16> buf(1 << 16);
    EXPECT_THROW(jet::cuda::attention_prefill(buf.get(), buf.get(), buf.get(), buf.get(), 1, 4, 4, 3,
                                              2, 128, 0, 0, 0, nullptr),
                 jet::Error);  // nh % nkv != 0
    EXPECT_THROW(jet::cuda::attention_prefill(buf.get(), buf.get(), buf.get(), buf.get(), 1, 4, 4, 2,
                                              2, 96, 0, 0, 0, nullptr),
                 jet::Error);  // hd 96
    EXPECT_THROW(jet::cuda::attention_prefill(nullptr, buf.get(), buf.get(), buf.get(), 1, 4, 4, 2,
                                              2, 128, 0, 0, 0, nullptr),
                 jet::Error);
}

}  // namespace
