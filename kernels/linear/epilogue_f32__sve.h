/*
 * The linear epilogue, SVE: y = act(y) * mul + add over an m x n block of finished outputs
 * (normkit_epilogue, normkit_kernel.h), applied by the SVE linear driver to each column group
 * right after its last k block. One predicated vector (svwhilelt) at a time, the last one
 * partial: inactive lanes are neither loaded nor stored, so nothing past n is read or
 * written (no stack buffer). Each output is computed on its own (act, then a multiply, then
 * an add, each rounded), so the results do not depend on the vector length.
 * SVE: only SVE files include this header, after the pragma that enables SVE (normkit-export
 * puts it inside its push/pop +sve block); elsewhere it stops the build.
 */
#ifndef NORMKIT_EPILOGUE_F32__SVE_H
#define NORMKIT_EPILOGUE_F32__SVE_H

/* only SVE code may include this (a kernel file's pragma enables SVE before the include) */
#ifndef __ARM_FEATURE_SVE
#error "include this header from an SVE file, after its #pragma GCC target(\"+sve\")"
#endif
#include <arm_sve.h>
#include <stddef.h>

/* normkit-export defines NORMKIT_EXPORT_NO_ACT: exported kernels never take an
 * activation, so they need no SLEEF (the exporter removes these blocks) */
#ifndef NORMKIT_EXPORT_NO_ACT
#include "../act/act_f32__sve.h"
#endif
#include "normkit_kernel.h"

/* pg: the lanes loaded; the others hold 0 (computed, never stored) */
static inline svfloat32_t nk_epilogue_vec__sve(const normkit_epilogue *e, svbool_t pg,
                                               svfloat32_t v, const float *m, const float *a)
{
#ifndef NORMKIT_EXPORT_NO_ACT
    if (e->act == NORMKIT_ACT_GELU)
        v = nk_gelu_f32xsv(v);
    else if (e->act == NORMKIT_ACT_SILU)
        v = nk_silu_f32xsv(v);
#else
    (void)e;
#endif
    if (m)
        v = svmul_f32_x(pg, v, svld1_f32(pg, m));
    if (a)
        v = svadd_f32_x(pg, v, svld1_f32(pg, a));
    return v;
}

static inline void nk_epilogue_f32__sve(const normkit_epilogue *e, size_t m, size_t n, float *y,
                                        size_t ldy)
{
    const size_t vl = svcntw();
    for (size_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *mr = e->mul ? e->mul + i * e->ldmul : NULL;
        const float *ar = e->add ? e->add + i * e->ldadd : NULL;
        for (size_t j = 0; j < n; j += vl) {
            const svbool_t pg = svwhilelt_b32_u64(j, n);
            svst1_f32(pg, yr + j,
                      nk_epilogue_vec__sve(e, pg, svld1_f32(pg, yr + j), mr ? mr + j : NULL,
                                           ar ? ar + j : NULL));
        }
    }
}

#endif
