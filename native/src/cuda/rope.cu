// rope.cu - attention input epilogue: q|k|v bias add, rotate-half RoPE on q and k at absolute
// positions (angles in fp32 from double-precision inverse frequencies, like the official code's
// fp32 inv_freq), bf16 out in the layout of the attention kernels - or, for decode, k and v
// straight into the sequences' caches (no separate cache store launches).
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"

namespace jet::cuda {

namespace {

struct KvDest {
    bf16 *k, *v;             // bias_rope_split: [T, nkv*hd]; bias_rope_store: the caches
    const int32_t *seqs;     // bias_rope_store: cache slot of token t
    int64_t seq_stride;      // elements between two sequences' caches
    int cap;                 // rows per cache
    bool ring;
};

// One block per token; threads loop over (head, j < hd/2) pairs of q and k, then over v.
template <bool kStore>
__global__ void bias_rope_split_kernel(const float *__restrict__ qkv, const bf16 *__restrict__ bias,
                                       const int32_t *__restrict__ pos, bf16 *__restrict__ q,
                                       const KvDest kv, int nh, int nkv, int hd, double ln_theta) {
    pdl_wait();
    pdl_trigger();
    const int t = blockIdx.x;
    const int width = (nh + 2 * nkv) * hd;
    int64_t off = int64_t(t) * nkv * hd;  // of token t's k / v row
    if constexpr (kStore)
        off = int64_t(kv.seqs[t]) * kv.seq_stride +
              int64_t(kv.ring ? pos[t] % kv.cap : pos[t]) * nkv * hd;
    bf16 *k = kv.k + off, *v = kv.v + off;
    const float *row = qkv + int64_t(t) * width;
    const float p = float(pos[t]);
    const int half = hd / 2;
    const int pairs = (nh + nkv) * half;
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        const int head = i / half, j = i % half;
        const int c = head * hd + j;  // column of the first half within q|k
        const float a = row[c] + __bfloat162float(bias[c]);
        const float b = row[c + half] + __bfloat162float(bias[c + half]);
        // inv_freq = theta^(-2j/hd) rounded to fp32; angle pos * inv_freq in fp32 as torch does.
        const float inv_freq = float(exp(-ln_theta * double(2 * j) / double(hd)));
        float sn, cs;
        sincosf(p * inv_freq, &sn, &cs);
        const float o1 = a * cs - b * sn, o2 = b * cs + a * sn;
        bf16 *dst;
        int col;
        if (head < nh) {
            dst = q + int64_t(t) * nh * hd;
            col = c;
        } else {
            dst = k;
            col = c - nh * hd;
        }
        dst[col] = __float2bfloat16(o1);
        dst[col + half] = __float2bfloat16(o2);
    }
    const int vbase = (nh + nkv) * hd;
    for (int i = threadIdx.x; i < nkv * hd; i += blockDim.x)
        v[i] = __float2bfloat16(row[vbase + i] + __bfloat162float(bias[vbase + i]));
}

}  // namespace

void bias_rope_split(const float *qkv, const bf16 *bias, const int32_t *pos, bf16 *q, bf16 *k,
                     bf16 *v, int T, int nh, int nkv, int hd, float theta, cudaStream_t s) {
    if (T <= 0) return;
    KvDest kv{};
    kv.k = k, kv.v = v;
    launch_pdl("bias_rope_split", bias_rope_split_kernel<false>, dim3(T), dim3(256), 0, s, qkv,
               bias, pos, q, kv, nh, nkv, hd, log(double(theta)));
}

void bias_rope_store(const float *qkv, const bf16 *bias, const int32_t *pos, const int32_t *seqs,
                     bf16 *q, bf16 *kcache, bf16 *vcache, int64_t seq_stride, int cap, bool ring,
                     int T, int nh, int nkv, int hd, float theta, cudaStream_t s) {
    if (T <= 0) return;
    KvDest kv{};
    kv.k = kcache, kv.v = vcache, kv.seqs = seqs, kv.seq_stride = seq_stride, kv.cap = cap;
    kv.ring = ring;
    launch_pdl("bias_rope_store", bias_rope_split_kernel<true>, dim3(T), dim3(256), 0, s, qkv,
               bias, pos, q, kv, nh, nkv, hd, log(double(theta)));
}

}  // namespace jet::cuda
