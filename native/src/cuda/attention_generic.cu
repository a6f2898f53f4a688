// attention_generic.cu - a simple, shape-generic causal / sliding-window GQA attention (prefill
// and decode) for head dims that the fused kernels (attention_prefill.cu, attention_decode.cu)
// do not specialise. One warp per (sequence, query, head); each lane owns hd/32 dims; the
// softmax is computed online in fp32 one key at a time. Correct for any hd <= 256, not fast.
#include <cfloat>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kMaxPerLane = 8;  // hd <= 256

// Attention of one query row against keys rows [0, L) of kb/vb (row stride nkv*hd), where
// row j holds absolute position pos_of(j) (< 0: empty). Writes out[hd].
template <class PosOf>
__device__ void attend(const bf16 *__restrict__ qr, const bf16 *__restrict__ kb,
                       const bf16 *__restrict__ vb, bf16 *__restrict__ out, int L, int kvh,
                       int nkv, int hd, int qp, int window, PosOf pos_of) {
    const int lane = threadIdx.x % 32;
    const float scale = rsqrtf(float(hd));
    float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
        const int dd = lane + 32 * i;
        qv[i] = dd < hd ? __bfloat162float(qr[dd]) * scale : 0.0f;
        acc[i] = 0.0f;
    }
    float m = -FLT_MAX, l = 0.0f;
    const int64_t row = int64_t(nkv) * hd;
    for (int j = 0; j < L; ++j) {
        const int p = pos_of(j);
        if (p < 0 || p > qp || (window > 0 && qp - p >= window)) continue;
        const bf16 *kr = kb + j * row + int64_t(kvh) * hd;
        float dot = 0.0f;
#pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) {
            const int dd = lane + 32 * i;
            if (dd < hd) dot += qv[i] * __bfloat162float(kr[dd]);
        }
        dot = warp_sum(dot);
        const float mn = fmaxf(m, dot);
        const float corr = __expf(m - mn), e = __expf(dot - mn);
        l = l * corr + e;
        const bf16 *vr = vb + j * row + int64_t(kvh) * hd;
#pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) {
            const int dd = lane + 32 * i;
            if (dd < hd) acc[i] = acc[i] * corr + e * __bfloat162float(vr[dd]);
        }
        m = mn;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
        const int dd = lane + 32 * i;
        if (dd < hd) out[dd] = __float2bfloat16(acc[i] * inv);
    }
}

struct LinearPos {
    int base;
    __device__ int operator()(int j) const { return base + j; }
};
// Ring buffer of L rows: row j holds the newest position p <= qp with p % L == j.
struct RingPos {
    int qp, L;
    __device__ int operator()(int j) const { return qp - ((qp - j) % L + L) % L; }
};

__global__ void prefill_kernel(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B,
                               int T, int L, int nh, int nkv, int hd, int q_pos0, int k_pos0,
                               int window) {
    const int64_t job = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (job >= int64_t(B) * T * nh) return;
    const int h = int(job % nh), t = int((job / nh) % T), b = int(job / (int64_t(nh) * T));
    const int64_t qrow = (int64_t(b) * T + t) * nh * hd + int64_t(h) * hd;
    const int64_t kvoff = int64_t(b) * L * nkv * hd;
    attend(q + qrow, k + kvoff, v + kvoff, out + qrow, L, h / (nh / nkv), nkv, hd, q_pos0 + t,
           window, LinearPos{k_pos0});
}

__global__ void decode_kernel(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                              bf16 *out, int B, int L, int nh, int nkv, int hd, int window,
                              int ring, const int32_t *seqs) {
    const int64_t job = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    if (job >= int64_t(B) * nh) return;
    const int h = int(job % nh), b = int(job / nh);
    const int qp = qpos[b];
    const int64_t qrow = int64_t(b) * nh * hd + int64_t(h) * hd;
    const int64_t kvoff = int64_t(seqs ? seqs[b] : b) * L * nkv * hd;
    const int kvh = h / (nh / nkv);
    if (ring)
        attend(q + qrow, k + kvoff, v + kvoff, out + qrow, L, kvh, nkv, hd, qp, window,
               RingPos{qp, L});
    else
        attend(q + qrow, k + kvoff, v + kvoff, out + qrow, L, kvh, nkv, hd, qp, window,
               LinearPos{0});
}

void validate(int B, int T, int L, int nh, int nkv, int hd) {
    if (B < 1 || T < 1 || L < 1 || nh < 1 || nkv < 1 || nh % nkv != 0 || hd < 1 ||
        hd > 32 * kMaxPerLane)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "attention_generic: unsupported shape (needs hd <= 256, nh % nkv == 0)");
}

}  // namespace

void attention_prefill_generic(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B,
                               int T, int L, int nh, int nkv, int hd, int q_pos0, int k_pos0,
                               int window, cudaStream_t s) {
    validate(B, T, L, nh, nkv, hd);
    const int64_t jobs = int64_t(B) * T * nh;
    prefill_kernel<<<int((jobs + 3) / 4), 128, 0, s>>>(q, k, v, out, B, T, L, nh, nkv, hd, q_pos0,
                                                       k_pos0, window);
    check_launch("attention_prefill_generic");
}

void attention_decode_generic(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                              bf16 *out, int B, int L, int nh, int nkv, int hd, int window,
                              int ring, cudaStream_t s, const int32_t *seqs) {
    validate(B, 1, L, nh, nkv, hd);
    const int64_t jobs = int64_t(B) * nh;
    decode_kernel<<<int((jobs + 3) / 4), 128, 0, s>>>(q, k, v, qpos, out, B, L, nh, nkv, hd,
                                                      window, ring, seqs);
    check_launch("attention_decode_generic");
}

}  // namespace jet::cuda
