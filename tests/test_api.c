/*
 * The public API: argument checks and status codes, ISA names, forcing, what the dispatcher
 * picks (also under NORMKIT_ISA, which meson sets per test setup), and detection logic.
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

#if defined(__aarch64__) && defined(__linux__)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "cpu.h"
#include "harness.h"

/* Runs first, before anything forces an ISA: the initial choice honours NORMKIT_ISA. */
static void test_initial_isa(void **state)
{
    (void)state;
    const char *env = getenv("NORMKIT_ISA");
    int want = env && *env ? normkit_isa_from_name(env) : NORMKIT_ISA_AUTO;
    if (want > NORMKIT_ISA_AUTO && !normkit_isa_supported((normkit_isa)want)) {
        print_message("[  SKIP    ] NORMKIT_ISA=%s: this CPU/OS/build cannot run %s\n", env, env);
        skip();
    }
    normkit_isa expect = want > NORMKIT_ISA_AUTO ? (normkit_isa)want : nk_best_supported_isa();
    assert_string_equal(normkit_isa_name(normkit_isa_active()), normkit_isa_name(expect));
    /* and every operator runs a variant of that ISA when the build has one */
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_kernel *k = normkit_kernel_active((normkit_op)op);
        assert_non_null(k);
        if (normkit_kernels_for(expect, (normkit_op)op))
            assert_string_equal(normkit_isa_name(k->isa), normkit_isa_name(expect));
    }
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < NORMKIT_ISA_COUNT; i++)
        assert_int_equal(normkit_isa_from_name(normkit_isa_name((normkit_isa)i)), i);
    assert_int_equal(normkit_isa_from_name("AVX2"), -1);
    assert_int_equal(normkit_isa_from_name(""), -1);
    assert_int_equal(normkit_isa_from_name(NULL), -1);
    assert_null(normkit_isa_name((normkit_isa)NORMKIT_ISA_COUNT));
    assert_null(normkit_isa_name((normkit_isa)-1));
    for (int s = NORMKIT_OK; s <= NORMKIT_ERR_NOMEM; s++) {
        assert_non_null(normkit_status_str((normkit_status)s));
        for (int t = NORMKIT_OK; t < s; t++)
            assert_string_not_equal(normkit_status_str((normkit_status)s),
                                    normkit_status_str((normkit_status)t));
    }
    assert_string_equal(normkit_status_str((normkit_status)99), "unknown normkit status");
    assert_string_equal(normkit_op_name(normkit_op_add_layernorm), "add_layernorm");
    assert_null(normkit_op_name(NORMKIT_OP_COUNT));
}

/* A small valid call for `op`, in buffers the test can inspect. */
typedef struct {
    float x[2 * 8], r[2 * 8], y[2 * 8], r_orig[2 * 8];
    nk_args a;
} small_call;

static void small_init(small_call *s)
{
    for (int i = 0; i < 16; i++) {
        s->x[i] = (float)i - 5.0f;
        s->r[i] = s->r_orig[i] = 0.25f * (float)i;
        s->y[i] = -777.0f;
    }
    s->a = (nk_args){.rows = 2, .dim = 8, .x = s->x, .ldx = 8, .r = s->r, .ldr = 8,
                     .eps = 1e-5f, .y = s->y, .ldy = 8};
}

