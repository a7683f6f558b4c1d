/*
 * normkit-tune: measures, on this machine, the choices the dispatcher makes from built-in
 * defaults, and writes a tuning file (docs/tuning.md) that NORMKIT_TUNING and normkit-export
 * read.
 *   normkit-tune [--budget SECONDS] [-o FILE] [--ops LIST] [--isas LIST] [--quiet]
 *
 * Per ISA and operator (and, for the norms, per shape class) it runs a coordinate search —
 * the compiled variant first, then each run-time knob — where every step times its candidates
 * interleaved, round by round, and keeps a candidate only when its median beats the current
 * one by more than the noise margin. The winner is then re-checked against the default in an
 * interleaved A/B run (ABBA rounds): it is written only if it is faster in at least three
 * quarters of the rounds and by at least the margin in the median; otherwise the default is
 * written, with the measured ratio. Then the ISA question: the ISA "auto" runs (e.g. NEON on
 * a 128-bit SVE core, AVX-512 on x86) against each other tuned ISA of its family, case by case
 * with what the file will hold for each; a rival faster by the margin in the geometric mean,
 * and in three cases in four, is written as the file's "isa". One thread, pinned to one core
 * with hwloc.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "cpu.h"
#include "normkit_kernels.h"
#include "topo.h"
#include "tuning.h"

#define MARGIN 1.02 /* a step's winner must be this much faster (median) to replace the current */
#define MAX_CANDS 16
#define MAX_SHAPES 2

static int quiet;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: normkit-tune [--budget SECONDS] [-o FILE] [--ops LIST] [--isas LIST] [--quiet]\n"
            "Searches, per ISA and operator (norms: per shape class), the kernel variant and\n"
            "run-time knobs that run fastest on this machine, re-checks each winner against the\n"
            "built-in default in an interleaved A/B run, then times the ISA \"auto\" runs against\n"
            "the other tuned ISAs of its family (AVX2/AVX-512, NEON/SVE), and writes a tuning\n"
            "file for NORMKIT_TUNING and normkit-export --tuning (docs/tuning.md).\n"
            "  --budget SECONDS  time to spend measuring (default 180; at least 1); the run takes\n"
            "                    about this long, more when one sample of a case is slower\n"
            "  -o FILE           where to write (default normkit-tuning.json); written whole or\n"
            "                    not at all\n"
            "  --ops LIST        comma-separated operators (default: rmsnorm, layernorm,\n"
            "                    add_rmsnorm, add_layernorm, linear, rmsnorm_linear,\n"
            "                    layernorm_linear)\n"
            "  --isas LIST       comma-separated ISAs (default: every supported one but scalar)\n"
            "  --quiet           no progress lines on stderr\n");
}

static void progress(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* q-quantile (0..1) of n values, by sorting a copy (n <= 64). */
static double quantile(const double *v, int n, double q)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    const double pos = q * (n - 1);
    const int i = (int)pos;
    return i + 1 < n ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
}

/* ---- one case: an operator on one shape, with its buffers ---- */

typedef struct {
    size_t rows, dim, n;
} shape;

typedef struct {
    normkit_op op;
    const normkit_op_info *info;
    shape s;
    float *x, *r, *y, *gamma, *beta, *w, *bias, *ws;
    size_t ws_floats;
    /* read y back after each call, as the next operator would: in the mem classes streaming
     * stores (which evict y) must win including what they cost that reader */
    int consume;
    volatile float sink;
} bench_case;

static float *alloc_floats(size_t n, unsigned seed)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "normkit-tune: error: out of memory (%zu floats)\n", n);
        exit(1);
    }
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((int32_t)(s >> 8) - (1 << 23)) / (float)(1 << 23); /* [-1, 1) */
    }
    return p;
}

static void case_init(bench_case *c, normkit_op op, shape s)
{
    memset(c, 0, sizeof *c);
    c->op = op;
    c->info = normkit_op_get(op);
    c->s = s;
    c->x = alloc_floats(s.rows * s.dim, 1);
    c->gamma = alloc_floats(s.dim, 3);
    c->beta = alloc_floats(s.dim, 4);
    if (c->info->linear) {
        c->w = alloc_floats(s.n * s.dim, 5);
        c->bias = alloc_floats(s.n, 6);
        c->y = alloc_floats(s.rows * s.n, 7);
    } else {
        c->y = alloc_floats(s.rows * s.dim, 7);
        if (c->info->residual)
            c->r = alloc_floats(s.rows * s.dim, 2);
    }
}

static void case_free(bench_case *c)
{
    free(c->x), free(c->r), free(c->y), free(c->gamma), free(c->beta), free(c->w), free(c->bias);
    free(c->ws);
    memset(c, 0, sizeof *c);
}

