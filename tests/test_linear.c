/*
 * The linear operators (linear, rmsnorm_linear, layernorm_linear): every variant in the
 * registry, row-major and packed weights, against a float64 reference with the bound of
 * docs/numerics.md ("Linear", "Norm + linear"); then the public API: statuses, packing,
 * folding, ISA switches, column splits (also on threads). Variants whose ISA this CPU cannot
 * run are skipped by name.
 *
 * The bound for output j of a row, with A the reference's activation row (x, or its norm),
 * S_j = sum_k |W_jk| (|A_k| + |beta_k|) and e_k the norm's own bound for element k
 * (tests/harness.h, nk_bound; 0 for linear):
 *   |y_j - ref_j| <= sum_k e_k |W_jk| + (dim + 4) u S_j + u |ref_j| + dim 2^-149
 * dim u for the float sum of dim products in any order, u each for the bias add, the gamma
 * fold (W' = fl(W gamma)) and the beta fold (b' = fl(b + W beta)), one spare u for the
 * reduction's final add; u |ref| for the last rounding; dim 2^-149 for products that land in
 * the subnormal range.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "reference.h"

#define SEED 0x6c696e656172ull /* "linear" */
#define U 0x1p-24

static void *xmalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p)
        abort();
    return p;
}

/* One call's data: dense copies for the reference, the matrices as the kernel sees them. */
typedef struct {
    size_t rows, dim, n, ldx, ldw, ldy;
    float *x, *w, *y, *gamma, *beta, *bias; /* as passed (strided, offset) */
    int large_mean;
} lin_case;

/* Fills a case; offsets misalign every array by a few floats from 64 bytes. */
static void make_case(lin_case *c, size_t rows, size_t dim, size_t n, size_t pad, int use_gamma,
                      int use_beta, int use_bias, int large_mean, nk_rng *rng)
{
    memset(c, 0, sizeof *c);
    c->rows = rows, c->dim = dim, c->n = n, c->large_mean = large_mean;
    c->ldx = dim + pad, c->ldw = dim + (pad ? pad + 1 : 0), c->ldy = n + pad;
    c->x = (float *)xmalloc(((rows - 1) * c->ldx + dim + 3) * 4) + 1;
    c->w = (float *)xmalloc(((n - 1) * c->ldw + dim + 3) * 4) + 2;
    c->y = (float *)xmalloc(((rows - 1) * c->ldy + n + 35) * 4) + 3;
    for (size_t i = 0; i < (rows - 1) * c->ldy + n + 32; i++)
        c->y[i] = nk_canary();
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < dim; k++)
            c->x[r * c->ldx + k] = large_mean ? (float)(1e4 + 1e-2 * nk_rng_normal(rng))
                                              : nk_rng_uniform(rng, -2.0f, 2.0f);
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < dim; k++)
            c->w[j * c->ldw + k] = nk_rng_uniform(rng, -1.0f, 1.0f);
    if (use_gamma) {
        c->gamma = (float *)xmalloc(dim * 4 + 8) + 1;
        for (size_t k = 0; k < dim; k++)
            c->gamma[k] = nk_rng_uniform(rng, 0.5f, 1.5f);
    }
    if (use_beta) {
        c->beta = (float *)xmalloc(dim * 4 + 8) + 1;
        for (size_t k = 0; k < dim; k++)
            c->beta[k] = nk_rng_uniform(rng, -0.5f, 0.5f);
    }
    if (use_bias) {
        c->bias = (float *)xmalloc(n * 4 + 8) + 1;
        for (size_t j = 0; j < n; j++)
            c->bias[j] = nk_rng_uniform(rng, -1.0f, 1.0f);
    }
}

static void free_case(lin_case *c)
{
    free(c->x - 1);
    free(c->w - 2);
    free(c->y - 3);
    if (c->gamma) free(c->gamma - 1);
    if (c->beta) free(c->beta - 1);
    if (c->bias) free(c->bias - 1);
}

/* Checks y against the reference of op on c's inputs; 0 and a message on the first failure.
 * Also checks the canaries of y's stride gaps and tail. */
