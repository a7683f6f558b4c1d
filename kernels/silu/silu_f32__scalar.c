/*
 * normkit_silu_f32__scalar — SiLU (swish), f32, portable C.
 *
 *   y = x * sigmoid(x), computed as x * (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|)
 *
 * ISA: none: portable C, built with auto-vectorization off (the baseline).
 * Passes: 1, elementwise; rows are independent.
 * Tails: none needed.
 * Aliasing: y may equal x with the same stride (each element, or vector, is read before
 *   the same element of y is written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: relative <= 5u while exp(-|x|) >= FLT_MIN and |y| >= FLT_MIN, else
 *   |y - y_exact| <= 2^-148 (1 + |x|)
 *   (the tests assert it on a dense sweep). Edges: NaN -> NaN, +Inf -> +Inf, -Inf -> -0.
 * Numerics: docs/numerics.md#activations; the function itself: kernels/act/act_f32__scalar.h.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <stddef.h>

#include "../act/act_f32__scalar.h"
#include "normkit_kernel.h"

normkit_silu_f32_ukernel normkit_silu_f32__scalar;

void normkit_silu_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                              size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy)
        for (size_t i = 0; i < dim; i++)
            y[i] = nk_silu_f32(x[i]);
}
