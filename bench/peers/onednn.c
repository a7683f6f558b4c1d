/*
 * oneDNN peer: layer_normalization, forward inference, with scale (gamma) and shift (beta),
 * through oneDNN's C API, single-threaded like every other case.
 *
 * Threads: Debian's libdnnl runs on OpenMP, and the OpenMP runtime reads OMP_NUM_THREADS when
 * it is loaded, before main(), so setting the variable from here would be too late. Instead
 * omp_set_num_threads(1) is called — looked up at run time, so normkit-bench neither links an
 * OpenMP runtime of its own nor assumes which one oneDNN brought — and nkb_onednn_init()
 * checks the result: it runs one primitive and compares the process's thread count before
 * and after (an OpenMP runtime starts its workers at the first parallel region).
 *
 * The primitive is built on the first call for a shape (the harness's untimed call) and kept;
 * the timed calls only set the data pointers (when they changed) and execute.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "peers.h"

static struct {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scale, shift;
    size_t rows, dim;
    float eps;
    const void *ptr[4];
    char impl[64];
    char err[200];
} S;

static const char *fail(const char *what, dnnl_status_t st)
{
    snprintf(S.err, sizeof S.err, "oneDNN: %s failed: %s", what, dnnl_status2str(st));
    return S.err;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success)                                                                   \
            return fail(#call, st_);                                                               \
    } while (0)

static void drop_primitive(void)
{
    dnnl_memory_t *mems[] = {&S.src, &S.dst, &S.scale, &S.shift};
    for (size_t i = 0; i < 4; i++)
        if (*mems[i]) {
            dnnl_memory_destroy(*mems[i]);
            *mems[i] = NULL;
        }
    if (S.prim) {
        dnnl_primitive_destroy(S.prim);
        S.prim = NULL;
    }
    memset(S.ptr, 0, sizeof S.ptr);
}

static const char *build(size_t rows, size_t dim, float eps)
{
    drop_primitive();
    dnnl_memory_desc_t data_md, w_md;
    dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)dim}, wdims = {(dnnl_dim_t)dim};
    TRY(dnnl_memory_desc_init_by_tag(&data_md, 2, dims, dnnl_f32, dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&w_md, 1, wdims, dnnl_f32, dnnl_a));
    dnnl_layer_normalization_desc_t desc;
    TRY(dnnl_layer_normalization_forward_desc_init(&desc, dnnl_forward_inference, &data_md, NULL,
                                                   eps, dnnl_use_scale | dnnl_use_shift));
    dnnl_primitive_desc_t pd;
    TRY(dnnl_primitive_desc_create(&pd, &desc, NULL, S.engine, NULL));
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(S.impl, sizeof S.impl, "%s", impl);
    dnnl_status_t st = dnnl_primitive_create(&S.prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        return fail("dnnl_primitive_create", st);
    TRY(dnnl_memory_create(&S.src, &data_md, S.engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&S.dst, &data_md, S.engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&S.scale, &w_md, S.engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&S.shift, &w_md, S.engine, DNNL_MEMORY_NONE));
    S.rows = rows, S.dim = dim, S.eps = eps;
    return NULL;
}

static const char *layernorm(size_t rows, size_t dim, const float *x, size_t ldx,
                             const float *gamma, const float *beta, float eps, float *y, size_t ldy)
{
    if (ldx != dim || ldy != dim || !gamma || !beta) {
        snprintf(S.err, sizeof S.err, "oneDNN peer: needs dense rows and gamma and beta");
        return S.err;
    }
    if (!S.prim || S.rows != rows || S.dim != dim || S.eps != eps) {
        const char *e = build(rows, dim, eps);
        if (e)
            return e;
    }
    const void *ptr[4] = {x, y, gamma, beta};
    dnnl_memory_t mem[4] = {S.src, S.dst, S.scale, S.shift};
    for (int i = 0; i < 4; i++)
        if (ptr[i] != S.ptr[i]) {
            TRY(dnnl_memory_set_data_handle(mem[i], (void *)(uintptr_t)ptr[i]));
            S.ptr[i] = ptr[i];
        }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, S.src}, {DNNL_ARG_DST, S.dst},
                               {DNNL_ARG_SCALE, S.scale}, {DNNL_ARG_SHIFT, S.shift}};
    TRY(dnnl_primitive_execute(S.prim, S.stream, 4, args));
    TRY(dnnl_stream_wait(S.stream));
    return NULL;
}

void nkb_onednn_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                              const float *gamma, const float *beta, float eps, float *y,
                              size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    if (layernorm(rows, dim, x, ldx, gamma, beta, eps, y, ldy) == NULL)
        S.err[0] = '\0';
}

const char *nkb_onednn_error(void)
{
    return S.err[0] ? S.err : NULL;
}

int nkb_onednn_init(char *info, size_t infolen)
{
    const dnnl_version_t *v = dnnl_version();
    char ver[96];
    snprintf(ver, sizeof ver, "%d.%d.%d (cpu runtime %s, isa %s)", v->major, v->minor, v->patch,
             dnnl_runtime2str(v->cpu_runtime), dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));

    nkb_omp_max_threads_fn *max_threads = nkb_omp_limit_to_one();

    dnnl_status_t st = dnnl_engine_create(&S.engine, dnnl_cpu, 0);
    if (st == dnnl_success)
        st = dnnl_stream_create(&S.stream, S.engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        snprintf(info, infolen, "%s; unusable: engine/stream creation failed: %s", ver,
                 dnnl_status2str(st));
        nkb_onednn_fini();
        return -1;
    }

    /* One real call, as the benchmarks make them, to see whether it starts threads. */
    const size_t rows = 64, dim = 4096;
    float *x = calloc(rows * dim, sizeof *x), *y = calloc(rows * dim, sizeof *y);
    float *g = calloc(dim, sizeof *g), *b = calloc(dim, sizeof *b);
    const int before = nkb_thread_count();
    const char *e = x && y && g && b ? layernorm(rows, dim, x, dim, g, b, 1e-5f, y, dim)
                                     : "out of memory";
    const int after = nkb_thread_count();
    free(x), free(y), free(g), free(b);
    const int omp = max_threads ? max_threads() : -1;
    const int single = after == before && (omp == 1 || omp == -1);
    snprintf(info, infolen,
             "%s; impl %s; omp_get_max_threads %d; process threads before/after a %zux%zu "
             "call: %d/%d%s%s%s",
             ver, S.impl[0] ? S.impl : "?", omp, rows, dim, before, after,
             single ? " (single-threaded)" : " (NOT single-threaded: peer disabled)",
             e ? "; unusable: " : "", e ? e : "");
    drop_primitive();
    if (e || !single) {
        nkb_onednn_fini();
        return -1;
    }
    return 0;
}

void nkb_onednn_fini(void)
{
    drop_primitive();
    if (S.stream)
        dnnl_stream_destroy(S.stream);
    if (S.engine)
        dnnl_engine_destroy(S.engine);
    S.stream = NULL;
    S.engine = NULL;
}
