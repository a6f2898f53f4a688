// cuda/common.cuh - the small device helpers the kernels share (one definition each): the
// activations and gates of docs/model.md (silu, softplus with torch's threshold, sigmoid),
// bf16 rounding and packing, a warp sum, log2(e) for exp2-based softmax, and the 16-byte
// alignment test of vectorised launchers. Only for .cu files (device code).
#pragma once

#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace jet::cuda {

// log2(e): softmax kernels scale scores by it and use exp2.
constexpr float kLog2e = 1.4426950408889634f;

// Whether a pointer is 16-byte aligned (the vectorised loads of uint4 / cp.async 16).
inline bool aligned16(const void *p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// silu(x) = x * sigmoid(x).
__device__ __forceinline__ float silu(float x) { return x / (1.0f + __expf(-x)); }

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + __expf(-x)); }

// softplus(x) = log(1 + e^x), with torch's threshold: x itself above 20.
__device__ __forceinline__ float softplus(float x) { return x > 20.0f ? x : log1pf(__expf(x)); }

// x rounded to bf16 and back (a value as a bf16 tensor would hold it).
__device__ __forceinline__ float round_bf16(float x) {
    return __bfloat162float(__float2bfloat16(x));
}

// Two floats rounded to bf16 and packed into one 32-bit register (lo in the low half).
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<unsigned *>(&v);
}

// Sum of v over the 32 lanes of a warp (butterfly: every lane gets the sum).
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

}  // namespace jet::cuda
