/* Stale-command (backlog), duplicate-delivery and one-time-code safety. */
#include "controller_fake.h"

#define SECRET_A "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define SECRET_B "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

static size_t pulses_of(uint8_t pin)
{
    size_t n = 0;
    for (size_t i = 0; i < F.output_count; i++) {
        n += (F.outputs[i].pin == pin && !F.outputs[i].level) ? 1u : 0u; /* active low: on */
    }
    return n;
}

/* ---- backlog (stale commands after a reconnect) ---- */

static void test_backlog_press_refused(void **state)
{
    (void)state;
    connect_at(1000);
    msg(1200, "{\"GP18\":1}"); /* delivered right after the (re)connect */
    assert_int_equal(pulses_of(18), 0);
    expect_last("GP18 press refused: it arrived in the backlog after a reconnect");
    assert_int_equal(C.counters.stale_refused, 1);
    msg(4000, "{\"GP18\":1}"); /* after the window: a fresh press works */
    assert_int_equal(pulses_of(18), 1);
}

static void test_backlog_press_allowed_by_config(void **state)
{
    (void)state;
    CFG.momentary[0].allow_backlog = true;
    connect_at(1000);
    msg(1200, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
}

static void test_backlog_plain_relay_last_value_wins(void **state)
{
    (void)state;
    connect_at(1000);
    size_t pubs = F.pub_count;
    msg(1100, "{\"GP16\":1}");
    msg(1110, "{\"GP16\":0}");
    msg(1120, "{\"GP16\":1}");
    msg(1130, "{\"GP17\":1}");
    msg(1140, "{\"GP17\":0}");
    /* GP16: first applied, the rest were already its value. GP17: 0 waits for the cooldown. */
    assert_true(on(16));
    assert_true(on(17));
    assert_int_equal(pubs_containing("cooldown"), 0);
    assert_int_equal(controller_next_deadline(&C, 1140), 1990);
    at(3130);
    assert_false(on(17));
    assert_true(F.pub_count > pubs);
    expect_last("\"GP17\":0");
}

/* ---- backlog by evidence: session-present and the device's own echo ---- */

/* Offline after boot for longer than backlog_window_ms: nothing is due, the
 * main loop may sleep (the backlog is no window that runs while offline). */
static void test_no_wakeup_while_offline(void **state)
{
    (void)state;
    at(CFG.guards.backlog_window_ms + 1000u);
    assert_true(controller_next_deadline(&C, CFG.guards.backlog_window_ms + 1000u) > 0);
    connect_at(10000);
    controller_on_connection(&C, 11000, false);
    at(20000);
    assert_true(controller_next_deadline(&C, 20000) > 0);
}

/* A clean session (session-present 0): the broker holds nothing, so a press
 * right after the connect is live. */
static void test_clean_session_has_no_backlog(void **state)
{
    (void)state;
    controller_on_session(&C, 1000, false);
    connect_at(1000);
    msg(1200, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    assert_int_equal(C.counters.stale_refused, 0);
}

/* A resumed session: what comes before our own connect-time publication is
 * backlog; once it echoes back, presses are live, long before the cap. */
static void test_backlog_ends_with_own_echo(void **state)
{
    (void)state;
    controller_on_session(&C, 1000, true);
    connect_at(1000);
    char marker[CONTROLLER_OUT_SIZE];
    strcpy(marker, last_pub());
    msg(1010, "{\"GP18\":1}"); /* queued while away */
    assert_int_equal(pulses_of(18), 0);
    assert_int_equal(C.counters.stale_refused, 1);
    msg(1020, "{\"GP16\":0,\"TIME\":\"up 1s\"}"); /* an older echo of ours: not the marker */
    msg(1030, "{\"GP18\":1}");
    assert_int_equal(C.counters.stale_refused, 2);
    msg(1040, marker); /* our connect-time publication is back */
    assert_int_equal(C.counters.backlog_ended_by_echo, 1);
    msg(1050, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    /* The next connection starts over. */
    controller_on_connection(&C, 2000, false);
    controller_on_session(&C, 3000, true);
    connect_at(3000);
    msg(3010, "{\"GP19\":1}");
    assert_int_equal(pulses_of(19), 0);
    assert_int_equal(C.counters.stale_refused, 3);
}

/* A broker that never echoes: backlog_window_ms caps the backlog. */
static void test_backlog_capped_without_echo(void **state)
{
    (void)state;
    controller_on_session(&C, 1000, true);
    connect_at(1000);
    msg(1000 + CFG.guards.backlog_window_ms - 1, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 0);
    msg(1000 + CFG.guards.backlog_window_ms, "{\"GP19\":1}");
    assert_int_equal(pulses_of(19), 1);
    assert_int_equal(C.counters.backlog_ended_by_cap, 1);
}

/* Messages between CONNACK and SUBACK of a clean session are live; of a
 * resumed one, backlog. */
static void test_before_session_up_follows_session_present(void **state)
{
    (void)state;
    controller_on_session(&C, 1000, false);
    msg(1010, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    controller_on_connection(&C, 1020, false);
    controller_on_session(&C, 5000, true);
    msg(5010, "{\"GP19\":1}");
    assert_int_equal(pulses_of(19), 0);
}

/* A refused subscription is reported, never a silent "connected". */
static void test_subscribe_refused_reported(void **state)
{
    (void)state;
    controller_on_session(&C, 1000, false);
    controller_on_subscribe_refused(&C, 1000);
    assert_int_equal(C.counters.subscribe_refusals, 1);
    assert_int_equal(pubs_containing("\"GP16\":0"), 1);
    expect_last("the broker refused the subscription to the topic");
}

/* ---- duplicates ---- */

static void test_redelivered_press_pulses_once(void **state)
{
    (void)state;
    CFG.momentary[0].allow_backlog = true;
    connect_at(1000);
    msg(10000, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    /* The PUBACK was lost: after a reconnect the broker sends it again with DUP. */
    controller_on_connection(&C, 11000, false);
    connect_at(15000);
    msg_dup(15100, "{\"GP18\":1}", true);
    assert_int_equal(pulses_of(18), 1);
    assert_int_equal(C.counters.duplicates, 1);
    expect_last("ignored: a redelivery of a request already carried out");
    /* Same bytes without DUP, still inside the backlog window: also a redelivery. */
    msg(15200, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    /* A new press later is a press. */
    msg(30000, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 2);
}

static void test_backlog_before_session_up(void **state)
{
    (void)state;
    /* A persistent session's queue can arrive between CONNACK and SUBACK,
     * before the platform reports the session up: that is backlog too. */
    connect_at(1000);
    controller_on_connection(&C, 5000, false);
    msg(9000, "{\"GP18\":1}");
    msg(9000, "{\"GP16\":1}");
    assert_int_equal(pulses_of(18), 0);
    assert_true(on(16));
    connect_at(9100);
    expect_last("GP18 press refused");
}

static void test_dup_flag_first_delivery_is_applied(void **state)
{
    (void)state;
    connect_at(1000);
    /* DUP set, but this press never arrived before (the first copy was lost). */
    msg_dup(10000, "{\"GP19\":1}", true);
    assert_int_equal(pulses_of(19), 1);
}

/* ---- one-time codes ---- */

static void with_secrets(void)
{
    CFG.momentary[0].otp_first = 0;
    CFG.momentary[0].otp_count = 1;
    strcpy(CFG.otp_secrets[0], SECRET_A);
    CFG.relays[0].otp_first = 1;
    CFG.relays[0].otp_count = 2;
    strcpy(CFG.otp_secrets[1], SECRET_B);
    strcpy(CFG.otp_secrets[2], SECRET_A);
    CFG.otp_total = 3;
    start_at(1000);
    connect_at(1000);
}

static void send_code(uint32_t now, uint32_t code, const char *rest)
{
    char payload[96];
    snprintf(payload, sizeof payload, "{\"MFA\":%u%s}", code, rest);
    F.now = now;
    msg(now, payload);
}

static void test_otp_required_and_accepted_once(void **state)
{
    (void)state;
    with_secrets();
    msg(10000, "{\"GP18\":1}");
    expect_last("GP18 needs a one-time code");
    assert_int_equal(pulses_of(18), 0);
    F.now = 20000;
    uint32_t code = code_for(SECRET_A, 0);
    send_code(20000, code, ",\"GP18\":1");
    assert_int_equal(pulses_of(18), 1);
    /* The same code again (replay): refused. */
    send_code(25000, code, ",\"GP18\":1");
    expect_last("one-time code already used");
    assert_int_equal(pulses_of(18), 1);
    /* Unprotected relays need no code. */
    msg(26000, "{\"GP17\":1}");
    assert_true(on(17));
}

static void test_otp_redelivery_is_not_a_failure(void **state)
{
    (void)state;
    with_secrets();
    F.now = 10000;
    char payload[64];
    snprintf(payload, sizeof payload, "{\"MFA\":%u,\"GP16\":1}", code_for(SECRET_B, 0));
    msg(10000, payload);
    assert_true(on(16));
    controller_on_connection(&C, 11000, false);
    connect_at(12000);
    msg_dup(12100, payload, true); /* the broker did not get our PUBACK */
    expect_last("ignored: a redelivery");
    assert_int_equal(C.counters.otp_failures, 0);
    assert_int_equal(C.counters.duplicates, 1);
    /* The same for a standalone code. */
    F.now = 40000;
    snprintf(payload, sizeof payload, "{\"MFA\":%u}", code_for(SECRET_A, 0));
    msg(40000, payload);
    expect_last("\"MFA\":\"accepted\"");
    msg_dup(40500, payload, true);
    assert_int_equal(C.counters.otp_failures, 0);
    assert_int_equal(C.counters.duplicates, 2);
    /* Without DUP, outside the backlog: a replay attempt, refused and counted. */
    msg(45000, payload);
    expect_last("one-time code already used");
    assert_int_equal(C.counters.otp_failures, 1);
}

static void test_otp_code_as_string_and_skew(void **state)
{
    (void)state;
    with_secrets();
    F.now = 10000;
    char payload[64];
    snprintf(payload, sizeof payload, "{\"GP16\":1,\"MFA\":\"%06u\"}", code_for(SECRET_B, -30));
    msg(10000, payload);
    assert_true(on(16));
    F.now = 40000;
    send_code(40000, code_for(SECRET_A, 30), ",\"GP16\":0"); /* the second secret, one step ahead */
    assert_false(on(16));
    F.now = 100000;
    send_code(100000, code_for(SECRET_A, 90), ",\"GP16\":1"); /* three steps ahead: wrong */
    expect_last("wrong one-time code");
}

static void test_otp_standalone_grant(void **state)
{
    (void)state;
    with_secrets();
    F.now = 10000;
    send_code(10000, code_for(SECRET_A, 0), "");
    expect_last("{\"MFA\":\"accepted\",\"VALID_S\":30,");
    msg(12000, "{\"GP18\":1}");
    assert_int_equal(pulses_of(18), 1);
    msg(20000, "{\"GP18\":1}"); /* a grant authorises one command */
    expect_last("needs a one-time code");
    F.now = 40000;
    send_code(40000, code_for(SECRET_A, 0), "");
    msg(70000, "{\"GP18\":1}"); /* expired after 30 s */
    expect_last("needs a one-time code");
    assert_int_equal(pulses_of(18), 1);
}

static void test_otp_lockout_grows(void **state)
{
    (void)state;
    with_secrets();
    uint32_t t = 10000;
    for (int i = 0; i < 3; i++, t += 1000) send_code(t, 111111, ",\"GP18\":1");
    assert_false(C.otp_locked);
    send_code(t, 111111, ",\"GP18\":1"); /* 4th failure: locked 30 s */
    assert_true(C.otp_locked);
    t += 1000;
    F.now = t;
    send_code(t, code_for(SECRET_A, 0), ",\"GP18\":1"); /* right code, but locked: unchecked */
    expect_last("one-time codes locked for 29 s");
    assert_int_equal(pulses_of(18), 0);
    t = 13000 + 30000;
    send_code(t, 222222, ",\"GP18\":1"); /* after the lockout, a wrong code: 60 s */
    assert_int_equal(C.otp_lock_ms, 60000);
    t += 60000;
    F.now = t;
    send_code(t, code_for(SECRET_A, 0), ",\"GP18\":1");
    assert_int_equal(pulses_of(18), 1);
    assert_int_equal(C.otp_failures, 0);
    assert_int_equal(C.counters.otp_failures, 5);
}

static void test_otp_reset_needs_code_and_clock(void **state)
{
    (void)state;
    with_secrets();
    CFG.guards.remote_reset = true;
    msg(10000, "{\"CMD\":\"reset\"}");
    expect_last("reset needs a one-time code");
    F.now = 20000;
    send_code(20000, code_for(SECRET_B, 0), ",\"CMD\":\"reset\"");
    expect_last("\"RESET\"");
    F.clock_set = false;
    send_code(30000, 123456, ",\"GP18\":1");
    expect_last("the device clock is not set");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_backlog_press_refused, setup_example),
        cmocka_unit_test_setup(test_no_wakeup_while_offline, setup_example),
        cmocka_unit_test_setup(test_clean_session_has_no_backlog, setup_example),
        cmocka_unit_test_setup(test_backlog_ends_with_own_echo, setup_example),
        cmocka_unit_test_setup(test_backlog_capped_without_echo, setup_example),
        cmocka_unit_test_setup(test_before_session_up_follows_session_present, setup_example),
        cmocka_unit_test_setup(test_subscribe_refused_reported, setup_example),
        cmocka_unit_test_setup(test_backlog_press_allowed_by_config, setup_example),
        cmocka_unit_test_setup(test_backlog_plain_relay_last_value_wins, setup_example),
        cmocka_unit_test_setup(test_redelivered_press_pulses_once, setup_example),
        cmocka_unit_test_setup(test_backlog_before_session_up, setup_example),
        cmocka_unit_test_setup(test_dup_flag_first_delivery_is_applied, setup_example),
        cmocka_unit_test_setup(test_otp_redelivery_is_not_a_failure, setup_example),
        cmocka_unit_test_setup(test_otp_required_and_accepted_once, setup_example),
        cmocka_unit_test_setup(test_otp_code_as_string_and_skew, setup_example),
        cmocka_unit_test_setup(test_otp_standalone_grant, setup_example),
        cmocka_unit_test_setup(test_otp_lockout_grows, setup_example),
        cmocka_unit_test_setup(test_otp_reset_needs_code_and_clock, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
