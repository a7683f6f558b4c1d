/*
 * The least a norm call does, with AVX-512 (F): RMSNorm, and LayerNorm, of rows of one zmm (16
 * floats), the exact 1/sqrtf of the kernels (see ceilings.h). Unaligned loads and stores, as
 * the kernels.
 */
#include <immintrin.h>
#include <math.h>

#include "ceilings.h"

static normkit_rmsnorm_f32_ukernel row_avx512;
static normkit_layernorm_f32_ukernel row_ln_avx512;

static void row_avx512(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                       float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const __m512 v = _mm512_loadu_ps(x);
        const float ss = _mm512_reduce_add_ps(_mm512_mul_ps(v, v));
        const __m512 s = _mm512_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_mul_ps(v, s), _mm512_loadu_ps(gamma)));
    }
}

static void row_ln_avx512(size_t rows, size_t dim, const float *x, size_t ldx,
                          const float *gamma, const float *beta, float eps, float *y, size_t ldy,
                          const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const __m512 v = _mm512_loadu_ps(x);
        const __m512 d = _mm512_sub_ps(v, _mm512_set1_ps(_mm512_reduce_add_ps(v) / (float)dim));
        const float ss = _mm512_reduce_add_ps(_mm512_mul_ps(d, d));
        const __m512 s = _mm512_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        _mm512_storeu_ps(y, _mm512_fmadd_ps(_mm512_mul_ps(d, s), _mm512_loadu_ps(gamma),
                                            _mm512_loadu_ps(beta)));
    }
}

extern const nkb_row_ceiling nkb_row_f32__avx512;
const nkb_row_ceiling nkb_row_f32__avx512 = {16, row_avx512, row_ln_avx512, NULL};
