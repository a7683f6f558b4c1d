/*
 * fuzz_block: the transformer blocks of include/normkit_block.h. The input describes one block
 * (layout, norm, activation, gated or not, dim, hidden, which of gamma, beta, b1, b3, b2 are
 * given, eps, the weights' bits) and one forward call (rows, strides, offsets, the workspace,
 * NULLs, h over x, bad sizes); the target then builds the block on every path (scalar, and
 * unfused and fused on every ISA of the enum), plus once with the input's own ISA/path choice
 * (NORMKIT_ISA_AUTO under an optional normkit_isa_force, or an ISA this CPU lacks), and runs
 * the forward call on each block that was built.
 *
 * Checked for every input:
 *  - normkit_block_create's status equals the one derived here from include/normkit_block.h
 *    (in the order of dispatch/block.c: out, d, path/isa enums, the desc's enums, required
 *    weights, shapes, eps, ISA support); *out is NULL on any error, and nothing leaks
 *    (LeakSanitizer); the desc and its arrays are not written; the arrays are freed before
 *    the forward calls (the block must hold copies: AddressSanitizer reports a use after free);
 *  - normkit_block_isa (AUTO: the active ISA at creation, under normkit_isa_force too; the
 *    scalar path: scalar whatever ISA was passed), normkit_block_get_path,
 *    normkit_block_flops_per_row, normkit_block_ws_bytes (0 for NULL; > 0 for sizes that fit);
 *  - normkit_block_forward's status (NULLs, rows == 0, strides, addressability, a workspace
 *    size that overflows, h overlapping x, a caller workspace below normkit_block_ws_bytes);
 *    a refused call or rows == 0 wrote nothing anywhere (x, h, the workspace); an accepted one
 *    wrote every element of h and nothing else outside the workspace (canaries in offsets,
 *    stride gaps and around h placed inside x's allocation), x unchanged;
 *  - the values of every accepted call against the float64 block nk_block_f64
 *    (tests/block_f64.c) within its first-order bound, plus the allowances of README.md
 *    ("fuzz_block"): a row of x holding NaN/Inf gives NaN throughout its h; rows whose float
 *    evaluation may overflow, or with non-finite weights, are exempt;
 *  - optionally a second forward on the same block: with the workspace the other way (own vs
 *    the caller's), or after normkit_isa_force switched the dispatcher (the block keeps its
 *    ISA): the same bits; or rows 1.. alone: within the bound again.
 * Each buffer (x, h, the workspace, every array of the desc) is one malloc of exactly its
 * size, so AddressSanitizer reports any access past it. Input layout: tests/fuzz/README.md.
 */
#include "fuzz_common.h"

#include "block_f64.h"
#include "normkit_block.h"

static const size_t pads[] = {0, 1, 3, 16};
static const size_t large_dims[] = {128, 200, 255, 256, 300, 384, 511, 128};
static const size_t large_hidden[] = {256, 384, 688, 768, 1000, 1024, 200, 512};
static const normkit_isa isa_sel[] = {NORMKIT_ISA_AUTO,   NORMKIT_ISA_SCALAR, NORMKIT_ISA_AVX2,
                                      NORMKIT_ISA_AVX512, NORMKIT_ISA_NEON,   NORMKIT_ISA_SVE,
                                      NORMKIT_ISA_AUTO,   NORMKIT_ISA_AUTO};
/* the ISAs tried by normkit_isa_force before the input's own creation (AUTO: none) */
static const normkit_isa force_sel[] = {NORMKIT_ISA_AUTO,   NORMKIT_ISA_SCALAR, NORMKIT_ISA_AVX2,
                                        NORMKIT_ISA_AVX512, NORMKIT_ISA_NEON,   NORMKIT_ISA_SVE,
                                        NORMKIT_ISA_AUTO,   NORMKIT_ISA_AUTO};
static const normkit_isa real_isas[] = {NORMKIT_ISA_SCALAR, NORMKIT_ISA_AVX2, NORMKIT_ISA_AVX512,
                                        NORMKIT_ISA_NEON, NORMKIT_ISA_SVE};

enum { BX, BH }; /* fz_set slots */
/* the desc's arrays */
enum { AG, AB, AW1, AB1, AW3, AB3, AW2, AB2, NARR };

/* fault codes (byte 9 >= 0xd0: (byte - 0xd0) % 32) */
enum {
    F_NONE = -1,
    /* creation */
    F_D_NULL = 0, F_OUT_NULL, F_W1_NULL, F_W2_NULL, F_W3_NULL, F_W3_UNGATED, F_B3_UNGATED,
    F_BETA_RMS, F_DIM0, F_HIDDEN0, F_DIM_HUGE, F_HIDDEN_HUGE, F_LAYOUT, F_NORM, F_ACT,
    F_PATH_ISA,
    /* forward */
    F_B_NULL = 16, F_X_NULL, F_H_NULL, F_LDX_SMALL, F_LDH_SMALL, F_LDX_HUGE, F_LDH_HUGE,
    F_ROWS_HUGE, F_ROWS_WS, F_H_OVER_X, F_H_IN_GAPS, F_WS_SMALL, F_WS_ZERO, F_WS_NULL_SIZE,
    F_X_OVER_H, F_H_IS_X
};

#define ADDR_MAX ((size_t)PTRDIFF_MAX / sizeof(float))

static int addressable(size_t rows, size_t cols, size_t ld)
{
    return ld >= cols && cols <= ADDR_MAX && (rows - 1) <= (ADDR_MAX - cols) / ld;
}

/* ---- the expected statuses ---- */

/* normkit_block_create (include/normkit_block.h), in dispatch/block.c's order. "Too large":
 * W1 (hidden x dim) not addressable, or dim or hidden above 2^40 (the header leaves the
 * limit unstated; the inputs only use sizes far beyond any memory). */
