// gemm.cu - y = x W^T: bf16 operands, fp32 accumulation. Few rows (decode, T <= 4): bandwidth-
// bound GEMV kernels; more rows: cuBLAS (CUBLAS_COMPUTE_32F), or for FP8 / int8 weights the
// weight-only tensor-core GEMM of gemm_wq.cu.
//
// The decode GEMV (gemv_rows_kernel): persistent blocks (as many as fit on the GPU at once) walk
// groups of R consecutive output rows; the threads split K into 16-byte chunks, and for each chunk
// every thread issues the R weight loads and reads the matching x chunk once for all R rows. The
// next chunk's (or the next group's) weight loads are issued before the current chunk's math, so
// the weight stream never waits for a group's block reduction. Its prologue can compute x on the
// fly from the fp32 value that the unfused path would first turn into bf16 (RMSNorm, SiLU,
// SiLU(gate) * up, the JetBlock's gated per-head RMSNorm), with the same fp32 math and the same
// rounding to bf16, once per block, which saves that kernel's launch and pass.
// Tall matrices with a plain or RMSNorm x (the LM head; MLP gate/up, JetBlock input projection)
// use the one-warp-per-row kernel (gemv_warp_kernel): small blocks at full occupancy, which
// stream the LM head at the copy bandwidth (and the others 0.5% faster than the rows kernel).
// Both are launched with Programmatic Dependent Launch (cuda/launch.h): a block loads its first
// weight chunks into registers before it waits for the previous kernel, so the weight stream
// starts while that kernel drains.
//
// Weight-only quantized W (FP8 e4m3fn or int8, issue 15): both kernels are templated on the
// weight type WT, so a 16-byte load carries 16 weights instead of 8 (the x side reads two 8-value
// chunks for it); the values convert to fp32 once per chunk and row and serve the T tokens. The
// scales multiply fp32 sums: per output channel once per row at the store, per group once per
// (row, 16-weight chunk) on the chunk's partial sum (a chunk never straddles two groups).
#include <algorithm>

#include <string>

#include <cuda_fp8.h>

#include "cuda/common.cuh"
#include "error.h"
#include "cuda/kernels.h"
#include "cuda/launch.h"

namespace jet::cuda {

namespace {

constexpr int kGemvMaxT = 4;
constexpr int kWarpRowsN = 65536;    // plain x and N >= this: gemv_warp_kernel (the LM head)
constexpr int kWarpRowsRms = 8192;   // RMSNorm x and N >= this: gemv_warp_kernel
constexpr int kGemvWarps = 8;      // gemv_warp_kernel: rows per block
constexpr int kUnroll = 4;         // gemv_warp_kernel: 16-byte loads in flight per lane
constexpr int kMaxThreads = 256;   // gemv_rows_kernel: threads per block, at most
constexpr int kMaxHeads = 64;      // kGatedRms: heads per row, at most

enum Prologue { kPlain = 0, kRms = 1, kSilu = 2, kSiluMul = 3, kGatedRms = 4 };
// Weight element types (template argument WT), as WeightType.
constexpr int kWBf16 = int(WeightType::BF16), kWF8 = int(WeightType::F8E4M3),
              kWI8 = int(WeightType::I8);
// Weights per 16-byte chunk.
template <int WT> constexpr int kElems = WT == kWBf16 ? 8 : 16;

struct GemvArgs {
    const bf16 *xb;    // kPlain: bf16 x, row stride ld
    const float *xf;   // other prologues: fp32 source, row stride ld
    const bf16 *nw;    // kRms: norm weight [K]; kGatedRms: [hd]
    int ld;
    int off;           // kSiluMul: column of `up` in xf (gate at 0)
    float eps;         // kRms, kGatedRms
    const float *gate; // kGatedRms: G fp32, row stride ldg
    int ldg;
    int hd;            // kGatedRms: values per head (K = heads * hd, hd % 8 == 0)
    const void *W;          // [N, K] of the kernel's WT
    const float *wscale;    // quantized W: [N, ng] scales
    int ng, group;          // quantized W: scales per row, K values per scale
    void *y;
    bool y_f32;
    int K, N;
    float beta;
};

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


// The 16 quantized weights of a chunk as fp32 (exact: e4m3 and int8 values fit fp32).
template <int WT>
__device__ __forceinline__ void unpack16(const uint4 &w, float (&f)[16]) {
    const uint32_t u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        if constexpr (WT == kWF8) {
            const __half2 lo = __half2(__nv_cvt_fp8x2_to_halfraw2(
                __nv_fp8x2_storage_t(u[i] & 0xffffu), __NV_E4M3));
            const __half2 hi = __half2(__nv_cvt_fp8x2_to_halfraw2(
                __nv_fp8x2_storage_t(u[i] >> 16), __NV_E4M3));
            const float2 a = __half22float2(lo), b = __half22float2(hi);
            f[4 * i] = a.x, f[4 * i + 1] = a.y, f[4 * i + 2] = b.x, f[4 * i + 3] = b.y;
        } else {
            // int8: 2^23 + (q ^ 0x80) built by a byte permute, minus 2^23 + 128.
            const uint32_t v = u[i] ^ 0x80808080u;
#pragma unroll
            for (int j = 0; j < 4; ++j)
                f[4 * i + j] = __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7540u + j)) -
                               8388736.0f;
        }
    }
}

