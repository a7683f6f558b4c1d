/*
 * normkit_add_layernorm_f32__avx2_u2_acc4 — post-norm Add & LayerNorm, f32, AVX2 + FMA (built with
 * -mavx2 -mfma; the dispatcher also checks OS YMM state).
 *
 *   h = x + r;  r <- h;  y = (h - mean) / sqrt(var + eps) * gamma + beta
 *
 * Passes: as layernorm_f32__avx2.c on h, 2 per row when one statistics pass about h0 provably
 *   suffices, else 3 (see nk_finish). The first adds (one IEEE addition per element, so r
 *   matches the scalar variant bit for bit), stores h into r and sums; the later passes read h
 *   back from r (just written, so still in L1/L2), so x is read once. Not fused (see nk_rows).
 * Tails: one masked load/store (vmaskmovps) per array and pass for the last dim % 8
 *   elements; masked-off lanes never fault, and are cleared before they are summed.
 * Aliasing: y may equal x (x is dead after pass 1); y must not overlap r. kp: memory modes
 *   (nk_mode).
 * Bound: as layernorm_f32__avx2.c on h (same accumulators, order and one-pass criterion):
 *   |y - y_exact(h)| <= (1.5n + 12) u |gamma| max|z| + 2u |y_exact(h)| (sum depth
 *   ceil(n/32) + 5). Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_layernorm_row_f64 (on h, in r).
 * Numerics: docs/numerics.md#add-and-norm, #layernorm-one-pass, #layernorm-three-pass,
 *   #summation-depth, #rare-path. Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_add_layernorm_f32_ukernel normkit_add_layernorm_f32__avx2_u2_acc4;

enum {
    /* Rows at least this long may skip the second statistics pass
     * (docs/numerics.md#layernorm-one-pass). */
    NK_ONEPASS_MIN_DIM = 128,
    /* ... and short enough that the compare's float rounding cannot let rho exceed ~4.1 (the
     * same cap as the AVX-512 variants; longer rows take the second pass). */
    NK_ONEPASS_MAX_DIM = 1 << 20,
    /* Vectors per iteration of the output pass; its stores go out in address order, which
     * measured 1.25-1.4x faster on L2-resident rows than the order GCC picks for a
     * compute-all-then-store-all body. */
    NK_UNROLL = 4,
    /* The output pass prefetches the next rows of x and r into L1 when a row is at most
     * this many floats (then they, h, gamma, beta and y fit in the 48 KiB L1d), else into L2. */
    NK_PF_L1_MAX = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL),
 * as layernorm_f32__avx2.c less the fusion (see nk_rows):
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 32-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence. r is never streamed: the next passes read it back at once;
 *  - NK_DRAM, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht1, into L2) the row of y that pass 3 will write, so fetching its lines (the
 *    read-for-ownership its stores would otherwise wait for) overlaps pass 1;
 *  - NK_CACHED otherwise. */
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

/* s = sum(h - center), q = sum((h - center)^2), over h in r: the second statistics pass.
 * Each step is a subtraction, an addition and an FMA, so 4 chains per sum cover the FMA
 * latency. */
NK_INLINE void nk_dev_sums(const float *h, size_t dim, float center, float *s, float *q)
{
    const __m256 vc = _mm256_set1_ps(center);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    __m256 q0 = s0, q1 = s0, q2 = s0, q3 = s0;
#define NK_STEP(S, Q, J)                                                  \
    do {                                                                  \
        const __m256 d_ = _mm256_sub_ps(_mm256_loadu_ps(h + (J)), vc);    \
        S = _mm256_add_ps(S, d_);                                         \
        Q = _mm256_fmadd_ps(d_, d_, Q);                                   \
    } while (0)
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        NK_STEP(s0, q0, i);
        NK_STEP(s1, q1, i + 8);
        NK_STEP(s2, q2, i + 16);
        NK_STEP(s3, q3, i + 24);
    }
    if (i + 16 <= dim) {
        NK_STEP(s0, q0, i);
        NK_STEP(s1, q1, i + 8);
        i += 16;
    }
    if (i + 8 <= dim) {
        NK_STEP(s2, q2, i);
        i += 8;
    }
#undef NK_STEP
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(h + i, m), vc),
                                       _mm256_castsi256_ps(m));
        s3 = _mm256_add_ps(s3, d);
        q3 = _mm256_fmadd_ps(d, d, q3);
    }
    *s = nk_sum4(s0, s1, s2, s3);
    *q = nk_sum4(q0, q1, q2, q3);
}

/* Pass 1: h = x + r, stored into r; s = sum(h - center), q = sum((h - center)^2). With pf_y,
 * it also prefetches the row y into L2 (NK_DRAM). */
