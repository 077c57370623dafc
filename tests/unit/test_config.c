/* Unit tests of the configuration parser (src/core/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define MQTT_OK "\"mqtt\":{\"broker_url\":\"mqtt://127.0.0.1\",\"client_id\":\"c\",\"topic\":\"t\"}"

static config cfg;
static config_errors errs;

static bool parse(const char *s)
{
    return config_parse(s, strlen(s), &cfg, &errs);
}

/* Parses s, expects failure with an error at path whose message contains msg. */
static void expect_error(const char *s, const char *path, const char *msg)
{
    if (parse(s)) {
        fail_msg("accepted: %s", s);
    }
    size_t n = errs.count < CONFIG_MAX_ERRORS ? errs.count : CONFIG_MAX_ERRORS;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(errs.errors[i].path, path) == 0 && strstr(errs.errors[i].message, msg) != NULL) {
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        print_message("  got: %s: %s\n", errs.errors[i].path, errs.errors[i].message);
    }
    fail_msg("no error '%s: ...%s...' for %s", path, msg, s);
}

static void expect_ok(const char *s)
{
    if (!parse(s)) {
        fail_msg("rejected: %s (%s: %s)", s, errs.errors[0].path, errs.errors[0].message);
    }
    assert_int_equal(errs.count, 0);
}

static void test_defaults(void **state)
{
    (void)state;
    config c;
    memset(&c, 0x5A, sizeof c);
    config_defaults(&c);
    assert_string_equal(c.wifi.country, "XX");
    assert_string_equal(c.wifi.ssid, "");
    assert_int_equal(c.mqtt.keepalive_s, 60);
    assert_int_equal(c.mqtt.session, CONFIG_SESSION_CLEAN_FIRST);
    assert_string_equal(c.mqtt.broker_url, "");
    assert_int_equal(c.relay_count, 0);
    assert_int_equal(c.momentary_count, 0);
    assert_int_equal(c.contact_count, 0);
    assert_true(c.relays[0].active_low);
    assert_int_equal(c.relays[0].otp_count, 0);
    assert_true(c.momentary[7].active_low);
    assert_int_equal(c.momentary[7].pulse_ms, 2000);
    assert_false(c.momentary[7].allow_backlog);
    assert_int_equal(c.contacts[15].pull, CONFIG_PULL_UP);
    assert_true(c.contacts[15].normally_open);
    assert_int_equal(c.contacts[15].debounce_ms, 50);
    assert_int_equal(c.guards.cooldown_ms, 2000);
    assert_int_equal(c.guards.toggle_window_ms, 60000);
    assert_int_equal(c.guards.toggle_max, 5);
    assert_int_equal(c.guards.violation_max, 3);
    assert_int_equal(c.guards.publish_window_ms, 10000);
    assert_int_equal(c.guards.publish_max, 20);
    assert_int_equal(c.guards.backlog_window_ms, 3000);
    assert_int_equal(c.publish_interval_s, 7200);
    assert_string_equal(c.public_ip_url, "http://api.ipify.org");
}

static void test_minimal(void **state)
{
    (void)state;
    config d;
    memset(&cfg, 0x33, sizeof cfg);
    expect_ok("{" MQTT_OK "}");
    assert_string_equal(cfg.mqtt.broker_url, "mqtt://127.0.0.1");
    assert_string_equal(cfg.mqtt.client_id, "c");
    assert_string_equal(cfg.mqtt.topic, "t");
    /* everything else is the default */
    config_defaults(&d);
    memcpy(d.mqtt.broker_url, "mqtt://127.0.0.1", 17);
    memcpy(d.mqtt.client_id, "c", 2);
    memcpy(d.mqtt.topic, "t", 2);
    memcpy(d.mqtt.status_topic, "t/status", 9); /* the default: <topic>/status */
    assert_memory_equal(&d, &cfg, sizeof d);
}

static void test_power_on_interlock_remote_reset(void **state)
{
    (void)state;
    expect_ok("{" MQTT_OK ",\"relays\":[{\"pin\":16}]}");
    assert_false(cfg.relays[0].power_on);
    assert_int_equal(cfg.relays[0].interlock, 0);
    assert_int_equal(cfg.interlock_gap_ms, 100);
    assert_false(cfg.guards.remote_reset);
    expect_ok("{" MQTT_OK ",\"interlock_gap_ms\":0,\"guards\":{\"remote_reset\":true},"
              "\"relays\":[{\"pin\":16,\"power_on\":\"on\",\"interlock\":2},"
              "{\"pin\":17,\"power_on\":\"off\",\"interlock\":2}]}");
    assert_true(cfg.relays[0].power_on);
    assert_false(cfg.relays[1].power_on);
    assert_int_equal(cfg.relays[0].interlock, 2);
    assert_int_equal(cfg.interlock_gap_ms, 0);
    assert_true(cfg.guards.remote_reset);
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"power_on\":true}]}",
                 "relays[0].power_on", "must be \"off\" or \"on\"");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"interlock\":5}]}",
                 "relays[0].interlock", "from 1 to 4");
    expect_error("{" MQTT_OK ",\"interlock_gap_ms\":10001}", "interlock_gap_ms",
                 "from 0 to 10000");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"interlock\":1,\"power_on\":\"on\"},"
                 "{\"power_on\":\"on\",\"pin\":17,\"interlock\":1}]}",
                 "relays[1]", "power_on \"on\" with relays[0] in interlock group 1: at most one "
                 "relay of a group may start on");
    expect_ok("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"interlock\":1,\"power_on\":\"on\"},"
              "{\"power_on\":\"on\",\"pin\":17,\"interlock\":2}]}");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"power_on\":\"on\"}]}",
                 "momentary[0].power_on", "is not a known key");
}

static void test_notify(void **state)
{
    (void)state;
    expect_ok("{" MQTT_OK "}");
    assert_int_equal(cfg.notify_pins, 0);
    expect_ok("{" MQTT_OK ",\"notify\":[16,\"GP0\"],\"relays\":[{\"pin\":16}],\"contacts\":[{\"pin\":0}]}");
    assert_int_equal(cfg.notify_pins, (1u << 16) | 1u);
    expect_error("{" MQTT_OK ",\"notify\":[17],\"relays\":[{\"pin\":16}]}", "notify",
                 "GP17 is not a relay, momentary relay or contact of this configuration");
    expect_error("{" MQTT_OK ",\"notify\":[16,\"GP16\"],\"relays\":[{\"pin\":16}]}", "notify[1]",
                 "is listed twice");
    expect_error("{" MQTT_OK ",\"notify\":[24]}", "notify[0]", "wired to the WiFi chip");
    expect_error("{" MQTT_OK ",\"notify\":16}", "notify", "must be an array of pins");
}

