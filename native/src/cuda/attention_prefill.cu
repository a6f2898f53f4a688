// attention_prefill.cu - fused causal / sliding-window GQA attention for prefill (FlashAttention-2
// style): a block owns 64 queries of one head (4 warps x 16 rows) and walks the visible 64-key
// tiles once with an online softmax, never writing the T x L score matrix.
// Q K^T and P V run on bf16 tensor cores through mma.sync.m16n8k16 (fp32 accumulation) with
// operands fetched by ldmatrix; the scores, the probabilities and the output accumulator stay in
// registers (the score fragment of Q K^T is laid out exactly as the A operand of P V needs), so
// shared memory holds only Q and a double-buffered K/V tile filled by cp.async while the
// previous tile is computed. Softmax statistics are fp32, in log2 units.
// Sliding window = the same kernel with a second mask bound; tiles wholly outside the causal /
// window band are never visited, tiles wholly inside skip the per-element mask.
// attention_prefill dispatches hd 128 on sm_90 to the wgmma kernel of attention_prefill_sm90.cu
// when the build has sm_90a code; this kernel serves everything else.
#include <cmath>
#include <string>

#include "cuda/attention_prefill_impl.h"
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/mma.cuh"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kBr = 16 * kWarps, kBc = 64;
constexpr int kThreads = 32 * kWarps;

template <int HD>
struct Smem {
    static constexpr int ld = HD + 8;  // bf16 row pitch: 16-byte shift per row, ldmatrix conflict-free
    static constexpr int q_elems = kBr * ld;
    static constexpr int kv_elems = kBc * ld;
    static constexpr size_t bytes = size_t(q_elems + 4 * kv_elems) * 2;  // Q, K x2, V x2
};

// Async copy of rows [row0, row0 + 64) (rows >= nrows zero-filled) of a bf16 matrix with row
// stride rs into shared memory with row pitch ld.
template <int HD>
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, int64_t rs, int row0,
                                          int nrows) {
    constexpr int vecs = HD / 8;
    for (int i = threadIdx.x; i < 64 * vecs; i += kThreads) {
        const int r = i / vecs, c = (i % vecs) * 8;
        const bool ok = row0 + r < nrows;
        cp_async16(dst + r * Smem<HD>::ld + c, src + (ok ? int64_t(row0 + r) * rs + c : 0), ok);
    }
}

