/* UF2 blocks; see uf2.h. */
#include "uf2.h"

#include "byte_order.h"

#include <string.h>

#define OFF_MAGIC0 0u
#define OFF_MAGIC1 4u
#define OFF_FLAGS 8u
#define OFF_ADDRESS 12u
#define OFF_PAYLOAD_SIZE 16u
#define OFF_BLOCK_NO 20u
#define OFF_BLOCK_COUNT 24u
#define OFF_FAMILY 28u
#define OFF_DATA 32u
#define OFF_MAGIC_END 508u

#define KNOWN_FLAGS (UF2_FLAG_NOT_MAIN_FLASH | UF2_FLAG_FILE_CONTAINER | UF2_FLAG_FAMILY_ID | \
                     UF2_FLAG_MD5 | UF2_FLAG_EXTENSION_TAGS)

bool uf2_encode_block(uint8_t *out, uint32_t address, const uint8_t *payload, size_t len,
                      uint32_t block_no, uint32_t block_count, uint32_t family)
{
    if (out == NULL || (payload == NULL && len > 0) || len > UF2_MAX_PAYLOAD ||
        block_no >= block_count)
        return false;
    memset(out, 0, UF2_BLOCK_SIZE);
    put_le32(out + OFF_MAGIC0, UF2_MAGIC_START0);
    put_le32(out + OFF_MAGIC1, UF2_MAGIC_START1);
    put_le32(out + OFF_FLAGS, UF2_FLAG_FAMILY_ID);
    put_le32(out + OFF_ADDRESS, address);
    put_le32(out + OFF_PAYLOAD_SIZE, (uint32_t)len);
    put_le32(out + OFF_BLOCK_NO, block_no);
    put_le32(out + OFF_BLOCK_COUNT, block_count);
    put_le32(out + OFF_FAMILY, family);
    if (len > 0)
        memcpy(out + OFF_DATA, payload, len);
    put_le32(out + OFF_MAGIC_END, UF2_MAGIC_END);
    return true;
}

uf2_status uf2_decode_block(const uint8_t *block, size_t size, uf2_block *out)
{
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (block == NULL || size != UF2_BLOCK_SIZE)
        return UF2_BAD_SIZE;
    if (get_le32(block + OFF_MAGIC0) != UF2_MAGIC_START0 ||
        get_le32(block + OFF_MAGIC1) != UF2_MAGIC_START1)
        return UF2_BAD_MAGIC;
    if (get_le32(block + OFF_MAGIC_END) != UF2_MAGIC_END)
        return UF2_BAD_END_MAGIC;
    uint32_t flags = get_le32(block + OFF_FLAGS);
    if ((flags & ~KNOWN_FLAGS) != 0 || (flags & UF2_FLAG_FILE_CONTAINER) != 0)
        return UF2_BAD_FLAGS;
    if ((flags & UF2_FLAG_FAMILY_ID) == 0)
        return UF2_NO_FAMILY;
    uint32_t payload_size = get_le32(block + OFF_PAYLOAD_SIZE);
    if (payload_size > UF2_MAX_PAYLOAD)
        return UF2_BAD_PAYLOAD_SIZE;
    uint32_t block_no = get_le32(block + OFF_BLOCK_NO);
    uint32_t block_count = get_le32(block + OFF_BLOCK_COUNT);
    if (block_no >= block_count)
        return UF2_BAD_NUMBER;
    if (out != NULL) {
        out->flags = flags;
        out->address = get_le32(block + OFF_ADDRESS);
        out->block_no = block_no;
        out->block_count = block_count;
        out->family = get_le32(block + OFF_FAMILY);
        out->payload = block + OFF_DATA;
        out->payload_len = payload_size;
    }
    return UF2_OK;
}

void uf2_sequence_init(uf2_sequence *s, uint32_t family, uint32_t payload_size)
{
    s->family = family;
    s->payload_size = payload_size;
    s->next = 0;
    s->count = 0;
}

uf2_status uf2_sequence_next(uf2_sequence *s, const uint8_t *block, size_t size, uf2_block *out)
{
    uf2_block b;
    uf2_status status = uf2_decode_block(block, size, &b);
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (status != UF2_OK)
        return status;
    if (b.family != s->family)
        return UF2_WRONG_FAMILY;
    if (s->payload_size != 0) {
        if (b.payload_len != s->payload_size)
            return UF2_BAD_PAYLOAD_SIZE;
        if (b.address % s->payload_size != 0)
            return UF2_BAD_ALIGNMENT;
    }
    if (s->next > 0 && s->next == s->count)
        return UF2_TOO_MANY;
    if (b.block_no != s->next)
        return UF2_OUT_OF_ORDER;
    if (s->next > 0 && b.block_count != s->count)
        return UF2_COUNT_CHANGED;
    s->count = b.block_count;
    s->next++;
    if (out != NULL)
        *out = b;
    return UF2_OK;
}

bool uf2_sequence_complete(const uf2_sequence *s)
{
    return s->next > 0 && s->next == s->count;
}

const char *uf2_status_text(uf2_status status)
{
    switch (status) {
    case UF2_OK: return "valid block";
    case UF2_BAD_SIZE: return "not a whole 512-byte block";
    case UF2_BAD_MAGIC: return "bad start magic (not a UF2 block)";
    case UF2_BAD_END_MAGIC: return "bad end magic";
    case UF2_BAD_FLAGS: return "unknown flags or a file container";
    case UF2_NO_FAMILY: return "no family id";
    case UF2_BAD_PAYLOAD_SIZE: return "bad payload size";
    case UF2_BAD_NUMBER: return "block number not below the block count";
    case UF2_BAD_ALIGNMENT: return "target address not aligned to the payload size";
    case UF2_WRONG_FAMILY: return "wrong family id";
    case UF2_OUT_OF_ORDER: return "block out of order";
    case UF2_COUNT_CHANGED: return "block count differs from the first block's";
    case UF2_TOO_MANY: return "block after the last one";
    }
    return "unknown UF2 status";
}