/* A candidate: a variant and the knobs it runs with. */
typedef struct {
    const normkit_kernel *k;
    normkit_kparams kp;
} cand;

/* Runs `calls` calls of candidate d on c; returns seconds. */
static double run(bench_case *c, const cand *d, long calls)
{
    normkit_kparams kp = d->kp;
    if (c->info->linear) {
        normkit_linear_resolve_knobs(&d->kp, c->s.rows, c->s.dim, &kp);
        const size_t need = normkit_linear_ws_floats(&kp, c->s.rows, c->s.dim,
                                                     c->info->norm != NORMKIT_NORM_NONE);
        if (need > c->ws_floats) {
            free(c->ws);
            c->ws = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
            if (!c->ws) {
                fprintf(stderr, "normkit-tune: error: out of memory (workspace)\n");
                exit(1);
            }
            c->ws_floats = need;
        }
    }
    const shape s = c->s;
    const normkit_args a = {.rows = s.rows, .dim = s.dim, .x = c->x, .ldx = s.dim, .r = c->r,
                            .ldr = s.dim, .gamma = c->gamma, .beta = c->beta, .eps = 1e-5f,
                            .y = c->y, .ldy = c->info->linear ? s.n : s.dim, .n = s.n, .w = c->w,
                            .ldw = s.dim, .bias = c->bias, .ws = c->ws, .kp = &kp};
    const size_t ny = s.rows * (c->info->linear ? s.n : s.dim);
    const double t0 = now_s();
    for (long i = 0; i < calls; i++) {
        normkit_kernel_call(d->k, &a);
        if (c->consume) {
            float acc[8] = {0};
            for (size_t j = 0; j + 8 <= ny; j += 8)
                for (int l = 0; l < 8; l++)
                    acc[l] += c->y[j + l];
            c->sink = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
        }
    }
    return now_s() - t0;
}

/* ---- timing candidates against each other, interleaved ---- */

typedef struct {
    bench_case cases[MAX_SHAPES];
    int ncases;
    long calls[MAX_SHAPES]; /* per sample, so one sample takes about sample_s */
    int rounds;
} unit;

/* The unit's cases, one per shape; mem classes (cls >= 4) read y back after every call, as
 * the next operator would (streaming stores must win including what that costs it). */
static void unit_open(unit *u, normkit_op op, int cls, const shape *shapes, int nshapes)
{
    const int linear = normkit_op_get(op)->linear;
    u->ncases = nshapes;
    for (int i = 0; i < nshapes; i++) {
        case_init(&u->cases[i], op, shapes[i]);
        u->cases[i].consume = !linear && cls >= 4;
    }
}

static void unit_close(unit *u)
{
    for (int i = 0; i < u->ncases; i++)
        case_free(&u->cases[i]);
}

/* Calibrates calls per sample on candidate d: about sample_s seconds, at least one call. */
static void calibrate(unit *u, const cand *d, double sample_s)
{
    for (int i = 0; i < u->ncases; i++) {
        run(&u->cases[i], d, 1); /* warm-up: first touch, page faults, caches */
        long calls = 1;
        double t = run(&u->cases[i], d, calls);
        while (t < sample_s / 4 && calls < (1L << 30)) {
            calls *= 4;
            t = run(&u->cases[i], d, calls);
        }
        const double per = t / (double)calls;
        const double want = sample_s / per;
        u->calls[i] = want < 1 ? 1 : want > (double)(1L << 30) ? (1L << 30) : (long)want;
    }
}

/* Median seconds per call of each candidate, summed in log over the unit's shapes (a geometric
 * mean for several shapes): score[j]. Candidates run round-robin, `rounds` times. */
static void score(unit *u, const cand *cs, int n, double *scores)
{
    double t[MAX_CANDS][MAX_SHAPES][64];
    const int rounds = u->rounds;
    for (int r = 0; r < rounds; r++)
        for (int j0 = 0; j0 < n; j0++) {
            const int j = (j0 + r) % n; /* rotate the order: no candidate always runs first */
            for (int i = 0; i < u->ncases; i++)
                t[j][i][r] = run(&u->cases[i], &cs[j], u->calls[i]) / (double)u->calls[i];
        }
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < u->ncases; i++)
            s += log(quantile(t[j][i], rounds, 0.5));
        scores[j] = s / u->ncases;
    }
}

/* One coordinate step: the candidates differ from `cur` in one choice; cur becomes the
 * fastest if it beats cur by the margin. Returns 1 when cur changed. */
