/* Per-relay cooldown, toggle limit and lock; see relay_guard.h. */
#include "relay_guard.h"

#define RELAY_GUARD_MAX_MS 0x7fffffffu

uint32_t relay_guard_clamp_ms(uint32_t ms)
{
    return ms > RELAY_GUARD_MAX_MS ? RELAY_GUARD_MAX_MS : ms;
}

void relay_guard_init(relay_guard *g)
{
    *g = (relay_guard){0};
}

void relay_guard_reset(relay_guard *g)
{
    relay_guard_init(g);
}

void relay_guard_expire(relay_guard *g, const config_guards *cfg, uint32_t now_ms)
{
    if (g->cooling && now_ms - g->last_change_ms >= relay_guard_clamp_ms(cfg->cooldown_ms)) {
        g->cooling = false;
    }
    if (g->window_open &&
        now_ms - g->window_start_ms >= relay_guard_clamp_ms(cfg->toggle_window_ms)) {
        g->window_open = false;
        g->window_changes = 0;
    }
}

bool relay_guard_ready(relay_guard *g, const config_guards *cfg, uint32_t now_ms)
{
    relay_guard_expire(g, cfg, now_ms);
    return !g->locked && !g->cooling && (!g->window_open || g->window_changes < cfg->toggle_max);
}

uint32_t relay_guard_cooldown_left(const relay_guard *g, const config_guards *cfg, uint32_t now_ms)
{
    uint32_t cooldown = relay_guard_clamp_ms(cfg->cooldown_ms);
    uint32_t elapsed = now_ms - g->last_change_ms;
    if (!g->cooling || elapsed >= cooldown) return 0;
    return cooldown - elapsed;
}

relay_guard_verdict relay_guard_request(relay_guard *g, const config_guards *cfg, uint32_t now_ms)
{
    if (g->locked) return RELAY_GUARD_LOCKED;
    relay_guard_expire(g, cfg, now_ms);
    if (g->cooling) return RELAY_GUARD_COOLDOWN;
    if (!g->window_open) {
        g->window_open = true;
        g->window_start_ms = now_ms;
        g->window_changes = 0;
    }
    if (g->window_changes >= cfg->toggle_max) {
        if (g->violations < UINT32_MAX) g->violations++;
        if (g->violations > cfg->violation_max) {
            g->locked = true;
            return RELAY_GUARD_LOCKED_NOW;
        }
        return RELAY_GUARD_VIOLATION;
    }
    g->window_changes++;
    g->last_change_ms = now_ms;
    g->cooling = cfg->cooldown_ms > 0;
    return RELAY_GUARD_ALLOW;
}