static void test_home_assistant(void **state)
{
    (void)state;
    /* defaults: discovery off, prefix homeassistant, status <topic>/status */
    expect_ok("{" MQTT_OK "}");
    assert_false(cfg.homeassistant.discovery);
    assert_string_equal(cfg.homeassistant.discovery_prefix, "homeassistant");
    assert_string_equal(cfg.mqtt.status_topic, "t/status");
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\","
              "\"status_topic\":\"devices/c/availability\"},"
              "\"homeassistant\":{\"discovery\":true,\"discovery_prefix\":\"ha/test-1\"},"
              "\"contacts\":[{\"pin\":0,\"device_class\":\"garage_door\"},{\"pin\":1}]}");
    assert_true(cfg.homeassistant.discovery);
    assert_string_equal(cfg.homeassistant.discovery_prefix, "ha/test-1");
    assert_string_equal(cfg.mqtt.status_topic, "devices/c/availability");
    assert_string_equal(config_device_class_name(cfg.contacts[0].device_class), "garage_door");
    assert_string_equal(config_device_class_name(cfg.contacts[1].device_class), "");
    assert_string_equal(config_device_class_name(200), "");
    /* "" turns availability off */
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\","
              "\"status_topic\":\"\"}}");
    assert_string_equal(cfg.mqtt.status_topic, "");
    /* a 128-byte topic still gets its default status topic */
    char text[400];
    char topic[129];
    memset(topic, 'a', 128);
    topic[128] = '\0';
    snprintf(text, sizeof text, "{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"%s\"}}",
             topic);
    expect_ok(text);
    assert_int_equal(strlen(cfg.mqtt.status_topic), 135);
    assert_string_equal(cfg.mqtt.status_topic + 128, "/status");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\","
                 "\"status_topic\":\"a/#\"}}", "mqtt.status_topic", "wildcards");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discovery\":1}}", "homeassistant.discovery",
                 "must be true or false");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discovery_prefix\":\"\"}}",
                 "homeassistant.discovery_prefix", "must not be empty");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discovery_prefix\":\"ha/\"}}",
                 "homeassistant.discovery_prefix", "must not start or end with '/'");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discovery_prefix\":\"h+a\"}}",
                 "homeassistant.discovery_prefix", "only letters");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discovery_prefix\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
                 "homeassistant.discovery_prefix", "too long (at most 32 bytes)");
    expect_error("{" MQTT_OK ",\"homeassistant\":{\"discover\":true}}", "homeassistant.discover",
                 "is not a known key");
    /* With discovery on, no character JSON escapes in the strings every
     * config carries (they would not fit 768 bytes); without it they pass. */
#define HA_ON ",\"homeassistant\":{\"discovery\":true}"
#define MQTT_WITH(id, topic, status)                                                        \
    "\"mqtt\":{\"broker_url\":\"mqtt://127.0.0.1\",\"client_id\":\"" id "\",\"topic\":\"" topic \
    "\",\"status_topic\":\"" status "\"}"
    static const char esc_msg[] = "must not hold '\"', '\\' or control characters with "
                                  "homeassistant.discovery (configs too long)";
    expect_error("{" MQTT_WITH("c", "a\\\"b", "s") HA_ON "}", "mqtt.topic", esc_msg);
    expect_error("{\"homeassistant\":{\"discovery\":true}," MQTT_WITH("c", "t", "a\\\\b") "}",
                 "mqtt.status_topic", esc_msg);
    expect_error("{" MQTT_WITH("c\\u0001", "t", "s") HA_ON "}", "mqtt.client_id", esc_msg);
    expect_error("{" MQTT_WITH("c", "t\\n", "s") HA_ON "}", "mqtt.topic", esc_msg);
    expect_ok("{" MQTT_WITH("c\\u0001", "a\\\"b", "a\\\\b") "}");
    expect_ok("{" MQTT_WITH("c\\u0001", "a\\\"b", "a\\\\b")
              ",\"homeassistant\":{\"discovery\":false}}");
    expect_ok("{" MQTT_WITH("c~\u00e9\x7f", "t~\u00e9", "s") HA_ON "}"); /* UTF-8 and ~ are fine */
#undef MQTT_WITH
#undef HA_ON
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":0,\"device_class\":\"Door\"}]}",
                 "contacts[0].device_class", "must be a device class");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":0,\"device_class\":3}]}",
                 "contacts[0].device_class", "must be a device class");
}

