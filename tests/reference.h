/*
 * float64 references: the oracle every variant is tested against. Written for clarity, not
 * speed; they follow the documented edge-case rules of include/normkit.h:
 *  - a row with NaN or Inf gives NaN everywhere;
 *  - zero spread with eps == 0 gives scale 0 (y = 0, or beta).
 */
#ifndef NORMKIT_TEST_REFERENCE_H
#define NORMKIT_TEST_REFERENCE_H

#include <stddef.h>

/* y = x / sqrt(mean(x^2) + eps) * gamma, in double. */
void ref_rmsnorm_row(size_t n, const float *x, const float *gamma, float eps, double *y);

/* y = (x - mean) / sqrt(var + eps) * gamma + beta, in double. *zmax (if not NULL) receives
 * max |x - mean| / sqrt(var + eps): the row's normalized scale, which LayerNorm's error
 * bound is relative to. */
void ref_layernorm_row(size_t n, const float *x, const float *gamma, const float *beta, float eps,
                       double *y, double *zmax);

/* 1 / sqrt(var + eps) of the row, in double (0 when var + eps is 0: the zero-spread rule). The
 * LayerNorm bound scales the mean's absolute subnormal rounding by it (nk_norm_bound). */
double ref_ln_inv_s(size_t n, const float *x, float eps);

/* The activations in double, with normkit's limits (NaN -> NaN, +Inf -> +Inf, -Inf -> -0). */
double ref_gelu(float x);
double ref_silu(float x);

/* Every operator's reference, one uniform signature: its norm of the row h (x, or x + r for
 * the residual operators), in double, with *zmax as above (0 for RMS-type norms). Expanded
 * from kernels/normkit_ops.inc: an operator <name> needs nk_ref_<name> in reference.c.
 * Elementwise operators (gelu, silu, add, mul) map h = x elementwise (zmax 0); add and mul take
 * their second operand, the row of r, in `gamma` (which no elementwise operator takes). */
typedef void nk_ref_fn(size_t n, const float *h, const float *gamma, const float *beta,
                       float eps, double *y, double *zmax);
#define NORMKIT_OP(NAME, ...) nk_ref_fn nk_ref_##NAME;
#include "normkit_ops.inc"
#undef NORMKIT_OP

/* The reference of operator `op` (an int: a normkit_op) on one row. */
void nk_ref_row(int op, size_t n, const float *h, const float *gamma, const float *beta,
                float eps, double *y, double *zmax);

#endif
