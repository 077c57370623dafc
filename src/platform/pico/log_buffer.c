#include "log_buffer.h"

#include <stdbool.h>
#include <stdint.h>

#include "pico/stdio.h"
#include "pico/stdio/driver.h"
#include "pico/stdio_usb.h"

static char ring[LOG_BUFFER_SIZE];
static uint32_t written;   /* bytes ever written (the ring holds the last ones) */
static uint32_t sent;      /* bytes ever handed to the USB host */

static void send_pending(void)
{
    if (!stdio_usb_connected())
        return;
    if (written - sent > LOG_BUFFER_SIZE) {
        static const char lost[] = "[... earlier log lines lost]\r\n";
        stdio_usb.out_chars(lost, (int)(sizeof lost - 1));
        sent = written - LOG_BUFFER_SIZE;
    }
    while (sent != written) {
        uint32_t at = sent % LOG_BUFFER_SIZE;
        uint32_t n = written - sent;
        if (n > LOG_BUFFER_SIZE - at)
            n = LOG_BUFFER_SIZE - at;   /* up to the end of the ring, then wrap */
        stdio_usb.out_chars(ring + at, (int)n);
        sent += n;
    }
}

static void buffer_out_chars(const char *buf, int len)
{
    for (int i = 0; i < len; i++)
        ring[(written++) % LOG_BUFFER_SIZE] = buf[i];
    send_pending();
}

static void buffer_out_flush(void)
{
    if (stdio_usb.out_flush != NULL)
        stdio_usb.out_flush();
}

static int buffer_in_chars(char *buf, int len)
{
    return stdio_usb.in_chars(buf, len);
}

static stdio_driver_t log_driver = {
    .out_chars = buffer_out_chars,
    .out_flush = buffer_out_flush,
    .in_chars = buffer_in_chars,
#if PICO_STDIO_ENABLE_CRLF_SUPPORT
    .crlf_enabled = PICO_STDIO_DEFAULT_CRLF,
#endif
};

void log_buffer_init(void)
{
    /* USB up (TinyUSB, its background task), but printf goes through us. */
    stdio_usb_init();
    stdio_set_driver_enabled(&stdio_usb, false);
    stdio_set_driver_enabled(&log_driver, true);
}

void log_buffer_service(void)
{
    if (sent != written)
        send_pending();
}
