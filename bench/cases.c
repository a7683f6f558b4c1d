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
#include <time.h>

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
#define NKB_ROW(ISA, ISA_ENUM) extern const nkb_row_ceiling nkb_row_f32__##ISA;
#include "ceilings/ceilings.inc"
#undef NKB_STREAM
#undef NKB_FMA
#undef NKB_ROW

typedef struct {
    const char *isa;
    normkit_isa isa_enum;
    const nkb_stream_ceiling *stream;
    const nkb_fma_ceiling *fma;
    const nkb_row_ceiling *row;
} nkb_ceiling_isa;

#define NKB_STREAM(ISA, ISA_ENUM) {#ISA, ISA_ENUM, &nkb_stream_f32__##ISA, NULL, NULL},
#define NKB_FMA(ISA, ISA_ENUM) {#ISA, ISA_ENUM, NULL, &nkb_fma_f32__##ISA, NULL},
#define NKB_ROW(ISA, ISA_ENUM) {#ISA, ISA_ENUM, NULL, NULL, &nkb_row_f32__##ISA},
static const nkb_ceiling_isa ceiling_tables[] = {
#include "ceilings/ceilings.inc"
};
#undef NKB_STREAM
#undef NKB_FMA
#undef NKB_ROW

/* The bandwidth kinds: name, arrays touched, and the table member. copy_ws is the copy
 * kernel again, at the working set of a norm case (the case's same-size copy reference);
 * write is measured in L1 only (the store rate of the bound, docs/performance.md). */
enum { NKB_READ, NKB_COPY, NKB_COPY_NT, NKB_TRIAD, NKB_WRITE, NKB_COPY_WS, NKB_BW_KINDS };
static const struct {
    const char *name;
    unsigned arrays;
} bw_kinds[NKB_BW_KINDS] = {{"read", 1},  {"copy", 2},  {"copy_nt", 2},
                            {"triad", 3}, {"write", 1}, {"copy_ws", 2}};

static nkb_stream_fn *bw_fn(const nkb_stream_ceiling *s, int kind)
{
    switch (kind) {
    case NKB_READ: return s->read;
    case NKB_COPY:
    case NKB_COPY_WS: return s->copy;
    case NKB_COPY_NT: return s->copy_nt;
    case NKB_WRITE: return s->write;
    default: return s->triad;
    }
}

#define NKB_FMA_ITERS 16384       /* per call: ~10-50 us, far above the call's cost */
#define NKB_CEIL_MIN_CALL (1u << 20) /* bytes: small working sets are swept several times a call */

/* ---------------------------------------------------------------------------------------- */
/* Variants: what the <isa> field of a kernel case names. */

typedef struct {
    normkit_op op;
    char isa[40];     /* the name's isa field: "avx512", or with --variants=all "avx512_u4_acc8" */
    normkit_kernel k; /* fn: what is called */
    const normkit_kparams *kp;
    const char *(*error)(void); /* peers: what went wrong in the last call */
    int api;          /* the typed public entry point (api_calls), decode rows only */
    normkit_isa cisa; /* whose ceilings it is held against (NORMKIT_ISA_AUTO: none) */
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
    /* kernel cases of an ISA's default row: the variant and knobs the dispatcher runs for
     * this shape on that ISA (its shape class: the built-in table or a tuning file) */
    const normkit_kernel *tk;
    const normkit_kparams *tkp;
    size_t ncols;          /* linear cases: columns of y */
    const nkb_lvariant *lv;
    normkit_kparams kp;    /* linear cases: the knobs, resolved */
    const nkb_stream_ceiling *stream; /* bandwidth */
    int bw_kind;
    size_t n, reps;        /* bandwidth: floats per array, passes per call */
    const nkb_fma_ceiling *fma;
    normkit_kernel row;    /* ceiling_rowcall(_ln): the ISA's one-vector RMSNorm (LayerNorm),
                            * as a variant */
    /* The best run Google Benchmark made of the case (most iterations, then least time):
     * what the bound of later cases reads (nkb_case_record). rec_internal: measured by
     * measure_alone instead, because a filter left the case out of the run. */
    double rec_iters, rec_sec; /* iterations, thread CPU seconds per call */
    int rec_internal;
    /* Norm cases: the bound (docs/performance.md), computed in nkb_case_setup. */
    int copy_ws;               /* entry of the same-size copy reference, or -1 */
    int have_model;
    double bound_ns, copy_ws_ns;
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
static char ceiling_map[1024];
static char variants_mode[160];

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

/* The ISA whose ceilings a variant of `isa` is held against: its own when it has stream
 * ceilings, else `best`. */
static normkit_isa own_ceiling_isa(normkit_isa isa, normkit_isa best)
{
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++)
        if (ceiling_tables[t].stream && ceiling_tables[t].isa_enum == isa)
            return isa;
    return best;
}

/* The best ISA this CPU runs that has stream ceilings: what everything built for the native
 * machine (autovec*, eigen) and oneDNN (which picks its own code at run time) is held against. */
