// cpu/ops.h - the CPU engine's operators, float32, row-major, token-major ([T, channels]).
// One operator per file in native/src/cpu/ (matmul.cpp, rmsnorm.cpp, rope.cpp, attention.cpp,
// gated_delta.cpp, dynamic_conv.cpp, activations.cpp, ...). Each is multithreaded through
// cpu/threads.h and has a GoogleTest in native/tests/cpu/ and a benchmark in native/bench/.
#pragma once

#include <cstdint>

namespace jet::cpu {

// y[T, N] = x[T, K] * W[N, K]^T + bias[N] (bias may be null). W is a PyTorch Linear weight.
void matmul(const float *x, const float *W, const float *bias, float *y, int T, int K, int N);
// The same, always with the built-in kernels (matmul uses OpenBLAS for T > 3 when the build
// found it: JET_BLAS in cmake/JetCpuOps.cmake). For tests and benchmarks.
void matmul_builtin(const float *x, const float *W, const float *bias, float *y, int T, int K,
                    int N);
// Which GEMM matmul uses for many rows: "OpenBLAS <version>" or "built-in".
const char *matmul_backend();
// matmul with W in bfloat16 (the raw 16-bit patterns of a bf16 checkpoint, e.g. a memory-mapped
// safetensors tensor): half the bytes of fp32 weights, so decode, which is bound by reading W,
// is up to twice as fast, and W needs no fp32 copy. x, bias and y stay fp32; sums are fp32.
void matmul_bf16(const float *x, const uint16_t *W, const float *bias, float *y, int T, int K,
                 int N);
// matmul with weight-only quantized W [N, K] (docs/quantization.md): int8 values (matmul_q8) or
// FP8 e4m3fn bytes (matmul_fp8) and fp32 scales [N, K / group] (group divides K; group == K:
// one scale per output channel): W[n][k] = q[n][k] * scale[n * (K / group) + k / group].
// x, bias and y fp32; sums fp32 (cpu/matmul_q8.cpp).
void matmul_q8(const float *x, const int8_t *W, const float *scale, int group, const float *bias,
               float *y, int T, int K, int N);
void matmul_fp8(const float *x, const uint8_t *W, const float *scale, int group,
                const float *bias, float *y, int T, int K, int N);
// dst[i] = the float32 value of the bfloat16 bits src[i] (exact).
void bf16_to_f32(const uint16_t *src, float *dst, int64_t n);

// y = w * x / sqrt(mean(x^2) + eps) per row of D. y may alias x.
void rmsnorm(const float *x, const float *w, float *y, int T, int D, float eps);

// x <- silu(x) in place.
void silu(float *x, int64_t n);
// out[i] = silu(gate[i]) * up[i]. out may alias gate.
void silu_mul(const float *gate, const float *up, float *out, int64_t n);

// RoPE in place on x [T, n_heads * head_dim], rotate-half layout (docs/model.md section 4.4), token i at
// absolute position positions[i].
void rope(float *x, int T, int n_heads, int head_dim, const int32_t *positions, double theta);

// Causal (optionally sliding-window) GQA attention of T queries against L key/value slots.
// q [T, nh*hd]; k, v [L, nkv*hd]; qpos[T] absolute positions of the queries; kpos[L] absolute
// position of each slot, or -1 for an empty slot (slots may be in any order: ring buffers are
// fine). Query i sees slot j iff kpos[j] >= 0, kpos[j] <= qpos[i] and (window == 0 or
// qpos[i] - kpos[j] < window). Scale 1/sqrt(hd). out [T, nh*hd].
void attention(const float *q, const float *k, const float *v, const int32_t *qpos,
               const int32_t *kpos, float *out, int T, int L, int nh, int nkv, int hd,
               int window);

// Each head vector of D values: x <- x / sqrt(sum x^2 + eps). x [T, H*D].
void l2norm_heads(float *x, int T, int H, int D, float eps);

// JetBlock gates: beta = sigmoid(b), g = -exp(A_log) * softplus(a + dt_bias). a, b [T, H].
void jet_gates(const float *a, const float *b, const float *A_log, const float *dt_bias,
               float *g, float *beta, int T, int H);

// Gated delta rule (docs/model.md section 5.4). q, k [T, H, dK] (L2-normalised); v [T, H, dV]; g, beta [T, H];
// state [H, dK, dV] float32, read and updated; o [T, H, dV].
void gated_delta_recurrent(const float *q, const float *k, const float *v, const float *g,
                           const float *beta, float *state, float *o, int T, int H, int dK,
                           int dV, float scale);
// The same function computed chunk by chunk (docs/model.md section 5.6, WY/UT form), chunk 64 by default.
void gated_delta_chunked(const float *q, const float *k, const float *v, const float *g,
                         const float *beta, float *state, float *o, int T, int H, int dK,
                         int dV, float scale, int chunk = 64);

// Dynamic causal convolution on V (docs/model.md section 5.3). u [T, C] pre-conv values; kernels [T, C, W]
// (the generator output per token, channel-major); state [C, W] the last W inputs, oldest
// first (zeros at sequence start), read and updated; y [T, C] = silu(conv).
void dynamic_conv(const float *u, const float *kernels, float *state, float *y, int T, int C,
                  int W);

// o <- RMSNorm_eps(o) * w * silu(G) per head of D values. o, G [T, H*D], w [D].
void gated_rmsnorm(float *o, const float *G, const float *w, int T, int H, int D, float eps);

// x[T, D] = table[ids[t], :] for a [V, D] table.
void embedding(const float *table, const int32_t *ids, float *x, int T, int D);
// The same from a bf16 table (raw 16-bit patterns), widened to fp32 (exact).
void embedding_bf16(const uint16_t *table, const int32_t *ids, float *x, int T, int D);

}  // namespace jet::cpu
