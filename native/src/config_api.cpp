// config_api.cpp - the jet_config_* functions of jet.h: what a config.json text describes
// (dimensions, parameters, cache bytes) without weights or a device. Thin wrappers over
// parse_config, Weights::expected and CpuCache::bytes_per_seq, with api.cpp's error handling.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "api_guard.h"
#include "config.h"
#include "cpu_cache.h"
#include "jet.h"
#include "model_info.h"
#include "weights.h"

using jet::Error;
using jet::api::guard;
using jet::api::invalid;

namespace {

jet::Config parse(const char *config_json) {
    if (!config_json) invalid("config_json is NULL");
    return jet::parse_config(config_json);
}

// Parameters of a checkpoint of `cfg`: every tensor it must hold (the tied embedding once), as
// jet_model_load counts the ones it binds.
int64_t n_params(const jet::Config &cfg) {
    int64_t n = 0;
    for (const jet::Weights::Expected &e : jet::Weights::expected(cfg)) {
        int64_t numel = 1;
        for (int64_t d : e.shape) numel *= d;
        n += numel;
    }
    return n;
}

// Bytes per element of each part of a backend's cache. CPU: float32 everywhere (cpu_cache.h).
// CUDA: bf16 K/V, float32 JetBlock states (CudaCache::layout_state in cuda/cuda_backend.cu).
struct CacheElements {
    int64_t kv;
    int64_t state;
};
constexpr CacheElements kCpuCache{4, 4};
constexpr CacheElements kCudaCache{2, 4};

// The cache of one sequence by part, from the dimensions jet_model_info reports.
jet_cache_breakdown breakdown(const jet_model_info &i, int64_t n_ctx, CacheElements el) {
    jet_cache_breakdown b{};
    b.size = sizeof(b);
    b.n_ctx = n_ctx;
    const int64_t kv_token = 2 * int64_t(i.num_kv_heads) * i.head_dim * el.kv;  // K and V
    const int64_t swa_rows = std::min<int64_t>(i.swa_window, n_ctx);
    b.per_token = i.n_attn_layers * kv_token;
    b.attn_kv = b.per_token * n_ctx;
    b.swa_kv = i.n_swa_layers * swa_rows * kv_token;
    b.jet_state =
        i.n_jet_layers * int64_t(i.jet_num_heads) * i.jet_head_k_dim * i.jet_head_v_dim * el.state;
    b.jet_conv =
        i.n_jet_layers * int64_t(i.jet_num_heads) * i.jet_head_v_dim * i.jet_conv_size * el.state;
    b.total = b.attn_kv + b.swa_kv + b.jet_state + b.jet_conv;
    return b;
}

}  // namespace

extern "C" {

jet_status jet_config_get_info(const char *config_json, jet_model_info *out) {
    return guard("jet_config_get_info", [&] {
        const jet::Config cfg = parse(config_json);
        const int64_t n = n_params(cfg);
        jet::copy_model_info(jet::model_info(cfg, JET_DEVICE_CPU, n, n * 2), out);
    });
}

jet_status jet_config_layer_type(const char *config_json, int32_t layer, int32_t *out_type) {
    return guard("jet_config_layer_type", [&] {
        if (!out_type) invalid("out_type is NULL");
        const jet::Config cfg = parse(config_json);
        if (layer < 0 || layer >= cfg.num_layers)
            invalid("layer " + std::to_string(layer) + " is out of range [0, " +
                    std::to_string(cfg.num_layers) + ")");
        *out_type = cfg.layer_types[size_t(layer)];
    });
}

jet_status jet_config_cache_bytes(const char *config_json, int32_t device, int64_t n_ctx,
                                  jet_cache_breakdown *out) {
    return guard("jet_config_cache_bytes", [&] {
        if (!out) invalid("out is NULL");
        if (out->size < sizeof(uint32_t)) invalid("jet_cache_breakdown.size is not set");
        if (device != JET_DEVICE_CPU && device != JET_DEVICE_CUDA)
            invalid("device " + std::to_string(device) + " is not a jet_device");
        if (n_ctx <= 0 || n_ctx > INT32_MAX) invalid("n_ctx must be in [1, 2^31)");
        const jet::Config cfg = parse(config_json);
        const jet_model_info info = jet::model_info(cfg, JET_DEVICE_CPU, 0, 0);
        jet_cache_breakdown b =
            breakdown(info, n_ctx, device == JET_DEVICE_CUDA ? kCudaCache : kCpuCache);
        b.device = device;
        if (device == JET_DEVICE_CPU) {  // the CPU cache's own arithmetic must agree
            int64_t per_token = 0;
            const int64_t total = jet::CpuCache::bytes_per_seq(cfg, n_ctx, &per_token);
            if (total != b.total || per_token != b.per_token)
                throw Error(JET_ERR_INTERNAL,
                            "cache breakdown " + std::to_string(b.total) + " B (" +
                                std::to_string(b.per_token) + " B/token) disagrees with the CPU "
                                "cache's " + std::to_string(total) + " B (" +
                                std::to_string(per_token) + " B/token)");
        }
        b.size = out->size;
        std::memcpy(out, &b, std::min<size_t>(out->size, sizeof(b)));
    });
}

}  // extern "C"
