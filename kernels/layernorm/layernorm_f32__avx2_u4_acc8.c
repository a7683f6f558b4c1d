/*
 * normkit_layernorm_f32__avx2_u4_acc8 — LayerNorm, f32, AVX2 + FMA (built with -mavx2 -mfma; the
 * dispatcher also checks OS YMM state).
 *
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta      (population variance)
 *
 * Passes: 2 per row when one statistics pass about x0 provably suffices, else 3 (the corrected
 *   two-pass of layernorm_f32__scalar.c): see nk_finish. The output pass computes
 *   ((x - mean_hi) * scale - c * scale) * gamma + beta with FMAs and prefetches the next row.
 *   Only the first pass comes from memory for rows that fit in L1/L2.
 * Tails: one masked load (vmaskmovps) per pass for the last dim % 8 elements and one masked
 *   store in the output pass; masked-off lanes never fault, and are cleared before they are summed.
 * Aliasing: y may equal x (the output pass reads each vector of x before writing those lanes of
 *   y; the fused loop reads row r+1 of x while it writes row r of y). kp: memory modes (nk_mode).
 * Bound: |y - y_exact| <= (1.5n + 12) u |gamma| max|z| + 2u |y_exact|, z = (x - mean)/sqrt(var +
 *   eps), as the scalar variant (sum depth ceil(n/32) + 5). Rows that overflow, underflow or
 *   hold NaN/Inf go to normkit_layernorm_row_f64.
 * Numerics: docs/numerics.md#layernorm-one-pass (the criterion and its proof),
 *   #layernorm-three-pass, #summation-depth, #rare-path. Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_layernorm_f32_ukernel normkit_layernorm_f32__avx2_u4_acc8;

enum {
    /* Rows at least this long may skip the second statistics pass
     * (docs/numerics.md#layernorm-one-pass). */
    NK_ONEPASS_MIN_DIM = 128,
    /* ... and short enough that the compare's float rounding cannot let rho exceed ~4.1 (the
     * same cap as the AVX-512 variants; longer rows take the second pass). */
    NK_ONEPASS_MAX_DIM = 1 << 20,
    /* Floats per main-loop iteration of every pass: 4 vectors, one per accumulator, so the
     * fused loop can run pass 3 and the next pass 1 side by side. Pass 3 stores go out in
     * address order: that measured 1.25-1.4x faster on L2-resident rows than the order GCC
     * picks for a compute-all-then-store-all body. */
    NK_BLOCK = 32,
    /* The output pass prefetches the next row into L1 when it is at most this many floats
     * (then x, gamma, beta, y and the next row fit in the 48 KiB L1d), else into L2. */
    NK_PF_L1_MAX = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL):
 *  - NK_CACHED, below kp->dram_min_bytes: pass 3 of a row and pass 1 of the next share one
 *    loop (nk_norm_row with fuse), so the next row's sums fill the FP ports the output leaves
 *    idle and the per-row latency (reductions, divisions, sqrt) no longer stalls between rows:
 *    1.13-1.16x on 768 and 2048 x 64 rows (but 0.77-0.86x on DRAM-sized calls, hence not there);
 *  - NK_DRAM, from kp->dram_min_bytes: pass 1 also read-prefetches (prefetcht1, into L2) the
 *    row of y that pass 3 will write, so fetching its lines (the read-for-ownership its stores
 *    would otherwise wait for) overlaps pass 1 instead of stalling the stores of pass 3
 *    (1.3-1.4x from 64 MiB; neutral to 0.6x below 32 MiB, hence the threshold);
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 32-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence. */
typedef enum { NK_CACHED, NK_DRAM, NK_STREAM } nk_mode;

#define NK_INLINE static inline __attribute__((always_inline))

/* Lanes 0..n-1 set, for 0 < n < 8. */
NK_INLINE __m256i nk_mask(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Fixed order: high half onto low half, then pairs, then the last two lanes. */
NK_INLINE float nk_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

NK_INLINE float nk_sum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    return nk_hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* The call's mode (see nk_mode). */
NK_INLINE nk_mode nk_mode_of(const normkit_kparams *kp, size_t rows, size_t dim)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    if (kp && bytes >= kp->nt_min_bytes)
        return NK_STREAM;
    return kp && bytes >= kp->dram_min_bytes ? NK_DRAM : NK_CACHED;
}

