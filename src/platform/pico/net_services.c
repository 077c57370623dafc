#include "net_services.h"

#include <stdio.h>
#include <string.h>

#include "lwip/apps/http_client.h"
#include "lwip/apps/sntp.h"
#include "ip_answer.h"
#include "lwip/pbuf.h"
#include "pico/time.h"

/* ---- clock ---- */

static bool sntp_started;
static bool clock_set;
static bool sync_asked;        /* clock_sntp_sync_now() waits for the next answer */
static bool sync_done;
static int64_t unix_at_boot;   /* wall-clock seconds at uptime 0 */

void mtc_sntp_set_time(unsigned long seconds_since_1970)
{
    int64_t uptime_s = (int64_t)(to_us_since_boot(get_absolute_time()) / 1000000u);
    unix_at_boot = (int64_t)seconds_since_1970 - uptime_s;
    if (!clock_set)
        printf("clock: set by SNTP (%lu)\n", seconds_since_1970);
    clock_set = true;
    if (sync_asked) {
        sync_asked = false;
        sync_done = true;
    }
}

bool clock_sntp_sync_now(void)
{
    if (!sntp_started)
        return false;
    /* Restarting the client sends a request at once instead of waiting out
     * the poll interval (an hour by default). */
    sntp_stop();
    sntp_init();
    sync_asked = true;
    sync_done = false;
    return true;
}

bool clock_sntp_take_synced(void)
{
    bool done = sync_done;
    sync_done = false;
    return done;
}

void clock_sntp_start(void)
{
    if (sntp_started)
        return;
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    sntp_setservername(0, "pool.ntp.org");
    sntp_setservername(1, "time.google.com");
    sntp_init();
    sntp_started = true;
}

bool clock_unix_time(int64_t *secs)
{
    if (!clock_set)
        return false;
    *secs = unix_at_boot + (int64_t)(to_us_since_boot(get_absolute_time()) / 1000000u);
    return true;
}

/* ---- public IP ---- */

bool public_ip_init(public_ip *p, const char *url, public_ip_fn on_answer, void *ctx)
{
    *p = (public_ip){ .on_answer = on_answer, .ctx = ctx };
    return config_parse_http_url(url, &p->url);
}

static void deliver(public_ip *p, uint32_t now, const char *ip, const char *why)
{
    if (p->answered)
        return;
    p->answered = true;
    p->on_answer(p->ctx, now, ip, why);
}

static err_t on_body(void *arg, struct altcp_pcb *conn, struct pbuf *p, err_t err)
{
    (void)conn;
    (void)err;
    public_ip *pi = arg;
    if (p == NULL)
        return ERR_OK;
    for (struct pbuf *q = p; q != NULL; q = q->next) {
        uint32_t room = (uint32_t)sizeof pi->body - 1 - pi->body_len;
        if (q->len > room)
            pi->body_too_long = true;   /* refused at the end */
        uint32_t n = q->len < room ? q->len : room;
        memcpy(pi->body + pi->body_len, q->payload, n);
        pi->body_len += n;
    }
    altcp_recved(conn, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void on_result(void *arg, httpc_result_t result, u32_t rx_len, u32_t status, err_t err)
{
    (void)rx_len;
    (void)err;
    public_ip *pi = arg;
    uint32_t now = to_ms_since_boot(get_absolute_time());
    pi->busy = false;
    char why[64];
    char ip[IP_ANSWER_TEXT_SIZE];
    const char *reason = NULL;
    if (result != HTTPC_RESULT_OK) {
        snprintf(why, sizeof why, "the provider could not be reached (lwIP result %d)", (int)result);
        reason = why;
    } else if (status != 200) {
        snprintf(why, sizeof why, "provider answered HTTP %lu", (unsigned long)status);
        reason = why;
    } else if (pi->body_too_long) {
        reason = "the answer is longer than 63 bytes";
    } else {
        reason = ip_answer_parse(pi->body, pi->body_len, ip, sizeof ip);
    }
    if (reason != NULL)
        printf("getip: failed: %s\n", reason);
    deliver(pi, now, reason == NULL ? ip : NULL, reason);
}

bool public_ip_request(public_ip *p, uint32_t now)
{
    if (p->busy)
        return false;
    static httpc_connection_t settings;   /* read by lwIP during the request */
    memset(&settings, 0, sizeof settings);
    settings.use_proxy = 0;
    settings.result_fn = on_result;
    p->body_len = 0;
    p->body_too_long = false;
    p->answered = false;
    p->started_ms = now;
    httpc_state_t *conn = NULL;
    err_t err = httpc_get_file_dns(p->url.host, p->url.port, p->url.path, &settings, on_body, p, &conn);
    if (err != ERR_OK)
        return false;
    p->busy = true;
    return true;
}

void public_ip_step(public_ip *p, uint32_t now)
{
    /* lwIP's client gives up by itself after about 15 s; we answer sooner
     * and ignore its late result. */
    if (p->busy && !p->answered && (int32_t)(now - (p->started_ms + PUBLIC_IP_TIMEOUT_MS)) >= 0)
        deliver(p, now, NULL, "no answer within 10 s");
}
