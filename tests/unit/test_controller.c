/* The controller's protocol: the original README's Actions A-J and the
 * publication rules (TIME marker, merging, full state, periodic, retry). */
#include "controller_fake.h"



static void test_init_drives_outputs_off(void **state)
{
    (void)state;
    /* Active-low relays: off means the pin is driven high, before anything else. */
    assert_int_equal(F.output_count, 4);
    for (uint8_t pin = 16; pin <= 19; pin++) {
        assert_true(F.output[pin]);
        assert_false(on(pin));
    }
    assert_int_equal(F.pub_count, 0); /* nothing before the first connection */
}

static void test_init_rejects_bad_arguments(void **state)
{
    (void)state;
    controller_platform p = FAKE_PLATFORM;
    p.publish = NULL;
    assert_false(controller_init(&C, &CFG, &p, &F, 0));
    config bad = CFG;
    bad.momentary[0].pin = 16; /* used twice */
    assert_false(controller_init(&C, &bad, &FAKE_PLATFORM, &F, 0));
    assert_false(controller_init(&C, NULL, &FAKE_PLATFORM, &F, 0));
}

static void test_action_f_full_state_on_first_connection(void **state)
{
    (void)state;
    connect_at(1500);
    assert_int_equal(F.pub_count, 1);
    assert_string_equal(last_pub(), "{\"GP0\":0,\"GP1\":0,\"GP2\":0,\"GP3\":0,\"GP16\":0,"
                                    "\"GP17\":0,\"GP18\":0,\"GP19\":0,"
                                    "\"TIME\":\"2026-11-18T11:06:41Z\"}");
}

static void test_action_a_b_relay_on_off(void **state)
{
    (void)state;
    connect_at(1000);
    msg(5000, "{\"GP16\":1}");
    assert_true(on(16));
    assert_false(F.output[16]); /* active low: on = driven low */
    expect_last("{\"GP16\":1,\"TIME\":");
    msg(8000, "{\"GP16\": 0}");
    assert_false(on(16));
    assert_true(F.output[16]);
    expect_last("{\"GP16\":0,\"TIME\":");
    assert_int_equal(F.pub_count, 3);
}

static void test_action_c_momentary_pulse(void **state)
{
    (void)state;
    connect_at(1000);
    msg(5000, "{\"GP18\":1}");
    assert_true(on(18));
    expect_last("{\"GP18\":1,");
    assert_int_equal(controller_next_deadline(&C, 5000), 2000);
    at(6999);
    assert_true(on(18));
    at(7000);
    assert_false(on(18));
    expect_last("{\"GP18\":0,");
    assert_int_equal(F.pub_count, 3);
    /* Output went low (on) at 5000 and high (off) at 7000. */
    assert_int_equal(F.outputs[F.output_count - 2].at_ms, 5000);
    assert_false(F.outputs[F.output_count - 2].level);
    assert_int_equal(F.outputs[F.output_count - 1].at_ms, 7000);
    assert_true(F.outputs[F.output_count - 1].level);
    /* {"GP18":0} is the resting state: confirmed, nothing driven. */
    size_t outputs = F.output_count;
    msg(20000, "{\"GP18\":0}");
    assert_int_equal(F.output_count, outputs);
    expect_last("{\"GP18\":0,");
}

static void test_press_during_pulse_is_ignored(void **state)
{
    (void)state;
    connect_at(1000);
    msg(5000, "{\"GP18\":1}");
    msg(5500, "{\"GP18\":1}");
    at(7000);
    assert_int_equal(C.counters.relay_changes, 1);
    assert_false(on(18));
}

static void test_action_d_contact_debounced(void **state)
{
    (void)state;
    connect_at(1000);
    F.now = 2000;
    controller_on_input(&C, 2000, 1, false); /* pull-up: closed reads low */
    assert_int_equal(F.pub_count, 1);
    assert_int_equal(controller_next_deadline(&C, 2000), 50);
    at(2049);
    assert_int_equal(F.pub_count, 1);
    at(2050);
    expect_last("{\"GP1\":1,");
    assert_true(on(1));
}

