/*
 * normkit_layernorm_linear_f32__scalar — y = LayerNorm(x) . W^T + bias, f32, portable C.
 * Composed (NORMKIT_NORM_LINEAR in normkit_kernel.h) from normkit_layernorm_f32__scalar and
 * normkit_linear_f32__scalar; lifting this file needs those two.
 */
#include "normkit_kernel.h"

/* the norm variant: its ISA's default for row blocks (tools/gen/generate.py, DEFAULTS) */
NORMKIT_NORM_LINEAR(layernorm, scalar, )
