/*
 * normkit_kernels.h — the kernel registry: every variant compiled into this build, as data.
 *
 * Tests and benchmarks iterate this list instead of naming kernels by hand, and engines can
 * call one variant directly (bypassing dispatch and argument checks: see normkit_kernel.h
 * for what a kernel assumes).
 */
#ifndef NORMKIT_KERNELS_H
#define NORMKIT_KERNELS_H

#include "normkit.h"
#include "normkit_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NORMKIT_OP_RMSNORM = 0,
    NORMKIT_OP_LAYERNORM,
    NORMKIT_OP_ADD_RMSNORM,
    NORMKIT_OP_ADD_LAYERNORM,
    NORMKIT_OP_COUNT
} normkit_op;

/* "rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm"; NULL outside the enum. */
NORMKIT_API const char *normkit_op_name(normkit_op op);

typedef struct normkit_kernel {
    const char *name;   /* "normkit_rmsnorm_f32__avx512": the function, and its file's name */
    normkit_op op;
    const char *dtype;  /* "f32" */
    normkit_isa isa;
    union {             /* the member named after `op` is set */
        normkit_rmsnorm_f32_ukernel *rmsnorm_f32;
        normkit_layernorm_f32_ukernel *layernorm_f32;
        normkit_add_rmsnorm_f32_ukernel *add_rmsnorm_f32;
        normkit_add_layernorm_f32_ukernel *add_layernorm_f32;
    } fn;
    normkit_kparams params; /* the variant's default knobs */
} normkit_kernel;

/* Every variant in this build, grouped by operator, best first within an operator;
 * *count receives the length. Variants whose ISA the CPU lacks are listed too: check
 * normkit_isa_supported(k->isa) before calling one. */
NORMKIT_API const normkit_kernel *normkit_kernel_list(size_t *count);
/* The variant of `op` for exactly `isa`, or NULL if this build has none. */
NORMKIT_API const normkit_kernel *normkit_kernels_for(normkit_isa isa, normkit_op op);
/* The variant the dispatcher calls for `op` now (resolving it if needed); NULL outside the enum. */
NORMKIT_API const normkit_kernel *normkit_kernel_active(normkit_op op);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_KERNELS_H */
