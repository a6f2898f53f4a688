// Tests for cuda/gated_delta_chunk.cu (chunked prefill, bf16 tensor cores, fp32 state) against
// the CPU recurrent operator on the same bf16-rounded inputs: T = 1, lengths around the chunk
// size, batch > 1, long T, dK 16..256, dV % 32 == 16, strong decay with beta = 0, a non-zero initial state;
// then against the goldens of fla's fp32 reference (../shared/fixtures/kernels).
// Tolerances: random inputs, relative RMS <= 6e-3 on o and on the final state (bf16 operands of
// W, U, Aqk, E and S in the tensor-core products; the CPU reference is fp32 throughout).
// Goldens: max |error| <= 2x what fla's own bf16 chunk kernel reached on them (o 6.7e-4,
// hT 4.4e-3, fixtures README).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
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

struct Inputs {
    int B, T, H, dK, dV;
    std::vector<float> q, k, v, g, beta, h0;
};

Inputs make_inputs(int B, int T, int H, int dK, int dV, uint32_t seed) {
    Inputs in{B, T, H, dK, dV, {}, {}, {}, {}, {}, {}};
    const size_t rows = size_t(B) * T;
    in.q = jet::test::random_vec(rows * H * dK, seed);
    in.k = jet::test::random_vec(rows * H * dK, seed + 1);
    jet::cpu::l2norm_heads(in.q.data(), int(rows), H, dK, 1e-6f);
    jet::cpu::l2norm_heads(in.k.data(), int(rows), H, dK, 1e-6f);
    in.v = jet::test::random_vec(rows * H * dV, seed + 2);
    in.g = jet::test::random_vec(rows * H, seed + 3, -0.5f, 0.f);
    in.beta = jet::test::random_vec(rows * H, seed + 4, 0.f, 1.f);
    in.h0 = jet::test::random_vec(size_t(B) * H * dK * dV, seed + 5, -0.5f, 0.5f);
    return in;
}

struct Out {
    std::vector<float> o, S;
};

// Runs the CUDA kernel; q, k, v are rounded to bf16 in `in` first so the reference sees them.
Out run_gpu(Inputs &in, float scale) {
    jet::test::round_bf16(in.q);
    jet::test::round_bf16(in.k);
    jet::test::round_bf16(in.v);
    DevBuf<bf16> dq(in.q.size()), dk(in.k.size()), dv(in.v.size());
    DevBuf<float> dg(in.g.size()), db(in.beta.size()), dS(in.h0.size()),
        dout(size_t(in.B) * in.T * in.H * in.dV);
    jet::test::upload(dq, in.q);
    jet::test::upload(dk, in.k);
    jet::test::upload(dv, in.v);
    jet::test::upload(dg, in.g);
    jet::test::upload(db, in.beta);
    jet::test::upload(dS, in.h0);
    const size_t wsb = jet::cuda::gated_delta_chunk_workspace_bytes(in.B, in.T, in.H, in.dK, in.dV);
    DevBuf<unsigned char> ws(wsb);
    jet::cuda::gated_delta_chunk(dq.get(), dk.get(), dv.get(), dg.get(), db.get(), dS.get(),
                                 dout.get(), in.B, in.T, in.H, in.dK, in.dV, scale, ws.get(), wsb,
                                 nullptr);
    jet::test::sync_ok();
    return {jet::test::download(dout), jet::test::download(dS)};
}

Out run_cpu(const Inputs &in, float scale) {
    Out r{std::vector<float>(size_t(in.B) * in.T * in.H * in.dV), in.h0};
    const size_t qs = size_t(in.T) * in.H * in.dK, vs = size_t(in.T) * in.H * in.dV,
                 gs = size_t(in.T) * in.H, ss = size_t(in.H) * in.dK * in.dV;
    for (int b = 0; b < in.B; ++b)
        jet::cpu::gated_delta_recurrent(in.q.data() + b * qs, in.k.data() + b * qs,
                                        in.v.data() + b * vs, in.g.data() + b * gs,
                                        in.beta.data() + b * gs, r.S.data() + b * ss,
                                        r.o.data() + b * vs, in.T, in.H, in.dK, in.dV, scale);
    return r;
}

