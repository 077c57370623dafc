/* The configuration and CA certificate embedded in the image. The .c file
 * is generated at build time by tools/config_check.c from MTC_CONFIG. */
#ifndef MTC_FIRMWARE_CONFIG_H
#define MTC_FIRMWARE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

extern const char mtc_config_json[];
extern const size_t mtc_config_json_len;
extern const uint8_t mtc_ca_pem[];
extern const size_t mtc_ca_pem_len;   /* includes the terminating NUL; 0: none */

#endif
