// mutate_main.cpp - a seeded mutation loop over LLVMFuzzerTestOneInput, for machines without
// libFuzzer (and for CI: bounded, deterministic, prints the count).
// Usage: jet_loader_mutate [N] [-runs=N] [-seed=S] [dir...]
//   dir: a checkpoint folder (config.json + model.safetensors) or a corpus folder of raw inputs,
//   both added to the built-in seeds. Other -flag=value arguments (libFuzzer's) are ignored, so
//   the same command line drives this binary and the libFuzzer one.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <dirent.h>
#include <sys/stat.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config.h"
#include "weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

std::string st_image(const nlohmann::json &cfg_json) {
    const jet::Config c = jet::parse_config(cfg_json.dump());
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    h["__metadata__"] = {{"format", "pt"}};
    std::string data;
    int k = 0;
    for (const auto &e : jet::Weights::expected(c)) {
        int64_t n = 1;
        for (int64_t s : e.shape) n *= s;
        const bool bf16 = (k++ % 2) == 0;
        const size_t bytes = size_t(n) * (bf16 ? 2 : 4);
        h[e.name] = {{"dtype", bf16 ? "BF16" : "F32"}, {"shape", e.shape},
                     {"data_offsets", {data.size(), data.size() + bytes}}};
        for (size_t i = 0; i < bytes; ++i) data.push_back(char(bf16 ? (i % 2 ? 0x3c : i % 251) : (i % 4 == 3 ? 0x3c : i % 7)));
    }
    const std::string hs = h.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(hs.size()) >> (8 * i)) & 0xff);
    return out + hs + data;
}

nlohmann::json tiny_config() {
    return nlohmann::json::parse(R"({
      "model_type": "jet_nemotron", "vocab_size": 32, "hidden_size": 16,
      "num_hidden_layers": 3, "layer_types": ["jet", "attn", "swa"],
      "intermediate_size": 24, "num_attention_heads": 2, "num_key_value_heads": 1,
      "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64,
      "tie_word_embeddings": true,
      "efficient_attention_config": {
        "jet": {"expand_v": 2.0, "head_dim": 4, "num_heads": 2, "conv_size": 4,
                "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
        "swa": {"window_size": 4}}})");
}

std::string read_file(const std::string &p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class Mutator {
public:
    explicit Mutator(uint64_t seed) : rng_(seed) {}
    size_t below(size_t n) { return n ? size_t(rng_() % n) : 0; }

    void mutate(std::string &s) {
        const int n_ops = 1 + int(below(4));
        for (int i = 0; i < n_ops; ++i) one(s);
    }

private:
    void one(std::string &s) {
        static const char *tokens[] = {"-1", "0", "1", "65536", "4294967296", "18446744073709551615",
                                       "1e308", "-0.0", "null", "true", "\"x\"", "[]", "{}", "2.5",
                                       "\"F16\"", "\"I64\"", "\"BF16\"", "\"Q8\"", "\"jet\"", "\"swa\""};
        const size_t len = s.size();
        switch (below(9)) {
        case 0:  // flip a bit
            if (len) s[below(len)] ^= char(1 << below(8));
            break;
        case 1:  // random byte
            if (len) s[below(len)] = char(below(256));
            break;
        case 2:  // truncate
            s.resize(below(len + 1));
            break;
        case 3: {  // delete a span
            if (!len) break;
            const size_t at = below(len), n = 1 + below(std::min<size_t>(16, len - at));
            s.erase(at, n);
            break;
        }
        case 4: {  // duplicate a span
            if (!len) break;
            const size_t at = below(len), n = 1 + below(std::min<size_t>(64, len - at));
            s.insert(below(len), s.substr(at, n));
            break;
        }
        case 5:
        case 6: {  // replace a number or string token with an interesting one
            for (int tries = 0; tries < 8 && len; ++tries) {
                const size_t at = below(len);
                const char c = s[at];
                if ((c >= '0' && c <= '9') || c == '"') {
                    size_t end = at + 1;
                    if (c == '"') {
                        while (end < len && s[end] != '"') ++end;
                        end = std::min(len, end + 1);
                    } else {
                        while (end < len && ((s[end] >= '0' && s[end] <= '9') || s[end] == '.' || s[end] == 'e'))
                            ++end;
                    }
                    s.replace(at, end - at, tokens[below(sizeof tokens / sizeof *tokens)]);
                    break;
                }
            }
            break;
        }
        case 7: {  // change one digit of a number by +-1 (offsets, shapes)
            for (int tries = 0; tries < 16 && len; ++tries) {
                const size_t at = below(len);
                if (s[at] >= '1' && s[at] <= '8') {
                    s[at] = char(s[at] + (below(2) ? 1 : -1));
                    break;
                }
            }
            break;
        }
        case 8:  // the 8-byte length prefix of a safetensors image
            if (len >= 8) {
                const size_t nul = s.find('\0');
                const size_t base = nul == std::string::npos ? 0 : nul + 1;
                if (base + 8 <= len) s[base + below(8)] = char(below(256));
            }
            break;
        }
    }
    std::mt19937_64 rng_;
};

bool is_dir(const std::string &p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void add_dir(const std::string &dir, std::vector<std::string> &corpus) {
    const std::string cfg = read_file(dir + "/config.json");
    if (!cfg.empty()) {
        // Only the start of a real checkpoint (its data is large): the header and some data.
        std::string st = read_file(dir + "/model.safetensors");
        if (st.size() > (1u << 16)) st.resize(1u << 16);
        corpus.push_back(cfg + std::string(1, '\0') + st);
        return;
    }
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            const std::string f = read_file(dir + "/" + e->d_name);
            if (!f.empty() && f.size() <= (1u << 20)) corpus.push_back(f);
        }
        closedir(d);
    }
}

}  // namespace