// acc += sum of the 16 weights times the two x chunks (16 bf16).
__device__ __forceinline__ void fma16(float &acc, const float (&w)[16], const uint4 &x0,
                                      const uint4 &x1) {
    const __nv_bfloat162 *a2 = reinterpret_cast<const __nv_bfloat162 *>(&x0);
    const __nv_bfloat162 *b2 = reinterpret_cast<const __nv_bfloat162 *>(&x1);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 a = __bfloat1622float2(a2[i]), b = __bfloat1622float2(b2[i]);
        acc = fmaf(w[2 * i], a.x, acc);
        acc = fmaf(w[2 * i + 1], a.y, acc);
        acc = fmaf(w[8 + 2 * i], b.x, acc);
        acc = fmaf(w[8 + 2 * i + 1], b.y, acc);
    }
}

__device__ __forceinline__ uint4 pack8(const float (&v)[8]) {
    uint4 r;
    __nv_bfloat162 *p = reinterpret_cast<__nv_bfloat162 *>(&r);
#pragma unroll
    for (int i = 0; i < 4; ++i) p[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    return r;
}

__device__ __forceinline__ void load8(const float *p, float (&v)[8]) {
    const float4 a = *reinterpret_cast<const float4 *>(p);
    const float4 b = *reinterpret_cast<const float4 *>(p + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// x chunk c (8 values) of token t as bf16, after the prologue. scale: kRms the token's norm
// scale, kGatedRms the norm scale of the head holding the chunk.
template <int P>
__device__ __forceinline__ uint4 x_chunk(const GemvArgs &a, int t, int c, float scale) {
    if constexpr (P == kPlain) {
        return *reinterpret_cast<const uint4 *>(a.xb + int64_t(t) * a.ld + 8 * c);
    } else {
        float v[8];
        const float *row = a.xf + int64_t(t) * a.ld + 8 * c;
        load8(row, v);
        if constexpr (P == kRms) {
            const uint4 wv = __ldg(reinterpret_cast<const uint4 *>(a.nw) + c);
            const __nv_bfloat162 *w2 = reinterpret_cast<const __nv_bfloat162 *>(&wv);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float2 wf = __bfloat1622float2(w2[i]);
                v[2 * i] = v[2 * i] * scale * wf.x;
                v[2 * i + 1] = v[2 * i + 1] * scale * wf.y;
            }
        } else if constexpr (P == kSilu) {
#pragma unroll
            for (int i = 0; i < 8; ++i) v[i] = silu(v[i]);
        } else if constexpr (P == kGatedRms) {
            // y = RMSNorm_head(o) * w * silu(G), as gated_rmsnorm (rmsnorm.cu).
            const int i0 = (8 * c) % a.hd;
            const uint4 wv = __ldg(reinterpret_cast<const uint4 *>(a.nw + i0));
            const __nv_bfloat162 *w2 = reinterpret_cast<const __nv_bfloat162 *>(&wv);
            float gv[8];
            load8(a.gate + int64_t(t) * a.ldg + 8 * c, gv);
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const float2 wf = __bfloat1622float2(w2[i]);
                v[2 * i] = v[2 * i] * scale * wf.x * silu(gv[2 * i]);
                v[2 * i + 1] = v[2 * i + 1] * scale * wf.y * silu(gv[2 * i + 1]);
            }
        } else {
            float u[8];
            load8(row + a.off, u);
#pragma unroll
            for (int i = 0; i < 8; ++i) v[i] = silu(v[i]) * u[i];
        }
        return pack8(v);
    }
}

// The per-output-channel scale of row n (1 for bf16 W and per-group scales).
__device__ __forceinline__ float row_scale(const GemvArgs &a, int n) {
    return a.wscale != nullptr && a.ng == 1 ? __ldg(a.wscale + n) : 1.0f;
}

// The scale of row n's group holding weight chunk c (16 weights), per-group scales only.
__device__ __forceinline__ float group_scale(const GemvArgs &a, int n, int c) {
    return a.ng > 1 ? __ldg(a.wscale + int64_t(n) * a.ng + (16 * c) / a.group) : 1.0f;
}

__device__ __forceinline__ void store_y(const GemvArgs &a, int t, int n, float v) {
    const int64_t idx = int64_t(t) * a.N + n;
    if (a.y_f32) {
        float *yf = static_cast<float *>(a.y);
        yf[idx] = a.beta != 0.0f ? v + a.beta * yf[idx] : v;
    } else {
        bf16 *yb = static_cast<bf16 *>(a.y);
        yb[idx] = __float2bfloat16(a.beta != 0.0f ? v + a.beta * __bfloat162float(yb[idx]) : v);
    }
}

// blockDim.x: a multiple of 32, at most kMaxThreads. K % 8 == 0; W, x rows 16-byte aligned.
// A block walks the row groups blockIdx.x, blockIdx.x + gridDim.x, ... (R rows each). Its work
// is a sequence of steps, one per (group, pass of the threads over the K chunks), and the weight
// loads of step s + 1 are in flight while step s is computed - across group boundaries too, so
// a group's reduction does not stall the weight stream.
template <int T, int R, int P, int WT>
__global__ void __launch_bounds__(kMaxThreads) gemv_rows_kernel(const GemvArgs a) {
    constexpr int E = kElems<WT>, eb = WT == kWBf16 ? 2 : 1;  // weights, bytes per weight
    __shared__ float red[kMaxThreads / 32][T * R];
    __shared__ float scale_s[T][P == kGatedRms ? kMaxHeads : 1];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
    const int C = a.K / E, bd = blockDim.x;
    const int passes = (C + bd - 1) / bd;  // steps per group
    const int groups = (a.N + R - 1) / R;
    const int steps = (groups - int(blockIdx.x) + int(gridDim.x) - 1) / int(gridDim.x) * passes;

    // The weights of step s (zeros past the end).
    auto load = [&](int s, uint4(&w)[R]) {
        const int g = blockIdx.x + (s / passes) * gridDim.x;
        const int c = threadIdx.x + (s % passes) * bd;
        const bool ok = s < steps && c < C;
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const int n = min(g * R + r, a.N - 1);
            w[r] = ok ? __ldg(reinterpret_cast<const uint4 *>(static_cast<const char *>(a.W) +
                                                              int64_t(n) * a.K * eb) + c)
                      : make_uint4(0, 0, 0, 0);
        }
    };
    // Weights first (no kernel writes them), then wait for the kernel that produced x.
    uint4 wa[R], wb[R];
    load(0, wa);
    load(1, wb);
    pdl_wait();
    pdl_trigger();

    float scale[T];
#pragma unroll
    for (int t = 0; t < T; ++t) scale[t] = 1.0f;
    if constexpr (P == kRms) {
        // RMSNorm scale of each token's x (the whole row of K fp32 values).
        float ss[T];
#pragma unroll
        for (int t = 0; t < T; ++t) {
            ss[t] = 0.0f;
            const float4 *row = reinterpret_cast<const float4 *>(a.xf + int64_t(t) * a.ld);
            for (int i = threadIdx.x; i < a.K / 4; i += blockDim.x) {
                const float4 q = row[i];
                ss[t] += q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w;
            }
            ss[t] = warp_sum(ss[t]);
            if (lane == 0) red[warp][t] = ss[t];
        }
        __syncthreads();
        if (threadIdx.x < T) {
            float s = 0.0f;
            for (int w = 0; w < nwarps; ++w) s += red[w][threadIdx.x];
            scale_s[threadIdx.x][0] = rsqrtf(s / float(a.K) + a.eps);
        }
        __syncthreads();  // also: every read of red[] is done before it is reused below
#pragma unroll
        for (int t = 0; t < T; ++t) scale[t] = scale_s[t][0];
    } else if constexpr (P == kGatedRms) {
        // Per-head RMSNorm scales of each token (a warp per head).
        const int H = a.K / a.hd;
        for (int j = warp; j < T * H; j += nwarps) {
            const int t = j / H, hh = j % H;
            const float *row = a.xf + int64_t(t) * a.ld + int64_t(hh) * a.hd;
            float ss = 0.0f;
            for (int i = lane; i < a.hd; i += 32) ss += row[i] * row[i];
            ss = warp_sum(ss);
            if (lane == 0) scale_s[t][hh] = rsqrtf(ss / float(a.hd) + a.eps);
        }
        __syncthreads();
    }

    float acc[T][R];
#pragma unroll
    for (int t = 0; t < T; ++t)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[t][r] = 0.0f;

    auto compute = [&](int s, const uint4(&w)[R]) {
        const int c = threadIdx.x + (s % passes) * bd;
        if (c >= C) return;
        if constexpr (WT == kWBf16) {
#pragma unroll
            for (int t = 0; t < T; ++t) {
                const float sc = P == kGatedRms ? scale_s[t][(8 * c) / a.hd] : scale[t];
                const uint4 xv = x_chunk<P>(a, t, c, sc);
#pragma unroll
                for (int r = 0; r < R; ++r) fma8(acc[t][r], w[r], xv);
            }
        } else {
            // x chunks 2c, 2c + 1 of every token, then each row's 16 weights once for all T.
            uint4 xv[T][2];
#pragma unroll
            for (int t = 0; t < T; ++t)
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const int cx = 2 * c + j;
                    const float sc = P == kGatedRms ? scale_s[t][(8 * cx) / a.hd] : scale[t];
                    xv[t][j] = x_chunk<P>(a, t, cx, sc);
                }
            const int n0 = (blockIdx.x + (s / passes) * gridDim.x) * R;
#pragma unroll
            for (int r = 0; r < R; ++r) {
                float wf[16];
                unpack16<WT>(w[r], wf);
                const float gs = group_scale(a, min(n0 + r, a.N - 1), c);
#pragma unroll
                for (int t = 0; t < T; ++t) {
                    float p = 0.0f;
                    fma16(p, wf, xv[t][0], xv[t][1]);
                    acc[t][r] = fmaf(p, gs, acc[t][r]);
                }
            }
        }
    };
    // After the last pass over a group: reduce its rows across the block and store them.
    auto finish = [&](int s) {
        if (s % passes != passes - 1) return;  // uniform across the block
        const int n0 = (blockIdx.x + (s / passes) * gridDim.x) * R;
#pragma unroll
        for (int t = 0; t < T; ++t)
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const float v = warp_sum(acc[t][r]);
                if (lane == 0) red[warp][t * R + r] = v;
                acc[t][r] = 0.0f;
            }
        __syncthreads();
        if (threadIdx.x < T * R) {
            const int t = threadIdx.x / R, n = n0 + threadIdx.x % R;
            float v = 0.0f;
            for (int w = 0; w < nwarps; ++w) v += red[w][threadIdx.x];
            if (n < a.N) store_y(a, t, n, v * row_scale(a, n));
        }
        __syncthreads();
    };
    for (int s = 0; s < steps; s += 2) {
        compute(s, wa);
        load(s + 2, wa);
        finish(s);
        if (s + 1 < steps) {
            compute(s + 1, wb);
            load(s + 3, wb);
            finish(s + 1);
        }
    }
}

