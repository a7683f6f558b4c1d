/*
 * The elementwise operators (gelu, silu, add, mul): every variant in the registry x every case
 * below, against the float64 references of tests/reference.c with the bounds of
 * docs/numerics.md ("Activations", restated in harness.h: nk_act_bound); then their public
 * entry points' statuses. Variants whose ISA this CPU (or OS) cannot run are reported as
 * skipped, by name. Nothing here lists a kernel by hand: the variants are those of the
 * operators whose table line says elementwise.
 *
 * The sweep visits float bit patterns: every STEP-th one in [-100, 100] (both signs), every
 * WIDE_STEP-th one over all finite floats (subnormals to FLT_MAX), and a list of edge values.
 * NK_ACT_SWEEP_STEP=<n> in the environment sets STEP (1: every float in [-100, 100]; the
 * exhaustive run docs/numerics.md reports).
 *
 * test_act [ISA]: every variant, or only ISA's (the public entry points' tests run in both
 * cases, on whatever NORMKIT_ISA selects). NK_SHAPES=quick (harness.h; tests/valgrind.sh)
 * drops, besides the model-sized dims of nk_dims, most of the sweep: STEP becomes QUICK_STEP
 * (~35k values in [-100, 100] instead of ~2.2M; the wide sweep and the edge values stay, so the
 * rows still fill several full chunk rows and a wrapped last one). NK_ACT_SWEEP_STEP still wins.
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
#include "reference.h"

#define SEED 0x61637469766174ull /* "activat" */

enum {
    STEP = 1009,       /* default stride through the bit patterns of [-100, 100]: ~2.2M floats */
    QUICK_STEP = 64 * 1009, /* NK_SHAPES=quick: ~35k floats */
    WIDE_STEP = 65521, /* over every finite float: ~65k more, from subnormals to FLT_MAX */
    SWEEP_DIM = 4099,  /* the sweep's row length: odd, so every variant runs its tail code */
    SWEEP_ROWS = 64,
};

static int is_act(normkit_op op)
{
    return nk_op_is_elementwise(op) && !nk_op_has_second_input(op);
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* ---- one call on matrices with canaries ---- */

typedef struct {
    size_t rows, dim, ldx, ldr, ldy;
    size_t offx, offr, offy; /* misalignment, in floats, from a 64-byte boundary */
    int inplace;             /* 1: y == x; 2: y == r (add, mul) */
    float lo, hi;            /* x and r uniform in [lo, hi) */
    int null_kp;             /* pass kp == NULL (kernels must accept it) */
} act_case;

static int run_case(const normkit_kernel *k, const act_case *c, nk_rng *rng, char *msg,
                    size_t msglen)
{
    const int bin = nk_op_has_second_input(k->op);
    nk_mat x, r = {0}, y = {0};
    nk_mat_alloc(&x, c->rows, c->dim, c->ldx, c->offx);
    nk_mat_fill(&x, rng, c->lo, c->hi);
    if (bin) {
        nk_mat_alloc(&r, c->rows, c->dim, c->ldr, c->offr);
        nk_mat_fill(&r, rng, c->lo, c->hi);
    }
    if (!c->inplace)
        nk_mat_alloc(&y, c->rows, c->dim, c->ldy, c->offy);
    float *x_in = nk_mat_copy(&x), *r_in = bin ? nk_mat_copy(&r) : NULL;
    nk_mat *out = c->inplace == 1 ? &x : c->inplace == 2 ? &r : &y;
    nk_args a = {.rows = c->rows, .dim = c->dim, .x = x.m, .ldx = c->ldx,
                 .r = bin ? r.m : NULL, .ldr = c->ldr, .y = out->m, .ldy = out->ld};
    nk_call_kernel_kp(k, &a, c->null_kp ? NULL : &k->params);

    int ok = nk_check(k->op, &a, x_in, c->dim, r_in, c->dim, msg, msglen);
    if (ok && !nk_mat_canaries_ok(out)) {
        snprintf(msg, msglen, "y: a write outside the rows (stride gap, before or past the end)");
        ok = 0;
    }
    /* the inputs that are not y are untouched */
    for (int which = 0; which < 1 + bin && ok; which++) {
        nk_mat *in = which ? &r : &x;
        if (in == out)
            continue;
        float *after = nk_mat_copy(in);
        if (memcmp(after, which ? r_in : x_in, c->rows * c->dim * sizeof(float)) != 0 ||
            !nk_mat_canaries_ok(in)) {
            snprintf(msg, msglen, "%s (an input) was modified", which ? "r" : "x");
            ok = 0;
        }
        free(after);
    }
    free(x_in);
    free(r_in);
    nk_mat_free(&x);
    if (bin)
        nk_mat_free(&r);
    if (!c->inplace)
        nk_mat_free(&y);
    return ok;
}

static void expect_case(const normkit_kernel *k, const char *what, const act_case *c, nk_rng *rng)
{
    char msg[512];
    if (!run_case(k, c, rng, msg, sizeof msg))
        fail_msg("%s, %s: rows %zu dim %zu ldx %zu ldr %zu ldy %zu offsets %zu/%zu/%zu "
                 "in-place %d inputs [%g, %g) (seed %#llx): %s",
                 k->name, what, c->rows, c->dim, c->ldx, c->ldr, c->ldy, c->offx, c->offr,
                 c->offy, c->inplace, (double)c->lo, (double)c->hi, (unsigned long long)SEED, msg);
}

static act_case dense(size_t rows, size_t dim)
{
    return (act_case){.rows = rows, .dim = dim, .ldx = dim, .ldr = dim, .ldy = dim,
                      .lo = -8.0f, .hi = 8.0f};
}

/* ---- the cases ---- */

/* Every dim (1..67, powers of two and neighbours, 768..8192) at several row counts. */
static void test_shapes(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    static const size_t row_counts[] = {1, 2, 3, 5};
    nk_rng rng = {SEED};
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
            act_case c = dense(row_counts[ri], nk_dims[d]);
            c.null_kp = (d + ri) % 4 == 0;
            expect_case(k, "shapes", &c, &rng);
        }
}