static int step(unit *u, cand *cur, const cand *alts, int nalts)
{
    if (nalts == 0)
        return 0;
    cand cs[MAX_CANDS];
    cs[0] = *cur;
    int n = 1;
    for (int j = 0; j < nalts && n < MAX_CANDS; j++)
        cs[n++] = alts[j];
    double sc[MAX_CANDS];
    score(u, cs, n, sc);
    int best = 0;
    for (int j = 1; j < n; j++)
        if (sc[j] < sc[best])
            best = j;
    if (best && sc[0] - sc[best] > log(MARGIN)) {
        *cur = cs[best];
        return 1;
    }
    return 0;
}

#define NK_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A step over one size_t knob of normkit_kparams (at byte offset `off`): every value in vals
 * other than the current one. */
static void step_knob(unit *u, cand *cur, size_t off, const size_t *vals, size_t nvals)
{
    cand alts[MAX_CANDS];
    int n = 0;
    for (size_t i = 0; i < nvals && n < MAX_CANDS; i++) {
        size_t v;
        memcpy(&v, (const char *)&cur->kp + off, sizeof v);
        if (vals[i] == v)
            continue;
        alts[n] = *cur;
        memcpy((char *)&alts[n].kp + off, &vals[i], sizeof vals[i]);
        n++;
    }
    step(u, cur, alts, n);
}

/* The A/B re-check: ABBA rounds of default d and winner w; per round the ratio of the
 * default's time to the winner's (> 1: the winner is faster), over all shapes. */
static void ab(unit *u, const cand *d, const cand *w, double *gain, double *spread, double *q25)
{
    const int rounds = u->rounds * 2 > 64 ? 64 : u->rounds * 2;
    double ratio[64];
    for (int r = 0; r < rounds; r++) {
        double ld = 0, lw = 0;
        for (int i = 0; i < u->ncases; i++) {
            double td, tw;
            if (r % 2 == 0) {
                td = run(&u->cases[i], d, u->calls[i]);
                tw = run(&u->cases[i], w, u->calls[i]);
            } else {
                tw = run(&u->cases[i], w, u->calls[i]);
                td = run(&u->cases[i], d, u->calls[i]);
            }
            ld += log(td), lw += log(tw);
        }
        ratio[r] = exp((ld - lw) / u->ncases);
    }
    *gain = quantile(ratio, rounds, 0.5);
    *q25 = quantile(ratio, rounds, 0.25);
    *spread = (quantile(ratio, rounds, 0.75) - *q25) / *gain;
}

/* ---- what is searched ---- */

static const char *const default_ops[] = {"rmsnorm", "add_rmsnorm", "layernorm", "add_layernorm",
                                          "linear", "rmsnorm_linear", "layernorm_linear"};

/* The distinct rows x dim matrices a norm call touches (as the shape classes count them). */
static size_t norm_mats(const normkit_op_info *info)
{
    return (size_t)info->mats_read + info->mats_written - (info->residual ? 1 : 0);
}

/* A shape of class cls for a norm operator: its working set at about half of L1 (l1), the
 * middle of L1..L2 (l2), or 8 x L2 but at least 8 MiB (mem); rows of up to 4096 for the
 * multi-row classes. 0 when the caches make the class empty. */
static int class_shape(normkit_op op, int cls, size_t l1, size_t l2, shape *s)
{
    const normkit_op_info *info = normkit_op_get(op);
    const size_t level = (size_t)cls / 2, mats = norm_mats(info), vecs = info->vecs;
    size_t bytes = level == 0 ? l1 / 2 : level == 1 ? l1 + (l2 - l1) / 2 : 8 * l2;
    if (level == 2 && bytes < ((size_t)8 << 20))
        bytes = (size_t)8 << 20;
    s->n = 0;
    if (cls % 2 == 0) {
        s->rows = 1;
        s->dim = bytes / (4 * (mats + vecs)) / 16 * 16;
    } else {
        s->dim = 4096;
        while (s->dim > 64 && 2 * s->dim * 4 * mats + s->dim * 4 * vecs > bytes)
            s->dim /= 2;
        s->rows = (bytes - s->dim * 4 * vecs) / (s->dim * 4 * mats);
    }
    return s->dim >= 1 && s->rows >= 1 &&
           normkit_shape_class_of(op, s->rows, s->dim) == (normkit_shape_class)cls;
}

static cJSON *size_json(size_t v)
{
    return v == SIZE_MAX ? cJSON_CreateString("never") : cJSON_CreateNumber((double)v);
}

