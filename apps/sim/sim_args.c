/*
 * mqtt-tiny-sim command line and configuration loading. See sim_args.h.
 */
#include "sim_args.h"
#include "mqtt_codec.h"
#include "public_ip.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void sim_usage(FILE *out)
{
    fputs("usage: mqtt-tiny-sim --config FILE [options]\n"
          "\n"
          "Runs the MqttTinyController firmware logic on Linux against a virtual board.\n"
          "\n"
          "  --config FILE          JSON configuration (see docs/config.md)\n"
          "  --broker URL           mqtt://host[:port] or mqtts://host[:port] (overrides the config)\n"
          "  --board HOST:PORT      serve the virtual board on this TCP address (port 0: any free\n"
          "                         port); prints {\"ev\":\"ready\",\"board\":\"HOST:PORT\"} on stdout\n"
          "  --ca FILE              CA certificate (PEM) for mqtts://\n"
          "  --user U               broker user name\n"
          "  --password P           broker password\n"
          "  --client-id ID         MQTT client id\n"
          "  --topic T              the command/state topic\n"
          "  --keepalive S          MQTT keepalive in seconds (0: off)\n"
          "  --backoff-first-ms N   first reconnect delay after a lost connection\n"
          "  --backoff-max-ms N     longest reconnect delay\n"
          "  --check                validate the configuration, print every error, exit 1 if any\n"
          "  --help                 this text\n"
          "\n"
          "Logs go to stderr. SIGINT or SIGTERM stops it cleanly (exit 0).\n"
          "The board protocol is described in docs/simulator.md.\n",
          out);
}

static bool parse_number(const char *name, const char *text, long min, long max, long *out,
                         char *err, size_t err_size)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        snprintf(err, err_size, "%s: expected a whole number from %ld to %ld, got \"%s\"", name, min,
                 max, text);
        return false;
    }
    *out = v;
    return true;
}

bool sim_args_parse(int argc, char **argv, sim_args *a, char *err, size_t err_size)
{
    enum {
        OPT_CONFIG = 1000, OPT_BROKER, OPT_BOARD, OPT_CA, OPT_USER, OPT_PASSWORD, OPT_CLIENT_ID,
        OPT_TOPIC, OPT_KEEPALIVE, OPT_BACKOFF_FIRST, OPT_BACKOFF_MAX, OPT_CHECK, OPT_HELP,
    };
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"broker", required_argument, NULL, OPT_BROKER},
        {"board", required_argument, NULL, OPT_BOARD},
        {"ca", required_argument, NULL, OPT_CA},
        {"user", required_argument, NULL, OPT_USER},
        {"password", required_argument, NULL, OPT_PASSWORD},
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"backoff-first-ms", required_argument, NULL, OPT_BACKOFF_FIRST},
        {"backoff-max-ms", required_argument, NULL, OPT_BACKOFF_MAX},
        {"check", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->keepalive_s = a->backoff_first_ms = a->backoff_max_ms = -1;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: a->config_path = optarg; break;
        case OPT_BROKER: a->broker = optarg; break;
        case OPT_BOARD: a->board = optarg; break;
        case OPT_CA: a->ca = optarg; break;
        case OPT_USER: a->user = optarg; break;
        case OPT_PASSWORD: a->password = optarg; break;
        case OPT_CLIENT_ID: a->client_id = optarg; break;
        case OPT_TOPIC: a->topic = optarg; break;
        case OPT_KEEPALIVE:
            if (!parse_number("--keepalive", optarg, 0, 65535, &a->keepalive_s, err, err_size))
                return false;
            break;
        case OPT_BACKOFF_FIRST:
            if (!parse_number("--backoff-first-ms", optarg, 1, 3600000, &a->backoff_first_ms, err,
                              err_size))
                return false;
            break;
        case OPT_BACKOFF_MAX:
            if (!parse_number("--backoff-max-ms", optarg, 1, 3600000, &a->backoff_max_ms, err,
                              err_size))
                return false;
            break;
        case OPT_CHECK: a->check = true; break;
        case 'h':
        case OPT_HELP: a->help = true; break;
        case ':':
            snprintf(err, err_size, "%s needs a value", argv[optind - 1]);
            return false;
        default:
            snprintf(err, err_size, "unknown option %s", argv[optind - 1]);
            return false;
        }
    }
    if (optind < argc) {
        snprintf(err, err_size, "unexpected argument \"%s\"", argv[optind]);
        return false;
    }
    if (a->help)
        return true;
    if (!a->config_path) {
        snprintf(err, err_size, "--config FILE is required");
        return false;
    }
    if (a->backoff_first_ms > 0 && a->backoff_max_ms > 0 && a->backoff_first_ms > a->backoff_max_ms) {
        snprintf(err, err_size, "--backoff-first-ms must not exceed --backoff-max-ms");
        return false;
    }
    return true;
}

