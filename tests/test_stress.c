/*
 * Concurrency stress: worker threads call every operator's public entry point over and over
 * while one thread forces ISAs back and forth (normkit_isa_force) and another swaps tuning
 * files in and out (normkit_tuning_load: a file that changes the variant and the knobs of
 * every class of every ISA, the built-in defaults, and a bad file that must change nothing).
 *
 * Every result must be bit-identical to what one whole configuration gives: before the
 * threads start, each operator runs once single-threaded under every (supported ISA, tuning)
 * pair, and each result during the stress must equal one of those (all outputs, y and r,
 * compared as bits). A call that mixed two tunings' variant and knobs, or read a half-published
 * state, would show up as a result outside the set (or as a crash, or a ThreadSanitizer report:
 * CI runs this under TSan). The blocks (include/normkit_block.h) are immutable objects used
 * through the same entry points and are covered by tests/test_block.c's threads.
 *
 * Usage: test_stress [ROUNDS] (default 1000 rounds of every operator per worker).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu.h"
#include "harness.h"

#define WORKERS 4
#define NTUNINGS 2 /* the built-in defaults, the test's file */

/* norms and elementwise: 3 x 257 (a few rows, a tail on every vector width); linear: 5 x 600
 * into 37 outputs (600 > the file's lin_kc of 256, so the K blocking changes the sums) */
#define ROWS 3
#define DIM 257
#define LROWS 5
#define LDIM 600
#define LN 37

static int rounds = 1000;
static char tuning_file[64];
static int ntunings = NTUNINGS; /* 1 in a build without cJSON (-Dtuning=disabled) */

typedef struct {
    normkit_args a;   /* the call (y and r point at the calling thread's own copies) */
    size_t ylen, rlen; /* floats of y and r (0: no r) */
    const float *r0;  /* r's input */
    size_t nres;      /* results[0..nres): distinct (y, r) outputs of the configurations */
    float *res[NORMKIT_ISA_COUNT * NTUNINGS];
} op_case;

static op_case cases[NORMKIT_OP_COUNT];
static normkit_isa isas[NORMKIT_ISA_COUNT];
static int nisas;

static atomic_int stop;
static atomic_long loads_ok, forces;

static float *filled(nk_rng *rng, size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = nk_rng_uniform(rng, lo, hi);
    return p;
}

/* A tuning file for this machine: for every norm operator, ISA and class the ISA's last
 * registered variant with non-default knobs; for the linear operators other blockings. */
static void write_tuning_file(void)
{
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    char cpu[256];
    size_t j = 0;
    for (const char *p = normkit_cpu_get()->model; *p && j + 2 < sizeof cpu; p++) {
        if (*p == '"' || *p == '\\')
            cpu[j++] = '\\';
        cpu[j++] = *p;
    }
    cpu[j] = 0;
    strcpy(tuning_file, "/tmp/nk-stress-XXXXXX");
    const int fd = mkstemp(tuning_file);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"format\": \"normkit-tuning\", \"version\": 1, \"machine\": {\"cpu\": \"%s\", "
            "\"l1d_bytes\": %zu, \"l2_bytes\": %zu}, \"kernels\": [",
            cpu, c.bytes[0], c.bytes[1]);
    const char *sep = "";
    for (int isa = 0; isa < NORMKIT_ISA_COUNT; isa++)
        for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
            const normkit_op_info *info = normkit_op_get((normkit_op)op);
            if (info->elementwise || !normkit_kernels_for((normkit_isa)isa, (normkit_op)op))
                continue;
            if (info->linear) {
                fprintf(f,
                        "%s{\"op\": \"%s\", \"isa\": \"%s\", \"class\": \"all\", \"variant\": "
                        "\"\", \"params\": {\"lin_kc\": 256, \"lin_mc\": 16, \"lin_prefetch\": "
                        "64, \"lin_pack_rows\": 0}}",
                        sep, info->name, normkit_isa_name((normkit_isa)isa));
                sep = ", ";
                continue;
            }
            size_t n;
            const normkit_kernel *k = normkit_kernel_list(&n), *last = NULL;
            for (size_t i = 0; i < n; i++)
                if (k[i].op == (normkit_op)op && k[i].isa == (normkit_isa)isa)
                    last = &k[i];
            for (int cls = 0; cls < NORMKIT_CLASS_COUNT; cls++) {
                fprintf(f,
                        "%s{\"op\": \"%s\", \"isa\": \"%s\", \"class\": \"%s\", \"variant\": "
                        "\"%s\", \"params\": {\"nt_min_bytes\": 0, \"dram_min_bytes\": 0}}",
                        sep, info->name, normkit_isa_name((normkit_isa)isa),
                        normkit_shape_class_name((normkit_shape_class)cls), last->variant);
                sep = ", ";
            }
        }
    fprintf(f, "]}\n");
    assert_int_equal(fclose(f), 0);
}

