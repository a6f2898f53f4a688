// config_test.cpp - parse_config accepts the spec's configs and names every bad field.
#include "config.h"

#include <gtest/gtest.h>

#include "error.h"
#include "test_util.h"

namespace {

using nlohmann::json;

// Expects parse_config to throw `status` with a message that contains `needle`.
void expect_error(const json &cfg, const std::string &needle, jet_status status = JET_ERR_FORMAT) {
    try {
        jet::parse_config(cfg.dump());
        ADD_FAILURE() << "accepted a bad config; expected an error naming " << needle;
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "message '" << e.what() << "' does not name '" << needle << "'";
    }
}

TEST(Config, ParsesTheSpec2BConfig) {
    const jet::Config c = jet::parse_config(jet_test::config_2b_json().dump());
    EXPECT_EQ(c.hidden_size, 1536);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.jet_head_v_dim, 256);
    EXPECT_EQ(c.jet_key_dim(), 1152);
    EXPECT_EQ(c.jet_value_dim(), 3072);
    EXPECT_EQ(c.jet_gen_hidden, 384);
    EXPECT_EQ(c.swa_window, 1152);
    EXPECT_EQ(c.count(JET_LAYER_JET), 24);
    EXPECT_EQ(c.count(JET_LAYER_ATTN), 2);
    EXPECT_EQ(c.count(JET_LAYER_SWA), 2);
    EXPECT_EQ(c.layer_types[14], JET_LAYER_ATTN);
    EXPECT_FLOAT_EQ(c.jet_norm_eps, 1e-5f);
    EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
    EXPECT_TRUE(c.tie_word_embeddings);
}

TEST(Config, ParsesTinyJetA) {
    JET_REQUIRE_SHARED();
    const jet::Config c = jet::parse_config(
        jet_test::read_bytes(jet_test::tiny_model_dir() + "/config.json"));
    EXPECT_EQ(c.vocab_size, 1024);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.jet_head_v_dim, 64);
    EXPECT_EQ(c.jet_gen_hidden, 32);
    EXPECT_EQ(c.swa_window, 32);
    EXPECT_EQ(c.bos_token_id, 1);
    EXPECT_EQ(c.eos_token_id, 2);
}

TEST(Config, RejectsNonJson) {
    try {
        jet::parse_config("{not json");
        ADD_FAILURE();
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_FORMAT);
        EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
    }
    expect_error(json::array(), "top level");
}

TEST(Config, RejectsUnknownModelType) {
    json j = jet_test::tiny_config_json();
    j["model_type"] = "qwen2";
    expect_error(j, "model_type");
}

// Every required field: missing, and with a wrong value.
TEST(Config, NamesEveryMissingField) {
    const std::vector<std::string> top = {"model_type", "vocab_size", "hidden_size",
                                          "num_hidden_layers", "intermediate_size",
                                          "rms_norm_eps", "max_position_embeddings",
                                          "layer_types", "num_attention_heads",
                                          "num_key_value_heads", "rope_theta",
                                          "efficient_attention_config"};
    for (const std::string &f : top) {
        json j = jet_test::tiny_config_json();
        j.erase(f);
        SCOPED_TRACE(f);
        expect_error(j, f);
    }
    const std::vector<std::string> jet = {"num_heads", "head_dim", "expand_v", "conv_size",
                                          "dconv_generator_reduction", "norm_eps"};
    for (const std::string &f : jet) {
        json j = jet_test::tiny_config_json();
        j["efficient_attention_config"]["jet"].erase(f);
        SCOPED_TRACE(f);
        expect_error(j, "efficient_attention_config.jet." + f);
    }
    json j = jet_test::tiny_config_json();
    j["efficient_attention_config"]["swa"].erase("window_size");
    expect_error(j, "efficient_attention_config.swa.window_size");
    j = jet_test::tiny_config_json();
    j["efficient_attention_config"].erase("jet");
    expect_error(j, "efficient_attention_config.jet");
}

TEST(Config, NamesEveryInvalidField) {
    struct Case {
        std::string field;
        json value;
    };
    const std::vector<Case> cases = {
        {"vocab_size", 0},          {"vocab_size", -3},          {"vocab_size", "64"},
        {"hidden_size", 32.5},      {"num_hidden_layers", 3},    {"intermediate_size", -1},
        {"rms_norm_eps", 0},        {"rms_norm_eps", "x"},       {"max_position_embeddings", 0},
        {"num_attention_heads", 5}, {"num_key_value_heads", 3},  {"rope_theta", -1},
        {"layer_types", "jet"},     {"tie_word_embeddings", 1},  {"hidden_act", "gelu"},
        {"bos_token_id", -5},       {"vocab_size", 1e20},        {"hidden_size", 4294967296LL},
    };
    for (const Case &c : cases) {
        json j = jet_test::tiny_config_json();
        j[c.field] = c.value;
        SCOPED_TRACE(c.field + " = " + c.value.dump());
        expect_error(j, c.field);
    }
    json j = jet_test::tiny_config_json();
    j["layer_types"][2] = "mamba";
    expect_error(j, "layer_types[2]");
    j = jet_test::tiny_config_json();
    j["rope_scaling"] = {{"type", "yarn"}};
    expect_error(j, "rope_scaling", JET_ERR_UNSUPPORTED);
    const std::vector<Case> jet = {{"num_heads", 0},   {"head_dim", -8},
                                   {"expand_v", 1.3},  {"expand_v", 0},
                                   {"conv_size", 0},   {"dconv_generator_reduction", 7},
                                   {"norm_eps", "1e-5x"}, {"norm_eps", "-1"},
                                   {"mode", "parallel"}};
    for (const Case &c : jet) {
        json jj = jet_test::tiny_config_json();
        jj["efficient_attention_config"]["jet"][c.field] = c.value;
        SCOPED_TRACE(c.field + " = " + c.value.dump());
        expect_error(jj, "efficient_attention_config.jet." + c.field);
    }
    j = jet_test::tiny_config_json();
    j["efficient_attention_config"]["swa"]["window_size"] = 0;
    expect_error(j, "efficient_attention_config.swa.window_size");
}

TEST(Config, OptionalFieldsDefault) {
    json j = jet_test::tiny_config_json();
    j.erase("bos_token_id");
    j.erase("eos_token_id");
    j.erase("tie_word_embeddings");
    j["efficient_attention_config"].erase("swa");
    j["layer_types"] = {"jet", "attn", "attn", "jet"};
    const jet::Config c = jet::parse_config(j.dump());
    EXPECT_EQ(c.bos_token_id, -1);
    EXPECT_EQ(c.eos_token_id, -1);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.swa_window, 0);
    EXPECT_EQ(c.count(JET_LAYER_SWA), 0);
}

}  // namespace
