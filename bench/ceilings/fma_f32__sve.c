/*
 * Peak FMA throughput with SVE, at whatever vector length the machine has (lanes asked at run
 * time): 16 independent z-register accumulators, as the NEON ceiling (FMA latency 4 x up to
 * 4 pipes), which with m and k fit in the 32 vector registers.
 */
#pragma GCC target("+sve")
#include <arm_sve.h>

#include "ceilings.h"

static unsigned lanes_sve(void)
{
    return (unsigned)svcntw();
}

static float fma_sve(size_t iters)
{
    const svbool_t t = svptrue_b32();
    const svfloat32_t m = svdup_n_f32(1.0f - 0x1p-20f), k = svdup_n_f32(0x1p-10f);
    svfloat32_t a0 = svdup_n_f32(1), a1 = svdup_n_f32(2), a2 = svdup_n_f32(3), a3 = svdup_n_f32(4);
    svfloat32_t a4 = svdup_n_f32(5), a5 = svdup_n_f32(6), a6 = svdup_n_f32(7), a7 = svdup_n_f32(8);
    svfloat32_t a8 = svdup_n_f32(9), a9 = svdup_n_f32(10), a10 = svdup_n_f32(11);
    svfloat32_t a11 = svdup_n_f32(12), a12 = svdup_n_f32(13), a13 = svdup_n_f32(14);
    svfloat32_t a14 = svdup_n_f32(15), a15 = svdup_n_f32(16);
    for (size_t i = 0; i < iters; i++) {
        a0 = svmad_f32_x(t, a0, m, k);
        a1 = svmad_f32_x(t, a1, m, k);
        a2 = svmad_f32_x(t, a2, m, k);
        a3 = svmad_f32_x(t, a3, m, k);
        a4 = svmad_f32_x(t, a4, m, k);
        a5 = svmad_f32_x(t, a5, m, k);
        a6 = svmad_f32_x(t, a6, m, k);
        a7 = svmad_f32_x(t, a7, m, k);
        a8 = svmad_f32_x(t, a8, m, k);
        a9 = svmad_f32_x(t, a9, m, k);
        a10 = svmad_f32_x(t, a10, m, k);
        a11 = svmad_f32_x(t, a11, m, k);
        a12 = svmad_f32_x(t, a12, m, k);
        a13 = svmad_f32_x(t, a13, m, k);
        a14 = svmad_f32_x(t, a14, m, k);
        a15 = svmad_f32_x(t, a15, m, k);
    }
    a0 = svadd_f32_x(t, svadd_f32_x(t, svadd_f32_x(t, a0, a1), svadd_f32_x(t, a2, a3)),
                     svadd_f32_x(t, svadd_f32_x(t, a4, a5), svadd_f32_x(t, a6, a7)));
    a8 = svadd_f32_x(t, svadd_f32_x(t, svadd_f32_x(t, a8, a9), svadd_f32_x(t, a10, a11)),
                     svadd_f32_x(t, svadd_f32_x(t, a12, a13), svadd_f32_x(t, a14, a15)));
    return svaddv_f32(t, svadd_f32_x(t, a0, a8));
}

extern const nkb_fma_ceiling nkb_fma_f32__sve;
const nkb_fma_ceiling nkb_fma_f32__sve = {0, 16, 1, fma_sve, lanes_sve};
