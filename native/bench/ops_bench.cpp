// ops_bench.cpp - Google Benchmark microbenchmarks of the CPU operators (cpu/ops.h) at
// Jet-Nemotron-2B's shapes: decode (T = 1) and prefill (T = 512). Counters: GFLOP/s for
// compute-bound ops, GB/s (bytes that must cross the memory bus at least once) for the rest.
// Run: jet_bench --benchmark_filter=Matmul   (threads: JET_BENCH_THREADS, default all)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/ops.h"
#include "cpu/threads.h"

namespace {

// The 2B's dimensions (docs/model.md section 2).
constexpr int kD = 1536, kI = 8960, kV = 151936, kNH = 12, kNKV = 2, kHD = 128;
constexpr int kH = 12, kDK = 96, kDV = 256, kW = 4, kWindow = 1152;
constexpr int kKeyDim = kH * kDK, kValueDim = kH * kDV, kGenHidden = kValueDim / 8;

std::vector<float> filled(size_t n, float lo = -1.f, float hi = 1.f, uint32_t seed = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng);
    return v;
}

void setup_threads() {
    static bool done = false;
    if (done) return;
    done = true;
    const char *env = std::getenv("JET_BENCH_THREADS");
    jet::cpu::set_num_threads(env ? std::atoi(env) : 0);
}

