// quant_format.cpp - see quant_format.h.
#include "quant_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "error.h"

namespace jet {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string &field, const std::string &why) {
    throw Error(JET_ERR_FORMAT, "config.json: field 'quantization_config." + field + "' " + why);
}

int positive_or_zero(const json &q, const char *key) {
    auto it = q.find(key);
    if (it == q.end() || it->is_null()) return 0;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 24))
        bad(key, "must be a non-negative integer");
    return int(it->get<int64_t>());
}

}  // namespace

const char *weight_dtype_name(jet_weight_dtype t) {
    switch (t) {
    case JET_WEIGHT_F32: return "f32";
    case JET_WEIGHT_BF16: return "bf16";
    case JET_WEIGHT_F16: return "f16";
    case JET_WEIGHT_INT8: return "int8";
    case JET_WEIGHT_FP8_E4M3: return "fp8_e4m3";
    }
    return "?";
}

QuantConfig parse_quant_config(const json &root) {
    QuantConfig c;
    auto it = root.find("quantization_config");
    if (it == root.end() || it->is_null()) return c;
    const json &q = *it;
    if (!q.is_object())
        throw Error(JET_ERR_FORMAT, "config.json: field 'quantization_config' must be an object");
    auto m = q.find("quant_method");
    if (m == q.end() || !m->is_string()) bad("quant_method", "is missing");
    const std::string method = m->get<std::string>();
    if (method == "jetnative") {
        c.method = QuantMethod::JetNative;
        auto d = q.find("weight_dtype");
        if (d == q.end() || !d->is_string()) bad("weight_dtype", "is missing");
        const std::string dt = d->get<std::string>();
        if (dt == "int8")
            c.weight_dtype = JET_WEIGHT_INT8;
        else if (dt == "fp8_e4m3")
            c.weight_dtype = JET_WEIGHT_FP8_E4M3;
        else
            bad("weight_dtype", "must be \"int8\" or \"fp8_e4m3\" (got \"" + dt + "\")");
        c.group_size = positive_or_zero(q, "group_size");
    } else if (method == "fp8" || method == "fbgemm_fp8") {
        c.method = QuantMethod::Fp8;
        c.weight_dtype = JET_WEIGHT_FP8_E4M3;
        // activation_scheme (dynamic/static activation quantization) is ignored: JetNative
        // runs these weights weight-only, activations in float.
        if (auto b = q.find("weight_block_size"); b != q.end() && !b->is_null()) {
            if (!b->is_array() || b->size() != 2 || !(*b)[0].is_number_integer() ||
                !(*b)[1].is_number_integer() || (*b)[0].get<int64_t>() <= 0 ||
                (*b)[1].get<int64_t>() <= 0 || (*b)[0].get<int64_t>() > (1 << 24) ||
                (*b)[1].get<int64_t>() > (1 << 24))
                bad("weight_block_size", "must be two positive integers [rows, columns]");
            c.block_n = int((*b)[0].get<int64_t>());
            c.block_k = int((*b)[1].get<int64_t>());
        }
    } else {
        bad("quant_method", "\"" + method +
                                "\" is not supported (JetNative reads \"jetnative\", \"fp8\" "
                                "and \"fbgemm_fp8\" weight-only checkpoints)");
    }
    return c;
}

json quant_config_json(jet_weight_dtype type, int group_size) {
    return {{"quant_method", "jetnative"},
            {"weight_dtype", weight_dtype_name(type)},
            {"group_size", group_size}};
}

uint8_t f32_to_fp8_e4m3(float x) {
    const uint8_t sign = std::signbit(x) ? 0x80 : 0;
    float a = std::fabs(x);
    if (!(a < 464.0f)) return sign | 0x7e;  // saturate to 448 (464 rounds up past 448)
    // Subnormals: multiples of 2^-9 below 2^-6.
    if (a < 0.015625f) {
        const float m = std::nearbyint(a * 512.0f);  // round half to even (default mode)
        return sign | uint8_t(m);                     // m == 8 is the smallest normal: correct
    }
    int e;
    const float f = std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
    // a = (1 + m/8) * 2^(e-1): mantissa m = round((2f - 1) * 8)
    float m = std::nearbyint((2.0f * f - 1.0f) * 8.0f);
    int E = e - 1 + 7;
    if (m >= 8.0f) {
        m = 0.0f;
        ++E;
    }
    if (E > 15 || (E == 15 && m > 6.0f)) return sign | 0x7e;
    return sign | uint8_t(E << 3) | uint8_t(m);
}

void quantize_row(const float *w, int64_t K, int64_t group, jet_weight_dtype type, uint8_t *q,
                  float *scales) {
    const float qmax = type == JET_WEIGHT_INT8 ? 127.0f : 448.0f;
    for (int64_t g0 = 0, gi = 0; g0 < K; g0 += group, ++gi) {
        float amax = 0.0f;
        for (int64_t k = g0; k < g0 + group; ++k) amax = std::max(amax, std::fabs(w[k]));
        const float scale = amax > 0.0f ? amax / qmax : 1.0f;
        scales[gi] = scale;
        for (int64_t k = g0; k < g0 + group; ++k) {
            const float v = w[k] / scale;
            if (type == JET_WEIGHT_INT8) {
                const float r = std::min(127.0f, std::max(-127.0f, std::nearbyint(v)));
                q[k] = uint8_t(int8_t(r));
            } else {
                q[k] = f32_to_fp8_e4m3(v);
            }
        }
    }
}

}  // namespace jet
