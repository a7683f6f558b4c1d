/*
 * The linear epilogue, NEON: y = act(y) * mul + add over an m x n block of finished outputs
 * (normkit_epilogue, normkit_kernel.h), applied by the NEON linear driver to each column group
 * right after its last k block. Tails go through a small stack buffer, so nothing past n is
 * read or written.
 */
#ifndef NORMKIT_EPILOGUE_F32__NEON_H
#define NORMKIT_EPILOGUE_F32__NEON_H

#include <arm_neon.h>
#include <string.h>

/* normkit-export defines NORMKIT_EXPORT_NO_ACT: exported kernels never take an
 * activation, so they need no SLEEF (the exporter removes these blocks) */
#ifndef NORMKIT_EXPORT_NO_ACT
#include "../act/act_f32__neon.h"
#endif
#include "normkit_kernel.h"

static inline float32x4_t nk_epilogue_vec__neon(const normkit_epilogue *e, float32x4_t v,
                                                const float *m, const float *a)
{
#ifndef NORMKIT_EXPORT_NO_ACT
    if (e->act == NORMKIT_ACT_GELU)
        v = nk_gelu_f32x4(v);
    else if (e->act == NORMKIT_ACT_SILU)
        v = nk_silu_f32x4(v);
#else
    (void)e;
#endif
    if (m)
        v = vmulq_f32(v, vld1q_f32(m));
    if (a)
        v = vaddq_f32(v, vld1q_f32(a));
    return v;
}

static inline void nk_epilogue_f32__neon(const normkit_epilogue *e, size_t m, size_t n, float *y,
                                         size_t ldy)
{
    for (size_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *mr = e->mul ? e->mul + i * e->ldmul : NULL;
        const float *ar = e->add ? e->add + i * e->ldadd : NULL;
        size_t j = 0;
        for (; j + 4 <= n; j += 4)
            vst1q_f32(yr + j, nk_epilogue_vec__neon(e, vld1q_f32(yr + j), mr ? mr + j : NULL,
                                                    ar ? ar + j : NULL));
        if (j < n) {
            float tv[4] = {0}, tm[4] = {0}, ta[4] = {0};
            const size_t t = n - j;
            memcpy(tv, yr + j, t * sizeof(float));
            if (mr)
                memcpy(tm, mr + j, t * sizeof(float));
            if (ar)
                memcpy(ta, ar + j, t * sizeof(float));
            vst1q_f32(tv, nk_epilogue_vec__neon(e, vld1q_f32(tv), mr ? tm : NULL, ar ? ta : NULL));
            memcpy(yr + j, tv, t * sizeof(float));
        }
    }
}

#endif
