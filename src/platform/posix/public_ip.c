/*
 * Public IP lookup over HTTP/1.1, poll-driven. See public_ip.h.
 */
#include "public_ip.h"

#include "ip_answer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct public_ip_resolve {
    pthread_t thread;
    bool threaded;              /* a thread runs (or ran) getaddrinfo */
    int pipe_rd, pipe_wr;       /* the thread writes one byte when done */
    char host[PUBLIC_IP_HOST_MAX];
    char port[8];
    int gai;
    struct addrinfo *res;
    struct addrinfo *cur;       /* address being tried */
};

static bool time_reached(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void *resolve_thread(void *arg)
{
    struct public_ip_resolve *r = arg;
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->gai = getaddrinfo(r->host, r->port, &hints, &r->res);
    char one = 1;
    ssize_t ignored = write(r->pipe_wr, &one, 1);
    (void)ignored;
    return NULL;
}

/* Joins (possibly waiting) and frees a resolver job. */
static void resolve_free(struct public_ip_resolve *r)
{
    if (!r)
        return;
    if (r->threaded)
        pthread_join(r->thread, NULL);
    if (r->res)
        freeaddrinfo(r->res);
    if (r->pipe_rd >= 0)
        close(r->pipe_rd);
    if (r->pipe_wr >= 0)
        close(r->pipe_wr);
    free(r);
}

/* True when a threaded job has finished (its byte is in the pipe). */
static bool resolve_finished(const struct public_ip_resolve *r)
{
    if (!r->threaded)
        return true;
    struct pollfd pfd = {.fd = r->pipe_rd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

static void close_socket(public_ip *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

static void finish(public_ip *p, uint32_t now, bool ok, const char *text)
{
    close_socket(p);
    /* A finished resolver is freed now; one still running (timeout) is kept
     * and joined later, never waited for here. */
    if (p->resolve && resolve_finished(p->resolve)) {
        resolve_free(p->resolve);
        p->resolve = NULL;
    }
    p->state = PUBLIC_IP_IDLE;
    if (!ok)
        p->failures++;
    if (p->done)
        p->done(p->ctx, now, ok, text);
}

__attribute__((format(printf, 3, 4)))
static void lookup_failed(public_ip *p, uint32_t now, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    finish(p, now, false, msg);
}

/* Opens a connection to the next address; false when none is left. */
static bool connect_next(public_ip *p, int *last_errno)
{
    struct public_ip_resolve *r = p->resolve;
    for (; r->cur; r->cur = r->cur->ai_next) {
        int fd = socket(r->cur->ai_family, r->cur->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        r->cur->ai_protocol);
        if (fd < 0) {
            *last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, r->cur->ai_addr, r->cur->ai_addrlen) == 0 || errno == EINPROGRESS) {
            p->fd = fd;
            p->state = PUBLIC_IP_CONNECTING;
            return true;
        }
        *last_errno = errno;
        close(fd);
    }
    return false;
}

static void start_connect(public_ip *p, uint32_t now)
{
    int e = 0;
    if (!connect_next(p, &e))
        lookup_failed(p, now, "getip: cannot connect: %s", strerror(e));
}

void public_ip_init(public_ip *p, public_ip_done_fn done, void *ctx)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    p->done = done;
    p->ctx = ctx;
}

bool public_ip_busy(const public_ip *p)
{
    return p->state != PUBLIC_IP_IDLE;
}

static bool parse_url(public_ip *p, const char *url, char *err, size_t err_size)
{
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, err_size, "public IP URL must start with http://");
        return false;
    }
    const char *host = url + sizeof scheme - 1;
    const char *path = strchr(host, '/');
    size_t authority_len = path ? (size_t)(path - host) : strlen(host);
    if (!path)
        path = "/";
    if (strlen(path) >= sizeof p->path) {
        snprintf(err, err_size, "public IP URL path too long");
        return false;
    }
    const char *authority_end = host + authority_len;
    const char *host_end = authority_end;
    const char *port = NULL;
    if (host[0] == '[') { /* [v6]:port */
        const char *close_br = memchr(host, ']', authority_len);
        if (!close_br) {
            snprintf(err, err_size, "public IP URL: unterminated [address]");
            return false;
        }
        if (close_br + 1 < host_end && close_br[1] == ':')
            port = close_br + 2;
        else if (close_br + 1 != host_end) {
            snprintf(err, err_size, "public IP URL: bad host");
            return false;
        }
        host++;
        host_end = close_br;
    } else {
        const char *colon = memchr(host, ':', authority_len);
        if (colon) {
            port = colon + 1;
            host_end = colon;
        }
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof p->host) {
        snprintf(err, err_size, host_len == 0 ? "public IP URL: missing host"
                                              : "public IP URL: host longer than %d bytes",
                 PUBLIC_IP_HOST_MAX - 1);
        return false;
    }
    for (size_t i = 0; i < host_len; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == ':' || ch == '_')) {
            snprintf(err, err_size, "public IP URL: bad character in host");
            return false;
        }
    }
    memcpy(p->host, host, host_len);
    p->host[host_len] = '\0';
    if (port) {
        size_t port_len = (size_t)(authority_end - port);
        char *end;
        char buf[8] = {0};
        if (port_len == 0 || port_len >= sizeof buf) {
            snprintf(err, err_size, "public IP URL: bad port");
            return false;
        }
        memcpy(buf, port, port_len);
        long v = strtol(buf, &end, 10);
        if (*end || v < 1 || v > 65535) {
            snprintf(err, err_size, "public IP URL: bad port");
            return false;
        }
        snprintf(p->port, sizeof p->port, "%ld", v);
    } else {
        snprintf(p->port, sizeof p->port, "80");
    }
    for (const char *c = path; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            snprintf(err, err_size, "public IP URL: bad character in path");
            return false;
        }
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    return true;
}

