/*
 * Small network services around the controller: the wall clock through
 * lwIP's SNTP app, and the public IP address through lwIP's HTTP client
 * (asynchronous, with a deadline). Main loop only.
 */
#ifndef MTC_NET_SERVICES_H
#define MTC_NET_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define PUBLIC_IP_TIMEOUT_MS 10000u
#define PUBLIC_IP_MAX_BODY 64

/* Starts SNTP (pool.ntp.org); call once the WiFi is up. Repeat calls are no-ops. */
void clock_sntp_start(void);
/* Seconds since 1970 UTC; false until the first SNTP answer. */
bool clock_unix_time(int64_t *secs);
/* {"CMD":"ntp"}: asks the time servers again now (lwIP's SNTP restarted);
 * false before clock_sntp_start(). The controller rate-limits the calls. */
bool clock_sntp_sync_now(void);
/* True once after the clock was set following clock_sntp_sync_now(). */
bool clock_sntp_take_synced(void);

/* ip: the address; NULL on failure, with why saying which part failed. */
typedef void (*public_ip_fn)(void *ctx, uint32_t now, const char *ip, const char *why);

typedef struct {
    config_http_url url;
    bool busy;                  /* a request is out (lwIP's HTTP client owns it) */
    bool answered;              /* the current request's answer was delivered */
    uint32_t started_ms;
    char body[PUBLIC_IP_MAX_BODY];
    uint32_t body_len;
    bool body_too_long;
    public_ip_fn on_answer;
    void *ctx;
} public_ip;

/* url: http://host[:port][/path]. false if the URL is unusable. */
bool public_ip_init(public_ip *p, const char *url, public_ip_fn on_answer, void *ctx);
/* Starts a request; false if one is still out or it cannot start. */
bool public_ip_request(public_ip *p, uint32_t now);
/* Delivers a timeout when the deadline has passed. */
void public_ip_step(public_ip *p, uint32_t now);

#endif
