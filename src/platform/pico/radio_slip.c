/*
 * The radio of the network image for the emulated chip (mqtt_tiny_net): no
 * CYW43 chip, but a SLIP link (RFC 1055) on UART1 — GP4 TX, GP5 RX, 8N1 at
 * SLIP_BAUD — that the emulator's runner bridges to a TUN device on the
 * host. The interface has a static address (10.0.0.2/24, gateway and DNS
 * server 10.0.0.1); the link counts as up as soon as the interface is up.
 * Everything above it is the board image's code: lwIP, altcp_tls, DNS,
 * SNTP, the HTTP client, the MQTT transport, the controller, the watchdog.
 * Never flash it on a board: GP4/GP5 would carry SLIP frames.
 *
 * Receive: the UART1 interrupt moves bytes from the hardware FIFO into a
 * ring and marks the async context's worker pending (which also wakes the
 * main loop from its sleep); the worker, run from radio_poll() in the main
 * loop, feeds the ring to lwIP's slipif (sio_tryread). Nothing blocks on
 * receive. Send: slipif writes byte by byte (sio_send) into the UART's
 * transmit FIFO, waiting while it is full (a full frame of 1500 bytes takes
 * about 16 ms at 921600 baud on a real UART; the emulated UART sends at once).
 */
#include "radio.h"

#include <stdio.h>
#include <string.h>

#include "hardware/gpio.h"
#include "hardware/irq.h"
#include "hardware/sync.h"
#include "hardware/uart.h"
#include "lwip/dns.h"
#include "lwip/ip.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/sio.h"
#include "netif/slipif.h"
#include "pico/async_context_poll.h"
#include "pico/lwip_nosys.h"
#include "pico/time.h"

#define SLIP_UART uart1
#define SLIP_UART_IRQ UART1_IRQ
#define SLIP_TX_PIN 4
#define SLIP_RX_PIN 5
#define SLIP_BAUD 921600
/* A power of two; holds more than one full frame (1500 bytes, escaped at
 * worst to twice that) so a burst waits here while the loop is busy. */
#define SLIP_RX_RING 4096u

static async_context_poll_t poll_context;
static struct netif slip_netif;
static bool radio_ready;

/* Written by the interrupt (head), read by the main loop (tail). */
static uint8_t rx_ring[SLIP_RX_RING];
static volatile uint32_t rx_head;
static volatile uint32_t rx_tail;
static volatile uint32_t rx_overruns;   /* bytes dropped: the ring was full */
static uint32_t overruns_reported;

static void slip_rx_work(async_context_t *context, async_when_pending_worker_t *worker);
static async_when_pending_worker_t rx_worker = { .do_work = slip_rx_work };

static void slip_uart_irq(void)
{
    bool got = false;
    while (uart_is_readable(SLIP_UART)) {
        uint8_t c = (uint8_t)uart_get_hw(SLIP_UART)->dr;
        uint32_t head = rx_head;
        if (head - rx_tail >= SLIP_RX_RING) {
            rx_overruns++;
            continue;
        }
        rx_ring[head & (SLIP_RX_RING - 1u)] = c;
        __compiler_memory_barrier();
        rx_head = head + 1u;
        got = true;
    }
    if (got)
        async_context_set_work_pending(&poll_context.core, &rx_worker);
}

/* ---- lwIP's serial layer (sio.h), for slipif ---- */

sio_fd_t sio_open(u8_t devnum)
{
    (void)devnum;
    return (sio_fd_t)SLIP_UART;
}

void sio_send(u8_t c, sio_fd_t fd)
{
    (void)fd;
    uart_putc_raw(SLIP_UART, (char)c);
}

u32_t sio_tryread(sio_fd_t fd, u8_t *data, u32_t len)
{
    (void)fd;
    u32_t n = 0;
    uint32_t tail = rx_tail;
    while (n < len && tail != rx_head) {
        data[n++] = rx_ring[tail & (SLIP_RX_RING - 1u)];
        tail++;
    }
    __compiler_memory_barrier();
    rx_tail = tail;
    return n;
}

u32_t sio_read(sio_fd_t fd, u8_t *data, u32_t len)
{
    return sio_tryread(fd, data, len);   /* never blocks (NO_SYS, no RX thread) */
}

static void slip_rx_work(async_context_t *context, async_when_pending_worker_t *worker)
{
    (void)context;
    (void)worker;
    if (radio_ready)
        slipif_poll(&slip_netif);
}

/* ---- the radio interface ---- */

bool radio_init(const char *country)
{
    (void)country;
    if (radio_ready)
        return true;
    if (!async_context_poll_init_with_defaults(&poll_context))
        return false;
    if (!lwip_nosys_init(&poll_context.core))
        return false;
    async_context_add_when_pending_worker(&poll_context.core, &rx_worker);

    unsigned baud = uart_init(SLIP_UART, SLIP_BAUD);
    uart_set_format(SLIP_UART, 8, 1, UART_PARITY_NONE);
    uart_set_hw_flow(SLIP_UART, false, false);
    uart_set_fifo_enabled(SLIP_UART, true);
    gpio_set_function(SLIP_TX_PIN, GPIO_FUNC_UART);
    gpio_set_function(SLIP_RX_PIN, GPIO_FUNC_UART);
    gpio_pull_up(SLIP_RX_PIN);   /* an idle line is high */

    ip4_addr_t ip, mask, gw, dns;
    IP4_ADDR(&ip, 10, 0, 0, 2);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, 10, 0, 0, 1);
    IP4_ADDR(&dns, 10, 0, 0, 1);
    /* slipif takes its serial port number from the state pointer: 0. */
    if (netif_add(&slip_netif, &ip, &mask, &gw, NULL, slipif_init, ip_input) == NULL)
        return false;
    netif_set_default(&slip_netif);
    netif_set_up(&slip_netif);
    netif_set_link_up(&slip_netif);
    ip_addr_t dns_server;
    ip_addr_copy_from_ip4(dns_server, dns);
    dns_setserver(0, &dns_server);

    irq_set_exclusive_handler(SLIP_UART_IRQ, slip_uart_irq);
    irq_set_enabled(SLIP_UART_IRQ, true);
    uart_set_irqs_enabled(SLIP_UART, true, false);
    radio_ready = true;
    printf("slip: UART1 (TX GP%d, RX GP%d) at %u baud, 10.0.0.2/24, gateway and DNS 10.0.0.1\n",
           SLIP_TX_PIN, SLIP_RX_PIN, baud);
    return true;
}

bool radio_join_start(const char *ssid, const char *password)
{
    (void)ssid;
    (void)password;
    return radio_ready;
}

void radio_leave(void)
{
}

radio_link radio_link_status(void)
{
    return radio_ready && netif_is_up(&slip_netif) ? RADIO_LINK_UP : RADIO_LINK_DOWN;
}

bool radio_rssi(int32_t *dbm)
{
    (void)dbm;
    return false;
}

struct netif *radio_netif(void)
{
    return radio_ready ? &slip_netif : NULL;
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
    uint32_t overruns = rx_overruns;
    if (overruns != overruns_reported) {
        printf("slip: receive ring full, %lu bytes dropped\n",
               (unsigned long)(overruns - overruns_reported));
        overruns_reported = overruns;
    }
    async_context_poll(&poll_context.core);
    async_context_wait_for_work_until(&poll_context.core, until);
    /* Woken by received bytes (or a timer): hand them to lwIP now rather
     * than after the next pass of the main loop. */
    async_context_poll(&poll_context.core);
}

const char *radio_name(void)
{
    return "slip (emulated chip, UART1)";
}