/* The call fails with `want` and writes nothing. */
static void expect_status(normkit_op op, small_call *s, normkit_status want, const char *what)
{
    normkit_status got = nk_call_api(op, &s->a);
    if (got != want)
        fail_msg("%s with %s: got \"%s\", want \"%s\"", normkit_op_name(op), what,
                 normkit_status_str(got), normkit_status_str(want));
    for (int i = 0; i < 16; i++)
        if (s->y[i] != -777.0f || s->r[i] != s->r_orig[i])
            fail_msg("%s with %s: a rejected call wrote its outputs", normkit_op_name(op), what);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        const normkit_op op = (normkit_op)o;
        if (normkit_op_get(op)->linear)
            continue; /* tests/test_linear.c */
        small_call s;
        small_init(&s);
        assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK); /* the baseline call is valid */

        small_init(&s); s.a.x = NULL;       expect_status(op, &s, NORMKIT_ERR_NULL, "x == NULL");
        small_init(&s); s.a.y = NULL;       expect_status(op, &s, NORMKIT_ERR_NULL, "y == NULL");
        if (nk_op_has_residual(op) || nk_op_has_second_input(op)) {
            small_init(&s); s.a.r = NULL;   expect_status(op, &s, NORMKIT_ERR_NULL, "r == NULL");
            small_init(&s); s.a.ldr = 7;    expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldr < dim");
        }
        if (nk_op_has_residual(op)) {
            small_init(&s); s.a.y = s.a.r;  expect_status(op, &s, NORMKIT_ERR_SHAPE, "y == r");
        }
        if (nk_op_has_second_input(op)) { /* add, mul: r is an input, y may be r itself */
            small_init(&s); s.a.y = s.r;
            assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK);
            small_init(&s); s.a.y = s.r; s.a.dim = 7; s.a.ldr = 7; s.a.ldy = 8;
            s.a.ldx = 8;                    expect_status(op, &s, NORMKIT_ERR_SHAPE,
                                                          "y == r with another stride");
            small_init(&s); s.a.y = s.r + 1; s.a.dim = 7;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "y overlapping r");
        }
        if (nk_op_is_elementwise(op)) { /* any overlap of y with x but x itself is refused */
            small_init(&s); s.a.y = s.x + 1; s.a.dim = 7;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "y one float past x");
            small_init(&s); s.a.y = s.x + 4; s.a.dim = 4; s.a.ldy = 8;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "y in x's stride gaps");
        }
        small_init(&s); s.a.y = s.x; s.a.ldx = 8; s.a.ldy = 9; s.a.rows = 1;
        assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK); /* one row: strides do not matter */
        small_init(&s); s.a.y = s.x; s.a.dim = 7; s.a.ldx = 7; s.a.ldy = 8; /* rows 2 */
        {
            const float before = s.x[0];
            normkit_status st = nk_call_api(op, &s.a);
            if (st != NORMKIT_ERR_SHAPE || s.x[0] != before)
                fail_msg("%s with y == x and another stride: got \"%s\", or x was written",
                         normkit_op_name(op), normkit_status_str(st));
        }
        small_init(&s); s.a.dim = 0;        expect_status(op, &s, NORMKIT_ERR_SHAPE, "dim == 0");
        small_init(&s); s.a.ldx = 7;        expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldx < dim");
        small_init(&s); s.a.ldy = 0;        expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldy < dim");
        small_init(&s); s.a.rows = SIZE_MAX / 4;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "rows * ldx overflowing the address space");
        small_init(&s); s.a.ldx = SIZE_MAX / 2;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "a stride overflowing the address space");
        small_init(&s); s.a.rows = 1; s.a.dim = s.a.ldx = s.a.ldr = s.a.ldy = SIZE_MAX / 2;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "one row longer than the address space");
        if (nk_op_is_elementwise(op)) { /* no eps: whatever it holds is ignored */
            small_init(&s); s.a.eps = NAN;
            assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK);
        } else {
        small_init(&s); s.a.eps = -1e-5f;   expect_status(op, &s, NORMKIT_ERR_EPS, "eps < 0");
        small_init(&s); s.a.eps = NAN;      expect_status(op, &s, NORMKIT_ERR_EPS, "eps NaN");
        small_init(&s); s.a.eps = INFINITY; expect_status(op, &s, NORMKIT_ERR_EPS, "eps Inf");
        }
        small_init(&s); s.a.eps = -0.0f;
        assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK); /* -0 is zero */

        /* rows == 0: a no-op that succeeds without looking at anything else */
        small_init(&s);
        s.a = (nk_args){.rows = 0, .dim = 0, .eps = NAN};
        assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK);
    }
}

/* The linear epilogue through normkit_op_run: its act, mul and add are checked like the other
 * arguments, and a refused call writes nothing. */
