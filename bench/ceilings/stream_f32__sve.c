/*
 * STREAM-style read, copy, triad and write with SVE, at whatever vector length the machine
 * has: 4 vectors (4 accumulators for read) per iteration, each predicated by svwhilelt,
 * since the vector (4 to 64 floats, e.g. 12 at 384 bits) need not divide n (a multiple of 128).
 * No copy_nt: SVE's non-temporal stores (STNT1) are a hint, left out as on NEON.
 */
#pragma GCC target("+sve")
#include <arm_sve.h>

#include "ceilings.h"

#define NK_P(k) svwhilelt_b32_u64(i + (k) * vl, n)

static float read_sve(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)a, (void)c;
    const size_t vl = svcntw();
    svfloat32_t s0 = svdup_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 4 * vl) {
            s0 = svadd_f32_m(NK_P(0), s0, svld1_f32(NK_P(0), b + i));
            s1 = svadd_f32_m(NK_P(1), s1, svld1_f32(NK_P(1), b + i + vl));
            s2 = svadd_f32_m(NK_P(2), s2, svld1_f32(NK_P(2), b + i + 2 * vl));
            s3 = svadd_f32_m(NK_P(3), s3, svld1_f32(NK_P(3), b + i + 3 * vl));
        }
    const svbool_t t = svptrue_b32();
    return svaddv_f32(t, svadd_f32_x(t, svadd_f32_x(t, s0, s1), svadd_f32_x(t, s2, s3)));
}

static float copy_sve(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    const size_t vl = svcntw();
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 4 * vl)
            for (size_t k = 0; k < 4; k++)
                svst1_f32(NK_P(k), a + i + k * vl, svld1_f32(NK_P(k), b + i + k * vl));
    return a[n - 1];
}

static float triad_sve(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    const size_t vl = svcntw();
    const svfloat32_t s = svdup_n_f32(3.0f);
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 4 * vl)
            for (size_t k = 0; k < 4; k++) {
                const svbool_t p = NK_P(k);
                svst1_f32(p, a + i + k * vl,
                          svmla_f32_x(p, svld1_f32(p, b + i + k * vl), s, svld1_f32(p, c + i + k * vl)));
            }
    return a[n - 1];
}

static float write_sve(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)b, (void)c;
    const size_t vl = svcntw();
    for (size_t r = 0; r < reps; r++) {
        /* a new value each pass: no pass's stores are dead */
        const svfloat32_t v = svdup_n_f32((float)r);
        for (size_t i = 0; i < n; i += 4 * vl)
            for (size_t k = 0; k < 4; k++)
                svst1_f32(NK_P(k), a + i + k * vl, v);
    }
    return a[n - 1];
}

extern const nkb_stream_ceiling nkb_stream_f32__sve;
const nkb_stream_ceiling nkb_stream_f32__sve = {read_sve, copy_sve, NULL, triad_sve, write_sve};
