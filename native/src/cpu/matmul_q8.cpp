// cpu/matmul_q8.cpp - y[T, N] = x[T, K] * W[N, K]^T + bias with weight-only quantized W
// (docs/quantization.md): INT8 or FP8 e4m3fn values and float scales per output channel or per
// group of `group` inputs, W[n][k] = q[n][k] * scale[n][k / group]. Activations and sums fp32.
//
//  - few rows (decode): a GEMV like matmul.cpp's, four rows of W at a time; each group's
//    products are summed in fp32 over the widened values (int8 -> float by conversion; fp8 ->
//    fp16 by a shift, then vcvtph2ps; all exact) and scaled once per group: AVX-512 or
//    AVX2/FMA/F16C intrinsics when the CPU has them (gemv_isa()), else a loop the compiler
//    vectorises. Reads 1 byte per weight: half of bf16.
//  - many rows (prefill): rows of W dequantized to fp32 block by block, then the fp32 GEMM
//    (matmul_widened in gemm_kernel.h).
#include <algorithm>
#include <cstring>

#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"
#include "cpu/simd.h"

#if JET_X86_DISPATCH
#include <immintrin.h>
#endif

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
void gemv_q8_portable(const float *x, const int8_t *W, const float *scale, int group,
                      const float *bias, float *y, int T, int K, int N, int64_t n0, int64_t n1) {
    gemv_q_impl(x, W, scale, group, bias, y, T, K, N, n0, n1);
}

JET_CLONES
void gemv_fp8_portable(const float *x, const uint8_t *W, const float *scale, int group,
                       const float *bias, float *y, int T, int K, int N, int64_t n0, int64_t n1) {
    gemv_q_impl(x, W, scale, group, bias, y, T, K, N, n0, n1);
}

#if JET_X86_DISPATCH
// Eight weights widened to fp32. INT8: sign-extend and convert. FP8 e4m3fn: a shift to fp16,
// (s eeee mmm) -> (s 0eeee mmm0000000), which is 2^-8 times the fp8 value, subnormals included;
// vcvtph2ps widens 8 of them at once (exact), and the 2^8 goes into the scale.
struct WidenI8 {
    static constexpr float kMul = 1.0f;
    __attribute__((target("avx2,fma,f16c"))) static __m256 load(const int8_t *p) {
        return _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))));
    }
};
// The shift is done on the byte sign-extended to 16 bits, (s..s s eeee mmm) << 7, which puts s in
// bit 15 and a copy of it in bit 14, cleared by the mask: three integer instructions.
constexpr short kFp8ToFp16Mask = static_cast<short>(0xbfff);
struct WidenFp8 {
    static constexpr float kMul = 256.0f;
    __attribute__((target("avx2,fma,f16c"))) static __m256 load(const uint8_t *p) {
        const __m128i b = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)));
        return _mm256_cvtph_ps(_mm_and_si128(_mm_slli_epi16(b, 7), _mm_set1_epi16(kFp8ToFp16Mask)));
    }
};

__attribute__((target("avx2,fma,f16c"))) inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// gemv_q_impl with AVX2/FMA/F16C intrinsics: four rows of W share each load of x; rows past the
// last multiple of 4 go to `tail`.
template <typename Widen, typename Q>
__attribute__((target("avx2,fma,f16c"))) void gemv_q_avx2(
    const float *x, const Q *W, const float *scale, int group, const float *bias, float *y, int T,
    int K, int N, int64_t n0, int64_t n1,
    void (*tail)(const float *, const Q *, const float *, int, const float *, float *, int, int,
                 int, int64_t, int64_t)) {
    const int G = K / group;
    const int gv = group / 8 * 8;  // vectorised part of each group
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {
        const Q *w[4] = {W + n * K, W + (n + 1) * K, W + (n + 2) * K, W + (n + 3) * K};
        for (int t = 0; t < T; ++t) {
            const float *xt = x + static_cast<int64_t>(t) * K;
            // Per-group sums scaled into vector accumulators; one horizontal sum per row.
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            float tail_sum[4] = {0.f, 0.f, 0.f, 0.f};
            for (int g = 0; g < G; ++g) {
                const int k0 = g * group;
                __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
                __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
                for (int k = k0; k < k0 + gv; k += 8) {
                    const __m256 xv = _mm256_loadu_ps(xt + k);
                    s0 = _mm256_fmadd_ps(Widen::load(w[0] + k), xv, s0);
                    s1 = _mm256_fmadd_ps(Widen::load(w[1] + k), xv, s1);
                    s2 = _mm256_fmadd_ps(Widen::load(w[2] + k), xv, s2);
                    s3 = _mm256_fmadd_ps(Widen::load(w[3] + k), xv, s3);
                }
                const float *c = scale + n * G + g;
                a0 = _mm256_fmadd_ps(s0, _mm256_set1_ps(c[0] * Widen::kMul), a0);
                a1 = _mm256_fmadd_ps(s1, _mm256_set1_ps(c[G] * Widen::kMul), a1);
                a2 = _mm256_fmadd_ps(s2, _mm256_set1_ps(c[2 * G] * Widen::kMul), a2);
                a3 = _mm256_fmadd_ps(s3, _mm256_set1_ps(c[3 * G] * Widen::kMul), a3);
                for (int i = 0; i < 4; ++i) {
                    float r = 0.f;
                    for (int k = k0 + gv; k < k0 + group; ++k) r += xt[k] * q_value(w[i][k]);
                    tail_sum[i] += r * c[i * G];
                }
            }
            const float a[4] = {hsum(a0) + tail_sum[0], hsum(a1) + tail_sum[1],
                                hsum(a2) + tail_sum[2], hsum(a3) + tail_sum[3]};
            for (int i = 0; i < 4; ++i)
                y[static_cast<int64_t>(t) * N + n + i] = a[i] + (bias ? bias[n + i] : 0.f);
        }
    }
    if (n < n1) tail(x, W, scale, group, bias, y, T, K, N, n, n1);
}

