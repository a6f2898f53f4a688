// model_golden_test.cpp - the CPU forward pass against goldens written by the official PyTorch
// code: logits, every layer's hidden state, the final norm, and greedy decoding with the cache.
// Models: ../shared/fixtures/tiny-jet-a, every folder under tests/fixtures/ that holds
// config.json, model.safetensors and a golden.safetensors with the same keys, and every
// tests/fixtures/X/golden.safetensors whose model is models/X (e.g. jetnative-demo).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cpu_backend.h"
#include "safetensors.h"
#include "test_util.h"
#include "weights.h"

namespace {

struct Err {
    double max_abs = 0, ref_max = 0;
    double rel() const { return ref_max > 0 ? max_abs / ref_max : max_abs; }
};

Err compare(const float *got, const std::vector<float> &want) {
    Err e;
    for (size_t i = 0; i < want.size(); ++i) {
        e.max_abs = std::max(e.max_abs, double(std::fabs(got[i] - want[i])));
        e.ref_max = std::max(e.ref_max, double(std::fabs(want[i])));
    }
    return e;
}

int argmax(const float *x, int n) { return int(std::max_element(x, x + n) - x); }

std::vector<int32_t> ids(const jet::TensorView &t) {
    std::vector<int32_t> out;
    for (float f : t.to_f32()) out.push_back(int32_t(f));
    return out;
}

bool exists(const std::string &p) {
    std::error_code ec;
    return std::filesystem::exists(jet_test::fs_path(p), ec);
}

// A checkpoint folder and the goldens written for it.
struct Case {
    std::string model, golden;
};

// The shared tiny-jet-a and the committed ones.
std::vector<Case> golden_cases() {
    std::vector<Case> out;
    const std::string t = jet_test::tiny_model_dir();
    if (!t.empty()) out.push_back({t, t + "/golden.safetensors"});
    const std::string fixtures = JET_TEST_FIXTURES_DIR;
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto &e : std::filesystem::directory_iterator(jet_test::fs_path(fixtures), ec))
        names.push_back(e.path().filename().u8string());
    std::sort(names.begin(), names.end());
    for (const std::string &name : names) {
        if (name[0] == '.') continue;
        const std::string sub = fixtures + "/" + name;
        const std::string golden = sub + "/golden.safetensors";
        const std::string model = fixtures + "/../../models/" + name;
        if (!exists(golden)) continue;
        if (exists(sub + "/config.json") && exists(sub + "/model.safetensors"))
            out.push_back({sub, golden});
        else if (exists(model + "/config.json") && exists(model + "/model.safetensors"))
            out.push_back({model, golden});
    }
    return out;
}

class Golden : public ::testing::Test {
protected:
    void SetUp() override {
        dirs_ = golden_cases();
        if (dirs_.empty())
            GTEST_SKIP() << "no model with goldens: ../shared (JET_SHARED_DIR) is absent and "
                            "tests/fixtures holds none";
    }
    void open(const Case &c) {
        dir_ = c.model;
        golden_ = jet::SafetensorsFile::open(c.golden);
    }
    int n_sequences() const {
        int n = 0;
        while (golden_->has("input_ids." + std::to_string(n))) ++n;
        return n;
    }
    std::vector<Case> dirs_;
    std::string dir_;
    std::shared_ptr<jet::SafetensorsFile> golden_;
};

TEST_F(Golden, PrefillLogitsAndHiddenStatesMatch) {
    for (const Case &c : dirs_) {
        SCOPED_TRACE(c.golden);
        open(c);
        std::printf("%s\n", c.golden.c_str());
        const jet::Config cfg = jet::parse_config(jet_test::read_bytes(dir_ + "/config.json"));
        auto w = jet::Weights::load(dir_, cfg, nullptr, nullptr);
        jet::CpuBackend backend(cfg, w, 0);
        ASSERT_GT(n_sequences(), 0);
        for (int s = 0; s < n_sequences(); ++s) {
            const std::string si = std::to_string(s);
            const std::vector<int32_t> tokens = ids(golden_->get("input_ids." + si));
            const int T = int(tokens.size());
            std::vector<std::vector<float>> stages(cfg.num_layers + 2);
            backend.on_hidden = [&](int stage, const float *x, int rows, int d) {
                stages[stage].assign(x, x + size_t(rows) * d);
            };
            auto cache = backend.create_cache(1, cfg.max_position_embeddings);
            std::vector<float> logits(size_t(T) * cfg.vocab_size);
            backend.prefill(*cache, 0, tokens.data(), T, logits.data(), true);
            backend.on_hidden = nullptr;
            EXPECT_EQ(cache->pos[0], T);

            for (int l = 0; l <= cfg.num_layers; ++l) {
                const std::string key = "hidden." + si + "." + std::to_string(l);
                if (!golden_->has(key)) continue;
                const auto want = golden_->get("hidden." + si + "." + std::to_string(l)).to_f32();
                ASSERT_EQ(stages[l].size(), want.size());
                const Err e = compare(stages[l].data(), want);
                std::printf("seq %d hidden %d: max abs err %.3g (max |ref| %.3g, rel %.3g)\n", s, l,
                            e.max_abs, e.ref_max, e.rel());
                EXPECT_LE(e.rel(), 1e-4) << "hidden." << s << "." << l;
            }
            if (golden_->has("final_norm." + si)) {
                const auto fn = golden_->get("final_norm." + si).to_f32();
                const Err ef = compare(stages[cfg.num_layers + 1].data(), fn);
                std::printf("seq %d final_norm: max abs err %.3g (rel %.3g)\n", s, ef.max_abs,
                            ef.rel());
                EXPECT_LE(ef.rel(), 1e-4);
            }

            const auto want = golden_->get("logits." + si).to_f32();
            const Err el = compare(logits.data(), want);
            std::printf("seq %d logits: max abs err %.3g, max |logit| %.3g, rel %.3g\n", s,
                        el.max_abs, el.ref_max, el.rel());
            EXPECT_LE(el.max_abs, 1e-4 * el.ref_max);
        }
    }
}

