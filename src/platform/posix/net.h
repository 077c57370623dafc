/*
 * Linux TCP and DNS for the MQTT link: nothing here blocks the event loop.
 *
 * DNS: getaddrinfo() blocks, so a name is resolved on a short-lived thread
 * (one per lookup) that reports through a pipe the loop polls. Numeric
 * addresses are parsed at once without a thread. A lookup cannot be
 * interrupted; a caller that stops waiting leaves it to finish and joins it
 * later (mtc_resolver_free() waits for it: at most the resolver's own timeout,
 * only at teardown).
 *
 * TCP: non-blocking sockets, connect() completed through poll() and SO_ERROR,
 * TCP_NODELAY set, sends with MSG_NOSIGNAL; IPv4 and IPv6.
 */
#ifndef MTC_POSIX_NET_H
#define MTC_POSIX_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MTC_NET_MAX_ADDRS 4     /* addresses tried per connect, in resolver order */
#define MTC_NET_HOST_MAX 253    /* longest DNS name */
#define MTC_NET_ERROR_SIZE 160

typedef struct {
    struct sockaddr_storage addr[MTC_NET_MAX_ADDRS];
    socklen_t addr_len[MTC_NET_MAX_ADDRS];
    size_t count;
} mtc_addr_list;

typedef enum {
    MTC_DNS_IDLE = 0,
    MTC_DNS_RUNNING,            /* poll mtc_resolver_fd() for POLLIN */
    MTC_DNS_DONE,               /* result (or error) ready */
} mtc_dns_state;

typedef struct {
    mtc_dns_state state;
    bool thread_live;           /* started and not yet joined */
    pthread_t thread;
    int pipe_rd;
    int pipe_wr;
    char host[MTC_NET_HOST_MAX + 1];
    char port[8];
    /* Written by the lookup thread before it signals, read after the join. */
    int gai_error;
    mtc_addr_list result;
} mtc_resolver;

void mtc_resolver_init(mtc_resolver *r);
/* Starts resolving host:port. A numeric address is DONE at once. Returns
 * false (err filled) if no lookup could be started. */
bool mtc_resolver_start(mtc_resolver *r, const char *host, uint16_t port, char *err,
                        size_t err_size);
/* The fd to poll for POLLIN while RUNNING, else -1. */
int mtc_resolver_fd(const mtc_resolver *r);
/* Moves RUNNING to DONE once the thread has signalled (never waits). */
mtc_dns_state mtc_resolver_poll(mtc_resolver *r);
/* After DONE: the addresses, or false with the reason in err. Returns the
 * resolver to IDLE. */
bool mtc_resolver_take(mtc_resolver *r, mtc_addr_list *out, char *err, size_t err_size);
/* Joins a running lookup (teardown only) and closes the pipe. */
void mtc_resolver_free(mtc_resolver *r);

/* Starts a non-blocking connect. Returns the socket (>= 0) with *in_progress
 * telling whether to wait for POLLOUT, or -1 with errno set. */
int mtc_tcp_connect_start(const struct sockaddr *addr, socklen_t len, bool *in_progress);
/* After POLLOUT/POLLERR on a connecting socket: 0 if connected, else the errno. */
int mtc_tcp_connect_result(int fd);
/* One send() of up to len bytes: bytes sent, 0 if it would block, -1 on error. */
ssize_t mtc_tcp_send(int fd, const void *buf, size_t len);
/* Bytes received, 0 for EOF, -1 with errno (EAGAIN when nothing is there). */
ssize_t mtc_tcp_recv(int fd, void *buf, size_t len);
void mtc_tcp_close(int fd);

/* "192.0.2.1:1883" or "[2001:db8::1]:1883". */
void mtc_addr_format(const struct sockaddr *addr, char *out, size_t size);

#endif
