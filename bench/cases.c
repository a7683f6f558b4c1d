/*
 * The cases of normkit-bench, as data: every operator x every variant the CPU can run x every
 * shape of the profile, plus the ceilings. Nothing here names a kernel: variants come from
 * the registry (normkit_kernel_list), the plain-C rebuilds from the scalar line of each
 * enumerator (kernels/<op>/<op>.inc), the ceilings from bench/ceilings/ceilings.inc.
 *
 * Bytes per call (read + written, each array once; what SetBytesProcessed counts), with
 * R rows, D = dim, 4-byte floats:
 *   rmsnorm        x read, y written, gamma read            4 (2RD + D)
 *   layernorm      x, y, gamma, beta                        4 (2RD + 2D)
 *   add_rmsnorm    x and r read, r and y written, gamma     4 (4RD + D)
 *   add_layernorm  the same plus beta                       4 (4RD + 2D)
 *   gelu, silu     x read, y written                        4 (2RD)
 *   add, mul       x and r read, y written                  4 (3RD)
 * The working set (what picks the cache-level label) counts each array once: r is read and
 * written but is one array, so add+norm touches 4 (3RD + D) or 4 (3RD + 2D) bytes.
 * Peers are charged the same bytes as normkit for the same operator, whatever they do.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

#include "bench_config.h"
#include "bench_blocks.h"
#include "bench_internal.h"
#include "ceilings/ceilings.h"
#include "normkit_config.h"
#include "normkit_kernels.h"
#include "peers/peers.h"
#include "topo.h"

#define NKB_EPS 1e-5f
#define NKB_SEED 0x6e6f726d6b697431ull /* fixed: every run, every case, the same inputs */

/* ---------------------------------------------------------------------------------------- */
/* The plain-C rebuilds: the scalar line of each enumerator, renamed by bench/meson.build
 * (-Dnormkit_<op>_f32__scalar=normkit_<op>_f32__autovec, and __autovec_fastmath). */

/* NKB_WHEN_SCALAR(isa, tokens...) keeps the tokens only when isa is the token `scalar`,
 * whatever other ISA tokens the enumerators grow (a probe, not a list of ISAs). */
#define NKB_SECOND(a, b, ...) b
#define NKB_PROBE(...) NKB_SECOND(__VA_ARGS__, 0, ~)
#define NKB_PROBE_scalar ~, 1
#define NKB_IS_SCALAR(isa) NKB_PROBE(NKB_PROBE_##isa)
#define NKB_CAT_(a, b) a##b
#define NKB_CAT(a, b) NKB_CAT_(a, b)
#define NKB_IF_1(...) __VA_ARGS__
#define NKB_IF_0(...)
#define NKB_WHEN_SCALAR(isa, ...) NKB_CAT(NKB_IF_, NKB_IS_SCALAR(isa))(__VA_ARGS__)