void rate(benchmark::State &state, double flops, double bytes) {
    if (flops > 0)
        state.counters["GFLOP/s"] =
            benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    if (bytes > 0)
        state.counters["GB/s"] =
            benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Which GEMM the build uses, in the benchmark's context header.
const int kContext = (benchmark::AddCustomContext("matmul_backend", jet::cpu::matmul_backend()), 0);

// ---- matmul: args T, K, N -----------------------------------------------------------------
template <bool kBuiltin>
void BM_Matmul(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0)), K = int(state.range(1)), N = int(state.range(2));
    const auto x = filled(size_t(T) * K), W = filled(size_t(N) * K, -0.05f, 0.05f, 2);
    std::vector<float> y(size_t(T) * N);
    for (auto _ : state) {
        if (kBuiltin)
            jet::cpu::matmul_builtin(x.data(), W.data(), nullptr, y.data(), T, K, N);
        else
            jet::cpu::matmul(x.data(), W.data(), nullptr, y.data(), T, K, N);
        benchmark::DoNotOptimize(y.data());
    }
    rate(state, 2.0 * T * K * N, 4.0 * (double(N) * K + double(T) * (K + N)));
}
void MatmulShapes(benchmark::internal::Benchmark *b) {
    for (int T : {1, 64, 512}) {
        b->Args({T, kD, kKeyDim});                 // JetBlock q / k
        b->Args({T, kD, kValueDim});               // JetBlock v / g
        b->Args({T, kValueDim, kD});               // JetBlock o_proj
        b->Args({T, kD, kI});                      // MLP gate / up
        b->Args({T, kI, kD});                      // MLP down
        b->Args({T, kGenHidden, kValueDim * kW});  // dynamic conv kernel generator w2
    }
    b->Args({1, kD, kV});  // LM head (decode)
}
BENCHMARK_TEMPLATE(BM_Matmul, false)
    ->Name("BM_Matmul")
    ->Apply(MatmulShapes)
    ->ArgNames({"T", "K", "N"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
// The built-in GEMM at prefill shapes (the same as BM_Matmul when OpenBLAS is not used).
void PrefillShapes(benchmark::internal::Benchmark *b) {
    for (int T : {64, 512}) {
        b->Args({T, kD, kValueDim});
        b->Args({T, kD, kI});
        b->Args({T, kI, kD});
    }
}
BENCHMARK_TEMPLATE(BM_Matmul, true)
    ->Name("BM_MatmulBuiltin")
    ->Apply(PrefillShapes)
    ->ArgNames({"T", "K", "N"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// matmul_bf16: bfloat16 weights (bytes counted at 2 per weight).
void BM_MatmulBf16(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0)), K = int(state.range(1)), N = int(state.range(2));
    const auto x = filled(size_t(T) * K), Wf = filled(size_t(N) * K, -0.05f, 0.05f, 2);
    std::vector<uint16_t> W(Wf.size());
    for (size_t i = 0; i < W.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &Wf[i], 4);
        W[i] = uint16_t(bits >> 16);
    }
    std::vector<float> y(size_t(T) * N);
    for (auto _ : state) {
        jet::cpu::matmul_bf16(x.data(), W.data(), nullptr, y.data(), T, K, N);
        benchmark::DoNotOptimize(y.data());
    }
    rate(state, 2.0 * T * K * N, 2.0 * double(N) * K + 4.0 * double(T) * (K + N));
}
void Bf16Shapes(benchmark::internal::Benchmark *b) {
    for (int T : {1, 512}) {
        b->Args({T, kD, kI});
        b->Args({T, kI, kD});
    }
    b->Args({1, kD, kV});
}
BENCHMARK(BM_MatmulBf16)
    ->Apply(Bf16Shapes)
    ->ArgNames({"T", "K", "N"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// matmul_q8 / matmul_fp8: weight-only INT8 / FP8 weights, one fp32 scale per output channel
// (bytes counted at 1 per weight plus the scales). Arg G: 0 per channel, else the group size.
template <bool Fp8>
void BM_MatmulQuant(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0)), K = int(state.range(1)), N = int(state.range(2));
    const int group = state.range(3) > 0 ? int(state.range(3)) : K;
    const auto x = filled(size_t(T) * K);
    std::vector<uint8_t> W(size_t(N) * K);
    for (size_t i = 0; i < W.size(); ++i) W[i] = uint8_t((i * 2654435761u) >> 13) & 0x7e;
    const auto scale = filled(size_t(N) * (K / group), 0.001f, 0.01f, 3);
    std::vector<float> y(size_t(T) * N);
    for (auto _ : state) {
        if (Fp8)
            jet::cpu::matmul_fp8(x.data(), W.data(), scale.data(), group, nullptr, y.data(), T, K, N);
        else
            jet::cpu::matmul_q8(x.data(), reinterpret_cast<const int8_t *>(W.data()), scale.data(),
                                group, nullptr, y.data(), T, K, N);
        benchmark::DoNotOptimize(y.data());
    }
    rate(state, 2.0 * T * K * N,
         double(N) * K + 4.0 * double(N) * (K / group) + 4.0 * double(T) * (K + N));
}
void QuantShapes(benchmark::internal::Benchmark *b) {
    for (int G : {0, 128}) {
        for (int T : {1, 512}) {
            b->Args({T, kD, kI, G});
            b->Args({T, kI, kD, G});
        }
        b->Args({1, kD, kV, G});
    }
}
BENCHMARK(BM_MatmulQuant<false>)
    ->Name("BM_MatmulInt8")
    ->Apply(QuantShapes)
    ->ArgNames({"T", "K", "N", "G"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_MatmulQuant<true>)
    ->Name("BM_MatmulFp8")
    ->Apply(QuantShapes)
    ->ArgNames({"T", "K", "N", "G"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// ---- elementwise and norms: arg T ---------------------------------------------------------
void BM_RmsNorm(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    const auto x = filled(size_t(T) * kD), w = filled(kD);
    std::vector<float> y(x.size());
    for (auto _ : state) {
        jet::cpu::rmsnorm(x.data(), w.data(), y.data(), T, kD, 1e-6f);
        benchmark::DoNotOptimize(y.data());
    }
    rate(state, 0, 8.0 * T * kD);
}
BENCHMARK(BM_RmsNorm)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_SiluMul(benchmark::State &state) {
    setup_threads();
    const int64_t n = state.range(0) * kI;
    const auto gate = filled(n), up = filled(n, -1.f, 1.f, 3);
    std::vector<float> out(n);
    for (auto _ : state) {
        jet::cpu::silu_mul(gate.data(), up.data(), out.data(), n);
        benchmark::DoNotOptimize(out.data());
    }
    rate(state, 0, 12.0 * n);
}
BENCHMARK(BM_SiluMul)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_Rope(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    auto x = filled(size_t(T) * kNH * kHD);
    std::vector<int32_t> pos(T);
    for (int t = 0; t < T; ++t) pos[t] = 1000 + t;
    for (auto _ : state) {
        jet::cpu::rope(x.data(), T, kNH, kHD, pos.data(), 1e6);
        benchmark::DoNotOptimize(x.data());
    }
    rate(state, 0, 8.0 * T * kNH * kHD);
}
BENCHMARK(BM_Rope)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_L2Norm(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    auto x = filled(size_t(T) * kKeyDim);
    for (auto _ : state) {
        jet::cpu::l2norm_heads(x.data(), T, kH, kDK, 1e-6f);
        benchmark::DoNotOptimize(x.data());
    }
    rate(state, 0, 8.0 * T * kKeyDim);
}
BENCHMARK(BM_L2Norm)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_JetGates(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    const auto a = filled(size_t(T) * kH), b = filled(size_t(T) * kH, -1.f, 1.f, 4);
    const auto A_log = filled(kH), dt = filled(kH);
    std::vector<float> g(a.size()), beta(a.size());
    for (auto _ : state) {
        jet::cpu::jet_gates(a.data(), b.data(), A_log.data(), dt.data(), g.data(), beta.data(), T,
                            kH);
        benchmark::DoNotOptimize(g.data());
    }
    rate(state, 0, 16.0 * T * kH);
}
BENCHMARK(BM_JetGates)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_GatedRmsNorm(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    auto o = filled(size_t(T) * kValueDim);
    const auto G = filled(o.size()), w = filled(kDV);
    for (auto _ : state) {
        jet::cpu::gated_rmsnorm(o.data(), G.data(), w.data(), T, kH, kDV, 1e-5f);
        benchmark::DoNotOptimize(o.data());
    }
    rate(state, 0, 12.0 * T * kValueDim);
}
BENCHMARK(BM_GatedRmsNorm)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

void BM_Embedding(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0)), V = 4096;  // a slice of the table: the gather is the cost
    const auto table = filled(size_t(V) * kD);
    std::vector<int32_t> ids(T);
    for (int t = 0; t < T; ++t) ids[t] = (t * 7919) % V;
    std::vector<float> x(size_t(T) * kD);
    for (auto _ : state) {
        jet::cpu::embedding(table.data(), ids.data(), x.data(), T, kD);
        benchmark::DoNotOptimize(x.data());
    }
    rate(state, 0, 8.0 * T * kD);
}
BENCHMARK(BM_Embedding)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

// ---- attention: args T (queries), L (cached keys incl. the new ones), window --------------
void BM_Attention(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0)), L = int(state.range(1)), window = int(state.range(2));
    const auto q = filled(size_t(T) * kNH * kHD);
    const auto k = filled(size_t(L) * kNKV * kHD, -1.f, 1.f, 5), v = filled(k.size(), -1.f, 1.f, 6);
    std::vector<int32_t> qpos(T), kpos(L);
    for (int j = 0; j < L; ++j) kpos[j] = j;
    for (int t = 0; t < T; ++t) qpos[t] = L - T + t;
    std::vector<float> out(q.size());
    for (auto _ : state) {
        jet::cpu::attention(q.data(), k.data(), v.data(), qpos.data(), kpos.data(), out.data(), T,
                            L, kNH, kNKV, kHD, window);
        benchmark::DoNotOptimize(out.data());
    }
    // Visible (query, key) pairs: causal, clipped to the window.
    double pairs = 0;
    for (int t = 0; t < T; ++t) {
        const double seen = qpos[t] + 1;
        pairs += window ? std::min<double>(seen, window) : seen;
    }
    rate(state, 4.0 * pairs * kNH * kHD, 8.0 * L * kNKV * kHD);
}
BENCHMARK(BM_Attention)
    ->Args({1, 4096, 0})
    ->Args({1, 65536, 0})
    ->Args({1, kWindow, kWindow})
    ->Args({512, 512, 0})
    ->Args({512, 4096, kWindow})
    ->ArgNames({"T", "L", "window"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// ---- JetBlock: gated delta rule and dynamic conv, arg T ----------------------------------
struct DeltaInputs {
    std::vector<float> q, k, v, g, beta, S, o;
    explicit DeltaInputs(int T)
        : q(filled(size_t(T) * kKeyDim)),
          k(filled(size_t(T) * kKeyDim, -1.f, 1.f, 7)),
          v(filled(size_t(T) * kValueDim, -1.f, 1.f, 8)),
          g(filled(size_t(T) * kH, -0.3f, 0.f, 9)),
          beta(filled(size_t(T) * kH, 0.f, 1.f, 10)),
          S(size_t(kH) * kDK * kDV, 0.f),
          o(size_t(T) * kValueDim) {
        jet::cpu::l2norm_heads(q.data(), T, kH, kDK, 1e-6f);
        jet::cpu::l2norm_heads(k.data(), T, kH, kDK, 1e-6f);
    }
};

void BM_GatedDeltaRecurrent(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    DeltaInputs in(T);
    for (auto _ : state) {
        jet::cpu::gated_delta_recurrent(in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                                        in.beta.data(), in.S.data(), in.o.data(), T, kH, kDK, kDV,
                                        0.1f);
        benchmark::DoNotOptimize(in.o.data());
    }
    // Per token and head: decay + S^T k, update + S^T q: 6 dK dV flops.
    rate(state, 6.0 * T * kH * kDK * kDV, 0);
}
BENCHMARK(BM_GatedDeltaRecurrent)
    ->Arg(1)
    ->Arg(512)
    ->ArgName("T")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_GatedDeltaChunked(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    DeltaInputs in(T);
    for (auto _ : state) {
        jet::cpu::gated_delta_chunked(in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                                      in.beta.data(), in.S.data(), in.o.data(), T, kH, kDK, kDV,
                                      0.1f);
        benchmark::DoNotOptimize(in.o.data());
    }
    rate(state, 6.0 * T * kH * kDK * kDV, 0);  // same nominal work as the recurrent form
}
BENCHMARK(BM_GatedDeltaChunked)
    ->Arg(64)
    ->Arg(512)
    ->ArgName("T")
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_DynamicConv(benchmark::State &state) {
    setup_threads();
    const int T = int(state.range(0));
    const auto u = filled(size_t(T) * kValueDim), kern = filled(size_t(T) * kValueDim * kW);
    std::vector<float> st(size_t(kValueDim) * kW, 0.f), y(u.size());
    for (auto _ : state) {
        jet::cpu::dynamic_conv(u.data(), kern.data(), st.data(), y.data(), T, kValueDim, kW);
        benchmark::DoNotOptimize(y.data());
    }
    rate(state, 0, 4.0 * T * kValueDim * (kW + 2));
}
BENCHMARK(BM_DynamicConv)->Arg(1)->Arg(512)->ArgName("T")->UseRealTime();

}  // namespace
