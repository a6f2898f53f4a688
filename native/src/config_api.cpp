// config_api.cpp - the jet_config_* functions of jet.h: what a config.json text describes
// (dimensions, parameters, cache bytes) without weights or a device. Thin wrappers over
// parse_config and model_desc.h (tensors, per-layer cache shapes), with api.cpp's error handling.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "api_guard.h"
#include "config.h"
#include "jet.h"
#include "model_desc.h"
#include "model_info.h"
#include "weights.h"

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

// The cache of one sequence by part: model_desc.h's per-layer shapes with the backend's element
// sizes (the function both caches are built from).
jet_cache_breakdown breakdown(const jet::Config &cfg, int64_t n_ctx, jet::CacheElementBytes el) {
    jet_cache_breakdown b{};
    b.size = sizeof(b);
    b.n_ctx = n_ctx;
    for (int i = 0; i < cfg.num_layers; ++i) {
        const jet::LayerCacheShape l = jet::layer_cache_shape(cfg, i, n_ctx);
        const int64_t kv = 2 * l.kv_rows * l.kv_width * el.kv;  // K and V
        if (l.type == JET_LAYER_ATTN) b.attn_kv += kv;
        if (l.type == JET_LAYER_SWA) b.swa_kv += kv;
        if (l.kv_per_token) b.per_token += 2 * l.kv_width * el.kv;
        b.jet_state += l.state * el.state;
        b.jet_conv += l.conv * el.conv;
    }
    b.total = b.attn_kv + b.swa_kv + b.jet_state + b.jet_conv;
    return b;
}

}  // namespace

extern "C" {

jet_status jet_config_get_info(const char *config_json, jet_model_info *out) {
    return guard("jet_config_get_info", [&] {
        const jet::Config cfg = parse(config_json);
        const int64_t n = n_params(cfg);
        const jet_weight_dtype dtype =
            cfg.quant.method == jet::QuantMethod::None ? JET_WEIGHT_BF16 : cfg.quant.weight_dtype;
        jet::copy_model_info(jet::model_info(cfg, JET_DEVICE_CPU, n, n * 2, dtype), out);
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
        jet_cache_breakdown b = breakdown(
            cfg, n_ctx, device == JET_DEVICE_CUDA ? jet::kCudaCacheElements : jet::kCpuCacheElements);
        b.device = device;
        b.size = out->size;
        std::memcpy(out, &b, std::min<size_t>(out->size, sizeof(b)));
    });
}

}  // extern "C"