#define NORMKIT_KERNEL(OP, DT, ISA, ...)                                                           \
    NKB_WHEN_SCALAR(ISA, normkit_##OP##_##DT##_ukernel normkit_##OP##_##DT##__autovec,           \
                    normkit_##OP##_##DT##__autovec_fastmath;)
#include "normkit_enumerators.inc"
#undef NORMKIT_KERNEL

typedef struct {
    const char *isa;
    normkit_kernel k;
} nkb_rebuild;

#define NKB_REBUILD(OP, DT, FLAVOR)                                                                \
    {#FLAVOR,                                                                                      \
     {.name = "normkit_" #OP "_" #DT "__" #FLAVOR, .op = normkit_op_##OP, .dtype = #DT,            \
      .fn.OP##_##DT = normkit_##OP##_##DT##__##FLAVOR}},
#define NORMKIT_KERNEL(OP, DT, ISA, ...)                                                           \
    NKB_WHEN_SCALAR(ISA, NKB_REBUILD(OP, DT, autovec) NKB_REBUILD(OP, DT, autovec_fastmath))
static const nkb_rebuild rebuilds[] = {
#include "normkit_enumerators.inc"
};
#undef NORMKIT_KERNEL

/* ---------------------------------------------------------------------------------------- */
/* Ceilings: expanded from bench/ceilings/ceilings.inc. */

#define NKB_STREAM(ISA, ISA_ENUM) extern const nkb_stream_ceiling nkb_stream_f32__##ISA;
#define NKB_FMA(ISA, ISA_ENUM) extern const nkb_fma_ceiling nkb_fma_f32__##ISA;
#include "ceilings/ceilings.inc"
#undef NKB_STREAM
#undef NKB_FMA

typedef struct {
    const char *isa;
    normkit_isa isa_enum;
    const nkb_stream_ceiling *stream;
    const nkb_fma_ceiling *fma;
} nkb_ceiling_isa;

#define NKB_STREAM(ISA, ISA_ENUM) {#ISA, ISA_ENUM, &nkb_stream_f32__##ISA, NULL},
#define NKB_FMA(ISA, ISA_ENUM) {#ISA, ISA_ENUM, NULL, &nkb_fma_f32__##ISA},
static const nkb_ceiling_isa ceiling_tables[] = {
#include "ceilings/ceilings.inc"
};
#undef NKB_STREAM
#undef NKB_FMA

/* The bandwidth kinds: name, arrays touched, and the table member. */
enum { NKB_READ, NKB_COPY, NKB_COPY_NT, NKB_TRIAD, NKB_BW_KINDS };
static const struct {
    const char *name;
    unsigned arrays;
} bw_kinds[NKB_BW_KINDS] = {{"read", 1}, {"copy", 2}, {"copy_nt", 2}, {"triad", 3}};

static nkb_stream_fn *bw_fn(const nkb_stream_ceiling *s, int kind)
{
    switch (kind) {
    case NKB_READ: return s->read;
    case NKB_COPY: return s->copy;
    case NKB_COPY_NT: return s->copy_nt;
    default: return s->triad;
    }
}

#define NKB_FMA_ITERS 16384       /* per call: ~10-50 us, far above the call's cost */
#define NKB_CEIL_MIN_CALL (1u << 20) /* bytes: small working sets are swept several times a call */

/* ---------------------------------------------------------------------------------------- */
/* Variants: what the <isa> field of a kernel case names. */

typedef struct {
    normkit_op op;
    const char *isa; /* the name's isa field */
    normkit_kernel k; /* fn: what is called */
    const normkit_kparams *kp;
    const char *(*error)(void); /* peers: what went wrong in the last call */
} nkb_variant;

/* Linear operators: what the <isa> field names and how it is run. */
typedef enum {
    NKB_LIN_KERNEL,  /* a registry variant (or a plain-C rebuild), row-major W */
    NKB_LIN_PACKED,  /* a registry variant on W packed in its own layout ("<isa>_packed") */
    NKB_LIN_UNFUSED, /* that ISA's norm variant, then its linear variant ("<isa>_unfused") */
    NKB_LIN_PEER,    /* normkit's best norm variant, then a peer's matmul */
    NKB_LIN_2T       /* the registry variant, n split across this core and the next one */
} nkb_lin_kind;

typedef struct {
    normkit_op op;
    char isa[32];
    nkb_lin_kind kind;
    const normkit_kernel *k;    /* KERNEL, PACKED: the variant; UNFUSED: the linear variant */
    const normkit_kernel *norm; /* UNFUSED, PEER: the norm variant (NULL: op has no norm) */
    const nkb_linear_peer *peer;
    double max_flops;           /* slow variants skip shapes above this (0: none) */
} nkb_lvariant;

typedef struct {
    nkb_case c;
    size_t dim, rows;      /* kernel cases */
    const nkb_variant *v;  /* kernel cases */
    size_t ncols;          /* linear cases: columns of y */
    const nkb_lvariant *lv;
    normkit_kparams kp;    /* linear cases: the knobs, resolved */
    const nkb_stream_ceiling *stream; /* bandwidth */
    int bw_kind;
    size_t n, reps;        /* bandwidth: floats per array, passes per call */
    const nkb_fma_ceiling *fma;
} nkb_entry;

static nkb_variant *variants;
static size_t nvariants;
static nkb_lvariant *lvariants;
static size_t nlvariants;
static nkb_linear_peer lpeers[3];
static size_t nlpeers;
static char lpeer_info[2048];
static const char *lin_error; /* what the last linear case's peer call reported */
static int two_cores;         /* the machine has a second core for the _2t cases */
static int second_core;       /* which one */
static void w2_stop(void);
static nkb_entry *entries;
static size_t nentries, entries_cap;
static char skipped[1024];   /* variants not benchmarked, and why */
static char shapes_used[NORMKIT_OP_COUNT][1024];
static char ceiling_ws[256];
static char ceiling_map[512];

static const char *const level_names[NKB_LEVELS] = {"L1", "L2", "L3", "DRAM"};

const char *nkb_level_name(int level)
{
    return level >= 0 && level < NKB_LEVELS ? level_names[level] : "?";
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void nkb_appendf(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (used < len)
        vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

static int add_variant(normkit_op op, const char *isa, const normkit_kernel *k,
                       const normkit_kparams *kp, const char *(*error)(void))
{
    nkb_variant *nv = realloc(variants, (nvariants + 1) * sizeof *nv);
    if (!nv)
        return -1;
    variants = nv;
    variants[nvariants++] = (nkb_variant){op, isa, *k, kp, error};
    return 0;
}

static int collect_variants(const nkb_machine *m)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    for (size_t i = 0; i < nk; i++) {
        if (!normkit_isa_supported(ks[i].isa)) {
            nkb_appendf(skipped, sizeof skipped, "%s (ISA not supported here); ", ks[i].name);
            continue;
        }
        if (add_variant(ks[i].op, normkit_isa_name(ks[i].isa), &ks[i], &ks[i].params, NULL) != 0)
            return -1;
    }
    for (size_t i = 0; i < sizeof rebuilds / sizeof rebuilds[0]; i++)
        if (add_variant(rebuilds[i].k.op, rebuilds[i].isa, &rebuilds[i].k, NULL, NULL) != 0)
            return -1;
#if NKB_HAVE_EIGEN
    /* The operators Eigen has a peer for (bench/peers/eigen.cc); others have none. */
    static const normkit_kernel eigen[] = {
        {.op = normkit_op_rmsnorm, .dtype = "f32", .fn.rmsnorm_f32 = nkb_eigen_rmsnorm_f32},
        {.op = normkit_op_layernorm, .dtype = "f32", .fn.layernorm_f32 = nkb_eigen_layernorm_f32},
        {.op = normkit_op_add_rmsnorm, .dtype = "f32",
         .fn.add_rmsnorm_f32 = nkb_eigen_add_rmsnorm_f32},
        {.op = normkit_op_add_layernorm, .dtype = "f32",
         .fn.add_layernorm_f32 = nkb_eigen_add_layernorm_f32},
    };
    for (size_t i = 0; m->have_eigen && i < sizeof eigen / sizeof eigen[0]; i++)
        if (add_variant(eigen[i].op, "eigen", &eigen[i], NULL, NULL) != 0)
            return -1;
#endif
#if NKB_HAVE_ONEDNN
    static const normkit_kernel onednn = {.op = normkit_op_layernorm, .dtype = "f32",
                                          .fn.layernorm_f32 = nkb_onednn_layernorm_f32};
    if (m->have_onednn &&
        add_variant(normkit_op_layernorm, "onednn", &onednn, NULL, nkb_onednn_error) != 0)
        return -1;
#endif
    (void)m;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Shapes and levels. */

typedef struct {
    size_t dim, rows;
} nkb_shape;

/* Hidden sizes of real models — 768 (BERT-base, GPT-2), 2048, 4096 (Llama-2-7B), 8192
 * (Llama-2-70B) — times rows from decode (1) to prefill (4096); plus the grid the SIMD
 * kernels are judged on (dim 768, 4096, 8192 x rows 1, 64, 4096, 16384; 16384 x 8192 floats
 * is 512 MiB a matrix: DRAM on any machine of today). */
static const size_t model_dims[] = {768, 2048, 4096, 8192};
static const size_t model_rows[] = {1, 16, 128, 512, 4096};
static const size_t grid_dims[] = {768, 4096, 8192};
static const size_t grid_rows[] = {1, 64, 4096, 16384};

#define NKB_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Every canonical shape fits: the model grid plus the judging grid, before duplicates go. */
enum { NKB_MAX_CANONICAL = NKB_LEN(model_dims) * NKB_LEN(model_rows) +
                           NKB_LEN(grid_dims) * NKB_LEN(grid_rows) };
/* ... and a profile's shapes are the canonical ones plus at most one made up per level. */
enum { NKB_MAX_SHAPES = NKB_MAX_CANONICAL + NKB_LEVELS };

static size_t canonical(nkb_shape out[NKB_MAX_CANONICAL])
{
    size_t n = 0;
    for (size_t d = 0; d < NKB_LEN(model_dims); d++)
        for (size_t r = 0; r < NKB_LEN(model_rows); r++)
            out[n++] = (nkb_shape){model_dims[d], model_rows[r]};
    for (size_t d = 0; d < NKB_LEN(grid_dims); d++)
        for (size_t r = 0; r < NKB_LEN(grid_rows); r++) {
            int dup = 0;
            for (size_t i = 0; i < n; i++)
                dup |= out[i].dim == grid_dims[d] && out[i].rows == grid_rows[r];
            if (!dup)
                out[n++] = (nkb_shape){grid_dims[d], grid_rows[r]};
        }
    return n;
}

/* Matrices and vectors of an operator, from its line of the operator table: matrices read +
 * written (what the bytes count) and distinct (the working set: r is read and written but is
 * one array, so a residual operator counts it once). */
static void op_arrays(normkit_op op, unsigned *mat_rw, unsigned *mat_ws, unsigned *vecs)
{
    const normkit_op_info *info = normkit_op_get(op);
    *mat_rw = info->mats_read + info->mats_written;
    *mat_ws = info->mats_read + info->mats_written - (info->residual ? 1u : 0u);
    *vecs = info->vecs;
}

static double kernel_ws(normkit_op op, nkb_shape s)
{
    unsigned rw, ws, vecs;
    op_arrays(op, &rw, &ws, &vecs);
    return 4.0 * ((double)ws * (double)s.rows * (double)s.dim + (double)vecs * (double)s.dim);
}

/* The smallest level whose capacity holds the working set (a cache hwloc does not report is
 * skipped); DRAM past the last. */
static int level_of(const nkb_machine *m, double ws)
{
    for (int l = NKB_L1; l < NKB_DRAM; l++)
        if (m->cap[l] && ws <= (double)m->cap[l])
            return l;
    return NKB_DRAM;
}

/* Where a level's representative working set sits: the geometric middle of the level (a
 * third of L1), clear of both edges; DRAM at 4x the last cache and at least 256 MiB. */
static double level_target(const nkb_machine *m, int level)
{
    double lo = 0, hi = 0;
    for (int l = NKB_L1; l < NKB_DRAM; l++) {
        if (!m->cap[l])
            continue;
        if (l == level) {
            hi = (double)m->cap[l];
            break;
        }
        lo = (double)m->cap[l];
    }
    if (level == NKB_DRAM) {
        double t = 4 * lo;
        return t > 256.0 * 1024 * 1024 ? t : 256.0 * 1024 * 1024;
    }
    if (hi == 0)
        return 0; /* no such cache here */
    return lo > 0 ? sqrt(lo * hi) : hi / 3;
}

static int add_entry(const nkb_entry *e)
{
    if (nentries == entries_cap) {
        size_t cap = entries_cap ? 2 * entries_cap : 256;
        nkb_entry *ne = realloc(entries, cap * sizeof *ne);
        if (!ne)
            return -1;
        entries = ne, entries_cap = cap;
    }
    entries[nentries] = *e;
    entries[nentries].c.index = (int)nentries;
    nentries++;
    return 0;
}

/* The shapes of `op` in this profile: quick takes, per level, the canonical shape nearest
 * (in log scale) to the level's target; full takes them all. Either way a level no canonical
 * shape reaches on this machine gets a made-up shape (dim 4096, rows to the target). */
static size_t shapes_for(normkit_op op, const nkb_options *o, const nkb_machine *m,
                         nkb_shape out[NKB_MAX_SHAPES])
{
    nkb_shape all[NKB_MAX_CANONICAL];
    const size_t nall = canonical(all);
    size_t n = 0;
    if (o->profile == NKB_PROFILE_FULL) {
        memcpy(out, all, nall * sizeof *all);
        n = nall;
    }
    for (int l = NKB_L1; l < NKB_LEVELS; l++) {
        const double target = level_target(m, l);
        if (target == 0)
            continue;
        int have = 0;
        for (size_t i = 0; i < n; i++)
            have |= level_of(m, kernel_ws(op, out[i])) == l;
        if (have)
            continue;
        int best = -1;
        double best_d = 0;
        for (size_t i = 0; i < nall; i++) {
            if (level_of(m, kernel_ws(op, all[i])) != l)
                continue;
            double d = fabs(log(kernel_ws(op, all[i]) / target));
            if (best < 0 || d < best_d)
                best = (int)i, best_d = d;
        }
        nkb_shape s;
        if (best >= 0) {
            s = all[best];
        } else {
            s.dim = 4096;
            const double per_row =
                kernel_ws(op, (nkb_shape){4096, 1}) - kernel_ws(op, (nkb_shape){4096, 0});
            s.rows = (size_t)(target / per_row);
            if (s.rows < 1)
                s.rows = 1;
            if (level_of(m, kernel_ws(op, s)) != l)
                continue; /* the level is narrower than a row: nothing can land in it */
        }
        out[n++] = s;
    }
    /* in order of working set */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && kernel_ws(op, out[j - 1]) > kernel_ws(op, out[j]); j--) {
            nkb_shape t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* One bandwidth ceiling of `kind` for ISA table entry ci, over about `target` bytes. */
static int add_bw_ceiling(const nkb_machine *m, const nkb_ceiling_isa *ci, int kind, double target)
{
    const unsigned arrays = bw_kinds[kind].arrays;
    const double unit = (double)arrays * NKB_CEIL_BLOCK * sizeof(float);
    double blocks = floor(target / unit);
    nkb_entry e = {0};
    e.n = (size_t)(blocks < 1 ? 1 : blocks) * NKB_CEIL_BLOCK;
    e.c.kind = NKB_CASE_BANDWIDTH;
    e.c.ws_bytes = (double)arrays * (double)e.n * sizeof(float);
    e.reps = e.c.ws_bytes >= NKB_CEIL_MIN_CALL ? 1 : (size_t)(NKB_CEIL_MIN_CALL / e.c.ws_bytes);
    e.c.bytes = e.c.ws_bytes * (double)e.reps;
    e.c.label = level_names[level_of(m, e.c.ws_bytes)];
    e.stream = ci->stream;
    e.bw_kind = kind;
    snprintf(e.c.name, sizeof e.c.name, "ceiling_%s/f32/%s/bytes:%.0f", bw_kinds[kind].name,
             ci->isa, e.c.ws_bytes);
    for (size_t i = 0; i < nentries; i++) /* one per name */
        if (strcmp(entries[i].c.name, e.c.name) == 0)
            return 0;
    return add_entry(&e);
}

static int build_ceilings(const nkb_machine *m)
{
    for (int l = NKB_L1; l < NKB_LEVELS; l++) {
        const double target = level_target(m, l);
        if (target == 0)
            continue;
        nkb_appendf(ceiling_ws, sizeof ceiling_ws, "%s%s=%.0f", ceiling_ws[0] ? " " : "",
                level_names[l], target);
        for (int kind = 0; kind < NKB_BW_KINDS; kind++)
            for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
                const nkb_ceiling_isa *ci = &ceiling_tables[t];
                if (!ci->stream || !bw_fn(ci->stream, kind) || !(m->cpu_isas >> ci->isa_enum & 1u))
                    continue;
                /* a streaming store bypasses the caches: only DRAM has a copy_nt ceiling */
                if (kind == NKB_COPY_NT && l != NKB_DRAM)
                    continue;
                if (add_bw_ceiling(m, ci, kind, target) != 0)
                    return -1;
            }
    }
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
        const nkb_ceiling_isa *ci = &ceiling_tables[t];
        if (!ci->fma || !(m->cpu_isas >> ci->isa_enum & 1u))
            continue;
        nkb_entry e = {0};
        e.c.kind = NKB_CASE_FMA;
        e.c.label = "REG";
        e.c.flops = 2.0 * ci->fma->lanes * ci->fma->accs * (double)NKB_FMA_ITERS;
        e.fma = ci->fma;
        snprintf(e.c.name, sizeof e.c.name, "ceiling_fma/f32/%s/acc:%u", ci->isa, ci->fma->accs);
        if (add_entry(&e) != 0)
            return -1;
    }
    return 0;
}

/* The ceiling ISA each isa field is held against: an ISA is its own; everything built for
 * the native machine (autovec*, eigen) and oneDNN (which picks its own code at run time)
 * against the best ISA this CPU runs that has ceilings. */
static void build_ceiling_map(const nkb_machine *m)
{
    const char *best = NULL;
    normkit_isa best_enum = NORMKIT_ISA_AUTO;
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
        const nkb_ceiling_isa *ci = &ceiling_tables[t];
        if (ci->stream && (m->cpu_isas >> ci->isa_enum & 1u) && ci->isa_enum > best_enum)
            best = ci->isa, best_enum = ci->isa_enum;
    }
    ceiling_map[0] = '\0';
    for (size_t i = 0; i < nvariants; i++) {
        const char *isa = variants[i].isa, *to = isa;
        int seen = 0, own = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(variants[j].isa, isa) == 0;
        if (seen)
            continue;
        for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++)
            own |= strcmp(ceiling_tables[t].isa, isa) == 0;
        if (!own)
            to = best ? best : "none";
        nkb_appendf(ceiling_map, sizeof ceiling_map, "%s%s=%s", ceiling_map[0] ? " " : "", isa, to);
    }
}

static int build_linear_cases(const nkb_options *o, const nkb_machine *m);

int nkb_cases_build(const nkb_options *o, const nkb_machine *m, char *err, size_t errlen)
{
    if (collect_variants(m) != 0 || build_ceilings(m) != 0)
        goto oom;
    build_ceiling_map(m);
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        if (normkit_op_get((normkit_op)op)->linear)
            continue; /* build_linear_cases */
        nkb_shape shapes[NKB_MAX_SHAPES];
        size_t ns = shapes_for((normkit_op)op, o, m, shapes);
        unsigned rw, ws, vecs;
        op_arrays((normkit_op)op, &rw, &ws, &vecs);
        for (size_t s = 0; s < ns; s++) {
            nkb_appendf(shapes_used[op], sizeof shapes_used[op], "%sdim:%zu/rows:%zu=%s",
                    shapes_used[op][0] ? " " : "", shapes[s].dim, shapes[s].rows,
                    level_names[level_of(m, kernel_ws((normkit_op)op, shapes[s]))]);
            for (size_t i = 0; i < nvariants; i++) {
                const nkb_variant *v = &variants[i];
                if (v->op != (normkit_op)op)
                    continue;
                nkb_entry e = {0};
                e.c.kind = NKB_CASE_KERNEL;
                e.dim = shapes[s].dim, e.rows = shapes[s].rows, e.v = v;
                e.c.ws_bytes = kernel_ws((normkit_op)op, shapes[s]);
                e.c.bytes =
                    4.0 * ((double)rw * (double)e.rows * (double)e.dim + (double)vecs * (double)e.dim);
                e.c.rows = (double)e.rows;
                e.c.label = level_names[level_of(m, e.c.ws_bytes)];
                snprintf(e.c.name, sizeof e.c.name, "%s/%s/%s/dim:%zu/rows:%zu",
                         normkit_op_name((normkit_op)op), v->k.dtype ? v->k.dtype : "f32", v->isa,
                         e.dim, e.rows);
                if (add_entry(&e) != 0)
                    goto oom;
            }
        }
    }
    if (build_linear_cases(o, m) != 0 || nkb_blocks_build(o, m->cap) != 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory building the case list");
    return -1;
}

/* This file's cases, then the block cases (bench/blocks.c). */
size_t nkb_case_count(void)
{
    return nentries + nkb_blocks_count();
}

const nkb_case *nkb_case_get(size_t i)
{
    return i < nentries ? &entries[i].c : nkb_blocks_get(i - nentries);
}

void nkb_cases_context(void (*add)(const char *key, const char *value))
{
    char key[64];
    add("linear_peers", lpeer_info[0] ? lpeer_info : "none built");
    /* written before any case runs: what the _2t cases will do (a failed binding warns) */
    char t2[256];
    snprintf(t2, sizeof t2,
             "the _2t cases run a second thread bound with hwloc to core %d (a failed binding "
             "prints a warning), each thread computing half of the columns; rates per second "
             "of wall time",
             second_core);
    add("linear_2t", two_cores ? t2 : "fewer than 2 cores: no _2t cases");
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        if (normkit_op_get((normkit_op)op)->linear)
            continue;
        snprintf(key, sizeof key, "shapes_%s", normkit_op_name((normkit_op)op));
        add(key, shapes_used[op]);
    }
    add("ceiling_targets_bytes", ceiling_ws);
    add("ceiling_isa_map", ceiling_map);
    add("variants_skipped", skipped[0] ? skipped : "none");
    nkb_blocks_context(add);
}

/* ---------------------------------------------------------------------------------------- */
/* Buffers: one set alive at a time, kept while consecutive cases share a shape (the variants
 * of one operator and shape, the ISAs of one ceiling), refilled from the fixed seed where a
 * case writes what the next one reads. */

enum { NKB_MAX_ARRAYS = 9 };
static struct {
    char key[64];
    float *a[NKB_MAX_ARRAYS];
    size_t bytes[NKB_MAX_ARRAYS];
} pool;

static void pool_free(void)
{
    for (int i = 0; i < NKB_MAX_ARRAYS; i++) {
        free(pool.a[i]);
        pool.a[i] = NULL;
        pool.bytes[i] = 0;
    }
    pool.key[0] = '\0';
}

/* 64-byte aligned; large arrays 2 MiB aligned and offered transparent huge pages, as an engine
 * allocating activations would get them. Zero-filled (every page touched before timing). */
static float *pool_alloc(int slot, size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    const size_t huge = (size_t)2 << 20;
    size_t align = bytes >= huge ? huge : NKB_CEIL_ALIGN;
    bytes = (bytes + align - 1) / align * align;
    float *p = aligned_alloc(align, bytes);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (align == huge)
        madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    pool.a[slot] = p;
    pool.bytes[slot] = bytes;
    return p;
}

uint64_t nkb_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, lo + width) on a grid of width * 2^-24: with the widths below every value
 * is a multiple of 2^-34, so sums of them never become subnormal (see fill_kernel). */
