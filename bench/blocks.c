/*
 * Block cases of normkit-bench: whole pre-norm and post-norm FFN blocks (normkit_block.h),
 * each path of each supported ISA, and the same block composed from the peers' operators.
 *
 *   block/<layout>/<norm>/<act>/<impl>/<path>/d:<D>/rows:<R>
 *     layout  prenorm | postnorm        norm  rmsnorm | layernorm
 *     act     gelu | silu (FFN with hidden 4d) | swiglu (Llama's gated SiLU FFN, hidden 8/3 d
 *             rounded up to 256, no biases)
 *     impl    scalar | <isa> | onednn | torch      path  scalar | unfused | fused | peer
 * Counters: tokens_per_second (rows per second), flops_per_second (2 per multiply-add of the
 * matmuls), rows_per_second. Labels: the cache level the block's weights and activations fit
 * in. Weights are uniform in +-1/sqrt(fan_in), x standard-normal-like; one fixed seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_blocks.h"
#include "bench_config.h"
#include "normkit_block.h"
#include "peers/peers.h"

typedef struct {
    normkit_layout layout;
    normkit_norm norm;
    normkit_act act;
    int gated;
    int quick; /* in the quick profile */
} blk_config;

/* Both layouts x both norms x both activations, and the gated pre-norm RMSNorm FFN (Llama). */
static const blk_config configs[] = {
    {NORMKIT_PRENORM, NORMKIT_NORM_RMS, NORMKIT_ACT_SILU, 0, 1},
    {NORMKIT_PRENORM, NORMKIT_NORM_RMS, NORMKIT_ACT_SILU, 1, 1},
    {NORMKIT_PRENORM, NORMKIT_NORM_RMS, NORMKIT_ACT_GELU, 0, 0},
    {NORMKIT_PRENORM, NORMKIT_NORM_LN, NORMKIT_ACT_GELU, 0, 1},
    {NORMKIT_PRENORM, NORMKIT_NORM_LN, NORMKIT_ACT_SILU, 0, 0},
    {NORMKIT_POSTNORM, NORMKIT_NORM_RMS, NORMKIT_ACT_SILU, 0, 1},
    {NORMKIT_POSTNORM, NORMKIT_NORM_RMS, NORMKIT_ACT_GELU, 0, 0},
    {NORMKIT_POSTNORM, NORMKIT_NORM_LN, NORMKIT_ACT_GELU, 0, 1},
    {NORMKIT_POSTNORM, NORMKIT_NORM_LN, NORMKIT_ACT_SILU, 0, 0},
};
static const size_t full_dims[] = {768, 2048}, quick_dims[] = {768};
static const size_t rows_list[] = {1, 32, 512};
enum { MAX_ROWS = 512 };
/* The scalar path skips calls above this many FLOPs (one call at rows 512, d 2048 would take
 * ~20 s); the skips are listed in the context. */
#define SCALAR_MAX_FLOPS 2.5e9

typedef struct {
    const char *name;     /* the impl field */
    normkit_isa isa;      /* normkit impls */
    normkit_block_path path;
    const nkb_block_peer *peer;
} blk_impl;

typedef struct {
    nkb_case c;
    const blk_config *cfg;
    size_t dim, hidden, rows;
    const blk_impl *impl;
} blk_entry;

static blk_entry *entries;
static size_t nentries, cap_entries;
static blk_impl impls[16];
static size_t nimpls;
static nkb_block_peer peers[2];
static size_t npeers;
static char peer_info[2048], skipped[2048];

/* ---- what is alive: the weights of one (config, d), one block or peer, the buffers ---- */
static struct {
    const blk_config *cfg;
    size_t dim;
    normkit_block_desc d;
    float *mem[8];
    const blk_impl *impl;
    normkit_block *b;
    void *peer_state;
    float *x, *h;
    void *ws;
    size_t ws_bytes;
    const char *error; /* the last peer call's message */
} live;

