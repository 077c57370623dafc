/*
 * The controller: relays, momentary relays and contact switches driven by
 * JSON messages on one MQTT topic, with the safeguards that keep relays and
 * data usage safe when someone (or a broken client) floods the topic.
 *
 * Sans-IO like the MQTT client: the platform owns pins, network and clock and
 * hands the controller events (connection up/down, a message, an input edge,
 * time passing); the controller answers through the callbacks in
 * controller_platform, always from inside one of these calls.
 *
 *   controller_init()           once; drives every output to its off state
 *   controller_on_session()     CONNACK accepted: whether the broker kept a session
 *   controller_on_connection()  MQTT session up (subscribed) or down
 *   controller_on_subscribe_refused()  SUBACK 0x80 (the client retries it)
 *   controller_on_message()     a PUBLISH received on the topic (dup = DUP flag)
 *   controller_on_input()       an input pin changed level (debounced inside)
 *   controller_on_public_ip()   answer to platform.request_public_ip()
 *   controller_on_time_synced() answer to platform.sync_time()
 *   controller_step()           time passed; call at controller_next_deadline()
 *
 * Callbacks must not call back into the controller.
 * Time is a 32-bit millisecond counter; every comparison is wrap-safe.
 * No heap, no globals: all state lives in the caller-owned struct controller.
 * The wire protocol is described in docs/protocol.md, the defences in
 * docs/security.md.
 */
#ifndef CONTROLLER_H
#define CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "contact.h"
#include "json.h"
#include "publish_guard.h"
#include "relay_guard.h"

#define CONTROLLER_VERSION "1.0.0"

/* Pins the controller handles: every relay, momentary relay and contact. */
#define CONTROLLER_MAX_PINS (CONFIG_MAX_RELAYS + CONFIG_MAX_MOMENTARY + CONFIG_MAX_CONTACTS)
/* Longest request accepted; longer ones are answered with an error. */
#define CONTROLLER_MAX_MESSAGE 512
/* JSON tokens a request may use (root + 31 keys and values). */
#define CONTROLLER_MAX_TOKENS 64
/* Largest publication (stats is the biggest). */
#define CONTROLLER_OUT_SIZE 768
/* Longest error text kept for a rate-limited error report. */
#define CONTROLLER_ERROR_SIZE 128
/* At most one error message per interval; the rest are counted and summarised. */
#define CONTROLLER_ERROR_INTERVAL_MS 1000u
/* Retry interval when platform.publish() could not queue a message. */
#define CONTROLLER_PUBLISH_RETRY_MS 100u
/* How long a getip request may take before an error is published. */
#define CONTROLLER_IP_TIMEOUT_MS 10000u
#define CONTROLLER_IP_SIZE 46                /* longest IPv6 text + NUL */
/* {"CMD":"ntp"}: at most one clock re-sync per interval, each with a deadline. */
#define CONTROLLER_NTP_INTERVAL_MS 60000u
#define CONTROLLER_NTP_TIMEOUT_MS 10000u
/* Momentary presses remembered for duplicate detection, and for how long. */
#define CONTROLLER_PRESS_MEMORY 8
#define CONTROLLER_PRESS_MEMORY_MS 3600000u
/* A standalone {"MFA":code} message authorises the next command within this time. */
#define CONTROLLER_MFA_GRANT_MS 30000u
/* One-time codes: consecutive failures allowed before lockouts start, and the
 * lockout growth (doubling from the first to the cap). */
#define CONTROLLER_OTP_FREE_FAILURES 3u
#define CONTROLLER_OTP_LOCKOUT_FIRST_MS 30000u
#define CONTROLLER_OTP_LOCKOUT_MAX_MS (4u * 3600u * 1000u)
#define CONTROLLER_MAX_OTP_SECRETS CONFIG_MAX_OTP_SECRETS

typedef enum {
    CONTROLLER_LOG_DEBUG = 0,
    CONTROLLER_LOG_INFO,
    CONTROLLER_LOG_WARN,
    CONTROLLER_LOG_ERROR,
} controller_log_level;

