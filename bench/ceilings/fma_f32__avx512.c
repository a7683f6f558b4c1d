/*
 * Peak FMA throughput with AVX-512 (F): 16 independent zmm accumulators (FMA latency 4 x 2
 * ports = 8 needed; 16 leaves margin and still fits in the 32 registers with m and k).
 */
#include <immintrin.h>

#include "ceilings.h"

static float fma_avx512(size_t iters)
{
    const __m512 m = _mm512_set1_ps(1.0f - 0x1p-20f), k = _mm512_set1_ps(0x1p-10f);
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(2.0f), a2 = _mm512_set1_ps(3.0f);
    __m512 a3 = _mm512_set1_ps(4.0f), a4 = _mm512_set1_ps(5.0f), a5 = _mm512_set1_ps(6.0f);
    __m512 a6 = _mm512_set1_ps(7.0f), a7 = _mm512_set1_ps(8.0f), a8 = _mm512_set1_ps(9.0f);
    __m512 a9 = _mm512_set1_ps(10.0f), a10 = _mm512_set1_ps(11.0f), a11 = _mm512_set1_ps(12.0f);
    __m512 a12 = _mm512_set1_ps(13.0f), a13 = _mm512_set1_ps(14.0f), a14 = _mm512_set1_ps(15.0f);
    __m512 a15 = _mm512_set1_ps(16.0f);
    for (size_t i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, k);
        a1 = _mm512_fmadd_ps(a1, m, k);
        a2 = _mm512_fmadd_ps(a2, m, k);
        a3 = _mm512_fmadd_ps(a3, m, k);
        a4 = _mm512_fmadd_ps(a4, m, k);
        a5 = _mm512_fmadd_ps(a5, m, k);
        a6 = _mm512_fmadd_ps(a6, m, k);
        a7 = _mm512_fmadd_ps(a7, m, k);
        a8 = _mm512_fmadd_ps(a8, m, k);
        a9 = _mm512_fmadd_ps(a9, m, k);
        a10 = _mm512_fmadd_ps(a10, m, k);
        a11 = _mm512_fmadd_ps(a11, m, k);
        a12 = _mm512_fmadd_ps(a12, m, k);
        a13 = _mm512_fmadd_ps(a13, m, k);
        a14 = _mm512_fmadd_ps(a14, m, k);
        a15 = _mm512_fmadd_ps(a15, m, k);
    }
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a8 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                       _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15)));
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a8));
}

extern const nkb_fma_ceiling nkb_fma_f32__avx512;
const nkb_fma_ceiling nkb_fma_f32__avx512 = {16, 16, 1, fma_avx512, NULL};
