/*
 * Public entry points: check arguments, then one indirect call into the variant chosen
 * for the operator. The choice is made on first use, under a lock (so concurrent first
 * calls and normkit_isa_force never disagree), and published with release/acquire atomics
 * so that every later call is a load and an indirect call.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "entry.h"
#include "linear.h"
#include "normkit.h"
#include "normkit_kernels.h"
#include "tuning.h"

static const char *const isa_names[NORMKIT_ISA_COUNT] = {"auto", "scalar", "avx2",
                                                         "avx512", "neon", "sve"};

const char *normkit_isa_name(normkit_isa isa)
{
    return (unsigned)isa < NORMKIT_ISA_COUNT ? isa_names[isa] : NULL;
}

int normkit_isa_from_name(const char *name)
{
    for (int i = 0; name && i < NORMKIT_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0)
            return i;
    return -1;
}

const char *normkit_status_str(normkit_status s)
{
    switch (s) {
    case NORMKIT_OK: return "success";
    case NORMKIT_ERR_NULL: return "a required pointer argument is NULL";
    case NORMKIT_ERR_SHAPE:
        return "bad shape: dim is 0, a stride is below dim, the size overflows, or y aliases r "
               "(or x with another stride, or overlaps an input the operator does not allow)";
    case NORMKIT_ERR_EPS: return "eps must be finite and >= 0";
    case NORMKIT_ERR_UNSUPPORTED: return "ISA not supported by this CPU, OS or build";
    case NORMKIT_ERR_NOMEM: return "out of memory";
    case NORMKIT_ERR_PACKED:
        return "packed weights do not fit the call: packed for another variant (pack again), or "
               "gamma/beta passed to weights they were folded into";
    }
    return "unknown normkit status";
}

/* An ISA is usable when the CPU/OS run it and the registry has at least one variant of it. */
static int isa_in_build(normkit_isa isa)
{
    size_t n;
    const normkit_kernel *k = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (k[i].isa == isa)
            return 1;
    return 0;
}

int normkit_isa_supported(normkit_isa isa)
{
    if (isa <= NORMKIT_ISA_AUTO || (unsigned)isa >= NORMKIT_ISA_COUNT)
        return 0;
    return (normkit_cpu_isa_mask(normkit_cpu_get()->features) >> isa & 1u) && isa_in_build(isa);
}

/* Families: forcing an ISA allows it, the weaker ISAs of its family, and scalar. */
static int isa_rank(normkit_isa isa)
{
    switch (isa) {
    case NORMKIT_ISA_AVX2: case NORMKIT_ISA_NEON: return 1;
    case NORMKIT_ISA_AVX512: case NORMKIT_ISA_SVE: return 2;
    default: return 0;
    }
}

static int isa_allowed(normkit_isa cap, normkit_isa isa)
{
    return isa == NORMKIT_ISA_SCALAR ||
           (normkit_isa_family(isa) == normkit_isa_family(cap) && isa_rank(isa) <= isa_rank(cap));
}

/*
 * What "auto" runs: the widest supported ISA, except that SVE is preferred over NEON only when
 * its vectors are wider than NEON's (>= 256 bits: Graviton 3, A64FX). At 128 bits (Neoverse
 * N2/V2: Graviton 4, Grace) SVE does the same work per instruction as NEON plus predicate
 * upkeep, so NEON stays the default there. This is a documented default, not a measurement
 * (normkit has no Arm hardware to measure on): NORMKIT_ISA=sve (or normkit_isa_force) and a
 * tuning file's "isa" (docs/tuning.md) change it.
 */
static normkit_isa default_isa(void)
{
    static const normkit_isa order[] = {NORMKIT_ISA_AVX512, NORMKIT_ISA_SVE, NORMKIT_ISA_AVX2,
                                        NORMKIT_ISA_NEON};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!normkit_isa_supported(order[i]))
            continue;
        if (order[i] == NORMKIT_ISA_SVE && normkit_cpu_get()->sve_bits < 256 &&
            normkit_isa_supported(NORMKIT_ISA_NEON))
            continue;
        return order[i];
    }
    return NORMKIT_ISA_SCALAR;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int cap_isa;                                    /* a normkit_isa */
