// cuda_backend_test.cpp - the whole model on the GPU (cuda/cuda_backend.h and cuda/backend_*.cu):
//  - tiny-jet-a (../shared) against the official fp32 goldens, within the bf16 noise that the
//    official bf16 + Triton run shows on the same prompts (the fixture's logits_bf16_triton),
//  - against the CPU backend on the same weights (tiny-jet-a, and random weights with the 2B's
//    head dims: attention hd 128, JetBlock dK 96 / dV 256, so the fused kernels run),
//  - decode == prefill, batch == alone (with non-consecutive sequence ids), chunked prefill,
//    fork / copy_seq / reset, and clear errors (bad device, out of memory) instead of crashes.
// Every test skips without a CUDA device; the golden ones also without ../shared.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <string>

#include "../test_util.h"
#include "backend.h"
#include "cuda_test_util.h"
#include "error.h"
#include "safetensors.h"
#include "sampler.h"
#include "weights.h"

namespace {

using jet::test::rel_rms;

struct Stats {
    double rel = 0, max_abs = 0, ref_max = 0, argmax_agree = 0;
};

// got/want: rows of V logits.
Stats compare(const std::vector<float> &got, const std::vector<float> &want, int V) {
    Stats s;
    s.rel = rel_rms(got, want);
    size_t rows = want.size() / size_t(V), agree = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        s.max_abs = std::max(s.max_abs, double(std::fabs(got[i] - want[i])));
        s.ref_max = std::max(s.ref_max, double(std::fabs(want[i])));
    }
    for (size_t r = 0; r < rows; ++r) {
        auto g = got.begin() + long(r * V), w = want.begin() + long(r * V);
        agree += (std::max_element(g, g + V) - g) == (std::max_element(w, w + V) - w);
    }
    s.argmax_agree = rows ? double(agree) / double(rows) : 1.0;
    return s;
}

std::vector<int32_t> ids(const jet::TensorView &t) {
    std::vector<int32_t> out;
    for (float f : t.to_f32()) out.push_back(int32_t(f));
    return out;
}

std::vector<float> row(const std::vector<float> &m, int r, int V) {
    return std::vector<float>(m.begin() + long(r) * V, m.begin() + long(r + 1) * V);
}

// ------------------------------------------------------------------ tiny-jet-a goldens

class CudaTinyJetA : public ::testing::Test {
protected:
    void SetUp() override {
        JET_SKIP_WITHOUT_CUDA();
        if (jet_test::shared_dir().empty())
            GTEST_SKIP() << "needs the golden fixtures in ../shared (JET_SHARED_DIR), absent here";
        dir_ = jet_test::tiny_model_dir();
        golden_ = jet::SafetensorsFile::open(dir_ + "/golden.safetensors");
        cfg_ = jet::parse_config(jet_test::read_bytes(dir_ + "/config.json"));
        w_ = jet::Weights::load(dir_, cfg_, nullptr, nullptr);
        be_ = jet::make_cuda_backend(cfg_, w_, 0);
        V_ = cfg_.vocab_size;
    }
    // The official bf16 engine's error on this prompt: the noise floor a bf16 engine may have.
    Stats triton_noise(int s) {
        const std::string si = std::to_string(s);
        return compare(golden_->get("logits_bf16_triton." + si).to_f32(),
                       golden_->get("logits." + si).to_f32(), V_);
    }
    std::vector<float> prefill_all(const std::vector<int32_t> &tokens) {
        auto cache = be_->create_cache(1, cfg_.max_position_embeddings);
        std::vector<float> logits(tokens.size() * size_t(V_));
        be_->prefill(*cache, 0, tokens.data(), int(tokens.size()), logits.data(), true);
        return logits;
    }
    std::string dir_;
    std::shared_ptr<jet::SafetensorsFile> golden_;
    jet::Config cfg_;
    std::shared_ptr<jet::Weights> w_;
    std::unique_ptr<jet::Backend> be_;
    int V_ = 0;
};

TEST_F(CudaTinyJetA, PrefillLogitsWithinBf16NoiseOfGoldens) {
    for (int s = 0; s < 2; ++s) {
        const std::string si = std::to_string(s);
        const auto tokens = ids(golden_->get("input_ids." + si));
        const auto got = prefill_all(tokens);
        const Stats e = compare(got, golden_->get("logits." + si).to_f32(), V_);
        const Stats n = triton_noise(s);
        std::printf("seq %d: cuda vs fp32 golden rel %.3g max %.3g argmax %.3f | official bf16: "
                    "rel %.3g max %.3g argmax %.3f (max |logit| %.3g)\n",
                    s, e.rel, e.max_abs, e.argmax_agree, n.rel, n.max_abs, n.argmax_agree,
                    e.ref_max);
        EXPECT_LE(e.rel, 2.0 * n.rel);          // FlashAttention's rule: <= 2x the bf16 error
        EXPECT_LE(e.max_abs, 2.0 * n.max_abs);
        EXPECT_GE(e.argmax_agree, n.argmax_agree - 0.05);
    }
}

