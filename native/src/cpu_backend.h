// cpu_backend.h - the CPU forward pass (cpu/ops.h operators, float32 activations). Weight matrices
// stay bf16 when the checkpoint is bf16 (used in place: no copy, half the bytes to stream in
// decode), INT8/FP8 quantized ones stay quantized (a quarter of the bytes, cpu/matmul_q8.cpp);
// other dtypes and the small vectors are widened to float32 at load.
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
    CpuBackend(const Config &cfg, std::shared_ptr<const Weights> w, int n_threads);

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
    // A weight matrix [N, K] (a Linear weight, the embedding): the checkpoint's bf16 in place,
    // its INT8/FP8 values in place with their scales (Weights::scale), or widened to fp32.
    struct Matrix {
        std::vector<float> f32;
        const uint16_t *bf16 = nullptr;
        const int8_t *q8 = nullptr;
        const uint8_t *fp8 = nullptr;
        const float *scale = nullptr;  // [N, K / group] for q8/fp8
        int group = 0;
        bool empty() const { return f32.empty() && !bf16 && !q8 && !fp8; }
    };
    struct Layer {
        jet_layer_type type;
        std::vector<float> ln1, ln2;
        Matrix gate, up, down;
        // attn/swa
        Matrix wq, wk, wv, wo;
        std::vector<float> bq, bk, bv;
        // jet (wq, wk, wv, wo shared with the above names)
        Matrix wa, wb, wg, gen_w1, gen_w2;
        std::vector<float> A_log, dt_bias, o_norm, gen_b2;
    };
    // y[T, N] = x[T, K] W^T + bias (bias may be null).
    static void matmul(const Matrix &W, const float *x, const float *bias, float *y, int T, int K,
                       int N);

    void forward(CpuCache &c, const std::vector<Segment> &segs, const int32_t *tokens, int T,
                 const std::vector<int> &logit_rows, float *logits);
    void attention_layer(CpuCache &c, int li, const std::vector<Segment> &segs,
                         const int32_t *positions, const float *h, float *out, int T);
    void jet_layer(CpuCache &c, int li, const std::vector<Segment> &segs, const float *h,
                   float *out, int T);

    Config cfg_;
    std::shared_ptr<const Weights> weights_;  // holds the bf16 matrices
    Matrix embed_, lm_head_;                  // lm_head_ empty when tied
    std::vector<float> norm_;
    std::vector<Layer> layers_;
    int64_t weight_bytes_ = 0;
};

}  // namespace jet
