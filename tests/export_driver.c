/*
 * The driver of tests/test_export.py: links one export (prefix nkt_, every exportable op, one
 * ISA; its .c compiled alone with plain `cc -c`) with the in-tree library and checks, per op:
 *  - results against the float64 reference (tests/reference.c) within normkit's bounds
 *    (nk_norm_bound; the linear bound of tests/test_linear.c) on a set of shapes: dims 1..67
 *    (some), 768, 4096, several rows, strides > dim, unaligned pointers, y == x in place for
 *    the norms, r = fl(x + r) for add+norm, nothing written outside the outputs;
 *  - bit-identical results to the library's public entry point with the dispatcher forced to
 *    the export's ISA (when the export's baked cache sizes are the library's);
 *  - every bad-argument case: the public entry point's status, and nothing written.
 * Usage: export_driver ISA (compiled with -DNKT_SUPPORTED=nkt_normkit_<isa>_supported).
 * Exit 0 when all pass, 1 otherwise, 77 when this CPU cannot run the ISA.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_f64.h"
#include "cpu.h"
#include "normkit.h"
#include "normkit_kernels.h"
#include "nkt_normkit.h"
#include "reference.h"

#define U 0x1p-24

static int failures, checks;

#define FAIL(...)                                                                                 \
    do {                                                                                          \
        fprintf(stderr, "FAIL: " __VA_ARGS__);                                                    \
        fputc('\n', stderr);                                                                      \
        if (++failures > 30)                                                                      \
            exit(1);                                                                              \
    } while (0)

static uint64_t rng_state = 0x6578706f7274ull; /* "export" */
static float rnd(float lo, float hi)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * (float)((z >> 40) * 0x1p-24);
}

static float canary(void)
{
    const uint32_t b = 0x7fc0dead; /* a quiet NaN no arithmetic produces */
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void *xalloc(size_t floats)
{
    float *p = malloc((floats + 16) * sizeof(float));
    if (!p) {
        perror("malloc");
        exit(2);
    }
    return p;
}

/* The exported function of op, and the library's, on the same arguments. */
static int call_export(normkit_op op, const normkit_args *a)
{
    switch (op) {
    case normkit_op_rmsnorm:
        return nkt_rmsnorm_f32(a->rows, a->dim, a->x, a->ldx, a->gamma, a->eps, a->y, a->ldy);
    case normkit_op_layernorm:
        return nkt_layernorm_f32(a->rows, a->dim, a->x, a->ldx, a->gamma, a->beta, a->eps, a->y,
                                 a->ldy);
    case normkit_op_add_rmsnorm:
        return nkt_add_rmsnorm_f32(a->rows, a->dim, a->x, a->ldx, a->r, a->ldr, a->gamma, a->eps,
                                   a->y, a->ldy);
    case normkit_op_add_layernorm:
        return nkt_add_layernorm_f32(a->rows, a->dim, a->x, a->ldx, a->r, a->ldr, a->gamma,
                                     a->beta, a->eps, a->y, a->ldy);
    case normkit_op_linear:
        return nkt_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->w, a->ldw, a->bias, a->y,
                              a->ldy);
    case normkit_op_rmsnorm_linear:
        return nkt_rmsnorm_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->gamma, a->eps, a->w,
                                      a->ldw, a->bias, a->y, a->ldy);
    case normkit_op_layernorm_linear:
        return nkt_layernorm_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->gamma, a->beta,
                                        a->eps, a->w, a->ldw, a->bias, a->y, a->ldy);
    default: abort();
    }
}

static int call_lib(normkit_op op, const normkit_args *a)
{
    switch (op) {
    case normkit_op_rmsnorm:
        return normkit_rmsnorm_f32(a->rows, a->dim, a->x, a->ldx, a->gamma, a->eps, a->y, a->ldy);
    case normkit_op_layernorm:
        return normkit_layernorm_f32(a->rows, a->dim, a->x, a->ldx, a->gamma, a->beta, a->eps,
                                     a->y, a->ldy);
    case normkit_op_add_rmsnorm:
        return normkit_add_rmsnorm_f32(a->rows, a->dim, a->x, a->ldx, a->r, a->ldr, a->gamma,
                                       a->eps, a->y, a->ldy);
    case normkit_op_add_layernorm:
        return normkit_add_layernorm_f32(a->rows, a->dim, a->x, a->ldx, a->r, a->ldr, a->gamma,
                                         a->beta, a->eps, a->y, a->ldy);
    case normkit_op_linear:
        return normkit_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->w, a->ldw, a->bias,
                                  a->y, a->ldy);
    case normkit_op_rmsnorm_linear:
        return normkit_rmsnorm_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->gamma, a->eps,
                                          a->w, a->ldw, a->bias, a->y, a->ldy);
    case normkit_op_layernorm_linear:
        return normkit_layernorm_linear_f32(a->rows, a->dim, a->n, a->x, a->ldx, a->gamma,
                                            a->beta, a->eps, a->w, a->ldw, a->bias, a->y,
                                            a->ldy);
    default: abort();
    }
}

