/*
 * normkit-depth: how the residual stream and the rounding error of normkit's blocks behave
 * over a stack of L = 1..N transformer FFN blocks (include/normkit_block.h), pre-norm and
 * post-norm, against a float64 stack computed here.
 *
 *   normkit-depth [--layers N] [--layout prenorm|postnorm|both] [--norm rmsnorm|layernorm]
 *                 [--act gelu|silu|swiglu] [--dim D] [--hidden H] [--rows R] [--seed S]
 *                 [--init fanin|gpt2] [--bias-std S] [--gamma-std S] [--eps E] [--format json|csv]
 *                 [--output FILE] [--help]
 *
 * Every layer has its own weights, drawn from a seeded generator (the same weights for both
 * layouts). The float64 stack runs the block's formulas in double; every path — the scalar
 * path, and the unfused and fused paths of every ISA this machine supports — runs the same
 * stack through normkit_block_forward, each fed its own previous output, so errors
 * accumulate as they would in a model. Per layer and layout the tool reports the float64
 * stack's RMS figures, each path's normwise relative error against it, and a first-order
 * worst-case bound of that error (docs/numerics.md, "Blocks"; docs/depth.md).
 */
#define _POSIX_C_SOURCE 200809L /* open, stat, getpid: --output's temporary file */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_f64.h" /* tests/: the float64 block, shared with tests/test_block.c */
#include "cpu.h"
#include "normkit.h"
#include "normkit_block.h"

#define MAX_LAYERS 1000
#define MAX_DIM 8192
#define MAX_HIDDEN 32768
#define MAX_ROWS 4096
#define MAX_PATHS 16

static const char *const PROG = "normkit-depth";

static void usage(FILE *f)
{
    fprintf(f,
        "usage: normkit-depth [options]\n"
        "Stacks L = 1..N transformer FFN blocks with seeded random weights, pre-norm\n"
        "(h = x + FFN(Norm(x))) and post-norm (h = Norm(x + FFN(x))), runs the stack in\n"
        "float64 here and through normkit_block_forward on every path (scalar; unfused and\n"
        "fused on each ISA this machine supports; each path fed its own previous output),\n"
        "and prints per layer and layout the residual-stream RMS and each path's error.\n"
        "\n"
        "  --layers N       blocks in the stack, 1..%d (default 48)\n"
        "  --layout L       prenorm, postnorm or both (default both)\n"
        "  --norm N         rmsnorm or layernorm (default rmsnorm: Llama-style; the\n"
        "                   post-norm original used LayerNorm)\n"
        "  --act A          gelu (exact, erf), silu, or swiglu (gated SiLU FFN, Llama)\n"
        "                   (default gelu, the GPT-2/BERT FFN)\n"
        "  --dim D          model width, 1..%d (default 256)\n"
        "  --hidden H       FFN width, 1..%d (default 4 D; swiglu: Llama's 8 D / 3\n"
        "                   rounded up to a multiple of 256)\n"
        "  --rows R         rows (tokens) per forward call, 1..%d (default 8)\n"
        "  --seed S         seed of weights and input, 0..2^64-1 (default 1)\n"
        "  --init I         fanin: W ~ N(0, 1/fan_in) (default; each matmul keeps its\n"
        "                   input's mean square, at any D); gpt2: W1 ~ N(0, 0.02^2),\n"
        "                   W2 ~ N(0, 0.02^2 / (2 N)) (GPT-2's scaled residual projection)\n"
        "  --bias-std S     biases ~ N(0, S^2); 0: no biases (default 0.02)\n"
        "  --gamma-std S    gamma ~ 1 + N(0, S^2), LayerNorm's beta ~ N(0, S^2) (default 0:\n"
        "                   gamma = 1, beta = 0; above 0 the fused pre-norm path folds a\n"
        "                   gamma that is not 1 into W1, one more rounding per weight)\n"
        "  --eps E          the norms' eps, finite and >= 0 (default 1e-5)\n"
        "  --format F       json (default) or csv\n"
        "  --output FILE    write there instead of standard output (whole or not at all:\n"
        "                   through a temporary file next to it)\n"
        "  --help           this text\n"
        "\n"
        "Input x ~ N(0, 1). Input and weights are drawn in double and rounded to float;\n"
        "the float64 stack uses those float values, so the errors are those of the\n"
        "float32 arithmetic alone. Method and definitions: docs/depth.md.\n"
        "\n"
        "Per record (one per layer per layout):\n"
        "  residual_rms  RMS of the unnormalized residual stream of the float64 stack:\n"
        "                pre-norm h; post-norm x + FFN(x), before the norm\n"
        "  output_rms    RMS of the layer's output h (pre-norm: = residual_rms)\n"
        "  update_rms    RMS of the FFN branch's output (what the layer adds)\n"
        "  errors        per path (<isa>/<path>): max over rows i of\n"
        "                ||h_i - h64_i||_2 / ||h64_i||_2 (h: that path's output, h64: the\n"
        "                float64 stack's; normwise, so elements near 0 do not dominate)\n"
        "  error_bound   the same ratio for a first-order worst-case bound of |h - h64|,\n"
        "                carried through every layer (docs/numerics.md, \"Blocks\"); it grows\n"
        "                geometrically with depth and means something while it is << 1;\n"
        "                no value (null) once it exceeds 1\n"
        "RMS figures are over all rows x D values. JSON: {\"machine\", \"config\",\n"
        "\"records\"}; CSV: a header, then one line per record, errors as err_<isa>_<path>.\n"
        "A value that is not finite is written as null (JSON) or left empty (CSV).\n"
        "\n"
        "exit status: 0 done, 1 a normkit call or the output failed, 2 bad usage\n",
        MAX_LAYERS, MAX_DIM, MAX_HIDDEN, MAX_ROWS);
}

