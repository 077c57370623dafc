/*
 * The Pico W's own hardware: relay outputs, contact inputs, the onboard
 * temperature sensor, the hardware watchdog with a reboot counter, the
 * status LED pattern and memory figures.
 */
#ifndef MTC_BOARD_PICO_H
#define MTC_BOARD_PICO_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define BOARD_INPUT_SAMPLE_MS 10u        /* contact sampling period */
#define BOARD_WATCHDOG_MS 8000u          /* a loop stalled this long reboots the board */

/* First thing at boot: every relay and momentary relay pin driven to its
 * off level (the level is set before the pin becomes an output, so it
 * never glitches on). Contacts get their pulls. */
void board_pins_init(const config *cfg);
void board_set_output(uint8_t pin, bool level);
bool board_read_input(uint8_t pin);

typedef void (*board_input_fn)(void *ctx, uint32_t now, uint8_t pin, bool level);
/* Samples every contact at most every BOARD_INPUT_SAMPLE_MS and reports
 * level changes (the controller debounces). */
void board_sample_inputs(const config *cfg, uint32_t now, board_input_fn fn, void *ctx);
uint32_t board_next_sample(uint32_t now);

/* Reboot counting through the watchdog's scratch registers (they survive a
 * watchdog or software reset, not a power cut). Call once at boot. */
void board_watchdog_start(void);
void board_watchdog_feed(void);
/* A TLS key exchange can keep the CPU inside one lwIP callback for seconds,
 * where the loop cannot feed the watchdog. During a grace period of at most
 * BOARD_WATCHDOG_GRACE_MAX_MS a timer interrupt feeds it instead; outside
 * one, a stalled loop still reboots the board. */
#define BOARD_WATCHDOG_GRACE_MAX_MS 20000u
void board_watchdog_grace(uint32_t ms);
void board_watchdog_grace_end(void);
uint32_t board_reboots(void);             /* since power-up */
bool board_last_reset_by_watchdog(void);

void board_temperature_init(void);
int32_t board_temperature_milli_c(void);

void board_memory(uint32_t *total, uint32_t *free_bytes);

typedef enum {
    LED_CONNECTING = 0,    /* blinking 1 Hz */
    LED_RUNNING,           /* steady on */
    LED_HALTED,            /* double flash: a guard halted publishing or locked a relay */
    LED_NO_CONFIG,         /* fast blink 5 Hz: no usable configuration */
} led_mode;
/* LED level for mode at time now. */
bool board_led_level(led_mode mode, uint32_t now);
/* Milliseconds from now until the LED level of mode may change (>= 1). */
uint32_t board_led_next_change(led_mode mode, uint32_t now);

#endif
