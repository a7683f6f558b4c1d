/* Tuning files (docs/tuning.md): parsed and checked here, applied by dispatch.c. Internal. */
#ifndef NORMKIT_TUNING_H
#define NORMKIT_TUNING_H

#include <stddef.h>

#include "normkit_kernels.h"

/* The values normkit-tune tries for each run-time knob; the kernel tests run every one of them
 * (test_kernels.c: pipe_max_dim; test_linear.c: the linear knobs), so nothing the tuner can
 * pick goes untested. Initializers: `static const size_t v[] = NORMKIT_TUNE_PIPE_MAX_DIM;`. */
#define NORMKIT_TUNE_PIPE_MAX_DIM {0, 1024, 2048, 4096, 8192, 16384}
#define NORMKIT_TUNE_LIN_KC {0, 256, 512, 1024, 2048}
#define NORMKIT_TUNE_LIN_MC {0, 16, 64, 256}
#define NORMKIT_TUNE_LIN_PREFETCH {0, 8, 16, 32, 64}
#define NORMKIT_TUNE_LIN_PACK_ROWS {0, 16, 32, 64, 128}

/* One entry of a file that passed every check: the variant and the knobs it runs with. For
 * the linear operators cls is NORMKIT_CLASS_COUNT ("all"). */
typedef struct {
    const normkit_kernel *k;
    normkit_shape_class cls;
    normkit_kparams kp;
} normkit_tuning_entry;

/* The machine a file must match: CPU brand string and the cache sizes the classes cut at. */
typedef struct {
    const char *cpu;
    size_t l1d, l2;
} normkit_tuning_machine;

/* Parses and checks `len` bytes of JSON. 0: every entry is valid for this build and machine
 * (*entries, *count: malloc'ed, the caller frees; a file may have none), and *isa is the ISA
 * the file makes "auto" run (its optional "isa"; NORMKIT_ISA_AUTO without one; a named ISA
 * must be supported here). -1: the reason in err, nothing allocated. Without cJSON in the
 * build it always fails, saying so. */
int normkit_tuning_parse(const char *text, size_t len, const normkit_tuning_machine *m,
                         normkit_tuning_entry **entries, size_t *count, normkit_isa *isa,
                         char *err, size_t errlen);

/* Reads a whole file (at most 16 MiB) into a NUL-terminated malloc'ed buffer; NULL and the
 * reason in err otherwise (a directory, unreadable, too large). */
char *normkit_tuning_read_file(const char *path, size_t *len, char *err, size_t errlen);

#endif
