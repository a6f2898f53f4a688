// loader_fuzz.cpp - the fuzz target of the checkpoint loader. One input = a config.json text,
// a NUL byte, then a safetensors image. Both are parsed and validated; when they agree and the
// model is small, a short prefill + decode runs on it. Any jet::Error is an expected outcome;
// a crash, a sanitizer report or another exception type is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "backend.h"
#include "config.h"
#include "error.h"
#include "safetensors.h"
#include "weights.h"

namespace {

bool small_enough(const jet::Config &c) {
    return c.vocab_size <= 512 && c.hidden_size <= 128 && c.num_layers <= 8 &&
           c.intermediate_size <= 512 && c.jet_value_dim() <= 512 && c.jet_key_dim() <= 512 &&
           c.jet_conv_size <= 8 && c.max_position_embeddings >= 8;
}

void run_one(const uint8_t *data, size_t size) {
    const uint8_t *nul = static_cast<const uint8_t *>(std::memchr(data, 0, size));
    const size_t cfg_len = nul ? size_t(nul - data) : size;
    const std::string cfg_text(reinterpret_cast<const char *>(data), cfg_len);
    const uint8_t *st = nul ? nul + 1 : data + size;
    const size_t st_len = nul ? size - cfg_len - 1 : 0;

    std::shared_ptr<jet::SafetensorsFile> file;
    try {
        file = jet::SafetensorsFile::parse(st, st_len, "fuzz.safetensors");
        for (const auto &kv : file->tensors()) {  // touch every byte range the header claims
            const auto &t = kv.second;
            if (t.numel() > 0 && t.numel() <= 4096 && t.dtype != jet::DType::I64) {
                volatile float sink = t.to_f32().back();
                (void)sink;
            }
        }
    } catch (const jet::Error &) {
        file.reset();
    }
    jet::Config cfg;
    try {
        cfg = jet::parse_config(cfg_text);
    } catch (const jet::Error &) {
        return;
    }
    if (!file) return;
    std::shared_ptr<jet::Weights> w;
    try {
        w = jet::Weights::from_file(file, cfg);
    } catch (const jet::Error &) {
        return;
    }
    if (!small_enough(cfg)) return;
    auto backend = jet::make_cpu_backend(cfg, w, 1);
    auto cache = backend->create_cache(1, 8);
    const int32_t toks[3] = {0, int32_t(cfg.vocab_size - 1), int32_t(cfg.vocab_size / 2)};
    std::vector<float> logits(size_t(cfg.vocab_size) * 3);
    backend->prefill(*cache, 0, toks, 3, logits.data(), true);
    const int32_t seq = 0;
    backend->decode(*cache, 1, &seq, toks, logits.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run_one(data, size);
    return 0;
}
