/* The configuration image (src/core/config_image.c): CRC, writer, reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config_image.h"

#define REGION 4096u

static const char JSON[] = "{\"mqtt\":{\"broker_url\":\"mqtt://127.0.0.1\",\"client_id\":\"a\","
                           "\"topic\":\"t\"}}";
static const char PEM[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the CRC of an image edited by a test, as a writer would. */
static void reseal(uint8_t *img)
{
    size_t payload = (size_t)le32(img + 8) + 1u + le32(img + 12);
    uint32_t crc = config_image_crc32(0, img, 16);
    crc = config_image_crc32(crc, img + CONFIG_IMAGE_HEADER_SIZE, payload);
    put32(img + 16, crc);
}

/* An erased region holding the image of JSON and PEM; returns its size. */
static size_t make_image(uint8_t *region, bool with_ca)
{
    size_t written = 0;
    memset(region, 0xFF, REGION);
    assert_true(config_image_write(JSON, strlen(JSON), with_ca ? (const uint8_t *)PEM : NULL,
                                   with_ca ? strlen(PEM) : 0, region, REGION, &written));
    return written;
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    const uint8_t *v = (const uint8_t *)"123456789";
    assert_int_equal(config_image_crc32(0, v, 9), 0xCBF43926u);
    /* chained pieces give the same CRC as one call */
    uint32_t crc = config_image_crc32(0, v, 4);
    assert_int_equal(config_image_crc32(crc, v + 4, 5), 0xCBF43926u);
    assert_int_equal(config_image_crc32(0, v, 0), 0);
    /* another known value: one zero byte */
    assert_int_equal(config_image_crc32(0, (const uint8_t *)"", 1), 0xD202EF8Du);
}

static void test_round_trip_with_ca(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    size_t size = make_image(region, true);
    assert_int_equal(size, CONFIG_IMAGE_HEADER_SIZE + strlen(JSON) + 1 + strlen(PEM) + 1);
    assert_int_equal(size, config_image_size(strlen(JSON), strlen(PEM)));
    /* the layout of config_image.h */
    assert_int_equal(le32(region), CONFIG_IMAGE_MAGIC);
    assert_memory_equal(region, "MTCF", 4);
    assert_int_equal(le32(region + 4), CONFIG_IMAGE_VERSION);
    assert_int_equal(le32(region + 8), strlen(JSON));
    assert_int_equal(le32(region + 12), strlen(PEM) + 1);
    assert_int_equal(le32(region + 20), 0);
    assert_int_equal(region[size], 0xFF);   /* nothing written past the image */

    config_image_view v;
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_OK);
    assert_int_equal(v.json_len, strlen(JSON));
    assert_string_equal(v.json, JSON);
    assert_ptr_equal(v.json, (const char *)region + CONFIG_IMAGE_HEADER_SIZE);
    assert_int_equal(v.ca_pem_len, strlen(PEM) + 1);
    assert_memory_equal(v.ca_pem, PEM, strlen(PEM) + 1);
    /* exactly the image's size is enough; without out, only the status */
    assert_int_equal(config_image_read(region, size, &v), CONFIG_IMAGE_OK);
    assert_int_equal(config_image_read(region, size, NULL), CONFIG_IMAGE_OK);
}

static void test_round_trip_without_ca(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    size_t size = make_image(region, false);
    assert_int_equal(size, CONFIG_IMAGE_HEADER_SIZE + strlen(JSON) + 1);
    config_image_view v;
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_OK);
    assert_string_equal(v.json, JSON);
    assert_null(v.ca_pem);
    assert_int_equal(v.ca_pem_len, 0);
    assert_int_equal(le32(region + 12), 0);
}

static void test_empty_json(void **state)
{
    (void)state;
    uint8_t img[64];
    size_t written = 0;
    assert_true(config_image_write(NULL, 0, NULL, 0, img, sizeof img, &written));
    assert_int_equal(written, CONFIG_IMAGE_HEADER_SIZE + 1);
    config_image_view v;
    assert_int_equal(config_image_read(img, written, &v), CONFIG_IMAGE_OK);
    assert_int_equal(v.json_len, 0);
    assert_string_equal(v.json, "");
    /* a written pointer is optional */
    assert_true(config_image_write("{}", 2, NULL, 0, img, sizeof img, NULL));
    assert_int_equal(config_image_read(img, sizeof img, &v), CONFIG_IMAGE_OK);
    assert_string_equal(v.json, "{}");
}

