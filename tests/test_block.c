/*
 * The blocks (include/normkit_block.h): every layout x norm x activation x (plain, gated FFN) x
 * path x supported ISA against a float64 block on small shapes, with an error bound carried
 * through the block to first order in u (docs/numerics.md, "Blocks"); plus strides,
 * misalignment, guard pages, the workspace rules, rows independence and every status.
 * ISAs this CPU cannot run are reported as skipped, by name.
 *
 * test_block [ISA]: every ISA, or only ISA's blocks (the tests of statuses, of forcing the
 * dispatcher and of the AUTO ISA run either way). NK_SHAPES=quick (harness.h;
 * tests/valgrind.sh) drops, in test_model_sizes, the 768 x 3072 block and the 64-row call, and
 * halves the gated block's dim; it keeps a gated block of 70 rows (dim 128, hidden 688: k
 * blocks in W2 from a 32 KiB L1d; 64 rows and more: the AVX-512 panel form) and a plain one of
 * 9 rows (dim 200, hidden 800).
 */
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

#include "block_f64.h"
#include "harness.h"
#include "normkit_block.h"

typedef struct {
    normkit_block_desc d;
    float *mem[10];
} blockdef;

static float *vec(blockdef *bd, int slot, size_t n, nk_rng *rng, float lo, float hi)
{
    float *v = malloc(n * sizeof(float));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = nk_rng_uniform(rng, lo, hi);
    bd->mem[slot] = v;
    return v;
}

/* Weights at a realistic scale (uniform in +-1/sqrt(fan_in)), gamma near 1, small biases. */
static void make_block(blockdef *bd, normkit_layout layout, normkit_norm norm, normkit_act act,
                       int gated, size_t dim, size_t hidden, int biases, nk_rng *rng)
{
    memset(bd, 0, sizeof *bd);
    normkit_block_desc *d = &bd->d;
    d->layout = layout, d->norm = norm, d->act = act, d->gated = gated;
    d->dim = dim, d->hidden = hidden, d->eps = 1e-5f;
    const float s1 = 1.0f / sqrtf((float)dim), s2 = 1.0f / sqrtf((float)hidden);
    d->gamma = vec(bd, 0, dim, rng, 0.5f, 1.5f);
    if (norm == NORMKIT_NORM_LN)
        d->beta = vec(bd, 1, dim, rng, -0.5f, 0.5f);
    d->w1 = vec(bd, 2, hidden * dim, rng, -s1, s1);
    d->w2 = vec(bd, 3, dim * hidden, rng, -s2, s2);
    if (biases) {
        d->b1 = vec(bd, 4, hidden, rng, -0.1f, 0.1f);
        d->b2 = vec(bd, 5, dim, rng, -0.1f, 0.1f);
    }
    if (gated) {
        d->w3 = vec(bd, 6, hidden * dim, rng, -s1, s1);
        if (biases)
            d->b3 = vec(bd, 7, hidden, rng, -0.1f, 0.1f);
    }
}

static void free_block(blockdef *bd)
{
    for (int i = 0; i < 10; i++)
        free(bd->mem[i]);
}

#ifdef NK_REPORT_RATIO
static double worst_ratio;
#endif

/* The float64 block of x (block_f64.h: ref = Block(x) and err, the first-order bound of a
 * float32 evaluation's error, docs/numerics.md "Blocks"), rows x dim, dense; free() both. */
static void block_ref(const normkit_block_desc *d, size_t rows, const float *x, size_t ldx,
                      double **ref, double **err)
{
    const size_t D = d->dim;
    double *x64 = malloc(rows * D * sizeof(double));
    *ref = malloc(rows * D * sizeof(double));
    *err = malloc(rows * D * sizeof(double));
    assert_true(x64 && *ref && *err);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < D; i++)
            x64[r * D + i] = x[r * ldx + i];
    assert_int_equal(nk_block_f64(d, rows, x64, NULL, *ref, *err, NULL), 0);
    free(x64);
}