static _Atomic(const normkit_kernel *) active[NORMKIT_OP_COUNT]; /* NULL: not resolved yet */

/* ---- shape classes: which of an ISA's variants of an operator runs a call ---- */

static const char *const class_names[NORMKIT_CLASS_COUNT] = {"l1_row", "l1_rows", "l2_row",
                                                             "l2_rows", "mem_row", "mem_rows"};

const char *normkit_shape_class_name(normkit_shape_class c)
{
    return (unsigned)c < NORMKIT_CLASS_COUNT ? class_names[c] : NULL;
}

/*
 * What runs each class: one immutable table per tuning, published whole with one atomic
 * pointer, so that a call reads its variant and knobs from the same tuning even while
 * normkit_tuning_load swaps in another (never a mix of two files).
 *  - by_class: the variant per operator, ISA and class; NULL: the ISA's default variant.
 *  - kp: a tuning file's knobs (docs/tuning.md); index NORMKIT_CLASS_COUNT: the linear
 *    operators' (class "all"); NULL: the variant's registry knobs.
 *  - isa: the ISA the file makes "auto" run; NORMKIT_ISA_AUTO: default_isa().
 * The built-in table (kernels/normkit_defaults.inc, resolved from names to registry entries in
 * init()) is static; loaded ones are never freed, since a call may still be reading the one a
 * load replaced: each stays on the `loaded` list (a few KiB per load) until the process exits.
 */
typedef struct tuning_table {
    const normkit_kernel *by_class[NORMKIT_OP_COUNT][NORMKIT_ISA_COUNT][NORMKIT_CLASS_COUNT];
    const normkit_kparams *kp[NORMKIT_OP_COUNT][NORMKIT_ISA_COUNT][NORMKIT_CLASS_COUNT + 1];
    char *path; /* NULL: the built-in defaults */
    normkit_isa isa;
    normkit_tuning_entry *entries; /* kp points into them */
    struct tuning_table *next;     /* the `loaded` list */
} tuning_table;
static tuning_table builtin;
static _Atomic(const tuning_table *) current; /* set in init() before any call can run */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER; /* guards `loaded` */
static tuning_table *loaded;
static size_t class_l1_bytes, class_l2_bytes; /* the cache sizes the classes are cut at */

static inline const tuning_table *tuning_now(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

typedef struct {
    const char *op, *isa, *cls, *kernel;
} class_default;

#define NORMKIT_DEFAULT(OP, ISA, CLS, VAR) {#OP, #ISA, #CLS, "normkit_" #OP "_f32__" #ISA #VAR},
static const class_default class_defaults[] = {
#include "normkit_defaults.inc"
};
#undef NORMKIT_DEFAULT

static const normkit_kernel *kernel_named(const char *name)
{
    size_t n;
    const normkit_kernel *k = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0)
            return &k[i];
    return NULL;
}

static void init_classes(void)
{
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    class_l1_bytes = c.bytes[0];
    class_l2_bytes = c.bytes[1];
    for (size_t i = 0; i < sizeof class_defaults / sizeof class_defaults[0]; i++) {
        const class_default *d = &class_defaults[i];
        const int op = normkit_op_from_name(d->op), isa = normkit_isa_from_name(d->isa);
        int cls = -1;
        for (int j = 0; j < NORMKIT_CLASS_COUNT; j++)
            if (strcmp(class_names[j], d->cls) == 0)
                cls = j;
        const normkit_kernel *k = kernel_named(d->kernel); /* NULL when not in this build */
        if (op >= 0 && isa >= 0 && cls >= 0 && k && (int)k->op == op && (int)k->isa == isa)
            builtin.by_class[op][isa][cls] = k;
    }
    atomic_store_explicit(&current, &builtin, memory_order_release);
}

