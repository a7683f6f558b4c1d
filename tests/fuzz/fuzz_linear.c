/*
 * fuzz_linear: linear, rmsnorm_linear and layernorm_linear through their public entry points
 * (row-major W, typed or normkit_op_run; or packed with normkit_linear_pack, gamma/beta folded
 * or not, through normkit_*linear_packed_f32), then every supported variant of the operator
 * called directly with row-major W and with its packed panels, at the default blocking or at
 * small k and row blocks. The input describes the call: rows, dim, n, strides, offsets, NULLs,
 * bias/gamma/beta, an output placed over an input, eps and the data's bits.
 *
 * Checked for every input:
 *  - the status equals the one derived here from include/normkit.h (linear: NULL, shape,
 *    overlap of y's range with x, W, bias, gamma, beta, eps, in the order of dispatch/dispatch.c
 *    linear_check; packing; the packed calls' NORMKIT_ERR_PACKED for gamma/beta passed to a
 *    handle they were folded into, for beta passed to a handle with gamma folded, and for a
 *    handle packed before normkit_isa_force changed the variant);
 *  - a refused call (and rows == 0) wrote nothing; an accepted one wrote only y's rows;
 *  - each output against a float64 reference within the bound of tests/test_linear.c
 *    check_case (copied below; eps is the call's), folded or not: A = norm(x) or x, times
 *    gamma, plus beta, W, bias. NaN/Inf: a norm's row of x with NaN/Inf is NaN throughout;
 *    other non-finite inputs give a non-finite output (plain linear, unfolded: exactly IEEE:
 *    NaN for a NaN reference, the same infinity for an infinite one). Outputs whose float
 *    evaluation may overflow are exempt (README.md, "Exemptions").
 * Input layout: tests/fuzz/README.md.
 */
#include "fuzz_common.h"

#include "reference.h"

#define U 0x1p-24

static const char *const op_names[] = {"linear", "rmsnorm_linear", "layernorm_linear"};
static const size_t pads[] = {0, 1, 3, 16};
static const size_t large_dims[] = {768, 1024, 2049, 513};
enum { BX, BW, BY, BBIAS, BG, BB }; /* fz_set slots: x, W, y, bias, gamma, beta */

/* What each output must be (one per output of the call). */
enum { ANY = 0, BOUND, NAN_ONLY, NONFINITE, IEEE };
typedef struct {
    double ref, bound;
    int rule;
} expect_t;

/* The expected outputs of y = A W^T + bias with A = (norm ? z : x) * G + B, where G is gamma
 * when `g_on` (applied by the norm or folded into W) and B beta when `b_on` (applied by the
 * norm or folded into the bias). folded_g: W' = fl(W gamma) is what the kernel multiplies.
 * The bound is tests/test_linear.c check_case's:
 *   |y_j - ref_j| <= sum_k e_k |W_jk| + (dim + 4) u S_j + u |ref_j| + dim 2^-149
 *                    (+ u |b'_j| with beta folded, b'_j = b_j + sum_k W_jk beta_k),
 *   S_j = sum_k |W_jk| (|A_k| + |B_k|), e_k = nk_bound of the norm (0 for linear). */