/* Strides above dim and pointers 1-3 floats off a 64-byte boundary, varied with the dim's
 * index so that every combination of remainders shows up. */
static void test_strides_unaligned(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 1};
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t rows = 1; rows <= 5; rows += 2) {
            const size_t dim = nk_dims[d];
            act_case c = dense(rows, dim);
            c.ldx = dim + 1 + d % 3, c.ldr = dim + 2, c.ldy = dim + 3 + d % 5;
            c.offx = 1 + d % 3, c.offr = 1 + (d + 1) % 3, c.offy = 1 + (d + 2) % 3;
            expect_case(k, "strides+unaligned", &c, &rng);
        }
}

/* y == x (and y == r for add and mul) with the same stride, above dim for several rows. */
static void test_inplace(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    nk_rng rng = {SEED + 2};
    for (int which = 1; which <= (nk_op_has_second_input(k->op) ? 2 : 1); which++)
        for (size_t d = 0; d < nk_ndims; d++)
            for (size_t rows = 1; rows <= 3; rows += 2) {
                act_case c = dense(rows, nk_dims[d]);
                c.inplace = which;
                c.ldx = c.ldr = nk_dims[d] + (rows > 1 ? 2 : 0);
                c.offx = d % 4, c.offr = (d + 1) % 4;
                expect_case(k, which == 1 ? "in place, y == x" : "in place, y == r", &c, &rng);
            }
}

