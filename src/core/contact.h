/*
 * Contact switch debounce: an input edge is accepted once the level has stayed
 * unchanged for debounce_ms; a bounce back to the accepted level within that
 * time is no change at all. Event-driven: the platform reports edges, the
 * controller settles them at contact_deadline().
 */
#ifndef CONTACT_H
#define CONTACT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool stable;                 /* accepted electrical level */
    bool raw;                    /* last level reported */
    bool settling;               /* raw differs from stable, waiting for quiet */
    uint32_t edge_ms;            /* time of the last edge */
} contact_debounce;

void contact_init(contact_debounce *d, bool level);
/* An edge (or a repeated level) reported at now_ms. */
void contact_edge(contact_debounce *d, uint32_t now_ms, bool level);
/* True if the accepted level changed now (read d->stable). */
bool contact_settle(contact_debounce *d, uint32_t debounce_ms, uint32_t now_ms);
/* Milliseconds until contact_settle() may accept a change; UINT32_MAX if none pending. */
uint32_t contact_wait(const contact_debounce *d, uint32_t debounce_ms, uint32_t now_ms);
/* Logical state: true when the contact is closed for a normally-open
 * contact (pull-up wiring reads 0 when closed), inverted for normally-closed. */
bool contact_logical(bool level, bool pull_up, bool normally_open);

#endif
