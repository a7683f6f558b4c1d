/*
 * The activations, f32, scalar (libm): the portable reference the SIMD variants match.
 *
 *   GELU (exact): y = x/2 * erfc(-x/sqrt 2)  (= x/2 (1 + erf(x/sqrt 2)), without erf's
 *                 cancellation at negative x)
 *   SiLU:         y = x * s, s = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(-|x|)
 *                 (never overflows)
 * Edges: NaN -> NaN; +Inf -> +Inf; -Inf -> -0.0 (the limit); -0 -> -0.
 * Accuracy: libm's erfcf and expf (glibc: erfcf within ~3 ulp, expf within 1 ulp); GELU
 *   corrects the rounding of its argument like the SIMD variants (act_f32__avx512.h).
 *   Bounds: docs/numerics.md, "Activations".
 */
#ifndef NORMKIT_ACT_F32__SCALAR_H
#define NORMKIT_ACT_F32__SCALAR_H

#include <math.h>

#ifndef NK_ACT_RSQRT2_HI
#define NK_ACT_RSQRT2_HI 0x1.6a09e6p-1f
#define NK_ACT_RSQRT2_LO 0x1.9fcef4p-27f
#endif

static inline float nk_gelu_f32(float x)
{
    if (x == -INFINITY)
        return -0.0f;
    const float u = x * NK_ACT_RSQRT2_HI, t = 0.0f - u;
    float E = erfcf(t);
    if (t > 0.0f) {
        /* x/sqrt2 - u; the double product is exact to 2^-53 (and needs no fma) */
        const float e = (float)((double)x * 0.70710678118654752440 - (double)u);
        const float tc = t < 16.0f ? t : 16.0f;
        const float g = tc + sqrtf(fmaf(tc, tc, 2.0f));
        E = fmaf(E, e * g, E);
    }
    return x * 0.5f * E;
}

static inline float nk_silu_f32(float x)
{
    if (x == -INFINITY)
        return -0.0f;
    const float e = expf(-fabsf(x));
    return x * ((x >= 0.0f ? 1.0f : e) / (1.0f + e));
}

#endif /* NORMKIT_ACT_F32__SCALAR_H */
