/*
 * Unit tests of the simulator's public IP lookup (src/platform/posix/public_ip.c):
 * the HTTP response parser, URL checks, and whole lookups against a loopback
 * server driven from the same poll loop (answer, refusal, timeout).
 *
 * The module is compiled into this test directly: unit tests link the core
 * only, and the lookup needs nothing else but libc.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/platform/posix/clock.c"
#include "../../src/platform/posix/public_ip.c"

static bool parse(const char *response, char *ip, char *err)
{
    return public_ip_parse_response(response, strlen(response), ip, PUBLIC_IP_TEXT_MAX, err, 128);
}

static void test_parse_answers(void **state)
{
    (void)state;
    char ip[PUBLIC_IP_TEXT_MAX], err[128];
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n203.0.113.7\n", ip, err));
    assert_string_equal(ip, "203.0.113.7");
    assert_true(parse("HTTP/1.0 200 OK\r\nServer: x\r\n\r\n  198.51.100.2  \r\n", ip, err));
    assert_string_equal(ip, "198.51.100.2");
    assert_true(parse("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nb\r\n192.0.2.99\n\r\n0\r\n\r\n",
                      ip, err));
    assert_string_equal(ip, "192.0.2.99");
    assert_true(parse("HTTP/1.1 200 OK\r\n\r\n2001:db8::1", ip, err));
    assert_string_equal(ip, "2001:db8::1");
    /* Content-Length shorter than what follows: only the announced bytes count. */
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n10.0.0.1garbage", ip, err));
    assert_string_equal(ip, "10.0.0.1");
    /* The original's json_ip_provider answer. */
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                      "{\"ip\":\"203.0.113.8\"}", ip, err));
    assert_string_equal(ip, "203.0.113.8");
    assert_true(parse("HTTP/1.1 200 OK\r\n\r\n { \"country\": \"CA\", \"ip\": \"2001:db8::7\" }\n",
                      ip, err));
    assert_string_equal(ip, "2001:db8::7");
}

/* Which part failed and why, in the error text. */
static void test_parse_reasons(void **state)
{
    (void)state;
    char ip[PUBLIC_IP_TEXT_MAX] = "unchanged", err[128];
    assert_false(parse("HTTP/1.1 503 Busy\r\n\r\n", ip, err));
    assert_string_equal(err, "provider answered HTTP 503");
    assert_false(parse("HTTP/1.1 200 OK\r\n\r\n{\"address\":\"1.2.3.4\"}", ip, err));
    assert_string_equal(err, "the JSON answer has no \"ip\" string");
    assert_false(parse("HTTP/1.1 200 OK\r\n\r\n{\"ip\":\"home\"}", ip, err));
    assert_string_equal(err, "the JSON answer's \"ip\" is not an IP address");
    assert_false(parse("HTTP/1.1 200 OK\r\n\r\n{\"ip\":", ip, err));
    assert_string_equal(err, "the answer is not valid JSON");
    assert_false(parse("HTTP/1.1 200 OK\r\n\r\n<html>", ip, err));
    assert_string_equal(err, "the answer is neither an IP address nor JSON with an \"ip\" string");
    assert_false(parse("HTTP/1.1 200 OK\r\n\r\n{\"ip\":\"1.2.3.4.5\"}", ip, err));
    assert_string_equal(err, "the answer's address 1.2.3.4.5 is not a valid IP address");
    assert_string_equal(ip, "unchanged");
}

static void test_parse_refusals(void **state)
{
    (void)state;
    char ip[PUBLIC_IP_TEXT_MAX] = "unchanged", err[128];
    const char *bad[] = {
        "",
        "SSH-2.0-OpenSSH\r\n\r\n1.2.3.4",
        "HTTP/1.1 404 Not Found\r\n\r\n1.2.3.4",
        "HTTP/1.1 2x0 OK\r\n\r\n1.2.3.4",
        "HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\nnot an address",
        "HTTP/1.1 200 OK\r\n\r\n1.2.3.4.5",
        "HTTP/1.1 200 OK\r\n\r\n<html>1.2.3.4</html>",
        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n", /* headers never end */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n1.2.3.4\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n1.2.3.4\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_false(parse(bad[i], ip, err));
        assert_true(strlen(err) > 5);
        assert_string_equal(ip, "unchanged");
    }
    /* An address longer than the caller's buffer. */
    char small[8];
    assert_false(public_ip_parse_response("HTTP/1.1 200 OK\r\n\r\n203.0.113.77", 32, small,
                                          sizeof small, err, sizeof err));
}

typedef struct {
    int calls;
    bool ok;
    char text[160];
} result;

static void on_done(void *ctx, uint32_t now, bool ok, const char *text)
{
    (void)now;
    result *r = ctx;
    r->calls++;
    r->ok = ok;
    snprintf(r->text, sizeof r->text, "%s", text);
}

static void test_bad_urls(void **state)
{
    (void)state;
    public_ip p;
    result r = {0};
    char err[160];
    public_ip_init(&p, on_done, &r);
    const char *bad[] = {"https://api.ipify.org", "api.ipify.org", "http://", "http://:80/",
                         "http://host:0/", "http://host:99999/", "http://host:8x/",
                         "http://ho st/", "http://[::1/", "http://host/a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(public_ip_start(&p, bad[i], 0, err, sizeof err));
        assert_false(public_ip_busy(&p));
    }
    assert_int_equal(r.calls, 0);
    public_ip_deinit(&p);
}

