/*
 * normkit_block.h — whole transformer FFN blocks, composed from normkit's kernels.
 *
 *   pre-norm  (GPT, Llama):        h = x + FFN(Norm(x))
 *   post-norm (Transformer, BERT): h = Norm(x + FFN(x))
 *   FFN(u) = W2 . act(W1 . u + b1) + b2                       (hidden size: any, usually 4 d)
 *   gated:   W2 . (act(W1 . u + b1) * (W3 . u + b3)) + b2     (Llama's SwiGLU: act = SiLU,
 *                                                              no biases, hidden 8/3 d rounded)
 * with Norm = RMSNorm or LayerNorm (gamma, beta, eps as in normkit.h) and act = GELU (exact,
 * erf) or SiLU. W1, W3 are [hidden x dim] and W2 [dim x hidden], row-major like
 * torch.nn.Linear.weight; "W . u" is u W^T.
 *
 * A block runs one of three paths, each over a chosen ISA's kernels:
 *   NORMKIT_PATH_SCALAR   the scalar variants of every step (the baseline);
 *   NORMKIT_PATH_UNFUSED  one call per step: norm, linear, activation, (gate product), linear,
 *                         residual add (post-norm: add, then norm);
 *   NORMKIT_PATH_FUSED    pre-norm: norm + linear (gamma and beta folded into W1, W3 and
 *                         their biases), the activation (and gate product) in W1's (W3's)
 *                         epilogue, the residual add in W2's epilogue; post-norm: the
 *                         activation in W1's epilogue, then add + norm in one kernel.
 * The unfused and fused paths read weights packed at creation in the layout of their ISA's
 * linear variant; both give the same results as the scalar path up to rounding (bounds in
 * docs/numerics.md, "Blocks"; tests/test_block.c checks each against a float64 block).
 *
 * The code (dispatch/block.c) is meant to be read: it shows exactly how the kernels compose.
 */
#ifndef NORMKIT_BLOCK_H
#define NORMKIT_BLOCK_H

#include "normkit_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NORMKIT_PRENORM = 0, NORMKIT_POSTNORM = 1 } normkit_layout;
typedef enum {
    NORMKIT_PATH_SCALAR = 0,
    NORMKIT_PATH_UNFUSED = 1,
    NORMKIT_PATH_FUSED = 2
} normkit_block_path;

/* "prenorm", "postnorm"; "scalar", "unfused", "fused"; "gelu", "silu" (NULL outside the enums);
 * and the parsers of those names (-1 for anything else). */
NORMKIT_API const char *normkit_layout_name(normkit_layout l);
NORMKIT_API const char *normkit_block_path_name(normkit_block_path p);
NORMKIT_API const char *normkit_act_name(normkit_act a);
NORMKIT_API int normkit_layout_from_name(const char *name);
NORMKIT_API int normkit_block_path_from_name(const char *name);
NORMKIT_API int normkit_act_from_name(const char *name);

/* A block's definition. The arrays are copied (packed) by normkit_block_create and need not
 * outlive the call. Matrices are contiguous (strides dim and hidden). */
typedef struct normkit_block_desc {
    normkit_layout layout;
    normkit_norm norm;   /* NORMKIT_NORM_RMS or NORMKIT_NORM_LN */
    normkit_act act;     /* NORMKIT_ACT_GELU or NORMKIT_ACT_SILU */
    int gated;           /* 1: the gated FFN (needs w3) */
    size_t dim, hidden;
    float eps;           /* finite, >= 0 */
    const float *gamma;  /* dim floats, or NULL (1) */
    const float *beta;   /* dim floats, or NULL (0); LayerNorm only (must be NULL for RMSNorm) */
    const float *w1, *b1; /* [hidden x dim]; hidden floats or NULL */
    const float *w3, *b3; /* gated only: [hidden x dim]; hidden floats or NULL */
    const float *w2, *b2; /* [dim x hidden]; dim floats or NULL */
} normkit_block_desc;

typedef struct normkit_block normkit_block;

/*
 * Builds a block running `path` on `isa`'s kernels (NORMKIT_ISA_AUTO: the dispatcher's active
 * ISA now; any ISA of the enum is accepted, and ignored, for NORMKIT_PATH_SCALAR). Statuses:
 * NORMKIT_ERR_NULL (d, out, a required weight); NORMKIT_ERR_SHAPE (dim or hidden 0 or too
 * large, a norm, act, layout, path or isa outside its enum, w3 or b3 given without gated, beta
 * with RMSNorm); NORMKIT_ERR_EPS;
 * NORMKIT_ERR_UNSUPPORTED (an ISA this CPU or build cannot run); NORMKIT_ERR_NOMEM. On any
 * error *out is NULL and nothing leaks. The block is immutable: threads may share it, each
 * with its own workspace. It keeps running on `isa` whatever normkit_isa_force says later.
 */
NORMKIT_API normkit_status normkit_block_create(const normkit_block_desc *d, normkit_isa isa,
                                                normkit_block_path path, normkit_block **out);
NORMKIT_API void normkit_block_free(normkit_block *b); /* NULL is fine */

/* The ISA and path a block runs, and its FLOPs per row (2 per multiply-add of the matmuls). */
NORMKIT_API normkit_isa normkit_block_isa(const normkit_block *b);
NORMKIT_API normkit_block_path normkit_block_get_path(const normkit_block *b);
NORMKIT_API double normkit_block_flops_per_row(const normkit_block *b);

/* Bytes of workspace normkit_block_forward needs for `rows` rows (0 if b is NULL or the size
 * overflows). */
NORMKIT_API size_t normkit_block_ws_bytes(const normkit_block *b, size_t rows);

/*
 * h = Block(x) for `rows` rows: x [rows x dim] with stride ldx >= dim, h [rows x dim] with
 * ldh >= dim. h must not overlap x (NORMKIT_ERR_SHAPE). ws: at least
 * normkit_block_ws_bytes(b, rows) bytes (any alignment; NORMKIT_ERR_SHAPE if ws_bytes is
 * smaller), not overlapping x or h (not checked: results are then unspecified), or NULL, when
 * the call allocates (and frees) it itself (NORMKIT_ERR_NOMEM if it cannot). rows == 0 is a
 * no-op.
 * NORMKIT_ERR_NULL for b, x or h NULL. Rows are independent: a row holding NaN or Inf gives
 * NaN or Inf only in its own h.
 */
NORMKIT_API normkit_status normkit_block_forward(const normkit_block *b, size_t rows,
                                                 const float *x, size_t ldx, float *h,
                                                 size_t ldh, void *ws, size_t ws_bytes);

#ifdef __cplusplus
}
#endif

#endif /* NORMKIT_BLOCK_H */
