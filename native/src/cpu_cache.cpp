// cpu_cache.cpp - allocation, reset, copy and size of the CPU backend's cache.
#include "cpu_cache.h"

#include <algorithm>
#include <cstring>

namespace jet {

namespace {

int swa_slots(const Config &cfg, int64_t n_ctx) {
    return static_cast<int>(std::min<int64_t>(cfg.swa_window, n_ctx));
}

}  // namespace

int64_t CpuCache::bytes_per_seq(const Config &cfg, int64_t n_ctx, int64_t *per_token) {
    const int64_t kv_row = int64_t(cfg.num_kv_heads) * cfg.head_dim;
    int64_t floats = 0, token_floats = 0;
    for (jet_layer_type t : cfg.layer_types) {
        if (t == JET_LAYER_ATTN) {
            floats += 2 * kv_row * n_ctx;
            token_floats += 2 * kv_row;
        } else if (t == JET_LAYER_SWA) {
            floats += 2 * kv_row * swa_slots(cfg, n_ctx);
        } else {
            floats += int64_t(cfg.jet_heads) * cfg.jet_dk * cfg.jet_dv +
                      int64_t(cfg.jet_value_dim()) * cfg.jet_conv;
        }
    }
    if (per_token) *per_token = token_floats * int64_t(sizeof(float));
    return floats * int64_t(sizeof(float));
}

CpuCache::CpuCache(const Config &cfg, int n_seq_, int n_ctx_) {
    n_seq = n_seq_;
    n_ctx = n_ctx_;
    pos.assign(n_seq, 0);
    const int64_t kv_row = int64_t(cfg.num_kv_heads) * cfg.head_dim;
    layers.resize(cfg.layer_types.size());
    for (size_t i = 0; i < cfg.layer_types.size(); ++i) {
        Layer &l = layers[i];
        l.type = cfg.layer_types[i];
        if (l.type == JET_LAYER_JET) {
            l.state_size = int64_t(cfg.jet_heads) * cfg.jet_dk * cfg.jet_dv;
            l.conv_size = int64_t(cfg.jet_value_dim()) * cfg.jet_conv;
            l.state.assign(size_t(l.state_size * n_seq), 0.0f);
            l.conv.assign(size_t(l.conv_size * n_seq), 0.0f);
        } else {
            l.slots = l.type == JET_LAYER_ATTN ? n_ctx : swa_slots(cfg, n_ctx);
            l.row = kv_row;
            l.k.assign(size_t(int64_t(n_seq) * l.slots * l.row), 0.0f);
            l.v.assign(size_t(int64_t(n_seq) * l.slots * l.row), 0.0f);
        }
    }
}

std::unique_ptr<Cache> CpuCache::clone() const { return std::make_unique<CpuCache>(*this); }

void CpuCache::reset(int seq) {
    pos[seq] = 0;
    for (Layer &l : layers) {
        if (l.type == JET_LAYER_JET) {
            std::fill_n(l.state_seq(seq), l.state_size, 0.0f);
            std::fill_n(l.conv_seq(seq), l.conv_size, 0.0f);
        }
        // KV slots need no clearing: a slot is read only for positions < pos.
    }
}

void CpuCache::copy_seq(int src, int dst) {
    if (src == dst) return;
    const int64_t p = pos[src];
    for (Layer &l : layers) {
        if (l.type == JET_LAYER_JET) {
            std::memcpy(l.state_seq(dst), l.state_seq(src), size_t(l.state_size) * sizeof(float));
            std::memcpy(l.conv_seq(dst), l.conv_seq(src), size_t(l.conv_size) * sizeof(float));
        } else {
            const int64_t used = std::min<int64_t>(p, l.slots);  // attn: p; swa: filled slots
            std::memcpy(l.k_seq(dst), l.k_seq(src), size_t(used * l.row) * sizeof(float));
            std::memcpy(l.v_seq(dst), l.v_seq(src), size_t(used * l.row) * sizeof(float));
        }
    }
    pos[dst] = pos[src];
}

int64_t CpuCache::bytes() const {
    int64_t n = 0;
    for (const Layer &l : layers)
        n += int64_t(l.k.size() + l.v.size() + l.state.size() + l.conv.size()) * int64_t(sizeof(float));
    return n;
}

}  // namespace jet
