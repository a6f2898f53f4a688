// gated_delta_chunk.cu - the chunked gated delta rule for prefill (docs/model.md section 5.6), chunk C = 64, in the
// WY/UT form, with bf16 tensor-core products (WMMA 16x16x16, fp32 accumulation; mma.sync on
// sm_80 / sm_90) and fp32 state, decay and triangular solve.
//
// Two kernels, like fla's chunk_gated_delta_rule_fwd:
//  1. gdc_prep: every (sequence, head, chunk) in parallel - everything that does not depend on
//     the state. gamma = cumsum(g); A = strict_tril(beta_i e^(gamma_i - gamma_j) k_i.k_j);
//     T = (I + A)^-1 (blockwise forward substitution, fp32); W = T diag(beta e^gamma) K and
//     U = T diag(beta) V (bf16, workspace); Aqk = tril(e^(gamma_i - gamma_j) q_i.k_j) (bf16).
//  2. gdc_scan: one block of 8 warps per (sequence, head, 32 state columns) walks the chunks in
//     order with the state tile in shared memory (fp32, plus a bf16 copy for the tensor cores),
//     the next chunk's inputs streaming in by cp.async meanwhile:
//     E = U - W S;  O = s (diag(e^gamma) Q S + Aqk E);  S = e^gamma_C S + K^T diag(e^(gamma_C -
//     gamma)) E. The state's columns are independent, so splitting dV costs nothing but the
//     re-reading of Q, K, W (from L2).
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
constexpr int kDVT = 32;       // state columns per scan block
constexpr int kThreads = 128;  // prep: 4 warps
constexpr int kWarps = kThreads / 32;
constexpr int kScanThreads = 256;  // scan: 8 warps
constexpr int kScanWarps = kScanThreads / 32;
constexpr int kMaxDK = 256;

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragAc = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBc = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

__host__ __device__ constexpr size_t align128(size_t x) { return (x + 127) / 128 * 128; }

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

// Workspace layout, Tp = T rounded up to kC.
struct Workspace {
    bf16 *W;       // [B, H, Tp, dK]
    bf16 *U;       // [B, H, Tp, dV]
    bf16 *Aqk;     // [B, H, Tp, kC]
    float *gamma;  // [B, H, Tp]
};

size_t carve(int B, int T, int H, int dK, int dV, void *base, Workspace *ws) {
    const size_t Tp = size_t((T + kC - 1) / kC) * kC, bh = size_t(B) * H;
    const size_t szW = align128(bh * Tp * dK * sizeof(bf16));
    const size_t szU = align128(bh * Tp * dV * sizeof(bf16));
    const size_t szA = align128(bh * Tp * kC * sizeof(bf16));
    const size_t szG = align128(bh * Tp * sizeof(float));
    if (ws) {
        char *p = static_cast<char *>(base);
        ws->W = reinterpret_cast<bf16 *>(p);
        ws->U = reinterpret_cast<bf16 *>(p + szW);
        ws->Aqk = reinterpret_cast<bf16 *>(p + szW + szU);
        ws->gamma = reinterpret_cast<float *>(p + szW + szU + szA);
    }
    return szW + szU + szA + szG;
}

// ------------------------------------------------------------------ kernel 1: per chunk
struct PrepSmem {
    size_t Ks, Qs, Kd, A, Tm, Tb, Vs, stage, gam, bet, total;
    __host__ __device__ PrepSmem(int dK) {
        const int ldk = dK + 8;
        size_t o = 0;
        Ks = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Qs = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Kd = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        A = o; o += align128(size_t(kC) * (kC + 4) * sizeof(float));
        Tm = o; o += align128(size_t(kC) * (kC + 4) * sizeof(float));
        Tb = o; o += align128(size_t(kC) * (kC + 8) * sizeof(bf16));
        Vs = o; o += align128(size_t(kC) * (kC + 8) * sizeof(bf16));
        stage = o; o += align128(size_t(kWarps) * 256 * sizeof(float));
        gam = o; o += align128(kC * sizeof(float));
        bet = o; o += align128(kC * sizeof(float));
        total = o;
    }
};

