/*
 * normkit — normalization kernels for transformer blocks (public API).
 *
 * Every entry point validates its arguments and then, unless rows == 0, calls the variant
 * of its operator that the dispatcher has chosen: the best one the CPU, the OS and this
 * build support, at or below the ISA limit that NORMKIT_ISA or normkit_isa_force sets (see
 * normkit_isa_*). The choice is made on the operator's first use, and again for every
 * operator by normkit_isa_force, thread-safely.
 *
 * Conventions shared by the normalization operators (the linear and the elementwise operators
 * below state their own shapes and overlap rules):
 *  - Matrices are row-major: `rows` rows of `dim` floats; row i of x starts at x + i*ldx.
 *    Strides count elements (not bytes) and must be >= dim, and each matrix must be
 *    addressable ((rows-1)*ld + dim floats within PTRDIFF_MAX bytes), else
 *    NORMKIT_ERR_SHAPE. Pointers need no alignment.
 *  - rows == 0 is a no-op: NORMKIT_OK is returned without looking at any other argument.
 *  - gamma == NULL means scale 1; beta == NULL means shift 0. Both have `dim` elements.
 *  - y may be exactly x with the same stride (in place). y == r, or y == x with another
 *    stride over more than one row, is rejected with NORMKIT_ERR_SHAPE. Any other overlap
 *    between outputs and inputs (y with gamma or beta, x with r, partial overlaps) is not
 *    supported: results are then unspecified, though memory outside the arguments is never
 *    touched.
 *  - eps must be finite and >= 0.
 *
 * Numerics (all variants, all ISAs; derived in docs/numerics.md):
 *  - RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gamma
 *    LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta   (var: population variance)
 *    add+norm normalizes h = x + r, one float addition per element, and stores h into r.
 *  - The fast path accumulates in float. LayerNorm takes its statistics about the row's first
 *    element (never the unshifted E[x^2] - E[x]^2) and carries the mean as a pair of floats.
 *    The scalar and NEON variants always use a corrected two-pass algorithm; the AVX2 and
 *    AVX-512 variants skip its second pass on rows where the first pass alone meets the same
 *    bounds (dim from 128 to 2^20 and the first element within about two standard deviations
 *    of the mean). A row with a large mean and a small spread (mean 1e4, std 1e-2) stays
 *    within the bounds below either way.
 *  - Error bounds, met by every variant and asserted by the tests against a float64
 *    reference (u = 2^-24, n = dim, first order in u; plus 2^-149 terms for results in the
 *    subnormal range): RMSNorm |y - y_exact| <= (n/2 + 6) u |y_exact|; LayerNorm
 *    |y - y_exact| <= (1.5n + 12) u |gamma| zmax + 2u |y_exact|, where
 *    zmax = max |x - mean| / sqrt(var + eps) over the row, plus 2^-148 |gamma| / sqrt(var + eps)
 *    (a mean in the subnormal range is rounded to 2^-150 absolute, and the scale multiplies
 *    that). For add+norm, against the norm of h.
 *  - Rows whose float statistics may be inaccurate are recomputed in double, where squares of
 *    any float neither overflow nor underflow: a sum of squares (of x, or of its deviations
 *    for LayerNorm) above 2^126 (|x| up to FLT_MAX), a sum of squares (RMSNorm) or variance
 *    (LayerNorm) below 2^-100 together with eps below 2^-100 (tiny or subnormal x), a
 *    non-finite mean estimate, and every row when eps > 2^126. So finite inputs are never
 *    turned into 0, Inf or NaN by an intermediate overflow or underflow; the results stay
 *    within the bounds above.
 *  - A row whose spread is exactly zero with eps == 0 (an all-zero row for RMSNorm, a
 *    constant row for LayerNorm) has no scale to divide by: normkit defines 0/0 as 0 there,
 *    so RMSNorm gives y = 0 and LayerNorm gives y = beta (0 without beta), never NaN.
 *  - A row containing NaN or +-Inf (for add+norm: in h, including an x + r that overflows)
 *    produces NaN in every y element of that row; for add+norm, r still receives h. Other
 *    rows are unaffected.
 */
