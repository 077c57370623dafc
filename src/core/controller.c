/*
 * Controller: pins, connection, time and the publication queue.
 * Incoming requests are handled in controller_message.c.
 *
 * Publications are not queued as bytes: each pending item is a flag (pin
 * dirty, full state, error, stats, ...) and ctl_flush() turns flags into
 * messages while the connection and the publish guard allow. Everything
 * pending together goes out in one message per kind; nothing waits to merge.
 */
#include "controller_internal.h"

#include <string.h>

static void tick(controller *c, uint32_t now_ms)
{
    c->uptime_ms += (uint32_t)(now_ms - c->last_now_ms);
    c->last_now_ms = now_ms;
}

/* ---- init ---- */

static bool add_pin(controller *c, uint8_t gpio, controller_pin_kind kind, size_t index)
{
    if (c->pin_count >= CONTROLLER_MAX_PINS || gpio >= 32 || ctl_find_pin(c, gpio) != NULL) {
        return false;
    }
    controller_pin *p = &c->pins[c->pin_count++];
    p->pin = gpio;
    p->kind = (uint8_t)kind;
    p->index = (uint8_t)index;
    return true;
}

static void sort_pins(controller *c)
{
    for (size_t i = 1; i < c->pin_count; i++) {
        controller_pin p = c->pins[i];
        size_t j = i;
        while (j > 0 && c->pins[j - 1].pin > p.pin) {
            c->pins[j] = c->pins[j - 1];
            j--;
        }
        c->pins[j] = p;
    }
}

bool controller_init(controller *c, const config *cfg, const controller_platform *platform,
                     void *ctx, uint32_t now_ms)
{
    if (c == NULL || cfg == NULL || platform == NULL || platform->set_output == NULL ||
        platform->read_input == NULL || platform->publish == NULL) {
        return false;
    }
    if (cfg->relay_count > CONFIG_MAX_RELAYS || cfg->momentary_count > CONFIG_MAX_MOMENTARY ||
        cfg->contact_count > CONFIG_MAX_CONTACTS) {
        return false;
    }
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->platform = *platform;
    c->ctx = ctx;
    c->last_now_ms = now_ms;
    for (size_t i = 0; i < cfg->relay_count; i++) {
        if (!add_pin(c, cfg->relays[i].pin, CONTROLLER_PIN_RELAY, i)) return false;
    }
    for (size_t i = 0; i < cfg->momentary_count; i++) {
        if (!add_pin(c, cfg->momentary[i].pin, CONTROLLER_PIN_MOMENTARY, i)) return false;
    }
    for (size_t i = 0; i < cfg->contact_count; i++) {
        if (!add_pin(c, cfg->contacts[i].pin, CONTROLLER_PIN_CONTACT, i)) return false;
    }
    sort_pins(c);
    /* Outputs first: a relay is never left in an unknown state. */
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *p = &c->pins[i];
        if (p->kind != CONTROLLER_PIN_CONTACT) ctl_drive(c, p, false);
    }
    /* Then, deliberately and only now that the configuration is known, the
     * relays configured to start on (at most one per interlock group). */
    ctl_apply_power_on(c, now_ms);
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *p = &c->pins[i];
        if (p->kind != CONTROLLER_PIN_CONTACT) continue;
        const config_contact *cc = &cfg->contacts[p->index];
        bool level = platform->read_input(ctx, p->pin);
        contact_init(&p->contact, level);
        p->on = contact_logical(level, cc->pull == CONFIG_PULL_UP, cc->normally_open);
    }
    c->notify_pending = 0; /* the state at boot is no change */
    publish_guard_init(&c->pub_guard);
    c->full_state_pending = true;
    c->last_full_state_ms = now_ms;
    ctl_log(c, CONTROLLER_LOG_INFO, "controller started, outputs off");
    return true;
}

/* ---- events ---- */

void controller_on_session(controller *c, uint32_t now_ms, bool session_present)
{
    tick(c, now_ms);
    if (!c->connected) ctl_backlog_session(c, session_present);
}