static cJSON *params_json(const normkit_op_info *info, const normkit_kparams *p)
{
    cJSON *o = cJSON_CreateObject();
    if (info->linear) {
        cJSON_AddNumberToObject(o, "lin_kc", (double)p->lin_kc);
        cJSON_AddNumberToObject(o, "lin_mc", (double)p->lin_mc);
        cJSON_AddNumberToObject(o, "lin_prefetch", (double)p->lin_prefetch);
        cJSON_AddNumberToObject(o, "lin_pack_rows", (double)p->lin_pack_rows);
    } else {
        cJSON_AddNumberToObject(o, "pipe_max_dim", (double)p->pipe_max_dim);
        cJSON_AddItemToObject(o, "dram_min_bytes", size_json(p->dram_min_bytes));
        cJSON_AddItemToObject(o, "nt_min_bytes", size_json(p->nt_min_bytes));
    }
    return o;
}

static void describe(char *buf, size_t len, const normkit_op_info *info, const cand *c)
{
    const normkit_kparams *p = &c->kp;
    char a[24], b[24];
    if (info->linear) {
        snprintf(buf, len, "kc %zu mc %zu prefetch %zu pack_rows %zu", p->lin_kc, p->lin_mc,
                 p->lin_prefetch, p->lin_pack_rows);
        return;
    }
    snprintf(a, sizeof a, p->dram_min_bytes == SIZE_MAX ? "never" : "%zu", p->dram_min_bytes);
    snprintf(b, sizeof b, p->nt_min_bytes == SIZE_MAX ? "never" : "%zu", p->nt_min_bytes);
    snprintf(buf, len, "%s pipe %zu memory %s nt %s", c->k->variant[0] ? c->k->variant : "-",
             p->pipe_max_dim, a, b);
}

typedef struct {
    double budget_s, unit_s;
    int unit_no, units;
    cJSON *kernels;
    double gain_log_sum;
    int changed;
} tune_state;

