/* CPU and OS feature detection (internal to normkit and its tools). */
#ifndef NORMKIT_CPU_H
#define NORMKIT_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "normkit.h"

/* Feature bits. The OS_* bits say the OS saves that register state (x86 XCR0). */
enum {
    NORMKIT_CPU_SSE2,
    NORMKIT_CPU_AVX,
    NORMKIT_CPU_FMA,
    NORMKIT_CPU_AVX2,
    NORMKIT_CPU_AVX512F,
    NORMKIT_CPU_AVX512BW,
    NORMKIT_CPU_AVX512VL,
    NORMKIT_CPU_AVX512DQ,
    NORMKIT_CPU_AVX512VNNI,
    NORMKIT_CPU_AVX512BF16,
    NORMKIT_CPU_OS_YMM,
    NORMKIT_CPU_OS_ZMM,
    NORMKIT_CPU_ASIMD,
    NORMKIT_CPU_SVE,
    NORMKIT_CPU_SVE2,
    NORMKIT_CPU_FEATURE_COUNT
};

typedef struct normkit_cpu {
    const char *arch;  /* "x86_64", "x86" (32-bit), "aarch64" or "other" */
    char model[96];    /* brand string, or "unknown" */
    char vendor[16];   /* x86 vendor id ("GenuineIntel", "AuthenticAMD"), or "" */
    unsigned family, model_id; /* x86 display family and model; 0 elsewhere */
    uint32_t features; /* 1u << NORMKIT_CPU_* */
    /* SVE vector length in bits (PR_SVE_GET_VL) of the thread that ran the detection (a thread
     * may change its own later; only auto's choice reads it); 0: no SVE */
    unsigned sve_bits;
} normkit_cpu;

/* Detected once, thread-safely; the result never changes. */
const normkit_cpu *normkit_cpu_get(void);
const char *normkit_cpu_feature_name(int feature);

/* The ISA's family: 1 x86 SIMD (AVX2, AVX-512), 2 Arm SIMD (NEON, SVE), 0 scalar. Forcing an
 * ISA allows the weaker ones of its family; the tuner's ISA question compares within one. */
static inline int normkit_isa_family(normkit_isa isa)
{
    return isa == NORMKIT_ISA_AVX2 || isa == NORMKIT_ISA_AVX512 ? 1
           : isa == NORMKIT_ISA_NEON || isa == NORMKIT_ISA_SVE  ? 2
                                                                 : 0;
}

/* The ISAs a feature set can execute (bit 1 << normkit_isa); scalar always. Pure, so tests can
 * feed it feature sets this machine does not have (e.g. AVX-512 without OS ZMM support). */
uint32_t normkit_cpu_isa_mask(uint32_t features);

/* x86 only: feature bits from raw CPUID leaves 1 (ecx), 7.0 (ebx, ecx), 7.1 (eax) and XCR0. */
uint32_t normkit_cpu_x86_features(uint32_t l1_ecx, uint32_t l1_edx, uint32_t l7_ebx,
                                  uint32_t l7_ecx, uint32_t l7s1_eax, uint64_t xcr0);

/* Data cache sizes, for blocking and for the tools' cache levels. */
typedef struct {
    size_t bytes[3];        /* L1d, L2, L3: bytes of one cache of that level; never 0 */
    const char *source[3];  /* where each came from: "sysconf", "cpuid" or "assumed" */
} normkit_cache_info;

/* Per level, the first source that knows: sysconf (glibc's _SC_LEVEL*_CACHE_SIZE), then CPUID
 * on x86 (deterministic cache parameters), else a typical size (see cpu.c). Detected once,
 * thread-safely; later calls only copy the result. Never fails. */
void normkit_cpu_caches(normkit_cache_info *out);

#endif
