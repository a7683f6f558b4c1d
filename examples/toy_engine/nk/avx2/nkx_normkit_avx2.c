/*
 * nkx_normkit_avx2.c: normkit kernels exported for avx2 by normkit-export; declarations and
 * documentation in nkx_normkit.h. Generated: edit normkit and export again rather than this file.
 *   command: normkit-export --isa avx2 --ops rmsnorm,linear,rmsnorm_linear --l1d 49152 --l2
 *     1048576 --prefix nkx_ -o DIR
 *   tuning: built-in defaults (kernels/normkit_defaults.inc and the registry's knobs);
 *     caches L1d 49152 B, L2 1048576 B
 * Builds with any C11 compiler and no flags (`cc -c`; add your usual -O2): the kernels carry
 * their ISA as target attributes, the rest is plain C. Names from normkit are renamed into
 * this export's namespace (normkit_X -> nkx_nk_X, NORMKIT_X -> NKX_NK_X; each kernel file's
 * private names get a nkx_kN_ / nkx_hN_ prefix); comments keep normkit's names.
 *
 * Copyright (c) the normkit authors. MIT License (normkit's, see its meson.build):
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 * and associated documentation files (the "Software"), to deal in the Software without
 * restriction, including without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions: The above copyright
 * notice and this permission notice shall be included in all copies or substantial portions of
 * the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
 * PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
 * LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 * OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
 * IN THE SOFTWARE.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "nkx_normkit.h"

/* normkit is built as ISO C (no contraction of a * b + c into an FMA): so is this file, for
 * the same results bit for bit whatever the compiler's default. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/*
 * normkit_kernel.h — the one header every kernel variant includes.
 *
 * It holds the uniform signature of each operator, the tuning knobs a variant receives,
 * and the shared rare path (a row recomputed with double accumulation). A kernel file
 * plus this header can be copied into another engine as they stand.
 *
 * Kernels trust their arguments: every variant assumes the kernel-level contract stated in
 * normkit_kernels.h (rows >= 1, dim >= 1, strides >= dim, each matrix addressable so that
 * rows*dim*4 cannot overflow, x, y (and r) non-NULL, eps finite and >= 0; gamma and beta may
 * be NULL (scale 1, shift 0); y may equal x with the same stride and must not overlap r). The
 * public entry points (dispatch/entry.c, through normkit_op_run and normkit_args_check in
 * dispatch/dispatch.c) check what can be checked before calling a variant. Sizes and strides
 * count elements. The linear operators' contract is stated below, with their signatures.
 */
#ifndef NKX_NK_KERNEL_H
#define NKX_NK_KERNEL_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Knobs a variant reads at run time. The registry holds each variant's measured defaults
 * as data (kernels/<op>/<op>.inc), so a tuner can change them without recompiling. A NULL
 * kp means neither memory mode below: every call runs as if its data were cache-resident.
 * Variants without such modes (scalar, NEON) ignore the knobs. */
typedef struct nkx_nk_kparams {
    /* Calls writing at least this many bytes of y write its full vectors with non-temporal
     * (streaming) stores from y's first vector-aligned address (the masked head and tail are
     * ordinary stores), then sfence; they skip the read-for-ownership and leave the caches to
     * the inputs. SIZE_MAX never streams. */
    size_t nt_min_bytes;
    /* Calls writing at least this many bytes of y (and not streaming) run in memory mode: the
     * first statistics pass issues read prefetches (_mm_prefetch) for the row of y that the
     * output pass will write (_MM_HINT_T0, into L1, in the AVX-512 variants; _MM_HINT_T1, into
     * L2, in the AVX2 ones), so the lines' trip from memory, which the stores would otherwise
     * wait for as a read-for-ownership, overlaps that pass. The AVX2 RMSNorm's and LayerNorm's
     * fusion of a row's output pass with the next row's first pass, which only pays off in
     * cache, runs only below this threshold. SIZE_MAX: never. */
    size_t dram_min_bytes;
    /* Norm operators: rows up to this long are software-pipelined (the statistics of the next
     * row are computed while this row is written; beyond it, two rows no longer share L1).
     * 0: never. A NULL kp means NORMKIT_PIPE_MAX_DIM_DEFAULT. */
    size_t pipe_max_dim;

    /* Linear operators (linear, rmsnorm_linear, layernorm_linear) only. */
    /* K block: the k-range one pass of the microkernel covers before its partial sums are
     * reduced into y; the W micro-panel (nr x kc) and the activation micro-panel (mr x kc)
     * should stay in L1 together. A multiple of 64 floats. 0: the dispatcher sizes it from
     * the L1 data cache. */
    size_t lin_kc;
    /* Row block of the fused operators: rows normalized at once into the workspace (mc x
     * dim floats, meant to stay in L2) before the matmul consumes them. 0: sized from L2. */
    size_t lin_mc;
    /* Software prefetch distance for W, in floats ahead of the loads (0: none). */
    size_t lin_prefetch;
    /* Calls with at least this many rows on row-major W pack it, a panel at a time, into the
     * workspace for a faster microkernel (variants that have one; 0: never). */
    size_t lin_pack_rows;
    /* The packed-weights layout this variant's microkernel reads (facts, not knobs): panels
     * of pack_nr rows of W, k in vectors of pack_vl floats; see normkit_linear_pack. */
    unsigned pack_nr, pack_vl;
} nkx_nk_kparams;

#define NKX_NK_PIPE_MAX_DIM_DEFAULT 2048

/* The activations of the elementwise operators (gelu, silu) and of the linear epilogue:
 *   GELU (exact, erf-based): x/2 (1 + erf(x / sqrt 2)), computed as x/2 erfc(-x / sqrt 2)
 *   SiLU: x / (1 + exp(-x)), computed without overflow from exp(-|x|)
 * Accuracy (docs/numerics.md, "Activations"): the SIMD variants call SLEEF's
 * Sleef_erfcf*_u15 (1.5 ULP) and Sleef_expf*_u10 (1.0 ULP), the scalar one libm's erfcf and
 * expf (kernels/act/act_f32__<isa>.h). */
typedef enum { NKX_NK_ACT_NONE = 0, NKX_NK_ACT_GELU = 1, NKX_NK_ACT_SILU = 2 } nkx_nk_act;

/* What a linear kernel does to each output once its sum (bias included) is final, while the
 * tile is still in cache (NULL: nothing):
 *   y[i][j] = act(sum + bias[j]) * mul[i][j] + add[i][j]
 * mul and add ([rows x n], strides ldmul, ldadd >= n) may each be NULL (1 and 0). They must
 * not overlap y. The blocks (normkit_block.h) put an FFN's activation, a gated FFN's product
 * and the pre-norm residual add here. */
typedef struct nkx_nk_epilogue {
    nkx_nk_act act;
    const float *mul;
    size_t ldmul;
    const float *add;
    size_t ldadd;
} nkx_nk_epilogue;

/* e shifted to output (i, j): what a kernel passes on for a sub-block (NULL stays NULL). */
static inline const nkx_nk_epilogue *nkx_nk_epilogue_at(const nkx_nk_epilogue *e, size_t i,
                                                          size_t j, nkx_nk_epilogue *tmp)
{
    if (!e)
        return NULL;
    *tmp = *e;
    if (tmp->mul)
        tmp->mul += i * tmp->ldmul + j;
    if (tmp->add)
        tmp->add += i * tmp->ldadd + j;
    return tmp;
}

