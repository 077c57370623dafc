/* publish_guard: the data-usage halt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "publish_guard.h"

static const config_guards G = {.publish_window_ms = 10000, .publish_max = 20};

static void test_halts_on_the_21st_within_the_window(void **state)
{
    (void)state;
    publish_guard g;
    publish_guard_init(&g);
    for (uint32_t i = 0; i < 20; i++) {
        assert_int_equal(publish_guard_check(&g, &G, 1000 + i), PUBLISH_GUARD_OK);
        publish_guard_count(&g, 1000 + i);
    }
    assert_int_equal(publish_guard_check(&g, &G, 10999), PUBLISH_GUARD_HALTED_NOW);
    assert_int_equal(publish_guard_check(&g, &G, 50000), PUBLISH_GUARD_HALTED);
    publish_guard_reset(&g);
    assert_int_equal(publish_guard_check(&g, &G, 50000), PUBLISH_GUARD_OK);
}

static void test_window_expires(void **state)
{
    (void)state;
    publish_guard g;
    publish_guard_init(&g);
    for (uint32_t i = 0; i < 20; i++) publish_guard_count(&g, 1000);
    assert_int_equal(publish_guard_check(&g, &G, 11000), PUBLISH_GUARD_OK);
    publish_guard_count(&g, 11000);
    publish_guard_expire(&g, &G, 20999);
    assert_int_equal(g.count, 1);
    publish_guard_expire(&g, &G, 21000);
    assert_int_equal(g.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halts_on_the_21st_within_the_window),
        cmocka_unit_test(test_window_expires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
