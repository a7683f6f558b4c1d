/*
 * oneDNN linear peer: y = a · w^T + bias as one matmul primitive, through oneDNN's C API,
 * single-threaded.
 *
 * Shapes: src [rows x dim] (strides {lda, 1}), weights [dim x n] described from W's row-major
 * [n x dim] layout (strides {1, ldw}: tag "ba"), bias [1 x n], dst [rows x n] (strides {ldy, 1}).
 * The primitive is created with format_tag_any for the weights; prepare() reorders W once into
 * the layout the primitive picked and keeps that copy (and a user-managed scratchpad), so the
 * timed run() only sets the src/dst handles and executes the matmul.
 *
 * Threads: as in onednn.c (Debian's libdnnl runs on OpenMP, whose runtime reads
 * OMP_NUM_THREADS before main()), omp_set_num_threads(1) is looked up at run time and called,
 * and nkb_onednn_linear_init() runs one matmul and checks that the process's thread count did
 * not grow. It has its own engine and stream (onednn.c keeps its state private).
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
    /* the primitive, for one (rows, dim, n, lda, ldy, bias or not) */
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, bias, scratch;
    size_t rows, dim, n, lda, ldy;
    int has_bias;
    const void *src_ptr, *dst_ptr;
    /* the weights in the primitive's layout, reordered from (w, ldw, dim, n) */
    dnnl_memory_t wmem;
    dnnl_memory_desc_t wmd;
    const float *w;
    size_t wdim, wn, ldw;
    uint64_t wkey; /* nkb_weights_fingerprint() of w (without the bias, which is used in place) */
    /* the last prepare()'s bias (run() rebuilds the primitive for other strides) */
    const float *bias_ptr;
    char impl[64];
    char err[256];
} S;

static const char *fail(const char *what, dnnl_status_t st)
{
    snprintf(S.err, sizeof S.err, "oneDNN matmul: %s failed: %s", what, dnnl_status2str(st));
    return S.err;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success)                                                                   \
            return fail(#call, st_);                                                               \
    } while (0)

static void destroy_mem(dnnl_memory_t *m)
{
    if (*m)
        dnnl_memory_destroy(*m);
    *m = NULL;
}

static void drop_primitive(void)
{
    destroy_mem(&S.src);
    destroy_mem(&S.dst);
    destroy_mem(&S.bias);
    destroy_mem(&S.scratch);
    if (S.prim)
        dnnl_primitive_destroy(S.prim);
    S.prim = NULL;
    S.src_ptr = S.dst_ptr = NULL;
}

static void drop_weights(void)
{
    if (S.wmem) {
        void *buf = NULL;
        dnnl_memory_get_data_handle(S.wmem, &buf);
        dnnl_memory_destroy(S.wmem);
        free(buf);
    }
    S.wmem = NULL;
    S.w = NULL;
}

/* Reorders W (row-major [n x dim], rows ldw apart) into a buffer laid out as `md`. */
static const char *reorder_weights(const dnnl_memory_desc_t *md, const float *w, size_t dim,
                                   size_t n, size_t ldw, uint64_t wkey)
{
    drop_weights();
    dnnl_memory_desc_t user_md;
    dnnl_dims_t dims = {(dnnl_dim_t)dim, (dnnl_dim_t)n};
    dnnl_dims_t strides = {1, (dnnl_dim_t)ldw};
    TRY(dnnl_memory_desc_init_by_strides(&user_md, 2, dims, dnnl_f32, strides));
    const size_t bytes = dnnl_memory_desc_get_size(md);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!buf) {
        snprintf(S.err, sizeof S.err, "oneDNN matmul: out of memory (%zu bytes of weights)", bytes);
        return S.err;
    }
    dnnl_memory_t user = NULL, packed = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_status_t st = dnnl_memory_create(&user, &user_md, S.engine, (void *)(uintptr_t)w);
    const char *what = "dnnl_memory_create (weights)";
    if (st == dnnl_success) {
        st = dnnl_memory_create(&packed, md, S.engine, buf);
        what = "dnnl_memory_create (reordered weights)";
    }
    if (st == dnnl_success) {
        st = dnnl_reorder_primitive_desc_create(&rpd, &user_md, S.engine, md, S.engine, NULL);
        what = "dnnl_reorder_primitive_desc_create";
    }
    if (st == dnnl_success) {
        st = dnnl_primitive_create(&reorder, rpd);
        what = "dnnl_primitive_create (reorder)";
    }
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, packed}};
        st = dnnl_primitive_execute(reorder, S.stream, 2, args);
        what = "dnnl_primitive_execute (reorder)";
    }
    if (st == dnnl_success) {
        st = dnnl_stream_wait(S.stream);
        what = "dnnl_stream_wait (reorder)";
    }
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (user)
        dnnl_memory_destroy(user);
    if (st != dnnl_success) {
        if (packed)
            dnnl_memory_destroy(packed);
        free(buf);
        return fail(what, st);
    }
    S.wmem = packed;
    S.wmd = *md;
    S.w = w, S.wdim = dim, S.wn = n, S.ldw = ldw, S.wkey = wkey;
    return NULL;
}

