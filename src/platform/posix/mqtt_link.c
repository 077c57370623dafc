/*
 * MQTT client + TCP/TLS transport for Linux, driven by the caller's poll loop.
 * See mqtt_link.h.
 */
#include "mqtt_link.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* Bounds on the work done in one service call, so one busy link cannot
 * starve the rest of the caller's loop. */
#define LINK_MAX_STEPS 16
#define LINK_MAX_READS 64

/* ---- URL ------------------------------------------------------------------ */

static bool parse_url(mqtt_link *l, const char *url, char *err, size_t err_size)
{
    const char *p;
    if (url == NULL) {
        snprintf(err, err_size, "no broker URL");
        return false;
    }
    if (strncmp(url, "mqtt://", 7) == 0) {
        l->use_tls = false;
        l->port = 1883;
        p = url + 7;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        l->use_tls = true;
        l->port = 8883;
        p = url + 8;
    } else {
        snprintf(err, err_size, "broker URL must start with mqtt:// or mqtts://: %s", url);
        return false;
    }

    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL) {
            snprintf(err, err_size, "broker URL: missing ']' after IPv6 address");
            return false;
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        p = host_end;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len > MTC_NET_HOST_MAX) {
        snprintf(err, err_size, "broker URL: host missing or too long");
        return false;
    }
    memcpy(l->host, host, host_len);
    l->host[host_len] = '\0';

    if (*p == ':') {
        p++;
        unsigned long port = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            port = port * 10 + (unsigned long)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || port == 0 || port > 65535) {
            snprintf(err, err_size, "broker URL: bad port");
            return false;
        }
        l->port = (uint16_t)port;
    }
    if (*p == '/')
        p++;
    if (*p != '\0') {
        snprintf(err, err_size, "broker URL: unexpected text after host/port: %s", p);
        return false;
    }
    return true;
}

/* ---- transport ------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static void set_detail(mqtt_link *l, const char *fmt,
                                                             ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->detail, sizeof l->detail, fmt, ap);
    va_end(ap);
}

static int tls_send(void *ctx, const unsigned char *buf, size_t len)
{
    mqtt_link *l = ctx;
    ssize_t n = mtc_tcp_send(l->fd, buf, len);
    if (n > 0) {
        l->stats.bytes_out += (uint64_t)n;
        return (int)n;
    }
    if (n == 0)
        return MTC_TLS_IO_WANT_WRITE;
    snprintf(l->io_error, sizeof l->io_error, "send: %s", strerror(errno));
    return MTC_TLS_IO_FAILED;
}

static int tls_recv(void *ctx, unsigned char *buf, size_t len)
{
    mqtt_link *l = ctx;
    ssize_t n = mtc_tcp_recv(l->fd, buf, len);
    if (n > 0) {
        l->stats.bytes_in += (uint64_t)n;
        return (int)n;
    }
    if (n == 0)
        return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MTC_TLS_IO_WANT_READ;
    snprintf(l->io_error, sizeof l->io_error, "recv: %s", strerror(errno));
    return MTC_TLS_IO_FAILED;
}

/* The TLS failure text, with the socket error behind it when there is one. */
static void set_tls_detail(mqtt_link *l)
{
    if (l->io_error[0] != '\0')
        set_detail(l, "%s (%s)", mtc_tls_error_text(&l->tls), l->io_error);
    else
        set_detail(l, "%s", mtc_tls_error_text(&l->tls));
}

/* Drops the connection. close_notify only on an orderly close. */
static void close_transport(mqtt_link *l, bool orderly)
{
    if (l->tls.open) {
        if (orderly)
            mtc_tls_close_notify(&l->tls);
        mtc_tls_session_free(&l->tls);
    }
    if (l->fd >= 0) {
        mtc_tcp_close(l->fd);
        l->fd = -1;
    }
    l->phase = MQTT_LINK_CLOSED;
    l->want_write = false;
    l->read_pending = false;
}

static void fail(mqtt_link *l, uint32_t now, mqtt_status reason)
{
    close_transport(l, false);
    mqtt_client_transport_down(&l->client, now, reason);
}

static void transport_ready(mqtt_link *l, uint32_t now)
{
    l->phase = MQTT_LINK_UP;
    l->want_write = false;
    mqtt_client_transport_up(&l->client, now);
}

static void handshake_step(mqtt_link *l, uint32_t now)
{
    switch (mtc_tls_handshake(&l->tls)) {
    case MTC_TLS_OK:
        transport_ready(l, now);
        break;
    case MTC_TLS_WANT_READ:
        l->want_write = false;
        break;
    case MTC_TLS_WANT_WRITE:
        l->want_write = true;
        break;
    case MTC_TLS_CLOSED:
    case MTC_TLS_FAILED:
        set_tls_detail(l);
        fail(l, now, MQTT_ERR_TLS);
        break;
    }
}

