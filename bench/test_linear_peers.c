/*
 * test_linear_peers: every linear peer built in (bench/peers/<peer>_linear.c) against a
 * double-precision reference, so normkit-bench never times a peer that computes something
 * else. Plain C, no Google Benchmark.
 *
 * Shapes: rows {1, 3, 8, 33} x dim {1, 17, 67, 768} x n {1, 5, 33, 100}, each with bias NULL
 * and with a bias, dense; plus strided cases (lda > dim, ldy > n, ldw > dim), which also check
 * that the padding of y is left alone. Per (dim, n, bias): a prepare() for each rows, then two
 * run()s (the second after re-poisoning y with NaN: a cached primitive must compute again);
 * then W and bias refilled in place with new values, a prepare() and a run() (a cache keyed by
 * the pointers alone would keep the old weights). y starts as NaN, its padding as a sentinel
 * that must survive; the padding of a and W (lda > dim, ldw > dim) is NaN, which must never
 * reach y.
 *
 * Bound, per output element j of a row (u = 2^-24, float's unit roundoff):
 *     |y_j - ref_j| <= (dim + 2) * u * (sum_k |a_k w_jk| + |b_j|) + u * |ref_j|
 * ref_j = b_j + sum_k a_k w_jk in double (each product exact, the sum's error negligible).
 * It is the classical bound for a float sum of dim + 1 terms in any order (gamma_{dim+1}, with
 * one term to spare for an FMA-less multiply), the bias counted as the (dim+1)-th term, plus
 * one rounding of the result; a peer that dropped a term, used another layout, or computed in
 * bf16/tf32 is far outside it.
 *
 * Prints "<peer>: N passed, M failed" per usable peer and "<peer>: skipped (...)" for one not
 * built or failing its init. Exit: 1 on any failure, 77 (meson's skip) when no peer is
 * usable, 0 otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_config.h"
#include "peers/peers.h"

enum { EXTRA_FLOATS = 16 }; /* >= XNN_EXTRA_BYTES (16) past the end of `a` */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static float uniform(void) /* in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (float)((double)(rng_state >> 40) / (double)(1u << 23) - 1.0);
}

static float *alloc_floats(size_t count)
{
    size_t bytes = (count + EXTRA_FLOATS) * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) {
        fprintf(stderr, "test_linear_peers: out of memory\n");
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

typedef struct {
    unsigned passed, failed;
    unsigned reported; /* failures printed in detail */
} tally;

/* One run() into y (poisoned first) and the comparison; returns 0 when it passes. */
static int check_run(const nkb_linear_peer *p, tally *t, size_t rows, size_t dim, size_t n,
                     const float *a, size_t lda, const float *w, size_t ldw, const float *bias,
                     float *y, size_t ldy, const char *what)
{
    const float sentinel = 12345.0f;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < ldy; j++)
            y[r * ldy + j] = j < n ? NAN : sentinel;
    const char *e = p->run(rows, dim, n, a, lda, y, ldy);
    char msg[320] = "";
    if (e) {
        snprintf(msg, sizeof msg, "run() failed: %s", e);
    } else {
        const double u = ldexp(1.0, -24);
        for (size_t r = 0; r < rows && !msg[0]; r++) {
            for (size_t j = 0; j < n && !msg[0]; j++) {
                double ref = bias ? bias[j] : 0.0, mag = bias ? fabs(bias[j]) : 0.0;
                for (size_t k = 0; k < dim; k++) {
                    const double prod = (double)a[r * lda + k] * (double)w[j * ldw + k];
                    ref += prod;
                    mag += fabs(prod);
                }
                const double got = y[r * ldy + j];
                const double bound = (double)(dim + 2) * u * mag + u * fabs(ref);
                if (!(fabs(got - ref) <= bound))
                    snprintf(msg, sizeof msg,
                             "y[%zu][%zu] = %.9g, reference %.9g, |diff| %.3g > bound %.3g", r, j,
                             got, ref, fabs(got - ref), bound);
            }
            for (size_t j = n; j < ldy && !msg[0]; j++)
                if (y[r * ldy + j] != sentinel)
                    snprintf(msg, sizeof msg, "wrote y[%zu][%zu], past n (padding of ldy)", r, j);
        }
    }
    if (!msg[0]) {
        t->passed++;
        return 0;
    }
    t->failed++;
    if (t->reported++ < 10)
        printf("  %s FAIL rows %zu dim %zu n %zu lda %zu ldw %zu ldy %zu bias %s (%s): %s\n",
               p->name, rows, dim, n, lda, ldw, ldy, bias ? "yes" : "NULL", what, msg);
    return 1;
}