int main(int argc, char **argv) {
    long long n = 100000;
    uint64_t seed = 1;
    std::vector<std::string> corpus;
    {
        nlohmann::json c = tiny_config();
        corpus.push_back(c.dump(1) + std::string(1, '\0') + st_image(c));
        c["tie_word_embeddings"] = false;
        c["layer_types"] = {"swa", "jet", "jet"};
        corpus.push_back(c.dump() + std::string(1, '\0') + st_image(c));
    }
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("-runs=", 0) == 0) n = std::atoll(a.c_str() + 6);
        else if (a.rfind("-seed=", 0) == 0) seed = std::strtoull(a.c_str() + 6, nullptr, 10);
        else if (a.rfind("--write-seeds=", 0) == 0) {  // writes the built-in seeds (corpus/)
            const std::string dir = a.substr(14);
            for (size_t k = 0; k < corpus.size(); ++k) {
                std::ofstream out(dir + "/seed" + std::to_string(k), std::ios::binary);
                out.write(corpus[k].data(), std::streamsize(corpus[k].size()));
                if (!out) {
                    std::fprintf(stderr, "error: cannot write %s/seed%zu\n", dir.c_str(), k);
                    return 1;
                }
            }
            return 0;
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: %s [N] [-runs=N] [-seed=S] [dir...]\n", argv[0]);
            return 0;
        } else if (!a.empty() && a[0] == '-') continue;  // a libFuzzer flag
        else if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) n = std::atoll(a.c_str());
        else if (is_dir(a)) add_dir(a, corpus);
        else {
            std::fprintf(stderr, "error: %s is neither a number, a flag nor a folder\n", a.c_str());
            return 2;
        }
    }
    Mutator m(seed);
    const auto t0 = std::chrono::steady_clock::now();
    // The seeds themselves must pass (they are valid models): run them once unmutated.
    for (const std::string &s : corpus)
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(s.data()), s.size());
    for (long long i = 0; i < n; ++i) {
        std::string s = corpus[m.below(corpus.size())];
        // Mutate the config part, the safetensors part, or both.
        const size_t nul = s.find('\0');
        const size_t which = m.below(3);
        if (which == 0 && nul != std::string::npos) {
            std::string cfg = s.substr(0, nul);
            m.mutate(cfg);
            cfg.erase(std::remove(cfg.begin(), cfg.end(), '\0'), cfg.end());
            s = cfg + s.substr(nul);
        } else if (which == 1 && nul != std::string::npos) {
            std::string st = s.substr(nul + 1);
            m.mutate(st);
            s = s.substr(0, nul + 1) + st;
        } else {
            m.mutate(s);
        }
        LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(s.data()), s.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("jet_loader_mutate: %lld mutated checkpoints (seed %llu), 0 crashes, %.1f s\n",
                n, static_cast<unsigned long long>(seed), secs);
    std::printf("Done %lld runs in %.0f second(s)\n", n, secs);  // libFuzzer's summary line
    return 0;
}
