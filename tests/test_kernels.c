/*
 * Every norm and add+norm variant in the registry x every case below, against the float64 reference
 * with the bounds stated in harness.h (linear operators: tests/test_linear.c; elementwise ones:
 * tests/test_act.c). Variants whose ISA this CPU (or OS) cannot run are
 * reported as skipped, by name. Nothing here lists a kernel by hand.
 *
 * NK_SHAPES=quick (harness.h; tests/valgrind.sh) drops, besides the model-sized dims of nk_dims:
 * the 64-row calls of test_shapes for dims past 67 (7 rows instead); the outlier rows of 16384
 * and 65536 floats (test_large_mean); in test_memory_modes_and_null_knobs, four of the five
 * adversarial fills at each dim (they take turns, so each still meets every 5th dim, tails
 * included); in test_tuner_pipe_values, the dims past 2049 (every pipe_max_dim is still met by
 * rows on both sides of it, or, for 4096 and up, by rows that all pipeline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tuning.h"
#include "reference.h"

#define SEED 0x6e6f726d6b6974ull /* "normkit" */

typedef void nk_fill_fn(nk_rng *rng, size_t row, size_t dim, float *x, float *r);

typedef struct {
    size_t rows, dim, ldx, ldr, ldy;
    size_t offx, offr, offy, offg; /* misalignment, in floats, from a 64-byte boundary */
    int gamma, beta, inplace;      /* use gamma / beta; y == x */
    float eps;
    nk_fill_fn *fill;
    const normkit_kparams *kp; /* knobs passed to the variant; NULL here = its registry defaults */
    int null_kp;               /* pass kp == NULL instead (kernels must accept it) */
} nk_case;

/* Runs one case on one variant; returns 0 with msg set on the first problem. */
static int run_case(const normkit_kernel *k, const nk_case *c, nk_rng *rng, char *msg,
                    size_t msglen)
{
    const int res = nk_op_has_residual(k->op);
    nk_mat x, r = {0}, y = {0}, g = {0}, b = {0};
    nk_mat_alloc(&x, c->rows, c->dim, c->ldx, c->offx);
    if (res)
        nk_mat_alloc(&r, c->rows, c->dim, c->ldr, c->offr);
    if (!c->inplace)
        nk_mat_alloc(&y, c->rows, c->dim, c->ldy, c->offy);
    for (size_t row = 0; row < c->rows; row++)
        c->fill(rng, row, c->dim, x.m + row * c->ldx, res ? r.m + row * c->ldr : NULL);
    if (c->gamma) {
        nk_mat_alloc(&g, 1, c->dim, c->dim, c->offg);
        nk_mat_fill(&g, rng, -2.0f, 2.0f);
    }
    if (c->beta && nk_op_has_beta(k->op)) {
        nk_mat_alloc(&b, 1, c->dim, c->dim, c->offg + 1);
        nk_mat_fill(&b, rng, -1.0f, 1.0f);
    }
    float *x_in = nk_mat_copy(&x);
    float *r_in = res ? nk_mat_copy(&r) : NULL;

    nk_args a = {.rows = c->rows, .dim = c->dim, .x = x.m, .ldx = c->ldx,
                 .r = res ? r.m : NULL, .ldr = c->ldr, .gamma = c->gamma ? g.m : NULL,
                 .beta = b.base ? b.m : NULL, .eps = c->eps,
                 .y = c->inplace ? x.m : y.m, .ldy = c->inplace ? c->ldx : c->ldy};
    nk_call_kernel_kp(k, &a, c->null_kp ? NULL : c->kp ? c->kp : &k->params);

    int ok = nk_check(k->op, &a, x_in, c->dim, r_in, c->dim, msg, msglen);
    if (ok && !nk_mat_canaries_ok(c->inplace ? &x : &y)) {
        snprintf(msg, msglen, "y: a write outside the rows (stride gap or past the end)");
        ok = 0;
    }
    if (ok && res && !nk_mat_canaries_ok(&r)) {
        snprintf(msg, msglen, "r: a write outside the rows");
        ok = 0;
    }
    if (ok && !c->inplace) {
        float *x_after = nk_mat_copy(&x);
        if (memcmp(x_after, x_in, c->rows * c->dim * sizeof(float)) != 0 || !nk_mat_canaries_ok(&x)) {
            snprintf(msg, msglen, "x (an input) was modified");
            ok = 0;
        }
        free(x_after);
    }
    free(x_in);
    free(r_in);
    nk_mat_free(&x);
    if (res) nk_mat_free(&r);
    if (!c->inplace) nk_mat_free(&y);
    if (g.base) nk_mat_free(&g);
    if (b.base) nk_mat_free(&b);
    return ok;
}

