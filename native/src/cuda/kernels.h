// cuda/kernels.h - the CUDA kernels of the mixers: fused causal / sliding-window attention
// (prefill), flash-decoding (decode), the chunked gated delta rule (prefill), its recurrent step
// (decode) and the dynamic causal convolution on V. One op per .cu file of the same name.
//
// Conventions (as cuda/ops.h): host launchers taking device pointers and a stream; they launch
// asynchronously, throw jet::Error(JET_ERR_INVALID_ARGUMENT) for sizes they cannot serve and
// jet::Error(JET_ERR_DEVICE) when a launch fails. Layouts are token-major like cpu/ops.h, with a
// leading batch dimension B: "[B, T, N]" is B sequences of T rows of N values, contiguous.
// All batched sequences of one call have the same T. Scratch memory is passed in by the caller
// (`workspace`, at least *_workspace_bytes() bytes, 256-byte aligned, any content); a launcher
// never allocates. This header compiles with g++ as well as nvcc.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace jet::cuda {

using bf16 = __nv_bfloat16;

// ---------------------------------------------------------------- attention_prefill.cu
// Causal GQA attention of T new queries per sequence against L key/value rows, RoPE already
// applied. bf16 in, fp32 accumulation (online softmax), bf16 out, scale 1/sqrt(hd).
//   q   bf16 [B, T, nh*hd]      query i of sequence b is at absolute position q_pos0 + i
//   k,v bf16 [B, L, nkv*hd]     row j holds the key/value of absolute position k_pos0 + j
//   out bf16 [B, T, nh*hd]
// Query at position p sees row j iff k_pos0 + j <= p and (window == 0 or p - (k_pos0+j) < window).
// Full attention: k/v is the sequence's cache from position 0 (k_pos0 = 0, L = q_pos0 + T, the
// new rows already written). Sliding window with a ring cache: the caller lays the previous
// window rows and the new rows out contiguously (k_pos0 = their first position) - or, for a
// first prefill, passes the new k/v directly (k_pos0 = q_pos0 = 0, L = T).
// Supports hd in {64, 128}, nh % nkv == 0. q head h reads kv head h / (nh / nkv).
void attention_prefill(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B, int T,
                       int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                       cudaStream_t s);

// ---------------------------------------------------------------- attention_decode.cu
// Flash-decoding: one new query per sequence against its cache, the cache split across blocks,
// then the partial softmaxes combined.
//   q    bf16 [B, nh*hd]          RoPE applied
//   k,v  bf16 [*, L, nkv*hd]      per-sequence caches of L rows (capacity), contiguous; row b
//                                 reads sequence seqs[b]'s (seqs on the device; null: b)
//   qpos int32 [B] (device)       absolute position of each query; its own k/v already written
//   out  bf16 [B, nh*hd]
// ring == 0: linear cache, row j holds position j (rows > qpos[b] are ignored).
// ring != 0: ring buffer, row j holds the newest position p <= qpos[b] with p % L == j
//            (ignored when p < 0). Sliding-window layers use ring = 1 with L >= window.
// window > 0 additionally hides positions p with qpos[b] - p >= window.
// Supports hd in {64, 128}, nh % nkv == 0 and nh / nkv <= 8.
size_t attention_decode_workspace_bytes(int B, int L, int nh, int hd);
void attention_decode(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                      bf16 *out, int B, int L, int nh, int nkv, int hd, int window, int ring,
                      void *workspace, size_t workspace_bytes, cudaStream_t s,
                      const int32_t *seqs = nullptr);

