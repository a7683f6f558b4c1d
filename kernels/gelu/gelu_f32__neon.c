/*
 * normkit_gelu_f32__neon — GELU (exact, erf-based), f32, NEON.
 *
 *   y = x/2 * (1 + erf(x / sqrt 2)), computed as x/2 * erfc(-x / sqrt 2)
 *
 * ISA: AArch64 AdvSIMD (arm_neon.h), part of the AArch64 baseline; no extra compiler flags.
 * Passes: 1, elementwise; rows are independent.
 * Tails: the last dim % 4 elements are copied into a 4-float stack buffer, computed as one
 *   vector and copied back: NEON has no masked loads, and no access may leave the row (rows
 *   can end at an unmapped page). The tail thus gets the very same arithmetic as the body.
 * Aliasing: y may equal x with the same stride (each element, or vector, is read before
 *   the same element of y is written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: relative <= 6u while erfc(-x/sqrt 2) >= FLT_MIN and |y| >= FLT_MIN, else
 *   |y - y_exact| <= 2^-148 (1 + |x|)
 *   (the tests assert it on a dense sweep). Edges: NaN -> NaN, +Inf -> +Inf, -Inf -> -0.
 * Numerics: docs/numerics.md#activations; the function itself: kernels/act/act_f32__neon.h.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <arm_neon.h>
#include <stddef.h>
#include <string.h>

#include "../act/act_f32__neon.h"
#include "normkit_kernel.h"

normkit_gelu_f32_ukernel normkit_gelu_f32__neon;

void normkit_gelu_f32__neon(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                            size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        size_t i = 0;
        for (; i + 4 <= dim; i += 4)
            vst1q_f32(y + i, nk_gelu_f32x4(vld1q_f32(x + i)));
        if (i < dim) {
            float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            memcpy(buf, x + i, (dim - i) * sizeof(float));
            vst1q_f32(buf, nk_gelu_f32x4(vld1q_f32(buf)));
            memcpy(y + i, buf, (dim - i) * sizeof(float));
        }
    }
}
