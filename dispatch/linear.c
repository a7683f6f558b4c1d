/*
 * The linear operators' run-time side: blocking sized from the caches, the per-thread
 * workspace of the fused operators, and pre-packed weights (normkit_linear_pack).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "linear.h"
#include "normkit.h"
#include "normkit_kernels.h"

/* ---- blocking ---- */

void normkit_linear_resolve_knobs(const normkit_kparams *in, size_t rows, size_t dim,
                                  normkit_kparams *out)
{
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    normkit_linear_blocking(in, rows, dim, c.bytes[0], c.bytes[1], out);
}

/* ---- the per-thread workspace of the fused operators ---- */

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static int ws_key_ok;

typedef struct {
    float *p;
    size_t floats;
} workspace;

static void ws_destroy(void *v)
{
    workspace *w = v;
    free(w->p);
    free(w);
}

static void ws_init(void)
{
    ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

/* At least `floats` floats, 64-byte aligned, this thread's until it exits; NULL when out of
 * memory (the old buffer is kept then). */
static float *ws_get(size_t floats)
{
    pthread_once(&ws_once, ws_init);
    if (!ws_key_ok)
        return NULL;
    workspace *w = pthread_getspecific(ws_key);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w)
            return NULL;
        if (pthread_setspecific(ws_key, w) != 0) {
            free(w);
            return NULL;
        }
    }
    if (w->floats < floats) {
        const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        float *p = aligned_alloc(64, bytes);
        if (!p)
            return NULL;
        free(w->p);
        w->p = p;
        w->floats = floats;
    }
    return w->p;
}

normkit_status normkit_linear_run(const normkit_kernel *k, const normkit_args *a)
{
    normkit_kparams kp;
    normkit_linear_resolve_knobs(a->kp ? a->kp : normkit_linear_params(k), a->rows, a->dim, &kp);
    normkit_args call = *a;
    call.kp = &kp;
    const int fused = normkit_op_get(k->op)->norm != NORMKIT_NORM_NONE;
    call.ws = ws_get(normkit_linear_ws_floats(&kp, a->rows, a->dim, fused));
    if (!call.ws)
        return NORMKIT_ERR_NOMEM;
    normkit_kernel_call(k, &call);
    return NORMKIT_OK;
}

/* ---- pre-packed weights ---- */

size_t normkit_linear_panels_floats(const normkit_kparams *kp, size_t n, size_t dim)
{
    const size_t nr = kp->pack_nr ? kp->pack_nr : 1, vl = kp->pack_vl ? kp->pack_vl : 1;
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    const size_t kpad = (dim + vl - 1) / vl * vl, groups = (n + nr - 1) / nr;
    if (n == 0 || dim == 0 || dim > max - vl || kpad > max / nr / groups)
        return 0;
    return groups * nr * kpad;
}

void normkit_linear_pack_panels(const normkit_kparams *kp, size_t n, size_t dim, const float *w,
                                size_t ldw, const float *gamma, float *out)
{
    const size_t nr = kp->pack_nr ? kp->pack_nr : 1, vl = kp->pack_vl ? kp->pack_vl : 1;
    const size_t kpad = (dim + vl - 1) / vl * vl;
    /* W(j, k) at panel j / nr, k-vector k / vl, row j % nr, lane k % vl; zeros past n and dim */
    memset(out, 0, normkit_linear_panels_floats(kp, n, dim) * sizeof(float));
    for (size_t j = 0; j < n; j++) {
        const float *wr = w + j * ldw;
        float *panel = out + j / nr * nr * kpad + j % nr * vl;
        for (size_t k = 0; k < dim; k++)
            panel[k / vl * nr * vl + k % vl] = gamma ? wr[k] * gamma[k] : wr[k];
    }
}

struct normkit_linear {
    size_t n, dim;
    normkit_isa isa;    /* the linear variant it was packed for ... */
    unsigned nr, vl;    /* ... and that variant's layout */
    int gamma_folded, beta_folded;
    float *panels;      /* 64-byte aligned */
    float *bias;        /* n floats, or NULL */
};

void normkit_linear_free(normkit_linear *p)
{
    if (!p)
        return;
    free(p->panels);
    free(p->bias);
    free(p);
}