static void expect_case(const normkit_kernel *k, const char *what, const nk_case *c, nk_rng *rng)
{
    char msg[512];
    if (!run_case(k, c, rng, msg, sizeof msg))
        fail_msg("%s, %s: rows %zu dim %zu ldx %zu ldr %zu ldy %zu offsets %zu/%zu/%zu/%zu "
                 "gamma %d beta %d in-place %d eps %g (seed %#llx): %s",
                 k->name, what, c->rows, c->dim, c->ldx, c->ldr, c->ldy, c->offx, c->offr,
                 c->offy, c->offg, c->gamma, c->beta, c->inplace, (double)c->eps,
                 (unsigned long long)SEED, msg);
}

static nk_case dense(size_t rows, size_t dim, float eps, nk_fill_fn *fill)
{
    return (nk_case){.rows = rows, .dim = dim, .ldx = dim, .ldr = dim, .ldy = dim,
                     .gamma = 1, .beta = 1, .eps = eps, .fill = fill};
}

/* Strides above dim and pointers 1-3 floats off a 64-byte boundary, varied with the dim's
 * index d so that every combination of remainders shows up across the dims. */
static void make_strided(nk_case *c, size_t d)
{
    c->ldx = c->dim + 1 + d % 3;
    c->ldr = c->dim + 2;
    c->ldy = c->dim + 3 + d % 5;
    c->offx = 1 + d % 3;
    c->offr = 1 + (d + 1) % 3;
    c->offy = 1 + (d + 2) % 3;
}

/* ---- fills: one row of x (and r for add+norm) ---- */

static void fill_uniform(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    (void)row;
    const float offset = nk_rng_uniform(rng, -0.5f, 0.5f), amp = nk_rng_uniform(rng, 0.1f, 4.0f);
    for (size_t i = 0; i < dim; i++) {
        x[i] = offset + amp * nk_rng_uniform(rng, -1.0f, 1.0f);
        if (r) r[i] = nk_rng_uniform(rng, -1.0f, 1.0f);
    }
}

static int float_order(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Large mean, small spread: E[x^2] - E[x]^2 in float returns noise. Rows 0 and 1: mean 1e4
 * and -3e3 with std 1e-2 (~10 ulps). Row 2: mean 1e5, std 1e-2, sorted ascending, where a
 * plain float sum for the mean drifts by ~1000 std (rounding all one way), which defeats a
 * two-pass variance unless the first pass is shifted. */
static void fill_large_mean(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    static const double means[] = {1e4, -3e3, 1e5};
    for (size_t i = 0; i < dim; i++) {
        x[i] = (float)(means[row % 3] + 1e-2 * nk_rng_normal(rng));
        if (r) r[i] = row % 3 == 2 ? 0.0f : (float)(1e-2 * nk_rng_normal(rng));
    }
    if (row % 3 == 2)
        qsort(x, dim, sizeof *x, float_order);
}

/* h = 0 exactly: x = v, r = -v. */
static void fill_zero(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    (void)row;
    for (size_t i = 0; i < dim; i++) {
        float v = r ? nk_rng_uniform(rng, -1.0f, 1.0f) : 0.0f;
        x[i] = v;
        if (r) r[i] = -v;
    }
}

/* Constants with long binary expansions, so a float sum of the row rounds: a kernel must
 * still find zero spread (LayerNorm then gives exactly beta when eps == 0). */
static void fill_const(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    (void)rng;
    static const float values[] = {0.1f, -3.3f, 10000.7f};
    for (size_t i = 0; i < dim; i++) {
        x[i] = values[row % 3];
        if (r) r[i] = 0.3f;
    }
}

/* Subnormal rows (row even) and tiny normal rows (row odd): squares underflow. */
static void fill_tiny(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    const float unit = row & 1 ? 1e-30f : 0x1p-149f;
    const float hi = row & 1 ? 1.0f : 4096.0f;
    for (size_t i = 0; i < dim; i++) {
        x[i] = unit * nk_rng_uniform(rng, -hi, hi);
        if (r) r[i] = unit * nk_rng_uniform(rng, -hi, hi);
    }
}

/* Squares overflow: values up to FLT_MAX (row even), or one 1e30 among small values. */
static void fill_huge(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    for (size_t i = 0; i < dim; i++) {
        if (row & 1)
            x[i] = i == (row * 7) % dim ? 1e30f : nk_rng_uniform(rng, -1.0f, 1.0f);
        else
            x[i] = nk_rng_uniform(rng, 0.1f, 1.0f) * (nk_rng_next(rng) & 1 ? 3.4e38f : -3.4e38f);
        if (r) r[i] = nk_rng_uniform(rng, -1.0f, 1.0f);
    }
}

/* |x| ~ 1e19: mean(x^2) ~ 1e38 is still a float, but adding a huge eps overflows. */
static void fill_large_scale(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    (void)row;
    for (size_t i = 0; i < dim; i++) {
        x[i] = 1e19f * nk_rng_uniform(rng, -1.0f, 1.0f);
        if (r) r[i] = 1e18f * nk_rng_uniform(rng, -1.0f, 1.0f);
    }
}

/* The row's first element far from the rest (k standard deviations, k = 3, sqrt(n) and 1e4
 * by row): a one-pass variance shifted by x[0] cancels badly there, so a variant must notice
 * and take the second pass. */
static void fill_outlier_first(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    const double ks[] = {3.0, sqrt((double)dim), 1e4};
    const double mean = row & 1 ? -50.0 : 2.0;
    for (size_t i = 0; i < dim; i++) {
        x[i] = (float)(mean + nk_rng_normal(rng));
        if (r) r[i] = 0.0f;
    }
    x[0] = (float)(mean + ks[row % 3] * (row & 1 ? -1.0 : 1.0));
}

/* Uniform rows, but row 1 holds a NaN (in x, at the middle) and row 2 an Inf (in r for
 * add+norm, else in x, at the end): those rows must come out all NaN, the others exact. */
static void fill_poisoned(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    fill_uniform(rng, row, dim, x, r);
    if (row % 3 == 1)
        x[dim / 2] = NAN;
    if (row % 3 == 2)
        (r ? r : x)[dim - 1] = INFINITY;
}

/* Row p holds 3.0 at position p % dim and zeros elsewhere: drops a tail element, it fails. */
static void fill_one_hot(nk_rng *rng, size_t row, size_t dim, float *x, float *r)
{
    (void)rng;
    for (size_t i = 0; i < dim; i++) {
        x[i] = i == row % dim ? 3.0f : 0.0f;
        if (r) r[i] = 0.0f;
    }
}

/* ---- the cases ---- */

static void test_shapes(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    static const size_t row_counts[] = {1, 2, 3, 4, 5, 64};
    static const float eps[] = {1e-5f, 0.0f, 1e-2f};
    nk_rng rng = {SEED};
    size_t combo = 0;
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++, combo++) {
            size_t rows = row_counts[ri];
            if (nk_quick() && rows == 64 && nk_dims[d] > 67)
                rows = 7; /* quick: 64 rows only up to dim 67 */
            nk_case c = dense(rows, nk_dims[d], eps[combo % 3], fill_uniform);
            c.gamma = combo & 1;
            c.beta = (combo >> 1) & 1;
            expect_case(k, "shapes", &c, &rng);
        }
}

