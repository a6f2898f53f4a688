// attention_decode.cu - flash-decoding: one query per sequence against a long KV cache.
// The cache of each (sequence, kv head) is split across blocks; a block streams every K/V row of
// its split once through shared memory (a cp.async pipeline) and scores it against all nh/nkv
// query heads of that kv head on tensor cores (the heads are the rows of an m16n8k16 MMA, so the
// GQA group costs no extra reads), with an online softmax per head. A second kernel combines the
// splits' partial (max, sum, unnormalised output) when there is more than one split.
#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"
#include "cuda/mma.cuh"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kTile = 16 * kWarps;  // cache rows per pipeline stage: 16 per warp
constexpr int kStages = 3;          // cp.async pipeline depth (2 tiles in flight while one is used)
constexpr int kMaxG = 16;           // query heads per kv head: the 16 rows of the MMA
constexpr int kMaxSplits = 256;
constexpr int kMinRowsPerSplit = 64;
constexpr int kBlocksPerSm = 2;  // split target

int splits_for(int L) {
    return std::max(1, std::min(kMaxSplits, (L + kMinRowsPerSplit - 1) / kMinRowsPerSplit));
}

template <int HD>
struct DecodeSmem {
    static constexpr int ld = HD + 8;  // bf16 row pitch: 16-byte shift per row, ldmatrix conflict-free
    static constexpr int tile_elems = kTile * ld;
    static constexpr size_t stages_bytes = size_t(kStages) * 2 * tile_elems * sizeof(bf16);
    static constexpr int mld = HD + 2;  // merge rows: HD outputs, max, sum (fp32)
    static constexpr size_t merge_bytes = size_t(kWarps) * 16 * mld * sizeof(float);
    static constexpr size_t bytes = stages_bytes > merge_bytes ? stages_bytes : merge_bytes;
};

