// model_bench.cpp - end-to-end throughput of a full-size Jet-Nemotron-2B on the GPU (random bf16
// weights with the real shapes of docs/model.md section 2, never written to disk).
//
//   jet_model_bench [--prefill 4096,16384,65536] [--ctx 65536] [--batches 1,128,max]
//                   [--steps 16] [--out table.md] [--weights bf16|fp8]
//
// --weights fp8: the linear layers' weights quantized in memory to FP8 e4m3 with per-output-
// channel scales before the run (bench_hooks.h; embeddings and LM head stay bf16), to compare
// the FP8 paths with bf16 in two runs of the same binary.
//
// Reports, side by side in one run on one GPU:
//  - prefill tok/s of one sequence at each length (backend prefill, internal chunks of 2048),
//  - decode tok/s at `--ctx` tokens of context for each batch ("max": the largest batch whose
//    cache fits the free memory), as the device time of one step (CUDA graph replay, logits kept
//    on the GPU), as the whole step with logits copied to pinned host memory, and as the
//    decode-and-sample step (sampling on the GPU, ids back: jet_session_decode_sample's path),
//    with a fixed batch and with members that change every step (one graph per batch size),
//  - the HBM roof of each decode step: the bytes a step must read (weights; per sequence the KV
//    of full-attention layers up to the context, the sliding windows, the JetBlock states read
//    and written) over the measured device-to-device copy bandwidth.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "config.h"
#include "bench_hooks.h"
#include "error.h"
#include "sampler.h"
#include "weights.h"

namespace {

// Jet-Nemotron-2B's config.json (docs/model.md section 2).
const char *k2B = R"({
  "model_type": "jet_nemotron", "vocab_size": 151936, "hidden_size": 1536,
  "num_hidden_layers": 28,
  "layer_types": ["jet","jet","jet","jet","jet","jet","jet","jet","jet","jet","jet","jet","jet",
                  "jet","attn","jet","jet","jet","jet","attn","swa","swa","jet","jet","jet","jet",
                  "jet","jet"],
  "intermediate_size": 8960, "num_attention_heads": 12, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": null,
  "max_position_embeddings": 131072, "tie_word_embeddings": true,
  "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu",
  "efficient_attention_config": {
    "jet": {"mode": "chunk", "expand_v": 2.6666666667, "head_dim": 96, "num_heads": 12,
            "conv_size": 4, "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
    "swa": {"window_size": 1152}}
})";

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::vector<int> parse_list(const std::string &s, int max_value) {
    std::vector<int> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        out.push_back(item == "max" ? max_value : std::atoi(item.c_str()));
    return out;
}

// n prompt tokens (a fixed pseudo-random sequence inside the 2B's vocabulary).
std::vector<int32_t> prompt_tokens(int n) {
    std::vector<int32_t> tok(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) tok[size_t(i)] = (i * 7919 + 17) % 151643;
    return tok;
}

// A markdown table of GPU milliseconds per op kind (bench_hooks.h's breakdowns) with shares.
std::string breakdown_table(const std::string &title,
                            const std::vector<std::pair<std::string, double>> &parts) {
    double total = 0;
    for (const auto &p : parts) total += p.second;
    std::string out = "\n| " + title + " | ms | % |\n|---|---:|---:|\n";
    char line[256];
    for (const auto &p : parts) {
        std::snprintf(line, sizeof line, "| %s | %.3f | %.1f |\n", p.first.c_str(), p.second,
                      100.0 * p.second / total);
        out += line;
    }
    std::snprintf(line, sizeof line, "| total | %.3f | 100 |\n", total);
    return out + line;
}

void log_cb(int32_t level, const char *msg, void *) {
    if (level >= JET_LOG_INFO) std::fprintf(stderr, "%s\n", msg);
}

}  // namespace

