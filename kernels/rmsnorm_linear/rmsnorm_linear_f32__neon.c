/*
 * normkit_rmsnorm_linear_f32__neon — y = RMSNorm(x) . W^T + bias, f32, AArch64 AdvSIMD.
 * Composed (NORMKIT_NORM_LINEAR in normkit_kernel.h): blocks of kp->lin_mc rows are
 * normalized by normkit_rmsnorm_f32__neon_u4_acc4 into the workspace, then multiplied by
 * normkit_linear_f32__neon; lifting this file needs those two. Bound: the norm's bound
 * carried through the matmul, plus the matmul's (docs/numerics.md, "Norm + linear").
 */
#include "normkit_kernel.h"

/* the norm variant: its ISA's default for row blocks (tools/gen/generate.py, DEFAULTS) */
NORMKIT_NORM_LINEAR(rmsnorm, neon, _u4_acc4)