// Partials: acc [B, nh, S, HD], ml [B, nh, S, 2] (running max in log2 units, sum); with S == 1
// the block writes the normalised output itself.
// One block = one split of one (sequence, kv head): the query heads of the kv head are the 16
// rows of an m16n8k16 MMA (rows >= G are zero), so S = Q K^T and O += P V run on tensor cores
// and each K/V row is read once for all G heads. K/V tiles of 64 rows stream through a 3-stage
// cp.async pipeline (two tiles in flight while the block works on a third); each warp owns 16
// rows of a tile with its own online softmax, and the 4 warps are merged at the end.
template <int HD>
__global__ void __launch_bounds__(kThreads)
    attn_decode_split_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                             const bf16 *__restrict__ v, const int32_t *__restrict__ qpos,
                             float *__restrict__ part_acc, float *__restrict__ part_ml,
                             bf16 *__restrict__ out, int L, int nh, int nkv, int window, int ring,
                             int S, float qscale, const int32_t *__restrict__ seqs) {
    using Sm = DecodeSmem<HD>;
    constexpr int ld = Sm::ld;
    constexpr int KS = HD / 16;  // k-steps of Q K^T
    extern __shared__ __align__(16) unsigned char smem_raw[];
    bf16 *sm = reinterpret_cast<bf16 *>(smem_raw);
    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int G = nh / nkv;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
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
    const int ntiles = r1 > r0 ? (r1 - r0 + kTile - 1) / kTile : 0;

    const int64_t row_stride = int64_t(nkv) * HD;
    const int64_t sb = seqs ? seqs[b] : b;  // the cache of row b's sequence
    const bf16 *kb = k + sb * L * row_stride + kvh * HD;
    const bf16 *vb = v + sb * L * row_stride + kvh * HD;
    auto visible = [&](int r) {
        if (r >= r1) return false;
        if (!ring) return true;
        const int pos = p - ((p - r) % L + L) % L;  // newest position <= p in row r
        return pos >= 0 && !(window > 0 && p - pos >= window);
    };
    // Tile t into stage t % kStages; rows that are not visible are zero-filled (never read from
    // the cache, so an unwritten row cannot put a NaN into P V).
    auto load = [&](int t) {
        if (t < ntiles) {
            bf16 *ks = sm + (t % kStages) * 2 * Sm::tile_elems;
            bf16 *vs = ks + Sm::tile_elems;
            constexpr int vecs = HD / 8;
            for (int i = threadIdx.x; i < kTile * vecs; i += kThreads) {
                const int rr = i / vecs, c = (i % vecs) * 8;
                const int r = r0 + t * kTile + rr;
                const bool ok = visible(r);
                const int64_t off = ok ? int64_t(r) * row_stride + c : 0;
                cp_async16(ks + rr * ld + c, kb + off, ok);
                cp_async16(vs + rr * ld + c, vb + off, ok);
            }
        }
        cp_async_commit();  // an empty group keeps the wait counts uniform
    };
#pragma unroll
    for (int t = 0; t < kStages - 1; ++t) load(t);

    // Q as the MMA's A operand: rows lane/4 and lane/4 + 8 are query heads (zero beyond G).
    const int g0 = lane / 4, g1 = g0 + 8, qc = (lane % 4) * 2;
    unsigned qa[KS][4];
    {
        const bf16 *q0 = q + (int64_t(b) * nh + kvh * G + g0) * HD + qc;
        const bf16 *q1 = q + (int64_t(b) * nh + kvh * G + g1) * HD + qc;
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
            qa[ks][0] = g0 < G ? *reinterpret_cast<const unsigned *>(q0 + ks * 16) : 0u;
            qa[ks][1] = g1 < G ? *reinterpret_cast<const unsigned *>(q1 + ks * 16) : 0u;
            qa[ks][2] = g0 < G ? *reinterpret_cast<const unsigned *>(q0 + ks * 16 + 8) : 0u;
            qa[ks][3] = g1 < G ? *reinterpret_cast<const unsigned *>(q1 + ks * 16 + 8) : 0u;
        }
    }

    float o[HD / 8][4];
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;  // rows g0, g1 (this thread's part)
    const int mi = lane / 8;  // which 8x8 matrix this lane addresses in ldmatrix.x4

    for (int t = 0; t < ntiles; ++t) {
        cp_async_wait<kStages - 2>();
        __syncthreads();       // tile t landed for every thread; tile t - 1's stage is free
        load(t + kStages - 1);  // into the stage read at t - 1
        const bf16 *ks = sm + (t % kStages) * 2 * Sm::tile_elems + warp * 16 * ld;
        const bf16 *vs = ks + Sm::tile_elems;

        float sc[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            unsigned bk[4];  // rows 0-7 (dims +0, +8), rows 8-15 (dims +0, +8) of the warp's 16
            ldmatrix_x4(bk, ks + ((mi >> 1) * 8 + lane % 8) * ld + kk * 16 + (mi & 1) * 8);
            mma_bf16(sc[0], qa[kk], bk[0], bk[1]);
            mma_bf16(sc[1], qa[kk], bk[2], bk[3]);
        }
        const int rbase = r0 + t * kTile + warp * 16 + (lane % 4) * 2;
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const bool ok = visible(rbase + nt * 8 + e);
                sc[nt][e] = ok ? sc[nt][e] * qscale : -INFINITY;
                sc[nt][2 + e] = ok ? sc[nt][2 + e] * qscale : -INFINITY;
                mx0 = fmaxf(mx0, sc[nt][e]);
                mx1 = fmaxf(mx1, sc[nt][2 + e]);
            }
        }
#pragma unroll
        for (int o2 = 1; o2 <= 2; o2 <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o2));
        }
        // Nothing visible yet: keep m = -inf, P = 0 (exp2(-inf - 0)), no rescale.
        const float a0 = mx0 == -INFINITY ? 1.0f : exp2f(m0 - mx0);
        const float a1 = mx1 == -INFINITY ? 1.0f : exp2f(m1 - mx1);
        const float c0 = mx0 == -INFINITY ? 0.0f : mx0, c1 = mx1 == -INFINITY ? 0.0f : mx1;
        float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                sc[nt][e] = exp2f(sc[nt][e] - c0);
                sc[nt][2 + e] = exp2f(sc[nt][2 + e] - c1);
                s0 += sc[nt][e];
                s1 += sc[nt][2 + e];
            }
        }
        l0 = l0 * a0 + s0;
        l1 = l1 * a1 + s1;
        m0 = mx0;
        m1 = mx1;
