// jet_prep.cu - the JetBlock projection epilogue (docs/model.md sections 5.1-5.2): q, k = L2-normalised SiLU per
// head, and the gates beta = sigmoid(b), g = -exp(A_log) * softplus(a + dt_bias), all in fp32.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace jet::cuda {

namespace {


// One warp per (token, head) of q or k; the last warp-sized job of a token does the gates.
__global__ void jet_qk_gates_kernel(const float *__restrict__ proj, int ld, int ab_col,
                                    const float *__restrict__ A_log,
                                    const float *__restrict__ dt_bias, bf16 *__restrict__ q,
                                    bf16 *__restrict__ k, float *__restrict__ g,
                                    float *__restrict__ beta, int T, int H, int dK) {
    const int warps_per_block = blockDim.x / 32;
    const int64_t job = int64_t(blockIdx.x) * warps_per_block + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    const int jobs_per_token = 2 * H + 1;
    if (job >= int64_t(T) * jobs_per_token) return;
    const int t = int(job / jobs_per_token), j = int(job % jobs_per_token);
    const float *row = proj + int64_t(t) * ld;
    if (j < 2 * H) {
        const float *src = row + int64_t(j) * dK;  // q heads then k heads, contiguous
        float ss = 0.0f;
        for (int i = lane; i < dK; i += 32) {
            const float s = silu(src[i]);
            ss += s * s;
        }
        ss = warp_sum(ss);
        const float r = rsqrtf(ss + 1e-6f);
        bf16 *dst = (j < H ? q + (int64_t(t) * H + j) * dK : k + (int64_t(t) * H + (j - H)) * dK);
        for (int i = lane; i < dK; i += 32) dst[i] = __float2bfloat16(silu(src[i]) * r);
    } else {
        const float *a = row + ab_col, *b = a + H;
        for (int h = lane; h < H; h += 32) {
            const float x = a[h] + dt_bias[h];
            const float sp = softplus(x);
            g[int64_t(t) * H + h] = -__expf(A_log[h]) * sp;
            beta[int64_t(t) * H + h] = sigmoid(b[h]);
        }
    }
}

}  // namespace

void jet_qk_gates(const float *proj, int ld, int ab_col, const float *A_log,
                  const float *dt_bias, bf16 *q, bf16 *k, float *g, float *beta, int T, int H,
                  int dK, cudaStream_t s) {
    if (T <= 0) return;
    const int64_t jobs = int64_t(T) * (2 * H + 1);
    const int warps = 8;
    jet_qk_gates_kernel<<<int((jobs + warps - 1) / warps), warps * 32, 0, s>>>(
        proj, ld, ab_col, A_log, dt_bias, q, k, g, beta, T, H, dK);
    check_launch("jet_qk_gates");
}

}  // namespace jet::cuda
