/* Data-usage guard; see publish_guard.h. */
#include "publish_guard.h"

#include "relay_guard.h"

void publish_guard_init(publish_guard *g)
{
    *g = (publish_guard){0};
}

void publish_guard_reset(publish_guard *g)
{
    publish_guard_init(g);
}

void publish_guard_expire(publish_guard *g, const config_guards *cfg, uint32_t now_ms)
{
    if (g->window_open &&
        now_ms - g->window_start_ms >= relay_guard_clamp_ms(cfg->publish_window_ms)) {
        g->window_open = false;
        g->count = 0;
    }
}

publish_guard_verdict publish_guard_check(publish_guard *g, const config_guards *cfg,
                                          uint32_t now_ms)
{
    if (g->halted) return PUBLISH_GUARD_HALTED;
    publish_guard_expire(g, cfg, now_ms);
    if (g->window_open && g->count >= cfg->publish_max) {
        g->halted = true;
        return PUBLISH_GUARD_HALTED_NOW;
    }
    return PUBLISH_GUARD_OK;
}

void publish_guard_count(publish_guard *g, uint32_t now_ms)
{
    if (!g->window_open) {
        g->window_open = true;
        g->window_start_ms = now_ms;
        g->count = 0;
    }
    if (g->count < UINT32_MAX) g->count++;
}