static int check_case(normkit_op op, const lin_case *c, const float *y, size_t ldy, char *msg,
                      size_t len)
{
    const normkit_op_info *info = normkit_op_get(op);
    const size_t dim = c->dim;
    double *a = malloc(dim * sizeof *a), *e = malloc(dim * sizeof *e);
    int ok = 1;
    for (size_t r = 0; r < c->rows && ok; r++) {
        double zmax = 0.0;
        nk_ref_row(op, dim, c->x + r * c->ldx, c->gamma, c->beta, 1e-5f, a, &zmax);
        int nan_row = 0;
        for (size_t k = 0; k < dim; k++) {
            nan_row |= isnan(a[k]);
            e[k] = info->norm == NORMKIT_NORM_NONE
                       ? 0.0
                       : nk_bound(op, dim, a[k], c->gamma ? c->gamma[k] : 1.0, zmax);
        }
        for (size_t j = 0; j < c->n && ok; j++) {
            const float *wr = c->w + j * c->ldw;
            double ref = c->bias ? c->bias[j] : 0.0, s = 0.0, err_in = 0.0;
            for (size_t k = 0; k < dim; k++) {
                ref += a[k] * wr[k];
                s += fabs((double)wr[k]) *
                     (fabs(a[k]) + (c->beta && info->beta ? fabs((double)c->beta[k]) : 0.0));
                err_in += e[k] * fabs((double)wr[k]);
            }
            const double got = y[r * ldy + j];
            const double bound = err_in + ((double)dim + 4.0) * U * s + U * fabs(ref) +
                                 (double)dim * 0x1p-149;
            /* a norm's non-finite row is NaN throughout; a plain linear follows IEEE: a NaN
             * reference must be NaN, an infinite one the same infinity */
            const int bad = nan_row || isnan(ref) ? !isnan(got)
                            : isinf(ref)           ? got != ref
                                                   : !(fabs(got - ref) <= bound);
            if (bad) {
                snprintf(msg, len, "y[%zu][%zu] = %.9g, reference %.12g, error %.3g > bound %.3g",
                         r, j, got, ref, fabs(got - ref), bound);
                ok = 0;
            }
        }
        /* the stride gap after the row, or the tail after the last row */
        const size_t gap = r + 1 < c->rows ? ldy - c->n : 32;
        for (size_t j = 0; j < gap && ok; j++)
            if (!nk_is_canary(y[r * ldy + c->n + j])) {
                snprintf(msg, len, "y[%zu][%zu]: written outside the row", r, c->n + j);
                ok = 0;
            }
    }
    free(a);
    free(e);
    return ok;
}

/* -1, or where call_variant puts packed panels against an unmapped page (nk_guarded's at_start) */
static int guard_panels_at = -1;

/* A direct call of variant k: knobs resolved as the entry points do, with kc/mc overridden
 * when nonzero (to exercise the blocking on small shapes); packed: W as k's panels. */
static void call_variant(const normkit_kernel *k, const lin_case *c, int packed, size_t kc,
                         size_t mc, float *y, size_t ldy)
{
    normkit_kparams kp = k->params;
    if (kc)
        kp.lin_kc = kc;
    if (mc)
        kp.lin_mc = mc;
    if (mc == 4)
        kp.lin_pack_rows = 1; /* row-major W packed on the fly, where a variant can */
    normkit_linear_resolve_knobs(&kp, c->rows, c->dim, &kp);
    float *panels = NULL, *ws = NULL;
    const float *w = c->w;
    size_t ldw = c->ldw;
    nk_guard gp = {0};
    if (packed) {
        const size_t floats = normkit_linear_panels_floats(&kp, c->n, c->dim);
        panels = guard_panels_at >= 0 ? nk_guarded(floats, guard_panels_at, &gp)
                                      : xmalloc(floats * 4);
        normkit_linear_pack_panels(&kp, c->n, c->dim, c->w, c->ldw, NULL, panels);
        w = panels, ldw = 0;
    }
    const int fused = normkit_op_get(k->op)->norm != NORMKIT_NORM_NONE;
    /* the plain linear kernel also runs without a workspace (mc odd: every ws-less path) */
    if (fused || mc != 5)
        ws = xmalloc(normkit_linear_ws_floats(&kp, c->rows, c->dim, fused) * 4);
    const normkit_args a = {.rows = c->rows, .dim = c->dim, .n = c->n, .x = c->x, .ldx = c->ldx,
                            .gamma = c->gamma, .beta = c->beta, .eps = 1e-5f, .w = w,
                            .ldw = ldw, .bias = c->bias, .y = y, .ldy = ldy, .kp = &kp,
                            .ws = ws};
    normkit_kernel_call(k, &a);
    if (gp.map)
        nk_guard_free(&gp);
    else
        free(panels);
    free(ws);
}

