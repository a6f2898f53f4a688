// gated_delta_step.cu - one recurrent step of the gated delta rule (spec 4.4) for a batch of
// sequences (decode). Memory bound: the fp32 state (H x dK x dV per sequence) is read and written
// once, so the kernel is laid out for bandwidth: the columns of S are independent
// (S^T k, the update and S^T q all work column by column), so a block owns 32 columns of one
// head and splits the dK rows over 8 row groups; a warp reads 32 consecutive floats of one row.
// Each thread keeps its rows of the column in registers: 16 rows (dK <= 128) or, in a second
// instantiation, 32 rows (dK <= 256), so the common small heads keep their register budget.
//   S <- exp(g) S;  e = beta (v - S^T k);  S <- S + k e^T;  o = scale S^T q
#include <string>

#include "cuda/kernels.h"
#include "cuda/ops.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kCols = 32;       // state columns per block (one per lane)
constexpr int kGroups = 8;      // row groups (warps) per block
constexpr int kMaxDK = 256;

// kRows: rows per thread, at most (dK <= kRows * kGroups).
template <int kRows>
__global__ void __launch_bounds__(kCols *kGroups)
    gated_delta_step_kernel(const bf16 *__restrict__ q, const bf16 *__restrict__ k,
                            const bf16 *__restrict__ v, const float *__restrict__ g,
                            const float *__restrict__ beta, float *__restrict__ state,
                            float *__restrict__ o, int H, int dK, int dV, float scale) {
    __shared__ float sq[kRows * kGroups], sk[kRows * kGroups];
    __shared__ float red[kGroups][kCols];
    __shared__ float se[kCols];
    const int lane = threadIdx.x, grp = threadIdx.y;
    const int tid = grp * kCols + lane;
    const int h = blockIdx.y, b = blockIdx.z;
    const int64_t bh = int64_t(b) * H + h;
    const int col = blockIdx.x * kCols + lane;
    const bool active = col < dV;
    for (int i = tid; i < dK; i += kCols * kGroups) {
        sq[i] = __bfloat162float(q[bh * dK + i]);
        sk[i] = __bfloat162float(k[bh * dK + i]);
    }
    __syncthreads();
    const float decay = __expf(g[bh]);
    float *S = state + bh * dK * dV;

    float s[kRows];
    float part = 0.0f;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
        const int r = grp + i * kGroups;
        s[i] = (active && r < dK) ? S[int64_t(r) * dV + col] : 0.0f;
        if (r < dK) part = fmaf(sk[r], s[i], part);
    }
    red[grp][lane] = part;
    __syncthreads();
    if (grp == 0) {
        float sk_dot = 0.0f;
#pragma unroll
        for (int j = 0; j < kGroups; ++j) sk_dot += red[j][lane];
        const float vv = active ? __bfloat162float(v[bh * dV + col]) : 0.0f;
        se[lane] = beta[bh] * (vv - decay * sk_dot);
    }
    __syncthreads();
    const float e = se[lane];
    part = 0.0f;
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
        const int r = grp + i * kGroups;
        if (r < dK) {
            const float ns = fmaf(decay, s[i], sk[r] * e);
            if (active) S[int64_t(r) * dV + col] = ns;
            part = fmaf(sq[r], ns, part);
        }
    }
    red[grp][lane] = part;  // safe: every read of red happened before the last barrier
    __syncthreads();
    if (grp == 0 && active) {
        float acc = 0.0f;
#pragma unroll
        for (int j = 0; j < kGroups; ++j) acc += red[j][lane];
        o[bh * dV + col] = scale * acc;
    }
}

}  // namespace

void gated_delta_step(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                      const float *beta, float *state, float *o, int B, int H, int dK, int dV,
                      float scale, cudaStream_t s) {
    if (B < 1 || H < 1 || dK < 1 || dK > kMaxDK || dV < 1 || B > 65535 || H > 65535)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "gated_delta_step: unsupported sizes B=" + std::to_string(B) +
                        " H=" + std::to_string(H) + " dK=" + std::to_string(dK) +
                        " dV=" + std::to_string(dV) + " (dK <= 256)");
    if (!q || !k || !v || !g || !beta || !state || !o)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_step: null tensor pointer");
    const dim3 grid(unsigned((dV + kCols - 1) / kCols), unsigned(H), unsigned(B));
    if (dK <= 16 * kGroups)
        gated_delta_step_kernel<16><<<grid, dim3(kCols, kGroups), 0, s>>>(q, k, v, g, beta, state,
                                                                          o, H, dK, dV, scale);
    else
        gated_delta_step_kernel<32><<<grid, dim3(kCols, kGroups), 0, s>>>(q, k, v, g, beta, state,
                                                                          o, H, dK, dV, scale);
    check_launch("gated_delta_step");
}

}  // namespace jet::cuda
