/*
 * libFuzzer target for the configuration image reader (the bytes a board
 * finds in its configuration flash region) and the UF2 block decoder.
 *
 * An accepted image points only inside the region, has NUL-terminated JSON
 * and CA of the lengths it claims, and written again gives the same bytes;
 * a refused one leaves the view zeroed. A decoded UF2 block points inside
 * the block and encodes back to the same bytes when its flags are ours.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_image.h"
#include "uf2.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)
#define REGION_MAX (64u * 1024u)

static void check_image(const uint8_t *data, size_t size)
{
    static uint8_t again[REGION_MAX];
    config_image_view v;
    memset(&v, 0xA5, sizeof v);
    config_image_status st = config_image_read(data, size, &v);
    CHECK(config_image_status_text(st) != NULL);
    if (st != CONFIG_IMAGE_OK) {
        CHECK(v.json == NULL && v.json_len == 0 && v.ca_pem == NULL && v.ca_pem_len == 0);
        return;
    }
    const uint8_t *json = (const uint8_t *)v.json;
    CHECK(json == data + CONFIG_IMAGE_HEADER_SIZE);
    CHECK(v.json_len < size - CONFIG_IMAGE_HEADER_SIZE);
    CHECK(strlen(v.json) == v.json_len);
    size_t ca_len = 0;
    if (v.ca_pem != NULL) {
        CHECK(v.ca_pem_len >= 1);
        CHECK(v.ca_pem == json + v.json_len + 1);
        CHECK(v.ca_pem + v.ca_pem_len <= data + size);
        CHECK(strlen((const char *)v.ca_pem) == v.ca_pem_len - 1);
        ca_len = v.ca_pem_len - 1;
    } else {
        CHECK(v.ca_pem_len == 0);
    }
    /* Written again, the same bytes (a CA of only its NUL is written as none,
     * so it is compared without the CA). */
    size_t written = 0;
    if (size > REGION_MAX)
        return;
    CHECK(config_image_write(v.json, v.json_len, v.ca_pem, ca_len, again, sizeof again, &written));
    if (ca_len > 0 || v.ca_pem == NULL) {
        CHECK(written <= size);
        CHECK(memcmp(again, data, written) == 0);
    }
}

static void check_uf2(const uint8_t *data, size_t size)
{
    uint8_t again[UF2_BLOCK_SIZE];
    uf2_block b;
    uf2_status st = uf2_decode_block(data, size < UF2_BLOCK_SIZE ? size : UF2_BLOCK_SIZE, &b);
    CHECK(uf2_status_text(st) != NULL);
    if (st != UF2_OK) {
        CHECK(b.payload == NULL && b.payload_len == 0);
        return;
    }
    CHECK(b.payload_len <= UF2_MAX_PAYLOAD && b.block_no < b.block_count);
    CHECK(b.payload >= data && b.payload + b.payload_len <= data + UF2_BLOCK_SIZE);
    CHECK((b.flags & UF2_FLAG_FAMILY_ID) != 0);
    CHECK(uf2_encode_block(again, b.address, b.payload, b.payload_len, b.block_no, b.block_count,
                           b.family));
    if (b.flags == UF2_FLAG_FAMILY_ID) {
        CHECK(memcmp(again, data, 32 + b.payload_len) == 0);
        CHECK(memcmp(again + 508, data + 508, 4) == 0);
    }
    uf2_sequence s;
    uf2_sequence_init(&s, b.family, 0);
    CHECK(uf2_sequence_next(&s, data, UF2_BLOCK_SIZE, NULL) ==
          (b.block_no == 0 ? UF2_OK : UF2_OUT_OF_ORDER));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_image(data, size);
    check_uf2(data, size);
    return 0;
}
