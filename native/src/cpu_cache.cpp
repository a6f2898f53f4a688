// cpu_cache.cpp - allocation, reset, copy and size of the CPU backend's cache (shapes from
// model_desc.h layer_cache_shape, fp32 throughout).
#include "cpu_cache.h"

#include <algorithm>
#include <cstring>

#include "model_desc.h"

namespace jet {

int64_t CpuCache::bytes_per_seq(const Config &cfg, int64_t n_ctx, int64_t *per_token) {
    return cache_bytes_per_seq(cfg, n_ctx, kCpuCacheElements, per_token);
}

CpuCache::CpuCache(const Config &cfg, int n_seq_, int n_ctx_) {
    n_seq = n_seq_;
    n_ctx = n_ctx_;
    pos.assign(n_seq, 0);
    layers.resize(cfg.layer_types.size());
    for (size_t i = 0; i < cfg.layer_types.size(); ++i) {
        Layer &l = layers[i];
        const LayerCacheShape shape = layer_cache_shape(cfg, int(i), n_ctx);
        l.type = shape.type;
        if (l.type == JET_LAYER_JET) {
            l.state_size = shape.state;
            l.conv_size = shape.conv;
            l.state.assign(size_t(l.state_size * n_seq), 0.0f);
            l.conv.assign(size_t(l.conv_size * n_seq), 0.0f);
        } else {
            l.slots = static_cast<int>(shape.kv_rows);
            l.row = shape.kv_width;
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