static void test_full(void **state)
{
    (void)state;
    expect_ok("{\"wifi\":{\"ssid\":\"Home\",\"password\":\"12345678\",\"country\":\"DE\"},"
              "\"mqtt\":{\"broker_url\":\"mqtts://broker.example.com:8884\",\"username\":\"u\",\"password\":\"p\","
              "\"ca_file\":\"/etc/ca.pem\",\"client_id\":\"pico-1\",\"topic\":\"home/garage\",\"keepalive_s\":30,"
              "\"session\":\"persistent\"},"
              "\"relays\":[{\"pin\":16,\"active_low\":false,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"gezdgnbvgy3tqojqgezdgnbvgy3tqojq\"]},"
              "{\"pin\":\"GP17\"}],"
              "\"momentary\":[{\"pin\":18,\"active_low\":false,\"pulse_ms\":500,\"allow_backlog\":true,"
              "\"otp\":[\"JBSWY3DPEHPK3PXP\"]}],"
              "\"contacts\":[{\"pin\":0,\"pull\":\"down\",\"normally_open\":false,\"debounce_ms\":0},"
              "{\"pin\":1,\"pull\":\"none\"},{\"pin\":\"GP2\",\"pull\":\"up\"},{\"pin\":28}],"
              "\"guards\":{\"cooldown_ms\":0,\"toggle_window_ms\":1000,\"toggle_max\":1,\"violation_max\":10000,"
              "\"publish_window_ms\":86400000,\"publish_max\":100000,\"backlog_window_ms\":600000},"
              "\"publish_interval_s\":-1,\"public_ip_url\":\"\"}");
    assert_string_equal(cfg.wifi.ssid, "Home");
    assert_string_equal(cfg.wifi.password, "12345678");
    assert_string_equal(cfg.wifi.country, "DE");
    assert_string_equal(cfg.mqtt.broker_url, "mqtts://broker.example.com:8884");
    assert_string_equal(cfg.mqtt.username, "u");
    assert_string_equal(cfg.mqtt.password, "p");
    assert_string_equal(cfg.mqtt.ca_file, "/etc/ca.pem");
    assert_string_equal(cfg.mqtt.client_id, "pico-1");
    assert_string_equal(cfg.mqtt.topic, "home/garage");
    assert_int_equal(cfg.mqtt.keepalive_s, 30);
    assert_int_equal(cfg.mqtt.session, CONFIG_SESSION_PERSISTENT);
    assert_int_equal(cfg.relay_count, 2);
    assert_int_equal(cfg.relays[0].pin, 16);
    assert_false(cfg.relays[0].active_low);
    assert_int_equal(cfg.relays[0].otp_count, 2);
    assert_string_equal(cfg.otp_secrets[cfg.relays[0].otp_first + 0], "JBSWY3DPEHPK3PXP");
    assert_string_equal(cfg.otp_secrets[cfg.relays[0].otp_first + 1], "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_int_equal(cfg.relays[1].pin, 17);
    assert_true(cfg.relays[1].active_low);
    assert_int_equal(cfg.relays[1].otp_count, 0);
    assert_int_equal(cfg.momentary_count, 1);
    assert_int_equal(cfg.momentary[0].pin, 18);
    assert_false(cfg.momentary[0].active_low);
    assert_int_equal(cfg.momentary[0].pulse_ms, 500);
    assert_true(cfg.momentary[0].allow_backlog);
    assert_int_equal(cfg.momentary[0].otp_count, 1);
    assert_int_equal(cfg.contact_count, 4);
    assert_int_equal(cfg.contacts[0].pull, CONFIG_PULL_DOWN);
    assert_false(cfg.contacts[0].normally_open);
    assert_int_equal(cfg.contacts[0].debounce_ms, 0);
    assert_int_equal(cfg.contacts[1].pull, CONFIG_PULL_NONE);
    assert_true(cfg.contacts[1].normally_open);
    assert_int_equal(cfg.contacts[1].debounce_ms, 50);
    assert_int_equal(cfg.contacts[2].pin, 2);
    assert_int_equal(cfg.contacts[2].pull, CONFIG_PULL_UP);
    assert_int_equal(cfg.contacts[3].pin, 28);
    assert_int_equal(cfg.guards.cooldown_ms, 0);
    assert_int_equal(cfg.guards.toggle_window_ms, 1000);
    assert_int_equal(cfg.guards.toggle_max, 1);
    assert_int_equal(cfg.guards.violation_max, 10000);
    assert_int_equal(cfg.guards.publish_window_ms, 86400000);
    assert_int_equal(cfg.guards.publish_max, 100000);
    assert_int_equal(cfg.guards.backlog_window_ms, 600000);
    assert_int_equal(cfg.publish_interval_s, -1);
    assert_string_equal(cfg.public_ip_url, "");
    expect_ok("{" MQTT_OK ",\"publish_interval_s\":604800}");
    assert_int_equal(cfg.publish_interval_s, 604800);
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"session\":\"clean\"}}");
    assert_int_equal(cfg.mqtt.session, CONFIG_SESSION_CLEAN);
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"session\":\"clean_first\","
              "\"keepalive_s\":65535}}");
    assert_int_equal(cfg.mqtt.session, CONFIG_SESSION_CLEAN_FIRST);
    assert_int_equal(cfg.mqtt.keepalive_s, 65535);
}

static char *read_example(const char *name, size_t *len)
{
    char path[512];
    const char *src = __FILE__;
    const char *cut = strstr(src, "tests/unit/");
    assert_non_null(cut);
    snprintf(path, sizeof path, "%.*sexamples/%s", (int)(cut - src), src, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    static char buf[CONFIG_MAX_TEXT + 1];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

static void check_board(void)
{
    assert_int_equal(cfg.relay_count, 2);
    assert_int_equal(cfg.relays[0].pin, 16);
    assert_int_equal(cfg.relays[1].pin, 17);
    assert_true(cfg.relays[0].active_low);
    assert_int_equal(cfg.momentary_count, 2);
    assert_int_equal(cfg.momentary[0].pin, 18);
    assert_int_equal(cfg.momentary[1].pin, 19);
    assert_int_equal(cfg.momentary[0].pulse_ms, 2000);
    assert_int_equal(cfg.momentary[1].pulse_ms, 2000);
    assert_int_equal(cfg.contact_count, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(cfg.contacts[i].pin, i);
        assert_int_equal(cfg.contacts[i].pull, CONFIG_PULL_UP);
    }
}

static void test_examples(void **state)
{
    (void)state;
    size_t len;
    char *text = read_example("config.example.json", &len);
    assert_true(config_parse(text, len, &cfg, &errs));
    check_board();
    config_broker b;
    assert_true(config_parse_broker_url(cfg.mqtt.broker_url, &b));
    assert_true(b.tls);
    assert_int_equal(b.port, 8883);
    text = read_example("config.sim.json", &len);
    assert_true(config_parse(text, len, &cfg, &errs));
    check_board();
    assert_string_equal(cfg.mqtt.broker_url, "mqtt://127.0.0.1:1883");
    assert_string_equal(cfg.mqtt.client_id, "mqtt-tiny-sim");
    assert_string_equal(cfg.mqtt.topic, "mqtt-tiny/demo");
    assert_string_equal(cfg.mqtt.username, "");
    assert_string_equal(cfg.mqtt.password, "");
}

static void test_document_errors(void **state)
{
    (void)state;
    expect_error("", "", "the configuration is empty");
    expect_error("  \n", "", "the configuration is empty");
    expect_error("[]", "", "must be a JSON object");
    expect_error("{\"mqtt\":{}\n,}", "", "invalid JSON at line 2, column 2: expected a string key");
    expect_error("{\"a\":\"\xff\"}", "", "invalid JSON at line 1, column 7: invalid UTF-8 in string");
    expect_error("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]}", "", "nested too deeply");
    static char big[CONFIG_MAX_TEXT + 2];
    memset(big, ' ', sizeof big);
    assert_false(config_parse(big, CONFIG_MAX_TEXT + 1, &cfg, &errs));
    assert_string_equal(errs.errors[0].message, "the configuration is larger than 16384 bytes");
    /* exactly CONFIG_MAX_TEXT bytes is fine */
    size_t n = strlen("{" MQTT_OK "}");
    memcpy(big, "{" MQTT_OK "}", n);
    assert_true(config_parse(big, CONFIG_MAX_TEXT, &cfg, &errs));
    assert_false(config_parse(NULL, 0, &cfg, &errs));
    assert_false(config_parse("{}", 2, NULL, &errs));
    assert_string_equal(errs.errors[0].message, "internal error: no configuration or token buffer");
}

static void test_missing(void **state)
{
    (void)state;
    expect_error("{}", "mqtt", "is missing (required)");
    expect_error("{\"mqtt\":{}}", "mqtt.broker_url", "is missing (required)");
    expect_error("{\"mqtt\":{}}", "mqtt.client_id", "is missing (required)");
    expect_error("{\"mqtt\":{}}", "mqtt.topic", "is missing (required)");
    assert_int_equal(errs.count, 3);
    expect_error("{" MQTT_OK ",\"relays\":[{}]}", "relays[0].pin", "is missing (required)");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pulse_ms\":100}]}", "momentary[0].pin", "is missing");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":1},{}]}", "contacts[1].pin", "is missing");
}

