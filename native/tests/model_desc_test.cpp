// Tests for model_desc.cpp: the role -> name / shape table and the per-layer cache shape,
// against the numbers of docs/model.md sections 3 and 6 for Jet-Nemotron-2B.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config.h"
#include "model_desc.h"
#include "test_util.h"

namespace {

jet::Config config_2b() { return jet::parse_config(jet_test::config_2b_json().dump()); }
jet::Config tiny() { return jet::parse_config(jet_test::tiny_config_json().dump()); }

TEST(ModelDesc, NamesFollowTheHuggingFaceLayout) {
    EXPECT_EQ(jet::tensor_name(jet::Role::Embed, jet::kNoLayer), "model.embed_tokens.weight");
    EXPECT_EQ(jet::tensor_name(jet::Role::FinalNorm, jet::kNoLayer), "model.norm.weight");
    EXPECT_EQ(jet::tensor_name(jet::Role::LmHead, jet::kNoLayer), "lm_head.weight");
    EXPECT_EQ(jet::tensor_name(jet::Role::MlpGate, 3), "model.layers.3.mlp.gate_proj.weight");
    EXPECT_EQ(jet::tensor_name(jet::Role::AttnKBias, 14), "model.layers.14.self_attn.k_proj.bias");
    EXPECT_EQ(jet::tensor_name(jet::Role::JetALog, 0), "model.layers.0.self_attn.A_log");
    EXPECT_EQ(jet::tensor_name(jet::Role::JetGenW2, 27),
              "model.layers.27.self_attn.dynamic_conv1d.kernel_generator.w2.weight");
    // Attention and JetBlock q/k/v/o share the checkpoint's names (one mixer per layer).
    EXPECT_EQ(jet::tensor_name(jet::Role::AttnQ, 5), jet::tensor_name(jet::Role::JetQ, 5));
}

TEST(ModelDesc, ShapesOf2B) {
    const jet::Config c = config_2b();
    using V = std::vector<int64_t>;
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::Embed), (V{151936, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::MlpDown), (V{1536, 8960}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::AttnQ), (V{1536, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::AttnK), (V{256, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::AttnO), (V{1536, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetQ), (V{1152, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetV), (V{3072, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetA), (V{12, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetONorm), (V{256}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetO), (V{1536, 3072}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetGenW1), (V{384, 1536}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetGenW2), (V{3072 * 4, 384}));
    EXPECT_EQ(jet::tensor_shape(c, jet::Role::JetGenB2), (V{3072 * 4}));
}

TEST(ModelDesc, ModelTensorsListEachTensorOnceInCheckpointOrder) {
    const jet::Config c = config_2b();
    const auto all = jet::model_tensors(c);
    // embedding + 24 JetBlocks x 18 + 4 attention layers x 12 + final norm (tied head)
    EXPECT_EQ(all.size(), size_t(1 + 24 * 18 + 4 * 12 + 1));
    std::set<std::string> names;
    for (const auto &t : all) {
        EXPECT_TRUE(names.insert(t.name).second) << t.name;
        EXPECT_EQ(t.name, jet::tensor_name(t.role, t.layer));
        EXPECT_EQ(t.shape, jet::tensor_shape(c, t.role));
    }
    EXPECT_EQ(all.front().role, jet::Role::Embed);
    EXPECT_EQ(all.back().role, jet::Role::FinalNorm);
    EXPECT_EQ(all[1].name, "model.layers.0.input_layernorm.weight");

    jet::Config untied = c;
    untied.tie_word_embeddings = false;
    EXPECT_EQ(jet::model_tensors(untied).back().role, jet::Role::LmHead);
}

TEST(ModelDesc, LayerCacheShapes) {
    const jet::Config c = tiny();  // jet, attn, swa (window 8), jet; nkv 2 x hd 8; H 2, dK 8, dV 16, W 4
    const jet::LayerCacheShape jet0 = jet::layer_cache_shape(c, 0, 100);
    EXPECT_EQ(jet0.type, JET_LAYER_JET);
    EXPECT_EQ(jet0.kv_rows, 0);
    EXPECT_EQ(jet0.state, 2 * 8 * 16);
    EXPECT_EQ(jet0.conv, 2 * 16 * 4);

    const jet::LayerCacheShape attn = jet::layer_cache_shape(c, 1, 100);
    EXPECT_EQ(attn.kv_rows, 100);
    EXPECT_EQ(attn.kv_width, 16);
    EXPECT_TRUE(attn.kv_per_token);
    EXPECT_FALSE(attn.kv_ring);
    EXPECT_EQ(attn.state + attn.conv, 0);

    const jet::LayerCacheShape swa = jet::layer_cache_shape(c, 2, 100);
    EXPECT_EQ(swa.kv_rows, 8);
    EXPECT_TRUE(swa.kv_ring);
    EXPECT_FALSE(swa.kv_per_token);
    const jet::LayerCacheShape short_ctx = jet::layer_cache_shape(c, 2, 5);
    EXPECT_EQ(short_ctx.kv_rows, 5);  // the window is never larger than the context
    EXPECT_FALSE(short_ctx.kv_ring);
}

TEST(ModelDesc, CacheBytesOf2BAt64K) {
    const jet::Config c = config_2b();
    int64_t per_token = 0;
    const int64_t cuda = jet::cache_bytes_per_seq(c, 65536, jet::kCudaCacheElements, &per_token);
    const int64_t attn = 2 * 65536 * int64_t(1024);    // 2 layers, K+V bf16: 1 KiB per token
    const int64_t swa = 2 * 1152 * int64_t(1024);      // 2 layers of 1152 ring rows
    const int64_t jet = 24 * (int64_t(12) * 96 * 256 * 4 + int64_t(3072) * 4 * 4);  // fp32 S + conv
    EXPECT_EQ(cuda, attn + swa + jet);
    EXPECT_EQ(per_token, 2 * 1024);
    const int64_t cpu = jet::cache_bytes_per_seq(c, 65536, jet::kCpuCacheElements, &per_token);
    EXPECT_EQ(cpu, 2 * (attn + swa) + jet);  // fp32 KV
    EXPECT_EQ(per_token, 2 * 2048);
}

}  // namespace
