/*
 * Controller configuration: schema, defaults and validation.
 *
 * The schema is a set of tables (one per JSON object) naming each key, its
 * kind, limits and where it is stored. The document is walked twice: the
 * first walk only validates and collects errors; the second, run only when
 * the first found none, writes the defaults and then every value into the
 * caller's struct. So *out is never half-written and no temporary copy of the
 * (5 KB) struct is needed on the stack.
 */
#include "config.h"

#include <string.h>

/* ------------------------------------------------------------ defaults */

#define DEFAULT_KEEPALIVE_S 60
#define DEFAULT_PULSE_MS 2000
#define DEFAULT_DEBOUNCE_MS 50
#define DEFAULT_COOLDOWN_MS 2000
#define DEFAULT_TOGGLE_WINDOW_MS 60000
#define DEFAULT_TOGGLE_MAX 5
#define DEFAULT_VIOLATION_MAX 3
#define DEFAULT_PUBLISH_WINDOW_MS 10000
#define DEFAULT_PUBLISH_MAX 20
#define DEFAULT_BACKLOG_WINDOW_MS 3000
#define DEFAULT_PUBLISH_INTERVAL_S 7200
#define DEFAULT_PUBLIC_IP_URL "http://api.ipify.org"

#define PUBLISH_INTERVAL_MAX_S 604800   /* one week */

bool config_pin_available(int pin)
{
    return (pin >= 0 && pin <= 22) || (pin >= 26 && pin <= CONFIG_MAX_PIN);
}

static void relay_defaults(void *p)
{
    config_relay *r = p;
    memset(r, 0, sizeof *r);
    r->active_low = true;
}

static void momentary_defaults(void *p)
{
    config_momentary *m = p;
    memset(m, 0, sizeof *m);
    m->active_low = true;
    m->pulse_ms = DEFAULT_PULSE_MS;
    m->allow_backlog = false;
}

static void contact_defaults(void *p)
{
    config_contact *k = p;
    memset(k, 0, sizeof *k);
    k->pull = CONFIG_PULL_UP;
    k->normally_open = true;
    k->debounce_ms = DEFAULT_DEBOUNCE_MS;
}

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->wifi.country, "XX", 3);
    c->mqtt.keepalive_s = DEFAULT_KEEPALIVE_S;
    c->mqtt.session = CONFIG_SESSION_CLEAN_FIRST;
    for (size_t i = 0; i < CONFIG_MAX_RELAYS; i++) {
        relay_defaults(&c->relays[i]);
    }
    for (size_t i = 0; i < CONFIG_MAX_MOMENTARY; i++) {
        momentary_defaults(&c->momentary[i]);
    }
    for (size_t i = 0; i < CONFIG_MAX_CONTACTS; i++) {
        contact_defaults(&c->contacts[i]);
    }
    c->guards.cooldown_ms = DEFAULT_COOLDOWN_MS;
    c->guards.toggle_window_ms = DEFAULT_TOGGLE_WINDOW_MS;
    c->guards.toggle_max = DEFAULT_TOGGLE_MAX;
    c->guards.violation_max = DEFAULT_VIOLATION_MAX;
    c->guards.publish_window_ms = DEFAULT_PUBLISH_WINDOW_MS;
    c->guards.publish_max = DEFAULT_PUBLISH_MAX;
    c->guards.backlog_window_ms = DEFAULT_BACKLOG_WINDOW_MS;
    c->publish_interval_s = DEFAULT_PUBLISH_INTERVAL_S;
    memcpy(c->public_ip_url, DEFAULT_PUBLIC_IP_URL, sizeof DEFAULT_PUBLIC_IP_URL);
    memcpy(c->homeassistant.discovery_prefix, CONFIG_DEFAULT_PREFIX, sizeof CONFIG_DEFAULT_PREFIX);
    c->interlock_gap_ms = CONFIG_DEFAULT_INTERLOCK_GAP_MS;
}

static const char *const device_class_names[CONFIG_CLASS_COUNT] = {
    "", "door", "garage_door", "window", "opening", "lock", "motion", "occupancy", "presence",
    "moisture", "smoke", "gas", "tamper", "vibration", "safety", "problem", "power", "plug",
};

const char *config_device_class_name(uint8_t device_class)
{
    return device_class < CONFIG_CLASS_COUNT ? device_class_names[device_class] : "";
}

const char *config_session_name(config_session s)
{
    switch (s) {
    case CONFIG_SESSION_CLEAN_FIRST: return "clean_first";
    case CONFIG_SESSION_PERSISTENT: return "persistent";
    case CONFIG_SESSION_CLEAN: return "clean";
    }
    return "unknown";
}

/* ---------------------------------------------------------------- URLs */

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

static bool ipv6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

/* Splits "host[:port]" at s (ending at the first of stop_chars or NUL) into
 * host (without IPv6 brackets) and port. Returns NULL or what is wrong;
 * *end is set to where it stopped. */
static const char *parse_authority(const char *s, char *host, size_t host_size, uint16_t *port,
                                   const char **end)
{
    size_t n = 0;
    const char *p = s;
    if (*p == '[') {
        p++;
        while (ipv6_char(*p)) {
            p++;
        }
        if (*p != ']' || p == s + 1) {
            return "has an invalid IPv6 address (write it as [address])";
        }
        n = (size_t)(p - s - 1);
        if (n >= host_size) {
            return "has a host name that is too long";
        }
        memcpy(host, s + 1, n);
        host[n] = '\0';
        p++;
    } else {
        while (host_char(*p)) {
            p++;
        }
        n = (size_t)(p - s);
        if (n == 0) {
            return *p == '\0' || *p == ':' || *p == '/' ? "has no host name" : "has an invalid host name";
        }
        if (n >= host_size) {
            return "has a host name that is too long";
        }
        if (s[0] == '.' || s[0] == '-' || s[n - 1] == '-') {
            return "has an invalid host name";
        }
        memcpy(host, s, n);
        host[n] = '\0';
    }
    if (*p == ':') {
        uint32_t v = 0;
        const char *digits = ++p;
        while (*p >= '0' && *p <= '9' && p - digits < 6) {
            v = v * 10 + (uint32_t)(*p - '0');
            p++;
        }
        if (p == digits || v == 0 || v > 65535 || (*p >= '0' && *p <= '9')) {
            return "has an invalid port (1-65535)";
        }
        *port = (uint16_t)v;
    }
    *end = p;
    return NULL;
}

