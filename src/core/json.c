/*
 * Small non-allocating JSON parser (RFC 8259) and writer.
 *
 * The parser is a loop over a state variable with an explicit stack of open
 * containers (at most JSON_MAX_DEPTH), so no input can make it recurse.
 */
#include "json.h"

#include <string.h>

/* ---------------------------------------------------------------- UTF-8 */

/* Decodes one UTF-8 sequence at p (n bytes available). Returns its length,
 * or 0 if it is not well formed: overlong forms, surrogates (U+D800..DFFF),
 * code points above U+10FFFF and truncated sequences are all rejected. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char b0 = p[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t v;

    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        v = b0 & 0x1Fu;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        v = b0 & 0x0Fu;
        if (b0 == 0xE0) {
            lo = 0xA0;          /* below: overlong */
        } else if (b0 == 0xED) {
            hi = 0x9F;          /* above: surrogates */
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        v = b0 & 0x07u;
        if (b0 == 0xF0) {
            lo = 0x90;          /* below: overlong */
        } else if (b0 == 0xF4) {
            hi = 0x8F;          /* above: beyond U+10FFFF */
        }
    } else {
        return 0;               /* continuation byte, C0/C1 overlong, F5..FF */
    }
    if (n < need + 1) {
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        unsigned char b = p[i];
        if (b < lo || b > hi) {
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (b & 0x3Fu);
    }
    *cp = v;
    return need + 1;
}

static size_t utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Four hex digits at s[i..i+3] (end bounds the string); -1 if not. */
static int32_t hex4(const char *s, size_t i, size_t end)
{
    int32_t v = 0;
    if (end - i < 4) {
        return -1;
    }
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(s[i + k]);
        if (h < 0) {
            return -1;
        }
        v = (v << 4) | h;
    }
    return v;
}

/* Reads one escape sequence starting after the backslash at s[*i]. Returns the
 * code point or -1 when it is invalid; advances *i past it. */
static int32_t read_escape(const char *s, size_t *i, size_t end)
{
    int32_t cp, lo;
    if (*i >= end) {
        return -1;
    }
    switch (s[(*i)++]) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return -1;
    }
    cp = hex4(s, *i, end);
    if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) {
        return -1;              /* bad hex or a lone low surrogate */
    }
    *i += 4;
    if (cp < 0xD800 || cp > 0xDBFF) {
        return cp;
    }
    /* high surrogate: a low one must follow as \uDC00..\uDFFF */
    if (end - *i < 2 || s[*i] != '\\' || s[*i + 1] != 'u') {
        return -1;
    }
    lo = hex4(s, *i + 2, end);
    if (lo < 0xDC00 || lo > 0xDFFF) {
        return -1;
    }
    *i += 6;
    return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
}

/* Next character of a string token's raw text s[*i..end): 1 and *cp set,
 * 0 at the end, -1 if malformed. */
static int next_char(const char *s, size_t *i, size_t end, uint32_t *cp)
{
    unsigned char c;
    if (*i >= end) {
        return 0;
    }
    c = (unsigned char)s[*i];
    if (c == '\\') {
        int32_t v;
        (*i)++;
        v = read_escape(s, i, end);
        if (v < 0) {
            return -1;
        }
        *cp = (uint32_t)v;
        return 1;
    }
    if (c < 0x20 || c == '"') {
        return -1;
    }
    {
        size_t n = utf8_decode((const unsigned char *)s + *i, end - *i, cp);
        if (n == 0) {
            return -1;
        }
        *i += n;
    }
    return 1;
}

/* -------------------------------------------------------------- parser */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Scans the string starting at the opening quote s[*pos]; on success *pos is
 * just past the closing quote. Returns NULL or what is wrong. */
static const char *scan_string(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos + 1;
    for (;;) {
        uint32_t cp;
        unsigned char c;
        if (i >= len) {
            *pos = i;
            return "unterminated string";
        }
        c = (unsigned char)s[i];
        if (c == '"') {
            *pos = i + 1;
            return NULL;
        }
        if (c < 0x20) {
            *pos = i;
            return "control character in string";
        }
        if (c == '\\') {
            size_t at = i;
            i++;
            if (read_escape(s, &i, len) < 0) {
                *pos = at;
                return "invalid escape in string";
            }
            continue;
        }
        {
            size_t n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
            if (n == 0) {
                *pos = i;
                return "invalid UTF-8 in string";
            }
            i += n;
        }
    }
}

