// Tests for cpu/attention.cpp against a double-precision reference: causal prefill, GQA,
// decode over a cache with empty slots in ring-buffer order, sliding-window boundaries.
#include <gtest/gtest.h>

#include <limits>
#include <numeric>

#include "cpu/ops.h"
#include "cpu/threads.h"
#include "op_test_util.h"

namespace {

struct Case {
    int T, L, nh, nkv, hd, window;
    std::vector<int32_t> qpos, kpos;
};

std::vector<double> reference(const Case &c, const std::vector<float> &q,
                              const std::vector<float> &k, const std::vector<float> &v) {
    std::vector<double> out(size_t(c.T) * c.nh * c.hd, 0.0);
    const double scale = 1.0 / std::sqrt(double(c.hd));
    for (int t = 0; t < c.T; ++t)
        for (int h = 0; h < c.nh; ++h) {
            const int kvh = h / (c.nh / c.nkv);
            std::vector<double> s(c.L, -std::numeric_limits<double>::infinity());
            double mx = -std::numeric_limits<double>::infinity();
            for (int j = 0; j < c.L; ++j) {
                const int p = c.kpos[j];
                if (p < 0 || p > c.qpos[t] || (c.window && c.qpos[t] - p >= c.window)) continue;
                double d = 0;
                for (int i = 0; i < c.hd; ++i)
                    d += double(q[(size_t(t) * c.nh + h) * c.hd + i]) *
                         k[(size_t(j) * c.nkv + kvh) * c.hd + i];
                s[j] = d * scale;
                mx = std::max(mx, s[j]);
            }
            if (mx == -std::numeric_limits<double>::infinity()) continue;  // sees nothing
            double sum = 0;
            for (int j = 0; j < c.L; ++j) sum += std::exp(s[j] - mx);
            for (int j = 0; j < c.L; ++j) {
                const double p = std::exp(s[j] - mx) / sum;
                for (int i = 0; i < c.hd; ++i)
                    out[(size_t(t) * c.nh + h) * c.hd + i] +=
                        p * v[(size_t(j) * c.nkv + kvh) * c.hd + i];
            }
        }
    return out;
}

std::vector<float> run(const Case &c, const std::vector<float> &q, const std::vector<float> &k,
                       const std::vector<float> &v) {
    std::vector<float> out(size_t(c.T) * c.nh * c.hd, std::nanf(""));
    jet::cpu::attention(q.data(), k.data(), v.data(), c.qpos.data(), c.kpos.data(), out.data(), c.T,
                        c.L, c.nh, c.nkv, c.hd, c.window);
    return out;
}

void check(const Case &c, uint32_t seed) {
    const auto q = jet::test::random_vec(size_t(c.T) * c.nh * c.hd, seed, -2.f, 2.f);
    const auto k = jet::test::random_vec(size_t(c.L) * c.nkv * c.hd, seed + 1, -2.f, 2.f);
    const auto v = jet::test::random_vec(size_t(c.L) * c.nkv * c.hd, seed + 2);
    EXPECT_LT(jet::test::rel_err(run(c, q, k, v), reference(c, q, k, v)), 1e-5)
        << "T=" << c.T << " L=" << c.L << " nh=" << c.nh << " nkv=" << c.nkv
        << " window=" << c.window;
}

Case prefill(int T, int nh, int nkv, int hd, int window, int start = 0) {
    Case c{T, start + T, nh, nkv, hd, window, {}, {}};
    for (int i = 0; i < start + T; ++i) c.kpos.push_back(i);
    for (int t = 0; t < T; ++t) c.qpos.push_back(start + t);
    return c;
}

TEST(Attention, CausalPrefillSingleHead) { check(prefill(7, 1, 1, 16, 0), 1); }

TEST(Attention, CausalPrefillGqa) {
    check(prefill(33, 12, 2, 128, 0), 2);  // the 2B's heads: enough items to use groups
    check(prefill(1, 12, 2, 128, 0), 3);   // T = 1: one item per head
    check(prefill(20, 4, 4, 8, 0), 4);     // no grouping (nh == nkv)
}

TEST(Attention, PrefillAfterCachedTokens) { check(prefill(9, 4, 2, 32, 0, /*start=*/15), 5); }

TEST(Attention, SlidingWindowBoundary) {
    check(prefill(40, 4, 2, 16, 8), 6);
    check(prefill(10, 2, 1, 16, 1), 7);  // window 1: each token sees only itself
    // The key at distance exactly `window` is invisible, at window - 1 visible.
    Case c = prefill(1, 1, 1, 4, 3, /*start=*/5);  // query at position 5, keys 0..5
    const std::vector<float> q(4, 1.f);
    std::vector<float> k(c.L * 4, 0.f), v(c.L * 4, 0.f);
    v[2 * 4] = 1000.f;  // position 2 = 5 - 3: outside the window
    auto out = run(c, q, k, v);
    EXPECT_EQ(out[0], 0.f);
    v[2 * 4] = 0.f;
    v[3 * 4] = 3.f;  // position 3 = 5 - 2: inside; equal scores: 1/3 of it
    out = run(c, q, k, v);
    EXPECT_NEAR(out[0], 1.f, 1e-6);
}

TEST(Attention, DecodeOverRingBufferWithEmptySlots) {
    // A ring of 8 slots holding positions 9..14 out of order, two slots still empty.
    Case c{1, 8, 4, 2, 16, 6, {14}, {12, 13, 14, -1, 9, 10, 11, -1}};
    check(c, 8);
    c.window = 0;
    check(c, 9);
    c.qpos = {12};  // a query before some slots: those are not visible
    check(c, 10);
}

TEST(Attention, ManyQueriesAgainstShuffledSlots) {
    Case c = prefill(50, 6, 3, 24, 17);
    std::iota(c.kpos.begin(), c.kpos.end(), 0);
    std::reverse(c.kpos.begin(), c.kpos.end());  // slot order is irrelevant
    c.kpos[3] = -1;
    check(c, 11);
}

TEST(Attention, DecodeSplitAcrossThreadsOverLongCache) {
    // Fewer (token, KV head) pairs than threads: the slots are split into ranges and merged.
    const int n = jet::cpu::num_threads();
    jet::cpu::set_num_threads(8);
    Case c = prefill(1, 4, 2, 16, 0, /*start=*/2999);  // one query at 2999 over 3000 slots
    for (int j = 0; j < c.L; j += 7) c.kpos[j] = -1;   // some empty slots
    check(c, 12);
    c.window = 100;  // only the last range sees anything: the others' partials are empty
    check(c, 13);
    c.qpos = {50};  // and now only the first
    check(c, 14);
    Case none{1, 1000, 2, 1, 4, 0, {5}, std::vector<int32_t>(1000, -1)};
    const auto q = jet::test::random_vec(2 * 4, 1), kv = jet::test::random_vec(1000 * 4, 2);
    for (float x : run(none, q, kv, kv)) EXPECT_EQ(x, 0.f);
    jet::cpu::set_num_threads(n);
}

TEST(Attention, QueryThatSeesNothingGetsZeros) {
    Case c{2, 3, 2, 1, 4, 0, {0, 1}, {-1, 5, 7}};
    const auto q = jet::test::random_vec(2 * 2 * 4, 1), kv = jet::test::random_vec(3 * 4, 2);
    for (float x : run(c, q, kv, kv)) EXPECT_EQ(x, 0.f);
}

TEST(Attention, SameResultWithOneThread) {
    const Case c = prefill(30, 12, 2, 64, 0);
    const auto q = jet::test::random_vec(size_t(c.T) * c.nh * c.hd, 1);
    const auto k = jet::test::random_vec(size_t(c.L) * c.nkv * c.hd, 2);
    const auto v = jet::test::random_vec(size_t(c.L) * c.nkv * c.hd, 3);
    const int n = jet::cpu::num_threads();
    jet::cpu::set_num_threads(1);
    const auto a = run(c, q, k, v);
    jet::cpu::set_num_threads(n);
    EXPECT_LT(jet::test::rel_err(a, reference(c, q, k, v)), 1e-5);
}

}  // namespace
