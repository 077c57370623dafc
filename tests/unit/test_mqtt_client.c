/* Unit tests of the MQTT client session with simulated time: connect, refusal,
 * timeouts, backoff bounds, keepalive and half-open links, in-flight re-sends,
 * session modes, oversized and hostile packets, and the wrap of the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_client.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})
#define MAX_EVENTS 64

typedef struct {
    mqtt_client c;
    mqtt_client_config cfg;
    uint8_t rx[64];
    uint8_t tx[256];
    uint8_t inflight[256];
    mqtt_event events[MAX_EVENTS];
    char topics[MAX_EVENTS][32];
    size_t n_events;
    /* Optional action run from inside the callback. */
    int publish_on_message;
    int stop_on_event;
} harness;

static void on_event(void *ctx, const mqtt_event *e)
{
    harness *h = ctx;
    if (h->n_events < MAX_EVENTS) {
        h->events[h->n_events] = *e;
        if (e->type == MQTT_EVENT_MESSAGE) {
            size_t n = e->u.message.topic_len < 31 ? e->u.message.topic_len : 31;
            memcpy(h->topics[h->n_events], e->u.message.topic, n);
            h->topics[h->n_events][n] = '\0';
        }
        h->n_events++;
    }
    if (h->publish_on_message && e->type == MQTT_EVENT_MESSAGE) {
        (void)mqtt_client_publish(&h->c, 0, "reply", (const uint8_t *)"r", 1, 1, false, NULL);
    }
    if (h->stop_on_event != 0 && (int)e->type == h->stop_on_event) {
        mqtt_client_stop(&h->c, 0);
    }
}

static const mqtt_event *last_event(const harness *h)
{
    assert_true(h->n_events > 0);
    return &h->events[h->n_events - 1];
}

static size_t count_events(const harness *h, mqtt_event_type type)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++) {
        n += h->events[i].type == type;
    }
    return n;
}

static void base_config(harness *h)
{
    memset(h, 0, sizeof *h);
    h->cfg.client_id = "dev";
    h->cfg.keepalive_s = 10;
    h->cfg.session_mode = MQTT_SESSION_PERSISTENT;
    h->cfg.connect_timeout_ms = 5000;
    h->cfg.backoff_first_ms = 200;
    h->cfg.backoff_base_ms = 1000;
    h->cfg.backoff_max_ms = 16000;
    h->cfg.backoff_refused_ms = 30000;
}

static mqtt_status init_with(harness *h, size_t rx_size, size_t tx_size, size_t inflight_size)
{
    mqtt_buffers b = {h->rx, rx_size, h->tx, tx_size, h->inflight, inflight_size};
    return mqtt_client_init(&h->c, &h->cfg, &b, on_event, h, 12345);
}

static void setup(harness *h)
{
    base_config(h);
    assert_int_equal(init_with(h, sizeof h->rx, sizeof h->tx, sizeof h->inflight), MQTT_OK);
}

/* Takes everything out of tx into out (as the transport would send it). */
static size_t drain(harness *h, uint32_t now, uint8_t *out, size_t size)
{
    const uint8_t *data = NULL;
    size_t n = mqtt_client_output(&h->c, &data);
    assert_true(n <= size);
    if (n != 0) {
        memcpy(out, data, n);
    }
    mqtt_client_output_done(&h->c, now, n);
    return n;
}

static void feed(harness *h, uint32_t now, const uint8_t *b, size_t n)
{
    (void)mqtt_client_receive(&h->c, now, b, n);
}

/* Runs start/open/up and returns the CONNECT bytes' flags byte. */
static uint8_t open_and_send_connect(harness *h, uint32_t now)
{
    uint8_t out[256];
    assert_int_equal(mqtt_client_step(&h->c, now), MQTT_ACTION_OPEN);
    assert_int_equal(h->c.state, MQTT_STATE_OPENING);
    mqtt_client_transport_up(&h->c, now);
    assert_int_equal(h->c.state, MQTT_STATE_WAIT_CONNACK);
    size_t n = drain(h, now, out, sizeof out);
    assert_true(n > 10);
    assert_int_equal(out[0], 0x10);
    return out[9];
}

static void connect_now(harness *h, uint32_t now, bool session_present)
{
    (void)open_and_send_connect(h, now);
    uint8_t connack[4] = {0x20, 2, session_present ? 1 : 0, 0};
    feed(h, now, connack, sizeof connack);
    assert_int_equal(h->c.state, MQTT_STATE_CONNECTED);
    assert_int_equal(last_event(h)->type, MQTT_EVENT_CONNECTED);
}

static void test_init_checks(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    mqtt_buffers b = {h.rx, sizeof h.rx, h.tx, sizeof h.tx, h.inflight, sizeof h.inflight};
    assert_int_equal(mqtt_client_init(NULL, &h.cfg, &b, on_event, &h, 1), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_client_init(&h.c, NULL, &b, on_event, &h, 1), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, NULL, on_event, &h, 1), MQTT_ERR_BAD_ARGUMENT);
    h.cfg.client_id = "";
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    h.cfg.client_id = NULL;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    base_config(&h);
    h.cfg.session_mode = (mqtt_session_mode)7;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    base_config(&h);
    h.cfg.subscription_qos = 2;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    base_config(&h);
    assert_int_equal(init_with(&h, MQTT_MIN_RX_SIZE - 1, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    b.inflight = NULL;
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, on_event, &h, 1), MQTT_ERR_BAD_ARGUMENT);
    b.tx = NULL;
    b.inflight = h.inflight;
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, on_event, &h, 1), MQTT_ERR_BAD_ARGUMENT);
    /* tx not above the reserve; CONNECT does not fit tx; a bad filter; a password
     * without user. */
    assert_int_equal(init_with(&h, 64, MQTT_TX_RESERVE, 256), MQTT_ERR_BAD_ARGUMENT);
    h.cfg.client_id = "a-longer-client-id";
    assert_int_equal(init_with(&h, 64, MQTT_TX_RESERVE + 1, 256), MQTT_ERR_BUFFER_TOO_SMALL);
    h.cfg.client_id = "dev";
    h.cfg.subscriptions[0] = "a/#/b";
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    base_config(&h);
    h.cfg.password = "pw";
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_ERR_BAD_ARGUMENT);
    /* Defaults for zero timings; seed 0 still gives jitter. */
    base_config(&h);
    h.cfg.connect_timeout_ms = 0;
    h.cfg.backoff_first_ms = 0;
    h.cfg.backoff_base_ms = 0;
    h.cfg.backoff_max_ms = 0;
    h.cfg.backoff_refused_ms = 0;
    b = (mqtt_buffers){h.rx, sizeof h.rx, h.tx, sizeof h.tx, NULL, 0};
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, on_event, &h, 0), MQTT_OK);
    assert_int_equal(h.c.cfg.connect_timeout_ms, 10000);
    assert_int_equal(h.c.cfg.backoff_first_ms, 250);
    assert_int_equal(h.c.cfg.backoff_base_ms, 1000);
    assert_int_equal(h.c.cfg.backoff_max_ms, 60000);
    assert_int_equal(h.c.cfg.backoff_refused_ms, 60000);
    assert_int_not_equal(h.c.rng, 0);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    assert_int_equal(mqtt_client_step(&h.c, 0), MQTT_ACTION_NONE);
    /* Without an in-flight buffer QoS1 cannot be accepted. */
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", NULL, 0, 1, false, NULL),
                     MQTT_ERR_BUFFER_TOO_SMALL);
    /* An oversized in-flight buffer is used up to 64 KiB. */
    static uint8_t big[70000];
    b = (mqtt_buffers){h.rx, sizeof h.rx, h.tx, sizeof h.tx, big, sizeof big};
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, on_event, &h, 0), MQTT_OK);
    assert_int_equal(h.c.buf.inflight_size, 65535);
}