static void test_contact_bounce_not_published(void **state)
{
    (void)state;
    connect_at(1000);
    controller_on_input(&C, 2000, 2, false);
    controller_on_input(&C, 2010, 2, true);
    controller_on_input(&C, 2020, 2, false);
    controller_on_input(&C, 2030, 2, true);
    at(3000);
    assert_int_equal(F.pub_count, 1);
    assert_false(on(2));
    controller_on_input(&C, 4000, 99, false); /* unknown pin: ignored */
    controller_on_input(&C, 4000, 16, false); /* an output: ignored */
    assert_int_equal(F.pub_count, 1);
}

static void test_action_e_pending_changes_merge(void **state)
{
    (void)state;
    connect_at(1000);
    /* The broker connection is busy: both changes wait and go out together. */
    F.publish_fails = true;
    controller_on_input(&C, 2000, 1, false);
    at(2050);
    msg(2060, "{\"GP16\":1}");
    F.publish_fails = false;
    assert_int_equal(controller_next_deadline(&C, 2060), 90);
    at(2150);
    assert_int_equal(F.pub_count, 2);
    expect_last("{\"GP1\":1,\"GP16\":1,\"TIME\":");
    assert_true(C.counters.publish_failures >= 1);
}

static void test_action_g_stats(void **state)
{
    (void)state;
    F.stats = (controller_platform_stats){.uptime_ms = (29ull * 3600u + 120u) * 1000u,
                                          .mem_total_bytes = 1000,
                                          .mem_free_bytes = 329,
                                          .temp_milli_c = 18600,
                                          .temp_real = true,
                                          .rssi_dbm = -61,
                                          .rssi_valid = true,
                                          .reboots = 2};
    connect_at(1000);
    msg(2000, "{\"CMD\":\"stats\"}");
    /* The original's text; Mem is the share in use (67.1 % of 1000 bytes). */
    expect_last("\"STATS\":\"Uptime=1 days 5 hrs, Outages=0, Wifi=-61dBm, Mem=67.10%, "
                "Temp=18.6C/65.5F, Time=2026-11-18T11:06:42Z\"");
    expect_last("\"TEMP_C\":18.6,\"TEMP_F\":65.5,\"TEMP_SOURCE\":\"sensor\",\"RSSI\":-61");
    expect_last("\"VERSION\":\"" CONTROLLER_VERSION "\",\"REBOOTS\":2");
    expect_last("\"OUTAGES\":0");
    expect_last("\"MEM_FREE_PCT\":32.9");
    expect_last("\"TIME\":");
    /* After an outage, and with a fixed temperature and no WiFi. */
    controller_on_connection(&C, 3000, false);
    connect_at(4000);
    F.stats.temp_real = false;
    F.stats.rssi_valid = false;
    msg(5000, "{\"CMD\":\"stats\"}");
    expect_last("\"OUTAGES\":1");
    expect_last("\"TEMP_SOURCE\":\"fixed\",\"RSSI\":null");
}

static void test_action_i_getip(void **state)
{
    (void)state;
    connect_at(1000);
    msg(2000, "{\"CMD\":\"getip\"}");
    assert_int_equal(F.ip_requests, 1);
    msg(2100, "{\"CMD\":\"getip\"}"); /* one lookup at a time */
    expect_last("already running");
    controller_on_public_ip(&C, 2500, "20.114.152.56");
    expect_last("{\"IP\":\"20.114.152.56\",\"TIME\":");
    controller_on_public_ip(&C, 2600, "1.2.3.4"); /* unasked: ignored */
    assert_int_equal(pubs_containing("1.2.3.4"), 0);
}

/* A failed lookup says how it failed, not "did not answer" for everything. */
static void test_getip_failure_reason(void **state)
{
    (void)state;
    connect_at(1000);
    msg(2000, "{\"CMD\":\"getip\"}");
    controller_on_public_ip_failed(&C, 2100, "provider answered HTTP 404");
    expect_last("getip failed: provider answered HTTP 404");
    msg(4000, "{\"CMD\":\"getip\"}");
    controller_on_public_ip_failed(&C, 4100, NULL);
    expect_last("getip failed: the public IP provider did not answer");
    controller_on_public_ip_failed(&C, 6100, "late"); /* nothing running: ignored */
    assert_int_equal(pubs_containing("late"), 0);
}

