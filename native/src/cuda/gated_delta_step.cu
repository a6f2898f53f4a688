// gated_delta_step.cu - one recurrent step of the gated delta rule (docs/model.md section 5.4) for a batch of
// sequences (decode), plain (q, k, v, g, beta prepared) or fused with the rest of the JetBlock's
// decode work (docs/model.md sections 5.1-5.3: q/k SiLU + L2 norm, the gates, the dynamic conv on V with its state)
// so that one launch per layer goes from the raw projections to o.
// Memory bound: the fp32 state (H x dK x dV per sequence) is read and written once, so the
// kernel is laid out for bandwidth: the columns of S are independent (S^T k, the update and
// S^T q all work column by column), so a block owns 32 columns of one head and splits the dK
// rows over 8 row groups; a warp reads 32 consecutive floats of one row. Each thread keeps its
// rows of the column in registers: 12 rows (dK <= 96), 16 (dK <= 128) or 32 (dK <= 256), so
// the common small heads keep their register budget. The blocks are persistent (as many as fit
// on the GPU at once) and walk the (sequence, head, 32 columns) tiles; the next tile's state
// column is loaded while the current one is computed, so the DRAM stream does not stop at each
// tile's barriers (a batched step reads and writes B x 1.2 MB per layer for the 2B).
// Launched with PDL (cuda/launch.h): the first tile's state is loaded before waiting for the
// kernel before it, which never writes the state.
//   S <- exp(g) S;  e = beta (v - S^T k);  S <- S + k e^T;  o = scale S^T q
#include <algorithm>
#include <climits>
#include <string>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/launch.h"
#include "error.h"

namespace jet::cuda {

namespace {

constexpr int kCols = 32;       // state columns per block (one per lane)
constexpr int kGroups = 8;      // row groups (warps) per block
constexpr int kThreads = kCols * kGroups;
constexpr int kMaxDK = 256;

struct StepArgs {
    // plain: prepared inputs
    const bf16 *q, *k, *v;
    const float *g, *beta;
    // fused: raw projections (see jetblock_decode_step in kernels.h)
    const float *proj, *kern, *A_log, *dt_bias;
    const bf16 *bias;
    float *conv;
    int ld, u_col, ab_col, ldk, W;
    // both
    float *state, *o;
    const int32_t *seqs;  // row b's sequence in state/conv; null: b
    int B, H, dK, dV;
    float scale;
};


// Sum over the block of one value per thread; `red` holds kGroups floats. Ends with a barrier.
__device__ __forceinline__ float block_sum(float v, float *red) {
    v = warp_sum(v);
    if (threadIdx.x == 0) red[threadIdx.y] = v;
    __syncthreads();
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kGroups; ++j) s += red[j];
    return s;
}

// kRows: rows per thread, at most (dK <= kRows * kGroups). kFused: the JetBlock prologue.
// The plain 12-row kernel fits 64 registers (no spills): 4 blocks an SM.
template <int kRows, bool kFused>
__global__ void __launch_bounds__(kThreads, (!kFused && kRows <= 12) ? 4 : 1)
    gated_delta_step_kernel(const StepArgs a) {
    __shared__ float sq[kRows * kGroups], sk[kRows * kGroups];
    __shared__ float red[kGroups][kCols];
    __shared__ float se[kCols];
    __shared__ float gates[2];  // decay, beta
    const int lane = threadIdx.x, grp = threadIdx.y;
    const int tid = grp * kCols + lane;
    const int H = a.H, dK = a.dK, dV = a.dV;
    const int ncb = (dV + kCols - 1) / kCols;
    const int tiles = ncb * H * a.B;
    constexpr int kMaxW = 8;

    // Tile t: columns [32 (t % ncb), +32) of head (t / ncb) % H of batch row t / (ncb H).
    // Its state column (and, fused, the conv state and generator bias of this lane's channel):
    // never written by a kernel of the step, nor by another tile.
    auto load = [&](int t, float(&s)[kRows], float(&cst)[kMaxW], float(&cb)[kMaxW]) {
        if (t >= tiles) {  // past the last tile: nothing to load
#pragma unroll
            for (int i = 0; i < kRows; ++i) s[i] = 0.0f;
            return;
        }
        const int h = (t / ncb) % H, b = t / (ncb * H);
        const int col = (t % ncb) * kCols + lane;
        const bool active = col < dV;
        const int64_t sb = a.seqs ? a.seqs[b] : b;
        const float *S = a.state + (sb * H + h) * dK * dV;
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
            const int r = grp + i * kGroups;
            s[i] = (active && r < dK) ? S[int64_t(r) * dV + col] : 0.0f;
        }
        if constexpr (kFused) {
            const bool conv_lane = grp == 0 && active;
            const int c = h * dV + col;
#pragma unroll
            for (int j = 0; j < kMaxW; ++j) {
                const bool ok = conv_lane && j < a.W;
                cst[j] = ok ? a.conv[(sb * H * dV + c) * a.W + j] : 0.0f;
                cb[j] = ok && a.bias ? __bfloat162float(a.bias[int64_t(c) * a.W + j]) : 0.0f;
            }
        }
    };
    float s[kRows], cst[kMaxW], cb[kMaxW];      // this tile
    float sn[kRows], cstn[kMaxW], cbn[kMaxW];  // the next one (in flight)
    load(blockIdx.x, s, cst, cb);
    pdl_wait();
    pdl_trigger();

