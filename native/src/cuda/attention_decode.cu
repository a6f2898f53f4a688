// attention_decode.cu - flash-decoding: one query per sequence against a long KV cache.
// The cache of each (sequence, kv head) is split across blocks; a block loads every K/V row of
// its split once and scores it against all nh/nkv query heads of that kv head (GQA reuse), with
// a per-head online softmax in registers. A second kernel combines the splits' partial
// (max, sum, unnormalised output). Inside a block, each half-warp takes one row at a time:
// 16 lanes x (hd/16) dims, so a row is one coalesced 128/256-byte read, four rows in flight.
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kGroupsPerBlock = kThreads / 16;  // half-warps
constexpr int kMaxG = 8;                         // query heads per kv head
constexpr int kMaxSplits = 256;
constexpr int kMinRowsPerSplit = 64;
constexpr int kBlocksPerSm = 2;  // split target
constexpr int kUnroll = 4;  // rows in flight per half-warp

template <int N>
struct Vec;  // N bf16 loaded at once
template <>
struct Vec<8> {
    using T = uint4;
};
template <>
struct Vec<4> {
    using T = uint2;
};

template <int N>
__device__ __forceinline__ void unpack_bf16(const typename Vec<N>::T &raw, float (&out)[N]) {
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&raw);
#pragma unroll
    for (int i = 0; i < N / 2; ++i) {
        const float2 f = __bfloat1622float2(h[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

int splits_for(int L) {
    return std::max(1, std::min(kMaxSplits, (L + kMinRowsPerSplit - 1) / kMinRowsPerSplit));
}

// Partials: acc [B, nh, S, HD], ml [B, nh, S, 2] (running max in log2 units, sum).
// MaxG >= G = nh / nkv: the register arrays are sized for MaxG query heads.
template <int HD, int MaxG>
__global__ void __launch_bounds__(kThreads)
    attn_decode_split_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                             const bf16 *__restrict__ v, const int32_t *__restrict__ qpos,
                             float *__restrict__ part_acc, float *__restrict__ part_ml, int L,
                             int nh, int nkv, int window, int ring, int S, float qscale,
                             const int32_t *__restrict__ seqs) {
    constexpr int DPL = HD / 16;  // dims per lane
    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int G = nh / nkv;
    const int hg = threadIdx.x / 16, hl = threadIdx.x % 16;
    pdl_wait();
    pdl_trigger();
    const int p = qpos[b];

    // Rows [lo, hi) of the cache this sequence may see; linear caches skip the rest outright.
    int lo = 0, hi = L;
    if (!ring) {
        hi = min(L, p + 1);
        if (window > 0) lo = max(0, p - window + 1);
    }
    const int n = max(0, hi - lo);
    const int per = (n + S - 1) / S;
    const int r0 = lo + split * per, r1 = min(hi, r0 + per);

    float qf[MaxG][DPL];
#pragma unroll
    for (int g = 0; g < MaxG; ++g) {
        if (g < G) {
            unpack_bf16<DPL>(*reinterpret_cast<const typename Vec<DPL>::T *>(
                                 q + (int64_t(b) * nh + kvh * G + g) * HD + hl * DPL),
                             qf[g]);
#pragma unroll
            for (int d = 0; d < DPL; ++d) qf[g][d] *= qscale;
        }
    }
    float m[MaxG], l[MaxG], acc[MaxG][DPL];
#pragma unroll
    for (int g = 0; g < MaxG; ++g) {
        m[g] = -INFINITY;
        l[g] = 0.0f;
#pragma unroll
        for (int d = 0; d < DPL; ++d) acc[g][d] = 0.0f;
    }

    const int64_t row_stride = int64_t(nkv) * HD;
    const int64_t sb = seqs ? seqs[b] : b;  // the cache of row b's sequence
    const bf16 *kb = k + sb * L * row_stride + kvh * HD + hl * DPL;
    const bf16 *vb = v + sb * L * row_stride + kvh * HD + hl * DPL;
    // The two half-warps of a warp step together (the shuffles need the whole warp); a
    // half-warp whose row is out of range or hidden still shuffles but does not update. Each
    // step issues the loads of kUnroll rows before using any, to keep enough bytes in flight.
    using Raw = typename Vec<DPL>::T;
    const int warp_first = r0 + (hg & ~1);
    constexpr int kStep = kUnroll * kGroupsPerBlock;
    // Rows of one step: kUnroll rows per half-warp, issued together.
    auto load = [&](int base, Raw (&kraw)[kUnroll], Raw (&vraw)[kUnroll], bool (&valid)[kUnroll]) {
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            const int r = r0 + hg + base + u * kGroupsPerBlock;
            bool ok = r < r1;
            if (ok && ring) {
                const int pos = p - ((p - r) % L + L) % L;  // newest position <= p in row r
                ok = pos >= 0 && !(window > 0 && p - pos >= window);
            }
            valid[u] = ok;
            if (ok) {
                kraw[u] = *reinterpret_cast<const Raw *>(kb + r * row_stride);
                vraw[u] = *reinterpret_cast<const Raw *>(vb + r * row_stride);
            } else {
                kraw[u] = Raw{};
                vraw[u] = Raw{};
            }
        }
    };
    Raw kraw[kUnroll], vraw[kUnroll];
    bool valid[kUnroll];
    load(0, kraw, vraw, valid);
    for (int base = 0; warp_first + base < r1; base += kStep) {
        // The next step's rows are requested before this step's math (software pipelining).
        Raw knext[kUnroll], vnext[kUnroll];
        bool vnext_ok[kUnroll];
        load(base + kStep, knext, vnext, vnext_ok);
        // Per head: the kUnroll scores (independent shuffle chains), then one rescale.
#pragma unroll
        for (int g = 0; g < MaxG; ++g) {
            if (g < G) {
                float sc[kUnroll];
#pragma unroll
                for (int u = 0; u < kUnroll; ++u) {
                    float kf[DPL];
                    unpack_bf16<DPL>(kraw[u], kf);
                    sc[u] = 0.0f;
#pragma unroll
                    for (int d = 0; d < DPL; ++d) sc[u] = fmaf(qf[g][d], kf[d], sc[u]);
                }
#pragma unroll
                for (int o = 8; o > 0; o >>= 1) {
#pragma unroll
                    for (int u = 0; u < kUnroll; ++u) sc[u] += __shfl_xor_sync(0xffffffffu, sc[u], o, 16);
                }
                float mx = m[g];
#pragma unroll
                for (int u = 0; u < kUnroll; ++u)
                    if (valid[u]) mx = fmaxf(mx, sc[u]);
                if (mx == -INFINITY) continue;  // nothing visible yet (no shuffles below)
                const float alpha = exp2f(m[g] - mx);
                float pu[kUnroll], psum = 0.0f;
#pragma unroll
                for (int u = 0; u < kUnroll; ++u) {
                    pu[u] = valid[u] ? exp2f(sc[u] - mx) : 0.0f;
                    psum += pu[u];
                }
                l[g] = l[g] * alpha + psum;
#pragma unroll
                for (int d = 0; d < DPL; ++d) acc[g][d] *= alpha;
#pragma unroll
                for (int u = 0; u < kUnroll; ++u) {
                    float vf[DPL];
                    unpack_bf16<DPL>(vraw[u], vf);
#pragma unroll
                    for (int d = 0; d < DPL; ++d) acc[g][d] = fmaf(pu[u], vf[d], acc[g][d]);
                }
                m[g] = mx;
            }
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
            kraw[u] = knext[u];
            vraw[u] = vnext[u];
            valid[u] = vnext_ok[u];
        }
    }

    // Combine the half-warps of the block.
    __shared__ float sm_ml[kGroupsPerBlock][MaxG][2];
    __shared__ float sm_acc[kGroupsPerBlock][MaxG][HD];
#pragma unroll
    for (int g = 0; g < MaxG; ++g) {
        if (g < G) {
            if (hl == 0) {
                sm_ml[hg][g][0] = m[g];
                sm_ml[hg][g][1] = l[g];
            }
#pragma unroll
            for (int d = 0; d < DPL; ++d) sm_acc[hg][g][hl * DPL + d] = acc[g][d];
        }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < G * HD; i += kThreads) {
        const int g = i / HD, d = i % HD;
        float M = -INFINITY;
        for (int j = 0; j < kGroupsPerBlock; ++j) M = fmaxf(M, sm_ml[j][g][0]);
        float a = 0.0f, s = 0.0f;
        if (M != -INFINITY) {
            for (int j = 0; j < kGroupsPerBlock; ++j) {
                const float w = exp2f(sm_ml[j][g][0] - M);
                a += w * sm_acc[j][g][d];
                s += w * sm_ml[j][g][1];
            }
        }
        const int64_t slot = (int64_t(b) * nh + kvh * G + g) * S + split;
        part_acc[slot * HD + d] = a;
        if (d == 0) {
            part_ml[slot * 2] = M;
            part_ml[slot * 2 + 1] = s;
        }
    }
}

// One block per (sequence, head): the split weights 2^(m_s - M) are computed once into shared
// memory, then each thread (one output dim) sums its column over the splits.
template <int HD>
__global__ void __launch_bounds__(HD)
    attn_decode_combine_kernel(const float *__restrict__ part_acc, const float *__restrict__ part_ml,
                               bf16 *__restrict__ out, int nh, int S) {
    __shared__ float w[kMaxSplits];
    __shared__ float red[HD / 32];
    __shared__ float M_sh, L_sh;
    const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x, lane = d % 32, warp = d / 32;
    const int64_t base = (int64_t(b) * nh + h) * S;
    pdl_wait();
    pdl_trigger();
    float mloc = -INFINITY;
    for (int s = d; s < S; s += HD) mloc = fmaxf(mloc, part_ml[(base + s) * 2]);
    for (int o = 16; o > 0; o >>= 1) mloc = fmaxf(mloc, __shfl_xor_sync(0xffffffffu, mloc, o));
    if (lane == 0) red[warp] = mloc;
    __syncthreads();
    if (d == 0) {
        float M = -INFINITY;
        for (int i = 0; i < HD / 32; ++i) M = fmaxf(M, red[i]);
        M_sh = M;
    }
    __syncthreads();
    const float M = M_sh;
    float lloc = 0.0f;
    for (int s = d; s < S; s += HD) {
        const float ws = M == -INFINITY ? 0.0f : exp2f(part_ml[(base + s) * 2] - M);
        w[s] = ws;
        lloc += ws * part_ml[(base + s) * 2 + 1];
    }
    lloc = warp_sum(lloc);
    __syncthreads();  // every read of red (M) is done before it is reused
    if (lane == 0) red[warp] = lloc;
    __syncthreads();
    if (d == 0) {
        float Lsum = 0.0f;
        for (int i = 0; i < HD / 32; ++i) Lsum += red[i];
        L_sh = Lsum;
    }
    __syncthreads();
    float a = 0.0f;
#pragma unroll 8
    for (int s = 0; s < S; ++s) a = fmaf(w[s], part_acc[(base + s) * HD + d], a);
    const float Lsum = L_sh;
    out[(int64_t(b) * nh + h) * HD + d] = __float2bfloat16(Lsum > 0.0f ? a / Lsum : 0.0f);
}

template <int HD>
void launch(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos, bf16 *out, int B,
            int L, int nh, int nkv, int window, int ring, float *part_acc, float *part_ml,
            cudaStream_t s, const int32_t *seqs) {
    int dev = 0, sms = 0;
    check(cudaGetDevice(&dev), "attention_decode (cudaGetDevice)");
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev),
          "attention_decode (SM count)");
    // About kBlocksPerSm blocks per SM, never fewer than kMinRowsPerSplit rows a split.
    const int want = std::max(1, (kBlocksPerSm * sms + B * nkv - 1) / (B * nkv));
    const int S = std::min(splits_for(L), want);
    const float qscale = kLog2e / std::sqrt(float(HD));
    const dim3 grid{unsigned(S), unsigned(nkv), unsigned(B)};
    const int G = nh / nkv;
    auto *split = G <= 1   ? attn_decode_split_kernel<HD, 1>
                  : G <= 2 ? attn_decode_split_kernel<HD, 2>
                  : G <= 4 ? attn_decode_split_kernel<HD, 4>
                  : G <= 6 ? attn_decode_split_kernel<HD, 6>
                           : attn_decode_split_kernel<HD, kMaxG>;
    launch_pdl("attention_decode (split)", split, grid, dim3(kThreads), 0, s, q, k, v, qpos,
               part_acc, part_ml, L, nh, nkv, window, ring, S, qscale, seqs);
    launch_pdl("attention_decode (combine)", attn_decode_combine_kernel<HD>,
               dim3(unsigned(nh), unsigned(B)), dim3(HD), 0, s, part_acc, part_ml, out, nh, S);
}

}  // namespace

