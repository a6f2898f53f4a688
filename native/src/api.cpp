// api.cpp - the C ABI of jet.h: argument validation, error reporting, chunking, run options
// (progress, abort), per-sequence sampling state, bookkeeping of sessions; the math is the Backend's.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "api_guard.h"
#include "backend.h"
#include "checkpoint_writer.h"
#include "config.h"
#include "error.h"
#include "jet.h"
#include "log_sink.h"
#include "model_info.h"
#include "quantize.h"
#include "sampler.h"
#include "weights.h"

using jet::Error;
using jet::api::guard;
using jet::api::invalid;

namespace {

// Tokens per prefill step when the caller leaves it to the engine: the CPU's chunked operators
// gain nothing beyond 512, the CUDA backend's GEMMs fill the GPU only with larger chunks (a 64K
// prefill of the 2B on an H100: 49.7K tok/s in chunks of 512, 68.8K in chunks of 2048).
constexpr int kDefaultPrefillChunkCpu = 512;
constexpr int kDefaultPrefillChunkCuda = 2048;
constexpr int kMaxSeqs = 1 << 16;

struct ModelImpl {
    jet::Config cfg;
    std::unique_ptr<jet::Backend> backend;
    jet_device device = JET_DEVICE_CPU;
    int64_t n_params = 0;
    jet_weight_dtype weight_dtype = JET_WEIGHT_BF16;
};

// Copies the caller's params struct over the defaults: only the fields its `size` covers.
// `min_size` is the size of the struct's first version (fields appended later keep their
// defaults for a caller built against it).
template <class P>
P read_params(const P *in, const P &defaults, const char *what, size_t min_size = sizeof(P)) {
    P p = defaults;
    if (!in) return p;
    if (in->size < min_size)
        invalid(std::string(what) + ".size is " + std::to_string(in->size) + ", expected at least " +
                std::to_string(min_size) + " (call the matching jet_*_default_params)");
    std::memcpy(&p, in, std::min<size_t>(in->size, sizeof(P)));
    p.size = sizeof(P);
    return p;
}

// jet_session_params before allow_long_context was appended.
constexpr size_t kSessionParamsV1 = offsetof(jet_session_params, allow_long_context);

jet_model_params model_defaults() {
    jet_model_params p{};
    jet_model_default_params(&p);
    return p;
}

jet_session_params session_defaults() {
    jet_session_params p{};
    jet_session_default_params(&p);
    return p;
}

std::shared_ptr<ModelImpl> make_model(const jet::Config &cfg,
                                      std::shared_ptr<const jet::Weights> w,
                                      const jet_model_params &p) {
    auto m = std::make_shared<ModelImpl>();
    m->cfg = cfg;
    m->n_params = w->n_params();
    m->weight_dtype = w->weight_dtype();
    m->device = static_cast<jet_device>(p.device);
    if (p.device == JET_DEVICE_CUDA) {
        // The CUDA backend's quantized path is FP8 (docs/quantization.md); INT8 runs on the CPU.
        if (m->weight_dtype == JET_WEIGHT_INT8)
            throw jet::Error(JET_ERR_UNSUPPORTED,
                             "INT8 weights run on the CPU device only; for CUDA, quantize with "
                             "--type fp8 (jet_checkpoint_quantize with JET_WEIGHT_FP8_E4M3)");
        m->backend = jet::make_cuda_backend(cfg, std::move(w), p.device_index);
    } else {
        m->backend = jet::make_cpu_backend(cfg, std::move(w), p.n_threads);
    }
    return m;
}

void check_model_params(const jet_model_params &p) {
    if (p.device != JET_DEVICE_CPU && p.device != JET_DEVICE_CUDA)
        invalid("model params: device " + std::to_string(p.device) + " is not a jet_device");
    if (p.n_threads < 0) invalid("model params: n_threads must be >= 0");
    if (p.device_index < 0) invalid("model params: device_index must be >= 0");
}

}  // namespace

struct jet_model {
    std::shared_ptr<ModelImpl> impl;
};

