// sampler_test.cpp - greedy, temperature, top-k, top-p, min-p, repetition penalty, seeding.
#include "sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "error.h"
#include "jet.h"

namespace {

jet_sampler_params params(float temp, int top_k, float top_p, float min_p, uint64_t seed = 1) {
    jet_sampler_params p;
    jet::sampler_defaults(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = seed;
    return p;
}

std::map<int, int> histogram(jet::Sampler &s, const std::vector<float> &logits, int n) {
    std::map<int, int> h;
    for (int i = 0; i < n; ++i) ++h[s.sample(logits.data(), int(logits.size()))];
    return h;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f};

TEST(Sampler, GreedyIsArgmaxWithLowestIndexOnTies) {
    jet::Sampler s(params(0, 40, 0.9f, 0.1f));
    EXPECT_EQ(s.sample(kLogits.data(), 6), 1);
    const std::vector<float> tie = {0.f, 5.f, 5.f};
    EXPECT_EQ(s.sample(tie.data(), 3), 1);
    const std::vector<float> with_nan = {NAN, 1.f, 2.f};
    EXPECT_EQ(s.sample(with_nan.data(), 3), 2);
    const std::vector<float> all_nan = {NAN, NAN};
    EXPECT_THROW(s.sample(all_nan.data(), 2), jet::Error);
}

// The padded rows of an LM head beyond the tokenizer (vocab_limit) are never picked, however
// large their logits, greedy or sampled; a limit at or above n changes nothing.
TEST(Sampler, VocabLimitExcludesPaddingIds) {
    auto g = params(0, 40, 0.9f, 0.1f);
    g.vocab_limit = 4;  // ids 4 (2.9) and 5 are padding
    const std::vector<float> pad_wins = {1.0f, 3.0f, 2.0f, 0.5f, 9.0f, 8.0f};
    jet::Sampler greedy(g);
    EXPECT_EQ(greedy.sample(pad_wins.data(), 6), 1);
    auto t = params(1.0f, 0, 1.0f, 0);
    t.vocab_limit = 4;
    jet::Sampler sampled(t);
    const auto h = histogram(sampled, pad_wins, 2000);
    for (const auto &kv : h) EXPECT_LT(kv.first, 4) << "padding id sampled";
    EXPECT_EQ(h.size(), 4u);  // every id below the limit still reachable
    auto wide = params(0, 40, 0.9f, 0.1f);
    wide.vocab_limit = 100;
    jet::Sampler w(wide);
    EXPECT_EQ(w.sample(pad_wins.data(), 6), 4);
}

TEST(Sampler, TopKOneIsGreedy) {
    jet::Sampler s(params(1.0f, 1, 1.0f, 0));
    for (int i = 0; i < 50; ++i) EXPECT_EQ(s.sample(kLogits.data(), 6), 1);
}

TEST(Sampler, TemperatureOneFollowsSoftmax) {
    jet::Sampler s(params(1.0f, 0, 1.0f, 0, 123));
    const int n = 40000;
    const auto h = histogram(s, kLogits, n);
    double z = 0;
    for (float l : kLogits) z += std::exp(double(l));
    for (int i = 0; i < 6; ++i) {
        const double p = std::exp(double(kLogits[size_t(i)])) / z;
        const double got = h.count(i) ? double(h.at(i)) / n : 0.0;
        EXPECT_NEAR(got, p, 4 * std::sqrt(p * (1 - p) / n) + 1e-3) << "token " << i;
    }
}

TEST(Sampler, TopKTopPMinPRestrictTheSupport) {
    {
        jet::Sampler s(params(1.0f, 2, 1.0f, 0));  // only tokens 1 and 4
        for (const auto &kv : histogram(s, kLogits, 2000)) EXPECT_TRUE(kv.first == 1 || kv.first == 4);
    }
    {
        // softmax: p1 ~ 0.38, p4 ~ 0.35, p2 ~ 0.14: top_p 0.7 keeps {1, 4}
        jet::Sampler s(params(1.0f, 0, 0.7f, 0));
        const auto h = histogram(s, kLogits, 2000);
        for (const auto &kv : h) EXPECT_TRUE(kv.first == 1 || kv.first == 4) << kv.first;
        EXPECT_EQ(h.size(), 2u);
    }
    {
        // min_p 0.3: keeps tokens with p >= 0.3 * p1, i.e. 1, 4, 2 (p2/p1 = e^-1 = 0.37)
        jet::Sampler s(params(1.0f, 0, 1.0f, 0.3f));
        const auto h = histogram(s, kLogits, 4000);
        EXPECT_EQ(h.size(), 3u);
        for (const auto &kv : h) EXPECT_TRUE(kv.first == 1 || kv.first == 4 || kv.first == 2);
    }
    {
        jet::Sampler s(params(1.0f, 0, 1e-6f, 0));  // tiny top_p: the top token only
        for (const auto &kv : histogram(s, kLogits, 200)) EXPECT_EQ(kv.first, 1);
    }
}

TEST(Sampler, SameSeedSameTokens) {
    jet::Sampler a(params(1.2f, 0, 1.0f, 0, 77)), b(params(1.2f, 0, 1.0f, 0, 77)),
        c(params(1.2f, 0, 1.0f, 0, 78));
    std::vector<int> ta, tb, tc;
    for (int i = 0; i < 200; ++i) {
        ta.push_back(a.sample(kLogits.data(), 6));
        tb.push_back(b.sample(kLogits.data(), 6));
        tc.push_back(c.sample(kLogits.data(), 6));
    }
    EXPECT_EQ(ta, tb);
    EXPECT_NE(ta, tc);
    a.reset();  // reseeds
    std::vector<int> again;
    for (int i = 0; i < 200; ++i) again.push_back(a.sample(kLogits.data(), 6));
    EXPECT_EQ(ta, again);
}

TEST(Sampler, RepetitionPenaltyUsesTheLastNTokens) {
    auto p = params(0, 0, 1.0f, 0);
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    jet::Sampler s(p);
    s.accept(1);  // 3.0 -> 1.5, so token 4 (2.9) wins
    EXPECT_EQ(s.sample(kLogits.data(), 6), 4);
    s.accept(4);  // 2.9 -> 1.45: token 2 (2.0) wins
    EXPECT_EQ(s.sample(kLogits.data(), 6), 2);
    s.accept(0);  // token 1 falls out of the window of 2: back to 3.0
    EXPECT_EQ(s.sample(kLogits.data(), 6), 1);
    // Negative logits are multiplied (pushed further down).
    const std::vector<float> neg = {-1.0f, -1.5f};
    jet::Sampler t(p);
    t.accept(0);
    EXPECT_EQ(t.sample(neg.data(), 2), 1);
}

TEST(Sampler, ValidatesParams) {
    auto p = params(1, 0, 1, 0);
    p.top_p = 0;
    EXPECT_THROW(jet::sampler_validate(p), jet::Error);
    p = params(NAN, 0, 1, 0);
    EXPECT_THROW(jet::sampler_validate(p), jet::Error);
    p = params(1, 0, 1, 0);
    p.repeat_penalty = 0;
    EXPECT_THROW(jet::sampler_validate(p), jet::Error);
    p = params(1, 0, 1, 0);
    p.repeat_last_n = -1;
    EXPECT_THROW(jet::sampler_validate(p), jet::Error);
    p = params(1, 0, 1, 0);
    p.vocab_limit = -1;
    EXPECT_THROW(jet::sampler_validate(p), jet::Error);
    EXPECT_NO_THROW(jet::sampler_validate(params(0.8f, 40, 0.95f, 0.05f)));
}

}  // namespace
