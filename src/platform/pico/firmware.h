/*
 * The firmware's main loop on the Pico W: WiFi supervisor, MQTT client over
 * lwIP, controller, contacts, watchdog and status LED, all in one thread.
 */
#ifndef MTC_FIRMWARE_H
#define MTC_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "json.h"

/* MQTT client buffers (static RAM). rx holds one whole incoming packet
 * (requests up to CONTROLLER_MAX_MESSAGE bytes get an answer, longer ones
 * an error); tx and inflight hold whole outgoing packets (stats, the
 * largest, is under 1 KB with its topic). */
#define FIRMWARE_MQTT_RX_SIZE 1024
#define FIRMWARE_MQTT_TX_SIZE 1024
#define FIRMWARE_MQTT_INFLIGHT_SIZE 1024
#define FIRMWARE_NET_BUFFER_SIZE \
    (FIRMWARE_MQTT_RX_SIZE + FIRMWARE_MQTT_TX_SIZE + FIRMWARE_MQTT_INFLIGHT_SIZE)
/* The configuration is parsed once at boot, before the network starts, with
 * its JSON tokens in the (still unused) MQTT buffers: no extra RAM and no
 * 9 KB of stack. This bounds the configurations the device accepts; the
 * build-time check (apps/firmware/tools/config_check.c) uses the same bound. */
#define FIRMWARE_CONFIG_TOKENS (FIRMWARE_NET_BUFFER_SIZE / sizeof(json_token))
#define FIRMWARE_LOOP_MS 10u            /* contact sampling and timers */
#define FIRMWARE_RADIO_RETRY_MS 10000u  /* radio chip that failed to start: next try */

/* Token storage for the boot-time configuration parse (FIRMWARE_CONFIG_TOKENS
 * entries). Valid only before firmware_run(). */
json_token *firmware_boot_tokens(void);

/* Right after the pins are safe and the log is up: starts the watchdog
 * (counting reboots) and logs the boot line. */
void firmware_boot(void);

/* Runs forever. cfg stays valid for the firmware's life; ca_pem (may be
 * NULL) holds the PEM trust anchors for mqtts, NUL included in its length. */
void firmware_run(const config *cfg, const uint8_t *ca_pem, size_t ca_pem_len);

/* Runs forever without a configuration: no pin driven, the watchdog fed,
 * why (and the parser's errors, when given) repeated on the log, the LED
 * blinking the "no configuration" pattern. */
#define FIRMWARE_UNCONFIGURED_REPEAT_MS 30000u
__attribute__((noreturn)) void firmware_run_unconfigured(const char *why,
                                                    const config_errors *errors);

#endif
