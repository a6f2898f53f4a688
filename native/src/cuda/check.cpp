// check.cpp - turning CUDA / cuBLAS failures into jet::Error(JET_ERR_DEVICE / OUT_OF_MEMORY),
// and the per-device Programmatic Dependent Launch switch of cuda/launch.h.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda/kernels.h"
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

bool pdl_enabled() {
    constexpr int kMaxDevices = 64;
    static std::atomic<int> cached[kMaxDevices];  // 0 unknown, 1 off, 2 on
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return false;
    int v = cached[dev].load(std::memory_order_relaxed);
    if (v == 0) {
        const char *env = std::getenv("JET_CUDA_PDL");
        int major = 0, runtime = 0;
        const bool on = !(env && std::strcmp(env, "0") == 0) &&
                        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) ==
                            cudaSuccess &&
                        major >= 9 && cudaRuntimeGetVersion(&runtime) == cudaSuccess &&
                        runtime >= 12030;
        v = on ? 2 : 1;
        cached[dev].store(v, std::memory_order_relaxed);
    }
    return v == 2;
}

}  // namespace jet::cuda