static void test_write_refuses(void **state)
{
    (void)state;
    uint8_t img[256];
    uint8_t before[sizeof img];
    size_t written = 12345;
    memset(img, 0x5A, sizeof img);
    memcpy(before, img, sizeof img);
    const uint8_t *ca = (const uint8_t *)PEM;
    size_t need = config_image_size(strlen(JSON), strlen(PEM));

    assert_false(config_image_write(JSON, strlen(JSON), ca, strlen(PEM), NULL, 0, &written));
    assert_false(config_image_write(NULL, 3, NULL, 0, img, sizeof img, &written));
    assert_false(config_image_write(JSON, strlen(JSON), NULL, 5, img, sizeof img, &written));
    /* one byte short */
    assert_true(need <= sizeof img);
    assert_false(config_image_write(JSON, strlen(JSON), ca, strlen(PEM), img, need - 1, &written));
    /* lengths that do not fit the 32-bit fields (never read: refused first) */
#if SIZE_MAX > UINT32_MAX
    assert_false(config_image_write(JSON, (size_t)UINT32_MAX + 1u, NULL, 0, img, SIZE_MAX,
                                    &written));
    assert_false(config_image_write(JSON, 2, ca, (size_t)UINT32_MAX + 1u, img, SIZE_MAX,
                                    &written));
#endif
    assert_false(config_image_write(JSON, 2, ca, UINT32_MAX, img, SIZE_MAX, &written));
    /* a NUL inside either text */
    assert_false(config_image_write("{\0}", 3, NULL, 0, img, sizeof img, &written));
    assert_false(config_image_write("{}", 2, (const uint8_t *)"AB\0C", 4, img, sizeof img,
                                    &written));
    assert_memory_equal(img, before, sizeof img);
    assert_int_equal(written, 12345);
}

static void test_size_saturates(void **state)
{
    (void)state;
    assert_int_equal(config_image_size(0, 0), CONFIG_IMAGE_HEADER_SIZE + 1);
    assert_int_equal(config_image_size(10, 5), CONFIG_IMAGE_HEADER_SIZE + 11 + 6);
    assert_int_equal(config_image_size(SIZE_MAX, 0), SIZE_MAX);
    assert_int_equal(config_image_size(SIZE_MAX - CONFIG_IMAGE_HEADER_SIZE, 0), SIZE_MAX);
    assert_int_equal(config_image_size(0, SIZE_MAX), SIZE_MAX);
    assert_int_equal(config_image_size(SIZE_MAX / 2, SIZE_MAX / 2), SIZE_MAX);
    assert_int_equal(config_image_size(SIZE_MAX - CONFIG_IMAGE_HEADER_SIZE - 1, 0), SIZE_MAX);
}

static void test_erased_is_empty(void **state)
{
    (void)state;
    uint8_t region[REGION];
    memset(region, 0xFF, sizeof region);
    config_image_view v;
    memset(&v, 0x77, sizeof v);
    assert_int_equal(config_image_read(region, sizeof region, &v), CONFIG_IMAGE_EMPTY);
    assert_null(v.json);
    assert_int_equal(v.json_len, 0);
    assert_null(v.ca_pem);
    assert_int_equal(v.ca_pem_len, 0);
}

static void test_bad_magic_and_version(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    config_image_view v;

    make_image(region, true);
    memset(region, 0, 4);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_MAGIC);
    assert_null(v.json);

    make_image(region, true);
    put32(region + 4, CONFIG_IMAGE_VERSION + 1);
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_VERSION);
    put32(region + 4, 0);
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_VERSION);
    assert_null(v.json);
}

