/*
 * nkx_scalar_normkit_scalar.c: normkit kernels exported for scalar by normkit-export; declarations and
 * documentation in nkx_scalar_normkit.h. Generated: edit normkit and export again rather than this file.
 *   command: normkit-export --isa scalar --ops rmsnorm,linear,rmsnorm_linear --l1d 49152
 *     --l2 1048576 --prefix nkx_scalar_ -o DIR
 *   tuning: built-in defaults (kernels/normkit_defaults.inc and the registry's knobs);
 *     caches L1d 49152 B, L2 1048576 B
 * Builds with any C11 compiler and no flags (`cc -c`; add your usual -O2): the kernels carry
 * their ISA as target attributes, the rest is plain C. Names from normkit are renamed into
 * this export's namespace (normkit_X -> nkx_scalar_nk_X, NORMKIT_X -> NKX_SCALAR_NK_X; each kernel file's
 * private names get a nkx_scalar_kN_ / nkx_scalar_hN_ prefix); comments keep normkit's names.
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

#include "nkx_scalar_normkit.h"

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
#ifndef NKX_SCALAR_NK_KERNEL_H
#define NKX_SCALAR_NK_KERNEL_H

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
typedef struct nkx_scalar_nk_kparams {
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
} nkx_scalar_nk_kparams;

#define NKX_SCALAR_NK_PIPE_MAX_DIM_DEFAULT 2048

/* The activations of the elementwise operators (gelu, silu) and of the linear epilogue:
 *   GELU (exact, erf-based): x/2 (1 + erf(x / sqrt 2)), computed as x/2 erfc(-x / sqrt 2)
 *   SiLU: x / (1 + exp(-x)), computed without overflow from exp(-|x|)
 * Accuracy (docs/numerics.md, "Activations"): the SIMD variants call SLEEF's
 * Sleef_erfcf*_u15 (1.5 ULP) and Sleef_expf*_u10 (1.0 ULP), the scalar one libm's erfcf and
 * expf (kernels/act/act_f32__<isa>.h). */
typedef enum { NKX_SCALAR_NK_ACT_NONE = 0, NKX_SCALAR_NK_ACT_GELU = 1, NKX_SCALAR_NK_ACT_SILU = 2 } nkx_scalar_nk_act;

/* What a linear kernel does to each output once its sum (bias included) is final, while the
 * tile is still in cache (NULL: nothing):
 *   y[i][j] = act(sum + bias[j]) * mul[i][j] + add[i][j]
 * mul and add ([rows x n], strides ldmul, ldadd >= n) may each be NULL (1 and 0). They must
 * not overlap y. The blocks (normkit_block.h) put an FFN's activation, a gated FFN's product
 * and the pre-norm residual add here. */
typedef struct nkx_scalar_nk_epilogue {
    nkx_scalar_nk_act act;
    const float *mul;
    size_t ldmul;
    const float *add;
    size_t ldadd;
} nkx_scalar_nk_epilogue;

/* e shifted to output (i, j): what a kernel passes on for a sub-block (NULL stays NULL). */
static inline const nkx_scalar_nk_epilogue *nkx_scalar_nk_epilogue_at(const nkx_scalar_nk_epilogue *e, size_t i,
                                                          size_t j, nkx_scalar_nk_epilogue *tmp)
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
#define NKX_SCALAR_NK_UNPAREN(...) __VA_ARGS__
#define NKX_SCALAR_NK_JOIN(A, B) (NKX_SCALAR_NK_UNPAREN A, NKX_SCALAR_NK_UNPAREN B)
typedef void nkx_scalar_nk_rmsnorm_f32_ukernel(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps, float *y, size_t ldy, const nkx_scalar_nk_kparams *kp);
typedef void nkx_scalar_nk_linear_f32_ukernel(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *w, size_t ldw, const float *bias, float *y, size_t ldy, const nkx_scalar_nk_kparams *kp, float *ws, const nkx_scalar_nk_epilogue *epi);
typedef void nkx_scalar_nk_rmsnorm_linear_f32_ukernel(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *gamma, float eps, const float *w, size_t ldw, const float *bias, float *y, size_t ldy, const nkx_scalar_nk_kparams *kp, float *ws, const nkx_scalar_nk_epilogue *epi);

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
static inline size_t nkx_scalar_nk_ws_ld(size_t dim)
{
    return (dim + 15) / 16 * 16;
}

