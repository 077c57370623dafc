/*
 * Incoming requests on the topic (docs/protocol.md).
 *
 * A request is checked completely before anything happens: JSON syntax, keys,
 * values, duplicate presses, backlog policy and one-time codes. Any refusal
 * publishes one error and changes nothing. Only then are the pin requests
 * applied in key order, each through its relay's guards (a guard skips that
 * relay alone and publishes its unchanged state so switches flip back).
 */
#include "controller_internal.h"

#include <string.h>

/* Publishes the refusal for a failed one-time-code check; true if passed. */
static bool otp_passed(controller *c, uint32_t now_ms, ctl_otp_result res, const char *pin)
{
    char text[CONTROLLER_ERROR_SIZE];
    ctl_text t;
    ctl_text_init(&t, text, sizeof text);
    switch (res) {
    case CTL_OTP_OK: return true;
    case CTL_OTP_NEEDED:
        ctl_text_str(&t, pin);
        ctl_text_str(&t, " needs a one-time code: send {\"MFA\":123456,...} with the command");
        break;
    case CTL_OTP_WRONG: ctl_text_str(&t, "wrong one-time code; nothing changed"); break;
    case CTL_OTP_REPLAYED:
        ctl_text_str(&t, "one-time code already used; wait for the next code");
        break;
    case CTL_OTP_LOCKED:
        ctl_text_str(&t, "one-time codes locked for ");
        ctl_text_u32(&t, ctl_otp_lockout_left_s(c, now_ms));
        ctl_text_str(&t, " s after repeated wrong codes");
        break;
    case CTL_OTP_NO_CLOCK:
        ctl_text_str(&t, "one-time codes unavailable: the device clock is not set");
        break;
    }
    ctl_refuse(c, now_ms, text);
    return false;
}

static bool press_seen(const controller *c, uint32_t hash, uint32_t now_ms)
{
    for (size_t i = 0; i < CONTROLLER_PRESS_MEMORY; i++) {
        const controller_press *m = &c->presses[i];
        if (m->used && m->hash == hash && now_ms - m->at_ms < CONTROLLER_PRESS_MEMORY_MS) {
            return true;
        }
    }
    return false;
}

static void remember_press(controller *c, uint32_t hash, uint32_t now_ms)
{
    controller_press *m = &c->presses[c->press_next];
    m->hash = hash;
    m->at_ms = now_ms;
    m->used = true;
    c->press_next = (c->press_next + 1u) % CONTROLLER_PRESS_MEMORY;
}

static void run_command(controller *c, uint32_t now_ms, const ctl_request *r)
{
    switch (r->cmd) {
    case CTL_CMD_NONE: break;
    case CTL_CMD_STATS: c->stats_pending = true; break;
    case CTL_CMD_REFRESH: c->full_state_pending = true; break;
    case CTL_CMD_GETIP:
        if (c->platform.request_public_ip == NULL || c->cfg->public_ip_url[0] == '\0') {
            ctl_refuse(c, now_ms, "getip is off on this device (public_ip_url is empty)");
        } else if (c->ip_waiting) {
            ctl_refuse(c, now_ms, "getip is already running");
        } else if (!c->platform.request_public_ip(c->ctx)) {
            ctl_refuse(c, now_ms, "getip failed: the lookup could not start");
        } else {
            c->ip_waiting = true;
            c->ip_started_ms = now_ms;
        }
        break;
    case CTL_CMD_NTP:
        if (c->platform.sync_time == NULL) {
            c->ntp_pending = true; /* the host's clock: answered as it is */
        } else if (c->ntp_waiting) {
            ctl_refuse(c, now_ms, "ntp is already running");
        } else if (c->ntp_recent) {
            ctl_refuse(c, now_ms, "ntp skipped: the clock was synced less than 60 s ago");
        } else if (!c->platform.sync_time(c->ctx)) {
            ctl_refuse(c, now_ms, "ntp failed: no network to reach the time server");
        } else {
            c->ntp_waiting = true;
            c->ntp_recent = true;
            c->ntp_started_ms = now_ms;
        }
        break;
    case CTL_CMD_RESET: {
        if (!c->cfg->guards.remote_reset) {
            ctl_refuse(c, now_ms,
                       "reset is off on this device (guards.remote_reset); restart it to clear "
                       "locks");
            return;
        }
        ctl_pin_mask need = ctl_otp_pins(c);
        if (need != 0 && !otp_passed(c, now_ms,
                                     ctl_otp_check(c, now_ms, need, false, r->have_code, r->code,
                                                   NULL),
                                     "reset")) {
            return;
        }
        ctl_reset_guards(c, now_ms);
        break;
    }
    }
}