static void test_unknown_and_duplicate_keys(void **state)
{
    (void)state;
    expect_error("{" MQTT_OK ",\"relay\":[]}", "relay", "is not a known key");
    expect_error("{\"mqtt\":{\"broker\":\"mqtt://h\",\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\"}}",
                 "mqtt.broker", "is not a known key");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"activelow\":true}]}", "relays[0].activelow",
                 "is not a known key");
    expect_error("{" MQTT_OK ",\"guards\":{\"cooldown\":2}}", "guards.cooldown", "is not a known key");
    expect_error("{" MQTT_OK ",\"wifi\":{\"SSID\":\"x\"}}", "wifi.SSID", "is not a known key");
    expect_error("{" MQTT_OK "," MQTT_OK "}", "mqtt", "appears twice");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"p\\u0069n\":17}]}", "relays[0].p\\u0069n", "appears twice");
    /* a very long unknown key is cut in the path, not overflowing it */
    char text[400];
    snprintf(text, sizeof text, "{" MQTT_OK ",\"%0300d\":1}", 0);
    assert_false(parse(text));
    assert_int_equal(strlen(errs.errors[0].path), sizeof errs.errors[0].path - 1);
    /* a multi-byte character is never cut in half */
    char key[200] = "";
    for (int i = 0; i < 40; i++) {
        strcat(key, "\xc3\xa9");
    }
    snprintf(text, sizeof text, "{" MQTT_OK ",\"ab%s\":1}", key);
    assert_false(parse(text));
    assert_int_equal(strlen(errs.errors[0].path), sizeof errs.errors[0].path - 2);
}

static void test_types(void **state)
{
    (void)state;
    expect_error("{\"mqtt\":[]}", "mqtt", "must be an object, not an array");
    expect_error("{" MQTT_OK ",\"wifi\":\"x\"}", "wifi", "must be an object, not a string");
    expect_error("{" MQTT_OK ",\"guards\":null}", "guards", "must be an object, not null");
    expect_error("{" MQTT_OK ",\"relays\":{}}", "relays", "must be an array, not an object");
    expect_error("{" MQTT_OK ",\"relays\":[16]}", "relays[0]", "must be an object, not a number");
    expect_error("{" MQTT_OK ",\"contacts\":[true]}", "contacts[0]", "must be an object, not true/false");
    expect_error("{\"mqtt\":{\"broker_url\":1,\"client_id\":\"c\",\"topic\":\"t\"}}", "mqtt.broker_url",
                 "must be a string, not a number");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"active_low\":1}]}", "relays[0].active_low",
                 "must be true or false, not a number");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"active_low\":\"true\"}]}", "relays[0].active_low",
                 "must be true or false");
    expect_error("{" MQTT_OK ",\"guards\":{\"toggle_max\":\"5\"}}", "guards.toggle_max", "must be a number, not a string");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":\"7200\"}", "publish_interval_s", "must be a number");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":true}]}", "relays[0].pin", "must be a GPIO number (16) or name");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"otp\":\"JBSWY3DPEHPK3PXP\"}]}", "relays[0].otp",
                 "must be an array of base32 secrets, not a string");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":1,\"pull\":1}]}", "contacts[0].pull",
                 "must be \"up\", \"down\" or \"none\"");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":1,\"pull\":\"UP\"}]}", "contacts[0].pull", "must be \"up\"");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"session\":\"dirty\"}}",
                 "mqtt.session", "must be \"clean_first\", \"persistent\" or \"clean\"");
}

static void test_numbers(void **state)
{
    (void)state;
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"keepalive_s\":4}}",
                 "mqtt.keepalive_s", "must be a whole number from 5 to 65535");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"keepalive_s\":65536}}",
                 "mqtt.keepalive_s", "from 5 to 65535");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"keepalive_s\":60.5}}",
                 "mqtt.keepalive_s", "whole number");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"pulse_ms\":9}]}", "momentary[0].pulse_ms",
                 "from 10 to 60000");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"pulse_ms\":60001}]}", "momentary[0].pulse_ms",
                 "from 10 to 60000");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"pulse_ms\":-1}]}", "momentary[0].pulse_ms",
                 "from 10 to 60000");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"pulse_ms\":99999999999999999999999}]}",
                 "momentary[0].pulse_ms", "from 10 to 60000");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"pulse_ms\":2e3}]}", "momentary[0].pulse_ms",
                 "whole number");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":1,\"debounce_ms\":10001}]}", "contacts[0].debounce_ms",
                 "from 0 to 10000");
    expect_error("{" MQTT_OK ",\"guards\":{\"cooldown_ms\":3600001}}", "guards.cooldown_ms", "from 0 to 3600000");
    expect_error("{" MQTT_OK ",\"guards\":{\"toggle_window_ms\":999}}", "guards.toggle_window_ms", "from 1000");
    expect_error("{" MQTT_OK ",\"guards\":{\"toggle_max\":0}}", "guards.toggle_max", "from 1 to 10000");
    expect_error("{" MQTT_OK ",\"guards\":{\"violation_max\":0}}", "guards.violation_max", "from 1 to 10000");
    expect_error("{" MQTT_OK ",\"guards\":{\"publish_window_ms\":86400001}}", "guards.publish_window_ms",
                 "from 1000 to 86400000");
    expect_error("{" MQTT_OK ",\"guards\":{\"publish_max\":100001}}", "guards.publish_max", "from 1 to 100000");
    expect_error("{" MQTT_OK ",\"guards\":{\"backlog_window_ms\":600001}}", "guards.backlog_window_ms",
                 "from 0 to 600000");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":0}", "publish_interval_s",
                 "must be -1 (off) or a whole number from 1 to 604800");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":-2}", "publish_interval_s", "must be -1 (off)");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":604801}", "publish_interval_s", "must be -1 (off)");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":1.5}", "publish_interval_s", "must be -1 (off)");
    expect_error("{" MQTT_OK ",\"publish_interval_s\":-9223372036854775809}", "publish_interval_s",
                 "must be -1 (off)");
    expect_ok("{" MQTT_OK ",\"publish_interval_s\":1,\"momentary\":[{\"pin\":18,\"pulse_ms\":10}]}");
    assert_int_equal(cfg.publish_interval_s, 1);
    assert_int_equal(cfg.momentary[0].pulse_ms, 10);
}