void controller_on_connection(controller *c, uint32_t now_ms, bool up)
{
    tick(c, now_ms);
    if (up && !c->connected) {
        c->connected = true;
        c->counters.connections++;
        ctl_backlog_start(c, now_ms);
        c->full_state_pending = true;
        c->status_pending = c->cfg->mqtt.status_topic[0] != '\0' && c->platform.publish_to != NULL;
        c->discovery_pending = ctl_discovery_on(c);
        c->discovery_next = 0;
        if (c->discovery_pending) c->stats_pending = true; /* the diagnostic sensors */
        c->retry_pending = false;
        ctl_log(c, CONTROLLER_LOG_INFO, "connected: publishing full state");
        ctl_flush(c, now_ms);
    } else if (!up && c->connected) {
        c->connected = false;
        c->counters.outages++;
        ctl_log(c, CONTROLLER_LOG_WARN, "connection lost");
    }
    if (!up) ctl_backlog_stop(c);
}

void controller_on_subscribe_refused(controller *c, uint32_t now_ms)
{
    c->counters.subscribe_refusals++;
    controller_on_connection(c, now_ms, true);
    ctl_error(c, now_ms,
              "the broker refused the subscription to the topic: commands cannot arrive; "
              "retrying");
    ctl_flush(c, now_ms);
}

void controller_on_message(controller *c, uint32_t now_ms, const char *payload, size_t len,
                           bool dup)
{
    controller_step(c, now_ms); /* end pulses and windows that are due first */
    if (payload == NULL) len = 0;
    ctl_handle_message(c, now_ms, payload == NULL ? "" : payload, len, dup);
    ctl_flush(c, now_ms);
}

void controller_on_other_message(controller *c, uint32_t now_ms, const char *topic,
                                 size_t topic_len, const char *payload, size_t len)
{
    controller_step(c, now_ms);
    if (topic == NULL) return;
    ctl_discovery_message(c, topic, topic_len, payload == NULL ? "" : payload,
                          payload == NULL ? 0 : len);
    ctl_flush(c, now_ms);
}

void controller_stop(controller *c, uint32_t now_ms)
{
    tick(c, now_ms);
    if (!c->connected || c->platform.publish_to == NULL || c->cfg->mqtt.status_topic[0] == '\0') {
        return;
    }
    if (c->platform.publish_to(c->ctx, c->cfg->mqtt.status_topic, "offline", 7, 1, true)) {
        ctl_log(c, CONTROLLER_LOG_INFO, "stopping: status offline");
    }
}

static void settle_contact(controller *c, controller_pin *p, uint32_t now_ms)
{
    const config_contact *cc = &c->cfg->contacts[p->index];
    uint32_t debounce = relay_guard_clamp_ms(cc->debounce_ms);
    if (!contact_settle(&p->contact, debounce, now_ms)) return;
    bool on = contact_logical(p->contact.stable, cc->pull == CONFIG_PULL_UP, cc->normally_open);
    if (on != p->on) {
        ctl_notify(c, p);
        p->on = on;
        p->dirty = true;
        c->counters.contact_changes++;
        char text[24] = "contact ";
        ctl_pin_name(p->pin, text + 8);   /* "GPn", at most 7 bytes with its NUL */
        size_t n = strlen(text);
        memcpy(text + n, on ? " is now 1" : " is now 0", 10);
        ctl_log(c, CONTROLLER_LOG_INFO, text);
    }
}

void controller_on_input(controller *c, uint32_t now_ms, uint8_t pin, bool level)
{
    controller_step(c, now_ms);
    controller_pin *p = ctl_find_pin(c, pin);
    if (p == NULL || p->kind != CONTROLLER_PIN_CONTACT) return;
    contact_edge(&p->contact, now_ms, level);
    settle_contact(c, p, now_ms);
    ctl_flush(c, now_ms);
}

static bool valid_ip_text(const char *ip)
{
    size_t n = 0;
    for (; ip[n] != '\0'; n++) {
        char ch = ip[n];
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                  (ch >= 'A' && ch <= 'F') || ch == '.' || ch == ':';
        if (!ok || n + 1 >= CONTROLLER_IP_SIZE) return false;
    }
    return n >= 2;
}

void controller_on_public_ip(controller *c, uint32_t now_ms, const char *ip)
{
    tick(c, now_ms);
    if (!c->ip_waiting) return;
    c->ip_waiting = false;
    if (ip == NULL) {
        ctl_error(c, now_ms, "getip failed: the public IP provider did not answer");
    } else if (!valid_ip_text(ip)) {
        ctl_error(c, now_ms, "getip failed: the provider's answer is not an IP address");
    } else {
        memcpy(c->ip, ip, strlen(ip) + 1);
        c->ip_pending = true;
    }
    ctl_flush(c, now_ms);
}