/* The uniform signature of each operator's variants, generated from normkit_ops.inc: function
 * types (a kernel file declares itself with one, e.g. `normkit_rmsnorm_f32_ukernel
 * normkit_rmsnorm_f32__avx2;`, so the compiler checks it against the registry's expectation).
 * normkit_rmsnorm_f32_ukernel is
 *   void (size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps,
 *         float *y, size_t ldy, const normkit_kparams *kp)
 * and every other one likewise: the entry point's parameters, then the knobs (and, for the
 * linear operators, the workspace and the epilogue). */
#define NKX_NK_UNPAREN(...) __VA_ARGS__
#define NKX_NK_JOIN(A, B) (NKX_NK_UNPAREN A, NKX_NK_UNPAREN B)
typedef void nkx_nk_rmsnorm_f32_ukernel(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps, float *y, size_t ldy, const nkx_nk_kparams *kp);
typedef void nkx_nk_linear_f32_ukernel(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *w, size_t ldw, const float *bias, float *y, size_t ldy, const nkx_nk_kparams *kp, float *ws, const nkx_nk_epilogue *epi);
typedef void nkx_nk_rmsnorm_linear_f32_ukernel(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *gamma, float eps, const float *w, size_t ldw, const float *bias, float *y, size_t ldy, const nkx_nk_kparams *kp, float *ws, const nkx_nk_epilogue *epi);

/*
 * The linear operators: y[rows x n] = A[rows x dim] . W^T + bias, A = x (linear) or Norm(x).
 * W is [n x dim], row-major with stride ldw >= dim, exactly like torch.nn.Linear.weight; or,
 * with ldw == 0, packed panels in the variant's own layout (kp->pack_nr rows of W per panel,
 * k in vectors of kp->pack_vl floats):
 *   W(j, k) = w[(j / nr) * nr * kp + ((k / vl) * nr + j % nr) * vl + k % vl],  kp = dim rounded
 *   up to a multiple of vl; lanes past dim and rows past n are zero.
 * bias (n floats) may be NULL. kp must have lin_kc (a multiple of 64) and lin_mc set: a
 * direct caller resolves them (normkit_linear_resolve_knobs) or sets them. ws is a 64-byte
 * aligned workspace of normkit_linear_ws_floats(kp, rows, dim, fused) floats: the fused
 * operators' normalized rows, then the linear kernel's accumulators between k blocks. The
 * plain linear kernel also accepts ws == NULL (it then reduces every k block into y).
 */
/* The workspace's row stride for `dim`: a multiple of 16 floats (64 bytes). */
static inline size_t nkx_nk_ws_ld(size_t dim)
{
    return (dim + 15) / 16 * 16;
}

/* The linear kernels' own space, with room to spare for every variant's tiles: accumulators
 * for up to min(rows, lin_mc) + 7 rows of 96 floats (AVX-512 keeps 4-row tiles of 6 x 16), then
 * one panel of up to 64 x 512 floats packed on the fly (AVX-512 uses 48 x 512); pieces that
 * stay 64-byte aligned when ws is. */
static inline size_t nkx_nk_linear_spill_floats(const nkx_nk_kparams *kp, size_t rows)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (mc + 7) * 96 + 64 * 512;
}

/* The linear kernels' blocking: `in` with lin_kc rounded up to a multiple of 64 and, where
 * lin_kc or lin_mc is 0, sized from the L1d and L2 sizes (bytes) for a call of rows x dim.
 * The dispatcher passes the sizes it reads (normkit_linear_resolve_knobs); exported kernels
 * (normkit-export) pass the sizes of the machine they were exported for. */
static inline void nkx_nk_linear_blocking(const nkx_nk_kparams *in, size_t rows, size_t dim,
                                           size_t l1_bytes, size_t l2_bytes, nkx_nk_kparams *out)
{
    *out = *in;
    /* the contract: a multiple of 64 (and no wrap for absurd values) */
    if (out->lin_kc > ((size_t)1 << 40))
        out->lin_kc = (size_t)1 << 40;
    out->lin_kc = (out->lin_kc + 63) / 64 * 64;
    if (!out->lin_kc) {
        /* The dot-product form's W micro-panel (up to 6 rows) and activation micro-panel (up
         * to 4 rows) share three quarters of L1; k blocks of equal size, multiples of 64
         * floats (every fixed vector length divides 64; SVE rounds kc up to its own run-time
         * length, which need not, e.g. 12 floats at 384 bits), so no block is a sliver. */
        const size_t per_k = (6 + 4) * sizeof(float);
        size_t kmax = l1_bytes * 3 / 4 / per_k / 64 * 64;
        if (kmax < 128)
            kmax = 128;
        const size_t blocks = (dim + kmax - 1) / kmax;
        out->lin_kc = ((dim + blocks - 1) / blocks + 63) / 64 * 64;
    }
    if (!out->lin_mc) {
        size_t mc;
        if (out->lin_pack_rows && rows >= out->lin_pack_rows) {
            /* The panel (broadcast) form reads the activations in blocks of rows x 512 k;
             * mc = L2 / (512 k x 4 bytes), in multiples of 8 rows (its tile), lets that block
             * fill L2 (interleaved A/B: as fast as or faster than half of it); the fused
             * operators' normalized rows (mc x dim) then wait in L3. */
            mc = l2_bytes / 2 / (256 * sizeof(float)) / 8 * 8;
            mc = mc < 8 ? 8 : mc > 1024 ? 1024 : mc;
        } else {
            /* Half of L2 for the block of normalized rows (the fused operators' workspace,
             * and the rows one pass over W serves), in multiples of 4 rows, 4 to 512. */
            mc = l2_bytes / 2 / (nkx_nk_ws_ld(dim) * sizeof(float)) / 4 * 4;
            mc = mc < 4 ? 4 : mc > 512 ? 512 : mc;
        }
        out->lin_mc = mc;
    }
}

/* The shape class of a norm call (normkit_shape_class in normkit_kernels.h, by index:
 * 2 * level + (rows > 1), level 0/1/2 = L1d/L2/neither): its working set is `mats` distinct
 * rows x dim float matrices plus `vecs` dim-long vectors, saturating at SIZE_MAX. */
static inline int nkx_nk_shape_class_index(size_t rows, size_t dim, size_t mats, size_t vecs,
                                            size_t l1_bytes, size_t l2_bytes)
{
    const size_t rd = dim && rows > SIZE_MAX / dim ? SIZE_MAX : rows * dim;
    const size_t m = mats && rd > SIZE_MAX / (4 * mats) ? SIZE_MAX : rd * 4 * mats;
    const size_t v = vecs && dim > SIZE_MAX / (4 * vecs) ? SIZE_MAX : dim * 4 * vecs;
    const size_t bytes = m > SIZE_MAX - v ? SIZE_MAX : m + v;
    const int level = bytes <= l1_bytes ? 0 : bytes <= l2_bytes ? 1 : 2;
    return 2 * level + (rows > 1);
}

