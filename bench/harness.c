/*
 * normkit-bench's own flags, the machine (hwloc topology, pinning, CPU), the peers' start-up,
 * and the context that goes into the JSON next to Google Benchmark's own.
 */
#define _POSIX_C_SOURCE 200809L /* strdup; open, stat, getpid for --benchmark_out */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_config.h"
#include "bench_git.h"
#include "bench_internal.h"
#include "cpu.h"
#include "normkit_kernels.h"
#include "peers/peers.h"
#include "topo.h"

/* The quick profile's time per case, unless --benchmark_min_time says otherwise: long enough
 * for thousands of calls of the small shapes and a few of the DRAM ones. */
#define NKB_QUICK_MIN_TIME "0.2"

void nkb_print_help(FILE *f)
{
    fprintf(f,
            "usage: normkit-bench [--profile=quick|full] [--variants=defaults|all] [--no-pin]\n"
            "                     [--pin-core=N] [--list] [Google Benchmark flags]\n"
            "Benchmarks every normkit kernel variant this CPU runs, the plain C of each operator\n"
            "rebuilt with -O3 -march=native (isa 'autovec') and with -ffast-math added\n"
            "('autovec_fastmath'), the peers (Eigen, oneDNN, OpenBLAS, XNNPACK) when built in,\n"
            "and the ceilings (STREAM-style read/copy/copy_nt/triad per cache level, write in L1,\n"
            "a read of each linear shape's W size, a copy of each norm case's working set\n"
            "(copy_ws), peak FMA and a one-vector norm call per norm family (rowcall,\n"
            "rowcall_ln), per ISA).\n"
            "Names: <op>/f32/<isa>/dim:<D>/rows:<R>, ceiling_<kind>/f32/<isa>/bytes:<N>,\n"
            "ceiling_fma/f32/<isa>/acc:<A>, ceiling_rowcall[_ln]/f32/<isa>/dim:<D>; the label is\n"
            "the cache level of the working set. Norm cases report pct_of_bound (their modeled\n"
            "best time, docs/performance.md, over their time), bound_ns, ns_per_call, and\n"
            "pct_of_copy_ws / copy_ws_ns against the copy of their own working set.\n"
            "Linear operators: <op>/f32/<variant>/dim:<D>/n:<N>/rows:<R>, variant <isa>,\n"
            "<isa>_packed, <isa>_unfused, <isa>_2t, autovec*, or a peer (onednn, openblas,\n"
            "xnnpack: normkit's norm, then the peer's matmul); see the README.\n"
            "normkit-bench's own flags (given before or among the others):\n"
            "  --profile=quick   the default: per operator one shape in each cache level (L1,\n"
            "                    L2, L3, DRAM), rmsnorm_linear 4096 x 4096 at rows 1, 32,\n"
            "                    128, and --benchmark_min_time=" NKB_QUICK_MIN_TIME " unless given\n"
            "  --profile=full    every model shape: dim 768, 2048, 4096, 8192 x rows 1, 16,\n"
            "                    (64,) 128, 512, 4096, (16384); the linear operators at\n"
            "                    dim 4096 x n 4096 and 11008, 768 x 3072, rows 1-512\n"
            "                    (both profiles: every norm operator at dim 64, 768, 4096 x rows 1)\n"
            "  --variants=defaults  the default: each ISA's default variant of an operator\n"
            "  --variants=all    every knob variant instead, its knobs in the isa field\n"
            "                    (rmsnorm/f32/avx512_u2_acc4/dim:768/rows:1)\n"
            "  --no-pin          do not pin the benchmark thread (default: pinned with hwloc)\n"
            "  --pin-core=N      pin to core N instead of core 0\n"
            "  --list            print each case of the profile (name, label, working set,\n"
            "                    bytes per call) and exit\n"
            "  --help            this text, then Google Benchmark's flags\n"
            "Google Benchmark's flags work as usual, e.g. --benchmark_filter=REGEX,\n"
            "--benchmark_repetitions=N, --benchmark_format=json, --benchmark_out=FILE.\n\n");
}

