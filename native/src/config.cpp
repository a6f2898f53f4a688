// config.cpp - parses and validates a Jet-Nemotron config.json (docs/model.md section 2).
#include "config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "error.h"

namespace jet {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string &field, const std::string &why) {
    throw Error(JET_ERR_FORMAT, "config.json: field '" + field + "' " + why);
}

const json &require(const json &obj, const std::string &key, const std::string &path) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) bad(path, "is missing");
    return *it;
}

// A positive integer that fits in int (JSON numbers like 128.0 are not accepted).
int positive_int(const json &obj, const std::string &key, const std::string &path,
                 int64_t max_value = (int64_t(1) << 31) - 1) {
    const json &v = require(obj, key, path);
    if (!v.is_number_integer()) bad(path, "must be an integer");
    int64_t x = v.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                             v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                       : v.get<int64_t>();
    if (x <= 0) bad(path, "must be positive (got " + std::to_string(x) + ")");
    if (x > max_value) bad(path, "is too large (got " + std::to_string(x) + ")");
    return static_cast<int>(x);
}

// A positive finite number; `allow_string` accepts "1e-5" (JetBlock norm_eps is a string).
double positive_number(const json &obj, const std::string &key, const std::string &path,
                       bool allow_string = false, double max_value = 1e300) {
    const json &v = require(obj, key, path);
    double x = 0;
    if (v.is_number()) {
        x = v.get<double>();
    } else if (allow_string && v.is_string()) {
        const std::string s = v.get<std::string>();
        size_t used = 0;
        try {
            x = std::stod(s, &used);
        } catch (const std::exception &) {
            bad(path, "is not a number (\"" + s + "\")");
        }
        if (used != s.size()) bad(path, "is not a number (\"" + s + "\")");
    } else {
        bad(path, "must be a number");
    }
    if (!std::isfinite(x) || x <= 0) bad(path, "must be a positive finite number");
    if (x > max_value) bad(path, "is too large (got " + std::to_string(x) + ")");
    return x;
}

int optional_token_id(const json &obj, const std::string &key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return -1;
    if (it->is_array()) {  // some generation configs list several; the first is the main one
        if (it->empty()) return -1;
        const json &first = (*it)[0];
        if (!first.is_number_integer() || first.get<int64_t>() < 0 ||
            first.get<int64_t>() > INT32_MAX)
            bad(key, "must be a non-negative integer");
        return static_cast<int>(first.get<int64_t>());
    }
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX)
        bad(key, "must be a non-negative integer");
    return static_cast<int>(it->get<int64_t>());
}

}  // namespace

int Config::count(jet_layer_type t) const {
    int n = 0;
    for (jet_layer_type l : layer_types) n += l == t;
    return n;
}

