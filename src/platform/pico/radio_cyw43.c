/*
 * The radio on a real Pico W: the only file that calls the CYW43 driver.
 * The board image (mqtt_tiny) links it with cyw43-driver; the emulated
 * chip's image (mqtt_tiny_emu) links radio_none.c instead.
 *
 * Architecture: pico_cyw43_arch_lwip_poll. The driver and lwIP run only when
 * the main loop calls cyw43_arch_poll(), so every lwIP callback (TCP, TLS,
 * DNS, SNTP, HTTP) runs in the main loop, in the same context as the
 * controller and the MQTT client: no locks, no callbacks racing the core,
 * and a hang anywhere stops the loop that feeds the watchdog.
 */
#include "radio.h"

#include <string.h>

#include "pico/cyw43_arch.h"
#include "pico/time.h"

static bool radio_ready;

bool radio_init(const char *country)
{
    uint32_t code = CYW43_COUNTRY_WORLDWIDE;
    if (country != NULL && strlen(country) == 2 && strcmp(country, "XX") != 0)
        code = CYW43_COUNTRY(country[0], country[1], 0);
    if (radio_ready)
        return true;
    /* The async context, the driver's state and lwIP. A failure here has
     * already been undone by the SDK (it deinitialises before returning). */
    if (cyw43_arch_init_with_country(code) != 0)
        return false;
    /* Only this powers the chip and loads its firmware over the bus; it
     * returns nothing, so the result is read back: the STA interface is
     * marked up only when the chip answered, and setting the power mode
     * is a bus transaction that fails on a dead chip. */
    cyw43_arch_enable_sta_mode();
    bool sta_up = (cyw43_state.itf_state & (1u << CYW43_ITF_STA)) != 0;
    /* Power saving delays incoming packets by up to the DTIM interval and
     * has been seen to drop the link on some routers: off. */
    int pm = sta_up ? cyw43_wifi_pm(&cyw43_state,
                                    cyw43_pm_value(CYW43_NO_POWERSAVE_MODE, 200, 1, 1, 10))
                    : -1;
    if (!sta_up || pm != 0) {
        cyw43_arch_deinit();   /* init succeeded: undo it once, for the next attempt */
        return false;
    }
    radio_ready = true;
    return true;
}

bool radio_join_start(const char *ssid, const char *password)
{
    if (!radio_ready)
        return false;
    /* WPA2-AES; an access point in WPA2/WPA3 transition mode accepts it. */
    uint32_t auth = (password == NULL || password[0] == '\0') ? CYW43_AUTH_OPEN
                                                               : CYW43_AUTH_WPA2_AES_PSK;
    return cyw43_arch_wifi_connect_async(ssid, password, auth) == 0;
}

void radio_leave(void)
{
    if (radio_ready)
        cyw43_wifi_leave(&cyw43_state, CYW43_ITF_STA);
}

radio_link radio_link_status(void)
{
    if (!radio_ready)
        return RADIO_LINK_DOWN;
    switch (cyw43_tcpip_link_status(&cyw43_state, CYW43_ITF_STA)) {
    case CYW43_LINK_JOIN:
        return RADIO_LINK_JOINING;   /* association / authentication in progress */
    case CYW43_LINK_NOIP:
        return RADIO_LINK_NO_IP;
    case CYW43_LINK_UP:
        return RADIO_LINK_UP;
    case CYW43_LINK_FAIL:
    case CYW43_LINK_NONET:
    case CYW43_LINK_BADAUTH:
        return RADIO_LINK_FAILED;
    case CYW43_LINK_DOWN:
    default:
        return RADIO_LINK_DOWN;
    }
}

bool radio_rssi(int32_t *dbm)
{
    return radio_ready && cyw43_wifi_get_rssi(&cyw43_state, dbm) == 0;
}

struct netif *radio_netif(void)
{
    return radio_ready ? &cyw43_state.netif[CYW43_ITF_STA] : NULL;
}

void radio_led(bool on)
{
    if (radio_ready)
        cyw43_arch_gpio_put(CYW43_WL_GPIO_LED_PIN, on);
}

void radio_poll(uint32_t max_wait_ms)
{
    if (!radio_ready) {
        sleep_ms(max_wait_ms);
        return;
    }
    cyw43_arch_poll();
    cyw43_arch_wait_for_work_until(make_timeout_time_ms(max_wait_ms));
}

const char *radio_name(void)
{
    return "cyw43";
}
