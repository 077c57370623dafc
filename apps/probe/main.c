/*
 * mqtt-tiny-probe: a thin MQTT client over the project's own client and
 * transport, for system tests and soak runs. Commands on stdin, one JSON
 * event per line on stdout, diagnostics on stderr. See docs/probe.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "mqtt_link.h"

#define PROBE_LINE_MAX 8192           /* longest stdin command */
#define PROBE_STOP_GRACE_MS 2000      /* time for DISCONNECT + close on exit */
#define PROBE_ID_MAX 64

typedef struct {
    mqtt_link link;
    uint32_t start_ms;
    uint32_t attempts_reported;
    char line[PROBE_LINE_MAX + 1];
    size_t line_len;
    bool line_overflow;
    bool stdin_open;
    bool quit;
} probe;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* ---- JSON output ---------------------------------------------------------- */

static const char *status_id(mqtt_status s)
{
    static const char *const ids[] = {
        "MQTT_OK", "MQTT_ERR_NEED_MORE", "MQTT_ERR_MALFORMED", "MQTT_ERR_BUFFER_TOO_SMALL",
        "MQTT_ERR_BAD_ARGUMENT", "MQTT_ERR_NOT_CONNECTED", "MQTT_ERR_INFLIGHT_FULL",
        "MQTT_ERR_BUSY", "MQTT_ERR_TIMEOUT", "MQTT_ERR_KEEPALIVE", "MQTT_ERR_REFUSED",
        "MQTT_ERR_TRANSPORT", "MQTT_ERR_CLOSED", "MQTT_ERR_TLS", "MQTT_ERR_DNS",
        "MQTT_ERR_PROTOCOL",
    };
    return (unsigned)s < sizeof ids / sizeof ids[0] ? ids[s] : "MQTT_ERR_UNKNOWN";
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Writes bytes as a JSON string; invalid UTF-8 bytes become U+FFFD. */
static void json_string(const void *data, size_t n)
{
    const unsigned char *p = data;
    putchar('"');
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_sequence(p + i, n - i);
        if (len == 0) {
            fputs("\\ufffd", stdout);
            i++;
            continue;
        }
        unsigned char c = p[i];
        if (len > 1) {
            fwrite(p + i, 1, len, stdout);
        } else if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
        i += len;
    }
    putchar('"');
}

static void json_cstr(const char *s)
{
    json_string(s, strlen(s));
}

static void ev_begin(probe *p, const char *ev)
{
    printf("{\"ev\":\"%s\",\"t_ms\":%lu", ev, (unsigned long)(uint32_t)(mtc_now_ms() - p->start_ms));
}

