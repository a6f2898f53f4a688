// weights.cpp - loads and validates a checkpoint's tensors (single file or sharded), or makes
// random ones.
#include "weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "cpu/threads.h"
#include "error.h"
#include "platform.h"

namespace jet {

struct Weights::Storage {
    std::vector<std::shared_ptr<SafetensorsFile>> files;  // memory-mapped checkpoint files
    std::vector<std::vector<uint16_t>> owned;             // random weights (bf16)
};

namespace {

using json = nlohmann::json;

bool file_exists(const std::string &path) { return platform::exists(path); }


std::string shape_str(const std::vector<int64_t> &s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

uint64_t splitmix64(uint64_t &x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string &s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even (inputs are finite)
    return static_cast<uint16_t>(bits >> 16);
}

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const TensorView &Weights::check_tensor(const SafetensorsFile &file, const Expected &e) {
    if (!file.has(e.name))
        throw Error(JET_ERR_FORMAT, file.path() + ": missing tensor '" + e.name + "'");
    const TensorView &t = file.get(e.name);
    if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
        throw Error(JET_ERR_FORMAT, file.path() + ": tensor '" + e.name + "' has dtype " +
                                        dtype_name(t.dtype) + ", expected BF16, F16 or F32");
    if (t.shape != e.shape)
        throw Error(JET_ERR_FORMAT, file.path() + ": tensor '" + e.name + "' has shape " +
                                        shape_str(t.shape) + ", expected " + shape_str(e.shape));
    return t;
}

std::shared_ptr<Weights> Weights::from_file(std::shared_ptr<SafetensorsFile> file,
                                            const Config &cfg) {
    auto w = std::make_shared<Weights>();
    w->storage_ = std::make_shared<Storage>();
    w->storage_->files.push_back(file);
    for (const Expected &e : expected(cfg)) w->tensors_[e.name] = check_tensor(*file, e);
    return w;
}

std::vector<Weights::Expected> Weights::expected(const Config &c) { return model_tensors(c); }

std::shared_ptr<Weights> Weights::load(const std::string &folder, const Config &cfg,
                                       jet_progress_callback progress, void *user_data) {
    auto w = std::make_shared<Weights>();
    w->storage_ = std::make_shared<Storage>();
    const std::string dir = ends_with(folder, "/") ? folder : folder + "/";
    const std::string single = dir + "model.safetensors";
    const std::string index = dir + "model.safetensors.index.json";

    // name -> file that holds it (sharded) or every tensor of the single file
    std::map<std::string, std::shared_ptr<SafetensorsFile>> where;
    std::vector<std::string> shard_names;
    json weight_map;
    if (file_exists(index)) {
        json j;
        try {
            j = json::parse(read_text_file(index));
        } catch (const json::exception &e) {
            throw Error(JET_ERR_FORMAT, index + ": invalid JSON: " + e.what());
        }
        if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
            throw Error(JET_ERR_FORMAT, index + ": missing object 'weight_map'");
        weight_map = j["weight_map"];
        for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
            if (!it->is_string())
                throw Error(JET_ERR_FORMAT, index + ": weight_map['" + it.key() + "'] must be a file name");
            const std::string f = it->get<std::string>();
            if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos ||
                f == "." || f == "..")
                throw Error(JET_ERR_FORMAT, index + ": weight_map['" + it.key() +
                                                "'] names an invalid shard file '" + f + "'");
            if (std::find(shard_names.begin(), shard_names.end(), f) == shard_names.end())
                shard_names.push_back(f);
        }
    } else if (file_exists(single)) {
        shard_names.push_back("model.safetensors");
    } else {
        throw Error(JET_ERR_IO, folder + ": no model.safetensors or model.safetensors.index.json");
    }

    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (size_t i = 0; i < shard_names.size(); ++i) {
        auto f = SafetensorsFile::open(dir + shard_names[i]);
        w->storage_->files.push_back(f);
        shards[shard_names[i]] = f;
        if (progress && !progress(0.9f * float(i + 1) / float(shard_names.size()), user_data))
            throw Error(JET_ERR_CANCELLED, "model load cancelled by the progress callback");
    }