/* Scans a number per the RFC 8259 grammar:
 *   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?  */
static const char *scan_number(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    if (s[i] == '-') {
        i++;
    }
    if (i >= len || !is_digit(s[i])) {
        *pos = i;
        return "invalid number";
    }
    if (s[i] == '0') {
        i++;
    } else {
        while (i < len && is_digit(s[i])) {
            i++;
        }
    }
    if (i < len && s[i] == '.') {
        i++;
        if (i >= len || !is_digit(s[i])) {
            *pos = i;
            return "invalid number";
        }
        while (i < len && is_digit(s[i])) {
            i++;
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= len || !is_digit(s[i])) {
            *pos = i;
            return "invalid number";
        }
        while (i < len && is_digit(s[i])) {
            i++;
        }
    }
    *pos = i;
    return NULL;
}

static bool scan_literal(const char *s, size_t len, size_t *pos, const char *word)
{
    size_t n = strlen(word);
    if (len - *pos < n || memcmp(s + *pos, word, n) != 0) {
        return false;
    }
    *pos += n;
    return true;
}

typedef enum {
    ST_VALUE,           /* a value must come */
    ST_VALUE_OR_CLOSE,  /* just after '[' */
    ST_KEY,             /* after ',' in an object */
    ST_KEY_OR_CLOSE,    /* just after '{' */
    ST_COLON,           /* after a key */
    ST_AFTER_VALUE,     /* after a value: ',' or a closing bracket */
} parse_state;

static json_result fail(json_status st, size_t offset, const char *detail)
{
    json_result r;
    r.status = st;
    r.error_offset = offset;
    r.count = 0;
    r.detail = detail;
    return r;
}

