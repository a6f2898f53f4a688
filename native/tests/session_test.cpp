// session_test.cpp - sessions and their cache on a random tiny model (needs no ../shared):
// chunked prefill = token-by-token decode, batch = alone, fork = replay, reset, copy_seq,
// cache sizes, context limits, run options (progress, abort), sampling in the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>

#include "test_util.h"

namespace {

using jet_test::ModelPtr;
using jet_test::SessionPtr;

constexpr int kVocab = 64;

class Session : public ::testing::Test {
protected:
    void SetUp() override {
        jet_model_params p;
        jet_model_default_params(&p);
        p.n_threads = 2;
        ASSERT_EQ(jet_model_create_random(jet_test::tiny_config_json().dump().c_str(), 42, &p,
                                          &model_.p),
                  JET_OK)
            << jet_last_error();
    }
    SessionPtr make(int n_seq = 1, int n_ctx = 0, int chunk = 0) {
        jet_session_params sp;
        jet_session_default_params(&sp);
        sp.n_seq = n_seq;
        sp.n_ctx = n_ctx;
        sp.prefill_chunk = chunk;
        SessionPtr s;
        EXPECT_EQ(jet_session_create(model_.p, &sp, &s.p), JET_OK) << jet_last_error();
        return s;
    }
    static std::vector<int32_t> tokens(int n, unsigned seed) {
        std::mt19937 rng(seed);
        std::vector<int32_t> t(static_cast<size_t>(n));
        for (auto &x : t) x = int32_t(rng() % kVocab);
        return t;
    }
    ModelPtr model_;
};

double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

double max_abs(const std::vector<float> &a) {
    double m = 0;
    for (float x : a) m = std::max(m, double(std::fabs(x)));
    return m;
}

// SessionPtr is not copyable; move it out of make().
TEST_F(Session, ChunkedPrefillEqualsTokenByTokenDecode) {
    const int T = 150;  // > 64 (chunked gated delta) and > the swa window (8)
    const auto toks = tokens(T, 1);
    std::vector<float> ref(size_t(T) * kVocab);
    {
        auto s = make(1, 0, 512);
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), T, JET_LOGITS_ALL, ref.data(), nullptr), JET_OK)
            << jet_last_error();
    }
    const double tol = 1e-4 * max_abs(ref);
    for (int chunk : {1, 7, 64, 65, 512}) {
        auto s = make(1, 0, chunk);
        std::vector<float> got(size_t(T) * kVocab);
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), T, JET_LOGITS_ALL, got.data(), nullptr), JET_OK);
        EXPECT_LE(max_abs_diff(got.data(), ref.data(), got.size()), tol) << "chunk " << chunk;
        int32_t pos = -1;
        ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
        EXPECT_EQ(pos, T);
    }
    // Token by token through decode.
    auto s = make();
    std::vector<float> got(kVocab);
    double worst = 0;
    for (int t = 0; t < T; ++t) {
        const int32_t seq = 0;
        ASSERT_EQ(jet_session_decode(s.p, 1, &seq, &toks[size_t(t)], got.data(), nullptr), JET_OK);
        worst = std::max(worst, max_abs_diff(got.data(), &ref[size_t(t) * kVocab], kVocab));
    }
    EXPECT_LE(worst, tol);
    // LAST mode returns the last row of ALL.
    auto s2 = make(1, 0, 40);
    ASSERT_EQ(jet_session_prefill(s2.p, 0, toks.data(), T, JET_LOGITS_LAST, got.data(), nullptr), JET_OK);
    EXPECT_LE(max_abs_diff(got.data(), &ref[size_t(T - 1) * kVocab], kVocab), tol);
}

TEST_F(Session, ContextShorterThanTheWindow) {
    // n_ctx 6 < swa window 8: the ring has 6 slots and never wraps.
    const auto toks = tokens(6, 12);
    std::vector<float> ref(size_t(6) * kVocab), got(size_t(6) * kVocab);
    auto big = make(1, 0, 512);
    ASSERT_EQ(jet_session_prefill(big.p, 0, toks.data(), 6, JET_LOGITS_ALL, ref.data(), nullptr), JET_OK);
    for (int chunk : {1, 4, 6}) {
        auto s = make(1, 6, chunk);
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), 6, JET_LOGITS_ALL, got.data(), nullptr), JET_OK);
        EXPECT_LE(max_abs_diff(got.data(), ref.data(), got.size()), 1e-4 * max_abs(ref)) << chunk;
    }
}

