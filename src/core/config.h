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

/* GPIOs a Pico W exposes for our use: GP0..GP22 and GP26..GP28
 * (GP23..GP25 and GP29 belong to the CYW43 WiFi chip). */
bool config_pin_available(int pin);

typedef enum { CONFIG_PULL_NONE = 0, CONFIG_PULL_UP, CONFIG_PULL_DOWN } config_pull;

typedef struct {
    uint8_t pin;
    bool active_low;                /* default true: common relay boards */
} config_relay;

typedef struct {
    uint8_t pin;
    bool active_low;                /* default true */
    uint32_t pulse_ms;              /* default 2000 */
} config_momentary;

typedef struct {
    uint8_t pin;
    config_pull pull;               /* default up */
    bool normally_open;             /* default true: closed contact reads 1 */
    uint32_t debounce_ms;           /* default 50 */
} config_contact;

typedef struct {
    uint32_t cooldown_ms;           /* per relay; default 2000 */
    uint32_t toggle_window_ms;      /* default 60000 */
    uint32_t toggle_max;            /* changes allowed per window; default 5 */
    uint32_t violation_max;         /* violations before lock; default 3 */
    uint32_t publish_window_ms;     /* default 10000 */
    uint32_t publish_max;           /* publishes per window before halt; default 20 */
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
} config_mqtt;

typedef struct {
    config_wifi wifi;
    config_mqtt mqtt;
    config_relay relays[CONFIG_MAX_RELAYS];
    size_t relay_count;
    config_momentary momentary[CONFIG_MAX_MOMENTARY];
    size_t momentary_count;
    config_contact contacts[CONFIG_MAX_CONTACTS];
    size_t contact_count;
    config_guards guards;
    int32_t publish_interval_s;        /* periodic full state; default 7200, -1 off */
    char public_ip_url[CONFIG_URL_SIZE]; /* http:// only; default "http://api.ipify.org" */
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
/* Parses and validates; on any error returns false and leaves *out untouched. */
bool config_parse(const char *text, size_t len, config *out, config_errors *errors);

/* Parts of a broker URL. */
typedef struct {
    bool tls;
    char host[CONFIG_URL_SIZE];
    uint16_t port;
} config_broker;
bool config_parse_broker_url(const char *url, config_broker *out);

#endif