static void test_short_or_missing_region(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    size_t size = make_image(region, true);
    config_image_view v;
    assert_int_equal(config_image_read(NULL, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);
    /* every truncation of a valid image is refused */
    for (size_t n = 0; n < size; n++) {
        memset(&v, 0x77, sizeof v);
        assert_int_equal(config_image_read(region, n, &v), CONFIG_IMAGE_BAD_LENGTH);
        assert_null(v.json);
        assert_int_equal(v.ca_pem_len, 0);
    }
}

static void test_lengths_out_of_region(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    config_image_view v;
    size_t room = REGION - CONFIG_IMAGE_HEADER_SIZE;

    /* JSON filling the region exactly, then one byte more */
    make_image(region, false);
    put32(region + 8, (uint32_t)(room - 1));
    memset(region + CONFIG_IMAGE_HEADER_SIZE, 'x', room - 1);
    region[REGION - 1] = 0;
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_OK);
    assert_int_equal(v.json_len, room - 1);
    put32(region + 8, (uint32_t)room);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);

    /* CA one byte past the end */
    size_t size = make_image(region, true);
    put32(region + 12, le32(region + 12) + (uint32_t)(REGION - size) + 1);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);

    /* lengths whose 32-bit sum wraps around */
    make_image(region, true);
    put32(region + 8, 0xFFFFFFFFu);
    put32(region + 12, 0xFFFFFFFFu);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);
    put32(region + 8, 16);
    put32(region + 12, 0xFFFFFFF0u);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);
    assert_null(v.json);
}

static void test_reserved_must_be_zero(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    config_image_view v;
    make_image(region, true);
    region[23] = 1;
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);
}

static void test_terminators_checked(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    config_image_view v;
    size_t json_len = strlen(JSON);
    uint8_t *json = region + CONFIG_IMAGE_HEADER_SIZE;

    /* JSON without its NUL (and a correct CRC) */
    make_image(region, true);
    json[json_len] = ' ';
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);
    assert_null(v.json);

    /* a NUL inside the JSON */
    make_image(region, true);
    json[3] = 0;
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);

    /* CA without its NUL */
    size_t size = make_image(region, true);
    region[size - 1] = '\n';
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);

    /* a NUL inside the CA */
    make_image(region, true);
    json[json_len + 1 + 5] = 0;
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_BAD_LENGTH);

    /* a CA of only its NUL is well formed */
    make_image(region, false);
    put32(region + 12, 1);
    json[json_len + 1] = 0;
    reseal(region);
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_OK);
    assert_int_equal(v.ca_pem_len, 1);
    assert_non_null(v.ca_pem);
}

static void test_every_flipped_bit_is_caught(void **state)
{
    (void)state;
    static uint8_t region[REGION];
    size_t size = make_image(region, true);
    config_image_view v;
    for (size_t byte = 0; byte < size; byte++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            region[byte] ^= (uint8_t)(1u << bit);
            config_image_status st = config_image_read(region, REGION, &v);
            if (byte < 4)
                assert_int_equal(st, CONFIG_IMAGE_BAD_MAGIC);
            else if (byte < 8)
                assert_int_equal(st, CONFIG_IMAGE_BAD_VERSION);
            else if (byte < 16)   /* lengths: out of the region or the CRC no longer matches */
                assert_true(st == CONFIG_IMAGE_BAD_LENGTH || st == CONFIG_IMAGE_BAD_CRC);
            else if (byte < 20)
                assert_int_equal(st, CONFIG_IMAGE_BAD_CRC);
            else if (byte < 24)
                assert_int_equal(st, CONFIG_IMAGE_BAD_LENGTH);
            else
                assert_int_equal(st, CONFIG_IMAGE_BAD_CRC);
            assert_null(v.json);
            region[byte] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(config_image_read(region, REGION, &v), CONFIG_IMAGE_OK);
}

static void test_status_text(void **state)
{
    (void)state;
    const config_image_status all[] = {
        CONFIG_IMAGE_OK, CONFIG_IMAGE_EMPTY, CONFIG_IMAGE_BAD_MAGIC, CONFIG_IMAGE_BAD_VERSION,
        CONFIG_IMAGE_BAD_LENGTH, CONFIG_IMAGE_BAD_CRC,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *t = config_image_status_text(all[i]);
        assert_non_null(t);
        assert_true(strlen(t) > 5);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(t, config_image_status_text(all[k]));
    }
    assert_string_equal(config_image_status_text((config_image_status)99),
                        "unknown configuration image status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_round_trip_with_ca),
        cmocka_unit_test(test_round_trip_without_ca),
        cmocka_unit_test(test_empty_json),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_size_saturates),
        cmocka_unit_test(test_erased_is_empty),
        cmocka_unit_test(test_bad_magic_and_version),
        cmocka_unit_test(test_short_or_missing_region),
        cmocka_unit_test(test_lengths_out_of_region),
        cmocka_unit_test(test_reserved_must_be_zero),
        cmocka_unit_test(test_terminators_checked),
        cmocka_unit_test(test_every_flipped_bit_is_caught),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
