/*
 * fuzz_norm: the norm, add+norm and elementwise operators (rmsnorm, layernorm, add_rmsnorm,
 * add_layernorm, gelu, silu, add, mul) through their public entry points, then every supported
 * variant of the operator called directly (normkit_kernel_call), on one call the input
 * describes: shape, strides, pointer offsets, NULLs, aliasing, eps and the data's bits.
 *
 * Checked for every input:
 *  - the status equals the one derived here from the rules of include/normkit.h (in the order
 *    of dispatch/dispatch.c normkit_args_check), independently of the library's own checker;
 *  - a rejected call (and rows == 0) wrote nothing, anywhere in any buffer;
 *  - an accepted call wrote only y's rows (and r's, for add+norm): canaries elsewhere; the
 *    inputs are unchanged;
 *  - the values: elementwise operators through the tests' checker nk_check (tests/harness.c);
 *    norms against the float64 reference nk_ref_row within nk_bound (the same rules as
 *    nk_check: r == fl(x + r) bit for bit, a row with NaN/Inf is NaN throughout), except
 *    elements whose float evaluation may overflow (README.md, "Exemptions");
 *  - the same for each supported variant with its registry knobs (or, by an input byte, a
 *    memory mode forced on / pipelining off).
 * Every buffer is one malloc of exactly its span (plus a leading offset), so AddressSanitizer
 * reports any access past its last row. Input layout: tests/fuzz/README.md.
 */
#include "fuzz_common.h"

#include "reference.h"

static const char *const op_names[] = {"rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm",
                                       "gelu",    "silu",      "add",         "mul"};
static const size_t pads[] = {0, 1, 3, 16};
static const size_t large_dims[] = {768, 1000, 1024, 2048, 4095, 4096, 4097, 511};

/* The status include/normkit.h prescribes (checks in the order of normkit_args_check). */
static normkit_status expected_status(const normkit_op_info *info, int needs_r,
                                      const nk_args *a)
{
    if (a->rows == 0)
        return NORMKIT_OK;
    if (!a->x || !a->y || (needs_r && !a->r))
        return NORMKIT_ERR_NULL;
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    const size_t rows = a->rows, dim = a->dim;
    /* addressable: (rows-1)*ld + dim floats within PTRDIFF_MAX bytes */
#define ADDRESSABLE(ld) ((ld) >= dim && dim <= max && (rows - 1) <= (max - dim) / (ld))
    if (dim == 0 || !ADDRESSABLE(a->ldx) || !ADDRESSABLE(a->ldy) ||
        (needs_r && !ADDRESSABLE(a->ldr)))
        return NORMKIT_ERR_SHAPE;
#undef ADDRESSABLE
    if (info->elementwise) {
        /* y is exactly x (or r, for add and mul) with the same stride (any stride for one row),
         * or apart from both */
        const size_t ys = fz_span(rows, dim, a->ldy);
        if (a->y == a->x ? !(rows == 1 || a->ldy == a->ldx)
                         : fz_overlap(a->y, ys, a->x, fz_span(rows, dim, a->ldx)))
            return NORMKIT_ERR_SHAPE;
        if (needs_r && (a->y == a->r ? !(rows == 1 || a->ldy == a->ldr)
                                     : fz_overlap(a->y, ys, a->r, fz_span(rows, dim, a->ldr))))
            return NORMKIT_ERR_SHAPE;
        return NORMKIT_OK;
    }
    if ((info->residual && a->y == a->r) || (a->y == a->x && a->ldy != a->ldx && rows > 1))
        return NORMKIT_ERR_SHAPE;
    if (!fz_eps_ok(a->eps))
        return NORMKIT_ERR_EPS;
    return NORMKIT_OK;
}

/* A norm's rows against the float64 reference: nk_check's rules (tests/harness.c) plus the
 * overflow exemption of fuzz_common.h (FZ_HUGE). xin, rin: dense copies of the inputs. */
