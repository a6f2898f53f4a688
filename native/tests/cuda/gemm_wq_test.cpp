// gemm_wq_test.cpp - weight-only quantized linear layers (issue 15): FP8 e4m3 and int8 weights
// with per-output-channel or per-group-of-128 fp32 scales, bf16 activations, fp32 accumulation.
// The GEMV kernels (T <= 4, every fused prologue) and the tensor-core GEMM (gemm_wq.cu: T > 4;
// its dequantize + cuBLAS path from 1024 tokens) against an fp64 host reference on the
// dequantized weights float(q) * scale[n, k / group].
#include <cmath>
#include <cstdint>
#include <random>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

// e4m3fn: bias 7, subnormals, S.1111.111 NaN.
float e4m3_value(uint8_t b) {
    const int e = (b >> 3) & 15, m = b & 7;
    const float v = e == 0 ? std::ldexp(float(m), -9) : std::ldexp(float(8 + m), e - 10);
    return (b & 0x80) ? -v : v;
}

struct QWeight {
    std::vector<uint8_t> q;   // [N, K]
    std::vector<float> s;     // [N, K / group]
    std::vector<float> deq;   // float(q) * s, [N, K]
    int group = 0;
};

// Random FP8 (every finite code) or int8 values, scales in [0.5, 2) / 64 per (row, group).
QWeight make_qweight(cuda::WeightType t, int N, int K, int group, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> sc(0.5f, 2.0f);
    QWeight w;
    w.group = group;
    const int ng = K / group;
    w.q.resize(size_t(N) * K);
    w.s.resize(size_t(N) * ng);
    w.deq.resize(w.q.size());
    for (auto &v : w.s) v = sc(rng) / 64.0f;
    for (size_t i = 0; i < w.q.size(); ++i) {
        uint8_t b = uint8_t(byte(rng));
        if (t == cuda::WeightType::F8E4M3 && (b & 0x7f) == 0x7f) b ^= 1;  // not NaN
        w.q[i] = b;
        const float v = t == cuda::WeightType::F8E4M3 ? e4m3_value(b) : float(int8_t(b));
        const size_t n = i / K, k = i % K;
        w.deq[i] = v * w.s[n * ng + k / group];
    }
    return w;
}

struct DevQWeight {
    DevBuf<uint8_t> q;
    DevBuf<float> s;
    cuda::WeightRef ref;
    DevQWeight(const QWeight &w, cuda::WeightType t) : q(w.q.size()), s(w.s.size()) {
        EXPECT_EQ(cudaMemcpy(q.get(), w.q.data(), w.q.size(), cudaMemcpyHostToDevice), cudaSuccess);
        upload(s, w.s);
        ref = cuda::WeightRef(q.get(), t, s.get(), w.group);
    }
};

// y0 + x W^T in fp64; x [T, ldx] (first K columns).
std::vector<double> reference(const std::vector<float> &x, int ldx, const std::vector<float> &W,
                              const std::vector<float> &y0, int T, int K, int N) {
    std::vector<double> r(size_t(T) * N);
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) {
            double acc = y0.empty() ? 0.0 : y0[size_t(t) * N + n];
            const float *xr = x.data() + size_t(t) * ldx;
            const float *wr = W.data() + size_t(n) * K;
            for (int k = 0; k < K; ++k) acc += double(xr[k]) * wr[k];
            r[size_t(t) * N + n] = acc;
        }
    return r;
}

const char *type_name(cuda::WeightType t) { return t == cuda::WeightType::F8E4M3 ? "fp8" : "int8"; }

