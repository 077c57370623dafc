/*
 * Error reports and log lines: the one place that queues the rate-limited
 * {"ERROR":...} report (published by controller_publish.c) and counts
 * refused requests. A leaf: it calls only the text helpers.
 */
#include "controller_internal.h"

#include <string.h>

void ctl_log(controller *c, controller_log_level level, const char *text)
{
    if (c->platform.log != NULL) c->platform.log(c->ctx, level, text);
}

void ctl_error(controller *c, uint32_t now_ms, const char *text)
{
    (void)now_ms;
    bool folded = c->error_pending;
    if (folded) {
        c->error_folded++;
        c->counters.errors_suppressed++;
    }
    size_t n = strlen(text);
    if (n >= sizeof c->error_text) n = sizeof c->error_text - 1;
    memcpy(c->error_text, text, n);
    c->error_text[n] = '\0';
    c->error_pending = true;
    /* A flood logs like it publishes: once per burst. */
    if (!folded) ctl_log(c, CONTROLLER_LOG_WARN, c->error_text);
}

void ctl_refuse(controller *c, uint32_t now_ms, const char *text)
{
    c->counters.errors++;
    ctl_error(c, now_ms, text);
}

/* Error report naming a pin or key: "<prefix><name><suffix>". */
void ctl_report3(controller *c, uint32_t now_ms, const char *prefix, const char *name,
                    const char *suffix)
{
    char text[CONTROLLER_ERROR_SIZE];
    ctl_text t;
    ctl_text_init(&t, text, sizeof text);
    ctl_text_str(&t, prefix);
    ctl_text_str(&t, name);
    ctl_text_str(&t, suffix);
    ctl_error(c, now_ms, text);
}

/* Error report naming two pins: "<GPa><middle><GPb><suffix>". */
void ctl_report_pins(controller *c, uint32_t now_ms, uint8_t a, const char *middle, uint8_t b,
                     const char *suffix)
{
    char text[CONTROLLER_ERROR_SIZE];
    ctl_text t;
    ctl_text_init(&t, text, sizeof text);
    ctl_text_pin(&t, a);
    ctl_text_str(&t, middle);
    ctl_text_pin(&t, b);
    ctl_text_str(&t, suffix);
    ctl_error(c, now_ms, text);
}

void ctl_refuse3(controller *c, uint32_t now_ms, const char *prefix, const char *name,
                    const char *suffix)
{
    c->counters.errors++;
    ctl_report3(c, now_ms, prefix, name, suffix);
}

void ctl_pin_name(uint8_t pin, char out[8])
{
    ctl_text t;
    ctl_text_init(&t, out, 8);
    ctl_text_pin(&t, pin);
}