void controller_on_public_ip_failed(controller *c, uint32_t now_ms, const char *reason)
{
    tick(c, now_ms);
    if (!c->ip_waiting) return;
    if (reason == NULL || reason[0] == '\0') {
        controller_on_public_ip(c, now_ms, NULL);
        return;
    }
    c->ip_waiting = false;
    ctl_report3(c, now_ms, "getip failed: ", reason, "");
    ctl_flush(c, now_ms);
}

void controller_on_time_synced(controller *c, uint32_t now_ms)
{
    tick(c, now_ms);
    if (!c->ntp_waiting) return;
    c->ntp_waiting = false;
    c->ntp_pending = true;
    ctl_flush(c, now_ms);
}

/* ---- time ---- */

static void step_pin(controller *c, controller_pin *p, uint32_t now_ms)
{
    const config_guards *g = &c->cfg->guards;
    switch ((controller_pin_kind)p->kind) {
    case CONTROLLER_PIN_CONTACT:
        settle_contact(c, p, now_ms);
        break;
    case CONTROLLER_PIN_MOMENTARY:
        if (p->pulsing && (int32_t)(now_ms - p->due_ms) >= 0) {
            p->pulsing = false;
            ctl_drive(c, p, false);
        }
        relay_guard_expire(&p->guard, g, now_ms);
        break;
    case CONTROLLER_PIN_RELAY:
        ctl_interlock_step(c, p, now_ms);
        relay_guard_expire(&p->guard, g, now_ms);
        if (p->deferred && relay_guard_cooldown_left(&p->guard, g, now_ms) == 0) {
            p->deferred = false;
            if (p->deferred_on != p->on) {
                ctl_apply_deferred(c, p, now_ms);
            }
        }
        break;
    }
}

/* Periodic full-state interval in ms (0: off), clamped for wrap-safe time. */
static uint32_t periodic_ms(const controller *c)
{
    int32_t s = c->cfg->publish_interval_s;
    if (s <= 0) return 0;
    if ((uint32_t)s > 0x7fffffffu / 1000u) return 0x7fffffffu;
    return (uint32_t)s * 1000u;
}

void controller_step(controller *c, uint32_t now_ms)
{
    tick(c, now_ms);
    ctl_backlog_expire(c, now_ms);
    for (size_t i = 0; i < c->pin_count; i++) step_pin(c, &c->pins[i], now_ms);
    for (size_t i = 0; i < CONTROLLER_PRESS_MEMORY; i++) {
        controller_press *m = &c->presses[i];
        if (m->used && now_ms - m->at_ms >= CONTROLLER_PRESS_MEMORY_MS) m->used = false;
    }
    if (c->ip_waiting && now_ms - c->ip_started_ms >= CONTROLLER_IP_TIMEOUT_MS) {
        c->ip_waiting = false;
        ctl_error(c, now_ms, "getip failed: no answer within 10 s");
    }
    if (c->ntp_waiting && now_ms - c->ntp_started_ms >= CONTROLLER_NTP_TIMEOUT_MS) {
        c->ntp_waiting = false;
        ctl_error(c, now_ms, "ntp failed: the time server did not answer within 10 s");
    }
    if (c->ntp_recent && now_ms - c->ntp_started_ms >= CONTROLLER_NTP_INTERVAL_MS) {
        c->ntp_recent = false;
    }
    if (c->mfa_granted && now_ms - c->mfa_grant_ms >= CONTROLLER_MFA_GRANT_MS) {
        c->mfa_granted = false;
    }
    ctl_otp_expire(c, now_ms);
    /* The rate limit of error reports ends here, while now - error_last_ms
     * still means something (step runs at least hourly): a report 2^32 ms
     * later is not held back by a stale time. */
    if (c->error_sent_once && now_ms - c->error_last_ms >= CONTROLLER_ERROR_INTERVAL_MS) {
        c->error_sent_once = false;
    }
    publish_guard_expire(&c->pub_guard, &c->cfg->guards, now_ms);
    if (c->retry_pending && now_ms - c->retry_ms >= CONTROLLER_PUBLISH_RETRY_MS) {
        c->retry_pending = false;
    }
    uint32_t interval_ms = periodic_ms(c);
    if (interval_ms > 0 && c->connected && now_ms - c->last_full_state_ms >= interval_ms) {
        c->full_state_pending = true;
        if (ctl_discovery_on(c)) c->stats_pending = true; /* the diagnostic sensors */
    }
    ctl_flush(c, now_ms);
}