// GCC's masked AVX-512 loads start from _mm*_undefined_*, which -Wmaybe-uninitialized reports
// (GCC bug 105593): a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define JET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
// Sixteen weights widened to fp32 as above, with AVX-512; `m` selects the first weights of a
// group's last, partial 16.
struct WidenI8x16 {
    static constexpr float kMul = WidenI8::kMul;
    JET_AVX512 static __m512 load(const int8_t *p, __mmask16 m = 0xffff) {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
    }
};
struct WidenFp8x16 {
    static constexpr float kMul = WidenFp8::kMul;
    JET_AVX512 static __m512 load(const uint8_t *p, __mmask16 m = 0xffff) {
        const __m256i b = _mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8(m, p));
        return _mm512_cvtph_ps(
            _mm256_and_si256(_mm256_slli_epi16(b, 7), _mm256_set1_epi16(kFp8ToFp16Mask)));
    }
};

// R rows of W (R = 4, or 1 for the rows past the last multiple of 4) times one row of x, with
// AVX-512: each group summed in its own vector, scaled into one accumulator per row, the group's
// last partial 16 masked.
template <int R, typename Widen, typename Q>
JET_AVX512 inline void gemv_q_block_avx512(const float *xt, const Q *const *w, const float *scale,
                                           int G, int group, float *out) {
    const int gv = group / 16 * 16;
    const __mmask16 tail = static_cast<__mmask16>((1u << (group - gv)) - 1);
    __m512 a[R];
    for (int r = 0; r < R; ++r) a[r] = _mm512_setzero_ps();
    for (int g = 0; g < G; ++g) {
        const int k0 = g * group;
        __m512 s[R];
        for (int r = 0; r < R; ++r) s[r] = _mm512_setzero_ps();
        for (int k = k0; k < k0 + gv; k += 16) {
            const __m512 xv = _mm512_loadu_ps(xt + k);
            for (int r = 0; r < R; ++r) s[r] = _mm512_fmadd_ps(Widen::load(w[r] + k), xv, s[r]);
        }
        if (tail) {
            const __m512 xv = _mm512_maskz_loadu_ps(tail, xt + k0 + gv);
            for (int r = 0; r < R; ++r)
                s[r] = _mm512_fmadd_ps(Widen::load(w[r] + k0 + gv, tail), xv, s[r]);
        }
        for (int r = 0; r < R; ++r)
            a[r] = _mm512_fmadd_ps(s[r], _mm512_set1_ps(scale[r * G + g] * Widen::kMul), a[r]);
    }
    for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(a[r]);
}

template <typename Widen, typename Q>
JET_AVX512 void gemv_q_avx512(const float *x, const Q *W, const float *scale, int group,
                              const float *bias, float *y, int T, int K, int N, int64_t n0,
                              int64_t n1) {
    const int G = K / group;
    float s[4];
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {
        const Q *w[4] = {W + n * K, W + (n + 1) * K, W + (n + 2) * K, W + (n + 3) * K};
        for (int t = 0; t < T; ++t) {
            gemv_q_block_avx512<4, Widen>(x + static_cast<int64_t>(t) * K, w, scale + n * G, G,
                                          group, s);
            float *yt = y + static_cast<int64_t>(t) * N + n;
            for (int r = 0; r < 4; ++r) yt[r] = s[r] + (bias ? bias[n + r] : 0.f);
        }
    }
    for (; n < n1; ++n) {
        const Q *w[1] = {W + n * K};
        for (int t = 0; t < T; ++t) {
            gemv_q_block_avx512<1, Widen>(x + static_cast<int64_t>(t) * K, w, scale + n * G, G,
                                          group, s);
            y[static_cast<int64_t>(t) * N + n] = s[0] + (bias ? bias[n] : 0.f);
        }
    }
}
#undef JET_AVX512
#pragma GCC diagnostic pop
#endif

void gemv_q8(const float *x, const int8_t *W, const float *scale, int group, const float *bias,
             float *y, int T, int K, int N, int64_t n0, int64_t n1) {
#if JET_X86_DISPATCH
    switch (gemv_isa()) {
    case GemvIsa::Avx512:
        return gemv_q_avx512<WidenI8x16>(x, W, scale, group, bias, y, T, K, N, n0, n1);
    case GemvIsa::Avx2:
        return gemv_q_avx2<WidenI8>(x, W, scale, group, bias, y, T, K, N, n0, n1,
                                    gemv_q8_portable);
    case GemvIsa::Portable: break;
    }
#endif
    gemv_q8_portable(x, W, scale, group, bias, y, T, K, N, n0, n1);
}

void gemv_fp8(const float *x, const uint8_t *W, const float *scale, int group, const float *bias,
              float *y, int T, int K, int N, int64_t n0, int64_t n1) {
#if JET_X86_DISPATCH
    switch (gemv_isa()) {
    case GemvIsa::Avx512:
        return gemv_q_avx512<WidenFp8x16>(x, W, scale, group, bias, y, T, K, N, n0, n1);
    case GemvIsa::Avx2:
        return gemv_q_avx2<WidenFp8>(x, W, scale, group, bias, y, T, K, N, n0, n1,
                                     gemv_fp8_portable);
    case GemvIsa::Portable: break;
    }
#endif
    gemv_fp8_portable(x, W, scale, group, bias, y, T, K, N, n0, n1);
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