// One warp per output row n; 8 rows per block. P: kPlain or kRms (the norm of x computed by the
// whole block first).
template <int T, int P, int WT>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_warp_kernel(const GemvArgs a) {
    constexpr int E = kElems<WT>, eb = WT == kWBf16 ? 2 : 1;  // weights, bytes per weight
    static_assert(P == kPlain || P == kRms, "gemv_warp_kernel: plain or RMSNorm x");
    __shared__ float red[kGemvWarps][T];
    __shared__ float scale_s[T];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int n = blockIdx.x * kGemvWarps + warp;
    const bool active = n < a.N;
    const uint4 *wr = reinterpret_cast<const uint4 *>(static_cast<const char *>(a.W) +
                                                      int64_t(active ? n : 0) * a.K * eb);
    const int k8 = a.K / E;  // weight chunks per row
    // The first kUnroll weight loads before waiting for x (see gemv_rows_kernel).
    uint4 w[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
        w[u] = active && lane + 32 * u < k8 ? __ldg(wr + lane + 32 * u) : make_uint4(0, 0, 0, 0);
    pdl_wait();
    pdl_trigger();
    float scale[T];
#pragma unroll
    for (int t = 0; t < T; ++t) scale[t] = 1.0f;
    if constexpr (P == kRms) {
#pragma unroll
        for (int t = 0; t < T; ++t) {
            float ss = 0.0f;
            const float4 *row = reinterpret_cast<const float4 *>(a.xf + int64_t(t) * a.ld);
            for (int i = threadIdx.x; i < a.K / 4; i += blockDim.x) {
                const float4 q = row[i];
                ss += q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w;
            }
            ss = warp_sum(ss);
            if (lane == 0) red[warp][t] = ss;
        }
        __syncthreads();
        if (threadIdx.x < T) {
            float s = 0.0f;
            for (int j = 0; j < kGemvWarps; ++j) s += red[j][threadIdx.x];
            scale_s[threadIdx.x] = rsqrtf(s / float(a.K) + a.eps);
        }
        __syncthreads();
#pragma unroll
        for (int t = 0; t < T; ++t) scale[t] = scale_s[t];
    }
    if (!active) return;
    float acc[T];
#pragma unroll
    for (int t = 0; t < T; ++t) acc[t] = 0.0f;
    // acc[t] += weight chunk c (loaded in wv) times token t's x.
    auto chunk = [&](const uint4 &wv, int c) {
        if constexpr (WT == kWBf16) {
#pragma unroll
            for (int t = 0; t < T; ++t) fma8(acc[t], wv, x_chunk<P>(a, t, c, scale[t]));
        } else {
            float wf[16];
            unpack16<WT>(wv, wf);
            const float gs = group_scale(a, n, c);
#pragma unroll
            for (int t = 0; t < T; ++t) {
                float p = 0.0f;
                fma16(p, wf, x_chunk<P>(a, t, 2 * c, scale[t]), x_chunk<P>(a, t, 2 * c + 1, scale[t]));
                acc[t] = fmaf(p, gs, acc[t]);
            }
        }
    };
    int i = lane;
    bool have = true;  // w[] holds the chunks from i
    for (; i + 32 * (kUnroll - 1) < k8; i += 32 * kUnroll) {
        if (!have) {
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) w[u] = __ldg(wr + i + 32 * u);
        }
        have = false;
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) chunk(w[u], i + 32 * u);
    }
    // At most kUnroll - 1 chunks are left.