TEST_F(Session, PrefillAfterPrefillContinues) {
    const auto toks = tokens(100, 2);
    std::vector<float> ref(size_t(100) * kVocab), got(size_t(30) * kVocab);
    auto a = make();
    ASSERT_EQ(jet_session_prefill(a.p, 0, toks.data(), 100, JET_LOGITS_ALL, ref.data(), nullptr), JET_OK);
    auto b = make(1, 0, 16);
    ASSERT_EQ(jet_session_prefill(b.p, 0, toks.data(), 70, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_prefill(b.p, 0, toks.data() + 70, 30, JET_LOGITS_ALL, got.data(), nullptr), JET_OK);
    EXPECT_LE(max_abs_diff(got.data(), &ref[70 * kVocab], got.size()), 1e-4 * max_abs(ref));
}

TEST_F(Session, BatchEqualsEachSequenceAlone) {
    const int n = 3, steps = 12;
    const std::vector<int> lens = {5, 40, 90};
    auto batch = make(n, 256);
    std::vector<std::vector<int32_t>> prompts, cont;
    for (int i = 0; i < n; ++i) {
        prompts.push_back(tokens(lens[size_t(i)], 10 + unsigned(i)));
        cont.push_back(tokens(steps, 20 + unsigned(i)));
        ASSERT_EQ(jet_session_prefill(batch.p, i, prompts.back().data(), lens[size_t(i)],
                                      JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    }
    std::vector<std::vector<float>> batched(n);
    std::vector<float> out(size_t(n) * kVocab);
    for (int t = 0; t < steps; ++t) {
        const int32_t seqs[n] = {2, 0, 1};  // any order
        int32_t toks[n];
        for (int i = 0; i < n; ++i) toks[i] = cont[size_t(seqs[i])][size_t(t)];
        ASSERT_EQ(jet_session_decode(batch.p, n, seqs, toks, out.data(), nullptr), JET_OK) << jet_last_error();
        for (int i = 0; i < n; ++i)
            batched[size_t(seqs[i])].insert(batched[size_t(seqs[i])].end(), &out[size_t(i) * kVocab],
                                            &out[size_t(i + 1) * kVocab]);
    }
    for (int i = 0; i < n; ++i) {
        auto alone = make(1, 256);
        ASSERT_EQ(jet_session_prefill(alone.p, 0, prompts[size_t(i)].data(), lens[size_t(i)],
                                      JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
        std::vector<float> ref;
        std::vector<float> one(kVocab);
        for (int t = 0; t < steps; ++t) {
            const int32_t seq = 0;
            ASSERT_EQ(jet_session_decode(alone.p, 1, &seq, &cont[size_t(i)][size_t(t)], one.data(), nullptr), JET_OK);
            ref.insert(ref.end(), one.begin(), one.end());
        }
        EXPECT_LE(max_abs_diff(ref.data(), batched[size_t(i)].data(), ref.size()), 1e-4 * max_abs(ref))
            << "sequence " << i;
    }
}

TEST_F(Session, ForkEqualsReplayAndIsIndependent) {
    const auto prompt = tokens(77, 3), more = tokens(20, 4);
    auto a = make(2, 128);
    ASSERT_EQ(jet_session_prefill(a.p, 1, prompt.data(), 77, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    SessionPtr b;
    ASSERT_EQ(jet_session_fork(a.p, &b.p), JET_OK) << jet_last_error();
    int32_t pos = 0;
    ASSERT_EQ(jet_session_position(b.p, 1, &pos), JET_OK);
    EXPECT_EQ(pos, 77);
    int64_t ta = 0, tb = 0;
    ASSERT_EQ(jet_session_cache_bytes(a.p, &ta, nullptr), JET_OK);
    ASSERT_EQ(jet_session_cache_bytes(b.p, &tb, nullptr), JET_OK);
    EXPECT_EQ(ta, tb);
    std::vector<float> la(size_t(20) * kVocab), lb(size_t(20) * kVocab);
    // The fork decodes first; the original must be unaffected by it.
    ASSERT_EQ(jet_session_prefill(b.p, 1, more.data(), 20, JET_LOGITS_ALL, lb.data(), nullptr), JET_OK);
    ASSERT_EQ(jet_session_prefill(a.p, 1, more.data(), 20, JET_LOGITS_ALL, la.data(), nullptr), JET_OK);
    EXPECT_EQ(la, lb);  // same code path, same state: bitwise equal
    // Replay from scratch gives the same numbers too.
    auto c = make(1, 128);
    std::vector<float> all(size_t(97) * kVocab);
    std::vector<int32_t> full = prompt;
    full.insert(full.end(), more.begin(), more.end());
    ASSERT_EQ(jet_session_prefill(c.p, 0, full.data(), 97, JET_LOGITS_ALL, all.data(), nullptr), JET_OK);
    EXPECT_LE(max_abs_diff(la.data(), &all[77 * kVocab], la.size()), 1e-4 * max_abs(all));
}

TEST_F(Session, ResetAndCopySeq) {
    const auto p1 = tokens(50, 5), p2 = tokens(30, 6);
    auto s = make(3, 128);
    std::vector<float> first(kVocab), again(kVocab), x(kVocab), y(kVocab);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p1.data(), 50, JET_LOGITS_LAST, first.data(), nullptr), JET_OK);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p2.data(), 30, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_reset(s.p, 0), JET_OK);
    int32_t pos = -1;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 0);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p1.data(), 50, JET_LOGITS_LAST, again.data(), nullptr), JET_OK);
    EXPECT_EQ(first, again);

    // copy_seq: seq 2 (holding other tokens) becomes seq 0; both then continue identically.
    ASSERT_EQ(jet_session_prefill(s.p, 2, p2.data(), 30, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_copy_seq(s.p, 0, 2), JET_OK);
    ASSERT_EQ(jet_session_position(s.p, 2, &pos), JET_OK);
    EXPECT_EQ(pos, 50);
    const int32_t seqs[2] = {0, 2}, toks[2] = {7, 7};
    std::vector<float> out(size_t(2) * kVocab);
    ASSERT_EQ(jet_session_decode(s.p, 2, seqs, toks, out.data(), nullptr), JET_OK);
    EXPECT_LE(max_abs_diff(out.data(), out.data() + kVocab, kVocab), 1e-5 * max_abs(out));

    // Reset all.
    ASSERT_EQ(jet_session_reset(s.p, -1), JET_OK);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(jet_session_position(s.p, i, &pos), JET_OK);
        EXPECT_EQ(pos, 0);
    }
    EXPECT_EQ(jet_session_reset(s.p, 3), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_copy_seq(s.p, 0, 5), JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("sequence 5"), std::string::npos);
}

TEST_F(Session, CacheBytesMatchAllocation) {
    // tiny config: 2 jet (S 2x8x16 + conv 32x4), 1 attn (2 x 16 per token), 1 swa (window 8).
    const int64_t jet = 2 * 8 * 16 + 32 * 4, kv = 2 * 2 * 8;
    for (int n_ctx : {4, 8, 100, 512}) {
        int64_t model_bytes = 0;
        ASSERT_EQ(jet_model_cache_bytes(model_.p, n_ctx, &model_bytes), JET_OK);
        const int64_t expect = 4 * (2 * jet + kv * n_ctx + kv * std::min(n_ctx, 8));
        EXPECT_EQ(model_bytes, expect) << n_ctx;
        for (int n_seq : {1, 3}) {
            auto s = make(n_seq, n_ctx);
            int64_t total = 0, per_token = 0;
            ASSERT_EQ(jet_session_cache_bytes(s.p, &total, &per_token), JET_OK);
            EXPECT_EQ(total, n_seq * model_bytes);
            EXPECT_EQ(per_token, 4 * kv);
        }
    }
    int64_t b = 0;
    EXPECT_EQ(jet_model_cache_bytes(model_.p, 0, &b), JET_ERR_INVALID_ARGUMENT);
}

TEST_F(Session, ContextLimitsAndBadTokens) {
    auto s = make(2, 16);
    const auto t = tokens(16, 7);
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 10, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 7, JET_LOGITS_NONE, nullptr, nullptr), JET_ERR_CONTEXT_FULL);
    EXPECT_NE(std::string(jet_last_error()).find("n_ctx = 16"), std::string::npos) << jet_last_error();
    int32_t pos = 0;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 10);  // nothing appended
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 6, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    std::vector<float> out(kVocab);
    const int32_t seq = 0, tok = 3;
    EXPECT_EQ(jet_session_decode(s.p, 1, &seq, &tok, out.data(), nullptr), JET_ERR_CONTEXT_FULL);

    const int32_t bad[3] = {1, kVocab, 2};
    EXPECT_EQ(jet_session_prefill(s.p, 1, bad, 3, JET_LOGITS_NONE, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("token 64 at index 1"), std::string::npos);
    const int32_t neg = -1, seq1 = 1;
    EXPECT_EQ(jet_session_decode(s.p, 1, &seq1, &neg, out.data(), nullptr), JET_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(jet_session_position(s.p, 1, &pos), JET_OK);
    EXPECT_EQ(pos, 0);
    const int32_t twice[2] = {1, 1}, tt[2] = {1, 2};
    std::vector<float> out2(2 * kVocab);
    EXPECT_EQ(jet_session_decode(s.p, 2, twice, tt, out2.data(), nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 3, 7, out.data(), nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 3, JET_LOGITS_LAST, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, nullptr, 3, JET_LOGITS_NONE, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 2, t.data(), 3, JET_LOGITS_NONE, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 0, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);

    // Sessions longer than the model allows, and other bad params.
    jet_session_params sp;
    jet_session_default_params(&sp);
    jet_session *bad_s = reinterpret_cast<jet_session *>(0x1);
    sp.n_ctx = 513;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bad_s, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find("max_position_embeddings = 512"), std::string::npos);
    EXPECT_NE(std::string(jet_last_error()).find("allow_long_context"), std::string::npos);
    sp.n_ctx = 0;
    sp.n_seq = 0;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
    sp.n_seq = 1;
    sp.prefill_chunk = -1;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
}

// n_ctx beyond max_position_embeddings: refused by default (the message names the opt-in),
// accepted with allow_long_context (a warning through the log sink naming both numbers); a
// model with max_position_embeddings 64 then runs to 200 tokens, decode equal to prefill there
// (RoPE has no table sized by the config). A caller built before the field (size 16) gets the
// default (off).
TEST(SessionLongContext, BeyondMaxPositionEmbeddingsNeedsTheOptIn) {
    nlohmann::json cfg = jet_test::tiny_config_json();
    cfg["max_position_embeddings"] = 64;
    jet_model_params mp;
    jet_model_default_params(&mp);
    mp.n_threads = 2;
    ModelPtr model;
    ASSERT_EQ(jet_model_create_random(cfg.dump().c_str(), 5, &mp, &model.p), JET_OK)
        << jet_last_error();

    jet_session_params sp;
    jet_session_default_params(&sp);
    EXPECT_EQ(sp.allow_long_context, 0);
    sp.n_ctx = 208;
    SessionPtr refused;
    EXPECT_EQ(jet_session_create(model.p, &sp, &refused.p), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(refused.p, nullptr);
    const std::string msg = jet_last_error();
    EXPECT_NE(msg.find("max_position_embeddings = 64"), std::string::npos) << msg;
    EXPECT_NE(msg.find("allow_long_context"), std::string::npos) << msg;

    jet_session_params old = sp;  // a caller built against the first version of the struct
    old.size = 16;
    old.allow_long_context = 1;   // beyond its size: not read
    EXPECT_EQ(jet_session_create(model.p, &old, &refused.p), JET_ERR_INVALID_ARGUMENT);
    old.size = 12;
    EXPECT_EQ(jet_session_create(model.p, &old, &refused.p), JET_ERR_INVALID_ARGUMENT);

    std::vector<std::pair<int32_t, std::string>> logs;
    jet_set_log_callback(
        [](int32_t level, const char *m, void *u) {
            static_cast<std::vector<std::pair<int32_t, std::string>> *>(u)->emplace_back(level, m);
        },
        &logs);
    sp.allow_long_context = 1;
    SessionPtr s;
    const jet_status st = jet_session_create(model.p, &sp, &s.p);
    jet_set_log_callback(nullptr, nullptr);
    ASSERT_EQ(st, JET_OK) << jet_last_error();
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].first, JET_LOG_WARN);
    EXPECT_NE(logs[0].second.find("208"), std::string::npos) << logs[0].second;
    EXPECT_NE(logs[0].second.find("64"), std::string::npos) << logs[0].second;

    // 150 tokens prefilled, 50 decoded: to position 200; then the same 200 in one prefill.
    std::mt19937 rng(3);
    std::vector<int32_t> t(200);
    for (auto &x : t) x = int32_t(rng() % kVocab);
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 150, JET_LOGITS_NONE, nullptr, nullptr), JET_OK)
        << jet_last_error();
    std::vector<float> dec(size_t(50) * kVocab);
    for (int i = 0; i < 50; ++i) {
        const int32_t seq = 0;
        ASSERT_EQ(jet_session_decode(s.p, 1, &seq, &t[size_t(150 + i)], dec.data() + size_t(i) * kVocab,
                                     nullptr),
                  JET_OK)
            << jet_last_error();
    }
    int32_t pos = 0;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 200);
    SessionPtr s2;
    ASSERT_EQ(jet_session_create(model.p, &sp, &s2.p), JET_OK) << jet_last_error();
    std::vector<float> all(size_t(200) * kVocab);
    ASSERT_EQ(jet_session_prefill(s2.p, 0, t.data(), 200, JET_LOGITS_ALL, all.data(), nullptr), JET_OK);
    const double ref = max_abs(all);
    EXPECT_TRUE(std::isfinite(ref));
    EXPECT_LE(max_abs_diff(dec.data(), all.data() + size_t(150) * kVocab, dec.size()), 1e-4 * ref + 1e-5);
}

