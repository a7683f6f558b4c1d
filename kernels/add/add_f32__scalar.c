/*
 * normkit_add_f32__scalar — elementwise add, f32, portable C.
 *
 *   y = x + r
 *
 * ISA: none: portable C, built with auto-vectorization off (the baseline).
 * Passes: 1, elementwise; rows are independent.
 * Tails: none needed.
 * Aliasing: y may equal x, or r, with the same stride (each vector is read before the same
 *   lanes of y are written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: exact: one IEEE float operation per element (overflow gives +-Inf, NaN stays
 *   NaN), the same bits on every ISA. Numerics: docs/numerics.md#activations.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <stddef.h>

#include "normkit_kernel.h"

normkit_add_f32_ukernel normkit_add_f32__scalar;

void normkit_add_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                             size_t ldr, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy)
        for (size_t i = 0; i < dim; i++)
            y[i] = x[i] + r[i];
}
