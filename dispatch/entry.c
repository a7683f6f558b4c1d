/*
 * The typed public entry points (include/normkit.h): each packs its arguments into a
 * normkit_args and hands them to normkit_op_run, which checks them by the operator's line of
 * kernels/normkit_ops.inc and calls the active variant; the norms, whose one-row calls are
 * short enough for that packing to show, make the same checks and call without it.
 */
#include "entry.h"
#include "normkit.h"
#include "normkit_kernels.h"

/* The norms: normkit_norm_begin checks as normkit_op_run does, then the variant is called
 * with the arguments as they came (no normkit_args: see entry.h). */
normkit_status normkit_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                   const float *gamma, float eps, float *y, size_t ldy)
{
    normkit_status st;
    const normkit_kparams *kp;
    const normkit_kernel *k = normkit_norm_begin(normkit_op_rmsnorm, rows, dim, x, ldx, NULL, 0,
                                                 y, ldy, eps, &kp, &st);
    if (k)
        k->fn.rmsnorm_f32(rows, dim, x, ldx, gamma, eps, y, ldy, kp);
    return st;
}

normkit_status normkit_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                     const float *gamma, const float *beta, float eps, float *y,
                                     size_t ldy)
{
    normkit_status st;
    const normkit_kparams *kp;
    const normkit_kernel *k = normkit_norm_begin(normkit_op_layernorm, rows, dim, x, ldx, NULL,
                                                 0, y, ldy, eps, &kp, &st);
    if (k)
        k->fn.layernorm_f32(rows, dim, x, ldx, gamma, beta, eps, y, ldy, kp);
    return st;
}

normkit_status normkit_add_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                       float *r, size_t ldr, const float *gamma, float eps,
                                       float *y, size_t ldy)
{
    normkit_status st;
    const normkit_kparams *kp;
    const normkit_kernel *k = normkit_norm_begin(normkit_op_add_rmsnorm, rows, dim, x, ldx, r,
                                                 ldr, y, ldy, eps, &kp, &st);
    if (k)
        k->fn.add_rmsnorm_f32(rows, dim, x, ldx, r, ldr, gamma, eps, y, ldy, kp);
    return st;
}

normkit_status normkit_add_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                         float *r, size_t ldr, const float *gamma,
                                         const float *beta, float eps, float *y, size_t ldy)
{
    normkit_status st;
    const normkit_kparams *kp;
    const normkit_kernel *k = normkit_norm_begin(normkit_op_add_layernorm, rows, dim, x, ldx, r,
                                                 ldr, y, ldy, eps, &kp, &st);
    if (k)
        k->fn.add_layernorm_f32(rows, dim, x, ldx, r, ldr, gamma, beta, eps, y, ldy, kp);
    return st;
}

normkit_status normkit_gelu_f32(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                                size_t ldy)
{
    return normkit_op_run(normkit_op_gelu, &(normkit_args){.rows = rows, .dim = dim, .x = x,
                                                           .ldx = ldx, .y = y, .ldy = ldy});
}

normkit_status normkit_silu_f32(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                                size_t ldy)
{
    return normkit_op_run(normkit_op_silu, &(normkit_args){.rows = rows, .dim = dim, .x = x,
                                                           .ldx = ldx, .y = y, .ldy = ldy});
}

/* r is only read by add and mul; normkit_args carries the residual operators' writable r */
normkit_status normkit_add_f32(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                               size_t ldr, float *y, size_t ldy)
{
    return normkit_op_run(normkit_op_add,
                          &(normkit_args){.rows = rows, .dim = dim, .x = x, .ldx = ldx,
                                          .r = (float *)r, .ldr = ldr, .y = y, .ldy = ldy});
}

normkit_status normkit_mul_f32(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                               size_t ldr, float *y, size_t ldy)
{
    return normkit_op_run(normkit_op_mul,
                          &(normkit_args){.rows = rows, .dim = dim, .x = x, .ldx = ldx,
                                          .r = (float *)r, .ldr = ldr, .y = y, .ldy = ldy});
}

normkit_status normkit_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx,
                                  const float *w, size_t ldw, const float *bias, float *y,
                                  size_t ldy)
{
    return normkit_op_run(normkit_op_linear,
                          &(normkit_args){.rows = rows, .dim = dim, .n = n, .x = x, .ldx = ldx,
                                          .w = w, .ldw = ldw, .bias = bias, .y = y, .ldy = ldy});
}

normkit_status normkit_rmsnorm_linear_f32(size_t rows, size_t dim, size_t n, const float *x,
                                          size_t ldx, const float *gamma, float eps,
                                          const float *w, size_t ldw, const float *bias, float *y,
                                          size_t ldy)
{
    return normkit_op_run(normkit_op_rmsnorm_linear,
                          &(normkit_args){.rows = rows, .dim = dim, .n = n, .x = x, .ldx = ldx,
                                          .gamma = gamma, .eps = eps, .w = w, .ldw = ldw,
                                          .bias = bias, .y = y, .ldy = ldy});
}

normkit_status normkit_layernorm_linear_f32(size_t rows, size_t dim, size_t n, const float *x,
                                            size_t ldx, const float *gamma, const float *beta,
                                            float eps, const float *w, size_t ldw,
                                            const float *bias, float *y, size_t ldy)
{
    return normkit_op_run(normkit_op_layernorm_linear,
                          &(normkit_args){.rows = rows, .dim = dim, .n = n, .x = x, .ldx = ldx,
                                          .gamma = gamma, .beta = beta, .eps = eps, .w = w,
                                          .ldw = ldw, .bias = bias, .y = y, .ldy = ldy});
}