static void ev_end(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

/* Attempts are counted by the link; report each once, before its outcome. */
static void report_attempts(probe *p)
{
    mqtt_link_stats st;
    mqtt_link_stats(&p->link, &st);
    while (p->attempts_reported != st.attempts) {
        p->attempts_reported++;
        ev_begin(p, "attempt");
        ev_end();
    }
}

static void on_event(void *ctx, const mqtt_event *e)
{
    probe *p = ctx;
    report_attempts(p);
    mqtt_client *c = mqtt_link_client(&p->link);
    switch (e->type) {
    case MQTT_EVENT_CONNECTED:
        ev_begin(p, "connected");
        printf(",\"session_present\":%s", e->u.connected.session_present ? "true" : "false");
        break;
    case MQTT_EVENT_DISCONNECTED:
        ev_begin(p, "disconnected");
        printf(",\"reason\":\"%s\",\"detail\":", status_id(e->reason));
        json_cstr(e->reason == MQTT_OK ? "" : mqtt_link_last_error(&p->link));
        break;
    case MQTT_EVENT_CONNECT_FAILED: {
        ev_begin(p, "connect_failed");
        uint8_t code = e->reason == MQTT_ERR_REFUSED ? e->u.connack_code : 0;
        printf(",\"reason\":\"%s\",\"connack\":%u,\"text\":", status_id(e->reason), code);
        const char *text = code != 0 ? mqtt_connack_text(code) : mqtt_status_name(e->reason);
        if (code != 0 && strncmp(text, "refused: ", 9) == 0)
            text += 9;
        json_cstr(text);
        fputs(",\"detail\":", stdout);
        bool transport = e->reason == MQTT_ERR_TLS || e->reason == MQTT_ERR_DNS ||
                         e->reason == MQTT_ERR_TRANSPORT || e->reason == MQTT_ERR_CLOSED;
        json_cstr(transport ? mqtt_link_last_error(&p->link) : "");
        break;
    }
    case MQTT_EVENT_MESSAGE: {
        const mqtt_publish *m = &e->u.message;
        ev_begin(p, "message");
        fputs(",\"topic\":", stdout);
        json_string(m->topic, m->topic_len);
        fputs(",\"payload\":", stdout);
        json_string(m->payload, m->payload_len);
        printf(",\"len\":%zu,\"qos\":%u,\"dup\":%s,\"retain\":%s", m->payload_len, m->qos,
               m->dup ? "true" : "false", m->retain ? "true" : "false");
        break;
    }
    case MQTT_EVENT_PUBLISH_ACKED:
        ev_begin(p, "acked");
        printf(",\"id\":%u", e->u.packet_id);
        break;
    case MQTT_EVENT_SUBSCRIBED:
    case MQTT_EVENT_SUBSCRIBE_FAILED: {
        bool ok = e->type == MQTT_EVENT_SUBSCRIBED;
        ev_begin(p, ok ? "subscribed" : "subscribe_failed");
        unsigned idx = e->u.suback.index;
        const char *filter = idx < MQTT_MAX_SUBSCRIPTIONS ? c->cfg.subscriptions[idx] : NULL;
        fputs(",\"filter\":", stdout);
        json_cstr(filter != NULL ? filter : "");
        if (ok)
            printf(",\"qos\":%u", e->u.suback.granted_qos);
        break;
    }
    case MQTT_EVENT_PACKET_DROPPED:
        ev_begin(p, "dropped");
        printf(",\"len\":%lu", (unsigned long)e->u.dropped_len);
        break;
    default:
        ev_begin(p, "unknown_event");
        printf(",\"type\":%d", (int)e->type);
        break;
    }
    ev_end();
}

static void print_stats(probe *p)
{
    mqtt_client *c = mqtt_link_client(&p->link);
    mqtt_link_stats st;
    mqtt_link_stats(&p->link, &st);
    ev_begin(p, "stats");
    printf(",\"connects\":%lu,\"outages\":%lu,\"connect_failures\":%lu,\"protocol_errors\":%lu,"
           "\"dropped_packets\":%lu,\"inflight\":%zu,\"tls_heap_in_use\":%zu,"
           "\"tls_heap_peak\":%zu,\"tls_heap_counted\":%s,\"attempts\":%lu,\"bytes_in\":%llu,"
           "\"bytes_out\":%llu,\"state\":\"%s\"",
           (unsigned long)c->stats.connects, (unsigned long)c->stats.outages,
           (unsigned long)c->stats.connect_failures, (unsigned long)c->stats.protocol_errors,
           (unsigned long)c->stats.dropped_packets, mqtt_client_inflight_count(c),
           st.tls_heap_in_use, st.tls_heap_peak, st.tls_heap_counted ? "true" : "false",
           (unsigned long)st.attempts, (unsigned long long)st.bytes_in,
           (unsigned long long)st.bytes_out, mqtt_state_name(c->state));
    ev_end();
}

/* ---- commands ------------------------------------------------------------- */

static void command(probe *p, char *line)
{
    uint32_t now = mtc_now_ms();
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0)
        return;
    if (strcmp(line, "quit") == 0) {
        p->quit = true;
        return;
    }
    if (strcmp(line, "stats") == 0) {
        print_stats(p);
        return;
    }
    if (strcmp(line, "net down") == 0 || strcmp(line, "net up") == 0) {
        mqtt_link_set_network(&p->link, now, line[4] == 'u');
        return;
    }
    if (strncmp(line, "pub ", 4) == 0) {
        /* pub <qos> <topic> <payload: rest of the line> */
        char *q = line + 4;
        if ((q[0] != '0' && q[0] != '1') || q[1] != ' ') {
            fprintf(stderr, "probe: pub: qos must be 0 or 1\n");
            ev_begin(p, "publish_failed");
            printf(",\"error\":\"%s\"", status_id(MQTT_ERR_BAD_ARGUMENT));
            ev_end();
            return;
        }
        uint8_t qos = (uint8_t)(q[0] - '0');
        char *topic = q + 2;
        char *sp = strchr(topic, ' ');
        const char *payload = "";
        if (sp != NULL) {
            *sp = '\0';
            payload = sp + 1;
        }
        uint16_t id = 0;
        mqtt_status st = mqtt_client_publish(mqtt_link_client(&p->link), now, topic,
                                             (const uint8_t *)payload, strlen(payload), qos,
                                             false, &id);
        if (st == MQTT_OK) {
            ev_begin(p, "published");
            printf(",\"id\":%u,\"qos\":%u", qos == 0 ? 0u : (unsigned)id, qos);
        } else {
            ev_begin(p, "publish_failed");
            printf(",\"error\":\"%s\"", status_id(st));
        }
        ev_end();
        return;
    }
    fprintf(stderr, "probe: unknown command: %.80s\n", line);
}

