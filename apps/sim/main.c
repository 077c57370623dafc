/*
 * mqtt-tiny-sim: the controller on Linux, wired to a virtual board.
 *
 * One poll loop serves everything: the board socket (board_sim), the MQTT
 * connection (mqtt_link), the public IP lookup (public_ip), SIGINT/SIGTERM
 * (signalfd) and the controller's timers. Where a relay command goes:
 *   broker -> mqtt_link -> on_mqtt_event(MESSAGE) -> controller_on_message()
 *   -> platform.set_output -> sim_set_output() -> board "output" event.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "board_sim.h"
#include "clock.h"
#include "config.h"
#include "controller.h"
#include "host_stats.h"
#include "mqtt_link.h"
#include "public_ip.h"
#include "sim_args.h"

#define SIM_MAX_POLLFDS (BOARD_SIM_POLLFDS + 8)
#define SIM_MAX_WAIT_MS 1000   /* poll at least this often (clock sanity, signals) */

typedef struct {
    config cfg;
    controller ctl;
    mqtt_link link;
    board_sim board;
    public_ip ip;
    bool have_board;
    bool link_ready;
    bool ctl_ready;
    bool ip_ready;
    uint32_t start_ms;
    struct timespec started;  /* uptime beyond the 49-day wrap of the ms counter */
    uint32_t now;             /* time of the current loop round, for callbacks */
    bool wifi_up;
    bool session_up;          /* controller told the session is up */
    /* Home Assistant topics (empty when discovery is off) */
    char ha_birth[CONTROLLER_HA_TOPIC_SIZE];
    char ha_filter[CONTROLLER_HA_TOPIC_SIZE];
} sim;

/* ---- logging ------------------------------------------------------------ */

static void sim_log(const sim *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sim_log(const sim *s, const char *level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%8" PRIu32 "] %-5s %s\n", (uint32_t)(s->now - s->start_ms), level, line);
}

static uint64_t uptime_ms(const sim *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(now.tv_sec - s->started.tv_sec) * 1000 +
                 (now.tv_nsec - s->started.tv_nsec) / 1000000;
    return ms > 0 ? (uint64_t)ms : 0;
}

/* ---- pins ------------------------------------------------------------- */

/* Logical state of an output from its electrical level. */
static bool output_is_on(const config *cfg, uint8_t pin, bool level)
{
    for (size_t i = 0; i < cfg->relay_count; i++)
        if (cfg->relays[i].pin == pin)
            return cfg->relays[i].active_low ? !level : level;
    for (size_t i = 0; i < cfg->momentary_count; i++)
        if (cfg->momentary[i].pin == pin)
            return cfg->momentary[i].active_low ? !level : level;
    return level;
}

/* Electrical level of an open contact: what its pull gives. */
static uint8_t contact_idle_level(const config_contact *c)
{
    return c->pull == CONFIG_PULL_UP ? 1 : 0;
}

static void board_add_pins(sim *s)
{
    const config *cfg = &s->cfg;
    for (size_t i = 0; i < cfg->relay_count; i++)
        board_sim_add_pin(&s->board, cfg->relays[i].pin, BOARD_PIN_RELAY,
                          cfg->relays[i].active_low ? 1 : 0, false);
    for (size_t i = 0; i < cfg->momentary_count; i++)
        board_sim_add_pin(&s->board, cfg->momentary[i].pin, BOARD_PIN_MOMENTARY,
                          cfg->momentary[i].active_low ? 1 : 0, false);
    for (size_t i = 0; i < cfg->contact_count; i++)
        board_sim_add_pin(&s->board, cfg->contacts[i].pin, BOARD_PIN_CONTACT,
                          contact_idle_level(&cfg->contacts[i]), false);
}

/* Copies the controller's debounced contact states to the board (an event
 * for each change). */
