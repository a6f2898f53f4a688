// gated_delta_general.cu - the chunked gated delta rule for any head dims (dK <= 256): where
// gated_delta_chunk's tensor-core kernels do not serve the shape (dK or dV not a multiple of 16,
// e.g. a JetBlock with dK = 24, dV = 40), q and k are zero-padded to dKp = the next multiple of
// 16, v to the next multiple of 16 (dVp), the state to [dKp, dVp] in a scratch buffer, and the
// fast kernel runs on the padded tensors; the output and the state are cut back afterwards.
//
// Padding changes nothing (docs/model.md section 5.4): with k's padded components 0, S^T k and
// k (v - S^T k)^T see only the real rows, so the padded state rows stay 0; with v's padded
// columns 0, those state columns start at 0 and their error v - S^T k stays 0; q's padded
// components meet zero rows. The result equals the unpadded recurrence (same products, zeros
// added), at the cost of the padded work and three small copies.
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxDK = 256;

int pad16(int x) { return (x + 15) / 16 * 16; }

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// dst[r][c] = c < d ? src[r][c] : 0 for rows r < rows (row lengths d and dp).
__global__ void pad_rows_kernel(const bf16 *__restrict__ src, bf16 *__restrict__ dst,
                                int64_t rows, int d, int dp) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * dp) return;
    const int64_t r = i / dp;
    const int c = int(i % dp);
    dst[i] = c < d ? src[r * d + c] : __float2bfloat16(0.0f);
}

// dst[r][c] = src[r][c] for c < d (row lengths dp and d).
__global__ void unpad_rows_kernel(const float *__restrict__ src, float *__restrict__ dst,
                                  int64_t rows, int d, int dp) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * d) return;
    const int64_t r = i / d;
    const int c = int(i % d);
    dst[i] = src[r * dp + c];
}

// State [M, dK, dV] <-> [M, dKp, dVp] (M = B*H matrices); padded entries are written as 0.
__global__ void pad_state_kernel(const float *__restrict__ S, float *__restrict__ Sp, int64_t M,
                                 int dK, int dV, int dKp, int dVp) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= M * dKp * dVp) return;
    const int c = int(i % dVp);
    const int64_t mr = i / dVp;
    const int r = int(mr % dKp);
    const int64_t m = mr / dKp;
    Sp[i] = (r < dK && c < dV) ? S[(m * dK + r) * dV + c] : 0.0f;
}

__global__ void unpad_state_kernel(const float *__restrict__ Sp, float *__restrict__ S,
                                   int64_t M, int dK, int dV, int dKp, int dVp) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= M * dK * dV) return;
    const int c = int(i % dV);
    const int64_t mr = i / dV;
    const int r = int(mr % dK);
    const int64_t m = mr / dK;
    S[i] = Sp[(m * dKp + r) * dVp + c];
}

unsigned blocks(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

// The scratch of the padded path, in the order carve() lays it out.
struct Scratch {
    bf16 *q = nullptr, *k = nullptr, *v = nullptr;
    float *S = nullptr, *o = nullptr;
    void *chunk_ws = nullptr;
    size_t chunk_ws_bytes = 0;
};

size_t carve(int B, int T, int H, int dK, int dV, void *base, Scratch *out) {
    const int dKp = pad16(dK), dVp = pad16(dV);
    const size_t R = size_t(B) * T * H;  // rows of one head each
    Scratch s;
    size_t off = 0;
    auto take = [&](size_t bytes) {
        const size_t at = off;
        off = align256(off + bytes);
        return base ? static_cast<char *>(base) + at : nullptr;
    };
    s.chunk_ws_bytes = gated_delta_chunk_workspace_bytes(B, T, H, dKp, dVp);
    s.chunk_ws = take(s.chunk_ws_bytes);
    s.q = reinterpret_cast<bf16 *>(take(R * dKp * sizeof(bf16)));
    s.k = reinterpret_cast<bf16 *>(take(R * dKp * sizeof(bf16)));
    s.v = reinterpret_cast<bf16 *>(take(R * dVp * sizeof(bf16)));
    s.S = reinterpret_cast<float *>(take(size_t(B) * H * dKp * dVp * sizeof(float)));
    s.o = reinterpret_cast<float *>(take(R * dVp * sizeof(float)));
    if (out) *out = s;
    return off;
}

}  // namespace

