// cpu/matmul_q8.cpp - y[T, N] = x[T, K] * W[N, K]^T + bias with weight-only quantized W
// (docs/quantization.md): INT8 or FP8 e4m3fn values and float scales per output channel or per
// group of `group` inputs, W[n][k] = q[n][k] * scale[n][k / group]. Activations and sums fp32.
//
//  - few rows (decode): a GEMV like matmul.cpp's, four rows of W at a time; each group's
//    products are summed in fp32 over the widened values (int8 -> float, fp8 -> float by bit
//    arithmetic, both exact) and scaled once per group. Reads 1 byte per weight: half of bf16.
//  - many rows (prefill): rows of W dequantized to fp32 block by block, then the fp32 GEMM
//    (matmul_widened in gemm_kernel.h).
#include <algorithm>
#include <cstring>

#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

constexpr int kGemvMaxRows = 3;

inline float q_value(int8_t v) { return static_cast<float>(v); }
// The value of an FP8 e4m3fn byte (exact; the NaN codes 0x7f/0xff give 480, never written by
// the quantizer): straight-line arithmetic so loops over it vectorise.
inline float q_value(uint8_t b) {
    const uint32_t mag = b & 0x7fu;
    const uint32_t bits = (mag << 20) + (120u << 23);  // normal: 2^(e-7) * (1 + m/8)
    float normal;
    std::memcpy(&normal, &bits, sizeof normal);
    const float sub = static_cast<float>(static_cast<int>(mag)) * 0x1p-9f;  // e == 0: m * 2^-9
    const float v = mag < 8 ? sub : normal;
    return (b & 0x80u) ? -v : v;
}

template <typename Q>
__attribute__((always_inline)) inline void gemv_q_impl(const float *x, const Q *W,
                                                       const float *scale, int group,
                                                       const float *bias, float *y, int T, int K,
                                                       int N, int64_t n0, int64_t n1) {
    const int G = K / group;  // groups per row
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {
        const Q *w0 = W + n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        const float *c0 = scale + n * G, *c1 = c0 + G, *c2 = c1 + G, *c3 = c2 + G;
        for (int t = 0; t < T; ++t) {
            const float *xt = x + static_cast<int64_t>(t) * K;
            float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
            for (int g = 0; g < G; ++g) {
                const int k0 = g * group, k1 = k0 + group;
                float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
                for (int k = k0; k < k1; ++k) {
                    s0 += xt[k] * q_value(w0[k]);
                    s1 += xt[k] * q_value(w1[k]);
                    s2 += xt[k] * q_value(w2[k]);
                    s3 += xt[k] * q_value(w3[k]);
                }
                a0 += s0 * c0[g];
                a1 += s1 * c1[g];
                a2 += s2 * c2[g];
                a3 += s3 * c3[g];
            }
            float *yt = y + static_cast<int64_t>(t) * N + n;
            yt[0] = a0 + (bias ? bias[n] : 0.f);
            yt[1] = a1 + (bias ? bias[n + 1] : 0.f);
            yt[2] = a2 + (bias ? bias[n + 2] : 0.f);
            yt[3] = a3 + (bias ? bias[n + 3] : 0.f);
        }
    }
    for (; n < n1; ++n) {
        const Q *w0 = W + n * K;
        const float *c0 = scale + n * G;
        for (int t = 0; t < T; ++t) {
            const float *xt = x + static_cast<int64_t>(t) * K;
            float a0 = 0.f;
            for (int g = 0; g < G; ++g) {
                float s0 = 0.f;
#pragma omp simd reduction(+ : s0)
                for (int k = g * group; k < (g + 1) * group; ++k) s0 += xt[k] * q_value(w0[k]);
                a0 += s0 * c0[g];
            }
            y[static_cast<int64_t>(t) * N + n] = a0 + (bias ? bias[n] : 0.f);
        }
    }
}

JET_CLONES
void gemv_q8(const float *x, const int8_t *W, const float *scale, int group, const float *bias,
             float *y, int T, int K, int N, int64_t n0, int64_t n1) {
    gemv_q_impl(x, W, scale, group, bias, y, T, K, N, n0, n1);
}

JET_CLONES
void gemv_fp8(const float *x, const uint8_t *W, const float *scale, int group, const float *bias,
              float *y, int T, int K, int N, int64_t n0, int64_t n1) {
    gemv_q_impl(x, W, scale, group, bias, y, T, K, N, n0, n1);
}

// dst[(n1 - n0), K] = the dequantized rows [n0, n1) of W.
template <typename Q>
__attribute__((always_inline)) inline void dequant_rows_impl(const Q *W, const float *scale,
                                                             int group, int K, int64_t n0,
                                                             int64_t n1, float *dst) {
    const int G = K / group;
    for (int64_t n = n0; n < n1; ++n) {
        const Q *w = W + n * K;
        float *d = dst + (n - n0) * K;
        for (int g = 0; g < G; ++g) {
            const float c = scale[n * G + g];
#pragma omp simd
            for (int k = g * group; k < (g + 1) * group; ++k) d[k] = q_value(w[k]) * c;
        }
    }
}

JET_CLONES
void dequant_rows_q8(const int8_t *W, const float *scale, int group, int K, int64_t n0,
                     int64_t n1, float *dst) {
    dequant_rows_impl(W, scale, group, K, n0, n1, dst);
}

JET_CLONES
void dequant_rows_fp8(const uint8_t *W, const float *scale, int group, int K, int64_t n0,
                      int64_t n1, float *dst) {
    dequant_rows_impl(W, scale, group, K, n0, n1, dst);
}

bool trivial(const float *bias, float *y, int T, int K, int N) {
    if (T <= 0 || N <= 0) return true;
    if (K <= 0) {
        for (int t = 0; t < T; ++t)
            for (int n = 0; n < N; ++n) y[static_cast<int64_t>(t) * N + n] = bias ? bias[n] : 0.f;
        return true;
    }
    return false;
}

template <typename Q, typename Gemv, typename Dequant>
void matmul_q(const float *x, const Q *W, const float *scale, int group, const float *bias,
              float *y, int T, int K, int N, Gemv gemv, Dequant dequant) {
    if (trivial(bias, y, T, K, N)) return;
    if (group <= 0 || K % group != 0) group = K;  // callers pass a divisor; be safe
    if (T <= kGemvMaxRows) {
        const int64_t items = (N + 15) / 16;
        const int64_t min_items = std::max<int64_t>(1, 65536 / (16LL * K));
        parallel_for_min(items, min_items, [&](int64_t b, int64_t e) {
            gemv(x, W, scale, group, bias, y, T, K, N, b * 16, std::min<int64_t>(N, e * 16));
        });
        return;
    }
    matmul_widened(
        [&](int64_t n0, int64_t n1, float *dst) { dequant(W, scale, group, K, n0, n1, dst); }, x,
        bias, y, T, K, N);
}

}  // namespace

void matmul_q8(const float *x, const int8_t *W, const float *scale, int group, const float *bias,
               float *y, int T, int K, int N) {
    matmul_q(x, W, scale, group, bias, y, T, K, N, gemv_q8, dequant_rows_q8);
}

void matmul_fp8(const float *x, const uint8_t *W, const float *scale, int group,
                const float *bias, float *y, int T, int K, int N) {
    matmul_q(x, W, scale, group, bias, y, T, K, N, gemv_fp8, dequant_rows_fp8);
}

}  // namespace jet::cpu
