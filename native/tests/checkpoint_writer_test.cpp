// checkpoint_writer_test.cpp - jet_checkpoint_write_random: the written folder loads with
// jet_model_load (single file and shards + index) and gives the logits of
// jet_model_create_random with the same seed; rewriting with another shard count leaves a
// loadable folder; bad config and unwritable folders are errors naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "test_util.h"

namespace {

using jet_test::ModelPtr;
using jet_test::SessionPtr;
using jet_test::TempDir;

std::vector<float> logits_of(jet_model *m, const std::vector<int32_t> &toks) {
    jet_session_params sp;
    jet_session_default_params(&sp);
    SessionPtr s;
    EXPECT_EQ(jet_session_create(m, &sp, &s.p), JET_OK) << jet_last_error();
    std::vector<float> out(toks.size() * 64);
    EXPECT_EQ(jet_session_prefill(s.p, 0, toks.data(), int32_t(toks.size()), JET_LOGITS_ALL,
                                  out.data(), nullptr),
              JET_OK)
        << jet_last_error();
    return out;
}

size_t count_shards(const TempDir &dir) {
    size_t n = 0;
    for (const auto &f : std::filesystem::directory_iterator(dir.path()))
        n += f.path().filename().string().rfind("model-", 0) == 0;
    return n;
}

TEST(CheckpointWriter, WrittenCheckpointLoadsAsTheRandomModel) {
    const std::string cfg = jet_test::tiny_config_json().dump();
    const std::vector<int32_t> toks = {1, 5, 9, 33, 2, 60, 17, 17, 4};
    ModelPtr random;
    ASSERT_EQ(jet_model_create_random(cfg.c_str(), 7, nullptr, &random.p), JET_OK) << jet_last_error();
    const auto want = logits_of(random.p, toks);

    TempDir dir;
    const std::string folder = dir.file("sub/dir");  // created with its parents
    // 20 KB shards: several files and an index.
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 7, folder.c_str(), 20000), JET_OK)
        << jet_last_error();
    EXPECT_TRUE(std::filesystem::exists(folder + "/model.safetensors.index.json"));
    EXPECT_FALSE(std::filesystem::exists(folder + "/model.safetensors"));
    const auto index = nlohmann::json::parse(jet_test::read_bytes(folder + "/model.safetensors.index.json"));
    EXPECT_GT(index["weight_map"].size(), 10u);
    EXPECT_GT(index["metadata"]["total_size"].get<uint64_t>(), 20000u);
    ModelPtr sharded;
    ASSERT_EQ(jet_model_load(folder.c_str(), nullptr, &sharded.p), JET_OK) << jet_last_error();
    EXPECT_EQ(logits_of(sharded.p, toks), want);

    // Rewritten as one file (default shard size): the stale index is gone, the folder loads.
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 7, folder.c_str(), 0), JET_OK)
        << jet_last_error();
    EXPECT_FALSE(std::filesystem::exists(folder + "/model.safetensors.index.json"));
    ModelPtr single;
    ASSERT_EQ(jet_model_load(folder.c_str(), nullptr, &single.p), JET_OK) << jet_last_error();
    EXPECT_EQ(logits_of(single.p, toks), want);

    // Another seed, other weights. The loaded model maps model.safetensors: free it first (Windows
    // refuses to overwrite a mapped file; elsewhere truncating it would pull the pages from under
    // the model).
    jet_model_free(single.p);
    single.p = nullptr;
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 8, folder.c_str(), 0), JET_OK) << jet_last_error();
    ModelPtr other;
    ASSERT_EQ(jet_model_load(folder.c_str(), nullptr, &other.p), JET_OK) << jet_last_error();
    EXPECT_NE(logits_of(other.p, toks), want);
}

TEST(CheckpointWriter, ShardsHoldAtMostTheLimitUnlessOneTensorIsLarger) {
    TempDir dir;
    const std::string cfg = jet_test::tiny_config_json().dump();
    // 1 byte: every tensor in a shard of its own.
    ASSERT_EQ(jet_checkpoint_write_random(cfg.c_str(), 1, dir.path().c_str(), 1), JET_OK)
        << jet_last_error();
    const auto index = nlohmann::json::parse(jet_test::read_bytes(dir.file("model.safetensors.index.json")));
    EXPECT_EQ(count_shards(dir), index["weight_map"].size());
    ModelPtr m;
    EXPECT_EQ(jet_model_load(dir.path().c_str(), nullptr, &m.p), JET_OK) << jet_last_error();
}

TEST(CheckpointWriter, BadInputIsAnErrorWithItsReason) {
    TempDir dir;
    const std::string cfg = jet_test::tiny_config_json().dump();
    EXPECT_EQ(jet_checkpoint_write_random(R"({"model_type": "jet_nemotron"})", 1, dir.path().c_str(), 0),
              JET_ERR_FORMAT);
    dir.write("file", "x");
    const std::string under_file = dir.file("file/sub");
    EXPECT_EQ(jet_checkpoint_write_random(cfg.c_str(), 1, under_file.c_str(), 0), JET_ERR_IO);
    EXPECT_NE(std::string(jet_last_error()).find(under_file), std::string::npos) << jet_last_error();
    EXPECT_EQ(jet_checkpoint_write_random(nullptr, 1, dir.path().c_str(), 0), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_checkpoint_write_random(cfg.c_str(), 1, nullptr, 0), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_checkpoint_write_random(cfg.c_str(), 1, "", 0), JET_ERR_INVALID_ARGUMENT);
}

}  // namespace
