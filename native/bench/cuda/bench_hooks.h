// bench_hooks.h - what the model benchmark (native/bench/cuda/model_bench.cpp) needs from
// the CUDA backend beyond backend.h: the device time of a decode step alone (the captured CUDA
// graph replayed, logits left on the GPU), so that the step can be compared with the bytes it
// must read, apart from the logits' copy to the host that the API adds.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"

namespace jet::cuda {

// Replays the decode graph of this batch `reps` times (capturing it first through one ordinary
// decode call, which appends `tokens`) and returns the mean milliseconds per step, timed with
// CUDA events on the session's stream. The replays rewrite the same cache slots: the state
// changes, the positions do not.
double decode_step_device_ms(Backend &backend, Cache &cache, int n, const int32_t *seqs,
                             const int32_t *tokens, int reps);

// One decode step run eagerly with an event after every op (the GPU held until the whole step
// is queued): milliseconds per op kind, summed over layers, in order of first appearance.
std::vector<std::pair<std::string, double>> decode_breakdown(Backend &backend, Cache &cache, int n,
                                                             const int32_t *seqs,
                                                             const int32_t *tokens);

// The same for a prefill of `n` tokens into sequence `seq` (its chunks as the backend runs them;
// the host's wait between chunks lands on each chunk's first op, "embedding").
std::vector<std::pair<std::string, double>> prefill_breakdown(Backend &backend, Cache &cache,
                                                              int seq, const int32_t *tokens,
                                                              int n);

// Measured device-to-device copy bandwidth in bytes/s (bytes read + bytes written), over a
// buffer of `bytes`; the roof for memory-bound decode.
double copy_bandwidth(size_t bytes, int reps);

// Replaces the backend's linear weights (attention / JetBlock projections, MLP; not the
// embeddings or the LM head) by FP8 e4m3 copies with per-output-channel scales, quantized on the
// host from the uploaded bf16 values (scale = max|w| / 448 per row) - the bf16 vs FP8 comparison
// without an FP8 checkpoint. Call it before the first decode (graphs capture the weights).
// Returns the bytes a step no longer reads (the replaced bf16 matrices less their FP8 copies).
int64_t quantize_linear_weights_fp8(Backend &backend);

}  // namespace jet::cuda