static void test_connect_and_subscribe(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.username = "user";
    h.cfg.password = "pass";
    h.cfg.will_topic = "dev/status";
    h.cfg.will_payload = (const uint8_t *)"offline";
    h.cfg.will_payload_len = 7;
    h.cfg.will_qos = 1;
    h.cfg.will_retain = true;
    h.cfg.subscriptions[0] = "dev/cmd";
    h.cfg.subscriptions[1] = "all/+";
    h.cfg.subscription_qos = 1;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    assert_string_equal(mqtt_state_name(h.c.state), "idle");
    mqtt_client_start(&h.c, 1000);
    assert_int_equal(h.c.state, MQTT_STATE_WAIT_RETRY);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 1000), 1000);
    assert_int_equal(mqtt_client_step(&h.c, 1000), MQTT_ACTION_OPEN);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 1000), 6000);
    /* Bytes before the transport is up are refused. */
    assert_int_equal(mqtt_client_receive(&h.c, 1000, BYTES(0x20, 2, 0, 0)),
                     MQTT_ERR_NOT_CONNECTED);
    mqtt_client_transport_up(&h.c, 1010);
    mqtt_client_transport_up(&h.c, 1010); /* repeated: ignored */
    uint8_t out[256];
    size_t n = drain(&h, 1010, out, sizeof out);
    mqtt_connect_options o = {.client_id = "dev", .username = "user", .password = "pass",
                              .will_topic = "dev/status",
                              .will_payload = (const uint8_t *)"offline",
                              .will_payload_len = 7, .will_qos = 1, .will_retain = true,
                              .clean_session = false, .keepalive_s = 10};
    uint8_t want[256];
    size_t want_len = 0;
    assert_int_equal(mqtt_encode_connect(want, sizeof want, &o, &want_len), MQTT_OK);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, n);
    assert_false(mqtt_client_is_connected(&h.c));
    assert_int_equal(mqtt_client_receive(&h.c, 1020, BYTES(0x20, 2, 0, 0)), MQTT_OK);
    assert_true(mqtt_client_is_connected(&h.c));
    assert_int_equal(h.events[0].type, MQTT_EVENT_CONNECTED);
    assert_false(h.events[0].u.connected.session_present);
    assert_int_equal(h.c.stats.connects, 1);
    /* One SUBSCRIBE at a time, in configured order. */
    n = drain(&h, 1020, out, sizeof out);
    assert_int_equal(n, 2 + 2 + 2 + 7 + 1);
    assert_int_equal(out[0], 0x82);
    uint16_t id = (uint16_t)(out[2] << 8 | out[3]);
    assert_memory_equal(out + 6, "dev/cmd", 7);
    assert_int_equal(out[13], 1);
    uint8_t suback[5] = {0x90, 3, (uint8_t)(id >> 8), (uint8_t)id, 1};
    feed(&h, 1030, suback, sizeof suback);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_SUBSCRIBED);
    assert_int_equal(last_event(&h)->u.suback.index, 0);
    assert_int_equal(last_event(&h)->u.suback.granted_qos, 1);
    n = drain(&h, 1030, out, sizeof out);
    assert_int_equal(out[0], 0x82);
    assert_memory_equal(out + 6, "all/+", 5);
    id = (uint16_t)(out[2] << 8 | out[3]);
    uint8_t suback_fail[5] = {0x90, 3, (uint8_t)(id >> 8), (uint8_t)id, 0x80};
    feed(&h, 1040, suback_fail, sizeof suback_fail);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_SUBSCRIBE_FAILED);
    assert_int_equal(last_event(&h)->u.suback.index, 1);
    assert_int_equal(last_event(&h)->u.suback.granted_qos, 0x80);
    assert_true(mqtt_client_is_connected(&h.c));
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    /* Granted QoS 0 for a QoS 1 request is fine (checked via a reconnect). */
}

static void test_connack_refusals(void **state)
{
    (void)state;
    static harness h;
    for (uint8_t code = 1; code <= 6; code++) {
        setup(&h);
        mqtt_client_start(&h.c, 0);
        (void)open_and_send_connect(&h, 0);
        uint8_t connack[4] = {0x20, 2, 0, code};
        feed(&h, 5, connack, sizeof connack);
        assert_int_equal(last_event(&h)->type, MQTT_EVENT_CONNECT_FAILED);
        assert_int_equal(last_event(&h)->reason, MQTT_ERR_REFUSED);
        assert_int_equal(last_event(&h)->u.connack_code, code);
        assert_int_equal(count_events(&h, MQTT_EVENT_DISCONNECTED), 0);
        assert_int_equal(h.c.stats.connect_failures, 1);
        assert_int_equal(mqtt_client_step(&h.c, 6), MQTT_ACTION_CLOSE);
        assert_int_equal(mqtt_client_next_deadline(&h.c, 6), 6);
        mqtt_client_transport_down(&h.c, 10, MQTT_ERR_CLOSED);
        assert_int_equal(h.n_events, 1); /* already reported */
        assert_int_equal(h.c.state, MQTT_STATE_WAIT_RETRY);
        uint32_t wait = h.c.deadline - 10;
        if (code == MQTT_CONNACK_BAD_CREDENTIALS || code == MQTT_CONNACK_NOT_AUTHORIZED) {
            assert_true(wait >= 30000);
        } else {
            assert_true(wait >= 500 && wait <= 1000);
        }
        assert_int_equal(mqtt_client_step(&h.c, 10 + wait - 1), MQTT_ACTION_NONE);
        assert_int_equal(mqtt_client_step(&h.c, 10 + wait), MQTT_ACTION_OPEN);
    }
}

static void test_connect_timeouts(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    mqtt_client_start(&h.c, 100);
    /* Transport never comes up. */
    assert_int_equal(mqtt_client_step(&h.c, 100), MQTT_ACTION_OPEN);
    assert_int_equal(mqtt_client_step(&h.c, 5099), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_step(&h.c, 5100), MQTT_ACTION_CLOSE);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_CONNECT_FAILED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_TIMEOUT);
    mqtt_client_transport_down(&h.c, 5100, MQTT_ERR_TIMEOUT);
    uint32_t at = h.c.deadline;
    assert_int_equal(mqtt_client_step(&h.c, at), MQTT_ACTION_OPEN);
    /* Transport up, no CONNACK. */
    mqtt_client_transport_up(&h.c, at + 10);
    assert_int_equal(mqtt_client_step(&h.c, at + 4999), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_step(&h.c, at + 5000), MQTT_ACTION_CLOSE);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_TIMEOUT);
    assert_int_equal(h.c.stats.connect_failures, 2);
    /* A transport error while opening is a failed attempt too. */
    mqtt_client_transport_down(&h.c, at + 5000, MQTT_ERR_TIMEOUT);
    at = h.c.deadline;
    assert_int_equal(mqtt_client_step(&h.c, at), MQTT_ACTION_OPEN);
    mqtt_client_transport_down(&h.c, at + 1, MQTT_ERR_DNS);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_CONNECT_FAILED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_DNS);
    assert_int_equal(h.c.stats.connect_failures, 3);
    assert_int_equal(count_events(&h, MQTT_EVENT_DISCONNECTED), 0);
    /* Down again while waiting: ignored. */
    mqtt_client_transport_down(&h.c, at + 2, MQTT_ERR_DNS);
    assert_int_equal(h.c.stats.connect_failures, 3);
}