/* A working set beyond SIZE_MAX bytes is simply "mem" (normkit_kernel.h). */
static normkit_shape_class class_of(const normkit_op_info *info, size_t rows, size_t dim)
{
    /* the distinct rows x dim matrices: r is read and written in place (counted once) */
    const size_t nmats = (size_t)info->mats_read + info->mats_written - (info->residual ? 1 : 0);
    return (normkit_shape_class)normkit_shape_class_index(rows, dim, nmats, info->vecs,
                                                          class_l1_bytes, class_l2_bytes);
}

/* NORMKIT_TUNING: a tuning file applies entirely or not at all; any problem is one warning. */
/* What a tuning file must name: this CPU and the cache sizes the classes are cut at. */
static normkit_tuning_machine this_machine(void)
{
    return (normkit_tuning_machine){normkit_cpu_get()->model, class_l1_bytes, class_l2_bytes};
}

/* Reads, checks and publishes a tuning file; path NULL or "": the built-in table. 0, or -1 with
 * the reason in err and nothing changed. */
static int load_tuning(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        atomic_store_explicit(&current, &builtin, memory_order_release);
        return 0;
    }
    size_t len = 0, n = 0;
    normkit_tuning_entry *e = NULL;
    char *text = normkit_tuning_read_file(path, &len, err, errlen);
    if (!text)
        return -1;
    const normkit_tuning_machine m = this_machine();
    normkit_isa isa;
    const int rc = normkit_tuning_parse(text, len, &m, &e, &n, &isa, err, errlen);
    free(text);
    if (rc != 0)
        return -1;
    tuning_table *t = malloc(sizeof *t);
    char *saved = malloc(strlen(path) + 1);
    if (!t || !saved) {
        free(t), free(saved), free(e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(t->by_class, builtin.by_class, sizeof t->by_class);
    memset(t->kp, 0, sizeof t->kp);
    for (size_t i = 0; i < n; i++) {
        const normkit_kernel *k = e[i].k;
        if (e[i].cls < NORMKIT_CLASS_COUNT)
            t->by_class[k->op][k->isa][e[i].cls] = k;
        t->kp[k->op][k->isa][e[i].cls] = &e[i].kp;
    }
    memcpy(saved, path, strlen(path) + 1);
    t->path = saved;
    t->isa = isa;
    t->entries = e;
    pthread_mutex_lock(&load_lock);
    t->next = loaded;
    loaded = t;
    pthread_mutex_unlock(&load_lock);
    atomic_store_explicit(&current, t, memory_order_release);
    return 0;
}

static void init_tuning(void)
{
    const char *path = getenv("NORMKIT_TUNING");
    char err[512];
    if (path && *path && load_tuning(path, err, sizeof err) != 0)
        fprintf(stderr, "normkit: warning: NORMKIT_TUNING=%s: %s; using the built-in defaults\n",
                path, err);
}

static void init(void);

/* What "auto" runs: the tuning's ISA, if it has one (the parser checked that it is
 * supported), else the documented default. */
static normkit_isa auto_isa(void)
{
    const normkit_isa t = tuning_now()->isa;
    return t > NORMKIT_ISA_AUTO ? t : default_isa();
}

/* 1 while NORMKIT_ISA or normkit_isa_force named an ISA: a tuning file's "isa" then changes
 * nothing. Written under `lock`. */
static int isa_pinned;

static const normkit_kernel *pick(normkit_op op, normkit_isa cap);

static void set_cap_locked(normkit_isa cap)
{
    atomic_store(&cap_isa, (int)cap);
    for (int op = 0; op < NORMKIT_OP_COUNT; op++)
        atomic_store_explicit(&active[op], pick((normkit_op)op, cap), memory_order_release);
}

int normkit_tuning_load(const char *path, char *err, size_t errlen)
{
    char buf[512];
    pthread_once(&init_once, init);
    pthread_mutex_lock(&lock);
    const int rc = load_tuning(path, buf, sizeof buf);
    /* under "auto", the new tuning's ISA (or the default, when it names none) runs */
    if (rc == 0 && !isa_pinned)
        set_cap_locked(auto_isa());
    pthread_mutex_unlock(&lock);
    if (err && errlen)
        snprintf(err, errlen, "%s", rc == 0 ? "" : buf);
    return rc;
}

/* NORMKIT_ISA sets the initial cap; a bad value warns once (this runs once) and falls back.
 * The tuning file (NORMKIT_TUNING) is read first: its "isa" is what "auto" runs. */
static void init(void)
{
    init_classes();
    init_tuning();
    normkit_isa best = auto_isa(), cap = best;
    const char *env = getenv("NORMKIT_ISA");
    if (env && *env) {
        int want = normkit_isa_from_name(env);
        if (want < 0) {
            char names[96] = "";
            for (int i = 0; i < NORMKIT_ISA_COUNT; i++) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", isa_names[i]);
            }
            fprintf(stderr, "normkit: warning: NORMKIT_ISA=%s is not one of %s; using %s\n", env,
                    names, normkit_isa_name(best));
        }
        else if (want != NORMKIT_ISA_AUTO && !normkit_isa_supported((normkit_isa)want))
            fprintf(stderr,
                    "normkit: warning: NORMKIT_ISA=%s is not supported by this CPU, OS or build; "
                    "using %s\n",
                    env, normkit_isa_name(best));
        else if (want != NORMKIT_ISA_AUTO) {
            cap = (normkit_isa)want;
            isa_pinned = 1;
        }
    }
    atomic_store(&cap_isa, (int)cap);
}

