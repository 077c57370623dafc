/*
 * mqtt-tiny-sim command line and configuration loading.
 */
#ifndef SIM_ARGS_H
#define SIM_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define SIM_EXIT_OK 0
#define SIM_EXIT_CONFIG 1      /* configuration errors, start-up failures */
#define SIM_EXIT_USAGE 2       /* bad arguments */

typedef struct {
    const char *config_path;
    const char *broker;
    const char *board;         /* HOST:PORT of the virtual board socket; NULL: none */
    const char *ca;
    const char *user;
    const char *password;
    const char *client_id;
    const char *topic;
    long keepalive_s;          /* -1: from the config */
    long backoff_first_ms;     /* -1: the client's default */
    long backoff_max_ms;       /* -1: the client's default */
    bool check;
    bool help;
} sim_args;

void sim_usage(FILE *out);

/* Parses argv; false with a message in err (exit SIM_EXIT_USAGE). */
bool sim_args_parse(int argc, char **argv, sim_args *a, char *err, size_t err_size);

/* Reads and validates the config file, then applies the command-line
 * overrides. Prints every problem as "path: message" to out.
 * Returns SIM_EXIT_OK, SIM_EXIT_CONFIG (file or its content) or
 * SIM_EXIT_USAGE (an override that does not fit). */
int sim_load_config(const sim_args *a, config *cfg, FILE *out);

#endif
