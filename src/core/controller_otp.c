/*
 * One-time codes for relays with TOTP secrets (see docs/security.md).
 *
 * A code is checked against every secret of the pins that need one; it is
 * accepted for a pin when one of its secrets yields the code for a time step
 * within +-1 step that is newer than the last step accepted for that secret.
 * After CONTROLLER_OTP_FREE_FAILURES consecutive failures each further failure
 * starts a lockout (30 s, doubling up to 4 h) during which codes are refused
 * unchecked, so guessing gains nothing while locked.
 */
#include "controller_internal.h"
#include "totp.h"

#include <string.h>

#define OTP_SKEW_STEPS 1u

ctl_pin_mask ctl_otp_pins(const controller *c)
{
    ctl_pin_mask mask = 0;
    for (size_t i = 0; i < c->pin_count; i++) {
        if (ctl_otp_count(c, &c->pins[i]) > 0) mask |= (ctl_pin_mask)1u << i;
    }
    return mask;
}

void ctl_otp_expire(controller *c, uint32_t now_ms)
{
    if (c->otp_locked && now_ms - c->otp_lock_start_ms >= c->otp_lock_ms) c->otp_locked = false;
}

uint32_t ctl_otp_wait(const controller *c, uint32_t now_ms)
{
    if (!c->otp_locked) return UINT32_MAX;
    uint32_t elapsed = now_ms - c->otp_lock_start_ms;
    return elapsed >= c->otp_lock_ms ? 0 : c->otp_lock_ms - elapsed;
}

uint32_t ctl_otp_lockout_left_s(controller *c, uint32_t now_ms)
{
    ctl_otp_expire(c, now_ms);
    uint32_t ms = ctl_otp_wait(c, now_ms);
    return ms == UINT32_MAX ? 0 : (ms + 999u) / 1000u;
}

static void record_failure(controller *c, uint32_t now_ms)
{
    c->counters.otp_failures++;
    if (c->otp_failures < UINT32_MAX) c->otp_failures++;
    if (c->otp_failures <= CONTROLLER_OTP_FREE_FAILURES) return;
    uint32_t lock = CONTROLLER_OTP_LOCKOUT_FIRST_MS;
    for (uint32_t i = 0; i < c->otp_lockouts && lock < CONTROLLER_OTP_LOCKOUT_MAX_MS; i++) {
        lock *= 2u;
    }
    if (lock > CONTROLLER_OTP_LOCKOUT_MAX_MS) lock = CONTROLLER_OTP_LOCKOUT_MAX_MS;
    if (c->otp_lockouts < UINT32_MAX) c->otp_lockouts++;
    c->otp_locked = true;
    c->otp_lock_start_ms = now_ms;
    c->otp_lock_ms = lock;
    ctl_log(c, CONTROLLER_LOG_WARN, "one-time codes locked out after repeated failures");
}

/* Marks step as used for every secret with the same text, on every pin. */
static void mark_used(controller *c, const char *secret, uint32_t step)
{
    for (size_t i = 0; i < c->pin_count; i++) {
        controller_pin *p = &c->pins[i];
        size_t n = ctl_otp_count(c, p);
        for (size_t k = 0; k < n; k++) {
            uint32_t *last = ctl_otp_last_step(c, p, k);
            if (last != NULL && strcmp(ctl_otp_secret(c, p, k), secret) == 0 && *last < step) {
                *last = step;
            }
        }
    }
}

/* Checks code for one pin without committing: *step_out and *which receive
 * the accepted step and secret index. */
static totp_result check_pin(controller *c, const controller_pin *p, int64_t unix_s, uint32_t code,
                             uint32_t *step_out, uint8_t *which)
{
    totp_hmac h = {c->platform.hmac_sha1, c->ctx};
    totp_result best = TOTP_WRONG;
    size_t n = ctl_otp_count(c, p);
    for (size_t k = 0; k < n; k++) {
        uint8_t key[TOTP_SECRET_MAX];
        size_t key_len = base32_decode(ctl_otp_secret(c, p, k), key, sizeof key);
        if (key_len == 0) continue;
        const uint32_t *slot = ctl_otp_last_step(c, p, k);
        if (slot == NULL) continue;
        uint32_t last = *slot;
        totp_result r = totp_verify(&h, key, key_len, unix_s, code, OTP_SKEW_STEPS, &last);
        memset(key, 0, sizeof key);
        if (r == TOTP_ACCEPTED) {
            *step_out = last;
            *which = (uint8_t)k;
            return r;
        }
        if (r == TOTP_REPLAYED || (r == TOTP_FAILED && best == TOTP_WRONG)) best = r;
    }
    return best;
}

ctl_otp_result ctl_otp_check(controller *c, uint32_t now_ms, ctl_pin_mask need, bool all,
                             bool have_code, uint32_t code, ctl_pin_mask *accepted)
{
    uint32_t steps[CONTROLLER_MAX_PINS];
    uint8_t which[CONTROLLER_MAX_PINS];
    ctl_pin_mask ok = 0;
    bool replayed = false;
    bool failed = false;
    int64_t unix_s = 0;

    if (accepted != NULL) *accepted = 0;
    ctl_otp_expire(c, now_ms);
    if (c->otp_locked) return CTL_OTP_LOCKED;
    if (!have_code) {
        if (c->mfa_granted && now_ms - c->mfa_grant_ms < CONTROLLER_MFA_GRANT_MS &&
            (all ? (c->mfa_grant_pins & need) == need : (c->mfa_grant_pins & need) != 0)) {
            c->mfa_granted = false; /* a grant authorises one command */
            return CTL_OTP_OK;
        }
        return CTL_OTP_NEEDED;
    }
    if (c->platform.hmac_sha1 == NULL || c->platform.unix_time == NULL ||
        !c->platform.unix_time(c->ctx, &unix_s) || unix_s <= 0) {
        return CTL_OTP_NO_CLOCK;
    }
    for (size_t i = 0; i < c->pin_count; i++) {
        if ((need & ((ctl_pin_mask)1u << i)) == 0) continue;
        totp_result r = check_pin(c, &c->pins[i], unix_s, code, &steps[i], &which[i]);
        if (r == TOTP_ACCEPTED) ok |= (ctl_pin_mask)1u << i;
        replayed = replayed || r == TOTP_REPLAYED;
        failed = failed || r == TOTP_FAILED;
    }
    bool pass = all ? (ok == need && need != 0) : ok != 0;
    if (!pass) {
        if (failed && !replayed && ok == 0) return CTL_OTP_NO_CLOCK;
        record_failure(c, now_ms);
        return replayed ? CTL_OTP_REPLAYED : CTL_OTP_WRONG;
    }
    for (size_t i = 0; i < c->pin_count; i++) {
        if ((ok & ((ctl_pin_mask)1u << i)) == 0) continue;
        mark_used(c, ctl_otp_secret(c, &c->pins[i], which[i]), steps[i]);
    }
    c->otp_failures = 0;
    c->otp_lockouts = 0;
    c->counters.otp_accepted++;
    if (accepted != NULL) *accepted = ok;
    return CTL_OTP_OK;
}