static const normkit_kernel *pick(normkit_op op, normkit_isa cap)
{
    size_t n;
    const normkit_kernel *k = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (k[i].op == op && isa_allowed(cap, k[i].isa) && normkit_isa_supported(k[i].isa))
            return &k[i];
    return NULL; /* unreachable: every operator has a scalar variant */
}

static const normkit_kernel *resolve(normkit_op op)
{
    pthread_once(&init_once, init);
    pthread_mutex_lock(&lock);
    const normkit_kernel *k = atomic_load_explicit(&active[op], memory_order_relaxed);
    if (!k) {
        k = pick(op, (normkit_isa)atomic_load(&cap_isa));
        atomic_store_explicit(&active[op], k, memory_order_release);
    }
    pthread_mutex_unlock(&lock);
    return k;
}

static inline const normkit_kernel *kernel_for(normkit_op op)
{
    const normkit_kernel *k = atomic_load_explicit(&active[op], memory_order_acquire);
    return k ? k : resolve(op);
}

const normkit_kernel *normkit_kernel_active(normkit_op op)
{
    return (unsigned)op < NORMKIT_OP_COUNT ? kernel_for(op) : NULL;
}

normkit_shape_class normkit_shape_class_of(normkit_op op, size_t rows, size_t dim)
{
    const normkit_op_info *info = normkit_op_get(op);
    if (!info || info->linear)
        return NORMKIT_CLASS_COUNT;
    pthread_once(&init_once, init);
    return class_of(info, rows ? rows : 1, dim ? dim : 1);
}

/* The variant for this call: the class's default for the active variant's ISA, if any; and,
 * in *kp, the knobs it runs with (a tuning file's, else the variant's own). */
static inline const normkit_kernel *select_for(normkit_op op, const normkit_kernel *k,
                                               size_t rows, size_t dim, const normkit_kparams **kp)
{
    const normkit_shape_class cls = class_of(normkit_op_get(op), rows, dim);
    const tuning_table *tt = tuning_now();
    const normkit_kernel *c = tt->by_class[op][k->isa][cls];
    const normkit_kparams *t = tt->kp[op][k->isa][cls];
    k = c ? c : k;
    *kp = t ? t : &k->params;
    return k;
}

const char *normkit_tuning_active(void)
{
    pthread_once(&init_once, init);
    return tuning_now()->path;
}

