/*
 * normkit_layernorm_f32__avx512_u4_acc8 — LayerNorm, f32, AVX-512F (built with F+BW+VL+DQ, AVX2, FMA;
 * the dispatcher checks OS ZMM/opmask state).
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta      (population variance)
 *
 * Passes: 2 per row when one statistics pass about x0 provably suffices, else 3 (the corrected
 *   two-pass of layernorm_f32__scalar.c): see nk_row_stats. The output pass computes
 *   fma(x - mean_hi, scale, -c*scale) * gamma + beta with FMAs. The row is re-read from L1/L2,
 *   so memory sees x once and y once either way. Short rows are software-pipelined.
 * Tails: opmask loads/stores; masked-off lanes never fault, and contribute exact zeros to the
 *   sums, so no access leaves the row and dims below 16 need no scalar loop.
 * Aliasing: y may equal x (the output pass reads each vector of x before writing the same
 *   lanes of y; pipelining reads row+1 before writing row). kp: memory modes (nk_mode).
 * Bound: |y - y_exact| <= (1.5n + 12) u |gamma| max|z| + 2u |y_exact|, z = (x - mean)/sqrt(var +
 *   eps), as the scalar variant (sum depth ceil(n/64) + 6). Rows that overflow, underflow or
 *   hold NaN/Inf go to normkit_layernorm_row_f64; constant rows give d = 0 exactly.
 * Numerics: docs/numerics.md#layernorm-one-pass (the criterion and its proof),
 *   #layernorm-three-pass, #summation-depth, #rare-path. Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_layernorm_f32_ukernel normkit_layernorm_f32__avx512_u4_acc8;

enum {
    /* Vectors per iteration of the output pass (bounded by ports, not latency). */
    NK_UNROLL = 4,
    /* One statistics pass suffices when x0 is near the mean (docs/numerics.md) and the row is
     * long enough for the blocked sums' error to leave room in the bound. */
    NK_ONEPASS_MIN_DIM = 128,
    NK_ONEPASS_MAX_DIM = 1 << 20,
    /* Rows up to this long are software-pipelined: two rows of x, one of y, gamma and beta
     * still fit in a 48 KiB L1. Longer rows gain nothing from it and lose L1 hits. */
    NK_PIPELINE_MAX_DIM = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL),
 * as rmsnorm_f32__avx512.c:
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 64-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence; the output pass prefetches (prefetcht1, into L2) the next row of x
 *    that pass 1 has not read yet;
 *  - NK_PREFETCH, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht0, into L1) the row of y, so fetching its lines (the read-for-ownership the
 *    output stores would otherwise wait for) overlaps pass 1 instead of stalling them;
 *  - NK_CACHED otherwise: no prefetching. */
typedef enum { NK_CACHED, NK_PREFETCH, NK_STREAM } nk_mode;

#define NK_INLINE static inline __attribute__((always_inline))
#define NK_UNROLL_ALL _Pragma("GCC unroll 16")

/* The low n lanes, n in [0, 16]. */
NK_INLINE __mmask16 nk_mask(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* One deviation vector into a (sum, sum of squares) pair of accumulators. */
NK_INLINE void nk_acc(__m512 d, __m512 *s, __m512 *q)
{
    *s = _mm512_add_ps(*s, d);
    *q = _mm512_fmadd_ps(d, d, *q);
}

/* A fixed tree over the four accumulators, then a fixed shuffle tree over the 16 lanes. */
NK_INLINE float nk_reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3)
{
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3)));
}

/* s = sum(x - center), q = sum((x - center)^2); in NK_PREFETCH mode pass 1 also
 * prefetches y's row (see nk_mode). 4 accumulators per sum: a step is 3 FP operations on two
 * ports, 1.5 cycles per vector, so 4 chains cover the 4-cycle latency. They are combined in a
 * fixed tree, then the 16 lanes by a fixed shuffle tree (nk_reduce4), so results depend only
 * on the data and dim, never on alignment or mode.
 * Four named accumulator pairs rather than arrays: GCC kept arrays in memory as soon as the
 * remainder code below updated them conditionally. */
NK_INLINE void nk_dev_sums(size_t dim, const float *x, float center, float *s, float *q,
                           const float *y, int prefetch_y)
{
    const __m512 vc = _mm512_set1_ps(center);
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, q0 = s0, q1 = s0, q2 = s0, q3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        if (prefetch_y)
            for (size_t k = 0; k < 64; k += 16)
                _mm_prefetch((const char *)(y + i + k), _MM_HINT_T0);
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i), vc), &s0, &q0);
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vc), &s1, &q1);
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), vc), &s2, &q2);
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), vc), &s3, &q3);
    }
    /* The rest, under 64 elements: a pair, a vector, then the last dim % 16 under a mask
     * (masked-off lanes are zeroed after the subtraction, so they add exact zeros). */
    if (i + 32 <= dim) {
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i), vc), &s0, &q0);
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vc), &s1, &q1);
        i += 32;
    }
    if (i + 16 <= dim) {
        nk_acc(_mm512_sub_ps(_mm512_loadu_ps(x + i), vc), &s2, &q2);
        i += 16;
    }
    if (i < dim) {
        const __mmask16 m = nk_mask(dim - i);
        nk_acc(_mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), vc), &s3, &q3);
    }
    *s = nk_reduce4(s0, s1, s2, s3);
    *q = nk_reduce4(q0, q1, q2, q3);
}

