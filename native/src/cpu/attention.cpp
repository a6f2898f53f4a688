// cpu/attention.cpp - causal / sliding-window GQA softmax attention over a slot cache (docs/model.md sections 4.5-4.6).
//
// A work item is one query token, one KV head with the group of query heads that share it, and
// a range of slots; each key and value row is read once per group (decode is bound by reading
// the cache). An item lists the slots its query may see, scores = q.k * scale, and keeps the
// softmax unnormalised: m = max score, l = sum exp(s - m), o = sum exp(s - m) v.
// When there are fewer (token, KV head) pairs than threads (decode), the slots are split into
// ranges so every thread works, and the partial results are merged:
// out = sum_r exp(m_r - M) o_r / sum_r exp(m_r - M) l_r with M = max m_r.
// A query that sees no slot gets zeros.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

constexpr float kNoScore = -std::numeric_limits<float>::infinity();

struct Scratch {
    std::vector<int32_t> visible;
    std::vector<float> scores;  // [heads in group][visible]
};

// Partial attention of n_heads query heads (q: heads contiguous) over slots [j0, j1).
// Writes o [n_heads][hd] (unnormalised), m and l [n_heads]; m = -inf when nothing is visible.
JET_CLONES
void attend_partial(const float *q, const float *k, const float *v, const int32_t *kpos, int qp,
                    int j0, int j1, int n_heads, int kvh, int nkv, int hd, int window, float scale,
                    Scratch &s, float *o, float *m, float *l) {
    s.visible.clear();
    for (int j = j0; j < j1; ++j) {
        const int32_t p = kpos[j];
        if (p >= 0 && p <= qp && (window == 0 || static_cast<int64_t>(qp) - p < window))
            s.visible.push_back(j);
    }
    const int n = static_cast<int>(s.visible.size());
    std::fill(o, o + static_cast<int64_t>(n_heads) * hd, 0.f);
    if (n == 0) {
        std::fill(m, m + n_heads, kNoScore);
        std::fill(l, l + n_heads, 0.f);
        return;
    }
    s.scores.resize(static_cast<size_t>(n_heads) * n);
    const int64_t kv_row = static_cast<int64_t>(nkv) * hd;
    // Scores, four keys at a time per head: four independent sums keep the FMA units busy
    // (one running sum waits on the previous FMA's latency).
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const int64_t off = static_cast<int64_t>(kvh) * hd;
        const float *k0 = k + s.visible[i] * kv_row + off,
                    *k1 = k + s.visible[i + 1] * kv_row + off;
        const float *k2 = k + s.visible[i + 2] * kv_row + off;
        const float *k3 = k + s.visible[i + 3] * kv_row + off;
        for (int h = 0; h < n_heads; ++h) {
            const float *qh = q + static_cast<int64_t>(h) * hd;
            float d0 = 0.f, d1 = 0.f, d2 = 0.f, d3 = 0.f;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
            for (int c = 0; c < hd; ++c) {
                d0 += qh[c] * k0[c];
                d1 += qh[c] * k1[c];
                d2 += qh[c] * k2[c];
                d3 += qh[c] * k3[c];
            }
            float *sh = s.scores.data() + static_cast<size_t>(h) * n + i;
            sh[0] = d0 * scale;
            sh[1] = d1 * scale;
            sh[2] = d2 * scale;
            sh[3] = d3 * scale;
        }
    }
    for (; i < n; ++i) {
        const float *kj = k + s.visible[i] * kv_row + static_cast<int64_t>(kvh) * hd;
        for (int h = 0; h < n_heads; ++h) {
            const float *qh = q + static_cast<int64_t>(h) * hd;
            float d = 0.f;
#pragma omp simd reduction(+ : d)
            for (int c = 0; c < hd; ++c) d += qh[c] * kj[c];
            s.scores[static_cast<size_t>(h) * n + i] = d * scale;
        }
    }
    for (int h = 0; h < n_heads; ++h) {
        float *sh = s.scores.data() + static_cast<size_t>(h) * n;
        float mx = kNoScore;
#pragma omp simd reduction(max : mx)
        for (int i = 0; i < n; ++i) mx = std::max(mx, sh[i]);
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < n; ++i) {
            sh[i] = exp_approx(sh[i] - mx);
            sum += sh[i];
        }
        m[h] = mx;
        l[h] = sum;
    }
    for (i = 0; i < n; ++i) {
        const float *vj = v + s.visible[i] * kv_row + static_cast<int64_t>(kvh) * hd;
        for (int h = 0; h < n_heads; ++h) {
            const float p = s.scores[static_cast<size_t>(h) * n + i];
            float *oh = o + static_cast<int64_t>(h) * hd;
#pragma omp simd
            for (int c = 0; c < hd; ++c) oh[c] += p * vj[c];
        }
    }
}

