/*
 * Shared between the controller's source files; not part of the API.
 * Each file owns one concept; calls go one way, top to bottom:
 *
 *   controller.c          the API: init, events, time, deadlines, getters
 *     |-> controller_message.c  one request: checks (duplicates, backlog,
 *     |     |                   one-time codes), commands, then actions
 *     |     |-> controller_parse.c    JSON request -> ctl_request
 *     |     |-> controller_otp.c      one-time codes and their lockout
 *     |     '-> controller_actions.c  relays, presses, deferred requests, guard reset
 *     |           '-> controller_interlock.c  interlock groups: break before make
 *     |-> controller_publish.c  pending flags -> publications (publish guard)
 *     |     '-> controller_discovery.c  Home Assistant: entity configs, birth
 *     |                                 message, removal of stale entities
 *     '-> controller_backlog.c  queued or live: the backlog after a reconnect
 *   leaves, called from any file above:
 *     controller_report.c   error reports and log lines (-> stats for text)
 *     controller_stats.c    text helpers, config access, pin lookup, TIME,
 *                           the stats message; calls nothing of ours
 *
 * controller.c also calls actions (pulse ends, deferred requests, power-on
 * state), interlock (the make after the gap), otp (lockout expiry) and
 * backlog directly; controller_message.c calls interlock to settle a request
 * naming two relays of one group. Nothing below calls back up.
 */
#ifndef CONTROLLER_INTERNAL_H
#define CONTROLLER_INTERNAL_H

#include "controller.h"

/* next_deadline never sleeps longer than this, so every elapsed-time check
 * runs often enough to stay wrap-safe and the uptime clock keeps counting. */
#define CONTROLLER_MAX_SLEEP_MS 3600000u
/* Bit mask over pin indexes (CONTROLLER_MAX_PINS must fit). */
typedef uint32_t ctl_pin_mask;
_Static_assert(CONTROLLER_MAX_PINS <= 32, "pin masks are 32-bit");

/* ---- Text builder (no printf in the core) ---- */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} ctl_text;

void ctl_text_init(ctl_text *t, char *buf, size_t size);
void ctl_text_str(ctl_text *t, const char *s);
void ctl_text_u32(ctl_text *t, uint32_t v);
void ctl_text_pin(ctl_text *t, uint8_t pin); /* "GP16" */
uint32_t ctl_payload_hash(const char *payload, size_t len); /* FNV-1a */

/* ---- Config access (one place knows the field names) ---- */
uint32_t ctl_backlog_window_ms(const controller *c);
bool ctl_allow_backlog(const controller *c, const controller_pin *p);
size_t ctl_otp_count(const controller *c, const controller_pin *p);
const char *ctl_otp_secret(const controller *c, const controller_pin *p, size_t k);
/* Last accepted time step of a pin's k-th secret (its slot in the pool); NULL if none. */
uint32_t *ctl_otp_last_step(controller *c, const controller_pin *p, size_t k);
bool ctl_active_low(const controller *c, const controller_pin *p);

controller_pin *ctl_find_pin(controller *c, uint8_t gpio);
/* A pin changed: queues {"NOTIFY":...} if the config lists it. */
void ctl_notify(controller *c, const controller_pin *p);

/* ---- controller_report.c ---- */
void ctl_log(controller *c, controller_log_level level, const char *text);
/* Queues a rate-limited {"ERROR":...} report (not counted as a refusal). */
void ctl_error(controller *c, uint32_t now_ms, const char *text);
/* Refusal of an invalid request: counted in errors, reported (rate-limited). */
void ctl_refuse(controller *c, uint32_t now_ms, const char *text);
void ctl_refuse3(controller *c, uint32_t now_ms, const char *prefix, const char *name,
                 const char *suffix);
/* Report "<prefix><name><suffix>" without counting an invalid request. */
void ctl_report3(controller *c, uint32_t now_ms, const char *prefix, const char *name,
                 const char *suffix);
/* Report "<GPa><middle><GPb><suffix>" without counting an invalid request. */
void ctl_report_pins(controller *c, uint32_t now_ms, uint8_t a, const char *middle, uint8_t b,
                     const char *suffix);
void ctl_pin_name(uint8_t pin, char out[8]);

/* ---- controller_backlog.c ---- */
void ctl_backlog_session(controller *c, bool session_present);
/* Session up: a backlog begins unless the broker reported no stored session. */
void ctl_backlog_start(controller *c, uint32_t now_ms);
void ctl_backlog_stop(controller *c);
/* A publication went out: the first one of a backlog becomes its end marker. */
void ctl_backlog_published(controller *c, const char *payload, size_t len);
/* One of our own publications came back on the topic. */
void ctl_backlog_echo(controller *c, const char *payload, size_t len);
/* The cap for a broker that never echoes. */
void ctl_backlog_expire(controller *c, uint32_t now_ms);
bool ctl_in_backlog(const controller *c, uint32_t now_ms);

