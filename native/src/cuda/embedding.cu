// embedding.cu - token embedding lookup: bf16 table rows to the fp32 residual stream.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace jet::cuda {

namespace {
__global__ void embedding_kernel(const bf16 *__restrict__ table, const int32_t *__restrict__ ids,
                                 float *__restrict__ x, int D) {
    const int t = blockIdx.x;
    const bf16 *row = table + int64_t(ids[t]) * D;
    float *out = x + int64_t(t) * D;
    for (int i = threadIdx.x; i < D; i += blockDim.x) out[i] = __bfloat162float(row[i]);
}
}  // namespace

void embedding(const bf16 *table, const int32_t *ids, float *x, int T, int D, cudaStream_t s) {
    if (T <= 0) return;
    embedding_kernel<<<T, 256, 0, s>>>(table, ids, x, D);
    check_launch("embedding");
}

}  // namespace jet::cuda