    for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
        if (t != int(blockIdx.x)) __syncthreads();  // the previous tile's shared reads are done
        load(t + gridDim.x, sn, cstn, cbn);
        const int h = (t / ncb) % H, b = t / (ncb * H);
        const int64_t bh = int64_t(b) * H + h;
        const int64_t sb = a.seqs ? a.seqs[b] : b;
        const int col = (t % ncb) * kCols + lane;
        const bool active = col < dV;
        float *S = a.state + (sb * H + h) * dK * dV;

        float vv = 0.0f;  // v of this lane's column (row group 0)
        if constexpr (kFused) {
            const bool conv_lane = grp == 0 && active;
            const int c = h * dV + col;  // conv channel of this lane
            // Every input of this token first (one round trip), then the math.
            const float *row = a.proj + int64_t(b) * a.ld;
            float qv = 0.0f, kv = 0.0f, u = 0.0f, ga = 0.0f, gb = 0.0f, kern[kMaxW];
            if (tid < dK) {
                qv = row[int64_t(h) * dK + tid];
                kv = row[int64_t(H + h) * dK + tid];
            }
            if (tid == 0) {
                ga = row[a.ab_col + h];
                gb = row[a.ab_col + H + h];
            }
            const float *kr = a.kern + int64_t(b) * a.ldk + int64_t(c) * a.W;
#pragma unroll
            for (int j = 0; j < kMaxW; ++j) kern[j] = conv_lane && j < a.W ? kr[j] : 0.0f;
            if (conv_lane) u = row[a.u_col + c];

            // q, k = l2norm(silu(.)) per head, rounded to bf16 (as jet_qk_gates stores them).
            qv = tid < dK ? silu(qv) : 0.0f;
            kv = tid < dK ? silu(kv) : 0.0f;
            const float rq = rsqrtf(block_sum(qv * qv, &red[0][0]) + 1e-6f);
            const float rk = rsqrtf(block_sum(kv * kv, &red[1][0]) + 1e-6f);
            if (tid < dK) {
                sq[tid] = round_bf16(qv * rq);
                sk[tid] = round_bf16(kv * rk);
            }
            if (tid == 0) {
                const float x = ga + a.dt_bias[h];
                const float sp = softplus(x);
                gates[0] = __expf(-__expf(a.A_log[h]) * sp);
                gates[1] = sigmoid(gb);
            }
            // Dynamic conv on V (as dynamic_conv with T = 1): window = state[1..W-1], u.
            if (conv_lane) {
                float acc = 0.0f;
                float *st = a.conv + (sb * H * dV + c) * a.W;
#pragma unroll
                for (int j = 0; j < kMaxW; ++j) {
                    if (j < a.W) {
                        const float x = j + 1 < a.W ? cst[j + 1 < kMaxW ? j + 1 : 0] : u;
                        acc = fmaf(kern[j] + cb[j], x, acc);
                        st[j] = x;
                    }
                }
                vv = round_bf16(silu(acc));
            }
        } else {
            for (int i = tid; i < dK; i += kThreads) {
                sq[i] = __bfloat162float(a.q[bh * dK + i]);
                sk[i] = __bfloat162float(a.k[bh * dK + i]);
            }
            if (tid == 0) {
                gates[0] = __expf(a.g[bh]);
                gates[1] = a.beta[bh];
            }
            if (grp == 0 && active) vv = __bfloat162float(a.v[bh * dV + col]);
        }
        __syncthreads();
        const float decay = gates[0];

