// weights.h - the validated tensors of a checkpoint, by role (model_desc.h) or Hugging Face name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "model_desc.h"
#include "safetensors.h"

namespace jet {

// Reads a whole (small) file, e.g. config.json. Throws jet::Error(JET_ERR_IO) naming the path.
std::string read_text_file(const std::string &path);

class Weights {
public:
    // Opens config.json + model.safetensors / model.safetensors.index.json in `folder`,
    // memory-maps the files, validates headers and every expected tensor against `cfg`.
    static std::shared_ptr<Weights> load(const std::string &folder, const Config &cfg,
                                         jet_progress_callback progress, void *user_data);
    // Binds and validates the tensors of one already opened/parsed file (the fuzzer's path;
    // load() does the same per shard). The Weights keep the file alive.
    static std::shared_ptr<Weights> from_file(std::shared_ptr<SafetensorsFile> file,
                                              const Config &cfg);
    // Random weights with the expected names and shapes (bf16), deterministic in `seed`.
    static std::shared_ptr<Weights> random(const Config &cfg, uint64_t seed);

    // Every tensor the config needs, with its shape (docs/model.md section 3), in checkpoint
    // order: model_tensors(cfg) of model_desc.h.
    using Expected = TensorDesc;
    static std::vector<Expected> expected(const Config &cfg);
    // The values random() gives tensor `e` for `seed` (bf16 bits), e.g. to write them to a file.
    static std::vector<uint16_t> random_tensor(const Expected &e, uint64_t seed);

    const TensorView &get(const std::string &name) const;  // throws JET_ERR_FORMAT if missing
    // The tensor of `role` in `layer` (kNoLayer for the model-level roles); what backends use.
    const TensorView &get(Role role, int layer) const;
    // Weight-only quantized tensors (issue 15; the loader fills them): the F32 scales [N, n_groups]
    // of role's [N, K] weight, nullptr for an unquantized tensor; K values per scale along K.
    const TensorView *scale(Role role, int layer) const;
    int group_size(Role role, int layer) const;
    bool has(const std::string &name) const;
    int64_t n_params() const;

private:
    static const TensorView &check_tensor(const SafetensorsFile &file, const Expected &e);
    struct Storage;
    std::shared_ptr<Storage> storage_;
    std::unordered_map<std::string, TensorView> tensors_;
};

}  // namespace jet
