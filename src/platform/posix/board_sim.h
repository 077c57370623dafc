/*
 * Virtual board of the simulator: a TCP server speaking JSON lines.
 *
 * Clients set the electrical level of input pins, read every pin, switch the
 * simulated WiFi and ask for counters; every client receives every event
 * (output changes, inputs applied, MQTT state, publications) in order, each
 * stamped with "t_ms", milliseconds since the board was opened.
 *
 * The board knows pins only as a table (pin, kind, level, logical state); the
 * application keeps it current and carries out the requests through callbacks.
 * It runs inside the application's poll loop and never blocks. The protocol
 * is described in docs/simulator.md.
 */
#ifndef BOARD_SIM_H
#define BOARD_SIM_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define BOARD_SIM_MAX_CLIENTS 16
#define BOARD_SIM_MAX_PINS 32
#define BOARD_SIM_LINE_MAX 2048              /* longest request line */
#define BOARD_SIM_EVENT_MAX 8192             /* longest event line */
#define BOARD_SIM_CLIENT_BACKLOG (4u << 20)  /* unsent bytes before a slow client is dropped */
#define BOARD_SIM_POLLFDS (1 + BOARD_SIM_MAX_CLIENTS)

typedef enum {
    BOARD_PIN_RELAY = 0,
    BOARD_PIN_MOMENTARY,
    BOARD_PIN_CONTACT,
} board_pin_kind;

typedef struct {
    uint8_t pin;
    board_pin_kind kind;
    uint8_t level;        /* electrical level */
    bool on;              /* logical state (relay energised, contact closed) */
} board_pin;

typedef struct {
    /* A client set the electrical level of an input pin (already checked to
     * be a contact and 0/1, and stored in the table). */
    void (*on_input)(void *ctx, uint32_t now, uint8_t pin, uint8_t level);
    /* A client switched the simulated WiFi. */
    void (*on_wifi)(void *ctx, uint32_t now, bool up);
    /* A client asked for counters: write members into the open object. */
    void (*on_stats)(void *ctx, uint32_t now, json_writer *w);
    void *ctx;
} board_sim_callbacks;

typedef struct {
    int fd;
    bool closing;                 /* drop after this service round */
    char in[BOARD_SIM_LINE_MAX];
    size_t in_len;
    bool in_discard;              /* skipping the rest of an overlong line */
    char *out;                    /* heap: unsent event bytes */
    size_t out_len;
    size_t out_cap;
} board_sim_client;

typedef struct {
    int listen_fd;
    uint32_t start_ms;
    char address[128];            /* "127.0.0.1:PORT" as actually bound */
    const char *version;
    board_sim_callbacks cb;
    board_pin pins[BOARD_SIM_MAX_PINS];
    size_t pin_count;
    board_sim_client clients[BOARD_SIM_MAX_CLIENTS];
    char mqtt_state[24];          /* last "mqtt" event's state, for hello */
    char mqtt_last[256];          /* that event's line, repeated to a new client after hello */
    size_t mqtt_last_len;
    bool wifi_down;
    uint32_t dropped_clients;     /* slow clients dropped */
    uint32_t bad_requests;
} board_sim;

/* Binds "HOST:PORT" (port 0 picks a free one; host may be a name, resolved
 * here, once, at start-up). On failure returns false with a message in err.
 * host_port NULL: a board with no socket (pins and callbacks only). */
bool board_sim_open(board_sim *b, const char *host_port, uint32_t now, const char *version,
                    const board_sim_callbacks *cb, char *err, size_t err_size);
void board_sim_close(board_sim *b);

/* Declares a pin (before clients connect, or they see it from the next get). */
bool board_sim_add_pin(board_sim *b, uint8_t pin, board_pin_kind kind, uint8_t level, bool on);
const board_pin *board_sim_pin(const board_sim *b, uint8_t pin);

/* Poll integration: fills up to max entries, returns how many. service()
 * matches entries by fd, so fds may be a slice of a larger array. */
size_t board_sim_pollfds(const board_sim *b, struct pollfd *fds, size_t max);
void board_sim_service(board_sim *b, uint32_t now, const struct pollfd *fds, size_t n);

/* Events, sent to every client. */
void board_sim_output(board_sim *b, uint32_t now, uint8_t pin, uint8_t level, bool on);
/* Debounced logical state of a contact; sends {"ev":"contact"} when it changed. */
void board_sim_contact(board_sim *b, uint32_t now, uint8_t pin, bool on);
void board_sim_mqtt(board_sim *b, uint32_t now, const char *state, const char *reason);
void board_sim_published(board_sim *b, uint32_t now, const char *payload, size_t len);
void board_sim_wifi(board_sim *b, uint32_t now, bool up);
void board_sim_log(board_sim *b, uint32_t now, const char *message);

size_t board_sim_client_count(const board_sim *b);

#endif
