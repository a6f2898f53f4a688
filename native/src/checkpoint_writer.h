// checkpoint_writer.h - writes a Hugging Face checkpoint of random bf16 weights with the names and
// shapes a config needs (config.json + safetensors, sharded with model.safetensors.index.json
// when it does not fit one shard): full-size models for loader tests and benchmarks without a
// download. The values are Weights::random's for the same seed.
#pragma once

#include <cstdint>
#include <string>

namespace jet {

// config_json: the config.json text (validated by parse_config, written as given). Tensors are
// written one at a time, in checkpoint order, each shard holding at most max_shard_bytes of
// tensor data (0: 2 GiB; a larger tensor gets a shard of its own). One shard is written as
// model.safetensors. Throws jet::Error: JET_ERR_FORMAT for a bad config, JET_ERR_IO naming
// the path when the folder or a file cannot be written.
void write_random_checkpoint(const std::string &config_json, uint64_t seed,
                             const std::string &folder, uint64_t max_shard_bytes);

}  // namespace jet
