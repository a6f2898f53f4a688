// gated_delta_chunk.cu - the chunked gated delta rule for prefill (docs/model.md section 5.6), chunk C = 64, in the
// WY/UT form, with bf16 tensor-core products (WMMA 16x16x16, fp32 accumulation; mma.sync on
// sm_80 / sm_90) and fp32 state, decay and triangular solve.
//
// Three kernels, split like fla's chunk_gated_delta_rule_fwd (so that the sequential part does
// only two small products a chunk):
//  1. gdc_prep: every (sequence, head, chunk) in parallel - everything that does not depend on
//     the state. gamma = cumsum(g); A = strict_tril(beta_i e^(gamma_i - gamma_j) k_i.k_j);
//     T = (I + A)^-1 (blockwise forward substitution, fp32); W = T diag(beta) diag(e^gamma) K
//     and U = T diag(beta) V (bf16, workspace; T diag(beta) rounded to bf16 once, V streaming
//     in by cp.async); Aqk = tril(e^(gamma_i - gamma_j) q_i.k_j) (bf16).
//  2. gdc_state: one block of 4..8 warps per (sequence, head, 16 or 32 state columns) walks the
//     chunks in order with its fp32 state tile in registers (WMMA accumulators), the next
//     chunks' W, K, U streaming in by cp.async: h_c = bf16(S) (stored), E = U - W S (stored over
//     U), S = e^gamma_C S + K^T diag(e^(gamma_C - gamma)) E. The state's columns are
//     independent, so splitting dV costs nothing but the re-reading of K, W (from L2).
//  3. gdc_out: every (sequence, head, chunk, 64 columns) in parallel:
//     O = s (diag(e^gamma) Q h_c + Aqk E).
// The products are those of the earlier single-scan kernel (bf16 operands S, E, W, Aqk, fp32
// accumulation and state), so the numerics are unchanged; h_c costs B H (T / 64) dK dV bf16 of
// workspace.
// A last, shorter chunk is padded with k = q = v = 0, g = 0, beta = 0, which changes nothing.
#include <mma.h>

#include <algorithm>
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "error.h"