static void expect(const normkit_kernel *k, lin_case *c, int packed, size_t kc, size_t mc,
                   const char *what)
{
    char msg[300];
    for (size_t i = 0; i < (c->rows - 1) * c->ldy + c->n + 32; i++)
        c->y[i] = nk_canary();
    call_variant(k, c, packed, kc, mc, c->y, c->ldy);
    if (!check_case(k->op, c, c->y, c->ldy, msg, sizeof msg))
        fail_msg("%s, %s (%s, kc %zu, mc %zu): rows %zu dim %zu n %zu ldx %zu ldw %zu ldy %zu "
                 "gamma %d beta %d bias %d (seed %#llx): %s",
                 k->name, what, packed ? "packed" : "row-major", kc, mc, c->rows, c->dim, c->n,
                 c->ldx, c->ldw, c->ldy, c->gamma != NULL, c->beta != NULL, c->bias != NULL,
                 (unsigned long long)SEED, msg);
}

static const size_t dims[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                              16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                              31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45,
                              46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
                              61, 62, 63, 64, 65, 66, 67, 255, 256, 257, 768, 1024};
static const size_t rows_set[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33};
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every dim with a cycling n and rows, then every n with a cycling dim: each value of each
 * axis is met, with every tail of the tiles, the vectors and the k blocks. */
static void test_shapes(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED};
    for (int axis = 0; axis < 2; axis++)
        for (size_t i = 0; i < LEN(dims); i++) {
            const size_t other = dims[(i * 7 + 3) % LEN(dims)];
            const size_t dim = axis ? (other > 300 ? 67 : other) : dims[i];
            const size_t n = axis ? dims[i] : (other > 300 ? 33 : other);
            size_t rows = rows_set[i % LEN(rows_set)];
            if (dim * n >= 256 * 1024 && rows > 9)
                rows = 9; /* the reference is O(rows dim n) in double */
            lin_case c;
            make_case(&c, rows, dim, n, i % 3, i % 2, (i / 2) % 2, (i / 3) % 2 == 0, 0, &rng);
            for (int packed = 0; packed < 2; packed++) {
                expect(k, &c, packed, 0, 0, "default blocking");
                expect(k, &c, packed, 64, 4, "k blocks of 64, row blocks of 4, W packed on the fly");
                expect(k, &c, packed, 64, 5, "k blocks of 64, row blocks of 5 (linear: no ws)");
            }
            free_case(&c);
        }
}

/* LayerNorm rows with mean 1e4 and std 1e-2 (and the same rows for the others). */
static void test_large_mean(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 1};
    const size_t shapes[][3] = {{3, 67, 13}, {9, 256, 33}, {5, 1024, 7}, {1, 768, 65}};
    for (size_t s = 0; s < LEN(shapes); s++) {
        lin_case c;
        make_case(&c, shapes[s][0], shapes[s][1], shapes[s][2], 1, 1, 1, 1, 1, &rng);
        expect(k, &c, 0, 0, 0, "mean 1e4, std 1e-2");
        expect(k, &c, 1, 64, 4, "mean 1e4, std 1e-2");
        free_case(&c);
    }
}

/* A bias far larger than the products (2^20 against sums of about 1): the bound counts the
 * bias once, so it must be added once, after the sum, not carried through every rounding. */
