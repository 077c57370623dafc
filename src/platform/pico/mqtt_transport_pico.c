#include "mqtt_transport_pico.h"

#include <stdio.h>
#include <string.h>

#include "board_pico.h"
#include "lwip/altcp.h"
#include "lwip/altcp_tcp.h"
#include "lwip/altcp_tls.h"
#include "lwip/dns.h"
#include "lwip/tcp.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "pico/time.h"

static uint32_t now_ms(void)
{
    return to_ms_since_boot(get_absolute_time());
}

/* Detaches our callbacks and closes the connection (lwIP frees the PCB).
 * Never aborts: this runs inside lwIP callbacks, where an abort would have
 * to be reported as ERR_ABRT. A close that fails for lack of memory is
 * retried from the main loop (mqtt_transport_poll). */
static void release_pcb(mqtt_transport *t)
{
    struct altcp_pcb *pcb = t->pcb;
    t->pcb = NULL;
    if (pcb == NULL)
        return;
    altcp_arg(pcb, NULL);
    altcp_recv(pcb, NULL);
    altcp_sent(pcb, NULL);
    altcp_err(pcb, NULL);
    if (altcp_close(pcb) != ERR_OK) {
        if (t->closing_pcb != NULL)
            altcp_abort(t->closing_pcb);   /* an older PCB, not the one whose callback runs */
        t->closing_pcb = pcb;
    }
}

/* The connection failed or ended: tell the client once. */
static void report_down(mqtt_transport *t, uint32_t now, mqtt_status reason)
{
    bool was_active = t->state != TRANSPORT_IDLE;
    board_watchdog_grace_end();
    release_pcb(t);
    t->state = TRANSPORT_IDLE;
    if (was_active)
        mqtt_client_transport_down(t->client, now, reason);
}

void mqtt_transport_flush(mqtt_transport *t, uint32_t now)
{
    if (t->state != TRANSPORT_UP || t->pcb == NULL)
        return;
    const uint8_t *data = NULL;
    size_t len = mqtt_client_output(t->client, &data);
    if (len == 0)
        return;
    /* Whole packets, as many as the send buffer takes, in one write (never
     * more than one TLS record: see firmware.c); the rest goes when lwIP
     * reports sent data. */
    size_t room = altcp_sndbuf(t->pcb);
    if (len > room)
        len = room;
    if (len == 0)
        return;
    if (len > 0xFFFFu)
        len = 0xFFFFu;
    err_t err = altcp_write(t->pcb, data, (u16_t)len, TCP_WRITE_FLAG_COPY);
    if (err == ERR_MEM)
        return;   /* retried on the next sent callback or loop pass */
    if (err != ERR_OK) {
        report_down(t, now, MQTT_ERR_TRANSPORT);
        return;
    }
    altcp_output(t->pcb);
    mqtt_client_output_done(t->client, now, len);
}

static err_t on_recv(void *arg, struct altcp_pcb *pcb, struct pbuf *p, err_t err)
{
    mqtt_transport *t = arg;
    uint32_t now = now_ms();
    if (t == NULL || pcb != t->pcb) {
        if (p != NULL)
            pbuf_free(p);
        return ERR_OK;
    }
    if (p == NULL || err != ERR_OK) {
        if (p != NULL)
            pbuf_free(p);
        report_down(t, now, MQTT_ERR_CLOSED);
        return ERR_OK;
    }
    for (struct pbuf *q = p; q != NULL; q = q->next)
        mqtt_client_receive(t->client, now, q->payload, q->len);
    altcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    mqtt_transport_flush(t, now);
    return ERR_OK;
}

static err_t on_sent(void *arg, struct altcp_pcb *pcb, u16_t len)
{
    (void)pcb;
    (void)len;
    mqtt_transport *t = arg;
    if (t != NULL)
        mqtt_transport_flush(t, now_ms());
    return ERR_OK;
}

