/*
 * Tuning files (docs/tuning.md): read with cJSON, checked completely before anything is
 * applied. A file is hostile input: every field is type- and range-checked, unknown keys are
 * errors, and the first problem found is the one reported.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tuning.h"

#define MAX_FILE_BYTES ((size_t)16 << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

char *normkit_tuning_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        fail(err, errlen, "not a regular file");
        return NULL;
    }
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_FILE_BYTES) {
        free(buf);
        fail(err, errlen, bad ? "read error" : "larger than 16 MiB");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

#if NORMKIT_HAVE_CJSON
#include <cJSON.h>

static const char *const class_names[] = {"l1_row",  "l1_rows",  "l2_row",
                                          "l2_rows", "mem_row", "mem_rows"};

/* Every key of object o must be one of the NULL-terminated list. */
static int keys_known(const cJSON *o, const char *const *known, const char *where, char *err,
                      size_t errlen)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        int ok = 0;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = c->string && strcmp(c->string, known[i]) == 0;
        if (!ok)
            return fail(err, errlen, "unknown key \"%s\" in %s", c->string ? c->string : "?",
                        where);
    }
    return 0;
}

/* cJSON keeps the last of duplicate keys silently; a file with duplicates is refused. */
static int keys_unique(const cJSON *o, const char *where, char *err, size_t errlen)
{
    for (const cJSON *a = o->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && strcmp(a->string, b->string) == 0)
                return fail(err, errlen, "duplicate key \"%s\" in %s", a->string, where);
    return 0;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *string_member(const cJSON *o, const char *key, const char *where, char *err,
                                 size_t errlen)
{
    const cJSON *v = member(o, key);
    if (!cJSON_IsString(v) || !v->valuestring) {
        fail(err, errlen, "%s: \"%s\" must be a string", where, key);
        return NULL;
    }
    return v->valuestring;
}

/* An integer in [lo, hi] (exactly representable: hi <= 2^53), or "never" (SIZE_MAX) when
 * never_ok. */
static int size_value(const cJSON *v, size_t lo, size_t hi, int never_ok, size_t *out,
                      const char *where, const char *key, char *err, size_t errlen)
{
    if (never_ok && cJSON_IsString(v) && v->valuestring && strcmp(v->valuestring, "never") == 0) {
        *out = SIZE_MAX;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
        v->valuedouble != floor(v->valuedouble))
        return fail(err, errlen, "%s: \"%s\" must be an integer from %zu to %zu%s", where, key, lo,
                    hi, never_ok ? " or \"never\"" : "");
    *out = (size_t)v->valuedouble;
    return 0;
}

static const normkit_kernel *variant_named(normkit_op op, normkit_isa isa, const char *variant)
{
    size_t n;
    const normkit_kernel *k = normkit_kernel_list(&n);
    for (size_t i = 0; i < n; i++)
        if (k[i].op == op && k[i].isa == isa && strcmp(k[i].variant, variant) == 0)
            return &k[i];
    return NULL;
}

static int parse_params(const cJSON *p, int linear, normkit_kparams *kp, const char *where,
                        char *err, size_t errlen)
{
    static const char *const norm_keys[] = {"pipe_max_dim", "dram_min_bytes", "nt_min_bytes",
                                            NULL};
    static const char *const lin_keys[] = {"lin_kc", "lin_mc", "lin_prefetch", "lin_pack_rows",
                                           NULL};
    if (!cJSON_IsObject(p))
        return fail(err, errlen, "%s: \"params\" must be an object", where);
    if (keys_unique(p, where, err, errlen) ||
        keys_known(p, linear ? lin_keys : norm_keys, where, err, errlen))
        return -1;
    const size_t big = (size_t)1 << 50;
    const cJSON *v;
    if (!linear) {
        if ((v = member(p, "pipe_max_dim")) &&
            size_value(v, 0, (size_t)1 << 24, 0, &kp->pipe_max_dim, where, v->string, err, errlen))
            return -1;
        if ((v = member(p, "dram_min_bytes")) &&
            size_value(v, 0, big, 1, &kp->dram_min_bytes, where, v->string, err, errlen))
            return -1;
        if ((v = member(p, "nt_min_bytes")) &&
            size_value(v, 0, big, 1, &kp->nt_min_bytes, where, v->string, err, errlen))
            return -1;
        return 0;
    }
    if ((v = member(p, "lin_kc"))) {
        if (size_value(v, 0, 65536, 0, &kp->lin_kc, where, v->string, err, errlen))
            return -1;
        if (kp->lin_kc % 64)
            return fail(err, errlen, "%s: \"lin_kc\" must be 0 or a multiple of 64", where);
    }
    if ((v = member(p, "lin_mc")) &&
        size_value(v, 0, 4096, 0, &kp->lin_mc, where, v->string, err, errlen))
        return -1;
    if ((v = member(p, "lin_prefetch")) &&
        size_value(v, 0, 4096, 0, &kp->lin_prefetch, where, v->string, err, errlen))
        return -1;
    if ((v = member(p, "lin_pack_rows")) &&
        size_value(v, 0, (size_t)1 << 20, 0, &kp->lin_pack_rows, where, v->string, err, errlen))
        return -1;
    return 0;
}

static int parse_entry(const cJSON *e, size_t idx, normkit_tuning_entry *out, char *err,
                       size_t errlen)
{
    static const char *const keys[] = {"op",      "isa",  "class", "variant", "params",
                                       "default", "gain", "spread", NULL};
    char where[64];
    snprintf(where, sizeof where, "kernels[%zu]", idx);
    if (!cJSON_IsObject(e))
        return fail(err, errlen, "%s must be an object", where);
    if (keys_unique(e, where, err, errlen) || keys_known(e, keys, where, err, errlen))
        return -1;
    const char *op_s = string_member(e, "op", where, err, errlen);
    const char *isa_s = op_s ? string_member(e, "isa", where, err, errlen) : NULL;
    const char *cls_s = isa_s ? string_member(e, "class", where, err, errlen) : NULL;
    const char *var_s = cls_s ? string_member(e, "variant", where, err, errlen) : NULL;
    if (!var_s)
        return -1;
    const int op = normkit_op_from_name(op_s);
    const normkit_op_info *info = op >= 0 ? normkit_op_get((normkit_op)op) : NULL;
    if (!info || info->elementwise)
        return fail(err, errlen, "%s: \"%s\" is not a tunable operator", where, op_s);
    const int isa = normkit_isa_from_name(isa_s);
    if (isa <= NORMKIT_ISA_AUTO)
        return fail(err, errlen, "%s: \"%s\" is not an ISA", where, isa_s);
    int cls = -1;
    if (info->linear)
        cls = strcmp(cls_s, "all") == 0 ? NORMKIT_CLASS_COUNT : -1;
    else
        for (int c = 0; c < NORMKIT_CLASS_COUNT; c++)
            if (strcmp(cls_s, class_names[c]) == 0)
                cls = c;
    if (cls < 0)
        return fail(err, errlen, "%s: \"%s\" is not a shape class of %s (%s)", where, cls_s, op_s,
                    info->linear ? "\"all\"" : "l1_row, l1_rows, l2_row, l2_rows, mem_row, mem_rows");
    const normkit_kernel *k = variant_named((normkit_op)op, (normkit_isa)isa, var_s);
    if (!k)
        return fail(err, errlen, "%s: this build has no %s variant \"%s\" for %s", where, isa_s,
                    var_s, op_s);
    out->k = k;
    out->cls = (normkit_shape_class)cls;
    out->kp = k->params;
    const cJSON *p = member(e, "params");
    if (p && parse_params(p, info->linear, &out->kp, where, err, errlen))
        return -1;
    /* the tuner's record: ignored, but typed */
    const cJSON *g;
    if ((g = member(e, "default")) && !cJSON_IsString(g))
        return fail(err, errlen, "%s: \"default\" must be a string", where);
    if (((g = member(e, "gain")) && !cJSON_IsNumber(g)) ||
        ((g = member(e, "spread")) && !cJSON_IsNumber(g)))
        return fail(err, errlen, "%s: \"%s\" must be a number", where, g->string);
    return 0;
}

int normkit_tuning_parse(const char *text, size_t len, const normkit_tuning_machine *m,
                         normkit_tuning_entry **entries, size_t *count, normkit_isa *isa,
                         char *err, size_t errlen)
{
    static const char *const top_keys[] = {"format",  "version",  "machine", "created", "tool",
                                           "budget_s", "kernels", "isa",     "isa_gain", NULL};
    static const char *const machine_keys[] = {"cpu", "l1d_bytes", "l2_bytes", NULL};
    *entries = NULL;
    *count = 0;
    *isa = NORMKIT_ISA_AUTO;
    int want_isa = NORMKIT_ISA_AUTO;
    if (memchr(text, '\0', len))
        return fail(err, errlen, "not JSON text (a NUL byte)");
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        const size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
        return fail(err, errlen, "malformed or truncated JSON (at byte %zu)", off);
    }
    normkit_tuning_entry *list = NULL;
    int rc = -1;
    const cJSON *v, *mach, *ks;
    if (!cJSON_IsObject(root)) {
        fail(err, errlen, "the top level must be an object");
        goto out;
    }
    if (keys_unique(root, "the top level", err, errlen) ||
        keys_known(root, top_keys, "the top level", err, errlen))
        goto out;
    v = member(root, "format");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "normkit-tuning") != 0) {
        fail(err, errlen, "not a normkit tuning file (\"format\" must be \"normkit-tuning\")");
        goto out;
    }
    v = member(root, "version");
    if (!cJSON_IsNumber(v) || v->valuedouble != 1.0) {
        fail(err, errlen, "unsupported \"version\" (this library reads version 1)");
        goto out;
    }
    if (((v = member(root, "created")) && !cJSON_IsString(v)) ||
        ((v = member(root, "tool")) && !cJSON_IsString(v))) {
        fail(err, errlen, "\"%s\" must be a string", v->string);
        goto out;
    }
    if (((v = member(root, "budget_s")) && !cJSON_IsNumber(v)) ||
        ((v = member(root, "isa_gain")) && !cJSON_IsNumber(v))) {
        fail(err, errlen, "\"%s\" must be a number", v->string);
        goto out;
    }
    if ((v = member(root, "isa"))) {
        want_isa = cJSON_IsString(v) ? normkit_isa_from_name(v->valuestring) : -1;
        if (want_isa <= NORMKIT_ISA_AUTO) {
            fail(err, errlen, "\"isa\" must name one ISA: scalar, avx2, avx512, neon or sve");
            goto out;
        }
    }
    mach = member(root, "machine");
    if (!cJSON_IsObject(mach)) {
        fail(err, errlen, "\"machine\" must be an object");
        goto out;
    }
    if (keys_unique(mach, "machine", err, errlen) ||
        keys_known(mach, machine_keys, "machine", err, errlen))
        goto out;
    const char *cpu = string_member(mach, "cpu", "machine", err, errlen);
    size_t l1 = 0, l2 = 0;
    if (!cpu ||
        size_value(member(mach, "l1d_bytes"), 1, (size_t)1 << 40, 0, &l1, "machine",
                   "l1d_bytes", err, errlen) ||
        size_value(member(mach, "l2_bytes"), 1, (size_t)1 << 40, 0, &l2, "machine", "l2_bytes",
                   err, errlen))
        goto out;
    ks = member(root, "kernels");
    if (!cJSON_IsArray(ks)) {
        fail(err, errlen, "\"kernels\" must be an array");
        goto out;
    }
    const size_t n = (size_t)cJSON_GetArraySize(ks);
    if (n > 4096) {
        fail(err, errlen, "too many entries in \"kernels\" (%zu)", n);
        goto out;
    }
    list = calloc(n ? n : 1, sizeof *list);
    if (!list) {
        fail(err, errlen, "out of memory");
        goto out;
    }
    size_t i = 0;
    for (const cJSON *e = ks->child; e; e = e->next, i++) {
        if (parse_entry(e, i, &list[i], err, errlen))
            goto out;
        for (size_t j = 0; j < i; j++)
            if (list[j].k->op == list[i].k->op && list[j].k->isa == list[i].k->isa &&
                list[j].cls == list[i].cls) {
                fail(err, errlen, "kernels[%zu] repeats the operator, ISA and class of kernels[%zu]",
                     i, j);
                goto out;
            }
    }
    /* last: a well-formed file for another machine says so, not some field error */
    if (strcmp(cpu, m->cpu) != 0 || l1 != m->l1d || l2 != m->l2) {
        fail(err, errlen,
             "made for another machine (\"%s\", L1d %zu, L2 %zu bytes; this is \"%s\", L1d %zu, "
             "L2 %zu)",
             cpu, l1, l2, m->cpu, m->l1d, m->l2);
        goto out;
    }
    if (want_isa != NORMKIT_ISA_AUTO && !normkit_isa_supported((normkit_isa)want_isa)) {
        fail(err, errlen, "\"isa\": %s is not supported by this CPU, OS or build",
             normkit_isa_name((normkit_isa)want_isa));
        goto out;
    }
    *entries = list;
    *count = n;
    *isa = (normkit_isa)want_isa;
    list = NULL;
    rc = 0;
out:
    free(list);
    cJSON_Delete(root);
    return rc;
}

#else /* !NORMKIT_HAVE_CJSON */

int normkit_tuning_parse(const char *text, size_t len, const normkit_tuning_machine *m,
                         normkit_tuning_entry **entries, size_t *count, normkit_isa *isa,
                         char *err, size_t errlen)
{
    (void)text, (void)len, (void)m;
    *entries = NULL;
    *count = 0;
    *isa = NORMKIT_ISA_AUTO;
    return fail(err, errlen, "this normkit was built without cJSON (libcjson-dev), so it cannot "
                             "read tuning files");
}

#endif
