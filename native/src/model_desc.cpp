// model_desc.cpp - the role -> tensor name / shape table and the per-layer cache shape
// (model_desc.h; docs/model.md sections 3 and 6).
#include "model_desc.h"

#include <algorithm>

#include "error.h"

namespace jet {

namespace {

// The Hugging Face names. Layer roles are relative to "model.layers.<i>.".
struct RoleName {
    Role role;
    const char *name;
};
constexpr RoleName kNames[] = {
    {Role::Embed, "model.embed_tokens.weight"},
    {Role::FinalNorm, "model.norm.weight"},
    {Role::LmHead, "lm_head.weight"},
    {Role::Ln1, "input_layernorm.weight"},
    {Role::Ln2, "post_attention_layernorm.weight"},
    {Role::MlpGate, "mlp.gate_proj.weight"},
    {Role::MlpUp, "mlp.up_proj.weight"},
    {Role::MlpDown, "mlp.down_proj.weight"},
    {Role::AttnQ, "self_attn.q_proj.weight"},
    {Role::AttnQBias, "self_attn.q_proj.bias"},
    {Role::AttnK, "self_attn.k_proj.weight"},
    {Role::AttnKBias, "self_attn.k_proj.bias"},
    {Role::AttnV, "self_attn.v_proj.weight"},
    {Role::AttnVBias, "self_attn.v_proj.bias"},
    {Role::AttnO, "self_attn.o_proj.weight"},
    {Role::JetQ, "self_attn.q_proj.weight"},
    {Role::JetK, "self_attn.k_proj.weight"},
    {Role::JetV, "self_attn.v_proj.weight"},
    {Role::JetA, "self_attn.a_proj.weight"},
    {Role::JetB, "self_attn.b_proj.weight"},
    {Role::JetALog, "self_attn.A_log"},
    {Role::JetDtBias, "self_attn.dt_bias"},
    {Role::JetG, "self_attn.g_proj.weight"},
    {Role::JetONorm, "self_attn.o_norm.weight"},
    {Role::JetO, "self_attn.o_proj.weight"},
    {Role::JetGenW1, "self_attn.dynamic_conv1d.kernel_generator.w1.weight"},
    {Role::JetGenW2, "self_attn.dynamic_conv1d.kernel_generator.w2.weight"},
    {Role::JetGenB2, "self_attn.dynamic_conv1d.kernel_generator.w2.bias"},
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == size_t(Role::Count),
              "one name per role");

constexpr bool table_in_role_order() {
    for (size_t i = 0; i < sizeof(kNames) / sizeof(kNames[0]); ++i)
        if (kNames[i].role != Role(i)) return false;
    return true;
}
static_assert(table_in_role_order(), "kNames lists the roles in enum order");

bool model_level(Role r) { return r == Role::Embed || r == Role::FinalNorm || r == Role::LmHead; }

}  // namespace

bool role_quantizable(Role r) {
    switch (r) {
    case Role::LmHead:
    case Role::MlpGate:
    case Role::MlpUp:
    case Role::MlpDown:
    case Role::AttnQ:
    case Role::AttnK:
    case Role::AttnV:
    case Role::AttnO:
    case Role::JetQ:
    case Role::JetK:
    case Role::JetV:
    case Role::JetA:
    case Role::JetB:
    case Role::JetG:
    case Role::JetO:
    case Role::JetGenW1:
    case Role::JetGenW2:
        return true;
    default:
        return false;
    }
}

std::string tensor_name(Role r, int layer) {
    if (r >= Role::Count) throw Error(JET_ERR_INTERNAL, "tensor_name: invalid role");
    const char *name = kNames[size_t(r)].name;
    if (model_level(r)) return name;
    return "model.layers." + std::to_string(layer) + "." + name;
}

std::vector<int64_t> tensor_shape(const Config &c, Role r) {
    const int64_t d = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
    const int64_t qd = int64_t(c.num_attention_heads) * c.head_dim;
    const int64_t kvd = int64_t(c.num_kv_heads) * c.head_dim;
    const int64_t kd = c.jet_key_dim(), vd = c.jet_value_dim(), H = c.jet_num_heads;
    const int64_t W = c.jet_conv_size, rh = c.jet_gen_hidden;
    switch (r) {
    case Role::Embed: return {V, d};
    case Role::FinalNorm: return {d};
    case Role::LmHead: return {V, d};
    case Role::Ln1: return {d};
    case Role::Ln2: return {d};
    case Role::MlpGate: return {I, d};
    case Role::MlpUp: return {I, d};
    case Role::MlpDown: return {d, I};
    case Role::AttnQ: return {qd, d};
    case Role::AttnQBias: return {qd};
    case Role::AttnK: return {kvd, d};
    case Role::AttnKBias: return {kvd};
    case Role::AttnV: return {kvd, d};
    case Role::AttnVBias: return {kvd};
    case Role::AttnO: return {d, qd};
    case Role::JetQ: return {kd, d};
    case Role::JetK: return {kd, d};
    case Role::JetV: return {vd, d};
    case Role::JetA: return {H, d};
    case Role::JetB: return {H, d};
    case Role::JetALog: return {H};
    case Role::JetDtBias: return {H};
    case Role::JetG: return {vd, d};
    case Role::JetONorm: return {c.jet_head_v_dim};
    case Role::JetO: return {d, vd};
    case Role::JetGenW1: return {rh, d};
    case Role::JetGenW2: return {vd * W, rh};
    case Role::JetGenB2: return {vd * W};
    case Role::Count: break;
    }
    throw Error(JET_ERR_INTERNAL, "tensor_shape: invalid role");
}

const std::vector<Role> &layer_roles(jet_layer_type t) {
    static const std::vector<Role> attn = {
        Role::Ln1,   Role::Ln2,       Role::MlpGate, Role::MlpUp,     Role::MlpDown,
        Role::AttnQ, Role::AttnQBias, Role::AttnK,   Role::AttnKBias,
        Role::AttnV, Role::AttnVBias, Role::AttnO,
    };
    static const std::vector<Role> jet = {
        Role::Ln1,      Role::Ln2,       Role::MlpGate,  Role::MlpUp,    Role::MlpDown,
        Role::JetQ,     Role::JetK,      Role::JetV,     Role::JetA,     Role::JetB,
        Role::JetALog,  Role::JetDtBias, Role::JetG,     Role::JetONorm, Role::JetO,
        Role::JetGenW1, Role::JetGenW2,  Role::JetGenB2,
    };
    return t == JET_LAYER_JET ? jet : attn;
}

std::vector<TensorDesc> model_tensors(const Config &c) {
    std::vector<TensorDesc> out;
    auto add = [&](Role r, int layer) {
        out.push_back({tensor_name(r, layer), tensor_shape(c, r), r, layer});
    };
    add(Role::Embed, kNoLayer);
    for (int i = 0; i < c.num_layers; ++i)
        for (Role r : layer_roles(c.layer_types[size_t(i)])) add(r, i);
    add(Role::FinalNorm, kNoLayer);
    if (!c.tie_word_embeddings) add(Role::LmHead, kNoLayer);
    return out;
}

LayerCacheShape layer_cache_shape(const Config &c, int layer, int64_t n_ctx) {
    LayerCacheShape s;
    s.type = c.layer_types[size_t(layer)];
    if (s.type == JET_LAYER_JET) {
        s.state = int64_t(c.jet_num_heads) * c.jet_head_k_dim * c.jet_head_v_dim;
        s.conv = int64_t(c.jet_value_dim()) * c.jet_conv_size;
        return s;
    }
    s.kv_width = int64_t(c.num_kv_heads) * c.head_dim;
    if (s.type == JET_LAYER_SWA) {
        s.kv_rows = std::min<int64_t>(c.swa_window, n_ctx);
        s.kv_ring = c.swa_window < n_ctx;
    } else {
        s.kv_rows = n_ctx;
        s.kv_per_token = true;
    }
    return s;
}

int64_t cache_bytes_per_seq(const Config &c, int64_t n_ctx, CacheElementBytes elem,
                            int64_t *per_token) {
    int64_t total = 0, per = 0;
    for (int i = 0; i < c.num_layers; ++i) {
        const LayerCacheShape s = layer_cache_shape(c, i, n_ctx);
        total += 2 * s.kv_rows * s.kv_width * elem.kv + s.state * elem.state + s.conv * elem.conv;
        if (s.kv_per_token) per += 2 * s.kv_width * elem.kv;
    }
    if (per_token) *per_token = per;
    return total;
}

}  // namespace jet