const char *config_broker_url_error(const char *url, config_broker *out)
{
    config_broker b;
    const char *rest, *end = NULL, *err;
    if (url == NULL) {
        return "is missing";
    }
    memset(&b, 0, sizeof b);
    if (strncmp(url, "mqtt://", 7) == 0) {
        b.tls = false;
        b.port = 1883;
        rest = url + 7;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        b.tls = true;
        b.port = 8883;
        rest = url + 8;
    } else {
        return "must start with mqtt:// or mqtts://";
    }
    err = parse_authority(rest, b.host, sizeof b.host, &b.port, &end);
    if (err != NULL) {
        return err;
    }
    if (*end == '/' && end[1] == '\0') {
        end++;                  /* one trailing slash is harmless */
    }
    if (*end != '\0') {
        return "must be only scheme, host and port (no user, path or query)";
    }
    if (out != NULL) {
        *out = b;
    }
    return NULL;
}

bool config_parse_broker_url(const char *url, config_broker *out)
{
    return config_broker_url_error(url, out) == NULL;
}

const char *config_http_url_error(const char *url, config_http_url *out)
{
    config_http_url u;
    const char *end = NULL, *err;
    size_t n;
    if (url == NULL) {
        return "is missing";
    }
    memset(&u, 0, sizeof u);
    u.port = 80;
    if (strncmp(url, "https://", 8) == 0) {
        return "must use http:// (https is not supported for this request)";
    }
    if (strncmp(url, "http://", 7) != 0) {
        return "must start with http://";
    }
    err = parse_authority(url + 7, u.host, sizeof u.host, &u.port, &end);
    if (err != NULL) {
        return err;
    }
    if (*end == '\0') {
        memcpy(u.path, "/", 2);
    } else if (*end == '/') {
        n = strlen(end);
        if (n >= sizeof u.path) {
            return "has a path that is too long";
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)end[i] <= 0x20 || (unsigned char)end[i] >= 0x7F) {
                return "has a space or a non-ASCII character in its path";
            }
        }
        memcpy(u.path, end, n + 1);
    } else {
        return "must be http://host[:port][/path] (no user name)";
    }
    if (out != NULL) {
        *out = u;
    }
    return NULL;
}

bool config_parse_http_url(const char *url, config_http_url *out)
{
    return config_http_url_error(url, out) == NULL;
}

/* -------------------------------------------------------------- schema */

typedef enum {
    K_STRING,       /* aux: buffer size */
    K_BOOL,
    K_U32,          /* min..max */
    K_U16,          /* min..max */
    K_U8,           /* min..max */
    K_INTERVAL,     /* int32: -1 (off) or min..max */
    K_PIN,          /* uint8_t GPIO, unique across the board */
    K_PULL,         /* "up" | "down" | "none" */
    K_SESSION,      /* "clean_first" | "persistent" | "clean" */
    K_CLASS,        /* uint8_t config_device_class from its name */
    K_PINSET,       /* array of configured pins -> uint32_t bit mask */
    K_POWER,        /* "off" | "on" -> bool */
    K_OTP,          /* array of base32 secrets; aux: offset of the uint8_t count */
    K_OBJECT,       /* sub: schema of the object */
    K_LIST,         /* array of objects; aux: offset of the size_t count; max: entries */
} field_kind;

typedef enum {
    C_NONE,
    C_REQUIRED_TEXT,    /* not empty */
    C_BROKER_URL,
    C_HTTP_URL,         /* or empty */
    C_TOPIC,
    C_COUNTRY,
    C_WIFI_PASSWORD,
    C_USERNAME,         /* remembered for the password-needs-user check */
    C_PASSWORD,
    C_STATUS_TOPIC,     /* a topic or empty; remembered for the default */
    C_PREFIX,           /* discovery prefix */
    C_DISCOVERY,        /* bool: remembered for the escape check */
} text_check;

typedef struct schema schema;

typedef struct {
    const char *name;
    uint8_t kind;
    uint8_t check;
    bool required;
    uint16_t offset;
    uint16_t aux;
    int32_t min;
    int32_t max;
    const schema *sub;
} field;

