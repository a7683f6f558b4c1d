/*
 * normkit_kernels.h — the operator table and the kernel registry, as data.
 *
 * Tests, benchmarks and the dispatcher iterate these lists instead of naming operators or
 * kernels by hand: every operator is declared once, in kernels/normkit_ops.inc, and every
 * variant once, in its operator's enumerator (kernels/<op>/<op>.inc).
 *
 * Calling a variant directly (normkit_kernel_call, or k->fn.<op>_f32) bypasses dispatch and
 * the argument checks. The kernel-level contract — what every variant assumes, and what a
 * direct call must therefore pass — is:
 *   rows >= 1 and dim >= 1; every stride >= dim; each matrix addressable, i.e.
 *   (rows - 1) * ld + dim floats <= PTRDIFF_MAX / sizeof(float) (so rows * dim * 4 cannot
 *   overflow); x, y and, for residual operators, r non-NULL; eps finite and >= 0; gamma and
 *   beta may be NULL (scale 1, shift 0); y may equal x with the same stride, and must not
 *   overlap r. normkit_args_check() applies the public entry points' rules: for rows >= 1,
 *   NORMKIT_OK means the arguments meet this contract except for overlaps it cannot see (it
 *   rejects y == r, and y == x with another stride over more than one row, not partial
 *   overlaps); it also returns NORMKIT_OK for rows == 0, which must not be passed to a variant.
 *   The linear operators (n, W, bias, workspace) add the contract stated in normkit_kernel.h.
 *   The elementwise operators (normkit_op_info.elementwise: gelu, silu, add, mul) take no
 *   gamma, beta or eps; for add and mul r is a second input, never written, and y may equal
 *   x or r with the same stride. normkit_args_check rejects, for them, any other overlap of
 *   y's address range with x's or r's.
 *   A variant given arguments outside the contract has undefined behaviour.
 */
#ifndef NORMKIT_KERNELS_H
#define NORMKIT_KERNELS_H

#include "normkit.h"
#include "normkit_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* normkit_op_rmsnorm, normkit_op_layernorm, ...: one per line of normkit_ops.inc, in order. */
typedef enum {
#define NORMKIT_OP(NAME, ...) normkit_op_##NAME,
#include "normkit_ops.inc"
#undef NORMKIT_OP
    NORMKIT_OP_COUNT
} normkit_op;

/* Which statistics an operator's norm takes. */
typedef enum { NORMKIT_NORM_NONE = 0, NORMKIT_NORM_RMS = 1, NORMKIT_NORM_LN = 2 } normkit_norm;

/* One line of normkit_ops.inc, as data. */
typedef struct normkit_op_info {
    const char *name;      /* "rmsnorm", "add_layernorm", ... */
    normkit_norm norm;
    int residual;          /* reads r and writes x + r into it */
    int beta;              /* takes beta */
    int linear;            /* multiplies by W^T: reads W [n x dim] and bias, writes y [rows x n] */
    unsigned mats_read;    /* rows x dim matrices read per call */
    unsigned mats_written; /* rows x dim matrices written per call (linear: y is rows x n) */
    unsigned vecs;         /* dim-long vectors read per call (gamma, beta) */
    int elementwise;       /* no norm, not linear: y[i][j] depends on x[i][j] (and r[i][j]) only
                            * (gelu, silu, add, mul; r is a second input when mats_read == 2) */
} normkit_op_info;

/* The operator's line; NULL outside the enum. */
NORMKIT_API const normkit_op_info *normkit_op_get(normkit_op op);
/* Its name; NULL outside the enum. */
NORMKIT_API const char *normkit_op_name(normkit_op op);
/* The operator named `name`, or -1. */
NORMKIT_API int normkit_op_from_name(const char *name);

/* One call's arguments, for any operator: the members an operator does not take are ignored
 * (see the args column of normkit_ops.inc). */
