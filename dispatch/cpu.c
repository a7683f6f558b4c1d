/*
 * CPU detection. x86: CPUID for what the core implements, XGETBV for what the OS saves on
 * a context switch; an ISA counts only when both agree (a kernel using ZMM registers the
 * OS does not save would corrupt other threads' state, or fault). AArch64: getauxval.
 * Cache sizes: sysconf, then CPUID on x86, else typical sizes.
 */
#define _GNU_SOURCE
#include "cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define NORMKIT_X86 1
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#endif

#define BIT(f) (1u << (f))

const char *normkit_cpu_feature_name(int feature)
{
    static const char *const names[NORMKIT_CPU_FEATURE_COUNT] = {
        "sse2",       "avx",         "fma",         "avx2",        "avx512f",
        "avx512bw",   "avx512vl",    "avx512dq",    "avx512vnni",  "avx512bf16",
        "os_ymm",     "os_zmm",      "asimd",       "sve",         "sve2"};
    return feature >= 0 && feature < NORMKIT_CPU_FEATURE_COUNT ? names[feature] : NULL;
}

uint32_t normkit_cpu_x86_features(uint32_t l1_ecx, uint32_t l1_edx, uint32_t l7_ebx,
                                  uint32_t l7_ecx, uint32_t l7s1_eax, uint64_t xcr0)
{
    uint32_t f = 0;
    if (l1_edx & (1u << 26)) f |= BIT(NORMKIT_CPU_SSE2);
    if (l1_ecx & (1u << 28)) f |= BIT(NORMKIT_CPU_AVX);
    if (l1_ecx & (1u << 12)) f |= BIT(NORMKIT_CPU_FMA);
    if (l7_ebx & (1u << 5)) f |= BIT(NORMKIT_CPU_AVX2);
    if (l7_ebx & (1u << 16)) f |= BIT(NORMKIT_CPU_AVX512F);
    if (l7_ebx & (1u << 17)) f |= BIT(NORMKIT_CPU_AVX512DQ);
    if (l7_ebx & (1u << 30)) f |= BIT(NORMKIT_CPU_AVX512BW);
    if (l7_ebx & (1u << 31)) f |= BIT(NORMKIT_CPU_AVX512VL);
    if (l7_ecx & (1u << 11)) f |= BIT(NORMKIT_CPU_AVX512VNNI);
    if (l7s1_eax & (1u << 5)) f |= BIT(NORMKIT_CPU_AVX512BF16);
    /* XCR0 is only meaningful when the OS set CR4.OSXSAVE (CPUID.1:ECX bit 27). */
    if (l1_ecx & (1u << 27)) {
        if ((xcr0 & 0x6) == 0x6) f |= BIT(NORMKIT_CPU_OS_YMM);            /* XMM | YMM */
        if ((xcr0 & 0xe6) == 0xe6) f |= BIT(NORMKIT_CPU_OS_ZMM);          /* + opmask, ZMM */
    }
    return f;
}

uint32_t normkit_cpu_isa_mask(uint32_t f)
{
    uint32_t m = 1u << NORMKIT_ISA_SCALAR;
    const uint32_t avx2 = BIT(NORMKIT_CPU_AVX) | BIT(NORMKIT_CPU_AVX2) | BIT(NORMKIT_CPU_FMA) |
                          BIT(NORMKIT_CPU_OS_YMM);
    const uint32_t avx512 = avx2 | BIT(NORMKIT_CPU_AVX512F) | BIT(NORMKIT_CPU_AVX512BW) |
                            BIT(NORMKIT_CPU_AVX512VL) | BIT(NORMKIT_CPU_AVX512DQ) |
                            BIT(NORMKIT_CPU_OS_ZMM);
    if ((f & avx2) == avx2) m |= 1u << NORMKIT_ISA_AVX2;
    if ((f & avx512) == avx512) m |= 1u << NORMKIT_ISA_AVX512;
    if (f & BIT(NORMKIT_CPU_ASIMD)) m |= 1u << NORMKIT_ISA_NEON;
    if ((f & (BIT(NORMKIT_CPU_ASIMD) | BIT(NORMKIT_CPU_SVE))) ==
        (BIT(NORMKIT_CPU_ASIMD) | BIT(NORMKIT_CPU_SVE)))
        m |= 1u << NORMKIT_ISA_SVE;
    return m;
}