static void sync_contacts(sim *s)
{
    for (size_t i = 0; i < s->cfg.contact_count; i++) {
        bool on;
        uint8_t pin = s->cfg.contacts[i].pin;
        if (controller_pin_state(&s->ctl, pin, &on))
            board_sim_contact(&s->board, s->now, pin, on);
    }
}

/* ---- controller platform ------------------------------------------------ */

static void sim_set_output(void *ctx, uint8_t pin, bool level)
{
    sim *s = ctx;
    const board_pin *p = board_sim_pin(&s->board, pin);
    if (p && p->level == (level ? 1 : 0))
        return; /* no change */
    bool on = output_is_on(&s->cfg, pin, level);
    sim_log(s, "info", "GP%u -> %s (level %d)", (unsigned)pin, on ? "on" : "off", level ? 1 : 0);
    board_sim_output(&s->board, s->now, pin, level ? 1 : 0, on);
}

static bool sim_read_input(void *ctx, uint8_t pin)
{
    sim *s = ctx;
    const board_pin *p = board_sim_pin(&s->board, pin);
    return p ? p->level != 0 : false;
}

static bool sim_publish(void *ctx, const char *payload, size_t len)
{
    sim *s = ctx;
    if (!s->link_ready)
        return false;
    sync_contacts(s); /* a contact's change is reported before its publication */
    mqtt_status st = mqtt_client_publish(mqtt_link_client(&s->link), s->now, s->cfg.mqtt.topic,
                                         (const uint8_t *)payload, len, 1, false, NULL);
    if (st != MQTT_OK) {
        sim_log(s, "warn", "publish not queued: %s", mqtt_status_name(st));
        return false;
    }
    sim_log(s, "info", "publish %.*s", (int)len, payload);
    board_sim_published(&s->board, s->now, payload, len);
    return true;
}

static bool sim_publish_to(void *ctx, const char *topic, const char *payload, size_t len,
                           uint8_t qos, bool retain)
{
    sim *s = ctx;
    if (!s->link_ready)
        return false;
    mqtt_status st = mqtt_client_publish(mqtt_link_client(&s->link), s->now, topic,
                                         (const uint8_t *)payload, len, qos, retain, NULL);
    if (st != MQTT_OK) {
        sim_log(s, "warn", "publish to %s not queued: %s", topic, mqtt_status_name(st));
        return false;
    }
    sim_log(s, "info", "publish to %s%s: %.*s", topic, retain ? " (retained)" : "", (int)len,
            payload);
    return true;
}

static void sim_read_stats(void *ctx, controller_platform_stats *out)
{
    sim *s = ctx;
    host_stats h;
    host_stats_read(&h);
    memset(out, 0, sizeof *out);
    out->uptime_ms = uptime_ms(s);
    /* The machine's memory, scaled down (same percentage) if it does not fit 32 bits. */
    uint64_t total = h.total_kb * 1024u, avail = h.available_kb * 1024u;
    while (total > UINT32_MAX) {
        total /= 2;
        avail /= 2;
    }
    out->mem_total_bytes = (uint32_t)total;
    out->mem_free_bytes = (uint32_t)avail;
    out->temp_milli_c = h.temp_milli_c;
    out->temp_real = h.temp_measured;
    out->rssi_dbm = (int16_t)h.rssi_dbm;
    out->rssi_valid = h.rssi_measured;
    out->reboots = 0;
}

static bool sim_request_public_ip(void *ctx)
{
    sim *s = ctx;
    char err[160];
    if (!public_ip_start(&s->ip, s->cfg.public_ip_url, s->now, err, sizeof err)) {
        sim_log(s, "warn", "getip: %s", err);
        return false;
    }
    return true;
}

static void on_public_ip(void *ctx, uint32_t now, bool ok, const char *text)
{
    sim *s = ctx;
    s->now = now;
    if (ok) {
        sim_log(s, "info", "public IP %s", text);
        controller_on_public_ip(&s->ctl, now, text);
        return;
    }
    sim_log(s, "warn", "%s", text);
    if (strncmp(text, "getip: ", 7) == 0)
        text += 7;
    controller_on_public_ip_failed(&s->ctl, now, text);
}

