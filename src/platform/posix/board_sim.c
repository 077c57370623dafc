/*
 * Virtual board: TCP server, JSON lines in and out. See board_sim.h.
 */
#include "board_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX_TOKENS 64

static const char *kind_name(board_pin_kind k)
{
    switch (k) {
    case BOARD_PIN_RELAY: return "relay";
    case BOARD_PIN_MOMENTARY: return "momentary";
    case BOARD_PIN_CONTACT: return "contact";
    }
    return "unknown";
}

static bool set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/* ---- sending ---------------------------------------------------------- */

static void client_drop(board_sim_client *c)
{
    c->closing = true;
}

static void client_flush(board_sim_client *c)
{
    while (c->out_len > 0 && !c->closing) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n > 0) {
            memmove(c->out, c->out + n, c->out_len - (size_t)n);
            c->out_len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            client_drop(c);
            return;
        }
    }
}

static void client_queue(board_sim *b, board_sim_client *c, const char *line, size_t len)
{
    if (c->fd < 0 || c->closing)
        return;
    if (c->out_len + len + 1 > BOARD_SIM_CLIENT_BACKLOG) {
        fprintf(stderr, "board: client not reading (%zu bytes queued), dropped\n", c->out_len);
        b->dropped_clients++;
        client_drop(c);
        return;
    }
    if (c->out_len + len + 1 > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len + 1)
            cap *= 2;
        char *grown = realloc(c->out, cap);
        if (!grown) {
            fprintf(stderr, "board: out of memory for a client, dropped\n");
            client_drop(c);
            return;
        }
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, line, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    client_flush(c);
}

/* An event under construction: a JSON object with "ev" and "t_ms" first. */
typedef struct {
    char buf[BOARD_SIM_EVENT_MAX];
    json_writer w;
} event;

static void event_begin(event *e, const board_sim *b, uint32_t now, const char *name)
{
    json_writer_init(&e->w, e->buf, sizeof e->buf);
    json_write_object_begin(&e->w);
    json_write_key(&e->w, "ev");
    json_write_string(&e->w, name);
    json_write_key(&e->w, "t_ms");
    json_write_int(&e->w, (int64_t)(uint32_t)(now - b->start_ms));
}

/* Closes the object; with_pins appends "pins":[...] (the writer has no arrays,
 * and every pin field is a number, a fixed word or a boolean). */
static int event_end(event *e, const board_sim *b, bool with_pins)
{
    json_write_object_end(&e->w);
    int len = json_writer_finish(&e->w);
    if (len < 2 || !with_pins)
        return len;
    size_t at = (size_t)len - 1; /* the closing brace */
    size_t room = sizeof e->buf - at;
    int n = snprintf(e->buf + at, room, ",\"pins\":[");
    if (n < 0 || (size_t)n >= room)
        return -1;
    at += (size_t)n;
    for (size_t i = 0; i < b->pin_count; i++) {
        const board_pin *p = &b->pins[i];
        room = sizeof e->buf - at;
        n = snprintf(e->buf + at, room, "%s{\"pin\":%u,\"kind\":\"%s\",\"level\":%u,\"on\":%s}",
                     i ? "," : "", (unsigned)p->pin, kind_name(p->kind), (unsigned)p->level,
                     p->on ? "true" : "false");
        if (n < 0 || (size_t)n >= room)
            return -1;
        at += (size_t)n;
    }
    room = sizeof e->buf - at;
    n = snprintf(e->buf + at, room, "]}");
    if (n < 0 || (size_t)n >= room)
        return -1;
    return (int)(at + (size_t)n);
}

static void send_to(board_sim *b, board_sim_client *c, event *e, bool with_pins)
{
    int len = event_end(e, b, with_pins);
    if (len < 0) {
        fprintf(stderr, "board: event larger than %d bytes not sent\n", BOARD_SIM_EVENT_MAX);
        return;
    }
    client_queue(b, c, e->buf, (size_t)len);
}

static void broadcast(board_sim *b, event *e, bool with_pins)
{
    int len = event_end(e, b, with_pins);
    if (len < 0) {
        fprintf(stderr, "board: event larger than %d bytes not sent\n", BOARD_SIM_EVENT_MAX);
        return;
    }
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++)
        client_queue(b, &b->clients[i], e->buf, (size_t)len);
}

static void send_error(board_sim *b, board_sim_client *c, uint32_t now, const char *message)
{
    event e;
    b->bad_requests++;
    event_begin(&e, b, now, "error");
    json_write_key(&e.w, "message");
    json_write_string(&e.w, message);
    send_to(b, c, &e, false);
}

/* ---- requests ----------------------------------------------------------- */