/* The workspace a linear kernel takes: the normalized row block (fused) plus the spill. */
static inline size_t nkx_nk_linear_ws_floats(const nkx_nk_kparams *kp, size_t rows, size_t dim,
                                              int fused)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (fused ? mc * nkx_nk_ws_ld(dim) : 0) + nkx_nk_linear_spill_floats(kp, rows);
}

/*
 * A fused norm + linear variant of one ISA, composed from one of that ISA's norm variants
 * (NVAR: its knob suffix, e.g. _u4_acc8, or empty) and its linear variant: each block of
 * lin_mc rows is normalized into the workspace (which stays in L2), then the matmul reads it
 * from there. The activations thus cost one read of x and no extra pass over memory; the
 * norm keeps every numerics rule of the norm variant.
 * NORMKIT_NORM_LINEAR(rmsnorm, avx512, _u4_acc8) defines normkit_rmsnorm_linear_f32__avx512
 * from normkit_rmsnorm_f32__avx512_u4_acc8 and normkit_linear_f32__avx512.
 */
#define NKX_NK_NORM_LINEAR_DEFINE(NORM, ISA, NVAR, NORM_PARAMS, NORM_ARGS)                   \
    void nkx_nk_##NORM##_linear_f32__##ISA(size_t rows, size_t dim, size_t n, const float *x,    \
                                            size_t ldx, NKX_NK_UNPAREN NORM_PARAMS,              \
                                            const float *w, size_t ldw, const float *bias,        \
                                            float *y, size_t ldy, const nkx_nk_kparams *kp,      \
                                            float *ws, const nkx_nk_epilogue *epi)               \
    {                                                                                             \
        const size_t ld = nkx_nk_ws_ld(dim), mc = kp->lin_mc ? kp->lin_mc : 1;                   \
        nkx_nk_epilogue e;                                                                       \
        for (size_t i = 0; i < rows; i += mc) {                                                   \
            const size_t mb = rows - i < mc ? rows - i : mc;                                      \
            nkx_nk_##NORM##_f32__##ISA##NVAR(mb, dim, x + i * ldx, ldx,                          \
                                              NKX_NK_UNPAREN NORM_ARGS, ws, ld, NULL);           \
            nkx_nk_linear_f32__##ISA(mb, dim, n, ws, ld, w, ldw, bias, y + i * ldy, ldy, kp,     \
                                      ws + (rows < mc ? rows : mc) * ld,                          \
                                      nkx_nk_epilogue_at(epi, i, 0, &e));                        \
        }                                                                                         \
    }
#define NKX_NK_NORM_LINEAR_rmsnorm(ISA, NVAR)                                                   \
    NKX_NK_NORM_LINEAR_DEFINE(rmsnorm, ISA, NVAR, (const float *gamma, float eps), (gamma, eps))
#define NKX_NK_NORM_LINEAR_layernorm(ISA, NVAR)                                                 \
    NKX_NK_NORM_LINEAR_DEFINE(layernorm, ISA, NVAR,                                              \
                               (const float *gamma, const float *beta, float eps),                \
                               (gamma, beta, eps))
#define NKX_NK_NORM_LINEAR(NORM, ISA, NVAR)                                                     \
    nkx_nk_##NORM##_f32_ukernel nkx_nk_##NORM##_f32__##ISA##NVAR;                               \
    nkx_nk_linear_f32_ukernel nkx_nk_linear_f32__##ISA;                                         \
    nkx_nk_##NORM##_linear_f32_ukernel nkx_nk_##NORM##_linear_f32__##ISA;                       \
    NKX_NK_NORM_LINEAR_##NORM(ISA, NVAR)

/*
 * When a variant's float fast path may be inaccurate, it hands the row to the rare path.
 * Below 2^-100 the squares of the row's elements (|x| < 2^-63) may have underflowed, each by
 * up to 2^-149: for any row shorter than 2^25 that stays below one ulp of a sum >= 2^-100,
 * and eps >= 2^-100 dominates it likewise. Above 2^126 a sum may have overflowed (or be NaN,
 * from a non-finite input), and sum/n + eps, with both terms <= 2^126, stays below FLT_MAX:
 * a huge eps goes the rare way too instead of turning the scale into 0. These checks cost a
 * few compares per row.
 */
#define NKX_NK_TINY_SUM 0x1p-100f
#define NKX_NK_HUGE_SUM 0x1p126f

static inline int nkx_nk_rms_fast_ok(float sumsq, float eps)
{
    return sumsq <= NKX_NK_HUGE_SUM && eps <= NKX_NK_HUGE_SUM &&
           (sumsq >= NKX_NK_TINY_SUM || eps >= NKX_NK_TINY_SUM);
}

/* mean_hi: the float estimate of the row's mean (the high part of mean_hi + c); s2: the sum of
 * squares behind var, of the deviations from mean_hi or, when an AVX variant kept its one-pass
 * statistics, from the row's first element; var: the variance, clamped at 0. */
static inline int nkx_nk_ln_fast_ok(float mean_hi, float s2, float var, float eps)
{
    return mean_hi >= -FLT_MAX && mean_hi <= FLT_MAX && s2 <= NKX_NK_HUGE_SUM &&
           eps <= NKX_NK_HUGE_SUM && (var >= NKX_NK_TINY_SUM || eps >= NKX_NK_TINY_SUM);
}

/*
 * The rare path: one row's statistics in double, where squares of any float (up to
 * FLT_MAX^2 ~ 1e77, down to FLT_TRUE_MIN^2 ~ 2e-90) neither overflow nor underflow.
 * It is also where normkit's edge-case rules live, once for every variant:
 *  - any NaN or Inf in the row: every y of the row is NaN;
 *  - zero spread with eps == 0: the scale is 0 (0/0 := 0), so y = 0 (RMSNorm) or beta.
 * Statistics are gathered before y is written, so y == x is safe.
 */
static inline void nkx_nk_rmsnorm_row_f64(size_t dim, const float *x, const float *gamma,
                                           float eps, float *y)
{
    double ss = 0.0;
    int finite = 1;
    for (size_t i = 0; i < dim; i++) {
        double v = x[i];
        finite &= isfinite(v) != 0;
        ss += v * v;
    }
    double ms = ss / (double)dim + (double)eps;
    double scale = !finite ? NAN : ms > 0.0 ? 1.0 / sqrt(ms) : 0.0;
    for (size_t i = 0; i < dim; i++)
        y[i] = (float)((double)x[i] * scale * (gamma ? (double)gamma[i] : 1.0));
}

static inline void nkx_nk_layernorm_row_f64(size_t dim, const float *x, const float *gamma,
                                             const float *beta, float eps, float *y)
{
    double sum = 0.0;
    int finite = 1;
    for (size_t i = 0; i < dim; i++) {
        finite &= isfinite(x[i]) != 0;
        sum += x[i];
    }
    /* Corrected two-pass: the second pass also sums the deviations, which repairs the
     * rounding error of the first mean (Chan, Golub & LeVeque 1983). */
    double mean = sum / (double)dim, s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < dim; i++) {
        double d = (double)x[i] - mean;
        s1 += d;
        s2 += d * d;
    }
    double c = s1 / (double)dim;
    double var = s2 / (double)dim - c * c;
    var = var > 0.0 ? var : 0.0;
    double ve = var + (double)eps;
    double scale = !finite ? NAN : ve > 0.0 ? 1.0 / sqrt(ve) : 0.0;
    for (size_t i = 0; i < dim; i++) {
        double d = ((double)x[i] - mean) - c;
        y[i] = (float)(d * scale * (gamma ? (double)gamma[i] : 1.0) + (beta ? (double)beta[i] : 0.0));
    }
}

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_KERNEL_H */

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