static void on_error(void *arg, err_t err)
{
    mqtt_transport *t = arg;
    if (t == NULL)
        return;
    t->pcb = NULL;   /* lwIP has already freed it */
    bool handshake = t->state == TRANSPORT_CONNECTING && t->tls_config != NULL;
    if (handshake)
        t->tls_failures++;
    printf("mqtt: connection error %d%s\n", (int)err, handshake ? " (TLS handshake or certificate)" : "");
    if (handshake && t->tls_verify_flags != 0) {
        /* Why the chain was refused (wrong CA, expired, wrong name), in
         * mbedTLS's words: the first reason is enough for the log. */
        char why[96];
        if (mbedtls_x509_crt_verify_info(why, sizeof why, "", t->tls_verify_flags) <= 0)
            why[0] = '\0';
        why[strcspn(why, "\n")] = '\0';
        printf("tls: the broker's certificate is refused: %s (flags 0x%lx)\n", why,
               (unsigned long)t->tls_verify_flags);
    }
    report_down(t, now_ms(), handshake ? MQTT_ERR_TLS : MQTT_ERR_TRANSPORT);
}

static err_t on_connected(void *arg, struct altcp_pcb *pcb, err_t err)
{
    mqtt_transport *t = arg;
    uint32_t now = now_ms();
    if (t == NULL || pcb != t->pcb)
        return ERR_OK;
    if (err != ERR_OK) {
        report_down(t, now, MQTT_ERR_TRANSPORT);
        return ERR_OK;
    }
    board_watchdog_grace_end();
    if (t->tls_config != NULL)
        printf("mqtt: TLS session up after %lu ms\n", (unsigned long)(now - t->connect_started));
    t->state = TRANSPORT_UP;
    mqtt_client_transport_up(t->client, now);
    mqtt_transport_flush(t, now);
    return ERR_OK;
}

/* Settings lwIP's altcp_tls has no call for. The key exchange runs inside
 * one lwIP callback: offer X25519 and P-256 before P-384 (about 2.5 times the work on a
 * Cortex-M0+), so a broker that follows our order picks a cheap curve. P-384
 * stays available for brokers and certificates that need it. The list lives
 * in the shared mbedTLS configuration that lwIP's altcp_tls owns; mbedTLS
 * 2.28 exposes it as ssl->conf. */
/* Called by mbedTLS for each certificate of the broker's chain: keeps the
 * reasons it found, for the log line when the handshake fails. */
static int tls_note_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    (void)crt;
    (void)depth;
    mqtt_transport *t = arg;
    t->tls_verify_flags |= *flags;
    return 0;
}

static void tls_tune_config(mbedtls_ssl_context *ssl, mqtt_transport *t)
{
    mbedtls_ssl_config *conf = (mbedtls_ssl_config *)ssl->conf;
    t->tls_verify_flags = 0;
    mbedtls_ssl_conf_verify(conf, tls_note_verify, t);
    static const mbedtls_ecp_group_id preferred[] = {
        MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
        MBEDTLS_ECP_DP_NONE,
    };
    mbedtls_ssl_conf_curves(conf, preferred);
#if MTC_TLS_SMALL_RECORDS
    /* Built with 4 KB input records (MTC_TLS_SMALL_RECORDS=ON): ask the
     * broker for records of at most 4 KB. A broker that ignores the request
     * and sends a bigger record ends the handshake. */
    mbedtls_ssl_conf_max_frag_len(conf, MBEDTLS_SSL_MAX_FRAG_LEN_4096);
#endif
}

