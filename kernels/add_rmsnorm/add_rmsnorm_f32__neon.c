/*
 * normkit_add_rmsnorm_f32__neon — post-norm Add & RMSNorm, f32, AArch64 AdvSIMD (arm_neon.h).
 *
 *   h = x + r;  r <- h;  y = h / sqrt(mean(h^2) + eps) * gamma
 *
 * ISA: AdvSIMD, part of the AArch64 baseline (HWCAP_ASIMD); no extra compiler flags.
 * Passes: 2. The first adds (one IEEE addition per element, so r matches the scalar variant
 *   bit for bit), stores h into r and sums squares; the second reads h back from r (just
 *   written, so still in cache) and scales. 16 floats per iteration.
 * Tails: 4 floats at a time, then scalar code: NEON has no masked loads, and no access may
 *   leave the row. Aliasing: y may equal x (x is dead after pass 1); y must not overlap r.
 * kp: ignored; no streaming-store path (see rmsnorm_f32__neon.c).
 * Bound: as rmsnorm_f32__neon on h: |y - y_exact(h)| <= (n/2 + 6) u |y_exact(h)| (four vector
 *   accumulators in a fixed order; sum depth floor(n/16) + 10). Rows that overflow, underflow
 *   or hold NaN/Inf go to normkit_rmsnorm_row_f64 (on h, in r).
 * Numerics: docs/numerics.md#add-and-norm, #rmsnorm, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */
#include <arm_neon.h>

#include "normkit_kernel.h"

normkit_add_rmsnorm_f32_ukernel normkit_add_rmsnorm_f32__neon;

void normkit_add_rmsnorm_f32__neon(size_t rows, size_t dim, const float *x, size_t ldx, float *r,
                                   size_t ldr, const float *gamma, float eps, float *y, size_t ldy,
                                   const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 16 <= dim; i += 16) {
            const float32x4_t h0 = vaddq_f32(vld1q_f32(x + i), vld1q_f32(r + i));
            const float32x4_t h1 = vaddq_f32(vld1q_f32(x + i + 4), vld1q_f32(r + i + 4));
            const float32x4_t h2 = vaddq_f32(vld1q_f32(x + i + 8), vld1q_f32(r + i + 8));
            const float32x4_t h3 = vaddq_f32(vld1q_f32(x + i + 12), vld1q_f32(r + i + 12));
            vst1q_f32(r + i, h0);
            vst1q_f32(r + i + 4, h1);
            vst1q_f32(r + i + 8, h2);
            vst1q_f32(r + i + 12, h3);
            a0 = vfmaq_f32(a0, h0, h0);
            a1 = vfmaq_f32(a1, h1, h1);
            a2 = vfmaq_f32(a2, h2, h2);
            a3 = vfmaq_f32(a3, h3, h3);
        }
        for (; i + 4 <= dim; i += 4) {
            const float32x4_t h = vaddq_f32(vld1q_f32(x + i), vld1q_f32(r + i));
            vst1q_f32(r + i, h);
            a0 = vfmaq_f32(a0, h, h);
        }
        float ss = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
        for (; i < dim; i++) {
            const float h = x[i] + r[i];
            r[i] = h;
            ss += h * h;
        }
        if (!normkit_rms_fast_ok(ss, eps)) {
            normkit_rmsnorm_row_f64(dim, r, gamma, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(ss / (float)dim + eps);
        const float32x4_t vs = vdupq_n_f32(scale);
        i = 0;
        if (gamma) {
            for (; i + 16 <= dim; i += 16) {
                const float32x4_t h0 = vld1q_f32(r + i), h1 = vld1q_f32(r + i + 4);
                const float32x4_t h2 = vld1q_f32(r + i + 8), h3 = vld1q_f32(r + i + 12);
                vst1q_f32(y + i, vmulq_f32(vmulq_f32(h0, vs), vld1q_f32(gamma + i)));
                vst1q_f32(y + i + 4, vmulq_f32(vmulq_f32(h1, vs), vld1q_f32(gamma + i + 4)));
                vst1q_f32(y + i + 8, vmulq_f32(vmulq_f32(h2, vs), vld1q_f32(gamma + i + 8)));
                vst1q_f32(y + i + 12, vmulq_f32(vmulq_f32(h3, vs), vld1q_f32(gamma + i + 12)));
            }
            for (; i + 4 <= dim; i += 4)
                vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(r + i), vs), vld1q_f32(gamma + i)));
            for (; i < dim; i++)
                y[i] = r[i] * scale * gamma[i];
        } else {
            for (; i + 16 <= dim; i += 16) {
                const float32x4_t h0 = vld1q_f32(r + i), h1 = vld1q_f32(r + i + 4);
                const float32x4_t h2 = vld1q_f32(r + i + 8), h3 = vld1q_f32(r + i + 12);
                vst1q_f32(y + i, vmulq_f32(h0, vs));
                vst1q_f32(y + i + 4, vmulq_f32(h1, vs));
                vst1q_f32(y + i + 8, vmulq_f32(h2, vs));
                vst1q_f32(y + i + 12, vmulq_f32(h3, vs));
            }
            for (; i + 4 <= dim; i += 4)
                vst1q_f32(y + i, vmulq_f32(vld1q_f32(r + i), vs));
            for (; i < dim; i++)
                y[i] = r[i] * scale;
        }
    }
}