/* ---- kernels/rmsnorm/rmsnorm_f32__avx2_u4_acc8.c ---- */
/* Generated by tools/gen/generate.py from kernels/templates/rmsnorm__avx2.c.in
 * (rmsnorm, ACC=8, UNROLL=4): do not edit; edit the template and run ./dev.sh gen. */
/*
 * normkit_rmsnorm_f32__avx2_u4_acc8 — RMSNorm, f32, AVX2 + FMA (the file sets its own
 * target, so a plain `cc -c` builds it; the dispatcher checks OS YMM state).
 *
 *   y = x / sqrt(mean(x^2) + eps) * gamma
 *
 * Passes: 2 per row (sum of squares, then scale); pass 2 re-reads the row from L1/L2, so
 *   memory sees x once and y once. Pass 2 also prefetches the next row of x.
 * Tails: one masked load/store (vmaskmovps) per pass for the last dim % 8 elements. Masked-off
 *   lanes never fault and load as 0, so no access leaves the row and dim < 8 needs no scalar loop.
 * Aliasing: y may equal x (each vector of x is read before the same lanes of y are written).
 * kp: selects a memory mode per call (nk_mode) and pipe_max_dim; NULL kp: cache-resident,
 *   pipe_max_dim = NORMKIT_PIPE_MAX_DIM_DEFAULT. Cache-resident calls of rows up to
 *   pipe_max_dim are software-pipelined (nk_rows_pipelined); other calls' pass 2 prefetches
 *   the next row.
 * Knobs: u4 = 4 vectors per iteration of pass 2; acc8 = 8 accumulators (64 lanes) in pass 1.
 *   (Pipelined rows write their output pass inside pass 1's loop, a vector per accumulator: u
 *   does not change them.)
 * Bound: |y - y_exact| <= (n/2 + 6) u |y_exact|, as the scalar variant (sum depth
 *   D <= min(n, ceil(n/64) + 6)). Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64.
 * Numerics: docs/numerics.md#rmsnorm, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */

#include <immintrin.h>

static nkx_nk_rmsnorm_f32_ukernel nkx_nk_rmsnorm_f32__avx2_u4_acc8;

enum {
    /* Pass 2 prefetches the next row into L1 when it is at most this many
     * floats (then x, gamma, y and the next row fit in the 48 KiB L1d), else into L2. */
    NKX_K1_PF_L1_MAX = 2048,
};

/* Memory modes, chosen once per call from the bytes of y (always NK_CACHED when kp is NULL):
 *  - NK_STREAM, when rows*dim*4 >= kp->nt_min_bytes: y's full vectors are written with
 *    vmovntps from its first 32-byte boundary on (the masked head and tail, vmaskmovps, are
 *    ordinary stores), then sfence;
 *  - NK_DRAM, otherwise when rows*dim*4 >= kp->dram_min_bytes: pass 1 also read-prefetches
 *    (prefetcht1, into L2) the row of y that pass 2 will write, so fetching its lines (the
 *    read-for-ownership its stores would otherwise wait for) overlaps pass 1 instead of
 *    stalling the stores of pass 2: 1.3-1.4x on 64 MiB and larger calls; below 32 MiB it
 *    measured neutral to 0.6x (L2-resident), hence the threshold;
 *  - NK_CACHED otherwise. */
typedef enum { NKX_K1_CACHED, NKX_K1_DRAM, NKX_K1_STREAM } nkx_k1_mode;

#define NKX_K1_INLINE static inline __attribute__((always_inline))

