/*
 * Peak FMA throughput with AVX2 + FMA: 12 independent ymm accumulators (FMA latency 4 x 2
 * ports = 8 needed; 12 plus m and k fit in the 16 registers without spilling).
 */
#include <immintrin.h>

#include "ceilings.h"

static float fma_avx2(size_t iters)
{
    const __m256 m = _mm256_set1_ps(1.0f - 0x1p-20f), k = _mm256_set1_ps(0x1p-10f);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(2.0f), a2 = _mm256_set1_ps(3.0f);
    __m256 a3 = _mm256_set1_ps(4.0f), a4 = _mm256_set1_ps(5.0f), a5 = _mm256_set1_ps(6.0f);
    __m256 a6 = _mm256_set1_ps(7.0f), a7 = _mm256_set1_ps(8.0f), a8 = _mm256_set1_ps(9.0f);
    __m256 a9 = _mm256_set1_ps(10.0f), a10 = _mm256_set1_ps(11.0f), a11 = _mm256_set1_ps(12.0f);
    for (size_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, k);
        a1 = _mm256_fmadd_ps(a1, m, k);
        a2 = _mm256_fmadd_ps(a2, m, k);
        a3 = _mm256_fmadd_ps(a3, m, k);
        a4 = _mm256_fmadd_ps(a4, m, k);
        a5 = _mm256_fmadd_ps(a5, m, k);
        a6 = _mm256_fmadd_ps(a6, m, k);
        a7 = _mm256_fmadd_ps(a7, m, k);
        a8 = _mm256_fmadd_ps(a8, m, k);
        a9 = _mm256_fmadd_ps(a9, m, k);
        a10 = _mm256_fmadd_ps(a10, m, k);
        a11 = _mm256_fmadd_ps(a11, m, k);
    }
    a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                       _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    a8 = _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11));
    a0 = _mm256_add_ps(a0, a8);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

extern const nkb_fma_ceiling nkb_fma_f32__avx2;
const nkb_fma_ceiling nkb_fma_f32__avx2 = {8, 12, 1, fma_avx2, NULL};
