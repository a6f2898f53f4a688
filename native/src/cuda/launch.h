// cuda/launch.h - kernel launches with Programmatic Dependent Launch (PDL; sm_90 and newer).
//
// A kernel launched with launch_pdl() may start while the kernel before it in the stream is
// still draining: its blocks run their prologue (e.g. loading weights, which no kernel writes)
// and then wait in pdl_wait() until the previous kernel has finished and its writes are visible.
// Inside a CUDA graph (decode) this hides most of the gap between two small kernels - the
// launch, the ramp-up of the first loads and the drain of the last blocks.
//
// Contract for a kernel launched with launch_pdl():
//   - it calls pdl_trigger() only after pdl_wait(), which lets the next kernel start launching;
//   - before pdl_wait() it writes nothing and reads only data that the kernel just before it in
//     the stream does not write (weights; a recurrent state that only this layer's kernel
//     writes). Every kernel before that one has finished: it triggered after its own wait.
// pdl_wait() / pdl_trigger() are no-ops when the kernel was launched without PDL (older GPUs,
// JET_CUDA_PDL=0, nvcc < 11.8 device code) - the launch is then an ordinary stream-ordered one.
// Only for .cu files (device code).
#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include <cuda_runtime.h>

#include "cuda/kernels.h"

namespace jet::cuda {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

template <typename... Params, typename... Args>
void launch_pdl(const char *what, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                cudaStream_t s, Args &&...args) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s;
    cfg.attrs = attr;
    cfg.numAttrs = pdl_enabled() ? 1 : 0;
    check(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...), what);
}

// The current device's SM count; `what` names the caller in an error ("<what> (SM count)").
inline int sm_count(const char *what) {
    int dev = 0, sms = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) check(e, (std::string(what) + " (SM count)").c_str());
    return sms;
}

// How many blocks of `kernel` (`threads` threads each, no dynamic shared memory) the GPU runs at
// once, at least 1: the grid of a persistent kernel.
template <typename... Params>
int resident_blocks(const char *what, void (*kernel)(Params...), int threads) {
    int per_sm = 0;
    const cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0);
    if (e != cudaSuccess) check(e, (std::string(what) + " (occupancy)").c_str());
    return std::max(1, sm_count(what) * per_sm);
}

}  // namespace jet::cuda
