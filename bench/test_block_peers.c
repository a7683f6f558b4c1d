/*
 * test_block_peers: every block peer built in (bench/peers/onednn_block.c, torch_block.cc)
 * against a float64 block written here in plain loops, so normkit-bench never times a peer
 * that computes another block. Plain C, no Google Benchmark.
 *
 * Blocks: dim {8, 64, 96}; plain FFN with hidden 4 dim, gated FFN with hidden 2.75 dim rounded
 * up to a multiple of 8 (24, 176, 264); times both layouts, both norms, both activations; each
 * with every parameter present (gamma, beta for LayerNorm, b1, b3, b2) and with none (all NULL,
 * Llama's style): 96 blocks. One create() with max_rows 5 (then the caller's arrays are
 * overwritten with NaN: the peer must have copied them), run() for rows 5, 1, 2, 3, 4, rows 3
 * again on other x/h buffers (a peer caching per rows must compute again, on the new
 * pointers) and rows 5 again on the first ones. h starts as NaN, with a sentinel row after the last one, which must survive; x
 * must come back unchanged.
 *
 * Data: x = U[-1, 1) + a per-row offset in [-0.5, 0.5) (LayerNorm's mean matters), W1, W3 =
 * U[-2, 2) / sqrt(dim) (pre-activations of a few units: GELU/SiLU's curved region), W2 =
 * U[-1, 1) / sqrt(hidden), biases and beta U[-0.5, 0.5), gamma U[0.5, 1.5); eps 1e-5.
 *
 * Bound: a first-order running error bound carried through the reference next to each value
 * (u = 2^-24, float's unit roundoff; "d" = the bound on a value's error):
 *   Norm, computed from exact inputs:
 *     RMSNorm   (dim/2 + 8) u |n_k|              (a float sum of dim squares: relative error
 *                                                 dim u, halved by the square root, plus a few
 *                                                 roundings: divide, eps, rsqrt, x, gamma)
 *     LayerNorm (2 dim + 16) u |gamma_k| zmax + 2u |n_k|   (its two row sums, mean and
 *                                                 variance, each at most dim u relative; zmax the
 *                                                 row's largest |normalized| value)
 *   Norm of an input with errors dv (post-norm's t), plus its first-order propagation:
 *     RMSNorm   |gamma_k| / s   (dv_k + |z_k| sum_j |z_j| dv_j / dim)
 *     LayerNorm |gamma_k| / sig (dv_k + sum_j dv_j / dim + |z_k| sum_j |z_j| dv_j / dim)
 *     (the Jacobians (I - z z^T/dim)/s and (I - 1/dim - z z^T/dim)/sig, taken in absolute value)
 *   Linear, K inputs u with errors du: (K + 2) u (sum_k |W_jk u_k| + |b_j|) + sum_k |W_jk| du_k
 *     (a float sum of K + 1 terms in any order, the bias as one of them, as in
 *     test_linear_peers.c, plus what the inputs' errors do)
 *   act:  da = L dz + 8u |z|, L = 1.13 (GELU's largest slope) or 1.10 (SiLU's); 8u |z| covers
 *     the libraries' erf/exp approximations (erf polynomials with ~1e-7 absolute error give
 *     < 1.3u |z| in GELU = z Phi(z)) and the rounding of a (|act(z)| <= |z|)
 *   gate: dg = |v| da + |a| dv + u |g|
 *   residual add: d(x + y) = dy + u (|x| + |y|)
 * and the test asserts |h_peer - h_ref| <= dh for every element. Each term is a worst case
 * for any summation order (real errors grow like sqrt(K) u, not K u: the largest error seen
 * is printed as a fraction of the bound, ~0.02 here), so no blocking or FMA choice of a
 * library can make the test flaky. It still has teeth: a dropped bias, eps or residual, a
 * wrong norm or layout is off by orders of magnitude more, and the test checks that GELU's
 * tanh approximation in place of the erf form (|difference| up to 4.7e-4) would fail it on
 * every dim-8 GELU block (K u is then small next to it; at dim 96 the worst-case bound
 * reaches the size of that difference, and the count of blocks it catches is only printed).
 *
 * Prints "<peer>: N passed, M failed (largest |error| / bound ...)" per usable peer and
 * "<peer>: skipped (...)" for one not built or failing its init. Exit: 1 on any failure, 77
 * (meson's skip) when no peer is usable, 0 otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_config.h"
#include "peers/peers.h"

enum { MAX_ROWS = 5 };

static const double U = 0x1p-24;

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static double uniform(void) /* in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (double)(rng_state >> 40) / (double)(1u << 23) - 1.0;
}

static void *xalloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "test_block_peers: out of memory\n");
        exit(1);
    }
    return p;
}

static float *floats(size_t n, double lo, double hi)
{
    float *p = xalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(lo + (hi - lo) * (uniform() + 1.0) / 2.0);
    return p;
}

/* ---- the float64 reference, with its error bound ---- */
/* Own copy, not tests/block_f64.c: its bound differs in every step, plus a tanh-GELU knob. */

