/*
 * normkit_linear_f32__sve — y = x . W^T + bias, f32, AArch64 SVE.
 *
 * ISA: SVE (HWCAP_SVE), vector-length agnostic: vl = svcntw() floats, 4 to 64 (128 to 2048
 *   bits, any multiple of 128). SVE is enabled by the pragma below for this file only, so no
 *   SVE instruction can run before the dispatcher's capability check.
 * Dot-product form, as the NEON and AVX-512 variants: an MR x NR tile of outputs keeps one
 * svfloat32_t accumulator per output, each summing vl lanes of k; W is read along its rows,
 * so no layout needs a transpose and decode-sized calls (rows <= MR) stream W exactly once.
 * Per vl values of k: MR + NR loads feed MR * NR FMAs (4 x 6: 10 loads, 24 FMAs; 24
 * accumulators + 4 activation vectors + 1 W vector of the 32 z registers).
 * Packed weights (ldw == 0): pack_nr = pack_vl = 1, i.e. W's rows back to back with k
 *   contiguous, row stride dim (normkit_kernel.h's formula with nr = vl = 1), read by the very
 *   same code as row-major W. A layout of NR-row panels with k in vectors of vl would have to
 *   be declared in the registry (pack_vl) at compile time, while SVE's vl is known only at run
 *   time and may differ between the machines, or threads (prctl PR_SVE_SET_VL), that use
 *   the same packed weights; panels with a fixed pack_vl (e.g. 4) would need a gather or a
 *   shuffle per vector at any other length. Row-major is valid at every vector length.
 * Blocking: rows in blocks of kp->lin_mc (the activation block stays in L2), k in blocks of
 *   kp->lin_kc rounded up to a multiple of vl (so only the call's last k block has a partial
 *   vector; the W micro-panel, NR x kc, and the activation micro-panel, MR x kc, stay in L1
 *   while the tile loop walks the rows); calls with rows <= MR take k whole (nothing to reuse,
 *   fewer reductions). Each k block's sums are reduced and stored into y (first block) or
 *   added to it (later blocks); the last block adds bias, once. ws is not used.
 * Tails: k — no separate tail code: the k loop steps by vl with an svwhilelt predicate, so
 *   the last vector of a block may be partial; inactive lanes are neither loaded (they read
 *   as 0) nor accumulated (merging FMA), and no access leaves a row of x or of W (rows can
 *   end at an unmapped page). Rows and columns: smaller tiles, each shape its own unrolled
 *   instance; y is written only inside its n columns.
 * Epilogue: applied once per finished column group (groups of EPI_COLS columns), right after
 *   the group's last k block, while it is still in cache (epilogue_f32__sve.h).
 * Prefetch: kp->lin_prefetch floats ahead along each W row (0: none, the registry's default).
 * Aliasing: y must not overlap x, W or bias.
 * Numerics: per k block, lane l of an output's accumulator sums the products of the
 *   k = k0 + l mod vl in increasing k by FMA (the partial last vector included), the vl lanes
 *   are combined by svaddv (FADDV: a pairwise tree over vl lanes padded with +0 to a power of
 *   two, ceil(log2 vl) <= 6 levels), the sum is added to y (after the first block), and bias
 *   is added last. The order is fixed for a given vector length, so results do not depend on
 *   alignment, tile shape or position, only on the data, dim, the k blocking (kp->lin_kc, or
 *   k whole when rows <= MR) and the vector length: they may differ between vector lengths,
 *   never between calls on one machine.
 *   Bound, at every vector length: in a block of kb values of k a product passes at most
 *   ceil(kb / vl) FMAs and at most min(6, kb - 1) tree additions that round (an addition of
 *   an exact +0, an empty lane, does not), which is <= kb + 1 for any kb (vl >= 4) and
 *   <= kb - 40 for a full block (kb >= 64); with one addition per later block and bias, that
 *   is at most dim + 2 roundings, so the NEON variant's bound holds:
 *   |y - exact| <= (dim + 4) u sum_k |x_k W_jk| + u |y|, u = 2^-24 (docs/numerics.md, "Linear").
 */
#pragma GCC target("+sve")
#include <arm_sve.h>
#include <stddef.h>

#include "epilogue_f32__sve.h"
#include "normkit_kernel.h"

normkit_linear_f32_ukernel normkit_linear_f32__sve;

enum { MR = 4, NR = 6 };

#define NK_INLINE static inline __attribute__((always_inline))

/* y = s (first block) or y + s, then + bias once: bias comes with the last block only. */
NK_INLINE void finish(float *yp, const float *b, int first, float s)
{
    float v = first ? s : *yp + s;
    if (b)
        v += *b;
    *yp = v;
}

/* SVE vectors are sizeless (no arrays of them): the tile's accumulators are acc<i><j>, each
 * statement below is expanded for every i < MR (rows) and / or j < NR (columns), and the
 * compile-time M and N guards leave only the tile's own. */
#define NK_ROWS(X, j) X(0, j) X(1, j) X(2, j) X(3, j)
#define NK_ALL(X)                                                                                  \
    NK_ROWS(X, 0) NK_ROWS(X, 1) NK_ROWS(X, 2) NK_ROWS(X, 3) NK_ROWS(X, 4) NK_ROWS(X, 5)
#define NK_COLS(X) X(0) X(1) X(2) X(3) X(4) X(5)

#define NK_ACC_DECL(i, j) svfloat32_t acc##i##j = zero;
#define NK_FMA(i, j)                                                                               \
    if (M > i)                                                                                     \
        acc##i##j = svmla_f32_m(pg, acc##i##j, av##i, wv);