/* prepare() for each rows, then two run()s; w/bias/a are filled here. */
static void check_shape(const nkb_linear_peer *p, tally *t, const size_t *rows_list,
                        size_t nrows, size_t dim, size_t n, size_t lda, size_t ldw, size_t ldy,
                        int with_bias)
{
    size_t max_rows = 0;
    for (size_t i = 0; i < nrows; i++)
        max_rows = rows_list[i] > max_rows ? rows_list[i] : max_rows;
    float *w = alloc_floats(n * ldw), *bias = with_bias ? alloc_floats(n) : NULL;
    float *a = alloc_floats(max_rows * lda), *y = alloc_floats(max_rows * ldy);
    for (size_t i = 0; i < n * ldw; i++)
        w[i] = i % ldw < dim ? uniform() : NAN; /* padding of ldw/lda: must never be read */
    for (size_t i = 0; with_bias && i < n; i++)
        bias[i] = uniform();
    for (size_t i = 0; i < max_rows * lda; i++)
        a[i] = i % lda < dim ? uniform() : NAN;
    for (size_t i = 0; i < nrows; i++) {
        const size_t rows = rows_list[i];
        const char *e = p->prepare(rows, dim, n, w, ldw, bias);
        if (e) {
            t->failed++;
            if (t->reported++ < 10)
                printf("  %s FAIL rows %zu dim %zu n %zu ldw %zu: prepare() failed: %s\n",
                       p->name, rows, dim, n, ldw, e);
            continue;
        }
        if (check_run(p, t, rows, dim, n, a, lda, w, ldw, bias, y, ldy, "first run") == 0)
            check_run(p, t, rows, dim, n, a, lda, w, ldw, bias, y, ldy, "repeat run");
    }
    /* the same buffers refilled with new values (as a buffer pool would hand them out again):
     * prepare() must not take its cached copy of the old weights */
    for (size_t i = 0; i < n * ldw; i++)
        if (i % ldw < dim)
            w[i] = uniform();
    for (size_t i = 0; with_bias && i < n; i++)
        bias[i] = uniform();
    const char *e = p->prepare(rows_list[0], dim, n, w, ldw, bias);
    if (e) {
        t->failed++;
        if (t->reported++ < 10)
            printf("  %s FAIL dim %zu n %zu: prepare() after a refill failed: %s\n", p->name, dim,
                   n, e);
    } else {
        check_run(p, t, rows_list[0], dim, n, a, lda, w, ldw, bias, y, ldy, "after a refill");
    }
    free(w), free(bias), free(a), free(y);
}

static int test_peer(const char *name, int (*init)(nkb_linear_peer *, char *, size_t),
                     int *usable)
{
    nkb_linear_peer p;
    char info[1024] = "";
    if (init(&p, info, sizeof info) != 0) {
        printf("%s: skipped (init failed: %s)\n", name, info);
        return 0;
    }
    printf("%s: %s\n", name, info);
    ++*usable;
    tally t = {0, 0, 0};
    static const size_t rows_list[] = {1, 3, 8, 33};
    static const size_t dims[] = {1, 17, 67, 768};
    static const size_t ns[] = {1, 5, 33, 100};
    const size_t nrows = sizeof rows_list / sizeof rows_list[0];
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            for (int b = 0; b < 2; b++)
                check_shape(&p, &t, rows_list, nrows, dims[d], ns[j], dims[d], dims[d], ns[j], b);
    /* strided: lda > dim and ldy > n (and ldw > dim), with and without bias */
    for (int b = 0; b < 2; b++) {
        check_shape(&p, &t, rows_list, nrows, 67, 33, 75, 70, 41, b);
        check_shape(&p, &t, rows_list, nrows, 768, 100, 800, 784, 112, b);
    }
    p.fini();
    printf("%s: %u passed, %u failed\n", name, t.passed, t.failed);
    return t.failed != 0;
}

int main(void)
{
    int failed = 0, usable = 0;
    (void)test_peer; /* a build without any peer (the aarch64 cross build) calls none */
#if NKB_HAVE_ONEDNN
    failed |= test_peer("onednn", nkb_onednn_linear_init, &usable);
#else
    printf("onednn: skipped (not built: %s)\n", NKB_ONEDNN_ABSENT);
#endif
#if NKB_HAVE_OPENBLAS
    failed |= test_peer("openblas", nkb_openblas_linear_init, &usable);
#else
    printf("openblas: skipped (not built: %s)\n", NKB_OPENBLAS_ABSENT);
#endif
#if NKB_HAVE_XNNPACK
    failed |= test_peer("xnnpack", nkb_xnnpack_linear_init, &usable);
#else
    printf("xnnpack: skipped (not built: %s)\n", NKB_XNNPACK_ABSENT);
#endif
    if (failed)
        return 1;
    return usable ? 0 : 77;
}