/* Compares h (rows x D, stride ldh) with block_ref's ref and err; msg on the first miss. */
static int compare_rows(size_t D, size_t rows, const double *ref, const double *err,
                        const float *h, size_t ldh, char *msg, size_t len)
{
    int ok = 1;
    for (size_t r = 0; r < rows && ok; r++) {
        for (size_t i = 0; i < D && ok; i++) {
            const double got = h[r * ldh + i], want = ref[r * D + i], bound = err[r * D + i];
#ifdef NK_REPORT_RATIO
            if (fabs(got - want) / bound > worst_ratio)
                worst_ratio = fabs(got - want) / bound;
#endif
            if (!(fabs(got - want) <= bound)) {
                snprintf(msg, len, "row %zu col %zu: got %.9g, float64 %.9g, |diff| %.3g > bound %.3g",
                         r, i, got, want, fabs(got - want), bound);
                ok = 0;
            }
        }
    }
    return ok;
}

/* Compares h (rows x dim, stride ldh) with the float64 block of x (block_ref); msg on the
 * first miss. */
static int check_rows(const normkit_block_desc *d, size_t rows, const float *x, size_t ldx,
                      const float *h, size_t ldh, char *msg, size_t len)
{
    double *ref, *err;
    block_ref(d, rows, x, ldx, &ref, &err);
    const int ok = compare_rows(d->dim, rows, ref, err, h, ldh, msg, len);
    free(ref);
    free(err);
    return ok;
}

/* ---- the ISAs under test ---- */

static const normkit_isa isas[] = {NORMKIT_ISA_SCALAR, NORMKIT_ISA_AVX2, NORMKIT_ISA_AVX512,
                                   NORMKIT_ISA_NEON, NORMKIT_ISA_SVE};

/* The ISA named on the command line, or -1 for all. */
static int only_isa = -1;

/* 1 if blocks of `isa` run here (and are selected); otherwise prints the skip, by name, once
 * per test. */
static int isa_runs(normkit_isa isa, const char *test)
{
    static const char *said[NORMKIT_ISA_COUNT];
    const int selected = only_isa < 0 || isa == (normkit_isa)only_isa;
    if (selected && normkit_isa_supported(isa))
        return 1;
    if (said[isa] != test)
        printf("[  SKIPPED ] %s: isa %s (%s)\n", test, normkit_isa_name(isa),
               selected ? "this CPU, OS or build cannot run it" : "not the ISA asked for");
    said[isa] = test;
    return 0;
}

/* ---- every configuration vs float64 ---- */

static const size_t dims[] = {8, 64, 96};

