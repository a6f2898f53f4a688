// activations_test.cpp - cuda::silu_mul, silu_to_bf16 and to_bf16 against host references.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

double silu(double x) { return x / (1 + std::exp(-x)); }

TEST(CudaActivations, SiluMulReadsGateThenUp) {
    JET_SKIP_WITHOUT_CUDA();
    const int T = 7, N = 333;
    const auto gu = randn_bf16(size_t(T) * 2 * N, 21, 3.0f);
    DevBuf<float> dgu(gu.size());
    DevBuf<bf16> dout(size_t(T) * N);
    upload(dgu, gu);
    JET_LAUNCH_OK(cuda::silu_mul(dgu.get(), dout.get(), T, N, nullptr));
    const auto out = download(dout);
    std::vector<double> ref(size_t(T) * N);
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) ref[t * N + n] = silu(gu[t * 2 * N + n]) * gu[t * 2 * N + N + n];
    EXPECT_LE(rel_rms(out, ref), bf16_tolerance(ref));
}

TEST(CudaActivations, StridedConversionsToBf16) {
    JET_SKIP_WITHOUT_CUDA();
    const int T = 4, N = 50, ld = 77;
    const auto x = randn_bf16(size_t(T) * ld, 22, 4.0f);
    DevBuf<float> dx(x.size());
    DevBuf<bf16> d1(size_t(T) * N), d2(size_t(T) * N);
    upload(dx, x);
    JET_LAUNCH_OK(cuda::silu_to_bf16(dx.get() + 3, ld, d1.get(), T, N, nullptr));
    JET_LAUNCH_OK(cuda::to_bf16(dx.get() + 3, ld, d2.get(), T, N, nullptr));
    const auto a = download(d1), b = download(d2);
    std::vector<double> ra(size_t(T) * N), rb(size_t(T) * N);
    for (int t = 0; t < T; ++t)
        for (int n = 0; n < N; ++n) {
            ra[t * N + n] = silu(x[t * ld + 3 + n]);
            rb[t * N + n] = x[t * ld + 3 + n];
        }
    EXPECT_LE(rel_rms(a, ra), bf16_tolerance(ra));
    EXPECT_EQ(rel_rms(b, rb), 0.0);  // inputs are bf16 values: exact
}

}  // namespace
}  // namespace jet::test
