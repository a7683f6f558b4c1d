/*
 * Transformer FFN blocks composed from normkit's kernels (include/normkit_block.h): how the
 * operators fit together in the pre-norm and post-norm layouts, written to be read.
 *
 * A block holds its weights packed, once, in the layout of the linear variant it runs (for the
 * scalar variant that layout is plain row-major), and calls the variants of one ISA directly
 * through the registry (normkit_kernel_call): forward() checks its own arguments, and every
 * call below then meets the kernel-level contract by construction.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linear.h"
#include "normkit.h"
#include "normkit_block.h"
#include "normkit_kernels.h"

struct normkit_block {
    normkit_layout layout;
    normkit_norm norm;
    normkit_act act;
    int gated;
    size_t dim, hidden;
    float eps;
    normkit_isa isa;
    normkit_block_path path;
    /* the variants this block calls, all of `isa` (the scalar ones for the scalar path) */
    const normkit_kernel *k_norm, *k_add_norm, *k_norm_linear, *k_linear;
    const normkit_kernel *k_act, *k_mul, *k_add;
    /* gamma and beta (NULL: 1 and 0), unless folded into W1 and W3 (pre-norm, fused) */
    float *gamma, *beta;
    /* W1, W3 [hidden x dim] and W2 [dim x hidden], packed for k_linear (ldw 0 in the calls);
     * the biases (hidden, hidden, dim floats, or NULL) */
    float *w1, *w3, *w2, *b1, *b3, *b2;
};

/* ---- names ---- */

static const char *const layout_names[] = {"prenorm", "postnorm"};
static const char *const path_names[] = {"scalar", "unfused", "fused"};
static const char *const act_names[] = {"none", "gelu", "silu"};

