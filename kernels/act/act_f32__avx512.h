/*
 * The activations, f32, AVX-512F: 16 lanes per call, no memory access. Used by the gelu and
 * silu kernels (kernels/gelu, kernels/silu) and the AVX-512 linear epilogue.
 *
 *   GELU (exact): y = x/2 * erfc(-x/sqrt 2)  (= x/2 (1 + erf(x/sqrt 2)), without erf's
 *                 cancellation at negative x)
 *   SiLU:         y = x * s, s = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(-|x|)
 *                 (never overflows)
 * Edges: NaN -> NaN; +Inf -> +Inf; -Inf -> -0.0 (the limit; the formulas give Inf * 0, so a
 *   mask blends it in); -0 -> -0.
 * Accuracy: SLEEF's ISA-suffixed functions, Sleef_erfcf16_u15avx512f (1.5-ULP erfc) and
 *   Sleef_expf16_u10avx512f (1.0-ULP exp), called directly (never SLEEF's dispatcher). GELU
 *   also corrects the rounding of its argument -x/sqrt 2, which erfc would amplify by
 *   ~2t^2 (up to ~200x near erfc's underflow): see nk_gelu_t_err_x16. Bounds and their
 *   derivation: docs/numerics.md, "Activations" (relative <= 6u GELU, <= 5u SiLU while y and
 *   the erfc/exp intermediate are normal; else within 2^-148 (1 + |x|)).
 */
#ifndef NORMKIT_ACT_F32__AVX512_H
#define NORMKIT_ACT_F32__AVX512_H

#include <immintrin.h>
#include <sleef.h>

/* 1/sqrt 2 = NK_ACT_RSQRT2_HI + NK_ACT_RSQRT2_LO (the low part to ~2^-49). */
#ifndef NK_ACT_RSQRT2_HI
#define NK_ACT_RSQRT2_HI 0x1.6a09e6p-1f
#define NK_ACT_RSQRT2_LO 0x1.9fcef4p-27f
#endif

/* erfc(t + d) = erfc(t) (1 - d g(t) + O(d^2 t^2)), g(t) = 2/sqrt(pi) exp(-t^2) / erfc(t), and
 * for t >= 0, t + sqrt(t^2 + 2) approximates g(t) to |approx - g| * t < 0.1 (it is the
 * classical upper bound of g, exact as t -> inf). With t = -x/sqrt2 rounded to t_hi and
 * d = t - t_hi = -e (|e| <= 2^-24 |t|), the factor 1 + e g repairs the argument's rounding to
 * within 0.1 u. For t <= 0 (x >= 0) erfc's condition number t g(t) is below 0.3 and the
 * factor is left at 1 (which also keeps Inf and NaN out of it). rsqrt14 (2^-14) is ample:
 * g only needs ~1e-3. */
static inline __m512 nk_gelu_f32x16(__m512 x)
{
    const __m512 c_hi = _mm512_set1_ps(NK_ACT_RSQRT2_HI), c_lo = _mm512_set1_ps(NK_ACT_RSQRT2_LO);
    const __m512 u = _mm512_mul_ps(x, c_hi);                         /* -t_hi */
    const __m512 t = _mm512_sub_ps(_mm512_setzero_ps(), u);          /* t_hi (u = 0 -> +0) */
    /* x/sqrt2 - u: the product's rounding error (exact by fma) plus x * c_lo */
    const __m512 e = _mm512_fmadd_ps(x, c_lo, _mm512_fmsub_ps(x, c_hi, u));
    const __m512 tc = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(16.0f));
    const __m512 a = _mm512_fmadd_ps(tc, tc, _mm512_set1_ps(2.0f));
    const __m512 g = _mm512_fmadd_ps(a, _mm512_rsqrt14_ps(a), tc);
    const __mmask16 pos = _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 eg = _mm512_maskz_mul_ps(pos, e, g);
    const __m512 E = Sleef_erfcf16_u15avx512f(t);
    const __m512 y = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)),
                                   _mm512_fmadd_ps(E, eg, E));
    const __mmask16 ninf = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm512_mask_blend_ps(ninf, y, _mm512_set1_ps(-0.0f));
}

static inline __m512 nk_silu_f32x16(__m512 x)
{
    const __m512 ax = _mm512_abs_ps(x);
    const __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_setzero_ps(), ax));
    const __mmask16 nonneg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    const __m512 num = _mm512_mask_blend_ps(nonneg, e, _mm512_set1_ps(1.0f));
    const __m512 s = _mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __m512 y = _mm512_mul_ps(x, s);
    const __mmask16 ninf = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm512_mask_blend_ps(ninf, y, _mm512_set1_ps(-0.0f));
}

#endif /* NORMKIT_ACT_F32__AVX512_H */
