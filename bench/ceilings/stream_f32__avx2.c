/*
 * STREAM-style read, copy, copy_nt, triad and write with AVX2 + FMA: 32-byte loads and stores,
 * 8 independent accumulators for read (add latency 4 x 2 ports), no tails (see ceilings.h).
 */
#include <immintrin.h>

#include "ceilings.h"

static float read_avx2(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)a, (void)c;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 64) {
            s0 = _mm256_add_ps(s0, _mm256_load_ps(b + i));
            s1 = _mm256_add_ps(s1, _mm256_load_ps(b + i + 8));
            s2 = _mm256_add_ps(s2, _mm256_load_ps(b + i + 16));
            s3 = _mm256_add_ps(s3, _mm256_load_ps(b + i + 24));
            s4 = _mm256_add_ps(s4, _mm256_load_ps(b + i + 32));
            s5 = _mm256_add_ps(s5, _mm256_load_ps(b + i + 40));
            s6 = _mm256_add_ps(s6, _mm256_load_ps(b + i + 48));
            s7 = _mm256_add_ps(s7, _mm256_load_ps(b + i + 56));
        }
    s0 = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    s4 = _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7));
    s0 = _mm256_add_ps(s0, s4);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}

static float copy_avx2(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 32) {
            __m256 v0 = _mm256_load_ps(b + i), v1 = _mm256_load_ps(b + i + 8);
            __m256 v2 = _mm256_load_ps(b + i + 16), v3 = _mm256_load_ps(b + i + 24);
            _mm256_store_ps(a + i, v0);
            _mm256_store_ps(a + i + 8, v1);
            _mm256_store_ps(a + i + 16, v2);
            _mm256_store_ps(a + i + 24, v3);
        }
    return a[n - 1];
}

static float copy_nt_avx2(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 32) {
            __m256 v0 = _mm256_load_ps(b + i), v1 = _mm256_load_ps(b + i + 8);
            __m256 v2 = _mm256_load_ps(b + i + 16), v3 = _mm256_load_ps(b + i + 24);
            _mm256_stream_ps(a + i, v0);
            _mm256_stream_ps(a + i + 8, v1);
            _mm256_stream_ps(a + i + 16, v2);
            _mm256_stream_ps(a + i + 24, v3);
        }
    _mm_sfence(); /* streaming stores are weakly ordered: drain them inside the timed call */
    return a[n - 1];
}

static float triad_avx2(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    const __m256 s = _mm256_set1_ps(3.0f);
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 32) {
            __m256 v0 = _mm256_fmadd_ps(s, _mm256_load_ps(c + i), _mm256_load_ps(b + i));
            __m256 v1 = _mm256_fmadd_ps(s, _mm256_load_ps(c + i + 8), _mm256_load_ps(b + i + 8));
            __m256 v2 = _mm256_fmadd_ps(s, _mm256_load_ps(c + i + 16), _mm256_load_ps(b + i + 16));
            __m256 v3 = _mm256_fmadd_ps(s, _mm256_load_ps(c + i + 24), _mm256_load_ps(b + i + 24));
            _mm256_store_ps(a + i, v0);
            _mm256_store_ps(a + i + 8, v1);
            _mm256_store_ps(a + i + 16, v2);
            _mm256_store_ps(a + i + 24, v3);
        }
    return a[n - 1];
}

static float write_avx2(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)b, (void)c;
    for (size_t r = 0; r < reps; r++) {
        /* a new value each pass: no pass's stores are dead */
        const __m256 v = _mm256_set1_ps((float)r);
        for (size_t i = 0; i < n; i += 32) {
            _mm256_store_ps(a + i, v);
            _mm256_store_ps(a + i + 8, v);
            _mm256_store_ps(a + i + 16, v);
            _mm256_store_ps(a + i + 24, v);
        }
    }
    return a[n - 1];
}

extern const nkb_stream_ceiling nkb_stream_f32__avx2;
const nkb_stream_ceiling nkb_stream_f32__avx2 = {read_avx2, copy_avx2, copy_nt_avx2, triad_avx2,
                                                  write_avx2};