void normkit_linear_shape(const normkit_linear *p, size_t *n, size_t *dim)
{
    if (n)
        *n = p ? p->n : 0;
    if (dim)
        *dim = p ? p->dim : 0;
}

normkit_status normkit_linear_pack(size_t n, size_t dim, const float *w, size_t ldw,
                                   const float *bias, const float *gamma, const float *beta,
                                   normkit_linear **out)
{
    if (!out)
        return NORMKIT_ERR_NULL;
    *out = NULL;
    if (!w)
        return NORMKIT_ERR_NULL;
    if (n == 0 || dim == 0 || !normkit_matrix_ok(n, dim, ldw))
        return NORMKIT_ERR_SHAPE;
    const normkit_kernel *k = normkit_kernel_active(normkit_op_linear);
    const size_t floats = normkit_linear_panels_floats(&k->params, n, dim);
    if (!floats)
        return NORMKIT_ERR_SHAPE;
    normkit_linear *p = calloc(1, sizeof *p);
    if (!p)
        return NORMKIT_ERR_NOMEM;
    p->panels = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if ((bias || beta) && p->panels)
        p->bias = malloc(n * sizeof(float));
    if (!p->panels || ((bias || beta) && !p->bias)) {
        normkit_linear_free(p);
        return NORMKIT_ERR_NOMEM;
    }
    p->n = n, p->dim = dim, p->isa = k->isa;
    p->nr = k->params.pack_nr, p->vl = k->params.pack_vl;
    p->gamma_folded = gamma != NULL, p->beta_folded = beta != NULL;
    normkit_linear_pack_panels(&k->params, n, dim, w, ldw, gamma, p->panels);
    for (size_t j = 0; p->bias && j < n; j++) {
        double b = bias ? (double)bias[j] : 0.0;
        for (size_t kk = 0; beta && kk < dim; kk++)
            b += (double)w[j * ldw + kk] * (double)beta[kk];
        p->bias[j] = (float)b;
    }
    *out = p;
    return NORMKIT_OK;
}

/* The packed calls: the handle's variant must be the one that would run now. */
static normkit_status run_packed(normkit_op op, size_t rows, const float *x, size_t ldx,
                                 const float *gamma, const float *beta, float eps,
                                 const normkit_linear *p, float *y, size_t ldy)
{
    if (rows == 0)
        return NORMKIT_OK;
    if (!p)
        return NORMKIT_ERR_NULL;
    /* checked as a dense n x dim W at the panels (they span at least that much) */
    normkit_args a = {.rows = rows, .dim = p->dim, .n = p->n, .x = x, .ldx = ldx,
                      .gamma = gamma, .beta = beta, .eps = eps, .w = p->panels, .ldw = p->dim,
                      .bias = p->bias, .y = y, .ldy = ldy};
    normkit_status st = normkit_args_check(op, &a);
    if (st != NORMKIT_OK)
        return st;
    a.ldw = 0;
    const normkit_kernel *k = normkit_kernel_active(op);
    if (k->isa != p->isa || k->params.pack_nr != p->nr || k->params.pack_vl != p->vl ||
        (gamma && p->gamma_folded) || (beta && p->beta_folded) ||
        /* gamma folded into W would scale a beta added before W too: beta must be folded */
        (beta && p->gamma_folded))
        return NORMKIT_ERR_PACKED;
    return normkit_linear_run(k, &a);
}

normkit_status normkit_linear_packed_f32(size_t rows, const float *x, size_t ldx,
                                         const normkit_linear *w, float *y, size_t ldy)
{
    return run_packed(normkit_op_linear, rows, x, ldx, NULL, NULL, 0.0f, w, y, ldy);
}

normkit_status normkit_rmsnorm_linear_packed_f32(size_t rows, const float *x, size_t ldx,
                                                 const float *gamma, float eps,
                                                 const normkit_linear *w, float *y, size_t ldy)
{
    return run_packed(normkit_op_rmsnorm_linear, rows, x, ldx, gamma, NULL, eps, w, y, ldy);
}

normkit_status normkit_layernorm_linear_packed_f32(size_t rows, const float *x, size_t ldx,
                                                   const float *gamma, const float *beta,
                                                   float eps, const normkit_linear *w, float *y,
                                                   size_t ldy)
{
    return run_packed(normkit_op_layernorm_linear, rows, x, ldx, gamma, beta, eps, w, y, ldy);
}