static void test_pins(void **state)
{
    (void)state;
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16},{\"pin\":16}]}", "relays[1].pin",
                 "GP16 is already used by relays[0]");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16}],\"momentary\":[{\"pin\":\"GP16\"}]}", "momentary[0].pin",
                 "GP16 is already used by relays[0]");
    expect_error("{" MQTT_OK ",\"momentary\":[{\"pin\":5},{\"pin\":6}],\"contacts\":[{\"pin\":6}]}",
                 "contacts[0].pin", "GP6 is already used by momentary[1]");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":1},{\"pin\":2},{\"pin\":3},{\"pin\":4},{\"pin\":5},{\"pin\":6},"
                 "{\"pin\":7},{\"pin\":8},{\"pin\":9},{\"pin\":10},{\"pin\":11},{\"pin\":12},{\"pin\":13},{\"pin\":14},"
                 "{\"pin\":15},{\"pin\":14}],\"relays\":[{\"pin\":15}]}",
                 "contacts[15].pin", "GP14 is already used by contacts[13]");
    expect_error("{" MQTT_OK ",\"contacts\":[{\"pin\":15}],\"relays\":[{\"pin\":15}]}", "relays[0].pin",
                 "GP15 is already used by contacts[0]");
    for (int pin = 23; pin <= 25; pin++) {
        char text[200], msg[64];
        snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[{\"pin\":%d}]}", pin);
        snprintf(msg, sizeof msg, "GP%d is wired to the WiFi chip on a Pico W", pin);
        expect_error(text, "relays[0].pin", msg);
    }
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":29}]}", "relays[0].pin", "GP29 is wired to the WiFi chip");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":30}]}", "relays[0].pin",
                 "GP30 does not exist on a Pico W (usable: GP0-GP22, GP26-GP28)");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":\"GP99\"}]}", "relays[0].pin", "GP99 does not exist");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":\"GP24\"}]}", "relays[0].pin", "GP24 is wired to the WiFi chip");
    static const char *bad[] = { "-1", "100", "1.5", "1e1", "\"GP\"", "\"gp16\"", "\"GP016\"", "\"GP100\"",
                                 "\"16\"", "\"GP1x\"", "\"GPx\"", "\"\"", "\"GP16 \"", "\"G\\u0000P1\"",
                                 "\"GP1\\u0000\"", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[{\"pin\":%s}]}", bad[i]);
        expect_error(text, "relays[0].pin", "must be a GPIO number from 0 to 28 or a name like \"GP16\"");
    }
    expect_ok("{" MQTT_OK ",\"relays\":[{\"pin\":\"GP0\"},{\"pin\":\"GP22\"},{\"pin\":26},{\"pin\":\"GP28\"}]}");
    assert_int_equal(cfg.relays[0].pin, 0);
    assert_int_equal(cfg.relays[1].pin, 22);
    assert_int_equal(cfg.relays[2].pin, 26);
    assert_int_equal(cfg.relays[3].pin, 28);
    for (int pin = -2; pin <= 31; pin++) {
        assert_int_equal(config_pin_available(pin), (pin >= 0 && pin <= 22) || (pin >= 26 && pin <= 28));
    }
}

static void test_too_many(void **state)
{
    (void)state;
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[");
    for (int i = 0; i <= CONFIG_MAX_RELAYS; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"pin\":%d}", i ? "," : "", i);
    }
    snprintf(text + n, sizeof text - n, "]}");
    expect_error(text, "relays", "has 9 entries; at most 8 are supported");
    expect_error("{" MQTT_OK ",\"momentary\":[{},{},{},{},{},{},{},{},{}]}", "momentary", "has 9 entries; at most 8");
    expect_error("{" MQTT_OK ",\"contacts\":[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]}", "contacts",
                 "has 17 entries; at most 16");
    /* every list at its limit is fine */
    n = (size_t)snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[");
    int pin = 0;
    for (int i = 0; i < CONFIG_MAX_RELAYS; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"pin\":%d}", i ? "," : "", pin++);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "],\"momentary\":[");
    for (int i = 0; i < CONFIG_MAX_MOMENTARY; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"pin\":%d}", i ? "," : "", pin++);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "],\"contacts\":[");
    for (int i = 0; i < 10; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"pin\":%d}", i ? "," : "", pin == 23 ? (pin = 26) : pin++);
        if (pin == 23) {
            pin = 26;
        }
    }
    snprintf(text + n, sizeof text - n, "]}");
    expect_ok(text);
    assert_int_equal(cfg.relay_count, 8);
    assert_int_equal(cfg.momentary_count, 8);
    assert_int_equal(cfg.contact_count, 10);
}