NK_INLINE void nk_add_dev_sums(const float *x, float *r, size_t dim, float center, float *s,
                               float *q, const float *y, const int pf_y)
{
    const __m256 vc = _mm256_set1_ps(center);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    __m256 q0 = s0, q1 = s0, q2 = s0, q3 = s0;
#define NK_STEP(S, Q, J)                                                                     \
    do {                                                                                     \
        const __m256 h_ = _mm256_add_ps(_mm256_loadu_ps(x + (J)), _mm256_loadu_ps(r + (J))); \
        _mm256_storeu_ps(r + (J), h_);                                                       \
        const __m256 d_ = _mm256_sub_ps(h_, vc);                                             \
        S = _mm256_add_ps(S, d_);                                                            \
        Q = _mm256_fmadd_ps(d_, d_, Q);                                                      \
    } while (0)
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        if (pf_y) {
            _mm_prefetch((const char *)(y + i), _MM_HINT_T1);
            _mm_prefetch((const char *)(y + i + 16), _MM_HINT_T1);
        }
        NK_STEP(s0, q0, i);
        NK_STEP(s1, q1, i + 8);
        NK_STEP(s2, q2, i + 16);
        NK_STEP(s3, q3, i + 24);
    }
    if (i + 16 <= dim) {
        NK_STEP(s0, q0, i);
        NK_STEP(s1, q1, i + 8);
        i += 16;
    }
    if (i + 8 <= dim) {
        NK_STEP(s2, q2, i);
        i += 8;
    }
#undef NK_STEP
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        const __m256 h = _mm256_add_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(r + i, m));
        _mm256_maskstore_ps(r + i, m, h);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(h, vc), _mm256_castsi256_ps(m));
        s3 = _mm256_add_ps(s3, d);
        q3 = _mm256_fmadd_ps(d, d, q3);
    }
    *s = nk_sum4(s0, s1, s2, s3);
    *q = nk_sum4(q0, q1, q2, q3);
}

typedef struct {
    float mean_hi, c; /* the mean, as the unevaluated pair mean_hi + c */
    float var;        /* clamped at 0 */
    float s2;         /* the sum of squares behind var, for the overflow check */
} nk_stats;

/* From the sums about shift = h0 (pass 1), finish the statistics, running pass 2 over h (in
 * r) only when the one-pass values may be inaccurate:
 *   one-pass: s = sum(h - h0), q = sum((h - h0)^2), m = s/n, var1 = q/n - m^2 are kept
 *     when NK_ONEPASS_MIN_DIM <= n <= NK_ONEPASS_MAX_DIM and m^2 <= 4 var1 (h0 within about
 *     two standard deviations of the mean); the mean h0 + m is split exactly (TwoSum) into
 *     mean_hi + c;
 *   otherwise (also for NaN/Inf, which fail the compare): the corrected two-pass of
 *     layernorm_f32__scalar.c, a second pass about mean_hi = h0 + m giving, with
 *     d = h - mean_hi, c = sum(d)/n and var = sum(d^2)/n - c^2.
 * docs/numerics.md#layernorm-one-pass has the criterion's proof. */
NK_INLINE nk_stats nk_finish(const float *h, size_t dim, float shift, float s, float q)
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
        nk_dev_sums(h, dim, st.mean_hi, &s1, &st.s2);
        st.c = s1 / n;
        st.var = st.s2 / n - st.c * st.c;
    }
    st.var = st.var > 0.0f ? st.var : 0.0f;
    return st;
}

/* Pass 3 on one vector: ((h - mean_hi) * scale - c * scale) * gamma + beta. */
NK_INLINE __m256 nk_norm(__m256 v, __m256 g, __m256 b, __m256 vm, __m256 vncs, __m256 vscale,
                         const int has_g, const int has_b)
{
    const __m256 t = _mm256_fmadd_ps(_mm256_sub_ps(v, vm), vscale, vncs);
    if (has_g)
        return has_b ? _mm256_fmadd_ps(t, g, b) : _mm256_mul_ps(t, g);
    return has_b ? _mm256_add_ps(t, b) : t;
}

NK_INLINE __m256 nk_norm_at(const float *h, const float *gamma, const float *beta, size_t i,
                            __m256 vm, __m256 vncs, __m256 vscale, const int has_g, const int has_b)
{
    const __m256 g = has_g ? _mm256_loadu_ps(gamma + i) : vscale;
    const __m256 b = has_b ? _mm256_loadu_ps(beta + i) : vscale;
    return nk_norm(_mm256_loadu_ps(h + i), g, b, vm, vncs, vscale, has_g, has_b);
}

