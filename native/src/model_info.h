// model_info.h - jet_model_info of a Config: what jet_model_get_info and jet_config_get_info
// report, filled in one place.
#pragma once

#include <cstdint>

#include "config.h"
#include "jet.h"

namespace jet {

// Every field of jet_model_info but `size`, from the config and the given totals;
// weight_group_size comes from cfg.quant when weight_dtype is a quantized type.
jet_model_info model_info(const Config &cfg, jet_device device, int64_t n_params,
                          int64_t weight_bytes, jet_weight_dtype weight_dtype);

// Copies `info` into the caller's struct, as much of it as out->size covers (an older, smaller
// struct keeps working). Throws Error(JET_ERR_INVALID_ARGUMENT) for a null `out` or unset size.
void copy_model_info(const jet_model_info &info, jet_model_info *out);

}  // namespace jet
