// bench_hooks.cu - the CUDA backend's benchmark hooks (bench_hooks.h): built into the benchmark
// (jet_model_bench) only, never into libjet. They reach into the backend's classes through the
// private header cuda/cuda_backend.h.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace jet::cuda
