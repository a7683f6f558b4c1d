/*
 * The least a norm call does, with SVE: RMSNorm, and LayerNorm, of rows of one z register
 * (svcntw() floats, asked at run time), the exact 1/sqrtf of the kernels (see ceilings.h).
 */
#pragma GCC target("+sve")
#include <arm_sve.h>
#include <math.h>

#include "ceilings.h"

static normkit_rmsnorm_f32_ukernel row_sve;
static normkit_layernorm_f32_ukernel row_ln_sve;

static unsigned lanes_sve(void)
{
    return (unsigned)svcntw();
}

static void row_sve(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                    float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const svbool_t t = svptrue_b32();
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const svfloat32_t v = svld1_f32(t, x);
        const float ss = svaddv_f32(t, svmul_f32_x(t, v, v));
        const svfloat32_t s = svdup_n_f32(1.0f / sqrtf(ss / (float)dim + eps));
        svst1_f32(t, y, svmul_f32_x(t, svmul_f32_x(t, v, s), svld1_f32(t, gamma)));
    }
}

static void row_ln_sve(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                       const float *beta, float eps, float *y, size_t ldy,
                       const normkit_kparams *kp)
{
    (void)kp;
    const svbool_t t = svptrue_b32();
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const svfloat32_t v = svld1_f32(t, x);
        const svfloat32_t d = svsub_f32_x(t, v, svdup_n_f32(svaddv_f32(t, v) / (float)dim));
        const float ss = svaddv_f32(t, svmul_f32_x(t, d, d));
        const svfloat32_t s = svdup_n_f32(1.0f / sqrtf(ss / (float)dim + eps));
        svst1_f32(t, y, svmla_f32_x(t, svld1_f32(t, beta), svmul_f32_x(t, d, s),
                                    svld1_f32(t, gamma)));
    }
}

extern const nkb_row_ceiling nkb_row_f32__sve;
const nkb_row_ceiling nkb_row_f32__sve = {0, row_sve, row_ln_sve, lanes_sve};
