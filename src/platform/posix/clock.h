/* Monotonic millisecond clock for the Linux build. */
#ifndef MTC_POSIX_CLOCK_H
#define MTC_POSIX_CLOCK_H

#include <stdint.h>

/* Milliseconds from CLOCK_MONOTONIC, truncated to 32 bits: it wraps every
 * 49.7 days, which the MQTT client's wrap-safe comparisons expect. */
uint32_t mtc_now_ms(void);

#endif