TEST_F(Session, RunOptionsProgressAndAbort) {
    auto s = make(1, 0, 10);
    const auto t = tokens(35, 8);
    std::vector<float> seen;
    jet_run_options run;
    jet_run_default_options(&run);
    run.progress = [](float p, void *u) {
        static_cast<std::vector<float> *>(u)->push_back(p);
        return int32_t(1);
    };
    run.progress_user_data = &seen;
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 35, JET_LOGITS_NONE, nullptr, &run), JET_OK);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_FLOAT_EQ(seen.back(), 1.0f);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

    // An abort callback that says stop at once: the call fails before it changes anything (the
    // sequence keeps its 35 tokens), and the next call (without it) is not affected.
    jet_run_options stop;
    jet_run_default_options(&stop);
    stop.abort = [](void *) { return int32_t(1); };
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 5, JET_LOGITS_NONE, nullptr, &stop), JET_ERR_CANCELLED);
    EXPECT_NE(std::string(jet_last_error()).find("abort"), std::string::npos) << jet_last_error();
    int32_t pos = -1;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 35);
    const int32_t seq = 0, tok = 3;
    int32_t next = -1;
    EXPECT_EQ(jet_session_decode_sample(s.p, 1, &seq, &tok, &next, nullptr, &stop), JET_ERR_CANCELLED);
    std::vector<float> lg(kVocab);
    EXPECT_EQ(jet_session_decode(s.p, 1, &seq, &tok, lg.data(), &stop), JET_ERR_CANCELLED);
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 35);
    ASSERT_EQ(jet_session_decode_sample(s.p, 1, &seq, &tok, &next, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_reset(s.p, 0), JET_OK);

    // An abort callback polled between chunks and layers stops a prefill midway (the sequence,
    // half written, is reset).
    int polls = 0;
    jet_run_options later;
    jet_run_default_options(&later);
    later.abort = [](void *u) { return int32_t(++*static_cast<int *>(u) > 5); };
    later.abort_user_data = &polls;
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 35, JET_LOGITS_NONE, nullptr, &later), JET_ERR_CANCELLED);
    EXPECT_EQ(polls, 6);
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 0);

    // A progress callback that stops after the second chunk.
    int calls = 0;
    jet_run_options two;
    jet_run_default_options(&two);
    two.progress = [](float, void *u) { return int32_t(++*static_cast<int *>(u) < 2); };
    two.progress_user_data = &calls;
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 35, JET_LOGITS_NONE, nullptr, &two), JET_ERR_CANCELLED);
    EXPECT_EQ(calls, 2);

    // A run-options struct of an unknown size is refused.
    jet_run_options odd = run;
    odd.size = 3;
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 5, JET_LOGITS_NONE, nullptr, &odd), JET_ERR_INVALID_ARGUMENT);
}

