/*
 * The kernel registry: expands each operator's enumerator (kernels/<op>/<op>.inc) into
 * declarations and one table. Nothing here names a kernel by hand.
 */
#include <stdint.h>

#include "normkit_config.h"
#include "normkit_kernels.h"

/* Default knobs (normkit_kparams), as data a tuner can override per variant. Measured on the
 * 2-core Xeon (family 6 model 207) KVM guest, 2026-11-26, kernels alone:
 *  - streaming stores win once a call writes ~2 MiB of y (1.2-1.9x on DRAM-sized calls) but
 *    evict y, which the next operator usually reads; 32 MiB keeps y cached wherever it fits
 *    in L2 or a typical L3 share.
 *  - memory mode (prefetching y for writing): AVX-512 +40-65% from 64 MiB, neutral at
 *    12-32 MiB, -10-25% when L2-resident; AVX2 1.3-1.4x from 64 MiB, neutral-to-worse below
 *    32 MiB. */
#define NORMKIT_NEVER SIZE_MAX
#define NORMKIT_NT_DEFAULT ((size_t)32 << 20)
#define NORMKIT_DRAM_AVX512 ((size_t)64 << 20)
#define NORMKIT_DRAM_AVX2 ((size_t)32 << 20)

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