/* Fails attempts one after another and checks each wait against its bounds. */
static void test_backoff_bounds(void **state)
{
    (void)state;
    static harness h;
    for (uint32_t seed = 1; seed < 40; seed++) {
        base_config(&h);
        mqtt_buffers b = {h.rx, sizeof h.rx, h.tx, sizeof h.tx, h.inflight, sizeof h.inflight};
        assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, on_event, &h, seed * 7919u), MQTT_OK);
        uint32_t now = 0;
        mqtt_client_start(&h.c, now);
        /* Cheap failures (the transport did not open: refused, reset,
         * unreachable, open timeout) retry at the base rate, never slower. */
        for (size_t k = 0; k < 12; k++) {
            assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_OPEN);
            mqtt_client_transport_down(&h.c, now, MQTT_ERR_TRANSPORT);
            uint32_t wait = h.c.deadline - now;
            assert_true(wait >= 500 && wait <= 1000);
            now += wait;
        }
        assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_OPEN);
        assert_int_equal(mqtt_client_step(&h.c, now + 5000), MQTT_ACTION_CLOSE);
        mqtt_client_transport_down(&h.c, now + 5000, MQTT_ERR_TIMEOUT);
        now += 5000;
        assert_true(h.c.deadline - now >= 500 && h.c.deadline - now <= 1000);
        now = h.c.deadline;
        /* Expensive ones (TLS handshake, CONNACK refused or missing) double to
         * the cap; a cheap failure in between does not reset them. */
        uint32_t nominal[] = {1000, 2000, 4000, 8000, 16000, 16000, 16000};
        for (size_t k = 0; k < sizeof nominal / sizeof nominal[0]; k++) {
            assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_OPEN);
            if (k == 3) {
                mqtt_client_transport_down(&h.c, now, MQTT_ERR_TRANSPORT);
                assert_true(h.c.deadline - now <= 1000);
                now = h.c.deadline;
                assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_OPEN);
            }
            if (k % 2 == 0) {
                mqtt_client_transport_down(&h.c, now, MQTT_ERR_TLS);
            } else {
                mqtt_client_transport_up(&h.c, now);
                mqtt_client_transport_down(&h.c, now, MQTT_ERR_CLOSED); /* before CONNACK */
            }
            uint32_t wait = h.c.deadline - now;
            assert_true(wait >= nominal[k] / 2 && wait <= nominal[k]);
            now += wait;
        }
        /* A connection that was up for a while and is lost: the fast first
         * retry, then base. */
        connect_now(&h, now, false);
        now += MQTT_STABLE_CONNECTION_MS;
        mqtt_client_transport_down(&h.c, now, MQTT_ERR_CLOSED);
        assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
        uint32_t wait = h.c.deadline - now;
        assert_true(wait >= 100 && wait <= 200);
        now += wait;
        assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_OPEN);
        mqtt_client_transport_down(&h.c, now, MQTT_ERR_TRANSPORT);
        wait = h.c.deadline - now;
        assert_true(wait >= 500 && wait <= 1000);
    }
    /* A first retry longer than the cap is capped. */
    base_config(&h);
    h.cfg.backoff_first_ms = 50000;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    mqtt_client_transport_down(&h.c, MQTT_STABLE_CONNECTION_MS, MQTT_ERR_CLOSED);
    assert_true(h.c.deadline >= MQTT_STABLE_CONNECTION_MS + 8000 &&
                h.c.deadline <= MQTT_STABLE_CONNECTION_MS + 16000);
    /* A broker that accepts and drops at once earns one fast retry, then the
     * waits grow to the cap. */
    base_config(&h);
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    uint32_t t = 0;
    uint32_t nominal_drop[] = {200, 1000, 2000, 4000, 8000, 16000, 16000};
    for (size_t k = 0; k < sizeof nominal_drop / sizeof nominal_drop[0]; k++) {
        connect_now(&h, t, false);
        mqtt_client_transport_down(&h.c, t + 10, MQTT_ERR_CLOSED);
        uint32_t w = h.c.deadline - (t + 10);
        assert_true(w >= nominal_drop[k] / 2 && w <= nominal_drop[k]);
        t = h.c.deadline;
    }
    /* Huge settings are cut to a day and do not overflow. */
    base_config(&h);
    h.cfg.backoff_base_ms = 0xC0000000u;
    h.cfg.backoff_max_ms = 0xFFFFFFFFu;
    h.cfg.connect_timeout_ms = 0xFFFFFFFFu;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    assert_int_equal(h.c.cfg.backoff_max_ms, MQTT_MAX_DELAY_MS);
    assert_int_equal(h.c.cfg.connect_timeout_ms, MQTT_MAX_DELAY_MS);
    h.c.attempt = 3;
    h.c.state = MQTT_STATE_OPENING;
    mqtt_client_transport_down(&h.c, 0, MQTT_ERR_TLS);
    assert_true(h.c.deadline >= MQTT_MAX_DELAY_MS / 2 && h.c.deadline <= MQTT_MAX_DELAY_MS);
    base_config(&h);
    h.cfg.backoff_base_ms = MQTT_MAX_DELAY_MS - 1;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    h.c.attempt = 200;
    h.c.state = MQTT_STATE_OPENING;
    mqtt_client_transport_down(&h.c, 0, MQTT_ERR_TLS);
    assert_true(h.c.deadline <= 16000);
    h.c.attempt = 255;
    h.c.state = MQTT_STATE_OPENING;
    mqtt_client_transport_down(&h.c, 0, MQTT_ERR_TLS);
    assert_int_equal(h.c.attempt, 255);
}

static void test_keepalive_ping_and_half_open(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    /* The ping goes a tenth of the keepalive early: a late wake-up never
     * stretches the interval past the keepalive. */
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0), 9000);
    assert_int_equal(mqtt_client_step(&h.c, 8999), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    assert_int_equal(mqtt_client_step(&h.c, 9000), MQTT_ACTION_NONE);
    assert_int_equal(drain(&h, 9000, out, sizeof out), 2);
    assert_int_equal(out[0], 0xC0);
    assert_true(h.c.ping_outstanding);
    feed(&h, 9050, BYTES(0xD0, 0));
    assert_false(h.c.ping_outstanding);
    /* Traffic received keeps the link alive; the ping follows what we sent. */
    assert_int_equal(mqtt_client_next_deadline(&h.c, 9050), 18000);
    assert_int_equal(mqtt_client_step(&h.c, 18000), MQTT_ACTION_NONE);
    assert_int_equal(drain(&h, 18000, out, sizeof out), 2);
    /* Now the broker goes silent (half-open): dead at last_rx + 15 s. */
    assert_int_equal(mqtt_client_next_deadline(&h.c, 18000), 9050 + 15000);
    assert_int_equal(mqtt_client_step(&h.c, 24049), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_step(&h.c, 24050), MQTT_ACTION_CLOSE);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_KEEPALIVE);
    assert_int_equal(h.c.stats.outages, 1);
    assert_int_equal(mqtt_client_step(&h.c, 24051), MQTT_ACTION_CLOSE);
    mqtt_client_transport_down(&h.c, 24060, MQTT_ERR_CLOSED);
    assert_int_equal(count_events(&h, MQTT_EVENT_DISCONNECTED), 1);
    assert_int_equal(h.c.state, MQTT_STATE_WAIT_RETRY);
}

static void test_keepalive_disabled_and_pending_tx(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.keepalive_s = 0;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0), MQTT_IDLE_WAKE_MS);
    assert_int_equal(mqtt_client_step(&h.c, 1000000), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    /* With keepalive, unsent bytes in tx hold the ping back. */
    setup(&h);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", (const uint8_t *)"x", 1, 0, false, NULL),
                     MQTT_OK);
    /* ... but not the one for a silent broker, which goes after it. */
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0), 9000);
    assert_int_equal(mqtt_client_step(&h.c, 12000), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 6 + 2);
    assert_true(h.c.ping_outstanding);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 12000), 15000);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 16000), 16000);
    /* A long keepalive: still wake up at least every MQTT_IDLE_WAKE_MS. */
    base_config(&h);
    h.cfg.keepalive_s = 600;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0), MQTT_IDLE_WAKE_MS);
    /* Idle state: wake up rarely. */
    setup(&h);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 5), 5 + MQTT_IDLE_WAKE_MS);
}

/* A device that only publishes QoS0 gets nothing back but PINGRESPs: its
 * link must stay up (pings go out for the silence of the broker). */
static void test_keepalive_with_qos0_traffic_only(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    size_t pings = 0;
    for (uint32_t now = 1000; now <= 120000; now += 1000) {
        assert_int_equal(mqtt_client_publish(&h.c, now, "t", (const uint8_t *)"1", 1, 0, false,
                                             NULL),
                         MQTT_OK);
        assert_int_equal(mqtt_client_step(&h.c, now), MQTT_ACTION_NONE);
        size_t n = drain(&h, now, out, sizeof out);
        if (n == 6 + 2) {
            assert_int_equal(out[6], 0xC0);
            pings++;
            feed(&h, now + 20, BYTES(0xD0, 0));
        }
    }
    assert_true(mqtt_client_is_connected(&h.c));
    assert_true(pings >= 11);
    assert_int_equal(h.c.stats.outages, 0);
}

