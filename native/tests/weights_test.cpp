// weights_test.cpp - loading checkpoints through jet_model_load: single file, sharded, every
// dtype, and every class of bad checkpoint (each gives its status and names the problem).
#include "weights.h"

#include <gtest/gtest.h>

#include "config.h"
#include "test_util.h"

namespace {

using jet_test::ModelPtr;
using jet_test::StBuilder;
using jet_test::TempDir;
using nlohmann::json;

jet_status load(const TempDir &dir, jet_model **out) {
    jet_model_params p;
    jet_model_default_params(&p);
    p.n_threads = 1;
    return jet_model_load(dir.path().c_str(), &p, out);
}

void expect_load_error(const TempDir &dir, jet_status status, const std::string &needle) {
    jet_model *m = reinterpret_cast<jet_model *>(0x1);
    EXPECT_EQ(load(dir, &m), status) << jet_last_error();
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find(needle), std::string::npos)
        << "'" << jet_last_error() << "' does not mention '" << needle << "'";
    jet_model_free(m);
}

// A checkpoint with one tensor replaced by `edit` (which may also drop or rename it).
void write_edited(const TempDir &dir, const std::string &target,
                  const std::function<void(StBuilder &, const jet::Weights::Expected &)> &edit) {
    const json cfg = jet_test::tiny_config_json();
    dir.write("config.json", cfg.dump());
    StBuilder b;
    for (const auto &e : jet::Weights::expected(jet::parse_config(cfg.dump()))) {
        if (e.name == target) edit(b, e);
        else b.add_f32(e.name, e.shape);
    }
    dir.write("model.safetensors", b.serialise());
}

TEST(Weights, ExpectedNamesMatchTinyJetA) {
    JET_REQUIRE_SHARED();
    const std::string d = jet_test::tiny_model_dir();
    const jet::Config c = jet::parse_config(jet_test::read_bytes(d + "/config.json"));
    auto f = jet::SafetensorsFile::open(d + "/model.safetensors");
    const auto exp = jet::Weights::expected(c);
    EXPECT_EQ(exp.size(), f->tensors().size());
    for (const auto &e : exp) {
        ASSERT_TRUE(f->has(e.name)) << e.name;
        EXPECT_EQ(f->get(e.name).shape, e.shape) << e.name;
    }
}

TEST(Weights, LoadsAWrittenCheckpoint) {
    TempDir dir;
    jet_test::write_checkpoint(dir, jet_test::tiny_config_json());
    ModelPtr m;
    ASSERT_EQ(load(dir, &m.p), JET_OK) << jet_last_error();
    jet_model_info info{};
    info.size = sizeof info;
    ASSERT_EQ(jet_model_get_info(m.p, &info), JET_OK);
    EXPECT_EQ(info.vocab_size, 64);
    EXPECT_EQ(info.n_jet_layers, 2);
    EXPECT_EQ(info.n_swa_layers, 1);
    EXPECT_EQ(info.swa_window, 8);
    EXPECT_EQ(info.jet_head_v_dim, 16);
}

TEST(Weights, LoadsShardedCheckpointsInEveryDtype) {
    TempDir dir;
    const json cfg = jet_test::tiny_config_json();
    dir.write("config.json", cfg.dump());
    const auto exp = jet::Weights::expected(jet::parse_config(cfg.dump()));
    StBuilder shard[2];
    json map = json::object();
    for (size_t i = 0; i < exp.size(); ++i) {
        int64_t n = 1;
        for (int64_t s : exp[i].shape) n *= s;
        StBuilder &b = shard[i % 2];
        if (i % 3 == 0) b.add(exp[i].name, "BF16", exp[i].shape, std::string(size_t(n) * 2, '\0'));
        else if (i % 3 == 1) b.add(exp[i].name, "F16", exp[i].shape, std::string(size_t(n) * 2, '\0'));
        else b.add_f32(exp[i].name, exp[i].shape);
        map[exp[i].name] = i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
    }
    dir.write("model-00001-of-00002.safetensors", shard[0].serialise());
    dir.write("model-00002-of-00002.safetensors", shard[1].serialise());
    dir.write("model.safetensors.index.json", json{{"metadata", json::object()}, {"weight_map", map}}.dump());
    ModelPtr m;
    ASSERT_EQ(load(dir, &m.p), JET_OK) << jet_last_error();

    // A shard named with a path, a shard that is missing, a tensor absent from the map.
    map[exp[0].name] = "../evil.safetensors";
    dir.write("model.safetensors.index.json", json{{"weight_map", map}}.dump());
    expect_load_error(dir, JET_ERR_FORMAT, "invalid shard file");
    map[exp[0].name] = "model-00003-of-00002.safetensors";
    dir.write("model.safetensors.index.json", json{{"weight_map", map}}.dump());
    expect_load_error(dir, JET_ERR_IO, "model-00003-of-00002.safetensors");
    map.erase(exp[0].name);
    dir.write("model.safetensors.index.json", json{{"weight_map", map}}.dump());
    expect_load_error(dir, JET_ERR_FORMAT, "missing tensor '" + exp[0].name + "'");
    dir.write("model.safetensors.index.json", "{\"weight_map\": [");
    expect_load_error(dir, JET_ERR_FORMAT, "invalid JSON");
}