/* Every array ends (or starts) at an unmapped page: an access past the row faults. */
static void guard_run(const normkit_kernel *k, int at_start)
{
    nk_rng rng = {SEED + 3 + (uint64_t)at_start};
    const int bin = nk_op_has_second_input(k->op);
    for (size_t d = 0; d < nk_ndims; d++)
        for (size_t rows = 1; rows <= 2; rows++) {
            const size_t dim = nk_dims[d], ld = rows > 1 ? dim + 3 : dim;
            const size_t len = (rows - 1) * ld + dim;
            nk_guard gx, gr, gy;
            float *x = nk_guarded(len, at_start, &gx), *r = nk_guarded(len, at_start, &gr);
            float *y = nk_guarded(len, at_start, &gy);
            for (size_t i = 0; i < len; i++) {
                x[i] = nk_rng_uniform(&rng, -8.0f, 8.0f);
                r[i] = nk_rng_uniform(&rng, -8.0f, 8.0f);
            }
            float *x_in = malloc(len * sizeof *x_in), *r_in = malloc(len * sizeof *r_in);
            memcpy(x_in, x, len * sizeof *x);
            memcpy(r_in, r, len * sizeof *r);
            nk_args a = {.rows = rows, .dim = dim, .x = x, .ldx = ld, .r = r, .ldr = ld,
                         .y = y, .ldy = ld};
            char msg[512];
            nk_call_kernel(k, &a);
            if (!nk_check(k->op, &a, x_in, ld, r_in, ld, msg, sizeof msg))
                fail_msg("%s: guarded rows (%s), dim %zu, rows %zu: %s", k->name,
                         at_start ? "before" : "after", dim, rows, msg);
            a.y = x; /* in place */
            nk_call_kernel(k, &a);
            if (!nk_check(k->op, &a, x_in, ld, r_in, ld, msg, sizeof msg))
                fail_msg("%s: guarded rows in place (y == x), dim %zu, rows %zu: %s", k->name,
                         dim, rows, msg);
            if (bin) {
                memcpy(x, x_in, len * sizeof *x);
                a.y = r;
                nk_call_kernel(k, &a);
                if (!nk_check(k->op, &a, x_in, ld, r_in, ld, msg, sizeof msg))
                    fail_msg("%s: guarded rows in place (y == r), dim %zu, rows %zu: %s",
                             k->name, dim, rows, msg);
            }
            free(x_in);
            free(r_in);
            nk_guard_free(&gx);
            nk_guard_free(&gr);
            nk_guard_free(&gy);
        }
}

static void test_guard_end(void **state) { guard_run(nk_kernel_or_skip(state), 0); }
static void test_guard_start(void **state) { guard_run(nk_kernel_or_skip(state), 1); }

/* ---- the sweep ---- */

/* Edge values: zeros, the subnormal and normal extremes, the limits of the intermediates
 * (GELU's erfc and SiLU's exp go subnormal near -13.0 and -87.3, and to 0 near -14.2 and
 * -103.9), large magnitudes, infinities and NaNs (quiet, with a payload, negative). */
static size_t edge_values(float *out)
{
    static const float pos[] = {0.0f, 0x1p-149f, 0x1p-148f, 3e-45f, 0x1.fffffcp-127f, 0x1p-126f,
                                0x1.000002p-126f, 1e-30f, 1e-10f, 0x1p-24f, 0.5f, 1.0f, 2.0f,
                                0.70710677f, 3.0f, 5.5f, 9.0f, 13.0f, 13.2f, 13.25f, 14.0f, 14.2f,
                                15.0f, 20.0f, 87.0f, 87.33f, 87.4f, 100.0f, 103.9f, 104.0f,
                                1e4f, 1e10f, 1e30f, 0x1p127f, 3e38f, FLT_MAX, INFINITY};
    size_t n = 0;
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        out[n++] = pos[i];
        out[n++] = -pos[i];
    }
    out[n++] = NAN;
    out[n++] = -NAN;
    out[n++] = from_bits(0x7fc01234u);
    out[n++] = from_bits(0xffa00001u); /* a signalling NaN's pattern (quieted by arithmetic) */
    return n;
}

/* The sweep, generated on the fly (step 1 is 2.2 billion values): every step-th bit pattern of
 * [0, 100] and every WIDE_STEP-th one of (0, FLT_MAX], each with both signs, then the edges. */
typedef struct {
    size_t step, n1, n2, ne, count;
    float edges[128];
} sweep;

static void sweep_init(sweep *w, int from_env)
{
    w->step = nk_quick() ? QUICK_STEP : STEP;
    const char *env = from_env ? getenv("NK_ACT_SWEEP_STEP") : NULL;
    if (env && *env && strtoull(env, NULL, 10) > 0)
        w->step = (size_t)strtoull(env, NULL, 10);
    w->n1 = to_bits(100.0f) / w->step + 1;
    w->n2 = (to_bits(FLT_MAX) - 1) / WIDE_STEP + 1;
    w->ne = edge_values(w->edges);
    w->count = 2 * w->n1 + 2 * w->n2 + w->ne;
}

static float sweep_value(const sweep *w, size_t i)
{
    const uint32_t sign = (uint32_t)(i & 1) << 31;
    if (i < 2 * w->n1)
        return from_bits((uint32_t)(i / 2 * w->step) | sign);
    i -= 2 * w->n1;
    if (i < 2 * w->n2)
        return from_bits((uint32_t)(1 + i / 2 * WIDE_STEP) | sign);
    return w->edges[i - 2 * w->n2];
}

