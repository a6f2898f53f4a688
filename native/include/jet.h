/*
 * jet.h - the flat C ABI of JetNative, an inference engine for NVIDIA's Jet-Nemotron models.
 *
 * Plain C11. Every exported symbol starts with jet_. Conventions:
 *  - Calls that can fail return jet_status (JET_OK == 0). Results come back through a trailing
 *    out-pointer. On failure the out-pointer is left untouched (handles: set to NULL) and a
 *    human-readable message is available from jet_last_error() on the same thread.
 *  - Parameter structs start with `uint32_t size` (set by jet_*_default_params); new fields are
 *    only ever appended, so an older caller passing a smaller struct keeps working.
 *  - Ownership: every jet_X_create/load has exactly one jet_X_free; freeing NULL is a no-op.
 *    A session keeps its model alive (the model is freed when the last of it and its sessions is).
 *  - Threads: a model may be shared by many sessions on many threads; one session is used by one
 *    thread at a time. Calls that compute take a jet_run_options (progress and abort callbacks);
 *    an abort callback may read a flag that any thread sets.
 *  - No C++ exception ever crosses this boundary.
 */
#ifndef JET_H
#define JET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(JET_BUILD)
#    define JET_API __declspec(dllexport)
#  else
#    define JET_API __declspec(dllimport)
#  endif
#else
#  define JET_API __attribute__((visibility("default")))
#endif

/* Bumped on any incompatible change of this header. The managed layer refuses a mismatch. */
#define JET_API_VERSION 3

/* ---------------------------------------------------------------- status, version, logging */

/* The outcome of a call: JET_OK, or the kind of failure (the message: jet_last_error()). */
typedef enum jet_status {
    JET_OK = 0,                   /* success                                                    */
    JET_ERR_INVALID_ARGUMENT = 1, /* null handle, bad parameter, token id out of range        */
    JET_ERR_IO = 2,               /* file missing, unreadable, truncated                        */
    JET_ERR_FORMAT = 3,           /* corrupt safetensors/JSON, bad config, wrong tensor shape   */
    JET_ERR_OUT_OF_MEMORY = 4,    /* host or device allocation failed; model does not fit       */
    JET_ERR_CONTEXT_FULL = 5,     /* a sequence would exceed the session's context length       */
    JET_ERR_CANCELLED = 6,        /* an abort or progress callback stopped the call             */
    JET_ERR_DEVICE = 7,           /* no GPU, CUDA not built in, driver or kernel error          */
    JET_ERR_UNSUPPORTED = 8,      /* valid request this build or model cannot serve            */
    JET_ERR_INTERNAL = 9          /* a bug: please report it with the message                   */
} jet_status;

/* JET_API_VERSION of the loaded library. */
JET_API uint32_t jet_api_version(void);
/* "MAJOR.MINOR.PATCH (+cuda)" - static storage, never freed. */
JET_API const char *jet_version_string(void);
/* Constant name of a status, e.g. "JET_ERR_FORMAT" - static storage. */
JET_API const char *jet_status_name(jet_status status);
/* Message of the last failed call on this thread ("" if none). Valid until the next failing
 * call on this thread. */
JET_API const char *jet_last_error(void);
/* 1 if this build has the CUDA backend and a usable GPU is present, else 0. */
JET_API int32_t jet_cuda_device_count(void);

/* Severity of a log line. */
typedef enum jet_log_level {
    JET_LOG_DEBUG = 0, /* details for developers           */
    JET_LOG_INFO = 1,  /* progress and settings            */
    JET_LOG_WARN = 2,  /* something works, but not as asked */
    JET_LOG_ERROR = 3  /* a failure                        */
} jet_log_level;

/* Receives log lines (no trailing newline). `message` is valid only during the call. */
typedef void (*jet_log_callback)(int32_t level, const char *message, void *user_data);
/* Process-wide; NULL restores the default (warnings and errors to stderr). Thread-safe. */
JET_API void jet_set_log_callback(jet_log_callback callback, void *user_data);

/* Progress of a long call in [0, 1]. Return non-zero to go on, zero to cancel
 * (the call then fails with JET_ERR_CANCELLED). */
typedef int32_t (*jet_progress_callback)(float progress, void *user_data);

