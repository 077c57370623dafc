/*
 * Turning pending flags into publications.
 *
 * Order of a flush: the publish-halt notice (the one message allowed past the
 * halt), pin states (full or changed), guard notices, the error report (at
 * most one per CONTROLLER_ERROR_INTERVAL_MS), then command answers. Every
 * payload is a JSON object with a "TIME" key, so the controller recognises
 * and ignores its own echo.
 */
#include "controller_internal.h"

#include <string.h>

typedef enum {
    ITEM_NONE = 0,
    ITEM_HALT,
    ITEM_STATUS,
    ITEM_DISCOVERY,
    ITEM_VIOLATION,
    ITEM_LOCK,
    ITEM_STATE,
    ITEM_NOTIFY,
    ITEM_ERROR,
    ITEM_STATS,
    ITEM_IP,
    ITEM_NTP,
    ITEM_MFA,
    ITEM_RESET,
} item_kind;

static bool any_dirty(const controller *c)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        if (c->pins[i].dirty) return true;
    }
    return false;
}

static controller_pin *pin_with_report(controller *c, bool lock)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *p = &c->pins[i];
        if (lock ? p->report_lock : p->report_violation) return p;
    }
    return NULL;
}

static item_kind next_item(controller *c, uint32_t now_ms)
{
    if (c->report_halt) return ITEM_HALT;
    if (c->pub_guard.halted) return ITEM_NONE;
    if (c->status_pending) return ITEM_STATUS;
    if (c->discovery_pending) return ITEM_DISCOVERY;
    if (c->full_state_pending || any_dirty(c)) return ITEM_STATE;
    if (c->notify_pending != 0) return ITEM_NOTIFY;
    if (pin_with_report(c, false) != NULL) return ITEM_VIOLATION;
    if (pin_with_report(c, true) != NULL) return ITEM_LOCK;
    if (c->error_pending &&
        (!c->error_sent_once || now_ms - c->error_last_ms >= CONTROLLER_ERROR_INTERVAL_MS)) {
        return ITEM_ERROR;
    }
    if (c->stats_pending) return ITEM_STATS;
    if (c->ip_pending) return ITEM_IP;
    if (c->ntp_pending) return ITEM_NTP;
    if (c->mfa_report_pending) return ITEM_MFA;
    if (c->reset_report_pending) return ITEM_RESET;
    return ITEM_NONE;
}

static void write_pin_key(json_writer *w, uint8_t pin)
{
    char key[8];
    ctl_text t;
    ctl_text_init(&t, key, sizeof key);
    ctl_text_pin(&t, pin);
    json_write_key(w, key);
}

static void write_guard_notice(controller *c, json_writer *w, controller_pin *p, bool lock)
{
    const config_guards *g = &c->cfg->guards;
    char text[CONTROLLER_ERROR_SIZE];
    ctl_text t;
    ctl_text_init(&t, text, sizeof text);
    ctl_text_pin(&t, p->pin);
    if (lock) {
        ctl_text_str(&t, " locked after ");
        ctl_text_u32(&t, p->guard.violations);
        ctl_text_str(&t, c->cfg->guards.remote_reset
                             ? " toggle-limit violations; send {\"CMD\":\"reset\"} or restart"
                             : " toggle-limit violations; restart the device to unlock");
    } else {
        ctl_text_str(&t, " changed too often: more than ");
        ctl_text_u32(&t, g->toggle_max);
        ctl_text_str(&t, " changes in ");
        ctl_text_u32(&t, g->toggle_window_ms / 1000u);
        ctl_text_str(&t, " s; changes skipped until the window ends (violation ");
        ctl_text_u32(&t, p->guard.violations);
        ctl_text_str(&t, ", lock after ");
        ctl_text_u32(&t, g->violation_max);
        ctl_text_str(&t, ")");
    }
    json_write_key(w, "ERROR");
    json_write_string(w, text);
    json_write_key(w, "GUARD");
    json_write_string(w, lock ? "lock" : "toggle");
    json_write_key(w, "PIN");
    json_write_int(w, p->pin);
}

