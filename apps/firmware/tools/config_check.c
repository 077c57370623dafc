/*
 * Build-time check of the firmware configuration, with the parser the
 * firmware itself uses (src/core/config.c, compiled for the host):
 *
 *   config_check CONFIG.json OUT.c [CA.pem]
 *
 * Prints every error and fails when the file is invalid; otherwise writes
 * OUT.c holding the file's bytes (and the CA certificate for mqtts) for the
 * image. The CA is CA.pem if given, else mqtt.ca_file (relative to the
 * config file's folder). A mqtts broker without a CA is an error. The
 * loading and checking is config_load.c, shared with mqtt-tiny-config.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config_load.h"

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
    static config_loaded loaded;
    if (!config_load("config_check", config_path, argc == 4 ? argv[3] : NULL,
                     "-DMTC_CA=file.pem", &loaded))
        return 1;
    const char *ca = loaded.ca;

    FILE *out = fopen(argv[2], "w");
    if (out == NULL) {
        fprintf(stderr, "config_check: cannot write %s\n", argv[2]);
        config_load_free(&loaded);
        return 1;
    }
    fprintf(out, "/* Generated from %s by config_check. Holds secrets: never commit. */\n",
            config_path);
    fprintf(out, "#include \"firmware_config.h\"\n\n");
    write_bytes(out, "char", "mtc_config_json", loaded.json, loaded.json_len, 1);
    fprintf(out, "const size_t mtc_config_json_len = %zu;\n\n", loaded.json_len);
    write_bytes(out, "uint8_t", "mtc_ca_pem", ca != NULL ? ca : "", loaded.ca_len, ca != NULL);
    fprintf(out, "const size_t mtc_ca_pem_len = %zu;\n",
            ca != NULL ? loaded.ca_len + 1 : (size_t)0);
    int failed = ferror(out);
    failed |= fclose(out);
    const config *cfg = &loaded.cfg;
    printf("config_check: %s is valid (%zu relays, %zu momentary, %zu contacts, broker %s%s)\n",
           config_path, cfg->relay_count, cfg->momentary_count, cfg->contact_count,
           cfg->mqtt.broker_url, ca != NULL ? ", CA embedded" : "");
    config_load_free(&loaded);
    return failed ? 1 : 0;
}
