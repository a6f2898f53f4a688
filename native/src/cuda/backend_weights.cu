// backend_weights.cu - the CUDA backend's device checks and its weights: one device arena (bf16;
// fp32/fp16 checkpoints rounded to bf16, A_log and dt_bias fp32), the projections that read the
// same input fused into one matrix per layer (cuda_backend.h), bound by role (model_desc.h).
// Weight-only quantized linear layers (FP8 e4m3 / int8 with F32 scales, issue 15) are uploaded
// as they are, their scales stacked like the rows; a fused matrix whose parts are not all
// quantized alike is uploaded as bf16 (dequantized on the host).
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
        L.gate_up = take_linear(a, {Role::MlpGate, Role::MlpUp}, i, 2 * I, d);
        L.down = take_linear(a, {Role::MlpDown}, i, d, I);
        if (L.type == JET_LAYER_JET) {
            const size_t vd = size_t(c.jet_value_dim());
            L.w_in = take_linear(a,
                                 {Role::JetQ, Role::JetK, Role::JetV, Role::JetG, Role::JetGenW1,
                                  Role::JetA, Role::JetB},
                                 i, size_t(jet_in_rows_), d);
            L.w_out = take_linear(a, {Role::JetO}, i, d, vd);
            L.A_log = a.take<float>(size_t(c.jet_num_heads));
            L.dt_bias = a.take<float>(size_t(c.jet_num_heads));
            L.w2 = take_linear(a, {Role::JetGenW2}, i, vd * size_t(c.jet_conv_size),
                               size_t(c.jet_gen_hidden));
            L.b2 = a.take<bf16>(vd * size_t(c.jet_conv_size));
            L.o_norm = a.take<bf16>(size_t(c.jet_head_v_dim));
        } else {
            const size_t qkv = size_t(c.num_attention_heads + 2 * c.num_kv_heads) * c.head_dim;
            L.w_in = take_linear(a, {Role::AttnQ, Role::AttnK, Role::AttnV}, i, qkv, d);
            L.b_in = a.take<bf16>(qkv);
            L.w_out = take_linear(a, {Role::AttnO}, i, d, size_t(c.num_attention_heads) * c.head_dim);
        }
    }
}

namespace {

bool quantized_dtype(DType t) { return t == DType::F8_E4M3 || t == DType::I8; }

WeightType weight_type(DType t) {
    return t == DType::F8_E4M3 ? WeightType::F8E4M3 : t == DType::I8 ? WeightType::I8
                                                                     : WeightType::BF16;
}

}  // namespace

WeightRef CudaBackend::take_linear(Arena &a, std::initializer_list<Role> parts, int layer,
                                   size_t rows, size_t K) const {
    WeightType type = WeightType::BF16;
    int group = 0;
    bool quant = true;
    for (Role r : parts) {
        const TensorView *s = weights_->scale(r, layer);
        const TensorView &t = weights_->get(r, layer);
        const int g = s ? weights_->group_size(r, layer) : 0;
        if (!s || !quantized_dtype(t.dtype) || g <= 0 || g % 16 != 0 || K % 16 != 0 ||
            K % size_t(g) != 0 || (type != WeightType::BF16 && (weight_type(t.dtype) != type ||
                                                                 g != group))) {
            quant = false;
            break;
        }
        type = weight_type(t.dtype), group = g;
    }
    if (!quant) return WeightRef(a.take<bf16>(rows * K));
    const void *q = a.take<uint8_t>(rows * K);
    const float *sc = a.take<float>(rows * (K / size_t(group)));
    return WeightRef(q, type, sc, group);
}

