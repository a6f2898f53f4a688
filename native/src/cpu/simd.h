// cpu/simd.h - internal helpers shared by the CPU operator files (not part of any interface).
//
// JET_CLONES compiles a function twice, for x86-64-v3 (AVX2 + FMA + F16C) and for the baseline,
// and picks one at load time (GCC/Clang function multiversioning through ifunc): the library runs
// on any x86-64 CPU and uses AVX2/FMA where the CPU has it, without -march=native. Hot loops are
// written so the compiler vectorises them (contiguous inner loops, `#pragma omp simd` reductions,
// enabled by -fopenmp-simd, which needs no OpenMP runtime).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>

#include "cpu/threads.h"

// JET_X86_DISPATCH: hand-written AVX2/FMA and AVX-512 kernels are compiled (target attribute) and
// chosen at run time (cpu_has_avx2_fma(), cpu_has_avx512(), gemv_isa()).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define JET_X86_DISPATCH 1
#else
#define JET_X86_DISPATCH 0
#endif
#if JET_X86_DISPATCH && defined(__ELF__) && !defined(JET_NO_MULTIVERSION)
#define JET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define JET_CLONES
#endif

namespace jet::cpu {

// parallel_for when there are at least min_items items per thread, inline otherwise: short jobs
// cost less than the wake-up of the pool.
inline void parallel_for_min(int64_t n, int64_t min_items,
                             const std::function<void(int64_t, int64_t)> &fn) {
    if (n <= 0) return;
    if (n < 2 * min_items) {
        fn(0, n);
        return;
    }
    parallel_for(n, fn);
}

// True when the CPU runs AVX2 and FMA (hand-written kernels dispatch on this).
inline bool cpu_has_avx2_fma() {
#if JET_X86_DISPATCH
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
#else
    return false;
#endif
}

// True when the CPU runs the AVX-512 subsets the hand-written 512-bit kernels use (F, BW, VL;
// FMA and F16C come with them).
inline bool cpu_has_avx512() {
#if JET_X86_DISPATCH
    static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    return has;
#else
    return false;
#endif
}

// The decode GEMVs (bf16, INT8, FP8 weights) choose their kernel at each call: the widest
// instruction set the CPU runs (Avx2: AVX2 + FMA + F16C), at most the limit set here. Tests
// lower the limit to run the narrower kernels on a wider CPU.
enum class GemvIsa : int { Portable = 0, Avx2 = 1, Avx512 = 2 };
inline std::atomic<int> &gemv_isa_limit_value() {
    static std::atomic<int> limit{static_cast<int>(GemvIsa::Avx512)};
    return limit;
}
inline void set_gemv_isa_limit(GemvIsa isa) {
    gemv_isa_limit_value().store(static_cast<int>(isa), std::memory_order_relaxed);
}
inline GemvIsa gemv_isa() {
#if JET_X86_DISPATCH
    const int limit = gemv_isa_limit_value().load(std::memory_order_relaxed);
    if (limit >= static_cast<int>(GemvIsa::Avx512) && cpu_has_avx512()) return GemvIsa::Avx512;
    static const bool has_f16c = __builtin_cpu_supports("f16c");
    if (limit >= static_cast<int>(GemvIsa::Avx2) && cpu_has_avx2_fma() && has_f16c)
        return GemvIsa::Avx2;
#endif
    return GemvIsa::Portable;
}

// e^x in float, within 2 ulp of expf for finite x (Cephes' degree-6 polynomial on
// [-ln2/2, ln2/2] and an exponent built from bits), written as straight-line arithmetic so that
// loops calling it vectorise (libm's expf does not). Below -87.3 gives 0, above 88.37 +inf.
inline float exp_approx(float x) {
    const float hi = 88.3762626647949f, lo = -87.3365447504f;
    const float xc = x > hi ? hi : (x < lo ? lo : x);
    // n = round(x / ln2) by the 1.5 * 2^23 trick (exact under round-to-nearest).
    const float t = xc * 1.44269504088896341f + 12582912.f;
    const float n = t - 12582912.f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.f;
    // NaN x: n is NaN, whose int cast (and the shift) would be undefined; use 0 (y is NaN anyway).
    const int32_t bits = (n == n ? static_cast<int32_t>(n) + 127 : 0) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float y = p * scale;
    return x < lo ? 0.f : (x > hi ? __builtin_inff() : y);
}

// silu(x) = x * sigmoid(x) = x / (1 + e^-x), vectorisable.
inline float silu_approx(float x) { return x / (1.f + exp_approx(-x)); }

}  // namespace jet::cpu
