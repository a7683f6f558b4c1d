/*
 * Concurrent first calls: many threads hit every entry point at the same moment in a fresh
 * process (nothing resolved yet), then race normkit_isa_force against running calls. Every
 * result must be right and every thread must end on the same variant.
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

#include "harness.h"

#define THREADS 8
#define DIM 257
#define ROWS 3

static pthread_barrier_t start;
static atomic_int stop_forcing;

typedef struct {
    int id, iterations;
    int failures;
    const normkit_kernel *seen[NORMKIT_OP_COUNT];
    char msg[512];
} worker;

static void one_round(worker *w, nk_rng *rng)
{
    float x[ROWS * DIM], r[ROWS * DIM], y[ROWS * DIM], x_in[ROWS * DIM], r_in[ROWS * DIM];
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        if (normkit_op_get((normkit_op)o)->linear)
            continue; /* tests/test_linear.c runs them on threads */
        for (int i = 0; i < ROWS * DIM; i++) {
            x_in[i] = x[i] = nk_rng_uniform(rng, -2.0f, 2.0f);
            r_in[i] = r[i] = nk_rng_uniform(rng, -1.0f, 1.0f);
        }
        nk_args a = {.rows = ROWS, .dim = DIM, .x = x, .ldx = DIM, .r = r, .ldr = DIM,
                     .eps = 1e-5f, .y = y, .ldy = DIM};
        if (nk_call_api((normkit_op)o, &a) != NORMKIT_OK ||
            !nk_check((normkit_op)o, &a, x_in, DIM, r_in, DIM, w->msg, sizeof w->msg))
            w->failures++;
    }
}

static void *first_calls(void *arg)
{
    worker *w = arg;
    nk_rng rng = {(uint64_t)w->id};
    pthread_barrier_wait(&start);
    for (int it = 0; it < w->iterations; it++)
        one_round(w, &rng);
    for (int o = 0; o < NORMKIT_OP_COUNT; o++)
        w->seen[o] = normkit_kernel_active((normkit_op)o);
    return NULL;
}

static void test_concurrent_first_calls(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    worker w[THREADS] = {0};
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i].id = i + 1;
        w[i].iterations = 20;
        assert_int_equal(pthread_create(&t[i], NULL, first_calls, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        if (w[i].failures)
            fail_msg("thread %d: %d wrong results; first: %s", i, w[i].failures, w[i].msg);
        for (int o = 0; o < NORMKIT_OP_COUNT; o++)
            assert_ptr_equal(w[i].seen[o], w[0].seen[o]);
    }
    for (int o = 0; o < NORMKIT_OP_COUNT; o++)
        assert_ptr_equal(w[0].seen[o], normkit_kernel_active((normkit_op)o));
}

static void *forcer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_forcing)) {
        normkit_isa_force(NORMKIT_ISA_SCALAR);
        normkit_isa_force(NORMKIT_ISA_AUTO);
    }
    return NULL;
}

static void *calls(void *arg)
{
    worker *w = arg;
    nk_rng rng = {(uint64_t)w->id * 977};
    for (int it = 0; it < w->iterations; it++)
        one_round(w, &rng);
    return NULL;
}

static void test_force_while_running(void **state)
{
    (void)state;
    pthread_t f, t[THREADS - 1];
    worker w[THREADS - 1] = {0};
    atomic_store(&stop_forcing, 0);
    assert_int_equal(pthread_create(&f, NULL, forcer, NULL), 0);
    for (int i = 0; i < THREADS - 1; i++) {
        w[i].id = i + 1;
        w[i].iterations = 30;
        assert_int_equal(pthread_create(&t[i], NULL, calls, &w[i]), 0);
    }
    for (int i = 0; i < THREADS - 1; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop_forcing, 1);
    pthread_join(f, NULL);
    for (int i = 0; i < THREADS - 1; i++)
        if (w[i].failures)
            fail_msg("thread %d: %d wrong results; first: %s", i, w[i].failures, w[i].msg);
    assert_int_equal(normkit_isa_force(NORMKIT_ISA_AUTO), NORMKIT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_calls), /* first: nothing resolved yet */
        cmocka_unit_test(test_force_while_running),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
