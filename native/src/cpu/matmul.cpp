// cpu/matmul.cpp - y[T, N] = x[T, K] * W[N, K]^T + bias: every Linear layer of the model.
//
// Two paths:
//  - few rows (decode, T <= kGemvMaxRows): memory-bound on W. Threads split N; each walks four
//    rows of W at a time and dots them with every x row (vectorised reduction).
//  - many rows (prefill): OpenBLAS's sgemm when the build found it (JET_HAVE_OPENBLAS; it beat
//    the built-in kernel by ~1.5x on the 2B's prefill shapes, see native/bench/README.md), run
//    single-threaded inside each of our pool's threads on a slice of the columns, so OpenBLAS's
//    own threads never compete with the pool. Otherwise the built-in kernel:
//    a packed, cache-blocked GEMM. W is packed per thread into panels of
//    kNR columns x kKC depth ([k][kNR], contiguous) and multiplied by kMR rows of x at a time in a
//    register-tiled micro-kernel (6 x 16 with AVX2/FMA, chosen at run time; a portable kernel
//    otherwise). Work items are (row block, column block) tiles, so both tall and wide products
//    use every thread.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"
#include "cpu/simd.h"

#if JET_X86_DISPATCH
#include <immintrin.h>
#endif
#if JET_HAVE_OPENBLAS
#include <cblas.h>

#include <mutex>
#endif

namespace jet::cpu {
namespace {

constexpr int kGemvMaxRows = 3;
// The decode GEMV splits over threads only with at least this many weights per thread: a
// smaller split costs more in waking and joining the pool than it saves (a small model's decode
// step, on a busy machine above all).
constexpr int64_t kGemvMinPerThread = 262144;
constexpr int kMR = 6;    // rows of x per micro-kernel call
constexpr int kNR = 16;   // columns of y (rows of W) per packed panel
constexpr int kKC = 256;  // depth of one packed panel (kKC x kNR floats = 16 KiB, L1-resident)
constexpr int kTB = 96;   // rows of x per work item (a multiple of kMR)
constexpr int kNB = 64;   // columns per work item (a multiple of kNR)

// ---- decode path -------------------------------------------------------------------------

inline float weight_f32(float w) { return w; }
inline float weight_f32(uint16_t h) {  // bfloat16 bits
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// Rows [n0, n1) of y for every x row; W holds float or bfloat16 weights. Always inlined into the
// multiversioned wrappers below, so each CPU target gets its own vectorised copy.
template <typename Wt>
__attribute__((always_inline)) inline void gemv_rows_impl(const float *x, const Wt *W,
                                                          const float *bias, float *y, int T,
                                                          int K, int N, int64_t n0, int64_t n1) {
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {
        const Wt *w0 = W + n * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        for (int t = 0; t < T; ++t) {
            const float *xt = x + static_cast<int64_t>(t) * K;
            float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (int k = 0; k < K; ++k) {
                s0 += xt[k] * weight_f32(w0[k]);
                s1 += xt[k] * weight_f32(w1[k]);
                s2 += xt[k] * weight_f32(w2[k]);
                s3 += xt[k] * weight_f32(w3[k]);
            }
            float *yt = y + static_cast<int64_t>(t) * N + n;
            yt[0] = s0 + (bias ? bias[n] : 0.f);
            yt[1] = s1 + (bias ? bias[n + 1] : 0.f);
            yt[2] = s2 + (bias ? bias[n + 2] : 0.f);
            yt[3] = s3 + (bias ? bias[n + 3] : 0.f);
        }
    }
    for (; n < n1; ++n) {
        const Wt *w0 = W + n * K;
        for (int t = 0; t < T; ++t) {
            const float *xt = x + static_cast<int64_t>(t) * K;
            float s0 = 0.f;
#pragma omp simd reduction(+ : s0)
            for (int k = 0; k < K; ++k) s0 += xt[k] * weight_f32(w0[k]);
            y[static_cast<int64_t>(t) * N + n] = s0 + (bias ? bias[n] : 0.f);
        }
    }
}

JET_CLONES
void gemv_rows(const float *x, const float *W, const float *bias, float *y, int T, int K, int N,
               int64_t n0, int64_t n1) {
    gemv_rows_impl(x, W, bias, y, T, K, N, n0, n1);
}

// gemv_rows with bfloat16 weights (half the bytes to read).
JET_CLONES
void gemv_rows_bf16(const float *x, const uint16_t *W, const float *bias, float *y, int T, int K,
                    int N, int64_t n0, int64_t n1) {
    gemv_rows_impl(x, W, bias, y, T, K, N, n0, n1);
}

#if JET_X86_DISPATCH
// GCC's AVX-512 intrinsics (_mm512_reduce_add_ps, the masked loads) start from
// _mm512_undefined_*, which -Wmaybe-uninitialized reports (GCC bug 105593): a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// gemv_rows_bf16 with AVX-512: 16 weights per load, widened to fp32 by a zero-extend and a
// shift (exact), four W rows at a time with two accumulators each (eight FMA chains), masked
// tails. Sums in another order than the generic loop (fp32 rounding differences only).
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) inline __m512 bf16x16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p))), 16));
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) inline __m512 bf16x16_masked(
    const uint16_t *p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <int R>
__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) inline void gemv_block_avx512(
    const float *xt, const uint16_t *const *w, int K, float *out) {
    __m512 a[R], b[R];
    for (int r = 0; r < R; ++r) a[r] = b[r] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        const __m512 x0 = _mm512_loadu_ps(xt + k), x1 = _mm512_loadu_ps(xt + k + 16);
        for (int r = 0; r < R; ++r) {
            a[r] = _mm512_fmadd_ps(x0, bf16x16(w[r] + k), a[r]);
            b[r] = _mm512_fmadd_ps(x1, bf16x16(w[r] + k + 16), b[r]);
        }
    }
    for (; k < K; k += 16) {
        const __mmask16 m = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, xt + k);
        for (int r = 0; r < R; ++r) a[r] = _mm512_fmadd_ps(x0, bf16x16_masked(w[r] + k, m), a[r]);
    }
    for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a[r], b[r]));
}