TEST_F(CudaTinyJetA, DecodeMatchesGoldensAndPrefill) {
    for (int s = 0; s < 2; ++s) {
        const std::string si = std::to_string(s);
        const auto prompt = ids(golden_->get("input_ids." + si));
        const auto dec = ids(golden_->get("decode_ids." + si));
        const auto want = golden_->get("decode_logits." + si).to_f32();
        auto cache = be_->create_cache(2, cfg_.max_position_embeddings);
        std::vector<float> last(static_cast<size_t>(V_)), step(static_cast<size_t>(V_)), got;
        be_->prefill(*cache, 1, prompt.data(), int(prompt.size()), last.data(), false);
        for (int32_t t : dec) {
            const int32_t seq = 1;
            be_->decode(*cache, 1, &seq, &t, step.data());
            got.insert(got.end(), step.begin(), step.end());
        }
        EXPECT_EQ(cache->pos[1], int(prompt.size() + dec.size()));
        EXPECT_EQ(cache->pos[0], 0);
        const Stats e = compare(got, want, V_);
        const Stats n = triton_noise(s);
        std::printf("seq %d decode: rel %.3g max %.3g argmax %.3f\n", s, e.rel, e.max_abs,
                    e.argmax_agree);
        EXPECT_LE(e.rel, 2.0 * n.rel);

        // decode == prefill: the same tokens prefilled at once.
        std::vector<int32_t> all = prompt;
        all.insert(all.end(), dec.begin(), dec.end());
        const auto pf = prefill_all(all);
        std::vector<float> pf_rows(pf.end() - long(dec.size()) * V_, pf.end());
        const double r = rel_rms(got, pf_rows);
        std::printf("seq %d decode vs prefill: rel %.3g\n", s, r);
        EXPECT_LE(r, n.rel);  // two bf16 paths of the same engine: within the official noise
    }
}

TEST_F(CudaTinyJetA, MatchesCpuBackend) {
    auto cpu = jet::make_cpu_backend(cfg_, w_, 0);
    const auto tokens = ids(golden_->get("input_ids.1"));
    auto cc = cpu->create_cache(1, cfg_.max_position_embeddings);
    std::vector<float> want(tokens.size() * size_t(V_));
    cpu->prefill(*cc, 0, tokens.data(), int(tokens.size()), want.data(), true);
    const Stats e = compare(prefill_all(tokens), want, V_);
    std::printf("cuda vs cpu backend: rel %.3g max %.3g argmax %.3f\n", e.rel, e.max_abs,
                e.argmax_agree);
    EXPECT_LE(e.rel, 2.0 * triton_noise(1).rel);
}

TEST_F(CudaTinyJetA, ChunkedPrefillMatchesOneCall) {
    const auto tokens = ids(golden_->get("input_ids.1"));  // 203 tokens
    const auto ref = prefill_all(tokens);
    auto cache = be_->create_cache(1, cfg_.max_position_embeddings);
    std::vector<float> got(tokens.size() * size_t(V_));
    // Chunks of 37 cross the 64-token gated-delta chunks and the 32-token sliding window.
    for (size_t i = 0; i < tokens.size(); i += 37) {
        const int n = int(std::min<size_t>(37, tokens.size() - i));
        be_->prefill(*cache, 0, tokens.data() + i, n, got.data() + i * size_t(V_), true);
    }
    const double r = rel_rms(got, ref);
    std::printf("chunked (37) vs one call: rel %.3g\n", r);
    EXPECT_LE(r, triton_noise(1).rel);
}