bool public_ip_start(public_ip *p, const char *url, uint32_t now, char *err, size_t err_size)
{
    if (p->state != PUBLIC_IP_IDLE) {
        snprintf(err, err_size, "a public IP lookup is already running");
        return false;
    }
    if (p->resolve) { /* left over from a lookup that timed out while resolving */
        if (!resolve_finished(p->resolve)) {
            snprintf(err, err_size, "the previous DNS lookup has not finished yet");
            return false;
        }
        resolve_free(p->resolve);
        p->resolve = NULL;
    }
    if (!parse_url(p, url, err, err_size))
        return false;

    bool host_is_v6 = strchr(p->host, ':') != NULL;
    int n = snprintf(p->request, sizeof p->request,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: mqtt-tiny-sim\r\n"
                     "Accept: text/plain\r\nConnection: close\r\n\r\n",
                     p->path, host_is_v6 ? "[" : "", p->host, host_is_v6 ? "]" : "",
                     strcmp(p->port, "80") ? ":" : "", strcmp(p->port, "80") ? p->port : "");
    if (n < 0 || (size_t)n >= sizeof p->request) {
        snprintf(err, err_size, "public IP request too long");
        return false;
    }
    p->request_len = (size_t)n;
    p->request_sent = 0;
    p->response_len = 0;

    struct public_ip_resolve *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    r->pipe_rd = r->pipe_wr = -1;
    snprintf(r->host, sizeof r->host, "%s", p->host);
    snprintf(r->port, sizeof r->port, "%s", p->port);
    p->resolve = r;
    p->lookups++;
    p->deadline = now + PUBLIC_IP_TIMEOUT_MS;

    /* An address literal needs no resolver: a numeric getaddrinfo never waits. */
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(r->host, r->port, &hints, &r->res) == 0) {
        r->cur = r->res;
        p->state = PUBLIC_IP_CONNECTING;
        int e = 0;
        if (!connect_next(p, &e)) {
            p->state = PUBLIC_IP_IDLE;
            resolve_free(p->resolve);
            p->resolve = NULL;
            p->failures++;
            snprintf(err, err_size, "cannot connect: %s", strerror(e));
            return false;
        }
        return true;
    }
    r->res = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        resolve_free(r);
        p->resolve = NULL;
        return false;
    }
    r->pipe_rd = fds[0];
    r->pipe_wr = fds[1];
    int rc = pthread_create(&r->thread, NULL, resolve_thread, r);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the resolver: %s", strerror(rc));
        resolve_free(r);
        p->resolve = NULL;
        return false;
    }
    r->threaded = true;
    p->state = PUBLIC_IP_RESOLVING;
    return true;
}

