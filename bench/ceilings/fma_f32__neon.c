/*
 * Peak FMA throughput with AArch64 AdvSIMD: 16 independent q-register accumulators (FMA
 * latency 4 x up to 4 pipes on the widest current cores = 16), which with m and k fit in the
 * 32 vector registers.
 */
#include <arm_neon.h>

#include "ceilings.h"

static float fma_neon(size_t iters)
{
    const float32x4_t m = vdupq_n_f32(1.0f - 0x1p-20f), k = vdupq_n_f32(0x1p-10f);
    float32x4_t a[16];
    for (int j = 0; j < 16; j++)
        a[j] = vdupq_n_f32((float)(j + 1));
    float32x4_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], a6 = a[6];
    float32x4_t a7 = a[7], a8 = a[8], a9 = a[9], a10 = a[10], a11 = a[11], a12 = a[12];
    float32x4_t a13 = a[13], a14 = a[14], a15 = a[15];
    for (size_t i = 0; i < iters; i++) {
        a0 = vfmaq_f32(k, a0, m);
        a1 = vfmaq_f32(k, a1, m);
        a2 = vfmaq_f32(k, a2, m);
        a3 = vfmaq_f32(k, a3, m);
        a4 = vfmaq_f32(k, a4, m);
        a5 = vfmaq_f32(k, a5, m);
        a6 = vfmaq_f32(k, a6, m);
        a7 = vfmaq_f32(k, a7, m);
        a8 = vfmaq_f32(k, a8, m);
        a9 = vfmaq_f32(k, a9, m);
        a10 = vfmaq_f32(k, a10, m);
        a11 = vfmaq_f32(k, a11, m);
        a12 = vfmaq_f32(k, a12, m);
        a13 = vfmaq_f32(k, a13, m);
        a14 = vfmaq_f32(k, a14, m);
        a15 = vfmaq_f32(k, a15, m);
    }
    a0 = vaddq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)),
                   vaddq_f32(vaddq_f32(a4, a5), vaddq_f32(a6, a7)));
    a8 = vaddq_f32(vaddq_f32(vaddq_f32(a8, a9), vaddq_f32(a10, a11)),
                   vaddq_f32(vaddq_f32(a12, a13), vaddq_f32(a14, a15)));
    return vaddvq_f32(vaddq_f32(a0, a8));
}

extern const nkb_fma_ceiling nkb_fma_f32__neon;
const nkb_fma_ceiling nkb_fma_f32__neon = {4, 16, 1, fma_neon, NULL};
