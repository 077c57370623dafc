/*
 * Pico W firmware entry: find the configuration (embedded at build time, else
 * the flash region a config UF2 wrote), parse it, put every relay in its safe
 * state, start the log, then run the loop in src/platform/pico/firmware.c.
 * Without a usable configuration no pin is driven: the firmware says why on
 * the log, shows it on the LED and waits for a config UF2.
 */
#include <stdio.h>

#include "board_pico.h"
#include "config.h"
#include "config_flash.h"
#include "config_store.h"
#include "firmware.h"
#include "firmware_config.h"
#include "log_buffer.h"
#include "pico/time.h"

static void start_log(void)
{
    log_buffer_init();
    firmware_boot();
}

/* Parses the configuration into firmware_config and returns it, or never
 * returns: without one the firmware runs unconfigured (relays stay off).
 * The parser's errors live in this frame, only while it is needed. */
static void __attribute__((noinline)) load_config(config_image_view *image)
{
    uint32_t main_us = time_us_32();
    config_errors errors;
    char why[200];
    bool embedded = mtc_config_json_len > 0;
    config_image_status status = CONFIG_IMAGE_OK;
    if (embedded) {
        *image = (config_image_view){ .json = mtc_config_json, .json_len = mtc_config_json_len,
                                      .ca_pem = mtc_ca_pem_len > 0 ? mtc_ca_pem : NULL,
                                      .ca_pem_len = mtc_ca_pem_len };
    } else {
        status = config_flash_read(image);
    }
    if (status == CONFIG_IMAGE_OK &&
        config_parse_tokens(image->json, image->json_len, &firmware_config, &errors,
                            firmware_boot_tokens(), FIRMWARE_CONFIG_TOKENS)) {
        uint32_t parsed_us = time_us_32();
        board_pins_init(&firmware_config);   /* relays off before anything else */
        uint32_t safe_us = time_us_32();
        start_log();
        printf("boot: main %lu us, configuration parsed %lu us, relays safe %lu us after reset\n",
               (unsigned long)main_us, (unsigned long)parsed_us, (unsigned long)safe_us);
        if (embedded)
            printf("config: embedded at build time (%lu bytes JSON, CA %lu bytes)\n",
                   (unsigned long)image->json_len, (unsigned long)image->ca_pem_len);
        else
            printf("config: loaded from flash at 0x%08lx (%lu bytes JSON, CA %lu bytes)\n",
                   config_flash_address(), (unsigned long)image->json_len,
                   (unsigned long)image->ca_pem_len);
        return;
    }
    start_log();
    if (status != CONFIG_IMAGE_OK) {
        snprintf(why, sizeof why, "config: %s in flash at 0x%08lx (%s); relays stay off; "
                 "write a config UF2 (mqtt-tiny-config)",
                 status == CONFIG_IMAGE_EMPTY ? "none" : "damaged", config_flash_address(),
                 config_image_status_text(status));
        firmware_run_unconfigured(why, NULL);
    }
    snprintf(why, sizeof why, "config: invalid configuration %s; relays stay off",
             embedded ? "embedded at build time" : "in flash");
    firmware_run_unconfigured(why, &errors);
}

int main(void)
{
    config_image_view image = { 0 };
    load_config(&image);
    firmware_run(&firmware_config, image.ca_pem, image.ca_pem_len);
    return 0;
}