size_t public_ip_pollfds(const public_ip *p, struct pollfd *fds, size_t max)
{
    if (max == 0)
        return 0;
    switch (p->state) {
    case PUBLIC_IP_RESOLVING:
        fds[0].fd = p->resolve->pipe_rd;
        fds[0].events = POLLIN;
        break;
    case PUBLIC_IP_CONNECTING:
    case PUBLIC_IP_SENDING:
        fds[0].fd = p->fd;
        fds[0].events = POLLOUT;
        break;
    case PUBLIC_IP_RECEIVING:
        fds[0].fd = p->fd;
        fds[0].events = POLLIN;
        break;
    default:
        return 0;
    }
    fds[0].revents = 0;
    return 1;
}

bool public_ip_deadline(const public_ip *p, uint32_t *deadline)
{
    if (p->state == PUBLIC_IP_IDLE)
        return false;
    *deadline = p->deadline;
    return true;
}

static void on_resolved(public_ip *p, uint32_t now)
{
    struct public_ip_resolve *r = p->resolve;
    pthread_join(r->thread, NULL); /* it has written its byte: returns at once */
    r->threaded = false;
    if (r->gai != 0) {
        lookup_failed(p, now, "getip: cannot resolve the provider: %s", gai_strerror(r->gai));
        return;
    }
    r->cur = r->res;
    start_connect(p, now);
}

static void on_connect_ready(public_ip *p, uint32_t now)
{
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        so_error = errno;
    if (so_error != 0) {
        close_socket(p);
        p->resolve->cur = p->resolve->cur->ai_next;
        int e = so_error;
        if (!connect_next(p, &e))
            lookup_failed(p, now, "getip: cannot connect: %s", strerror(e));
        return;
    }
    p->state = PUBLIC_IP_SENDING;
}

static void on_send_ready(public_ip *p, uint32_t now)
{
    while (p->request_sent < p->request_len) {
        ssize_t n = send(p->fd, p->request + p->request_sent, p->request_len - p->request_sent,
                         MSG_NOSIGNAL);
        if (n > 0) {
            p->request_sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            lookup_failed(p, now, "getip: send failed: %s", strerror(errno));
            return;
        }
    }
    p->state = PUBLIC_IP_RECEIVING;
}

/* Content-Length of a complete header block, or -1 if absent. */
/* True if the header line at line (inside [.., end)) starts with name. */
static bool header_is(const char *line, const char *end, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(end - line) >= n && strncasecmp(line, name, n) == 0;
}

/* Content-Length among the first len bytes, never reading past them;
 * -1 if absent, empty or not a number. */
static long content_length(const char *headers, size_t len)
{
    const char *end = headers + len;
    const char *line = memchr(headers, '\n', len);
    while (line && line < end) {
        line++;
        if (header_is(line, end, "Content-Length:")) {
            const char *v = line + 15;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            long n = -1;
            for (; v < end && isdigit((unsigned char)*v) && n < 100000000; v++)
                n = (n < 0 ? 0 : n * 10) + (*v - '0');
            return n;
        }
        line = memchr(line, '\n', (size_t)(end - line));
    }
    return -1;
}

static void complete(public_ip *p, uint32_t now)
{
    char ip[PUBLIC_IP_TEXT_MAX], err[128];
    if (public_ip_parse_response(p->response, p->response_len, ip, sizeof ip, err, sizeof err))
        finish(p, now, true, ip);
    else
        lookup_failed(p, now, "getip: %s", err);
}

static void on_receive_ready(public_ip *p, uint32_t now)
{
    for (;;) {
        size_t room = PUBLIC_IP_RESPONSE_MAX - p->response_len;
        if (room == 0) {
            lookup_failed(p, now, "getip: %s", "response larger than 4096 bytes");
            return;
        }
        ssize_t n = recv(p->fd, p->response + p->response_len, room, 0);
        if (n == 0) {
            complete(p, now);
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            lookup_failed(p, now, "getip: receive failed: %s", strerror(errno));
            return;
        }
        p->response_len += (size_t)n;
    }
    /* Done early when the whole body announced by Content-Length is here. */
    p->response[p->response_len] = '\0';
    const char *end = strstr(p->response, "\r\n\r\n");
    if (end) {
        size_t header_len = (size_t)(end - p->response) + 4;
        long cl = content_length(p->response, header_len);
        if (cl >= 0 && p->response_len - header_len >= (size_t)cl)
            complete(p, now);
    }
}

