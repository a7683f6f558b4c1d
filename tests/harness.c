#define _DEFAULT_SOURCE
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/prctl.h>
#endif

#include "block_f64.h"
#include "reference.h"

static const size_t dims_full[] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17,  18,  19,  20,  21,  22,
    23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,  40,  41,  42,  43,  44,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  62,  63,  64,  65,  66,
    67, 127, 128, 129, 255, 256, 257, 511, 512, 513, 768, 1000, 4095, 4096, 4097, 8192};
/* 511..513: the edge of one main-loop iteration of an 8-accumulator SVE variant at 2048 bits
 * (8 x 64 floats). quick: the model sizes (768 .. 8192) dropped; 2049 is past every row-length
 * threshold */
static const size_t dims_quick[] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17,  18,  19,  20,  21,  22,
    23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,  40,  41,  42,  43,  44,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  62,  63,  64,  65,  66,
    67, 127, 128, 129, 255, 256, 257, 511, 512, 513, 2049};

int nk_quick(void)
{
    const char *s = getenv("NK_SHAPES");
    if (!s || !*s || strcmp(s, "full") == 0)
        return 0;
    if (strcmp(s, "quick") == 0)
        return 1;
    fprintf(stderr, "NK_SHAPES=%s: want 'full' (the default) or 'quick'\n", s);
    exit(2);
}

int nk_test_isa_arg(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && normkit_isa_from_name(argv[1]) <= NORMKIT_ISA_AUTO)) {
        fprintf(stderr, "usage: %s [ISA] (an ISA name: scalar, avx2, avx512, neon, sve)\n",
                argv[0]);
        exit(2);
    }
    if (nk_quick())
        printf("[  INFO    ] NK_SHAPES=quick: fewer large shapes (tests/harness.h)\n");
    if (argc == 2)
        return normkit_isa_from_name(argv[1]);
    const char *env = getenv("NK_TEST_ISA");
    if (env && *env) {
        const int isa = normkit_isa_from_name(env);
        if (isa <= NORMKIT_ISA_AUTO) {
            fprintf(stderr, "%s: NK_TEST_ISA=%s is not an ISA name (scalar, avx2, avx512, neon, "
                            "sve)\n", argv[0], env);
            exit(2);
        }
        printf("[  INFO    ] NK_TEST_ISA=%s: only that ISA's variants\n", env);
        return isa;
    }
    return -1;
}

int nk_isa_exit(int only, int failed)
{
    if (failed || only < 0 || normkit_isa_supported((normkit_isa)only))
        return failed;
    printf("[  SKIP    ] every %s variant: this CPU/OS/build cannot run %s (exit 77: skipped)\n",
           normkit_isa_name((normkit_isa)only), normkit_isa_name((normkit_isa)only));
    return 77;
}

const size_t *nk_dims_list(void)
{
    return nk_quick() ? dims_quick : dims_full;
}

size_t nk_dims_count(void)
{
    return nk_quick() ? sizeof dims_quick / sizeof dims_quick[0]
                      : sizeof dims_full / sizeof dims_full[0];
}