static void test_against_float64(void **state)
{
    (void)state;
    nk_rng rng = {0x626c6f636bull}; /* "block" */
    char msg[256];
    size_t runs = 0;
    for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++) {
        const normkit_isa isa = isas[ii];
        if (!isa_runs(isa, "against_float64"))
            continue;
        for (int layout = 0; layout < 2; layout++)
            for (int ln = 0; ln < 2; ln++)
                for (int act = NORMKIT_ACT_GELU; act <= NORMKIT_ACT_SILU; act++)
                    for (int gated = 0; gated < 2; gated++)
                        for (size_t di = 0; di < 3; di++) {
                            const size_t D = dims[di];
                            /* gated: Llama's 8/3 d rounded up to 8; plain: 4 d */
                            const size_t H = gated ? (8 * D / 3 + 7) / 8 * 8 : 4 * D;
                            blockdef bd;
                            make_block(&bd, (normkit_layout)layout,
                                       ln ? NORMKIT_NORM_LN : NORMKIT_NORM_RMS, (normkit_act)act,
                                       gated, D, H, (int)(di != 1), &rng);
                            for (int path = 0; path < 3; path++) {
                                if (isa != NORMKIT_ISA_SCALAR && path == NORMKIT_PATH_SCALAR)
                                    continue; /* the scalar path ignores the ISA */
                                normkit_block *b;
                                assert_int_equal(normkit_block_create(&bd.d, isa,
                                                                      (normkit_block_path)path, &b),
                                                 NORMKIT_OK);
                                assert_int_equal(normkit_block_isa(b), isa);
                                for (size_t rows = 1; rows <= 5; rows++) {
                                    const size_t ldx = D + (rows & 1) * 3, ldh = D + (rows & 2);
                                    float *x = malloc((rows * ldx + 1) * sizeof(float));
                                    float *h = malloc((rows * ldh + 1) * sizeof(float));
                                    assert_true(x && h);
                                    float *xs = x + (rows > 2), *hs = h + (rows > 3); /* misaligned */
                                    for (size_t i = 0; i < rows * ldx; i++)
                                        xs[i] = (float)nk_rng_normal(&rng);
                                    assert_int_equal(normkit_block_forward(b, rows, xs, ldx, hs, ldh,
                                                                           NULL, 0),
                                                     NORMKIT_OK);
                                    if (!check_rows(&bd.d, rows, xs, ldx, hs, ldh, msg, sizeof msg))
                                        fail_msg("%s %s %s%s %s d=%zu rows=%zu %s/%s: %s",
                                                 normkit_layout_name(bd.d.layout),
                                                 ln ? "layernorm" : "rmsnorm",
                                                 normkit_act_name(bd.d.act), gated ? "(gated)" : "",
                                                 di != 1 ? "biases" : "no biases", D, rows,
                                                 normkit_isa_name(isa),
                                                 normkit_block_path_name((normkit_block_path)path),
                                                 msg);
                                    runs++;
                                    free(x);
                                    free(h);
                                }
                                normkit_block_free(b);
                            }
                            free_block(&bd);
                        }
    }
    printf("against_float64: %zu forward calls checked\n", runs);
#ifdef NK_REPORT_RATIO
    printf("largest error / bound: %.3g\n", worst_ratio);
#endif
}

/* ---- model-sized rows: the linear variants' blocking, packing and epilogue groups ---- */

static void test_model_sizes(void **state)
{
    (void)state;
    nk_rng rng = {0x6d6f64656cull};
    char msg[256];
    const size_t cases[][3] = {{768, 3072, 9}, {256, 688, 70}, {200, 800, 64}};
    for (size_t ci = 0; ci < 3; ci++) {
        if (nk_quick() && ci == 0)
            continue; /* quick: not 768 x 3072 */
        const size_t D = nk_quick() && ci == 1 ? 128 : cases[ci][0], H = cases[ci][1];
        const size_t rows = nk_quick() && ci == 2 ? 9 : cases[ci][2]; /* quick: 9, not 64 */
        for (int layout = 0; layout < 2; layout++) {
            blockdef bd;
            const int gated = ci == 1;
            make_block(&bd, (normkit_layout)layout, layout ? NORMKIT_NORM_LN : NORMKIT_NORM_RMS,
                       gated ? NORMKIT_ACT_SILU : NORMKIT_ACT_GELU, gated, D, H, !gated, &rng);
            float *x = malloc(rows * D * sizeof(float)), *h = malloc(rows * D * sizeof(float));
            assert_true(x && h);
            for (size_t i = 0; i < rows * D; i++)
                x[i] = (float)nk_rng_normal(&rng) * 3.0f + 1.0f;
            double *ref, *err; /* once for every ISA and path */
            block_ref(&bd.d, rows, x, D, &ref, &err);
            for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++) {
                if (!isa_runs(isas[ii], "model_sizes"))
                    continue;
                for (int path = NORMKIT_PATH_UNFUSED; path <= NORMKIT_PATH_FUSED; path++) {
                    normkit_block *b;
                    assert_int_equal(normkit_block_create(&bd.d, isas[ii], (normkit_block_path)path, &b),
                                     NORMKIT_OK);
                    memset(h, 0, rows * D * sizeof(float));
                    assert_int_equal(normkit_block_forward(b, rows, x, D, h, D, NULL, 0), NORMKIT_OK);
                    if (!compare_rows(D, rows, ref, err, h, D, msg, sizeof msg))
                        fail_msg("d=%zu hidden=%zu rows=%zu %s %s/%s: %s", D, H, rows,
                                 normkit_layout_name(bd.d.layout), normkit_isa_name(isas[ii]),
                                 normkit_block_path_name((normkit_block_path)path), msg);
                    normkit_block_free(b);
                }
            }
            free(ref);
            free(err);
            free(x);
            free(h);
            free_block(&bd);
        }
    }
}