const normkit_kparams *normkit_class_params(normkit_op op, normkit_isa isa, normkit_shape_class c)
{
    const normkit_op_info *info = normkit_op_get(op);
    if (!info || (unsigned)isa >= NORMKIT_ISA_COUNT || (unsigned)c > NORMKIT_CLASS_COUNT ||
        (info->linear != 0) != (c == NORMKIT_CLASS_COUNT))
        return NULL;
    pthread_once(&init_once, init);
    const int i = info->linear ? NORMKIT_CLASS_COUNT : (int)c;
    const tuning_table *tt = tuning_now();
    if (tt->kp[op][isa][i])
        return tt->kp[op][isa][i];
    const normkit_kernel *k = i < NORMKIT_CLASS_COUNT ? tt->by_class[op][isa][i] : NULL;
    k = k ? k : normkit_kernels_for(isa, op);
    return k ? &k->params : NULL;
}

int normkit_tuning_check(const char *json, size_t len, char *err, size_t errlen)
{
    char buf[512];
    normkit_tuning_entry *e = NULL;
    size_t n = 0;
    pthread_once(&init_once, init);
    const normkit_tuning_machine m = this_machine();
    normkit_isa isa;
    const int rc = json ? normkit_tuning_parse(json, len, &m, &e, &n, &isa, buf, sizeof buf) : -1;
    if (!json)
        snprintf(buf, sizeof buf, "no text (NULL)");
    free(e);
    if (err && errlen)
        snprintf(err, errlen, "%s", rc == 0 ? "" : buf);
    return rc;
}

const normkit_kparams *normkit_linear_params(const normkit_kernel *k)
{
    pthread_once(&init_once, init);
    const normkit_kparams *t = tuning_now()->kp[k->op][k->isa][NORMKIT_CLASS_COUNT];
    return t ? t : &k->params;
}

const normkit_kernel *normkit_kernel_class_default(normkit_op op, normkit_isa isa,
                                                  normkit_shape_class c)
{
    if ((unsigned)op >= NORMKIT_OP_COUNT || (unsigned)isa >= NORMKIT_ISA_COUNT ||
        (unsigned)c >= NORMKIT_CLASS_COUNT)
        return NULL;
    pthread_once(&init_once, init);
    return tuning_now()->by_class[op][isa][c];
}

const normkit_kernel *normkit_kernel_select(normkit_op op, size_t rows, size_t dim)
{
    if ((unsigned)op >= NORMKIT_OP_COUNT)
        return NULL;
    const normkit_kernel *k = kernel_for(op);
    const normkit_kparams *kp;
    return select_for(op, k, rows ? rows : 1, dim ? dim : 1, &kp);
}

normkit_isa normkit_isa_active(void)
{
    pthread_once(&init_once, init);
    return (normkit_isa)atomic_load(&cap_isa);
}

normkit_status normkit_isa_force(normkit_isa isa)
{
    pthread_once(&init_once, init);
    if (isa != NORMKIT_ISA_AUTO && !normkit_isa_supported(isa))
        return NORMKIT_ERR_UNSUPPORTED;
    pthread_mutex_lock(&lock);
    isa_pinned = isa != NORMKIT_ISA_AUTO;
    set_cap_locked(isa == NORMKIT_ISA_AUTO ? auto_isa() : isa);
    pthread_mutex_unlock(&lock);
    return NORMKIT_OK;
}

/* ---- argument checks and the generic run, shared by every entry point ---- */

/* A matrix of rows x dim with stride ld must be addressable: (rows-1)*ld + dim floats
 * (linear.h; normkit_linear_pack checks its W with it too). */
int normkit_matrix_ok(size_t rows, size_t dim, size_t ld)
{
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    if (ld < dim || dim > max)
        return 0;
#if defined(__GNUC__) /* a multiply with an overflow flag: a 64-bit divide costs a one-row call */
    size_t span;
    return !__builtin_mul_overflow(rows - 1, ld, &span) && span <= max - dim;
#else
    return rows >= 1 && (rows == 1 || (rows - 1) <= (max - dim) / ld);
#endif
}

static int eps_ok(float eps)
{
    return eps >= 0.0f && eps <= FLT_MAX;
}

