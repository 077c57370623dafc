/*
 * MQTT 3.1.1 client session, sans-IO (see mqtt_client.h and docs/mqtt-client.md).
 *
 * One state machine: IDLE -> WAIT_RETRY -> OPENING -> WAIT_CONNACK -> CONNECTED,
 * and from any connected or connecting state to CLOSING on an error, then back
 * to WAIT_RETRY once the platform reports the transport down.
 */
#include "mqtt_client.h"

#include <string.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_BACKOFF_FIRST_MS 250u
#define DEFAULT_BACKOFF_BASE_MS 1000u
#define DEFAULT_BACKOFF_MAX_MS 60000u
#define DEFAULT_BACKOFF_REFUSED_MS 60000u
#define INFLIGHT_MAX_BYTES 65535u
#define PUBLISH_DUP_FLAG 0x08u

/* Wrap-safe: true when time t has come at now. */
static bool due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void emit(mqtt_client *c, mqtt_event *e)
{
    if (c->on_event != NULL) {
        c->on_event(c->event_ctx, e);
    }
}

static size_t inflight_count(const mqtt_client *c)
{
    size_t n = 0;
    while (n < MQTT_MAX_INFLIGHT && c->inflight[n].used) {
        n++;
    }
    return n;
}

static size_t inflight_end(const mqtt_client *c, size_t count)
{
    return count == 0 ? 0 : (size_t)c->inflight[count - 1].offset + c->inflight[count - 1].length;
}

static uint16_t new_packet_id(mqtt_client *c)
{
    for (;;) {
        c->next_packet_id = (uint16_t)(c->next_packet_id + 1u);
        uint16_t id = c->next_packet_id;
        bool used = id == 0 || id == c->subscribe_packet_id;
        for (size_t i = 0; i < MQTT_MAX_INFLIGHT; i++) {
            used = used || (c->inflight[i].used && c->inflight[i].packet_id == id);
        }
        if (!used) {
            return id;
        }
    }
}

static void fill_connect(const mqtt_client *c, bool clean, mqtt_connect_options *o)
{
    const mqtt_client_config *cfg = &c->cfg;
    memset(o, 0, sizeof *o);
    o->client_id = cfg->client_id;
    o->username = cfg->username;
    o->password = cfg->password;
    o->will_topic = cfg->will_topic;
    o->will_payload = cfg->will_payload;
    o->will_payload_len = cfg->will_payload_len;
    o->will_qos = cfg->will_qos;
    o->will_retain = cfg->will_retain;
    o->clean_session = clean;
    o->keepalive_s = cfg->keepalive_s;
}

static void count(uint8_t *n)
{
    if (*n < UINT8_MAX) {
        (*n)++;
    }
}

/* Leaves the connection: reports it, classifies the failure for the retry
 * policy (mqtt_client.h) and waits for the platform to close it. */
static void lose(mqtt_client *c, uint32_t now, mqtt_status reason)
{
    mqtt_event e;
    memset(&e, 0, sizeof e);
    e.reason = reason;
    c->last_error = reason;
    if (c->state == MQTT_STATE_CONNECTED) {
        e.type = MQTT_EVENT_DISCONNECTED;
        if (reason != MQTT_OK) {
            c->stats.outages++;
        }
        /* c->stable is set by step(), so a connection up for more than the
         * 49-day wrap of the clock still counts as stable. A missing SUBACK
         * never makes a session good. */
        if ((c->stable || due(now, c->state_since + MQTT_STABLE_CONNECTION_MS)) &&
            reason != MQTT_ERR_TIMEOUT) {
            c->short_sessions = 0;
        } else {
            count(&c->short_sessions);
        }
        c->fast_retry = true;
        c->expensive = c->short_sessions > 1u;
    } else {
        e.type = MQTT_EVENT_CONNECT_FAILED;
        e.u.connack_code = reason == MQTT_ERR_REFUSED ? c->last_connack_code : 0;
        c->stats.connect_failures++;
        /* The transport could not be opened: nobody paid for it, and a broker
         * that is down is not dropping our sessions. */
        c->expensive = c->state != MQTT_STATE_OPENING || reason == MQTT_ERR_TLS;
        if (c->expensive) {
            count(&c->attempt);
        } else {
            c->short_sessions = 0;
        }
    }
    c->state = MQTT_STATE_CLOSING;
    c->state_since = now;
    emit(c, &e);
}