/* Reads what stdin has (non-blocking) and runs complete lines. */
static void read_stdin(probe *p)
{
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) {
        p->stdin_open = false;
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            p->stdin_open = false;
        return;
    }
    for (ssize_t i = 0; i < n && !p->quit; i++) {
        char ch = buf[i];
        if (ch == '\n') {
            if (p->line_overflow)
                fprintf(stderr, "probe: command longer than %d bytes ignored\n", PROBE_LINE_MAX);
            else {
                p->line[p->line_len] = '\0';
                command(p, p->line);
            }
            p->line_len = 0;
            p->line_overflow = false;
        } else if (p->line_len < PROBE_LINE_MAX) {
            p->line[p->line_len++] = ch;
        } else {
            p->line_overflow = true;
        }
    }
}

/* ---- arguments ------------------------------------------------------------ */

typedef struct {
    mqtt_link_config link;
    mqtt_client_config client;
    char id[PROBE_ID_MAX + 1];
    size_t subs;
} probe_args;

_Noreturn static void usage_exit(const char *why)
{
    fprintf(stderr,
            "mqtt-tiny-probe: %s\n"
            "usage: mqtt-tiny-probe --broker URL [--ca FILE] [--tls-hostname NAME]\n"
            "  [--user U] [--password P] [--id ID] [--keepalive S]\n"
            "  [--session clean|persistent|clean_first] [--sub FILTER]... [--sub-qos 0|1]\n"
            "  [--will-topic T --will-payload P] [--backoff-first-ms N] [--backoff-base-ms N]\n"
            "  [--backoff-max-ms N] [--backoff-refused-ms N] [--connect-timeout-ms N]\n"
            "  [--rx-buffer N] [--cert FILE --key FILE] [--tls-max-fragment 512|1024|2048|4096]\n"
            "stdin: 'pub <qos> <topic> <payload>', 'stats', 'quit' (also 'net down|up')\n",
            why);
    exit(2);
}

static unsigned long number(const char *opt, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        goto bad;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        goto bad;
    return v;
bad:
    fprintf(stderr, "mqtt-tiny-probe: %s needs a number from 0 to %lu, got '%s'\n", opt, max, s);
    exit(2);
}

