// cpu/gated_delta.cpp - the gated delta rule of the JetBlock (docs/model.md sections 5.4 and 5.6), per head:
//   S <- exp(g_t) S;  e = beta_t (v_t - S^T k_t);  S <- S + k_t e^T;  o_t = scale * S^T q_t,
// S [dK, dV] in fp32. Heads are independent and run in parallel.
//
// gated_delta_recurrent: one token at a time (decode, short prompts).
// gated_delta_chunked: the WY/UT form over chunks of C tokens (docs/model.md section 5.6). Within a chunk, with
// gamma the cumulative log decay and A[i][j] = beta_i exp(gamma_i - gamma_j) k_i.k_j (j < i),
// the new values are E = U - W S0 = (I + A)^-1 diag(beta) (V - diag(exp(gamma)) K S0); we get E
// by one forward substitution on that right-hand side (the same unit-lower-triangular solve that
// builds T = (I + A)^-1, applied to the product instead of forming T, W and U apart; blocked so
// most of it is a GEMM). Then
//   O  = scale [diag(exp(gamma)) Q S0 + (M o Q K^T) E],  M[i][j] = exp(gamma_i - gamma_j), j <= i
//   S1 = exp(gamma_C) S0 + (diag(exp(gamma_C - gamma)) K)^T E.
// Every exponent is <= 0 (g <= 0), so nothing overflows. S, gamma and the solve are fp32.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/gemm_kernel.h"
#include "cpu/ops.h"
#include "cpu/simd.h"