namespace jet::cuda {

namespace {

using namespace nvcuda;

constexpr int kC = 64;         // chunk length
constexpr int kThreads = 256;  // prep: 8 warps
constexpr int kWarps = kThreads / 32;
constexpr int kMaxDK = 256;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragAc = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBc = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__host__ __device__ constexpr size_t align128(size_t x) { return (x + 127) / 128 * 128; }

// One warp's 16x16 tile c = A B, fp32: A = 16 rows x K (row-major, leading dimension lda), B = K
// rows x 16 (row-major, ldb), bf16 operands from shared memory; K % 16 == 0.
__device__ __forceinline__ void tile_product(FragC &c, const bf16 *A, int lda, const bf16 *B,
                                             int ldb, int K) {
    wmma::fill_fragment(c, 0.0f);
    for (int kk = 0; kk < K; kk += 16) {
        FragA a;
        FragB b;
        wmma::load_matrix_sync(a, A + kk, lda);
        wmma::load_matrix_sync(b, B + kk * ldb, ldb);
        wmma::mma_sync(c, a, b, c);
    }
}

// Copies rows [0, n) of a [rows x D] bf16 matrix with row stride `rs` (elements) into shared
// memory with row stride `ld`, zero-filling rows [n, kC). D % 8 == 0, 16-byte aligned rows.
__device__ __forceinline__ void load_rows(bf16 *dst, int ld, const bf16 *src, int64_t rs, int n,
                                          int D) {
    const int vecs = D / 8;
    for (int i = threadIdx.x; i < kC * vecs; i += blockDim.x) {
        const int r = i / vecs, c = (i % vecs) * 8;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (r < n) val = *reinterpret_cast<const uint4 *>(src + r * rs + c);
        *reinterpret_cast<uint4 *>(dst + r * ld + c) = val;
    }
}

__device__ __forceinline__ void cp_async16(void *dst, const void *src, bool pred) {
    const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(pred ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Async copy of rows [0, kC) of a matrix (D bf16 per row, row stride rs) into shared memory
// with row pitch ld; rows >= n are zero-filled.
__device__ __forceinline__ void load_rows_async(bf16 *dst, int ld, const bf16 *src, int64_t rs,
                                                int n, int D) {
    const int vecs = D / 8;
    for (int i = threadIdx.x; i < kC * vecs; i += blockDim.x) {
        const int r = i / vecs, c = (i % vecs) * 8;
        cp_async16(dst + r * ld + c, src + (r < n ? r * rs + c : 0), r < n);
    }
}

// Workspace layout, Tp = T rounded up to kC.
struct Workspace {
    bf16 *W;       // [B, H, Tp, dK]
    bf16 *U;       // [B, H, Tp, dV]: U from gdc_prep, replaced by E = U - W S in gdc_state
    bf16 *Aqk;     // [B, H, Tp, kC]
    float *gamma;  // [B, H, Tp]
    bf16 *Hs;      // [B, H, Tp / kC, dK, dV]: the state at the start of each chunk (bf16)
};

size_t carve(int B, int T, int H, int dK, int dV, void *base, Workspace *ws) {
    const size_t Tp = size_t((T + kC - 1) / kC) * kC, bh = size_t(B) * H;
    const size_t szW = align128(bh * Tp * dK * sizeof(bf16));
    const size_t szU = align128(bh * Tp * dV * sizeof(bf16));
    const size_t szA = align128(bh * Tp * kC * sizeof(bf16));
    const size_t szG = align128(bh * Tp * sizeof(float));
    const size_t szH = align128(bh * (Tp / kC) * dK * dV * sizeof(bf16));
    if (ws) {
        char *p = static_cast<char *>(base);
        ws->W = reinterpret_cast<bf16 *>(p);
        ws->U = reinterpret_cast<bf16 *>(p + szW);
        ws->Aqk = reinterpret_cast<bf16 *>(p + szW + szU);
        ws->gamma = reinterpret_cast<float *>(p + szW + szU + szA);
        ws->Hs = reinterpret_cast<bf16 *>(p + szW + szU + szA + szG);
    }
    return szW + szU + szA + szG + szH;
}

// ------------------------------------------------------------------ kernel 1: per chunk
struct PrepSmem {
    size_t Ks, Qs, Kd, A, Tm, Tb, stage, gam, bet, total;
    __host__ __device__ PrepSmem(int dK) {
        const int ldk = dK + 8;
        // Regions reused once their first tenant is dead (fewer bytes, more blocks an SM):
        // K, then T diag(beta) in bf16 (after Kd is built); Q, then Kd (after Q K^T); A and
        // Tm, then two V pieces (after the solve).
        size_t o = 0;
        Ks = o; o += align128((ldk > kC + 8 ? size_t(kC) * ldk : size_t(kC) * (kC + 8)) * sizeof(bf16));
        Tb = Ks;
        Qs = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Kd = Qs;
        A = o; o += align128(size_t(kC) * (kC + 4) * sizeof(float));
        Tm = o; o += align128(size_t(kC) * (kC + 4) * sizeof(float));
        stage = o; o += align128(size_t(kWarps) * 256 * sizeof(float));
        gam = o; o += align128(kC * sizeof(float));
        bet = o; o += align128(kC * sizeof(float));
        total = o;
    }
};

// A lane's 8 values of a 16x16 fp32 tile staged row-major in `stage` (row lane / 2, columns
// (lane % 2) * 8 ...), as 8 bf16 in one 16-byte unit.
__device__ __forceinline__ uint4 lane_bf16x8(const float *stage) {
    const int lane = threadIdx.x % 32, r = lane / 2, c0 = (lane % 2) * 8;
    uint4 packed;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&packed);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        h[i] = __floats2bfloat162_rn(stage[r * 16 + c0 + 2 * i], stage[r * 16 + c0 + 2 * i + 1]);
    return packed;
}

// Stores a 16x16 fp32 accumulator as bf16 into global memory (row stride ld, 16-byte aligned
// rows) via the warp's staging tile: each lane converts and writes 8 values at once.
__device__ __forceinline__ void store_tile_bf16(const FragC &c, float *stage, bf16 *dst, int64_t ld) {
    wmma::store_matrix_sync(stage, c, 16, wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32, r = lane / 2, c0 = (lane % 2) * 8;
    *reinterpret_cast<uint4 *>(dst + r * ld + c0) = lane_bf16x8(stage);
    __syncwarp();
}

__global__ void __launch_bounds__(kThreads)
    gdc_prep_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                    const bf16 *__restrict__ v, const float *__restrict__ g,
                    const float *__restrict__ beta, Workspace ws, int T, int H, int dK, int dV) {
    extern __shared__ __align__(128) unsigned char smem[];
    const PrepSmem L(dK);
    bf16 *Ks = reinterpret_cast<bf16 *>(smem + L.Ks);
    bf16 *Qs = reinterpret_cast<bf16 *>(smem + L.Qs);
    bf16 *Kd = reinterpret_cast<bf16 *>(smem + L.Kd);
    float *A = reinterpret_cast<float *>(smem + L.A);
    float *Tm = reinterpret_cast<float *>(smem + L.Tm);
    bf16 *Tb = reinterpret_cast<bf16 *>(smem + L.Tb);
    float *stage = reinterpret_cast<float *>(smem + L.stage) + (threadIdx.x / 32) * 256;
    float *gam = reinterpret_cast<float *>(smem + L.gam);
    float *bet = reinterpret_cast<float *>(smem + L.bet);
    const int ldk = dK + 8, lda = kC + 4, ldt = kC + 8;
    const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int t0 = chunk * kC, n = min(kC, T - t0);
    const int Tp = gridDim.x * kC;
    const int64_t bh = int64_t(b) * H + h;

    const int64_t tok0 = int64_t(b) * T + t0;  // first token row of this chunk
    load_rows(Ks, ldk, k + (tok0 * H + h) * dK, int64_t(H) * dK, n, dK);
    load_rows(Qs, ldk, q + (tok0 * H + h) * dK, int64_t(H) * dK, n, dK);
    if (warp == 0) {  // gamma = inclusive cumsum of g over the chunk (two values per lane)
        float g0 = 0.0f, g1 = 0.0f, b0 = 0.0f, b1 = 0.0f;
        if (2 * lane < n) { g0 = g[(tok0 + 2 * lane) * H + h]; b0 = beta[(tok0 + 2 * lane) * H + h]; }
        if (2 * lane + 1 < n) { g1 = g[(tok0 + 2 * lane + 1) * H + h]; b1 = beta[(tok0 + 2 * lane + 1) * H + h]; }
        float s = g0 + g1;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const float t = __shfl_up_sync(0xffffffffu, s, o);
            if (lane >= o) s += t;
        }
        gam[2 * lane + 1] = s;
        gam[2 * lane] = s - g1;
        bet[2 * lane] = b0;
        bet[2 * lane + 1] = b1;
    }
    __syncthreads();

    // KK^T -> A, QK^T -> Tm (fp32), 16 tiles of 16x16, 4 per warp.
    for (int tile = warp; tile < 16; tile += kWarps) {
        const int tm = tile / 4, tn = tile % 4;
        FragC ckk, cqk;
        wmma::fill_fragment(ckk, 0.0f);
        wmma::fill_fragment(cqk, 0.0f);
        for (int kk = 0; kk < dK; kk += 16) {
            FragA ak, aq;
            FragBc bk;
            wmma::load_matrix_sync(ak, Ks + tm * 16 * ldk + kk, ldk);
            wmma::load_matrix_sync(aq, Qs + tm * 16 * ldk + kk, ldk);
            wmma::load_matrix_sync(bk, Ks + tn * 16 * ldk + kk, ldk);  // K^T, column-major
            wmma::mma_sync(ckk, ak, bk, ckk);
            wmma::mma_sync(cqk, aq, bk, cqk);
        }
        wmma::store_matrix_sync(A + tm * 16 * lda + tn * 16, ckk, lda, wmma::mem_row_major);
        wmma::store_matrix_sync(Tm + tm * 16 * lda + tn * 16, cqk, lda, wmma::mem_row_major);
    }
    __syncthreads();

    // Masks and decays; Aqk goes straight to the workspace.
    bf16 *aqk_out = ws.Aqk + (bh * Tp + t0) * kC;
    for (int i = threadIdx.x; i < kC * kC; i += kThreads) {
        const int r = i / kC, c = i % kC;
        const float d = __expf(gam[r] - gam[c]);  // <= 1 where used (c <= r)
        aqk_out[i] = __float2bfloat16(c <= r ? Tm[r * lda + c] * d : 0.0f);
        A[r * lda + c] = c < r ? bet[r] * d * A[r * lda + c] : 0.0f;
    }
    // Kd = diag(e^gamma) K for W (beta goes into Tb).
    const int kvecs = dK / 8;
    for (int i = threadIdx.x; i < kC * kvecs; i += kThreads) {  // 8 values at a time
        const int r = i / kvecs, c = (i % kvecs) * 8;
        const float f = __expf(gam[r]);
        uint4 raw = *reinterpret_cast<const uint4 *>(Ks + r * ldk + c);
        __nv_bfloat162 *h2 = reinterpret_cast<__nv_bfloat162 *>(&raw);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const float2 x = __bfloat1622float2(h2[j]);
            h2[j] = __floats2bfloat162_rn(f * x.x, f * x.y);
        }
        *reinterpret_cast<uint4 *>(Kd + r * ldk + c) = raw;
    }
    __syncthreads();