static normkit_status want_create(const normkit_block_desc *d, normkit_isa isa,
                                  normkit_block_path path, int out_null, normkit_isa *resolved)
{
    if (out_null || !d)
        return NORMKIT_ERR_NULL;
    if ((unsigned)path > NORMKIT_PATH_FUSED || (unsigned)isa >= NORMKIT_ISA_COUNT)
        return NORMKIT_ERR_SHAPE;
    if ((unsigned)d->layout > NORMKIT_POSTNORM ||
        (d->norm != NORMKIT_NORM_RMS && d->norm != NORMKIT_NORM_LN) ||
        (d->act != NORMKIT_ACT_GELU && d->act != NORMKIT_ACT_SILU))
        return NORMKIT_ERR_SHAPE;
    if (!d->w1 || !d->w2 || (d->gated && !d->w3))
        return NORMKIT_ERR_NULL;
    if (!d->dim || !d->hidden || (!d->gated && (d->w3 || d->b3)) ||
        (d->norm == NORMKIT_NORM_RMS && d->beta))
        return NORMKIT_ERR_SHAPE;
    if (!addressable(d->hidden, d->dim, d->dim) || d->dim > ((size_t)1 << 40) ||
        d->hidden > ((size_t)1 << 40))
        return NORMKIT_ERR_SHAPE;
    if (!fz_eps_ok(d->eps))
        return NORMKIT_ERR_EPS;
    *resolved = path == NORMKIT_PATH_SCALAR ? NORMKIT_ISA_SCALAR
                : isa == NORMKIT_ISA_AUTO   ? normkit_isa_active()
                                            : isa;
    if (!normkit_isa_supported(*resolved))
        return NORMKIT_ERR_UNSUPPORTED;
    return NORMKIT_OK;
}

/* normkit_block_forward, in dispatch/block.c's order (NULLs before rows == 0). need:
 * normkit_block_ws_bytes(b, rows) (0: the workspace size overflows). */
static normkit_status want_forward(const normkit_block *b, size_t D, size_t rows, const float *x,
                                   size_t ldx, const float *h, size_t ldh, const void *ws,
                                   size_t ws_bytes, size_t need)
{
    if (!b || !x || !h)
        return NORMKIT_ERR_NULL;
    if (rows == 0)
        return NORMKIT_OK;
    if (!addressable(rows, D, ldx) || !addressable(rows, D, ldh) || need == 0)
        return NORMKIT_ERR_SHAPE;
    if (fz_overlap(x, fz_span(rows, D, ldx), h, fz_span(rows, D, ldh)))
        return NORMKIT_ERR_SHAPE;
    if (ws && ws_bytes < need)
        return NORMKIT_ERR_SHAPE;
    return NORMKIT_OK;
}

/* ---- the expected values ---- */

enum { R_SKIP, R_NAN, R_FINITE, R_BOUND };
typedef struct {
    size_t rows, D;
    int *rule;   /* per row */
    double *ref; /* rows x D */
    double *bnd; /* rows x D */
} expect_t;

