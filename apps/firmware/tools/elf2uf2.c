/*
 * elf2uf2: the firmware ELF as a UF2 file for the RP2040's RPI-RP2 drive.
 *
 *   elf2uf2 IN.elf OUT.uf2           write the UF2
 *   elf2uf2 --verify IN.elf IN.uf2   read a UF2 back and compare it with the ELF
 *
 * Takes the PT_LOAD segments with file bytes whose load (physical) address
 * is in flash, 0x10000000 .. +2 MB; .data is one of them (it runs from RAM
 * but is loaded from flash). Segments elsewhere are left out with a note.
 * Writes one UF2 block per 256-byte flash page that holds any of their
 * bytes, in address order; bytes of such a page that no segment fills are
 * 0x00 (as `objcopy -O binary` fills gaps). An image that reaches the
 * configuration region (FLASH_LAYOUT_FIRMWARE_MAX) is refused: flashing it
 * would erase the configuration.
 *
 * Every offset and length of the ELF is checked against the file before use.
 * Host tool: plain C11 and src/core/uf2.c, built with the host compiler.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash_layout.h"
#include "uf2.h"

#define TOOL "elf2uf2"
#define PAGE UF2_RP2040_PAYLOAD
#define FLASH_PAGES (FLASH_LAYOUT_SIZE / PAGE)
#define MAX_ELF_SIZE (64u * 1024u * 1024u)
#define MAX_UF2_SIZE ((size_t)FLASH_PAGES * UF2_BLOCK_SIZE)

#define ELF_HEADER_SIZE 52u
#define ELF_PHDR_SIZE 32u
#define PT_LOAD 1u
#define EM_ARM 40u
#define ET_EXEC 2u

/* The flash as the ELF fills it. */
typedef struct {
    uint8_t bytes[FLASH_LAYOUT_SIZE];
    uint8_t segment[FLASH_LAYOUT_SIZE];   /* 0: no segment, else its index + 1 */
    bool page_used[FLASH_PAGES];
    size_t loaded;                        /* bytes from segments */
    uint32_t pages;
    uint32_t end;                         /* offset after the last loaded byte */
} flash_image;

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *read_all(const char *path, size_t limit, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, TOOL ": cannot open %s\n", path);
        return NULL;
    }
    uint8_t *buf = malloc(limit + 1);
    size_t n = buf != NULL ? fread(buf, 1, limit + 1, f) : 0;
    int failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, TOOL ": cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    if (n > limit) {
        fprintf(stderr, TOOL ": %s is larger than %zu bytes\n", path, limit);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Fills img from the ELF's loadable flash segments. False after saying why. */
