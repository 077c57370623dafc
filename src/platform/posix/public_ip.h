/*
 * Public IP lookup for {"CMD":"getip"}: one HTTP/1.1 GET of a plain-text
 * provider (http:// only, e.g. http://api.ipify.org), driven by the caller's
 * poll loop, with an overall timeout. The body must be an IPv4 or IPv6
 * address.
 *
 * Name resolution runs getaddrinfo() on a helper thread that reports through
 * a pipe, so the loop never waits on DNS. A lookup that times out while the
 * resolver is still busy leaves that thread running; it is joined when the
 * next lookup starts or at public_ip_deinit() — the one place that may wait
 * (for as long as the system resolver takes to give up). IP literals skip
 * the resolver entirely.
 */
#ifndef PUBLIC_IP_H
#define PUBLIC_IP_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBLIC_IP_TIMEOUT_MS 5000
#define PUBLIC_IP_HOST_MAX 128
#define PUBLIC_IP_PATH_MAX 256
#define PUBLIC_IP_REQUEST_MAX 512
#define PUBLIC_IP_RESPONSE_MAX 4096     /* headers + body; more is an error */
#define PUBLIC_IP_TEXT_MAX 64           /* an address as text (IPv6 fits) */

typedef enum {
    PUBLIC_IP_IDLE = 0,
    PUBLIC_IP_RESOLVING,
    PUBLIC_IP_CONNECTING,
    PUBLIC_IP_SENDING,
    PUBLIC_IP_RECEIVING,
} public_ip_state;

/* ok: text is the address; otherwise text says what failed. */
typedef void (*public_ip_done_fn)(void *ctx, uint32_t now, bool ok, const char *text);

struct public_ip_resolve;   /* shared with the resolver thread */

typedef struct {
    public_ip_state state;
    public_ip_done_fn done;
    void *ctx;
    uint32_t deadline;
    char host[PUBLIC_IP_HOST_MAX];
    char port[8];
    char path[PUBLIC_IP_PATH_MAX];
    int fd;                                 /* TCP socket */
    struct public_ip_resolve *resolve;      /* in flight or abandoned resolver job */
    char request[PUBLIC_IP_REQUEST_MAX];
    size_t request_len, request_sent;
    char response[PUBLIC_IP_RESPONSE_MAX + 1];
    size_t response_len;
    uint32_t lookups, failures;
} public_ip;

void public_ip_init(public_ip *p, public_ip_done_fn done, void *ctx);
/* Starts a lookup; false (and done is not called) if one is already running
 * or the URL is not http://host[:port][/path] — err says why. */
bool public_ip_start(public_ip *p, const char *url, uint32_t now, char *err, size_t err_size);
bool public_ip_busy(const public_ip *p);

size_t public_ip_pollfds(const public_ip *p, struct pollfd *fds, size_t max);
/* Handles readiness and the timeout; calls done once when the lookup ends. */
void public_ip_service(public_ip *p, uint32_t now, const struct pollfd *fds, size_t n);
/* Time of the timeout while a lookup runs; false when idle. */
bool public_ip_deadline(const public_ip *p, uint32_t *deadline);

/* Whether public_ip_start() would accept url; false with the reason in err. */
bool public_ip_url_check(const char *url, char *err, size_t err_size);

/* Stops a running lookup without calling done; frees everything. */
void public_ip_deinit(public_ip *p);

/* Exposed for tests: parses an HTTP/1.x response held in full in buf and
 * copies the address in its body to ip. false with a reason in err. */
bool public_ip_parse_response(const char *buf, size_t len, char *ip, size_t ip_size,
                              char *err, size_t err_size);

#endif