static bool sim_unix_time(void *ctx, int64_t *secs)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return false;
    *secs = (int64_t)ts.tv_sec;
    return true;
}

static bool sim_hmac_sha1(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                          size_t msg_len, uint8_t out[20])
{
    (void)ctx;
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    return md && mbedtls_md_hmac(md, key, key_len, msg, msg_len, out) == 0;
}

static void sim_controller_log(void *ctx, controller_log_level level, const char *text)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    sim *s = ctx;
    sim_log(s, (unsigned)level < 4 ? names[level] : "?", "%s", text);
    if (level >= CONTROLLER_LOG_WARN)
        board_sim_log(&s->board, s->now, text);
}

/* ---- MQTT ------------------------------------------------------------- */

static void session_up(sim *s, bool up)
{
    if (s->session_up == up)
        return;
    s->session_up = up;
    controller_on_connection(&s->ctl, s->now, up);
}

static void on_mqtt_event(void *ctx, const mqtt_event *ev)
{
    sim *s = ctx;
    switch (ev->type) {
    case MQTT_EVENT_CONNECTED:
        sim_log(s, "info", "MQTT connected (session present: %s)",
                ev->u.connected.session_present ? "yes" : "no");
        controller_on_session(&s->ctl, s->now, ev->u.connected.session_present);
        break;
    case MQTT_EVENT_SUBSCRIBED:
        if (ev->u.suback.index != 0) {
            sim_log(s, "info", "subscribed to Home Assistant topic %u", (unsigned)ev->u.suback.index);
            break;
        }
        /* The session counts as up once the topic is subscribed: a command
         * published after the board's "connected" event cannot be missed. */
        sim_log(s, "info", "subscribed to %s (QoS %u)", s->cfg.mqtt.topic,
                (unsigned)ev->u.suback.granted_qos);
        board_sim_mqtt(&s->board, s->now, "connected", NULL);
        session_up(s, true);
        break;
    case MQTT_EVENT_SUBSCRIBE_FAILED:
        if (ev->u.suback.index != 0) {
            sim_log(s, "warn", "broker refused Home Assistant topic %u; retrying",
                    (unsigned)ev->u.suback.index);
            break;
        }
        sim_log(s, "error", "broker refused the subscription to %s; retrying", s->cfg.mqtt.topic);
        board_sim_mqtt(&s->board, s->now, "subscribe_failed", "subscription refused; retrying");
        s->session_up = true;
        controller_on_subscribe_refused(&s->ctl, s->now);
        break;
    case MQTT_EVENT_DISCONNECTED:
        sim_log(s, "warn", "MQTT disconnected: %s", mqtt_status_name(ev->reason));
        board_sim_mqtt(&s->board, s->now, "disconnected", mqtt_status_name(ev->reason));
        session_up(s, false);
        break;
    case MQTT_EVENT_CONNECT_FAILED: {
        char reason[64];
        if (ev->reason == MQTT_ERR_REFUSED)
            snprintf(reason, sizeof reason, "%s (CONNACK %u)", mqtt_status_name(ev->reason),
                     (unsigned)ev->u.connack_code);
        else
            snprintf(reason, sizeof reason, "%s", mqtt_status_name(ev->reason));
        sim_log(s, "warn", "MQTT connect failed: %s", reason);
        board_sim_mqtt(&s->board, s->now, "connect_failed", reason);
        break;
    }
    case MQTT_EVENT_MESSAGE: {
        const mqtt_publish *m = &ev->u.message;
        size_t topic_len = strlen(s->cfg.mqtt.topic);
        if (m->topic_len != topic_len || memcmp(m->topic, s->cfg.mqtt.topic, topic_len) != 0) {
            controller_on_other_message(&s->ctl, s->now, m->topic, m->topic_len,
                                        (const char *)m->payload, m->payload_len);
            break;
        }
        controller_on_message(&s->ctl, s->now, (const char *)m->payload, m->payload_len, m->dup);
        break;
    }
    case MQTT_EVENT_PUBLISH_ACKED:
        break;
    case MQTT_EVENT_PACKET_DROPPED: {
        /* A publication larger than the receive buffer never reaches us whole;
         * the only topic we subscribe to is ours, so the controller is told a
         * message over its limit arrived, and answers with its error. The
         * content does not matter: it refuses on the length alone. */
        static const char over_limit[CONTROLLER_MAX_MESSAGE + 1];
        sim_log(s, "warn", "incoming packet of %" PRIu32 " bytes too large, skipped",
                ev->u.dropped_len);
        controller_on_message(&s->ctl, s->now, over_limit, sizeof over_limit, false);
        break;
    }
    }
}