static int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* The first-order carry of input errors dv through a norm of row v (block_f64.c norm64's
 * derivative terms, without the norm's own bound). */
static void norm_carry(normkit_norm norm, size_t n, const double *v, const double *dv,
                       const float *gamma, double eps, double *out)
{
    if (norm == NORMKIT_NORM_RMS) {
        double ss = 0, sv = 0;
        for (size_t k = 0; k < n; k++)
            ss += v[k] * v[k], sv += fabs(v[k]) * dv[k];
        const double r = sqrt(ss / (double)n + eps);
        for (size_t i = 0; i < n; i++)
            out[i] = fabs(gamma ? gamma[i] : 1.0) / r *
                     (dv[i] + fabs(v[i]) * sv / ((double)n * r * r));
        return;
    }
    double mean = 0, var = 0, m = 0, sz = 0;
    for (size_t k = 0; k < n; k++)
        mean += v[k], m += dv[k];
    mean /= (double)n, m /= (double)n;
    for (size_t k = 0; k < n; k++)
        var += (v[k] - mean) * (v[k] - mean);
    const double s = sqrt(var / (double)n + eps);
    for (size_t k = 0; k < n; k++)
        sz += fabs(v[k] - mean) / s * (dv[k] + m);
    for (size_t i = 0; i < n; i++)
        out[i] = fabs(gamma ? gamma[i] : 1.0) / s *
                 (dv[i] + m + fabs(v[i] - mean) / s * sz / (double)n);
}

#define SUB 0x1p-149

/*
 * The rule of every row and, for R_BOUND rows, the float64 block and its bound plus the
 * allowance for underflow (README.md): nk_block_f64's bound has no term for products and sums
 * that land in the subnormal range (absolute errors up to 2^-150 each), so each matmul gets
 * (k + 2) 2^-149 absolute per output (the fused path's folded W gamma: k sqrt(dim) 2^-149
 * more), each activation and gate product 2^-149 (+ the activations' absolute regime
 * 2^-148 (1 + |s|)), carried to h like the other errors (|W2|, the post-norm's derivative).
 * The gate product gets its second-order term (README.md).
 * Rows whose float evaluation may overflow are exempt: an envelope of every intermediate's
 * magnitude (norm outputs <= sqrt(dim) |gamma| + |beta|, |act(s)| <= |s|, sums of |terms|)
 * above FZ_HUGE.
 */
static void expectations(const normkit_block_desc *d, size_t rows, const float *x, size_t ldx,
                         expect_t *e)
{
    const size_t D = d->dim, H = d->hidden;
    const int pre = d->layout == NORMKIT_PRENORM, gated = d->gated != 0;
    e->rows = rows, e->D = D;
    e->rule = calloc(rows, sizeof *e->rule);
    e->ref = malloc(rows * D * sizeof *e->ref);
    e->bnd = malloc(rows * D * sizeof *e->bnd);
    double *x64 = malloc(rows * D * sizeof *x64), *eh = malloc(rows * D * sizeof *eh),
           *f = malloc(rows * D * sizeof *f), *ref2 = NULL, *eh2 = NULL, *f2 = NULL;
    double *in = malloc(D * sizeof *in), *S1 = malloc(H * sizeof *S1),
           *S3 = malloc(H * sizeof *S3), *dt = malloc(H * sizeof *dt),
           *df = malloc(D * sizeof *df), *v = malloc(D * sizeof *v), *carry = malloc(D * sizeof *carry);
    if (!e->rule || !e->ref || !e->bnd || !x64 || !eh || !f || !in || !S1 || !S3 || !dt || !df ||
        !v || !carry)
        abort();
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < D; i++)
            x64[r * D + i] = x[r * ldx + i];
    const int params_finite =
        all_finite(d->gamma, D) && all_finite(d->beta, D) && all_finite(d->w1, H * D) &&
        all_finite(d->b1, H) && all_finite(d->w2, D * H) && all_finite(d->b2, D) &&
        (!gated || (all_finite(d->w3, H * D) && all_finite(d->b3, H)));
    if (nk_block_f64(d, rows, x64, NULL, e->ref, eh, f) != 0)
        abort();
    /* eps == 0: a row without spread has no scale; normkit defines y = 0 (beta) there, and so
     * does eps -> 0+ (the float64 block divides 0 by 0): such rows get eps = 2^-149 */
    float eps_used = d->eps;
    if (d->eps == 0.0f) {
        normkit_block_desc d2 = *d;
        d2.eps = 0x1p-149f;
        ref2 = malloc(rows * D * sizeof *ref2), eh2 = malloc(rows * D * sizeof *eh2);
        f2 = malloc(rows * D * sizeof *f2);
        if (!ref2 || !eh2 || !f2 || nk_block_f64(&d2, rows, x64, NULL, ref2, eh2, f2) != 0)
            abort();
    }
    const double sqrt_d = sqrt((double)D);
    for (size_t r = 0; r < rows; r++) {
        const double *xr = x64 + r * D;
        int finite_row = 1;
        for (size_t i = 0; i < D; i++)
            finite_row &= isfinite(xr[i]) != 0;
        if (!finite_row) {
            e->rule[r] = R_NAN; /* Norm(x) NaN (pre-norm), or x + f non-finite (post-norm) */
            continue;
        }
        if (!params_finite) {
            e->rule[r] = R_SKIP; /* IEEE arithmetic decides; nothing stated */
            continue;
        }
        double env = 0;
        for (size_t k = 0; k < D; k++) {
            const double g = d->gamma ? fabs(d->gamma[k]) : 1.0, bt = d->beta ? fabs(d->beta[k]) : 0.0;
            in[k] = pre ? sqrt_d * g + bt : fabs(xr[k]);
            if (!pre)
                env = fmax(env, sqrt_d * g + bt); /* the post-norm output */
            env = fmax(env, in[k]);
        }
        /* the pre-activations' (and gates') envelopes */
        for (size_t j = 0; j < H; j++) {
            double s1 = d->b1 ? fabs(d->b1[j]) : 0.0, s3 = gated && d->b3 ? fabs(d->b3[j]) : 0.0;
            for (size_t k = 0; k < D; k++) {
                s1 += fabs(d->w1[j * D + k]) * in[k];
                if (gated)
                    s3 += fabs(d->w3[j * D + k]) * in[k];
            }
            S1[j] = s1, S3[j] = s3;
            env = fmax(env, fmax(s1, s3));
            if (gated)
                env = fmax(env, s1 * s3);
        }
        /* the underflow allowance, step by step; and the gate product's second-order term
         * da dg, which the float64 block's first-order bound leaves out: with pre-activation
         * errors es <= cs S (the matmul's (dim + 6) u on |W| (|a| + |beta|) <= 2 S, the norm's
         * bound <= (1.5 dim + 14) u of its envelope, the rounding u), da <= (1.13 cs + 9u) S1,
         * dg <= cs S3 */
        const double d1 = ((double)D + 2.0 + (double)D * sqrt_d) * SUB;
        const double cs = (4.0 * (double)D + 32.0) * 0x1p-24, ca = 1.13 * cs + 9.0 * 0x1p-24;
        for (size_t j = 0; j < H; j++) {
            const double da = 1.13 * d1 + 2.0 * SUB * (1.0 + S1[j]) + SUB;
            dt[j] = gated ? S3[j] * da + S1[j] * d1 + da * d1 + 2.0 * SUB * (1.0 + S3[j]) + SUB +
                                ca * cs * S1[j] * S3[j]
                          : da;
        }
        for (size_t i = 0; i < D; i++) {
            double s2 = d->b2 ? fabs(d->b2[i]) : 0.0, a = ((double)H + 2.0) * SUB;
            for (size_t j = 0; j < H; j++) {
                const double w = fabs(d->w2[i * H + j]);
                s2 += w * (gated ? S1[j] * S3[j] : S1[j]);
                a += w * dt[j];
            }
            env = fmax(env, fmax(s2, fabs(xr[i]) + s2));
            df[i] = a;
        }
        if (!(env <= FZ_HUGE)) {
            e->rule[r] = R_SKIP; /* may overflow in float: no bound is stated */
            continue;
        }
        /* the float64 block: with eps, or with 2^-149 where eps = 0 left no scale */
        const double *ref = e->ref + r * D, *err = eh + r * D, *fr = f + r * D;
        double eps64 = d->eps;
        int fin = 1;
        for (size_t i = 0; i < D; i++)
            fin &= isfinite(ref[i]) && isfinite(err[i]);
        if (!fin && ref2) {
            ref = ref2 + r * D, err = eh2 + r * D, fr = f2 + r * D;
            eps64 = 0x1p-149;
            eps_used = 0x1p-149f;
            memcpy(e->ref + r * D, ref, D * sizeof *ref);
        }
        if (pre) {
            memcpy(carry, df, D * sizeof *carry);
        } else {
            for (size_t i = 0; i < D; i++)
                v[i] = xr[i] + fr[i];
            norm_carry(d->norm, D, v, df, d->gamma, eps64, carry);
        }
        e->rule[r] = R_BOUND;
        for (size_t i = 0; i < D; i++) {
            e->bnd[r * D + i] = err[i] + carry[i];
            if (!isfinite(ref[i]))
                fz_fail("harness: the float64 block is not finite on a finite row %zu (eps %a)",
                        r, (double)eps_used);
            if (!isfinite(e->bnd[r * D + i]))
                e->rule[r] = R_FINITE; /* no scale to carry errors through: any finite h */
        }
    }
    free(x64), free(eh), free(f), free(ref2), free(eh2), free(f2);
    free(in), free(S1), free(S3), free(dt), free(df), free(v), free(carry);
}

