// cuda/kernels.h - every CUDA operator of the backend, one per .cu file of the same name: the
// cuBLAS GEMM wrapper with its fused prologues, the small elementwise / norm / RoPE / KV-cache
// operators, and the mixers' kernels - fused causal / sliding-window attention (prefill),
// flash-decoding (decode), the chunked gated delta rule (prefill), its recurrent step (decode)
// and the dynamic causal convolution on V. Device helpers shared by the kernels are in
// cuda/common.cuh; the error checks are implemented in check.cpp.
//
// Conventions: host launchers taking device pointers and a stream; they launch asynchronously
// and check the launch, throwing jet::Error(JET_ERR_INVALID_ARGUMENT) for sizes they cannot
// serve and jet::Error(JET_ERR_DEVICE) when a launch fails. Layouts are token-major like
// cpu/ops.h: a [T, N] matrix is T rows of N values; `ld` arguments are row strides in elements
// when a matrix is a column slice of a wider one. The mixers' kernels take a leading batch
// dimension B: "[B, T, N]" is B sequences of T rows of N values, contiguous; all batched
// sequences of one call have the same T. The residual stream and every intermediate that feeds a
// non-GEMM op are float32; inputs of GEMMs are bf16; weights are bf16, or FP8 / int8 with fp32
// scales for the linear layers (WeightRef). Scratch memory is passed in by the caller
// (`workspace`, at least *_workspace_bytes() bytes, 256-byte aligned, any content); a launcher
// never allocates - except gemm_wq's dequantize fallback (stream-ordered cudaMallocAsync).
// This header compiles with g++ as well as nvcc.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace jet::cuda {

using bf16 = __nv_bfloat16;

// Throws jet::Error(JET_ERR_DEVICE) naming `what` and the CUDA / cuBLAS error, unless ok.
void check(cudaError_t e, const char *what);
void check(cublasStatus_t s, const char *what);
// Throws if the last kernel launch failed (cudaGetLastError).
void check_launch(const char *what);
// Whether kernel launches on the current device use Programmatic Dependent Launch (cuda/launch.h):
// compute capability >= 9.0, a runtime that captures it into graphs (12.3+), JET_CUDA_PDL != 0.
bool pdl_enabled();

// ---------------------------------------------------------------- gemm.cu
// A linear layer's weight W [N, K] on the device: bf16, or weight-only quantized (issue 15) -
// FP8 e4m3fn or int8 values with fp32 scales [N, K / group] (row n, group g at n * K/group + g;
// group == K: one scale per output channel). The dequantized weight is float(q) * scale[n, k /
// group]. A `const bf16 *` converts implicitly, so bf16 call sites read as before.
enum class WeightType : uint8_t { BF16 = 0, F8E4M3 = 1, I8 = 2 };
struct WeightRef {
    const void *ptr = nullptr;
    WeightType type = WeightType::BF16;
    const float *scale = nullptr;  // quantized types: [N, K / group]
    int group = 0;                 // quantized types: K values per scale along K (0 = K)
    WeightRef() = default;
    WeightRef(const bf16 *w) : ptr(w) {}  // NOLINT: implicit on purpose
    WeightRef(const void *q, WeightType t, const float *s, int g) : ptr(q), type(t), scale(s), group(g) {}
    bool quantized() const { return type != WeightType::BF16; }
    const bf16 *bf() const { return static_cast<const bf16 *>(ptr); }
};
// Bytes per weight element.
inline int weight_bytes(WeightType t) { return t == WeightType::BF16 ? 2 : 1; }

// y[T, N] = x[T, K] * W[N, K]^T (+ beta * y), bf16 inputs, fp32 accumulation. x has row stride
// ldx (>= K). y is float32 (y_f32) or bf16, row stride N. beta = 1 accumulates into y (the
// residual add of o_proj / down_proj comes free). The handle must be bound to the stream.
// Quantized W (K % 16 == 0; group a multiple of 16 dividing K): T <= 4 the GEMV kernels with the
// scales on the fp32 partial sums; T > 4 the weight-only tensor-core GEMM (gemm_wq.cu).
void gemm(cublasHandle_t h, const bf16 *x, int ldx, const WeightRef &W, void *y, bool y_f32,
          int T, int K, int N, float beta);