static int check_norm(normkit_op op, const normkit_op_info *info, const nk_args *a,
                      const float *xin, const float *rin, char *msg, size_t len)
{
    const size_t n = a->dim;
    float *h = malloc(n * sizeof *h);
    double *ref = malloc(n * sizeof *ref), *z = malloc(n * sizeof *z);
    if (!h || !ref || !z)
        abort();
    const float *beta = info->beta ? a->beta : NULL;
    int ok = 1;
    for (size_t row = 0; row < a->rows && ok; row++) {
        for (size_t i = 0; i < n; i++)
            h[i] = info->residual ? xin[row * n + i] + rin[row * n + i] : xin[row * n + i];
        if (info->residual)
            for (size_t i = 0; i < n && ok; i++)
                if (!fz_same(a->r[row * a->ldr + i], h[i])) {
                    snprintf(msg, len, "r[%zu][%zu] = %a, want x + r = %a", row, i,
                             (double)a->r[row * a->ldr + i], (double)h[i]);
                    ok = 0;
                }
        double zmax = 0.0, zmax0 = 0.0;
        nk_ref_row(op, n, h, a->gamma, beta, a->eps, ref, &zmax);
        nk_ref_row(op, n, h, NULL, NULL, a->eps, z, &zmax0); /* the normalized row alone */
        const double inv_s = info->norm == NORMKIT_NORM_LN ? ref_ln_inv_s(n, h, a->eps) : 0.0;
        const float *yr = a->y + row * a->ldy;
        for (size_t i = 0; i < n && ok; i++) {
            const double g = a->gamma ? a->gamma[i] : 1.0, b = beta ? beta[i] : 0.0;
            const char *why = NULL;
            if (isnan(z[i])) /* the row holds NaN or Inf: NaN throughout */
                why = isnan(yr[i]) ? NULL : "want NaN (the row holds NaN/Inf)";
            else if (isnan(g) || isnan(b))
                why = isnan(yr[i]) ? NULL : "want NaN (gamma/beta is NaN)";
            else if (!(fabs(z[i] * g) + fabs(b) + fabs(ref[i]) <= FZ_HUGE))
                continue; /* may overflow in float: no bound is stated */
            else if (!(fabs((double)yr[i] - ref[i]) <=
                       nk_bound(op, n, ref[i], g, zmax, inv_s)))
                why = "outside the bound";
            if (why) {
                snprintf(msg, len,
                         "y[%zu][%zu] = %a, reference %.17g, error %.3g, bound %.3g: %s "
                         "(dim %zu, eps %a, zmax %g, gamma %a, beta %a)",
                         row, i, (double)yr[i], ref[i], fabs((double)yr[i] - ref[i]),
                         nk_bound(op, n, ref[i], g, zmax, inv_s), why, n, (double)a->eps, zmax, g, b);
                ok = 0;
            }
        }
    }
    free(h);
    free(ref);
    free(z);
    return ok;
}

enum { BX, BR, BY, BG, BB }; /* fz_set slots: x, r, y, gamma, beta */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size, 0};
    const unsigned b0 = fz_u8(&in);
    const normkit_op op = (normkit_op)normkit_op_from_name(op_names[b0 % 8]);
    const normkit_op_info *info = normkit_op_get(op);
    const int via_op_run = b0 >> 3 & 1;
    const int needs_r = info->residual || nk_op_has_second_input(op);
    size_t rows = fz_u8(&in) % 10;
    const unsigned dsel = fz_u16(&in);
    size_t dim = dsel >> 12 == 15 ? large_dims[dsel % 8] : dsel % 301;
    const unsigned pb = fz_u8(&in), ob = fz_u8(&in), flags = fz_u8(&in), fault = fz_u8(&in);
    const unsigned eps_mode = fz_u8(&in);
    const uint32_t eps_bits = fz_u32(&in);
    const unsigned kp_mode = fz_u8(&in), shift_sel = fz_u16(&in);
    if (rows > 1 && dim > 2048)
        rows = 2; /* keeps one input under a millisecond or so per variant */

    size_t ldx = dim + pads[pb & 3], ldr = dim + pads[pb >> 2 & 3];
    const size_t ox = ob & 3, or_ = ob >> 2 & 3, oy = ob >> 4 & 3, og = ob >> 6 & 3;
    const int use_gamma = flags & 1, use_beta = flags >> 1 & 1, alias = flags >> 2 & 3,
              other_ld = flags >> 4 & 1;
    const unsigned data_mode = flags >> 6;
    size_t ldy = dim + pads[pb >> 4 & 3];

    /* rare faults: a NULL, a stride below dim, a matrix too large to address */
    const size_t huge_ld = (size_t)PTRDIFF_MAX / sizeof(float);
    int null_x = 0, null_y = 0, null_r = 0, huge_dim = 0;
    if (fault >= 0xd0) {
        switch ((fault - 0xd0) % 10) {
        case 0: null_x = 1; break;
        case 1: null_y = 1; break;
        case 2: null_r = 1; break;
        case 3: ldx = dim ? dim - 1 : 0; break;
        case 4: ldy = dim ? dim - 1 : 0; break;
        case 5: ldr = dim ? dim - 1 : 0; break;
        case 6: ldx = huge_ld; break; /* addressable for one row only */
        case 7: ldy = huge_ld; break;
        case 8: ldr = huge_ld; break;
        default: huge_dim = 1; dim = (size_t)SIZE_MAX / 2; break;
        }
    }
    const float eps = fz_eps(eps_mode, eps_bits);
    /* what is allocated: a huge stride or dim is never dereferenced beyond one row (or at
     * all): the status is SHAPE for more rows (checked) */
    const size_t adim = huge_dim ? 1 : dim;
