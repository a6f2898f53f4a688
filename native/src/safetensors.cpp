// safetensors.cpp - bounds-checked, memory-mapped safetensors reader.
#include "safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "error.h"
#include "platform.h"

namespace jet {

namespace {

using json = nlohmann::json;

// A header above this is refused before it is read (real ones are well under 1 MiB).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

[[noreturn]] void corrupt(const std::string &name, const std::string &why) {
    throw Error(JET_ERR_FORMAT, name + ": corrupt safetensors header: " + why);
}

bool parse_dtype(const std::string &s, DType *out) {
    if (s == "F32") *out = DType::F32;
    else if (s == "BF16") *out = DType::BF16;
    else if (s == "F16") *out = DType::F16;
    else if (s == "I64") *out = DType::I64;
    else if (s == "I32") *out = DType::I32;
    else if (s == "I8") *out = DType::I8;
    else if (s == "F8_E4M3") *out = DType::F8_E4M3;
    else return false;
    return true;
}

float bf16_to_f32(uint16_t h) {
    uint32_t bits = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

size_t dtype_size(DType t) {
    switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::I8: return 1;
    case DType::F8_E4M3: return 1;
    }
    return 0;
}

const char *dtype_name(DType t) {
    switch (t) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I8: return "I8";
    case DType::F8_E4M3: return "F8_E4M3";
    }
    return "?";
}

float fp8_e4m3_to_f32(uint8_t b) {
    const uint32_t sign = uint32_t(b & 0x80) << 24;
    const uint32_t e = (b >> 3) & 0xf, m = b & 0x7;
    if (e == 15 && m == 7) return std::numeric_limits<float>::quiet_NaN();
    float mag;
    if (e == 0) {
        mag = std::ldexp(float(m), -9);  // subnormal: m/8 * 2^-6
    } else {
        uint32_t bits = ((e + 120) << 23) | (m << 20);
        std::memcpy(&mag, &bits, 4);
    }
    uint32_t bits;
    std::memcpy(&bits, &mag, 4);
    bits |= sign;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

void TensorView::to_f32(float *dst) const {
    const int64_t n = numel();
    if (n == 0) return;
    const auto *bytes = static_cast<const uint8_t *>(data);
    switch (dtype) {
    case DType::F32:
        std::memcpy(dst, data, size_t(n) * 4);
        return;
    case DType::BF16:
        for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, bytes + 2 * i, 2);
            dst[i] = bf16_to_f32(h);
        }
        return;
    case DType::F16:
        for (int64_t i = 0; i < n; ++i) {
            uint16_t h;
            std::memcpy(&h, bytes + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        return;
    case DType::I64:
        for (int64_t i = 0; i < n; ++i) {
            int64_t v;
            std::memcpy(&v, bytes + 8 * i, 8);
            dst[i] = static_cast<float>(v);
        }
        return;
    case DType::I32:
        for (int64_t i = 0; i < n; ++i) {
            int32_t v;
            std::memcpy(&v, bytes + 4 * i, 4);
            dst[i] = static_cast<float>(v);
        }
        return;
    case DType::I8:
        for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(bytes[i]));
        return;
    case DType::F8_E4M3:
        for (int64_t i = 0; i < n; ++i) dst[i] = fp8_e4m3_to_f32(bytes[i]);
        return;
    }
}

std::vector<float> TensorView::to_f32() const {
    std::vector<float> out(static_cast<size_t>(numel()));
    to_f32(out.data());
    return out;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t *bytes, size_t size,
                                                        const std::string &name) {
    if (size < 8)
        throw Error(JET_ERR_IO, name + ": truncated safetensors file (" + std::to_string(size) +
                                    " bytes, less than the 8-byte header length)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    if (n > kMaxHeaderBytes)
        corrupt(name, "header length " + std::to_string(n) + " exceeds the 100 MiB bound");
    if (n > size - 8)
        throw Error(JET_ERR_IO, name + ": truncated safetensors file (header of " +
                                    std::to_string(n) + " bytes, but only " +
                                    std::to_string(size - 8) + " bytes follow)");
    json h;
    try {
        h = json::parse(bytes + 8, bytes + 8 + n);
    } catch (const json::exception &e) {
        corrupt(name, std::string("invalid JSON: ") + e.what());
    }
    if (!h.is_object()) corrupt(name, "the header must be a JSON object");

    const uint64_t data_size = size - 8 - n;
    const uint8_t *data = bytes + 8 + n;
    auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
    file->path_ = name;
    struct Range {
        uint64_t begin, end;
        const std::string *name;
    };
    std::vector<Range> ranges;
    for (auto it = h.begin(); it != h.end(); ++it) {
        const std::string &tname = it.key();
        if (tname == "__metadata__") {
            if (!it->is_object() && !it->is_null())
                corrupt(name, "__metadata__ must be an object");
            continue;
        }
        const json &t = *it;
        const std::string where = "tensor '" + tname + "': ";
        if (!t.is_object()) corrupt(name, where + "entry must be an object");
        auto dt = t.find("dtype");
        if (dt == t.end() || !dt->is_string()) corrupt(name, where + "missing dtype");
        TensorView view;
        if (!parse_dtype(dt->get<std::string>(), &view.dtype))
            corrupt(name, where + "unsupported dtype '" + dt->get<std::string>() + "'");
        auto sh = t.find("shape");
        if (sh == t.end() || !sh->is_array()) corrupt(name, where + "missing shape");
        if (sh->size() > 8) corrupt(name, where + "too many dimensions");
        uint64_t numel = 1;
        for (const json &d : *sh) {
            if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<int64_t>() < 0))
                corrupt(name, where + "shape entries must be non-negative integers");
            const uint64_t v = d.get<uint64_t>();
            if (v > (1ull << 40) || (v != 0 && numel > (1ull << 40) / v))
                corrupt(name, where + "shape is too large");
            numel *= v;
            view.shape.push_back(static_cast<int64_t>(v));
        }
        auto off = t.find("data_offsets");
        if (off == t.end() || !off->is_array() || off->size() != 2 ||
            !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
            corrupt(name, where + "data_offsets must be two non-negative integers");
        const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
        if (begin > end) corrupt(name, where + "data_offsets begin > end");
        if (end > data_size)
            corrupt(name, where + "data_offsets [" + std::to_string(begin) + ", " +
                              std::to_string(end) + "] lie outside the file's " +
                              std::to_string(data_size) + " data bytes");
        if (numel * dtype_size(view.dtype) != end - begin)
            corrupt(name, where + "shape and dtype need " +
                              std::to_string(numel * dtype_size(view.dtype)) +
                              " bytes but data_offsets span " + std::to_string(end - begin));
        view.data = data + begin;
        auto ins = file->tensors_.emplace(tname, std::move(view));
        ranges.push_back({begin, end, &ins.first->first});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const Range &a, const Range &b) { return a.begin < b.begin; });
    for (size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].begin < ranges[i - 1].end)
            corrupt(name, "tensors '" + *ranges[i - 1].name + "' and '" + *ranges[i].name +
                              "' have overlapping data_offsets");
    }
    return file;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
    auto map = std::make_unique<platform::MappedFile>(platform::MappedFile::open(path));
    std::shared_ptr<SafetensorsFile> file = parse(map->data(), map->size(), path);
    file->map_ = std::move(map);
    return file;
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorView &SafetensorsFile::get(const std::string &name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end())
        throw Error(JET_ERR_FORMAT, path_ + ": missing tensor '" + name + "'");
    return it->second;
}

}  // namespace jet