static void test_strings(void **state)
{
    (void)state;
    char text[1200], big[300];
    /* lengths at and beyond each buffer */
    memset(big, 'a', sizeof big);
    snprintf(text, sizeof text,
             "{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"%.64s\",\"topic\":\"%.128s\",\"username\":\"%.64s\","
             "\"password\":\"%.64s\",\"ca_file\":\"%.159s\"},\"wifi\":{\"ssid\":\"%.32s\",\"password\":\"%.63s\"}}",
             big, big, big, big, big, big, big);
    expect_ok(text);
    assert_int_equal(strlen(cfg.mqtt.client_id), 64);
    assert_int_equal(strlen(cfg.mqtt.topic), 128);
    assert_int_equal(strlen(cfg.mqtt.ca_file), 159);
    assert_int_equal(strlen(cfg.wifi.ssid), 32);
    snprintf(text, sizeof text, "{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"%.65s\",\"topic\":\"t\"}}", big);
    expect_error(text, "mqtt.client_id", "is too long (at most 64 bytes)");
    snprintf(text, sizeof text, "{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"%.129s\"}}", big);
    expect_error(text, "mqtt.topic", "is too long (at most 128 bytes)");
    snprintf(text, sizeof text, "{" MQTT_OK ",\"wifi\":{\"ssid\":\"%.33s\"}}", big);
    expect_error(text, "wifi.ssid", "is too long (at most 32 bytes)");
    /* escapes count as the bytes they stand for */
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"\\u00e9t\\u00e9\",\"topic\":\"a\\/b\"}}");
    assert_string_equal(cfg.mqtt.client_id, "\xc3\xa9t\xc3\xa9");
    assert_string_equal(cfg.mqtt.topic, "a/b");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"a\\u0000b\",\"topic\":\"t\"}}",
                 "mqtt.client_id", "must not contain \\u0000");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"\",\"topic\":\"t\"}}", "mqtt.client_id",
                 "must not be empty");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"\"}}", "mqtt.topic",
                 "must not be empty");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"home/+\"}}", "mqtt.topic",
                 "must not contain the MQTT wildcards + or #");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"home/#\"}}", "mqtt.topic",
                 "wildcards");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"$SYS/x\"}}", "mqtt.topic",
                 "must not start with $");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"password\":\"p\"}}",
                 "mqtt.password", "needs mqtt.username");
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"username\":\"u\"}}");
    expect_ok("{\"mqtt\":{\"broker_url\":\"mqtt://h\",\"client_id\":\"c\",\"topic\":\"t\",\"username\":\"\",\"password\":\"\"}}");
}

static void test_wifi(void **state)
{
    (void)state;
    expect_error("{" MQTT_OK ",\"wifi\":{\"country\":\"de\"}}", "wifi.country", "must be two capital letters");
    expect_error("{" MQTT_OK ",\"wifi\":{\"country\":\"D\"}}", "wifi.country", "two capital letters");
    expect_error("{" MQTT_OK ",\"wifi\":{\"country\":\"DEU\"}}", "wifi.country", "is too long (at most 2 bytes)");
    expect_error("{" MQTT_OK ",\"wifi\":{\"country\":\"D1\"}}", "wifi.country", "two capital letters");
    expect_error("{" MQTT_OK ",\"wifi\":{\"country\":\"1E\"}}", "wifi.country", "two capital letters");
    expect_error("{" MQTT_OK ",\"wifi\":{\"password\":\"1234567\"}}", "wifi.password",
                 "must be empty (open network) or 8 to 63 characters (WPA2)");
    expect_error("{" MQTT_OK ",\"wifi\":{\"password\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\"}}",
                 "wifi.password", "must be a hex key");
    expect_ok("{" MQTT_OK ",\"wifi\":{\"password\":\"0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\"}}");
    expect_ok("{" MQTT_OK ",\"wifi\":{\"password\":\"\",\"ssid\":\"\",\"country\":\"US\"}}");
    assert_string_equal(cfg.wifi.country, "US");
}

static void test_urls_in_config(void **state)
{
    (void)state;
    expect_error("{\"mqtt\":{\"broker_url\":\"http://h\",\"client_id\":\"c\",\"topic\":\"t\"}}", "mqtt.broker_url",
                 "must start with mqtt:// or mqtts://");
    expect_error("{\"mqtt\":{\"broker_url\":\"mqtt://h:0\",\"client_id\":\"c\",\"topic\":\"t\"}}", "mqtt.broker_url",
                 "has an invalid port (1-65535)");
    expect_error("{" MQTT_OK ",\"public_ip_url\":\"https://api.ipify.org\"}", "public_ip_url",
                 "must use http:// (https is not supported");
    expect_error("{" MQTT_OK ",\"public_ip_url\":\"ftp://x\"}", "public_ip_url", "must start with http://");
    expect_ok("{" MQTT_OK ",\"public_ip_url\":\"http://ifconfig.me/ip\"}");
    assert_string_equal(cfg.public_ip_url, "http://ifconfig.me/ip");
}

static void test_broker_url(void **state)
{
    (void)state;
    config_broker b;
    assert_true(config_parse_broker_url("mqtt://localhost", &b));
    assert_false(b.tls);
    assert_string_equal(b.host, "localhost");
    assert_int_equal(b.port, 1883);
    assert_true(config_parse_broker_url("mqtts://abc.s1.eu.hivemq.cloud", &b));
    assert_true(b.tls);
    assert_int_equal(b.port, 8883);
    assert_true(config_parse_broker_url("mqtts://h:1", &b));
    assert_int_equal(b.port, 1);
    assert_true(config_parse_broker_url("mqtt://10.0.0.2:65535/", &b));
    assert_string_equal(b.host, "10.0.0.2");
    assert_int_equal(b.port, 65535);
    assert_true(config_parse_broker_url("mqtt://[::1]:1884", &b));
    assert_string_equal(b.host, "::1");
    assert_int_equal(b.port, 1884);
    assert_true(config_parse_broker_url("mqtt://my_host-1.lan", NULL));
    struct { const char *url; const char *err; } bad[] = {
        { "", "must start with mqtt:// or mqtts://" },
        { "MQTT://h", "must start with" },
        { "tcp://h", "must start with" },
        { "mqtt:/h", "must start with" },
        { "mqtt://", "has no host name" },
        { "mqtt://:1883", "has no host name" },
        { "mqtt:///x", "has no host name" },
        { "mqtt://@h", "has an invalid host name" },
        { "mqtt://-h", "has an invalid host name" },
        { "mqtt://h-", "has an invalid host name" },
        { "mqtt://.h", "has an invalid host name" },
        { "mqtt://h:", "has an invalid port" },
        { "mqtt://h:0", "has an invalid port" },
        { "mqtt://h:65536", "has an invalid port" },
        { "mqtt://h:1234567", "has an invalid port" },
        { "mqtt://h:99999999999999999999", "has an invalid port" },
        { "mqtt://h:12x", "must be only scheme, host and port" },
        { "mqtt://h/topic", "must be only scheme, host and port" },
        { "mqtt://user:pw@h", "has an invalid port" },
        { "mqtt://u@h", "must be only scheme, host and port" },
        { "mqtt://h?x", "must be only scheme" },
        { "mqtt://h//", "must be only scheme" },
        { "mqtt://[::1", "has an invalid IPv6 address" },
        { "mqtt://[]", "has an invalid IPv6 address" },
        { "mqtt://[zz]", "has an invalid IPv6 address" },
        { "mqtt://h h", "must be only scheme" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&b, 0x77, sizeof b);
        config_broker before = b;
        const char *err = config_broker_url_error(bad[i].url, &b);
        if (err == NULL || strstr(err, bad[i].err) == NULL) {
            fail_msg("%s: got %s", bad[i].url, err ? err : "(valid)");
        }
        assert_memory_equal(&b, &before, sizeof b);   /* untouched */
        assert_false(config_parse_broker_url(bad[i].url, NULL));
    }
    assert_false(config_parse_broker_url(NULL, &b));
    /* host longer than the buffer */
    char url[CONFIG_URL_SIZE + 20] = "mqtt://";
    memset(url + 7, 'h', CONFIG_URL_SIZE);
    url[7 + CONFIG_URL_SIZE] = '\0';
    assert_string_equal(config_broker_url_error(url, &b), "has a host name that is too long");
    memcpy(url, "mqtt://[", 8);
    memset(url + 8, '1', CONFIG_URL_SIZE);
    url[8 + CONFIG_URL_SIZE] = ']';
    url[9 + CONFIG_URL_SIZE] = '\0';
    assert_string_equal(config_broker_url_error(url, &b), "has a host name that is too long");
}

