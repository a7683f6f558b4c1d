/*
 * The C side of normkit-bench. bench_main.cc (the only C++ of the harness) turns every case
 * listed here into one Google Benchmark; everything a case needs — its name, its cache-level
 * label, its buffers, the call it times — is data and code on this side, built from the
 * kernel registry (include/normkit_kernels.h), the scalar line of each enumerator
 * (kernels/<op>/<op>.inc, rebuilt as `autovec` and `autovec_fastmath`), the ceilings
 * (bench/ceilings/ceilings.inc) and the optional peers (bench/peers/).
 *
 * Names parse (fields separated by '/'):
 *   <op>/<dtype>/<isa>/dim:<D>/rows:<R>        a kernel, a plain-C rebuild or a peer
 *   ceiling_<kind>/<dtype>/<isa>/bytes:<N>     kind: read, copy, triad (one working set per
 *                                              cache level), copy_nt (DRAM only), write (L1
 *                                              only), copy_ws (a copy of a norm case's own
 *                                              working set); N: bytes
 *   ceiling_fma/<dtype>/<isa>/acc:<A>          peak FMA, A independent vector accumulators
 *   ceiling_rowcall/<dtype>/<isa>/dim:<D>      the least a norm call does: one row of one
 *                                              vector (D = the ISA's lanes), RMSNorm
 *   ceiling_rowcall_ln/<dtype>/<isa>/dim:<D>   the same for LayerNorm
 *   block/<layout>/<norm>/<act>/<impl>/<path>/d:<D>/rows:<R>
 *                                              a whole FFN block (bench/blocks.c)
 * With --variants=all a kernel's <isa> is <isa>_<knobs> (avx512_u4_acc8): every knob variant.
 * Labels: L1, L2, L3 or DRAM (the level the working set fits in), REG for ceiling_fma.
 */
#ifndef NKB_BENCH_H
#define NKB_BENCH_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NKB_PROFILE_QUICK, NKB_PROFILE_FULL } nkb_profile;

typedef struct nkb_options {
    nkb_profile profile;
    int pin;      /* pin the benchmark thread (default 1; --no-pin clears it) */
    int pin_core; /* which core (--pin-core=N, default 0) */
    int list;     /* --list: print the cases of the profile and exit */
    int variants_all; /* --variants=all: every knob variant, not only each ISA's default */
} nkb_options;

/* Reads and removes normkit-bench's own flags from argv (Google Benchmark's --benchmark_*
 * and --v flags, and --help, are left in place for benchmark::Initialize). Unknown flags and
 * bad values: a message on stderr and a return of 2; an unwritable --benchmark_out: a message
 * and 1; otherwise 0. Also inserts --benchmark_min_time for the quick profile when the command
 * line has none, and points --benchmark_out=FILE at a temporary next to FILE (removed at
 * exit unless nkb_out_commit renamed it). `argv` must have room for one more entry than
 * *argc (plus the terminating NULL). */
int nkb_parse_args(int *argc, char **argv, nkb_options *o);
/* After the run: renames --benchmark_out's temporary over its FILE, so FILE appears whole or
 * not at all. 0, or 1 and a message on stderr. */
int nkb_out_commit(void);
/* normkit-bench's own part of --help. */
void nkb_print_help(FILE *f);

typedef enum {
    NKB_CASE_KERNEL,
    NKB_CASE_BANDWIDTH,
    NKB_CASE_FMA,
    NKB_CASE_ROW, /* ceiling_rowcall(_ln): a one-vector RMSNorm (LayerNorm) called as a
                   * variant */
    NKB_CASE_BLOCK
} nkb_case_kind;

typedef struct nkb_case {
    char name[96];       /* see the grammar above */
    const char *label;   /* "L1", "L2", "L3", "DRAM" (working set), or "REG" (register-only) */
    nkb_case_kind kind;
    double bytes;        /* bytes read + written by one call (0 for FMA cases) */
    double rows;         /* rows normalized by one call (kernel cases; block cases: tokens), else 0 */
    double flops;        /* floating-point operations of one call (FMA, linear, block cases), else 0 */
    double ws_bytes;     /* distinct bytes one call touches: what decides the label */
    int real_time;       /* rates per second of wall time (the case runs threads of its own) */
    int index;           /* private to bench code */
} nkb_case;

/* Reads the topology, pins (unless o->pin == 0), starts the peers and builds the case list
 * of the profile. 0 on success; -1 and a message in err otherwise. Pinning or a peer failing
 * is not an error: it is recorded in the context and reported on stderr. */
int nkb_init(const nkb_options *o, char *err, size_t errlen);
size_t nkb_case_count(void);
const nkb_case *nkb_case_get(size_t i);

/* The machine context, as key/value strings for benchmark::AddCustomContext. */
size_t nkb_context_count(void);
const char *nkb_context_key(size_t i);
const char *nkb_context_value(size_t i);

/* Allocates and fills the case's buffers (fixed seed) and makes one untimed call, which also
 * brings the working set into the cache level of the label. 0 on success; -1 and a message
 * in err otherwise (the case is then reported as an error, by name). */
int nkb_case_setup(const nkb_case *c, char *err, size_t errlen);
/* One timed call; the returned value only exists to be consumed (DoNotOptimize). */
float nkb_case_run(const nkb_case *c);
/* What one run of a case measured: its iterations and their thread CPU time (the time Google
 * Benchmark's rates use). Each ceiling keeps its best run (the most iterations, then the least
 * time per call): the bounds of the norm cases after it read them. */
void nkb_case_record(const nkb_case *c, double iterations, double cpu_seconds);
/* A norm case's bound (docs/performance.md), after nkb_case_setup: its modeled best time per
 * call and the time a copy of its working set (ceiling_copy_ws, same run) takes to move the
 * bytes the case counts, in ns (copy_ws_ns 0: no reference). 0, or -1 for a case without a
 * model (not a norm operator, or a ceiling it needs was not measured). A ceiling the bound
 * needs that the run's filter left out is measured on the spot (a note on stderr). */
int nkb_case_model(const nkb_case *c, double *bound_ns, double *copy_ws_ns);
/* Frees every buffer and stops the peers. */
void nkb_fini(void);

#ifdef __cplusplus
}
#endif

#endif
