/*
 * Test harness shared by the suites: a seeded RNG, operator-generic calls through the
 * registry or the public API, the checker with normkit's stated error bounds, canaries
 * and guard pages.
 */
#ifndef NORMKIT_TEST_HARNESS_H
#define NORMKIT_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "normkit_kernels.h"

/* ---- deterministic random numbers (splitmix64) ---- */
typedef struct { uint64_t s; } nk_rng;
uint64_t nk_rng_next(nk_rng *r);
float nk_rng_uniform(nk_rng *r, float lo, float hi);
double nk_rng_normal(nk_rng *r);

/* ---- one call's arguments, for any operator: the library's generic argument struct ---- */
typedef normkit_args nk_args;

/* The best ISA this machine supports, by a fact other than the dispatcher's ranking: the ISA
 * of the first variant of the first operator, in the registry's documented best-first order,
 * that normkit_isa_supported() accepts. */
/* The ISA "auto" must pick: the registry's first supported ISA, but NEON over SVE when SVE's
 * vectors are 128 bits (nk_sve_bits: the length from the kernel, 0 without SVE). */
normkit_isa nk_best_supported_isa(void);
unsigned nk_sve_bits(void);

/* The operator's traits, from its line of kernels/normkit_ops.inc. */
int nk_op_has_residual(normkit_op op);
int nk_op_has_beta(normkit_op op);
int nk_op_is_layernorm(normkit_op op);
/* Elementwise operators (gelu, silu, add, mul), and those of them that read r as a second input
 * (add, mul). */
int nk_op_is_elementwise(normkit_op op);
int nk_op_has_second_input(normkit_op op);
/* Calls the variant with its registry knobs (nk_call_kernel) or with `kp` (may be NULL),
 * through the library's generic call; a->kp is ignored. */
void nk_call_kernel(const normkit_kernel *k, const nk_args *a);
void nk_call_kernel_kp(const normkit_kernel *k, const nk_args *a, const normkit_kparams *kp);
/* Calls the operator's typed public entry point (normkit_<op>_f32) with a's members, expanded
 * from the operator table: the entry points themselves are under test, not normkit_op_run. */
normkit_status nk_call_api(normkit_op op, const nk_args *a);

/*
 * The error bounds every variant must meet, against the float64 reference (u = 2^-24,
 * n = dim, g = gamma[i] or 1). They come from the worst case of float summation: a sum of
 * n terms carries a relative error of at most n*u, whatever the order (more accumulators
 * only make it smaller).
 *  RMSNorm:   |y - ref| <= (n/2 + 6) u |ref| + 2^-149 (1 + |g|)
 *     n*u from the sum of squares, halved by sqrt; 6u for the divide by n, + eps, sqrt,
 *     reciprocal and two multiplies. The 2^-149 term is the absolute rounding of results
 *     that land in the subnormal range (relative error means nothing there).
 *  LayerNorm: |y - ref| <= (1.5n + 12) u |g| zmax + 2u |ref| + 2^-149 (2 + |g| + 2 |g| / S)
 *     with zmax = max |x - mean| / sqrt(var + eps) over the row. The mean's error is an
 *     absolute error, the same for every element, of at most n*u times the mean absolute
 *     deviation (which is <= zmax in normalized units); the variance adds (n/2)u of
 *     relative error as for RMSNorm; 12u covers the per-element subtractions, multiplies,
 *     the per-row divisions and sqrt; 2u|ref| the final rounding with beta; 2^-148 |g| / S
 *     (inv_s = 1/S, S = sqrt(var + eps), from ref_ln_inv_s; 0 for RMSNorm) the mean's own
 *     rounding when it lands in the subnormal range, where it is absolute, not relative.
 *  add+norm:  r must hold fl(x + r) exactly (one IEEE addition), and y meets the bound above
 *     against the reference of that h.
 *  A NaN reference (the row held NaN/Inf) requires NaN in every y of the row.
 * (Computed by nk_norm_bound, block_f64.h, which the float64 blocks use too.)
 */
double nk_bound(normkit_op op, size_t n, double ref, double g, double zmax, double inv_s);

/*
 * The elementwise operators' bounds (docs/numerics.md, "Activations"), for input x and the
 * float64 reference ref:
 *  GELU, SiLU: |y - ref| <= R u |ref| with R = 6 (GELU), 5 (SiLU) while the intermediate the
 *    float computation carries — erfc(-x/sqrt 2), resp. exp(-|x|) — and ref are normal floats
 *    (>= 2^-126); else |y - ref| <= 2^-148 (1 + |x|): that intermediate is then subnormal,
 *    with an absolute error of ~2^-149, which y = x/2 * erfc or x * exp multiplies by |x|.
 *  add, mul: 0 (y must be the correctly rounded float: nk_check compares bits).
 * NaN references require NaN, infinite ones the same infinity (both checked by nk_check).
 */
