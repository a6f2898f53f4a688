// attention_prefill_impl.h - the two implementations behind attention_prefill (kernels.h), for
// the dispatcher in attention_prefill.cu and for the tests, which check each path on its own.
//   attention_prefill_mma:  FlashAttention-2 style, mma.sync (sm_80+), hd 64 / 128.
//   attention_prefill_sm90: FlashAttention-3 style, wgmma (sm_90a builds on sm_90), hd 128.
// Same contract as attention_prefill; arguments already validated by the caller.
#pragma once

#include "cuda/kernels.h"

namespace jet::cuda {

void attention_prefill_mma(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T,
                           int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                           cudaStream_t s);

// True when this build holds the sm_90a kernel (JET_CUDA_SM90A, nvcc >= 12) and the current
// device is sm_90.
bool attention_prefill_sm90_available();
// Throws jet::Error when !attention_prefill_sm90_available() or hd != 128.
void attention_prefill_sm90(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T,
                            int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                            cudaStream_t s);

// Test hook for the shared-memory layouts and wgmma descriptors of the sm90 kernel: with a
// [64 x 128], bk [128 x 128], p [64 x 128], bv [128 x 128] (row-major bf16, device), writes
// s_out = a bk^T and o_out = p bv ([64 x 128] fp32 each) through the kernel's own loads,
// descriptors and register fragments. Throws when !attention_prefill_sm90_available().
void attention_prefill_sm90_gemm_probe(const bf16 *a, const bf16 *bk, const bf16 *p, const bf16 *bv,
                                       float *s_out, float *o_out, cudaStream_t s);

}  // namespace jet::cuda
