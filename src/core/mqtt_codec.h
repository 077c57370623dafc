/*
 * MQTT 3.1.1 packet encoder and decoder. No state, no allocation: the caller
 * owns every buffer, and decoded fields point into the caller's bytes.
 */
#ifndef MQTT_CODEC_H
#define MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTT_MAX_CLIENT_ID_LEN 64
#define MQTT_MAX_TOPIC_LEN 256
/* The protocol's own limit on the remaining length (4 length bytes). */
#define MQTT_MAX_REMAINING_LEN 268435455u

typedef enum {
    MQTT_OK = 0,
    MQTT_ERR_NEED_MORE,        /* not a whole packet yet */
    MQTT_ERR_MALFORMED,        /* violates MQTT 3.1.1 */
    MQTT_ERR_BUFFER_TOO_SMALL, /* does not fit the caller's buffer */
    MQTT_ERR_BAD_ARGUMENT,     /* caller passed something invalid */
    MQTT_ERR_NOT_CONNECTED,
    MQTT_ERR_INFLIGHT_FULL,
    MQTT_ERR_BUSY,             /* output buffer still holds unsent bytes */
    MQTT_ERR_TIMEOUT,          /* connect timeout */
    MQTT_ERR_KEEPALIVE,        /* no PINGRESP / no traffic in time: half-open link */
    MQTT_ERR_REFUSED,          /* CONNACK with a non-zero code */
    MQTT_ERR_TRANSPORT,        /* platform reported a network error */
    MQTT_ERR_CLOSED,           /* peer closed the connection */
    MQTT_ERR_TLS,              /* TLS handshake or certificate failure */
    MQTT_ERR_DNS,              /* name did not resolve */
    MQTT_ERR_PROTOCOL,         /* valid packet at the wrong time, unknown packet id ... */
} mqtt_status;

typedef enum {
    MQTT_CONNECT = 1, MQTT_CONNACK = 2, MQTT_PUBLISH = 3, MQTT_PUBACK = 4,
    MQTT_PUBREC = 5, MQTT_PUBREL = 6, MQTT_PUBCOMP = 7, MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9, MQTT_UNSUBSCRIBE = 10, MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12, MQTT_PINGRESP = 13, MQTT_DISCONNECT = 14,
} mqtt_packet_type;

/* CONNACK return codes (MQTT 3.1.1, 3.2.2.3). */
typedef enum {
    MQTT_CONNACK_ACCEPTED = 0,
    MQTT_CONNACK_BAD_PROTOCOL = 1,
    MQTT_CONNACK_ID_REJECTED = 2,
    MQTT_CONNACK_UNAVAILABLE = 3,
    MQTT_CONNACK_BAD_CREDENTIALS = 4,
    MQTT_CONNACK_NOT_AUTHORIZED = 5,
} mqtt_connack_code;

typedef struct {
    const char *topic;          /* not NUL-terminated when decoded */
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint16_t packet_id;         /* QoS > 0 only */
    uint8_t qos;
    bool retain;
    bool dup;
} mqtt_publish;

typedef struct {
    const char *client_id;
    const char *username;       /* NULL: none */
    const char *password;       /* NULL: none */
    const char *will_topic;     /* NULL: none */
    const uint8_t *will_payload;
    size_t will_payload_len;
    uint8_t will_qos;
    bool will_retain;
    bool clean_session;
    uint16_t keepalive_s;
} mqtt_connect_options;

/* A decoded packet from the server. */
typedef struct {
    mqtt_packet_type type;
    uint8_t flags;              /* low nibble of the first byte */
    union {
        struct {
            bool session_present;
            uint8_t return_code;
        } connack;
        mqtt_publish publish;
        uint16_t packet_id;     /* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK */
        struct {
            uint16_t packet_id;
            uint8_t return_code; /* first (our only) return code */
        } suback;
    } u;
} mqtt_packet;

/* Encoders write one whole packet into buf and set *out_len. */
mqtt_status mqtt_encode_connect(uint8_t *buf, size_t size, const mqtt_connect_options *o, size_t *out_len);
mqtt_status mqtt_encode_publish(uint8_t *buf, size_t size, const mqtt_publish *p, size_t *out_len);
/* Whole size of a PUBLISH packet; SIZE_MAX beyond the protocol's limits. */
size_t mqtt_publish_packet_size(size_t topic_len, size_t payload_len, uint8_t qos);
mqtt_status mqtt_encode_puback(uint8_t *buf, size_t size, uint16_t packet_id, size_t *out_len);
mqtt_status mqtt_encode_subscribe(uint8_t *buf, size_t size, uint16_t packet_id,
                                  const char *filter, uint8_t qos, size_t *out_len);
mqtt_status mqtt_encode_pingreq(uint8_t *buf, size_t size, size_t *out_len);
mqtt_status mqtt_encode_disconnect(uint8_t *buf, size_t size, size_t *out_len);

/* Reads the fixed header: MQTT_ERR_NEED_MORE until it is complete,
 * MQTT_ERR_MALFORMED for a bad length encoding. */
mqtt_status mqtt_decode_fixed_header(const uint8_t *buf, size_t len, uint8_t *first_byte,
                                     uint32_t *remaining_len, size_t *header_len);
/* Decodes one whole packet (fixed header included) sent by a server. */
mqtt_status mqtt_decode_packet(const uint8_t *buf, size_t len, mqtt_packet *out);

/* Well-formed UTF-8 without U+0000, overlong forms or surrogates (MQTT 1.5.3). */
bool mqtt_utf8_valid(const char *s, size_t len);
/* A topic name for PUBLISH: 1..65535 bytes of valid UTF-8, no '+' or '#'. */
bool mqtt_topic_name_valid(const char *topic, size_t len);
/* A topic filter for SUBSCRIBE: '+' fills a whole level, '#' only as the last level. */
bool mqtt_topic_filter_valid(const char *filter, size_t len);

const char *mqtt_status_name(mqtt_status s);
const char *mqtt_connack_text(uint8_t code);

#endif
