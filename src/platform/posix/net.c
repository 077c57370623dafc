#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

static void copy_addrinfo(const struct addrinfo *ai, mtc_addr_list *out)
{
    out->count = 0;
    for (; ai != NULL && out->count < MTC_NET_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out->addr[0])
            continue;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memcpy(&out->addr[out->count], ai->ai_addr, ai->ai_addrlen);
        out->addr_len[out->count] = ai->ai_addrlen;
        out->count++;
    }
}

static void fill_hints(struct addrinfo *hints, int flags)
{
    memset(hints, 0, sizeof *hints);
    hints->ai_family = AF_UNSPEC;
    hints->ai_socktype = SOCK_STREAM;
    hints->ai_protocol = IPPROTO_TCP;
    hints->ai_flags = flags;
}

static void *lookup_thread(void *arg)
{
    mtc_resolver *r = arg;
    struct addrinfo hints, *res = NULL;
    fill_hints(&hints, AI_ADDRCONFIG);
    r->gai_error = getaddrinfo(r->host, r->port, &hints, &res);
    if (r->gai_error == 0) {
        copy_addrinfo(res, &r->result);
        freeaddrinfo(res);
        if (r->result.count == 0)
            r->gai_error = EAI_NONAME;
    }
    const char one = 1;
    ssize_t w;
    do {
        w = write(r->pipe_wr, &one, 1);
    } while (w < 0 && errno == EINTR);
    return NULL;
}

void mtc_resolver_init(mtc_resolver *r)
{
    memset(r, 0, sizeof *r);
    r->pipe_rd = -1;
    r->pipe_wr = -1;
}

bool mtc_resolver_start(mtc_resolver *r, const char *host, uint16_t port, char *err,
                        size_t err_size)
{
    if (r->state != MTC_DNS_IDLE) {
        snprintf(err, err_size, "a lookup is already running");
        return false;
    }
    size_t host_len = strlen(host);
    if (host_len == 0 || host_len > MTC_NET_HOST_MAX) {
        snprintf(err, err_size, "bad host name length %zu", host_len);
        return false;
    }
    memcpy(r->host, host, host_len + 1);
    snprintf(r->port, sizeof r->port, "%u", (unsigned)port);
    memset(&r->result, 0, sizeof r->result);
    r->gai_error = 0;

    /* A literal address needs no lookup (and no thread). */
    struct addrinfo hints, *res = NULL;
    fill_hints(&hints, AI_NUMERICHOST | AI_NUMERICSERV);
    if (getaddrinfo(r->host, r->port, &hints, &res) == 0) {
        copy_addrinfo(res, &r->result);
        freeaddrinfo(res);
        r->gai_error = r->result.count > 0 ? 0 : EAI_NONAME;
        r->state = MTC_DNS_DONE;
        return true;
    }

    if (r->pipe_rd < 0) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
            snprintf(err, err_size, "pipe: %s", strerror(errno));
            return false;
        }
        r->pipe_rd = p[0];
        r->pipe_wr = p[1];
    }
    int rc = pthread_create(&r->thread, NULL, lookup_thread, r);
    if (rc != 0) {
        snprintf(err, err_size, "resolver thread: %s", strerror(rc));
        return false;
    }
    r->thread_live = true;
    r->state = MTC_DNS_RUNNING;
    return true;
}

int mtc_resolver_fd(const mtc_resolver *r)
{
    return r->state == MTC_DNS_RUNNING ? r->pipe_rd : -1;
}

mtc_dns_state mtc_resolver_poll(mtc_resolver *r)
{
    if (r->state != MTC_DNS_RUNNING)
        return r->state;
    char byte;
    ssize_t n = read(r->pipe_rd, &byte, 1);
    if (n != 1)
        return r->state;       /* not finished yet */
    pthread_join(r->thread, NULL);
    r->thread_live = false;
    r->state = MTC_DNS_DONE;
    return r->state;
}

bool mtc_resolver_take(mtc_resolver *r, mtc_addr_list *out, char *err, size_t err_size)
{
    if (r->state != MTC_DNS_DONE) {
        snprintf(err, err_size, "no lookup result");
        return false;
    }
    r->state = MTC_DNS_IDLE;
    if (r->gai_error != 0) {
        const char *why = r->gai_error == EAI_SYSTEM ? strerror(errno) : gai_strerror(r->gai_error);
        snprintf(err, err_size, "cannot resolve %s: %s", r->host, why);
        return false;
    }
    *out = r->result;
    return true;
}

void mtc_resolver_free(mtc_resolver *r)
{
    if (r->thread_live) {
        pthread_join(r->thread, NULL);
        r->thread_live = false;
    }
    if (r->pipe_rd >= 0)
        close(r->pipe_rd);
    if (r->pipe_wr >= 0)
        close(r->pipe_wr);
    r->pipe_rd = r->pipe_wr = -1;
    r->state = MTC_DNS_IDLE;
}

int mtc_tcp_connect_start(const struct sockaddr *addr, socklen_t len, bool *in_progress)
{
    *in_progress = false;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    /* Small MQTT packets must leave at once (Nagle + delayed ACK cost ~40 ms). */
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (connect(fd, addr, len) == 0)
        return fd;
    if (errno == EINPROGRESS) {
        *in_progress = true;
        return fd;
    }
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int mtc_tcp_connect_result(int fd)
{
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
        return errno;
    return so_error;
}

ssize_t mtc_tcp_send(int fd, const void *buf, size_t len)
{
    ssize_t n;
    do {
        n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    return n;
}

ssize_t mtc_tcp_recv(int fd, void *buf, size_t len)
{
    ssize_t n;
    do {
        n = recv(fd, buf, len, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n;
}

void mtc_tcp_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

void mtc_addr_format(const struct sockaddr *addr, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else {
        snprintf(out, size, "(family %d)", addr->sa_family);
    }
}
