/*
 * normkit — normalization kernels for transformer blocks (public API).
 *
 * Every entry point validates its arguments, then makes one indirect call into the best
 * kernel variant the CPU supports (see normkit_isa_*). Variants are chosen once per
 * operator, on first use, thread-safely.
 *
 * Conventions shared by every operator:
 *  - Matrices are row-major: `rows` rows of `dim` floats; row i of x starts at x + i*ldx.
 *    Strides count elements (not bytes) and must be >= dim. Pointers need no alignment.
 *  - rows == 0 is a no-op: NORMKIT_OK is returned without looking at any other argument.
 *  - gamma == NULL means scale 1; beta == NULL means shift 0. Both have `dim` elements.
 *  - y may be exactly x with the same stride (in place). y == r, or y == x with another
 *    stride over more than one row, is rejected with NORMKIT_ERR_SHAPE. Any other overlap between outputs and
 *    inputs (y with gamma or beta, x with r, partial overlaps) is not supported: results
 *    are then unspecified, though memory outside the arguments is never touched.
 *  - eps must be finite and >= 0.
 *
 * Numerics (all variants, all ISAs):
 *  - RMSNorm:   y = x / sqrt(mean(x^2) + eps) * gamma
 *    LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta   (var: population variance)
 *    Accumulation is in float; LayerNorm uses a shifted, corrected two-pass algorithm, so a
 *    row with a large mean and a small spread (mean 1e4, std 1e-2) keeps its accuracy.
 *  - A row whose spread is exactly zero with eps == 0 (an all-zero row for RMSNorm, a
 *    constant row for LayerNorm) has no scale to divide by: normkit defines 0/0 as 0 there,
 *    so RMSNorm gives y = 0 and LayerNorm gives y = beta (0 without beta), never NaN.
 *  - Finite inputs whose squares overflow (|x| up to FLT_MAX) or underflow (subnormal x
 *    with eps == 0) are rescaled by a power of two inside the kernel, so the result is the
 *    finite, correctly normalized value rather than 0, Inf or NaN.
 *  - A row containing NaN or +-Inf produces NaN in every y element of that row (for
 *    add+norm, r still receives x + r). Other rows are unaffected.
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
                              * y aliasing r (or x with another stride) */
    NORMKIT_ERR_EPS,         /* eps is negative, NaN or infinite */
    NORMKIT_ERR_UNSUPPORTED, /* an ISA this CPU, OS or build cannot run */
    NORMKIT_ERR_NOMEM        /* an allocation failed */
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
/* The ISA the dispatcher is limited to now: the forced one, or the best supported one.
 * Each operator uses its best variant at or below this ISA (scalar at worst). */
NORMKIT_API normkit_isa normkit_isa_active(void);
/* Limit dispatch to `isa` (and the ISAs below it in its family) for every operator, in
 * this process, from the next call on. NORMKIT_ISA_AUTO returns to detection. An
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

/* Pre-norm fused norm + linear entry points (normkit_rmsnorm_linear_f32, ...) are added by
 * their own change; they follow the same conventions. */

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_H */