static void test_http_url(void **state)
{
    (void)state;
    config_http_url u;
    assert_true(config_parse_http_url("http://api.ipify.org", &u));
    assert_string_equal(u.host, "api.ipify.org");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.path, "/");
    assert_true(config_parse_http_url("http://127.0.0.1:8080/ip?format=text", &u));
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/ip?format=text");
    assert_true(config_parse_http_url("http://[::1]/", NULL));
    struct { const char *url; const char *err; } bad[] = {
        { "https://x", "must use http://" },
        { "HTTP://x", "must start with http://" },
        { "http://", "has no host name" },
        { "http://x:70000", "has an invalid port" },
        { "http://x/a b", "has a space or a non-ASCII character" },
        { "http://x/\xc3\xa9", "non-ASCII" },
        { "http://x/\x7f", "non-ASCII" },
        { "http://u@x/", "(no user name)" },
        { "http://x?y", "must be http://host[:port][/path]" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *err = config_http_url_error(bad[i].url, &u);
        if (err == NULL || strstr(err, bad[i].err) == NULL) {
            fail_msg("%s: got %s", bad[i].url, err ? err : "(valid)");
        }
        assert_false(config_parse_http_url(bad[i].url, NULL));
    }
    assert_false(config_parse_http_url(NULL, &u));
    char url[CONFIG_URL_SIZE + 20] = "http://h";
    memset(url + 8, '/', CONFIG_URL_SIZE);
    url[8 + CONFIG_URL_SIZE] = '\0';
    assert_string_equal(config_http_url_error(url, &u), "has a path that is too long");
}

static void test_otp(void **state)
{
    (void)state;
    char text[800];
    /* 4 secrets at the limit, mixed case folded to upper, padding accepted */
    expect_ok("{" MQTT_OK ",\"momentary\":[{\"pin\":18,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"jbswy3dpehpk3pxp\","
              "\"MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U\",\"MFRGGZDFMZTWQ2LKNM======\"]}]}");
    assert_int_equal(cfg.momentary[0].otp_count, 4);
    assert_string_equal(cfg.otp_secrets[cfg.momentary[0].otp_first + 1], "JBSWY3DPEHPK3PXP");
    assert_string_equal(cfg.otp_secrets[cfg.momentary[0].otp_first + 3], "MFRGGZDFMZTWQ2LKNM======");
    /* Secrets are counted over all relays together */
    expect_ok("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\"]}],"
              "\"momentary\":[{\"pin\":18,\"otp\":[\"MFRGGZDFMZTWQ2LK\",\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\","
              "\"MFRGGZDFMZTWQ2LK\"]},{\"pin\":19,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\"]}]}");
    assert_int_equal(cfg.otp_total, 8);
    assert_int_equal(cfg.momentary[1].otp_first, 6);
    assert_string_equal(cfg.otp_secrets[cfg.momentary[0].otp_first], "MFRGGZDFMZTWQ2LK");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":16,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\"]}],"
                 "\"momentary\":[{\"pin\":18,\"otp\":[\"MFRGGZDFMZTWQ2LK\",\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\","
                 "\"MFRGGZDFMZTWQ2LK\"]},{\"pin\":19,\"otp\":[\"JBSWY3DPEHPK3PXP\",\"GEZDGNBVGY3TQOJQ\","
                 "\"MFRGGZDFMZTWQ2LK\"]}]}",
                 "momentary[1].otp", "at most 8 in all relays together");
    /* 64 characters is the longest */
    char s64[65];
    memset(s64, 'A', 64);
    s64[64] = '\0';
    snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"%s\"]}]}", s64);
    expect_ok(text);
    assert_string_equal(cfg.otp_secrets[cfg.relays[0].otp_first + 0], s64);
    snprintf(text, sizeof text, "{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"%sA\"]}]}", s64);
    expect_error(text, "relays[0].otp[0]", "must have 16 to 64 base32 characters");
    expect_ok("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[]}]}");
    assert_int_equal(cfg.relays[0].otp_count, 0);
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PX\"]}]}", "relays[0].otp[0]",
                 "must have 16 to 64 base32 characters");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PX1\"]}]}", "relays[0].otp[0]",
                 "is not base32 (letters A-Z and digits 2-7 only)");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DP EHPK3PXP\"]}]}", "relays[0].otp[0]",
                 "is not base32 (letters");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DP=EHPK3PXP\"]}]}", "relays[0].otp[0]",
                 "'=' padding may only end it");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXPA==\"]}]}", "relays[0].otp[0]",
                 "padding must fill a group of 8");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXPA\"]}]}", "relays[0].otp[0]",
                 "no encoding has this length");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXPAAA\"]}]}", "relays[0].otp[0]",
                 "no encoding has this length");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXPAAAAAA\"]}]}", "relays[0].otp[0]",
                 "no encoding has this length");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXP\",7]}]}", "relays[0].otp[1]",
                 "must be a base32 string, not a number");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"A\",\"B\",\"C\",\"D\",\"E\"]}]}", "relays[0].otp",
                 "has 5 secrets; at most 4 are supported");
    expect_error("{" MQTT_OK ",\"relays\":[{\"pin\":1,\"otp\":[\"JBSWY3DPEHPK3PXP\\u0000\"]}]}", "relays[0].otp[0]",
                 "must have 16 to 64");
}

