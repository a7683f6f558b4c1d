/*
 * normkit_gelu_f32__avx2 — GELU (exact, erf-based), f32, AVX2.
 *
 *   y = x/2 * (1 + erf(x / sqrt 2)), computed as x/2 * erfc(-x / sqrt 2)
 *
 * ISA: AVX2 + FMA (built with -mavx2 -mfma; the dispatcher also checks OS YMM state).
 * Passes: 1, elementwise; rows are independent.
 * Tails: one masked load/store (vmaskmovps) for the last dim % 8 elements: masked-off lanes
 *   never fault, so no access leaves the row and dim < 8 needs no scalar loop.
 * Aliasing: y may equal x with the same stride (each element, or vector, is read before
 *   the same element of y is written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: relative <= 6u while erfc(-x/sqrt 2) >= FLT_MIN and |y| >= FLT_MIN, else
 *   |y - y_exact| <= 2^-148 (1 + |x|)
 *   (the tests assert it on a dense sweep). Edges: NaN -> NaN, +Inf -> +Inf, -Inf -> -0.
 * Numerics: docs/numerics.md#activations; the function itself: kernels/act/act_f32__avx2.h.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <immintrin.h>
#include <stddef.h>

#include "../act/act_f32__avx2.h"
#include "normkit_kernel.h"

normkit_gelu_f32_ukernel normkit_gelu_f32__avx2;

void normkit_gelu_f32__avx2(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                            size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    /* lanes [8 - t, 8) of a load from nk_tail + t are all-ones: the mask of the first t lanes
     * is read at nk_tail + 8 - t */
    static const int nk_tail[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        size_t i = 0;
        for (; i + 8 <= dim; i += 8)
            _mm256_storeu_ps(y + i, nk_gelu_f32x8(_mm256_loadu_ps(x + i)));
        if (i < dim) {
            const __m256i m = _mm256_loadu_si256((const __m256i *)(nk_tail + 8 - (dim - i)));
            _mm256_maskstore_ps(y + i, m, nk_gelu_f32x8(_mm256_maskload_ps(x + i, m)));
        }
    }
}