double nk_act_bound(normkit_op op, float x, double ref);
/* 1 where that bound is the relative one (gelu, silu). */
int nk_act_relative(normkit_op op, float x, double ref);

/*
 * Checks every row of a finished call: y (and r) against the reference computed from
 * x_in and r_in, copies of the inputs taken before the call (ld: their strides). For add and
 * mul, r_in is the second input (r is not written); gelu and silu ignore it.
 * Returns 1 if all is well; otherwise 0 and a description of the first failure in msg.
 */
int nk_check(normkit_op op, const nk_args *a, const float *x_in, size_t ldx_in,
             const float *r_in, size_t ldr_in, char *msg, size_t msglen);

/* A cmocka test's kernel (its state), or a skip reported by name when this CPU, OS or build
 * cannot run the kernel's ISA. */
const normkit_kernel *nk_kernel_or_skip(void **state);

/* ---- matrices surrounded by canaries ---- */
/* A quiet NaN with a payload no arithmetic produces: a write from a kernel changes it. */
float nk_canary(void);
int nk_is_canary(float f);
typedef struct {
    float *base;  /* allocation */
    size_t len;   /* floats in the allocation */
    float *m;     /* the matrix: base + offset */
    size_t rows, dim, ld;
} nk_mat;
/* rows x dim with stride ld, starting `offset` floats past a 64-byte boundary; every float
 * of the allocation starts as a canary. */
void nk_mat_alloc(nk_mat *m, size_t rows, size_t dim, size_t ld, size_t offset);
void nk_mat_free(nk_mat *m);
void nk_mat_fill(nk_mat *m, nk_rng *rng, float lo, float hi);
/* 1 if every float outside the matrix's rows (stride gaps, before, after) is still a canary. */
int nk_mat_canaries_ok(const nk_mat *m);
/* A dense copy (stride dim) of the matrix; free() it. */
float *nk_mat_copy(const nk_mat *m);

/* ---- guard pages ---- */
typedef struct { void *map; size_t len; } nk_guard;
/* n floats placed so that the float just past the end (at_start == 0) or just before the
 * start (at_start == 1) lies in a PROT_NONE page: touching it faults. */
float *nk_guarded(size_t n, int at_start, nk_guard *g);
void nk_guard_free(nk_guard *g);

/* ---- NK_SHAPES: the full sweep (unset or "full") or a quick one ("quick") ----
 * NK_SHAPES=quick is for slow runs, such as tests/valgrind.sh (memcheck runs the tests 10-50
 * times slower). It keeps every code path the full sweep reaches: every dim 1..67 (every tail
 * and remainder of the vector loops and tiles), the dims on both sides of 128 and 256, a dim
 * past every row-length threshold of the kernels (2049: past 2048, pipe_max_dim's default and
 * the L1 prefetch limit; the one-pass LayerNorm's minimum, 128, is crossed by 127-129),
 * strides, misaligned pointers, in place, guard pages, the special values and every knob value
 * the tuner can pick. It drops only large shapes that repeat those paths: model-sized dims
 * (768, 1000, 4095, 4096, 4097, 8192; 2049 stands for them), the longest rows, most of the
 * many-row cases. Each test file says what its own quick mode drops. Any other value of
 * NK_SHAPES is an error (exit 2). Quick runs do not replace the full suite (the numerics on
 * long rows are checked there). */
int nk_quick(void);
/* The optional argument of test_kernels, test_linear, test_act and test_block: an ISA name
 * (then only that ISA's variants, or blocks, are tested; the public entry points run whatever
 * NORMKIT_ISA selects); -1 without one. Without an argument, NK_TEST_ISA=<isa> in the
 * environment does the same (CI's runs at each SVE vector length: only the SVE variants, whose
 * results depend on the length). Exits 2 on a bad name or extra arguments. Also prints the
 * NK_SHAPES mode when it is quick. */
int nk_test_isa_arg(int argc, char **argv);
/* A test's exit status for `only` (nk_test_isa_arg's result): 77, which meson reports as
 * SKIP, when only that ISA was asked for and this CPU/OS/build cannot run it (each case has
 * said so by name); else `failed`. */
int nk_isa_exit(int only, int failed);

/* The dims every variant is tested on: 1..67, powers of two and neighbours, model sizes
 * (NK_SHAPES=quick: 1..67, 127-129, 255-257, 511-513, 2049). */
const size_t *nk_dims_list(void);
size_t nk_dims_count(void);
#define nk_dims (nk_dims_list())
#define nk_ndims (nk_dims_count())

#endif