/* The activations: every sweep value, in rows of SWEEP_DIM (so values also land in tail
 * lanes), within nk_act_bound of the float64 reference; NaN for NaN, +Inf for +Inf, -0.0 for
 * -Inf (bit for bit), and y's sign is x's. The largest errors seen, relative (in u, where the
 * bound is relative) and absolute (in 2^-149 (1 + |x|), elsewhere), are printed. */
static void act_sweep(const normkit_kernel *k)
{
    sweep w;
    sweep_init(&w, 1);
    const size_t chunk = (size_t)SWEEP_DIM * SWEEP_ROWS;
    float *x = malloc(chunk * sizeof *x), *y = malloc(chunk * sizeof *y);
    if (!x || !y)
        abort();
    double worst_rel = 0.0, worst_abs = 0.0;
    float at_rel = 0.0f, at_abs = 0.0f;
    for (size_t start = 0; start < w.count; start += chunk) {
        const size_t n = w.count - start < chunk ? w.count - start : chunk;
        const size_t rows = (n + SWEEP_DIM - 1) / SWEEP_DIM;
        for (size_t i = 0; i < rows * SWEEP_DIM; i++)
            x[i] = sweep_value(&w, start + i % n); /* a short last row wraps around */
        nk_args a = {.rows = rows, .dim = SWEEP_DIM, .x = x, .ldx = SWEEP_DIM, .y = y,
                     .ldy = SWEEP_DIM};
        nk_call_kernel(k, &a);
        for (size_t i = 0; i < rows * SWEEP_DIM; i++) {
            const float xi = x[i], yi = y[i];
            const double ref = k->op == normkit_op_gelu ? ref_gelu(xi) : ref_silu(xi);
            if (isnan(xi) || isinf(xi)) {
                const float want = isnan(xi) ? NAN : xi > 0 ? INFINITY : -0.0f;
                if (isnan(xi) ? !isnan(yi) : to_bits(yi) != to_bits(want))
                    fail_msg("%s: x = %a gives %a, want %a", k->name, (double)xi, (double)yi,
                             (double)want);
                continue;
            }
            if (isnan(yi) || signbit(yi) != signbit(xi))
                fail_msg("%s: x = %a gives %a: NaN or the wrong sign (reference %.17g)", k->name,
                         (double)xi, (double)yi, ref);
            const double err = fabs((double)yi - ref), bound = nk_act_bound(k->op, xi, ref);
            if (!(err <= bound))
                fail_msg("%s: x = %a gives %a, reference %.17g: error %.3g exceeds the bound "
                         "%.3g (sweep step %zu)", k->name, (double)xi, (double)yi, ref, err,
                         bound, w.step);
            if (nk_act_relative(k->op, xi, ref)) {
                if (err / fabs(ref) * 0x1p24 > worst_rel)
                    worst_rel = err / fabs(ref) * 0x1p24, at_rel = xi;
            } else if (err / (0x1p-149 * (1.0 + fabs((double)xi))) > worst_abs) {
                worst_abs = err / (0x1p-149 * (1.0 + fabs((double)xi)));
                at_abs = xi;
            }
        }
    }
    print_message("[  INFO    ] %s: %zu values (step %zu); largest error %.3f u relative "
                  "(x = %a), %.3f * 2^-149 (1 + |x|) absolute (x = %a)\n",
                  k->name, w.count, w.step, worst_rel, (double)at_rel, worst_abs,
                  (double)at_abs);
    free(x);
    free(y);
}

/* add and mul: every pair of edge values, and the sweep values (default step) against a
 * shuffled, rescaled copy of themselves: the correctly rounded float, bit for bit (any NaN
 * for NaN). */