TEST_F(Golden, GreedyDecodeMatches) {
    for (const Case &c : dirs_) {
        SCOPED_TRACE(c.golden);
        open(c);
        jet_test::ModelPtr m;
        ASSERT_EQ(jet_model_load(dir_.c_str(), nullptr, &m.p), JET_OK) << jet_last_error();
        jet_model_info info{};
        info.size = sizeof info;
        ASSERT_EQ(jet_model_get_info(m.p, &info), JET_OK);
        const int V = info.vocab_size;
        for (int s = 0; s < n_sequences(); ++s) {
            const std::string si = std::to_string(s);
            if (!golden_->has("decode_ids." + si)) continue;
            const std::vector<int32_t> prompt = ids(golden_->get("input_ids." + si));
            const std::vector<int32_t> want_ids = ids(golden_->get("decode_ids." + si));
            const auto want_logits = golden_->get("decode_logits." + si).to_f32();
            jet_test::SessionPtr sess;
            ASSERT_EQ(jet_session_create(m.p, nullptr, &sess.p), JET_OK) << jet_last_error();
            std::vector<float> logits(V);
            ASSERT_EQ(jet_session_prefill(sess.p, 0, prompt.data(), int32_t(prompt.size()),
                                          JET_LOGITS_LAST, logits.data(), nullptr),
                      JET_OK)
                << jet_last_error();
            EXPECT_EQ(argmax(logits.data(), V), want_ids[0]);
            double worst = 0, ref = 0;
            for (size_t step = 0; step < want_ids.size(); ++step) {
                const int32_t seq = 0, tok = want_ids[step];
                ASSERT_EQ(jet_session_decode(sess.p, 1, &seq, &tok, logits.data(), nullptr), JET_OK)
                    << jet_last_error();
                std::vector<float> w(want_logits.begin() + long(step) * V,
                                     want_logits.begin() + long(step + 1) * V);
                const Err e = compare(logits.data(), w);
                worst = std::max(worst, e.max_abs);
                ref = std::max(ref, e.ref_max);
                EXPECT_LE(e.max_abs, 1e-4 * e.ref_max) << "decode step " << step;
                if (step + 1 < want_ids.size()) {
                    EXPECT_EQ(argmax(logits.data(), V), want_ids[step + 1]);
                }
            }
            std::printf(
                "seq %d decode logits: max abs err %.3g over %zu steps (max |logit| %.3g)\n", s,
                worst, want_ids.size(), ref);

            // The same continuation sampled in the engine (greedy: no sampler set), the loop
            // of a generation: prefill, sample, then decode_sample with the token it gave.
            ASSERT_EQ(jet_session_reset(sess.p, 0), JET_OK);
            ASSERT_EQ(jet_session_prefill(sess.p, 0, prompt.data(), int32_t(prompt.size()),
                                          JET_LOGITS_NONE, nullptr, nullptr),
                      JET_OK)
                << jet_last_error();
            std::vector<int32_t> got(1);
            const int32_t seq = 0;
            ASSERT_EQ(jet_session_sample(sess.p, 1, &seq, &got[0], nullptr), JET_OK) << jet_last_error();
            while (got.size() < want_ids.size()) {
                int32_t next = -1;
                ASSERT_EQ(jet_session_decode_sample(sess.p, 1, &seq, &got.back(), &next, nullptr, nullptr),
                          JET_OK)
                    << jet_last_error();
                got.push_back(next);
            }
            EXPECT_EQ(got, want_ids);
        }
    }
}

}  // namespace
