/*
 * Eigen 3 peers: RMSNorm, LayerNorm and their add+norm forms written as Eigen array
 * expressions, one row at a time — how an engine holding row-major activations would write
 * them (a whole-matrix expression would make two passes over a matrix that may not fit in
 * cache). Eigen vectorizes the reductions itself, so this is "the compiler plus a good C++
 * library" — built with -O3 -march=native, like the autovec rebuilds.
 *
 * The only C++ besides bench_main.cc: Eigen is a C++ library, and these functions need the
 * native ISA flags that the harness itself must not be built with.
 */
#include <cmath>
#include <cstddef>

#include <Eigen/Core>

#include "peers.h"

using Row = Eigen::Map<Eigen::ArrayXf>;
using CRow = Eigen::Map<const Eigen::ArrayXf>;

extern "C" void nkb_eigen_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                      const float *gamma, float eps, float *y, size_t ldy,
                                      const normkit_kparams *)
{
    const Eigen::Index n = (Eigen::Index)dim;
    const CRow g(gamma, n);
    for (size_t i = 0; i < rows; i++) {
        const CRow xr(x + i * ldx, n);
        const float scale = 1.0f / std::sqrt(xr.square().mean() + eps);
        Row(y + i * ldy, n) = xr * scale * g;
    }
}

extern "C" void nkb_eigen_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                        const float *gamma, const float *beta, float eps,
                                        float *y, size_t ldy, const normkit_kparams *)
{
    const Eigen::Index n = (Eigen::Index)dim;
    const CRow g(gamma, n), b(beta, n);
    for (size_t i = 0; i < rows; i++) {
        const CRow xr(x + i * ldx, n);
        const float mean = xr.mean();
        const float var = (xr - mean).square().mean();
        const float scale = 1.0f / std::sqrt(var + eps);
        Row(y + i * ldy, n) = (xr - mean) * scale * g + b;
    }
}

extern "C" void nkb_eigen_add_rmsnorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                          float *r, size_t ldr, const float *gamma, float eps,
                                          float *y, size_t ldy, const normkit_kparams *)
{
    const Eigen::Index n = (Eigen::Index)dim;
    const CRow g(gamma, n);
    for (size_t i = 0; i < rows; i++) {
        Row h(r + i * ldr, n);
        h += CRow(x + i * ldx, n);
        const float scale = 1.0f / std::sqrt(h.square().mean() + eps);
        Row(y + i * ldy, n) = h * scale * g;
    }
}

extern "C" void nkb_eigen_add_layernorm_f32(size_t rows, size_t dim, const float *x, size_t ldx,
                                            float *r, size_t ldr, const float *gamma,
                                            const float *beta, float eps, float *y, size_t ldy,
                                            const normkit_kparams *)
{
    const Eigen::Index n = (Eigen::Index)dim;
    const CRow g(gamma, n), b(beta, n);
    for (size_t i = 0; i < rows; i++) {
        Row h(r + i * ldr, n);
        h += CRow(x + i * ldx, n);
        const float mean = h.mean();
        const float var = (h - mean).square().mean();
        const float scale = 1.0f / std::sqrt(var + eps);
        Row(y + i * ldy, n) = (h - mean) * scale * g + b;
    }
}

#define NKB_STR_(x) #x
#define NKB_STR(x) NKB_STR_(x)

extern "C" const char *nkb_eigen_version(void)
{
    return NKB_STR(EIGEN_WORLD_VERSION) "." NKB_STR(EIGEN_MAJOR_VERSION) "." NKB_STR(
        EIGEN_MINOR_VERSION);
}

extern "C" const char *nkb_eigen_simd(void)
{
    return Eigen::SimdInstructionSetsInUse();
}
