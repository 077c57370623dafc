/*
 * libFuzzer target for everything the MQTT code reads from the network.
 *
 * 1. The packet decoder on the raw bytes (and on every prefix the fixed
 *    header announces), then a re-encode of a decoded PUBLISH.
 * 2. A client fed the bytes as a server stream after a fake transport_up,
 *    in chunks whose sizes come from the input, with time moving on, output
 *    drained partially and publications made between chunks.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mqtt_client.h"

typedef struct {
    mqtt_client *c;
    uint32_t messages;
} fuzz_ctx;

static void on_event(void *ctx, const mqtt_event *e)
{
    fuzz_ctx *f = ctx;
    if (e->type == MQTT_EVENT_MESSAGE) {
        /* Touch every byte the event points at: ASan checks the bounds. */
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < e->u.message.topic_len; i++) {
            sink ^= (uint8_t)e->u.message.topic[i];
        }
        for (size_t i = 0; i < e->u.message.payload_len; i++) {
            sink ^= e->u.message.payload[i];
        }
        (void)sink;
        if ((f->messages++ & 3u) == 0) {
            (void)mqtt_client_publish(f->c, 0, "fuzz/reply", (const uint8_t *)"r", 1, 1, false,
                                      NULL);
        }
    }
}

static void fuzz_decoder(const uint8_t *data, size_t size)
{
    mqtt_packet pk;
    uint8_t first;
    uint32_t rl;
    size_t hl;
    if (mqtt_decode_packet(data, size, &pk) == MQTT_OK && pk.type == MQTT_PUBLISH &&
        pk.u.publish.qos < 3u) {
        uint8_t out[512];
        size_t n;
        (void)mqtt_encode_publish(out, sizeof out, &pk.u.publish, &n);
    }
    if (mqtt_decode_fixed_header(data, size, &first, &rl, &hl) == MQTT_OK && hl + rl <= size) {
        (void)mqtt_decode_packet(data, hl + rl, &pk);
    }
}

static void fuzz_client(const uint8_t *data, size_t size)
{
    static const char *const subs[] = {"dev/cmd", "all/#"};
    mqtt_client c;
    mqtt_client_config cfg;
    uint8_t rx[64], tx[192], inflight[256];
    memset(&cfg, 0, sizeof cfg);
    cfg.client_id = "fuzz";
    cfg.keepalive_s = 5;
    cfg.session_mode = MQTT_SESSION_CLEAN_FIRST;
    cfg.subscriptions[0] = subs[0];
    cfg.subscriptions[1] = subs[1];
    cfg.subscription_qos = 1;
    mqtt_buffers b = {rx, sizeof rx, tx, sizeof tx, inflight, sizeof inflight};
    fuzz_ctx f = {&c, 0};
    if (mqtt_client_init(&c, &cfg, &b, on_event, &f, 1) != MQTT_OK) {
        __builtin_trap();
    }
    uint32_t now = 0xFFFFF000u; /* crosses the wrap of the clock */
    mqtt_client_start(&c, now);
    size_t i = 0;
    for (int rounds = 0; rounds < 64 && i <= size; rounds++) {
        mqtt_action a = mqtt_client_step(&c, now);
        if (a == MQTT_ACTION_OPEN) {
            mqtt_client_transport_up(&c, now);
        } else if (a == MQTT_ACTION_CLOSE) {
            mqtt_client_transport_down(&c, now, MQTT_ERR_CLOSED);
            now = mqtt_client_next_deadline(&c, now);
            continue;
        }
        if (i == size) {
            break;
        }
        /* One control byte: chunk length and what happens around the chunk. */
        uint8_t ctl = data[i++];
        size_t chunk = (size_t)(ctl & 0x1Fu) + 1u;
        if (chunk > size - i) {
            chunk = size - i;
        }
        (void)mqtt_client_receive(&c, now, data + i, chunk);
        i += chunk;
        const uint8_t *out;
        size_t pending = mqtt_client_output(&c, &out);
        mqtt_client_output_done(&c, now, (ctl & 0x20u) ? pending : pending / 2u);
        if (ctl & 0x40u) {
            (void)mqtt_client_publish(&c, now, "fuzz/t", data, chunk, (ctl >> 7) & 1u, false,
                                      NULL);
        }
        uint32_t next = mqtt_client_next_deadline(&c, now);
        if ((int32_t)(next - now) < 0 || next - now > MQTT_IDLE_WAKE_MS) {
            __builtin_trap(); /* asked to sleep into the past or too long */
        }
        now += (uint32_t)(ctl & 0x0Fu) * 700u;
        if (mqtt_client_inflight_count(&c) > MQTT_MAX_INFLIGHT) {
            __builtin_trap();
        }
    }
    mqtt_client_stop(&c, now);
    if (mqtt_client_step(&c, now) == MQTT_ACTION_CLOSE) {
        mqtt_client_transport_down(&c, now, MQTT_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_decoder(data, size);
    fuzz_client(data, size);
    return 0;
}