#ifndef NORMKIT_H
#define NORMKIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NORMKIT_BUILDING) && defined(__GNUC__)
#define NORMKIT_API __attribute__((visibility("default")))
#else
#define NORMKIT_API
#endif

#define NORMKIT_VERSION_MAJOR 0
#define NORMKIT_VERSION_MINOR 1
#define NORMKIT_VERSION_PATCH 0

typedef enum {
    NORMKIT_OK = 0,
    NORMKIT_ERR_NULL,        /* a required pointer (x, y, r) is NULL */
    NORMKIT_ERR_SHAPE,       /* dim == 0, a stride below dim, a size that overflows, or
                              * y aliasing r (or x with another stride, or
                              * overlapping an input where the operator forbids it) */
    NORMKIT_ERR_EPS,         /* eps is negative, NaN or infinite */
    NORMKIT_ERR_UNSUPPORTED, /* an ISA this CPU, OS or build cannot run */
    NORMKIT_ERR_NOMEM,       /* an allocation failed */
    NORMKIT_ERR_PACKED       /* packed weights that do not fit the call: packed for another
                              * variant (normkit_isa_force changed it since), or gamma/beta
                              * passed again to weights they were folded into */
} normkit_status;

/* A short English sentence for the status; never NULL (unknown values say so). */
NORMKIT_API const char *normkit_status_str(normkit_status s);

typedef enum {
    NORMKIT_ISA_AUTO = 0, /* let the dispatcher detect the best one */
    NORMKIT_ISA_SCALAR,   /* portable C, never auto-vectorized: the baseline */
    NORMKIT_ISA_AVX2,     /* x86-64 AVX2 + FMA */
    NORMKIT_ISA_AVX512,   /* x86-64 AVX-512 F + BW + VL + DQ */
    NORMKIT_ISA_NEON,     /* AArch64 AdvSIMD */
    NORMKIT_ISA_SVE       /* AArch64 SVE */
} normkit_isa;
#define NORMKIT_ISA_COUNT 6

/* "auto", "scalar", "avx2", "avx512", "neon", "sve"; NULL for values outside the enum. */
NORMKIT_API const char *normkit_isa_name(normkit_isa isa);
/* Parses those names (case-sensitive); returns -1 for anything else. */
NORMKIT_API int normkit_isa_from_name(const char *name);
/* 1 when the CPU has the ISA, the OS saves its register state, and this build has kernels
 * for it; 0 otherwise (also for NORMKIT_ISA_AUTO and values outside the enum). */
NORMKIT_API int normkit_isa_supported(normkit_isa isa);
/* The ISA the dispatcher is limited to now: the forced one, or auto's choice (the widest
 * supported ISA, but NEON rather than SVE with 128-bit SVE vectors; a tuning file's "isa"
 * overrides it, docs/tuning.md). Each operator uses its best variant at or below this ISA
 * (scalar at worst). */
NORMKIT_API normkit_isa normkit_isa_active(void);
/* Limit dispatch to `isa` (and the ISAs below it in its family) for every operator, in
 * this process, from the next call on. NORMKIT_ISA_AUTO returns to auto's choice. An
 * unsupported ISA returns NORMKIT_ERR_UNSUPPORTED and changes nothing. Thread-safe. */
NORMKIT_API normkit_status normkit_isa_force(normkit_isa isa);

/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * gamma. */
NORMKIT_API normkit_status normkit_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                               const float *gamma, float eps, float *y, size_t ldy);

/* LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
NORMKIT_API normkit_status normkit_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                                 const float *gamma, const float *beta, float eps,
                                                 float *y, size_t ldy);

/* Post-norm Add & Norm: h = x + r (float addition); r <- h; y = RMSNorm(h).
 * r is read and written (the new residual stream). y may be x. */
NORMKIT_API normkit_status normkit_add_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                                   float *r, size_t ldr, const float *gamma, float eps,
                                                   float *y, size_t ldy);

/* Post-norm Add & Norm: h = x + r (float addition); r <- h; y = LayerNorm(h). */
NORMKIT_API normkit_status normkit_add_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                                     float *r, size_t ldr, const float *gamma,
                                                     const float *beta, float eps, float *y, size_t ldy);