static void test_epilogue_arguments(void **state)
{
    (void)state;
    enum { R = 3, D = 8, N = 5 };
    float x[R * D], w[N * D], y[R * N + 8], m[R * 8], ad[R * 8];
    for (size_t i = 0; i < R * D; i++)
        x[i] = (float)i / 7.0f;
    for (size_t i = 0; i < N * D; i++)
        w[i] = 1.0f / (float)(i + 1);
    for (size_t i = 0; i < R * 8; i++)
        m[i] = 2.0f, ad[i] = 1.0f;
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        if (!normkit_op_get((normkit_op)op)->linear)
            continue;
        normkit_epilogue e = {.act = NORMKIT_ACT_SILU, .mul = m, .ldmul = 8, .add = ad, .ldadd = 8};
        normkit_args a = {.rows = R, .dim = D, .n = N, .x = x, .ldx = D, .w = w, .ldw = D,
                          .eps = 1e-5f, .y = y, .ldy = N, .epi = &e};
        assert_int_equal(normkit_op_run((normkit_op)op, &a), NORMKIT_OK);
        const float ok = y[0];
        assert_true(isfinite(ok));
        normkit_epilogue bad[] = {
            {.act = (normkit_act)3},
            {.act = (normkit_act)-1},
            {.mul = m, .ldmul = N - 1},                  /* stride below n */
            {.add = ad, .ldadd = 2},
            {.mul = y + 1, .ldmul = N},                  /* overlaps y */
            {.add = y, .ldadd = N},                      /* y itself: its tiles hold partial sums */
            {.add = y + R * N - 1, .ldadd = N},          /* overlaps y's last element */
            {.mul = m, .ldmul = SIZE_MAX / 2},           /* not addressable */
        };
        for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
            y[0] = -12345.0f;
            a.epi = &bad[b];
            assert_int_equal(normkit_args_check((normkit_op)op, &a), NORMKIT_ERR_SHAPE);
            assert_int_equal(normkit_op_run((normkit_op)op, &a), NORMKIT_ERR_SHAPE);
            assert_true(y[0] == -12345.0f);
        }
        /* starting right after y's last element: apart, accepted (checked only, not run) */
        normkit_epilogue next = {.add = y + R * N, .ldadd = N};
        a.epi = &next;
        assert_int_equal(normkit_args_check((normkit_op)op, &a), NORMKIT_OK);
    }
}

static void test_dispatched_results(void **state)
{
    (void)state;
    nk_rng rng = {42};
    const size_t dims[] = {1, 7, 33, 768, 4097};
    for (int o = 0; o < NORMKIT_OP_COUNT; o++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            if (normkit_op_get((normkit_op)o)->linear)
                continue; /* tests/test_linear.c */
            const size_t n = dims[d], rows = 3;
            float *x = malloc(rows * n * 4), *r = malloc(rows * n * 4), *y = malloc(rows * n * 4);
            float *x_in = malloc(rows * n * 4), *r_in = malloc(rows * n * 4), *g = malloc(n * 4);
            for (size_t i = 0; i < rows * n; i++) {
                x_in[i] = x[i] = nk_rng_uniform(&rng, -3.0f, 3.0f);
                r_in[i] = r[i] = nk_rng_uniform(&rng, -1.0f, 1.0f);
            }
            for (size_t i = 0; i < n; i++)
                g[i] = nk_rng_uniform(&rng, 0.5f, 1.5f);
            nk_args a = {.rows = rows, .dim = n, .x = x, .ldx = n, .r = r, .ldr = n, .gamma = g,
                         .beta = g, .eps = 1e-5f, .y = y, .ldy = n};
            assert_int_equal(nk_call_api((normkit_op)o, &a), NORMKIT_OK);
            char msg[512];
            if (!nk_check((normkit_op)o, &a, x_in, n, r_in, n, msg, sizeof msg))
                fail_msg("%s via %s, dim %zu: %s", normkit_op_name((normkit_op)o),
                         normkit_kernel_active((normkit_op)o)->name, n, msg);
            free(x); free(r); free(y); free(x_in); free(r_in); free(g);
        }
}

