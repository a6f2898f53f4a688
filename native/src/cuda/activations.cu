// activations.cu - SiLU-and-multiply (the MLP) and the fp32 -> bf16 conversions that feed GEMMs.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace jet::cuda {

namespace {


__global__ void silu_mul_kernel(const float *__restrict__ gu, bf16 *__restrict__ out, int N,
                                int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = i / N, n = i % N;
        const float g = gu[t * 2 * N + n], u = gu[t * 2 * N + N + n];
        out[i] = __float2bfloat16(silu(g) * u);
    }
}

template <bool kSilu>
__global__ void convert_kernel(const float *__restrict__ x, int ldx, bf16 *__restrict__ out,
                               int N, int64_t total) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t t = i / N, n = i % N;
        const float v = x[t * ldx + n];
        out[i] = __float2bfloat16(kSilu ? silu(v) : v);
    }
}

int blocks_for(int64_t total) {
    const int64_t b = (total + 255) / 256;
    return int(b < 65536 ? b : 65536);
}

}  // namespace

void silu_mul(const float *gu, bf16 *out, int T, int N, cudaStream_t s) {
    const int64_t total = int64_t(T) * N;
    if (total <= 0) return;
    silu_mul_kernel<<<blocks_for(total), 256, 0, s>>>(gu, out, N, total);
    check_launch("silu_mul");
}

void silu_to_bf16(const float *x, int ldx, bf16 *out, int T, int N, cudaStream_t s) {
    const int64_t total = int64_t(T) * N;
    if (total <= 0) return;
    convert_kernel<true><<<blocks_for(total), 256, 0, s>>>(x, ldx, out, N, total);
    check_launch("silu_to_bf16");
}

void to_bf16(const float *x, int ldx, bf16 *out, int T, int N, cudaStream_t s) {
    const int64_t total = int64_t(T) * N;
    if (total <= 0) return;
    convert_kernel<false><<<blocks_for(total), 256, 0, s>>>(x, ldx, out, N, total);
    check_launch("to_bf16");
}

}  // namespace jet::cuda