static void protocol_error(mqtt_client *c, uint32_t now)
{
    c->stats.protocol_errors++;
    lose(c, now, MQTT_ERR_PROTOCOL);
}

/* base doubled n - 1 times, capped, with jitter: uniform in [d/2, d], so that
 * many devices do not retry in step. */
static uint32_t jittered(mqtt_client *c, uint32_t d, uint8_t n)
{
    const mqtt_client_config *cfg = &c->cfg;
    for (uint8_t i = 1; i < n && d < cfg->backoff_max_ms; i++) {
        d *= 2u; /* d < max <= MQTT_MAX_DELAY_MS: no overflow */
    }
    if (d > cfg->backoff_max_ms) {
        d = cfg->backoff_max_ms;
    }
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 17;
    c->rng ^= c->rng << 5;
    return d / 2u + c->rng % (d - d / 2u + 1u);
}

static uint32_t backoff_delay(mqtt_client *c)
{
    const mqtt_client_config *cfg = &c->cfg;
    uint32_t d;
    if (c->expensive) {
        uint8_t n = c->attempt;
        if (c->short_sessions > n) {
            n = (uint8_t)(c->short_sessions - 1u);
        }
        d = jittered(c, cfg->backoff_base_ms, n);
    } else {
        d = jittered(c, c->fast_retry ? cfg->backoff_first_ms : cfg->backoff_base_ms, 1);
    }
    c->fast_retry = false;
    if (c->last_error == MQTT_ERR_REFUSED &&
        (c->last_connack_code == MQTT_CONNACK_BAD_CREDENTIALS ||
         c->last_connack_code == MQTT_CONNACK_NOT_AUTHORIZED) &&
        d < cfg->backoff_refused_ms) {
        d = cfg->backoff_refused_ms;
    }
    return d;
}

/* Queues what the connection still owes: the next SUBSCRIBE, then stored QoS1
 * publications not yet written to this connection, oldest first. */
static void flush(mqtt_client *c, uint32_t now)
{
    if (c->state != MQTT_STATE_CONNECTED) {
        return;
    }
    if (c->subscribe_packet_id == 0 && c->subscribe_index < MQTT_MAX_SUBSCRIPTIONS &&
        c->cfg.subscriptions[c->subscribe_index] != NULL &&
        (!c->subscribe_wait || due(now, c->subscribe_deadline))) {
        uint16_t id = new_packet_id(c);
        size_t n = 0;
        if (mqtt_encode_subscribe(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len, id,
                                  c->cfg.subscriptions[c->subscribe_index],
                                  c->cfg.subscription_qos, &n) == MQTT_OK) {
            c->tx_len += n;
            c->subscribe_packet_id = id;
            c->subscribe_wait = false;
            c->subscribe_deadline = now + c->cfg.connect_timeout_ms;
        }
    }
    for (size_t i = 0; i < MQTT_MAX_INFLIGHT && c->inflight[i].used; i++) {
        mqtt_inflight_slot *s = &c->inflight[i];
        if (s->sent) {
            continue;
        }
        if (c->tx_len + s->length + MQTT_TX_RESERVE > c->buf.tx_size) {
            break; /* keep the order: later ones wait too */
        }
        memcpy(c->buf.tx + c->tx_len, c->buf.inflight + s->offset, s->length);
        c->tx_len += s->length;
        s->sent = 1;
        /* Any later copy of this packet is a re-delivery. */
        c->buf.inflight[s->offset] |= PUBLISH_DUP_FLAG;
    }
}

