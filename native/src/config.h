// config.h - a validated Jet-Nemotron config.json (docs/model.md section 2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jet.h"
#include "quant_format.h"

namespace jet {

struct Config {
    // model
    int vocab_size = 0;
    int hidden_size = 0;
    int num_layers = 0;
    int intermediate_size = 0;
    float rms_norm_eps = 1e-6f;
    bool tie_word_embeddings = true;
    int max_position_embeddings = 0;
    int bos_token_id = -1;
    int eos_token_id = -1;
    std::vector<jet_layer_type> layer_types;  // one per layer

    // attention (attn, swa)
    int num_attention_heads = 0;
    int num_kv_heads = 0;
    int head_dim = 0;            // hidden_size / num_attention_heads
    double rope_theta = 10000.0;
    int swa_window = 0;          // efficient_attention_config.swa.window_size

    // JetBlock (efficient_attention_config.jet)
    // The field names are jet.h's (jet_model_info).
    int jet_num_heads = 0;       // H: num_heads
    int jet_head_k_dim = 0;      // dK: head_dim
    int jet_head_v_dim = 0;      // dV: round(dK * expand_v)
    int jet_conv_size = 0;       // W: conv_size
    int jet_gen_hidden = 0;      // value_dim / dconv_generator_reduction
    float jet_norm_eps = 1e-5f;  // norm_eps (a string in the file)

    // quantization_config (quant_format.h): how the linear weights are stored.
    QuantConfig quant;

    int jet_key_dim() const { return jet_num_heads * jet_head_k_dim; }
    int jet_value_dim() const { return jet_num_heads * jet_head_v_dim; }
    int count(jet_layer_type t) const;
};

// Parses and validates config.json text. Throws jet::Error(JET_ERR_FORMAT) naming the field.
Config parse_config(const std::string &json_text);

}  // namespace jet
