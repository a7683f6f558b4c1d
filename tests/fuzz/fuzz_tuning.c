/*
 * fuzz_tuning: the input's bytes as a tuning file (docs/tuning.md), through the library's
 * public checker normkit_tuning_check and its parser normkit_tuning_parse (dispatch/tuning.h),
 * in an allocation of exactly len bytes (no NUL after it: AddressSanitizer reports any read
 * past the text).
 *
 * Checked for every input:
 *  - no crash, leak or undefined behaviour (the sanitizers);
 *  - the result is 0, or -1 with a non-empty NUL-terminated message; with a short err buffer
 *    the message is the same, truncated (still NUL-terminated); err NULL or errlen 0 is fine;
 *  - normkit_tuning_parse agrees with normkit_tuning_check, and a file that passes is parsed
 *    again identically (the same entries, in order: variant, class, knobs);
 *  - a file that passes still passes, with the same entries, after a round trip through
 *    cJSON (parsed and printed unformatted), unless the round trip changed a number
 *    (cJSON prints an out-of-range number as null).
 * Files are checked against this machine's CPU brand string and cache sizes. So that seeds
 * work on any machine, the placeholders @CPU@, @L1@ and @L2@ in the input are replaced by
 * this machine's values and the result is checked too (the input as it is first).
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz_common.h"

#include "cpu.h"
#include "tuning.h"

#if defined(__has_include)
#if __has_include(<cJSON.h>)
#include <cJSON.h>
#define FZ_HAVE_CJSON 1
#endif
#endif

static normkit_tuning_machine machine(void)
{
    normkit_cache_info c;
    normkit_cpu_caches(&c);
    const normkit_tuning_machine m = {normkit_cpu_get()->model, c.bytes[0], c.bytes[1]};
    return m;
}

static int same_entries(const normkit_tuning_entry *a, size_t na, const normkit_tuning_entry *b,
                        size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].k != b[i].k || a[i].cls != b[i].cls ||
            memcmp(&a[i].kp, &b[i].kp, sizeof a[i].kp) != 0)
            return 0;
    return 1;
}

/* Checks one text; returns the check's result. */
static int check_text(const char *text, size_t len)
{
    /* exactly len bytes, not NUL-terminated */
    char *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    memcpy(buf, text, len);

    char err[512];
    memset(err, 0x55, sizeof err);
    const int rc = normkit_tuning_check(buf, len, err, sizeof err);
    if (rc != 0 && rc != -1)
        fz_fail("normkit_tuning_check returned %d", rc);
    if (!memchr(err, '\0', sizeof err))
        fz_fail("the message is not NUL-terminated");
    if (rc == -1 && err[0] == '\0')
        fz_fail("refused without a message");

    /* a short buffer: the same message, truncated */
    const size_t short_len = 1 + len % 24;
    char small[24];
    memset(small, 0x55, sizeof small);
    if (normkit_tuning_check(buf, len, small, short_len) != rc)
        fz_fail("another result with a %zu-byte message buffer", short_len);
    if (!memchr(small, '\0', short_len) || strncmp(small, err, short_len - 1) != 0 ||
        strlen(small) != (strlen(err) < short_len - 1 ? strlen(err) : short_len - 1))
        fz_fail("the %zu-byte message \"%s\" is not \"%s\" truncated", short_len, small, err);
    if (normkit_tuning_check(buf, len, NULL, 0) != rc || normkit_tuning_check(buf, len, err, 0) != rc)
        fz_fail("another result without a message buffer");

    /* the parser itself: agrees, and parses a passing file again identically */
    const normkit_tuning_machine m = machine();
    normkit_tuning_entry *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    normkit_isa i1 = NORMKIT_ISA_COUNT, i2 = NORMKIT_ISA_COUNT, i3 = NORMKIT_ISA_COUNT;
    char perr[512];
    const int p1 = normkit_tuning_parse(buf, len, &m, &e1, &n1, &i1, perr, sizeof perr);
    if (p1 != rc)
        fz_fail("normkit_tuning_parse says %d, normkit_tuning_check %d (%s)", p1, rc, err);
    if (p1 != 0 && (e1 || n1))
        fz_fail("a refused file left entries");
    if (p1 != 0 && i1 != NORMKIT_ISA_AUTO)
        fz_fail("a refused file left an ISA (%d)", (int)i1);
    /* a file's "isa" is "auto" or an ISA this machine runs */
    if (p1 == 0 && i1 != NORMKIT_ISA_AUTO && !normkit_isa_supported(i1))
        fz_fail("a passing file names ISA %d, which this machine does not support", (int)i1);
    if (p1 == 0) {
        const int p2 = normkit_tuning_parse(buf, len, &m, &e2, &n2, &i2, perr, sizeof perr);
        if (p2 != 0 || !same_entries(e1, n1, e2, n2) || i2 != i1)
            fz_fail("a passing file parsed again differently (%d, %zu vs %zu entries)", p2, n1,
                    n2);
        for (size_t i = 0; i < n1; i++) {
            const normkit_tuning_entry *t = &e1[i];
            const normkit_op_info *info = normkit_op_get(t->k->op);
            if (!info || info->elementwise || !normkit_isa_name(t->k->isa) ||
                (info->linear ? t->cls != NORMKIT_CLASS_COUNT : t->cls >= NORMKIT_CLASS_COUNT))
                fz_fail("entry %zu: %s in class %d is not a tunable choice", i, t->k->name,
                        (int)t->cls);
        }
    }
#ifdef FZ_HAVE_CJSON
    if (p1 == 0) {
        cJSON *root = cJSON_ParseWithLength(buf, len);
        char *printed = root ? cJSON_PrintUnformatted(root) : NULL;
        if (!root || !printed)
            fz_fail("cJSON cannot parse or print a file that passed");
        /* an out-of-range number (1e999) is printed as null: the round trip changed it */
        /* (any null in the printed text may be such a number, even where the input also
         * had a null of its own: then the round trip is not comparable) */
        if (!strstr(printed, "null")) {
            normkit_tuning_entry *e3 = NULL;
            size_t n3 = 0;
            if (normkit_tuning_parse(printed, strlen(printed), &m, &e3, &n3, &i3, perr,
                                     sizeof perr) != 0 ||
                !same_entries(e1, n1, e3, n3) || i3 != i1)
                fz_fail("a passing file, printed again by cJSON, %s: %s",
                        e3 ? "gives other entries" : "is refused", perr);
            free(e3);
        }
        cJSON_free(printed);
        cJSON_Delete(root);
    }
#endif
    free(e1);
    free(e2);
    free(buf);
    return rc;
}