static void reset_connection(mqtt_client *c)
{
    c->rx_len = 0;
    c->rx_total = 0;
    c->rx_skip = 0;
    c->rx_dropped_len = 0;
    c->tx_len = 0;
    c->ping_outstanding = false;
    c->subscribe_packet_id = 0;
    c->subscribe_index = 0;
    c->subscribe_wait = false;
    c->subscribe_refusals = 0;
    c->stable = false;
    for (size_t i = 0; i < MQTT_MAX_INFLIGHT; i++) {
        c->inflight[i].sent = 0;
    }
}

/* 0 means the default; longer than MQTT_MAX_DELAY_MS is cut to it, so that
 * every deadline stays within the wrap-safe half of the 32-bit clock. */
static uint32_t timing(uint32_t ms, uint32_t def)
{
    return ms == 0 ? def : ms > MQTT_MAX_DELAY_MS ? MQTT_MAX_DELAY_MS : ms;
}

mqtt_status mqtt_client_init(mqtt_client *c, const mqtt_client_config *cfg,
                             const mqtt_buffers *buffers, mqtt_event_fn on_event,
                             void *event_ctx, uint32_t seed)
{
    if (c == NULL || cfg == NULL || buffers == NULL) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    memset(c, 0, sizeof *c);
    if (cfg->client_id == NULL || cfg->client_id[0] == '\0' ||
        cfg->session_mode > MQTT_SESSION_CLEAN_FIRST || cfg->subscription_qos > 1u ||
        buffers->rx == NULL || buffers->rx_size < MQTT_MIN_RX_SIZE || buffers->tx == NULL ||
        buffers->tx_size <= MQTT_TX_RESERVE ||
        (buffers->inflight == NULL && buffers->inflight_size != 0)) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    c->cfg = *cfg;
    c->buf = *buffers;
    if (c->buf.inflight_size > INFLIGHT_MAX_BYTES) {
        c->buf.inflight_size = INFLIGHT_MAX_BYTES; /* slot offsets are 16-bit */
    }
    /* The CONNECT and every SUBSCRIBE must be valid and fit an empty tx. */
    mqtt_connect_options o;
    size_t n = 0;
    fill_connect(c, false, &o);
    mqtt_status st = mqtt_encode_connect(c->buf.tx, c->buf.tx_size, &o, &n);
    for (size_t i = 0; st == MQTT_OK && i < MQTT_MAX_SUBSCRIPTIONS && cfg->subscriptions[i]; i++) {
        st = mqtt_encode_subscribe(c->buf.tx, c->buf.tx_size, 1, cfg->subscriptions[i],
                                   cfg->subscription_qos, &n);
    }
    if (st != MQTT_OK) {
        memset(c, 0, sizeof *c);
        return st;
    }
    mqtt_client_config *k = &c->cfg;
    k->connect_timeout_ms = timing(k->connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    k->backoff_first_ms = timing(k->backoff_first_ms, DEFAULT_BACKOFF_FIRST_MS);
    k->backoff_base_ms = timing(k->backoff_base_ms, DEFAULT_BACKOFF_BASE_MS);
    k->backoff_max_ms = timing(k->backoff_max_ms, DEFAULT_BACKOFF_MAX_MS);
    k->backoff_refused_ms = timing(k->backoff_refused_ms, DEFAULT_BACKOFF_REFUSED_MS);
    c->on_event = on_event;
    c->event_ctx = event_ctx;
    c->rng = seed != 0 ? seed : 0x2545F491u;
    return MQTT_OK;
}

void mqtt_client_start(mqtt_client *c, uint32_t now)
{
    c->stopping = false;
    if (c->state == MQTT_STATE_IDLE) {
        c->state = MQTT_STATE_WAIT_RETRY;
        c->state_since = now;
        c->deadline = now;
        c->attempt = 0;
        c->short_sessions = 0;
    }
}

void mqtt_client_stop(mqtt_client *c, uint32_t now)
{
    c->stopping = true;
    switch (c->state) {
    case MQTT_STATE_CONNECTED: {
        size_t n = 0;
        if (mqtt_encode_disconnect(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len, &n) ==
            MQTT_OK) {
            c->tx_len += n;
        }
        lose(c, now, MQTT_OK);
        break;
    }
    case MQTT_STATE_OPENING:
    case MQTT_STATE_WAIT_CONNACK:
        c->state = MQTT_STATE_CLOSING;
        c->state_since = now;
        break;
    case MQTT_STATE_CLOSING:
        break;
    default:
        c->state = MQTT_STATE_IDLE;
        c->state_since = now;
        break;
    }
}

/* A ping goes out a tenth of the keepalive early, so that a late wake-up
 * never stretches the interval past the keepalive. */
static uint32_t ping_interval(uint32_t ka_ms)
{
    return ka_ms - ka_ms / 10u;
}

mqtt_action mqtt_client_step(mqtt_client *c, uint32_t now)
{
    uint32_t ka_ms = c->cfg.keepalive_s * 1000u;
    uint32_t ping_ms = ping_interval(ka_ms);
    switch (c->state) {
    case MQTT_STATE_WAIT_RETRY:
        if (due(now, c->deadline)) {
            reset_connection(c);
            c->state = MQTT_STATE_OPENING;
            c->state_since = now;
            c->deadline = now + c->cfg.connect_timeout_ms;
            return MQTT_ACTION_OPEN;
        }
        break;
    case MQTT_STATE_OPENING:
    case MQTT_STATE_WAIT_CONNACK:
        if (due(now, c->deadline)) {
            lose(c, now, MQTT_ERR_TIMEOUT);
        }
        break;
    case MQTT_STATE_CONNECTED:
        if (due(now, c->state_since + MQTT_STABLE_CONNECTION_MS)) {
            c->stable = true;
        }
        if (ka_ms != 0 && due(now, c->last_rx + ka_ms + ka_ms / 2u)) {
            lose(c, now, MQTT_ERR_KEEPALIVE);
            break;
        }
        if (c->subscribe_packet_id != 0 && due(now, c->subscribe_deadline)) {
            lose(c, now, MQTT_ERR_TIMEOUT); /* a broker that never answers SUBSCRIBE */
            break;
        }
        /* Ping when we have sent nothing for most of a keepalive period (the
         * broker needs to hear from us within it), or heard nothing (we need
         * to hear from it: QoS0 traffic out gets no answer). */
        if (ka_ms != 0 && ((c->tx_len == 0 && due(now, c->last_tx + ping_ms)) ||
                           (!c->ping_outstanding && due(now, c->last_rx + ping_ms)))) {
            size_t n = 0;
            if (mqtt_encode_pingreq(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len, &n) ==
                MQTT_OK) {
                c->tx_len += n;
                c->ping_outstanding = true;
                c->ping_sent_at = now;
                c->last_tx = now;
            }
        }
        flush(c, now);
        break;
    default:
        break;
    }
    return c->state == MQTT_STATE_CLOSING ? MQTT_ACTION_CLOSE : MQTT_ACTION_NONE;
}

uint32_t mqtt_client_next_deadline(const mqtt_client *c, uint32_t now)
{
    uint32_t t = now + MQTT_IDLE_WAKE_MS;
    uint32_t ka_ms = c->cfg.keepalive_s * 1000u;
    switch (c->state) {
    case MQTT_STATE_WAIT_RETRY:
    case MQTT_STATE_OPENING:
    case MQTT_STATE_WAIT_CONNACK:
        t = c->deadline;
        break;
    case MQTT_STATE_CONNECTED:
        if (ka_ms != 0) {
            uint32_t ping_tx = c->last_tx + ping_interval(ka_ms);
            uint32_t ping_rx = c->last_rx + ping_interval(ka_ms);
            t = c->last_rx + ka_ms + ka_ms / 2u; /* dead */
            if (c->tx_len == 0 && (int32_t)(ping_tx - t) < 0) {
                t = ping_tx;
            }
            if (!c->ping_outstanding && (int32_t)(ping_rx - t) < 0) {
                t = ping_rx;
            }
        }
        if ((c->subscribe_packet_id != 0 || c->subscribe_wait) &&
            (int32_t)(c->subscribe_deadline - t) < 0) {
            t = c->subscribe_deadline;
        }
        break;
    case MQTT_STATE_CLOSING:
        t = now;
        break;
    default:
        break;
    }
    if ((int32_t)(t - now) < 0) {
        return now;
    }
    return (t - now) > MQTT_IDLE_WAKE_MS ? now + MQTT_IDLE_WAKE_MS : t;
}

void mqtt_client_transport_up(mqtt_client *c, uint32_t now)
{
    if (c->state != MQTT_STATE_OPENING) {
        return;
    }
    mqtt_session_mode mode = c->cfg.session_mode;
    c->clean_requested = mode == MQTT_SESSION_CLEAN ||
                         (mode == MQTT_SESSION_CLEAN_FIRST && !c->had_accepted_connect);
    mqtt_connect_options o;
    size_t n = 0;
    fill_connect(c, c->clean_requested, &o);
    /* Checked by init: the CONNECT fits the empty tx. */
    (void)mqtt_encode_connect(c->buf.tx, c->buf.tx_size, &o, &n);
    c->tx_len = n;
    c->state = MQTT_STATE_WAIT_CONNACK;
    c->last_rx = now;
    c->last_tx = now;
}

void mqtt_client_transport_down(mqtt_client *c, uint32_t now, mqtt_status reason)
{
    if (c->state == MQTT_STATE_IDLE || c->state == MQTT_STATE_WAIT_RETRY) {
        return;
    }
    bool reopen = c->reopen_persistent && c->state == MQTT_STATE_CLOSING;
    c->reopen_persistent = false;
    if (c->state != MQTT_STATE_CLOSING) {
        lose(c, now, reason == MQTT_OK ? MQTT_ERR_CLOSED : reason);
    }
    reset_connection(c);
    c->state_since = now;
    if (c->stopping) {
        c->state = MQTT_STATE_IDLE;
        return;
    }
    c->state = MQTT_STATE_WAIT_RETRY;
    c->deadline = reopen ? now : now + backoff_delay(c);
}

static void on_connack(mqtt_client *c, uint32_t now, const mqtt_packet *pk)
{
    if (pk->type != MQTT_CONNACK) {
        protocol_error(c, now);
        return;
    }
    if (c->clean_requested && pk->u.connack.session_present) {
        protocol_error(c, now); /* a clean session cannot be present (3.2.2.2) */
        return;
    }
    if (pk->u.connack.return_code != MQTT_CONNACK_ACCEPTED) {
        c->last_connack_code = pk->u.connack.return_code;
        lose(c, now, MQTT_ERR_REFUSED);
        return;
    }
    /* A new session has never seen our stored packets: they go as new publishes. */
    for (size_t i = 0; c->clean_requested && i < MQTT_MAX_INFLIGHT && c->inflight[i].used; i++) {
        c->buf.inflight[c->inflight[i].offset] &= (uint8_t)~PUBLISH_DUP_FLAG;
    }
    if (c->cfg.session_mode == MQTT_SESSION_CLEAN_FIRST && c->clean_requested) {
        /* The stale session is gone. A clean session would itself be discarded
         * when this connection drops, losing everything sent to us during the
         * next outage; so leave at once and come back persistent. */
        size_t n = 0;
        if (mqtt_encode_disconnect(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len, &n) ==
            MQTT_OK) {
            c->tx_len += n;
        }
        c->had_accepted_connect = true;
        c->reopen_persistent = true;
        c->state = MQTT_STATE_CLOSING;
        c->state_since = now;
        return;
    }
    c->state = MQTT_STATE_CONNECTED;
    c->state_since = now;
    c->had_accepted_connect = true;
    c->last_connack_code = 0;
    c->stats.connects++;
    c->attempt = 0; /* transport, TLS and credentials work */
    mqtt_event e;
    memset(&e, 0, sizeof e);
    e.type = MQTT_EVENT_CONNECTED;
    e.u.connected.session_present = pk->u.connack.session_present;
    emit(c, &e);
    flush(c, now);
}

static void on_puback(mqtt_client *c, uint32_t now, uint16_t id)
{
    size_t count = inflight_count(c);
    for (size_t i = 0; i < count; i++) {
        mqtt_inflight_slot *s = &c->inflight[i];
        /* Not necessarily re-sent yet on this connection: a resumed session
         * may ack what the broker already had. */
        if (s->packet_id != id) {
            continue;
        }
        size_t len = s->length;
        size_t end = inflight_end(c, count);
        memmove(c->buf.inflight + s->offset, c->buf.inflight + s->offset + len,
                end - s->offset - len);
        for (size_t j = i; j + 1 < count; j++) {
            c->inflight[j] = c->inflight[j + 1];
            c->inflight[j].offset = (uint16_t)(c->inflight[j].offset - len);
        }
        memset(&c->inflight[count - 1], 0, sizeof c->inflight[0]);
        mqtt_event e;
        memset(&e, 0, sizeof e);
        e.type = MQTT_EVENT_PUBLISH_ACKED;
        e.u.packet_id = id;
        emit(c, &e);
        flush(c, now);
        return;
    }
    /* A PUBACK for nothing we stored: the broker acked a packet twice (a
     * stored one acked right after CONNACK, then its re-sent copy). Harmless;
     * counted and ignored. */
    c->stats.stray_pubacks++;
}

static void on_packet(mqtt_client *c, uint32_t now)
{
    mqtt_packet pk;
    mqtt_event e;
    memset(&e, 0, sizeof e);
    if (mqtt_decode_packet(c->buf.rx, c->rx_len, &pk) != MQTT_OK) {
        protocol_error(c, now);
        return;
    }
    if (c->state == MQTT_STATE_WAIT_CONNACK) {
        on_connack(c, now, &pk);
        return;
    }
    switch (pk.type) {
    case MQTT_PUBLISH: {
        bool acked = true;
        if (pk.u.publish.qos > 1u) {
            break; /* never subscribed at QoS 2 */
        }
        if (pk.u.publish.qos == 1u) {
            size_t n = 0;
            acked = mqtt_encode_puback(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len,
                                       pk.u.publish.packet_id, &n) == MQTT_OK;
            c->tx_len += n;
        }
        e.type = MQTT_EVENT_MESSAGE;
        e.u.message = pk.u.publish;
        emit(c, &e);
        if (!acked && c->state == MQTT_STATE_CONNECTED) {
            lose(c, now, MQTT_ERR_BUSY); /* the broker re-sends it on a persistent session */
        }
        return;
    }
    case MQTT_PUBACK:
        on_puback(c, now, pk.u.packet_id);
        return;
    case MQTT_SUBACK: {
        uint8_t granted = pk.u.suback.return_code;
        if (pk.u.suback.packet_id != c->subscribe_packet_id ||
            (granted != 0x80u && granted > c->cfg.subscription_qos)) {
            break;
        }
        e.type = MQTT_EVENT_SUBSCRIBED;
        e.u.suback.packet_id = pk.u.suback.packet_id;
        e.u.suback.index = c->subscribe_index;
        e.u.suback.granted_qos = granted;
        c->subscribe_packet_id = 0;
        if (granted == 0x80u) {
            /* Refused: the same filter again later, backing off. */
            e.type = MQTT_EVENT_SUBSCRIBE_FAILED;
            c->stats.subscribe_refusals++;
            count(&c->subscribe_refusals);
            c->subscribe_wait = true;
            c->subscribe_deadline =
                now + jittered(c, c->cfg.backoff_base_ms, c->subscribe_refusals);
        } else {
            c->subscribe_refusals = 0;
            c->subscribe_index++;
        }
        emit(c, &e);
        flush(c, now);
        return;
    }
    case MQTT_PINGRESP:
        c->ping_outstanding = false;
        return;
    default:
        break; /* CONNACK again, QoS 2 flow, UNSUBACK: nothing we asked for */
    }
    protocol_error(c, now);
}

/* A PUBLISH larger than rx has been skipped; rx holds its first rx_size bytes. */
static void on_dropped(mqtt_client *c)
{
    uint8_t first;
    uint32_t rl;
    size_t hl = 0;
    c->stats.dropped_packets++;
    (void)mqtt_decode_fixed_header(c->buf.rx, c->rx_len, &first, &rl, &hl);
    /* Ack a QoS1 one when its packet id fits in rx, so the broker does not keep
     * it in flight for ever; otherwise it stays unacknowledged. */
    if (((first >> 1) & 3u) == 1u && hl + 2u <= c->rx_len) {
        size_t id_at = hl + 2u + (((size_t)c->buf.rx[hl] << 8) | c->buf.rx[hl + 1u]);
        size_t n = 0;
        if (id_at + 2u <= c->rx_len) {
            uint16_t id = (uint16_t)((c->buf.rx[id_at] << 8) | c->buf.rx[id_at + 1u]);
            if (id != 0 && mqtt_encode_puback(c->buf.tx + c->tx_len, c->buf.tx_size - c->tx_len,
                                              id, &n) == MQTT_OK) {
                c->tx_len += n;
            }
        }
    }
    mqtt_event e;
    memset(&e, 0, sizeof e);
    e.type = MQTT_EVENT_PACKET_DROPPED;
    e.u.dropped_len = c->rx_dropped_len;
    emit(c, &e);
}

static bool receiving(const mqtt_client *c)
{
    return c->state == MQTT_STATE_WAIT_CONNACK || c->state == MQTT_STATE_CONNECTED;
}

mqtt_status mqtt_client_receive(mqtt_client *c, uint32_t now, const uint8_t *data, size_t len)
{
    if (data == NULL && len != 0) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    if (!receiving(c)) {
        return MQTT_ERR_NOT_CONNECTED;
    }
    if (len != 0) {
        c->last_rx = now;
    }
    size_t i = 0;
    while (i < len && receiving(c)) {
        if (c->rx_total == 0) {
            uint8_t first;
            uint32_t rl;
            size_t hl;
            c->buf.rx[c->rx_len++] = data[i++];
            mqtt_status st = mqtt_decode_fixed_header(c->buf.rx, c->rx_len, &first, &rl, &hl);
            if (st == MQTT_ERR_NEED_MORE) {
                continue;
            }
            uint8_t type = (uint8_t)(first >> 4);
            uint8_t qos = (uint8_t)((first >> 1) & 3u);
            if (st == MQTT_OK && hl + rl <= c->buf.rx_size) {
                c->rx_total = hl + rl;
            } else if (st == MQTT_OK && type == MQTT_PUBLISH && qos < 2u &&
                       !(qos == 0u && (first & 0x08u)) && c->state == MQTT_STATE_CONNECTED) {
                /* Too big for rx: keep its head (for the packet id), skip the rest. */
                c->rx_total = c->buf.rx_size;
                c->rx_skip = (uint32_t)(hl + rl - c->buf.rx_size);
                c->rx_dropped_len = (uint32_t)(hl + rl);
            } else {
                protocol_error(c, now);
                break;
            }
        } else if (c->rx_len < c->rx_total) {
            size_t n = c->rx_total - c->rx_len;
            n = n < len - i ? n : len - i;
            memcpy(c->buf.rx + c->rx_len, data + i, n);
            c->rx_len += n;
            i += n;
        } else {
            size_t n = len - i < c->rx_skip ? len - i : c->rx_skip;
            c->rx_skip -= (uint32_t)n;
            i += n;
        }
        if (c->rx_total != 0 && c->rx_len == c->rx_total && c->rx_skip == 0) {
            if (c->rx_dropped_len != 0) {
                on_dropped(c);
            } else {
                on_packet(c, now);
            }
            c->rx_len = 0;
            c->rx_total = 0;
            c->rx_dropped_len = 0;
        }
    }
    return c->state == MQTT_STATE_CLOSING && c->last_error == MQTT_ERR_PROTOCOL
               ? MQTT_ERR_PROTOCOL
               : MQTT_OK;
}

size_t mqtt_client_output(const mqtt_client *c, const uint8_t **data)
{
    if (data != NULL) {
        *data = c->buf.tx;
    }
    return c->tx_len;
}

void mqtt_client_output_done(mqtt_client *c, uint32_t now, size_t sent)
{
    if (sent > c->tx_len) {
        sent = c->tx_len;
    }
    if (sent == 0) {
        return;
    }
    memmove(c->buf.tx, c->buf.tx + sent, c->tx_len - sent);
    c->tx_len -= sent;
    c->last_tx = now;
    flush(c, now);
}

mqtt_status mqtt_client_publish(mqtt_client *c, uint32_t now, const char *topic,
                                const uint8_t *payload, size_t payload_len,
                                uint8_t qos, bool retain, uint16_t *packet_id)
{
    const char *nul = topic ? memchr(topic, '\0', MQTT_MAX_TOPIC_LEN + 1u) : NULL;
    if (nul == NULL || qos > 1u) {
        return MQTT_ERR_BAD_ARGUMENT;
    }
    mqtt_publish p;
    memset(&p, 0, sizeof p);
    p.topic = topic;
    p.topic_len = (size_t)(nul - topic);
    p.payload = payload;
    p.payload_len = payload_len;
    p.retain = retain;
    p.qos = qos;
    size_t n = 0;
    /* Never fits (an empty tx less the reserve; the whole in-flight buffer). */
    size_t need = mqtt_publish_packet_size(p.topic_len, payload_len, qos);
    if (need > c->buf.tx_size - MQTT_TX_RESERVE ||
        (qos == 1u && need > c->buf.inflight_size)) {
        return MQTT_ERR_BUFFER_TOO_SMALL;
    }
    if (qos == 0) {
        if (c->state != MQTT_STATE_CONNECTED) {
            return MQTT_ERR_NOT_CONNECTED;
        }
        size_t room = c->buf.tx_size - MQTT_TX_RESERVE; /* > 0: checked by init */
        room = room > c->tx_len ? room - c->tx_len : 0; /* control packets may use the reserve */
        mqtt_status st = mqtt_encode_publish(c->buf.tx + c->tx_len, room, &p, &n);
        if (st == MQTT_OK) {
            c->tx_len += n;
        }
        return st == MQTT_ERR_BUFFER_TOO_SMALL ? MQTT_ERR_BUSY : st;
    }
    size_t count = inflight_count(c);
    size_t end = inflight_end(c, count);
    if (count == MQTT_MAX_INFLIGHT || need > c->buf.inflight_size - end) {
        return MQTT_ERR_INFLIGHT_FULL;
    }
    p.packet_id = new_packet_id(c);
    mqtt_status st = mqtt_encode_publish(c->buf.inflight + end, c->buf.inflight_size - end, &p, &n);
    if (st != MQTT_OK) {
        return st;
    }
    mqtt_inflight_slot *s = &c->inflight[count];
    s->packet_id = p.packet_id;
    s->offset = (uint16_t)end;
    s->length = (uint16_t)n;
    s->used = 1;
    s->sent = 0;
    if (packet_id != NULL) {
        *packet_id = p.packet_id;
    }
    flush(c, now);
    return MQTT_OK;
}

bool mqtt_client_is_connected(const mqtt_client *c)
{
    return c->state == MQTT_STATE_CONNECTED;
}

size_t mqtt_client_inflight_count(const mqtt_client *c)
{
    return inflight_count(c);
}

const char *mqtt_state_name(mqtt_state s)
{
    static const char *const names[] = {
        "idle", "waiting to retry", "opening transport", "waiting for CONNACK", "connected",
        "closing",
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown state";
}
