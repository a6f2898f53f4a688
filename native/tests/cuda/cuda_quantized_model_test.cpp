// cuda_quantized_model_test.cpp - a whole FP8 checkpoint on the CUDA backend (issue 15): the
// embedded demo model (trained; models/jetnative-demo) quantized by jet_checkpoint_quantize,
// loaded through the C ABI on the GPU and on the CPU, prefill and greedy decode compared (both
// apply the same e4m3 weights and scales; the GPU rounds activations to bf16 where the CPU keeps
// fp32, as for bf16 checkpoints). INT8 checkpoints on CUDA are a clear error.
// Every test skips without a CUDA device or without the demo model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "../test_util.h"
#include "cuda_test_util.h"

namespace {

using jet::test::rel_rms;
using jet_test::ModelPtr;
using jet_test::SessionPtr;
using jet_test::TempDir;

jet_status load(const std::string &dir, int device, jet_model **out) {
    jet_model_params p;
    jet_model_default_params(&p);
    p.device = device;
    p.n_threads = 2;
    return jet_model_load(dir.c_str(), &p, out);
}

int argmax(const float *row, int vocab) { return int(std::max_element(row, row + vocab) - row); }

// Logits of a prefill of `prompt` (every position) and `steps` decode steps of one sequence.
// The tokens appended: `next` where given, else (next empty) the greedy ones, returned in it.
std::vector<float> run(jet_model *m, const std::vector<int32_t> &prompt,
                       std::vector<int32_t> &next, int steps, int vocab) {
    jet_session_params sp;
    jet_session_default_params(&sp);
    sp.n_ctx = int32_t(prompt.size()) + steps + 8;
    SessionPtr s;
    EXPECT_EQ(jet_session_create(m, &sp, &s.p), JET_OK) << jet_last_error();
    if (!s.p) return {};
    std::vector<float> out(prompt.size() * size_t(vocab));
    EXPECT_EQ(jet_session_prefill(s.p, 0, prompt.data(), int32_t(prompt.size()), JET_LOGITS_ALL,
                                  out.data(), nullptr),
              JET_OK)
        << jet_last_error();
    const bool greedy = next.empty();
    std::vector<float> step(static_cast<size_t>(vocab));
    const int32_t seq = 0;
    for (int i = 0; i < steps; ++i) {
        if (greedy) next.push_back(argmax(out.data() + out.size() - size_t(vocab), vocab));
        EXPECT_EQ(jet_session_decode(s.p, 1, &seq, &next[size_t(i)], step.data(), nullptr), JET_OK)
            << jet_last_error();
        out.insert(out.end(), step.begin(), step.end());
    }
    return out;
}

TEST(CudaQuantizedModel, Fp8DemoModelMatchesTheCpuOnTheSameWeights) {
    JET_SKIP_WITHOUT_CUDA();
    JET_REQUIRE_DEMO();
    const std::string demo = jet_test::demo_model_dir();
    const auto eval = nlohmann::json::parse(jet_test::read_bytes(demo + "/eval.json"));
    std::vector<int32_t> prompt = eval["first_token_ids"].get<std::vector<int32_t>>();
    prompt.resize(std::min<size_t>(prompt.size(), 96));
    const int vocab = nlohmann::json::parse(jet_test::read_bytes(demo + "/config.json"))["vocab_size"];
    for (int group : {0, 128}) {
        SCOPED_TRACE("fp8, group " + std::to_string(group));
        TempDir q;
        ASSERT_EQ(jet_checkpoint_quantize(demo.c_str(), q.path().c_str(), JET_WEIGHT_FP8_E4M3, group,
                                          nullptr, nullptr),
                  JET_OK)
            << jet_last_error();
        ModelPtr cpu, gpu;
        ASSERT_EQ(load(q.path(), JET_DEVICE_CPU, &cpu.p), JET_OK) << jet_last_error();
        ASSERT_EQ(load(q.path(), JET_DEVICE_CUDA, &gpu.p), JET_OK) << jet_last_error();
        jet_model_info info{};
        info.size = sizeof info;
        ASSERT_EQ(jet_model_get_info(gpu.p, &info), JET_OK);
        EXPECT_EQ(info.weight_dtype, JET_WEIGHT_FP8_E4M3);
        EXPECT_EQ(info.device, JET_DEVICE_CUDA);
        // The CPU's greedy continuation, fed to the GPU too.
        std::vector<int32_t> next;
        const auto c = run(cpu.p, prompt, next, 16, vocab), g = run(gpu.p, prompt, next, 16, vocab);
        ASSERT_EQ(c.size(), g.size());
        const size_t split = prompt.size() * size_t(vocab);
        const std::vector<float> cp(c.begin(), c.begin() + long(split)), gp(g.begin(), g.begin() + long(split));
        const std::vector<float> cd(c.begin() + long(split), c.end()), gd(g.begin() + long(split), g.end());
        size_t same = 0, rows = c.size() / size_t(vocab);
        for (size_t r = 0; r < rows; ++r)
            same += argmax(c.data() + r * vocab, vocab) == argmax(g.data() + r * vocab, vocab);
        const double rp = rel_rms(gp, cp), rd = rel_rms(gd, cd), agree = double(same) / double(rows);
        std::printf("[ fp8 g%d  ] cuda vs cpu, same quantized weights: prefill rel %.3g, decode rel "
                    "%.3g, greedy agreement %.3f over %zu positions\n",
                    group, rp, rd, agree, rows);
        // Within the bf16 CUDA-vs-CPU bound of cuda_backend_test.cpp (a wrong scale or layout
        // moves the logits by O(1)).
        EXPECT_LE(rp, 6e-2);
        EXPECT_LE(rd, 6e-2);
        EXPECT_GE(agree, 0.9);
    }
}

TEST(CudaQuantizedModel, Int8CheckpointOnCudaIsAClearError) {
    JET_SKIP_WITHOUT_CUDA();
    JET_REQUIRE_DEMO();
    TempDir q;
    ASSERT_EQ(jet_checkpoint_quantize(jet_test::demo_model_dir().c_str(), q.path().c_str(), JET_WEIGHT_INT8, 0,
                                      nullptr, nullptr),
              JET_OK)
        << jet_last_error();
    ModelPtr m;
    EXPECT_EQ(load(q.path(), JET_DEVICE_CUDA, &m.p), JET_ERR_UNSUPPORTED);
    EXPECT_EQ(m.p, nullptr);
    EXPECT_NE(std::string(jet_last_error()).find("INT8"), std::string::npos) << jet_last_error();
}

}  // namespace
