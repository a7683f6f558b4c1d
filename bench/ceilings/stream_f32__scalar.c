/*
 * STREAM-style read, copy, triad and write in portable C, built with the scalar ISA's flags
 * (auto-vectorization off): the bandwidth one scalar lane reaches — the ceiling of the
 * `scalar` kernels. Loops are unrolled by 8 by hand so the read has 8 independent sums (add
 * latency x ports), and so the copy is not recognised as a memcpy (which would be vector
 * code). No non-temporal copy: portable C has no streaming store.
 */
#include "ceilings.h"

static float read_scalar(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)a, (void)c;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 8) {
            s0 += b[i];
            s1 += b[i + 1];
            s2 += b[i + 2];
            s3 += b[i + 3];
            s4 += b[i + 4];
            s5 += b[i + 5];
            s6 += b[i + 6];
            s7 += b[i + 7];
        }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}

static float copy_scalar(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 8) {
            float v0 = b[i], v1 = b[i + 1], v2 = b[i + 2], v3 = b[i + 3];
            float v4 = b[i + 4], v5 = b[i + 5], v6 = b[i + 6], v7 = b[i + 7];
            a[i] = v0, a[i + 1] = v1, a[i + 2] = v2, a[i + 3] = v3;
            a[i + 4] = v4, a[i + 5] = v5, a[i + 6] = v6, a[i + 7] = v7;
        }
    return a[n - 1];
}

static float triad_scalar(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    const float s = 3.0f;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 4) {
            a[i] = b[i] + s * c[i];
            a[i + 1] = b[i + 1] + s * c[i + 1];
            a[i + 2] = b[i + 2] + s * c[i + 2];
            a[i + 3] = b[i + 3] + s * c[i + 3];
        }
    return a[n - 1];
}

static float write_scalar(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)b, (void)c;
    for (size_t r = 0; r < reps; r++) {
        const float v = (float)r; /* a new value each pass: no pass's stores are dead */
        for (size_t i = 0; i < n; i += 8) {
            a[i] = v, a[i + 1] = v, a[i + 2] = v, a[i + 3] = v;
            a[i + 4] = v, a[i + 5] = v, a[i + 6] = v, a[i + 7] = v;
        }
    }
    return a[n - 1];
}

extern const nkb_stream_ceiling nkb_stream_f32__scalar;
const nkb_stream_ceiling nkb_stream_f32__scalar = {read_scalar, copy_scalar, NULL,
                                                    triad_scalar, write_scalar};