static void binary_sweep(const normkit_kernel *k)
{
    sweep w;
    sweep_init(&w, 0);
    const size_t ne = w.ne, dim = SWEEP_DIM, rows = w.count / dim;
    const size_t n = ne * ne > rows * dim ? ne * ne : rows * dim;
    float *x = malloc(n * sizeof *x), *r = malloc(n * sizeof *r), *y = malloc(n * sizeof *y);
    if (!x || !r || !y)
        abort();
    for (size_t i = 0; i < ne * ne; i++)
        x[i] = w.edges[i / ne], r[i] = w.edges[i % ne];
    char msg[512];
    nk_args a = {.rows = ne, .dim = ne, .x = x, .ldx = ne, .r = r, .ldr = ne, .y = y, .ldy = ne};
    nk_call_kernel(k, &a);
    if (!nk_check(k->op, &a, x, ne, r, ne, msg, sizeof msg))
        fail_msg("%s: edge pairs: %s", k->name, msg);
    nk_rng rng = {SEED + 5};
    for (size_t i = 0; i < rows * dim; i++) {
        x[i] = sweep_value(&w, i);
        r[i] = sweep_value(&w, nk_rng_next(&rng) % w.count) * nk_rng_uniform(&rng, 0.5f, 2.0f);
    }
    a = (nk_args){.rows = rows, .dim = dim, .x = x, .ldx = dim, .r = r, .ldr = dim, .y = y,
                  .ldy = dim};
    nk_call_kernel(k, &a);
    if (!nk_check(k->op, &a, x, dim, r, dim, msg, sizeof msg))
        fail_msg("%s: sweep: %s", k->name, msg);
    free(x);
    free(r);
    free(y);
}

static void test_sweep(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    if (is_act(k->op))
        act_sweep(k);
    else
        binary_sweep(k);
}

/* Each edge value at every position of rows 1..67 long and of 4097: row s holds edge value
 * (i + s) mod ne at position i (r: another rotation), so over ne rows every value visits every
 * lane, the masks' and tails' included. Each lane is checked on its own, so a NaN or Inf must
 * not leak into its neighbours. */
static void test_edges_every_lane(void **state)
{
    const normkit_kernel *k = nk_kernel_or_skip(state);
    float e[128];
    const size_t ne = edge_values(e);
    for (size_t dim = 1; dim <= 68; dim++) {
        const size_t n = dim == 68 ? 4097 : dim; /* 68 stands for one long row */
        float *x = malloc(ne * n * sizeof *x), *r = malloc(ne * n * sizeof *r);
        float *y = malloc(ne * n * sizeof *y);
        if (!x || !r || !y)
            abort();
        for (size_t row = 0; row < ne; row++)
            for (size_t i = 0; i < n; i++) {
                x[row * n + i] = e[(i + row) % ne];
                r[row * n + i] = e[(3 * i + 5 * row + 1) % ne];
            }
        nk_args a = {.rows = ne, .dim = n, .x = x, .ldx = n, .r = r, .ldr = n, .y = y, .ldy = n};
        nk_call_kernel(k, &a);
        char msg[512];
        if (!nk_check(k->op, &a, x, n, r, n, msg, sizeof msg))
            fail_msg("%s: edge values in every lane, dim %zu: %s", k->name, n, msg);
        free(x);
        free(r);
        free(y);
    }
}

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} cases[] = {
    {"shapes", test_shapes},
    {"strides+unaligned", test_strides_unaligned},
    {"in-place", test_inplace},
    {"guard page after", test_guard_end},
    {"guard page before", test_guard_start},
    {"sweep against float64", test_sweep},
    {"edge values in every lane", test_edges_every_lane},
};

/* ---- the public entry points ---- */

typedef struct {
    float x[2 * 8], r[2 * 8], y[2 * 8];
    nk_args a;
} small_call;

static void small_init(small_call *s)
{
    for (int i = 0; i < 16; i++) {
        s->x[i] = (float)i - 5.5f;
        s->r[i] = 0.25f * (float)i - 1.0f;
        s->y[i] = -777.0f;
    }
    s->a = (nk_args){.rows = 2, .dim = 8, .x = s->x, .ldx = 8, .r = s->r, .ldr = 8, .y = s->y,
                     .ldy = 8};
}

/* The call fails with `want` and writes nothing (y, x and r keep their values). */
static void expect_status(normkit_op op, small_call *s, normkit_status want, const char *what)
{
    small_call before = *s;
    const normkit_status got = nk_call_api(op, &s->a);
    if (got != want)
        fail_msg("normkit_%s_f32 with %s: got \"%s\", want \"%s\"", normkit_op_name(op), what,
                 normkit_status_str(got), normkit_status_str(want));
    if (want != NORMKIT_OK && (memcmp(before.x, s->x, sizeof s->x) != 0 ||
                               memcmp(before.r, s->r, sizeof s->r) != 0 ||
                               memcmp(before.y, s->y, sizeof s->y) != 0))
        fail_msg("normkit_%s_f32 with %s: a rejected call wrote memory", normkit_op_name(op),
                 what);
}

