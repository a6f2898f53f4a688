// config_api_test.cpp - jet_config_*: a config.json text's info, layer types and cache bytes
// agree with a model built from it, and bad text fails exactly as jet_model_load does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "jet.h"
#include "test_util.h"

namespace {

using nlohmann::json;
using jet_test::ModelPtr;

constexpr int64_t kMiB = 1024 * 1024;

jet_model_info config_info(const json &cfg) {
    jet_model_info i{};
    i.size = sizeof(i);
    EXPECT_EQ(jet_config_get_info(cfg.dump().c_str(), &i), JET_OK) << jet_last_error();
    return i;
}

jet_cache_breakdown config_cache(const json &cfg, int32_t device, int64_t n_ctx) {
    jet_cache_breakdown b{};
    b.size = sizeof(b);
    EXPECT_EQ(jet_config_cache_bytes(cfg.dump().c_str(), device, n_ctx, &b), JET_OK)
        << jet_last_error();
    return b;
}

void random_model(const json &cfg, ModelPtr &m) {
    ASSERT_EQ(jet_model_create_random(cfg.dump().c_str(), 7, nullptr, &m.p), JET_OK)
        << jet_last_error();
}

// The message after the "jet_xxx: " prefix of the last error.
std::string last_error_body() {
    const std::string e = jet_last_error();
    const size_t colon = e.find(": ");
    return colon == std::string::npos ? e : e.substr(colon + 2);
}

TEST(ConfigApi, InfoEqualsTheInfoOfAModelOfThatConfig) {
    const json cfg = jet_test::tiny_config_json();
    ModelPtr m;
    random_model(cfg, m);
    jet_model_info want{};
    want.size = sizeof(want);
    ASSERT_EQ(jet_model_get_info(m.p, &want), JET_OK);
    const jet_model_info got = config_info(cfg);
    EXPECT_EQ(got.n_params, want.n_params);
    EXPECT_EQ(got.weight_bytes, got.n_params * 2);  // bf16
    EXPECT_EQ(got.device, JET_DEVICE_CPU);
    // Every other field as the model reports it.
    jet_model_info a = got, b = want;
    a.weight_bytes = b.weight_bytes = 0;
    EXPECT_EQ(0, std::memcmp(&a, &b, sizeof(a)));
}

TEST(ConfigApi, InfoOfThe2B) {
    const jet_model_info i = config_info(jet_test::config_2b_json());
    // Counted by hand: embedding 151936 x 1536 (tied) + final norm + 28 MLPs and norms
    // + 4 attention layers + 24 JetBlocks of 12 x 96/256.
    EXPECT_EQ(i.n_params, 233'373'696LL + 1536 + 28 * 41'290'752LL + 4 * 5'507'072LL +
                              24 * 23'052'568LL);
    EXPECT_EQ(i.n_params, 1'964'806'208LL);
    EXPECT_EQ(i.n_jet_layers, 24);
    EXPECT_EQ(i.n_attn_layers, 2);
    EXPECT_EQ(i.n_swa_layers, 2);
    EXPECT_EQ(i.jet_head_k_dim, 96);
    EXPECT_EQ(i.jet_head_v_dim, 256);
    EXPECT_EQ(i.jet_num_heads, 12);
    EXPECT_EQ(i.head_dim, 128);
    EXPECT_EQ(i.swa_window, 1152);
}

TEST(ConfigApi, InfoCopiesOnlyWhatAnOlderStructHolds) {
    jet_model_info i{};
    i.size = offsetof(jet_model_info, hidden_size);  // size, device, vocab_size
    i.hidden_size = -5;
    ASSERT_EQ(jet_config_get_info(jet_test::tiny_config_json().dump().c_str(), &i), JET_OK);
    EXPECT_EQ(i.vocab_size, 64);
    EXPECT_EQ(i.hidden_size, -5);
}

TEST(ConfigApi, LayerTypes) {
    const std::string text = jet_test::tiny_config_json().dump();  // jet, attn, swa, jet
    const int32_t want[] = {JET_LAYER_JET, JET_LAYER_ATTN, JET_LAYER_SWA, JET_LAYER_JET};
    for (int32_t l = 0; l < 4; ++l) {
        int32_t t = -1;
        ASSERT_EQ(jet_config_layer_type(text.c_str(), l, &t), JET_OK) << jet_last_error();
        EXPECT_EQ(t, want[l]) << "layer " << l;
    }
    int32_t t = -1;
    EXPECT_EQ(jet_config_layer_type(text.c_str(), 4, &t), JET_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(jet_last_error(), "jet_config_layer_type: layer 4 is out of range [0, 4)");
    EXPECT_EQ(jet_config_layer_type(text.c_str(), -1, &t), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_config_layer_type(text.c_str(), 0, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t, -1);
}

TEST(ConfigApi, CpuCacheEqualsWhatAModelAllocates) {
    const json cfg = jet_test::tiny_config_json();  // swa window 8
    ModelPtr m;
    random_model(cfg, m);
    for (int64_t n_ctx : {1, 7, 8, 9, 100, 512}) {
        const jet_cache_breakdown b = config_cache(cfg, JET_DEVICE_CPU, n_ctx);
        int64_t want = 0;
        ASSERT_EQ(jet_model_cache_bytes(m.p, n_ctx, &want), JET_OK);
        EXPECT_EQ(b.total, want) << "n_ctx " << n_ctx;
        EXPECT_EQ(b.total, b.attn_kv + b.swa_kv + b.jet_state + b.jet_conv);
        EXPECT_EQ(b.n_ctx, n_ctx);
        EXPECT_EQ(b.device, JET_DEVICE_CPU);
        // one attn layer: K and V of 2 heads x 8 dims in float32 per token
        EXPECT_EQ(b.per_token, 2 * 2 * 8 * 4);
        EXPECT_EQ(b.attn_kv, b.per_token * n_ctx);
        EXPECT_EQ(b.swa_kv, std::min<int64_t>(n_ctx, 8) * 2 * 2 * 8 * 4);
        EXPECT_EQ(b.jet_state, 2 * (2 * 8 * 16) * 4);  // 2 layers x H x dK x dV
        EXPECT_EQ(b.jet_conv, 2 * (2 * 16 * 4) * 4);   // 2 layers x H*dV x W
    }
    // A session of that model reports the same total and per-token bytes.
    jet_session_params sp{};
    jet_session_default_params(&sp);
    sp.n_ctx = 100;
    jet_test::SessionPtr s;
    ASSERT_EQ(jet_session_create(m.p, &sp, &s.p), JET_OK) << jet_last_error();
    int64_t total = 0, per_token = 0;
    ASSERT_EQ(jet_session_cache_bytes(s.p, &total, &per_token), JET_OK);
    const jet_cache_breakdown b = config_cache(cfg, JET_DEVICE_CPU, 100);
    EXPECT_EQ(total, b.total);
    EXPECT_EQ(per_token, b.per_token);
}

TEST(ConfigApi, CudaCacheOfThe2BAt64K) {
    // Needs no GPU: the CUDA engine's layout is bf16 K/V and float32 JetBlock states.
    const jet_cache_breakdown b = config_cache(jet_test::config_2b_json(), JET_DEVICE_CUDA, 65536);
    EXPECT_EQ(b.attn_kv, 128 * kMiB);          // 2 x 65536 x (K+V) x 2 heads x 128 x 2 B
    EXPECT_EQ(b.swa_kv, 2 * 1152 * 1024LL);    // 2 x 1152 rows x 1 KiB
    EXPECT_EQ(b.jet_state, 27 * kMiB);         // 24 x 12 x 96 x 256 x 4 B
    EXPECT_EQ(b.jet_conv, 24 * 3072 * 4 * 4LL); // 24 x value dim 3072 x W 4 x 4 B
    EXPECT_EQ(b.total, 166'068'224LL);          // 158.375 MiB
    EXPECT_EQ(b.per_token, 2 * 2 * 2 * 128 * 2LL);
    EXPECT_EQ(b.device, JET_DEVICE_CUDA);
    // The CPU keeps K/V in float32: twice the KV, the same states.
    const jet_cache_breakdown c = config_cache(jet_test::config_2b_json(), JET_DEVICE_CPU, 65536);
    EXPECT_EQ(c.attn_kv, 2 * b.attn_kv);
    EXPECT_EQ(c.swa_kv, 2 * b.swa_kv);
    EXPECT_EQ(c.jet_state, b.jet_state);
    EXPECT_EQ(c.jet_conv, b.jet_conv);
}

TEST(ConfigApi, CacheArgumentsAreChecked) {
    const std::string text = jet_test::tiny_config_json().dump();
    jet_cache_breakdown b{};
    b.size = sizeof(b);
    EXPECT_EQ(jet_config_cache_bytes(text.c_str(), 2, 16, &b), JET_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(jet_last_error(), "jet_config_cache_bytes: device 2 is not a jet_device");
    EXPECT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, 0, &b), JET_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(jet_last_error(), "jet_config_cache_bytes: n_ctx must be in [1, 2^31)");
    EXPECT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, int64_t(1) << 31, &b),
              JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, 16, nullptr),
              JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b.total, 0);  // untouched on failure
    b.size = 0;
    EXPECT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, 16, &b), JET_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(jet_last_error(), "jet_config_cache_bytes: jet_cache_breakdown.size is not set");
    // An older, smaller struct gets the fields it has.
    b = jet_cache_breakdown{};
    b.size = offsetof(jet_cache_breakdown, swa_kv);
    b.swa_kv = -3;
    ASSERT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, 16, &b), JET_OK);
    EXPECT_EQ(b.attn_kv, 16 * 2 * 2 * 8 * 4);
    EXPECT_EQ(b.swa_kv, -3);
}

