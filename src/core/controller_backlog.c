/*
 * The backlog: messages a broker queued for a persistent session while the
 * device was away, told apart from live ones by evidence, not by a clock
 * (docs/protocol.md):
 *   - CONNACK with session-present 0: the broker holds nothing; no backlog;
 *   - session-present 1 (or not reported): everything before the device's
 *     own connect-time publication comes back on the topic is backlog; the
 *     broker delivers what it queued first, so the echo marks the end;
 *   - a broker that never echoes: backlog_window_ms after the session came
 *     up caps it. backlog_window_ms 0 turns the rule off (all live).
 */
#include "controller_internal.h"

void ctl_backlog_session(controller *c, bool session_present)
{
    c->session_known = true;
    c->session_present = session_present;
}

void ctl_backlog_start(controller *c, uint32_t now_ms)
{
    c->connected_ms = now_ms;
    c->marker_set = false;
    c->in_backlog = ctl_backlog_window_ms(c) > 0 && (!c->session_known || c->session_present);
    if (c->in_backlog) ctl_log(c, CONTROLLER_LOG_INFO, "resumed session: backlog until our echo");
}

void ctl_backlog_stop(controller *c)
{
    c->in_backlog = false;
    c->marker_set = false;
    c->session_known = false;
}

void ctl_backlog_published(controller *c, const char *payload, size_t len)
{
    if (c->in_backlog && !c->marker_set) {
        c->marker_hash = ctl_payload_hash(payload, len);
        c->marker_set = true;
    }
}

void ctl_backlog_echo(controller *c, const char *payload, size_t len)
{
    if (c->connected && c->in_backlog && c->marker_set &&
        ctl_payload_hash(payload, len) == c->marker_hash) {
        c->in_backlog = false;
        c->counters.backlog_ended_by_echo++;
        ctl_log(c, CONTROLLER_LOG_INFO, "backlog done: our echo is back");
    }
}

void ctl_backlog_expire(controller *c, uint32_t now_ms)
{
    if (c->in_backlog && now_ms - c->connected_ms >= ctl_backlog_window_ms(c)) {
        c->in_backlog = false;
        c->counters.backlog_ended_by_cap++;
    }
}

bool ctl_in_backlog(const controller *c, uint32_t now_ms)
{
    if (ctl_backlog_window_ms(c) == 0) return false;
    /* Before the session is up (between CONNACK and SUBACK, where a broker
     * delivers a resumed session's queue): backlog unless the broker said it
     * kept nothing. */
    if (!c->connected) return !c->session_known || c->session_present;
    return c->in_backlog && now_ms - c->connected_ms < ctl_backlog_window_ms(c);
}