// Stores a 16x16 fp32 accumulator as bf16 into global memory (row stride ld, 16-byte aligned
// rows) via the warp's staging tile: each lane converts and writes 8 values at once.
__device__ __forceinline__ void store_tile_bf16(const FragC &c, float *stage, bf16 *dst, int64_t ld) {
    wmma::store_matrix_sync(stage, c, 16, wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32, r = lane / 2, c0 = (lane % 2) * 8;
    uint4 packed;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&packed);
#pragma unroll
    for (int i = 0; i < 4; ++i)
        h[i] = __floats2bfloat162_rn(stage[r * 16 + c0 + 2 * i], stage[r * 16 + c0 + 2 * i + 1]);
    *reinterpret_cast<uint4 *>(dst + r * ld + c0) = packed;
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
    bf16 *Vs = reinterpret_cast<bf16 *>(smem + L.Vs);
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
    // Kd = diag(beta e^gamma) K for W.
    for (int i = threadIdx.x; i < kC * dK; i += kThreads) {
        const int r = i / dK, c = i % dK;
        Kd[r * ldk + c] = __float2bfloat16(bet[r] * __expf(gam[r]) * __bfloat162float(Ks[r * ldk + c]));
    }
    __syncthreads();

    // T = (I + A)^-1, blockwise (fp32): the four 16x16 diagonal blocks by forward substitution
    // (thread = one column of one block), then two merges of lower-triangular blocks:
    // inv([[P, 0], [X, Q]]) = [[P^-1, 0], [-Q^-1 X P^-1, Q^-1]] (16 -> 32 -> 64).
    float *X = reinterpret_cast<float *>(smem + L.stage);  // 1024 floats of scratch
    if (threadIdx.x < kC) {
        const int o = (threadIdx.x / 16) * 16, c = threadIdx.x % 16;
        for (int i = 0; i < 16; ++i) {
            float s = (i == c) ? 1.0f : 0.0f;
            for (int j = c; j < i; ++j) s = fmaf(-A[(o + i) * lda + o + j], Tm[(o + j) * lda + o + c], s);
            Tm[(o + i) * lda + o + c] = s;
        }
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
        Tb[r * ldt + c] = __float2bfloat16(Tm[r * lda + c]);
    }
    __syncthreads();

    // W = Tb Kd  [64 x dK]
    bf16 *w_out = ws.W + (bh * Tp + t0) * dK;
    const int ntn = dK / 16;
    for (int tile = warp; tile < 4 * ntn; tile += kWarps) {
        const int tm = tile / ntn, tn = tile % ntn;
        FragC c;
        wmma::fill_fragment(c, 0.0f);
        for (int kk = 0; kk < kC; kk += 16) {
            FragA a;
            FragB bb;
            wmma::load_matrix_sync(a, Tb + tm * 16 * ldt + kk, ldt);
            wmma::load_matrix_sync(bb, Kd + kk * ldk + tn * 16, ldk);
            wmma::mma_sync(c, a, bb, c);
        }
        store_tile_bf16(c, stage, w_out + tm * 16 * dK + tn * 16, dK);
    }

    // U = Tb diag(beta) V, 64 value columns at a time.
    bf16 *u_out = ws.U + (bh * Tp + t0) * dV;
    const bf16 *vsrc = v + (tok0 * H + h) * dV;
    for (int c0 = 0; c0 < dV; c0 += kC) {
        const int w = min(kC, dV - c0);  // multiple of 16
        __syncthreads();                 // previous piece fully consumed
        const int vecs = w / 8;
        for (int i = threadIdx.x; i < kC * vecs; i += kThreads) {
            const int r = i / vecs, c = (i % vecs) * 8;
            uint4 raw = make_uint4(0, 0, 0, 0);
            if (r < n) raw = *reinterpret_cast<const uint4 *>(vsrc + int64_t(r) * H * dV + c0 + c);
            __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&raw);
            const float br = bet[r];
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float2 f = __bfloat1622float2(h[j]);
                h[j] = __floats2bfloat162_rn(br * f.x, br * f.y);
            }
            *reinterpret_cast<uint4 *>(Vs + r * ldt + c) = raw;
        }
        __syncthreads();
        const int wtn = w / 16;
        for (int tile = warp; tile < 4 * wtn; tile += kWarps) {
            const int tm = tile / wtn, tn = tile % wtn;
            FragC c;
            wmma::fill_fragment(c, 0.0f);
            for (int kk = 0; kk < kC; kk += 16) {
                FragA a;
                FragB bb;
                wmma::load_matrix_sync(a, Tb + tm * 16 * ldt + kk, ldt);
                wmma::load_matrix_sync(bb, Vs + kk * ldt + tn * 16, ldt);
                wmma::mma_sync(c, a, bb, c);
            }
            store_tile_bf16(c, stage, u_out + tm * 16 * dV + c0 + tn * 16, dV);
        }
    }
    if (threadIdx.x < kC) ws.gamma[bh * Tp + t0 + threadIdx.x] = gam[threadIdx.x];
}