/* ---- rows are independent; NaN stays in its row; same bits with any workspace ---- */

static void test_rows_and_workspace(void **state)
{
    (void)state;
    nk_rng rng = {0x726f7773ull};
    const size_t D = 64, H = 256, rows = 6;
    for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++) {
        if (!isa_runs(isas[ii], "rows_and_workspace"))
            continue;
        for (int layout = 0; layout < 2; layout++)
            for (int path = 0; path < 3; path++) {
                blockdef bd;
                make_block(&bd, (normkit_layout)layout, NORMKIT_NORM_LN, NORMKIT_ACT_SILU, 0, D, H,
                           1, &rng);
                normkit_block *b;
                assert_int_equal(normkit_block_create(&bd.d, isas[ii], (normkit_block_path)path, &b),
                                 NORMKIT_OK);
                float x[6 * 64], h1[6 * 64], h2[6 * 64], one[64];
                for (size_t i = 0; i < rows * D; i++)
                    x[i] = (float)nk_rng_normal(&rng);
                x[2 * D + 5] = NAN;
                /* the caller's workspace, exactly the size asked for, misaligned by 4 bytes */
                const size_t need = normkit_block_ws_bytes(b, rows);
                assert_true(need > 0);
                char *ws = malloc(need + 4);
                assert_non_null(ws);
                assert_int_equal(normkit_block_forward(b, rows, x, D, h1, D, ws + 4, need), NORMKIT_OK);
                assert_int_equal(normkit_block_forward(b, rows, x, D, h2, D, NULL, 0), NORMKIT_OK);
                assert_memory_equal(h1, h2, sizeof h1);
                /* too small a workspace: refused, h untouched */
                memset(h2, 0x7f, sizeof h2);
                memcpy(one, h2, sizeof one);
                assert_int_equal(normkit_block_forward(b, rows, x, D, h2, D, ws, need - 1),
                                 NORMKIT_ERR_SHAPE);
                for (size_t r = 0; r < rows; r++)
                    assert_memory_equal(h2 + r * D, one, sizeof one);
                /* the NaN row is NaN (pre-norm: wherever W2 reaches, i.e. everywhere here) and
                 * no other row is touched by it: each of them, in the 6-row call and alone,
                 * meets the float64 block's bound (one row alone may take another blocking,
                 * decode vs panel form, so not bitwise) */
                for (size_t r = 0; r < rows; r++) {
                    if (r == 2) {
                        for (size_t i = 0; i < D; i++)
                            assert_true(isnan(h1[r * D + i]));
                        continue;
                    }
                    assert_int_equal(normkit_block_forward(b, 1, x + r * D, D, one, D, NULL, 0),
                                     NORMKIT_OK);
                    char msg[256];
                    if (!check_rows(&bd.d, 1, x + r * D, D, h1 + r * D, D, msg, sizeof msg) ||
                        !check_rows(&bd.d, 1, x + r * D, D, one, D, msg, sizeof msg))
                        fail_msg("row %zu beside a NaN row: %s", r, msg);
                }
                free(ws);
                normkit_block_free(b);
                free_block(&bd);
            }
    }
}

/* ---- rows against unmapped pages: nothing is read before x or past h ---- */

