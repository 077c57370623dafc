/* Unit tests of the MQTT 3.1.1 packet codec: every encoder and decoder path,
 * byte-exact output and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_codec.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

static mqtt_connect_options basic_connect(void)
{
    mqtt_connect_options o;
    memset(&o, 0, sizeof o);
    o.client_id = "dev1";
    o.clean_session = true;
    o.keepalive_s = 60;
    return o;
}

static void test_connect_minimal(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    mqtt_connect_options o = basic_connect();
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'd', 'e',
                               'v', '1'));
}

static void test_connect_full(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = 0;
    mqtt_connect_options o = basic_connect();
    o.clean_session = false;
    o.keepalive_s = 0x1234;
    o.username = "u";
    o.password = "pw";
    o.will_topic = "w/t";
    o.will_payload = (const uint8_t *)"off";
    o.will_payload_len = 3;
    o.will_qos = 1;
    o.will_retain = true;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_OK);
    assert_bytes(buf, n,
                 BYTES(0x10, 33, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xEC, 0x12, 0x34, 0, 4, 'd', 'e',
                       'v', '1', 0, 3, 'w', '/', 't', 0, 3, 'o', 'f', 'f', 0, 1, 'u', 0, 2, 'p',
                       'w'));
    /* Will with an empty payload, username without password. */
    o.will_payload = NULL;
    o.will_payload_len = 0;
    o.will_qos = 0;
    o.will_retain = false;
    o.password = NULL;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_OK);
    assert_int_equal(buf[9], 0x84);
    assert_int_equal(n, 2 + 10 + 6 + 5 + 2 + 3);
}

static void test_connect_bad_arguments(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = 0;
    mqtt_connect_options o = basic_connect();
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, NULL, &n), MQTT_ERR_BAD_ARGUMENT);
    o.client_id = NULL;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.client_id = "0123456789012345678901234567890123456789012345678901234567890123456789";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    /* Empty id: only with a clean session. */
    o.client_id = "";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_OK);
    o.clean_session = false;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o = basic_connect();
    o.client_id = "a\xC0\x80";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o = basic_connect();
    o.password = "pw";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.username = "\xFF";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o = basic_connect();
    o.will_topic = "a/+";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.will_topic = "a";
    o.will_qos = 3;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.will_qos = 0;
    o.will_payload_len = 70000;
    o.will_payload = (const uint8_t *)"x";
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.will_payload = NULL;
    o.will_payload_len = 1;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    char long_topic[MQTT_MAX_TOPIC_LEN + 2];
    memset(long_topic, 'a', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    o.will_payload_len = 0;
    o.will_topic = long_topic;
    assert_int_equal(mqtt_encode_connect(buf, sizeof buf, &o, &n), MQTT_ERR_BAD_ARGUMENT);
}

static void test_connect_long_strings(void **state)
{
    (void)state;
    static char big[70000];
    static uint8_t out[140000];
    size_t n = 0;
    memset(big, 'x', sizeof big - 1);
    mqtt_connect_options o = basic_connect();
    o.username = big;
    assert_int_equal(mqtt_encode_connect(out, sizeof out, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    o.username = "u";
    o.password = big;
    assert_int_equal(mqtt_encode_connect(out, sizeof out, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    /* 65535 bytes is the longest string: remaining length takes 3 bytes. */
    big[65535] = '\0';
    assert_int_equal(mqtt_encode_connect(out, sizeof out, &o, &n), MQTT_OK);
    assert_int_equal(n, 1 + 3 + 10 + 6 + 3 + 2 + 65535);
    assert_int_equal(out[1], 0x94);
    assert_int_equal(out[2], 0x80);
    assert_int_equal(out[3], 0x04);
}

static void test_connect_buffer_too_small(void **state)
{
    (void)state;
    uint8_t buf[18];
    size_t n = 0;
    mqtt_connect_options o = basic_connect();
    assert_int_equal(mqtt_encode_connect(buf, 17, &o, &n), MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_encode_connect(NULL, 17, &o, &n), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_connect(buf, 18, &o, NULL), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_connect(buf, 18, &o, &n), MQTT_OK);
}

static void test_publish_encode(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    mqtt_publish p = {.topic = "a/b", .topic_len = 3, .payload = (const uint8_t *)"hi",
                      .payload_len = 2};
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x30, 7, 0, 3, 'a', '/', 'b', 'h', 'i'));
    p.qos = 1;
    p.packet_id = 0x0102;
    p.dup = true;
    p.retain = true;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x3B, 9, 0, 3, 'a', '/', 'b', 1, 2, 'h', 'i'));
    p.payload = NULL;
    p.payload_len = 0;
    p.qos = 2;
    p.dup = false;
    p.retain = false;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x34, 7, 0, 3, 'a', '/', 'b', 1, 2));
    assert_int_equal(mqtt_encode_publish(buf, 8, &p, &n), MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_encode_publish(NULL, 8, &p, &n), MQTT_ERR_BAD_ARGUMENT);
}