struct jet_session {
    std::shared_ptr<ModelImpl> model;
    jet_session_params params{};
    std::unique_ptr<jet::Cache> cache;
    std::vector<float> last_logits;   // [n_seq, vocab]: logits after each sequence's last token
    std::vector<uint8_t> has_logits;  // per sequence
    std::vector<jet::Sampler> samplers;  // per sequence: rule, history of its tokens, draws

    int vocab() const { return model->cfg.vocab_size; }
    float *logits_of(int seq) { return last_logits.data() + size_t(seq) * size_t(vocab()); }
    void backend_prefill(int seq, const int32_t *t, int n, float *logits, bool all) {
        model->backend->prefill(*cache, seq, t, n, logits, all);
    }
    void accept(int seq, const int32_t *t, int n) {
        for (int i = 0; i < n; ++i) samplers[size_t(seq)].accept(t[i]);
    }
    void reset_seq(int seq) {
        cache->reset(seq);
        has_logits[seq] = 0;
        samplers[size_t(seq)].reset();
    }
};

struct jet_sampler {
    explicit jet_sampler(const jet_sampler_params &p) : s(p) {}
    jet::Sampler s;
};

namespace {

// The run options of one call, visible to the backend (Cache::run) while the call lasts.
struct RunScope {
    jet_session *s;
    jet_run_options opts;
    RunScope(jet_session *session, const jet_run_options *run) : s(session) {
        jet_run_default_options(&opts);
        opts = read_params(run, opts, "jet_run_options");
        s->cache->run = &opts;
    }
    ~RunScope() { s->cache->run = nullptr; }
    RunScope(const RunScope &) = delete;
    RunScope &operator=(const RunScope &) = delete;
};

void check_seq(const jet_session *s, int32_t seq) {
    if (seq < 0 || seq >= s->params.n_seq)
        invalid("sequence " + std::to_string(seq) + " is out of range [0, " +
                std::to_string(s->params.n_seq) + ")");
}

void check_tokens(const jet_session *s, const int32_t *tokens, int32_t n) {
    const int V = s->vocab();
    for (int32_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= V)
            invalid("token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                    " is outside the vocabulary [0, " + std::to_string(V) + ")");
}

void throw_if_cancelled(jet_session *s) { s->cache->check_cancel(); }

// Checks seqs[0, n) (distinct, in range) for a batched call.
void check_batch(const jet_session *s, int32_t n, const int32_t *seqs) {
    if (n < 1) invalid("n must be >= 1");
    if (!seqs) invalid("seqs is NULL");
    if (n > s->params.n_seq) invalid("n is larger than the session's n_seq");
    std::vector<uint8_t> seen(size_t(s->params.n_seq), 0);
    for (int32_t i = 0; i < n; ++i) {
        check_seq(s, seqs[i]);
        if (seen[size_t(seqs[i])]++) invalid("sequence " + std::to_string(seqs[i]) + " appears twice in seqs");
    }
}

// Checks that each of seqs[0, n) has room for one more token.
void check_room(const jet_session *s, int32_t n, const int32_t *seqs) {
    for (int32_t i = 0; i < n; ++i)
        if (s->cache->pos[seqs[i]] >= s->params.n_ctx)
            throw Error(JET_ERR_CONTEXT_FULL, "sequence " + std::to_string(seqs[i]) +
                                                  " is full (n_ctx = " +
                                                  std::to_string(s->params.n_ctx) + ")");
}

// The common part of jet_session_decode and jet_session_decode_sample: checks the batch, polls
// the abort callback once (a step is atomic: never inside), runs `step`, and resets the batch's
// sequences when it fails.
template <class Step>
void decode_step(jet_session *s, int32_t n, const int32_t *seqs, const int32_t *tokens,
                 const jet_run_options *run, Step &&step) {
    RunScope scope(s, run);
    check_batch(s, n, seqs);
    if (!tokens) invalid("tokens is NULL");
    check_tokens(s, tokens, n);
    check_room(s, n, seqs);
    throw_if_cancelled(s);
    s->cache->run = nullptr;
    try {
        step();
    } catch (...) {
        for (int32_t i = 0; i < n; ++i) s->reset_seq(seqs[i]);
        throw;
    }
}

// The body of jet_session_prefill: validated inputs.
void do_prefill(jet_session *s, int32_t seq, const int32_t *tokens, int32_t n, int32_t mode,
                float *logits_out) {
    const int V = s->vocab();
    const int chunk = s->params.prefill_chunk;
    if (int64_t(s->cache->pos[seq]) + n > s->params.n_ctx)
        throw Error(JET_ERR_CONTEXT_FULL,
                    "sequence " + std::to_string(seq) + " holds " +
                        std::to_string(s->cache->pos[seq]) + " tokens; " + std::to_string(n) +
                        " more would exceed n_ctx = " + std::to_string(s->params.n_ctx));
    throw_if_cancelled(s);  // before anything changed: the sequence stays as it was
    try {
        for (int32_t off = 0; off < n; off += chunk) {
            if (off > 0) throw_if_cancelled(s);
            const int len = std::min<int32_t>(chunk, n - off);
            const bool last = off + len == n;
            if (mode == JET_LOGITS_ALL) {
                float *dst = logits_out + size_t(off) * size_t(V);
                s->backend_prefill(seq, tokens + off, len, dst, true);
            } else {
                s->backend_prefill(seq, tokens + off, len, last ? s->logits_of(seq) : nullptr, false);
            }
            const jet_run_options *run = s->cache->run;
            if (run && run->progress && !run->progress(float(off + len) / float(n), run->progress_user_data))
                throw Error(JET_ERR_CANCELLED, "prefill cancelled by the progress callback");
        }
    } catch (...) {
        s->reset_seq(seq);
        throw;
    }
    if (mode == JET_LOGITS_ALL)
        std::memcpy(s->logits_of(seq), logits_out + size_t(n - 1) * size_t(V), sizeof(float) * V);
    if (mode == JET_LOGITS_LAST) std::memcpy(logits_out, s->logits_of(seq), sizeof(float) * V);
    s->has_logits[seq] = 1;
    s->accept(seq, tokens, n);
}

}  // namespace

namespace jet::api {
thread_local std::string t_last_error;  // declared in api_guard.h
}  // namespace jet::api

extern "C" {

// ---------------------------------------------------------------- status, version, logging

uint32_t jet_api_version(void) { return JET_API_VERSION; }

const char *jet_version_string(void) {
#ifdef JET_HAVE_CUDA
    return JET_VERSION_STRING " +cuda";
#else
    return JET_VERSION_STRING;
#endif
}

const char *jet_status_name(jet_status status) {
    switch (status) {
    case JET_OK: return "JET_OK";
    case JET_ERR_INVALID_ARGUMENT: return "JET_ERR_INVALID_ARGUMENT";
    case JET_ERR_IO: return "JET_ERR_IO";
    case JET_ERR_FORMAT: return "JET_ERR_FORMAT";
    case JET_ERR_OUT_OF_MEMORY: return "JET_ERR_OUT_OF_MEMORY";
    case JET_ERR_CONTEXT_FULL: return "JET_ERR_CONTEXT_FULL";
    case JET_ERR_CANCELLED: return "JET_ERR_CANCELLED";
    case JET_ERR_DEVICE: return "JET_ERR_DEVICE";
    case JET_ERR_UNSUPPORTED: return "JET_ERR_UNSUPPORTED";
    case JET_ERR_INTERNAL: return "JET_ERR_INTERNAL";
    }
    return "JET_ERR_UNKNOWN";
}

const char *jet_last_error(void) { return jet::api::t_last_error.c_str(); }

int32_t jet_cuda_device_count(void) {
    try {
        return jet::cuda_device_count();
    } catch (...) {
        return 0;
    }
}

void jet_set_log_callback(jet_log_callback callback, void *user_data) {
    try {
        jet::set_log_sink(callback, user_data);
    } catch (...) {  // a failed mutex lock: keep the previous callback
    }
}

// ---------------------------------------------------------------- model

void jet_model_default_params(jet_model_params *out) {
    if (!out) return;
    *out = jet_model_params{};
    out->size = sizeof(jet_model_params);
    out->device = JET_DEVICE_CPU;
    out->device_index = 0;
    out->n_threads = 0;
}

jet_status jet_model_load(const char *folder, const jet_model_params *params,
                          jet_model **out_model) {
    if (out_model) *out_model = nullptr;
    return guard("jet_model_load", [&] {
        if (!folder) invalid("folder is NULL");
        if (!out_model) invalid("out_model is NULL");
        const jet_model_params p = read_params(params, model_defaults(), "jet_model_params");
        check_model_params(p);
        std::string dir = folder;
        if (!dir.empty() && dir.back() != '/') dir += '/';
        const jet::Config cfg = jet::parse_config(jet::read_text_file(dir + "config.json"));
        auto w = jet::Weights::load(dir, cfg, p.progress, p.progress_user_data);
        auto m = make_model(cfg, std::move(w), p);
        *out_model = new jet_model{std::move(m)};
        jet::log(JET_LOG_INFO, "loaded %s: %d layers, %lld parameters", folder, cfg.num_layers,
                 static_cast<long long>((*out_model)->impl->n_params));
    });
}

jet_status jet_model_create_random(const char *config_json, uint64_t seed,
                                   const jet_model_params *params, jet_model **out_model) {
    if (out_model) *out_model = nullptr;
    return guard("jet_model_create_random", [&] {
        if (!config_json) invalid("config_json is NULL");
        if (!out_model) invalid("out_model is NULL");
        const jet_model_params p = read_params(params, model_defaults(), "jet_model_params");
        check_model_params(p);
        const jet::Config cfg = jet::parse_config(config_json);
        auto w = jet::Weights::random(cfg, seed);
        auto m = make_model(cfg, std::move(w), p);
        *out_model = new jet_model{std::move(m)};
    });
}

jet_status jet_checkpoint_write_random(const char *config_json, uint64_t seed, const char *folder,
                                       uint64_t max_shard_bytes) {
    return guard("jet_checkpoint_write_random", [&] {
        if (!config_json) invalid("config_json is NULL");
        if (!folder) invalid("folder is NULL");
        jet::write_random_checkpoint(config_json, seed, folder, max_shard_bytes);
    });
}

jet_status jet_checkpoint_quantize(const char *in_folder, const char *out_folder, int32_t type,
                                   int32_t group_size, jet_progress_callback progress,
                                   void *user_data) {
    return guard("jet_checkpoint_quantize", [&] {
        if (!in_folder) invalid("in_folder is NULL");
        if (!out_folder) invalid("out_folder is NULL");
        jet::quantize_checkpoint(in_folder, out_folder, static_cast<jet_weight_dtype>(type),
                                 group_size, progress, user_data);
    });
}

void jet_model_free(jet_model *model) { delete model; }

jet_status jet_model_get_info(const jet_model *model, jet_model_info *out) {
    return guard("jet_model_get_info", [&] {
        if (!model) invalid("model is NULL");
        const ModelImpl &m = *model->impl;
        jet::copy_model_info(
            jet::model_info(m.cfg, m.device, m.n_params, m.backend->weight_bytes(),
                            m.weight_dtype),
            out);
    });
}

jet_status jet_model_layer_type(const jet_model *model, int32_t layer, int32_t *out_type) {
    return guard("jet_model_layer_type", [&] {
        if (!model) invalid("model is NULL");
        if (!out_type) invalid("out_type is NULL");
        const jet::Config &c = model->impl->cfg;
        if (layer < 0 || layer >= c.num_layers)
            invalid("layer " + std::to_string(layer) + " is out of range [0, " +
                    std::to_string(c.num_layers) + ")");
        *out_type = c.layer_types[layer];
    });
}

jet_status jet_model_cache_bytes(const jet_model *model, int64_t n_ctx, int64_t *out_bytes) {
    return guard("jet_model_cache_bytes", [&] {
        if (!model) invalid("model is NULL");
        if (!out_bytes) invalid("out_bytes is NULL");
        if (n_ctx <= 0 || n_ctx > INT32_MAX) invalid("n_ctx must be in [1, 2^31)");
        *out_bytes = model->impl->backend->cache_bytes(n_ctx, nullptr);
    });
}

// ---------------------------------------------------------------- session

void jet_session_default_params(jet_session_params *out) {
    if (!out) return;
    *out = jet_session_params{};
    out->size = sizeof(jet_session_params);
    out->n_seq = 1;
    out->n_ctx = 0;
    out->prefill_chunk = 0;
}

jet_status jet_session_create(jet_model *model, const jet_session_params *params,
                              jet_session **out_session) {
    if (out_session) *out_session = nullptr;
    return guard("jet_session_create", [&] {
        if (!model) invalid("model is NULL");
        if (!out_session) invalid("out_session is NULL");
        jet_session_params p =
            read_params(params, session_defaults(), "jet_session_params", kSessionParamsV1);
        const int max_ctx = model->impl->cfg.max_position_embeddings;
        if (p.n_seq < 1 || p.n_seq > kMaxSeqs)
            invalid("n_seq " + std::to_string(p.n_seq) + " must be in [1, " +
                    std::to_string(kMaxSeqs) + "]");
        if (p.n_ctx < 0) invalid("n_ctx must be >= 0 (0 = max_position_embeddings)");
        if (p.n_ctx == 0) p.n_ctx = max_ctx;
        if (p.n_ctx > max_ctx) {
            if (!p.allow_long_context)
                invalid("n_ctx " + std::to_string(p.n_ctx) +
                        " is longer than the model allows (max_position_embeddings = " +
                        std::to_string(max_ctx) + "); set allow_long_context to run beyond it");
            jet::log(JET_LOG_WARN,
                     "n_ctx %d is beyond the model's max_position_embeddings %d "
                     "(allow_long_context): positions past %d were not trained on",
                     p.n_ctx, max_ctx, max_ctx);
        }
        if (p.prefill_chunk < 0) invalid("prefill_chunk must be >= 0 (0 = the device's default)");
        if (p.prefill_chunk == 0)
            p.prefill_chunk = model->impl->device == JET_DEVICE_CUDA ? kDefaultPrefillChunkCuda
                                                                     : kDefaultPrefillChunkCpu;
        auto s = std::make_unique<jet_session>();
        s->model = model->impl;
        s->params = p;
        s->cache = model->impl->backend->create_cache(p.n_seq, p.n_ctx);
        s->last_logits.assign(size_t(p.n_seq) * size_t(s->vocab()), 0.0f);
        s->has_logits.assign(size_t(p.n_seq), 0);
        s->samplers.assign(size_t(p.n_seq), jet::Sampler());
        *out_session = s.release();
    });
}

void jet_session_free(jet_session *session) { delete session; }

jet_status jet_session_fork(const jet_session *session, jet_session **out_session) {
    if (out_session) *out_session = nullptr;
    return guard("jet_session_fork", [&] {
        if (!session) invalid("session is NULL");
        if (!out_session) invalid("out_session is NULL");
        auto s = std::make_unique<jet_session>();
        s->model = session->model;
        s->params = session->params;
        s->cache = session->cache->clone();
        s->last_logits = session->last_logits;
        s->has_logits = session->has_logits;
        s->samplers = session->samplers;
        *out_session = s.release();
    });
}

jet_status jet_session_reset(jet_session *session, int32_t seq) {
    return guard("jet_session_reset", [&] {
        if (!session) invalid("session is NULL");
        if (seq == -1) {
            for (int i = 0; i < session->params.n_seq; ++i) session->reset_seq(i);
            return;
        }
        check_seq(session, seq);
        session->reset_seq(seq);
    });
}

jet_status jet_session_copy_seq(jet_session *session, int32_t src, int32_t dst) {
    return guard("jet_session_copy_seq", [&] {
        if (!session) invalid("session is NULL");
        check_seq(session, src);
        check_seq(session, dst);
        if (src == dst) return;
        session->cache->copy_seq(src, dst);
        std::memcpy(session->logits_of(dst), session->logits_of(src),
                    sizeof(float) * size_t(session->vocab()));
        session->has_logits[dst] = session->has_logits[src];
        session->samplers[size_t(dst)] = session->samplers[size_t(src)];
    });
}

jet_status jet_session_position(const jet_session *session, int32_t seq, int32_t *out_position) {
    return guard("jet_session_position", [&] {
        if (!session) invalid("session is NULL");
        if (!out_position) invalid("out_position is NULL");
        check_seq(session, seq);
        *out_position = session->cache->pos[seq];
    });
}

jet_status jet_session_cache_bytes(const jet_session *session, int64_t *out_total,
                                   int64_t *out_per_token) {
    return guard("jet_session_cache_bytes", [&] {
        if (!session) invalid("session is NULL");
        if (!out_total && !out_per_token) invalid("out_total and out_per_token are both NULL");
        int64_t per_token = 0;
        session->model->backend->cache_bytes(session->params.n_ctx, &per_token);
        if (out_total) *out_total = session->cache->bytes();
        if (out_per_token) *out_per_token = per_token;
    });
}

jet_status jet_session_prefill(jet_session *session, int32_t seq, const int32_t *tokens,
                               int32_t n_tokens, int32_t logits_mode, float *logits_out,
                               const jet_run_options *run) {
    return guard("jet_session_prefill", [&] {
        if (!session) invalid("session is NULL");
        RunScope scope(session, run);
        check_seq(session, seq);
        if (n_tokens < 0) invalid("n_tokens must be >= 0");
        if (n_tokens > 0 && !tokens) invalid("tokens is NULL");
        if (logits_mode != JET_LOGITS_NONE && logits_mode != JET_LOGITS_LAST &&
            logits_mode != JET_LOGITS_ALL)
            invalid("logits_mode " + std::to_string(logits_mode) + " is not a jet_logits_mode");
        if (logits_mode != JET_LOGITS_NONE && !logits_out)
            invalid("logits_out is NULL but logits_mode asks for logits");
        if (n_tokens == 0) {
            if (logits_mode != JET_LOGITS_NONE) invalid("no tokens: there are no logits to return");
            return;
        }
        check_tokens(session, tokens, n_tokens);
        do_prefill(session, seq, tokens, n_tokens, logits_mode, logits_out);
    });
}

jet_status jet_session_decode(jet_session *session, int32_t n, const int32_t *seqs,
                              const int32_t *tokens, float *logits_out, const jet_run_options *run) {
    return guard("jet_session_decode", [&] {
        if (!session) invalid("session is NULL");
        if (!logits_out) invalid("logits_out is NULL");
        decode_step(session, n, seqs, tokens, run, [&] {
            session->model->backend->decode(*session->cache, n, seqs, tokens, logits_out);
            const size_t V = size_t(session->vocab());
            for (int32_t i = 0; i < n; ++i) {
                std::memcpy(session->logits_of(seqs[i]), logits_out + size_t(i) * V, sizeof(float) * V);
                session->has_logits[size_t(seqs[i])] = 1;
                session->accept(seqs[i], tokens + i, 1);
            }
        });
    });
}

// ---------------------------------------------------------------- sampling

void jet_sampler_default_params(jet_sampler_params *out) {
    if (out) jet::sampler_defaults(out);
}

jet_status jet_sampler_create(const jet_sampler_params *params, jet_sampler **out_sampler) {
    if (out_sampler) *out_sampler = nullptr;
    return guard("jet_sampler_create", [&] {
        if (!out_sampler) invalid("out_sampler is NULL");
        jet_sampler_params d{};
        jet::sampler_defaults(&d);
        const jet_sampler_params p = read_params(params, d, "jet_sampler_params");
        jet::sampler_validate(p);
        *out_sampler = new jet_sampler(p);
    });
}

void jet_sampler_free(jet_sampler *sampler) { delete sampler; }

jet_status jet_sampler_sample(jet_sampler *sampler, const float *logits, int32_t n_vocab,
                              int32_t *out_token) {
    return guard("jet_sampler_sample", [&] {
        if (!sampler) invalid("sampler is NULL");
        if (!logits) invalid("logits is NULL");
        if (!out_token) invalid("out_token is NULL");
        if (n_vocab < 1) invalid("n_vocab must be >= 1");
        *out_token = sampler->s.sample(logits, n_vocab);
    });
}

jet_status jet_sampler_accept(jet_sampler *sampler, int32_t token) {
    return guard("jet_sampler_accept", [&] {
        if (!sampler) invalid("sampler is NULL");
        if (token < 0) invalid("token must be >= 0");
        sampler->s.accept(token);
    });
}

jet_status jet_sampler_reset(jet_sampler *sampler) {
    return guard("jet_sampler_reset", [&] {
        if (!sampler) invalid("sampler is NULL");
        sampler->s.reset();
    });
}

// ---------------------------------------------------------------- sampling in the engine

void jet_run_default_options(jet_run_options *out) {
    if (!out) return;
    *out = jet_run_options{};
    out->size = sizeof(jet_run_options);
}

jet_status jet_session_set_sampler(jet_session *session, int32_t seq,
                                   const jet_sampler_params *params) {
    return guard("jet_session_set_sampler", [&] {
        if (!session) invalid("session is NULL");
        check_seq(session, seq);
        jet::Sampler next;
        if (params) {
            jet_sampler_params d{};
            jet::sampler_defaults(&d);
            const jet_sampler_params p = read_params(params, d, "jet_sampler_params");
            jet::sampler_validate(p);
            next = jet::Sampler(p);
        }
        // The new rule looks at the tokens the sequence already holds (as far as they were kept).
        for (int32_t t : session->samplers[size_t(seq)].history()) next.accept(t);
        session->samplers[size_t(seq)] = std::move(next);
    });
}

jet_status jet_session_sample(jet_session *session, int32_t n, const int32_t *seqs,
                              int32_t *out_tokens, float *out_logprobs) {
    return guard("jet_session_sample", [&] {
        if (!session) invalid("session is NULL");
        check_batch(session, n, seqs);
        if (!out_tokens) invalid("out_tokens is NULL");
        for (int32_t i = 0; i < n; ++i)
            if (!session->has_logits[size_t(seqs[i])])
                invalid("sequence " + std::to_string(seqs[i]) +
                        " has no logits to sample from: prefill or decode it first");
        const int V = session->vocab();
        for (int32_t i = 0; i < n; ++i) {
            const float *row = session->logits_of(seqs[i]);
            const int32_t tok = session->samplers[size_t(seqs[i])].sample(row, V);
            out_tokens[i] = tok;
            if (out_logprobs) out_logprobs[i] = jet::log_prob(row, V, tok);
        }
    });
}

jet_status jet_session_decode_sample(jet_session *session, int32_t n, const int32_t *seqs,
                                     const int32_t *tokens, int32_t *out_tokens,
                                     float *out_logprobs, const jet_run_options *run) {
    return guard("jet_session_decode_sample", [&] {
        if (!session) invalid("session is NULL");
        if (!out_tokens) invalid("out_tokens is NULL");
        decode_step(session, n, seqs, tokens, run, [&] {
            std::vector<jet::Sampler *> samplers(static_cast<size_t>(n));
            for (int32_t i = 0; i < n; ++i) {
                session->accept(seqs[i], tokens + i, 1);  // the penalty sees the token it follows
                samplers[size_t(i)] = &session->samplers[size_t(seqs[i])];
                session->has_logits[size_t(seqs[i])] = 0;  // the logits stay in the backend
            }
            session->model->backend->decode_sample(*session->cache, session->vocab(), n, seqs,
                                                   tokens, samplers.data(), out_tokens,
                                                   out_logprobs);
        });
    });
}

}  // extern "C"