// The generation loop through the engine's sampling: prefill, sample, decode_sample...
std::vector<int32_t> engine_loop(jet_session *s, int seq, const std::vector<int32_t> &prompt, int n,
                                 std::vector<float> *logprobs = nullptr) {
    std::vector<int32_t> out;
    std::vector<float> lps;
    EXPECT_EQ(jet_session_prefill(s, seq, prompt.data(), int32_t(prompt.size()), JET_LOGITS_NONE,
                                  nullptr, nullptr),
              JET_OK)
        << jet_last_error();
    int32_t tok = -1;
    float lp = 0;
    EXPECT_EQ(jet_session_sample(s, 1, &seq, &tok, &lp), JET_OK) << jet_last_error();
    out.push_back(tok);
    lps.push_back(lp);
    while (int(out.size()) < n) {
        EXPECT_EQ(jet_session_decode_sample(s, 1, &seq, &out.back(), &tok, &lp, nullptr), JET_OK)
            << jet_last_error();
        out.push_back(tok);
        lps.push_back(lp);
    }
    if (logprobs) *logprobs = lps;
    return out;
}

jet_sampler_params hot(uint64_t seed) {
    jet_sampler_params sp;
    jet_sampler_default_params(&sp);
    sp.seed = seed;
    sp.temperature = 1.5f;
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0;
    sp.repeat_penalty = 1.3f;
    sp.repeat_last_n = 16;
    return sp;
}

