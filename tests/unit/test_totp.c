/* Base32, HOTP (RFC 4226 appendix D) and TOTP (RFC 6238 appendix B, SHA-1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/md.h>

#include "totp.h"

static bool hmac_sha1(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                      size_t msg_len, uint8_t out[20])
{
    (void)ctx;
    return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), key, key_len, msg, msg_len,
                           out) == 0;
}

static bool hmac_fails(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *msg,
                       size_t msg_len, uint8_t out[20])
{
    (void)ctx, (void)key, (void)key_len, (void)msg, (void)msg_len, (void)out;
    return false;
}

static const totp_hmac H = {hmac_sha1, NULL};
static const uint8_t RFC_KEY[] = "12345678901234567890";
#define RFC_KEY_LEN 20

static void test_base32_rfc4648(void **state)
{
    (void)state;
    uint8_t out[TOTP_SECRET_MAX];
    /* RFC 4648 section 10 vectors. */
    assert_int_equal(base32_decode("MZXW6YTBOI======", out, sizeof out), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(base32_decode("MY======", out, sizeof out), 1);
    assert_memory_equal(out, "f", 1);
    assert_int_equal(base32_decode("mzxw6ytb", out, sizeof out), 5);
    assert_memory_equal(out, "fooba", 5);
    /* The RFC 6238 key in base32. */
    assert_int_equal(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", out, sizeof out), 20);
    assert_memory_equal(out, RFC_KEY, 20);
}

static void test_base32_rejects(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(base32_decode("", out, sizeof out), 0);
    assert_int_equal(base32_decode("MZ1W", out, sizeof out), 0);      /* '1' is not base32 */
    assert_int_equal(base32_decode("MZ=W", out, sizeof out), 0);      /* data after padding */
    assert_int_equal(base32_decode("MZXW6YTBOI", out, sizeof out), 0); /* 6 bytes do not fit */
    assert_int_equal(base32_decode(NULL, out, sizeof out), 0);
}

static void test_hotp_rfc4226(void **state)
{
    (void)state;
    static const uint32_t expect[10] = {755224, 287082, 359152, 969429, 338314,
                                        254676, 287922, 162583, 399871, 520489};
    for (uint64_t i = 0; i < 10; i++) {
        uint32_t code = 0;
        assert_true(hotp_code(&H, RFC_KEY, RFC_KEY_LEN, i, 6, &code));
        assert_int_equal(code, expect[i]);
    }
}

static void test_totp_rfc6238_sha1(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        uint32_t code;
    } v[] = {{59, 94287082},         {1111111109, 7081804}, {1111111111, 14050471},
             {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t code = 0;
        assert_true(hotp_code(&H, RFC_KEY, RFC_KEY_LEN, (uint64_t)v[i].t / 30, 8, &code));
        assert_int_equal(code, v[i].code);
    }
}

static uint32_t code_at(int64_t t)
{
    uint32_t code = 0;
    assert_true(hotp_code(&H, RFC_KEY, RFC_KEY_LEN, (uint64_t)t / 30, 6, &code));
    return code;
}

static void test_totp_accepts_once(void **state)
{
    (void)state;
    uint32_t last = 0;
    int64_t t = 1234567890;
    uint32_t code = code_at(t);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code, 1, &last), TOTP_ACCEPTED);
    assert_int_equal(last, (uint32_t)(t / 30));
    /* The same code again, even in the same step: replay. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t + 5, code, 1, &last), TOTP_REPLAYED);
    /* An older code after a newer one was used: replay too. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t - 30), 1, &last),
                     TOTP_REPLAYED);
    /* The next step's code works. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t + 30, code_at(t + 30), 1, &last),
                     TOTP_ACCEPTED);
}

static void test_totp_skew(void **state)
{
    (void)state;
    int64_t t = 1111111111;
    uint32_t last = 0;
    /* One step behind and one ahead are accepted. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t - 30), 1, &last),
                     TOTP_ACCEPTED);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t + 30), 1, &last),
                     TOTP_ACCEPTED);
    /* Two steps away is wrong (unless it happens to collide, which it does not here). */
    last = 0;
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t + 60), 1, &last),
                     TOTP_WRONG);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t - 60), 1, &last),
                     TOTP_WRONG);
    assert_int_equal(last, 0);
    /* Without skew only the current step counts. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t - 30), 0, &last),
                     TOTP_WRONG);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, t, code_at(t), 0, &last), TOTP_ACCEPTED);
}

static void test_totp_failures(void **state)
{
    (void)state;
    uint32_t last = 0;
    uint32_t code = 0;
    totp_hmac bad = {hmac_fails, NULL};
    assert_int_equal(totp_verify(&bad, RFC_KEY, RFC_KEY_LEN, 59, 1, 1, &last), TOTP_FAILED);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, -1, 1, 1, &last), TOTP_FAILED);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, 59, 1, 1, NULL), TOTP_FAILED);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, INT64_MAX, 1, 1, &last), TOTP_FAILED);
    assert_false(hotp_code(&H, RFC_KEY, 0, 1, 6, &code));
    assert_false(hotp_code(&H, RFC_KEY, RFC_KEY_LEN, 1, 5, &code));
    assert_false(hotp_code(NULL, RFC_KEY, RFC_KEY_LEN, 1, 6, &code));
    /* Time 0: step 0 has no earlier neighbour. */
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, 0, 755224, 1, &last), TOTP_REPLAYED);
    assert_int_equal(totp_verify(&H, RFC_KEY, RFC_KEY_LEN, 0, 287082, 1, &last), TOTP_ACCEPTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base32_rfc4648),   cmocka_unit_test(test_base32_rejects),
        cmocka_unit_test(test_hotp_rfc4226),     cmocka_unit_test(test_totp_rfc6238_sha1),
        cmocka_unit_test(test_totp_accepts_once), cmocka_unit_test(test_totp_skew),
        cmocka_unit_test(test_totp_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
