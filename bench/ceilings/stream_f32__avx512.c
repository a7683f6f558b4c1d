/*
 * STREAM-style read, copy, copy_nt, triad and write with AVX-512 (F): 64-byte loads and stores,
 * 8 independent accumulators for read (add latency 4 x 2 ports), no tails (see ceilings.h).
 */
#include <immintrin.h>

#include "ceilings.h"

static float read_avx512(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)a, (void)c;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 128) {
            s0 = _mm512_add_ps(s0, _mm512_load_ps(b + i));
            s1 = _mm512_add_ps(s1, _mm512_load_ps(b + i + 16));
            s2 = _mm512_add_ps(s2, _mm512_load_ps(b + i + 32));
            s3 = _mm512_add_ps(s3, _mm512_load_ps(b + i + 48));
            s4 = _mm512_add_ps(s4, _mm512_load_ps(b + i + 64));
            s5 = _mm512_add_ps(s5, _mm512_load_ps(b + i + 80));
            s6 = _mm512_add_ps(s6, _mm512_load_ps(b + i + 96));
            s7 = _mm512_add_ps(s7, _mm512_load_ps(b + i + 112));
        }
    s0 = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
    s4 = _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7));
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s4));
}

static float copy_avx512(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 64) {
            __m512 v0 = _mm512_load_ps(b + i), v1 = _mm512_load_ps(b + i + 16);
            __m512 v2 = _mm512_load_ps(b + i + 32), v3 = _mm512_load_ps(b + i + 48);
            _mm512_store_ps(a + i, v0);
            _mm512_store_ps(a + i + 16, v1);
            _mm512_store_ps(a + i + 32, v2);
            _mm512_store_ps(a + i + 48, v3);
        }
    return a[n - 1];
}

static float copy_nt_avx512(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 64) {
            __m512 v0 = _mm512_load_ps(b + i), v1 = _mm512_load_ps(b + i + 16);
            __m512 v2 = _mm512_load_ps(b + i + 32), v3 = _mm512_load_ps(b + i + 48);
            _mm512_stream_ps(a + i, v0);
            _mm512_stream_ps(a + i + 16, v1);
            _mm512_stream_ps(a + i + 32, v2);
            _mm512_stream_ps(a + i + 48, v3);
        }
    _mm_sfence(); /* streaming stores are weakly ordered: drain them inside the timed call */
    return a[n - 1];
}

static float triad_avx512(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    const __m512 s = _mm512_set1_ps(3.0f);
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 64) {
            __m512 v0 = _mm512_fmadd_ps(s, _mm512_load_ps(c + i), _mm512_load_ps(b + i));
            __m512 v1 = _mm512_fmadd_ps(s, _mm512_load_ps(c + i + 16), _mm512_load_ps(b + i + 16));
            __m512 v2 = _mm512_fmadd_ps(s, _mm512_load_ps(c + i + 32), _mm512_load_ps(b + i + 32));
            __m512 v3 = _mm512_fmadd_ps(s, _mm512_load_ps(c + i + 48), _mm512_load_ps(b + i + 48));
            _mm512_store_ps(a + i, v0);
            _mm512_store_ps(a + i + 16, v1);
            _mm512_store_ps(a + i + 32, v2);
            _mm512_store_ps(a + i + 48, v3);
        }
    return a[n - 1];
}

static float write_avx512(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)b, (void)c;
    for (size_t r = 0; r < reps; r++) {
        /* a new value each pass: no pass's stores are dead */
        const __m512 v = _mm512_set1_ps((float)r);
        for (size_t i = 0; i < n; i += 64) {
            _mm512_store_ps(a + i, v);
            _mm512_store_ps(a + i + 16, v);
            _mm512_store_ps(a + i + 32, v);
            _mm512_store_ps(a + i + 48, v);
        }
    }
    return a[n - 1];
}

extern const nkb_stream_ceiling nkb_stream_f32__avx512;
const nkb_stream_ceiling nkb_stream_f32__avx512 = {read_avx512, copy_avx512, copy_nt_avx512,
                                                    triad_avx512, write_avx512};
