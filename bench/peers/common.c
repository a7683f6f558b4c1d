/* What the peers share: counting the process's threads (each peer checks that it stays
 * single-threaded), holding an OpenMP runtime, if one is loaded, to one thread, and the
 * fingerprint the packing peers key their packed weights by, and the probes of the linear and
 * block peers. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "peers.h"

int nkb_thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

nkb_omp_max_threads_fn *nkb_omp_limit_to_one(void)
{
    /* Looked up at run time, so nothing links an OpenMP runtime of its own or assumes which
     * one a peer brought; POSIX allows converting dlsym's object pointer to a function
     * pointer. */
    void (*set_threads)(int) = NULL;
    nkb_omp_max_threads_fn *max_threads = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    memcpy(&set_threads, &sym, sizeof sym);
    sym = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    memcpy(&max_threads, &sym, sizeof sym);
    if (set_threads)
        set_threads(1);
    return max_threads;
}

uint64_t nkb_weights_fingerprint(const float *w, size_t dim, size_t n, size_t ldw,
                                 const float *bias)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a over the sampled bits */
    for (size_t j = 0; j < n; j++)
        for (size_t s = 0; s < 8; s++) {
            uint32_t bits;
            memcpy(&bits, w + j * ldw + s * (dim - 1) / 7, sizeof bits);
            h = (h ^ bits) * 1099511628211u;
        }
    for (size_t j = 0; bias && j < n; j++) {
        uint32_t bits;
        memcpy(&bits, bias + j, sizeof bits);
        h = (h ^ bits) * 1099511628211u;
    }
    return h;
}

void nkb_linear_probe(const nkb_linear_peer *peer, int *before, int *after, char *why,
                      size_t whylen)
{
    const size_t rows = NKB_PROBE_ROWS, dim = NKB_PROBE_DIM, n = NKB_PROBE_N;
    /* 16 floats of slack after a: XNNPACK may read (not use) 16 bytes past its last row */
    float *a = calloc(rows * dim + 16, sizeof *a), *y = calloc(rows * n, sizeof *y);
    float *w = calloc(n * dim, sizeof *w), *b = calloc(n, sizeof *b);
    *before = nkb_thread_count();
    const char *e = "out of memory";
    if (a && y && w && b) {
        e = peer->prepare(rows, dim, n, w, dim, b);
        if (!e)
            e = peer->run(rows, dim, n, a, dim, y, n);
    }
    *after = nkb_thread_count();
    snprintf(why, whylen, "%s", e ? e : "");
    free(a), free(y), free(w), free(b);
}

static double cpu_ms(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void nkb_block_probe(const nkb_block_peer *peer, nkb_block_probe_result *r)
{
    const size_t rows = NKB_BLOCK_PROBE_ROWS, dim = NKB_BLOCK_PROBE_DIM,
                 hidden = NKB_BLOCK_PROBE_HIDDEN;
    memset(r, 0, sizeof *r);
    float *x = calloc(rows * dim, sizeof *x), *h = calloc(rows * dim, sizeof *h);
    float *w1 = calloc(hidden * dim, sizeof *w1), *w2 = calloc(dim * hidden, sizeof *w2);
    const char *e = "out of memory";
    void *state = NULL;
    r->before = nkb_thread_count();
    if (x && h && w1 && w2) {
        normkit_block_desc d;
        memset(&d, 0, sizeof d);
        d.layout = NORMKIT_PRENORM, d.norm = NORMKIT_NORM_RMS, d.act = NORMKIT_ACT_SILU;
        d.dim = dim, d.hidden = hidden, d.eps = 1e-6f, d.w1 = w1, d.w2 = w2;
        e = peer->create(&d, rows, &state);
        if (!e)
            e = peer->run(state, rows, x, h);
    }
    r->after = nkb_thread_count();
    if (!e) {
        const double p0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < 2 && !e; i++)
            e = peer->run(state, rows, x, h);
        const double t1 = cpu_ms(CLOCK_THREAD_CPUTIME_ID), p1 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
        r->self_ms = t1 - t0;
        r->other_ms = (p1 - p0) - (t1 - t0);
        if (r->other_ms < 0)
            r->other_ms = 0;
    }
    if (state)
        peer->destroy(state);
    snprintf(r->why, sizeof r->why, "%s", e ? e : "");
    const int single = r->after == r->before && r->other_ms <= 0.25 * r->self_ms + 0.5;
    r->usable = !e && single;
    snprintf(r->text, sizeof r->text,
             "process threads before/after a %zux%zu(x%zu) block: %d/%d, CPU of this thread / "
             "of the others over 2 calls: %.2f / %.2f ms%s",
             rows, dim, hidden, r->before, r->after, r->self_ms, r->other_ms,
             e ? "" : single ? " (single-threaded)" : " (NOT single-threaded: peer disabled)");
    free(x), free(h), free(w1), free(w2);
}
