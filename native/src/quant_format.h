// quant_format.h - weight-only quantization formats (docs/quantization.md): the
// "quantization_config" of config.json, FP8 e4m3fn encoding, and the quantizer that turns a
// float weight row into int8/fp8 values with per-group scales (jetnative quantize).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "jet.h"

namespace jet {

enum class QuantMethod {
    None,       // no quantization_config: every weight is F32/BF16/F16
    JetNative,  // "jetnative": our checkpoints (jetnative quantize), INT8 or FP8 + weight_scale
    Fp8,        // "fp8" / "fbgemm_fp8" (Hugging Face): FP8 + weight_scale (per tensor or per
                // channel), or weight_scale_inv per [block_n, block_k] block (weight_block_size)
};

struct QuantConfig {
    QuantMethod method = QuantMethod::None;
    jet_weight_dtype weight_dtype = JET_WEIGHT_BF16;  // INT8 or FP8_E4M3 when quantized
    int group_size = 0;                               // jetnative: 0 per channel, else G
    int block_n = 0, block_k = 0;                     // fp8: weight_block_size, 0 when absent
};

// Parses root["quantization_config"] of a config.json (absent or null: method None). Throws
// jet::Error(JET_ERR_FORMAT) naming the field for an unknown quant_method or a bad value.
QuantConfig parse_quant_config(const nlohmann::json &root);
// The "quantization_config" object jetnative quantize writes.
nlohmann::json quant_config_json(jet_weight_dtype type, int group_size);
const char *weight_dtype_name(jet_weight_dtype t);  // "int8", "fp8_e4m3", "bf16", ...

// The FP8 e4m3fn byte nearest to x (round to nearest even), saturating to +-448; x finite.
uint8_t f32_to_fp8_e4m3(float x);

// Quantizes one weight row w[K] with `group` inputs per scale (group divides K):
// scales[K / group] = max|w| over the group / qmax (qmax 127 for INT8, 448 for FP8; 1 for an
// all-zero group) and q[K] = round(w / scale) (int8 bytes or fp8 bytes).
void quantize_row(const float *w, int64_t K, int64_t group, jet_weight_dtype type, uint8_t *q,
                  float *scales);

}  // namespace jet