// y = RMSNorm(x) W^T (+ beta * y): x fp32 [T, K] (row stride K), norm_w bf16 [K]; the same
// math and bf16 rounding as rmsnorm() followed by gemm(). For T <= 4 the norm is computed in the
// GEMV's prologue (one launch, xn untouched); otherwise xn (bf16 [T, K]) is the scratch for it.
void gemm_rmsnorm(cublasHandle_t h, const float *x, const bf16 *norm_w, float eps, bf16 *xn,
                  const WeightRef &W, void *y, bool y_f32, int T, int K, int N, float beta);
// y = silu(x) W^T (+ beta * y): x fp32 [T, K] with row stride ldx; like silu_to_bf16() then
// gemm(), fused for T <= 4; act (bf16 [T, K]) is the scratch otherwise.
void gemm_silu(cublasHandle_t h, const float *x, int ldx, bf16 *act, const WeightRef &W,
               void *y, bool y_f32, int T, int K, int N, float beta);
// y = (silu(gate) * up) W^T (+ beta * y): gu fp32 [T, 2K] holds gate then up (the MLP); like
// silu_mul() then gemm(), fused for T <= 4; act (bf16 [T, K]) is the scratch otherwise.
void gemm_silu_mul(cublasHandle_t h, const float *gu, bf16 *act, const WeightRef &W,
                   void *y, bool y_f32, int T, int K, int N, float beta);
// y = gated_rmsnorm(o, G) W^T (+ beta * y): o fp32 [T, H*D], G fp32 with row stride ldg, norm_w
// bf16 [D] (the JetBlock output norm, see gated_rmsnorm); like gated_rmsnorm() then gemm(), fused
// for T <= 4; act (bf16 [T, H*D]) is the scratch otherwise.
void gemm_gated_rmsnorm(cublasHandle_t h, const float *o, const float *G, int ldg,
                        const bf16 *norm_w, float eps, bf16 *act, const WeightRef &W,
                        void *y, bool y_f32, int T, int H, int D, int N, float beta);
// The weight-only GEMM behind gemm() for quantized W and T > 4 (gemm_wq.cu): y = x dequant(W)^T
// (+ beta * y) with bf16 tensor cores (mma m16n8k16) and fp32 accumulation; the int8 / fp8
// values convert exactly to bf16, the scales multiply the fp32 accumulator once per (row, group).
// Needs K % 16 == 0, group % 32 == 0 or group == K, 16-byte aligned x rows and W; otherwise
// (and for T >= kWqDequantT) W is dequantized to bf16 in stream-ordered scratch and cuBLAS runs.
void gemm_wq(cublasHandle_t h, const bf16 *x, int ldx, const WeightRef &W, void *y, bool y_f32,
             int T, int K, int N, float beta);

// ---------------------------------------------------------------- embedding.cu
// x[T, D] (fp32) = table[ids[t], :] (bf16 [V, D]).
void embedding(const bf16 *table, const int32_t *ids, float *x, int T, int D, cudaStream_t s);

// ---------------------------------------------------------------- rmsnorm.cu
// y[T, D] (bf16) = w * x / sqrt(mean(x^2) + eps), in fp32. x fp32, w bf16.
void rmsnorm(const float *x, const bf16 *w, bf16 *y, int T, int D, float eps, cudaStream_t s);
// JetBlock output norm (docs/model.md section 5.5): per head of D values of o [T, H*D] (fp32),
// y = RMSNorm_eps(o) * w * silu(G); G fp32 with row stride ldg; y bf16 [T, H*D].
void gated_rmsnorm(const float *o, const float *G, int ldg, const bf16 *w, bf16 *y, int T, int H,
                   int D, float eps, cudaStream_t s);

// ---------------------------------------------------------------- activations.cu
// out[T, N] (bf16) = silu(gu[t, n]) * gu[t, N + n]: gu fp32 [T, 2N] holds gate then up.
void silu_mul(const float *gu, bf16 *out, int T, int N, cudaStream_t s);
// out[T, N] (bf16) = silu(x[t, n]); x fp32 with row stride ldx.
void silu_to_bf16(const float *x, int ldx, bf16 *out, int T, int N, cudaStream_t s);
// x[T, N] fp32 -> bf16 (row stride ldx on the input).
void to_bf16(const float *x, int ldx, bf16 *out, int T, int N, cudaStream_t s);

// ---------------------------------------------------------------- rope.cu
// Attention input: qkv fp32 [T, (nh + 2 nkv) * hd] from the fused q|k|v projection, bias bf16
// [(nh + 2 nkv) * hd]. Adds the bias, applies RoPE (rotate-half, inv_freq_j = theta^(-2j/hd))
// to q and k at absolute positions pos[t], and writes q (bf16 [T, nh*hd]), k and v (bf16
// [T, nkv*hd]) - the layout the attention kernels take.
void bias_rope_split(const float *qkv, const bf16 *bias, const int32_t *pos, bf16 *q, bf16 *k,
                     bf16 *v, int T, int nh, int nkv, int hd, float theta, cudaStream_t s);