static void test_guard_pages(void **state)
{
    (void)state;
    nk_rng rng = {0x6775617264ull};
    const size_t D = 37, H = 100, rows = 3;
    for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++) {
        if (!isa_runs(isas[ii], "guard_pages"))
            continue;
        for (int layout = 0; layout < 2; layout++)
            for (int path = 0; path < 3; path++)
                for (int at_start = 0; at_start < 2; at_start++) {
                    blockdef bd;
                    make_block(&bd, (normkit_layout)layout, NORMKIT_NORM_RMS, NORMKIT_ACT_GELU, 1,
                               D, H, 1, &rng);
                    normkit_block *b;
                    assert_int_equal(
                        normkit_block_create(&bd.d, isas[ii], (normkit_block_path)path, &b),
                        NORMKIT_OK);
                    nk_guard gx, gh;
                    float *x = nk_guarded(rows * D, at_start, &gx);
                    float *h = nk_guarded(rows * D, !at_start, &gh);
                    for (size_t i = 0; i < rows * D; i++)
                        x[i] = (float)nk_rng_normal(&rng);
                    assert_int_equal(normkit_block_forward(b, rows, x, D, h, D, NULL, 0), NORMKIT_OK);
                    char msg[256];
                    if (!check_rows(&bd.d, rows, x, D, h, D, msg, sizeof msg))
                        fail_msg("%s", msg);
                    nk_guard_free(&gx);
                    nk_guard_free(&gh);
                    normkit_block_free(b);
                    free_block(&bd);
                }
    }
}

/* ---- statuses ---- */

