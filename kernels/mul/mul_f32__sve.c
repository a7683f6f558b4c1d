/*
 * normkit_mul_f32__sve — elementwise product (gate * up), f32, AArch64 SVE.
 *
 *   y = x * r
 *
 * ISA: SVE (HWCAP_SVE), vector-length agnostic: vl = svcntw() floats, 4 to 64 (128 to 2048
 *   bits, any multiple of 128). SVE is enabled by the pragma below for this file only, so no
 *   SVE instruction can run before the dispatcher's capability check.
 * Passes: 1, elementwise; rows are independent.
 * Tails: one predicated vector at a time (svwhilelt) after the unrolled full vectors:
 *   inactive lanes are neither loaded nor stored, so no access leaves the row (rows can end
 *   at an unmapped page); no scalar code.
 * Aliasing: y may equal x, or r, with the same stride (each vector is read before the same
 *   lanes of y are written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: exact: one IEEE float operation per element (overflow gives +-Inf, NaN stays
 *   NaN), the same bits on every ISA and at every vector length.
 *   Numerics: docs/numerics.md#activations.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#pragma GCC target("+sve")
#include <arm_sve.h>
#include <stddef.h>

#include "normkit_kernel.h"

normkit_mul_f32_ukernel normkit_mul_f32__sve;

/* Vectors per iteration: four independent load-load-op-store chains amortize the loop
 * overhead; the operation itself is one instruction. */
enum { NK_UNROLL = 4 };

void normkit_mul_f32__sve(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                          size_t ldr, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const svbool_t all = svptrue_b32();
    const size_t vl = svcntw();
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        size_t i = 0;
        for (; i + NK_UNROLL * vl <= dim; i += NK_UNROLL * vl) {
            _Pragma("GCC unroll 4") for (size_t u = 0; u < NK_UNROLL; u++)
                svst1_f32(all, y + i + u * vl,
                          svmul_f32_x(all, svld1_f32(all, x + i + u * vl),
                                      svld1_f32(all, r + i + u * vl)));
        }
        /* the rest, one predicated vector at a time: the same single operation per element */
        for (; i < dim; i += vl) {
            const svbool_t pg = svwhilelt_b32_u64(i, dim);
            svst1_f32(pg, y + i, svmul_f32_x(pg, svld1_f32(pg, x + i), svld1_f32(pg, r + i)));
        }
    }
}