static void parse_args(int argc, char **argv, probe_args *a)
{
    enum {
        O_BROKER = 1, O_CA, O_TLS_HOST, O_USER, O_PASSWORD, O_ID, O_KEEPALIVE, O_SESSION,
        O_SUB, O_SUB_QOS, O_WILL_TOPIC, O_WILL_PAYLOAD, O_BO_FIRST, O_BO_BASE, O_BO_MAX,
        O_BO_REFUSED, O_CONNECT_TIMEOUT, O_RX, O_CERT, O_KEY, O_MFL, O_HELP,
    };
    static const struct option opts[] = {
        {"broker", required_argument, NULL, O_BROKER},
        {"ca", required_argument, NULL, O_CA},
        {"tls-hostname", required_argument, NULL, O_TLS_HOST},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASSWORD},
        {"id", required_argument, NULL, O_ID},
        {"keepalive", required_argument, NULL, O_KEEPALIVE},
        {"session", required_argument, NULL, O_SESSION},
        {"sub", required_argument, NULL, O_SUB},
        {"sub-qos", required_argument, NULL, O_SUB_QOS},
        {"will-topic", required_argument, NULL, O_WILL_TOPIC},
        {"will-payload", required_argument, NULL, O_WILL_PAYLOAD},
        {"backoff-first-ms", required_argument, NULL, O_BO_FIRST},
        {"backoff-base-ms", required_argument, NULL, O_BO_BASE},
        {"backoff-max-ms", required_argument, NULL, O_BO_MAX},
        {"backoff-refused-ms", required_argument, NULL, O_BO_REFUSED},
        {"connect-timeout-ms", required_argument, NULL, O_CONNECT_TIMEOUT},
        {"rx-buffer", required_argument, NULL, O_RX},
        {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},
        {"tls-max-fragment", required_argument, NULL, O_MFL},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *will_payload = NULL;
    mqtt_client_config *cc = &a->client;
    opterr = 0;
    for (;;) {
        int o = getopt_long(argc, argv, "", opts, NULL);
        if (o == -1)
            break;
        switch (o) {
        case O_BROKER: a->link.broker_url = optarg; break;
        case O_CA: a->link.ca_file = optarg; break;
        case O_TLS_HOST: a->link.tls_hostname = optarg; break;
        case O_USER: cc->username = optarg; break;
        case O_PASSWORD: cc->password = optarg; break;
        case O_ID:
            if (optarg[0] == '\0' || strlen(optarg) > MQTT_MAX_CLIENT_ID_LEN)
                usage_exit("--id must be 1 to 64 bytes");
            cc->client_id = optarg;
            break;
        case O_KEEPALIVE: cc->keepalive_s = (uint16_t)number("--keepalive", optarg, 65535); break;
        case O_SESSION:
            if (strcmp(optarg, "clean") == 0)
                cc->session_mode = MQTT_SESSION_CLEAN;
            else if (strcmp(optarg, "persistent") == 0)
                cc->session_mode = MQTT_SESSION_PERSISTENT;
            else if (strcmp(optarg, "clean_first") == 0)
                cc->session_mode = MQTT_SESSION_CLEAN_FIRST;
            else
                usage_exit("--session must be clean, persistent or clean_first");
            break;
        case O_SUB:
            if (a->subs >= MQTT_MAX_SUBSCRIPTIONS)
                usage_exit("too many --sub (the client keeps at most 4)");
            cc->subscriptions[a->subs++] = optarg;
            break;
        case O_SUB_QOS: cc->subscription_qos = (uint8_t)number("--sub-qos", optarg, 1); break;
        case O_WILL_TOPIC: cc->will_topic = optarg; break;
        case O_WILL_PAYLOAD: will_payload = optarg; break;
        case O_BO_FIRST: cc->backoff_first_ms = (uint32_t)number("--backoff-first-ms", optarg, 86400000); break;
        case O_BO_BASE: cc->backoff_base_ms = (uint32_t)number("--backoff-base-ms", optarg, 86400000); break;
        case O_BO_MAX: cc->backoff_max_ms = (uint32_t)number("--backoff-max-ms", optarg, 86400000); break;
        case O_BO_REFUSED: cc->backoff_refused_ms = (uint32_t)number("--backoff-refused-ms", optarg, 86400000); break;
        case O_CONNECT_TIMEOUT: cc->connect_timeout_ms = (uint32_t)number("--connect-timeout-ms", optarg, 3600000); break;
        case O_RX:
            a->link.rx_size = (size_t)number("--rx-buffer", optarg, MQTT_LINK_RX_SIZE);
            if (a->link.rx_size < MQTT_LINK_MIN_RX_SIZE)
                usage_exit("--rx-buffer is below the minimum (64)");
            break;
        case O_CERT: a->link.client_cert_file = optarg; break;
        case O_KEY: a->link.client_key_file = optarg; break;
        case O_MFL:
            a->link.tls_max_fragment_len = (uint16_t)number("--tls-max-fragment", optarg, 4096);
            break;
        case O_HELP: usage_exit("help");
        default: {
            static char msg[128];
            snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", argv[optind - 1]);
            usage_exit(msg);
        }
        }
    }
    if (optind < argc)
        usage_exit("unexpected argument");
    if (a->link.broker_url == NULL)
        usage_exit("--broker is required");
    if ((a->link.client_cert_file == NULL) != (a->link.client_key_file == NULL))
        usage_exit("--cert and --key go together");
    if (cc->password != NULL && cc->username == NULL)
        usage_exit("--password needs --user");
    if ((cc->will_topic == NULL) != (will_payload == NULL))
        usage_exit("--will-topic and --will-payload go together");
    if (will_payload != NULL) {
        cc->will_payload = (const uint8_t *)will_payload;
        cc->will_payload_len = strlen(will_payload);
        cc->will_qos = 1;
    }
    if (cc->client_id == NULL) {
        snprintf(a->id, sizeof a->id, "mqtt-tiny-probe-%ld", (long)getpid());
        cc->client_id = a->id;
    }
}

