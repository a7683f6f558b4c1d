/*
 * normkit_linear_f32__avx2 — y = x . W^T + bias, f32, AVX2 + FMA.
 *
 * Dot-product form: an MR x NR tile of outputs keeps one ymm accumulator per output, each
 * summing 8 lanes of k; W is read along its rows (row-major, or packed panels: see
 * normkit_kernel.h), so neither layout needs a transpose and decode-sized calls (rows <= MR)
 * stream W exactly once. Per 8 k: MR + NR loads feed MR * NR FMAs (3 x 4: 7 loads, 12 FMAs;
 * 12 accumulators + 3 activation vectors + 1 W vector = all 16 ymm registers).
 * Blocking: rows in blocks of kp->lin_mc (the activation block stays in L2), k in blocks of
 *   kp->lin_kc, rounded up to a multiple of 8 (the W micro-panel, NR x kc, and the activation
 *   micro-panel, MR x kc, stay in L1 while the tile loop walks the rows); calls with
 *   rows <= MR take k whole (nothing to reuse, fewer reductions). Each k block's sums are
 *   reduced (a fixed hadd tree: 4 accumulators to the 4 lanes of one xmm) and added to y; the
 *   first k block stores its sums, later ones add theirs, and the last adds bias once.
 * Packed weights (ldw == 0): panels of NR = 4 rows, k in vectors of VL = 8 (the enumerator's
 *   pack_nr / pack_vl).
 * Tails: k by vmaskmovps loads with an integer mask (masked lanes never fault, so no access
 *   leaves a row of x or W); rows and columns by smaller tiles (m in 1..3, n in 1..4), each an
 *   unrolled instance; outputs of a partial column tile by masked loads and stores.
 * Prefetch: kp->lin_prefetch floats (k elements) ahead along each W row; 0: none.
 * Numerics: each output is a sum of dim products in float; with lane-wise sums, the fixed
 *   reduction tree and k blocks, |y - exact| <= (dim + 4) u sum_k |x_k W_jk| + u |y|, u = 2^-24
 *   (docs/numerics.md, "Linear"). The order depends on the data's shape and kp->lin_kc (k
 *   whole for rows <= MR), never on the column split.
 */
#include <immintrin.h>
#include <stddef.h>

#include "epilogue_f32__avx2.h"
#include "normkit_kernel.h"

normkit_linear_f32_ukernel normkit_linear_f32__avx2;

enum { MR = 3, NR = 4, VL = 8 };

#define NK_INLINE static inline __attribute__((always_inline))

/* The sums of four vectors' lanes, as the four lanes of one xmm, by a fixed tree. */
NK_INLINE __m128 reduce4(__m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
    const __m256 c0 = _mm256_hadd_ps(v0, v1), c1 = _mm256_hadd_ps(v2, v3);
    const __m256 d = _mm256_hadd_ps(c0, c1);
    return _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
}