/* The 8 accumulators of the statistics passes: s = sum(x - center), q = sum((x - center)^2),
 * 4 chains each (4 x 8 = 32 lanes), combined in a fixed order by nk_sum4. */
typedef struct {
    __m256 s0, s1, s2, s3, q0, q1, q2, q3;
} nk_acc;

NK_INLINE nk_acc nk_acc_zero(void)
{
    const __m256 z = _mm256_setzero_ps();
    return (nk_acc){z, z, z, z, z, z, z, z};
}

#define NK_STEP(S, Q, J)                                                  \
    do {                                                                  \
        const __m256 d_ = _mm256_sub_ps(_mm256_loadu_ps(x + (J)), vc);    \
        S = _mm256_add_ps(S, d_);                                         \
        Q = _mm256_fmadd_ps(d_, d_, Q);                                   \
    } while (0)

/* x[i..i+NK_BLOCK). */
NK_INLINE nk_acc nk_acc_block(nk_acc a, const float *x, size_t i, __m256 vc)
{
    NK_STEP(a.s0, a.q0, i);
    NK_STEP(a.s1, a.q1, i + 8);
    NK_STEP(a.s2, a.q2, i + 16);
    NK_STEP(a.s3, a.q3, i + 24);
    return a;
}

/* x[i..dim), fewer than NK_BLOCK floats, then the fixed-order reduction. */
NK_INLINE void nk_acc_finish(nk_acc a, const float *x, size_t i, size_t dim, __m256 vc, float *s,
                             float *q)
{
    if (i + 16 <= dim) {
        NK_STEP(a.s0, a.q0, i);
        NK_STEP(a.s1, a.q1, i + 8);
        i += 16;
    }
    if (i + 8 <= dim) {
        NK_STEP(a.s2, a.q2, i);
        i += 8;
    }
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vc),
                                       _mm256_castsi256_ps(m));
        a.s3 = _mm256_add_ps(a.s3, d);
        a.q3 = _mm256_fmadd_ps(d, d, a.q3);
    }
    *s = nk_sum4(a.s0, a.s1, a.s2, a.s3);
    *q = nk_sum4(a.q0, a.q1, a.q2, a.q3);
}
#undef NK_STEP

/* A whole statistics pass; with pf_y, it also prefetches the row y into L2 (NK_DRAM). */
NK_INLINE void nk_dev_sums(const float *x, size_t dim, float center, float *s, float *q,
                           const float *y, const int pf_y)
{
    const __m256 vc = _mm256_set1_ps(center);
    nk_acc a = nk_acc_zero();
    size_t i = 0;
    for (; i + NK_BLOCK <= dim; i += NK_BLOCK) {
        if (pf_y) {
            _mm_prefetch((const char *)(y + i), _MM_HINT_T1);
            _mm_prefetch((const char *)(y + i + 16), _MM_HINT_T1);
        }
        a = nk_acc_block(a, x, i, vc);
    }
    nk_acc_finish(a, x, i, dim, vc, s, q);
}

typedef struct {
    float mean_hi, c; /* the mean, as the unevaluated pair mean_hi + c */
    float var;        /* clamped at 0 */
    float s2;         /* the sum of squares behind var, for the overflow check */
} nk_stats;

/* From the sums about shift = x0 (pass 1), finish the statistics, running pass 2 over x only
 * when the one-pass values may be inaccurate:
 *   one-pass: s = sum(x - x0), q = sum((x - x0)^2), m = s/n, var1 = q/n - m^2 are kept
 *     when NK_ONEPASS_MIN_DIM <= n <= NK_ONEPASS_MAX_DIM and m^2 <= 4 var1 (x0 within about
 *     two standard deviations of the mean); the mean x0 + m is split exactly (TwoSum) into
 *     mean_hi + c;
 *   otherwise (also for NaN/Inf, which fail the compare): the corrected two-pass of
 *     layernorm_f32__scalar.c, a second pass about mean_hi = x0 + m giving, with
 *     d = x - mean_hi, c = sum(d)/n and var = sum(d^2)/n - c^2.
 * docs/numerics.md#layernorm-one-pass has the criterion's proof. */