/* The linear kernels' own space, with room to spare for every variant's tiles: accumulators
 * for up to min(rows, lin_mc) + 7 rows of 96 floats (AVX-512 keeps 4-row tiles of 6 x 16), then
 * one panel of up to 64 x 512 floats packed on the fly (AVX-512 uses 48 x 512); pieces that
 * stay 64-byte aligned when ws is. */
static inline size_t nkx_scalar_nk_linear_spill_floats(const nkx_scalar_nk_kparams *kp, size_t rows)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (mc + 7) * 96 + 64 * 512;
}

/* The linear kernels' blocking: `in` with lin_kc rounded up to a multiple of 64 and, where
 * lin_kc or lin_mc is 0, sized from the L1d and L2 sizes (bytes) for a call of rows x dim.
 * The dispatcher passes the sizes it reads (normkit_linear_resolve_knobs); exported kernels
 * (normkit-export) pass the sizes of the machine they were exported for. */
static inline void nkx_scalar_nk_linear_blocking(const nkx_scalar_nk_kparams *in, size_t rows, size_t dim,
                                           size_t l1_bytes, size_t l2_bytes, nkx_scalar_nk_kparams *out)
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
            mc = l2_bytes / 2 / (nkx_scalar_nk_ws_ld(dim) * sizeof(float)) / 4 * 4;
            mc = mc < 4 ? 4 : mc > 512 ? 512 : mc;
        }
        out->lin_mc = mc;
    }
}

/* The shape class of a norm call (normkit_shape_class in normkit_kernels.h, by index:
 * 2 * level + (rows > 1), level 0/1/2 = L1d/L2/neither): its working set is `mats` distinct
 * rows x dim float matrices plus `vecs` dim-long vectors, saturating at SIZE_MAX. */
static inline int nkx_scalar_nk_shape_class_index(size_t rows, size_t dim, size_t mats, size_t vecs,
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
static inline size_t nkx_scalar_nk_linear_ws_floats(const nkx_scalar_nk_kparams *kp, size_t rows, size_t dim,
                                              int fused)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (fused ? mc * nkx_scalar_nk_ws_ld(dim) : 0) + nkx_scalar_nk_linear_spill_floats(kp, rows);
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
#define NKX_SCALAR_NK_NORM_LINEAR_DEFINE(NORM, ISA, NVAR, NORM_PARAMS, NORM_ARGS)                   \
    void nkx_scalar_nk_##NORM##_linear_f32__##ISA(size_t rows, size_t dim, size_t n, const float *x,    \
                                            size_t ldx, NKX_SCALAR_NK_UNPAREN NORM_PARAMS,              \
                                            const float *w, size_t ldw, const float *bias,        \
                                            float *y, size_t ldy, const nkx_scalar_nk_kparams *kp,      \
                                            float *ws, const nkx_scalar_nk_epilogue *epi)               \
    {                                                                                             \
        const size_t ld = nkx_scalar_nk_ws_ld(dim), mc = kp->lin_mc ? kp->lin_mc : 1;                   \
        nkx_scalar_nk_epilogue e;                                                                       \
        for (size_t i = 0; i < rows; i += mc) {                                                   \
            const size_t mb = rows - i < mc ? rows - i : mc;                                      \
            nkx_scalar_nk_##NORM##_f32__##ISA##NVAR(mb, dim, x + i * ldx, ldx,                          \
                                              NKX_SCALAR_NK_UNPAREN NORM_ARGS, ws, ld, NULL);           \
            nkx_scalar_nk_linear_f32__##ISA(mb, dim, n, ws, ld, w, ldw, bias, y + i * ldy, ldy, kp,     \
                                      ws + (rows < mc ? rows : mc) * ld,                          \
                                      nkx_scalar_nk_epilogue_at(epi, i, 0, &e));                        \
        }                                                                                         \
    }
#define NKX_SCALAR_NK_NORM_LINEAR_rmsnorm(ISA, NVAR)                                                   \
    NKX_SCALAR_NK_NORM_LINEAR_DEFINE(rmsnorm, ISA, NVAR, (const float *gamma, float eps), (gamma, eps))
#define NKX_SCALAR_NK_NORM_LINEAR_layernorm(ISA, NVAR)                                                 \
    NKX_SCALAR_NK_NORM_LINEAR_DEFINE(layernorm, ISA, NVAR,                                              \
                               (const float *gamma, const float *beta, float eps),                \
                               (gamma, beta, eps))
