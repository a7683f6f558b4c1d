/*
 * normkit_layernorm_f32__neon — LayerNorm, f32, AArch64 AdvSIMD (arm_neon.h).
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta      (population variance)
 *
 * ISA: AdvSIMD, part of the AArch64 baseline (HWCAP_ASIMD); no extra compiler flags.
 * Passes: 3, the shifted corrected two-pass of layernorm_f32__scalar: mean_hi = x0 +
 *   sum(x - x0)/n; c = sum(x - mean_hi)/n, var = sum((x - mean_hi)^2)/n - c^2 clamped at 0;
 *   y = ((x - mean_hi) - c) * scale * gamma + beta, the last multiply-add fused. 16 floats per
 *   iteration in each pass; whether gamma and beta are given is decided once per row.
 * Tails: 4 floats at a time, then scalar code (fmaf, so a tail element rounds like a vector
 *   lane): NEON has no masked loads, and no access may leave the row. Aliasing: y may equal x.
 * kp: ignored; no streaming-store path (see rmsnorm_f32__neon.c).
 * Bound: the scalar one, |y - y_exact| <= (1.5n + 12) u |gamma| max|z| + 2u |y_exact| with
 *   z = (x - mean)/sqrt(var + eps) (sum depth floor(n/16) + 10). Rows that overflow, underflow
 *   or hold NaN/Inf go to normkit_layernorm_row_f64.
 * Numerics: docs/numerics.md#layernorm-three-pass, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */
#include <arm_neon.h>

#include "normkit_kernel.h"

normkit_layernorm_f32_ukernel normkit_layernorm_f32__neon;

/* Pass 3 is instantiated once per gamma/beta combination: with the flags constant the
 * per-element choice folds away, so the inner loops test nothing. */
#if defined(__GNUC__)
#define NK_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NK_ALWAYS_INLINE inline
#endif

static NK_ALWAYS_INLINE float32x4_t ln_out4(float32x4_t v, float32x4_t mh, float32x4_t c,
                                            float32x4_t s, const float *gamma, const float *beta,
                                            size_t i, int has_g, int has_b)
{
    const float32x4_t t = vmulq_f32(vsubq_f32(vsubq_f32(v, mh), c), s);
    if (has_g && has_b)
        return vfmaq_f32(vld1q_f32(beta + i), t, vld1q_f32(gamma + i));
    if (has_g)
        return vmulq_f32(t, vld1q_f32(gamma + i));
    if (has_b)
        return vaddq_f32(t, vld1q_f32(beta + i));
    return t;
}

/* gamma and beta are only indexed when their flag is set: no arithmetic on NULL. */
static NK_ALWAYS_INLINE void ln_write_row(size_t dim, const float *x, float mean_hi, float c,
                                          float scale, const float *gamma, const float *beta,
                                          float *y, int has_g, int has_b)
{
    const float32x4_t vmh = vdupq_n_f32(mean_hi), vc = vdupq_n_f32(c), vs = vdupq_n_f32(scale);
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        const float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
        vst1q_f32(y + i, ln_out4(v0, vmh, vc, vs, gamma, beta, i, has_g, has_b));
        vst1q_f32(y + i + 4, ln_out4(v1, vmh, vc, vs, gamma, beta, i + 4, has_g, has_b));
        vst1q_f32(y + i + 8, ln_out4(v2, vmh, vc, vs, gamma, beta, i + 8, has_g, has_b));
        vst1q_f32(y + i + 12, ln_out4(v3, vmh, vc, vs, gamma, beta, i + 12, has_g, has_b));
    }
    for (; i + 4 <= dim; i += 4)
        vst1q_f32(y + i, ln_out4(vld1q_f32(x + i), vmh, vc, vs, gamma, beta, i, has_g, has_b));
    for (; i < dim; i++) {
        const float t = ((x[i] - mean_hi) - c) * scale;
        y[i] = has_g && has_b ? fmaf(t, gamma[i], beta[i])
               : has_g        ? t * gamma[i]
               : has_b        ? t + beta[i]
                              : t;
    }
}

