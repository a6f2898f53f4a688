// cuda/cuda_backend.h - the CUDA backend's classes (private to native/src/cuda and the CUDA
// benchmark): the whole Jet-Nemotron forward pass on one GPU (jet::Backend). Its files, one job
// each: backend_memory.cu (device allocation), backend_weights.cu (device checks, weight fusion
// and upload), backend_cache.cu (the session cache and workspace), backend_forward.cu (the
// prefill/decode layers), backend_graphs.cu (decode graph capture and replay).
//
// Memory plan: the weights live in one device arena (bf16; fp32/fp16 checkpoints are rounded to
// bf16 at load; A_log and dt_bias stay fp32). Per layer the projections that read the same input
// are fused into one matrix: attention q|k|v (+ bias); JetBlock q|k|v|g|w1|a|b (rows padded to a
// multiple of 8 so every slice of the fp32 output stays 16-byte aligned); MLP gate|up. The
// residual stream is fp32; o_proj and down_proj accumulate into it through cuBLAS (beta = 1).
// A session's cache (CudaCache) owns its state arena (KV of attention layers - linear for full
// attention, a ring of `window` rows for sliding-window layers -, JetBlock recurrent and conv
// states, shaped by model_desc.h's layer_cache_shape), its own CUDA stream, cuBLAS handle and
// workspace, and the CUDA graphs of its decode steps (one per batch of sequence ids, replayed
// while the batch stays the same).
#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "config.h"
#include "cuda/kernels.h"
#include "model_desc.h"
#include "weights.h"

namespace jet::cuda {

constexpr int kMaxChunk = 2048;         // tokens per internal prefill step
constexpr int kMinLogitRows = 64;       // rows of logits computed at once (prefill, all rows)
constexpr size_t kBlasWorkspace = 32u << 20;
constexpr size_t kMaxGraphs = 256;       // decode graphs (one per batch size) kept per session
constexpr int kFusedDecodeRows = 4;      // decode batches up to this use jetblock_decode_step

// printf-style formatting into a std::string (messages).
std::string fmt(const char *f, ...);

inline double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

inline size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// ---------------------------------------------------------------- backend_memory.cu
// cudaMalloc that reports what did not fit, with the numbers.
void *device_alloc(size_t bytes, const char *what);
// Throws JET_ERR_OUT_OF_MEMORY before an allocation that cannot fit (keeps a margin for the
// CUDA context, cuBLAS and fragmentation).
void require_free(size_t bytes, const char *what);

// Bump allocator over one device allocation; a first pass with base == nullptr measures.
struct Arena {
    char *base = nullptr;
    size_t used = 0;
    template <class T>
    T *take(size_t count) {
        const size_t off = align_up(used, 256);
        used = off + count * sizeof(T);
        return base ? reinterpret_cast<T *>(base + off) : nullptr;
    }
};

// The fused attention kernels (kernels.h) serve hd 64 / 128 (decode: nh / nkv <= 8); other
// shapes (tiny test models) take the generic ones.
inline bool fused_attention(const Config &c) {
    return (c.head_dim == 64 || c.head_dim == 128) &&
           c.num_attention_heads / c.num_kv_heads <= 8;
}

class CudaBackend;

class CudaCache final : public Cache {
public:
    CudaCache(const CudaBackend &be, int n_seq, int n_ctx);
    ~CudaCache() override;
    std::unique_ptr<Cache> clone() const override;
    void reset(int seq) override;
    void copy_seq(int src, int dst) override;
    int64_t bytes() const override { return int64_t(state_bytes); }

    // One layer's part, shaped by model_desc.h's layer_cache_shape.
    struct LayerState {
        bf16 *k = nullptr, *v = nullptr;  // [n_seq, cap, kv_width]
        int cap = 0;
        bool ring = false;
        int64_t kv_width = 0;   // nkv*hd
        float *S = nullptr;     // [n_seq, H, dK, dV]
        float *conv = nullptr;  // [n_seq, value_dim, W]
        int64_t state_n = 0;    // H*dK*dV floats per sequence
        int64_t conv_n = 0;     // value_dim*W floats per sequence
    };
    // Device scratch of one forward of up to `rows` tokens.
    struct Work {
        int rows = 0, logit_rows = 0;
        void *mem = nullptr;
        size_t bytes = 0;
        int32_t *ids = nullptr, *pos = nullptr, *seqs = nullptr;
        float *x = nullptr, *proj = nullptr, *kern = nullptr, *o = nullptr, *g = nullptr,
              *beta = nullptr, *logits = nullptr;
        bf16 *xn = nullptr, *q = nullptr, *k = nullptr, *v = nullptr, *hid = nullptr,
             *y = nullptr, *kwin = nullptr, *vwin = nullptr;
        void *attn_ws = nullptr, *gdn_ws = nullptr;
        size_t attn_ws_bytes = 0, gdn_ws_bytes = 0;
    };

    void layout_state(Arena &a);
    size_t work_bytes(int rows, Work *w) const;  // lays out w when w->mem is set
    void ensure_work(int rows);
    void drop_graphs();  // backend_graphs.cu
    // decode_sample's buffers for n rows and `hist` history tokens, grown on demand.
    void ensure_sample(int n, size_t hist);
    void free_sample();