static void tcp_connected(mqtt_link *l, uint32_t now)
{
    if (!l->use_tls) {
        transport_ready(l, now);
        return;
    }
    if (!mtc_tls_session_open(&l->tls, &l->tls_config, l->tls_hostname, tls_send, tls_recv, l)) {
        snprintf(l->detail, sizeof l->detail, "%s", mtc_tls_error_text(&l->tls));
        fail(l, now, MQTT_ERR_TLS);
        return;
    }
    l->phase = MQTT_LINK_HANDSHAKE;
    handshake_step(l, now);
}

/* Tries the addresses from addr_index on; reports failure when none is left. */
static void connect_next(mqtt_link *l, uint32_t now, int last_errno)
{
    for (; l->addr_index < l->addrs.count; l->addr_index++) {
        const struct sockaddr *sa = (const struct sockaddr *)&l->addrs.addr[l->addr_index];
        bool in_progress;
        int fd = mtc_tcp_connect_start(sa, l->addrs.addr_len[l->addr_index], &in_progress);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        l->fd = fd;
        if (in_progress) {
            l->phase = MQTT_LINK_CONNECTING;
            return;
        }
        tcp_connected(l, now);
        return;
    }
    char where[80] = "";
    if (l->addrs.count > 0)
        mtc_addr_format((const struct sockaddr *)&l->addrs.addr[l->addrs.count - 1], where,
                        sizeof where);
    set_detail(l, "connect to %s: %s", where, strerror(last_errno ? last_errno : ECONNREFUSED));
    fail(l, now, MQTT_ERR_TRANSPORT);
}

static void resolved(mqtt_link *l, uint32_t now)
{
    char err[MTC_NET_ERROR_SIZE];
    if (!mtc_resolver_take(&l->resolver, &l->addrs, err, sizeof err)) {
        set_detail(l, "%s", err);
        fail(l, now, MQTT_ERR_DNS);
        return;
    }
    l->addr_index = 0;
    connect_next(l, now, 0);
}

static void open_transport(mqtt_link *l, uint32_t now)
{
    l->detail[0] = '\0';
    l->io_error[0] = '\0';
    l->stats.attempts++;
    if (!l->network_up) {
        set_detail(l, "network down");
        mqtt_client_transport_down(&l->client, now, MQTT_ERR_TRANSPORT);
        return;
    }
    l->phase = MQTT_LINK_RESOLVING;
    /* A lookup still running for an abandoned attempt is for the same name:
     * wait for it. One that finished while nobody waited may be old: redo it. */
    if (mtc_resolver_poll(&l->resolver) == MTC_DNS_DONE) {
        mtc_addr_list stale;
        char ignored[MTC_NET_ERROR_SIZE];
        (void)mtc_resolver_take(&l->resolver, &stale, ignored, sizeof ignored);
    }
    if (l->resolver.state == MTC_DNS_IDLE) {
        char err[MTC_NET_ERROR_SIZE];
        if (!mtc_resolver_start(&l->resolver, l->host, l->port, err, sizeof err)) {
            set_detail(l, "%s", err);
            fail(l, now, MQTT_ERR_DNS);
            return;
        }
    }
    if (mtc_resolver_poll(&l->resolver) == MTC_DNS_DONE)
        resolved(l, now);
}

/* ---- data ----------------------------------------------------------------- */

static void read_input(mqtt_link *l, uint32_t now)
{
    uint8_t buf[MQTT_LINK_READ_CHUNK];
    l->read_pending = false;
    for (int i = 0; i < LINK_MAX_READS && l->phase == MQTT_LINK_UP; i++) {
        size_t got = 0;
        if (l->use_tls) {
            mtc_tls_result r = mtc_tls_read(&l->tls, buf, sizeof buf, &got);
            if (r == MTC_TLS_WANT_READ)
                return;
            if (r == MTC_TLS_WANT_WRITE) {
                l->want_write = true;
                return;
            }
            if (r == MTC_TLS_CLOSED) {
                set_tls_detail(l);
                fail(l, now, MQTT_ERR_CLOSED);
                return;
            }
            if (r == MTC_TLS_FAILED) {
                set_tls_detail(l);
                fail(l, now, MQTT_ERR_TLS);
                return;
            }
        } else {
            ssize_t n = mtc_tcp_recv(l->fd, buf, sizeof buf);
            if (n == 0) {
                set_detail(l, "broker closed the connection");
                fail(l, now, MQTT_ERR_CLOSED);
                return;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return;
                set_detail(l, "recv: %s", strerror(errno));
                fail(l, now, MQTT_ERR_TRANSPORT);
                return;
            }
            l->stats.bytes_in += (uint64_t)n;
            got = (size_t)n;
        }
        (void)mqtt_client_receive(&l->client, now, buf, got);
    }
    /* Stopped early: TLS may hold decrypted or buffered records poll cannot see. */
    l->read_pending = l->phase == MQTT_LINK_UP;
}