static int build_item(controller *c, item_kind kind)
{
    json_writer w;
    json_writer_init(&w, c->out, sizeof c->out);
    json_write_object_begin(&w);
    switch (kind) {
    case ITEM_NONE:
    case ITEM_STATUS:
    case ITEM_DISCOVERY:
        break;
    case ITEM_HALT: {
        char text[CONTROLLER_ERROR_SIZE];
        ctl_text t;
        ctl_text_init(&t, text, sizeof text);
        ctl_text_str(&t, "publishing halted: more than ");
        ctl_text_u32(&t, c->cfg->guards.publish_max);
        ctl_text_str(&t, " messages in ");
        ctl_text_u32(&t, c->cfg->guards.publish_window_ms / 1000u);
        ctl_text_str(&t, c->cfg->guards.remote_reset ? " s; send {\"CMD\":\"reset\"} or restart"
                                                     : " s; restart the device to resume");
        json_write_key(&w, "ERROR");
        json_write_string(&w, text);
        json_write_key(&w, "GUARD");
        json_write_string(&w, "publish");
        break;
    }
    case ITEM_VIOLATION:
        write_guard_notice(c, &w, pin_with_report(c, false), false);
        break;
    case ITEM_LOCK:
        write_guard_notice(c, &w, pin_with_report(c, true), true);
        break;
    case ITEM_STATE:
        for (size_t i = 0; i < c->pin_count; i++) {
            const controller_pin *p = &c->pins[i];
            if (!c->full_state_pending && !p->dirty) continue;
            write_pin_key(&w, p->pin);
            json_write_int(&w, p->on ? 1 : 0);
        }
        break;
    case ITEM_NOTIFY:
        json_write_key(&w, "NOTIFY");
        json_write_object_begin(&w);
        for (size_t i = 0; i < c->pin_count; i++) {
            if ((c->notify_pending & (1u << i)) == 0) continue;
            write_pin_key(&w, c->pins[i].pin);
            json_write_int(&w, c->pins[i].on ? 1 : 0);
        }
        json_write_object_end(&w);
        break;
    case ITEM_ERROR:
        json_write_key(&w, "ERROR");
        json_write_string(&w, c->error_text);
        if (c->error_folded > 0) {
            json_write_key(&w, "SUPPRESSED");
            json_write_int(&w, c->error_folded);
        }
        break;
    case ITEM_STATS:
        return ctl_build_stats(c);
    case ITEM_IP:
        json_write_key(&w, "IP");
        json_write_string(&w, c->ip);
        break;
    case ITEM_NTP:
        json_write_key(&w, "NTP");
        json_write_string(&w, c->platform.sync_time != NULL ? "synced" : "host clock");
        break;
    case ITEM_MFA:
        json_write_key(&w, "MFA");
        json_write_string(&w, "accepted");
        json_write_key(&w, "VALID_S");
        json_write_int(&w, CONTROLLER_MFA_GRANT_MS / 1000u);
        break;
    case ITEM_RESET:
        json_write_key(&w, "RESET");
        json_write_string(&w, "guards cleared: relays unlocked, publishing resumed");
        break;
    }
    ctl_write_time(c, &w);
    json_write_object_end(&w);
    return json_writer_finish(&w);
}