    const CudaBackend &be;
    std::vector<LayerState> layers;
    void *state = nullptr;
    size_t state_bytes = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    void *blas_ws = nullptr;
    Work work;
    std::map<int, cudaGraphExec_t> graphs;  // the decode step of each batch size
    // decode_sample's rows, histories and results: pinned host staging and device copies.
    struct SampleIo {
        int rows = 0;
        size_t hist = 0;
        cuda::SampleRow *host_rows = nullptr, *rows_dev = nullptr;
        int32_t *host_hist = nullptr, *hist_dev = nullptr;
        int32_t *host_out = nullptr;  // n tokens then n log-probabilities (float bits)
        int32_t *tokens = nullptr;
        float *logprobs = nullptr;
    } sample_io;
    // Set by the benchmark's breakdown: an event after every op of an eager forward.
    std::vector<std::pair<const char *, cudaEvent_t>> *marks = nullptr;
};

// Records an event named after the op just enqueued (benchmark breakdown only; backend_forward.cu).
void mark(CudaCache &c, const char *op);

class CudaBackend final : public Backend {
public:
    CudaBackend(const Config &cfg, std::shared_ptr<const Weights> w, int device);
    ~CudaBackend() override;

    std::unique_ptr<Cache> create_cache(int n_seq, int n_ctx) override;
    void prefill(Cache &cache, int seq, const int32_t *tokens, int n, float *logits,
                 bool all) override;
    void decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                float *logits) override;
    int64_t weight_bytes() const override { return int64_t(arena_bytes_); }
    int64_t cache_bytes(int64_t n_ctx, int64_t *per_token) const override;

    struct Layer {
        jet_layer_type type = JET_LAYER_JET;
        bf16 *ln1 = nullptr, *ln2 = nullptr;
        // The linear layers: bf16, or FP8 / int8 with their scales when every part of the
        // (fused) matrix is quantized alike in the checkpoint (issue 15).
        WeightRef gate_up, down;
        WeightRef w_in;         // fused input projection (see the header comment)
        bf16 *b_in = nullptr;   // attention q|k|v bias
        WeightRef w_out;        // o_proj
        float *A_log = nullptr, *dt_bias = nullptr;
        WeightRef w2;
        bf16 *b2 = nullptr, *o_norm = nullptr;
    };

    const Config cfg_;
    const int device_;
    int jet_in_rows_ = 0;  // padded rows of the fused JetBlock input projection
    int proj_width_ = 0;   // widest fp32 projection output per token

private:
    friend class CudaCache;
    void layout_weights(Arena &a);
    // Copies the tensor of `role` in `layer` (model_desc.h) to dst: bf16 (other dtypes rounded),
    // or fp32 for upload_f32. Throws JET_ERR_FORMAT when it does not have `numel` elements.
    void upload(Role role, int layer, bf16 *dst, int64_t numel) const;
    void upload_f32(Role role, int layer, float *dst, int64_t numel) const;
    // A linear weight of `rows` x K made of `parts` (stacked along N): quantized (the type and
    // group of the parts) when every part has scales of one type and group the kernels serve,
    // else bf16 (quantized parts dequantized on the host by upload()).
    WeightRef take_linear(Arena &a, std::initializer_list<Role> parts, int layer, size_t rows,
                          size_t K) const;
    // Copies part `role` ([rows, K]) to rows [row0, row0 + rows) of dst (values and scales).
    void upload_linear(Role role, int layer, const WeightRef &dst, int64_t row0, int64_t rows,
                       int64_t K) const;
    // The benchmark's in-memory FP8 copies of the linear weights (bench_hooks.cu), freed here.
    friend int64_t quantize_linear_weights_fp8(Backend &backend);
    void *bench_quant_ = nullptr;
    // One forward of T rows already uploaded to work.ids / work.pos: T tokens of sequence `seq`
    // from position pos0 (prefill), or one token of each sequence work.seqs[0, T) (decode).
    void forward(CudaCache &c, int T, int seq, int pos0, bool decode) const;
    void attn_layer(CudaCache &c, int li, int T, int seq, int pos0, bool decode) const;
    void jet_layer(CudaCache &c, int li, int T, int seq, bool decode) const;
    // Logits of rows [row0, row0 + n) of the residual stream into work.logits.
    void lm_head(CudaCache &c, int row0, int n) const;

public:  // for the decode path and the benchmark hooks
    void upload_decode(CudaCache &c, int n, const int32_t *seqs, const int32_t *tokens) const;
    void eager_decode(CudaCache &c, int n) const {
        forward(c, n, -1, 0, true);
        lm_head(c, 0, n);
    }
    // Replays (capturing it on first use) the decode step of n rows already uploaded: the rows'
    // sequences are read on the device, so one graph per batch size serves any membership.
    void decode_step(CudaCache &c, int n) const;
    void decode_sample(Cache &cache, int vocab, int n, const int32_t *seqs, const int32_t *tokens,
                       Sampler *const *samplers, int32_t *out_tokens, float *out_logprobs) override;

private:

    std::shared_ptr<const Weights> weights_;
    void *arena_ = nullptr;
    size_t arena_bytes_ = 0;
    bf16 *embed_ = nullptr, *norm_ = nullptr, *lm_head_ = nullptr;
    std::vector<Layer> layers_;
};

}  // namespace jet::cuda
