// safetensors_test.cpp - the reader accepts good files and refuses every corruption with a
// status and a message naming the problem.
#include "safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "error.h"
#include "test_util.h"

namespace {

using jet_test::StBuilder;

std::string f32_bytes(const std::vector<float> &v) {
    return std::string(reinterpret_cast<const char *>(v.data()), v.size() * 4);
}

void expect_error(const std::string &image, jet_status status, const std::string &needle) {
    try {
        jet::SafetensorsFile::parse(reinterpret_cast<const uint8_t *>(image.data()), image.size(),
                                    "test.safetensors");
        ADD_FAILURE() << "accepted a bad file; expected " << jet_status_name(status) << " about "
                      << needle;
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "'" << e.what() << "' does not mention '" << needle << "'";
        EXPECT_NE(std::string(e.what()).find("test.safetensors"), std::string::npos);
    }
}

TEST(Safetensors, ReadsEveryFloatDtype) {
    StBuilder b;
    b.add("a", "F32", {2, 2}, f32_bytes({1.f, -2.f, 0.5f, 3.f}));
    b.add("b", "BF16", {3}, std::string("\x80\x3f\x00\xc0\x00\x00", 6));  // 1, -2, 0
    b.add("c", "F16", {3}, std::string("\x00\x3c\x00\xc0\x01\x00", 6));  // 1, -2, 2^-24
    b.header["__metadata__"] = {{"format", "pt"}};
    const std::string img = b.serialise();
    auto f = jet::SafetensorsFile::parse(reinterpret_cast<const uint8_t *>(img.data()), img.size(),
                                         "t");
    ASSERT_EQ(f->tensors().size(), 3u);
    EXPECT_EQ(f->get("a").shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(f->get("a").to_f32(), (std::vector<float>{1.f, -2.f, 0.5f, 3.f}));
    EXPECT_EQ(f->get("b").dtype, jet::DType::BF16);
    EXPECT_EQ(f->get("b").to_f32(), (std::vector<float>{1.f, -2.f, 0.f}));
    const std::vector<float> c = f->get("c").to_f32();
    EXPECT_EQ(c[0], 1.f);
    EXPECT_EQ(c[1], -2.f);
    EXPECT_EQ(c[2], std::ldexp(1.f, -24));  // f16 subnormal
    EXPECT_THROW(f->get("zzz"), jet::Error);
}

TEST(Safetensors, OpensAMappedFile) {
    jet_test::TempDir dir;
    StBuilder b;
    b.add("w", "F32", {3}, f32_bytes({1.f, 2.f, 3.f}));
    dir.write("x.safetensors", b.serialise());
    auto f = jet::SafetensorsFile::open(dir.file("x.safetensors"));
    EXPECT_EQ(f->get("w").to_f32(), (std::vector<float>{1.f, 2.f, 3.f}));
    try {
        jet::SafetensorsFile::open(dir.file("missing.safetensors"));
        ADD_FAILURE();
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_IO);
        EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos);
    }
}

TEST(Safetensors, TruncatedFiles) {
    StBuilder b;
    b.add("w", "F32", {4}, f32_bytes({1, 2, 3, 4}));
    const std::string img = b.serialise();
    expect_error(img.substr(0, 5), JET_ERR_IO, "truncated");
    expect_error(img.substr(0, 20), JET_ERR_IO, "truncated");
    // Header intact, data cut: the tensor's offsets now lie outside the file.
    expect_error(img.substr(0, img.size() - 3), JET_ERR_FORMAT, "outside the file");
}

TEST(Safetensors, CorruptHeaders) {
    expect_error(StBuilder::serialise_header("{\"a\": "), JET_ERR_FORMAT, "invalid JSON");
    expect_error(StBuilder::serialise_header("[1, 2]"), JET_ERR_FORMAT, "JSON object");
    std::string huge(8, '\0');
    huge[5] = 1;  // 2^40 bytes of header
    expect_error(huge + "{}", JET_ERR_FORMAT, "100 MiB");
    expect_error(StBuilder::serialise_header(R"({"w": 3})"), JET_ERR_FORMAT, "'w'");
    expect_error(StBuilder::serialise_header(R"({"__metadata__": 3})"), JET_ERR_FORMAT, "__metadata__");
}

TEST(Safetensors, BadEntries) {
    auto with = [](const std::string &entry, size_t data = 16) {
        return StBuilder::serialise_header("{\"w\": " + entry + "}") + std::string(data, '\0');
    };
    expect_error(with(R"({"shape": [4], "data_offsets": [0, 16]})"), JET_ERR_FORMAT, "dtype");
    expect_error(with(R"({"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]})"), JET_ERR_FORMAT,
                 "unsupported dtype 'Q4'");
    expect_error(with(R"({"dtype": "F32", "data_offsets": [0, 16]})"), JET_ERR_FORMAT, "shape");
    expect_error(with(R"({"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]})"),
                 JET_ERR_FORMAT, "non-negative");
    expect_error(with(R"({"dtype": "F32", "shape": [4.5], "data_offsets": [0, 16]})"),
                 JET_ERR_FORMAT, "non-negative");
    expect_error(with(R"({"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 16]})"),
                 JET_ERR_FORMAT, "too large");
    expect_error(with(R"({"dtype": "F32", "shape": [4]})"), JET_ERR_FORMAT, "data_offsets");
    expect_error(with(R"({"dtype": "F32", "shape": [4], "data_offsets": [0]})"), JET_ERR_FORMAT,
                 "data_offsets");
    expect_error(with(R"({"dtype": "F32", "shape": [4], "data_offsets": [-1, 15]})"),
                 JET_ERR_FORMAT, "data_offsets");
    expect_error(with(R"({"dtype": "F32", "shape": [4], "data_offsets": [16, 0]})"),
                 JET_ERR_FORMAT, "begin > end");
    // Wrong shape for the byte range (dtype or shape disagree with the offsets).
    expect_error(with(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 16]})"),
                 JET_ERR_FORMAT, "need 12 bytes");
    expect_error(with(R"({"dtype": "BF16", "shape": [4], "data_offsets": [0, 16]})"),
                 JET_ERR_FORMAT, "need 8 bytes");
    // Offsets outside the file.
    expect_error(with(R"({"dtype": "F32", "shape": [4], "data_offsets": [8, 24]})"),
                 JET_ERR_FORMAT, "outside the file");
    expect_error(with(R"({"dtype": "F32", "shape": [4], "data_offsets": [18446744073709551600, 18446744073709551616]})"),
                 JET_ERR_FORMAT, "");
}

TEST(Safetensors, OverlappingTensors) {
    const std::string img = StBuilder::serialise_header(
                                R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                                R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]}})") +
                            std::string(20, '\0');
    expect_error(img, JET_ERR_FORMAT, "overlapping");
}

}  // namespace