/* Lanes 0 .. count-1 set (count <= 8). */
NK_INLINE __m256i lane_mask8(size_t count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * One M x N tile (M <= MR, N <= NR, compile-time after inlining) over kb values of k.
 * a: the tile's first activation row at the block's first k (rows lda apart);
 * w: W row j0 at the block's first k; W row j0 + j is at w + j * wrow, and its next 8 k at
 *    + wkvec; pf: prefetch distance in k (0: none);
 * y: the tile's outputs; first: the first k block (y = sums) or not (y += sums); bias: given
 *    with the last block only, added once to the finished sum.
 */
NK_INLINE void tile(const int M, const int N, size_t kb, const float *a, size_t lda,
                    const float *w, size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                    const float *bias, int first)
{
    __m256 acc[MR][NR];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            acc[i][j] = _mm256_setzero_ps();
    const size_t full = kb / VL, pfv = pf / VL * wkvec;
    for (size_t v = 0; v < full; v++) {
        __m256 av[MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm256_loadu_ps(a + i * lda + v * VL);
        for (int j = 0; j < N; j++) {
            const float *wp = w + j * wrow + v * wkvec;
            if (pfv)
                _mm_prefetch((const char *)(wp + pfv), _MM_HINT_T0);
            const __m256 wv = _mm256_loadu_ps(wp);
            for (int i = 0; i < M; i++)
                acc[i][j] = _mm256_fmadd_ps(av[i], wv, acc[i][j]);
        }
    }
    const size_t rem = kb % VL;
    if (rem) {
        const __m256i m = lane_mask8(rem);
        __m256 av[MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm256_maskload_ps(a + i * lda + full * VL, m);
        for (int j = 0; j < N; j++) {
            const __m256 wv = _mm256_maskload_ps(w + j * wrow + full * wkvec, m);
            for (int i = 0; i < M; i++)
                acc[i][j] = _mm256_fmadd_ps(av[i], wv, acc[i][j]);
        }
    }
    const __m128i mn = _mm_setr_epi32(-(0 < N), -(1 < N), -(2 < N), -(3 < N));
    /* bias comes with the last k block only: added once, to the finished sum */
    __m128 b = _mm_setzero_ps();
    if (bias)
        b = N == NR ? _mm_loadu_ps(bias) : _mm_maskload_ps(bias, mn);
    for (int i = 0; i < M; i++) {
        const __m256 z = _mm256_setzero_ps();
        const __m128 s = reduce4(acc[i][0], 1 < N ? acc[i][1] : z, 2 < N ? acc[i][2] : z,
                                 3 < N ? acc[i][3] : z);
        float *yr = y + i * ldy;
        if (N == NR) {
            const __m128 base = first ? _mm_setzero_ps() : _mm_loadu_ps(yr);
            _mm_storeu_ps(yr, _mm_add_ps(_mm_add_ps(base, s), b));
        } else {
            const __m128 base = first ? _mm_setzero_ps() : _mm_maskload_ps(yr, mn);
            _mm_maskstore_ps(yr, mn, _mm_add_ps(_mm_add_ps(base, s), b));
        }
    }
}

/* Columns per epilogue call: 16 panels of NR, 8 vectors. */
enum { EPI_COLS = 64 };

#define NK_TILE_N(M, N)                                                                            \
    case N: tile(M, N, kb, a, lda, w, wrow, wkvec, pf, y, ldy, bias, first); break;
#define NK_TILE_M(M)                                                                               \
    case M:                                                                                        \
        switch (n) {                                                                               \
            NK_TILE_N(M, 1) NK_TILE_N(M, 2) NK_TILE_N(M, 3) NK_TILE_N(M, 4)                        \
        }                                                                                          \
        break;

/* A tile of m x n (1 <= m <= MR, 1 <= n <= NR), each shape its own unrolled instance. */
static void tile_any(size_t m, size_t n, size_t kb, const float *a, size_t lda, const float *w,
                     size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                     const float *bias, int first)
{
    switch (m) {
        NK_TILE_M(1) NK_TILE_M(2) NK_TILE_M(3)
    }
}

void normkit_linear_f32__avx2(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                              const float *w, size_t ldw, const float *bias, float *y,
                              size_t ldy, const normkit_kparams *kp, float *ws,
                              const normkit_epilogue *epi)
{
    (void)ws;
    const int packed = ldw == 0;
    const size_t kpad = (dim + VL - 1) / VL * VL;
    /* W row j, k: unpacked w + j*ldw + k; packed: panel j/NR, row j%NR at *VL, k/VL at *NR*VL */
    const size_t wrow = packed ? VL : ldw, wkvec = packed ? (size_t)NR * VL : VL;
    const size_t wgroup = packed ? (size_t)NR * kpad : (size_t)NR * ldw;
    const size_t mc = kp->lin_mc ? kp->lin_mc : rows;
    /* kc a multiple of VL, so every k block but the last is whole vectors and a packed
     * panel's k block starts at a vector (the dispatcher's kc, a multiple of 64, already is) */
    const size_t kc = rows <= MR || !kp->lin_kc || kp->lin_kc >= dim
                          ? dim
                          : (kp->lin_kc + VL - 1) / VL * VL;
    const size_t pf = kp->lin_prefetch;
    for (size_t i0 = 0; i0 < rows; i0 += mc) {
        const size_t mb = rows - i0 < mc ? rows - i0 : mc;
        for (size_t k0 = 0; k0 < dim; k0 += kc) {
            const size_t kb = dim - k0 < kc ? dim - k0 : kc;
            const size_t wk = packed ? k0 / VL * wkvec : k0;
            size_t jepi = 0; /* the first column the epilogue has not seen */
            for (size_t j0 = 0; j0 < n; j0 += NR) {
                const size_t nb = n - j0 < NR ? n - j0 : NR;
                const float *wj = w + j0 / NR * wgroup + wk;
                const float *bj = bias ? bias + j0 : NULL;
                for (size_t i = i0; i < i0 + mb; i += MR) {
                    const size_t m = i0 + mb - i < MR ? i0 + mb - i : MR;
                    tile_any(m, nb, kb, x + i * ldx + k0, ldx, wj, wrow, wkvec, pf,
                             y + i * ldy + j0, ldy, k0 + kb == dim ? bj : NULL, k0 == 0);
                }
                /* after the last k block, columns jepi.. are final: the epilogue takes them in
                 * groups of EPI_COLS while they are still in cache */
                if (epi && k0 + kb == dim && (j0 + nb - jepi >= EPI_COLS || j0 + nb == n)) {
                    normkit_epilogue e;
                    nk_epilogue_f32__avx2(normkit_epilogue_at(epi, i0, jepi, &e), mb,
                                          j0 + nb - jepi, y + i0 * ldy + jepi, ldy);
                    jepi = j0 + nb;
                }
            }
        }
    }
}
