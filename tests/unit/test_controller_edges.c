/* Edge cases: contact wiring, optional platform callbacks, limits, clock text. */
#include "controller_fake.h"

void ctl_format_utc(int64_t unix_s, char out[32]); /* controller_internal.h */

static void test_contact_wiring(void **state)
{
    (void)state;
    CFG.contacts[1].normally_open = false; /* NC: open circuit reads 1 */
    CFG.contacts[2].pull = CONFIG_PULL_DOWN;
    CFG.contacts[3].debounce_ms = 0;
    F.input[2] = false; /* pull-down, open */
    assert_true(controller_init(&C, &CFG, &FAKE_PLATFORM, &F, 0));
    assert_false(on(0));
    assert_true(on(1)); /* normally closed, circuit open (reads 1): reported as 1 */
    assert_false(on(2));
    connect_at(10);
    controller_on_input(&C, 100, 2, true); /* pull-down: closed reads high */
    at(150);
    assert_true(on(2));
    controller_on_input(&C, 200, 3, false); /* no debounce: published at once */
    assert_true(on(3));
    expect_last("{\"GP3\":1,");
}

static void test_active_high_relay(void **state)
{
    (void)state;
    CFG.relays[1].active_low = false;
    assert_true(controller_init(&C, &CFG, &FAKE_PLATFORM, &F, 0));
    assert_false(F.output[17]);
    connect_at(10);
    msg(5000, "{\"GP17\":1}");
    assert_true(F.output[17]);
    bool level = false;
    assert_true(controller_output_level(&C, 17, &level));
    assert_true(level);
}

