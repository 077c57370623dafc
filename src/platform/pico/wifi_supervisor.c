#include "wifi_supervisor.h"

#include <stdio.h>

#include "radio.h"

static bool deadline_passed(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

void wifi_supervisor_init(wifi_supervisor *w, const char *ssid, const char *password)
{
    *w = (wifi_supervisor){ .ssid = ssid, .password = password, .retry_ms = WIFI_RETRY_FIRST_MS };
}

static void begin_join(wifi_supervisor *w, uint32_t now)
{
    w->attempts++;
    w->state = WIFI_JOINING;
    w->deadline = now + WIFI_JOIN_TIMEOUT_MS;
    w->next_check = now + WIFI_LINK_CHECK_MS;
    printf("wifi: joining \"%s\" (attempt %lu)\n", w->ssid, (unsigned long)w->attempts);
    w->not_started = !radio_join_start(w->ssid, w->password);
    if (w->not_started)
        w->deadline = now;   /* could not even start: counts as a failure at once */
}

static void schedule_retry(wifi_supervisor *w, uint32_t now, const char *why)
{
    radio_leave();
    w->state = WIFI_WAIT_RETRY;
    w->deadline = now + w->retry_ms;
    printf("wifi: %s; next try in %lu ms\n", why, (unsigned long)w->retry_ms);
    w->retry_ms = w->retry_ms >= WIFI_RETRY_MAX_MS / 2 ? WIFI_RETRY_MAX_MS : w->retry_ms * 2;
}

void wifi_supervisor_start(wifi_supervisor *w, uint32_t now)
{
    begin_join(w, now);
}

bool wifi_supervisor_step(wifi_supervisor *w, uint32_t now)
{
    w->changed = false;
    switch (w->state) {
    case WIFI_IDLE:
        break;
    case WIFI_JOINING:
        if (deadline_passed(now, w->next_check)) {
            w->next_check = now + WIFI_LINK_CHECK_MS;
            radio_link link = radio_link_status();
            if (link == RADIO_LINK_UP) {
                w->state = WIFI_UP;
                w->retry_ms = WIFI_RETRY_FIRST_MS;
                w->changed = true;
                int32_t rssi = 0;
                if (radio_rssi(&rssi))
                    printf("wifi: up, RSSI %ld dBm\n", (long)rssi);
                else
                    printf("wifi: up\n");
                break;
            }
            if (link == RADIO_LINK_FAILED) {
                w->failures++;
                schedule_retry(w, now, "join failed (wrong password or no access point)");
                break;
            }
        }
        if (deadline_passed(now, w->deadline)) {
            w->failures++;
            schedule_retry(w, now, w->not_started ? "cannot join: the radio is not running"
                                                  : "join timed out");
        }
        break;
    case WIFI_UP:
        if (deadline_passed(now, w->next_check)) {
            w->next_check = now + WIFI_LINK_CHECK_MS;
            if (radio_link_status() != RADIO_LINK_UP) {
                w->outages++;
                w->changed = true;
                schedule_retry(w, now, "link lost");
                /* First rejoin quickly: most outages are a router reboot. */
                w->deadline = now + WIFI_RETRY_FIRST_MS;
            }
        }
        break;
    case WIFI_WAIT_RETRY:
        if (deadline_passed(now, w->deadline))
            begin_join(w, now);
        break;
    }
    return w->changed;
}

bool wifi_supervisor_is_up(const wifi_supervisor *w)
{
    return w->state == WIFI_UP;
}

uint32_t wifi_supervisor_next_deadline(const wifi_supervisor *w, uint32_t now)
{
    switch (w->state) {
    case WIFI_JOINING:
        return deadline_passed(w->next_check, w->deadline) ? w->deadline : w->next_check;
    case WIFI_UP:
        return w->next_check;
    case WIFI_WAIT_RETRY:
        return w->deadline;
    case WIFI_IDLE:
    default:
        return now + 1000u;
    }
}

const char *wifi_state_name(wifi_state s)
{
    switch (s) {
    case WIFI_IDLE: return "idle";
    case WIFI_JOINING: return "joining";
    case WIFI_UP: return "up";
    case WIFI_WAIT_RETRY: return "waiting to retry";
    }
    return "?";
}