static void test_getip_failures(void **state)
{
    (void)state;
    connect_at(1000);
    msg(2000, "{\"CMD\":\"getip\"}");
    controller_on_public_ip(&C, 3000, NULL);
    expect_last("\"ERROR\":\"getip failed: the public IP provider did not answer\"");
    msg(5000, "{\"CMD\":\"getip\"}");
    controller_on_public_ip(&C, 5100, "<script>");
    expect_last("not an IP address");
    msg(7000, "{\"CMD\":\"getip\"}");
    assert_int_equal(controller_next_deadline(&C, 7000), CONTROLLER_IP_TIMEOUT_MS);
    at(17000);
    expect_last("no answer within 10 s");
    F.ip_supported = false;
    msg(19000, "{\"CMD\":\"getip\"}");
    expect_last("could not start");
    CFG.public_ip_url[0] = '\0';
    msg(21000, "{\"CMD\":\"getip\"}");
    expect_last("getip is off");
}

static void test_action_j_refresh(void **state)
{
    (void)state;
    F.input[0] = false; /* GP0 closed at boot */
    assert_true(controller_init(&C, &CFG, &FAKE_PLATFORM, &F, 0));
    connect_at(10);
    controller_on_input(&C, 100, 1, false);
    at(150);
    msg(1000, "{\"CMD\":\"refresh\"}");
    expect_last("{\"GP0\":1,\"GP1\":1,\"GP2\":0,\"GP3\":0,\"GP16\":0,\"GP17\":0,\"GP18\":0,"
                "\"GP19\":0,\"TIME\":");
}

static void test_own_echo_ignored(void **state)
{
    (void)state;
    connect_at(1000);
    size_t pubs = F.pub_count;
    msg(2000, "{\"GP16\":1,\"TIME\":\"2026-11-18T11:06:41Z\"}");
    msg(2000, "{\"ERROR\":\"x\",\"TIME\":\"up 3s\"}");
    assert_false(on(16));
    assert_int_equal(F.pub_count, pubs);
    assert_int_equal(C.counters.echoes_ignored, 2);
    assert_int_equal(C.counters.messages, 0);
}

static void test_time_without_clock_is_uptime(void **state)
{
    (void)state;
    F.clock_set = false;
    connect_at(13500);
    expect_last("\"TIME\":\"up 12s\"");
}

static void test_keys_apply_in_order(void **state)
{
    (void)state;
    connect_at(1000);
    size_t first = F.output_count;
    msg(2000, "{\"GP17\":1,\"GP16\":true}");
    assert_int_equal(F.output_count, first + 2);
    assert_int_equal(F.outputs[first].pin, 17);
    assert_int_equal(F.outputs[first + 1].pin, 16);
    /* One message with both changes, in GPIO order. */
    expect_last("{\"GP16\":1,\"GP17\":1,\"TIME\"");
}

static void test_same_value_is_confirmed_not_driven(void **state)
{
    (void)state;
    connect_at(1000);
    size_t outputs = F.output_count;
    msg(2000, "{\"GP16\":0}");
    assert_int_equal(F.output_count, outputs);
    expect_last("{\"GP16\":0,");
    assert_int_equal(C.counters.relay_changes, 0);
}

static void test_periodic_full_state(void **state)
{
    (void)state;
    connect_at(1000);
    /* The backlog ends on evidence (the echo) or lazily at its cap: no wake-up. */
    assert_int_equal(controller_next_deadline(&C, 1000), 3600000u);
    at(4000);
    assert_int_equal(controller_next_deadline(&C, 4000), 3600000u); /* never sleeps > 1 h */
    at(1000 + 7200000u - 1);
    assert_int_equal(F.pub_count, 1);
    at(1000 + 7200000u);
    assert_int_equal(F.pub_count, 2);
    expect_last("{\"GP0\":0,");
    CFG.publish_interval_s = -1;
    at(1000 + 3 * 7200000u);
    assert_int_equal(F.pub_count, 2);
}

