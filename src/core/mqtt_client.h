/*
 * MQTT 3.1.1 client session, sans-IO.
 *
 * The client owns no socket, no clock and no heap. The platform:
 *   - calls mqtt_client_step() whenever time passes or before it sleeps, and
 *     carries out the action it returns (open or close the transport);
 *   - reports transport results with mqtt_client_transport_up()/_down();
 *   - feeds every received byte to mqtt_client_receive();
 *   - sends what mqtt_client_output() holds, then calls mqtt_client_output_done();
 *   - sleeps no longer than mqtt_client_next_deadline().
 * Application events (connected, message, acked, ...) arrive through the event
 * callback given at init, always from inside one of these calls.
 *
 * Time is a 32-bit millisecond counter; all comparisons are wrap-safe, so the
 * client runs across the 49-day wrap of the counter.
 */
#ifndef MQTT_CLIENT_H
#define MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_codec.h"

/* Outgoing QoS1 publications kept until PUBACK (offline ones included). */
#ifndef MQTT_MAX_INFLIGHT
#define MQTT_MAX_INFLIGHT 8
#endif
/* Bytes of tx that QoS0 publications and QoS1 (re)sends leave free, so that
 * PUBACK, PINGREQ and SUBSCRIBE always find room. */
#ifndef MQTT_TX_RESERVE
#define MQTT_TX_RESERVE 16
#endif
/* Smallest accepted rx buffer (a fixed header is up to 5 bytes). */
#define MQTT_MIN_RX_SIZE 16
/* Longest connect timeout or backoff; longer settings are cut to it. */
#define MQTT_MAX_DELAY_MS 86400000u
/* Longest sleep next_deadline() asks for when nothing is due. */
#define MQTT_IDLE_WAKE_MS 60000u
/* Topic filters subscribed after every successful connect. */
#ifndef MQTT_MAX_SUBSCRIPTIONS
#define MQTT_MAX_SUBSCRIPTIONS 4
#endif

/* A connection that stayed up this long is stable: its loss earns the fast
 * first retry. Sessions dropped sooner, twice or more in a row with no
 * refused connect between them (a broker that accepts and drops), back off. */
#ifndef MQTT_STABLE_CONNECTION_MS
#define MQTT_STABLE_CONNECTION_MS 5000u
#endif

/* Retry policy (docs/mqtt-client.md):
 *   cheap failures - the transport could not be opened (refused, reset,
 *     unreachable, DNS, open timeout): retry every backoff_base_ms, jittered,
 *     never slower; the first retry after losing a stable connection comes
 *     after backoff_first_ms;
 *   expensive failures - TLS handshake, CONNACK refused or missing, protocol
 *     errors, SUBACK missing, sessions dropped soon after CONNACK again and
 *     again: exponential from backoff_base_ms to backoff_max_ms. */
typedef enum {
    MQTT_SESSION_CLEAN = 0,      /* clean session on every connect */
    MQTT_SESSION_PERSISTENT,     /* never clean */
    MQTT_SESSION_CLEAN_FIRST,    /* drop any stale session once (clean connect, DISCONNECT),
                                    then persistent from the very next connect on */
} mqtt_session_mode;

typedef enum {
    MQTT_STATE_IDLE = 0,         /* not started, or stopped */
    MQTT_STATE_WAIT_RETRY,       /* backing off before the next attempt */
    MQTT_STATE_OPENING,          /* platform is opening TCP/TLS */
    MQTT_STATE_WAIT_CONNACK,     /* CONNECT sent */
    MQTT_STATE_CONNECTED,        /* CONNACK accepted */
    MQTT_STATE_CLOSING,          /* platform must close the transport */
} mqtt_state;

typedef enum {
    MQTT_ACTION_NONE = 0,
    MQTT_ACTION_OPEN,            /* open the transport now, then report up/down */
    MQTT_ACTION_CLOSE,           /* close the transport now, then call transport_down */
} mqtt_action;