__attribute__((target("avx512f,avx512bw,avx512vl,fma"))) void gemv_rows_bf16_avx512(
    const float *x, const uint16_t *W, const float *bias, float *y, int T, int K, int N,
    int64_t n0, int64_t n1) {
    int64_t n = n0;
    float s[4];
    for (; n + 4 <= n1; n += 4) {
        const uint16_t *w[4] = {W + n * K, W + (n + 1) * K, W + (n + 2) * K, W + (n + 3) * K};
        for (int t = 0; t < T; ++t) {
            gemv_block_avx512<4>(x + static_cast<int64_t>(t) * K, w, K, s);
            float *yt = y + static_cast<int64_t>(t) * N + n;
            for (int r = 0; r < 4; ++r) yt[r] = s[r] + (bias ? bias[n + r] : 0.f);
        }
    }
    for (; n < n1; ++n) {
        const uint16_t *w[1] = {W + n * K};
        for (int t = 0; t < T; ++t) {
            gemv_block_avx512<1>(x + static_cast<int64_t>(t) * K, w, K, s);
            y[static_cast<int64_t>(t) * N + n] = s[0] + (bias ? bias[n] : 0.f);
        }
    }
}

#pragma GCC diagnostic pop
#endif

// The bf16 GEMV rows for this CPU.
using GemvBf16 = void (*)(const float *, const uint16_t *, const float *, float *, int, int, int,
                          int64_t, int64_t);
GemvBf16 pick_gemv_bf16() {
#if JET_X86_DISPATCH
    if (gemv_isa() == GemvIsa::Avx512) return gemv_rows_bf16_avx512;
#endif
    return gemv_rows_bf16;
}

JET_CLONES
void bf16_rows_to_f32(const uint16_t *src, float *dst, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dst[i] = weight_f32(src[i]);
}

// ---- prefill path ------------------------------------------------------------------------

// packed[k][j] = W[n0 + j][k0 + k] for j < nr (zero for nr <= j < kNR).
void pack_panel(const float *W, int K, int64_t n0, int nr, int k0, int kc, float *packed) {
    for (int j = 0; j < nr; ++j) {
        const float *src = W + (n0 + j) * K + k0;
        for (int k = 0; k < kc; ++k) packed[k * kNR + j] = src[k];
    }
    for (int j = nr; j < kNR; ++j)
        for (int k = 0; k < kc; ++k) packed[k * kNR + j] = 0.f;
}

