// gemm_wq.cu - the weight-only quantized GEMM for T > 4 (prefill chunks, batched decode):
// y[T, N] = x[T, K] dequant(W)[N, K]^T (+ beta * y), x bf16, W FP8 e4m3fn or int8 with fp32
// scales per (row, group of K values), fp32 accumulation on bf16 tensor cores.
//
// Block tile: 64 tokens x 64 output rows x 32 K, 4 warps side by side along N (each 64 tokens x
// 16 rows: 4 x 2 mma.sync m16n8k16 per 16 K). x and W tiles stream through a 3-stage cp.async
// ring in shared memory (W as its 1-byte values: half the bytes of bf16). Each warp converts the
// W values of its own 16 rows to bf16 while it builds its B fragments - exactly (e4m3 and int8
// values are bf16 values), and every W value once per block. The mma accumulates a group's K
// range into `part`; at the group's end the fp32 partial sums are multiplied by the group's scale
// and added to `acc` (per output channel: once, at the end of K).
// Split-K: when the tiles alone would not fill the GPU (the 2B's o_proj / down_proj at batched
// decode: N = 1536, 48 blocks, K up to 8960) and y is fp32, blockIdx.z takes a range of whole
// groups of K and adds its sum to y with atomicAdd (y zeroed first for beta = 0). The order of
// those fp32 additions varies from run to run (last-bit differences).
//
// From kWqDequantT tokens on (prefill: compute-bound, where cuBLAS's Hopper GEMM beats mma.sync)
// and for shapes the kernel does not serve, W is dequantized to a bf16 scratch (stream-ordered
// cudaMallocAsync, which graph capture records too) and cuBLAS runs the bf16 GEMM: one extra
// pass over 3 bytes per weight, small next to a T >= 1024 GEMM.
#include <algorithm>
#include <string>

#include <cuda_fp8.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"
#include "cuda/mma.cuh"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kWqDequantT = 1024;  // T from which W is dequantized and cuBLAS runs (to measure)
constexpr int kBM = 64, kBN = 64, kBK = 32, kStages = 3, kThreads = 128;
constexpr int kLdA = kBK + 8;   // bf16 per x row in shared memory (80 bytes: no bank conflicts)
constexpr int kLdB = kBK + 16;  // bytes per W row in shared memory (48 bytes: no bank conflicts)

struct WqArgs {
    const bf16 *x;
    int ldx;
    const uint8_t *W;      // [N, K] bytes
    const float *scale;    // [N, ng]
    int ng, group;
    void *y;
    bool y_f32;
    int T, K, N;
    float beta;
    int kt_split;  // K tiles per blockIdx.z (split-K; all of them without a split)
    bool atomic;   // split-K: atomicAdd into fp32 y
};

// Two adjacent weight bytes (k, k + 1 of one row) as a bf16x2 register (low half: k).
template <int WT>
__device__ __forceinline__ uint32_t w2_to_bf16x2(uint16_t v) {
    float2 f;
    if constexpr (WT == int(WeightType::F8E4M3)) {
        f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(__nv_fp8x2_storage_t(v), __NV_E4M3)));
    } else {
        f.x = float(int8_t(v & 0xff));
        f.y = float(int8_t(v >> 8));
    }
    const __nv_bfloat162 b = __floats2bfloat162_rn(f.x, f.y);
    return *reinterpret_cast<const uint32_t *>(&b);
}

