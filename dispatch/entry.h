/*
 * Internal: what the typed norm entry points (entry.c) call instead of normkit_op_run, so that a
 * call passes its arguments straight to the variant. normkit_op_run builds nothing a norm needs
 * that this leaves out; the difference is a normkit_args of some 150 bytes zeroed and copied per
 * call, a third of a one-row call's time at dim 768 on the Zen 3 guest of docs/performance.md.
 */
#ifndef NORMKIT_ENTRY_H
#define NORMKIT_ENTRY_H

#include "normkit.h"
#include "normkit_kernels.h"

/* The checks of normkit_args_check for norm operator `op`, then the variant normkit_op_run
 * would call and, in *kp, its knobs. NULL when there is nothing to call: *st is then the
 * refusal, or NORMKIT_OK for rows == 0 (nothing to do). */
const normkit_kernel *normkit_norm_begin(normkit_op op, size_t rows, size_t dim, const float *x,
                                         size_t ldx, const float *r, size_t ldr, const float *y,
                                         size_t ldy, float eps, const normkit_kparams **kp,
                                         normkit_status *st);

#endif
