/*
 * Peers: what users would otherwise pick, behind the same kernel signatures as normkit's own
 * variants (kernels/normkit_kernel.h), so the harness times them exactly like a variant.
 * Each is optional (bench/meson.build sets NKB_HAVE_EIGEN / NKB_HAVE_ONEDNN).
 *
 * They assume what the harness passes: gamma (and beta) present, eps > 0, dense rows.
 */
#ifndef NKB_PEERS_H
#define NKB_PEERS_H

#include <stddef.h>

#include "normkit_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Eigen 3 expressions, row by row (bench/peers/eigen.cc, built with -O3 -march=native). */
normkit_rmsnorm_f32_ukernel nkb_eigen_rmsnorm_f32;
normkit_layernorm_f32_ukernel nkb_eigen_layernorm_f32;
normkit_add_rmsnorm_f32_ukernel nkb_eigen_add_rmsnorm_f32;
normkit_add_layernorm_f32_ukernel nkb_eigen_add_layernorm_f32;
const char *nkb_eigen_version(void);  /* "3.4.0" */
const char *nkb_eigen_simd(void);     /* the instruction sets Eigen was compiled for */

/* oneDNN layer_normalization, forward inference, with scale and shift (bench/peers/onednn.c).
 * nkb_onednn_init() limits the OpenMP runtime to one thread, runs one primitive and checks
 * that no thread was started; it returns 0 when the peer is usable and describes the
 * library and the threading in `info` either way. */
int nkb_onednn_init(char *info, size_t infolen);
normkit_layernorm_f32_ukernel nkb_onednn_layernorm_f32;
/* NULL, or what went wrong in the last call (the harness then reports the case as an error). */
const char *nkb_onednn_error(void);
void nkb_onednn_fini(void);

#ifdef __cplusplus
}
#endif

#endif
