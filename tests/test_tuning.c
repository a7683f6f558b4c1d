/*
 * What the entry points run under a tuning file (NORMKIT_TUNING, set by test_tuning.py, which
 * writes the file). For every norm operator and every shape class this machine has a shape
 * for: the variant normkit_kernel_select names is the expected one, its knobs
 * (normkit_class_params) are the expected ones, and the public entry point's output is bit
 * for bit that variant's, called directly with those knobs — the knobs reach the kernel. For
 * the linear operators: their knobs.
 *   test_tuning VARIANT PIPE KC      (VARIANT "-": no tuning file is active, registry knobs)
 *   test_tuning --isa FILE RIVAL     (a file's "isa" at run time: see isa_mode)
 * VARIANT is the compiled-knob suffix the file picks for the active ISA's norm operators (in
 * every class), PIPE the pipe_max_dim it sets, KC the linear operators' lin_kc.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normkit_kernels.h"

static int failures;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                  \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, "\n");                                                                \
        }                                                                                         \
    } while (0)

static float *filled(size_t n, unsigned seed)
{
    float *p = malloc(n * sizeof(float));
    uint32_t s = seed * 747796405u + 1;
    for (size_t i = 0; p && i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((int32_t)(s >> 8) - (1 << 23)) / (float)(1 << 22);
    }
    return p;
}

/* The public entry point vs the selected variant called directly with its class's knobs. */
static void check_shape(normkit_op op, size_t rows, size_t dim, const char *variant, size_t pipe)
{
    const normkit_op_info *info = normkit_op_get(op);
    const normkit_shape_class cls = normkit_shape_class_of(op, rows, dim);
    const normkit_kernel *k = normkit_kernel_select(op, rows, dim);
    const normkit_kparams *kp = normkit_class_params(op, k->isa, cls);
    CHECK(kp != NULL, "%s %s: no knobs", info->name, normkit_shape_class_name(cls));
    if (!kp)
        return;
    if (variant)
        CHECK(strcmp(k->variant, variant) == 0 && kp->pipe_max_dim == pipe,
              "%s %s: runs %s with pipe_max_dim %zu, the tuning file says %s and %zu", info->name,
              normkit_shape_class_name(cls), k->name, kp->pipe_max_dim, variant, pipe);
    else
        CHECK(memcmp(kp, &k->params, sizeof *kp) == 0,
              "%s %s: without a tuning file the knobs must be %s's registry knobs", info->name,
              normkit_shape_class_name(cls), k->name);

    const size_t n = rows * dim;
    float *x = filled(n, 1), *r0 = filled(n, 2), *g = filled(dim, 3), *b = filled(dim, 4);
    float *r1 = malloc(n * sizeof(float)), *r2 = malloc(n * sizeof(float));
    float *y1 = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
    if (!x || !r0 || !g || !b || !r1 || !r2 || !y1 || !y2) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(r1, r0, n * sizeof(float));
    memcpy(r2, r0, n * sizeof(float));
    normkit_args a = {.rows = rows, .dim = dim, .x = x, .ldx = dim, .r = r1, .ldr = dim,
                      .gamma = g, .beta = b, .eps = 1e-5f, .y = y1, .ldy = dim};
    CHECK(normkit_op_run(op, &a) == NORMKIT_OK, "%s: the entry point failed", info->name);
    a.r = r2, a.y = y2, a.kp = kp;
    normkit_kernel_call(k, &a);
    CHECK(memcmp(y1, y2, n * sizeof(float)) == 0 && memcmp(r1, r2, n * sizeof(float)) == 0,
          "%s %zu x %zu: the entry point's output differs from %s's with the class's knobs",
          info->name, rows, dim, k->name);
    free(x), free(r0), free(g), free(b), free(r1), free(r2), free(y1), free(y2);
}

/* Every operator's active variant is of ISA want. */
static int all_on(normkit_isa want)
{
    for (int op = 0; op < NORMKIT_OP_COUNT; op++)
        if (normkit_kernel_active((normkit_op)op)->isa != want)
            return 0;
    return normkit_isa_active() == want;
}

/* test_tuning --isa FILE RIVAL: FILE names RIVAL as its "isa". Loading it at run time makes
 * "auto" run RIVAL; an ISA forced by normkit_isa_force stays until "auto" is asked again; the
 * built-in defaults bring the default ISA back. (No NORMKIT_TUNING, no NORMKIT_ISA.) */
