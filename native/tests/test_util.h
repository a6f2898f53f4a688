// test_util.h - helpers shared by the engine tests: fixture paths, temp folders, and a small
// safetensors writer to make (good and broken) checkpoints inside the tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jet.h"

namespace jet_test {

// A file-system path for a UTF-8 string (the engine's paths are UTF-8 on every platform; on
// Windows a plain std::string path would be read in the ANSI code page).
inline std::filesystem::path fs_path(const std::string &utf8) { return std::filesystem::u8path(utf8); }

// ../shared beside the checkout (JET_SHARED_DIR env var overrides); "" when absent.
inline std::string shared_dir() {
    const char *env = std::getenv("JET_SHARED_DIR");
    std::string d = env && *env ? env : JET_SHARED_DIR;
    std::error_code ec;
    return std::filesystem::exists(fs_path(d), ec) ? d : std::string();
}

inline std::string tiny_model_dir() {
    const std::string s = shared_dir();
    return s.empty() ? s : s + "/fixtures/tiny-jet-a";
}

// The embedded demo model (trained; models/jetnative-demo in the checkout).
inline std::string demo_model_dir() {
    return std::string(JET_TEST_FIXTURES_DIR) + "/../../models/jetnative-demo";
}

#define JET_REQUIRE_DEMO()                                                                   \
    do {                                                                                     \
        if (jet_test::read_bytes(jet_test::demo_model_dir() + "/config.json").empty())       \
            GTEST_SKIP() << "the demo model is absent (" << jet_test::demo_model_dir() << ")"; \
    } while (0)

#define JET_REQUIRE_SHARED()                                                                 \
    do {                                                                                     \
        if (jet_test::shared_dir().empty())                                                  \
            GTEST_SKIP() << "needs the golden fixtures in ../shared (JET_SHARED_DIR, here "  \
                         << JET_SHARED_DIR << "), which are absent";                         \
    } while (0)

// A fresh temporary folder (in the system's temp folder; UTF-8 path), removed with its files
// when the object dies.
class TempDir {
public:
    TempDir() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        const std::filesystem::path base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 100; ++attempt) {
            const std::filesystem::path p =
                base / ("jet_test_" + std::to_string(rd()) + "_" + std::to_string(counter++));
            std::error_code ec;
            if (std::filesystem::create_directory(p, ec)) {
                path_ = p.u8string();
                return;
            }
        }
        std::abort();
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(fs_path(path_), ec);
        if (ec) std::fprintf(stderr, "could not remove %s: %s\n", path_.c_str(), ec.message().c_str());
    }
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }
    void write(const std::string &name, const std::string &bytes) const {
        std::ofstream out(fs_path(file(name)), std::ios::binary);
        out.write(bytes.data(), std::streamsize(bytes.size()));
    }

private:
    std::string path_;
};

inline std::string read_bytes(const std::string &path) {
    std::ifstream in(fs_path(path), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Builds a safetensors image tensor by tensor; `header` can be edited before serialise().
struct StBuilder {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    std::string data;
    void add(const std::string &name, const std::string &dtype, const std::vector<int64_t> &shape,
             const std::string &bytes) {
        header[name] = {{"dtype", dtype}, {"shape", shape},
                        {"data_offsets", {data.size(), data.size() + bytes.size()}}};
        data += bytes;
    }
    void add_f32(const std::string &name, const std::vector<int64_t> &shape, float value = 0.01f) {
        int64_t n = 1;
        for (int64_t s : shape) n *= s;
        std::string bytes(size_t(n) * 4, '\0');
        for (int64_t i = 0; i < n; ++i) {
            const float v = value * float((i * 7919) % 13 - 6) / 6.0f;
            std::memcpy(&bytes[size_t(i) * 4], &v, 4);
        }
        add(name, "F32", shape, bytes);
    }
    std::string serialise() const { return serialise_header(header.dump()) + data; }
    static std::string serialise_header(const std::string &h) {
        std::string out(8, '\0');
        uint64_t n = h.size();
        for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
        return out + h;
    }
};

// A tiny config with every layer type (same layout as tiny-jet-a but smaller).
inline nlohmann::json tiny_config_json() {
    return nlohmann::json::parse(R"({
      "model_type": "jet_nemotron", "vocab_size": 64, "hidden_size": 32,
      "num_hidden_layers": 4, "layer_types": ["jet", "attn", "swa", "jet"],
      "intermediate_size": 48, "num_attention_heads": 4, "num_key_value_heads": 2,
      "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "rope_scaling": null,
      "max_position_embeddings": 512, "tie_word_embeddings": true,
      "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
      "efficient_attention_config": {
        "jet": {"mode": "chunk", "expand_v": 2.0, "head_dim": 8, "num_heads": 2,
                "conv_size": 4, "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
        "swa": {"window_size": 8}}
    })");
}

// Jet-Nemotron-2B's config (docs/model.md section 2) on the same base.
inline nlohmann::json config_2b_json() {
    nlohmann::json j = tiny_config_json();
    j["vocab_size"] = 151936;
    j["hidden_size"] = 1536;
    j["num_hidden_layers"] = 28;
    j["intermediate_size"] = 8960;
    j["num_attention_heads"] = 12;
    j["num_key_value_heads"] = 2;
    j["rope_theta"] = 1e6;
    j["max_position_embeddings"] = 131072;
    j["bos_token_id"] = 151643;
    j["eos_token_id"] = 151643;
    nlohmann::json types = nlohmann::json::array();
    for (int i = 0; i < 28; ++i)
        types.push_back(i == 14 || i == 19 ? "attn" : (i == 20 || i == 21 ? "swa" : "jet"));
    j["layer_types"] = types;
    j["efficient_attention_config"]["jet"] = {{"num_heads", 12}, {"head_dim", 96},
                                              {"expand_v", 2.6666666667}, {"conv_size", 4},
                                              {"dconv_generator_reduction", 8},
                                              {"norm_eps", "1e-5"}, {"mode", "chunk"}};
    j["efficient_attention_config"]["swa"] = {{"window_size", 1152}};
    return j;
}

// A checkpoint folder for `cfg` with F32 tensors of the expected names and shapes.
void write_checkpoint(const TempDir &dir, const nlohmann::json &cfg);

// RAII owners for the C handles.
struct ModelPtr {
    jet_model *p = nullptr;
    ModelPtr() = default;
    ModelPtr(const ModelPtr &) = delete;
    ModelPtr &operator=(const ModelPtr &) = delete;
    ~ModelPtr() { jet_model_free(p); }
};
struct SessionPtr {
    jet_session *p = nullptr;
    SessionPtr() = default;
    SessionPtr(SessionPtr &&o) noexcept : p(o.p) { o.p = nullptr; }
    SessionPtr(const SessionPtr &) = delete;
    SessionPtr &operator=(const SessionPtr &) = delete;
    ~SessionPtr() { jet_session_free(p); }
};

}  // namespace jet_test
