/*
 * The backlog: messages a broker queued for a persistent session while the
 * device was away, told apart from live ones (docs/protocol.md).
 */
#include "controller_internal.h"

bool ctl_in_backlog(const controller *c, uint32_t now_ms)
{
    if (ctl_backlog_window_ms(c) == 0) return false;
    /* A message before the session is up (between CONNACK and SUBACK, where a
     * broker delivers a persistent session's queue) is backlog too. */
    if (!c->connected) return true;
    return c->in_backlog && now_ms - c->connected_ms < ctl_backlog_window_ms(c);
}
