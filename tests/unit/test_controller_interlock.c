/* Power-on state per relay, interlock groups and {"CMD":"ntp"} through the controller. */
#include "controller_fake.h"

/* Output changes of a pin after init's first "off", as (level, time) pairs. */
static size_t output_events(uint8_t pin, bool *levels, uint32_t *times, size_t max)
{
    size_t n = 0;
    bool first = true;
    for (size_t i = 0; i < F.output_count; i++) {
        if (F.outputs[i].pin != pin) continue;
        if (first) {
            first = false;
            continue;
        }
        if (n < max) {
            levels[n] = F.outputs[i].level;
            times[n] = F.outputs[i].at_ms;
        }
        n++;
    }
    return n;
}

static void test_power_on_relay_goes_on_after_every_output_is_off(void **state)
{
    (void)state;
    CFG.relays[1].power_on = true;
    start_at(1000);
    /* Every output is driven off first; GP17 goes on last (active low: 0). */
    size_t last_off = 0;
    for (size_t i = 0; i < F.output_count; i++) {
        if (F.outputs[i].level == true) last_off = i;
    }
    assert_int_equal(F.outputs[F.output_count - 1].pin, 17);
    assert_false(F.outputs[F.output_count - 1].level);
    assert_true(last_off < F.output_count - 1);
    assert_true(on(17));
    assert_false(on(16));
    connect_at(2000);
    expect_last("\"GP16\":0,\"GP17\":1");
    assert_int_equal(pubs_containing("NOTIFY"), 0);
    /* The power-on change counts for the cooldown like any other. */
    msg(2500, "{\"GP17\":0}");
    assert_true(on(17));
    msg(3000, "{\"GP17\":0}");
    assert_false(on(17));
}

static void group_16_17(uint16_t gap_ms)
{
    CFG.relays[0].interlock = 1;
    CFG.relays[1].interlock = 1;
    CFG.interlock_gap_ms = gap_ms;
    start_at(1000);
    connect_at(1000);
}

static void test_interlock_breaks_before_make(void **state)
{
    (void)state;
    group_16_17(300);
    msg(10000, "{\"GP16\":1}");
    assert_true(on(16));
    size_t pubs = F.pub_count;
    msg(20000, "{\"GP17\":1}");
    /* GP16 off at once, published; GP17 still off during the gap. */
    assert_false(on(16));
    assert_false(on(17));
    assert_int_equal(F.pub_count, pubs + 1);
    expect_last("{\"GP16\":0,");
    assert_int_equal(controller_next_deadline(&C, 20000), 300);
    at(20299);
    assert_false(on(17));
    at(20300);
    assert_true(on(17));
    expect_last("{\"GP17\":1,");
    bool lv[4];
    uint32_t tm[4];
    assert_int_equal(output_events(16, lv, tm, 4), 2);
    assert_int_equal(tm[1], 20000);
    assert_int_equal(output_events(17, lv, tm, 4), 1);
    assert_int_equal(tm[0], 20300);
    /* Never both on: GP16's off came 300 ms before GP17's on. */
    assert_int_equal(C.counters.relay_changes, 3);
}

static void test_interlock_without_gap_and_outside_the_group(void **state)
{
    (void)state;
    group_16_17(0);
    msg(10000, "{\"GP16\":1}");
    msg(20000, "{\"GP17\":1}");
    assert_false(on(16));
    assert_true(on(17));
    /* Momentary relays and relays off: untouched. */
    msg(30000, "{\"GP18\":1}");
    assert_true(on(17));
    msg(40000, "{\"GP17\":0}");
    msg(50000, "{\"GP16\":1}");
    assert_true(on(16));
    assert_false(on(17));
}

static void test_interlock_request_with_two_on_keeps_the_last(void **state)
{
    (void)state;
    group_16_17(100);
    msg(10000, "{\"GP16\":1,\"GP17\":1}");
    assert_false(on(16));
    assert_true(on(17)); /* nothing was on: no gap needed */
    assert_int_equal(pubs_containing("GP16 not switched on: GP17 of the same interlock group is "
                                     "later in the request and wins"), 1);
    assert_int_equal(C.counters.errors, 0); /* carried out, reported, not refused */
}

