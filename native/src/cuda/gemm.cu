// gemm.cu - y = x W^T: bf16 operands, fp32 accumulation. Few rows (decode, T <= 4): a
// bandwidth-bound GEMV kernel (each warp streams whole weight rows with 16-byte loads, several
// in flight, and serves all T tokens from one read of W); more rows: cuBLAS (CUBLAS_COMPUTE_32F).
#include "cuda/ops.h"

namespace jet::cuda {

namespace {

constexpr int kGemvMaxT = 4;
constexpr int kGemvWarps = 8;  // rows per block
constexpr int kUnroll = 4;     // 16-byte loads in flight per lane

__device__ __forceinline__ void fma8(float &acc, const uint4 &w, const uint4 &x) {
    const __nv_bfloat162 *w2 = reinterpret_cast<const __nv_bfloat162 *>(&w);
    const __nv_bfloat162 *x2 = reinterpret_cast<const __nv_bfloat162 *>(&x);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 a = __bfloat1622float2(w2[i]), b = __bfloat1622float2(x2[i]);
        acc = fmaf(a.x, b.x, acc);
        acc = fmaf(a.y, b.y, acc);
    }
}

// One warp per output column n (a row of W); K % 8 == 0, rows 16-byte aligned.
template <int T>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_kernel(const bf16 *__restrict__ x, int ldx, const bf16 *__restrict__ W,
                void *__restrict__ y, bool y_f32, int K, int N, float beta) {
    const int n = blockIdx.x * kGemvWarps + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (n >= N) return;
    const uint4 *wr = reinterpret_cast<const uint4 *>(W + int64_t(n) * K);
    const int k8 = K / 8;
    float acc[T];
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0.0f;
    int i = lane;
    for (; i + 32 * (kUnroll - 1) < k8; i += 32 * kUnroll) {
        uint4 w[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) w[u] = __ldg(wr + i + 32 * u);
#pragma unroll
        for (int t = 0; t < T; ++t) {
            const uint4 *xr = reinterpret_cast<const uint4 *>(x + int64_t(t) * ldx);
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) fma8(acc[t], w[u], xr[i + 32 * u]);
        }
    }
    for (; i < k8; i += 32) {
        const uint4 w = __ldg(wr + i);
#pragma unroll
        for (int t = 0; t < T; ++t)
            fma8(acc[t], w, reinterpret_cast<const uint4 *>(x + int64_t(t) * ldx)[i]);
    }
#pragma unroll
    for (int t = 0; t < T; ++t) {
        float v = acc[t];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0) {
            const int64_t idx = int64_t(t) * N + n;
            if (y_f32) {
                float *yf = static_cast<float *>(y);
                yf[idx] = beta != 0.0f ? v + beta * yf[idx] : v;
            } else {
                bf16 *yb = static_cast<bf16 *>(y);
                yb[idx] = __float2bfloat16(beta != 0.0f ? v + beta * __bfloat162float(yb[idx]) : v);
            }
        }
    }
}

template <int T>
void launch_gemv(const bf16 *x, int ldx, const bf16 *W, void *y, bool y_f32, int K, int N,
                 float beta, cudaStream_t s) {
    gemv_kernel<T><<<(N + kGemvWarps - 1) / kGemvWarps, kGemvWarps * 32, 0, s>>>(
        x, ldx, W, y, y_f32, K, N, beta);
    check_launch("gemv");
}

bool aligned16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

void gemm(cublasHandle_t h, const bf16 *x, int ldx, const bf16 *W, void *y, bool y_f32, int T,
          int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    if (T <= kGemvMaxT && K % 8 == 0 && ldx % 8 == 0 && aligned16(x) && aligned16(W)) {
        cudaStream_t s = nullptr;
        check(cublasGetStream(h, &s), "cublasGetStream");
        switch (T) {
        case 1: launch_gemv<1>(x, ldx, W, y, y_f32, K, N, beta, s); return;
        case 2: launch_gemv<2>(x, ldx, W, y, y_f32, K, N, beta, s); return;
        case 3: launch_gemv<3>(x, ldx, W, y, y_f32, K, N, beta, s); return;
        default: launch_gemv<4>(x, ldx, W, y, y_f32, K, N, beta, s); return;
        }
    }
    const float alpha = 1.0f;
    // Row-major y[T,N] = x[T,K] W[N,K]^T is column-major y^T[N,T] = op_T(W) x^T, with W seen as
    // a column-major [K, N] matrix (ld K) and x^T a column-major [K, T] one (ld ldx).
    check(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, W, CUDA_R_16BF, K, x,
                       CUDA_R_16BF, ldx, &beta, y, y_f32 ? CUDA_R_32F : CUDA_R_16BF, N,
                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
}

}  // namespace jet::cuda
