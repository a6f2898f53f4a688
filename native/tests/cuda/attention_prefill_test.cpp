// Tests for cuda/attention_prefill.cu against the CPU operator (cpu/ops.h attention) on the same
// bf16-rounded inputs: T = 1, T not a multiple of 64, long T, batch > 1, a continued prefill
// (queries after cached rows), sliding windows (first prefill and a ring laid out after
// earlier rows), GQA group sizes 1..6, hd 64 and 128. Each case runs through the public entry
// (which picks the wgmma kernel for hd 128 on sm_90 when the build has sm_90a code) and, where
// that differs, through the mma.sync kernel too, so both paths stay tested on a Hopper card. A
// probe checks the wgmma kernel's shared-memory layouts and descriptors against a CPU GEMM.
// Tolerance: relative RMS error <= 2x the error of rounding the fp32 reference output to bf16
// (the kernel rounds P to bf16 for the tensor cores and the output to bf16; FlashAttention's
// bar is 2x PyTorch's own bf16 error, which is itself above the pure output rounding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../cpu/op_test_util.h"
#include "cpu/ops.h"
#include "cuda/attention_prefill_impl.h"
#include "cuda/kernels.h"
#include "cuda_test_util.h"
#include "error.h"

namespace {

using jet::cuda::bf16;
using jet::test::DevBuf;

struct Case {
    int B, T, L, nh, nkv, hd, q_pos0, k_pos0, window;
};

enum class Path { Dispatch, Mma, Sm90 };
const char *path_name(Path p) { return p == Path::Dispatch ? "dispatch" : p == Path::Mma ? "mma" : "sm90"; }
bool sm90_path(const Case &c) { return c.hd == 128 && jet::cuda::attention_prefill_sm90_available(); }

void run_path(const Case &c, uint32_t seed, Path path) {
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
    auto fn = path == Path::Mma    ? jet::cuda::attention_prefill_mma
              : path == Path::Sm90 ? jet::cuda::attention_prefill_sm90
                                   : jet::cuda::attention_prefill;
    fn(dq.get(), dk.get(), dv.get(), dout.get(), c.B, c.T, c.L, c.nh, c.nkv, c.hd, c.q_pos0,
       c.k_pos0, c.window, nullptr);
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
                                << " nkv=" << c.nkv << " hd=" << c.hd << " window=" << c.window
                                << " path=" << path_name(path);
    std::printf("[ attn prefill %-8s] B=%d T=%d L=%d nh=%d nkv=%d hd=%d q0=%d k0=%d w=%d: rel RMS %.3e "
                "(bf16 rounding %.3e, ratio %.2f)\n",
                path_name(path), c.B, c.T, c.L, c.nh, c.nkv, c.hd, c.q_pos0, c.k_pos0, c.window, err,
                floor, err / floor);
}

// The public entry, and the mma.sync kernel on its own when the entry took the wgmma one.
void run_case(const Case &c, uint32_t seed) {
    run_path(c, seed, Path::Dispatch);
    if (sm90_path(c)) run_path(c, seed, Path::Mma);
}

TEST(CudaAttentionPrefill, SingleToken) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 1, 1, 12, 2, 128, 0, 0, 0}, 1);
}

TEST(CudaAttentionPrefill, LengthNotMultipleOfTile) {
    JET_SKIP_WITHOUT_CUDA();
    run_case({1, 100, 100, 4, 2, 128, 0, 0, 0}, 2);
    run_case({1, 65, 65, 2, 2, 64, 0, 0, 0}, 3);
    run_case({1, 60, 60, 2, 1, 128, 0, 0, 0}, 12);    // second warpgroup of the sm90 block idle
    run_case({2, 333, 333, 4, 4, 128, 0, 0, 0}, 13);  // 3 query tiles of 128, the last partial
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

// The wgmma kernel's building blocks against a CPU GEMM: S = A B^T with both operands K-major
// in swizzled shared memory, O = P V with P in registers and V MN-major (transpose bit).
TEST(CudaAttentionPrefill, Sm90WgmmaLayoutProbe) {
    JET_SKIP_WITHOUT_CUDA();
    if (!jet::cuda::attention_prefill_sm90_available())
        GTEST_SKIP() << "no sm_90a code in this build or not an sm_90 device";
    constexpr int M = 64, N = 128, K = 128;
    auto a = jet::test::random_vec(M * K, 21, -1.f, 1.f);
    auto bk = jet::test::random_vec(N * K, 22, -1.f, 1.f);
    auto p = jet::test::random_vec(M * N, 23, 0.f, 1.f);
    auto bv = jet::test::random_vec(N * K, 24, -1.f, 1.f);
    for (auto *x : {&a, &bk, &p, &bv}) jet::test::round_bf16(*x);
    DevBuf<bf16> da(a.size()), dbk(bk.size()), dp(p.size()), dbv(bv.size());
    DevBuf<float> ds(M * N), d_o(M * K);
    jet::test::upload(da, a);
    jet::test::upload(dbk, bk);
    jet::test::upload(dp, p);
    jet::test::upload(dbv, bv);
    jet::cuda::attention_prefill_sm90_gemm_probe(da.get(), dbk.get(), dp.get(), dbv.get(), ds.get(),
                                                 d_o.get(), nullptr);
    jet::test::sync_ok();
    const auto s = jet::test::download(ds), o = jet::test::download(d_o);
    double max_s = 0, max_o = 0;
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double rs = 0, ro = 0;
            for (int kk = 0; kk < K; ++kk) rs += double(a[i * K + kk]) * bk[j * K + kk];
            for (int kk = 0; kk < N; ++kk) ro += double(p[i * N + kk]) * bv[kk * K + j];
            max_s = std::max(max_s, std::abs(rs - s[i * N + j]));
            max_o = std::max(max_o, std::abs(ro - o[i * K + j]));
        }
    // Exact bf16 products summed in fp32 over 128 terms of magnitude <= 1: errors ~1e-5.
    EXPECT_LE(max_s, 1e-3) << "S = A B^T (K-major descriptors)";
    EXPECT_LE(max_o, 1e-3) << "O = P V (register A, MN-major V)";
    std::printf("[ wgmma probe ] max |err| S %.2e, O %.2e\n", max_s, max_o);
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
