/*
 * The least a norm call does, in portable C built with the scalar ISA's flags: RMSNorm, and
 * LayerNorm, of rows of one float, the exact 1/sqrtf of the kernels (see ceilings.h).
 */
#include <math.h>

#include "ceilings.h"

static normkit_rmsnorm_f32_ukernel row_scalar;
static normkit_layernorm_f32_ukernel row_ln_scalar;

static void row_scalar(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                       float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const float v = x[0];
        y[0] = v * (1.0f / sqrtf(v * v / (float)dim + eps)) * gamma[0];
    }
}

static void row_ln_scalar(size_t rows, size_t dim, const float *x, size_t ldx,
                          const float *gamma, const float *beta, float eps, float *y, size_t ldy,
                          const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const float d = x[0] - x[0] / (float)dim;
        y[0] = d * (1.0f / sqrtf(d * d / (float)dim + eps)) * gamma[0] + beta[0];
    }
}

extern const nkb_row_ceiling nkb_row_f32__scalar;
const nkb_row_ceiling nkb_row_f32__scalar = {1, row_scalar, row_ln_scalar, NULL};
