// session_test.cpp - sessions and their cache on a random tiny model (needs no ../shared):
// chunked prefill = token-by-token decode, batch = alone, fork = replay, reset, copy_seq,
// cache sizes, context limits, cancel and progress.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

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
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), T, JET_LOGITS_ALL, ref.data()), JET_OK)
            << jet_last_error();
    }
    const double tol = 1e-4 * max_abs(ref);
    for (int chunk : {1, 7, 64, 65, 512}) {
        auto s = make(1, 0, chunk);
        std::vector<float> got(size_t(T) * kVocab);
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), T, JET_LOGITS_ALL, got.data()), JET_OK);
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
        ASSERT_EQ(jet_session_decode(s.p, 1, &seq, &toks[size_t(t)], got.data()), JET_OK);
        worst = std::max(worst, max_abs_diff(got.data(), &ref[size_t(t) * kVocab], kVocab));
    }
    EXPECT_LE(worst, tol);
    // LAST mode returns the last row of ALL.
    auto s2 = make(1, 0, 40);
    ASSERT_EQ(jet_session_prefill(s2.p, 0, toks.data(), T, JET_LOGITS_LAST, got.data()), JET_OK);
    EXPECT_LE(max_abs_diff(got.data(), &ref[size_t(T - 1) * kVocab], kVocab), tol);
}

TEST_F(Session, ContextShorterThanTheWindow) {
    // n_ctx 6 < swa window 8: the ring has 6 slots and never wraps.
    const auto toks = tokens(6, 12);
    std::vector<float> ref(size_t(6) * kVocab), got(size_t(6) * kVocab);
    auto big = make(1, 0, 512);
    ASSERT_EQ(jet_session_prefill(big.p, 0, toks.data(), 6, JET_LOGITS_ALL, ref.data()), JET_OK);
    for (int chunk : {1, 4, 6}) {
        auto s = make(1, 6, chunk);
        ASSERT_EQ(jet_session_prefill(s.p, 0, toks.data(), 6, JET_LOGITS_ALL, got.data()), JET_OK);
        EXPECT_LE(max_abs_diff(got.data(), ref.data(), got.size()), 1e-4 * max_abs(ref)) << chunk;
    }
}

TEST_F(Session, PrefillAfterPrefillContinues) {
    const auto toks = tokens(100, 2);
    std::vector<float> ref(size_t(100) * kVocab), got(size_t(30) * kVocab);
    auto a = make();
    ASSERT_EQ(jet_session_prefill(a.p, 0, toks.data(), 100, JET_LOGITS_ALL, ref.data()), JET_OK);
    auto b = make(1, 0, 16);
    ASSERT_EQ(jet_session_prefill(b.p, 0, toks.data(), 70, JET_LOGITS_NONE, nullptr), JET_OK);
    ASSERT_EQ(jet_session_prefill(b.p, 0, toks.data() + 70, 30, JET_LOGITS_ALL, got.data()), JET_OK);
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
                                      JET_LOGITS_NONE, nullptr), JET_OK);
    }
    std::vector<std::vector<float>> batched(n);
    std::vector<float> out(size_t(n) * kVocab);
    for (int t = 0; t < steps; ++t) {
        const int32_t seqs[n] = {2, 0, 1};  // any order
        int32_t toks[n];
        for (int i = 0; i < n; ++i) toks[i] = cont[size_t(seqs[i])][size_t(t)];
        ASSERT_EQ(jet_session_decode(batch.p, n, seqs, toks, out.data()), JET_OK) << jet_last_error();
        for (int i = 0; i < n; ++i)
            batched[size_t(seqs[i])].insert(batched[size_t(seqs[i])].end(), &out[size_t(i) * kVocab],
                                            &out[size_t(i + 1) * kVocab]);
    }
    for (int i = 0; i < n; ++i) {
        auto alone = make(1, 256);
        ASSERT_EQ(jet_session_prefill(alone.p, 0, prompts[size_t(i)].data(), lens[size_t(i)],
                                      JET_LOGITS_NONE, nullptr), JET_OK);
        std::vector<float> ref;
        std::vector<float> one(kVocab);
        for (int t = 0; t < steps; ++t) {
            const int32_t seq = 0;
            ASSERT_EQ(jet_session_decode(alone.p, 1, &seq, &cont[size_t(i)][size_t(t)], one.data()), JET_OK);
            ref.insert(ref.end(), one.begin(), one.end());
        }
        EXPECT_LE(max_abs_diff(ref.data(), batched[size_t(i)].data(), ref.size()), 1e-4 * max_abs(ref))
            << "sequence " << i;
    }
}

