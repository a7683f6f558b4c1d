/*
 * The activations, f32, AArch64 AdvSIMD: 4 lanes per call, no memory access. Used by the gelu
 * and silu kernels (kernels/gelu, kernels/silu) and the NEON linear epilogue.
 *
 *   GELU (exact): y = x/2 * erfc(-x/sqrt 2)  (= x/2 (1 + erf(x/sqrt 2)), without erf's
 *                 cancellation at negative x)
 *   SiLU:         y = x * s, s = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(-|x|)
 *                 (never overflows)
 * Edges: NaN -> NaN; +Inf -> +Inf; -Inf -> -0.0 (the limit; the formulas give Inf * 0, so a
 *   mask blends it in); -0 -> -0.
 * Accuracy: SLEEF's ISA-suffixed functions, Sleef_erfcf4_u15advsimd (1.5-ULP erfc) and
 *   Sleef_expf4_u10advsimd (1.0-ULP exp), called directly (never SLEEF's dispatcher). GELU
 *   also corrects the rounding of its argument (see act_f32__avx512.h). Bounds and their
 *   derivation: docs/numerics.md, "Activations".
 */
#ifndef NORMKIT_ACT_F32__NEON_H
#define NORMKIT_ACT_F32__NEON_H

#include <arm_neon.h>
#include <sleef.h>

#ifndef NK_ACT_RSQRT2_HI
#define NK_ACT_RSQRT2_HI 0x1.6a09e6p-1f
#define NK_ACT_RSQRT2_LO 0x1.9fcef4p-27f
#endif

/* The argument correction of act_f32__avx512.h: y = x/2 * erfc(t_hi) * (1 + e g(t_hi)). */
static inline float32x4_t nk_gelu_f32x4(float32x4_t x)
{
    const float32x4_t zero = vdupq_n_f32(0.0f);
    const float32x4_t c_hi = vdupq_n_f32(NK_ACT_RSQRT2_HI);
    const float32x4_t u = vmulq_f32(x, c_hi);
    const float32x4_t t = vsubq_f32(zero, u);
    /* fma(x, c_hi, -u) exactly, then + x * c_lo */
    const float32x4_t e = vfmaq_f32(vfmaq_f32(vnegq_f32(u), x, c_hi), x,
                                    vdupq_n_f32(NK_ACT_RSQRT2_LO));
    const float32x4_t tc = vminq_f32(vmaxq_f32(t, zero), vdupq_n_f32(16.0f));
    const float32x4_t g = vaddq_f32(tc, vsqrtq_f32(vfmaq_f32(vdupq_n_f32(2.0f), tc, tc)));
    const uint32x4_t pos = vcgtq_f32(t, zero);
    const float32x4_t eg =
        vreinterpretq_f32_u32(vandq_u32(pos, vreinterpretq_u32_f32(vmulq_f32(e, g))));
    const float32x4_t E = Sleef_erfcf4_u15advsimd(t);
    const float32x4_t y = vmulq_f32(vmulq_f32(x, vdupq_n_f32(0.5f)), vfmaq_f32(E, E, eg));
    const uint32x4_t ninf = vceqq_f32(x, vdupq_n_f32(-__builtin_inff()));
    return vbslq_f32(ninf, vdupq_n_f32(-0.0f), y);
}

static inline float32x4_t nk_silu_f32x4(float32x4_t x)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t e = Sleef_expf4_u10advsimd(vnegq_f32(vabsq_f32(x)));
    const uint32x4_t nonneg = vcgeq_f32(x, vdupq_n_f32(0.0f));
    const float32x4_t num = vbslq_f32(nonneg, one, e);
    const float32x4_t y = vmulq_f32(x, vdivq_f32(num, vaddq_f32(one, e)));
    const uint32x4_t ninf = vceqq_f32(x, vdupq_n_f32(-__builtin_inff()));
    return vbslq_f32(ninf, vdupq_n_f32(-0.0f), y);
}

#endif /* NORMKIT_ACT_F32__NEON_H */