// c[i][j] += sum_k a[i][k] * packed[k][j] for i < mr, j < nr. a: kMR row pointers (rows past mr
// repeat a valid row and are discarded).
void kernel_portable(int kc, const float *const *a, const float *b, int64_t ldb, float *c,
                     int64_t ldc, int mr, int nr) {
    float acc[kMR][kNR] = {};
    for (int k = 0; k < kc; ++k) {
        const float *bk = b + k * ldb;
        for (int i = 0; i < kMR; ++i) {
            const float ai = a[i][k];
            for (int j = 0; j < kNR; ++j) acc[i][j] += ai * bk[j];
        }
    }
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) c[i * ldc + j] += acc[i][j];
}

#if JET_X86_DISPATCH
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float *const *a, const float *b,
                                                     int64_t ldb, float *c, int64_t ldc, int mr,
                                                     int nr) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int k = 0; k < kc; ++k) {
        const __m256 b0 = _mm256_loadu_ps(b + k * ldb);
        const __m256 b1 = _mm256_loadu_ps(b + k * ldb + 8);
        __m256 ai = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(ai, b0, c00);
        c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(ai, b0, c10);
        c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(ai, b0, c20);
        c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a3 + k);
        c30 = _mm256_fmadd_ps(ai, b0, c30);
        c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a4 + k);
        c40 = _mm256_fmadd_ps(ai, b0, c40);
        c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a5 + k);
        c50 = _mm256_fmadd_ps(ai, b0, c50);
        c51 = _mm256_fmadd_ps(ai, b1, c51);
    }
    const __m256 acc[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                {c30, c31}, {c40, c41}, {c50, c51}};
    if (nr == kNR) {
        for (int i = 0; i < mr; ++i) {
            float *ci = c + i * ldc;
            _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]));
            _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]));
        }
    } else {
        alignas(32) float tmp[kNR];
        for (int i = 0; i < mr; ++i) {
            _mm256_store_ps(tmp, acc[i][0]);
            _mm256_store_ps(tmp + 8, acc[i][1]);
            for (int j = 0; j < nr; ++j) c[i * ldc + j] += tmp[j];
        }
    }
}
#endif

// c[i][j] += sum_k a[i][k] * b[k * ldb + j] for i < mr, j < nr; reads b[k * ldb + 0..15].
using Kernel = void (*)(int, const float *const *, const float *, int64_t, float *, int64_t, int,
                        int);

Kernel pick_kernel() {
#if JET_X86_DISPATCH
    if (cpu_has_avx2_fma()) return kernel_avx2;
#endif
    return kernel_portable;
}

// One work item: rows [t0, t1) x columns [n0, n1) of y. Wn0 points at row n0 of W.
void gemm_tile(const float *x, const float *Wn0, const float *bias, float *y, int K, int N, int t0,
               int t1, int64_t n0, int64_t n1, float *packed, Kernel kernel) {
    for (int t = t0; t < t1; ++t) {
        float *yt = y + static_cast<int64_t>(t) * N;
        if (bias)
            std::memcpy(yt + n0, bias + n0, sizeof(float) * (n1 - n0));
        else
            std::memset(yt + n0, 0, sizeof(float) * (n1 - n0));
    }
    for (int k0 = 0; k0 < K; k0 += kKC) {
        const int kc = std::min(kKC, K - k0);
        for (int64_t p = n0; p < n1; p += kNR) {
            const int nr = static_cast<int>(std::min<int64_t>(kNR, n1 - p));
            pack_panel(Wn0, K, p - n0, nr, k0, kc, packed);
            for (int t = t0; t < t1; t += kMR) {
                const int mr = std::min(kMR, t1 - t);
                const float *a[kMR];
                for (int i = 0; i < kMR; ++i)
                    a[i] = x + static_cast<int64_t>(t + (i < mr ? i : 0)) * K + k0;
                kernel(kc, a, packed, kNR, y + static_cast<int64_t>(t) * N + p, N, mr, nr);
            }
        }
    }
}

}  // namespace