static void test_large_bias(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 7};
    const size_t shapes[][3] = {{1, 4096, 7}, {9, 1000, 50}, {70, 300, 20}};
    for (size_t s = 0; s < LEN(shapes); s++) {
        lin_case c;
        make_case(&c, shapes[s][0], shapes[s][1], shapes[s][2], 0, 1, 1, 1, 0, &rng);
        for (size_t j = 0; j < c.n; j++)
            c.bias[j] = (j % 2 ? -1.0f : 1.0f) * 0x1p20f * (1.0f + (float)j / 64.0f);
        for (int packed = 0; packed < 2; packed++) {
            expect(k, &c, packed, 0, 0, "bias 2^20");
            expect(k, &c, packed, 64, 4, "bias 2^20, k blocks of 64, W packed on the fly");
            expect(k, &c, packed, 64, 5, "bias 2^20, k blocks of 64 (linear: no ws)");
        }
        free_case(&c);
    }
}

/* A NaN in a row of x gives NaN across that row of y only. */
static void test_nonfinite(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 2};
    lin_case c;
    make_case(&c, 5, 37, 11, 0, 1, 1, 1, 0, &rng);
    c.x[2 * c.ldx + 5] = NAN;
    c.x[4 * c.ldx + 36] = INFINITY;
    expect(k, &c, 0, 0, 0, "NaN and Inf rows");
    free_case(&c);
}

/* Rows of x, W and y end against an unmapped page (and start right after one). */
static void test_guard_pages(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 3};
    const size_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {4, 33, 7}, {9, 67, 13}, {2, 257, 6}};
    for (size_t s = 0; s < LEN(shapes); s++)
        for (int at_start = 0; at_start < 2; at_start++)
            for (int mode = 0; mode < 3; mode++) {
                /* row-major W; row-major W packed on the fly (mc 4 sets lin_pack_rows 1);
                 * packed panels, themselves against the page */
                const int packed = mode == 2;
                const size_t rows = shapes[s][0], dim = shapes[s][1], n = shapes[s][2];
                lin_case c;
                make_case(&c, rows, dim, n, 0, 1, 1, 1, 0, &rng);
                nk_guard gx, gw, gy;
                float *x = nk_guarded(rows * dim, at_start, &gx);
                float *w = nk_guarded(n * dim, at_start, &gw);
                float *y = nk_guarded(rows * n, at_start, &gy);
                memcpy(x, c.x, rows * dim * 4);
                memcpy(w, c.w, n * dim * 4);
                lin_case g = c;
                g.x = x, g.w = w;
                guard_panels_at = packed ? at_start : -1;
                call_variant(k, &g, packed, mode ? 64 : 0, mode == 1 ? 4 : 0, y, n);
                guard_panels_at = -1;
                char msg[300];
                /* check against the dense copy (ldy == n: no gap canaries here) */
                float *yc = malloc((rows * n + 32) * 4);
                memcpy(yc, y, rows * n * 4);
                for (size_t i = 0; i < 32; i++)
                    yc[rows * n + i] = nk_canary();
                lin_case d = c;
                d.ldy = n;
                if (!check_case(k->op, &d, yc, n, msg, sizeof msg))
                    fail_msg("%s guarded (%s, %s): rows %zu dim %zu n %zu: %s", k->name,
                             at_start ? "page before" : "page after",
                             mode == 2 ? "packed" : mode ? "row-major packed on the fly" : "row-major",
                             rows, dim, n, msg);
                free(yc);
                nk_guard_free(&gx);
                nk_guard_free(&gw);
                nk_guard_free(&gy);
                free_case(&c);
            }
}

