/*
 * The linear epilogue, AVX-512: y = act(y) * mul + add over an m x n block of finished outputs
 * (normkit_epilogue, normkit_kernel.h), applied by the AVX-512 linear driver to each tile right
 * after its last k block, while the tile is in L1. Masked tails: nothing past n is touched.
 */
#ifndef NORMKIT_EPILOGUE_F32__AVX512_H
#define NORMKIT_EPILOGUE_F32__AVX512_H

#include <immintrin.h>

/* normkit-export defines NORMKIT_EXPORT_NO_ACT: exported kernels never take an
 * activation, so they need no SLEEF (the exporter removes these blocks) */
#ifndef NORMKIT_EXPORT_NO_ACT
#include "../act/act_f32__avx512.h"
#endif
#include "normkit_kernel.h"

static inline void nk_epilogue_f32__avx512(const normkit_epilogue *e, size_t m, size_t n,
                                           float *y, size_t ldy)
{
    for (size_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *mr = e->mul ? e->mul + i * e->ldmul : NULL;
        const float *ar = e->add ? e->add + i * e->ldadd : NULL;
        for (size_t j = 0; j < n; j += 16) {
            const __mmask16 k = n - j < 16 ? (__mmask16)((1u << (n - j)) - 1) : (__mmask16)0xffff;
            __m512 v = _mm512_maskz_loadu_ps(k, yr + j);
#ifndef NORMKIT_EXPORT_NO_ACT
            if (e->act == NORMKIT_ACT_GELU)
                v = nk_gelu_f32x16(v);
            else if (e->act == NORMKIT_ACT_SILU)
                v = nk_silu_f32x16(v);
#endif
            if (mr)
                v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, mr + j));
            if (ar)
                v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, ar + j));
            _mm512_mask_storeu_ps(yr + j, k, v);
        }
    }
}

#endif