/* Polled by a running call between prefill chunks and between layers. Return non-zero to stop
 * it (the call then fails with JET_ERR_CANCELLED), zero to go on. */
typedef int32_t (*jet_abort_callback)(void *user_data);

/* Per-call options of the calls that compute (jet_session_prefill, jet_session_decode,
 * jet_session_decode_sample). Passing NULL means no callbacks. */
typedef struct jet_run_options {
    uint32_t size;              /* sizeof(jet_run_options)                                 */
    int32_t reserved0;
    jet_progress_callback progress; /* prefill progress chunk by chunk; may be NULL         */
    void *progress_user_data;
    jet_abort_callback abort;   /* may be NULL                                             */
    void *abort_user_data;
} jet_run_options;

JET_API void jet_run_default_options(jet_run_options *out);

/* ---------------------------------------------------------------- model */

typedef struct jet_model jet_model;
typedef struct jet_session jet_session;
typedef struct jet_sampler jet_sampler;

/* Where a model runs. */
typedef enum jet_device {
    JET_DEVICE_CPU = 0, /* the CPU backend (OpenBLAS, a thread pool) */
    JET_DEVICE_CUDA = 1 /* an NVIDIA GPU (device_index selects it)   */
} jet_device;

/* The token mixer of a layer. */
typedef enum jet_layer_type {
    JET_LAYER_ATTN = 0, /* full causal attention    */
    JET_LAYER_SWA = 1,  /* sliding-window attention */
    JET_LAYER_JET = 2   /* JetBlock                 */
} jet_layer_type;

/* The storage type of a model's linear-layer weights (docs/quantization.md). INT8 and FP8_E4M3
 * are weight-only quantized: each weight has a float scale per output channel or per group of
 * weight_group_size inputs (dequantized weight = q * scale); activations stay float. */
typedef enum jet_weight_dtype {
    JET_WEIGHT_F32 = 0,
    JET_WEIGHT_BF16 = 1,
    JET_WEIGHT_F16 = 2,
    JET_WEIGHT_INT8 = 3,     /* int8, symmetric                                   */
    JET_WEIGHT_FP8_E4M3 = 4  /* float8 e4m3fn                                     */
} jet_weight_dtype;

typedef struct jet_model_params {
    uint32_t size;              /* sizeof(jet_model_params)                               */
    int32_t device;             /* jet_device; default JET_DEVICE_CPU                     */
    int32_t device_index;       /* CUDA ordinal; default 0                                */
    int32_t n_threads;          /* CPU threads; 0 = the physical cores (default)         */
    jet_progress_callback progress; /* load progress; may be NULL                         */
    void *progress_user_data;
} jet_model_params;

JET_API void jet_model_default_params(jet_model_params *out);

/* Loads a Hugging Face checkpoint folder: config.json plus model.safetensors or
 * model.safetensors.index.json with its shards. Validates the config, every safetensors header
 * and every tensor's name, dtype and shape before use. Free with jet_model_free. */
JET_API jet_status jet_model_load(const char *folder, const jet_model_params *params,
                                  jet_model **out_model);

/* Builds a model with random weights from the text of a config.json (same validation as
 * jet_model_load). For benchmarks and architecture search; the same seed gives the same weights. */
JET_API jet_status jet_model_create_random(const char *config_json, uint64_t seed,
                                           const jet_model_params *params, jet_model **out_model);

/* Writes a Hugging Face checkpoint of random bf16 weights - the values jet_model_create_random
 * gives for this config and seed - into `folder` (created if missing; files of the same names
 * are replaced): config.json (config_json as given) and model.safetensors, or, above one shard,
 * model-0000i-of-0000n.safetensors shards of at most max_shard_bytes of tensor data each
 * (0: 2 GiB) with model.safetensors.index.json. For tests and benchmarks of the loader with
 * full-size models (e.g. Jet-Nemotron-2B's config: 3.9 GB) without a download.
 * JET_ERR_FORMAT for a bad config; JET_ERR_IO, naming the path, when writing fails. */
JET_API jet_status jet_checkpoint_write_random(const char *config_json, uint64_t seed,
                                               const char *folder, uint64_t max_shard_bytes);

