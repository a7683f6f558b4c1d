/* Block cases (bench/blocks.c), appended by bench/cases.c after its own. */
#ifndef NKB_BENCH_BLOCKS_H
#define NKB_BENCH_BLOCKS_H

#include <stddef.h>

#include "bench_internal.h"

/* Builds the block cases of the profile (cap: L1d, L2, L3 bytes, 0 when unknown) and starts
 * the block peers. 0, or -1 when out of memory. */
int nkb_blocks_build(const nkb_options *o, const size_t cap[3]);
size_t nkb_blocks_count(void);
const nkb_case *nkb_blocks_get(size_t i);
/* As nkb_case_setup / nkb_case_run, for a case of kind NKB_CASE_BLOCK. */
int nkb_blocks_setup(const nkb_case *c, char *err, size_t errlen);
float nkb_blocks_run(const nkb_case *c);
void nkb_blocks_context(void (*add)(const char *key, const char *value));
void nkb_blocks_free(void);

#endif