/* Lanes 0..n-1 set, for 0 < n < 8. */
NKX_K1_INLINE __m256i nkx_k1_mask(size_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Fixed order: the accumulators pairwise (a0 += a1, a2 += a3, ..., then a0 += a2, ...), then
 * the 8 lanes: high half onto low half, then pairs, then the last two lanes. */
NKX_K1_INLINE float nkx_k1_reduce(__m256 a0, __m256 a1, __m256 a2, __m256 a3,
                          __m256 a4, __m256 a5, __m256 a6, __m256 a7)
{
    a0 = _mm256_add_ps(a0, a1);
    a2 = _mm256_add_ps(a2, a3);
    a4 = _mm256_add_ps(a4, a5);
    a6 = _mm256_add_ps(a6, a7);
    a0 = _mm256_add_ps(a0, a2);
    a4 = _mm256_add_ps(a4, a6);
    a0 = _mm256_add_ps(a0, a4);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The call's mode (see nk_mode). */
NKX_K1_INLINE nkx_k1_mode nkx_k1_mode_of(const nkx_nk_kparams *kp, size_t rows, size_t dim)
{
    /* rows*dim*4 cannot overflow: the kernel contract (normkit_kernels.h) bounds every matrix. */
    const size_t bytes = rows * dim * sizeof(float);
    if (kp && bytes >= kp->nt_min_bytes)
        return NKX_K1_STREAM;
    return kp && bytes >= kp->dram_min_bytes ? NKX_K1_DRAM : NKX_K1_CACHED;
}

/* Where pass 1 reads a row: x. */
typedef struct {
    const float *x;
} nkx_k1_src;

NKX_K1_INLINE __m256 nkx_k1_load(nkx_k1_src s, size_t i)
{
    return _mm256_loadu_ps(s.x + i);
}

NKX_K1_INLINE __m256 nkx_k1_load_masked(nkx_k1_src s, size_t i, __m256i m)
{
    return _mm256_maskload_ps(s.x + i, m);
}

/* y = (h * scale) * gamma on one vector. */
NKX_K1_INLINE __m256 nkx_k1_scaled(__m256 v, const float *gamma, size_t i, __m256 scale, const int has_g)
{
    v = _mm256_mul_ps(v, scale);
    return has_g ? _mm256_mul_ps(v, _mm256_loadu_ps(gamma + i)) : v;
}

NKX_K1_INLINE __m256 nkx_k1_scaled_masked(const float *h, const float *gamma, size_t i, __m256i m,
                                  __m256 scale, const int has_g)
{
    const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(h + i, m), scale);
    return has_g ? _mm256_mul_ps(v, _mm256_maskload_ps(gamma + i, m)) : v;
}

/* The output pass of the row before, when pass 1 of this row runs it too (nk_rows_pipelined):
 * its h, gamma (NULL: none), scale and y. */
typedef struct {
    const float *h, *gamma;
    __m256 scale;
    float *y;
    int has_g;
} nkx_k1_prev;

/* Its vector at i. */
NKX_K1_INLINE void nkx_k1_prev_store(nkx_k1_prev p, size_t i)
{
    _mm256_storeu_ps(p.y + i, nkx_k1_scaled(_mm256_loadu_ps(p.h + i), p.gamma, i, p.scale, p.has_g));
}

/* Its vectors from i to the end of the row. */
NKX_K1_INLINE void nkx_k1_prev_finish(nkx_k1_prev p, size_t i, size_t dim)
{
    for (; i + 8 <= dim; i += 8)
        nkx_k1_prev_store(p, i);
    if (i < dim) {
        const __m256i m = nkx_k1_mask(dim - i);
        _mm256_maskstore_ps(p.y + i, m, nkx_k1_scaled_masked(p.h, p.gamma, i, m, p.scale, p.has_g));
    }
}

/* a + v * v, rounded once. */
NKX_K1_INLINE __m256 nkx_k1_acc_sq(__m256 a, __m256 v)
{
    return _mm256_fmadd_ps(v, v, a);
}

/* Pass 1: the sum of squares of the row; with pf_y, it also prefetches the row
 * y into L2 (see NK_DRAM). 8 independent accumulators (acc8): FMA has 4 cycles of latency on
 * two ports, so 8 chains can keep both busy where 4 fill only half of them; 4 leave registers
 * free and shorten the combining tree (the knob's trade-off; the registry's default is
 * measured). They are combined in a fixed order (nk_reduce), so the result depends only on
 * the data and dim.
 * With fuse, the loop also runs the output pass of the row before (prev), vector for vector
 * (nk_rows_pipelined); the sums are the same.
 * Named accumulators, not an array: GCC kept an array in memory around the tail. */
NKX_K1_INLINE float nkx_k1_sumsq_fused(nkx_k1_src src, size_t dim, const float *y, const int pf_y,
                               nkx_k1_prev prev, const int fuse)
{
    __m256 a0 = _mm256_setzero_ps();
    __m256 a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps();
    __m256 a3 = _mm256_setzero_ps();
    __m256 a4 = _mm256_setzero_ps();
    __m256 a5 = _mm256_setzero_ps();
    __m256 a6 = _mm256_setzero_ps();
    __m256 a7 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        if (pf_y) {
            _mm_prefetch((const char *)(y + i), _MM_HINT_T1);
            _mm_prefetch((const char *)(y + i + 16), _MM_HINT_T1);
            _mm_prefetch((const char *)(y + i + 32), _MM_HINT_T1);
            _mm_prefetch((const char *)(y + i + 48), _MM_HINT_T1);
        }
        a0 = nkx_k1_acc_sq(a0, nkx_k1_load(src, i));
        if (fuse)
            nkx_k1_prev_store(prev, i);
        a1 = nkx_k1_acc_sq(a1, nkx_k1_load(src, i + 8));
        if (fuse)
            nkx_k1_prev_store(prev, i + 8);
        a2 = nkx_k1_acc_sq(a2, nkx_k1_load(src, i + 16));
        if (fuse)
            nkx_k1_prev_store(prev, i + 16);
        a3 = nkx_k1_acc_sq(a3, nkx_k1_load(src, i + 24));
        if (fuse)
            nkx_k1_prev_store(prev, i + 24);
        a4 = nkx_k1_acc_sq(a4, nkx_k1_load(src, i + 32));
        if (fuse)
            nkx_k1_prev_store(prev, i + 32);
        a5 = nkx_k1_acc_sq(a5, nkx_k1_load(src, i + 40));
        if (fuse)
            nkx_k1_prev_store(prev, i + 40);
        a6 = nkx_k1_acc_sq(a6, nkx_k1_load(src, i + 48));
        if (fuse)
            nkx_k1_prev_store(prev, i + 48);
        a7 = nkx_k1_acc_sq(a7, nkx_k1_load(src, i + 56));
        if (fuse)
            nkx_k1_prev_store(prev, i + 56);
    }
    if (fuse)
        nkx_k1_prev_finish(prev, i, dim);
    /* Up to 7 whole vectors remain, taken in blocks (4 to a0-a3, 2 to a4-a5, 1 to a6),
     * then the masked tail (to a7): each accumulator takes at most one more vector
     * (ceil(n/64) terms per lane), and short rows still get independent chains. */
    if (i + 32 <= dim) {
        a0 = nkx_k1_acc_sq(a0, nkx_k1_load(src, i));
        a1 = nkx_k1_acc_sq(a1, nkx_k1_load(src, i + 8));
        a2 = nkx_k1_acc_sq(a2, nkx_k1_load(src, i + 16));
        a3 = nkx_k1_acc_sq(a3, nkx_k1_load(src, i + 24));
        i += 32;
    }
    if (i + 16 <= dim) {
        a4 = nkx_k1_acc_sq(a4, nkx_k1_load(src, i));
        a5 = nkx_k1_acc_sq(a5, nkx_k1_load(src, i + 8));
        i += 16;
    }
    if (i + 8 <= dim) {
        a6 = nkx_k1_acc_sq(a6, nkx_k1_load(src, i));
        i += 8;
    }
    if (i < dim) /* masked-off lanes add 0 */
        a7 = nkx_k1_acc_sq(a7, nkx_k1_load_masked(src, i, nkx_k1_mask(dim - i)));
    return nkx_k1_reduce(a0, a1, a2, a3, a4, a5, a6, a7);
}

NKX_K1_INLINE float nkx_k1_sumsq(nkx_k1_src src, size_t dim, const float *y, const int pf_y)
{
    return nkx_k1_sumsq_fused(src, dim, y, pf_y, (nkx_k1_prev){0}, 0);
}

NKX_K1_INLINE void nkx_k1_store(float *p, __m256 v, const int nt)
{
    if (nt)
        _mm256_stream_ps(p, v);
    else
        _mm256_storeu_ps(p, v);
}

/* Prefetching the next row here overlaps its trip from L2 or DRAM with this row's
 * arithmetic, instead of stalling the next row's first pass. */
NKX_K1_INLINE void nkx_k1_prefetch(const float *p, const int to_l1)
{
    if (to_l1)
        _mm_prefetch((const char *)p, _MM_HINT_T0);
    else
        _mm_prefetch((const char *)p, _MM_HINT_T1);
}

/* The line at i of each array pass 1 of the next row reads. */
NKX_K1_INLINE void nkx_k1_prefetch_src(nkx_k1_src s, size_t i, const int to_l1)
{
    nkx_k1_prefetch(s.x + i, to_l1);
}

/* Pass 2 over h (the row x). Its stores go out in address order (u4: 4 vectors an
 * iteration): that measured 1.25-1.4x faster on L2-resident rows than the order GCC picks
 * for a compute-all-then-store-all body. */
