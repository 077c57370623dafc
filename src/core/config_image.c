/* The configuration image; see config_image.h for the layout. */
#include "config_image.h"

#include "byte_order.h"

#include <string.h>

#define OFF_MAGIC 0u
#define OFF_VERSION 4u
#define OFF_JSON_LEN 8u
#define OFF_CA_LEN 12u
#define OFF_CRC 16u
#define OFF_RESERVED 20u
#define CRC_COVERED_HEADER 16u   /* magic, version, json_len, ca_len */
#define ERASED_WORD 0xFFFFFFFFu

static bool fits_u32(size_t v)
{
#if SIZE_MAX > UINT32_MAX
    return v <= UINT32_MAX;
#else
    (void)v;
    return true;
#endif
}

/* Reflected CRC-32, polynomial 0xEDB88320, four bits at a time. */
uint32_t config_image_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
        0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ nibble[crc & 0x0Fu];
    }
    return ~crc;
}

const char *config_image_status_text(config_image_status status)
{
    switch (status) {
    case CONFIG_IMAGE_OK: return "valid configuration image";
    case CONFIG_IMAGE_EMPTY: return "no configuration image (erased flash)";
    case CONFIG_IMAGE_BAD_MAGIC: return "not a configuration image (bad magic)";
    case CONFIG_IMAGE_BAD_VERSION: return "configuration image of an unknown version";
    case CONFIG_IMAGE_BAD_LENGTH: return "malformed configuration image (lengths)";
    case CONFIG_IMAGE_BAD_CRC: return "damaged configuration image (CRC mismatch)";
    }
    return "unknown configuration image status";
}

config_image_status config_image_read(const uint8_t *region, size_t region_size,
                                      config_image_view *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (region == NULL || region_size < CONFIG_IMAGE_HEADER_SIZE)
        return CONFIG_IMAGE_BAD_LENGTH;

    uint32_t magic = get_le32(region + OFF_MAGIC);
    if (magic == ERASED_WORD)
        return CONFIG_IMAGE_EMPTY;
    if (magic != CONFIG_IMAGE_MAGIC)
        return CONFIG_IMAGE_BAD_MAGIC;
    if (get_le32(region + OFF_VERSION) != CONFIG_IMAGE_VERSION)
        return CONFIG_IMAGE_BAD_VERSION;
    /* Reserved is not covered by the CRC: only 0 is accepted, so that no
     * damaged or foreign header passes as version 1. */
    if (get_le32(region + OFF_RESERVED) != 0)
        return CONFIG_IMAGE_BAD_LENGTH;

    /* Checked by subtraction: no sum of hostile lengths can wrap. */
    size_t room = region_size - CONFIG_IMAGE_HEADER_SIZE;
    uint32_t json_len = get_le32(region + OFF_JSON_LEN);
    uint32_t ca_len = get_le32(region + OFF_CA_LEN);
    if (json_len >= room)
        return CONFIG_IMAGE_BAD_LENGTH;          /* no room for the JSON and its NUL */
    room -= (size_t)json_len + 1u;
    if (ca_len > room)
        return CONFIG_IMAGE_BAD_LENGTH;
    size_t payload_len = (size_t)json_len + 1u + (size_t)ca_len;

    const uint8_t *payload = region + CONFIG_IMAGE_HEADER_SIZE;
    uint32_t crc = config_image_crc32(0, region, CRC_COVERED_HEADER);
    crc = config_image_crc32(crc, payload, payload_len);
    if (crc != get_le32(region + OFF_CRC))
        return CONFIG_IMAGE_BAD_CRC;

    /* The CRC matches: what remains wrong was written that way. */
    if (payload[json_len] != 0 || memchr(payload, 0, json_len) != NULL)
        return CONFIG_IMAGE_BAD_LENGTH;
    const uint8_t *ca = payload + json_len + 1u;
    if (ca_len > 0 && (ca[ca_len - 1u] != 0 || memchr(ca, 0, ca_len - 1u) != NULL))
        return CONFIG_IMAGE_BAD_LENGTH;

    if (out != NULL) {
        out->json = (const char *)payload;
        out->json_len = json_len;
        out->ca_pem = ca_len > 0 ? ca : NULL;
        out->ca_pem_len = ca_len;
    }
    return CONFIG_IMAGE_OK;
}

/* ca_len here is the PEM without its NUL, as config_image_write takes it.
 * SIZE_MAX when the sum does not fit a size_t (no buffer is that large). */
size_t config_image_size(size_t json_len, size_t ca_len)
{
    size_t size = CONFIG_IMAGE_HEADER_SIZE + 1u;  /* header and the JSON's NUL */
    size_t ca_stored = ca_len > 0 ? ca_len + 1u : 0;
    if (ca_len == SIZE_MAX || json_len > SIZE_MAX - size)
        return SIZE_MAX;
    size += json_len;
    if (ca_stored > SIZE_MAX - size)
        return SIZE_MAX;
    return size + ca_stored;
}

bool config_image_write(const char *json, size_t json_len, const uint8_t *ca, size_t ca_len,
                        uint8_t *out, size_t out_size, size_t *written)
{
    if (out == NULL || (json == NULL && json_len > 0) || (ca == NULL && ca_len > 0))
        return false;
    if (!fits_u32(json_len) || !fits_u32(ca_len) || ca_len == UINT32_MAX)
        return false;    /* ca_len + 1 (its NUL) must fit the 32-bit field too */
    size_t size = config_image_size(json_len, ca_len);
    if (size > out_size)
        return false;
    /* A NUL inside either text would make an image that the reader refuses. */
    if ((json_len > 0 && memchr(json, 0, json_len) != NULL) ||
        (ca_len > 0 && memchr(ca, 0, ca_len) != NULL))
        return false;

    uint32_t ca_stored = ca_len > 0 ? (uint32_t)ca_len + 1u : 0;
    uint8_t *payload = out + CONFIG_IMAGE_HEADER_SIZE;
    put_le32(out + OFF_MAGIC, CONFIG_IMAGE_MAGIC);
    put_le32(out + OFF_VERSION, CONFIG_IMAGE_VERSION);
    put_le32(out + OFF_JSON_LEN, (uint32_t)json_len);
    put_le32(out + OFF_CA_LEN, ca_stored);
    put_le32(out + OFF_RESERVED, 0);
    if (json_len > 0)
        memcpy(payload, json, json_len);
    payload[json_len] = 0;
    if (ca_len > 0) {
        memcpy(payload + json_len + 1u, ca, ca_len);
        payload[json_len + 1u + ca_len] = 0;
    }
    uint32_t crc = config_image_crc32(0, out, CRC_COVERED_HEADER);
    crc = config_image_crc32(crc, payload, json_len + 1u + ca_stored);
    put_le32(out + OFF_CRC, crc);
    if (written != NULL)
        *written = size;
    return true;
}
