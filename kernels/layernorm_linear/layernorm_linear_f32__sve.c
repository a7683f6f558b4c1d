/*
 * normkit_layernorm_linear_f32__sve — y = LayerNorm(x) . W^T + bias, f32, AArch64 SVE.
 * Composed (NORMKIT_NORM_LINEAR in normkit_kernel.h): blocks of kp->lin_mc rows are
 * normalized by normkit_layernorm_f32__sve_u4_acc4 into the workspace, then multiplied by
 * normkit_linear_f32__sve; lifting this file needs those two. Bound: the norm's bound
 * carried through the matmul, plus the matmul's (docs/numerics.md, "Norm + linear"); both
 * hold at every vector length. The wrapper itself has no SVE code, but is built for SVE like
 * its two parts (the pragma below), so nothing in the SVE library runs without SVE enabled.
 */
#pragma GCC target("+sve")
#include <arm_sve.h>

#include "normkit_kernel.h"

/* the norm variant: its ISA's default for row blocks (tools/gen/generate.py, DEFAULTS) */
NORMKIT_NORM_LINEAR(layernorm, sve, _u4_acc4)