NKX_K1_INLINE void nkx_k1_scale_row(size_t dim, const float *h, const float *gamma, __m256 scale,
                            float *y, nkx_k1_src next, const int has_g, const int nt, const int pf_l1)
{
    size_t i = 0;
    if (nt) {
        /* vmovntps needs 32-byte alignment: a masked head brings y there. */
        size_t head = (size_t)((0u - (uintptr_t)y) & 31u) / sizeof(float);
        head = head < dim ? head : dim;
        if (head) {
            const __m256i m = nkx_k1_mask(head);
            _mm256_maskstore_ps(y, m, nkx_k1_scaled_masked(h, gamma, 0, m, scale, has_g));
            i = head;
        }
    }
    for (; i + 32 <= dim; i += 32) {
        /* one prefetch per cache line */
        nkx_k1_prefetch_src(next, i, pf_l1);
        nkx_k1_prefetch_src(next, i + 16, pf_l1);
        nkx_k1_store(y + i, nkx_k1_scaled(_mm256_loadu_ps(h + i), gamma, i, scale, has_g),
                 nt);
        nkx_k1_store(y + i + 8, nkx_k1_scaled(_mm256_loadu_ps(h + i + 8), gamma, i + 8, scale, has_g),
                 nt);
        nkx_k1_store(y + i + 16, nkx_k1_scaled(_mm256_loadu_ps(h + i + 16), gamma, i + 16, scale, has_g),
                 nt);
        nkx_k1_store(y + i + 24, nkx_k1_scaled(_mm256_loadu_ps(h + i + 24), gamma, i + 24, scale, has_g),
                 nt);
    }
    for (; i + 8 <= dim; i += 8)
        nkx_k1_store(y + i, nkx_k1_scaled(_mm256_loadu_ps(h + i), gamma, i, scale, has_g), nt);
    if (i < dim) {
        const __m256i m = nkx_k1_mask(dim - i);
        _mm256_maskstore_ps(y + i, m, nkx_k1_scaled_masked(h, gamma, i, m, scale, has_g));
    }
}

/* Cache-resident calls of rows up to pipe_max_dim: row r's output pass runs inside row r+1's
 * pass 1 (one loop, two streams), so the next row's reads overlap this row's stores and the
 * divide/sqrt/divide chain of each row overlaps the next row's loads. x(r+1) never overlaps
 * y(r), y == x included. Row r+1's sum keeps nk_sumsq's order (the same function). Measured on
 * a Zen 3 guest (2026-12-03, interleaved direct calls, docs/performance.md): 0.89-0.94x the
 * unpipelined time at 768 and 1024 x 16, 0.91x at 768 x 512, 1.02-1.03x at 2048 x 16. */
NKX_K1_INLINE void nkx_k1_rows_pipelined(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, float eps, float *y, size_t ldy,
                                 const int has_g)
{
    float ss = nkx_k1_sumsq((nkx_k1_src){x}, dim, y, 0);
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        const int last = row + 1 == rows;
        if (!nkx_nk_rms_fast_ok(ss, eps)) {
            nkx_nk_rmsnorm_row_f64(dim, x, gamma, eps, y);
            ss = last ? 0.0f : nkx_k1_sumsq((nkx_k1_src){x + ldx}, dim, y + ldy, 0);
            continue;
        }
        /* Rounded exactly as in the scalar variant (no rsqrt estimate). */
        const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        if (last) {
            nkx_k1_scale_row(dim, x, gamma, scale, y, (nkx_k1_src){x}, has_g, 0, 1);
        } else {
            const nkx_k1_prev prev = {x, gamma, scale, y, has_g};
            ss = nkx_k1_sumsq_fused((nkx_k1_src){x + ldx}, dim, y + ldy, 0, prev, 1);
        }
    }
}

/* One instance per (gamma?, mode), so neither is tested inside a loop. */
NKX_K1_INLINE void nkx_k1_rows(size_t rows, size_t dim, const float *x, size_t ldx,
                       const float *gamma, float eps, float *y, size_t ldy, const int has_g,
                       const int pipe, const nkx_k1_mode mode)
{
    if (pipe && mode == NKX_K1_CACHED && rows > 1) {
        nkx_k1_rows_pipelined(rows, dim, x, ldx, gamma, eps, y, ldy, has_g);
        return;
    }
    const int nt = mode == NKX_K1_STREAM;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        const nkx_k1_src src = {x};
        const float ss = nkx_k1_sumsq(src, dim, y, mode == NKX_K1_DRAM);
        if (!nkx_nk_rms_fast_ok(ss, eps)) {
            nkx_nk_rmsnorm_row_f64(dim, x, gamma, eps, y);
            continue;
        }
        /* Rounded exactly as in the scalar variant (no rsqrt estimate). */
        const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(ss / (float)dim + eps));
        const int last = row + 1 == rows;
        const nkx_k1_src next = {last ? x : x + ldx};
        if (dim <= NKX_K1_PF_L1_MAX)
            nkx_k1_scale_row(dim, x, gamma, scale, y, next, has_g, nt, 1);
        else
            nkx_k1_scale_row(dim, x, gamma, scale, y, next, has_g, nt, 0);
    }
    if (nt)
        _mm_sfence(); /* streaming stores are weakly ordered: publish them before returning */
}

void nkx_nk_rmsnorm_f32__avx2_u4_acc8(size_t rows, size_t dim, const float *x, size_t ldx,
                                       const float *gamma, float eps, float *y, size_t ldy,
                                       const nkx_nk_kparams *kp)
{
    /* rows up to pipe_max_dim are software-pipelined in cache-resident calls (nk_mode) */
    const int pipe = dim <= (kp ? kp->pipe_max_dim : NKX_NK_PIPE_MAX_DIM_DEFAULT);
#define NKX_K1_CASE(G, M) nkx_k1_rows(rows, dim, x, ldx, G ? gamma : NULL, eps, y, ldy, G, pipe, M)
    switch (nkx_k1_mode_of(kp, rows, dim) * 2 + (gamma != NULL)) {
    case NKX_K1_CACHED * 2: NKX_K1_CASE(0, NKX_K1_CACHED); break;
    case NKX_K1_CACHED * 2 + 1: NKX_K1_CASE(1, NKX_K1_CACHED); break;
    case NKX_K1_DRAM * 2: NKX_K1_CASE(0, NKX_K1_DRAM); break;
    case NKX_K1_DRAM * 2 + 1: NKX_K1_CASE(1, NKX_K1_DRAM); break;
    case NKX_K1_STREAM * 2: NKX_K1_CASE(0, NKX_K1_STREAM); break;
    default: NKX_K1_CASE(1, NKX_K1_STREAM); break;
    }
#undef NKX_K1_CASE
}
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

/* ---- epilogue_f32__avx2.h (from kernels/linear/linear_f32__avx2.c) ---- */
/*
 * The linear epilogue, AVX2: y = act(y) * mul + add over an m x n block of finished outputs
 * (normkit_epilogue, normkit_kernel.h), applied by the AVX2 linear driver to each column group
 * right after its last k block. Tails go through a small stack buffer, so nothing past n is
 * read or written.
 */
#ifndef NKX_NK_EPILOGUE_F32__AVX2_H
#define NKX_NK_EPILOGUE_F32__AVX2_H

#include <immintrin.h>
#include <string.h>

/* normkit-export defines NORMKIT_EXPORT_NO_ACT: exported kernels never take an
 * activation, so they need no SLEEF (the exporter removes these blocks) */

static inline __m256 nkx_h1_epilogue_vec__avx2(const nkx_nk_epilogue *e, __m256 v, const float *m,
                                           const float *a)
{
    (void)e;
    if (m)
        v = _mm256_mul_ps(v, _mm256_loadu_ps(m));
    if (a)
        v = _mm256_add_ps(v, _mm256_loadu_ps(a));
    return v;
}

