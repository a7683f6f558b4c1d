/*
 * normkit_rmsnorm_f32__scalar — RMSNorm, f32, portable C (the baseline).
 *
 *   y = x / sqrt(mean(x^2) + eps) * gamma
 *
 * ISA: none. Built with auto-vectorization off, so it measures what one scalar lane does;
 *   benchmarks compare every SIMD variant against it.
 * Passes: 2 (sum of squares in one float accumulator, in element order; then scale).
 * Tails: none needed. Aliasing: y may equal x.
 * Bound: |y - y_exact| <= (n/2 + 6) u |y_exact| (u = 2^-24, n = dim; sum depth n), the bound
 *   the tests assert. Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64.
 * Numerics: docs/numerics.md#rmsnorm, #rare-path. Contract: normkit_kernels.h.
 */
#include "normkit_kernel.h"

normkit_rmsnorm_f32_ukernel normkit_rmsnorm_f32__scalar;

void normkit_rmsnorm_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, float eps, float *y, size_t ldy,
                                 const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        float ss = 0.0f;
        for (size_t i = 0; i < dim; i++)
            ss += x[i] * x[i];
        if (!normkit_rms_fast_ok(ss, eps)) {
            normkit_rmsnorm_row_f64(dim, x, gamma, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(ss / (float)dim + eps);
        if (gamma) {
            for (size_t i = 0; i < dim; i++)
                y[i] = x[i] * scale * gamma[i];
        } else {
            for (size_t i = 0; i < dim; i++)
                y[i] = x[i] * scale;
        }
    }
}
