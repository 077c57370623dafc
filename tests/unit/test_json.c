/* Unit tests of the JSON parser and writer (src/core/json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

#define MAX_TOK 64

static json_token tok[MAX_TOK];

static json_result parse(const char *s)
{
    return json_parse(s, strlen(s), tok, MAX_TOK);
}

static void assert_valid(const char *s)
{
    json_result r = parse(s);
    if (r.status != JSON_OK) {
        fail_msg("expected valid: %s (status %d at %zu: %s)", s, r.status, r.error_offset, r.detail);
    }
}

static void assert_invalid(const char *s, json_status st)
{
    json_result r = parse(s);
    if (r.status != st) {
        fail_msg("expected status %d for: %s, got %d", st, s, r.status);
    }
    assert_int_equal(r.count, 0);
}

/* Parses bytes that may hold NULs. */
static json_status parse_bytes(const char *s, size_t n)
{
    return json_parse(s, n, tok, MAX_TOK).status;
}

static void test_scalars(void **state)
{
    (void)state;
    json_result r = parse("  true ");
    assert_int_equal(r.status, JSON_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(tok[0].type, JSON_TRUE);
    assert_int_equal(tok[0].start, 2);
    assert_int_equal(tok[0].len, 4);
    assert_int_equal(tok[0].next, 1);
    assert_string_equal(r.detail, "");
    r = parse("false");
    assert_int_equal(tok[0].type, JSON_FALSE);
    r = parse("null");
    assert_int_equal(tok[0].type, JSON_NULL);
    r = parse("\"ab\"");
    assert_int_equal(tok[0].type, JSON_STRING);
    assert_int_equal(tok[0].start, 1);
    assert_int_equal(tok[0].len, 2);
    r = parse("-12.5e+3");
    assert_int_equal(tok[0].type, JSON_NUMBER);
    assert_int_equal(tok[0].len, 8);
}

static void test_structure(void **state)
{
    (void)state;
    const char *s = "{\"a\":[1,{\"b\":null},[]],\"c\":{}}";
    json_result r = parse(s);
    assert_int_equal(r.status, JSON_OK);
    /* 0:{ 1:"a" 2:[ 3:1 4:{ 5:"b" 6:null 7:[] 8:"c" 9:{} */
    assert_int_equal(r.count, 10);
    assert_int_equal(tok[0].type, JSON_OBJECT);
    assert_int_equal(tok[0].size, 2);
    assert_int_equal(tok[0].next, 10);
    assert_int_equal(tok[0].start, 0);
    assert_int_equal(tok[0].len, strlen(s));
    assert_int_equal(tok[2].type, JSON_ARRAY);
    assert_int_equal(tok[2].size, 3);
    assert_int_equal(tok[2].next, 8);
    assert_int_equal(tok[4].size, 1);
    assert_int_equal(tok[4].next, 7);
    assert_int_equal(tok[7].size, 0);
    assert_int_equal(tok[9].type, JSON_OBJECT);
    assert_int_equal(tok[9].size, 0);
    assert_int_equal(json_object_get(s, tok, r.count, 0, "c"), 9);
    assert_int_equal(json_object_get(s, tok, r.count, 0, "a"), 2);
    assert_int_equal(json_object_get(s, tok, r.count, 0, "x"), -1);
    assert_int_equal(json_object_get(s, tok, r.count, 2, "a"), -1);   /* not an object */
    assert_int_equal(json_object_get(s, tok, r.count, 99, "a"), -1);
    assert_int_equal(json_object_get(s, NULL, r.count, 0, "a"), -1);
    assert_int_equal(json_object_get(s, tok, r.count, 4, "b"), 6);
    assert_int_equal(json_array_get(tok, r.count, 2, 0), 3);
    assert_int_equal(json_array_get(tok, r.count, 2, 1), 4);
    assert_int_equal(json_array_get(tok, r.count, 2, 2), 7);
    assert_int_equal(json_array_get(tok, r.count, 2, 3), -1);
    assert_int_equal(json_array_get(tok, r.count, 0, 0), -1);
    assert_int_equal(json_array_get(tok, r.count, 50, 0), -1);
    assert_int_equal(json_array_get(NULL, r.count, 2, 0), -1);
    /* a truncated token array is never read past its end */
    assert_int_equal(json_array_get(tok, 5, 2, 2), -1);
    assert_int_equal(json_object_get(s, tok, 9, 0, "c"), -1);
}

static void test_whitespace_and_trailing(void **state)
{
    (void)state;
    assert_valid(" \t\r\n[ 1 , 2 ] \n");
    assert_valid("{ \"a\" : 1 }");
    assert_invalid("[1] x", JSON_ERR_SYNTAX);
    assert_invalid("[1][2]", JSON_ERR_SYNTAX);
    assert_invalid("1 2", JSON_ERR_SYNTAX);
    assert_invalid("", JSON_ERR_EMPTY);
    assert_invalid("   \n ", JSON_ERR_EMPTY);
    assert_invalid("\f1", JSON_ERR_SYNTAX);   /* form feed is not JSON white space */
    assert_int_equal(json_parse(NULL, 0, tok, MAX_TOK).status, JSON_ERR_EMPTY);
    assert_int_equal(json_parse("1", (size_t)JSON_MAX_TEXT + 1, tok, MAX_TOK).status, JSON_ERR_TOO_LONG);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[1,]", "{\"a\":1,}", "[,1]", "{,}", "{\"a\"}", "{\"a\" 1}", "{\"a\":}", "{1:2}",
        "{'a':1}", "[1 2]", "{\"a\":1 \"b\":2}", "[}", "{]", "[1}", "{\"a\":1]", "[", "{", "[1,",
        "{\"a\":", "{\"a\"", "]", "}", ":", ",", "tru", "truex", "nul", "falsey", "True", "NULL",
        "undefined", "NaN", "Infinity", "-Infinity", "/*c*/1", "1 //c", "\"abc", "'a'", "[\"a\",]",
        "{\"a\":1}}", "[[]]]", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\\"", "\"a\\",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_invalid(bad[i], JSON_ERR_SYNTAX);
    }
    /* error offsets and details point at the problem */
    json_result r = parse("[1,]");
    assert_int_equal(r.error_offset, 3);
    assert_string_equal(r.detail, "expected a value");
    r = parse("{\"a\" 1}");
    assert_int_equal(r.error_offset, 5);
    assert_string_equal(r.detail, "expected ':'");
    r = parse("{\"a\":1 ]");
    assert_string_equal(r.detail, "expected ',' or '}'");
    r = parse("[1 }");
    assert_string_equal(r.detail, "expected ',' or ']'");
    r = parse("{1:1}");
    assert_string_equal(r.detail, "expected a string key");
    r = parse("[1");
    assert_string_equal(r.detail, "unexpected end of text");
    r = parse("1 1");
    assert_string_equal(r.detail, "unexpected text after the value");
}

static void test_numbers(void **state)
{
    (void)state;
    static const char *good[] = {
        "0", "-0", "1", "-1", "10", "1.5", "-0.5", "0e0", "0E+1", "1e-7", "123456789012345678901234567890",
        "1.0e+308", "2.5E10",
    };
    static const char *bad[] = {
        "01", "-01", "00", "+1", "1.", ".5", "-", "-.5", "1e", "1e+", "1E-", "0x10", "1.5.3", "--1",
        "1ee5", "- 1", "1.e5", "-a",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_valid(good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_invalid(bad[i], JSON_ERR_SYNTAX);
    }
}

static bool num_int(const char *s, int64_t *v)
{
    json_result r = parse(s);
    assert_int_equal(r.status, JSON_OK);
    return json_number_int(s, &tok[0], v);
}

static void test_number_int(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_true(num_int("0", &v));
    assert_int_equal(v, 0);
    assert_true(num_int("-0", &v));
    assert_int_equal(v, 0);
    assert_true(num_int("42", &v));
    assert_int_equal(v, 42);
    assert_true(num_int("-17", &v));
    assert_int_equal(v, -17);
    assert_true(num_int("9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    assert_true(num_int("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);
    assert_false(num_int("9223372036854775808", &v));
    assert_false(num_int("-9223372036854775809", &v));
    assert_false(num_int("99999999999999999999999", &v));
    assert_false(num_int("18446744073709551616", &v));
    assert_false(num_int("1.0", &v));
    assert_false(num_int("1e3", &v));
    assert_false(num_int("-1E3", &v));
    /* wrong token types and bad arguments */
    parse("\"1\"");
    assert_false(json_number_int("\"1\"", &tok[0], &v));
    assert_false(json_number_int(NULL, &tok[0], &v));
    assert_false(json_number_int("1", NULL, &v));
    parse("1");
    assert_false(json_number_int("1", &tok[0], NULL));
    json_token minus = { JSON_NUMBER, 0, 1, 0, 1 };
    assert_false(json_number_int("-", &minus, &v));
    json_token empty = { JSON_NUMBER, 0, 0, 0, 1 };
    assert_false(json_number_int("", &empty, &v));
}

static bool num_milli(const char *s, int64_t *v)
{
    json_result r = parse(s);
    assert_int_equal(r.status, JSON_OK);
    return json_number_milli(s, &tok[0], v);
}

static void test_number_milli(void **state)
{
    (void)state;
    int64_t v = 0;
    struct { const char *s; int64_t v; } cases[] = {
        { "0", 0 }, { "1", 1000 }, { "-1", -1000 }, { "18.6", 18600 }, { "-0.001", -1 },
        { "0.0004", 0 }, { "-0.0009", 0 }, { "1.2345", 1234 }, { "1e3", 1000000 }, { "1E-3", 1 },
        { "2.5e-1", 250 }, { "0.00000000000000000000001", 0 }, { "1e-100000000", 0 },
        { "1.000000000000000000000000001", 1000 }, { "9223372036854775.807", INT64_MAX },
        { "-9223372036854775.807", -INT64_MAX }, { "123456789012345678901234e-21", 123456 },
        { "0e999999999", 0 }, { "10.50", 10500 }, { "-0", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!num_milli(cases[i].s, &v) || v != cases[i].v) {
            fail_msg("milli of %s: got %lld", cases[i].s, (long long)v);
        }
    }
    assert_false(num_milli("9223372036854776", &v));
    assert_false(num_milli("1e17", &v));
    assert_false(num_milli("1e999999999", &v));
    assert_false(num_milli("123456789012345678901234", &v));
    parse("true");
    assert_false(json_number_milli("true", &tok[0], &v));
    assert_false(json_number_milli(NULL, &tok[0], &v));
    parse("1");
    assert_false(json_number_milli("1", &tok[0], NULL));
    json_token bad = { JSON_NUMBER, 0, 3, 0, 1 };
    assert_false(json_number_milli("1ex", &bad, &v));
    json_token empty = { JSON_NUMBER, 0, 0, 0, 1 };
    assert_false(json_number_milli("", &empty, &v));
}

static void test_strings_and_escapes(void **state)
{
    (void)state;
    char out[32];
    const char *s = "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"";
    assert_int_equal(parse(s).status, JSON_OK);
    assert_true(json_string_copy(s, &tok[0], out, sizeof out));
    assert_string_equal(out, "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(json_string_length(s, &tok[0]), strlen(out));
    assert_true(json_string_equals(s, &tok[0], out));
    assert_false(json_string_equals(s, &tok[0], "a\"b"));
    assert_false(json_string_equals(s, &tok[0], ""));
    /* too small a buffer: false and an empty string */
    assert_false(json_string_copy(s, &tok[0], out, 5));
    assert_string_equal(out, "");
    assert_false(json_string_copy(s, &tok[0], out, 0));
    assert_false(json_string_copy(s, &tok[0], NULL, 10));
    /* exact fit */
    const char *t = "\"abc\"";
    parse(t);
    assert_true(json_string_copy(t, &tok[0], out, 4));
    assert_string_equal(out, "abc");
    assert_false(json_string_copy(t, &tok[0], out, 3));
    /* \u0000 is valid JSON but never copied into a C string */
    const char *z = "\"a\\u0000b\"";
    assert_int_equal(parse(z).status, JSON_OK);
    assert_false(json_string_copy(z, &tok[0], out, sizeof out));
    assert_false(json_string_equals(z, &tok[0], "a"));
    assert_int_equal(json_string_length(z, &tok[0]), 3);
    /* not a string token */
    parse("1");
    assert_false(json_string_copy("1", &tok[0], out, sizeof out));
    assert_false(json_string_equals("1", &tok[0], "1"));
    assert_int_equal(json_string_length("1", &tok[0]), SIZE_MAX);
    assert_false(json_string_equals(NULL, &tok[0], "1"));
    assert_false(json_string_equals("1", &tok[0], NULL));
    assert_int_equal(json_string_length(NULL, &tok[0]), SIZE_MAX);
    /* a hand-made token with a broken escape is refused by every accessor */
    json_token broken = { JSON_STRING, 0, 2, 0, 1 };
    assert_false(json_string_copy("\\q", &broken, out, sizeof out));
    assert_false(json_string_equals("\\q", &broken, "q"));
    assert_int_equal(json_string_length("\\q", &broken), SIZE_MAX);
    json_token rawctl = { JSON_STRING, 0, 1, 0, 1 };
    assert_false(json_string_copy("\n", &rawctl, out, sizeof out));
    json_token badutf = { JSON_STRING, 0, 1, 0, 1 };
    assert_false(json_string_copy("\xff", &badutf, out, sizeof out));
    assert_false(json_string_copy("\\", &rawctl, out, sizeof out));
}

static void test_surrogates(void **state)
{
    (void)state;
    char out[8];
    const char *ok = "\"\\uD834\\uDD1E\"";   /* U+1D11E */
    assert_int_equal(parse(ok).status, JSON_OK);
    assert_true(json_string_copy(ok, &tok[0], out, sizeof out));
    assert_string_equal(out, "\xf0\x9d\x84\x9e");
    assert_valid("\"\\udbff\\udfff\"");      /* U+10FFFF */
    assert_invalid("\"\\ud800\"", JSON_ERR_SYNTAX);          /* lone high */
    assert_invalid("\"\\udc00\"", JSON_ERR_SYNTAX);          /* lone low */
    assert_invalid("\"\\ud800\\u0041\"", JSON_ERR_SYNTAX);   /* high + non-low */
    assert_invalid("\"\\ud800\\ud800\"", JSON_ERR_SYNTAX);   /* high + high */
    assert_invalid("\"\\ud800x\"", JSON_ERR_SYNTAX);
    assert_invalid("\"\\ud800\\\"", JSON_ERR_SYNTAX);
    assert_invalid("\"\\ud800\\n\"", JSON_ERR_SYNTAX);
    assert_invalid("\"\\ud800\\uDC0", JSON_ERR_SYNTAX);
    json_result r = parse("\"ab\\ud800\"");
    assert_int_equal(r.error_offset, 3);
    assert_string_equal(r.detail, "invalid escape in string");
}

static void test_utf8(void **state)
{
    (void)state;
    struct { const char *s; size_t n; bool valid; } cases[] = {
        { "\"\x7f\"", 3, true },
        { "\"\xc2\x80\"", 4, true },                 /* U+0080 */
        { "\"\xdf\xbf\"", 4, true },                 /* U+07FF */
        { "\"\xe0\xa0\x80\"", 5, true },             /* U+0800 */
        { "\"\xed\x9f\xbf\"", 5, true },             /* U+D7FF */
        { "\"\xee\x80\x80\"", 5, true },             /* U+E000 */
        { "\"\xef\xbf\xbf\"", 5, true },             /* U+FFFF */
        { "\"\xf0\x90\x80\x80\"", 6, true },         /* U+10000 */
        { "\"\xf4\x8f\xbf\xbf\"", 6, true },         /* U+10FFFF */
        { "\"\xf3\xbf\xbf\xbf\"", 6, true },
        { "\"\xc0\x80\"", 4, false },                /* overlong NUL */
        { "\"\xc1\xbf\"", 4, false },                /* overlong */
        { "\"\xe0\x9f\xbf\"", 5, false },            /* overlong 3-byte */
        { "\"\xf0\x8f\xbf\xbf\"", 6, false },        /* overlong 4-byte */
        { "\"\xed\xa0\x80\"", 5, false },            /* surrogate D800 */
        { "\"\xed\xbf\xbf\"", 5, false },            /* surrogate DFFF */
        { "\"\xf4\x90\x80\x80\"", 6, false },        /* U+110000 */
        { "\"\xf5\x80\x80\x80\"", 6, false },
        { "\"\xff\"", 3, false },
        { "\"\x80\"", 3, false },                    /* lone continuation */
        { "\"\xc2\"", 3, false },                    /* truncated */
        { "\"\xe2\x82\"", 4, false },
        { "\"\xf0\x9f\x98\"", 5, false },
        { "\"\xc2\x41\"", 4, false },                /* bad continuation */
        { "\"\xe2\x28\xa1\"", 5, false },
        { "\"\xc2", 2, false },                      /* truncated at end of text */
        { "\"a\x00\"", 4, false },                   /* raw NUL */
        { "\"a\x1f\"", 4, false },                   /* raw control */
        { "\"a\tb\"", 5, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_status st = parse_bytes(cases[i].s, cases[i].n);
        if ((st == JSON_OK) != cases[i].valid) {
            fail_msg("utf8 case %zu: status %d", i, st);
        }
    }
    json_result r = json_parse("\"ab\xff\"", 5, tok, MAX_TOK);
    assert_int_equal(r.error_offset, 3);
    assert_string_equal(r.detail, "invalid UTF-8 in string");
    r = json_parse("\"ab\x01\"", 5, tok, MAX_TOK);
    assert_string_equal(r.detail, "control character in string");
    r = parse("\"abc");
    assert_string_equal(r.detail, "unterminated string");
    /* bytes outside strings must be JSON syntax */
    assert_int_equal(parse_bytes("\xef\xbb\xbf{}", 5), JSON_ERR_SYNTAX);  /* BOM */
}

static void test_depth(void **state)
{
    (void)state;
    char buf[2 * (JSON_MAX_DEPTH + 2) + 1];
    size_t n;
    /* exactly JSON_MAX_DEPTH levels: fine */
    n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        buf[n++] = '[';
    }
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        buf[n++] = ']';
    }
    assert_int_equal(json_parse(buf, n, tok, MAX_TOK).status, JSON_OK);
    /* one more: refused */
    n = 0;
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        buf[n++] = '[';
    }
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        buf[n++] = ']';
    }
    json_result r = json_parse(buf, n, tok, MAX_TOK);
    assert_int_equal(r.status, JSON_ERR_TOO_DEEP);
    assert_int_equal(r.error_offset, JSON_MAX_DEPTH);
    /* objects count too */
    char obj[16 * (JSON_MAX_DEPTH + 1) + 8];
    n = 0;
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        memcpy(obj + n, "{\"a\":", 5);
        n += 5;
    }
    obj[n++] = '1';
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        obj[n++] = '}';
    }
    assert_int_equal(json_parse(obj, n, tok, MAX_TOK).status, JSON_ERR_TOO_DEEP);
    /* a huge unterminated nesting does not recurse: it stops at the limit */
    static char deep[100000];
    memset(deep, '[', sizeof deep);
    assert_int_equal(json_parse(deep, sizeof deep, tok, MAX_TOK).status, JSON_ERR_TOO_DEEP);
}