static bool standalone_code(controller *c, uint32_t now_ms, const ctl_request *r)
{
    ctl_pin_mask need = ctl_otp_pins(c);
    ctl_pin_mask accepted = 0;
    if (need == 0) {
        ctl_refuse(c, now_ms, "no relay on this device needs a one-time code");
        return false;
    }
    if (!otp_passed(c, now_ms, ctl_otp_check(c, now_ms, need, false, true, r->code, &accepted),
                    "")) {
        return false;
    }
    c->mfa_granted = true;
    c->mfa_grant_ms = now_ms;
    c->mfa_grant_pins = accepted;
    c->mfa_report_pending = true;
    return true;
}

/* Messages whose second delivery would do harm: presses, and anything with a
 * one-time code (a redelivered code would count as a replay attempt). */
static bool worth_remembering(const controller *c, const ctl_request *r)
{
    if (r->have_code) return true;
    for (size_t k = 0; k < r->count; k++) {
        if (c->pins[r->pins[k].index].kind == CONTROLLER_PIN_MOMENTARY && r->pins[k].on) {
            return true;
        }
    }
    return false;
}

/* A redelivery (DUP flag, or the backlog right after a reconnect) of a
 * message already carried out: dropped and reported. */
static bool remembered(controller *c, const ctl_request *r, bool dup, bool backlog, uint32_t hash,
                       uint32_t now_ms)
{
    if (!worth_remembering(c, r) || !(dup || backlog) || !press_seen(c, hash, now_ms)) {
        return false;
    }
    c->counters.duplicates++;
    ctl_error(c, now_ms, "ignored: a redelivery of a request already carried out");
    return true;
}

/* Duplicate, backlog and one-time-code checks for the pin requests. */
static bool pins_allowed(controller *c, uint32_t now_ms, const ctl_request *r, bool dup,
                         bool backlog, uint32_t hash)
{
    ctl_pin_mask need = 0;
    char name[8];
    if (remembered(c, r, dup, backlog, hash, now_ms)) return false;
    for (size_t k = 0; k < r->count; k++) {
        controller_pin *p = &c->pins[r->pins[k].index];
        bool press = p->kind == CONTROLLER_PIN_MOMENTARY && r->pins[k].on;
        ctl_pin_name(p->pin, name);
        if (press && backlog && !ctl_allow_backlog(c, p)) {
            c->counters.stale_refused++;
            ctl_report3(c, now_ms, "", name,
                    " press refused: it arrived in the backlog after a reconnect and may be "
                    "stale; press again");
            return false;
        }
        if (ctl_otp_count(c, p) > 0) need |= (ctl_pin_mask)1u << (size_t)(p - c->pins);
    }
    if (need == 0) return true;
    for (size_t i = 0; i < c->pin_count; i++) {
        if (need & ((ctl_pin_mask)1u << i)) {
            ctl_pin_name(c->pins[i].pin, name);
            break;
        }
    }
    return otp_passed(c, now_ms, ctl_otp_check(c, now_ms, need, true, r->have_code, r->code, NULL),
                      name);
}

