/*
 * One-time codes: RFC 4648 base32 secrets, HOTP (RFC 4226) and TOTP
 * (RFC 6238, SHA-1, 30 s steps) with replay protection.
 *
 * No crypto here: the caller supplies HMAC-SHA1 (mbedTLS on both builds).
 */
#ifndef TOTP_H
#define TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_STEP_S 30
#define TOTP_DIGITS 6
/* Largest decoded secret: 64 base32 characters = 40 bytes. */
#define TOTP_SECRET_MAX 40

typedef bool (*totp_hmac_sha1_fn)(void *ctx, const uint8_t *key, size_t key_len,
                                  const uint8_t *msg, size_t msg_len, uint8_t out[20]);

typedef struct {
    totp_hmac_sha1_fn hmac;
    void *ctx;
} totp_hmac;

/* Decodes base32 text (A-Z, 2-7, either case, optional trailing '=' padding)
 * into out. Returns the number of bytes, or 0 if the text is empty, invalid,
 * or does not fit. */
size_t base32_decode(const char *text, uint8_t *out, size_t out_size);

/* HOTP value for a counter with 'digits' digits (6..8). false if HMAC failed. */
bool hotp_code(const totp_hmac *h, const uint8_t *key, size_t key_len, uint64_t counter,
               unsigned digits, uint32_t *code);

typedef enum {
    TOTP_ACCEPTED = 0,
    TOTP_WRONG,          /* matches no time step in the skew window */
    TOTP_REPLAYED,       /* matches a step at or before the last accepted one */
    TOTP_FAILED,         /* HMAC failed or the time is before 1970 */
} totp_result;

/* Checks code against the time steps now-skew .. now+skew. A step is only
 * accepted if it is newer than *last_step (0: none yet); on acceptance
 * *last_step becomes that step, so each code works once. */
totp_result totp_verify(const totp_hmac *h, const uint8_t *key, size_t key_len, int64_t unix_s,
                        uint32_t code, unsigned skew_steps, uint32_t *last_step);

#endif