/* Sends what the client has queued: plain TCP writes all of it with one
 * send() (whole packets); TLS writes records. Leftovers wait for POLLOUT. */
static void flush_output(mqtt_link *l, uint32_t now)
{
    while (l->phase == MQTT_LINK_UP) {
        const uint8_t *data;
        size_t len = mqtt_client_output(&l->client, &data);
        if (len == 0) {
            l->want_write = false;
            return;
        }
        size_t sent = 0;
        if (l->use_tls) {
            mtc_tls_result r = mtc_tls_write(&l->tls, data, len, &sent);
            if (r == MTC_TLS_WANT_WRITE || r == MTC_TLS_WANT_READ) {
                l->want_write = r == MTC_TLS_WANT_WRITE;
                return;
            }
            if (r != MTC_TLS_OK) {
                set_tls_detail(l);
                fail(l, now, MQTT_ERR_TLS);
                return;
            }
        } else {
            ssize_t n = mtc_tcp_send(l->fd, data, len);
            if (n < 0) {
                set_detail(l, "send: %s", strerror(errno));
                fail(l, now, MQTT_ERR_TRANSPORT);
                return;
            }
            l->stats.bytes_out += (uint64_t)n;
            sent = (size_t)n;
        }
        if (sent > 0)
            mqtt_client_output_done(&l->client, now, sent);
        if (sent < len) {
            l->want_write = true;     /* partial: the rest when writable */
            if (!l->use_tls || sent == 0)
                return;
        }
    }
}

/* Lets the client act until it has nothing more to do right now. */
static void run_client(mqtt_link *l, uint32_t now)
{
    for (int i = 0; i < LINK_MAX_STEPS; i++) {
        mqtt_action a = mqtt_client_step(&l->client, now);
        if (a == MQTT_ACTION_OPEN) {
            if (l->phase != MQTT_LINK_CLOSED)
                close_transport(l, false);
            open_transport(l, now);
            continue;
        }
        if (a == MQTT_ACTION_CLOSE) {
            flush_output(l, now);             /* e.g. a DISCONNECT */
            close_transport(l, true);
            mqtt_client_transport_down(&l->client, now, MQTT_ERR_CLOSED);
            continue;
        }
        flush_output(l, now);
        return;
    }
}

/* ---- public --------------------------------------------------------------- */

bool mqtt_link_init(mqtt_link *l, const mqtt_link_config *lc, const mqtt_client_config *cc,
                    mqtt_event_fn on_event, void *ctx, char *err, size_t err_size)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->network_up = true;
    mtc_resolver_init(&l->resolver);
    if (err_size > 0)
        err[0] = '\0';
    if (lc == NULL || cc == NULL) {
        snprintf(err, err_size, "missing configuration");
        return false;
    }
    if (!parse_url(l, lc->broker_url, err, err_size))
        return false;

    size_t rx_size = lc->rx_size == 0 ? MQTT_LINK_RX_SIZE : lc->rx_size;
    if (rx_size < MQTT_LINK_MIN_RX_SIZE || rx_size > MQTT_LINK_RX_SIZE) {
        snprintf(err, err_size, "rx buffer size must be %d..%d bytes", MQTT_LINK_MIN_RX_SIZE,
                 MQTT_LINK_RX_SIZE);
        return false;
    }
    mqtt_buffers bufs = {
        .rx = l->rx, .rx_size = rx_size,
        .tx = l->tx, .tx_size = sizeof l->tx,
        .inflight = l->inflight, .inflight_size = sizeof l->inflight,
    };
    uint32_t seed = mtc_now_ms() ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)l;
    mqtt_status st = mqtt_client_init(&l->client, cc, &bufs, on_event, ctx, seed);
    if (st != MQTT_OK) {
        snprintf(err, err_size, "MQTT client configuration: %s", mqtt_status_name(st));
        return false;
    }

    if (l->use_tls) {
        const char *name = lc->tls_hostname != NULL ? lc->tls_hostname : l->host;
        size_t name_len = strlen(name);
        if (name_len == 0 || name_len > MTC_NET_HOST_MAX) {
            snprintf(err, err_size, "TLS host name missing or too long");
            return false;
        }
        memcpy(l->tls_hostname, name, name_len + 1);
        mtc_tls_options opt = {
            .ca_file = (lc->ca_file != NULL && lc->ca_file[0] != '\0') ? lc->ca_file
                                                                        : MQTT_LINK_DEFAULT_CA_FILE,
            .max_fragment_len = lc->tls_max_fragment_len,
            .client_cert_file = lc->client_cert_file,
            .client_key_file = lc->client_key_file,
        };
        if (!mtc_tls_config_init(&l->tls_config, &opt, err, err_size))
            return false;
    }
    return true;
}