static void clear_item(controller *c, item_kind kind, uint32_t now_ms)
{
    switch (kind) {
    case ITEM_NONE: break;
    case ITEM_HALT: c->report_halt = false; break;
    case ITEM_STATUS: c->status_pending = false; break;
    case ITEM_DISCOVERY:
        if (c->discovery_next + 1u >= ctl_discovery_count(c)) {
            c->discovery_pending = false;
            c->discovery_next = 0;
        } else {
            c->discovery_next++;
        }
        break;
    case ITEM_VIOLATION: {
        controller_pin *p = pin_with_report(c, false);
        if (p != NULL) p->report_violation = false;
        break;
    }
    case ITEM_LOCK: {
        controller_pin *p = pin_with_report(c, true);
        if (p != NULL) p->report_lock = false;
        break;
    }
    case ITEM_STATE:
        if (c->full_state_pending) c->last_full_state_ms = now_ms;
        c->full_state_pending = false;
        for (size_t i = 0; i < c->pin_count; i++) c->pins[i].dirty = false;
        break;
    case ITEM_ERROR:
        c->error_pending = false;
        c->error_sent_once = true;
        c->error_last_ms = now_ms;
        c->error_folded = 0;
        break;
    case ITEM_NOTIFY: c->notify_pending = 0; break;
    case ITEM_STATS: c->stats_pending = false; break;
    case ITEM_IP: c->ip_pending = false; break;
    case ITEM_NTP: c->ntp_pending = false; break;
    case ITEM_MFA: c->mfa_report_pending = false; break;
    case ITEM_RESET: c->reset_report_pending = false; break;
    }
}

/* Hands one payload to the platform. false: not sent (halted or no room). */
static bool send(controller *c, uint32_t now_ms, int len, bool past_guard)
{
    if (!past_guard) {
        publish_guard_verdict v = publish_guard_check(&c->pub_guard, &c->cfg->guards, now_ms);
        if (v == PUBLISH_GUARD_HALTED_NOW) {
            c->report_halt = true;
            c->counters.publish_halts++;
            ctl_log(c, CONTROLLER_LOG_ERROR, "publish guard: publishing halted until reset");
        }
        if (v != PUBLISH_GUARD_OK) return false;
    }
    if (!c->platform.publish(c->ctx, c->out, (size_t)len)) {
        c->counters.publish_failures++;
        c->retry_pending = true;
        c->retry_ms = now_ms;
        return false;
    }
    c->counters.publishes++;
    publish_guard_count(&c->pub_guard, now_ms);
    ctl_backlog_published(c, c->out, (size_t)len);
    return true;
}

/* Availability and discovery: other topics, retained, outside the publish
 * guard (bounded: once per connection). false: not queued, retry later. */
static bool send_other(controller *c, uint32_t now_ms, item_kind kind)
{
    char topic[CONFIG_TOPIC_SIZE + CONTROLLER_HA_TOPIC_SIZE];
    bool ok;
    if (kind == ITEM_STATUS) {
        ok = c->platform.publish_to(c->ctx, c->cfg->mqtt.status_topic, "online", 6, 1, true);
    } else {
        int len = ctl_discovery_build(c, c->discovery_next, topic, sizeof topic);
        if (len < 0) {
            ctl_log(c, CONTROLLER_LOG_ERROR, "discovery config too large; dropped");
            return true;
        }
        ok = c->platform.publish_to(c->ctx, topic, c->out, (size_t)len, 1, true);
    }
    if (!ok) {
        c->counters.publish_failures++;
        c->retry_pending = true;
        c->retry_ms = now_ms;
    }
    return ok;
}

void ctl_flush(controller *c, uint32_t now_ms)
{
    /* Bounded: each round clears one item or stops. */
    for (unsigned round = 0; round < 4u * CONTROLLER_MAX_PINS + 32u; round++) {
        if (!c->connected || c->retry_pending) return;
        item_kind kind = next_item(c, now_ms);
        if (kind == ITEM_NONE) return;
        if (kind == ITEM_STATUS || kind == ITEM_DISCOVERY) {
            if (!send_other(c, now_ms, kind)) return;
            clear_item(c, kind, now_ms);
            continue;
        }
        int len = build_item(c, kind);
        if (len < 0) {
            ctl_log(c, CONTROLLER_LOG_ERROR, "publication too large; dropped");
            clear_item(c, kind, now_ms);
            continue;
        }
        if (!send(c, now_ms, len, kind == ITEM_HALT)) {
            if (c->report_halt) continue; /* just halted: the notice goes next */
            return;
        }
        clear_item(c, kind, now_ms);
    }
}
