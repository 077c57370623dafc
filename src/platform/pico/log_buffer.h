/*
 * The firmware's log over USB CDC, kept while nobody listens.
 *
 * The SDK's USB stdio drops everything written before a host opens the
 * serial port, so the boot log (and the reason a board does not start)
 * would be lost to anyone who connects a moment later. This stdio driver
 * keeps the last LOG_BUFFER_SIZE bytes in RAM and sends whatever the host
 * has not seen yet as soon as it is connected: opening the serial monitor
 * late still shows the boot.
 */
#ifndef MTC_LOG_BUFFER_H
#define MTC_LOG_BUFFER_H

#define LOG_BUFFER_SIZE 1024u

/* Starts USB stdio behind the buffer (call once, instead of stdio_init_all). */
void log_buffer_init(void);
/* Sends what the host has not seen yet, if one is connected; from the main loop. */
void log_buffer_service(void);

#endif