typedef enum { GELU_ERF, GELU_TANH } gelu_kind;

static double act_ref(normkit_act act, gelu_kind gk, double z)
{
    if (act == NORMKIT_ACT_SILU)
        return z / (1.0 + exp(-z));
    if (gk == GELU_TANH)
        return 0.5 * z * (1.0 + tanh(0.79788456080286535588 /* sqrt(2/pi) */ * (z + 0.044715 * z * z * z)));
    return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
}

/* n = Norm(v), v with error bounds dv (NULL: exact); dn: n's error bound */
static void norm_ref(const normkit_block_desc *d, const double *v, const double *dv, double *n,
                     double *dn, double *z)
{
    const size_t dim = d->dim;
    double mean = 0.0, ss = 0.0;
    if (d->norm == NORMKIT_NORM_LN) {
        for (size_t k = 0; k < dim; k++)
            mean += v[k];
        mean /= (double)dim;
    }
    for (size_t k = 0; k < dim; k++)
        ss += (v[k] - mean) * (v[k] - mean);
    const double s = sqrt(ss / (double)dim + (double)d->eps);
    double zmax = 0.0, dsum = 0.0, zdsum = 0.0;
    for (size_t k = 0; k < dim; k++) {
        z[k] = (v[k] - mean) / s;
        zmax = fmax(zmax, fabs(z[k]));
        if (dv) {
            dsum += dv[k];
            zdsum += fabs(z[k]) * dv[k];
        }
    }
    dsum /= (double)dim, zdsum /= (double)dim;
    for (size_t k = 0; k < dim; k++) {
        const double g = d->gamma ? (double)d->gamma[k] : 1.0;
        const double bt = d->norm == NORMKIT_NORM_LN && d->beta ? (double)d->beta[k] : 0.0;
        n[k] = g * z[k] + bt;
        double comp, prop = 0.0;
        if (d->norm == NORMKIT_NORM_RMS) {
            comp = ((double)dim / 2 + 8) * U * fabs(n[k]);
            if (dv)
                prop = fabs(g) / s * (dv[k] + fabs(z[k]) * zdsum);
        } else {
            comp = (2.0 * (double)dim + 16) * U * fabs(g) * zmax + 2 * U * fabs(n[k]);
            if (dv)
                prop = fabs(g) / s * (dv[k] + dsum + fabs(z[k]) * zdsum);
        }
        dn[k] = comp + prop;
    }
}

/* out[j] = W[j] . in + b[j] over n outputs and k inputs, with error bounds */
static void linear_ref(size_t n, size_t k, const float *w, const float *b, const double *in,
                       const double *din, double *out, double *dout)
{
    for (size_t j = 0; j < n; j++) {
        double acc = b ? (double)b[j] : 0.0, mag = fabs(acc), prop = 0.0;
        for (size_t i = 0; i < k; i++) {
            const double wji = (double)w[j * k + i];
            acc += wji * in[i];
            mag += fabs(wji * in[i]);
            prop += fabs(wji) * din[i];
        }
        out[j] = acc;
        dout[j] = (double)(k + 2) * U * mag + prop;
    }
}

typedef struct {
    double *u, *du, *z, *a, *da, *v, *dv, *y, *dy, *t;
} scratch;

