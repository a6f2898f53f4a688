// rmsnorm_test.cpp - cuda::rmsnorm and cuda::gated_rmsnorm against fp64 host references.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaRmsnorm, MatchesReferenceOnOddAndWideRows) {
    JET_SKIP_WITHOUT_CUDA();
    for (int D : {7, 128, 1536, 2048}) {
        const int T = 5;
        const auto x = randn_bf16(size_t(T) * D, 1 + D, 3.0f);
        const auto w = randn_bf16(size_t(D), 2 + D);
        DevBuf<float> dx(x.size());
        DevBuf<bf16> dw(w.size()), dy(x.size());
        upload(dx, x);
        upload(dw, w);
        JET_LAUNCH_OK(cuda::rmsnorm(dx.get(), dw.get(), dy.get(), T, D, 1e-6f, nullptr));
        const auto y = download(dy);
        std::vector<double> ref(x.size());
        for (int t = 0; t < T; ++t) {
            double ss = 0;
            for (int i = 0; i < D; ++i) ss += double(x[t * D + i]) * x[t * D + i];
            const double r = 1.0 / std::sqrt(ss / D + 1e-6);
            for (int i = 0; i < D; ++i) ref[t * D + i] = x[t * D + i] * r * w[i];
        }
        EXPECT_LE(rel_rms(y, ref), bf16_tolerance(ref)) << "D=" << D;
    }
}

TEST(CudaGatedRmsnorm, NormalisesEachHeadAndGatesWithSilu) {
    JET_SKIP_WITHOUT_CUDA();
    const int T = 3, H = 4, D = 64, ldg = H * D + 24;  // G is a strided slice
    const auto o = randn_bf16(size_t(T) * H * D, 11, 0.2f);
    const auto G = randn_bf16(size_t(T) * ldg, 12, 2.0f);
    const auto w = randn_bf16(size_t(D), 13);
    DevBuf<float> d_o(o.size()), dG(G.size());
    DevBuf<bf16> dw(w.size()), dy(o.size());
    upload(d_o, o);
    upload(dG, G);
    upload(dw, w);
    JET_LAUNCH_OK(cuda::gated_rmsnorm(d_o.get(), dG.get(), ldg, dw.get(), dy.get(), T, H, D, 1e-5f,
                                      nullptr));
    const auto y = download(dy);
    std::vector<double> ref(o.size());
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
            double ss = 0;
            for (int i = 0; i < D; ++i) ss += double(o[(t * H + h) * D + i]) * o[(t * H + h) * D + i];
            const double r = 1.0 / std::sqrt(ss / D + 1e-5);
            for (int i = 0; i < D; ++i) {
                const double g = G[t * ldg + h * D + i];
                ref[(t * H + h) * D + i] = o[(t * H + h) * D + i] * r * w[i] * g / (1 + std::exp(-g));
            }
        }
    EXPECT_LE(rel_rms(y, ref), bf16_tolerance(ref));
}

}  // namespace
}  // namespace jet::test
