// cpu_backend.cpp - the Jet-Nemotron forward pass on the CPU (docs/model.md sections 4 and 5): float32
// activations, bf16, INT8/FP8 (quantized) or float32 weight matrices (cpu_backend.h).
#include "cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/threads.h"
#include "error.h"

namespace jet {

namespace {

// The official code runs the recurrent kernel for <= 64 new tokens, the chunked one otherwise.
constexpr int kChunkThreshold = 64;

void add_inplace(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

CpuBackend::CpuBackend(const Config &cfg, std::shared_ptr<const Weights> w, int n_threads)
    : cfg_(cfg), weights_(std::move(w)) {
    cpu::set_num_threads(n_threads);
    auto load = [&](Role role, int layer) {
        const TensorView &t = weights_->get(role, layer);
        std::vector<float> v(static_cast<size_t>(t.numel()));
        constexpr int64_t kBlock = 1 << 16;  // convert in parallel blocks
        cpu::parallel_for((t.numel() + kBlock - 1) / kBlock, [&](int64_t b0, int64_t b1) {
            TensorView part = t;
            const int64_t begin = b0 * kBlock, end = std::min(t.numel(), b1 * kBlock);
            part.shape = {end - begin};
            part.data = static_cast<const uint8_t *>(t.data) + begin * int64_t(dtype_size(t.dtype));
            part.to_f32(v.data() + begin);
        });
        weight_bytes_ += int64_t(v.size() * sizeof(float));
        return v;
    };
    auto matrix = [&](Role role, int layer) {
        const TensorView &t = weights_->get(role, layer);
        Matrix m;
        if (const TensorView *sc = weights_->scale(role, layer)) {
            m.scale = static_cast<const float *>(sc->data);
            m.group = weights_->group_size(role, layer);
            if (t.dtype == DType::I8)
                m.q8 = static_cast<const int8_t *>(t.data);
            else
                m.fp8 = static_cast<const uint8_t *>(t.data);
            weight_bytes_ += t.numel() + sc->numel() * int64_t(sizeof(float));
        } else if (t.dtype == DType::BF16 && reinterpret_cast<uintptr_t>(t.data) % alignof(uint16_t) == 0) {
            m.bf16 = static_cast<const uint16_t *>(t.data);
            weight_bytes_ += t.numel() * int64_t(sizeof(uint16_t));
        } else {
            m.f32 = load(role, layer);
        }
        return m;
    };
    embed_ = matrix(Role::Embed, kNoLayer);
    norm_ = load(Role::FinalNorm, kNoLayer);
    if (!cfg.tie_word_embeddings) lm_head_ = matrix(Role::LmHead, kNoLayer);
    layers_.resize(cfg.num_layers);
    for (int i = 0; i < cfg.num_layers; ++i) {
        Layer &l = layers_[i];
        l.type = cfg.layer_types[i];
        l.ln1 = load(Role::Ln1, i);
        l.ln2 = load(Role::Ln2, i);
        l.gate = matrix(Role::MlpGate, i);
        l.up = matrix(Role::MlpUp, i);
        l.down = matrix(Role::MlpDown, i);
        if (l.type == JET_LAYER_JET) {
            l.wq = matrix(Role::JetQ, i);
            l.wk = matrix(Role::JetK, i);
            l.wv = matrix(Role::JetV, i);
            l.wo = matrix(Role::JetO, i);
            l.wa = matrix(Role::JetA, i);
            l.wb = matrix(Role::JetB, i);
            l.A_log = load(Role::JetALog, i);
            l.dt_bias = load(Role::JetDtBias, i);
            l.wg = matrix(Role::JetG, i);
            l.o_norm = load(Role::JetONorm, i);
            l.gen_w1 = matrix(Role::JetGenW1, i);
            l.gen_w2 = matrix(Role::JetGenW2, i);
            l.gen_b2 = load(Role::JetGenB2, i);
        } else {
            l.wq = matrix(Role::AttnQ, i);
            l.wk = matrix(Role::AttnK, i);
            l.wv = matrix(Role::AttnV, i);
            l.wo = matrix(Role::AttnO, i);
            l.bq = load(Role::AttnQBias, i);
            l.bk = load(Role::AttnKBias, i);
            l.bv = load(Role::AttnVBias, i);
        }
    }
}

std::unique_ptr<Cache> CpuBackend::create_cache(int n_seq, int n_ctx) {
    return std::make_unique<CpuCache>(cfg_, n_seq, n_ctx);
}

int64_t CpuBackend::weight_bytes() const { return weight_bytes_; }

void CpuBackend::matmul(const Matrix &W, const float *x, const float *bias, float *y, int T, int K,
                        int N) {
    if (W.bf16)
        cpu::matmul_bf16(x, W.bf16, bias, y, T, K, N);
    else if (W.q8)
        cpu::matmul_q8(x, W.q8, W.scale, W.group, bias, y, T, K, N);
    else if (W.fp8)
        cpu::matmul_fp8(x, W.fp8, W.scale, W.group, bias, y, T, K, N);
    else
        cpu::matmul(x, W.f32.data(), bias, y, T, K, N);
}

int64_t CpuBackend::cache_bytes(int64_t n_ctx, int64_t *per_token) const {
    return CpuCache::bytes_per_seq(cfg_, n_ctx, per_token);
}

void CpuBackend::prefill(Cache &cache, int seq, const int32_t *tokens, int n, float *logits,
                         bool all) {
    auto &c = static_cast<CpuCache &>(cache);
    std::vector<int> rows;
    if (logits) {
        if (all) {
            for (int i = 0; i < n; ++i) rows.push_back(i);
        } else {
            rows.push_back(n - 1);
        }
    }
    forward(c, {{seq, 0, n}}, tokens, n, rows, logits);
}

void CpuBackend::decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                        float *logits) {
    auto &c = static_cast<CpuCache &>(cache);
    std::vector<Segment> segs;
    std::vector<int> rows;
    for (int i = 0; i < n; ++i) {
        segs.push_back({seqs[i], i, 1});
        rows.push_back(i);
    }
    forward(c, segs, tokens, n, rows, logits);
}

void CpuBackend::forward(CpuCache &c, const std::vector<Segment> &segs, const int32_t *tokens,
                         int T, const std::vector<int> &logit_rows, float *logits) {
    const int d = cfg_.hidden_size, I = cfg_.intermediate_size;
    std::vector<int32_t> positions(T);
    for (const Segment &s : segs)
        for (int i = 0; i < s.n; ++i) positions[s.row0 + i] = c.pos[s.seq] + i;

    std::vector<float> x(size_t(T) * d), h(size_t(T) * d), mix(size_t(T) * d);
    std::vector<float> gate(size_t(T) * I), up(size_t(T) * I);
    if (embed_.bf16)
        cpu::embedding_bf16(embed_.bf16, tokens, x.data(), T, d);
    else
        cpu::embedding(embed_.f32.data(), tokens, x.data(), T, d);
    if (on_hidden) on_hidden(0, x.data(), T, d);

    for (int li = 0; li < cfg_.num_layers; ++li) {
        c.check_cancel();
        const Layer &l = layers_[li];
        cpu::rmsnorm(x.data(), l.ln1.data(), h.data(), T, d, cfg_.rms_norm_eps);
        if (l.type == JET_LAYER_JET) {
            jet_layer(c, li, segs, h.data(), mix.data(), T);
        } else {
            attention_layer(c, li, segs, positions.data(), h.data(), mix.data(), T);
        }
        add_inplace(x.data(), mix.data(), int64_t(T) * d);
        cpu::rmsnorm(x.data(), l.ln2.data(), h.data(), T, d, cfg_.rms_norm_eps);
        matmul(l.gate, h.data(), nullptr, gate.data(), T, d, I);
        matmul(l.up, h.data(), nullptr, up.data(), T, d, I);
        cpu::silu_mul(gate.data(), up.data(), gate.data(), int64_t(T) * I);
        matmul(l.down, gate.data(), nullptr, mix.data(), T, I, d);
        add_inplace(x.data(), mix.data(), int64_t(T) * d);
        if (on_hidden) on_hidden(li + 1, x.data(), T, d);
    }
    c.check_cancel();
    for (const Segment &s : segs) c.pos[s.seq] += s.n;  // every layer's cache is written

    if (logit_rows.empty() && !on_hidden) return;
    cpu::rmsnorm(x.data(), norm_.data(), h.data(), T, d, cfg_.rms_norm_eps);
    if (on_hidden) on_hidden(cfg_.num_layers + 1, h.data(), T, d);
    if (logit_rows.empty()) return;
    const int R = static_cast<int>(logit_rows.size());
    std::vector<float> picked(size_t(R) * d);
    for (int r = 0; r < R; ++r)
        std::memcpy(&picked[size_t(r) * d], &h[size_t(logit_rows[r]) * d], sizeof(float) * d);
    matmul(lm_head_.empty() ? embed_ : lm_head_, picked.data(), nullptr, logits, R, d,
           cfg_.vocab_size);
}

void CpuBackend::attention_layer(CpuCache &c, int li, const std::vector<Segment> &segs,
                                 const int32_t *positions, const float *h, float *out, int T) {
    const Layer &l = layers_[li];
    CpuCache::Layer &cl = c.layers[li];
    const int d = cfg_.hidden_size, nh = cfg_.num_attention_heads, nkv = cfg_.num_kv_heads;
    const int hd = cfg_.head_dim, qd = nh * hd, kvd = nkv * hd;
    std::vector<float> q(size_t(T) * qd), k(size_t(T) * kvd), v(size_t(T) * kvd);
    std::vector<float> att(size_t(T) * qd);
    matmul(l.wq, h, l.bq.data(), q.data(), T, d, qd);
    matmul(l.wk, h, l.bk.data(), k.data(), T, d, kvd);
    matmul(l.wv, h, l.bv.data(), v.data(), T, d, kvd);
    cpu::rope(q.data(), T, nh, hd, positions, cfg_.rope_theta);
    cpu::rope(k.data(), T, nkv, hd, positions, cfg_.rope_theta);
    const size_t row_bytes = sizeof(float) * size_t(kvd);

    for (const Segment &s : segs) {
        const int p0 = c.pos[s.seq], n = s.n;
        const float *ks = &k[size_t(s.row0) * kvd], *vs = &v[size_t(s.row0) * kvd];
        const float *qs = &q[size_t(s.row0) * qd];
        const int32_t *qpos = positions + s.row0;
        float *os = &att[size_t(s.row0) * qd];
        float *K = cl.k_seq(s.seq), *V = cl.v_seq(s.seq);
        if (cl.type == JET_LAYER_ATTN) {
            std::memcpy(K + size_t(p0) * kvd, ks, row_bytes * n);
            std::memcpy(V + size_t(p0) * kvd, vs, row_bytes * n);
            std::vector<int32_t> kpos(size_t(p0) + n);
            for (int j = 0; j < p0 + n; ++j) kpos[j] = j;
            cpu::attention(qs, K, V, qpos, kpos.data(), os, n, p0 + n, nh, nkv, hd, 0);
            continue;
        }
        // Sliding window: slot j of the ring holds the latest position q < P with q % S == j.
        const int S = cl.slots, w = cfg_.swa_window;
        auto ring_pos = [S](int P, std::vector<int32_t> &kp) {
            for (int j = 0; j < S; ++j) {
                const int last = P - 1 - (((P - 1 - j) % S) + S) % S;
                kp[j] = P > 0 && last >= 0 ? last : -1;
            }
        };
        if (n == 1) {  // write first: the overwritten slot is outside the window
            std::memcpy(K + size_t(p0 % S) * kvd, ks, row_bytes);
            std::memcpy(V + size_t(p0 % S) * kvd, vs, row_bytes);
            std::vector<int32_t> kpos(S);
            ring_pos(p0 + 1, kpos);
            cpu::attention(qs, K, V, qpos, kpos.data(), os, 1, S, nh, nkv, hd, w);
            continue;
        }
        // Several tokens: attend over [ring ; chunk], then store the chunk's last S tokens.
        const int L = S + n;
        std::vector<float> Kt(size_t(L) * kvd), Vt(size_t(L) * kvd);
        std::vector<int32_t> kpos(L);
        std::memcpy(Kt.data(), K, row_bytes * S);
        std::memcpy(Vt.data(), V, row_bytes * S);
        std::memcpy(&Kt[size_t(S) * kvd], ks, row_bytes * n);
        std::memcpy(&Vt[size_t(S) * kvd], vs, row_bytes * n);
        ring_pos(p0, kpos);
        for (int i = 0; i < n; ++i) kpos[S + i] = p0 + i;
        cpu::attention(qs, Kt.data(), Vt.data(), qpos, kpos.data(), os, n, L, nh, nkv, hd, w);
        for (int i = std::max(0, n - S); i < n; ++i) {
            const int slot = (p0 + i) % S;
            std::memcpy(K + size_t(slot) * kvd, ks + size_t(i) * kvd, row_bytes);
            std::memcpy(V + size_t(slot) * kvd, vs + size_t(i) * kvd, row_bytes);
        }
    }
    matmul(l.wo, att.data(), nullptr, out, T, qd, d);
}

void CpuBackend::jet_layer(CpuCache &c, int li, const std::vector<Segment> &segs, const float *h,
                           float *out, int T) {
    const Layer &l = layers_[li];
    CpuCache::Layer &cl = c.layers[li];
    const int d = cfg_.hidden_size, H = cfg_.jet_num_heads, dK = cfg_.jet_head_k_dim, dV = cfg_.jet_head_v_dim;
    const int kd = cfg_.jet_key_dim(), vd = cfg_.jet_value_dim(), W = cfg_.jet_conv_size;
    const int r = cfg_.jet_gen_hidden;
    std::vector<float> q(size_t(T) * kd), k(size_t(T) * kd), u(size_t(T) * vd);
    std::vector<float> a(size_t(T) * H), b(size_t(T) * H), g(size_t(T) * H), beta(size_t(T) * H);
    std::vector<float> gen(size_t(T) * r), kern(size_t(T) * vd * W), vconv(size_t(T) * vd);
    std::vector<float> o(size_t(T) * vd), G(size_t(T) * vd);

    matmul(l.wq, h, nullptr, q.data(), T, d, kd);
    matmul(l.wk, h, nullptr, k.data(), T, d, kd);
    cpu::silu(q.data(), int64_t(T) * kd);
    cpu::silu(k.data(), int64_t(T) * kd);
    cpu::l2norm_heads(q.data(), T, H, dK, 1e-6f);
    cpu::l2norm_heads(k.data(), T, H, dK, 1e-6f);
    matmul(l.wa, h, nullptr, a.data(), T, d, H);
    matmul(l.wb, h, nullptr, b.data(), T, d, H);
    cpu::jet_gates(a.data(), b.data(), l.A_log.data(), l.dt_bias.data(), g.data(), beta.data(), T, H);
    matmul(l.wv, h, nullptr, u.data(), T, d, vd);
    matmul(l.gen_w1, h, nullptr, gen.data(), T, d, r);
    cpu::silu(gen.data(), int64_t(T) * r);
    matmul(l.gen_w2, gen.data(), l.gen_b2.data(), kern.data(), T, r, vd * W);
    const float scale = 1.0f / std::sqrt(float(dK));

    for (const Segment &s : segs) {
        const size_t r0 = size_t(s.row0);
        cpu::dynamic_conv(&u[r0 * vd], &kern[r0 * vd * W], cl.conv_seq(s.seq), &vconv[r0 * vd],
                          s.n, vd, W);
        if (s.n > kChunkThreshold) {
            cpu::gated_delta_chunked(&q[r0 * kd], &k[r0 * kd], &vconv[r0 * vd], &g[r0 * H],
                                     &beta[r0 * H], cl.state_seq(s.seq), &o[r0 * vd], s.n, H,
                                     dK, dV, scale);
        } else {
            cpu::gated_delta_recurrent(&q[r0 * kd], &k[r0 * kd], &vconv[r0 * vd], &g[r0 * H],
                                       &beta[r0 * H], cl.state_seq(s.seq), &o[r0 * vd], s.n, H,
                                       dK, dV, scale);
        }
    }
    matmul(l.wg, h, nullptr, G.data(), T, d, vd);
    cpu::gated_rmsnorm(o.data(), G.data(), l.o_norm.data(), T, H, dV, cfg_.jet_norm_eps);
    matmul(l.wo, o.data(), nullptr, out, T, vd, d);
}

std::unique_ptr<Backend> make_cpu_backend(const Config &cfg, std::shared_ptr<const Weights> w,
                                          int n_threads) {
    return std::make_unique<CpuBackend>(cfg, std::move(w), n_threads);
}

}  // namespace jet