    // T = (I + A)^-1, blockwise (fp32): the four 16x16 diagonal blocks by forward substitution
    // (thread = one column of one block), then two merges of lower-triangular blocks:
    // inv([[P, 0], [X, Q]]) = [[P^-1, 0], [-Q^-1 X P^-1, Q^-1]] (16 -> 32 -> 64).
    float *X = reinterpret_cast<float *>(smem + L.stage);  // 1024 floats of scratch
    if (threadIdx.x < kC) {  // the column in registers; x[j] = 0 for j < c, so summing
        const int o = (threadIdx.x / 16) * 16, c = threadIdx.x % 16;  // from j = 0 adds exact 0s
        float x[16];
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            float s = (i == c) ? 1.0f : 0.0f;
#pragma unroll
            for (int j = 0; j < i; ++j) s = fmaf(-A[(o + i) * lda + o + j], x[j], s);
            x[i] = s;
        }
#pragma unroll
        for (int i = 0; i < 16; ++i) Tm[(o + i) * lda + o + c] = x[i];
    }
    for (int i = threadIdx.x; i < kC * kC; i += kThreads) {
        const int r = i / kC, c = i % kC;
        if (r / 16 != c / 16) Tm[r * lda + c] = 0.0f;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < 512; e += kThreads) {  // X = A_QP T_PP, pairs (0,1), (2,3)
        const int P = (e / 256) * 32, Q = P + 16, r = (e % 256) / 16, c = e % 16;
        float s = 0.0f;
        for (int j = 0; j < 16; ++j) s = fmaf(A[(Q + r) * lda + P + j], Tm[(P + j) * lda + P + c], s);
        X[e] = s;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < 512; e += kThreads) {  // T_QP = -T_QQ X
        const int P = (e / 256) * 32, Q = P + 16, r = (e % 256) / 16, c = e % 16;
        const float *Xp = X + (e / 256) * 256;
        float s = 0.0f;
        for (int j = 0; j < 16; ++j) s = fmaf(Tm[(Q + r) * lda + Q + j], Xp[j * 16 + c], s);
        Tm[(Q + r) * lda + P + c] = -s;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < 1024; e += kThreads) {  // X = A_BT T_TT (32x32 blocks)
        const int r = e / 32, c = e % 32;
        float s = 0.0f;
        for (int j = 0; j < 32; ++j) s = fmaf(A[(32 + r) * lda + j], Tm[j * lda + c], s);
        X[e] = s;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < 1024; e += kThreads) {  // T_BT = -T_BB X
        const int r = e / 32, c = e % 32;
        float s = 0.0f;
        for (int j = 0; j < 32; ++j) s = fmaf(Tm[(32 + r) * lda + 32 + j], X[j * 32 + c], s);
        Tm[(32 + r) * lda + c] = -s;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < kC * kC; i += kThreads) {
        const int r = i / kC, c = i % kC;
        Tb[r * ldt + c] = __float2bfloat16(Tm[r * lda + c] * bet[c]);  // T diag(beta)
    }
    __syncthreads();