static const normkit_op OPS[] = {normkit_op_rmsnorm,        normkit_op_layernorm,
                                 normkit_op_add_rmsnorm,    normkit_op_add_layernorm,
                                 normkit_op_linear,         normkit_op_rmsnorm_linear,
                                 normkit_op_layernorm_linear};

/* One call's buffers: inputs random, outputs (y, and r for add+norm) canaries outside the
 * matrices. `off` floats misalign every pointer. */
typedef struct {
    normkit_op op;
    const normkit_op_info *info;
    size_t ylen, rlen, xlen;
    float *xb, *rb, *yb, *wb, *gb, *bb, *biasb; /* allocations */
    normkit_args a;
} call_case;

static size_t span(size_t rows, size_t cols, size_t ld)
{
    return (rows - 1) * ld + cols;
}

static void make_case(call_case *c, normkit_op op, size_t rows, size_t dim, size_t n, size_t pad,
                      size_t off, int use_gb)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    c->info = normkit_op_get(op);
    normkit_args *a = &c->a;
    a->rows = rows, a->dim = dim, a->n = c->info->linear ? n : 0, a->eps = 1e-5f;
    a->ldx = dim + pad, a->ldr = dim + 2 * pad;
    a->ldy = (c->info->linear ? n : dim) + pad + (pad ? 1 : 0);
    const size_t ycols = c->info->linear ? n : dim;
    c->xlen = span(rows, dim, a->ldx) + 2 * off + 16;
    c->ylen = span(rows, ycols, a->ldy) + 2 * off + 16;
    c->rlen = span(rows, dim, a->ldr) + 2 * off + 16;
    c->xb = xalloc(c->xlen);
    for (size_t i = 0; i < c->xlen; i++)
        c->xb[i] = rnd(-2.0f, 2.0f);
    a->x = c->xb + off;
    c->yb = xalloc(c->ylen);
    for (size_t i = 0; i < c->ylen; i++)
        c->yb[i] = canary();
    a->y = c->yb + off;
    if (c->info->residual) {
        c->rb = xalloc(c->rlen);
        for (size_t i = 0; i < c->rlen; i++)
            c->rb[i] = rnd(-2.0f, 2.0f);
        a->r = c->rb + off;
    }
    if (use_gb) {
        c->gb = xalloc(dim + off);
        c->bb = xalloc(dim + off);
        for (size_t i = 0; i < dim + off; i++)
            c->gb[i] = rnd(0.5f, 1.5f), c->bb[i] = rnd(-0.5f, 0.5f);
        a->gamma = c->gb + off;
        a->beta = c->info->beta ? c->bb + off : NULL;
    }
    if (c->info->linear) {
        a->ldw = dim + pad;
        c->wb = xalloc(span(n, dim, a->ldw) + off);
        for (size_t i = 0; i < span(n, dim, a->ldw) + off; i++)
            c->wb[i] = rnd(-1.0f, 1.0f);
        a->w = c->wb + off;
        if (use_gb) {
            c->biasb = xalloc(n + off);
            for (size_t i = 0; i < n + off; i++)
                c->biasb[i] = rnd(-1.0f, 1.0f);
            a->bias = c->biasb + off;
        }
    }
}

static void free_case(call_case *c)
{
    free(c->xb), free(c->rb), free(c->yb), free(c->wb), free(c->gb), free(c->bb), free(c->biasb);
}

/* A copy of the case's writable buffers (y, r, and x for in-place calls). */
typedef struct {
    float *x, *y, *r;
} snapshot;

static void snap(const call_case *c, snapshot *s)
{
    s->x = xalloc(c->xlen), s->y = xalloc(c->ylen), s->r = c->rb ? xalloc(c->rlen) : NULL;
    memcpy(s->x, c->xb, c->xlen * sizeof(float));
    memcpy(s->y, c->yb, c->ylen * sizeof(float));
    if (c->rb)
        memcpy(s->r, c->rb, c->rlen * sizeof(float));
}

