/*
 * WiFi supervisor: joins at boot with retries (after a power cut the router
 * is often still booting), notices a lost link, and rejoins forever with a
 * capped backoff. Never gives up and never needs a manual reset: a relay
 * that is on stays on while the WiFi is away.
 */
#ifndef MTC_WIFI_SUPERVISOR_H
#define MTC_WIFI_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#define WIFI_JOIN_TIMEOUT_MS 20000u      /* association + DHCP */
#define WIFI_RETRY_FIRST_MS 2000u
#define WIFI_RETRY_MAX_MS 60000u
#define WIFI_LINK_CHECK_MS 500u          /* how often the link state is read */

typedef enum {
    WIFI_IDLE = 0,
    WIFI_JOINING,
    WIFI_UP,
    WIFI_WAIT_RETRY,
} wifi_state;

typedef struct {
    const char *ssid;
    const char *password;
    wifi_state state;
    uint32_t deadline;          /* join timeout or next retry */
    uint32_t next_check;
    uint32_t retry_ms;          /* current backoff */
    uint32_t attempts;          /* join attempts since boot */
    uint32_t failures;          /* failed or timed-out joins since boot */
    uint32_t outages;           /* links lost after being up */
    bool changed;               /* up/down flipped in the last step */
    bool not_started;           /* the radio refused to start the current join */
} wifi_supervisor;

void wifi_supervisor_init(wifi_supervisor *w, const char *ssid, const char *password);
/* Starts the first join at once. */
void wifi_supervisor_start(wifi_supervisor *w, uint32_t now);
/* Advances the state machine; true when the link went up or down. */
bool wifi_supervisor_step(wifi_supervisor *w, uint32_t now);
bool wifi_supervisor_is_up(const wifi_supervisor *w);
/* When step() next needs to run. */
uint32_t wifi_supervisor_next_deadline(const wifi_supervisor *w, uint32_t now);
const char *wifi_state_name(wifi_state s);

#endif
