/* Machine topology through hwloc: core count and cache sizes, and pinning a thread. Used by
 * normkit-info and the benchmarks; the kernel library itself does not depend on hwloc. */
#ifndef NORMKIT_TOPO_H
#define NORMKIT_TOPO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int cores, pus, packages;
    size_t l1d, l2, l3; /* bytes of one cache of that level (0: hwloc reports none) */
    int l3_count;       /* how many L3 caches */
    char hwloc_version[16];
} nk_topo;

/* 0 on success; otherwise -1 and a message in err. */
int nk_topo_read(nk_topo *t, char *err, size_t errlen);

/* Binds the calling thread to one PU of core `core` (0-based). 0 on success, with the bound
 * PU's OS index in *pu; -1 and a message in err otherwise. */
int nk_topo_pin_thread(int core, int *pu, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