#pragma unroll
    for (int u = 0; u < kUnroll - 1; ++u) {
        const int ii = i + 32 * u;
        if (ii < k8) {
            chunk(have ? w[u] : __ldg(wr + ii), ii);
        }
    }
#pragma unroll
    for (int t = 0; t < T; ++t) {
        const float v = warp_sum(acc[t]);
        if (lane == 0) store_y(a, t, n, v * row_scale(a, n));
    }
}

// Threads per block: the 16-byte chunks of a row spread evenly, rounded up to whole warps.
int threads_for(int K, int E) {
    const int C = K / E;
    const int per = (C + kMaxThreads - 1) / kMaxThreads;
    const int t = (C + per - 1) / per;
    return (t + 31) / 32 * 32;
}

// Enough blocks to fill the GPU once (occupancy), with the row groups spread evenly over them.
// (Measured on the H100, batch-1 decode of the 2B: one group per block, or half the resident
// blocks, are 5% and 19% slower; staging x in shared memory and 4-row groups are slower too.)
template <int T, int R, int P, int WT>
void launch_rows_r(const GemvArgs &a, cudaStream_t s) {
    const int th = threads_for(a.K, kElems<WT>), groups = (a.N + R - 1) / R;
    auto *kernel = gemv_rows_kernel<T, R, P, WT>;
    const int resident = resident_blocks("gemv", kernel, th);
    const int per_block = (groups + resident - 1) / resident;
    launch_pdl("gemv", kernel, dim3((groups + per_block - 1) / per_block), dim3(th), 0, s, a);
}

