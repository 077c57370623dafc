/*
 * Controller configuration: schema, defaults and validation of the JSON file
 * shared by the simulator and the Pico W firmware. Parsing allocates nothing;
 * every error names the key path and what is wrong.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define CONFIG_MAX_RELAYS 8
#define CONFIG_MAX_MOMENTARY 8
#define CONFIG_MAX_CONTACTS 16
#define CONFIG_MAX_ERRORS 8
#define CONFIG_MAX_TEXT 16384       /* largest config file accepted */

#define CONFIG_URL_SIZE 160
#define CONFIG_NAME_SIZE 65         /* user names, client ids, passwords: 64 bytes + NUL */
#define CONFIG_TOPIC_SIZE 129
#define CONFIG_PATH_SIZE 160        /* file paths (CA certificate) */
#define CONFIG_SSID_SIZE 33

#define CONFIG_MAX_OTP_SECRETS 4    /* TOTP secrets per relay (one per client) */
/* TOTP secrets in the whole configuration, shared by all relays: RAM on the
 * RP2040 grows with this, not with relays x secrets per relay. */
#ifndef CONFIG_MAX_OTP_TOTAL
#define CONFIG_MAX_OTP_TOTAL 8
#endif
#define CONFIG_OTP_SECRET_MIN 16    /* base32 characters (80 bits) */
#define CONFIG_OTP_SECRET_SIZE 65   /* up to 64 base32 characters + NUL */
#define CONFIG_MAX_PIN 28           /* highest GPIO number on an RP2040 package we use */
/* JSON values a configuration may hold: enough for every list at its limit
 * with all optional keys written out. config_parse keeps this many tokens
 * on the stack (CONFIG_MAX_TOKENS * sizeof(json_token) = 8960 bytes). */
#define CONFIG_MAX_TOKENS 448

/* GPIOs a Pico W exposes for our use: GP0..GP22 and GP26..GP28
 * (GP23..GP25 and GP29 belong to the CYW43 WiFi chip). */
bool config_pin_available(int pin);

typedef enum { CONFIG_PULL_NONE = 0, CONFIG_PULL_UP, CONFIG_PULL_DOWN } config_pull;

typedef enum {
    CONFIG_SESSION_CLEAN_FIRST = 0, /* default: clean session on the first connect after boot,
                                       persistent afterwards (no stale backlog after a power cut,
                                       nothing lost during a WiFi outage) */
    CONFIG_SESSION_PERSISTENT,      /* always clean session = 0 */
    CONFIG_SESSION_CLEAN,           /* always clean session = 1 */
} config_session;

#define CONFIG_MAX_INTERLOCK 4      /* interlock groups 1..4 */
#define CONFIG_DEFAULT_INTERLOCK_GAP_MS 100

typedef struct {
    uint8_t pin;
    bool active_low;                /* default true: common relay boards */
    uint8_t otp_first;              /* its secrets: config.otp_secrets[otp_first ...] */
    uint8_t otp_count;              /* 0: no one-time code needed */
    bool power_on;                  /* "power_on": "on"; default "off" */
    uint8_t interlock;              /* group 1..CONFIG_MAX_INTERLOCK; 0: none */
} config_relay;

typedef struct {
    uint8_t pin;
    bool active_low;                /* default true */
    uint32_t pulse_ms;              /* default 2000 */
    bool allow_backlog;             /* default false: a press delivered in the backlog right after
                                       a (re)connect never pulses the relay */
    uint8_t otp_first;
    uint8_t otp_count;
} config_momentary;

/* Home Assistant binary_sensor device classes a contact may announce. */
typedef enum {
    CONFIG_CLASS_NONE = 0,          /* default: no device_class */
    CONFIG_CLASS_DOOR,
    CONFIG_CLASS_GARAGE_DOOR,
    CONFIG_CLASS_WINDOW,
    CONFIG_CLASS_OPENING,
    CONFIG_CLASS_LOCK,
    CONFIG_CLASS_MOTION,
    CONFIG_CLASS_OCCUPANCY,
    CONFIG_CLASS_PRESENCE,
    CONFIG_CLASS_MOISTURE,
    CONFIG_CLASS_SMOKE,
    CONFIG_CLASS_GAS,
    CONFIG_CLASS_TAMPER,
    CONFIG_CLASS_VIBRATION,
    CONFIG_CLASS_SAFETY,
    CONFIG_CLASS_PROBLEM,
    CONFIG_CLASS_POWER,
    CONFIG_CLASS_PLUG,
    CONFIG_CLASS_COUNT
} config_device_class;

/* "door", ... ; "" for CONFIG_CLASS_NONE and out-of-range values. */
const char *config_device_class_name(uint8_t device_class);

typedef struct {
    uint8_t pin;
    config_pull pull;               /* default up */
    bool normally_open;             /* default true: closed contact reads 1 */
    uint8_t device_class;           /* config_device_class; default none */
    uint32_t debounce_ms;           /* default 50 */
} config_contact;