static int isa_mode(const char *path, const char *rival_name)
{
    const int rival = normkit_isa_from_name(rival_name);
    const normkit_isa dflt = normkit_isa_active();
    char err[512];
    CHECK(rival > NORMKIT_ISA_AUTO && rival != (int)dflt, "rival %s", rival_name);
    CHECK(normkit_tuning_load(path, err, sizeof err) == 0, "load %s: %s", path, err);
    CHECK(all_on((normkit_isa)rival), "after loading the file, auto runs %s (active %s)",
          rival_name, normkit_isa_name(normkit_isa_active()));
    CHECK(normkit_tuning_load(NULL, err, sizeof err) == 0 && all_on(dflt),
          "the built-in defaults bring %s back", normkit_isa_name(dflt));
    CHECK(normkit_isa_force(NORMKIT_ISA_SCALAR) == NORMKIT_OK, "force scalar");
    CHECK(normkit_tuning_load(path, err, sizeof err) == 0 && all_on(NORMKIT_ISA_SCALAR),
          "a forced ISA stays when a file with an \"isa\" loads (active %s)",
          normkit_isa_name(normkit_isa_active()));
    CHECK(normkit_isa_force(NORMKIT_ISA_AUTO) == NORMKIT_OK && all_on((normkit_isa)rival),
          "auto again: the file's %s", rival_name);
    CHECK(normkit_isa_force(dflt) == NORMKIT_OK && all_on(dflt), "force the default ISA");
    CHECK(normkit_tuning_load(NULL, err, sizeof err) == 0 && all_on(dflt) &&
              normkit_isa_force(NORMKIT_ISA_AUTO) == NORMKIT_OK && all_on(dflt),
          "defaults and auto: %s", normkit_isa_name(dflt));
    printf("test_tuning --isa: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--isa") == 0)
        return isa_mode(argv[2], argv[3]);
    if (argc != 4) {
        fprintf(stderr, "usage: test_tuning VARIANT PIPE KC | test_tuning --isa FILE RIVAL\n");
        return 2;
    }
    const int tuned = strcmp(argv[1], "-") != 0;
    const char *variant = tuned ? argv[1] : NULL;
    const size_t pipe = strtoul(argv[2], NULL, 10), kc = strtoul(argv[3], NULL, 10);
    CHECK((normkit_tuning_active() != NULL) == tuned, "tuning active: %s, expected %s",
          normkit_tuning_active() ? normkit_tuning_active() : "none", tuned ? "a file" : "none");

    /* one shape per class, from a ladder of sizes (the classes depend on the caches) */
    static const size_t dims[] = {16, 256, 1024, 4096, 16384, 65536, 1 << 19};
    static const size_t rowss[] = {1, 2, 16, 64, 256};
    const normkit_isa isa = normkit_kernel_active(normkit_op_rmsnorm)->isa;
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_op_info *info = normkit_op_get((normkit_op)op);
        if (info->linear) {
            const normkit_kparams *kp =
                normkit_class_params((normkit_op)op, isa, NORMKIT_CLASS_COUNT);
            CHECK(kp && (!tuned || kp->lin_kc == kc), "%s: lin_kc %zu, expected %zu", info->name,
                  kp ? kp->lin_kc : 0, kc);
            continue;
        }
        if (info->elementwise)
            continue;
        int seen[NORMKIT_CLASS_COUNT] = {0}, covered = 0;
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
            for (size_t j = 0; j < sizeof rowss / sizeof rowss[0]; j++) {
                const size_t rows = rowss[j], dim = dims[i];
                if (rows * dim > ((size_t)1 << 22))
                    continue;
                const normkit_shape_class c = normkit_shape_class_of((normkit_op)op, rows, dim);
                if (seen[c]++)
                    continue;
                covered++;
                /* ISAs without knob variants (scalar) have nothing a file can pick */
                const int has_variant = normkit_kernel_select((normkit_op)op, rows, dim)->variant[0];
                check_shape((normkit_op)op, rows, dim, has_variant ? variant : NULL, pipe);
            }
        CHECK(covered >= 4, "%s: only %d shape classes covered", info->name, covered);
        printf("%s: %d shape classes checked on %s\n", info->name, covered, normkit_isa_name(isa));
    }
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
