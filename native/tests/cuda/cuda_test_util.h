// cuda_test_util.h - helpers of the CUDA kernel tests: device buffers, bf16 rounding on the
// host, relative-RMS error, and a skip when the machine has no CUDA device (CI compiles these
// tests everywhere but only a GPU machine runs them).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#define JET_SKIP_WITHOUT_CUDA()                                                          \
    do {                                                                                 \
        int n_ = 0;                                                                      \
        if (cudaGetDeviceCount(&n_) != cudaSuccess || n_ == 0) {                         \
            cudaGetLastError();                                                          \
            GTEST_SKIP() << "no CUDA device on this machine";                            \
        }                                                                                \
    } while (0)

#define JET_CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << #expr << ": " << cudaGetErrorString(cudaGetLastError())

namespace jet::test {

using bf16 = __nv_bfloat16;

// Round-to-nearest-even float -> bf16 bits, and back (host side, no CUDA intrinsics).
inline uint16_t f2bf_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}
inline float bf_bits2f(uint16_t b) {
    const uint32_t u = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline float round_bf16(float f) { return bf_bits2f(f2bf_bits(f)); }
// Rounds every value to bf16 in place (so the CPU reference sees exactly what the GPU sees).
inline void round_bf16(std::vector<float> &v) {
    for (auto &x : v) x = round_bf16(x);
}

template <class T>
class DevBuf {
public:
    DevBuf() = default;
    explicit DevBuf(size_t n) : n_(n) {
        if (cudaMalloc(&p_, (n ? n : 1) * sizeof(T)) != cudaSuccess) p_ = nullptr;
    }
    DevBuf(const DevBuf &) = delete;
    DevBuf &operator=(const DevBuf &) = delete;
    ~DevBuf() { cudaFree(p_); }
    T *get() const { return static_cast<T *>(p_); }
    size_t size() const { return n_; }

private:
    void *p_ = nullptr;
    size_t n_ = 0;
};

inline void upload(DevBuf<float> &d, const std::vector<float> &h) {
    ASSERT_EQ(d.size(), h.size());
    ASSERT_EQ(cudaMemcpy(d.get(), h.data(), h.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
}
inline void upload(DevBuf<int32_t> &d, const std::vector<int32_t> &h) {
    ASSERT_EQ(d.size(), h.size());
    ASSERT_EQ(cudaMemcpy(d.get(), h.data(), h.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
}
// Uploads floats as bf16 (rounding).
inline void upload(DevBuf<__nv_bfloat16> &d, const std::vector<float> &h) {
    ASSERT_EQ(d.size(), h.size());
    std::vector<uint16_t> bits(h.size());
    for (size_t i = 0; i < h.size(); ++i) bits[i] = f2bf_bits(h[i]);
    ASSERT_EQ(cudaMemcpy(d.get(), bits.data(), bits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
}
inline std::vector<float> download(const DevBuf<float> &d) {
    std::vector<float> h(d.size());
    EXPECT_EQ(cudaMemcpy(h.data(), d.get(), h.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
}
inline std::vector<float> download(const DevBuf<__nv_bfloat16> &d) {
    std::vector<uint16_t> bits(d.size());
    EXPECT_EQ(cudaMemcpy(bits.data(), d.get(), bits.size() * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    std::vector<float> h(d.size());
    for (size_t i = 0; i < h.size(); ++i) h[i] = bf_bits2f(bits[i]);
    return h;
}

// sqrt(mean((got - ref)^2)) / sqrt(mean(ref^2)): the relative RMS error (fla's measure).
// NaN/Inf in got gives +inf.
template <class G, class R>
double rel_rms(const G &got, const R &ref) {
    EXPECT_EQ(got.size(), ref.size());
    double num = 0, den = 1e-300;
    for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
        const double g = got[i], r = ref[i];
        if (!std::isfinite(g)) return INFINITY;
        num += (g - r) * (g - r);
        den += r * r;
    }
    return std::sqrt(num / den);
}

// The relative RMS error that rounding `ref` to bf16 alone causes: the floor any bf16 output
// can reach, used to state tolerances as a multiple of it.
template <class R>
double bf16_rounding_rms(const R &ref) {
    std::vector<double> r(ref.begin(), ref.end()), q(ref.size());
    for (size_t i = 0; i < r.size(); ++i) q[i] = round_bf16(float(r[i]));
    return rel_rms(q, r);
}

inline void sync_ok() { ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess); }

}  // namespace jet::test