static void test_publish_encode_bad(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    mqtt_publish ok = {.topic = "t", .topic_len = 1, .qos = 1, .packet_id = 1};
    mqtt_publish p = ok;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, NULL, &n), MQTT_ERR_BAD_ARGUMENT);
    p.topic_len = MQTT_MAX_TOPIC_LEN + 1;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p = ok;
    p.topic = "#";
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p = ok;
    p.qos = 3;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p = ok;
    p.packet_id = 0;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p = ok;
    p.qos = 0;
    p.dup = true;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p = ok;
    p.payload_len = 1;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    p.payload = buf;
    p.payload_len = MQTT_MAX_REMAINING_LEN;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BAD_ARGUMENT);
    /* The largest payload is accepted by the checks, then does not fit. */
    p.payload_len = MQTT_MAX_REMAINING_LEN - 4 - MQTT_MAX_TOPIC_LEN;
    assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_ERR_BUFFER_TOO_SMALL);
}

static void test_remaining_length_sizes(void **state)
{
    (void)state;
    static uint8_t payload[2100000];
    static uint8_t buf[2100100];
    size_t n = 0;
    mqtt_publish p = {.topic = "t", .topic_len = 1, .payload = payload};
    const struct {
        size_t payload_len;
        size_t header_len;
    } cases[] = {{124, 2}, {125, 3}, {16380, 3}, {16381, 4}, {2097148, 4}, {2097149, 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p.payload_len = cases[i].payload_len;
        assert_int_equal(mqtt_encode_publish(buf, sizeof buf, &p, &n), MQTT_OK);
        assert_int_equal(n, cases[i].header_len + 3 + cases[i].payload_len);
        uint8_t first = 0;
        uint32_t rl = 0;
        size_t hl = 0;
        assert_int_equal(mqtt_decode_fixed_header(buf, n, &first, &rl, &hl), MQTT_OK);
        assert_int_equal(hl, cases[i].header_len);
        assert_int_equal(rl, 3 + cases[i].payload_len);
        mqtt_packet pk;
        assert_int_equal(mqtt_decode_packet(buf, n, &pk), MQTT_OK);
        assert_int_equal(pk.u.publish.payload_len, cases[i].payload_len);
    }
}

static void test_publish_packet_size(void **state)
{
    (void)state;
    assert_int_equal(mqtt_publish_packet_size(1, 2, 0), 7);
    assert_int_equal(mqtt_publish_packet_size(1, 2, 1), 9);
    assert_int_equal(mqtt_publish_packet_size(1, 124, 0), 129);
    assert_int_equal(mqtt_publish_packet_size(1, 125, 0), 131);
    assert_int_equal(mqtt_publish_packet_size(65536, 0, 0), SIZE_MAX);
    assert_int_equal(mqtt_publish_packet_size(1, MQTT_MAX_REMAINING_LEN + 1u, 0), SIZE_MAX);
    assert_int_equal(mqtt_publish_packet_size(1, MQTT_MAX_REMAINING_LEN - 2u, 0), SIZE_MAX);
    assert_int_equal(mqtt_publish_packet_size(1, MQTT_MAX_REMAINING_LEN - 3u, 0),
                     (size_t)MQTT_MAX_REMAINING_LEN + 5u);
    assert_int_equal(mqtt_publish_packet_size(1, MQTT_MAX_REMAINING_LEN - 4u, 1), SIZE_MAX);
    assert_int_equal(mqtt_publish_packet_size(1, MQTT_MAX_REMAINING_LEN - 5u, 1),
                     (size_t)MQTT_MAX_REMAINING_LEN + 5u);
}

static void test_small_encoders(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(mqtt_encode_puback(buf, sizeof buf, 0xABCD, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x40, 2, 0xAB, 0xCD));
    assert_int_equal(mqtt_encode_puback(buf, sizeof buf, 0, &n), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_puback(buf, 3, 1, &n), MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_encode_pingreq(buf, sizeof buf, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0xC0, 0));
    assert_int_equal(mqtt_encode_pingreq(buf, 1, &n), MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_encode_disconnect(buf, sizeof buf, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0xE0, 0));
    assert_int_equal(mqtt_encode_disconnect(NULL, 2, &n), MQTT_ERR_BAD_ARGUMENT);
}

static void test_subscribe_encode(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 7, "a/+/#", 1, &n), MQTT_OK);
    assert_bytes(buf, n, BYTES(0x82, 10, 0, 7, 0, 5, 'a', '/', '+', '/', '#', 1));
    assert_int_equal(mqtt_encode_subscribe(buf, 11, 7, "a/+/#", 1, &n),
                     MQTT_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 0, "a", 1, &n), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 1, "a", 3, &n), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 1, NULL, 0, &n),
                     MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 1, "a/#/b", 0, &n),
                     MQTT_ERR_BAD_ARGUMENT);
    char long_filter[MQTT_MAX_TOPIC_LEN + 2];
    memset(long_filter, 'a', sizeof long_filter - 1);
    long_filter[sizeof long_filter - 1] = '\0';
    assert_int_equal(mqtt_encode_subscribe(buf, sizeof buf, 1, long_filter, 0, &n),
                     MQTT_ERR_BAD_ARGUMENT);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(mqtt_utf8_valid("", 0));
    assert_true(mqtt_utf8_valid("abc", 3));
    assert_true(mqtt_utf8_valid("\xC3\xA9", 2));             /* U+00E9 */
    assert_true(mqtt_utf8_valid("\xE2\x82\xAC", 3));         /* U+20AC */
    assert_true(mqtt_utf8_valid("\xF0\x9F\x98\x80", 4));     /* U+1F600 */
    assert_true(mqtt_utf8_valid("\xF4\x8F\xBF\xBF", 4));     /* U+10FFFF */
    assert_false(mqtt_utf8_valid("a\0b", 3));                /* U+0000 */
    assert_false(mqtt_utf8_valid("\x80", 1));                /* lone continuation */
    assert_false(mqtt_utf8_valid("\xC0\x80", 2));            /* overlong NUL */
    assert_false(mqtt_utf8_valid("\xC1\xBF", 2));            /* overlong */
    assert_false(mqtt_utf8_valid("\xF5\x80\x80\x80", 4));    /* above F4 */
    assert_false(mqtt_utf8_valid("\xC3", 1));                /* truncated */
    assert_false(mqtt_utf8_valid("\xE2\x82", 2));            /* truncated */
    assert_false(mqtt_utf8_valid("\xC3\x28", 2));            /* bad continuation */
    assert_false(mqtt_utf8_valid("\xE0\x80\x80", 3));        /* overlong 3-byte */
    assert_false(mqtt_utf8_valid("\xF0\x80\x80\x80", 4));    /* overlong 4-byte */
    assert_false(mqtt_utf8_valid("\xED\xA0\x80", 3));        /* surrogate D800 */
    assert_false(mqtt_utf8_valid("\xED\xBF\xBF", 3));        /* surrogate DFFF */
    assert_true(mqtt_utf8_valid("\xEE\x80\x80", 3));         /* U+E000 */
    assert_false(mqtt_utf8_valid("\xF4\x90\x80\x80", 4));    /* U+110000 */
}

