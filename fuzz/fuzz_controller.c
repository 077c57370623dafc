/*
 * libFuzzer target for the controller: a stream of events (messages with or
 * without DUP, input edges, connection changes, time steps, public-IP answers)
 * against the example board (relays GP16/GP17, momentary GP18/GP19, contacts
 * GP0-GP3), with one-time codes on GP19 and backlog presses allowed on GP18.
 *
 * Input: records of [op][dt_lo][dt_hi][len][len bytes]. Checks on every
 * publication: it is valid JSON, an object, carries "TIME", and fits.
 * Outputs may only be driven on configured output pins.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "json.h"

typedef struct {
    uint32_t now;
    bool publish_fails;
    bool clock;
} fuzz_board;

static void set_output(void *ctx, uint8_t pin, bool level)
{
    (void)ctx, (void)level;
    if (pin < 16 || pin > 19) abort();
}

static bool read_input(void *ctx, uint8_t pin)
{
    (void)ctx;
    return pin != 2;
}

static bool publish(void *ctx, const char *payload, size_t len)
{
    fuzz_board *b = ctx;
    json_token tokens[96];
    if (len >= CONTROLLER_OUT_SIZE || strlen(payload) != len) abort();
    json_result r = json_parse(payload, len, tokens, 96);
    if (r.status != JSON_OK || tokens[0].type != JSON_OBJECT) abort();
    if (json_object_get(payload, tokens, r.count, 0, "TIME") < 0) abort();
    return !b->publish_fails;
}

static void read_stats(void *ctx, controller_platform_stats *s)
{
    (void)ctx;
    *s = (controller_platform_stats){.uptime_ms = 123456, .mem_total_bytes = 1000,
                                     .mem_free_bytes = 400, .temp_milli_c = -5500};
}

/* Availability and Home Assistant discovery: a topic, a bounded payload that
 * is JSON or one of the availability words, QoS 0 or 1. */
static bool publish_to(void *ctx, const char *topic, const char *payload, size_t len, uint8_t qos,
                       bool retain)
{
    fuzz_board *b = ctx;
    (void)retain;
    if (topic == NULL || topic[0] == '\0' || qos > 1) abort();
    if (len >= CONTROLLER_OUT_SIZE || strlen(payload) != len) abort();
    bool word = (len == 6 && memcmp(payload, "online", 6) == 0) ||
                (len == 7 && memcmp(payload, "offline", 7) == 0);
    if (len > 0 && !word) {
        json_token tokens[96];
        json_result r = json_parse(payload, len, tokens, 96);
        if (r.status != JSON_OK || tokens[0].type != JSON_OBJECT) abort();
    }
    return !b->publish_fails;
}

static bool sync_time(void *ctx)
{
    (void)ctx;
    return true;
}

static bool request_ip(void *ctx)
{
    (void)ctx;
    return true;
}

static bool unix_time(void *ctx, int64_t *secs)
{
    fuzz_board *b = ctx;
    *secs = 1795000000 + b->now / 1000u;
    return b->clock;
}

/* Not HMAC: a cheap deterministic mix is enough to exercise the code paths. */
static bool fake_hmac(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, uint8_t out[20])
{
    (void)ctx;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < key_len; i++) h = (h ^ key[i]) * 16777619u;
    for (size_t i = 0; i < msg_len; i++) h = (h ^ msg[i]) * 16777619u;
    for (size_t i = 0; i < 20; i++) {
        h = (h ^ (uint32_t)i) * 16777619u;
        out[i] = (uint8_t)(h >> 24);
    }
    return true;
}

