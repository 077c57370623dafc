/*
 * Stand-in for the Pico SDK's pico/cyw43_arch.h, declaring only what
 * src/platform/pico/radio_cyw43.c uses, so that file's logic runs in a host
 * unit test (test_radio_cyw43.c defines the functions). The names and
 * values follow cyw43-driver 1.0.3's documented interface.
 */
#ifndef FAKE_PICO_CYW43_ARCH_H
#define FAKE_PICO_CYW43_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "pico/time.h"

struct netif {
    int unused;
};

#define CYW43_ITF_STA 0
#define CYW43_ITF_AP 1
#define CYW43_LINK_DOWN 0
#define CYW43_LINK_JOIN 1
#define CYW43_LINK_NOIP 2
#define CYW43_LINK_UP 3
#define CYW43_LINK_FAIL (-1)
#define CYW43_LINK_NONET (-2)
#define CYW43_LINK_BADAUTH (-3)
#define CYW43_AUTH_OPEN 0u
#define CYW43_AUTH_WPA2_AES_PSK 0x00400004u
#define CYW43_NO_POWERSAVE_MODE 0
#define CYW43_WL_GPIO_LED_PIN 0
#define CYW43_COUNTRY(a, b, rev) ((unsigned char)(a) | ((unsigned char)(b) << 8) | ((rev) << 16))
#define CYW43_COUNTRY_WORLDWIDE CYW43_COUNTRY('X', 'X', 0)
#define cyw43_pm_value(pm_mode, pm2_sleep_ret_ms, li_beacon_period, li_dtim_period, li_assoc) \
    ((uint32_t)(pm_mode) | ((uint32_t)(pm2_sleep_ret_ms) / 10u) << 4)

typedef struct {
    uint32_t itf_state;
    struct netif netif[2];
} cyw43_t;

extern cyw43_t cyw43_state;

int cyw43_arch_init_with_country(uint32_t country);
void cyw43_arch_deinit(void);
void cyw43_arch_enable_sta_mode(void);
int cyw43_arch_wifi_connect_async(const char *ssid, const char *pw, uint32_t auth);
void cyw43_arch_gpio_put(unsigned int wl_gpio, bool value);
void cyw43_arch_poll(void);
void cyw43_arch_wait_for_work_until(absolute_time_t until);
int cyw43_wifi_pm(cyw43_t *self, uint32_t pm);
int cyw43_wifi_leave(cyw43_t *self, int itf);
int cyw43_wifi_get_rssi(cyw43_t *self, int32_t *rssi);
int cyw43_tcpip_link_status(cyw43_t *self, int itf);

#endif
