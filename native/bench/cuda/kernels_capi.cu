// kernels_capi.cu - a C shim over cuda/kernels.h for the benchmark script (bench_kernels.py),
// which loads it with ctypes and passes torch tensors' device pointers and its current stream.
// Each function returns 0, or 1 after printing the jet::Error to stderr. Not part of libjet.
// -DJB_WITHOUT_<KERNEL> leaves a kernel's shims out (bench_kernels.py --only).
#include <cstdio>

#include "cuda/kernels.h"
#include "error.h"

using jet::cuda::bf16;

#define JET_SHIM(call)                                            \
    try {                                                         \
        call;                                                     \
        return 0;                                                 \
    } catch (const jet::Error &e) {                               \
        std::fprintf(stderr, "jet error: %s\n", e.what());        \
        return 1;                                                 \
    }

extern "C" {

#ifndef JB_WITHOUT_ATTENTION_PREFILL
int jb_attention_prefill(const void *q, const void *k, const void *v, void *out, int B, int T,
                         int L, int nh, int nkv, int hd, int q_pos0, int k_pos0, int window,
                         void *stream) {
    JET_SHIM(jet::cuda::attention_prefill(static_cast<const bf16 *>(q), static_cast<const bf16 *>(k),
                                          static_cast<const bf16 *>(v), static_cast<bf16 *>(out), B,
                                          T, L, nh, nkv, hd, q_pos0, k_pos0, window,
                                          static_cast<cudaStream_t>(stream)))
}
#endif

#ifndef JB_WITHOUT_ATTENTION_DECODE
size_t jb_attention_decode_workspace_bytes(int B, int L, int nh, int hd) {
    return jet::cuda::attention_decode_workspace_bytes(B, L, nh, hd);
}

int jb_attention_decode(const void *q, const void *k, const void *v, const int *qpos, void *out,
                        int B, int L, int nh, int nkv, int hd, int window, int ring, void *ws,
                        size_t ws_bytes, void *stream) {
    JET_SHIM(jet::cuda::attention_decode(static_cast<const bf16 *>(q), static_cast<const bf16 *>(k),
                                         static_cast<const bf16 *>(v), qpos, static_cast<bf16 *>(out),
                                         B, L, nh, nkv, hd, window, ring, ws, ws_bytes,
                                         static_cast<cudaStream_t>(stream)))
}
#endif

#ifndef JB_WITHOUT_GATED_DELTA_CHUNK
size_t jb_gated_delta_chunk_workspace_bytes(int B, int T, int H, int dK, int dV) {
    return jet::cuda::gated_delta_chunk_workspace_bytes(B, T, H, dK, dV);
}

int jb_gated_delta_chunk(const void *q, const void *k, const void *v, const float *g,
                         const float *beta, float *state, float *o, int B, int T, int H, int dK,
                         int dV, float scale, void *ws, size_t ws_bytes, void *stream) {
    JET_SHIM(jet::cuda::gated_delta_chunk(static_cast<const bf16 *>(q), static_cast<const bf16 *>(k),
                                          static_cast<const bf16 *>(v), g, beta, state, o, B, T, H,
                                          dK, dV, scale, ws, ws_bytes,
                                          static_cast<cudaStream_t>(stream)))
}
#endif

#ifndef JB_WITHOUT_GATED_DELTA_STEP
int jb_gated_delta_step(const void *q, const void *k, const void *v, const float *g,
                        const float *beta, float *state, float *o, int B, int H, int dK, int dV,
                        float scale, void *stream) {
    JET_SHIM(jet::cuda::gated_delta_step(static_cast<const bf16 *>(q), static_cast<const bf16 *>(k),
                                         static_cast<const bf16 *>(v), g, beta, state, o, B, H, dK,
                                         dV, scale, static_cast<cudaStream_t>(stream)))
}
#endif

#ifndef JB_WITHOUT_DYNAMIC_CONV
int jb_dynamic_conv(const float *u, int ldu, const float *kern, int ldk, const void *bias,
                    float *state, void *y, int B, int T, int C, int W, void *stream) {
    JET_SHIM(jet::cuda::dynamic_conv(u, ldu, kern, ldk, static_cast<const bf16 *>(bias), state,
                                     static_cast<bf16 *>(y), B, T, C, W,
                                     static_cast<cudaStream_t>(stream)))
}
#endif

#ifndef JB_WITHOUT_GEMM
// y = x W^T (+ beta y) through cuda::gemm: wtype 0 bf16 W, 1 FP8 e4m3, 2 int8 (scale [N, K /
// group] fp32). One cuBLAS handle for the process, bound to `stream` on each call.
int jb_gemm(const void *x, int ldx, const void *W, int wtype, const float *scale, int group,
            void *y, int y_f32, int T, int K, int N, float beta, void *stream) {
    static cublasHandle_t h = nullptr;
    JET_SHIM({
        if (!h) jet::cuda::check(cublasCreate(&h), "cublasCreate");
        jet::cuda::check(cublasSetStream(h, static_cast<cudaStream_t>(stream)), "cublasSetStream");
        const jet::cuda::WeightRef w =
            wtype == 0 ? jet::cuda::WeightRef(static_cast<const bf16 *>(W))
                       : jet::cuda::WeightRef(W, static_cast<jet::cuda::WeightType>(wtype), scale,
                                              group);
        jet::cuda::gemm(h, static_cast<const bf16 *>(x), ldx, w, y, y_f32 != 0, T, K, N, beta);
    })
}
#endif

}  // extern "C"
