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
#ifndef NORMKIT_KERNEL_H
#define NORMKIT_KERNEL_H

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
typedef struct normkit_kparams {
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
} normkit_kparams;

#define NORMKIT_PIPE_MAX_DIM_DEFAULT 2048

/* The activations of the elementwise operators (gelu, silu) and of the linear epilogue:
 *   GELU (exact, erf-based): x/2 (1 + erf(x / sqrt 2)), computed as x/2 erfc(-x / sqrt 2)
 *   SiLU: x / (1 + exp(-x)), computed without overflow from exp(-|x|)
 * Accuracy (docs/numerics.md, "Activations"): the SIMD variants call SLEEF's
 * Sleef_erfcf*_u15 (1.5 ULP) and Sleef_expf*_u10 (1.0 ULP), the scalar one libm's erfcf and
 * expf (kernels/act/act_f32__<isa>.h). */
typedef enum { NORMKIT_ACT_NONE = 0, NORMKIT_ACT_GELU = 1, NORMKIT_ACT_SILU = 2 } normkit_act;

/* What a linear kernel does to each output once its sum (bias included) is final, while the
 * tile is still in cache (NULL: nothing):
 *   y[i][j] = act(sum + bias[j]) * mul[i][j] + add[i][j]
 * mul and add ([rows x n], strides ldmul, ldadd >= n) may each be NULL (1 and 0). They must
 * not overlap y. The blocks (normkit_block.h) put an FFN's activation, a gated FFN's product
 * and the pre-norm residual add here. */
typedef struct normkit_epilogue {
    normkit_act act;
    const float *mul;
    size_t ldmul;
    const float *add;
    size_t ldadd;
} normkit_epilogue;

/* e shifted to output (i, j): what a kernel passes on for a sub-block (NULL stays NULL). */
static inline const normkit_epilogue *normkit_epilogue_at(const normkit_epilogue *e, size_t i,
                                                          size_t j, normkit_epilogue *tmp)
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
#define NORMKIT_UNPAREN(...) __VA_ARGS__
#define NORMKIT_JOIN(A, B) (NORMKIT_UNPAREN A, NORMKIT_UNPAREN B)
#define NORMKIT_OP(NAME, NORM, RES, BETA, LIN, MR, MW, VECS, PARAMS, KPARAMS, ...)               \
    typedef void normkit_##NAME##_f32_ukernel NORMKIT_JOIN(PARAMS, KPARAMS);
#include "normkit_ops.inc"
#undef NORMKIT_OP

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
static inline size_t normkit_ws_ld(size_t dim)
{
    return (dim + 15) / 16 * 16;
}

/* The linear kernels' own space, with room to spare for every variant's tiles: accumulators
 * for up to min(rows, lin_mc) + 7 rows of 96 floats (AVX-512 keeps 4-row tiles of 6 x 16), then
 * one panel of up to 64 x 512 floats packed on the fly (AVX-512 uses 48 x 512); pieces that
 * stay 64-byte aligned when ws is. */
static inline size_t normkit_linear_spill_floats(const normkit_kparams *kp, size_t rows)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (mc + 7) * 96 + 64 * 512;
}

/* The linear kernels' blocking: `in` with lin_kc rounded up to a multiple of 64 and, where
 * lin_kc or lin_mc is 0, sized from the L1d and L2 sizes (bytes) for a call of rows x dim.
 * The dispatcher passes the sizes it reads (normkit_linear_resolve_knobs); exported kernels
 * (normkit-export) pass the sizes of the machine they were exported for. */
static inline void normkit_linear_blocking(const normkit_kparams *in, size_t rows, size_t dim,
                                           size_t l1_bytes, size_t l2_bytes, normkit_kparams *out)
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
            mc = l2_bytes / 2 / (normkit_ws_ld(dim) * sizeof(float)) / 4 * 4;
            mc = mc < 4 ? 4 : mc > 512 ? 512 : mc;
        }
        out->lin_mc = mc;
    }
}

/* The shape class of a norm call (normkit_shape_class in normkit_kernels.h, by index:
 * 2 * level + (rows > 1), level 0/1/2 = L1d/L2/neither): its working set is `mats` distinct
 * rows x dim float matrices plus `vecs` dim-long vectors, saturating at SIZE_MAX. */