static normkit_isa best_ceiling_isa(const nkb_machine *m)
{
    normkit_isa best = NORMKIT_ISA_AUTO;
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
        const nkb_ceiling_isa *ci = &ceiling_tables[t];
        if (ci->stream && (m->cpu_isas >> ci->isa_enum & 1u) && ci->isa_enum > best)
            best = ci->isa_enum;
    }
    return best;
}

static int add_variant(normkit_op op, const char *isa, const normkit_kernel *k,
                       const normkit_kparams *kp, const char *(*error)(void), normkit_isa cisa)
{
    nkb_variant *nv = realloc(variants, (nvariants + 1) * sizeof *nv);
    if (!nv)
        return -1;
    variants = nv;
    nkb_variant *v = &variants[nvariants++];
    *v = (nkb_variant){.op = op, .k = *k, .kp = kp, .error = error, .cisa = cisa};
    snprintf(v->isa, sizeof v->isa, "%s", isa);
    return 0;
}

/* The `api` variants: an operator through its typed public entry point, normkit_<op>_f32, called
 * with the args column of its table line (the knobs are the dispatcher's). A refusal would time
 * nothing: api_error fails the case (nkb_case_setup asks after its call). */
#define NORMKIT_OP(NAME, NORM, RES, BETA, LIN, MR, MW, VECS, PARAMS, KPARAMS, ARGS, KARGS)       \
    static normkit_status api_##NAME(const normkit_args *A) { return normkit_##NAME##_f32 ARGS; }
#include "normkit_ops.inc"
#undef NORMKIT_OP
#define NORMKIT_OP(NAME, ...) api_##NAME,
static normkit_status (*const api_calls[NORMKIT_OP_COUNT])(const normkit_args *) = {
#include "normkit_ops.inc"
};
#undef NORMKIT_OP

static normkit_status api_status;

static const char *api_error(void)
{
    return api_status == NORMKIT_OK ? NULL : normkit_status_str(api_status);
}

static int is_norm_op(normkit_op op);

static int collect_variants(const nkb_options *o, const nkb_machine *m)
{
    size_t nk, others = 0;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    const normkit_isa best = best_ceiling_isa(m);
    for (size_t i = 0; i < nk; i++) {
        if (!normkit_isa_supported(ks[i].isa)) {
            nkb_appendf(skipped, sizeof skipped, "%s (ISA not supported here); ", ks[i].name);
            continue;
        }
        if (normkit_op_get(ks[i].op)->linear)
            continue; /* collect_linear_variants */
        /* Each ISA's default variant of the operator (listed first: what normkit_kernels_for
         * gives); --variants=all: every knob variant, its suffix in the isa field. */
        const char *knobs = ks[i].variant ? ks[i].variant : ""; /* "u4_acc8", or "" */
        char isa[40];
        if (!o->variants_all && normkit_kernels_for(ks[i].isa, ks[i].op) != &ks[i]) {
            others++;
            continue;
        }
        snprintf(isa, sizeof isa, "%s%s%s", normkit_isa_name(ks[i].isa),
                 o->variants_all && knobs[0] ? "_" : "", o->variants_all ? knobs : "");
        if (add_variant(ks[i].op, isa, &ks[i], &ks[i].params, NULL,
                        own_ceiling_isa(ks[i].isa, best)) != 0)
            return -1;
    }
    snprintf(variants_mode, sizeof variants_mode, "%s",
             o->variants_all ? "all: every knob variant of each ISA (--variants=all), named "
                               "<isa>_<knobs>"
                             : "defaults: each ISA's default variant of each operator");
    if (others)
        nkb_appendf(variants_mode, sizeof variants_mode,
                    " (%zu other knob variants not benchmarked: --variants=all)", others);
    for (size_t i = 0; i < sizeof rebuilds / sizeof rebuilds[0]; i++)
        if (add_variant(rebuilds[i].k.op, rebuilds[i].isa, &rebuilds[i].k, NULL, NULL, best) != 0)
            return -1;
    /* Each norm operator's public entry point (the argument checks, the dispatcher's pick, then
     * that variant), on the decode rows only, where its cost shows beside the kernel's: the isa
     * field `api`, held against the best ISA's ceilings (the one auto dispatch runs, unless
     * NORMKIT_ISA or a tuning file says otherwise). */
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        if (!is_norm_op((normkit_op)op))
            continue;
        const normkit_kernel k = {.op = (normkit_op)op, .dtype = "f32"};
        if (add_variant((normkit_op)op, "api", &k, NULL, api_error, best) != 0)
            return -1;
        variants[nvariants - 1].api = 1;
    }
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
        if (add_variant(eigen[i].op, "eigen", &eigen[i], NULL, NULL, best) != 0)
            return -1;
#endif
#if NKB_HAVE_ONEDNN
    static const normkit_kernel onednn = {.op = normkit_op_layernorm, .dtype = "f32",
                                          .fn.layernorm_f32 = nkb_onednn_layernorm_f32};
    if (m->have_onednn &&
        add_variant(normkit_op_layernorm, "onednn", &onednn, NULL, nkb_onednn_error, best) != 0)
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
/* Decode: one row of a small, a BERT/GPT-2 and a Llama-7B hidden size, for every norm operator
 * in both profiles (the per-call cost of a decode step: docs/performance.md). */
