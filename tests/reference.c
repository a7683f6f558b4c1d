#include "reference.h"

#include <math.h>

static int all_finite(size_t n, const float *x)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* 1/sqrt(v), with the 0/0 := 0 rule for a row of zero spread and eps == 0. */
static double inv_sqrt_or_zero(double v)
{
    return v > 0.0 ? 1.0 / sqrt(v) : 0.0;
}

void ref_rmsnorm_row(size_t n, const float *x, const float *gamma, float eps, double *y)
{
    double sum_sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum_sq += (double)x[i] * (double)x[i];
    double scale = all_finite(n, x) ? inv_sqrt_or_zero(sum_sq / (double)n + eps) : NAN;
    for (size_t i = 0; i < n; i++)
        y[i] = (double)x[i] * scale * (gamma ? gamma[i] : 1.0);
}

void ref_layernorm_row(size_t n, const float *x, const float *gamma, const float *beta, float eps,
                       double *y, double *zmax)
{
    /* Two passes in double; the second also sums the deviations and adds their mean back,
     * which removes the first pass's rounding error (it matters when |mean| >> std). */
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    double dev_sum = 0.0;
    for (size_t i = 0; i < n; i++)
        dev_sum += (double)x[i] - mean;
    mean += dev_sum / (double)n;

    double sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sq += ((double)x[i] - mean) * ((double)x[i] - mean);
    double var = sq / (double)n;
    double scale = all_finite(n, x) ? inv_sqrt_or_zero(var + eps) : NAN;

    double zm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double z = ((double)x[i] - mean) * scale;
        zm = fabs(z) > zm ? fabs(z) : zm;
        y[i] = z * (gamma ? gamma[i] : 1.0) + (beta ? beta[i] : 0.0);
    }
    if (zmax)
        *zmax = isfinite(scale) ? zm : NAN;
}

/* ---- the per-operator references the tests expand from kernels/normkit_ops.inc ---- */

void nk_ref_rmsnorm(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                    double *y, double *zmax)
{
    (void)beta;
    ref_rmsnorm_row(n, h, gamma, eps, y);
    *zmax = 0.0;
}

void nk_ref_layernorm(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                      double *y, double *zmax)
{
    ref_layernorm_row(n, h, gamma, beta, eps, y, zmax);
}

/* add+norm: the caller passes h = x + r; the norm is the plain operator's. */
void nk_ref_add_rmsnorm(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                        double *y, double *zmax)
{
    nk_ref_rmsnorm(n, h, gamma, beta, eps, y, zmax);
}

void nk_ref_add_layernorm(size_t n, const float *h, const float *gamma, const float *beta,
                          float eps, double *y, double *zmax)
{
    nk_ref_layernorm(n, h, gamma, beta, eps, y, zmax);
}


/* The linear operators: nk_ref_<op> is the activation row their matmul multiplies (x itself,
 * or its norm); tests/test_linear.c does the matmul in double on top. */
void nk_ref_linear(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                   double *y, double *zmax)
{
    (void)gamma, (void)beta, (void)eps;
    for (size_t i = 0; i < n; i++)
        y[i] = h[i];
    *zmax = 0.0;
}

void nk_ref_rmsnorm_linear(size_t n, const float *h, const float *gamma, const float *beta,
                           float eps, double *y, double *zmax)
{
    nk_ref_rmsnorm(n, h, gamma, beta, eps, y, zmax);
}

void nk_ref_layernorm_linear(size_t n, const float *h, const float *gamma, const float *beta,
                             float eps, double *y, double *zmax)
{
    nk_ref_layernorm(n, h, gamma, beta, eps, y, zmax);
}

/* ---- the elementwise operators ---- */

/* GELU in double: x/2 erfc(-x/sqrt 2). The argument's rounding (2^-53) moves erfc by at most
 * 2t^2 2^-53 relative, t = -x/sqrt 2, i.e. below 2^-45 wherever the float result is not 0;
 * glibc's erfc is within a few double ulps. So the reference is exact to ~2^-44 relative,
 * far below the float bounds under test. The limits: -Inf -> -0, +Inf -> +Inf. */
double ref_gelu(float x)
{
    if (isnan(x))
        return NAN;
    if (isinf(x))
        return x > 0 ? INFINITY : -0.0;
    return 0.5 * (double)x * erfc(-(double)x * 0.70710678118654752440);
}

/* SiLU in double, in the overflow-free form: e = exp(-|x|), x * (x >= 0 ? 1 : e) / (1 + e). */
double ref_silu(float x)
{
    if (isnan(x))
        return NAN;
    if (isinf(x))
        return x > 0 ? INFINITY : -0.0;
    const double e = exp(-fabs((double)x));
    return (double)x * ((x >= 0.0f ? 1.0 : e) / (1.0 + e));
}

void nk_ref_gelu(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                 double *y, double *zmax)
{
    (void)gamma, (void)beta, (void)eps;
    for (size_t i = 0; i < n; i++)
        y[i] = ref_gelu(h[i]);
    *zmax = 0.0;
}

void nk_ref_silu(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                 double *y, double *zmax)
{
    (void)gamma, (void)beta, (void)eps;
    for (size_t i = 0; i < n; i++)
        y[i] = ref_silu(h[i]);
    *zmax = 0.0;
}

/* add and mul: h is the row of x and `gamma` the row of r (see reference.h). The double sum or
 * product of two floats, rounded once to float, is the correctly rounded float result
 * (53 >= 2 * 24 + 2), so (float)y[i] is exactly what one IEEE float operation must give. */
void nk_ref_add(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                double *y, double *zmax)
{
    (void)beta, (void)eps;
    for (size_t i = 0; i < n; i++)
        y[i] = (double)h[i] + (double)gamma[i];
    *zmax = 0.0;
}

void nk_ref_mul(size_t n, const float *h, const float *gamma, const float *beta, float eps,
                double *y, double *zmax)
{
    (void)beta, (void)eps;
    for (size_t i = 0; i < n; i++)
        y[i] = (double)h[i] * (double)gamma[i];
    *zmax = 0.0;
}

double ref_ln_inv_s(size_t n, const float *x, float eps)
{
    double mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += ((double)x[i] - mean) * ((double)x[i] - mean);
    const double s2 = var / (double)n + (double)eps;
    return s2 > 0.0 ? 1.0 / sqrt(s2) : 0.0;
}

void nk_ref_row(int op, size_t n, const float *h, const float *gamma, const float *beta,
                float eps, double *y, double *zmax)
{
#define NORMKIT_OP(NAME, ...) nk_ref_##NAME,
    static nk_ref_fn *const refs[] = {
#include "normkit_ops.inc"
    };
#undef NORMKIT_OP
    refs[op](n, h, gamma, beta, eps, y, zmax);
}
