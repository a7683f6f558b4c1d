/*
 * The activations, f32, AVX2+FMA: 8 lanes per call, no memory access. Used by the gelu and
 * silu kernels (kernels/gelu, kernels/silu) and the AVX2 linear epilogue.
 *
 *   GELU (exact): y = x/2 * erfc(-x/sqrt 2)  (= x/2 (1 + erf(x/sqrt 2)), without erf's
 *                 cancellation at negative x)
 *   SiLU:         y = x * s, s = 1/(1+e) for x >= 0, e/(1+e) for x < 0, e = exp(-|x|)
 *                 (never overflows)
 * Edges: NaN -> NaN; +Inf -> +Inf; -Inf -> -0.0 (the limit; the formulas give Inf * 0, so a
 *   mask blends it in); -0 -> -0.
 * Accuracy: SLEEF's ISA-suffixed functions, Sleef_erfcf8_u15avx2 (1.5-ULP erfc) and
 *   Sleef_expf8_u10avx2 (1.0-ULP exp), called directly (never SLEEF's dispatcher). GELU also
 *   corrects the rounding of its argument (see act_f32__avx512.h). Bounds and their
 *   derivation: docs/numerics.md, "Activations".
 */
#ifndef NORMKIT_ACT_F32__AVX2_H
#define NORMKIT_ACT_F32__AVX2_H

#include <immintrin.h>
#include <sleef.h>

#ifndef NK_ACT_RSQRT2_HI
#define NK_ACT_RSQRT2_HI 0x1.6a09e6p-1f
#define NK_ACT_RSQRT2_LO 0x1.9fcef4p-27f
#endif

/* The argument correction of act_f32__avx512.h: y = x/2 * erfc(t_hi) * (1 + e g(t_hi)), with
 * g from a correctly rounded sqrt: AVX2's rsqrt would do (g only needs ~1e-3) but its bits
 * differ between CPU vendors, and results should not. */
static inline __m256 nk_gelu_f32x8(__m256 x)
{
    const __m256 zero = _mm256_setzero_ps();
    const __m256 c_hi = _mm256_set1_ps(NK_ACT_RSQRT2_HI), c_lo = _mm256_set1_ps(NK_ACT_RSQRT2_LO);
    const __m256 u = _mm256_mul_ps(x, c_hi);
    const __m256 t = _mm256_sub_ps(zero, u);
    const __m256 e = _mm256_fmadd_ps(x, c_lo, _mm256_fmsub_ps(x, c_hi, u));
    const __m256 tc = _mm256_min_ps(_mm256_max_ps(t, zero), _mm256_set1_ps(16.0f));
    const __m256 a = _mm256_fmadd_ps(tc, tc, _mm256_set1_ps(2.0f));
    const __m256 g = _mm256_add_ps(_mm256_sqrt_ps(a), tc);
    const __m256 pos = _mm256_cmp_ps(t, zero, _CMP_GT_OQ);
    const __m256 eg = _mm256_and_ps(pos, _mm256_mul_ps(e, g));
    const __m256 E = Sleef_erfcf8_u15avx2(t);
    const __m256 y = _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)),
                                   _mm256_fmadd_ps(E, eg, E));
    const __m256 ninf = _mm256_cmp_ps(x, _mm256_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm256_blendv_ps(y, _mm256_set1_ps(-0.0f), ninf);
}

static inline __m256 nk_silu_f32x8(__m256 x)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 e = Sleef_expf8_u10avx2(_mm256_sub_ps(zero, ax));
    const __m256 nonneg = _mm256_cmp_ps(x, zero, _CMP_GE_OQ);
    const __m256 num = _mm256_blendv_ps(e, one, nonneg);
    const __m256 s = _mm256_div_ps(num, _mm256_add_ps(one, e));
    const __m256 y = _mm256_mul_ps(x, s);
    const __m256 ninf = _mm256_cmp_ps(x, _mm256_set1_ps(-__builtin_inff()), _CMP_EQ_OQ);
    return _mm256_blendv_ps(y, _mm256_set1_ps(-0.0f), ninf);
}

#endif /* NORMKIT_ACT_F32__AVX2_H */