/* Searches one (op, isa, class) unit, appends its entry and returns what it wrote. */
static cand tune_unit(tune_state *st, normkit_op op, normkit_isa isa, int cls, const shape *shapes,
                      int nshapes)
{
    const normkit_op_info *info = normkit_op_get(op);
    const normkit_shape_class c = info->linear ? NORMKIT_CLASS_COUNT : (normkit_shape_class)cls;
    cand def;
    def.k = info->linear ? NULL : normkit_kernel_class_default(op, isa, c);
    if (!def.k)
        def.k = normkit_kernels_for(isa, op);
    def.kp = *normkit_class_params(op, isa, c);
    const double t0 = now_s();

    unit u = {0};
    unit_open(&u, op, cls, shapes, nshapes);
    /* about 40 samples per candidate-round budget: rounds of the steps below plus the A/B */
    const int est_samples = 24;
    u.rounds = 5;
    double sample_s = st->unit_s / (est_samples * u.rounds) / nshapes;
    if (sample_s < 2e-4) {
        u.rounds = 3;
        sample_s = st->unit_s / (est_samples * u.rounds) / nshapes;
    }
    calibrate(&u, &def, sample_s);

    cand cur = def, alts[MAX_CANDS];
    int n = 0;
    if (!info->linear) {
        /* the compiled variants */
        size_t nk;
        const normkit_kernel *ks = normkit_kernel_list(&nk);
        for (size_t i = 0; i < nk && n < MAX_CANDS; i++)
            if (ks[i].op == op && ks[i].isa == isa && &ks[i] != cur.k)
                alts[n++] = (cand){&ks[i], cur.kp};
        step(&u, &cur, alts, n);
        /* pipelining: only where the variant pipelines (its default is not 0) and rows > 1 */
        static const size_t pipes[] = NORMKIT_TUNE_PIPE_MAX_DIM, on_off[] = {0, SIZE_MAX};
        if (def.kp.pipe_max_dim && shapes[0].rows > 1)
            step_knob(&u, &cur, offsetof(normkit_kparams, pipe_max_dim), pipes, NK_LEN(pipes));
        /* memory mode and streaming stores: on or off for the whole class, where the variant
         * has them (a default of "never" means it has not) and past L1 */
        if (cls >= 2 && def.kp.dram_min_bytes != SIZE_MAX)
            step_knob(&u, &cur, offsetof(normkit_kparams, dram_min_bytes), on_off, 2);
        if (cls >= 4 && def.kp.nt_min_bytes != SIZE_MAX)
            step_knob(&u, &cur, offsetof(normkit_kparams, nt_min_bytes), on_off, 2);
    } else {
        static const size_t kcs[] = NORMKIT_TUNE_LIN_KC, mcs[] = NORMKIT_TUNE_LIN_MC,
                            pfs[] = NORMKIT_TUNE_LIN_PREFETCH, packs[] = NORMKIT_TUNE_LIN_PACK_ROWS;
        step_knob(&u, &cur, offsetof(normkit_kparams, lin_kc), kcs, NK_LEN(kcs));
        step_knob(&u, &cur, offsetof(normkit_kparams, lin_mc), mcs, NK_LEN(mcs));
        if (def.kp.lin_prefetch) /* variants that prefetch W */
            step_knob(&u, &cur, offsetof(normkit_kparams, lin_prefetch), pfs, NK_LEN(pfs));
        if (def.kp.lin_pack_rows) /* variants with a packed (panel) form */
            step_knob(&u, &cur, offsetof(normkit_kparams, lin_pack_rows), packs, NK_LEN(packs));
    }

    double gain = 1.0, spread = 0.0, q25 = 1.0;
    char note[256] = "";
    const int differs = cur.k != def.k || memcmp(&cur.kp, &def.kp, sizeof cur.kp) != 0;
    if (differs) {
        ab(&u, &def, &cur, &gain, &spread, &q25);
        /* noise is not crowned: the median gain must pass the margin and three rounds in
         * four must favour the winner */
        if (!(gain >= MARGIN && q25 > 1.0)) {
            describe(note, sizeof note, info, &cur);
            snprintf(note + strlen(note), sizeof note - strlen(note),
                     " won the search, but not the A/B re-check (%.3fx, lower quartile %.3f)",
                     gain, q25);
            cur = def;
        }
    } else {
        /* the default won every step: record its spread against itself */
        ab(&u, &def, &def, &gain, &spread, &q25);
    }
    const int kept = cur.k == def.k && memcmp(&cur.kp, &def.kp, sizeof cur.kp) == 0;

    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "op", info->name);
    cJSON_AddStringToObject(e, "isa", normkit_isa_name(isa));
    cJSON_AddStringToObject(e, "class",
                            info->linear ? "all" : normkit_shape_class_name((normkit_shape_class)cls));
    cJSON_AddStringToObject(e, "variant", cur.k->variant);
    cJSON_AddItemToObject(e, "params", params_json(info, &cur.kp));
    cJSON_AddStringToObject(e, "default", def.k->variant);
    cJSON_AddNumberToObject(e, "gain", kept ? 1.0 : round(gain * 1000) / 1000);
    cJSON_AddNumberToObject(e, "spread", round(spread * 1000) / 1000);
    cJSON_AddItemToArray(st->kernels, e);
    if (!kept) {
        st->changed++;
        st->gain_log_sum += log(gain);
    }

    char dc[96], wc[96];
    describe(dc, sizeof dc, info, &def);
    describe(wc, sizeof wc, info, &cur);
    char shp[96] = "";
    for (int i = 0; i < nshapes; i++) {
        const size_t used = strlen(shp);
        if (info->linear)
            snprintf(shp + used, sizeof shp - used, "%s%zu x %zu x %zu", i ? ", " : "",
                     shapes[i].rows, shapes[i].dim, shapes[i].n);
        else
            snprintf(shp + used, sizeof shp - used, "%zu x %zu", shapes[i].rows, shapes[i].dim);
    }
    progress("[%d/%d] %s %s %s (%s): %.1f s\n", ++st->unit_no, st->units, normkit_isa_name(isa),
             info->name, info->linear ? "all" : normkit_shape_class_name((normkit_shape_class)cls),
             shp, now_s() - t0);
    if (note[0])
        progress("      %s\n", note);
    if (kept)
        progress("      default kept: %s (spread %.3f)\n", dc, spread);
    else
        progress("      %s -> %s: %.3fx faster (A/B, spread %.3f)\n", dc, wc, gain, spread);
    unit_close(&u);
    return cur;
}

/* One case of the ISA question: A/B of the default ISA's written choice (d) against the
 * candidate ISA's (c) on the unit's shapes. *gain > 1: the candidate is faster. */
static void isa_case(double unit_s, normkit_op op, int cls, const shape *shapes, int nshapes,
                     const cand *d, const cand *c, double *gain, double *q25)
{
    unit u = {.rounds = 5};
    unit_open(&u, op, cls, shapes, nshapes);
    /* the A/B runs 2 x rounds samples of each of the two */
    calibrate(&u, d, unit_s / (4.0 * u.rounds) / nshapes);
    double spread;
    ab(&u, d, c, gain, &spread, q25);
    unit_close(&u);
}

/* Splits a comma-separated list; every name must pass `valid`. Returns the count or -1. */
static int split_list(const char *s, const char **out, int max, char *store, size_t storelen)
{
    if (strlen(s) + 1 > storelen)
        return -1;
    strcpy(store, s);
    int n = 0;
    for (char *tok = strtok(store, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max)
            return -1;
        out[n++] = tok;
    }
    return n;
}