static void fill(float *p, size_t n, unsigned stream, float lo, float width)
{
    uint64_t s = NKB_SEED ^ ((uint64_t)stream << 56);
    for (size_t i = 0; i < n; i++)
        p[i] = lo + width * (float)(nkb_splitmix(&s) >> 40) * 0x1p-24f;
}

enum { NKB_X, NKB_Y, NKB_R, NKB_GAMMA, NKB_BETA };

/*
 * Inputs: x in [-1, 1) (add+norm: [-2^-10, 2^-10)), gamma in [0.5, 1.5), beta in [-0.5, 0.5);
 * r (elementwise add, mul: an input) in [-1, 1).
 * add+norm overwrites r with x + r on every call, so the timed loop keeps adding x to r:
 * after N calls r = r0 + N x (with roundings). That stays tame, whatever N:
 *  - x is small, |x| <= 2^-10, and r0 in [-1, 1). Once |r| reaches 2^14-2^15 an ulp of r is
 *    2^-9 or more, so x is at most half an ulp and r + x rounds back to r: |r| < 2^15 forever
 *    (20 million calls of dim 768 end at max |r| = 16384, all y finite: checked);
 *  - every x is a multiple of 2^-34 and every r0 of 2^-24, so every r is a multiple of 2^-34:
 *    never subnormal;
 *  - so the sum of squares stays far below FLT_MAX and far above the kernels' 2^-100 rare-path
 *    threshold: every call takes the fast path and does the same work as the first.
 * r is refilled from the seed each time Google Benchmark starts the case (also between the
 * trial runs in which it sizes the iteration count), so every run starts from the same r.
 */
