// safetensors.h - a bounds-checked reader of the safetensors format (memory-mapped).
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data. Every check
// (header size bound, valid JSON, known dtype, shape product * dtype size == end - begin,
// offsets inside the file, no overlaps) happens in parse(), before any tensor is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jet {

namespace platform {
class MappedFile;
}

// I8: int8 (quantized weights); F8_E4M3: float8 e4m3fn (1 sign, 4 exponent bits of bias 7,
// 3 mantissa bits, no infinities, 0x7f/0xff NaN), the FP8 weights Hugging Face tools publish.
enum class DType { F32, BF16, F16, I64, I32, I8, F8_E4M3 };
size_t dtype_size(DType t);
const char *dtype_name(DType t);
// The float32 value of an FP8 e4m3fn byte (exact; NaN for 0x7f and 0xff).
float fp8_e4m3_to_f32(uint8_t b);

struct TensorView {
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const void *data = nullptr;  // valid while the owning file/Weights lives
    int64_t numel() const;
    // Converts to float32 into dst (numel() floats). I8 and F8_E4M3 give the stored values
    // (a quantized weight's q, without its scale).
    void to_f32(float *dst) const;
    std::vector<float> to_f32() const;
};

class SafetensorsFile {
public:
    // Memory-maps and validates. Throws jet::Error(JET_ERR_IO) for a missing/unreadable or
    // truncated file and jet::Error(JET_ERR_FORMAT) for a corrupt header, naming file and tensor.
    static std::shared_ptr<SafetensorsFile> open(const std::string &path);
    // Validates an in-memory image (same checks; used by the fuzzer). `name` is for messages.
    // The bytes must outlive the returned object.
    static std::shared_ptr<SafetensorsFile> parse(const uint8_t *bytes, size_t size,
                                                  const std::string &name);
    ~SafetensorsFile();

    const std::map<std::string, TensorView> &tensors() const { return tensors_; }
    const TensorView &get(const std::string &name) const;  // throws JET_ERR_FORMAT if missing
    bool has(const std::string &name) const { return tensors_.count(name) != 0; }
    const std::string &path() const { return path_; }

private:
    SafetensorsFile() = default;
    std::string path_;
    std::unique_ptr<platform::MappedFile> map_;  // null for parse()d images
    std::map<std::string, TensorView> tensors_;
};

}  // namespace jet
