/*
 * Carrying out a request that passed every check: relays through their
 * guards, momentary pulses, plain-relay requests deferred by the cooldown in
 * the backlog, and the guard reset. A guard verdict skips that relay alone
 * and marks its unchanged state for publication so switches flip back.
 */
#include "controller_internal.h"

#include <string.h>

void ctl_drive(controller *c, controller_pin *p, bool on)
{
    bool level = ctl_active_low(c, p) ? !on : on;
    if (p->on != on) ctl_notify(c, p);
    p->on = on;
    p->dirty = true;
    c->platform.set_output(c->ctx, p->pin, level);
}

void ctl_reset_guards(controller *c, uint32_t now_ms)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        relay_guard_reset(&c->pins[i].guard);
        c->pins[i].report_violation = false;
        c->pins[i].report_lock = false;
    }
    publish_guard_reset(&c->pub_guard);
    c->report_halt = false;
    c->reset_report_pending = true;
    c->full_state_pending = true;
    ctl_log(c, CONTROLLER_LOG_INFO, "guards reset");
    (void)now_ms;
}

/* Guard verdicts other than ALLOW: count, and leave the state to be republished. */
static void skipped(controller *c, controller_pin *p, relay_guard_verdict v, uint32_t now_ms)
{
    p->dirty = true; /* corrective state: the client's switch flips back */
    switch (v) {
    case RELAY_GUARD_ALLOW: break;
    case RELAY_GUARD_COOLDOWN: {
        c->counters.cooldown_skips++;
        if (p->cooldown_reported) break;
        p->cooldown_reported = true;
        char name[8];
        ctl_pin_name(p->pin, name);
        ctl_report3(c, now_ms, "", name,
                    " skipped: changed moments ago (cooldown); state unchanged");
        break;
    }
    case RELAY_GUARD_VIOLATION:
        c->counters.toggle_skips++;
        c->counters.violations++;
        p->report_violation = true;
        break;
    case RELAY_GUARD_LOCKED_NOW:
        c->counters.toggle_skips++;
        c->counters.violations++;
        p->report_lock = true;
        break;
    case RELAY_GUARD_LOCKED: c->counters.locked_skips++; break;
    }
}

void ctl_apply_plain(controller *c, controller_pin *p, bool on, uint32_t now_ms, bool backlog)
{
    if (p->making) { /* waiting out its interlock gap: 1 confirms, 0 cancels */
        p->making = on;
        p->dirty = true;
        return;
    }
    if (p->on == on) {
        p->deferred = false; /* last value wins */
        p->dirty = true;     /* confirm the state */
        return;
    }
    if (on && !ctl_interlock_clear(c, p, now_ms)) {
        p->deferred = false;
        return;
    }
    relay_guard_verdict v = relay_guard_request(&p->guard, &c->cfg->guards, now_ms);
    if (v == RELAY_GUARD_ALLOW) {
        c->counters.relay_changes++;
        p->deferred = false;
        p->cooldown_reported = false;
        if (on) {
            ctl_interlock_make(c, p, now_ms);
        } else {
            ctl_drive(c, p, false);
        }
    } else if (v == RELAY_GUARD_COOLDOWN && backlog) {
        p->deferred = true; /* backlog: apply the last value when the cooldown ends */
        p->deferred_on = on;
    } else {
        skipped(c, p, v, now_ms);
    }
}

void ctl_apply_power_on(controller *c, uint32_t now_ms)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *p = &c->pins[i];
        if (p->kind != CONTROLLER_PIN_RELAY || !c->cfg->relays[p->index].power_on) continue;
        /* a change like any other: the cooldown and the toggle window count it */
        (void)relay_guard_request(&p->guard, &c->cfg->guards, now_ms);
        c->counters.relay_changes++;
        ctl_drive(c, p, true);
        char text[32];
        ctl_text t;
        ctl_text_init(&t, text, sizeof text);
        ctl_text_pin(&t, p->pin);
        ctl_text_str(&t, " on (power_on)");
        ctl_log(c, CONTROLLER_LOG_INFO, text);
    }
}

void ctl_apply_deferred(controller *c, controller_pin *p, uint32_t now_ms)
{
    ctl_apply_plain(c, p, p->deferred_on, now_ms, false);
}

void ctl_apply_press(controller *c, controller_pin *p, bool on, uint32_t now_ms)
{
    if (!on || p->pulsing) {
        p->dirty = true; /* 0 is the resting state; a press during a pulse is ignored */
        return;
    }
    relay_guard_verdict v = relay_guard_request(&p->guard, &c->cfg->guards, now_ms);
    if (v != RELAY_GUARD_ALLOW) {
        skipped(c, p, v, now_ms);
        return;
    }
    uint32_t pulse = relay_guard_clamp_ms(c->cfg->momentary[p->index].pulse_ms);
    c->counters.relay_changes++;
    p->cooldown_reported = false;
    p->pulsing = true;
    p->due_ms = now_ms + pulse;
    ctl_drive(c, p, true);
}