struct schema {
    const field *fields;
    uint8_t count;
    uint8_t list_id;            /* lists: names the owner of a pin */
    uint16_t elem_size;         /* lists: bytes per entry */
    void (*defaults)(void *elem);
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define STR(s, f, chk, req) { #f, K_STRING, chk, req, offsetof(s, f), sizeof(((s *)0)->f), 0, 0, NULL }
#define NUM(s, f, kind, lo, hi) { #f, kind, C_NONE, false, offsetof(s, f), 0, lo, hi, NULL }
#define FLAG(s, f) { #f, K_BOOL, C_NONE, false, offsetof(s, f), 0, 0, 0, NULL }

enum { LIST_RELAYS = 1, LIST_MOMENTARY, LIST_CONTACTS };

static const field wifi_fields[] = {
    STR(config_wifi, ssid, C_NONE, false),
    STR(config_wifi, password, C_WIFI_PASSWORD, false),
    STR(config_wifi, country, C_COUNTRY, false),
};

static const field mqtt_fields[] = {
    STR(config_mqtt, broker_url, C_BROKER_URL, true),
    STR(config_mqtt, username, C_USERNAME, false),
    STR(config_mqtt, password, C_PASSWORD, false),
    STR(config_mqtt, ca_file, C_NONE, false),
    STR(config_mqtt, client_id, C_REQUIRED_TEXT, true),
    STR(config_mqtt, topic, C_TOPIC, true),
    NUM(config_mqtt, keepalive_s, K_U16, 5, 65535),
    { "session", K_SESSION, C_NONE, false, offsetof(config_mqtt, session), 0, 0, 0, NULL },
    STR(config_mqtt, status_topic, C_STATUS_TOPIC, false),
};

static const field ha_fields[] = {
    { "discovery", K_BOOL, C_DISCOVERY, false, offsetof(config_homeassistant, discovery), 0, 0, 0, NULL },
    STR(config_homeassistant, discovery_prefix, C_PREFIX, false),
};

static const field relay_fields[] = {
    { "pin", K_PIN, C_NONE, true, offsetof(config_relay, pin), 0, 0, 0, NULL },
    FLAG(config_relay, active_low),
    { "power_on", K_POWER, C_NONE, false, offsetof(config_relay, power_on), 0, 0, 0, NULL },
    NUM(config_relay, interlock, K_U8, 1, CONFIG_MAX_INTERLOCK),
    { "otp", K_OTP, C_NONE, false, offsetof(config_relay, otp_first), offsetof(config_relay, otp_count), 0, 0,
      NULL },
};

static const field momentary_fields[] = {
    { "pin", K_PIN, C_NONE, true, offsetof(config_momentary, pin), 0, 0, 0, NULL },
    FLAG(config_momentary, active_low),
    NUM(config_momentary, pulse_ms, K_U32, 10, 60000),
    FLAG(config_momentary, allow_backlog),
    { "otp", K_OTP, C_NONE, false, offsetof(config_momentary, otp_first), offsetof(config_momentary, otp_count),
      0, 0, NULL },
};

static const field contact_fields[] = {
    { "pin", K_PIN, C_NONE, true, offsetof(config_contact, pin), 0, 0, 0, NULL },
    { "pull", K_PULL, C_NONE, false, offsetof(config_contact, pull), 0, 0, 0, NULL },
    FLAG(config_contact, normally_open),
    NUM(config_contact, debounce_ms, K_U32, 0, 10000),
    { "device_class", K_CLASS, C_NONE, false, offsetof(config_contact, device_class), 0, 0, 0, NULL },
};

static const field guard_fields[] = {
    NUM(config_guards, cooldown_ms, K_U32, 0, 3600000),
    NUM(config_guards, toggle_window_ms, K_U32, 1000, 86400000),
    NUM(config_guards, toggle_max, K_U32, 1, 10000),
    NUM(config_guards, violation_max, K_U32, 1, 10000),
    NUM(config_guards, publish_window_ms, K_U32, 1000, 86400000),
    NUM(config_guards, publish_max, K_U32, 1, 100000),
    NUM(config_guards, backlog_window_ms, K_U32, 0, 600000),
    FLAG(config_guards, remote_reset),
};

static const schema wifi_schema = { wifi_fields, COUNT_OF(wifi_fields), 0, 0, NULL };
static const schema mqtt_schema = { mqtt_fields, COUNT_OF(mqtt_fields), 0, 0, NULL };
static const schema ha_schema = { ha_fields, COUNT_OF(ha_fields), 0, 0, NULL };
static const schema guard_schema = { guard_fields, COUNT_OF(guard_fields), 0, 0, NULL };
static const schema relay_schema = { relay_fields, COUNT_OF(relay_fields), LIST_RELAYS,
                                     sizeof(config_relay), relay_defaults };
static const schema momentary_schema = { momentary_fields, COUNT_OF(momentary_fields), LIST_MOMENTARY,
                                         sizeof(config_momentary), momentary_defaults };
static const schema contact_schema = { contact_fields, COUNT_OF(contact_fields), LIST_CONTACTS,
                                       sizeof(config_contact), contact_defaults };

static const field root_fields[] = {
    { "wifi", K_OBJECT, C_NONE, false, offsetof(config, wifi), 0, 0, 0, &wifi_schema },
    { "mqtt", K_OBJECT, C_NONE, true, offsetof(config, mqtt), 0, 0, 0, &mqtt_schema },
    { "homeassistant", K_OBJECT, C_NONE, false, offsetof(config, homeassistant), 0, 0, 0, &ha_schema },
    { "relays", K_LIST, C_NONE, false, offsetof(config, relays), offsetof(config, relay_count), 0,
      CONFIG_MAX_RELAYS, &relay_schema },
    { "momentary", K_LIST, C_NONE, false, offsetof(config, momentary), offsetof(config, momentary_count), 0,
      CONFIG_MAX_MOMENTARY, &momentary_schema },
    { "contacts", K_LIST, C_NONE, false, offsetof(config, contacts), offsetof(config, contact_count), 0,
      CONFIG_MAX_CONTACTS, &contact_schema },
    { "guards", K_OBJECT, C_NONE, false, offsetof(config, guards), 0, 0, 0, &guard_schema },
    { "publish_interval_s", K_INTERVAL, C_NONE, false, offsetof(config, publish_interval_s), 0, 1,
      PUBLISH_INTERVAL_MAX_S, NULL },
    STR(config, public_ip_url, C_HTTP_URL, false),
    { "notify", K_PINSET, C_NONE, false, offsetof(config, notify_pins), 0, 0, 0, NULL },
    NUM(config, interlock_gap_ms, K_U16, 0, 10000),
};

static const schema root_schema = { root_fields, COUNT_OF(root_fields), 0, 0, NULL };

static const char *list_name(uint8_t id)
{
    switch (id) {
    case LIST_RELAYS: return "relays";
    case LIST_MOMENTARY: return "momentary";
    default: return "contacts";
    }
}

/* ------------------------------------------------------------- walking */

#define PATH_SIZE sizeof(((config_error *)0)->path)
#define SCRATCH_SIZE CONFIG_URL_SIZE    /* the largest string field */

_Static_assert(CONFIG_PATH_SIZE <= SCRATCH_SIZE && CONFIG_TOPIC_SIZE <= SCRATCH_SIZE &&
                   CONFIG_NAME_SIZE <= SCRATCH_SIZE && CONFIG_OTP_SECRET_SIZE <= SCRATCH_SIZE,
               "every string value must fit the walker's scratch buffer");
_Static_assert(CONFIG_MAX_RELAYS <= 32 && CONFIG_MAX_MOMENTARY <= 32 && CONFIG_MAX_CONTACTS <= 32,
               "pin owners are stored as list << 5 | index");
_Static_assert(CONFIG_MAX_OTP_TOTAL >= 1 && CONFIG_MAX_OTP_TOTAL <= 64,
               "secret positions are stored in a uint8_t and the pool must hold at least one");

typedef struct {
    const char *text;
    const json_token *tok;
    config_errors *errors;
    size_t error_count;
    bool commit;                        /* second walk: store values */
    config *root;                       /* where the commit walk stores */
    size_t otp_used;                    /* secrets seen so far in this walk */
    bool have_username;
    bool have_password;
    bool have_status_topic;
    bool discovery;                     /* homeassistant.discovery is true */
    uint8_t escaped;                    /* ESC_* of the fields JSON would escape */
    size_t topic_len;
    uint32_t notify_pins;               /* pins listed in "notify", checked after the walk */
    uint8_t relay_group;                /* the relay entry being walked: its interlock group */
    bool relay_power_on;                /* ... and whether it starts on */
    uint8_t group_on[CONFIG_MAX_INTERLOCK + 1]; /* per group: 1 + index of the relay starting on */
    uint8_t list_id;                    /* list entry being walked, for pin owners */
    size_t list_index;
    uint8_t pin_owner[CONFIG_MAX_PIN + 1];  /* list_id << 5 | index, 0: free */
    char path[PATH_SIZE];
    size_t path_len;
    char scratch[SCRATCH_SIZE];
} walker;

/* Fields in every Home Assistant config: with discovery on they may not
 * hold characters JSON escapes (up to 6 bytes for 1), or the configs would
 * not fit the device's output buffer (tests/unit/test_controller_discovery.c
 * proves they fit without them). */
enum { ESC_TOPIC = 1, ESC_STATUS_TOPIC = 2, ESC_CLIENT_ID = 4 };

static bool needs_json_escape(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\') {
            return true;
        }
    }
    return false;
}

