/* relay_guard: cooldown, toggle window, violations, lock, reset, wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay_guard.h"

static const config_guards G = {.cooldown_ms = 2000, .toggle_window_ms = 60000, .toggle_max = 5,
                                 .violation_max = 3};

static void test_cooldown(void **state)
{
    (void)state;
    relay_guard g;
    relay_guard_init(&g);
    assert_int_equal(relay_guard_request(&g, &G, 1000), RELAY_GUARD_ALLOW);
    assert_int_equal(relay_guard_cooldown_left(&g, &G, 1500), 1500);
    assert_int_equal(relay_guard_request(&g, &G, 2999), RELAY_GUARD_COOLDOWN);
    assert_int_equal(relay_guard_request(&g, &G, 3000), RELAY_GUARD_ALLOW);
    assert_int_equal(relay_guard_cooldown_left(&g, &G, 6000), 0);
}

static void test_toggle_limit_and_window(void **state)
{
    (void)state;
    relay_guard g;
    relay_guard_init(&g);
    uint32_t t = 0;
    for (int i = 0; i < 5; i++, t += 2000) {
        assert_int_equal(relay_guard_request(&g, &G, t), RELAY_GUARD_ALLOW);
    }
    /* Every change the full window refuses is a violation of its own. */
    assert_int_equal(relay_guard_request(&g, &G, t), RELAY_GUARD_VIOLATION);
    assert_int_equal(relay_guard_request(&g, &G, t + 2000), RELAY_GUARD_VIOLATION);
    assert_int_equal(g.violations, 2);
    assert_false(relay_guard_ready(&g, &G, 59999));
    assert_int_equal(relay_guard_request(&g, &G, 59999), RELAY_GUARD_VIOLATION);
    assert_true(relay_guard_ready(&g, &G, 60000));
    assert_int_equal(relay_guard_request(&g, &G, 60000), RELAY_GUARD_ALLOW);
    assert_int_equal(g.violations, 3);
}

/* Abuse as in the original's scenario: a change asked for every 3 s. Five
 * changes (0..12 s), then four refusals (15..24 s): the 4th violation, more
 * than violation_max = 3, locks the relay 24 s after the first change. */
static void test_toggle_every_3s_locks_after_5_changes_at_24s(void **state)
{
    (void)state;
    relay_guard g;
    relay_guard_init(&g);
    int allowed = 0;
    uint32_t locked_at = 0;
    for (uint32_t t = 0; t <= 300000 && locked_at == 0; t += 3000) {
        relay_guard_verdict v = relay_guard_request(&g, &G, t);
        if (v == RELAY_GUARD_ALLOW) allowed++;
        if (v == RELAY_GUARD_LOCKED_NOW) locked_at = t;
    }
    assert_int_equal(allowed, 5);
    assert_int_equal(locked_at, 24000);
    assert_int_equal(g.violations, 4);
}

/* The cooldown is not a violation: requests 1 s apart never lock. */
static void test_cooldown_skips_are_no_violations(void **state)
{
    (void)state;
    relay_guard g;
    relay_guard_init(&g);
    assert_true(relay_guard_ready(&g, &G, 0));
    assert_int_equal(relay_guard_request(&g, &G, 0), RELAY_GUARD_ALLOW);
    assert_false(relay_guard_ready(&g, &G, 1000));
    for (uint32_t t = 1000; t < 2000; t += 100) {
        assert_int_equal(relay_guard_request(&g, &G, t), RELAY_GUARD_COOLDOWN);
    }
    assert_int_equal(g.violations, 0);
    relay_guard_init(&g);
    g.locked = true;
    assert_false(relay_guard_ready(&g, &G, 0));
}

static void test_lock_after_more_than_max_violations(void **state)
{
    (void)state;
    relay_guard g;
    relay_guard_init(&g);
    uint32_t t = 0;
    for (int v = 0; v < 4; v++) {
        for (uint32_t i = 0; i < 5; i++) {
            assert_int_equal(relay_guard_request(&g, &G, t + i * 2000), RELAY_GUARD_ALLOW);
        }
        relay_guard_verdict r = relay_guard_request(&g, &G, t + 10000);
        assert_int_equal(r, v < 3 ? RELAY_GUARD_VIOLATION : RELAY_GUARD_LOCKED_NOW);
        t += 60000;
    }
    assert_true(g.locked);
    assert_int_equal(relay_guard_request(&g, &G, t + 1000000), RELAY_GUARD_LOCKED);
    relay_guard_reset(&g);
    assert_int_equal(relay_guard_request(&g, &G, t + 1000000), RELAY_GUARD_ALLOW);
}

static void test_no_cooldown_and_wrap(void **state)
{
    (void)state;
    config_guards g0 = G;
    g0.cooldown_ms = 0;
    relay_guard g;
    relay_guard_init(&g);
    assert_int_equal(relay_guard_request(&g, &g0, 0xffffff00u), RELAY_GUARD_ALLOW);
    assert_int_equal(relay_guard_request(&g, &g0, 0xffffff00u), RELAY_GUARD_ALLOW);
    relay_guard_init(&g);
    assert_int_equal(relay_guard_request(&g, &G, 0xfffffc00u), RELAY_GUARD_ALLOW);
    assert_int_equal(relay_guard_request(&g, &G, 0x00000100u), RELAY_GUARD_COOLDOWN);
    assert_int_equal(relay_guard_request(&g, &G, 0x00000400u), RELAY_GUARD_ALLOW);
    assert_int_equal(relay_guard_clamp_ms(0xffffffffu), 0x7fffffffu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cooldown),
        cmocka_unit_test(test_toggle_limit_and_window),
        cmocka_unit_test(test_toggle_every_3s_locks_after_5_changes_at_24s),
        cmocka_unit_test(test_cooldown_skips_are_no_violations),
        cmocka_unit_test(test_lock_after_more_than_max_violations),
        cmocka_unit_test(test_no_cooldown_and_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
