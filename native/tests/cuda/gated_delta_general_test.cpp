// Tests for cuda/gated_delta_general.cu (the chunked gated delta rule for any head dims: the
// tensor-core kernel on zero-padded copies where dK or dV is not a multiple of 16) against the
// CPU recurrent operator on the same bf16-rounded inputs, with a non-zero initial state (its
// padding and cutting back are under test too): odd dims, batch > 1, lengths around the
// 64-token chunk; the native dims go straight to gated_delta_chunk; bad arguments throw.
// Tolerance: that of gated_delta_chunk_test (relative RMS <= 6e-3 on o and on the state).
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

struct Case {
    int B, T, H, dK, dV;
};

void check_case(const Case &c, uint32_t seed) {
    const size_t rows = size_t(c.B) * c.T;
    auto q = jet::test::random_vec(rows * c.H * c.dK, seed);
    auto k = jet::test::random_vec(rows * c.H * c.dK, seed + 1);
    jet::cpu::l2norm_heads(q.data(), int(rows), c.H, c.dK, 1e-6f);
    jet::cpu::l2norm_heads(k.data(), int(rows), c.H, c.dK, 1e-6f);
    auto v = jet::test::random_vec(rows * c.H * c.dV, seed + 2);
    jet::test::round_bf16(q);
    jet::test::round_bf16(k);
    jet::test::round_bf16(v);
    const auto g = jet::test::random_vec(rows * c.H, seed + 3, -0.5f, 0.f);
    const auto beta = jet::test::random_vec(rows * c.H, seed + 4, 0.f, 1.f);
    const auto h0 = jet::test::random_vec(size_t(c.B) * c.H * c.dK * c.dV, seed + 5, -0.5f, 0.5f);
    const float scale = 1.f / std::sqrt(float(c.dK));

    DevBuf<bf16> dq(q.size()), dk(k.size()), dv(v.size());
    DevBuf<float> dg(g.size()), db(beta.size()), dS(h0.size()), dout(rows * c.H * c.dV);
    jet::test::upload(dq, q);
    jet::test::upload(dk, k);
    jet::test::upload(dv, v);
    jet::test::upload(dg, g);
    jet::test::upload(db, beta);
    jet::test::upload(dS, h0);
    const size_t wsb = jet::cuda::gated_delta_chunk_any_workspace_bytes(c.B, c.T, c.H, c.dK, c.dV);
    ASSERT_GT(wsb, 0u);
    DevBuf<unsigned char> ws(wsb);
    jet::cuda::gated_delta_chunk_any(dq.get(), dk.get(), dv.get(), dg.get(), db.get(), dS.get(),
                                     dout.get(), c.B, c.T, c.H, c.dK, c.dV, scale, ws.get(), wsb,
                                     nullptr);
    jet::test::sync_ok();
    const auto o = jet::test::download(dout), S = jet::test::download(dS);

    std::vector<float> o_ref(rows * c.H * c.dV), S_ref = h0;
    const size_t qs = size_t(c.T) * c.H * c.dK, vs = size_t(c.T) * c.H * c.dV,
                 gs = size_t(c.T) * c.H, ss = size_t(c.H) * c.dK * c.dV;
    for (int b = 0; b < c.B; ++b)
        jet::cpu::gated_delta_recurrent(q.data() + b * qs, k.data() + b * qs, v.data() + b * vs,
                                        g.data() + b * gs, beta.data() + b * gs,
                                        S_ref.data() + b * ss, o_ref.data() + b * vs, c.T, c.H,
                                        c.dK, c.dV, scale);
    const double eo = jet::test::rel_rms(o, o_ref), es = jet::test::rel_rms(S, S_ref);
    std::printf("[ gdn any ] B=%d T=%d H=%d dK=%d dV=%d (native %d): rel RMS o %.3e, state %.3e\n",
                c.B, c.T, c.H, c.dK, c.dV, int(jet::cuda::gated_delta_chunk_native(c.dK, c.dV)),
                eo, es);
    EXPECT_LE(eo, 6e-3) << "dK=" << c.dK << " dV=" << c.dV << " T=" << c.T;
    EXPECT_LE(es, 6e-3) << "dK=" << c.dK << " dV=" << c.dV << " T=" << c.T;
}

TEST(CudaGatedDeltaGeneral, OddHeadDims) {
    JET_SKIP_WITHOUT_CUDA();
    EXPECT_FALSE(jet::cuda::gated_delta_chunk_native(24, 40));
    check_case({1, 130, 2, 24, 40}, 1);   // the odd tiny model's JetBlock
    check_case({2, 65, 3, 24, 64}, 2);    // only dK padded
    check_case({1, 64, 2, 32, 40}, 3);    // only dV padded
    check_case({1, 1, 1, 8, 8}, 4);       // below one 16-tile, one token
    check_case({2, 200, 1, 100, 250}, 5);
    // dK padded to 256 needs sm_90's shared memory (gated_delta_chunk_test's LargeKeyDims).
    int dev = 0, smem = 0;
    ASSERT_EQ(cudaGetDevice(&dev), cudaSuccess);
    ASSERT_EQ(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
              cudaSuccess);
    if (smem >= 200 * 1024) check_case({1, 70, 2, 250, 20}, 6);
}

TEST(CudaGatedDeltaGeneral, NativeDimsTakeTheFastKernel) {
    JET_SKIP_WITHOUT_CUDA();
    EXPECT_TRUE(jet::cuda::gated_delta_chunk_native(96, 256));
    EXPECT_EQ(jet::cuda::gated_delta_chunk_any_workspace_bytes(1, 100, 2, 96, 64),
              jet::cuda::gated_delta_chunk_workspace_bytes(1, 100, 2, 96, 64));
    // Padded dims need more: the fast kernel's workspace for the padded dims plus the copies.
    EXPECT_GT(jet::cuda::gated_delta_chunk_any_workspace_bytes(1, 100, 2, 24, 40),
              jet::cuda::gated_delta_chunk_workspace_bytes(1, 100, 2, 32, 48));
    check_case({1, 100, 2, 96, 64}, 7);
}

TEST(CudaGatedDeltaGeneral, RejectsBadArguments) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<bf16> b16(1 << 16);
    DevBuf<float> f32(1 << 16);
    const size_t wsb = jet::cuda::gated_delta_chunk_any_workspace_bytes(1, 64, 1, 24, 40);
    DevBuf<unsigned char> ws(wsb);
    auto call = [&](int dK, int dV, size_t bytes, const float *state) {
        jet::cuda::gated_delta_chunk_any(b16.get(), b16.get(), b16.get(), f32.get(), f32.get(),
                                         const_cast<float *>(state), f32.get(), 1, 64, 1, dK, dV,
                                         0.1f, ws.get(), bytes, nullptr);
    };
    EXPECT_THROW(call(24, 40, wsb - 1, f32.get()), jet::Error);  // workspace too small
    EXPECT_THROW(call(24, 40, wsb, nullptr), jet::Error);        // null state
    EXPECT_THROW(call(260, 40, wsb, f32.get()), jet::Error);     // dK > 256
    EXPECT_THROW(call(0, 40, wsb, f32.get()), jet::Error);
}

}  // namespace
