/*
 * mqtt-tiny-config: the configuration of a Pico W as a UF2 file, to drag onto
 * the board's RPI-RP2 drive next to (or instead of) mqtt_tiny.uf2.
 *
 *   mqtt-tiny-config CONFIG.json -o config.uf2 [--ca FILE.pem]
 *   mqtt-tiny-config --check CONFIG.json [--ca FILE.pem]
 *   mqtt-tiny-config --dump config.uf2
 *
 * The file is checked with the firmware's own parser and token bound
 * (config_load.c, shared with the build-time config_check), then written as
 * a configuration image (src/core/config_image.h) in UF2 blocks for the
 * configuration region (src/platform/pico/flash_layout.h). Nothing is
 * written for an invalid configuration: the UF2 goes to a temporary file
 * that is renamed only once complete.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_image.h"
#include "config_load.h"
#include "flash_layout.h"
#include "uf2.h"

#define TOOL "mqtt-tiny-config"
#define PAGE UF2_RP2040_PAYLOAD
#define REGION_PAGES (FLASH_LAYOUT_CONFIG_SIZE / PAGE)
#define MAX_UF2_SIZE (REGION_PAGES * UF2_BLOCK_SIZE)

static int usage(const char *problem)
{
    if (problem != NULL)
        fprintf(stderr, TOOL ": %s\n", problem);
    fprintf(stderr,
            "usage: " TOOL " CONFIG.json -o config.uf2 [--ca FILE.pem]   write a config UF2\n"
            "       " TOOL " --check CONFIG.json [--ca FILE.pem]         check only\n"
            "       " TOOL " --dump config.uf2                           print the JSON of a "
            "config UF2\n"
            "The CA certificate (mqtts) is --ca, else mqtt.ca_file relative to the config's "
            "folder.\n");
    return 2;
}

static void print_summary(const char *path, const config_loaded *c)
{
    printf("%s is valid (%zu relays, %zu momentary, %zu contacts, broker %s)\n", path,
           c->cfg.relay_count, c->cfg.momentary_count, c->cfg.contact_count,
           c->cfg.mqtt.broker_url);
    if (c->ca != NULL)
        printf("  CA certificate: %s (%zu bytes)\n", c->ca_path, c->ca_len);
}

/* The configuration region rebuilt from a UF2 file's blocks (0xFF where no
 * block wrote). False after saying why. */
static bool region_from_uf2(const char *label, const uint8_t *uf2, size_t size, uint8_t *region,
                            uint32_t *blocks)
{
    static bool written[REGION_PAGES];
    memset(written, 0, sizeof written);
    memset(region, 0xFF, FLASH_LAYOUT_CONFIG_SIZE);
    if (size == 0 || size % UF2_BLOCK_SIZE != 0) {
        fprintf(stderr, "%s: not a UF2 file (%zu bytes, not a multiple of %u)\n", label, size,
                UF2_BLOCK_SIZE);
        return false;
    }
    uf2_sequence seq;
    uf2_sequence_init(&seq, UF2_FAMILY_RP2040, PAGE);
    for (size_t off = 0; off < size; off += UF2_BLOCK_SIZE) {
        uf2_block b;
        size_t index = off / UF2_BLOCK_SIZE;
        uf2_status st = uf2_sequence_next(&seq, uf2 + off, UF2_BLOCK_SIZE, &b);
        if (st != UF2_OK) {
            fprintf(stderr, "%s: block %zu: %s\n", label, index, uf2_status_text(st));
            return false;
        }
        if (b.flags & UF2_FLAG_NOT_MAIN_FLASH) {
            fprintf(stderr, "%s: block %zu is not for the flash\n", label, index);
            return false;
        }
        if (b.address < FLASH_LAYOUT_CONFIG_ADDR ||
            b.address - FLASH_LAYOUT_CONFIG_ADDR >= FLASH_LAYOUT_CONFIG_SIZE) {
            fprintf(stderr, "%s: block %zu writes 0x%08lX, outside the configuration region "
                    "0x%08lX..0x%08lX\n", label, index, (unsigned long)b.address,
                    (unsigned long)FLASH_LAYOUT_CONFIG_ADDR,
                    (unsigned long)(FLASH_LAYOUT_CONFIG_ADDR + FLASH_LAYOUT_CONFIG_SIZE - 1));
            return false;
        }
        uint32_t page = (b.address - FLASH_LAYOUT_CONFIG_ADDR) / PAGE;
        if (written[page]) {
            fprintf(stderr, "%s: block %zu writes 0x%08lX a second time\n", label, index,
                    (unsigned long)b.address);
            return false;
        }
        written[page] = true;
        memcpy(region + (size_t)page * PAGE, b.payload, PAGE);
    }
    if (!uf2_sequence_complete(&seq)) {
        fprintf(stderr, "%s: truncated: %lu of %lu blocks\n", label, (unsigned long)seq.next,
                (unsigned long)seq.count);
        return false;
    }
    *blocks = seq.next;
    return true;
}

