// Tests for cpu/gated_delta.cpp: the recurrent form against a double-precision reference, the
// chunked (WY/UT) form against the recurrent one for lengths around the chunk size, a prefill
// continued by decode steps, and both against the goldens of fla's reference
// (../shared/fixtures/kernels).
#include <gtest/gtest.h>

#include "cpu/ops.h"
#include "op_test_util.h"
#include "safetensors.h"

namespace {

struct Inputs {
    int T, H, dK, dV;
    std::vector<float> q, k, v, g, beta, h0;
};

Inputs make_inputs(int T, int H, int dK, int dV, uint32_t seed) {
    Inputs in{T, H, dK, dV, {}, {}, {}, {}, {}, {}};
    in.q = jet::test::random_vec(size_t(T) * H * dK, seed);
    in.k = jet::test::random_vec(size_t(T) * H * dK, seed + 1);
    jet::cpu::l2norm_heads(in.q.data(), T, H, dK, 1e-6f);
    jet::cpu::l2norm_heads(in.k.data(), T, H, dK, 1e-6f);
    in.v = jet::test::random_vec(size_t(T) * H * dV, seed + 2);
    in.g = jet::test::random_vec(size_t(T) * H, seed + 3, -0.5f, 0.f);
    in.beta = jet::test::random_vec(size_t(T) * H, seed + 4, 0.f, 1.f);
    in.h0 = jet::test::random_vec(size_t(H) * dK * dV, seed + 5, -0.5f, 0.5f);
    return in;
}

// Spec 4.4 step by step in double.
void reference(const Inputs &in, float scale, std::vector<double> &o, std::vector<double> &S) {
    const int H = in.H, dK = in.dK, dV = in.dV;
    S.assign(in.h0.begin(), in.h0.end());
    o.assign(size_t(in.T) * H * dV, 0.0);
    std::vector<double> e(dV);
    for (int t = 0; t < in.T; ++t)
        for (int h = 0; h < H; ++h) {
            const size_t th = size_t(t) * H + h;
            double *Sh = S.data() + size_t(h) * dK * dV;
            const double decay = std::exp(double(in.g[th]));
            for (int i = 0; i < dK * dV; ++i) Sh[i] *= decay;
            for (int c = 0; c < dV; ++c) {
                double kS = 0;
                for (int a = 0; a < dK; ++a) kS += in.k[th * dK + a] * Sh[a * dV + c];
                e[c] = in.beta[th] * (in.v[th * dV + c] - kS);
            }
            for (int a = 0; a < dK; ++a)
                for (int c = 0; c < dV; ++c) Sh[a * dV + c] += in.k[th * dK + a] * e[c];
            for (int c = 0; c < dV; ++c) {
                double acc = 0;
                for (int a = 0; a < dK; ++a) acc += in.q[th * dK + a] * Sh[a * dV + c];
                o[th * dV + c] = scale * acc;
            }
        }
}

struct Result {
    std::vector<float> o, S;
};

Result run(const Inputs &in, float scale, bool chunked, int chunk = 64) {
    Result r{std::vector<float>(size_t(in.T) * in.H * in.dV), in.h0};
    if (chunked)
        jet::cpu::gated_delta_chunked(in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                                      in.beta.data(), r.S.data(), r.o.data(), in.T, in.H, in.dK,
                                      in.dV, scale, chunk);
    else
        jet::cpu::gated_delta_recurrent(in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                                        in.beta.data(), r.S.data(), r.o.data(), in.T, in.H, in.dK,
                                        in.dV, scale);
    return r;
}

TEST(GatedDelta, RecurrentMatchesReference) {
    for (int T : {1, 5, 70}) {
        const Inputs in = make_inputs(T, 3, 16, 24, 100 + T);
        std::vector<double> o, S;
        reference(in, 0.25f, o, S);
        const Result r = run(in, 0.25f, false);
        EXPECT_LT(jet::test::rel_err(r.o, o), 1e-5) << "T=" << T;
        EXPECT_LT(jet::test::rel_err(r.S, S), 1e-5) << "T=" << T;
    }
}

TEST(GatedDelta, ChunkedMatchesRecurrent) {
    for (int T : {1, 2, 63, 64, 65, 128, 333}) {
        const Inputs in = make_inputs(T, 3, 96, 64, 200 + T);
        const float scale = 1.f / std::sqrt(96.f);
        const Result rec = run(in, scale, false), chk = run(in, scale, true);
        EXPECT_LT(jet::test::rel_err(chk.o, rec.o), 1e-4) << "T=" << T;
        EXPECT_LT(jet::test::rel_err(chk.S, rec.S), 1e-4) << "T=" << T;
    }
}

TEST(GatedDelta, ChunkedMatchesReferenceForOtherChunkSizes) {
    const Inputs in = make_inputs(100, 2, 8, 12, 7);
    std::vector<double> o, S;
    reference(in, 0.3f, o, S);
    for (int chunk : {1, 7, 16, 64, 100, 256}) {
        const Result r = run(in, 0.3f, true, chunk);
        EXPECT_LT(jet::test::rel_err(r.o, o), 1e-5) << "chunk=" << chunk;
        EXPECT_LT(jet::test::rel_err(r.S, S), 1e-5) << "chunk=" << chunk;
    }
}

TEST(GatedDelta, StrongDecayAndZeroBetaStayFinite) {
    Inputs in = make_inputs(130, 2, 16, 16, 9);
    for (size_t i = 0; i < in.g.size(); ++i) in.g[i] = (i % 3 == 0) ? -80.f : -0.01f;
    for (size_t i = 0; i < in.beta.size(); i += 4) in.beta[i] = 0.f;
    std::vector<double> o, S;
    reference(in, 1.f, o, S);
    for (bool chunked : {false, true}) {
        const Result r = run(in, 1.f, chunked);
        const double tol = chunked ? 1e-4 : 1e-5;
        EXPECT_LT(jet::test::rel_err(r.o, o), tol) << (chunked ? "chunked" : "recurrent");
        EXPECT_LT(jet::test::rel_err(r.S, S), tol) << (chunked ? "chunked" : "recurrent");
    }
}

// ---- goldens from fla's naive recurrent reference (T=333, H=4, dK=96, dV=128) -------------

struct Golden {
    Inputs in;
    std::vector<float> o, hT;
};

Golden load_golden(const std::string &path) {
    auto f = jet::SafetensorsFile::open(path);
    Golden gd;
    gd.in.q = f->get("gdr_q").to_f32();
    gd.in.k = f->get("gdr_k").to_f32();
    gd.in.v = f->get("gdr_v").to_f32();
    gd.in.g = f->get("gdr_g").to_f32();
    gd.in.beta = f->get("gdr_beta").to_f32();
    gd.in.h0 = f->get("gdr_h0").to_f32();
    gd.o = f->get("gdr_o").to_f32();
    gd.hT = f->get("gdr_hT").to_f32();
    const auto &qs = f->get("gdr_q").shape, &vs = f->get("gdr_v").shape;
    gd.in.T = int(qs[1]);
    gd.in.H = int(qs[2]);
    gd.in.dK = int(qs[3]);
    gd.in.dV = int(vs[3]);
    return gd;
}

TEST(GatedDeltaGolden, RecurrentMatchesFla) {
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    const Golden gd = load_golden(path);
    ASSERT_EQ(gd.in.T, 333);
    const Result r = run(gd.in, 1.f / std::sqrt(float(gd.in.dK)), false);
    EXPECT_LT(jet::test::rel_err(r.o, gd.o), 1e-5);
    EXPECT_LT(jet::test::rel_err(r.S, gd.hT), 1e-5);
}

TEST(GatedDeltaGolden, ChunkedMatchesFla) {
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    const Golden gd = load_golden(path);
    const Result r = run(gd.in, 1.f / std::sqrt(float(gd.in.dK)), true);
    EXPECT_LT(jet::test::rel_err(r.o, gd.o), 1e-4);
    EXPECT_LT(jet::test::rel_err(r.S, gd.hT), 1e-4);
}

TEST(GatedDeltaGolden, ChunkedPrefillThenRecurrentDecodeMatchesFla) {
    JET_SKIP_WITHOUT_KERNEL_GOLDENS(path);
    const Golden gd = load_golden(path);
    const Inputs &in = gd.in;
    const int P = 300, H = in.H, dK = in.dK, dV = in.dV;
    const float scale = 1.f / std::sqrt(float(dK));
    std::vector<float> S = in.h0, o(size_t(in.T) * H * dV);
    jet::cpu::gated_delta_chunked(in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                                  in.beta.data(), S.data(), o.data(), P, H, dK, dV, scale);
    for (int t = P; t < in.T; ++t) {
        const size_t th = size_t(t) * H;
        jet::cpu::gated_delta_recurrent(
            in.q.data() + th * dK, in.k.data() + th * dK, in.v.data() + th * dV, in.g.data() + th,
            in.beta.data() + th, S.data(), o.data() + th * dV, 1, H, dK, dV, scale);
    }
    EXPECT_LT(jet::test::rel_err(o, gd.o), 1e-4);
    EXPECT_LT(jet::test::rel_err(S, gd.hT), 1e-4);
}

}  // namespace
