/*
 * The Pico W WiFi supervisor (src/platform/pico/wifi_supervisor.c) against a
 * scripted radio: boot with the router still down, wrong password, link
 * loss and rejoin, backoff growth and its cap, and the 32-bit time wrap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/platform/pico/wifi_supervisor.c"

/* ---- scripted radio ---- */
static radio_link fake_link;
static bool fake_join_ok = true;
static int joins;
static int leaves;

bool radio_init(const char *country) { (void)country; return true; }
bool radio_join_start(const char *ssid, const char *password)
{
    (void)ssid;
    (void)password;
    joins++;
    return fake_join_ok;
}
void radio_leave(void) { leaves++; }
radio_link radio_link_status(void) { return fake_link; }
bool radio_rssi(int32_t *dbm) { *dbm = -55; return fake_link == RADIO_LINK_UP; }
struct netif *radio_netif(void) { return NULL; }
void radio_led(bool on) { (void)on; }
void radio_poll(uint32_t max_wait_ms) { (void)max_wait_ms; }
const char *radio_name(void) { return "fake"; }

static int setup(void **state)
{
    (void)state;
    fake_link = RADIO_LINK_DOWN;
    fake_join_ok = true;
    joins = 0;
    leaves = 0;
    return 0;
}

/* Runs the supervisor every 10 ms from *now for ms; returns up/down flips. */
static int run(wifi_supervisor *w, uint32_t *now, uint32_t ms)
{
    int flips = 0;
    for (uint32_t t = 0; t < ms; t += 10) {
        *now += 10;
        if (wifi_supervisor_step(w, *now))
            flips++;
    }
    return flips;
}

static void joins_when_the_router_comes_up_late(void **state)
{
    (void)state;
    wifi_supervisor w;
    uint32_t now = 1000;
    wifi_supervisor_init(&w, "home", "secret");
    wifi_supervisor_start(&w, now);
    assert_int_equal(joins, 1);
    /* Router still booting for 2 minutes: attempts time out and repeat. */
    assert_int_equal(run(&w, &now, 120000), 0);
    assert_false(wifi_supervisor_is_up(&w));
    assert_true(joins >= 3);
    assert_int_equal(w.failures, (uint32_t)joins - 1);
    /* Router up: the pending attempt (or the next one) succeeds. */
    fake_link = RADIO_LINK_UP;
    assert_int_equal(run(&w, &now, WIFI_RETRY_MAX_MS + WIFI_JOIN_TIMEOUT_MS), 1);
    assert_true(wifi_supervisor_is_up(&w));
    assert_int_equal(w.outages, 0);
}

static void backoff_doubles_up_to_the_cap(void **state)
{
    (void)state;
    wifi_supervisor w;
    uint32_t now = 0;
    fake_join_ok = false;   /* every join fails at once */
    wifi_supervisor_init(&w, "home", "bad");
    wifi_supervisor_start(&w, now);
    uint32_t expected = WIFI_RETRY_FIRST_MS;
    for (int i = 0; i < 10; i++) {
        wifi_supervisor_step(&w, now);
        assert_int_equal(w.state, WIFI_WAIT_RETRY);
        assert_int_equal(w.deadline - now, expected);
        now = w.deadline;
        wifi_supervisor_step(&w, now);   /* starts the next join */
        assert_int_equal(w.state, WIFI_JOINING);
        expected = expected * 2 > WIFI_RETRY_MAX_MS ? WIFI_RETRY_MAX_MS : expected * 2;
    }
    assert_int_equal(joins, 11);
}

static void wrong_password_is_retried_not_a_dead_end(void **state)
{
    (void)state;
    wifi_supervisor w;
    uint32_t now = 0;
    wifi_supervisor_init(&w, "home", "wrong");
    wifi_supervisor_start(&w, now);
    fake_link = RADIO_LINK_FAILED;
    run(&w, &now, 600000);   /* ten minutes */
    assert_false(wifi_supervisor_is_up(&w));
    assert_true(joins >= 10);
    assert_true(leaves >= 10);
    /* The password is fixed on the router side: it comes up. */
    fake_link = RADIO_LINK_UP;
    run(&w, &now, WIFI_RETRY_MAX_MS + 1000);
    assert_true(wifi_supervisor_is_up(&w));
}

static void link_loss_is_noticed_and_rejoined_quickly(void **state)
{
    (void)state;
    wifi_supervisor w;
    uint32_t now = 0;
    fake_link = RADIO_LINK_UP;
    wifi_supervisor_init(&w, "home", "secret");
    wifi_supervisor_start(&w, now);
    assert_int_equal(run(&w, &now, 1000), 1);
    assert_true(wifi_supervisor_is_up(&w));

    fake_link = RADIO_LINK_DOWN;
    uint32_t lost_at = now;
    int flips = 0;
    while (wifi_supervisor_is_up(&w)) {
        flips += run(&w, &now, 10);
    }
    assert_int_equal(flips, 1);
    assert_true(now - lost_at <= WIFI_LINK_CHECK_MS + 10);
    assert_int_equal(w.outages, 1);
    assert_int_equal(w.failures, 0);

    int joins_before = joins;
    run(&w, &now, WIFI_RETRY_FIRST_MS + 20);
    assert_int_equal(joins, joins_before + 1);
    fake_link = RADIO_LINK_UP;
    run(&w, &now, 1000);
    assert_true(wifi_supervisor_is_up(&w));
}

static void survives_the_millisecond_counter_wrap(void **state)
{
    (void)state;
    wifi_supervisor w;
    uint32_t now = UINT32_MAX - 5000;
    wifi_supervisor_init(&w, "home", "secret");
    wifi_supervisor_start(&w, now);
    run(&w, &now, WIFI_JOIN_TIMEOUT_MS + 100);   /* times out across the wrap */
    assert_int_equal(w.state, WIFI_WAIT_RETRY);
    assert_int_equal(w.failures, 1);
    fake_link = RADIO_LINK_UP;
    run(&w, &now, WIFI_RETRY_FIRST_MS + 1000);
    assert_true(wifi_supervisor_is_up(&w));
    /* The next deadline is never in the past. */
    assert_true((int32_t)(wifi_supervisor_next_deadline(&w, now) - now) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(joins_when_the_router_comes_up_late, setup),
        cmocka_unit_test_setup(backoff_doubles_up_to_the_cap, setup),
        cmocka_unit_test_setup(wrong_password_is_retried_not_a_dead_end, setup),
        cmocka_unit_test_setup(link_loss_is_noticed_and_rejoined_quickly, setup),
        cmocka_unit_test_setup(survives_the_millisecond_counter_wrap, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
