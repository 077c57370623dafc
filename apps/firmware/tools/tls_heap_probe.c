/*
 * Host measurement of the TLS heap the firmware needs: mbedTLS 2.28 built
 * with the firmware's own configuration (src/platform/pico/mbedtls_config.h)
 * and the firmware's counting allocator (tls_heap.c), one TLS 1.2 client
 * handshake with CA verification and hostname check against a local broker,
 * then one MQTT CONNECT / CONNACK exchange through the session.
 *
 *   tls_heap_probe HOST PORT CA.pem [max_fragment_length: 512|1024|2048|4096]
 *
 * Prints the peak heap and the heap held while the session is open.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/error.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "tls_heap.h"

/* The device feeds mbedTLS from its ring oscillator; the host from the OS. */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    (void)data;
    ssize_t n = getrandom(output, len, 0);
    if (n < 0)
        return -1;
    *olen = (size_t)n;
    return 0;
}

static int send_cb(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int recv_cb(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);
    return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int fail(const char *what, int ret)
{
    char text[128];
    mbedtls_strerror(ret, text, sizeof text);
    fprintf(stderr, "tls_heap_probe: %s: -0x%04x %s\n", what, (unsigned)-ret, text);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: tls_heap_probe HOST PORT CA.pem [mfl]\n");
        return 2;
    }
    const char *host = argv[1];
    int mfl = argc > 4 ? atoi(argv[4]) : 0;

    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    if (getaddrinfo(host, argv[2], &hints, &ai) != 0)
        return 1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "tls_heap_probe: connect: %s\n", strerror(errno));
        return 1;
    }
    freeaddrinfo(ai);

    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);

    int ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0);
    if (ret != 0)
        return fail("drbg", ret);
    static unsigned char pem[16384];
    FILE *f = fopen(argv[3], "rb");
    size_t pem_len = f != NULL ? fread(pem, 1, sizeof pem - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    pem[pem_len] = '\0';
    if ((ret = mbedtls_x509_crt_parse(&ca, pem, pem_len + 1)) != 0)
        return fail("CA", ret);
    size_t after_ca = tls_heap_get_stats().in_use;
    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    /* The firmware's curve preference (mqtt_transport_pico.c). */
    static const mbedtls_ecp_group_id preferred[] = {
        MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
        MBEDTLS_ECP_DP_NONE,
    };
    mbedtls_ssl_conf_curves(&conf, preferred);
    if (mfl) {
        unsigned char code = mfl == 512 ? MBEDTLS_SSL_MAX_FRAG_LEN_512
                           : mfl == 1024 ? MBEDTLS_SSL_MAX_FRAG_LEN_1024
                           : mfl == 2048 ? MBEDTLS_SSL_MAX_FRAG_LEN_2048
                                         : MBEDTLS_SSL_MAX_FRAG_LEN_4096;
        mbedtls_ssl_conf_max_frag_len(&conf, code);
    }
    if ((ret = mbedtls_ssl_setup(&ssl, &conf)) != 0)
        return fail("setup", ret);
    if ((ret = mbedtls_ssl_set_hostname(&ssl, host)) != 0)
        return fail("hostname", ret);
    mbedtls_ssl_set_bio(&ssl, &fd, send_cb, recv_cb, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE)
            return fail("handshake", ret);
    }
    size_t after_handshake = tls_heap_get_stats().in_use;

    /* MQTT CONNECT, client id "heap-probe", clean session, keepalive 60. */
    static const unsigned char connect_packet[] = {
        0x10, 22, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c,
        0x00, 10, 'h', 'e', 'a', 'p', '-', 'p', 'r', 'o', 'b', 'e',
    };
    if ((ret = mbedtls_ssl_write(&ssl, connect_packet, sizeof connect_packet)) < 0)
        return fail("write", ret);
    unsigned char connack[4];
    size_t got = 0;
    while (got < sizeof connack) {
        ret = mbedtls_ssl_read(&ssl, connack + got, sizeof connack - got);
        if (ret <= 0)
            return fail("read", ret);
        got += (size_t)ret;
    }
    if (connack[0] != 0x20 || connack[3] != 0) {
        fprintf(stderr, "tls_heap_probe: CONNACK refused (%u)\n", connack[3]);
        return 1;
    }
    tls_heap_stats s = tls_heap_get_stats();
    printf("tls heap: in=%d out=%d mfl=%d cipher=%s: peak %zu bytes, "
           "open session %zu bytes (CA %zu), failures %u\n",
           MBEDTLS_SSL_IN_CONTENT_LEN, MBEDTLS_SSL_OUT_CONTENT_LEN, mfl,
           mbedtls_ssl_get_ciphersuite(&ssl), s.peak, after_handshake, after_ca, s.failures);
    mbedtls_ssl_close_notify(&ssl);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    close(fd);
    printf("tls heap: after close %zu bytes in use\n", tls_heap_get_stats().in_use);
    return 0;
}
