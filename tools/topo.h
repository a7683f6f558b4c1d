/* Machine topology through hwloc: core count and cache sizes, and pinning a thread. Used by
 * normkit-info and the benchmarks; the kernel library itself does not depend on hwloc.
 * A cache level hwloc has no size for (containers and VMs without
 * /sys/devices/system/cpu/cpuN/cache, qemu-user, HWLOC_SYNTHETIC) is taken from
 * normkit_cpu_caches (sysconf, CPUID, else a typical size); each level says where its size
 * came from. */
#ifndef NORMKIT_TOPO_H
#define NORMKIT_TOPO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int cores, pus, packages;
    size_t l1d, l2, l3; /* bytes of one cache of that level; never 0 */
    /* where each size came from: "hwloc", or normkit_cpu_caches' "sysconf", "cpuid",
     * "assumed" */
    const char *l1d_source, *l2_source, *l3_source;
    int l3_count;       /* how many L3 caches hwloc reports (0: none) */
    char hwloc_version[16];
} nk_topo;

/* 0 on success; otherwise (hwloc failed) -1 and a message in err, with the cache sizes and
 * sources still filled from normkit_cpu_caches and the rest 0. */
int nk_topo_read(nk_topo *t, char *err, size_t errlen);

/* Binds the calling thread to one PU of core `core` (0-based). 0 on success, with the bound
 * PU's OS index in *pu; -1 and a message in err otherwise. */
int nk_topo_pin_thread(int core, int *pu, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
