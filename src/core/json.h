/*
 * Small non-allocating JSON parser (RFC 8259) and writer.
 *
 * The parser validates the whole text and fills a caller-owned array of
 * tokens that point into the caller's bytes. Nesting is limited by
 * JSON_MAX_DEPTH so hostile input cannot exhaust the stack.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef JSON_MAX_DEPTH
#define JSON_MAX_DEPTH 16
#endif

typedef enum {
    JSON_OBJECT = 1, JSON_ARRAY, JSON_STRING, JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL,
} json_type;

typedef struct {
    json_type type;
    uint32_t start;   /* offset of the value; for strings, first byte inside the quotes */
    uint32_t len;     /* bytes; for strings, raw (still escaped) bytes inside the quotes */
    uint32_t size;    /* object: number of members; array: number of elements */
    uint32_t next;    /* index of the token after this value and all its children */
} json_token;

typedef enum {
    JSON_OK = 0,
    JSON_ERR_SYNTAX,      /* not valid JSON */
    JSON_ERR_TOO_DEEP,    /* nesting beyond JSON_MAX_DEPTH */
    JSON_ERR_TOO_MANY,    /* more tokens than the caller's array holds */
    JSON_ERR_EMPTY,       /* no value at all */
    JSON_ERR_TOO_LONG,    /* text longer than JSON_MAX_TEXT (offsets are 32-bit) */
} json_status;

/* Largest text json_parse accepts; token offsets are uint32_t. */
#define JSON_MAX_TEXT 0x7fffffffu

typedef struct {
    json_status status;
    size_t error_offset;  /* where parsing stopped, for messages */
    size_t count;         /* tokens used (0 when status is not JSON_OK) */
    const char *detail;   /* what is wrong, e.g. "invalid UTF-8"; "" when JSON_OK */
} json_result;

/* Parses exactly one value (surrounding white space allowed). An object's
 * members are stored key token, value token, ...; token 0 is the root.
 * Strict RFC 8259: no comments, no trailing commas, no leading zeros or '+',
 * strings must be valid UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) without raw control characters; \u escapes must pair surrogates.
 * Duplicate keys are accepted here; see json_find_duplicate_key. */
json_result json_parse(const char *text, size_t len, json_token *tokens, size_t max_tokens);

/* Index of the value for key in the object at index obj, or -1 (also when obj
 * is not an object). With duplicate keys, the first member wins. */
int json_object_get(const char *text, const json_token *tokens, size_t count, size_t obj, const char *key);
/* Index of the n-th element (from 0) of the array at index arr, or -1. */
int json_array_get(const json_token *tokens, size_t count, size_t arr, size_t n);
/* Index of the first key token in the object at index obj whose (unescaped)
 * text equals an earlier key of the same object, or -1 when all keys differ. */
int json_object_duplicate_key(const char *text, const json_token *tokens, size_t count, size_t obj);
/* The same check for every object in the document: index of the first
 * duplicated key token found, or -1. */
int json_find_duplicate_key(const char *text, const json_token *tokens, size_t count);
/* True if two string tokens are equal after unescaping. */
bool json_strings_equal(const char *text, const json_token *a, const json_token *b);
/* Unescaped length in bytes of a string token, or SIZE_MAX if it holds an
 * invalid escape. */
size_t json_string_length(const char *text, const json_token *t);
/* True if the string token equals s (after unescaping). */
bool json_string_equals(const char *text, const json_token *t, const char *s);
/* Unescapes a string token into out (NUL-terminated); false if it does not fit
 * or holds invalid escapes / a NUL character. */
bool json_string_copy(const char *text, const json_token *t, char *out, size_t out_size);
/* Integer value of a number token: false if it has a fraction/exponent or is
 * outside int64 (never overflows). */
bool json_number_int(const char *text, const json_token *t, int64_t *out);
/* Any number token as a double-free fixed point: value * 1000, false if out of range.
 * Digits beyond the third decimal are cut off (rounded toward zero). */
bool json_number_milli(const char *text, const json_token *t, int64_t *out);
const char *json_status_text(json_status s);

/* Writer into a fixed buffer. On overflow it stops writing and remembers.
 * Strings are escaped (quote, backslash, every control character) and the
 * output is always valid UTF-8: each byte of an invalid sequence in the input
 * is written as \ufffd. The caller writes a well-formed sequence of calls
 * (keys only inside objects); the writer adds commas and colons. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
    bool overflow;
    bool need_comma;
} json_writer;

void json_writer_init(json_writer *w, char *buf, size_t size);
void json_write_object_begin(json_writer *w);
void json_write_object_end(json_writer *w);
void json_write_array_begin(json_writer *w);
void json_write_array_end(json_writer *w);
void json_write_key(json_writer *w, const char *key);
void json_write_string(json_writer *w, const char *s);
void json_write_string_n(json_writer *w, const char *s, size_t n);
void json_write_int(json_writer *w, int64_t v);
/* v / 1000 with up to 'decimals' fraction digits (0..3, more is taken as 3),
 * rounded half away from zero, trailing zeros dropped: 18600,1 -> 18.6;
 * 18000,2 -> 18; -1500,0 -> -2. */
void json_write_milli(json_writer *w, int64_t v_milli, unsigned decimals);
void json_write_bool(json_writer *w, bool v);
void json_write_null(json_writer *w);
/* NUL-terminates and returns length, or -1 on overflow. */
int json_writer_finish(json_writer *w);

#endif
