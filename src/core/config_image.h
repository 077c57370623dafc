/*
 * The configuration image: the bytes that carry a configuration (JSON) and
 * its CA certificate (PEM) in a flash region of their own, so a board can be
 * set up without a compiler (dragging a config UF2 onto the RPI-RP2 drive).
 *
 * Layout, all integers little-endian:
 *
 *   offset  size  field
 *   0       4     magic       CONFIG_IMAGE_MAGIC ("MTCF")
 *   4       4     version     CONFIG_IMAGE_VERSION
 *   8       4     json_len    bytes of JSON (no NUL)
 *   12      4     ca_len      bytes of PEM including its terminating NUL; 0: no CA
 *   16      4     crc32       CRC-32 (IEEE 802.3) of bytes 0..15 and of the payload
 *   20      4     reserved    0
 *   24      ...   payload     JSON, one NUL, then the CA (ca_len bytes, NUL last)
 *
 * Sans-IO: the caller hands in the region's bytes (the XIP-mapped flash on
 * the board, a file on the host); nothing here reads or writes flash.
 */
#ifndef MTC_CONFIG_IMAGE_H
#define MTC_CONFIG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_IMAGE_MAGIC 0x4643544du   /* "MTCF" */
#define CONFIG_IMAGE_VERSION 1u
#define CONFIG_IMAGE_HEADER_SIZE 24u

typedef enum {
    CONFIG_IMAGE_OK = 0,
    CONFIG_IMAGE_EMPTY,        /* erased flash: never written */
    CONFIG_IMAGE_BAD_MAGIC,    /* something else lives there */
    CONFIG_IMAGE_BAD_VERSION,  /* written by a newer tool */
    CONFIG_IMAGE_BAD_LENGTH,   /* lengths do not fit the region or are malformed */
    CONFIG_IMAGE_BAD_CRC,      /* damaged or half written */
} config_image_status;

typedef struct {
    const char *json;          /* NUL-terminated, json_len bytes before the NUL */
    size_t json_len;
    const uint8_t *ca_pem;     /* NULL when ca_pem_len is 0 */
    size_t ca_pem_len;         /* NUL included */
} config_image_view;

/* Checks the image at the start of region (region_size bytes readable) and
 * points out into it. Anything other than CONFIG_IMAGE_OK leaves out zeroed. */
config_image_status config_image_read(const uint8_t *region, size_t region_size,
                                      config_image_view *out);
/* One line saying what the status means, for logs and tools. */
const char *config_image_status_text(config_image_status status);

/* Bytes an image of this content takes. */
size_t config_image_size(size_t json_len, size_t ca_len);
/* Writes the image of json (json_len bytes) and ca (ca_len bytes, without a
 * NUL; NULL/0 for none) to out. False (out untouched) when out_size is too
 * small or a length does not fit 32 bits. *written gets the image size. */
bool config_image_write(const char *json, size_t json_len, const uint8_t *ca, size_t ca_len,
                        uint8_t *out, size_t out_size, size_t *written);

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320): start with crc = 0 and
 * chain calls over consecutive pieces. */
uint32_t config_image_crc32(uint32_t crc, const uint8_t *data, size_t len);

#endif