#define AROWS(ld) ((ld) == huge_ld ? (rows ? 1 : 0) : rows)

    fz_set c;
    memset(&c, 0, sizeof c);
    fz_buf_alloc(&c.buf[BX], AROWS(ldx), adim, ldx, ox, 0);
    size_t shift = 0;
    if (alias == 3) {
        /* y somewhere in or just past x's range, same stride: overlapping (refused for the
         * elementwise operators; unspecified for the norms) or apart */
        shift = 1 + shift_sel % (fz_span(AROWS(ldx), adim, ldx) + 4);
        fz_buf_free(&c.buf[BX]);
        fz_buf_alloc(&c.buf[BX], AROWS(ldx), adim, ldx, ox,
                     shift + fz_span(AROWS(ldx), adim, ldx));
    }
    c.view[BX] = c.buf[BX], c.home[BX] = BX;
    if (needs_r) {
        fz_buf_alloc(&c.buf[BR], AROWS(ldr), adim, ldr, or_, 0);
        c.view[BR] = c.buf[BR], c.home[BR] = BR;
    }
    if (alias == 1 || (alias == 2 && needs_r)) {
        const int home = alias == 1 ? BX : BR;
        if (other_ld)
            ldy = c.view[home].ld + 1;
        else
            ldy = c.view[home].ld;
        c.view[BY] = c.view[home];
        c.view[BY].ld = ldy;
        c.view[BY].rows = ldy == c.view[home].ld ? c.view[home].rows : (rows ? 1 : 0);
        c.home[BY] = home;
    } else if (alias == 3) {
        ldy = ldx;
        fz_set_inside(&c, BY, BX, c.buf[BX].rows, ldx, shift);
    } else {
        fz_buf_alloc(&c.buf[BY], AROWS(ldy), adim, ldy, oy, 0);
        c.view[BY] = c.buf[BY], c.home[BY] = BY;
    }
    if (use_gamma) {
        fz_buf_alloc(&c.buf[BG], 1, adim, adim, og, 0);
        c.view[BG] = c.buf[BG], c.home[BG] = BG;
    }
    if (use_beta) {
        fz_buf_alloc(&c.buf[BB], 1, adim, adim, 3 - og, 0);
        c.view[BB] = c.buf[BB], c.home[BB] = BB;
    }
