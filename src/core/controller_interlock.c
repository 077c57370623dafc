/*
 * Interlock groups (docs/config.md): at most one relay of a group is on.
 *
 * A relay of a group asked to go on first switches the others of its group
 * off, then waits interlock_gap_ms (break before make: a motor's up and down
 * windings are never powered together, not even while a contact bounces)
 * and only then goes on. The switch-off is a change like any other for the
 * relay that goes off: when its guard would refuse it (cooldown, toggle
 * limit, lock), nothing happens and the refusal is reported. A request that
 * names two relays of one group with 1 keeps only the last of them.
 */
#include "controller_internal.h"

uint8_t ctl_interlock_group(const controller *c, const controller_pin *p)
{
    return p->kind == CONTROLLER_PIN_RELAY ? c->cfg->relays[p->index].interlock : 0;
}

static bool partner(const controller *c, const controller_pin *p, const controller_pin *q)
{
    return q != p && ctl_interlock_group(c, q) == ctl_interlock_group(c, p);
}

bool ctl_interlock_clear(controller *c, controller_pin *p, uint32_t now_ms)
{
    if (ctl_interlock_group(c, p) == 0) return true;
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *q = &c->pins[i];
        if (!partner(c, p, q) || !q->on) continue;
        if (relay_guard_ready(&q->guard, &c->cfg->guards, now_ms)) continue;
        ctl_report_pins(c, now_ms, p->pin, " stays off: ", q->pin,
                        " of its interlock group is on and its guard refuses to switch it off now");
        p->dirty = true; /* the client's switch flips back */
        return false;
    }
    return true;
}

void ctl_interlock_make(controller *c, controller_pin *p, uint32_t now_ms)
{
    bool broke = false;
    if (ctl_interlock_group(c, p) != 0) {
        for (size_t i = 0; i < c->pin_count; i++) {
            controller_pin *q = &c->pins[i];
            if (!partner(c, p, q)) continue;
            if (q->making) {
                q->making = false; /* never went on */
                q->dirty = true;
            }
            if (!q->on) continue;
            (void)relay_guard_request(&q->guard, &c->cfg->guards, now_ms); /* ready: checked */
            c->counters.relay_changes++;
            ctl_drive(c, q, false);
            broke = true;
        }
    }
    if (broke && c->cfg->interlock_gap_ms > 0) {
        p->making = true;
        p->due_ms = now_ms + c->cfg->interlock_gap_ms;
        ctl_log(c, CONTROLLER_LOG_INFO, "interlock: group switched off; break before make");
        return;
    }
    ctl_drive(c, p, true);
}

void ctl_interlock_step(controller *c, controller_pin *p, uint32_t now_ms)
{
    if (p->making && (int32_t)(now_ms - p->due_ms) >= 0) {
        p->making = false;
        ctl_drive(c, p, true);
    }
}

void ctl_interlock_settle(controller *c, ctl_request *r, uint32_t now_ms)
{
    size_t kept = 0;
    for (size_t k = 0; k < r->count; k++) {
        const controller_pin *p = &c->pins[r->pins[k].index];
        uint8_t group = ctl_interlock_group(c, p);
        const controller_pin *later = NULL;
        for (size_t j = k + 1; group != 0 && r->pins[k].on && j < r->count; j++) {
            const controller_pin *q = &c->pins[r->pins[j].index];
            if (r->pins[j].on && ctl_interlock_group(c, q) == group) later = q;
        }
        if (later == NULL) {
            r->pins[kept++] = r->pins[k];
            continue;
        }
        ctl_report_pins(c, now_ms, p->pin, " not switched on: ", later->pin,
                        " of the same interlock group is later in the request and wins");
        c->pins[r->pins[k].index].dirty = true;
    }
    r->count = kept;
}