TEST_F(CudaTinyJetA, BatchedDecodeMatchesAlone) {
    const auto p0 = ids(golden_->get("input_ids.0")), p1 = ids(golden_->get("input_ids.1"));
    // Six sequences: more than the 4 rows of the fused small-batch decode kernels (GEMV,
    // jetblock_decode_step), so the batch takes the cuBLAS / unfused path and each sequence
    // alone the fused one.
    const std::vector<std::vector<int32_t>> prompts = {
        std::vector<int32_t>(p0.begin(), p0.begin() + 70), p1,
        std::vector<int32_t>(p1.begin() + 5, p1.begin() + 40), p0,
        std::vector<int32_t>(p0.begin(), p0.begin() + 33),
        std::vector<int32_t>(p1.begin(), p1.begin() + 90)};
    const int n = int(prompts.size()), steps = 5;
    const std::vector<int32_t> order = {3, 0, 5, 2, 4, 1};  // non-consecutive: several runs
    auto batch = be_->create_cache(n, 512);
    for (int i = 0; i < n; ++i)
        be_->prefill(*batch, i, prompts[i].data(), int(prompts[i].size()), nullptr, false);
    std::vector<std::vector<float>> alone(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto c = be_->create_cache(1, 512);
        be_->prefill(*c, 0, prompts[i].data(), int(prompts[i].size()), nullptr, false);
        std::vector<float> l(static_cast<size_t>(V_));
        for (int s = 0; s < steps; ++s) {
            const int32_t seq = 0, tok = int32_t((7 * i + 13 * s) % V_);
            be_->decode(*c, 1, &seq, &tok, l.data());
            alone[size_t(i)].insert(alone[size_t(i)].end(), l.begin(), l.end());
        }
    }
    std::vector<std::vector<float>> got(static_cast<size_t>(n));
    std::vector<float> l(size_t(n) * V_);
    for (int s = 0; s < steps; ++s) {
        std::vector<int32_t> toks;
        for (int32_t i : order) toks.push_back(int32_t((7 * i + 13 * s) % V_));
        be_->decode(*batch, n, order.data(), toks.data(), l.data());  // graph captured, replayed
        for (int r = 0; r < n; ++r) {
            const auto x = row(l, r, V_);
            got[size_t(order[r])].insert(got[size_t(order[r])].end(), x.begin(), x.end());
        }
    }
    for (int i = 0; i < n; ++i) {
        const double r = rel_rms(got[size_t(i)], alone[size_t(i)]);
        std::printf("seq %d batched vs alone: rel %.3g\n", i, r);
        // Other kernels (sums in another order, bf16 roundings between them): within the
        // official bf16-vs-fp32 noise of this model (3.1e-2); a mixed-up sequence gives O(1).
        EXPECT_LE(r, 3.1e-2) << "sequence " << i;
        EXPECT_EQ(batch->pos[size_t(i)], int(prompts[i].size()) + steps);
    }
}

TEST_F(CudaTinyJetA, ForkCopyAndReset) {
    const auto p = ids(golden_->get("input_ids.0"));
    auto c = be_->create_cache(2, 512);
    std::vector<float> a(static_cast<size_t>(V_)), b(static_cast<size_t>(V_)), two(2 * size_t(V_));
    be_->prefill(*c, 0, p.data(), 90, a.data(), false);
    auto f = c->clone();
    EXPECT_EQ(f->pos[0], 90);
    EXPECT_EQ(f->bytes(), c->bytes());
    const int32_t seq = 0, tok = 17;
    be_->decode(*c, 1, &seq, &tok, a.data());
    be_->decode(*f, 1, &seq, &tok, b.data());
    EXPECT_LE(rel_rms(b, a), 1e-6);

    c->copy_seq(0, 1);  // both now hold 91 tokens
    EXPECT_EQ(c->pos[1], 91);
    const int32_t seqs[2] = {0, 1}, toks[2] = {5, 5};
    be_->decode(*c, 2, seqs, toks, two.data());
    EXPECT_LE(rel_rms(row(two, 1, V_), row(two, 0, V_)), 1e-6);

    c->reset(0);
    EXPECT_EQ(c->pos[0], 0);
    std::vector<float> again(static_cast<size_t>(V_)), first(static_cast<size_t>(V_));
    be_->prefill(*c, 0, p.data(), 90, again.data(), false);
    be_->prefill(*f, 1, p.data(), 90, first.data(), false);  // a fresh slot of the fork
    EXPECT_LE(rel_rms(again, first), 1e-6);
}

// ------------------------------------------------------------------ random 2B-shaped model

const char *kMini2B = R"({
  "model_type": "jet_nemotron", "vocab_size": 1000, "hidden_size": 256,
  "num_hidden_layers": 4, "layer_types": ["jet", "attn", "swa", "jet"],
  "intermediate_size": 512, "num_attention_heads": 2, "num_key_value_heads": 1,
  "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_scaling": null,
  "max_position_embeddings": 4096, "tie_word_embeddings": true,
  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "efficient_attention_config": {
    "jet": {"mode": "chunk", "expand_v": 2.6666666667, "head_dim": 96, "num_heads": 2,
            "conv_size": 4, "dconv_generator_reduction": 8, "norm_eps": "1e-5"},
    "swa": {"window_size": 48}}
})";