static int bad(const char *fmt, const char *arg)
{
    fprintf(stderr, "normkit-bench: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

/* --benchmark_out=FILE: Google Benchmark writes FILE while it runs, so a run that fails or is
 * stopped would leave half a file (and an unwritable FILE gave only its "invalid file name").
 * It writes FILE.tmp.<pid> next to FILE instead, created here (an unwritable place fails before
 * any case runs), renamed over FILE by nkb_out_commit after the run and removed on any other
 * exit (atexit) or on SIGINT, SIGTERM, SIGHUP. A FILE that exists and is not a regular file
 * (/dev/stdout, a pipe) is left to Google Benchmark: a rename would replace it, not feed it. */
static char out_path[4096], out_tmp[4096 + 32], out_arg[4096 + 64];

static void out_discard(void)
{
    if (out_tmp[0])
        unlink(out_tmp); /* async-signal-safe */
}

static void out_signal(int sig)
{
    out_discard();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* 0 (*arg: the flag to hand on, maybe rewritten), or 1 and a message. */
static int out_begin(const char **arg)
{
    const char *path = *arg + strlen("--benchmark_out=");
    struct stat st;
    const int exists = stat(path, &st) == 0;
    if (!*path || (exists && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
        return 0;
    const char *why = exists ? strerror(EISDIR) : NULL;
    if (!why && (strlen(path) >= sizeof out_path))
        why = "path too long";
    if (!why) {
        strcpy(out_path, path);
        snprintf(out_tmp, sizeof out_tmp, "%s.tmp.%ld", path, (long)getpid());
        const int fd = open(out_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd < 0) {
            why = strerror(errno);
            out_tmp[0] = '\0';
        } else {
            close(fd);
        }
    }
    if (why) {
        fprintf(stderr, "normkit-bench: error: --benchmark_out: cannot write %s: %s\n", path, why);
        return 1;
    }
    atexit(out_discard);
    signal(SIGINT, out_signal);
    signal(SIGTERM, out_signal);
    signal(SIGHUP, out_signal);
    snprintf(out_arg, sizeof out_arg, "--benchmark_out=%s", out_tmp);
    *arg = out_arg;
    return 0;
}

int nkb_out_commit(void)
{
    if (!out_tmp[0])
        return 0;
    if (rename(out_tmp, out_path) != 0) {
        fprintf(stderr, "normkit-bench: error: --benchmark_out: cannot write %s: %s\n", out_path,
                strerror(errno));
        out_discard();
        out_tmp[0] = '\0';
        return 1;
    }
    out_tmp[0] = '\0';
    return 0;
}

int nkb_parse_args(int *argc, char **argv, nkb_options *o)
{
    *o = (nkb_options){NKB_PROFILE_QUICK, 1, 0, 0, 0};
    int out = 1, have_min_time = 0, out_at = 0;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--profile", 9) == 0 && (a[9] == '=' || a[9] == '\0')) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < *argc ? argv[++i] : NULL);
            if (!v)
                return bad("%s needs a value", "--profile");
            if (strcmp(v, "quick") == 0)
                o->profile = NKB_PROFILE_QUICK;
            else if (strcmp(v, "full") == 0)
                o->profile = NKB_PROFILE_FULL;
            else
                return bad("--profile must be quick or full, not '%s'", v);
        } else if (strncmp(a, "--variants", 10) == 0 && (a[10] == '=' || a[10] == '\0')) {
            const char *v = a[10] == '=' ? a + 11 : (i + 1 < *argc ? argv[++i] : NULL);
            if (!v)
                return bad("%s needs a value", "--variants");
            if (strcmp(v, "all") == 0)
                o->variants_all = 1;
            else if (strcmp(v, "defaults") == 0)
                o->variants_all = 0;
            else
                return bad("--variants must be defaults or all, not '%s'", v);
        } else if (strcmp(a, "--no-pin") == 0) {
            o->pin = 0;
        } else if (strncmp(a, "--pin-core", 10) == 0 && (a[10] == '=' || a[10] == '\0')) {
            /* --pin-core=N or --pin-core N, as --profile and --variants */
            const char *v = a[10] == '=' ? a + 11 : (i + 1 < *argc ? argv[++i] : NULL);
            if (!v)
                return bad("%s needs a value", "--pin-core");
            char *end;
            long c = strtol(v, &end, 10);
            if (end == v || *end || c < 0 || c > 1 << 20)
                return bad("--pin-core needs a core number, not '%s'", v);
            o->pin_core = (int)c;
        } else if (strcmp(a, "--list") == 0) {
            o->list = 1;
        } else if (strncmp(a, "--benchmark_", 12) == 0 || strncmp(a, "--v=", 4) == 0 ||
                   strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (strcmp(a, "-h") == 0)
                a = "--help";
            have_min_time |= strncmp(a, "--benchmark_min_time", 20) == 0;
            if (strncmp(a, "--benchmark_out=", 16) == 0)
                out_at = out; /* the last one counts, as for Google Benchmark */
            argv[out++] = (char *)a;
        } else {
            return bad("unknown option '%s'", a);
        }
    }
    if (out_at) {
        const char *a = argv[out_at];
        if (out_begin(&a) != 0)
            return 1;
        argv[out_at] = (char *)a;
    }
    if (o->profile == NKB_PROFILE_QUICK && !have_min_time) {
        /* first, so that nothing given later is overridden */
        for (int j = out; j > 1; j--)
            argv[j] = argv[j - 1];
        argv[1] = (char *)"--benchmark_min_time=" NKB_QUICK_MIN_TIME;
        out++;
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Context. */

enum { NKB_MAX_CONTEXT = 64 };
static struct {
    char *key, *value;
} ctx[NKB_MAX_CONTEXT];
static size_t nctx;

static void ctx_add(const char *key, const char *value)
{
    if (nctx == NKB_MAX_CONTEXT)
        return;
    ctx[nctx].key = strdup(key);
    ctx[nctx].value = strdup(value ? value : "");
    if (ctx[nctx].key && ctx[nctx].value)
        nctx++;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void ctx_addf(const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx_add(key, buf);
}

size_t nkb_context_count(void)
{
    return nctx;
}

const char *nkb_context_key(size_t i)
{
    return i < nctx ? ctx[i].key : NULL;
}

const char *nkb_context_value(size_t i)
{
    return i < nctx ? ctx[i].value : NULL;
}

/* The mode in brackets of a sysfs choice file ("always [madvise] never" -> "madvise"). */
static void sysfs_choice(const char *path, char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f)
        return;
    if (fgets(line, sizeof line, f)) {
        char *l = strchr(line, '['), *r = l ? strchr(l, ']') : NULL;
        if (l && r) {
            *r = '\0';
            snprintf(out, len, "%s", l + 1);
        }
    }
    fclose(f);
}

int nkb_init(const nkb_options *o, char *err, size_t errlen)
{
    nkb_machine m = {{0}, 0, 0, 0};
    nk_topo topo;
    char topo_err[160] = "";
    const int have_topo = nk_topo_read(&topo, topo_err, sizeof topo_err) == 0;
    /* Filled either way: a level hwloc does not size comes from normkit_cpu_caches (sysconf,
     * CPUID, else a typical size), and cache_source says which. */
    m.cap[NKB_L1] = topo.l1d, m.cap[NKB_L2] = topo.l2, m.cap[NKB_L3] = topo.l3;
    char cache_source[96];
    snprintf(cache_source, sizeof cache_source, "L1d=%s L2=%s L3=%s", topo.l1d_source,
             topo.l2_source, topo.l3_source);
    if (!have_topo)
        fprintf(stderr, "normkit-bench: warning: no hwloc topology (%s): cache levels from %s\n",
                topo_err, cache_source);

    /* Pin first: everything after (allocation, first touch, the peers) happens on that core. */
    char pinning[200];
    if (!o->pin) {
        snprintf(pinning, sizeof pinning, "off (--no-pin)");
    } else {
        int pu = -1;
        char perr[160] = "";
        if (nk_topo_pin_thread(o->pin_core, &pu, perr, sizeof perr) == 0) {
            snprintf(pinning, sizeof pinning, "thread bound to core %d (PU %d) with hwloc",
                     o->pin_core, pu);
        } else {
            snprintf(pinning, sizeof pinning, "failed (%s): unpinned", perr);
            fprintf(stderr, "normkit-bench: warning: pinning %s\n", pinning);
        }
    }

    const normkit_cpu *cpu = normkit_cpu_get();
    m.cpu_isas = normkit_cpu_isa_mask(cpu->features);
    m.have_eigen = NKB_HAVE_EIGEN;

    char onednn[512] = "absent (" NKB_ONEDNN_ABSENT ")";
#if NKB_HAVE_ONEDNN
    if (!o->list) { /* --list starts nothing */
        char why[400];
        m.have_onednn = nkb_onednn_init(why, sizeof why) == 0;
        snprintf(onednn, sizeof onednn, "%s%s", m.have_onednn ? "" : "disabled: ", why);
        if (!m.have_onednn)
            fprintf(stderr, "normkit-bench: warning: oneDNN peer %s\n", onednn);
    } else {
        m.have_onednn = 1;
        snprintf(onednn, sizeof onednn, "present (not started: --list)");
    }
#endif

    if (nkb_cases_build(o, &m, err, errlen) != 0)
        return -1;

    /* The context: what a reader needs to reproduce or to trust the numbers. */
    ctx_addf("normkit_version", "%d.%d.%d", NORMKIT_VERSION_MAJOR, NORMKIT_VERSION_MINOR,
             NORMKIT_VERSION_PATCH);
    ctx_add("normkit_git", NKB_GIT_REVISION);
    ctx_add("profile", o->profile == NKB_PROFILE_QUICK ? "quick" : "full");
    ctx_add("cpu_model", cpu->model);
    ctx_addf("cpu_id", "%s %s family %u model %u", cpu->arch, cpu->vendor, cpu->family,
             cpu->model_id);
    char feats[512] = "";
    for (int f = 0; f < NORMKIT_CPU_FEATURE_COUNT; f++)
        if (cpu->features >> f & 1u) {
            size_t used = strlen(feats);
            snprintf(feats + used, sizeof feats - used, "%s%s", used ? " " : "",
                     normkit_cpu_feature_name(f));
        }
    ctx_add("cpu_features", feats);
    char isas[128] = "", cpu_isas[128] = "";
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++) {
        size_t u = strlen(isas), v = strlen(cpu_isas);
        if (normkit_isa_supported((normkit_isa)i))
            snprintf(isas + u, sizeof isas - u, "%s%s", u ? " " : "",
                     normkit_isa_name((normkit_isa)i));
        if (m.cpu_isas >> i & 1u)
            snprintf(cpu_isas + v, sizeof cpu_isas - v, "%s%s", v ? " " : "",
                     normkit_isa_name((normkit_isa)i));
    }
    ctx_add("isa_active", normkit_isa_name(normkit_isa_active()));
    /* the tuning file the dispatcher's choices come from (NORMKIT_TUNING, docs/tuning.md) */
    ctx_add("tuning", normkit_tuning_active() ? normkit_tuning_active() : "defaults");
    ctx_add("isa_supported", isas);
    ctx_add("isa_cpu", cpu_isas);
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        char key[64];
        snprintf(key, sizeof key, "dispatch_%s", normkit_op_name((normkit_op)op));
        ctx_add(key, normkit_kernel_active((normkit_op)op)->name);
    }
    if (have_topo) {
        ctx_addf("topo_cores", "%d", topo.cores);
        ctx_addf("topo_pus", "%d", topo.pus);
        ctx_addf("topo_packages", "%d", topo.packages);
    } else {
        ctx_addf("topo_error", "%s", topo_err);
    }
    ctx_addf("cache_l1d_bytes", "%zu", topo.l1d);
    ctx_addf("cache_l2_bytes", "%zu", topo.l2);
    ctx_addf("cache_l3_bytes", "%zu", topo.l3);
    ctx_addf("cache_l3_count", "%d", topo.l3_count);
    ctx_add("cache_source", cache_source);
    ctx_add("level_rule", "label = the first of L1, L2, L3 (cache_*_bytes: from hwloc, else "
                          "sysconf, CPUID or a typical size, as cache_source says) whose "
                          "capacity holds the case's working set (working_set_bytes); DRAM "
                          "beyond; REG: registers only");
    ctx_add("pinning", pinning);
    char thp[32];
    sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof thp);
    ctx_addf("memory", "64-byte aligned; arrays >= 2 MiB 2 MiB-aligned with MADV_HUGEPAGE "
                       "(transparent_hugepage: %s)", thp);
    ctx_add("compiler_c", NKB_COMPILER_C);
    ctx_add("compiler_cpp", NKB_COMPILER_CPP);
    ctx_add("build_options", NKB_BUILD_OPTIONS);
    ctx_add("flags_isa", NKB_ISA_FLAGS);
    ctx_add("flags_autovec", NKB_AUTOVEC_FLAGS);
    ctx_add("flags_autovec_fastmath", NKB_AUTOVEC_FASTMATH_FLAGS);
    ctx_add("flags_peers", NKB_PEER_FLAGS);
    ctx_add("lib_hwloc", have_topo ? topo.hwloc_version : "unknown");
    ctx_add("lib_benchmark", NKB_BENCHMARK_VERSION);
#if NKB_HAVE_EIGEN
    ctx_addf("lib_eigen", "%s (SIMD: %s)", nkb_eigen_version(), nkb_eigen_simd());
#else
    ctx_add("lib_eigen", "absent (" NKB_EIGEN_ABSENT ")");
#endif
    ctx_add("lib_onednn", onednn);
    ctx_add("lib_sleef", NKB_SLEEF_VERSION);
    nkb_cases_context(ctx_add);
    return 0;
}

void nkb_fini(void)
{
    nkb_cases_free();
#if NKB_HAVE_ONEDNN
    nkb_onednn_fini();
#endif
    for (size_t i = 0; i < nctx; i++) {
        free(ctx[i].key);
        free(ctx[i].value);
    }
    nctx = 0;
}