/* p, a pointer into `from`, moved to the same place in `to` (NULL stays NULL). */
static const float *same_place(const small_call *from, const small_call *to, const float *p)
{
    return p ? (const float *)((const char *)to + ((const char *)p - (const char *)from)) : NULL;
}

/* An accepted call: the status, then the result against the reference (inputs as before). */
static void expect_ok(normkit_op op, small_call *s, const char *what)
{
    const small_call before = *s;
    expect_status(op, s, NORMKIT_OK, what);
    char msg[512];
    if (!nk_check(op, &s->a, same_place(s, &before, s->a.x), s->a.ldx,
                  same_place(s, &before, s->a.r), s->a.ldr, msg, sizeof msg))
        fail_msg("normkit_%s_f32 with %s: %s", normkit_op_name(op), what, msg);
}

static void test_api_statuses(void **state)
{
    (void)state;
    int seen = 0;
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        const normkit_op op = (normkit_op)o;
        if (!nk_op_is_elementwise(op))
            continue;
        seen++;
        const int bin = nk_op_has_second_input(op);
        small_call s;
        small_init(&s); expect_ok(op, &s, "a valid call");
        small_init(&s);
        s.a = (nk_args){.rows = 0};
        expect_status(op, &s, NORMKIT_OK, "rows == 0 and everything else NULL or 0");
        small_init(&s); s.a.x = NULL; expect_status(op, &s, NORMKIT_ERR_NULL, "x == NULL");
        small_init(&s); s.a.y = NULL; expect_status(op, &s, NORMKIT_ERR_NULL, "y == NULL");
        small_init(&s); s.a.dim = 0;  expect_status(op, &s, NORMKIT_ERR_SHAPE, "dim == 0");
        small_init(&s); s.a.ldx = 7;  expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldx < dim");
        small_init(&s); s.a.ldy = 7;  expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldy < dim");
        small_init(&s); s.a.rows = SIZE_MAX / 4;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "rows * ldx beyond the address space");
        small_init(&s); s.a.rows = 1; s.a.dim = s.a.ldx = s.a.ldr = s.a.ldy = SIZE_MAX / 2;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "a row longer than the address space");
        if (bin) {
            small_init(&s); s.a.r = NULL; expect_status(op, &s, NORMKIT_ERR_NULL, "r == NULL");
            small_init(&s); s.a.ldr = 7;  expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldr < dim");
            small_init(&s); s.a.ldx = 7;  s.a.ldr = 0;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "ldx and ldr < dim");
        } else {
            /* gelu and silu take no r: whatever the struct holds there is not looked at */
            small_init(&s); s.a.r = NULL; s.a.ldr = 0;
            expect_ok(op, &s, "r NULL (not an argument)");
        }
        /* in place: y == x, same stride, several rows; one row, any stride */
        small_init(&s); s.a.y = s.x; expect_ok(op, &s, "y == x");
        small_init(&s); s.a.y = s.x; s.a.rows = 1; s.a.ldy = 9; s.a.dim = 7;
        expect_ok(op, &s, "y == x, one row, another stride");
        small_init(&s); s.a.y = s.x; s.a.dim = 7; s.a.ldx = 7; s.a.ldy = 8;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "y == x with another stride over 2 rows");
        small_init(&s); s.a.y = s.x + 1; s.a.dim = 7;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "y one float past x (partial overlap)");
        small_init(&s); s.a.y = s.x + 4; s.a.dim = 4;
        expect_status(op, &s, NORMKIT_ERR_SHAPE, "y in x's stride gaps");
        small_init(&s); s.a.y = s.x + 12; s.a.rows = 1; s.a.dim = 4; s.a.ldx = 8;
        s.a.x = s.x + 8; /* x = [8, 12), y = [12, 16): adjacent, no overlap */
        expect_ok(op, &s, "y right after x");
        if (bin) {
            small_init(&s); s.a.y = s.r; expect_ok(op, &s, "y == r");
            small_init(&s); s.a.y = s.r; s.a.dim = 7; s.a.ldr = 7; s.a.ldy = 8;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "y == r with another stride over 2 rows");
            small_init(&s); s.a.y = s.r + 3; s.a.dim = 5;
            expect_status(op, &s, NORMKIT_ERR_SHAPE, "y overlapping r");
            small_init(&s); s.a.r = s.x; s.a.ldr = s.a.ldx;
            expect_ok(op, &s, "r == x (inputs may overlap)");
            small_init(&s); s.a.r = s.x; s.a.y = s.x;
            expect_ok(op, &s, "r == x == y");
            small_init(&s); s.a.r = s.x + 1; s.a.dim = 7;
            expect_ok(op, &s, "r overlapping x partially (inputs may overlap)");
        }
    }
    assert_int_equal(seen, 4); /* gelu, silu, add, mul */
}

