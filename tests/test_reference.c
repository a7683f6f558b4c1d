/* The oracle itself, on rows whose answers are known in closed form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "harness.h"
#include "reference.h"

static void test_rmsnorm_known(void **state)
{
    (void)state;
    const float x[2] = {3.0f, 4.0f}, g[2] = {1.0f, -2.0f};
    double y[2];
    ref_rmsnorm_row(2, x, g, 0.0f, y); /* rms = sqrt(12.5) */
    assert_true(fabs(y[0] - 3.0 / sqrt(12.5)) < 1e-15);
    assert_true(fabs(y[1] + 8.0 / sqrt(12.5)) < 1e-15);
    ref_rmsnorm_row(2, x, NULL, 12.5f, y); /* eps doubles the mean square */
    assert_true(fabs(y[0] - 3.0 / 5.0) < 1e-15);
}

static void test_layernorm_known(void **state)
{
    (void)state;
    const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f}, b[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    double y[4], zmax;
    ref_layernorm_row(4, x, NULL, b, 0.0f, y, &zmax); /* mean 2.5, var 1.25 */
    assert_true(fabs(y[0] - (-1.5 / sqrt(1.25) + 0.5)) < 1e-15);
    assert_true(fabs(y[3] - (1.5 / sqrt(1.25) + 0.5)) < 1e-15);
    assert_true(fabs(zmax - 1.5 / sqrt(1.25)) < 1e-15);
    /* Large mean, small spread: 1e4 +- 1/1024 (exact floats): z = +-1 exactly. */
    const float big[2] = {10000.0f - 0x1p-10f, 10000.0f + 0x1p-10f};
    ref_layernorm_row(2, big, NULL, NULL, 0.0f, y, &zmax);
    assert_true(fabs(y[0] + 1.0) < 1e-12 && fabs(y[1] - 1.0) < 1e-12);
}

static void test_edge_rules(void **state)
{
    (void)state;
    const float zero[3] = {0}, cst[3] = {7, 7, 7}, b[3] = {1, 2, 3};
    const float bad[3] = {1, NAN, 2}, inf[3] = {1, INFINITY, 2};
    double y[3];
    ref_rmsnorm_row(3, zero, NULL, 0.0f, y);
    assert_true(y[0] == 0.0 && y[2] == 0.0);
    ref_layernorm_row(3, cst, NULL, b, 0.0f, y, NULL);
    assert_true(y[0] == 1.0 && y[1] == 2.0 && y[2] == 3.0);
    ref_rmsnorm_row(3, bad, NULL, 1e-5f, y);
    assert_true(isnan(y[0]) && isnan(y[2]));
    ref_layernorm_row(3, inf, NULL, b, 1e-5f, y, NULL);
    assert_true(isnan(y[0]) && isnan(y[2]));
}

/* The checker must reject what it is meant to reject. */
static void test_checker_rejects(void **state)
{
    (void)state;
    float x[3] = {1, 2, 3}, y[3], r[3] = {0.5f, 0.5f, 0.5f}, r_in[3] = {0.5f, 0.5f, 0.5f};
    double ref[3];
    char msg[256];
    ref_rmsnorm_row(3, x, NULL, 0.0f, ref);
    for (int i = 0; i < 3; i++)
        y[i] = (float)ref[i];
    nk_args a = {.rows = 1, .dim = 3, .x = x, .ldx = 3, .r = r, .ldr = 3, .y = y, .ldy = 3};
    assert_true(nk_check(normkit_op_rmsnorm, &a, x, 3, NULL, 3, msg, sizeof msg));
    y[2] = nextafterf(nextafterf(nextafterf(y[2], 9.0f), 9.0f), 9.0f); /* 3 ulps: (3/2+6)u allows ~7 */
    assert_true(nk_check(normkit_op_rmsnorm, &a, x, 3, NULL, 3, msg, sizeof msg));
    y[2] *= 1.0001f;
    assert_false(nk_check(normkit_op_rmsnorm, &a, x, 3, NULL, 3, msg, sizeof msg));
    y[2] = NAN;
    assert_false(nk_check(normkit_op_rmsnorm, &a, x, 3, NULL, 3, msg, sizeof msg));
    /* add+norm: r must hold x + r exactly */
    for (int i = 0; i < 3; i++)
        r[i] = x[i] + r_in[i];
    float h[3] = {1.5f, 2.5f, 3.5f};
    ref_rmsnorm_row(3, h, NULL, 0.0f, ref);
    for (int i = 0; i < 3; i++)
        y[i] = (float)ref[i];
    assert_true(nk_check(normkit_op_add_rmsnorm, &a, x, 3, r_in, 3, msg, sizeof msg));
    r[1] = nextafterf(r[1], 0.0f);
    assert_false(nk_check(normkit_op_add_rmsnorm, &a, x, 3, r_in, 3, msg, sizeof msg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_known),
        cmocka_unit_test(test_layernorm_known),
        cmocka_unit_test(test_edge_rules),
        cmocka_unit_test(test_checker_rejects),
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
