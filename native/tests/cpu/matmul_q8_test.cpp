// Tests for cpu/matmul_q8.cpp: the INT8 and FP8 weight-only matmuls (decode GEMV and prefill GEMM
// paths, per-channel and per-group scales, bias) against a double-precision matmul of the
// dequantized weights, and the FP8 e4m3fn codec of quant_format.h.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "cpu/ops.h"
#include "op_test_util.h"
#include "quant_format.h"
#include "safetensors.h"

namespace {

// Random quantized weights: bytes (int8 or fp8 codes, never the fp8 NaN codes) and positive scales.
struct QW {
    std::vector<uint8_t> q;
    std::vector<float> scale, dequant;
};

QW make(int N, int K, int group, bool fp8, uint32_t seed) {
    std::mt19937 rng(seed);
    QW w;
    w.q.resize(size_t(N) * K);
    for (auto &b : w.q) {
        b = uint8_t(rng() & 0xff);
        if (!fp8 && b == 0x80) b = 0x81;        // int8 weights are in [-127, 127]
        if (fp8 && (b & 0x7f) == 0x7f) b ^= 1;  // no NaN
    }
    const int G = K / group;
    w.scale = jet::test::random_vec(size_t(N) * G, seed + 1, 0.001f, 0.02f);
    w.dequant.resize(w.q.size());
    for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) {
            const uint8_t b = w.q[size_t(n) * K + k];
            const float v = fp8 ? jet::fp8_e4m3_to_f32(b) : float(int8_t(b));
            w.dequant[size_t(n) * K + k] = v * w.scale[size_t(n) * G + k / group];
        }
    return w;
}

class QuantMatmul : public ::testing::TestWithParam<std::tuple<int, int, int, int>> {};

TEST_P(QuantMatmul, MatchesTheDequantizedMatmul) {
    const auto [T, K, N, group] = GetParam();
    const auto x = jet::test::random_vec(size_t(T) * K, 10 + T);
    const auto b = jet::test::random_vec(size_t(N), 11 + N);
    // Every GEMV kernel this CPU runs (for T > 3, the GEMM path, each pass runs the same code).
    const jet::test::GemvIsaLimit restore;
    for (auto isa : jet::test::gemv_isas()) {
        jet::cpu::set_gemv_isa_limit(isa);
        for (bool fp8 : {false, true}) {
            const QW w = make(N, K, group, fp8, 100 + K + N + fp8);
            for (const float *bias : {static_cast<const float *>(nullptr), b.data()}) {
                const auto ref = jet::test::matmul_reference(x, w.dequant, bias, T, K, N);
                std::vector<float> y(size_t(T) * N, 12345.f);
                if (fp8)
                    jet::cpu::matmul_fp8(x.data(), w.q.data(), w.scale.data(), group, bias,
                                         y.data(), T, K, N);
                else
                    jet::cpu::matmul_q8(x.data(), reinterpret_cast<const int8_t *>(w.q.data()),
                                        w.scale.data(), group, bias, y.data(), T, K, N);
                // fp32 sums of the same products: rounding only.
                EXPECT_LT(jet::test::rel_err(y, ref), 2e-6)
                    << (fp8 ? "fp8" : "int8") << " T=" << T << " K=" << K << " N=" << N
                    << " group=" << group << (bias ? " bias" : "") << " isa "
                    << static_cast<int>(isa);
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, QuantMatmul,
                         ::testing::Values(std::make_tuple(1, 64, 5, 64),     // per channel
                                           std::make_tuple(1, 256, 37, 64),   // groups
                                           std::make_tuple(2, 200, 33, 200),  // odd K
                                           std::make_tuple(1, 100, 9, 100),   // K % 8 != 0
                                           std::make_tuple(2, 100, 13, 20),   // group % 8 != 0
                                           std::make_tuple(1, 72, 9, 24),     // group % 16 == 8
                                           std::make_tuple(1, 1536, 21, 128), // 2B-like rows
                                           std::make_tuple(3, 256, 16, 128),
                                           std::make_tuple(7, 256, 40, 64),   // GEMM path
                                           std::make_tuple(40, 96, 70, 32),
                                           std::make_tuple(100, 512, 130, 512)));

TEST(QuantMatmul, EmptyReductionGivesTheBias) {
    const float bias[3] = {1.f, 2.f, 3.f};
    float y[3] = {};
    jet::cpu::matmul_q8(nullptr, nullptr, nullptr, 1, bias, y, 1, 0, 3);
    EXPECT_EQ(y[2], 3.f);
}

TEST(Fp8E4M3, DecodesTheKnownValues) {
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0x00), 0.0f);
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0x38), 1.0f);
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0x7e), 448.0f);
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0xfe), -448.0f);
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
    EXPECT_EQ(jet::fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));  // smallest normal
    EXPECT_TRUE(std::isnan(jet::fp8_e4m3_to_f32(0x7f)));
    EXPECT_TRUE(std::isnan(jet::fp8_e4m3_to_f32(0xff)));
}

TEST(Fp8E4M3, EncodeRoundTripsEveryCodeAndRoundsToNearest) {
    for (int b = 0; b < 256; ++b) {
        if ((b & 0x7f) == 0x7f) continue;
        EXPECT_EQ(jet::f32_to_fp8_e4m3(jet::fp8_e4m3_to_f32(uint8_t(b))), uint8_t(b)) << b;
    }
    // Every value lands on a nearest code (ties: either neighbour at equal distance).
    const auto x = jet::test::random_vec(20000, 7, -500.f, 500.f);
    for (float v : x) {
        const float got = jet::fp8_e4m3_to_f32(jet::f32_to_fp8_e4m3(v));
        float best = INFINITY;
        for (int b = 0; b < 256; ++b)
            if ((b & 0x7f) != 0x7f)
                best = std::min(best, std::fabs(jet::fp8_e4m3_to_f32(uint8_t(b)) - v));
        EXPECT_EQ(std::fabs(got - v), best) << v;
    }
    EXPECT_EQ(jet::f32_to_fp8_e4m3(1e6f), 0x7e);  // saturates
    EXPECT_EQ(jet::f32_to_fp8_e4m3(-1e6f), 0xfe);
}

TEST(QuantizeRow, ErrorIsAtMostHalfAStep) {
    const int K = 256, group = 64;
    auto w = jet::test::random_vec(K, 3, -0.2f, 0.2f);
    for (int k = 64; k < 128; ++k) w[size_t(k)] = 0.0f;  // an all-zero group
    std::vector<uint8_t> q(K);
    std::vector<float> s(K / group);
    jet::quantize_row(w.data(), K, group, JET_WEIGHT_INT8, q.data(), s.data());
    EXPECT_EQ(s[1], 1.0f);
    for (int k = 0; k < K; ++k) {
        const float back = float(int8_t(q[size_t(k)])) * s[size_t(k / group)];
        EXPECT_LE(std::fabs(back - w[size_t(k)]), 0.5f * s[size_t(k / group)] * 1.0001f) << k;
    }
    jet::quantize_row(w.data(), K, group, JET_WEIGHT_FP8_E4M3, q.data(), s.data());
    for (int k = 0; k < K; ++k) {
        const float back = jet::fp8_e4m3_to_f32(q[size_t(k)]) * s[size_t(k / group)];
        EXPECT_LE(std::fabs(back - w[size_t(k)]), std::fabs(w[size_t(k)]) / 16 + 1e-6f) << k;
    }
}

}  // namespace
