// backend_forward.cu - the CUDA forward pass (docs/model.md sections 4 and 5): embedding, the
// attention and JetBlock layers with their MLPs, the LM head; prefill in chunks, and the upload
// of a decode step's inputs.
#include <algorithm>
#include <cmath>

#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

// Records an event named after the op just enqueued (benchmark breakdown only).
void mark(CudaCache &c, const char *op) {
    if (!c.marks) return;
    cudaEvent_t e = nullptr;
    check(cudaEventCreate(&e), "cudaEventCreate");
    c.marks->emplace_back(op, e);
    check(cudaEventRecord(e, c.stream), "cudaEventRecord");
}

namespace {

// Prefill attention: the fused kernel where it serves the shape, else the generic one.
void attention_prefill_any(const Config &c, const bf16 *q, const bf16 *k, const bf16 *v, bf16 *out,
                           int T, int L, int q_pos0, int k_pos0, int window, cudaStream_t s) {
    if (fused_attention(c))
        cuda::attention_prefill(q, k, v, out, 1, T, L, c.num_attention_heads, c.num_kv_heads,
                                c.head_dim, q_pos0, k_pos0, window, s);
    else
        cuda::attention_prefill_generic(q, k, v, out, 1, T, L, c.num_attention_heads,
                                        c.num_kv_heads, c.head_dim, q_pos0, k_pos0, window, s);
}

}  // namespace

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
            mark(c, "attn rope + kv store");
            attention_prefill_any(cf, w.q, kc, vc, w.y, T, pos0 + T, pos0, 0, window, s);
            mark(c, "attn attention prefill");
        } else {
            // Previous window rows (oldest first) then the new rows, contiguous.
            const int nprev = std::min(pos0, window - 1);
            cuda::kv_ring_gather(kc, w.kwin, nprev, kvd, pos0 - nprev, st.cap, s);
            cuda::kv_ring_gather(vc, w.vwin, nprev, kvd, pos0 - nprev, st.cap, s);
            bf16 *kn = w.kwin + int64_t(nprev) * kvd, *vn = w.vwin + int64_t(nprev) * kvd;
            cuda::bias_rope_split(w.proj, L.b_in, w.pos, w.q, kn, vn, T, nh, nkv, hd, theta, s);
            mark(c, "swa ring gather + rope");
            attention_prefill_any(cf, w.q, w.kwin, w.vwin, w.y, T, nprev + T, pos0, pos0 - nprev,
                                  window, s);
            mark(c, "swa attention prefill");
            cuda::kv_store(kn, kc, T, kvd, pos0, st.cap, true, s);
            cuda::kv_store(vn, vc, T, kvd, pos0, st.cap, true, s);
            mark(c, "swa kv store");
        }
    } else {
        cuda::bias_rope_store(w.proj, L.b_in, w.pos, w.seqs, w.q, st.k, st.v, seq_stride, st.cap,
                              st.ring, T, nh, nkv, hd, theta, s);
        mark(c, "attn rope + kv store");
        // One launch for the whole batch: row b reads the cache of sequence w.seqs[b] on the
        // device, so a captured step serves any batch of the same size.
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
    const int d = cf.hidden_size, H = cf.jet_num_heads, dK = cf.jet_head_k_dim;
    const int dV = cf.jet_head_v_dim, W = cf.jet_conv_size;
    const int kd = cf.jet_key_dim(), vd = cf.jet_value_dim();
    const int r = cf.jet_gen_hidden, P = jet_in_rows_;
    const int col_u = 2 * kd, col_g = 2 * kd + vd, col_h = 2 * kd + 2 * vd, col_ab = col_h + r;
    const int64_t s_n = st.state_n, c_n = st.conv_n;  // per sequence
    const float scale = 1.0f / std::sqrt(float(dK));

    cuda::gemm_rmsnorm(c.blas, w.x, L.ln1, cf.rms_norm_eps, w.xn, L.w_in, w.proj, true, T, d, P,
                       0.0f);
    mark(c, "jet rmsnorm + in-proj gemm");
    // Small decode batches (latency-bound): q/k norms, gates, dynamic conv and the recurrent
    // step in one launch (conv taps W <= 8). Larger ones: separate kernels, each with its best
    // occupancy.
    const bool fused_step = decode && T <= kFusedDecodeRows && W <= 8;
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
        mark(c, "jet dynamic conv");
        cuda::gated_delta_chunk_any(w.q, w.k, w.v, w.g, w.beta, st.S + seq * s_n, w.o, 1, T, H,
                                    dK, dV, scale, w.gdn_ws, w.gdn_ws_bytes, s);
    } else {
        // One launch for the whole batch: row b's states are those of sequence w.seqs[b].
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
    mark(c, decode ? "jet dynamic conv + gated delta" : "jet gated delta chunk");
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

}  // namespace jet::cuda