void check_case(Inputs in, const char *what) {
    const float scale = 1.f / std::sqrt(float(in.dK));
    const Out gpu = run_gpu(in, scale);
    const Out cpu = run_cpu(in, scale);
    const double eo = jet::test::rel_rms(gpu.o, cpu.o), es = jet::test::rel_rms(gpu.S, cpu.S);
    EXPECT_LE(eo, 6e-3) << what << " T=" << in.T;
    EXPECT_LE(es, 6e-3) << what << " T=" << in.T;
    std::printf("[ gdn chunk ] %s B=%d T=%d H=%d dK=%d dV=%d: rel RMS o %.3e, state %.3e\n", what,
                in.B, in.T, in.H, in.dK, in.dV, eo, es);
}

TEST(CudaGatedDeltaChunk, LengthsAroundTheChunk) {
    JET_SKIP_WITHOUT_CUDA();
    for (int T : {1, 2, 63, 64, 65, 200}) check_case(make_inputs(2, T, 3, 96, 64, 100 + T), "lengths");
}

TEST(CudaGatedDeltaChunk, HeadSizes) {
    JET_SKIP_WITHOUT_CUDA();
    check_case(make_inputs(1, 130, 2, 128, 256, 1), "dK128");
    check_case(make_inputs(1, 100, 2, 16, 32, 2), "dK16");
    check_case(make_inputs(1, 150, 12, 96, 256, 3), "2B heads");
}

// The PostNAS candidates' key dims (192/192/8, 256) and value dims that are multiples of 16 but
// not 32 (the last 32-column state-pass block owns 16 columns). dK = 256 needs ~158 KB of shared
// memory a block (sm_80 and sm_90 have it); on a GPU with less, the launcher must refuse it
// with a jet::Error instead.
TEST(CudaGatedDeltaChunk, LargeKeyDims) {
    JET_SKIP_WITHOUT_CUDA();
    check_case(make_inputs(2, 200, 3, 192, 192, 11), "dK192");
    check_case(make_inputs(1, 130, 2, 192, 208, 12), "dK192 dV208");
    check_case(make_inputs(1, 70, 2, 128, 288, 13), "dK128 dV288");
    check_case(make_inputs(1, 100, 3, 96, 48, 14), "dV48");
    // Enough (sequence, head, 32 columns) blocks to fill the GPU: the state pass takes 32-column
    // blocks (16 otherwise), the last one here 16 wide.
    check_case(make_inputs(2, 130, 12, 96, 272, 18), "wide dV272");
    check_case(make_inputs(3, 70, 16, 64, 256, 19), "wide B3");
    int dev = 0, smem = 0;
    ASSERT_EQ(cudaGetDevice(&dev), cudaSuccess);
    ASSERT_EQ(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
              cudaSuccess);
    if (smem >= 158 * 1024) {
        check_case(make_inputs(1, 200, 2, 256, 256, 15), "dK256");
        check_case(make_inputs(1, 65, 2, 256, 80, 16), "dK256 dV80");
    } else {
        Inputs in = make_inputs(1, 64, 1, 256, 64, 17);
        EXPECT_THROW(run_gpu(in, 0.0625f), jet::Error);
    }
}

TEST(CudaGatedDeltaChunk, LongSequence) {
    JET_SKIP_WITHOUT_CUDA();
    check_case(make_inputs(1, 4096, 2, 96, 256, 4), "long");
}

TEST(CudaGatedDeltaChunk, StrongDecayAndZeroBeta) {
    JET_SKIP_WITHOUT_CUDA();
    Inputs in = make_inputs(1, 200, 2, 96, 64, 5);
    for (size_t i = 0; i < in.g.size(); ++i) in.g[i] = (i % 3 == 0) ? -80.f : -0.01f;
    for (size_t i = 0; i < in.beta.size(); i += 4) in.beta[i] = 0.f;
    check_case(in, "decay");
}

