// sampler.h - token sampling: repetition penalty, temperature, top-k, top-p, min-p, seeded RNG.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "jet.h"

namespace jet {

// The random numbers are counter-based: draw k after a (re)seed is a pure function of (seed, k),
// so a backend that samples elsewhere (the GPU) takes next_uniform() here and picks with the
// same rule as pick() - the same logits give the same token on every backend.
class Sampler {
public:
    Sampler();                                        // greedy, no penalty
    explicit Sampler(const jet_sampler_params &p);    // params already validated
    // Picks a token from n logits (not modified), drawing the next random number. Same seed +
    // same history + same logits = same token. Throws Error(JET_ERR_INVALID_ARGUMENT) when no
    // logit is finite.
    int32_t sample(const float *logits, int32_t n) { return pick(logits, n, next_uniform()); }
    // The rule itself: repetition penalty, temperature, top-k, top-p, min-p, then the candidate
    // at cumulative mass u * (kept mass). Greedy (temperature <= 0) ignores u.
    int32_t pick(const float *logits, int32_t n, double u);
    void accept(int32_t token);
    void reset();
    double next_uniform();  // [0, 1): draw number `draws()` for the seed, then advances

    const jet_sampler_params &params() const { return p_; }
    const std::deque<int32_t> &history() const { return history_; }  // last repeat_last_n tokens
    bool greedy() const { return p_.temperature <= 0.0f; }

private:
    jet_sampler_params p_;
    uint64_t draws_ = 0;
    std::deque<int32_t> history_;
    std::vector<std::pair<float, int32_t>> cand_;  // scratch
};

// log softmax(logits[0, n))[token]: the model's log-probability of `token`.
float log_prob(const float *logits, int32_t n, int32_t token);

// Fills *p with defaults; validates a caller's params (throws Error naming the bad field).
void sampler_defaults(jet_sampler_params *p);
void sampler_validate(const jet_sampler_params &p);

}  // namespace jet