static expect_t *expected(normkit_op op, const normkit_op_info *info, size_t rows, size_t dim,
                          size_t n, const float *x, size_t ldx, const float *w, size_t ldw,
                          const float *bias, const float *gamma, const float *beta, float eps,
                          int g_on, int b_on, int folded_g, int folded_b)
{
    expect_t *ex = malloc(rows * n * sizeof *ex);
    double *z = malloc(dim * sizeof *z), *A = malloc(dim * sizeof *A), *e = malloc(dim * sizeof *e);
    if (!ex || !z || !A || !e)
        abort();
    const int norm = info->norm != NORMKIT_NORM_NONE;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        double zmax = 0.0;
        /* the normalized row without gamma/beta (x itself for linear) */
        nk_ref_row(op, dim, xr, NULL, NULL, eps, z, &zmax);
        const double inv_s = info->norm == NORMKIT_NORM_LN ? ref_ln_inv_s(dim, xr, eps) : 0.0;
        int row_nan = 0, a_nonfinite = 0, row_huge = 0;
        for (size_t k = 0; k < dim; k++) {
            const double G = g_on ? gamma[k] : 1.0, B = b_on ? beta[k] : 0.0;
            row_nan |= norm && isnan(z[k]);
            A[k] = z[k] * G + B;
            a_nonfinite |= !isfinite(A[k]) || !isfinite(G) || !isfinite(B);
            row_huge |= !(fabs(z[k] * G) + fabs(B) <= FZ_HUGE);
            e[k] = norm ? nk_bound(op, dim, A[k], G, zmax, inv_s) : 0.0;
        }
        for (size_t j = 0; j < n; j++) {
            expect_t *o = &ex[r * n + j];
            const float *wr = w + j * ldw;
            const double b = bias ? bias[j] : 0.0;
            double ref = b, s = 0.0, s_fin = 0.0, err_in = 0.0, zsum = 0.0, bfold = b;
            int w_nonfinite = !isfinite(b), wg_huge = 0;
            for (size_t k = 0; k < dim; k++) {
                const double B = b_on ? beta[k] : 0.0;
                ref += A[k] * wr[k];
                s += fabs((double)wr[k]) * (fabs(A[k]) + fabs(B));
                if (isfinite(A[k] * wr[k]))
                    s_fin += fabs(A[k] * wr[k]);
                err_in += e[k] * fabs((double)wr[k]);
                zsum += fabs(z[k]);
                w_nonfinite |= !isfinite(wr[k]);
                if (folded_b)
                    bfold += (double)wr[k] * beta[k];
                if (folded_g)
                    wg_huge |= !(fabs((double)wr[k] * gamma[k]) <= FZ_HUGE);
            }
            o->ref = ref;
            /* a folded W' = fl(W gamma) in the subnormal range is rounded to 2^-150 absolute,
             * not u relative, and z multiplies that (regress-folded-gamma-subnormal-w); a
             * folded bias b' = fl(b + W beta) is rounded once, u |b'|, which S does not hold
             * when b is large and cancels against the products
             * (regress-folded-beta-bias-cancel) */
            o->bound = err_in + ((double)dim + 4.0) * U * s + U * fabs(ref) +
                       (double)dim * 0x1p-149 + (folded_g ? 0x1p-149 * zsum : 0.0) +
                       (folded_b ? U * fabs(bfold) : 0.0);
            if (row_nan)
                o->rule = NAN_ONLY; /* include/normkit.h: NaN in every y of that row */
            else if (a_nonfinite || w_nonfinite)
                o->rule = !norm && !folded_g && !folded_b &&
                                  s_fin + (isfinite(b) ? fabs(b) : 0.0) <= FZ_HUGE
                              ? IEEE
                              : NONFINITE;
            else if (row_huge || wg_huge || !(s + fabs(b) + fabs(ref) <= FZ_HUGE))
                o->rule = ANY; /* may overflow in float: no bound is stated */
            else
                o->rule = BOUND;
        }
    }
    free(z);
    free(A);
    free(e);
    return ex;
}

static void check_outputs(const expect_t *ex, size_t rows, size_t n, const float *y, size_t ldy,
                          const char *who)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++) {
            const expect_t *o = &ex[r * n + j];
            const double got = y[r * ldy + j];
            int bad = 0;
            switch (o->rule) {
            case NAN_ONLY: bad = !isnan(got); break;
            case NONFINITE: bad = isfinite(got); break;
            case IEEE:
                bad = isnan(o->ref) ? !isnan(got) : isinf(o->ref) ? got != o->ref
                                                  : !(fabs(got - o->ref) <= o->bound);
                break;
            case BOUND: bad = !(fabs(got - o->ref) <= o->bound); break;
            default: break;
            }
            if (bad)
                fz_fail("%s: y[%zu][%zu] = %a, reference %.17g, error %.3g, bound %.3g (rule %d)",
                        who, r, j, got, o->ref, fabs(got - o->ref), o->bound, o->rule);
        }
}

