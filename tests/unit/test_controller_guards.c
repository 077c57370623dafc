/* Safeguards through the controller: cooldown, toggle limit, lock, publish halt, reset. */
#include "controller_fake.h"

static size_t changes_of(uint8_t pin)
{
    size_t n = 0;
    for (size_t i = 0; i < F.output_count; i++) n += F.outputs[i].pin == pin ? 1u : 0u;
    return n - 1; /* the first is init's "off" */
}

static void test_cooldown_skips_and_corrects_once(void **state)
{
    (void)state;
    connect_at(1000);
    msg(10000, "{\"GP16\":1}");
    size_t pubs = F.pub_count;
    msg(10500, "{\"GP16\":0}");
    assert_true(on(16)); /* skipped */
    /* Corrective state (the client's switch flips back) and one clear error. */
    assert_int_equal(F.pub_count, pubs + 2);
    assert_string_not_equal(F.pubs[pubs], "");
    assert_non_null(strstr(F.pubs[pubs], "{\"GP16\":1,"));
    expect_last("GP16 skipped: changed moments ago (cooldown)");
    msg(11000, "{\"GP16\":0}");
    assert_int_equal(pubs_containing("cooldown"), 1); /* reported once */
    assert_int_equal(C.counters.cooldown_skips, 2);
    msg(12000, "{\"GP16\":0}"); /* 2 s after the change: allowed */
    assert_false(on(16));
    assert_int_equal(changes_of(16), 2);
}

static void test_toggle_limit_violation_then_resume(void **state)
{
    (void)state;
    connect_at(1000);
    uint32_t t = 10000;
    for (int i = 0; i < 5; i++, t += 2000) msg(t, i % 2 == 0 ? "{\"GP17\":1}" : "{\"GP17\":0}");
    assert_int_equal(changes_of(17), 5);
    msg(t, "{\"GP17\":0}"); /* 6th change within 60 s */
    assert_true(on(17));
    expect_last("\"GUARD\":\"toggle\"");
    assert_int_equal(pubs_containing("changed too often: more than 5 changes in 60 s"), 1);
    /* Every refused change is a violation of its own (the original's rule). */
    msg(t + 2000, "{\"GP17\":0}");
    msg(t + 4000, "{\"GP17\":0}");
    assert_int_equal(pubs_containing("\"GUARD\":\"toggle\""), 3); /* one per violation */
    assert_int_equal(pubs_containing("(violation 3, lock after 3)"), 1);
    assert_int_equal(C.counters.violations, 3);
    assert_int_equal(C.counters.toggle_skips, 3);
    assert_true(on(17));
    assert_false(controller_relay_locked(&C, 17));
    /* The window opened at 10000: from 70000 on, changes resume (one more
     * refusal before that would have been the 4th violation: a lock). */
    msg(70000, "{\"GP17\":0}");
    assert_false(on(17));
    assert_false(controller_relay_locked(&C, 17));
}

/* Makes relay 16 violate the toggle limit once, within one window from start. */
static uint32_t violate(uint32_t start)
{
    uint32_t t = start;
    for (int i = 0; i < 6; i++, t += 2000) msg(t, on(16) ? "{\"GP16\":0}" : "{\"GP16\":1}");
    return start + 60000;
}

static void test_lock_after_violations_until_reset(void **state)
{
    (void)state;
    connect_at(1000);
    CFG.guards.publish_max = 1000; /* this test is about the relay guard */
    CFG.guards.remote_reset = true;
    uint32_t t = 10000;
    for (int v = 0; v < 3; v++) t = violate(t);
    assert_int_equal(C.counters.violations, 3);
    assert_false(controller_relay_locked(&C, 16));
    t = violate(t); /* the 4th violation: more than 3 */
    assert_true(controller_relay_locked(&C, 16));
    assert_int_equal(pubs_containing("\"GUARD\":\"lock\""), 1);
    assert_int_equal(pubs_containing("GP16 locked after 4 toggle-limit violations; send "
                                     "{\\\"CMD\\\":\\\"reset\\\"} or restart"), 1);
    /* Locked: requests are refused (state republished), however long we wait. */
    bool was = on(16);
    size_t pubs = F.pub_count;
    msg(t + 3600000u, was ? "{\"GP16\":0}" : "{\"GP16\":1}");
    assert_int_equal(on(16), was);
    assert_int_equal(F.pub_count, pubs + 1);
    assert_int_equal(pubs_containing("\"GUARD\":\"lock\""), 1);
    /* The other relay is not affected. */
    msg(t + 3600000u, "{\"GP17\":1}");
    assert_true(on(17));
    /* Reset unlocks and republishes everything. */
    msg(t + 3602000u, "{\"CMD\":\"reset\"}");
    assert_false(controller_relay_locked(&C, 16));
    assert_int_equal(pubs_containing("\"RESET\":\"guards cleared"), 1);
    msg(t + 3604000u, was ? "{\"GP16\":0}" : "{\"GP16\":1}");
    assert_int_equal(on(16), !was);
}