/* ---- controller_actions.c ---- */
/* Drives a relay output to a logical state and marks it for publication. */
void ctl_drive(controller *c, controller_pin *p, bool on);
/* {"CMD":"reset"}: clears relay locks and the publish halt. */
void ctl_reset_guards(controller *c, uint32_t now_ms);
/* A plain relay request; backlog: a cooldown defers it (last value wins). */
void ctl_apply_plain(controller *c, controller_pin *p, bool on, uint32_t now_ms, bool backlog);
/* A momentary relay request: 1 starts a pulse, 0 confirms the resting state. */
void ctl_apply_press(controller *c, controller_pin *p, bool on, uint32_t now_ms);
/* Applies a plain relay request deferred by the cooldown in the backlog. */
void ctl_apply_deferred(controller *c, controller_pin *p, uint32_t now_ms);
/* At init, after every output is off: relays with power_on "on" go on. */
void ctl_apply_power_on(controller *c, uint32_t now_ms);

/* ---- controller_interlock.c ---- */
/* The relay's interlock group (0: none). */
uint8_t ctl_interlock_group(const controller *c, const controller_pin *p);
/* Relay p is asked to go on: false (reported, nothing changed) if another
 * relay of its group is on and its guard would refuse switching it off. */
bool ctl_interlock_clear(controller *c, controller_pin *p, uint32_t now_ms);
/* p's change was allowed: switches the rest of its group off, then p on at
 * once or, after a break, when interlock_gap_ms has passed (p->making). */
void ctl_interlock_make(controller *c, controller_pin *p, uint32_t now_ms);
/* The gap of a relay waiting to go on has passed: it goes on now. */
void ctl_interlock_step(controller *c, controller_pin *p, uint32_t now_ms);

/* ---- controller_otp.c ---- */
typedef enum {
    CTL_OTP_OK = 0,
    CTL_OTP_NEEDED,      /* no code given and no grant open */
    CTL_OTP_WRONG,
    CTL_OTP_REPLAYED,
    CTL_OTP_LOCKED,      /* lockout after failures: code not even checked */
    CTL_OTP_NO_CLOCK,    /* time or HMAC unavailable */
} ctl_otp_result;

/* Pins (by index) with one-time-code secrets. */
ctl_pin_mask ctl_otp_pins(const controller *c);
/* Checks a code (have_code) or an open grant for the pins in need.
 * all: every pin in need must accept the code; otherwise one is enough.
 * *accepted (may be NULL) receives the pins whose secret matched. */
ctl_otp_result ctl_otp_check(controller *c, uint32_t now_ms, ctl_pin_mask need, bool all,
                             bool have_code, uint32_t code, ctl_pin_mask *accepted);
/* Seconds left in the current lockout (0: none). */
uint32_t ctl_otp_lockout_left_s(controller *c, uint32_t now_ms);
void ctl_otp_expire(controller *c, uint32_t now_ms);
uint32_t ctl_otp_wait(const controller *c, uint32_t now_ms);

/* ---- controller_publish.c ---- */
/* Publishes whatever is pending, as far as the connection and guards allow. */
void ctl_flush(controller *c, uint32_t now_ms);

/* ---- controller_discovery.c ---- */
/* Discovery configured and possible (publish_to present). */
bool ctl_discovery_on(const controller *c);
/* Entities: pins, then the diagnostic sensors. */
size_t ctl_discovery_count(const controller *c);
/* Builds entity i's config into c->out and its topic; payload length or -1. */
int ctl_discovery_build(controller *c, size_t i, char *topic, size_t topic_size);
/* A message on a Home Assistant topic (birth, our retained configs). */
void ctl_discovery_message(controller *c, const char *topic, size_t topic_len, const char *payload,
                           size_t len);

/* ---- controller_parse.c ---- */
typedef enum {
    CTL_CMD_NONE = 0,
    CTL_CMD_STATS,
    CTL_CMD_GETIP,
    CTL_CMD_REFRESH,
    CTL_CMD_RESET,
    CTL_CMD_NTP,
} ctl_command;

typedef struct {
    uint8_t index; /* into c->pins */
    bool on;
} ctl_pin_request;

typedef struct {
    ctl_command cmd;
    bool have_code;
    uint32_t code;
    ctl_pin_request pins[CONTROLLER_MAX_PINS];
    size_t count;
} ctl_request;

/* A request switching on two relays of one interlock group: only the last
 * of them (in key order) is kept, and that is reported. */
void ctl_interlock_settle(controller *c, ctl_request *r, uint32_t now_ms);

/* Fills r from the object at token 0 of c->tokens; false after publishing the refusal. */
bool ctl_parse_request(controller *c, uint32_t now_ms, const char *text, size_t count,
                       ctl_request *r);

/* ---- controller_message.c ---- */
/* Checks one request completely, then carries it out or publishes one refusal. */
void ctl_handle_message(controller *c, uint32_t now_ms, const char *payload, size_t len,
                        bool dup);

/* ---- controller_stats.c ---- */
/* Writes "TIME":"2026-11-25T10:29:28Z" (UTC clock) or "TIME":"up 3600s". */
void ctl_write_time(controller *c, json_writer *w);
/* Builds the stats message into c->out; returns its length or -1. */
int ctl_build_stats(controller *c);
/* Civil UTC date text from unix seconds: "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL). */
void ctl_format_utc(int64_t unix_s, char out[32]);

#endif
