/*
 * Pico W firmware entry: parse the embedded configuration (already checked
 * at build time), put every relay in its safe state, start the USB/UART
 * log, then run the loop in src/platform/pico/firmware.c.
 */
#include <stdio.h>

#include "board_pico.h"
#include "config.h"
#include "config_store.h"
#include "firmware.h"
#include "firmware_config.h"
#include "pico/stdlib.h"

int main(void)
{
    config_errors errors;
    bool ok = config_parse_tokens(mtc_config_json, mtc_config_json_len, &firmware_config, &errors,
                                  firmware_boot_tokens(), FIRMWARE_CONFIG_TOKENS);
    if (ok)
        board_pins_init(&firmware_config);   /* relays off before anything else */
    stdio_init_all();
    if (!ok) {
        /* Cannot happen with an image built by our CMake (the build checks
         * the same file with the same parser); never drive a pin then. */
        for (;;) {
            for (size_t i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
                printf("config error: %s: %s\n", errors.errors[i].path, errors.errors[i].message);
            sleep_ms(5000);
        }
    }
    firmware_run(&firmware_config, mtc_ca_pem_len > 0 ? mtc_ca_pem : NULL, mtc_ca_pem_len);
    return 0;
}
