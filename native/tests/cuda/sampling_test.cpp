// sampling_test.cpp - cuda::argmax_rows: per-row argmax over a vocabulary-sized row, ties to the
// lowest index, NaN never chosen; cuda::sample_rows: the same token as jet::Sampler::pick for
// the same logits, params, history and draw, on every path (greedy, top-k radix select, min-p
// gathering, the host fallback), and the rows left as they were.
#include <cmath>

#include "cuda_ops_test_util.h"
#include "sampler.h"

namespace jet::test {
namespace {

TEST(CudaSampling, ArgmaxPerRow) {
    JET_SKIP_WITHOUT_CUDA();
    const int rows = 4, V = 151936;
    auto x = randn_bf16(size_t(rows) * V, 71);
    x[size_t(0) * V + 151935] = 50.0f;                 // last column
    x[size_t(1) * V + 7] = 40.0f;                      // tie: lowest index wins
    x[size_t(1) * V + 90000] = 40.0f;
    x[size_t(2) * V + 3] = NAN;                        // NaN ignored
    x[size_t(2) * V + 12345] = 60.0f;
    DevBuf<float> dx(x.size());
    DevBuf<int32_t> dout(static_cast<size_t>(rows));
    upload(dx, x);
    JET_LAUNCH_OK(cuda::argmax_rows(dx.get(), dout.get(), rows, V, nullptr));
    std::vector<int32_t> out(rows);
    ASSERT_EQ(cudaMemcpy(out.data(), dout.get(), rows * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(out[0], 151935);
    EXPECT_EQ(out[1], 7);
    EXPECT_EQ(out[2], 12345);
    int best = 0;
    for (int i = 1; i < V; ++i)
        if (x[size_t(3) * V + i] > x[size_t(3) * V + best]) best = i;
    EXPECT_EQ(out[3], best);
}

jet_sampler_params rule(float temp, int top_k, float top_p, float min_p, float penalty = 1.0f,
                        int vocab_limit = 0) {
    jet_sampler_params p;
    jet::sampler_defaults(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = penalty;
    p.repeat_last_n = 64;
    p.vocab_limit = vocab_limit;
    return p;
}

TEST(CudaSampling, SampleRowsPicksWhatTheHostSamplerPicks) {
    JET_SKIP_WITHOUT_CUDA();
    struct Case {
        int V;
        jet_sampler_params p;
        bool host;  // expected to be left to the host (-1)
    };
    const std::vector<Case> cases = {
        {151936, rule(0, 40, 0.95f, 0.05f), false},           // greedy
        {151936, rule(0, 40, 0.95f, 0.05f, 1.3f), false},     // greedy + penalty
        {151936, rule(0.8f, 40, 0.95f, 0.05f), false},        // the defaults: top-k path
        {151936, rule(1.0f, 1, 1.0f, 0), false},              // top-k 1
        {151936, rule(1.5f, 1024, 1.0f, 0), false},           // the most candidates kept
        {151936, rule(0.7f, 0, 0.9f, 0.05f), false},          // top-k off, min-p gathering
        {151936, rule(1.0f, 0, 1.0f, 0.1f, 1.2f), false},     // min-p + penalty
        {151936, rule(1.0f, 0, 0.9f, 0), true},               // top-p alone: host
        {151936, rule(1.0f, 5000, 1.0f, 0), true},            // top-k beyond 1024: host
        {151936, rule(0.9f, 40, 0.95f, 0.05f, 1.1f, 151665), false},  // vocab limit
        {300, rule(1.2f, 0, 0.95f, 0), false},                // small vocabulary: all candidates
        {300, rule(1.2f, 500, 1.0f, 0.02f, 1.5f), false},
    };
    const int reps = 6;
    const int rows = int(cases.size()) * reps;
    int maxV = 0;
    for (const Case &c : cases) maxV = std::max(maxV, c.V);
    std::vector<float> x(size_t(rows) * maxV, 0.0f);
    std::vector<cuda::SampleRow> params(static_cast<size_t>(rows));
    std::vector<int32_t> hist;
    std::mt19937_64 rng(5);
    std::vector<int32_t> want(static_cast<size_t>(rows));
    std::vector<float> want_lp(static_cast<size_t>(rows));
    for (int r = 0; r < rows; ++r) {
        const Case &c = cases[size_t(r / reps)];
        auto row = randn_bf16(size_t(c.V), 100 + uint32_t(r), 3.0f);
        row[size_t(rng() % c.V)] += 6.0f;  // a peak, as real logits have
        if (r % reps == 1) row[size_t(rng() % c.V)] = NAN;
        if (r % reps == 2) row[size_t(c.V - 1)] = 1e4f;  // a padding row above the limit
        std::copy(row.begin(), row.end(), x.begin() + int64_t(r) * maxV);
        jet::Sampler host(c.p);
        std::vector<int32_t> h;
        for (int k = 0; k < 40; ++k) h.push_back(int32_t(rng() % std::min(c.V, 2000)));
        for (int32_t t : h) host.accept(t);
        const double u = double(rng() >> 11) * 0x1.0p-53;
        cuda::SampleRow &sr = params[size_t(r)];
        sr.u = u;
        sr.temperature = c.p.temperature;
        sr.top_p = c.p.top_p;
        sr.min_p = c.p.min_p;
        sr.repeat_penalty = c.p.repeat_penalty;
        sr.top_k = c.p.top_k;
        sr.vocab_limit = c.p.vocab_limit;
        sr.hist_offset = int32_t(hist.size());
        sr.hist_len = int32_t(host.history().size());
        hist.insert(hist.end(), host.history().begin(), host.history().end());
        want[size_t(r)] = c.host ? -1 : host.pick(row.data(), c.V, u);
        want_lp[size_t(r)] = c.host ? 0.0f : jet::log_prob(row.data(), c.V, want[size_t(r)]);
    }
    // One launch per vocabulary size (rows of a launch share V).
    DevBuf<float> dx(x.size());
    upload(dx, x);
    DevBuf<cuda::SampleRow> dp(params.size());
    ASSERT_EQ(cudaMemcpy(dp.get(), params.data(), params.size() * sizeof(cuda::SampleRow),
                         cudaMemcpyHostToDevice),
              cudaSuccess);
    DevBuf<int32_t> dh(hist.size()), dt(static_cast<size_t>(rows));
    DevBuf<float> dl(static_cast<size_t>(rows));
    ASSERT_EQ(cudaMemcpy(dh.get(), hist.data(), hist.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    // Rows are laid out maxV apart; run each case's rows as their own launch over that stride.
    for (size_t ci = 0; ci < cases.size(); ++ci) {
        const int r0 = int(ci) * reps;
        if (cases[ci].V == maxV) {
            JET_LAUNCH_OK(cuda::sample_rows(dx.get() + int64_t(r0) * maxV, reps, maxV, dp.get() + r0,
                                            dh.get(), dt.get() + r0, dl.get() + r0, nullptr));
        } else {
            for (int k = 0; k < reps; ++k)  // a smaller V: one row per launch, at its offset
                JET_LAUNCH_OK(cuda::sample_rows(dx.get() + int64_t(r0 + k) * maxV, 1, cases[ci].V,
                                                dp.get() + r0 + k, dh.get(), dt.get() + r0 + k,
                                                dl.get() + r0 + k, nullptr));
        }
    }
    std::vector<int32_t> got(static_cast<size_t>(rows));
    std::vector<float> got_lp(static_cast<size_t>(rows)), after(x.size());
    ASSERT_EQ(cudaMemcpy(got.data(), dt.get(), size_t(rows) * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(got_lp.data(), dl.get(), size_t(rows) * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(after.data(), dx.get(), x.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int r = 0; r < rows; ++r) {
        EXPECT_EQ(got[size_t(r)], want[size_t(r)]) << "case " << r / reps << " row " << r % reps;
        if (want[size_t(r)] >= 0) EXPECT_NEAR(got_lp[size_t(r)], want_lp[size_t(r)], 1e-3) << r;
    }
    for (size_t i = 0; i < x.size(); ++i)
        if (!(std::isnan(x[i]) && std::isnan(after[i]))) ASSERT_EQ(after[i], x[i]) << "row " << i / maxV;
}

}  // namespace
}  // namespace jet::test
