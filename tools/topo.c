#include "topo.h"

#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"

static int load(hwloc_topology_t *topo, char *err, size_t errlen)
{
    if (hwloc_topology_init(topo) != 0) {
        snprintf(err, errlen, "hwloc_topology_init failed");
        return -1;
    }
    if (hwloc_topology_load(*topo) != 0) {
        hwloc_topology_destroy(*topo);
        snprintf(err, errlen, "hwloc_topology_load failed");
        return -1;
    }
    return 0;
}

/* Size of the first data (or unified) cache of `type`; 0 when there is none. */
static size_t cache_size(hwloc_topology_t topo, hwloc_obj_type_t type, int *count)
{
    int n = hwloc_get_nbobjs_by_type(topo, type);
    if (count)
        *count = n > 0 ? n : 0;
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
        if (o && o->attr && o->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION)
            return (size_t)o->attr->cache.size;
    }
    return 0;
}

/* The levels hwloc did not size (0), from normkit_cpu_caches; hwloc's otherwise. */
static void fill_caches(nk_topo *t)
{
    normkit_cache_info ci;
    normkit_cpu_caches(&ci);
    size_t *const bytes[3] = {&t->l1d, &t->l2, &t->l3};
    const char **const source[3] = {&t->l1d_source, &t->l2_source, &t->l3_source};
    for (int l = 0; l < 3; l++) {
        if (*bytes[l]) {
            *source[l] = "hwloc";
        } else {
            *bytes[l] = ci.bytes[l];
            *source[l] = ci.source[l];
        }
    }
}

int nk_topo_read(nk_topo *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    fill_caches(t); /* what a failure below leaves */
#ifdef HWLOC_VERSION
    snprintf(t->hwloc_version, sizeof t->hwloc_version, "%s", HWLOC_VERSION);
#else
    unsigned v = hwloc_get_api_version(); /* the API version, when the release is unknown */
    snprintf(t->hwloc_version, sizeof t->hwloc_version, "api %u.%u", v >> 16, (v >> 8) & 0xff);
#endif
    hwloc_topology_t topo;
    if (load(&topo, err, errlen) != 0)
        return -1;
    t->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    t->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    t->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    t->l1d = cache_size(topo, HWLOC_OBJ_L1CACHE, NULL);
    t->l2 = cache_size(topo, HWLOC_OBJ_L2CACHE, NULL);
    t->l3 = cache_size(topo, HWLOC_OBJ_L3CACHE, &t->l3_count);
    hwloc_topology_destroy(topo);
    fill_caches(t);
    return 0;
}

int nk_topo_pin_thread(int core, int *pu, char *err, size_t errlen)
{
    hwloc_topology_t topo;
    if (load(&topo, err, errlen) != 0)
        return -1;
    int rc = -1;
    hwloc_obj_t c = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)core);
    if (!c) {
        snprintf(err, errlen, "no core %d (the machine has %d)", core,
                 hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE));
    } else {
        hwloc_bitmap_t set = hwloc_bitmap_dup(c->cpuset);
        hwloc_bitmap_singlify(set); /* one PU: an SMT sibling would share the core anyway */
        if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0) {
            snprintf(err, errlen, "hwloc_set_cpubind to core %d failed", core);
        } else {
            if (pu)
                *pu = hwloc_bitmap_first(set);
            rc = 0;
        }
        hwloc_bitmap_free(set);
    }
    hwloc_topology_destroy(topo);
    return rc;
}