TEST_F(Session, ForkEqualsReplayAndIsIndependent) {
    const auto prompt = tokens(77, 3), more = tokens(20, 4);
    auto a = make(2, 128);
    ASSERT_EQ(jet_session_prefill(a.p, 1, prompt.data(), 77, JET_LOGITS_NONE, nullptr), JET_OK);
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
    ASSERT_EQ(jet_session_prefill(b.p, 1, more.data(), 20, JET_LOGITS_ALL, lb.data()), JET_OK);
    ASSERT_EQ(jet_session_prefill(a.p, 1, more.data(), 20, JET_LOGITS_ALL, la.data()), JET_OK);
    EXPECT_EQ(la, lb);  // same code path, same state: bitwise equal
    // Replay from scratch gives the same numbers too.
    auto c = make(1, 128);
    std::vector<float> all(size_t(97) * kVocab);
    std::vector<int32_t> full = prompt;
    full.insert(full.end(), more.begin(), more.end());
    ASSERT_EQ(jet_session_prefill(c.p, 0, full.data(), 97, JET_LOGITS_ALL, all.data()), JET_OK);
    EXPECT_LE(max_abs_diff(la.data(), &all[77 * kVocab], la.size()), 1e-4 * max_abs(all));
}

TEST_F(Session, ResetAndCopySeq) {
    const auto p1 = tokens(50, 5), p2 = tokens(30, 6);
    auto s = make(3, 128);
    std::vector<float> first(kVocab), again(kVocab), x(kVocab), y(kVocab);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p1.data(), 50, JET_LOGITS_LAST, first.data()), JET_OK);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p2.data(), 30, JET_LOGITS_NONE, nullptr), JET_OK);
    ASSERT_EQ(jet_session_reset(s.p, 0), JET_OK);
    int32_t pos = -1;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 0);
    ASSERT_EQ(jet_session_prefill(s.p, 0, p1.data(), 50, JET_LOGITS_LAST, again.data()), JET_OK);
    EXPECT_EQ(first, again);

    // copy_seq: seq 2 (holding other tokens) becomes seq 0; both then continue identically.
    ASSERT_EQ(jet_session_prefill(s.p, 2, p2.data(), 30, JET_LOGITS_NONE, nullptr), JET_OK);
    ASSERT_EQ(jet_session_copy_seq(s.p, 0, 2), JET_OK);
    ASSERT_EQ(jet_session_position(s.p, 2, &pos), JET_OK);
    EXPECT_EQ(pos, 50);
    const int32_t seqs[2] = {0, 2}, toks[2] = {7, 7};
    std::vector<float> out(size_t(2) * kVocab);
    ASSERT_EQ(jet_session_decode(s.p, 2, seqs, toks, out.data()), JET_OK);
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
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 10, JET_LOGITS_NONE, nullptr), JET_OK);
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 7, JET_LOGITS_NONE, nullptr), JET_ERR_CONTEXT_FULL);
    EXPECT_NE(std::string(jet_last_error()).find("n_ctx = 16"), std::string::npos) << jet_last_error();
    int32_t pos = 0;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 10);  // nothing appended
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 6, JET_LOGITS_NONE, nullptr), JET_OK);
    std::vector<float> out(kVocab);
    const int32_t seq = 0, tok = 3;
    EXPECT_EQ(jet_session_decode(s.p, 1, &seq, &tok, out.data()), JET_ERR_CONTEXT_FULL);

    const int32_t bad[3] = {1, kVocab, 2};
    EXPECT_EQ(jet_session_prefill(s.p, 1, bad, 3, JET_LOGITS_NONE, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(jet_last_error()).find("token 64 at index 1"), std::string::npos);
    const int32_t neg = -1, seq1 = 1;
    EXPECT_EQ(jet_session_decode(s.p, 1, &seq1, &neg, out.data()), JET_ERR_INVALID_ARGUMENT);
    ASSERT_EQ(jet_session_position(s.p, 1, &pos), JET_OK);
    EXPECT_EQ(pos, 0);
    const int32_t twice[2] = {1, 1}, tt[2] = {1, 2};
    std::vector<float> out2(2 * kVocab);
    EXPECT_EQ(jet_session_decode(s.p, 2, twice, tt, out2.data()), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 3, 7, out.data()), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 3, JET_LOGITS_LAST, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, nullptr, 3, JET_LOGITS_NONE, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 2, t.data(), 3, JET_LOGITS_NONE, nullptr), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(jet_session_prefill(s.p, 1, t.data(), 0, JET_LOGITS_NONE, nullptr), JET_OK);

    // Sessions longer than the model allows, and other bad params.
    jet_session_params sp;
    jet_session_default_params(&sp);
    jet_session *bad_s = reinterpret_cast<jet_session *>(0x1);
    sp.n_ctx = 513;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(bad_s, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find("max_position_embeddings = 512"), std::string::npos);
    sp.n_ctx = 0;
    sp.n_seq = 0;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
    sp.n_seq = 1;
    sp.prefill_chunk = -1;
    EXPECT_EQ(jet_session_create(model_.p, &sp, &bad_s), JET_ERR_INVALID_ARGUMENT);
}