#pragma unroll
        for (int j = 0; j < HD / 8; ++j) {
            o[j][0] *= a0;
            o[j][1] *= a0;
            o[j][2] *= a1;
            o[j][3] *= a1;
        }
        // P (16 heads x 16 rows, bf16) is the A operand as it stands in the accumulators.
        const unsigned pa[4] = {pack_bf16(sc[0][0], sc[0][1]), pack_bf16(sc[0][2], sc[0][3]),
                                pack_bf16(sc[1][0], sc[1][1]), pack_bf16(sc[1][2], sc[1][3])};
#pragma unroll
        for (int j = 0; j < HD / 8; j += 2) {
            unsigned bv[4];  // rows 0-7 / 8-15 of dims j*8.., then of dims (j+1)*8..
            ldmatrix_x4_trans(bv, vs + ((mi & 1) * 8 + lane % 8) * ld + (j + (mi >> 1)) * 8);
            mma_bf16(o[j], pa, bv[0], bv[1]);
            mma_bf16(o[j + 1], pa, bv[2], bv[3]);
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // the stages are free: reuse them for the merge

#pragma unroll
    for (int o2 = 1; o2 <= 2; o2 <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, o2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, o2);
    }
    constexpr int mld = Sm::mld;
    float *mg = reinterpret_cast<float *>(smem_raw);  // [kWarps][16][mld]
    float *mw = mg + warp * 16 * mld;
    if (lane % 4 == 0) {
        mw[g0 * mld + HD] = m0;
        mw[g0 * mld + HD + 1] = l0;
        mw[g1 * mld + HD] = m1;
        mw[g1 * mld + HD + 1] = l1;
    }
#pragma unroll
    for (int j = 0; j < HD / 8; ++j) {
        const int c = j * 8 + qc;
        mw[g0 * mld + c] = o[j][0];
        mw[g0 * mld + c + 1] = o[j][1];
        mw[g1 * mld + c] = o[j][2];
        mw[g1 * mld + c + 1] = o[j][3];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < G * HD; i += kThreads) {
        const int g = i / HD, d = i % HD;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) M = fmaxf(M, mg[(w * 16 + g) * mld + HD]);
        float a = 0.0f, s = 0.0f;
        if (M != -INFINITY) {
#pragma unroll
            for (int w = 0; w < kWarps; ++w) {
                const float wt = exp2f(mg[(w * 16 + g) * mld + HD] - M);
                a += wt * mg[(w * 16 + g) * mld + d];
                s += wt * mg[(w * 16 + g) * mld + HD + 1];
            }
        }
        const int64_t head = int64_t(b) * nh + kvh * G + g;
        if (S == 1) {
            out[head * HD + d] = __float2bfloat16(s > 0.0f ? a / s : 0.0f);
        } else {
            const int64_t slot = head * S + split;
            part_acc[slot * HD + d] = a;
            if (d == 0) {
                part_ml[slot * 2] = M;
                part_ml[slot * 2 + 1] = s;
            }
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
    const int sms = sm_count("attention_decode");
    // About kBlocksPerSm blocks per SM, never fewer than kMinRowsPerSplit rows a split.
    const int want = std::max(1, (kBlocksPerSm * sms + B * nkv - 1) / (B * nkv));
    const int S = std::min(splits_for(L), want);
    const float qscale = kLog2e / std::sqrt(float(HD));
    const dim3 grid{unsigned(S), unsigned(nkv), unsigned(B)};
    const size_t smem = DecodeSmem<HD>::bytes;
    check(cudaFuncSetAttribute(attn_decode_split_kernel<HD>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
          "attention_decode (shared memory size)");
    launch_pdl("attention_decode (split)", attn_decode_split_kernel<HD>, grid, dim3(kThreads), smem,
               s, q, k, v, qpos, part_acc, part_ml, out, L, nh, nkv, window, ring, S, qscale, seqs);
    if (S > 1)
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
                        " (hd 64 or 128, nh % nkv == 0, nh / nkv <= 16)");
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
