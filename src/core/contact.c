/* Contact debounce; see contact.h. */
#include "contact.h"

void contact_init(contact_debounce *d, bool level)
{
    *d = (contact_debounce){.stable = level, .raw = level};
}

void contact_edge(contact_debounce *d, uint32_t now_ms, bool level)
{
    if (level == d->raw) return; /* no edge: keep the original edge time */
    d->raw = level;
    d->edge_ms = now_ms;
    d->settling = level != d->stable;
}

bool contact_settle(contact_debounce *d, uint32_t debounce_ms, uint32_t now_ms)
{
    if (!d->settling || now_ms - d->edge_ms < debounce_ms) return false;
    d->settling = false;
    d->stable = d->raw;
    return true;
}

uint32_t contact_wait(const contact_debounce *d, uint32_t debounce_ms, uint32_t now_ms)
{
    if (!d->settling) return UINT32_MAX;
    uint32_t elapsed = now_ms - d->edge_ms;
    return elapsed >= debounce_ms ? 0 : debounce_ms - elapsed;
}

bool contact_logical(bool level, bool pull_up, bool normally_open)
{
    bool closed = pull_up ? !level : level;
    return normally_open ? closed : !closed;
}
