/*
 * normkit_mul_f32__neon — elementwise product (gate * up), f32, NEON.
 *
 *   y = x * r
 *
 * ISA: AArch64 AdvSIMD (arm_neon.h), part of the AArch64 baseline; no extra compiler flags.
 * Passes: 1, elementwise; rows are independent.
 * Tails: the last dim % 4 elements one at a time in scalar code: NEON has no masked loads,
 *   and no access may leave the row (rows can end at an unmapped page).
 * Aliasing: y may equal x, or r, with the same stride (each vector is read before the same
 *   lanes of y are written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: exact: one IEEE float operation per element (overflow gives +-Inf, NaN stays
 *   NaN), the same bits on every ISA. Numerics: docs/numerics.md#activations.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <arm_neon.h>
#include <stddef.h>

#include "normkit_kernel.h"

normkit_mul_f32_ukernel normkit_mul_f32__neon;

/* Vectors per iteration: four independent load-load-op-store chains amortize the loop
 * overhead; the operation itself is one instruction. */
enum { NK_UNROLL = 4 };

void normkit_mul_f32__neon(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                           size_t ldr, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        size_t i = 0;
        for (; i + 4 * NK_UNROLL <= dim; i += 4 * NK_UNROLL) {
            _Pragma("GCC unroll 4") for (size_t u = 0; u < NK_UNROLL; u++)
                vst1q_f32(y + i + 4 * u,
                          vmulq_f32(vld1q_f32(x + i + 4 * u), vld1q_f32(r + i + 4 * u)));
        }
        for (; i + 4 <= dim; i += 4)
            vst1q_f32(y + i, vmulq_f32(vld1q_f32(x + i), vld1q_f32(r + i)));
        for (; i < dim; i++) /* one IEEE operation either way: the same bits as the vectors */
            y[i] = x[i] * r[i];
    }
}