int main(int argc, char **argv) try {
    std::string prefill_arg = "4096,16384,65536", batch_arg = "1,128,max", out_path;
    std::string weights_arg = "bf16";
    int ctx = 65536, steps = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--prefill") prefill_arg = v;
        else if (a == "--ctx") ctx = std::atoi(v.c_str());
        else if (a == "--batches") batch_arg = v;
        else if (a == "--steps") steps = std::atoi(v.c_str());
        else if (a == "--out") out_path = v;
        else if (a == "--weights" && (v == "bf16" || v == "fp8")) weights_arg = v;
        else {
            std::fprintf(stderr, "error: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    jet_set_log_callback(log_cb, nullptr);
    const jet::Config cfg = jet::parse_config(k2B);
    double t0 = now_s();
    auto weights = jet::Weights::random(cfg, 2025);
    std::fprintf(stderr, "random 2B weights: %.2f B params, %.1f s\n",
                 double(weights->n_params()) / 1e9, now_s() - t0);
    t0 = now_s();
    auto be = jet::make_cuda_backend(cfg, weights, 0);
    std::fprintf(stderr, "upload: %.1f s\n", now_s() - t0);
    int64_t fp8_saved = 0;  // weight bytes a step no longer reads
    if (weights_arg == "fp8") {
        t0 = now_s();
        fp8_saved = jet::cuda::quantize_linear_weights_fp8(*be);
        std::fprintf(stderr, "fp8 quantization of the linear weights: %.1f s\n", now_s() - t0);
    }
    weights.reset();

    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    const double bw = jet::cuda::copy_bandwidth(size_t(2) << 30, 10);
    std::ostringstream md;
    char line[512];
    std::snprintf(line, sizeof line,
                  "GPU: %s, %d SMs; measured device copy bandwidth %.0f GB/s (read + write); "
                  "weights on the GPU %.1f MiB; linear weights %s (read per step %.1f MiB)\n\n",
                  prop.name, prop.multiProcessorCount, bw / 1e9, be->weight_bytes() / 1048576.0,
                  weights_arg.c_str(), (be->weight_bytes() - fp8_saved) / 1048576.0);
    md << line;

    // ---------------------------------------------------------------- prefill
    const int V = cfg.vocab_size;
    std::vector<float> last(static_cast<size_t>(V));
    md << "| prefill | tokens | time (s) | tok/s |\n|---|---:|---:|---:|\n";
    std::vector<int> plens = parse_list(prefill_arg, ctx);
    std::unique_ptr<jet::Cache> ctx_cache;  // the 64K-prefilled sequence, reused for decode
    {
        auto warm = be->create_cache(1, 4096);
        const auto tok = prompt_tokens(2048);
        be->prefill(*warm, 0, tok.data(), 2048, last.data(), false);  // warm-up: cuBLAS, kernels
    }
    for (int L : plens) {
        const auto tok = prompt_tokens(L);
        auto cache = be->create_cache(1, std::max(L, ctx) + steps + 16);
        const int reps = L <= 4096 ? 3 : 1;
        double best = 1e30;
        for (int r = 0; r < reps; ++r) {
            cache->reset(0);
            const double t = now_s();
            be->prefill(*cache, 0, tok.data(), L, last.data(), false);
            best = std::min(best, now_s() - t);
        }
        std::snprintf(line, sizeof line, "| pp%d | %d | %.3f | %.0f |\n", L, L, best, L / best);
        md << line;
        std::fprintf(stderr, "%s", line);
        if (L == ctx) ctx_cache = std::move(cache);
    }
    // Where the longest prefill's time goes (GPU time per op kind, summed over layers and chunks).
    if (!plens.empty()) {
        const int L = *std::max_element(plens.begin(), plens.end());
        const auto tok = prompt_tokens(L);
        auto cache = be->create_cache(1, L + 16);
        md << breakdown_table("prefill of " + std::to_string(L) + " tokens (eager, GPU time)",
                              jet::cuda::prefill_breakdown(*be, *cache, 0, tok.data(), L))
           << "\n";
    }

    // ---------------------------------------------------------------- decode
    // Bytes one decode step must read, per sequence (context ctx) and shared (weights).
    int64_t per_seq_state = 0;
    {
        const int64_t kvrow = int64_t(cfg.num_kv_heads) * cfg.head_dim * 2 * 2;  // K + V, bf16
        for (jet_layer_type t : cfg.layer_types) {
            if (t == JET_LAYER_ATTN) per_seq_state += int64_t(ctx) * kvrow;
            else if (t == JET_LAYER_SWA) per_seq_state += int64_t(std::min(ctx, cfg.swa_window)) * kvrow;
            else  // S and conv state read and written
                per_seq_state += 2 * (int64_t(cfg.jet_num_heads) * cfg.jet_head_k_dim * cfg.jet_head_v_dim * 4 +
                                      int64_t(cfg.jet_value_dim()) * cfg.jet_conv_size * 4);
        }
    }
    const int64_t weight_read = be->weight_bytes() - fp8_saved;  // every matrix once (the embedding is the
                                                      // tied LM head: read once, fully)
    const int64_t one_cache = be->cache_bytes(ctx + steps + 16, nullptr);
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    // Leave room for the workspace (~0.6 GiB at 2048 rows + logits and split-KV scratch).
    const int64_t reserve = int64_t(3) << 30;
    const int max_batch = int(std::max<int64_t>(1, (int64_t(free_b) - reserve) / one_cache));
    std::fprintf(stderr, "cache per sequence at %d: %.1f MiB; free %.1f GiB -> max batch %d\n", ctx,
                 one_cache / 1048576.0, free_b / 1073741824.0, max_batch);
    std::vector<int> batches = parse_list(batch_arg, max_batch);
    const int biggest = *std::max_element(batches.begin(), batches.end());
    ctx_cache.reset();
    std::unique_ptr<jet::Cache> cache;
    int n_seq = std::min(biggest, max_batch);
    for (;; n_seq = n_seq * 9 / 10) {
        try {
            cache = be->create_cache(n_seq, ctx + steps + 16);
            break;
        } catch (const jet::Error &e) {
            if (e.status() != JET_ERR_OUT_OF_MEMORY || n_seq <= 1) throw;
            std::fprintf(stderr, "batch %d does not fit (%s), trying fewer\n", n_seq, e.what());
        }
    }
    {
        const auto tok = prompt_tokens(ctx);
        be->prefill(*cache, 0, tok.data(), ctx, nullptr, false);
        for (int s = 1; s < n_seq; ++s) cache->copy_seq(0, s);  // same context, same cost
    }
    md << "\n| decode @ context | batch | step, GPU (ms) | tok/s, GPU | step + logits to host (ms) | "
          "step + sampling on GPU (ms) | tok/s, sampled | vs GPU step | members change (ms) | "
          "bytes/step (GB) | roof (ms) | % of roof |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    float *pinned = nullptr;
    if (cudaMallocHost(&pinned, size_t(n_seq) * V * sizeof(float)) != cudaSuccess)
        throw jet::Error(JET_ERR_OUT_OF_MEMORY, "pinned logits buffer");
    for (int B : batches) {
        B = std::min(B, n_seq);
        std::vector<int32_t> seqs(static_cast<size_t>(B)), toks(static_cast<size_t>(B));
        for (int i = 0; i < B; ++i) {
            seqs[size_t(i)] = i;
            toks[size_t(i)] = (i * 31 + 5) % 151643;
        }
        // The same batch stays at the same positions: rewind so repeated runs stay in the cache.
        const double dev_ms = jet::cuda::decode_step_device_ms(*be, *cache, B, seqs.data(),
                                                               toks.data(), steps);
        double api = 1e30;
        for (int s = 0; s < std::max(3, steps / 4); ++s) {
            const double t = now_s();
            be->decode(*cache, B, seqs.data(), toks.data(), pinned);
            api = std::min(api, now_s() - t);
        }
        for (int i = 0; i < B; ++i) cache->pos[size_t(i)] = ctx;  // rewind (slots rewritten)
        // Decode and sample on the GPU (the defaults: temperature 0.8, top-k 40, top-p 0.95,
        // min-p 0.05), ids back to the host: the serving path.
        jet_sampler_params sp;
        jet::sampler_defaults(&sp);
        std::vector<jet::Sampler> rules(static_cast<size_t>(n_seq), jet::Sampler(sp));
        std::vector<jet::Sampler *> ptrs;
        for (auto &r : rules) ptrs.push_back(&r);
        std::vector<int32_t> next(static_cast<size_t>(n_seq));
        auto sampled_step = [&](const int32_t *sq) {
            const double t = now_s();
            be->decode_sample(*cache, V, B, sq, toks.data(), ptrs.data(), next.data(), nullptr);
            return now_s() - t;
        };
        double sampled = 1e30;
        for (int s = 0; s < std::max(3, steps / 4); ++s) sampled = std::min(sampled, sampled_step(seqs.data()));
        for (int i = 0; i < B; ++i) cache->pos[size_t(i)] = ctx;
        // Members that change every step: the batch alternates between sequences [0, B) and
        // [1, B]; each step's graph is the same (one per batch size), so nothing is captured.
        double moving = 0;
        if (B < n_seq) {
            std::vector<int32_t> shifted(seqs);
            for (auto &q : shifted) ++q;
            const int reps = std::max(4, steps / 4);
            for (int s = 0; s < reps; ++s) moving += sampled_step(s % 2 ? shifted.data() : seqs.data());
            moving /= reps;
            for (int i = 0; i <= B; ++i) cache->pos[size_t(i)] = ctx;
        }
        const double bytes = double(weight_read) + double(B) * double(per_seq_state);
        const double roof_ms = bytes / bw * 1e3;
        char moving_txt[32] = "-";
        if (moving > 0) std::snprintf(moving_txt, sizeof moving_txt, "%.3f", moving * 1e3);
        std::snprintf(line, sizeof line,
                      "| tg @ d%d | %d | %.3f | %.0f | %.3f | %.3f | %.0f | %.1f%% | %s | %.2f | %.3f | "
                      "%.0f%% |\n",
                      ctx, B, dev_ms, B / (dev_ms * 1e-3), api * 1e3, sampled * 1e3, B / sampled,
                      100.0 * dev_ms / (sampled * 1e3), moving_txt, bytes / 1e9, roof_ms,
                      100.0 * roof_ms / dev_ms);
        md << line;
        std::fprintf(stderr, "%s", line);
    }
    cudaFreeHost(pinned);

    // Where a decode step's time goes (one eager step, GPU time per op kind).
    for (int B : batches) {
        B = std::min(B, n_seq);
        std::vector<int32_t> seqs(static_cast<size_t>(B)), toks(static_cast<size_t>(B), 7);
        for (int i = 0; i < B; ++i) seqs[size_t(i)] = i;
        md << breakdown_table("decode step, batch " + std::to_string(B) + " @ d" +
                                  std::to_string(ctx) + " (eager, GPU time)",
                              jet::cuda::decode_breakdown(*be, *cache, B, seqs.data(), toks.data()));
    }
    std::printf("%s", md.str().c_str());
    if (!out_path.empty()) std::ofstream(out_path) << md.str();
    return 0;
} catch (const jet::Error &e) {
    std::fprintf(stderr, "error: %s (%s)\n", e.what(), jet_status_name(e.status()));
    return 1;
} catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
