/*
 * The operator table and the kernel registry: expands kernels/normkit_ops.inc (the operators)
 * and every operator's enumerator (kernels/<op>/<op>.inc, through the generated
 * normkit_enumerators.inc) into declarations, tables and the generic call. Nothing here names
 * an operator or a kernel by hand.
 */
#include <stdint.h>
#include <string.h>

#include "normkit_config.h"
#include "normkit_kernels.h"

/* The ISA token of an enumerator line, as the enum value. */
enum {
    normkit_isa_id_scalar = NORMKIT_ISA_SCALAR,
    normkit_isa_id_avx2 = NORMKIT_ISA_AVX2,
    normkit_isa_id_avx512 = NORMKIT_ISA_AVX512,
    normkit_isa_id_neon = NORMKIT_ISA_NEON,
    normkit_isa_id_sve = NORMKIT_ISA_SVE,
};

/* ---- operators ---- */

#define NORMKIT_OP(NAME, NORM, RES, BETA, LIN, MR, MW, VECS, ...)                                 \
    {#NAME, NORMKIT_NORM_##NORM, RES, BETA, LIN, MR, MW, VECS,                                    \
     NORMKIT_NORM_##NORM == NORMKIT_NORM_NONE && !(LIN)},
static const normkit_op_info ops[NORMKIT_OP_COUNT] = {
#include "normkit_ops.inc"
};
#undef NORMKIT_OP

const normkit_op_info *normkit_op_get(normkit_op op)
{
    return (unsigned)op < NORMKIT_OP_COUNT ? &ops[op] : NULL;
}

const char *normkit_op_name(normkit_op op)
{
    return (unsigned)op < NORMKIT_OP_COUNT ? ops[op].name : NULL;
}

int normkit_op_from_name(const char *name)
{
    for (int op = 0; name && op < NORMKIT_OP_COUNT; op++)
        if (strcmp(ops[op].name, name) == 0)
            return op;
    return -1;
}

/* ---- the generic call: one adapter per operator, from its args column ---- */

/* NORMKIT_JOIN (normkit_kernel.h) appends the kernel-only arguments to the entry point's */
#define NORMKIT_OP(NAME, NORM, RES, BETA, LIN, MR, MW, VECS, PARAMS, KPARAMS, ARGS, KARGS)       \
    static void call_##NAME(const normkit_kernel *k, const normkit_args *A)                        \
    {                                                                                              \
        k->fn.NAME##_f32 NORMKIT_JOIN(ARGS, KARGS);                                                \
    }
#include "normkit_ops.inc"
#undef NORMKIT_OP

typedef void caller(const normkit_kernel *k, const normkit_args *a);
#define NORMKIT_OP(NAME, ...) call_##NAME,
static caller *const callers[NORMKIT_OP_COUNT] = {
#include "normkit_ops.inc"
};
#undef NORMKIT_OP

void normkit_kernel_call(const normkit_kernel *k, const normkit_args *a)
{
    callers[k->op](k, a);
}

/* ---- variants ---- */

/* Declarations: `normkit_rmsnorm_f32_ukernel normkit_rmsnorm_f32__avx512_u4_acc8;` and so on
 * (VAR, the knob suffix, may be empty). */
#define NORMKIT_KERNEL(OP, DT, ISA, VAR, KNOBS, ...)                                               \
    normkit_##OP##_##DT##_ukernel normkit_##OP##_##DT##__##ISA##VAR;
#include "normkit_enumerators.inc"
#undef NORMKIT_KERNEL

#define NORMKIT_KNOBS(...) {__VA_ARGS__}
#define NORMKIT_KERNEL(OP, DT, ISA, VAR, KNOBS, ...)                                               \
    {.name = "normkit_" #OP "_" #DT "__" #ISA #VAR,                                                \
     .op = normkit_op_##OP,                                                                        \
     .dtype = #DT,                                                                                 \
     .isa = (normkit_isa)normkit_isa_id_##ISA,                                                     \
     .fn.OP##_##DT = normkit_##OP##_##DT##__##ISA##VAR,                                            \
     .params = __VA_ARGS__,                                                                        \
     .variant = #VAR + (sizeof #VAR > 1), /* without its leading '_' */                            \
     .knobs = KNOBS},
static const normkit_kernel registry[] = {
#include "normkit_enumerators.inc"
};
#undef NORMKIT_KERNEL
#undef NORMKIT_KNOBS

const normkit_kernel *normkit_kernel_list(size_t *count)
{
    if (count)
        *count = sizeof registry / sizeof registry[0];
    return registry;
}

const normkit_kernel *normkit_kernels_for(normkit_isa isa, normkit_op op)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (registry[i].isa == isa && registry[i].op == op)
            return &registry[i];
    return NULL;
}