/* Writes a weight-only quantized copy of the checkpoint in `in_folder` into `out_folder`
 * (created if missing; must differ from in_folder): every linear layer's weight (attention and
 * JetBlock projections, the conv-kernel generator, the MLP, an untied LM head) as `type`
 * (JET_WEIGHT_INT8 or JET_WEIGHT_FP8_E4M3) with an F32 `<name>.weight_scale` per output channel
 * (group_size 0) or per group of group_size inputs (a tensor whose input size group_size does
 * not divide keeps one scale per output channel); embeddings, norms and biases are copied as
 * they are. config.json gets "quantization_config" {"quant_method": "jetnative", "weight_dtype",
 * "group_size"}; the other non-weight files (tokenizer, generation config, eval.json) are copied.
 * Safetensors shards of at most 2 GiB of tensor data. `progress` (may be NULL) gets the fraction
 * done; returning 0 cancels (JET_ERR_CANCELLED). JET_ERR_INVALID_ARGUMENT for a bad type or
 * group size; JET_ERR_FORMAT for an invalid or already quantized checkpoint; JET_ERR_IO naming
 * the path when reading or writing fails. */
JET_API jet_status jet_checkpoint_quantize(const char *in_folder, const char *out_folder,
                                           int32_t type, int32_t group_size,
                                           jet_progress_callback progress, void *user_data);

JET_API void jet_model_free(jet_model *model);

typedef struct jet_model_info {
    uint32_t size;              /* sizeof(jet_model_info); set by the caller               */
    int32_t device;             /* jet_device the model runs on                            */
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t num_layers;
    int32_t intermediate_size;
    int32_t num_attention_heads;
    int32_t num_kv_heads;
    int32_t head_dim;           /* attention head dim                                      */
    int32_t max_position_embeddings;
    int32_t swa_window;         /* 0 when no swa layer                                     */
    int32_t jet_num_heads;      /* 0 when no JetBlock                                      */
    int32_t jet_head_k_dim;
    int32_t jet_head_v_dim;
    int32_t jet_conv_size;
    int32_t n_attn_layers;
    int32_t n_swa_layers;
    int32_t n_jet_layers;
    int32_t bos_token_id;       /* -1 when absent                                          */
    int32_t eos_token_id;       /* -1 when absent                                          */
    int32_t tie_word_embeddings;
    int32_t reserved0;
    int64_t n_params;           /* parameters (tied embedding counted once)                */
    int64_t weight_bytes;       /* bytes the weights occupy on the model's device          */
    int32_t weight_dtype;       /* jet_weight_dtype of the linear layers' weights (as stored) */
    int32_t weight_group_size;  /* quantized: inputs per scale (0: one scale per output
                                   channel); 0 when not quantized                          */
} jet_model_info;

/* Fills *out (out->size must be set by the caller). */
JET_API jet_status jet_model_get_info(const jet_model *model, jet_model_info *out);
/* Mixer type (jet_layer_type) of layer `layer`. */
JET_API jet_status jet_model_layer_type(const jet_model *model, int32_t layer, int32_t *out_type);
/* Cache bytes one sequence needs at `n_ctx` tokens of context (KV of attn layers, the capped
 * swa ring buffers, conv and recurrent states of JetBlocks), as this engine allocates them. */
JET_API jet_status jet_model_cache_bytes(const jet_model *model, int64_t n_ctx,
                                         int64_t *out_bytes);

/* ---------------------------------------------------------------- config.json */

/* What the text of a config.json describes, without weights or a device: the tools that size a
 * model before building it (cache accounting, architecture search) ask these instead of parsing
 * the file themselves. Each call validates `config_json` exactly as jet_model_load does
 * (JET_ERR_FORMAT, naming the field) and keeps nothing. */

/* Fills *out as jet_model_get_info would for a model of this config (out->size must be set by
 * the caller): n_params counts the tensors a checkpoint of it holds (tied embedding once),
 * weight_bytes is their size in bf16, device is JET_DEVICE_CPU. */
JET_API jet_status jet_config_get_info(const char *config_json, jet_model_info *out);

/* Mixer type (jet_layer_type) of layer `layer` of the config. */
JET_API jet_status jet_config_layer_type(const char *config_json, int32_t layer,
                                         int32_t *out_type);