Config parse_config(const std::string &json_text) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception &e) {
        throw Error(JET_ERR_FORMAT, std::string("config.json is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw Error(JET_ERR_FORMAT, "config.json: the top level must be an object");

    const json &mt = require(j, "model_type", "model_type");
    if (!mt.is_string()) bad("model_type", "must be a string");
    if (mt.get<std::string>() != "jet_nemotron")
        bad("model_type", "is '" + mt.get<std::string>() + "', expected 'jet_nemotron'");

    Config c;
    c.vocab_size = positive_int(j, "vocab_size", "vocab_size");
    c.hidden_size = positive_int(j, "hidden_size", "hidden_size", 1 << 20);
    c.num_layers = positive_int(j, "num_hidden_layers", "num_hidden_layers", 4096);
    c.intermediate_size = positive_int(j, "intermediate_size", "intermediate_size", 1 << 22);
    c.rms_norm_eps = static_cast<float>(positive_number(j, "rms_norm_eps", "rms_norm_eps", false, 1.0));
    c.max_position_embeddings =
        positive_int(j, "max_position_embeddings", "max_position_embeddings");
    c.bos_token_id = optional_token_id(j, "bos_token_id");
    c.eos_token_id = optional_token_id(j, "eos_token_id");
    if (auto it = j.find("tie_word_embeddings"); it != j.end() && !it->is_null()) {
        if (!it->is_boolean()) bad("tie_word_embeddings", "must be true or false");
        c.tie_word_embeddings = it->get<bool>();
    }
    if (auto it = j.find("hidden_act"); it != j.end() && !it->is_null()) {
        if (!it->is_string() || it->get<std::string>() != "silu")
            bad("hidden_act", "must be \"silu\" (the only activation Jet-Nemotron uses)");
    }

    const json &lt = require(j, "layer_types", "layer_types");
    if (!lt.is_array()) bad("layer_types", "must be an array");
    if (static_cast<int64_t>(lt.size()) != c.num_layers)
        bad("layer_types", "has " + std::to_string(lt.size()) + " entries but num_hidden_layers is " +
                               std::to_string(c.num_layers));
    for (size_t i = 0; i < lt.size(); ++i) {
        const std::string path = "layer_types[" + std::to_string(i) + "]";
        if (!lt[i].is_string()) bad(path, "must be a string");
        const std::string s = lt[i].get<std::string>();
        if (s == "attn") c.layer_types.push_back(JET_LAYER_ATTN);
        else if (s == "swa") c.layer_types.push_back(JET_LAYER_SWA);
        else if (s == "jet") c.layer_types.push_back(JET_LAYER_JET);
        else bad(path, "is '" + s + "', expected 'attn', 'swa' or 'jet'");
    }

    const bool has_attn = c.count(JET_LAYER_ATTN) + c.count(JET_LAYER_SWA) > 0;
    // Attention dims are always read: the official config carries them in every checkpoint.
    c.num_attention_heads = positive_int(j, "num_attention_heads", "num_attention_heads", 65536);
    c.num_kv_heads = positive_int(j, "num_key_value_heads", "num_key_value_heads", 65536);
    if (c.hidden_size % c.num_attention_heads != 0)
        bad("num_attention_heads", "(" + std::to_string(c.num_attention_heads) +
                                       ") must divide hidden_size (" +
                                       std::to_string(c.hidden_size) + ")");
    if (c.num_attention_heads % c.num_kv_heads != 0)
        bad("num_key_value_heads", "(" + std::to_string(c.num_kv_heads) +
                                       ") must divide num_attention_heads (" +
                                       std::to_string(c.num_attention_heads) + ")");
    c.head_dim = c.hidden_size / c.num_attention_heads;
    if (has_attn && c.head_dim % 2 != 0)
        bad("num_attention_heads", "gives an odd head dim; RoPE needs an even one");
    c.rope_theta = positive_number(j, "rope_theta", "rope_theta");
    if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null())
        throw Error(JET_ERR_UNSUPPORTED, "config.json: field 'rope_scaling' must be null "
                                         "(only default RoPE is supported)");

    const int n_swa = c.count(JET_LAYER_SWA), n_jet = c.count(JET_LAYER_JET);
    if (n_swa + n_jet > 0) {
        const json &eac = require(j, "efficient_attention_config", "efficient_attention_config");
        if (!eac.is_object()) bad("efficient_attention_config", "must be an object");
        if (n_swa > 0) {
            const json &swa = require(eac, "swa", "efficient_attention_config.swa");
            if (!swa.is_object()) bad("efficient_attention_config.swa", "must be an object");
            c.swa_window = positive_int(swa, "window_size",
                                        "efficient_attention_config.swa.window_size");
        }
        if (n_jet > 0) {
            const std::string p = "efficient_attention_config.jet";
            const json &jet = require(eac, "jet", p);
            if (!jet.is_object()) bad(p, "must be an object");
            c.jet_num_heads = positive_int(jet, "num_heads", p + ".num_heads", 65536);
            c.jet_head_k_dim = positive_int(jet, "head_dim", p + ".head_dim", 65536);
            const double expand_v = positive_number(jet, "expand_v", p + ".expand_v", false, 65536.0);
            const double dv = c.jet_head_k_dim * expand_v;
            const double dv_round = std::round(dv);
            if (std::fabs(dv - dv_round) > 1e-6 * std::max(1.0, dv) || dv_round < 1 ||
                dv_round > 65536)
                bad(p + ".expand_v", "times head_dim must be a positive integer (got " +
                                         std::to_string(dv) + ")");
            c.jet_head_v_dim = static_cast<int>(dv_round);
            c.jet_conv_size = positive_int(jet, "conv_size", p + ".conv_size", 64);
            const int red = positive_int(jet, "dconv_generator_reduction",
                                         p + ".dconv_generator_reduction", 65536);
            const int64_t value_dim = int64_t(c.jet_num_heads) * c.jet_head_v_dim;
            const int64_t key_dim = int64_t(c.jet_num_heads) * c.jet_head_k_dim;
            if (value_dim > (1 << 24) || key_dim > (1 << 24))
                bad(p + ".num_heads", "gives JetBlock dims that are too large");
            if (value_dim % red != 0)
                bad(p + ".dconv_generator_reduction",
                    "(" + std::to_string(red) + ") must divide the value dim (" +
                        std::to_string(value_dim) + ")");
            c.jet_gen_hidden = static_cast<int>(value_dim / red);
            c.jet_norm_eps =
                static_cast<float>(positive_number(jet, "norm_eps", p + ".norm_eps", true, 1.0));
            if (auto it = jet.find("mode"); it != jet.end() && !it->is_null()) {
                if (!it->is_string() || (it->get<std::string>() != "chunk" &&
                                         it->get<std::string>() != "fused_recurrent"))
                    bad(p + ".mode", "must be \"chunk\" or \"fused_recurrent\"");
            }
        }
    }
    c.quant = parse_quant_config(j);
    return c;
}

}  // namespace jet