static void example_config(config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->relay_count = 2;
    cfg->relays[0] = (config_relay){.pin = 16, .active_low = true, .power_on = true,
                                    .interlock = 1};
    cfg->relays[1] = (config_relay){.pin = 17, .active_low = false, .interlock = 1};
    cfg->interlock_gap_ms = 100;
    cfg->notify_pins = (1u << 16) | (1u << 1);
    strcpy(cfg->mqtt.topic, "home/picow");
    strcpy(cfg->mqtt.client_id, "picow");
    strcpy(cfg->mqtt.status_topic, "home/picow/status");
    cfg->homeassistant.discovery = true;
    strcpy(cfg->homeassistant.discovery_prefix, "homeassistant");
    cfg->momentary_count = 2;
    cfg->momentary[0] = (config_momentary){.pin = 18, .active_low = true, .pulse_ms = 2000,
                                           .allow_backlog = true};
    cfg->momentary[1] = (config_momentary){.pin = 19, .active_low = true, .pulse_ms = 500};
    cfg->momentary[1].otp_count = 1;
    cfg->momentary[1].otp_first = 0;
    strcpy(cfg->otp_secrets[0], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    cfg->otp_total = 1;
    cfg->contact_count = 4;
    for (uint8_t i = 0; i < 4; i++) {
        cfg->contacts[i] = (config_contact){.pin = i,
                                            .pull = i == 3 ? CONFIG_PULL_DOWN : CONFIG_PULL_UP,
                                            .normally_open = i != 1,
                                            .debounce_ms = 50,
                                            .device_class = i == 0 ? CONFIG_CLASS_DOOR
                                                                   : CONFIG_CLASS_NONE};
    }
    cfg->guards = (config_guards){.cooldown_ms = 2000, .toggle_window_ms = 60000, .toggle_max = 5,
                                  .violation_max = 3, .publish_window_ms = 10000,
                                  .publish_max = 20, .backlog_window_ms = 3000,
                                  .remote_reset = true};
    cfg->publish_interval_s = 60;
    strcpy(cfg->public_ip_url, "http://api.ipify.org");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config cfg;
    static controller c;
    fuzz_board board = {.now = 1000, .clock = true};
    const controller_platform platform = {set_output, read_input, publish,    read_stats,
                                          request_ip, unix_time,  fake_hmac,  NULL,
                                          publish_to, sync_time};
    example_config(&cfg);
    if (!controller_init(&c, &cfg, &platform, &board, board.now)) abort();

    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t op = data[i];
        uint32_t dt = (uint32_t)data[i + 1] | ((uint32_t)data[i + 2] << 8);
        size_t len = data[i + 3];
        if (op & 0x80u) len |= (size_t)(op & 0x03u) << 8; /* up to 1023 bytes */
        i += 4;
        if (len > size - i) len = size - i;
        const uint8_t *p = data + i;
        i += len;
        board.now += (op & 0x40u) ? dt * 100u : dt;
        switch (op & 0x0fu) {
        case 0: case 1: case 2: case 3:
            controller_on_message(&c, board.now, (const char *)p, len, (op & 1u) != 0);
            break;
        case 4: controller_on_connection(&c, board.now, true); break;
        case 5: controller_on_connection(&c, board.now, false); break;
        case 6:
            controller_on_input(&c, board.now, len > 0 ? p[0] : 0, len > 1 && (p[1] & 1u));
            break;
        case 7: controller_step(&c, board.now); break;
        case 8: {
            char ip[64];
            size_t n = len < sizeof ip - 1 ? len : sizeof ip - 1;
            memcpy(ip, p, n);
            ip[n] = '\0';
            controller_on_public_ip(&c, board.now, (op & 0x10u) ? NULL : ip);
            break;
        }
        case 9: board.publish_fails = !board.publish_fails; break;
        case 10: board.clock = !board.clock; break;
        case 11: controller_on_session(&c, board.now, (op & 0x10u) != 0); break;
        case 12: controller_on_subscribe_refused(&c, board.now); break;
        case 13: controller_on_time_synced(&c, board.now); break;
        case 14: controller_on_public_ip_failed(&c, board.now, "provider answered HTTP 404"); break;
        default: {
            uint32_t d = controller_next_deadline(&c, board.now);
            if (d > 3600000u) abort();
            board.now += d;
            controller_step(&c, board.now);
            break;
        }
        }
    }
    return 0;
}