// Decode: the same, but token t's k and v rows go straight into sequence seqs[t]'s caches
// (kcache / vcache + seqs[t] * seq_stride elements, [cap, nkv*hd]) at row pos[t] (pos[t] % cap
// for a ring). seqs, pos device arrays.
void bias_rope_store(const float *qkv, const bf16 *bias, const int32_t *pos, const int32_t *seqs,
                     bf16 *q, bf16 *kcache, bf16 *vcache, int64_t seq_stride, int cap, bool ring,
                     int T, int nh, int nkv, int hd, float theta, cudaStream_t s);

// ---------------------------------------------------------------- kv_cache.cu
// A sequence's K or V cache is [cap, width] bf16: linear (row = position) for full attention,
// a ring (row = position % cap) for sliding-window layers.
// Prefill: writes rows src[i] (bf16 [T, width]) of positions pos0 + i; for a ring only the last
// min(T, cap) rows are written (earlier ones would be overwritten anyway).
void kv_store(const bf16 *src, bf16 *cache, int T, int width, int pos0, int cap, bool ring,
              cudaStream_t s);
// Ring gather: dst[i] = row (pos0 + i) % cap of the ring, i < n (positions in order).
void kv_ring_gather(const bf16 *ring, bf16 *dst, int n, int width, int pos0, int cap,
                    cudaStream_t s);

// ---------------------------------------------------------------- jet_prep.cu (l2norm/gates)
// JetBlock projection epilogue. proj fp32 [T, ld] holds, per token, q [H*dK] | k [H*dK] from
// column 0 and a [H] | b [H] from column ab_col. Writes q, k = l2norm(silu(.)) per head
// (eps 1e-6) as bf16 [T, H*dK], g = -exp(A_log) * softplus(a + dt_bias) and beta = sigmoid(b)
// as fp32 [T, H]. A_log, dt_bias fp32 [H].
void jet_qk_gates(const float *proj, int ld, int ab_col, const float *A_log,
                  const float *dt_bias, bf16 *q, bf16 *k, float *g, float *beta, int T, int H,
                  int dK, cudaStream_t s);

// ---------------------------------------------------------------- attention_generic.cu
// Attention for head dims the fused attention kernels below do not serve (any hd <= 256; e.g. the
// 32 of tiny test models): one warp per (sequence, query, head), online softmax in fp32. Same
// arguments and semantics as cuda::attention_prefill / cuda::attention_decode (below).
void attention_prefill_generic(const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out, int B,
                               int T, int L, int nh, int nkv, int hd, int q_pos0, int k_pos0,
                               int window, cudaStream_t s);
void attention_decode_generic(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                              bf16 *out, int B, int L, int nh, int nkv, int hd, int window,
                              int ring, cudaStream_t s, const int32_t *seqs = nullptr);

// ---------------------------------------------------------------- sampling.cu
// Greedy: out[r] = argmax of logits row r (fp32 [rows, V]); ties take the lowest index.
void argmax_rows(const float *logits, int32_t *out, int rows, int V, cudaStream_t s);

// One row of sample_rows: jet::Sampler's params, its uniform draw, and its history.
struct SampleRow {
    double u;  // the row's draw in [0, 1) (jet::Sampler::next_uniform)
    float temperature, top_p, min_p, repeat_penalty;
    int32_t top_k, vocab_limit;
    int32_t hist_offset, hist_len;  // the row's tokens in `hist` (its last repeat_last_n)
};
// Most candidates sample_rows sorts in shared memory; rows that need more go to the host.
constexpr int kSampleCandidates = 1024;
// out_tokens[r] = the token jet::Sampler::pick picks from logits row r (fp32 [rows, V]) with
// params[r]; out_logprobs[r] (may be null) = its log-softmax under the raw row. A row whose rule
// needs more than kSampleCandidates candidates gets -1 (the caller picks it on the host), a row
// without a candidate -2. The rows are left as they were (the penalty is applied in place and
// undone). params and hist live on the device.
void sample_rows(float *logits, int rows, int V, const SampleRow *params, const int32_t *hist,
                 int32_t *out_tokens, float *out_logprobs, cudaStream_t s);


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
// Supports hd in {64, 128}, nh % nkv == 0 and nh / nkv <= 16.
size_t attention_decode_workspace_bytes(int B, int L, int nh, int hd);
void attention_decode(const bf16 *q, const bf16 *k, const bf16 *v, const int32_t *qpos,
                      bf16 *out, int B, int L, int nh, int nkv, int hd, int window, int ring,
                      void *workspace, size_t workspace_bytes, cudaStream_t s,
                      const int32_t *seqs = nullptr);