/* Columns j0..j1 computed alone (w + j0 ldw, bias + j0, y + j0) equal the whole call's. */
static void test_column_split(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 4};
    lin_case c;
    make_case(&c, 7, 300, 29, 2, 1, 1, 1, 0, &rng);
    float *whole = calloc(7 * c.ldy, 4), *split = calloc(7 * c.ldy, 4);
    call_variant(k, &c, 0, 0, 0, whole, c.ldy);
    const size_t cuts[] = {0, 5, 6, 17, 29};
    for (size_t p = 0; p + 1 < LEN(cuts); p++) {
        lin_case part = c;
        part.n = cuts[p + 1] - cuts[p];
        part.w = c.w + cuts[p] * c.ldw;
        part.bias = c.bias + cuts[p];
        call_variant(k, &part, 0, 0, 0, split + cuts[p], c.ldy);
    }
    for (size_t r = 0; r < 7; r++)
        if (memcmp(whole + r * c.ldy, split + r * c.ldy, c.n * 4) != 0)
            fail_msg("%s: row %zu of a column-split call differs from the whole call", k->name, r);
    free(whole);
    free(split);
    free_case(&c);
}

/* ---- the public API ---- */

static normkit_status api(normkit_op op, size_t rows, size_t dim, size_t n, const float *x,
                          size_t ldx, const float *g, const float *b, float eps, const float *w,
                          size_t ldw, const float *bias, float *y, size_t ldy)
{
    const normkit_args a = {.rows = rows, .dim = dim, .n = n, .x = x, .ldx = ldx, .gamma = g,
                            .beta = b, .eps = eps, .w = w, .ldw = ldw, .bias = bias, .y = y,
                            .ldy = ldy};
    return nk_call_api(op, &a);
}

