/*
 * normkit_rmsnorm_f32__avx512_u2_acc8 — RMSNorm, f32, AVX-512F (built with F+BW+VL+DQ, AVX2, FMA; the
 * dispatcher checks OS ZMM/opmask state).
 *
 *   y = x / sqrt(mean(x^2) + eps) * gamma
 *
 * Passes: 2 per row (sum of squares, then scale); pass 2 re-reads the row from L1/L2, so memory
 *   sees x once and y once. Short rows are software-pipelined (see nk_rmsnorm).
 * Tails: opmask loads/stores (vmovups {k}); masked-off lanes never fault and load as exact zeros,
 *   so no access leaves the row and dims below 16 need no scalar loop.
 * Aliasing: y may equal x (each vector of x is read before the same lanes of y are written).
 * kp: selects a memory mode per call (see nk_mode).
 * Bound: |y - y_exact| <= (n/2 + 6) u |y_exact|, as the scalar variant (sum depth
 *   floor(n/128) + 10). Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64.
 * Numerics: docs/numerics.md#rmsnorm, #summation-depth, #rare-path. Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_rmsnorm_f32_ukernel normkit_rmsnorm_f32__avx512_u2_acc8;

enum {
    /* Vectors per iteration of the scale pass (bounded by one store per cycle, not by
     * latency): 4 amortizes the loop overhead. */
    NK_UNROLL = 4,
    /* Rows up to this long are software-pipelined: two rows of x, one of y and gamma still
     * fit in a 48 KiB L1. Longer rows gain nothing from it and lose L1 hits in pass 2. */
    NK_PIPELINE_MAX_DIM = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL):
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 64-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence; the scale pass prefetches (prefetcht1, into L2) the next row of x
 *    that pass 1 has not read yet, so DRAM keeps reading while the core works from cache;
 *  - NK_PREFETCH, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht0) the row of y that pass 2 will write. The lines arrive in L1 (Exclusive when
 *    no other core holds them), so fetching them (the read-for-ownership pass 2's stores would
 *    otherwise wait for) overlaps pass 1 instead of stalling every store of pass 2;
 *  - NK_CACHED otherwise: no prefetching, which would only cost load slots. */
typedef enum { NK_CACHED, NK_PREFETCH, NK_STREAM } nk_mode;

#define NK_INLINE static inline __attribute__((always_inline))
#define NK_UNROLL_ALL _Pragma("GCC unroll 16")

/* The low n lanes, n in [0, 16]. */
NK_INLINE __mmask16 nk_mask(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* sum(x^2); in NK_PREFETCH mode it also prefetches y's row (see nk_mode).
 * 8 accumulators of fma(x, x, acc): FMA has 4 cycles of latency on two ports and two loads per
 * cycle feed it, so 8 chains keep pass 1 at 2 vectors per cycle from L1. They are combined in a
 * fixed tree, then the 16 lanes by a fixed shuffle tree: the result depends only on the data
 * and dim, never on alignment or mode.
 * Eight named accumulators rather than an array: GCC kept an array in memory as soon as the
 * remainder code below updated it conditionally. */
NK_INLINE float nk_sumsq(size_t dim, const float *x, const float *y, nk_mode mode)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t i = 0;
    for (; i + 128 <= dim; i += 128) {
        if (mode == NK_PREFETCH)
            for (size_t k = 0; k < 128; k += 16)
                _mm_prefetch((const char *)(y + i + k), _MM_HINT_T0);
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        const __m512 v4 = _mm512_loadu_ps(x + i + 64), v5 = _mm512_loadu_ps(x + i + 80);
        const __m512 v6 = _mm512_loadu_ps(x + i + 96), v7 = _mm512_loadu_ps(x + i + 112);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
        a2 = _mm512_fmadd_ps(v2, v2, a2);
        a3 = _mm512_fmadd_ps(v3, v3, a3);
        a4 = _mm512_fmadd_ps(v4, v4, a4);
        a5 = _mm512_fmadd_ps(v5, v5, a5);
        a6 = _mm512_fmadd_ps(v6, v6, a6);
        a7 = _mm512_fmadd_ps(v7, v7, a7);
    }
    /* The rest, under 128 elements: pairs into a0/a1 (at most 3), one vector into a2, and the
     * last dim % 16 under a mask into a3 (a masked-off lane loads an exact zero). */
    for (; i + 32 <= dim; i += 32) {
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        a0 = _mm512_fmadd_ps(v0, v0, a0);
        a1 = _mm512_fmadd_ps(v1, v1, a1);
    }
    if (i + 16 <= dim) {
        const __m512 v = _mm512_loadu_ps(x + i);
        a2 = _mm512_fmadd_ps(v, v, a2);
        i += 16;
    }
    if (i < dim) {
        const __m512 v = _mm512_maskz_loadu_ps(nk_mask(dim - i), x + i);
        a3 = _mm512_fmadd_ps(v, v, a3);
    }
    /* A fixed tree, then a fixed shuffle tree over the 16 lanes. */
    a0 = _mm512_add_ps(a0, a4);
    a1 = _mm512_add_ps(a1, a5);
    a2 = _mm512_add_ps(a2, a6);
    a3 = _mm512_add_ps(a3, a7);
    a0 = _mm512_add_ps(a0, a2);
    a1 = _mm512_add_ps(a1, a3);
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* y[i..i+16): x * scale, times gamma (rounded twice, as in the scalar variant). */
NK_INLINE __m512 nk_out(const float *x, const float *gamma, size_t i, __m512 vscale, int has_gamma)
{
    const __m512 t = _mm512_mul_ps(_mm512_loadu_ps(x + i), vscale);
    return has_gamma ? _mm512_mul_ps(t, _mm512_loadu_ps(gamma + i)) : t;
}

NK_INLINE __m512 nk_out_masked(const float *x, const float *gamma, size_t i, __m512 vscale,
                               __mmask16 m, int has_gamma)
{
    const __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vscale);
    return has_gamma ? _mm512_mul_ps(t, _mm512_maskz_loadu_ps(m, gamma + i)) : t;
}

