/*
 * normkit_linear_f32__avx512 — y = x . W^T + bias, f32, AVX-512 (F + DQ + VL).
 *
 * Two forms (which one: the entry at the end of this file):
 *  - Panel (broadcast) form, for packed W (the handle's layout: W^T in k-major panels of 48
 *    columns, pack_nr = 48, pack_vl = 1) and for row-major W from kp->lin_pack_rows rows on
 *    (packed a 48 x 512 panel at a time into the workspace, 16 x 16 register transposes):
 *    8 rows x 3 vectors of outputs in 24 zmm accumulators; per k, 3 panel loads and 8
 *    broadcasts feed 24 FMAs, no reduction; y carries the sums between k blocks of 512.
 *  - Dot-product form, for row-major W below that: an MR x NR (4 x 6) tile keeps one zmm
 *    accumulator per output, summing 16 lanes of k (10 loads per 24 FMAs), W read along its
 *    rows; rows in blocks of kp->lin_mc, k in blocks of kp->lin_kc (k whole for rows <= MR);
 *    between k blocks each tile's accumulators wait in the workspace, so every output is
 *    reduced once, by a fixed tree (with ws == NULL every block is reduced into y).
 * Tails: k by opmask loads (masked lanes never fault), rows and columns by smaller tiles;
 *   packed panels are zero past n. Prefetch: the next W block (dot form), the packed stream
 *   kp->lin_prefetch rows of k ahead and the next tile's running sums (panel form).
 * Numerics: each output sums dim products in float, then adds bias once:
 *   |y - exact| <= (dim + 4) u sum_k |x_k W_jk| + u |y|, u = 2^-24; the order depends on the
 *   form and blocking, never on the column split (docs/numerics.md, "Linear").
 */
#include <immintrin.h>
#include <stddef.h>

#include "epilogue_f32__avx512.h"
#include "normkit_kernel.h"

normkit_linear_f32_ukernel normkit_linear_f32__avx512;

enum { MR = 4, NR = 6, VL = 16 };

#define NK_INLINE static inline __attribute__((always_inline))

/* The sums of eight vectors' lanes, as the eight lanes of one ymm, by a fixed tree. */
NK_INLINE __m256 reduce8(const __m512 v[8])
{
    __m256 b[8];
    for (int i = 0; i < 8; i++)
        b[i] = _mm256_add_ps(_mm512_castps512_ps256(v[i]), _mm512_extractf32x8_ps(v[i], 1));
    const __m256 c0 = _mm256_hadd_ps(b[0], b[1]), c1 = _mm256_hadd_ps(b[2], b[3]);
    const __m256 c2 = _mm256_hadd_ps(b[4], b[5]), c3 = _mm256_hadd_ps(b[6], b[7]);
    const __m256 d0 = _mm256_hadd_ps(c0, c1), d1 = _mm256_hadd_ps(c2, c3);
    return _mm256_add_ps(_mm256_permute2f128_ps(d0, d1, 0x20), _mm256_permute2f128_ps(d0, d1, 0x31));
}

/*
 * One M x N tile (M <= MR, N <= NR, compile-time after inlining) over kb values of k.
 * a: the tile's first activation row at the block's first k (rows lda apart);
 * w: W row j0 at the block's first k; W row j0 + j is at w + j * wrow, and its next 16 k at
 *    + wkvec; pf: prefetch distance in k (0: none);
 * y: the tile's outputs; first: the first k block (y = sums) or not (y += sums); bias: given
 *    with the last block only, added once to the finished sum.
 */
/* Lines of the next W block to prefetch into L2 while this tile runs: rows of `len` floats,
 * `row` apart, from line `from` (in row-major order of lines) for `count` lines. */
typedef struct {
    const float *base;
    size_t row, lines_per_row, from, count;
} nk_next;

