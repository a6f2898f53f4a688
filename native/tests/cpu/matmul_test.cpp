// Tests for cpu/matmul.cpp against a double-precision reference: the decode (few rows) and the
// blocked GEMM (many rows) paths, edge tiles (sizes not multiples of the 6x16 tile or of the
// 256-deep panel), with and without bias.
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include "cpu/ops.h"
#include "cpu/threads.h"
#include "op_test_util.h"

namespace {

class MatmulShapes : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(MatmulShapes, MatchesReferenceWithAndWithoutBias) {
    const auto [T, K, N] = GetParam();
    const auto x = jet::test::random_vec(static_cast<size_t>(T) * K, 1 + T);
    const auto W = jet::test::random_vec(static_cast<size_t>(N) * K, 2 + N);
    const auto b = jet::test::random_vec(N, 3 + K);
    for (const float *bias : {static_cast<const float *>(nullptr), b.data()}) {
        const auto ref = jet::test::matmul_reference(x, W, bias, T, K, N);
        for (auto fn : {jet::cpu::matmul, jet::cpu::matmul_builtin}) {
            std::vector<float> y(static_cast<size_t>(T) * N, 12345.f);  // must be overwritten
            fn(x.data(), W.data(), bias, y.data(), T, K, N);
            EXPECT_LT(jet::test::rel_err(y, ref), 1e-5)
                << (fn == jet::cpu::matmul ? jet::cpu::matmul_backend() : "built-in") << " T=" << T
                << " K=" << K << " N=" << N << (bias ? " bias" : "");
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulShapes,
                         ::testing::Values(std::make_tuple(1, 1, 1), std::make_tuple(1, 37, 5),
                                           std::make_tuple(1, 1536, 103),
                                           std::make_tuple(2, 64, 33), std::make_tuple(3, 100, 9),
                                           std::make_tuple(4, 300, 17), std::make_tuple(7, 257, 50),
                                           std::make_tuple(6, 256, 16),
                                           std::make_tuple(97, 513, 130),
                                           std::make_tuple(200, 96, 1), std::make_tuple(64, 1, 64),
                                           std::make_tuple(130, 40, 200)));

std::vector<uint16_t> to_bf16(const std::vector<float> &v) {  // truncation: exact in fp32
    std::vector<uint16_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        out[i] = static_cast<uint16_t>(bits >> 16);
    }
    return out;
}

std::vector<float> from_bf16(const std::vector<uint16_t> &v) {
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        const uint32_t bits = static_cast<uint32_t>(v[i]) << 16;
        std::memcpy(&out[i], &bits, 4);
    }
    return out;
}

TEST_P(MatmulShapes, Bf16WeightsMatchReference) {
    const auto [T, K, N] = GetParam();
    const auto x = jet::test::random_vec(static_cast<size_t>(T) * K, 11 + T);
    const auto Wb = to_bf16(jet::test::random_vec(static_cast<size_t>(N) * K, 12 + N));
    const auto b = jet::test::random_vec(N, 13 + K);
    const auto ref = jet::test::matmul_reference(x, from_bf16(Wb), b.data(), T, K, N);
    const jet::test::GemvIsaLimit restore;
    for (auto isa : jet::test::gemv_isas()) {  // every GEMV kernel this CPU runs
        jet::cpu::set_gemv_isa_limit(isa);
        std::vector<float> y(static_cast<size_t>(T) * N, 12345.f);
        jet::cpu::matmul_bf16(x.data(), Wb.data(), b.data(), y.data(), T, K, N);
        EXPECT_LT(jet::test::rel_err(y, ref), 1e-5)
            << "T=" << T << " K=" << K << " N=" << N << " isa " << static_cast<int>(isa);
    }
}

TEST(Matmul, Bf16LargeShapesOnThePool) {
    for (auto [T, K, N] : {std::tuple{1, 1536, 3000}, {64, 700, 1000}, {300, 256, 12}}) {
        const auto x = jet::test::random_vec(static_cast<size_t>(T) * K, 14);
        const auto Wb = to_bf16(jet::test::random_vec(static_cast<size_t>(N) * K, 15));
        const auto ref = jet::test::matmul_reference(x, from_bf16(Wb), nullptr, T, K, N);
        std::vector<float> y(static_cast<size_t>(T) * N);
        jet::cpu::matmul_bf16(x.data(), Wb.data(), nullptr, y.data(), T, K, N);
        EXPECT_LT(jet::test::rel_err(y, ref), 1e-5) << T << " " << K << " " << N;
    }
}

TEST(Matmul, EmptyReductionGivesBias) {
    const std::vector<float> bias = {1.f, -2.f, 3.f};
    std::vector<float> y(6, 7.f);
    jet::cpu::matmul(nullptr, nullptr, bias.data(), y.data(), 2, 0, 3);
    EXPECT_EQ(y, (std::vector<float>{1.f, -2.f, 3.f, 1.f, -2.f, 3.f}));
}

TEST(Matmul, BuiltinSameResultWithOneThread) {
    const int T = 50, K = 200, N = 70;
    const auto x = jet::test::random_vec(static_cast<size_t>(T) * K, 5);
    const auto W = jet::test::random_vec(static_cast<size_t>(N) * K, 6);
    std::vector<float> y1(static_cast<size_t>(T) * N), yn(y1.size());
    const int n = jet::cpu::num_threads();
    jet::cpu::set_num_threads(1);
    jet::cpu::matmul_builtin(x.data(), W.data(), nullptr, y1.data(), T, K, N);
    jet::cpu::set_num_threads(n);
    jet::cpu::matmul_builtin(x.data(), W.data(), nullptr, yn.data(), T, K, N);
    EXPECT_EQ(y1, yn);  // each output is computed by one thread in a fixed order
}

TEST(Matmul, LargeShapesOnThePool) {
    // Big enough that every path splits the work (columns for wide, rows for narrow outputs).
    for (auto [T, K, N] : {std::tuple{64, 512, 1000}, {300, 256, 12}, {2, 2000, 3000}}) {
        const auto x = jet::test::random_vec(static_cast<size_t>(T) * K, 7);
        const auto W = jet::test::random_vec(static_cast<size_t>(N) * K, 8);
        const auto b = jet::test::random_vec(N, 9);
        const auto ref = jet::test::matmul_reference(x, W, b.data(), T, K, N);
        std::vector<float> y(static_cast<size_t>(T) * N);
        jet::cpu::matmul(x.data(), W.data(), b.data(), y.data(), T, K, N);
        EXPECT_LT(jet::test::rel_err(y, ref), 1e-5) << T << " " << K << " " << N;
    }
}

TEST(Matmul, NamesItsBackend) {
    const std::string name = jet::cpu::matmul_backend();
    EXPECT_TRUE(name == "built-in" || name.rfind("OpenBLAS ", 0) == 0) << name;
}

}  // namespace