size_t attention_decode_workspace_bytes(int B, int L, int nh, int hd) {
    if (B < 1 || L < 1 || nh < 1 || hd < 1) return 0;
    const size_t slots = size_t(B) * nh * splits_for(L);
    const size_t acc = slots * hd * sizeof(float);
    return ((acc + 255) / 256) * 256 + slots * 2 * sizeof(float);
}

void attention_decode(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                      bf16 *out, int B, int L, int nh, int nkv, int hd, int window, int ring,
                      void *workspace, size_t workspace_bytes, cudaStream_t s,
                      const int32_t *seqs) {
    if (B < 1 || L < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || nh / nkv > kMaxG ||
        (hd != 64 && hd != 128) || window < 0 || B > 65535 || nkv > 65535)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "attention_decode: unsupported sizes B=" + std::to_string(B) +
                        " L=" + std::to_string(L) + " nh=" + std::to_string(nh) +
                        " nkv=" + std::to_string(nkv) + " hd=" + std::to_string(hd) +
                        " window=" + std::to_string(window) +
                        " (hd 64 or 128, nh % nkv == 0, nh / nkv <= 8)");
    if (!q || !k || !v || !qpos || !out || !workspace)
        throw Error(JET_ERR_INVALID_ARGUMENT, "attention_decode: null pointer");
    const size_t need = attention_decode_workspace_bytes(B, L, nh, hd);
    if (workspace_bytes < need)
        throw Error(JET_ERR_INVALID_ARGUMENT, "attention_decode: workspace of " +
                                                  std::to_string(workspace_bytes) +
                                                  " bytes, needs " + std::to_string(need));
    const size_t slots = size_t(B) * nh * splits_for(L);
    float *part_acc = static_cast<float *>(workspace);
    float *part_ml = reinterpret_cast<float *>(static_cast<char *>(workspace) +
                                               ((slots * hd * sizeof(float) + 255) / 256) * 256);
    if (hd == 128)
        launch<128>(q, k, v, qpos, out, B, L, nh, nkv, window, ring, part_acc, part_ml, s, seqs);
    else
        launch<64>(q, k, v, qpos, out, B, L, nh, nkv, window, ring, part_acc, part_ml, s, seqs);
}

}  // namespace jet::cuda
