/* Loading and checking a configuration on the host; see config_load.h. */
#include "config_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware.h"   /* FIRMWARE_CONFIG_TOKENS: the device's own bound */

char *config_load_file(const char *tool, const char *path, size_t limit, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot open %s\n", tool, path);
        return NULL;
    }
    char *buf = malloc(limit + 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "%s: out of memory reading %s\n", tool, path);
        return NULL;
    }
    size_t n = fread(buf, 1, limit + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: cannot read %s\n", tool, path);
        free(buf);
        return NULL;
    }
    if (n > limit) {
        fprintf(stderr, "%s: %s is larger than %zu bytes\n", tool, path, limit);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

bool config_load_check_text(const char *label, const char *text, size_t len, config *out)
{
    static config_errors errors;
    static json_token tokens[FIRMWARE_CONFIG_TOKENS];
    if (!config_parse_tokens(text, len, out, &errors, tokens, FIRMWARE_CONFIG_TOKENS)) {
        fprintf(stderr, "%s: invalid configuration:\n", label);
        for (size_t i = 0; i < errors.count && i < CONFIG_MAX_ERRORS; i++)
            fprintf(stderr, "  %s: %s\n", errors.errors[i].path, errors.errors[i].message);
        if (errors.count > CONFIG_MAX_ERRORS)
            fprintf(stderr, "  ... and %zu more\n", errors.count - CONFIG_MAX_ERRORS);
        return false;
    }
    return true;
}

bool config_load(const char *tool, const char *config_path, const char *ca_path,
                 const char *ca_hint, config_loaded *out)
{
    memset(out, 0, sizeof *out);
    out->json = config_load_file(tool, config_path, CONFIG_MAX_TEXT, &out->json_len);
    if (out->json == NULL)
        return false;
    if (!config_load_check_text(config_path, out->json, out->json_len, &out->cfg))
        goto fail;
    config_broker broker;
    if (!config_parse_broker_url(out->cfg.mqtt.broker_url, &broker)) {
        fprintf(stderr, "%s: mqtt.broker_url: unusable URL\n", config_path);
        goto fail;
    }

    if (ca_path != NULL && ca_path[0] != '\0') {
        snprintf(out->ca_path, sizeof out->ca_path, "%s", ca_path);
    } else if (out->cfg.mqtt.ca_file[0] != '\0') {
        const char *slash = strrchr(config_path, '/');
        if (out->cfg.mqtt.ca_file[0] == '/' || slash == NULL)
            snprintf(out->ca_path, sizeof out->ca_path, "%s", out->cfg.mqtt.ca_file);
        else
            snprintf(out->ca_path, sizeof out->ca_path, "%.*s/%s",
                     (int)(slash - config_path), config_path, out->cfg.mqtt.ca_file);
    }
    if (!broker.tls)
        return true;   /* no CA needed (and none embedded) */
    if (out->ca_path[0] == '\0') {
        fprintf(stderr, "%s: mqtt.broker_url is mqtts:// but no CA certificate is given "
                "(set mqtt.ca_file or %s; HiveMQ Cloud: /etc/ssl/certs/ISRG_Root_X1.pem)\n",
                config_path, ca_hint);
        goto fail;
    }
    out->ca = config_load_file(tool, out->ca_path, CONFIG_LOAD_MAX_CA, &out->ca_len);
    if (out->ca == NULL || memchr(out->ca, '\0', out->ca_len) != NULL ||
        strstr(out->ca, "-----BEGIN CERTIFICATE-----") == NULL) {
        fprintf(stderr, "%s: %s is not a PEM certificate\n", config_path, out->ca_path);
        goto fail;
    }
    return true;

fail:
    config_load_free(out);
    return false;
}

void config_load_free(config_loaded *loaded)
{
    free(loaded->json);
    free(loaded->ca);
    loaded->json = NULL;
    loaded->ca = NULL;
    loaded->json_len = 0;
    loaded->ca_len = 0;
}