void gemm_acc(int m, int n, int k, const float *A, int64_t lda, const float *B, int64_t ldb,
              float *C, int64_t ldc) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    static const Kernel kernel = pick_kernel();
    std::vector<float> padded;  // B columns of a last, partial panel, zero-padded to kNR
    for (int j0 = 0; j0 < n; j0 += kNR) {
        const int nr = std::min(kNR, n - j0);
        const float *b = B + j0;
        int64_t ldb_used = ldb;
        if (nr < kNR) {  // the kernel reads kNR columns: give it a padded copy
            padded.assign(static_cast<size_t>(k) * kNR, 0.f);
            for (int kk = 0; kk < k; ++kk)
                for (int j = 0; j < nr; ++j) padded[kk * kNR + j] = B[kk * ldb + j0 + j];
            b = padded.data();
            ldb_used = kNR;
        }
        for (int i0 = 0; i0 < m; i0 += kMR) {
            const int mr = std::min(kMR, m - i0);
            const float *a[kMR];
            for (int i = 0; i < kMR; ++i) a[i] = A + (i0 + (i < mr ? i : 0)) * lda;
            kernel(k, a, b, ldb_used, C + i0 * ldc + j0, ldc, mr, nr);
        }
    }
}

namespace {

// Handles the cases every path shares; returns true when nothing is left to do.
bool matmul_trivial(const float *bias, float *y, int T, int K, int N) {
    if (T <= 0 || N <= 0) return true;
    if (K <= 0) {  // empty reduction: y = bias
        for (int t = 0; t < T; ++t)
            for (int n = 0; n < N; ++n) y[static_cast<int64_t>(t) * N + n] = bias ? bias[n] : 0.f;
        return true;
    }
    return false;
}

void gemv(const float *x, const float *W, const float *bias, float *y, int T, int K, int N) {
    // Items of 16 rows of W; inline when W is small (under ~64K multiply-adds per thread).
    const int64_t items = (N + 15) / 16;
    const int64_t min_items = std::max<int64_t>(1, kGemvMinPerThread / (16LL * K));
    parallel_for_min(items, min_items, [&](int64_t b, int64_t e) {
        gemv_rows(x, W, bias, y, T, K, N, b * 16, std::min<int64_t>(N, e * 16));
    });
}

#if JET_HAVE_OPENBLAS
// y[t0:t1, n0:n1] with one single-threaded sgemm. Wn0 points at row n0 of W.
void blas_block(const float *x, const float *Wn0, const float *bias, float *y, int K, int N,
                int64_t t0, int64_t t1, int64_t n0, int64_t n1) {
    for (int64_t t = t0; t < t1; ++t) {
        float *yt = y + t * N + n0;
        if (bias)
            std::memcpy(yt, bias + n0, sizeof(float) * (n1 - n0));
        else
            std::memset(yt, 0, sizeof(float) * (n1 - n0));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(t1 - t0),
                static_cast<int>(n1 - n0), K, 1.f, x + t0 * K, K, Wn0, K, 1.f, y + t0 * N + n0, N);
}

void matmul_openblas(const float *x, const float *W, const float *bias, float *y, int T, int K,
                     int N) {
    // Our pool provides the threads: OpenBLAS runs one thread per call (process-wide setting).
    static std::once_flag once;
    std::call_once(once, [] { openblas_set_num_threads(1); });
    const int64_t work = static_cast<int64_t>(T) * K * N;
    if (work < (1LL << 20)) return blas_block(x, W, bias, y, K, N, 0, T, 0, N);  // inline
    if (N >= 32LL * num_threads()) {  // one slice of columns (multiple of 16) per thread
        parallel_for((N + 15) / 16, [&](int64_t b, int64_t e) {
            blas_block(x, W + b * 16 * K, bias, y, K, N, 0, T, b * 16,
                       std::min<int64_t>(N, e * 16));
        });
    } else {  // few columns (e.g. the JetBlock's a/b projections): slices of rows
        parallel_for_min(
            T, 8, [&](int64_t b, int64_t e) { blas_block(x, W, bias, y, K, N, b, e, 0, N); });
    }
}
#endif

}  // namespace

const char *matmul_backend() {
#if JET_HAVE_OPENBLAS
    return "OpenBLAS " JET_OPENBLAS_VERSION;
#else
    return "built-in";
#endif
}

void matmul(const float *x, const float *W, const float *bias, float *y, int T, int K, int N) {
    if (matmul_trivial(bias, y, T, K, N)) return;
    if (T <= kGemvMaxRows) return gemv(x, W, bias, y, T, K, N);
#if JET_HAVE_OPENBLAS
    matmul_openblas(x, W, bias, y, T, K, N);
#else
    matmul_builtin(x, W, bias, y, T, K, N);
#endif
}