static size_t hidden_of(const blk_config *c, size_t dim)
{
    return c->gated ? (8 * dim / 3 + 255) / 256 * 256 : 4 * dim;
}

static const char *act_field(const blk_config *c)
{
    return c->gated ? "swiglu" : normkit_act_name(c->act);
}

static int add(const blk_entry *e)
{
    if (nentries == cap_entries) {
        const size_t cap = cap_entries ? 2 * cap_entries : 128;
        blk_entry *n = realloc(entries, cap * sizeof *n);
        if (!n)
            return -1;
        entries = n, cap_entries = cap;
    }
    entries[nentries] = *e;
    entries[nentries].c.index = (int)nentries;
    nentries++;
    return 0;
}

/* normkit's paths per supported ISA, then the peers: started (and probed) for a run, only
 * named under --list, as the linear peers are. */
static void collect_impls(const nkb_options *o)
{
    nimpls = 0;
    impls[nimpls++] = (blk_impl){"scalar", NORMKIT_ISA_SCALAR, NORMKIT_PATH_SCALAR, NULL};
    const normkit_isa simd[] = {NORMKIT_ISA_AVX2, NORMKIT_ISA_AVX512, NORMKIT_ISA_NEON,
                                NORMKIT_ISA_SVE};
    for (size_t i = 0; i < sizeof simd / sizeof *simd; i++) {
        if (!normkit_isa_supported(simd[i]))
            continue;
        for (int p = NORMKIT_PATH_UNFUSED; p <= NORMKIT_PATH_FUSED; p++)
            impls[nimpls++] = (blk_impl){normkit_isa_name(simd[i]), simd[i], (normkit_block_path)p, NULL};
    }
    typedef int init_fn(nkb_block_peer *, char *, size_t);
    struct {
        const char *name;
        init_fn *init;
    } inits[] = {
#if NKB_HAVE_ONEDNN
        {"onednn", nkb_onednn_block_init},
#endif
#if NKB_HAVE_TORCH
        {"torch", nkb_torch_block_init},
#endif
        {NULL, NULL},
    };
    npeers = 0;
    for (size_t i = 0; inits[i].name; i++) {
        char info[512] = "built (not started: --list)";
        const int ok = o->list || inits[i].init(&peers[npeers], info, sizeof info) == 0;
        nkb_appendf(peer_info, sizeof peer_info, "%s%s: %s%s", peer_info[0] ? "; " : "",
                    inits[i].name, ok ? "" : "UNUSABLE: ", info);
        if (!ok) {
            fprintf(stderr, "normkit-bench: warning: block peer %s disabled: %s\n", inits[i].name,
                    info);
            continue;
        }
        impls[nimpls++] =
            (blk_impl){inits[i].name, NORMKIT_ISA_AUTO, NORMKIT_PATH_SCALAR, &peers[npeers++]};
    }
}

