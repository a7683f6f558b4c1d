/*
 * normkit_add_rmsnorm_f32__avx2_u4_acc8 — post-norm Add & RMSNorm, f32, AVX2 + FMA (built with -mavx2
 * -mfma; the dispatcher also checks OS YMM state).
 *
 *   h = x + r;  r <- h;  y = h / sqrt(mean(h^2) + eps) * gamma
 *
 * Passes: 2 per row. The first adds (one IEEE addition per element, so r matches the scalar
 *   variant bit for bit), stores h into r and sums squares; the second reads h back from r
 *   (just written, so still in L1/L2), scales, and prefetches the next rows of x and r.
 *   x is read once.
 * Tails: one masked load/store (vmaskmovps) per array and pass for the last dim % 8 elements.
 *   Masked-off lanes never fault and are 0 + 0, so no access leaves the row and dim < 8 needs
 *   no scalar loop. Aliasing: y may equal x (x is dead after pass 1); y must not overlap r.
 * kp: selects a memory mode per call (see nk_mode).
 * Bound: |y - y_exact(h)| <= (n/2 + 6) u |y_exact(h)|, as the scalar variant (sum depth
 *   floor(n/64) + 9). Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64 (on h, in r).
 * Numerics: docs/numerics.md#add-and-norm, #rmsnorm, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */
#include <immintrin.h>
#include <stdint.h>

#include "normkit_kernel.h"

normkit_add_rmsnorm_f32_ukernel normkit_add_rmsnorm_f32__avx2_u4_acc8;

enum {
    /* Vectors per iteration of the scaling pass. Its stores go out in address order: that
     * measured 1.25-1.4x faster on L2-resident rows than the order GCC picks for a
     * compute-all-then-store-all body. */
    NK_UNROLL = 4,
    /* Pass 2 prefetches the next rows of x and r into L1 when a row is at most this many
     * floats (then they, h, gamma and y fit in the 48 KiB L1d), else into L2. */
    NK_PF_L1_MAX = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL),
 * as rmsnorm_f32__avx2.c:
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 32-byte boundary on (the masked head and tail are ordinary
 *    stores), then sfence. r is never streamed: pass 2 reads it back at once;
 *  - NK_DRAM, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht1, into L2) the row of y that pass 2 will write, so fetching its lines (the
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

/* The call's mode (see nk_mode). */
NK_INLINE nk_mode nk_mode_of(const normkit_kparams *kp, size_t rows, size_t dim)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    if (kp && bytes >= kp->nt_min_bytes)
        return NK_STREAM;
    return kp && bytes >= kp->dram_min_bytes ? NK_DRAM : NK_CACHED;
}

/* Pass 1: h = x + r, stored into r; returns sum(h^2). With pf_y, it also prefetches the row
 * y into L2 (NK_DRAM). 8 ymm accumulators (FMA: 4 cycles of latency on two ports), combined
 * pairwise in a fixed order, then the lanes likewise. Named accumulators, not an array: GCC
 * kept an array in memory around the tail. */
NK_INLINE float nk_add_sumsq(const float *x, float *r, size_t dim, const float *y, const int pf_y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
#define NK_STEP(A, J)                                                                        \
    do {                                                                                     \
        const __m256 h_ = _mm256_add_ps(_mm256_loadu_ps(x + (J)), _mm256_loadu_ps(r + (J))); \
        _mm256_storeu_ps(r + (J), h_);                                                       \
        A = _mm256_fmadd_ps(h_, h_, A);                                                      \
    } while (0)
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        if (pf_y)
            for (int k = 0; k < 4; k++)
                _mm_prefetch((const char *)(y + i + 16 * k), _MM_HINT_T1);
        NK_STEP(a0, i);
        NK_STEP(a1, i + 8);
        NK_STEP(a2, i + 16);
        NK_STEP(a3, i + 24);
        NK_STEP(a4, i + 32);
        NK_STEP(a5, i + 40);
        NK_STEP(a6, i + 48);
        NK_STEP(a7, i + 56);
    }
    /* Up to 7 whole vectors remain: two chains keep the latency down for short rows. */
    for (; i + 16 <= dim; i += 16) {
        NK_STEP(a0, i);
        NK_STEP(a1, i + 8);
    }
    if (i + 8 <= dim) {
        NK_STEP(a2, i);
        i += 8;
    }
