// attention_generic_test.cpp - cuda::attention_prefill_generic / attention_decode_generic (the
// fallback for head dims the fused kernels do not serve) against an fp64 host reference:
// causal + sliding window with keys starting at an offset, GQA, and decode on a ring buffer.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

// out[hd] for one query against rows of k/v whose absolute positions are kpos[j] (< 0: empty).
std::vector<double> ref_attend(const std::vector<float> &q, size_t qoff,
                               const std::vector<float> &k, const std::vector<float> &v,
                               size_t kvoff, const std::vector<int> &kpos, int kvh, int nkv,
                               int hd, int qp, int window) {
    std::vector<double> s(kpos.size(), -INFINITY), out(size_t(hd), 0.0);
    double m = -INFINITY;
    for (size_t j = 0; j < kpos.size(); ++j) {
        const int p = kpos[j];
        if (p < 0 || p > qp || (window > 0 && qp - p >= window)) continue;
        double d = 0;
        for (int i = 0; i < hd; ++i)
            d += double(q[qoff + i]) * k[kvoff + (j * nkv + kvh) * size_t(hd) + i];
        s[j] = d / std::sqrt(double(hd));
        m = std::max(m, s[j]);
    }
    double l = 0;
    for (size_t j = 0; j < kpos.size(); ++j)
        if (std::isfinite(s[j])) {
            const double e = std::exp(s[j] - m);
            l += e;
            for (int i = 0; i < hd; ++i) out[i] += e * v[kvoff + (j * nkv + kvh) * size_t(hd) + i];
        }
    for (auto &x : out) x /= l;
    return out;
}

TEST(CudaAttentionGeneric, PrefillWithWindowAndKeyOffset) {
    JET_SKIP_WITHOUT_CUDA();
    const int B = 2, T = 9, nh = 4, nkv = 2, hd = 32, q_pos0 = 20, k_pos0 = 14, window = 7;
    const int L = q_pos0 + T - k_pos0;  // previous rows then the new ones
    const auto q = randn_bf16(size_t(B) * T * nh * hd, 101);
    const auto k = randn_bf16(size_t(B) * L * nkv * hd, 102);
    const auto v = randn_bf16(size_t(B) * L * nkv * hd, 103);
    DevBuf<bf16> dq(q.size()), dk(k.size()), dv(v.size()), dout(q.size());
    upload(dq, q);
    upload(dk, k);
    upload(dv, v);
    JET_LAUNCH_OK(cuda::attention_prefill_generic(dq.get(), dk.get(), dv.get(), dout.get(), B, T, L,
                                                  nh, nkv, hd, q_pos0, k_pos0, window, nullptr));
    const auto out = download(dout);
    std::vector<int> kpos(static_cast<size_t>(L));
    for (int j = 0; j < L; ++j) kpos[size_t(j)] = k_pos0 + j;
    std::vector<double> ref;
    for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < nh; ++h) {
                const auto o = ref_attend(q, ((size_t(b) * T + t) * nh + h) * hd, k, v,
                                          size_t(b) * L * nkv * hd, kpos, h / (nh / nkv), nkv, hd,
                                          q_pos0 + t, window);
                ref.insert(ref.end(), o.begin(), o.end());
            }
    EXPECT_LE(rel_rms(out, ref), bf16_tolerance(ref));
}

TEST(CudaAttentionGeneric, DecodeOnLinearAndRingCaches) {
    JET_SKIP_WITHOUT_CUDA();
    const int B = 3, nh = 2, nkv = 1, hd = 48, L = 8;
    const std::vector<int32_t> qpos = {3, 13, 20};
    const auto q = randn_bf16(size_t(B) * nh * hd, 111);
    const auto k = randn_bf16(size_t(B) * L * nkv * hd, 112);
    const auto v = randn_bf16(size_t(B) * L * nkv * hd, 113);
    DevBuf<bf16> dq(q.size()), dk(k.size()), dv(v.size()), dout(q.size());
    DevBuf<int32_t> dp(qpos.size());
    upload(dq, q);
    upload(dk, k);
    upload(dv, v);
    upload(dp, qpos);
    for (int ring : {0, 1}) {
        const int window = ring ? 6 : 0;
        // Linear: only qpos 3 fits a cache of 8 rows; use it for all three (rows > qpos ignored).
        std::vector<int32_t> qp = qpos;
        if (!ring) qp = {3, 7, 5};
        upload(dp, qp);
        JET_LAUNCH_OK(cuda::attention_decode_generic(dq.get(), dk.get(), dv.get(), dp.get(),
                                                     dout.get(), B, L, nh, nkv, hd, window, ring,
                                                     nullptr));
        const auto out = download(dout);
        std::vector<double> ref;
        for (int b = 0; b < B; ++b) {
            std::vector<int> kpos(static_cast<size_t>(L));
            for (int j = 0; j < L; ++j)  // ring: newest position <= qpos with p % L == j
                kpos[size_t(j)] = ring ? qp[b] - (((qp[b] - j) % L) + L) % L : j;
            for (int h = 0; h < nh; ++h) {
                const auto o = ref_attend(q, (size_t(b) * nh + h) * hd, k, v,
                                          size_t(b) * L * nkv * hd, kpos, h / (nh / nkv), nkv, hd,
                                          qp[b], window);
                ref.insert(ref.end(), o.begin(), o.end());
            }
        }
        EXPECT_LE(rel_rms(out, ref), bf16_tolerance(ref)) << "ring " << ring;
    }
}

}  // namespace
}  // namespace jet::test
