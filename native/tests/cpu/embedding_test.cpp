// Tests for cpu/embedding.cpp: rows are gathered exactly, in order, repeats allowed.
#include <gtest/gtest.h>

#include <cstring>

#include "cpu/ops.h"
#include "op_test_util.h"

namespace {

TEST(Embedding, GathersRows) {
    const int V = 50, D = 24;
    const auto table = jet::test::random_vec(size_t(V) * D, 9);
    const std::vector<int32_t> ids = {0, 49, 7, 7, 13};
    std::vector<float> x(ids.size() * D);
    jet::cpu::embedding(table.data(), ids.data(), x.data(), int(ids.size()), D);
    for (size_t t = 0; t < ids.size(); ++t)
        for (int i = 0; i < D; ++i) EXPECT_EQ(x[t * D + i], table[size_t(ids[t]) * D + i]);
}

TEST(Embedding, ManyTokensOnThePool) {
    const int V = 1000, D = 1536, T = 300;
    const auto table = jet::test::random_vec(size_t(V) * D, 10);
    std::vector<int32_t> ids(T);
    for (int t = 0; t < T; ++t) ids[t] = (t * 37) % V;
    std::vector<float> x(size_t(T) * D);
    jet::cpu::embedding(table.data(), ids.data(), x.data(), T, D);
    for (int t = 0; t < T; ++t)
        ASSERT_TRUE(std::equal(x.begin() + size_t(t) * D, x.begin() + size_t(t + 1) * D,
                               table.begin() + size_t(ids[t]) * D))
            << t;
}

TEST(Embedding, Bf16TableIsWidenedExactly) {
    const int V = 40, D = 20;
    auto table = jet::test::random_vec(size_t(V) * D, 11);
    std::vector<uint16_t> bf(table.size());
    for (size_t i = 0; i < table.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &table[i], 4);
        bf[i] = uint16_t(bits >> 16);  // truncate: the fp32 value of bf[i] is exact below
        bits &= 0xffff0000u;
        std::memcpy(&table[i], &bits, 4);
    }
    const std::vector<int32_t> ids = {39, 0, 5, 5};
    std::vector<float> x(ids.size() * D);
    jet::cpu::embedding_bf16(bf.data(), ids.data(), x.data(), int(ids.size()), D);
    for (size_t t = 0; t < ids.size(); ++t)
        for (int i = 0; i < D; ++i) EXPECT_EQ(x[t * D + i], table[size_t(ids[t]) * D + i]);
}

}  // namespace