/* What the platform knows about itself, for {"CMD":"stats"}. */
typedef struct {
    uint64_t uptime_ms;          /* since boot */
    uint32_t mem_total_bytes;    /* 0: unknown */
    uint32_t mem_free_bytes;
    int32_t temp_milli_c;        /* temperature in milli-degrees Celsius */
    bool temp_real;              /* true: a sensor; false: a fixed stand-in value */
    int16_t rssi_dbm;            /* WiFi signal */
    bool rssi_valid;             /* false: no WiFi (e.g. the simulator on Ethernet) */
    uint32_t reboots;            /* restarts counted by the platform (e.g. watchdog) */
} controller_platform_stats;

typedef struct {
    /* Drive an output pin to an electrical level (active_low already applied). */
    void (*set_output)(void *ctx, uint8_t pin, bool level);
    /* Current electrical level of an input pin (used once at init). */
    bool (*read_input)(void *ctx, uint8_t pin);
    /* Publish payload on the configured topic, QoS1, never retained.
     * false: could not be queued now; the controller retries later. */
    bool (*publish)(void *ctx, const char *payload, size_t len);
    /* Fill stats (called for {"CMD":"stats"}). May be NULL. */
    void (*read_stats)(void *ctx, controller_platform_stats *stats);
    /* Start fetching the public IP without blocking; the answer comes through
     * controller_on_public_ip(). false: cannot start. May be NULL (getip off). */
    bool (*request_public_ip)(void *ctx);
    /* Seconds since 1970 (UTC); false while the clock is not set. May be NULL. */
    bool (*unix_time)(void *ctx, int64_t *secs);
    /* HMAC-SHA1 for one-time codes; false on failure. May be NULL (codes refused). */
    bool (*hmac_sha1)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, uint8_t out[20]);
    /* One line of text, no newline. May be NULL. */
    void (*log)(void *ctx, controller_log_level level, const char *text);
    /* Publish on another topic than the configured one: the availability
     * status and Home Assistant discovery (docs/protocol.md). false: not
     * queued now; the controller retries later. May be NULL: neither. */
    bool (*publish_to)(void *ctx, const char *topic, const char *payload, size_t len, uint8_t qos,
                       bool retain);
    /* Re-sync the wall clock now ({"CMD":"ntp"}) without blocking; the
     * platform calls controller_on_time_synced() when the clock is set.
     * false: cannot start. May be NULL: the clock is the host's own (the
     * simulator) and the command is answered at once with it. */
    bool (*sync_time)(void *ctx);
} controller_platform;

typedef enum {
    CONTROLLER_PIN_RELAY = 0,
    CONTROLLER_PIN_MOMENTARY,
    CONTROLLER_PIN_CONTACT,
} controller_pin_kind;

/* Counters, for stats and for tests. */
typedef struct {
    uint32_t messages;           /* requests received (own echoes excluded) */
    uint32_t echoes_ignored;     /* messages carrying "TIME" (our own publications) */
    uint32_t errors;             /* requests refused as invalid */
    uint32_t errors_suppressed;  /* error reports not published (rate limit) */
    uint32_t relay_changes;      /* output changes commanded (pulses count once) */
    uint32_t cooldown_skips;     /* requests skipped by the per-relay cooldown */
    uint32_t toggle_skips;       /* requests skipped by the toggle limit */
    uint32_t violations;         /* toggle-limit violations, all relays */
    uint32_t locked_skips;       /* requests refused because the relay is locked */
    uint32_t publishes;          /* payloads handed to platform.publish() */
    uint32_t publish_failures;   /* platform.publish() returned false */
    uint32_t publish_halts;      /* times the publish guard halted publishing */
    uint32_t duplicates;         /* momentary presses dropped as redeliveries */
    uint32_t stale_refused;      /* momentary presses refused as backlog */
    uint32_t otp_accepted;
    uint32_t otp_failures;
    uint32_t contact_changes;    /* debounced contact changes */
    uint32_t connections;        /* session up events */
    uint32_t outages;            /* session down events after being up */
    uint32_t subscribe_refusals; /* SUBACK 0x80 reported by the platform */
    uint32_t backlog_ended_by_echo; /* backlogs closed by the device's own echo */
    uint32_t backlog_ended_by_cap;  /* backlogs closed by backlog_window_ms (no echo) */
} controller_counters;

/* ---- Internal state (private: use the functions below) ---- */