static void test_optional_callbacks_missing(void **state)
{
    (void)state;
    controller_platform p = FAKE_PLATFORM;
    p.read_stats = NULL;
    p.request_public_ip = NULL;
    p.unix_time = NULL;
    p.hmac_sha1 = NULL;
    CFG.relays[0].otp_count = 1;
    CFG.relays[0].otp_first = 0; strcpy(CFG.otp_secrets[0], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_true(controller_init(&C, &CFG, &p, &F, 0));
    connect_at(5000);
    expect_last("\"TIME\":\"up 5s\"");
    msg(6000, "{\"CMD\":\"stats\"}");
    expect_last("\"STATS\":\"Uptime=0 days 0 hrs, Outages=0, Wifi=none, Mem=unknown, "
                "Temp=0.0C/32.0F, Time=up 6s\"");
    msg(7000, "{\"CMD\":\"getip\"}");
    expect_last("getip is off");
    msg(8000, "{\"MFA\":123456,\"GP16\":1}");
    expect_last("the device clock is not set");
    assert_false(on(16));
}

static int log_lines;
static void count_log(void *ctx, controller_log_level level, const char *text)
{
    (void)ctx, (void)level;
    assert_non_null(text);
    log_lines++;
}

static void test_log_once_per_error_burst(void **state)
{
    (void)state;
    controller_platform p = FAKE_PLATFORM;
    p.log = count_log;
    assert_true(controller_init(&C, &CFG, &p, &F, 0));
    connect_at(10);
    log_lines = 0;
    for (uint32_t i = 0; i < 100; i++) msg(5000 + i, "bad");
    assert_true(log_lines <= 2); /* the first, and the start of the next report */
}

static void test_negative_temperature_and_big_uptime(void **state)
{
    (void)state;
    F.stats.temp_milli_c = -5550;
    F.stats.uptime_ms = 400ull * 86400u * 1000u;
    connect_at(10);
    msg(5000, "{\"CMD\":\"stats\"}");
    expect_last("Uptime=400 days 0 hrs");
    expect_last("Temp=-5.6C/22.0F");
    expect_last("\"TEMP_C\":-5.6");
}

static void test_largest_stats_fit(void **state)
{
    (void)state;
    F.stats = (controller_platform_stats){.uptime_ms = UINT64_MAX,
                                          .mem_total_bytes = UINT32_MAX,
                                          .mem_free_bytes = UINT32_MAX,
                                          .temp_milli_c = INT32_MIN,
                                          .rssi_dbm = INT16_MIN,
                                          .rssi_valid = true,
                                          .reboots = UINT32_MAX};
    connect_at(10);
    memset(&C.counters, 0xff, sizeof C.counters);
    msg(5000, "{\"CMD\":\"stats\"}");
    expect_last("\"STATS\":\"Uptime=");
    expect_last("\"REBOOTS\":4294967295");
    assert_true(strlen(last_pub()) < CONTROLLER_OUT_SIZE);
}

static void test_utc_text(void **state)
{
    (void)state;
    char out[32];
    ctl_format_utc(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    ctl_format_utc(951782400, out); /* leap day */
    assert_string_equal(out, "2000-02-29T00:00:00Z");
    ctl_format_utc(4107542399, out);
    assert_string_equal(out, "2100-02-28T23:59:59Z");
    ctl_format_utc(-5, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    ctl_format_utc(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
}

static void test_init_limits(void **state)
{
    (void)state;
    config bad = CFG;
    bad.relay_count = CONFIG_MAX_RELAYS + 1;
    assert_false(controller_init(&C, &bad, &FAKE_PLATFORM, &F, 0));
    bad = CFG;
    bad.contacts[0].pin = 40; /* beyond any GPIO */
    assert_false(controller_init(&C, &bad, &FAKE_PLATFORM, &F, 0));
    controller_platform p = FAKE_PLATFORM;
    p.set_output = NULL;
    assert_false(controller_init(&C, &CFG, &p, &F, 0));
}

static void test_deadlines(void **state)
{
    (void)state;
    CFG.publish_interval_s = 0x7fffffff; /* beyond the 32-bit clock: clamped */
    CFG.momentary[0].otp_count = 1;
    CFG.momentary[0].otp_first = 0; strcpy(CFG.otp_secrets[0], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    start_at(0);
    connect_at(0);
    at(5000);
    assert_int_equal(controller_next_deadline(&C, 5000), 3600000u);
    /* A grant expires: the deadline says when. */
    F.now = 6000;
    char payload[32];
    snprintf(payload, sizeof payload, "{\"MFA\":%u}", code_for(CFG.otp_secrets[0], 0));
    msg(6000, payload);
    assert_int_equal(controller_next_deadline(&C, 6000), CONTROLLER_MFA_GRANT_MS);
    at(36000);
    assert_false(C.mfa_granted);
    /* A lockout ends: the deadline says when. */
    for (uint32_t i = 0; i < 4; i++) msg(40000 + i * 1000, "{\"MFA\":1,\"GP18\":1}");
    assert_true(C.otp_locked);
    assert_int_equal(controller_next_deadline(&C, 43000), 30000);
    at(73000);
    assert_false(C.otp_locked);
}

static void test_lockout_is_capped(void **state)
{
    (void)state;
    CFG.momentary[0].otp_count = 1;
    CFG.momentary[0].otp_first = 0; strcpy(CFG.otp_secrets[0], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    start_at(0);
    connect_at(0);
    uint32_t t = 10000;
    for (int i = 0; i < 20; i++) {
        msg(t, "{\"MFA\":1,\"GP18\":1}");
        if (C.otp_locked) t += C.otp_lock_ms;
        t += 1000;
    }
    assert_int_equal(C.otp_lock_ms, CONTROLLER_OTP_LOCKOUT_MAX_MS);
}

static void test_halt_notice_waits_for_room(void **state)
{
    (void)state;
    connect_at(1000);
    for (uint32_t i = 0; i < 19; i++) msg(2000 + i, "{\"CMD\":\"refresh\"}");
    F.publish_fails = true;
    msg(2100, "{\"CMD\":\"refresh\"}");
    assert_true(controller_publishing_halted(&C));
    assert_int_equal(F.pub_count, 20);
    F.publish_fails = false;
    at(2200);
    assert_int_equal(F.pub_count, 21);
    expect_last("\"GUARD\":\"publish\"");
}

static void test_deferred_request_meets_toggle_limit(void **state)
{
    (void)state;
    CFG.guards.toggle_max = 1;
    connect_at(1000);
    msg(1100, "{\"GP16\":1}");
    msg(1200, "{\"GP16\":0}"); /* backlog + cooldown: deferred */
    at(3100);                  /* cooldown over, but the window allows one change */
    assert_true(on(16));
    assert_int_equal(C.counters.violations, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_contact_wiring, setup_example),
        cmocka_unit_test_setup(test_active_high_relay, setup_example),
        cmocka_unit_test_setup(test_optional_callbacks_missing, setup_example),
        cmocka_unit_test_setup(test_log_once_per_error_burst, setup_example),
        cmocka_unit_test_setup(test_negative_temperature_and_big_uptime, setup_example),
        cmocka_unit_test_setup(test_largest_stats_fit, setup_example),
        cmocka_unit_test_setup(test_utc_text, setup_example),
        cmocka_unit_test_setup(test_init_limits, setup_example),
        cmocka_unit_test_setup(test_deadlines, setup_example),
        cmocka_unit_test_setup(test_lockout_is_capped, setup_example),
        cmocka_unit_test_setup(test_halt_notice_waits_for_room, setup_example),
        cmocka_unit_test_setup(test_deferred_request_meets_toggle_limit, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
