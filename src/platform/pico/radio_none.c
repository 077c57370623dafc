/*
 * The radio of the emulated chip's image (mqtt_tiny_emu): the emulated RP2040
 * has no CYW43 chip. It brings up lwIP on a poll-mode async context exactly
 * as pico_cyw43_arch_lwip_poll does, and adds one network interface whose
 * link never comes up. Everything else is the board image's code: relays and
 * contacts work, TLS is configured, the WiFi supervisor keeps retrying — but
 * it never reaches a network. Never flash it on a board.
 */
#include "radio.h"

#include <string.h>

#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "pico/async_context_poll.h"
#include "pico/lwip_nosys.h"
#include "pico/time.h"

static async_context_poll_t poll_context;
static struct netif no_radio_netif;
static bool radio_ready;

static err_t no_radio_output(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    (void)p;
    return ERR_IF;
}

static err_t no_radio_netif_init(struct netif *netif)
{
    netif->name[0] = 'n';
    netif->name[1] = 'r';
    netif->mtu = 1500;
    netif->linkoutput = no_radio_output;
    netif->output = etharp_output;
    netif->hwaddr_len = 6;
    memset(netif->hwaddr, 0, sizeof netif->hwaddr);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP;
    return ERR_OK;
}

bool radio_init(const char *country)
{
    (void)country;
    if (radio_ready)
        return true;
    if (!async_context_poll_init_with_defaults(&poll_context))
        return false;
    if (!lwip_nosys_init(&poll_context.core))
        return false;
    netif_add(&no_radio_netif, NULL, NULL, NULL, NULL, no_radio_netif_init, netif_input);
    netif_set_default(&no_radio_netif);
    netif_set_up(&no_radio_netif);
    radio_ready = true;
    return true;
}

bool radio_join_start(const char *ssid, const char *password)
{
    (void)ssid;
    (void)password;
    return radio_ready;   /* the join starts and never finds a network: it times out */
}

void radio_leave(void)
{
}

radio_link radio_link_status(void)
{
    return RADIO_LINK_DOWN;
}

bool radio_rssi(int32_t *dbm)
{
    (void)dbm;
    return false;
}

struct netif *radio_netif(void)
{
    return radio_ready ? &no_radio_netif : NULL;
}

void radio_led(bool on)
{
    (void)on;
}

void radio_poll(uint32_t max_wait_ms)
{
    absolute_time_t until = make_timeout_time_ms(max_wait_ms);
    if (!radio_ready) {
        sleep_until(until);
        return;
    }
    async_context_poll(&poll_context.core);
    async_context_wait_for_work_until(&poll_context.core, until);
}

const char *radio_name(void)
{
    return "none (emulated chip)";
}