        float part = 0.0f;
#pragma unroll
        for (int i = 0; i < kRows; ++i) {
            const int r = grp + i * kGroups;
            if (r < dK) part = fmaf(sk[r], s[i], part);
        }
        red[grp][lane] = part;
        __syncthreads();
        if (grp == 0) {
            float sk_dot = 0.0f;
#pragma unroll
            for (int j = 0; j < kGroups; ++j) sk_dot += red[j][lane];
            se[lane] = gates[1] * (vv - decay * sk_dot);
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
            a.o[bh * dV + col] = a.scale * acc;
        }
#pragma unroll
        for (int i = 0; i < kRows; ++i) s[i] = sn[i];
        if constexpr (kFused) {
#pragma unroll
            for (int j = 0; j < kMaxW; ++j) cst[j] = cstn[j], cb[j] = cbn[j];
        }
    }
}

void check_sizes(const char *what, int B, int H, int dK, int dV) {
    if (B < 1 || H < 1 || dK < 1 || dK > kMaxDK || dV < 1 ||
        int64_t(B) * H * ((dV + kCols - 1) / kCols) > INT32_MAX)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    std::string(what) + ": unsupported sizes B=" + std::to_string(B) +
                        " H=" + std::to_string(H) + " dK=" + std::to_string(dK) +
                        " dV=" + std::to_string(dV) + " (dK <= 256)");
}

// Persistent blocks: as many as fit on the GPU at once, at most one per tile.
template <int kRows, bool kFused>
void launch_rows(const StepArgs &a, cudaStream_t s) {
    auto *kernel = gated_delta_step_kernel<kRows, kFused>;
    const int64_t tiles = int64_t((a.dV + kCols - 1) / kCols) * a.H * a.B;
    const int resident = resident_blocks("gated_delta_step", kernel, kThreads);
    const int grid = int(std::min<int64_t>(tiles, resident));
    launch_pdl(kFused ? "jetblock_decode_step" : "gated_delta_step", kernel, dim3(unsigned(grid)),
               dim3(kCols, kGroups), 0, s, a);
}

template <bool kFused>
void launch(const StepArgs &a, cudaStream_t s) {
    if (a.dK <= 12 * kGroups)  // the 2B's dK = 96
        launch_rows<12, kFused>(a, s);
    else if (a.dK <= 16 * kGroups)
        launch_rows<16, kFused>(a, s);
    else
        launch_rows<32, kFused>(a, s);
}

}  // namespace

void gated_delta_step(const bf16 *q, const bf16 *k, const bf16 *v, const float *g,
                      const float *beta, float *state, float *o, int B, int H, int dK, int dV,
                      float scale, cudaStream_t s, const int32_t *seqs) {
    check_sizes("gated_delta_step", B, H, dK, dV);
    if (!q || !k || !v || !g || !beta || !state || !o)
        throw Error(JET_ERR_INVALID_ARGUMENT, "gated_delta_step: null tensor pointer");
    StepArgs a{};
    a.q = q, a.k = k, a.v = v, a.g = g, a.beta = beta;
    a.state = state, a.o = o, a.B = B, a.H = H, a.dK = dK, a.dV = dV, a.scale = scale, a.seqs = seqs;
    launch<false>(a, s);
}

void jetblock_decode_step(const float *proj, int ld, int u_col, int ab_col, const float *kern,
                          int ldk, const bf16 *bias, const float *A_log, const float *dt_bias,
                          float *conv, int W, float *state, float *o, int B, int H, int dK, int dV,
                          float scale, cudaStream_t s, const int32_t *seqs) {
    check_sizes("jetblock_decode_step", B, H, dK, dV);
    if (W < 1 || W > 8 || ld < ab_col + 2 * H || ld < u_col + H * dV || u_col < 2 * H * dK ||
        ldk < H * dV * W)
        throw Error(JET_ERR_INVALID_ARGUMENT,
                    "jetblock_decode_step: bad layout W=" + std::to_string(W) +
                        " ld=" + std::to_string(ld) + " u_col=" + std::to_string(u_col) +
                        " ab_col=" + std::to_string(ab_col) + " ldk=" + std::to_string(ldk));
    if (!proj || !kern || !A_log || !dt_bias || !conv || !state || !o)
        throw Error(JET_ERR_INVALID_ARGUMENT, "jetblock_decode_step: null tensor pointer");
    StepArgs a{};
    a.proj = proj, a.ld = ld, a.u_col = u_col, a.ab_col = ab_col, a.kern = kern, a.ldk = ldk;
    a.bias = bias, a.A_log = A_log, a.dt_bias = dt_bias, a.conv = conv, a.W = W;
    a.state = state, a.o = o, a.B = B, a.H = H, a.dK = dK, a.dV = dV, a.scale = scale, a.seqs = seqs;
    launch<true>(a, s);
}

}  // namespace jet::cuda