TEST(CudaBackendRandom, TwoBShapedModelMatchesCpu) {
    JET_SKIP_WITHOUT_CUDA();
    const jet::Config cfg = jet::parse_config(kMini2B);
    ASSERT_EQ(cfg.head_dim, 128);
    ASSERT_EQ(cfg.jet_head_v_dim, 256);
    auto w = jet::Weights::random(cfg, 7);
    auto gpu = jet::make_cuda_backend(cfg, w, 0);
    auto cpu = jet::make_cpu_backend(cfg, w, 0);
    EXPECT_GT(gpu->weight_bytes(), 0);
    const int V = cfg.vocab_size, T = 300;
    std::vector<int32_t> tokens(T);
    for (int i = 0; i < T; ++i) tokens[size_t(i)] = int32_t((i * 7919 + 3) % V);
    auto gc = gpu->create_cache(1, 1024);
    auto cc = cpu->create_cache(1, 1024);
    std::vector<float> g(size_t(T) * V), c(size_t(T) * V);
    // The GPU in two calls (200 + 100: ring-buffer sliding window across calls).
    gpu->prefill(*gc, 0, tokens.data(), 200, g.data(), true);
    gpu->prefill(*gc, 0, tokens.data() + 200, 100, g.data() + 200 * size_t(V), true);
    cpu->prefill(*cc, 0, tokens.data(), T, c.data(), true);
    const Stats e = compare(g, c, V);
    std::printf("2B-shaped prefill, cuda vs cpu: rel %.3g max %.3g (max |ref| %.3g) argmax %.3f\n",
                e.rel, e.max_abs, e.ref_max, e.argmax_agree);
    EXPECT_LE(e.rel, 6e-2);  // 2x the official bf16 noise on tiny-jet-a (3.1e-2)
    std::vector<float> gl(static_cast<size_t>(V)), cl(static_cast<size_t>(V)), gd, cd;
    for (int s = 0; s < 4; ++s) {
        const int32_t seq = 0, tok = int32_t(11 * s + 1);
        gpu->decode(*gc, 1, &seq, &tok, gl.data());
        cpu->decode(*cc, 1, &seq, &tok, cl.data());
        gd.insert(gd.end(), gl.begin(), gl.end());
        cd.insert(cd.end(), cl.begin(), cl.end());
    }
    const double rd = rel_rms(gd, cd);
    std::printf("2B-shaped decode, cuda vs cpu: rel %.3g\n", rd);
    EXPECT_LE(rd, 6e-2);
}

// ------------------------------------------------------------------ errors

// decode_sample keeps the logits on the GPU and samples there: for every row it picks what the
// host sampler picks from the same step's logits (decode() of a fork, copied to the host) with
// the same draw - greedy and sampled rows mixed, batch members in any order, and one captured
// step serving batches of the same size but other members.
TEST(CudaBackendRandom, DecodeSampleEqualsHostSamplingOfTheSameLogits) {
    JET_SKIP_WITHOUT_CUDA();
    const jet::Config cfg = jet::parse_config(kMini2B);
    auto w = jet::Weights::random(cfg, 7);
    auto gpu = jet::make_cuda_backend(cfg, w, 0);
    const int V = cfg.vocab_size, n_seq = 8;
    auto cache = gpu->create_cache(n_seq, 512);
    for (int s = 0; s < n_seq; ++s) {
        std::vector<int32_t> p(size_t(20 + 7 * s));
        for (size_t i = 0; i < p.size(); ++i) p[i] = int32_t((i * 31 + 7 * size_t(s)) % size_t(V));
        gpu->prefill(*cache, s, p.data(), int(p.size()), nullptr, false);
    }
    std::vector<jet::Sampler> rules;
    for (int s = 0; s < n_seq; ++s) {
        jet_sampler_params p;
        jet::sampler_defaults(&p);
        p.seed = uint64_t(100 + s);
        if (s % 3 == 0) p.temperature = 0;                 // greedy
        if (s % 3 == 1) p.repeat_penalty = 1.3f;           // the defaults + a penalty
        if (s % 3 == 2) p.top_k = 0, p.min_p = 0.05f;      // min-p gathering
        rules.emplace_back(p);
    }
    // Two batches of 4 with different members (the second reuses the first's graph), 6 steps.
    const std::vector<std::vector<int32_t>> batches = {{5, 0, 3, 6}, {1, 7, 2, 4}};
    std::vector<int32_t> last(size_t(n_seq), 9);
    int checked = 0;
    for (int step = 0; step < 6; ++step) {
        const auto &seqs = batches[size_t(step % 2)];
        const int n = int(seqs.size());
        std::vector<int32_t> toks;
        for (int32_t s : seqs) toks.push_back(last[size_t(s)]);
        // The reference: the same step on a fork, logits to the host, the host's rule.
        auto ref_cache = cache->clone();
        std::vector<float> logits(size_t(n) * V);
        gpu->decode(*ref_cache, n, seqs.data(), toks.data(), logits.data());
        std::vector<jet::Sampler> ref_rules = rules;
        std::vector<jet::Sampler *> ptrs;
        for (int32_t s : seqs) ptrs.push_back(&rules[size_t(s)]);
        std::vector<int32_t> got(static_cast<size_t>(n));
        std::vector<float> lp(static_cast<size_t>(n));
        gpu->decode_sample(*cache, V, n, seqs.data(), toks.data(), ptrs.data(), got.data(), lp.data());
        for (int i = 0; i < n; ++i) {
            jet::Sampler &r = ref_rules[size_t(seqs[size_t(i)])];
            const float *row = logits.data() + size_t(i) * V;
            const int32_t want = r.sample(row, V);
            EXPECT_EQ(got[size_t(i)], want) << "step " << step << " sequence " << seqs[size_t(i)];
            EXPECT_NEAR(lp[size_t(i)], jet::log_prob(row, V, want), 1e-3);
            ++checked;
            last[size_t(seqs[size_t(i)])] = got[size_t(i)];
            rules[size_t(seqs[size_t(i)])].accept(got[size_t(i)]);
        }
        for (int32_t s : seqs) EXPECT_EQ(cache->pos[size_t(s)], ref_cache->pos[size_t(s)]);
    }
    EXPECT_EQ(checked, 24);
}