static bool load_elf(const char *path, const uint8_t *elf, size_t size, flash_image *img)
{
    memset(img, 0, sizeof *img);
    if (size < ELF_HEADER_SIZE || memcmp(elf, "\x7f" "ELF", 4) != 0) {
        fprintf(stderr, TOOL ": %s is not an ELF file\n", path);
        return false;
    }
    if (elf[4] != 1 || elf[5] != 1 || elf[6] != 1) {
        fprintf(stderr, TOOL ": %s is not a 32-bit little-endian ELF (version 1)\n", path);
        return false;
    }
    if (le16(elf + 18) != EM_ARM || le16(elf + 16) != ET_EXEC) {
        fprintf(stderr, TOOL ": %s is not an ARM executable\n", path);
        return false;
    }
    uint64_t phoff = le32(elf + 28);
    uint32_t phentsize = le16(elf + 42);
    uint32_t phnum = le16(elf + 44);
    if (phnum == 0 || phentsize != ELF_PHDR_SIZE ||
        phoff + (uint64_t)phnum * ELF_PHDR_SIZE > size) {
        fprintf(stderr, TOOL ": %s: program headers missing or outside the file\n", path);
        return false;
    }

    for (uint32_t i = 0; i < phnum; i++) {
        const uint8_t *ph = elf + phoff + (uint64_t)i * ELF_PHDR_SIZE;
        uint32_t type = le32(ph), offset = le32(ph + 4), paddr = le32(ph + 12);
        uint32_t filesz = le32(ph + 16);
        if (type != PT_LOAD || filesz == 0)
            continue;
        if ((uint64_t)offset + filesz > size) {
            fprintf(stderr, TOOL ": %s: segment %lu (offset 0x%lx, %lu bytes) runs past the end "
                    "of the file\n", path, (unsigned long)i, (unsigned long)offset,
                    (unsigned long)filesz);
            return false;
        }
        if (paddr < FLASH_LAYOUT_XIP_BASE || paddr - FLASH_LAYOUT_XIP_BASE >= FLASH_LAYOUT_SIZE) {
            fprintf(stderr, TOOL ": note: segment %lu loads at 0x%08lx, not in flash: left out\n",
                    (unsigned long)i, (unsigned long)paddr);
            continue;
        }
        uint64_t start = paddr - FLASH_LAYOUT_XIP_BASE;
        uint64_t end = start + filesz;
        if (end > FLASH_LAYOUT_FIRMWARE_MAX) {
            fprintf(stderr, TOOL ": %s: segment %lu (0x%08lx, %lu bytes) reaches 0x%08lx: the "
                    "firmware must end below the configuration region at 0x%08lx (%lu bytes "
                    "too many)\n", path, (unsigned long)i, (unsigned long)paddr,
                    (unsigned long)filesz, (unsigned long)(FLASH_LAYOUT_XIP_BASE + end - 1),
                    (unsigned long)(FLASH_LAYOUT_XIP_BASE + FLASH_LAYOUT_FIRMWARE_MAX),
                    (unsigned long)(end - FLASH_LAYOUT_FIRMWARE_MAX));
            return false;
        }
        for (uint64_t a = start; a < end; a++) {
            if (img->segment[a] != 0) {
                fprintf(stderr, TOOL ": %s: segments %u and %lu overlap at 0x%08lx\n", path,
                        img->segment[a] - 1u, (unsigned long)i,
                        (unsigned long)(FLASH_LAYOUT_XIP_BASE + a));
                return false;
            }
            img->segment[a] = (uint8_t)(i < 254 ? i + 1 : 255);
            img->page_used[a / PAGE] = true;
        }
        memcpy(img->bytes + start, elf + offset, filesz);
        img->loaded += filesz;
        if (end > img->end)
            img->end = (uint32_t)end;
    }
    for (uint32_t p = 0; p < FLASH_PAGES; p++)
        img->pages += img->page_used[p];
    if (img->pages == 0) {
        fprintf(stderr, TOOL ": %s: no loadable bytes in flash\n", path);
        return false;
    }
    return true;
}

static int write_uf2(const char *elf_path, const char *out_path, const flash_image *img)
{
    static uint8_t uf2[MAX_UF2_SIZE];
    uint32_t n = 0;
    for (uint32_t p = 0; p < FLASH_PAGES; p++) {
        if (!img->page_used[p])
            continue;
        if (!uf2_encode_block(uf2 + (size_t)n * UF2_BLOCK_SIZE, FLASH_LAYOUT_XIP_BASE + p * PAGE,
                              img->bytes + (size_t)p * PAGE, PAGE, n, img->pages,
                              UF2_FAMILY_RP2040)) {
            fprintf(stderr, TOOL ": internal error encoding block %lu\n", (unsigned long)n);
            return 1;
        }
        n++;
    }
    /* Whole or nothing: a temporary file renamed once complete. */
    size_t len = strlen(out_path);
    char *tmp = malloc(len + sizeof ".tmp");
    if (tmp == NULL)
        return 1;
    memcpy(tmp, out_path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    FILE *f = fopen(tmp, "wb");
    size_t bytes = (size_t)n * UF2_BLOCK_SIZE;
    bool ok = f != NULL && fwrite(uf2, 1, bytes, f) == bytes;
    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, out_path) == 0;
    if (!ok) {
        fprintf(stderr, TOOL ": cannot write %s\n", out_path);
        remove(tmp);
    }
    free(tmp);
    if (!ok)
        return 1;
    printf(TOOL ": wrote %s: %lu blocks, %zu bytes of %s up to 0x%08lx (%.1f%% of the %u KB "
           "below the configuration region)\n", out_path, (unsigned long)n, img->loaded, elf_path,
           (unsigned long)(FLASH_LAYOUT_XIP_BASE + img->end),
           100.0 * img->end / FLASH_LAYOUT_FIRMWARE_MAX, FLASH_LAYOUT_FIRMWARE_MAX / 1024u);
    return 0;
}

