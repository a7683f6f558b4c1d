/*
 * normkit_silu_f32__avx512 — SiLU (swish), f32, AVX-512F.
 *
 *   y = x * sigmoid(x), computed as x * (x >= 0 ? 1 : e) / (1 + e), e = exp(-|x|)
 *
 * ISA: AVX-512F (built with F+BW+VL+DQ, AVX2, FMA; the dispatcher checks OS ZMM/opmask state).
 * Passes: 1, elementwise; rows are independent.
 * Tails: one opmask load/store (vmovups {k}) for the last dim % 16 elements: masked-off
 *   lanes never fault, so no access leaves the row and dim < 16 needs no scalar loop.
 * Aliasing: y may equal x with the same stride (each element, or vector, is read before
 *   the same element of y is written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: relative <= 5u while exp(-|x|) >= FLT_MIN and |y| >= FLT_MIN, else
 *   |y - y_exact| <= 2^-148 (1 + |x|)
 *   (the tests assert it on a dense sweep). Edges: NaN -> NaN, +Inf -> +Inf, -Inf -> -0.
 * Numerics: docs/numerics.md#activations; the function itself: kernels/act/act_f32__avx512.h.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <immintrin.h>
#include <stddef.h>

#include "../act/act_f32__avx512.h"
#include "normkit_kernel.h"

normkit_silu_f32_ukernel normkit_silu_f32__avx512;

void normkit_silu_f32__avx512(size_t rows, size_t dim, const float *x, size_t ldx, float *y,
                              size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, y += ldy) {
        size_t i = 0;
        for (; i + 16 <= dim; i += 16)
            _mm512_storeu_ps(y + i, nk_silu_f32x16(_mm512_loadu_ps(x + i)));
        if (i < dim) {
            const __mmask16 k = (__mmask16)((1u << (dim - i)) - 1u);
            _mm512_mask_storeu_ps(y + i, k, nk_silu_f32x16(_mm512_maskz_loadu_ps(k, x + i)));
        }
    }
}
