/*
 * The float64 block and its first-order error bound (block_f64.h): the rules of
 * docs/numerics.md, "Blocks", one step at a time in the order the float32 evaluation runs,
 * each step adding its own rounding and carrying the errors already in its inputs through its
 * derivative.
 */
#include "block_f64.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define U 0x1p-24              /* float's unit roundoff */
#define SUBNORMAL_ULP 0x1p-149 /* absolute rounding of a subnormal float result */
/* The activations' own error, relative (docs/numerics.md, "Activations"). */
#define ACT_REL (8 * U)
/* max |act'(s)|: GELU's derivative peaks at 1.129 (s ~ 1.5), SiLU's at 1.0998 (s ~ 2.4) */
#define ACT_SLOPE 1.13

double nk_norm_bound(normkit_norm norm, size_t n, double ref, double g, double zmax, double inv_s)
{
    /* LayerNorm: a mean in the subnormal range is known to 2^-150 absolute at best (its last
     * division by n rounds there), which the scale 1/S multiplies: 2^-149 |g| / S, twice */
    if (norm == NORMKIT_NORM_LN)
        return (1.5 * (double)n + 12.0) * U * fabs(g) * zmax + 2.0 * U * fabs(ref) +
               SUBNORMAL_ULP * (2.0 + fabs(g) + 2.0 * fabs(g) * inv_s);
    return ((double)n / 2.0 + 6.0) * U * fabs(ref) + SUBNORMAL_ULP * (1.0 + fabs(g));
}

static double act64(normkit_act a, double s)
{
    return a == NORMKIT_ACT_GELU ? 0.5 * s * erfc(-s / sqrt(2.0)) : s / (1.0 + exp(-s));
}

/*
 * The norm of one row v (n values, with error ev[i] already in them) into y, and the bound of
 * y's error into ey: the norm's own bound (nk_norm_bound) plus the input errors carried by the
 * norm's derivative:
 *   RMSNorm   |dy_i| <= |g_i| / r (|dv_i| + |v_i| sum_k |v_k| |dv_k| / (n r^2))
 *   LayerNorm |dy_i| <= |g_i| / s (|dv_i| + m + |z_i| sum_k |z_k| (|dv_k| + m) / n), m = mean |dv|
 */
static void norm64(const normkit_block_desc *d, const double *v, const double *ev, double *y,
                   double *ey)
{
    const size_t n = d->dim;
    const double eps = d->eps;
    if (d->norm == NORMKIT_NORM_RMS) {
        double ss = 0, sv = 0;
        for (size_t k = 0; k < n; k++)
            ss += v[k] * v[k], sv += fabs(v[k]) * ev[k];
        const double r = sqrt(ss / (double)n + eps);
        for (size_t i = 0; i < n; i++) {
            const double g = d->gamma ? d->gamma[i] : 1.0;
            y[i] = v[i] / r * g;
            ey[i] = fabs(g) / r * (ev[i] + fabs(v[i]) * sv / ((double)n * r * r)) +
                    nk_norm_bound(NORMKIT_NORM_RMS, n, y[i], g, 0, 0);
        }
        return;
    }
    double mean = 0, var = 0, m = 0;
    for (size_t k = 0; k < n; k++)
        mean += v[k], m += ev[k];
    mean /= (double)n, m /= (double)n;
    for (size_t k = 0; k < n; k++)
        var += (v[k] - mean) * (v[k] - mean);
    const double s = sqrt(var / (double)n + eps);
    double zmax = 0, sz = 0;
    for (size_t k = 0; k < n; k++) {
        const double z = fabs(v[k] - mean) / s;
        zmax = z > zmax ? z : zmax;
        sz += z * (ev[k] + m);
    }
    for (size_t i = 0; i < n; i++) {
        const double g = d->gamma ? d->gamma[i] : 1.0, bt = d->beta ? d->beta[i] : 0.0;
        const double z = (v[i] - mean) / s;
        y[i] = z * g + bt;
        ey[i] = fabs(g) / s * (ev[i] + m + fabs(z) * sz / (double)n) +
                nk_norm_bound(NORMKIT_NORM_LN, n, y[i], g, zmax, s > 0 ? 1.0 / s : 0.0);
    }
}

/*
 * out = W a + bias for `rows` rows (W [n x k] row-major, a [rows x k]), and its bound:
 *   (k + 6) u sum_q |W_jq| (|a_q| + |beta_q|) (+ |bias_j|) + u |out_j| + sum_q |W_jq| ea_q
 * (docs/numerics.md, "Linear": (k + 4) u for the variants' sums; + 2u for W and the bias
 * rounded once more when the fused pre-norm path folds gamma and beta into them). beta: the
 * LayerNorm shift of a = z gamma + beta when the fused path may fold it (NULL otherwise): its
 * kernel sums the terms W_jq gamma_q z_q, up to |W_jq| (|a_q| + |beta_q|), then adds
 * b + W beta. Computed as one pass of |W| over c = (k + 6) u (|a| + |beta|) + ea (c: rows x k
 * scratch).
 */
