/*
 * A fake platform for controller tests: records every output change and every
 * publication, serves input levels, stats, a settable clock and a public-IP
 * lookup, and computes HMAC-SHA1 with mbedTLS. Included by the
 * test_controller*.c files (each is its own executable).
 */
#ifndef CONTROLLER_FAKE_H
#define CONTROLLER_FAKE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "controller.h"
#include "totp.h"

#define FAKE_MAX_PUBS 256
#define FAKE_MAX_OUTPUTS 512
#define FAKE_MAX_TO 128
#define FAKE_TO_TOPIC_SIZE 320

typedef struct {
    bool input[32];
    bool output[32];
    struct {
        uint8_t pin;
        bool level;
        uint32_t at_ms;
    } outputs[FAKE_MAX_OUTPUTS];
    size_t output_count;
    char pubs[FAKE_MAX_PUBS][CONTROLLER_OUT_SIZE];
    size_t pub_count;
    bool publish_fails;
    /* publish_to (other topics): every accepted call, in order */
    struct {
        char topic[FAKE_TO_TOPIC_SIZE];
        char payload[CONTROLLER_OUT_SIZE];
        size_t len;
        uint8_t qos;
        bool retain;
        size_t after_pubs;       /* pub_count when it was published */
    } to[FAKE_MAX_TO];
    size_t to_count;
    size_t to_refused;           /* calls answered false */
    bool to_limited;             /* accept only to_budget more calls */
    unsigned to_budget;
    controller_platform_stats stats;
    bool ip_supported;
    int ip_requests;
    bool sync_supported;
    int sync_requests;
    bool clock_set;
    int64_t unix_s;
    uint32_t now;
} fake;

static fake F;
static controller C;
static config CFG;

static inline void fake_set_output(void *ctx, uint8_t pin, bool level)
{
    fake *f = ctx;
    f->output[pin] = level;
    if (f->output_count < FAKE_MAX_OUTPUTS) {
        f->outputs[f->output_count].pin = pin;
        f->outputs[f->output_count].level = level;
        f->outputs[f->output_count].at_ms = f->now;
        f->output_count++;
    }
}

static inline bool fake_read_input(void *ctx, uint8_t pin)
{
    return ((fake *)ctx)->input[pin];
}

static inline bool fake_publish(void *ctx, const char *payload, size_t len)
{
    fake *f = ctx;
    assert_true(len < CONTROLLER_OUT_SIZE);
    assert_int_equal(strlen(payload), len);
    if (f->publish_fails) return false;
    if (f->pub_count < FAKE_MAX_PUBS) memcpy(f->pubs[f->pub_count], payload, len + 1);
    f->pub_count++;
    return true;
}

/* Not in FAKE_PLATFORM: tests of availability and discovery add it. */
static inline bool fake_publish_to(void *ctx, const char *topic, const char *payload, size_t len,
                                   uint8_t qos, bool retain)
{
    fake *f = ctx;
    assert_true(len < CONTROLLER_OUT_SIZE);
    assert_int_equal(strlen(payload), len);
    if (f->to_limited) {
        if (f->to_budget == 0) {
            f->to_refused++;
            return false;
        }
        f->to_budget--;
    }
    assert_true(f->to_count < FAKE_MAX_TO);
    size_t n = strlen(topic);
    assert_true(n < FAKE_TO_TOPIC_SIZE);
    memcpy(f->to[f->to_count].topic, topic, n + 1);
    memcpy(f->to[f->to_count].payload, payload, len + 1);
    f->to[f->to_count].len = len;
    f->to[f->to_count].qos = qos;
    f->to[f->to_count].retain = retain;
    f->to[f->to_count].after_pubs = f->pub_count;
    f->to_count++;
    return true;
}

static inline void fake_read_stats(void *ctx, controller_platform_stats *s)
{
    *s = ((fake *)ctx)->stats;
}

static inline bool fake_request_ip(void *ctx)
{
    fake *f = ctx;
    f->ip_requests++;
    return f->ip_supported;
}

static inline bool fake_unix_time(void *ctx, int64_t *secs)
{
    fake *f = ctx;
    if (!f->clock_set) return false;
    *secs = f->unix_s + (int64_t)(f->now / 1000u);
    return true;
}

static inline bool fake_hmac(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, uint8_t out[20])
{
    (void)ctx;
    return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), key, key_len, msg, msg_len,
                           out) == 0;
}

