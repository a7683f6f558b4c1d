/*
 * normkit_layernorm_f32__scalar — LayerNorm, f32, portable C (the baseline).
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta      (population variance)
 *
 * ISA: none; built with auto-vectorization off, so it measures one scalar lane.
 * Passes: 3, for accuracy, not speed (the shifted, corrected two-pass):
 *   1. mean_hi = x0 + sum(x - x0)/n, shifted by the row's first element;
 *   2. d = x - mean_hi; c = sum(d)/n; var = sum(d^2)/n - c^2; the mean is the pair mean_hi + c;
 *   3. y = ((x - mean_hi) - c) * scale * gamma + beta.
 *   The unshifted E[x^2] - E[x]^2 is never used: it cancels catastrophically for large means.
 * Tails: none needed. Aliasing: y may equal x.
 * Bound: with z = (x - mean)/sqrt(var + eps), |y - y_exact| <= (1.5n + 12) u |gamma| max|z|
 *   + 2u |y_exact|, the bound the tests assert. Rows that overflow, underflow or hold NaN/Inf
 *   go to normkit_layernorm_row_f64.
 * Numerics: docs/numerics.md#layernorm-three-pass, #rare-path. Contract: normkit_kernels.h.
 */
#include "normkit_kernel.h"

normkit_layernorm_f32_ukernel normkit_layernorm_f32__scalar;

void normkit_layernorm_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx,
                                   const float *gamma, const float *beta, float eps, float *y,
                                   size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const float n = (float)dim;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        const float shift = x[0];
        float s = 0.0f;
        for (size_t i = 0; i < dim; i++)
            s += x[i] - shift;
        const float mean_hi = shift + s / n;

        /* c repairs what rounding left in mean_hi (Chan, Golub & LeVeque). */
        float s1 = 0.0f, s2 = 0.0f;
        for (size_t i = 0; i < dim; i++) {
            const float d = x[i] - mean_hi;
            s1 += d;
            s2 += d * d;
        }
        const float c = s1 / n;
        float var = s2 / n - c * c;
        var = var > 0.0f ? var : 0.0f;
        if (!normkit_ln_fast_ok(mean_hi, s2, var, eps)) {
            normkit_layernorm_row_f64(dim, x, gamma, beta, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(var + eps);
        for (size_t i = 0; i < dim; i++) {
            const float g = gamma ? gamma[i] : 1.0f;
            const float b = beta ? beta[i] : 0.0f;
            y[i] = ((x[i] - mean_hi) - c) * scale * g + b;
        }
    }
}