static void restore(call_case *c, const snapshot *s)
{
    memcpy(c->xb, s->x, c->xlen * sizeof(float));
    memcpy(c->yb, s->y, c->ylen * sizeof(float));
    if (c->rb)
        memcpy(c->rb, s->r, c->rlen * sizeof(float));
}

static int same(const call_case *c, const snapshot *s)
{
    return memcmp(c->xb, s->x, c->xlen * sizeof(float)) == 0 &&
           memcmp(c->yb, s->y, c->ylen * sizeof(float)) == 0 &&
           (!c->rb || memcmp(c->rb, s->r, c->rlen * sizeof(float)) == 0);
}

static void free_snap(snapshot *s)
{
    free(s->x), free(s->y), free(s->r);
}

static int is_canary(float f)
{
    float c = canary();
    return memcmp(&f, &c, sizeof f) == 0;
}

/* The finished call in c against the float64 reference, from the inputs in s. */
static void check_result(const call_case *c, const snapshot *s, const char *what)
{
    const normkit_args *a = &c->a;
    const size_t dim = a->dim, off = (size_t)(a->x - c->xb);
    const normkit_norm norm = c->info->norm;
    double *ref = malloc(dim * sizeof *ref), *e = malloc(dim * sizeof *e);
    float *h = malloc(dim * sizeof *h);
    const size_t ycols = c->info->linear ? a->n : dim;
    int bad = 0;
    for (size_t i = 0; i < a->rows && !bad; i++) {
        const float *xin = s->x + off + i * a->ldx;
        for (size_t k = 0; k < dim; k++)
            h[k] = c->info->residual ? xin[k] + s->r[off + i * a->ldr + k] : xin[k];
        if (c->info->residual)
            for (size_t k = 0; k < dim && !bad; k++)
                if (memcmp(&h[k], &a->r[i * a->ldr + k], sizeof(float)) != 0)
                    {
                    bad = 1;
                    FAIL("%s: r[%zu][%zu] is not x + r", what, i, k);
                }
        double zmax = 0.0;
        nk_ref_row((int)c->op, dim, h, a->gamma, a->beta, a->eps, ref, &zmax);
        const double inv_s = norm == NORMKIT_NORM_LN ? ref_ln_inv_s(dim, h, a->eps) : 0.0;
        for (size_t k = 0; k < dim; k++)
            e[k] = norm == NORMKIT_NORM_NONE
                       ? 0.0
                       : nk_norm_bound(norm, dim, ref[k], a->gamma ? a->gamma[k] : 1.0, zmax, inv_s);
        const float *yr = a->y + i * a->ldy;
        for (size_t j = 0; j < ycols && !bad; j++) {
            double want = ref[j], bound = e[j];
            if (c->info->linear) {
                const float *wr = a->w + j * a->ldw;
                double sum = a->bias ? a->bias[j] : 0.0, mag = 0.0, err = 0.0;
                for (size_t k = 0; k < dim; k++) {
                    sum += ref[k] * wr[k];
                    mag += fabs((double)wr[k]) * fabs(ref[k]);
                    err += e[k] * fabs((double)wr[k]);
                }
                want = sum;
                bound = err + ((double)dim + 4.0) * U * mag + U * fabs(sum) +
                        (double)dim * 0x1p-149;
            }
            if (!(fabs((double)yr[j] - want) <= bound))
                {
                    bad = 1;
                    FAIL("%s: y[%zu][%zu] = %.9g, reference %.12g, bound %.3g", what, i, j,
                              yr[j], want, bound);
                }
        }
        /* the stride gap after the row (or a tail after the last row) is untouched, unless
         * y is x (in place, the gap holds x) */
        const size_t gap = i + 1 < a->rows ? a->ldy - ycols : 8;
        for (size_t j = 0; j < gap && !bad && (const float *)a->y != a->x; j++)
            if (!is_canary(yr[ycols + j]))
                {
                    bad = 1;
                    FAIL("%s: y written outside its rows at [%zu][%zu]", what, i, ycols + j);
                }
    }
    checks++;
    free(ref), free(e), free(h);
}

static int identity_ok; /* the export's baked caches are the library's */