json_result json_parse(const char *text, size_t len, json_token *tokens, size_t max_tokens)
{
    uint32_t stack[JSON_MAX_DEPTH];
    size_t depth = 0;
    size_t count = 0;
    size_t pos = 0;
    parse_state state = ST_VALUE;
    json_result ok;

    if (len > JSON_MAX_TEXT) {
        return fail(JSON_ERR_TOO_LONG, 0, "text too long");
    }
    if (text == NULL) {
        return fail(JSON_ERR_EMPTY, 0, "no value");
    }
    if (tokens == NULL) {
        max_tokens = 0;
    }
    while (pos < len && is_ws(text[pos])) {
        pos++;
    }
    if (pos == len) {
        return fail(JSON_ERR_EMPTY, pos, "no value");
    }

    for (;;) {
        char c;
        while (pos < len && is_ws(text[pos])) {
            pos++;
        }
        if (state == ST_AFTER_VALUE && depth == 0) {
            if (pos != len) {
                return fail(JSON_ERR_SYNTAX, pos, "unexpected text after the value");
            }
            break;
        }
        if (pos == len) {
            return fail(JSON_ERR_SYNTAX, pos, "unexpected end of text");
        }
        c = text[pos];

        if (state == ST_AFTER_VALUE) {
            json_token *parent = &tokens[stack[depth - 1]];
            if (c == ',') {
                state = parent->type == JSON_OBJECT ? ST_KEY : ST_VALUE;
                pos++;
                continue;
            }
            if ((c == '}' && parent->type == JSON_OBJECT) || (c == ']' && parent->type == JSON_ARRAY)) {
                goto close;
            }
            return fail(JSON_ERR_SYNTAX, pos,
                        parent->type == JSON_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        if (state == ST_COLON) {
            if (c != ':') {
                return fail(JSON_ERR_SYNTAX, pos, "expected ':'");
            }
            pos++;
            state = ST_VALUE;
            continue;
        }
        if (state == ST_KEY_OR_CLOSE && c == '}') {
            goto close;
        }
        if (state == ST_VALUE_OR_CLOSE && c == ']') {
            goto close;
        }
        if (state == ST_KEY || state == ST_KEY_OR_CLOSE) {
            const char *err;
            size_t start = pos;
            if (c != '"') {
                return fail(JSON_ERR_SYNTAX, pos, "expected a string key");
            }
            if (count == max_tokens) {
                return fail(JSON_ERR_TOO_MANY, pos, "too many values");
            }
            err = scan_string(text, len, &pos);
            if (err != NULL) {
                return fail(JSON_ERR_SYNTAX, pos, err);
            }
            tokens[count].type = JSON_STRING;
            tokens[count].start = (uint32_t)(start + 1);
            tokens[count].len = (uint32_t)(pos - start - 2);
            tokens[count].size = 0;
            tokens[count].next = (uint32_t)(count + 1);
            count++;
            tokens[stack[depth - 1]].size++;
            state = ST_COLON;
            continue;
        }

        /* ST_VALUE or ST_VALUE_OR_CLOSE: one value starts here */
        if (count == max_tokens) {
            return fail(JSON_ERR_TOO_MANY, pos, "too many values");
        }
        if (depth > 0 && tokens[stack[depth - 1]].type == JSON_ARRAY) {
            tokens[stack[depth - 1]].size++;
        }
        {
            json_token *t = &tokens[count];
            size_t start = pos;
            const char *err = NULL;
            t->size = 0;
            if (c == '{' || c == '[') {
                if (depth == JSON_MAX_DEPTH) {
                    return fail(JSON_ERR_TOO_DEEP, pos, "nested too deeply");
                }
                t->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
                t->start = (uint32_t)pos;
                t->len = 0;
                t->next = 0;
                stack[depth++] = (uint32_t)count;
                count++;
                pos++;
                state = c == '{' ? ST_KEY_OR_CLOSE : ST_VALUE_OR_CLOSE;
                continue;
            }
            if (c == '"') {
                err = scan_string(text, len, &pos);
                t->type = JSON_STRING;
                start++;
            } else if (c == '-' || is_digit(c)) {
                err = scan_number(text, len, &pos);
                t->type = JSON_NUMBER;
            } else if (scan_literal(text, len, &pos, "true")) {
                t->type = JSON_TRUE;
            } else if (scan_literal(text, len, &pos, "false")) {
                t->type = JSON_FALSE;
            } else if (scan_literal(text, len, &pos, "null")) {
                t->type = JSON_NULL;
            } else {
                return fail(JSON_ERR_SYNTAX, pos, "expected a value");
            }
            if (err != NULL) {
                return fail(JSON_ERR_SYNTAX, pos, err);
            }
            t->start = (uint32_t)start;
            t->len = (uint32_t)(pos - start - (t->type == JSON_STRING ? 1 : 0));
            t->next = (uint32_t)(count + 1);
            count++;
            state = ST_AFTER_VALUE;
            continue;
        }

    close:
        {
            json_token *t = &tokens[stack[--depth]];
            pos++;
            t->len = (uint32_t)(pos - t->start);
            t->next = (uint32_t)count;
            state = ST_AFTER_VALUE;
        }
    }

    ok.status = JSON_OK;
    ok.error_offset = 0;
    ok.count = count;
    ok.detail = "";
    return ok;
}

/* ------------------------------------------------------------ accessors */

static bool string_token(const json_token *t)
{
    return t != NULL && t->type == JSON_STRING;
}

bool json_string_equals(const char *text, const json_token *t, const char *s)
{
    size_t i, end, j = 0;
    if (!string_token(t) || text == NULL || s == NULL) {
        return false;
    }
    i = t->start;
    end = (size_t)t->start + t->len;
    for (;;) {
        uint32_t cp;
        unsigned char enc[4];
        size_t n;
        int r = next_char(text, &i, end, &cp);
        if (r == 0) {
            return s[j] == '\0';
        }
        if (r < 0 || cp == 0) {
            return false;
        }
        n = utf8_encode(cp, enc);
        for (size_t k = 0; k < n; k++) {
            if ((unsigned char)s[j] != enc[k]) {
                return false;   /* also stops at the end of s */
            }
            j++;
        }
    }
}

bool json_strings_equal(const char *text, const json_token *a, const json_token *b)
{
    size_t ia, ib, ea, eb;
    if (!string_token(a) || !string_token(b) || text == NULL) {
        return false;
    }
    ia = a->start;
    ea = (size_t)a->start + a->len;
    ib = b->start;
    eb = (size_t)b->start + b->len;
    for (;;) {
        uint32_t ca = 0, cb = 0;
        int ra = next_char(text, &ia, ea, &ca);
        int rb = next_char(text, &ib, eb, &cb);
        if (ra < 0 || rb < 0 || ra != rb || ca != cb) {
            return false;
        }
        if (ra == 0) {
            return true;
        }
    }
}

size_t json_string_length(const char *text, const json_token *t)
{
    size_t i, end, n = 0;
    if (!string_token(t) || text == NULL) {
        return SIZE_MAX;
    }
    i = t->start;
    end = (size_t)t->start + t->len;
    for (;;) {
        uint32_t cp;
        unsigned char enc[4];
        int r = next_char(text, &i, end, &cp);
        if (r == 0) {
            return n;
        }
        if (r < 0) {
            return SIZE_MAX;
        }
        n += utf8_encode(cp, enc);
    }
}

bool json_string_copy(const char *text, const json_token *t, char *out, size_t out_size)
{
    size_t i, end, n = 0;
    if (out == NULL || out_size == 0) {
        return false;
    }
    out[0] = '\0';
    if (!string_token(t) || text == NULL) {
        return false;
    }
    i = t->start;
    end = (size_t)t->start + t->len;
    for (;;) {
        uint32_t cp;
        unsigned char enc[4];
        size_t k;
        int r = next_char(text, &i, end, &cp);
        if (r == 0) {
            out[n] = '\0';
            return true;
        }
        if (r < 0 || cp == 0) {
            out[0] = '\0';
            return false;
        }
        k = utf8_encode(cp, enc);
        if (out_size - 1 - n < k) {
            out[0] = '\0';
            return false;
        }
        memcpy(out + n, enc, k);
        n += k;
    }
}

int json_object_get(const char *text, const json_token *tokens, size_t count, size_t obj, const char *key)
{
    size_t i;
    if (tokens == NULL || obj >= count || tokens[obj].type != JSON_OBJECT) {
        return -1;
    }
    i = obj + 1;
    for (uint32_t m = 0; m < tokens[obj].size; m++) {
        if (i + 1 >= count) {
            return -1;
        }
        if (json_string_equals(text, &tokens[i], key)) {
            return (int)(i + 1);
        }
        if (tokens[i + 1].next <= i + 1) {
            return -1;          /* tokens not from json_parse */
        }
        i = tokens[i + 1].next;
    }
    return -1;
}

int json_array_get(const json_token *tokens, size_t count, size_t arr, size_t n)
{
    size_t i;
    if (tokens == NULL || arr >= count || tokens[arr].type != JSON_ARRAY || n >= tokens[arr].size) {
        return -1;
    }
    i = arr + 1;
    for (size_t k = 0; k < n; k++) {
        if (i >= count || tokens[i].next <= i) {
            return -1;
        }
        i = tokens[i].next;
    }
    return i < count ? (int)i : -1;
}

int json_object_duplicate_key(const char *text, const json_token *tokens, size_t count, size_t obj)
{
    size_t key;
    if (tokens == NULL || obj >= count || tokens[obj].type != JSON_OBJECT) {
        return -1;
    }
    key = obj + 1;
    for (uint32_t m = 0; m < tokens[obj].size; m++) {
        size_t other = obj + 1;
        if (key + 1 >= count) {
            return -1;
        }
        for (uint32_t e = 0; e < m; e++) {
            if (json_strings_equal(text, &tokens[other], &tokens[key])) {
                return (int)key;
            }
            other = tokens[other + 1].next;
        }
        if (tokens[key + 1].next <= key + 1) {
            return -1;
        }
        key = tokens[key + 1].next;
    }
    return -1;
}

int json_find_duplicate_key(const char *text, const json_token *tokens, size_t count)
{
    if (tokens == NULL) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (tokens[i].type == JSON_OBJECT) {
            int d = json_object_duplicate_key(text, tokens, count, i);
            if (d >= 0) {
                return d;
            }
        }
    }
    return -1;
}

bool json_number_int(const char *text, const json_token *t, int64_t *out)
{
    const char *s;
    size_t i = 0, n;
    bool neg = false;
    uint64_t v = 0;
    uint64_t limit;

    if (t == NULL || t->type != JSON_NUMBER || text == NULL || t->len == 0 || out == NULL) {
        return false;
    }
    s = text + t->start;
    n = t->len;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n) {
        return false;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        unsigned d;
        if (!is_digit(s[i])) {
            return false;       /* fraction or exponent */
        }
        d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return true;
}

#define MILLI_MAX_EXP 100000    /* exponent magnitude beyond which only 0 or overflow remain */

bool json_number_milli(const char *text, const json_token *t, int64_t *out)
{
    const char *s;
    size_t i = 0, n;
    bool neg = false, frac = false;
    uint64_t digits = 0;
    int sig = 0;                /* significant digits held in 'digits' */
    long exp10 = 3;             /* result = digits * 10^exp10 */

    if (t == NULL || t->type != JSON_NUMBER || text == NULL || t->len == 0 || out == NULL) {
        return false;
    }
    s = text + t->start;
    n = t->len;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            frac = true;
            continue;
        }
        if (!is_digit(c)) {
            break;
        }
        if (sig < 19) {
            digits = digits * 10 + (uint64_t)(c - '0');
            if (digits != 0) {
                sig++;
            }
            if (frac) {
                exp10--;
            }
        } else if (!frac) {
            exp10++;            /* integer digit beyond what we hold */
        }                       /* later fraction digits are below 1e-18 of the value */
    }
    if (i < n) {
        /* exponent: [eE][+-]?digits */
        bool eneg = false;
        long e = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        for (; i < n; i++) {
            if (!is_digit(s[i])) {
                return false;
            }
            if (e < MILLI_MAX_EXP) {
                e = e * 10 + (s[i] - '0');
            }
        }
        exp10 += eneg ? -e : e;
    }
    if (digits == 0) {
        *out = 0;
        return true;
    }
    while (exp10 > 0) {
        if (digits > (uint64_t)INT64_MAX / 10) {
            return false;
        }
        digits *= 10;
        exp10--;
    }
    while (exp10 < 0 && digits != 0) {
        digits /= 10;
        exp10++;
    }
    if (digits > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = neg ? -(int64_t)digits : (int64_t)digits;
    return true;
}