static void matmul64(size_t rows, const float *w, const float *bias, size_t n, size_t k,
                     const double *a, const double *ea, const float *beta, double *c,
                     double *out, double *eout)
{
    const double f = (double)(k + 6) * U;
    for (size_t r = 0; r < rows; r++)
        for (size_t q = 0; q < k; q++)
            c[r * k + q] = f * (fabs(a[r * k + q]) + (beta ? fabs((double)beta[q]) : 0.0)) +
                           ea[r * k + q];
    for (size_t j = 0; j < n; j++) {
        const float *wj = w + j * k;
        const double bj = bias ? bias[j] : 0.0;
        for (size_t r = 0; r < rows; r++) {
            const double *ar = a + r * k, *cr = c + r * k;
            double s = 0, e = 0;
            for (size_t q = 0; q < k; q++) {
                const double wq = wj[q];
                s += wq * ar[q];
                e += fabs(wq) * cr[q];
            }
            s += bj;
            out[r * n + j] = s;
            eout[r * n + j] = e + f * fabs(bj) + U * fabs(s);
        }
    }
}

int nk_block_f64(const normkit_block_desc *d, size_t rows, const double *x, const double *ex,
                 double *h, double *eh, double *f)
{
    const size_t R = rows, D = d->dim, H = d->hidden, DH = D > H ? D : H;
    const int pre = d->layout == NORMKIT_PRENORM;
    if (R == 0)
        return 0;
    /* scratch: u, eu, ef, v, ev, zero, f [R x D]; s, es, g, eg [R x H]; c [R x max(D, H)] */
    if (D > SIZE_MAX / 16 || H > SIZE_MAX / 16 ||
        7 * D + 4 * H + DH > SIZE_MAX / sizeof(double) / R)
        return -1;
    double *const mem = malloc(R * (7 * D + 4 * H + DH) * sizeof(double));
    if (!mem)
        return -1;
    double *const u = mem, *const eu = u + R * D, *const ef = eu + R * D, *const v = ef + R * D,
                 *const ev = v + R * D, *const zero = ev + R * D, *const ff = zero + R * D,
                 *const s = ff + R * D, *const es = s + R * H, *const g = es + R * H,
                 *const eg = g + R * H, *const c = eg + R * H;
    if (!f)
        f = ff;
    if (!ex) { /* x is exact */
        memset(zero, 0, R * D * sizeof(double));
        ex = zero;
    }
    /* the FFN's input: Norm(x) (pre-norm) or x (post-norm), with its bound */
    const double *fin = x, *efin = ex;
    if (pre) {
        for (size_t r = 0; r < R; r++)
            norm64(d, x + r * D, ex + r * D, u + r * D, eu + r * D);
        fin = u, efin = eu;
    }
    /* t = act(W1 u + b1) [* (W3 u + b3)], in s */
    const float *fold = pre && d->norm == NORMKIT_NORM_LN ? d->beta : NULL;
    matmul64(R, d->w1, d->b1, H, D, fin, efin, fold, c, s, es);
    for (size_t i = 0; i < R * H; i++) {
        const double a = act64(d->act, s[i]);
        es[i] = ACT_SLOPE * es[i] + ACT_REL * fabs(a) + U * fabs(a);
        s[i] = a;
    }
    if (d->gated) {
        matmul64(R, d->w3, d->b3, H, D, fin, efin, fold, c, g, eg);
        for (size_t i = 0; i < R * H; i++) {
            const double t = s[i] * g[i];
            es[i] = fabs(g[i]) * es[i] + fabs(s[i]) * eg[i] + U * fabs(t);
            s[i] = t;
        }
    }
    /* f = W2 t + b2; the residual add x + f is h (pre-norm) or the norm's input (post-norm) */
    matmul64(R, d->w2, d->b2, D, H, s, es, NULL, c, f, ef);
    double *const sum = pre ? h : v, *const esum = pre ? eh : ev;
    for (size_t i = 0; i < R * D; i++) {
        sum[i] = x[i] + f[i];
        esum[i] = ef[i] + U * fabs(sum[i]);
    }
    if (!pre)
        for (size_t r = 0; r < R; r++)
            norm64(d, v + r * D, ev + r * D, h + r * D, eh + r * D);
    free(mem);
    return 0;
}
