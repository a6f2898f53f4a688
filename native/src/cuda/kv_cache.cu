// kv_cache.cu - moving attention K/V rows between the projection output and the per-sequence
// caches (linear for full attention, ring buffers for sliding-window layers), 16 bytes at a time
// when the row width allows.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace jet::cuda {

namespace {

// Copies `width` bf16 of one row; uses uint4 (8 bf16) when width % 8 == 0 (rows 16-byte aligned).
__device__ __forceinline__ void copy_row(const bf16 *src, bf16 *dst, int width) {
    if (width % 8 == 0) {
        const uint4 *s4 = reinterpret_cast<const uint4 *>(src);
        uint4 *d4 = reinterpret_cast<uint4 *>(dst);
        for (int i = threadIdx.x; i < width / 8; i += blockDim.x) d4[i] = s4[i];
    } else {
        for (int i = threadIdx.x; i < width; i += blockDim.x) dst[i] = src[i];
    }
}

__global__ void kv_store_kernel(const bf16 *__restrict__ src, bf16 *__restrict__ cache, int first,
                                int width, int pos0, int cap, bool ring) {
    const int i = first + blockIdx.x;
    const int p = pos0 + i;
    const int row = ring ? p % cap : p;
    copy_row(src + int64_t(i) * width, cache + int64_t(row) * width, width);
}

__global__ void kv_ring_gather_kernel(const bf16 *__restrict__ ring, bf16 *__restrict__ dst,
                                      int width, int pos0, int cap) {
    const int i = blockIdx.x;
    copy_row(ring + int64_t((pos0 + i) % cap) * width, dst + int64_t(i) * width, width);
}

}  // namespace

void kv_store(const bf16 *src, bf16 *cache, int T, int width, int pos0, int cap, bool ring,
              cudaStream_t s) {
    const int first = (ring && T > cap) ? T - cap : 0;
    if (T - first <= 0) return;
    kv_store_kernel<<<T - first, 128, 0, s>>>(src, cache, first, width, pos0, cap, ring);
    check_launch("kv_store");
}

void kv_ring_gather(const bf16 *ring, bf16 *dst, int n, int width, int pos0, int cap,
                    cudaStream_t s) {
    if (n <= 0) return;
    kv_ring_gather_kernel<<<n, 128, 0, s>>>(ring, dst, width, pos0, cap);
    check_launch("kv_ring_gather");
}

}  // namespace jet::cuda
