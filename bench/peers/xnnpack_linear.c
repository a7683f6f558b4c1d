/*
 * XNNPACK linear peer: y = a · w^T + bias as one fully_connected_nc_f32 operator (the
 * operator API of Debian's 2022 snapshot: no weights cache / code cache parameter), run on
 * the calling thread (no pthreadpool: NULL), output clamp [-inf, +inf].
 *
 * XNNPACK's filter layout is [output_channels x input_channels] = torch's [n x dim], dense.
 * The operator packs the weights and the bias when it is created: that is prepare() (a W with
 * ldw > dim is first copied dense, untimed). The input and output strides are fixed at
 * creation too, and prepare() knows no lda/ldy: it creates the operator for dense a and y,
 * and a run() with other strides re-creates it (once; see peers.h). xnn_setup_fully_connected
 * binds the rows and the a/y pointers: run() calls it only when one of them changed, then
 * xnn_run_operator.
 *
 * XNNPACK may read up to XNN_EXTRA_BYTES past the end of `a` (never writes past y).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xnnpack.h>

#include "bench_config.h"
#include "peers.h"

static struct {
    int initialized;
    xnn_operator_t op;
    size_t dim, n, ldw, lda, ldy;
    const float *w, *bias;
    uint64_t wkey; /* nkb_weights_fingerprint() of w and bias */
    /* what the last setup bound */
    size_t rows;
    const float *a;
    float *y;
    char err[200];
} S;

static const char *status_name(enum xnn_status st)
{
    switch (st) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
    }
    return "unknown status";
}

static const char *fail(const char *what, enum xnn_status st)
{
    snprintf(S.err, sizeof S.err, "XNNPACK: %s failed: %s", what, status_name(st));
    return S.err;
}

static void drop_operator(void)
{
    if (S.op)
        xnn_delete_operator(S.op);
    S.op = NULL;
    S.rows = 0, S.a = NULL, S.y = NULL;
}

/* Creates the operator (packing w and bias) for these strides. */
static const char *create(size_t dim, size_t n, const float *w, size_t ldw, const float *bias,
                          uint64_t wkey, size_t lda, size_t ldy)
{
    drop_operator();
    const float *dense = w;
    float *copy = NULL;
    if (ldw != dim) {
        copy = malloc(n * dim * sizeof *copy);
        if (!copy)
            return "XNNPACK: out of memory (dense copy of w)";
        for (size_t j = 0; j < n; j++)
            memcpy(copy + j * dim, w + j * ldw, dim * sizeof *copy);
        dense = copy;
    }
    /* bias NULL: XNNPACK packs zeros in its place */
    enum xnn_status st = xnn_create_fully_connected_nc_f32(dim, n, lda, ldy, dense, bias,
                                                           -INFINITY, INFINITY, 0, &S.op);
    free(copy);
    if (st != xnn_status_success) {
        S.op = NULL;
        return fail("xnn_create_fully_connected_nc_f32", st);
    }
    S.dim = dim, S.n = n, S.ldw = ldw, S.w = w, S.bias = bias, S.wkey = wkey;
    S.lda = lda, S.ldy = ldy;
    return NULL;
}

static const char *prepare(size_t rows, size_t dim, size_t n, const float *w, size_t ldw,
                           const float *bias)
{
    if (!S.initialized)
        return "XNNPACK: not initialised";
    if (rows == 0 || dim == 0 || n == 0 || !w || ldw < dim) {
        snprintf(S.err, sizeof S.err, "XNNPACK: bad shape rows %zu dim %zu n %zu ldw %zu", rows,
                 dim, n, ldw);
        return S.err;
    }
    const uint64_t wkey = nkb_weights_fingerprint(w, dim, n, ldw, bias);
    if (S.op && S.dim == dim && S.n == n && S.w == w && S.ldw == ldw && S.bias == bias &&
        S.wkey == wkey)
        return NULL; /* same weights: the operator (with whatever strides it has) stays */
    return create(dim, n, w, ldw, bias, wkey, dim, n);
}

static const char *run(size_t rows, size_t dim, size_t n, const float *a, size_t lda, float *y,
                       size_t ldy)
{
    if (!S.op || dim != S.dim || n != S.n)
        return "XNNPACK: run() without a prepare() for this dim/n";
    if (lda != S.lda || ldy != S.ldy) {
        if (lda < dim || ldy < n)
            return "XNNPACK: lda < dim or ldy < n";
        const char *e = create(dim, n, S.w, S.ldw, S.bias, S.wkey, lda, ldy);
        if (e)
            return e;
    }
    if (rows != S.rows || a != S.a || y != S.y) {
        S.rows = 0;
        enum xnn_status st = xnn_setup_fully_connected_nc_f32(S.op, rows, a, y, NULL);
        if (st != xnn_status_success)
            return fail("xnn_setup_fully_connected_nc_f32", st);
        S.rows = rows, S.a = a, S.y = y;
    }
    enum xnn_status st = xnn_run_operator(S.op, NULL);
    if (st != xnn_status_success)
        return fail("xnn_run_operator", st);
    return NULL;
}

static void fini(void)
{
    drop_operator();
    if (S.initialized)
        xnn_deinitialize();
    memset(&S, 0, sizeof S);
}

int nkb_xnnpack_linear_init(nkb_linear_peer *peer, char *info, size_t infolen)
{
    fini();
    const char *ver = "XNNPACK " NKB_XNNPACK_VERSION " (no version API; package version at "
                      "configure time)";
    enum xnn_status st = xnn_initialize(NULL);
    if (st != xnn_status_success) {
        snprintf(info, infolen, "%s; unusable: xnn_initialize failed: %s", ver, status_name(st));
        return -1;
    }
    S.initialized = 1;

    /* One real call, of a benchmark's kind, to see whether it starts threads. */
    peer->name = "xnnpack", peer->prepare = prepare, peer->run = run, peer->fini = fini;
    int before, after;
    char why[sizeof S.err];
    nkb_linear_probe(peer, &before, &after, why, sizeof why);
    drop_operator();
    const int single = after == before;
    snprintf(info, infolen,
             "%s; fully_connected_nc_f32, weights packed at prepare(), no thread pool (runs on "
             "the calling thread); process threads before/after a %dx%dx%d call: %d/%d%s%s%s",
             ver, NKB_PROBE_ROWS, NKB_PROBE_DIM, NKB_PROBE_N, before, after,
             single ? " (single-threaded)" : " (NOT single-threaded: peer disabled)",
             why[0] ? "; unusable: " : "", why);
    if (why[0] || !single) {
        fini();
        return -1;
    }
    return 0;
}