// ------------------------------------------------------------------ kernel 2: the scan
// Per chunk: the inputs (Q, K, W, Aqk, U, gamma) of chunk c + 1 stream into the other stage by
// cp.async while chunk c is computed (ST = 2; ST = 1 where shared memory is short: on the H100
// dK <= 128 gets two stages, dK = 192 and 256 one). A block owns kDVT = 32 state columns, the
// last one only 16 when dV % 32 == 16 (ncol; the columns past it are never read or written).
struct ScanSmem {
    size_t stage, Qs, Ks, Ws, Aq, Us, gam, Ef, Of, Eb, Ed, Sf, Sb, total;
    __host__ __device__ ScanSmem(int dK, int stages) {
        const int ldk = dK + 8;
        size_t o = 0;
        Qs = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Ks = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Ws = o; o += align128(size_t(kC) * ldk * sizeof(bf16));
        Aq = o; o += align128(size_t(kC) * (kC + 8) * sizeof(bf16));
        Us = o; o += align128(size_t(kC) * (kDVT + 8) * sizeof(bf16));
        gam = o; o += align128(kC * sizeof(float));
        stage = o;
        o *= stages;
        Ef = o; o += align128(size_t(kC) * (kDVT + 4) * sizeof(float));
        Of = o; o += align128(size_t(kC) * (kDVT + 4) * sizeof(float));
        Eb = o; o += align128(size_t(kC) * (kDVT + 8) * sizeof(bf16));
        Ed = o; o += align128(size_t(kC) * (kDVT + 8) * sizeof(bf16));
        Sf = o; o += align128(size_t(dK) * (kDVT + 4) * sizeof(float));
        Sb = o; o += align128(size_t(dK) * (kDVT + 8) * sizeof(bf16));
        total = o;
    }
};

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
    for (int i = threadIdx.x; i < kC * vecs; i += kScanThreads) {
        const int r = i / vecs, c = (i % vecs) * 8;
        cp_async16(dst + r * ld + c, src + (r < n ? r * rs + c : 0), r < n);
    }
}

