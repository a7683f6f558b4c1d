/*
 * normkit-info: what this machine is and what normkit will run on it.
 *   normkit-info [--json] [--help]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
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

static const char *knob_json(char *buf, size_t len, size_t bytes)
{
    if (bytes == SIZE_MAX)
        return "null";
    snprintf(buf, len, "%zu", bytes);
    return buf;
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
            fprintf(stderr, "normkit-info: unknown option '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }

    const normkit_cpu *cpu = normkit_cpu_get();
    const normkit_isa active = normkit_isa_active();
    const char *env = getenv("NORMKIT_ISA");
    nk_topo topo;
    char topo_err[128] = "";
    const int have_topo = nk_topo_read(&topo, topo_err, sizeof topo_err) == 0;
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);

    if (json) {
        printf("{\n  \"normkit_version\": \"%d.%d.%d\",\n", NORMKIT_VERSION_MAJOR,
               NORMKIT_VERSION_MINOR, NORMKIT_VERSION_PATCH);
        printf("  \"cpu\": {\"arch\": \"%s\", \"vendor\": ", cpu->arch);
        json_str(cpu->vendor);
        printf(", \"family\": %u, \"model_id\": %u, \"model\": ", cpu->family, cpu->model_id);
        json_str(cpu->model);
        printf(", \"features\": [");
        for (int f = 0, first = 1; f < NORMKIT_CPU_FEATURE_COUNT; f++)
            if (cpu->features >> f & 1u) {
                printf("%s\"%s\"", first ? "" : ", ", normkit_cpu_feature_name(f));
                first = 0;
            }
        printf("]},\n  \"isa\": {\"supported\": [");
        for (int i = NORMKIT_ISA_SCALAR, first = 1; i < NORMKIT_ISA_COUNT; i++)
            if (normkit_isa_supported((normkit_isa)i)) {
                printf("%s\"%s\"", first ? "" : ", ", normkit_isa_name((normkit_isa)i));
                first = 0;
            }
        printf("], \"active\": \"%s\", \"env\": ", normkit_isa_name(active));
        if (env)
            json_str(env);
        else
            printf("null");
        printf("},\n  \"ops\": {");
        for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
            const normkit_op_info *oi = normkit_op_get((normkit_op)op);
            printf("%s\"%s\": {\"norm\": \"%s\", \"residual\": %s, \"beta\": %s, \"linear\": %s, "
                   "\"elementwise\": %s}",
                   op ? ", " : "", oi->name,
                   oi->norm == NORMKIT_NORM_RMS ? "rms" : oi->norm == NORMKIT_NORM_LN ? "ln" : "none",
                   oi->residual ? "true" : "false", oi->beta ? "true" : "false",
                   oi->linear ? "true" : "false", oi->elementwise ? "true" : "false");
        }
        printf("},\n  \"dispatch\": {");
        for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
            const normkit_kernel *k = normkit_kernel_active((normkit_op)op);
            printf("%s\"%s\": {\"kernel\": \"%s\", \"isa\": \"%s\", \"classes\": {", op ? ", " : "",
                   normkit_op_name((normkit_op)op), k->name, normkit_isa_name(k->isa));
            /* the variant each shape class runs (normkit_kernel_select) */
            for (int c = 0; c < NORMKIT_CLASS_COUNT; c++)
                printf("%s\"%s\": \"%s\"", c ? ", " : "",
                       normkit_shape_class_name((normkit_shape_class)c),
                       class_kernel((normkit_op)op, c)->name);
            printf("}}");
        }
        printf("},\n  \"kernels\": [");
        char a[32], b[32];
        for (size_t i = 0; i < nk; i++) {
            printf("%s\n    {\"name\": \"%s\", \"op\": \"%s\", \"dtype\": \"%s\", \"isa\": \"%s\", "
                   "\"supported\": %s, \"variant\": \"%s\", \"compiled\": {",
                   i ? "," : "", ks[i].name, normkit_op_name(ks[i].op), ks[i].dtype,
                   normkit_isa_name(ks[i].isa), normkit_isa_supported(ks[i].isa) ? "true" : "false",
                   ks[i].variant);
            for (int j = 0; j < NORMKIT_MAX_KNOBS && ks[i].knobs[j].name; j++)
                printf("%s\"%s\": %u", j ? ", " : "", ks[i].knobs[j].name, ks[i].knobs[j].value);
            printf("}, \"knobs\": {\"nt_min_bytes\": %s, \"dram_min_bytes\": %s",
                   knob_json(a, sizeof a, ks[i].params.nt_min_bytes),
                   knob_json(b, sizeof b, ks[i].params.dram_min_bytes));
            if (!normkit_op_get(ks[i].op)->linear && !normkit_op_get(ks[i].op)->elementwise)
                printf(", \"pipe_max_dim\": %zu", ks[i].params.pipe_max_dim);
            if (normkit_op_get(ks[i].op)->linear) /* 0: sized from the caches at call time */
                printf(", \"lin_kc\": %zu, \"lin_mc\": %zu, \"lin_prefetch\": %zu, "
                       "\"lin_pack_rows\": %zu, \"pack_nr\": %u, \"pack_vl\": %u",
                       ks[i].params.lin_kc, ks[i].params.lin_mc, ks[i].params.lin_prefetch,
                       ks[i].params.lin_pack_rows, ks[i].params.pack_nr, ks[i].params.pack_vl);
            printf("}}");
        }
        printf("\n  ],\n  \"topology\": {");
        if (have_topo)
            printf("\"cores\": %d, \"pus\": %d, \"packages\": %d, ", topo.cores, topo.pus,
                   topo.packages);
        else {
            printf("\"error\": ");
            json_str(topo_err);
            printf(", ");
        }
        /* the sizes are there either way: what hwloc lacks comes from normkit_cpu_caches */
        printf("\"l1d_bytes\": %zu, \"l2_bytes\": %zu, \"l3_bytes\": %zu, \"l3_count\": %d, "
               "\"cache_source\": {\"l1d\": ",
               topo.l1d, topo.l2, topo.l3, topo.l3_count);
        json_str(topo.l1d_source);
        printf(", \"l2\": ");
        json_str(topo.l2_source);
        printf(", \"l3\": ");
        json_str(topo.l3_source);
        printf("}, \"hwloc\": ");
        json_str(topo.hwloc_version);
        printf("}\n");
        printf("}\n");
        return 0;
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
    printf("\nISAs:     ");
    for (int i = NORMKIT_ISA_SCALAR; i < NORMKIT_ISA_COUNT; i++)
        if (normkit_isa_supported((normkit_isa)i))
            printf(" %s", normkit_isa_name((normkit_isa)i));
    printf("   (CPU, OS and this build all support them)\n");
    printf("dispatch:  %s (NORMKIT_ISA %s%s)\n", normkit_isa_name(active), env ? "=" : "unset",
           env ? env : "");
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
    return 0;
}
