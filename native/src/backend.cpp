// backend.cpp - the non-pure parts of backend.h.
#include "backend.h"

#include "error.h"
#include "sampler.h"

namespace jet {

void Cache::check_cancel() const {
    if (run && run->abort && run->abort(run->abort_user_data) != 0)
        throw Error(JET_ERR_CANCELLED, "cancelled by the abort callback");
}

void Backend::decode_sample(Cache &cache, int V, int n, const int32_t *seqs, const int32_t *tokens,
                            Sampler *const *samplers, int32_t *out_tokens, float *out_logprobs) {
    std::vector<float> &logits = cache.host_logits;
    logits.resize(size_t(n) * size_t(V));
    decode(cache, n, seqs, tokens, logits.data());
    for (int i = 0; i < n; ++i) {
        const float *row = logits.data() + size_t(i) * size_t(V);
        out_tokens[i] = samplers[i]->sample(row, V);
        if (out_logprobs) out_logprobs[i] = log_prob(row, V, out_tokens[i]);
    }
}

int64_t Backend::cache_bytes(int64_t, int64_t *) const {
    throw Error(JET_ERR_UNSUPPORTED, "this backend does not report its cache size");
}

}  // namespace jet