#undef NK_STEP
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        const __m256 h = _mm256_add_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(r + i, m));
        _mm256_maskstore_ps(r + i, m, h);
        a3 = _mm256_fmadd_ps(h, h, a3);
    }
    a0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    a4 = _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7));
    return nk_hsum(_mm256_add_ps(a0, a4));
}

/* y = (h * scale) * gamma on one vector. */
NK_INLINE __m256 nk_scaled(__m256 v, const float *gamma, size_t i, __m256 scale, const int has_g)
{
    v = _mm256_mul_ps(v, scale);
    return has_g ? _mm256_mul_ps(v, _mm256_loadu_ps(gamma + i)) : v;
}

NK_INLINE __m256 nk_scaled_masked(const float *h, const float *gamma, size_t i, __m256i m,
                                  __m256 scale, const int has_g)
{
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(h + i, m), scale);
    return has_g ? _mm256_mul_ps(v, _mm256_maskload_ps(gamma + i, m)) : v;
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

/* Pass 2. */
NK_INLINE void nk_scale_row(size_t dim, const float *h, const float *gamma, __m256 scale,
                            float *y, const float *next_x, const float *next_r,
                            const int has_g, const int nt, const int pf_l1)
{
    size_t i = 0;
    if (nt) {
        /* vmovntps needs 32-byte alignment: a masked head brings y there. */
        size_t head = (size_t)((0u - (uintptr_t)y) & 31u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __m256i m = nk_mask(head);
            _mm256_maskstore_ps(y, m, nk_scaled_masked(h, gamma, 0, m, scale, has_g));
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
                     nk_scaled(_mm256_loadu_ps(h + i + 8 * k), gamma, i + 8 * k, scale, has_g), nt);
    }
    for (; i + 8 <= dim; i += 8)
        nk_store(y + i, nk_scaled(_mm256_loadu_ps(h + i), gamma, i, scale, has_g), nt);
    if (i < dim) {
        const __m256i m = nk_mask(dim - i);
        _mm256_maskstore_ps(y + i, m, nk_scaled_masked(h, gamma, i, m, scale, has_g));
    }
}

/* One instance per (gamma?, mode), so neither is tested inside a loop. */
NK_INLINE void nk_rows(size_t rows, size_t dim, const float *x, size_t ldx, float *r, size_t ldr,
                       const float *gamma, float eps, float *y, size_t ldy, const int has_g,
                       const nk_mode mode)
{
    const int nt = mode == NK_STREAM;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        const float ss = nk_add_sumsq(x, r, dim, y, mode == NK_DRAM);
        if (!normkit_rms_fast_ok(ss, eps)) {
            normkit_rmsnorm_row_f64(dim, r, gamma, eps, y);
            continue;
        }
        /* Rounded exactly as in the scalar variant (no rsqrt estimate). */
        const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        const int last = row + 1 == rows;
        const float *next_x = last ? x : x + ldx, *next_r = last ? r : r + ldr;
        if (dim <= NK_PF_L1_MAX)
            nk_scale_row(dim, r, gamma, scale, y, next_x, next_r, has_g, nt, 1);
        else
            nk_scale_row(dim, r, gamma, scale, y, next_x, next_r, has_g, nt, 0);
    }
    if (nt)
        _mm_sfence(); /* streaming stores are weakly ordered: publish them before returning */
}

void normkit_add_rmsnorm_f32__avx2_u4_acc8(size_t rows, size_t dim, const float *x, size_t ldx, float *r,
                                   size_t ldr, const float *gamma, float eps, float *y, size_t ldy,
                                   const normkit_kparams *kp)
{
#define NK_CASE(G, M) nk_rows(rows, dim, x, ldx, r, ldr, G ? gamma : NULL, eps, y, ldy, G, M)
    switch (nk_mode_of(kp, rows, dim) * 2 + (gamma != NULL)) {
    case NK_CACHED * 2: NK_CASE(0, NK_CACHED); break;
    case NK_CACHED * 2 + 1: NK_CASE(1, NK_CACHED); break;
    case NK_DRAM * 2: NK_CASE(0, NK_DRAM); break;
    case NK_DRAM * 2 + 1: NK_CASE(1, NK_DRAM); break;
    case NK_STREAM * 2: NK_CASE(0, NK_STREAM); break;
    default: NK_CASE(1, NK_STREAM); break;
    }
#undef NK_CASE
}
