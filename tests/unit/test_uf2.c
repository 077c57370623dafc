/* UF2 blocks (src/core/uf2.c): encoder, decoder and file sequence checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uf2.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fill(uint8_t *payload, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(seed + i * 7u);
}

/* Block number no of count, 256 bytes at base + 256 * no. */
static void rp2040_block(uint8_t *out, uint32_t base, uint32_t no, uint32_t count)
{
    uint8_t payload[UF2_RP2040_PAYLOAD];
    fill(payload, sizeof payload, (uint8_t)no);
    assert_true(uf2_encode_block(out, base + no * UF2_RP2040_PAYLOAD, payload, sizeof payload, no,
                                 count, UF2_FAMILY_RP2040));
}

static void test_encode_layout(void **state)
{
    (void)state;
    uint8_t block[UF2_BLOCK_SIZE];
    uint8_t payload[256];
    fill(payload, sizeof payload, 3);
    memset(block, 0xAA, sizeof block);
    assert_true(uf2_encode_block(block, 0x101F0100u, payload, sizeof payload, 1, 4,
                                 UF2_FAMILY_RP2040));
    assert_memory_equal(block, "UF2\n", 4);
    assert_int_equal(le32(block + 0), 0x0A324655u);
    assert_int_equal(le32(block + 4), 0x9E5D5157u);
    assert_int_equal(le32(block + 8), 0x00002000u);
    assert_int_equal(le32(block + 12), 0x101F0100u);
    assert_int_equal(le32(block + 16), 256);
    assert_int_equal(le32(block + 20), 1);
    assert_int_equal(le32(block + 24), 4);
    assert_int_equal(le32(block + 28), 0xE48BFF56u);
    assert_memory_equal(block + 32, payload, 256);
    for (size_t i = 32 + 256; i < 508; i++)
        assert_int_equal(block[i], 0);
    assert_int_equal(le32(block + 508), 0x0AB16F30u);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t block[UF2_BLOCK_SIZE];
    uint8_t payload[UF2_MAX_PAYLOAD];
    fill(payload, sizeof payload, 9);
    const size_t sizes[] = {0, 1, 255, 256, UF2_MAX_PAYLOAD};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uf2_block b;
        assert_true(uf2_encode_block(block, 0x10000000u + 256u * (uint32_t)i,
                                     sizes[i] ? payload : NULL, sizes[i], (uint32_t)i, 5, 0x1234u));
        assert_int_equal(uf2_decode_block(block, sizeof block, &b), UF2_OK);
        assert_int_equal(b.flags, UF2_FLAG_FAMILY_ID);
        assert_int_equal(b.address, 0x10000000u + 256u * i);
        assert_int_equal(b.block_no, i);
        assert_int_equal(b.block_count, 5);
        assert_int_equal(b.family, 0x1234u);
        assert_int_equal(b.payload_len, sizes[i]);
        assert_ptr_equal(b.payload, block + 32);
        if (sizes[i])
            assert_memory_equal(b.payload, payload, sizes[i]);
        assert_int_equal(uf2_decode_block(block, sizeof block, NULL), UF2_OK);
    }
}

static void test_encode_refuses(void **state)
{
    (void)state;
    uint8_t block[UF2_BLOCK_SIZE];
    uint8_t before[UF2_BLOCK_SIZE];
    uint8_t payload[UF2_MAX_PAYLOAD + 1] = {0};
    memset(block, 0x5A, sizeof block);
    memcpy(before, block, sizeof block);
    assert_false(uf2_encode_block(NULL, 0, payload, 16, 0, 1, UF2_FAMILY_RP2040));
    assert_false(uf2_encode_block(block, 0, NULL, 16, 0, 1, UF2_FAMILY_RP2040));
    assert_false(uf2_encode_block(block, 0, payload, UF2_MAX_PAYLOAD + 1, 0, 1,
                                  UF2_FAMILY_RP2040));
    assert_false(uf2_encode_block(block, 0, payload, 16, 1, 1, UF2_FAMILY_RP2040));
    assert_false(uf2_encode_block(block, 0, payload, 16, 0, 0, UF2_FAMILY_RP2040));
    assert_memory_equal(block, before, sizeof block);
}

