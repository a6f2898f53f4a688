// bench_hooks.cu - the CUDA backend's benchmark hooks (bench_hooks.h): built into the benchmark
// (jet_model_bench) only, never into libjet. They reach into the backend's classes through the
// private header cuda/cuda_backend.h.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <cuda_fp8.h>

#include "bench_hooks.h"
#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

namespace {
struct Events {
    cudaEvent_t a = nullptr, b = nullptr;
    Events() {
        check(cudaEventCreate(&a), "cudaEventCreate");
        check(cudaEventCreate(&b), "cudaEventCreate");
    }
    ~Events() {
        cudaEventDestroy(a);
        cudaEventDestroy(b);
    }
    double ms() const {
        float t = 0;
        check(cudaEventElapsedTime(&t, a, b), "cudaEventElapsedTime");
        return double(t);
    }
};
}  // namespace

double decode_step_device_ms(Backend &backend, Cache &cache, int n, const int32_t *seqs,
                             const int32_t *tokens, int reps) {
    auto &be = dynamic_cast<CudaBackend &>(backend);
    auto &c = dynamic_cast<CudaCache &>(cache);
    std::vector<float> logits(size_t(n) * be.cfg_.vocab_size);
    backend.decode(cache, n, seqs, tokens, logits.data());  // captures the graph
    const auto it = c.graphs.find(n);
    if (it == c.graphs.end()) throw Error(JET_ERR_INTERNAL, "decode graph missing");
    Events ev;
    check(cudaEventRecord(ev.a, c.stream), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) check(cudaGraphLaunch(it->second, c.stream), "cudaGraphLaunch");
    check(cudaEventRecord(ev.b, c.stream), "cudaEventRecord");
    check(cudaEventSynchronize(ev.b), "cudaEventSynchronize");
    return ev.ms() / reps;
}

namespace {
__global__ void spin_kernel(long long cycles) {
    const long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
}
}  // namespace

namespace {
// Runs `enqueue` with an event recorded after every op and returns GPU milliseconds per op kind.
template <class Enqueue>
std::vector<std::pair<std::string, double>> timed_ops(CudaCache &c, Enqueue enqueue) {
    std::vector<std::pair<const char *, cudaEvent_t>> marks;
    // Hold the stream for ~100 ms so that the whole step is queued before it runs: the gaps
    // between events are then GPU time, not host launch time.
    spin_kernel<<<1, 1, 0, c.stream>>>(200000000LL);
    check_launch("spin");
    c.marks = &marks;
    mark(c, "start");
    try {
        enqueue();
    } catch (...) {
        c.marks = nullptr;
        throw;
    }
    c.marks = nullptr;
    check(cudaStreamSynchronize(c.stream), "breakdown");
    std::vector<std::pair<std::string, double>> out;
    for (size_t i = 1; i < marks.size(); ++i) {
        float ms = 0;
        check(cudaEventElapsedTime(&ms, marks[i - 1].second, marks[i].second), "elapsed");
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const auto &p) { return p.first == marks[i].first; });
        if (it == out.end())
            out.emplace_back(marks[i].first, double(ms));
        else
            it->second += double(ms);
    }
    for (auto &m : marks) cudaEventDestroy(m.second);
    return out;
}
}  // namespace

std::vector<std::pair<std::string, double>> decode_breakdown(Backend &backend, Cache &cache, int n,
                                                             const int32_t *seqs,
                                                             const int32_t *tokens) {
    auto &be = dynamic_cast<CudaBackend &>(backend);
    auto &c = dynamic_cast<CudaCache &>(cache);
    be.upload_decode(c, n, seqs, tokens);
    return timed_ops(c, [&] { be.eager_decode(c, n); });
}

std::vector<std::pair<std::string, double>> prefill_breakdown(Backend &backend, Cache &cache,
                                                              int seq, const int32_t *tokens,
                                                              int n) {
    auto &c = dynamic_cast<CudaCache &>(cache);
    return timed_ops(c, [&] { backend.prefill(cache, seq, tokens, n, nullptr, false); });
}

