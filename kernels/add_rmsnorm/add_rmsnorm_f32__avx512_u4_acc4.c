/*
 * normkit_add_rmsnorm_f32__avx512_u4_acc4 — post-norm Add & RMSNorm, f32, AVX-512F (built with
 * F+BW+VL+DQ, AVX2, FMA; the dispatcher checks OS ZMM/opmask state).
 *
 *   h = x + r;  r <- h;  y = h / sqrt(mean(h^2) + eps) * gamma
 *
 * Passes: 2 per row. The first adds (one IEEE addition per element, so r holds fl(x + r) bit
 *   for bit), stores h into r and sums squares; the second reads h back from r (just written,
 *   so still in L1/L2) and scales: memory sees x and r read once, r and y written once. Short
 *   rows are software-pipelined (see nk_add_rmsnorm).
 * Tails: opmask loads/stores; masked-off lanes never fault and load as exact zeros, so no
 *   access leaves the row and dims below 16 need no scalar loop.
 * Aliasing: y may equal x (x is dead after pass 1); y must not overlap r.
 * kp: selects a memory mode per call (see nk_mode).
 * Bound: |y - y_exact(h)| <= (n/2 + 6) u |y_exact(h)|, as the scalar variant (sum depth
 *   ceil(n/64) + 6). Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64 (on h, already in r).
 * Numerics: docs/numerics.md#add-and-norm, #rmsnorm, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_add_rmsnorm_f32_ukernel normkit_add_rmsnorm_f32__avx512_u4_acc4;

enum {
    /* Vectors per iteration of the scale pass (bounded by one store per cycle). */
    NK_UNROLL = 4,
    /* Rows up to this long are software-pipelined (as rmsnorm_f32__avx512). */
    NK_PIPELINE_MAX_DIM = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL),
 * as rmsnorm_f32__avx512.c:
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 64-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence; the scale pass prefetches (prefetcht1, into L2) the next rows of x
 *    and r that pass 1 has not read yet. r is always written with ordinary stores: pass 2
 *    reads it straight back;
 *  - NK_PREFETCH, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht0, into L1) the row of y, so fetching its lines (the read-for-ownership pass 2's
 *    stores would otherwise wait for) overlaps pass 1 instead of stalling the stores of pass 2;
 *  - NK_CACHED otherwise: no prefetching. */
typedef enum { NK_CACHED, NK_PREFETCH, NK_STREAM } nk_mode;

#define NK_INLINE static inline __attribute__((always_inline))
#define NK_UNROLL_ALL _Pragma("GCC unroll 16")

/* The low n lanes, n in [0, 16]. */
NK_INLINE __mmask16 nk_mask(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* h = x + r into r; returns h. */
NK_INLINE __m512 nk_add(const float *x, float *r, size_t i)
{
    const __m512 h = _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(r + i));
    _mm512_storeu_ps(r + i, h);
    return h;
}

/* r <- h = x + r; returns sum(h^2). In NK_PREFETCH mode it also prefetches y's row.
 * Four named accumulators rather than an array: GCC kept an array in memory as soon as the
 * remainder code below updated it conditionally. Pass 1 stores one vector of h per cycle at
 * best, so 4 chains cover the 4-cycle FMA latency. They are combined in a fixed tree, then the
 * 16 lanes by a fixed shuffle tree (results depend only on the data and dim). */
NK_INLINE float nk_add_sumsq(size_t dim, const float *x, float *r, const float *y, nk_mode mode)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        if (mode == NK_PREFETCH)
            for (size_t k = 0; k < 64; k += 16)
                _mm_prefetch((const char *)(y + i + k), _MM_HINT_T0);
        const __m512 h0 = nk_add(x, r, i), h1 = nk_add(x, r, i + 16);
        const __m512 h2 = nk_add(x, r, i + 32), h3 = nk_add(x, r, i + 48);
        a0 = _mm512_fmadd_ps(h0, h0, a0);
        a1 = _mm512_fmadd_ps(h1, h1, a1);
        a2 = _mm512_fmadd_ps(h2, h2, a2);
        a3 = _mm512_fmadd_ps(h3, h3, a3);
    }
    /* The rest, under 64 elements: a pair, a vector, then the last dim % 16 under a mask
     * (nothing outside the row is read or written; masked-off lanes add exact zeros). */
    if (i + 32 <= dim) {
        const __m512 h0 = nk_add(x, r, i), h1 = nk_add(x, r, i + 16);
        a0 = _mm512_fmadd_ps(h0, h0, a0);
        a1 = _mm512_fmadd_ps(h1, h1, a1);
        i += 32;
    }
    if (i + 16 <= dim) {
        const __m512 h = nk_add(x, r, i);
        a2 = _mm512_fmadd_ps(h, h, a2);
        i += 16;
    }
    if (i < dim) {
        const __mmask16 m = nk_mask(dim - i);
        const __m512 h =
            _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, r + i));
        _mm512_mask_storeu_ps(r + i, m, h);
        a3 = _mm512_fmadd_ps(h, h, a3);
    }
    /* A fixed tree, then a fixed shuffle tree over the 16 lanes. */
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
}

/* y[i..i+16): h * scale, times gamma (rounded twice, as in the scalar variant). */
NK_INLINE __m512 nk_out(const float *h, const float *gamma, size_t i, __m512 vscale, int has_gamma)
{
    const __m512 t = _mm512_mul_ps(_mm512_loadu_ps(h + i), vscale);
    return has_gamma ? _mm512_mul_ps(t, _mm512_loadu_ps(gamma + i)) : t;
}

NK_INLINE __m512 nk_out_masked(const float *h, const float *gamma, size_t i, __m512 vscale,
                               __mmask16 m, int has_gamma)
{
    const __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, h + i), vscale);
    return has_gamma ? _mm512_mul_ps(t, _mm512_maskz_loadu_ps(m, gamma + i)) : t;
}