typedef struct {
    uint8_t pin;
    uint8_t kind;                /* controller_pin_kind */
    uint8_t index;               /* index in the config array of its kind */
    bool on;                     /* logical state (relay energised / contact active) */
    bool dirty;                  /* state to be published */
    /* momentary */
    bool pulsing;
    bool making;                 /* relay: interlock gap running; goes on at due_ms */
    uint32_t due_ms;             /* momentary: pulse end; relay: end of the interlock gap */
    /* plain relay: request deferred by the cooldown during the backlog window */
    bool deferred;
    bool deferred_on;
    /* contact */
    contact_debounce contact;
    /* relays */
    relay_guard guard;
    bool cooldown_reported;      /* cooldown skip reported since the last change */
    bool report_violation;       /* guard notices, each published once */
    bool report_lock;
} controller_pin;

typedef struct {
    uint32_t hash;
    uint32_t at_ms;
    bool used;
} controller_press;

typedef struct {
    const config *cfg;           /* caller keeps it alive and unchanged */
    controller_platform platform;
    void *ctx;

    controller_pin pins[CONTROLLER_MAX_PINS];   /* sorted by GPIO number */
    size_t pin_count;

    uint32_t last_now_ms;        /* uptime clock: advanced on every call */
    uint64_t uptime_ms;

    bool connected;
    /* Backlog (controller_backlog.c): what a resumed session queued while the
     * device was away ends where the device's own connect-time publication
     * comes back on the topic; backlog_window_ms caps it. */
    bool session_known;          /* CONNACK of the current connection reported */
    bool session_present;        /* ... and it resumed a stored session */
    bool in_backlog;             /* messages now are backlog */
    bool marker_set;             /* marker_hash holds the connect-time publication */
    uint32_t marker_hash;
    uint32_t connected_ms;
    bool full_state_pending;
    bool stats_pending;
    bool reset_report_pending;
    uint32_t last_full_state_ms;

    publish_guard pub_guard;
    bool report_halt;

    /* rate-limited error reports */
    char error_text[CONTROLLER_ERROR_SIZE];
    bool error_pending;
    bool error_sent_once;
    uint32_t error_last_ms;
    uint32_t error_folded;       /* errors replaced by a later one before publishing */

    /* getip */
    bool ip_waiting;
    uint32_t ip_started_ms;
    char ip[CONTROLLER_IP_SIZE];
    bool ip_pending;

    /* {"CMD":"ntp"} */
    bool ntp_waiting;            /* platform.sync_time() running */
    bool ntp_pending;            /* answer to publish */
    bool ntp_recent;             /* a sync started less than CONTROLLER_NTP_INTERVAL_MS ago */
    uint32_t ntp_started_ms;

    /* duplicate detection of momentary presses */
    controller_press presses[CONTROLLER_PRESS_MEMORY];
    size_t press_next;

    /* one-time codes: last accepted time step per secret of the config's
     * pool (0: none); one slot per secret, not per pin */
    uint32_t otp_last_step[CONFIG_MAX_OTP_TOTAL];
    uint32_t otp_failures;       /* consecutive failures */
    uint32_t otp_lockouts;       /* lockouts since the last success */
    bool otp_locked;
    uint32_t otp_lock_start_ms;
    uint32_t otp_lock_ms;
    bool mfa_granted;
    uint32_t mfa_grant_ms;
    uint32_t mfa_grant_pins;     /* bit per pin index the grant covers */
    bool mfa_report_pending;

    uint32_t notify_pending;     /* bit per pin index: {"NOTIFY":...} to publish */

    /* availability and discovery (controller_discovery.c) */
    bool status_pending;         /* "online" to publish on the status topic */
    bool discovery_pending;      /* discovery configs from discovery_next on */
    uint8_t discovery_next;      /* entity index (pins in GPIO order, then diagnostics) */

    bool retry_pending;          /* a publish failed; retry after CONTROLLER_PUBLISH_RETRY_MS */
    uint32_t retry_ms;

    controller_counters counters;

    json_token tokens[CONTROLLER_MAX_TOKENS];
    char out[CONTROLLER_OUT_SIZE];
} controller;

/* Sets every output to its off state, then switches on the relays whose
 * power_on is "on", reads every contact, and prepares the full-state
 * publication for the first connection. cfg must stay valid and
 * unchanged for the controller's life. false: cfg or platform unusable
 * (missing set_output/read_input/publish); nothing was driven. */
