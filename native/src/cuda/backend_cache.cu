// backend_cache.cu - a CUDA session's cache (CudaCache): its state arena (KV rows of attention
// layers, JetBlock recurrent and conv states, shaped by model_desc.h's layer_cache_shape), its
// stream, cuBLAS handle and the workspace of one forward.
#include <algorithm>

#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

void CudaCache::layout_state(Arena &a) {
    const Config &c = be.cfg_;
    layers.assign(size_t(c.num_layers), LayerState{});
    const size_t ns = size_t(n_seq);
    for (int i = 0; i < c.num_layers; ++i) {
        LayerState &L = layers[size_t(i)];
        const LayerCacheShape shape = layer_cache_shape(c, i, n_ctx);
        if (shape.type == JET_LAYER_JET) {
            L.state_n = shape.state;
            L.conv_n = shape.conv;
            L.S = a.take<float>(ns * size_t(L.state_n));
            L.conv = a.take<float>(ns * size_t(L.conv_n));
        } else {
            L.ring = shape.kv_ring;  // a ring of `window` rows; else row = position
            L.cap = int(shape.kv_rows);
            L.kv_width = shape.kv_width;
            L.k = a.take<bf16>(ns * size_t(L.cap) * size_t(L.kv_width));
            L.v = a.take<bf16>(ns * size_t(L.cap) * size_t(L.kv_width));
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
        const size_t H = size_t(c.jet_num_heads);
        o.g = a.take<float>(R * H);
        o.beta = a.take<float>(R * H);
        o.hid = a.take<bf16>(R * size_t(c.jet_gen_hidden));
        o.kern = a.take<float>(R * vd * size_t(c.jet_conv_size));
        o.o = a.take<float>(R * vd);
        o.gdn_ws_bytes = cuda::gated_delta_chunk_any_workspace_bytes(
            1, rows, c.jet_num_heads, c.jet_head_k_dim, c.jet_head_v_dim);
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
    for (const LayerState &L : layers) {
        if (!L.S) continue;  // KV rows past the position are never read
        const size_t s_n = size_t(L.state_n), c_n = size_t(L.conv_n);
        check(cudaMemsetAsync(L.S + size_t(seq) * s_n, 0, s_n * sizeof(float), stream), "reset");
        check(cudaMemsetAsync(L.conv + size_t(seq) * c_n, 0, c_n * sizeof(float), stream), "reset");
    }
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    pos[size_t(seq)] = 0;
}

void CudaCache::copy_seq(int src, int dst) {
    check(cudaSetDevice(be.device_), "cudaSetDevice");
    if (src == dst) return;
    auto cp = [&](void *base, size_t bytes_per_seq) {
        char *b = static_cast<char *>(base);
        check(cudaMemcpyAsync(b + size_t(dst) * bytes_per_seq, b + size_t(src) * bytes_per_seq,
                              bytes_per_seq, cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpyAsync (copy_seq)");
    };
    for (const LayerState &L : layers) {
        if (L.S) {
            cp(L.S, size_t(L.state_n) * sizeof(float));
            cp(L.conv, size_t(L.conv_n) * sizeof(float));
        } else {
            cp(L.k, size_t(L.cap) * size_t(L.kv_width) * sizeof(bf16));
            cp(L.v, size_t(L.cap) * size_t(L.kv_width) * sizeof(bf16));
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
    return cache_bytes_per_seq(cfg_, n_ctx, kCudaCacheElements, per_token);
}

}  // namespace jet::cuda
