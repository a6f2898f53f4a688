// weights.h - the validated tensors of a checkpoint, by role (model_desc.h) or Hugging Face name.
#pragma once

#include <cstdint>
#include <functional>
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
    // A quantized linear weight (docs/quantization.md) comes back as stored: dtype I8 or
    // F8_E4M3, shape [N, K], its values q; scale() gives its dequantization scales.
    const TensorView &get(Role role, int layer) const;
    // nullptr for an unquantized tensor; for a quantized one the F32 scales [N, n_groups]
    // (row-major, contiguous): dequantized W[n][k] = q[n][k] * scale[n][k / group_size].
    // Per-channel scales have n_groups 1; a per-tensor scale is expanded to [N, 1] at load.
    // Valid while the Weights live; every value is finite and positive.
    const TensorView *scale(Role role, int layer) const;
    // Inputs per scale of a quantized tensor: K / n_groups (K for per-channel); 0 when the tensor
    // is not quantized.
    int group_size(Role role, int layer) const;
    // What the linear layers' weights are stored as (jet_model_info.weight_dtype): INT8 or
    // FP8_E4M3 when any is quantized, else the dtype of the first layer's MLP gate weight.
    jet_weight_dtype weight_dtype() const { return weight_dtype_; }
    bool has(const std::string &name) const;
    int64_t n_params() const;

private:
    // The file that holds tensor `name`, or nullptr.
    using FileOf = std::function<const SafetensorsFile *(const std::string &name)>;
    static const TensorView &check_tensor(const SafetensorsFile &file, const Expected &e,
                                          const Config &cfg);
    // Binds e (found in `file`) and, when quantized, its validated scale.
    void bind(const SafetensorsFile &file, const Expected &e, const Config &cfg,
              const FileOf &file_of);
    void bind_scale(const Expected &e, const TensorView &q, const Config &cfg,
                    const FileOf &file_of);
    void finish_dtype(const Config &cfg);  // weight_dtype_ of an unquantized checkpoint
    struct Scale {
        TensorView view;  // F32 [N, n_groups]
        int group = 0;
    };
    struct Storage;
    std::shared_ptr<Storage> storage_;
    std::unordered_map<std::string, TensorView> tensors_;
    std::unordered_map<std::string, Scale> scales_;  // by weight name
    jet_weight_dtype weight_dtype_ = JET_WEIGHT_BF16;
};

}  // namespace jet
