// Tests for cuda/attention_decode.cu (flash-decoding) against the CPU operator on the same
// bf16-rounded inputs: batches whose sequences are at different positions (the first token, a
// middle one, a full cache), linear caches up to 64K rows, ring buffers before and after they
// wrap, windows on linear caches, GQA group sizes up to 16, hd 64 and 128. Rows a query must not
// see are filled with large values so that any leak shows.
// Tolerance: relative RMS error <= 2x the error of rounding the fp32 reference output to bf16
// (fp32 math on bf16 inputs; like FlashAttention, the probabilities enter P V as bf16).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../cpu/op_test_util.h"
#include "cpu/ops.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"

namespace {

using jet::cuda::bf16;
using jet::test::DevBuf;

// Position held by row j of sequence with query position p, or -1 (see kernels.h).
int row_pos(int j, int p, int L, bool ring) {
    if (!ring) return j <= p ? j : -1;
    const int pos = p - (((p - j) % L) + L) % L;
    return pos >= 0 ? pos : -1;
}

void run_case(int L, int nh, int nkv, int hd, int window, bool ring, const std::vector<int> &qp,
              uint32_t seed) {
    const int B = int(qp.size());
    const size_t qn = size_t(B) * nh * hd, kn = size_t(B) * L * nkv * hd, row = size_t(nkv) * hd;
    auto q = jet::test::random_vec(qn, seed, -2.f, 2.f);
    auto k = jet::test::random_vec(kn, seed + 1, -2.f, 2.f);
    auto v = jet::test::random_vec(kn, seed + 2);
    for (int b = 0; b < B; ++b)
        for (int j = 0; j < L; ++j)
            if (row_pos(j, qp[b], L, ring) < 0)  // never-written rows: poison
                for (size_t i = 0; i < row; ++i) {
                    k[(size_t(b) * L + j) * row + i] = 50.f;
                    v[(size_t(b) * L + j) * row + i] = 1000.f;
                }
    jet::test::round_bf16(q);
    jet::test::round_bf16(k);
    jet::test::round_bf16(v);

    DevBuf<bf16> dq(qn), dk(kn), dv(kn), dout(qn);
    DevBuf<int32_t> dpos(B);
    jet::test::upload(dq, q);
    jet::test::upload(dk, k);
    jet::test::upload(dv, v);
    jet::test::upload(dpos, std::vector<int32_t>(qp.begin(), qp.end()));
    const size_t wsb = jet::cuda::attention_decode_workspace_bytes(B, L, nh, hd);
    DevBuf<unsigned char> ws(wsb);
    jet::cuda::attention_decode(dq.get(), dk.get(), dv.get(), dpos.get(), dout.get(), B, L, nh, nkv,
                                hd, window, ring ? 1 : 0, ws.get(), wsb, nullptr);
    jet::test::sync_ok();
    const auto got = jet::test::download(dout);

    std::vector<float> ref(qn);
    std::vector<int32_t> kpos(L);
    for (int b = 0; b < B; ++b) {
        for (int j = 0; j < L; ++j) kpos[j] = row_pos(j, qp[b], L, ring);
        const int32_t pos = qp[b];
        jet::cpu::attention(q.data() + size_t(b) * nh * hd, k.data() + size_t(b) * L * row,
                            v.data() + size_t(b) * L * row, &pos, kpos.data(),
                            ref.data() + size_t(b) * nh * hd, 1, L, nh, nkv, hd, window);
    }
    const double err = jet::test::rel_rms(got, ref);
    const double floor = jet::test::bf16_rounding_rms(ref);
    EXPECT_LE(err, 2.0 * floor) << "L=" << L << " nh=" << nh << " nkv=" << nkv << " hd=" << hd
                                << " window=" << window << " ring=" << ring;
    std::printf("[ attn decode ] B=%d L=%d nh=%d nkv=%d hd=%d w=%d ring=%d: rel RMS %.3e (bf16 "
                "rounding %.3e, ratio %.2f)\n",
                B, L, nh, nkv, hd, window, int(ring), err, floor, err / floor);
}

TEST(CudaAttentionDecode, LinearCacheBatch) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(5000, 12, 2, 128, 0, false, {0, 1234, 4999}, 1);
}

TEST(CudaAttentionDecode, LinearCacheWindow) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(3000, 12, 2, 128, 1152, false, {100, 1151, 1152, 2999}, 2);
}

TEST(CudaAttentionDecode, RingBufferBeforeAndAfterWrap) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(1152, 12, 2, 128, 1152, true, {0, 500, 1151, 1152, 5000}, 3);
    run_case(200, 4, 1, 128, 150, true, {170, 999}, 4);  // ring larger than the window
}

TEST(CudaAttentionDecode, GroupSizesAndHeadDim64) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(777, 16, 2, 64, 0, false, {776, 3}, 5);  // 8 query heads per kv head
    run_case(300, 4, 4, 64, 0, false, {299}, 6);      // no GQA
    run_case(1000, 16, 1, 128, 0, false, {999, 64, 5}, 8);  // 16 query heads per kv head
    run_case(129, 6, 2, 128, 0, false, {128, 63, 64, 65}, 9);  // around the 64-row tiles
}

TEST(CudaAttentionDecode, LongContext) {
    JET_SKIP_WITHOUT_CUDA();
    run_case(65536, 12, 2, 128, 0, false, {65535}, 7);
}

TEST(CudaAttentionDecode, RejectsBadArguments) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<bf16> buf(1 << 16);
    DevBuf<int32_t> pos(1);
    const size_t wsb = jet::cuda::attention_decode_workspace_bytes(1, 64, 4, 128);
    DevBuf<unsigned char> ws(wsb);
    EXPECT_THROW(jet::cuda::attention_decode(buf.get(), buf.get(), buf.get(), pos.get(), buf.get(),
                                             1, 64, 34, 2, 128, 0, 0, ws.get(), wsb, nullptr),
                 jet::Error);  // 17 heads per kv head
    EXPECT_THROW(jet::cuda::attention_decode(buf.get(), buf.get(), buf.get(), pos.get(), buf.get(),
                                             1, 64, 4, 2, 128, 0, 0, ws.get(), wsb - 1, nullptr),
                 jet::Error);  // workspace too small
    EXPECT_THROW(jet::cuda::attention_decode(buf.get(), buf.get(), buf.get(), nullptr, buf.get(), 1,
                                             64, 4, 2, 128, 0, 0, ws.get(), wsb, nullptr),
                 jet::Error);
}

}  // namespace
