// weights.h - the validated tensors of a checkpoint, by Hugging Face name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "safetensors.h"

namespace jet {

class Weights {
public:
    // Opens config.json + model.safetensors / model.safetensors.index.json in `folder`,
    // memory-maps the files, validates headers and every expected tensor against `cfg`.
    static std::shared_ptr<Weights> load(const std::string &folder, const Config &cfg,
                                         jet_progress_callback progress, void *user_data);
    // Random weights with the expected names and shapes (bf16), deterministic in `seed`.
    static std::shared_ptr<Weights> random(const Config &cfg, uint64_t seed);

    const TensorView &get(const std::string &name) const;  // throws JET_ERR_FORMAT if missing
    bool has(const std::string &name) const;
    int64_t n_params() const;

private:
    struct Storage;
    std::shared_ptr<Storage> storage_;
    std::unordered_map<std::string, TensorView> tensors_;
};

}  // namespace jet