// gemm() with quantized W: the GEMV (T <= 4) and the weight-only GEMM (T > 4), per-channel and
// group-128 scales, fp32 output with beta = 1 and bf16 output; odd N, K a multiple of 16 only,
// a strided x.
TEST(CudaGemmWq, PlainMatchesDequantizedReference) {
    JET_SKIP_WITHOUT_CUDA();
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    // {T, K, N}: GEMV rows / warp kernels, then the GEMM at 5 .. 2048 tokens.
    const int cases[][3] = {{1, 256, 136},  {2, 1536, 1000}, {3, 384, 70001}, {4, 1536, 8960},
                            {4, 272, 77},   {5, 256, 136},   {64, 1536, 1000}, {128, 1536, 8960},
                            {128, 8960, 1536}, {1000, 512, 333}, {2048, 256, 200}, {77, 400, 70},
                            {130, 144, 65}};
    for (cuda::WeightType wt : {cuda::WeightType::F8E4M3, cuda::WeightType::I8}) {
        for (const auto &tc : cases) {
            const int T = tc[0], K = tc[1], N = tc[2], ldx = K + 8;
            for (int group : {K, 128}) {
                if (K % group != 0) continue;
                const QWeight w = make_qweight(wt, N, K, group, 7 + N + K + group);
                const auto x = randn_bf16(size_t(T) * ldx, 11 + T + K);
                const auto y0 = randn_bf16(size_t(T) * N, 13 + N);
                DevQWeight dw(w, wt);
                DevBuf<bf16> dx(x.size()), dyb(size_t(T) * N);
                DevBuf<float> dy(size_t(T) * N), dy0(size_t(T) * N);
                upload(dx, x);
                upload(dy, y0);
                JET_LAUNCH_OK(cuda::gemm(h, dx.get(), ldx, dw.ref, dy.get(), true, T, K, N, 1.0f));
                JET_LAUNCH_OK(cuda::gemm(h, dx.get(), ldx, dw.ref, dyb.get(), false, T, K, N, 0.0f));
                upload(dy0, y0);  // beta = 0 must overwrite it (split-K zeroes y first)
                JET_LAUNCH_OK(cuda::gemm(h, dx.get(), ldx, dw.ref, dy0.get(), true, T, K, N, 0.0f));
                const auto y = download(dy), yb = download(dyb), yz = download(dy0);
                const auto acc = reference(x, ldx, w.deq, y0, T, K, N);
                std::vector<double> ref(acc.size());
                for (size_t i = 0; i < ref.size(); ++i) ref[i] = acc[i] - y0[i];
                // Exact products summed in fp32 (T < 1024); from 1024 tokens the weight is
                // rounded to bf16 for cuBLAS: about the bf16 rounding error.
                const double tol = T < 1024 ? 1e-5 : bf16_tolerance(acc);
                EXPECT_LE(rel_rms(y, acc), tol) << type_name(wt) << " T=" << T << " K=" << K
                                                << " N=" << N << " group=" << group;
                EXPECT_LE(rel_rms(yz, ref), T < 1024 ? 1e-5 : bf16_tolerance(ref))
                    << type_name(wt) << " beta=0, T=" << T << " K=" << K << " N=" << N
                    << " group=" << group;
                EXPECT_LE(rel_rms(yb, ref), T < 1024 ? bf16_tolerance(ref) : 1.5 * bf16_tolerance(ref))
                    << type_name(wt) << " bf16 out, T=" << T << " K=" << K << " N=" << N
                    << " group=" << group;
            }
        }
    }
    cublasDestroy(h);
}