static void take_min(uint32_t *best, uint32_t v)
{
    if (v < *best) *best = v;
}

static uint32_t left(uint32_t start_ms, uint32_t span_ms, uint32_t now_ms)
{
    uint32_t elapsed = now_ms - start_ms;
    return elapsed >= span_ms ? 0 : span_ms - elapsed;
}

uint32_t controller_next_deadline(const controller *c, uint32_t now_ms)
{
    uint32_t best = CONTROLLER_MAX_SLEEP_MS;
    const config_guards *g = &c->cfg->guards;
    for (size_t i = 0; i < c->pin_count; i++) {
        const controller_pin *p = &c->pins[i];
        if (p->kind == CONTROLLER_PIN_CONTACT) {
            uint32_t debounce = relay_guard_clamp_ms(c->cfg->contacts[p->index].debounce_ms);
            take_min(&best, contact_wait(&p->contact, debounce, now_ms));
        }
        if (p->pulsing || p->making) {
            int32_t d = (int32_t)(p->due_ms - now_ms);
            take_min(&best, d <= 0 ? 0 : (uint32_t)d);
        }
        if (p->deferred) take_min(&best, relay_guard_cooldown_left(&p->guard, g, now_ms));
    }
    if (c->ip_waiting) take_min(&best, left(c->ip_started_ms, CONTROLLER_IP_TIMEOUT_MS, now_ms));
    if (c->mfa_granted) take_min(&best, left(c->mfa_grant_ms, CONTROLLER_MFA_GRANT_MS, now_ms));
    if (c->ntp_waiting) take_min(&best, left(c->ntp_started_ms, CONTROLLER_NTP_TIMEOUT_MS, now_ms));
    take_min(&best, ctl_otp_wait(c, now_ms));
    if (c->connected) {
        if (c->retry_pending) {
            take_min(&best, left(c->retry_ms, CONTROLLER_PUBLISH_RETRY_MS, now_ms));
        } else if (c->error_pending && c->error_sent_once) {
            take_min(&best, left(c->error_last_ms, CONTROLLER_ERROR_INTERVAL_MS, now_ms));
        }
        uint32_t interval_ms = periodic_ms(c);
        if (interval_ms > 0) take_min(&best, left(c->last_full_state_ms, interval_ms, now_ms));
    }
    return best;
}

/* ---- getters ---- */

size_t controller_pin_count(const controller *c)
{
    return c->pin_count;
}

bool controller_pin_info(const controller *c, size_t i, uint8_t *pin, controller_pin_kind *kind,
                         bool *on)
{
    if (i >= c->pin_count) return false;
    if (pin != NULL) *pin = c->pins[i].pin;
    if (kind != NULL) *kind = (controller_pin_kind)c->pins[i].kind;
    if (on != NULL) *on = c->pins[i].on;
    return true;
}

bool controller_pin_state(const controller *c, uint8_t pin, bool *on)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        if (c->pins[i].pin == pin) {
            if (on != NULL) *on = c->pins[i].on;
            return true;
        }
    }
    return false;
}

bool controller_output_level(const controller *c, uint8_t pin, bool *level)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        const controller_pin *p = &c->pins[i];
        if (p->pin != pin) continue;
        if (p->kind == CONTROLLER_PIN_CONTACT) return false;
        if (level != NULL) *level = ctl_active_low(c, p) ? !p->on : p->on;
        return true;
    }
    return false;
}

bool controller_relay_locked(const controller *c, uint8_t pin)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        if (c->pins[i].pin == pin) return c->pins[i].guard.locked;
    }
    return false;
}

bool controller_publishing_halted(const controller *c)
{
    return c->pub_guard.halted;
}

const controller_counters *controller_get_counters(const controller *c)
{
    return &c->counters;
}

const char *controller_pin_kind_name(controller_pin_kind kind)
{
    switch (kind) {
    case CONTROLLER_PIN_RELAY: return "relay";
    case CONTROLLER_PIN_MOMENTARY: return "momentary";
    case CONTROLLER_PIN_CONTACT: return "contact";
    }
    return "unknown";
}