void ctl_handle_message(controller *c, uint32_t now_ms, const char *payload, size_t len,
                        bool dup)
{
    if (len > CONTROLLER_MAX_MESSAGE) {
        c->counters.messages++;
        ctl_refuse(c, now_ms, "message too long (limit 512 bytes); nothing changed");
        return;
    }
    json_result res = json_parse(payload, len, c->tokens, CONTROLLER_MAX_TOKENS);
    if (res.status != JSON_OK) {
        c->counters.messages++;
        char at[12];
        ctl_text t;
        ctl_text_init(&t, at, sizeof at);
        ctl_text_u32(&t, (uint32_t)res.error_offset);
        char text[CONTROLLER_ERROR_SIZE];
        ctl_text_init(&t, text, sizeof text);
        ctl_text_str(&t, res.status == JSON_ERR_TOO_MANY
                             ? "request too complex: too many keys or values (limit 63 JSON "
                               "tokens); send flat keys such as {\"GP16\":1}"
                             : "invalid JSON at byte ");
        if (res.status != JSON_ERR_TOO_MANY) {
            ctl_text_str(&t, at);
            if (res.detail != NULL && res.detail[0] != '\0') {
                ctl_text_str(&t, ": ");
                ctl_text_str(&t, res.detail);
            }
        }
        ctl_refuse(c, now_ms, text);
        return;
    }
    if (c->tokens[0].type == JSON_OBJECT &&
        json_object_get(payload, c->tokens, res.count, 0, "TIME") >= 0) {
        c->counters.echoes_ignored++; /* our own publication (or one like it) */
        ctl_backlog_echo(c, payload, len);
        return;
    }
    if (c->tokens[0].type == JSON_OBJECT &&
        (json_object_get(payload, c->tokens, res.count, 0, "NOTIFY") >= 0 ||
         json_object_get(payload, c->tokens, res.count, 0, "IP") >= 0) &&
        json_object_get(payload, c->tokens, res.count, 0, "CMD") < 0) {
        /* the original's own answers (an older device on the same topic):
         * ignored quietly, like an echo */
        c->counters.echoes_ignored++;
        return;
    }
    c->counters.messages++;
    if (c->tokens[0].type != JSON_OBJECT) {
        ctl_refuse(c, now_ms, "request must be a JSON object, e.g. {\"GP16\":1}");
        return;
    }
    int dup_key = json_object_duplicate_key(payload, c->tokens, res.count, 0);
    if (dup_key >= 0) {
        ctl_refuse(c, now_ms, "a key appears twice in the request; nothing changed");
        return;
    }
    ctl_request r;
    memset(&r, 0, sizeof r);
    if (!ctl_parse_request(c, now_ms, payload, res.count, &r)) return;
    if (r.cmd != CTL_CMD_NONE) {
        run_command(c, now_ms, &r);
        return;
    }
    if (r.count == 0) {
        uint32_t hash = ctl_payload_hash(payload, len);
        if (remembered(c, &r, dup, ctl_in_backlog(c, now_ms), hash, now_ms)) return;
        if (standalone_code(c, now_ms, &r)) remember_press(c, hash, now_ms);
        return;
    }
    bool backlog = ctl_in_backlog(c, now_ms);
    uint32_t hash = ctl_payload_hash(payload, len);
    if (!pins_allowed(c, now_ms, &r, dup, backlog, hash)) return;
    if (worth_remembering(c, &r)) remember_press(c, hash, now_ms);
    ctl_interlock_settle(c, &r, now_ms);
    for (size_t k = 0; k < r.count; k++) {
        controller_pin *p = &c->pins[r.pins[k].index];
        if (p->kind == CONTROLLER_PIN_MOMENTARY) {
            ctl_apply_press(c, p, r.pins[k].on, now_ms);
        } else {
            ctl_apply_plain(c, p, r.pins[k].on, now_ms, backlog);
        }
    }
}
