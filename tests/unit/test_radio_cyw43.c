/*
 * src/platform/pico/radio_cyw43.c against a scripted CYW43 driver: a chip
 * that does not answer must not count as a started radio, a failed SDK
 * init must not be undone twice, and "join in progress" is joining.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/platform/pico/radio_cyw43.c"

/* ---- the scripted driver ---- */
cyw43_t cyw43_state;
static int init_result;        /* cyw43_arch_init_with_country() */
static bool chip_answers;      /* enable_sta_mode marks the STA interface up */
static int pm_result;          /* cyw43_wifi_pm() */
static int link_status;
static int inits, deinits, pm_calls;
static bool initialised;

int cyw43_arch_init_with_country(uint32_t country)
{
    (void)country;
    inits++;
    if (init_result != 0)
        return init_result;   /* the SDK has already cleaned up after itself */
    initialised = true;
    return 0;
}

void cyw43_arch_deinit(void)
{
    deinits++;
    assert_true(initialised);   /* a second deinit would use a NULL async context */
    initialised = false;
    cyw43_state.itf_state = 0;
}

void cyw43_arch_enable_sta_mode(void)
{
    assert_true(initialised);
    if (chip_answers)
        cyw43_state.itf_state |= 1u << CYW43_ITF_STA;
}

int cyw43_wifi_pm(cyw43_t *self, uint32_t pm)
{
    (void)self;
    (void)pm;
    pm_calls++;
    return chip_answers ? pm_result : -5;
}

int cyw43_arch_wifi_connect_async(const char *ssid, const char *pw, uint32_t auth)
{
    (void)ssid;
    (void)pw;
    (void)auth;
    return 0;
}
void cyw43_arch_gpio_put(unsigned int wl_gpio, bool value) { (void)wl_gpio; (void)value; }
void cyw43_arch_poll(void) {}
void cyw43_arch_wait_for_work_until(absolute_time_t until) { (void)until; }
int cyw43_wifi_leave(cyw43_t *self, int itf) { (void)self; (void)itf; return 0; }
int cyw43_wifi_get_rssi(cyw43_t *self, int32_t *rssi) { (void)self; *rssi = -50; return 0; }
int cyw43_tcpip_link_status(cyw43_t *self, int itf) { (void)self; (void)itf; return link_status; }
absolute_time_t make_timeout_time_ms(uint32_t ms) { return ms; }
void sleep_ms(uint32_t ms) { (void)ms; }

static int reset(void **state)
{
    (void)state;
    radio_ready = false;
    cyw43_state = (cyw43_t){ 0 };
    init_result = 0;
    chip_answers = true;
    pm_result = 0;
    link_status = CYW43_LINK_DOWN;
    inits = deinits = pm_calls = 0;
    initialised = false;
    return 0;
}

static void healthy_chip_starts_once(void **state)
{
    (void)state;
    assert_true(radio_init("DE"));
    assert_true(radio_init("DE"));
    assert_int_equal(inits, 1);
    assert_int_equal(deinits, 0);
    assert_int_equal(pm_calls, 1);
    assert_non_null(radio_netif());
}

static void dead_chip_is_not_a_started_radio(void **state)
{
    (void)state;
    chip_answers = false;
    assert_false(radio_init("XX"));
    assert_int_equal(deinits, 1);   /* undone once, ready for the next attempt */
    assert_null(radio_netif());
    assert_int_equal(radio_link_status(), RADIO_LINK_DOWN);
    assert_false(radio_join_start("net", "password"));
    /* the chip answers later: the next attempt starts it */
    chip_answers = true;
    assert_true(radio_init("XX"));
    assert_int_equal(inits, 2);
}

static void power_mode_failure_is_a_failed_start(void **state)
{
    (void)state;
    pm_result = -110;
    assert_false(radio_init("XX"));
    assert_int_equal(deinits, 1);
    assert_false(initialised);
}

static void failed_sdk_init_is_not_deinitialised_again(void **state)
{
    (void)state;
    init_result = -1;
    assert_false(radio_init("XX"));
    assert_int_equal(deinits, 0);
    init_result = 0;
    assert_true(radio_init("XX"));
}

static void link_states(void **state)
{
    (void)state;
    assert_true(radio_init("XX"));
    static const struct { int driver; radio_link ours; } map[] = {
        { CYW43_LINK_DOWN, RADIO_LINK_DOWN },       { CYW43_LINK_JOIN, RADIO_LINK_JOINING },
        { CYW43_LINK_NOIP, RADIO_LINK_NO_IP },      { CYW43_LINK_UP, RADIO_LINK_UP },
        { CYW43_LINK_FAIL, RADIO_LINK_FAILED },     { CYW43_LINK_NONET, RADIO_LINK_FAILED },
        { CYW43_LINK_BADAUTH, RADIO_LINK_FAILED },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        link_status = map[i].driver;
        assert_int_equal(radio_link_status(), map[i].ours);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(healthy_chip_starts_once, reset),
        cmocka_unit_test_setup(dead_chip_is_not_a_started_radio, reset),
        cmocka_unit_test_setup(power_mode_failure_is_a_failed_start, reset),
        cmocka_unit_test_setup(failed_sdk_init_is_not_deinitialised_again, reset),
        cmocka_unit_test_setup(link_states, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