typedef struct {
    uint32_t cooldown_ms;           /* per relay; default 2000 */
    uint32_t toggle_window_ms;      /* default 60000 */
    uint32_t toggle_max;            /* changes allowed per window; default 5 */
    uint32_t violation_max;         /* violations before lock; default 3 */
    uint32_t publish_window_ms;     /* default 10000 */
    uint32_t publish_max;           /* publishes per window before halt; default 20 */
    uint32_t backlog_window_ms;     /* messages arriving this long after a (re)connect count
                                       as backlog; default 3000 */
    bool remote_reset;              /* {"CMD":"reset"} accepted; default false (restart only) */
} config_guards;

typedef struct {
    char ssid[CONFIG_SSID_SIZE];
    char password[CONFIG_NAME_SIZE];
    char country[3];                /* ISO 3166 alpha-2, default "XX" (worldwide) */
} config_wifi;

typedef struct {
    char broker_url[CONFIG_URL_SIZE];   /* mqtt://host[:1883] or mqtts://host[:8883] */
    char username[CONFIG_NAME_SIZE];
    char password[CONFIG_NAME_SIZE];
    char ca_file[CONFIG_PATH_SIZE];     /* PEM file for mqtts (simulator); empty: system CAs */
    char client_id[CONFIG_NAME_SIZE];
    char topic[CONFIG_TOPIC_SIZE];
    uint16_t keepalive_s;               /* default 60 */
    config_session session;             /* default CONFIG_SESSION_CLEAN_FIRST */
    /* availability: retained "online"/"offline" and the last will; the
     * parser fills the default "<topic>/status"; "" turns it off */
    char status_topic[CONFIG_TOPIC_SIZE + 7];
} config_mqtt;

#define CONFIG_PREFIX_SIZE 33           /* Home Assistant discovery prefix: 32 bytes + NUL */
#define CONFIG_DEFAULT_PREFIX "homeassistant"

typedef struct {
    bool discovery;                     /* default false */
    char discovery_prefix[CONFIG_PREFIX_SIZE]; /* default "homeassistant" */
} config_homeassistant;

typedef struct {
    config_wifi wifi;
    config_mqtt mqtt;
    config_homeassistant homeassistant;
    config_relay relays[CONFIG_MAX_RELAYS];
    size_t relay_count;
    config_momentary momentary[CONFIG_MAX_MOMENTARY];
    size_t momentary_count;
    config_contact contacts[CONFIG_MAX_CONTACTS];
    size_t contact_count;
    config_guards guards;
    int32_t publish_interval_s;        /* periodic full state; default 7200, -1 off */
    char public_ip_url[CONFIG_URL_SIZE]; /* http:// only; default "http://api.ipify.org" */
    uint32_t notify_pins;              /* bit per GPIO: a change also publishes {"NOTIFY":...} */
    uint16_t interlock_gap_ms;         /* break-before-make in an interlock group; default 100 */
    /* base32 TOTP secrets (upper case) of all relays, in file order */
    char otp_secrets[CONFIG_MAX_OTP_TOTAL][CONFIG_OTP_SECRET_SIZE];
    uint8_t otp_total;
} config;

typedef struct {
    char path[64];                  /* e.g. "relays[1].pin" */
    char message[96];               /* e.g. "pin 16 is already used by relays[0]" */
} config_error;

typedef struct {
    size_t count;                   /* errors found (entries beyond CONFIG_MAX_ERRORS dropped) */
    config_error errors[CONFIG_MAX_ERRORS];
} config_errors;

/* Fills every default. */
void config_defaults(config *c);
/* Parses and validates; on any error returns false and leaves *out untouched.
 * errors may be NULL. Uses about 10 KB of stack: the token array (8960 bytes)
 * plus about 1 KB for the walk (Cortex-M0+, -Os, measured with -fstack-usage). */
bool config_parse(const char *text, size_t len, config *out, config_errors *errors);
/* The same with a caller-provided token array (for small stacks: this variant
 * itself needs about 1 KB). max_tokens below CONFIG_MAX_TOKENS limits the
 * size of the configurations accepted. */
bool config_parse_tokens(const char *text, size_t len, config *out, config_errors *errors,
                         json_token *tokens, size_t max_tokens);
/* "path: message" (or just the message when the path is empty) into buf,
 * NUL-terminated and cut to fit; returns the length written. */
size_t config_error_format(const config_error *e, char *buf, size_t size);
/* "clean_first", "persistent" or "clean". */
const char *config_session_name(config_session s);

/* Parts of a broker URL. */
typedef struct {
    bool tls;
    char host[CONFIG_URL_SIZE];
    uint16_t port;
} config_broker;
/* mqtt://host[:port] or mqtts://host[:port] (default ports 1883 / 8883);
 * host is a DNS name, an IPv4 address or [IPv6]. False if malformed. */
bool config_parse_broker_url(const char *url, config_broker *out);
/* What is wrong with a broker URL, or NULL if it is valid (fills *out). */
const char *config_broker_url_error(const char *url, config_broker *out);

/* Parts of an http:// URL (the public-IP provider). */
typedef struct {
    char host[CONFIG_URL_SIZE];
    uint16_t port;                  /* default 80 */
    char path[CONFIG_URL_SIZE];     /* from the first '/', "/" when the URL has none */
} config_http_url;
/* http://host[:port][/path]; false if malformed or not http://. */
bool config_parse_http_url(const char *url, config_http_url *out);
/* What is wrong with an http:// URL, or NULL if it is valid (fills *out). */
const char *config_http_url_error(const char *url, config_http_url *out);

#endif
