// quantize.h - jetnative quantize: writes a weight-only INT8/FP8 copy of a checkpoint
// (jet_checkpoint_quantize in jet.h; formats in docs/quantization.md).
#pragma once

#include <string>

#include "jet.h"

namespace jet {

// See jet_checkpoint_quantize. Throws jet::Error: JET_ERR_INVALID_ARGUMENT (type, group size,
// folders), JET_ERR_FORMAT (bad or already quantized checkpoint), JET_ERR_IO, JET_ERR_CANCELLED.
void quantize_checkpoint(const std::string &in_folder, const std::string &out_folder,
                         jet_weight_dtype type, int group_size, jet_progress_callback progress,
                         void *user_data);

}  // namespace jet