static void test_statuses(void **state)
{
    (void)state;
    nk_rng rng = {7};
    blockdef bd;
    make_block(&bd, NORMKIT_PRENORM, NORMKIT_NORM_RMS, NORMKIT_ACT_SILU, 0, 16, 32, 1, &rng);
    normkit_block *b = (normkit_block *)&bd; /* must be overwritten with NULL on failure */
    normkit_block_desc d = bd.d;

    assert_int_equal(normkit_block_create(NULL, NORMKIT_ISA_AUTO, NORMKIT_PATH_FUSED, &b),
                     NORMKIT_ERR_NULL);
    assert_null(b);
    assert_int_equal(normkit_block_create(&d, NORMKIT_ISA_AUTO, NORMKIT_PATH_FUSED, NULL),
                     NORMKIT_ERR_NULL);
#define EXPECT(field, value, status)                                                              \
    do {                                                                                           \
        normkit_block_desc e = d;                                                                  \
        e.field = value;                                                                           \
        b = (normkit_block *)&bd;                                                                  \
        assert_int_equal(normkit_block_create(&e, NORMKIT_ISA_AUTO, NORMKIT_PATH_FUSED, &b),       \
                         status);                                                                  \
        assert_null(b);                                                                            \
    } while (0)
    EXPECT(w1, NULL, NORMKIT_ERR_NULL);
    EXPECT(w2, NULL, NORMKIT_ERR_NULL);
    EXPECT(gated, 1, NORMKIT_ERR_NULL); /* gated without w3 */
    EXPECT(w3, d.w1, NORMKIT_ERR_SHAPE); /* w3 without gated */
    EXPECT(b3, d.b1, NORMKIT_ERR_SHAPE);
    EXPECT(beta, d.gamma, NORMKIT_ERR_SHAPE); /* beta with RMSNorm */
    EXPECT(dim, 0, NORMKIT_ERR_SHAPE);
    EXPECT(hidden, 0, NORMKIT_ERR_SHAPE);
    EXPECT(hidden, SIZE_MAX / 2, NORMKIT_ERR_SHAPE);
    EXPECT(layout, (normkit_layout)2, NORMKIT_ERR_SHAPE);
    EXPECT(norm, NORMKIT_NORM_NONE, NORMKIT_ERR_SHAPE);
    EXPECT(act, NORMKIT_ACT_NONE, NORMKIT_ERR_SHAPE);
    EXPECT(act, (normkit_act)7, NORMKIT_ERR_SHAPE);
    EXPECT(eps, -1.0f, NORMKIT_ERR_EPS);
    EXPECT(eps, NAN, NORMKIT_ERR_EPS);
    EXPECT(eps, INFINITY, NORMKIT_ERR_EPS);
#undef EXPECT
    assert_int_equal(normkit_block_create(&d, NORMKIT_ISA_AUTO, (normkit_block_path)3, &b),
                     NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_create(&d, (normkit_isa)99, NORMKIT_PATH_FUSED, &b),
                     NORMKIT_ERR_SHAPE);
    /* an ISA of the other architecture family is never supported here */
#if defined(__x86_64__)
    assert_int_equal(normkit_block_create(&d, NORMKIT_ISA_NEON, NORMKIT_PATH_FUSED, &b),
                     NORMKIT_ERR_UNSUPPORTED);
#else
    assert_int_equal(normkit_block_create(&d, NORMKIT_ISA_AVX2, NORMKIT_PATH_FUSED, &b),
                     NORMKIT_ERR_UNSUPPORTED);
#endif
    assert_null(b);

    assert_int_equal(normkit_block_create(&d, NORMKIT_ISA_AUTO, NORMKIT_PATH_FUSED, &b), NORMKIT_OK);
    assert_int_equal(normkit_block_isa(b), normkit_isa_active());
    assert_int_equal(normkit_block_get_path(b), NORMKIT_PATH_FUSED);
    assert_true(normkit_block_flops_per_row(b) == 2.0 * 16 * 32 * 2);
    float x[4 * 16] = {0}, h[4 * 16];
    assert_int_equal(normkit_block_forward(NULL, 1, x, 16, h, 16, NULL, 0), NORMKIT_ERR_NULL);
    assert_int_equal(normkit_block_forward(b, 1, NULL, 16, h, 16, NULL, 0), NORMKIT_ERR_NULL);
    assert_int_equal(normkit_block_forward(b, 1, x, 16, NULL, 16, NULL, 0), NORMKIT_ERR_NULL);
    assert_int_equal(normkit_block_forward(b, 0, x, 16, h, 16, NULL, 0), NORMKIT_OK);
    assert_int_equal(normkit_block_forward(b, 1, x, 15, h, 16, NULL, 0), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_forward(b, 1, x, 16, h, 15, NULL, 0), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_forward(b, SIZE_MAX / 8, x, 16, h, 16, NULL, 0),
                     NORMKIT_ERR_SHAPE);
    /* h overlapping x, exactly or partly, or inside its stride gaps */
    assert_int_equal(normkit_block_forward(b, 2, x, 16, x, 16, NULL, 0), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_forward(b, 2, x, 16, x + 8, 16, NULL, 0), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_forward(b, 2, x, 32, x + 16, 32, NULL, 0), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_block_forward(b, 2, x, 16, x + 32, 16, NULL, 0), NORMKIT_OK);
    assert_int_equal(normkit_block_ws_bytes(NULL, 1), 0);
    assert_int_equal(normkit_block_ws_bytes(b, SIZE_MAX / 8), 0);
    normkit_block_free(b);
    normkit_block_free(NULL);

    /* names both ways */
    for (int l = 0; l < 2; l++)
        assert_int_equal(normkit_layout_from_name(normkit_layout_name((normkit_layout)l)), l);
    for (int p = 0; p < 3; p++)
        assert_int_equal(normkit_block_path_from_name(normkit_block_path_name((normkit_block_path)p)),
                         p);
    for (int a = 1; a < 3; a++)
        assert_int_equal(normkit_act_from_name(normkit_act_name((normkit_act)a)), a);
    assert_null(normkit_layout_name((normkit_layout)2));
    assert_null(normkit_act_name(NORMKIT_ACT_NONE));
    assert_int_equal(normkit_act_from_name("none"), -1);
    assert_int_equal(normkit_layout_from_name(NULL), -1);
    assert_int_equal(normkit_block_path_from_name("fast"), -1);
    free_block(&bd);
}

/* ---- a block keeps its ISA when the dispatcher is forced elsewhere ---- */