#define NKX_SCALAR_NK_NORM_LINEAR(NORM, ISA, NVAR)                                                     \
    nkx_scalar_nk_##NORM##_f32_ukernel nkx_scalar_nk_##NORM##_f32__##ISA##NVAR;                               \
    nkx_scalar_nk_linear_f32_ukernel nkx_scalar_nk_linear_f32__##ISA;                                         \
    nkx_scalar_nk_##NORM##_linear_f32_ukernel nkx_scalar_nk_##NORM##_linear_f32__##ISA;                       \
    NKX_SCALAR_NK_NORM_LINEAR_##NORM(ISA, NVAR)

/*
 * When a variant's float fast path may be inaccurate, it hands the row to the rare path.
 * Below 2^-100 the squares of the row's elements (|x| < 2^-63) may have underflowed, each by
 * up to 2^-149: for any row shorter than 2^25 that stays below one ulp of a sum >= 2^-100,
 * and eps >= 2^-100 dominates it likewise. Above 2^126 a sum may have overflowed (or be NaN,
 * from a non-finite input), and sum/n + eps, with both terms <= 2^126, stays below FLT_MAX:
 * a huge eps goes the rare way too instead of turning the scale into 0. These checks cost a
 * few compares per row.
 */
#define NKX_SCALAR_NK_TINY_SUM 0x1p-100f
#define NKX_SCALAR_NK_HUGE_SUM 0x1p126f

static inline int nkx_scalar_nk_rms_fast_ok(float sumsq, float eps)
{
    return sumsq <= NKX_SCALAR_NK_HUGE_SUM && eps <= NKX_SCALAR_NK_HUGE_SUM &&
           (sumsq >= NKX_SCALAR_NK_TINY_SUM || eps >= NKX_SCALAR_NK_TINY_SUM);
}

/* mean_hi: the float estimate of the row's mean (the high part of mean_hi + c); s2: the sum of
 * squares behind var, of the deviations from mean_hi or, when an AVX variant kept its one-pass
 * statistics, from the row's first element; var: the variance, clamped at 0. */
static inline int nkx_scalar_nk_ln_fast_ok(float mean_hi, float s2, float var, float eps)
{
    return mean_hi >= -FLT_MAX && mean_hi <= FLT_MAX && s2 <= NKX_SCALAR_NK_HUGE_SUM &&
           eps <= NKX_SCALAR_NK_HUGE_SUM && (var >= NKX_SCALAR_NK_TINY_SUM || eps >= NKX_SCALAR_NK_TINY_SUM);
}

/*
 * The rare path: one row's statistics in double, where squares of any float (up to
 * FLT_MAX^2 ~ 1e77, down to FLT_TRUE_MIN^2 ~ 2e-90) neither overflow nor underflow.
 * It is also where normkit's edge-case rules live, once for every variant:
 *  - any NaN or Inf in the row: every y of the row is NaN;
 *  - zero spread with eps == 0: the scale is 0 (0/0 := 0), so y = 0 (RMSNorm) or beta.
 * Statistics are gathered before y is written, so y == x is safe.
 */
