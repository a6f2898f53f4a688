// sampling.cu - token choice on the GPU. Greedy decoding only needs the argmax of each logits row,
// which saves copying [rows, V] floats to the host when the caller wants tokens, not logits.
#include <cfloat>
#include <climits>

#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "sample_rule.h"

namespace jet::cuda {

namespace {

__device__ __forceinline__ void better(float &bv, int &bi, float v, int i) {
    // NaN never wins; ties go to the lowest index.
    if (v > bv || (v == bv && i < bi)) {
        bv = v;
        bi = i;
    }
}

__global__ void argmax_kernel(const float *__restrict__ logits, int32_t *__restrict__ out, int V) {
    const float *row = logits + int64_t(blockIdx.x) * V;
    float bv = -FLT_MAX;
    int bi = V;
    for (int i = threadIdx.x; i < V; i += blockDim.x) better(bv, bi, row[i], i);
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        better(bv, bi, ov, oi);
    }
    __shared__ float sv[32];
    __shared__ int si[32];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x / 32;
        bv = lane < nw ? sv[lane] : -FLT_MAX;
        bi = lane < nw ? si[lane] : V;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            better(bv, bi, ov, oi);
        }
        if (lane == 0) out[blockIdx.x] = bi < V ? bi : 0;
    }
}

}  // namespace

void argmax_rows(const float *logits, int32_t *out, int rows, int V, cudaStream_t s) {
    if (rows <= 0) return;
    argmax_kernel<<<rows, 1024, 0, s>>>(logits, out, V);
    check_launch("argmax_rows");
}

}  // namespace jet::cuda

// ------------------------------------------------------------------ sample_rows
//
// Sampling in the engine (jet_session_decode_sample): one block per row picks the token that
// jet::Sampler::pick (sampler.cpp) picks for the same logits and uniform draw, so a batched
// step returns ids instead of [rows, V] logits. Steps, as on the host: repetition penalty on the
// row's history (applied in place and undone at the end: the row stays the raw logits),
// temperature, top-k (a 4-pass radix select of the k-th largest key, ties to the lowest index),
// softmax, top-p, min-p, the draw. The candidates are sorted in shared memory; a rule that
// needs more than kSampleCandidates of them is left to the host (out token -1).

namespace jet::cuda {

namespace {

constexpr int kThreads = 1024;

// Candidates on the host's terms: finite or -inf (NaN and +inf never are).
__device__ __forceinline__ bool valid(float v) { return isfinite(v) || v == -INFINITY; }

// Order-preserving key of a candidate's value; 0 for a non-candidate (below every candidate).
__device__ __forceinline__ uint32_t order_key(float v) {
    if (!valid(v)) return 0u;
    const uint32_t b = __float_as_uint(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T *scratch) {
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < nw; ++w) v = op(v, scratch[w]);
    __syncthreads();
    return v;
}

// Exclusive prefix sum over the block (thread order); *total gets the sum.
__device__ int block_exclusive_scan(int v, int *scratch, int *total) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nw = blockDim.x / 32;
    int inc = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, inc, o);
        if (lane >= o) inc += y;
    }
    __syncthreads();
    if (lane == 31) scratch[warp] = inc;
    __syncthreads();
    int before = 0, all = 0;
    for (int w = 0; w < nw; ++w) {
        if (w < warp) before += scratch[w];
        all += scratch[w];
    }
    __syncthreads();
    *total = all;
    return before + inc - v;
}

struct Cand {
    float v;
    int i;
};
// a before b: larger value first, then the lower index (the host's `greater`).
__device__ __forceinline__ bool before(const Cand &a, const Cand &b) {
    return a.v > b.v || (a.v == b.v && a.i < b.i);
}

