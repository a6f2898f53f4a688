// cpu/jet_gates.cpp - JetBlock gates (docs/model.md section 5.2): beta = sigmoid(b),
// g = -exp(A_log) * softplus(a + dt_bias), in fp32. softplus as torch's: x for x > 20.
#include <cmath>

#include "cpu/ops.h"

namespace jet::cpu {

void jet_gates(const float *a, const float *b, const float *A_log, const float *dt_bias, float *g,
               float *beta, int T, int H) {
    for (int64_t t = 0; t < T; ++t) {
        for (int h = 0; h < H; ++h) {
            const int64_t i = t * H + h;
            const float z = a[i] + dt_bias[h];
            const float sp = z > 20.f ? z : std::log1p(std::exp(z));
            g[i] = -std::exp(A_log[h]) * sp;
            beta[i] = 1.f / (1.f + std::exp(-b[i]));
        }
    }
}

}  // namespace jet::cpu
