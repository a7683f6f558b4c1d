/*
 * The kernel registry: expands each operator's enumerator (kernels/<op>/<op>.inc) into
 * declarations and one table. Nothing here names a kernel by hand.
 */
#include <stdint.h>

#include "normkit_config.h"
#include "normkit_kernels.h"

/* Streaming-store thresholds, as data the tuner can override per variant. */
#define NORMKIT_NT_NEVER SIZE_MAX
#define NORMKIT_NT_DEFAULT NORMKIT_NT_NEVER

enum {
    normkit_opid_rmsnorm = NORMKIT_OP_RMSNORM,
    normkit_opid_layernorm = NORMKIT_OP_LAYERNORM,
    normkit_opid_add_rmsnorm = NORMKIT_OP_ADD_RMSNORM,
    normkit_opid_add_layernorm = NORMKIT_OP_ADD_LAYERNORM,
};

/* Declarations: `normkit_rmsnorm_f32_ukernel normkit_rmsnorm_f32__scalar;` and so on. */
#define NORMKIT_KERNEL(OP, DT, ISA, ISA_ENUM, ...) normkit_##OP##_##DT##_ukernel normkit_##OP##_##DT##__##ISA;
#include "rmsnorm/rmsnorm.inc"
#include "layernorm/layernorm.inc"
#include "add_rmsnorm/add_rmsnorm.inc"
#include "add_layernorm/add_layernorm.inc"
#undef NORMKIT_KERNEL

#define NORMKIT_KERNEL(OP, DT, ISA, ISA_ENUM, ...)                                              \
    {.name = "normkit_" #OP "_" #DT "__" #ISA,                                                   \
     .op = (normkit_op)normkit_opid_##OP,                                                        \
     .dtype = #DT,                                                                               \
     .isa = ISA_ENUM,                                                                            \
     .fn.OP##_##DT = normkit_##OP##_##DT##__##ISA,                                               \
     .params = __VA_ARGS__},
static const normkit_kernel registry[] = {
#include "rmsnorm/rmsnorm.inc"
#include "layernorm/layernorm.inc"
#include "add_rmsnorm/add_rmsnorm.inc"
#include "add_layernorm/add_layernorm.inc"
};
#undef NORMKIT_KERNEL

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

const char *normkit_op_name(normkit_op op)
{
    static const char *const names[NORMKIT_OP_COUNT] = {"rmsnorm", "layernorm", "add_rmsnorm",
                                                        "add_layernorm"};
    return (unsigned)op < NORMKIT_OP_COUNT ? names[op] : NULL;
}