// Requires: K % 16 == 0, group % kBK == 0 or group == K, x rows and W 16-byte aligned.
template <int WT>
__global__ void __launch_bounds__(kThreads) gemm_wq_kernel(const WqArgs a) {
    __shared__ __align__(16) bf16 xs[kStages][kBM][kLdA];
    __shared__ __align__(16) uint8_t ws[kStages][kBN][kLdB];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int gid = lane / 4, tig = lane % 4;
    const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
    const int kt0 = blockIdx.z * a.kt_split;
    const int kt1 = min((a.K + kBK - 1) / kBK, kt0 + a.kt_split);
    const int ktiles = kt1 - kt0;  // this block's K tiles: kt0 + [0, ktiles)

    // Stage `st` <- K tile kt: x 64 rows x 64 bytes (2 chunks a thread), W 64 rows x 32 bytes
    // (1 chunk a thread). Rows past T / N and chunks past K are zero-filled.
    auto load = [&](int kt, int st) {
        const int k0 = (kt0 + kt) * kBK;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int idx = threadIdx.x + i * kThreads;  // 0..255: row idx / 4, chunk idx % 4
            const int r = idx / 4, c = idx % 4, t = m0 + r, k = k0 + 8 * c;
            const bool ok = t < a.T && k < a.K;
            cp_async16(&xs[st][r][8 * c], ok ? a.x + int64_t(t) * a.ldx + k : a.x, ok);
        }
        {
            const int r = threadIdx.x / 2, c = threadIdx.x % 2, n = n0 + r, k = k0 + 16 * c;
            const bool ok = n < a.N && k < a.K;
            cp_async16(&ws[st][r][16 * c], ok ? a.W + int64_t(n) * a.K + k : a.W, ok);
        }
    };

    pdl_wait();
    pdl_trigger();
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < ktiles) load(s, s);
        cp_async_commit();
    }

    float acc[4][2][4], part[4][2][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = part[i][j][e] = 0.0f;

    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait<kStages - 2>();
        __syncthreads();  // tile kt visible to all; tile kt - 1's stage free for reuse
        if (kt + kStages - 1 < ktiles) load(kt + kStages - 1, (kt + kStages - 1) % kStages);
        cp_async_commit();
        const int st = kt % kStages;
#pragma unroll
        for (int kk = 0; kk < kBK; kk += 16) {
            // B fragments of the warp's two 8-row n tiles: rows gid, k pairs tig*2 and tig*2 + 8.
            uint32_t b[2][2];
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const uint8_t *row = &ws[st][warp * 16 + j * 8 + gid][kk + 2 * tig];
                b[j][0] = w2_to_bf16x2<WT>(*reinterpret_cast<const uint16_t *>(row));
                b[j][1] = w2_to_bf16x2<WT>(*reinterpret_cast<const uint16_t *>(row + 8));
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                uint32_t af[4];
                ldmatrix_x4(af, &xs[st][i * 16 + lane % 16][kk + (lane / 16) * 8]);
#pragma unroll
                for (int j = 0; j < 2; ++j) mma_bf16(part[i][j], af, b[j][0], b[j][1]);
            }
        }
        // The end of a group (or of K): scale the partial sums into acc.
        const int kend = (kt0 + kt + 1) * kBK;
        if (kend % a.group == 0 || kt == ktiles - 1) {
            const int g = (kt0 + kt) * kBK / a.group;
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                float sc[2];
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int n = n0 + warp * 16 + j * 8 + 2 * tig + e;
                    sc[e] = n < a.N ? __ldg(a.scale + int64_t(n) * a.ng + g) : 0.0f;
                }
#pragma unroll
                for (int i = 0; i < 4; ++i)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        acc[i][j][e] = fmaf(part[i][j][e], sc[e % 2], acc[i][j][e]);
                        part[i][j][e] = 0.0f;
                    }
            }
        }
    }
    cp_async_wait<0>();

    // C fragment: rows gid / gid + 8 of the m tile, columns 2 * tig, 2 * tig + 1 of the n tile.
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int t = m0 + i * 16 + gid + (e / 2) * 8;
                const int n = n0 + warp * 16 + j * 8 + 2 * tig + e % 2;
                if (t >= a.T || n >= a.N) continue;
                const int64_t idx = int64_t(t) * a.N + n;
                const float v = acc[i][j][e];
                if (a.atomic) {
                    atomicAdd(static_cast<float *>(a.y) + idx, v);
                } else if (a.y_f32) {
                    float *yf = static_cast<float *>(a.y);
                    yf[idx] = a.beta != 0.0f ? v + a.beta * yf[idx] : v;
                } else {
                    bf16 *yb = static_cast<bf16 *>(a.y);
                    yb[idx] = __float2bfloat16(a.beta != 0.0f ? v + a.beta * __bfloat162float(yb[idx])
                                                              : v);
                }
            }
}

// Wd[n, k] = bf16(float(q[n, k]) * scale[n, k / group]); one thread per 8 weights (K % 8 == 0).
template <int WT>
__global__ void dequant_kernel(const uint8_t *q, const float *scale, int ng, int group, int K,
                               int64_t total8, bf16 *Wd) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total8) return;
    const int64_t e = i * 8;
    const int64_t n = e / K;
    const int k = int(e % K);
    const float s = __ldg(scale + n * ng + k / group);
    uint16_t h[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) h[j] = uint16_t(q[e + 2 * j] | (q[e + 2 * j + 1] << 8));
    uint4 out;
    __nv_bfloat162 *o = reinterpret_cast<__nv_bfloat162 *>(&out);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const uint32_t b = w2_to_bf16x2<WT>(h[j]);
        const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&b));
        o[j] = __floats2bfloat162_rn(f.x * s, f.y * s);
    }
    *reinterpret_cast<uint4 *>(Wd + e) = out;
}

