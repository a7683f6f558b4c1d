/*
 * Ceilings: what the hardware does at its best on this machine, measured in the same run as
 * the kernels so reports divide by a measured number, never a datasheet one.
 *
 * One file per family and ISA (stream_f32__<isa>.c, fma_f32__<isa>.c), compiled with only
 * that ISA's flags, exactly like kernels/. Each exports one table; ceilings.inc lists them.
 *
 * STREAM-style kernels (McCalpin's STREAM, counted the same way: bytes read + written, no
 * write-allocate traffic), over n floats per array, `reps` passes per call:
 *   read     s += b[i]                    4n bytes per pass
 *   copy     a[i] = b[i]                  8n bytes
 *   copy_nt  the same with non-temporal (streaming) stores; NULL where the ISA has none.
 *            Measured at the DRAM working set only: streaming stores bypass the caches.
 *   triad    a[i] = b[i] + s * c[i]       12n bytes (one FMA where the ISA has FMA)
 *   write    a[i] = s                     4n bytes: stores only. Measured in L1 only, where
 *            it is the store-port rate the norms' bound (docs/performance.md) needs.
 * Arrays are NKB_CEIL_ALIGN-byte aligned and n is a multiple of NKB_CEIL_BLOCK, so no
 * variant needs a tail: what is timed is the steady state.
 *
 * Peak FMA: `accs` independent accumulators of `lanes` floats each, all in registers, each
 * updated acc = acc * m + k per iteration (2 flops per lane; on the scalar baseline, which
 * has no FMA, a multiply and an add). Enough accumulators to cover the FMA latency times
 * the number of FMA ports, so the loop is throughput-bound. m < 1 keeps every value normal.
 * `insns` is the instructions per accumulator update: 1 (an FMA), 2 (a multiply and an add,
 * where the ISA has no FMA): the bound prices a norm's FP instructions at this rate.
 *
 * Row (row_f32__<isa>.c): the least a norm call does, per norm family, on one row of one
 * vector (`lanes` floats; dim must be lanes), with the kernels' exact 1 / sqrtf: RMSNorm
 * (`run`), y = x / sqrt(mean(x^2) + eps) * gamma, one lane reduction; LayerNorm (`run_ln`),
 * d = x - mean(x), y = d / sqrt(mean(d^2) + eps) * gamma + beta, two reductions, the second
 * waiting for the first. Each is written as a kernel of its operator, so normkit-bench calls it
 * exactly as it calls a variant. Its time per call, back to back as the cases run, is the
 * bound's per-call fixed cost for that family (docs/performance.md): the call, the lane
 * reductions and the divide/sqrt/divide chain, as far as consecutive calls overlap them (as
 * they do the cases').
 */
#ifndef NKB_CEILINGS_H
#define NKB_CEILINGS_H

#include <stddef.h>

#include "normkit_kernel.h"

#define NKB_CEIL_BLOCK 128 /* floats: 8 accumulators of the widest x86 vector (16 lanes); SVE's
                            * stream loops are predicated (its vectors need not divide 128) */
#define NKB_CEIL_ALIGN 64

typedef float nkb_stream_fn(size_t n, size_t reps, float *a, const float *b, const float *c);

typedef struct nkb_stream_ceiling {
    nkb_stream_fn *read, *copy, *copy_nt, *triad, *write;
} nkb_stream_ceiling;

/* lanes_now: for vector-length-agnostic ISAs (SVE), the lanes on this machine, asked at run
 * time (lanes is then 0); NULL elsewhere. Read lanes through nkb_lanes(). */
typedef struct nkb_fma_ceiling {
    unsigned lanes, accs, insns;
    float (*run)(size_t iters);
    unsigned (*lanes_now)(void);
} nkb_fma_ceiling;

typedef struct nkb_row_ceiling {
    unsigned lanes;
    normkit_rmsnorm_f32_ukernel *run;
    normkit_layernorm_f32_ukernel *run_ln;
    unsigned (*lanes_now)(void);
} nkb_row_ceiling;

#define nkb_lanes(c) ((c)->lanes_now ? (c)->lanes_now() : (c)->lanes)

#endif
