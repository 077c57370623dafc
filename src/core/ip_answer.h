/*
 * The body of a public-IP provider's answer ({"CMD":"getip"}), shared by the
 * simulator and the firmware: either a bare address ("203.0.113.7\n", as
 * http://api.ipify.org sends) or a JSON object with an "ip" string
 * ({"ip":"203.0.113.7"}, as the original project's json_ip_provider
 * expects, e.g. http://api.ipify.org?format=json). Sans-IO, no allocation.
 */
#ifndef IP_ANSWER_H
#define IP_ANSWER_H

#include <stddef.h>

/* Longest address text kept (IPv6 with an embedded IPv4) + NUL. */
#define IP_ANSWER_TEXT_SIZE 46

/* NULL on success (ip holds the address, NUL-terminated); otherwise a fixed
 * text saying what is wrong with the body, e.g. "the JSON answer has no
 * \"ip\" string". ip_size must be at least 2. */
const char *ip_answer_parse(const char *body, size_t len, char *ip, size_t ip_size);

#endif