#define NK_COL(j)                                                                                  \
    if (N > j) {                                                                                   \
        const float *wp = w + (size_t)j * wrow + k;                                                \
        if (pf)                                                                                    \
            __builtin_prefetch(wp + pf, 0, 3);                                                     \
        const svfloat32_t wv = svld1_f32(pg, wp);                                                  \
        NK_ROWS(NK_FMA, j)                                                                         \
    }
#define NK_OUT(i, j)                                                                               \
    if (M > i && N > j)                                                                            \
        finish(y + (size_t)i * ldy + j, bias ? bias + j : NULL, first,                             \
               svaddv_f32(all, acc##i##j));

/*
 * One M x N tile (M <= MR, N <= NR, compile-time after inlining) over kb values of k.
 * a: the tile's first activation row at the block's first k (rows lda apart);
 * w: W row j0 at the block's first k (rows wrow apart); pf: prefetch distance in k (0: none);
 * y: the tile's outputs (bias: the tile's first bias, or NULL);
 * first: the first k block (y = sums) or not (y += sums); bias: with the last block only.
 */
NK_INLINE void tile(const int M, const int N, size_t kb, const float *a, size_t lda,
                    const float *w, size_t wrow, size_t pf, float *y, size_t ldy,
                    const float *bias, int first)
{
    const svbool_t all = svptrue_b32();
    const svfloat32_t zero = svdup_n_f32(0.0f);
    const size_t vl = svcntw();
    NK_ALL(NK_ACC_DECL)
    for (size_t k = 0; k < kb; k += vl) {
        /* all lanes but in the last vector of the block, which may be partial */
        const svbool_t pg = svwhilelt_b32_u64(k, kb);
        const svfloat32_t av0 = svld1_f32(pg, a + k);
        const svfloat32_t av1 = M > 1 ? svld1_f32(pg, a + lda + k) : zero;
        const svfloat32_t av2 = M > 2 ? svld1_f32(pg, a + 2 * lda + k) : zero;
        const svfloat32_t av3 = M > 3 ? svld1_f32(pg, a + 3 * lda + k) : zero;
        NK_COLS(NK_COL)
    }
    NK_ALL(NK_OUT)
}

#define NK_TILE_N(M, N)                                                                            \
    case N: tile(M, N, kb, a, lda, w, wrow, pf, y, ldy, bias, first); break;
#define NK_TILE_M(M)                                                                               \
    case M:                                                                                        \
        switch (n) {                                                                               \
            NK_TILE_N(M, 1) NK_TILE_N(M, 2) NK_TILE_N(M, 3)                                        \
            NK_TILE_N(M, 4) NK_TILE_N(M, 5) NK_TILE_N(M, 6)                                        \
        }                                                                                          \
        break;

/* A tile of m x n (1 <= m <= MR, 1 <= n <= NR), each shape its own unrolled instance. */
static void tile_any(size_t m, size_t n, size_t kb, const float *a, size_t lda, const float *w,
                     size_t wrow, size_t pf, float *y, size_t ldy, const float *bias, int first)
{
    switch (m) {
        NK_TILE_M(1) NK_TILE_M(2) NK_TILE_M(3) NK_TILE_M(4)
    }
}

/* Columns per epilogue call: 8 tiles of NR. */
enum { EPI_COLS = 48 };

void normkit_linear_f32__sve(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                             const float *w, size_t ldw, const float *bias, float *y,
                             size_t ldy, const normkit_kparams *kp, float *ws,
                             const normkit_epilogue *epi)
{
    (void)ws;
    const size_t vl = svcntw();
    /* W row j, k: w + j * wrow + k, row-major or packed (pack_nr = pack_vl = 1: stride dim) */
    const size_t wrow = ldw ? ldw : dim;
    const size_t mc = kp->lin_mc ? kp->lin_mc : rows;
    /* blocks of whole vectors: only the call's last k block ends in a partial one */
    const size_t kc = rows <= MR || !kp->lin_kc ? dim : (kp->lin_kc + vl - 1) / vl * vl;
    const size_t pf = kp->lin_prefetch;
    for (size_t i0 = 0; i0 < rows; i0 += mc) {
        const size_t mb = rows - i0 < mc ? rows - i0 : mc;
        for (size_t k0 = 0; k0 < dim; k0 += kc) {
            const size_t kb = dim - k0 < kc ? dim - k0 : kc;
            size_t jepi = 0; /* the first column the epilogue has not seen */
            for (size_t j0 = 0; j0 < n; j0 += NR) {
                const size_t nb = n - j0 < NR ? n - j0 : NR;
                const float *wj = w + j0 * wrow + k0;
                const float *bj = bias ? bias + j0 : NULL;
                for (size_t i = i0; i < i0 + mb; i += MR) {
                    const size_t m = i0 + mb - i < MR ? i0 + mb - i : MR;
                    tile_any(m, nb, kb, x + i * ldx + k0, ldx, wj, wrow, pf, y + i * ldy + j0,
                             ldy, k0 + kb == dim ? bj : NULL, k0 == 0);
                }
                /* after the last k block, columns jepi.. are final: the epilogue takes them in
                 * groups of EPI_COLS while they are still in cache */
                if (epi && k0 + kb == dim && (j0 + nb - jepi >= EPI_COLS || j0 + nb == n)) {
                    normkit_epilogue e;
                    nk_epilogue_f32__sve(normkit_epilogue_at(epi, i0, jepi, &e), mb,
                                         j0 + nb - jepi, y + i0 * ldy + jepi, ldy);
                    jepi = j0 + nb;
                }
            }
        }
    }
}