static int setup_kernel(const nkb_entry *e, char *err, size_t errlen)
{
    const size_t n = e->rows * e->dim;
    const normkit_op op = e->v->op;
    const int add = normkit_op_get(op)->residual;
    /* elementwise add and mul read r as a second input (never written): filled once */
    const int r_in = normkit_op_get(op)->elementwise && normkit_op_get(op)->mats_read > 1;
    char key[64];
    snprintf(key, sizeof key, "k%d:%zu:%zu", (int)op, e->rows, e->dim);
    if (strcmp(key, pool.key) != 0) {
        pool_free();
        if (!pool_alloc(NKB_X, n) || !pool_alloc(NKB_Y, n) || !pool_alloc(NKB_GAMMA, e->dim) ||
            !pool_alloc(NKB_BETA, e->dim) || ((add || r_in) && !pool_alloc(NKB_R, n))) {
            pool_free();
            snprintf(err, errlen, "out of memory allocating %.0f bytes", e->c.ws_bytes);
            return -1;
        }
        fill(pool.a[NKB_X], n, NKB_X, add ? -0x1p-10f : -1.0f, add ? 0x1p-9f : 2.0f);
        fill(pool.a[NKB_GAMMA], e->dim, NKB_GAMMA, 0.5f, 1.0f);
        fill(pool.a[NKB_BETA], e->dim, NKB_BETA, -0.5f, 1.0f);
        if (r_in)
            fill(pool.a[NKB_R], n, NKB_R, -1.0f, 2.0f);
        snprintf(pool.key, sizeof pool.key, "%s", key);
    }
    if (add)
        fill(pool.a[NKB_R], n, NKB_R, -1.0f, 2.0f);
    return 0;
}