TEST(CudaGatedDeltaChunk, PrefillThenStepsMatchOneRecurrence) {
    JET_SKIP_WITHOUT_CUDA();
    // 130 tokens by the chunked kernel, then 5 by gated_delta_step, vs 135 recurrent CPU steps.
    const int P = 130, N = 5, H = 3, dK = 96, dV = 64;
    Inputs all = make_inputs(1, P + N, H, dK, dV, 6);
    jet::test::round_bf16(all.q);
    jet::test::round_bf16(all.k);
    jet::test::round_bf16(all.v);
    const float scale = 1.f / std::sqrt(float(dK));
    const Out cpu = run_cpu(all, scale);

    Inputs pre = all;
    pre.T = P;
    pre.q.resize(size_t(P) * H * dK);
    pre.k.resize(size_t(P) * H * dK);
    pre.v.resize(size_t(P) * H * dV);
    pre.g.resize(size_t(P) * H);
    pre.beta.resize(size_t(P) * H);
    Out gpu = run_gpu(pre, scale);
    DevBuf<float> dS(gpu.S.size()), dg(H), db(H), dout(size_t(H) * dV);
    DevBuf<bf16> dq(size_t(H) * dK), dk(size_t(H) * dK), dv(size_t(H) * dV);
    jet::test::upload(dS, gpu.S);
    for (int t = P; t < P + N; ++t) {
        auto slice = [&](const std::vector<float> &x, size_t n) {
            return std::vector<float>(x.begin() + t * n, x.begin() + (t + 1) * n);
        };
        jet::test::upload(dq, slice(all.q, size_t(H) * dK));
        jet::test::upload(dk, slice(all.k, size_t(H) * dK));
        jet::test::upload(dv, slice(all.v, size_t(H) * dV));
        jet::test::upload(dg, slice(all.g, H));
        jet::test::upload(db, slice(all.beta, H));
        jet::cuda::gated_delta_step(dq.get(), dk.get(), dv.get(), dg.get(), db.get(), dS.get(),
                                    dout.get(), 1, H, dK, dV, scale, nullptr);
        const auto o = jet::test::download(dout);
        gpu.o.insert(gpu.o.end(), o.begin(), o.end());
    }
    const auto S = jet::test::download(dS);
    EXPECT_LE(jet::test::rel_rms(gpu.o, cpu.o), 1e-2);  // not yet measured on the GPU: looser
    EXPECT_LE(jet::test::rel_rms(S, cpu.S), 1e-2);
}

TEST(CudaGatedDeltaChunk, RejectsBadArguments) {
    JET_SKIP_WITHOUT_CUDA();
    DevBuf<bf16> b16(1 << 16);
    DevBuf<float> f32(1 << 16);
    const size_t wsb = jet::cuda::gated_delta_chunk_workspace_bytes(1, 64, 1, 96, 64);
    DevBuf<unsigned char> ws(wsb);
    auto call = [&](int dK, int dV, size_t bytes) {
        jet::cuda::gated_delta_chunk(b16.get(), b16.get(), b16.get(), f32.get(), f32.get(),
                                     f32.get(), f32.get(), 1, 64, 1, dK, dV, 0.1f, ws.get(), bytes,
                                     nullptr);
    };
    EXPECT_THROW(call(100, 64, wsb), jet::Error);  // dK not a multiple of 16
    EXPECT_THROW(call(96, 40, wsb), jet::Error);   // dV not a multiple of 16
    EXPECT_THROW(call(272, 64, wsb), jet::Error);  // dK > 256
    EXPECT_THROW(call(96, 64, wsb - 1), jet::Error);
}

// ---- goldens from fla's naive recurrent reference (B=1, T=333, H=4, dK=96, dV=128) ----------

double max_abs_err(const std::vector<float> &a, const std::vector<float> &b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        m = std::max(m, std::abs(double(a[i]) - b[i]));
    }
    return m;
}

TEST(CudaGatedDeltaChunkGolden, MatchesFlaWithinTwiceItsBf16Error) {
    JET_SKIP_WITHOUT_CUDA();
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    auto f = jet::SafetensorsFile::open(path);
    const auto &qs = f->get("gdr_q").shape, &vs = f->get("gdr_v").shape;
    Inputs in{int(qs[0]), int(qs[1]), int(qs[2]), int(qs[3]), int(vs[3]), f->get("gdr_q").to_f32(),
              f->get("gdr_k").to_f32(), f->get("gdr_v").to_f32(), f->get("gdr_g").to_f32(),
              f->get("gdr_beta").to_f32(), f->get("gdr_h0").to_f32()};
    const auto o_ref = f->get("gdr_o").to_f32(), h_ref = f->get("gdr_hT").to_f32();
    const Out gpu = run_gpu(in, 1.f / std::sqrt(float(in.dK)));
    const double eo = max_abs_err(gpu.o, o_ref), eh = max_abs_err(gpu.S, h_ref);
    std::printf("[ gdn chunk ] golden: max |err| o %.3e (fla bf16 6.7e-4), hT %.3e (fla bf16 4.4e-3)\n",
                eo, eh);
    EXPECT_LE(eo, 2 * 6.7e-4);
    EXPECT_LE(eh, 2 * 4.4e-3);
}

}  // namespace