static inline void nkx_scalar_nk_rmsnorm_row_f64(size_t dim, const float *x, const float *gamma,
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

static inline void nkx_scalar_nk_layernorm_row_f64(size_t dim, const float *x, const float *gamma,
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

/* ---- kernels/rmsnorm/rmsnorm_f32__scalar.c ---- */
/* Generated by tools/gen/generate.py from kernels/templates/rmsnorm__scalar.c.in
 * (rmsnorm): do not edit; edit the template and run ./dev.sh gen. */
/*
 * normkit_rmsnorm_f32__scalar — RMSNorm, f32, portable C (the baseline).
 *
 *   y = x / sqrt(mean(x^2) + eps) * gamma
 *
 * ISA: none. Built with auto-vectorization off, so it measures what one scalar lane does;
 *   benchmarks compare every SIMD variant against it, and the tests check every SIMD variant
 *   against it (test_agrees_with_scalar): keep it plain.
 * Passes: 2 (sum of squares in one float accumulator, in element order; then scale).
 * Tails: none needed.
 * Aliasing: y may equal x (the row's statistics are complete before y is written, and each
 *   element is read before it is written).
 * Knobs: none compiled; kp is ignored (no streaming stores, no memory mode, no pipelining).
 * Bound: |y - y_exact| <= (n/2 + 6) u |y_exact| (u = 2^-24, n = dim; sum depth n), the bound
 *   the tests assert. Rows that overflow, underflow or hold NaN/Inf go to
 *   normkit_rmsnorm_row_f64.
 * Numerics: docs/numerics.md#rmsnorm, #summation-depth, #rare-path.
 *   Contract: normkit_kernels.h.
 */

static nkx_scalar_nk_rmsnorm_f32_ukernel nkx_scalar_nk_rmsnorm_f32__scalar;

void nkx_scalar_nk_rmsnorm_f32__scalar(size_t rows, size_t dim, const float *x, size_t ldx,
                                 const float *gamma, float eps, float *y, size_t ldy,
                                 const nkx_scalar_nk_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        float ss = 0.0f;
        for (size_t i = 0; i < dim; i++)
            ss += x[i] * x[i];
        if (!nkx_scalar_nk_rms_fast_ok(ss, eps)) {
            nkx_scalar_nk_rmsnorm_row_f64(dim, x, gamma, eps, y);
            continue;
        }
        /* Every variant computes the scale exactly so: correctly rounded sqrt and division. */
        const float scale = 1.0f / sqrtf(ss / (float)dim + eps);
        if (gamma) {
            for (size_t i = 0; i < dim; i++)
                y[i] = x[i] * scale * gamma[i];
        } else {
            for (size_t i = 0; i < dim; i++)
                y[i] = x[i] * scale;
        }
    }
}

/* ---- kernels/linear/linear_f32__scalar.c ---- */
/*
 * normkit_linear_f32__scalar — y = x . W^T + bias, f32, portable C (built without
 * auto-vectorization: the baseline every variant is measured against).
 * One output at a time: a sequential float sum over k, then + bias. Packed weights (ldw == 0)
 * are this variant's layout, pack_nr = pack_vl = 1: W row-major with stride dim.
 * The epilogue (normkit_epilogue) is applied to each output as it is stored.
 * Numerics: |y - exact| <= (dim + 1) u sum_k |x_k W_jk| + u |y| (docs/numerics.md, "Linear").
 */
#include <stddef.h>

static nkx_scalar_nk_linear_f32_ukernel nkx_scalar_nk_linear_f32__scalar;

void nkx_scalar_nk_linear_f32__scalar(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                                const float *w, size_t ldw, const float *bias, float *y,
                                size_t ldy, const nkx_scalar_nk_kparams *kp, float *ws,
                                const nkx_scalar_nk_epilogue *epi)
{
    (void)kp;
    (void)ws;
    if (ldw == 0)
        ldw = dim;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++) {
            const float *xr = x + i * ldx, *wr = w + j * ldw;
            float s = 0.0f;
            for (size_t k = 0; k < dim; k++)
                s += xr[k] * wr[k];
            s = bias ? s + bias[j] : s;
            if (epi) { /* y = act(s) * mul + add, each its own rounding */
                if (epi->mul)
                    s *= epi->mul[i * epi->ldmul + j];
                if (epi->add)
                    s += epi->add[i * epi->ldadd + j];
            }
            y[i * ldy + j] = s;
        }
}

/* ---- kernels/rmsnorm_linear/rmsnorm_linear_f32__scalar.c: rmsnorm_linear from normkit_rmsnorm_f32__scalar and normkit_linear_f32__scalar ---- */
static nkx_scalar_nk_rmsnorm_linear_f32_ukernel nkx_scalar_nk_rmsnorm_linear_f32__scalar;
NKX_SCALAR_NK_NORM_LINEAR(rmsnorm, scalar, )

/* ---- the public entry points' argument checks (normkit's dispatch/dispatch.c) ---- */

/* rows x dim with stride ld is addressable: (rows-1)*ld + dim floats within PTRDIFF_MAX bytes */
static int nkx_scalar_matrix_ok(size_t rows, size_t dim, size_t ld)
{
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    return ld >= dim && dim <= max && (rows - 1) <= (max - dim) / ld;
}

/* The address ranges [p, p + (rows-1)*ld + cols) of two checked matrices overlap. */
static int nkx_scalar_overlap(const float *p, size_t prows, size_t pcols, size_t pld, const float *q,
                     size_t qrows, size_t qcols, size_t qld)
{
    const uintptr_t p0 = (uintptr_t)p, p1 = p0 + ((prows - 1) * pld + pcols) * sizeof(float);
    const uintptr_t q0 = (uintptr_t)q, q1 = q0 + ((qrows - 1) * qld + qcols) * sizeof(float);
    return p0 < q1 && q0 < p1;
}