/* A small string builder that cuts at the buffer's end. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} text_buf;

static void tb_put_n(text_buf *t, const char *s, size_t n)
{
    size_t room;
    if (t->buf == NULL) {
        return;
    }
    room = t->size - 1 - t->len;
    if (n > room) {
        n = room;
        /* do not cut a UTF-8 sequence */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void tb_put(text_buf *t, const char *s)
{
    tb_put_n(t, s, strlen(s));
}

static void tb_int(text_buf *t, int64_t v)
{
    char d[21];
    size_t i = sizeof d;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (v < 0) {
        d[--i] = '-';
    }
    tb_put_n(t, d + i, sizeof d - i);
}

/* Starts an error at the current path and returns the builder for its
 * message (one that drops everything when the error is not kept). */
static text_buf error_at(walker *w)
{
    text_buf none = { NULL, 0, 0 };
    config_error *e;
    text_buf tb;
    if (w->commit) {
        return none;            /* cannot happen: the first walk found no error */
    }
    w->error_count++;
    if (w->errors == NULL) {
        return none;
    }
    w->errors->count = w->error_count;
    if (w->error_count > CONFIG_MAX_ERRORS) {
        return none;
    }
    e = &w->errors->errors[w->error_count - 1];
    memcpy(e->path, w->path, w->path_len + 1);
    e->message[0] = '\0';
    tb.buf = e->message;
    tb.size = sizeof e->message;
    tb.len = 0;
    return tb;
}

static void error1(walker *w, const char *msg)
{
    text_buf tb = error_at(w);
    tb_put(&tb, msg);
}

static void error_range(walker *w, int64_t lo, int64_t hi)
{
    text_buf tb = error_at(w);
    tb_put(&tb, "must be a whole number from ");
    tb_int(&tb, lo);
    tb_put(&tb, " to ");
    tb_int(&tb, hi);
}

static size_t path_push_key(walker *w, const char *name, size_t n)
{
    size_t saved = w->path_len;
    text_buf tb = { w->path, sizeof w->path, w->path_len };
    if (tb.len > 0) {
        tb_put(&tb, ".");
    }
    tb_put_n(&tb, name, n);
    w->path_len = tb.len;
    return saved;
}

static size_t path_push_index(walker *w, size_t i)
{
    size_t saved = w->path_len;
    text_buf tb = { w->path, sizeof w->path, w->path_len };
    tb_put(&tb, "[");
    tb_int(&tb, (int64_t)i);
    tb_put(&tb, "]");
    w->path_len = tb.len;
    return saved;
}

static void path_pop(walker *w, size_t saved)
{
    w->path_len = saved;
    w->path[saved] = '\0';
}

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_NUMBER: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "true/false";
    default: return "null";
    }
}

static void error_type(walker *w, const char *want, json_type got)
{
    text_buf tb = error_at(w);
    tb_put(&tb, "must be ");
    tb_put(&tb, want);
    tb_put(&tb, ", not ");
    tb_put(&tb, type_name(got));
}

