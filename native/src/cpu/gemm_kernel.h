// cpu/gemm_kernel.h - the register-tiled GEMM kernel of matmul.cpp, for operators that multiply
// small dense blocks themselves (the chunked gated delta rule). Internal to native/src/cpu.
#pragma once

#include <cstdint>
#include <functional>

namespace jet::cpu {

// C[m, n] += A[m, k] * B[k, n], single-threaded. Row strides lda, ldb, ldc (row-major, unit
// column stride). Uses the 6x16 AVX2/FMA micro-kernel when the CPU has it.
void gemm_acc(int m, int n, int k, const float *A, int64_t lda, const float *B, int64_t ldb,
              float *C, int64_t ldc);

// y[T, N] = x[T, K] W^T + bias (bias may be null) for many rows (T > 3), W given as rows that
// `widen(n0, n1, dst)` writes as fp32 into dst [(n1 - n0), K] (a bf16 or quantized W), block by
// block inside each thread's slice of N; then the fp32 GEMM (OpenBLAS or the built-in kernel).
void matmul_widened(const std::function<void(int64_t, int64_t, float *)> &widen, const float *x,
                    const float *bias, float *y, int T, int K, int N);

}  // namespace jet::cpu
