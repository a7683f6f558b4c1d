/*
 * normkit_linear_f32__neon — y = x . W^T + bias, f32, AArch64 AdvSIMD (arm_neon.h).
 *
 * ISA: AdvSIMD, part of the AArch64 baseline (HWCAP_ASIMD); no extra compiler flags.
 * Dot-product form, as the AVX-512 variant: an MR x NR tile of outputs keeps one float32x4_t
 * accumulator per output, each summing 4 lanes of k; W is read along its rows (row-major, or
 * packed panels of NR = 6 rows with k in vectors of VL = 4: see normkit_kernel.h), so neither
 * layout needs a transpose and decode-sized calls (rows <= MR) stream W exactly once. Per 4 k:
 * MR + NR loads feed MR * NR FMAs (4 x 6: 10 loads, 24 FMAs; 24 accumulators + 4 activation
 * vectors + 1-2 W vectors of the 32 q registers).
 * Blocking: rows in blocks of kp->lin_mc (the activation block stays in L2), k in blocks of
 *   kp->lin_kc, rounded up to a multiple of 4 (the dispatcher's are multiples of 64; the W
 *   micro-panel, NR x kc, and the activation micro-panel, MR x kc, stay in L1 while the tile
 *   loop walks the rows); calls with rows <= MR take k whole (nothing to reuse, fewer
 *   reductions). Each k block's sums are reduced (a fixed tree) and stored into y (first
 *   block) or added to it (later blocks); the last block adds bias, once.
 * Tails: k — NEON has no masked loads and no access may leave a row of x or of row-major W
 *   (rows can end at an unmapped page), so the last dim % 4 values of k are read one float at
 *   a time into zeroed vectors and go through the same FMAs as a full vector (lanes past dim
 *   are 0 * 0). Rows and columns: smaller tiles, each shape its own unrolled instance; y is
 *   written only inside its n columns.
 * Prefetch: kp->lin_prefetch floats ahead along each W row (0: none).
 * Numerics: per k block, lane l of an output's accumulator sums the products of the k = l mod 4
 *   in increasing k by FMA (the k tail included), the 4 lanes are combined as (l0 + l1) +
 *   (l2 + l3), then added to y (after the first block), and bias is added last. The order is fixed, so results do not
 *   depend on alignment, tile shape or position, only on the data, dim and the k blocking
 *   (kp->lin_kc, or k whole when rows <= MR).
 *   |y - exact| <= (dim + 4) u sum_k |x_k W_jk| + u |y|, u = 2^-24 (docs/numerics.md, "Linear").
 */
#include <arm_neon.h>
#include <stddef.h>

#include "epilogue_f32__neon.h"
#include "normkit_kernel.h"

normkit_linear_f32_ukernel normkit_linear_f32__neon;

enum { MR = 4, NR = 6, VL = 4 };

#define NK_INLINE static inline __attribute__((always_inline))

/* The first cnt (1..3) floats at p in lanes 0..cnt-1, the other lanes 0; reads nothing else. */
NK_INLINE float32x4_t load_part(const float *p, size_t cnt)
{
    float32x4_t v = vdupq_n_f32(0.0f);
    v = vld1q_lane_f32(p, v, 0);
    if (cnt > 1)
        v = vld1q_lane_f32(p + 1, v, 1);
    if (cnt > 2)
        v = vld1q_lane_f32(p + 2, v, 2);
    return v;
}

/* cnt (1..4, a compile-time constant after inlining) floats: lanes 0..cnt-1 of v, to p / from p
 * (the other lanes 0). */
NK_INLINE float32x4_t load_n(const float *p, const int cnt)
{
    switch (cnt) {
    case 1: return vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
    case 2: return vcombine_f32(vld1_f32(p), vdup_n_f32(0.0f));
    case 3: return vld1q_lane_f32(p + 2, vcombine_f32(vld1_f32(p), vdup_n_f32(0.0f)), 2);
    default: return vld1q_f32(p);
    }
}

NK_INLINE void store_n(float *p, float32x4_t v, const int cnt)
{
    switch (cnt) {
    case 1: vst1q_lane_f32(p, v, 0); break;
    case 2: vst1_f32(p, vget_low_f32(v)); break;
    case 3: vst1_f32(p, vget_low_f32(v)); vst1q_lane_f32(p + 2, v, 2); break;
    default: vst1q_f32(p, v); break;
    }
}