    // V in pieces of 64 columns, double-buffered by cp.async in the regions of A and Tm (both
    // dead now); the first two pieces arrive while W is computed.
    const bf16 *vsrc = v + (tok0 * H + h) * dV;
    bf16 *const vb0 = reinterpret_cast<bf16 *>(smem + L.A), *const vb1 = reinterpret_cast<bf16 *>(smem + L.Tm);
    auto vbuf = [&](int p) { return (p & 1) ? vb1 : vb0; };
    const int npieces = (dV + kC - 1) / kC;
    auto load_v = [&](int p) {
        if (p < npieces)
            load_rows_async(vbuf(p), ldt, vsrc + p * kC, int64_t(H) * dV, n, min(kC, dV - p * kC));
        cp_async_commit();  // (empty past the end: keeps the group count uniform)
    };
    load_v(0);
    load_v(1);

    // W = Tb Kd  [64 x dK]
    bf16 *w_out = ws.W + (bh * Tp + t0) * dK;
    const int ntn = dK / 16;
    for (int tile = warp; tile < 4 * ntn; tile += kWarps) {
        const int tm = tile / ntn, tn = tile % ntn;
        FragC c;
        tile_product(c, Tb + tm * 16 * ldt, ldt, Kd + tn * 16, ldk, kC);
        store_tile_bf16(c, stage, w_out + tm * 16 * dK + tn * 16, dK);
    }

    // U = Tb V, 64 value columns at a time.
    bf16 *u_out = ws.U + (bh * Tp + t0) * dV;
    for (int p = 0; p < npieces; ++p) {
        const int c0 = p * kC, w = min(kC, dV - c0);  // multiple of 16
        const bf16 *Vp = vbuf(p);
        cp_async_wait<1>();  // piece p is in (p + 1 may still be on its way)
        __syncthreads();
        const int wtn = w / 16;
        for (int tile = warp; tile < 4 * wtn; tile += kWarps) {
            const int tm = tile / wtn, tn = tile % wtn;
            FragC c;
            tile_product(c, Tb + tm * 16 * ldt, ldt, Vp + tn * 16, ldt, kC);
            store_tile_bf16(c, stage, u_out + tm * 16 * dV + c0 + tn * 16, dV);
        }
        __syncthreads();  // piece p consumed: its buffer takes piece p + 2
        load_v(p + 2);
    }
    cp_async_wait<0>();
    if (threadIdx.x < kC) ws.gamma[bh * Tp + t0 + threadIdx.x] = gam[threadIdx.x];
}

// ------------------------------------------------------------------ kernel 2: the state pass
// One block of 4..8 warps (a warp per 16x16 state tile, as far as that goes) per (sequence,
// head, SV state columns) walks the chunks in order: SV = 32 (the last block 16 when
// dV % 32 == 16), or SV = 16 where 32 would leave SMs idle (B H dV / 32 blocks fewer than the
// SMs; each block's chunk is then half the work, the chain as long) or does not fit in shared
// memory. The fp32 state tile lives in registers as WMMA accumulators (warp w of n owns the
// tiles w, w + n, ...), never in shared memory. Per chunk:
//   h_c = bf16(S) (shared memory for W S, and the workspace for gdc_out);
//   E = U - W S  (bf16 into the workspace, over U: the block reads its U columns before it
//                 writes them, and no other block touches them);
//   S = e^gamma_C S + K^T diag(e^(gamma_C - gamma)) E.
// The inputs of the next ST - 1 chunks (W, K, U, gamma) stream in by cp.async meanwhile. No
// output work here: that is gdc_out, fully parallel over chunks.
constexpr int kStateMinWarps = 4;  // warps a block: one per state tile, 4..8
constexpr int kStateMaxWarps = 8;