static void test_interlock_partner_guard_refuses_switch_off(void **state)
{
    (void)state;
    group_16_17(100);
    msg(10000, "{\"GP16\":1}");
    msg(10500, "{\"GP17\":1}"); /* GP16 changed 0.5 s ago: its cooldown refuses */
    assert_true(on(16));
    assert_false(on(17));
    assert_int_equal(pubs_containing("GP17 stays off: GP16 of its interlock group is on and its "
                                     "guard refuses to switch it off now"), 1);
    expect_last("\"TIME\"");
    assert_int_equal(pubs_containing("\"GP17\":0"), 2); /* full state, then the flip-back */
}

static void test_interlock_gap_cancelled_or_confirmed(void **state)
{
    (void)state;
    group_16_17(500);
    msg(10000, "{\"GP16\":1}");
    msg(20000, "{\"GP17\":1}");
    msg(20100, "{\"GP17\":1}"); /* confirmed: still goes on at 20500 */
    at(20500);
    assert_true(on(17));
    msg(30000, "{\"GP16\":1}");
    assert_false(on(17));
    msg(30100, "{\"GP16\":0}"); /* cancelled during the gap */
    at(31000);
    assert_false(on(16));
    assert_false(on(17));
}

static void test_ntp_syncs_rate_limited_with_deadline(void **state)
{
    (void)state;
    connect_at(1000);
    msg(2000, "{\"CMD\":\"ntp\"}");
    assert_int_equal(F.sync_requests, 1);
    size_t pubs = F.pub_count;
    msg(2500, "{\"CMD\":\"ntp\"}");
    expect_last("ntp is already running");
    F.now = 3000;
    controller_on_time_synced(&C, 3000);
    assert_int_equal(F.pub_count, pubs + 2);
    expect_last("{\"NTP\":\"synced\",\"TIME\":\"2026-11-18T11:06:43Z\"}");
    controller_on_time_synced(&C, 3100); /* unasked: nothing */
    assert_int_equal(F.pub_count, pubs + 2);
    msg(61999, "{\"CMD\":\"ntp\"}");
    expect_last("ntp skipped: the clock was synced less than 60 s ago");
    assert_int_equal(F.sync_requests, 1);
    msg(62000, "{\"CMD\":\"ntp\"}");
    assert_int_equal(F.sync_requests, 2);
    assert_int_equal(controller_next_deadline(&C, 62000), 10000);
    at(72000);
    expect_last("ntp failed: the time server did not answer within 10 s");
    F.sync_supported = false;
    msg(200000, "{\"CMD\":\"ntp\"}");
    expect_last("ntp failed: no network to reach the time server");
}

static void test_ntp_without_sync_answers_with_the_host_clock(void **state)
{
    (void)state;
    controller_platform p = FAKE_PLATFORM;
    p.sync_time = NULL;
    assert_true(controller_init(&C, &CFG, &p, &F, 1000));
    connect_at(1000);
    msg(2000, "{\"CMD\":\"ntp\"}");
    msg(2001, "{\"CMD\":\"ntp\"}");
    assert_int_equal(pubs_containing("{\"NTP\":\"host clock\",\"TIME\":\"2026-11-18T11:06:42Z\"}"),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_power_on_relay_goes_on_after_every_output_is_off,
                               setup_example),
        cmocka_unit_test_setup(test_interlock_breaks_before_make, setup_example),
        cmocka_unit_test_setup(test_interlock_without_gap_and_outside_the_group, setup_example),
        cmocka_unit_test_setup(test_interlock_request_with_two_on_keeps_the_last, setup_example),
        cmocka_unit_test_setup(test_interlock_partner_guard_refuses_switch_off, setup_example),
        cmocka_unit_test_setup(test_interlock_gap_cancelled_or_confirmed, setup_example),
        cmocka_unit_test_setup(test_ntp_syncs_rate_limited_with_deadline, setup_example),
        cmocka_unit_test_setup(test_ntp_without_sync_answers_with_the_host_clock, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
