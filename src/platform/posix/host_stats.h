/*
 * What the simulator reports for {"CMD":"stats"}: figures of the Linux host
 * standing in for the Pico W's. Each figure says whether it was measured or
 * is a fixed stand-in (a PC has no WiFi signal to report, and often no
 * readable temperature sensor).
 */
#ifndef HOST_STATS_H
#define HOST_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define HOST_STATS_FIXED_TEMP_MILLI_C 25000   /* used when no sensor is readable */
#define HOST_STATS_FIXED_RSSI_DBM (-50)       /* the sim has no radio */

typedef struct {
    uint64_t rss_kb;              /* resident memory of this process (VmRSS) */
    uint64_t total_kb;            /* memory of the machine (MemTotal) */
    uint64_t available_kb;        /* memory still available (MemAvailable) */
    int32_t mem_percent_milli;    /* rss / total * 100, in thousandths of a percent */
    bool mem_measured;            /* false if /proc could not be read (figures are 0) */
    int32_t temp_milli_c;         /* degrees Celsius * 1000 */
    bool temp_measured;           /* false: HOST_STATS_FIXED_TEMP_MILLI_C */
    int32_t rssi_dbm;
    bool rssi_measured;           /* always false in the simulator */
} host_stats;

/* Reads /proc/self/status, /proc/meminfo and /sys/class/thermal (small
 * procfs/sysfs reads that do not wait on anything); always fills every field. */
void host_stats_read(host_stats *s);

#endif
