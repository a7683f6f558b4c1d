/*
 * Internal: what the typed norm entry points (entry.c) call instead of normkit_op_run, so that a
 * call passes its arguments straight to the variant. normkit_op_run does nothing a norm needs
 * that this leaves out; it zeroes and copies a normkit_args of some 150 bytes per call, which,
 * with normkit_matrix_ok's former divides, cost the entry point 22-57 ns per one-row call at
 * dims 64 and 768 on the Zen 3 guest of docs/performance.md (15-32 ns now).
 */
#ifndef NORMKIT_ENTRY_H
#define NORMKIT_ENTRY_H

#include "normkit.h"
#include "normkit_kernels.h"

/* The checks of normkit_args_check for norm operator `op`, then the variant normkit_op_run
 * would call and, in *kp, its knobs. NULL when there is nothing to call: *st is then the
 * refusal (NORMKIT_ERR_SHAPE for an op that is not a norm operator), or NORMKIT_OK for
 * rows == 0 (nothing to do). */
const normkit_kernel *normkit_norm_begin(normkit_op op, size_t rows, size_t dim, const float *x,
                                         size_t ldx, const float *r, size_t ldr, const float *y,
                                         size_t ldy, float eps, const normkit_kparams **kp,
                                         normkit_status *st);

#endif
