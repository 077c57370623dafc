/*
 * The MQTT client's transport on the Pico W: lwIP altcp (plain TCP, or TLS
 * through altcp_tls + mbedTLS with CA verification and hostname check),
 * with asynchronous DNS. Drives the sans-IO mqtt_client from lwIP's
 * callbacks; all of it runs in the main loop.
 */
#ifndef MTC_MQTT_TRANSPORT_PICO_H
#define MTC_MQTT_TRANSPORT_PICO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mqtt_client.h"

/* TCP connect + TLS handshake during which a timer feeds the watchdog
 * (the key exchange runs inside one lwIP callback). */
#define TRANSPORT_TLS_GRACE_MS 15000u

struct altcp_pcb;
struct altcp_tls_config;

typedef enum {
    TRANSPORT_IDLE = 0,
    TRANSPORT_RESOLVING,
    TRANSPORT_CONNECTING,     /* TCP connect, then the TLS handshake */
    TRANSPORT_UP,
} transport_state;

typedef struct {
    mqtt_client *client;
    config_broker broker;
    struct altcp_tls_config *tls_config;   /* NULL for plain TCP */
    struct altcp_pcb *pcb;
    struct altcp_pcb *closing_pcb;         /* close failed (no memory): retried */
    transport_state state;
    uint32_t connect_started;              /* for the handshake time in the log */
    uint32_t opens;
    uint32_t dns_failures;
    uint32_t tls_failures;
    uint32_t tls_verify_flags;             /* mbedTLS verify flags of this handshake's chain */
} mqtt_transport;

/* ca_pem: the NUL-terminated PEM trust anchors for mqtts (len includes the NUL).
 * Call after radio_init() succeeded: the TLS configuration needs lwIP. */
bool mqtt_transport_init(mqtt_transport *t, mqtt_client *client, const config_broker *broker,
                         const uint8_t *ca_pem, size_t ca_pem_len);
/* Carries out what mqtt_client_step() asked for. */
void mqtt_transport_act(mqtt_transport *t, mqtt_action action, uint32_t now);
/* Sends what the client has queued (call after anything that may publish). */
void mqtt_transport_flush(mqtt_transport *t, uint32_t now);
/* Main loop housekeeping: finishes a close that lwIP could not do at once. */
void mqtt_transport_poll(mqtt_transport *t);
/* The network went away under us (WiFi down): drop the connection now. */
void mqtt_transport_abort(mqtt_transport *t, uint32_t now);

#endif
