/*
 * normkit_layernorm_linear_f32__avx2 — y = LayerNorm(x) . W^T + bias, f32, AVX2 + FMA.
 * Composed (NORMKIT_NORM_LINEAR in normkit_kernel.h): blocks of kp->lin_mc rows are
 * normalized by normkit_layernorm_f32__avx2_u4_acc4 into the workspace, then multiplied by
 * normkit_linear_f32__avx2; lifting this file needs those two. Bound: the norm's bound
 * carried through the matmul, plus the matmul's (docs/numerics.md, "Norm + linear").
 */
#include <immintrin.h>

#include "normkit_kernel.h"

/* the norm variant: its ISA's default for row blocks (tools/gen/generate.py, DEFAULTS) */
NORMKIT_NORM_LINEAR(layernorm, avx2, _u4_acc4)