static void expect_free(expect_t *e)
{
    free(e->rule), free(e->ref), free(e->bnd);
    memset(e, 0, sizeof *e);
}

/* h's rows [0, n) are rows [r0, r0 + n) of the expectation. */
static void check_values(const expect_t *e, size_t r0, size_t n, const float *h, size_t ldh,
                         const char *who)
{
    for (size_t q = 0; q < n; q++) {
        const size_t r = r0 + q;
        for (size_t i = 0; i < e->D; i++) {
            const double got = h[q * ldh + i];
            const double ref = e->ref[r * e->D + i], bnd = e->bnd[r * e->D + i];
            const char *why = NULL;
            switch (e->rule[r]) {
            case R_NAN: why = isnan(got) ? NULL : "want NaN (the row of x holds NaN/Inf)"; break;
            case R_FINITE: why = isfinite(got) ? NULL : "want a finite value"; break;
            case R_BOUND: why = fabs(got - ref) <= bnd ? NULL : "outside the bound"; break;
            default: break;
            }
            if (why)
                fz_fail("%s: h[%zu][%zu] = %a, float64 %.17g, |diff| %.3g, bound %.3g: %s", who,
                        r, i, got, ref, fabs(got - ref), bnd, why);
        }
    }
}

/* ---- the names ---- */

static void check_names(unsigned probe)
{
    static const char *const strings[] = {"prenorm", "postnorm", "scalar",  "unfused", "fused",
                                          "gelu",    "silu",     "none",    "",        "Prenorm",
                                          "gelu ",   "fuse",     "fusedx",  "post",    NULL};
    const int v = (int)(int8_t)probe;
    const char *s = normkit_layout_name((normkit_layout)v);
    if ((s == NULL) != !(v == 0 || v == 1) || (s && normkit_layout_from_name(s) != v))
        fz_fail("normkit_layout_name(%d) = %s", v, s ? s : "NULL");
    s = normkit_block_path_name((normkit_block_path)v);
    if ((s == NULL) != !(v >= 0 && v <= 2) || (s && normkit_block_path_from_name(s) != v))
        fz_fail("normkit_block_path_name(%d) = %s", v, s ? s : "NULL");
    s = normkit_act_name((normkit_act)v);
    if ((s == NULL) != !(v == NORMKIT_ACT_GELU || v == NORMKIT_ACT_SILU) ||
        (s && normkit_act_from_name(s) != v))
        fz_fail("normkit_act_name(%d) = %s", v, s ? s : "NULL");
    const char *str = strings[probe % (sizeof strings / sizeof *strings)];
    const int l = normkit_layout_from_name(str), p = normkit_block_path_from_name(str),
              a = normkit_act_from_name(str);
    const char *ln = l >= 0 ? normkit_layout_name((normkit_layout)l) : NULL;
    const char *pn = p >= 0 ? normkit_block_path_name((normkit_block_path)p) : NULL;
    const char *an = a >= 0 ? normkit_act_name((normkit_act)a) : NULL;
    if ((l != -1 && (!ln || !str || strcmp(ln, str))) || (p != -1 && (!pn || !str || strcmp(pn, str))) ||
        (a != -1 && (!an || !str || strcmp(an, str))))
        fz_fail("the name parsers on \"%s\": layout %d, path %d, act %d", str ? str : "NULL", l,
                p, a);
    const int want_l = str && !strcmp(str, "prenorm") ? 0 : str && !strcmp(str, "postnorm") ? 1 : -1;
    const int want_a = str && !strcmp(str, "gelu") ? 1 : str && !strcmp(str, "silu") ? 2 : -1;
    const int want_p = str && !strcmp(str, "scalar")    ? 0
                       : str && !strcmp(str, "unfused") ? 1
                       : str && !strcmp(str, "fused")   ? 2
                                                        : -1;
    if (l != want_l || p != want_p || a != want_a)
        fz_fail("the name parsers on \"%s\": layout %d, path %d, act %d", str ? str : "NULL", l,
                p, a);
}

/* ---- one forward configuration, run on each block ---- */

typedef struct {
    size_t rows, D, H;
    fz_set c;
    const float *x; /* as passed (may be NULL) */
    float *h;
    size_t ldx, ldh;
    int fault;
    unsigned ws_mode, ws_off, repeat, arg;
    expect_t ex;
    int have_ex;
} run_t;

/* The caller's workspace of one call: `bytes` (what the call is told) and `alloc` (what is
 * allocated: exactly that, or 1 byte where the call must refuse a huge size) at ws_off. */
typedef struct {
    unsigned char *base, *ws, *snap;
    size_t alloc, bytes, off;
} ws_t;

static void ws_make(ws_t *w, int present, size_t bytes, size_t alloc, size_t off)
{
    memset(w, 0, sizeof *w);
    if (!present)
        return;
    w->off = off, w->bytes = bytes, w->alloc = alloc;
    w->base = malloc(off + alloc ? off + alloc : 1);
    w->snap = malloc(off + alloc ? off + alloc : 1);
    if (!w->base || !w->snap)
        abort();
    memset(w->base, 0xa5, off + alloc);
    memcpy(w->snap, w->base, off + alloc);
    w->ws = w->base + off;
}

static void ws_free(ws_t *w)
{
    free(w->base);
    free(w->snap);
    memset(w, 0, sizeof *w);
}

/* x and h as the forward call sees them, after a refused call: nothing changed. */
static void check_untouched(const run_t *u, const ws_t *w, const char *who)
{
    fz_set_untouched(&u->c, who);
    if (w->base && memcmp(w->base, w->snap, w->off + w->alloc) != 0)
        fz_fail("%s: a call that must not write changed the workspace", who);
}

/* After an accepted call: canaries around x and h, x unchanged, every h written, nothing
 * written before the workspace. */
static void check_written(const run_t *u, const ws_t *w, const float *h, size_t ldh, size_t rows,
                          const char *who)
{
    fz_set_canaries(&u->c, who);
    const fz_buf *xv = &u->c.view[BX];
    const float *xs = u->c.snap[u->c.home[BX]] + xv->off;
    for (size_t r = 0; r < xv->rows; r++)
        for (size_t i = 0; i < xv->dim; i++)
            if (fz_float_bits(xv->m[r * xv->ld + i]) != fz_float_bits(xs[r * xv->ld + i]))
                fz_fail("%s: x[%zu][%zu] changed", who, r, i);
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < u->D; i++)
            if (nk_is_canary(h[r * ldh + i]))
                fz_fail("%s: h[%zu][%zu] not written", who, r, i);
    if (w->base && memcmp(w->base, w->snap, w->off) != 0)
        fz_fail("%s: wrote before the workspace", who);
}