__global__ void __launch_bounds__(kThreads)
    sample_rows_kernel(float *__restrict__ logits, int V, const SampleRow *__restrict__ rows,
                       const int32_t *__restrict__ hist, int32_t *__restrict__ out_tokens,
                       float *__restrict__ out_logprobs) {
    __shared__ Cand cand[kSampleCandidates];
    __shared__ double prob[kSampleCandidates];
    __shared__ int hidx[kSampleCandidates];
    __shared__ float hraw[kSampleCandidates];
    __shared__ uint32_t bins[256];
    __shared__ float fscratch[32];
    __shared__ double dscratch[32];
    __shared__ int iscratch[32];
    __shared__ int32_t s_token;
    __shared__ uint32_t s_prefix, s_mask;
    __shared__ int s_remaining;

    float *x = logits + int64_t(blockIdx.x) * V;
    const SampleRow p = rows[blockIdx.x];
    const int tid = threadIdx.x, nt = blockDim.x;
    const int n = p.vocab_limit > 0 ? min(V, p.vocab_limit) : V;
    auto fmax_op = [](float a, float b) { return fmaxf(a, b); };
    auto dsum_op = [](double a, double b) { return a + b; };
    auto isum_op = [](int a, int b) { return a + b; };

    // The model's log-probabilities come from the raw row over the whole vocabulary.
    float raw_max = -INFINITY;
    for (int i = tid; i < V; i += nt)
        if (!isnan(x[i])) raw_max = fmaxf(raw_max, x[i]);
    raw_max = block_reduce(raw_max, fmax_op, fscratch);
    double raw_sum = 0;
    if (isfinite(raw_max))
        for (int i = tid; i < V; i += nt)
            if (!isnan(x[i])) raw_sum += double(__expf(x[i] - raw_max));
    raw_sum = block_reduce(raw_sum, dsum_op, dscratch);

    // Repetition penalty, once per distinct history token, in place (raw values kept).
    const int h = p.repeat_penalty != 1.0f ? min(p.hist_len, kSampleCandidates) : 0;
    for (int j = tid; j < h; j += nt) {
        const int32_t t = hist[p.hist_offset + j];
        bool first = t >= 0 && t < n;
        for (int k = 0; k < j && first; ++k) first = hist[p.hist_offset + k] != t;
        hidx[j] = first ? t : -1;
        if (first) hraw[j] = x[t];
    }
    __syncthreads();
    for (int j = tid; j < h; j += nt)
        if (hidx[j] >= 0) {
            const float v = x[hidx[j]];
            x[hidx[j]] = v > 0 ? v / p.repeat_penalty : v * p.repeat_penalty;
        }
    __syncthreads();

    if (tid == 0) s_token = -2;  // -2: no candidate (an error on the host), -1: host picks
    __syncthreads();
    const bool greedy = p.temperature <= 0.0f;
    const float temp = p.temperature;  // the host divides by it
    auto scaled = [&](int i) { return greedy ? x[i] : x[i] / temp; };

    int nvalid = 0;
    float smax = -INFINITY;
    int best = n;  // greedy: argmax, ties to the lowest index
    for (int i = tid; i < n; i += nt) {
        const float v = x[i];
        if (!valid(v)) continue;
        ++nvalid;
        if (v > smax || (v == smax && i < best)) {
            smax = v;
            best = i;
        }
    }
    nvalid = block_reduce(nvalid, isum_op, iscratch);
    if (greedy) {
        // Block argmax with ties to the lowest index: the max, then the lowest index holding it.
        const float m = block_reduce(smax, fmax_op, fscratch);
        int idx = (smax == m && best < n) ? best : INT_MAX;
        idx = block_reduce(idx, [](int a, int b) { return min(a, b); }, iscratch);
        if (tid == 0 && nvalid > 0) s_token = idx;
    } else if (nvalid > 0) {
        const int K = (p.top_k > 0 && p.top_k < nvalid) ? p.top_k : nvalid;
        const float mx_s = block_reduce(valid(smax) ? smax / temp : -INFINITY, fmax_op, fscratch);
        // Which candidates to gather: the top K, or (K too large, min-p on) those that min-p can
        // keep - a superset, the exact cut is made below as on the host.
        bool by_min_p = false;
        uint32_t kth = 0;
        int take_ties = 0;
        if (K > kSampleCandidates) {
            if (p.min_p > 0.0f && isfinite(mx_s)) {
                const float thr = mx_s + logf(p.min_p) - 1e-3f;
                int cnt = 0;
                for (int i = tid; i < n; i += nt)
                    if (valid(x[i]) && scaled(i) >= thr) ++cnt;
                cnt = block_reduce(cnt, isum_op, iscratch);
                if (cnt <= kSampleCandidates) {
                    by_min_p = true;
                    kth = order_key(thr);
                    take_ties = cnt;  // every candidate at or above the threshold
                }
            }
        } else {
            // k-th largest key: 4 passes of 8-bit radix histograms.
            if (tid == 0) {
                s_prefix = 0;
                s_mask = 0;
                s_remaining = K;
            }
            for (int shift = 24; shift >= 0; shift -= 8) {
                for (int b = tid; b < 256; b += nt) bins[b] = 0;
                __syncthreads();
                const uint32_t prefix = s_prefix, mask = s_mask;
                for (int i = tid; i < n; i += nt) {
                    const uint32_t k = order_key(scaled(i));
                    if (k != 0 && (k & mask) == prefix) atomicAdd(&bins[(k >> shift) & 255u], 1u);
                }
                __syncthreads();
                if (tid == 0) {
                    int acc = 0, sel = 0;
                    for (int b = 255; b >= 0; --b) {
                        if (acc + int(bins[b]) >= s_remaining) {
                            sel = b;
                            break;
                        }
                        acc += int(bins[b]);
                    }
                    s_remaining -= acc;
                    s_prefix |= uint32_t(sel) << shift;
                    s_mask |= 255u << shift;
                }
                __syncthreads();
            }
            kth = s_prefix;
            take_ties = s_remaining;
        }
        if (K > kSampleCandidates && !by_min_p) {
            if (tid == 0) s_token = -1;
        } else {
            // Gather in index order: thread t owns a contiguous slice, so ties keep the lowest ids.
            const int chunk = (n + nt - 1) / nt, i0 = min(n, tid * chunk), i1 = min(n, i0 + chunk);
            int gt = 0, eq = 0;
            for (int i = i0; i < i1; ++i) {
                const uint32_t k = order_key(scaled(i));
                if (k == 0) continue;
                if (by_min_p ? k >= kth : k > kth) ++gt;
                else if (!by_min_p && k == kth) ++eq;
            }
            int n_gt = 0, n_eq = 0;
            int gt_at = block_exclusive_scan(gt, iscratch, &n_gt);
            int eq_at = block_exclusive_scan(eq, iscratch, &n_eq);
            const int total = by_min_p ? n_gt : n_gt + min(n_eq, take_ties);
            for (int i = i0; i < i1; ++i) {
                const float v = scaled(i);
                const uint32_t k = order_key(v);
                if (k == 0) continue;
                if (by_min_p ? k >= kth : k > kth) {
                    cand[gt_at++] = Cand{v, i};
                } else if (!by_min_p && k == kth) {
                    if (eq_at < take_ties) cand[n_gt + eq_at] = Cand{v, i};
                    ++eq_at;
                }
            }
            for (int j = total + tid; j < kSampleCandidates; j += nt) cand[j] = Cand{-INFINITY, INT_MAX};
            __syncthreads();
            // Bitonic sort of the candidates (largest first, then lowest index).
            for (int size = 2; size <= kSampleCandidates; size <<= 1)
                for (int stride = size / 2; stride > 0; stride >>= 1) {
                    for (int j = tid; j < kSampleCandidates; j += nt) {
                        const int o = j ^ stride;
                        if (o > j) {
                            const bool up = (j & size) == 0;
                            const Cand a = cand[j], b = cand[o];
                            if (up ? before(b, a) : before(a, b)) {
                                cand[j] = b;
                                cand[o] = a;
                            }
                        }
                    }
                    __syncthreads();
                }
            const float mx = cand[0].v;
            for (int j = tid; j < total; j += nt) prob[j] = exp(double(cand[j].v - mx));
            // With min-p gathering, the softmax sums over every candidate, not only those kept.
            double all = 0;
            if (by_min_p) {
                for (int i = tid; i < n; i += nt)
                    if (valid(x[i])) all += exp(double(scaled(i) - mx));
                all = block_reduce(all, dsum_op, dscratch);
            }
            __syncthreads();
            if (tid == 0) {
                if (!isfinite(mx)) {
                    s_token = cand[0].i;  // +inf dominates; all -inf: the first
                } else {
                    double sum = 0;
                    if (by_min_p) {
                        sum = all;
                    } else {
                        for (int j = 0; j < total; ++j) sum += prob[j];
                    }
                    for (int j = 0; j < total; ++j) prob[j] /= sum;
                    s_token = cand[pick_sorted(prob, total, p.top_p, p.min_p, p.u)].i;
                }
            }
        }
    }
    __syncthreads();
    // Undo the penalty: the row holds the raw logits again (the host may need it).
    for (int j = tid; j < h; j += nt)
        if (hidx[j] >= 0) x[hidx[j]] = hraw[j];
    __syncthreads();
    if (tid == 0) {
        const int32_t t = s_token;
        out_tokens[blockIdx.x] = t;
        if (out_logprobs)
            out_logprobs[blockIdx.x] =
                t >= 0 ? (isfinite(raw_max) ? float(double(x[t] - raw_max) - log(raw_sum))
                                            : (x[t] == raw_max ? 0.0f : -INFINITY))
                       : 0.0f;
    }
}

}  // namespace

void sample_rows(float *logits, int rows, int V, const SampleRow *params, const int32_t *hist,
                 int32_t *out_tokens, float *out_logprobs, cudaStream_t s) {
    if (rows <= 0) return;
    sample_rows_kernel<<<rows, kThreads, 0, s>>>(logits, V, params, hist, out_tokens, out_logprobs);
    check_launch("sample_rows");
}

}  // namespace jet::cuda
