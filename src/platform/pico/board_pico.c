#include "board_pico.h"

#include <malloc.h>

#include "hardware/adc.h"
#include "hardware/gpio.h"
#include "hardware/watchdog.h"
#include "hardware/structs/watchdog.h"
#include "pico/time.h"

/* ---- pins ---- */

static void drive_off(uint8_t pin, bool active_low)
{
    gpio_init(pin);
    gpio_put(pin, active_low);   /* off: high on active-low boards, low otherwise */
    gpio_set_dir(pin, GPIO_OUT);
}

void board_pins_init(const config *cfg)
{
    for (size_t i = 0; i < cfg->relay_count; i++)
        drive_off(cfg->relays[i].pin, cfg->relays[i].active_low);
    for (size_t i = 0; i < cfg->momentary_count; i++)
        drive_off(cfg->momentary[i].pin, cfg->momentary[i].active_low);
    for (size_t i = 0; i < cfg->contact_count; i++) {
        const config_contact *k = &cfg->contacts[i];
        gpio_init(k->pin);
        gpio_set_dir(k->pin, GPIO_IN);
        gpio_set_pulls(k->pin, k->pull == CONFIG_PULL_UP, k->pull == CONFIG_PULL_DOWN);
    }
}

void board_set_output(uint8_t pin, bool level)
{
    gpio_put(pin, level);
}

bool board_read_input(uint8_t pin)
{
    return gpio_get(pin);
}

static uint32_t input_levels;
static bool inputs_known;
static uint32_t next_sample_ms;

void board_sample_inputs(const config *cfg, uint32_t now, board_input_fn fn, void *ctx)
{
    if (inputs_known && (int32_t)(now - next_sample_ms) < 0)
        return;
    next_sample_ms = now + BOARD_INPUT_SAMPLE_MS;
    uint32_t all = gpio_get_all();
    for (size_t i = 0; i < cfg->contact_count; i++) {
        uint8_t pin = cfg->contacts[i].pin;
        uint32_t bit = 1u << pin;
        if (inputs_known && ((all ^ input_levels) & bit) != 0)
            fn(ctx, now, pin, (all & bit) != 0);
    }
    input_levels = all;
    inputs_known = true;
}

uint32_t board_next_sample(uint32_t now)
{
    return inputs_known ? next_sample_ms : now;
}

/* ---- watchdog and reboot counter ---- */

/* scratch[0..3] are free for applications (the SDK uses 4..7). */
#define REBOOT_MAGIC 0x4d544352u   /* "MTCR" */
#define SCRATCH_MAGIC 0
#define SCRATCH_COUNT 1

static uint32_t reboot_count;
static bool by_watchdog;

void board_watchdog_start(void)
{
    by_watchdog = watchdog_caused_reboot();
    if (watchdog_hw->scratch[SCRATCH_MAGIC] == REBOOT_MAGIC)
        reboot_count = watchdog_hw->scratch[SCRATCH_COUNT] + 1;
    else
        reboot_count = 0;   /* power-up: the registers were cleared */
    watchdog_hw->scratch[SCRATCH_MAGIC] = REBOOT_MAGIC;
    watchdog_hw->scratch[SCRATCH_COUNT] = reboot_count;
    watchdog_enable(BOARD_WATCHDOG_MS, true);   /* paused while a debugger halts the core */
}

void board_watchdog_feed(void)
{
    watchdog_update();
}

static repeating_timer_t grace_timer;
static volatile bool grace_timer_running;
static volatile uint32_t grace_until_ms;

static bool grace_tick(repeating_timer_t *timer)
{
    (void)timer;
    uint32_t now = to_ms_since_boot(get_absolute_time());
    if ((int32_t)(grace_until_ms - now) > 0)
        watchdog_update();
    return true;
}

void board_watchdog_grace(uint32_t ms)
{
    if (ms > BOARD_WATCHDOG_GRACE_MAX_MS)
        ms = BOARD_WATCHDOG_GRACE_MAX_MS;
    grace_until_ms = to_ms_since_boot(get_absolute_time()) + ms;
    if (!grace_timer_running)
        grace_timer_running = add_repeating_timer_ms(1000, grace_tick, NULL, &grace_timer);
}

void board_watchdog_grace_end(void)
{
    grace_until_ms = to_ms_since_boot(get_absolute_time());
}

uint32_t board_reboots(void)
{
    return reboot_count;
}

bool board_last_reset_by_watchdog(void)
{
    return by_watchdog;
}

/* ---- temperature (ADC input 4) ---- */

void board_temperature_init(void)
{
    adc_init();
    adc_set_temp_sensor_enabled(true);
}

int32_t board_temperature_milli_c(void)
{
    adc_select_input(4);
    uint32_t raw = adc_read();
    /* 12-bit reading of 3.3 V; the sensor gives 0.706 V at 27 °C and
     * falls 1.721 mV per degree (RP2040 datasheet). In microvolts: */
    int32_t microvolts = (int32_t)((raw * 3300000u) / 4096u);
    return 27000 - (int32_t)(((int64_t)(microvolts - 706000) * 1000) / 1721);
}

/* ---- memory ---- */

extern char __StackLimit;   /* top of the heap (linker script) */
extern char end;            /* bottom of the heap */

void board_memory(uint32_t *total, uint32_t *free_bytes)
{
    struct mallinfo mi = mallinfo();
    uint32_t heap = (uint32_t)(&__StackLimit - &end);
    *total = 264u * 1024u;
    *free_bytes = heap > (uint32_t)mi.uordblks ? heap - (uint32_t)mi.uordblks : 0;
}

/* ---- LED ---- */

bool board_led_level(led_mode mode, uint32_t now)
{
    switch (mode) {
    case LED_RUNNING:
        return true;
    case LED_HALTED: {
        uint32_t t = now % 1200u;   /* on 150, off 150, on 150, off 750 */
        return t < 150u || (t >= 300u && t < 450u);
    }
    case LED_NO_CONFIG:
        return (now / 100u) % 2u == 0;
    case LED_CONNECTING:
    default:
        return (now / 500u) % 2u == 0;
    }
}

uint32_t board_led_next_change(led_mode mode, uint32_t now)
{
    switch (mode) {
    case LED_RUNNING:
        return 1000u;   /* steady: nothing changes by itself */
    case LED_HALTED:
        return 150u - now % 150u;   /* every phase edge is on a 150 ms boundary */
    case LED_NO_CONFIG:
        return 100u - now % 100u;
    case LED_CONNECTING:
    default:
        return 500u - now % 500u;
    }
}