TEST_F(Session, CancelAndProgress) {
    jet_session_params sp;
    jet_session_default_params(&sp);
    sp.prefill_chunk = 10;
    std::vector<float> seen;
    sp.progress = [](float p, void *u) {
        static_cast<std::vector<float> *>(u)->push_back(p);
        return int32_t(1);
    };
    sp.progress_user_data = &seen;
    SessionPtr s;
    ASSERT_EQ(jet_session_create(model_.p, &sp, &s.p), JET_OK);
    const auto t = tokens(35, 8);
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 35, JET_LOGITS_NONE, nullptr), JET_OK);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_FLOAT_EQ(seen.back(), 1.0f);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

    // Cancel requested before the call: the call fails, the sequence is reset, the flag clears.
    ASSERT_EQ(jet_session_cancel(s.p), JET_OK);
    EXPECT_EQ(jet_session_prefill(s.p, 0, t.data(), 5, JET_LOGITS_NONE, nullptr), JET_ERR_CANCELLED);
    int32_t pos = -1;
    ASSERT_EQ(jet_session_position(s.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 0);
    ASSERT_EQ(jet_session_prefill(s.p, 0, t.data(), 5, JET_LOGITS_NONE, nullptr), JET_OK);

    // A progress callback that stops after the second chunk.
    auto s2 = make(1, 0, 10);
    jet_session_params sp2;
    jet_session_default_params(&sp2);
    sp2.prefill_chunk = 10;
    int calls = 0;
    sp2.progress = [](float, void *u) { return int32_t(++*static_cast<int *>(u) < 2); };
    sp2.progress_user_data = &calls;
    SessionPtr s3;
    ASSERT_EQ(jet_session_create(model_.p, &sp2, &s3.p), JET_OK);
    EXPECT_EQ(jet_session_prefill(s3.p, 0, t.data(), 35, JET_LOGITS_NONE, nullptr), JET_ERR_CANCELLED);
    EXPECT_EQ(calls, 2);
    ASSERT_EQ(jet_session_position(s3.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 0);

    // Cancel from inside generate's token callback stops the next step.
    jet_sampler *sampler = nullptr;
    ASSERT_EQ(jet_sampler_create(nullptr, &sampler), JET_OK);
    struct Ctx {
        jet_session *s;
        int n;
    } ctx{s.p, 0};
    int32_t n = -1;
    EXPECT_EQ(jet_session_generate(s.p, 0, nullptr, 0, 50, sampler, nullptr, 0,
                                   [](int32_t, void *u) {
                                       auto *c = static_cast<Ctx *>(u);
                                       if (++c->n == 3) jet_session_cancel(c->s);
                                       return int32_t(1);
                                   },
                                   &ctx, &n),
              JET_ERR_CANCELLED);
    EXPECT_EQ(ctx.n, 3);
    jet_sampler_free(sampler);
}

TEST_F(Session, GenerateContinuesAndStops) {
    const auto prompt = tokens(20, 9);
    jet_sampler_params sp;
    jet_sampler_default_params(&sp);
    sp.temperature = 0;
    auto run = [&](jet_session *s, const int32_t *p, int np, int max, const int32_t *stop, int nstop,
                   std::vector<int32_t> &out) {
        jet_sampler *sampler = nullptr;
        EXPECT_EQ(jet_sampler_create(&sp, &sampler), JET_OK);
        int32_t n = 0;
        const jet_status st = jet_session_generate(
            s, 0, p, np, max, sampler, stop, nstop,
            [](int32_t t, void *u) {
                static_cast<std::vector<int32_t> *>(u)->push_back(t);
                return int32_t(1);
            },
            &out, &n);
        jet_sampler_free(sampler);
        if (st == JET_OK) {
            EXPECT_EQ(int(n), int(out.size()));  // untouched on failure
        }
        return st;
    };
    auto a = make();
    std::vector<int32_t> ten;
    ASSERT_EQ(run(a.p, prompt.data(), 20, 10, nullptr, 0, ten), JET_OK);
    ASSERT_EQ(ten.size(), 10u);
    auto b = make();
    std::vector<int32_t> five, rest;
    ASSERT_EQ(run(b.p, prompt.data(), 20, 5, nullptr, 0, five), JET_OK);
    ASSERT_EQ(run(b.p, nullptr, 0, 5, nullptr, 0, rest), JET_OK);  // continues from the cache
    five.insert(five.end(), rest.begin(), rest.end());
    EXPECT_EQ(five, ten);
    int32_t pos = 0;
    ASSERT_EQ(jet_session_position(b.p, 0, &pos), JET_OK);
    EXPECT_EQ(pos, 30);
    // Stop token: generation ends right after it (it is reported).
    auto c = make();
    std::vector<int32_t> stopped;
    const int32_t stop = ten[3];
    ASSERT_EQ(run(c.p, prompt.data(), 20, 10, &stop, 1, stopped), JET_OK);
    const size_t first = size_t(std::find(ten.begin(), ten.end(), stop) - ten.begin());
    EXPECT_EQ(stopped.size(), first + 1);
    // Empty prompt on an empty sequence: nothing to sample from.
    auto d = make();
    std::vector<int32_t> none;
    EXPECT_EQ(run(d.p, nullptr, 0, 3, nullptr, 0, none), JET_ERR_INVALID_ARGUMENT);
    // Context full during generation.
    auto e = make(1, 24);
    std::vector<int32_t> some;
    EXPECT_EQ(run(e.p, prompt.data(), 20, 10, nullptr, 0, some), JET_ERR_CONTEXT_FULL);
    EXPECT_EQ(some.size(), 4u);
}

TEST_F(Session, SeededSamplingIsReproducible) {
    const auto prompt = tokens(12, 11);
    auto gen = [&](uint64_t seed) {
        jet_sampler_params sp;
        jet_sampler_default_params(&sp);
        sp.seed = seed;
        sp.temperature = 1.5f;
        sp.top_k = 0;
        sp.top_p = 1.0f;
        sp.min_p = 0;
        jet_sampler *sampler = nullptr;
        EXPECT_EQ(jet_sampler_create(&sp, &sampler), JET_OK);
        auto s = make();
        std::vector<int32_t> out;
        int32_t n = 0;
        EXPECT_EQ(jet_session_generate(s.p, 0, prompt.data(), 12, 30, sampler, nullptr, 0,
                                       [](int32_t t, void *u) {
                                           static_cast<std::vector<int32_t> *>(u)->push_back(t);
                                           return int32_t(1);
                                       },
                                       &out, &n),
                  JET_OK);
        jet_sampler_free(sampler);
        return out;
    };
    EXPECT_EQ(gen(5), gen(5));
    EXPECT_NE(gen(5), gen(6));
}

}  // namespace