static void test_offline_changes_wait_for_connection(void **state)
{
    (void)state;
    controller_on_input(&C, 2000, 3, false);
    at(2100);
    assert_int_equal(F.pub_count, 0);
    connect_at(3000);
    assert_int_equal(F.pub_count, 1);
    expect_last("\"GP3\":1,");
    controller_on_connection(&C, 4000, false);
    controller_on_connection(&C, 4000, false); /* repeated down: one outage */
    assert_int_equal(C.counters.outages, 1);
    connect_at(5000);
    assert_int_equal(F.pub_count, 2); /* full state again on reconnection */
}

static void test_wraps_around_32_bit_time(void **state)
{
    (void)state;
    start_at(0xffffe000u);
    connect_at(0xffffe000u);
    msg(0xffffff00u, "{\"GP18\":1}");
    at(0x00000100u); /* 512 ms later, across the wrap */
    assert_true(on(18));
    at(0x000006cfu);
    assert_true(on(18));
    at(0x000006d0u);
    assert_false(on(18));
}

static void test_getters(void **state)
{
    (void)state;
    uint8_t pin = 0;
    controller_pin_kind kind = CONTROLLER_PIN_RELAY;
    bool v = true;
    bool level = false;
    assert_int_equal(controller_pin_count(&C), 8);
    assert_true(controller_pin_info(&C, 0, &pin, &kind, &v));
    assert_int_equal(pin, 0);
    assert_int_equal(kind, CONTROLLER_PIN_CONTACT);
    assert_false(controller_pin_info(&C, 8, &pin, &kind, &v));
    assert_true(controller_output_level(&C, 16, &level));
    assert_true(level);
    assert_false(controller_output_level(&C, 0, &level));
    assert_false(controller_pin_state(&C, 5, &v));
    assert_string_equal(controller_pin_kind_name(CONTROLLER_PIN_MOMENTARY), "momentary");
    assert_false(controller_relay_locked(&C, 16));
    assert_false(controller_publishing_halted(&C));
    assert_non_null(controller_get_counters(&C));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_init_drives_outputs_off, setup_example),
        cmocka_unit_test_setup(test_init_rejects_bad_arguments, setup_example),
        cmocka_unit_test_setup(test_action_f_full_state_on_first_connection, setup_example),
        cmocka_unit_test_setup(test_action_a_b_relay_on_off, setup_example),
        cmocka_unit_test_setup(test_action_c_momentary_pulse, setup_example),
        cmocka_unit_test_setup(test_press_during_pulse_is_ignored, setup_example),
        cmocka_unit_test_setup(test_action_d_contact_debounced, setup_example),
        cmocka_unit_test_setup(test_contact_bounce_not_published, setup_example),
        cmocka_unit_test_setup(test_action_e_pending_changes_merge, setup_example),
        cmocka_unit_test_setup(test_action_g_stats, setup_example),
        cmocka_unit_test_setup(test_action_i_getip, setup_example),
        cmocka_unit_test_setup(test_getip_failures, setup_example),
        cmocka_unit_test_setup(test_getip_failure_reason, setup_example),
        cmocka_unit_test_setup(test_action_j_refresh, setup_example),
        cmocka_unit_test_setup(test_own_echo_ignored, setup_example),
        cmocka_unit_test_setup(test_time_without_clock_is_uptime, setup_example),
        cmocka_unit_test_setup(test_keys_apply_in_order, setup_example),
        cmocka_unit_test_setup(test_same_value_is_confirmed_not_driven, setup_example),
        cmocka_unit_test_setup(test_periodic_full_state, setup_example),
        cmocka_unit_test_setup(test_offline_changes_wait_for_connection, setup_example),
        cmocka_unit_test_setup(test_wraps_around_32_bit_time, setup_example),
        cmocka_unit_test_setup(test_getters, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
