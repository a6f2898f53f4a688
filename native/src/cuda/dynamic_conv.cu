// dynamic_conv.cu - the dynamic causal convolution on V (docs/model.md section 5.3): per token and channel a
// W-tap filter produced by the kernel generator, SiLU after it. The generator's bias add and
// the SiLU are fused here, so the [T, C*W] generator output is read exactly once.
//
// Two paths: short inputs (decode, T <= kSeqMaxT) run one thread per channel that walks the
// tokens with a sliding register window and updates the state in the same kernel (one launch
// per decode step). Long inputs (prefill) run one thread per (token, channel), then a small
// kernel writes the new state (it must run after every reader of the old one).
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kSeqMaxT = 32;
constexpr int kThreads = 256;


template <int W>
__device__ __forceinline__ float conv_out(const float (&win)[W], const float *kr, const bf16 *bias,
                                          int c) {
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < W; ++j) {
        const float kj = kr[j] + (bias ? __bfloat162float(bias[c * W + j]) : 0.0f);
        acc = fmaf(kj, win[j], acc);
    }
    return silu(acc);
}

// One thread per (b, c): walks T tokens, keeps the last W inputs in registers.
template <int W>
__global__ void dconv_seq_kernel(const float *__restrict__ u, int ldu, const float *__restrict__ kern,
                                 int ldk, const bf16 *__restrict__ bias, float *__restrict__ state,
                                 bf16 *__restrict__ y, int B, int T, int C,
                                 const int32_t *__restrict__ seqs) {
    const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= int64_t(B) * C) return;
    const int b = int(idx / C), c = int(idx % C);
    float *st = state + (seqs ? int64_t(seqs[b]) * C + c : idx) * W;
    float win[W];
#pragma unroll
    for (int j = 0; j < W; ++j) win[j] = st[j];
    for (int t = 0; t < T; ++t) {
        const int64_t row = int64_t(b) * T + t;
#pragma unroll
        for (int j = 0; j + 1 < W; ++j) win[j] = win[j + 1];
        win[W - 1] = u[row * ldu + c];
        y[row * C + c] = __float2bfloat16(conv_out<W>(win, kern + row * ldk + int64_t(c) * W, bias, c));
    }
#pragma unroll
    for (int j = 0; j < W; ++j) st[j] = win[j];
}

// One thread per (b, t, c); inputs before the sequence's first new token come from the state.
template <int W>
__global__ void dconv_par_kernel(const float *__restrict__ u, int ldu, const float *__restrict__ kern,
                                 int ldk, const bf16 *__restrict__ bias,
                                 const float *__restrict__ state, bf16 *__restrict__ y, int B, int T,
                                 int C) {
    const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= int64_t(B) * T * C) return;
    const int c = int(idx % C);
    const int64_t row = idx / C;  // b * T + t
    const int t = int(row % T);
    const int b = int(row / T);
    float win[W];
#pragma unroll
    for (int j = 0; j < W; ++j) {
        const int tt = t - (W - 1) + j;  // token index of tap j
        win[j] = tt >= 0 ? u[(row - (W - 1) + j) * ldu + c]
                         : state[(int64_t(b) * C + c) * W + (W + tt)];
    }
    y[row * C + c] = __float2bfloat16(conv_out<W>(win, kern + row * ldk + int64_t(c) * W, bias, c));
}

// New state = the last W of (old state ++ u[0..T-1]); here T >= W.
template <int W>
__global__ void dconv_state_kernel(const float *__restrict__ u, int ldu, float *__restrict__ state,
                                   int B, int T, int C) {
    const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= int64_t(B) * C) return;
    const int b = int(idx / C), c = int(idx % C);
#pragma unroll
    for (int j = 0; j < W; ++j) state[idx * W + j] = u[(int64_t(b) * T + T - W + j) * ldu + c];
}

