// gemm_test.cpp - cuda::gemm (cuBLAS, bf16 operands, fp32 accumulation): y = x W^T with a
// strided x, fp32 and bf16 outputs, and beta = 1 accumulation into the residual stream.
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
    const int cases[][3] = {{1, 200, 136}, {3, 200, 2500}, {4, 1536, 5000}, {2, 384, 9000},
                            {5, 200, 136}, {64, 200, 136}, {1, 203, 136}};
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

}  // namespace
}  // namespace jet::test