cudaStream_t stream_of(cublasHandle_t h) {
    cudaStream_t s = nullptr;
    check(cublasGetStream(h, &s), "cublasGetStream");
    return s;
}

void dequant_gemm(cublasHandle_t h, const bf16 *x, int ldx, const WeightRef &W, int group,
                  void *y, bool y_f32, int T, int K, int N, float beta) {
    cudaStream_t s = stream_of(h);
    bf16 *Wd = nullptr;
    const size_t bytes = size_t(N) * size_t(K) * sizeof(bf16);
    check(cudaMallocAsync(reinterpret_cast<void **>(&Wd), bytes, s), "gemm_wq (cudaMallocAsync)");
    const int64_t total8 = int64_t(N) * K / 8;
    const int th = 256;
    const unsigned blocks = unsigned((total8 + th - 1) / th);
    const auto *q = static_cast<const uint8_t *>(W.ptr);
    if (W.type == WeightType::F8E4M3)
        dequant_kernel<int(WeightType::F8E4M3)><<<blocks, th, 0, s>>>(q, W.scale, K / group, group,
                                                                       K, total8, Wd);
    else
        dequant_kernel<int(WeightType::I8)><<<blocks, th, 0, s>>>(q, W.scale, K / group, group, K,
                                                                   total8, Wd);
    check_launch("gemm_wq (dequantize)");
    const float alpha = 1.0f;
    const cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, Wd,
                                           CUDA_R_16BF, K, x, CUDA_R_16BF, ldx, &beta, y,
                                           y_f32 ? CUDA_R_32F : CUDA_R_16BF, N,
                                           CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    cudaFreeAsync(Wd, s);
    check(st, "cublasGemmEx (gemm_wq)");
}

}  // namespace

void gemm_wq(cublasHandle_t h, const bf16 *x, int ldx, const WeightRef &W, void *y, bool y_f32,
             int T, int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    const int group = W.group > 0 ? W.group : K;
    if (!W.quantized() || W.scale == nullptr || K % 16 != 0 || group % 16 != 0 || K % group != 0)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    std::string("gemm_wq: quantized weight needs scales, K % 16 == 0 and a group of a "
                    "multiple of 16 dividing K (K=") + std::to_string(K) + ", group=" +
                        std::to_string(group) + ")");
    const bool fits = (group % kBK == 0 || group == K) && aligned16(x) && aligned16(W.ptr) &&
                      (int64_t(ldx) * 2) % 16 == 0;
    if (!fits || T >= kWqDequantT) {
        dequant_gemm(h, x, ldx, W, group, y, y_f32, T, K, N, beta);
        return;
    }
    WqArgs a{};
    a.x = x, a.ldx = ldx, a.W = static_cast<const uint8_t *>(W.ptr), a.scale = W.scale;
    a.ng = K / group, a.group = group, a.y = y, a.y_f32 = y_f32, a.T = T, a.K = K, a.N = N;
    a.beta = beta;
    const int ktiles = (K + kBK - 1) / kBK;
    a.kt_split = ktiles;
    dim3 grid((N + kBN - 1) / kBN, (T + kBM - 1) / kBM);
    // Split-K where the tiles fill less than the GPU: about two blocks per SM, ranges of whole
    // groups (per channel: of tiles), at least 8 tiles each.
    const int blocks = int(grid.x * grid.y), sms = sm_count("gemm_wq");
    if (y_f32 && (beta == 0.0f || beta == 1.0f) && blocks < sms) {
        const int unit = group == K ? 1 : group / kBK;  // tiles per split unit
        const int units = ktiles / unit;                 // whole when grouped (K % group == 0)
        const int want = std::min((2 * sms + blocks - 1) / blocks, std::max(1, units * unit / 8));
        if (want > 1) {
            a.kt_split = (units + want - 1) / want * unit;
            grid.z = unsigned((ktiles + a.kt_split - 1) / a.kt_split);
            a.atomic = grid.z > 1;
        }
    }
    if (a.atomic && beta == 0.0f)
        check(cudaMemsetAsync(y, 0, size_t(T) * size_t(N) * sizeof(float), stream_of(h)),
              "gemm_wq (cudaMemsetAsync)");
    if (W.type == WeightType::F8E4M3)
        launch_pdl("gemm_wq", gemm_wq_kernel<int(WeightType::F8E4M3)>, grid, dim3(kThreads), 0,
                   stream_of(h), a);
    else
        launch_pdl("gemm_wq", gemm_wq_kernel<int(WeightType::I8)>, grid, dim3(kThreads), 0,
                   stream_of(h), a);
}

}  // namespace jet::cuda