/* Unescapes a string value into w->scratch (at most size-1 bytes). */
static bool read_text(walker *w, size_t v, size_t size)
{
    const json_token *t = &w->tok[v];
    if (t->type != JSON_STRING) {
        error_type(w, "a string", t->type);
        return false;
    }
    if (!json_string_copy(w->text, t, w->scratch, size)) {
        if (json_string_length(w->text, t) >= size) {
            text_buf tb = error_at(w);
            tb_put(&tb, "is too long (at most ");
            tb_int(&tb, (int64_t)(size - 1));
            tb_put(&tb, " bytes)");
        } else {
            error1(w, "must not contain \\u0000");
        }
        return false;
    }
    return true;
}

static bool read_int(walker *w, size_t v, int64_t lo, int64_t hi, int64_t *out)
{
    const json_token *t = &w->tok[v];
    if (t->type != JSON_NUMBER) {
        error_type(w, "a number", t->type);
        return false;
    }
    if (!json_number_int(w->text, t, out) || *out < lo || *out > hi) {
        error_range(w, lo, hi);
        return false;
    }
    return true;
}

static const char *check_text(walker *w, uint8_t check, const char *s)
{
    size_t n = strlen(s);
    switch (check) {
    case C_REQUIRED_TEXT:  /* the client id */
        if (needs_json_escape(s)) {
            w->escaped |= ESC_CLIENT_ID;
        }
        return n == 0 ? "must not be empty" : NULL;
    case C_BROKER_URL:
        return config_broker_url_error(s, NULL);
    case C_HTTP_URL:
        return n == 0 ? NULL : config_http_url_error(s, NULL);
    case C_STATUS_TOPIC:
        if (n == 0) {
            w->have_status_topic = true; /* "" turns availability off */
            return NULL;
        }
        /* fall through */
    case C_TOPIC:
        if (n == 0) {
            return "must not be empty";
        }
        if (strchr(s, '+') != NULL || strchr(s, '#') != NULL) {
            return "must not contain the MQTT wildcards + or #";
        }
        if (s[0] == '$') {
            return "must not start with $ (reserved for the broker)";
        }
        if (needs_json_escape(s)) {
            w->escaped |= check == C_TOPIC ? ESC_TOPIC : ESC_STATUS_TOPIC;
        }
        if (check == C_TOPIC) {
            w->topic_len = n;
        } else {
            w->have_status_topic = true;
        }
        return NULL;
    case C_PREFIX:
        if (n == 0) {
            return "must not be empty";
        }
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '/')) {
                return "may hold only letters, digits, '_', '-' and '/'";
            }
        }
        if (s[0] == '/' || s[n - 1] == '/') {
            return "must not start or end with '/'";
        }
        return NULL;
    case C_COUNTRY:
        if (n != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z') {
            return "must be two capital letters (ISO 3166-1 code, XX: worldwide)";
        }
        return NULL;
    case C_WIFI_PASSWORD:
        if (n == 0) {
            return NULL;        /* open network */
        }
        if (n < 8) {
            return "must be empty (open network) or 8 to 63 characters (WPA2)";
        }
        if (n == 64) {
            for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                    return "of 64 characters must be a hex key (otherwise at most 63 characters)";
                }
            }
        }
        return NULL;
    case C_USERNAME:
        w->have_username = n > 0;
        return NULL;
    case C_PASSWORD:
        w->have_password = n > 0;
        return NULL;
    default:
        return NULL;
    }
}

static void field_string(walker *w, const field *f, size_t v, char *dst)
{
    const char *err;
    if (!read_text(w, v, f->aux)) {
        return;
    }
    err = check_text(w, f->check, w->scratch);
    if (err != NULL) {
        error1(w, err);
        return;
    }
    if (w->commit) {
        memcpy(dst, w->scratch, strlen(w->scratch) + 1);
    }
}

/* A GPIO as 16 or "GP16"; -1 after reporting the error. */
static int64_t read_pin(walker *w, size_t v);

static void field_pinset(walker *w, size_t v, char *dst)
{
    const json_token *arr = &w->tok[v];
    size_t item = v + 1;
    uint32_t mask = 0;
    if (arr->type != JSON_ARRAY) {
        error_type(w, "an array of pins", arr->type);
        return;
    }
    for (size_t i = 0; i < arr->size; i++) {
        size_t saved = path_push_index(w, i);
        int64_t pin = read_pin(w, item);
        if (pin >= 0) {
            if (mask & (1u << pin)) {
                error1(w, "is listed twice");
            }
            mask |= 1u << pin;
        }
        path_pop(w, saved);
        item = w->tok[item].next;
    }
    w->notify_pins = mask;
    if (w->commit) {
        memcpy(dst, &mask, sizeof mask);
    }
}

static void field_pin(walker *w, size_t v, uint8_t *dst)
{
    int64_t pin = read_pin(w, v);
    text_buf tb;
    if (pin < 0) {
        return;
    }
    if (w->pin_owner[pin] != 0) {
        uint8_t owner = w->pin_owner[pin];
        tb = error_at(w);
        tb_put(&tb, "GP");
        tb_int(&tb, pin);
        tb_put(&tb, " is already used by ");
        tb_put(&tb, list_name((uint8_t)(owner >> 5)));
        tb_put(&tb, "[");
        tb_int(&tb, owner & 0x1F);
        tb_put(&tb, "]");
        return;
    }
    w->pin_owner[pin] = (uint8_t)((w->list_id << 5) | (w->list_index & 0x1F));
    if (w->commit) {
        *dst = (uint8_t)pin;
    }
}