/* y = x * scale * gamma over one row; in NK_STREAM mode, also prefetches the row at pf. */
NK_INLINE void nk_scale_row(size_t dim, const float *x, const float *gamma, float scale, float *y,
                            const float *pf, int has_gamma, nk_mode mode)
{
    const int stream = mode == NK_STREAM;
    const __m512 vscale = _mm512_set1_ps(scale);
    size_t i = 0;
    if (stream) {
        /* Up to the first 64-byte boundary of y, so every full vector below streams whole
         * cache lines. */
        size_t head = ((0u - (uintptr_t)y) & 63u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __mmask16 m = nk_mask(head);
            _mm512_mask_storeu_ps(y, m, nk_out_masked(x, gamma, 0, vscale, m, has_gamma));
            i = head;
        }
    }
    for (; i + 16 * NK_UNROLL <= dim; i += 16 * NK_UNROLL) {
        NK_UNROLL_ALL
        for (int k = 0; k < NK_UNROLL; k++) {
            const __m512 v = nk_out(x, gamma, i + 16 * k, vscale, has_gamma);
            if (stream) {
                _mm_prefetch((const char *)(pf + i + 16 * k), _MM_HINT_T1);
                _mm512_stream_ps(y + i + 16 * k, v);
            } else {
                _mm512_storeu_ps(y + i + 16 * k, v);
            }
        }
    }
    for (; i + 16 <= dim; i += 16) {
        const __m512 v = nk_out(x, gamma, i, vscale, has_gamma);
        if (stream)
            _mm512_stream_ps(y + i, v);
        else
            _mm512_storeu_ps(y + i, v);
    }
    if (i < dim) {
        const __mmask16 m = nk_mask(dim - i);
        _mm512_mask_storeu_ps(y + i, m, nk_out_masked(x, gamma, i, vscale, m, has_gamma));
    }
}

/* The rare path, out of line: one cold copy instead of one per instance. */
static __attribute__((noinline, cold)) void nk_rare_row(size_t dim, const float *x,
                                                        const float *gamma, float eps, float *y)
{
    normkit_rmsnorm_row_f64(dim, x, gamma, eps, y);
}

NK_INLINE void nk_finish_row(size_t dim, const float *x, const float *gamma, float eps, float *y,
                             float ss, const float *pf, int has_gamma, nk_mode mode)
{
    /* The scale is rounded as in the scalar variant (no rsqrt estimate). */
    if (normkit_rms_fast_ok(ss, eps))
        nk_scale_row(dim, x, gamma, 1.0f / sqrtf(ss / (float)dim + eps), y, pf, has_gamma, mode);
    else
        nk_rare_row(dim, x, gamma, eps, y);
}

/* One instance per (gamma, mode) pair, so neither is tested inside a loop. */
NK_INLINE void nk_rmsnorm(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                          float eps, float *y, size_t ldy, int has_gamma, nk_mode mode)
{
    if (dim <= NK_PIPELINE_MAX_DIM) {
        /* Software-pipelined by one row: the sum of squares of row+1 is issued before row is
         * scaled, so its reduction and the scalar divide/sqrt/divide chain (~80 cycles, about
         * as long as scaling a 768-element row) overlap the scaling of row instead of stalling
         * it (-12% time at 768 x 64). */
        float ss = nk_sumsq(dim, x, y, mode);
        for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
            const float ss_next = row + 1 < rows ? nk_sumsq(dim, x + ldx, y + ldy, mode) : 0.0f;
            nk_finish_row(dim, x, gamma, eps, y, ss, row + 2 < rows ? x + 2 * ldx : x, has_gamma,
                          mode);
            ss = ss_next;
        }
    } else {
        for (size_t row = 0; row < rows; row++, x += ldx, y += ldy)
            nk_finish_row(dim, x, gamma, eps, y, nk_sumsq(dim, x, y, mode),
                          row + 1 < rows ? x + ldx : x, has_gamma, mode);
    }
    if (mode == NK_STREAM)
        _mm_sfence(); /* order the weakly-ordered streaming stores before any later store */
}

void normkit_rmsnorm_f32__avx512_u2_acc8(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, float eps, float *y, size_t ldy,
                                 const normkit_kparams *kp)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    const nk_mode mode = kp && bytes >= kp->nt_min_bytes ? NK_STREAM
                         : kp && bytes >= kp->dram_min_bytes ? NK_PREFETCH
                                                          : NK_CACHED;
    switch (mode) {
    case NK_STREAM:
        if (gamma) nk_rmsnorm(rows, dim, x, ldx, gamma, eps, y, ldy, 1, NK_STREAM);
        else       nk_rmsnorm(rows, dim, x, ldx, NULL, eps, y, ldy, 0, NK_STREAM);
        break;
    case NK_PREFETCH:
        if (gamma) nk_rmsnorm(rows, dim, x, ldx, gamma, eps, y, ldy, 1, NK_PREFETCH);
        else       nk_rmsnorm(rows, dim, x, ldx, NULL, eps, y, ldy, 0, NK_PREFETCH);
        break;
    default:
        if (gamma) nk_rmsnorm(rows, dim, x, ldx, gamma, eps, y, ldy, 1, NK_CACHED);
        else       nk_rmsnorm(rows, dim, x, ldx, NULL, eps, y, ldy, 0, NK_CACHED);
        break;
    }
}
