/* A public-IP provider's answer body: a bare address or {"ip":"..."}; see ip_answer.h. */
#include "ip_answer.h"

#include <stdbool.h>
#include <string.h>

#include "json.h"

#define IP_ANSWER_TOKENS 32

static bool space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Digits, hex letters, dots and colons, with a dot or a colon in it. */
static bool address_text(const char *s, size_t n)
{
    bool sep = false;
    if (n < 2 || n >= IP_ANSWER_TEXT_SIZE) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (ch == '.' || ch == ':') {
            sep = true;
        } else if (!hex) {
            return false;
        }
    }
    return sep;
}

static const char *copy_out(const char *s, size_t n, char *ip, size_t ip_size)
{
    if (n >= ip_size) return "the address is too long";
    memcpy(ip, s, n);
    ip[n] = '\0';
    return NULL;
}

const char *ip_answer_parse(const char *body, size_t len, char *ip, size_t ip_size)
{
    if (ip_size > 0) ip[0] = '\0';
    while (len > 0 && space(body[0])) {
        body++;
        len--;
    }
    while (len > 0 && space(body[len - 1])) len--;
    if (len == 0) return "the answer is empty";
    if (body[0] != '{') {
        if (!address_text(body, len)) {
            return "the answer is neither an IP address nor JSON with an \"ip\" string";
        }
        return copy_out(body, len, ip, ip_size);
    }
    json_token tokens[IP_ANSWER_TOKENS];
    json_result r = json_parse(body, len, tokens, IP_ANSWER_TOKENS);
    if (r.status == JSON_ERR_TOO_MANY) return "the JSON answer is too large (limit 31 values)";
    if (r.status != JSON_OK) return "the answer is not valid JSON";
    int v = json_object_get(body, tokens, r.count, 0, "ip");
    if (v < 0 || tokens[v].type != JSON_STRING) return "the JSON answer has no \"ip\" string";
    char text[IP_ANSWER_TEXT_SIZE];
    if (!json_string_copy(body, &tokens[v], text, sizeof text) ||
        !address_text(text, strlen(text))) {
        return "the JSON answer's \"ip\" is not an IP address";
    }
    return copy_out(text, strlen(text), ip, ip_size);
}
