/* The linear operators' run-time side (dispatch/linear.c), internal to the library. */
#ifndef NORMKIT_DISPATCH_LINEAR_H
#define NORMKIT_DISPATCH_LINEAR_H

#include "normkit_kernels.h"

/* Runs linear variant k on checked arguments: resolves its blocking knobs (a->kp, or k's
 * registry knobs when NULL) and, for the fused operators, gives it this thread's workspace. */
normkit_status normkit_linear_run(const normkit_kernel *k, const normkit_args *a);

/* 1 when rows x dim floats with stride ld (>= dim) fit in the address space (dispatch.c). */
int normkit_matrix_ok(size_t rows, size_t dim, size_t ld);

#endif