static void test_untouched_on_error(void **state)
{
    (void)state;
    config before;
    memset(&cfg, 0xA5, sizeof cfg);
    memcpy(&before, &cfg, sizeof cfg);
    /* the error is found only after many valid values were read */
    assert_false(parse("{\"wifi\":{\"ssid\":\"x\"}," MQTT_OK ",\"relays\":[{\"pin\":16}],\"publish_interval_s\":0}"));
    assert_memory_equal(&before, &cfg, sizeof cfg);
    assert_false(parse("{" MQTT_OK ",\"relays\":[{\"pin\":16},{\"pin\":16}]}"));
    assert_memory_equal(&before, &cfg, sizeof cfg);
    assert_false(parse("{" MQTT_OK ",\"relays\":[{\"pin\":16}]"));
    assert_memory_equal(&before, &cfg, sizeof cfg);
}

static void test_error_collection(void **state)
{
    (void)state;
    /* more errors than slots: all counted, the first CONFIG_MAX_ERRORS kept in order */
    const char *s = "{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1}";
    assert_false(parse(s));
    assert_int_equal(errs.count, 11);   /* 10 unknown keys + missing mqtt */
    assert_string_equal(errs.errors[0].path, "a");
    assert_string_equal(errs.errors[7].path, "h");
    /* errors may be NULL */
    assert_false(config_parse(s, strlen(s), &cfg, NULL));
    assert_true(config_parse("{" MQTT_OK "}", strlen("{" MQTT_OK "}"), &cfg, NULL));
    /* a success clears an earlier error count */
    errs.count = 5;
    expect_ok("{" MQTT_OK "}");
}

static void test_small_token_array(void **state)
{
    (void)state;
    json_token tokens[12];
    const char *ok = "{" MQTT_OK "}";   /* 1 + 2 + 6 = 9 tokens */
    assert_true(config_parse_tokens(ok, strlen(ok), &cfg, &errs, tokens, 12));
    const char *more = "{" MQTT_OK ",\"relays\":[{\"pin\":1}]}";
    assert_false(config_parse_tokens(more, strlen(more), &cfg, &errs, tokens, 12));
    assert_string_equal(errs.errors[0].message, "the configuration holds more than 12 JSON values");
    assert_false(config_parse_tokens(ok, strlen(ok), &cfg, &errs, NULL, 12));
    /* the default array fits every list at its limit with every key written out */
    static char text[CONFIG_MAX_TEXT];
    size_t n = (size_t)snprintf(text, sizeof text,
        "{\"wifi\":{\"ssid\":\"s\",\"password\":\"\",\"country\":\"XX\"},"
        "\"mqtt\":{\"broker_url\":\"mqtt://h\",\"username\":\"u\",\"password\":\"p\",\"ca_file\":\"\","
        "\"client_id\":\"c\",\"topic\":\"t\",\"keepalive_s\":60,\"session\":\"clean\"},"
        "\"guards\":{\"cooldown_ms\":1,\"toggle_window_ms\":1000,\"toggle_max\":1,\"violation_max\":1,"
        "\"publish_window_ms\":1000,\"publish_max\":1,\"backlog_window_ms\":1},"
        "\"publish_interval_s\":-1,\"public_ip_url\":\"\",\"relays\":[");
    int pins[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 26, 27, 28 };
    int p = 0;
    const char *otp = "\"JBSWY3DPEHPK3PXP\"";
    for (int i = 0; i < CONFIG_MAX_RELAYS; i++) {
        /* the first two relays use up all CONFIG_MAX_OTP_TOTAL secrets */
        if (i < 2) {
            n += (size_t)snprintf(text + n, sizeof text - n,
                                  "%s{\"pin\":%d,\"active_low\":true,\"otp\":[%s,%s,%s,%s]}",
                                  i ? "," : "", pins[p++], otp, otp, otp, otp);
        } else {
            n += (size_t)snprintf(text + n, sizeof text - n, ",{\"pin\":%d,\"active_low\":true,\"otp\":[]}",
                                  pins[p++]);
        }
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "],\"momentary\":[");
    for (int i = 0; i < CONFIG_MAX_MOMENTARY; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"pin\":%d,\"active_low\":true,\"pulse_ms\":100,\"allow_backlog\":false,"
                              "\"otp\":[]}", i ? "," : "", pins[p++]);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "],\"contacts\":[");
    for (int i = 0; i < 10; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "%s{\"pin\":%d,\"pull\":\"up\",\"normally_open\":true,\"debounce_ms\":5}",
                              i ? "," : "", pins[p++]);
    }
    n += (size_t)snprintf(text + n, sizeof text - n, "]}");
    assert_true(n < sizeof text);
    expect_ok(text);
    assert_int_equal(cfg.contact_count, 10);
    assert_int_equal(cfg.relays[1].otp_count, 4);
    assert_int_equal(cfg.relays[1].otp_first, 4);
    assert_int_equal(cfg.otp_total, CONFIG_MAX_OTP_TOTAL);
}

static void test_format(void **state)
{
    (void)state;
    config_error e;
    char buf[200];
    memset(&e, 0, sizeof e);
    strcpy(e.path, "relays[1].pin");
    strcpy(e.message, "GP16 is already used by relays[0]");
    assert_int_equal(config_error_format(&e, buf, sizeof buf), strlen("relays[1].pin: GP16 is already used by relays[0]"));
    assert_string_equal(buf, "relays[1].pin: GP16 is already used by relays[0]");
    assert_int_equal(config_error_format(&e, buf, 8), 7);
    assert_string_equal(buf, "relays[");
    e.path[0] = '\0';
    config_error_format(&e, buf, sizeof buf);
    assert_string_equal(buf, "GP16 is already used by relays[0]");
    assert_int_equal(config_error_format(&e, NULL, 10), 0);
    assert_int_equal(config_error_format(&e, buf, 0), 0);
    assert_int_equal(config_error_format(NULL, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    memset(e.path, 'x', sizeof e.path);   /* not terminated: refused */
    assert_int_equal(config_error_format(&e, buf, sizeof buf), 0);
    assert_string_equal(config_session_name(CONFIG_SESSION_CLEAN_FIRST), "clean_first");
    assert_string_equal(config_session_name(CONFIG_SESSION_PERSISTENT), "persistent");
    assert_string_equal(config_session_name(CONFIG_SESSION_CLEAN), "clean");
    assert_string_equal(config_session_name((config_session)9), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_home_assistant),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_power_on_interlock_remote_reset),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_unknown_and_duplicate_keys),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_wifi),
        cmocka_unit_test(test_urls_in_config),
        cmocka_unit_test(test_broker_url),
        cmocka_unit_test(test_http_url),
        cmocka_unit_test(test_otp),
        cmocka_unit_test(test_untouched_on_error),
        cmocka_unit_test(test_error_collection),
        cmocka_unit_test(test_small_token_array),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
