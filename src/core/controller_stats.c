/*
 * The stats message, the TIME marker, small text helpers and the one place
 * that knows which config fields the controller reads.
 */
#include "controller_internal.h"

#include <string.h>

/* ---- text ---- */

void ctl_text_init(ctl_text *t, char *buf, size_t size)
{
    t->buf = buf;
    t->size = size;
    t->len = 0;
    if (size > 0) buf[0] = '\0';
}

void ctl_text_str(ctl_text *t, const char *s)
{
    while (*s != '\0' && t->len + 1 < t->size) t->buf[t->len++] = *s++;
    if (t->size > 0) t->buf[t->len] = '\0';
}

void ctl_text_u32(ctl_text *t, uint32_t v)
{
    char digits[11];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    char s[11];
    for (size_t i = 0; i < n; i++) s[i] = digits[n - 1 - i];
    s[n] = '\0';
    ctl_text_str(t, s);
}

void ctl_text_pin(ctl_text *t, uint8_t pin)
{
    ctl_text_str(t, "GP");
    ctl_text_u32(t, pin);
}

uint32_t ctl_payload_hash(const char *payload, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)payload[i];
        h *= 16777619u;
    }
    return h;
}

/* ---- config access ---- */

uint32_t ctl_backlog_window_ms(const controller *c)
{
    return relay_guard_clamp_ms(c->cfg->guards.backlog_window_ms);
}

bool ctl_allow_backlog(const controller *c, const controller_pin *p)
{
    return p->kind == CONTROLLER_PIN_MOMENTARY && c->cfg->momentary[p->index].allow_backlog;
}

size_t ctl_otp_count(const controller *c, const controller_pin *p)
{
    size_t n = 0;
    if (p->kind == CONTROLLER_PIN_RELAY) n = c->cfg->relays[p->index].otp_count;
    if (p->kind == CONTROLLER_PIN_MOMENTARY) n = c->cfg->momentary[p->index].otp_count;
    return n > CONTROLLER_MAX_OTP_SECRETS ? CONTROLLER_MAX_OTP_SECRETS : n;
}

const char *ctl_otp_secret(const controller *c, const controller_pin *p, size_t k)
{
    if (k >= ctl_otp_count(c, p)) return "";
    size_t first = p->kind == CONTROLLER_PIN_RELAY ? c->cfg->relays[p->index].otp_first
                                                    : c->cfg->momentary[p->index].otp_first;
    if (first + k >= CONFIG_MAX_OTP_TOTAL) return "";
    return c->cfg->otp_secrets[first + k];
}

uint32_t *ctl_otp_last_step(controller *c, const controller_pin *p, size_t k)
{
    if (k >= ctl_otp_count(c, p)) return NULL;
    size_t first = p->kind == CONTROLLER_PIN_RELAY ? c->cfg->relays[p->index].otp_first
                                                    : c->cfg->momentary[p->index].otp_first;
    if (first + k >= CONFIG_MAX_OTP_TOTAL) return NULL;
    return &c->otp_last_step[first + k];
}

bool ctl_active_low(const controller *c, const controller_pin *p)
{
    if (p->kind == CONTROLLER_PIN_RELAY) return c->cfg->relays[p->index].active_low;
    if (p->kind == CONTROLLER_PIN_MOMENTARY) return c->cfg->momentary[p->index].active_low;
    return false;
}

controller_pin *ctl_find_pin(controller *c, uint8_t gpio)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        if (c->pins[i].pin == gpio) return &c->pins[i];
    }
    return NULL;
}

void ctl_notify(controller *c, const controller_pin *p)
{
    if (p->pin < 32 && (c->cfg->notify_pins & (1u << p->pin)) != 0) {
        c->notify_pending |= 1u << (size_t)(p - c->pins);
    }
}

/* ---- time ---- */

static void put2(char *out, unsigned v)
{
    out[0] = (char)('0' + (v / 10u) % 10u);
    out[1] = (char)('0' + v % 10u);
}