static int dump(const char *path)
{
    static uint8_t region[FLASH_LAYOUT_CONFIG_SIZE];
    size_t size = 0;
    uint32_t blocks = 0;
    char *uf2 = config_load_file(TOOL, path, MAX_UF2_SIZE, &size);
    if (uf2 == NULL)
        return 1;
    bool ok = region_from_uf2(path, (const uint8_t *)uf2, size, region, &blocks);
    free(uf2);
    if (!ok)
        return 1;
    config_image_view v;
    config_image_status st = config_image_read(region, sizeof region, &v);
    if (st != CONFIG_IMAGE_OK) {
        fprintf(stderr, "%s: %s\n", path, config_image_status_text(st));
        return 1;
    }
    fwrite(v.json, 1, v.json_len, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, TOOL ": cannot write the JSON\n");
        return 1;
    }
    fprintf(stderr, "%s: configuration image at 0x%08lX in %lu blocks, CRC-32 verified: "
            "JSON %zu bytes, CA %zu bytes%s\n", path, (unsigned long)FLASH_LAYOUT_CONFIG_ADDR,
            (unsigned long)blocks, v.json_len, v.ca_pem_len,
            v.ca_pem_len > 0 ? " (NUL included)" : " (none)");
    /* What the firmware will do with it. */
    static config cfg;
    if (!config_load_check_text(path, v.json, v.json_len, &cfg))
        return 1;
    return 0;
}

/* The UF2 blocks of the image in region (image bytes, 0xFF after them up to
 * a whole page). */
static bool encode(const uint8_t *region, size_t image_size, uint8_t *uf2, size_t *uf2_size)
{
    uint32_t blocks = (uint32_t)((image_size + PAGE - 1) / PAGE);
    for (uint32_t i = 0; i < blocks; i++) {
        if (!uf2_encode_block(uf2 + (size_t)i * UF2_BLOCK_SIZE,
                              FLASH_LAYOUT_CONFIG_ADDR + i * PAGE, region + (size_t)i * PAGE,
                              PAGE, i, blocks, UF2_FAMILY_RP2040))
            return false;
    }
    *uf2_size = (size_t)blocks * UF2_BLOCK_SIZE;
    return true;
}

/* Writes data to path through a temporary file in the same folder, renamed
 * once complete: an interrupted run leaves no partial UF2 behind. */
static bool write_whole(const char *path, const uint8_t *data, size_t len)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof ".tmp-XXXXXX");
    if (tmp == NULL)
        return false;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, TOOL ": cannot create a file beside %s\n", path);
        free(tmp);
        return false;
    }
    /* mkstemp makes it 0600; a UF2 is no secret to its owner's other tools */
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = fchmod(fd, 0666 & ~mask) == 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f != NULL && fwrite(data, 1, len, f) == len;
    if (f != NULL)
        ok = (fclose(f) == 0) && ok;
    else
        close(fd);
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, TOOL ": cannot write %s\n", path);
        remove(tmp);
    }
    free(tmp);
    return ok;
}