static void test_force(void **state)
{
    (void)state;
    assert_int_equal(normkit_isa_supported(NORMKIT_ISA_SCALAR), 1);
    assert_int_equal(normkit_isa_supported(NORMKIT_ISA_AUTO), 0);
    assert_int_equal(normkit_isa_supported((normkit_isa)99), 0);
    int tried_unsupported = 0;
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++) {
        const normkit_isa isa = (normkit_isa)i;
        if (normkit_isa_supported(isa)) {
            assert_int_equal(normkit_isa_force(isa), NORMKIT_OK);
            assert_int_equal(normkit_isa_active(), isa);
            for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
                const normkit_kernel *k = normkit_kernel_active((normkit_op)op);
                const normkit_kernel *exact = normkit_kernels_for(isa, (normkit_op)op);
                assert_true(exact == NULL || k == exact);
            }
        } else {
            /* Whatever is active stays active. */
            assert_int_equal(normkit_isa_force(NORMKIT_ISA_SCALAR), NORMKIT_OK);
            const normkit_kernel *before = normkit_kernel_active(normkit_op_rmsnorm);
            assert_int_equal(normkit_isa_force(isa), NORMKIT_ERR_UNSUPPORTED);
            assert_int_equal(normkit_isa_active(), NORMKIT_ISA_SCALAR);
            assert_ptr_equal(normkit_kernel_active(normkit_op_rmsnorm), before);
            tried_unsupported++;
        }
    }
    assert_true(tried_unsupported > 0); /* no CPU runs both x86 and Arm ISAs */
    const normkit_isa before = normkit_isa_active();
    assert_int_equal(normkit_isa_force((normkit_isa)99), NORMKIT_ERR_UNSUPPORTED);
    assert_int_equal(normkit_isa_force((normkit_isa)-1), NORMKIT_ERR_UNSUPPORTED);
    assert_int_equal(normkit_isa_active(), before);
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
    assert_int_equal(normkit_isa_active(), nk_best_supported_isa());
}

/* The registry: an ISA in the build serves every operator, names follow the convention,
 * and within an operator the variants are listed best first (scalar last). */
/* The operator table and the generic call, as the library exposes them. */
static void test_operator_table(void **state)
{
    (void)state;
    assert_null(normkit_op_get(NORMKIT_OP_COUNT));
    assert_int_equal(normkit_op_from_name("no_such_op"), -1);
    assert_int_equal(normkit_op_from_name(NULL), -1);
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        const normkit_op op = (normkit_op)o;
        const normkit_op_info *info = normkit_op_get(op);
        assert_non_null(info);
        assert_int_equal(normkit_op_from_name(info->name), o);
        /* a residual operator reads and writes r besides x and y; a linear one writes a
         * rows x n y, not a rows x dim matrix; gamma comes with a norm, beta with LayerNorm */
        assert_int_equal(info->elementwise, info->norm == NORMKIT_NORM_NONE && !info->linear);
        if (info->elementwise) {
            /* x (and r, a second input, for add and mul) in, y out; no gamma, beta or eps */
            assert_false(info->residual || info->beta || info->linear);
            assert_true(info->mats_read == 1u || info->mats_read == 2u);
            assert_int_equal(info->mats_written, 1u);
            assert_int_equal(info->vecs, 0u);
        } else {
            assert_int_equal(info->mats_read, 1u + (unsigned)info->residual);
            assert_int_equal(info->mats_written,
                             info->linear ? 0u : 1u + (unsigned)info->residual);
            assert_int_equal(info->vecs,
                             (info->norm != NORMKIT_NORM_NONE) + (unsigned)info->beta);
        }
        assert_int_equal(info->beta, info->norm == NORMKIT_NORM_LN);
        if (info->linear)
            continue; /* tests/test_linear.c */

        small_call s;
        small_init(&s);
        assert_int_equal(normkit_args_check(op, NULL), NORMKIT_ERR_NULL);
        assert_int_equal(normkit_args_check(op, &s.a), NORMKIT_OK);
        assert_int_equal(normkit_op_run(op, NULL), NORMKIT_ERR_NULL);
        /* normkit_op_run gives the typed entry point's result, bit for bit */
        assert_int_equal(nk_call_api(op, &s.a), NORMKIT_OK);
        float y_api[16], r_api[16];
        memcpy(y_api, s.y, sizeof y_api);
        memcpy(r_api, s.r, sizeof r_api);
        small_init(&s);
        assert_int_equal(normkit_op_run(op, &s.a), NORMKIT_OK);
        assert_memory_equal(y_api, s.y, sizeof y_api);
        assert_memory_equal(r_api, s.r, sizeof r_api);
        /* and normkit_kernel_call on the active variant with its knobs, too */
        small_init(&s);
        const normkit_kernel *k = normkit_kernel_active(op);
        s.a.kp = &k->params;
        normkit_kernel_call(k, &s.a);
        assert_memory_equal(y_api, s.y, sizeof y_api);
    }
    small_call s;
    small_init(&s);
    assert_int_equal(normkit_args_check(NORMKIT_OP_COUNT, &s.a), NORMKIT_ERR_SHAPE);
    assert_int_equal(normkit_op_run(NORMKIT_OP_COUNT, &s.a), NORMKIT_ERR_SHAPE);
}