#undef AROWS

    /* the data: x, r, gamma, beta from the bytes left */
    fz_data d;
    fz_data_init(&d, &in, data_mode);
    fz_buf_fill(&c.buf[BX], &d);
    if (needs_r)
        fz_buf_fill(&c.buf[BR], &d);
    if (use_gamma)
        fz_buf_fill(&c.buf[BG], &d);
    if (use_beta)
        fz_buf_fill(&c.buf[BB], &d);

    nk_args a;
    memset(&a, 0, sizeof a);
    a.rows = rows, a.dim = dim;
    a.x = null_x ? NULL : c.view[BX].m, a.ldx = ldx;
    a.r = needs_r && !null_r ? c.view[BR].m : NULL, a.ldr = ldr;
    a.y = null_y ? NULL : c.view[BY].m, a.ldy = ldy;
    a.gamma = use_gamma ? c.view[BG].m : NULL;
    a.beta = use_beta ? c.view[BB].m : NULL;
    a.eps = eps;
    snprintf(fz_case, sizeof fz_case,
             "%s via %s: rows %zu dim %zu ldx %zu ldr %zu ldy %zu offsets x %zu r %zu y %zu "
             "gamma %d beta %d alias %d (shift %zu) x %s y %s r %s eps %a data mode %u",
             op_names[b0 % 8], via_op_run ? "normkit_op_run" : "its entry point", rows, dim, ldx,
             ldr, ldy, ox, or_, oy, use_gamma, use_beta, alias, shift, a.x ? "set" : "NULL",
             a.y ? "set" : "NULL", a.r ? "set" : "NULL", (double)eps, data_mode);

    const normkit_status want = expected_status(info, needs_r, &a);
    float *xin = NULL, *rin = NULL;
    if (want == NORMKIT_OK && rows) {
        xin = fz_buf_dense(&c.view[BX]);
        rin = needs_r ? fz_buf_dense(&c.view[BR]) : NULL;
    }
    fz_set_snapshot(&c);
    const normkit_status got = via_op_run ? normkit_op_run(op, &a) : nk_call_api(op, &a);
    if (got != want)
        fz_fail("status %d (%s), want %d (%s)", got, normkit_status_str(got), want,
                normkit_status_str(want));

    /* the norms leave overlaps other than y == x (same stride) unspecified */
    const int unspecified = !info->elementwise && alias == 3 &&
                            fz_overlap(c.view[BY].m, fz_span(rows, dim, ldy), c.view[BX].m,
                                       fz_span(rows, dim, ldx));
    /* the variants: with their registry knobs, or with a memory mode / pipelining forced */
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    for (size_t v = 0; v <= nk; v++) {
        const normkit_kernel *k = v ? &ks[v - 1] : NULL;
        char who[160] = "the entry point";
        if (k) {
            if (want != NORMKIT_OK || !rows || unspecified)
                break;
            if (k->op != op || !normkit_isa_supported(k->isa))
                continue;
            normkit_kparams kp = k->params;
            switch (kp_mode % 8) {
            case 4: kp.nt_min_bytes = 0; break;   /* streaming stores */
            case 5: kp.dram_min_bytes = 0; break; /* prefetching y */
            case 6: kp.pipe_max_dim = 0; break;   /* no cross-row pipelining */
            case 7: kp.pipe_max_dim = 16384; break;
            default: break;
            }
            fz_set_restore(&c);
            nk_args ka = a;
            ka.kp = &kp;
            normkit_kernel_call(k, &ka);
            snprintf(who, sizeof who, "%s (knobs mode %u)", k->name, kp_mode % 8);
        }
        if (want != NORMKIT_OK || !rows) {
            fz_set_untouched(&c, who);
            continue;
        }
        fz_set_canaries(&c, who);
        if (unspecified)
            continue;
        /* inputs unchanged: x (unless y is x), gamma, beta, r of add/mul (unless y is r) */
        char msg[400];
        if (a.y != a.x)
            for (size_t r = 0; r < rows; r++)
                for (size_t i = 0; i < dim; i++)
                    if (fz_float_bits(a.x[r * ldx + i]) != fz_float_bits(xin[r * dim + i]))
                        fz_fail("%s: x[%zu][%zu] changed", who, r, i);
        if ((use_gamma && memcmp(c.buf[BG].base, c.snap[BG], c.buf[BG].len * 4)) ||
            (use_beta && memcmp(c.buf[BB].base, c.snap[BB], c.buf[BB].len * 4)))
            fz_fail("%s: gamma or beta changed", who);
        if (nk_op_has_second_input(op) && a.y != a.r)
            for (size_t r = 0; r < rows; r++)
                for (size_t i = 0; i < dim; i++)
                    if (fz_float_bits(a.r[r * ldr + i]) != fz_float_bits(rin[r * dim + i]))
                        fz_fail("%s: r[%zu][%zu] (an input) changed", who, r, i);
        const int ok = info->elementwise ? nk_check(op, &a, xin, dim, rin, dim, msg, sizeof msg)
                                         : check_norm(op, info, &a, xin, rin, msg, sizeof msg);
        if (!ok)
            fz_fail("%s: %s", who, msg);
    }

    fz_set_free(&c);
    free(xin);
    free(rin);
    return 0;
}
