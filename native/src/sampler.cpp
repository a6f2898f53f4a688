// sampler.cpp - the order follows Hugging Face's generate(): repetition penalty, temperature,
// top-k, top-p, min-p, then a draw from the renormalised distribution.
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "error.h"
#include "sample_rule.h"

namespace jet {

void sampler_defaults(jet_sampler_params *p) {
    *p = jet_sampler_params{};
    p->size = sizeof(jet_sampler_params);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
}

void sampler_validate(const jet_sampler_params &p) {
    auto bad = [](const char *field, const char *why) {
        throw Error(JET_ERR_INVALID_ARGUMENT, std::string("sampler params: ") + field + " " + why);
    };
    if (!std::isfinite(p.temperature)) bad("temperature", "must be finite");
    if (!std::isfinite(p.top_p) || p.top_p <= 0) bad("top_p", "must be in (0, 1] (>= 1 is off)");
    if (!std::isfinite(p.min_p) || p.min_p > 1) bad("min_p", "must be <= 1 (<= 0 is off)");
    if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0)
        bad("repeat_penalty", "must be positive (1 is off)");
    if (p.repeat_last_n < 0) bad("repeat_last_n", "must be >= 0");
    if (p.vocab_limit < 0) bad("vocab_limit", "must be >= 0 (0 is off)");
}

namespace {
jet_sampler_params greedy_params() {
    jet_sampler_params p;
    sampler_defaults(&p);
    p.temperature = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}
}  // namespace

Sampler::Sampler() : p_(greedy_params()) {}

Sampler::Sampler(const jet_sampler_params &p) : p_(p) {}

void Sampler::reset() {
    history_.clear();
    draws_ = 0;
}

void Sampler::accept(int32_t token) {
    history_.push_back(token);
    while (int64_t(history_.size()) > std::max(p_.repeat_last_n, 0)) history_.pop_front();
}

double Sampler::next_uniform() {
    // splitmix64 of (seed, draw index): a counter-based generator, portable and stateless.
    uint64_t z = p_.seed + 0x9e3779b97f4a7c15ull * (draws_++ + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53;
}

float log_prob(const float *logits, int32_t n, int32_t token) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; ++i)
        if (logits[i] > mx) mx = logits[i];
    if (!std::isfinite(mx)) return logits[token] == mx ? 0.0f : -INFINITY;
    double sum = 0;
    for (int32_t i = 0; i < n; ++i)
        if (!std::isnan(logits[i])) sum += std::exp(double(logits[i] - mx));
    return float(double(logits[token] - mx) - std::log(sum));
}

int32_t Sampler::pick(const float *logits, int32_t n, double u) {
    if (p_.vocab_limit > 0) n = std::min(n, p_.vocab_limit);  // padding rows of the LM head
    cand_.clear();
    cand_.reserve(size_t(n));
    for (int32_t i = 0; i < n; ++i)
        if (std::isfinite(logits[i]) || logits[i] == -INFINITY) cand_.push_back({logits[i], i});
    if (cand_.empty()) throw Error(JET_ERR_INVALID_ARGUMENT, "sampler: every logit is NaN");

    if (p_.repeat_penalty != 1.0f && !history_.empty()) {
        std::unordered_set<int32_t> seen(history_.begin(), history_.end());
        for (auto &c : cand_) {
            if (!seen.count(c.second)) continue;
            c.first = c.first > 0 ? c.first / p_.repeat_penalty : c.first * p_.repeat_penalty;
        }
    }
    auto greater = [](const std::pair<float, int32_t> &a, const std::pair<float, int32_t> &b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    if (p_.temperature <= 0.0f) {
        return std::min_element(cand_.begin(), cand_.end(), greater)->second;
    }
    for (auto &c : cand_) c.first /= p_.temperature;
    size_t keep = cand_.size();
    if (p_.top_k > 0 && size_t(p_.top_k) < keep) {
        keep = size_t(p_.top_k);
        std::partial_sort(cand_.begin(), cand_.begin() + keep, cand_.end(), greater);
        cand_.resize(keep);
    } else {
        std::sort(cand_.begin(), cand_.end(), greater);
    }
    // Softmax over the kept candidates (sorted, largest first).
    const float mx = cand_[0].first;
    if (!std::isfinite(mx)) return cand_[0].second;  // +inf dominates; all -inf: the first
    std::vector<double> prob(keep);
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += prob[i] = std::exp(double(cand_[i].first - mx));
    for (double &q : prob) q /= sum;
    return cand_[size_t(pick_sorted(prob.data(), int(keep), p_.top_p, p_.min_p, u))].second;
}

}  // namespace jet
