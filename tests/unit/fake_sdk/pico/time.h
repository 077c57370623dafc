/* Stand-in for the Pico SDK's pico/time.h (see fake_sdk/pico/cyw43_arch.h). */
#ifndef FAKE_PICO_TIME_H
#define FAKE_PICO_TIME_H

#include <stdint.h>

typedef uint64_t absolute_time_t;
absolute_time_t make_timeout_time_ms(uint32_t ms);
void sleep_ms(uint32_t ms);

#endif