int nkx_scalar_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !y)
        return 1;
    if (dim == 0 || !nkx_scalar_matrix_ok(rows, dim, ldx) || !nkx_scalar_matrix_ok(rows, dim, ldy))
        return 2;
    if ((y == x && ldy != ldx && rows > 1))
        return 2;
    if (!(eps >= 0.0f && eps <= FLT_MAX))
        return 3;
    static const nkx_scalar_nk_kparams kp0 = {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = SIZE_MAX, .pipe_max_dim = (size_t)0, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 0, .pack_vl = 0};
    nkx_scalar_nk_rmsnorm_f32__scalar(rows, dim, x, ldx, gamma, eps, y, ldy, &kp0);
    return 0;
}

int nkx_scalar_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *w, size_t ldw, const float *bias, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !w || !y)
        return 1;
    if (dim == 0 || n == 0 || !nkx_scalar_matrix_ok(rows, dim, ldx) ||
        !nkx_scalar_matrix_ok(rows, n, ldy) || !nkx_scalar_matrix_ok(n, dim, ldw))
        return 2;
    if (nkx_scalar_overlap(y, rows, n, ldy, x, rows, dim, ldx) ||
        nkx_scalar_overlap(y, rows, n, ldy, w, n, dim, ldw) ||
        (bias && nkx_scalar_overlap(y, rows, n, ldy, bias, 1, n, n)))
        return 2;
    static const nkx_scalar_nk_kparams base = {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = SIZE_MAX, .pipe_max_dim = (size_t)0, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 1, .pack_vl = 1};
    nkx_scalar_nk_kparams kp;
    nkx_scalar_nk_linear_blocking(&base, rows, dim, NKX_SCALAR_NORMKIT_L1D_BYTES, NKX_SCALAR_NORMKIT_L2_BYTES, &kp);
    const size_t floats = nkx_scalar_nk_linear_ws_floats(&kp, rows, dim, 0);
    if (floats > (SIZE_MAX - 64) / sizeof(float))
        return 5;
    float *ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!ws)
        return 5;
    nkx_scalar_nk_linear_f32__scalar(rows, dim, n, x, ldx, w, ldw, bias, y, ldy, &kp, ws, NULL);
    free(ws);
    return 0;
}

int nkx_scalar_rmsnorm_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *gamma, float eps, const float *w, size_t ldw, const float *bias, float *y, size_t ldy)
{
    if (rows == 0)
        return 0;
    if (!x || !w || !y)
        return 1;
    if (dim == 0 || n == 0 || !nkx_scalar_matrix_ok(rows, dim, ldx) ||
        !nkx_scalar_matrix_ok(rows, n, ldy) || !nkx_scalar_matrix_ok(n, dim, ldw))
        return 2;
    if (nkx_scalar_overlap(y, rows, n, ldy, x, rows, dim, ldx) ||
        nkx_scalar_overlap(y, rows, n, ldy, w, n, dim, ldw) ||
        (bias && nkx_scalar_overlap(y, rows, n, ldy, bias, 1, n, n)) ||
        (gamma && nkx_scalar_overlap(y, rows, n, ldy, gamma, 1, dim, dim)))
        return 2;
    if (!(eps >= 0.0f && eps <= FLT_MAX))
        return 3;
    static const nkx_scalar_nk_kparams base = {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = SIZE_MAX, .pipe_max_dim = (size_t)0, .lin_kc = (size_t)0, .lin_mc = (size_t)0, .lin_prefetch = (size_t)0, .lin_pack_rows = (size_t)0, .pack_nr = 1, .pack_vl = 1};
    nkx_scalar_nk_kparams kp;
    nkx_scalar_nk_linear_blocking(&base, rows, dim, NKX_SCALAR_NORMKIT_L1D_BYTES, NKX_SCALAR_NORMKIT_L2_BYTES, &kp);
    const size_t floats = nkx_scalar_nk_linear_ws_floats(&kp, rows, dim, 1);
    if (floats > (SIZE_MAX - 64) / sizeof(float))
        return 5;
    float *ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!ws)
        return 5;
    nkx_scalar_nk_rmsnorm_linear_f32__scalar(rows, dim, n, x, ldx, gamma, eps, w, ldw, bias, y, ldy, &kp, ws, NULL);
    free(ws);
    return 0;
}

int nkx_scalar_normkit_scalar_supported(void)
{
    return 1; /* part of the architecture's baseline */
}
