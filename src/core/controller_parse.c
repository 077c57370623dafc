/*
 * Parsing and validating a request (docs/protocol.md): keys, values,
 * commands and codes. Every refusal publishes one error; nothing is applied.
 */
#include "controller_internal.h"

#include <string.h>

#define KEY_SIZE 24

/* "GP<0..99>" without leading zeros; -1 otherwise. */
static int parse_pin_key(const char *key)
{
    if (key[0] != 'G' || key[1] != 'P') return -1;
    const char *d = key + 2;
    size_t n = strlen(d);
    if (n == 0 || n > 2 || (n == 2 && d[0] == '0')) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return -1;
        v = v * 10 + (d[i] - '0');
    }
    return v;
}

static bool parse_switch_value(const char *text, const json_token *t, bool *on)
{
    int64_t v = 0;
    if (t->type == JSON_TRUE || t->type == JSON_FALSE) {
        *on = t->type == JSON_TRUE;
        return true;
    }
    if (t->type != JSON_NUMBER || !json_number_int(text, t, &v) || (v != 0 && v != 1)) return false;
    *on = v == 1;
    return true;
}

static bool parse_code(const char *text, const json_token *t, uint32_t *code)
{
    int64_t v = 0;
    if (t->type == JSON_NUMBER) {
        if (!json_number_int(text, t, &v) || v < 0 || v > 999999) return false;
        *code = (uint32_t)v;
        return true;
    }
    char s[8];
    if (t->type != JSON_STRING || !json_string_copy(text, t, s, sizeof s) || strlen(s) != 6) {
        return false;
    }
    *code = 0;
    for (size_t i = 0; i < 6; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *code = *code * 10u + (uint32_t)(s[i] - '0');
    }
    return true;
}

static bool parse_command(const char *text, const json_token *t, ctl_command *cmd)
{
    static const struct {
        const char *name;
        ctl_command cmd;
    } names[] = {{"stats", CTL_CMD_STATS}, {"getip", CTL_CMD_GETIP}, {"refresh", CTL_CMD_REFRESH},
                 {"reset", CTL_CMD_RESET}, {"ntp", CTL_CMD_NTP}};
    if (t->type != JSON_STRING) return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (json_string_equals(text, t, names[i].name)) {
            *cmd = names[i].cmd;
            return true;
        }
    }
    return false;
}

/* Fills r from the object at token 0; false after publishing the refusal. */
bool ctl_parse_request(controller *c, uint32_t now_ms, const char *text, size_t count,
                          ctl_request *r)
{
    const json_token *tok = c->tokens;
    bool have_cmd = false;
    size_t i = 1;
    for (uint32_t m = 0; m < tok[0].size && i + 1 < count; m++) {
        const json_token *key_tok = &tok[i];
        const json_token *val = &tok[i + 1];
        char key[KEY_SIZE];
        i = val->next;
        if (!json_string_copy(text, key_tok, key, sizeof key)) {
            ctl_refuse(c, now_ms, json_string_length(text, key_tok) < sizeof key
                                      ? "unknown key (it holds a NUL character); keys are "
                                        "GP<n>, CMD and MFA"
                                      : "unknown key (too long); keys are GP<n>, CMD and MFA");
            return false;
        }
        if (strcmp(key, "NOTIFY") == 0 || strcmp(key, "IP") == 0) {
            continue; /* the original's answer keys: ignored like TIME */
        }
        if (strcmp(key, "CMD") == 0) {
            if (!parse_command(text, val, &r->cmd)) {
                ctl_refuse(c, now_ms,
                           "unknown command; CMD is one of stats, getip, refresh, reset, ntp");
                return false;
            }
            have_cmd = true;
            continue;
        }
        if (strcmp(key, "MFA") == 0) {
            if (!parse_code(text, val, &r->code)) {
                ctl_refuse(c, now_ms, "MFA must be a 6-digit one-time code");
                return false;
            }
            r->have_code = true;
            continue;
        }
        int gpio = parse_pin_key(key);
        if (gpio < 0) {
            ctl_refuse3(c, now_ms, "unknown key '", key, "'; keys are GP<n>, CMD and MFA");
            return false;
        }
        controller_pin *p = ctl_find_pin(c, (uint8_t)gpio);
        if (p == NULL) {
            ctl_refuse3(c, now_ms, "", key, " is not configured on this device");
            return false;
        }
        if (p->kind == CONTROLLER_PIN_CONTACT) {
            ctl_refuse3(c, now_ms, "", key, " is a contact (input) and cannot be switched");
            return false;
        }
        bool on = false;
        if (!parse_switch_value(text, val, &on)) {
            ctl_refuse3(c, now_ms, "", key, " needs the value 0 or 1");
            return false;
        }
        r->pins[r->count].index = (uint8_t)(p - c->pins);
        r->pins[r->count].on = on;
        r->count++;
    }
    if (have_cmd && r->count > 0) {
        ctl_refuse(c, now_ms, "CMD cannot be combined with pin keys; send them separately");
        return false;
    }
    if (!have_cmd && r->count == 0 && !r->have_code) {
        ctl_refuse(c, now_ms, "empty request; send e.g. {\"GP16\":1} or {\"CMD\":\"stats\"}");
        return false;
    }
    return true;
}