static int verify(const char *uf2_path, const uint8_t *uf2, size_t size, const flash_image *img)
{
    static uint8_t got[FLASH_LAYOUT_SIZE];
    static bool seen[FLASH_PAGES];
    memset(seen, 0, sizeof seen);
    if (size == 0 || size % UF2_BLOCK_SIZE != 0) {
        fprintf(stderr, TOOL ": %s: not a UF2 file (%zu bytes, not a multiple of %u)\n", uf2_path,
                size, UF2_BLOCK_SIZE);
        return 1;
    }
    uf2_sequence seq;
    uf2_sequence_init(&seq, UF2_FAMILY_RP2040, PAGE);
    for (size_t off = 0; off < size; off += UF2_BLOCK_SIZE) {
        size_t index = off / UF2_BLOCK_SIZE;
        uf2_block b;
        uf2_status st = uf2_sequence_next(&seq, uf2 + off, UF2_BLOCK_SIZE, &b);
        if (st != UF2_OK) {
            fprintf(stderr, TOOL ": %s: block %zu: %s\n", uf2_path, index, uf2_status_text(st));
            return 1;
        }
        if ((b.flags & UF2_FLAG_NOT_MAIN_FLASH) != 0 || b.address < FLASH_LAYOUT_XIP_BASE ||
            b.address - FLASH_LAYOUT_XIP_BASE >= FLASH_LAYOUT_FIRMWARE_MAX) {
            fprintf(stderr, TOOL ": %s: block %zu writes 0x%08lx, outside the firmware's flash "
                    "0x%08lx..0x%08lx\n", uf2_path, index, (unsigned long)b.address,
                    (unsigned long)FLASH_LAYOUT_XIP_BASE,
                    (unsigned long)(FLASH_LAYOUT_XIP_BASE + FLASH_LAYOUT_FIRMWARE_MAX - 1));
            return 1;
        }
        uint32_t page = (b.address - FLASH_LAYOUT_XIP_BASE) / PAGE;
        if (seen[page]) {
            fprintf(stderr, TOOL ": %s: block %zu writes 0x%08lx a second time\n", uf2_path, index,
                    (unsigned long)b.address);
            return 1;
        }
        if (!img->page_used[page]) {
            fprintf(stderr, TOOL ": %s: block %zu writes 0x%08lx, where the ELF has nothing\n",
                    uf2_path, index, (unsigned long)b.address);
            return 1;
        }
        seen[page] = true;
        memcpy(got + (size_t)page * PAGE, b.payload, PAGE);
    }
    if (!uf2_sequence_complete(&seq)) {
        fprintf(stderr, TOOL ": %s: truncated: %lu of %lu blocks\n", uf2_path,
                (unsigned long)seq.next, (unsigned long)seq.count);
        return 1;
    }
    for (size_t a = 0; a < img->end; a++) {
        if (img->segment[a] == 0)
            continue;
        if (!seen[a / PAGE]) {
            fprintf(stderr, TOOL ": %s: 0x%08lx (segment %u of the ELF) is in no block\n",
                    uf2_path, (unsigned long)(FLASH_LAYOUT_XIP_BASE + a), img->segment[a] - 1u);
            return 1;
        }
        if (got[a] != img->bytes[a]) {
            fprintf(stderr, TOOL ": %s: first mismatch at 0x%08lx: ELF 0x%02x, UF2 0x%02x\n",
                    uf2_path, (unsigned long)(FLASH_LAYOUT_XIP_BASE + a), img->bytes[a], got[a]);
            return 1;
        }
    }
    printf("verified %zu bytes in %lu blocks of %s\n", img->loaded, (unsigned long)seq.next,
           uf2_path);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: " TOOL " IN.elf OUT.uf2           write the UF2 of an RP2040 ELF\n"
                    "       " TOOL " --verify IN.elf IN.uf2   compare a UF2 with its ELF\n");
    return 2;
}

int main(int argc, char **argv)
{
    bool check = argc == 4 && strcmp(argv[1], "--verify") == 0;
    if (!check && (argc != 3 || argv[1][0] == '-'))
        return usage();
    const char *elf_path = argv[check ? 2 : 1];
    const char *uf2_path = argv[check ? 3 : 2];

    static flash_image img;
    size_t elf_size = 0;
    uint8_t *elf = read_all(elf_path, MAX_ELF_SIZE, &elf_size);
    if (elf == NULL)
        return 1;
    bool ok = load_elf(elf_path, elf, elf_size, &img);
    free(elf);
    if (!ok)
        return 1;
    if (!check)
        return write_uf2(elf_path, uf2_path, &img);

    size_t uf2_size = 0;
    uint8_t *uf2 = read_all(uf2_path, MAX_UF2_SIZE, &uf2_size);
    if (uf2 == NULL)
        return 1;
    int status = verify(uf2_path, uf2, uf2_size, &img);
    free(uf2);
    return status;
}
