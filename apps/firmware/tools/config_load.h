/*
 * Loading a configuration file on the host as the firmware will see it: read
 * it, check it with the firmware's own parser and token bound
 * (FIRMWARE_CONFIG_TOKENS), check the broker URL, and read the CA
 * certificate an mqtts broker needs. Shared by config_check (the build-time
 * check) and mqtt-tiny-config (the config UF2 writer). Every problem is
 * printed on stderr, one "  path: message" line per parser error.
 */
#ifndef MTC_CONFIG_LOAD_H
#define MTC_CONFIG_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define CONFIG_LOAD_MAX_CA (64 * 1024)

typedef struct {
    char *json;            /* the file's bytes, a NUL after them */
    size_t json_len;
    char *ca;              /* PEM, a NUL after it; NULL when the broker is mqtt:// */
    size_t ca_len;         /* without the NUL */
    char ca_path[CONFIG_PATH_SIZE * 2 + 2];
    config cfg;
} config_loaded;

/* tool names the program in messages; ca_path is the CA given on the
 * command line (NULL or "" for mqtt.ca_file relative to the config's
 * folder); ca_hint says how to give one ("--ca FILE.pem"). False after
 * printing why; out then holds nothing to free. */
bool config_load(const char *tool, const char *config_path, const char *ca_path,
                 const char *ca_hint, config_loaded *out);
void config_load_free(config_loaded *loaded);

/* Parses text as the firmware does (its token bound); on errors prints
 * "label: invalid configuration:" and one "  path: message" line each. */
bool config_load_check_text(const char *label, const char *text, size_t len, config *out);

/* Reads a whole file of at most limit bytes, a NUL after them (malloc'd). */
char *config_load_file(const char *tool, const char *path, size_t limit, size_t *len);

#endif