static int addressable(size_t rows, size_t cols, size_t ld)
{
    const size_t max = (size_t)PTRDIFF_MAX / sizeof(float);
    return ld >= cols && cols <= max && (rows - 1) <= (max - cols) / ld;
}

static void *aligned64(size_t floats)
{
    void *p = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!p)
        abort();
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size, 0};
    const unsigned b0 = fz_u8(&in);
    const normkit_op op = (normkit_op)normkit_op_from_name(op_names[b0 % 3]);
    const normkit_op_info *info = normkit_op_get(op);
    const int norm = info->norm != NORMKIT_NORM_NONE;
    const unsigned path = b0 >> 2 & 3; /* 0 typed entry point, 1 normkit_op_run, 2 packed, 3 packed folded */
    const int packed = path >= 2;
    size_t rows = fz_u8(&in) % 10;
    const unsigned dsel = fz_u16(&in);
    const size_t dim0 = dsel >> 12 == 15 ? large_dims[dsel % 4] : dsel % 301;
    size_t dim = dim0, n = fz_u8(&in) % 71;
    const unsigned pb = fz_u8(&in), ob = fz_u8(&in), flags = fz_u8(&in), fault = fz_u8(&in);
    const unsigned eps_mode = fz_u8(&in);
    const uint32_t eps_bits = fz_u32(&in);
    const unsigned knob = fz_u8(&in), fold = fz_u8(&in), ovl = fz_u8(&in), shift_sel = fz_u16(&in);
    if (rows > 3 && dim > 512)
        rows = 3;

    size_t ldx = dim + pads[pb & 3], ldw = dim + pads[pb >> 2 & 3], ldy = n + pads[pb >> 4 & 3];
    const size_t ox = ob & 3, ow = ob >> 2 & 3, oy = ob >> 4 & 3, ov = ob >> 6 & 3;
    const int use_gamma = flags & 1, use_beta = flags >> 1 & 1, use_bias = flags >> 2 & 1;
    const unsigned data_mode = flags >> 6;
    /* y over an input: 0 x, 1 W, 2 bias, 3 gamma, 4 beta (when that input exists) */
    int over = (flags >> 3 & 7) < 6 ? -1 : (int)(ovl % 5);
    if ((over == 2 && !use_bias) || (over == 3 && !use_gamma) || (over == 4 && !use_beta))
        over = -1;
    /* packed: fold gamma / beta into the handle; pass them to the call again anyway */
    const int fold_g = path == 3 && (fold & 1) && use_gamma, fold_b = path == 3 && (fold & 2) && use_beta;
    const int again_g = fold >> 2 & 1, again_b = fold >> 3 & 1;

    const size_t huge_ld = (size_t)PTRDIFF_MAX / sizeof(float);
    int null_x = 0, null_w = 0, null_y = 0, isa_switch = 0;
    if (fault >= 0xd0) {
        switch ((fault - 0xd0) % 10) {
        case 0: null_x = 1; break;
        case 1: null_w = 1; break;
        case 2: null_y = 1; break;
        case 3: ldx = dim ? dim - 1 : 0; break;
        case 4: ldw = dim ? dim - 1 : 0; break;
        case 5: ldy = n ? n - 1 : 0; break;
        case 6: ldx = huge_ld; break;
        case 7: ldy = huge_ld; break;
        case 8: ldw = huge_ld; break;
        default: isa_switch = 1; break;
        }
    }
    const float eps = fz_eps(eps_mode, eps_bits);