static void test_token_limit(void **state)
{
    (void)state;
    json_token few[3];
    assert_int_equal(json_parse("[1,2]", 5, few, 3).status, JSON_OK);
    assert_int_equal(json_parse("[1,2,3]", 7, few, 3).status, JSON_ERR_TOO_MANY);
    assert_int_equal(json_parse("{\"a\":1,\"b\":2}", 13, few, 3).status, JSON_ERR_TOO_MANY);
    assert_int_equal(json_parse("{\"a\":1}", 7, few, 3).status, JSON_OK);
    assert_int_equal(json_parse("1", 1, few, 0).status, JSON_ERR_TOO_MANY);
    assert_int_equal(json_parse("1", 1, NULL, 5).status, JSON_ERR_TOO_MANY);
    assert_string_equal(json_status_text(JSON_OK), "ok");
    assert_string_equal(json_status_text(JSON_ERR_SYNTAX), "invalid JSON");
    assert_string_equal(json_status_text(JSON_ERR_TOO_DEEP), "JSON nested too deeply");
    assert_string_equal(json_status_text(JSON_ERR_TOO_MANY), "too many JSON values");
    assert_string_equal(json_status_text(JSON_ERR_EMPTY), "empty JSON text");
    assert_string_equal(json_status_text(JSON_ERR_TOO_LONG), "JSON text too long");
    assert_string_equal(json_status_text((json_status)99), "unknown JSON status");
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    const char *s = "{\"a\":1,\"b\":{\"x\":1,\"y\":2},\"c\":[{\"k\":1,\"\\u006b\":2}]}";
    json_result r = parse(s);
    assert_int_equal(r.status, JSON_OK);
    assert_int_equal(json_object_duplicate_key(s, tok, r.count, 0), -1);
    int d = json_find_duplicate_key(s, tok, r.count);
    assert_true(d > 0);
    assert_true(json_string_equals(s, &tok[d], "k"));
    assert_int_equal(tok[d].len, 6);   /* the escaped spelling is the second one */
    const char *t = "{\"a\":[1,2],\"b\":2,\"a\":3}";
    r = parse(t);
    assert_int_equal(json_object_duplicate_key(t, tok, r.count, 0), 7);
    assert_int_equal(json_find_duplicate_key(t, tok, r.count), 7);
    /* first member wins in json_object_get */
    assert_int_equal(json_object_get(t, tok, r.count, 0, "a"), 2);
    assert_int_equal(json_object_duplicate_key(t, tok, r.count, 2), -1);
    assert_int_equal(json_object_duplicate_key(t, tok, r.count, 40), -1);
    assert_int_equal(json_object_duplicate_key(t, NULL, r.count, 0), -1);
    assert_int_equal(json_object_duplicate_key(t, tok, 5, 0), -1);
    assert_int_equal(json_find_duplicate_key(t, NULL, 3), -1);
    const char *u = "{\"ab\":1,\"a\":2,\"abc\":3,\"\":4}";
    r = parse(u);
    assert_int_equal(json_find_duplicate_key(u, tok, r.count), -1);
    /* strings_equal on a non-string or broken token */
    assert_false(json_strings_equal(u, &tok[0], &tok[1]));
    assert_false(json_strings_equal(NULL, &tok[1], &tok[1]));
    json_token broken = { JSON_STRING, 0, 2, 0, 1 };
    assert_false(json_strings_equal("\\q", &broken, &broken));
}

