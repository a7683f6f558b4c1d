/*
 * normkit_add_layernorm_f32__scalar — post-norm Add & LayerNorm, f32, portable C (baseline).
 *
 *   h = x + r;  r <- h;  y = (h - mean) / sqrt(var + eps) * gamma + beta
 *
 * ISA: none; built with auto-vectorization off.
 * Passes: 3, as layernorm_f32__scalar (shifted mean, corrected two-pass variance, scale);
 *   the first also adds and stores h into r, and the later ones read h back from r.
 * Tails: none needed. Aliasing: y may equal x (x is dead after pass 1); y must not overlap r.
 * Bound: as layernorm_f32__scalar on h = fl(x + r): |y - y_exact(h)| <= (1.5n + 12) u |gamma|
 *   max|z| + 2u |y_exact(h)|. Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_layernorm_row_f64 (on h, in r).
 * Numerics: docs/numerics.md#add-and-norm, #layernorm-three-pass, #rare-path.
 *   Contract: normkit_kernels.h.
 */
#include "normkit_kernel.h"

normkit_add_layernorm_f32_ukernel normkit_add_layernorm_f32__scalar;

void normkit_add_layernorm_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx,
                                       float *r, size_t ldr, const float *gamma, const float *beta,
                                       float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const float n = (float)dim;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        const float shift = x[0] + r[0];
        float s = 0.0f;
        for (size_t i = 0; i < dim; i++) {
            const float h = x[i] + r[i];
            r[i] = h;
            s += h - shift;
        }
        const float mean_hi = shift + s / n;

        float s1 = 0.0f, s2 = 0.0f;
        for (size_t i = 0; i < dim; i++) {
            const float d = r[i] - mean_hi;
            s1 += d;
            s2 += d * d;
        }
        const float c = s1 / n;
        float var = s2 / n - c * c;
        var = var > 0.0f ? var : 0.0f;
        if (!normkit_ln_fast_ok(mean_hi, s2, var, eps)) {
            normkit_layernorm_row_f64(dim, r, gamma, beta, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(var + eps);
        for (size_t i = 0; i < dim; i++) {
            const float g = gamma ? gamma[i] : 1.0f;
            const float b = beta ? beta[i] : 0.0f;
            y[i] = ((r[i] - mean_hi) - c) * scale * g + b;
        }
    }
}