static const size_t decode_dims[] = {64, 768, 4096};

#define NKB_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int is_decode(nkb_shape sh)
{
    for (size_t i = 0; i < NKB_LEN(decode_dims); i++)
        if (sh.rows == 1 && sh.dim == decode_dims[i])
            return 1;
    return 0;
}
/* Every canonical shape fits: the model grid plus the judging grid, before duplicates go. */
enum { NKB_MAX_CANONICAL = NKB_LEN(model_dims) * NKB_LEN(model_rows) +
                           NKB_LEN(grid_dims) * NKB_LEN(grid_rows) };
/* ... and a profile's shapes are the canonical ones plus at most one made up per level, plus
 * the decode rows. */
enum { NKB_MAX_SHAPES = NKB_MAX_CANONICAL + NKB_LEVELS + NKB_LEN(decode_dims) };

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
 * shape reaches on this machine gets a made-up shape (dim 4096, rows to the target), and a
 * norm operator gets the decode rows (decode_dims x rows 1). */
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
    const normkit_op_info *info = normkit_op_get(op);
    for (size_t d = 0; info->norm != NORMKIT_NORM_NONE && !info->linear && d < NKB_LEN(decode_dims);
         d++) {
        int dup = 0;
        for (size_t i = 0; i < n; i++)
            dup |= out[i].dim == decode_dims[d] && out[i].rows == 1;
        if (!dup)
            out[n++] = (nkb_shape){decode_dims[d], 1};
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

/* The ceiling entries the bound reads, by ISA (normkit_isa): the bandwidth kinds at each
 * level's target working set, the FMA peak and the one-vector rows (row_entry[0]: RMSNorm's,
 * [1]: LayerNorm's); -1 where there is none. */
static int lvl_entry[NKB_BW_KINDS][NKB_LEVELS][NORMKIT_ISA_COUNT];
static int fma_entry[NORMKIT_ISA_COUNT], row_entry[2][NORMKIT_ISA_COUNT];
static nkb_machine machine; /* a copy: the caches the bound reads */

/* One bandwidth ceiling of `kind` for ISA table entry ci, over about `target` bytes: the largest
 * size the kernel runs not above it (a copy_ws reference: the nearest). Its entry index (the
 * existing one when a ceiling of that name is there already), or -1. */
static int add_bw_ceiling(const nkb_machine *m, const nkb_ceiling_isa *ci, int kind, double target)
{
    const unsigned arrays = bw_kinds[kind].arrays;
    const double unit = (double)arrays * NKB_CEIL_BLOCK * sizeof(float);
    double blocks = kind == NKB_COPY_WS ? floor(target / unit + 0.5) : floor(target / unit);
    nkb_entry e = {0};
    e.n = (size_t)(blocks < 1 ? 1 : blocks) * NKB_CEIL_BLOCK;
    e.c.kind = NKB_CASE_BANDWIDTH;
    e.c.ws_bytes = (double)arrays * (double)e.n * sizeof(float);
    e.reps = e.c.ws_bytes >= NKB_CEIL_MIN_CALL ? 1 : (size_t)(NKB_CEIL_MIN_CALL / e.c.ws_bytes);
    e.c.bytes = e.c.ws_bytes * (double)e.reps;
    e.c.label = level_names[level_of(m, e.c.ws_bytes)];
    e.stream = ci->stream;
    e.bw_kind = kind;
    e.copy_ws = -1;
    snprintf(e.c.name, sizeof e.c.name, "ceiling_%s/f32/%s/bytes:%.0f", bw_kinds[kind].name,
             ci->isa, e.c.ws_bytes);
    for (size_t i = 0; i < nentries; i++) /* one per name */
        if (strcmp(entries[i].c.name, e.c.name) == 0)
            return (int)i;
    return add_entry(&e) == 0 ? (int)nentries - 1 : -1;
}

static int build_ceilings(const nkb_machine *m)
{
    for (int k = 0; k < NKB_BW_KINDS; k++)
        for (int l = 0; l < NKB_LEVELS; l++)
            for (int i = 0; i < NORMKIT_ISA_COUNT; i++)
                lvl_entry[k][l][i] = -1;
    for (int i = 0; i < NORMKIT_ISA_COUNT; i++)
        fma_entry[i] = row_entry[0][i] = row_entry[1][i] = -1;
    machine = *m;
    for (int l = NKB_L1; l < NKB_LEVELS; l++) {
        const double target = level_target(m, l);
        if (target == 0)
            continue;
        nkb_appendf(ceiling_ws, sizeof ceiling_ws, "%s%s=%.0f", ceiling_ws[0] ? " " : "",
                level_names[l], target);
        for (int kind = 0; kind < NKB_BW_KINDS; kind++)
            for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
                const nkb_ceiling_isa *ci = &ceiling_tables[t];
                if (kind == NKB_COPY_WS) /* per norm case: nkb_cases_build */
                    continue;
                if (!ci->stream || !bw_fn(ci->stream, kind) || !(m->cpu_isas >> ci->isa_enum & 1u))
                    continue;
                /* a streaming store bypasses the caches: only DRAM has a copy_nt ceiling; the
                 * store rate is an L1 figure (the bound's store port) */
                if ((kind == NKB_COPY_NT && l != NKB_DRAM) || (kind == NKB_WRITE && l != NKB_L1))
                    continue;
                const int idx = add_bw_ceiling(m, ci, kind, target);
                if (idx < 0)
                    return -1;
                lvl_entry[kind][l][ci->isa_enum] = idx;
            }
    }
    return 0;
}