NK_INLINE nk_stats nk_finish(const float *x, size_t dim, float shift, float s, float q)
{
    const float n = (float)dim;
    const float m = s / n;
    const float var1 = q / n - m * m;
    nk_stats st;
    st.mean_hi = shift + m;
    if (dim >= NK_ONEPASS_MIN_DIM && dim <= NK_ONEPASS_MAX_DIM && m * m <= 4.0f * var1) {
        /* TwoSum: shift + m == mean_hi + c exactly. */
        const float bv = st.mean_hi - shift;
        st.c = (shift - (st.mean_hi - bv)) + (m - bv);
        st.var = var1;
        st.s2 = q;
    } else {
        float s1;
        nk_dev_sums(x, dim, st.mean_hi, &s1, &st.s2, NULL, 0);
        st.c = s1 / n;
        st.var = st.s2 / n - st.c * st.c;
    }
    st.var = st.var > 0.0f ? st.var : 0.0f;
    return st;
}

/* Pass 3 on one vector: ((x - mean_hi) * scale - c * scale) * gamma + beta. */
NK_INLINE __m256 nk_norm(__m256 v, __m256 g, __m256 b, __m256 vm, __m256 vncs, __m256 vscale,
                         const int has_g, const int has_b)
{
    const __m256 t = _mm256_fmadd_ps(_mm256_sub_ps(v, vm), vscale, vncs);
    if (has_g)
        return has_b ? _mm256_fmadd_ps(t, g, b) : _mm256_mul_ps(t, g);
    return has_b ? _mm256_add_ps(t, b) : t;
}

NK_INLINE __m256 nk_norm_at(const float *x, const float *gamma, const float *beta, size_t i,
                            __m256 vm, __m256 vncs, __m256 vscale, const int has_g, const int has_b)
{
    const __m256 g = has_g ? _mm256_loadu_ps(gamma + i) : vscale;
    const __m256 b = has_b ? _mm256_loadu_ps(beta + i) : vscale;
    return nk_norm(_mm256_loadu_ps(x + i), g, b, vm, vncs, vscale, has_g, has_b);
}

NK_INLINE __m256 nk_norm_masked(const float *x, const float *gamma, const float *beta, size_t i,
                                __m256i m, __m256 vm, __m256 vncs, __m256 vscale, const int has_g,
                                const int has_b)
{
    const __m256 g = has_g ? _mm256_maskload_ps(gamma + i, m) : vscale;
    const __m256 b = has_b ? _mm256_maskload_ps(beta + i, m) : vscale;
    return nk_norm(_mm256_maskload_ps(x + i, m), g, b, vm, vncs, vscale, has_g, has_b);
}

NK_INLINE void nk_store(float *p, __m256 v, const int nt)
{
    if (nt)
        _mm256_stream_ps(p, v);
    else
        _mm256_storeu_ps(p, v);
}

/* Prefetching the next row here overlaps its trip from L2 or DRAM with this row's
 * arithmetic, instead of stalling the next row's first pass. */
NK_INLINE void nk_prefetch(const float *p, const int to_l1)
{
    if (to_l1)
        _mm_prefetch((const char *)p, _MM_HINT_T0);
    else
        _mm_prefetch((const char *)p, _MM_HINT_T1);
}

/* Pass 3 of one row. With `fuse`, the main loop also runs pass 1 of the next row (xn, about
 * center, into *s and *q) with the same accumulator for each element as nk_dev_sums, so the
 * sums are bit-identical to an unfused pass. `next` is prefetched. */