template <int T, int P, int WT>
void launch_rows(const GemvArgs &a, cudaStream_t s) {
    // Quantized W: 4-row groups always (a chunk is already 16 weights; 8 rows of them need ~250
    // registers a thread, one block per SM - to be measured on the H100).
    if constexpr (WT == kWBf16) {
        if (a.N >= 8192) {
            launch_rows_r<T, 8, P, WT>(a, s);
            return;
        }
    }
    launch_rows_r<T, 4, P, WT>(a, s);
}

template <int T, int P, int WT>
void launch_warp(const GemvArgs &a, cudaStream_t s) {
    launch_pdl("gemv", gemv_warp_kernel<T, P, WT>, dim3((a.N + kGemvWarps - 1) / kGemvWarps),
               dim3(kGemvWarps * 32), 0, s, a);
}

template <int P, int WT>
void launch_gemv_t(const GemvArgs &a, int T, cudaStream_t s) {
    if constexpr (P == kPlain || P == kRms) {
        if (a.N >= (P == kPlain ? kWarpRowsN : kWarpRowsRms)) {
            switch (T) {
            case 1: launch_warp<1, P, WT>(a, s); return;
            case 2: launch_warp<2, P, WT>(a, s); return;
            case 3: launch_warp<3, P, WT>(a, s); return;
            default: launch_warp<4, P, WT>(a, s); return;
            }
        }
    }
    switch (T) {
    case 1: launch_rows<1, P, WT>(a, s); return;
    case 2: launch_rows<2, P, WT>(a, s); return;
    case 3: launch_rows<3, P, WT>(a, s); return;
    default: launch_rows<4, P, WT>(a, s); return;
    }
}

