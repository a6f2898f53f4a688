// sampling.cu - token choice on the GPU. Greedy decoding only needs the argmax of each logits row,
// which saves copying [rows, V] floats to the host when the caller wants tokens, not logits.
#include <cfloat>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace jet::cuda {

namespace {

__device__ __forceinline__ void better(float &bv, int &bi, float v, int i) {
    // NaN never wins; ties go to the lowest index.
    if (v > bv || (v == bv && i < bi)) {
        bv = v;
        bi = i;
    }
}

__global__ void argmax_kernel(const float *__restrict__ logits, int32_t *__restrict__ out, int V) {
    const float *row = logits + int64_t(blockIdx.x) * V;
    float bv = -FLT_MAX;
    int bi = V;
    for (int i = threadIdx.x; i < V; i += blockDim.x) better(bv, bi, row[i], i);
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        better(bv, bi, ov, oi);
    }
    __shared__ float sv[32];
    __shared__ int si[32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x / 32;
        bv = lane < nw ? sv[lane] : -FLT_MAX;
        bi = lane < nw ? si[lane] : V;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            better(bv, bi, ov, oi);
        }
        if (lane == 0) out[blockIdx.x] = bi < V ? bi : 0;
    }
}

}  // namespace

void argmax_rows(const float *logits, int32_t *out, int rows, int V, cudaStream_t s) {
    if (rows <= 0) return;
    argmax_kernel<<<rows, 1024, 0, s>>>(logits, out, V);
    check_launch("argmax_rows");
}

}  // namespace jet::cuda
