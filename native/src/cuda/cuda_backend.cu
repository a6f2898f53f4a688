// cuda_backend.cu - the whole Jet-Nemotron forward pass on one GPU (jet::Backend).
//
// Memory plan: the weights live in one device arena (bf16; fp32/fp16 checkpoints are rounded to
// bf16 at load; A_log and dt_bias stay fp32). Per layer the projections that read the same input
// are fused into one matrix: attention q|k|v (+ bias); JetBlock q|k|v|g|w1|a|b (rows padded to a
// multiple of 8 so every slice of the fp32 output stays 16-byte aligned); MLP gate|up. The
// residual stream is fp32; o_proj and down_proj accumulate into it through cuBLAS (beta = 1).
// A session's cache (CudaCache) owns its state arena (KV of attention layers - linear for full
// attention, a ring of `window` rows for sliding-window layers -, JetBlock recurrent and conv
// states), its own CUDA stream, cuBLAS handle and workspace, and the CUDA graphs of its decode
// steps (one per batch of sequence ids, replayed while the batch stays the same).
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backend.h"
#include "cuda/bench_hooks.h"
#include "cuda/kernels.h"
#include "cuda/ops.h"
#include "error.h"
#include "sampler.h"
#include "weights.h"

namespace jet {

namespace {

using cuda::bf16;
using cuda::check;

constexpr int kMaxChunk = 2048;         // tokens per internal prefill step
constexpr int kMinLogitRows = 64;       // rows of logits computed at once (prefill, all rows)
constexpr size_t kBlasWorkspace = 32u << 20;
constexpr size_t kMaxGraphs = 256;       // decode graphs (one per batch size) kept per session
constexpr int kFusedDecodeRows = 4;      // decode batches up to this use jetblock_decode_step

std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// cudaMalloc that reports what did not fit, with the numbers.
void *device_alloc(size_t bytes, const char *what) {
    void *p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    cudaGetLastError();  // cudaMalloc errors are not sticky; clear it
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    if (e == cudaErrorMemoryAllocation)
        throw Error(JET_ERR_OUT_OF_MEMORY,
                    fmt("CUDA out of memory: %s needs %.1f MiB, the GPU has %.1f MiB free of "
                        "%.1f MiB",
                        what, mib(bytes), mib(free_b), mib(total_b)));
    check(e, what);
    return nullptr;
}

// Throws JET_ERR_OUT_OF_MEMORY before an allocation that cannot fit (keeps a margin for the
// CUDA context, cuBLAS and fragmentation).
void require_free(size_t bytes, const char *what) {
    size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    const size_t margin = 256u << 20;
    if (bytes + margin > free_b)
        throw Error(JET_ERR_OUT_OF_MEMORY,
                    fmt("%s needs %.1f MiB on the GPU but only %.1f MiB of %.1f MiB are free "
                        "(%.0f MiB kept in reserve)",
                        what, mib(bytes), mib(free_b), mib(total_b), mib(margin)));
}

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
// shapes (tiny test models) take the generic ones (ops.h).
bool fused_attention(const Config &c) {
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

    struct LayerState {
        bf16 *k = nullptr, *v = nullptr;  // [n_seq, cap, nkv*hd]
        int cap = 0;
        bool ring = false;
        float *S = nullptr;     // [n_seq, H, dK, dV]
        float *conv = nullptr;  // [n_seq, value_dim, W]
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
    void drop_graphs();
    // Buffers of decode_sample for n rows and `hist` history tokens (grown on demand).
    void ensure_sample(int n, size_t hist);

    const CudaBackend &be;
    std::vector<LayerState> layers;
    void *state = nullptr;
    size_t state_bytes = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    void *blas_ws = nullptr;
    Work work;
    std::map<int, cudaGraphExec_t> graphs;  // decode step by batch size
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
    void free_sample();
    // Set by the benchmark's breakdown: an event after every op of an eager forward.
    std::vector<std::pair<const char *, cudaEvent_t>> *marks = nullptr;
};

// Records an event named after the op just enqueued (benchmark breakdown only).
void mark(CudaCache &c, const char *op) {
    if (!c.marks) return;
    cudaEvent_t e = nullptr;
    check(cudaEventCreate(&e), "cudaEventCreate");
    c.marks->emplace_back(op, e);
    check(cudaEventRecord(e, c.stream), "cudaEventRecord");
}

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
        bf16 *ln1 = nullptr, *ln2 = nullptr, *gate_up = nullptr, *down = nullptr;
        bf16 *w_in = nullptr;   // fused input projection (see the file comment)
        bf16 *b_in = nullptr;   // attention q|k|v bias
        bf16 *w_out = nullptr;  // o_proj
        float *A_log = nullptr, *dt_bias = nullptr;
        bf16 *w2 = nullptr, *b2 = nullptr, *o_norm = nullptr;
    };

