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
 *                    (+ u |b'_j| from a handle with beta folded in)
 * dim u for the float sum of dim products in any order, u each for the bias add, the gamma
 * fold (W' = fl(W gamma)) and the beta fold's terms, one spare u for the reduction's final
 * add; u |ref| for the last rounding; dim 2^-149 for products that land in the subnormal
 * range; the folded bias b'_j = fl(b_j + sum_k W_jk beta_k) is rounded once, u |b'_j|, which
 * S_j does not hold when b_j is large and cancels against the products (found by
 * tests/fuzz/fuzz_linear: corpus/linear/regress-folded-beta-bias-cancel).
 *
 * test_linear [ISA]: every variant, or only ISA's (the API tests run in both cases, on whatever
 * NORMKIT_ISA selects). NK_SHAPES=quick (harness.h; tests/valgrind.sh) keeps every shape class
 * and knob value but drops: in test_shapes, the wide partners of dims 768 and 1024 (they meet
 * n 33, or dim 67, instead of up to 257); in test_tuner_values, the wide outputs (n 5 or 7
 * instead of 9 to 70: the tuner's knobs block rows and k, which the rows and dims still cross;
 * a column tile and its tail stay); in test_epilogue, the 70-row calls except one (dim 37,
 * n 97: the AVX-512 broadcast form from 64 rows, with a group tail).
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
#include "tuning.h"
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
    int beta_folded; /* y comes from a handle with beta folded into its bias (check_case) */
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
        const double inv_s =
            info->norm == NORMKIT_NORM_LN ? ref_ln_inv_s(dim, c->x + r * c->ldx, 1e-5f) : 0.0;
        int nan_row = 0;
        for (size_t k = 0; k < dim; k++) {
            nan_row |= isnan(a[k]);
            e[k] = info->norm == NORMKIT_NORM_NONE
                       ? 0.0
                       : nk_bound(op, dim, a[k], c->gamma ? c->gamma[k] : 1.0, zmax, inv_s);
        }
        for (size_t j = 0; j < c->n && ok; j++) {
            const float *wr = c->w + j * c->ldw;
            double ref = c->bias ? c->bias[j] : 0.0, s = 0.0, err_in = 0.0;
            double bfold = ref; /* b'_j = b_j + sum_k W_jk beta_k, when beta is folded */
            for (size_t k = 0; k < dim; k++) {
                ref += a[k] * wr[k];
                if (c->beta_folded)
                    bfold += (double)wr[k] * c->beta[k];
                s += fabs((double)wr[k]) *
                     (fabs(a[k]) + (c->beta && info->beta ? fabs((double)c->beta[k]) : 0.0));
                err_in += e[k] * fabs((double)wr[k]);
            }
            const double got = y[r * ldy + j];
            const double bound = err_in + ((double)dim + 4.0) * U * s + U * fabs(ref) +
                                 (double)dim * 0x1p-149 +
                                 (c->beta_folded ? U * fabs(bfold) : 0.0);
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

/* Knobs to start from instead of k's registry knobs (test_tuner_values). */
static const normkit_kparams *kp_override;

/* A direct call of variant k: knobs resolved as the entry points do, with kc/mc overridden
 * when nonzero (to exercise the blocking on small shapes); packed: W as k's panels. */
static void call_variant(const normkit_kernel *k, const lin_case *c, int packed, size_t kc,
                         size_t mc, float *y, size_t ldy)
{
    normkit_kparams kp = kp_override ? *kp_override : k->params;
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
            /* quick: 768 and 1024 only with the narrow partners */
            const int narrow = other > 300 || (nk_quick() && dims[i] >= 768);
            const size_t dim = axis ? (narrow ? 67 : other) : dims[i];
            const size_t n = axis ? dims[i] : (narrow ? 33 : other);
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

/* Every value normkit-tune can pick for each linear knob (dispatch/tuning.h), one knob at a
 * time from the registry's knobs, on shapes that cross the values: rows around 16..128 (the
 * packing threshold), dims past 2048 (k blocks), row-major and packed W. */
static void test_tuner_values(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    static const size_t kcs[] = NORMKIT_TUNE_LIN_KC, mcs[] = NORMKIT_TUNE_LIN_MC,
                        pfs[] = NORMKIT_TUNE_LIN_PREFETCH, packs[] = NORMKIT_TUNE_LIN_PACK_ROWS;
    static const size_t shapes[][3] = {{1, 2100, 20}, {17, 300, 70}, {33, 2049, 13},
                                       {70, 129, 50}, {130, 520, 9}};
    /* quick: the same rows and dims, n of a tile (4 or 6 columns) and a tail */
    static const size_t quick_n[] = {5, 7, 5, 7, 5};
    nk_rng rng = {SEED + 7};
    for (int knob = 0; knob < 4; knob++) {
        const size_t *vals = knob == 0 ? kcs : knob == 1 ? mcs : knob == 2 ? pfs : packs;
        const size_t nv = knob == 0 ? LEN(kcs) : knob == 1 ? LEN(mcs) : knob == 2 ? LEN(pfs) : LEN(packs);
        static const char *const names[] = {"lin_kc", "lin_mc", "lin_prefetch", "lin_pack_rows"};
        for (size_t v = 0; v < nv; v++) {
            normkit_kparams kp = k->params;
            size_t *field = knob == 0 ? &kp.lin_kc : knob == 1 ? &kp.lin_mc
                            : knob == 2 ? &kp.lin_prefetch : &kp.lin_pack_rows;
            *field = vals[v];
            kp_override = &kp;
            char what[64];
            snprintf(what, sizeof what, "the tuner's %s %zu", names[knob], vals[v]);
            for (size_t s = 0; s < LEN(shapes); s++) {
                lin_case c;
                make_case(&c, shapes[s][0], shapes[s][1], nk_quick() ? quick_n[s] : shapes[s][2],
                          s % 3, 1, s % 2, 1, 0, &rng);
                expect(k, &c, 0, 0, 0, what);
                expect(k, &c, 1, 0, 0, what);
                free_case(&c);
            }
            kp_override = NULL;
        }
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

/* ---- the epilogue: y = act(sum + bias) * mul + add (normkit_kernel.h) ----
 *
 * The reference is the variant's own result without the epilogue (same knobs, same W form,
 * epi NULL): a float s per output, the very value the epilogue receives, so the check
 * isolates the epilogue. Then in double: a = act(s) (reference.c's ref_gelu, ref_silu: erfc
 * and exp), ref = a * mul + add, and (docs/numerics.md, "Activations"; first order in u)
 *   |y - ref| <= (R u |a| + 2^-148 (1 + |s|)) |mul| + (u |a mul| + 2^-150) + (u |ref| + 2^-150)
 * with R = 6 (GELU), 5 (SiLU); the activation terms drop with act NONE, the mul term without
 * mul, the add term without add, so NONE without mul and add must give s itself, bit for bit.
 * The 2^-150 terms are the product's and the sum's roundings where they land in the subnormal
 * range (absolute, as in "Test bounds"): GELU of s near -13 times a small mul gets there.
 */
#define EPI_GELU_REL 6.0
#define EPI_SILU_REL 5.0

/* An operand of the epilogue (mul or add), rows x n with stride ld > n: in a matrix
 * surrounded by canaries (nk_mat), and the same values in a guarded copy whose last row ends
 * against an unmapped page (or whose first row starts right after one). Snapshots of both
 * allocations, canaries and gaps included, show that the kernel modified neither. */
typedef struct {
    nk_mat m;
    float *snap;          /* m.base[0 .. m.len) as filled */
    nk_guard g;
    float *gp, *gsnap;    /* the guarded copy (stride m.ld), and its snapshot */
    size_t gfloats;
} epi_operand;

static void epi_operand_make(epi_operand *o, size_t rows, size_t n, size_t ld, size_t offset,
                             int at_start, float lo, float hi, nk_rng *rng)
{
    nk_mat_alloc(&o->m, rows, n, ld, offset);
    nk_mat_fill(&o->m, rng, lo, hi);
    o->snap = malloc(o->m.len * 4);
    memcpy(o->snap, o->m.base, o->m.len * 4);
    o->gfloats = (rows - 1) * ld + n;
    o->gp = nk_guarded(o->gfloats, at_start, &o->g);
    for (size_t i = 0; i < o->gfloats; i++)
        o->gp[i] = i % ld < n ? o->m.m[i] : nk_canary();
    o->gsnap = malloc(o->gfloats * 4);
    memcpy(o->gsnap, o->gp, o->gfloats * 4);
}

static int epi_operand_intact(const epi_operand *o)
{
    return memcmp(o->snap, o->m.base, o->m.len * 4) == 0 &&
           memcmp(o->gsnap, o->gp, o->gfloats * 4) == 0;
}

static void epi_operand_free(epi_operand *o)
{
    nk_mat_free(&o->m);
    nk_guard_free(&o->g);
    free(o->snap);
    free(o->gsnap);
}

static void epi_reset(nk_mat *y)
{
    for (size_t i = 0; i < y->len; i++)
        y->base[i] = nk_canary();
}

/* One direct call of variant k with knobs kp (resolved), W as given, workspace or none. */
static void epi_call(const normkit_kernel *k, const lin_case *c, const float *w, size_t ldw,
                     const normkit_kparams *kp, int use_ws, nk_mat *y, const normkit_epilogue *epi)
{
    const int fused = normkit_op_get(k->op)->norm != NORMKIT_NORM_NONE;
    float *ws = use_ws ? xmalloc(normkit_linear_ws_floats(kp, c->rows, c->dim, fused) * 4) : NULL;
    epi_reset(y);
    const normkit_args a = {.rows = c->rows, .dim = c->dim, .n = c->n, .x = c->x, .ldx = c->ldx,
                            .gamma = c->gamma, .beta = c->beta, .eps = 1e-5f, .w = w,
                            .ldw = ldw, .bias = c->bias, .y = y->m, .ldy = y->ld, .kp = kp,
                            .ws = ws, .epi = epi};
    normkit_kernel_call(k, &a);
    free(ws);
}

/* y against the epilogue applied in double to s (y0, the call without it); ga, sa: GELU and
 * SiLU of s in double (dense, stride n). 0 and a message on the first failure. */
static int epi_check(const nk_mat *y, const nk_mat *y0, const double *ga, const double *sa,
                     const normkit_epilogue *e, char *msg, size_t len)
{
    const size_t rows = y->rows, n = y->dim;
    if (!nk_mat_canaries_ok(y)) {
        snprintf(msg, len, "y written outside its rows x n (a stride gap, before or after)");
        return 0;
    }
    if (e->act == NORMKIT_ACT_NONE && !e->mul && !e->add) {
        for (size_t i = 0; i < rows; i++)
            if (memcmp(y->m + i * y->ld, y0->m + i * y0->ld, n * 4) != 0) {
                snprintf(msg, len, "act NONE, no mul, no add: row %zu differs from epi == NULL "
                         "(must be bit-identical)", i);
                return 0;
            }
        return 1;
    }
    const double rel = e->act == NORMKIT_ACT_GELU   ? EPI_GELU_REL * U
                       : e->act == NORMKIT_ACT_SILU ? EPI_SILU_REL * U
                                                    : 0.0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n; j++) {
            const float s = y0->m[i * y0->ld + j];
            const double a = e->act == NORMKIT_ACT_GELU   ? ga[i * n + j]
                             : e->act == NORMKIT_ACT_SILU ? sa[i * n + j]
                                                          : (double)s;
            const double m = e->mul ? e->mul[i * e->ldmul + j] : 1.0;
            const double ad = e->add ? e->add[i * e->ldadd + j] : 0.0;
            const double ref = a * m + ad;
            const double act_abs = e->act == NORMKIT_ACT_NONE ? 0.0 : 0x1p-148 * (1.0 + fabs((double)s));
            const double bound = (rel * fabs(a) + act_abs) * fabs(m) +
                                 (e->mul ? U * fabs(a * m) + 0x1p-150 : 0.0) +
                                 (e->add ? U * fabs(ref) + 0x1p-150 : 0.0);
            const double got = y->m[i * y->ld + j];
            if (!(fabs(got - ref) <= bound)) {
                snprintf(msg, len, "y[%zu][%zu] = %a, reference %.17g (s %a, mul %a, add %a): "
                         "error %.3g > bound %.3g", i, j, got, ref, (double)s, m, ad,
                         fabs(got - ref), bound);
                return 0;
            }
        }
    return 1;
}

static void test_epilogue(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    const int fused = normkit_op_get(k->op)->norm != NORMKIT_NORM_NONE;
    nk_rng rng = {SEED + 8};
    static const char *const act_names[] = {"NONE", "GELU", "SILU"};
    /* rows: one 8-row tile or less, several row blocks of 8 (and a partial one), >= 64 (the
     * AVX-512 broadcast form on row-major W); n: inside one column group, and across the
     * 48-, 64- and 96-column groups with tails */
    const size_t rows_s[] = {1, 3, 9, 70}, dims_s[] = {37, 200}, ns[] = {5, 97, 130};
    /* knob modes: 0 resolved defaults; 1 lin_mc 8, lin_kc 128; 2 as 1 with lin_pack_rows 1
     * (row-major W packed on the fly at every row block, variants that can); 3 as 1 without
     * a workspace (plain linear only) */
    static const char *const mode_names[] = {
        "default knobs", "lin_mc 8, lin_kc 128", "lin_mc 8, lin_kc 128, lin_pack_rows 1",
        "lin_mc 8, lin_kc 128, no workspace"};
    size_t cfg = 0;
    for (size_t ri = 0; ri < LEN(rows_s); ri++)
        for (size_t di = 0; di < LEN(dims_s); di++)
            for (size_t ni = 0; ni < LEN(ns); ni++) {
                const size_t rows = rows_s[ri], dim = dims_s[di], n = ns[ni];
                if (nk_quick() && rows >= 64 && (dim != 37 || n != 97))
                    continue; /* quick: one call of 64 rows or more */
                lin_case c;
                make_case(&c, rows, dim, n, 1 + (ni + di) % 2, fused, fused, (ri + ni) % 2 == 0,
                          0, &rng);
                /* the operands: strides > n, starts off 64-byte alignment; guarded copies
                 * against the page after (even shapes) or before (odd ones) */
                const int at_start = (int)((ri * LEN(dims_s) + di) * LEN(ns) + ni) % 2;
                epi_operand mul, add;
                epi_operand_make(&mul, rows, n, n + 3, 5, at_start, -2.0f, 2.0f, &rng);
                epi_operand_make(&add, rows, n, n + 7, 1, !at_start, -3.0f, 3.0f, &rng);
                nk_mat y, y0;
                nk_mat_alloc(&y, rows, n, n + 2, 3);
                nk_mat_alloc(&y0, rows, n, n + 2, 3);
                double *ga = malloc(rows * n * sizeof *ga), *sa = malloc(rows * n * sizeof *sa);
                float *panels = NULL;
                for (int packed = 0; packed < 2; packed++)
                    for (int mode = 0; mode < 4; mode++, cfg++) {
                        if (mode == 2 && (packed || !k->params.lin_pack_rows))
                            continue; /* no on-the-fly packing to force */
                        if (mode == 3 && fused)
                            continue; /* the fused kernels require a workspace */
                        normkit_kparams kp = k->params;
                        if (mode) {
                            kp.lin_mc = 8;
                            kp.lin_kc = 128;
                        }
                        if (mode == 2)
                            kp.lin_pack_rows = 1;
                        normkit_linear_resolve_knobs(&kp, rows, dim, &kp);
                        const float *w = c.w;
                        size_t ldw = c.ldw;
                        if (packed) {
                            if (!panels) {
                                panels = xmalloc(normkit_linear_panels_floats(&kp, n, dim) * 4);
                                normkit_linear_pack_panels(&kp, n, dim, c.w, c.ldw, NULL, panels);
                            }
                            w = panels, ldw = 0;
                        }
                        /* s: the same call without the epilogue */
                        epi_call(k, &c, w, ldw, &kp, mode != 3, &y0, NULL);
                        for (size_t i = 0; i < rows; i++)
                            for (size_t j = 0; j < n; j++) {
                                ga[i * n + j] = ref_gelu(y0.m[i * y0.ld + j]);
                                sa[i * n + j] = ref_silu(y0.m[i * y0.ld + j]);
                            }
                        for (int act = 0; act < 3; act++)
                            for (int has_mul = 0; has_mul < 2; has_mul++)
                                for (int has_add = 0; has_add < 2; has_add++) {
                                    const int combo = act * 4 + has_mul * 2 + has_add;
                                    /* which operand (if present) lies against the page:
                                     * 0 neither, 1 mul, 2 add; every combination meets each */
                                    const int guard = (int)((cfg + (size_t)combo) % 3);
                                    const normkit_epilogue e = {
                                        .act = (normkit_act)act,
                                        .mul = !has_mul ? NULL : guard == 1 ? mul.gp : mul.m.m,
                                        .ldmul = mul.m.ld,
                                        .add = !has_add ? NULL : guard == 2 ? add.gp : add.m.m,
                                        .ldadd = add.m.ld};
                                    epi_call(k, &c, w, ldw, &kp, mode != 3, &y, &e);
                                    char msg[300];
                                    int ok = epi_check(&y, &y0, ga, sa, &e, msg, sizeof msg);
                                    if (ok && !nk_mat_canaries_ok(&y0))
                                        ok = 0, snprintf(msg, sizeof msg, "y (epi NULL) written "
                                                         "outside its rows x n");
                                    if (ok && !(epi_operand_intact(&mul) && epi_operand_intact(&add)))
                                        ok = 0, snprintf(msg, sizeof msg, "mul or add (or the "
                                                         "canaries around them) modified");
                                    if (!ok)
                                        fail_msg("%s epilogue (%s W, %s): rows %zu dim %zu n %zu "
                                                 "ldy %zu act %s mul %s (ld %zu) add %s (ld %zu) "
                                                 "bias %d (seed %#llx): %s",
                                                 k->name, packed ? "packed" : "row-major",
                                                 mode_names[mode], rows, dim, n, y.ld,
                                                 act_names[act],
                                                 !has_mul ? "none" : guard == 1 ? "guarded" : "canaries",
                                                 mul.m.ld,
                                                 !has_add ? "none" : guard == 2 ? "guarded" : "canaries",
                                                 add.m.ld, c.bias != NULL,
                                                 (unsigned long long)SEED, msg);
                                }
                    }
                free(panels);
                free(ga);
                free(sa);
                nk_mat_free(&y);
                nk_mat_free(&y0);
                epi_operand_free(&mul);
                epi_operand_free(&add);
                free_case(&c);
            }
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
                v.beta_folded = form == 2 && op == normkit_op_layernorm_linear;
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
        /* gamma folded, beta not, beta passed: W already carries gamma, so a beta added before
         * W would be scaled by it; refused, y untouched (found by tests/fuzz/fuzz_linear, which
         * returned NORMKIT_OK with (z + beta)(W gamma)) */
        c.y[0] = -7.0f;
        assert_int_equal(normkit_layernorm_linear_packed_f32(c.rows, c.x, c.ldx, NULL, c.beta,
                                                             1e-5f, rms_folded, c.y, c.ldy),
                         NORMKIT_ERR_PACKED);
        assert_true(c.y[0] == -7.0f);
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
    {"every knob value the tuner can pick", test_tuner_values},
    {"NaN/Inf rows", test_nonfinite},
    {"large bias", test_large_bias},
    {"guard pages", test_guard_pages},
    {"column split equals the whole", test_column_split},
    {"epilogue: act, mul, add (row-major and packed; default and small blocks)", test_epilogue},
};

/* test_linear [ISA]: every linear variant, or only ISA's; the API tests either way. */
int main(int argc, char **argv)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    const int only = nk_test_isa_arg(argc, argv);
    const size_t ncases = sizeof cases / sizeof cases[0];
    struct CMUnitTest *tests = calloc(nk * ncases + 3, sizeof *tests);
    char (*names)[160] = calloc(nk * ncases, sizeof *names);
    size_t t = 0;
    for (size_t i = 0; i < nk; i++) {
        if (!normkit_op_get(ks[i].op)->linear || (only >= 0 && ks[i].isa != (normkit_isa)only))
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
    return nk_isa_exit(only, failed);
}
