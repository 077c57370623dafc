/* Bad input: one clear error per request, nothing changes, errors rate-limited. */
#include "controller_fake.h"

static const struct {
    const char *payload;
    const char *error; /* fragment of the published error text */
} BAD[] = {
    {"{\"GP16\":1", "invalid JSON at byte"},
    {"GP16=1", "invalid JSON at byte 0"},
    {"", "invalid JSON"},
    {"[1,2]", "must be a JSON object"},
    {"42", "must be a JSON object"},
    {"{}", "empty request"},
    {"{\"FOO\":1}", "unknown key 'FOO'"},
    {"{\"gp16\":1}", "unknown key 'gp16'"},
    {"{\"GP016\":1}", "unknown key 'GP016'"},
    {"{\"GP\":1}", "unknown key 'GP'"},
    {"{\"GP5\":1}", "GP5 is not configured"},
    {"{\"GP99\":1}", "GP99 is not configured"},
    {"{\"GP1\":1}", "GP1 is a contact (input) and cannot be switched"},
    {"{\"GP16\":2}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":-1}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":1.0}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":\"1\"}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":null}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":[1]}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":1e999}", "GP16 needs the value 0 or 1"},
    {"{\"GP16\":123456789012345678901234567890}", "GP16 needs the value 0 or 1"},
    {"{\"CMD\":\"reboot\"}", "unknown command"},
    {"{\"CMD\":1}", "unknown command"},
    {"{\"CMD\":\"stats\",\"GP16\":1}", "CMD cannot be combined"},
    {"{\"GP16\":1,\"GP16\":0}", "a key appears twice"},
    {"{\"GP16\":1,\"GP\\u0031\\u0036\":0}", "a key appears twice"},
    {"{\"MFA\":\"12345\",\"GP16\":1}", "MFA must be a 6-digit"},
    {"{\"MFA\":1234567,\"GP16\":1}", "MFA must be a 6-digit"},
    {"{\"MFA\":123456}", "no relay on this device needs a one-time code"},
    {"{\"GP16\":1,\"GP99\":1}", "GP99 is not configured"}, /* valid + invalid: none applied */
    {"{\"GP16\":1,\"FOO\":{\"a\":[1,2,{\"b\":3}]}}", "unknown key 'FOO'"},
    {"{\"\xff\xfe\":1}", "invalid JSON"},
    {"{\"GP16\":1,\"x\":\"\xc3\x28\"}", "invalid JSON"},
    {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
     "invalid JSON"},
    {"{\"GP16\":1,\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"j\":1,"
     "\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"q\":1,\"r\":1,\"s\":1,\"t\":1,\"u\":1,"
     "\"v\":1,\"w\":1,\"x\":1,\"y\":1,\"z\":1,\"A\":1,\"B\":1,\"C\":1,\"D\":1,\"E\":1}",
     "too many keys"},
    {"{\"VERY_LONG_KEY_NAME_BEYOND_THE_LIMIT\":1}", "unknown key (too long)"},
};

static void test_bad_input_table(void **state)
{
    (void)state;
    connect_at(1000);
    uint32_t now = 10000;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        size_t pubs = F.pub_count;
        size_t outputs = F.output_count;
        now += 1000; /* one error per second is published at once */
        msg(now, BAD[i].payload);
        if (F.pub_count != pubs + 1) {
            fail_msg("case %zu (%s): %zu publications", i, BAD[i].payload, F.pub_count - pubs);
        }
        const char *p = last_pub();
        if (strncmp(p, "{\"ERROR\":\"", 10) != 0 || strstr(p, BAD[i].error) == NULL ||
            strstr(p, "\"TIME\":") == NULL) {
            fail_msg("case %zu (%s): got %s", i, BAD[i].payload, p);
        }
        assert_int_equal(F.output_count, outputs);
        assert_false(on(16));
    }
    assert_int_equal(C.counters.errors, sizeof BAD / sizeof BAD[0]);
}

static void test_oversized_and_binary(void **state)
{
    (void)state;
    static char big[65536];
    connect_at(1000);
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"GP16\":1,\"pad\":\"", 17);
    F.now = 5000;
    controller_on_message(&C, 5000, big, sizeof big, false);
    expect_last("message too long (limit 512 bytes)");
    assert_false(on(16));
    const char nul[] = "{\"GP16\":1}\0junk";
    controller_on_message(&C, 7000, nul, sizeof nul - 1, false);
    expect_last("invalid JSON");
    controller_on_message(&C, 9000, NULL, 5, false);
    expect_last("invalid JSON");
    assert_false(on(16));
}

static void test_errors_rate_limited_then_summarised(void **state)
{
    (void)state;
    connect_at(1000);
    size_t pubs = F.pub_count;
    for (uint32_t i = 0; i < 10; i++) msg(5000 + i * 10, i == 9 ? "{\"GP7\":1}" : "nope");
    /* The first went out at once; the other nine wait for the interval. */
    assert_int_equal(F.pub_count, pubs + 1);
    expect_last("invalid JSON");
    assert_int_equal(controller_next_deadline(&C, 5090), 910);
    at(5999);
    assert_int_equal(F.pub_count, pubs + 1);
    at(6000);
    assert_int_equal(F.pub_count, pubs + 2);
    expect_last("{\"ERROR\":\"GP7 is not configured on this device\",\"SUPPRESSED\":8,");
    assert_int_equal(C.counters.errors, 10);
    assert_int_equal(C.counters.errors_suppressed, 8);
    at(9000);
    assert_int_equal(F.pub_count, pubs + 2);
}

static void test_errors_not_sent_while_offline(void **state)
{
    (void)state;
    msg(2000, "nope"); /* a request racing the disconnect */
    assert_int_equal(F.pub_count, 0);
    connect_at(3000);
    assert_int_equal(F.pub_count, 2);
    expect_last("invalid JSON");
}

/* Texts that name the real problem. */
static void test_error_texts_name_the_problem(void **state)
{
    (void)state;
    connect_at(1000);
    static const char nul_key[] = "{\"GP16\\u0000\":1}";
    msg(2000, nul_key);
    expect_last("unknown key (it holds a NUL character)");
    char zeros[200] = "{\"GP16\":[0";
    for (int i = 0; i < 70; i++) strcat(zeros, ",0");
    strcat(zeros, "]}");
    msg(4000, zeros);
    expect_last("request too complex: too many keys or values");
}

/* An error 2^32 + 200 ms after the previous report is not held back by the
 * stale time of that report. */
static void test_error_report_after_clock_wrap(void **state)
{
    (void)state;
    CFG.publish_interval_s = 0;
    connect_at(1000);
    msg(2000, "bad");
    size_t pubs = F.pub_count;
    expect_last("invalid JSON");
    uint64_t t = 2000;
    for (; t < 2000u + 0x100000000ull; t += 3600000u) at((uint32_t)t);
    assert_int_equal(F.pub_count, pubs);
    msg((uint32_t)(2000u + 200u), "{\"GP99\":1}");
    assert_int_equal(F.pub_count, pubs + 1);
    expect_last("GP99 is not configured");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bad_input_table, setup_example),
        cmocka_unit_test_setup(test_error_texts_name_the_problem, setup_example),
        cmocka_unit_test_setup(test_error_report_after_clock_wrap, setup_example),
        cmocka_unit_test_setup(test_oversized_and_binary, setup_example),
        cmocka_unit_test_setup(test_errors_rate_limited_then_summarised, setup_example),
        cmocka_unit_test_setup(test_errors_not_sent_while_offline, setup_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
