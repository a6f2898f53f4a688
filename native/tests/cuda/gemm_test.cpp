// gemm_test.cpp - cuda::gemm (GEMV kernels for T <= 4, cuBLAS above; bf16 operands, fp32
// accumulation): y = x W^T with a strided x, fp32 and bf16 outputs, beta = 1 accumulation into
// the residual stream; and the fused RMSNorm / SiLU / SiLU-mul GEMV prologues.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaGemm, MatchesFp64Reference) {
    JET_SKIP_WITHOUT_CUDA();
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    // T <= 4 with aligned rows: the GEMV kernel (several N, so several block counts);
    // K = 203 (unaligned) and T > 4: cuBLAS.
    // N = 70000: the one-warp-per-row kernel of the LM head.
    const int cases[][3] = {{1, 200, 136}, {3, 200, 2500}, {4, 1536, 5000}, {2, 384, 9000},
                            {5, 200, 136}, {64, 200, 136}, {1, 203, 136},
                            {1, 64, 70000}};
    for (const auto &tc : cases) {
        const int T = tc[0], K = tc[1], N = tc[2], ldx = K + 16;
        const auto x = randn_bf16(size_t(T) * ldx, 81 + T + K);
        const auto W = randn_bf16(size_t(N) * K, 82 + N);
        const auto y0 = randn_bf16(size_t(T) * N, 83);
        DevBuf<bf16> dx(x.size()), dW(W.size()), dyb(size_t(T) * N);
        DevBuf<float> dy(size_t(T) * N);
        upload(dx, x);
        upload(dW, W);
        upload(dy, y0);
        JET_LAUNCH_OK(cuda::gemm(h, dx.get(), ldx, dW.get(), dy.get(), true, T, K, N, 1.0f));
        JET_LAUNCH_OK(cuda::gemm(h, dx.get(), ldx, dW.get(), dyb.get(), false, T, K, N, 0.0f));
        const auto y = download(dy), yb = download(dyb);
        std::vector<double> ref(size_t(T) * N), acc(size_t(T) * N);
        for (int t = 0; t < T; ++t)
            for (int n = 0; n < N; ++n) {
                double s = 0;
                for (int k = 0; k < K; ++k) s += double(x[t * ldx + k]) * W[n * K + k];
                ref[t * N + n] = s;
                acc[t * N + n] = s + y0[t * N + n];
            }
        EXPECT_LE(rel_rms(y, acc), 1e-5) << "T=" << T << " K=" << K << " N=" << N;  // fp32 accumulation of exact products
        EXPECT_LE(rel_rms(yb, ref), bf16_tolerance(ref)) << "T=" << T << " K=" << K << " N=" << N;
    }
    cublasDestroy(h);
}

// The fused GEMVs (prologue RMSNorm / SiLU / SiLU(gate) * up) against the unfused ops followed by
// cuda::gemm, for T <= 4 (fused) and T > 4 or unaligned strides (the fallback path).
TEST(CudaGemm, FusedProloguesMatchUnfusedOps) {
    JET_SKIP_WITHOUT_CUDA();
    cublasHandle_t h = nullptr;
    ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    const int cases[][3] = {{1, 1536, 1000}, {2, 200, 136}, {3, 384, 9000}, {4, 8960, 300},
                            {6, 200, 136}};
    for (const auto &tc : cases) {
        const int T = tc[0], K = tc[1], N = tc[2];
        for (int kind = 0; kind < 4; ++kind) {
            // pad 2: an fp32 row stride that is not 16-byte aligned (the unfused fallback).
            for (int pad = 0; pad <= 2; pad += 2) {
                if (pad && kind != 1) continue;
                const int ld = kind == 2 ? 2 * K : K + pad;
                const auto x = randn_bf16(size_t(T) * ld, 91 + T + K + kind, 2.0f);
                const auto nw = randn_bf16(size_t(K), 92 + K);
                const auto W = randn_bf16(size_t(N) * K, 93 + N);
                const auto y0 = randn_bf16(size_t(T) * N, 94);
                // kind 3 (gated per-head RMSNorm): heads of D values, gate G with row stride K + 4.
                const int D = K % 256 == 0 ? 256 : K % 128 == 0 ? 128 : 8, ldg = K + 4;
                const auto G = randn_bf16(size_t(T) * ldg, 95 + K, 2.0f);
                DevBuf<float> dG(G.size());
                upload(dG, G);
                DevBuf<float> dx(x.size()), dy(size_t(T) * N), dref(size_t(T) * N);
                DevBuf<bf16> dnw(nw.size()), dW(W.size()), dact(size_t(T) * K),
                    dact2(size_t(T) * K);
                upload(dx, x);
                upload(dnw, nw);
                upload(dW, W);
                upload(dy, y0);
                upload(dref, y0);
                const cudaStream_t s = nullptr;
                ASSERT_EQ(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
                if (kind == 0) {
                    JET_LAUNCH_OK(cuda::rmsnorm(dx.get(), dnw.get(), dact2.get(), T, K, 1e-6f, s));
                    JET_LAUNCH_OK(cuda::gemm_rmsnorm(h, dx.get(), dnw.get(), 1e-6f, dact.get(),
                                                     dW.get(), dy.get(), true, T, K, N, 1.0f));
                } else if (kind == 1) {
                    JET_LAUNCH_OK(cuda::silu_to_bf16(dx.get(), ld, dact2.get(), T, K, s));
                    JET_LAUNCH_OK(cuda::gemm_silu(h, dx.get(), ld, dact.get(), dW.get(), dy.get(),
                                                  true, T, K, N, 1.0f));
                } else if (kind == 3) {
                    JET_LAUNCH_OK(cuda::gated_rmsnorm(dx.get(), dG.get(), ldg, dnw.get(),
                                                      dact2.get(), T, K / D, D, 1e-5f, s));
                    JET_LAUNCH_OK(cuda::gemm_gated_rmsnorm(h, dx.get(), dG.get(), ldg, dnw.get(),
                                                           1e-5f, dact.get(), dW.get(), dy.get(),
                                                           true, T, K / D, D, N, 1.0f));
                } else {
                    JET_LAUNCH_OK(cuda::silu_mul(dx.get(), dact2.get(), T, K, s));
                    JET_LAUNCH_OK(cuda::gemm_silu_mul(h, dx.get(), dact.get(), dW.get(), dy.get(),
                                                      true, T, K, N, 1.0f));
                }
                JET_LAUNCH_OK(cuda::gemm(h, dact2.get(), K, dW.get(), dref.get(), true, T, K, N,
                                         1.0f));
                const auto y = download(dy), ref = download(dref);
                std::vector<double> r(ref.begin(), ref.end());
                for (float v : y) ASSERT_TRUE(std::isfinite(v));
                // Same bf16 inputs up to a 1-ulp difference of the norm scale; fp32 sums in
                // another order.
                EXPECT_LE(rel_rms(y, r), 2e-3)
                    << "kind=" << kind << " T=" << T << " K=" << K << " N=" << N << " pad=" << pad;
            }
        }
    }
    cublasDestroy(h);
}

}  // namespace
}  // namespace jet::test
