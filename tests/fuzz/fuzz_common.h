/*
 * Helpers shared by the libFuzzer targets of tests/fuzz (header-only: each target is one .c
 * file). The input layouts are described in tests/fuzz/README.md.
 *
 *  - fz_in: reads the fuzzer's bytes front to back; past the end every read gives 0, so any
 *    input (even an empty one) is a valid call description.
 *  - fz_floats: the matrices' data from the bytes left after the header, in one of four
 *    modes (raw float bits, so NaN, Inf, subnormals and huge values appear; small integers
 *    over 16; raw bits with the exponent folded near 1; a large mean with a small spread).
 *  - fz_buf: one malloc of exactly the floats a matrix spans (plus its leading offset), so
 *    AddressSanitizer reports any read or write past its last row; every float the matrix
 *    does not own (the offset, stride gaps) holds a canary, checked after each call.
 *  - fz_fail: prints the case and aborts (libFuzzer saves the input as a crash).
 */
#ifndef NORMKIT_FUZZ_COMMON_H
#define NORMKIT_FUZZ_COMMON_H

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- the input, front to back ---- */
typedef struct {
    const uint8_t *p;
    size_t len, pos;
} fz_in;

static inline unsigned fz_u8(fz_in *in)
{
    return in->pos < in->len ? in->p[in->pos++] : 0u;
}

static inline unsigned fz_u16(fz_in *in)
{
    const unsigned lo = fz_u8(in);
    return lo | fz_u8(in) << 8;
}

static inline uint32_t fz_u32(fz_in *in)
{
    const uint32_t lo = fz_u16(in);
    return lo | (uint32_t)fz_u16(in) << 16;
}

static inline float fz_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static inline uint32_t fz_float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* eps from a mode byte and 4 bits bytes: mostly ordinary values, often any float at all. */
static inline float fz_eps(unsigned mode, uint32_t bits)
{
    switch (mode % 12) {
    case 0: case 1: return 1e-5f;
    case 2: return 1e-6f;
    case 3: return 0.0f;
    case 4: return -0.0f;
    case 5: return fz_bits(bits & 0x807fffffu); /* +-0 or a subnormal */
    case 6: return fz_bits(0x7f800000u | (bits & 0x807fffffu)); /* +-Inf or NaN */
    case 7: return -1e-5f;
    case 8: return fz_bits((bits & 0x7fffffffu) | 0x7e000000u); /* huge: 2^125 .. FLT_MAX */
    default: return fz_bits(bits); /* any float */
    }
}

/* The data stream: the bytes after the header, cycled. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t i;      /* next byte */
    unsigned mode; /* 0 raw bits, 1 small integers / 16, 2 raw mantissa near 1, 3 large mean */
    uint32_t salt; /* changes every pass over the bytes, so long matrices are not periodic */
} fz_data;

static inline void fz_data_init(fz_data *d, const fz_in *in, unsigned mode)
{
    d->p = in->p + in->pos;
    d->len = in->len - in->pos;
    d->i = 0;
    d->mode = mode % 4;
    d->salt = 0;
}

static inline unsigned fz_data_byte(fz_data *d)
{
    if (!d->len)
        return (unsigned)((d->i++ * 0x9e3779b9u) >> 24); /* no data: a fixed pattern */
    if (d->i >= d->len) {
        d->i = 0;
        d->salt = d->salt * 0x9e3779b9u + 0x7f4a7c15u;
    }
    return d->p[d->i++] ^ (d->salt >> 24);
}

