/* Shared between bench/harness.c (flags, topology, pinning, context) and bench/cases.c
 * (variants, shapes, buffers, calls). Not used by bench_main.cc. */
#ifndef NKB_BENCH_INTERNAL_H
#define NKB_BENCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

enum { NKB_L1, NKB_L2, NKB_L3, NKB_DRAM, NKB_LEVELS };

typedef struct nkb_machine {
    size_t cap[NKB_DRAM]; /* bytes of L1d, L2, L3 as hwloc reports them (0: none) */
    int have_eigen, have_onednn;
    unsigned cpu_isas;    /* 1u << normkit_isa for every ISA the CPU and OS can execute */
} nkb_machine;

/* Builds the case list of the profile. 0, or -1 and a message. */
int nkb_cases_build(const nkb_options *o, const nkb_machine *m, char *err, size_t errlen);
void nkb_cases_free(void);

/* Context the case side knows: the shapes chosen, the variants skipped, which ceiling ISA
 * each name's isa field maps to. Calls add(key, value) for each. */
void nkb_cases_context(void (*add)(const char *key, const char *value));

/* snprintf appended to the string in buf (truncated at len), and the splitmix64 step that fills
 * every buffer from a fixed seed: shared by bench/cases.c and bench/blocks.c. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void nkb_appendf(char *buf, size_t len, const char *fmt, ...);
uint64_t nkb_splitmix(uint64_t *s);

/* "L1", "L2", "L3" or "DRAM" for a working set, by the hwloc capacities in m. */
const char *nkb_level_name(int level);

#endif