static void test_topic_rules(void **state)
{
    (void)state;
    assert_true(mqtt_topic_name_valid("a/b", 3));
    assert_true(mqtt_topic_name_valid("/", 1));
    assert_false(mqtt_topic_name_valid(NULL, 1));
    assert_false(mqtt_topic_name_valid("a", 0));
    assert_false(mqtt_topic_name_valid("a", 65536));
    assert_false(mqtt_topic_name_valid("a+", 2));
    assert_false(mqtt_topic_name_valid("a#", 2));
    assert_false(mqtt_topic_name_valid("\xFF", 1));
    const char *good[] = {"#", "+", "a/#", "+/+", "a/+/b", "/+", "+/", "sport/tennis/+/#"};
    const char *bad[] = {"a#", "a/#/b", "#/", "a+", "+a", "a/b+/c", "##"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(mqtt_topic_filter_valid(good[i], strlen(good[i])));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(mqtt_topic_filter_valid(bad[i], strlen(bad[i])));
    }
    assert_false(mqtt_topic_filter_valid(NULL, 1));
    assert_false(mqtt_topic_filter_valid("a", 0));
    assert_false(mqtt_topic_filter_valid("a", 65536));
    assert_false(mqtt_topic_filter_valid("\xC0", 1));
}

static void test_fixed_header(void **state)
{
    (void)state;
    uint8_t first = 0;
    uint32_t rl = 0;
    size_t hl = 0;
    assert_int_equal(mqtt_decode_fixed_header(NULL, 0, &first, &rl, &hl), MQTT_ERR_NEED_MORE);
    assert_int_equal(mqtt_decode_fixed_header(NULL, 1, &first, &rl, &hl), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30), NULL, &rl, &hl), MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30), &first, NULL, &hl),
                     MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30), &first, &rl, NULL),
                     MQTT_ERR_BAD_ARGUMENT);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30), &first, &rl, &hl), MQTT_ERR_NEED_MORE);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30, 0x80), &first, &rl, &hl),
                     MQTT_ERR_NEED_MORE);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30, 0xFF, 0xFF, 0xFF), &first, &rl, &hl),
                     MQTT_ERR_NEED_MORE);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0x7F), &first, &rl,
                                              &hl),
                     MQTT_OK);
    assert_int_equal(rl, MQTT_MAX_REMAINING_LEN);
    assert_int_equal(hl, 5);
    assert_int_equal(first, 0x30);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), &first,
                                              &rl, &hl),
                     MQTT_ERR_MALFORMED);
    assert_int_equal(mqtt_decode_fixed_header(BYTES(0xD0, 0x00), &first, &rl, &hl), MQTT_OK);
    assert_int_equal(rl, 0);
    assert_int_equal(hl, 2);
}