static int has_simd(normkit_op op)
{
    size_t n;
    const normkit_kernel *ks = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (ks[i].op == op && ks[i].isa != NORMKIT_ISA_SCALAR)
            return 1;
    return 0;
}

static void test_registry(void **state)
{
    (void)state;
    size_t n;
    const normkit_kernel *ks = normkit_kernel_list(&n);
    assert_true(n >= NORMKIT_OP_COUNT);
    for (size_t i = 0; i < n; i++) {
        /* the name says operator, dtype, ISA and compiled knobs; the knobs as data agree */
        char want[128], knobs[64] = "";
        for (int j = 0; j < NORMKIT_MAX_KNOBS && ks[i].knobs[j].name; j++) {
            size_t used = strlen(knobs);
            snprintf(knobs + used, sizeof knobs - used, "%s%s%u", j ? "_" : "", ks[i].knobs[j].name,
                     ks[i].knobs[j].value);
        }
        assert_string_equal(ks[i].variant, knobs);
        snprintf(want, sizeof want, "normkit_%s_%s__%s%s%s", normkit_op_name(ks[i].op), ks[i].dtype,
                 normkit_isa_name(ks[i].isa), knobs[0] ? "_" : "", knobs);
        assert_string_equal(ks[i].name, want);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ks[j].name, ks[i].name);
        assert_non_null(ks[i].fn.rmsnorm_f32);
        /* an ISA of the build covers every operator that has any SIMD variant (an operator
         * may be scalar-only, e.g. tests/example_op's) */
        for (int op = 0; op < NORMKIT_OP_COUNT; op++)
            if (!normkit_kernels_for(ks[i].isa, (normkit_op)op) && has_simd((normkit_op)op))
                fail_msg("the build has %s variants but none for %s", normkit_isa_name(ks[i].isa),
                         normkit_op_name((normkit_op)op));
        if (i + 1 < n && ks[i + 1].op == ks[i].op)
            assert_int_not_equal(ks[i].isa, NORMKIT_ISA_SCALAR); /* scalar closes each group */
    }
    assert_null(normkit_kernels_for(NORMKIT_ISA_AUTO, normkit_op_rmsnorm));
    assert_null(normkit_kernel_active(NORMKIT_OP_COUNT));
}

/* The dispatcher's default per shape class is the data of kernels/normkit_defaults.inc: for
 * each supported ISA and each line naming a variant of this build, a shape of that class
 * selects exactly that variant, and the class boundaries follow the cache sizes. */
typedef struct {
    const char *op, *isa, *cls, *kernel;
} class_default;
#define NORMKIT_DEFAULT(OP, ISA, CLS, VAR) {#OP, #ISA, #CLS, "normkit_" #OP "_f32__" #ISA #VAR},
static const class_default class_defaults[] = {
#include "normkit_defaults.inc"
};
#undef NORMKIT_DEFAULT

static int in_build(const char *name)
{
    size_t n;
    const normkit_kernel *ks = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ks[i].name, name) == 0)
            return 1;
    return 0;
}

/* A dim that puts rows x dim of op in class cls, by the cache sizes the dispatcher reads. */
static size_t dim_for_class(normkit_op op, int cls, size_t rows)
{
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    const normkit_op_info *info = normkit_op_get(op);
    const size_t mats = info->mats_read + info->mats_written - (info->residual ? 1 : 0);
    const size_t per_dim = 4 * (rows * mats + info->vecs);
    const size_t target = cls / 2 == 0 ? c.bytes[0] / 2 : cls / 2 == 1 ? (c.bytes[0] + c.bytes[1]) / 2
                                                                       : 2 * c.bytes[1];
    return target / per_dim;
}