TEST_F(Session, EngineSamplingEqualsLogitsAndAStandaloneSampler) {
    // decode_sample's tokens and log-probabilities equal what decode's logits and a standalone
    // jet_sampler with the same params, fed the same tokens, give.
    const auto prompt = tokens(12, 11);
    const jet_sampler_params sp = hot(5);
    auto a = make();
    ASSERT_EQ(jet_session_set_sampler(a.p, 0, &sp), JET_OK) << jet_last_error();
    std::vector<float> lps;
    const auto got = engine_loop(a.p, 0, prompt, 20, &lps);

    auto b = make();
    jet_sampler *sampler = nullptr;
    ASSERT_EQ(jet_sampler_create(&sp, &sampler), JET_OK);
    std::vector<float> logits(kVocab);
    ASSERT_EQ(jet_session_prefill(b.p, 0, prompt.data(), 12, JET_LOGITS_LAST, logits.data(), nullptr), JET_OK);
    for (int32_t t : prompt) ASSERT_EQ(jet_sampler_accept(sampler, t), JET_OK);
    std::vector<int32_t> want;
    for (int step = 0; step < 20; ++step) {
        int32_t tok = -1;
        ASSERT_EQ(jet_sampler_sample(sampler, logits.data(), kVocab, &tok), JET_OK);
        double mx = -1e30, sum = 0;
        for (float x : logits) mx = std::max(mx, double(x));
        for (float x : logits) sum += std::exp(double(x) - mx);
        EXPECT_NEAR(lps[size_t(step)], double(logits[size_t(tok)]) - mx - std::log(sum), 1e-5) << step;
        want.push_back(tok);
        ASSERT_EQ(jet_sampler_accept(sampler, tok), JET_OK);
        const int32_t seq = 0;
        if (step + 1 < 20) ASSERT_EQ(jet_session_decode(b.p, 1, &seq, &tok, logits.data(), nullptr), JET_OK);
    }
    jet_sampler_free(sampler);
    EXPECT_EQ(got, want);
    for (float lp : lps) EXPECT_LE(lp, 0.0f);
}

