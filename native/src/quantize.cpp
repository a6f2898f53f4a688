// quantize.cpp - see quantize.h. Reads the checkpoint through Weights (validated, memory-mapped),
// quantizes each linear weight row by row (quant_format.h's quantize_row, rows in parallel) when
// its turn comes in the writer, so memory stays at one tensor.
#include "quantize.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint_writer.h"
#include "config.h"
#include "cpu/threads.h"
#include "error.h"
#include "platform.h"
#include "quant_format.h"
#include "weights.h"

namespace jet {

namespace {

namespace fs = std::filesystem;

// The non-weight files a checkpoint folder carries that a quantized copy keeps.
bool keep_file(const std::string &name) {
    static const std::set<std::string> exact = {
        "vocab.json", "merges.txt", "special_tokens_map.json", "generation_config.json",
        "added_tokens.json", "chat_template.jinja", "chat_template.json",
        "eval.json"};  // the evaluation protocol: the copy is measured the same way
    auto ends = [&](const char *suffix) {
        const size_t n = std::strlen(suffix);
        return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
    };
    return exact.count(name) || name.rfind("tokenizer", 0) == 0 || ends(".py") ||
           ends(".tiktoken");
}

// Rows of a [N, K] tensor as float, quantized: q [N, K] bytes and scales [N, K / group].
void quantize_tensor(const TensorView &t, int64_t group, jet_weight_dtype type,
                     std::vector<uint8_t> &q, std::vector<float> &scales) {
    const int64_t N = t.shape[0], K = t.shape[1], G = K / group;
    q.resize(size_t(N * K));
    scales.resize(size_t(N * G));
    const size_t esize = dtype_size(t.dtype);
    cpu::parallel_for(N, [&](int64_t n0, int64_t n1) {
        std::vector<float> row(static_cast<size_t>(K));
        for (int64_t n = n0; n < n1; ++n) {
            TensorView r = t;
            r.shape = {K};
            r.data = static_cast<const uint8_t *>(t.data) + size_t(n * K) * esize;
            r.to_f32(row.data());
            quantize_row(row.data(), K, group, type, q.data() + n * K, scales.data() + n * G);
        }
    });
}

}  // namespace

void quantize_checkpoint(const std::string &in_folder, const std::string &out_folder,
                         jet_weight_dtype type, int group_size, jet_progress_callback progress,
                         void *user_data) {
    if (type != JET_WEIGHT_INT8 && type != JET_WEIGHT_FP8_E4M3)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "quantize: type " + std::to_string(int(type)) +
                        " is not a quantized weight type (JET_WEIGHT_INT8 or JET_WEIGHT_FP8_E4M3)");
    if (group_size < 0)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "quantize: group size must be >= 0 (0: one scale per output channel), not " +
                        std::to_string(group_size));
    if (in_folder.empty() || out_folder.empty())
        throw Error(JET_ERR_INVALID_ARGUMENT, "quantize: the input and output folders must be given");
    std::error_code ec;
    if (fs::exists(platform::fs_path(out_folder), ec) &&
        fs::equivalent(platform::fs_path(in_folder), platform::fs_path(out_folder), ec))
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "quantize: the output folder must differ from the input folder (" + out_folder + ")");
    const std::string in = in_folder.back() == '/' ? in_folder : in_folder + "/";
    const std::string config_text = read_text_file(in + "config.json");
    const Config cfg = parse_config(config_text);
    if (cfg.quant.method != QuantMethod::None)
        throw Error(JET_ERR_FORMAT, in + "config.json: the checkpoint is already quantized "
                                         "(quantization_config is set); quantize a bf16/fp32 one");
    auto w = Weights::load(in, cfg, nullptr, nullptr);

    nlohmann::ordered_json config = nlohmann::ordered_json::parse(config_text);
    config["quantization_config"] = {{"quant_method", "jetnative"},
                                     {"weight_dtype", weight_dtype_name(type)},
                                     {"group_size", group_size}};

    // Tensors in checkpoint order; each quantized weight followed by its scale. The scales of
    // the last quantized weight are kept for the scale tensor that follows it.
    struct Last {
        std::string name;
        std::vector<float> scales;
    };
    auto last = std::make_shared<Last>();
    std::vector<OutTensor> tensors;
    uint64_t total = 0;
    int fallback = 0;
    for (const Weights::Expected &e : Weights::expected(cfg)) {
        const TensorView &t = w->get(e.name);
        if (!role_quantizable(e.role)) {
            const uint64_t bytes = uint64_t(t.numel()) * dtype_size(t.dtype);
            tensors.push_back({e.name, dtype_name(t.dtype), t.shape, bytes,
                               [t](std::vector<uint8_t> &out) {
                                   const auto *p = static_cast<const uint8_t *>(t.data);
                                   out.assign(p, p + uint64_t(t.numel()) * dtype_size(t.dtype));
                               }});
            total += bytes;
            continue;
        }
        const int64_t N = t.shape[0], K = t.shape[1];
        int64_t group = K;
        if (group_size > 0 && group_size < K && K % group_size == 0) group = group_size;
        if (group_size > 0 && group == K && group_size != K) ++fallback;
        const int64_t G = K / group;
        const std::string name = e.name;
        tensors.push_back({name, type == JET_WEIGHT_INT8 ? "I8" : "F8_E4M3", t.shape,
                           uint64_t(N * K), [t, group, type, last, name](std::vector<uint8_t> &out) {
                               quantize_tensor(t, group, type, out, last->scales);
                               last->name = name;
                           }});
        const std::string base = name.substr(0, name.size() - std::strlen(".weight"));
        tensors.push_back({base + ".weight_scale", "F32", {N, G}, uint64_t(N * G) * 4,
                           [t, group, type, last, name](std::vector<uint8_t> &out) {
                               if (last->name != name) {  // not the weight just written
                                   std::vector<uint8_t> q;
                                   quantize_tensor(t, group, type, q, last->scales);
                                   last->name = name;
                               }
                               out.resize(last->scales.size() * 4);
                               std::memcpy(out.data(), last->scales.data(), out.size());
                           }});
        total += uint64_t(N * K) + uint64_t(N * G) * 4;
    }
    if (fallback > 0)
        log(JET_LOG_INFO,
            "quantize: %d tensors whose input size is not a multiple of the group size %d keep "
            "one scale per output channel",
            fallback, group_size);

    uint64_t written = 0;
    write_checkpoint(out_folder, config.dump(2) + "\n", tensors, 0, [&](const OutTensor &o) {
        written += o.bytes;
        if (progress && !progress(total ? float(double(written) / double(total)) : 1.0f, user_data))
            throw Error(JET_ERR_CANCELLED, "quantize cancelled by the progress callback");
    });

    const std::string out = out_folder.back() == '/' ? out_folder : out_folder + "/";
    // UTF-8 names converted at the file-system boundary (platform.h), as everywhere else.
    for (const auto &entry : fs::directory_iterator(platform::fs_path(in), ec)) {
        const std::string fname = entry.path().filename().u8string();
        if (!entry.is_regular_file() || !keep_file(fname)) continue;
        fs::copy_file(entry.path(), platform::fs_path(out + fname),
                      fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error(JET_ERR_IO, "cannot copy " + in + fname + " to " + out + ": " + ec.message());
    }
    if (ec) throw Error(JET_ERR_IO, "cannot list " + in + ": " + ec.message());
}

}  // namespace jet