static normkit_cpu detected;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

#ifdef NORMKIT_X86
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    /* xgetbv with ecx = 0; encoded as bytes so no -mxsave is needed in a baseline file. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect_x86(normkit_cpu *c)
{
    unsigned a, b, cx, d, max = __get_cpuid_max(0, NULL);
    uint32_t l1c = 0, l1d = 0, l7b = 0, l7c = 0, l71a = 0;
    uint64_t xcr0 = 0;
    if (__get_cpuid(0, &a, &b, &cx, &d)) {
        memcpy(c->vendor, &b, 4);
        memcpy(c->vendor + 4, &d, 4);
        memcpy(c->vendor + 8, &cx, 4);
        c->vendor[12] = '\0';
    }
    if (max >= 1 && __get_cpuid(1, &a, &b, &cx, &d)) {
        l1c = cx;
        l1d = d;
        unsigned fam = (a >> 8) & 0xf, mod = (a >> 4) & 0xf;
        if (fam == 0xf)
            fam += (a >> 20) & 0xff;
        if (fam >= 6)
            mod |= ((a >> 16) & 0xf) << 4;
        c->family = fam;
        c->model_id = mod;
    }
    if (max >= 7 && __get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
        l7b = b;
        l7c = cx;
        if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &cx, &d))
            l71a = a;
    }
    if (l1c & (1u << 27))
        xcr0 = read_xcr0();
#ifdef __x86_64__
    c->arch = "x86_64";
#else
    c->arch = "x86"; /* a 32-bit build, whatever the CPU could run in 64-bit mode */
#endif
    c->features = normkit_cpu_x86_features(l1c, l1d, l7b, l7c, l71a, xcr0);

    unsigned brand[12];
    if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                        &brand[4 * i + 3]);
        memcpy(c->model, brand, sizeof brand);
        c->model[sizeof brand] = '\0';
    }
}
#endif

#if defined(__aarch64__) && defined(__linux__)
static void detect_aarch64(normkit_cpu *c)
{
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    c->arch = "aarch64";
    if (hw & HWCAP_ASIMD) c->features |= BIT(NORMKIT_CPU_ASIMD);
#ifdef HWCAP_SVE
    if (hw & HWCAP_SVE) c->features |= BIT(NORMKIT_CPU_SVE);
#endif
#ifdef PR_SVE_GET_VL
    /* The vector length from the kernel (no SVE instruction in baseline code). A process may
     * change it per thread with PR_SVE_SET_VL; the kernels are vector-length agnostic, only
     * the dispatcher's preference reads this value. */
    if (c->features & BIT(NORMKIT_CPU_SVE)) {
        const int vl = prctl(PR_SVE_GET_VL, 0, 0, 0, 0);
        if (vl > 0)
            c->sve_bits = (unsigned)(vl & PR_SVE_VL_LEN_MASK) * 8u;
    }
#endif
#ifdef HWCAP2_SVE2
    if (hw2 & HWCAP2_SVE2) c->features |= BIT(NORMKIT_CPU_SVE2);
#endif
    (void)hw2;
    /* The kernel exposes no brand string on Arm; name the implementer and part. */
    FILE *f = fopen("/proc/cpuinfo", "r");
    unsigned impl = 0, part = 0;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (!impl) sscanf(line, "CPU implementer : %x", &impl);
            if (!part) sscanf(line, "CPU part : %x", &part);
        }
        fclose(f);
    }
    if (impl || part)
        snprintf(c->model, sizeof c->model, "Arm implementer 0x%02x part 0x%03x", impl, part);
}
#endif