namespace jet::cpu {
namespace {

JET_CLONES
void recurrent_head(const float *q, const float *k, const float *v, const float *g,
                    const float *beta, float *S, float *o, int T, int H, int h, int dK, int dV,
                    float scale, float *kS) {
    for (int t = 0; t < T; ++t) {
        const int64_t th = static_cast<int64_t>(t) * H + h;
        const float *qt = q + th * dK, *kt = k + th * dK, *vt = v + th * dV;
        float *ot = o + th * dV;
        const float decay = std::exp(g[th]);
        const float b = beta[th];
        // S <- decay S and kS = S^T k in one pass.
        std::fill(kS, kS + dV, 0.f);
        for (int a = 0; a < dK; ++a) {
            float *Sa = S + static_cast<int64_t>(a) * dV;
            const float ka = kt[a];
#pragma omp simd
            for (int c = 0; c < dV; ++c) {
                Sa[c] *= decay;
                kS[c] += ka * Sa[c];
            }
        }
        // e = beta (v - S^T k), kept in kS.
#pragma omp simd
        for (int c = 0; c < dV; ++c) kS[c] = b * (vt[c] - kS[c]);
        // S <- S + k e^T and o = scale S^T q in one pass.
        std::fill(ot, ot + dV, 0.f);
        for (int a = 0; a < dK; ++a) {
            float *Sa = S + static_cast<int64_t>(a) * dV;
            const float ka = kt[a], qa = qt[a] * scale;
#pragma omp simd
            for (int c = 0; c < dV; ++c) {
                Sa[c] += ka * kS[c];
                ot[c] += qa * Sa[c];
            }
        }
    }
}

struct ChunkScratch {
    std::vector<float> K, Q, KT, KwT, L, QK, E, QS, gamma;
    void resize(int C, int dK, int dV) {
        for (auto *v : {&K, &Q, &KT, &KwT}) v->resize(static_cast<size_t>(C) * dK);
        for (auto *v : {&L, &QK}) v->resize(static_cast<size_t>(C) * C);
        for (auto *v : {&E, &QS}) v->resize(static_cast<size_t>(C) * dV);
        gamma.resize(C);
    }
};

// One chunk of n tokens of head h, starting at token t0; S is updated in place. The products
// run through gemm_acc (register-tiled); only the triangular solve's diagonal blocks and the
// elementwise steps are plain loops.
JET_CLONES
void chunk_head(const float *q, const float *k, const float *v, const float *g, const float *beta,
                float *S, float *o, int t0, int n, int H, int h, int dK, int dV, float scale,
                ChunkScratch &s) {
    float *K = s.K.data(), *Q = s.Q.data(), *KT = s.KT.data(), *KwT = s.KwT.data();
    float *L = s.L.data(), *QK = s.QK.data(), *E = s.E.data(), *QS = s.QS.data();
    float *gamma = s.gamma.data();
    const int64_t ldo = static_cast<int64_t>(H) * dV;  // row stride of o (token-major)
    // Gather this head's chunk (K, Q and K^T); cumulative log decay.
    float acc = 0.f;
    for (int i = 0; i < n; ++i) {
        const int64_t th = static_cast<int64_t>(t0 + i) * H + h;
        std::copy(k + th * dK, k + (th + 1) * dK, K + static_cast<int64_t>(i) * dK);
        std::copy(q + th * dK, q + (th + 1) * dK, Q + static_cast<int64_t>(i) * dK);
        for (int a = 0; a < dK; ++a) KT[static_cast<int64_t>(a) * n + i] = k[th * dK + a];
        acc += g[th];
        gamma[i] = acc;
    }
    // K K^T and Q K^T, then decay and masks: L = -A (strictly lower), QK = M o Q K^T.
    std::fill(L, L + n * n, 0.f);
    std::fill(QK, QK + n * n, 0.f);
    gemm_acc(n, n, dK, K, dK, KT, n, L, n);
    gemm_acc(n, n, dK, Q, dK, KT, n, QK, n);
    for (int i = 0; i < n; ++i) {
        const float bi = beta[static_cast<int64_t>(t0 + i) * H + h];
        float *Li = L + static_cast<int64_t>(i) * n;
        float *QKi = QK + static_cast<int64_t>(i) * n;
        for (int j = 0; j < n; ++j) {
            const float m = j <= i ? exp_approx(gamma[i] - gamma[j]) : 0.f;
            Li[j] = j < i ? -bi * m * Li[j] : 0.f;
            QKi[j] = m * QKi[j];
        }
    }
    // E = K S0, then the right-hand side R = diag(beta) (V - diag(exp(gamma)) K S0) in place;
    // QS = Q S0.
    std::fill(E, E + static_cast<int64_t>(n) * dV, 0.f);
    std::fill(QS, QS + static_cast<int64_t>(n) * dV, 0.f);
    gemm_acc(n, dV, dK, K, dK, S, dV, E, dV);
    gemm_acc(n, dV, dK, Q, dK, S, dV, QS, dV);
    for (int i = 0; i < n; ++i) {
        const int64_t th = static_cast<int64_t>(t0 + i) * H + h;
        const float bi = beta[th], ei = std::exp(gamma[i]);
        const float *vi = v + th * dV;
        float *Ei = E + static_cast<int64_t>(i) * dV;
#pragma omp simd
        for (int c = 0; c < dV; ++c) Ei[c] = bi * (vi[c] - ei * Ei[c]);
    }
    // Forward substitution (I + A) E = R, by blocks of rows: E_blk += L[blk, :i0] E[:i0] (one
    // GEMM), then the rows of the block in order.
    constexpr int kBlock = 8;
    for (int i0 = 0; i0 < n; i0 += kBlock) {
        const int i1 = std::min(n, i0 + kBlock);
        gemm_acc(i1 - i0, dV, i0, L + static_cast<int64_t>(i0) * n, n, E, dV,
                 E + static_cast<int64_t>(i0) * dV, dV);
        for (int i = i0; i < i1; ++i) {
            float *Ei = E + static_cast<int64_t>(i) * dV;
            for (int j = i0; j < i; ++j) {
                const float lij = L[static_cast<int64_t>(i) * n + j];
                const float *Ej = E + static_cast<int64_t>(j) * dV;
#pragma omp simd
                for (int c = 0; c < dV; ++c) Ei[c] += lij * Ej[c];
            }
        }
    }
    // O = scale [diag(exp(gamma)) Q S0 + (M o Q K^T) E], written straight into o.
    float *o0 = o + (static_cast<int64_t>(t0) * H + h) * dV;
    for (int i = 0; i < n; ++i) {
        const float ei = std::exp(gamma[i]);
        const float *qsi = QS + static_cast<int64_t>(i) * dV;
        float *oi = o0 + i * ldo;
#pragma omp simd
        for (int c = 0; c < dV; ++c) oi[c] = ei * qsi[c];
    }
    gemm_acc(n, dV, n, QK, n, E, dV, o0, ldo);
    for (int i = 0; i < n; ++i) {
        float *oi = o0 + i * ldo;
#pragma omp simd
        for (int c = 0; c < dV; ++c) oi[c] *= scale;
    }
    // S1 = exp(gamma_C) S0 + (diag(exp(gamma_C - gamma)) K)^T E.
    const float gC = gamma[n - 1], dC = std::exp(gC);
    for (int i = 0; i < n; ++i) {
        const float wi = std::exp(gC - gamma[i]);
        for (int a = 0; a < dK; ++a)
            KwT[static_cast<int64_t>(a) * n + i] = wi * KT[static_cast<int64_t>(a) * n + i];
    }
    for (int64_t e = 0; e < static_cast<int64_t>(dK) * dV; ++e) S[e] *= dC;
    gemm_acc(dK, dV, n, KwT, n, E, dV, S, dV);
}

}  // namespace

void gated_delta_recurrent(const float *q, const float *k, const float *v, const float *g,
                           const float *beta, float *state, float *o, int T, int H, int dK, int dV,
                           float scale) {
    if (T <= 0 || H <= 0) return;
    // At least ~64K state updates per thread, so a small model's decode step runs inline.
    const int64_t per_head = static_cast<int64_t>(T) * dK * dV;
    parallel_for_min(H, std::max<int64_t>(1, (int64_t{1} << 16) / per_head), [&](int64_t b, int64_t e) {
        std::vector<float> kS(dV);
        for (int64_t h = b; h < e; ++h)
            recurrent_head(q, k, v, g, beta, state + h * dK * dV, o, T, H, static_cast<int>(h), dK,
                           dV, scale, kS.data());
    });
}

void gated_delta_chunked(const float *q, const float *k, const float *v, const float *g,
                         const float *beta, float *state, float *o, int T, int H, int dK, int dV,
                         float scale, int chunk) {
    if (T <= 0 || H <= 0) return;
    if (chunk <= 0) chunk = 64;
    parallel_for(H, [&](int64_t b, int64_t e) {
        ChunkScratch s;
        s.resize(std::min(chunk, T), dK, dV);
        for (int64_t h = b; h < e; ++h) {
            float *S = state + h * dK * dV;
            for (int t0 = 0; t0 < T; t0 += chunk) {
                const int n = std::min(chunk, T - t0);
                chunk_head(q, k, v, g, beta, S, o, t0, n, H, static_cast<int>(h), dK, dV, scale, s);
            }
        }
    });
}

}  // namespace jet::cpu