static void check_decode(const uint8_t *block, size_t size, uf2_status expect)
{
    uf2_block b;
    memset(&b, 0x77, sizeof b);
    assert_int_equal(uf2_decode_block(block, size, &b), expect);
    if (expect != UF2_OK) {
        assert_null(b.payload);
        assert_int_equal(b.payload_len, 0);
        assert_int_equal(b.address, 0);
    }
}

static void test_decode_rejects(void **state)
{
    (void)state;
    uint8_t good[UF2_BLOCK_SIZE];
    uint8_t b[UF2_BLOCK_SIZE];
    rp2040_block(good, 0x10000000u, 2, 3);

    check_decode(good, sizeof good, UF2_OK);
    check_decode(NULL, UF2_BLOCK_SIZE, UF2_BAD_SIZE);
    check_decode(good, UF2_BLOCK_SIZE - 1, UF2_BAD_SIZE);
    check_decode(good, UF2_BLOCK_SIZE + 1, UF2_BAD_SIZE);

    memcpy(b, good, sizeof b);
    b[0] ^= 1;
    check_decode(b, sizeof b, UF2_BAD_MAGIC);
    memcpy(b, good, sizeof b);
    b[7] ^= 0x80;
    check_decode(b, sizeof b, UF2_BAD_MAGIC);
    memcpy(b, good, sizeof b);
    b[511] ^= 0x10;
    check_decode(b, sizeof b, UF2_BAD_END_MAGIC);

    /* flags */
    memcpy(b, good, sizeof b);
    put32(b + 8, UF2_FLAG_FAMILY_ID | 0x2u);
    check_decode(b, sizeof b, UF2_BAD_FLAGS);
    put32(b + 8, UF2_FLAG_FAMILY_ID | 0x80000000u);
    check_decode(b, sizeof b, UF2_BAD_FLAGS);
    put32(b + 8, UF2_FLAG_FAMILY_ID | UF2_FLAG_FILE_CONTAINER);
    check_decode(b, sizeof b, UF2_BAD_FLAGS);
    put32(b + 8, 0);
    check_decode(b, sizeof b, UF2_NO_FAMILY);
    put32(b + 8, UF2_FLAG_MD5);
    check_decode(b, sizeof b, UF2_NO_FAMILY);
    /* known flags with the family are fine: the caller sees them */
    put32(b + 8, UF2_FLAG_FAMILY_ID | UF2_FLAG_NOT_MAIN_FLASH | UF2_FLAG_MD5 |
                     UF2_FLAG_EXTENSION_TAGS);
    uf2_block out;
    assert_int_equal(uf2_decode_block(b, sizeof b, &out), UF2_OK);
    assert_int_equal(out.flags & UF2_FLAG_NOT_MAIN_FLASH, UF2_FLAG_NOT_MAIN_FLASH);

    /* payload size */
    memcpy(b, good, sizeof b);
    put32(b + 16, UF2_MAX_PAYLOAD);
    check_decode(b, sizeof b, UF2_OK);
    put32(b + 16, UF2_MAX_PAYLOAD + 1);
    check_decode(b, sizeof b, UF2_BAD_PAYLOAD_SIZE);
    put32(b + 16, 0xFFFFFFFFu);
    check_decode(b, sizeof b, UF2_BAD_PAYLOAD_SIZE);

    /* numbering */
    memcpy(b, good, sizeof b);
    put32(b + 20, 3);
    check_decode(b, sizeof b, UF2_BAD_NUMBER);
    put32(b + 20, 0);
    put32(b + 24, 0);
    check_decode(b, sizeof b, UF2_BAD_NUMBER);
}