/* y = h * scale * gamma over one row; in NK_STREAM mode, also prefetches the rows at pfx, pfr. */
NK_INLINE void nk_scale_row(size_t dim, const float *h, const float *gamma, float scale, float *y,
                            const float *pfx, const float *pfr, int has_gamma, nk_mode mode)
{
    const int stream = mode == NK_STREAM;
    const __m512 vscale = _mm512_set1_ps(scale);
    size_t i = 0;
    if (stream) {
        /* Up to the first 64-byte boundary of y, so the full vectors below stream whole lines. */
        size_t head = ((0u - (uintptr_t)y) & 63u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __mmask16 m = nk_mask(head);
            _mm512_mask_storeu_ps(y, m, nk_out_masked(h, gamma, 0, vscale, m, has_gamma));
            i = head;
        }
    }
    for (; i + 16 * NK_UNROLL <= dim; i += 16 * NK_UNROLL) {
        NK_UNROLL_ALL
        for (int k = 0; k < NK_UNROLL; k++) {
            const size_t j = i + 16 * (size_t)k;
            const __m512 v = nk_out(h, gamma, j, vscale, has_gamma);
            if (stream) {
                _mm_prefetch((const char *)(pfx + j), _MM_HINT_T1);
                _mm_prefetch((const char *)(pfr + j), _MM_HINT_T1);
                _mm512_stream_ps(y + j, v);
            } else {
                _mm512_storeu_ps(y + j, v);
            }
        }
    }
    for (; i + 16 <= dim; i += 16) {
        const __m512 v = nk_out(h, gamma, i, vscale, has_gamma);
        if (stream)
            _mm512_stream_ps(y + i, v);
        else
            _mm512_storeu_ps(y + i, v);
    }
    if (i < dim) {
        const __mmask16 m = nk_mask(dim - i);
        _mm512_mask_storeu_ps(y + i, m, nk_out_masked(h, gamma, i, vscale, m, has_gamma));
    }
}

/* The rare path, out of line: one cold copy instead of one per instance. */
static __attribute__((noinline, cold)) void nk_rare_row(size_t dim, const float *h,
                                                        const float *gamma, float eps, float *y)
{
    normkit_rmsnorm_row_f64(dim, h, gamma, eps, y);
}

NK_INLINE void nk_finish_row(size_t dim, const float *h, const float *gamma, float eps, float *y,
                             float ss, const float *pfx, const float *pfr, int has_gamma,
                             nk_mode mode)
{
    /* The scale is rounded as in the scalar variant (no rsqrt estimate). */
    if (normkit_rms_fast_ok(ss, eps))
        nk_scale_row(dim, h, gamma, 1.0f / sqrtf(ss / (float)dim + eps), y, pfx, pfr, has_gamma,
                     mode);
    else
        nk_rare_row(dim, h, gamma, eps, y);
}

/* One instance per (gamma, mode) pair, so neither is tested inside a loop. */
NK_INLINE void nk_add_rmsnorm(size_t rows, size_t dim, const float *x, size_t ldx, float *r,
                              size_t ldr, const float *gamma, float eps, float *y, size_t ldy,
                              int has_gamma, nk_mode mode)
{
    if (dim <= NK_PIPELINE_MAX_DIM) {
        /* Software-pipelined by one row: pass 1 of row+1 is issued before row is scaled, so its
         * reduction and the scalar divide/sqrt/divide chain overlap the scaling of row. Row+1's
         * x and r are disjoint from row's y, whether or not y == x. */
        float ss = nk_add_sumsq(dim, x, r, y, mode);
        for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
            const float ss_next =
                row + 1 < rows ? nk_add_sumsq(dim, x + ldx, r + ldr, y + ldy, mode) : 0.0f;
            const int pf = row + 2 < rows;
            nk_finish_row(dim, r, gamma, eps, y, ss, pf ? x + 2 * ldx : x, pf ? r + 2 * ldr : r,
                          has_gamma, mode);
            ss = ss_next;
        }
    } else {
        for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
            const float ss = nk_add_sumsq(dim, x, r, y, mode);
            const int pf = row + 1 < rows;
            nk_finish_row(dim, r, gamma, eps, y, ss, pf ? x + ldx : x, pf ? r + ldr : r, has_gamma,
                          mode);
        }
    }
    if (mode == NK_STREAM)
        _mm_sfence(); /* order the weakly-ordered streaming stores before any later store */
}

void normkit_add_rmsnorm_f32__avx512_u4_acc4(size_t rows, size_t dim, const float *x, size_t ldx, float *r,
                                     size_t ldr, const float *gamma, float eps, float *y,
                                     size_t ldy, const normkit_kparams *kp)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    const nk_mode mode = kp && bytes >= kp->nt_min_bytes ? NK_STREAM
                         : kp && bytes >= kp->dram_min_bytes ? NK_PREFETCH
                                                          : NK_CACHED;
    switch (mode) {
    case NK_STREAM:
        if (gamma) nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, gamma, eps, y, ldy, 1, NK_STREAM);
        else       nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, NULL, eps, y, ldy, 0, NK_STREAM);
        break;
    case NK_PREFETCH:
        if (gamma) nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, gamma, eps, y, ldy, 1, NK_PREFETCH);
        else       nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, NULL, eps, y, ldy, 0, NK_PREFETCH);
        break;
    default:
        if (gamma) nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, gamma, eps, y, ldy, 1, NK_CACHED);
        else       nk_add_rmsnorm(rows, dim, x, ldx, r, ldr, NULL, eps, y, ldy, 0, NK_CACHED);
        break;
    }
}
