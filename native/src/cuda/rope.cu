// rope.cu - attention input epilogue: q|k|v bias add, rotate-half RoPE on q and k at absolute
// positions (angles in fp32 from double-precision inverse frequencies, like the official code's
// fp32 inv_freq), bf16 out in the layout of the attention kernels.
#include "cuda/ops.h"

namespace jet::cuda {

namespace {

// One block per token; threads loop over (head, j < hd/2) pairs of q and k, then over v.
__global__ void bias_rope_split_kernel(const float *__restrict__ qkv, const bf16 *__restrict__ bias,
                                       const int32_t *__restrict__ pos, bf16 *__restrict__ q,
                                       bf16 *__restrict__ k, bf16 *__restrict__ v, int nh, int nkv,
                                       int hd, double ln_theta) {
    const int t = blockIdx.x;
    const int width = (nh + 2 * nkv) * hd;
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
            dst = k + int64_t(t) * nkv * hd;
            col = c - nh * hd;
        }
        dst[col] = __float2bfloat16(o1);
        dst[col + half] = __float2bfloat16(o2);
    }
    const int vbase = (nh + nkv) * hd;
    for (int i = threadIdx.x; i < nkv * hd; i += blockDim.x)
        v[int64_t(t) * nkv * hd + i] = __float2bfloat16(row[vbase + i] + __bfloat162float(bias[vbase + i]));
}

}  // namespace

void bias_rope_split(const float *qkv, const bf16 *bias, const int32_t *pos, bf16 *q, bf16 *k,
                     bf16 *v, int T, int nh, int nkv, int hd, float theta, cudaStream_t s) {
    if (T <= 0) return;
    bias_rope_split_kernel<<<T, 256, 0, s>>>(qkv, bias, pos, q, k, v, nh, nkv, hd, log(double(theta)));
    check_launch("bias_rope_split");
}

}  // namespace jet::cuda