static void connect_to(mqtt_transport *t, const ip_addr_t *addr)
{
    uint32_t now = now_ms();
    struct altcp_pcb *pcb = t->tls_config != NULL ? altcp_tls_new(t->tls_config, IPADDR_TYPE_V4)
                                                  : altcp_tcp_new_ip_type(IPADDR_TYPE_V4);
    if (pcb == NULL) {
        report_down(t, now, MQTT_ERR_TRANSPORT);
        return;
    }
    t->pcb = pcb;
    if (t->tls_config != NULL) {
        /* SNI and the certificate's name check. */
        mbedtls_ssl_context *ssl = altcp_tls_context(pcb);
        if (ssl == NULL || mbedtls_ssl_set_hostname(ssl, t->broker.host) != 0) {
            report_down(t, now, MQTT_ERR_TLS);
            return;
        }
        tls_tune_config(ssl, t);
    }
    altcp_arg(pcb, t);
    altcp_recv(pcb, on_recv);
    altcp_sent(pcb, on_sent);
    altcp_err(pcb, on_error);
    altcp_nagle_disable(pcb);   /* one MQTT packet, one segment: no Nagle stall */
    t->state = TRANSPORT_CONNECTING;
    t->connect_started = now;
    if (t->tls_config != NULL)
        board_watchdog_grace(TRANSPORT_TLS_GRACE_MS);
    if (altcp_connect(pcb, addr, t->broker.port, on_connected) != ERR_OK)
        report_down(t, now, MQTT_ERR_TRANSPORT);
}

static void on_dns(const char *name, const ip_addr_t *addr, void *arg)
{
    (void)name;
    mqtt_transport *t = arg;
    if (t->state != TRANSPORT_RESOLVING)
        return;   /* the attempt was abandoned (timeout) */
    if (addr == NULL) {
        t->dns_failures++;
        printf("mqtt: cannot resolve %s\n", t->broker.host);
        report_down(t, now_ms(), MQTT_ERR_DNS);
        return;
    }
    connect_to(t, addr);
}

static void open_connection(mqtt_transport *t, uint32_t now)
{
    release_pcb(t);
    t->opens++;
    t->state = TRANSPORT_RESOLVING;
    ip_addr_t addr;
    err_t err = dns_gethostbyname(t->broker.host, &addr, on_dns, t);
    if (err == ERR_OK) {
        connect_to(t, &addr);
    } else if (err != ERR_INPROGRESS) {
        t->dns_failures++;
        report_down(t, now, MQTT_ERR_DNS);
    }
}

bool mqtt_transport_init(mqtt_transport *t, mqtt_client *client, const config_broker *broker,
                         const uint8_t *ca_pem, size_t ca_pem_len)
{
    *t = (mqtt_transport){ .client = client, .broker = *broker };
    if (!broker->tls)
        return true;
    if (ca_pem == NULL || ca_pem_len == 0) {
        printf("tls: mqtts needs a CA certificate and the configuration has none\n");
        return false;
    }
    /* lwIP must be up: the configuration lives on its heap. */
    t->tls_config = altcp_tls_create_config_client(ca_pem, ca_pem_len);
    if (t->tls_config == NULL) {
        printf("tls: the CA certificate (%lu bytes) does not parse or memory is short\n",
               (unsigned long)ca_pem_len);
        return false;
    }
    printf("tls: CA loaded (%lu bytes), TLS configuration ready\n", (unsigned long)ca_pem_len);
    return true;
}

void mqtt_transport_act(mqtt_transport *t, mqtt_action action, uint32_t now)
{
    switch (action) {
    case MQTT_ACTION_OPEN:
        open_connection(t, now);
        break;
    case MQTT_ACTION_CLOSE:
        /* The client decided (timeout, keepalive, protocol error, stop). */
        board_watchdog_grace_end();
        release_pcb(t);
        t->state = TRANSPORT_IDLE;
        mqtt_client_transport_down(t->client, now, MQTT_ERR_CLOSED);
        break;
    case MQTT_ACTION_NONE:
    default:
        break;
    }
}

void mqtt_transport_poll(mqtt_transport *t)
{
    struct altcp_pcb *pcb = t->closing_pcb;
    if (pcb == NULL)
        return;
    t->closing_pcb = NULL;
    if (altcp_close(pcb) != ERR_OK)
        altcp_abort(pcb);   /* outside any callback: safe */
}

void mqtt_transport_abort(mqtt_transport *t, uint32_t now)
{
    if (t->state != TRANSPORT_IDLE)
        report_down(t, now, MQTT_ERR_TRANSPORT);
}