/* The address range [p, p + (rows-1)*ld + cols) of a matrix the checks accepted. */
static int ranges_overlap(const float *p, size_t prows, size_t pcols, size_t pld, const float *q,
                          size_t qrows, size_t qcols, size_t qld)
{
    const uintptr_t p0 = (uintptr_t)p, p1 = p0 + ((prows - 1) * pld + pcols) * sizeof(float);
    const uintptr_t q0 = (uintptr_t)q, q1 = q0 + ((qrows - 1) * qld + qcols) * sizeof(float);
    return p0 < q1 && q0 < p1;
}

/* The epilogue (normkit_kernel.h), when there is one: an activation of the enum, and mul and
 * add [rows x n] with strides >= n, addressable and apart from y (a tile of y holds partial
 * sums before its epilogue reads them). */
static normkit_status epilogue_check(const normkit_args *a)
{
    const normkit_epilogue *e = a->epi;
    if (!e)
        return NORMKIT_OK;
    if (e->act != NORMKIT_ACT_NONE && e->act != NORMKIT_ACT_GELU && e->act != NORMKIT_ACT_SILU)
        return NORMKIT_ERR_SHAPE;
    if ((e->mul && (!normkit_matrix_ok(a->rows, a->n, e->ldmul) ||
                    ranges_overlap(a->y, a->rows, a->n, a->ldy, e->mul, a->rows, a->n, e->ldmul))) ||
        (e->add && (!normkit_matrix_ok(a->rows, a->n, e->ldadd) ||
                    ranges_overlap(a->y, a->rows, a->n, a->ldy, e->add, a->rows, a->n, e->ldadd))))
        return NORMKIT_ERR_SHAPE;
    return NORMKIT_OK;
}

/* Linear operators: x [rows x dim], W [n x dim], y [rows x n] not overlapping either. (The
 * packed calls check their handle's panels as a dense W.) */
static normkit_status linear_check(const normkit_op_info *info, const normkit_args *a)
{
    if (!a->x || !a->w || !a->y)
        return NORMKIT_ERR_NULL;
    if (a->dim == 0 || a->n == 0 || !normkit_matrix_ok(a->rows, a->dim, a->ldx) ||
        !normkit_matrix_ok(a->rows, a->n, a->ldy) || !normkit_matrix_ok(a->n, a->dim, a->ldw))
        return NORMKIT_ERR_SHAPE;
    /* y is written while x, W, bias, gamma and beta are still read (and, between k blocks,
     * holds running sums): their address ranges must be apart */
    if (ranges_overlap(a->y, a->rows, a->n, a->ldy, a->x, a->rows, a->dim, a->ldx) ||
        ranges_overlap(a->y, a->rows, a->n, a->ldy, a->w, a->n, a->dim, a->ldw) ||
        (a->bias && ranges_overlap(a->y, a->rows, a->n, a->ldy, a->bias, 1, a->n, a->n)) ||
        (info->norm != NORMKIT_NORM_NONE && a->gamma &&
         ranges_overlap(a->y, a->rows, a->n, a->ldy, a->gamma, 1, a->dim, a->dim)) ||
        (info->beta && a->beta &&
         ranges_overlap(a->y, a->rows, a->n, a->ldy, a->beta, 1, a->dim, a->dim)))
        return NORMKIT_ERR_SHAPE;
    if (info->norm != NORMKIT_NORM_NONE && !eps_ok(a->eps))
        return NORMKIT_ERR_EPS;
    return epilogue_check(a);
}

/* y against an input matrix p of an elementwise operator: the same matrix (the same start and,
 * over more than one row, the same stride) is in place; any other overlap of the address
 * ranges is refused (a vector of p could be read after an overlapping store of y). */
static int elementwise_alias_ok(const normkit_args *a, const float *p, size_t ldp)
{
    if (a->y == p)
        return a->rows == 1 || a->ldy == ldp;
    return !ranges_overlap(a->y, a->rows, a->dim, a->ldy, p, a->rows, a->dim, ldp);
}

/* Elementwise operators: x (and r, a second input, for add and mul) and y, all rows x dim;
 * y is x or r exactly, or apart from both. No gamma, beta or eps. */
