/*
 * OpenBLAS linear peer: y = a · w^T + bias as one cblas_sgemm (RowMajor, NoTrans, Trans),
 * single-threaded through openblas_set_num_threads(1).
 *
 * OpenBLAS's public API has no pre-packed weights (no sgemm_pack), so prepare() only checks
 * the arguments and remembers w and bias; every run() reads W in its torch layout.
 *
 * Threads: Debian's libopenblas0-pthread starts its worker threads when the library is
 * loaded; openblas_set_num_threads(1) makes every call run on the calling thread (the workers
 * stay parked). The init reports openblas_get_num_threads() and the process's thread count
 * around one sgemm: a count that grows disables the peer.
 *
 * Core: with DYNAMIC_ARCH (Debian's build), OpenBLAS picks its kernels by CPU at load time,
 * unless OPENBLAS_CORETYPE names one (some machines here set OPENBLAS_CORETYPE=Haswell, which
 * holds it to its AVX2 kernels). The init records openblas_get_corename() and the
 * OPENBLAS_* variables it finds; it never changes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "peers.h"

extern char **environ;

static struct {
    int ready;
    size_t dim, n, ldw;
    const float *w, *bias;
    char err[200];
} S;

static const char *prepare(size_t rows, size_t dim, size_t n, const float *w, size_t ldw,
                           const float *bias)
{
    if (!S.ready)
        return "OpenBLAS: not initialised";
    if (rows == 0 || dim == 0 || n == 0 || !w || ldw < dim) {
        snprintf(S.err, sizeof S.err, "OpenBLAS: bad shape rows %zu dim %zu n %zu ldw %zu", rows,
                 dim, n, ldw);
        return S.err;
    }
    S.dim = dim, S.n = n, S.ldw = ldw, S.w = w, S.bias = bias;
    return NULL;
}

static const char *run(size_t rows, size_t dim, size_t n, const float *a, size_t lda, float *y,
                       size_t ldy)
{
    if (!S.w || dim != S.dim || n != S.n)
        return "OpenBLAS: run() without a prepare() for this dim/n";
    if (lda < dim || ldy < n)
        return "OpenBLAS: lda < dim or ldy < n";
    /* The bias fill is part of the timed call: sgemm's C += A·B^T then adds the product to it
     * (beta = 1). It is rows x n stores, small next to the 2·rows·dim·n flops. Without a bias,
     * beta = 0 and no fill. */
    float beta = 0.0f;
    if (S.bias) {
        for (size_t r = 0; r < rows; r++)
            memcpy(y + r * ldy, S.bias, n * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)n, (blasint)dim,
                1.0f, a, (blasint)lda, S.w, (blasint)S.ldw, beta, y, (blasint)ldy);
    return NULL;
}

static void fini(void)
{
    memset(&S, 0, sizeof S);
}

int nkb_openblas_linear_init(nkb_linear_peer *peer, char *info, size_t infolen)
{
    fini();
    openblas_set_num_threads(1);
    S.ready = 1;

    /* Every OPENBLAS_* variable of the environment (OPENBLAS_CORETYPE above all), as found. */
    char env[256] = "";
    int have_coretype = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "OPENBLAS_", 9) == 0 || strncmp(*e, "GOTO_", 5) == 0 ||
            strncmp(*e, "OMP_NUM_THREADS=", 16) == 0) {
            size_t used = strlen(env);
            snprintf(env + used, sizeof env - used, "%s%s", used ? " " : "", *e);
            have_coretype |= strncmp(*e, "OPENBLAS_CORETYPE=", 18) == 0;
        }

    /* One real call, of a benchmark's kind, to see whether it starts threads. */
    peer->name = "openblas", peer->prepare = prepare, peer->run = run, peer->fini = fini;
    int before, after;
    char why[sizeof S.err];
    nkb_linear_probe(peer, &before, &after, why, sizeof why);
    S.w = S.bias = NULL;

    const int nthreads = openblas_get_num_threads();
    const int parallel = openblas_get_parallel(); /* 0 sequential, 1 pthreads, 2 OpenMP */
    const int single = nthreads == 1 && after == before;
    const char *config = openblas_get_config();
    const char *core = openblas_get_corename();
    snprintf(info, infolen,
             "%s; core %s (%s); environment: %s; openblas_get_num_threads %d (build: %s); "
             "process threads before/after a %dx%dx%d sgemm: %d/%d%s; no weight pre-packing "
             "(not in OpenBLAS's API), bias fill inside the timed call%s%s",
             config ? config : "OpenBLAS ?", core ? core : "?",
             have_coretype ? "forced by OPENBLAS_CORETYPE" : "OPENBLAS_CORETYPE not set",
             env[0] ? env : "no OPENBLAS_* variables", nthreads,
             parallel == 0 ? "sequential" : parallel == 1 ? "pthreads" : "OpenMP", NKB_PROBE_ROWS,
             NKB_PROBE_DIM, NKB_PROBE_N,
             before, after, single ? " (single-threaded)" : " (NOT single-threaded: peer disabled)",
             why[0] ? "; unusable: " : "", why);
    if (why[0] || !single) {
        fini();
        return -1;
    }
    return 0;
}