    for (const Expected &e : expected(cfg)) {
        const SafetensorsFile *file = nullptr;
        if (!weight_map.is_null()) {
            auto it = weight_map.find(e.name);
            if (it == weight_map.end())
                throw Error(JET_ERR_FORMAT, index + ": missing tensor '" + e.name + "'");
            file = shards[it->get<std::string>()].get();
        } else {
            file = shards.begin()->second.get();
        }
        w->tensors_[e.name] = check_tensor(*file, e);
    }
    if (progress && !progress(1.0f, user_data))
        throw Error(JET_ERR_CANCELLED, "model load cancelled by the progress callback");
    return w;
}

std::vector<uint16_t> Weights::random_tensor(const Expected &e, uint64_t seed) {
    int64_t n = 1;
    for (int64_t s : e.shape) n *= s;
    std::vector<uint16_t> data(static_cast<size_t>(n));
    const std::string &nm = e.name;
    // Value ~ U[-1, 1) mapped per tensor kind: norms near 1, A = exp(A_log) in (1, 16),
    // small biases, linears/embeddings with std ~ 1/sqrt(fan_in) (activations stay O(1)).
    float mul = std::sqrt(3.0f / float(e.shape.back())), add = 0.0f;
    bool log_a = false;
    switch (e.role) {
    case Role::Ln1:
    case Role::Ln2:
    case Role::FinalNorm:
    case Role::JetONorm:
        mul = 0.1f;
        add = 1.0f;
        break;
    case Role::JetALog:
        mul = 7.5f;
        add = 8.5f;
        log_a = true;
        break;
    case Role::JetDtBias:
    case Role::AttnQBias:
    case Role::AttnKBias:
    case Role::AttnVBias:
    case Role::JetGenB2:
        mul = 0.1f;
        break;
    default:
        break;
    }
    // Blocks of 64Ki values, each seeded from (seed, name, block): the same numbers for
    // any thread count, generated in parallel.
    constexpr int64_t kBlock = 1 << 16;
    const uint64_t base = seed ^ fnv1a(nm);
    cpu::parallel_for((n + kBlock - 1) / kBlock, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            uint64_t state = base + 0x632be59bd9b4e019ull * uint64_t(b);
            splitmix64(state);
            const int64_t end = std::min(n, (b + 1) * kBlock);
            for (int64_t i = b * kBlock; i < end; ++i) {
                const float u = float(double(splitmix64(state) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
                const float x = add + mul * u;
                data[size_t(i)] = f32_to_bf16(log_a ? std::log(x) : x);
            }
        }
    });
    return data;
}

std::shared_ptr<Weights> Weights::random(const Config &cfg, uint64_t seed) {
    auto w = std::make_shared<Weights>();
    w->storage_ = std::make_shared<Storage>();
    for (const Expected &e : expected(cfg)) {
        std::vector<uint16_t> data = random_tensor(e, seed);
        TensorView v;
        v.dtype = DType::BF16;
        v.shape = e.shape;
        v.data = data.data();
        w->storage_->owned.push_back(std::move(data));  // the buffer does not move
        w->tensors_[e.name] = v;
    }
    return w;
}

const TensorView &Weights::get(const std::string &name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw Error(JET_ERR_FORMAT, "missing tensor '" + name + "'");
    return it->second;
}

const TensorView &Weights::get(Role role, int layer) const { return get(tensor_name(role, layer)); }

bool Weights::has(const std::string &name) const { return tensors_.count(name) != 0; }

int64_t Weights::n_params() const {
    int64_t n = 0;
    for (const auto &kv : tensors_) n += kv.second.numel();
    return n;
}

std::string read_text_file(const std::string &path) { return platform::read_file(path); }

}  // namespace jet