static void same_bits(const float *a, const float *b, size_t rows, size_t D, size_t ld,
                      const char *who)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < D; i++)
            if (!fz_same(a[r * D + i], b[r * ld + i]))
                fz_fail("%s: h[%zu][%zu] = %a, first call %a", who, r, i, (double)b[r * ld + i],
                        (double)a[r * D + i]);
}

static void run_block(run_t *u, const normkit_block *b, const char *label)
{
    char who[200];
    snprintf(who, sizeof who, "forward on %s", label);
    const size_t rows = u->rows, D = u->D;
    fz_set_restore(&u->c);
    const size_t need = b ? normkit_block_ws_bytes(b, rows) : 0;
    if (b && rows >= 1 && rows <= 64 && need == 0)
        fz_fail("%s: normkit_block_ws_bytes(b, %zu) = 0", who, rows);
    /* the workspace */
    ws_t w;
    const int huge_rows = u->fault == F_ROWS_HUGE || u->fault == F_ROWS_WS;
    switch (u->fault) {
    case F_WS_SMALL: {
        const size_t less = 1 + u->arg % 64;
        ws_make(&w, 1, need > less ? need - less : 0, need > less ? need - less : 0, u->ws_off);
        break;
    }
    case F_WS_ZERO: ws_make(&w, 1, 0, 0, u->ws_off); break;
    case F_WS_NULL_SIZE: ws_make(&w, 0, 0, 0, 0); w.bytes = (size_t)u->arg * 977u; break;
    default:
        if (huge_rows) /* a workspace the call is told is 1 byte short: refused either way */
            ws_make(&w, 1, need ? need - 1 : 0, 1, 0);
        else if (u->ws_mode == 0)
            ws_make(&w, 0, 0, 0, 0);
        else {
            size_t bytes = need;
            if (u->ws_mode == 2)
                bytes += 1 + u->arg % 64;
            else if (u->ws_mode == 3 && b) {
                const size_t big = normkit_block_ws_bytes(b, 9); /* one workspace for all rows */
                bytes = big > need ? big : need;
            }
            ws_make(&w, 1, bytes, bytes, u->ws_off);
        }
        break;
    }
    const normkit_status want =
        want_forward(b, D, rows, u->x, u->ldx, u->h, u->ldh, w.ws, w.bytes, need);
    const normkit_status got = normkit_block_forward(b, rows, u->x, u->ldx, u->h, u->ldh, w.ws, w.bytes);
    if (got != want)
        fz_fail("%s: status %d (%s), want %d (%s); ws %s, %zu bytes, ws_bytes() %zu", who, got,
                normkit_status_str(got), want, normkit_status_str(want), w.ws ? "set" : "NULL",
                w.bytes, need);
    if (want != NORMKIT_OK || rows == 0) {
        check_untouched(u, &w, who);
        ws_free(&w);
        return;
    }
    check_written(u, &w, u->h, u->ldh, rows, who);
    if (!u->have_ex)
        fz_fail("%s: harness: accepted, but no expectations were computed", who);
    check_values(&u->ex, 0, rows, u->h, u->ldh, who);

    /* a second call on the same block */
    const unsigned rep = u->repeat;
    if (rep == 1 || rep == 2) {
        float *first = fz_buf_dense(&(fz_buf){.m = u->h, .rows = rows, .dim = D, .ld = u->ldh});
        ws_t w2;
        normkit_isa other = NORMKIT_ISA_AUTO;
        if (rep == 2) {
            /* the dispatcher switched to another ISA: the block keeps its own */
            for (size_t i = 0; i < sizeof real_isas / sizeof *real_isas; i++)
                if (real_isas[i] != normkit_block_isa(b) && normkit_isa_supported(real_isas[i]) &&
                    (other == NORMKIT_ISA_AUTO || (u->arg & 1)))
                    other = real_isas[i];
            if (other != NORMKIT_ISA_AUTO && normkit_isa_force(other) != NORMKIT_OK)
                fz_fail("normkit_isa_force(%s) failed", normkit_isa_name(other));
        }
        /* the workspace the other way: the call's own, or the caller's (misaligned) */
        if (w.ws)
            ws_make(&w2, 0, 0, 0, 0);
        else
            ws_make(&w2, 1, need, need, (u->ws_off + 7) % 64);
        fz_set_restore(&u->c);
        const normkit_status st2 =
            normkit_block_forward(b, rows, u->x, u->ldx, u->h, u->ldh, w2.ws, w2.bytes);
        if (other != NORMKIT_ISA_AUTO && normkit_isa_force(NORMKIT_ISA_AUTO) != NORMKIT_OK)
            fz_fail("normkit_isa_force(auto) failed");
        snprintf(who, sizeof who, "second forward on %s (ws %s%s%s)", label,
                 w2.ws ? "the caller's" : "NULL", rep == 2 ? ", dispatcher forced to " : "",
                 rep == 2 ? normkit_isa_name(other) ? normkit_isa_name(other) : "none" : "");
        if (st2 != NORMKIT_OK)
            fz_fail("%s: status %d (%s)", who, st2, normkit_status_str(st2));
        check_written(u, &w2, u->h, u->ldh, rows, who);
        same_bits(first, u->h, rows, D, u->ldh, who);
        free(first);
        ws_free(&w2);
    } else if (rep == 3 && rows >= 2) {
        /* rows 1.. alone, into a dense h of their own, with the call's own workspace */
        const size_t n = rows - 1;
        float *h2 = malloc(n * D * sizeof *h2);
        if (!h2)
            abort();
        const float c = nk_canary();
        for (size_t i = 0; i < n * D; i++)
            h2[i] = c;
        const normkit_status st2 = normkit_block_forward(b, n, u->x + u->ldx, u->ldx, h2, D, NULL, 0);
        snprintf(who, sizeof who, "forward of rows 1..%zu on %s", rows - 1, label);
        if (st2 != NORMKIT_OK)
            fz_fail("%s: status %d (%s)", who, st2, normkit_status_str(st2));
        for (size_t i = 0; i < n * D; i++)
            if (nk_is_canary(h2[i]))
                fz_fail("%s: h[%zu][%zu] not written", who, 1 + i / D, i % D);
        check_values(&u->ex, 1, n, h2, D, who);
        free(h2);
    }
    ws_free(&w);
}