/* The cache of one sequence, by part, in bytes. */
typedef struct jet_cache_breakdown {
    uint32_t size;              /* sizeof(jet_cache_breakdown); set by the caller          */
    int32_t device;             /* jet_device whose allocation this is                     */
    int64_t n_ctx;              /* tokens of context                                       */
    int64_t attn_kv;            /* K and V of every token in the full-attention layers     */
    int64_t swa_kv;             /* K and V of the sliding-window layers: min(window, n_ctx)
                                   rows each                                               */
    int64_t jet_state;          /* JetBlock recurrent states: H x dK x dV each             */
    int64_t jet_conv;           /* JetBlock conv states: the last conv_size values of V    */
    int64_t total;              /* all of it: jet_model_cache_bytes of such a model        */
    int64_t per_token;          /* what one more token of context adds to attn_kv          */
} jet_cache_breakdown;

/* The cache one sequence of this config needs at `n_ctx` tokens on `device` (jet_device), with
 * that device's element types (CPU: float32; CUDA: bf16 K/V, float32 JetBlock states), as the
 * engine allocates it. Needs no GPU. out->size must be set by the caller. */
JET_API jet_status jet_config_cache_bytes(const char *config_json, int32_t device, int64_t n_ctx,
                                          jet_cache_breakdown *out);

/* ---------------------------------------------------------------- session */

typedef struct jet_session_params {
    uint32_t size;              /* sizeof(jet_session_params)                              */
    int32_t n_seq;              /* sequences (batch slots); default 1                      */
    int32_t n_ctx;              /* max tokens per sequence; 0 = max_position_embeddings    */
    int32_t prefill_chunk;      /* tokens per prefill step; 0 = the device's default       */
                                /* (CPU 512, CUDA 2048)                                    */
    int32_t allow_long_context; /* non-zero: n_ctx may exceed max_position_embeddings (a   */
                                /* warning is logged; RoPE runs at any position, quality   */
                                /* beyond the trained length is the model's); default 0:   */
                                /* such an n_ctx is JET_ERR_INVALID_ARGUMENT               */
} jet_session_params;

JET_API void jet_session_default_params(jet_session_params *out);

/* A session holds the cache of n_seq sequences. It keeps `model` alive. */
JET_API jet_status jet_session_create(jet_model *model, const jet_session_params *params,
                                      jet_session **out_session);
JET_API void jet_session_free(jet_session *session);

/* A new session with a copy of every sequence's cache and position. */
JET_API jet_status jet_session_fork(const jet_session *session, jet_session **out_session);
/* Empties sequence `seq`, or every sequence when seq == -1. */
JET_API jet_status jet_session_reset(jet_session *session, int32_t seq);
/* Copies sequence src's cache and position onto dst (dst's previous content is dropped). */
JET_API jet_status jet_session_copy_seq(jet_session *session, int32_t src, int32_t dst);
/* Tokens held by sequence `seq`. */
JET_API jet_status jet_session_position(const jet_session *session, int32_t seq,
                                        int32_t *out_position);
/* Cache bytes allocated by the session in total, and per token of context per sequence
 * (the attention KV part; fixed-size JetBlock states are in the total only). */
JET_API jet_status jet_session_cache_bytes(const jet_session *session, int64_t *out_total,
                                           int64_t *out_per_token);

/* Which logits a prefill writes to logits_out. */
typedef enum jet_logits_mode {
    JET_LOGITS_NONE = 0, /* logits_out may be NULL                 */
    JET_LOGITS_LAST = 1, /* logits_out holds vocab_size floats     */
    JET_LOGITS_ALL = 2   /* logits_out holds n_tokens * vocab_size */
} jet_logits_mode;

/* Appends n_tokens tokens to sequence `seq` (in chunks of prefill_chunk) and writes float32
 * logits as `logits_mode` says. Fails with JET_ERR_CONTEXT_FULL (nothing appended) when the
 * sequence would exceed n_ctx, JET_ERR_INVALID_ARGUMENT for a token outside [0, vocab_size),
 * JET_ERR_CANCELLED when run->abort or run->progress stopped it: before the first chunk nothing
 * changes, after it the sequence is reset. The session keeps the last token's logits for
 * jet_session_sample. `run` may be NULL. */
JET_API jet_status jet_session_prefill(jet_session *session, int32_t seq, const int32_t *tokens,
                                       int32_t n_tokens, int32_t logits_mode, float *logits_out,
                                       const jet_run_options *run);

