/*
 * normkit_rmsnorm_f32__neon — RMSNorm, f32, AArch64 AdvSIMD (arm_neon.h).
 *
 *   y = x / sqrt(mean(x^2) + eps) * gamma
 *
 * ISA: AdvSIMD, part of the AArch64 baseline (HWCAP_ASIMD); no extra compiler flags.
 * Passes: 2 (sum of squares, then scale), 16 floats per iteration as four 4-lane vectors.
 * Tails: 4 floats at a time, then one at a time in scalar code: NEON has no masked loads, and
 *   no access may leave the row (rows can end at an unmapped page). Aliasing: y may equal x
 *   (each element is read before the same element is written).
 * kp: ignored. No streaming-store path (ACLE has no intrinsic for STNP, which is only a hint
 *   anyway); the registry's default for this variant is "never stream".
 * Bound: the scalar one, |y - y_exact| <= (n/2 + 6) u |y_exact| (sum depth floor(n/16) + 10).
 *   Rows that overflow, underflow or hold NaN/Inf go to normkit_rmsnorm_row_f64.
 * Numerics: docs/numerics.md#rmsnorm, #summation-depth, #rare-path. Contract: normkit_kernels.h.
 */
#include <arm_neon.h>

#include "normkit_kernel.h"

normkit_rmsnorm_f32_ukernel normkit_rmsnorm_f32__neon;

void normkit_rmsnorm_f32__neon(size_t rows, size_t dim, const float *x, size_t ldx,
                               const float *gamma, float eps, float *y, size_t ldy,
                               const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        /* Four independent accumulators hide the FMA latency. They are combined in a fixed
         * order ((a0 + a1) + (a2 + a3), across lanes, then the scalar tail), so results do not
         * depend on alignment. */
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 16 <= dim; i += 16) {
            const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
            const float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
            a0 = vfmaq_f32(a0, v0, v0);
            a1 = vfmaq_f32(a1, v1, v1);
            a2 = vfmaq_f32(a2, v2, v2);
            a3 = vfmaq_f32(a3, v3, v3);
        }
        for (; i + 4 <= dim; i += 4) {
            const float32x4_t v = vld1q_f32(x + i);
            a0 = vfmaq_f32(a0, v, v);
        }
        float ss = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
        for (; i < dim; i++)
            ss += x[i] * x[i];
        if (!normkit_rms_fast_ok(ss, eps)) {
            normkit_rmsnorm_row_f64(dim, x, gamma, eps, y);
            continue;
        }
        /* Computed exactly as in the scalar variant (no vrsqrte estimate). */
        const float scale = 1.0f / sqrtf(ss / (float)dim + eps);
        const float32x4_t vs = vdupq_n_f32(scale);
        /* (x * scale) * gamma, in scalar's order, so both variants round alike. */
        i = 0;
        if (gamma) {
            for (; i + 16 <= dim; i += 16) {
                const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
                const float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
                vst1q_f32(y + i, vmulq_f32(vmulq_f32(v0, vs), vld1q_f32(gamma + i)));
                vst1q_f32(y + i + 4, vmulq_f32(vmulq_f32(v1, vs), vld1q_f32(gamma + i + 4)));
                vst1q_f32(y + i + 8, vmulq_f32(vmulq_f32(v2, vs), vld1q_f32(gamma + i + 8)));
                vst1q_f32(y + i + 12, vmulq_f32(vmulq_f32(v3, vs), vld1q_f32(gamma + i + 12)));
            }
            for (; i + 4 <= dim; i += 4)
                vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(gamma + i)));
            for (; i < dim; i++)
                y[i] = x[i] * scale * gamma[i];
        } else {
            for (; i + 16 <= dim; i += 16) {
                const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
                const float32x4_t v2 = vld1q_f32(x + i + 8), v3 = vld1q_f32(x + i + 12);
                vst1q_f32(y + i, vmulq_f32(v0, vs));
                vst1q_f32(y + i + 4, vmulq_f32(v1, vs));
                vst1q_f32(y + i + 8, vmulq_f32(v2, vs));
                vst1q_f32(y + i + 12, vmulq_f32(v3, vs));
            }
            for (; i + 4 <= dim; i += 4)
                vst1q_f32(y + i, vmulq_f32(vld1q_f32(x + i), vs));
            for (; i < dim; i++)
                y[i] = x[i] * scale;
        }
    }
}
