// kv_cache_test.cpp - cuda::kv_store / kv_ring_gather move rows exactly, ring
// buffers wrap, and nothing outside the addressed rows is touched.
#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

constexpr float kPoison = -768.0f;  // exact in bf16

TEST(CudaKvCache, LinearAndRingStores) {
    JET_SKIP_WITHOUT_CUDA();
    const int width = 24, cap = 8, T = 11, pos0 = 5;
    const auto src = randn_bf16(size_t(T) * width, 61);
    DevBuf<bf16> dsrc(src.size()), lin(size_t(32) * width), ring(size_t(cap) * width);
    upload(dsrc, src);
    upload(lin, std::vector<float>(lin.size(), kPoison));
    upload(ring, std::vector<float>(ring.size(), kPoison));
    JET_LAUNCH_OK(cuda::kv_store(dsrc.get(), lin.get(), T, width, pos0, 32, false, nullptr));
    JET_LAUNCH_OK(cuda::kv_store(dsrc.get(), ring.get(), T, width, pos0, cap, true, nullptr));
    const auto l = download(lin), r = download(ring);
    for (int row = 0; row < 32; ++row)
        for (int i = 0; i < width; ++i) {
            const bool in = row >= pos0 && row < pos0 + T;
            ASSERT_EQ(l[row * width + i], in ? src[(row - pos0) * width + i] : kPoison) << row;
        }
    // The ring holds the last `cap` positions 8..15 at rows p % 8.
    for (int p = pos0 + T - cap; p < pos0 + T; ++p)
        for (int i = 0; i < width; ++i)
            ASSERT_EQ(r[(p % cap) * width + i], src[(p - pos0) * width + i]) << p;

    // Gather positions 10..15 back in order.
    DevBuf<bf16> dst(size_t(6) * width);
    JET_LAUNCH_OK(cuda::kv_ring_gather(ring.get(), dst.get(), 6, width, 10, cap, nullptr));
    const auto g = download(dst);
    for (int i = 0; i < 6; ++i)
        for (int c = 0; c < width; ++c) ASSERT_EQ(g[i * width + c], src[(10 + i - pos0) * width + c]);
}

}  // namespace
}  // namespace jet::test