/* The FMA peaks and the one-vector rows (ceiling_rowcall: RMSNorm's; ceiling_rowcall_ln:
 * LayerNorm's), per ISA. */
static int build_call_ceilings(const nkb_machine *m)
{
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++) {
        const nkb_ceiling_isa *ci = &ceiling_tables[t];
        if (!(m->cpu_isas >> ci->isa_enum & 1u))
            continue;
        if (ci->fma) {
            nkb_entry e = {0};
            e.copy_ws = -1;
            e.c.kind = NKB_CASE_FMA;
            e.c.label = "REG";
            e.c.flops = 2.0 * nkb_lanes(ci->fma) * ci->fma->accs * (double)NKB_FMA_ITERS;
            e.fma = ci->fma;
            snprintf(e.c.name, sizeof e.c.name, "ceiling_fma/f32/%s/acc:%u", ci->isa,
                     ci->fma->accs);
            if (add_entry(&e) != 0)
                return -1;
            fma_entry[ci->isa_enum] = (int)nentries - 1;
        }
        for (int ln = 0; ci->row && ln < 2; ln++) {
            /* one row of one vector through the cases' own call path (run_kernel) */
            nkb_entry e = {0};
            e.copy_ws = -1;
            e.c.kind = NKB_CASE_ROW;
            e.dim = nkb_lanes(ci->row), e.rows = 1;
            e.c.ws_bytes = 4.0 * (3 + ln) * (double)e.dim; /* x, y, gamma (, beta) */
            e.c.label = level_names[level_of(m, e.c.ws_bytes)];
            e.row = (normkit_kernel){.name = "nkb_row", .dtype = "f32", .isa = ci->isa_enum};
            if (ln)
                e.row.op = normkit_op_layernorm, e.row.fn.layernorm_f32 = ci->row->run_ln;
            else
                e.row.op = normkit_op_rmsnorm, e.row.fn.rmsnorm_f32 = ci->row->run;
            snprintf(e.c.name, sizeof e.c.name, "ceiling_rowcall%s/f32/%s/dim:%u",
                     ln ? "_ln" : "", ci->isa, (unsigned)e.dim);
            if (add_entry(&e) != 0)
                return -1;
            row_entry[ln][ci->isa_enum] = (int)nentries - 1;
        }
    }
    return 0;
}

/* The ceiling ISA each isa field is held against (nkb_variant.cisa): an ISA is its own;
 * everything built for the native machine (autovec*, eigen) and oneDNN (which picks its own
 * code at run time) the best ISA this CPU runs that has ceilings. */
static void build_ceiling_map(void)
{
    ceiling_map[0] = '\0';
    for (size_t i = 0; i < nvariants; i++) {
        const char *isa = variants[i].isa;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(variants[j].isa, isa) == 0;
        if (seen)
            continue;
        const normkit_isa to = variants[i].cisa;
        nkb_appendf(ceiling_map, sizeof ceiling_map, "%s%s=%s", ceiling_map[0] ? " " : "", isa,
                    to == NORMKIT_ISA_AUTO ? "none" : normkit_isa_name(to));
    }
}

/* Norm operators: the ones the bound (docs/performance.md) models. */
static int is_norm_op(normkit_op op)
{
    const normkit_op_info *info = normkit_op_get(op);
    return info->norm != NORMKIT_NORM_NONE && !info->linear;
}

static int build_linear_cases(const nkb_options *o, const nkb_machine *m);

