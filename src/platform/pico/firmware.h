/*
 * The firmware's main loop on the Pico W: WiFi supervisor, MQTT client over
 * lwIP, controller, contacts, watchdog and status LED, all in one thread.
 */
#ifndef MTC_FIRMWARE_H
#define MTC_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* MQTT client buffers (static RAM). rx holds one whole incoming packet:
 * the controller accepts requests of up to CONTROLLER_MAX_MESSAGE bytes. */
#define FIRMWARE_MQTT_RX_SIZE 1024
#define FIRMWARE_MQTT_TX_SIZE 1024
#define FIRMWARE_MQTT_INFLIGHT_SIZE 2048
#define FIRMWARE_LOOP_MS 10u            /* contact sampling and timers */

/* Runs forever. cfg stays valid for the firmware's life; ca_pem (may be
 * NULL) holds the PEM trust anchors for mqtts, NUL included in its length. */
void firmware_run(const config *cfg, const uint8_t *ca_pem, size_t ca_pem_len);

#endif