static mqtt_status decode(const uint8_t *b, size_t n, mqtt_packet *pk)
{
    return mqtt_decode_packet(b, n, pk);
}

static void test_decode_connack(void **state)
{
    (void)state;
    mqtt_packet pk;
    assert_int_equal(decode(BYTES(0x20, 2, 1, 0), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_CONNACK);
    assert_true(pk.u.connack.session_present);
    assert_int_equal(pk.u.connack.return_code, 0);
    assert_int_equal(decode(BYTES(0x20, 2, 0, 5), &pk), MQTT_OK);
    assert_false(pk.u.connack.session_present);
    assert_int_equal(pk.u.connack.return_code, 5);
    assert_int_equal(decode(BYTES(0x20, 2, 0, 200), &pk), MQTT_OK);
    assert_int_equal(decode(BYTES(0x21, 2, 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x20, 3, 0, 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x20, 2, 2, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x20, 2, 1, 4), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x20, 2, 0), &pk), MQTT_ERR_NEED_MORE);
    assert_int_equal(decode(BYTES(0x20), &pk), MQTT_ERR_NEED_MORE);
    assert_int_equal(mqtt_decode_packet(BYTES(0x20, 2, 0, 0), NULL), MQTT_ERR_BAD_ARGUMENT);
}

static void test_decode_publish(void **state)
{
    (void)state;
    mqtt_packet pk;
    assert_int_equal(decode(BYTES(0x31, 6, 0, 2, 'a', 'b', 'x', 'y'), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PUBLISH);
    assert_int_equal(pk.u.publish.qos, 0);
    assert_true(pk.u.publish.retain);
    assert_false(pk.u.publish.dup);
    assert_int_equal(pk.u.publish.topic_len, 2);
    assert_memory_equal(pk.u.publish.topic, "ab", 2);
    assert_int_equal(pk.u.publish.payload_len, 2);
    assert_memory_equal(pk.u.publish.payload, "xy", 2);
    assert_int_equal(decode(BYTES(0x3A, 5, 0, 1, 'a', 0x12, 0x34), &pk), MQTT_OK);
    assert_int_equal(pk.u.publish.qos, 1);
    assert_true(pk.u.publish.dup);
    assert_int_equal(pk.u.publish.packet_id, 0x1234);
    assert_int_equal(pk.u.publish.payload_len, 0);
    assert_int_equal(decode(BYTES(0x34, 5, 0, 1, 'a', 0, 1), &pk), MQTT_OK);
    assert_int_equal(pk.u.publish.qos, 2);
    /* QoS 3, DUP on QoS 0, too short, topic past the end, id 0, bad topics. */
    assert_int_equal(decode(BYTES(0x36, 5, 0, 1, 'a', 0, 1), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x38, 3, 0, 1, 'a'), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 1, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 3, 0, 2, 'a'), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x32, 4, 0, 1, 'a', 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x32, 5, 0, 1, 'a', 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 2, 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 3, 0, 1, '#'), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 3, 0, 1, '+'), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 3, 0, 1, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 4, 0, 2, 0xC3, 0x28), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x30, 5, 0, 1, 'a', 'x'), &pk), MQTT_ERR_NEED_MORE);
}