bool controller_init(controller *c, const config *cfg, const controller_platform *platform,
                     void *ctx, uint32_t now_ms);

/* CONNACK accepted; session_present as the broker reported it. With 0 there
 * is no backlog at all; with 1 (or when the platform never calls this) the
 * messages before the device's own connect-time publication comes back are
 * the backlog. Call before the messages of that connection. */
void controller_on_session(controller *c, uint32_t now_ms, bool session_present);

/* MQTT session up (after the subscription is accepted) or down. */
void controller_on_connection(controller *c, uint32_t now_ms, bool up);

/* The broker refused the subscription to the topic (SUBACK 0x80): commands
 * cannot arrive. The session counts as up for publishing (state and this
 * error are published); the MQTT client asks again, backing off. */
void controller_on_subscribe_refused(controller *c, uint32_t now_ms);

/* A message on another subscribed topic: Home Assistant's birth message
 * (<prefix>/status = "online": the state is published again) or a retained
 * discovery config under this device's node id (one the configuration no
 * longer has is removed with an empty retained config). Others are ignored. */
void controller_on_other_message(controller *c, uint32_t now_ms, const char *topic,
                                 size_t topic_len, const char *payload, size_t len);

/* A clean shutdown is coming: publishes the retained "offline" status now
 * (the platform then sends DISCONNECT, so the broker drops the will). */
void controller_stop(controller *c, uint32_t now_ms);

/* Home Assistant topics the platform subscribes to besides the configured
 * topic (both "" when discovery is off): the birth topic "<prefix>/status"
 * and the filter "<prefix>/+/<node id>/+/config" for this device's
 * discovery configs. false if a buffer is too small (both then ""). */
#define CONTROLLER_HA_TOPIC_SIZE (CONFIG_PREFIX_SIZE + CONFIG_NAME_SIZE + 16)
bool controller_ha_topics(const config *cfg, char birth[CONTROLLER_HA_TOPIC_SIZE],
                          char filter[CONTROLLER_HA_TOPIC_SIZE]);

/* A message received on the topic. dup: the PUBLISH carried the DUP flag. */
void controller_on_message(controller *c, uint32_t now_ms, const char *payload, size_t len,
                           bool dup);

/* An input pin's electrical level changed (unknown pins are ignored). */
void controller_on_input(controller *c, uint32_t now_ms, uint8_t pin, bool level);

/* Answer to request_public_ip(): the address text, or NULL on failure. */
void controller_on_public_ip(controller *c, uint32_t now_ms, const char *ip);
/* request_public_ip() failed, and reason says how (e.g. "the provider
 * answered HTTP 404"); published as "getip failed: <reason>". */
void controller_on_public_ip_failed(controller *c, uint32_t now_ms, const char *reason);

/* Time passed: ends pulses, settles debounced contacts, periodic publication,
 * retries publications. */
void controller_step(controller *c, uint32_t now_ms);

/* Milliseconds from now until controller_step() is next needed
 * (never more than an hour: the controller keeps its clocks wrap-safe). */
uint32_t controller_next_deadline(const controller *c, uint32_t now_ms);

/* The clock was set after platform.sync_time(): publishes {"NTP":"synced",
 * "TIME":...}. Ignored when no sync was asked for. */
void controller_on_time_synced(controller *c, uint32_t now_ms);

/* ---- Getters ---- */
size_t controller_pin_count(const controller *c);
/* The i-th pin, in GPIO order.
 * false if i is out of range. */
bool controller_pin_info(const controller *c, size_t i, uint8_t *pin, controller_pin_kind *kind,
                         bool *on);
/* Logical state of a GPIO; false if the pin is not configured. */
bool controller_pin_state(const controller *c, uint8_t pin, bool *on);
/* Electrical level the controller drives on an output pin; false if not an output. */
bool controller_output_level(const controller *c, uint8_t pin, bool *level);
bool controller_relay_locked(const controller *c, uint8_t pin);
bool controller_publishing_halted(const controller *c);
const controller_counters *controller_get_counters(const controller *c);
const char *controller_pin_kind_name(controller_pin_kind kind);

#endif