NK_INLINE void tile(const int M, const int N, size_t kb, const float *a, size_t lda,
                    const float *w, size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                    const float *bias, int first, int last, float *spill, const nk_next *nx)
{
    /* spill: the tile's accumulators between k blocks (MR x NR vectors), so each output is
     * reduced once, after its last block; NULL: reduce every block into y instead */
    __m512 acc[MR][NR];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            acc[i][j] = spill && !first ? _mm512_load_ps(spill + (i * NR + j) * VL)
                                        : _mm512_setzero_ps();
    const size_t full = kb / VL, pfv = pf / VL * wkvec;
    /* spread the next block's lines evenly over this tile's k steps */
    size_t left = nx ? nx->count : 0, per = full ? (left + full - 1) / full : 0;
    size_t pr = nx && nx->lines_per_row ? nx->from / nx->lines_per_row : 0;
    size_t po = nx && nx->lines_per_row ? nx->from % nx->lines_per_row * VL : 0;
    for (size_t v = 0; v < full; v++) {
        for (size_t p = 0; p < per && left; p++, left--) {
            _mm_prefetch((const char *)(nx->base + pr * nx->row + po), _MM_HINT_T1);
            po += VL;
            if (po >= nx->lines_per_row * VL)
                po = 0, pr++;
        }
        __m512 av[MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm512_loadu_ps(a + i * lda + v * VL);
        for (int j = 0; j < N; j++) {
            const float *wp = w + j * wrow + v * wkvec;
            if (pfv)
                _mm_prefetch((const char *)(wp + pfv), _MM_HINT_T0);
            __m512 wv = _mm512_loadu_ps(wp);
            /* one load feeds M FMAs: keep the compiler from folding it into each of them */
            __asm__("" : "+v"(wv));
            for (int i = 0; i < M; i++)
                acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
        }
    }
    const size_t rem = kb % VL;
    if (rem) {
        const __mmask16 m = (__mmask16)((1u << rem) - 1);
        __m512 av[MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm512_maskz_loadu_ps(m, a + i * lda + full * VL);
        for (int j = 0; j < N; j++) {
            const __m512 wv = _mm512_maskz_loadu_ps(m, w + j * wrow + full * wkvec);
            for (int i = 0; i < M; i++)
                acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
        }
    }
    if (spill && !last) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                _mm512_store_ps(spill + (i * NR + j) * VL, acc[i][j]);
        return;
    }
    if (spill)
        first = 1; /* y is written once, from every block's sums */
    /* bias comes with the last k block only (the driver passes it then): added once, to the
     * finished sum, so a large bias does not take part in every rounding */
    const __mmask8 mn = (__mmask8)((1u << N) - 1);
    const __m256 b = bias ? _mm256_maskz_loadu_ps(mn, bias) : _mm256_setzero_ps();
    for (int i = 0; i < M; i++) {
        __m512 v[8];
        for (int j = 0; j < 8; j++)
            v[j] = j < N ? acc[i][j] : _mm512_setzero_ps();
        const __m256 s = reduce8(v);
        float *yr = y + i * ldy;
        const __m256 base = first ? _mm256_setzero_ps() : _mm256_maskz_loadu_ps(mn, yr);
        _mm256_mask_storeu_ps(yr, mn, _mm256_add_ps(_mm256_add_ps(base, s), b));
    }
}

#define NK_TILE_N(M, N)                                                                            \
    case N: tile(M, N, kb, a, lda, w, wrow, wkvec, pf, y, ldy, bias, first, last, spill, nx); break;
#define NK_TILE_M(M)                                                                               \
    case M:                                                                                        \
        switch (n) {                                                                               \
            NK_TILE_N(M, 1) NK_TILE_N(M, 2) NK_TILE_N(M, 3)                                        \
            NK_TILE_N(M, 4) NK_TILE_N(M, 5) NK_TILE_N(M, 6)                                        \
        }                                                                                          \
        break;

/* A tile of m x n (1 <= m <= MR, 1 <= n <= NR), each shape its own unrolled instance. */
static void tile_any(size_t m, size_t n, size_t kb, const float *a, size_t lda, const float *w,
                     size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                     const float *bias, int first, int last, float *spill, const nk_next *nx)
{
    switch (m) {
        NK_TILE_M(1) NK_TILE_M(2) NK_TILE_M(3) NK_TILE_M(4)
    }
}

/* Columns per epilogue call of the dot-product form: 16 panels of NR, 6 vectors. */
enum { EPI_COLS = 96 };

/* The dot-product form on row-major W (ldw >= dim): decode-sized and small row counts. */
static void dot_form(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                     const float *w, size_t ldw, const float *bias, float *y, size_t ldy,
                     const normkit_kparams *kp, float *ws, const normkit_epilogue *epi)
{
    const int packed = 0;
    const size_t kpad = (dim + VL - 1) / VL * VL;
    /* W row j, k: unpacked w + j*ldw + k; packed: panel j/NR, row j%NR at *VL, k/VL at *NR*VL */
    const size_t wrow = packed ? VL : ldw, wkvec = packed ? (size_t)NR * VL : VL;
    const size_t wgroup = packed ? (size_t)NR * kpad : (size_t)NR * ldw;
    const size_t mc = kp->lin_mc ? kp->lin_mc : rows;
    const size_t kc = rows <= MR || !kp->lin_kc ? dim : kp->lin_kc;
    const size_t pf = kp->lin_prefetch;
    for (size_t i0 = 0; i0 < rows; i0 += mc) {
        const size_t mb = rows - i0 < mc ? rows - i0 : mc;
        /* j outside k: each panel of NR rows of W is read start to end, one long stream
         * (the prefetchers' favourite), while the activation block waits in L2. The first
         * tile of a (j, k) block brings its W from memory; the others reuse it from L1 and
         * meanwhile prefetch the next block's W into L2, so the next first tile finds it
         * there (with one tile per block — decode — there is nothing to overlap with). */
        const size_t tiles = (mb + MR - 1) / MR;
        size_t jepi = 0; /* the first column the epilogue has not seen */
        for (size_t j0 = 0; j0 < n; j0 += NR) {
            const size_t nb = n - j0 < NR ? n - j0 : NR;
            const float *bj = bias ? bias + j0 : NULL;
            for (size_t k0 = 0; k0 < dim; k0 += kc) {
                const size_t kb = dim - k0 < kc ? dim - k0 : kc;
                /* k0 is a multiple of VL (kc is), so a packed panel's k block starts at a
                 * vector */
                const float *wj = w + j0 / NR * wgroup + (packed ? k0 / VL * wkvec : k0);
                /* the next block: the next k block of these rows, else the next rows' first */
                nk_next nx = {0};
                size_t lines = 0;
                if (tiles > 1 && (k0 + kb < dim || j0 + NR < n)) {
                    const size_t k1 = k0 + kb < dim ? k0 + kb : 0, j1 = k1 ? j0 : j0 + NR;
                    const size_t kb1 = dim - k1 < kc ? dim - k1 : kc;
                    const size_t nb1 = n - j1 < NR ? n - j1 : NR;
                    if (packed) { /* one contiguous run of panel */
                        nx.base = w + j1 / NR * wgroup + k1 / VL * wkvec;
                        nx.lines_per_row = (kb1 + VL - 1) / VL * NR;
                        lines = nx.lines_per_row;
                    } else {
                        nx.base = w + j1 * ldw + k1;
                        nx.row = ldw;
                        nx.lines_per_row = (kb1 + VL - 1) / VL;
                        lines = nx.lines_per_row * nb1;
                    }
                }
                for (size_t t = 0, i = i0; i < i0 + mb; i += MR, t++) {
                    const size_t m = i0 + mb - i < MR ? i0 + mb - i : MR;
                    if (lines && t > 0) {
                        nx.from = lines * (t - 1) / (tiles - 1);
                        nx.count = lines * t / (tiles - 1) - nx.from;
                    }
                    tile_any(m, nb, kb, x + i * ldx + k0, ldx, wj, wrow, wkvec, pf,
                             y + i * ldy + j0, ldy, k0 + kb == dim ? bj : NULL, k0 == 0,
                             k0 + kb == dim,
                             ws ? ws + t * (size_t)(MR * NR * VL) : NULL,
                             lines && t > 0 ? &nx : NULL);
                }
            }
            /* columns jepi.. are final: the epilogue takes them in groups of EPI_COLS (whole
             * vectors, while they are still in L1/L2) rather than per 6-column panel */
            if (epi && (j0 + nb - jepi >= EPI_COLS || j0 + nb == n)) {
                normkit_epilogue e;
                nk_epilogue_f32__avx512(normkit_epilogue_at(epi, i0, jepi, &e), mb, j0 + nb - jepi,
                                        y + i0 * ldy + jepi, ldy);
                jepi = j0 + nb;
            }
        }
    }
}

/* ---- the broadcast form: W in panels of BN columns, k-major (packed, or packed on the fly) ---- */

/* BK: k per block of the panel form; 512 rather than 256 halves how often y, which carries the
 * sums between blocks and outgrows L2 at a few hundred rows, is re-read and re-written
 * (interleaved A/B on the Turin-like guest: +2-10%, most at 512 rows) */
enum { BR = 8, BNV = 3, BN = BNV * VL, BK = 512 };

/*
 * One M x (NV vectors) tile over kb values of k: per k, NV loads of the panel and M broadcasts
 * of x feed M * NV FMAs (8 x 3: 11 loads, 24 FMAs, no reduction; 8 rows, so a decode batch of
 * 8 streams W once). y holds the running sums
 * between k blocks; bias, given with the last block only, is added once at the end. lastmask:
 * the columns of the last vector.
 */
NK_INLINE void btile(const int M, const int NV, __mmask16 lastmask, size_t kb, const float *a,
                     size_t lda, const float *p, float *y, size_t ldy, const float *bias,
                     int first, size_t pf, const float *ynext)
{
    /* the next tile's running sums, which live in L3 once y outgrows L2: their latency
     * hides behind this tile's k loop (interleaved A/B, 512 rows of 768 x 3072: see the
     * commit) */
    if (ynext)
        for (int i = 0; i < BR; i++)
            for (int v = 0; v < NV; v++)
                _mm_prefetch((const char *)(ynext + i * ldy + v * VL), _MM_HINT_T0);
    __m512 acc[BR][BNV];
    for (int v = 0; v < NV; v++) {
        const __mmask16 mk = v == NV - 1 ? lastmask : (__mmask16)0xffff;
        for (int i = 0; i < M; i++)
            acc[i][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk, y + i * ldy + v * VL);
    }
    for (size_t k = 0; k < kb; k++) {
        __m512 wv[BNV];
        /* packed W is one stream per panel: a software prefetch pf rows of k ahead keeps more
         * lines in flight than the hardware prefetcher alone (interleaved A/B on the Turin-like
         * guest, 4096 x 4096: +20-35% at 1-8 rows, +4-10% at 32-128 with pf = 16) */
        if (pf)
            for (int v = 0; v < NV; v++)
                _mm_prefetch((const char *)(p + (k + pf) * BN + v * VL), _MM_HINT_T0);
        for (int v = 0; v < NV; v++)
            wv[v] = _mm512_loadu_ps(p + k * BN + v * VL); /* aligned in practice; not required */
        for (int i = 0; i < M; i++) {
            __m512 ab = _mm512_set1_ps(a[i * lda + k]);
            /* one broadcast feeds NV FMAs: keep it out of each of them */
            __asm__("" : "+v"(ab));
            for (int v = 0; v < NV; v++)
                acc[i][v] = _mm512_fmadd_ps(ab, wv[v], acc[i][v]);
        }
    }
    for (int v = 0; v < NV; v++) {
        const __mmask16 mk = v == NV - 1 ? lastmask : (__mmask16)0xffff;
        /* bias with the last k block only: added once, to the finished sum */
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(mk, bias + v * VL) : _mm512_setzero_ps();
        for (int i = 0; i < M; i++)
            _mm512_mask_storeu_ps(y + i * ldy + v * VL, mk, _mm512_add_ps(acc[i][v], b0));
    }
}

#define NK_BTILE_V(M, NV)                                                                          \
    case NV: btile(M, NV, lastmask, kb, a, lda, p, y, ldy, bias, first, pf, ynext); break;
#define NK_BTILE_M(M)                                                                              \
    case M:                                                                                        \
        switch (nv) { NK_BTILE_V(M, 1) NK_BTILE_V(M, 2) NK_BTILE_V(M, 3) }                        \
        break;

static void btile_any(size_t m, size_t nv, __mmask16 lastmask, size_t kb, const float *a,
                      size_t lda, const float *p, float *y, size_t ldy, const float *bias,
                      int first, size_t pf, const float *ynext)
{
    switch (m) {
        NK_BTILE_M(1) NK_BTILE_M(2) NK_BTILE_M(3) NK_BTILE_M(4)
        NK_BTILE_M(5) NK_BTILE_M(6) NK_BTILE_M(7) NK_BTILE_M(8)
    }
}

/* 16 x 16 transpose in registers (rows in, columns out). */
NK_INLINE void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}

