// api_test.cpp - the C ABI's conventions: versions, status names, thread-local errors, NULL
// handles and arguments everywhere, params sizes, log callback, devices.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "config.h"
#include "test_util.h"
#include "weights.h"

namespace {

using jet_test::ModelPtr;

std::string tiny() { return jet_test::tiny_config_json().dump(); }

TEST(Api, Versions) {
    EXPECT_EQ(jet_api_version(), uint32_t(JET_API_VERSION));
    const std::string v = jet_version_string();
    EXPECT_EQ(v.rfind(JET_VERSION_STRING, 0), 0u) << v;
    EXPECT_EQ(jet_cuda_device_count() >= 0, true);
}

TEST(Api, StatusNames) {
    EXPECT_STREQ(jet_status_name(JET_OK), "JET_OK");
    EXPECT_STREQ(jet_status_name(JET_ERR_FORMAT), "JET_ERR_FORMAT");
    EXPECT_STREQ(jet_status_name(JET_ERR_INTERNAL), "JET_ERR_INTERNAL");
    EXPECT_STREQ(jet_status_name(static_cast<jet_status>(99)), "JET_ERR_UNKNOWN");
}

TEST(Api, LastErrorIsPerThread) {
    jet_model *m = nullptr;
    EXPECT_EQ(jet_model_load(nullptr, nullptr, &m), JET_ERR_INVALID_ARGUMENT);
    const std::string mine = jet_last_error();
    EXPECT_NE(mine.find("folder is NULL"), std::string::npos) << mine;
    std::string other = "unset";
    std::thread([&] { other = jet_last_error(); }).join();
    EXPECT_EQ(other, "");
    // A successful call leaves the message alone.
    jet_model_params p;
    jet_model_default_params(&p);
    EXPECT_EQ(jet_last_error(), mine);
}

TEST(Api, NullHandlesAndArguments) {
    ModelPtr m;
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 1, nullptr, &m.p), JET_OK) << jet_last_error();
    jet_session *s = nullptr;
    ASSERT_EQ(jet_session_create(m.p, nullptr, &s), JET_OK);
    jet_model *mo = nullptr;
    jet_session *so = nullptr;
    jet_sampler *sa = nullptr;
    jet_model_info info{};
    info.size = sizeof info;
    int32_t i32 = 0;
    int64_t i64 = 0;
    float f = 0;
    const int32_t tok = 1, seq = 0;
    EXPECT_EQ(jet_model_create_random(nullptr, 1, nullptr, &mo), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_create_random(tiny().c_str(), 1, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_load("/nonexistent", nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_get_info(nullptr, &info), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_get_info(m.p, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_layer_type(nullptr, 0, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_layer_type(m.p, 0, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_layer_type(m.p, 4, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_cache_bytes(nullptr, 10, &i64), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_model_cache_bytes(m.p, 10, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_create(nullptr, nullptr, &so), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_create(m.p, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_fork(nullptr, &so), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_fork(s, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_reset(nullptr, -1), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_copy_seq(nullptr, 0, 0), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_position(nullptr, 0, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_position(s, 0, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_cache_bytes(nullptr, &i64, &i64), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_cache_bytes(s, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(nullptr, 0, &tok, 1, JET_LOGITS_NONE, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode(nullptr, 1, &seq, &tok, &f, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode(s, 1, nullptr, &tok, &f, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode(s, 1, &seq, nullptr, &f, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode(s, 1, &seq, &tok, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode(s, 0, &seq, &tok, &f, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_set_sampler(nullptr, 0, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_sample(nullptr, 1, &seq, &i32, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_sample(s, 1, &seq, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode_sample(nullptr, 1, &seq, &tok, &i32, nullptr, nullptr),
              JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode_sample(s, 1, &seq, nullptr, &i32, nullptr, nullptr),
              JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_decode_sample(s, 1, &seq, &tok, nullptr, nullptr, nullptr),
              JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("out_tokens is NULL"), std::string::npos);
    jet_run_default_options(nullptr);
    EXPECT_EQ(jet_sampler_create(nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_sampler_sample(nullptr, &f, 1, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_sampler_accept(nullptr, 1), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_sampler_reset(nullptr), JET_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(jet_sampler_create(nullptr, &sa), JET_OK);
    EXPECT_EQ(jet_sampler_sample(sa, nullptr, 1, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_sampler_sample(sa, &f, 0, &i32), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_sampler_sample(sa, &f, 1, nullptr), JET_ERR_INVALID_ARGUMENT);
    // Freeing NULL is a no-op.
    jet_model_free(nullptr);
    jet_session_free(nullptr);
    jet_sampler_free(nullptr);
    jet_sampler_free(sa);
    jet_session_free(s);
    jet_model_default_params(nullptr);
    jet_session_default_params(nullptr);
    jet_sampler_default_params(nullptr);
}

TEST(Api, ParamsSizes) {
    jet_model_params p;
    jet_model_default_params(&p);
    EXPECT_EQ(p.size, sizeof(jet_model_params));
    EXPECT_EQ(p.device, JET_DEVICE_CPU);
    p.size = 4;  // older than the first version: refused
    jet_model *m = reinterpret_cast<jet_model *>(0x1);
    EXPECT_EQ(jet_model_create_random(tiny().c_str(), 1, &p, &m), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find("jet_model_params.size"), std::string::npos);

    // A newer caller's larger struct is fine: only the known fields are read.
    struct Bigger {
        jet_model_params p;
        char extra[32];
    } big;
    std::memset(&big, 0x7f, sizeof big);
    jet_model_default_params(&big.p);
    big.p.size = sizeof big;
    ModelPtr mp;
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 1, &big.p, &mp.p), JET_OK) << jet_last_error();

    // jet_model_info: a smaller struct gets only its fields.
    jet_model_info full{}, part{};
    full.size = sizeof full;
    ASSERT_EQ(jet_model_get_info(mp.p, &full), JET_OK);
    std::memset(&part, 0x55, sizeof part);
    part.size = offsetof(jet_model_info, hidden_size);
    ASSERT_EQ(jet_model_get_info(mp.p, &part), JET_OK);
    EXPECT_EQ(part.vocab_size, 64);
    EXPECT_EQ(part.hidden_size, 0x55555555);
    EXPECT_EQ(full.hidden_size, 32);
    EXPECT_EQ(full.head_dim, 8);
    EXPECT_EQ(full.n_attn_layers, 1);
    EXPECT_EQ(full.bos_token_id, 1);
    EXPECT_EQ(full.tie_word_embeddings, 1);
    EXPECT_GT(full.n_params, 0);
    // CPU: the (bf16) matrices used in place, the 1-D vectors widened to float32.
    int64_t expect_bytes = 0;
    for (const auto &e : jet::Weights::expected(jet::parse_config(tiny()))) {
        int64_t n = 1;
        for (int64_t d : e.shape) n *= d;
        expect_bytes += n * (e.shape.size() == 2 ? 2 : 4);
    }
    EXPECT_EQ(full.weight_bytes, expect_bytes);

    jet_sampler_params sp;
    jet_sampler_default_params(&sp);
    EXPECT_FLOAT_EQ(sp.temperature, 0.8f);
    EXPECT_EQ(sp.top_k, 40);
    EXPECT_FLOAT_EQ(sp.top_p, 0.95f);
    EXPECT_FLOAT_EQ(sp.min_p, 0.05f);
    EXPECT_FLOAT_EQ(sp.repeat_penalty, 1.0f);
    EXPECT_EQ(sp.repeat_last_n, 64);
    sp.top_p = -1;
    jet_sampler *sa = reinterpret_cast<jet_sampler *>(0x1);
    EXPECT_EQ(jet_sampler_create(&sp, &sa), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(sa, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find("top_p"), std::string::npos);

    jet_model_default_params(&p);
    p.device = 5;
    EXPECT_EQ(jet_model_create_random(tiny().c_str(), 1, &p, &m), JET_ERR_INVALID_ARGUMENT);
    jet_model_default_params(&p);
    p.n_threads = -2;
    EXPECT_EQ(jet_model_create_random(tiny().c_str(), 1, &p, &m), JET_ERR_INVALID_ARGUMENT);
}

TEST(Api, LayerTypes) {
    ModelPtr m;
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 1, nullptr, &m.p), JET_OK);
    const int want[4] = {JET_LAYER_JET, JET_LAYER_ATTN, JET_LAYER_SWA, JET_LAYER_JET};
    for (int i = 0; i < 4; ++i) {
        int32_t t = -1;
        ASSERT_EQ(jet_model_layer_type(m.p, i, &t), JET_OK);
        EXPECT_EQ(t, want[i]);
    }
}

TEST(Api, BadConfigTextNamesTheField) {
    jet_model *m = nullptr;
    auto cfg = jet_test::tiny_config_json();
    cfg["efficient_attention_config"]["jet"]["conv_size"] = -4;
    EXPECT_EQ(jet_model_create_random(cfg.dump().c_str(), 1, nullptr, &m), JET_ERR_FORMAT);
    EXPECT_NE(std::string(jet_last_error()).find("efficient_attention_config.jet.conv_size"),
              std::string::npos);
    EXPECT_EQ(jet_model_create_random("not json", 1, nullptr, &m), JET_ERR_FORMAT);
}

#ifndef JET_HAVE_CUDA
TEST(Api, CudaIsADeviceErrorWithoutCuda) {
    EXPECT_EQ(jet_cuda_device_count(), 0);
    jet_model_params p;
    jet_model_default_params(&p);
    p.device = JET_DEVICE_CUDA;
    jet_model *m = nullptr;
    EXPECT_EQ(jet_model_create_random(tiny().c_str(), 1, &p, &m), JET_ERR_DEVICE);
    EXPECT_NE(std::string(jet_last_error()).find("no CUDA backend"), std::string::npos);
    EXPECT_EQ(m, nullptr);
}
#endif

TEST(Api, LogCallbackAndLoadProgress) {
    jet_test::TempDir dir;
    jet_test::write_checkpoint(dir, jet_test::tiny_config_json());
    std::vector<std::string> lines;
    jet_set_log_callback(
        [](int32_t, const char *msg, void *u) { static_cast<std::vector<std::string> *>(u)->push_back(msg); },
        &lines);
    jet_model_params p;
    jet_model_default_params(&p);
    std::vector<float> progress;
    p.progress = [](float x, void *u) {
        static_cast<std::vector<float> *>(u)->push_back(x);
        return int32_t(1);
    };
    p.progress_user_data = &progress;
    ModelPtr m;
    ASSERT_EQ(jet_model_load(dir.path().c_str(), &p, &m.p), JET_OK) << jet_last_error();
    jet_set_log_callback(nullptr, nullptr);
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines.back().find("loaded"), std::string::npos);
    ASSERT_FALSE(progress.empty());
    EXPECT_FLOAT_EQ(progress.back(), 1.0f);
    // A progress callback that says stop cancels the load.
    p.progress = [](float, void *) { return int32_t(0); };
    jet_model *mm = nullptr;
    EXPECT_EQ(jet_model_load(dir.path().c_str(), &p, &mm), JET_ERR_CANCELLED);
    EXPECT_EQ(mm, nullptr);
}

TEST(Api, RandomModelsAreDeterministic) {
    ModelPtr a, b;
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 9, nullptr, &a.p), JET_OK);
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 9, nullptr, &b.p), JET_OK);
    std::vector<float> la(64), lb(64);
    for (jet_model *m : {a.p, b.p}) {
        jet_session *s = nullptr;
        ASSERT_EQ(jet_session_create(m, nullptr, &s), JET_OK);
        const int32_t toks[3] = {3, 1, 4};
        ASSERT_EQ(jet_session_prefill(s, 0, toks, 3, JET_LOGITS_LAST, m == a.p ? la.data() : lb.data(), nullptr), JET_OK);
        jet_session_free(s);
    }
    EXPECT_EQ(la, lb);
}

TEST(Api, SessionKeepsModelAlive) {
    jet_model *m = nullptr;
    ASSERT_EQ(jet_model_create_random(tiny().c_str(), 1, nullptr, &m), JET_OK);
    jet_session *s = nullptr;
    ASSERT_EQ(jet_session_create(m, nullptr, &s), JET_OK);
    jet_model_free(m);
    const int32_t toks[2] = {5, 6};
    std::vector<float> l(64);
    EXPECT_EQ(jet_session_prefill(s, 0, toks, 2, JET_LOGITS_LAST, l.data(), nullptr), JET_OK);
    jet_session_free(s);
}

// The 2B config of the spec (~2 billion random bf16 parameters: ~4 GB). Opt-in.
TEST(Api, CreateRandom2B) {
    if (!std::getenv("JET_TEST_2B")) GTEST_SKIP() << "set JET_TEST_2B=1 to build the 2B random model (~4 GB RAM)";
    const auto j = jet_test::config_2b_json();
    ModelPtr m;
    jet_model_params p;
    jet_model_default_params(&p);
    ASSERT_EQ(jet_model_create_random(j.dump().c_str(), 1, &p, &m.p), JET_OK) << jet_last_error();
    jet_model_info info{};
    info.size = sizeof info;
    ASSERT_EQ(jet_model_get_info(m.p, &info), JET_OK);
    EXPECT_GT(info.n_params, 1900000000);
    jet_session_params sp;
    jet_session_default_params(&sp);
    sp.n_ctx = 256;
    jet_test::SessionPtr s;
    ASSERT_EQ(jet_session_create(m.p, &sp, &s.p), JET_OK);
    const int32_t toks[4] = {100, 200, 300, 400};
    std::vector<float> l(151936);
    ASSERT_EQ(jet_session_prefill(s.p, 0, toks, 4, JET_LOGITS_LAST, l.data(), nullptr), JET_OK);
    for (float x : l) ASSERT_TRUE(std::isfinite(x));
}

}  // namespace
