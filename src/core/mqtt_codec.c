/*
 * MQTT 3.1.1 packet encoder and decoder (see mqtt_codec.h).
 *
 * Encoders compute the whole packet size first and write nothing when it does
 * not fit. The decoder accepts only what a server may send and checks every
 * length against the bytes it was given.
 */
#include "mqtt_codec.h"

#include <string.h>

#define MQTT_STRING_MAX 65535u

/* Length of a NUL-terminated string, stopping at limit (returns limit then). */
static size_t bounded_len(const char *s, size_t limit)
{
    size_t n = 0;
    while (n < limit && s[n] != '\0') {
        n++;
    }
    return n;
}

static size_t varint_size(size_t v)
{
    return v < 128u ? 1u : v < 16384u ? 2u : v < 2097152u ? 3u : 4u;
}

static uint8_t *put_varint(uint8_t *p, size_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7Fu);
        v >>= 7;
        *p++ = v != 0 ? (uint8_t)(b | 0x80u) : b;
    } while (v != 0);
    return p;
}

static uint8_t *put_u16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, size_t n)
{
    p = put_u16(p, n);
    if (n != 0) {
        memcpy(p, data, n);
    }
    return p + n;
}

/* Checks size and writes the fixed header; returns where the rest goes, or NULL. */
static uint8_t *begin_packet(uint8_t *buf, size_t size, uint8_t first, size_t remaining,
                             size_t *out_len)
{
    size_t total = 1u + varint_size(remaining) + remaining;
    if (buf == NULL || out_len == NULL || total > size) {
        return NULL;
    }
    *out_len = total;
    buf[0] = first;
    return put_varint(buf + 1, remaining);
}

static mqtt_status fit_error(const uint8_t *buf, const size_t *out_len)
{
    return buf == NULL || out_len == NULL ? MQTT_ERR_BAD_ARGUMENT : MQTT_ERR_BUFFER_TOO_SMALL;
}