static void test_strides_unaligned(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 1};
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t rows = 1; rows <= 5; rows += 2) {
            const size_t dim = nk_dims[d];
            nk_case c = dense(rows, dim, 1e-5f, fill_uniform);
            make_strided(&c, d);
            c.offg = 1 + rows % 3;
            expect_case(k, "strides+unaligned", &c, &rng);
        }
}

static void test_inplace(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 2};
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t rows = 1; rows <= 3; rows += 2) {
            nk_case c = dense(rows, nk_dims[d], 1e-5f, fill_uniform);
            c.inplace = 1;
            c.ldx = nk_dims[d] + (rows > 1 ? 2 : 0);
            c.offx = d % 4;
            expect_case(k, "in-place y == x", &c, &rng);
        }
}

static void test_large_mean(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 3};
    for (size_t d = 0; d < nk_ndims; d++)
        for (int e = 0; e < 2; e++) {
            nk_case c = dense(3, nk_dims[d], e ? 0.0f : 1e-6f, fill_large_mean);
            expect_case(k, "mean 1e4, std 1e-2", &c, &rng);
        }
    /* first element an outlier, up to 65536 long (where the one-pass error would show most) */
    static const size_t long_dims[] = {16384, 65536};
    const size_t nlong = nk_quick() ? 0 : 2; /* quick: none */
    for (size_t d = 0; d < nk_ndims + nlong; d++) {
        const size_t dim = d < nk_ndims ? nk_dims[d] : long_dims[d - nk_ndims];
        nk_case c = dense(6, dim, 0.0f, fill_outlier_first);
        expect_case(k, "first element an outlier", &c, &rng);
    }
}

/* All-zero and constant rows: the reference is exact there, and so must the kernels be. */
static void test_zero_and_constant_rows(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 4};
    for (size_t d = 0; d < nk_ndims; d++)
        for (int e = 0; e < 2; e++) {
            const float eps = e ? 0.0f : 1e-5f;
            nk_case c = dense(3, nk_dims[d], eps, fill_zero);
            c.beta = 1;
            expect_case(k, "all-zero rows", &c, &rng);
            /* Check exactness too: y = 0 (RMSNorm) or beta (LayerNorm), for any eps. */
            const size_t n = nk_dims[d];
            float *x = calloc(n, sizeof *x), *y = malloc(n * sizeof *y);
            float *r = calloc(n, sizeof *r), *beta = malloc(n * sizeof *beta);
            for (size_t i = 0; i < n; i++)
                beta[i] = (float)i - 7.5f;
            nk_args a = {.rows = 1, .dim = n, .x = x, .ldx = n, .r = r, .ldr = n,
                         .beta = beta, .eps = eps, .y = y, .ldy = n};
            nk_call_kernel(k, &a);
            for (size_t i = 0; i < n; i++) {
                float want = nk_op_is_layernorm(k->op) ? beta[i] : 0.0f;
                if (y[i] != want)
                    fail_msg("%s: zero row, dim %zu, eps %g: y[%zu] = %g, want exactly %g", k->name,
                             n, (double)eps, i, (double)y[i], (double)want);
            }
            free(x); free(y); free(r); free(beta);

            c.fill = fill_const;
            expect_case(k, "constant rows", &c, &rng);
        }
}