static int64_t read_pin(walker *w, size_t v)
{
    const json_token *t = &w->tok[v];
    int64_t pin = -1;
    text_buf tb;
    if (t->type == JSON_NUMBER) {
        if (!json_number_int(w->text, t, &pin) || pin < 0 || pin > 99) {
            error1(w, "must be a GPIO number from 0 to 28 or a name like \"GP16\"");
            return -1;
        }
    } else if (t->type == JSON_STRING) {
        const char *s = w->scratch;
        size_t n;
        if (t->len > 4 || !json_string_copy(w->text, t, w->scratch, 8)) {
            s = "";
        }
        n = strlen(s);
        if (n >= 3 && n <= 4 && s[0] == 'G' && s[1] == 'P' && s[2] >= '0' && s[2] <= '9' &&
            (n == 3 || (s[2] != '0' && s[3] >= '0' && s[3] <= '9'))) {
            pin = s[2] - '0';
            if (n == 4) {
                pin = pin * 10 + (s[3] - '0');
            }
        } else {
            error1(w, "must be a GPIO number from 0 to 28 or a name like \"GP16\"");
            return -1;
        }
    } else {
        error_type(w, "a GPIO number (16) or name (\"GP16\")", t->type);
        return -1;
    }
    if (!config_pin_available((int)pin)) {
        tb = error_at(w);
        tb_put(&tb, "GP");
        tb_int(&tb, pin);
        tb_put(&tb, pin > CONFIG_MAX_PIN + 1 ? " does not exist on a Pico W"
                                             : " is wired to the WiFi chip on a Pico W");
        tb_put(&tb, " (usable: GP0-GP22, GP26-GP28)");
        return -1;
    }
    return pin;
}

/* Checks an RFC 4648 base32 secret in place, folding letters to upper case. */
static const char *base32_error(char *s)
{
    size_t n = strlen(s), data = n;
    char *pad = strchr(s, '=');
    if (pad != NULL) {
        data = (size_t)(pad - s);
        for (size_t i = data; i < n; i++) {
            if (s[i] != '=') {
                return "is not base32: '=' padding may only end it";
            }
        }
        if (n % 8 != 0) {
            return "is not base32: padding must fill a group of 8 characters";
        }
    }
    for (size_t i = 0; i < data; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            s[i] = (char)(c - 'a' + 'A');
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) {
            return "is not base32 (letters A-Z and digits 2-7 only)";
        }
    }
    if (data < CONFIG_OTP_SECRET_MIN) {
        return "must have 16 to 64 base32 characters (80 bits or more)";
    }
    if (data % 8 == 1 || data % 8 == 3 || data % 8 == 6) {
        return "is not base32: no encoding has this length";
    }
    return NULL;
}

static void field_otp(walker *w, const field *f, size_t v, char *base)
{
    const json_token *arr = &w->tok[v];
    size_t item = v + 1;
    if (arr->type != JSON_ARRAY) {
        error_type(w, "an array of base32 secrets", arr->type);
        return;
    }
    if (arr->size > CONFIG_MAX_OTP_SECRETS) {
        text_buf tb = error_at(w);
        tb_put(&tb, "has ");
        tb_int(&tb, arr->size);
        tb_put(&tb, " secrets; at most ");
        tb_int(&tb, CONFIG_MAX_OTP_SECRETS);
        tb_put(&tb, " are supported");
        return;
    }
    if (w->otp_used + arr->size > CONFIG_MAX_OTP_TOTAL) {
        text_buf tb = error_at(w);
        tb_put(&tb, "too many secrets: the configuration holds at most ");
        tb_int(&tb, CONFIG_MAX_OTP_TOTAL);
        tb_put(&tb, " in all relays together");
        return;
    }
    size_t first = w->otp_used;
    w->otp_used += arr->size;
    for (size_t i = 0; i < arr->size; i++) {
        size_t saved = path_push_index(w, i);
        const json_token *t = &w->tok[item];
        const char *err;
        if (t->type != JSON_STRING) {
            error_type(w, "a base32 string", t->type);
        } else if (!json_string_copy(w->text, t, w->scratch, CONFIG_OTP_SECRET_SIZE)) {
            error1(w, "must have 16 to 64 base32 characters (80 bits or more)");
        } else if ((err = base32_error(w->scratch)) != NULL) {
            error1(w, err);
        } else if (w->commit) {
            memcpy(w->root->otp_secrets[first + i], w->scratch, strlen(w->scratch) + 1);
        }
        path_pop(w, saved);
        item = t->next;
    }
    if (w->commit) {
        base[f->offset] = (char)(uint8_t)first;
        base[f->aux] = (char)(uint8_t)arr->size;
        w->root->otp_total = (uint8_t)w->otp_used;
    }
}

static void walk_object(walker *w, size_t obj, const schema *s, char *base);

/* At most one relay of an interlock group may start on. */
static void group_power_on(walker *w, size_t i)
{
    if (w->relay_group == 0 || !w->relay_power_on) return;
    uint8_t *first = &w->group_on[w->relay_group];
    if (*first == 0) {
        *first = (uint8_t)(i + 1);
        return;
    }
    text_buf tb = error_at(w);
    tb_put(&tb, "power_on \"on\" with relays[");
    tb_int(&tb, *first - 1);
    tb_put(&tb, "] in interlock group ");
    tb_int(&tb, w->relay_group);
    tb_put(&tb, ": at most one relay of a group may start on");
}

static void field_list(walker *w, const field *f, size_t v, char *base)
{
    const json_token *arr = &w->tok[v];
    const schema *sub = f->sub;
    size_t item = v + 1;
    if (arr->type != JSON_ARRAY) {
        error_type(w, "an array", arr->type);
        return;
    }
    if (arr->size > (uint32_t)f->max) {
        text_buf tb = error_at(w);
        tb_put(&tb, "has ");
        tb_int(&tb, arr->size);
        tb_put(&tb, " entries; at most ");
        tb_int(&tb, f->max);
        tb_put(&tb, " are supported");
        return;
    }
    for (size_t i = 0; i < arr->size; i++) {
        size_t saved = path_push_index(w, i);
        const json_token *t = &w->tok[item];
        if (t->type != JSON_OBJECT) {
            error_type(w, "an object", t->type);
        } else {
            char *elem = base + f->offset + i * sub->elem_size;
            if (w->commit) {
                sub->defaults(elem);
            }
            w->list_id = sub->list_id;
            w->list_index = i;
            w->relay_group = 0;
            w->relay_power_on = false;
            walk_object(w, item, sub, elem);
            group_power_on(w, i);
        }
        path_pop(w, saved);
        item = t->next;
    }
    if (w->commit) {
        size_t n = arr->size;
        memcpy(base + f->aux, &n, sizeof n);
    }
}