/* h, dh (dim each) = Block(x row) in double */
static void block_ref(const normkit_block_desc *d, gelu_kind gk, const float *xrow, scratch *s,
                      double *h, double *dh)
{
    const size_t dim = d->dim, hid = d->hidden;
    const int pre = d->layout == NORMKIT_PRENORM;
    for (size_t k = 0; k < dim; k++)
        s->t[k] = xrow[k]; /* x in double */
    if (pre) {
        norm_ref(d, s->t, NULL, s->u, s->du, s->z);
    } else {
        memcpy(s->u, s->t, dim * sizeof(double));
        memset(s->du, 0, dim * sizeof(double));
    }
    linear_ref(hid, dim, d->w1, d->b1, s->u, s->du, s->a, s->da);
    const double lip = d->act == NORMKIT_ACT_GELU ? 1.13 : 1.10;
    for (size_t j = 0; j < hid; j++) {
        const double z = s->a[j];
        s->a[j] = act_ref(d->act, gk, z);
        s->da[j] = lip * s->da[j] + 8 * U * fabs(z);
    }
    if (d->gated) {
        linear_ref(hid, dim, d->w3, d->b3, s->u, s->du, s->v, s->dv);
        for (size_t j = 0; j < hid; j++) {
            const double g = s->a[j] * s->v[j];
            s->da[j] = fabs(s->v[j]) * s->da[j] + fabs(s->a[j]) * s->dv[j] + U * fabs(g);
            s->a[j] = g;
        }
    }
    linear_ref(dim, hid, d->w2, d->b2, s->a, s->da, s->y, s->dy);
    for (size_t k = 0; k < dim; k++) {
        const double x = xrow[k];
        s->dy[k] += U * (fabs(x) + fabs(s->y[k]));
        s->y[k] += x; /* x + FFN(.) */
    }
    if (pre) {
        memcpy(h, s->y, dim * sizeof(double));
        memcpy(dh, s->dy, dim * sizeof(double));
    } else {
        norm_ref(d, s->y, s->dy, h, dh, s->z);
    }
}

/* ---- the test ---- */

typedef struct {
    unsigned passed, failed, reported;
    double worst; /* largest |error| / bound seen */
    unsigned tanh_cases, tanh_caught;             /* GELU blocks; those the bound tells apart */
    unsigned tanh_cases_small, tanh_caught_small; /* the same, dim 8 */
} tally;

static void describe(char *buf, size_t len, const normkit_block_desc *d)
{
    const int bare = !d->gamma && !d->b1;
    snprintf(buf, len, "%s %s %s%s dim %zu hidden %zu%s",
             d->layout == NORMKIT_PRENORM ? "prenorm" : "postnorm",
             d->norm == NORMKIT_NORM_RMS ? "rmsnorm" : "layernorm",
             d->act == NORMKIT_ACT_GELU ? "gelu" : "silu",
             d->gated ? " gated" : "", d->dim, d->hidden, bare ? " (no gamma/beta/biases)" : "");
}

/* One run() of `rows` rows from x into h and the comparison. Returns 0 when it passes. */
static int check_run(const nkb_block_peer *p, void *state, tally *t, const normkit_block_desc *d,
                     const char *what, size_t rows, const float *x, float *h, const double *ref,
                     const double *bound)
{
    const size_t dim = d->dim;
    const float sentinel = 12345.0f;
    for (size_t i = 0; i < (MAX_ROWS + 1) * dim; i++)
        h[i] = i < rows * dim ? NAN : sentinel;
    float *xcopy = xalloc(rows * dim * sizeof *xcopy);
    memcpy(xcopy, x, rows * dim * sizeof *xcopy);
    const char *e = p->run(state, rows, x, h);
    char msg[320] = "";
    if (e) {
        snprintf(msg, sizeof msg, "run() failed: %s", e);
    } else if (memcmp(xcopy, x, rows * dim * sizeof *xcopy) != 0) {
        snprintf(msg, sizeof msg, "run() changed x");
    } else {
        for (size_t i = 0; i < rows * dim && !msg[0]; i++) {
            const double err = fabs((double)h[i] - ref[i]);
            if (!(err <= bound[i]))
                snprintf(msg, sizeof msg,
                         "h[%zu][%zu] = %.9g, reference %.9g, |diff| %.3g > bound %.3g", i / dim,
                         i % dim, (double)h[i], ref[i], err, bound[i]);
            else if (bound[i] > 0 && err / bound[i] > t->worst)
                t->worst = err / bound[i];
        }
        for (size_t i = rows * dim; i < (MAX_ROWS + 1) * dim && !msg[0]; i++)
            if (h[i] != sentinel)
                snprintf(msg, sizeof msg, "wrote h past its %zu rows (element %zu)", rows, i);
    }
    free(xcopy);
    if (!msg[0]) {
        t->passed++;
        return 0;
    }
    t->failed++;
    if (t->reported++ < 10) {
        char desc[160];
        describe(desc, sizeof desc, d);
        printf("  %s FAIL %s, rows %zu (%s): %s\n", p->name, desc, rows, what, msg);
    }
    return 1;
}