void CudaBackend::upload_linear(Role role, int layer, const WeightRef &dst, int64_t row0,
                                int64_t rows, int64_t K) const {
    if (!dst.quantized()) {
        upload(role, layer, const_cast<bf16 *>(dst.bf()) + row0 * K, rows * K);
        return;
    }
    const std::string name = tensor_name(role, layer);
    const TensorView &t = weights_->get(role, layer);
    const TensorView *s = weights_->scale(role, layer);
    const int64_t ng = K / dst.group;
    if (t.numel() != rows * K || s == nullptr || s->dtype != DType::F32 || s->numel() != rows * ng)
        throw Error(JET_ERR_FORMAT, fmt("quantized tensor %s: expected %lld x %lld values with "
                                        "%lld x %lld F32 scales",
                                        name.c_str(), (long long)rows, (long long)K,
                                        (long long)rows, (long long)ng));
    auto *q = static_cast<uint8_t *>(const_cast<void *>(dst.ptr));
    check(cudaMemcpy(q + row0 * K, t.data, size_t(rows * K), cudaMemcpyHostToDevice),
          "cudaMemcpy (weights)");
    check(cudaMemcpy(const_cast<float *>(dst.scale) + row0 * ng, s->data,
                     size_t(rows * ng) * sizeof(float), cudaMemcpyHostToDevice),
          "cudaMemcpy (weight scales)");
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
    // fp32 / fp16 checkpoints: round to bf16 on the host, in slices; quantized tensors where
    // the GPU keeps bf16 (embeddings, the LM head, mixed fused parts): dequantized first.
    std::vector<float> f = t.to_f32();
    if (quantized_dtype(t.dtype)) {
        const TensorView *s = weights_->scale(role, layer);
        if (s == nullptr || s->dtype != DType::F32 || t.shape.size() != 2 || s->shape.size() != 2 ||
            s->shape[0] != t.shape[0] || s->shape[1] <= 0 || t.shape[1] % s->shape[1] != 0)
            throw Error(JET_ERR_FORMAT, fmt("quantized tensor %s has no usable scales",
                                            tensor_name(role, layer).c_str()));
        const std::vector<float> sc = s->to_f32();
        const int64_t K = t.shape[1], ng = s->shape[1], G = K / ng;
        for (int64_t i = 0; i < numel; ++i)
            f[size_t(i)] *= sc[size_t((i / K) * ng + (i % K) / G)];
    }
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
            upload_linear(Role::MlpGate, i, L.gate_up, 0, I, d);
            upload_linear(Role::MlpUp, i, L.gate_up, I, I, d);
            upload_linear(Role::MlpDown, i, L.down, 0, d, I);
            if (L.type == JET_LAYER_JET) {
                const int64_t H = c.jet_num_heads, W = c.jet_conv_size, r = c.jet_gen_hidden;
                const WeightRef &w = L.w_in;  // rows q | k | v | g | w1 | a | b
                upload_linear(Role::JetQ, i, w, 0, kd, d);
                upload_linear(Role::JetK, i, w, kd, kd, d);
                upload_linear(Role::JetV, i, w, 2 * kd, vd, d);
                upload_linear(Role::JetG, i, w, 2 * kd + vd, vd, d);
                upload_linear(Role::JetGenW1, i, w, 2 * kd + 2 * vd, r, d);
                upload_linear(Role::JetA, i, w, 2 * kd + 2 * vd + r, H, d);
                upload_linear(Role::JetB, i, w, 2 * kd + 2 * vd + r + H, H, d);
                upload_linear(Role::JetO, i, L.w_out, 0, d, vd);
                upload_f32(Role::JetALog, i, L.A_log, H);
                upload_f32(Role::JetDtBias, i, L.dt_bias, H);
                upload_linear(Role::JetGenW2, i, L.w2, 0, vd * W, r);
                upload(Role::JetGenB2, i, L.b2, vd * W);
                upload(Role::JetONorm, i, L.o_norm, c.jet_head_v_dim);
            } else {
                const int64_t qd = int64_t(c.num_attention_heads) * c.head_dim;
                const int64_t kvd = int64_t(c.num_kv_heads) * c.head_dim;
                upload_linear(Role::AttnQ, i, L.w_in, 0, qd, d);  // rows q | k | v
                upload_linear(Role::AttnK, i, L.w_in, qd, kvd, d);
                upload_linear(Role::AttnV, i, L.w_in, qd + kvd, kvd, d);
                upload(Role::AttnQBias, i, L.b_in, qd);
                upload(Role::AttnKBias, i, L.b_in + qd, kvd);
                upload(Role::AttnVBias, i, L.b_in + qd + kvd, kvd);
                upload_linear(Role::AttnO, i, L.w_out, 0, d, qd);
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
    if (arena_ || bench_quant_) {
        cudaSetDevice(device_);
        if (arena_) cudaFree(arena_);
        if (bench_quant_) cudaFree(bench_quant_);
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