typedef struct {
    float mean_hi, c; /* the mean, as the unevaluated pair mean_hi + c */
    float var;        /* not yet clamped at 0 */
    float s2;         /* the sum of squares behind var (overflow check) */
} nk_stats;

/* The statistics of one row; in NK_PREFETCH mode the first pass also prefetches y's row (see
 * nk_mode).
 *   one-pass: s = sum(x - x0), q = sum((x - x0)^2), m = s/n, var1 = q/n - m^2 are kept
 *     when NK_ONEPASS_MIN_DIM <= n <= NK_ONEPASS_MAX_DIM and m^2 <= 4 var1 (x0 within about
 *     two standard deviations of the mean); the mean x0 + m is split exactly (TwoSum) into
 *     mean_hi + c;
 *   otherwise (also for NaN/Inf, which fail the compare): the corrected two-pass of
 *     layernorm_f32__scalar.c, a second pass about mean_hi = x0 + m giving, with
 *     d = x - mean_hi, c = sum(d)/n and var = sum(d^2)/n - c^2.
 * docs/numerics.md#layernorm-one-pass has the criterion's proof. */
NK_INLINE nk_stats nk_row_stats(size_t dim, const float *x, const float *y, nk_mode mode)
{
    const float n = (float)dim, shift = x[0];
    float s, q;
    nk_dev_sums(dim, x, shift, &s, &q, y, mode == NK_PREFETCH);
    const float m = s / n;
    const float var1 = q / n - m * m;
    if (dim >= NK_ONEPASS_MIN_DIM && dim <= NK_ONEPASS_MAX_DIM && m * m <= 4.0f * var1) {
        /* x0 lies within ~2 standard deviations of the mean, so the one-pass statistics are
         * already within the bound (docs/numerics.md#layernorm-one-pass); the mean is
         * shift + m, split exactly into mean_hi + c (TwoSum). NaN/Inf fail the compare and
         * take the second pass. */
        const float hi = shift + m, bv = hi - shift;
        return (nk_stats){hi, (shift - (hi - bv)) + (m - bv), var1, q};
    }
    const float mean_hi = shift + m;
    float s1, s2;
    nk_dev_sums(dim, x, mean_hi, &s1, &s2, y, 0);
    const float c = s1 / n;
    return (nk_stats){mean_hi, c, s2 / n - c * c, s2};
}

/* The rare path, out of line: one cold copy instead of one per instance. */
static __attribute__((noinline, cold)) void nk_rare_row(size_t dim, const float *x,
                                                        const float *gamma, const float *beta,
                                                        float eps, float *y)
{
    normkit_layernorm_row_f64(dim, x, gamma, beta, eps, y);
}

typedef struct {
    __m512 mean_hi, ncs, scale; /* ncs = -c * scale */
} nk_row_consts;

/* y[i..i+16) = ((x - mean_hi) * scale - c * scale) * gamma + beta, under mask m. */
NK_INLINE __m512 nk_load(const float *p, __mmask16 m, int full)
{
    return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}

NK_INLINE __m512 nk_out(const float *x, const float *gamma, const float *beta, size_t i,
                        nk_row_consts k, __mmask16 m, int full, int has_gamma, int has_beta)
{
    const __m512 t = _mm512_fmadd_ps(_mm512_sub_ps(nk_load(x + i, m, full), k.mean_hi), k.scale,
                                     k.ncs);
    const __m512 g = has_gamma ? nk_load(gamma + i, m, full) : t;
    const __m512 b = has_beta ? nk_load(beta + i, m, full) : t;
    if (has_gamma && has_beta)
        return _mm512_fmadd_ps(t, g, b);
    if (has_gamma)
        return _mm512_mul_ps(t, g);
    if (has_beta)
        return _mm512_add_ps(t, b);
    return t;
}