static inline bool fake_sync_time(void *ctx)
{
    fake *f = ctx;
    f->sync_requests++;
    return f->sync_supported;
}

static const controller_platform FAKE_PLATFORM = {
    fake_set_output, fake_read_input, fake_publish, fake_read_stats, fake_request_ip,
    fake_unix_time,  fake_hmac,       NULL,         NULL,            fake_sync_time,
};

/* The original README's board: relays GP16, GP17; momentary GP18, GP19 (2 s);
 * contacts GP0..GP3 (pull-up, normally open); the original guard defaults. */
static inline void example_config(config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->relay_count = 2;
    cfg->relays[0] = (config_relay){.pin = 16, .active_low = true};
    cfg->relays[1] = (config_relay){.pin = 17, .active_low = true};
    cfg->momentary_count = 2;
    cfg->momentary[0] = (config_momentary){.pin = 18, .active_low = true, .pulse_ms = 2000};
    cfg->momentary[1] = (config_momentary){.pin = 19, .active_low = true, .pulse_ms = 2000};
    cfg->contact_count = 4;
    for (uint8_t i = 0; i < 4; i++) {
        cfg->contacts[i] = (config_contact){
            .pin = i, .pull = CONFIG_PULL_UP, .normally_open = true, .debounce_ms = 50};
    }
    cfg->guards = (config_guards){.cooldown_ms = 2000,
                                  .toggle_window_ms = 60000,
                                  .toggle_max = 5,
                                  .violation_max = 3,
                                  .publish_window_ms = 10000,
                                  .publish_max = 20,
                                  .backlog_window_ms = 3000};
    cfg->publish_interval_s = 7200;
    strcpy(cfg->public_ip_url, "http://api.ipify.org");
}

/* Fresh fake (contacts open: pull-up reads 1) and controller at time now. */
static inline void start_at(uint32_t now)
{
    memset(&F, 0, sizeof F);
    for (int i = 0; i < 32; i++) F.input[i] = true;
    F.ip_supported = true;
    F.sync_supported = true;
    F.clock_set = true;
    F.unix_s = 1795000000; /* 2026-11-18 */
    F.now = now;
    assert_true(controller_init(&C, &CFG, &FAKE_PLATFORM, &F, now));
}

static inline void at(uint32_t now)
{
    F.now = now;
    controller_step(&C, now);
}

static inline void connect_at(uint32_t now)
{
    F.now = now;
    controller_on_connection(&C, now, true);
}

static inline void msg_dup(uint32_t now, const char *payload, bool dup)
{
    F.now = now;
    controller_on_message(&C, now, payload, strlen(payload), dup);
}

static inline void msg(uint32_t now, const char *payload)
{
    msg_dup(now, payload, false);
}

static const char *last_pub(void)
{
    assert_true(F.pub_count > 0 && F.pub_count <= FAKE_MAX_PUBS);
    return F.pubs[F.pub_count - 1];
}

/* Asserts the last publication contains every fragment (NULL-terminated). */
static inline void expect_last(const char *fragment)
{
    const char *p = last_pub();
    if (strstr(p, fragment) == NULL) fail_msg("expected %s in %s", fragment, p);
}

static inline size_t pubs_containing(const char *fragment)
{
    size_t n = 0;
    for (size_t i = 0; i < F.pub_count && i < FAKE_MAX_PUBS; i++) {
        if (strstr(F.pubs[i], fragment) != NULL) n++;
    }
    return n;
}

static inline bool on(uint8_t pin)
{
    bool v = false;
    assert_true(controller_pin_state(&C, pin, &v));
    return v;
}

/* Current 6-digit code for a base32 secret at the fake's clock. */
static inline uint32_t code_for(const char *secret, int64_t offset_s)
{
    uint8_t key[TOTP_SECRET_MAX];
    size_t n = base32_decode(secret, key, sizeof key);
    totp_hmac h = {fake_hmac, NULL};
    uint32_t code = 0;
    int64_t t = F.unix_s + (int64_t)(F.now / 1000u) + offset_s;
    assert_true(hotp_code(&h, key, n, (uint64_t)t / TOTP_STEP_S, 6, &code));
    return code;
}

static inline int setup_example(void **state)
{
    (void)state;
    example_config(&CFG);
    start_at(1000);
    return 0;
}

#endif