template <int HD>
__global__ void __launch_bounds__(kThreads)
    attn_prefill_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                        const bf16 *__restrict__ v, bf16 *__restrict__ out, int T, int L, int nh,
                        int nkv, int q_pos0, int k_pos0, int window, float sscale) {
    using SM = Smem<HD>;
    constexpr int ld = SM::ld;
    constexpr int NT = kBc / 8;   // score n-tiles (8 keys each)
    constexpr int OT = HD / 8;    // output n-tiles (8 dims each)
    constexpr int KS = HD / 16;   // k-steps of Q K^T
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *Qs = reinterpret_cast<bf16 *>(smem);
    bf16 *Ks = Qs + SM::q_elems;           // two stages
    bf16 *Vs = Ks + 2 * SM::kv_elems;      // two stages

    const int qt = gridDim.x - 1 - blockIdx.x;  // heaviest (latest) query tiles first
    const int h = blockIdx.y, b = blockIdx.z;
    const int kvh = h / (nh / nkv);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane / 4, t4 = lane % 4;  // mma fragment coordinates
    const int i0 = qt * kBr;
    const int nq = min(kBr, T - i0);

    // Visible key rows of the whole block: [lo, hi).
    const int qp_min = q_pos0 + i0, qp_max = q_pos0 + i0 + nq - 1;
    const int lo = window > 0 ? max(0, qp_min - window + 1 - k_pos0) : 0;
    const int hi = min(L, qp_max - k_pos0 + 1);
    const int kt0 = lo / kBc, kt1 = hi > lo ? (hi + kBc - 1) / kBc : kt0;

    const int64_t qrs = int64_t(nh) * HD, krs = int64_t(nkv) * HD;
    const bf16 *qsrc = q + (int64_t(b) * T + i0) * qrs + h * HD;
    const bf16 *ksrc = k + int64_t(b) * L * krs + kvh * HD;
    const bf16 *vsrc = v + int64_t(b) * L * krs + kvh * HD;

    load_tile<HD>(Qs, qsrc, qrs, 0, nq);
    if (kt0 < kt1) {
        load_tile<HD>(Ks, ksrc, krs, kt0 * kBc, L);
        load_tile<HD>(Vs, vsrc, krs, kt0 * kBc, L);
    }
    cp_async_commit();

    // This thread's two rows (g and g + 8 of the warp's 16) and their positions.
    const int r0 = warp * 16 + g, r1 = r0 + 8;
    const int qp0 = q_pos0 + i0 + r0, qp1 = qp0 + 8;
    const bool v0 = r0 < nq, v1 = r1 < nq;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    float o[OT][4];
#pragma unroll
    for (int j = 0; j < OT; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    unsigned qa[KS][4];
    bool q_loaded = false;

    for (int kt = kt0; kt < kt1; ++kt) {
        const int stage = (kt - kt0) & 1;
        const bf16 *Kt = Ks + stage * SM::kv_elems, *Vt = Vs + stage * SM::kv_elems;
        if (kt + 1 < kt1) {
            load_tile<HD>(Ks + (stage ^ 1) * SM::kv_elems, ksrc, krs, (kt + 1) * kBc, L);
            load_tile<HD>(Vs + (stage ^ 1) * SM::kv_elems, vsrc, krs, (kt + 1) * kBc, L);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (!q_loaded) {  // Q fragments into registers once
#pragma unroll
            for (int ks = 0; ks < KS; ++ks) {
                const int i = lane / 8;
                ldmatrix_x4(qa[ks], Qs + (warp * 16 + (i % 2) * 8 + lane % 8) * ld + ks * 16 + (i / 2) * 8);
            }
            q_loaded = true;
        }

        // S = Q K^T: 16 rows x 64 keys per warp.
        float s[NT][4];
#pragma unroll
        for (int j = 0; j < NT; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
#pragma unroll
            for (int j = 0; j < NT; j += 2) {
                unsigned bk[4];
                const int i = lane / 8;
                ldmatrix_x4(bk, Kt + (j * 8 + (i / 2) * 8 + lane % 8) * ld + ks * 16 + (i % 2) * 8);
                mma_bf16(s[j], qa[ks], bk[0], bk[1]);
                mma_bf16(s[j + 1], qa[ks], bk[2], bk[3]);
            }
        }

        // Scale, mask, online softmax (rows r0 and r1; 4 threads share a row).
        const int kp_first = k_pos0 + kt * kBc, kp_last = kp_first + kBc - 1;
        const bool full = (kt + 1) * kBc <= L && kp_last <= qp_min &&
                          (window <= 0 || qp_max - kp_first < window);
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int j = 0; j < NT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float x = s[j][e] * sscale;
                if (!full) {
                    const int kr = kt * kBc + j * 8 + 2 * t4 + (e & 1);
                    const int kp = k_pos0 + kr;
                    const int qp = e < 2 ? qp0 : qp1;
                    const bool vis = (e < 2 ? v0 : v1) && kr < L && kp <= qp &&
                                     (window <= 0 || qp - kp < window);
                    x = vis ? x : -INFINITY;
                }
                s[j][e] = x;
            }
            mx0 = fmaxf(mx0, fmaxf(s[j][0], s[j][1]));
            mx1 = fmaxf(mx1, fmaxf(s[j][2], s[j][3]));
        }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
        }
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        // Rows with nothing visible yet keep m = -inf; 0 as reference makes every p 0.
        const float ref0 = mn0 == -INFINITY ? 0.f : mn0, ref1 = mn1 == -INFINITY ? 0.f : mn1;
        const float a0 = exp2f(m0 - ref0), a1 = exp2f(m1 - ref1);
        m0 = mn0;
        m1 = mn1;
        float ps0 = 0.f, ps1 = 0.f;
        unsigned pa[kBc / 16][4];  // P as the A operand of P V, per 16-key step
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const float p0 = exp2f(s[j][0] - ref0), p1 = exp2f(s[j][1] - ref0);
            const float p2 = exp2f(s[j][2] - ref1), p3 = exp2f(s[j][3] - ref1);
            ps0 += p0 + p1;
            ps1 += p2 + p3;
            pa[j / 2][(j % 2) * 2 + 0] = pack_bf16(p0, p1);  // row g
            pa[j / 2][(j % 2) * 2 + 1] = pack_bf16(p2, p3);  // row g + 8
        }
        l0 = l0 * a0 + ps0;  // per-thread partial sums; reduced over the 4 threads at the end
        l1 = l1 * a1 + ps1;