/* One decode step for a batch: appends tokens[i] to sequence seqs[i] (distinct) and writes
 * logits_out[i * vocab_size ...] for each. A step is atomic: run->abort is polled once before it
 * (JET_ERR_CANCELLED, nothing changed); when the step itself fails, the sequences of the batch
 * are reset. `run` may be NULL. */
JET_API jet_status jet_session_decode(jet_session *session, int32_t n, const int32_t *seqs,
                                      const int32_t *tokens, float *logits_out,
                                      const jet_run_options *run);

/* ---------------------------------------------------------------- sampling */

typedef struct jet_sampler_params {
    uint32_t size;              /* sizeof(jet_sampler_params)                              */
    float temperature;          /* <= 0: greedy (argmax). default 0.8                      */
    int32_t top_k;              /* <= 0: off. default 40                                   */
    float top_p;                /* >= 1: off. default 0.95                                 */
    float min_p;                /* <= 0: off. default 0.05                                 */
    float repeat_penalty;       /* 1: off. default 1.0                                     */
    int32_t repeat_last_n;      /* tokens of history the penalty looks at; default 64      */
    int32_t vocab_limit;        /* > 0: only ids below it are picked, e.g. the tokenizer's
                                   size when the model's vocabulary is padded beyond it (Qwen:
                                   151,665 of 151,936). 0 (default): all                      */
    uint64_t seed;              /* same seed + same logits = same tokens; default 0        */
} jet_sampler_params;

JET_API void jet_sampler_default_params(jet_sampler_params *out);
JET_API jet_status jet_sampler_create(const jet_sampler_params *params, jet_sampler **out_sampler);
JET_API void jet_sampler_free(jet_sampler *sampler);
/* Picks a token from `n_vocab` logits (not modified). Does not add it to the history. */
JET_API jet_status jet_sampler_sample(jet_sampler *sampler, const float *logits, int32_t n_vocab,
                                      int32_t *out_token);
/* Adds a token to the repetition-penalty history (prompt tokens too). */
JET_API jet_status jet_sampler_accept(jet_sampler *sampler, int32_t token);
/* Clears the history and reseeds the RNG with the params' seed. */
JET_API jet_status jet_sampler_reset(jet_sampler *sampler);

/* ---------------------------------------------------------------- sampling in the engine */

/* Sets how the engine picks sequence seq's tokens in jet_session_sample and
 * jet_session_decode_sample (params validated as in jet_sampler_create; NULL: greedy, no
 * penalty). Reseeds the sequence's RNG with params->seed. The repetition penalty looks at the
 * sequence's own last repeat_last_n tokens (prompt and generated: everything appended since its
 * last reset). jet_session_reset keeps the params and reseeds; jet_session_copy_seq and fork copy
 * them with the RNG state. */
JET_API jet_status jet_session_set_sampler(jet_session *session, int32_t seq,
                                           const jet_sampler_params *params);

/* Picks the next token of each sequence seqs[i] from the logits its last jet_session_prefill or
 * jet_session_decode left (nothing is appended; after a jet_session_decode_sample there are none:
 * JET_ERR_INVALID_ARGUMENT): out_tokens[i], and, when out_logprobs is not NULL, out_logprobs[i] =
 * the token's log-probability under the model (log-softmax of the raw logits). */
JET_API jet_status jet_session_sample(jet_session *session, int32_t n, const int32_t *seqs,
                                      int32_t *out_tokens, float *out_logprobs);

/* One decode step that samples in the engine: appends tokens[i] to seqs[i] (distinct), then
 * picks each sequence's next token as jet_session_sample does, into out_tokens[i] (and
 * out_logprobs[i] when not NULL). No logits cross this boundary: on CUDA the sampling runs on
 * the GPU and n ids come back. Atomic like jet_session_decode.
 * The loop of a generation: prefill the prompt, jet_session_sample, then decode_sample with the
 * token it gave until done. `run` may be NULL. */
JET_API jet_status jet_session_decode_sample(jet_session *session, int32_t n, const int32_t *seqs,
                                             const int32_t *tokens, int32_t *out_tokens,
                                             float *out_logprobs, const jet_run_options *run);

#ifdef __cplusplus
}
#endif

#endif /* JET_H */