/* One shape: the export against the reference, then against the library, bit for bit. */
static void run_shape(normkit_op op, size_t rows, size_t dim, size_t n, size_t pad, size_t off,
                      int use_gb, int in_place)
{
    char what[160];
    snprintf(what, sizeof what, "%s rows %zu dim %zu n %zu pad %zu off %zu%s%s",
             normkit_op_name(op), rows, dim, n, pad, off, use_gb ? "" : " no gamma/beta/bias",
             in_place ? " in place" : "");
    call_case c;
    make_case(&c, op, rows, dim, n, pad, off, use_gb);
    if (in_place) {
        c.a.y = (float *)c.a.x;
        c.a.ldy = c.a.ldx;
    }
    snapshot s0;
    snap(&c, &s0);
    int st = call_export(op, &c.a);
    if (st != 0) {
        FAIL("%s: status %d", what, st);
    } else {
        check_result(&c, &s0, what);
        if (identity_ok) {
            snapshot se;
            snap(&c, &se);
            restore(&c, &s0);
            int ls = call_lib(op, &c.a);
            if (ls != 0 || !same(&c, &se))
                FAIL("%s: not bit-identical to the library (status %d)", what, ls);
            checks++;
            free_snap(&se);
        }
    }
    free_snap(&s0);
    free_case(&c);
}

/* Bad arguments: the exported status must be the library's, non-zero (0 for rows == 0), with
 * nothing written. */
typedef enum {
    B_ROWS0, B_XNULL, B_YNULL, B_RNULL, B_WNULL, B_DIM0, B_N0, B_LDX, B_LDY, B_LDR, B_LDW,
    B_HUGE, B_EPSNAN, B_EPSNEG, B_EPSINF, B_YR, B_YX_STRIDE, B_Y_OVER_X, B_Y_OVER_W,
    B_Y_BIAS, B_Y_GAMMA, B_COUNT
} bad_kind;
static const char *const bad_names[B_COUNT] = {
    "rows 0 (all else NULL)", "x NULL", "y NULL", "r NULL", "w NULL", "dim 0", "n 0",
    "ldx < dim", "ldy < dim/n", "ldr < dim", "ldw < dim", "rows beyond the address space",
    "eps NaN", "eps -1", "eps Inf", "y == r", "y == x, other stride", "y overlaps x",
    "y overlaps W", "y == bias", "y == gamma"};

