/*
 * Host figures for the simulator's stats. See host_stats.h.
 */
#include "host_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Value in kB of "Key:   1234 kB" in a /proc file, or 0. */
static uint64_t proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char line[256];
    size_t key_len = strlen(key);
    uint64_t value = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
            value = strtoull(line + key_len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

/* First thermal zone that reads as a plausible temperature (millidegrees). */
static bool read_temperature(int32_t *milli_c)
{
    for (int zone = 0; zone < 16; zone++) {
        char path[64];
        snprintf(path, sizeof path, "/sys/class/thermal/thermal_zone%d/temp", zone);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        long v = 0;
        int ok = fscanf(f, "%ld", &v);
        fclose(f);
        if (ok == 1 && v > -40000 && v < 150000) {
            *milli_c = (int32_t)v;
            return true;
        }
    }
    return false;
}

void host_stats_read(host_stats *s)
{
    memset(s, 0, sizeof *s);
    s->rss_kb = proc_kb("/proc/self/status", "VmRSS");
    s->total_kb = proc_kb("/proc/meminfo", "MemTotal");
    s->available_kb = proc_kb("/proc/meminfo", "MemAvailable");
    s->mem_measured = s->rss_kb > 0 && s->total_kb > 0;
    if (s->mem_measured)
        s->mem_percent_milli = (int32_t)(s->rss_kb * 100000u / s->total_kb);
    s->temp_measured = read_temperature(&s->temp_milli_c);
    if (!s->temp_measured)
        s->temp_milli_c = HOST_STATS_FIXED_TEMP_MILLI_C;
    s->rssi_dbm = HOST_STATS_FIXED_RSSI_DBM;
    s->rssi_measured = false;
}