/* --check: the relay settings a reader cannot see in the pin list. */
static void print_relay_settings(const config *cfg, FILE *out)
{
    for (size_t i = 0; i < cfg->relay_count; i++) {
        const config_relay *r = &cfg->relays[i];
        fprintf(out, "  relay GP%u: power_on %s", (unsigned)r->pin, r->power_on ? "on" : "off");
        if (r->interlock != 0)
            fprintf(out, ", interlock group %u (gap %u ms)", (unsigned)r->interlock,
                    (unsigned)cfg->interlock_gap_ms);
        fputc('\n', out);
    }
    fprintf(out, "  remote reset ({\"CMD\":\"reset\"}): %s\n",
            cfg->guards.remote_reset ? "on" : "off (guards.remote_reset)");
}

/* ---- board ------------------------------------------------------------ */

static void on_board_input(void *ctx, uint32_t now, uint8_t pin, uint8_t level)
{
    sim *s = ctx;
    s->now = now;
    controller_on_input(&s->ctl, now, pin, level != 0);
    sync_contacts(s);
}

static void on_board_wifi(void *ctx, uint32_t now, bool up)
{
    sim *s = ctx;
    s->now = now;
    if (s->wifi_up == up)
        return;
    s->wifi_up = up;
    sim_log(s, "info", "simulated WiFi %s", up ? "up" : "down");
    board_sim_wifi(&s->board, now, up);
    mqtt_link_set_network(&s->link, now, up);
}

static void write_u32(json_writer *w, const char *key, uint32_t v)
{
    json_write_key(w, key);
    json_write_int(w, v);
}