static void run_bad(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    for (int b = 0; b < B_COUNT; b++) {
        if ((b == B_RNULL || b == B_LDR || b == B_YR) && !info->residual)
            continue;
        if ((b == B_WNULL || b == B_N0 || b == B_LDW || b == B_Y_OVER_X || b == B_Y_OVER_W ||
             b == B_Y_BIAS || b == B_Y_GAMMA) && !info->linear)
            continue;
        if ((b == B_YX_STRIDE && info->linear) ||
            (b == B_Y_GAMMA && info->norm == NORMKIT_NORM_NONE))
            continue;
        if ((b == B_EPSNAN || b == B_EPSNEG || b == B_EPSINF) && info->norm == NORMKIT_NORM_NONE)
            continue;
        call_case c;
        make_case(&c, op, 3, 20, 6, 2, 1, 1);
        normkit_args *a = &c.a;
        float *big = NULL;
        switch ((bad_kind)b) {
        case B_ROWS0: memset(a, 0, sizeof *a); a->eps = NAN; break;
        case B_XNULL: a->x = NULL; break;
        case B_YNULL: a->y = NULL; break;
        case B_RNULL: a->r = NULL; break;
        case B_WNULL: a->w = NULL; break;
        case B_DIM0: a->dim = 0; break;
        case B_N0: a->n = 0; break;
        case B_LDX: a->ldx = a->dim - 1; break;
        case B_LDY: a->ldy = (info->linear ? a->n : a->dim) - 1; break;
        case B_LDR: a->ldr = a->dim - 1; break;
        case B_LDW: a->ldw = a->dim - 1; break;
        case B_HUGE: a->rows = (size_t)1 << (sizeof(size_t) * 8 - 4); break;
        case B_EPSNAN: a->eps = NAN; break;
        case B_EPSNEG: a->eps = -1.0f; break;
        case B_EPSINF: a->eps = INFINITY; break;
        case B_YR: a->y = a->r; a->ldy = a->ldr; break;
        case B_YX_STRIDE:
            /* y == x with another stride: a buffer large enough for both strides */
            big = xalloc(3 * (a->dim + 9) + 16);
            for (size_t i = 0; i < 3 * (a->dim + 9) + 16; i++)
                big[i] = rnd(-1.0f, 1.0f);
            a->x = big, a->ldx = a->dim + 9, a->y = big, a->ldy = a->dim;
            break;
        case B_Y_OVER_X: a->y = (float *)a->x + 5; a->ldy = a->ldx; break;
        case B_Y_OVER_W: a->y = (float *)a->w + 3; a->ldy = a->ldw; break;
        case B_Y_BIAS: a->y = (float *)a->bias; a->rows = 1; break;
        case B_Y_GAMMA: a->y = (float *)a->gamma; a->rows = 1; break;
        case B_COUNT: break;
        }
        snapshot s;
        snap(&c, &s);
        float *bias_copy = NULL, *w_copy = NULL, *g_copy = NULL, *big_copy = NULL;
        if (c.biasb)
            bias_copy = xalloc(a->n + 1), memcpy(bias_copy, c.biasb, (6 + 1) * sizeof(float));
        if (c.wb)
            w_copy = xalloc(span(6, 20, 22) + 1),
            memcpy(w_copy, c.wb, (span(6, 20, 22) + 1) * sizeof(float));
        if (c.gb)
            g_copy = xalloc(21), memcpy(g_copy, c.gb, 21 * sizeof(float));
        if (big)
            big_copy = xalloc(3 * 29 + 16), memcpy(big_copy, big, (3 * 29 + 16) * sizeof(float));
        const int es = call_export(op, a);
        int untouched = same(&c, &s) && (!c.biasb || !memcmp(bias_copy, c.biasb, 7 * 4)) &&
                        (!c.wb || !memcmp(w_copy, c.wb, (span(6, 20, 22) + 1) * 4)) &&
                        (!c.gb || !memcmp(g_copy, c.gb, 21 * 4)) &&
                        (!big || !memcmp(big_copy, big, (3 * 29 + 16) * 4));
        const int ls = call_lib(op, a);
        if (es != ls || (b == B_ROWS0) != (es == 0) || !untouched)
            FAIL("%s, %s: export status %d, library %d%s", normkit_op_name(op), bad_names[b], es,
                 ls, untouched ? "" : ", and the export wrote");
        checks++;
        free_snap(&s);
        free(bias_copy), free(w_copy), free(g_copy), free(big_copy), free(big);
        free_case(&c);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: export_driver ISA\n");
        return 2;
    }
    const int isa = normkit_isa_from_name(argv[1]);
    if (isa <= 0) {
        fprintf(stderr, "export_driver: unknown ISA %s\n", argv[1]);
        return 2;
    }
    if (!NKT_SUPPORTED()) {
        printf("SKIP: this CPU cannot run %s\n", argv[1]);
        return 77;
    }
    normkit_cache_info ci;
    normkit_cpu_caches(&ci);
    identity_ok = normkit_isa_force((normkit_isa)isa) == NORMKIT_OK &&
                  ci.bytes[0] == NKT_NORMKIT_L1D_BYTES && ci.bytes[1] == NKT_NORMKIT_L2_BYTES;
    if (!identity_ok)
        printf("note: no bit-identity check (library caches %zu/%zu, export's %d/%d)\n",
               ci.bytes[0], ci.bytes[1], NKT_NORMKIT_L1D_BYTES, NKT_NORMKIT_L2_BYTES);
    static const size_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65,
                                  67, 768, 4096};
    static const size_t rows_set[] = {1, 3, 8};
    for (size_t o = 0; o < sizeof OPS / sizeof OPS[0]; o++) {
        const normkit_op op = OPS[o];
        const int lin = normkit_op_get(op)->linear;
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
            for (size_t r = 0; r < sizeof rows_set / sizeof rows_set[0]; r++) {
                const size_t dim = dims[d], rows = rows_set[r];
                if (lin && dim == 4096 && rows > 3)
                    continue; /* keep the run short under qemu */
                const size_t n = lin ? (size_t[]){1, 5, 17, 33}[(d + r) % 4] : 0;
                run_shape(op, rows, dim, n, (d + r) % 2 ? 3 : 0, (d % 3), (d + r) % 5 != 4, 0);
                if (!lin && r == 1)
                    run_shape(op, rows, dim, 0, d % 2 ? 2 : 0, 1, 1, 1);
            }
        run_bad(op);
    }
    printf("%s: %d checks, %d failures%s\n", argv[1], checks, failures,
           identity_ok ? " (bit-identity with the library included)" : "");
    return failures ? 1 : 0;
}