/* The primitive for this shape and these strides, and W in its layout (each only when it
 * differs from what is kept). */
static const char *build(size_t rows, size_t dim, size_t n, size_t lda, size_t ldy,
                         const float *w, size_t ldw, uint64_t wkey, const float *bias)
{
    const int has_bias = bias != NULL;
    const int same_prim = S.prim && S.rows == rows && S.dim == dim && S.n == n && S.lda == lda &&
                          S.ldy == ldy && S.has_bias == has_bias;
    const int same_w = S.wmem && S.w == w && S.wdim == dim && S.wn == n && S.ldw == ldw &&
                       S.wkey == wkey;
    if (same_prim && same_w) {
        if (has_bias && bias != S.bias_ptr)
            TRY(dnnl_memory_set_data_handle(S.bias, (void *)(uintptr_t)bias));
        S.bias_ptr = bias;
        return NULL;
    }
    if (!same_prim) {
        drop_primitive();
        dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
        dnnl_dims_t sdims = {(dnnl_dim_t)rows, (dnnl_dim_t)dim}, sstr = {(dnnl_dim_t)lda, 1};
        dnnl_dims_t wdims = {(dnnl_dim_t)dim, (dnnl_dim_t)n};
        dnnl_dims_t bdims = {1, (dnnl_dim_t)n};
        dnnl_dims_t ddims = {(dnnl_dim_t)rows, (dnnl_dim_t)n}, dstr = {(dnnl_dim_t)ldy, 1};
        TRY(dnnl_memory_desc_init_by_strides(&src_md, 2, sdims, dnnl_f32, sstr));
        TRY(dnnl_memory_desc_init_by_tag(&w_md, 2, wdims, dnnl_f32, dnnl_format_tag_any));
        TRY(dnnl_memory_desc_init_by_tag(&b_md, 2, bdims, dnnl_f32, dnnl_ab));
        TRY(dnnl_memory_desc_init_by_strides(&dst_md, 2, ddims, dnnl_f32, dstr));
        dnnl_matmul_desc_t desc;
        TRY(dnnl_matmul_desc_init(&desc, &src_md, &w_md, has_bias ? &b_md : NULL, &dst_md));
        dnnl_primitive_attr_t attr;
        TRY(dnnl_primitive_attr_create(&attr));
        dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
        dnnl_primitive_desc_t pd = NULL;
        if (st == dnnl_success)
            st = dnnl_primitive_desc_create(&pd, &desc, attr, S.engine, NULL);
        dnnl_primitive_attr_destroy(attr);
        if (st != dnnl_success)
            return fail("dnnl_primitive_desc_create (matmul)", st);
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl)
            snprintf(S.impl, sizeof S.impl, "%s", impl);
        const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *scratch_md =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        st = dnnl_primitive_create(&S.prim, pd);
        const char *what = "dnnl_primitive_create (matmul)";
        if (st == dnnl_success) {
            st = dnnl_memory_create(&S.src, &src_md, S.engine, DNNL_MEMORY_NONE);
            what = "dnnl_memory_create (src)";
        }
        if (st == dnnl_success) {
            st = dnnl_memory_create(&S.dst, &dst_md, S.engine, DNNL_MEMORY_NONE);
            what = "dnnl_memory_create (dst)";
        }
        if (st == dnnl_success && has_bias) {
            st = dnnl_memory_create(&S.bias, &b_md, S.engine, DNNL_MEMORY_NONE);
            what = "dnnl_memory_create (bias)";
        }
        if (st == dnnl_success) { /* user scratchpad: no allocation inside the timed call */
            st = dnnl_memory_create(&S.scratch, scratch_md, S.engine, DNNL_MEMORY_ALLOCATE);
            what = "dnnl_memory_create (scratchpad)";
        }
        const char *e = NULL;
        if (st != dnnl_success)
            e = fail(what, st);
        else if (!S.wmem || !dnnl_memory_desc_equal(want, &S.wmd) || !same_w)
            e = reorder_weights(want, w, dim, n, ldw, wkey);
        dnnl_primitive_desc_destroy(pd);
        if (e) {
            drop_primitive();
            return e;
        }
        S.rows = rows, S.dim = dim, S.n = n, S.lda = lda, S.ldy = ldy, S.has_bias = has_bias;
    } else {
        /* same primitive, other weights: the layout it wants is the one kept */
        dnnl_memory_desc_t want = S.wmd;
        const char *e = reorder_weights(&want, w, dim, n, ldw, wkey);
        if (e)
            return e;
    }
    if (has_bias)
        TRY(dnnl_memory_set_data_handle(S.bias, (void *)(uintptr_t)bias));
    S.bias_ptr = bias;
    return NULL;
}