const char *json_status_text(json_status s)
{
    switch (s) {
    case JSON_OK: return "ok";
    case JSON_ERR_SYNTAX: return "invalid JSON";
    case JSON_ERR_TOO_DEEP: return "JSON nested too deeply";
    case JSON_ERR_TOO_MANY: return "too many JSON values";
    case JSON_ERR_EMPTY: return "empty JSON text";
    case JSON_ERR_TOO_LONG: return "JSON text too long";
    }
    return "unknown JSON status";
}

/* --------------------------------------------------------------- writer */

void json_writer_init(json_writer *w, char *buf, size_t size)
{
    w->buf = buf;
    w->size = buf == NULL ? 0 : size;
    w->len = 0;
    w->overflow = w->size == 0;
    w->need_comma = false;
    if (w->size > 0) {
        buf[0] = '\0';
    }
}

/* Appends n bytes, always keeping room for the final NUL. */
static void put(json_writer *w, const char *s, size_t n)
{
    if (w->overflow) {
        return;
    }
    if (w->size - 1 - w->len < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_char(json_writer *w, char c)
{
    put(w, &c, 1);
}

static void value_prefix(json_writer *w)
{
    if (w->need_comma) {
        put_char(w, ',');
    }
}

void json_write_object_begin(json_writer *w)
{
    value_prefix(w);
    put_char(w, '{');
    w->need_comma = false;
}

void json_write_object_end(json_writer *w)
{
    put_char(w, '}');
    w->need_comma = true;
}

void json_write_array_begin(json_writer *w)
{
    value_prefix(w);
    put_char(w, '[');
    w->need_comma = false;
}

void json_write_array_end(json_writer *w)
{
    put_char(w, ']');
    w->need_comma = true;
}

static void put_escaped(json_writer *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    put_char(w, '"');
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t k;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            size_t run = i + 1;
            while (run < n) {
                unsigned char d = (unsigned char)s[run];
                if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') {
                    break;
                }
                run++;
            }
            put(w, s + i, run - i);
            i = run;
            continue;
        }
        switch (c) {
        case '"': put(w, "\\\"", 2); i++; continue;
        case '\\': put(w, "\\\\", 2); i++; continue;
        case '\b': put(w, "\\b", 2); i++; continue;
        case '\f': put(w, "\\f", 2); i++; continue;
        case '\n': put(w, "\\n", 2); i++; continue;
        case '\r': put(w, "\\r", 2); i++; continue;
        case '\t': put(w, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF] };
            put(w, e, sizeof e);
            i++;
            continue;
        }
        k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k == 0) {
            put(w, "\\ufffd", 6);
            i++;
            continue;
        }
        put(w, s + i, k);
        i += k;
    }
    put_char(w, '"');
}