static void test_sequence_accepts_a_file(void **state)
{
    (void)state;
    uf2_sequence s;
    uint8_t b[UF2_BLOCK_SIZE];
    uf2_sequence_init(&s, UF2_FAMILY_RP2040, UF2_RP2040_PAYLOAD);
    assert_false(uf2_sequence_complete(&s));
    for (uint32_t i = 0; i < 4; i++) {
        uf2_block out;
        rp2040_block(b, 0x101F0000u, i, 4);
        assert_int_equal(uf2_sequence_next(&s, b, sizeof b, &out), UF2_OK);
        assert_int_equal(out.address, 0x101F0000u + 256u * i);
        assert_int_equal(out.block_no, i);
        assert_int_equal(uf2_sequence_complete(&s), i == 3);
    }
    /* after the last one */
    rp2040_block(b, 0x101F0000u, 4, 5);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_TOO_MANY);
    rp2040_block(b, 0x101F0000u, 0, 4);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_TOO_MANY);
    assert_true(uf2_sequence_complete(&s));

    /* any payload size when none is required */
    uf2_sequence_init(&s, 0x1234u, 0);
    uint8_t payload[100] = {1, 2, 3};
    assert_true(uf2_encode_block(b, 0x20000003u, payload, sizeof payload, 0, 1, 0x1234u));
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OK);
    assert_true(uf2_sequence_complete(&s));
}

static void test_sequence_rejects(void **state)
{
    (void)state;
    uf2_sequence s;
    uint8_t b[UF2_BLOCK_SIZE];
    uf2_block out;
    uint8_t payload[UF2_RP2040_PAYLOAD] = {0};

    /* a bad block */
    uf2_sequence_init(&s, UF2_FAMILY_RP2040, UF2_RP2040_PAYLOAD);
    rp2040_block(b, 0x10000000u, 0, 2);
    b[508] = 0;
    memset(&out, 0x77, sizeof out);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, &out), UF2_BAD_END_MAGIC);
    assert_null(out.payload);

    /* another family */
    assert_true(uf2_encode_block(b, 0x10000000u, payload, sizeof payload, 0, 2, 0xADA52840u));
    memset(&out, 0x77, sizeof out);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, &out), UF2_WRONG_FAMILY);
    assert_null(out.payload);

    /* payload size and alignment the RP2040 needs */
    assert_true(uf2_encode_block(b, 0x10000000u, payload, 255, 0, 2, UF2_FAMILY_RP2040));
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_BAD_PAYLOAD_SIZE);
    assert_true(uf2_encode_block(b, 0x10000080u, payload, 256, 0, 2, UF2_FAMILY_RP2040));
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_BAD_ALIGNMENT);

    /* the first block must be block 0 */
    rp2040_block(b, 0x10000000u, 1, 2);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OUT_OF_ORDER);
    assert_int_equal(s.next, 0);

    /* a gap, a repeat, a changed count */
    rp2040_block(b, 0x10000000u, 0, 3);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OK);
    rp2040_block(b, 0x10000000u, 2, 3);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OUT_OF_ORDER);
    rp2040_block(b, 0x10000000u, 0, 3);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OUT_OF_ORDER);
    rp2040_block(b, 0x10000000u, 1, 4);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_COUNT_CHANGED);
    assert_false(uf2_sequence_complete(&s));
    /* the sequence goes on after a refused block */
    rp2040_block(b, 0x10000000u, 1, 3);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OK);
    rp2040_block(b, 0x10000000u, 2, 3);
    assert_int_equal(uf2_sequence_next(&s, b, sizeof b, NULL), UF2_OK);
    assert_true(uf2_sequence_complete(&s));
}

static void test_status_text(void **state)
{
    (void)state;
    for (int i = UF2_OK; i <= UF2_TOO_MANY; i++) {
        const char *t = uf2_status_text((uf2_status)i);
        assert_true(strlen(t) > 5);
        for (int k = UF2_OK; k < i; k++)
            assert_string_not_equal(t, uf2_status_text((uf2_status)k));
    }
    assert_string_equal(uf2_status_text((uf2_status)99), "unknown UF2 status");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_sequence_accepts_a_file),
        cmocka_unit_test(test_sequence_rejects),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