static inline float fz_data_float(fz_data *d)
{
    switch (d->mode) {
    case 0: { /* raw bits (the first pass over the bytes is exactly the input but for one NaN) */
        uint32_t b = fz_data_byte(d);
        b |= (uint32_t)fz_data_byte(d) << 8;
        b |= (uint32_t)fz_data_byte(d) << 16;
        b |= (uint32_t)fz_data_byte(d) << 24;
        /* never the canary's NaN (either sign, quiet or signaling): arithmetic keeps a NaN's
         * payload, and an output holding the canary would read as not written */
        if ((b & 0x7fbfffffu) == (fz_float_bits(nk_canary()) & 0x7fbfffffu))
            b ^= 1u;
        return fz_bits(b);
    }
    case 1: /* -8 .. 7.9375 in steps of 1/16: many ties, zeros, constant rows */
        return (float)(int8_t)fz_data_byte(d) / 16.0f;
    case 2: { /* sign and mantissa from the input, exponent 2^-8 .. 2^7 */
        uint32_t b = fz_data_byte(d);
        b |= (uint32_t)fz_data_byte(d) << 8;
        b |= (uint32_t)fz_data_byte(d) << 16;
        const uint32_t e = 119u + (fz_data_byte(d) & 15u);
        return fz_bits((b >> 23 & 1u) << 31 | e << 23 | (b & 0x7fffffu));
    }
    default: /* mean 1e4, spread about 1e-2 */
        return 1e4f + (float)(int8_t)fz_data_byte(d) * (1.0f / 4096.0f);
    }
}

/* ---- failures ---- */
static char fz_case[512]; /* what the target is doing, printed with a failure */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nnormkit fuzz: FAILED: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  case: %s\n", fz_case);
    abort();
}

/* ---- buffers of exact size, with canaries ---- */
typedef struct {
    float *base;   /* the allocation: off + (rows-1)*ld + dim floats, or NULL */
    size_t len;    /* floats in it */
    size_t off;    /* the matrix starts at base + off */
    size_t rows, dim, ld;
    float *m;
} fz_buf;

static inline size_t fz_span(size_t rows, size_t dim, size_t ld)
{
    return rows ? (rows - 1) * ld + dim : 0;
}

/* A matrix rows x dim with stride ld, `off` floats into its allocation; every float starts
 * as a canary. extra: floats allocated after the span (for a y placed inside it). */
static inline void fz_buf_alloc(fz_buf *b, size_t rows, size_t dim, size_t ld, size_t off,
                                size_t extra)
{
    b->rows = rows, b->dim = dim, b->ld = ld, b->off = off;
    b->len = off + fz_span(rows, dim, ld) + extra;
    b->base = malloc((b->len ? b->len : 1) * sizeof(float));
    if (!b->base)
        abort();
    const float c = nk_canary();
    for (size_t i = 0; i < b->len; i++)
        b->base[i] = c;
    b->m = b->base + off;
}

static inline void fz_buf_free(fz_buf *b)
{
    free(b->base);
    b->base = b->m = NULL;
}

/* 1 when element i of the allocation is inside the matrix (row < rows, column < dim). */
static inline int fz_buf_inside(const fz_buf *b, size_t i)
{
    if (i < b->off || !b->rows || !b->dim)
        return 0;
    const size_t rel = i - b->off;
    if (b->ld < b->dim) /* a bad stride (the call is refused): rows overlap */
        return rel < fz_span(b->rows, b->dim, b->ld);
    return rel / b->ld < b->rows && rel % b->ld < b->dim;
}

static inline void fz_buf_fill(fz_buf *b, fz_data *d)
{
    for (size_t r = 0; r < b->rows; r++)
        for (size_t i = 0; i < b->dim; i++)
            b->m[r * b->ld + i] = fz_data_float(d);
}

/* The index of the first float outside the matrix that is no longer a canary, or -1. */
static inline long fz_buf_canaries(const fz_buf *b)
{
    for (size_t i = 0; i < b->len; i++)
        if (!fz_buf_inside(b, i) && !nk_is_canary(b->base[i]))
            return (long)i;
    return -1;
}

/* A dense copy (stride dim) of the matrix; malloc'ed. */
static inline float *fz_buf_dense(const fz_buf *b)
{
    float *c = malloc((b->rows * b->dim ? b->rows * b->dim : 1) * sizeof *c);
    if (!c)
        abort();
    for (size_t r = 0; r < b->rows; r++)
        memcpy(c + r * b->dim, b->m + r * b->ld, b->dim * sizeof *c);
    return c;
}

/* A copy of the whole allocation (to check that a rejected call wrote nothing). */
static inline float *fz_buf_snapshot(const fz_buf *b)
{
    float *c = malloc((b->len ? b->len : 1) * sizeof *c);
    if (!c)
        abort();
    memcpy(c, b->base, b->len * sizeof *c);
    return c;
}