bool gated_delta_chunk_native(int dK, int dV) {
    return dK % 16 == 0 && dV % 16 == 0 && dK >= 16 && dV >= 16 && dK <= kMaxDK;
}

size_t gated_delta_chunk_any_workspace_bytes(int B, int T, int H, int dK, int dV) {
    if (B < 1 || T < 1 || H < 1 || dK < 1 || dV < 1) return 0;
    if (gated_delta_chunk_native(dK, dV)) return gated_delta_chunk_workspace_bytes(B, T, H, dK, dV);
    return carve(B, T, H, dK, dV, nullptr, nullptr);
}

void gated_delta_chunk_any(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                           const float *beta, float *state, float *o, int B, int T, int H, int dK,
                           int dV, float scale, void *workspace, size_t workspace_bytes,
                           cudaStream_t s) {
    if (gated_delta_chunk_native(dK, dV)) {
        gated_delta_chunk(q, k, v, g, beta, state, o, B, T, H, dK, dV, scale, workspace,
                          workspace_bytes, s);
        return;
    }
    if (B < 1 || T < 1 || H < 1 || dK < 1 || dK > kMaxDK || dV < 1 || B > 65535 || H > 65535)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "gated_delta_chunk: unsupported sizes B=" + std::to_string(B) +
                        " T=" + std::to_string(T) + " H=" + std::to_string(H) +
                        " dK=" + std::to_string(dK) + " dV=" + std::to_string(dV) +
                        " (dK <= 256)");
    if (!q || !k || !v || !g || !beta || !state || !o || !workspace)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: null pointer");
    if (!aligned16(workspace))
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: the workspace must be 16-byte aligned");
    const size_t need = gated_delta_chunk_any_workspace_bytes(B, T, H, dK, dV);
    if (workspace_bytes < need)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_chunk: workspace of " +
                                                  std::to_string(workspace_bytes) +
                                                  " bytes, needs " + std::to_string(need) +
                                                  " (padded head dims)");
    const int dKp = pad16(dK), dVp = pad16(dV);
    Scratch sc;
    carve(B, T, H, dK, dV, workspace, &sc);
    const int64_t R = int64_t(B) * T * H, M = int64_t(B) * H;
    pad_rows_kernel<<<blocks(R * dKp), kThreads, 0, s>>>(q, sc.q, R, dK, dKp);
    pad_rows_kernel<<<blocks(R * dKp), kThreads, 0, s>>>(k, sc.k, R, dK, dKp);
    pad_rows_kernel<<<blocks(R * dVp), kThreads, 0, s>>>(v, sc.v, R, dV, dVp);
    pad_state_kernel<<<blocks(M * dKp * dVp), kThreads, 0, s>>>(state, sc.S, M, dK, dV, dKp, dVp);
    check_launch("gated_delta_chunk (pad)");
    gated_delta_chunk(sc.q, sc.k, sc.v, g, beta, sc.S, sc.o, B, T, H, dKp, dVp, scale,
                      sc.chunk_ws, sc.chunk_ws_bytes, s);
    unpad_rows_kernel<<<blocks(R * dV), kThreads, 0, s>>>(sc.o, o, R, dV, dVp);
    unpad_state_kernel<<<blocks(M * dK * dV), kThreads, 0, s>>>(sc.S, state, M, dK, dV, dKp, dVp);
    check_launch("gated_delta_chunk (unpad)");
}

}  // namespace jet::cuda