struct StateSmem {
    size_t stage, Ws, Ks, Us, gam, Sb, Ed, scratch, total;
    __host__ __device__ StateSmem(int dK, int stages, int kSV) {
        const int ldk = dK + 8;
        size_t o = 0;
        Ws = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Ks = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Us = o; o += align128(size_t(kC) * (kSV + 8) * sizeof(bf16));
        gam = o; o += align128(kC * sizeof(float));
        stage = o;
        o *= size_t(stages);
        Sb = o; o += align128(size_t(dK) * (kSV + 8) * sizeof(bf16));
        Ed = o; o += align128(size_t(kC) * (kSV + 8) * sizeof(bf16));
        scratch = o; o += align128(size_t(kStateMaxWarps) * 256 * sizeof(float));
        total = o;
    }
};

template <int ST, int kSV>
__global__ void __launch_bounds__(kStateMaxWarps * 32)
    gdc_state_kernel(const bf16 *__restrict__ k, Workspace ws, float *__restrict__ state, int T,
                     int H, int dK, int dV) {
    extern __shared__ __align__(128) unsigned char smem[];
    constexpr int kMaxSTiles = (kMaxDK / 16) * (kSV / 16) / kStateMinWarps;  // per warp
    const int nwarps = blockDim.x / 32;
    const StateSmem L(dK, ST, kSV);
    bf16 *Sb = reinterpret_cast<bf16 *>(smem + L.Sb);
    bf16 *Ed = reinterpret_cast<bf16 *>(smem + L.Ed);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *scr = reinterpret_cast<float *>(smem + L.scratch) + warp * 256;
    const int ldk = dK + 8, ldb = kSV + 8;
    const int col0 = blockIdx.x * kSV, h = blockIdx.y, b = blockIdx.z;
    const int ncol = min(kSV, dV - col0);  // 32, or 16 in the last block
    const int ntn = ncol / 16, nkm = dK / 16, nst = nkm * ntn;
    const int64_t bh = int64_t(b) * H + h;
    const int nchunks = (T + kC - 1) / kC, Tp = nchunks * kC;
    const int lr = lane / 2, lc = (lane % 2) * 8;  // a lane's row and 8 columns of a 16x16 tile

    auto load_chunk = [&](int c) {
        if (c >= nchunks) return;
        unsigned char *base = smem + size_t(c % ST) * L.stage;
        const int t0 = c * kC, n = min(kC, T - t0);
        const int64_t tok0 = int64_t(b) * T + t0, wrow = bh * Tp + t0;
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Ws), ldk, ws.W + wrow * dK, dK, kC, dK);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Ks), ldk, k + (tok0 * H + h) * dK,
                        int64_t(H) * dK, n, dK);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Us), ldb, ws.U + wrow * dV + col0, dV, kC,
                        ncol);
        if (threadIdx.x < kC / 4)
            cp_async16(reinterpret_cast<float *>(base + L.gam) + threadIdx.x * 4,
                       ws.gamma + wrow + threadIdx.x * 4, true);
    };

    // The state tiles, fp32, in registers.
    FragC s[kMaxSTiles];
    float *S = state + bh * dK * dV + col0;
#pragma unroll
    for (int i = 0; i < kMaxSTiles; ++i) {  // via the warp's scratch: any state alignment
        const int t = warp + i * nwarps;
        if (t < nst) {
            const float *src = S + int64_t((t / ntn) * 16 + lr) * dV + (t % ntn) * 16 + lc;
#pragma unroll
            for (int j = 0; j < 8; ++j) scr[lr * 16 + lc + j] = src[j];
            __syncwarp();
            wmma::load_matrix_sync(s[i], scr, 16, wmma::mem_row_major);
            __syncwarp();
        }
    }