/* NaN matches any NaN; otherwise bit for bit. */
static inline int fz_same(float a, float b)
{
    return (isnan(a) && isnan(b)) || fz_float_bits(a) == fz_float_bits(b);
}

/* Address ranges [p, p + span) and [q, q + span2) (in floats) intersect. */
static inline int fz_overlap(const float *p, size_t pspan, const float *q, size_t qspan)
{
    const uintptr_t p0 = (uintptr_t)p, p1 = p0 + pspan * sizeof(float);
    const uintptr_t q0 = (uintptr_t)q, q1 = q0 + qspan * sizeof(float);
    return p0 < q1 && q0 < p1;
}

static inline int fz_eps_ok(float eps)
{
    return eps >= 0.0f && eps <= FLT_MAX; /* include/normkit.h: finite and >= 0 (-0 is) */
}

/* ---- the buffers of one call: allocations, and the matrices (views) inside them ---- */
#define FZ_NBUF 6
typedef struct {
    fz_buf buf[FZ_NBUF];  /* allocations (base NULL: none) */
    fz_buf view[FZ_NBUF]; /* the matrices; the output's may lie in another slot's allocation */
    int home[FZ_NBUF];    /* the allocation each view lies in */
    float *snap[FZ_NBUF];
} fz_set;

static inline void fz_set_own(fz_set *c, int i)
{
    c->view[i] = c->buf[i];
    c->home[i] = i;
}

/* View i as a rows x (outer's dim) matrix with stride ld, `shift` floats into allocation
 * `outer` (an output over an input, or an input over an output). */
static inline void fz_set_inside(fz_set *c, int i, int outer, size_t rows, size_t ld,
                                 size_t shift)
{
    c->view[i] = c->buf[outer];
    c->view[i].rows = rows, c->view[i].ld = ld;
    c->view[i].off = c->buf[outer].off + shift, c->view[i].m = c->buf[outer].m + shift;
    c->home[i] = outer;
}

static inline void fz_set_snapshot(fz_set *c)
{
    for (int i = 0; i < FZ_NBUF; i++)
        c->snap[i] = c->buf[i].base ? fz_buf_snapshot(&c->buf[i]) : NULL;
}

static inline void fz_set_restore(fz_set *c)
{
    for (int i = 0; i < FZ_NBUF; i++)
        if (c->buf[i].base)
            memcpy(c->buf[i].base, c->snap[i], c->buf[i].len * sizeof(float));
}

/* Every allocation bit for bit as in the snapshot (a refused call, or rows == 0). */
static inline void fz_set_untouched(const fz_set *c, const char *who)
{
    for (int i = 0; i < FZ_NBUF; i++)
        if (c->buf[i].base &&
            memcmp(c->buf[i].base, c->snap[i], c->buf[i].len * sizeof(float)) != 0)
            fz_fail("%s: a call that must not write changed allocation %d", who, i);
}

/* Every float of every allocation outside all the views still a canary. */
static inline void fz_set_canaries(const fz_set *c, const char *who)
{
    for (int b = 0; b < FZ_NBUF; b++) {
        const fz_buf *al = &c->buf[b];
        for (size_t i = 0; al->base && i < al->len; i++) {
            int inside = 0;
            for (int v = 0; v < FZ_NBUF && !inside; v++)
                if (c->view[v].base && c->home[v] == b)
                    inside = fz_buf_inside(&c->view[v], i);
            if (!inside && !nk_is_canary(al->base[i]))
                fz_fail("%s: wrote outside its matrices: allocation %d, float %zu of %zu", who, b,
                        i, al->len);
        }
    }
}

static inline void fz_set_free(fz_set *c)
{
    for (int i = 0; i < FZ_NBUF; i++) {
        fz_buf_free(&c->buf[i]);
        free(c->snap[i]);
        c->snap[i] = NULL;
    }
}

/* Magnitudes beyond this (2^126, a quarter of FLT_MAX) may overflow inside a float evaluation
 * (z * gamma + beta, a sum of products): include/normkit.h states no bound for results out of
 * float range, so the targets exempt such elements from the value check (README.md). */
#define FZ_HUGE 0x1p126

#endif