static void check_block(const nkb_block_peer *p, tally *t, normkit_layout layout,
                        normkit_norm norm, normkit_act act, int gated, size_t dim, int bare)
{
    const size_t hidden = gated ? (dim * 11 / 4 + 7) / 8 * 8 : 4 * dim;
    const double s1 = 2.0 / sqrt((double)dim), s2 = 1.0 / sqrt((double)hidden);
    normkit_block_desc d;
    memset(&d, 0, sizeof d);
    d.layout = layout, d.norm = norm, d.act = act, d.gated = gated;
    d.dim = dim, d.hidden = hidden, d.eps = 1e-5f;
    float *w1 = floats(hidden * dim, -s1, s1), *w3 = gated ? floats(hidden * dim, -s1, s1) : NULL;
    float *w2 = floats(dim * hidden, -s2, s2);
    float *gamma = bare ? NULL : floats(dim, 0.5, 1.5);
    float *beta = bare || norm != NORMKIT_NORM_LN ? NULL : floats(dim, -0.5, 0.5);
    float *b1 = bare ? NULL : floats(hidden, -0.5, 0.5);
    float *b3 = bare || !gated ? NULL : floats(hidden, -0.5, 0.5);
    float *b2 = bare ? NULL : floats(dim, -0.5, 0.5);
    d.w1 = w1, d.w3 = w3, d.w2 = w2, d.gamma = gamma, d.beta = beta;
    d.b1 = b1, d.b3 = b3, d.b2 = b2;

    /* two x buffers (the second for the repeat on other pointers), two h buffers with a
     * sentinel row each */
    float *x[2], *h[2];
    for (int i = 0; i < 2; i++) {
        x[i] = xalloc(MAX_ROWS * dim * sizeof(float));
        h[i] = xalloc((MAX_ROWS + 1) * dim * sizeof(float));
        for (size_t r = 0; r < MAX_ROWS; r++) {
            const double offset = 0.5 * uniform();
            for (size_t k = 0; k < dim; k++)
                x[i][r * dim + k] = (float)(uniform() + offset);
        }
    }
    double *ref[2], *bound[2];
    scratch s;
    double **bufs[] = {&s.u, &s.du, &s.z, &s.a, &s.da, &s.v, &s.dv, &s.y, &s.dy, &s.t};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        *bufs[i] = xalloc((hidden > dim ? hidden : dim) * sizeof(double));
    double *tanh_h = xalloc(dim * sizeof(double)), *tanh_dh = xalloc(dim * sizeof(double));
    for (int i = 0; i < 2; i++) {
        ref[i] = xalloc(MAX_ROWS * dim * sizeof(double));
        bound[i] = xalloc(MAX_ROWS * dim * sizeof(double));
        for (size_t r = 0; r < MAX_ROWS; r++)
            block_ref(&d, GELU_ERF, x[i] + r * dim, &s, ref[i] + r * dim, bound[i] + r * dim);
    }
    /* The bound's teeth: would GELU's tanh form pass it? (it must not, on most blocks) */
    if (act == NORMKIT_ACT_GELU) {
        int caught = 0;
        for (size_t r = 0; r < MAX_ROWS && !caught; r++) {
            block_ref(&d, GELU_TANH, x[0] + r * dim, &s, tanh_h, tanh_dh);
            for (size_t k = 0; k < dim; k++)
                caught |= fabs(tanh_h[k] - ref[0][r * dim + k]) > bound[0][r * dim + k];
        }
        t->tanh_cases++;
        t->tanh_caught += (unsigned)caught;
        if (dim == 8) {
            t->tanh_cases_small++;
            t->tanh_caught_small += (unsigned)caught;
        }
    }

    void *state = NULL;
    const char *e = p->create(&d, MAX_ROWS, &state);
    if (e) {
        t->failed++;
        if (t->reported++ < 10) {
            char desc[160];
            describe(desc, sizeof desc, &d);
            printf("  %s FAIL %s: create() failed: %s\n", p->name, desc, e);
        }
    } else {
        /* create() copied everything: scribble over the caller's arrays */
        float *arrays[] = {w1, w3, w2, gamma, beta, b1, b3, b2};
        size_t counts[] = {hidden * dim, hidden * dim, dim * hidden, dim, dim, hidden, hidden, dim};
        float **saved = xalloc(sizeof arrays);
        for (size_t i = 0; i < 8; i++) {
            saved[i] = NULL;
            if (arrays[i]) {
                saved[i] = xalloc(counts[i] * sizeof(float));
                memcpy(saved[i], arrays[i], counts[i] * sizeof(float));
                for (size_t j = 0; j < counts[i]; j++)
                    arrays[i][j] = NAN;
            }
        }
        static const size_t order[] = {5, 1, 2, 3, 4};
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
            check_run(p, state, t, &d, "first call for this rows", order[i], x[0], h[0], ref[0],
                      bound[0]);
        check_run(p, state, t, &d, "rows 3 again, other x and h", 3, x[1], h[1], ref[1],
                  bound[1]);
        check_run(p, state, t, &d, "rows 5 again, first x and h", 5, x[0], h[0], ref[0],
                  bound[0]);
        p->destroy(state);
        for (size_t i = 0; i < 8; i++)
            free(saved[i]);
        free(saved);
    }
    for (int i = 0; i < 2; i++)
        free(x[i]), free(h[i]), free(ref[i]), free(bound[i]);
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(*bufs[i]);
    free(tanh_h), free(tanh_dh);
    free(w1), free(w3), free(w2), free(gamma), free(beta), free(b1), free(b3), free(b2);
}