static const char *prepare(size_t rows, size_t dim, size_t n, const float *w, size_t ldw,
                           const float *bias)
{
    if (!S.engine)
        return "oneDNN matmul: not initialised";
    if (rows == 0 || dim == 0 || n == 0 || !w || ldw < dim) {
        snprintf(S.err, sizeof S.err,
                 "oneDNN matmul: bad shape rows %zu dim %zu n %zu ldw %zu", rows, dim, n, ldw);
        return S.err;
    }
    /* prepare() knows no lda/ldy: build for dense a and y (run() rebuilds for others) */
    return build(rows, dim, n, dim, n, w, ldw, nkb_weights_fingerprint(w, dim, n, ldw, NULL), bias);
}

static const char *run(size_t rows, size_t dim, size_t n, const float *a, size_t lda, float *y,
                       size_t ldy)
{
    if (!S.prim || rows != S.rows || dim != S.dim || n != S.n || lda != S.lda || ldy != S.ldy) {
        if (!S.wmem || dim != S.wdim || n != S.wn)
            return "oneDNN matmul: run() without a prepare() for this dim/n";
        if (lda < dim || ldy < n)
            return "oneDNN matmul: lda < dim or ldy < n";
        /* other rows or strides than prepared: rebuild (the weights stay, when the layout
         * the new primitive wants is the same) */
        const char *e = build(rows, dim, n, lda, ldy, S.w, S.ldw, S.wkey, S.bias_ptr);
        if (e)
            return e;
    }
    if ((const void *)a != S.src_ptr) {
        TRY(dnnl_memory_set_data_handle(S.src, (void *)(uintptr_t)a));
        S.src_ptr = a;
    }
    if ((const void *)y != S.dst_ptr) {
        TRY(dnnl_memory_set_data_handle(S.dst, y));
        S.dst_ptr = y;
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, S.src},
                               {DNNL_ARG_WEIGHTS, S.wmem},
                               {DNNL_ARG_DST, S.dst},
                               {DNNL_ARG_SCRATCHPAD, S.scratch},
                               {DNNL_ARG_BIAS, S.bias}};
    TRY(dnnl_primitive_execute(S.prim, S.stream, S.has_bias ? 5 : 4, args));
    TRY(dnnl_stream_wait(S.stream));
    return NULL;
}

static void fini(void)
{
    drop_primitive();
    drop_weights();
    if (S.stream)
        dnnl_stream_destroy(S.stream);
    if (S.engine)
        dnnl_engine_destroy(S.engine);
    memset(&S, 0, sizeof S);
}

int nkb_onednn_linear_init(nkb_linear_peer *peer, char *info, size_t infolen)
{
    fini();
    const dnnl_version_t *v = dnnl_version();
    char ver[112];
    snprintf(ver, sizeof ver, "oneDNN %d.%d.%d (cpu runtime %s, isa %s)", v->major, v->minor,
             v->patch, dnnl_runtime2str(v->cpu_runtime),
             dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));

    nkb_omp_max_threads_fn *max_threads = nkb_omp_limit_to_one();

    dnnl_status_t st = dnnl_engine_create(&S.engine, dnnl_cpu, 0);
    if (st == dnnl_success)
        st = dnnl_stream_create(&S.stream, S.engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        snprintf(info, infolen, "%s; unusable: engine/stream creation failed: %s", ver,
                 dnnl_status2str(st));
        fini();
        return -1;
    }

    /* One real call, of a benchmark's kind, to see whether it starts threads. */
    peer->name = "onednn", peer->prepare = prepare, peer->run = run, peer->fini = fini;
    int before, after;
    char why[sizeof S.err];
    nkb_linear_probe(peer, &before, &after, why, sizeof why);
    drop_primitive();
    drop_weights();
    const int omp = max_threads ? max_threads() : -1;
    const int single = after == before && (omp == 1 || omp == -1);
    snprintf(info, infolen,
             "%s; matmul impl %s (weights reordered once, user scratchpad); "
             "omp_get_max_threads %d; process threads before/after a %dx%dx%d matmul: "
             "%d/%d%s%s%s",
             ver, S.impl[0] ? S.impl : "?", omp, NKB_PROBE_ROWS, NKB_PROBE_DIM, NKB_PROBE_N, before, after,
             single ? " (single-threaded)" : " (NOT single-threaded: peer disabled)",
             why[0] ? "; unusable: " : "", why);
    if (why[0] || !single) {
        fini();
        return -1;
    }
    return 0;
}