static void on_board_stats(void *ctx, uint32_t now, json_writer *w)
{
    sim *s = ctx;
    s->now = now;
    const controller_counters *c = controller_get_counters(&s->ctl);
    const mqtt_client *mc = mqtt_link_client(&s->link);
    json_write_key(w, "uptime_ms");
    json_write_int(w, (int64_t)uptime_ms(s));
    json_write_key(w, "version");
    json_write_string(w, CONTROLLER_VERSION);
    json_write_key(w, "wifi");
    json_write_string(w, s->wifi_up ? "up" : "down");
    json_write_key(w, "mqtt_state");
    json_write_string(w, mqtt_state_name(mc->state));
    json_write_key(w, "mqtt_connected");
    json_write_bool(w, mqtt_client_is_connected(mc));
    write_u32(w, "mqtt_connects", mc->stats.connects);
    write_u32(w, "mqtt_outages", mc->stats.outages);
    write_u32(w, "mqtt_connect_failures", mc->stats.connect_failures);
    write_u32(w, "mqtt_protocol_errors", mc->stats.protocol_errors);
    write_u32(w, "mqtt_dropped_packets", mc->stats.dropped_packets);
    write_u32(w, "mqtt_stray_pubacks", mc->stats.stray_pubacks);
    write_u32(w, "mqtt_subscribe_refusals", mc->stats.subscribe_refusals);
    write_u32(w, "mqtt_inflight", (uint32_t)mqtt_client_inflight_count(mc));
    write_u32(w, "messages", c->messages);
    write_u32(w, "echoes_ignored", c->echoes_ignored);
    write_u32(w, "errors", c->errors);
    write_u32(w, "errors_suppressed", c->errors_suppressed);
    write_u32(w, "relay_changes", c->relay_changes);
    write_u32(w, "cooldown_skips", c->cooldown_skips);
    write_u32(w, "toggle_skips", c->toggle_skips);
    write_u32(w, "violations", c->violations);
    write_u32(w, "locked_skips", c->locked_skips);
    write_u32(w, "publishes", c->publishes);
    write_u32(w, "publish_failures", c->publish_failures);
    write_u32(w, "publish_halts", c->publish_halts);
    write_u32(w, "duplicates", c->duplicates);
    write_u32(w, "stale_refused", c->stale_refused);
    write_u32(w, "otp_accepted", c->otp_accepted);
    write_u32(w, "otp_failures", c->otp_failures);
    write_u32(w, "contact_changes", c->contact_changes);
    write_u32(w, "connections", c->connections);
    write_u32(w, "outages", c->outages);
    write_u32(w, "subscribe_refusals", c->subscribe_refusals);
    write_u32(w, "backlog_ended_by_echo", c->backlog_ended_by_echo);
    write_u32(w, "backlog_ended_by_cap", c->backlog_ended_by_cap);
    json_write_key(w, "publishing_halted");
    json_write_bool(w, controller_publishing_halted(&s->ctl));
    json_write_key(w, "locked");
    json_write_object_begin(w);
    for (size_t i = 0; i < controller_pin_count(&s->ctl); i++) {
        uint8_t pin;
        controller_pin_kind kind;
        bool on;
        if (controller_pin_info(&s->ctl, i, &pin, &kind, &on) && kind != CONTROLLER_PIN_CONTACT) {
            char key[8];
            snprintf(key, sizeof key, "GP%u", (unsigned)pin);
            json_write_key(w, key);
            json_write_bool(w, controller_relay_locked(&s->ctl, pin));
        }
    }
    json_write_object_end(w);
    write_u32(w, "public_ip_lookups", s->ip.lookups);
    write_u32(w, "public_ip_failures", s->ip.failures);
    write_u32(w, "board_dropped_clients", s->board.dropped_clients);
}

/* ---- loop ------------------------------------------------------------- */

static int make_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Milliseconds until t, 0 if due. */
static uint32_t until(uint32_t now, uint32_t t)
{
    int32_t d = (int32_t)(t - now);
    return d > 0 ? (uint32_t)d : 0;
}