#pragma unroll
    for (int i = 0; i < ST - 1; ++i) {
        load_chunk(i);
        cp_async_commit();
    }

    for (int chunk = 0; chunk < nchunks; ++chunk) {
        cp_async_wait<ST - 2>();  // this chunk's group is complete (the newer ones may not be)
        __syncthreads();          // A: every thread's copies visible; chunk - 1 fully done
        load_chunk(chunk + ST - 1);  // into the stage chunk - 1 used
        cp_async_commit();           // (an empty group past the end keeps the count uniform)
        const unsigned char *base = smem + size_t(chunk % ST) * L.stage;
        const bf16 *Ws = reinterpret_cast<const bf16 *>(base + L.Ws);
        const bf16 *Ks = reinterpret_cast<const bf16 *>(base + L.Ks);
        const bf16 *Us = reinterpret_cast<const bf16 *>(base + L.Us);
        const float *gam = reinterpret_cast<const float *>(base + L.gam);
        const int64_t wrow = bh * Tp + int64_t(chunk) * kC;

        // h_c = bf16(S): shared memory and the workspace.
        bf16 *hout = ws.Hs + (bh * nchunks + chunk) * int64_t(dK) * dV + col0;
#pragma unroll
        for (int i = 0; i < kMaxSTiles; ++i) {
            const int t = warp + i * nwarps;
            if (t < nst) {
                const int tm = t / ntn, tn = t % ntn;
                wmma::store_matrix_sync(scr, s[i], 16, wmma::mem_row_major);
                __syncwarp();
                const uint4 packed = lane_bf16x8(scr);  // row lr, columns lc ...
                *reinterpret_cast<uint4 *>(Sb + (tm * 16 + lr) * ldb + tn * 16 + lc) = packed;
                *reinterpret_cast<uint4 *>(hout + int64_t(tm * 16 + lr) * dV + tn * 16 + lc) = packed;
                __syncwarp();
            }
        }
        __syncthreads();  // B: Sb complete

        // E = U - W S: 4 x ntn tiles; E to the workspace (over U), Ed = e^(gC - gamma) E.
        const float gC = gam[kC - 1];
        for (int t = warp; t < 4 * ntn; t += nwarps) {
            const int tm = t / ntn, tn = t % ntn;
            FragC c;
            tile_product(c, Ws + tm * 16 * ldk, ldk, Sb + tn * 16, ldb, dK);
            wmma::store_matrix_sync(scr, c, 16, wmma::mem_row_major);
            __syncwarp();
            const int r = tm * 16 + lr, cc = tn * 16 + lc;
            const uint4 uraw = *reinterpret_cast<const uint4 *>(Us + r * ldb + cc);
            const __nv_bfloat162 *u2 = reinterpret_cast<const __nv_bfloat162 *>(&uraw);
            const float d = __expf(gC - gam[r]);
            uint4 pe, pd;
            __nv_bfloat162 *e2 = reinterpret_cast<__nv_bfloat162 *>(&pe);
            __nv_bfloat162 *d2 = reinterpret_cast<__nv_bfloat162 *>(&pd);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float2 u = __bfloat1622float2(u2[j]);
                const float e0 = u.x - scr[lr * 16 + lc + 2 * j];
                const float e1 = u.y - scr[lr * 16 + lc + 2 * j + 1];
                e2[j] = __floats2bfloat162_rn(e0, e1);
                d2[j] = __floats2bfloat162_rn(e0 * d, e1 * d);
            }
            *reinterpret_cast<uint4 *>(ws.U + (wrow + r) * dV + col0 + cc) = pe;
            *reinterpret_cast<uint4 *>(Ed + r * ldb + cc) = pd;
            __syncwarp();
        }
        __syncthreads();  // C: Ed complete

        // S = e^gC S + K^T Ed.
        const float decay = __expf(gC);
#pragma unroll
        for (int i = 0; i < kMaxSTiles; ++i) {
            const int t = warp + i * nwarps;
            if (t < nst) {
                const int tm = t / ntn, tn = t % ntn;
#pragma unroll
                for (int e = 0; e < s[i].num_elements; ++e) s[i].x[e] *= decay;
#pragma unroll
                for (int kk = 0; kk < kC; kk += 16) {
                    FragAc a;  // K^T: element (d, t) = Ks[t][d]
                    FragB bb;
                    wmma::load_matrix_sync(a, Ks + kk * ldk + tm * 16, ldk);
                    wmma::load_matrix_sync(bb, Ed + kk * ldb + tn * 16, ldb);
                    wmma::mma_sync(s[i], a, bb, s[i]);
                }
            }
        }
        // The next chunk's barrier A orders these reads before Sb / Ed / the stage are reused.
    }
    cp_async_wait<0>();
#pragma unroll
    for (int i = 0; i < kMaxSTiles; ++i) {
        const int t = warp + i * nwarps;
        if (t < nst) {
            wmma::store_matrix_sync(scr, s[i], 16, wmma::mem_row_major);
            __syncwarp();
            float *dst = S + int64_t((t / ntn) * 16 + lr) * dV + (t % ntn) * 16 + lc;
#pragma unroll
            for (int j = 0; j < 8; ++j) dst[j] = scr[lr * 16 + lc + j];
            __syncwarp();
        }
    }
}

// ------------------------------------------------------------------ kernel 3: the outputs
// Every (sequence, head, chunk, kOV = 64 output columns) in parallel, 4 warps (warp w: rows
// 16w..16w+15): O = scale (diag(e^gamma) Q h_c + Aqk E), with h_c and E from the state pass.
constexpr int kOV = 64;
constexpr int kOutThreads = 128;
constexpr int kOutWarps = kOutThreads / 32;