void normkit_layernorm_f32__neon(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, const float *beta, float eps, float *y,
                                 size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    const float n = (float)dim;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        const float shift = x[0];
        const float32x4_t vshift = vdupq_n_f32(shift);
        /* Four independent accumulators per sum hide the add latency; they are combined in a
         * fixed order ((a0 + a1) + (a2 + a3), across lanes, then the scalar tail). */
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 16 <= dim; i += 16) {
            a0 = vaddq_f32(a0, vsubq_f32(vld1q_f32(x + i), vshift));
            a1 = vaddq_f32(a1, vsubq_f32(vld1q_f32(x + i + 4), vshift));
            a2 = vaddq_f32(a2, vsubq_f32(vld1q_f32(x + i + 8), vshift));
            a3 = vaddq_f32(a3, vsubq_f32(vld1q_f32(x + i + 12), vshift));
        }
        for (; i + 4 <= dim; i += 4)
            a0 = vaddq_f32(a0, vsubq_f32(vld1q_f32(x + i), vshift));
        float s = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
        for (; i < dim; i++)
            s += x[i] - shift;
        const float mean_hi = shift + s / n;

        const float32x4_t vmh = vdupq_n_f32(mean_hi);
        float32x4_t p0 = vdupq_n_f32(0.0f), p1 = p0, p2 = p0, p3 = p0; /* sum(d) */
        float32x4_t q0 = p0, q1 = p0, q2 = p0, q3 = p0;                  /* sum(d^2) */
        i = 0;
        for (; i + 16 <= dim; i += 16) {
            const float32x4_t d0 = vsubq_f32(vld1q_f32(x + i), vmh);
            const float32x4_t d1 = vsubq_f32(vld1q_f32(x + i + 4), vmh);
            const float32x4_t d2 = vsubq_f32(vld1q_f32(x + i + 8), vmh);
            const float32x4_t d3 = vsubq_f32(vld1q_f32(x + i + 12), vmh);
            p0 = vaddq_f32(p0, d0);
            p1 = vaddq_f32(p1, d1);
            p2 = vaddq_f32(p2, d2);
            p3 = vaddq_f32(p3, d3);
            q0 = vfmaq_f32(q0, d0, d0);
            q1 = vfmaq_f32(q1, d1, d1);
            q2 = vfmaq_f32(q2, d2, d2);
            q3 = vfmaq_f32(q3, d3, d3);
        }
        for (; i + 4 <= dim; i += 4) {
            const float32x4_t d = vsubq_f32(vld1q_f32(x + i), vmh);
            p0 = vaddq_f32(p0, d);
            q0 = vfmaq_f32(q0, d, d);
        }
        float s1 = vaddvq_f32(vaddq_f32(vaddq_f32(p0, p1), vaddq_f32(p2, p3)));
        float s2 = vaddvq_f32(vaddq_f32(vaddq_f32(q0, q1), vaddq_f32(q2, q3)));
        for (; i < dim; i++) {
            const float d = x[i] - mean_hi;
            s1 += d;
            s2 += d * d;
        }
        const float c = s1 / n;
        float var = s2 / n - c * c;
        var = var > 0.0f ? var : 0.0f;
        if (!normkit_ln_fast_ok(mean_hi, s2, var, eps)) {
            normkit_layernorm_row_f64(dim, x, gamma, beta, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(var + eps);
        if (gamma && beta)
            ln_write_row(dim, x, mean_hi, c, scale, gamma, beta, y, 1, 1);
        else if (gamma)
            ln_write_row(dim, x, mean_hi, c, scale, gamma, beta, y, 1, 0);
        else if (beta)
            ln_write_row(dim, x, mean_hi, c, scale, gamma, beta, y, 0, 1);
        else
            ln_write_row(dim, x, mean_hi, c, scale, gamma, beta, y, 0, 0);
    }
}
