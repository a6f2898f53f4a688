// rmsnorm.cu - RMSNorm (fp32 math, bf16 output for the next GEMM) and the JetBlock's gated
// per-head RMSNorm. The residual add is not here: cuBLAS accumulates o_proj/down_proj into the
// fp32 residual stream (beta = 1), which is cheaper than any separate pass.
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"

namespace jet::cuda {

namespace {

// Sum over the block (blockDim.x a multiple of 32, at most 1024).
__device__ float block_sum(float v) {
    __shared__ float part[32];
    v = warp_sum(v);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // part[] may still be read by a previous call
    if (lane == 0) part[warp] = v;
    __syncthreads();
    const int nw = blockDim.x / 32;
    v = lane < nw ? part[lane] : 0.0f;
    v = warp_sum(v);
    return v;
}

__global__ void rmsnorm_kernel(const float *__restrict__ x, const bf16 *__restrict__ w,
                               bf16 *__restrict__ y, int D, float eps) {
    pdl_wait();
    pdl_trigger();
    const float *row = x + int64_t(blockIdx.x) * D;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) ss += row[i] * row[i];
    ss = block_sum(ss);
    const float r = rsqrtf(ss / float(D) + eps);
    bf16 *out = y + int64_t(blockIdx.x) * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x)
        out[i] = __float2bfloat16(row[i] * r * __bfloat162float(w[i]));
}

// One block per (token, head).
__global__ void gated_rmsnorm_kernel(const float *__restrict__ o, const float *__restrict__ G,
                                     int ldg, const bf16 *__restrict__ w, bf16 *__restrict__ y,
                                     int H, int D, float eps) {
    const int t = blockIdx.x / H, h = blockIdx.x % H;
    const float *orow = o + (int64_t(t) * H + h) * D;
    const float *grow = G + int64_t(t) * ldg + int64_t(h) * D;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) ss += orow[i] * orow[i];
    ss = block_sum(ss);
    const float r = rsqrtf(ss / float(D) + eps);
    bf16 *out = y + (int64_t(t) * H + h) * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        const float g = grow[i];
        const float sg = g / (1.0f + __expf(-g));
        out[i] = __float2bfloat16(orow[i] * r * __bfloat162float(w[i]) * sg);
    }
}

int threads_for(int D) {
    int t = 32;
    while (t < D && t < 1024) t *= 2;
    return t;
}

}  // namespace

void rmsnorm(const float *x, const bf16 *w, bf16 *y, int T, int D, float eps, cudaStream_t s) {
    if (T <= 0) return;
    launch_pdl("rmsnorm", rmsnorm_kernel, dim3(T), dim3(threads_for(D / 2)), 0, s, x, w, y, D, eps);
}

void gated_rmsnorm(const float *o, const float *G, int ldg, const bf16 *w, bf16 *y, int T, int H,
                   int D, float eps, cudaStream_t s) {
    if (T <= 0) return;
    gated_rmsnorm_kernel<<<T * H, threads_for(D), 0, s>>>(o, G, ldg, w, y, H, D, eps);
    check_launch("gated_rmsnorm");
}

}  // namespace jet::cuda