void mqtt_link_start(mqtt_link *l, uint32_t now)
{
    mqtt_client_start(&l->client, now);
}

size_t mqtt_link_pollfds(const mqtt_link *l, struct pollfd *fds, size_t max)
{
    size_t n = 0;
    if (max == 0)
        return 0;
    switch (l->phase) {
    case MQTT_LINK_RESOLVING:
        if (mtc_resolver_fd(&l->resolver) >= 0)
            fds[n++] = (struct pollfd){.fd = mtc_resolver_fd(&l->resolver), .events = POLLIN};
        break;
    case MQTT_LINK_CONNECTING:
        fds[n++] = (struct pollfd){.fd = l->fd, .events = POLLOUT};
        break;
    case MQTT_LINK_HANDSHAKE:
        fds[n++] = (struct pollfd){.fd = l->fd, .events = l->want_write ? POLLOUT : POLLIN};
        break;
    case MQTT_LINK_UP: {
        const uint8_t *data;
        short ev = POLLIN;
        if (l->want_write || mqtt_client_output(&l->client, &data) > 0)
            ev |= POLLOUT;
        fds[n++] = (struct pollfd){.fd = l->fd, .events = ev};
        break;
    }
    case MQTT_LINK_CLOSED:
        break;
    }
    return n;
}

static short events_for(const struct pollfd *fds, size_t n, int fd)
{
    short ev = 0;
    if (fd < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (fds[i].fd == fd)
            ev |= fds[i].revents;
    return ev;
}

void mqtt_link_service(mqtt_link *l, uint32_t now, const struct pollfd *fds, size_t n)
{
    switch (l->phase) {
    case MQTT_LINK_RESOLVING:
        if (mtc_resolver_poll(&l->resolver) == MTC_DNS_DONE)
            resolved(l, now);
        break;
    case MQTT_LINK_CONNECTING:
        if (events_for(fds, n, l->fd) != 0) {
            int e = mtc_tcp_connect_result(l->fd);
            if (e == 0) {
                tcp_connected(l, now);
            } else {
                mtc_tcp_close(l->fd);
                l->fd = -1;
                l->addr_index++;
                connect_next(l, now, e);
            }
        }
        break;
    case MQTT_LINK_HANDSHAKE:
        if (events_for(fds, n, l->fd) != 0)
            handshake_step(l, now);
        break;
    case MQTT_LINK_UP: {
        short ev = events_for(fds, n, l->fd);
        if ((ev & (POLLIN | POLLHUP | POLLERR)) || l->read_pending)
            read_input(l, now);
        break;
    }
    case MQTT_LINK_CLOSED:
        break;
    }
    run_client(l, now);
}

uint32_t mqtt_link_next_deadline(const mqtt_link *l, uint32_t now)
{
    if (l->read_pending)
        return 0;
    /* The client answers with a point in time; the caller wants a delay. */
    int32_t ms = (int32_t)(mqtt_client_next_deadline(&l->client, now) - now);
    return ms < 0 ? 0 : (uint32_t)ms;
}

mqtt_client *mqtt_link_client(mqtt_link *l)
{
    return &l->client;
}

void mqtt_link_set_network(mqtt_link *l, uint32_t now, bool up)
{
    if (up == l->network_up)
        return;
    l->network_up = up;
    if (!up && l->phase != MQTT_LINK_CLOSED) {
        set_detail(l, "network down");
        fail(l, now, MQTT_ERR_TRANSPORT);
    }
}

void mqtt_link_stats_get(const mqtt_link *l, mqtt_link_stats *out)
{
    *out = l->stats;
    mtc_tls_heap_usage h = mtc_tls_heap_get();
    out->tls_heap_in_use = h.in_use;
    out->tls_heap_peak = h.peak;
    out->tls_heap_counted = h.counted;
}

const char *mqtt_link_last_error(const mqtt_link *l)
{
    return l->detail;
}

mqtt_link_phase mqtt_link_get_phase(const mqtt_link *l)
{
    return l->phase;
}

void mqtt_link_deinit(mqtt_link *l)
{
    close_transport(l, l->phase == MQTT_LINK_UP);
    mtc_resolver_free(&l->resolver);
    mtc_tls_config_free(&l->tls_config);
}