typedef struct {
    const char *client_id;            /* required, 1..MQTT_MAX_CLIENT_ID_LEN */
    const char *username;             /* NULL: none */
    const char *password;             /* NULL: none (only with a username) */
    uint16_t keepalive_s;             /* 0 disables keepalive */
    mqtt_session_mode session_mode;
    const char *will_topic;           /* NULL: no last will */
    const uint8_t *will_payload;
    size_t will_payload_len;
    uint8_t will_qos;
    bool will_retain;
    const char *subscriptions[MQTT_MAX_SUBSCRIPTIONS]; /* filters, NULL-terminated if fewer */
    uint8_t subscription_qos;         /* requested QoS for all of them */
    uint32_t connect_timeout_ms;      /* transport open + CONNACK, and SUBACK; 0: 10000 */
    uint32_t backoff_first_ms;        /* first retry after a loss; 0: 250 */
    uint32_t backoff_base_ms;         /* cheap retries; expensive ones double from it; 0: 1000 */
    uint32_t backoff_max_ms;          /* cap; 0: 60000 */
    uint32_t backoff_refused_ms;      /* minimum wait after bad credentials / not authorized; 0: 60000 */
} mqtt_client_config;

typedef enum {
    MQTT_EVENT_CONNECTED = 1,    /* CONNACK accepted; u.connected */
    MQTT_EVENT_DISCONNECTED,     /* a connection that was up is gone; reason */
    MQTT_EVENT_CONNECT_FAILED,   /* an attempt failed (transport, timeout, refused); reason, u.connack_code */
    MQTT_EVENT_MESSAGE,          /* incoming PUBLISH; u.message */
    MQTT_EVENT_PUBLISH_ACKED,    /* PUBACK for one of ours; u.packet_id */
    MQTT_EVENT_SUBSCRIBED,       /* SUBACK granted; u.suback */
    MQTT_EVENT_SUBSCRIBE_FAILED, /* SUBACK 0x80; u.suback; retried with backoff on this connection */
    MQTT_EVENT_PACKET_DROPPED,   /* incoming packet larger than the rx buffer, skipped; u.dropped_len */
} mqtt_event_type;

typedef struct {
    mqtt_event_type type;
    mqtt_status reason;               /* why, for DISCONNECTED / CONNECT_FAILED */
    union {
        struct {
            bool session_present;
        } connected;
        uint8_t connack_code;         /* CONNECT_FAILED after a CONNACK refusal, else 0 */
        mqtt_publish message;         /* valid only during the callback */
        uint16_t packet_id;
        struct {
            uint16_t packet_id;
            uint8_t index;            /* which configured subscription */
            uint8_t granted_qos;      /* 0x80 on failure */
        } suback;
        uint32_t dropped_len;
    } u;
} mqtt_event;

typedef void (*mqtt_event_fn)(void *ctx, const mqtt_event *event);

/* Caller-owned memory. rx holds one whole incoming packet; tx holds packets
 * waiting to be sent; inflight stores encoded QoS1 PUBLISH packets until PUBACK. */
typedef struct {
    uint8_t *rx;
    size_t rx_size;
    uint8_t *tx;
    size_t tx_size;
    uint8_t *inflight;
    size_t inflight_size;
} mqtt_buffers;

typedef struct {
    uint16_t packet_id;
    uint16_t offset;                  /* into buffers.inflight */
    uint16_t length;
    uint8_t used;
    uint8_t sent;                     /* written to the current connection */
} mqtt_inflight_slot;

typedef struct {
    uint32_t connects;                /* accepted CONNACKs */
    uint32_t outages;                 /* connections lost after being up */
    uint32_t connect_failures;
    uint32_t protocol_errors;
    uint32_t dropped_packets;
    uint32_t stray_pubacks;           /* PUBACKs for nothing stored: counted and ignored */
    uint32_t subscribe_refusals;      /* SUBACK 0x80 */
} mqtt_client_stats;