int nkb_blocks_build(const nkb_options *o, const size_t cap[3])
{
    collect_impls(o);
    const int quick = o->profile == NKB_PROFILE_QUICK;
    const size_t *dims = quick ? quick_dims : full_dims;
    const size_t ndims = quick ? sizeof quick_dims / sizeof *quick_dims
                               : sizeof full_dims / sizeof *full_dims;
    for (size_t ci = 0; ci < sizeof configs / sizeof *configs; ci++) {
        const blk_config *cfg = &configs[ci];
        if (quick && !cfg->quick)
            continue;
        for (size_t di = 0; di < ndims; di++)
            for (size_t ii = 0; ii < nimpls; ii++)
                for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++) {
                    blk_entry e = {.cfg = cfg, .dim = dims[di], .rows = rows_list[ri],
                                   .impl = &impls[ii]};
                    e.hidden = hidden_of(cfg, e.dim);
                    const double mats = cfg->gated ? 3.0 : 2.0;
                    e.c.kind = NKB_CASE_BLOCK;
                    e.c.rows = (double)e.rows;
                    e.c.flops = 2.0 * mats * (double)e.dim * (double)e.hidden * (double)e.rows;
                    /* weights, then x, h and the hidden activations */
                    e.c.ws_bytes = 4.0 * (mats * (double)e.dim * (double)e.hidden +
                                          (double)e.rows * (2.0 * (double)e.dim +
                                                            (cfg->gated ? 2.0 : 1.0) * (double)e.hidden));
                    e.c.bytes = 0;
                    int level = 0;
                    while (level < 3 && !(cap[level] && e.c.ws_bytes <= (double)cap[level]))
                        level++;
                    e.c.label = nkb_level_name(level);
                    snprintf(e.c.name, sizeof e.c.name, "block/%s/%s/%s/%s/%s/d:%zu/rows:%zu",
                             normkit_layout_name(cfg->layout),
                             cfg->norm == NORMKIT_NORM_RMS ? "rmsnorm" : "layernorm",
                             act_field(cfg), e.impl->name,
                             e.impl->peer ? "peer" : normkit_block_path_name(e.impl->path), e.dim,
                             e.rows);
                    if (!e.impl->peer && e.impl->path == NORMKIT_PATH_SCALAR &&
                        e.c.flops > SCALAR_MAX_FLOPS) {
                        nkb_appendf(skipped, sizeof skipped, "%s%s", skipped[0] ? " " : "", e.c.name);
                        continue;
                    }
                    if (add(&e) != 0)
                        return -1;
                }
    }
    return 0;
}

size_t nkb_blocks_count(void)
{
    return nentries;
}

const nkb_case *nkb_blocks_get(size_t i)
{
    return i < nentries ? &entries[i].c : NULL;
}

void nkb_blocks_context(void (*add_ctx)(const char *key, const char *value))
{
    add_ctx("block_peers", peer_info[0] ? peer_info : "none built");
    char why[128];
    snprintf(why, sizeof why, "scalar path above %.1f GFLOP per call: ", SCALAR_MAX_FLOPS / 1e9);
    static char text[2200];
    snprintf(text, sizeof text, "%s%s", skipped[0] ? why : "", skipped[0] ? skipped : "none");
    add_ctx("blocks_skipped", text);
}

/* ---- buffers and objects ---- */

static float *uniform(int slot, size_t n, uint64_t seed, float lo, float hi)
{
    float *p = malloc(n * sizeof(float));
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)((double)(nkb_splitmix(&seed) >> 40) * 0x1p-24);
    live.mem[slot] = p;
    return p;
}

static void drop_impl(void)
{
    normkit_block_free(live.b);
    live.b = NULL;
    if (live.peer_state)
        live.impl->peer->destroy(live.peer_state);
    live.peer_state = NULL;
    live.impl = NULL;
}

static void drop_weights(void)
{
    drop_impl();
    for (int i = 0; i < 8; i++) {
        free(live.mem[i]);
        live.mem[i] = NULL;
    }
    live.cfg = NULL;
}

void nkb_blocks_free(void)
{
    drop_weights();
    free(live.x);
    free(live.h);
    free(live.ws);
    live.x = live.h = NULL, live.ws = NULL, live.ws_bytes = 0;
    free(entries);
    entries = NULL, nentries = cap_entries = 0;
}

