#include "config_flash.h"

#include "flash_layout.h"
#include "hardware/regs/addressmap.h"
#include "pico.h"

_Static_assert(FLASH_LAYOUT_XIP_BASE == XIP_BASE, "flash_layout.h: XIP base");
_Static_assert(FLASH_LAYOUT_SIZE <= PICO_FLASH_SIZE_BYTES,
               "the configuration region must lie inside the board's flash");

config_image_status config_flash_read(config_image_view *out)
{
    return config_image_read((const uint8_t *)FLASH_LAYOUT_CONFIG_ADDR, FLASH_LAYOUT_CONFIG_SIZE,
                             out);
}

unsigned long config_flash_address(void)
{
    return FLASH_LAYOUT_CONFIG_ADDR;
}