void json_write_key(json_writer *w, const char *key)
{
    value_prefix(w);
    put_escaped(w, key, key == NULL ? 0 : strlen(key));
    put_char(w, ':');
    w->need_comma = false;
}

void json_write_string_n(json_writer *w, const char *s, size_t n)
{
    value_prefix(w);
    put_escaped(w, s, s == NULL ? 0 : n);
    w->need_comma = true;
}

void json_write_string(json_writer *w, const char *s)
{
    json_write_string_n(w, s, s == NULL ? 0 : strlen(s));
}

/* Decimal digits of v into the end of buf; returns the first used index. */
static size_t format_u64(uint64_t v, char buf[20])
{
    size_t i = 20;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return i;
}

void json_write_int(json_writer *w, int64_t v)
{
    char buf[20];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t i = format_u64(mag, buf);
    value_prefix(w);
    if (v < 0) {
        put_char(w, '-');
    }
    put(w, buf + i, 20 - i);
    w->need_comma = true;
}

void json_write_milli(json_writer *w, int64_t v_milli, unsigned decimals)
{
    static const uint64_t scale[4] = { 1000, 100, 10, 1 };
    char buf[20];
    char frac[3];
    uint64_t mag = v_milli < 0 ? (uint64_t)0 - (uint64_t)v_milli : (uint64_t)v_milli;
    uint64_t unit, whole, part;
    size_t i, nfrac;

    if (decimals > 3) {
        decimals = 3;
    }
    unit = scale[decimals];                     /* milli units per last digit */
    mag = mag / unit + (mag % unit >= (unit + 1) / 2 && unit > 1 ? 1 : 0);
    /* mag is now in units of 10^-decimals */
    whole = mag / scale[3 - decimals];
    part = mag % scale[3 - decimals];
    nfrac = decimals;
    for (size_t k = decimals; k > 0; k--) {
        frac[k - 1] = (char)('0' + part % 10);
        part /= 10;
    }
    while (nfrac > 0 && frac[nfrac - 1] == '0') {
        nfrac--;
    }
    value_prefix(w);
    if (v_milli < 0 && (whole != 0 || nfrac != 0)) {
        put_char(w, '-');
    }
    i = format_u64(whole, buf);
    put(w, buf + i, 20 - i);
    if (nfrac > 0) {
        put_char(w, '.');
        put(w, frac, nfrac);
    }
    w->need_comma = true;
}

void json_write_bool(json_writer *w, bool v)
{
    value_prefix(w);
    if (v) {
        put(w, "true", 4);
    } else {
        put(w, "false", 5);
    }
    w->need_comma = true;
}

void json_write_null(json_writer *w)
{
    value_prefix(w);
    put(w, "null", 4);
    w->need_comma = true;
}

int json_writer_finish(json_writer *w)
{
    if (w->overflow || w->size == 0) {
        return -1;
    }
    w->buf[w->len] = '\0';
    return (int)w->len;
}
