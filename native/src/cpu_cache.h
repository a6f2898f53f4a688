// cpu_cache.h - the CPU backend's per-session cache (float32), one block per layer, shaped by
// model_desc.h's layer_cache_shape (docs/model.md section 6):
//   attn: K and V of every position, [n_seq][n_ctx][nkv*hd] each;
//   swa:  K and V ring buffers of min(window, n_ctx) slots, [n_seq][slots][nkv*hd] each,
//         position p in slot p % slots;
//   jet:  recurrent state S [n_seq][H][dK][dV] and conv state [n_seq][value_dim][W].
#pragma once

#include <vector>

#include "backend.h"
#include "config.h"

namespace jet {

class CpuCache final : public Cache {
public:
    CpuCache(const Config &cfg, int n_seq, int n_ctx);

    // Bytes one sequence takes at n_ctx (cache_bytes_per_seq with fp32 elements); *per_token
    // (may be null) gets the attn KV bytes per token.
    static int64_t bytes_per_seq(const Config &cfg, int64_t n_ctx, int64_t *per_token);

    std::unique_ptr<Cache> clone() const override;
    void reset(int seq) override;
    void copy_seq(int src, int dst) override;
    int64_t bytes() const override;

    struct Layer {
        jet_layer_type type = JET_LAYER_ATTN;
        int slots = 0;              // attn: n_ctx; swa: ring size; jet: 0
        int64_t row = 0;            // floats per slot (nkv*hd) for attn/swa
        std::vector<float> k, v;    // attn/swa
        int64_t state_size = 0;     // jet: H*dK*dV
        int64_t conv_size = 0;      // jet: value_dim*W
        std::vector<float> state, conv;
        float *k_seq(int s) { return k.data() + int64_t(s) * slots * row; }
        float *v_seq(int s) { return v.data() + int64_t(s) * slots * row; }
        float *state_seq(int s) { return state.data() + int64_t(s) * state_size; }
        float *conv_seq(int s) { return conv.data() + int64_t(s) * conv_size; }
    };
    std::vector<Layer> layers;
};

}  // namespace jet