static board_pin *find_pin(board_sim *b, int64_t pin)
{
    for (size_t i = 0; i < b->pin_count; i++)
        if (b->pins[i].pin == pin)
            return &b->pins[i];
    return NULL;
}

static void request_set(board_sim *b, board_sim_client *c, uint32_t now, const char *text,
                        const json_token *t, size_t count)
{
    int pi = json_object_get(text, t, count, 0, "pin");
    int li = json_object_get(text, t, count, 0, "level");
    int64_t pin, level;
    char msg[96];
    if (pi < 0 || !json_number_int(text, &t[pi], &pin)) {
        send_error(b, c, now, "set: \"pin\" must be an integer");
        return;
    }
    if (li < 0 || !json_number_int(text, &t[li], &level) || (level != 0 && level != 1)) {
        send_error(b, c, now, "set: \"level\" must be 0 or 1");
        return;
    }
    board_pin *p = find_pin(b, pin);
    if (!p || p->kind != BOARD_PIN_CONTACT) {
        snprintf(msg, sizeof msg, "set: pin %lld is not an input of this board", (long long)pin);
        send_error(b, c, now, msg);
        return;
    }
    p->level = (uint8_t)level;
    event e;
    event_begin(&e, b, now, "input");
    json_write_key(&e.w, "pin");
    json_write_int(&e.w, p->pin);
    json_write_key(&e.w, "level");
    json_write_int(&e.w, p->level);
    broadcast(b, &e, false);
    if (b->cb.on_input)
        b->cb.on_input(b->cb.ctx, now, p->pin, p->level);
}

static void request_wifi(board_sim *b, board_sim_client *c, uint32_t now, const char *text,
                         const json_token *t, size_t count)
{
    int si = json_object_get(text, t, count, 0, "state");
    bool up;
    if (si >= 0 && t[si].type == JSON_STRING && json_string_equals(text, &t[si], "up"))
        up = true;
    else if (si >= 0 && t[si].type == JSON_STRING && json_string_equals(text, &t[si], "down"))
        up = false;
    else {
        send_error(b, c, now, "wifi: \"state\" must be \"up\" or \"down\"");
        return;
    }
    if (b->cb.on_wifi)
        b->cb.on_wifi(b->cb.ctx, now, up);
}

static void request_stats(board_sim *b, board_sim_client *c, uint32_t now)
{
    event e;
    event_begin(&e, b, now, "stats");
    if (b->cb.on_stats)
        b->cb.on_stats(b->cb.ctx, now, &e.w);
    json_write_key(&e.w, "board_clients");
    json_write_int(&e.w, (int64_t)board_sim_client_count(b));
    json_write_key(&e.w, "board_bad_requests");
    json_write_int(&e.w, b->bad_requests);
    send_to(b, c, &e, false);
}

static void handle_line(board_sim *b, board_sim_client *c, uint32_t now, const char *line, size_t len)
{
    json_token t[REQUEST_MAX_TOKENS];
    char msg[96];
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return; /* blank lines are allowed */
    json_result r = json_parse(line, len, t, REQUEST_MAX_TOKENS);
    if (r.status != JSON_OK) {
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", r.error_offset,
                 json_status_text(r.status));
        send_error(b, c, now, msg);
        return;
    }
    if (t[0].type != JSON_OBJECT) {
        send_error(b, c, now, "a request must be a JSON object");
        return;
    }
    int oi = json_object_get(line, t, r.count, 0, "op");
    if (oi < 0 || t[oi].type != JSON_STRING) {
        send_error(b, c, now, "missing \"op\" (set, get, wifi or stats)");
        return;
    }
    if (json_string_equals(line, &t[oi], "set")) {
        request_set(b, c, now, line, t, r.count);
    } else if (json_string_equals(line, &t[oi], "get")) {
        event e;
        event_begin(&e, b, now, "pins");
        send_to(b, c, &e, true);
    } else if (json_string_equals(line, &t[oi], "wifi")) {
        request_wifi(b, c, now, line, t, r.count);
    } else if (json_string_equals(line, &t[oi], "stats")) {
        request_stats(b, c, now);
    } else {
        char op[32];
        if (!json_string_copy(line, &t[oi], op, sizeof op))
            snprintf(op, sizeof op, "?");
        snprintf(msg, sizeof msg, "unknown op \"%s\" (set, get, wifi or stats)", op);
        send_error(b, c, now, msg);
    }
}

/* Reads at most BOARD_SIM_READS_PER_ROUND chunks: a client writing without
 * pause must not starve the loop (timers, pulses, MQTT); the rest waits for
 * the next round, where poll reports the socket readable again. */
#define BOARD_SIM_READS_PER_ROUND 1