static int test_peer(const char *name, int (*init)(nkb_block_peer *, char *, size_t),
                     int *usable)
{
    nkb_block_peer p;
    char info[2048] = "";
    if (init(&p, info, sizeof info) != 0) {
        printf("%s: skipped (init failed: %s)\n", name, info);
        return 0;
    }
    printf("%s: %s\n", name, info);
    ++*usable;
    rng_state = 0x9E3779B97F4A7C15u; /* the same blocks for every peer */
    tally t;
    memset(&t, 0, sizeof t);
    static const size_t dims[] = {8, 64, 96};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (int layout = 0; layout < 2; layout++)
            for (int norm = 0; norm < 2; norm++)
                for (int act = 0; act < 2; act++)
                    for (int gated = 0; gated < 2; gated++)
                        for (int bare = 0; bare < 2; bare++)
                            check_block(&p, &t, layout ? NORMKIT_POSTNORM : NORMKIT_PRENORM,
                                        norm ? NORMKIT_NORM_LN : NORMKIT_NORM_RMS,
                                        act ? NORMKIT_ACT_SILU : NORMKIT_ACT_GELU, gated,
                                        dims[di], bare);
    /* the bound must tell erf GELU from tanh GELU, at least on the small blocks */
    const int toothless = t.tanh_caught_small < t.tanh_cases_small;
    printf("%s: %u passed, %u failed (largest |error| / bound %.3g; tanh-GELU in place of erf "
           "would fail %u of %u GELU blocks, %u of %u with dim 8%s)\n",
           name, t.passed, t.failed, t.worst, t.tanh_caught, t.tanh_cases, t.tanh_caught_small,
           t.tanh_cases_small, toothless ? ": the bound is too loose" : "");
    return t.failed != 0 || toothless;
}

int main(void)
{
    int failed = 0, usable = 0;
    (void)test_peer; /* a build without any block peer calls none */
#if NKB_HAVE_ONEDNN
    failed |= test_peer("onednn", nkb_onednn_block_init, &usable);
#else
    printf("onednn: skipped (not built: %s)\n", NKB_ONEDNN_ABSENT);
#endif
#if NKB_HAVE_TORCH
    failed |= test_peer("torch", nkb_torch_block_init, &usable);
#else
    printf("torch: skipped (not built: %s)\n", NKB_TORCH_ABSENT);
#endif
    if (failed)
        return 1;
    return usable ? 0 : 77;
}