double copy_bandwidth(size_t bytes, int reps) {
    void *src = device_alloc(bytes, "bandwidth test"), *dst = nullptr;
    try {
        dst = device_alloc(bytes, "bandwidth test");
    } catch (...) {
        cudaFree(src);
        throw;
    }
    check(cudaMemset(src, 1, bytes), "cudaMemset");
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "cudaMemcpy");  // warm-up
    double best = 1e30;
    {
        Events ev;
        for (int r = 0; r < reps; ++r) {
            check(cudaEventRecord(ev.a, nullptr), "cudaEventRecord");
            check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, nullptr), "copy");
            check(cudaEventRecord(ev.b, nullptr), "cudaEventRecord");
            check(cudaEventSynchronize(ev.b), "cudaEventSynchronize");
            best = std::min(best, ev.ms());
        }
    }
    cudaFree(src);
    cudaFree(dst);
    return 2.0 * double(bytes) / (best * 1e-3);
}

int64_t quantize_linear_weights_fp8(Backend &backend) {
    auto &be = dynamic_cast<CudaBackend &>(backend);
    const Config &c = be.cfg_;
    struct Lin {
        WeightRef *w;
        size_t N, K;
    };
    std::vector<Lin> lins;
    const size_t d = size_t(c.hidden_size), I = size_t(c.intermediate_size);
    for (auto &L : be.layers_) {
        lins.push_back({&L.gate_up, 2 * I, d});
        lins.push_back({&L.down, d, I});
        if (L.type == JET_LAYER_JET) {
            const size_t vd = size_t(c.jet_value_dim());
            lins.push_back({&L.w_in, size_t(be.jet_in_rows_), d});
            lins.push_back({&L.w_out, d, vd});
            lins.push_back({&L.w2, vd * size_t(c.jet_conv_size), size_t(c.jet_gen_hidden)});
        } else {
            const size_t qkv = size_t(c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim;
            lins.push_back({&L.w_in, qkv, d});
            lins.push_back({&L.w_out, d, size_t(c.num_attention_heads) * c.head_dim});
        }
    }
    lins.erase(std::remove_if(lins.begin(), lins.end(),
                              [](const Lin &l) { return l.w->quantized() || l.K % 16 != 0; }),
               lins.end());
    Arena plan;
    for (const Lin &l : lins) {
        plan.take<uint8_t>(l.N * l.K);
        plan.take<float>(l.N);
    }
    require_free(plan.used, "the FP8 weight copies");
    if (be.bench_quant_) cudaFree(be.bench_quant_);
    be.bench_quant_ = device_alloc(plan.used, "the FP8 weight copies");
    Arena a;
    a.base = static_cast<char *>(be.bench_quant_);
    std::vector<bf16> w;
    std::vector<__nv_fp8_storage_t> q;
    std::vector<float> sc;
    int64_t saved = 0;
    for (const Lin &l : lins) {
        saved += int64_t(l.N * l.K) - int64_t(l.N) * 4;  // 2 bytes -> 1 byte + a scale per row
        w.resize(l.N * l.K);
        q.resize(w.size());
        sc.resize(l.N);
        check(cudaMemcpy(w.data(), l.w->ptr, w.size() * sizeof(bf16), cudaMemcpyDeviceToHost),
              "cudaMemcpy (weights to quantize)");
        for (size_t n = 0; n < l.N; ++n) {
            const bf16 *row = w.data() + n * l.K;
            float amax = 0.0f;
            for (size_t k = 0; k < l.K; ++k) amax = std::max(amax, std::fabs(__bfloat162float(row[k])));
            const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
            sc[n] = s;
            for (size_t k = 0; k < l.K; ++k)
                q[n * l.K + k] = __nv_cvt_float_to_fp8(__bfloat162float(row[k]) / s, __NV_SATFINITE,
                                                       __NV_E4M3);
        }
        auto *qd = a.take<uint8_t>(l.N * l.K);
        auto *sd = a.take<float>(l.N);
        check(cudaMemcpy(qd, q.data(), q.size(), cudaMemcpyHostToDevice), "cudaMemcpy (fp8 weights)");
        check(cudaMemcpy(sd, sc.data(), sc.size() * sizeof(float), cudaMemcpyHostToDevice),
              "cudaMemcpy (fp8 scales)");
        *l.w = WeightRef(qd, WeightType::F8E4M3, sd, int(l.K));
    }
    return saved;
}

}  // namespace jet::cuda