static normkit_status elementwise_check(const normkit_op_info *info, const normkit_args *a)
{
    const int binary = info->mats_read > 1;
    if (!a->x || !a->y || (binary && !a->r))
        return NORMKIT_ERR_NULL;
    if (a->dim == 0 || !normkit_matrix_ok(a->rows, a->dim, a->ldx) ||
        !normkit_matrix_ok(a->rows, a->dim, a->ldy) ||
        (binary && !normkit_matrix_ok(a->rows, a->dim, a->ldr)))
        return NORMKIT_ERR_SHAPE;
    if (!elementwise_alias_ok(a, a->x, a->ldx) || (binary && !elementwise_alias_ok(a, a->r, a->ldr)))
        return NORMKIT_ERR_SHAPE;
    return NORMKIT_OK;
}

/* Norm operators (rows >= 1): x, y (and r) present, addressable with their strides, y apart
 * from r and, over several rows, x in place only with the same stride; eps in range. On the
 * arguments themselves: normkit_norm_begin runs it without a normkit_args. */
static inline normkit_status norm_check(const normkit_op_info *info, size_t rows, size_t dim,
                                        const float *x, size_t ldx, const float *r, size_t ldr,
                                        const float *y, size_t ldy, float eps)
{
    if (!x || !y || (info->residual && !r))
        return NORMKIT_ERR_NULL;
    if (dim == 0 || !normkit_matrix_ok(rows, dim, ldx) || !normkit_matrix_ok(rows, dim, ldy) ||
        (info->residual && !normkit_matrix_ok(rows, dim, ldr)))
        return NORMKIT_ERR_SHAPE;
    /* the overlaps we can detect and cannot support */
    if ((info->residual && y == r) || (y == x && ldy != ldx && rows > 1))
        return NORMKIT_ERR_SHAPE;
    if (!eps_ok(eps))
        return NORMKIT_ERR_EPS;
    return NORMKIT_OK;
}

normkit_status normkit_args_check(normkit_op op, const normkit_args *a)
{
    const normkit_op_info *info = normkit_op_get(op);
    if (!info)
        return NORMKIT_ERR_SHAPE;
    if (!a)
        return NORMKIT_ERR_NULL;
    if (a->rows == 0)
        return NORMKIT_OK;
    if (info->linear)
        return linear_check(info, a);
    if (info->elementwise)
        return elementwise_check(info, a);
    return norm_check(info, a->rows, a->dim, a->x, a->ldx, a->r, a->ldr, a->y, a->ldy, a->eps);
}

const normkit_kernel *normkit_norm_begin(normkit_op op, size_t rows, size_t dim, const float *x,
                                         size_t ldx, const float *r, size_t ldr, const float *y,
                                         size_t ldy, float eps, const normkit_kparams **kp,
                                         normkit_status *st)
{
    const normkit_op_info *info = normkit_op_get(op);
    if (!info || info->norm == NORMKIT_NORM_NONE || info->linear) {
        *st = NORMKIT_ERR_SHAPE; /* not a norm operator (outside the enum: as normkit_args_check) */
        return NULL;
    }
    *st = rows == 0 ? NORMKIT_OK : norm_check(info, rows, dim, x, ldx, r, ldr, y, ldy, eps);
    if (*st != NORMKIT_OK || rows == 0)
        return NULL;
    return select_for(op, kernel_for(op), rows, dim, kp);
}

normkit_status normkit_op_run(normkit_op op, const normkit_args *a)
{
    normkit_status st = normkit_args_check(op, a);
    if (st != NORMKIT_OK || a->rows == 0)
        return st;
    const normkit_kernel *k = kernel_for(op);
    if (normkit_op_get(op)->linear)
        return normkit_linear_run(k, a);
    const normkit_kparams *kp;
    k = select_for(op, k, a->rows, a->dim, &kp);
    normkit_args call = *a;
    if (!call.kp)
        call.kp = kp;
    normkit_kernel_call(k, &call);
    return NORMKIT_OK;
}