static void set_tuning(int t)
{
    char err[512];
    assert_int_equal(normkit_tuning_load(t ? tuning_file : NULL, err, sizeof err), 0);
}

/* Runs case c with its own y (and r) copies; NORMKIT_OK or the status. */
static normkit_status run_case(int op, float *y, float *r)
{
    normkit_args a = cases[op].a;
    a.y = y;
    if (cases[op].rlen) {
        memcpy(r, cases[op].r0, cases[op].rlen * sizeof *r);
        a.r = r;
    }
    return nk_call_api((normkit_op)op, &a);
}

static void setup_cases(void)
{
    nk_rng rng = {20261203};
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_op_info *info = normkit_op_get((normkit_op)op);
        op_case *c = &cases[op];
        normkit_args *a = &c->a;
        const size_t rows = info->linear ? LROWS : ROWS, dim = info->linear ? LDIM : DIM;
        *a = (normkit_args){.rows = rows, .dim = dim, .x = filled(&rng, rows * dim, -2, 2),
                            .ldx = dim, .eps = 1e-5f};
        if (!info->elementwise) {
            a->gamma = filled(&rng, dim, 0.5f, 1.5f);
            a->beta = filled(&rng, dim, -0.5f, 0.5f);
        }
        if (info->linear) {
            a->n = LN;
            a->w = filled(&rng, LN * dim, -0.1f, 0.1f);
            a->ldw = dim;
            a->bias = filled(&rng, LN, -1, 1);
            a->ldy = LN;
            c->ylen = rows * LN;
        }
        else {
            a->ldy = dim;
            c->ylen = rows * dim;
        }
        if (info->residual || nk_op_has_second_input((normkit_op)op)) {
            c->rlen = rows * dim;
            c->r0 = filled(&rng, rows * dim, -1, 1);
            a->ldr = dim;
        }
        if (nk_op_has_second_input((normkit_op)op)) /* add, mul: r is an input, not written */
            a->r = (float *)c->r0, c->rlen = 0;
    }
    /* every (ISA, tuning) pair, single-threaded: the results the stress may see */
    for (int t = 0; t < ntunings; t++) {
        set_tuning(t);
        for (int i = 0; i < nisas; i++) {
            assert_int_equal(normkit_isa_force(isas[i]), NORMKIT_OK);
            for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
                op_case *c = &cases[op];
                const size_t len = c->ylen + c->rlen;
                float *out = malloc(len * sizeof *out);
                assert_non_null(out);
                assert_int_equal(run_case(op, out, out + c->ylen), NORMKIT_OK);
                size_t k = 0;
                while (k < c->nres && memcmp(c->res[k], out, len * sizeof *out) != 0)
                    k++;
                if (k < c->nres)
                    free(out);
                else
                    c->res[c->nres++] = out;
            }
        }
    }
    set_tuning(0);
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
}

typedef struct {
    int id;
    long calls, failures;
    char msg[256];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    float *out = malloc((LROWS * LN + 2 * ROWS * DIM) * sizeof *out);
    if (!out)
        abort();
    for (int it = 0; it < rounds; it++)
        for (int k = 0; k < NORMKIT_OP_COUNT; k++) {
            const int op = (k + w->id) % NORMKIT_OP_COUNT; /* threads on different ops */
            const op_case *c = &cases[op];
            const normkit_status st = run_case(op, out, out + c->ylen);
            size_t j = 0;
            while (st == NORMKIT_OK && j < c->nres &&
                   memcmp(c->res[j], out, (c->ylen + c->rlen) * sizeof *out) != 0)
                j++;
            w->calls++;
            if (st != NORMKIT_OK || j == c->nres) {
                if (!w->failures++)
                    snprintf(w->msg, sizeof w->msg,
                             "%s: %s (round %d; none of the %zu configurations' results)",
                             normkit_op_name((normkit_op)op), normkit_status_str(st), it, c->nres);
            }
        }
    free(out);
    return NULL;
}

static void *force_isas(void *arg)
{
    (void)arg;
    for (int i = 0; !atomic_load(&stop); i = (i + 1) % (nisas + 1)) {
        const normkit_isa isa = i < nisas ? isas[i] : NORMKIT_ISA_AUTO;
        if (normkit_isa_force(isa) != NORMKIT_OK)
            abort();
        atomic_fetch_add(&forces, 1);
    }
    return NULL;
}

