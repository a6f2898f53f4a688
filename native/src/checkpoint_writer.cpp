// checkpoint_writer.cpp - see checkpoint_writer.h. Safetensors layout: u64 little-endian header
// length, the JSON header (padded with spaces to a multiple of 8 bytes), then the tensors' bytes.
#include "checkpoint_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "config.h"
#include "error.h"
#include "platform.h"
#include "weights.h"

namespace jet {

namespace {

using json = nlohmann::json;
constexpr uint64_t kDefaultShardBytes = uint64_t(2) << 30;

// An output file that throws JET_ERR_IO with its path on any failure and is removed unless
// committed (no half-written checkpoint file is left behind).
class OutFile {
public:
    explicit OutFile(std::string path) : path_(std::move(path)) {
        f_ = platform::open_file(path_, "wb");
        if (!f_) fail("cannot create");
    }
    ~OutFile() {
        if (f_) std::fclose(f_);
        if (!committed_) platform::remove_file(path_);
    }
    void write(const void *p, size_t n) {
        if (n && std::fwrite(p, 1, n, f_) != n) fail("cannot write");
    }
    void commit() {
        const int rc = std::fclose(f_);
        f_ = nullptr;
        if (rc != 0) fail("cannot write");
        committed_ = true;
    }

private:
    [[noreturn]] void fail(const char *what) {
        throw Error(JET_ERR_IO, std::string(what) + " " + path_ + ": " + std::strerror(errno));
    }
    std::string path_;
    std::FILE *f_ = nullptr;
    bool committed_ = false;
};

struct Shard {
    std::vector<const OutTensor *> tensors;
    uint64_t bytes = 0;
};

void write_shard(const std::string &path, const Shard &shard,
                 const std::function<void(const OutTensor &)> &done) {
    json header = json::object();
    uint64_t offset = 0;
    for (const OutTensor *e : shard.tensors) {
        header[e->name] = {{"dtype", e->dtype}, {"shape", e->shape},
                           {"data_offsets", {offset, offset + e->bytes}}};
        offset += e->bytes;
    }
    header["__metadata__"] = {{"format", "pt"}};
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
    OutFile out(path);
    out.write(len, 8);
    out.write(text.data(), text.size());
    std::vector<uint8_t> data;
    for (const OutTensor *e : shard.tensors) {
        data.clear();
        e->data(data);  // little-endian host
        if (data.size() != e->bytes)
            throw Error(JET_ERR_INTERNAL, "tensor '" + e->name + "': " +
                                              std::to_string(data.size()) + " bytes produced, " +
                                              std::to_string(e->bytes) + " expected");
        out.write(data.data(), data.size());
        if (done) done(*e);
    }
    out.commit();
}

void write_text(const std::string &path, const std::string &text) {
    OutFile out(path);
    out.write(text.data(), text.size());
    out.commit();
}

}  // namespace

void write_checkpoint(const std::string &folder, const std::string &config_json,
                      const std::vector<OutTensor> &tensors, uint64_t max_shard_bytes,
                      const std::function<void(const OutTensor &)> &done) {
    if (folder.empty()) throw Error(JET_ERR_INVALID_ARGUMENT, "checkpoint folder is empty");
    std::error_code ec;
    const std::filesystem::path native_folder = platform::fs_path(folder);
    std::filesystem::create_directories(native_folder, ec);
    if (ec || !std::filesystem::is_directory(native_folder, ec))
        throw Error(JET_ERR_IO, "cannot create folder " + folder + ": " +
                                    (ec ? ec.message() : std::string("not a directory")));
    const std::string dir = folder.back() == '/' ? folder : folder + "/";
    const uint64_t limit = max_shard_bytes ? max_shard_bytes : kDefaultShardBytes;

    std::vector<Shard> shards(1);
    for (const auto &e : tensors) {
        if (!shards.back().tensors.empty() && shards.back().bytes + e.bytes > limit)
            shards.emplace_back();
        shards.back().tensors.push_back(&e);
        shards.back().bytes += e.bytes;
    }
    write_text(dir + "config.json", config_json);
    const std::string index = dir + "model.safetensors.index.json";
    if (shards.size() == 1) {
        platform::remove_file(index);  // the loader prefers an index: none may be left over
        write_shard(dir + "model.safetensors", shards[0], done);
        return;
    }
    json weight_map = json::object();
    uint64_t total = 0;
    const int n = int(shards.size());
    for (int i = 0; i < n; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1, n);
        write_shard(dir + name, shards[size_t(i)], done);
        for (const OutTensor *e : shards[size_t(i)].tensors) weight_map[e->name] = name;
        total += shards[size_t(i)].bytes;
    }
    platform::remove_file(dir + "model.safetensors");
    const json idx = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_text(index, idx.dump(2) + "\n");
}

void write_random_checkpoint(const std::string &config_json, uint64_t seed,
                             const std::string &folder, uint64_t max_shard_bytes) {
    const Config cfg = parse_config(config_json);
    std::vector<OutTensor> tensors;
    for (const auto &e : Weights::expected(cfg)) {
        uint64_t n = 1;
        for (int64_t s : e.shape) n *= uint64_t(s);
        tensors.push_back({e.name, "BF16", e.shape, 2 * n, [e, seed](std::vector<uint8_t> &out) {
                               const std::vector<uint16_t> v = Weights::random_tensor(e, seed);
                               out.resize(v.size() * 2);
                               std::memcpy(out.data(), v.data(), out.size());
                           }});
    }
    write_checkpoint(folder, config_json, tensors, max_shard_bytes, nullptr);
}

}  // namespace jet