TEST_F(Session, EngineSamplingIsSeededPerSequence) {
    const auto prompt = tokens(12, 11);
    auto gen = [&](uint64_t seed) {
        auto s = make();
        const jet_sampler_params sp = hot(seed);
        EXPECT_EQ(jet_session_set_sampler(s.p, 0, &sp), JET_OK);
        return engine_loop(s.p, 0, prompt, 30);
    };
    EXPECT_EQ(gen(5), gen(5));
    EXPECT_NE(gen(5), gen(6));

    // In one batch, each sequence follows its own params, as if it ran alone.
    auto batch = make(3);
    const jet_sampler_params p5 = hot(5), p9 = hot(9);
    ASSERT_EQ(jet_session_set_sampler(batch.p, 0, &p5), JET_OK);
    ASSERT_EQ(jet_session_set_sampler(batch.p, 2, &p9), JET_OK);  // sequence 1 stays greedy
    std::vector<std::vector<int32_t>> out(3);
    int32_t seqs[3] = {0, 1, 2}, toks[3], next[3];
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(jet_session_prefill(batch.p, i, prompt.data(), 12, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_sample(batch.p, 3, seqs, toks, nullptr), JET_OK);
    for (int i = 0; i < 3; ++i) out[size_t(i)].push_back(toks[i]);
    for (int step = 1; step < 30; ++step) {
        ASSERT_EQ(jet_session_decode_sample(batch.p, 3, seqs, toks, next, nullptr, nullptr), JET_OK);
        for (int i = 0; i < 3; ++i) out[size_t(i)].push_back(toks[i] = next[i]);
    }
    EXPECT_EQ(out[0], gen(5));
    EXPECT_EQ(out[2], gen(9));
    auto greedy = make();
    EXPECT_EQ(out[1], engine_loop(greedy.p, 0, prompt, 30));

    // Reset keeps the params and reseeds; fork and copy_seq carry the RNG state on.
    ASSERT_EQ(jet_session_reset(batch.p, 0), JET_OK);
    EXPECT_EQ(engine_loop(batch.p, 0, prompt, 30), gen(5));
    auto c = make(2);
    ASSERT_EQ(jet_session_set_sampler(c.p, 0, &p5), JET_OK);
    const auto head = engine_loop(c.p, 0, prompt, 10);
    SessionPtr f;
    ASSERT_EQ(jet_session_fork(c.p, &f.p), JET_OK);
    ASSERT_EQ(jet_session_copy_seq(c.p, 0, 1), JET_OK);
    auto go_on = [&](jet_session *s, int32_t seq) {
        std::vector<int32_t> tail{head.back()};
        int32_t tok = -1;
        for (int i = 0; i < 10; ++i) {
            EXPECT_EQ(jet_session_decode_sample(s, 1, &seq, &tail.back(), &tok, nullptr, nullptr), JET_OK);
            tail.push_back(tok);
        }
        return tail;
    };
    const auto t0 = go_on(c.p, 0), t1 = go_on(c.p, 1), tf = go_on(f.p, 0);
    EXPECT_EQ(t0, t1);
    EXPECT_EQ(t0, tf);
    std::vector<int32_t> whole = head;
    whole.insert(whole.end(), t0.begin() + 1, t0.end());
    std::vector<int32_t> ref = gen(5);
    ref.resize(whole.size());
    EXPECT_EQ(whole, ref);  // the fork went on exactly as the sequence would have
}

TEST_F(Session, EngineSamplingErrors) {
    auto s = make(2, 16);
    const int32_t seq = 0, tok = 1;
    int32_t out = -1;
    // No logits yet.
    EXPECT_EQ(jet_session_sample(s.p, 1, &seq, &out, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("no logits"), std::string::npos);
    const auto t = tokens(15, 3);
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 15, JET_LOGITS_NONE, nullptr, nullptr), JET_OK);
    ASSERT_EQ(jet_session_sample(s.p, 1, &seq, &out, nullptr), JET_OK);
    ASSERT_EQ(jet_session_decode_sample(s.p, 1, &seq, &out, &out, nullptr, nullptr), JET_OK);
    // After decode_sample the logits stayed in the engine.
    EXPECT_EQ(jet_session_sample(s.p, 1, &seq, &out, nullptr), JET_ERR_INVALID_ARGUMENT);
    // Full context, a token out of range, a duplicate, bad params (naming the field).
    EXPECT_EQ(jet_session_decode_sample(s.p, 1, &seq, &tok, &out, nullptr, nullptr), JET_ERR_CONTEXT_FULL);
    const int32_t seq1 = 1, bad = kVocab;
    EXPECT_EQ(jet_session_decode_sample(s.p, 1, &seq1, &bad, &out, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    const int32_t twice[2] = {1, 1}, tt[2] = {1, 2};
    int32_t o2[2];
    EXPECT_EQ(jet_session_decode_sample(s.p, 2, twice, tt, o2, nullptr, nullptr), JET_ERR_INVALID_ARGUMENT);
    jet_sampler_params sp;
    jet_sampler_default_params(&sp);
    sp.top_p = 0;
    EXPECT_EQ(jet_session_set_sampler(s.p, 1, &sp), JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("top_p"), std::string::npos);
    EXPECT_EQ(jet_session_set_sampler(s.p, 2, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_set_sampler(s.p, 1, nullptr), JET_OK);
}

}  // namespace