static void test_api_statuses(void **state)
{
    (void)state;
    float x[4 * 8], w[3 * 8], y[4 * 3], big[64];
    for (int i = 0; i < 32; i++)
        x[i] = (float)i * 0.1f;
    for (int i = 0; i < 24; i++)
        w[i] = (float)(i % 5) - 2.0f;
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        const normkit_op op = (normkit_op)o;
        if (!normkit_op_get(op)->linear)
            continue;
        const int norm = normkit_op_get(op)->norm != NORMKIT_NORM_NONE;
        const char *name = normkit_op_name(op);
#define EXPECT(want, ...)                                                                          \
    do {                                                                                           \
        for (int i = 0; i < 12; i++)                                                               \
            y[i] = -7.0f;                                                                          \
        normkit_status st_ = api(op, __VA_ARGS__);                                                 \
        if (st_ != (want))                                                                         \
            fail_msg("%s(%s): got \"%s\", want \"%s\"", name, #__VA_ARGS__,                        \
                     normkit_status_str(st_), normkit_status_str(want));                           \
        if ((want) != NORMKIT_OK)                                                                  \
            for (int i = 0; i < 12; i++)                                                           \
                if (y[i] != -7.0f)                                                                 \
                    fail_msg("%s(%s): a rejected call wrote y", name, #__VA_ARGS__);               \
    } while (0)
        EXPECT(NORMKIT_OK, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_OK, 0, 0, 0, NULL, 0, NULL, NULL, NAN, NULL, 0, NULL, NULL, 0);
        EXPECT(NORMKIT_ERR_NULL, 4, 8, 3, NULL, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_NULL, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, NULL, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_NULL, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, NULL, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 0, 3, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, 0, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, 3, x, 7, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 7, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 0, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 2);
        EXPECT(NORMKIT_ERR_SHAPE, SIZE_MAX / 8, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        EXPECT(NORMKIT_ERR_SHAPE, 4, 8, SIZE_MAX / 8, x, 8, NULL, NULL, 1e-5f, w, 8, NULL, y, 3);
        /* y overlapping x or w */
        memcpy(big, x, sizeof x);
        normkit_status st = api(op, 4, 8, 3, big, 8, NULL, NULL, 1e-5f, w, 8, NULL, big + 20, 3);
        if (st != NORMKIT_ERR_SHAPE)
            fail_msg("%s: y overlapping x: got \"%s\"", name, normkit_status_str(st));
        memcpy(big, w, sizeof w);
        st = api(op, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, big, 8, NULL, big + 23, 3);
        if (st != NORMKIT_ERR_SHAPE)
            fail_msg("%s: y overlapping w: got \"%s\"", name, normkit_status_str(st));
        /* y overlapping bias (or gamma, beta: read while y is written) */
        st = api(op, 4, 8, 3, x, 8, NULL, NULL, 1e-5f, w, 8, big + 4, big, 3);
        if (st != NORMKIT_ERR_SHAPE)
            fail_msg("%s: y overlapping bias: got \"%s\"", name, normkit_status_str(st));
        if (norm) {
            st = api(op, 4, 8, 3, x, 8, big + 11, NULL, 1e-5f, w, 8, NULL, big, 3);
            if (st != NORMKIT_ERR_SHAPE)
                fail_msg("%s: y overlapping gamma: got \"%s\"", name, normkit_status_str(st));
        }
        if (normkit_op_get(op)->beta) {
            st = api(op, 4, 8, 3, x, 8, NULL, big + 2, 1e-5f, w, 8, NULL, big, 3);
            if (st != NORMKIT_ERR_SHAPE)
                fail_msg("%s: y overlapping beta: got \"%s\"", name, normkit_status_str(st));
        }
        if (norm) {
            EXPECT(NORMKIT_ERR_EPS, 4, 8, 3, x, 8, NULL, NULL, -1.0f, w, 8, NULL, y, 3);
            EXPECT(NORMKIT_ERR_EPS, 4, 8, 3, x, 8, NULL, NULL, NAN, w, 8, NULL, y, 3);
            EXPECT(NORMKIT_ERR_EPS, 4, 8, 3, x, 8, NULL, NULL, INFINITY, w, 8, NULL, y, 3);
        } else {
            EXPECT(NORMKIT_OK, 4, 8, 3, x, 8, NULL, NULL, NAN, w, 8, NULL, y, 3); /* no eps */
        }
#undef EXPECT
    }
}

/* The dispatched call, its packed form (folded and not) and the reference agree; a handle
 * packed for one variant is refused once another is active; folded gamma/beta can't be
 * passed again. */
static void test_api_packed(void **state)
{
    (void)state;
    nk_rng rng = {SEED + 5};
    /* 70 and 130 rows: the entry points' own blocking from 64 rows on (AVX-512: row-major W
     * packed on the fly, row blocks sized for it) */
    const size_t shapes[][3] = {{1, 768, 37}, {8, 130, 64}, {33, 67, 9}, {2, 5, 3},
                                {70, 300, 50}, {130, 64, 100}};
    for (size_t s = 0; s < LEN(shapes); s++) {
        lin_case c;
        make_case(&c, shapes[s][0], shapes[s][1], shapes[s][2], 1, 1, 1, 1, 0, &rng);
        char msg[300];
        normkit_linear *plain = NULL, *folded = NULL, *rms_folded = NULL;
        assert_int_equal(normkit_linear_pack(c.n, c.dim, c.w, c.ldw, c.bias, NULL, NULL, &plain),
                         NORMKIT_OK);
        assert_int_equal(
            normkit_linear_pack(c.n, c.dim, c.w, c.ldw, c.bias, c.gamma, c.beta, &folded),
            NORMKIT_OK);
        assert_int_equal(
            normkit_linear_pack(c.n, c.dim, c.w, c.ldw, c.bias, c.gamma, NULL, &rms_folded),
            NORMKIT_OK);
        size_t pn, pd;
        normkit_linear_shape(plain, &pn, &pd);
        assert_true(pn == c.n && pd == c.dim);
        struct {
            normkit_op op;
            const char *what;
        } ops[] = {{normkit_op_linear, "linear"},
                   {normkit_op_rmsnorm_linear, "rmsnorm_linear"},
                   {normkit_op_layernorm_linear, "layernorm_linear"}};
        for (size_t o = 0; o < LEN(ops); o++) {
            const normkit_op op = ops[o].op;
            lin_case v = c;
            if (op != normkit_op_layernorm_linear)
                v.beta = NULL;
            if (op == normkit_op_linear)
                v.gamma = NULL;
            for (int form = 0; form < 3; form++) {
                for (size_t i = 0; i < (c.rows - 1) * c.ldy + c.n + 32; i++)
                    c.y[i] = nk_canary();
                normkit_status st;
                if (form == 0)
                    st = api(op, v.rows, v.dim, v.n, v.x, v.ldx, v.gamma, v.beta, 1e-5f, v.w,
                             v.ldw, v.bias, c.y, c.ldy);
                else if (op == normkit_op_linear)
                    st = form == 1 ? normkit_linear_packed_f32(v.rows, v.x, v.ldx, plain, c.y, c.ldy)
                                   : NORMKIT_OK;
                else if (op == normkit_op_rmsnorm_linear)
                    st = form == 1 ? normkit_rmsnorm_linear_packed_f32(v.rows, v.x, v.ldx, v.gamma,
                                                                       1e-5f, plain, c.y, c.ldy)
                                   : normkit_rmsnorm_linear_packed_f32(v.rows, v.x, v.ldx, NULL,
                                                                       1e-5f, rms_folded, c.y,
                                                                       c.ldy);
                else
                    st = form == 1
                             ? normkit_layernorm_linear_packed_f32(v.rows, v.x, v.ldx, v.gamma,
                                                                   v.beta, 1e-5f, plain, c.y, c.ldy)
                             : normkit_layernorm_linear_packed_f32(v.rows, v.x, v.ldx, NULL, NULL,
                                                                   1e-5f, folded, c.y, c.ldy);
                if (op == normkit_op_linear && form == 2)
                    continue;
                if (st != NORMKIT_OK)
                    fail_msg("%s form %d: %s", ops[o].what, form, normkit_status_str(st));
                if (!check_case(op, &v, c.y, c.ldy, msg, sizeof msg))
                    fail_msg("%s (%s): rows %zu dim %zu n %zu: %s", ops[o].what,
                             form == 0 ? "row-major" : form == 1 ? "packed" : "packed, folded",
                             c.rows, c.dim, c.n, msg);
            }
        }
        /* folded gamma/beta passed again */
        assert_int_equal(normkit_rmsnorm_linear_packed_f32(c.rows, c.x, c.ldx, c.gamma, 1e-5f,
                                                           rms_folded, c.y, c.ldy),
                         NORMKIT_ERR_PACKED);
        assert_int_equal(normkit_layernorm_linear_packed_f32(c.rows, c.x, c.ldx, NULL, c.beta,
                                                             1e-5f, folded, c.y, c.ldy),
                         NORMKIT_ERR_PACKED);
        /* another ISA forced: refused, y untouched; back: accepted */
        const normkit_isa was = normkit_isa_active();
        if (was != NORMKIT_ISA_SCALAR) {
            assert_int_equal(normkit_isa_force(NORMKIT_ISA_SCALAR), NORMKIT_OK);
            c.y[0] = -7.0f;
            assert_int_equal(normkit_linear_packed_f32(c.rows, c.x, c.ldx, plain, c.y, c.ldy),
                             NORMKIT_ERR_PACKED);
            assert_true(c.y[0] == -7.0f);
            assert_int_equal(normkit_isa_force(was), NORMKIT_OK);
            assert_int_equal(normkit_linear_packed_f32(c.rows, c.x, c.ldx, plain, c.y, c.ldy),
                             NORMKIT_OK);
        }
        normkit_linear_free(plain);
        normkit_linear_free(folded);
        normkit_linear_free(rms_folded);
        free_case(&c);
    }
    normkit_linear *p = (normkit_linear *)0x1;
    float w[4] = {1, 2, 3, 4};
    assert_int_equal(normkit_linear_pack(2, 2, NULL, 2, NULL, NULL, NULL, &p), NORMKIT_ERR_NULL);
    assert_null(p);
    assert_int_equal(normkit_linear_pack(2, 2, w, 2, NULL, NULL, NULL, NULL), NORMKIT_ERR_NULL);
    assert_int_equal(normkit_linear_pack(0, 2, w, 2, NULL, NULL, NULL, &p), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_linear_pack(2, 0, w, 2, NULL, NULL, NULL, &p), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_linear_pack(2, 2, w, 1, NULL, NULL, NULL, &p), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_linear_pack(SIZE_MAX / 2, 2, w, 2, NULL, NULL, NULL, &p),
                     NORMKIT_ERR_SHAPE);
    assert_null(p);
    float y[4];
    assert_int_equal(normkit_linear_packed_f32(1, w, 2, NULL, y, 2), NORMKIT_ERR_NULL);
    normkit_linear_free(NULL);
    /* a valid shape whose panels (2^44 x 16 floats: 1 PiB, past any address space) cannot be
     * allocated, whatever the overcommit policy: NOMEM, *out
     * NULL, nothing read from w (it is 4 floats), nothing leaked (LeakSanitizer in CI) */
    p = (normkit_linear *)0x1;
    assert_int_equal(normkit_linear_pack((size_t)1 << 44, 16, w, 16, NULL, NULL, NULL, &p),
                     NORMKIT_ERR_NOMEM);
    assert_null(p);
}

/* Two threads each compute half of the columns of one call, through the public API. */
typedef struct {
    const lin_case *c;
    size_t j0, j1;
    float *y;
    normkit_status st;
} half;

static void *run_half(void *arg)
{
    half *h = arg;
    const lin_case *c = h->c;
    h->st = normkit_layernorm_linear_f32(c->rows, c->dim, h->j1 - h->j0, c->x, c->ldx, c->gamma,
                                         c->beta, 1e-5f, c->w + h->j0 * c->ldw, c->ldw,
                                         c->bias + h->j0, h->y + h->j0, c->ldy);
    return NULL;
}

static void test_api_threads_split_columns(void **state)
{
    (void)state;
    nk_rng rng = {SEED + 6};
    lin_case c;
    make_case(&c, 33, 257, 50, 1, 1, 1, 1, 0, &rng);
    float *whole = calloc(33 * c.ldy, 4), *split = calloc(33 * c.ldy, 4);
    assert_int_equal(normkit_layernorm_linear_f32(c.rows, c.dim, c.n, c.x, c.ldx, c.gamma, c.beta,
                                                  1e-5f, c.w, c.ldw, c.bias, whole, c.ldy),
                     NORMKIT_OK);
    half h[2] = {{&c, 0, 24, split, NORMKIT_OK}, {&c, 24, 50, split, NORMKIT_OK}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_half, &h[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(h[0].st, NORMKIT_OK);
    assert_int_equal(h[1].st, NORMKIT_OK);
    for (size_t r = 0; r < c.rows; r++)
        assert_memory_equal(whole + r * c.ldy, split + r * c.ldy, c.n * 4);
    free(whole);
    free(split);
    free_case(&c);
}

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} cases[] = {
    {"shapes (row-major and packed; default and small blocks)", test_shapes},
    {"large mean, small spread", test_large_mean},
    {"NaN/Inf rows", test_nonfinite},
    {"large bias", test_large_bias},
    {"guard pages", test_guard_pages},
    {"column split equals the whole", test_column_split},
};

int main(void)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    const size_t ncases = sizeof cases / sizeof cases[0];
    struct CMUnitTest *tests = calloc(nk * ncases + 3, sizeof *tests);
    char (*names)[160] = calloc(nk * ncases, sizeof *names);
    size_t t = 0;
    for (size_t i = 0; i < nk; i++) {
        if (!normkit_op_get(ks[i].op)->linear)
            continue;
        for (size_t c = 0; c < ncases; c++) {
            snprintf(names[t], sizeof names[t], "%s: %s", ks[i].name, cases[c].name);
            tests[t] = (struct CMUnitTest){.name = names[t], .test_func = cases[c].fn,
                                           .initial_state = (void *)&ks[i]};
            t++;
        }
    }
    tests[t++] = (struct CMUnitTest){.name = "API: statuses", .test_func = test_api_statuses};
    tests[t++] = (struct CMUnitTest){.name = "API: packed, folded, ISA switch",
                                     .test_func = test_api_packed};
    tests[t++] = (struct CMUnitTest){.name = "API: two threads split the columns",
                                     .test_func = test_api_threads_split_columns};
    int failed = _cmocka_run_group_tests("linear", tests, t, NULL, NULL);
    free(tests);
    free(names);
    return failed;
}
