/*
 * The CYW43439 radio, as the rest of the firmware sees it. The one file
 * that talks to the CYW43 driver (radio_cyw43.c) implements this; when the
 * SDK has no CYW43 driver (the CI build), radio_none.c provides a radio
 * that never finds a network, so everything else still links.
 *
 * Everything here runs in the main loop (pico_cyw43_arch_lwip_poll).
 */
#ifndef MTC_RADIO_H
#define MTC_RADIO_H

#include <stdbool.h>
#include <stdint.h>

struct netif;

typedef enum {
    RADIO_LINK_DOWN = 0,     /* not associated (or no radio) */
    RADIO_LINK_JOINING,      /* association / authentication in progress */
    RADIO_LINK_NO_IP,        /* associated, waiting for DHCP */
    RADIO_LINK_UP,           /* associated with an IPv4 address */
    RADIO_LINK_FAILED,       /* the last join failed (wrong password, no AP) */
} radio_link;

/* Brings up the driver, lwIP and the async context; country is ISO 3166
 * alpha-2 ("XX" worldwide). False: the chip did not start; call again later
 * (true at once when already up). */
bool radio_init(const char *country);
/* Starts joining (WPA2/WPA3 AES); the result shows in radio_link_status(). */
bool radio_join_start(const char *ssid, const char *password);
void radio_leave(void);
radio_link radio_link_status(void);
/* Signal strength in dBm; false when not associated. */
bool radio_rssi(int32_t *dbm);
/* The station interface (for its address); NULL without a radio. */
struct netif *radio_netif(void);
/* Onboard LED (wired to the radio chip on a Pico W). */
void radio_led(bool on);
/* Services the radio and lwIP, then sleeps until work arrives or at most
 * max_wait_ms. */
void radio_poll(uint32_t max_wait_ms);
/* Short name of the implementation, for the boot log. */
const char *radio_name(void);

#endif
