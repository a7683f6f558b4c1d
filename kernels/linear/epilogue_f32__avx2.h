/*
 * The linear epilogue, AVX2: y = act(y) * mul + add over an m x n block of finished outputs
 * (normkit_epilogue, normkit_kernel.h), applied by the AVX2 linear driver to each column group
 * right after its last k block. Tails go through a small stack buffer, so nothing past n is
 * read or written.
 */
#ifndef NORMKIT_EPILOGUE_F32__AVX2_H
#define NORMKIT_EPILOGUE_F32__AVX2_H

#include <immintrin.h>
#include <string.h>

/* normkit-export defines NORMKIT_EXPORT_NO_ACT: exported kernels never take an
 * activation, so they need no SLEEF (the exporter removes these blocks) */
#ifndef NORMKIT_EXPORT_NO_ACT
#include "../act/act_f32__avx2.h"
#endif
#include "normkit_kernel.h"

static inline __m256 nk_epilogue_vec__avx2(const normkit_epilogue *e, __m256 v, const float *m,
                                           const float *a)
{
#ifndef NORMKIT_EXPORT_NO_ACT
    if (e->act == NORMKIT_ACT_GELU)
        v = nk_gelu_f32x8(v);
    else if (e->act == NORMKIT_ACT_SILU)
        v = nk_silu_f32x8(v);
#else
    (void)e;
#endif
    if (m)
        v = _mm256_mul_ps(v, _mm256_loadu_ps(m));
    if (a)
        v = _mm256_add_ps(v, _mm256_loadu_ps(a));
    return v;
}

static inline void nk_epilogue_f32__avx2(const normkit_epilogue *e, size_t m, size_t n, float *y,
                                         size_t ldy)
{
    for (size_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *mr = e->mul ? e->mul + i * e->ldmul : NULL;
        const float *ar = e->add ? e->add + i * e->ldadd : NULL;
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            _mm256_storeu_ps(yr + j, nk_epilogue_vec__avx2(e, _mm256_loadu_ps(yr + j),
                                                           mr ? mr + j : NULL, ar ? ar + j : NULL));
        if (j < n) {
            float tv[8] = {0}, tm[8] = {0}, ta[8] = {0};
            const size_t t = n - j;
            memcpy(tv, yr + j, t * sizeof(float));
            if (mr)
                memcpy(tm, mr + j, t * sizeof(float));
            if (ar)
                memcpy(ta, ar + j, t * sizeof(float));
            _mm256_storeu_ps(tv, nk_epilogue_vec__avx2(e, _mm256_loadu_ps(tv), mr ? tm : NULL,
                                                       ar ? ta : NULL));
            memcpy(yr + j, tv, t * sizeof(float));
        }
    }
}

#endif