static void test_tiny(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 5};
    for (size_t d = 0; d < nk_ndims; d++)
        for (int e = 0; e < 2; e++) {
            nk_case c = dense(2, nk_dims[d], e ? 0.0f : 1e-5f, fill_tiny);
            expect_case(k, "tiny and subnormal values", &c, &rng);
        }
}

static void test_huge(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 6};
    for (size_t d = 0; d < nk_ndims; d++) {
        nk_case c = dense(2, nk_dims[d], 1e-5f, fill_huge);
        expect_case(k, "squares overflow float (finite results required)", &c, &rng);
        /* eps as large as it gets: mean(x^2) + eps overflows float, yet y is finite */
        c = dense(2, nk_dims[d], FLT_MAX, fill_large_scale);
        expect_case(k, "eps = FLT_MAX", &c, &rng);
    }
}

static void test_one_hot(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 7};
    for (size_t d = 0; d < nk_ndims; d++) {
        const size_t dim = nk_dims[d];
        /* every position for short rows; for long ones, the first and the last 67 */
        nk_case c = dense(dim <= 67 ? dim : 67, dim, 0.0f, fill_one_hot);
        expect_case(k, "one-hot rows", &c, &rng);
        if (dim > 67) {
            /* and the last 67: row p is hot at dim - 67 + p (the tails) */
            float *x = calloc(67 * dim, sizeof *x), *y = malloc(67 * dim * sizeof *y);
            float *r = calloc(67 * dim, sizeof *r);
            for (size_t p = 0; p < 67; p++)
                x[p * dim + dim - 67 + p] = 3.0f;
            float *x_in = malloc(67 * dim * sizeof *x_in), *r_in = calloc(67 * dim, sizeof *r_in);
            memcpy(x_in, x, 67 * dim * sizeof *x);
            nk_args a = {.rows = 67, .dim = dim, .x = x, .ldx = dim, .r = r, .ldr = dim,
                         .eps = 0.0f, .y = y, .ldy = dim};
            nk_call_kernel(k, &a);
            char msg[512];
            if (!nk_check(k->op, &a, x_in, dim, r_in, dim, msg, sizeof msg))
                fail_msg("%s: one-hot in the last 67 positions, dim %zu: %s", k->name, dim, msg);
            free(x); free(y); free(r); free(x_in); free(r_in);
        }
    }
}

/* NaN/Inf in some rows: those rows give NaN, the others stay exact. */
static void test_nonfinite(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 8};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t d = 0; d < nk_ndims; d++) {
        const size_t dim = nk_dims[d], rows = 5;
        const size_t where[] = {0, dim / 2, dim - 1};
        for (size_t w = 0; w < 3; w++)
            for (size_t bi = 0; bi < 3; bi++) {
                float *x = malloc(rows * dim * sizeof *x), *y = malloc(rows * dim * sizeof *y);
                float *r = malloc(rows * dim * sizeof *r);
                for (size_t row = 0; row < rows; row++)
                    fill_uniform(&rng, row, dim, x + row * dim, r + row * dim);
                x[1 * dim + where[w]] = bad[bi];           /* row 1: bad in x */
                r[3 * dim + where[(w + 1) % 3]] = bad[bi]; /* row 3: bad in r (add+norm) */
                float *x_in = malloc(rows * dim * sizeof *x), *r_in = malloc(rows * dim * sizeof *r);
                memcpy(x_in, x, rows * dim * sizeof *x);
                memcpy(r_in, r, rows * dim * sizeof *r);
                nk_args a = {.rows = rows, .dim = dim, .x = x, .ldx = dim, .r = r, .ldr = dim,
                             .eps = 1e-5f, .y = y, .ldy = dim};
                nk_call_kernel(k, &a);
                char msg[512];
                if (!nk_check(k->op, &a, x_in, dim, r_in, dim, msg, sizeof msg))
                    fail_msg("%s: %g at position %zu of row 1, dim %zu: %s", k->name,
                             (double)bad[bi], where[w], dim, msg);
                /* the bad row is NaN throughout (nk_check demands it); rows 0, 2, 4 are clean */
                if (!isnan(y[1 * dim]) || isnan(y[0]) || isnan(y[2 * dim]))
                    fail_msg("%s: NaN/Inf was not confined to its row (dim %zu)", k->name, dim);
                free(x); free(y); free(r); free(x_in); free(r_in);
            }
    }
}

