/*
 * nkx_normkit.h: normkit kernels for avx2, exported by normkit-export (nkx_normkit_avx2.c).
 *   command: normkit-export --isa avx2 --ops rmsnorm,linear,rmsnorm_linear --l1d 49152 --l2
 *     1048576 --prefix nkx_ -o DIR
 *   tuning: built-in defaults (kernels/normkit_defaults.inc and the registry's knobs);
 *     caches L1d 49152 B, L2 1048576 B
 *
 * Each nkx_OP_f32 takes exactly the parameters of normkit's public normkit_OP_f32 and applies
 * its argument rules: 0 on success; otherwise, writing nothing, 1 (a NULL x, y, r or w),
 * 2 (dim or n 0, a stride below dim or n, a size beyond the address space, y == r, y == x
 * with another stride, or, for the linear ops, y overlapping x, W, bias, gamma or beta),
 * 3 (eps negative, NaN or infinite), 5 (out of memory: the linear ops allocate their
 * workspace, 64-byte aligned, with aligned_alloc and free it before returning).
 * rows == 0 returns 0 and looks at nothing else. Strides count elements; no alignment is
 * needed; gamma/beta/bias may be NULL (1, 0, 0); y may be exactly x (same stride) for the
 * norms. Thread-safe: no state.
 *
 * Numerics (normkit's, bit for bit the library's avx2 variants with these knobs):
 * float accumulation; LayerNorm shifts its statistics by the row's first element and keeps
 * the mean as a pair of floats (never E[x^2] - E[x]^2); rows whose float statistics could
 * overflow or underflow are recomputed in double; a row with NaN or Inf gives NaN throughout
 * (add+norm still writes r = x + r); zero spread with eps == 0 gives y = 0 (RMSNorm) or beta.
 *
 * nkx_rmsnorm_f32: y = x / sqrt(mean(x^2) + eps) * gamma
 *   bound (u = 2^-24, against exact arithmetic; float accumulation): |y - y_exact| <= (dim/2 +
 *     6) u |y_exact|
 *   every shape class: nkx_nk_rmsnorm_f32__avx2_u4_acc8 (nt_min_bytes 33554432, dram_min_bytes
 *     33554432, pipe_max_dim 2048)
 *
 * nkx_linear_f32: y = x . W^T + bias  (W [n x dim] row-major, like torch.nn.Linear.weight)
 *   each output within (dim + 4) u sum_k |A_k W_jk| + u |y| of the exact product of the
 *     (normalized) row A
 *   kernel nkx_nk_linear_f32__avx2; knobs lin_kc 0, lin_mc 0, lin_prefetch 0, lin_pack_rows 0;
 *     blocking from L1d 49152 B, L2 1048576 B
 *
 * nkx_rmsnorm_linear_f32: y = RMSNorm(x) . W^T + bias
 *   bound (u = 2^-24, against exact arithmetic; float accumulation): |y - y_exact| <= (dim/2 +
 *     6) u |y_exact|
 *   each output within (dim + 4) u sum_k |A_k W_jk| + u |y| of the exact product of the
 *     (normalized) row A, plus the norm's bound carried through W
 *   kernel nkx_nk_rmsnorm_linear_f32__avx2 (norm: nkx_nk_rmsnorm_f32__avx2_u4_acc8); knobs
 *     lin_kc 0, lin_mc 0, lin_prefetch 0, lin_pack_rows 0; blocking from L1d 49152 B, L2
 *     1048576 B
 *
 * Flags: none. The avx2 kernels carry target attributes; call them only on a CPU that has
 * the ISA: nkx_normkit_avx2_supported() says so (1 for scalar and neon; sve asks HWCAP_SVE).
 * Linking: the C library (and libm for sqrt).
 *
 * Copyright (c) the normkit authors. MIT License (normkit's, see its meson.build):
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 * and associated documentation files (the "Software"), to deal in the Software without
 * restriction, including without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 * Software is furnished to do so, subject to the following conditions: The above copyright
 * notice and this permission notice shall be included in all copies or substantial portions of
 * the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 * IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A
 * PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
 * LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 * OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
 * IN THE SOFTWARE.
 */
#ifndef NKX_NORMKIT_H
#define NKX_NORMKIT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the cache sizes the shape classes and the linear blocking were cut at */
#define NKX_NORMKIT_L1D_BYTES 49152
#define NKX_NORMKIT_L2_BYTES 1048576

/* 1 when this CPU (and OS) can run the avx2 kernels */
int nkx_normkit_avx2_supported(void);

int nkx_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx, const float *gamma, float eps, float *y, size_t ldy);
int nkx_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *w, size_t ldw, const float *bias, float *y, size_t ldy);
int nkx_rmsnorm_linear_f32(size_t rows, size_t dim, size_t n, const float *x, size_t ldx, const float *gamma, float eps, const float *w, size_t ldw, const float *bias, float *y, size_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* NKX_NORMKIT_H */