static void trim(char *s)
{
    char *p = s;
    while (*p == ' ')
        p++;
    memmove(s, p, strlen(p) + 1);
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void detect(void)
{
    detected.arch = "other";
#ifdef NORMKIT_X86
    detect_x86(&detected);
#elif defined(__aarch64__) && defined(__linux__)
    detect_aarch64(&detected);
#endif
    trim(detected.model);
    if (!detected.model[0])
        snprintf(detected.model, sizeof detected.model, "unknown");
}

const normkit_cpu *normkit_cpu_get(void)
{
    pthread_once(&detect_once, detect);
    return &detected;
}

/* ---------------------------------------------------------------------------------------- */
/* Cache sizes. */

/* Typical sizes for a level no source reports: L1d 32 KiB (most x86 and Arm cores of the last
 * decade), L2 1 MiB (recent x86 server cores, Arm Neoverse N1/N2/V1), L3 8 MiB (a desktop
 * part, or a few cores' share of a server part). */
static const size_t assumed_cache_bytes[3] = {(size_t)32 << 10, (size_t)1 << 20, (size_t)8 << 20};

static normkit_cache_info caches;
static pthread_once_t caches_once = PTHREAD_ONCE_INIT;

/* glibc's sysconf: 0 or -1 means it does not know (other C libraries lack the names). */
static size_t sysconf_cache_bytes(int level)
{
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && \
    defined(_SC_LEVEL3_CACHE_SIZE)
    static const int names[3] = {_SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE,
                                 _SC_LEVEL3_CACHE_SIZE};
    const long v = sysconf(names[level]);
    return v > 0 ? (size_t)v : 0;
#else
    (void)level;
    return 0;
#endif
}

#ifdef NORMKIT_X86
static void set_cache_bytes(size_t *dst, uint64_t bytes)
{
    if (!*dst && bytes > 0 && bytes <= SIZE_MAX)
        *dst = (size_t)bytes;
}

/* Deterministic cache parameters (Intel leaf 4; AMD leaf 0x8000001D, the same layout): the first
 * data or unified cache of levels 1-3, size = ways * partitions * line size * sets. */
static void cpuid_cache_leaf(unsigned leaf, size_t bytes[3])
{
    for (unsigned i = 0; i < 64; i++) {
        unsigned a, b, c, d;
        if (!__get_cpuid_count(leaf, i, &a, &b, &c, &d))
            return;
        const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
        if (type == 0) /* no more caches */
            return;
        if (type == 2 || level < 1 || level > 3) /* instruction cache, or a level we skip */
            continue;
        const uint64_t ways = ((b >> 22) & 0x3ff) + 1, parts = ((b >> 12) & 0x3ff) + 1,
                       line = (b & 0xfff) + 1, sets = (uint64_t)c + 1;
        const uint64_t per_set = ways * parts * line; /* < 2^33 */
        if (sets <= UINT64_MAX / per_set)
            set_cache_bytes(&bytes[level - 1], per_set * sets);
    }
}

static void cpuid_caches(size_t bytes[3])
{
    const char *vendor = normkit_cpu_get()->vendor;
    unsigned a, b, c, d;
    if (strcmp(vendor, "AuthenticAMD") == 0 || strcmp(vendor, "HygonGenuine") == 0) {
        /* leaf 0x8000001D only with topology extensions (CPUID 0x80000001 ECX bit 22) */
        if (__get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 22)))
            cpuid_cache_leaf(0x8000001Du, bytes);
        /* older parts: L1d in KiB (0x80000005 ECX[31:24]), L2 in KiB (0x80000006 ECX[31:16]),
         * L3 in 512 KiB units (0x80000006 EDX[31:18]) */
        if (__get_cpuid(0x80000005u, &a, &b, &c, &d))
            set_cache_bytes(&bytes[0], (uint64_t)(c >> 24) << 10);
        if (__get_cpuid(0x80000006u, &a, &b, &c, &d)) {
            set_cache_bytes(&bytes[1], (uint64_t)(c >> 16) << 10);
            set_cache_bytes(&bytes[2], (uint64_t)(d >> 18) << 19);
        }
    } else {
        cpuid_cache_leaf(4, bytes); /* Intel, and the vendors that follow it */
    }
}
#endif

static void detect_caches(void)
{
    size_t other[3] = {0, 0, 0};
    int missing = 0;
    for (int l = 0; l < 3; l++) {
        caches.bytes[l] = sysconf_cache_bytes(l);
        caches.source[l] = "sysconf";
        missing |= !caches.bytes[l];
    }
#ifdef NORMKIT_X86
    if (missing)
        cpuid_caches(other);
#endif
    (void)missing;
    for (int l = 0; l < 3; l++) {
        if (caches.bytes[l])
            continue;
        if (other[l]) {
            caches.bytes[l] = other[l];
            caches.source[l] = "cpuid";
        } else {
            caches.bytes[l] = assumed_cache_bytes[l];
            caches.source[l] = "assumed";
        }
    }
}

void normkit_cpu_caches(normkit_cache_info *out)
{
    pthread_once(&caches_once, detect_caches);
    *out = caches;
}
