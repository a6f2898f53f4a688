// backend_memory.cu - device memory of the CUDA backend: allocation that reports what did not
// fit, and the free-memory check before a large allocation.
#include <cstdarg>
#include <cstdio>

#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

void *device_alloc(size_t bytes, const char *what) {
    void *p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaSuccess) return p;
    cudaGetLastError();  // cudaMalloc errors are not sticky; clear it
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    if (e == cudaErrorMemoryAllocation)
        throw Error(JET_ERR_OUT_OF_MEMORY,
                    fmt("CUDA out of memory: %s needs %.1f MiB, the GPU has %.1f MiB free of "
                        "%.1f MiB",
                        what, mib(bytes), mib(free_b), mib(total_b)));
    check(e, what);
    return nullptr;
}

void require_free(size_t bytes, const char *what) {
    size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    const size_t margin = 256u << 20;
    if (bytes + margin > free_b)
        throw Error(JET_ERR_OUT_OF_MEMORY,
                    fmt("%s needs %.1f MiB on the GPU but only %.1f MiB of %.1f MiB are free "
                        "(%.0f MiB kept in reserve)",
                        what, mib(bytes), mib(free_b), mib(total_b), mib(margin)));
}

}  // namespace jet::cuda