/* ---- options ---- */

typedef struct {
    unsigned long long layers, dim, hidden, rows, seed;
    int layouts; /* bit 0 prenorm, bit 1 postnorm */
    normkit_norm norm;
    normkit_act act;
    int gated;
    int init_gpt2;
    double bias_std, gamma_std;
    float eps;
    int csv;
    const char *output;
} config;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", PROG);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try --help)\n");
    va_end(ap);
    return 2;
}

/* A decimal integer in [lo, hi], the whole string, no sign or spaces. */
static int parse_uint(const char *flag, const char *s, unsigned long long lo,
                      unsigned long long hi, unsigned long long *out)
{
    if (!*s || *s < '0' || *s > '9')
        return bad("%s: '%s' is not a non-negative integer", flag, s);
    errno = 0;
    char *end;
    const unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return bad("%s: '%s' is not a non-negative integer", flag, s);
    if (errno == ERANGE || v < lo || v > hi)
        return bad("%s: '%s' is out of range (%llu..%llu)", flag, s, lo, hi);
    *out = v;
    return 0;
}

/* A finite number >= 0, the whole string. */
static int parse_nonneg(const char *flag, const char *s, double *out)
{
    errno = 0;
    char *end;
    const double v = strtod(s, &end);
    if (!*s || *end || s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
        return bad("%s: '%s' is not a number", flag, s);
    if (errno == ERANGE || !isfinite(v) || v < 0.0)
        return bad("%s: '%s' must be a finite number >= 0", flag, s);
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, config *c, int *help)
{
    *c = (config){.layers = 48, .dim = 256, .hidden = 0, .rows = 8, .seed = 1, .layouts = 3,
                  .norm = NORMKIT_NORM_RMS, .act = NORMKIT_ACT_GELU, .bias_std = 0.02,
                  .eps = 1e-5f};
    *help = 0;
    static const char *const with_value[] = {"--layers", "--layout", "--norm", "--act",
                                             "--dim", "--hidden", "--rows", "--seed",
                                             "--init", "--bias-std", "--gamma-std", "--eps",
                                             "--format", "--output"};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0)
            return bad("unexpected argument '%s'", arg);
        /* --flag VALUE or --flag=VALUE */
        char flag[32];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        const size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (flen >= sizeof flag)
            return bad("unknown option '%s'", arg);
        memcpy(flag, arg, flen);
        flag[flen] = '\0';
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++)
            known |= strcmp(flag, with_value[k]) == 0;
        if (!known)
            return bad("unknown option '%s'", flag);
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else
            return bad("%s needs a value", flag);

        unsigned long long u;
        double d;
        int rc = 0;
        if (strcmp(flag, "--layers") == 0) {
            rc = parse_uint(flag, val, 1, MAX_LAYERS, &c->layers);
        } else if (strcmp(flag, "--dim") == 0) {
            rc = parse_uint(flag, val, 1, MAX_DIM, &c->dim);
        } else if (strcmp(flag, "--hidden") == 0) {
            rc = parse_uint(flag, val, 1, MAX_HIDDEN, &c->hidden);
        } else if (strcmp(flag, "--rows") == 0) {
            rc = parse_uint(flag, val, 1, MAX_ROWS, &c->rows);
        } else if (strcmp(flag, "--seed") == 0) {
            rc = parse_uint(flag, val, 0, ULLONG_MAX, &u);
            c->seed = u;
        } else if (strcmp(flag, "--layout") == 0) {
            if (strcmp(val, "both") == 0)
                c->layouts = 3;
            else if (normkit_layout_from_name(val) >= 0)
                c->layouts = 1 << normkit_layout_from_name(val);
            else
                rc = bad("--layout: unknown layout '%s' (prenorm, postnorm or both)", val);
        } else if (strcmp(flag, "--norm") == 0) {
            if (strcmp(val, "rmsnorm") == 0)
                c->norm = NORMKIT_NORM_RMS;
            else if (strcmp(val, "layernorm") == 0)
                c->norm = NORMKIT_NORM_LN;
            else
                rc = bad("--norm: unknown norm '%s' (rmsnorm or layernorm)", val);
        } else if (strcmp(flag, "--act") == 0) {
            if (strcmp(val, "swiglu") == 0) {
                c->act = NORMKIT_ACT_SILU;
                c->gated = 1;
            } else if (normkit_act_from_name(val) > 0) {
                c->act = (normkit_act)normkit_act_from_name(val);
                c->gated = 0;
            } else {
                rc = bad("--act: unknown activation '%s' (gelu, silu or swiglu)", val);
            }
        } else if (strcmp(flag, "--init") == 0) {
            if (strcmp(val, "fanin") == 0 || strcmp(val, "gpt2") == 0)
                c->init_gpt2 = strcmp(val, "gpt2") == 0;
            else
                rc = bad("--init: unknown scheme '%s' (fanin or gpt2)", val);
        } else if (strcmp(flag, "--bias-std") == 0) {
            rc = parse_nonneg(flag, val, &c->bias_std);
        } else if (strcmp(flag, "--gamma-std") == 0) {
            rc = parse_nonneg(flag, val, &c->gamma_std);
        } else if (strcmp(flag, "--eps") == 0) {
            rc = parse_nonneg(flag, val, &d);
            if (!rc && !((float)d <= FLT_MAX))
                rc = bad("--eps: '%s' does not fit a float", val);
            c->eps = (float)d;
        } else if (strcmp(flag, "--format") == 0) {
            if (strcmp(val, "json") == 0 || strcmp(val, "csv") == 0)
                c->csv = strcmp(val, "csv") == 0;
            else
                rc = bad("--format: unknown format '%s' (json or csv)", val);
        } else if (strcmp(flag, "--output") == 0) {
            if (!*val)
                rc = bad("--output: empty file name");
            c->output = val;
        }
        if (rc)
            return rc;
    }
    if (!c->hidden) /* 4 D; gated: Llama's int(8 D / 3) rounded up to a multiple of 256 */
        c->hidden = c->gated ? (8 * c->dim / 3 + 255) / 256 * 256 : 4 * c->dim;
    return 0;
}