static void walk_value(walker *w, const field *f, size_t v, char *base)
{
    const json_token *t = &w->tok[v];
    char *dst = base + f->offset;
    int64_t n;
    switch ((field_kind)f->kind) {
    case K_STRING:
        field_string(w, f, v, dst);
        break;
    case K_BOOL:
        if (t->type != JSON_TRUE && t->type != JSON_FALSE) {
            error_type(w, "true or false", t->type);
        } else {
            bool b = t->type == JSON_TRUE;
            if (f->check == C_DISCOVERY) {
                w->discovery = b;
            }
            if (w->commit) {
                memcpy(dst, &b, sizeof b);
            }
        }
        break;
    case K_U32:
        if (read_int(w, v, f->min, f->max, &n) && w->commit) {
            uint32_t u = (uint32_t)n;
            memcpy(dst, &u, sizeof u);
        }
        break;
    case K_U16:
        if (read_int(w, v, f->min, f->max, &n) && w->commit) {
            uint16_t u = (uint16_t)n;
            memcpy(dst, &u, sizeof u);
        }
        break;
    case K_U8:
        if (read_int(w, v, f->min, f->max, &n)) {
            w->relay_group = (uint8_t)n;
            if (w->commit) *dst = (char)(uint8_t)n;
        }
        break;
    case K_POWER:
        if (json_string_equals(w->text, t, "on")) {
            w->relay_power_on = true;
        } else if (!json_string_equals(w->text, t, "off")) {
            error1(w, "must be \"off\" or \"on\"");
            break;
        }
        if (w->commit) *dst = (char)w->relay_power_on;
        break;
    case K_INTERVAL:
        if (t->type != JSON_NUMBER) {
            error_type(w, "a number", t->type);
        } else if (!json_number_int(w->text, t, &n) || (n != -1 && (n < f->min || n > f->max))) {
            text_buf tb = error_at(w);
            tb_put(&tb, "must be -1 (off) or a whole number from ");
            tb_int(&tb, f->min);
            tb_put(&tb, " to ");
            tb_int(&tb, f->max);
        } else if (w->commit) {
            int32_t i = (int32_t)n;
            memcpy(dst, &i, sizeof i);
        }
        break;
    case K_PIN:
        field_pin(w, v, (uint8_t *)dst);
        break;
    case K_PULL: {
        config_pull p = CONFIG_PULL_UP;
        if (json_string_equals(w->text, t, "up")) {
            p = CONFIG_PULL_UP;
        } else if (json_string_equals(w->text, t, "down")) {
            p = CONFIG_PULL_DOWN;
        } else if (json_string_equals(w->text, t, "none")) {
            p = CONFIG_PULL_NONE;
        } else {
            error1(w, "must be \"up\", \"down\" or \"none\"");
            break;
        }
        if (w->commit) {
            memcpy(dst, &p, sizeof p);
        }
        break;
    }
    case K_SESSION: {
        config_session s = CONFIG_SESSION_CLEAN_FIRST;
        if (json_string_equals(w->text, t, "clean_first")) {
            s = CONFIG_SESSION_CLEAN_FIRST;
        } else if (json_string_equals(w->text, t, "persistent")) {
            s = CONFIG_SESSION_PERSISTENT;
        } else if (json_string_equals(w->text, t, "clean")) {
            s = CONFIG_SESSION_CLEAN;
        } else {
            error1(w, "must be \"clean_first\", \"persistent\" or \"clean\"");
            break;
        }
        if (w->commit) {
            memcpy(dst, &s, sizeof s);
        }
        break;
    }
    case K_CLASS: {
        uint8_t k = CONFIG_CLASS_COUNT;
        for (uint8_t i = 1; i < CONFIG_CLASS_COUNT; i++) {
            if (json_string_equals(w->text, t, device_class_names[i])) {
                k = i;
            }
        }
        if (k == CONFIG_CLASS_COUNT) {
            error1(w, "must be a device class such as door, garage_door, window, motion (docs/config.md)");
        } else if (w->commit) {
            *dst = (char)k;
        }
        break;
    }
    case K_PINSET:
        field_pinset(w, v, dst);
        break;
    case K_OTP:
        field_otp(w, f, v, base);
        break;
    case K_OBJECT:
        if (t->type != JSON_OBJECT) {
            error_type(w, "an object", t->type);
        } else {
            walk_object(w, v, f->sub, dst);
        }
        break;
    case K_LIST:
        field_list(w, f, v, base);
        break;
    }
}

static void walk_object(walker *w, size_t obj, const schema *s, char *base)
{
    uint32_t seen = 0;
    size_t key = obj + 1;
    for (uint32_t m = 0; m < w->tok[obj].size; m++) {
        const json_token *k = &w->tok[key];
        size_t val = key + 1;
        size_t saved = path_push_key(w, w->text + k->start, k->len);
        size_t other = obj + 1;
        bool dup = false;
        for (uint32_t e = 0; e < m && !dup; e++) {
            dup = json_strings_equal(w->text, &w->tok[other], k);
            other = w->tok[other + 1].next;
        }
        if (dup) {
            error1(w, "appears twice");
        } else {
            size_t fi = 0;
            while (fi < s->count && !json_string_equals(w->text, k, s->fields[fi].name)) {
                fi++;
            }
            if (fi == s->count) {
                error1(w, "is not a known key");
            } else {
                seen |= 1u << fi;
                walk_value(w, &s->fields[fi], val, base);
            }
        }
        path_pop(w, saved);
        key = w->tok[val].next;
    }
    for (size_t fi = 0; fi < s->count; fi++) {
        if (s->fields[fi].required && (seen & (1u << fi)) == 0) {
            const char *name = s->fields[fi].name;
            size_t saved = path_push_key(w, name, strlen(name));
            error1(w, "is missing (required)");
            path_pop(w, saved);
        }
    }
}