// Any W (the templated kernels serve W <= 8): one thread per (b, c) walks the T tokens, the
// taps read from the old state or u, then the new state (the last W of old state ++ u) in place.
__global__ void dconv_any_kernel(const float *__restrict__ u, int ldu, const float *__restrict__ kern,
                                 int ldk, const bf16 *__restrict__ bias, float *__restrict__ state,
                                 bf16 *__restrict__ y, int B, int T, int C, int W,
                                 const int32_t *__restrict__ seqs) {
    const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (idx >= int64_t(B) * C) return;
    const int b = int(idx / C), c = int(idx % C);
    float *st = state + (seqs ? int64_t(seqs[b]) * C + c : idx) * W;
    const float *ub = u + int64_t(b) * T * ldu + c;
    for (int t = 0; t < T; ++t) {
        const int64_t row = int64_t(b) * T + t;
        const float *kr = kern + row * ldk + int64_t(c) * W;
        float acc = 0.0f;
        for (int j = 0; j < W; ++j) {
            const int tt = t - (W - 1) + j;  // token index of tap j
            const float x = tt >= 0 ? ub[int64_t(tt) * ldu] : st[W + tt];
            const float kj = kr[j] + (bias ? __bfloat162float(bias[c * W + j]) : 0.0f);
            acc = fmaf(kj, x, acc);
        }
        y[row * C + c] = __float2bfloat16(silu(acc));
    }
    // Ascending j reads old entries T + j > j before they are overwritten.
    for (int j = 0; j < W; ++j) st[j] = T + j < W ? st[T + j] : ub[int64_t(T + j - W) * ldu];
}

template <int W>
void launch(const float *u, int ldu, const float *kern, int ldk, const bf16 *bias, float *state,
            bf16 *y, int B, int T, int C, cudaStream_t s, const int32_t *seqs) {
    const int64_t chans = int64_t(B) * C;
    if (T <= kSeqMaxT || T < W || seqs) {
        dconv_seq_kernel<W><<<unsigned((chans + kThreads - 1) / kThreads), kThreads, 0, s>>>(
            u, ldu, kern, ldk, bias, state, y, B, T, C, seqs);
        check_launch("dynamic_conv (sequential)");
        return;
    }
    const int64_t n = chans * T;
    dconv_par_kernel<W><<<unsigned((n + kThreads - 1) / kThreads), kThreads, 0, s>>>(
        u, ldu, kern, ldk, bias, state, y, B, T, C);
    check_launch("dynamic_conv");
    dconv_state_kernel<W><<<unsigned((chans + kThreads - 1) / kThreads), kThreads, 0, s>>>(
        u, ldu, state, B, T, C);
    check_launch("dynamic_conv (state)");
}

}  // namespace

void dynamic_conv(const float *u, int ldu, const float *kern, int ldk, const bf16 *bias,
                  float *state, bf16 *y, int B, int T, int C, int W, cudaStream_t s,
                  const int32_t *seqs) {
    if (B < 1 || T < 1 || C < 1 || W < 1 || ldu < C || ldk < C * W)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "dynamic_conv: bad sizes B=" + std::to_string(B) + " T=" + std::to_string(T) +
                        " C=" + std::to_string(C) + " W=" + std::to_string(W) +
                        " ldu=" + std::to_string(ldu) + " ldk=" + std::to_string(ldk));
    if (!u || !kern || !state || !y)
        throw Error(JET_ERR_INVALID_ARGUMENT, "dynamic_conv: null tensor pointer");
    if (int64_t(B) * T * C >= (int64_t(1) << 31) * kThreads)
        throw Error(JET_ERR_INVALID_ARGUMENT, "dynamic_conv: input too large");
    switch (W) {
        case 1: launch<1>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 2: launch<2>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 3: launch<3>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 4: launch<4>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 5: launch<5>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 6: launch<6>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 7: launch<7>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        case 8: launch<8>(u, ldu, kern, ldk, bias, state, y, B, T, C, s, seqs); break;
        default: {
            const int64_t chans = int64_t(B) * C;
            dconv_any_kernel<<<unsigned((chans + kThreads - 1) / kThreads), kThreads, 0, s>>>(
                u, ldu, kern, ldk, bias, state, y, B, T, C, W, seqs);
            check_launch("dynamic_conv (any W)");
        }
    }
}

}  // namespace jet::cuda