// out[h] = sum_r exp(m_r - M) o_r / sum_r exp(m_r - M) l_r over `parts` partials laid out as
// [part][n_heads][hd + 2] (o, then m, then l).
void merge_partials(const float *parts_data, int parts, int n_heads, int hd, float *out) {
    const int64_t stride = static_cast<int64_t>(n_heads) * (hd + 2);
    for (int h = 0; h < n_heads; ++h) {
        float M = kNoScore;
        for (int r = 0; r < parts; ++r) {
            const float *ph = parts_data + r * stride + static_cast<int64_t>(h) * (hd + 2);
            M = std::max(M, ph[hd]);
        }
        float *oh = out + static_cast<int64_t>(h) * hd;
        std::fill(oh, oh + hd, 0.f);
        if (M == kNoScore) continue;  // sees nothing
        float denom = 0.f;
        for (int r = 0; r < parts; ++r) {
            const float *ph = parts_data + r * stride + static_cast<int64_t>(h) * (hd + 2);
            if (ph[hd] == kNoScore) continue;
            const float w = std::exp(ph[hd] - M);
            denom += w * ph[hd + 1];
            for (int c = 0; c < hd; ++c) oh[c] += w * ph[c];
        }
        const float inv = 1.f / denom;
        for (int c = 0; c < hd; ++c) oh[c] *= inv;
    }
}

}  // namespace

void attention(const float *q, const float *k, const float *v, const int32_t *qpos,
               const int32_t *kpos, float *out, int T, int L, int nh, int nkv, int hd, int window) {
    if (T <= 0 || nh <= 0 || hd <= 0) return;
    const int group = nh / nkv;  // query heads per KV head
    const float scale = 1.f / std::sqrt(static_cast<float>(hd));
    const int64_t row = static_cast<int64_t>(nh) * hd;
    const int64_t pairs = static_cast<int64_t>(T) * nkv;  // (token, KV head) pairs
    // Slot ranges per pair: enough items for every thread, at least 256 slots per range.
    const int64_t threads = num_threads();
    const int splits = pairs >= threads
                           ? 1
                           : static_cast<int>(std::max<int64_t>(
                                 1, std::min<int64_t>((threads + pairs - 1) / pairs, L / 256)));
    const int64_t part_size = static_cast<int64_t>(group) * (hd + 2);
    std::vector<float> partials(splits > 1 ? static_cast<size_t>(pairs * splits * part_size) : 0);
    // Tiny problems (a small model's decode step) run inline: waking the pool costs more.
    const int64_t work = static_cast<int64_t>(T) * L * nh * hd;
    parallel_for_min(pairs * splits, work < (1 << 16) ? pairs * splits : 1, [&](int64_t b, int64_t e) {
        Scratch s;
        std::vector<float> ml(splits > 1 ? 0 : 2 * group);
        for (int64_t it = b; it < e; ++it) {
            const int64_t pair = it / splits;
            const int r = static_cast<int>(it % splits);
            const int64_t t = pair / nkv;
            const int kvh = static_cast<int>(pair % nkv);
            const float *qg = q + t * row + static_cast<int64_t>(kvh) * group * hd;
            const int j0 = static_cast<int>(static_cast<int64_t>(L) * r / splits);
            const int j1 = static_cast<int>(static_cast<int64_t>(L) * (r + 1) / splits);
            if (splits == 1) {  // the whole range: normalise in place
                float *og = out + t * row + static_cast<int64_t>(kvh) * group * hd;
                attend_partial(qg, k, v, kpos, qpos[t], j0, j1, group, kvh, nkv, hd, window, scale,
                               s, og, ml.data(), ml.data() + group);
                for (int h = 0; h < group; ++h) {
                    const float inv = ml[h] == kNoScore ? 0.f : 1.f / ml[group + h];
                    for (int c = 0; c < hd; ++c) og[static_cast<int64_t>(h) * hd + c] *= inv;
                }
            } else {
                // Partial for heads of this group, laid out [head][hd + 2]: attend into a
                // compact buffer, then spread.
                float *part = partials.data() + it * part_size;
                std::vector<float> o(static_cast<size_t>(group) * hd), m(group), l(group);
                attend_partial(qg, k, v, kpos, qpos[t], j0, j1, group, kvh, nkv, hd, window, scale,
                               s, o.data(), m.data(), l.data());
                for (int h = 0; h < group; ++h) {
                    float *ph = part + static_cast<int64_t>(h) * (hd + 2);
                    std::copy(o.begin() + static_cast<int64_t>(h) * hd,
                              o.begin() + static_cast<int64_t>(h + 1) * hd, ph);
                    ph[hd] = m[h];
                    ph[hd + 1] = l[h];
                }
            }
        }
    });
    if (splits > 1) {
        for (int64_t pair = 0; pair < pairs; ++pair) {
            const int64_t t = pair / nkv;
            const int kvh = static_cast<int>(pair % nkv);
            merge_partials(partials.data() + pair * splits * part_size, splits, group, hd,
                           out + t * row + static_cast<int64_t>(kvh) * group * hd);
        }
    }
}

}  // namespace jet::cpu