NK_INLINE void nk_norm_row(size_t dim, const float *x, const float *gamma, const float *beta,
                           const nk_stats *st, float scale, float *y, const float *next,
                           const float *xn, float center, float *s, float *q, const int has_g,
                           const int has_b, const int nt, const int fuse, const int pf_l1)
{
    const __m256 vm = _mm256_set1_ps(st->mean_hi), vncs = _mm256_set1_ps(-(st->c * scale));
    const __m256 vscale = _mm256_set1_ps(scale), vc = _mm256_set1_ps(center);
    nk_acc a = nk_acc_zero();
    size_t i = 0;
    if (nt) {
        /* vmovntps needs 32-byte alignment: a masked head brings y there. (Never fused: the
         * head would shift the sums' element-to-accumulator map.) */
        size_t head = (size_t)((0u - (uintptr_t)y) & 31u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __m256i m = nk_mask(head);
            _mm256_maskstore_ps(y, m, nk_norm_masked(x, gamma, beta, 0, m, vm, vncs, vscale, has_g, has_b));
            i = head;
        }
    }
    for (; i + NK_BLOCK <= dim; i += NK_BLOCK) {
        nk_prefetch(next + i, pf_l1); /* two cache lines per NK_BLOCK floats */
        nk_prefetch(next + i + 16, pf_l1);
        if (fuse)
            a = nk_acc_block(a, xn, i, vc);
        for (int k = 0; k < NK_BLOCK / 8; k++)
            nk_store(y + i + 8 * k,
                     nk_norm_at(x, gamma, beta, i + 8 * k, vm, vncs, vscale, has_g, has_b), nt);
    }
    if (fuse)
        nk_acc_finish(a, xn, i, dim, vc, s, q);
    for (; i + 8 <= dim; i += 8)
        nk_store(y + i, nk_norm_at(x, gamma, beta, i, vm, vncs, vscale, has_g, has_b), nt);
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        _mm256_maskstore_ps(y + i, m, nk_norm_masked(x, gamma, beta, i, m, vm, vncs, vscale, has_g, has_b));
    }
}

/* Pass 3 (fused with the next row's pass 1 when `fuse`), with the prefetch hint for this dim. */
#define NK_NORM_ROW(NEXT, FUSE)                                                               \
    do {                                                                                      \
        if (dim <= NK_PF_L1_MAX)                                                              \
            nk_norm_row(dim, x, gamma, beta, &st, scale, y, NEXT, xn, cn, &s, &q, has_g, has_b, \
                        nt, FUSE, 1);                                                         \
        else                                                                                  \
            nk_norm_row(dim, x, gamma, beta, &st, scale, y, NEXT, xn, cn, &s, &q, has_g, has_b, \
                        nt, FUSE, 0);                                                         \
    } while (0)

/* One instance per (gamma?, beta?, mode), so none of them is tested inside a loop.
 * Row r's pass 1 has run (fused into row r-1's pass 3, or alone) when its turn comes. */
NK_INLINE void nk_rows(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma,
                       const float *beta, float eps, float *y, size_t ldy, const int has_g,
                       const int has_b, const nk_mode mode)
{
    const int nt = mode == NK_STREAM, pf_y = mode == NK_DRAM;
    float shift = x[0], s, q;
    nk_dev_sums(x, dim, shift, &s, &q, y, pf_y);
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        const nk_stats st = nk_finish(x, dim, shift, s, q);
        const int more = row + 1 < rows;
        const float *xn = more ? x + ldx : x; /* y == x is safe: y's row r is not row r+1 */
        const float cn = xn[0];
        if (!normkit_ln_fast_ok(st.mean_hi, st.s2, st.var, eps)) {
            normkit_layernorm_row_f64(dim, x, gamma, beta, eps, y);
        } else {
            const float scale = 1.0f / sqrtf(st.var + eps);
            if (more && mode == NK_CACHED) {
                NK_NORM_ROW(row + 2 < rows ? xn + ldx : xn, 1);
                shift = cn;
                continue;
            }
            NK_NORM_ROW(xn, 0);
        }
        if (more) {
            shift = cn;
            nk_dev_sums(xn, dim, shift, &s, &q, y + ldy, pf_y);
        }
    }
    if (nt)
        _mm_sfence(); /* streaming stores are weakly ordered: publish them before returning */
}
#undef NK_NORM_ROW

void normkit_layernorm_f32__avx2_u4_acc8(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, const float *beta, float eps, float *y,
                                 size_t ldy, const normkit_kparams *kp)
{
#define NK_CASE(G, B, M) \
    nk_rows(rows, dim, x, ldx, G ? gamma : NULL, B ? beta : NULL, eps, y, ldy, G, B, M)
#define NK_CASES(M)                                    \
    do {                                               \
        if (gamma)                                     \
            beta ? NK_CASE(1, 1, M) : NK_CASE(1, 0, M); \
        else                                           \
            beta ? NK_CASE(0, 1, M) : NK_CASE(0, 0, M); \
    } while (0)
    switch (nk_mode_of(kp, rows, dim)) {
    case NK_CACHED: NK_CASES(NK_CACHED); break;
    case NK_DRAM: NK_CASES(NK_DRAM); break;
    default: NK_CASES(NK_STREAM); break;
    }
#undef NK_CASES
#undef NK_CASE
}
