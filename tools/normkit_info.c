/*
 * normkit-info: what this machine is and what normkit will run on it.
 *   normkit-info [--json] [--help]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cpu.h"
#include "normkit_kernels.h"
#include "topo.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: normkit-info [--json] [--help]\n"
            "Prints the CPU model and features, the ISAs normkit can use here, the kernel\n"
            "variant the dispatcher picks for each operator (NORMKIT_ISA=scalar|avx2|avx512|\n"
            "neon|sve|auto changes it), every variant in this build, and the hwloc topology\n"
            "(cores, L1d/L2/L3 sizes, each with where it came from: hwloc, else sysconf,\n"
            "CPUID or an assumed typical size).\n"
            "  --json   the same as one JSON object\n"
            "  --help   this text\n");
}

/* The variant a call of class c runs: the table's default for the active ISA, else the ISA's
 * first variant (what normkit_kernel_select picks; no shape is rebuilt here). */
static const normkit_kernel *class_kernel(normkit_op op, int c)
{
    const normkit_kernel *k = normkit_kernel_active(op);
    const normkit_kernel *d = normkit_kernel_class_default(op, k->isa, (normkit_shape_class)c);
    return d ? d : k;
}

static void size_text(char *buf, size_t len, size_t bytes)
{
    if (!bytes)
        snprintf(buf, len, "unknown");
    else if (bytes % (1024 * 1024) == 0)
        snprintf(buf, len, "%zu MiB", bytes / (1024 * 1024));
    else
        snprintf(buf, len, "%zu KiB", bytes / 1024);
}

/* A byte threshold for people ("32 MiB", "never") and for JSON (a number, or null for never). */
static const char *knob_text(char *buf, size_t len, size_t bytes)
{
    if (bytes == SIZE_MAX)
        return "never";
    if (bytes == 0)
        return "always";
    size_text(buf, len, bytes);
    return buf;
}

/* A byte threshold as JSON: a number, or null for never (SIZE_MAX). */
static cJSON *knob_json(size_t bytes)
{
    return bytes == SIZE_MAX ? cJSON_CreateNull() : cJSON_CreateNumber((double)bytes);
}

/* The run-time knobs of an operator's variant as JSON (those the operator reads). */
static cJSON *knobs_json(const normkit_op_info *oi, const normkit_kparams *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "nt_min_bytes", knob_json(p->nt_min_bytes));
    cJSON_AddItemToObject(o, "dram_min_bytes", knob_json(p->dram_min_bytes));
    if (!oi->linear && !oi->elementwise)
        cJSON_AddNumberToObject(o, "pipe_max_dim", (double)p->pipe_max_dim);
    if (oi->linear) { /* 0: sized from the caches at call time */
        cJSON_AddNumberToObject(o, "lin_kc", (double)p->lin_kc);
        cJSON_AddNumberToObject(o, "lin_mc", (double)p->lin_mc);
        cJSON_AddNumberToObject(o, "lin_prefetch", (double)p->lin_prefetch);
        cJSON_AddNumberToObject(o, "lin_pack_rows", (double)p->lin_pack_rows);
        cJSON_AddNumberToObject(o, "pack_nr", p->pack_nr);
        cJSON_AddNumberToObject(o, "pack_vl", p->pack_vl);
    }
    return o;
}

