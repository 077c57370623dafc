/*
 * Build-time check of the firmware configuration, with the parser the
 * firmware itself uses (src/core/config.c, compiled for the host):
 *
 *   config_check CONFIG.json OUT.c [CA.pem]
 *
 * Prints every error and fails when the file is invalid; otherwise writes
 * OUT.c holding the file's bytes (and the CA certificate for mqtts) for the
 * image. The CA is CA.pem if given, else mqtt.ca_file (relative to the
 * config file's folder). A mqtts broker without a CA is an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "firmware.h"   /* FIRMWARE_CONFIG_TOKENS: the device's own bound */

#define MAX_CA_SIZE (64 * 1024)

static char *read_file(const char *path, size_t limit, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "config_check: cannot open %s\n", path);
        return NULL;
    }
    char *buf = malloc(limit + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, limit + 1, f);
    fclose(f);
    if (n > limit) {
        fprintf(stderr, "config_check: %s is larger than %zu bytes\n", path, limit);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void write_bytes(FILE *out, const char *type, const char *name, const char *data,
                        size_t len, int with_nul)
{
    fprintf(out, "const %s %s[] = {", type, name);
    size_t total = len + (with_nul ? 1 : 0);
    for (size_t i = 0; i < total; i++) {
        unsigned char b = i < len ? (unsigned char)data[i] : 0;
        fprintf(out, "%s0x%02x,", i % 16 == 0 ? "\n    " : " ", b);
    }
    if (total == 0)
        fprintf(out, "\n    0x00,");
    fprintf(out, "\n};\n");
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: config_check CONFIG.json OUT.c [CA.pem]\n");
        return 2;
    }
    const char *config_path = argv[1];
    size_t len = 0;
    char *text = read_file(config_path, CONFIG_MAX_TEXT, &len);
    if (text == NULL)
        return 1;

    static config cfg;
    static config_errors errors;
    static json_token tokens[FIRMWARE_CONFIG_TOKENS];
    if (!config_parse_tokens(text, len, &cfg, &errors, tokens, FIRMWARE_CONFIG_TOKENS)) {
        fprintf(stderr, "%s: invalid configuration:\n", config_path);
        for (size_t i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            fprintf(stderr, "  %s: %s\n", errors.errors[i].path, errors.errors[i].message);
        if (errors.count > CONFIG_MAX_ERRORS)
            fprintf(stderr, "  ... and %zu more\n", errors.count - CONFIG_MAX_ERRORS);
        free(text);
        return 1;
    }
    config_broker broker;
    if (!config_parse_broker_url(cfg.mqtt.broker_url, &broker)) {
        fprintf(stderr, "%s: mqtt.broker_url: unusable URL\n", config_path);
        free(text);
        return 1;
    }

    char ca_path[CONFIG_PATH_SIZE * 2 + 2] = "";
    if (argc == 4 && argv[3][0] != '\0') {
        snprintf(ca_path, sizeof ca_path, "%s", argv[3]);
    } else if (cfg.mqtt.ca_file[0] != '\0') {
        const char *slash = strrchr(config_path, '/');
        if (cfg.mqtt.ca_file[0] == '/' || slash == NULL)
            snprintf(ca_path, sizeof ca_path, "%s", cfg.mqtt.ca_file);
        else
            snprintf(ca_path, sizeof ca_path, "%.*s/%s", (int)(slash - config_path), config_path,
                     cfg.mqtt.ca_file);
    }
    char *ca = NULL;
    size_t ca_len = 0;
    if (broker.tls) {
        if (ca_path[0] == '\0') {
            fprintf(stderr, "%s: mqtt.broker_url is mqtts:// but no CA certificate is given "
                    "(set mqtt.ca_file or -DMTC_CA=file.pem; HiveMQ Cloud: "
                    "/etc/ssl/certs/ISRG_Root_X1.pem)\n", config_path);
            free(text);
            return 1;
        }
        ca = read_file(ca_path, MAX_CA_SIZE, &ca_len);
        if (ca == NULL || strstr(ca, "-----BEGIN CERTIFICATE-----") == NULL) {
            fprintf(stderr, "%s: %s is not a PEM certificate\n", config_path, ca_path);
            free(text);
            free(ca);
            return 1;
        }
    }

    FILE *out = fopen(argv[2], "w");
    if (out == NULL) {
        fprintf(stderr, "config_check: cannot write %s\n", argv[2]);
        free(text);
        free(ca);
        return 1;
    }
    fprintf(out, "/* Generated from %s by config_check. Holds secrets: never commit. */\n",
            config_path);
    fprintf(out, "#include \"firmware_config.h\"\n\n");
    write_bytes(out, "char", "mtc_config_json", text, len, 1);
    fprintf(out, "const size_t mtc_config_json_len = %zu;\n\n", len);
    write_bytes(out, "uint8_t", "mtc_ca_pem", ca != NULL ? ca : "", ca_len, ca != NULL);
    fprintf(out, "const size_t mtc_ca_pem_len = %zu;\n", ca != NULL ? ca_len + 1 : (size_t)0);
    int failed = ferror(out);
    failed |= fclose(out);
    printf("config_check: %s is valid (%zu relays, %zu momentary, %zu contacts, broker %s%s)\n",
           config_path, cfg.relay_count, cfg.momentary_count, cfg.contact_count,
           cfg.mqtt.broker_url, ca != NULL ? ", CA embedded" : "");
    free(text);
    free(ca);
    return failed ? 1 : 0;
}