TEST(CudaBackendErrors, MissingDeviceAndOutOfMemoryAreErrors) {
    JET_SKIP_WITHOUT_CUDA();
    const jet::Config cfg = jet::parse_config(kMini2B);
    auto w = jet::Weights::random(cfg, 1);
    try {
        jet::make_cuda_backend(cfg, w, 1000);
        FAIL() << "device 1000 accepted";
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_DEVICE);
        EXPECT_NE(std::string(e.what()).find("1000"), std::string::npos) << e.what();
    }
    auto be = jet::make_cuda_backend(cfg, w, 0);
    try {
        be->create_cache(200000, 4096);  // ~200 GB of KV
        FAIL() << "an impossible cache was allocated";
    } catch (const jet::Error &e) {
        EXPECT_EQ(e.status(), JET_ERR_OUT_OF_MEMORY);
        EXPECT_NE(std::string(e.what()).find("MiB"), std::string::npos) << e.what();
    }
    // The backend still works after the failure.
    auto c = be->create_cache(1, 64);
    std::vector<float> l(size_t(cfg.vocab_size));
    const int32_t t = 3;
    be->prefill(*c, 0, &t, 1, l.data(), false);
    EXPECT_TRUE(std::all_of(l.begin(), l.end(), [](float x) { return std::isfinite(x); }));
}

TEST(CudaBackendErrors, CacheBytesMatchAllocation) {
    JET_SKIP_WITHOUT_CUDA();
    const jet::Config cfg = jet::parse_config(kMini2B);
    auto be = jet::make_cuda_backend(cfg, jet::Weights::random(cfg, 1), 0);
    int64_t per_token = 0;
    const int64_t one = be->cache_bytes(1000, &per_token);
    EXPECT_EQ(per_token, 2 * 1 * 128 * 2);  // one full-attention layer: K and V, bf16
    auto c = be->create_cache(3, 1000);
    EXPECT_GE(c->bytes(), 3 * one);
    EXPECT_LE(c->bytes(), 3 * one + 64 * 256);  // alignment only
}

// jet_config_cache_bytes(JET_DEVICE_CUDA) sizes the cache without a GPU: it must equal what this
// backend computes, around the sliding window and far beyond it.
TEST(CudaBackendErrors, ConfigCacheBytesEqualTheBackends) {
    JET_SKIP_WITHOUT_CUDA();
    const jet::Config cfg = jet::parse_config(kMini2B);
    auto be = jet::make_cuda_backend(cfg, jet::Weights::random(cfg, 1), 0);
    for (int64_t n_ctx : {1, 47, 48, 49, 1000, 65536}) {
        jet_cache_breakdown b{};
        b.size = sizeof(b);
        ASSERT_EQ(jet_config_cache_bytes(kMini2B, JET_DEVICE_CUDA, n_ctx, &b), JET_OK)
            << jet_last_error();
        EXPECT_EQ(b.total, be->cache_bytes(n_ctx, nullptr)) << "n_ctx " << n_ctx;
    }
}

}  // namespace
