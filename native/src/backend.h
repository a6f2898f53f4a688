// backend.h - what a compute backend (CPU, CUDA) implements. The C ABI layer (api.cpp) owns
// validation, error reporting, sampling and bookkeeping; a backend only computes.
//
// Contract:
//  - Inputs are already validated (token ids in range, seq indices valid, capacity checked).
//  - Failures are reported by throwing jet::Error (error.h) with a status and a message.
//  - Logits are float32 in host memory, row-major [rows, vocab_size].
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config.h"

namespace jet {

class Weights;  // weights.h: validated tensors of a checkpoint (host, memory-mapped or owned)
class Sampler;  // sampler.h: one sequence's sampling rule, history and random draws

// Per-session cache of n_seq sequences, n_ctx tokens each. Positions live here so a
// backend can read them; api.cpp never touches the buffers.
class Cache {
public:
    virtual ~Cache() = default;
    virtual std::unique_ptr<Cache> clone() const = 0;      // deep copy (fork)
    virtual void reset(int seq) = 0;                       // empty one sequence
    virtual void copy_seq(int src, int dst) = 0;           // dst := src
    virtual int64_t bytes() const = 0;                     // bytes allocated in total
    int n_seq = 0;
    int n_ctx = 0;
    std::vector<int32_t> pos;  // tokens held per sequence
    // Set by api.cpp for the duration of a call: a backend calls check_cancel() between layers.
    // May be null.
    const jet_run_options *run = nullptr;
    // Host logits of the default Backend::decode_sample, kept between steps (no allocation a step).
    std::vector<float> host_logits;
    void check_cancel() const;  // throws Error(JET_ERR_CANCELLED) when run's abort callback says so
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::unique_ptr<Cache> create_cache(int n_seq, int n_ctx) = 0;
    // Appends n tokens to sequence `seq` (the caller chunks long prompts and checks capacity).
    // logits: nullptr, or vocab_size floats for the last token (all == false), or
    // n * vocab_size floats (all == true).
    virtual void prefill(Cache &cache, int seq, const int32_t *tokens, int n, float *logits,
                         bool all) = 0;
    // One token for each of n distinct sequences; logits [n, vocab_size] (never null).
    virtual void decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                        float *logits) = 0;
    // One decode step that picks each sequence's next token: appends tokens[i] to seqs[i], then
    // out_tokens[i] = samplers[i]->pick(logits row i, vocab, samplers[i]->next_uniform()) and, when
    // out_logprobs is not null, out_logprobs[i] = log_prob(row i, vocab, out_tokens[i]). The
    // default runs decode() into host memory and picks there; a device backend overrides it to
    // keep the logits where they are.
    virtual void decode_sample(Cache &cache, int vocab, int n, const int32_t *seqs,
                               const int32_t *tokens, Sampler *const *samplers, int32_t *out_tokens, float *out_logprobs);
    virtual int64_t weight_bytes() const = 0;
    // Bytes create_cache(1, n_ctx) allocates for one sequence; *per_token (may be null) gets
    // the part that grows per token of context (KV of the full-attention layers). The default
    // throws Error(JET_ERR_UNSUPPORTED); every backend should override it.
    virtual int64_t cache_bytes(int64_t n_ctx, int64_t *per_token) const;
};

// Factories. make_cuda_backend throws jet::Error(JET_ERR_DEVICE) when CUDA is not built in
// or no device is usable.
std::unique_ptr<Backend> make_cpu_backend(const Config &cfg, std::shared_ptr<const Weights> w,
                                          int n_threads);
std::unique_ptr<Backend> make_cuda_backend(const Config &cfg, std::shared_ptr<const Weights> w,
                                           int device_index);
int cuda_device_count();  // 0 without CUDA

}  // namespace jet