/* ---- seeded random numbers: splitmix64 seeds xoshiro256**, one stream per layer ---- */

typedef struct {
    uint64_t s[4];
    int have;
    double spare;
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Stream `tag` of seed `seed` (tag 0: the input; tag L: layer L's weights), so a layer's
 * weights do not depend on --layers or on which layouts run. */
static void rng_init(rng *r, uint64_t seed, uint64_t tag)
{
    uint64_t x = seed ^ (tag * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->have = 0;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* N(0, 1) by Box-Muller, in double */
static double normal(rng *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    const double u1 = ((double)(next_u64(r) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
    const double u2 = (double)(next_u64(r) >> 11) * 0x1p-53;          /* [0, 1) */
    const double m = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    r->spare = m * sin(a);
    r->have = 1;
    return m * cos(a);
}

static void fill(rng *r, float *v, size_t n, double std)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(normal(r) * std);
}

/* ---- one layer's weights ---- */

typedef struct {
    float *w1, *w3, *w2, *b1, *b3, *b2, *gamma, *beta;
} weights;

static int weights_alloc(weights *w, const config *c)
{
    const size_t D = c->dim, H = c->hidden;
    *w = (weights){0};
    w->w1 = malloc(H * D * sizeof(float));
    w->w2 = malloc(D * H * sizeof(float));
    w->w3 = c->gated ? malloc(H * D * sizeof(float)) : NULL;
    w->b1 = malloc(H * sizeof(float));
    w->b3 = malloc(H * sizeof(float));
    w->b2 = malloc(D * sizeof(float));
    w->gamma = malloc(D * sizeof(float));
    w->beta = malloc(D * sizeof(float));
    if (!w->w1 || !w->w2 || (c->gated && !w->w3) || !w->b1 || !w->b3 || !w->b2 || !w->gamma ||
        !w->beta)
        return -1;
    return 0;
}

static void weights_free(weights *w)
{
    free(w->w1), free(w->w3), free(w->w2), free(w->b1), free(w->b3), free(w->b2);
    free(w->gamma), free(w->beta);
}

static double w1_std(const config *c)
{
    return c->init_gpt2 ? 0.02 : 1.0 / sqrt((double)c->dim);
}

static double w2_std(const config *c)
{
    return c->init_gpt2 ? 0.02 / sqrt(2.0 * (double)c->layers) : 1.0 / sqrt((double)c->hidden);
}

static void weights_draw(weights *w, const config *c, size_t layer)
{
    const size_t D = c->dim, H = c->hidden;
    rng r;
    rng_init(&r, c->seed, layer);
    fill(&r, w->w1, H * D, w1_std(c));
    if (c->gated)
        fill(&r, w->w3, H * D, w1_std(c));
    fill(&r, w->w2, D * H, w2_std(c));
    fill(&r, w->b1, H, c->bias_std);
    fill(&r, w->b3, H, c->bias_std);
    fill(&r, w->b2, D, c->bias_std);
    /* last, so that the weights above do not depend on --gamma-std */
    for (size_t i = 0; i < D; i++)
        w->gamma[i] = (float)(1.0 + c->gamma_std * normal(&r));
    for (size_t i = 0; i < D; i++)
        w->beta[i] = (float)(c->gamma_std * normal(&r));
}

static normkit_block_desc desc_of(const config *c, const weights *w, normkit_layout layout)
{
    const int biases = c->bias_std > 0.0;
    return (normkit_block_desc){
        .layout = layout, .norm = c->norm, .act = c->act, .gated = c->gated, .dim = c->dim,
        .hidden = c->hidden, .eps = c->eps, .gamma = w->gamma,
        .beta = c->norm == NORMKIT_NORM_LN ? w->beta : NULL, .w1 = w->w1,
        .b1 = biases ? w->b1 : NULL, .w3 = c->gated ? w->w3 : NULL,
        .b3 = c->gated && biases ? w->b3 : NULL, .w2 = w->w2, .b2 = biases ? w->b2 : NULL};
}

/* ---- the float64 stack, with a first-order bound of a float32 evaluation's error ----
 * The rules of docs/numerics.md, "Blocks" (nk_block_f64, tests/block_f64.c, the float64 block
 * tests/test_block.c checks one block against), carried from layer to layer: a path's input to
 * layer L differs from the float64 stack's by at most the bound after layer L - 1, and that
 * error goes through the block's derivative. */

typedef struct {
    double residual_ms, output_ms, update_ms; /* mean squares over rows x D */
} stats64;

/* One layer of the float64 stack: x (rows x D, with bound ex) -> h (bound eh), and its mean
 * squares; f: rows x D scratch (the FFN branch's output). Returns 0, or -1 when out of memory. */
static int layer64(const normkit_block_desc *d, size_t R, const double *x, const double *ex,
                   double *h, double *eh, double *f, stats64 *st)
{
    const size_t D = d->dim;
    if (nk_block_f64(d, R, x, ex, h, eh, f) != 0)
        return -1;
    double sf = 0, sv = 0, sh = 0;
    for (size_t i = 0; i < R * D; i++) {
        const double v = x[i] + f[i]; /* the residual stream, as nk_block_f64 forms it */
        sf += f[i] * f[i];
        sv += v * v;
    }
    for (size_t i = 0; i < R * D; i++)
        sh += h[i] * h[i];
    st->residual_ms = sv / (double)(R * D);
    st->update_ms = sf / (double)(R * D);
    st->output_ms = sh / (double)(R * D);
    return 0;
}

/* max over rows of ||a_i - b_i||_2 / ||b_i||_2 (a float or, with af NULL, a bound ad) */
static double normwise(size_t rows, size_t D, const float *af, const double *ad, const double *b)
{
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
        double num = 0, den = 0;
        for (size_t i = 0; i < D; i++) {
            const double e = af ? (double)af[r * D + i] - b[r * D + i] : ad[r * D + i];
            num += e * e;
            den += b[r * D + i] * b[r * D + i];
        }
        const double q = den > 0 ? sqrt(num / den) : sqrt(num);
        if (!(q <= worst)) /* NaN propagates */
            worst = q;
    }
    return worst;
}

/* ---- the paths under test ---- */

typedef struct {
    char name[32]; /* "<isa>/<path>" */
    normkit_isa isa;
    normkit_block_path path;
    float *h[2];  /* per layout: this path's current output */
    float *next;
} path_run;

typedef struct {
    double residual_rms, output_rms, update_rms, bound;
    double err[MAX_PATHS];
} record;

/* ---- output ---- */

static void num(FILE *f, const char *fmt, double v, int csv)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else if (!csv)
        fputs("null", f);
}

/* The first-order bound says nothing once it reaches 1: written as no value then. */
static double shown_bound(double b)
{
    return b <= 1.0 ? b : NAN;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static const char *compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

static const char *norm_name(normkit_norm n)
{
    return n == NORMKIT_NORM_LN ? "layernorm" : "rmsnorm";
}

static const char *ERROR_METRIC =
    "max over rows i of ||h_i - h64_i||_2 / ||h64_i||_2, h64 the float64 stack";

static void write_json(FILE *f, const config *c, const path_run *p, size_t np,
                       record *const rec[2])
{
    const normkit_cpu *cpu = normkit_cpu_get();
    fprintf(f, "{\n  \"machine\": {\"cpu_model\": ");
    json_str(f, cpu->model);
    fprintf(f, ", \"arch\": ");
    json_str(f, cpu->arch);
    fprintf(f, ", \"isa_supported\": [");
    for (int i = NORMKIT_ISA_SCALAR, first = 1; i < NORMKIT_ISA_COUNT; i++)
        if (normkit_isa_supported((normkit_isa)i)) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", normkit_isa_name((normkit_isa)i));
            first = 0;
        }
    fprintf(f, "], \"isa_active\": \"%s\", \"normkit_version\": \"%d.%d.%d\", \"compiler\": ",
            normkit_isa_name(normkit_isa_active()), NORMKIT_VERSION_MAJOR,
            NORMKIT_VERSION_MINOR, NORMKIT_VERSION_PATCH);
    json_str(f, compiler());
    fprintf(f, "},\n  \"config\": {\"layers\": %llu, \"layouts\": [", c->layers);
    for (int lo = 0, first = 1; lo < 2; lo++)
        if (c->layouts >> lo & 1) {
            fprintf(f, "%s\"%s\"", first ? "" : ", ", normkit_layout_name((normkit_layout)lo));
            first = 0;
        }
    fprintf(f, "], \"norm\": \"%s\", \"act\": \"%s\", \"gated\": %s, \"dim\": %llu, "
               "\"hidden\": %llu, \"rows\": %llu, \"seed\": %llu, \"eps\": %.9g,\n",
            norm_name(c->norm), c->gated ? "swiglu" : normkit_act_name(c->act),
            c->gated ? "true" : "false", c->dim, c->hidden, c->rows, c->seed, (double)c->eps);
    fprintf(f, "             \"init\": \"%s\", \"w1_std\": %.9g, \"w2_std\": %.9g, "
               "\"bias_std\": %.9g, \"gamma_std\": %.9g, \"input\": \"N(0, 1)\",\n",
            c->init_gpt2 ? "gpt2" : "fanin", w1_std(c), w2_std(c), c->bias_std, c->gamma_std);
    fprintf(f, "             \"error_metric\": ");
    json_str(f, ERROR_METRIC);
    fprintf(f, ", \"paths\": [");
    for (size_t k = 0; k < np; k++)
        fprintf(f, "%s\"%s\"", k ? ", " : "", p[k].name);
    fprintf(f, "]},\n  \"records\": [");
    int first = 1;
    for (int lo = 0; lo < 2; lo++) {
        if (!(c->layouts >> lo & 1))
            continue;
        for (size_t l = 0; l < c->layers; l++) {
            const record *r = &rec[lo][l];
            fprintf(f, "%s\n    {\"layer\": %zu, \"layout\": \"%s\", \"residual_rms\": ",
                    first ? "" : ",", l + 1, normkit_layout_name((normkit_layout)lo));
            num(f, "%.9g", r->residual_rms, 0);
            fprintf(f, ", \"output_rms\": ");
            num(f, "%.9g", r->output_rms, 0);
            fprintf(f, ", \"update_rms\": ");
            num(f, "%.9g", r->update_rms, 0);
            fprintf(f, ", \"error_bound\": ");
            num(f, "%.6e", shown_bound(r->bound), 0);
            fprintf(f, ", \"errors\": {");
            for (size_t k = 0; k < np; k++) {
                fprintf(f, "%s\"%s\": ", k ? ", " : "", p[k].name);
                num(f, "%.6e", r->err[k], 0);
            }
            fprintf(f, "}}");
            first = 0;
        }
    }
    fprintf(f, "\n  ]\n}\n");
}

static void write_csv(FILE *f, const config *c, const path_run *p, size_t np,
                      record *const rec[2])
{
    fprintf(f, "layer,layout,residual_rms,output_rms,update_rms,error_bound");
    for (size_t k = 0; k < np; k++) { /* err_<isa>_<path> */
        fputs(",err_", f);
        for (const char *s = p[k].name; *s; s++)
            fputc(*s == '/' ? '_' : *s, f);
    }
    fputc('\n', f);
    for (int lo = 0; lo < 2; lo++) {
        if (!(c->layouts >> lo & 1))
            continue;
        for (size_t l = 0; l < c->layers; l++) {
            const record *r = &rec[lo][l];
            fprintf(f, "%zu,%s,", l + 1, normkit_layout_name((normkit_layout)lo));
            num(f, "%.9g", r->residual_rms, 1);
            fputc(',', f);
            num(f, "%.9g", r->output_rms, 1);
            fputc(',', f);
            num(f, "%.9g", r->update_rms, 1);
            fputc(',', f);
            num(f, "%.6e", shown_bound(r->bound), 1);
            for (size_t k = 0; k < np; k++) {
                fputc(',', f);
                num(f, "%.6e", r->err[k], 1);
            }
            fputc('\n', f);
        }
    }
}

/* ---- main ---- */

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "%s: error: %s%s\n", PROG, what, detail);
    return 1;
}

/* --output FILE is written to FILE.tmp.<pid> next to it and renamed over FILE once whole, so
 * FILE never holds half a run. A FILE that exists and is not a regular file (/dev/stdout, a
 * pipe) is written directly: a rename would replace the device node or link, not feed it. */
typedef struct {
    const char *path;
    char tmp[4096]; /* "" when writing path directly */
} out_target;

static int out_error(const char *path, const char *why)
{
    fprintf(stderr, "%s: error: cannot write %s: %s\n", PROG, path, why);
    return 1;
}

/* Opens the target's file (the temporary, or path itself); NULL and a message on failure. */
static FILE *out_open(out_target *o, const char *path)
{
    struct stat st;
    o->path = path;
    o->tmp[0] = '\0';
    const int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        out_error(path, strerror(EISDIR));
        return NULL;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "w");
        if (!f)
            out_error(path, strerror(errno));
        return f;
    }
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof o->tmp) {
        o->tmp[0] = '\0';
        out_error(path, "path too long");
        return NULL;
    }
    const int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        out_error(path, strerror(errno));
        if (fd >= 0)
            close(fd), remove(o->tmp);
        o->tmp[0] = '\0';
    }
    return f;
}