TEST(Weights, MissingFiles) {
    TempDir dir;
    expect_load_error(dir, JET_ERR_IO, "config.json");
    dir.write("config.json", jet_test::tiny_config_json().dump());
    expect_load_error(dir, JET_ERR_IO, "no model.safetensors");
}

TEST(Weights, BadConfigIsAFormatError) {
    TempDir dir;
    jet_test::write_checkpoint(dir, jet_test::tiny_config_json());
    json cfg = jet_test::tiny_config_json();
    cfg["num_key_value_heads"] = 3;
    dir.write("config.json", cfg.dump());
    expect_load_error(dir, JET_ERR_FORMAT, "num_key_value_heads");
    dir.write("config.json", "{");
    expect_load_error(dir, JET_ERR_FORMAT, "config.json");
}

TEST(Weights, TruncatedAndCorruptFiles) {
    TempDir dir;
    jet_test::write_checkpoint(dir, jet_test::tiny_config_json());
    const std::string good = jet_test::read_bytes(dir.file("model.safetensors"));
    dir.write("model.safetensors", good.substr(0, 6));
    expect_load_error(dir, JET_ERR_IO, "truncated");
    dir.write("model.safetensors", good.substr(0, good.size() - 100));
    expect_load_error(dir, JET_ERR_FORMAT, "outside the file");
    std::string corrupt = good;
    corrupt[9] = '#';  // inside the JSON header
    dir.write("model.safetensors", corrupt);
    expect_load_error(dir, JET_ERR_FORMAT, "invalid JSON");
}

TEST(Weights, MissingTensor) {
    TempDir dir;
    const std::string t = "model.layers.0.self_attn.dt_bias";
    write_edited(dir, t, [](StBuilder &, const jet::Weights::Expected &) {});
    expect_load_error(dir, JET_ERR_FORMAT, "missing tensor '" + t + "'");
}

TEST(Weights, WrongShape) {
    TempDir dir;
    const std::string t = "model.layers.1.self_attn.k_proj.weight";
    write_edited(dir, t, [](StBuilder &b, const jet::Weights::Expected &e) {
        b.add_f32(e.name, {e.shape[0] + 1, e.shape[1]});
    });
    expect_load_error(dir, JET_ERR_FORMAT, "tensor '" + t + "' has shape [17, 32], expected [16, 32]");
}

TEST(Weights, WrongDtype) {
    TempDir dir;
    const std::string t = "model.norm.weight";
    write_edited(dir, t, [](StBuilder &b, const jet::Weights::Expected &e) {
        b.add(e.name, "I32", e.shape, std::string(size_t(e.shape[0]) * 4, '\0'));
    });
    expect_load_error(dir, JET_ERR_FORMAT, "dtype I32");
}

TEST(Weights, UntiedHeadNeedsLmHead) {
    TempDir dir;
    json cfg = jet_test::tiny_config_json();
    cfg["tie_word_embeddings"] = false;
    jet_test::write_checkpoint(dir, jet_test::tiny_config_json());  // no lm_head.weight
    dir.write("config.json", cfg.dump());
    expect_load_error(dir, JET_ERR_FORMAT, "missing tensor 'lm_head.weight'");
    jet_test::write_checkpoint(dir, cfg);
    ModelPtr m;
    EXPECT_EQ(load(dir, &m.p), JET_OK) << jet_last_error();
}

TEST(Weights, RandomIsDeterministic) {
    const jet::Config c = jet::parse_config(jet_test::tiny_config_json().dump());
    auto a = jet::Weights::random(c, 7), b = jet::Weights::random(c, 7), d = jet::Weights::random(c, 8);
    for (const auto &e : jet::Weights::expected(c)) {
        EXPECT_EQ(a->get(e.name).to_f32(), b->get(e.name).to_f32()) << e.name;
        EXPECT_EQ(a->get(e.name).shape, e.shape);
    }
    EXPECT_NE(a->get("model.embed_tokens.weight").to_f32(), d->get("model.embed_tokens.weight").to_f32());
    EXPECT_EQ(a->n_params(), b->n_params());
}

}  // namespace
