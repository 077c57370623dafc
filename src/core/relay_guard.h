/*
 * Per-relay safeguards against relay burn-out (the original project's rules):
 *   - cooldown: a change within cooldown_ms of the previous one is skipped
 *     (not a violation);
 *   - toggle limit: a change beyond toggle_max changes in a toggle window is
 *     skipped, and every such skipped change counts as one violation (as the
 *     original counts them); changes resume when the window ends;
 *   - lock: more than violation_max violations lock the relay until reset.
 * Windows are fixed: a window opens with the first change after the previous
 * one ended. Violations never expire. Pure logic, wrap-safe 32-bit
 * millisecond time. docs/security.md has the timeline under abuse.
 */
#ifndef RELAY_GUARD_H
#define RELAY_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    uint32_t last_change_ms;     /* cooldown reference */
    bool cooling;                /* last_change_ms is within the cooldown */
    uint32_t window_start_ms;
    bool window_open;
    uint32_t window_changes;
    uint32_t violations;
    bool locked;
} relay_guard;

typedef enum {
    RELAY_GUARD_ALLOW = 0,       /* change it; the change has been counted */
    RELAY_GUARD_COOLDOWN,        /* skipped: too soon after the previous change */
    RELAY_GUARD_VIOLATION,       /* skipped: window full, a violation counted */
    RELAY_GUARD_LOCKED_NOW,      /* skipped: that violation locked the relay */
    RELAY_GUARD_LOCKED,          /* skipped: relay locked */
} relay_guard_verdict;

void relay_guard_init(relay_guard *g);
/* Whether a change would be allowed now (records nothing). */
bool relay_guard_ready(relay_guard *g, const config_guards *cfg, uint32_t now_ms);
/* Decides whether a change may happen now and records it if so. */
relay_guard_verdict relay_guard_request(relay_guard *g, const config_guards *cfg, uint32_t now_ms);
/* Ends expired cooldowns and windows; call at least once per hour. */
void relay_guard_expire(relay_guard *g, const config_guards *cfg, uint32_t now_ms);
/* Milliseconds until the cooldown ends (0 if not cooling). */
uint32_t relay_guard_cooldown_left(const relay_guard *g, const config_guards *cfg, uint32_t now_ms);
/* Clears locks, violations and windows ({"CMD":"reset"}). */
void relay_guard_reset(relay_guard *g);
/* Clamps a configured duration so wrap-safe comparisons hold. */
uint32_t relay_guard_clamp_ms(uint32_t ms);

#endif