void ctl_format_utc(int64_t unix_s, char out[32])
{
    if (unix_s < 0) unix_s = 0;
    if (unix_s > 253402300799) unix_s = 253402300799; /* 9999-12-31T23:59:59Z */
    int64_t days = unix_s / 86400;
    unsigned secs = (unsigned)(unix_s % 86400);
    /* Days since 1970-01-01 to a civil date, counting in 400-year eras
     * starting on 0000-03-01 so leap days fall at the end of each year. */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t year = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    if (month <= 2) year++;
    unsigned y = (unsigned)year;
    out[0] = (char)('0' + (y / 1000u) % 10u);
    out[1] = (char)('0' + (y / 100u) % 10u);
    put2(out + 2, y % 100u);
    out[4] = '-';
    put2(out + 5, month);
    out[7] = '-';
    put2(out + 8, day);
    out[10] = 'T';
    put2(out + 11, secs / 3600u);
    out[13] = ':';
    put2(out + 14, (secs / 60u) % 60u);
    out[16] = ':';
    put2(out + 17, secs % 60u);
    out[19] = 'Z';
    out[20] = '\0';
}

static void time_text(controller *c, char text[32])
{
    int64_t unix_s = 0;
    if (c->platform.unix_time != NULL && c->platform.unix_time(c->ctx, &unix_s) && unix_s > 0) {
        ctl_format_utc(unix_s, text);
    } else {
        ctl_text t;
        ctl_text_init(&t, text, 32);
        ctl_text_str(&t, "up ");
        uint64_t s = c->uptime_ms / 1000u;
        ctl_text_u32(&t, s > UINT32_MAX ? UINT32_MAX : (uint32_t)s);
        ctl_text_str(&t, "s");
    }
}

void ctl_write_time(controller *c, json_writer *w)
{
    char text[32];
    time_text(c, text);
    json_write_key(w, "TIME");
    json_write_string(w, text);
}

/* ---- stats ---- */

/* "18.6" (one decimal) or "32.90" (two) from milli-units, rounded half away
 * from zero. */
static void text_milli(ctl_text *t, int64_t milli, unsigned decimals)
{
    if (milli < 0) {
        ctl_text_str(t, "-");
        milli = -milli;
    }
    int64_t unit = decimals == 2 ? 10 : 100;
    int64_t scale = decimals == 2 ? 100 : 10;
    int64_t v = (milli + unit / 2) / unit;
    if (v > 100000000) v = 100000000;
    ctl_text_u32(t, (uint32_t)(v / scale));
    ctl_text_str(t, ".");
    if (decimals == 2 && v % scale < 10) ctl_text_str(t, "0");
    ctl_text_u32(t, (uint32_t)(v % scale));
}