/* The input with @CPU@, @L1@ and @L2@ replaced by this machine's values; NULL if it has none. */
static char *substitute(const uint8_t *data, size_t size, size_t *out_len)
{
    const normkit_tuning_machine m = machine();
    char cpu[200], l1[32], l2[32];
    size_t k = 0;
    for (const char *s = m.cpu; *s && k + 2 < sizeof cpu; s++) { /* as a JSON string's body */
        if (*s == '"' || *s == '\\')
            cpu[k++] = '\\';
        cpu[k++] = *s;
    }
    cpu[k] = '\0';
    snprintf(l1, sizeof l1, "%zu", m.l1d);
    snprintf(l2, sizeof l2, "%zu", m.l2);
    const char *const keys[] = {"@CPU@", "@L1@", "@L2@"}, *const vals[] = {cpu, l1, l2};
    if (!memmem(data, size, "@CPU@", 5) && !memmem(data, size, "@L1@", 4) &&
        !memmem(data, size, "@L2@", 4))
        return NULL;
    char *out = malloc(size * (sizeof cpu) + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < size;) {
        int hit = 0;
        for (int j = 0; j < 3 && !hit; j++) {
            const size_t kl = strlen(keys[j]);
            if (size - i >= kl && memcmp(data + i, keys[j], kl) == 0) {
                memcpy(o, vals[j], strlen(vals[j]));
                o += strlen(vals[j]);
                i += kl;
                hit = 1;
            }
        }
        if (!hit)
            *o++ = (char)data[i++];
    }
    *out_len = (size_t)(o - out);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    snprintf(fz_case, sizeof fz_case, "a tuning file of %zu bytes (the input as it is)", size);
    check_text((const char *)data, size);
    size_t len = 0;
    char *sub = substitute(data, size, &len);
    if (sub) {
        snprintf(fz_case, sizeof fz_case,
                 "a tuning file of %zu bytes (the input with @CPU@, @L1@, @L2@ replaced)", len);
        check_text(sub, len);
        free(sub);
    }
    return 0;
}
