// cpu_backend.h - the CPU forward pass (float32 weights upcast at load, cpu/ops.h operators).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "backend.h"
#include "cpu_cache.h"
#include "weights.h"

namespace jet {

class CpuBackend final : public Backend {
public:
    CpuBackend(const Config &cfg, const Weights &w, int n_threads);

    std::unique_ptr<Cache> create_cache(int n_seq, int n_ctx) override;
    void prefill(Cache &cache, int seq, const int32_t *tokens, int n, float *logits,
                 bool all) override;
    void decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                float *logits) override;
    int64_t weight_bytes() const override;
    int64_t cache_bytes(int64_t n_ctx, int64_t *per_token) const override;

    // Test hook: called with the residual stream [T, hidden] after the embedding (stage 0),
    // after layer l (stage l + 1) and after the final norm (stage num_layers + 1).
    std::function<void(int stage, const float *x, int T, int d)> on_hidden;

    // Rows of one forward: `n` consecutive tokens of sequence `seq`.
    struct Segment {
        int seq, row0, n;
    };

private:
    struct Layer {
        jet_layer_type type;
        std::vector<float> ln1, ln2, gate, up, down;
        // attn/swa
        std::vector<float> wq, bq, wk, bk, wv, bv, wo;
        // jet (wq, wk, wv, wo shared with the above names)
        std::vector<float> wa, wb, A_log, dt_bias, wg, o_norm, gen_w1, gen_w2, gen_b2;
    };

    void forward(CpuCache &c, const std::vector<Segment> &segs, const int32_t *tokens, int T,
                 const std::vector<int> &logit_rows, float *logits);
    void attention_layer(CpuCache &c, int li, const std::vector<Segment> &segs,
                         const int32_t *positions, const float *h, float *out, int T);
    void jet_layer(CpuCache &c, int li, const std::vector<Segment> &segs, const float *h,
                   float *out, int T);

    Config cfg_;
    std::vector<float> embed_, norm_, lm_head_;  // lm_head_ empty when tied
    std::vector<Layer> layers_;
    int64_t weight_floats_ = 0;
};

}  // namespace jet