// Bad config text: every jet_config_* call fails as jet_model_load does on that config.json,
// with the same status and message.
TEST(ConfigApi, BadConfigsFailAsTheLoaderDoes) {
    std::vector<std::string> bad;
    json j = jet_test::tiny_config_json();
    j["hidden_size"] = 32.0;  // a float where the engine wants an integer
    bad.push_back(j.dump());
    j = jet_test::tiny_config_json();
    j["model_type"] = "llama";
    bad.push_back(j.dump());
    j = jet_test::tiny_config_json();
    j["layer_types"][1] = "mamba";
    bad.push_back(j.dump());
    j = jet_test::tiny_config_json();
    j["efficient_attention_config"]["jet"]["expand_v"] = 2.01;
    bad.push_back(j.dump());
    bad.push_back("{not json");
    bad.push_back("[1, 2]");
    bad.push_back("");
    for (const std::string &text : bad) {
        SCOPED_TRACE(text);
        jet_test::TempDir dir;
        dir.write("config.json", text);
        ModelPtr m;
        const jet_status want = jet_model_load(dir.path().c_str(), nullptr, &m.p);
        ASSERT_NE(want, JET_OK);
        const std::string want_msg = last_error_body();

        jet_model_info i{};
        i.size = sizeof(i);
        EXPECT_EQ(jet_config_get_info(text.c_str(), &i), want);
        EXPECT_EQ(last_error_body(), want_msg);
        EXPECT_EQ(i.n_params, 0);
        int32_t t = -1;
        EXPECT_EQ(jet_config_layer_type(text.c_str(), 0, &t), want);
        EXPECT_EQ(last_error_body(), want_msg);
        jet_cache_breakdown b{};
        b.size = sizeof(b);
        EXPECT_EQ(jet_config_cache_bytes(text.c_str(), JET_DEVICE_CPU, 16, &b), want);
        EXPECT_EQ(last_error_body(), want_msg);
    }
    jet_model_info i{};
    i.size = sizeof(i);
    EXPECT_EQ(jet_config_get_info(nullptr, &i), JET_ERR_INVALID_ARGUMENT);
    EXPECT_STREQ(jet_last_error(), "jet_config_get_info: config_json is NULL");
    EXPECT_EQ(jet_config_get_info(jet_test::tiny_config_json().dump().c_str(), nullptr),
              JET_ERR_INVALID_ARGUMENT);
}

TEST(ConfigApi, HiddenSize128Point0IsAFormatError) {
    json j = jet_test::tiny_config_json();
    j["hidden_size"] = 128.0;
    jet_model_info i{};
    i.size = sizeof(i);
    EXPECT_EQ(jet_config_get_info(j.dump().c_str(), &i), JET_ERR_FORMAT);
    EXPECT_NE(std::string(jet_last_error()).find("hidden_size"), std::string::npos)
        << jet_last_error();
}

}  // namespace