static void test_decode_acks(void **state)
{
    (void)state;
    mqtt_packet pk;
    assert_int_equal(decode(BYTES(0x40, 2, 0, 9), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PUBACK);
    assert_int_equal(pk.u.packet_id, 9);
    assert_int_equal(decode(BYTES(0x50, 2, 0, 9), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PUBREC);
    assert_int_equal(decode(BYTES(0x62, 2, 0, 9), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PUBREL);
    assert_int_equal(decode(BYTES(0x70, 2, 0, 9), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PUBCOMP);
    assert_int_equal(decode(BYTES(0xB0, 2, 0, 9), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_UNSUBACK);
    assert_int_equal(decode(BYTES(0x40, 2, 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x41, 2, 0, 1), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x60, 2, 0, 1), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x40, 3, 0, 1, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x40, 1, 0), &pk), MQTT_ERR_MALFORMED);
}

static void test_decode_suback(void **state)
{
    (void)state;
    mqtt_packet pk;
    assert_int_equal(decode(BYTES(0x90, 3, 0, 5, 1), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_SUBACK);
    assert_int_equal(pk.u.suback.packet_id, 5);
    assert_int_equal(pk.u.suback.return_code, 1);
    assert_int_equal(decode(BYTES(0x90, 5, 0, 5, 0x80, 0, 2), &pk), MQTT_OK);
    assert_int_equal(pk.u.suback.return_code, 0x80);
    assert_int_equal(decode(BYTES(0x90, 3, 0, 5, 3), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x90, 4, 0, 5, 0, 0x81), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x90, 3, 0, 0, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x90, 2, 0, 5), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0x92, 3, 0, 5, 0), &pk), MQTT_ERR_MALFORMED);
}

static void test_decode_other_types(void **state)
{
    (void)state;
    mqtt_packet pk;
    assert_int_equal(decode(BYTES(0xD0, 0), &pk), MQTT_OK);
    assert_int_equal(pk.type, MQTT_PINGRESP);
    assert_int_equal(decode(BYTES(0xD1, 0), &pk), MQTT_ERR_MALFORMED);
    assert_int_equal(decode(BYTES(0xD0, 1, 0), &pk), MQTT_ERR_MALFORMED);
    /* Types a server never sends, and the reserved ones. */
    const uint8_t firsts[] = {0x00, 0x10, 0x82, 0xA2, 0xC0, 0xE0, 0xF0};
    for (size_t i = 0; i < sizeof firsts; i++) {
        uint8_t b[2] = {firsts[i], 0};
        assert_int_equal(decode(b, 2, &pk), MQTT_ERR_MALFORMED);
    }
}

static void test_texts(void **state)
{
    (void)state;
    for (int s = MQTT_OK; s <= MQTT_ERR_PROTOCOL; s++) {
        assert_string_not_equal(mqtt_status_name((mqtt_status)s), "unknown status");
    }
    assert_string_equal(mqtt_status_name((mqtt_status)99), "unknown status");
    assert_string_equal(mqtt_connack_text(0), "connection accepted");
    assert_string_equal(mqtt_connack_text(4), "refused: bad user name or password");
    assert_string_equal(mqtt_connack_text(5), "refused: not authorized");
    assert_string_equal(mqtt_connack_text(6), "refused: reserved return code");
    assert_string_equal(mqtt_connack_text(255), "refused: reserved return code");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_minimal),
        cmocka_unit_test(test_connect_full),
        cmocka_unit_test(test_connect_bad_arguments),
        cmocka_unit_test(test_connect_long_strings),
        cmocka_unit_test(test_connect_buffer_too_small),
        cmocka_unit_test(test_publish_encode),
        cmocka_unit_test(test_publish_encode_bad),
        cmocka_unit_test(test_remaining_length_sizes),
        cmocka_unit_test(test_publish_packet_size),
        cmocka_unit_test(test_small_encoders),
        cmocka_unit_test(test_subscribe_encode),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_topic_rules),
        cmocka_unit_test(test_fixed_header),
        cmocka_unit_test(test_decode_connack),
        cmocka_unit_test(test_decode_publish),
        cmocka_unit_test(test_decode_acks),
        cmocka_unit_test(test_decode_suback),
        cmocka_unit_test(test_decode_other_types),
        cmocka_unit_test(test_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
