/*
 * Peers: what users would otherwise pick, behind the same kernel signatures as normkit's own
 * variants (kernels/normkit_kernel.h), so the harness times them exactly like a variant.
 * Each is optional (bench/meson.build sets NKB_HAVE_EIGEN / NKB_HAVE_ONEDNN / NKB_HAVE_TORCH ...).
 *
 * They assume what the harness passes: gamma (and beta) present, eps > 0, dense rows.
 */
#ifndef NKB_PEERS_H
#define NKB_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "normkit_block.h"
#include "normkit_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Shared by the peers (bench/peers/common.c): the process's thread count (-1 if unknown), and
 * omp_set_num_threads(1) when an OpenMP runtime is loaded (returning its omp_get_max_threads,
 * or NULL when there is none). */
int nkb_thread_count(void);
/* Part of a packed-weights cache key besides the pointers and the shape: 8 values of every
 * row of W and all of the bias, so weights refilled at the same address (a freed buffer
 * handed out again) are noticed; a few values changed in place may not be. */
uint64_t nkb_weights_fingerprint(const float *w, size_t dim, size_t n, size_t ldw,
                                 const float *bias);
typedef int nkb_omp_max_threads_fn(void);
nkb_omp_max_threads_fn *nkb_omp_limit_to_one(void);

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

/* A linear peer: y[rows x n] = a[rows x dim] · w[n x dim]^T + bias (row-major; w is laid out
 * exactly like torch.nn.Linear.weight; bias has n floats), single-threaded.
 * prepare(): untimed; called before the timed calls of one case with that case's shape and the
 *   weights it will use; builds primitives, reorders/packs weights, caches them (keyed by the
 *   arguments, so a repeat call with the same ones is free). Returns NULL, or a message.
 * run(): timed; the same rows/dim/n/w/bias as the last prepare(); returns NULL or a message
 *   (the harness then reports the case as an error). Keep it to the peer's own compute call(s).
 * fini(): frees everything. */
typedef struct nkb_linear_peer {
    const char *name; /* "onednn", "openblas", "xnnpack": the isa field of the benchmark name */
    const char *(*prepare)(size_t rows, size_t dim, size_t n, const float *w, size_t ldw, const float *bias);
    const char *(*run)(size_t rows, size_t dim, size_t n, const float *a, size_t lda, float *y, size_t ldy);
    void (*fini)(void);
} nkb_linear_peer;
/* Each returns 0 and fills *peer when usable; `info` (either way) says version, threading,
 * and for OpenBLAS the core it runs (openblas_get_corename()) and whether OPENBLAS_CORETYPE is
 * set in the environment (some machines here set OPENBLAS_CORETYPE=Haswell, which holds OpenBLAS
 * to its AVX2 kernels — never unset it, just record it). */
int nkb_onednn_linear_init(nkb_linear_peer *peer, char *info, size_t infolen);
int nkb_openblas_linear_init(nkb_linear_peer *peer, char *info, size_t infolen);
int nkb_xnnpack_linear_init(nkb_linear_peer *peer, char *info, size_t infolen);
/* One call of a linear peer of a benchmark's kind (NKB_PROBE_ROWS x NKB_PROBE_DIM x
 * NKB_PROBE_N, zeros), with the process's thread count before and after it, to see whether the
 * peer starts threads; why: what prepare() or run() reported ("" when nothing). Each peer's
 * init runs it (bench/peers/common.c). */
enum { NKB_PROBE_ROWS = 32, NKB_PROBE_DIM = 4096, NKB_PROBE_N = 256 };
void nkb_linear_probe(const nkb_linear_peer *peer, int *before, int *after, char *why,
                      size_t whylen);
