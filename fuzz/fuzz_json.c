/*
 * libFuzzer target for the JSON parser and writer.
 *
 * Any input: the parser never crashes and either fails with no tokens or
 * returns tokens that lie inside the text. Valid input: every accessor works
 * on every token, and writing the parsed document back out with the writer
 * gives JSON that parses to the same structure and the same strings. The raw
 * input written as one string must also parse (the writer's output is always
 * valid UTF-8).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define MAX_TOKENS 512
#define OUT_SIZE (1 << 17)
#define STR_SIZE 4096

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

typedef struct {
    json_token tok[MAX_TOKENS];
    json_token tok2[MAX_TOKENS];
    char out[OUT_SIZE];
    char s1[STR_SIZE];
    char s2[STR_SIZE];
} work_area;

static work_area area;   /* big buffers off the stack; the fuzzer is single-threaded */

static void check_tokens(const char *text, size_t size, const json_token *tok, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        CHECK((size_t)tok[i].start + tok[i].len <= size);
        CHECK(tok[i].next > i && tok[i].next <= count);
        CHECK(tok[i].type >= JSON_OBJECT && tok[i].type <= JSON_NULL);
        if (tok[i].type == JSON_NUMBER) {
            int64_t v;
            (void)json_number_int(text, &tok[i], &v);
            (void)json_number_milli(text, &tok[i], &v);
        }
        if (tok[i].type == JSON_STRING) {
            size_t n = json_string_length(text, &tok[i]);
            CHECK(n != SIZE_MAX && n <= tok[i].len);
        }
        if (tok[i].type == JSON_ARRAY && tok[i].size > 0) {
            CHECK(json_array_get(tok, count, i, tok[i].size - 1) > 0);
            CHECK(json_array_get(tok, count, i, tok[i].size) == -1);
        }
    }
    (void)json_find_duplicate_key(text, tok, count);
}

/* Writes the parsed document back out with the writer (no recursion). */
static int rewrite(const char *text, const json_token *tok, size_t count, char *out, size_t out_size)
{
    struct { uint32_t end; json_type type; bool want_key; } st[JSON_MAX_DEPTH];
    size_t depth = 0;
    json_writer w;
    json_writer_init(&w, out, out_size);
    for (size_t i = 0; i <= count; i++) {
        while (depth > 0 && i >= st[depth - 1].end) {
            depth--;
            if (st[depth].type == JSON_OBJECT) {
                json_write_object_end(&w);
            } else {
                json_write_array_end(&w);
            }
        }
        if (i == count) {
            break;
        }
        const json_token *t = &tok[i];
        if (depth > 0 && st[depth - 1].type == JSON_OBJECT && st[depth - 1].want_key) {
            st[depth - 1].want_key = false;
            /* keys holding \u0000 cannot be C strings: write them empty */
            if (!json_string_copy(text, t, area.s1, sizeof area.s1)) {
                area.s1[0] = '\0';
            }
            json_write_key(&w, area.s1);
            continue;
        }
        if (depth > 0 && st[depth - 1].type == JSON_OBJECT) {
            st[depth - 1].want_key = true;
        }
        switch (t->type) {
        case JSON_OBJECT:
        case JSON_ARRAY:
            CHECK(depth < JSON_MAX_DEPTH);
            if (t->type == JSON_OBJECT) {
                json_write_object_begin(&w);
            } else {
                json_write_array_begin(&w);
            }
            st[depth].end = t->next;
            st[depth].type = t->type;
            st[depth].want_key = true;
            depth++;
            break;
        case JSON_STRING:
            if (!json_string_copy(text, t, area.s1, sizeof area.s1)) {
                area.s1[0] = '\0';
            }
            json_write_string(&w, area.s1);
            break;
        case JSON_NUMBER: {
            int64_t v;
            if (json_number_int(text, t, &v)) {
                json_write_int(&w, v);
            } else if (json_number_milli(text, t, &v)) {
                json_write_milli(&w, v, 3);
            } else {
                json_write_null(&w);
            }
            break;
        }
        case JSON_TRUE: json_write_bool(&w, true); break;
        case JSON_FALSE: json_write_bool(&w, false); break;
        default: json_write_null(&w); break;
        }
    }
    return json_writer_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_result r = json_parse(text, size, area.tok, MAX_TOKENS);

    /* the raw bytes as one string: always valid JSON out of the writer */
    {
        json_writer w;
        json_token t;
        json_writer_init(&w, area.out, sizeof area.out);
        json_write_string_n(&w, text, size);
        int n = json_writer_finish(&w);
        if (n > 0) {
            json_result r2 = json_parse(area.out, (size_t)n, &t, 1);
            CHECK(r2.status == JSON_OK && t.type == JSON_STRING);
            /* input without invalid UTF-8 or NULs comes back byte for byte */
            if (strstr(area.out, "\\ufffd") == NULL && memchr(text, 0, size) == NULL && size < STR_SIZE) {
                CHECK(json_string_copy(area.out, &t, area.s2, sizeof area.s2));
                CHECK(strlen(area.s2) == size && memcmp(area.s2, text, size) == 0);
            }
        }
    }

    if (r.status != JSON_OK) {
        CHECK(r.count == 0);
        CHECK(r.error_offset <= size);
        return 0;
    }
    CHECK(r.count > 0 && area.tok[0].next == r.count);
    check_tokens(text, size, area.tok, r.count);

    int n = rewrite(text, area.tok, r.count, area.out, sizeof area.out);
    if (n < 0) {
        return 0;   /* did not fit */
    }
    json_result r2 = json_parse(area.out, (size_t)n, area.tok2, MAX_TOKENS);
    CHECK(r2.status == JSON_OK);
    CHECK(r2.count == r.count);
    for (size_t i = 0; i < r.count; i++) {
        int64_t v;
        if (area.tok[i].type == JSON_NUMBER && !json_number_int(text, &area.tok[i], &v) &&
            !json_number_milli(text, &area.tok[i], &v)) {
            CHECK(area.tok2[i].type == JSON_NULL);   /* beyond int64: written as null */
            continue;
        }
        CHECK(area.tok[i].type == area.tok2[i].type);
        CHECK(area.tok[i].size == area.tok2[i].size);
        CHECK(area.tok[i].next == area.tok2[i].next);
        if (area.tok[i].type == JSON_STRING && json_string_copy(text, &area.tok[i], area.s1, sizeof area.s1)) {
            CHECK(json_string_copy(area.out, &area.tok2[i], area.s2, sizeof area.s2));
            CHECK(strcmp(area.s1, area.s2) == 0);
        }
    }
    return 0;
}
