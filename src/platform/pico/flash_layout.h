/*
 * Where things live in the Pico W's 2 MB flash. The firmware image starts
 * at the bottom; the configuration image (src/core/config_image.h) has the
 * last 64 KB to itself, so flashing one never erases the other. Shared by
 * the firmware and the host tools that write UF2 files.
 */
#ifndef MTC_FLASH_LAYOUT_H
#define MTC_FLASH_LAYOUT_H

#define FLASH_LAYOUT_XIP_BASE 0x10000000u
#define FLASH_LAYOUT_SIZE (2u * 1024u * 1024u)
#define FLASH_LAYOUT_CONFIG_SIZE (64u * 1024u)
#define FLASH_LAYOUT_CONFIG_OFFSET (FLASH_LAYOUT_SIZE - FLASH_LAYOUT_CONFIG_SIZE)
#define FLASH_LAYOUT_CONFIG_ADDR (FLASH_LAYOUT_XIP_BASE + FLASH_LAYOUT_CONFIG_OFFSET)
/* The firmware image must end below this (checked when its UF2 is written). */
#define FLASH_LAYOUT_FIRMWARE_MAX FLASH_LAYOUT_CONFIG_OFFSET

#endif