// ---------------------------------------------------------------- gated_delta_chunk.cu
// Chunked gated delta rule for prefill (docs/model.md section 5.6; chunk 64, WY/UT form, tensor cores, fp32 state
// between chunks), identical in math to T recurrent steps:
//   q, k  bf16 [B, T, H, dK]      L2-normalised (jet_qk_gates)
//   v     bf16 [B, T, H, dV]
//   g     fp32 [B, T, H]          log decay (<= 0); beta fp32 [B, T, H] in (0, 1)
//   state fp32 [B, H, dK, dV]     read (initial state; zeros at sequence start) and updated
//   o     fp32 [B, T, H, dV]      o_t = scale * S_t^T q_t
// Supports dK % 16 == 0 with dK <= 256 and dV % 16 == 0. dK = 256 needs ~158 KB of shared memory
// per block (the state pass): fine on sm_90 (227 KB) and sm_80 (163 KB); a GPU with less throws
// JET_ERR_INVALID_ARGUMENT. The workspace holds, besides the per-chunk
// inputs, each chunk's starting state in bf16 (B H ceil(T / 64) dK dV).
size_t gated_delta_chunk_workspace_bytes(int B, int T, int H, int dK, int dV);
void gated_delta_chunk(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                       const float *beta, float *state, float *o, int B, int T, int H, int dK,
                       int dV, float scale, void *workspace, size_t workspace_bytes,
                       cudaStream_t s);

// ---------------------------------------------------------------- gated_delta_general.cu
// The chunked gated delta rule above for any dK <= 256 and any dV: the fast kernel itself where
// it serves the dims (gated_delta_chunk_native), else on copies zero-padded to multiples of 16
// (q, k, v, state; the result is the same), cut back after. Same tensors as gated_delta_chunk;
// its workspace is gated_delta_chunk_any_workspace_bytes (the padded copies included).
bool gated_delta_chunk_native(int dK, int dV);
size_t gated_delta_chunk_any_workspace_bytes(int B, int T, int H, int dK, int dV);
void gated_delta_chunk_any(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                           const float *beta, float *state, float *o, int B, int T, int H, int dK,
                           int dV, float scale, void *workspace, size_t workspace_bytes,
                           cudaStream_t s);

// ---------------------------------------------------------------- gated_delta_step.cu
// One recurrent step (docs/model.md section 5.4) for each of B sequences (decode):
//   q, k  bf16 [B, H, dK] (L2-normalised), v bf16 [B, H, dV], g, beta fp32 [B, H]
//   state fp32 [*, H, dK, dV] read and updated: row b's is sequence seqs[b] (device; null: b);
//   o fp32 [B, H, dV].
// Supports dK <= 256 (any), dV any.
void gated_delta_step(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                      const float *beta, float *state, float *o, int B, int H, int dK, int dV,
                      float scale, cudaStream_t s, const int32_t *seqs = nullptr);

// The JetBlock's decode work after its projections, fused into one launch (docs/model.md sections 5.2-5.4, one
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
// Dynamic causal convolution on V (docs/model.md section 5.3) with SiLU, for prefill (T > 1) and decode (T = 1):
//   u      fp32 [B, T, C] with row stride ldu (>= C): the pre-conv values (v_proj output)
//   kern   fp32 [B, T, C*W] with row stride ldk (>= C*W): the generator output w2 silu(w1 x)
//          WITHOUT its bias, read as [C][W] per token (channel-major, j = W-1 is the current
//          token); bias bf16 [C*W] (w2.bias) is added here (may be null)
//   state  fp32 [*, C, W]        the last W inputs u, oldest first (zeros at sequence start);
//                                read and updated; row b's is sequence seqs[b] (device; null: b)
//   y      bf16 [B, T, C]        silu(sum_j kern[c][j] * u[t-W+1+j][c]) - the gated delta's v
// Any W >= 1 (W <= 8: the templated fast paths; larger: one sequential thread per channel).
void dynamic_conv(const float *u, int ldu, const float *kern, int ldk, const bf16 *bias,
                  float *state, bf16 *y, int B, int T, int C, int W, cudaStream_t s,
                  const int32_t *seqs = nullptr);

}  // namespace jet::cuda