/* One row of y; in NK_STREAM mode it also prefetches the row at pf into L2. */
NK_INLINE void nk_out_row(size_t dim, const float *x, const float *gamma, const float *beta,
                          nk_row_consts k, float *y, const float *pf, int has_gamma,
                          int has_beta, nk_mode mode)
{
    const int stream = mode == NK_STREAM;
    size_t i = 0;
    if (stream) {
        /* Up to the first 64-byte boundary of y, so the full vectors below stream whole lines. */
        size_t head = ((0u - (uintptr_t)y) & 63u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __mmask16 m = nk_mask(head);
            _mm512_mask_storeu_ps(y, m, nk_out(x, gamma, beta, 0, k, m, 0, has_gamma, has_beta));
            i = head;
        }
    }
    for (; i + 16 * NK_UNROLL <= dim; i += 16 * NK_UNROLL) {
        NK_UNROLL_ALL
        for (int u = 0; u < NK_UNROLL; u++) {
            const size_t j = i + 16 * (size_t)u;
            const __m512 v = nk_out(x, gamma, beta, j, k, 0xFFFF, 1, has_gamma, has_beta);
            if (stream) {
                _mm_prefetch((const char *)(pf + j), _MM_HINT_T1);
                _mm512_stream_ps(y + j, v);
            } else {
                _mm512_storeu_ps(y + j, v);
            }
        }
    }
    for (; i + 16 <= dim; i += 16) {
        const __m512 v = nk_out(x, gamma, beta, i, k, 0xFFFF, 1, has_gamma, has_beta);
        if (stream)
            _mm512_stream_ps(y + i, v);
        else
            _mm512_storeu_ps(y + i, v);
    }
    if (i < dim) {
        const __mmask16 m = nk_mask(dim - i);
        _mm512_mask_storeu_ps(y + i, m, nk_out(x, gamma, beta, i, k, m, 0, has_gamma, has_beta));
    }
}

NK_INLINE void nk_finish_row(size_t dim, const float *x, const float *gamma, const float *beta,
                             float eps, float *y, nk_stats st, const float *pf, int has_gamma,
                             int has_beta, nk_mode mode)
{
    const float var = st.var > 0.0f ? st.var : 0.0f;
    if (normkit_ln_fast_ok(st.mean_hi, st.s2, var, eps)) {
        const float scale = 1.0f / sqrtf(var + eps);
        const nk_row_consts k = {_mm512_set1_ps(st.mean_hi), _mm512_set1_ps(-(st.c * scale)),
                                 _mm512_set1_ps(scale)};
        nk_out_row(dim, x, gamma, beta, k, y, pf, has_gamma, has_beta, mode);
    } else {
        nk_rare_row(dim, x, gamma, beta, eps, y);
    }
}

/* One instance per (gamma, beta, mode), so none is tested inside a loop. */
NK_INLINE void nk_layernorm(size_t rows, size_t dim, const float *x, size_t ldx,
                            const float *gamma, const float *beta, float eps, float *y,
                            size_t ldy, int has_gamma, int has_beta, nk_mode mode)
{
    if (dim <= NK_PIPELINE_MAX_DIM) {
        /* Software-pipelined by one row: the statistics of row+1 are issued before row is
         * written, so their reductions and the scalar divide/sqrt chain overlap the output
         * pass of row instead of stalling it. */
        nk_stats st = nk_row_stats(dim, x, y, mode);
        for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
            const nk_stats next = row + 1 < rows ? nk_row_stats(dim, x + ldx, y + ldy, mode) : st;
            nk_finish_row(dim, x, gamma, beta, eps, y, st, row + 2 < rows ? x + 2 * ldx : x,
                          has_gamma, has_beta, mode);
            st = next;
        }
    } else {
        for (size_t row = 0; row < rows; row++, x += ldx, y += ldy)
            nk_finish_row(dim, x, gamma, beta, eps, y, nk_row_stats(dim, x, y, mode),
                          row + 1 < rows ? x + ldx : x, has_gamma, has_beta, mode);
    }
    if (mode == NK_STREAM)
        _mm_sfence(); /* order the weakly-ordered streaming stores before any later store */
}

#define NK_INSTANCES(MODE)                                                                     \
    do {                                                                                       \
        if (gamma && beta)                                                                     \
            nk_layernorm(rows, dim, x, ldx, gamma, beta, eps, y, ldy, 1, 1, MODE);             \
        else if (gamma)                                                                        \
            nk_layernorm(rows, dim, x, ldx, gamma, NULL, eps, y, ldy, 1, 0, MODE);             \
        else if (beta)                                                                         \
            nk_layernorm(rows, dim, x, ldx, NULL, beta, eps, y, ldy, 0, 1, MODE);              \
        else                                                                                   \
            nk_layernorm(rows, dim, x, ldx, NULL, NULL, eps, y, ldy, 0, 0, MODE);              \
    } while (0)

void normkit_layernorm_f32__avx512_u4_acc8(size_t rows, size_t dim, const float *x, size_t ldx,
                                   const float *gamma, const float *beta, float eps, float *y,
                                   size_t ldy, const normkit_kparams *kp)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    if (kp && bytes >= kp->nt_min_bytes)
        NK_INSTANCES(NK_STREAM);
    else if (kp && bytes >= kp->dram_min_bytes)
        NK_INSTANCES(NK_PREFETCH);
    else
        NK_INSTANCES(NK_CACHED);
}