static void test_time_wraps(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    uint32_t t0 = 0xFFFFF000u; /* 4 s before the wrap */
    mqtt_client_start(&h.c, t0);
    connect_now(&h, t0, false);
    uint32_t ping_at = t0 + 9000u; /* after the wrap */
    assert_true(ping_at < t0);
    assert_int_equal(mqtt_client_next_deadline(&h.c, t0), ping_at);
    assert_int_equal(mqtt_client_step(&h.c, 0xFFFFFFFFu), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    assert_int_equal(mqtt_client_step(&h.c, ping_at), MQTT_ACTION_NONE);
    assert_int_equal(drain(&h, ping_at, out, sizeof out), 2);
    assert_int_equal(mqtt_client_step(&h.c, t0 + 14999u), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_step(&h.c, t0 + 15000u), MQTT_ACTION_CLOSE);
    /* Retry deadline across the wrap too. */
    mqtt_client_transport_down(&h.c, 0xFFFFFFF0u, MQTT_ERR_CLOSED);
    uint32_t at = h.c.deadline;
    assert_true(at < 0x1000u);
    assert_int_equal(mqtt_client_step(&h.c, 0xFFFFFFFFu), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0xFFFFFFFFu), at);
    assert_int_equal(mqtt_client_step(&h.c, at), MQTT_ACTION_OPEN);
    /* Deadline already passed: the platform should not sleep. */
    assert_int_equal(mqtt_client_next_deadline(&h.c, at + 100000u), at + 100000u);
}

static void read_publish(const uint8_t *b, size_t n, mqtt_packet *pk)
{
    assert_int_equal(mqtt_decode_packet(b, n, pk), MQTT_OK);
    assert_int_equal(pk->type, MQTT_PUBLISH);
}

static void test_inflight_resend_persistent(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_packet pk;
    /* Published before the first connect: kept, sent after CONNACK, no DUP. */
    uint16_t id1 = 0, id2 = 0;
    assert_int_equal(mqtt_client_publish(&h.c, 0, "a", (const uint8_t *)"1", 1, 1, false, &id1),
                     MQTT_OK);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 1);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    size_t n = drain(&h, 0, out, sizeof out);
    read_publish(out, n, &pk);
    assert_int_equal(pk.u.publish.packet_id, id1);
    assert_false(pk.u.publish.dup);
    assert_int_equal(pk.u.publish.qos, 1);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "b", (const uint8_t *)"2", 1, 1, true, &id2),
                     MQTT_OK);
    assert_int_not_equal(id1, id2);
    n = drain(&h, 0, out, sizeof out);
    read_publish(out, n, &pk);
    assert_int_equal(pk.u.publish.packet_id, id2);
    assert_true(pk.u.publish.retain);
    /* The link drops before any PUBACK. */
    mqtt_client_transport_down(&h.c, 100, MQTT_ERR_TRANSPORT);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 2);
    uint32_t at = h.c.deadline;
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0); /* persistent */
    feed(&h, at, BYTES(0x20, 2, 1, 0));
    assert_true(last_event(&h)->u.connected.session_present);
    /* Both re-sent, in order, with DUP. */
    n = drain(&h, at, out, sizeof out);
    assert_int_equal(n, 2 * 8);
    read_publish(out, 8, &pk);
    assert_int_equal(pk.u.publish.packet_id, id1);
    assert_true(pk.u.publish.dup);
    read_publish(out + 8, 8, &pk);
    assert_int_equal(pk.u.publish.packet_id, id2);
    assert_true(pk.u.publish.dup);
    /* PUBACKs release them (out of order is fine). */
    uint8_t ack2[4] = {0x40, 2, (uint8_t)(id2 >> 8), (uint8_t)id2};
    feed(&h, at, ack2, 4);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_PUBLISH_ACKED);
    assert_int_equal(last_event(&h)->u.packet_id, id2);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 1);
    uint8_t ack1[4] = {0x40, 2, (uint8_t)(id1 >> 8), (uint8_t)id1};
    feed(&h, at, ack1, 4);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 0);
    /* A resumed session may ack a stored packet before it is re-sent. */
    uint16_t id3 = 0;
    assert_int_equal(mqtt_client_publish(&h.c, at, "c", NULL, 0, 1, false, &id3), MQTT_OK);
    (void)drain(&h, at, out, sizeof out);
    mqtt_client_transport_down(&h.c, at, MQTT_ERR_CLOSED);
    at = h.c.deadline;
    (void)open_and_send_connect(&h, at);
    mqtt_client_output_done(&h.c, at, 0);
    uint8_t ack3[8] = {0x20, 2, 1, 0, 0x40, 2, (uint8_t)(id3 >> 8), (uint8_t)id3};
    h.c.tx_len = h.c.buf.tx_size; /* tx full: the re-send has to wait */
    feed(&h, at, ack3, sizeof ack3);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_PUBLISH_ACKED);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 0);
    h.c.tx_len = 0;
    /* A second PUBACK for the same id is counted and ignored. */
    feed(&h, at, ack1, 4);
    assert_int_equal(h.c.state, MQTT_STATE_CONNECTED);
    assert_int_equal(h.c.stats.protocol_errors, 0);
    assert_int_equal(h.c.stats.stray_pubacks, 1);
}

/* PUBACK of the oldest of three: the rest move down, keep order and bytes. */
static void test_inflight_remove_middle_and_ids(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_packet pk;
    uint16_t ids[3];
    const char *topics[3] = {"one", "two/x", "three"};
    h.c.next_packet_id = 0xFFFE; /* ids wrap and skip 0 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mqtt_client_publish(&h.c, 0, topics[i], (const uint8_t *)topics[i],
                                             strlen(topics[i]), 1, false, &ids[i]),
                         MQTT_OK);
    }
    assert_int_equal(ids[0], 0xFFFF);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 2);
    /* The next id skips those still in use. */
    h.c.next_packet_id = 0;
    uint16_t id4 = 0;
    assert_int_equal(mqtt_client_publish(&h.c, 0, "four", NULL, 0, 1, false, &id4), MQTT_OK);
    assert_int_equal(id4, 3);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, true);
    (void)drain(&h, 0, out, sizeof out);
    uint8_t ack[4] = {0x40, 2, 0xFF, 0xFF};
    feed(&h, 0, ack, 4);
    ack[2] = 0;
    ack[3] = 2;
    feed(&h, 0, ack, 4);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 2);
    mqtt_client_transport_down(&h.c, 1, MQTT_ERR_CLOSED);
    uint32_t at = h.c.deadline;
    connect_now(&h, at, true);
    size_t n = drain(&h, at, out, sizeof out);
    read_publish(out, 2 + 2 + 5 + 2 + 5, &pk);
    assert_int_equal(pk.u.publish.packet_id, 1);
    assert_memory_equal(pk.u.publish.topic, "two/x", 5);
    assert_memory_equal(pk.u.publish.payload, "two/x", 5);
    read_publish(out + 16, n - 16, &pk);
    assert_int_equal(pk.u.publish.packet_id, 3);
    assert_memory_equal(pk.u.publish.topic, "four", 4);
    assert_int_equal(pk.u.publish.payload_len, 0);
}

static void test_inflight_lost_session_and_clean(void **state)
{
    (void)state;
    static harness h;
    uint8_t out[256];
    mqtt_packet pk;
    /* Persistent session that the broker lost: re-sent anyway. */
    setup(&h);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, true);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "a", NULL, 0, 1, false, NULL), MQTT_OK);
    (void)drain(&h, 0, out, sizeof out);
    mqtt_client_transport_down(&h.c, 1, MQTT_ERR_CLOSED);
    connect_now(&h, h.c.deadline, false);
    size_t n = drain(&h, h.c.deadline, out, sizeof out);
    read_publish(out, n, &pk);
    assert_true(pk.u.publish.dup);
    /* Clean session: stored ones go out as new publishes (no DUP). */
    base_config(&h);
    h.cfg.session_mode = MQTT_SESSION_CLEAN;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    assert_int_equal(open_and_send_connect(&h, 0) & 0x02, 0x02);
    feed(&h, 0, BYTES(0x20, 2, 0, 0));
    assert_int_equal(mqtt_client_publish(&h.c, 0, "a", NULL, 0, 1, false, NULL), MQTT_OK);
    (void)drain(&h, 0, out, sizeof out);
    mqtt_client_transport_down(&h.c, 1, MQTT_ERR_CLOSED);
    uint32_t at = h.c.deadline;
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0x02);
    feed(&h, at, BYTES(0x20, 2, 0, 0));
    n = drain(&h, at, out, sizeof out);
    read_publish(out, n, &pk);
    assert_false(pk.u.publish.dup);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 1);
}

