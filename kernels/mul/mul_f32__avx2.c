/*
 * normkit_mul_f32__avx2 — elementwise product (gate * up), f32, AVX2.
 *
 *   y = x * r
 *
 * ISA: AVX2 + FMA (built with -mavx2 -mfma; the dispatcher also checks OS YMM state).
 * Passes: 1, elementwise; rows are independent.
 * Tails: one masked load/store (vmaskmovps) for the last dim % 8 elements: masked-off lanes
 *   never fault, so no access leaves the row and dim < 8 needs no scalar loop.
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

normkit_mul_f32_ukernel normkit_mul_f32__avx2;

/* Vectors per iteration: four independent load-load-op-store chains keep both load ports busy
 * and amortize the loop overhead; the operation itself is one instruction. */
enum { NK_UNROLL = 4 };

void normkit_mul_f32__avx2(size_t rows, size_t dim, const float *x, size_t ldx, const float *r,
                           size_t ldr, float *y, size_t ldy, const normkit_kparams *kp)
{
    (void)kp;
    /* the mask of the first t lanes is read at nk_tail + 8 - t */
    static const int nk_tail[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t row = 0; row < rows; row++, x += ldx, r += ldr, y += ldy) {
        size_t i = 0;
        for (; i + 8 * NK_UNROLL <= dim; i += 8 * NK_UNROLL) {
            _Pragma("GCC unroll 4") for (size_t u = 0; u < NK_UNROLL; u++)
                _mm256_storeu_ps(y + i + 8 * u, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * u),
                                                           _mm256_loadu_ps(r + i + 8 * u)));
        }
        for (; i + 8 <= dim; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(r + i)));
        if (i < dim) {
            const __m256i m = _mm256_loadu_si256((const __m256i *)(nk_tail + 8 - (dim - i)));
            _mm256_maskstore_ps(y + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m),
                                                     _mm256_maskload_ps(r + i, m)));
        }
    }
}