/* Copies an override into a config field; false if it does not fit. */
static bool override(const char *flag, const char *value, char *field, size_t size, FILE *out)
{
    if (!value)
        return true;
    size_t len = strlen(value);
    if (len >= size) {
        fprintf(out, "%s: longer than %zu bytes\n", flag, size - 1);
        return false;
    }
    memcpy(field, value, len + 1);
    return true;
}

int sim_load_config(const sim_args *a, config *cfg, FILE *out)
{
    static char text[CONFIG_MAX_TEXT + 1];
    FILE *f = fopen(a->config_path, "rb");
    if (!f) {
        fprintf(out, "%s: cannot open: %s\n", a->config_path, strerror(errno));
        return SIM_EXIT_CONFIG;
    }
    size_t len = fread(text, 1, sizeof text, f);
    bool read_error = ferror(f);
    fclose(f);
    if (read_error) {
        fprintf(out, "%s: cannot read\n", a->config_path);
        return SIM_EXIT_CONFIG;
    }
    if (len > CONFIG_MAX_TEXT) {
        fprintf(out, "%s: larger than %d bytes\n", a->config_path, CONFIG_MAX_TEXT);
        return SIM_EXIT_CONFIG;
    }

    config_errors errors;
    memset(&errors, 0, sizeof errors);
    if (!config_parse(text, len, cfg, &errors)) {
        size_t shown = errors.count < CONFIG_MAX_ERRORS ? errors.count : CONFIG_MAX_ERRORS;
        for (size_t i = 0; i < shown; i++) {
            char line[192];
            config_error_format(&errors.errors[i], line, sizeof line);
            fprintf(out, "%s\n", line);
        }
        if (errors.count > shown)
            fprintf(out, "(%zu more errors not shown)\n", errors.count - shown);
        if (errors.count == 0)
            fprintf(out, "%s: invalid configuration\n", a->config_path);
        return SIM_EXIT_CONFIG;
    }

    /* the default status topic follows a --topic override */
    char default_status[sizeof cfg->mqtt.status_topic];
    snprintf(default_status, sizeof default_status, "%s/status", cfg->mqtt.topic);
    bool status_default = strcmp(default_status, cfg->mqtt.status_topic) == 0;
    bool ok = override("--broker", a->broker, cfg->mqtt.broker_url, sizeof cfg->mqtt.broker_url, out) &&
              override("--ca", a->ca, cfg->mqtt.ca_file, sizeof cfg->mqtt.ca_file, out) &&
              override("--user", a->user, cfg->mqtt.username, sizeof cfg->mqtt.username, out) &&
              override("--password", a->password, cfg->mqtt.password, sizeof cfg->mqtt.password, out) &&
              override("--client-id", a->client_id, cfg->mqtt.client_id, sizeof cfg->mqtt.client_id, out) &&
              override("--topic", a->topic, cfg->mqtt.topic, sizeof cfg->mqtt.topic, out);
    if (!ok)
        return SIM_EXIT_USAGE;
    if (status_default)
        snprintf(cfg->mqtt.status_topic, sizeof cfg->mqtt.status_topic, "%s/status", cfg->mqtt.topic);
    if (a->keepalive_s >= 0)
        cfg->mqtt.keepalive_s = (uint16_t)a->keepalive_s;

    config_broker broker;
    const char *why = config_broker_url_error(cfg->mqtt.broker_url, &broker);
    if (why) {
        fprintf(out, "%s: %s\n", a->broker ? "--broker" : "mqtt.broker_url", why);
        return a->broker ? SIM_EXIT_USAGE : SIM_EXIT_CONFIG;
    }
    if (a->topic && (!a->topic[0] || strpbrk(a->topic, "+#"))) {
        fprintf(out, "--topic: must be a non-empty topic name without wildcards\n");
        return SIM_EXIT_USAGE;
    }
    if (a->topic && a->topic[0] == '$') {
        fprintf(out, "--topic: must not start with $ (reserved for the broker)\n");
        return SIM_EXIT_USAGE;
    }
    if (a->topic && !mqtt_utf8_valid(a->topic, strlen(a->topic))) {
        fprintf(out, "--topic: must be valid UTF-8\n");
        return SIM_EXIT_USAGE;
    }
    if (a->password && !cfg->mqtt.username[0]) {
        fprintf(out, "--password: needs --user (or mqtt.username in the config): MQTT sends no "
                     "password without a user name\n");
        return SIM_EXIT_USAGE;
    }
    char why_ip[160];
    if (cfg->public_ip_url[0] && !public_ip_url_check(cfg->public_ip_url, why_ip, sizeof why_ip)) {
        fprintf(out, "public_ip_url: %s\n", why_ip);
        return SIM_EXIT_CONFIG;
    }
    if (a->ca) {
        FILE *ca = fopen(a->ca, "rb");
        if (!ca) {
            fprintf(out, "--ca: cannot open %s: %s\n", a->ca, strerror(errno));
            return SIM_EXIT_USAGE;
        }
        fclose(ca);
    }
    if (a->client_id && !a->client_id[0]) {
        fprintf(out, "--client-id: must not be empty\n");
        return SIM_EXIT_USAGE;
    }
    return SIM_EXIT_OK;
}