int ctl_build_stats(controller *c)
{
    controller_platform_stats ps = {0};
    if (c->platform.read_stats != NULL) c->platform.read_stats(c->ctx, &ps);
    if (ps.uptime_ms == 0) ps.uptime_ms = c->uptime_ms;
    uint64_t up_s = ps.uptime_ms / 1000u;
    int64_t temp_c = ps.temp_milli_c;
    int64_t temp_f = temp_c * 9 / 5 + 32000;
    int64_t mem_free_milli_pct = ps.mem_total_bytes == 0
                                     ? -1
                                     : (int64_t)ps.mem_free_bytes * 100000 / ps.mem_total_bytes;
    const controller_counters *k = &c->counters;
    uint32_t locked = 0;
    for (size_t i = 0; i < c->pin_count; i++) locked += c->pins[i].guard.locked ? 1u : 0u;

    /* The original's text: Mem is the share in use, as its gc.mem_alloc()
     * over the total; Wifi the signal in dBm. */
    char summary[160];
    char when[32];
    ctl_text t;
    ctl_text_init(&t, summary, sizeof summary);
    ctl_text_str(&t, "Uptime=");
    ctl_text_u32(&t, (uint32_t)(up_s / 86400u));
    ctl_text_str(&t, " days ");
    ctl_text_u32(&t, (uint32_t)(up_s % 86400u / 3600u));
    ctl_text_str(&t, " hrs, Outages=");
    ctl_text_u32(&t, k->outages);
    ctl_text_str(&t, ", Wifi=");
    if (ps.rssi_valid) {
        if (ps.rssi_dbm < 0) ctl_text_str(&t, "-");
        ctl_text_u32(&t, (uint32_t)(ps.rssi_dbm < 0 ? -ps.rssi_dbm : ps.rssi_dbm));
        ctl_text_str(&t, "dBm");
    } else {
        ctl_text_str(&t, "none");
    }
    ctl_text_str(&t, ", Mem=");
    if (mem_free_milli_pct >= 0) {
        text_milli(&t, 100000 - mem_free_milli_pct, 2);
        ctl_text_str(&t, "%");
    } else {
        ctl_text_str(&t, "unknown");
    }
    ctl_text_str(&t, ", Temp=");
    text_milli(&t, temp_c, 1);
    ctl_text_str(&t, "C/");
    text_milli(&t, temp_f, 1);
    ctl_text_str(&t, "F, Time=");
    time_text(c, when);
    ctl_text_str(&t, when);

    json_writer w;
    json_writer_init(&w, c->out, sizeof c->out);
    json_write_object_begin(&w);
    json_write_key(&w, "STATS");
    json_write_string(&w, summary);
    json_write_key(&w, "UPTIME_S");
    json_write_int(&w, (int64_t)up_s);
    json_write_key(&w, "OUTAGES");
    json_write_int(&w, k->outages);
    json_write_key(&w, "CONNECTIONS");
    json_write_int(&w, k->connections);
    if (mem_free_milli_pct >= 0) {
        json_write_key(&w, "MEM_FREE_PCT");
        json_write_milli(&w, mem_free_milli_pct, 1);
        json_write_key(&w, "MEM_FREE");
        json_write_int(&w, ps.mem_free_bytes);
        json_write_key(&w, "MEM_TOTAL");
        json_write_int(&w, ps.mem_total_bytes);
    }
    json_write_key(&w, "TEMP_C");
    json_write_milli(&w, temp_c, 1);
    json_write_key(&w, "TEMP_F");
    json_write_milli(&w, temp_f, 1);
    json_write_key(&w, "TEMP_SOURCE");
    json_write_string(&w, ps.temp_real ? "sensor" : "fixed");
    json_write_key(&w, "RSSI");
    if (ps.rssi_valid) {
        json_write_int(&w, ps.rssi_dbm);
    } else {
        json_write_null(&w);
    }
    json_write_key(&w, "VERSION");
    json_write_string(&w, CONTROLLER_VERSION);
    json_write_key(&w, "REBOOTS");
    json_write_int(&w, ps.reboots);
    json_write_key(&w, "MESSAGES");
    json_write_int(&w, k->messages);
    json_write_key(&w, "ERRORS");
    json_write_int(&w, k->errors);
    json_write_key(&w, "COOLDOWN_SKIPS");
    json_write_int(&w, k->cooldown_skips);
    json_write_key(&w, "TOGGLE_SKIPS");
    json_write_int(&w, k->toggle_skips);
    json_write_key(&w, "VIOLATIONS");
    json_write_int(&w, k->violations);
    json_write_key(&w, "LOCKED_RELAYS");
    json_write_int(&w, locked);
    json_write_key(&w, "PUBLISHES");
    json_write_int(&w, k->publishes);
    json_write_key(&w, "DUPLICATES");
    json_write_int(&w, k->duplicates);
    json_write_key(&w, "STALE_REFUSED");
    json_write_int(&w, k->stale_refused);
    json_write_key(&w, "OTP_FAILURES");
    json_write_int(&w, k->otp_failures);
    ctl_write_time(c, &w);
    json_write_object_end(&w);
    return json_writer_finish(&w);
}