static void test_shape_classes(void **state)
{
    (void)state;
    size_t checked = 0;
    assert_null(normkit_shape_class_name(NORMKIT_CLASS_COUNT));
    assert_int_equal(normkit_shape_class_of(NORMKIT_OP_COUNT, 1, 1), NORMKIT_CLASS_COUNT);
    assert_null(normkit_kernel_select(NORMKIT_OP_COUNT, 1, 1));
    for (int isa = NORMKIT_ISA_SCALAR; isa < NORMKIT_ISA_COUNT; isa++) {
        if (!normkit_isa_supported((normkit_isa)isa))
            continue;
        assert_int_equal(normkit_isa_force((normkit_isa)isa), NORMKIT_OK);
        for (size_t i = 0; i < sizeof class_defaults / sizeof class_defaults[0]; i++) {
            const class_default *d = &class_defaults[i];
            if (strcmp(d->isa, normkit_isa_name((normkit_isa)isa)) != 0 || !in_build(d->kernel))
                continue;
            const normkit_op op = (normkit_op)normkit_op_from_name(d->op);
            int cls = -1;
            for (int j = 0; j < NORMKIT_CLASS_COUNT; j++)
                if (strcmp(normkit_shape_class_name((normkit_shape_class)j), d->cls) == 0)
                    cls = j;
            assert_true(cls >= 0);
            const size_t rows = cls % 2 ? 2 : 1, dim = dim_for_class(op, cls, rows);
            assert_true(dim >= 1);
            assert_int_equal(normkit_shape_class_of(op, rows, dim), cls);
            const normkit_kernel *k = normkit_kernel_select(op, rows, dim);
            assert_non_null(k);
            assert_string_equal(k->name, d->kernel);
            /* the table's own entry, not only the ISA's first variant */
            const normkit_kernel *t = normkit_kernel_class_default(op, (normkit_isa)isa, cls);
            assert_non_null(t);
            assert_ptr_equal(t, k);
            checked++;
        }
    }
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
    /* the boundaries, from first principles: one RMSNorm row moves x, y and gamma (12 bytes per
     * element), one add & RMSNorm row x, r (once: in place), y and gamma (16), two LayerNorm
     * rows x, y twice and gamma, beta (24) */
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    const size_t l1 = c.bytes[0], l2 = c.bytes[1];
    assert_int_equal(normkit_shape_class_of(normkit_op_rmsnorm, 1, l1 / 12), NORMKIT_CLASS_L1_ROW);
    assert_int_equal(normkit_shape_class_of(normkit_op_rmsnorm, 1, l1 / 12 + 1), NORMKIT_CLASS_L2_ROW);
    assert_int_equal(normkit_shape_class_of(normkit_op_add_rmsnorm, 1, l1 / 16), NORMKIT_CLASS_L1_ROW);
    assert_int_equal(normkit_shape_class_of(normkit_op_add_rmsnorm, 1, l1 / 16 + 1),
                     NORMKIT_CLASS_L2_ROW);
    assert_int_equal(normkit_shape_class_of(normkit_op_layernorm, 2, l2 / 24), NORMKIT_CLASS_L2_ROWS);
    assert_int_equal(normkit_shape_class_of(normkit_op_layernorm, 2, l2 / 24 + 1),
                     NORMKIT_CLASS_MEM_ROWS);
    /* saturation, and the operators classes do not apply to */
    assert_int_equal(normkit_shape_class_of(normkit_op_rmsnorm, SIZE_MAX, SIZE_MAX),
                     NORMKIT_CLASS_MEM_ROWS);
    assert_int_equal(normkit_shape_class_of(normkit_op_rmsnorm, 1, SIZE_MAX), NORMKIT_CLASS_MEM_ROW);
    assert_int_equal(normkit_shape_class_of(normkit_op_linear, 1, 64), NORMKIT_CLASS_COUNT);
    assert_null(normkit_kernel_class_default(normkit_op_rmsnorm, NORMKIT_ISA_COUNT, 0));
    assert_null(normkit_kernel_class_default(normkit_op_linear, NORMKIT_ISA_SCALAR, 0));
    /* operators the table does not name run their ISA's default variant */
    assert_ptr_equal(normkit_kernel_select(normkit_op_linear, 1, 64),
                     normkit_kernel_active(normkit_op_linear));
    print_message("checked %zu shape-class defaults\n", checked);
    assert_true(checked > 0);
}

