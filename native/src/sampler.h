// sampler.h - token sampling: repetition penalty, temperature, top-k, top-p, min-p, seeded RNG.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "jet.h"

namespace jet {

class Sampler {
public:
    explicit Sampler(const jet_sampler_params &p);  // params already validated
    // Picks a token from n logits (not modified). Same seed + same history + same logits =
    // same token. Throws Error(JET_ERR_INVALID_ARGUMENT) when no logit is finite.
    int32_t sample(const float *logits, int32_t n);
    void accept(int32_t token);
    void reset();

    const jet_sampler_params &params() const { return p_; }

private:
    double uniform();  // [0, 1), portable (no std distribution)

    jet_sampler_params p_;
    std::mt19937_64 rng_;
    std::deque<int32_t> history_;
    std::vector<std::pair<float, int32_t>> cand_;  // scratch
};

// Fills *p with defaults; validates a caller's params (throws Error naming the bad field).
void sampler_defaults(jet_sampler_params *p);
void sampler_validate(const jet_sampler_params &p);

}  // namespace jet