/* Every array ends (or starts) at an unmapped page: any access past the row faults. */
static void guard_run(const normkit_kernel *k, int at_start, const normkit_kparams *kp)
{
    nk_rng rng = {SEED + 9 + (uint64_t)at_start};
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t rows = 1; rows <= 2; rows++) {
            const size_t dim = nk_dims[d], ld = rows > 1 ? dim + 3 : dim;
            const size_t len = (rows - 1) * ld + dim;
            nk_guard gx, gr, gy, gg, gb;
            float *x = nk_guarded(len, at_start, &gx), *r = nk_guarded(len, at_start, &gr);
            float *y = nk_guarded(len, at_start, &gy);
            float *gamma = nk_guarded(dim, at_start, &gg), *beta = nk_guarded(dim, at_start, &gb);
            for (size_t i = 0; i < len; i++) {
                x[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
                r[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
            }
            for (size_t i = 0; i < dim; i++) {
                gamma[i] = nk_rng_uniform(&rng, -2.0f, 2.0f);
                beta[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
            }
            float *x_in = malloc(len * sizeof *x_in), *r_in = malloc(len * sizeof *r_in);
            memcpy(x_in, x, len * sizeof *x);
            memcpy(r_in, r, len * sizeof *r);
            nk_args a = {.rows = rows, .dim = dim, .x = x, .ldx = ld, .r = r, .ldr = ld,
                         .gamma = gamma, .beta = beta, .eps = 1e-5f, .y = y, .ldy = ld};
            nk_call_kernel_kp(k, &a, kp);
            char msg[512];
            if (!nk_check(k->op, &a, x_in, ld, r_in, ld, msg, sizeof msg))
                fail_msg("%s: guarded rows, dim %zu: %s", k->name, dim, msg);
            /* in place, too */
            memcpy(x, x_in, len * sizeof *x);
            memcpy(r, r_in, len * sizeof *r);
            a.y = x;
            nk_call_kernel_kp(k, &a, kp);
            if (!nk_check(k->op, &a, x_in, ld, r_in, ld, msg, sizeof msg))
                fail_msg("%s: guarded rows in place, dim %zu: %s", k->name, dim, msg);
            free(x_in); free(r_in);
            nk_guard_free(&gx); nk_guard_free(&gr); nk_guard_free(&gy);
            nk_guard_free(&gg); nk_guard_free(&gb);
        }
}

static void test_guard_end(void **state) { guard_run(nk_kernel_or_skip(state), 0, &nk_kernel_or_skip(state)->params); }
static void test_guard_start(void **state) { guard_run(nk_kernel_or_skip(state), 1, &nk_kernel_or_skip(state)->params); }

/* The buffers of two calls compared bit for bit (modes_not_read, test_rows_as_one_row_calls):
 * x and r0 (the inputs, n floats), r1/y1 and r2/y2 (each call's r and y), gamma and beta (dim
 * floats). The callers fill them. */
typedef struct {
    float *x, *r0, *r1, *r2, *y1, *y2, *g, *b;
} nk_pair;

static nk_pair pair_alloc(size_t n, size_t dim)
{
    nk_pair p = {malloc(n * 4), malloc(n * 4), malloc(n * 4), malloc(n * 4),
                 malloc(n * 4), malloc(n * 4), malloc(dim * 4), malloc(dim * 4)};
    if (!p.x || !p.r0 || !p.r1 || !p.r2 || !p.y1 || !p.y2 || !p.g || !p.b)
        abort();
    return p;
}

/* Whether both calls wrote the same bits: y, and r when the operator writes it. */
static int pair_same(const nk_pair *p, size_t n, int res)
{
    return memcmp(p->y1, p->y2, n * 4) == 0 && (!res || memcmp(p->r1, p->r2, n * 4) == 0);
}

static void pair_free(nk_pair *p)
{
    free(p->x); free(p->r0); free(p->r1); free(p->r2);
    free(p->y1); free(p->y2); free(p->g); free(p->b);
}

/* A variant whose registry defaults never enter either memory mode (both thresholds
 * SIZE_MAX: the scalar, NEON and SVE variants, which have no such modes): forcing either mode
 * must not change what it writes: bit for bit what its defaults give (y, and r for add &
 * norm; the stride gaps and 16 floats past the last row included), on every dim, 3 rows
 * strided and unaligned, one of them on the rare path. For these variants it stands in for
 * the full forced-mode sweep, which re-ran the default path the other cases test. */
static void modes_not_read(const normkit_kernel *k, nk_rng *rng)
{
    const int res = nk_op_has_residual(k->op);
    for (size_t d = 0; d < nk_ndims; d++) {
        const size_t dim = nk_dims[d], ld = dim + 1 + d % 3, rows = 3, n = rows * ld + 16;
        nk_pair p = pair_alloc(n, dim);
        float *x = p.x, *r0 = p.r0, *r1 = p.r1, *r2 = p.r2, *y1 = p.y1, *y2 = p.y2, *g = p.g,
              *b = p.b;
        for (size_t i = 0; i < n; i++) {
            x[i] = nk_rng_uniform(rng, -3.0f, 3.0f);
            r0[i] = nk_rng_uniform(rng, -1.0f, 1.0f);
        }
        for (size_t i = 0; i < dim; i++) {
            x[1 + ld + i] *= 0x1p100f; /* row 1's squares overflow: the rare path */
            g[i] = nk_rng_uniform(rng, -2.0f, 2.0f);
            b[i] = nk_rng_uniform(rng, -1.0f, 1.0f);
        }
        memcpy(r1, r0, n * 4);
        memset(y1, 0, n * 4);
        nk_args a = {.rows = rows, .dim = dim, .x = x + 1, .ldx = ld, .r = r1 + 1, .ldr = ld,
                     .gamma = g, .beta = b, .eps = 1e-5f, .y = y1 + 1, .ldy = ld};
        nk_call_kernel_kp(k, &a, &k->params);
        for (int m = 0; m < 2; m++) {
            normkit_kparams kp = k->params;
            if (m == 0)
                kp.nt_min_bytes = 0;
            else
                kp.dram_min_bytes = 0;
            memcpy(r2, r0, n * 4);
            memset(y2, 0, n * 4);
            nk_args f = a;
            f.r = r2 + 1, f.y = y2 + 1;
            nk_call_kernel_kp(k, &f, &kp);
            if (!pair_same(&p, n, res))
                fail_msg("%s, dim %zu: its defaults say it has no %s, yet forcing it changed "
                         "what it wrote", k->name, dim, m == 0 ? "streaming stores" : "memory mode");
        }
        pair_free(&p);
    }
}

/* The memory modes, which the registry's defaults keep for calls of tens of MiB, forced on
 * for every call: streaming stores, and memory mode (prefetching y) without them; on the
 * shapes, strides, offsets, in-place use and guard pages above (for variants without the
 * modes: modes_not_read). And kp == NULL, which every variant must accept (cache-resident
 * mode). */
static void test_memory_modes_and_null_knobs(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    static const struct {
        const char *name;
        normkit_kparams kp;
    } modes[] = {
        {"streaming stores", {.nt_min_bytes = 0, .dram_min_bytes = SIZE_MAX}},
        {"memory mode", {.nt_min_bytes = SIZE_MAX, .dram_min_bytes = 0}},
    };
    nk_rng rng = {SEED + 12};
    const int has_modes = k->params.nt_min_bytes != SIZE_MAX || k->params.dram_min_bytes != SIZE_MAX;
    if (!has_modes)
        modes_not_read(k, &rng);
    for (size_t m = 0; has_modes && m < sizeof modes / sizeof modes[0]; m++) {
        char what[96];
        for (size_t d = 0; d < nk_ndims; d++)
            for (size_t rows = 1; rows <= 3; rows += 2) {
                const size_t dim = nk_dims[d];
                nk_case c = dense(rows, dim, 1e-5f, fill_uniform);
                c.kp = &modes[m].kp;
                c.gamma = (d >> 1) & 1;
                c.beta = d & 1;
                snprintf(what, sizeof what, "%s, dense", modes[m].name);
                expect_case(k, what, &c, &rng);
                make_strided(&c, d);
                snprintf(what, sizeof what, "%s, strided and unaligned", modes[m].name);
                expect_case(k, what, &c, &rng);
                c.inplace = 1;
                snprintf(what, sizeof what, "%s, in place", modes[m].name);
                expect_case(k, what, &c, &rng);
                /* every gamma/beta combination, and the rows that take the rare path */
                static nk_fill_fn *const fills[] = {fill_large_mean, fill_poisoned, fill_huge,
                                                    fill_tiny, fill_const};
                for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
                    if (nk_quick() && f != (d + rows / 2) % 5)
                        continue; /* quick: one fill per dim and row count, in turn */
                    c = dense(3, dim, f % 2 ? 0.0f : 1e-5f, fills[f]);
                    c.kp = &modes[m].kp;
                    c.gamma = (d + f) & 1;
                    c.beta = ((d + f) >> 1) & 1;
                    c.inplace = rows > 1;
                    snprintf(what, sizeof what, "%s, adversarial rows (fill %zu)", modes[m].name, f);
                    expect_case(k, what, &c, &rng);
                }
            }
        guard_run(k, 0, &modes[m].kp);
        guard_run(k, 1, &modes[m].kp);
    }
    for (size_t d = 0; d < nk_ndims; d++) {
        nk_case c = dense(3, nk_dims[d], 1e-5f, fill_uniform);
        c.null_kp = 1;
        expect_case(k, "kp == NULL", &c, &rng);
    }
}

/* Every pipe_max_dim normkit-tune can pick (NORMKIT_TUNE_PIPE_MAX_DIM), on variants that
 * pipeline rows: dims on both sides of each limit, several rows, strided and in place. */
static void test_tuner_pipe_values(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    if (!k->params.pipe_max_dim)
        skip(); /* the variant does not pipeline rows: the knob is not read */
    static const size_t pipes[] = NORMKIT_TUNE_PIPE_MAX_DIM;
    static const size_t dims[] = {1, 17, 1023, 1024, 1025, 2048, 2049, 4096, 4097, 8193, 16384,
                                  16385};
    /* quick: up to 2049 (the first 7) */
    const size_t ndims = nk_quick() ? 7 : sizeof dims / sizeof dims[0];
    nk_rng rng = {SEED + 13};
    for (size_t p = 0; p < sizeof pipes / sizeof pipes[0]; p++) {
        normkit_kparams kp = k->params;
        kp.pipe_max_dim = pipes[p];
        char what[96];
        snprintf(what, sizeof what, "pipe_max_dim %zu", pipes[p]);
        for (size_t d = 0; d < ndims; d++) {
            nk_case c = dense(d % 2 ? 5 : 2, dims[d], 1e-5f, fill_uniform);
            c.kp = &kp;
            c.gamma = c.beta = 1;
            expect_case(k, what, &c, &rng);
            make_strided(&c, d);
            expect_case(k, what, &c, &rng);
            c.inplace = 1;
            expect_case(k, what, &c, &rng);
        }
    }
}

/* Each SIMD variant agrees with the scalar variant of its operator on random rows of every dim
 * 1..300: both are within the bound of the exact result, so they are within twice the bound of
 * each other, and r (add+norm) must match bit for bit. */
static void test_agrees_with_scalar(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    const normkit_kernel *s = normkit_kernels_for(NORMKIT_ISA_SCALAR, k->op);
    nk_rng rng = {SEED + 11};
    for (size_t dim = 1; dim <= 300; dim++) {
        const size_t rows = 2;
        float *x = malloc(rows * dim * 4), *r1 = malloc(rows * dim * 4), *r2 = malloc(rows * dim * 4);
        float *y1 = malloc(rows * dim * 4), *y2 = malloc(rows * dim * 4), *g = malloc(dim * 4);
        float *b = malloc(dim * 4), *h = malloc(rows * dim * 4);
        for (size_t row = 0; row < rows; row++)
            fill_uniform(&rng, row, dim, x + row * dim, r1 + row * dim);
        memcpy(r2, r1, rows * dim * 4);
        for (size_t i = 0; i < dim; i++) {
            g[i] = nk_rng_uniform(&rng, -2.0f, 2.0f);
            b[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
        }
        for (size_t i = 0; i < rows * dim; i++)
            h[i] = x[i] + r1[i];
        nk_args a = {.rows = rows, .dim = dim, .x = x, .ldx = dim, .r = r1, .ldr = dim, .gamma = g,
                     .beta = b, .eps = 1e-5f, .y = y1, .ldy = dim};
        nk_call_kernel(k, &a);
        a.r = r2;
        a.y = y2;
        nk_call_kernel(s, &a);
        const int res = nk_op_has_residual(k->op);
        for (size_t row = 0; row < rows; row++) {
            const float *in = (res ? h : x) + row * dim;
            double zmax = 0.0, *ref = malloc(dim * sizeof *ref);
            if (nk_op_is_layernorm(k->op))
                ref_layernorm_row(dim, in, g, b, 1e-5f, ref, &zmax);
            else
                ref_rmsnorm_row(dim, in, g, 1e-5f, ref);
            const double inv_s = nk_op_is_layernorm(k->op) ? ref_ln_inv_s(dim, in, 1e-5f) : 0.0;
            for (size_t i = 0; i < dim; i++) {
                const size_t j = row * dim + i;
                const double bound = 2.0 * nk_bound(k->op, dim, ref[i], g[i], zmax, inv_s);
                if (!(fabs((double)y1[j] - (double)y2[j]) <= bound))
                    fail_msg("%s vs %s, dim %zu: y[%zu][%zu] = %.9g vs %.9g, apart by more than "
                             "twice the bound (%.3g)", k->name, s->name, dim, row, i,
                             (double)y1[j], (double)y2[j], bound);
                if (res && memcmp(&r1[j], &r2[j], 4) != 0)
                    fail_msg("%s vs %s, dim %zu: r[%zu][%zu] differs", k->name, s->name, dim, row, i);
            }
            free(ref);
        }
        free(x); free(r1); free(r2); free(y1); free(y2); free(g); free(b); free(h);
    }
}

/* A call of several rows gives, bit for bit, what one-row calls give (y, and r for add &
 * norm): whether the variant software-pipelines them (pipe_max_dim 0 and SIZE_MAX), and in
 * every memory mode (docs/numerics.md#determinism). Rows of random data and magnitudes, one
 * of them all zeros and one huge (the rare path, in the middle of a pipelined call). */
static void test_rows_as_one_row_calls(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    static const size_t dims[] = {1, 7, 8, 63, 64, 65, 200, 1000, 2048, 4097};
    const size_t rows = 6;
    const int res = nk_op_has_residual(k->op);
    nk_rng rng = {SEED + 17};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const size_t dim = dims[d], n = rows * dim;
        nk_pair p = pair_alloc(n, dim);
        float *x = p.x, *r0 = p.r0, *r1 = p.r1, *r2 = p.r2, *y1 = p.y1, *y2 = p.y2, *g = p.g,
              *b = p.b;
        for (size_t row = 0; row < rows; row++)
            fill_uniform(&rng, row, dim, x + row * dim, r0 + row * dim);
        for (size_t i = 0; i < dim; i++) {
            x[2 * dim + i] = 0.0f, r0[2 * dim + i] = 0.0f; /* a zero row */
            x[3 * dim + i] *= 0x1p100f;                  /* squares overflow: the rare path */
            g[i] = nk_rng_uniform(&rng, -2.0f, 2.0f);
            b[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
        }
        for (int mode = 0; mode < 4; mode++) {
            normkit_kparams kp = k->params;
            kp.pipe_max_dim = mode == 0 ? 0 : SIZE_MAX;  /* 0: never; else: always */
            if (mode == 2)
                kp.dram_min_bytes = 0;                   /* memory mode forced */
            if (mode == 3)
                kp.nt_min_bytes = 0;                     /* streaming stores forced */
            memcpy(r1, r0, n * 4);
            memcpy(r2, r0, n * 4);
            nk_args a = {.rows = rows, .dim = dim, .x = x, .ldx = dim, .r = r1, .ldr = dim,
                         .gamma = g, .beta = b, .eps = 1e-5f, .y = y1, .ldy = dim};
            nk_call_kernel_kp(k, &a, &kp);
            for (size_t row = 0; row < rows; row++) {
                nk_args one = a;
                one.rows = 1, one.x = x + row * dim, one.r = r2 + row * dim, one.y = y2 + row * dim;
                nk_call_kernel_kp(k, &one, &kp);
            }
            if (!pair_same(&p, n, res))
                fail_msg("%s, dim %zu, knobs %d: %zu rows in one call differ from %zu one-row "
                         "calls", k->name, dim, mode, rows, rows);
        }
        pair_free(&p);
    }
}

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} cases[] = {
    {"shapes", test_shapes},
    {"strides+unaligned", test_strides_unaligned},
    {"in-place", test_inplace},
    {"large mean; first element an outlier", test_large_mean},
    {"zero and constant rows", test_zero_and_constant_rows},
    {"tiny/subnormal", test_tiny},
    {"huge (squares overflow)", test_huge},
    {"one-hot rows", test_one_hot},
    {"NaN/Inf confined", test_nonfinite},
    {"guard page after", test_guard_end},
    {"guard page before", test_guard_start},
    {"agrees with scalar, dims 1..300", test_agrees_with_scalar},
    {"memory modes forced; kp == NULL", test_memory_modes_and_null_knobs},
    {"every pipe_max_dim the tuner can pick", test_tuner_pipe_values},
    {"rows in one call = one-row calls, bit for bit", test_rows_as_one_row_calls},
};

/* test_kernels [ISA]: every norm variant, or only ISA's (meson runs one test per ISA, in
 * parallel). */
int main(int argc, char **argv)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    const int only = nk_test_isa_arg(argc, argv);
    const size_t ncases = sizeof cases / sizeof cases[0];
    struct CMUnitTest *tests = calloc(nk * ncases, sizeof *tests);
    char (*names)[160] = calloc(nk * ncases, sizeof *names);
    size_t t = 0;
    for (size_t i = 0; i < nk; i++)
        for (size_t c = 0; c < ncases; c++) {
            if (cases[c].fn == test_agrees_with_scalar && ks[i].isa == NORMKIT_ISA_SCALAR)
                continue; /* nothing to compare with */
            if (normkit_op_get(ks[i].op)->linear || normkit_op_get(ks[i].op)->elementwise)
                continue; /* tests/test_linear.c, tests/test_act.c */
            if (only >= 0 && ks[i].isa != (normkit_isa)only)
                continue;
            snprintf(names[t], sizeof names[t], "%s: %s", ks[i].name, cases[c].name);
            tests[t] = (struct CMUnitTest){.name = names[t], .test_func = cases[c].fn,
                                           .initial_state = (void *)&ks[i]};
            t++;
        }
    int failed = _cmocka_run_group_tests("kernels", tests, t, NULL, NULL);
    free(tests);
    free(names);
    return nk_isa_exit(only, failed);
}
