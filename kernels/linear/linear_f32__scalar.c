/*
 * normkit_linear_f32__scalar — y = x . W^T + bias, f32, portable C (built without
 * auto-vectorization: the baseline every variant is measured against).
 * One output at a time: a sequential float sum over k, then + bias. Packed weights (ldw == 0)
 * are this variant's layout, pack_nr = pack_vl = 1: W row-major with stride dim.
 * The epilogue (normkit_epilogue) is applied to each output as it is stored.
 * Numerics: |y - exact| <= (dim + 1) u sum_k |x_k W_jk| + u |y| (docs/numerics.md, "Linear").
 */
#include <stddef.h>

#ifndef NORMKIT_EXPORT_NO_ACT /* normkit-export: no activation, no libm erfcf/expf */
#include "../act/act_f32__scalar.h"
#endif
#include "normkit_kernel.h"

normkit_linear_f32_ukernel normkit_linear_f32__scalar;

void normkit_linear_f32__scalar(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                                const float *w, size_t ldw, const float *bias, float *y,
                                size_t ldy, const normkit_kparams *kp, float *ws,
                                const normkit_epilogue *epi)
{
    (void)kp;
    (void)ws;
    if (ldw == 0)
        ldw = dim;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++) {
            const float *xr = x + i * ldx, *wr = w + j * ldw;
            float s = 0.0f;
            for (size_t k = 0; k < dim; k++)
                s += xr[k] * wr[k];
            s = bias ? s + bias[j] : s;
            if (epi) { /* y = act(s) * mul + add, each its own rounding */
#ifndef NORMKIT_EXPORT_NO_ACT
                if (epi->act == NORMKIT_ACT_GELU)
                    s = nk_gelu_f32(s);
                else if (epi->act == NORMKIT_ACT_SILU)
                    s = nk_silu_f32(s);
#endif
                if (epi->mul)
                    s *= epi->mul[i * epi->ldmul + j];
                if (epi->add)
                    s += epi->add[i * epi->ldadd + j];
            }
            y[i * ldy + j] = s;
        }
}