NK_INLINE __m256 nk_norm_masked(const float *h, const float *gamma, const float *beta, size_t i,
                                __m256i m, __m256 vm, __m256 vncs, __m256 vscale, const int has_g,
                                const int has_b)
{
    const __m256 g = has_g ? _mm256_maskload_ps(gamma + i, m) : vscale;
    const __m256 b = has_b ? _mm256_maskload_ps(beta + i, m) : vscale;
    return nk_norm(_mm256_maskload_ps(h + i, m), g, b, vm, vncs, vscale, has_g, has_b);
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

NK_INLINE void nk_norm_row(size_t dim, const float *h, const float *gamma, const float *beta,
                           const nk_stats *st, float scale, float *y, const float *next_x,
                           const float *next_r, const int has_g, const int has_b, const int nt,
                           const int pf_l1)
{
    const __m256 vm = _mm256_set1_ps(st->mean_hi), vncs = _mm256_set1_ps(-(st->c * scale));
    const __m256 vscale = _mm256_set1_ps(scale);
    size_t i = 0;
    if (nt) {
        /* vmovntps needs 32-byte alignment: a masked head brings y there. */
        size_t head = (size_t)((0u - (uintptr_t)y) & 31u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __m256i m = nk_mask(head);
            _mm256_maskstore_ps(y, m, nk_norm_masked(h, gamma, beta, 0, m, vm, vncs, vscale, has_g, has_b));
            i = head;
        }
    }
    for (; i + 8 * NK_UNROLL <= dim; i += 8 * NK_UNROLL) {
        nk_prefetch(next_x + i, pf_l1); /* two cache lines of each per 32 floats */
        nk_prefetch(next_x + i + 16, pf_l1);
        nk_prefetch(next_r + i, pf_l1);
        nk_prefetch(next_r + i + 16, pf_l1);
        for (int k = 0; k < NK_UNROLL; k++)
            nk_store(y + i + 8 * k,
                     nk_norm_at(h, gamma, beta, i + 8 * k, vm, vncs, vscale, has_g, has_b), nt);
    }
    for (; i + 8 <= dim; i += 8)
        nk_store(y + i, nk_norm_at(h, gamma, beta, i, vm, vncs, vscale, has_g, has_b), nt);
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        _mm256_maskstore_ps(y + i, m, nk_norm_masked(h, gamma, beta, i, m, vm, vncs, vscale, has_g, has_b));
    }
}

/* One instance per (gamma?, beta?, mode), so none of them is tested inside a loop.
 * Pass 3 is not fused with the next row's pass 1 as in layernorm_f32__avx2.c: with this pass 1
 * storing too, the fused loop ran six streams and measured 0.73-0.89x of the unfused one on 64
 * and 1024 rows. */
NK_INLINE void nk_rows(size_t rows, size_t dim, const float *x, size_t ldx, float *r, size_t ldr,
                       const float *gamma, const float *beta, float eps, float *y, size_t ldy,
                       const int has_g, const int has_b, const nk_mode mode)
{
    const int nt = mode == NK_STREAM;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        const float shift = x[0] + r[0];
        float s, q;
        nk_add_dev_sums(x, r, dim, shift, &s, &q, y, mode == NK_DRAM);
        const nk_stats st = nk_finish(r, dim, shift, s, q);
        if (!normkit_ln_fast_ok(st.mean_hi, st.s2, st.var, eps)) {
            normkit_layernorm_row_f64(dim, r, gamma, beta, eps, y);
            continue;
        }
        const float scale = 1.0f / sqrtf(st.var + eps);
        const int last = row + 1 == rows;
        const float *next_x = last ? x : x + ldx, *next_r = last ? r : r + ldr;
        if (dim <= NK_PF_L1_MAX)
            nk_norm_row(dim, r, gamma, beta, &st, scale, y, next_x, next_r, has_g, has_b, nt, 1);
        else
            nk_norm_row(dim, r, gamma, beta, &st, scale, y, next_x, next_r, has_g, has_b, nt, 0);
    }
    if (nt)
        _mm_sfence(); /* streaming stores are weakly ordered: publish them before returning */
}

void normkit_add_layernorm_f32__avx2_u2_acc4(size_t rows, size_t dim, const float *x, size_t ldx,
                                     float *r, size_t ldr, const float *gamma, const float *beta,
                                     float eps, float *y, size_t ldy, const normkit_kparams *kp)
{
#define NK_CASE(G, B, M)                                                                        \
    nk_rows(rows, dim, x, ldx, r, ldr, G ? gamma : NULL, B ? beta : NULL, eps, y, ldy, G, B, M)
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
