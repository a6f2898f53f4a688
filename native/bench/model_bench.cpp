// model_bench.cpp - prefill and decode tok/s of the tiny model through the C ABI (CPU).
// Uses ../shared/fixtures/tiny-jet-a when present, else random weights with its config.
// Run: jet_bench --benchmark_filter=Model
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "jet.h"

namespace {

const char *kTinyConfig = R"({
  "model_type": "jet_nemotron", "vocab_size": 1024, "hidden_size": 128,
  "num_hidden_layers": 6, "layer_types": ["jet", "attn", "jet", "swa", "jet", "jet"],
  "intermediate_size": 352, "num_attention_heads": 4, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 4096,
  "tie_word_embeddings": true,
  "efficient_attention_config": {
    "jet": {"expand_v": 2.0, "head_dim": 32, "num_heads": 4, "conv_size": 4,
            "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
    "swa": {"window_size": 32}}})";

jet_model *tiny_model() {
    static jet_model *model = [] {
        const char *env = std::getenv("JET_SHARED_DIR");
        const std::string dir = std::string(env && *env ? env : JET_SHARED_DIR) + "/fixtures/tiny-jet-a";
        struct stat st {};
        jet_model *m = nullptr;
        jet_model_params p;
        jet_model_default_params(&p);
        const char *threads = std::getenv("JET_BENCH_THREADS");  // default: all cores
        if (threads) p.n_threads = std::atoi(threads);
        jet_status s = ::stat(dir.c_str(), &st) == 0 ? jet_model_load(dir.c_str(), &p, &m)
                                                       : jet_model_create_random(kTinyConfig, 1, &p, &m);
        if (s != JET_OK) {
            std::fprintf(stderr, "model: %s\n", jet_last_error());
            std::abort();
        }
        return m;
    }();
    return model;
}

std::vector<int32_t> tokens(int n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) t[size_t(i)] = (i * 7919 + 13) % 1000;
    return t;
}

void BM_ModelPrefill(benchmark::State &state) {
    const int n = int(state.range(0));
    jet_session *s = nullptr;
    if (jet_session_create(tiny_model(), nullptr, &s) != JET_OK) state.SkipWithError(jet_last_error());
    const auto t = tokens(n);
    std::vector<float> logits(1024);
    for (auto _ : state) {
        jet_session_reset(s, 0);
        if (jet_session_prefill(s, 0, t.data(), n, JET_LOGITS_LAST, logits.data(), nullptr) != JET_OK)
            state.SkipWithError(jet_last_error());
    }
    state.counters["tok/s"] = benchmark::Counter(double(n) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
    jet_session_free(s);
}
BENCHMARK(BM_ModelPrefill)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode of `batch` sequences at a context depth of 128 tokens; 64 steps per iteration.
void BM_ModelDecode(benchmark::State &state) {
    const int batch = int(state.range(0)), steps = 64;
    jet_session_params sp;
    jet_session_default_params(&sp);
    sp.n_seq = batch;
    jet_session *s = nullptr;
    if (jet_session_create(tiny_model(), &sp, &s) != JET_OK) state.SkipWithError(jet_last_error());
    const auto prompt = tokens(128);
    std::vector<float> logits(size_t(batch) * 1024);
    std::vector<int32_t> seqs(static_cast<size_t>(batch)), toks(static_cast<size_t>(batch), 5);
    for (int i = 0; i < batch; ++i) seqs[size_t(i)] = i;
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < batch; ++i) {
            jet_session_reset(s, i);
            jet_session_prefill(s, i, prompt.data(), 128, JET_LOGITS_NONE, nullptr, nullptr);
        }
        state.ResumeTiming();
        for (int k = 0; k < steps; ++k)
            if (jet_session_decode(s, batch, seqs.data(), toks.data(), logits.data(), nullptr) != JET_OK)
                state.SkipWithError(jet_last_error());
    }
    state.counters["tok/s"] = benchmark::Counter(double(batch) * steps * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
    jet_session_free(s);
}
BENCHMARK(BM_ModelDecode)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

// The embedded demo model's batch-1 decode (README's `./build.sh demo`; issue 13's target: >= 300
// tok/s on 2 threads), 128 steps per iteration after a 16-token prompt. The machine may be
// shared, so run it with repetitions and read the median and the best, the process CPU time per
// token (less sensitive to other load than wall time) and the load average beside them:
//   JET_BENCH_THREADS=2 build/native/bench/jet_bench --benchmark_filter=DemoDecode \
//     --benchmark_repetitions=9 --benchmark_min_warmup_time=0.5
void BM_DemoDecode(benchmark::State &state) {
    static jet_model *demo = [] {
        jet_model_params p;
        jet_model_default_params(&p);
        if (const char *threads = std::getenv("JET_BENCH_THREADS")) p.n_threads = std::atoi(threads);
        jet_model *m = nullptr;
        return jet_model_load(JET_DEMO_MODEL_DIR, &p, &m) == JET_OK ? m : nullptr;
    }();
    if (!demo) {
        state.SkipWithError("the demo model (models/jetnative-demo) did not load");
        return;
    }
    const int steps = 128;
    jet_session_params sp;
    jet_session_default_params(&sp);
    sp.n_ctx = 512;
    jet_session *s = nullptr;
    if (jet_session_create(demo, &sp, &s) != JET_OK) {
        state.SkipWithError(jet_last_error());
        return;
    }
    std::vector<float> logits(1 << 16);
    const std::vector<int32_t> prompt = tokens(16);
    timespec c0{}, c1{};
    double cpu_s = 0;
    for (auto _ : state) {
        state.PauseTiming();
        jet_session_reset(s, 0);
        jet_session_prefill(s, 0, prompt.data(), 16, JET_LOGITS_NONE, nullptr, nullptr);
        state.ResumeTiming();
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        for (int k = 0; k < steps; ++k) {
            const int32_t seq = 0, tok = (k * 37 + 11) % 1000;
            if (jet_session_decode(s, 1, &seq, &tok, logits.data(), nullptr) != JET_OK)
                state.SkipWithError(jet_last_error());
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        cpu_s += double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec);
    }
    const double n = double(steps) * double(state.iterations());
    state.counters["tok/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
    state.counters["cpu_us/tok"] = 1e6 * cpu_s / n;
    double load = 0;
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &load) != 1) load = 0;
        std::fclose(f);
    }
    state.counters["load1"] = load;
    jet_session_free(s);
}
BENCHMARK(BM_DemoDecode)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
