/*
 * block_f64.h — the float64 reference of a block (include/normkit_block.h) and a first-order
 * bound of a float32 evaluation's error, carried step by step by the rules of docs/numerics.md,
 * "Blocks". Shared by tests/test_block.c (one block, exact input, against every path) and
 * tools/normkit_depth.c (a stack of blocks, each layer fed the previous one's bound), and
 * compiled into both: plain C11 and libm, no cmocka, no test harness, no library calls.
 */
#ifndef NORMKIT_BLOCK_F64_H
#define NORMKIT_BLOCK_F64_H

#include <stddef.h>

#include "normkit_block.h"

/*
 * A norm's own error bound, per element, against the float64 norm `ref` of a row of n
 * (g = gamma[i] or 1; zmax = max |z| over the row, LayerNorm only): the formulas of
 * docs/numerics.md, "Test bounds" (stated in tests/harness.h, nk_bound, which calls this).
 */
double nk_norm_bound(normkit_norm norm, size_t n, double ref, double g, double zmax, double inv_s);

/*
 * h = Block(x) for `rows` rows in double (x, h: rows x dim, contiguous; the weights of d are
 * floats, exact in double), and eh >= |h32 - h| to first order in u, h32 being any float32
 * evaluation of the block (every normkit path) on an input within ex of x.
 * ex: rows x dim bounds of the error already in x, or NULL when x is exact.
 * f: NULL, or rows x dim for the FFN branch's output (what the residual add adds to x, so
 * x + f is the residual stream: pre-norm's h, post-norm's norm input).
 * h, eh and f must not overlap x, ex or each other. Returns 0, or -1 when out of memory.
 */
int nk_block_f64(const normkit_block_desc *d, size_t rows, const double *x, const double *ex,
                 double *h, double *eh, double *f);

#endif /* NORMKIT_BLOCK_F64_H */