// The fused prologues (RMSNorm, SiLU, SiLU(gate) * up, gated per-head RMSNorm) with quantized W,
// T = 1..4 (fused GEMV) and T = 6, 64 (the unfused op, then the GEMM): the GPU's bf16
// activations (the unfused op) times the dequantized weights, in fp64.
TEST(CudaGemmWq, FusedProloguesMatchDequantizedReference) {
    JET_SKIP_WITHOUT_CUDA();
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    const int cases[][3] = {{1, 1536, 1000}, {2, 256, 136}, {3, 384, 9000}, {4, 8960, 300},
                            {4, 1536, 8192}, {6, 256, 136}, {64, 384, 200}};
    for (cuda::WeightType wt : {cuda::WeightType::F8E4M3, cuda::WeightType::I8}) {
        for (const auto &tc : cases) {
            const int T = tc[0], K = tc[1], N = tc[2];
            for (int group : {K, 128}) {
                if (K % group != 0) continue;
                const QWeight w = make_qweight(wt, N, K, group, 21 + N + group);
                DevQWeight dw(w, wt);
                for (int kind = 0; kind < 4; ++kind) {
                    const int ld = kind == 2 ? 2 * K : K;
                    const auto x = randn_bf16(size_t(T) * ld, 31 + T + K + kind, 2.0f);
                    const auto nw = randn_bf16(size_t(K), 32 + K);
                    const auto y0 = randn_bf16(size_t(T) * N, 33);
                    const int D = K % 256 == 0 ? 256 : K % 128 == 0 ? 128 : 8, ldg = K + 4;
                    const auto G = randn_bf16(size_t(T) * ldg, 35 + K, 2.0f);
                    DevBuf<float> dx(x.size()), dG(G.size()), dy(size_t(T) * N);
                    DevBuf<bf16> dnw(nw.size()), dact(size_t(T) * K), dact2(size_t(T) * K);
                    upload(dx, x);
                    upload(dG, G);
                    upload(dnw, nw);
                    upload(dy, y0);
                    const cudaStream_t s = nullptr;
                    ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
                    if (kind == 0) {
                        JET_LAUNCH_OK(cuda::rmsnorm(dx.get(), dnw.get(), dact2.get(), T, K, 1e-6f, s));
                        JET_LAUNCH_OK(cuda::gemm_rmsnorm(h, dx.get(), dnw.get(), 1e-6f, dact.get(),
                                                         dw.ref, dy.get(), true, T, K, N, 1.0f));
                    } else if (kind == 1) {
                        JET_LAUNCH_OK(cuda::silu_to_bf16(dx.get(), ld, dact2.get(), T, K, s));
                        JET_LAUNCH_OK(cuda::gemm_silu(h, dx.get(), ld, dact.get(), dw.ref, dy.get(),
                                                      true, T, K, N, 1.0f));
                    } else if (kind == 3) {
                        JET_LAUNCH_OK(cuda::gated_rmsnorm(dx.get(), dG.get(), ldg, dnw.get(),
                                                          dact2.get(), T, K / D, D, 1e-5f, s));
                        JET_LAUNCH_OK(cuda::gemm_gated_rmsnorm(h, dx.get(), dG.get(), ldg,
                                                               dnw.get(), 1e-5f, dact.get(), dw.ref,
                                                               dy.get(), true, T, K / D, D, N, 1.0f));
                    } else {
                        JET_LAUNCH_OK(cuda::silu_mul(dx.get(), dact2.get(), T, K, s));
                        JET_LAUNCH_OK(cuda::gemm_silu_mul(h, dx.get(), dact.get(), dw.ref, dy.get(),
                                                          true, T, K, N, 1.0f));
                    }
                    const auto act = download(dact2), y = download(dy);
                    const auto ref = reference(act, K, w.deq, y0, T, K, N);
                    // The fused prologue's bf16 x may differ from the unfused op's by an ulp
                    // where the norm scale differs in its last bit (as in gemm_test.cpp).
                    EXPECT_LE(rel_rms(y, ref), 2e-3)
                        << type_name(wt) << " kind=" << kind << " T=" << T << " K=" << K
                        << " N=" << N << " group=" << group;
                }
            }
        }
    }
    cublasDestroy(h);
}

// Bad quantized descriptors are refused with a message, never launched.
TEST(CudaGemmWq, RejectsUnservableScales) {
    JET_SKIP_WITHOUT_CUDA();
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    DevBuf<uint8_t> q(64 * 64);
    DevBuf<float> s(64 * 64);
    DevBuf<bf16> x(8 * 64);
    DevBuf<float> y(8 * 64);
    // No scales; a group that does not divide K; K not a multiple of 16.
    const cuda::WeightRef bad[] = {
        cuda::WeightRef(q.get(), cuda::WeightType::F8E4M3, nullptr, 64),
        cuda::WeightRef(q.get(), cuda::WeightType::F8E4M3, s.get(), 48),
    };
    for (const auto &w : bad)
        for (int T : {1, 8}) EXPECT_THROW(cuda::gemm(h, x.get(), 64, w, y.get(), true, T, 64, 64, 0.0f), Error);
    const cuda::WeightRef k56(q.get(), cuda::WeightType::I8, s.get(), 56);
    EXPECT_THROW(cuda::gemm(h, x.get(), 56, k56, y.get(), true, 8, 56, 64, 0.0f), Error);
    cublasDestroy(h);
}

}  // namespace
}  // namespace jet::test
