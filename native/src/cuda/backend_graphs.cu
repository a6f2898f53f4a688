// backend_graphs.cu - decode steps as CUDA graphs: one graph per batch of sequence ids,
// captured on first use and replayed while the batch stays the same (at most kMaxGraphs per
// session).
#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

void CudaCache::drop_graphs() {
    for (auto &kv : graphs) cudaGraphExecDestroy(kv.second);
    graphs.clear();
}

void CudaBackend::decode(Cache &cache, int n, const int32_t *seqs, const int32_t *tokens,
                         float *logits) {
    auto &c = static_cast<CudaCache &>(cache);
    check(cudaSetDevice(device_), "cudaSetDevice");
    c.check_cancel();
    upload_decode(c, n, seqs, tokens);
    const std::vector<int32_t> key(seqs, seqs + n);
    auto it = c.graphs.find(key);
    if (it == c.graphs.end()) {
        const std::vector<Run> runs = runs_of(seqs, n);
        if (c.graphs.size() >= kMaxGraphs) c.drop_graphs();
        cudaGraph_t graph = nullptr;
        check(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal),
              "cudaStreamBeginCapture");
        try {
            forward(c, n, -1, 0, &runs);
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
        it = c.graphs.emplace(key, exec).first;
    }
    check(cudaGraphLaunch(it->second, c.stream), "cudaGraphLaunch");
    check(cudaMemcpyAsync(logits, c.work.logits, size_t(n) * cfg_.vocab_size * sizeof(float),
                          cudaMemcpyDeviceToHost, c.stream),
          "cudaMemcpyAsync (logits)");
    check(cudaStreamSynchronize(c.stream), "decode");
    for (int i = 0; i < n; ++i) ++c.pos[size_t(seqs[i])];
}

}  // namespace jet::cuda