static inline void nkx_h1_epilogue_f32__avx2(const nkx_nk_epilogue *e, size_t m, size_t n, float *y,
                                         size_t ldy)
{
    for (size_t i = 0; i < m; i++) {
        float *yr = y + i * ldy;
        const float *mr = e->mul ? e->mul + i * e->ldmul : NULL;
        const float *ar = e->add ? e->add + i * e->ldadd : NULL;
        size_t j = 0;
        for (; j + 8 <= n; j += 8)
            _mm256_storeu_ps(yr + j, nkx_h1_epilogue_vec__avx2(e, _mm256_loadu_ps(yr + j),
                                                           mr ? mr + j : NULL, ar ? ar + j : NULL));
        if (j < n) {
            float tv[8] = {0}, tm[8] = {0}, ta[8] = {0};
            const size_t t = n - j;
            memcpy(tv, yr + j, t * sizeof(float));
            if (mr)
                memcpy(tm, mr + j, t * sizeof(float));
            if (ar)
                memcpy(ta, ar + j, t * sizeof(float));
            _mm256_storeu_ps(tv, nkx_h1_epilogue_vec__avx2(e, _mm256_loadu_ps(tv), mr ? tm : NULL,
                                                       ar ? ta : NULL));
            memcpy(yr + j, tv, t * sizeof(float));
        }
    }
}

#endif
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

/* ---- kernels/linear/linear_f32__avx2.c ---- */
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

static nkx_nk_linear_f32_ukernel nkx_nk_linear_f32__avx2;

enum { NKX_K2_MR = 3, NKX_K2_NR = 4, NKX_K2_VL = 8 };

#define NKX_K2_INLINE static inline __attribute__((always_inline))

/* The sums of four vectors' lanes, as the four lanes of one xmm, by a fixed tree. */
NKX_K2_INLINE __m128 nkx_k2_reduce4(__m256 v0, __m256 v1, __m256 v2, __m256 v3)
{
    const __m256 c0 = _mm256_hadd_ps(v0, v1), c1 = _mm256_hadd_ps(v2, v3);
    const __m256 d = _mm256_hadd_ps(c0, c1);
    return _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
}

/* Lanes 0 .. count-1 set (count <= 8). */
NKX_K2_INLINE __m256i nkx_k2_lane_mask8(size_t count)
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
NKX_K2_INLINE void nkx_k2_tile(const int M, const int N, size_t kb, const float *a, size_t lda,
                    const float *w, size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                    const float *bias, int first)
{
    __m256 acc[NKX_K2_MR][NKX_K2_NR];
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            acc[i][j] = _mm256_setzero_ps();
    const size_t full = kb / NKX_K2_VL, pfv = pf / NKX_K2_VL * wkvec;
    for (size_t v = 0; v < full; v++) {
        __m256 av[NKX_K2_MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm256_loadu_ps(a + i * lda + v * NKX_K2_VL);
        for (int j = 0; j < N; j++) {
            const float *wp = w + j * wrow + v * wkvec;
            if (pfv)
                _mm_prefetch((const char *)(wp + pfv), _MM_HINT_T0);
            const __m256 wv = _mm256_loadu_ps(wp);
            for (int i = 0; i < M; i++)
                acc[i][j] = _mm256_fmadd_ps(av[i], wv, acc[i][j]);
        }
    }
    const size_t rem = kb % NKX_K2_VL;
    if (rem) {
        const __m256i m = nkx_k2_lane_mask8(rem);
        __m256 av[NKX_K2_MR];
        for (int i = 0; i < M; i++)
            av[i] = _mm256_maskload_ps(a + i * lda + full * NKX_K2_VL, m);
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
        b = N == NKX_K2_NR ? _mm_loadu_ps(bias) : _mm_maskload_ps(bias, mn);
    for (int i = 0; i < M; i++) {
        const __m256 z = _mm256_setzero_ps();
        const __m128 s = nkx_k2_reduce4(acc[i][0], 1 < N ? acc[i][1] : z, 2 < N ? acc[i][2] : z,
                                 3 < N ? acc[i][3] : z);
        float *yr = y + i * ldy;
        if (N == NKX_K2_NR) {
            const __m128 base = first ? _mm_setzero_ps() : _mm_loadu_ps(yr);
            _mm_storeu_ps(yr, _mm_add_ps(_mm_add_ps(base, s), b));
        } else {
            const __m128 base = first ? _mm_setzero_ps() : _mm_maskload_ps(yr, mn);
            _mm_maskstore_ps(yr, mn, _mm_add_ps(_mm_add_ps(base, s), b));
        }
    }
}

/* Columns per epilogue call: 16 panels of NR, 8 vectors. */
enum { NKX_K2_EPI_COLS = 64 };

#define NKX_K2_TILE_N(M, N)                                                                            \
    case N: nkx_k2_tile(M, N, kb, a, lda, w, wrow, wkvec, pf, y, ldy, bias, first); break;
#define NKX_K2_TILE_M(M)                                                                               \
    case M:                                                                                        \
        switch (n) {                                                                               \
            NKX_K2_TILE_N(M, 1) NKX_K2_TILE_N(M, 2) NKX_K2_TILE_N(M, 3) NKX_K2_TILE_N(M, 4)                        \
        }                                                                                          \
        break;

/* A tile of m x n (1 <= m <= MR, 1 <= n <= NR), each shape its own unrolled instance. */
static void nkx_k2_tile_any(size_t m, size_t n, size_t kb, const float *a, size_t lda, const float *w,
                     size_t wrow, size_t wkvec, size_t pf, float *y, size_t ldy,
                     const float *bias, int first)
{
    switch (m) {
        NKX_K2_TILE_M(1) NKX_K2_TILE_M(2) NKX_K2_TILE_M(3)
    }
}

void nkx_nk_linear_f32__avx2(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                              const float *w, size_t ldw, const float *bias, float *y,
                              size_t ldy, const nkx_nk_kparams *kp, float *ws,
                              const nkx_nk_epilogue *epi)
{
    (void)ws;
    const int packed = ldw == 0;
    const size_t kpad = (dim + NKX_K2_VL - 1) / NKX_K2_VL * NKX_K2_VL;
    /* W row j, k: unpacked w + j*ldw + k; packed: panel j/NR, row j%NR at *VL, k/VL at *NR*VL */
    const size_t wrow = packed ? NKX_K2_VL : ldw, wkvec = packed ? (size_t)NKX_K2_NR * NKX_K2_VL : NKX_K2_VL;
    const size_t wgroup = packed ? (size_t)NKX_K2_NR * kpad : (size_t)NKX_K2_NR * ldw;
    const size_t mc = kp->lin_mc ? kp->lin_mc : rows;
    /* kc a multiple of VL, so every k block but the last is whole vectors and a packed
     * panel's k block starts at a vector (the dispatcher's kc, a multiple of 64, already is) */
    const size_t kc = rows <= NKX_K2_MR || !kp->lin_kc || kp->lin_kc >= dim
                          ? dim
                          : (kp->lin_kc + NKX_K2_VL - 1) / NKX_K2_VL * NKX_K2_VL;
    const size_t pf = kp->lin_prefetch;
    for (size_t i0 = 0; i0 < rows; i0 += mc) {
        const size_t mb = rows - i0 < mc ? rows - i0 : mc;
        for (size_t k0 = 0; k0 < dim; k0 += kc) {
            const size_t kb = dim - k0 < kc ? dim - k0 : kc;
            const size_t wk = packed ? k0 / NKX_K2_VL * wkvec : k0;
            size_t jepi = 0; /* the first column the epilogue has not seen */
            for (size_t j0 = 0; j0 < n; j0 += NKX_K2_NR) {
                const size_t nb = n - j0 < NKX_K2_NR ? n - j0 : NKX_K2_NR;
                const float *wj = w + j0 / NKX_K2_NR * wgroup + wk;
                const float *bj = bias ? bias + j0 : NULL;
                for (size_t i = i0; i < i0 + mb; i += NKX_K2_MR) {
                    const size_t m = i0 + mb - i < NKX_K2_MR ? i0 + mb - i : NKX_K2_MR;
                    nkx_k2_tile_any(m, nb, kb, x + i * ldx + k0, ldx, wj, wrow, wkvec, pf,
                             y + i * ldy + j0, ldy, k0 + kb == dim ? bj : NULL, k0 == 0);
                }
                /* after the last k block, columns jepi.. are final: the epilogue takes them in
                 * groups of EPI_COLS while they are still in cache */
                if (epi && k0 + kb == dim && (j0 + nb - jepi >= NKX_K2_EPI_COLS || j0 + nb == n)) {
                    nkx_nk_epilogue e;
                    nkx_h1_epilogue_f32__avx2(nkx_nk_epilogue_at(epi, i0, jepi, &e), mb,
                                          j0 + nb - jepi, y + i0 * ldy + jepi, ldy);
                    jepi = j0 + nb;
                }
            }
        }
    }
}
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

/* ---- kernels/rmsnorm_linear/rmsnorm_linear_f32__avx2.c: rmsnorm_linear from normkit_rmsnorm_f32__avx2_u4_acc8 and normkit_linear_f32__avx2 ---- */
static nkx_nk_rmsnorm_linear_f32_ukernel nkx_nk_rmsnorm_linear_f32__avx2;
NKX_NK_NORM_LINEAR(rmsnorm, avx2, _u4_acc8)
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

/* ---- the public entry points' argument checks (normkit's dispatch/dispatch.c) ---- */

/* rows x dim with stride ld is addressable: (rows-1)*ld + dim floats within PTRDIFF_MAX bytes */
static int nkx_matrix_ok(size_t rows, size_t dim, size_t ld)
{
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    return ld >= dim && dim <= max && (rows - 1) <= (max - dim) / ld;
}

/* The address ranges [p, p + (rows-1)*ld + cols) of two checked matrices overlap. */
static int nkx_overlap(const float *p, size_t prows, size_t pcols, size_t pld, const float *q,
                     size_t qrows, size_t qcols, size_t qld)
{
    const uintptr_t p0 = (uintptr_t)p, p1 = p0 + ((prows - 1) * pld + pcols) * sizeof(float);
    const uintptr_t q0 = (uintptr_t)q, q1 = q0 + ((qrows - 1) * qld + qcols) * sizeof(float);
    return p0 < q1 && q0 < p1;
}

int nkx_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !y)
        return 1;
    if (dim == 0 || !nkx_matrix_ok(rows, dim, ldx) || !nkx_matrix_ok(rows, dim, ldy))
        return 2;
    if ((y == x && ldy != ldx && rows > 1))
        return 2;
    if (!(eps >= 0.0f && eps <= FLT_MAX))
        return 3;
    static const nkx_nk_kparams kp0 = {.nt_min_bytes = (size_t)33554432, .dram_min_bytes = (size_t)33554432, .pipe_max_dim = (size_t)2048, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 0, .pack_vl = 0};
    nkx_nk_rmsnorm_f32__avx2_u4_acc8(rows, dim, x, ldx, gamma, eps, y, ldy, &kp0);
    return 0;
}