/* A loopback server; mode: 0 answer with body, 1 accept and stay silent. */
static int listen_local(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Runs the lookup until done, serving the server side from the same loop. */
static void run(public_ip *p, int server, const char *answer, uint32_t limit_ms)
{
    int conn = -1;
    char request[1024];
    size_t request_len = 0;
    uint32_t start = mtc_now_ms();
    while (public_ip_busy(p) && mtc_now_ms() - start < limit_ms) {
        struct pollfd fds[3];
        size_t n = public_ip_pollfds(p, fds, 1);
        fds[n].fd = conn >= 0 ? conn : server;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        poll(fds, (nfds_t)n + 1, 50);
        if (fds[n].revents && conn < 0) {
            conn = accept(server, NULL, NULL);
        } else if (fds[n].revents && conn >= 0 && answer) {
            ssize_t got = recv(conn, request + request_len, sizeof request - 1 - request_len, 0);
            if (got > 0) {
                request_len += (size_t)got;
                request[request_len] = '\0';
                if (strstr(request, "\r\n\r\n")) {
                    assert_non_null(strstr(request, "GET /ip HTTP/1.1\r\n"));
                    assert_non_null(strstr(request, "\r\nHost: 127.0.0.1:"));
                    assert_int_equal(send(conn, answer, strlen(answer), 0), (ssize_t)strlen(answer));
                    close(conn);
                    conn = -2; /* answered */
                }
            }
        }
        public_ip_service(p, mtc_now_ms(), fds, n);
    }
    if (conn >= 0)
        close(conn);
}

static void test_lookup_answer(void **state)
{
    (void)state;
    uint16_t port;
    int server = listen_local(&port);
    public_ip p;
    result r = {0};
    char url[64], err[160];
    public_ip_init(&p, on_done, &r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/ip", port);
    assert_true(public_ip_start(&p, url, mtc_now_ms(), err, sizeof err));
    assert_false(public_ip_start(&p, url, mtc_now_ms(), err, sizeof err)); /* one at a time */
    run(&p, server, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n203.0.113.7", 3000);
    assert_int_equal(r.calls, 1);
    assert_true(r.ok);
    assert_string_equal(r.text, "203.0.113.7");
    public_ip_deinit(&p);
    close(server);
}

static void test_lookup_refused(void **state)
{
    (void)state;
    uint16_t port;
    int server = listen_local(&port);
    close(server); /* nobody listens there any more */
    public_ip p;
    result r = {0};
    char url[64], err[160];
    public_ip_init(&p, on_done, &r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/ip", port);
    if (public_ip_start(&p, url, mtc_now_ms(), err, sizeof err)) {
        uint32_t start = mtc_now_ms();
        while (public_ip_busy(&p) && mtc_now_ms() - start < 3000) {
            struct pollfd fds[1];
            size_t n = public_ip_pollfds(&p, fds, 1);
            poll(fds, (nfds_t)n, 50);
            public_ip_service(&p, mtc_now_ms(), fds, n);
        }
        assert_int_equal(r.calls, 1);
        assert_false(r.ok);
        assert_non_null(strstr(r.text, "connect"));
    } else {
        assert_non_null(strstr(err, "connect")); /* refused at once */
    }
    public_ip_deinit(&p);
}

static void test_lookup_timeout(void **state)
{
    (void)state;
    uint16_t port;
    int server = listen_local(&port);
    public_ip p;
    result r = {0};
    char url[64], err[160];
    public_ip_init(&p, on_done, &r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/ip", port);
    uint32_t start = mtc_now_ms();
    assert_true(public_ip_start(&p, url, start, err, sizeof err));
    uint32_t deadline = 0;
    assert_true(public_ip_deadline(&p, &deadline));
    assert_int_equal(deadline - start, PUBLIC_IP_TIMEOUT_MS);
    run(&p, server, NULL, PUBLIC_IP_TIMEOUT_MS + 2000);
    uint32_t took = mtc_now_ms() - start;
    assert_int_equal(r.calls, 1);
    assert_false(r.ok);
    assert_non_null(strstr(r.text, "5 s"));
    assert_true(took >= PUBLIC_IP_TIMEOUT_MS && took < PUBLIC_IP_TIMEOUT_MS + 1000);
    assert_false(public_ip_deadline(&p, &deadline));
    public_ip_deinit(&p);
    close(server);
}

/* Content-Length is read within the headers only: an empty value is no
 * length (old: strtol skipped the blank line and read the body's digits),
 * and a response held in a buffer of exactly its size is never read past. */
static void test_parse_content_length_stays_in_bounds(void **state)
{
    (void)state;
    char ip[PUBLIC_IP_TEXT_MAX], err[128];
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n5.6.7.8", ip, err));
    assert_string_equal(ip, "5.6.7.8");
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n5.6.7.9", ip, err));
    assert_string_equal(ip, "5.6.7.9");
    static const char *const exact[] = {
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Len\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encod\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        size_t n = strlen(exact[i]);
        char *buf = malloc(n); /* no NUL after it: AddressSanitizer sees any overread */
        assert_non_null(buf);
        memcpy(buf, exact[i], n);
        assert_false(public_ip_parse_response(buf, n, ip, sizeof ip, err, sizeof err));
        assert_string_equal(err, "the answer is empty");
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_answers),
        cmocka_unit_test(test_parse_reasons),
        cmocka_unit_test(test_parse_content_length_stays_in_bounds),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_lookup_answer),
        cmocka_unit_test(test_lookup_refused),
        cmocka_unit_test(test_lookup_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