static int run_loop(sim *s, int sig_fd)
{
    struct pollfd fds[SIM_MAX_POLLFDS];
    for (;;) {
        s->now = mtc_now_ms();
        uint32_t wait = SIM_MAX_WAIT_MS;
        uint32_t d = controller_next_deadline(&s->ctl, s->now);
        if (d < wait)
            wait = d;
        d = mqtt_link_next_deadline(&s->link, s->now);
        if (d < wait)
            wait = d;
        uint32_t ip_deadline;
        if (public_ip_deadline(&s->ip, &ip_deadline) && until(s->now, ip_deadline) < wait)
            wait = until(s->now, ip_deadline);

        size_t n = 0;
        fds[n].fd = sig_fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
        size_t board_at = n;
        if (s->have_board)
            n += board_sim_pollfds(&s->board, fds + n, SIM_MAX_POLLFDS - n);
        size_t board_n = n - board_at;
        size_t link_at = n;
        n += mqtt_link_pollfds(&s->link, fds + n, SIM_MAX_POLLFDS - n);
        size_t link_n = n - link_at;
        size_t ip_at = n;
        n += public_ip_pollfds(&s->ip, fds + n, SIM_MAX_POLLFDS - n);
        size_t ip_n = n - ip_at;

        int rc = poll(fds, (nfds_t)n, (int)wait);
        if (rc < 0 && errno != EINTR) {
            sim_log(s, "error", "poll: %s", strerror(errno));
            return SIM_EXIT_CONFIG;
        }
        if (rc < 0)
            continue;
        s->now = mtc_now_ms();
        if (fds[0].revents) {
            struct signalfd_siginfo si;
            if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                sim_log(s, "info", "signal %u: stopping", si.ssi_signo);
                return SIM_EXIT_OK;
            }
        }
        if (s->have_board)
            board_sim_service(&s->board, s->now, fds + board_at, board_n);
        public_ip_service(&s->ip, s->now, fds + ip_at, ip_n);
        mqtt_link_service(&s->link, s->now, fds + link_at, link_n);
        controller_step(&s->ctl, s->now);
        sync_contacts(s);
        /* What the controller published in this round goes out now, not
         * after the next poll. */
        const uint8_t *pending;
        if (mqtt_client_output(mqtt_link_client(&s->link), &pending) > 0)
            mqtt_link_service(&s->link, s->now, NULL, 0);
    }
}

static void sim_cleanup(sim *s)
{
    if (s->link_ready) {
        /* A clean stop: DISCONNECT when connected, then close. */
        s->now = mtc_now_ms();
        if (s->ctl_ready)
            controller_stop(&s->ctl, s->now); /* retained "offline" before DISCONNECT */
        mqtt_client_stop(mqtt_link_client(&s->link), s->now);
        mqtt_link_service(&s->link, s->now, NULL, 0);
        mqtt_link_deinit(&s->link);
    }
    if (s->ip_ready)
        public_ip_deinit(&s->ip);
    if (s->have_board)
        board_sim_close(&s->board);
}

