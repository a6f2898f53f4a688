// sample_rule.h - the last part of the sampling rule, shared by the host sampler (sampler.cpp)
// and the GPU one (cuda/sampling.cu) so that both pick the same token: given the softmax of the
// candidates sorted largest first, cut by top-p and min-p and draw at cumulative mass u.
#pragma once

#if defined(__CUDACC__)
#define JET_HOST_DEVICE __host__ __device__
#else
#define JET_HOST_DEVICE
#endif

namespace jet {

// prob[0, n): the candidates' probabilities, largest first, normalised over every candidate that
// could be kept (n >= 1). Returns the index of the pick: the smallest prefix whose mass reaches
// top_p (top_p >= 1: off), then min-p (candidates below min_p * prob[0] dropped; <= 0: off), then
// the candidate at u * (kept mass), u in [0, 1).
JET_HOST_DEVICE inline int pick_sorted(const double *prob, int n, float top_p, float min_p, double u) {
    int keep = n;
    if (top_p < 1.0f) {  // smallest prefix whose mass reaches top_p (at least one token)
        double acc = 0;
        int k = 0;
        while (k < keep) {
            acc += prob[k++];
            if (acc >= double(top_p)) break;
        }
        keep = k;
    }
    if (min_p > 0.0f) {  // drop tokens below min_p * the top probability
        const double floor = double(min_p) * prob[0];
        int k = 1;
        while (k < keep && prob[k] >= floor) ++k;
        keep = k;
    }
    double mass = 0;
    for (int i = 0; i < keep; ++i) mass += prob[i];
    double r = u * mass;
    for (int i = 0; i < keep; ++i) {
        r -= prob[i];
        if (r < 0) return i;
    }
    return keep - 1;
}

}  // namespace jet