/* ---- the input ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size, 0};
    const unsigned kind = fz_u8(&in);
    size_t rows = fz_u8(&in) % 10;
    const unsigned dsel = fz_u16(&in), hsel = fz_u16(&in);
    const unsigned call = fz_u8(&in), fwd = fz_u8(&in), offs = fz_u8(&in), fault_b = fz_u8(&in);
    const unsigned arg = fz_u16(&in), eps_mode = fz_u8(&in);
    const uint32_t eps_bits = fz_u32(&in);
    const unsigned modes = fz_u8(&in), inj_pos = fz_u16(&in), probe = fz_u8(&in);

    check_names(probe);

    const size_t D = dsel >> 12 == 15 ? large_dims[dsel % 8] : 1 + dsel % 96;
    const size_t H = hsel >> 12 == 15 ? large_hidden[hsel % 8] : 1 + hsel % 160;
    if (D * H > 96 * 160 && rows > 2)
        rows = 2; /* a few milliseconds per input at most */
    const normkit_layout layout = (normkit_layout)(kind & 1);
    const normkit_norm norm = kind >> 1 & 1 ? NORMKIT_NORM_LN : NORMKIT_NORM_RMS;
    const normkit_act act = kind >> 2 & 1 ? NORMKIT_ACT_SILU : NORMKIT_ACT_GELU;
    const int gated = kind >> 3 & 1, use_gamma = kind >> 4 & 1,
              use_beta = (kind >> 5 & 1) && norm == NORMKIT_NORM_LN, use_b1 = kind >> 6 & 1,
              use_b2 = kind >> 7 & 1;
    normkit_block_path path = (normkit_block_path)((call & 3) == 3 ? 2 : (call & 3));
    normkit_isa isa = isa_sel[call >> 2 & 7];
    const normkit_isa force = force_sel[call >> 5 & 7];
    const int fault = fault_b >= 0xd0 ? (int)((fault_b - 0xd0) % 32) : F_NONE;
    const float eps = fz_eps(eps_mode, eps_bits);

    /* ---- the desc's arrays: exact allocations, the call's copies and the reference's ---- */
    const size_t alen[NARR] = {D, D, H * D, H, H * D, H, D * H, D};
    float *arr[NARR], *rarr[NARR];
    /* the forward's shape */
    size_t ldx = D + pads[fwd >> 4 & 3], ldh = D + pads[fwd >> 6 & 3];
    const size_t ox = offs & 3, oh = offs >> 2 & 3;
    const size_t huge_ld = ADDR_MAX;
    size_t call_rows = rows, shift = 0;
    switch (fault) {
    case F_LDX_SMALL: ldx = D - 1; break;
    case F_LDH_SMALL: ldh = D - 1; break;
    case F_LDX_HUGE: ldx = huge_ld; break;
    case F_LDH_HUGE: ldh = huge_ld; break;
    case F_ROWS_HUGE: call_rows = (size_t)SIZE_MAX / 8 - arg % 4; break;
    case F_ROWS_WS: call_rows = ((size_t)1 << 60) / (D > H ? D : H) + 1 + arg % 4; break;
    case F_H_IN_GAPS: ldx = 2 * D + pads[fwd >> 4 & 3], ldh = ldx; break;
    case F_H_IS_X: ldh = ldx; break;
    default: break;
    }
    /* what is allocated: one row where a huge stride or rows count must be refused (or, for
     * a huge stride and one row, accepted: addressable) */
    const size_t xrows = fault == F_LDX_HUGE || call_rows != rows ? (rows ? 1 : 0) : rows;
    const size_t hrows = fault == F_LDH_HUGE || call_rows != rows ? (rows ? 1 : 0) : rows;
    const size_t xspan = fz_span(xrows, D, ldx), hspan = fz_span(hrows, D, ldh);

    fz_set c;
    memset(&c, 0, sizeof c);
    if (fault == F_H_OVER_X || fault == F_H_IN_GAPS || fault == F_H_IS_X) {
        /* h inside x's allocation: over x, in its stride gaps, or just past it */
        shift = fault == F_H_IS_X ? 0 : fault == F_H_IN_GAPS ? D : 1 + arg % (xspan + 4);
        if (fault == F_H_OVER_X && (arg >> 8 & 1))
            ldh = ldx + 1 + (arg >> 9 & 3);
        const size_t hs = fz_span(hrows, D, ldh);
        fz_buf_alloc(&c.buf[BX], xrows, D, ldx, ox, shift + hs > xspan ? shift + hs - xspan : 0);
        fz_set_own(&c, BX);
        fz_set_inside(&c, BH, BX, hrows, ldh, shift);
    } else if (fault == F_X_OVER_H) {
        /* x inside h's allocation, at or past h's start */
        shift = arg % (hspan + 4);
        const size_t xs = fz_span(xrows, D, ldx);
        fz_buf_alloc(&c.buf[BH], hrows, D, ldh, oh, shift + xs > hspan ? shift + xs - hspan : 0);
        fz_set_own(&c, BH);
        fz_set_inside(&c, BX, BH, xrows, ldx, shift);
    } else {
        fz_buf_alloc(&c.buf[BX], xrows, D, ldx, ox, 0);
        fz_set_own(&c, BX);
        fz_buf_alloc(&c.buf[BH], hrows, D, ldh, oh, 0);
        fz_set_own(&c, BH);
    }

    /* ---- the data: x, then gamma, beta, W1, b1, W3, b3, W2, b2 ---- */
    fz_data dd;
    fz_data_init(&dd, &in, modes & 3);
    fz_buf_fill(&c.view[BX], &dd);
    if ((modes >> 6) && xrows) {
        static const uint32_t inj[] = {0, 0x7fc00000u, 0x7f800000u, 0xff800000u};
        const size_t r = inj_pos % xrows, col = inj_pos / 10 % D;
        c.view[BX].m[r * ldx + col] = fz_bits(inj[modes >> 6]);
    }
    for (int a = 0; a < NARR; a++) {
        const int weights = a == AW1 || a == AW3 || a == AW2;
        dd.mode = (weights ? modes >> 2 : modes >> 4) & 3;
        arr[a] = malloc(alen[a] * sizeof(float));
        rarr[a] = malloc(alen[a] * sizeof(float));
        if (!arr[a] || !rarr[a])
            abort();
        for (size_t i = 0; i < alen[a]; i++)
            arr[a][i] = fz_data_float(&dd);
        memcpy(rarr[a], arr[a], alen[a] * sizeof(float));
    }

    /* ---- the desc (the call's, in its own allocation) ---- */
    normkit_block_desc *desc = malloc(sizeof *desc);
    if (!desc)
        abort();
    memset(desc, 0, sizeof *desc);
    desc->layout = layout, desc->norm = norm, desc->act = act, desc->gated = gated;
    desc->dim = D, desc->hidden = H, desc->eps = eps;
    desc->gamma = use_gamma ? arr[AG] : NULL;
    desc->beta = use_beta ? arr[AB] : NULL;
    desc->w1 = arr[AW1], desc->b1 = use_b1 ? arr[AB1] : NULL;
    desc->w3 = gated ? arr[AW3] : NULL, desc->b3 = gated && use_b1 ? arr[AB3] : NULL;
    desc->w2 = arr[AW2], desc->b2 = use_b2 ? arr[AB2] : NULL;
    int d_null = 0, out_null = 0;
    switch (fault) {
    case F_D_NULL: d_null = 1; break;
    case F_OUT_NULL: out_null = 1; break;
    case F_W1_NULL: desc->w1 = NULL; break;
    case F_W2_NULL: desc->w2 = NULL; break;
    case F_W3_NULL: desc->gated = 1, desc->w3 = NULL; break;
    case F_W3_UNGATED: desc->gated = 0, desc->w3 = arr[AW3], desc->b3 = NULL; break;
    case F_B3_UNGATED: desc->gated = 0, desc->w3 = NULL, desc->b3 = arr[AB3]; break;
    case F_BETA_RMS: desc->norm = NORMKIT_NORM_RMS, desc->beta = arr[AB]; break;
    case F_DIM0: desc->dim = 0; break;
    case F_HIDDEN0: desc->hidden = 0; break;
    case F_DIM_HUGE:
        switch (arg % 3) {
        case 0: desc->dim = SIZE_MAX / 2; break;
        case 1: desc->dim = ((size_t)1 << 40) + 1; break;
        default: desc->dim = (size_t)1 << 31, desc->hidden = (size_t)1 << 31; break;
        }
        break;
    case F_HIDDEN_HUGE:
        switch (arg % 3) {
        case 0: desc->hidden = SIZE_MAX / 2; break;
        case 1: desc->hidden = ((size_t)1 << 40) + 1; break;
        default: desc->hidden = (size_t)1 << 62; break;
        }
        break;
    case F_LAYOUT: desc->layout = (normkit_layout)(arg & 1 ? 2 : 0x7fffffff); break;
    case F_NORM: desc->norm = (normkit_norm)(arg & 1 ? NORMKIT_NORM_NONE : 3); break;
    case F_ACT: desc->act = (normkit_act)(arg % 3 == 0 ? NORMKIT_ACT_NONE : arg % 3 == 1 ? 3 : 7); break;
    case F_PATH_ISA:
        switch (arg % 4) {
        case 0: path = (normkit_block_path)3; break;
        case 1: path = (normkit_block_path)0x7fffffff; break;
        case 2: isa = (normkit_isa)NORMKIT_ISA_COUNT; break;
        default: isa = (normkit_isa)99; break;
        }
        break;
    default: break;
    }
    normkit_block_desc saved;
    memcpy(&saved, desc, sizeof saved); /* padding too: compared bytewise below */
    /* the reference's desc: the same, over the reference's copies of the arrays */
    normkit_block_desc rdesc = saved;
    {
        const float *const *from = (const float *const *)arr;
        const float **m[] = {&rdesc.gamma, &rdesc.beta, &rdesc.w1, &rdesc.b1,
                             &rdesc.w3,    &rdesc.b3,   &rdesc.w2, &rdesc.b2};
        for (int a = 0; a < NARR; a++)
            for (int s = 0; s < NARR; s++)
                if (*m[a] && *m[a] == from[s])
                    *m[a] = rarr[s];
    }

    snprintf(fz_case, sizeof fz_case,
             "%s %s %s%s dim %zu hidden %zu gamma %d beta %d b1 %d b2 %d eps %a; own call: %s "
             "on %s (force %s); rows %zu (called %zu) ldx %zu ldh %zu offsets x %zu h %zu ws "
             "mode %u off %u repeat %u fault %d arg %u shift %zu data modes %u %u %u inj %u",
             layout == NORMKIT_PRENORM ? "prenorm" : "postnorm",
             norm == NORMKIT_NORM_LN ? "layernorm" : "rmsnorm",
             act == NORMKIT_ACT_GELU ? "gelu" : "silu", gated ? " gated" : "", D, H, use_gamma,
             use_beta, use_b1, use_b2, (double)eps,
             normkit_block_path_name(path) ? normkit_block_path_name(path) : "(bad path)",
             normkit_isa_name(isa) ? normkit_isa_name(isa) : "(bad isa)",
             normkit_isa_name(force), rows, call_rows, ldx, ldh, ox, oh, fwd & 3, offs >> 4,
             fwd >> 2 & 3, fault, arg, shift, modes & 3, modes >> 2 & 3, modes >> 4 & 3,
             modes >> 6);

    /* ---- creation: the input's own (isa, path), then every path on every ISA ---- */
    enum { MAXB = 1 + 1 + 2 * 5 };
    normkit_block *blocks[MAXB];
    char labels[MAXB][64];
    size_t nb = 0;
    normkit_isa own_isa = NORMKIT_ISA_AUTO;
    normkit_block_path own_path = path;
    for (int i = -1; i < 1 + 2 * 5; i++) {
        normkit_isa ci = isa;
        normkit_block_path cp = path;
        int cd_null = 0, cout_null = 0;
        if (i == -1) {
            cd_null = d_null, cout_null = out_null;
            if (force != NORMKIT_ISA_AUTO) {
                const normkit_isa before = normkit_isa_active();
                const normkit_status fs = normkit_isa_force(force);
                const normkit_status fw =
                    normkit_isa_supported(force) ? NORMKIT_OK : NORMKIT_ERR_UNSUPPORTED;
                if (fs != fw)
                    fz_fail("normkit_isa_force(%s) = %d, want %d", normkit_isa_name(force), fs, fw);
                if (normkit_isa_active() != (fs == NORMKIT_OK ? force : before))
                    fz_fail("normkit_isa_force(%s) = %d, then the active ISA is %s",
                            normkit_isa_name(force), fs, normkit_isa_name(normkit_isa_active()));
            }
        } else if (i == 0) {
            /* the scalar path ignores the ISA, any of the enum */
            ci = (normkit_isa)(arg % NORMKIT_ISA_COUNT), cp = NORMKIT_PATH_SCALAR;
            if ((unsigned)path > NORMKIT_PATH_FUSED || (unsigned)isa >= NORMKIT_ISA_COUNT)
                continue; /* the input's own call is about those */
        } else {
            ci = real_isas[(i - 1) / 2], cp = (normkit_block_path)(1 + (i - 1) % 2);
            if ((unsigned)path > NORMKIT_PATH_FUSED || (unsigned)isa >= NORMKIT_ISA_COUNT)
                continue;
        }
        normkit_isa resolved = NORMKIT_ISA_AUTO;
        const normkit_status want = want_create(cd_null ? NULL : desc, ci, cp, cout_null, &resolved);
        normkit_block *b = (normkit_block *)desc; /* must become NULL on failure */
        const normkit_status got =
            normkit_block_create(cd_null ? NULL : desc, ci, cp, cout_null ? NULL : &b);
        if (i == -1 && force != NORMKIT_ISA_AUTO && normkit_isa_force(NORMKIT_ISA_AUTO) != NORMKIT_OK)
            fz_fail("normkit_isa_force(auto) failed");
        char what[64];
        snprintf(what, sizeof what, "%s block on %s%s",
                 normkit_block_path_name(cp) ? normkit_block_path_name(cp) : "(bad path)",
                 normkit_isa_name(ci) ? normkit_isa_name(ci) : "(bad isa)",
                 i == -1 ? " (the input's own)" : "");
        if (got != want)
            fz_fail("normkit_block_create, %s: status %d (%s), want %d (%s)", what, got,
                    normkit_status_str(got), want, normkit_status_str(want));
        if (memcmp(desc, &saved, sizeof saved) != 0)
            fz_fail("normkit_block_create, %s: changed the desc", what);
        if (cout_null)
            continue;
        if (got != NORMKIT_OK) {
            if (b != NULL)
                fz_fail("normkit_block_create, %s: *out not NULL after status %d", what, got);
            continue;
        }
        if (normkit_block_isa(b) != resolved || normkit_block_get_path(b) != cp)
            fz_fail("%s: normkit_block_isa %s, path %d; want %s, %d", what,
                    normkit_isa_name(normkit_block_isa(b)), normkit_block_get_path(b),
                    normkit_isa_name(resolved), cp);
        const double flops = 2.0 * (double)D * (double)H * (gated ? 3.0 : 2.0);
        if (normkit_block_flops_per_row(b) != flops)
            fz_fail("%s: normkit_block_flops_per_row %g, want %g", what,
                    normkit_block_flops_per_row(b), flops);
        if (i == -1) {
            own_isa = resolved, own_path = cp;
        } else if (nb && blocks[0] && own_isa == resolved && own_path == cp) {
            normkit_block_free(b); /* the input's own block is this one */
            continue;
        }
        snprintf(labels[nb], sizeof labels[nb], "%s", what);
        blocks[nb++] = b;
    }
    /* the arrays are the block's own copies now: the caller's go away */
    for (int a = 0; a < NARR; a++)
        if (memcmp(arr[a], rarr[a], alen[a] * sizeof(float)) != 0)
            fz_fail("normkit_block_create wrote into a desc array (%d)", a);
    for (int a = 0; a < NARR; a++)
        free(arr[a]);
    free(desc);
    if (normkit_block_ws_bytes(NULL, rows) != 0)
        fz_fail("normkit_block_ws_bytes(NULL, %zu) != 0", rows);

    /* ---- the forward calls ---- */
    run_t u;
    memset(&u, 0, sizeof u);
    u.rows = call_rows, u.D = D, u.H = H, u.c = c;
    u.ldx = ldx, u.ldh = ldh, u.fault = fault;
    u.x = fault == F_X_NULL ? NULL : c.view[BX].m;
    u.h = fault == F_H_NULL ? NULL : c.view[BH].m;
    u.ws_mode = fwd & 3, u.ws_off = offs >> 4, u.repeat = fwd >> 2 & 3, u.arg = arg;
    fz_set_snapshot(&u.c);
    if (nb) {
        const normkit_block *b0 = fault == F_B_NULL ? NULL : blocks[0];
        const normkit_status w0 =
            want_forward(b0, D, call_rows, u.x, ldx, u.h, ldh, NULL, 0,
                         b0 ? normkit_block_ws_bytes(b0, call_rows) : 1);
        if (w0 == NORMKIT_OK && call_rows) {
            expectations(&rdesc, call_rows, c.view[BX].m, ldx, &u.ex);
            u.have_ex = 1;
        }
        if (fault == F_B_NULL)
            run_block(&u, NULL, "a NULL block");
        else
            for (size_t i = 0; i < nb; i++)
                run_block(&u, blocks[i], labels[i]);
    }

    for (size_t i = 0; i < nb; i++)
        normkit_block_free(blocks[i]);
    normkit_block_free(NULL);
    for (int a = 0; a < NARR; a++)
        free(rarr[a]);
    if (u.have_ex)
        expect_free(&u.ex);
    fz_set_free(&u.c);
    return 0;
}
