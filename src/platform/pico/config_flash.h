/*
 * The configuration region at the end of flash (flash_layout.h), written by
 * dragging a config UF2 (mqtt-tiny-config) onto the board. Read in place
 * through the XIP window: nothing is copied, the CA stays in flash.
 */
#ifndef MTC_CONFIG_FLASH_H
#define MTC_CONFIG_FLASH_H

#include "config_image.h"

config_image_status config_flash_read(config_image_view *out);
/* The region's address, for messages. */
unsigned long config_flash_address(void);

#endif