template <int P>
void launch_gemv(const GemvArgs &a, WeightType wt, int T, cudaStream_t s) {
    switch (wt) {
    case WeightType::F8E4M3: launch_gemv_t<P, kWF8>(a, T, s); return;
    case WeightType::I8: launch_gemv_t<P, kWI8>(a, T, s); return;
    default: launch_gemv_t<P, kWBf16>(a, T, s); return;
    }
}


// Whether quantized W's scales are usable by the kernels: K % 16 == 0 and a group of a multiple
// of 16 dividing K (a 16-weight chunk lies in one group). Throws for what no path serves.
void check_quant(const WeightRef &W, int K) {
    if (!W.quantized()) return;
    const int g = W.group > 0 ? W.group : K;
    if (W.scale == nullptr || K % 16 != 0 || g % 16 != 0 || K % g != 0)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    std::string("gemm: quantized weight needs scales, K % 16 == 0 and a group of a "
                    "multiple of 16 dividing K (K=") + std::to_string(K) + ", group=" +
                        std::to_string(g) + ")");
}

// The GEMV serves T <= 4 with K % 8 == 0 (16 for quantized W) and 16-byte aligned rows (x row
// stride in elements of x_bytes each).
bool gemv_fits(const void *x, int ldx, int x_bytes, const WeightRef &W, int T, int K) {
    return T <= kGemvMaxT && K % (W.quantized() ? 16 : 8) == 0 &&
           (int64_t(ldx) * x_bytes) % 16 == 0 && aligned16(x) && aligned16(W.ptr);
}

cudaStream_t stream_of(cublasHandle_t h) {
    cudaStream_t s = nullptr;
    check(cublasGetStream(h, &s), "cublasGetStream");
    return s;
}

GemvArgs make_args(const WeightRef &W, void *y, bool y_f32, int K, int N, float beta) {
    GemvArgs a{};
    a.W = W.ptr, a.y = y, a.y_f32 = y_f32, a.K = K, a.N = N, a.beta = beta;
    if (W.quantized()) {
        a.wscale = W.scale;
        a.group = W.group > 0 ? W.group : K;
        a.ng = K / a.group;
    }
    return a;
}

}  // namespace

