/*
 * The least a norm call does, with AArch64 AdvSIMD: RMSNorm, and LayerNorm, of rows of one q
 * register (4 floats), the exact 1/sqrtf of the kernels (see ceilings.h).
 */
#include <arm_neon.h>
#include <math.h>

#include "ceilings.h"

static normkit_rmsnorm_f32_ukernel row_neon;
static normkit_layernorm_f32_ukernel row_ln_neon;

static void row_neon(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                     float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const float32x4_t v = vld1q_f32(x);
        const float ss = vaddvq_f32(vmulq_f32(v, v));
        const float32x4_t s = vdupq_n_f32(1.0f / sqrtf(ss / (float)dim + eps));
        vst1q_f32(y, vmulq_f32(vmulq_f32(v, s), vld1q_f32(gamma)));
    }
}

static void row_ln_neon(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                        const float *beta, float eps, float *y, size_t ldy,
                        const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const float32x4_t v = vld1q_f32(x);
        const float32x4_t d = vsubq_f32(v, vdupq_n_f32(vaddvq_f32(v) / (float)dim));
        const float ss = vaddvq_f32(vmulq_f32(d, d));
        const float32x4_t s = vdupq_n_f32(1.0f / sqrtf(ss / (float)dim + eps));
        vst1q_f32(y, vfmaq_f32(vld1q_f32(beta), vmulq_f32(d, s), vld1q_f32(gamma)));
    }
}

extern const nkb_row_ceiling nkb_row_f32__neon;
const nkb_row_ceiling nkb_row_f32__neon = {4, row_neon, row_ln_neon, NULL};
