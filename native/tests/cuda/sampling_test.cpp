// sampling_test.cpp - cuda::argmax_rows: per-row argmax over a vocabulary-sized row, ties to the
// lowest index, NaN never chosen.
#include <cmath>

#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaSampling, ArgmaxPerRow) {
    JET_SKIP_WITHOUT_CUDA();
    const int rows = 4, V = 151936;
    auto x = randn_bf16(size_t(rows) * V, 71);
    x[size_t(0) * V + 151935] = 50.0f;                 // last column
    x[size_t(1) * V + 7] = 40.0f;                      // tie: lowest index wins
    x[size_t(1) * V + 90000] = 40.0f;
    x[size_t(2) * V + 3] = NAN;                        // NaN ignored
    x[size_t(2) * V + 12345] = 60.0f;
    DevBuf<float> dx(x.size());
    DevBuf<int32_t> dout(static_cast<size_t>(rows));
    upload(dx, x);
    JET_LAUNCH_OK(cuda::argmax_rows(dx.get(), dout.get(), rows, V, nullptr));
    std::vector<int32_t> out(rows);
    ASSERT_EQ(cudaMemcpy(out.data(), dout.get(), rows * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(out[0], 151935);
    EXPECT_EQ(out[1], 7);
    EXPECT_EQ(out[2], 12345);
    int best = 0;
    for (int i = 1; i < V; ++i)
        if (x[size_t(3) * V + i] > x[size_t(3) * V + best]) best = i;
    EXPECT_EQ(out[3], best);
}

}  // namespace
}  // namespace jet::test