static int write_uf2(const char *config_path, const char *out_path, const config_loaded *c)
{
    static uint8_t region[FLASH_LAYOUT_CONFIG_SIZE];
    static uint8_t uf2[MAX_UF2_SIZE];
    static uint8_t check[FLASH_LAYOUT_CONFIG_SIZE];
    size_t ca_len = c->ca != NULL ? c->ca_len : 0;
    size_t need = config_image_size(c->json_len, ca_len);
    size_t image_size = 0, uf2_size = 0;
    uint32_t blocks = 0;

    memset(region, 0xFF, sizeof region);
    if (need > sizeof region) {
        fprintf(stderr, "%s: the configuration image takes %zu bytes (JSON %zu, CA %zu): more "
                "than the %u-byte configuration region\n", config_path, need, c->json_len,
                ca_len, FLASH_LAYOUT_CONFIG_SIZE);
        return 1;
    }
    if (!config_image_write(c->json, c->json_len, (const uint8_t *)c->ca, ca_len, region,
                            sizeof region, &image_size)) {
        fprintf(stderr, "%s: cannot make a configuration image (a NUL byte in the JSON or the "
                "CA?)\n", config_path);
        return 1;
    }
    /* Read back what is about to be written, as the firmware will. */
    config_image_view v;
    if (!encode(region, image_size, uf2, &uf2_size) ||
        !region_from_uf2(out_path, uf2, uf2_size, check, &blocks) ||
        config_image_read(check, sizeof check, &v) != CONFIG_IMAGE_OK ||
        v.json_len != c->json_len || memcmp(v.json, c->json, c->json_len) != 0) {
        fprintf(stderr, TOOL ": internal error: the UF2 does not read back\n");
        return 1;
    }
    if (!write_whole(out_path, uf2, uf2_size))
        return 1;
    print_summary(config_path, c);
    printf("wrote %s: %zu-byte configuration image in %lu blocks at 0x%08lX "
           "(region of %u bytes)\n", out_path, image_size, (unsigned long)blocks,
           (unsigned long)FLASH_LAYOUT_CONFIG_ADDR, FLASH_LAYOUT_CONFIG_SIZE);
    return 0;
}

int main(int argc, char **argv)
{
    const char *input = NULL, *out_path = NULL, *ca_path = NULL;
    bool check = false, do_dump = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(NULL);
            return 0;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--dump") == 0) {
            do_dump = true;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--ca") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0')
                return usage(strcmp(a, "-o") == 0 ? "-o needs a file name"
                                                  : "--ca needs a file name");
            const char **slot = strcmp(a, "-o") == 0 ? &out_path : &ca_path;
            if (*slot != NULL)
                return usage("an option is given twice");
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, TOOL ": unknown option %s\n", a);
            return usage(NULL);
        } else if (input != NULL) {
            return usage("one input file only");
        } else {
            input = a;
        }
    }
    if (input == NULL)
        return usage("no input file");
    if (check && do_dump)
        return usage("--check and --dump do not go together");
    if (do_dump) {
        if (out_path != NULL || ca_path != NULL)
            return usage("--dump takes only the UF2 file");
        return dump(input);
    }
    if (check && out_path != NULL)
        return usage("--check writes nothing: no -o");
    if (!check && out_path == NULL)
        return usage("no output file (-o config.uf2)");

    static config_loaded loaded;
    if (!config_load(TOOL, input, ca_path, "--ca FILE.pem", &loaded))
        return 1;
    int status = 0;
    if (check)
        print_summary(input, &loaded);
    else
        status = write_uf2(input, out_path, &loaded);
    config_load_free(&loaded);
    return status;
}