/* The typed entry points by name, as a user calls them (nk_call_api reaches them through the
 * operator table): in place, and the documented edge values. */
static void test_api_by_name(void **state)
{
    (void)state;
    float x[5] = {-INFINITY, INFINITY, NAN, -0.0f, 1.0f}, y[5];
    assert_int_equal(normkit_gelu_f32(1, 5, x, 5, y, 5), NORMKIT_OK);
    assert_true(y[0] == 0.0f && signbit(y[0]) && y[1] == INFINITY && isnan(y[2]));
    assert_true(y[3] == 0.0f && signbit(y[3]));
    assert_true(fabs(y[4] - 0.8413447460685429) < 1e-6);
    assert_int_equal(normkit_silu_f32(1, 5, x, 5, y, 5), NORMKIT_OK);
    assert_true(y[0] == 0.0f && signbit(y[0]) && y[1] == INFINITY && isnan(y[2]));
    assert_true(y[3] == 0.0f && signbit(y[3]));
    assert_true(fabs(y[4] - 0.7310585786300049) < 1e-6);
    float a[4] = {1, 2, 3, 4}, b[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    assert_int_equal(normkit_add_f32(2, 2, a, 2, b, 2, a, 2), NORMKIT_OK); /* in place */
    assert_true(a[0] == 1.5f && a[3] == 4.5f);
    assert_int_equal(normkit_mul_f32(2, 2, a, 2, b, 2, b, 2), NORMKIT_OK); /* y == r */
    assert_true(b[0] == 0.75f && b[3] == 2.25f);
    assert_int_equal(normkit_mul_f32(1, 2, a, 2, NULL, 2, y, 2), NORMKIT_ERR_NULL);
    assert_int_equal(normkit_gelu_f32(0, 0, NULL, 0, NULL, 0), NORMKIT_OK);
    assert_int_equal(normkit_silu_f32(1, 4, a, 4, a + 1, 4), NORMKIT_ERR_SHAPE);
}

/* test_act [ISA]: every elementwise variant, or only ISA's; the entry points' tests either way. */
int main(int argc, char **argv)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    const int only = nk_test_isa_arg(argc, argv);
    const size_t ncases = sizeof cases / sizeof cases[0];
    struct CMUnitTest *tests = calloc(nk * ncases + 2, sizeof *tests);
    char (*names)[160] = calloc(nk * ncases, sizeof *names);
    size_t t = 0;
    for (size_t i = 0; i < nk; i++) {
        if (!nk_op_is_elementwise(ks[i].op))
            continue; /* tests/test_kernels.c, tests/test_linear.c */
        if (only >= 0 && ks[i].isa != (normkit_isa)only)
            continue;
        for (size_t c = 0; c < ncases; c++) {
            snprintf(names[t], sizeof names[t], "%s: %s", ks[i].name, cases[c].name);
            tests[t] = (struct CMUnitTest){.name = names[t], .test_func = cases[c].fn,
                                           .initial_state = (void *)&ks[i]};
            t++;
        }
    }
    tests[t++] = (struct CMUnitTest){.name = "public entry points: statuses and overlaps",
                                     .test_func = test_api_statuses};
    tests[t++] = (struct CMUnitTest){.name = "public entry points by name: edge values, in place",
                                     .test_func = test_api_by_name};
    int failed = _cmocka_run_group_tests("act", tests, t, NULL, NULL);
    free(tests);
    free(names);
    return nk_isa_exit(only, failed);
}
