/*
 * The least a norm call does, with AVX2 + FMA: RMSNorm, and LayerNorm, of rows of one ymm (8
 * floats), the exact 1/sqrtf of the kernels (see ceilings.h). Unaligned loads and stores, as the
 * kernels.
 */
#include <immintrin.h>
#include <math.h>

#include "ceilings.h"

static normkit_rmsnorm_f32_ukernel row_avx2;
static normkit_layernorm_f32_ukernel row_ln_avx2;

/* The lanes' sum: high half onto low half, then pairs, then the last two. */
static inline float hsum_avx2(__m256 v)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

static void row_avx2(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                     float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const __m256 v = _mm256_loadu_ps(x);
        const float ss = hsum_avx2(_mm256_mul_ps(v, v));
        const __m256 s = _mm256_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_mul_ps(v, s), _mm256_loadu_ps(gamma)));
    }
}

static void row_ln_avx2(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                        const float *beta, float eps, float *y, size_t ldy,
                        const normkit_kparams *kp)
{
    (void)kp;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        const __m256 v = _mm256_loadu_ps(x);
        const __m256 d = _mm256_sub_ps(v, _mm256_set1_ps(hsum_avx2(v) / (float)dim));
        const float ss = hsum_avx2(_mm256_mul_ps(d, d));
        const __m256 s = _mm256_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        _mm256_storeu_ps(y, _mm256_fmadd_ps(_mm256_mul_ps(d, s), _mm256_loadu_ps(gamma),
                                            _mm256_loadu_ps(beta)));
    }
}

extern const nkb_row_ceiling nkb_row_f32__avx2;
const nkb_row_ceiling nkb_row_f32__avx2 = {8, row_avx2, row_ln_avx2, NULL};