static int weights(const blk_entry *e)
{
    if (live.cfg == e->cfg && live.dim == e->dim)
        return 0;
    drop_weights();
    const size_t D = e->dim, H = e->hidden;
    const float s1 = 1.0f / sqrtf((float)D), s2 = 1.0f / sqrtf((float)H);
    normkit_block_desc *d = &live.d;
    *d = (normkit_block_desc){.layout = e->cfg->layout, .norm = e->cfg->norm, .act = e->cfg->act,
                              .gated = e->cfg->gated, .dim = D, .hidden = H, .eps = 1e-5f};
    int ok = (d->gamma = uniform(0, D, 1, 0.5f, 1.5f)) && (d->w1 = uniform(1, H * D, 2, -s1, s1)) &&
             (d->w2 = uniform(2, D * H, 3, -s2, s2));
    if (ok && e->cfg->norm == NORMKIT_NORM_LN)
        ok = (d->beta = uniform(3, D, 4, -0.5f, 0.5f)) != NULL;
    if (ok && e->cfg->gated)
        ok = (d->w3 = uniform(4, H * D, 5, -s1, s1)) != NULL; /* Llama: no biases */
    else if (ok)
        ok = (d->b1 = uniform(5, H, 6, -0.1f, 0.1f)) && (d->b2 = uniform(6, D, 7, -0.1f, 0.1f));
    if (!ok) {
        drop_weights();
        return -1;
    }
    live.cfg = e->cfg, live.dim = D;
    return 0;
}

int nkb_blocks_setup(const nkb_case *c, char *err, size_t errlen)
{
    const blk_entry *e = &entries[c->index];
    if (weights(e) != 0) {
        snprintf(err, errlen, "out of memory for the block's weights");
        return -1;
    }
    if (live.impl != e->impl) {
        drop_impl();
        if (e->impl->peer) {
            const char *why = e->impl->peer->create(&live.d, MAX_ROWS, &live.peer_state);
            if (why) {
                live.peer_state = NULL;
                snprintf(err, errlen, "%s: %s", e->impl->name, why);
                return -1;
            }
        } else {
            const normkit_status st = normkit_block_create(&live.d, e->impl->isa, e->impl->path, &live.b);
            if (st != NORMKIT_OK) {
                snprintf(err, errlen, "normkit_block_create: %s", normkit_status_str(st));
                return -1;
            }
        }
        live.impl = e->impl;
    }
    /* x and h for the largest rows of this d, kept across cases; x refilled (same seed) */
    free(live.x);
    free(live.h);
    live.x = malloc(e->rows * e->dim * sizeof(float));
    live.h = calloc(e->rows * e->dim, sizeof(float));
    if (!live.x || !live.h) {
        snprintf(err, errlen, "out of memory for x and h");
        return -1;
    }
    uint64_t seed = 99;
    for (size_t i = 0; i < e->rows * e->dim; i++) /* sum of 4 uniforms: roughly normal */
        live.x[i] = (float)(((double)(nkb_splitmix(&seed) >> 40) + (double)(nkb_splitmix(&seed) >> 40) +
                             (double)(nkb_splitmix(&seed) >> 40) + (double)(nkb_splitmix(&seed) >> 40)) *
                                0x1p-24 * 1.7320508 - 3.4641016);
    if (live.b) {
        const size_t need = normkit_block_ws_bytes(live.b, e->rows);
        if (need > live.ws_bytes) {
            free(live.ws);
            live.ws = malloc(need); /* the untimed call below touches its pages */
            live.ws_bytes = live.ws ? need : 0;
            if (!live.ws) {
                snprintf(err, errlen, "out of memory for the workspace");
                return -1;
            }
        }
    }
    live.error = NULL;
    (void)nkb_blocks_run(c);
    if (live.error) {
        snprintf(err, errlen, "%s: %s", e->impl->name, live.error);
        return -1;
    }
    return 0;
}

float nkb_blocks_run(const nkb_case *c)
{
    const blk_entry *e = &entries[c->index];
    if (live.b) {
        const normkit_status st =
            normkit_block_forward(live.b, e->rows, live.x, e->dim, live.h, e->dim, live.ws,
                                  live.ws_bytes);
        if (st != NORMKIT_OK)
            live.error = normkit_status_str(st);
    } else {
        const char *why = e->impl->peer->run(live.peer_state, e->rows, live.x, live.h);
        if (why)
            live.error = why;
    }
    return live.h[0];
}