void gemm(cublasHandle_t h, const bf16 *x, int ldx, const WeightRef &W, void *y, bool y_f32,
          int T, int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    check_quant(W, K);
    if (gemv_fits(x, ldx, 2, W, T, K)) {
        GemvArgs a = make_args(W, y, y_f32, K, N, beta);
        a.xb = x, a.ld = ldx;
        launch_gemv<kPlain>(a, W.type, T, stream_of(h));
        return;
    }
    if (W.quantized()) {
        gemm_wq(h, x, ldx, W, y, y_f32, T, K, N, beta);
        return;
    }
    const float alpha = 1.0f;
    // Row-major y[T,N] = x[T,K] W[N,K]^T is column-major y^T[N,T] = op_T(W) x^T, with W seen as
    // a column-major [K, N] matrix (ld K) and x^T a column-major [K, T] one (ld ldx).
    check(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, T, K, &alpha, W.ptr, CUDA_R_16BF, K, x,
                       CUDA_R_16BF, ldx, &beta, y, y_f32 ? CUDA_R_32F : CUDA_R_16BF, N,
                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
}

void gemm_rmsnorm(cublasHandle_t h, const float *x, const bf16 *norm_w, float eps, bf16 *xn,
                  const WeightRef &W, void *y, bool y_f32, int T, int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    check_quant(W, K);
    if (gemv_fits(x, K, 4, W, T, K) && aligned16(norm_w)) {
        GemvArgs a = make_args(W, y, y_f32, K, N, beta);
        a.xf = x, a.ld = K, a.nw = norm_w, a.eps = eps;
        launch_gemv<kRms>(a, W.type, T, stream_of(h));
        return;
    }
    rmsnorm(x, norm_w, xn, T, K, eps, stream_of(h));
    gemm(h, xn, K, W, y, y_f32, T, K, N, beta);
}

void gemm_silu(cublasHandle_t h, const float *x, int ldx, bf16 *act, const WeightRef &W,
               void *y, bool y_f32, int T, int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    check_quant(W, K);
    if (gemv_fits(x, ldx, 4, W, T, K)) {
        GemvArgs a = make_args(W, y, y_f32, K, N, beta);
        a.xf = x, a.ld = ldx;
        launch_gemv<kSilu>(a, W.type, T, stream_of(h));
        return;
    }
    silu_to_bf16(x, ldx, act, T, K, stream_of(h));
    gemm(h, act, K, W, y, y_f32, T, K, N, beta);
}

void gemm_silu_mul(cublasHandle_t h, const float *gu, bf16 *act, const WeightRef &W,
                   void *y, bool y_f32, int T, int K, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    check_quant(W, K);
    if (gemv_fits(gu, 2 * K, 4, W, T, K)) {
        GemvArgs a = make_args(W, y, y_f32, K, N, beta);
        a.xf = gu, a.ld = 2 * K, a.off = K;
        launch_gemv<kSiluMul>(a, W.type, T, stream_of(h));
        return;
    }
    silu_mul(gu, act, T, K, stream_of(h));
    gemm(h, act, K, W, y, y_f32, T, K, N, beta);
}

void gemm_gated_rmsnorm(cublasHandle_t h, const float *o, const float *G, int ldg,
                        const bf16 *norm_w, float eps, bf16 *act, const WeightRef &W,
                        void *y, bool y_f32, int T, int H, int D, int N, float beta) {
    if (T <= 0 || N <= 0) return;
    const int K = H * D;
    check_quant(W, K);
    if (gemv_fits(o, K, 4, W, T, K) && D % 8 == 0 && H <= kMaxHeads && ldg % 4 == 0 &&
        aligned16(G) && aligned16(norm_w)) {
        GemvArgs a = make_args(W, y, y_f32, K, N, beta);
        a.xf = o, a.ld = K, a.nw = norm_w, a.eps = eps, a.gate = G, a.ldg = ldg, a.hd = D;
        launch_gemv<kGatedRms>(a, W.type, T, stream_of(h));
        return;
    }
    gated_rmsnorm(o, G, ldg, norm_w, act, T, H, D, eps, stream_of(h));
    gemm(h, act, K, W, y, y_f32, T, K, N, beta);
}

}  // namespace jet::cuda
