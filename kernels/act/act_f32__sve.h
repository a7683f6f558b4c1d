/*
 * The activations, f32, AArch64 SVE: one svfloat32_t (svcntw() lanes, 4 to 64) per call, no
 * memory access. Used by the gelu and silu kernels (kernels/gelu, kernels/silu) and the SVE
 * linear epilogue. Every lane is computed (inactive lanes of a caller's predicated load are
 * zeros, which are harmless); callers store only the lanes they loaded.
 *
 *   GELU (exact): y = x/2 * erfc(-x/sqrt 2)  (= x/2 (1 + erf(x/sqrt 2)), without erf's
 *                 cancellation at negative x)
 *   SiLU:         y = x * s, s = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(-|x|)
 *                 (never overflows)
 * Edges: NaN -> NaN; +Inf -> +Inf; -Inf -> -0.0 (the limit; the formulas give Inf * 0, so a
 *   select blends it in); -0 -> -0.
 * Accuracy: SLEEF's ISA-suffixed, vector-length agnostic functions, Sleef_erfcfx_u15sve
 *   (1.5-ULP erfc) and Sleef_expfx_u10sve (1.0-ULP exp), called directly (never SLEEF's
 *   dispatcher); the same ULP as the AdvSIMD ones, so the same bounds. Each lane is computed
 *   on its own: results do not depend on the vector length. GELU also corrects the rounding
 *   of its argument (see act_f32__avx512.h), in the same operations as act_f32__neon.h.
 *   Bounds and their derivation: docs/numerics.md, "Activations".
 * SVE: only SVE files include this header, after the pragma that enables SVE; elsewhere it
 *   stops the build. With SVE enabled, sleef.h declares its SVE functions (visible only where
 *   __ARM_FEATURE_SVE is defined).
 */
#ifndef NORMKIT_ACT_F32__SVE_H
#define NORMKIT_ACT_F32__SVE_H

/* only SVE code may include this (a kernel file's pragma enables SVE before the include) */
#ifndef __ARM_FEATURE_SVE
#error "include this header from an SVE file, after its #pragma GCC target(\"+sve\")"
#endif
#include <arm_sve.h>
#include <sleef.h>

#ifndef NK_ACT_RSQRT2_HI
#define NK_ACT_RSQRT2_HI 0x1.6a09e6p-1f
#define NK_ACT_RSQRT2_LO 0x1.9fcef4p-27f
#endif

/* The argument correction of act_f32__avx512.h: y = x/2 * erfc(t_hi) * (1 + e g(t_hi)). */
static inline svfloat32_t nk_gelu_f32xsv(svfloat32_t x)
{
    const svbool_t all = svptrue_b32();
    const svfloat32_t zero = svdup_n_f32(0.0f);
    const svfloat32_t c_hi = svdup_n_f32(NK_ACT_RSQRT2_HI);
    const svfloat32_t u = svmul_f32_x(all, x, c_hi);             /* -t_hi */
    const svfloat32_t t = svsub_f32_x(all, zero, u);             /* t_hi (u = 0 -> +0) */
    /* fma(x, c_hi, -u) exactly, then + x * c_lo */
    const svfloat32_t e = svmla_f32_x(all, svmla_f32_x(all, svneg_f32_x(all, u), x, c_hi), x,
                                      svdup_n_f32(NK_ACT_RSQRT2_LO));
    /* FMAX/FMIN (not the -NM forms): NaN propagates, as vmaxq_f32/vminq_f32 */
    const svfloat32_t tc = svmin_f32_x(all, svmax_f32_x(all, t, zero), svdup_n_f32(16.0f));
    const svfloat32_t g =
        svadd_f32_x(all, tc, svsqrt_f32_x(all, svmla_f32_x(all, svdup_n_f32(2.0f), tc, tc)));
    const svbool_t pos = svcmpgt_f32(all, t, zero);
    const svfloat32_t eg = svsel_f32(pos, svmul_f32_x(all, e, g), zero);
    const svfloat32_t E = Sleef_erfcfx_u15sve(t);
    const svfloat32_t y = svmul_f32_x(all, svmul_f32_x(all, x, svdup_n_f32(0.5f)),
                                      svmla_f32_x(all, E, E, eg));
    const svbool_t ninf = svcmpeq_f32(all, x, svdup_n_f32(-__builtin_inff()));
    return svsel_f32(ninf, svdup_n_f32(-0.0f), y);
}

static inline svfloat32_t nk_silu_f32xsv(svfloat32_t x)
{
    const svbool_t all = svptrue_b32();
    const svfloat32_t one = svdup_n_f32(1.0f);
    const svfloat32_t e = Sleef_expfx_u10sve(svneg_f32_x(all, svabs_f32_x(all, x)));
    const svbool_t nonneg = svcmpge_f32(all, x, svdup_n_f32(0.0f));
    const svfloat32_t num = svsel_f32(nonneg, one, e);
    const svfloat32_t y = svmul_f32_x(all, x, svdiv_f32_x(all, num, svadd_f32_x(all, one, e)));
    const svbool_t ninf = svcmpeq_f32(all, x, svdup_n_f32(-__builtin_inff()));
    return svsel_f32(ninf, svdup_n_f32(-0.0f), y);
}

#endif /* NORMKIT_ACT_F32__SVE_H */