static void test_clean_session_cannot_be_present(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.session_mode = MQTT_SESSION_CLEAN;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    (void)open_and_send_connect(&h, 0);
    assert_int_equal(mqtt_client_receive(&h.c, 0, BYTES(0x20, 2, 1, 0)), MQTT_ERR_PROTOCOL);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_CONNECT_FAILED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_PROTOCOL);
}

static void test_clean_first(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.session_mode = MQTT_SESSION_CLEAN_FIRST;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    /* Clean until a connect is accepted (a refused one does not count). */
    assert_int_equal(open_and_send_connect(&h, 0) & 0x02, 0x02);
    feed(&h, 0, BYTES(0x20, 2, 0, 3));
    mqtt_client_transport_down(&h.c, 0, MQTT_ERR_CLOSED);
    uint32_t at = h.c.deadline;
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0x02);
    /* Accepted clean: the client leaves at once (DISCONNECT, close) without
     * telling the application, and reconnects persistent without backoff, so
     * the broker keeps a session for the next outage. */
    size_t connected_before = count_events(&h, MQTT_EVENT_CONNECTED);
    feed(&h, at, BYTES(0x20, 2, 0, 0));
    assert_int_equal(count_events(&h, MQTT_EVENT_CONNECTED), connected_before);
    assert_int_equal(mqtt_client_step(&h.c, at), MQTT_ACTION_CLOSE);
    uint8_t out[16];
    assert_int_equal(drain(&h, at, out, sizeof out), 2);
    assert_int_equal(out[0], 0xE0);
    mqtt_client_transport_down(&h.c, at, MQTT_ERR_CLOSED);
    assert_int_equal(h.c.stats.outages, 0);
    assert_int_equal(h.c.deadline, at);
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0);
    feed(&h, at, BYTES(0x20, 2, 0, 0));
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_CONNECTED);
    assert_int_equal(h.c.stats.connects, 1);
    mqtt_client_transport_down(&h.c, at, MQTT_ERR_CLOSED);
    at = h.c.deadline;
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0);
    feed(&h, at, BYTES(0x20, 2, 1, 0));
    mqtt_client_transport_down(&h.c, at, MQTT_ERR_CLOSED);
    at = h.c.deadline;
    assert_int_equal(open_and_send_connect(&h, at) & 0x02, 0);
}

static void test_publish_limits(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t payload[200];
    memset(payload, 'p', sizeof payload);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 1, 0, false, NULL),
                     MQTT_ERR_NOT_CONNECTED);
    assert_int_equal(mqtt_client_publish(&h.c, 0, NULL, payload, 1, 1, false, NULL),
                     MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 1, 2, false, NULL),
                     MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t/#", payload, 1, 1, false, NULL),
                     MQTT_ERR_BAD_ARGUMENT);
    char long_topic[MQTT_MAX_TOPIC_LEN + 2];
    memset(long_topic, 'a', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    assert_int_equal(mqtt_client_publish(&h.c, 0, long_topic, payload, 1, 1, false, NULL),
                     MQTT_ERR_BAD_ARGUMENT);
    /* In-flight bytes: 256; each 100-byte payload packet takes 105. */
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 100, 1, false, NULL), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 100, 1, false, NULL), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 100, 1, false, NULL),
                     MQTT_ERR_INFLIGHT_FULL);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 2);
    /* Larger than the whole in-flight buffer, or than tx. */
    setup(&h);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 200, 1, false, NULL), MQTT_OK);
    setup(&h);
    h.cfg.client_id = "d";
    assert_int_equal(init_with(&h, 64, 128, 256), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 120, 1, false, NULL),
                     MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 0);
    setup(&h);
    assert_int_equal(init_with(&h, 64, 256, 64), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 100, 1, false, NULL),
                     MQTT_ERR_BUFFER_TOO_SMALL);
    /* Slot count limit. */
    setup(&h);
    for (int i = 0; i < MQTT_MAX_INFLIGHT; i++) {
        assert_int_equal(mqtt_client_publish(&h.c, 0, "t", NULL, 0, 1, false, NULL), MQTT_OK);
    }
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", NULL, 0, 1, false, NULL),
                     MQTT_ERR_INFLIGHT_FULL);
}

static void test_qos0_and_tx_room(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.client_id = "d";
    assert_int_equal(init_with(&h, 64, 64, 256), MQTT_OK);
    uint8_t payload[64] = {0};
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    /* tx 64, reserve 16: a 40-byte packet fits once. */
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 35, 0, false, NULL), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 35, 0, false, NULL),
                     MQTT_ERR_BUSY);
    assert_int_equal(drain(&h, 0, out, sizeof out), 40);
    assert_int_equal(out[0], 0x30);
    /* Never fits. */
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 60, 0, false, NULL),
                     MQTT_ERR_BUFFER_TOO_SMALL);
    /* QoS1 waits for room in tx, keeping order; partial sends. */
    uint16_t a = 0, b = 0;
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 35, 0, false, NULL), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 20, 1, false, &a), MQTT_OK);
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", payload, 5, 1, false, &b), MQTT_OK);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 40);
    mqtt_client_output_done(&h.c, 1, 0);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 40);
    mqtt_client_output_done(&h.c, 1, 30);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 10 + 27);
    mqtt_client_output_done(&h.c, 1, 1000); /* more than held: clamped */
    mqtt_packet pk;
    size_t n = drain(&h, 1, out, sizeof out);
    assert_int_equal(n, 12);
    read_publish(out, n, &pk);
    assert_int_equal(pk.u.publish.packet_id, b);
    (void)a;
}

static void test_incoming_messages(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    feed(&h, 1, BYTES(0x30, 5, 0, 1, 'x', 'h', 'i'));
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_MESSAGE);
    assert_string_equal(h.topics[h.n_events - 1], "x");
    assert_int_equal(last_event(&h)->u.message.payload_len, 2);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    /* QoS1, fed one byte at a time: PUBACK queued, message delivered once. */
    const uint8_t q1[] = {0x32, 7, 0, 2, 'a', 'b', 0x12, 0x34, 'z'};
    size_t before = h.n_events;
    for (size_t i = 0; i < sizeof q1; i++) {
        feed(&h, 2, q1 + i, 1);
    }
    assert_int_equal(h.n_events, before + 1);
    assert_string_equal(h.topics[h.n_events - 1], "ab");
    assert_int_equal(last_event(&h)->u.message.qos, 1);
    assert_int_equal(drain(&h, 2, out, sizeof out), 4);
    assert_memory_equal(out, ((const uint8_t[]){0x40, 2, 0x12, 0x34}), 4);
    /* Control packets may fill the reserve; QoS0 then waits (no underflow). */
    h.c.tx_len = sizeof h.tx - 4;
    assert_int_equal(mqtt_client_publish(&h.c, 2, "t", NULL, 0, 0, false, NULL), MQTT_ERR_BUSY);
    h.c.tx_len = 0;
    /* Several packets in one read, and a reply published from the callback. */
    h.publish_on_message = 1;
    feed(&h, 3, BYTES(0x30, 3, 0, 1, 'x', 0x32, 5, 0, 1, 'y', 0, 9, 0xD0, 0));
    assert_int_equal(count_events(&h, MQTT_EVENT_MESSAGE), 4);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 2);
    assert_true(mqtt_client_is_connected(&h.c));
    assert_int_equal(mqtt_client_receive(&h.c, 3, NULL, 1), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_client_receive(&h.c, 3, NULL, 0), MQTT_OK);
}

