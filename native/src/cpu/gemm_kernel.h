// cpu/gemm_kernel.h - the register-tiled GEMM kernel of matmul.cpp, for operators that multiply
// small dense blocks themselves (the chunked gated delta rule). Internal to native/src/cpu.
#pragma once

#include <cstdint>

namespace jet::cpu {

// C[m, n] += A[m, k] * B[k, n], single-threaded. Row strides lda, ldb, ldc (row-major, unit
// column stride). Uses the 6x16 AVX2/FMA micro-kernel when the CPU has it.
void gemm_acc(int m, int n, int k, const float *A, int64_t lda, const float *B, int64_t ldb,
              float *C, int64_t ldc);

}  // namespace jet::cpu