/* Output files are written whole or not at all: into <path>.tmp.<pid> next to path, renamed
 * over it once complete. A path that exists and is not a regular file (/dev/stdout, a pipe) is
 * written directly: a rename would replace the device node or link, not feed it. Opens the
 * file to write (its name in tmp, *direct 1 when it is path itself); NULL and a message in err
 * on failure. */
static FILE *open_output(const char *path, char *tmp, size_t len, int *direct, char *err,
                         size_t errlen)
{
    struct stat st;
    const int exists = stat(path, &st) == 0;
    *direct = exists && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(EISDIR));
        return NULL;
    }
    const int n = *direct ? snprintf(tmp, len, "%s", path)
                          : snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    if (n >= (int)len) {
        snprintf(err, errlen, "cannot write %.300s: path too long", path);
        return NULL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f)
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(errno));
    return f;
}

static int write_atomic(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[4096];
    int direct;
    FILE *f = open_output(path, tmp, sizeof tmp, &direct, err, errlen);
    if (!f)
        return -1;
    int e = fputs(text, f) >= 0 && fputc('\n', f) != EOF ? 0 : errno ? errno : EIO;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (!e && !direct && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        if (!direct)
            remove(tmp);
        snprintf(err, errlen, "cannot write %.300s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double budget = 180;
    const char *out = "normkit-tuning.json", *ops_arg = NULL, *isas_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has_val = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--budget") == 0 && has_val) {
            char *end;
            budget = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(budget >= 1 && budget <= 86400)) {
                fprintf(stderr, "normkit-tune: error: --budget wants seconds from 1 to 86400, "
                                "got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "-o") == 0 && has_val) {
            out = argv[++i];
        } else if (strcmp(a, "--ops") == 0 && has_val) {
            ops_arg = argv[++i];
        } else if (strcmp(a, "--isas") == 0 && has_val) {
            isas_arg = argv[++i];
        } else {
            const int wants_val = strcmp(a, "--budget") == 0 || strcmp(a, "-o") == 0 ||
                                  strcmp(a, "--ops") == 0 || strcmp(a, "--isas") == 0;
            fprintf(stderr, "normkit-tune: error: %s '%s' (try --help)\n",
                    wants_val ? "missing value for" : "unknown argument", a);
            return 2;
        }
    }
    /* the tuner measures the built-in defaults: a tuning file in the environment would make
     * them its own */
    if (getenv("NORMKIT_TUNING")) {
        progress("normkit-tune: ignoring NORMKIT_TUNING while tuning\n");
        unsetenv("NORMKIT_TUNING");
    }

    const char *ops[NORMKIT_OP_COUNT];
    int nops = 0;
    char store[512];
    if (ops_arg) {
        nops = split_list(ops_arg, ops, NORMKIT_OP_COUNT, store, sizeof store);
        if (nops <= 0) {
            fprintf(stderr, "normkit-tune: error: --ops wants a comma-separated list of operators\n");
            return 2;
        }
    } else {
        for (size_t i = 0; i < sizeof default_ops / sizeof default_ops[0]; i++)
            ops[nops++] = default_ops[i];
    }
    normkit_op opv[NORMKIT_OP_COUNT];
    for (int i = 0; i < nops; i++) {
        const int op = normkit_op_from_name(ops[i]);
        const normkit_op_info *info = op >= 0 ? normkit_op_get((normkit_op)op) : NULL;
        if (!info || info->elementwise) {
            fprintf(stderr, "normkit-tune: error: '%s' is not a tunable operator (one of: "
                            "rmsnorm, layernorm, add_rmsnorm, add_layernorm, linear, "
                            "rmsnorm_linear, layernorm_linear)\n", ops[i]);
            return 2;
        }
        opv[i] = (normkit_op)op;
    }
    normkit_isa isav[NORMKIT_ISA_COUNT];
    int nisas = 0;
    if (isas_arg) {
        const char *names[NORMKIT_ISA_COUNT];
        char store2[128];
        const int n = split_list(isas_arg, names, NORMKIT_ISA_COUNT, store2, sizeof store2);
        if (n <= 0) {
            fprintf(stderr, "normkit-tune: error: --isas wants a comma-separated list of ISAs\n");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            const int isa = normkit_isa_from_name(names[i]);
            if (isa <= NORMKIT_ISA_AUTO) {
                fprintf(stderr, "normkit-tune: error: '%s' is not an ISA (scalar, avx2, avx512, "
                                "neon, sve)\n", names[i]);
                return 2;
            }
            if (!normkit_isa_supported((normkit_isa)isa)) {
                fprintf(stderr, "normkit-tune: error: ISA '%s' is not supported by this CPU, OS "
                                "or build\n", names[i]);
                return 2;
            }
            isav[nisas++] = (normkit_isa)isa;
        }
    } else {
        for (int isa = NORMKIT_ISA_AVX2; isa < NORMKIT_ISA_COUNT; isa++)
            if (normkit_isa_supported((normkit_isa)isa))
                isav[nisas++] = (normkit_isa)isa;
        if (!nisas) {
            fprintf(stderr, "normkit-tune: error: this CPU runs only the scalar variants, which "
                            "have nothing to tune (--isas scalar to tune the linear blocking)\n");
            return 2;
        }
    }

    /* an output we cannot write fails now, not after the budget is spent: the temporary the
     * final write uses is created and removed (a path written directly is left alone) */
    if (!*out) {
        fprintf(stderr, "normkit-tune: error: -o: empty file name (try --help)\n");
        return 2;
    }
    {
        char tmp[4096], oerr[512];
        int direct;
        struct stat st;
        if (stat(out, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
            FILE *f = open_output(out, tmp, sizeof tmp, &direct, oerr, sizeof oerr);
            if (!f) {
                fprintf(stderr, "normkit-tune: error: %s\n", oerr);
                return 1;
            }
            fclose(f);
            remove(tmp);
        }
    }

    /* pin, so every sample runs on one core */
    char perr[128];
    int pu = -1;
    if (nk_topo_pin_thread(0, &pu, perr, sizeof perr) != 0)
        progress("normkit-tune: warning: not pinned (%s); timings may be noisier\n", perr);

    const normkit_cpu *cpu = normkit_cpu_get();
    normkit_cache_info ci;
    normkit_cpu_caches(&ci);
    const size_t l1 = ci.bytes[0], l2 = ci.bytes[1];

    /* the units and their shapes */
    typedef struct {
        normkit_op op;
        normkit_isa isa;
        int cls;
        shape s[MAX_SHAPES];
        int ns;
    } unit_spec;
    unit_spec specs[NORMKIT_ISA_COUNT * NORMKIT_OP_COUNT * NORMKIT_CLASS_COUNT];
    int nspecs = 0;
    for (int ii = 0; ii < nisas; ii++)
        for (int oi = 0; oi < nops; oi++) {
            const normkit_op op = opv[oi];
            if (!normkit_kernels_for(isav[ii], op))
                continue;
            if (normkit_op_get(op)->linear) {
                /* decode (one row: W streams from memory) and prefill (64 rows: compute) */
                unit_spec *u = &specs[nspecs++];
                *u = (unit_spec){op, isav[ii], NORMKIT_CLASS_COUNT,
                                 {{1, 2048, 2048}, {64, 2048, 2048}}, 2};
                continue;
            }
            for (int c = 0; c < NORMKIT_CLASS_COUNT; c++) {
                shape s;
                if (!class_shape(op, c, l1, l2, &s)) {
                    progress("normkit-tune: skipping %s %s: no shape of that class with these "
                             "caches\n", normkit_op_name(op),
                             normkit_shape_class_name((normkit_shape_class)c));
                    continue;
                }
                specs[nspecs++] = (unit_spec){op, isav[ii], c, {s}, 1};
            }
        }

    /* The ISA question: which ISA "auto" should run. The ISA auto runs now (the documented
     * default, or an earlier tuning file's) against each other tuned ISA of its family, on
     * every case tuned for both, each with what this run writes for it. */
    normkit_isa_force(NORMKIT_ISA_AUTO);
    const normkit_isa dflt = normkit_isa_active();
    normkit_isa rivals[NORMKIT_ISA_COUNT];
    int nrivals = 0, dflt_tuned = 0;
    for (int ii = 0; ii < nisas; ii++)
        dflt_tuned |= isav[ii] == dflt;
    for (int ii = 0; ii < nisas && dflt_tuned; ii++)
        if (isav[ii] != dflt && normkit_isa_family(isav[ii]) &&
            normkit_isa_family(isav[ii]) == normkit_isa_family(dflt))
            rivals[nrivals++] = isav[ii];
    int ndflt = 0;
    for (int i = 0; i < nspecs; i++)
        ndflt += specs[i].isa == dflt;
    const int ncompare = nrivals * ndflt;

    tune_state st = {.budget_s = budget, .units = nspecs, .kernels = cJSON_CreateArray()};
    /* a sixth of the budget for the ISA question, when there is one */
    const double tune_budget = ncompare ? budget * 5 / 6 : budget;
    st.unit_s = tune_budget / (nspecs ? nspecs : 1);
    progress("normkit-tune: %s, L1d %zu KiB, L2 %zu KiB; %d cases, %.0f s budget (%.2f s each), "
             "pinned to PU %d\n", cpu->model, l1 / 1024, l2 / 1024, nspecs, budget, st.unit_s, pu);
    const double t0 = now_s();
    static cand won[NORMKIT_ISA_COUNT * NORMKIT_OP_COUNT * NORMKIT_CLASS_COUNT];
    for (int i = 0; i < nspecs; i++)
        won[i] = tune_unit(&st, specs[i].op, specs[i].isa, specs[i].cls, specs[i].s, specs[i].ns);

    normkit_isa chosen = NORMKIT_ISA_AUTO;
    double chosen_gain = 1.0;
    for (int r = 0; r < nrivals; r++) {
        double lsum = 0;
        int n = 0, wins = 0;
        for (int i = 0; i < nspecs; i++) {
            if (specs[i].isa != dflt)
                continue;
            for (int j = 0; j < nspecs; j++) {
                if (specs[j].isa != rivals[r] || specs[j].op != specs[i].op ||
                    specs[j].cls != specs[i].cls)
                    continue;
                double g, q25;
                isa_case((budget - tune_budget) / ncompare, specs[i].op, specs[i].cls, specs[i].s,
                         specs[i].ns, &won[i], &won[j], &g, &q25);
                lsum += log(g), n++, wins += q25 > 1.0;
                progress("[isa] %s %s: %s %.3fx %s %s (A/B, lower quartile %.3f)\n",
                         normkit_op_name(specs[i].op),
                         specs[i].cls == NORMKIT_CLASS_COUNT
                             ? "all"
                             : normkit_shape_class_name((normkit_shape_class)specs[i].cls),
                         normkit_isa_name(rivals[r]), g >= 1 ? g : 1 / g,
                         g >= 1 ? "faster than" : "slower than", normkit_isa_name(dflt), q25);
            }
        }
        const double gm = n ? exp(lsum / n) : 1.0;
        /* as for a variant: the geometric mean must pass the margin, and three cases in four
         * must favour the rival in three rounds in four */
        const int take = n && gm >= MARGIN && wins * 4 >= n * 3 && gm > chosen_gain;
        progress("normkit-tune: %s against %s over %d cases: %.3fx (geometric mean), %d favour "
                 "%s: %s\n", normkit_isa_name(rivals[r]), normkit_isa_name(dflt), n, gm, wins,
                 normkit_isa_name(rivals[r]),
                 take ? "auto will run it" : "auto keeps its default");
        if (take)
            chosen = rivals[r], chosen_gain = gm;
    }

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "normkit-tuning");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON *m = cJSON_AddObjectToObject(root, "machine");
    cJSON_AddStringToObject(m, "cpu", cpu->model);
    cJSON_AddNumberToObject(m, "l1d_bytes", (double)l1);
    cJSON_AddNumberToObject(m, "l2_bytes", (double)l2);
    char created[32];
    const time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "created", created);
    char tool[48];
    snprintf(tool, sizeof tool, "normkit-tune %d.%d.%d", NORMKIT_VERSION_MAJOR,
             NORMKIT_VERSION_MINOR, NORMKIT_VERSION_PATCH);
    cJSON_AddStringToObject(root, "tool", tool);
    cJSON_AddNumberToObject(root, "budget_s", budget);
    if (chosen != NORMKIT_ISA_AUTO) {
        cJSON_AddStringToObject(root, "isa", normkit_isa_name(chosen));
        cJSON_AddNumberToObject(root, "isa_gain", round(chosen_gain * 1000) / 1000);
    }
    cJSON_AddItemToObject(root, "kernels", st.kernels);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "normkit-tune: error: out of memory\n");
        return 1;
    }
    /* what we write, the library must accept */
    char err[512];
    if (normkit_tuning_check(text, strlen(text), err, sizeof err) != 0) {
        fprintf(stderr, "normkit-tune: error: internal: the tuning file fails its own check: %s\n",
                err);
        free(text);
        return 1;
    }
    if (write_atomic(out, text, err, sizeof err) != 0) {
        fprintf(stderr, "normkit-tune: error: %s\n", err);
        free(text);
        return 1;
    }
    free(text);
    progress("normkit-tune: %d of %d cases changed (geometric mean gain of those %.3fx); %.0f s; "
             "wrote %s\n", st.changed, nspecs, st.changed ? exp(st.gain_log_sum / st.changed) : 1.0,
             now_s() - t0, out);
    return 0;
}