static void test_puback_without_room(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.client_id = "d";
    assert_int_equal(init_with(&h, 64, 32, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    /* Fill tx with PUBACKs the transport never sends. */
    for (uint8_t i = 1; i <= 8; i++) {
        uint8_t p[7] = {0x32, 5, 0, 1, 'x', 0, i};
        feed(&h, 1, p, sizeof p);
        assert_true(mqtt_client_is_connected(&h.c));
    }
    assert_int_equal(mqtt_client_output(&h.c, NULL), 32);
    feed(&h, 1, BYTES(0x32, 5, 0, 1, 'x', 0, 9));
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_BUSY);
    assert_int_equal(count_events(&h, MQTT_EVENT_MESSAGE), 9);
    assert_int_equal(mqtt_client_step(&h.c, 2), MQTT_ACTION_CLOSE);
}

static void test_oversized_packet_skipped(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.subscriptions[0] = "big";
    h.cfg.subscription_qos = 1;
    assert_int_equal(init_with(&h, 32, 256, 256), MQTT_OK);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    (void)drain(&h, 0, out, sizeof out);
    /* QoS1 PUBLISH of 300 bytes (remaining length 297), in odd chunks. */
    uint8_t big[300];
    memset(big, 'q', sizeof big);
    big[0] = 0x32;
    big[1] = 0xA9; /* 297 = 0x29 + 2*128 */
    big[2] = 0x02;
    big[3] = 0;
    big[4] = 3;
    memcpy(big + 5, "big", 3);
    big[8] = 0x00;
    big[9] = 0x77;
    for (size_t i = 0; i < sizeof big; i += 7) {
        size_t n = sizeof big - i < 7 ? sizeof big - i : 7;
        feed(&h, 1, big + i, n);
    }
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_PACKET_DROPPED);
    assert_int_equal(last_event(&h)->u.dropped_len, 300);
    assert_int_equal(h.c.stats.dropped_packets, 1);
    assert_int_equal(count_events(&h, MQTT_EVENT_MESSAGE), 0);
    /* Acked all the same, so the broker does not keep it in flight. */
    assert_int_equal(drain(&h, 1, out, sizeof out), 4);
    assert_memory_equal(out, ((const uint8_t[]){0x40, 2, 0, 0x77}), 4);
    /* The connection survives: the next packet (same read) is delivered. */
    uint8_t two[300 + 5];
    memcpy(two, big, 300);
    two[2] = 0x02;
    memcpy(two + 300, ((const uint8_t[]){0x30, 3, 0, 1, 'k'}), 5);
    two[0] = 0x30; /* QoS0 this time: nothing to ack */
    feed(&h, 2, two, sizeof two);
    assert_int_equal(h.c.stats.dropped_packets, 2);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_MESSAGE);
    assert_string_equal(h.topics[h.n_events - 1], "k");
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    assert_true(mqtt_client_is_connected(&h.c));
    /* A QoS1 one whose topic pushes the packet id out of rx: not acked. */
    memset(big, 'q', sizeof big);
    big[0] = 0x32;
    big[1] = 0xA9;
    big[2] = 0x02;
    big[3] = 0;
    big[4] = 40;
    feed(&h, 3, big, sizeof big);
    assert_int_equal(h.c.stats.dropped_packets, 3);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    /* Oversized with QoS 3, or of a type that is never large: protocol error. */
    feed(&h, 4, BYTES(0x36, 0xA9, 0x02));
    assert_int_equal(h.c.state, MQTT_STATE_CLOSING);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_PROTOCOL);
    setup(&h);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    feed(&h, 4, BYTES(0x90, 0xA9, 0x02));
    assert_int_equal(h.c.state, MQTT_STATE_CLOSING);
}

/* Feeds one hostile packet to a connected client and expects a protocol error. */
static void expect_protocol_error(const uint8_t *b, size_t n, bool before_connack)
{
    static harness h;
    base_config(&h);
    h.cfg.subscriptions[0] = "s";
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    if (before_connack) {
        (void)open_and_send_connect(&h, 0);
    } else {
        connect_now(&h, 0, false);
    }
    assert_int_equal(mqtt_client_receive(&h.c, 1, b, n), MQTT_ERR_PROTOCOL);
    assert_int_equal(h.c.state, MQTT_STATE_CLOSING);
    assert_int_equal(h.c.stats.protocol_errors, 1);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_PROTOCOL);
    assert_int_equal(last_event(&h)->type,
                     before_connack ? MQTT_EVENT_CONNECT_FAILED : MQTT_EVENT_DISCONNECTED);
    assert_int_equal(mqtt_client_step(&h.c, 2), MQTT_ACTION_CLOSE);
    /* Bytes after the error are not looked at. */
    assert_int_equal(mqtt_client_receive(&h.c, 2, BYTES(0xD0, 0)), MQTT_ERR_NOT_CONNECTED);
    mqtt_client_transport_down(&h.c, 3, MQTT_ERR_CLOSED);
    assert_int_equal(h.c.state, MQTT_STATE_WAIT_RETRY);
    assert_int_equal(h.c.stats.outages, before_connack ? 0 : 1);
}

static void test_hostile_packets(void **state)
{
    (void)state;
    expect_protocol_error(BYTES(0xD0, 0), true);                      /* not a CONNACK */
    expect_protocol_error(BYTES(0x20, 2, 2, 0), true);                /* bad CONNACK flags */
    expect_protocol_error(BYTES(0x20, 2, 0, 0, 0x20, 2, 0, 0), false); /* second CONNACK */
    expect_protocol_error(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1), false); /* bad length */
    expect_protocol_error(BYTES(0x36, 5, 0, 1, 'a', 0, 1), false);    /* QoS 3 */
    expect_protocol_error(BYTES(0x34, 5, 0, 1, 'a', 0, 1), false);    /* QoS 2 never asked */
    expect_protocol_error(BYTES(0x32, 5, 0, 1, 'a', 0, 0), false);    /* packet id 0 */
    expect_protocol_error(BYTES(0x30, 3, 0, 1, '#'), false);          /* wildcard topic */
    expect_protocol_error(BYTES(0x30, 4, 0, 2, 'a', 0), false);       /* NUL in topic */
    expect_protocol_error(BYTES(0x30, 3, 0, 1, 0xFF), false);         /* invalid UTF-8 */
    expect_protocol_error(BYTES(0x90, 3, 0x7F, 0x7F, 0), false);      /* SUBACK unknown id */
    expect_protocol_error(BYTES(0x50, 2, 0, 5), false);               /* PUBREC */
    expect_protocol_error(BYTES(0x62, 2, 0, 5), false);               /* PUBREL */
    expect_protocol_error(BYTES(0x70, 2, 0, 5), false);               /* PUBCOMP */
    expect_protocol_error(BYTES(0xB0, 2, 0, 5), false);               /* UNSUBACK */
    expect_protocol_error(BYTES(0xC0, 0), false);                     /* PINGREQ from server */
    expect_protocol_error(BYTES(0xE0, 0), false);                     /* DISCONNECT */
    expect_protocol_error(BYTES(0x00, 0), false);                     /* reserved type 0 */
    expect_protocol_error(BYTES(0xF0, 0), false);                     /* reserved type 15 */
    /* Oversized (remaining length 297 > rx): the same checks as for small ones. */
    expect_protocol_error(BYTES(0x38, 0xA9, 0x02), false);            /* DUP on QoS 0 */
    expect_protocol_error(BYTES(0x34, 0xA9, 0x02), false);            /* QoS 2 */
    expect_protocol_error(BYTES(0x30, 0xA9, 0x02), true);             /* before CONNACK */
}