void public_ip_service(public_ip *p, uint32_t now, const struct pollfd *fds, size_t n)
{
    if (p->state == PUBLIC_IP_IDLE)
        return;
    int fd = p->state == PUBLIC_IP_RESOLVING ? p->resolve->pipe_rd : p->fd;
    short revents = 0;
    for (size_t i = 0; i < n; i++)
        if (fds[i].fd == fd)
            revents = fds[i].revents;
    if (revents) {
        switch (p->state) {
        case PUBLIC_IP_RESOLVING: on_resolved(p, now); break;
        case PUBLIC_IP_CONNECTING:
            on_connect_ready(p, now);
            if (p->state == PUBLIC_IP_SENDING)
                on_send_ready(p, now);
            break;
        case PUBLIC_IP_SENDING: on_send_ready(p, now); break;
        case PUBLIC_IP_RECEIVING: on_receive_ready(p, now); break;
        default: break;
        }
    }
    if (p->state != PUBLIC_IP_IDLE && time_reached(now, p->deadline)) {
        static const char *const where[] = {"", "resolving the provider", "connecting",
                                            "sending the request", "waiting for the answer"};
        lookup_failed(p, now, "getip: no answer within 5 s (%s)", where[p->state]);
    }
}

bool public_ip_url_check(const char *url, char *err, size_t err_size)
{
    public_ip scratch;
    memset(&scratch, 0, sizeof scratch);
    return parse_url(&scratch, url, err, err_size);
}

void public_ip_deinit(public_ip *p)
{
    close_socket(p);
    resolve_free(p->resolve);
    p->resolve = NULL;
    p->state = PUBLIC_IP_IDLE;
}

/* ---- response parsing ----------------------------------------------------- */

static bool parse_chunked(const char *body, size_t len, const char **data, size_t *data_len)
{
    /* The address fits in the first chunk: hex size, CRLF, bytes. */
    size_t i = 0, size = 0;
    bool any = false;
    while (i < len && isxdigit((unsigned char)body[i])) {
        char ch = (char)tolower((unsigned char)body[i]);
        size = size * 16 + (size_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        if (size > PUBLIC_IP_RESPONSE_MAX)
            return false;
        any = true;
        i++;
    }
    while (i < len && body[i] != '\n') /* chunk extensions */
        i++;
    if (!any || i >= len)
        return false;
    i++;
    if (len - i < size)
        return false;
    *data = body + i;
    *data_len = size;
    return true;
}

bool public_ip_parse_response(const char *buf, size_t len, char *ip, size_t ip_size,
                              char *err, size_t err_size)
{
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
        snprintf(err, err_size, "not an HTTP response");
        return false;
    }
    int status = 0;
    for (size_t i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)buf[i])) {
            snprintf(err, err_size, "bad HTTP status line");
            return false;
        }
        status = status * 10 + (buf[i] - '0');
    }
    if (status != 200) {
        snprintf(err, err_size, "provider answered HTTP %d", status);
        return false;
    }
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i;
            break;
        }
    }
    if (!end) {
        snprintf(err, err_size, "incomplete HTTP headers");
        return false;
    }
    size_t header_len = (size_t)(end - buf) + 4;
    const char *body = buf + header_len;
    size_t body_len = len - header_len;

    bool chunked = false;
    for (const char *line = buf; line && line < end; ) {
        if (header_is(line, end, "Transfer-Encoding:")) {
            const char *v = line + 18;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            chunked = (size_t)(end - v) >= 7 && strncasecmp(v, "chunked", 7) == 0;
        }
        line = memchr(line, '\n', (size_t)(end - line));
        if (line)
            line++;
    }
    if (chunked && !parse_chunked(body, body_len, &body, &body_len)) {
        snprintf(err, err_size, "bad chunked body");
        return false;
    }
    long cl = content_length(buf, header_len);
    if (!chunked && cl >= 0 && (size_t)cl < body_len)
        body_len = (size_t)cl;

    char text[IP_ANSWER_TEXT_SIZE];
    const char *why = ip_answer_parse(body, body_len, text, sizeof text);
    if (why != NULL) {
        snprintf(err, err_size, "%s", why);
        return false;
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, text, addr) != 1 && inet_pton(AF_INET6, text, addr) != 1) {
        snprintf(err, err_size, "the answer's address %s is not a valid IP address", text);
        return false;
    }
    size_t n = strlen(text);
    if (n >= ip_size) {
        snprintf(err, err_size, "address too long");
        return false;
    }
    memcpy(ip, text, n + 1);
    return true;
}