int nkx_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *w, size_t ldw, const float *bias, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !w || !y)
        return 1;
    if (dim == 0 || n == 0 || !nkx_matrix_ok(rows, dim, ldx) ||
        !nkx_matrix_ok(rows, n, ldy) || !nkx_matrix_ok(n, dim, ldw))
        return 2;
    if (nkx_overlap(y, rows, n, ldy, x, rows, dim, ldx) ||
        nkx_overlap(y, rows, n, ldy, w, n, dim, ldw) ||
        (bias && nkx_overlap(y, rows, n, ldy, bias, 1, n, n)))
        return 2;
    static const nkx_nk_kparams base = {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = SIZE_MAX, .pipe_max_dim = (size_t)0, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 4, .pack_vl = 8};
    nkx_nk_kparams kp;
    nkx_nk_linear_blocking(&base, rows, dim, NKX_NORMKIT_L1D_BYTES, NKX_NORMKIT_L2_BYTES, &kp);
    const size_t floats = nkx_nk_linear_ws_floats(&kp, rows, dim, 0);
    if (floats > (SIZE_MAX - 64) / sizeof(float))
        return 5;
    float *ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!ws)
        return 5;
    nkx_nk_linear_f32__avx2(rows, dim, n, x, ldx, w, ldw, bias, y, ldy, &kp, ws, NULL);
    free(ws);
    return 0;
}

int nkx_rmsnorm_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *gamma, float eps, const float *w, size_t ldw, const float *bias, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !w || !y)
        return 1;
    if (dim == 0 || n == 0 || !nkx_matrix_ok(rows, dim, ldx) ||
        !nkx_matrix_ok(rows, n, ldy) || !nkx_matrix_ok(n, dim, ldw))
        return 2;
    if (nkx_overlap(y, rows, n, ldy, x, rows, dim, ldx) ||
        nkx_overlap(y, rows, n, ldy, w, n, dim, ldw) ||
        (bias && nkx_overlap(y, rows, n, ldy, bias, 1, n, n)) ||
        (gamma && nkx_overlap(y, rows, n, ldy, gamma, 1, dim, dim)))
        return 2;
    if (!(eps >= 0.0f && eps <= FLT_MAX))
        return 3;
    static const nkx_nk_kparams base = {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = SIZE_MAX, .pipe_max_dim = (size_t)0, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 4, .pack_vl = 8};
    nkx_nk_kparams kp;
    nkx_nk_linear_blocking(&base, rows, dim, NKX_NORMKIT_L1D_BYTES, NKX_NORMKIT_L2_BYTES, &kp);
    const size_t floats = nkx_nk_linear_ws_floats(&kp, rows, dim, 1);
    if (floats > (SIZE_MAX - 64) / sizeof(float))
        return 5;
    float *ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!ws)
        return 5;
    nkx_nk_rmsnorm_linear_f32__avx2(rows, dim, n, x, ldx, gamma, eps, w, ldw, bias, y, ldy, &kp, ws, NULL);
    free(ws);
    return 0;
}

int nkx_normkit_avx2_supported(void)
{
    /* the compiler's CPUID check (it also asks the OS, via XGETBV, whether it saves the vector registers) */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
}