bool mqtt_utf8_valid(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        uint32_t cp;
        size_t n;
        if (b == 0) {
            return false;
        }
        if (b < 0x80u) {
            i++;
            continue;
        }
        if (b >= 0xC2u && b <= 0xDFu) {
            n = 1;
            cp = b & 0x1Fu;
        } else if (b >= 0xE0u && b <= 0xEFu) {
            n = 2;
            cp = b & 0x0Fu;
        } else if (b >= 0xF0u && b <= 0xF4u) {
            n = 3;
            cp = b & 0x07u;
        } else {
            return false; /* continuation byte, overlong lead (C0, C1) or above F4 */
        }
        if (len - i <= n) {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        /* Overlong forms, UTF-16 surrogates, beyond U+10FFFF. */
        if ((n == 2 && cp < 0x800u) || (n == 3 && cp < 0x10000u) ||
            (cp >= 0xD800u && cp <= 0xDFFFu) || cp > 0x10FFFFu) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

bool mqtt_topic_name_valid(const char *topic, size_t len)
{
    if (topic == NULL || len == 0 || len > MQTT_STRING_MAX || !mqtt_utf8_valid(topic, len)) {
        return false;
    }
    return memchr(topic, '+', len) == NULL && memchr(topic, '#', len) == NULL;
}

bool mqtt_topic_filter_valid(const char *filter, size_t len)
{
    if (filter == NULL || len == 0 || len > MQTT_STRING_MAX || !mqtt_utf8_valid(filter, len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        bool level_start = i == 0 || filter[i - 1] == '/';
        bool level_end = i + 1 == len || filter[i + 1] == '/';
        if (filter[i] == '+' && !(level_start && level_end)) {
            return false;
        }
        if (filter[i] == '#' && !(level_start && i + 1 == len)) {
            return false;
        }
    }
    return true;
}

mqtt_status mqtt_encode_connect(uint8_t *buf, size_t size, const mqtt_connect_options *o,
                                size_t *out_len)
{
    if (o == NULL || o->client_id == NULL) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    size_t id_len = bounded_len(o->client_id, MQTT_MAX_CLIENT_ID_LEN + 1u);
    size_t user_len = o->username ? bounded_len(o->username, MQTT_STRING_MAX + 1u) : 0;
    size_t pass_len = o->password ? bounded_len(o->password, MQTT_STRING_MAX + 1u) : 0;
    size_t will_len = o->will_topic ? bounded_len(o->will_topic, MQTT_MAX_TOPIC_LEN + 1u) : 0;
    /* An empty client id is allowed by MQTT 3.1.1 only with a clean session. */
    if (id_len > MQTT_MAX_CLIENT_ID_LEN || (id_len == 0 && !o->clean_session) ||
        !mqtt_utf8_valid(o->client_id, id_len) || user_len > MQTT_STRING_MAX ||
        pass_len > MQTT_STRING_MAX || (o->password && !o->username) ||
        (o->username && !mqtt_utf8_valid(o->username, user_len))) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    uint8_t flags = o->clean_session ? 0x02u : 0u;
    size_t remaining = 10u + 2u + id_len;
    if (o->will_topic) {
        if (will_len > MQTT_MAX_TOPIC_LEN || !mqtt_topic_name_valid(o->will_topic, will_len) ||
            o->will_qos > 2u || o->will_payload_len > MQTT_STRING_MAX ||
            (o->will_payload == NULL && o->will_payload_len != 0)) {
            return MQTT_ERR_BAD_ARGUMENT;
        }
        flags |= (uint8_t)(0x04u | (o->will_qos << 3) | (o->will_retain ? 0x20u : 0u));
        remaining += 2u + will_len + 2u + o->will_payload_len;
    }
    if (o->username) {
        flags |= 0x80u;
        remaining += 2u + user_len;
    }
    if (o->password) {
        flags |= 0x40u;
        remaining += 2u + pass_len;
    }
    uint8_t *p = begin_packet(buf, size, 0x10u, remaining, out_len);
    if (p == NULL) {
        return fit_error(buf, out_len);
    }
    p = put_bytes(p, "MQTT", 4);
    *p++ = 4; /* protocol level 3.1.1 */
    *p++ = flags;
    p = put_u16(p, o->keepalive_s);
    p = put_bytes(p, o->client_id, id_len);
    if (o->will_topic) {
        p = put_bytes(p, o->will_topic, will_len);
        p = put_bytes(p, o->will_payload, o->will_payload_len);
    }
    if (o->username) {
        p = put_bytes(p, o->username, user_len);
    }
    if (o->password) {
        (void)put_bytes(p, o->password, pass_len);
    }
    return MQTT_OK;
}

mqtt_status mqtt_encode_publish(uint8_t *buf, size_t size, const mqtt_publish *pub, size_t *out_len)
{
    if (pub == NULL || pub->topic_len > MQTT_MAX_TOPIC_LEN ||
        !mqtt_topic_name_valid(pub->topic, pub->topic_len) || pub->qos > 2u ||
        (pub->qos > 0u && pub->packet_id == 0) || (pub->qos == 0u && pub->dup) ||
        (pub->payload == NULL && pub->payload_len != 0) ||
        pub->payload_len > MQTT_MAX_REMAINING_LEN - 4u - MQTT_MAX_TOPIC_LEN) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    size_t remaining = 2u + pub->topic_len + (pub->qos > 0u ? 2u : 0u) + pub->payload_len;
    uint8_t first = (uint8_t)(0x30u | (pub->dup ? 0x08u : 0u) | (pub->qos << 1) |
                              (pub->retain ? 0x01u : 0u));
    uint8_t *p = begin_packet(buf, size, first, remaining, out_len);
    if (p == NULL) {
        return fit_error(buf, out_len);
    }
    p = put_bytes(p, pub->topic, pub->topic_len);
    if (pub->qos > 0u) {
        p = put_u16(p, pub->packet_id);
    }
    if (pub->payload_len != 0) {
        memcpy(p, pub->payload, pub->payload_len);
    }
    return MQTT_OK;
}

size_t mqtt_publish_packet_size(size_t topic_len, size_t payload_len, uint8_t qos)
{
    if (topic_len > MQTT_STRING_MAX || payload_len > MQTT_MAX_REMAINING_LEN) {
        return SIZE_MAX;
    }
    size_t remaining = 2u + topic_len + (qos > 0u ? 2u : 0u) + payload_len;
    return remaining > MQTT_MAX_REMAINING_LEN ? SIZE_MAX : 1u + varint_size(remaining) + remaining;
}

mqtt_status mqtt_encode_puback(uint8_t *buf, size_t size, uint16_t packet_id, size_t *out_len)
{
    if (packet_id == 0) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    uint8_t *p = begin_packet(buf, size, 0x40u, 2u, out_len);
    if (p == NULL) {
        return fit_error(buf, out_len);
    }
    (void)put_u16(p, packet_id);
    return MQTT_OK;
}

mqtt_status mqtt_encode_subscribe(uint8_t *buf, size_t size, uint16_t packet_id,
                                  const char *filter, uint8_t qos, size_t *out_len)
{
    size_t len = filter ? bounded_len(filter, MQTT_MAX_TOPIC_LEN + 1u) : 0;
    if (packet_id == 0 || qos > 2u || len > MQTT_MAX_TOPIC_LEN ||
        !mqtt_topic_filter_valid(filter, len)) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    uint8_t *p = begin_packet(buf, size, 0x82u, 2u + 2u + len + 1u, out_len);
    if (p == NULL) {
        return fit_error(buf, out_len);
    }
    p = put_u16(p, packet_id);
    p = put_bytes(p, filter, len);
    *p = qos;
    return MQTT_OK;
}

static mqtt_status encode_empty(uint8_t *buf, size_t size, uint8_t first, size_t *out_len)
{
    if (begin_packet(buf, size, first, 0, out_len) == NULL) {
        return fit_error(buf, out_len);
    }
    return MQTT_OK;
}

mqtt_status mqtt_encode_pingreq(uint8_t *buf, size_t size, size_t *out_len)
{
    return encode_empty(buf, size, 0xC0u, out_len);
}

mqtt_status mqtt_encode_disconnect(uint8_t *buf, size_t size, size_t *out_len)
{
    return encode_empty(buf, size, 0xE0u, out_len);
}

mqtt_status mqtt_decode_fixed_header(const uint8_t *buf, size_t len, uint8_t *first_byte,
                                     uint32_t *remaining_len, size_t *header_len)
{
    if ((buf == NULL && len != 0) || first_byte == NULL || remaining_len == NULL ||
        header_len == NULL) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    uint32_t value = 0;
    for (size_t i = 1; i <= 4u; i++) {
        if (i >= len) {
            return MQTT_ERR_NEED_MORE;
        }
        value |= (uint32_t)(buf[i] & 0x7Fu) << (7u * (i - 1u));
        if ((buf[i] & 0x80u) == 0) {
            *first_byte = buf[0];
            *remaining_len = value;
            *header_len = i + 1u;
            return MQTT_OK;
        }
    }
    return MQTT_ERR_MALFORMED; /* a fifth length byte */
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static mqtt_status decode_publish(const uint8_t *p, uint32_t len, uint8_t flags, mqtt_publish *pub)
{
    pub->qos = (uint8_t)((flags >> 1) & 3u);
    pub->dup = (flags & 0x08u) != 0;
    pub->retain = (flags & 0x01u) != 0;
    pub->packet_id = 0;
    if (pub->qos == 3u || (pub->qos == 0u && pub->dup) || len < 2u) {
        return MQTT_ERR_MALFORMED;
    }
    size_t topic_len = get_u16(p);
    size_t pos = 2u + topic_len + (pub->qos > 0u ? 2u : 0u);
    if (pos > len || !mqtt_topic_name_valid((const char *)p + 2, topic_len)) {
        return MQTT_ERR_MALFORMED;
    }
    pub->topic = (const char *)p + 2;
    pub->topic_len = topic_len;
    if (pub->qos > 0u) {
        pub->packet_id = get_u16(p + 2 + topic_len);
        if (pub->packet_id == 0) {
            return MQTT_ERR_MALFORMED;
        }
    }
    pub->payload = p + pos;
    pub->payload_len = len - pos;
    return MQTT_OK;
}

mqtt_status mqtt_decode_packet(const uint8_t *buf, size_t len, mqtt_packet *out)
{
    uint8_t first;
    uint32_t rl;
    size_t hl;
    if (out == NULL) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    mqtt_status st = mqtt_decode_fixed_header(buf, len, &first, &rl, &hl);
    if (st != MQTT_OK) {
        return st;
    }
    if (len - hl < rl) {
        return MQTT_ERR_NEED_MORE;
    }
    const uint8_t *p = buf + hl;
    uint8_t type = (uint8_t)(first >> 4);
    uint8_t flags = (uint8_t)(first & 0x0Fu);
    memset(out, 0, sizeof *out);
    out->type = (mqtt_packet_type)type;
    out->flags = flags;
    switch (type) {
    case MQTT_CONNACK:
        /* Only bit 0 (session present) may be set, and only when accepted. */
        if (flags != 0 || rl != 2u || (p[0] & 0xFEu) != 0 || (p[0] != 0 && p[1] != 0)) {
            return MQTT_ERR_MALFORMED;
        }
        out->u.connack.session_present = p[0] != 0;
        out->u.connack.return_code = p[1];
        return MQTT_OK;
    case MQTT_PUBLISH:
        return decode_publish(p, rl, flags, &out->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        /* PUBREL alone carries the reserved flags 0b0010. */
        if (flags != (type == MQTT_PUBREL ? 2u : 0u) || rl != 2u) {
            return MQTT_ERR_MALFORMED;
        }
        out->u.packet_id = get_u16(p);
        return out->u.packet_id == 0 ? MQTT_ERR_MALFORMED : MQTT_OK;
    case MQTT_SUBACK:
        if (flags != 0 || rl < 3u) {
            return MQTT_ERR_MALFORMED;
        }
        out->u.suback.packet_id = get_u16(p);
        out->u.suback.return_code = p[2];
        for (uint32_t i = 2; i < rl; i++) {
            if (p[i] > 2u && p[i] != 0x80u) {
                return MQTT_ERR_MALFORMED;
            }
        }
        return out->u.suback.packet_id == 0 ? MQTT_ERR_MALFORMED : MQTT_OK;
    case MQTT_PINGRESP:
        return flags != 0 || rl != 0 ? MQTT_ERR_MALFORMED : MQTT_OK;
    default:
        /* Reserved types and packets only a client sends. */
        return MQTT_ERR_MALFORMED;
    }
}

const char *mqtt_status_name(mqtt_status s)
{
    static const char *const names[] = {
        "ok", "need more bytes", "malformed packet", "buffer too small", "bad argument",
        "not connected", "in-flight table full", "output buffer busy", "connect timeout",
        "keepalive timeout (no traffic from the broker)", "connection refused by the broker",
        "transport error", "connection closed by the peer", "TLS failure",
        "name did not resolve", "protocol error",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown status";
}

const char *mqtt_connack_text(uint8_t code)
{
    static const char *const texts[] = {
        "connection accepted",
        "refused: protocol version not supported by the broker",
        "refused: client identifier rejected",
        "refused: server unavailable",
        "refused: bad user name or password",
        "refused: not authorized",
    };
    return code < sizeof texts / sizeof texts[0] ? texts[code] : "refused: reserved return code";
}
