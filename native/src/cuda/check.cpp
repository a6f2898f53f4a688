// check.cpp - turning CUDA / cuBLAS failures into jet::Error(JET_ERR_DEVICE / OUT_OF_MEMORY).
#include <string>

#include "cuda/ops.h"
#include "error.h"

namespace jet::cuda {

void check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return;
    const jet_status st = (e == cudaErrorMemoryAllocation) ? JET_ERR_OUT_OF_MEMORY : JET_ERR_DEVICE;
    throw Error(st, std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                        cudaGetErrorString(e) + ")");
}

void check(cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    const jet_status st = (s == CUBLAS_STATUS_ALLOC_FAILED) ? JET_ERR_OUT_OF_MEMORY : JET_ERR_DEVICE;
    throw Error(st, std::string("cuBLAS error in ") + what + ": status " + std::to_string(int(s)));
}

void check_launch(const char *what) { check(cudaGetLastError(), what); }

}  // namespace jet::cuda
