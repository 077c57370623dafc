/* Little-endian 32-bit fields in byte buffers (config images, UF2 blocks):
 * byte by byte, so any alignment and any host byte order work. */
#ifndef MTC_BYTE_ORDER_H
#define MTC_BYTE_ORDER_H

#include <stdint.h>

static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