/* What the three assume of the harness (bench/peers/{onednn,openblas,xnnpack}_linear.c):
 * - prepare() takes no lda/ldy: oneDNN and XNNPACK build for dense a and y (lda == dim,
 *   ldy == n). run() with other strides still computes the right thing, but its first such
 *   call rebuilds the primitive (oneDNN) or re-creates the operator and packs the weights
 *   again (XNNPACK), inside that call; later calls with the same strides are free again.
 * - XNNPACK may read (never use, never write) up to XNN_EXTRA_BYTES = 16 bytes past the end
 *   of `a`'s last row: `a` needs at least 16 readable bytes after a[(rows-1)*lda + dim - 1].
 * - w and bias must stay valid and unchanged from prepare() to the last run(): oneDNN uses
 *   the caller's bias in place (XNNPACK copies it into its packed weights, OpenBLAS reads
 *   both at every call). bias may be NULL (no bias) for all three.
 * - The packed copies (oneDNN, XNNPACK) are keyed by the shape, the pointers and a sample of
 *   the values (8 per row of w, all of bias; ~1 ms for 4096 x 4096): weights refilled at the
 *   same address are packed again, but a few values changed in place may go unnoticed. */

/* A block peer: normkit_block.h's block composed from another library's operators, one thread.
 * create(): untimed: builds primitives/tensors for block d and up to max_rows rows (copies the weights,
 *   pre-packs them where the library can); *state receives its state. Returns NULL or a message.
 * run(): timed: h[rows x dim] = Block(x[rows x dim]) on dense rows, rows <= max_rows. NULL or a message.
 * destroy(): frees the state. */
typedef struct nkb_block_peer {
    const char *name; /* "onednn", "torch" */
    const char *(*create)(const normkit_block_desc *d, size_t max_rows, void **state);
    const char *(*run)(void *state, size_t rows, const float *x, float *h);
    void (*destroy)(void *state);
} nkb_block_peer;
int nkb_onednn_block_init(nkb_block_peer *peer, char *info, size_t infolen);
int nkb_torch_block_init(nkb_block_peer *peer, char *info, size_t infolen);
/* What the two assume and do (bench/peers/onednn_block.c, bench/peers/torch_block.cc):
 * - run() takes dense x and h (strides dim), h not overlapping x; rows == 0 does nothing.
 * - oneDNN builds its primitives for max_rows at create() and for any other rows at the first
 *   run() with that rows (kept until destroy(): a benchmark's untimed warm-up call builds
 *   them); later calls only set the x/h handles and execute. libtorch has nothing to build:
 *   every call runs the ATen operators (allocating their intermediates, as for PyTorch users).
 * - Both copy everything from d at create() (d's arrays need not outlive it). A state serves
 *   one thread at a time (its intermediates are part of it).
 * - Their inits hold the libraries' thread pools to one thread for the whole process: OpenMP
 *   (omp_set_num_threads, at::set_num_threads) and, for libtorch, whose float GEMMs run in the
 *   system BLAS (OpenBLAS on Debian), openblas_set_num_threads(1).
 * - oneDNN 2.x has no RMSNorm: it is eltwise square + reduction mean (mean(x^2) per row)
 *   feeding layer_normalization with user-given statistics (mean 0, that variance). */

/* One block of a benchmark's kind (pre-norm RMSNorm SiLU, NKB_BLOCK_PROBE_DIM x
 * NKB_BLOCK_PROBE_HIDDEN, NKB_BLOCK_PROBE_ROWS rows, zero weights) through a block peer: the
 * process's thread count before create() and after the first run(), and the CPU time of the
 * calling thread and of all the other threads over two more run()s (a pool of threads started
 * earlier, e.g. OpenBLAS's at load time, does not show in the count but does in the time).
 * usable: no error, no new thread, other threads' CPU <= 25% of the caller's + 0.5 ms.
 * Each block peer's init runs it (bench/peers/common.c). */
enum { NKB_BLOCK_PROBE_ROWS = 32, NKB_BLOCK_PROBE_DIM = 768, NKB_BLOCK_PROBE_HIDDEN = 3072 };
typedef struct nkb_block_probe_result {
    int before, after;
    double self_ms, other_ms;
    int usable;
    char why[256];  /* what create() or run() reported, "" when nothing */
    char text[256]; /* the above as one phrase, for the peer's info */
} nkb_block_probe_result;
void nkb_block_probe(const nkb_block_peer *peer, nkb_block_probe_result *r);

#ifdef __cplusplus
}
#endif

#endif
