// backend_graphs.cu - decode steps as CUDA graphs: one graph per batch size, captured on first
// use and replayed for any batch of that size (the kernels read each row's sequence from the
// device), at most kMaxGraphs per session; the step that returns logits and the step that
// samples on the GPU (cuda::sample_rows) and returns ids.
#include <cstring>

#include "cuda/cuda_backend.h"
#include "error.h"
#include "sampler.h"

namespace jet::cuda {

void CudaCache::drop_graphs() {
    for (auto &kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
}

void CudaBackend::decode_step(CudaCache &c, int n) const {
    auto it = c.graphs.find(n);
    if (it == c.graphs.end()) {
        if (c.graphs.size() >= kMaxGraphs) c.drop_graphs();
        cudaGraph_t graph = nullptr;
        check(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal),
              "cudaStreamBeginCapture");
        try {
            forward(c, n, -1, 0, true);
            lm_head(c, 0, n);
        } catch (...) {
            cudaStreamEndCapture(c.stream, &graph);
            if (graph) cudaGraphDestroy(graph);
            cudaGetLastError();
            throw;
        }
        check(cudaStreamEndCapture(c.stream, &graph), "cudaStreamEndCapture");
        cudaGraphExec_t exec = nullptr;
        const cudaError_t e = cudaGraphInstantiateWithFlags(&exec, graph, 0);
        cudaGraphDestroy(graph);
        check(e, "cudaGraphInstantiate");
        it = c.graphs.emplace(n, exec).first;
    }
    check(cudaGraphLaunch(it->second, c.stream), "cudaGraphLaunch");
}

void CudaBackend::decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                         float *logits) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    c.check_cancel();
    upload_decode(c, n, seqs, tokens);
    decode_step(c, n);
    check(cudaMemcpyAsync(logits, c.work.logits, size_t(n) * cfg_.vocab_size * sizeof(float),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (logits)");
    check(cudaStreamSynchronize(c.stream), "decode");
    for (int i = 0; i < n; ++i) ++c.pos[size_t(seqs[i])];
}

void CudaBackend::decode_sample(Cache &cache, int vocab, int n, const int32_t *seqs,
                                const int32_t *tokens, Sampler *const *samplers,
                                int32_t *out_tokens, float *out_logprobs) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    c.check_cancel();
    const int V = cfg_.vocab_size;
    // Each row's rule and draw, and the histories its penalty looks at.
    std::vector<cuda::SampleRow> rows(static_cast<size_t>(n));
    std::vector<uint8_t> on_host(static_cast<size_t>(n));
    std::vector<int32_t> hist;
    for (int i = 0; i < n; ++i) {
        const Sampler &sm = *samplers[i];
        const jet_sampler_params &p = sm.params();
        cuda::SampleRow &r = rows[size_t(i)];
        r.u = samplers[i]->next_uniform();
        r.temperature = p.temperature;
        r.top_p = p.top_p;
        r.min_p = p.min_p;
        r.repeat_penalty = p.repeat_penalty;
        r.top_k = p.top_k;
        r.vocab_limit = p.vocab_limit;
        r.hist_offset = int32_t(hist.size());
        r.hist_len = p.repeat_penalty != 1.0f ? int32_t(sm.history().size()) : 0;
        // The GPU dedups at most kSampleCandidates history tokens; longer ones: the host's.
        on_host[size_t(i)] = r.hist_len > cuda::kSampleCandidates;
        if (r.hist_len > 0) hist.insert(hist.end(), sm.history().begin(), sm.history().end());
    }
    c.ensure_sample(n, hist.size());
    CudaCache::SampleIo &io = c.sample_io;
    std::memcpy(io.host_rows, rows.data(), rows.size() * sizeof(cuda::SampleRow));
    if (!hist.empty()) std::memcpy(io.host_hist, hist.data(), hist.size() * sizeof(int32_t));
    upload_decode(c, n, seqs, tokens);
    check(cudaMemcpyAsync(io.rows_dev, io.host_rows, rows.size() * sizeof(cuda::SampleRow),
                          cudaMemcpyHostToDevice, c.stream),
          "cudaMemcpyAsync (sampling rows)");
    if (!hist.empty())
        check(cudaMemcpyAsync(io.hist_dev, io.host_hist, hist.size() * sizeof(int32_t),
                              cudaMemcpyHostToDevice, c.stream),
              "cudaMemcpyAsync (sampling history)");
    decode_step(c, n);
    cuda::sample_rows(c.work.logits, n, V, io.rows_dev, io.hist_dev, io.tokens, io.logprobs,
                      c.stream);
    check(cudaMemcpyAsync(io.host_out, io.tokens, size_t(n) * sizeof(int32_t),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (tokens)");
    check(cudaMemcpyAsync(io.host_out + n, io.logprobs, size_t(n) * sizeof(float),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (log-probabilities)");
    check(cudaStreamSynchronize(c.stream), "decode_sample");
    for (int i = 0; i < n; ++i) ++c.pos[size_t(seqs[i])];
    std::vector<float> row;
    for (int i = 0; i < n; ++i) {
        int32_t t = io.host_out[i];
        float lp;
        std::memcpy(&lp, &io.host_out[n + i], sizeof lp);
        if (t == -2) throw Error(JET_ERR_INVALID_ARGUMENT, "sampler: every logit is NaN");
        if (t == -1 || on_host[size_t(i)]) {
            // A rule that needs more candidates than the GPU keeps: this row on the host, with
            // the draw already taken (the row is the raw logits again).
            row.resize(size_t(V));
            check(cudaMemcpy(row.data(), c.work.logits + int64_t(i) * V, size_t(V) * sizeof(float),
                             cudaMemcpyDeviceToHost),
                  "cudaMemcpy (logits row)");
            t = samplers[i]->pick(row.data(), V, rows[size_t(i)].u);
            lp = log_prob(row.data(), V, t);
        }
        out_tokens[i] = t;
        if (out_logprobs) out_logprobs[i] = lp;
    }
    (void)vocab;  // the model's: cfg_.vocab_size
}

}  // namespace jet::cuda