/*
 * Linear and pre-norm fused norm + linear: y = A . W^T + bias, with A = x, RMSNorm(x) or
 * LayerNorm(x) (the norms exactly as above, gamma/beta applied before the matmul).
 *  - W is [n x dim] row-major with stride ldw >= dim, exactly like torch.nn.Linear.weight;
 *    y is [rows x n] with stride ldy >= n; x is [rows x dim] with ldx >= dim; bias has n
 *    floats or is NULL.
 *  - rows == 0 is a no-op (NORMKIT_OK, nothing else looked at). x, w, y NULL:
 *    NORMKIT_ERR_NULL. dim == 0, n == 0, a stride too small, a size that overflows, or y's
 *    address range ([y, y + (rows-1)*ldy + n)) overlapping that of x, w, bias, gamma or beta:
 *    NORMKIT_ERR_SHAPE (so a y inside x's stride gaps is refused too). eps as for the norms.
 *    Out of memory: NORMKIT_ERR_NOMEM. Every linear operator uses a per-thread workspace,
 *    kept for the thread's life: up to about 0.5 MiB for the matmul's accumulators and W
 *    panels, plus, for the fused ones, the block of normalized rows (half the L2 size, or,
 *    from 64 rows on with AVX-512, up to 1024 x dim floats). A rejected call writes nothing.
 *  - Output columns are independent: a caller may split n across its own threads, each
 *    calling with w + j0 * ldw, bias + j0, y + j0 and its share of n; the results are the
 *    same, bit for bit, as one whole call (tested).
 *  - Accuracy: each output is within (dim + 4) u sum_k |A_k W_jk| + u |y| of the exact product
 *    of the normalized row (u = 2^-24), plus the norm's own error carried through W
 *    (docs/numerics.md, "Linear" and "Norm + linear"). With a norm, a row of x holding NaN or
 *    Inf gives NaN in every y of that row; otherwise (plain linear, or NaN/Inf in W or bias)
 *    IEEE arithmetic decides: NaN stays NaN, Inf gives Inf or NaN.
 */
NORMKIT_API normkit_status normkit_linear_f32(size_t rows, size_t dim, size_t n, const float *x,
                                              size_t ldx, const float *w, size_t ldw,
                                              const float *bias, float *y, size_t ldy);
NORMKIT_API normkit_status normkit_rmsnorm_linear_f32(size_t rows, size_t dim, size_t n,
                                                      const float *x, size_t ldx,
                                                      const float *gamma, float eps,
                                                      const float *w, size_t ldw,
                                                      const float *bias, float *y, size_t ldy);
NORMKIT_API normkit_status normkit_layernorm_linear_f32(size_t rows, size_t dim, size_t n,
                                                        const float *x, size_t ldx,
                                                        const float *gamma, const float *beta,
                                                        float eps, const float *w, size_t ldw,
                                                        const float *bias, float *y, size_t ldy);

/*
 * Pre-packed weights, for W used many times: normkit_linear_pack copies W (and bias) into the
 * panel layout of the linear variant active now, optionally folding a norm's gamma into W
 * (W'[j][k] = W[j][k] * gamma[k]) and its beta into the bias (b'[j] = b[j] + sum_k W[j][k]
 * beta[k], summed in double). gamma and beta may each be NULL (nothing folded).
 *  - The handle is immutable and may be shared by threads. It records the variant it was
 *    packed for: after normkit_isa_force switches to another, the packed calls return
 *    NORMKIT_ERR_PACKED (pack again) — never a wrong result.
 *  - A handle with gamma (beta) folded in must be called with gamma (beta) NULL; passing one
 *    again is NORMKIT_ERR_PACKED. A handle with gamma folded in takes no beta either (fold beta
 *    too when packing: a beta passed at call time is NORMKIT_ERR_PACKED, as W already carries
 *    gamma). An unfolded handle takes gamma/beta as usual.
 *  - normkit_linear_pack: NORMKIT_ERR_NULL for w or out NULL; NORMKIT_ERR_SHAPE for n or dim
 *    0, ldw < dim or sizes that overflow; NORMKIT_ERR_NOMEM (nothing leaks; *out is NULL).
 *  - The packed calls take the shape from the handle and follow the rules above otherwise.
 */