static void walk(walker *w, config *out)
{
    memset(w->pin_owner, 0, sizeof w->pin_owner);
    w->have_username = false;
    w->have_password = false;
    w->have_status_topic = false;
    w->discovery = false;
    w->escaped = 0;
    w->topic_len = 0;
    w->notify_pins = 0;
    memset(w->group_on, 0, sizeof w->group_on);
    path_pop(w, 0);
    walk_object(w, 0, &root_schema, (char *)out);
    for (int pin = 0; pin <= CONFIG_MAX_PIN; pin++) {
        if ((w->notify_pins & (1u << pin)) != 0 && w->pin_owner[pin] == 0) {
            size_t saved = path_push_key(w, "notify", 6);
            text_buf tb = error_at(w);
            tb_put(&tb, "GP");
            tb_int(&tb, pin);
            tb_put(&tb, " is not a relay, momentary relay or contact of this configuration");
            path_pop(w, saved);
        }
    }
    if (!w->have_status_topic) {
        static const char suffix[] = "/status";
        _Static_assert(CONFIG_TOPIC_SIZE - 1 + sizeof suffix <= sizeof(((config_mqtt *)0)->status_topic),
                       "the default status topic always fits");
        if (w->commit && w->topic_len > 0) {
            memcpy(out->mqtt.status_topic, out->mqtt.topic, w->topic_len);
            memcpy(out->mqtt.status_topic + w->topic_len, suffix, sizeof suffix);
        }
    }
    if (w->discovery && w->escaped != 0) {
        static const struct {
            uint8_t bit;
            const char *path;
        } esc[] = {
            { ESC_TOPIC, "mqtt.topic" },
            { ESC_STATUS_TOPIC, "mqtt.status_topic" },
            { ESC_CLIENT_ID, "mqtt.client_id" },
        };
        for (size_t i = 0; i < COUNT_OF(esc); i++) {
            if ((w->escaped & esc[i].bit) != 0) {
                size_t saved = path_push_key(w, esc[i].path, strlen(esc[i].path));
                error1(w, "must not hold '\"', '\\' or control characters with "
                          "homeassistant.discovery (configs too long)");
                path_pop(w, saved);
            }
        }
    }
    if (w->have_password && !w->have_username) {
        size_t saved = path_push_key(w, "mqtt.password", 13);
        error1(w, "needs mqtt.username (MQTT sends no password without a user name)");
        path_pop(w, saved);
    }
}

/* "invalid JSON at line L, column C: detail" */
static void json_error(walker *w, const char *text, json_result r)
{
    size_t line = 1, col = 1;
    text_buf tb;
    for (size_t i = 0; i < r.error_offset; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    tb = error_at(w);
    tb_put(&tb, "invalid JSON at line ");
    tb_int(&tb, (int64_t)line);
    tb_put(&tb, ", column ");
    tb_int(&tb, (int64_t)col);
    tb_put(&tb, ": ");
    tb_put(&tb, r.detail);
}

bool config_parse_tokens(const char *text, size_t len, config *out, config_errors *errors,
                         json_token *tokens, size_t max_tokens)
{
    walker w;
    json_result r;

    memset(&w, 0, sizeof w);
    w.errors = errors;
    if (errors != NULL) {
        errors->count = 0;
    }
    if (len > CONFIG_MAX_TEXT) {
        text_buf tb = error_at(&w);
        tb_put(&tb, "the configuration is larger than ");
        tb_int(&tb, CONFIG_MAX_TEXT);
        tb_put(&tb, " bytes");
        return false;
    }
    if (out == NULL || tokens == NULL) {
        error1(&w, "internal error: no configuration or token buffer");
        return false;
    }
    r = json_parse(text, len, tokens, max_tokens);
    if (r.status == JSON_ERR_EMPTY) {
        error1(&w, "the configuration is empty");
        return false;
    }
    if (r.status == JSON_ERR_TOO_MANY) {
        text_buf tb = error_at(&w);
        tb_put(&tb, "the configuration holds more than ");
        tb_int(&tb, (int64_t)max_tokens);
        tb_put(&tb, " JSON values");
        return false;
    }
    if (r.status != JSON_OK) {
        json_error(&w, text, r);
        return false;
    }
    if (tokens[0].type != JSON_OBJECT) {
        error1(&w, "the configuration must be a JSON object");
        return false;
    }
    w.text = text;
    w.tok = tokens;
    w.commit = false;
    w.root = out;
    w.otp_used = 0;
    walk(&w, out);
    if (w.error_count > 0) {
        return false;
    }
    config_defaults(out);
    w.commit = true;
    w.otp_used = 0;
    walk(&w, out);
    return true;
}

bool config_parse(const char *text, size_t len, config *out, config_errors *errors)
{
    json_token tokens[CONFIG_MAX_TOKENS];
    return config_parse_tokens(text, len, out, errors, tokens, CONFIG_MAX_TOKENS);
}

size_t config_error_format(const config_error *e, char *buf, size_t size)
{
    text_buf tb = { buf, size, 0 };
    if (buf == NULL || size == 0) {
        return 0;
    }
    buf[0] = '\0';
    if (e == NULL) {
        return 0;
    }
    if (memchr(e->path, '\0', sizeof e->path) == NULL || memchr(e->message, '\0', sizeof e->message) == NULL) {
        return 0;
    }
    if (e->path[0] != '\0') {
        tb_put(&tb, e->path);
        tb_put(&tb, ": ");
    }
    tb_put(&tb, e->message);
    return tb.len;
}