int main(int argc, char **argv)
{
    sim_args args;
    char err[256];
    if (!sim_args_parse(argc, argv, &args, err, sizeof err)) {
        fprintf(stderr, "mqtt-tiny-sim: %s\n", err);
        fprintf(stderr, "Try 'mqtt-tiny-sim --help'.\n");
        return SIM_EXIT_USAGE;
    }
    if (args.help) {
        sim_usage(stdout);
        return SIM_EXIT_OK;
    }

    sim *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "mqtt-tiny-sim: out of memory\n");
        return SIM_EXIT_CONFIG;
    }
    int rc = sim_load_config(&args, &s->cfg, stderr);
    if (rc != SIM_EXIT_OK || args.check) {
        if (rc == SIM_EXIT_OK) {
            fprintf(stderr, "%s: configuration is valid\n", args.config_path);
            print_relay_settings(&s->cfg, stderr);
        }
        free(s);
        return rc;
    }

    signal(SIGPIPE, SIG_IGN);
    int sig_fd = make_signalfd();
    if (sig_fd < 0) {
        fprintf(stderr, "mqtt-tiny-sim: signalfd: %s\n", strerror(errno));
        free(s);
        return SIM_EXIT_CONFIG;
    }
    s->start_ms = s->now = mtc_now_ms();
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    s->wifi_up = true;
    rc = SIM_EXIT_CONFIG;

    /* The board first: controller_init() drives the outputs through it. */
    board_sim_callbacks cb = {on_board_input, on_board_wifi, on_board_stats, s};
    if (!board_sim_open(&s->board, args.board, s->now, CONTROLLER_VERSION, &cb, err, sizeof err)) {
        fprintf(stderr, "mqtt-tiny-sim: %s\n", err);
        rc = SIM_EXIT_USAGE;
        goto out;
    }
    s->have_board = true;
    board_add_pins(s);

    public_ip_init(&s->ip, on_public_ip, s);
    s->ip_ready = true;

    mqtt_client_config mc;
    memset(&mc, 0, sizeof mc);
    mc.client_id = s->cfg.mqtt.client_id;
    mc.username = s->cfg.mqtt.username[0] ? s->cfg.mqtt.username : NULL;
    mc.password = s->cfg.mqtt.username[0] && s->cfg.mqtt.password[0] ? s->cfg.mqtt.password : NULL;
    mc.keepalive_s = s->cfg.mqtt.keepalive_s;
    mc.session_mode = s->cfg.mqtt.session == CONFIG_SESSION_PERSISTENT ? MQTT_SESSION_PERSISTENT
                      : s->cfg.mqtt.session == CONFIG_SESSION_CLEAN    ? MQTT_SESSION_CLEAN
                                                                       : MQTT_SESSION_CLEAN_FIRST;
    mc.subscriptions[0] = s->cfg.mqtt.topic;
    controller_ha_topics(&s->cfg, s->ha_birth, s->ha_filter);
    if (s->ha_birth[0] != '\0') {
        mc.subscriptions[1] = s->ha_birth;
        mc.subscriptions[2] = s->ha_filter;
    }
    mc.subscription_qos = 1;
    if (s->cfg.mqtt.status_topic[0] != '\0') {
        /* availability: the broker publishes "offline" (retained) for us
         * when the connection dies without a DISCONNECT */
        mc.will_topic = s->cfg.mqtt.status_topic;
        mc.will_payload = (const uint8_t *)"offline";
        mc.will_payload_len = 7;
        mc.will_qos = 1;
        mc.will_retain = true;
    }
    if (args.backoff_first_ms > 0)
        mc.backoff_first_ms = (uint32_t)args.backoff_first_ms;
    if (args.backoff_max_ms > 0) {
        mc.backoff_max_ms = (uint32_t)args.backoff_max_ms;
        if (mc.backoff_max_ms < 1000) /* keep the second step under the cap */
            mc.backoff_base_ms = mc.backoff_max_ms;
        if (mc.backoff_max_ms < 60000)
            mc.backoff_refused_ms = mc.backoff_max_ms;
    }
    mqtt_link_config lc;
    memset(&lc, 0, sizeof lc);
    lc.broker_url = s->cfg.mqtt.broker_url;
    lc.ca_file = s->cfg.mqtt.ca_file[0] ? s->cfg.mqtt.ca_file : NULL;
    lc.tls_hostname = NULL; /* the URL's host */
    if (!mqtt_link_init(&s->link, &lc, &mc, on_mqtt_event, s, err, sizeof err)) {
        fprintf(stderr, "mqtt-tiny-sim: %s\n", err);
        goto out;
    }
    s->link_ready = true;

    controller_platform platform = {
        .set_output = sim_set_output,
        .read_input = sim_read_input,
        .publish = sim_publish,
        .read_stats = sim_read_stats,
        .request_public_ip = sim_request_public_ip,
        .unix_time = sim_unix_time,
        .hmac_sha1 = sim_hmac_sha1,
        .log = sim_controller_log,
        .publish_to = sim_publish_to,
    };
    if (!controller_init(&s->ctl, &s->cfg, &platform, s, s->now)) {
        fprintf(stderr, "mqtt-tiny-sim: the controller refused the configuration\n");
        goto out;
    }
    s->ctl_ready = true;
    sync_contacts(s);

    sim_log(s, "info", "mqtt-tiny-sim %s: broker %s, topic %s, client id %s", CONTROLLER_VERSION,
            s->cfg.mqtt.broker_url, s->cfg.mqtt.topic, s->cfg.mqtt.client_id);
    mqtt_link_start(&s->link, s->now);
    if (args.board) {
        printf("{\"ev\":\"ready\",\"board\":\"%s\"}\n", s->board.address);
        fflush(stdout);
    }
    rc = run_loop(s, sig_fd);

out:
    sim_cleanup(s);
    close(sig_fd);
    free(s);
    return rc;
}