typedef struct normkit_args {
    size_t rows, dim;
    const float *x;
    size_t ldx;
    float *r; /* residual operators: read, then overwritten with x + r */
    size_t ldr;
    const float *gamma, *beta;
    float eps;
    float *y;
    size_t ldy;
    /* linear operators: W [n x dim] with stride ldw (0: packed panels, see normkit_kernel.h),
     * bias (n floats or NULL), and the workspace of the fused ones */
    size_t n;
    const float *w;
    size_t ldw;
    const float *bias;
    float *ws;
    /* The knobs the variant runs with. normkit_kernel_call passes them as they are (NULL:
     * none of the memory modes); normkit_op_run uses the active variant's registry knobs
     * when this is NULL. */
    const normkit_kparams *kp;
    /* linear operators: applied to each finished output (normkit_kernel.h); NULL: none.
     * normkit_args_check refuses (NORMKIT_ERR_SHAPE) an act outside the enum, and mul or add
     * with a stride below n, not addressable, or overlapping y. */
    const normkit_epilogue *epi;
} normkit_args;

/* A compiled knob of a variant (normkit_kernel.knobs): its name in the variant's name and its
 * value, e.g. {"u", 4} (output-pass unroll) or {"acc", 8} (statistics accumulators). */
typedef struct normkit_knob {
    const char *name;
    unsigned value;
} normkit_knob;
#define NORMKIT_MAX_KNOBS 4

typedef struct normkit_kernel {
    /* "normkit_rmsnorm_f32__avx512_u4_acc8": the function, and its file's name
     * (kernels/rmsnorm/rmsnorm_f32__avx512_u4_acc8.c) */
    const char *name;
    normkit_op op;
    const char *dtype; /* "f32" */
    normkit_isa isa;
    union {            /* the member named after `op` is set: rmsnorm_f32, layernorm_f32, ... */
#define NORMKIT_OP(NAME, ...) normkit_##NAME##_f32_ukernel *NAME##_f32;
#include "normkit_ops.inc"
#undef NORMKIT_OP
    } fn;
    normkit_kparams params; /* the variant's default run-time knobs */
    /* The compiled knobs: as the name's suffix after the ISA ("u4_acc8"; "" for a variant
     * without any), and as data (ending at the first NULL name). Several variants of one
     * operator and ISA differ only in these; the dispatcher picks one per shape class. */
    const char *variant;
    normkit_knob knobs[NORMKIT_MAX_KNOBS];
} normkit_kernel;

/* Every variant in this build, grouped by operator, best first within an operator;
 * *count receives the length. Variants whose ISA the CPU lacks are listed too: check
 * normkit_isa_supported(k->isa) before calling one. */
NORMKIT_API const normkit_kernel *normkit_kernel_list(size_t *count);
/* The default variant of `op` for exactly `isa` (the first listed), or NULL if this build has
 * none. */
NORMKIT_API const normkit_kernel *normkit_kernels_for(normkit_isa isa, normkit_op op);
/* The active ISA's default variant of `op` (resolving it if needed); NULL outside the enum.
 * Norm operators with several variants per ISA run the one normkit_kernel_select picks. */
NORMKIT_API const normkit_kernel *normkit_kernel_active(normkit_op op);

/* Shape classes: where a call's working set (every matrix it reads or writes, plus gamma and
 * beta) fits — L1d, L2, or neither (mem), by the cache sizes normkit_cpu_caches reads — and
 * whether it is one row or more. The dispatcher's default variant per operator, ISA and class
 * is data (kernels/normkit_defaults.inc, from the manifest in tools/gen/generate.py). */
typedef enum {
    NORMKIT_CLASS_L1_ROW,
    NORMKIT_CLASS_L1_ROWS,
    NORMKIT_CLASS_L2_ROW,
    NORMKIT_CLASS_L2_ROWS,
    NORMKIT_CLASS_MEM_ROW,
    NORMKIT_CLASS_MEM_ROWS,
    NORMKIT_CLASS_COUNT
} normkit_shape_class;
/* "l1_row", "l1_rows", ...; NULL outside the enum. */
NORMKIT_API const char *normkit_shape_class_name(normkit_shape_class c);
/* The class of a call of `op` on rows x dim (rows, dim >= 1): its working set is every
 * distinct rows x dim matrix it reads or writes (x, y, and r once for the add & norm
 * operators) plus gamma and beta, saturating at SIZE_MAX. NORMKIT_CLASS_COUNT for the linear
 * operators (their working set is W's) and outside the operator enum. */
NORMKIT_API normkit_shape_class normkit_shape_class_of(normkit_op op, size_t rows, size_t dim);
/* The table's default variant for (op, isa, class) in this build; NULL when the table names
 * none (the ISA's first variant runs) or an argument is outside its enum. */