static void print_json(const normkit_cpu *cpu, normkit_isa active, const char *env,
                       const nk_topo *topo, int have_topo, const char *topo_err)
{
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    char ver[32];
    snprintf(ver, sizeof ver, "%d.%d.%d", NORMKIT_VERSION_MAJOR, NORMKIT_VERSION_MINOR,
             NORMKIT_VERSION_PATCH);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "normkit_version", ver);

    cJSON *c = cJSON_AddObjectToObject(root, "cpu");
    cJSON_AddStringToObject(c, "arch", cpu->arch);
    cJSON_AddStringToObject(c, "vendor", cpu->vendor);
    cJSON_AddNumberToObject(c, "family", cpu->family);
    cJSON_AddNumberToObject(c, "model_id", cpu->model_id);
    cJSON_AddStringToObject(c, "model", cpu->model);
    cJSON *feats = cJSON_AddArrayToObject(c, "features");
    for (int f = 0; f < NORMKIT_CPU_FEATURE_COUNT; f++)
        if (cpu->features >> f & 1u)
            cJSON_AddItemToArray(feats, cJSON_CreateString(normkit_cpu_feature_name(f)));
    if (cpu->sve_bits)
        cJSON_AddNumberToObject(c, "sve_bits", cpu->sve_bits);

    cJSON *isa = cJSON_AddObjectToObject(root, "isa");
    cJSON *sup = cJSON_AddArrayToObject(isa, "supported");
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++)
        if (normkit_isa_supported((normkit_isa)i))
            cJSON_AddItemToArray(sup, cJSON_CreateString(normkit_isa_name((normkit_isa)i)));
    cJSON_AddStringToObject(isa, "active", normkit_isa_name(active));
    cJSON_AddItemToObject(isa, "env", env ? cJSON_CreateString(env) : cJSON_CreateNull());

    /* the tuning file in use, and the cache sizes the shape classes (and a tuning file's
     * machine) are cut at: the library's own reading, which may differ from hwloc's below */
    const char *tp = normkit_tuning_active();
    cJSON *t = cJSON_AddObjectToObject(root, "tuning");
    cJSON_AddItemToObject(t, "path", tp ? cJSON_CreateString(tp) : cJSON_CreateNull());
    normkit_cache_info ci;
    normkit_cpu_caches(&ci);
    cJSON_AddNumberToObject(t, "l1d_bytes", (double)ci.bytes[0]);
    cJSON_AddNumberToObject(t, "l2_bytes", (double)ci.bytes[1]);

    cJSON *ops = cJSON_AddObjectToObject(root, "ops");
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_op_info *oi = normkit_op_get((normkit_op)op);
        cJSON *o = cJSON_AddObjectToObject(ops, oi->name);
        cJSON_AddStringToObject(o, "norm", oi->norm == NORMKIT_NORM_RMS  ? "rms"
                                           : oi->norm == NORMKIT_NORM_LN ? "ln"
                                                                         : "none");
        cJSON_AddBoolToObject(o, "residual", oi->residual);
        cJSON_AddBoolToObject(o, "beta", oi->beta);
        cJSON_AddBoolToObject(o, "linear", oi->linear);
        cJSON_AddBoolToObject(o, "elementwise", oi->elementwise);
    }

    cJSON *d = cJSON_AddObjectToObject(root, "dispatch");
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_op_info *oi = normkit_op_get((normkit_op)op);
        const normkit_kernel *k = normkit_kernel_active((normkit_op)op);
        cJSON *o = cJSON_AddObjectToObject(d, oi->name);
        cJSON_AddStringToObject(o, "kernel", k->name);
        cJSON_AddStringToObject(o, "isa", normkit_isa_name(k->isa));
        /* the variant each shape class runs (normkit_kernel_select) and its knobs */
        cJSON *cl = cJSON_AddObjectToObject(o, "classes");
        cJSON *ck = cJSON_AddObjectToObject(o, "class_knobs");
        for (int cls = 0; cls < NORMKIT_CLASS_COUNT; cls++) {
            const char *cn = normkit_shape_class_name((normkit_shape_class)cls);
            cJSON_AddStringToObject(cl, cn, class_kernel((normkit_op)op, cls)->name);
            const normkit_kparams *p = normkit_class_params((normkit_op)op, k->isa,
                                                            (normkit_shape_class)cls);
            if (p)
                cJSON_AddItemToObject(ck, cn, knobs_json(oi, p));
        }
        if (oi->linear)
            cJSON_AddItemToObject(o, "knobs",
                                  knobs_json(oi, normkit_class_params((normkit_op)op, k->isa,
                                                                      NORMKIT_CLASS_COUNT)));
    }

    cJSON *kl = cJSON_AddArrayToObject(root, "kernels");
    for (size_t i = 0; i < nk; i++) {
        const normkit_op_info *oi = normkit_op_get(ks[i].op);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ks[i].name);
        cJSON_AddStringToObject(o, "op", oi->name);
        cJSON_AddStringToObject(o, "dtype", ks[i].dtype);
        cJSON_AddStringToObject(o, "isa", normkit_isa_name(ks[i].isa));
        cJSON_AddBoolToObject(o, "supported", normkit_isa_supported(ks[i].isa));
        cJSON_AddStringToObject(o, "variant", ks[i].variant);
        cJSON *cp = cJSON_AddObjectToObject(o, "compiled");
        for (int j = 0; j < NORMKIT_MAX_KNOBS && ks[i].knobs[j].name; j++)
            cJSON_AddNumberToObject(cp, ks[i].knobs[j].name, ks[i].knobs[j].value);
        cJSON_AddItemToObject(o, "knobs", knobs_json(oi, &ks[i].params)); /* registry defaults */
        cJSON_AddItemToArray(kl, o);
    }

    cJSON *tp2 = cJSON_AddObjectToObject(root, "topology");
    if (have_topo) {
        cJSON_AddNumberToObject(tp2, "cores", topo->cores);
        cJSON_AddNumberToObject(tp2, "pus", topo->pus);
        cJSON_AddNumberToObject(tp2, "packages", topo->packages);
    } else
        cJSON_AddStringToObject(tp2, "error", topo_err);
    /* the sizes are there either way: what hwloc lacks comes from normkit_cpu_caches */
    cJSON_AddNumberToObject(tp2, "l1d_bytes", (double)topo->l1d);
    cJSON_AddNumberToObject(tp2, "l2_bytes", (double)topo->l2);
    cJSON_AddNumberToObject(tp2, "l3_bytes", (double)topo->l3);
    cJSON_AddNumberToObject(tp2, "l3_count", topo->l3_count);
    cJSON *src = cJSON_AddObjectToObject(tp2, "cache_source");
    cJSON_AddStringToObject(src, "l1d", topo->l1d_source);
    cJSON_AddStringToObject(src, "l2", topo->l2_source);
    cJSON_AddStringToObject(src, "l3", topo->l3_source);
    cJSON_AddStringToObject(tp2, "hwloc", topo->hwloc_version);

    char *text = cJSON_Print(root);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(root);
}

