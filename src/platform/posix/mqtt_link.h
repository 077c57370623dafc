/*
 * One MQTT client over TCP (mqtt://) or TLS (mqtts://) on Linux, run inside
 * the caller's poll() loop. The link owns the socket, the TLS state, the
 * resolver and the client's buffers; the caller owns the loop:
 *
 *     n = mqtt_link_pollfds(&link, fds, MQTT_LINK_MAX_FDS);
 *     (add its own fds)
 *     poll(fds, total, mqtt_link_next_deadline(&link, mtc_now_ms()));
 *     mqtt_link_service(&link, mtc_now_ms(), fds, n);
 *
 * Nothing in the link blocks: connect, TLS handshake, reads and writes are
 * non-blocking and DNS names resolve on a helper thread (see net.h).
 */
#ifndef MTC_MQTT_LINK_H
#define MTC_MQTT_LINK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_client.h"
#include "net.h"
#include "tls_glue.h"

#define MQTT_LINK_MAX_FDS 2
#define MQTT_LINK_RX_SIZE 4096        /* largest incoming packet (bigger ones are dropped) */
#define MQTT_LINK_TX_SIZE 4096        /* outgoing packets waiting for the socket */
#define MQTT_LINK_INFLIGHT_SIZE 4096  /* stored QoS1 publications until PUBACK */
#define MQTT_LINK_MIN_RX_SIZE 64
#define MQTT_LINK_DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define MQTT_LINK_DETAIL_SIZE 256
#define MQTT_LINK_READ_CHUNK 2048     /* bytes read from the transport per call */

typedef struct {
    const char *broker_url;     /* mqtt://host[:1883] or mqtts://host[:8883]; [v6addr] allowed */
    const char *ca_file;        /* NULL/"": MQTT_LINK_DEFAULT_CA_FILE */
    const char *tls_hostname;   /* NULL: host of the URL (certificate name check and SNI) */
    size_t rx_size;             /* 0: MQTT_LINK_RX_SIZE; smaller values for tests */
    uint16_t tls_max_fragment_len; /* 0: none; 512/1024/2048/4096 (RFC 6066) */
    const char *client_cert_file;  /* NULL: no client certificate (PEM) */
    const char *client_key_file;   /* its private key, unencrypted PEM */
} mqtt_link_config;

typedef struct {
    size_t tls_heap_in_use;     /* bytes mbedTLS holds now (whole process) */
    size_t tls_heap_peak;       /* highest since start */
    bool tls_heap_counted;      /* false: this build cannot count it */
    uint64_t bytes_in;          /* transport bytes (TLS records included) */
    uint64_t bytes_out;
    uint32_t attempts;          /* transport opens started */
} mqtt_link_stats;

typedef enum {
    MQTT_LINK_CLOSED = 0,
    MQTT_LINK_RESOLVING,
    MQTT_LINK_CONNECTING,
    MQTT_LINK_HANDSHAKE,
    MQTT_LINK_UP,
} mqtt_link_phase;

typedef struct {
    mqtt_client client;
    uint8_t rx[MQTT_LINK_RX_SIZE];
    uint8_t tx[MQTT_LINK_TX_SIZE];
    uint8_t inflight[MQTT_LINK_INFLIGHT_SIZE];

    bool use_tls;
    uint16_t port;
    char host[MTC_NET_HOST_MAX + 1];
    char tls_hostname[MTC_NET_HOST_MAX + 1];
    mtc_tls_config tls_config;
    mtc_tls_session tls;

    mqtt_link_phase phase;
    bool network_up;
    int fd;
    mtc_resolver resolver;
    mtc_addr_list addrs;
    size_t addr_index;
    bool want_write;            /* handshake / TLS write waits for POLLOUT */
    bool read_pending;          /* stopped reading early: service again at once */

    char detail[MQTT_LINK_DETAIL_SIZE];
    char io_error[96];          /* socket error seen under TLS */
    mqtt_link_stats stats;
} mqtt_link;

/* Parses the URL, loads the CA (mqtts), initialises the client with the
 * link's buffers. cc and its strings must outlive the link. On failure
 * nothing is left allocated and err tells why. */
bool mqtt_link_init(mqtt_link *l, const mqtt_link_config *lc, const mqtt_client_config *cc,
                    mqtt_event_fn on_event, void *ctx, char *err, size_t err_size);
void mqtt_link_start(mqtt_link *l, uint32_t now);
/* Fills the fds to poll now; returns how many (at most max). */
size_t mqtt_link_pollfds(const mqtt_link *l, struct pollfd *fds, size_t max);
/* After poll (also with n = 0 on a timeout): steps the client, opens and
 * closes the transport, reads, handshakes and flushes output. */
void mqtt_link_service(mqtt_link *l, uint32_t now, const struct pollfd *fds, size_t n);
/* Milliseconds to sleep at most. */
uint32_t mqtt_link_next_deadline(const mqtt_link *l, uint32_t now);
/* For mqtt_client_publish() and friends; call mqtt_link_service() after. */
mqtt_client *mqtt_link_client(mqtt_link *l);
/* Simulated WiFi: down drops the socket at once (no DISCONNECT), and no
 * connection is opened until up again (attempts fail with MQTT_ERR_TRANSPORT). */
void mqtt_link_set_network(mqtt_link *l, uint32_t now, bool up);
void mqtt_link_stats_get(const mqtt_link *l, mqtt_link_stats *out);
#define mqtt_link_stats(l, out) mqtt_link_stats_get((l), (out))
/* Why the last transport attempt failed (certificate verify report, DNS
 * error, errno text ...); "" if none. Valid until the next service call. */
const char *mqtt_link_last_error(const mqtt_link *l);
mqtt_link_phase mqtt_link_get_phase(const mqtt_link *l);
/* Closes sockets, frees TLS, joins the resolver thread. */
void mqtt_link_deinit(mqtt_link *l);

#endif
