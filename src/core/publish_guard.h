/*
 * Data-usage guard: more than publish_max publications within a publish
 * window halts publishing until reset (the original project halted until a
 * hardware reset). Fixed windows, wrap-safe 32-bit millisecond time.
 */
#ifndef PUBLISH_GUARD_H
#define PUBLISH_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    uint32_t window_start_ms;
    bool window_open;
    uint32_t count;
    bool halted;
} publish_guard;

typedef enum {
    PUBLISH_GUARD_OK = 0,        /* publish, then call publish_guard_count() */
    PUBLISH_GUARD_HALTED_NOW,    /* this publication would exceed the limit: halted from now */
    PUBLISH_GUARD_HALTED,        /* halted earlier */
} publish_guard_verdict;

void publish_guard_init(publish_guard *g);
publish_guard_verdict publish_guard_check(publish_guard *g, const config_guards *cfg,
                                          uint32_t now_ms);
/* Records one publication that went out. */
void publish_guard_count(publish_guard *g, uint32_t now_ms);
/* Ends an expired window; call at least once per hour. */
void publish_guard_expire(publish_guard *g, const config_guards *cfg, uint32_t now_ms);
void publish_guard_reset(publish_guard *g);

#endif
