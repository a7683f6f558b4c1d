/*
 * NORMKIT_ISA as the user sets it. Meson runs this program with the variable set and says
 * what to expect: the ISA the dispatcher must end on and how many warnings stderr must get
 * (one for a bad or unsupported value, however many calls follow; none otherwise).
 *   test_env <expected isa | best> <expected warnings>
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <isa|best> <warnings>\n", argv[0]);
        return 2;
    }
    int want = strcmp(argv[1], "best") == 0 ? (int)nk_best_supported_isa() : normkit_isa_from_name(argv[1]);
    if (want <= NORMKIT_ISA_AUTO) {
        fprintf(stderr, "test_env: unknown ISA '%s'\n", argv[1]);
        return 2;
    }
    if (!normkit_isa_supported((normkit_isa)want)) {
        printf("SKIP: this CPU/OS/build cannot run %s\n", argv[1]);
        return 77; /* meson's SKIP */
    }
    const int want_warnings = atoi(argv[2]);

    /* Catch what the library writes to stderr. */
    FILE *cap = tmpfile();
    int saved = dup(2);
    if (!cap || saved < 0 || dup2(fileno(cap), 2) < 0)
        return 2;
    float x[5] = {1, 2, 3, 4, 5}, y[5], r[5] = {0};
    int bad_status = 0;
    for (int i = 0; i < 3; i++) {
        bad_status |= normkit_rmsnorm_f32(1, 5, x, 5, NULL, 1e-5f, y, 5) != NORMKIT_OK;
        bad_status |= normkit_layernorm_f32(1, 5, x, 5, NULL, NULL, 1e-5f, y, 5) != NORMKIT_OK;
        bad_status |= normkit_add_rmsnorm_f32(1, 5, x, 5, r, 5, NULL, 1e-5f, y, 5) != NORMKIT_OK;
        bad_status |= normkit_add_layernorm_f32(1, 5, x, 5, r, 5, NULL, NULL, 1e-5f, y, 5) != NORMKIT_OK;
    }
    const normkit_isa active = normkit_isa_active();
    fflush(stderr);
    dup2(saved, 2);

    char line[512];
    int warnings = 0;
    rewind(cap);
    while (fgets(line, sizeof line, cap)) {
        fprintf(stderr, "captured: %s", line);
        warnings += strstr(line, "normkit: warning: NORMKIT_ISA=") != NULL;
    }
    int ok = 1;
    if (bad_status) {
        fprintf(stderr, "FAIL: a valid call did not return NORMKIT_OK\n");
        ok = 0;
    }
    if (active != (normkit_isa)want) {
        fprintf(stderr, "FAIL: NORMKIT_ISA=%s: active ISA is %s, want %s\n", getenv("NORMKIT_ISA"),
                normkit_isa_name(active), normkit_isa_name((normkit_isa)want));
        ok = 0;
    }
    if (warnings != want_warnings) {
        fprintf(stderr, "FAIL: NORMKIT_ISA=%s: %d warnings on stderr, want %d\n",
                getenv("NORMKIT_ISA"), warnings, want_warnings);
        ok = 0;
    }
    for (int op = 0; op < NORMKIT_OP_COUNT; op++) {
        const normkit_kernel *k = normkit_kernel_active((normkit_op)op);
        if (normkit_kernels_for(active, (normkit_op)op) && k->isa != active) {
            fprintf(stderr, "FAIL: %s runs %s under %s\n", normkit_op_name((normkit_op)op),
                    k->name, normkit_isa_name(active));
            ok = 0;
        }
    }
    printf("%s: NORMKIT_ISA=%s -> %s, %d warning(s)\n", ok ? "PASS" : "FAIL",
           getenv("NORMKIT_ISA") ? getenv("NORMKIT_ISA") : "(unset)", normkit_isa_name(active),
           warnings);
    return ok ? 0 : 1;
}