static void client_read(board_sim *b, board_sim_client *c, uint32_t now)
{
    char chunk[4096];
    for (int round = 0; round < BOARD_SIM_READS_PER_ROUND;) {
        ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
        if (n == 0) {
            client_drop(c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_drop(c);
            return;
        }
        for (ssize_t i = 0; i < n && !c->closing; i++) {
            char ch = chunk[i];
            if (ch == '\n') {
                if (c->in_discard) {
                    c->in_discard = false;
                    send_error(b, c, now, "request line too long");
                } else {
                    handle_line(b, c, now, c->in, c->in_len);
                }
                c->in_len = 0;
            } else if (!c->in_discard) {
                if (c->in_len >= sizeof c->in) {
                    c->in_discard = true;
                    c->in_len = 0;
                } else {
                    c->in[c->in_len++] = ch;
                }
            }
        }
        if (c->closing)
            return;
        round++;
    }
}

static void client_close(board_sim_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void accept_clients(board_sim *b, uint32_t now)
{
    for (;;) {
        int fd = accept(b->listen_fd, NULL, NULL);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: try again on the next readiness */
        board_sim_client *c = NULL;
        for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++) {
            if (b->clients[i].fd < 0) {
                c = &b->clients[i];
                break;
            }
        }
        if (!c || !set_nonblocking(fd)) {
            event e;
            event_begin(&e, b, now, "error");
            json_write_key(&e.w, "message");
            json_write_string(&e.w, "too many board clients");
            int len = event_end(&e, b, false);
            if (len > 0 && (size_t)len < sizeof e.buf) {
                e.buf[len] = '\n';
                ssize_t ignored = send(fd, e.buf, (size_t)len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)ignored;
            }
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        memset(c, 0, sizeof *c);
        c->fd = fd;
        event e;
        event_begin(&e, b, now, "hello");
        json_write_key(&e.w, "version");
        json_write_string(&e.w, b->version ? b->version : "");
        json_write_key(&e.w, "mqtt");
        json_write_string(&e.w, b->mqtt_state);
        json_write_key(&e.w, "wifi");
        json_write_string(&e.w, b->wifi_down ? "down" : "up");
        send_to(b, c, &e, true);
        /* The current MQTT state as the event that set it (with its own
         * t_ms and "replay":true), so a client that waits for "connected"
         * does not depend on connecting before the broker answered. */
        if (b->mqtt_last_len)
            client_queue(b, c, b->mqtt_last, b->mqtt_last_len);
    }
}

/* ---- public ----------------------------------------------------------- */

bool board_sim_open(board_sim *b, const char *host_port, uint32_t now, const char *version,
                    const board_sim_callbacks *cb, char *err, size_t err_size)
{
    memset(b, 0, sizeof *b);
    b->listen_fd = -1;
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++)
        b->clients[i].fd = -1;
    b->start_ms = now;
    b->version = version;
    snprintf(b->mqtt_state, sizeof b->mqtt_state, "starting");
    if (cb)
        b->cb = *cb;
    if (!host_port)
        return true; /* a board without a socket */

    char host[64];
    const char *colon = strrchr(host_port, ':');
    if (!colon || colon == host_port || (size_t)(colon - host_port) >= sizeof host || !colon[1]) {
        snprintf(err, err_size, "--board: expected HOST:PORT, got \"%s\"", host_port);
        return false;
    }
    memcpy(host, host_port, (size_t)(colon - host_port));
    host[colon - host_port] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:PORT */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        snprintf(err, err_size, "--board: bad port \"%s\"", colon + 1);
        return false;
    }

    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_size, "--board: cannot resolve \"%s\": %s", host, gai_strerror(gai));
        return false;
    }
    int fd = -1, last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0 && set_nonblocking(fd))
            break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_size, "--board: cannot listen on %s: %s", host_port, strerror(last_errno));
        return false;
    }
    b->listen_fd = fd;

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char numeric[64] = "?", service[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, numeric, sizeof numeric, service, sizeof service,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    if (ss.ss_family == AF_INET6)
        snprintf(b->address, sizeof b->address, "[%s]:%s", numeric, service);
    else
        snprintf(b->address, sizeof b->address, "%s:%s", numeric, service);
    return true;
}

void board_sim_close(board_sim *b)
{
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++) {
        if (b->clients[i].fd >= 0) {
            b->clients[i].closing = false;
            client_flush(&b->clients[i]); /* best effort, non-blocking */
        }
        client_close(&b->clients[i]);
    }
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    b->listen_fd = -1;
}

bool board_sim_add_pin(board_sim *b, uint8_t pin, board_pin_kind kind, uint8_t level, bool on)
{
    if (b->pin_count >= BOARD_SIM_MAX_PINS || find_pin(b, pin))
        return false;
    board_pin *p = &b->pins[b->pin_count++];
    p->pin = pin;
    p->kind = kind;
    p->level = level ? 1 : 0;
    p->on = on;
    return true;
}