typedef struct {
    mqtt_client_config cfg;
    mqtt_buffers buf;
    mqtt_event_fn on_event;
    void *event_ctx;

    mqtt_state state;
    uint32_t state_since;             /* when the current state began */
    uint32_t deadline;                /* of the current state (retry, connect timeout) */
    uint32_t last_tx;                 /* keepalive: last packet sent */
    uint32_t last_rx;                 /* keepalive: last packet received */
    bool ping_outstanding;
    uint32_t ping_sent_at;
    bool had_accepted_connect;        /* for MQTT_SESSION_CLEAN_FIRST */
    bool reopen_persistent;           /* clean-first: reconnect at once, persistent */
    uint8_t attempt;                  /* consecutive expensive failures, for backoff */
    uint8_t short_sessions;           /* consecutive sessions dropped soon after CONNACK */
    bool stable;                      /* the current connection passed MQTT_STABLE_CONNECTION_MS */
    bool expensive;                   /* the last failure backs off exponentially */
    bool fast_retry;                  /* next retry is the first after losing a connection */
    mqtt_status last_error;
    uint8_t last_connack_code;

    size_t rx_len;                    /* bytes of the current packet in rx */
    size_t rx_total;                  /* bytes of it to store in rx; 0 while the header is incomplete */
    uint32_t rx_skip;                 /* bytes still to discard of an oversized packet */
    uint32_t rx_dropped_len;          /* whole length of the oversized packet being skipped */
    size_t tx_len;                    /* bytes waiting in tx */

    uint16_t next_packet_id;
    uint16_t subscribe_packet_id;     /* SUBSCRIBE awaiting its SUBACK, 0: none */
    uint32_t subscribe_deadline;      /* SUBACK due by, or the retry of a refused SUBSCRIBE */
    bool subscribe_wait;              /* a refused SUBSCRIBE waits for subscribe_deadline */
    uint8_t subscribe_refusals;       /* in a row on this connection, for its backoff */
    uint8_t subscribe_index;          /* next configured filter to subscribe */
    bool clean_requested;             /* clean-session flag of the current CONNECT */
    bool stopping;                    /* mqtt_client_stop(): go idle once the transport is down */
    mqtt_inflight_slot inflight[MQTT_MAX_INFLIGHT];
    uint32_t rng;                     /* xorshift state for backoff jitter */
    mqtt_client_stats stats;
} mqtt_client;

/* Checks the configuration and buffers; the client keeps pointers to both
 * (the strings must outlive it). seed feeds the backoff jitter. */
mqtt_status mqtt_client_init(mqtt_client *c, const mqtt_client_config *cfg,
                             const mqtt_buffers *buffers, mqtt_event_fn on_event,
                             void *event_ctx, uint32_t seed);

/* Begin connecting (the first attempt is due at once). */
void mqtt_client_start(mqtt_client *c, uint32_t now);
/* Send DISCONNECT if connected, then ask the platform to close; stays idle. */
void mqtt_client_stop(mqtt_client *c, uint32_t now);

mqtt_action mqtt_client_step(mqtt_client *c, uint32_t now);
uint32_t mqtt_client_next_deadline(const mqtt_client *c, uint32_t now);

void mqtt_client_transport_up(mqtt_client *c, uint32_t now);
void mqtt_client_transport_down(mqtt_client *c, uint32_t now, mqtt_status reason);
/* Consumes all len bytes. A protocol error makes the next step return CLOSE. */
mqtt_status mqtt_client_receive(mqtt_client *c, uint32_t now, const uint8_t *data, size_t len);

/* Bytes ready to send (whole packets, in order); 0 if none. */
size_t mqtt_client_output(const mqtt_client *c, const uint8_t **data);
void mqtt_client_output_done(mqtt_client *c, uint32_t now, size_t sent);

/* QoS0 needs a connection (MQTT_ERR_NOT_CONNECTED otherwise). QoS1 is stored
 * and sent now or after the next connect (MQTT_ERR_INFLIGHT_FULL if no slot or
 * no room); *packet_id (may be NULL) identifies the later PUBLISH_ACKED. */
mqtt_status mqtt_client_publish(mqtt_client *c, uint32_t now, const char *topic,
                                const uint8_t *payload, size_t payload_len,
                                uint8_t qos, bool retain, uint16_t *packet_id);

bool mqtt_client_is_connected(const mqtt_client *c);
size_t mqtt_client_inflight_count(const mqtt_client *c);
const char *mqtt_state_name(mqtt_state s);

#endif