    const Config cfg_;
    const int device_;
    int jet_in_rows_ = 0;  // padded rows of the fused JetBlock input projection
    int proj_width_ = 0;   // widest fp32 projection output per token

private:
    friend class CudaCache;
    void layout_weights(Arena &a);
    void upload(const std::string &name, bf16 *dst, int64_t numel) const;
    void upload_f32(const std::string &name, float *dst, int64_t numel) const;
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
    // Replays (capturing it the first time) the decode step of n rows: the rows' sequences and
    // tokens are read on the device, so one graph per batch size serves any batch membership.
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

// ------------------------------------------------------------------ weights

void CudaBackend::layout_weights(Arena &a) {
    const Config &c = cfg_;
    const size_t d = size_t(c.hidden_size), I = size_t(c.intermediate_size);
    embed_ = a.take<bf16>(size_t(c.vocab_size) * d);
    norm_ = a.take<bf16>(d);
    lm_head_ = c.tie_word_embeddings ? embed_ : a.take<bf16>(size_t(c.vocab_size) * d);
    layers_.assign(size_t(c.num_layers), Layer{});
    for (int i = 0; i < c.num_layers; ++i) {
        Layer &L = layers_[size_t(i)];
        L.type = c.layer_types[size_t(i)];
        L.ln1 = a.take<bf16>(d);
        L.ln2 = a.take<bf16>(d);
        L.gate_up = a.take<bf16>(2 * I * d);
        L.down = a.take<bf16>(d * I);
        if (L.type == JET_LAYER_JET) {
            const size_t vd = size_t(c.jet_value_dim());
            L.w_in = a.take<bf16>(size_t(jet_in_rows_) * d);
            L.w_out = a.take<bf16>(d * vd);
            L.A_log = a.take<float>(size_t(c.jet_heads));
            L.dt_bias = a.take<float>(size_t(c.jet_heads));
            L.w2 = a.take<bf16>(vd * size_t(c.jet_conv) * size_t(c.jet_gen_hidden));
            L.b2 = a.take<bf16>(vd * size_t(c.jet_conv));
            L.o_norm = a.take<bf16>(size_t(c.jet_dv));
        } else {
            const size_t qkv = size_t(c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim;
            L.w_in = a.take<bf16>(qkv * d);
            L.b_in = a.take<bf16>(qkv);
            L.w_out = a.take<bf16>(d * size_t(c.num_attention_heads) * c.head_dim);
        }
    }
}

void CudaBackend::upload(const std::string &name, bf16 *dst, int64_t numel) const {
    const TensorView &t = weights_->get(name);
    if (t.numel() != numel)
        throw Error(JET_ERR_FORMAT, fmt("tensor %s has %lld elements, expected %lld", name.c_str(),
                                        (long long)t.numel(), (long long)numel));
    if (t.dtype == DType::BF16) {
        check(cudaMemcpy(dst, t.data, size_t(numel) * sizeof(bf16), cudaMemcpyHostToDevice),
              "cudaMemcpy (weights)");
        return;
    }
    // fp32 / fp16 checkpoints: round to bf16 on the host, in slices.
    const std::vector<float> f = t.to_f32();
    std::vector<bf16> h(std::min<size_t>(f.size(), size_t(1) << 22));
    for (size_t off = 0; off < f.size(); off += h.size()) {
        const size_t n = std::min(h.size(), f.size() - off);
        for (size_t i = 0; i < n; ++i) h[i] = __float2bfloat16(f[off + i]);
        check(cudaMemcpy(dst + off, h.data(), n * sizeof(bf16), cudaMemcpyHostToDevice),
              "cudaMemcpy (weights)");
    }
}

void CudaBackend::upload_f32(const std::string &name, float *dst, int64_t numel) const {
    const TensorView &t = weights_->get(name);
    if (t.numel() != numel)
        throw Error(JET_ERR_FORMAT, fmt("tensor %s has %lld elements, expected %lld", name.c_str(),
                                        (long long)t.numel(), (long long)numel));
    const std::vector<float> f = t.to_f32();
    check(cudaMemcpy(dst, f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice),
          "cudaMemcpy (weights)");
}

CudaBackend::CudaBackend(const Config &cfg, std::shared_ptr<const Weights> w, int device)
    : cfg_(cfg), device_(device), weights_(std::move(w)) {
    const Config &c = cfg_;
    int count = 0;
    const cudaError_t ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess || count == 0) {
        cudaGetLastError();
        throw Error(JET_ERR_DEVICE,
                    fmt("no usable CUDA device (%s); use the CPU device",
                        ce != cudaSuccess ? cudaGetErrorString(ce) : "none found"));
    }
    if (device < 0 || device >= count)
        throw Error(JET_ERR_DEVICE, fmt("CUDA device %d does not exist (%d present)", device, count));
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    if (prop.major < 8)
        throw Error(JET_ERR_DEVICE, fmt("CUDA device %d (%s, sm_%d%d) is too old: JetNative needs "
                                        "sm_80 or newer (bf16 tensor cores)",
                                        device, prop.name, prop.major, prop.minor));

    const int kd = c.jet_key_dim(), vd = c.jet_value_dim();
    if (c.count(JET_LAYER_JET) > 0) {
        const int rows = 2 * kd + 2 * vd + c.jet_gen_hidden + 2 * c.jet_heads;
        jet_in_rows_ = int(align_up(size_t(rows), 8));
    }
    proj_width_ = std::max(2 * c.intermediate_size,
                           (c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim);
    proj_width_ = std::max(proj_width_, jet_in_rows_);

    Arena plan;
    layout_weights(plan);
    arena_bytes_ = plan.used;
    require_free(arena_bytes_, "the model's weights");
    arena_ = device_alloc(arena_bytes_, "the model's weights");
    try {
        check(cudaMemset(arena_, 0, arena_bytes_), "cudaMemset");  // zero padding rows
        Arena a;
        a.base = static_cast<char *>(arena_);
        layout_weights(a);

        const int64_t d = c.hidden_size, I = c.intermediate_size;
        upload("model.embed_tokens.weight", embed_, int64_t(c.vocab_size) * d);
        upload("model.norm.weight", norm_, d);
        if (!c.tie_word_embeddings)
            upload("lm_head.weight", lm_head_, int64_t(c.vocab_size) * d);
        for (int i = 0; i < c.num_layers; ++i) {
            const Layer &L = layers_[size_t(i)];
            const std::string p = "model.layers." + std::to_string(i) + ".";
            upload(p + "input_layernorm.weight", L.ln1, d);
            upload(p + "post_attention_layernorm.weight", L.ln2, d);
            upload(p + "mlp.gate_proj.weight", L.gate_up, I * d);
            upload(p + "mlp.up_proj.weight", L.gate_up + I * d, I * d);
            upload(p + "mlp.down_proj.weight", L.down, d * I);
            const std::string a_ = p + "self_attn.";
            if (L.type == JET_LAYER_JET) {
                const int64_t H = c.jet_heads, W = c.jet_conv, r = c.jet_gen_hidden;
                bf16 *w = L.w_in;
                upload(a_ + "q_proj.weight", w, kd * d);
                upload(a_ + "k_proj.weight", w + kd * d, kd * d);
                upload(a_ + "v_proj.weight", w + 2 * kd * d, vd * d);
                upload(a_ + "g_proj.weight", w + (2 * kd + vd) * d, vd * d);
                upload(a_ + "dynamic_conv1d.kernel_generator.w1.weight", w + (2 * kd + 2 * vd) * d,
                       r * d);
                upload(a_ + "a_proj.weight", w + (2 * kd + 2 * vd + r) * d, H * d);
                upload(a_ + "b_proj.weight", w + (2 * kd + 2 * vd + r + H) * d, H * d);
                upload(a_ + "o_proj.weight", L.w_out, d * vd);
                upload_f32(a_ + "A_log", L.A_log, H);
                upload_f32(a_ + "dt_bias", L.dt_bias, H);
                upload(a_ + "dynamic_conv1d.kernel_generator.w2.weight", L.w2, vd * W * r);
                upload(a_ + "dynamic_conv1d.kernel_generator.w2.bias", L.b2, vd * W);
                upload(a_ + "o_norm.weight", L.o_norm, c.jet_dv);
            } else {
                const int64_t qd = int64_t(c.num_attention_heads) * c.head_dim;
                const int64_t kvd = int64_t(c.num_kv_heads) * c.head_dim;
                upload(a_ + "q_proj.weight", L.w_in, qd * d);
                upload(a_ + "k_proj.weight", L.w_in + qd * d, kvd * d);
                upload(a_ + "v_proj.weight", L.w_in + (qd + kvd) * d, kvd * d);
                upload(a_ + "q_proj.bias", L.b_in, qd);
                upload(a_ + "k_proj.bias", L.b_in + qd, kvd);
                upload(a_ + "v_proj.bias", L.b_in + qd + kvd, kvd);
                upload(a_ + "o_proj.weight", L.w_out, d * qd);
            }
        }
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (weights)");
    } catch (...) {
        cudaFree(arena_);
        throw;
    }
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    log(JET_LOG_INFO,
        "cuda: device %d %s (sm_%d%d, %d SMs), weights %.1f MiB on the GPU; %.1f MiB free of "
        "%.1f MiB; cache per sequence at n_ctx=%d: %.1f MiB",
        device, prop.name, prop.major, prop.minor, prop.multiProcessorCount, mib(arena_bytes_),
        mib(free_b), mib(total_b), c.max_position_embeddings,
        mib(double(cache_bytes(c.max_position_embeddings, nullptr))));
}

CudaBackend::~CudaBackend() {
    if (arena_) {
        cudaSetDevice(device_);
        cudaFree(arena_);
    }
}

// ------------------------------------------------------------------ cache

void CudaCache::layout_state(Arena &a) {
    const Config &c = be.cfg_;
    layers.assign(size_t(c.num_layers), LayerState{});
    const size_t ns = size_t(n_seq);
    for (int i = 0; i < c.num_layers; ++i) {
        LayerState &L = layers[size_t(i)];
        const jet_layer_type t = c.layer_types[size_t(i)];
        if (t == JET_LAYER_JET) {
            L.S = a.take<float>(ns * c.jet_heads * c.jet_dk * c.jet_dv);
            L.conv = a.take<float>(ns * c.jet_value_dim() * c.jet_conv);
        } else {
            L.ring = (t == JET_LAYER_SWA && c.swa_window < n_ctx);
            L.cap = L.ring ? c.swa_window : n_ctx;
            const size_t kvd = size_t(c.num_kv_heads) * c.head_dim;
            L.k = a.take<bf16>(ns * L.cap * kvd);
            L.v = a.take<bf16>(ns * L.cap * kvd);
        }
    }
}

size_t CudaCache::work_bytes(int rows, Work *w) const {
    const Config &c = be.cfg_;
    Arena a;
    a.base = w ? static_cast<char *>(w->mem) : nullptr;
    Work tmp;
    Work &o = w ? *w : tmp;
    const size_t R = size_t(rows), d = size_t(c.hidden_size);
    const size_t qd = size_t(std::max(c.num_attention_heads * c.head_dim, c.jet_key_dim()));
    const size_t kvd = size_t(c.num_kv_heads) * c.head_dim;
    const size_t vd = size_t(c.jet_value_dim());
    const size_t widest = std::max({size_t(c.num_attention_heads) * c.head_dim, vd,
                                    size_t(c.intermediate_size)});
    o.rows = rows;
    // Decode batches never exceed n_seq; prefill computes logits in blocks of logit_rows.
    o.logit_rows = std::max(std::min(rows, n_seq), kMinLogitRows);
    o.ids = a.take<int32_t>(R);
    o.pos = a.take<int32_t>(R);
    o.seqs = a.take<int32_t>(R);
    o.x = a.take<float>(R * d);
    o.xn = a.take<bf16>(R * d);
    o.proj = a.take<float>(R * size_t(be.proj_width_));
    o.q = a.take<bf16>(R * qd);
    o.k = a.take<bf16>(R * std::max(qd, kvd));
    o.v = a.take<bf16>(R * std::max(vd, kvd));
    o.y = a.take<bf16>(R * widest);
    const bool any_ring = std::any_of(layers.begin(), layers.end(),
                                      [](const LayerState &L) { return L.ring; });
    if (any_ring) {
        o.kwin = a.take<bf16>((R + size_t(c.swa_window)) * kvd);
        o.vwin = a.take<bf16>((R + size_t(c.swa_window)) * kvd);
    }
    if (c.count(JET_LAYER_JET) > 0) {
        const size_t H = size_t(c.jet_heads);
        o.g = a.take<float>(R * H);
        o.beta = a.take<float>(R * H);
        o.hid = a.take<bf16>(R * size_t(c.jet_gen_hidden));
        o.kern = a.take<float>(R * vd * size_t(c.jet_conv));
        o.o = a.take<float>(R * vd);
        o.gdn_ws_bytes = cuda::gated_delta_chunk_workspace_bytes(1, rows, c.jet_heads, c.jet_dk,
                                                                 c.jet_dv);
        o.gdn_ws = a.take<char>(o.gdn_ws_bytes);
    }
    o.logits = a.take<float>(size_t(o.logit_rows) * size_t(c.vocab_size));
    size_t attn_ws = 0;
    for (const LayerState &L : layers)
        if (L.cap > 0 && fused_attention(c))
            attn_ws = std::max(attn_ws, cuda::attention_decode_workspace_bytes(
                                            std::min(rows, n_seq), L.cap, c.num_attention_heads,
                                            c.head_dim));
    o.attn_ws_bytes = attn_ws;
    o.attn_ws = attn_ws ? a.take<char>(attn_ws) : nullptr;
    return a.used;
}

void CudaCache::drop_graphs() {
    for (auto &kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
}

void CudaCache::ensure_work(int rows) {
    if (rows <= work.rows) return;
    rows = std::max(rows, 16);
    drop_graphs();
    if (work.mem) {
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        cudaFree(work.mem);
        work = Work{};
    }
    const size_t bytes = work_bytes(rows, nullptr);
    require_free(bytes, "the session's workspace");
    work.mem = device_alloc(bytes, "the session's workspace");
    work.bytes = bytes;
    work_bytes(rows, &work);
}

void CudaCache::free_sample() {
    cudaFreeHost(sample_io.host_rows);
    cudaFreeHost(sample_io.host_hist);
    cudaFreeHost(sample_io.host_out);
    cudaFree(sample_io.rows_dev);
    cudaFree(sample_io.hist_dev);
    cudaFree(sample_io.tokens);
    cudaFree(sample_io.logprobs);
    sample_io = SampleIo{};
}

void CudaCache::ensure_sample(int n, size_t hist) {
    SampleIo &io = sample_io;
    if (n <= io.rows && hist <= io.hist) return;
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    const int rows = std::max({n, io.rows, 16});
    const size_t h = std::max({hist, io.hist, size_t(1024)});
    free_sample();
    auto pinned = [](void **p, size_t bytes) {
        if (cudaMallocHost(p, bytes) != cudaSuccess) {
            cudaGetLastError();
            throw Error(JET_ERR_OUT_OF_MEMORY, fmt("cannot pin %zu bytes of host memory", bytes));
        }
    };
    pinned(reinterpret_cast<void **>(&io.host_rows), size_t(rows) * sizeof(cuda::SampleRow));
    pinned(reinterpret_cast<void **>(&io.host_hist), h * sizeof(int32_t));
    pinned(reinterpret_cast<void **>(&io.host_out), size_t(rows) * 2 * sizeof(int32_t));
    io.rows_dev = static_cast<cuda::SampleRow *>(
        device_alloc(size_t(rows) * sizeof(cuda::SampleRow), "the sampling rows"));
    io.hist_dev = static_cast<int32_t *>(device_alloc(h * sizeof(int32_t), "the sampling history"));
    io.tokens = static_cast<int32_t *>(device_alloc(size_t(rows) * sizeof(int32_t), "the sampled tokens"));
    io.logprobs = static_cast<float *>(device_alloc(size_t(rows) * sizeof(float), "the log-probabilities"));
    io.rows = rows;
    io.hist = h;
}

CudaCache::CudaCache(const CudaBackend &b, int n_seq_, int n_ctx_) : be(b) {
    n_seq = n_seq_;
    n_ctx = n_ctx_;
    pos.assign(size_t(n_seq), 0);
    Arena plan;
    layout_state(plan);
    state_bytes = plan.used;
    require_free(state_bytes, fmt("the cache of %d sequences x %d tokens", n_seq, n_ctx).c_str());
    try {
        state = device_alloc(state_bytes, "the session cache");
        Arena a;
        a.base = static_cast<char *>(state);
        layout_state(a);
        check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
        check(cublasCreate(&blas), "cublasCreate");
        check(cublasSetStream(blas, stream), "cublasSetStream");
        blas_ws = device_alloc(kBlasWorkspace, "the cuBLAS workspace");
        check(cublasSetWorkspace(blas, blas_ws, kBlasWorkspace), "cublasSetWorkspace");
        check(cudaMemsetAsync(state, 0, state_bytes, stream), "cudaMemsetAsync");
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    } catch (...) {
        if (blas) cublasDestroy(blas);
        if (stream) cudaStreamDestroy(stream);
        cudaFree(blas_ws);
        cudaFree(state);
        throw;
    }
}

CudaCache::~CudaCache() {
    cudaSetDevice(be.device_);
    if (stream) cudaStreamSynchronize(stream);
    drop_graphs();
    free_sample();
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
    cudaFree(blas_ws);
    cudaFree(work.mem);
    cudaFree(state);
}

std::unique_ptr<Cache> CudaCache::clone() const {
    check(cudaSetDevice(be.device_), "cudaSetDevice");
    auto c = std::make_unique<CudaCache>(be, n_seq, n_ctx);
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    check(cudaMemcpyAsync(c->state, state, state_bytes, cudaMemcpyDeviceToDevice, c->stream),
          "cudaMemcpyAsync (fork)");
    check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
    c->pos = pos;
    return c;
}

void CudaCache::reset(int seq) {
    check(cudaSetDevice(be.device_), "cudaSetDevice");
    const Config &c = be.cfg_;
    for (const LayerState &L : layers) {
        if (!L.S) continue;  // KV rows past the position are never read
        const size_t s_n = size_t(c.jet_heads) * c.jet_dk * c.jet_dv;
        const size_t c_n = size_t(c.jet_value_dim()) * c.jet_conv;
        check(cudaMemsetAsync(L.S + size_t(seq) * s_n, 0, s_n * sizeof(float), stream), "reset");
        check(cudaMemsetAsync(L.conv + size_t(seq) * c_n, 0, c_n * sizeof(float), stream), "reset");
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    pos[size_t(seq)] = 0;
}

void CudaCache::copy_seq(int src, int dst) {
    check(cudaSetDevice(be.device_), "cudaSetDevice");
    if (src == dst) return;
    const Config &c = be.cfg_;
    const size_t kvd = size_t(c.num_kv_heads) * c.head_dim;
    auto cp = [&](void *base, size_t bytes_per_seq) {
        char *b = static_cast<char *>(base);
        check(cudaMemcpyAsync(b + size_t(dst) * bytes_per_seq, b + size_t(src) * bytes_per_seq,
                              bytes_per_seq, cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpyAsync (copy_seq)");
    };
    for (const LayerState &L : layers) {
        if (L.S) {
            cp(L.S, size_t(c.jet_heads) * c.jet_dk * c.jet_dv * sizeof(float));
            cp(L.conv, size_t(c.jet_value_dim()) * c.jet_conv * sizeof(float));
        } else {
            cp(L.k, size_t(L.cap) * kvd * sizeof(bf16));
            cp(L.v, size_t(L.cap) * kvd * sizeof(bf16));
        }
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    pos[size_t(dst)] = pos[size_t(src)];
}

std::unique_ptr<Cache> CudaBackend::create_cache(int n_seq, int n_ctx) {
    check(cudaSetDevice(device_), "cudaSetDevice");
    auto c = std::make_unique<CudaCache>(*this, n_seq, n_ctx);
    log(JET_LOG_INFO, "cuda: session cache %d x %d tokens: %.1f MiB", n_seq, n_ctx,
        mib(double(c->state_bytes)));
    return c;
}

int64_t CudaBackend::cache_bytes(int64_t n_ctx, int64_t *per_token) const {
    const Config &c = cfg_;
    const int64_t kvrow = int64_t(c.num_kv_heads) * c.head_dim * int64_t(sizeof(bf16)) * 2;
    int64_t total = 0, per = 0;
    for (jet_layer_type t : c.layer_types) {
        if (t == JET_LAYER_JET) {
            total += int64_t(c.jet_heads) * c.jet_dk * c.jet_dv * 4 +
                     int64_t(c.jet_value_dim()) * c.jet_conv * 4;
        } else if (t == JET_LAYER_SWA && c.swa_window < n_ctx) {
            total += int64_t(c.swa_window) * kvrow;
        } else {
            total += n_ctx * kvrow;
            per += kvrow;
        }
    }
    if (per_token) *per_token = per;
    return total;
}

// ------------------------------------------------------------------ forward

void attention_prefill_any(const Config &c, const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out,
                           int T, int L, int q_pos0, int k_pos0, int window, cudaStream_t s) {
    if (fused_attention(c))
        cuda::attention_prefill(q, k, v, out, 1, T, L, c.num_attention_heads, c.num_kv_heads,
                                c.head_dim, q_pos0, k_pos0, window, s);
    else
        cuda::attention_prefill_generic(q, k, v, out, 1, T, L, c.num_attention_heads,
                                        c.num_kv_heads, c.head_dim, q_pos0, k_pos0, window, s);
}

void CudaBackend::attn_layer(CudaCache &c, int li, int T, int seq, int pos0, bool decode) const {
    const Config &cf = cfg_;
    const Layer &L = layers_[size_t(li)];
    CudaCache::LayerState &st = c.layers[size_t(li)];
    CudaCache::Work &w = c.work;
    const cudaStream_t s = c.stream;
    const int nh = cf.num_attention_heads, nkv = cf.num_kv_heads, hd = cf.head_dim;
    const int qd = nh * hd, kvd = nkv * hd, d = cf.hidden_size;
    const int window = L.type == JET_LAYER_SWA ? cf.swa_window : 0;
    const int64_t seq_stride = int64_t(st.cap) * kvd;
    const float theta = float(cf.rope_theta);

    cuda::gemm_rmsnorm(c.blas, w.x, L.ln1, cf.rms_norm_eps, w.xn, L.w_in, w.proj, true, T, d,
                       qd + 2 * kvd, 0.0f);
    mark(c, "attn rmsnorm + qkv gemm");
    if (!decode) {
        bf16 *kc = st.k + seq * seq_stride, *vc = st.v + seq * seq_stride;
        if (!st.ring) {
            cuda::bias_rope_split(w.proj, L.b_in, w.pos, w.q, kc + int64_t(pos0) * kvd,
                                  vc + int64_t(pos0) * kvd, T, nh, nkv, hd, theta, s);
            attention_prefill_any(cf, w.q, kc, vc, w.y, T, pos0 + T, pos0, 0, window, s);
        } else {
            // Previous window rows (oldest first) then the new rows, contiguous.
            const int nprev = std::min(pos0, window - 1);
            cuda::kv_ring_gather(kc, w.kwin, nprev, kvd, pos0 - nprev, st.cap, s);
            cuda::kv_ring_gather(vc, w.vwin, nprev, kvd, pos0 - nprev, st.cap, s);
            bf16 *kn = w.kwin + int64_t(nprev) * kvd, *vn = w.vwin + int64_t(nprev) * kvd;
            cuda::bias_rope_split(w.proj, L.b_in, w.pos, w.q, kn, vn, T, nh, nkv, hd, theta, s);
            attention_prefill_any(cf, w.q, w.kwin, w.vwin, w.y, T, nprev + T, pos0, pos0 - nprev,
                                  window, s);
            cuda::kv_store(kn, kc, T, kvd, pos0, st.cap, true, s);
            cuda::kv_store(vn, vc, T, kvd, pos0, st.cap, true, s);
        }
    } else {
        cuda::bias_rope_store(w.proj, L.b_in, w.pos, w.seqs, w.q, st.k, st.v, seq_stride, st.cap,
                              st.ring, T, nh, nkv, hd, theta, s);
        mark(c, "attn rope + kv store");
        if (fused_attention(cf))
            cuda::attention_decode(w.q, st.k, st.v, w.pos, w.y, T, st.cap, nh, nkv, hd, window,
                                   st.ring ? 1 : 0, w.attn_ws, w.attn_ws_bytes, s, w.seqs);
        else
            cuda::attention_decode_generic(w.q, st.k, st.v, w.pos, w.y, T, st.cap, nh, nkv, hd,
                                           window, st.ring ? 1 : 0, s, w.seqs);
        mark(c, window ? "swa attention decode" : "attn attention decode");
    }
    cuda::gemm(c.blas, w.y, qd, L.w_out, w.x, true, T, qd, d, 1.0f);
    mark(c, "attn o_proj gemm");
}

void CudaBackend::jet_layer(CudaCache &c, int li, int T, int seq, bool decode) const {
    const Config &cf = cfg_;
    const Layer &L = layers_[size_t(li)];
    CudaCache::LayerState &st = c.layers[size_t(li)];
    CudaCache::Work &w = c.work;
    const cudaStream_t s = c.stream;
    const int d = cf.hidden_size, H = cf.jet_heads, dK = cf.jet_dk, dV = cf.jet_dv;
    const int kd = cf.jet_key_dim(), vd = cf.jet_value_dim(), W = cf.jet_conv;
    const int r = cf.jet_gen_hidden, P = jet_in_rows_;
    const int col_u = 2 * kd, col_g = 2 * kd + vd, col_h = 2 * kd + 2 * vd, col_ab = col_h + r;
    const int64_t s_n = int64_t(H) * dK * dV, c_n = int64_t(vd) * W;
    const float scale = 1.0f / std::sqrt(float(dK));

    cuda::gemm_rmsnorm(c.blas, w.x, L.ln1, cf.rms_norm_eps, w.xn, L.w_in, w.proj, true, T, d, P,
                       0.0f);
    mark(c, "jet rmsnorm + in-proj gemm");
    // Small decode batches (latency-bound): q/k norms, gates, dynamic conv and the recurrent
    // step in one launch per run. Larger ones: separate kernels, each with its best occupancy.
    const bool fused_step = decode && T <= kFusedDecodeRows;
    if (!fused_step) {
        cuda::jet_qk_gates(w.proj, P, col_ab, L.A_log, L.dt_bias, w.q, w.k, w.g, w.beta, T, H, dK,
                           s);
        mark(c, "jet qk/gates");
    }
    cuda::gemm_silu(c.blas, w.proj + col_h, P, w.hid, L.w2, w.kern, true, T, r, vd * W, 0.0f);
    mark(c, "jet silu + conv-generator gemm");
    if (!decode) {
        cuda::dynamic_conv(w.proj + col_u, P, w.kern, vd * W, L.b2, st.conv + seq * c_n, w.v, 1,
                           T, vd, W, s);
        cuda::gated_delta_chunk(w.q, w.k, w.v, w.g, w.beta, st.S + seq * s_n, w.o, 1, T, H, dK,
                                dV, scale, w.gdn_ws, w.gdn_ws_bytes, s);
    } else {
        // One launch for the whole batch: row b's states are those of sequence w.seqs[b], read
        // on the device, so a captured step serves any batch of the same size.
        if (fused_step) {
            cuda::jetblock_decode_step(w.proj, P, col_u, col_ab, w.kern, vd * W, L.b2, L.A_log,
                                       L.dt_bias, st.conv, W, st.S, w.o, T, H, dK, dV, scale, s,
                                       w.seqs);
        } else {
            cuda::dynamic_conv(w.proj + col_u, P, w.kern, vd * W, L.b2, st.conv, w.v, T, 1, vd, W,
                               s, w.seqs);
            cuda::gated_delta_step(w.q, w.k, w.v, w.g, w.beta, st.S, w.o, T, H, dK, dV, scale, s,
                                   w.seqs);
        }
    }
    mark(c, "jet dynamic conv + gated delta");
    cuda::gemm_gated_rmsnorm(c.blas, w.o, w.proj + col_g, P, L.o_norm, cf.jet_norm_eps, w.y,
                             L.w_out, w.x, true, T, H, dV, d, 1.0f);
    mark(c, "jet gated rmsnorm + o_proj gemm");
}

void CudaBackend::forward(CudaCache &c, int T, int seq, int pos0, bool decode) const {
    const Config &cf = cfg_;
    CudaCache::Work &w = c.work;
    const cudaStream_t s = c.stream;
    const int d = cf.hidden_size, I = cf.intermediate_size;
    cuda::embedding(embed_, w.ids, w.x, T, d, s);
    mark(c, "embedding");
    for (int li = 0; li < cf.num_layers; ++li) {
        if (!decode) c.check_cancel();  // never inside a graph capture
        const Layer &L = layers_[size_t(li)];
        if (L.type == JET_LAYER_JET)
            jet_layer(c, li, T, seq, decode);
        else
            attn_layer(c, li, T, seq, pos0, decode);
        cuda::gemm_rmsnorm(c.blas, w.x, L.ln2, cf.rms_norm_eps, w.xn, L.gate_up, w.proj, true, T,
                           d, 2 * I, 0.0f);
        mark(c, "mlp rmsnorm + gate/up gemm");
        cuda::gemm_silu_mul(c.blas, w.proj, w.y, L.down, w.x, true, T, I, d, 1.0f);
        mark(c, "mlp silu*mul + down gemm");
    }
}

void CudaBackend::lm_head(CudaCache &c, int row0, int n) const {
    CudaCache::Work &w = c.work;
    const int d = cfg_.hidden_size;
    cuda::rmsnorm(w.x + int64_t(row0) * d, norm_, w.xn, n, d, cfg_.rms_norm_eps, c.stream);
    mark(c, "rmsnorm");
    cuda::gemm(c.blas, w.xn, d, lm_head_, w.logits, true, n, d, cfg_.vocab_size, 0.0f);
    mark(c, "lm_head gemm");
}

void CudaBackend::prefill(Cache &cache, int seq, const int32_t *tokens, int n, float *logits,
                          bool all) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    const int V = cfg_.vocab_size;
    c.ensure_work(std::min(n, kMaxChunk));
    std::vector<int32_t> pos;
    for (int done = 0; done < n;) {
        const int T = std::min(n - done, c.work.rows);
        const int pos0 = c.pos[size_t(seq)];
        pos.resize(size_t(T));
        for (int i = 0; i < T; ++i) pos[size_t(i)] = pos0 + i;
        // Pageable sources: the copies are done with the host buffers when the calls return.
        check(cudaMemcpyAsync(c.work.ids, tokens + done, size_t(T) * 4, cudaMemcpyHostToDevice,
                              c.stream),
              "cudaMemcpyAsync (tokens)");
        check(cudaMemcpyAsync(c.work.pos, pos.data(), size_t(T) * 4, cudaMemcpyHostToDevice,
                              c.stream),
              "cudaMemcpyAsync (positions)");
        try {
            forward(c, T, seq, pos0, false);
        } catch (...) {
            cudaStreamSynchronize(c.stream);
            throw;
        }
        if (logits && all) {
            for (int r0 = 0; r0 < T; r0 += c.work.logit_rows) {
                const int nr = std::min(c.work.logit_rows, T - r0);
                lm_head(c, r0, nr);
                check(cudaMemcpyAsync(logits + int64_t(done + r0) * V, c.work.logits,
                                      size_t(nr) * V * sizeof(float), cudaMemcpyDeviceToHost,
                                      c.stream),
                      "cudaMemcpyAsync (logits)");
            }
        } else if (logits && done + T == n) {
            lm_head(c, T - 1, 1);
            check(cudaMemcpyAsync(logits, c.work.logits, size_t(V) * sizeof(float),
                                  cudaMemcpyDeviceToHost, c.stream),
                  "cudaMemcpyAsync (logits)");
        }
        check(cudaStreamSynchronize(c.stream), "prefill");
        c.pos[size_t(seq)] = pos0 + T;
        done += T;
    }
}

void CudaBackend::upload_decode(CudaCache &c, int n, const int32_t *seqs,
                                const int32_t *tokens) const {
    c.ensure_work(n);
    std::vector<int32_t> io(size_t(3) * n);
    for (int i = 0; i < n; ++i) {
        io[size_t(i)] = tokens[i];
        io[size_t(n + i)] = c.pos[size_t(seqs[i])];
        io[size_t(2 * n + i)] = seqs[i];
    }
    // Pageable sources: the copies are done with `io` when the calls return.
    check(cudaMemcpyAsync(c.work.ids, io.data(), size_t(n) * 4, cudaMemcpyHostToDevice, c.stream),
          "cudaMemcpyAsync (tokens)");
    check(cudaMemcpyAsync(c.work.pos, io.data() + n, size_t(n) * 4, cudaMemcpyHostToDevice,
                          c.stream),
          "cudaMemcpyAsync (positions)");
    check(cudaMemcpyAsync(c.work.seqs, io.data() + 2 * n, size_t(n) * 4, cudaMemcpyHostToDevice,
                          c.stream),
          "cudaMemcpyAsync (sequences)");
}

void CudaBackend::decode_step(CudaCache &c, int n) const {
    auto it = c.graphs.find(n);
    if (it == c.graphs.end()) {
        if (c.graphs.size() >= kMaxGraphs) c.drop_graphs();
        cudaGraph_t graph = nullptr;
        check(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal),
              "cudaStreamBeginCapture");
        try {
            forward(c, n, -1, 0, true);
            lm_head(c, 0, n);
        } catch (...) {
            cudaStreamEndCapture(c.stream, &graph);
            if (graph) cudaGraphDestroy(graph);
            cudaGetLastError();
            throw;
        }
        check(cudaStreamEndCapture(c.stream, &graph), "cudaStreamEndCapture");
        cudaGraphExec_t exec = nullptr;
        const cudaError_t e = cudaGraphInstantiateWithFlags(&exec, graph, 0);
        cudaGraphDestroy(graph);
        check(e, "cudaGraphInstantiate");
        it = c.graphs.emplace(n, exec).first;
    }
    check(cudaGraphLaunch(it->second, c.stream), "cudaGraphLaunch");
}

void CudaBackend::decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                         float *logits) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    c.check_cancel();
    upload_decode(c, n, seqs, tokens);
    decode_step(c, n);
    check(cudaMemcpyAsync(logits, c.work.logits, size_t(n) * cfg_.vocab_size * sizeof(float),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (logits)");
    check(cudaStreamSynchronize(c.stream), "decode");
    for (int i = 0; i < n; ++i) ++c.pos[size_t(seqs[i])];
}

void CudaBackend::decode_sample(Cache &cache, int vocab, int n, const int32_t *seqs,
                                const int32_t *tokens, Sampler *const *samplers,
                                int32_t *out_tokens, float *out_logprobs) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    c.check_cancel();
    const int V = cfg_.vocab_size;
    // Each row's rule and draw, and the histories its penalty looks at.
    std::vector<cuda::SampleRow> rows(static_cast<size_t>(n));
    std::vector<uint8_t> on_host(static_cast<size_t>(n));
    std::vector<int32_t> hist;
    for (int i = 0; i < n; ++i) {
        const Sampler &sm = *samplers[i];
        const jet_sampler_params &p = sm.params();
        cuda::SampleRow &r = rows[size_t(i)];
        r.u = samplers[i]->next_uniform();
        r.temperature = p.temperature;
        r.top_p = p.top_p;
        r.min_p = p.min_p;
        r.repeat_penalty = p.repeat_penalty;
        r.top_k = p.top_k;
        r.vocab_limit = p.vocab_limit;
        r.hist_offset = int32_t(hist.size());
        r.hist_len = p.repeat_penalty != 1.0f ? int32_t(sm.history().size()) : 0;
        // The GPU dedups at most kSampleCandidates history tokens; longer ones: the host's.
        on_host[size_t(i)] = r.hist_len > cuda::kSampleCandidates;
        if (r.hist_len > 0) hist.insert(hist.end(), sm.history().begin(), sm.history().end());
    }
    c.ensure_sample(n, hist.size());
    CudaCache::SampleIo &io = c.sample_io;
    std::memcpy(io.host_rows, rows.data(), rows.size() * sizeof(cuda::SampleRow));
    if (!hist.empty()) std::memcpy(io.host_hist, hist.data(), hist.size() * sizeof(int32_t));
    upload_decode(c, n, seqs, tokens);
    check(cudaMemcpyAsync(io.rows_dev, io.host_rows, rows.size() * sizeof(cuda::SampleRow),
                          cudaMemcpyHostToDevice, c.stream),
          "cudaMemcpyAsync (sampling rows)");
    if (!hist.empty())
        check(cudaMemcpyAsync(io.hist_dev, io.host_hist, hist.size() * sizeof(int32_t),
                              cudaMemcpyHostToDevice, c.stream),
              "cudaMemcpyAsync (sampling history)");
    decode_step(c, n);
    cuda::sample_rows(c.work.logits, n, V, io.rows_dev, io.hist_dev, io.tokens, io.logprobs,
                      c.stream);
    check(cudaMemcpyAsync(io.host_out, io.tokens, size_t(n) * sizeof(int32_t),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (tokens)");
    check(cudaMemcpyAsync(io.host_out + n, io.logprobs, size_t(n) * sizeof(float),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (log-probabilities)");
    check(cudaStreamSynchronize(c.stream), "decode_sample");
    for (int i = 0; i < n; ++i) ++c.pos[size_t(seqs[i])];
    std::vector<float> row;
    for (int i = 0; i < n; ++i) {
        int32_t t = io.host_out[i];
        float lp;
        std::memcpy(&lp, &io.host_out[n + i], sizeof lp);
        if (t == -2) throw Error(JET_ERR_INVALID_ARGUMENT, "sampler: every logit is NaN");
        if (t == -1 || on_host[size_t(i)]) {
            // A rule that needs more candidates than the GPU keeps: this row on the host, with
            // the draw already taken (the row is the raw logits again).
            row.resize(size_t(V));
            check(cudaMemcpy(row.data(), c.work.logits + int64_t(i) * V, size_t(V) * sizeof(float),
                             cudaMemcpyDeviceToHost),
                  "cudaMemcpy (logits row)");
            t = samplers[i]->pick(row.data(), V, rows[size_t(i)].u);
            lp = log_prob(row.data(), V, t);
        }
        out_tokens[i] = t;
        if (out_logprobs) out_logprobs[i] = lp;
    }
    (void)vocab;  // the model's: cfg_.vocab_size
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const Config &cfg, std::shared_ptr<const Weights> w,
                                           int device_index) {
    return std::make_unique<CudaBackend>(cfg, std::move(w), device_index);
}

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

}  // namespace jet

// ------------------------------------------------------------------ bench hooks

namespace jet::cuda {

namespace {
struct Events {
    cudaEvent_t a = nullptr, b = nullptr;
    Events() {
        check(cudaEventCreate(&a), "cudaEventCreate");
        check(cudaEventCreate(&b), "cudaEventCreate");
    }
    ~Events() {
        cudaEventDestroy(a);
        cudaEventDestroy(b);
    }
    double ms() const {
        float t = 0;
        check(cudaEventElapsedTime(&t, a, b), "cudaEventElapsedTime");
        return double(t);
    }
};
}  // namespace

double decode_step_device_ms(Backend &backend, Cache &cache, int n, const int32_t *seqs,
                             const int32_t *tokens, int reps) {
    auto &be = dynamic_cast<CudaBackend &>(backend);
    auto &c = dynamic_cast<CudaCache &>(cache);
    std::vector<float> logits(size_t(n) * be.cfg_.vocab_size);
    backend.decode(cache, n, seqs, tokens, logits.data());  // captures the graph
    const auto it = c.graphs.find(n);
    if (it == c.graphs.end()) throw Error(JET_ERR_INTERNAL, "decode graph missing");
    Events ev;
    check(cudaEventRecord(ev.a, c.stream), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) check(cudaGraphLaunch(it->second, c.stream), "cudaGraphLaunch");
    check(cudaEventRecord(ev.b, c.stream), "cudaEventRecord");
    check(cudaEventSynchronize(ev.b), "cudaEventSynchronize");
    return ev.ms() / reps;
}

namespace {
__global__ void spin_kernel(long long cycles) {
    const long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
}
}  // namespace

std::vector<std::pair<std::string, double>> decode_breakdown(Backend &backend, Cache &cache, int n,
                                                             const int32_t *seqs,
                                                             const int32_t *tokens) {
    auto &be = dynamic_cast<CudaBackend &>(backend);
    auto &c = dynamic_cast<CudaCache &>(cache);
    be.upload_decode(c, n, seqs, tokens);
    std::vector<std::pair<const char *, cudaEvent_t>> marks;
    // Hold the stream for ~100 ms so that the whole step is queued before it runs: the gaps
    // between events are then GPU time, not host launch time.
    spin_kernel<<<1, 1, 0, c.stream>>>(200000000LL);
    check_launch("spin");
    c.marks = &marks;
    mark(c, "start");
    try {
        be.eager_decode(c, n);
    } catch (...) {
        c.marks = nullptr;
        throw;
    }
    c.marks = nullptr;
    check(cudaStreamSynchronize(c.stream), "breakdown");
    std::vector<std::pair<std::string, double>> out;
    for (size_t i = 1; i < marks.size(); ++i) {
        float ms = 0;
        check(cudaEventElapsedTime(&ms, marks[i - 1].second, marks[i].second), "elapsed");
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const auto &p) { return p.first == marks[i].first; });
        if (it == out.end())
            out.emplace_back(marks[i].first, double(ms));
        else
            it->second += double(ms);
    }
    for (auto &m : marks) cudaEventDestroy(m.second);
    return out;
}

double copy_bandwidth(size_t bytes, int reps) {
    void *src = device_alloc(bytes, "bandwidth test"), *dst = nullptr;
    try {
        dst = device_alloc(bytes, "bandwidth test");
    } catch (...) {
        cudaFree(src);
        throw;
    }
    check(cudaMemset(src, 1, bytes), "cudaMemset");
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy");  // warm-up
    double best = 1e30;
    {
        Events ev;
        for (int r = 0; r < reps; ++r) {
            check(cudaEventRecord(ev.a, nullptr), "cudaEventRecord");
            check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr), "copy");
            check(cudaEventRecord(ev.b, nullptr), "cudaEventRecord");
            check(cudaEventSynchronize(ev.b), "cudaEventSynchronize");
            best = std::min(best, ev.ms());
        }
    }
    cudaFree(src);
    cudaFree(dst);
    return 2.0 * double(bytes) / (best * 1e-3);
}

}  // namespace jet::cuda