/* Rows j0..j0+nb-1 of row-major W, k0..k0+kb-1, into a panel p[k * BN + c] (zeros past nb):
 * 16 x 16 blocks transposed in registers; masked loads at the k tail never leave a row. */
static void pack_panel(const float *w, size_t ldw, size_t nb, size_t kb, float *p)
{
    for (size_t c0 = 0; c0 < BN; c0 += 16)
        for (size_t k = 0; k < kb; k += 16) {
            const size_t kn = kb - k < 16 ? kb - k : 16;
            const __mmask16 mk = (__mmask16)((1u << kn) - 1);
            __m512 r[16];
            for (size_t c = 0; c < 16; c++)
                r[c] = c0 + c < nb ? _mm512_maskz_loadu_ps(mk, w + (c0 + c) * ldw + k)
                                   : _mm512_setzero_ps();
            transpose16(r);
            for (size_t kk = 0; kk < kn; kk++)
                _mm512_store_ps(p + (k + kk) * BN + c0, r[kk]);
        }
}

/* Panels: packed (ldw == 0: the handle's, BN columns, k-major, zero past n), or row-major W
 * packed here, one BN x BK block at a time, into the workspace (where it stays in L2). */
static void bcast_form(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                       const float *w, size_t ldw, const float *bias, float *y, size_t ldy,
                       const normkit_kparams *kp, float *panel_ws, const normkit_epilogue *epi)
{
    const int packed = ldw == 0;
    const size_t mc = kp->lin_mc ? kp->lin_mc : rows;
    for (size_t i0 = 0; i0 < rows; i0 += mc) {
        const size_t mb = rows - i0 < mc ? rows - i0 : mc;
        /* k outside j: the activation block (mb x BK) stays in L2 across every panel */
        for (size_t k0 = 0; k0 < dim; k0 += BK) {
            const size_t kb = dim - k0 < BK ? dim - k0 : BK;
            for (size_t j0 = 0; j0 < n; j0 += BN) {
                const size_t nb = n - j0 < BN ? n - j0 : BN;
                const size_t nv = (nb + VL - 1) / VL;
                const __mmask16 lastmask =
                    (__mmask16)(nb % VL ? (1u << (nb % VL)) - 1 : 0xffffu);
                const float *p;
                if (packed) {
                    p = w + j0 * dim + k0 * BN; /* panel j0 / BN: BN * dim floats */
                } else {
                    pack_panel(w + j0 * ldw + k0, ldw, nb, kb, panel_ws);
                    p = panel_ws;
                }
                const float *bj = bias ? bias + j0 : NULL;
                for (size_t i = i0; i < i0 + mb; i += BR) {
                    const size_t m = i0 + mb - i < BR ? i0 + mb - i : BR;
                    /* the next tile's running sums, which it reads unless this is the first k
                     * block (prefetching past the last row cannot fault) */
                    const float *ynext = k0 > 0 && i + BR < i0 + mb ? y + (i + BR) * ldy + j0 : NULL;
                    btile_any(m, nv, lastmask, kb, x + i * ldx + k0, ldx, p, y + i * ldy + j0,
                              ldy, k0 + kb == dim ? bj : NULL, k0 == 0,
                              packed ? kp->lin_prefetch : 0, ynext);
                    if (epi && k0 + kb == dim) { /* the tile is final and in L1 */
                        normkit_epilogue e;
                        nk_epilogue_f32__avx512(normkit_epilogue_at(epi, i, j0, &e), m, nb,
                                                y + i * ldy + j0, ldy);
                    }
                }
            }
        }
    }
}

/*
 * Packed W (ldw == 0) always takes the broadcast form (the handle's layout: pack_nr = BN
 * columns, pack_vl = 1, i.e. W^T in panels of 48 columns); row-major W takes it from
 * kp->lin_pack_rows rows up (then packing each panel block costs less than it saves), the
 * dot-product form below that.
 */
void normkit_linear_f32__avx512(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                                const float *w, size_t ldw, const float *bias, float *y,
                                size_t ldy, const normkit_kparams *kp, float *ws,
                                const normkit_epilogue *epi)
{
    if (ldw == 0 || (ws && kp->lin_pack_rows && rows >= kp->lin_pack_rows)) {
        /* the panel goes after the dot form's accumulator space */
        float *panel = ws ? ws + normkit_linear_spill_floats(kp, rows) - (size_t)BN * BK : NULL;
        bcast_form(rows, dim, n, x, ldx, w, ldw, bias, y, ldy, kp, panel, epi);
    } else {
        dot_form(rows, dim, n, x, ldx, w, ldw, bias, y, ldy, kp, ws, epi);
    }
}
