/*
 * Peak multiply-add throughput of one scalar lane, in portable C built with the scalar ISA's
 * flags. Under ISO C (-std=c11) GCC does not contract a * m + k into an FMA, and the x86-64
 * baseline has none anyway: this is a multiply and an add, counted as 2 flops like an FMA.
 * 14 independent accumulators: enough to cover a multiply-then-add chain (latency ~8) on
 * 2 ports, and with m and k they fit in 16 vector registers without spilling.
 */
#include "ceilings.h"

static float fma_scalar(size_t iters)
{
    const float m = 1.0f - 0x1p-20f, k = 0x1p-10f;
    float a0 = 1, a1 = 2, a2 = 3, a3 = 4, a4 = 5, a5 = 6, a6 = 7, a7 = 8, a8 = 9, a9 = 10;
    float a10 = 11, a11 = 12, a12 = 13, a13 = 14;
    for (size_t i = 0; i < iters; i++) {
        a0 = a0 * m + k;
        a1 = a1 * m + k;
        a2 = a2 * m + k;
        a3 = a3 * m + k;
        a4 = a4 * m + k;
        a5 = a5 * m + k;
        a6 = a6 * m + k;
        a7 = a7 * m + k;
        a8 = a8 * m + k;
        a9 = a9 * m + k;
        a10 = a10 * m + k;
        a11 = a11 * m + k;
        a12 = a12 * m + k;
        a13 = a13 * m + k;
    }
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) +
           (((a8 + a9) + (a10 + a11)) + (a12 + a13));
}

extern const nkb_fma_ceiling nkb_fma_f32__scalar;
const nkb_fma_ceiling nkb_fma_f32__scalar = {1, 14, 2, fma_scalar, NULL};