template <int ST>
__global__ void __launch_bounds__(kScanThreads)
    gdc_scan_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k, Workspace ws,
                    float *__restrict__ state, float *__restrict__ o, int T, int H, int dK, int dV,
                    float scale) {
    extern __shared__ __align__(128) unsigned char smem[];
    const ScanSmem L(dK, ST);
    float *Ef = reinterpret_cast<float *>(smem + L.Ef);
    float *Of = reinterpret_cast<float *>(smem + L.Of);
    bf16 *Eb = reinterpret_cast<bf16 *>(smem + L.Eb);
    bf16 *Ed = reinterpret_cast<bf16 *>(smem + L.Ed);
    float *Sf = reinterpret_cast<float *>(smem + L.Sf);
    bf16 *Sb = reinterpret_cast<bf16 *>(smem + L.Sb);
    const int ldk = dK + 8, ldq = kC + 8, ldf = kDVT + 4, ldb = kDVT + 8;
    const int col0 = blockIdx.x * kDVT, h = blockIdx.y, b = blockIdx.z;
    const int ncol = min(kDVT, dV - col0);  // 32, or 16 in the last block
    const int warp = threadIdx.x / 32;
    const int64_t bh = int64_t(b) * H + h;
    const int nchunks = (T + kC - 1) / kC, Tp = nchunks * kC;

    // Issues the async loads of chunk c into stage st.
    auto load_chunk = [&](int c, int st) {
        unsigned char *base = smem + size_t(st) * L.stage;
        const int t0 = c * kC, n = min(kC, T - t0);
        const int64_t tok0 = int64_t(b) * T + t0, wrow = bh * Tp + t0;
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Qs), ldk, q + (tok0 * H + h) * dK, int64_t(H) * dK, n, dK);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Ks), ldk, k + (tok0 * H + h) * dK, int64_t(H) * dK, n, dK);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Ws), ldk, ws.W + wrow * dK, dK, kC, dK);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Aq), ldq, ws.Aqk + wrow * kC, kC, kC, kC);
        load_rows_async(reinterpret_cast<bf16 *>(base + L.Us), ldb, ws.U + wrow * dV + col0, dV, kC, ncol);
        if (threadIdx.x < kC / 4)
            cp_async16(reinterpret_cast<float *>(base + L.gam) + threadIdx.x * 4,
                       ws.gamma + wrow + threadIdx.x * 4, true);
    };

    float *S = state + bh * dK * dV + col0;
    for (int i = threadIdx.x; i < dK * kDVT; i += kScanThreads) {
        const int r = i / kDVT, c = i % kDVT;
        const float val = c < ncol ? S[int64_t(r) * dV + c] : 0.0f;
        Sf[r * ldf + c] = val;
        Sb[r * ldb + c] = __float2bfloat16(val);
    }
    if (ST == 2) {
        load_chunk(0, 0);
        cp_async_commit();
    }

    const int ntn = ncol / 16;   // output column tiles
    const int nkm = dK / 16;     // state row tiles
    for (int chunk = 0; chunk < nchunks; ++chunk) {
        const int st = ST == 2 ? (chunk & 1) : 0;
        if (ST == 1) {
            load_chunk(chunk, 0);
            cp_async_commit();
            cp_async_wait<0>();
        } else if (chunk + 1 < nchunks) {
            load_chunk(chunk + 1, st ^ 1);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        unsigned char *base = smem + size_t(st) * L.stage;
        const bf16 *Qs = reinterpret_cast<const bf16 *>(base + L.Qs);
        const bf16 *Ks = reinterpret_cast<const bf16 *>(base + L.Ks);
        const bf16 *Ws = reinterpret_cast<const bf16 *>(base + L.Ws);
        const bf16 *Aq = reinterpret_cast<const bf16 *>(base + L.Aq);
        const bf16 *Us = reinterpret_cast<const bf16 *>(base + L.Us);
        const float *gam = reinterpret_cast<const float *>(base + L.gam);
        const int t0 = chunk * kC, n = min(kC, T - t0);
        const int64_t tok0 = int64_t(b) * T + t0;

        // WS = W S (into Ef), QS = Q S (into Of).
        for (int tile = warp; tile < 4 * ntn; tile += kScanWarps) {
            const int tm = tile / ntn, tn = tile % ntn;
            FragC cw, cq;
            wmma::fill_fragment(cw, 0.0f);
            wmma::fill_fragment(cq, 0.0f);
            for (int kk = 0; kk < dK; kk += 16) {
                FragA aw, aq;
                FragB bs;
                wmma::load_matrix_sync(bs, Sb + kk * ldb + tn * 16, ldb);
                wmma::load_matrix_sync(aw, Ws + tm * 16 * ldk + kk, ldk);
                wmma::load_matrix_sync(aq, Qs + tm * 16 * ldk + kk, ldk);
                wmma::mma_sync(cw, aw, bs, cw);
                wmma::mma_sync(cq, aq, bs, cq);
            }
            wmma::store_matrix_sync(Ef + tm * 16 * ldf + tn * 16, cw, ldf, wmma::mem_row_major);
            wmma::store_matrix_sync(Of + tm * 16 * ldf + tn * 16, cq, ldf, wmma::mem_row_major);
        }
        __syncthreads();

        // E = U - W S; Eb = E, Ed = e^(gC - gamma) E (bf16); O = e^gamma Q S.
        const float gC = gam[kC - 1];
        for (int i = threadIdx.x; i < kC * kDVT; i += kScanThreads) {
            const int r = i / kDVT, c = i % kDVT;
            if (c >= ncol) continue;
            const float e = __bfloat162float(Us[r * ldb + c]) - Ef[r * ldf + c];
            Eb[r * ldb + c] = __float2bfloat16(e);
            Ed[r * ldb + c] = __float2bfloat16(e * __expf(gC - gam[r]));
            Of[r * ldf + c] *= __expf(gam[r]);
        }
        __syncthreads();

        // O += Aqk E;  S = e^gC S + K^T Ed.
        for (int tile = warp; tile < 4 * ntn + nkm * ntn; tile += kScanWarps) {
            FragC c;
            if (tile < 4 * ntn) {
                const int tm = tile / ntn, tn = tile % ntn;
                float *of = Of + tm * 16 * ldf + tn * 16;
                wmma::load_matrix_sync(c, of, ldf, wmma::mem_row_major);
                for (int kk = 0; kk < kC; kk += 16) {
                    FragA a;
                    FragB bb;
                    wmma::load_matrix_sync(a, Aq + tm * 16 * ldq + kk, ldq);
                    wmma::load_matrix_sync(bb, Eb + kk * ldb + tn * 16, ldb);
                    wmma::mma_sync(c, a, bb, c);
                }
                wmma::store_matrix_sync(of, c, ldf, wmma::mem_row_major);
            } else {
                const int t2 = tile - 4 * ntn;
                const int tm = t2 / ntn, tn = t2 % ntn;
                float *sf = Sf + tm * 16 * ldf + tn * 16;
                wmma::load_matrix_sync(c, sf, ldf, wmma::mem_row_major);
                const float decay = __expf(gC);
                for (int e = 0; e < c.num_elements; ++e) c.x[e] *= decay;
                for (int kk = 0; kk < kC; kk += 16) {
                    FragAc a;  // K^T: element (d, t) = Ks[t][d]
                    FragB bb;
                    wmma::load_matrix_sync(a, Ks + kk * ldk + tm * 16, ldk);
                    wmma::load_matrix_sync(bb, Ed + kk * ldb + tn * 16, ldb);
                    wmma::mma_sync(c, a, bb, c);
                }
                wmma::store_matrix_sync(sf, c, ldf, wmma::mem_row_major);
            }
        }
        __syncthreads();  // also frees this stage for the prefetch of chunk + 2

        float *orow = o + (tok0 * H + h) * dV + col0;
        for (int i = threadIdx.x; i < kC * kDVT; i += kScanThreads) {
            const int r = i / kDVT, c = i % kDVT;
            if (r < n && c < ncol) orow[int64_t(r) * H * dV + c] = scale * Of[r * ldf + c];
        }
        for (int i = threadIdx.x; i < dK * kDVT; i += kScanThreads) {
            const int r = i / kDVT, c = i % kDVT;
            Sb[r * ldb + c] = __float2bfloat16(Sf[r * ldf + c]);
        }
        // The next chunk's first barrier orders these writes before their readers.
    }
    __syncthreads();
    for (int i = threadIdx.x; i < dK * kDVT; i += kScanThreads) {
        const int r = i / kDVT, c = i % kDVT;
        if (c < ncol) S[int64_t(r) * dV + c] = Sf[r * ldf + c];
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
        dV % 16 != 0 || B > 65535 || H > 65535)
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
    int dev = 0, smem_max = 0;
    check(cudaGetDevice(&dev), "gated_delta_chunk (cudaGetDevice)");
    check(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
          "gated_delta_chunk (smem limit)");
    if (prep_smem > size_t(smem_max) || ScanSmem(dK, 1).total > size_t(smem_max))
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "gated_delta_chunk: dK=" + std::to_string(dK) + " needs " +
                        std::to_string(std::max(prep_smem, ScanSmem(dK, 1).total)) +
                        " bytes of shared memory per block, this GPU has " +
                        std::to_string(smem_max));
    const bool two = ScanSmem(dK, 2).total <= size_t(smem_max);
    const size_t scan_smem = ScanSmem(dK, two ? 2 : 1).total;
    check(cudaFuncSetAttribute(gdc_prep_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(prep_smem)),
          "gated_delta_chunk (prep smem)");
    auto scan = two ? gdc_scan_kernel<2> : gdc_scan_kernel<1>;
    check(cudaFuncSetAttribute(scan, cudaFuncAttributeMaxDynamicSharedMemorySize, int(scan_smem)),
          "gated_delta_chunk (scan smem)");
    gdc_prep_kernel<<<dim3(unsigned(nchunks), unsigned(H), unsigned(B)), kThreads, prep_smem, s>>>(
        q, k, v, g, beta, ws, T, H, dK, dV);
    check_launch("gated_delta_chunk (prep)");
    scan<<<dim3(unsigned((dV + kDVT - 1) / kDVT), unsigned(H), unsigned(B)), kScanThreads, scan_smem, s>>>(
        q, k, ws, state, o, T, H, dK, dV, scale);
    check_launch("gated_delta_chunk (scan)");
}

}  // namespace jet::cuda
