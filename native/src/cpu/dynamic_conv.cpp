// cpu/dynamic_conv.cpp - the JetBlock's dynamic causal convolution on V (docs/model.md sections 5.3 and 6).
// y[t][c] = silu(sum_j kernel_t[c][j] * u[t - W + 1 + j][c]), where inputs before the start of
// this call come from the state (the last W inputs, oldest first); afterwards the state holds
// the last W inputs. Channels are independent and split across threads; the tokens whose window
// lies inside the call run as a loop over channels that vectorises.
#include <algorithm>
#include <cmath>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

// kW: the kernel width when known at compile time (0: use W).
template <int kW>
JET_CLONES void conv_channels(const float *u, const float *kernels, float *state, float *y, int T,
                              int C, int W_runtime, int64_t c0, int64_t c1) {
    const int W = kW > 0 ? kW : W_runtime;
    // Tokens whose window reaches into the state.
    const int head = std::min(T, W - 1);
    for (int t = 0; t < head; ++t) {
        for (int64_t c = c0; c < c1; ++c) {
            const float *kc = kernels + (static_cast<int64_t>(t) * C + c) * W;
            float acc = 0.f;
            for (int j = 0; j < W; ++j) {
                const int src = t - W + 1 + j;  // < 0: from the state
                const float in =
                    src >= 0 ? u[static_cast<int64_t>(src) * C + c] : state[c * W + (W + src)];
                acc += kc[j] * in;
            }
            y[static_cast<int64_t>(t) * C + c] = silu_approx(acc);
        }
    }
    // Tokens whose window lies inside u.
    for (int t = head; t < T; ++t) {
        const float *kt = kernels + static_cast<int64_t>(t) * C * W;
        const float *u0 = u + static_cast<int64_t>(t - W + 1) * C;
        float *yt = y + static_cast<int64_t>(t) * C;
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) {
            float acc = 0.f;
            for (int j = 0; j < W; ++j) acc += kt[c * W + j] * u0[static_cast<int64_t>(j) * C + c];
            yt[c] = silu_approx(acc);
        }
    }
    // New state: the last W inputs. In place, ascending j: entry j reads entry j + T of the
    // old state (not yet overwritten) when it predates this call.
    for (int64_t c = c0; c < c1; ++c) {
        float *st = state + c * W;
        for (int j = 0; j < W; ++j) {
            const int src = T - W + j;
            st[j] = src >= 0 ? u[static_cast<int64_t>(src) * C + c] : st[j + T];
        }
    }
}

}  // namespace

void dynamic_conv(const float *u, const float *kernels, float *state, float *y, int T, int C,
                  int W) {
    if (T <= 0 || C <= 0 || W <= 0) return;
    const auto fn = W == 4 ? conv_channels<4> : conv_channels<0>;
    // Items of 64 channels; inline when the whole job is small.
    const int64_t items = (C + 63) / 64;
    const int64_t work_per_item = static_cast<int64_t>(T) * W * 64;
    parallel_for_min(items, std::max<int64_t>(1, 32768 / work_per_item), [&](int64_t b, int64_t e) {
        fn(u, kernels, state, y, T, C, W, b * 64, std::min<int64_t>(C, e * 64));
    });
}

}  // namespace jet::cpu