static void test_suback_checks(void **state)
{
    (void)state;
    static harness h;
    uint8_t out[256];
    base_config(&h);
    h.cfg.subscriptions[0] = "s";
    h.cfg.subscription_qos = 0;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    (void)drain(&h, 0, out, sizeof out);
    uint16_t id = (uint16_t)(out[2] << 8 | out[3]);
    /* Granted more than requested: the broker is wrong. */
    uint8_t suback[5] = {0x90, 3, (uint8_t)(id >> 8), (uint8_t)id, 1};
    feed(&h, 1, suback, sizeof suback);
    assert_int_equal(h.c.state, MQTT_STATE_CLOSING);
    /* After a reconnect every filter is subscribed again. */
    mqtt_client_transport_down(&h.c, 2, MQTT_ERR_CLOSED);
    connect_now(&h, h.c.deadline, true);
    size_t n = drain(&h, h.c.deadline, out, sizeof out);
    assert_int_equal(n, 8);
    assert_int_equal(out[0], 0x82);
    /* An unsolicited PINGRESP is harmless. */
    feed(&h, h.c.deadline, BYTES(0xD0, 0));
    assert_true(mqtt_client_is_connected(&h.c));
}

/* SUBSCRIBE, PINGREQ and DISCONNECT wait for (or give up on) a full tx. */
static void test_control_packets_and_full_tx(void **state)
{
    (void)state;
    static harness h;
    uint8_t out[256];
    base_config(&h);
    h.cfg.subscriptions[0] = "a";
    h.cfg.subscriptions[1] = "b";
    h.cfg.subscriptions[2] = "c";
    h.cfg.subscriptions[3] = "d";
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    (void)open_and_send_connect(&h, 0);
    h.c.tx_len = sizeof h.tx - 2; /* the transport is stuck */
    feed(&h, 0, BYTES(0x20, 2, 0, 0));
    assert_int_equal(h.c.subscribe_packet_id, 0);
    assert_int_equal(mqtt_client_output(&h.c, NULL), sizeof h.tx - 2);
    mqtt_client_output_done(&h.c, 1, sizeof h.tx - 2);
    for (int i = 0; i < 4; i++) {
        size_t n = drain(&h, 1, out, sizeof out);
        assert_int_equal(n, 8);
        assert_int_equal(out[6], 'a' + i);
        uint8_t suback[5] = {0x90, 3, out[2], out[3], 0};
        feed(&h, 1, suback, sizeof suback);
        assert_int_equal(last_event(&h)->u.suback.index, i);
    }
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    /* No room for a PINGREQ: it is tried again at the next step. */
    h.c.tx_len = sizeof h.tx - 1;
    assert_int_equal(mqtt_client_step(&h.c, 10001), MQTT_ACTION_NONE);
    assert_false(h.c.ping_outstanding);
    h.c.tx_len = 0;
    assert_int_equal(mqtt_client_step(&h.c, 10002), MQTT_ACTION_NONE);
    assert_true(h.c.ping_outstanding);
    /* No room for a DISCONNECT: stop closes all the same. */
    h.c.tx_len = sizeof h.tx - 1;
    mqtt_client_stop(&h.c, 10003);
    assert_int_equal(mqtt_client_step(&h.c, 10003), MQTT_ACTION_CLOSE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), sizeof h.tx - 1);
    mqtt_client_transport_down(&h.c, 10004, MQTT_OK);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
}

/* A loss reported with MQTT_OK by the platform reads as "closed"; a refusal
 * whose backoff is already longer than the refused minimum keeps it. */
static void test_reasons_and_long_backoff(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    mqtt_client_transport_down(&h.c, 1, MQTT_OK);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_CLOSED);
    base_config(&h);
    h.cfg.backoff_base_ms = 100000;
    h.cfg.backoff_max_ms = 100000;
    h.cfg.backoff_refused_ms = 1000;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    (void)open_and_send_connect(&h, 0);
    feed(&h, 0, BYTES(0x20, 2, 0, 4));
    mqtt_client_transport_down(&h.c, 0, MQTT_ERR_CLOSED);
    assert_true(h.c.deadline >= 50000 && h.c.deadline <= 100000);
}

static void test_stop_and_restart(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    mqtt_client_stop(&h.c, 10);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
    assert_int_equal(last_event(&h)->reason, MQTT_OK);
    assert_int_equal(h.c.stats.outages, 0);
    assert_int_equal(drain(&h, 10, out, sizeof out), 2);
    assert_int_equal(out[0], 0xE0);
    assert_int_equal(mqtt_client_step(&h.c, 10), MQTT_ACTION_CLOSE);
    mqtt_client_stop(&h.c, 10); /* again: nothing new */
    mqtt_client_transport_down(&h.c, 11, MQTT_OK);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    assert_int_equal(mqtt_client_step(&h.c, 100000), MQTT_ACTION_NONE);
    /* Restart: the first attempt is due at once. */
    mqtt_client_start(&h.c, 200);
    assert_int_equal(mqtt_client_step(&h.c, 200), MQTT_ACTION_OPEN);
    /* Stop while opening: closes without an event; start while closing resumes. */
    size_t before = h.n_events;
    mqtt_client_stop(&h.c, 201);
    assert_int_equal(h.n_events, before);
    assert_int_equal(mqtt_client_step(&h.c, 201), MQTT_ACTION_CLOSE);
    mqtt_client_start(&h.c, 202);
    assert_int_equal(h.c.state, MQTT_STATE_CLOSING);
    mqtt_client_transport_down(&h.c, 203, MQTT_OK);
    assert_int_equal(h.c.state, MQTT_STATE_WAIT_RETRY);
    mqtt_client_stop(&h.c, 204);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    /* Stop from inside the DISCONNECTED callback of a lost link. */
    setup(&h);
    h.stop_on_event = MQTT_EVENT_DISCONNECTED;
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    mqtt_client_transport_down(&h.c, 5, MQTT_ERR_TRANSPORT);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    assert_int_equal(h.c.stats.outages, 1);
    /* transport_up when not opening is ignored. */
    mqtt_client_transport_up(&h.c, 6);
    assert_int_equal(h.c.state, MQTT_STATE_IDLE);
    assert_string_equal(mqtt_state_name(MQTT_STATE_CLOSING), "closing");
    assert_string_equal(mqtt_state_name((mqtt_state)42), "unknown state");
}