struct OutSmem {
    size_t Qs, Hs, Aq, Es, gam, scratch, total;
    __host__ __device__ OutSmem(int dK) {
        size_t o = 0;
        Qs = o; o += align128(size_t(kC) * (dK + 8) * sizeof(bf16));
        Hs = o; o += align128(size_t(dK) * (kOV + 8) * sizeof(bf16));
        Aq = o; o += align128(size_t(kC) * (kC + 8) * sizeof(bf16));
        Es = o; o += align128(size_t(kC) * (kOV + 8) * sizeof(bf16));
        gam = o; o += align128(kC * sizeof(float));
        scratch = o; o += align128(size_t(kOutWarps) * 256 * sizeof(float));
        total = o;
    }
};

__global__ void __launch_bounds__(kOutThreads)
    gdc_out_kernel(const bf16 *__restrict__ q, Workspace ws, float *__restrict__ o, int T, int H,
                   int dK, int dV, float scale) {
    extern __shared__ __align__(128) unsigned char smem[];
    const OutSmem L(dK);
    bf16 *Qs = reinterpret_cast<bf16 *>(smem + L.Qs);
    bf16 *Hs = reinterpret_cast<bf16 *>(smem + L.Hs);
    bf16 *Aq = reinterpret_cast<bf16 *>(smem + L.Aq);
    bf16 *Es = reinterpret_cast<bf16 *>(smem + L.Es);
    float *gam = reinterpret_cast<float *>(smem + L.gam);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *scr = reinterpret_cast<float *>(smem + L.scratch) + warp * 256;
    const int ldk = dK + 8, ldo = kOV + 8, ldq = kC + 8;
    // x = chunk * (column tiles) + column tile: the tiles of one chunk run side by side, so Q
    // and Aqk come from L2 after the first.
    const int nct = (dV + kOV - 1) / kOV;
    const int chunk = blockIdx.x / nct, h = blockIdx.y % H, b = blockIdx.y / H;
    const int col0 = (blockIdx.x % nct) * kOV, ncol = min(kOV, dV - col0);
    const int nchunks = gridDim.x / nct, Tp = nchunks * kC;
    const int t0 = chunk * kC, n = min(kC, T - t0);
    const int64_t bh = int64_t(b) * H + h, wrow = bh * Tp + t0, tok0 = int64_t(b) * T + t0;

    load_rows_async(Qs, ldk, q + (tok0 * H + h) * dK, int64_t(H) * dK, n, dK);
    load_rows_async(Aq, ldq, ws.Aqk + wrow * kC, kC, kC, kC);
    load_rows_async(Es, ldo, ws.U + wrow * dV + col0, dV, kC, ncol);
    {  // h_c: dK rows of ncol columns
        const bf16 *src = ws.Hs + (bh * nchunks + chunk) * int64_t(dK) * dV + col0;
        const int vecs = ncol / 8;
        for (int i = threadIdx.x; i < dK * vecs; i += kOutThreads) {
            const int r = i / vecs, c = (i % vecs) * 8;
            cp_async16(Hs + r * ldo + c, src + int64_t(r) * dV + c, true);
        }
    }
    if (threadIdx.x < kC / 4) cp_async16(gam + threadIdx.x * 4, ws.gamma + wrow + threadIdx.x * 4, true);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    const int tm = warp, lr = lane / 2, lc = (lane % 2) * 8;
    const int r = tm * 16 + lr;
    const float eg = __expf(gam[r]);
    for (int tn = 0; tn < ncol / 16; ++tn) {
        FragC c;
        tile_product(c, Qs + tm * 16 * ldk, ldk, Hs + tn * 16, ldo, dK);
        wmma::store_matrix_sync(scr, c, 16, wmma::mem_row_major);
        __syncwarp();
        float acc[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[j] = eg * scr[lr * 16 + lc + j];
        __syncwarp();
        tile_product(c, Aq + tm * 16 * ldq, ldq, Es + tn * 16, ldo, kC);
        wmma::store_matrix_sync(scr, c, 16, wmma::mem_row_major);
        __syncwarp();
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[j] = scale * (acc[j] + scr[lr * 16 + lc + j]);
        if (r < n) {
            float *dst = o + ((tok0 + r) * H + h) * dV + col0 + tn * 16 + lc;
            if ((reinterpret_cast<uintptr_t>(o) & 15) == 0) {
                reinterpret_cast<float4 *>(dst)[0] = make_float4(acc[0], acc[1], acc[2], acc[3]);
                reinterpret_cast<float4 *>(dst)[1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
            } else {
#pragma unroll
                for (int j = 0; j < 8; ++j) dst[j] = acc[j];
            }
        }
        __syncwarp();
    }
}

}  // namespace

size_t gated_delta_chunk_workspace_bytes(int B, int T, int H, int dK, int dV) {
    if (B < 1 || T < 1 || H < 1 || dK < 1 || dV < 1) return 0;
    return carve(B, T, H, dK, dV, nullptr, nullptr);
}

void gated_delta_chunk(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                       const float *beta, float *state, float *o, int B, int T, int H, int dK,
                       int dV, float scale, void *workspace, size_t workspace_bytes,
                       cudaStream_t s) {
    if (B < 1 || T < 1 || H < 1 || dK < 16 || dK > kMaxDK || dK % 16 != 0 || dV < 16 ||
        dV % 16 != 0 || B > 65535 || H > 65535 || int64_t(B) * H > 65535)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "gated_delta_chunk: unsupported sizes B=" + std::to_string(B) +
                        " T=" + std::to_string(T) + " H=" + std::to_string(H) +
                        " dK=" + std::to_string(dK) + " dV=" + std::to_string(dV) +
                        " (dK % 16 == 0, dK <= 256, dV % 16 == 0)");
    if (!q || !k || !v || !g || !beta || !state || !o || !workspace)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: null pointer");
    if (!aligned16(q) || !aligned16(k) || !aligned16(v) || !aligned16(workspace))
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: q, k, v and the workspace must be 16-byte aligned");
    const size_t need = gated_delta_chunk_workspace_bytes(B, T, H, dK, dV);
    if (workspace_bytes < need)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: workspace of " +
                                                  std::to_string(workspace_bytes) +
                                                  " bytes, needs " + std::to_string(need));
    Workspace ws{};
    carve(B, T, H, dK, dV, workspace, &ws);
    const int nchunks = (T + kC - 1) / kC;

    const size_t prep_smem = PrepSmem(dK).total;
    const size_t out_smem = OutSmem(dK).total;
    int dev = 0, smem_max = 0;
    check(cudaGetDevice(&dev), "gated_delta_chunk (cudaGetDevice)");
    check(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
          "gated_delta_chunk (smem limit)");
    int sms = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "gated_delta_chunk (SM count)");
    // SV = 16 where 32-column blocks would leave SMs idle, or do not fit (dK = 256 on sm_80).
    const bool narrow = int64_t(B) * H * ((dV + 31) / 32) < sms ||
                        StateSmem(dK, 2, 32).total > size_t(smem_max);
    const int sv = narrow ? 16 : 32;
    const size_t need_smem = std::max({prep_smem, out_smem, StateSmem(dK, 2, sv).total});
    if (need_smem > size_t(smem_max))
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "gated_delta_chunk: dK=" + std::to_string(dK) + " needs " +
                        std::to_string(need_smem) + " bytes of shared memory per block, this GPU has " +
                        std::to_string(smem_max));
    // Three stages (two chunks in flight) where they fit with every block resident at once
    // (a block that waits for a free SM would add its whole chain), else two.
    int smem_sm = 0;
    check(cudaDeviceGetAttribute(&smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev),
          "gated_delta_chunk (smem per SM)");
    const int64_t state_blocks = int64_t(B) * H * ((dV + sv - 1) / sv);
    const int64_t per_sm = (state_blocks + sms - 1) / sms;
    const size_t smem3 = StateSmem(dK, 3, sv).total;
    const bool three = smem3 <= size_t(smem_max) && per_sm * int64_t(smem3 + 1024) <= smem_sm;
    const size_t state_smem = StateSmem(dK, three ? 3 : 2, sv).total;
    check(cudaFuncSetAttribute(gdc_prep_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(prep_smem)),
          "gated_delta_chunk (prep smem)");
    auto state_k = narrow ? (three ? gdc_state_kernel<3, 16> : gdc_state_kernel<2, 16>)
                          : (three ? gdc_state_kernel<3, 32> : gdc_state_kernel<2, 32>);
    check(cudaFuncSetAttribute(state_k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(state_smem)),
          "gated_delta_chunk (state smem)");
    check(cudaFuncSetAttribute(gdc_out_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(out_smem)),
          "gated_delta_chunk (out smem)");
    gdc_prep_kernel<<<dim3(unsigned(nchunks), unsigned(H), unsigned(B)), kThreads, prep_smem, s>>>(
        q, k, v, g, beta, ws, T, H, dK, dV);
    check_launch("gated_delta_chunk (prep)");
    // Narrow blocks (at most two an SM): a warp per state tile, up to 8. Wide ones: 4 warps, so
    // that registers (~170 a thread) leave room for two or three blocks an SM.
    const int state_warps =
        narrow ? std::min(kStateMaxWarps, std::max(kStateMinWarps, (dK / 16) * std::min(sv, dV) / 16))
               : kStateMinWarps;
    state_k<<<dim3(unsigned((dV + sv - 1) / sv), unsigned(H), unsigned(B)), unsigned(32 * state_warps),
              state_smem, s>>>(k, ws, state, T, H, dK, dV);
    check_launch("gated_delta_chunk (state)");
    gdc_out_kernel<<<dim3(unsigned(nchunks * ((dV + kOV - 1) / kOV)), unsigned(B * H)), kOutThreads,
                     out_smem, s>>>(q, ws, o, T, H, dK, dV, scale);
    check_launch("gated_delta_chunk (out)");
}

}  // namespace jet::cuda
