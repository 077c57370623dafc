/* Base32, HOTP and TOTP; see totp.h. */
#include "totp.h"

static int base32_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a';
    if (ch >= '2' && ch <= '7') return ch - '2' + 26;
    return -1;
}

size_t base32_decode(const char *text, uint8_t *out, size_t out_size)
{
    uint32_t bits = 0;
    unsigned nbits = 0;
    size_t n = 0;
    size_t i = 0;

    if (text == NULL || out == NULL) return 0;
    for (; text[i] != '\0' && text[i] != '='; i++) {
        int v = base32_value(text[i]);
        if (v < 0) return 0;
        bits = (bits << 5) | (uint32_t)v;
        nbits += 5;
        if (nbits >= 8) {
            nbits -= 8;
            if (n >= out_size) return 0;
            out[n++] = (uint8_t)(bits >> nbits);
            bits &= (1u << nbits) - 1u;
        }
    }
    for (; text[i] == '='; i++) {
    }
    if (text[i] != '\0') return 0; /* something after the padding */
    return n;
}

bool hotp_code(const totp_hmac *h, const uint8_t *key, size_t key_len, uint64_t counter,
               unsigned digits, uint32_t *code)
{
    uint8_t msg[8];
    uint8_t mac[20];
    uint32_t modulus = 1;

    if (h == NULL || h->hmac == NULL || key == NULL || key_len == 0 || code == NULL) return false;
    if (digits < 6 || digits > 8) return false;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xffu);
        counter >>= 8;
    }
    if (!h->hmac(h->ctx, key, key_len, msg, sizeof msg, mac)) return false;
    /* Dynamic truncation (RFC 4226 section 5.3). */
    unsigned offset = mac[19] & 0x0fu;
    uint32_t bin = ((uint32_t)(mac[offset] & 0x7fu) << 24) | ((uint32_t)mac[offset + 1] << 16) |
                   ((uint32_t)mac[offset + 2] << 8) | (uint32_t)mac[offset + 3];
    for (unsigned i = 0; i < digits; i++) modulus *= 10u;
    *code = bin % modulus;
    return true;
}

totp_result totp_verify(const totp_hmac *h, const uint8_t *key, size_t key_len, int64_t unix_s,
                        uint32_t code, unsigned skew_steps, uint32_t *last_step)
{
    bool replayed = false;

    if (unix_s < 0 || last_step == NULL || skew_steps > 10) return TOTP_FAILED;
    uint64_t now_step = (uint64_t)unix_s / TOTP_STEP_S;
    if (now_step > UINT32_MAX - skew_steps) return TOTP_FAILED;
    /* Newest step first, so the accepted step is the highest that matches. */
    for (uint64_t step = now_step + skew_steps;; step--) {
        uint32_t expect;
        if (!hotp_code(h, key, key_len, step, TOTP_DIGITS, &expect)) return TOTP_FAILED;
        if (expect == code) {
            if (step > *last_step) {
                *last_step = (uint32_t)step;
                return TOTP_ACCEPTED;
            }
            replayed = true;
        }
        if (step == 0 || step + skew_steps == now_step) break;
    }
    return replayed ? TOTP_REPLAYED : TOTP_WRONG;
}
