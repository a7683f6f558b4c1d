/*
 * STREAM-style read, copy, triad and write with AArch64 AdvSIMD: 16-byte loads and stores, 8
 * independent accumulators for read, no tails (see ceilings.h). No copy_nt: AdvSIMD's
 * non-temporal stores (STNP) are a hint that intrinsics do not expose.
 */
#include <arm_neon.h>

#include "ceilings.h"

static float read_neon(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)a, (void)c;
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 32) {
            s0 = vaddq_f32(s0, vld1q_f32(b + i));
            s1 = vaddq_f32(s1, vld1q_f32(b + i + 4));
            s2 = vaddq_f32(s2, vld1q_f32(b + i + 8));
            s3 = vaddq_f32(s3, vld1q_f32(b + i + 12));
            s4 = vaddq_f32(s4, vld1q_f32(b + i + 16));
            s5 = vaddq_f32(s5, vld1q_f32(b + i + 20));
            s6 = vaddq_f32(s6, vld1q_f32(b + i + 24));
            s7 = vaddq_f32(s7, vld1q_f32(b + i + 28));
        }
    s0 = vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3));
    s4 = vaddq_f32(vaddq_f32(s4, s5), vaddq_f32(s6, s7));
    return vaddvq_f32(vaddq_f32(s0, s4));
}

static float copy_neon(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)c;
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 16) {
            float32x4_t v0 = vld1q_f32(b + i), v1 = vld1q_f32(b + i + 4);
            float32x4_t v2 = vld1q_f32(b + i + 8), v3 = vld1q_f32(b + i + 12);
            vst1q_f32(a + i, v0);
            vst1q_f32(a + i + 4, v1);
            vst1q_f32(a + i + 8, v2);
            vst1q_f32(a + i + 12, v3);
        }
    return a[n - 1];
}

static float triad_neon(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    const float32x4_t s = vdupq_n_f32(3.0f);
    for (size_t r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i += 16) {
            float32x4_t v0 = vfmaq_f32(vld1q_f32(b + i), s, vld1q_f32(c + i));
            float32x4_t v1 = vfmaq_f32(vld1q_f32(b + i + 4), s, vld1q_f32(c + i + 4));
            float32x4_t v2 = vfmaq_f32(vld1q_f32(b + i + 8), s, vld1q_f32(c + i + 8));
            float32x4_t v3 = vfmaq_f32(vld1q_f32(b + i + 12), s, vld1q_f32(c + i + 12));
            vst1q_f32(a + i, v0);
            vst1q_f32(a + i + 4, v1);
            vst1q_f32(a + i + 8, v2);
            vst1q_f32(a + i + 12, v3);
        }
    return a[n - 1];
}

static float write_neon(size_t n, size_t reps, float *a, const float *b, const float *c)
{
    (void)b, (void)c;
    for (size_t r = 0; r < reps; r++) {
        /* a new value each pass: no pass's stores are dead */
        const float32x4_t v = vdupq_n_f32((float)r);
        for (size_t i = 0; i < n; i += 16) {
            vst1q_f32(a + i, v);
            vst1q_f32(a + i + 4, v);
            vst1q_f32(a + i + 8, v);
            vst1q_f32(a + i + 12, v);
        }
    }
    return a[n - 1];
}

extern const nkb_stream_ceiling nkb_stream_f32__neon;
const nkb_stream_ceiling nkb_stream_f32__neon = {read_neon, copy_neon, NULL, triad_neon,
                                                  write_neon};