void bf16_to_f32(const uint16_t *src, float *dst, int64_t n) { bf16_rows_to_f32(src, dst, n); }

void matmul_bf16(const float *x, const uint16_t *W, const float *bias, float *y, int T, int K,
                 int N) {
    if (matmul_trivial(bias, y, T, K, N)) return;
    if (T <= kGemvMaxRows) {
        const GemvBf16 rows = pick_gemv_bf16();
        const int64_t items = (N + 15) / 16;
        const int64_t min_items = std::max<int64_t>(1, kGemvMinPerThread / (16LL * K));
        parallel_for_min(items, min_items, [&](int64_t b, int64_t e) {
            rows(x, W, bias, y, T, K, N, b * 16, std::min<int64_t>(N, e * 16));
        });
        return;
    }
    matmul_widened(
        [W, K](int64_t n0, int64_t n1, float *dst) { bf16_rows_to_f32(W + n0 * K, dst, (n1 - n0) * K); },
        x, bias, y, T, K, N);
}

void matmul_widened(const std::function<void(int64_t, int64_t, float *)> &widen, const float *x,
                    const float *bias, float *y, int T, int K, int N) {
    // Each thread takes a slice of the columns and, block by block of W rows, widens the block
    // to fp32 (a few MiB at most) and runs the fp32 GEMM on it. The widening reads W once; the
    // GEMM's work is T times larger.
    const int64_t block_rows = std::max<int64_t>(16, ((1 << 20) / K) / 16 * 16);
#if !JET_HAVE_OPENBLAS
    const Kernel kernel = pick_kernel();
#endif
    const int64_t items = (N + 15) / 16;
    const int64_t work = static_cast<int64_t>(T) * K * N;
    parallel_for_min(items, work < (1LL << 20) ? items : 1, [&](int64_t b, int64_t e) {
        const int64_t s0 = b * 16, s1 = std::min<int64_t>(N, e * 16);
        std::vector<float> wf(static_cast<size_t>(std::min(block_rows, s1 - s0)) * K);
#if !JET_HAVE_OPENBLAS
        std::vector<float> packed(static_cast<size_t>(kKC) * kNR);
#endif
        for (int64_t n0 = s0; n0 < s1; n0 += block_rows) {
            const int64_t n1 = std::min(s1, n0 + block_rows);
            widen(n0, n1, wf.data());
#if JET_HAVE_OPENBLAS
            static std::once_flag once;
            std::call_once(once, [] { openblas_set_num_threads(1); });
            blas_block(x, wf.data(), bias, y, K, N, 0, T, n0, n1);
#else
            for (int t0 = 0; t0 < T; t0 += kTB)
                gemm_tile(x, wf.data(), bias, y, K, N, t0, std::min(T, t0 + kTB), n0, n1,
                          packed.data(), kernel);
#endif
        }
    });
}

void matmul_builtin(const float *x, const float *W, const float *bias, float *y, int T, int K,
                    int N) {
    if (matmul_trivial(bias, y, T, K, N)) return;
    if (T <= kGemvMaxRows) return gemv(x, W, bias, y, T, K, N);
    const Kernel kernel = pick_kernel();
    const int64_t tb = (T + kTB - 1) / kTB, nb = (N + kNB - 1) / kNB;
    const int64_t items = tb * nb;
    const int64_t work_per_item = static_cast<int64_t>(std::min(T, kTB)) * std::min(N, kNB) * K;
    const int64_t min_items =
        std::max<int64_t>(1, (1LL << 18) / std::max<int64_t>(1, work_per_item));
    parallel_for_min(items, min_items, [&](int64_t b, int64_t e) {
        std::vector<float> packed(static_cast<size_t>(kKC) * kNR);
        for (int64_t it = b; it < e; ++it) {
            const int64_t ti = it / nb, ni = it % nb;
            const int t0 = static_cast<int>(ti * kTB), t1 = std::min(T, t0 + kTB);
            const int64_t n0 = ni * kNB, n1 = std::min<int64_t>(N, n0 + kNB);
            gemm_tile(x, W + n0 * K, bias, y, K, N, t0, t1, n0, n1, packed.data(), kernel);
        }
    });
}

}  // namespace jet::cpu
