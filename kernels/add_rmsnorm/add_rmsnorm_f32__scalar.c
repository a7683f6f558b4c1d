/*
 * normkit_add_rmsnorm_f32__scalar — post-norm Add & RMSNorm, f32, portable C (the baseline).
 *
 *   h = x + r;  r <- h;  y = h / sqrt(mean(h^2) + eps) * gamma
 *
 * ISA: none; built with auto-vectorization off (see rmsnorm_f32__scalar.c).
 * Passes: 2. The first adds, stores h into r and sums squares; the second reads h back
 *   from r (just written, so still in cache) and scales.
 * Tails: none needed. Aliasing: y may equal x (x is dead after pass 1); y must not overlap r.
 * Bound: as rmsnorm_f32__scalar on h = fl(x + r): |y - y_exact(h)| <= (n/2 + 6) u |y_exact(h)|.
 *   Rows that overflow, underflow or hold NaN/Inf go to normkit_rmsnorm_row_f64 (on h, in r).
 * Numerics: docs/numerics.md#add-and-norm, #rmsnorm, #rare-path. Contract: normkit_kernels.h.
 */
#include "normkit_kernel.h"

normkit_add_rmsnorm_f32_ukernel normkit_add_rmsnorm_f32__scalar;

void normkit_add_rmsnorm_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx, float *r,
                                     size_t ldr, const float *gamma, float eps, float *y, size_t ldy,
                                     const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        float ss = 0.0f;
        for (size_t i = 0; i < dim; i++) {
            const float h = x[i] + r[i];
            r[i] = h;
            ss += h * h;
        }
        if (!normkit_rms_fast_ok(ss, eps)) {
            normkit_rmsnorm_row_f64(dim, r, gamma, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(ss / (float)dim + eps);
        if (gamma) {
            for (size_t i = 0; i < dim; i++)
                y[i] = r[i] * scale * gamma[i];
        } else {
            for (size_t i = 0; i < dim; i++)
                y[i] = r[i] * scale;
        }
    }
}