static const char *write_all(char *buf, size_t size)
{
    json_writer w;
    json_writer_init(&w, buf, size);
    json_write_object_begin(&w);
    json_write_key(&w, "GP16");
    json_write_int(&w, 1);
    json_write_key(&w, "TIME");
    json_write_string(&w, "12:00");
    json_write_key(&w, "list");
    json_write_array_begin(&w);
    json_write_bool(&w, true);
    json_write_bool(&w, false);
    json_write_null(&w);
    json_write_array_begin(&w);
    json_write_array_end(&w);
    json_write_object_begin(&w);
    json_write_object_end(&w);
    json_write_milli(&w, 18600, 1);
    json_write_array_end(&w);
    json_write_key(&w, "n");
    json_write_int(&w, INT64_MIN);
    json_write_object_end(&w);
    return json_writer_finish(&w) < 0 ? NULL : buf;
}

static void test_writer(void **state)
{
    (void)state;
    char buf[128];
    const char *expect =
        "{\"GP16\":1,\"TIME\":\"12:00\",\"list\":[true,false,null,[],{},18.6],\"n\":-9223372036854775808}";
    assert_non_null(write_all(buf, sizeof buf));
    assert_string_equal(buf, expect);
    assert_int_equal(parse(buf).status, JSON_OK);
    /* every buffer too small by any amount overflows cleanly */
    for (size_t size = 0; size <= strlen(expect); size++) {
        char small[128];
        memset(small, 'x', sizeof small);
        assert_null(write_all(small, size));
        assert_int_equal(small[size], 'x');   /* nothing written past the end */
    }
    char exact[128];
    assert_non_null(write_all(exact, strlen(expect) + 1));
    json_writer w;
    json_writer_init(&w, NULL, 10);
    json_write_int(&w, 1);
    assert_int_equal(json_writer_finish(&w), -1);
}

