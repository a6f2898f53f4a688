// embedding_test.cpp - cuda::embedding copies the chosen bf16 rows exactly.
#include "cuda_ops_test_util.h"

namespace jet::test {
namespace {

TEST(CudaEmbedding, GathersRowsExactly) {
    JET_SKIP_WITHOUT_CUDA();
    const int V = 97, D = 136;
    const std::vector<int32_t> ids = {0, 96, 5, 5, 41};
    const auto table = randn_bf16(size_t(V) * D, 31);
    DevBuf<bf16> dt(table.size());
    DevBuf<int32_t> di(ids.size());
    DevBuf<float> dx(ids.size() * D);
    upload(dt, table);
    upload(di, ids);
    JET_LAUNCH_OK(cuda::embedding(dt.get(), di.get(), dx.get(), int(ids.size()), D, nullptr));
    const auto x = download(dx);
    for (size_t t = 0; t < ids.size(); ++t)
        for (int i = 0; i < D; ++i) ASSERT_EQ(x[t * D + i], table[size_t(ids[t]) * D + i]);
}

}  // namespace
}  // namespace jet::test