/* The exit status once the output is printed: standard output failing (a full disk) is an
 * error, not a silently truncated report. */
static int finish(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return 0;
    fprintf(stderr, "normkit-info: error: cannot write standard output: %s\n", strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "normkit-info: error: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }

    const normkit_cpu *cpu = normkit_cpu_get();
    const normkit_isa active = normkit_isa_active();
    const char *env = getenv("NORMKIT_ISA");
    nk_topo topo;
    char topo_err[128] = "";
    const int have_topo = nk_topo_read(&topo, topo_err, sizeof topo_err) == 0;
    if (json) {
        print_json(cpu, active, env, &topo, have_topo, topo_err);
        return finish();
    }

    printf("normkit %d.%d.%d\n", NORMKIT_VERSION_MAJOR, NORMKIT_VERSION_MINOR, NORMKIT_VERSION_PATCH);
    printf("CPU:       %s (%s", cpu->model, cpu->arch);
    if (cpu->vendor[0])
        printf(", %s family %u model %u", cpu->vendor, cpu->family, cpu->model_id);
    printf(")\n");
    printf("features: ");
    for (int f = 0; f < NORMKIT_CPU_FEATURE_COUNT; f++)
        if (cpu->features >> f & 1u)
            printf(" %s", normkit_cpu_feature_name(f));
    if (cpu->sve_bits)
        printf(" (SVE vectors of %u bits)", cpu->sve_bits);
    printf("\nISAs:     ");
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++)
        if (normkit_isa_supported((normkit_isa)i))
            printf(" %s", normkit_isa_name((normkit_isa)i));
    printf("   (CPU, OS and this build all support them)\n");
    printf("dispatch:  %s (NORMKIT_ISA %s%s)\n", normkit_isa_name(active), env ? "=" : "unset",
           env ? env : "");
    {
        const char *tp = normkit_tuning_active();
        const char *te = getenv("NORMKIT_TUNING");
        if (tp)
            printf("tuning:    %s\n", tp);
        else if (te && *te)
            printf("tuning:    defaults (NORMKIT_TUNING=%s was not applied: see the warning "
                   "above)\n", te);
        else
            printf("tuning:    defaults (NORMKIT_TUNING unset)\n");
    }
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        printf("  %-16s %s", normkit_op_name((normkit_op)op),
               normkit_kernel_active((normkit_op)op)->name);
        /* the shape classes whose default is another variant (kernels/normkit_defaults.inc) */
        for (int c = 0; c < NORMKIT_CLASS_COUNT; c++)
            if (class_kernel((normkit_op)op, c) != normkit_kernel_active((normkit_op)op))
                printf("; %s: %s", normkit_shape_class_name((normkit_shape_class)c),
                       class_kernel((normkit_op)op, c)->variant);
        printf("\n");
    }
    {
        normkit_cache_info ci;
        normkit_cpu_caches(&ci);
        char c1[32], c2[32];
        size_text(c1, sizeof c1, ci.bytes[0]);
        size_text(c2, sizeof c2, ci.bytes[1]);
        printf("  (shape classes: a call's working set within %s (l1), %s (l2) or beyond (mem), "
               "one row or more)\n", c1, c2);
    }
    printf("variants in this build (* active, - CPU cannot run; knobs: norms: streaming stores\n"
           "and memory mode from this many bytes of y per call; linear: k block, row block (auto:\n"
           "from the caches), W prefetch distance in k, packed panel rows x vector length):\n");
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    for (size_t i = 0; i < nk; i++) {
        const normkit_kparams *p = &ks[i].params;
        const char mark = normkit_kernel_active(ks[i].op) == &ks[i] ? '*'
                          : normkit_isa_supported(ks[i].isa)        ? ' '
                                                                    : '-';
        char a[32], b[32];
        if (normkit_op_get(ks[i].op)->linear) {
            snprintf(a, sizeof a, "%zu", p->lin_kc);
            snprintf(b, sizeof b, "%zu", p->lin_mc);
            printf("  %c %-40s kc %s mc %s prefetch %zu pack %ux%u\n", mark, ks[i].name,
                   p->lin_kc ? a : "auto", p->lin_mc ? b : "auto", p->lin_prefetch, p->pack_nr,
                   p->pack_vl);
        } else if (normkit_op_get(ks[i].op)->elementwise) {
            printf("  %c %-40s (elementwise: no knobs)\n", mark, ks[i].name);
        } else {
            char c[32] = "never"; /* 0: the variant does not pipeline rows */
            if (p->pipe_max_dim)
                snprintf(c, sizeof c, "to dim %zu", p->pipe_max_dim);
            printf("  %c %-40s nt %-8s memory %-8s pipeline %s\n", mark, ks[i].name,
                   knob_text(a, sizeof a, p->nt_min_bytes), knob_text(b, sizeof b, p->dram_min_bytes),
                   c);
        }
    }
    /* one line; the cache sizes either way, each with its source */
    if (have_topo)
        printf("topology:  %d cores, %d PUs, %d package(s); ", topo.cores, topo.pus, topo.packages);
    else
        printf("topology:  unavailable: %s; ", topo_err);
    char l1[32], l2[32], l3[32], n3[32] = "";
    size_text(l1, sizeof l1, topo.l1d);
    size_text(l2, sizeof l2, topo.l2);
    size_text(l3, sizeof l3, topo.l3);
    if (topo.l3_count > 0)
        snprintf(n3, sizeof n3, " x %d", topo.l3_count);
    printf("L1d %s (%s), L2 %s (%s), L3 %s%s (%s); hwloc %s\n", l1, topo.l1d_source, l2,
           topo.l2_source, l3, n3, topo.l3_source, topo.hwloc_version);
    return finish();
}