static void test_writer_numbers(void **state)
{
    (void)state;
    struct { int64_t v; unsigned d; const char *out; } cases[] = {
        { 18600, 1, "18.6" }, { 18600, 3, "18.6" }, { 18000, 2, "18" }, { 18650, 1, "18.7" },
        { 18649, 1, "18.6" }, { -1500, 0, "-2" }, { -1499, 0, "-1" }, { 1234, 3, "1.234" },
        { 1234, 9, "1.234" }, { 5, 2, "0.01" }, { 4, 2, "0" }, { -4, 2, "0" }, { -5, 2, "-0.01" },
        { 0, 3, "0" }, { -18600, 1, "-18.6" }, { INT64_MAX, 3, "9223372036854775.807" },
        { INT64_MIN, 3, "-9223372036854775.808" }, { INT64_MIN, 0, "-9223372036854776" },
        { 999500, 0, "1000" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[40];
        json_writer w;
        json_writer_init(&w, buf, sizeof buf);
        json_write_milli(&w, cases[i].v, cases[i].d);
        assert_true(json_writer_finish(&w) > 0);
        if (strcmp(buf, cases[i].out) != 0) {
            fail_msg("milli %lld/%u: got %s want %s", (long long)cases[i].v, cases[i].d, buf, cases[i].out);
        }
    }
    char buf[64];
    json_writer w;
    json_writer_init(&w, buf, sizeof buf);
    json_write_array_begin(&w);
    json_write_int(&w, 0);
    json_write_int(&w, -42);
    json_write_int(&w, INT64_MAX);
    json_write_array_end(&w);
    assert_true(json_writer_finish(&w) > 0);
    assert_string_equal(buf, "[0,-42,9223372036854775807]");
}

static void test_writer_escaping(void **state)
{
    (void)state;
    char buf[256];
    json_writer w;
    json_writer_init(&w, buf, sizeof buf);
    json_write_array_begin(&w);
    json_write_string(&w, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f");
    json_write_string_n(&w, "\xc3\xa9\xff\xc0\x80\xed\xa0\x80\xf0\x9f\x98\x80\xe2\x82", 14);
    json_write_string_n(&w, "a\0b", 3);
    json_write_string(&w, NULL);
    json_write_array_end(&w);
    assert_true(json_writer_finish(&w) > 0);
    assert_string_equal(buf,
        "[\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\","
        "\"\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\xf0\x9f\x98\x80\\ufffd\\ufffd\","
        "\"a\\u0000b\",\"\"]");
    /* the output parses, and strings round-trip */
    json_result r = parse(buf);
    assert_int_equal(r.status, JSON_OK);
    char out[32];
    assert_true(json_string_copy(buf, &tok[1], out, sizeof out));
    assert_string_equal(out, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f");
    /* keys are escaped too; a NULL key is written as "" */
    json_writer_init(&w, buf, sizeof buf);
    json_write_object_begin(&w);
    json_write_key(&w, "a\"\n");
    json_write_int(&w, 1);
    json_write_key(&w, NULL);
    json_write_int(&w, 2);
    json_write_object_end(&w);
    assert_true(json_writer_finish(&w) > 0);
    assert_string_equal(buf, "{\"a\\\"\\n\":1,\"\":2}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_whitespace_and_trailing),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_int),
        cmocka_unit_test(test_number_milli),
        cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_numbers),
        cmocka_unit_test(test_writer_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
