// backend_weights.cu - the CUDA backend's device checks and its weights: one device arena (bf16;
// fp32/fp16 checkpoints rounded to bf16, A_log and dt_bias fp32), the projections that read the
// same input fused into one matrix per layer (cuda_backend.h), bound by role (model_desc.h).
#include <algorithm>
#include <vector>

#include "cuda/cuda_backend.h"
#include "error.h"

namespace jet::cuda {

void CudaBackend::layout_weights(Arena &a) {
    const Config &c = cfg_;
    const size_t d = size_t(c.hidden_size), I = size_t(c.intermediate_size);
    embed_ = a.take<bf16>(size_t(c.vocab_size) * d);
    norm_ = a.take<bf16>(d);
    lm_head_ = c.tie_word_embeddings ? embed_ : a.take<bf16>(size_t(c.vocab_size) * d);
    layers_.assign(size_t(c.num_layers), Layer{});
    for (int i = 0; i < c.num_layers; ++i) {
        Layer &L = layers_[size_t(i)];
        L.type = c.layer_types[size_t(i)];
        L.ln1 = a.take<bf16>(d);
        L.ln2 = a.take<bf16>(d);
        L.gate_up = a.take<bf16>(2 * I * d);
        L.down = a.take<bf16>(d * I);
        if (L.type == JET_LAYER_JET) {
            const size_t vd = size_t(c.jet_value_dim());
            L.w_in = a.take<bf16>(size_t(jet_in_rows_) * d);
            L.w_out = a.take<bf16>(d * vd);
            L.A_log = a.take<float>(size_t(c.jet_num_heads));
            L.dt_bias = a.take<float>(size_t(c.jet_num_heads));
            L.w2 = a.take<bf16>(vd * size_t(c.jet_conv_size) * size_t(c.jet_gen_hidden));
            L.b2 = a.take<bf16>(vd * size_t(c.jet_conv_size));
            L.o_norm = a.take<bf16>(size_t(c.jet_head_v_dim));
        } else {
            const size_t qkv = size_t(c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim;
            L.w_in = a.take<bf16>(qkv * d);
            L.b_in = a.take<bf16>(qkv);
            L.w_out = a.take<bf16>(d * size_t(c.num_attention_heads) * c.head_dim);
        }
    }
}

void CudaBackend::upload(Role role, int layer, bf16 *dst, int64_t numel) const {
    const TensorView &t = weights_->get(role, layer);
    if (t.numel() != numel)
        throw Error(JET_ERR_FORMAT, fmt("tensor %s has %lld elements, expected %lld",
                                        tensor_name(role, layer).c_str(), (long long)t.numel(),
                                        (long long)numel));
    if (t.dtype == DType::BF16) {
        check(cudaMemcpy(dst, t.data, size_t(numel) * sizeof(bf16), cudaMemcpyHostToDevice),
              "cudaMemcpy (weights)");
        return;
    }
    // fp32 / fp16 checkpoints: round to bf16 on the host, in slices.
    const std::vector<float> f = t.to_f32();
    std::vector<bf16> h(std::min<size_t>(f.size(), size_t(1) << 22));
    for (size_t off = 0; off < f.size(); off += h.size()) {
        const size_t n = std::min(h.size(), f.size() - off);
        for (size_t i = 0; i < n; ++i) h[i] = __float2bfloat16(f[off + i]);
        check(cudaMemcpy(dst + off, h.data(), n * sizeof(bf16), cudaMemcpyHostToDevice),
              "cudaMemcpy (weights)");
    }
}

void CudaBackend::upload_f32(Role role, int layer, float *dst, int64_t numel) const {
    const TensorView &t = weights_->get(role, layer);
    if (t.numel() != numel)
        throw Error(JET_ERR_FORMAT, fmt("tensor %s has %lld elements, expected %lld",
                                        tensor_name(role, layer).c_str(), (long long)t.numel(),
                                        (long long)numel));
    const std::vector<float> f = t.to_f32();
    check(cudaMemcpy(dst, f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice),
          "cudaMemcpy (weights)");
}

CudaBackend::CudaBackend(const Config &cfg, std::shared_ptr<const Weights> w, int device)
    : cfg_(cfg), device_(device), weights_(std::move(w)) {
    const Config &c = cfg_;
    // The kernels' limits (kernels.h): JetBlock key dims and attention head dims up to 256,
    // anything else (odd dims, any conv size) runs; the CPU backend has no such limit.
    if (c.count(JET_LAYER_JET) > 0 && c.jet_head_k_dim > 256)
        throw Error(JET_ERR_UNSUPPORTED,
                    fmt("the CUDA backend supports JetBlock key head dims up to 256; this model "
                        "has %d (use the CPU device)", c.jet_head_k_dim));
    if (c.count(JET_LAYER_ATTN) + c.count(JET_LAYER_SWA) > 0 && c.head_dim > 256)
        throw Error(JET_ERR_UNSUPPORTED,
                    fmt("the CUDA backend supports attention head dims up to 256; this model has "
                        "%d (use the CPU device)", c.head_dim));
    int count = 0;
    const cudaError_t ce = cudaGetDeviceCount(&count);
    if (ce != cudaSuccess || count == 0) {
        cudaGetLastError();
        throw Error(JET_ERR_DEVICE,
                    fmt("no usable CUDA device (%s); use the CPU device",
                        ce != cudaSuccess ? cudaGetErrorString(ce) : "none found"));
    }
    if (device < 0 || device >= count)
        throw Error(JET_ERR_DEVICE, fmt("CUDA device %d does not exist (%d present)", device, count));
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    if (prop.major < 8)
        throw Error(JET_ERR_DEVICE, fmt("CUDA device %d (%s, sm_%d%d) is too old: JetNative needs "
                                        "sm_80 or newer (bf16 tensor cores)",
                                        device, prop.name, prop.major, prop.minor));

    const int kd = c.jet_key_dim(), vd = c.jet_value_dim();
    if (c.count(JET_LAYER_JET) > 0) {
        const int rows = 2 * kd + 2 * vd + c.jet_gen_hidden + 2 * c.jet_num_heads;
        jet_in_rows_ = int(align_up(size_t(rows), 8));
    }
    proj_width_ = std::max(2 * c.intermediate_size,
                           (c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim);
    proj_width_ = std::max(proj_width_, jet_in_rows_);

    Arena plan;
    layout_weights(plan);
    arena_bytes_ = plan.used;
    require_free(arena_bytes_, "the model's weights");
    arena_ = device_alloc(arena_bytes_, "the model's weights");
    try {
        check(cudaMemset(arena_, 0, arena_bytes_), "cudaMemset");  // zero padding rows
        Arena a;
        a.base = static_cast<char *>(arena_);
        layout_weights(a);

        const int64_t d = c.hidden_size, I = c.intermediate_size;
        upload(Role::Embed, kNoLayer, embed_, int64_t(c.vocab_size) * d);
        upload(Role::FinalNorm, kNoLayer, norm_, d);
        if (!c.tie_word_embeddings)
            upload(Role::LmHead, kNoLayer, lm_head_, int64_t(c.vocab_size) * d);
        for (int i = 0; i < c.num_layers; ++i) {
            const Layer &L = layers_[size_t(i)];
            upload(Role::Ln1, i, L.ln1, d);
            upload(Role::Ln2, i, L.ln2, d);
            upload(Role::MlpGate, i, L.gate_up, I * d);
            upload(Role::MlpUp, i, L.gate_up + I * d, I * d);
            upload(Role::MlpDown, i, L.down, d * I);
            if (L.type == JET_LAYER_JET) {
                const int64_t H = c.jet_num_heads, W = c.jet_conv_size, r = c.jet_gen_hidden;
                bf16 *w = L.w_in;  // q | k | v | g | w1 | a | b
                upload(Role::JetQ, i, w, kd * d);
                upload(Role::JetK, i, w + kd * d, kd * d);
                upload(Role::JetV, i, w + 2 * kd * d, vd * d);
                upload(Role::JetG, i, w + (2 * kd + vd) * d, vd * d);
                upload(Role::JetGenW1, i, w + (2 * kd + 2 * vd) * d, r * d);
                upload(Role::JetA, i, w + (2 * kd + 2 * vd + r) * d, H * d);
                upload(Role::JetB, i, w + (2 * kd + 2 * vd + r + H) * d, H * d);
                upload(Role::JetO, i, L.w_out, d * vd);
                upload_f32(Role::JetALog, i, L.A_log, H);
                upload_f32(Role::JetDtBias, i, L.dt_bias, H);
                upload(Role::JetGenW2, i, L.w2, vd * W * r);
                upload(Role::JetGenB2, i, L.b2, vd * W);
                upload(Role::JetONorm, i, L.o_norm, c.jet_head_v_dim);
            } else {
                const int64_t qd = int64_t(c.num_attention_heads) * c.head_dim;
                const int64_t kvd = int64_t(c.num_kv_heads) * c.head_dim;
                upload(Role::AttnQ, i, L.w_in, qd * d);  // q | k | v
                upload(Role::AttnK, i, L.w_in + qd * d, kvd * d);
                upload(Role::AttnV, i, L.w_in + (qd + kvd) * d, kvd * d);
                upload(Role::AttnQBias, i, L.b_in, qd);
                upload(Role::AttnKBias, i, L.b_in + qd, kvd);
                upload(Role::AttnVBias, i, L.b_in + qd + kvd, kvd);
                upload(Role::AttnO, i, L.w_out, d * qd);
            }
        }
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (weights)");
    } catch (...) {
        cudaFree(arena_);
        throw;
    }
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    log(JET_LOG_INFO,
        "cuda: device %d %s (sm_%d%d, %d SMs), weights %.1f MiB on the GPU; %.1f MiB free of "
        "%.1f MiB; cache per sequence at n_ctx=%d: %.1f MiB",
        device, prop.name, prop.major, prop.minor, prop.multiProcessorCount, mib(arena_bytes_),
        mib(free_b), mib(total_b), c.max_position_embeddings,
        mib(double(cache_bytes(c.max_position_embeddings, nullptr))));
}

CudaBackend::~CudaBackend() {
    if (arena_) {
        cudaSetDevice(device_);
        cudaFree(arena_);
    }
}

}  // namespace jet::cuda

namespace jet {

std::unique_ptr<Backend> make_cuda_backend(const Config &cfg, std::shared_ptr<const Weights> w,
                                           int device_index) {
    return std::make_unique<cuda::CudaBackend>(cfg, std::move(w), device_index);
}

int cuda_device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

}  // namespace jet