static int index_of(const char *const *names, int count, const char *name)
{
    for (int i = 0; name && i < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

const char *normkit_layout_name(normkit_layout l)
{
    return (unsigned)l < 2 ? layout_names[l] : NULL;
}

const char *normkit_block_path_name(normkit_block_path p)
{
    return (unsigned)p < 3 ? path_names[p] : NULL;
}

const char *normkit_act_name(normkit_act a)
{
    return a == NORMKIT_ACT_GELU || a == NORMKIT_ACT_SILU ? act_names[a] : NULL;
}

int normkit_layout_from_name(const char *name)
{
    return index_of(layout_names, 2, name);
}

int normkit_block_path_from_name(const char *name)
{
    return index_of(path_names, 3, name);
}

int normkit_act_from_name(const char *name)
{
    const int a = index_of(act_names, 3, name);
    return a > 0 ? a : -1;
}

/* ---- creation ---- */

/* The variant of `op` for `isa`; the scalar one where the build has none for `isa`. */
static const normkit_kernel *variant(normkit_isa isa, normkit_op op)
{
    const normkit_kernel *k = normkit_kernels_for(isa, op);
    return k ? k : normkit_kernels_for(NORMKIT_ISA_SCALAR, op);
}

static float *copy_vec(const float *v, size_t n, int *fail)
{
    if (!v || *fail)
        return NULL;
    float *c = malloc(n * sizeof(float));
    if (!c)
        *fail = 1;
    else
        memcpy(c, v, n * sizeof(float));
    return c;
}

/* W [n x dim], times gamma per column when gamma is not NULL, in the panels of the block's
 * linear variant (64-byte aligned, as the variants' vector loads prefer). */
static float *pack(const normkit_block *b, size_t n, size_t dim, const float *w,
                   const float *gamma, int *fail)
{
    if (*fail)
        return NULL;
    const size_t floats = normkit_linear_panels_floats(&b->k_linear->params, n, dim);
    float *p = floats ? aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64) : NULL;
    if (!p) {
        *fail = 1;
        return NULL;
    }
    normkit_linear_pack_panels(&b->k_linear->params, n, dim, w, dim, gamma, p);
    return p;
}

/* b' = b + W beta, summed in double: LayerNorm's shift folded into the next bias. */
static float *fold_beta(const float *w, const float *bias, const float *beta, size_t n,
                        size_t dim, int *fail)
{
    if (*fail)
        return NULL;
    float *c = malloc(n * sizeof(float));
    if (!c) {
        *fail = 1;
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        double s = bias ? bias[j] : 0.0;
        for (size_t k = 0; k < dim; k++)
            s += (double)w[j * dim + k] * beta[k];
        c[j] = (float)s;
    }
    return c;
}

void normkit_block_free(normkit_block *b)
{
    if (!b)
        return;
    free(b->gamma);
    free(b->beta);
    free(b->w1);
    free(b->w3);
    free(b->w2);
    free(b->b1);
    free(b->b3);
    free(b->b2);
    free(b);
}

static normkit_status check_desc(const normkit_block_desc *d)
{
    if ((unsigned)d->layout > NORMKIT_POSTNORM ||
        (d->norm != NORMKIT_NORM_RMS && d->norm != NORMKIT_NORM_LN) ||
        (d->act != NORMKIT_ACT_GELU && d->act != NORMKIT_ACT_SILU))
        return NORMKIT_ERR_SHAPE;
    if (!d->w1 || !d->w2 || (d->gated && !d->w3))
        return NORMKIT_ERR_NULL;
    if (d->dim == 0 || d->hidden == 0 || (!d->gated && (d->w3 || d->b3)) ||
        (d->norm == NORMKIT_NORM_RMS && d->beta))
        return NORMKIT_ERR_SHAPE;
    /* W1 (hidden x dim) must be addressable, and the workspace of one row with it */
    if (!normkit_matrix_ok(d->hidden, d->dim, d->dim) || d->hidden > ((size_t)1 << 40) ||
        d->dim > ((size_t)1 << 40))
        return NORMKIT_ERR_SHAPE;
    if (!(d->eps >= 0.0f && d->eps <= FLT_MAX)) /* NaN fails both */
        return NORMKIT_ERR_EPS;
    return NORMKIT_OK;
}

normkit_status normkit_block_create(const normkit_block_desc *d, normkit_isa isa,
                                    normkit_block_path path, normkit_block **out)
{
    if (!out)
        return NORMKIT_ERR_NULL;
    *out = NULL;
    if (!d)
        return NORMKIT_ERR_NULL;
    if ((unsigned)path > NORMKIT_PATH_FUSED || (unsigned)isa >= NORMKIT_ISA_COUNT)
        return NORMKIT_ERR_SHAPE;
    normkit_status st = check_desc(d);
    if (st != NORMKIT_OK)
        return st;
    if (path == NORMKIT_PATH_SCALAR)
        isa = NORMKIT_ISA_SCALAR;
    else if (isa == NORMKIT_ISA_AUTO)
        isa = normkit_isa_active();
    if (!normkit_isa_supported(isa))
        return NORMKIT_ERR_UNSUPPORTED;

    normkit_block *b = calloc(1, sizeof *b);
    if (!b)
        return NORMKIT_ERR_NOMEM;
    *b = (normkit_block){.layout = d->layout, .norm = d->norm, .act = d->act,
                         .gated = d->gated != 0, .dim = d->dim, .hidden = d->hidden,
                         .eps = d->eps, .isa = isa, .path = path};
    const int rms = d->norm == NORMKIT_NORM_RMS;
    b->k_norm = variant(isa, rms ? normkit_op_rmsnorm : normkit_op_layernorm);
    b->k_add_norm = variant(isa, rms ? normkit_op_add_rmsnorm : normkit_op_add_layernorm);
    b->k_norm_linear = variant(isa, rms ? normkit_op_rmsnorm_linear : normkit_op_layernorm_linear);
    b->k_linear = variant(isa, normkit_op_linear);
    b->k_act = variant(isa, d->act == NORMKIT_ACT_GELU ? normkit_op_gelu : normkit_op_silu);
    b->k_mul = variant(isa, normkit_op_mul);
    b->k_add = variant(isa, normkit_op_add);

    int fail = 0;
    const size_t D = d->dim, H = d->hidden;
    /* Pre-norm, fused: the norm's gamma scales W1's and W3's columns and its beta shifts their
     * biases, so the fused kernel normalizes with scale 1 and shift 0 and the matmul does the
     * rest (y = (z * gamma + beta) W^T + b = z (W diag(gamma))^T + (b + W beta)). */
    const int fold = path == NORMKIT_PATH_FUSED && d->layout == NORMKIT_PRENORM;
    if (fold) {
        b->w1 = pack(b, H, D, d->w1, d->gamma, &fail);
        b->b1 = d->beta ? fold_beta(d->w1, d->b1, d->beta, H, D, &fail) : copy_vec(d->b1, H, &fail);
        if (d->gated) {
            b->w3 = pack(b, H, D, d->w3, d->gamma, &fail);
            b->b3 = d->beta ? fold_beta(d->w3, d->b3, d->beta, H, D, &fail)
                            : copy_vec(d->b3, H, &fail);
        }
    } else {
        b->gamma = copy_vec(d->gamma, D, &fail);
        b->beta = copy_vec(d->beta, D, &fail);
        b->w1 = pack(b, H, D, d->w1, NULL, &fail);
        b->b1 = copy_vec(d->b1, H, &fail);
        if (d->gated) {
            b->w3 = pack(b, H, D, d->w3, NULL, &fail);
            b->b3 = copy_vec(d->b3, H, &fail);
        }
    }
    b->w2 = pack(b, D, H, d->w2, NULL, &fail);
    b->b2 = copy_vec(d->b2, D, &fail);
    if (fail) {
        normkit_block_free(b);
        return NORMKIT_ERR_NOMEM;
    }
    *out = b;
    return NORMKIT_OK;
}

normkit_isa normkit_block_isa(const normkit_block *b)
{
    return b ? b->isa : NORMKIT_ISA_AUTO;
}

normkit_block_path normkit_block_get_path(const normkit_block *b)
{
    return b ? b->path : NORMKIT_PATH_SCALAR;
}

double normkit_block_flops_per_row(const normkit_block *b)
{
    return b ? 2.0 * (double)b->dim * (double)b->hidden * (b->gated ? 3.0 : 2.0) : 0.0;
}

/* ---- the workspace ---- */

/* The pieces of forward()'s workspace, in floats, each starting 64-byte aligned:
 * t1 [rows x hidden]  act(W1 u + b1)
 * t3 [rows x hidden]  gated: (W3 u + b3) * t1
 * u  [rows x dim]     unfused pre-norm: Norm(x); post-norm: FFN(x), then x + FFN(x)
 * lw                  the linear variants' own workspace (the largest any call here takes) */
typedef struct {
    size_t t1, t3, u, lw, total; /* offsets and the total, in floats */
} ws_plan;

static size_t round16(size_t f)
{
    return (f + 15) / 16 * 16;
}

/* The linear workspace one call of k (rows x din) takes, with its resolved knobs. */
static size_t lin_ws(const normkit_kernel *k, size_t rows, size_t din, normkit_kparams *kp)
{
    normkit_linear_resolve_knobs(normkit_linear_params(k), rows, din, kp);
    return normkit_linear_ws_floats(kp, rows, din, normkit_op_get(k->op)->norm != NORMKIT_NORM_NONE);
}

static int plan(const normkit_block *b, size_t rows, ws_plan *p)
{
    const size_t D = b->dim, H = b->hidden;
    /* sizes below 2^40 each (check_desc), so only rows can make these overflow */
    if (rows > ((size_t)1 << 62) / (H > D ? H : D) / 4)
        return 0;
    normkit_kparams kp;
    size_t lw = lin_ws(b->k_linear, rows, D, &kp);
    const size_t l2 = lin_ws(b->k_linear, rows, H, &kp);
    const size_t l3 = lin_ws(b->k_norm_linear, rows, D, &kp);
    lw = lw > l2 ? lw : l2;
    lw = lw > l3 ? lw : l3;
    p->t1 = 0;
    p->t3 = round16(rows * H);
    p->u = p->t3 + (b->gated ? round16(rows * H) : 0);
    p->lw = p->u + round16(rows * D);
    p->total = p->lw + round16(lw);
    return p->total < ((size_t)1 << 61);
}

size_t normkit_block_ws_bytes(const normkit_block *b, size_t rows)
{
    ws_plan p;
    if (!b || !plan(b, rows, &p))
        return 0;
    return p.total * sizeof(float) + 64; /* + 64: any alignment of the caller's buffer */
}

/* ---- forward ---- */

typedef struct {
    const normkit_block *b;
    size_t rows;
    float *lw; /* the linear variants' workspace */
} fwd;

/* y [rows x n] = A W^T + bias (A = x, or Norm(x) with k_norm_linear), then the epilogue. */
static void linear(const fwd *f, const normkit_kernel *k, size_t din, size_t n, const float *x,
                   size_t ldx, const float *w, const float *bias, float *y, size_t ldy,
                   const normkit_epilogue *epi)
{
    const normkit_block *b = f->b;
    normkit_kparams kp;
    normkit_linear_resolve_knobs(normkit_linear_params(k), f->rows, din, &kp);
    const normkit_args a = {.rows = f->rows, .dim = din, .n = n, .x = x, .ldx = ldx,
                            .gamma = k->op == normkit_op_linear ? NULL : b->gamma,
                            .beta = k->op == normkit_op_linear ? NULL : b->beta, .eps = b->eps,
                            .w = w, .ldw = 0, .bias = bias, .y = y, .ldy = ldy, .kp = &kp,
                            .ws = f->lw, .epi = epi};
    normkit_kernel_call(k, &a);
}

/* An elementwise step (act: y = act(x); add, mul: y = x op r) over rows x n. */
static void elementwise(const fwd *f, const normkit_kernel *k, size_t n, const float *x,
                        size_t ldx, const float *r, size_t ldr, float *y, size_t ldy)
{
    const normkit_args a = {.rows = f->rows, .dim = n, .x = x, .ldx = ldx, .r = (float *)r,
                            .ldr = ldr, .y = y, .ldy = ldy, .kp = &k->params};
    normkit_kernel_call(k, &a);
}

/* The norm (add: 0) or add + norm (r read, then overwritten with x + r) over rows x dim. */
static void norm(const fwd *f, const normkit_kernel *k, const float *x, size_t ldx, float *r,
                 float *y, size_t ldy)
{
    const normkit_block *b = f->b;
    const normkit_args a = {.rows = f->rows, .dim = b->dim, .x = x, .ldx = ldx, .r = r,
                            .ldr = b->dim, .gamma = b->gamma, .beta = b->beta, .eps = b->eps,
                            .y = y, .ldy = ldy, .kp = &k->params};
    normkit_kernel_call(k, &a);
}

/*
 * t = act(W1 u + b1) [* (W3 u + b3)] into t1 (gated: t3), u = x or, with k_first =
 * k_norm_linear, Norm(x). Fused: the activation and the product in the epilogues; unfused: one
 * call per step. Returns the buffer holding t.
 */
static float *ffn_hidden(const fwd *f, const normkit_kernel *k_first, const float *u, size_t ldu,
                         float *t1, float *t3, int fused)
{
    const normkit_block *b = f->b;
    const size_t D = b->dim, H = b->hidden;
    if (fused) {
        const normkit_epilogue act = {.act = b->act};
        linear(f, k_first, D, H, u, ldu, b->w1, b->b1, t1, H, &act);
        if (!b->gated)
            return t1;
        const normkit_epilogue gate = {.mul = t1, .ldmul = H};
        linear(f, k_first, D, H, u, ldu, b->w3, b->b3, t3, H, &gate);
        return t3;
    }
    linear(f, k_first, D, H, u, ldu, b->w1, b->b1, t1, H, NULL);
    elementwise(f, b->k_act, H, t1, H, NULL, 0, t1, H);
    if (!b->gated)
        return t1;
    linear(f, k_first, D, H, u, ldu, b->w3, b->b3, t3, H, NULL);
    elementwise(f, b->k_mul, H, t3, H, t1, H, t3, H);
    return t3;
}

static int overlaps(const float *a, size_t alen, const float *b, size_t blen)
{
    const uintptr_t a0 = (uintptr_t)a, a1 = a0 + alen * sizeof(float);
    const uintptr_t b0 = (uintptr_t)b, b1 = b0 + blen * sizeof(float);
    return a0 < b1 && b0 < a1;
}

normkit_status normkit_block_forward(const normkit_block *b, size_t rows, const float *x,
                                     size_t ldx, float *h, size_t ldh, void *ws, size_t ws_bytes)
{
    if (!b || !x || !h)
        return NORMKIT_ERR_NULL;
    if (rows == 0)
        return NORMKIT_OK;
    const size_t D = b->dim, H = b->hidden;
    ws_plan p;
    if (ldx < D || ldh < D || !normkit_matrix_ok(rows, D, ldx) || !normkit_matrix_ok(rows, D, ldh) ||
        !plan(b, rows, &p))
        return NORMKIT_ERR_SHAPE;
    if (overlaps(x, (rows - 1) * ldx + D, h, (rows - 1) * ldh + D))
        return NORMKIT_ERR_SHAPE;
    void *own = NULL;
    const size_t need = p.total * sizeof(float) + 64;
    if (!ws) {
        ws = own = malloc(need);
        if (!own)
            return NORMKIT_ERR_NOMEM;
    } else if (ws_bytes < need) {
        return NORMKIT_ERR_SHAPE;
    }
    float *base = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    float *t1 = base + p.t1, *t3 = base + p.t3, *u = base + p.u;
    const fwd f = {.b = b, .rows = rows, .lw = base + p.lw};
    const int fused = b->path == NORMKIT_PATH_FUSED;

    if (b->layout == NORMKIT_PRENORM) {
        /* h = x + W2 t + b2, t = act(W1 Norm(x) + b1) [* (W3 Norm(x) + b3)] */
        const float *t;
        if (fused) {
            /* Norm fused into W1's (and W3's) matmul, gamma and beta folded into the weights */
            t = ffn_hidden(&f, b->k_norm_linear, x, ldx, t1, t3, 1);
            const normkit_epilogue residual = {.add = x, .ldadd = ldx};
            linear(&f, b->k_linear, H, D, t, H, b->w2, b->b2, h, ldh, &residual);
        } else {
            norm(&f, b->k_norm, x, ldx, NULL, u, D);
            t = ffn_hidden(&f, b->k_linear, u, D, t1, t3, 0);
            linear(&f, b->k_linear, H, D, t, H, b->w2, b->b2, h, ldh, NULL);
            elementwise(&f, b->k_add, D, h, ldh, x, ldx, h, ldh);
        }
    } else {
        /* h = Norm(x + W2 t + b2), t = act(W1 x + b1) [* (W3 x + b3)] */
        const float *t = ffn_hidden(&f, b->k_linear, x, ldx, t1, t3, fused);
        linear(&f, b->k_linear, H, D, t, H, b->w2, b->b2, u, D, NULL);
        if (fused) {
            /* one kernel: u <- x + u, h = Norm(u) */
            norm(&f, b->k_add_norm, x, ldx, u, h, ldh);
        } else {
            elementwise(&f, b->k_add, D, x, ldx, u, D, u, D);
            norm(&f, b->k_norm, u, D, NULL, h, ldh);
        }
    }
    free(own);
    return NORMKIT_OK;
}