typedef struct normkit_linear normkit_linear;
NORMKIT_API normkit_status normkit_linear_pack(size_t n, size_t dim, const float *w, size_t ldw,
                                               const float *bias, const float *gamma,
                                               const float *beta, normkit_linear **out);
NORMKIT_API void normkit_linear_free(normkit_linear *p); /* NULL is fine */
/* n and dim of a handle (either pointer may be NULL); 0 for a NULL handle. */
NORMKIT_API void normkit_linear_shape(const normkit_linear *p, size_t *n, size_t *dim);
NORMKIT_API normkit_status normkit_linear_packed_f32(size_t rows, const float *x, size_t ldx,
                                                     const normkit_linear *w, float *y,
                                                     size_t ldy);
NORMKIT_API normkit_status normkit_rmsnorm_linear_packed_f32(size_t rows, const float *x,
                                                             size_t ldx, const float *gamma,
                                                             float eps, const normkit_linear *w,
                                                             float *y, size_t ldy);
NORMKIT_API normkit_status normkit_layernorm_linear_packed_f32(size_t rows, const float *x,
                                                               size_t ldx, const float *gamma,
                                                               const float *beta, float eps,
                                                               const normkit_linear *w, float *y,
                                                               size_t ldy);

/*
 * Elementwise operators: a transformer block's activations, gated product and residual add as
 * separate calls (the linear operators can also apply them to their output; normkit_block.h).
 *   GELU (exact): y = x/2 (1 + erf(x / sqrt 2))     SiLU: y = x * sigmoid(x) = x / (1 + e^-x)
 *   add: y = x + r                                    mul: y = x * r
 *  - Shapes as for the norms: x, r and y are rows x dim with strides ldx, ldr, ldy >= dim (in
 *    elements), addressable; no alignment needed. rows == 0 is a no-op (NORMKIT_OK, nothing
 *    else looked at). x, y (and r for add/mul) NULL: NORMKIT_ERR_NULL. dim == 0, a stride
 *    below dim or a size that overflows: NORMKIT_ERR_SHAPE. A rejected call writes nothing.
 *  - In place: y may be exactly x (for add and mul also exactly r) with the same stride (any
 *    stride for one row). Any other overlap of y's address range
 *    ([y, y + (rows-1)*ldy + dim)) with x's or r's is NORMKIT_ERR_SHAPE (so a y interleaved
 *    with x in x's stride gaps is refused too). x and r may overlap each other freely.
 *  - Numerics (every variant; docs/numerics.md, "Activations"): add and mul are one IEEE
 *    float operation per element, so exact and identical on every ISA. GELU is computed as
 *    x/2 * erfc(-x/sqrt 2), with the rounding of -x/sqrt 2 corrected, and SiLU as x * s with
 *    s = 1/(1+e) (x >= 0) or e/(1+e) (x < 0), e = exp(-|x|), which never overflows; the SIMD
 *    variants use SLEEF (1.5-ULP erfc, 1.0-ULP exp), the scalar one libm. Bounds, asserted by
 *    the tests against float64 over a sweep of all floats: |y - y_exact| <= 6u |y_exact|
 *    (GELU) and <= 5u |y_exact| (SiLU), u = 2^-24, while y_exact and the intermediate
 *    erfc(-x/sqrt 2), resp. exp(-|x|), are normal floats (x from about -13.0, resp. -87.3, up);
 *    elsewhere, where those are subnormal, |y - y_exact| <= 2^-148 (1 + |x|).
 *  - Edge values: NaN gives NaN; +Inf gives +Inf; -Inf gives -0.0 (the limit of both
 *    activations); -0 gives -0; large negative x gives -0.0 or a tiny negative y, never NaN.
 *    add and mul follow IEEE arithmetic (overflow gives +-Inf, Inf - Inf and 0 * Inf NaN).
 */
NORMKIT_API normkit_status normkit_gelu_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                            float *y, size_t ldy);
NORMKIT_API normkit_status normkit_silu_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                            float *y, size_t ldy);
NORMKIT_API normkit_status normkit_add_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                           const float *r, size_t ldr, float *y, size_t ldy);
NORMKIT_API normkit_status normkit_mul_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                           const float *r, size_t ldr, float *y, size_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_H */