/* Detection logic, fed feature sets this machine may not have. */
static void test_detection_logic(void **state)
{
    (void)state;
    const uint32_t l1_ecx = (1u << 27) | (1u << 28) | (1u << 12); /* OSXSAVE, AVX, FMA */
    const uint32_t l1_edx = 1u << 26;                             /* SSE2 */
    const uint32_t l7_ebx = (1u << 5) | (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    const uint32_t avx2 = 1u << NORMKIT_ISA_AVX2, avx512 = 1u << NORMKIT_ISA_AVX512;

    uint32_t m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx, l1_edx, l7_ebx, 0, 0, 0xe7));
    assert_true((m & avx2) && (m & avx512));
    /* The OS saves YMM but not ZMM/opmask state: AVX-512 must not be used. */
    m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx, l1_edx, l7_ebx, 0, 0, 0x07));
    assert_true((m & avx2) && !(m & avx512));
    /* No OS support for AVX state at all: scalar only. */
    m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx, l1_edx, l7_ebx, 0, 0, 0x03));
    assert_int_equal(m, 1u << NORMKIT_ISA_SCALAR);
    /* OSXSAVE clear: XCR0 cannot be trusted, even if it reads as full. */
    m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx & ~(1u << 27), l1_edx, l7_ebx, 0, 0, 0xe7));
    assert_int_equal(m, 1u << NORMKIT_ISA_SCALAR);
    /* AVX2 without FMA is not our avx2; AVX-512 F without BW is not our avx512. */
    m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx & ~(1u << 12), l1_edx, l7_ebx, 0, 0, 0xe7));
    assert_false(m & (avx2 | avx512));
    m = normkit_cpu_isa_mask(normkit_cpu_x86_features(l1_ecx, l1_edx, l7_ebx & ~(1u << 30), 0, 0, 0xe7));
    assert_true((m & avx2) && !(m & avx512));
    /* Arm: SVE only counts with AdvSIMD. */
    m = normkit_cpu_isa_mask(1u << NORMKIT_CPU_ASIMD);
    assert_int_equal(m, (1u << NORMKIT_ISA_SCALAR) | (1u << NORMKIT_ISA_NEON));
}

/* This machine's detection agrees with the compiler runtime's own (which also checks XCR0). */
static void test_detection_matches_libgcc(void **state)
{
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const uint32_t m = normkit_cpu_isa_mask(normkit_cpu_get()->features);
    const int gcc_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int gcc_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    assert_int_equal(!!(m & (1u << NORMKIT_ISA_AVX2)), gcc_avx2);
    assert_int_equal(!!(m & (1u << NORMKIT_ISA_AVX512)), gcc_avx512);
#elif defined(__aarch64__) && defined(__linux__)
    /* The independent detector is the CPU itself: a child runs one SVE instruction (RDVL,
     * encoded so no +sve flag is needed) and dies with SIGILL exactly when SVE is missing.
     * AdvSIMD is in every AArch64 Linux system. Under qemu-user this tests both ways, with
     * the default CPU ('max', SVE) and QEMU_CPU=cortex-a53 (no SVE). */
    const uint32_t f = normkit_cpu_get()->features;
    assert_true(f & (1u << NORMKIT_CPU_ASIMD));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGILL, SIG_DFL); /* cmocka's handler would catch it */
        __asm__ volatile(".inst 0x04bf5020" ::: "x0"); /* rdvl x0, #1 */
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    const int cpu_sve = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    assert_true(cpu_sve || (WIFSIGNALED(st) && WTERMSIG(st) == SIGILL));
    assert_int_equal(!!(f & (1u << NORMKIT_CPU_SVE)), cpu_sve);
#else
    print_message("[  SKIP    ] no independent detector on this architecture\n");
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_isa), /* first: nothing forced yet */
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_epilogue_arguments),
        cmocka_unit_test(test_dispatched_results),
        cmocka_unit_test(test_force),
        cmocka_unit_test(test_dispatched_results), /* again, after forcing back to auto */
        cmocka_unit_test(test_operator_table),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_shape_classes),
        cmocka_unit_test(test_detection_logic),
        cmocka_unit_test(test_detection_matches_libgcc),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
