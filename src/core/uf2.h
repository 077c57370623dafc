/*
 * UF2 blocks: the 512-byte records that a USB mass-storage boot loader (the
 * RP2040's RPI-RP2 drive) writes to flash. Sans-IO: one block in, one block
 * out; files are the tools' business.
 *
 * Block layout, all integers little-endian:
 *
 *   offset  size  field
 *   0       4     UF2_MAGIC_START0
 *   4       4     UF2_MAGIC_START1
 *   8       4     flags (UF2_FLAG_*)
 *   12      4     target address
 *   16      4     payload size (at most UF2_MAX_PAYLOAD)
 *   20      4     block number, 0 .. count - 1
 *   24      4     block count of the file
 *   28      4     family id (when UF2_FLAG_FAMILY_ID is set)
 *   32      476   payload, then zeros
 *   508     4     UF2_MAGIC_END
 */
#ifndef MTC_UF2_H
#define MTC_UF2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UF2_BLOCK_SIZE 512u
#define UF2_MAX_PAYLOAD 476u
#define UF2_MAGIC_START0 0x0A324655u   /* "UF2\n" */
#define UF2_MAGIC_START1 0x9E5D5157u
#define UF2_MAGIC_END 0x0AB16F30u

#define UF2_FLAG_NOT_MAIN_FLASH 0x00000001u  /* not to be written to flash */
#define UF2_FLAG_FILE_CONTAINER 0x00001000u  /* word 28 is a file size: not ours */
#define UF2_FLAG_FAMILY_ID 0x00002000u
#define UF2_FLAG_MD5 0x00004000u
#define UF2_FLAG_EXTENSION_TAGS 0x00008000u

#define UF2_FAMILY_RP2040 0xE48BFF56u
/* The RP2040 boot ROM takes only 256-byte payloads at 256-byte aligned addresses. */
#define UF2_RP2040_PAYLOAD 256u

typedef enum {
    UF2_OK = 0,
    UF2_BAD_SIZE,          /* not UF2_BLOCK_SIZE bytes */
    UF2_BAD_MAGIC,         /* start magics */
    UF2_BAD_END_MAGIC,
    UF2_BAD_FLAGS,         /* unknown flag, or a file container */
    UF2_NO_FAMILY,         /* UF2_FLAG_FAMILY_ID not set */
    UF2_BAD_PAYLOAD_SIZE,  /* over UF2_MAX_PAYLOAD (or the size a sequence requires) */
    UF2_BAD_NUMBER,        /* block number not below the count, or count 0 */
    UF2_BAD_ALIGNMENT,     /* address not aligned as a sequence requires */
    UF2_WRONG_FAMILY,      /* sequence: another family than expected */
    UF2_OUT_OF_ORDER,      /* sequence: block number is not the next one */
    UF2_COUNT_CHANGED,     /* sequence: block count differs from the first block's */
    UF2_TOO_MANY,          /* sequence: a block after the last one */
} uf2_status;

typedef struct {
    uint32_t flags;
    uint32_t address;
    uint32_t block_no;
    uint32_t block_count;
    uint32_t family;
    const uint8_t *payload;   /* points into the block */
    size_t payload_len;
} uf2_block;

/* Writes one block to out (UF2_BLOCK_SIZE bytes) with the family flag set
 * and zeros after the payload. False (out untouched) when len is over
 * UF2_MAX_PAYLOAD, block_no is not below block_count, or a pointer is NULL
 * (payload may be NULL when len is 0). */
bool uf2_encode_block(uint8_t *out, uint32_t address, const uint8_t *payload, size_t len,
                      uint32_t block_no, uint32_t block_count, uint32_t family);

/* Checks one block (size bytes at block): magics, flags (family id
 * present, no unknown flag, no file container), payload size, numbering.
 * Anything but UF2_OK leaves out zeroed. */
uf2_status uf2_decode_block(const uint8_t *block, size_t size, uf2_block *out);

/* A whole file, block after block: numbered 0 .. n-1 in order, the same
 * count n in every block, one family, and optionally a fixed payload size
 * at addresses aligned to it (UF2_RP2040_PAYLOAD for the RP2040). */
typedef struct {
    uint32_t family;
    uint32_t payload_size;   /* 0: any size up to UF2_MAX_PAYLOAD, any address */
    uint32_t next;           /* blocks accepted so far */
    uint32_t count;          /* from the first block */
} uf2_sequence;

void uf2_sequence_init(uf2_sequence *s, uint32_t family, uint32_t payload_size);
/* Decodes the next block of the file and checks it against the ones before. */
uf2_status uf2_sequence_next(uf2_sequence *s, const uint8_t *block, size_t size, uf2_block *out);
/* True once the last block (count - 1) has been accepted. */
bool uf2_sequence_complete(const uf2_sequence *s);

const char *uf2_status_text(uf2_status status);

#endif