static void test_no_callback(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    mqtt_buffers b = {h.rx, sizeof h.rx, h.tx, sizeof h.tx, h.inflight, sizeof h.inflight};
    assert_int_equal(mqtt_client_init(&h.c, &h.cfg, &b, NULL, NULL, 5), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    assert_int_equal(mqtt_client_step(&h.c, 0), MQTT_ACTION_OPEN);
    mqtt_client_transport_up(&h.c, 0);
    feed(&h, 0, BYTES(0x20, 2, 0, 0, 0x30, 3, 0, 1, 'x'));
    assert_true(mqtt_client_is_connected(&h.c));
}

/* CONNACK (session present) and, in the same read, the PUBACK for a stored
 * packet whose DUP copy is already queued: the broker's second PUBACK (for
 * the copy) is counted and ignored, not a reason to reconnect. */
static void test_puback_before_resend(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    uint16_t id = 0;
    assert_int_equal(mqtt_client_publish(&h.c, 0, "t", (const uint8_t *)"x", 1, 1, false, &id),
                     MQTT_OK);
    (void)drain(&h, 0, out, sizeof out);
    mqtt_client_transport_down(&h.c, 10000, MQTT_ERR_CLOSED);
    uint32_t at = h.c.deadline;
    (void)open_and_send_connect(&h, at);
    uint8_t in[8] = {0x20, 2, 1, 0, 0x40, 2, (uint8_t)(id >> 8), (uint8_t)id};
    feed(&h, at, in, sizeof in);
    assert_int_equal(mqtt_client_inflight_count(&h.c), 0);
    size_t n = drain(&h, at, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(out[0], 0x3A); /* the DUP copy went out */
    feed(&h, at + 5, in + 4, 4);    /* and the broker acks it too */
    assert_int_equal(h.c.state, MQTT_STATE_CONNECTED);
    assert_int_equal(h.c.stats.stray_pubacks, 1);
    assert_int_equal(h.c.stats.protocol_errors, 0);
    assert_int_equal(mqtt_client_step(&h.c, at + 6), MQTT_ACTION_NONE);
}

/* A broker that never answers SUBSCRIBE: the connection is given up after
 * connect_timeout_ms, not kept "connected" for ever. */
static void test_suback_deadline(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.subscriptions[0] = "cmd";
    h.cfg.keepalive_s = 0;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    assert_int_equal(drain(&h, 0, out, sizeof out), 5 + 3 + 2);
    assert_int_equal(out[0], 0x82);
    assert_int_equal(mqtt_client_next_deadline(&h.c, 0), 5000);
    assert_int_equal(mqtt_client_step(&h.c, 4999), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_step(&h.c, 5000), MQTT_ACTION_CLOSE);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_DISCONNECTED);
    assert_int_equal(last_event(&h)->reason, MQTT_ERR_TIMEOUT);
    mqtt_client_transport_down(&h.c, 5001, MQTT_ERR_CLOSED);
    /* Again and again: it backs off like any session dropped soon after CONNACK. */
    uint32_t t = h.c.deadline;
    for (int k = 0; k < 3; k++) {
        connect_now(&h, t, false);
        (void)drain(&h, t, out, sizeof out);
        assert_int_equal(mqtt_client_step(&h.c, t + 5000), MQTT_ACTION_CLOSE);
        mqtt_client_transport_down(&h.c, t + 5000, MQTT_ERR_CLOSED);
        uint32_t nominal = k == 0 ? 1000u : k == 1 ? 2000u : 4000u;
        assert_true(h.c.deadline - (t + 5000) >= nominal / 2 &&
                    h.c.deadline - (t + 5000) <= nominal);
        t = h.c.deadline;
    }
    assert_true(h.c.expensive);
    assert_int_equal(h.c.short_sessions, 4);
}

/* SUBACK 0x80: reported, and the same filter is asked for again later on the
 * same connection, backing off; a grant then completes the session. */
static void test_subscribe_refused_retried(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.subscriptions[0] = "cmd";
    h.cfg.keepalive_s = 0;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    uint8_t out[256];
    mqtt_client_start(&h.c, 0);
    connect_now(&h, 0, false);
    (void)drain(&h, 0, out, sizeof out);
    uint16_t sid = (uint16_t)((out[2] << 8) | out[3]);
    uint8_t nack[5] = {0x90, 3, (uint8_t)(sid >> 8), (uint8_t)sid, 0x80};
    feed(&h, 10, nack, sizeof nack);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_SUBSCRIBE_FAILED);
    assert_int_equal(h.c.stats.subscribe_refusals, 1);
    assert_true(mqtt_client_is_connected(&h.c));
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    uint32_t retry = mqtt_client_next_deadline(&h.c, 10);
    assert_true(retry >= 10 + 500 && retry <= 10 + 1000);
    assert_int_equal(mqtt_client_step(&h.c, retry - 1), MQTT_ACTION_NONE);
    assert_int_equal(mqtt_client_output(&h.c, NULL), 0);
    assert_int_equal(mqtt_client_step(&h.c, retry), MQTT_ACTION_NONE);
    (void)drain(&h, retry, out, sizeof out);
    assert_int_equal(out[0], 0x82);
    sid = (uint16_t)((out[2] << 8) | out[3]);
    /* Refused again: the wait doubles. */
    nack[2] = (uint8_t)(sid >> 8);
    nack[3] = (uint8_t)sid;
    feed(&h, retry, nack, sizeof nack);
    uint32_t retry2 = mqtt_client_next_deadline(&h.c, retry);
    assert_true(retry2 - retry >= 1000 && retry2 - retry <= 2000);
    assert_int_equal(mqtt_client_step(&h.c, retry2), MQTT_ACTION_NONE);
    (void)drain(&h, retry2, out, sizeof out);
    sid = (uint16_t)((out[2] << 8) | out[3]);
    uint8_t ack[5] = {0x90, 3, (uint8_t)(sid >> 8), (uint8_t)sid, 0};
    feed(&h, retry2, ack, sizeof ack);
    assert_int_equal(last_event(&h)->type, MQTT_EVENT_SUBSCRIBED);
    assert_int_equal(count_events(&h, MQTT_EVENT_SUBSCRIBE_FAILED), 2);
    assert_int_equal(mqtt_client_next_deadline(&h.c, retry2), retry2 + MQTT_IDLE_WAKE_MS);
}

/* A broker that restarts right after the device came back (flapping): the
 * short sessions are separated by refused connects, so retries stay at the
 * cheap rate instead of backing off. */
static void test_flapping_broker_stays_fast(void **state)
{
    (void)state;
    static harness h;
    setup(&h);
    mqtt_client_start(&h.c, 0);
    uint32_t t = 0;
    for (int cycle = 0; cycle < 8; cycle++) {
        connect_now(&h, t, false);
        mqtt_client_transport_down(&h.c, t + 300, MQTT_ERR_CLOSED); /* broker went down */
        assert_true(h.c.deadline - (t + 300) <= 200);                /* the fast first retry */
        t = h.c.deadline;
        for (int k = 0; k < 3; k++) { /* down for a few seconds: refused */
            assert_int_equal(mqtt_client_step(&h.c, t), MQTT_ACTION_OPEN);
            mqtt_client_transport_down(&h.c, t, MQTT_ERR_TRANSPORT);
            assert_true(h.c.deadline - t >= 500 && h.c.deadline - t <= 1000);
            t = h.c.deadline;
        }
    }
    assert_int_equal(h.c.short_sessions, 0);
    assert_int_equal(h.c.stats.connects, 8);
}

/* A connection that stayed up for 2^32 + 1000 ms is stable, not "dropped at
 * once": its loss earns the fast first retry. */
static void test_stable_across_clock_wrap(void **state)
{
    (void)state;
    static harness h;
    base_config(&h);
    h.cfg.keepalive_s = 0;
    assert_int_equal(init_with(&h, 64, 256, 256), MQTT_OK);
    mqtt_client_start(&h.c, 0);
    /* Two short sessions first: the next one would back off if short. */
    connect_now(&h, 0, false);
    mqtt_client_transport_down(&h.c, 10, MQTT_ERR_CLOSED);
    uint32_t t = h.c.deadline;
    connect_now(&h, t, false);
    for (uint64_t now = t; now < (uint64_t)t + 0x100000000ull + 1000u; now += MQTT_IDLE_WAKE_MS) {
        assert_int_equal(mqtt_client_step(&h.c, (uint32_t)now), MQTT_ACTION_NONE);
    }
    uint32_t down = t + 1000u; /* 2^32 + 1000 ms later */
    mqtt_client_transport_down(&h.c, down, MQTT_ERR_CLOSED);
    assert_int_equal(h.c.short_sessions, 0);
    assert_true(h.c.deadline - down >= 100 && h.c.deadline - down <= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_connect_and_subscribe),
        cmocka_unit_test(test_connack_refusals),
        cmocka_unit_test(test_connect_timeouts),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_keepalive_ping_and_half_open),
        cmocka_unit_test(test_keepalive_disabled_and_pending_tx),
        cmocka_unit_test(test_keepalive_with_qos0_traffic_only),
        cmocka_unit_test(test_time_wraps),
        cmocka_unit_test(test_inflight_resend_persistent),
        cmocka_unit_test(test_inflight_remove_middle_and_ids),
        cmocka_unit_test(test_inflight_lost_session_and_clean),
        cmocka_unit_test(test_clean_session_cannot_be_present),
        cmocka_unit_test(test_clean_first),
        cmocka_unit_test(test_publish_limits),
        cmocka_unit_test(test_qos0_and_tx_room),
        cmocka_unit_test(test_incoming_messages),
        cmocka_unit_test(test_puback_without_room),
        cmocka_unit_test(test_oversized_packet_skipped),
        cmocka_unit_test(test_hostile_packets),
        cmocka_unit_test(test_suback_checks),
        cmocka_unit_test(test_control_packets_and_full_tx),
        cmocka_unit_test(test_reasons_and_long_backoff),
        cmocka_unit_test(test_puback_before_resend),
        cmocka_unit_test(test_suback_deadline),
        cmocka_unit_test(test_subscribe_refused_retried),
        cmocka_unit_test(test_flapping_broker_stays_fast),
        cmocka_unit_test(test_stable_across_clock_wrap),
        cmocka_unit_test(test_stop_and_restart),
        cmocka_unit_test(test_no_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