static inline int normkit_shape_class_index(size_t rows, size_t dim, size_t mats, size_t vecs,
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
static inline size_t normkit_linear_ws_floats(const normkit_kparams *kp, size_t rows, size_t dim,
                                              int fused)
{
    const size_t mc = kp->lin_mc && kp->lin_mc < rows ? kp->lin_mc : rows;
    return (fused ? mc * normkit_ws_ld(dim) : 0) + normkit_linear_spill_floats(kp, rows);
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
#define NORMKIT_NORM_LINEAR_DEFINE(NORM, ISA, NVAR, NORM_PARAMS, NORM_ARGS)                   \
    void normkit_##NORM##_linear_f32__##ISA(size_t rows, size_t dim, size_t n, const float *x,    \
                                            size_t ldx, NORMKIT_UNPAREN NORM_PARAMS,              \
                                            const float *w, size_t ldw, const float *bias,        \
                                            float *y, size_t ldy, const normkit_kparams *kp,      \
                                            float *ws, const normkit_epilogue *epi)               \
    {                                                                                             \
        const size_t ld = normkit_ws_ld(dim), mc = kp->lin_mc ? kp->lin_mc : 1;                   \
        normkit_epilogue e;                                                                       \
        for (size_t i = 0; i < rows; i += mc) {                                                   \
            const size_t mb = rows - i < mc ? rows - i : mc;                                      \
            normkit_##NORM##_f32__##ISA##NVAR(mb, dim, x + i * ldx, ldx,                          \
                                              NORMKIT_UNPAREN NORM_ARGS, ws, ld, NULL);           \
            normkit_linear_f32__##ISA(mb, dim, n, ws, ld, w, ldw, bias, y + i * ldy, ldy, kp,     \
                                      ws + (rows < mc ? rows : mc) * ld,                          \
                                      normkit_epilogue_at(epi, i, 0, &e));                        \
        }                                                                                         \
    }
#define NORMKIT_NORM_LINEAR_rmsnorm(ISA, NVAR)                                                   \
    NORMKIT_NORM_LINEAR_DEFINE(rmsnorm, ISA, NVAR, (const float *gamma, float eps), (gamma, eps))
#define NORMKIT_NORM_LINEAR_layernorm(ISA, NVAR)                                                 \
    NORMKIT_NORM_LINEAR_DEFINE(layernorm, ISA, NVAR,                                              \
                               (const float *gamma, const float *beta, float eps),                \
                               (gamma, beta, eps))
#define NORMKIT_NORM_LINEAR(NORM, ISA, NVAR)                                                     \
    normkit_##NORM##_f32_ukernel normkit_##NORM##_f32__##ISA##NVAR;                               \
    normkit_linear_f32_ukernel normkit_linear_f32__##ISA;                                         \
    normkit_##NORM##_linear_f32_ukernel normkit_##NORM##_linear_f32__##ISA;                       \
    NORMKIT_NORM_LINEAR_##NORM(ISA, NVAR)

/*
 * When a variant's float fast path may be inaccurate, it hands the row to the rare path.
 * Below 2^-100 the squares of the row's elements (|x| < 2^-63) may have underflowed, each by
 * up to 2^-149: for any row shorter than 2^25 that stays below one ulp of a sum >= 2^-100,
 * and eps >= 2^-100 dominates it likewise. Above 2^126 a sum may have overflowed (or be NaN,
 * from a non-finite input), and sum/n + eps, with both terms <= 2^126, stays below FLT_MAX:
 * a huge eps goes the rare way too instead of turning the scale into 0. These checks cost a
 * few compares per row.
 */
#define NORMKIT_TINY_SUM 0x1p-100f
#define NORMKIT_HUGE_SUM 0x1p126f

static inline int normkit_rms_fast_ok(float sumsq, float eps)
{
    return sumsq <= NORMKIT_HUGE_SUM && eps <= NORMKIT_HUGE_SUM &&
           (sumsq >= NORMKIT_TINY_SUM || eps >= NORMKIT_TINY_SUM);
}

/* mean_hi: the float estimate of the row's mean (the high part of mean_hi + c); s2: the sum of
 * squares behind var, of the deviations from mean_hi or, when an AVX variant kept its one-pass
 * statistics, from the row's first element; var: the variance, clamped at 0. */
static inline int normkit_ln_fast_ok(float mean_hi, float s2, float var, float eps)
{
    return mean_hi >= -FLT_MAX && mean_hi <= FLT_MAX && s2 <= NORMKIT_HUGE_SUM &&
           eps <= NORMKIT_HUGE_SUM && (var >= NORMKIT_TINY_SUM || eps >= NORMKIT_TINY_SUM);
}

/*
 * The rare path: one row's statistics in double, where squares of any float (up to
 * FLT_MAX^2 ~ 1e77, down to FLT_TRUE_MIN^2 ~ 2e-90) neither overflow nor underflow.
 * It is also where normkit's edge-case rules live, once for every variant:
 *  - any NaN or Inf in the row: every y of the row is NaN;
 *  - zero spread with eps == 0: the scale is 0 (0/0 := 0), so y = 0 (RMSNorm) or beta.
 * Statistics are gathered before y is written, so y == x is safe.
 */
static inline void normkit_rmsnorm_row_f64(size_t dim, const float *x, const float *gamma,
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

static inline void normkit_layernorm_row_f64(size_t dim, const float *x, const float *gamma,
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
