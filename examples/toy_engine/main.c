/*
 * toy_engine: a few pre-norm layers of a toy model with random weights, run on kernels
 * exported by normkit-export (nk/, see README.md), checked against plain C in double.
 *
 *   per layer:  h = x + W2 . silu(W1 . RMSNorm(x; g1) + b1) + b2
 *   at the end: out = RMSNorm(h; gf)
 *
 * The fused RMSNorm + W1 is nkx_rmsnorm_linear_f32, W2 nkx_linear_f32, the final norm
 * nkx_rmsnorm_f32; SiLU and the residual add are written inline. The AVX2 export runs where
 * the CPU has AVX2 + FMA (nkx_normkit_avx2_supported), the scalar export elsewhere.
 * Exit status 0 when every output is within tolerance of the double computation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nkx_scalar_normkit.h"
#ifdef NK_HAVE_AVX2
#include "nkx_normkit.h"
#endif

enum { TOKENS = 5, DIM = 96, HIDDEN = 256, LAYERS = 3 };
static const float EPS = 1e-5f;

/* the kernels this run uses: one export's functions */
typedef struct {
    const char *isa;
    int (*rmsnorm)(size_t, size_t, const float *, size_t, const float *, float, float *, size_t);
    int (*linear)(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                  const float *, float *, size_t);
    int (*rmsnorm_linear)(size_t, size_t, size_t, const float *, size_t, const float *, float,
                          const float *, size_t, const float *, float *, size_t);
} kernels;

typedef struct {
    float g1[DIM], w1[HIDDEN * DIM], b1[HIDDEN], w2[DIM * HIDDEN], b2[DIM];
} layer;

static unsigned long long seed = 42;
static float rnd(float lo, float hi)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((seed >> 40) * 0x1p-24);
}

static float silu(float v)
{
    return v / (1.0f + expf(-v));
}

/* the reference: the same layers in double from the same float inputs and weights */
static void rmsnorm_ref(const double *x, const float *g, double *y)
{
    double ss = 0.0;
    for (int k = 0; k < DIM; k++)
        ss += x[k] * x[k];
    const double s = 1.0 / sqrt(ss / DIM + EPS);
    for (int k = 0; k < DIM; k++)
        y[k] = x[k] * s * g[k];
}

static void forward_ref(const layer *L, const float *gf, const float *x, double *out)
{
    static double h[TOKENS][DIM], n[DIM], a[HIDDEN];
    for (int t = 0; t < TOKENS; t++)
        for (int k = 0; k < DIM; k++)
            h[t][k] = x[t * DIM + k];
    for (int l = 0; l < LAYERS; l++)
        for (int t = 0; t < TOKENS; t++) {
            rmsnorm_ref(h[t], L[l].g1, n);
            for (int j = 0; j < HIDDEN; j++) {
                double s = L[l].b1[j];
                for (int k = 0; k < DIM; k++)
                    s += (double)L[l].w1[j * DIM + k] * n[k];
                a[j] = s / (1.0 + exp(-s));
            }
            for (int j = 0; j < DIM; j++) {
                double s = L[l].b2[j];
                for (int k = 0; k < HIDDEN; k++)
                    s += (double)L[l].w2[j * HIDDEN + k] * a[k];
                h[t][j] += s;
            }
        }
    for (int t = 0; t < TOKENS; t++)
        rmsnorm_ref(h[t], gf, out + t * DIM);
}

int main(void)
{
    kernels K = {"scalar", nkx_scalar_rmsnorm_f32, nkx_scalar_linear_f32,
                 nkx_scalar_rmsnorm_linear_f32};
#ifdef NK_HAVE_AVX2
    if (nkx_normkit_avx2_supported())
        K = (kernels){"avx2", nkx_rmsnorm_f32, nkx_linear_f32, nkx_rmsnorm_linear_f32};
#endif
    static layer L[LAYERS];
    static float gf[DIM], x[TOKENS * DIM], h[TOKENS * DIM], t1[TOKENS * HIDDEN],
        u[TOKENS * DIM], out[TOKENS * DIM];
    static double ref[TOKENS * DIM];
    for (int l = 0; l < LAYERS; l++) {
        for (int k = 0; k < DIM; k++)
            L[l].g1[k] = rnd(0.8f, 1.2f), L[l].b2[k] = rnd(-0.1f, 0.1f);
        for (int i = 0; i < HIDDEN * DIM; i++)
            L[l].w1[i] = rnd(-0.1f, 0.1f), L[l].w2[i] = rnd(-0.06f, 0.06f);
        for (int j = 0; j < HIDDEN; j++)
            L[l].b1[j] = rnd(-0.1f, 0.1f);
    }
    for (int k = 0; k < DIM; k++)
        gf[k] = rnd(0.8f, 1.2f);
    for (int i = 0; i < TOKENS * DIM; i++)
        x[i] = h[i] = rnd(-1.0f, 1.0f);

    int st = 0;
    for (int l = 0; l < LAYERS; l++) {
        st |= K.rmsnorm_linear(TOKENS, DIM, HIDDEN, h, DIM, L[l].g1, EPS, L[l].w1, DIM, L[l].b1,
                               t1, HIDDEN);
        for (int i = 0; i < TOKENS * HIDDEN; i++)
            t1[i] = silu(t1[i]);
        st |= K.linear(TOKENS, HIDDEN, DIM, t1, HIDDEN, L[l].w2, HIDDEN, L[l].b2, u, DIM);
        for (int i = 0; i < TOKENS * DIM; i++)
            h[i] += u[i];
    }
    st |= K.rmsnorm(TOKENS, DIM, h, DIM, gf, EPS, out, DIM);
    if (st) {
        fprintf(stderr, "toy_engine: a kernel rejected its arguments\n");
        return 1;
    }

    forward_ref(L, gf, x, ref);
    double worst = 0.0;
    for (int i = 0; i < TOKENS * DIM; i++) {
        const double err = fabs(out[i] - ref[i]) / (1.0 + fabs(ref[i]));
        worst = err > worst ? err : worst;
    }
    /* float kernels against double: a few hundred roundings deep, so ~1e-6; 1e-4 is a bug */
    printf("toy_engine: %d layers, %d tokens, dim %d, hidden %d on the %s export: "
           "max error %.2e %s\n", LAYERS, TOKENS, DIM, HIDDEN, K.isa, worst,
           worst <= 1e-4 ? "(ok)" : "(MISMATCH)");
    printf("out[0][0..3] = %.6f %.6f %.6f %.6f\n", out[0], out[1], out[2], out[3]);
    return worst <= 1e-4 ? 0 : 1;
}