static float run_kernel(const nkb_entry *e)
{
    const nkb_variant *v = e->v;
    const size_t R = e->rows, D = e->dim;
    float *y = pool.a[NKB_Y];
    const normkit_args a = {.rows = R, .dim = D, .x = pool.a[NKB_X], .ldx = D,
                            .r = pool.a[NKB_R], .ldr = D, .gamma = pool.a[NKB_GAMMA],
                            .beta = pool.a[NKB_BETA], .eps = NKB_EPS, .y = y, .ldy = D,
                            .kp = v->kp};
    normkit_kernel_call(&v->k, &a);
    return y[R * D - 1];
}

static int setup_ceiling(const nkb_entry *e, char *err, size_t errlen)
{
    const unsigned arrays = e->c.kind == NKB_CASE_BANDWIDTH ? bw_kinds[e->bw_kind].arrays : 0;
    char key[64];
    snprintf(key, sizeof key, "c%u:%zu", arrays, e->n);
    if (arrays == 0 || strcmp(key, pool.key) == 0)
        return 0;
    pool_free();
    /* a: written by copy and triad; b: read by all; c: read by triad */
    if (!pool_alloc(0, arrays >= 2 ? e->n : 1) || !pool_alloc(1, e->n) ||
        !pool_alloc(2, arrays >= 3 ? e->n : 1)) {
        pool_free();
        snprintf(err, errlen, "out of memory allocating %.0f bytes", e->c.ws_bytes);
        return -1;
    }
    fill(pool.a[1], e->n, 1, 0.5f, 0.5f);
    fill(pool.a[2], arrays >= 3 ? e->n : 1, 2, 0.5f, 0.5f);
    snprintf(pool.key, sizeof pool.key, "%s", key);
    return 0;
}

static float run_linear(const nkb_entry *e);
static int setup_linear(const nkb_entry *e, char *err, size_t errlen);

float nkb_case_run(const nkb_case *c)
{
    if (c->kind == NKB_CASE_BLOCK)
        return nkb_blocks_run(c);
    const nkb_entry *e = &entries[c->index];
    switch (c->kind) {
    case NKB_CASE_KERNEL: return e->lv ? run_linear(e) : run_kernel(e);
    case NKB_CASE_BANDWIDTH:
        return bw_fn(e->stream, e->bw_kind)(e->n, e->reps, pool.a[0], pool.a[1], pool.a[2]);
    case NKB_CASE_FMA: return e->fma->run(NKB_FMA_ITERS);
    case NKB_CASE_BLOCK: break;
    }
    return 0;
}