/* ---- main ----------------------------------------------------------------- */

static probe g_probe; /* large (buffers): static storage, not stack */

int main(int argc, char **argv)
{
    probe_args args;
    memset(&args, 0, sizeof args);
    parse_args(argc, argv, &args);

    probe *p = &g_probe;
    p->start_ms = mtc_now_ms();
    p->stdin_open = true;

    char err[256];
    if (!mqtt_link_init(&p->link, &args.link, &args.client, on_event, p, err, sizeof err)) {
        fprintf(stderr, "mqtt-tiny-probe: %s\n", err);
        mqtt_link_deinit(&p->link);
        return 2;
    }

    /* Signals are delivered only while waiting in ppoll(), so a stop request
     * is never lost between the check and the wait. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fl = fcntl(STDIN_FILENO, F_GETFL);
    if (fl >= 0)
        fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);

    mqtt_link_start(&p->link, mtc_now_ms());
    mqtt_link_service(&p->link, mtc_now_ms(), NULL, 0);
    report_attempts(p);

    bool stopping = false;
    uint32_t stop_deadline = 0;
    for (;;) {
        if (!stopping && (p->quit || !p->stdin_open || stop_signal != 0)) {
            stopping = true;
            stop_deadline = mtc_now_ms() + PROBE_STOP_GRACE_MS;
            mqtt_client_stop(mqtt_link_client(&p->link), mtc_now_ms());
            mqtt_link_service(&p->link, mtc_now_ms(), NULL, 0);
        }
        if (stopping) {
            mqtt_client *c = mqtt_link_client(&p->link);
            if ((c->state == MQTT_STATE_IDLE && mqtt_link_get_phase(&p->link) == MQTT_LINK_CLOSED) ||
                (int32_t)(mtc_now_ms() - stop_deadline) >= 0)
                break;
        }

        struct pollfd fds[MQTT_LINK_MAX_FDS + 1];
        size_t n = mqtt_link_pollfds(&p->link, fds, MQTT_LINK_MAX_FDS);
        size_t stdin_slot = n;
        if (p->stdin_open && !stopping)
            fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        uint32_t now = mtc_now_ms();
        uint32_t wait = mqtt_link_next_deadline(&p->link, now);
        if (stopping && wait > 50)
            wait = 50;
        struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (long)(wait % 1000) * 1000000L};
        int rc = ppoll(fds, n, &ts, &wait_mask);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "mqtt-tiny-probe: poll: %s\n", strerror(errno));
            break;
        }
        if (rc < 0)
            n = 0;
        if (n > stdin_slot && fds[stdin_slot].revents != 0)
            read_stdin(p);
        mqtt_link_service(&p->link, mtc_now_ms(), fds, n > stdin_slot ? stdin_slot : n);
        report_attempts(p);
    }
    mqtt_link_deinit(&p->link);
    fflush(stdout);
    return 0;
}
