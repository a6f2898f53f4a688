// checkpoint_writer.h - writes a Hugging Face checkpoint of random bf16 weights with the names and
// shapes a config needs (config.json + safetensors, sharded with model.safetensors.index.json
// when it does not fit one shard): full-size models for loader tests and benchmarks without a
// download. The values are Weights::random's for the same seed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jet {

// config_json: the config.json text (validated by parse_config, written as given). Tensors are
// written one at a time, in checkpoint order, each shard holding at most max_shard_bytes of
// tensor data (0: 2 GiB; a larger tensor gets a shard of its own). One shard is written as
// model.safetensors. Throws jet::Error: JET_ERR_FORMAT for a bad config, JET_ERR_IO naming
// the path when the folder or a file cannot be written.
// One tensor to write: its safetensors dtype name ("BF16", "I8", "F32", ...), shape, size in
// bytes, and a function that fills `out` with exactly those bytes (called once, when the tensor's
// turn comes, so a checkpoint never needs to be in memory at once).
struct OutTensor {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t bytes = 0;
    std::function<void(std::vector<uint8_t> &out)> data;
};

// Writes config_json and `tensors` (in this order) to `folder` as write_random_checkpoint does
// (created if missing; model.safetensors or shards of at most max_shard_bytes + index).
// `done` (may be empty) is called after each tensor is written (progress, cancellation by
// throwing).
void write_checkpoint(const std::string &folder, const std::string &config_json,
                      const std::vector<OutTensor> &tensors, uint64_t max_shard_bytes,
                      const std::function<void(const OutTensor &)> &done);

void write_random_checkpoint(const std::string &config_json, uint64_t seed,
                             const std::string &folder, uint64_t max_shard_bytes);

}  // namespace jet