static void *load_tunings(void *arg)
{
    (void)arg;
    char err[512];
    for (int i = 0; !atomic_load(&stop); i = (i + 1) % 3) {
        /* 0: the file; 1: a file that does not exist (refused, nothing changes); 2: defaults */
        const char *path = i == 0 ? tuning_file : i == 1 ? "/nonexistent/normkit.json" : NULL;
        const int rc = normkit_tuning_load(path, err, sizeof err);
        if ((rc == 0) != (i != 1) || (i == 1 && !*err))
            abort();
        if (rc == 0)
            atomic_fetch_add(&loads_ok, 1);
        /* each state holds for a while, so that calls run under each */
        nanosleep(&(struct timespec){0, 200000}, NULL);
        /* whichever tuning is active, it is whole: its path is one of the two */
        const char *now = normkit_tuning_active();
        if (now && strcmp(now, tuning_file) != 0)
            abort();
    }
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    for (int i = 1; i < NORMKIT_ISA_COUNT; i++) {
        if (normkit_isa_supported((normkit_isa)i))
            isas[nisas++] = (normkit_isa)i;
        else /* said by name: the stress switches only between ISAs this machine runs */
            print_message("skipped: %s (not supported by this CPU, OS or build)\n",
                          normkit_isa_name((normkit_isa)i));
    }
    write_tuning_file();
    char err[512];
    if (normkit_tuning_load(tuning_file, err, sizeof err) != 0) {
        /* only a build without cJSON may refuse the file; the stress then forces ISAs alone */
        assert_non_null(strstr(err, "cJSON"));
        print_message("skipped: tuning loads (%s)\n", err);
        ntunings = 1;
    }
    setup_cases();
    size_t distinct = 0;
    for (int op = 0; op < NORMKIT_OP_COUNT; op++)
        distinct += cases[op].nres;
    print_message("%d ISAs x %d tunings: %zu distinct results over %d operators\n", nisas,
                  ntunings, distinct, NORMKIT_OP_COUNT);

    pthread_t wt[WORKERS], ft, lt;
    worker w[WORKERS] = {0};
    atomic_store(&stop, 0);
    assert_int_equal(pthread_create(&ft, NULL, force_isas, NULL), 0);
    if (ntunings > 1)
        assert_int_equal(pthread_create(&lt, NULL, load_tunings, NULL), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i].id = i;
        assert_int_equal(pthread_create(&wt[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(ft, NULL);
    if (ntunings > 1)
        pthread_join(lt, NULL);
    long calls = 0;
    for (int i = 0; i < WORKERS; i++) {
        calls += w[i].calls;
        if (w[i].failures)
            fail_msg("worker %d: %ld of %ld calls wrong; first: %s", i, w[i].failures,
                     w[i].calls, w[i].msg);
    }
    print_message("%d workers x %d rounds x %d operators = %ld calls; %ld ISA switches, %ld "
                  "tuning loads meanwhile\n",
                  WORKERS, rounds, NORMKIT_OP_COUNT, calls, (long)atomic_load(&forces),
                  (long)atomic_load(&loads_ok));
    /* the switching threads really ran while the workers did */
    assert_true(atomic_load(&forces) > 0 && (ntunings == 1 || atomic_load(&loads_ok) > 0));

    /* afterwards: back to a known state */
    set_tuning(0);
    assert_null(normkit_tuning_active());
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
    unlink(tuning_file);
}

/* normkit_tuning_load on its own: a bad file changes nothing and says why; NULL and "" return
 * to the defaults. */
static void test_load_api(void **state)
{
    (void)state;
    char err[512];
    write_tuning_file();
    if (normkit_tuning_load(tuning_file, err, sizeof err) != 0) {
        assert_non_null(strstr(err, "cJSON"));
        unlink(tuning_file);
        skip(); /* a build without cJSON: reported as skipped */
    }
    assert_string_equal(err, "");
    assert_string_equal(normkit_tuning_active(), tuning_file);
    assert_int_equal(normkit_tuning_load("/nonexistent/normkit.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open")); /* the loader's reason, not just any text */
    assert_string_equal(normkit_tuning_active(), tuning_file); /* unchanged */
    assert_int_equal(normkit_tuning_load("/", NULL, 0), -1);    /* a directory; err NULL */
    assert_string_equal(normkit_tuning_active(), tuning_file);
    assert_int_equal(normkit_tuning_load("", err, sizeof err), 0);
    assert_null(normkit_tuning_active());
    assert_int_equal(normkit_tuning_load(tuning_file, err, 4), 0);
    assert_int_equal(normkit_tuning_load(NULL, err, sizeof err), 0);
    assert_null(normkit_tuning_active());
    unlink(tuning_file);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        rounds = atoi(argv[1]);
        if (rounds < 1) {
            fprintf(stderr, "test_stress: error: ROUNDS must be a positive integer, not '%s'\n",
                    argv[1]);
            return 2;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_api),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