// ---------------------------------------------------------------- gated_delta_chunk.cu
// Chunked gated delta rule for prefill (spec 5; chunk 64, WY/UT form, tensor cores, fp32 state
// between chunks), identical in math to T recurrent steps:
//   q, k  bf16 [B, T, H, dK]      L2-normalised (cuda/ops.h jet_qk_gates)
//   v     bf16 [B, T, H, dV]
//   g     fp32 [B, T, H]          log decay (<= 0); beta fp32 [B, T, H] in (0, 1)
//   state fp32 [B, H, dK, dV]     read (initial state; zeros at sequence start) and updated
//   o     fp32 [B, T, H, dV]      o_t = scale * S_t^T q_t
// Supports dK % 16 == 0 with dK <= 256 and dV % 16 == 0. dK = 256 needs ~197 KB of shared memory
// per block: fine on sm_90 (227 KB), more than sm_80's 163 KB, where it throws
// JET_ERR_INVALID_ARGUMENT (dK <= 192 runs on both).
size_t gated_delta_chunk_workspace_bytes(int B, int T, int H, int dK, int dV);
void gated_delta_chunk(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                       const float *beta, float *state, float *o, int B, int T, int H, int dK,
                       int dV, float scale, void *workspace, size_t workspace_bytes,
                       cudaStream_t s);

// ---------------------------------------------------------------- gated_delta_step.cu
// One recurrent step (spec 4.4) for each of B sequences (decode):
//   q, k  bf16 [B, H, dK] (L2-normalised), v bf16 [B, H, dV], g, beta fp32 [B, H]
//   state fp32 [*, H, dK, dV] read and updated: row b's is sequence seqs[b] (device; null: b);
//   o fp32 [B, H, dV].
// Supports dK <= 256 (any), dV any.
void gated_delta_step(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                      const float *beta, float *state, float *o, int B, int H, int dK, int dV,
                      float scale, cudaStream_t s, const int32_t *seqs = nullptr);

// The JetBlock's decode work after its projections, fused into one launch (spec 4.2-4.4, one
// token per sequence): q, k = l2norm(silu(.)) per head (rounded to bf16 as jet_qk_gates stores
// them), the gates, the dynamic conv on V with its state (as dynamic_conv with T = 1, its SiLU
// output rounded to bf16), then the step above. Same results as jet_qk_gates + dynamic_conv +
// gated_delta_step.
//   proj   fp32 [B, ld]: q [H*dK] at column 0, k [H*dK] at column H*dK, u (the pre-conv v)
//          [H*dV] at u_col, a [H] and b [H] at ab_col
//   kern   fp32 [B, ldk]: the generator output without its bias, [C][W] per token (C = H*dV);
//          bias bf16 [C*W] (may be null)
//   A_log, dt_bias fp32 [H]; conv fp32 [*, C, W] and state fp32 [*, H, dK, dV] read and
//   updated, row b's being sequence seqs[b] (device; null: b); o fp32 [B, H, dV].
//   Supports dK <= 256, 1 <= W <= 8.
void jetblock_decode_step(const float *proj, int ld, int u_col, int ab_col, const float *kern,
                          int ldk, const bf16 *bias, const float *A_log, const float *dt_bias,
                          float *conv, int W, float *state, float *o, int B, int H, int dK, int dV,
                          float scale, cudaStream_t s, const int32_t *seqs = nullptr);

// ---------------------------------------------------------------- dynamic_conv.cu
// Dynamic causal convolution on V (spec 4.3) with SiLU, for prefill (T > 1) and decode (T = 1):
//   u      fp32 [B, T, C] with row stride ldu (>= C): the pre-conv values (v_proj output)
//   kern   fp32 [B, T, C*W] with row stride ldk (>= C*W): the generator output w2 silu(w1 x)
//          WITHOUT its bias, read as [C][W] per token (channel-major, j = W-1 is the current
//          token); bias bf16 [C*W] (w2.bias) is added here (may be null)
//   state  fp32 [*, C, W]        the last W inputs u, oldest first (zeros at sequence start);
//                                read and updated; row b's is sequence seqs[b] (device; null: b)
//   y      bf16 [B, T, C]        silu(sum_j kern[c][j] * u[t-W+1+j][c]) - the gated delta's v
// Supports 1 <= W <= 8.
void dynamic_conv(const float *u, int ldu, const float *kern, int ldk, const bf16 *bias,
                  float *state, bf16 *y, int B, int T, int C, int W, cudaStream_t s,
                  const int32_t *seqs = nullptr);

}  // namespace jet::cuda
