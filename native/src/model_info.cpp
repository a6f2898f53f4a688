// model_info.cpp - jet_model_info of a Config.
#include "model_info.h"

#include <algorithm>
#include <cstring>

#include "error.h"

namespace jet {

jet_model_info model_info(const Config &c, jet_device device, int64_t n_params,
                          int64_t weight_bytes, jet_weight_dtype weight_dtype) {
    jet_model_info i{};
    i.size = sizeof(i);
    i.device = device;
    i.vocab_size = c.vocab_size;
    i.hidden_size = c.hidden_size;
    i.num_layers = c.num_layers;
    i.intermediate_size = c.intermediate_size;
    i.num_attention_heads = c.num_attention_heads;
    i.num_kv_heads = c.num_kv_heads;
    i.head_dim = c.head_dim;
    i.max_position_embeddings = c.max_position_embeddings;
    i.swa_window = c.swa_window;
    i.jet_num_heads = c.jet_num_heads;
    i.jet_head_k_dim = c.jet_head_k_dim;
    i.jet_head_v_dim = c.jet_head_v_dim;
    i.jet_conv_size = c.jet_conv_size;
    i.n_attn_layers = c.count(JET_LAYER_ATTN);
    i.n_swa_layers = c.count(JET_LAYER_SWA);
    i.n_jet_layers = c.count(JET_LAYER_JET);
    i.bos_token_id = c.bos_token_id;
    i.eos_token_id = c.eos_token_id;
    i.tie_word_embeddings = c.tie_word_embeddings ? 1 : 0;
    i.n_params = n_params;
    i.weight_bytes = weight_bytes;
    i.weight_dtype = weight_dtype;
    const bool quantized = weight_dtype == JET_WEIGHT_INT8 || weight_dtype == JET_WEIGHT_FP8_E4M3;
    i.weight_group_size = !quantized ? 0
                          : c.quant.method == QuantMethod::Fp8 ? c.quant.block_k
                                                               : c.quant.group_size;
    return i;
}

void copy_model_info(const jet_model_info &info, jet_model_info *out) {
    if (!out) throw Error(JET_ERR_INVALID_ARGUMENT, "out is NULL");
    if (out->size < sizeof(uint32_t))
        throw Error(JET_ERR_INVALID_ARGUMENT, "jet_model_info.size is not set");
    jet_model_info i = info;
    i.size = out->size;
    std::memcpy(out, &i, std::min<size_t>(out->size, sizeof(i)));
}

}  // namespace jet
