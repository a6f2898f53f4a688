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
    std::vector<std::vector<float>> scales;               // quantization scales, F32 [N, groups]
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

const TensorView &Weights::check_tensor(const SafetensorsFile &file, const Expected &e,
                                        const Config &cfg) {
    if (!file.has(e.name))
        throw Error(JET_ERR_FORMAT, file.path() + ": missing tensor '" + e.name + "'");
    const TensorView &t = file.get(e.name);
    const bool quantized = t.dtype == DType::I8 || t.dtype == DType::F8_E4M3;
    if (quantized) {
        const std::string what = file.path() + ": tensor '" + e.name + "' is quantized (" +
                                 dtype_name(t.dtype) + ")";
        if (!role_quantizable(e.role))
            throw Error(JET_ERR_FORMAT, what + ", but only linear-layer weights may be "
                                               "(embeddings, norms and biases never)");
        if (cfg.quant.method == QuantMethod::None)
            throw Error(JET_ERR_FORMAT, what + ", but config.json has no quantization_config");
        const DType want = cfg.quant.weight_dtype == JET_WEIGHT_INT8 ? DType::I8 : DType::F8_E4M3;
        if (t.dtype != want)
            throw Error(JET_ERR_FORMAT, what + ", but quantization_config says " +
                                            weight_dtype_name(cfg.quant.weight_dtype));
    } else if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16) {
        throw Error(JET_ERR_FORMAT, file.path() + ": tensor '" + e.name + "' has dtype " +
                                        dtype_name(t.dtype) + ", expected BF16, F16 or F32" +
                                        (role_quantizable(e.role) ? " (or I8/F8_E4M3 with a scale)" : ""));
    }
    if (t.shape != e.shape)
        throw Error(JET_ERR_FORMAT, file.path() + ": tensor '" + e.name + "' has shape " +
                                        shape_str(t.shape) + ", expected " + shape_str(e.shape));
    return t;
}

void Weights::bind(const SafetensorsFile &file, const Expected &e, const Config &cfg,
                   const FileOf &file_of) {
    const TensorView &t = check_tensor(file, e, cfg);
    tensors_[e.name] = t;
    if (t.dtype == DType::I8 || t.dtype == DType::F8_E4M3) {
        bind_scale(e, t, cfg, file_of);
        weight_dtype_ = cfg.quant.weight_dtype;
    }
}