static void test_isa_force(void **state)
{
    (void)state;
    nk_rng rng = {11};
    const normkit_isa best = nk_best_supported_isa();
    blockdef bd;
    make_block(&bd, NORMKIT_PRENORM, NORMKIT_NORM_RMS, NORMKIT_ACT_SILU, 1, 48, 128, 0, &rng);
    normkit_block *b;
    assert_int_equal(normkit_block_create(&bd.d, best, NORMKIT_PATH_FUSED, &b), NORMKIT_OK);
    float x[3 * 48], h1[3 * 48], h2[3 * 48];
    for (size_t i = 0; i < 3 * 48; i++)
        x[i] = (float)nk_rng_normal(&rng);
    assert_int_equal(normkit_block_forward(b, 3, x, 48, h1, 48, NULL, 0), NORMKIT_OK);
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_SCALAR), NORMKIT_OK);
    assert_int_equal(normkit_block_forward(b, 3, x, 48, h2, 48, NULL, 0), NORMKIT_OK);
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
    assert_memory_equal(h1, h2, sizeof h1);
    assert_int_equal(normkit_block_isa(b), best);
    normkit_block_free(b);
    free_block(&bd);
}

/* ---- one block shared by threads, each with its own workspace ---- */

typedef struct {
    const normkit_block *b;
    const float *x;
    float *h;
    size_t rows, dim;
    normkit_status st;
} fwd_job;

static void *forward_many(void *arg)
{
    fwd_job *j = arg;
    const size_t need = normkit_block_ws_bytes(j->b, j->rows);
    void *ws = malloc(need);
    j->st = ws ? NORMKIT_OK : NORMKIT_ERR_NOMEM;
    for (int it = 0; it < 20 && j->st == NORMKIT_OK; it++)
        j->st = normkit_block_forward(j->b, j->rows, j->x, j->dim, j->h, j->dim, ws, need);
    free(ws);
    return NULL;
}

/* Blocks are immutable: two threads running the same block (fused and unfused, every supported
 * ISA) give, bit for bit, what one thread gives. ThreadSanitizer runs this in CI. */
static void test_shared_by_threads(void **state)
{
    (void)state;
    nk_rng rng = {0x7468726561647321ull};
    const size_t D = 48, H = 192, rows = 5;
    for (size_t ii = 0; ii < sizeof isas / sizeof *isas; ii++) {
        if (!isa_runs(isas[ii], "shared_by_threads"))
            continue;
        for (int path = NORMKIT_PATH_UNFUSED; path <= NORMKIT_PATH_FUSED; path++) {
            blockdef bd;
            make_block(&bd, NORMKIT_PRENORM, NORMKIT_NORM_LN, NORMKIT_ACT_GELU, 1, D, H, 1, &rng);
            normkit_block *b;
            assert_int_equal(normkit_block_create(&bd.d, isas[ii], (normkit_block_path)path, &b),
                             NORMKIT_OK);
            float x[2][5 * 48], h[2][5 * 48], want[2][5 * 48];
            for (int t = 0; t < 2; t++) {
                for (size_t i = 0; i < rows * D; i++)
                    x[t][i] = (float)nk_rng_normal(&rng);
                assert_int_equal(normkit_block_forward(b, rows, x[t], D, want[t], D, NULL, 0),
                                 NORMKIT_OK);
            }
            fwd_job jobs[2];
            pthread_t th[2];
            for (int t = 0; t < 2; t++) {
                jobs[t] = (fwd_job){.b = b, .x = x[t], .h = h[t], .rows = rows, .dim = D};
                assert_int_equal(pthread_create(&th[t], NULL, forward_many, &jobs[t]), 0);
            }
            for (int t = 0; t < 2; t++) {
                assert_int_equal(pthread_join(th[t], NULL), 0);
                assert_int_equal(jobs[t].st, NORMKIT_OK);
                assert_memory_equal(h[t], want[t], sizeof h[t]);
            }
            normkit_block_free(b);
            free_block(&bd);
        }
    }
}

/* test_block [ISA] */
int main(int argc, char **argv)
{
    only_isa = nk_test_isa_arg(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_against_float64),
        cmocka_unit_test(test_model_sizes),
        cmocka_unit_test(test_rows_and_workspace),
        cmocka_unit_test(test_guard_pages),
        cmocka_unit_test(test_isa_force),
        cmocka_unit_test(test_shared_by_threads),
    };
    return nk_isa_exit(only_isa, cmocka_run_group_tests_name("block", tests, NULL, NULL));
}
