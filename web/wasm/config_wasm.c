/*
 * The firmware's configuration parser for the setup page (WebAssembly).
 *
 * The page writes the JSON text and the CA certificate (PEM) into the two
 * buffers below, then calls mtc_check (errors as "path: message" lines, the
 * same checks as the host tool mqtt-tiny-config: the parser with the
 * firmware's token bound FIRMWARE_CONFIG_TOKENS, the broker URL, a CA for
 * mqtts://, the size of the configuration region) or mtc_make_uf2 (the
 * config UF2, byte for byte what mqtt-tiny-config writes for the same JSON
 * and CA). No imports, no allocation: the module owns fixed buffers, one
 * caller (the page) uses them one call at a time.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "config_image.h"
#include "firmware.h"       /* FIRMWARE_CONFIG_TOKENS: the device's own bound */
#include "flash_layout.h"
#include "uf2.h"

#define EXPORT(name) __attribute__((export_name(#name)))

#define PAGE UF2_RP2040_PAYLOAD
#define REGION_PAGES (FLASH_LAYOUT_CONFIG_SIZE / PAGE)
#define MAX_UF2_SIZE (REGION_PAGES * UF2_BLOCK_SIZE)
#define MAX_CA (64u * 1024u)          /* as mqtt-tiny-config (CONFIG_LOAD_MAX_CA) */
#define REPORT_SIZE 2048u

static char json_text[CONFIG_MAX_TEXT + 1];
static char ca_text[MAX_CA + 1];
static uint8_t region[FLASH_LAYOUT_CONFIG_SIZE];
static uint8_t uf2[MAX_UF2_SIZE];
static json_token tokens[FIRMWARE_CONFIG_TOKENS];
static config parsed;
static config_errors errors;
static char report[REPORT_SIZE];
static size_t report_len;
static size_t report_count;

EXPORT(mtc_json_buffer) char *mtc_json_buffer(void) { return json_text; }
EXPORT(mtc_json_capacity) size_t mtc_json_capacity(void) { return CONFIG_MAX_TEXT; }
EXPORT(mtc_ca_buffer) char *mtc_ca_buffer(void) { return ca_text; }
EXPORT(mtc_ca_capacity) size_t mtc_ca_capacity(void) { return MAX_CA; }
EXPORT(mtc_report) const char *mtc_report(void) { return report; }
EXPORT(mtc_report_len) size_t mtc_report_len(void) { return report_len; }
EXPORT(mtc_uf2) const uint8_t *mtc_uf2(void) { return uf2; }
EXPORT(mtc_pin_available) int mtc_pin_available(int pin) { return config_pin_available(pin); }
EXPORT(mtc_config_tokens) size_t mtc_config_tokens(void) { return FIRMWARE_CONFIG_TOKENS; }

static void report_text(const char *s)
{
    size_t n = strlen(s);
    if (n > REPORT_SIZE - 1 - report_len)
        n = REPORT_SIZE - 1 - report_len;
    memcpy(report + report_len, s, n);
    report_len += n;
    report[report_len] = '\0';
}

/* One "path: message" line. */
static void report_error(const char *path, const char *message)
{
    report_count++;
    if (path[0] != '\0') {
        report_text(path);
        report_text(": ");
    }
    report_text(message);
    report_text("\n");
}

static void report_number(size_t n)
{
    char digits[24];
    size_t i = sizeof digits;
    digits[--i] = '\0';
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0 && i > 0);
    report_text(digits + i);
}

static bool contains(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++) {
        if (memcmp(text + i, needle, n) == 0)
            return true;
    }
    return false;
}

/* The checks of mqtt-tiny-config (apps/firmware/tools/config_load.c) on the
 * buffers; *ca_used is the CA length to embed (0 for mqtt://). */
static bool check(size_t json_len, size_t ca_len, size_t *ca_used)
{
    report_len = 0;
    report_count = 0;
    report[0] = '\0';
    *ca_used = 0;
    if (json_len > CONFIG_MAX_TEXT) {
        report_error("", "the configuration is larger than 16384 bytes");
        return false;
    }
    if (ca_len > MAX_CA) {
        report_error("CA certificate", "larger than 65536 bytes");
        return false;
    }
    json_text[json_len] = '\0';
    ca_text[ca_len] = '\0';
    if (!config_parse_tokens(json_text, json_len, &parsed, &errors, tokens,
                             FIRMWARE_CONFIG_TOKENS)) {
        char line[sizeof(config_error) + 4];
        for (size_t i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++) {
            config_error_format(&errors.errors[i], line, sizeof line);
            report_count++;
            report_text(line);
            report_text("\n");
        }
        if (errors.count > CONFIG_MAX_ERRORS) {
            report_text("... and ");
            report_number(errors.count - CONFIG_MAX_ERRORS);
            report_text(" more\n");
        }
        if (report_count == 0)
            report_error("", "invalid configuration");
        return false;
    }
    config_broker broker;
    if (!config_parse_broker_url(parsed.mqtt.broker_url, &broker)) {
        report_error("mqtt.broker_url", "unusable URL");
        return false;
    }
    if (broker.tls) {
        if (ca_len == 0) {
            report_error("mqtt.broker_url", "mqtts:// needs a CA certificate (HiveMQ Cloud: "
                         "ISRG Root X1)");
            return false;
        }
        if (memchr(ca_text, '\0', ca_len) != NULL ||
            !contains(ca_text, ca_len, "-----BEGIN CERTIFICATE-----")) {
            report_error("CA certificate", "not a PEM certificate (no -----BEGIN "
                         "CERTIFICATE----- line)");
            return false;
        }
        *ca_used = ca_len;
    }
    if (config_image_size(json_len, *ca_used) > FLASH_LAYOUT_CONFIG_SIZE) {
        report_error("", "the configuration and its CA certificate do not fit the 65536-byte "
                     "configuration region");
        return false;
    }
    return true;
}

/* Errors found in the JSON (json_len bytes in mtc_json_buffer) with the CA
 * (ca_len bytes in mtc_ca_buffer): 0 when the firmware accepts it; the
 * lines are in mtc_report. */
EXPORT(mtc_check) size_t mtc_check(size_t json_len, size_t ca_len)
{
    size_t ca_used = 0;
    if (check(json_len, ca_len, &ca_used))
        return 0;
    return report_count > 0 ? report_count : 1;
}

/* The config UF2 in mtc_uf2: its length, or 0 (errors in mtc_report). */
EXPORT(mtc_make_uf2) size_t mtc_make_uf2(size_t json_len, size_t ca_len)
{
    size_t ca_used = 0, image_size = 0;
    if (!check(json_len, ca_len, &ca_used))
        return 0;
    memset(region, 0xFF, sizeof region);
    if (!config_image_write(json_text, json_len, (const uint8_t *)ca_text, ca_used, region,
                            sizeof region, &image_size)) {
        report_error("", "cannot make a configuration image");
        return 0;
    }
    uint32_t blocks = (uint32_t)((image_size + PAGE - 1) / PAGE);
    for (uint32_t i = 0; i < blocks; i++) {
        if (!uf2_encode_block(uf2 + (size_t)i * UF2_BLOCK_SIZE, FLASH_LAYOUT_CONFIG_ADDR + i * PAGE,
                              region + (size_t)i * PAGE, PAGE, i, blocks, UF2_FAMILY_RP2040)) {
            report_error("", "cannot encode the UF2 blocks");
            return 0;
        }
    }
    return (size_t)blocks * UF2_BLOCK_SIZE;
}
