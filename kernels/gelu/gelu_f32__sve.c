/*
 * normkit_gelu_f32__sve — GELU (exact, erf-based), f32, AArch64 SVE.
 *
 *   y = x/2 * (1 + erf(x / sqrt 2)), computed as x/2 * erfc(-x / sqrt 2)
 *
 * ISA: SVE (HWCAP_SVE), vector-length agnostic: vl = svcntw() floats, 4 to 64 (128 to 2048
 *   bits, any multiple of 128). SVE is enabled by the pragma below for this file only, so no
 *   SVE instruction can run before the dispatcher's capability check.
 * Passes: 1, elementwise; rows are independent.
 * Tails: no separate tail code: one predicated vector at a time (svwhilelt), the last one
 *   partial; inactive lanes are neither loaded (they read as 0) nor stored, so no access
 *   leaves the row (rows can end at an unmapped page); every element gets the same arithmetic.
 * Aliasing: y may equal x with the same stride (each vector is read before the same lanes of
 *   y are written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: the NEON variant's (relative <= 6u while erfc(-x/sqrt 2) >= FLT_MIN and
 *   |y| >= FLT_MIN, else |y - y_exact| <= 2^-148 (1 + |x|)): SLEEF's SVE functions have the
 *   same ULP as the AdvSIMD ones, and each lane is computed on its own, so the result does
 *   not depend on the vector length (the tests assert it on a dense sweep). Edges: NaN -> NaN,
 *   +Inf -> +Inf, -Inf -> -0.
 * Numerics: docs/numerics.md#activations; the function itself: kernels/act/act_f32__sve.h.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#pragma GCC target("+sve")
#include <arm_sve.h>
#include <stddef.h>

#include "../act/act_f32__sve.h"
#include "normkit_kernel.h"

normkit_gelu_f32_ukernel normkit_gelu_f32__sve;

void normkit_gelu_f32__sve(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                           size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const size_t vl = svcntw();
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy)
        for (size_t i = 0; i < dim; i += vl) {
            const svbool_t pg = svwhilelt_b32_u64(i, dim);
            svst1_f32(pg, y + i, nk_gelu_f32xsv(svld1_f32(pg, x + i)));
        }
}
