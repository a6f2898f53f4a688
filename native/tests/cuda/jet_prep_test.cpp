// jet_prep_test.cpp - cuda::jet_qk_gates: q, k = l2norm(silu(.)) per head, and the gates.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaJetPrep, QkL2NormAndGatesMatchReference) {
    JET_SKIP_WITHOUT_CUDA();
    const int T = 5, H = 3, dK = 96, ab = 2 * H * dK + 40, ld = ab + 2 * H + 2;
    auto proj = randn_bf16(size_t(T) * ld, 51, 2.0f);
    proj[size_t(ab)] = 30.0f;  // softplus above its linear threshold
    const auto A_log = randn_bf16(size_t(H), 52);
    const auto dt_bias = randn_bf16(size_t(H), 53);
    DevBuf<float> dp(proj.size()), dA(static_cast<size_t>(H)), ddt(static_cast<size_t>(H)), dg(size_t(T) * H),
        dbeta(size_t(T) * H);
    DevBuf<bf16> dq(size_t(T) * H * dK), dk(size_t(T) * H * dK);
    upload(dp, proj);
    upload(dA, A_log);
    upload(ddt, dt_bias);
    JET_LAUNCH_OK(cuda::jet_qk_gates(dp.get(), ld, ab, dA.get(), ddt.get(), dq.get(), dk.get(),
                                     dg.get(), dbeta.get(), T, H, dK, nullptr));
    const auto q = download(dq), k = download(dk), g = download(dg), beta = download(dbeta);
    std::vector<double> rq(q.size()), rk(k.size()), rg(g.size()), rb(beta.size());
    for (int t = 0; t < T; ++t) {
        for (int j = 0; j < 2 * H; ++j) {
            double ss = 0;
            std::vector<double> s(dK);
            for (int i = 0; i < dK; ++i) {
                const double x = proj[size_t(t) * ld + j * dK + i];
                s[i] = x / (1 + std::exp(-x));
                ss += s[i] * s[i];
            }
            auto &dst = j < H ? rq : rk;
            for (int i = 0; i < dK; ++i)
                dst[(size_t(t) * H + j % H) * dK + i] = s[i] / std::sqrt(ss + 1e-6);
        }
        for (int h = 0; h < H; ++h) {
            const double a = proj[size_t(t) * ld + ab + h] + dt_bias[h];
            const double sp = a > 20 ? a : std::log1p(std::exp(a));
            rg[t * H + h] = -std::exp(double(A_log[h])) * sp;
            rb[t * H + h] = 1 / (1 + std::exp(-double(proj[size_t(t) * ld + ab + H + h])));
        }
    }
    EXPECT_LE(rel_rms(q, rq), bf16_tolerance(rq));
    EXPECT_LE(rel_rms(k, rk), bf16_tolerance(rk));
    EXPECT_LE(rel_rms(g, rg), 1e-5);
    EXPECT_LE(rel_rms(beta, rb), 1e-5);
}

}  // namespace
}  // namespace jet::test