/* Each vector's lane sum, (l0 + l1) + (l2 + l3), as the 4 lanes of one vector. */
NK_INLINE float32x4_t reduce4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d)
{
    return vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d));
}

/* y[0..cnt) = s (first block) or y + s, then + bias once: bias comes with the last block only. */
NK_INLINE void finish(float *yr, const float *bias, int first, float32x4_t s, const int cnt)
{
    float32x4_t v = first ? s : vaddq_f32(load_n(yr, cnt), s);
    if (bias)
        v = vaddq_f32(v, load_n(bias, cnt));
    store_n(yr, v, cnt);
}

/*
 * One M x N tile (M <= MR, N <= NR, compile-time after inlining) over kb values of k.
 * a: the tile's first activation row at the block's first k (rows lda apart);
 * w: W row j0 at the block's first k; W row j0 + j is at w + j * wrow, and its next 4 k at
 *    + wkvec; pf: prefetch distance in k (0: none);
 * y: the tile's outputs (bias: the tile's first bias, or NULL);
 * first: the first k block (y = sums) or not (y += sums); bias: with the last block only.
 */
NK_INLINE void tile(const int M, const int N, size_t kb, const float *a, size_t lda,
                    const float *w, size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                    const float *bias, int first)
{
    float32x4_t acc[MR][NR];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            acc[i][j] = vdupq_n_f32(0.0f);
    const size_t full = kb / VL, pfv = pf / VL * wkvec;
    for (size_t v = 0; v < full; v++) {
        float32x4_t av[MR];
        for (int i = 0; i < M; i++)
            av[i] = vld1q_f32(a + (size_t)i * lda + v * VL);
        for (int j = 0; j < N; j++) {
            const float *wp = w + (size_t)j * wrow + v * wkvec;
            if (pfv)
                __builtin_prefetch(wp + pfv, 0, 3);
            const float32x4_t wv = vld1q_f32(wp);
            for (int i = 0; i < M; i++)
                acc[i][j] = vfmaq_f32(acc[i][j], av[i], wv);
        }
    }
    const size_t rem = kb % VL;
    if (rem) {
        /* The last dim % 4 values of k, a float at a time: lane l takes k = full * 4 + l. */
        float32x4_t av[MR];
        for (int i = 0; i < M; i++)
            av[i] = load_part(a + (size_t)i * lda + full * VL, rem);
        for (int j = 0; j < N; j++) {
            const float32x4_t wv = load_part(w + (size_t)j * wrow + full * wkvec, rem);
            for (int i = 0; i < M; i++)
                acc[i][j] = vfmaq_f32(acc[i][j], av[i], wv);
        }
    }
    const float32x4_t z = vdupq_n_f32(0.0f);
    for (int i = 0; i < M; i++) {
        float *yr = y + (size_t)i * ldy;
        /* columns 0..3: one vector of 4 sums; columns 4..5: lanes 0..1 of another */
        const float32x4_t s0 = reduce4(acc[i][0], N > 1 ? acc[i][1] : z, N > 2 ? acc[i][2] : z,
                                       N > 3 ? acc[i][3] : z);
        finish(yr, bias, first, s0, N < 4 ? N : 4);
        if (N > 4) {
            const float32x4_t s1 = reduce4(acc[i][4], N > 5 ? acc[i][5] : z, z, z);
            finish(yr + 4, bias ? bias + 4 : NULL, first, s1, N - 4);
        }
    }
}

#define NK_TILE_N(M, N)                                                                            \
    case N: tile(M, N, kb, a, lda, w, wrow, wkvec, pf, y, ldy, bias, first); break;
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
                     const float *bias, int first)
{
    switch (m) {
        NK_TILE_M(1) NK_TILE_M(2) NK_TILE_M(3) NK_TILE_M(4)
    }
}

/* Columns per epilogue call: 8 panels of NR, 12 vectors. */
enum { EPI_COLS = 48 };

void normkit_linear_f32__neon(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
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
    /* k blocks start at multiples of VL, so a packed panel's k block starts at a vector */
    const size_t kc = rows <= MR || !kp->lin_kc ? dim : (kp->lin_kc + VL - 1) / VL * VL;
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
                    nk_epilogue_f32__neon(normkit_epilogue_at(epi, i0, jepi, &e), mb,
                                          j0 + nb - jepi, y + i0 * ldy + jepi, ldy);
                    jepi = j0 + nb;
                }
            }
        }
    }
}
