/* What the peers share: counting the process's threads (each peer checks that it stays
 * single-threaded), holding an OpenMP runtime, if one is loaded, to one thread, and the
 * fingerprint the packing peers key their packed weights by. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