uint64_t nk_rng_next(nk_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float nk_rng_uniform(nk_rng *r, float lo, float hi)
{
    double u = (double)(nk_rng_next(r) >> 11) * 0x1p-53;
    return (float)(lo + (hi - lo) * u);
}

double nk_rng_normal(nk_rng *r)
{
    double u1 = ((double)(nk_rng_next(r) >> 11) + 1.0) * 0x1p-53;
    double u2 = (double)(nk_rng_next(r) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* SVE's vector length in bits, read from the kernel (0: none or unknown). */
unsigned nk_sve_bits(void)
{
#if defined(__aarch64__) && defined(__linux__) && defined(PR_SVE_GET_VL)
    const int vl = prctl(PR_SVE_GET_VL, 0, 0, 0, 0);
    return vl > 0 ? (unsigned)(vl & PR_SVE_VL_LEN_MASK) * 8u : 0u;
#else
    return 0;
#endif
}

normkit_isa nk_best_supported_isa(void)
{
    size_t n;
    const normkit_kernel *ks = normkit_kernel_list(&n);
    for (size_t i = 0; i < n && ks[i].op == ks[0].op; i++) {
        if (!normkit_isa_supported(ks[i].isa))
            continue;
        /* the documented default (README, "Arm"): SVE over NEON only with vectors wider
         * than NEON's */
        if (ks[i].isa == NORMKIT_ISA_SVE && nk_sve_bits() < 256 &&
            normkit_isa_supported(NORMKIT_ISA_NEON))
            continue;
        return ks[i].isa;
    }
    return NORMKIT_ISA_SCALAR;
}

int nk_op_has_residual(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && info->residual;
}

int nk_op_is_layernorm(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && info->norm == NORMKIT_NORM_LN;
}

int nk_op_has_beta(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && info->beta;
}

void nk_call_kernel(const normkit_kernel *k, const nk_args *a)
{
    nk_call_kernel_kp(k, a, &k->params);
}

void nk_call_kernel_kp(const normkit_kernel *k, const nk_args *a, const normkit_kparams *kp)
{
    normkit_args call = *a;
    call.kp = kp;
    normkit_kernel_call(k, &call);
}

/* One caller per operator: its typed entry point with the args column of its table line. */
#define NORMKIT_OP(NAME, NORM, RES, BETA, LIN, MR, MW, VECS, PARAMS, KPARAMS, ARGS, KARGS)                                \
    static normkit_status api_##NAME(const nk_args *A) { return normkit_##NAME##_f32 ARGS; }
#include "normkit_ops.inc"
#undef NORMKIT_OP

normkit_status nk_call_api(normkit_op op, const nk_args *a)
{
#define NORMKIT_OP(NAME, ...) api_##NAME,
    static normkit_status (*const api[NORMKIT_OP_COUNT])(const nk_args *) = {
#include "normkit_ops.inc"
    };
#undef NORMKIT_OP
    if ((unsigned)op >= NORMKIT_OP_COUNT)
        abort();
    return api[op](a);
}

#define U 0x1p-24

/* The formulas live in block_f64.c (shared with normkit-depth's float64 blocks). */
double nk_bound(normkit_op op, size_t n, double ref, double g, double zmax, double inv_s)
{
    return nk_norm_bound(nk_op_is_layernorm(op) ? NORMKIT_NORM_LN : NORMKIT_NORM_RMS, n, ref, g,
                         zmax, inv_s);
}

static int same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

int nk_op_is_elementwise(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && info->elementwise;
}

int nk_op_has_second_input(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && info->elementwise && info->mats_read > 1;
}

/* The activations' relative bounds, in units of u (docs/numerics.md, "Activations"). */
#define NK_GELU_REL 6.0
#define NK_SILU_REL 5.0

static int is_gelu(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info && strcmp(info->name, "gelu") == 0;
}

int nk_act_relative(normkit_op op, float x, double ref)
{
    /* the intermediate the float computation carries: erfc(-x/sqrt 2) or exp(-|x|) */
    const double inter =
        is_gelu(op) ? erfc(-(double)x * 0.70710678118654752440) : exp(-fabs((double)x));
    return inter >= 0x1p-126 && fabs(ref) >= 0x1p-126;
}

double nk_act_bound(normkit_op op, float x, double ref)
{
    if (!nk_op_is_elementwise(op) || nk_op_has_second_input(op))
        return 0.0; /* add, mul: exact */
    if (nk_act_relative(op, x, ref))
        return (is_gelu(op) ? NK_GELU_REL : NK_SILU_REL) * U * fabs(ref);
    return 0x1p-148 * (1.0 + fabs((double)x));
}

/* One row of an elementwise operator: add and mul must give the correctly rounded float
 * (bit for bit; any NaN for NaN), the activations meet nk_act_bound, NaN for NaN, +-Inf
 * exactly. */
static int check_elementwise_row(normkit_op op, size_t n, const float *xr, const float *rr,
                                 const float *yr, size_t row, double *ref, char *msg,
                                 size_t msglen)
{
    double zmax = 0.0;
    nk_ref_row(op, n, xr, rr, NULL, 0.0f, ref, &zmax);
    for (size_t i = 0; i < n; i++) {
        if (rr) {
            const float want = (float)ref[i];
            if (!same_float(yr[i], want)) {
                snprintf(msg, msglen, "y[%zu][%zu] = %a, want %a (x %a, r %a: one IEEE operation, "
                         "dim %zu)", row, i, (double)yr[i], (double)want, (double)xr[i],
                         (double)rr[i], n);
                return 0;
            }
            continue;
        }
        if (isnan(ref[i]) || isinf(ref[i])) {
            if (!same_float(yr[i], (float)ref[i])) {
                snprintf(msg, msglen, "y[%zu][%zu] = %a, want %a for x = %a (dim %zu)", row, i,
                         (double)yr[i], ref[i], (double)xr[i], n);
                return 0;
            }
            continue;
        }
        const double err = fabs((double)yr[i] - ref[i]), bound = nk_act_bound(op, xr[i], ref[i]);
        if (!(err <= bound)) {
            snprintf(msg, msglen, "y[%zu][%zu] = %a for x = %a, reference %.17g: error %.3g "
                     "exceeds the bound %.3g (dim %zu)", row, i, (double)yr[i], (double)xr[i],
                     ref[i], err, bound, n);
            return 0;
        }
    }
    return 1;
}

int nk_check(normkit_op op, const nk_args *a, const float *x_in, size_t ldx_in,
             const float *r_in, size_t ldr_in, char *msg, size_t msglen)
{
    const size_t n = a->dim;
    float *h = malloc(n * sizeof *h);
    double *ref = malloc(n * sizeof *ref);
    if (!h || !ref)
        abort();
    int ok = 1;
    for (size_t row = 0; row < a->rows && ok; row++) {
        const float *xr = x_in + row * ldx_in;
        const float *in = xr;
        if (nk_op_is_elementwise(op)) {
            ok = check_elementwise_row(op, n, xr,
                                       nk_op_has_second_input(op) ? r_in + row * ldr_in : NULL,
                                       a->y + row * a->ldy, row, ref, msg, msglen);
            continue;
        }
        if (nk_op_has_residual(op)) {
            const float *rr = r_in + row * ldr_in;
            const float *rout = a->r + row * a->ldr;
            for (size_t i = 0; i < n; i++) {
                h[i] = xr[i] + rr[i];
                if (!same_float(rout[i], h[i])) {
                    snprintf(msg, msglen, "r[%zu][%zu] = %a, want x + r = %a (dim %zu)", row, i,
                             (double)rout[i], (double)h[i], n);
                    ok = 0;
                    break;
                }
            }
            in = h;
        }
        if (!ok)
            break;
        double zmax = 0.0;
        nk_ref_row(op, n, in, a->gamma, a->beta, a->eps, ref, &zmax);
        const double inv_s = nk_op_is_layernorm(op) ? ref_ln_inv_s(n, in, a->eps) : 0.0;
        const float *yr = a->y + row * a->ldy;
        for (size_t i = 0; i < n; i++) {
            double g = a->gamma ? a->gamma[i] : 1.0;
            if (isnan(ref[i])) {
                if (!isnan(yr[i])) {
                    snprintf(msg, msglen,
                             "y[%zu][%zu] = %.9g, want NaN (the row holds NaN/Inf) (dim %zu)", row,
                             i, (double)yr[i], n);
                    ok = 0;
                    break;
                }
                continue;
            }
            double err = fabs((double)yr[i] - ref[i]);
            double bound = nk_bound(op, n, ref[i], g, zmax, inv_s);
            if (!(err <= bound)) {
                snprintf(msg, msglen,
                         "y[%zu][%zu] = %.9g, reference %.17g: error %.3g exceeds the bound %.3g "
                         "(dim %zu, eps %g, zmax %g: LayerNorm only)",
                         row, i, (double)yr[i], ref[i], err, bound, n, (double)a->eps, zmax);
                ok = 0;
                break;
            }
        }
    }
    free(h);
    free(ref);
    return ok;
}

/* A quiet NaN with a payload no arithmetic produces: a write from a kernel changes it. */
static const uint32_t CANARY_BITS = 0x7fc0c0deu;

float nk_canary(void)
{
    float f;
    memcpy(&f, &CANARY_BITS, sizeof f);
    return f;
}

int nk_is_canary(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b == CANARY_BITS;
}

void nk_mat_alloc(nk_mat *m, size_t rows, size_t dim, size_t ld, size_t offset)
{
    const size_t pad = 32; /* floats of canary after the last row */
    m->rows = rows;
    m->dim = dim;
    m->ld = ld;
    m->len = offset + (rows - 1) * ld + dim + pad;
    m->base = aligned_alloc(64, (m->len * sizeof(float) + 63) / 64 * 64);
    if (!m->base)
        abort();
    const float c = nk_canary();
    for (size_t i = 0; i < m->len; i++)
        m->base[i] = c;
    m->m = m->base + offset;
}

void nk_mat_free(nk_mat *m)
{
    free(m->base);
    m->base = m->m = NULL;
}

void nk_mat_fill(nk_mat *m, nk_rng *rng, float lo, float hi)
{
    for (size_t r = 0; r < m->rows; r++)
        for (size_t i = 0; i < m->dim; i++)
            m->m[r * m->ld + i] = nk_rng_uniform(rng, lo, hi);
}

int nk_mat_canaries_ok(const nk_mat *m)
{
    const size_t start = (size_t)(m->m - m->base);
    for (size_t i = 0; i < m->len; i++) {
        int inside = 0;
        if (i >= start) {
            size_t rel = i - start;
            inside = rel / m->ld < m->rows && rel % m->ld < m->dim;
        }
        if (!inside && !nk_is_canary(m->base[i]))
            return 0;
    }
    return 1;
}

float *nk_mat_copy(const nk_mat *m)
{
    float *c = malloc(m->rows * m->dim * sizeof *c);
    if (!c)
        abort();
    for (size_t r = 0; r < m->rows; r++)
        memcpy(c + r * m->dim, m->m + r * m->ld, m->dim * sizeof *c);
    return c;
}

float *nk_guarded(size_t n, int at_start, nk_guard *g)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t data = (n * sizeof(float) + page - 1) / page * page;
    g->len = data + 2 * page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        abort();
    char *base = g->map;
    if (mprotect(base, page, PROT_NONE) != 0 || mprotect(base + page + data, page, PROT_NONE) != 0)
        abort();
    if (at_start)
        return (float *)(base + page);
    return (float *)(base + page + data) - n;
}

void nk_guard_free(nk_guard *g)
{
    munmap(g->map, g->len);
    g->map = NULL;
}

const normkit_kernel *nk_kernel_or_skip(void **state)
{
    const normkit_kernel *k = *state;
    if (!normkit_isa_supported(k->isa)) {
        print_message("[  SKIP    ] %s: this CPU/OS/build cannot run %s\n", k->name,
                      normkit_isa_name(k->isa));
        skip();
    }
    return k;
}