static void test_publish_guard_halts_until_reset(void **state)
{
    (void)state;
    connect_at(1000); /* publication 1: full state */
    CFG.guards.remote_reset = true;
    /* Refreshes are cheap for the device but cost data: 19 more fill the window. */
    for (uint32_t i = 0; i < 19; i++) msg(2000 + i * 10, "{\"CMD\":\"refresh\"}");
    assert_int_equal(F.pub_count, 20);
    assert_false(controller_publishing_halted(&C));
    msg(2500, "{\"CMD\":\"refresh\"}"); /* the 21st within 10 s */
    assert_true(controller_publishing_halted(&C));
    assert_int_equal(F.pub_count, 21);
    expect_last("\"ERROR\":\"publishing halted: more than 20 messages in 10 s; send "
                "{\\\"CMD\\\":\\\"reset\\\"} or restart\",\"GUARD\":\"publish\"");
    /* Halted: nothing more, even after the window or a reconnection. */
    msg(30000, "{\"CMD\":\"stats\"}");
    msg(31000, "{\"GP16\":1}");
    controller_on_connection(&C, 32000, false);
    connect_at(33000);
    assert_int_equal(F.pub_count, 21);
    assert_true(on(16)); /* relays still work; only publishing stopped */
    assert_int_equal(C.counters.publish_halts, 1);
    /* Reset: publishing resumes with the reset notice and the full state. */
    msg(40000, "{\"CMD\":\"reset\"}");
    assert_false(controller_publishing_halted(&C));
    assert_int_equal(pubs_containing("\"GP16\":1,\"GP17\":0"), 1);
    assert_int_equal(pubs_containing("\"RESET\""), 1);
}

static void test_publish_window_resets(void **state)
{
    (void)state;
    connect_at(1000);
    for (uint32_t i = 0; i < 19; i++) msg(2000 + i * 10, "{\"CMD\":\"refresh\"}");
    msg(11000, "{\"CMD\":\"refresh\"}"); /* window of the first publication ended */
    assert_false(controller_publishing_halted(&C));
    assert_int_equal(F.pub_count, 21);
}

static void test_flood_stays_within_limits(void **state)
{
    (void)state;
    connect_at(1000);
    char payload[32];
    for (uint32_t i = 0; i < 100000; i++) {
        snprintf(payload, sizeof payload, "{\"GP%u\":%u}", 16u + (i % 4u), (i / 4u) % 2u);
        msg(5000 + i, payload); /* 1000 commands per second for 100 s */
        if (i % 100 == 0) at(5000 + i);
    }
    /* Per relay: at most toggle_max changes per 60 s window (100 s = 2 windows),
     * spaced by the cooldown; publishing halted after 20 messages. */
    assert_true(changes_of(16) <= 10);
    assert_true(changes_of(17) <= 10);
    assert_true(C.counters.relay_changes <= 40);
    assert_true(F.pub_count <= 21);
    assert_true(controller_publishing_halted(&C));
}

/* The original's abuse scenario: a toggle every 3 s. Five changes click the
 * relay (0..12 s); the next four are refused, each a violation; the fourth
 * (more than 3) locks it 24 s after the first change. Nothing more clicks,
 * and a remote reset is refused while guards.remote_reset is off. */
static void test_toggle_every_3s_locks_at_24s_after_5_changes(void **state)
{
    (void)state;
    connect_at(1000);
    CFG.guards.publish_max = 1000;
    uint32_t locked_at = 0;
    for (uint32_t t = 10000; t <= 10000 + 300000; t += 3000) {
        msg(t, on(16) ? "{\"GP16\":0}" : "{\"GP16\":1}");
        if (locked_at == 0 && controller_relay_locked(&C, 16)) locked_at = t - 10000;
    }
    assert_int_equal(locked_at, 24000);
    assert_int_equal(changes_of(16), 5);
    assert_int_equal(C.counters.violations, 4);
    assert_int_equal(pubs_containing("GP16 locked after 4 toggle-limit violations; restart the "
                                     "device to unlock"), 1);
    msg(400000, "{\"CMD\":\"reset\"}");
    expect_last("reset is off on this device (guards.remote_reset)");
    assert_true(controller_relay_locked(&C, 16));
    assert_int_equal(C.counters.errors, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_cooldown_skips_and_corrects_once, setup_example),
        cmocka_unit_test_setup(test_toggle_limit_violation_then_resume, setup_example),
        cmocka_unit_test_setup(test_lock_after_violations_until_reset, setup_example),
        cmocka_unit_test_setup(test_toggle_every_3s_locks_at_24s_after_5_changes, setup_example),
        cmocka_unit_test_setup(test_publish_guard_halts_until_reset, setup_example),
        cmocka_unit_test_setup(test_publish_window_resets, setup_example),
        cmocka_unit_test_setup(test_flood_stays_within_limits, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
