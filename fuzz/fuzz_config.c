/*
 * libFuzzer target for the configuration parser.
 *
 * Rejected input leaves the struct untouched and yields at least one error
 * with terminated strings; accepted input yields a configuration that keeps
 * every promise of config.h (limits, Pico W pins, no pin twice, valid URLs,
 * terminated strings). The input is also tried as a broker and an HTTP URL,
 * and with a small caller-provided token array.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static void check_config(const config *c)
{
    bool used[CONFIG_MAX_PIN + 1] = { false };
    CHECK(c->relay_count <= CONFIG_MAX_RELAYS);
    CHECK(c->momentary_count <= CONFIG_MAX_MOMENTARY);
    CHECK(c->contact_count <= CONFIG_MAX_CONTACTS);
    for (size_t i = 0; i < c->relay_count; i++) {
        CHECK(config_pin_available(c->relays[i].pin) && !used[c->relays[i].pin]);
        used[c->relays[i].pin] = true;
        CHECK(c->relays[i].otp_count <= CONFIG_MAX_OTP_SECRETS);
        for (size_t k = 0; k < c->relays[i].otp_count; k++) {
            CHECK(c->relays[i].otp_first + k < c->otp_total);
            CHECK(strlen(c->otp_secrets[c->relays[i].otp_first + k]) >= CONFIG_OTP_SECRET_MIN);
        }
    }
    for (size_t i = 0; i < c->momentary_count; i++) {
        CHECK(config_pin_available(c->momentary[i].pin) && !used[c->momentary[i].pin]);
        used[c->momentary[i].pin] = true;
        CHECK(c->momentary[i].pulse_ms >= 10 && c->momentary[i].pulse_ms <= 60000);
        CHECK(c->momentary[i].otp_count <= CONFIG_MAX_OTP_SECRETS);
    }
    for (size_t i = 0; i < c->contact_count; i++) {
        CHECK(config_pin_available(c->contacts[i].pin) && !used[c->contacts[i].pin]);
        used[c->contacts[i].pin] = true;
        CHECK(c->contacts[i].pull <= CONFIG_PULL_DOWN);
    }
    CHECK(terminated(c->mqtt.broker_url, sizeof c->mqtt.broker_url));
    CHECK(terminated(c->mqtt.client_id, sizeof c->mqtt.client_id) && c->mqtt.client_id[0] != '\0');
    CHECK(terminated(c->mqtt.topic, sizeof c->mqtt.topic) && c->mqtt.topic[0] != '\0');
    CHECK(strpbrk(c->mqtt.topic, "+#") == NULL);
    CHECK(terminated(c->wifi.ssid, sizeof c->wifi.ssid));
    CHECK(config_parse_broker_url(c->mqtt.broker_url, NULL));
    CHECK(c->public_ip_url[0] == '\0' || config_parse_http_url(c->public_ip_url, NULL));
    CHECK(c->publish_interval_s == -1 || c->publish_interval_s >= 1);
    CHECK(c->mqtt.keepalive_s >= 5);
    CHECK(c->mqtt.session <= CONFIG_SESSION_CLEAN);
}

static void check_errors(const config_errors *e)
{
    size_t n = e->count < CONFIG_MAX_ERRORS ? e->count : CONFIG_MAX_ERRORS;
    char line[256];
    CHECK(e->count >= 1);
    for (size_t i = 0; i < n; i++) {
        CHECK(terminated(e->errors[i].path, sizeof e->errors[i].path));
        CHECK(terminated(e->errors[i].message, sizeof e->errors[i].message));
        CHECK(e->errors[i].message[0] != '\0');
        CHECK(config_error_format(&e->errors[i], line, sizeof line) < sizeof line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static config c, before;
    static config_errors errors;
    static char url[CONFIG_URL_SIZE * 2];
    const char *text = (const char *)data;

    bool ok;

    memset(&c, 0xA5, sizeof c);
    memcpy(&before, &c, sizeof c);
    ok = config_parse(text, size, &c, &errors);
    if (ok) {
        check_config(&c);
    } else {
        check_errors(&errors);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
    }

    /* a small token array: what it accepts, the full parser accepted too,
     * with the same result */
    {
        json_token tokens[48];
        static config small;
        if (config_parse_tokens(text, size, &small, &errors, tokens, 48)) {
            check_config(&small);
            CHECK(ok && memcmp(&small, &c, sizeof c) == 0);
        } else {
            check_errors(&errors);
        }
    }

    if (size < sizeof url) {
        config_broker b;
        config_http_url u;
        memcpy(url, data, size);
        url[size] = '\0';
        if (config_parse_broker_url(url, &b)) {
            CHECK(b.port != 0 && b.host[0] != '\0' && terminated(b.host, sizeof b.host));
        }
        if (config_parse_http_url(url, &u)) {
            CHECK(u.port != 0 && u.host[0] != '\0' && u.path[0] == '/');
        }
    }
    return 0;
}