int nkb_case_setup(const nkb_case *c, char *err, size_t errlen)
{
    if (c->kind == NKB_CASE_BLOCK) {
        pool_free(); /* the kernel cases' buffers: the blocks keep their own */
        return nkb_blocks_setup(c, err, errlen);
    }
    const nkb_entry *e = &entries[c->index];
    if (c->kind == NKB_CASE_KERNEL && e->lv) {
        if (setup_linear(e, err, errlen) != 0)
            return -1;
    } else if (c->kind == NKB_CASE_KERNEL) {
        if (setup_kernel(e, err, errlen) != 0)
            return -1;
    } else if (setup_ceiling(e, err, errlen) != 0) {
        return -1;
    }
    lin_error = NULL;
    (void)nkb_case_run(c); /* untimed: warms the level of the label, builds peer primitives */
    const char *why = e->lv                                      ? lin_error
                      : c->kind == NKB_CASE_KERNEL && e->v->error ? e->v->error()
                                                                  : NULL;
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

void nkb_cases_free(void)
{
    w2_stop();
    pool_free();
    nkb_blocks_free();
    for (size_t i = 0; i < nlpeers; i++)
        if (lpeers[i].fini) /* none under --list */
            lpeers[i].fini();
    nlpeers = 0;
    free(entries);
    free(variants);
    free(lvariants);
    entries = NULL, variants = NULL, lvariants = NULL;
    nentries = entries_cap = nvariants = nlvariants = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Linear operators (linear, rmsnorm_linear, layernorm_linear): y = Norm(x) . W^T + bias.
 * Names: <op>/f32/<variant>/dim:<D>/n:<N>/rows:<R>, variant one of
 *   <isa>            the registry variant, W row-major (as torch.nn.Linear.weight)
 *   <isa>_packed     the same variant on W packed once (untimed) in its own layout
 *   <isa>_unfused    that ISA's norm variant writes Norm(x), then its linear variant reads it
 *   autovec, autovec_fastmath   the scalar C rebuilt for this machine (small shapes only)
 *   onednn, openblas, xnnpack   normkit's best norm variant, then the peer's matmul (weights
 *                    reordered/packed once, untimed, where the peer can)
 *   <isa>_2t         the registry variant on two threads, each bound (hwloc) to its own core,
 *                    each computing half of the columns: the split an engine does itself
 *                    (output columns are independent); only on machines with 2+ cores
 * flops = 2 rows n dim (the norm's few flops per element are not counted); bytes = W, x and y
 * once (4 (n dim + rows dim + rows n)): for decode-sized rows, W's streaming bandwidth. */

static const size_t lin_shapes[][2] = {{4096, 4096}, {4096, 11008}, {768, 3072}}; /* dim, n */
static const size_t lin_rows[] = {1, 8, 32, 128, 512};

static int add_lvariant(const nkb_lvariant *v)
{
    nkb_lvariant *nv = realloc(lvariants, (nlvariants + 1) * sizeof *nv);
    if (!nv)
        return -1;
    lvariants = nv;
    lvariants[nlvariants++] = *v;
    return 0;
}

/* The plain norm operator (no residual, no matmul) with the same statistics as op: the norm a
 * peer's matmul runs after, and an unfused variant's first call. From the operator table. */
static normkit_op norm_op_of(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    for (int o = 0; o < NORMKIT_OP_COUNT; o++) {
        const normkit_op_info *c = normkit_op_get((normkit_op)o);
        if (c->norm == info->norm && !c->residual && !c->linear)
            return (normkit_op)o;
    }
    return NORMKIT_OP_COUNT; /* no such operator: the table has no plain norm of that kind */
}

static int collect_linear_variants(const nkb_options *o)
{
    /* the peers, started once (not for --list, which starts nothing) */
    typedef int peer_init(nkb_linear_peer *, char *, size_t);
    struct {
        const char *name;
        peer_init *init;
    } inits[] = {
#if NKB_HAVE_ONEDNN
        {"onednn", nkb_onednn_linear_init},
#endif
#if NKB_HAVE_OPENBLAS
        {"openblas", nkb_openblas_linear_init},
#endif
#if NKB_HAVE_XNNPACK
        {"xnnpack", nkb_xnnpack_linear_init},
#endif
        {NULL, NULL}};
    for (size_t i = 0; inits[i].name; i++) {
        char info[512] = "";
        if (o->list) {
            lpeers[nlpeers++] = (nkb_linear_peer){.name = inits[i].name};
            nkb_appendf(lpeer_info, sizeof lpeer_info, "%s%s: built (not started: --list)",
                    lpeer_info[0] ? "; " : "", inits[i].name);
        } else if (inits[i].init(&lpeers[nlpeers], info, sizeof info) == 0) {
            nlpeers++;
            nkb_appendf(lpeer_info, sizeof lpeer_info, "%s%s: %s", lpeer_info[0] ? "; " : "",
                    inits[i].name, info);
        } else {
            nkb_appendf(lpeer_info, sizeof lpeer_info, "%s%s: disabled (%s)",
                    lpeer_info[0] ? "; " : "", inits[i].name, info);
            fprintf(stderr, "normkit-bench: warning: linear peer %s disabled: %s\n",
                    inits[i].name, info);
        }
    }
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    for (int o_ = 0; o_ < NORMKIT_OP_COUNT; o_++) {
        const normkit_op op = (normkit_op)o_;
        const normkit_op_info *info = normkit_op_get(op);
        if (!info->linear)
            continue;
        const int has_norm = info->norm != NORMKIT_NORM_NONE;
        for (size_t i = 0; i < nk; i++) {
            const normkit_kernel *k = &ks[i];
            if (k->op != op || !normkit_isa_supported(k->isa))
                continue;
            /* the scalar baseline is ~1 GFLOP/s: decode-sized calls only */
            const double cap = k->isa == NORMKIT_ISA_SCALAR ? 3e8 : 0;
            nkb_lvariant v = {.op = op, .kind = NKB_LIN_KERNEL, .k = k, .max_flops = cap};
            snprintf(v.isa, sizeof v.isa, "%s", normkit_isa_name(k->isa));
            if (add_lvariant(&v) != 0)
                return -1;
            v.kind = NKB_LIN_PACKED; /* (scalar's packed layout is W itself) */
            snprintf(v.isa, sizeof v.isa, "%s_packed", normkit_isa_name(k->isa));
            if (k->isa != NORMKIT_ISA_SCALAR && add_lvariant(&v) != 0)
                return -1;
            if (two_cores && k->isa != NORMKIT_ISA_SCALAR) {
                v.kind = NKB_LIN_2T;
                snprintf(v.isa, sizeof v.isa, "%s_2t", normkit_isa_name(k->isa));
                if (add_lvariant(&v) != 0)
                    return -1;
                v.kind = NKB_LIN_KERNEL;
            }
            if (has_norm) {
                v.kind = NKB_LIN_UNFUSED;
                v.k = normkit_kernels_for(k->isa, normkit_op_linear);
                v.norm = normkit_kernels_for(k->isa, norm_op_of(op));
                snprintf(v.isa, sizeof v.isa, "%s_unfused", normkit_isa_name(k->isa));
                if (v.k && v.norm && add_lvariant(&v) != 0)
                    return -1;
            }
        }
        for (size_t i = 0; i < sizeof rebuilds / sizeof rebuilds[0]; i++) {
            if (rebuilds[i].k.op != op)
                continue;
            /* without -ffast-math the sums stay scalar */
            const int fast = strcmp(rebuilds[i].isa, "autovec_fastmath") == 0;
            nkb_lvariant v = {.op = op, .kind = NKB_LIN_KERNEL, .k = &rebuilds[i].k,
                              .max_flops = fast ? 3e9 : 3e8};
            snprintf(v.isa, sizeof v.isa, "%s", rebuilds[i].isa);
            if (add_lvariant(&v) != 0)
                return -1;
        }
        for (size_t p = 0; p < nlpeers; p++) {
            /* normkit's norm as a user gets it: the dispatcher's choice */
            nkb_lvariant v = {.op = op, .kind = NKB_LIN_PEER, .peer = &lpeers[p],
                              .norm = has_norm ? normkit_kernel_active(norm_op_of(op)) : NULL};
            snprintf(v.isa, sizeof v.isa, "%s", lpeers[p].name);
            if (add_lvariant(&v) != 0)
                return -1;
        }
    }
    return 0;
}

static int build_linear_cases(const nkb_options *o, const nkb_machine *m)
{
    nk_topo topo;
    char terr[160];
    if (nk_topo_read(&topo, terr, sizeof terr) == 0 && topo.cores >= 2) {
        two_cores = 1;
        second_core = (o->pin_core + 1) % topo.cores;
    }
    if (collect_linear_variants(o) != 0)
        return -1;
    for (size_t s = 0; s < sizeof lin_shapes / sizeof lin_shapes[0]; s++)
        for (size_t r = 0; r < sizeof lin_rows / sizeof lin_rows[0]; r++) {
            const size_t dim = lin_shapes[s][0], n = lin_shapes[s][1], rows = lin_rows[r];
            /* quick: RMSNorm + the Llama-7B projection (4096 x 4096) at decode, mid and prefill
             * rows */
            const int quick = s == 0 && (rows == 1 || rows == 32 || rows == 128);
            const double flops = 2.0 * (double)rows * (double)n * (double)dim;
            /* the read ceiling of W's own size, per ISA: what decode-sized calls stream */
            for (size_t t = 0; rows == 1 && (o->profile == NKB_PROFILE_FULL || quick) &&
                               t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
                const nkb_ceiling_isa *ci = &ceiling_tables[t];
                if (ci->stream && ci->stream->read && (m->cpu_isas >> ci->isa_enum & 1u) &&
                    add_bw_ceiling(m, ci, NKB_READ, 4.0 * (double)n * (double)dim) != 0)
                    return -1;
            }
            for (size_t i = 0; i < nlvariants; i++) {
                const nkb_lvariant *v = &lvariants[i];
                if ((v->max_flops && flops > v->max_flops) ||
                    (o->profile == NKB_PROFILE_QUICK && (!quick || v->op != normkit_op_rmsnorm_linear)))
                    continue;
                nkb_entry e = {0};
                e.c.kind = NKB_CASE_KERNEL;
                e.dim = dim, e.rows = rows, e.ncols = n, e.lv = v;
                e.c.ws_bytes = 4.0 * ((double)n * dim + (double)rows * dim + (double)rows * n);
                e.c.bytes = e.c.ws_bytes;
                e.c.rows = (double)rows;
                e.c.flops = flops;
                e.c.real_time = v->kind == NKB_LIN_2T;
                e.c.label = level_names[level_of(m, e.c.ws_bytes)];
                snprintf(e.c.name, sizeof e.c.name, "%s/f32/%s/dim:%zu/n:%zu/rows:%zu",
                         normkit_op_name(v->op), v->isa, dim, n, rows);
                if (v->k) {
                    normkit_kparams kp = v->k->params;
                    normkit_linear_resolve_knobs(&kp, rows, dim, &e.kp);
                }
                if (add_entry(&e) != 0)
                    return -1;
            }
        }
    return 0;
}

enum { NKB_LX, NKB_LW, NKB_LY, NKB_LU, NKB_LG, NKB_LB, NKB_LBIAS, NKB_LP, NKB_LWS };

/* The second thread of the _2t cases: started on first use, bound to second_core, runs one
 * call at a time on its half of the columns (its own workspace). */
static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, pending;
    const normkit_kernel *k;
    normkit_args a;
    float *ws;
    size_t ws_floats;
} w2 = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *w2_main(void *arg)
{
    (void)arg;
    int pu = -1;
    char err[160] = "";
    if (nk_topo_pin_thread(second_core, &pu, err, sizeof err) != 0)
        fprintf(stderr, "normkit-bench: warning: the _2t cases' second thread is unpinned (%s)\n",
                err);
    pthread_mutex_lock(&w2.mu);
    for (;;) {
        while (!w2.pending && !w2.stop)
            pthread_cond_wait(&w2.cv, &w2.mu);
        if (w2.stop)
            break;
        pthread_mutex_unlock(&w2.mu);
        normkit_kernel_call(w2.k, &w2.a);
        pthread_mutex_lock(&w2.mu);
        w2.pending = 0;
        pthread_cond_broadcast(&w2.cv);
    }
    pthread_mutex_unlock(&w2.mu);
    return NULL;
}

static int w2_start(void)
{
    if (w2.started)
        return 0;
    if (pthread_create(&w2.thread, NULL, w2_main, NULL) != 0)
        return -1;
    w2.started = 1;
    return 0;
}

static void w2_stop(void)
{
    if (!w2.started)
        return;
    pthread_mutex_lock(&w2.mu);
    w2.stop = 1;
    pthread_cond_broadcast(&w2.cv);
    pthread_mutex_unlock(&w2.mu);
    pthread_join(w2.thread, NULL);
    w2.started = w2.stop = 0;
    free(w2.ws);
    w2.ws = NULL, w2.ws_floats = 0;
}

/* Columns [0, half) here, [half, n) on the second thread; half a multiple of 16. */
static void run_2t(const normkit_kernel *k, const normkit_args *a)
{
    const size_t half = a->n >= 32 ? a->n / 2 / 16 * 16 : a->n / 2;
    normkit_args mine = *a, theirs = *a;
    mine.n = half;
    theirs.n = a->n - half;
    theirs.w = a->w + half * a->ldw;
    theirs.bias = a->bias ? a->bias + half : NULL;
    theirs.y = a->y + half;
    theirs.ws = w2.ws;
    pthread_mutex_lock(&w2.mu);
    w2.k = k, w2.a = theirs, w2.pending = 1;
    pthread_cond_broadcast(&w2.cv);
    pthread_mutex_unlock(&w2.mu);
    if (mine.n)
        normkit_kernel_call(k, &mine);
    pthread_mutex_lock(&w2.mu);
    while (w2.pending)
        pthread_cond_wait(&w2.cv, &w2.mu);
    pthread_mutex_unlock(&w2.mu);
}

static int setup_linear(const nkb_entry *e, char *err, size_t errlen)
{
    const nkb_lvariant *v = e->lv;
    const size_t R = e->rows, D = e->dim, N = e->ncols;
    char key[64];
    snprintf(key, sizeof key, "l:%zu:%zu:%zu", R, D, N);
    if (strcmp(key, pool.key) != 0) {
        pool_free();
        /* x and u get 16 floats of slack: XNNPACK may read (not use) 16 bytes past a's last
         * row (peers.h) */
        if (!pool_alloc(NKB_LX, R * D + 16) || !pool_alloc(NKB_LW, N * D) || !pool_alloc(NKB_LY, R * N) ||
            !pool_alloc(NKB_LU, R * D + 16) || !pool_alloc(NKB_LG, D) || !pool_alloc(NKB_LB, D) ||
            !pool_alloc(NKB_LBIAS, N)) {
            pool_free();
            snprintf(err, errlen, "out of memory allocating %.0f bytes", e->c.ws_bytes);
            return -1;
        }
        fill(pool.a[NKB_LX], R * D, NKB_LX, -1.0f, 2.0f);
        fill(pool.a[NKB_LW], N * D, NKB_LW, -0.05f, 0.1f);
        fill(pool.a[NKB_LG], D, NKB_LG, 0.5f, 1.0f);
        fill(pool.a[NKB_LB], D, NKB_LB, -0.5f, 1.0f);
        fill(pool.a[NKB_LBIAS], N, NKB_LBIAS, -0.5f, 1.0f);
        snprintf(pool.key, sizeof pool.key, "%s", key);
    }
    /* the packed panels and the workspace belong to one variant: made again per case */
    free(pool.a[NKB_LP]), pool.a[NKB_LP] = NULL;
    free(pool.a[NKB_LWS]), pool.a[NKB_LWS] = NULL;
    if (v->kind == NKB_LIN_PACKED) {
        const size_t floats = normkit_linear_panels_floats(&e->kp, N, D);
        if (!floats || !pool_alloc(NKB_LP, floats)) {
            snprintf(err, errlen, "out of memory packing W");
            return -1;
        }
        normkit_linear_pack_panels(&e->kp, N, D, pool.a[NKB_LW], D, NULL, pool.a[NKB_LP]);
    }
    if (v->k) {
        const int fused = normkit_op_get(v->k->op)->norm != NORMKIT_NORM_NONE;
        if (!pool_alloc(NKB_LWS, normkit_linear_ws_floats(&e->kp, R, D, fused))) {
            snprintf(err, errlen, "out of memory allocating the workspace");
            return -1;
        }
    }
    if (v->kind == NKB_LIN_2T) {
        const size_t floats = pool.bytes[NKB_LWS] / sizeof(float) + 16;
        if (w2_start() != 0) {
            snprintf(err, errlen, "could not start the second thread");
            return -1;
        }
        if (w2.ws_floats < floats) {
            free(w2.ws);
            w2.ws = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
            w2.ws_floats = w2.ws ? floats : 0;
            if (!w2.ws) {
                snprintf(err, errlen, "out of memory allocating the workspace");
                return -1;
            }
        }
    }
    if (v->kind == NKB_LIN_PEER) {
        const char *why = v->peer->prepare(R, D, N, pool.a[NKB_LW], D, pool.a[NKB_LBIAS]);
        if (why) {
            snprintf(err, errlen, "%s: %s", v->peer->name, why);
            return -1;
        }
    }
    return 0;
}

/* Norm(x) into u with the norm variant nk (its registry knobs). */
static void run_norm(const normkit_kernel *nk, size_t R, size_t D)
{
    const normkit_args a = {.rows = R, .dim = D, .x = pool.a[NKB_LX], .ldx = D,
                            .gamma = pool.a[NKB_LG], .beta = pool.a[NKB_LB], .eps = NKB_EPS,
                            .y = pool.a[NKB_LU], .ldy = D, .kp = &nk->params};
    normkit_kernel_call(nk, &a);
}

static float run_linear(const nkb_entry *e)
{
    const nkb_lvariant *v = e->lv;
    const size_t R = e->rows, D = e->dim, N = e->ncols;
    float *y = pool.a[NKB_LY];
    normkit_args a = {.rows = R, .dim = D, .n = N, .x = pool.a[NKB_LX], .ldx = D,
                      .gamma = pool.a[NKB_LG], .beta = pool.a[NKB_LB], .eps = NKB_EPS,
                      .w = pool.a[NKB_LW], .ldw = D, .bias = pool.a[NKB_LBIAS], .y = y,
                      .ldy = N, .kp = &e->kp, .ws = pool.a[NKB_LWS]};
    switch (v->kind) {
    case NKB_LIN_PACKED:
        a.w = pool.a[NKB_LP], a.ldw = 0;
        normkit_kernel_call(v->k, &a);
        break;
    case NKB_LIN_KERNEL: normkit_kernel_call(v->k, &a); break;
    case NKB_LIN_2T: run_2t(v->k, &a); break;
    case NKB_LIN_UNFUSED:
        run_norm(v->norm, R, D);
        a.x = pool.a[NKB_LU];
        normkit_kernel_call(v->k, &a);
        break;
    case NKB_LIN_PEER:
        if (v->norm)
            run_norm(v->norm, R, D);
        {
            const char *why = v->peer->run(R, D, N, v->norm ? pool.a[NKB_LU] : pool.a[NKB_LX], D,
                                           y, N);
            if (why)
                lin_error = why;
        }
        break;
    }
    return y[R * N - 1];
}
