/*
 * normkit_mul_f32__avx512 — elementwise product (gate * up), f32, AVX-512F.
 *
 *   y = x * r
 *
 * ISA: AVX-512F (built with F+BW+VL+DQ, AVX2, FMA; the dispatcher checks OS ZMM/opmask state).
 * Passes: 1, elementwise; rows are independent.
 * Tails: one opmask load/store (vmovups {k}) for the last dim % 16 elements: masked-off
 *   lanes never fault, so no access leaves the row and dim < 16 needs no scalar loop.
 * Aliasing: y may equal x, or r, with the same stride (each vector is read before the same
 *   lanes of y are written).
 * kp: ignored (no memory modes; the registry's knobs are "never").
 * Bound: exact: one IEEE float operation per element (overflow gives +-Inf, NaN stays
 *   NaN), the same bits on every ISA. Numerics: docs/numerics.md#activations.
 * Contract: normkit_kernels.h (elementwise operators).
 */
#include <immintrin.h>
#include <stddef.h>

#include "normkit_kernel.h"

normkit_mul_f32_ukernel normkit_mul_f32__avx512;

/* Vectors per iteration: four independent load-load-op-store chains keep both load ports busy
 * and amortize the loop overhead; the operation itself is one instruction. */
enum { NK_UNROLL = 4 };

void normkit_mul_f32__avx512(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                             size_t ldr, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        size_t i = 0;
        for (; i + 16 * NK_UNROLL <= dim; i += 16 * NK_UNROLL) {
            _Pragma("GCC unroll 4") for (size_t u = 0; u < NK_UNROLL; u++)
                _mm512_storeu_ps(y + i + 16 * u, _mm512_mul_ps(_mm512_loadu_ps(x + i + 16 * u),
                                                            _mm512_loadu_ps(r + i + 16 * u)));
        }
        for (; i + 16 <= dim; i += 16)
            _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(r + i)));
        if (i < dim) {
            const __mmask16 k = (__mmask16)((1u << (dim - i)) - 1u);
            _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i),
                                                        _mm512_maskz_loadu_ps(k, r + i)));
        }
    }
}