NORMKIT_API const normkit_kernel *normkit_kernel_class_default(normkit_op op, normkit_isa isa,
                                                              normkit_shape_class c);
/* The variant the public entry point of `op` calls for rows x dim now: the active ISA's
 * default for the call's class (or its default variant, for operators and classes the table
 * does not name). NULL outside the operator enum. */
NORMKIT_API const normkit_kernel *normkit_kernel_select(normkit_op op, size_t rows, size_t dim);

/* Tuning (docs/tuning.md). A tuning file named by NORMKIT_TUNING is read on the library's
 * first use (or one given to normkit_tuning_load, below) and then changes, per operator, ISA and class, the variant the table above names
 * and the knobs it runs with; a file that fails any check is ignored as a whole, with one
 * warning on stderr. normkit_tuning_active: that file's path, or NULL for the built-in
 * defaults. normkit_class_params: the knobs the entry points pass to the variant that runs
 * class c of op on isa (the file's, else that variant's registry knobs); for the linear
 * operators c must be NORMKIT_CLASS_COUNT (they have one set per ISA). NULL for arguments
 * outside their enums or an ISA without a variant of op in this build. */
NORMKIT_API const char *normkit_tuning_active(void);
NORMKIT_API const normkit_kparams *normkit_class_params(normkit_op op, normkit_isa isa,
                                                       normkit_shape_class c);
/* Loads a tuning file now, as NORMKIT_TUNING does on first use, all or nothing: 0 when applied,
 * else -1 with the reason in err (NUL-terminated, truncated to errlen; err may be NULL) and the
 * active tuning unchanged. path NULL or "": back to the built-in defaults. Safe while other
 * threads call the entry points or normkit_isa_force: each call runs with one whole tuning, the
 * old or the new one, never a mix. A load's tables (a few KiB) stay allocated until the
 * process exits, since a call in flight may still read the one it replaced. */
NORMKIT_API int normkit_tuning_load(const char *path, char *err, size_t errlen);
/* Checks a tuning file's text (len bytes) as NORMKIT_TUNING's loader does, for this build and
 * this machine, without applying it: 0 when it would be applied, else -1 with the reason in
 * err (NUL-terminated, truncated to errlen). */
NORMKIT_API int normkit_tuning_check(const char *json, size_t len, char *err, size_t errlen);

/* Calls variant k (of operator k->op) with a's members, in the order of its signature, and
 * a->kp as its knobs. No checks: a must meet the kernel-level contract above, and k's ISA
 * must be supported (normkit_isa_supported). k's fn member must match k->op. */
NORMKIT_API void normkit_kernel_call(const normkit_kernel *k, const normkit_args *a);
/* The public entry points' argument rules for `op` (include/normkit.h): NORMKIT_OK when a
 * meets them (rows == 0 is OK without looking further), else the status the entry point
 * returns. NORMKIT_ERR_NULL for a == NULL; NORMKIT_ERR_SHAPE for an op outside the enum. */
NORMKIT_API normkit_status normkit_args_check(normkit_op op, const normkit_args *a);
/* What every typed entry point does: normkit_args_check, then the active variant of `op`
 * (with a->kp, or its registry knobs when a->kp is NULL). */
NORMKIT_API normkit_status normkit_op_run(normkit_op op, const normkit_args *a);

/* Linear operators: `in` with lin_kc and lin_mc filled where they are 0, from the cache sizes
 * the library reads (what the entry points pass their variant), for a call of `rows` x `dim`. */
NORMKIT_API void normkit_linear_resolve_knobs(const normkit_kparams *in, size_t rows, size_t dim,
                                              normkit_kparams *out);
/* Floats of the packed panels of an n x dim W in the layout kp->pack_nr / pack_vl describe
 * (0 when n or dim is 0 or the size overflows). */
NORMKIT_API size_t normkit_linear_panels_floats(const normkit_kparams *kp, size_t n, size_t dim);
/* Writes those panels (W times gamma per column when gamma is not NULL) into out, which has
 * normkit_linear_panels_floats(kp, n, dim) floats: what a variant with these knobs reads when
 * called with ldw == 0. */
NORMKIT_API void normkit_linear_pack_panels(const normkit_kparams *kp, size_t n, size_t dim,
                                            const float *w, size_t ldw, const float *gamma,
                                            float *out);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_KERNELS_H */
