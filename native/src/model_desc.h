// model_desc.h - the one description of a Jet-Nemotron model the engine works from
// (docs/model.md sections 3 and 6): which tensors a checkpoint holds, by role, with their
// Hugging Face names and shapes, and what each layer keeps in the cache per sequence.
//
// Backends never spell tensor names: they ask Weights for a role (weights.h
// `Weights::get(Role, layer)`), and size their caches with layer_cache_shape(). The names live
// in one table in model_desc.cpp (as llama.cpp's llama-arch.cpp keeps one enum-to-name table).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace jet {

// What a tensor does in the model. The comment gives its shape ([out, in] for Linear weights;
// d hidden_size, I intermediate_size, V vocab_size, nh / nkv attention heads, hd head_dim,
// H jet_num_heads, dK jet_head_k_dim, dV jet_head_v_dim, kd = H*dK, vd = H*dV, W jet_conv_size,
// r jet_gen_hidden).
enum class Role {
    // model (layer -1)
    Embed,      // [V, d]
    FinalNorm,  // [d]
    LmHead,     // [V, d], only when !tie_word_embeddings
    // every layer
    Ln1,      // [d]    input_layernorm (before the mixer)
    Ln2,      // [d]    post_attention_layernorm (before the MLP)
    MlpGate,  // [I, d]
    MlpUp,    // [I, d]
    MlpDown,  // [d, I]
    // attn and swa layers
    AttnQ,      // [nh*hd, d]
    AttnQBias,  // [nh*hd]
    AttnK,      // [nkv*hd, d]
    AttnKBias,  // [nkv*hd]
    AttnV,      // [nkv*hd, d]
    AttnVBias,  // [nkv*hd]
    AttnO,      // [d, nh*hd]
    // jet layers (JetBlock)
    JetQ,       // [kd, d]
    JetK,       // [kd, d]
    JetV,       // [vd, d]
    JetA,       // [H, d]
    JetB,       // [H, d]
    JetALog,    // [H]
    JetDtBias,  // [H]
    JetG,       // [vd, d]
    JetONorm,   // [dV]
    JetO,       // [d, vd]
    JetGenW1,   // [r, d]      dynamic conv kernel generator
    JetGenW2,   // [vd*W, r]
    JetGenB2,   // [vd*W]
    Count
};

constexpr int kNoLayer = -1;  // the layer argument of the model-level roles

// The Hugging Face name of role `r` in layer `layer` (kNoLayer for Embed, FinalNorm, LmHead),
// e.g. "model.layers.3.mlp.gate_proj.weight".
std::string tensor_name(Role r, int layer);
// Its shape for `cfg`.
std::vector<int64_t> tensor_shape(const Config &cfg, Role r);
// True for the roles that may be stored quantized (INT8/FP8 with a scale): the Linear weights
// (attention/JetBlock projections, the conv-kernel generator's w1/w2, MLP, LM head); never the
// embedding, norms, biases, A_log or dt_bias.
bool role_quantizable(Role r);
// The roles of a layer of type `t`, in checkpoint order.
const std::vector<Role> &layer_roles(jet_layer_type t);

// One tensor a checkpoint of `cfg` must hold.
struct TensorDesc {
    std::string name;
    std::vector<int64_t> shape;
    Role role;
    int layer;  // kNoLayer for the model-level roles
};
// Every tensor of `cfg`, in checkpoint order: embedding, the layers, final norm, LM head.
std::vector<TensorDesc> model_tensors(const Config &cfg);

// What layer `layer` keeps per sequence at `n_ctx` tokens of context (docs/model.md section 6).
struct LayerCacheShape {
    jet_layer_type type = JET_LAYER_ATTN;
    // attn/swa: K and V are kv_rows rows of kv_width values each.
    int64_t kv_rows = 0;      // attn: n_ctx; swa: min(window, n_ctx); jet: 0
    int64_t kv_width = 0;     // nkv * hd
    bool kv_ring = false;     // swa with window < n_ctx: position p in row p % kv_rows
    bool kv_per_token = false;  // attn: the rows grow with the context (one per token)
    // jet: the recurrent state S [H, dK, dV] and the conv state [value_dim, W].
    int64_t state = 0;        // H * dK * dV values
    int64_t conv = 0;         // value_dim * W values
};
LayerCacheShape layer_cache_shape(const Config &cfg, int layer, int64_t n_ctx);

// Bytes per element of each cache part, per backend.
struct CacheElementBytes {
    int kv;
    int state;
    int conv;
};
constexpr CacheElementBytes kCpuCacheElements{4, 4, 4};   // all fp32
constexpr CacheElementBytes kCudaCacheElements{2, 4, 4};  // bf16 KV, fp32 states

// Bytes one sequence's cache takes at n_ctx; *per_token (may be null) gets the part that grows
// per token of context (the K and V rows of the full-attention layers).
int64_t cache_bytes_per_seq(const Config &cfg, int64_t n_ctx, CacheElementBytes elem,
                            int64_t *per_token);

}  // namespace jet