void Weights::bind_scale(const Expected &e, const TensorView &q, const Config &cfg,
                         const FileOf &file_of) {
    const std::string base = ends_with(e.name, ".weight") ? e.name.substr(0, e.name.size() - 7) : e.name;
    const bool blocks = cfg.quant.block_n > 0;
    const std::string name = base + (blocks ? ".weight_scale_inv" : ".weight_scale");
    const SafetensorsFile *file = file_of(name);
    if (!file || !file->has(name))
        throw Error(JET_ERR_FORMAT, "missing tensor '" + name + "' (the scale of quantized tensor '" +
                                        e.name + "')");
    const TensorView &s = file->get(name);
    const std::string where = file->path() + ": tensor '" + name + "'";
    if (s.dtype != DType::F32 && s.dtype != DType::BF16 && s.dtype != DType::F16)
        throw Error(JET_ERR_FORMAT, where + " has dtype " + dtype_name(s.dtype) +
                                        ", expected F32, BF16 or F16");
    const int64_t N = e.shape[0], K = e.shape[1];
    const std::vector<float> src = s.to_f32();
    std::vector<float> out;
    int64_t groups = 1;
    if (blocks) {
        const int64_t bn = cfg.quant.block_n, bk = cfg.quant.block_k;
        const std::vector<int64_t> want = {(N + bn - 1) / bn, (K + bk - 1) / bk};
        if (s.shape != want)
            throw Error(JET_ERR_FORMAT, where + " has shape " + shape_str(s.shape) + ", expected " +
                                            shape_str(want) + " (weight_block_size [" +
                                            std::to_string(bn) + ", " + std::to_string(bk) +
                                            "] of " + shape_str(e.shape) + ")");
        if (K % bk != 0)
            throw Error(JET_ERR_FORMAT, where + ": the block width " + std::to_string(bk) +
                                            " does not divide the input size " + std::to_string(K) +
                                            " of '" + e.name + "' (not supported)");
        groups = K / bk;
        out.resize(size_t(N * groups));
        for (int64_t n = 0; n < N; ++n)
            for (int64_t g = 0; g < groups; ++g) out[size_t(n * groups + g)] = src[size_t((n / bn) * groups + g)];
    } else if (s.numel() == 1 && (s.shape.empty() || s.shape == std::vector<int64_t>{1}) && N != 1) {
        if (q.dtype != DType::F8_E4M3)
            throw Error(JET_ERR_FORMAT, where + " is a per-tensor scale; only FP8 weights may have "
                                                "one (INT8 needs [N] or [N, K / group])");
        out.assign(size_t(N), src[0]);
    } else if (s.shape == std::vector<int64_t>{N} || s.shape == std::vector<int64_t>{N, 1}) {
        out = src;
    } else if (s.shape.size() == 2 && s.shape[0] == N && s.shape[1] > 1 && K % s.shape[1] == 0) {
        groups = s.shape[1];
        if (cfg.quant.group_size > 0 && K / groups != cfg.quant.group_size)
            throw Error(JET_ERR_FORMAT, where + " has shape " + shape_str(s.shape) + ": groups of " +
                                            std::to_string(K / groups) + ", but quantization_config "
                                            "says group_size " + std::to_string(cfg.quant.group_size));
        out = src;
    } else {
        throw Error(JET_ERR_FORMAT, where + " has shape " + shape_str(s.shape) + ", expected [" +
                                        std::to_string(N) + "], [" + std::to_string(N) + ", 1] or [" +
                                        std::to_string(N) + ", K / group] with the group dividing K = " +
                                        std::to_string(K) +
                                        (q.dtype == DType::F8_E4M3 ? " (or one per-tensor value)" : ""));
    }
    for (size_t i = 0; i < src.size(); ++i)  // the shape is right: now the values
        if (!std::isfinite(src[i]) || src[i] <= 0.0f)
            throw Error(JET_ERR_FORMAT, where + " has a non-finite or non-positive scale (" +
                                            std::to_string(src[i]) + " at index " +
                                            std::to_string(i) + ")");
    Scale sc;
    sc.view.dtype = DType::F32;
    sc.view.shape = {N, groups};
    sc.group = int(K / groups);
    storage_->scales.push_back(std::move(out));
    sc.view.data = storage_->scales.back().data();  // the vector's buffer does not move
    scales_[e.name] = sc;
}

std::shared_ptr<Weights> Weights::from_file(std::shared_ptr<SafetensorsFile> file,
                                            const Config &cfg) {
    auto w = std::make_shared<Weights>();
    w->storage_ = std::make_shared<Storage>();
    w->storage_->files.push_back(file);
    const FileOf file_of = [&](const std::string &) { return file.get(); };
    for (const Expected &e : expected(cfg)) w->bind(*file, e, cfg, file_of);
    w->finish_dtype(cfg);
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

    const FileOf file_of = [&](const std::string &name) -> const SafetensorsFile * {
        if (weight_map.is_null()) return shards.begin()->second.get();
        auto it = weight_map.find(name);
        return it == weight_map.end() ? nullptr : shards[it->get<std::string>()].get();
    };
    for (const Expected &e : expected(cfg)) {
        const SafetensorsFile *file = file_of(e.name);
        if (!file) throw Error(JET_ERR_FORMAT, index + ": missing tensor '" + e.name + "'");
        w->bind(*file, e, cfg, file_of);
    }
    w->finish_dtype(cfg);
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

const TensorView *Weights::scale(Role role, int layer) const {
    auto it = scales_.find(tensor_name(role, layer));
    return it == scales_.end() ? nullptr : &it->second.view;
}

int Weights::group_size(Role role, int layer) const {
    auto it = scales_.find(tensor_name(role, layer));
    return it == scales_.end() ? 0 : it->second.group;
}

void Weights::finish_dtype(const Config &cfg) {
    if (!scales_.empty()) return;  // bind() set the quantized type
    if (cfg.num_layers == 0) return;
    switch (get(Role::MlpGate, 0).dtype) {
    case DType::F32: weight_dtype_ = JET_WEIGHT_F32; break;
    case DType::F16: weight_dtype_ = JET_WEIGHT_F16; break;
    default: weight_dtype_ = JET_WEIGHT_BF16; break;
    }
}

bool Weights::has(const std::string &name) const { return tensors_.count(name) != 0; }

int64_t Weights::n_params() const {
    int64_t n = 0;
    for (const auto &kv : tensors_) n += kv.second.numel();
    return n;
}

std::string read_text_file(const std::string &path) { return platform::read_file(path); }

}  // namespace jet
