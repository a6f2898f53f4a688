// rope_test.cpp - cuda::bias_rope_split: bias add, rotate-half RoPE on q and k at absolute
// positions (large ones too), v passed through, against an fp64 host reference; and its decode
// form cuda::bias_rope_store, which puts k / v straight into each sequence's cache.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaRope, BiasRopeSplitMatchesReference) {
    JET_SKIP_WITHOUT_CUDA();
    const int nh = 4, nkv = 2, hd = 64, T = 6, W = (nh + 2 * nkv) * hd;
    const double theta = 1e6;
    const std::vector<int32_t> pos = {0, 1, 2, 100, 4095, 65000};
    const auto qkv = randn_bf16(size_t(T) * W, 41);
    const auto bias = randn_bf16(size_t(W), 42, 0.5f);
    DevBuf<float> dqkv(qkv.size());
    DevBuf<bf16> db(bias.size()), dq(size_t(T) * nh * hd), dk(size_t(T) * nkv * hd),
        dv(size_t(T) * nkv * hd);
    DevBuf<int32_t> dp(pos.size());
    upload(dqkv, qkv);
    upload(db, bias);
    upload(dp, pos);
    JET_LAUNCH_OK(cuda::bias_rope_split(dqkv.get(), db.get(), dp.get(), dq.get(), dk.get(), dv.get(),
                                        T, nh, nkv, hd, float(theta), nullptr));
    const auto q = download(dq), k = download(dk), v = download(dv);
    std::vector<double> rq(q.size()), rk(k.size()), rv(v.size());
    for (int t = 0; t < T; ++t) {
        for (int head = 0; head < nh + nkv; ++head)
            for (int j = 0; j < hd / 2; ++j) {
                const int c = head * hd + j;
                const double a = qkv[t * W + c] + bias[c], b = qkv[t * W + c + hd / 2] + bias[c + hd / 2];
                // fp32 inverse frequency and angle, as the official code computes them
                const float inv = float(std::pow(theta, -2.0 * j / hd));
                const double ang = double(float(pos[t]) * inv);
                const double o1 = a * std::cos(ang) - b * std::sin(ang);
                const double o2 = b * std::cos(ang) + a * std::sin(ang);
                auto &dst = head < nh ? rq : rk;
                const int base = head < nh ? t * nh * hd + head * hd : t * nkv * hd + (head - nh) * hd;
                dst[base + j] = o1;
                dst[base + j + hd / 2] = o2;
            }
        for (int i = 0; i < nkv * hd; ++i)
            rv[t * nkv * hd + i] = qkv[t * W + (nh + nkv) * hd + i] + bias[(nh + nkv) * hd + i];
    }
    EXPECT_LE(rel_rms(q, rq), bf16_tolerance(rq));
    EXPECT_LE(rel_rms(k, rk), bf16_tolerance(rk));
    EXPECT_LE(rel_rms(v, rv), bf16_tolerance(rv));
}

// bias_rope_store = bias_rope_split + k / v rows written to cache slot seqs[t] at row pos[t]
// (pos[t] % cap for a ring), bit for bit, and nothing else of the caches touched.
TEST(CudaRope, BiasRopeStoreWritesEachSequencesCache) {
    JET_SKIP_WITHOUT_CUDA();
    const int nh = 4, nkv = 2, hd = 64, B = 3, W = (nh + 2 * nkv) * hd, kvd = nkv * hd;
    const int n_seq = 4, cap = 10;
    const float theta = 1e4f, poison = -768.0f;  // exact in bf16
    const std::vector<int32_t> seqs = {2, 0, 3}, pos = {4, 9, 23};
    const auto qkv = randn_bf16(size_t(B) * W, 43);
    const auto bias = randn_bf16(size_t(W), 44, 0.5f);
    DevBuf<float> dqkv(qkv.size());
    DevBuf<bf16> db(bias.size()), dq(size_t(B) * nh * hd), dk(size_t(B) * kvd), dv(size_t(B) * kvd),
        dq2(size_t(B) * nh * hd);
    DevBuf<int32_t> dp(pos.size()), ds(seqs.size());
    upload(dqkv, qkv);
    upload(db, bias);
    upload(dp, pos);
    upload(ds, seqs);
    JET_LAUNCH_OK(cuda::bias_rope_split(dqkv.get(), db.get(), dp.get(), dq.get(), dk.get(), dv.get(),
                                        B, nh, nkv, hd, theta, nullptr));
    const auto q = download(dq), k = download(dk), v = download(dv);
    for (const bool ring : {false, true}) {
        const int rows = ring ? cap : 32;
        DevBuf<bf16> kc(size_t(n_seq) * rows * kvd), vc(size_t(n_seq) * rows * kvd);
        upload(kc, std::vector<float>(kc.size(), poison));
        upload(vc, std::vector<float>(vc.size(), poison));
        JET_LAUNCH_OK(cuda::bias_rope_store(dqkv.get(), db.get(), dp.get(), ds.get(), dq2.get(),
                                            kc.get(), vc.get(), int64_t(rows) * kvd, rows, ring, B,
                                            nh, nkv, hd, theta, nullptr));
        EXPECT_EQ(download(dq2), q);
        const auto kh = download(kc), vh = download(vc);
        int written = 0;
        for (size_t i = 0; i < kh.size(); ++i) written += (kh[i] != poison) + (vh[i] != poison);
        EXPECT_EQ(written, 2 * B * kvd) << "ring " << ring;
        for (int b = 0; b < B; ++b) {
            const size_t row = size_t(seqs[b]) * rows + (ring ? pos[b] % cap : pos[b]);
            for (int c = 0; c < kvd; ++c) {
                ASSERT_EQ(kh[row * kvd + c], k[size_t(b) * kvd + c]) << b << " ring " << ring;
                ASSERT_EQ(vh[row * kvd + c], v[size_t(b) * kvd + c]) << b << " ring " << ring;
            }
        }
    }
}

}  // namespace
}  // namespace jet::test
