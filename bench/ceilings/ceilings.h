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
 * Arrays are NKB_CEIL_ALIGN-byte aligned and n is a multiple of NKB_CEIL_BLOCK, so no
 * variant needs a tail: what is timed is the steady state.
 *
 * Peak FMA: `accs` independent accumulators of `lanes` floats each, all in registers, each
 * updated acc = acc * m + k per iteration (2 flops per lane; on the scalar baseline, which
 * has no FMA, a multiply and an add). Enough accumulators to cover the FMA latency times
 * the number of FMA ports, so the loop is throughput-bound. m < 1 keeps every value normal.
 */
#ifndef NKB_CEILINGS_H
#define NKB_CEILINGS_H

#include <stddef.h>

#define NKB_CEIL_BLOCK 128 /* floats: 8 accumulators of the widest vector (16 lanes) */
#define NKB_CEIL_ALIGN 64

typedef float nkb_stream_fn(size_t n, size_t reps, float *a, const float *b, const float *c);

typedef struct nkb_stream_ceiling {
    nkb_stream_fn *read, *copy, *copy_nt, *triad;
} nkb_stream_ceiling;

typedef struct nkb_fma_ceiling {
    unsigned lanes, accs;
    float (*run)(size_t iters);
} nkb_fma_ceiling;

#endif