#define AROWS(r, ld) ((ld) == huge_ld ? ((r) ? 1 : 0) : (r))

    fz_set c;
    memset(&c, 0, sizeof c);
    const size_t yrows = AROWS(rows, ldy), yspan = fz_span(yrows, n, ldy);
    /* the host of y (over >= 0) gets room after its span for y at `shift` */
    size_t shift = 0;
    const size_t span_of[5] = {fz_span(AROWS(rows, ldx), dim, ldx), fz_span(AROWS(n, ldw), dim, ldw),
                               n, dim, dim};
    if (over >= 0)
        shift = shift_sel % (span_of[over] + 4);
    const size_t extra[5] = {over == 0 ? shift + yspan : 0, over == 1 ? shift + yspan : 0,
                             over == 2 ? shift + yspan : 0, over == 3 ? shift + yspan : 0,
                             over == 4 ? shift + yspan : 0};
    fz_buf_alloc(&c.buf[BX], AROWS(rows, ldx), dim, ldx, ox, extra[0]);
    fz_set_own(&c, BX);
    fz_buf_alloc(&c.buf[BW], AROWS(n, ldw), dim, ldw, ow, extra[1]);
    fz_set_own(&c, BW);
    if (use_bias) {
        fz_buf_alloc(&c.buf[BBIAS], 1, n, n, ov, extra[2]);
        fz_set_own(&c, BBIAS);
    }
    if (use_gamma) {
        fz_buf_alloc(&c.buf[BG], 1, dim, dim, 3 - ov, extra[3]);
        fz_set_own(&c, BG);
    }
    if (use_beta) {
        fz_buf_alloc(&c.buf[BB], 1, dim, dim, ov ^ 1, extra[4]);
        fz_set_own(&c, BB);
    }
    if (over < 0) {
        fz_buf_alloc(&c.buf[BY], yrows, n, ldy, oy, 0);
        fz_set_own(&c, BY);
    } else {
        static const int slot[5] = {BX, BW, BBIAS, BG, BB};
        const int h = slot[over];
        c.view[BY] = c.buf[h];
        c.view[BY].rows = yrows, c.view[BY].dim = n, c.view[BY].ld = ldy;
        c.view[BY].off = c.buf[h].off + shift;
        c.view[BY].m = c.buf[h].m + shift;
        c.home[BY] = h;
    }