#pragma unroll
        for (int j = 0; j < OT; ++j) {
            o[j][0] *= a0;
            o[j][1] *= a0;
            o[j][2] *= a1;
            o[j][3] *= a1;
        }

        // O += P V.
#pragma unroll
        for (int ks = 0; ks < kBc / 16; ++ks) {
            // A fragment order: {row g k0-7, row g+8 k0-7, row g k8-15, row g+8 k8-15}.
            const unsigned a[4] = {pa[ks][0], pa[ks][1], pa[ks][2], pa[ks][3]};
#pragma unroll
            for (int j = 0; j < OT; j += 2) {
                unsigned bv[4];
                const int i = lane / 8;
                ldmatrix_x4_trans(bv, Vt + (ks * 16 + (i % 2) * 8 + lane % 8) * ld + j * 8 + (i / 2) * 8);
                mma_bf16(o[j], a, bv[0], bv[1]);
                mma_bf16(o[j + 1], a, bv[2], bv[3]);
            }
        }
        __syncthreads();  // this K/V stage is free for the prefetch two tiles ahead
    }
    cp_async_wait<0>();

#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, off);
        l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    }
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    bf16 *orow0 = out + (int64_t(b) * T + i0 + r0) * qrs + h * HD;
    bf16 *orow1 = orow0 + 8 * qrs;
#pragma unroll
    for (int j = 0; j < OT; ++j) {
        const int c = j * 8 + 2 * t4;
        if (v0) *reinterpret_cast<__nv_bfloat162 *>(orow0 + c) = __floats2bfloat162_rn(o[j][0] * inv0, o[j][1] * inv0);
        if (v1) *reinterpret_cast<__nv_bfloat162 *>(orow1 + c) = __floats2bfloat162_rn(o[j][2] * inv1, o[j][3] * inv1);
    }
}

template <int HD>
void launch(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T, int L, int nh,
            int nkv, int q_pos0, int k_pos0, int window, cudaStream_t s) {
    const size_t smem = Smem<HD>::bytes;
    check(cudaFuncSetAttribute(attn_prefill_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(smem)),
          "attention_prefill (smem)");
    const float sscale = kLog2e / std::sqrt(float(HD));
    const dim3 grid(unsigned((T + kBr - 1) / kBr), unsigned(nh), unsigned(B));
    attn_prefill_kernel<HD><<<grid, kThreads, smem, s>>>(q, k, v, out, T, L, nh, nkv, q_pos0,
                                                         k_pos0, window, sscale);
    check_launch("attention_prefill");
}


}  // namespace

void attention_prefill(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T,
                       int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                       cudaStream_t s) {
    if (B < 1 || T < 1 || L < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || (hd != 64 && hd != 128) ||
        q_pos0 < 0 || k_pos0 < 0 || window < 0 || B > 65535 || nh > 65535)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "attention_prefill: unsupported sizes B=" + std::to_string(B) +
                        " T=" + std::to_string(T) + " L=" + std::to_string(L) +
                        " nh=" + std::to_string(nh) + " nkv=" + std::to_string(nkv) +
                        " hd=" + std::to_string(hd) + " q_pos0=" + std::to_string(q_pos0) +
                        " k_pos0=" + std::to_string(k_pos0) + " window=" + std::to_string(window) +
                        " (hd 64 or 128, nh % nkv == 0)");
    if (!q || !k || !v || !out) throw Error(JET_ERR_INVALID_ARGUMENT, "attention_prefill: null pointer");
    if (!aligned16(q) || !aligned16(k) || !aligned16(v) || !aligned16(out))
        throw Error(JET_ERR_INVALID_ARGUMENT, "attention_prefill: tensors must be 16-byte aligned");
    if (hd == 128 && attention_prefill_sm90_available())
        attention_prefill_sm90(q, k, v, out, B, T, L, nh, nkv, hd, q_pos0, k_pos0, window, s);
    else
        attention_prefill_mma(q, k, v, out, B, T, L, nh, nkv, hd, q_pos0, k_pos0, window, s);
}

void attention_prefill_mma(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T,
                           int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                           cudaStream_t s) {
    if (hd == 128)
        launch<128>(q, k, v, out, B, T, L, nh, nkv, q_pos0, k_pos0, window, s);
    else
        launch<64>(q, k, v, out, B, T, L, nh, nkv, q_pos0, k_pos0, window, s);
}

}  // namespace jet::cuda