int nkb_cases_build(const nkb_options *o, const nkb_machine *m, char *err, size_t errlen)
{
    if (collect_variants(o, m) != 0 || build_ceilings(m) != 0)
        goto oom;
    build_ceiling_map();
    nkb_shape shapes[NORMKIT_OP_COUNT][NKB_MAX_SHAPES];
    size_t nshapes[NORMKIT_OP_COUNT] = {0};
    for (int op = 0; op < NORMKIT_OP_COUNT; op++)
        if (!normkit_op_get((normkit_op)op)->linear) /* build_linear_cases */
            nshapes[op] = shapes_for((normkit_op)op, o, m, shapes[op]);
    /* The same-size copy references of the norm cases, before any kernel case (the ceilings
     * run first: the kernel cases' bounds read them), one per working set, with the best ISA's
     * copy (as the plain C and the peers are held against it); largest first, so that each
     * runs in the arrays of the one before (setup_ceiling) instead of allocating its own. */
    const normkit_isa best = best_ceiling_isa(m);
    const nkb_ceiling_isa *best_ci = NULL;
    for (size_t t = 0; t < sizeof ceiling_tables / sizeof ceiling_tables[0]; t++)
        if (ceiling_tables[t].stream && ceiling_tables[t].isa_enum == best)
            best_ci = &ceiling_tables[t];
    double refs[NORMKIT_OP_COUNT * NKB_MAX_SHAPES];
    size_t nrefs = 0;
    for (int op = 0; best_ci && op < NORMKIT_OP_COUNT; op++)
        for (size_t s = 0; is_norm_op((normkit_op)op) && s < nshapes[op]; s++)
            refs[nrefs++] = kernel_ws((normkit_op)op, shapes[op][s]);
    for (size_t i = 1; i < nrefs; i++)
        for (size_t j = i; j > 0 && refs[j - 1] < refs[j]; j--) {
            const double t = refs[j];
            refs[j] = refs[j - 1];
            refs[j - 1] = t;
        }
    for (size_t i = 0; i < nrefs; i++)
        if (add_bw_ceiling(m, best_ci, NKB_COPY_WS, refs[i]) < 0)
            goto oom;
    if (build_call_ceilings(m) != 0)
        goto oom;
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        if (normkit_op_get((normkit_op)op)->linear)
            continue;
        unsigned rw, ws, vecs;
        op_arrays((normkit_op)op, &rw, &ws, &vecs);
        for (size_t s = 0; s < nshapes[op]; s++) {
            const nkb_shape sh = shapes[op][s];
            nkb_appendf(shapes_used[op], sizeof shapes_used[op], "%sdim:%zu/rows:%zu=%s",
                    shapes_used[op][0] ? " " : "", sh.dim, sh.rows,
                    level_names[level_of(m, kernel_ws((normkit_op)op, sh))]);
            const int ref = best_ci && is_norm_op((normkit_op)op)
                                ? add_bw_ceiling(m, best_ci, NKB_COPY_WS,
                                                 kernel_ws((normkit_op)op, sh))
                                : -1;
            for (size_t i = 0; i < nvariants; i++) {
                const nkb_variant *v = &variants[i];
                if (v->op != (normkit_op)op || (v->api && !is_decode(sh)))
                    continue;
                nkb_entry e = {0};
                e.c.kind = NKB_CASE_KERNEL;
                e.dim = sh.dim, e.rows = sh.rows, e.v = v;
                if (!o->variants_all && v->kp && normkit_kernels_for(v->k.isa, v->k.op) &&
                    strcmp(normkit_kernels_for(v->k.isa, v->k.op)->name, v->k.name) == 0) {
                    const normkit_shape_class cls =
                        normkit_shape_class_of((normkit_op)op, sh.rows, sh.dim);
                    e.tk = normkit_kernel_class_default((normkit_op)op, v->k.isa, cls);
                    e.tk = e.tk ? e.tk : normkit_kernels_for(v->k.isa, v->k.op);
                    e.tkp = normkit_class_params((normkit_op)op, v->k.isa, cls);
                    if (!e.tkp)
                        e.tk = NULL;
                }
                e.c.ws_bytes = kernel_ws((normkit_op)op, sh);
                e.c.bytes =
                    4.0 * ((double)rw * (double)e.rows * (double)e.dim + (double)vecs * (double)e.dim);
                e.c.rows = (double)e.rows;
                e.c.label = level_names[level_of(m, e.c.ws_bytes)];
                e.copy_ws = ref;
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
    add("variants", variants_mode);
    add("bound_model", "docs/performance.md: pct_of_bound = bound_ns / ns_per_call; bound_ns from "
                       "this run's ceilings of the ISA ceiling_isa_map names: read and write in L1 "
                       "(load and store ports), fma (FP instructions), copy per level and copy_nt "
                       "in DRAM (the traffic of each level), rowcall and rowcall_ln (the per-call cost "
                       "of the RMSNorm and the LayerNorm operators); "
                       "copy_ws_ns from the ceiling_copy_ws of the case's working set");
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
                            .kp = e->tk ? e->tkp : v->kp};
    if (v->api)
        api_status = api_calls[v->op](&a);
    else
        normkit_kernel_call(e->tk ? e->tk : &v->k, &a);
    return y[R * D - 1];
}

static int setup_ceiling(const nkb_entry *e, char *err, size_t errlen)
{
    if (e->c.kind == NKB_CASE_ROW) { /* x, y, gamma, beta: one vector each, as setup_kernel */
        char key[64];
        snprintf(key, sizeof key, "row:%zu", e->dim);
        if (strcmp(key, pool.key) == 0)
            return 0;
        pool_free();
        if (!pool_alloc(0, e->dim) || !pool_alloc(1, e->dim) || !pool_alloc(2, e->dim) ||
            !pool_alloc(3, e->dim)) {
            pool_free();
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        fill(pool.a[0], e->dim, NKB_X, -1.0f, 2.0f);
        fill(pool.a[2], e->dim, NKB_GAMMA, 0.5f, 1.0f);
        fill(pool.a[3], e->dim, NKB_BETA, -0.5f, 1.0f);
        snprintf(pool.key, sizeof pool.key, "%s", key);
        return 0;
    }
    if (e->c.kind != NKB_CASE_BANDWIDTH)
        return 0; /* register-only */
    /* a: written by copy, triad and write; b: read by all but write; c: read by triad */
    const int kind = e->bw_kind, na = kind == NKB_READ ? 1 : 0, nb = kind == NKB_WRITE ? 1 : 0;
    const size_t a_n = na ? 1 : e->n, b_n = nb ? 1 : e->n, c_n = kind == NKB_TRIAD ? e->n : 1;
    /* The arrays of an earlier ceiling serve when large enough: b and c are filled from the
     * seed, so a prefix of a larger fill is the smaller fill (no reallocation and refill of
     * the DRAM-sized arrays for each same-size copy reference below them). */
    if (strcmp(pool.key, "c") == 0 && pool.bytes[0] >= a_n * sizeof(float) &&
        pool.bytes[1] >= b_n * sizeof(float) && pool.bytes[2] >= c_n * sizeof(float))
        return 0;
    pool_free();
    if (!pool_alloc(0, a_n) || !pool_alloc(1, b_n) || !pool_alloc(2, c_n)) {
        pool_free();
        snprintf(err, errlen, "out of memory allocating %.0f bytes", e->c.ws_bytes);
        return -1;
    }
    fill(pool.a[1], pool.bytes[1] / sizeof(float), 1, 0.5f, 0.5f);
    fill(pool.a[2], pool.bytes[2] / sizeof(float), 2, 0.5f, 0.5f);
    snprintf(pool.key, sizeof pool.key, "c");
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The bound of a norm case (docs/performance.md): the modeled best time of one call, from the
 * ceilings measured earlier in this run of the case's ISA (ceiling_isa_map):
 *   T = max(loads * t_load, stores * t_store, FP instructions * t_fp,
 *           per level l from L2 to the working set's: traffic_l / copy traffic bandwidth_l
 *           (at DRAM, y streamed with its source read: their traffic / copy_nt's))
 * with traffic the bytes moved between level l and the level nearer the core, write-allocate
 * included (a copy moves 12 bytes per float copied, 8 with streaming stores), over the whole
 * call when it has several rows (their passes can overlap), pass by pass and summed for one
 * row (its output pass waits for its statistics); then
 *   bound = t_call + max(T - T(one row of one vector), 0)
 * with t_call the time per call of the family's one-vector row, ceiling_rowcall (RMSNorm,
 * add & RMSNorm) or ceiling_rowcall_ln (LayerNorm, add & LayerNorm): that row, through the
 * same call path, and T(...) its modeled time. */

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A ceiling a filter left out of the run, measured here (outside Google Benchmark) so that
 * the bound needs no unfiltered run: calls in batches of at least 10 ms of thread CPU time,
 * the best of three. */
static void measure_alone(nkb_entry *e)
{
    char err[160];
    e->rec_internal = 1;
    if (setup_ceiling(e, err, sizeof err) != 0) {
        fprintf(stderr, "normkit-bench: warning: %s: %s (no bound for the cases needing it)\n",
                e->c.name, err);
        return;
    }
    volatile float sink = nkb_case_run(&e->c); /* warms the level, as nkb_case_setup */
    double n = 1, t = 0, best = 0;
    for (int batch = 0; batch < 3;) {
        const double t0 = cpu_seconds();
        for (double i = 0; i < n; i++)
            sink = nkb_case_run(&e->c);
        t = cpu_seconds() - t0;
        if (t < 0.01 && n < 1e9) {
            n *= 2;
            continue;
        }
        best = batch++ == 0 || t / n < best ? t / n : best;
    }
    (void)sink;
    e->rec_iters = n, e->rec_sec = best;
    fprintf(stderr, "normkit-bench: note: %s measured for the bounds (the filter left it out)\n",
            e->c.name);
}

/* Seconds per call of ceiling entry idx (its best recorded run, else measure_alone); 0 when
 * there is none. */
static double ceiling_sec(int idx)
{
    if (idx < 0)
        return 0;
    nkb_entry *e = &entries[idx];
    if (e->rec_iters <= 0 && !e->rec_internal)
        measure_alone(e);
    return e->rec_sec;
}

void nkb_case_record(const nkb_case *c, double iterations, double seconds)
{
    if (c->kind == NKB_CASE_BLOCK || iterations <= 0 || seconds <= 0)
        return;
    nkb_entry *e = &entries[c->index];
    const double per = seconds / iterations;
    if (e->rec_internal || iterations > e->rec_iters ||
        (iterations == e->rec_iters && per < e->rec_sec))
        e->rec_iters = iterations, e->rec_sec = per, e->rec_internal = 0;
}

/* What a call (or one pass of it) uses, in floats: L1 loads and stores, FP instructions (per
 * lane), and per level l >= L2 the floats coming in from it (in: reads and write-allocates) and
 * going back to it (out: write-backs); ynt: floats of y streamed to DRAM. */
typedef struct {
    double ld, st, fp, in[NKB_LEVELS], out[NKB_LEVELS], ynt;
} nkb_use;

/* Seconds per float of each of those, from the ceilings of one ISA: ld, st (L1 ports), fp (per
 * lane-instruction), mv[l] per float moved at level l (a copy moves 3 per float copied: its
 * read, its destination's write-allocate and write-back; 0: level l not measured, not
 * modeled), nt per float moved by the streaming copy at DRAM (2 per float copied); call:
 * seconds per call of the family's one-vector row (ceiling_rowcall, or ceiling_rowcall_ln for
 * the LayerNorm operators). */
typedef struct {
    double ld, st, fp, mv[NKB_LEVELS], nt, call;
    unsigned fma_insns; /* instructions per multiply-add: 1 with FMA, 2 without */
    unsigned lanes;     /* floats in that row */
} nkb_rates;

/* The rates of `isa` a case whose working set sits in level W needs (and DRAM's copy_nt when
 * nt; ln: the LayerNorm family's row): only those ceilings are read, or measured when a filter
 * left them out. */
static int rates_for(normkit_isa isa, int W, int nt, int ln, nkb_rates *r)
{
    memset(r, 0, sizeof *r);
    if (isa <= NORMKIT_ISA_AUTO || isa >= NORMKIT_ISA_COUNT)
        return -1;
    const int rl1 = lvl_entry[NKB_READ][NKB_L1][isa], wl1 = lvl_entry[NKB_WRITE][NKB_L1][isa];
    const int fma = fma_entry[isa], row = row_entry[ln ? 1 : 0][isa];
    const double s_rl1 = ceiling_sec(rl1), s_wl1 = ceiling_sec(wl1), s_fma = ceiling_sec(fma),
                 s_row = ceiling_sec(row);
    if (s_rl1 <= 0 || s_wl1 <= 0 || s_fma <= 0 || s_row <= 0)
        return -1;
    r->ld = s_rl1 / (entries[rl1].c.bytes / 4);
    r->st = s_wl1 / (entries[wl1].c.bytes / 4);
    r->fma_insns = entries[fma].fma->insns;
    r->fp = s_fma / (entries[fma].c.flops * entries[fma].fma->insns / 2); /* per lane-insn */
    r->call = s_row;
    r->lanes = (unsigned)entries[row].dim;
    for (int l = NKB_L2; l < NKB_LEVELS; l++) {
        if (l > W && !(nt && l == NKB_DRAM))
            continue;
        const int cp = lvl_entry[NKB_COPY][l][isa]; /* its bytes: 8 per float copied */
        const double s_cp = ceiling_sec(cp);
        if (s_cp > 0)
            r->mv[l] = s_cp / (3 * entries[cp].c.bytes / 8);
        const int cnt = lvl_entry[NKB_COPY_NT][l][isa];
        const double s_nt = l == NKB_DRAM && nt ? ceiling_sec(cnt) : 0;
        if (s_nt > 0)
            r->nt = s_nt / (2 * entries[cnt].c.bytes / 8);
    }
    return 0;
}

static double use_time(const nkb_use *u, const nkb_rates *r)
{
    double t = fmax(u->ld * r->ld, fmax(u->st * r->st, u->fp * r->fp));
    for (int l = NKB_L2; l < NKB_LEVELS; l++) {
        if (r->mv[l] <= 0)
            continue;
        double in = u->in[l], tl = 0;
        if (l == NKB_DRAM && u->ynt > 0 && r->nt > 0) {
            const double pair = fmin(in, u->ynt); /* y streamed with the read it comes from */
            tl = (pair + u->ynt) * r->nt;
            in -= pair;
        }
        t = fmax(t, tl + (in + u->out[l]) * r->mv[l]);
    }
    return t;
}

/* Whether a variant with knobs kp streams y in a call of rows x dim (the kernels' rule:
 * bytes of y >= nt_min_bytes). */
static int streams(const normkit_kparams *kp, size_t rows, size_t dim)
{
    return kp && (double)kp->nt_min_bytes <= 4.0 * (double)rows * (double)dim;
}

/* T of a call of `op` (rows x dim, working set in level W) by the rates r: the two passes of a
 * norm (the kernels' header comments), the statistics (add & norm: h = x + r stored into r),
 * then the output from x (h) again, gamma and beta. */
static double norm_time(normkit_op op, size_t rows, size_t dim, int W, int nt, const nkb_rates *r)
{
    const normkit_op_info *info = normkit_op_get(op);
    const double R = (double)rows, D = (double)dim, E = R * D, vecs = info->vecs;
    const double res = info->residual ? 1 : 0, fma = r->fma_insns;
    const int ln = info->norm == NORMKIT_NORM_LN;
    nkb_use p1 = {0}, p2 = {0}, all;
    /* pass 1: x (and r) loaded, h stored into r; sum x^2 (RMS: one FMA) or sum x and x^2
     * (LN: an add and an FMA), plus the residual add */
    p1.ld = E * (1 + res);
    p1.st = E * res;
    p1.fp = E * ((ln ? 1 + fma : fma) + res);
    /* pass 2: x (h) and gamma (beta) loaded, y stored; RMS x * s * gamma (two multiplies), LN
     * (x - mean) * s * gamma + beta (a subtraction, a multiply and an FMA) */
    p2.ld = E * (1 + vecs);
    p2.st = E;
    p2.fp = E * (ln ? 2 + fma : 2);
    /* Nothing beyond L1 when the working set is there; from L2 to its level: x (and r) come in
     * once, r goes back; y is written with write-allocate (in and out) or streamed to DRAM
     * when the variant streams. The output pass re-reads x (h) from level l when the data
     * touched between its two reads of an element, 4 D (2 + vecs) bytes (the rest of the row,
     * gamma, beta and y: the reuse distance), does not fit in the level nearer the core; gamma
     * (beta) come in once per call, or every row when the data touched between two rows' reads
     * of them, 4 D (3 + residual + vecs) bytes, does not fit. */
    const double reread = 4.0 * D * (2 + vecs), gamma_row = 4.0 * D * (3 + res + vecs);
    for (int l = NKB_L2; l <= W; l++) {
        const double cap = (double)machine.cap[l - 1];
        p1.in[l] = E * (1 + res);
        p1.out[l] = E * res;
        p2.in[l] = (reread > cap ? E : 0) + vecs * (gamma_row > cap ? E : D) + (nt ? 0 : E);
        p2.out[l] = nt ? 0 : E;
    }
    p2.ynt = nt ? E : 0;
    if (rows == 1)
        return use_time(&p1, r) + use_time(&p2, r);
    all = p1;
    all.ld += p2.ld, all.st += p2.st, all.fp += p2.fp, all.ynt += p2.ynt;
    for (int l = 0; l < NKB_LEVELS; l++)
        all.in[l] += p2.in[l], all.out[l] += p2.out[l];
    return use_time(&all, r);
}

/* The bound and the same-size copy reference of kernel entry e, into e (have_model = 0 for
 * cases without a model: not a norm operator, or a ceiling missing). */
static void compute_model(nkb_entry *e)
{
    nkb_rates r;
    e->have_model = 0;
    if (!e->v || !is_norm_op(e->v->op))
        return;
    const int W = level_of(&machine, e->c.ws_bytes), nt = streams(e->tk ? e->tkp : e->v->kp, e->rows, e->dim);
    const int ln = normkit_op_get(e->v->op)->norm == NORMKIT_NORM_LN;
    if (rates_for(e->v->cisa, W, nt, ln, &r) != 0)
        return;
    /* the family's one-vector row (ceiling_rowcall, ceiling_rowcall_ln) is already in t_call:
     * the model adds what the call does beyond it */
    const double t = norm_time(e->v->op, e->rows, e->dim, W, nt, &r) -
                     norm_time(ln ? normkit_op_layernorm : normkit_op_rmsnorm, 1, r.lanes, NKB_L1,
                               0, &r);
    e->bound_ns = 1e9 * (r.call + (t > 0 ? t : 0));
    const double s_ref = ceiling_sec(e->copy_ws);
    e->copy_ws_ns = s_ref > 0 ? 1e9 * e->c.bytes * s_ref / entries[e->copy_ws].c.bytes : 0;
    e->have_model = 1;
}

int nkb_case_model(const nkb_case *c, double *bound_ns, double *copy_ws_ns)
{
    if (c->kind != NKB_CASE_KERNEL || !entries[c->index].have_model)
        return -1;
    *bound_ns = entries[c->index].bound_ns;
    *copy_ws_ns = entries[c->index].copy_ws_ns;
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
    case NKB_CASE_ROW: {
        const normkit_args a = {.rows = 1, .dim = e->dim, .x = pool.a[0], .ldx = e->dim,
                                .gamma = pool.a[2], .beta = pool.a[3], .eps = NKB_EPS,
                                .y = pool.a[1], .ldy = e->dim};
        normkit_kernel_call(&e->row, &a); /* as run_kernel calls a variant */
        return pool.a[1][e->dim - 1];
    }
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
    nkb_entry *e = &entries[c->index];
    if (c->kind == NKB_CASE_KERNEL && e->lv) {
        if (setup_linear(e, err, errlen) != 0)
            return -1;
    } else if (c->kind == NKB_CASE_KERNEL) {
        compute_model(e); /* first: it may measure a ceiling, in the buffers' pool */
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
                    add_bw_ceiling(m, ci, NKB_READ, 4.0 * (double)n * (double)dim) < 0)
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
                    /* the knobs the entry points pass: a tuning file's, else the registry's */
                    const normkit_kparams *t =
                        normkit_class_params(v->k->op, v->k->isa, NORMKIT_CLASS_COUNT);
                    normkit_linear_resolve_knobs(t ? t : &v->k->params, rows, dim, &e.kp);
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