#undef AROWS
    fz_data d;
    fz_data_init(&d, &in, data_mode);
    fz_buf_fill(&c.view[BX], &d);
    fz_buf_fill(&c.view[BW], &d);
    if (use_bias)
        fz_buf_fill(&c.view[BBIAS], &d);
    if (use_gamma)
        fz_buf_fill(&c.view[BG], &d);
    if (use_beta)
        fz_buf_fill(&c.view[BB], &d);

    const float *x = null_x ? NULL : c.view[BX].m, *w = null_w ? NULL : c.view[BW].m;
    const float *bias = use_bias ? c.view[BBIAS].m : NULL;
    const float *gamma = use_gamma ? c.view[BG].m : NULL, *beta = use_beta ? c.view[BB].m : NULL;
    float *y = null_y ? NULL : c.view[BY].m;
    /* what the call passes: gamma for the norms, beta for layernorm (packed: unless folded,
     * or passed again on purpose) */
    const float *call_g = norm && gamma && (!fold_g || again_g) ? gamma : NULL;
    const float *call_b = info->beta && beta && (!fold_b || again_b) ? beta : NULL;
    snprintf(fz_case, sizeof fz_case,
             "%s via %s: rows %zu dim %zu n %zu ldx %zu ldw %zu ldy %zu offsets x %zu w %zu y %zu "
             "v %zu bias %d gamma %d beta %d (folded %d %d, passed %d %d) y over %d (shift %zu) "
             "x %s w %s y %s isa switch %d eps %a data mode %u knob %u",
             op_names[b0 % 3],
             path == 0 ? "its entry point" : path == 1 ? "normkit_op_run" : path == 2 ? "packed" : "packed, folded",
             rows, dim, n, ldx, ldw, ldy, ox, ow, oy, ov, use_bias, use_gamma, use_beta, fold_g,
             fold_b, call_g != NULL, call_b != NULL, over, shift, x ? "set" : "NULL",
             w ? "set" : "NULL", y ? "set" : "NULL", isa_switch, (double)eps, data_mode, knob);

    /* ---- the expected statuses ---- */
    const size_t xspan = fz_span(rows, dim, ldx);
    normkit_status want_pack = NORMKIT_OK, want;
    if (!w)
        want_pack = NORMKIT_ERR_NULL;
    else if (!n || !dim || !addressable(n, dim, ldw))
        want_pack = NORMKIT_ERR_SHAPE;
    if (rows == 0)
        want = NORMKIT_OK;
    else if (packed && want_pack != NORMKIT_OK)
        want = NORMKIT_ERR_NULL; /* no handle */
    else if (!x || !y || (!packed && !w))
        want = NORMKIT_ERR_NULL;
    else if (!dim || !n || !addressable(rows, dim, ldx) || !addressable(rows, n, ldy) ||
             (!packed && !addressable(n, dim, ldw)))
        want = NORMKIT_ERR_SHAPE;
    else if (fz_overlap(y, fz_span(rows, n, ldy), x, xspan) ||
             (!packed && fz_overlap(y, fz_span(rows, n, ldy), w, fz_span(n, dim, ldw))) ||
             (!packed && bias && fz_overlap(y, fz_span(rows, n, ldy), bias, n)) ||
             (call_g && fz_overlap(y, fz_span(rows, n, ldy), call_g, dim)) ||
             (call_b && fz_overlap(y, fz_span(rows, n, ldy), call_b, dim)))
        want = NORMKIT_ERR_SHAPE;
    else if (norm && !fz_eps_ok(eps))
        want = NORMKIT_ERR_EPS;
    else if (packed && ((call_g && fold_g) || (call_b && fold_b) || (call_b && fold_g)))
        want = NORMKIT_ERR_PACKED;
    else
        want = NORMKIT_OK;

    /* the expectations, from the inputs as they are before the call (a packed call's y may
     * lie over the bias or a folded gamma/beta, which only the packing read) */
    const int g_on = norm ? gamma && (call_g || fold_g) : fold_g;
    const int b_on = info->beta ? beta && (call_b || fold_b) : fold_b;
    const int vg = norm && gamma != NULL, vb = info->beta && beta != NULL;
    expect_t *ex = NULL, *exv = NULL;
    if (want == NORMKIT_OK && rows) {
        ex = expected(op, info, rows, dim, n, x, ldx, w, ldw, bias, gamma, beta, eps, g_on, b_on,
                      fold_g, fold_b);
        exv = expected(op, info, rows, dim, n, x, ldx, w, ldw, bias, gamma, beta, eps, vg, vb, 0, 0);
    }

    /* ---- the call ---- */
    fz_set_snapshot(&c);
    normkit_status got;
    normkit_linear *p = NULL;
    if (!packed) {
        nk_args a;
        memset(&a, 0, sizeof a);
        a.rows = rows, a.dim = dim, a.n = n, a.x = x, a.ldx = ldx, a.w = w, a.ldw = ldw;
        a.bias = bias, a.gamma = call_g, a.beta = call_b, a.eps = eps, a.y = y, a.ldy = ldy;
        got = path == 1 ? normkit_op_run(op, &a) : nk_call_api(op, &a);
    } else {
        const normkit_status ps = normkit_linear_pack(n, dim, w, ldw, bias, fold_g ? gamma : NULL,
                                                      fold_b ? beta : NULL, &p);
        if (ps != want_pack || (ps != NORMKIT_OK) != (p == NULL))
            fz_fail("normkit_linear_pack: status %d (%s), want %d; handle %p", ps,
                    normkit_status_str(ps), want_pack, (void *)p);
        if (p) {
            size_t pn = 0, pd = 0;
            normkit_linear_shape(p, &pn, &pd);
            if (pn != n || pd != dim)
                fz_fail("normkit_linear_shape: %zu x %zu, want %zu x %zu", pn, pd, n, dim);
        }
        normkit_status want_now = want;
        if (isa_switch && p) {
            /* another variant active: a handle packed before must be refused (after the
             * argument checks) */
            const normkit_kernel *before = normkit_kernel_active(op);
            if (normkit_isa_force(NORMKIT_ISA_SCALAR) != NORMKIT_OK)
                fz_fail("normkit_isa_force(scalar) failed");
            const normkit_kernel *now = normkit_kernel_active(op);
            if (want == NORMKIT_OK && rows && now != before)
                want_now = NORMKIT_ERR_PACKED;
        }
        got = op == normkit_op_linear
                  ? normkit_linear_packed_f32(rows, x, ldx, p, y, ldy)
              : op == normkit_op_rmsnorm_linear
                  ? normkit_rmsnorm_linear_packed_f32(rows, x, ldx, call_g, eps, p, y, ldy)
                  : normkit_layernorm_linear_packed_f32(rows, x, ldx, call_g, call_b, eps, p, y, ldy);
        if (isa_switch && p && normkit_isa_force(NORMKIT_ISA_AUTO) != NORMKIT_OK)
            fz_fail("normkit_isa_force(auto) failed");
        want = want_now;
    }
    if (got != want)
        fz_fail("status %d (%s), want %d (%s)", got, normkit_status_str(got), want,
                normkit_status_str(want));
    if (want != NORMKIT_OK || rows == 0) {
        fz_set_untouched(&c, "the entry point");
        free(ex);
        free(exv);
        normkit_linear_free(p);
        fz_set_free(&c);
        return 0;
    }
    fz_set_canaries(&c, "the entry point");
    /* the inputs (outside y's allocation) unchanged */
    for (int s = 0; s < FZ_NBUF; s++)
        if (s != BY && s != c.home[BY] && c.buf[s].base &&
            memcmp(c.buf[s].base, c.snap[s], c.buf[s].len * sizeof(float)) != 0)
            fz_fail("the entry point changed an input (slot %d)", s);

    /* ---- the values: the call (as called, folded or not) ---- */
    check_outputs(ex, rows, n, y, ldy, "the entry point");
    normkit_linear_free(p);

    /* ---- every supported variant, row-major W and its packed panels; gamma and beta as the
     * operator takes them (never folded) ---- */
    /* (not when y lies over an input: the kernel contract forbids it) */
    const int y_over_input =
        over >= 0 && fz_overlap(y, fz_span(rows, n, ldy), c.view[over == 0   ? BX
                                                                 : over == 1 ? BW
                                                                 : over == 2 ? BBIAS
                                                                 : over == 3 ? BG
                                                                             : BB].m,
                                span_of[over]);
    size_t nk;
    const normkit_kernel *ks = normkit_kernel_list(&nk);
    for (size_t v = 0; v < nk; v++) {
        const normkit_kernel *k = &ks[v];
        if (y_over_input || k->op != op || !normkit_isa_supported(k->isa))
            continue;
        for (int form = 0; form < 2; form++) {
            normkit_kparams kp = k->params;
            const unsigned blocking = knob % 3;
            if (blocking) {
                kp.lin_kc = 64;
                kp.lin_mc = blocking == 1 ? 4 : 5;
                if (blocking == 1)
                    kp.lin_pack_rows = 1; /* row-major W packed on the fly, where a variant can */
            }
            normkit_linear_resolve_knobs(&kp, rows, dim, &kp);
            const int fused = norm;
            /* the plain linear kernel also runs without a workspace */
            float *ws = fused || blocking != 2
                            ? aligned64(normkit_linear_ws_floats(&kp, rows, dim, fused))
                            : NULL;
            float *panels = NULL;
            if (form) {
                const size_t floats = normkit_linear_panels_floats(&kp, n, dim);
                panels = aligned64(floats);
                normkit_linear_pack_panels(&kp, n, dim, w, ldw, NULL, panels);
            }
            fz_set_restore(&c);
            nk_args a;
            memset(&a, 0, sizeof a);
            a.rows = rows, a.dim = dim, a.n = n, a.x = x, a.ldx = ldx;
            a.w = form ? panels : w, a.ldw = form ? 0 : ldw;
            a.bias = bias, a.gamma = vg ? gamma : NULL, a.beta = vb ? beta : NULL, a.eps = eps;
            a.y = y, a.ldy = ldy, a.kp = &kp, a.ws = ws;
            normkit_kernel_call(k, &a);
            char who[160];
            snprintf(who, sizeof who, "%s (%s W, blocking %u)", k->name,
                     form ? "packed" : "row-major", blocking);
            fz_set_canaries(&c, who);
            check_outputs(exv, rows, n, y, ldy, who);
            free(ws);
            free(panels);
        }
    }
    free(ex);
    free(exv);
    fz_set_free(&c);
    return 0;
}