const board_pin *board_sim_pin(const board_sim *b, uint8_t pin)
{
    for (size_t i = 0; i < b->pin_count; i++)
        if (b->pins[i].pin == pin)
            return &b->pins[i];
    return NULL;
}

size_t board_sim_pollfds(const board_sim *b, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (b->listen_fd >= 0 && n < max) {
        fds[n].fd = b->listen_fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
    }
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS && n < max; i++) {
        const board_sim_client *c = &b->clients[i];
        if (c->fd < 0)
            continue;
        fds[n].fd = c->fd;
        fds[n].events = (short)(POLLIN | (c->out_len ? POLLOUT : 0));
        fds[n].revents = 0;
        n++;
    }
    return n;
}

void board_sim_service(board_sim *b, uint32_t now, const struct pollfd *fds, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (!fds[k].revents)
            continue;
        if (fds[k].fd == b->listen_fd) {
            accept_clients(b, now);
            continue;
        }
        for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++) {
            board_sim_client *c = &b->clients[i];
            if (c->fd != fds[k].fd || c->closing)
                continue;
            if (fds[k].revents & POLLOUT)
                client_flush(c);
            if (fds[k].revents & (POLLIN | POLLHUP | POLLERR))
                client_read(b, c, now);
            break;
        }
    }
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++)
        if (b->clients[i].fd >= 0 && b->clients[i].closing)
            client_close(&b->clients[i]);
}

void board_sim_output(board_sim *b, uint32_t now, uint8_t pin, uint8_t level, bool on)
{
    board_pin *p = find_pin(b, pin);
    if (p) {
        p->level = level ? 1 : 0;
        p->on = on;
    }
    event e;
    event_begin(&e, b, now, "output");
    json_write_key(&e.w, "pin");
    json_write_int(&e.w, pin);
    json_write_key(&e.w, "level");
    json_write_int(&e.w, level ? 1 : 0);
    json_write_key(&e.w, "on");
    json_write_bool(&e.w, on);
    broadcast(b, &e, false);
}

void board_sim_contact(board_sim *b, uint32_t now, uint8_t pin, bool on)
{
    board_pin *p = find_pin(b, pin);
    if (!p || p->on == on)
        return;
    p->on = on;
    event e;
    event_begin(&e, b, now, "contact");
    json_write_key(&e.w, "pin");
    json_write_int(&e.w, pin);
    json_write_key(&e.w, "on");
    json_write_bool(&e.w, on);
    broadcast(b, &e, false);
}

void board_sim_mqtt(board_sim *b, uint32_t now, const char *state, const char *reason)
{
    snprintf(b->mqtt_state, sizeof b->mqtt_state, "%s", state);
    event e;
    event_begin(&e, b, now, "mqtt");
    json_write_key(&e.w, "state");
    json_write_string(&e.w, state);
    if (reason) {
        json_write_key(&e.w, "reason");
        json_write_string(&e.w, reason);
    }
    broadcast(b, &e, false);
    /* Kept for new clients, marked as a replay. */
    size_t len = strlen(e.buf);
    b->mqtt_last_len = 0;
    if (len >= 2 && len + 16 < sizeof b->mqtt_last) {
        memcpy(b->mqtt_last, e.buf, len - 1);
        memcpy(b->mqtt_last + len - 1, ",\"replay\":true}", 15);
        b->mqtt_last_len = len - 1 + 15;
    }
}

void board_sim_published(board_sim *b, uint32_t now, const char *payload, size_t len)
{
    event e;
    event_begin(&e, b, now, "published");
    json_write_key(&e.w, "payload");
    json_write_string_n(&e.w, payload, len);
    broadcast(b, &e, false);
}

void board_sim_wifi(board_sim *b, uint32_t now, bool up)
{
    b->wifi_down = !up;
    event e;
    event_begin(&e, b, now, "wifi");
    json_write_key(&e.w, "state");
    json_write_string(&e.w, up ? "up" : "down");
    broadcast(b, &e, false);
}

void board_sim_log(board_sim *b, uint32_t now, const char *message)
{
    event e;
    event_begin(&e, b, now, "log");
    json_write_key(&e.w, "message");
    json_write_string(&e.w, message);
    broadcast(b, &e, false);
}

size_t board_sim_client_count(const board_sim *b)
{
    size_t n = 0;
    for (size_t i = 0; i < BOARD_SIM_MAX_CLIENTS; i++)
        if (b->clients[i].fd >= 0 && !b->clients[i].closing)
            n++;
    return n;
}