/* Closes f and renames the temporary over the target; on failure the temporary is removed
 * and no target appears. 0 or 1. */
static int out_close(out_target *o, FILE *f)
{
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && o->tmp[0] && rename(o->tmp, o->path) != 0)
        e = errno;
    if (!e)
        return 0;
    if (o->tmp[0])
        remove(o->tmp);
    return out_error(o->path, strerror(e));
}

/* An output out_open would refuse fails now, not after the run: creates and removes the
 * temporary (a FILE that is not a regular file is left alone until written). */
static int out_probe(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return 0;
    out_target o;
    FILE *f = out_open(&o, path);
    if (!f)
        return 1;
    fclose(f);
    remove(o.tmp);
    return 0;
}

int main(int argc, char **argv)
{
    config c;
    int help;
    const int rc = parse_args(argc, argv, &c, &help);
    if (rc)
        return rc;
    if (help) {
        usage(stdout);
        return 0;
    }
    if (c.output && out_probe(c.output))
        return 1;
    const size_t R = c.rows, D = c.dim, N = c.layers, RD = R * D;

    /* the paths: scalar once, then unfused and fused on every supported ISA */
    path_run p[MAX_PATHS];
    size_t np = 0;
    p[np++] = (path_run){.isa = NORMKIT_ISA_SCALAR, .path = NORMKIT_PATH_SCALAR};
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++) {
        if (!normkit_isa_supported((normkit_isa)i))
            continue;
        for (int path = NORMKIT_PATH_UNFUSED; path <= NORMKIT_PATH_FUSED && np < MAX_PATHS; path++)
            p[np++] = (path_run){.isa = (normkit_isa)i, .path = (normkit_block_path)path};
    }

    int status = 0;
    weights w;
    int oom = weights_alloc(&w, &c) != 0;
    record *rec[2] = {calloc(N, sizeof(record)), calloc(N, sizeof(record))};
    double *x64[2], *ex64[2], *h64 = malloc(RD * sizeof(double)), *eh64 = malloc(RD * sizeof(double));
    double *f64 = malloc(RD * sizeof(double));
    float *x0 = malloc(RD * sizeof(float));
    void *ws = NULL;
    size_t ws_len = 0;
    oom |= !rec[0] || !rec[1] || !h64 || !eh64 || !f64 || !x0;
    for (int lo = 0; lo < 2; lo++) {
        x64[lo] = malloc(RD * sizeof(double));
        ex64[lo] = calloc(RD, sizeof(double));
        oom |= !x64[lo] || !ex64[lo];
    }
    for (size_t k = 0; k < np; k++) {
        snprintf(p[k].name, sizeof p[k].name, "%s/%s", normkit_isa_name(p[k].isa),
                 normkit_block_path_name(p[k].path));
        p[k].h[0] = malloc(RD * sizeof(float));
        p[k].h[1] = malloc(RD * sizeof(float));
        p[k].next = malloc(RD * sizeof(float));
        oom |= !p[k].h[0] || !p[k].h[1] || !p[k].next;
    }
    if (oom) {
        status = fail("out of memory", "");
        goto done;
    }

    /* the input: x ~ N(0, 1) rounded to float, the same for every path and layout */
    {
        rng r;
        rng_init(&r, c.seed, 0);
        fill(&r, x0, RD, 1.0);
        for (int lo = 0; lo < 2; lo++) {
            for (size_t i = 0; i < RD; i++)
                x64[lo][i] = x0[i];
            for (size_t k = 0; k < np; k++)
                memcpy(p[k].h[lo], x0, RD * sizeof(float));
        }
    }

    for (size_t l = 0; l < N && !status; l++) {
        weights_draw(&w, &c, l + 1);
        for (int lo = 0; lo < 2 && !status; lo++) {
            if (!(c.layouts >> lo & 1))
                continue;
            const normkit_block_desc d = desc_of(&c, &w, (normkit_layout)lo);
            record *r = &rec[lo][l];
            stats64 st;
            if (layer64(&d, R, x64[lo], ex64[lo], h64, eh64, f64, &st) != 0) {
                status = fail("out of memory", "");
                break;
            }
            r->residual_rms = sqrt(st.residual_ms);
            r->output_rms = sqrt(st.output_ms);
            r->update_rms = sqrt(st.update_ms);
            r->bound = normwise(R, D, NULL, eh64, h64);
            for (size_t k = 0; k < np && !status; k++) {
                normkit_block *b = NULL;
                normkit_status s = normkit_block_create(&d, p[k].isa, p[k].path, &b);
                if (s != NORMKIT_OK) {
                    fprintf(stderr, "%s: error: layer %zu %s %s: normkit_block_create: %s\n", PROG,
                            l + 1, normkit_layout_name((normkit_layout)lo), p[k].name,
                            normkit_status_str(s));
                    status = 1;
                    break;
                }
                const size_t need = normkit_block_ws_bytes(b, R);
                if (need > ws_len) {
                    free(ws);
                    ws = malloc(need);
                    ws_len = ws ? need : 0;
                }
                s = ws ? normkit_block_forward(b, R, p[k].h[lo], D, p[k].next, D, ws, ws_len)
                       : NORMKIT_ERR_NOMEM;
                normkit_block_free(b);
                if (s != NORMKIT_OK) {
                    fprintf(stderr, "%s: error: layer %zu %s %s: normkit_block_forward: %s\n", PROG,
                            l + 1, normkit_layout_name((normkit_layout)lo), p[k].name,
                            normkit_status_str(s));
                    status = 1;
                    break;
                }
                r->err[k] = normwise(R, D, p[k].next, NULL, h64);
                float *t = p[k].h[lo];
                p[k].h[lo] = p[k].next;
                p[k].next = t;
            }
            memcpy(x64[lo], h64, RD * sizeof(double));
            memcpy(ex64[lo], eh64, RD * sizeof(double));
        }
    }
    if (status)
        goto done;

    FILE *out = stdout;
    out_target ot;
    if (c.output && !(out = out_open(&ot, c.output))) {
        status = 1;
        goto done;
    }
    if (c.csv)
        write_csv(out, &c, p, np, rec);
    else
        write_json(out, &c, p, np, rec);
    if (c.output)
        status = out_close(&ot, out);
    else if (ferror(out) | (fflush(out) != 0))
        status = fail("cannot write standard output: ", strerror(errno));

done:
    for (size_t k = 0; k < np; k++)
        free(p[k].h[0]), free(p[k].h[1]), free(p[k].next);
    for (int lo = 0; lo < 2; lo++)
        free(x64[lo]), free(ex64[lo]);
    free(rec[0]), free(rec[1]), free(h64), free(eh64), free(f64), free(x0), free(ws);
    weights_free(&w);
    return status;
}
