/* The linear operators' run-time side (dispatch/linear.c), internal to the library. */
#ifndef NORMKIT_DISPATCH_LINEAR_H
#define NORMKIT_DISPATCH_LINEAR_H

#include "normkit_kernels.h"

/* Runs linear variant k on checked arguments: resolves its blocking knobs (a->kp, or k's
 * registry knobs when NULL) and, for the fused operators, gives it this thread's workspace. */
normkit_status normkit_linear_run(const normkit_kernel *k, const normkit_args *a);

/* The knobs linear variant k runs with when the caller passes none: a tuning file's for its
 * operator and ISA (dispatch.c), else its registry knobs. */
const normkit_kparams *normkit_linear_params(const normkit_kernel *k);

/* 1 when rows x dim floats with stride ld (>= dim) fit in the address space (dispatch.c). */
int normkit_matrix_ok(size_t rows, size_t dim, size_t ld);

#endif
