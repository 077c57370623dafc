/*
 * TLS client glue over mbedTLS (2.28 and 3.x). See tls_glue.h.
 */
#include "tls_glue.h"

#include <stdio.h>
#include <string.h>

#include "mbedtls/platform.h"
#if defined(MBEDTLS_ERROR_C)
#include "mbedtls/error.h"
#endif
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && \
    (defined(MBEDTLS_USE_PSA_CRYPTO) || defined(MBEDTLS_SSL_PROTO_TLS1_3))
#include "psa/crypto.h"
#define MTC_TLS_NEEDS_PSA_INIT 1
#endif

/* ---- heap accounting ---------------------------------------------------
 * mbedTLS is driven from one thread, so plain counters are enough. */

static struct {
    size_t in_use;
    size_t peak;
    unsigned scope_depth;
    bool counted;
} heap;

#define HEAP_SCOPE_ENTER() (heap.scope_depth++)
#define HEAP_SCOPE_LEAVE() (heap.scope_depth--)

void mtc_tls_heap_note_alloc(size_t bytes)
{
    heap.in_use += bytes;
    if (heap.in_use > heap.peak)
        heap.peak = heap.in_use;
}

void mtc_tls_heap_note_free(size_t bytes)
{
    heap.in_use = bytes > heap.in_use ? 0 : heap.in_use - bytes;
}

void mtc_tls_heap_set_counted(void)
{
    heap.counted = true;
}

bool mtc_tls_heap_in_scope(void)
{
    return heap.scope_depth > 0;
}

mtc_tls_heap_usage mtc_tls_heap_get(void)
{
    mtc_tls_heap_usage u = {heap.in_use, heap.peak, heap.counted};
    return u;
}

void mtc_tls_heap_reset_peak(void)
{
    heap.peak = heap.in_use;
}

#if defined(MBEDTLS_PLATFORM_MEMORY) && !defined(MBEDTLS_PLATFORM_CALLOC_MACRO) && \
    !defined(MBEDTLS_PLATFORM_STD_CALLOC)
/* The library lets us install an allocator: every block carries its size. */
#include <stdlib.h>

typedef union {
    size_t size;
    max_align_t align;
} heap_block;

static void *glue_calloc(size_t count, size_t size)
{
    if (count != 0 && size > (SIZE_MAX - sizeof(heap_block)) / count)
        return NULL;
    size_t bytes = count * size;
    heap_block *b = calloc(1, sizeof(heap_block) + bytes);
    if (b == NULL)
        return NULL;
    b->size = bytes;
    mtc_tls_heap_note_alloc(bytes);
    return b + 1;
}

static void glue_free(void *p)
{
    if (p == NULL)
        return;
    heap_block *b = (heap_block *)p - 1;
    mtc_tls_heap_note_free(b->size);
    free(b);
}

static void install_allocator(void)
{
    if (!heap.counted) {
        mbedtls_platform_set_calloc_free(glue_calloc, glue_free);
        heap.counted = true;
    }
}
#else
static void install_allocator(void)
{
    /* Counting, if any, is done by the platform (mtc_tls_heap_note_*). */
}
#endif

/* ---- helpers ------------------------------------------------------------ */

/* Appends text to out (NUL-terminated, never overflows). */
static void append(char *out, size_t size, const char *text)
{
    size_t used = 0;
    while (used < size && out[used] != '\0')
        used++;
    while (*text != '\0' && used + 1 < size)
        out[used++] = *text++;
    if (used < size)
        out[used] = '\0';
}

static void describe_error(int ret, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    char code[16];
    snprintf(code, sizeof code, "-0x%04x", (unsigned)-ret);
#if defined(MBEDTLS_ERROR_C)
    char text[128];
    mbedtls_strerror(ret, text, sizeof text);
    append(out, size, text);
    append(out, size, " (");
    append(out, size, code);
    append(out, size, ")");
#else
    append(out, size, "mbedTLS error ");
    append(out, size, code);
#endif
}

/* mbedtls_x509_crt_verify_info writes one line per problem; join them. */
static void describe_verify_flags(uint32_t flags, char *out, size_t size)
{
    char info[MTC_TLS_ERROR_TEXT_SIZE];
    int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    if (n < 0) {
        snprintf(out, size, "certificate verify failed (flags 0x%08x)", (unsigned)flags);
        return;
    }
    size_t len = strlen(info);
    while (len > 0 && (info[len - 1] == '\n' || info[len - 1] == ' '))
        info[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (info[i] == '\n')
            info[i] = ';';
    if (size == 0)
        return;
    out[0] = '\0';
    append(out, size, "certificate verify failed: ");
    append(out, size, info);
}

static int max_frag_code(uint16_t len, bool *ok)
{
    *ok = true;
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    switch (len) {
    case 512: return MBEDTLS_SSL_MAX_FRAG_LEN_512;
    case 1024: return MBEDTLS_SSL_MAX_FRAG_LEN_1024;
    case 2048: return MBEDTLS_SSL_MAX_FRAG_LEN_2048;
    case 4096: return MBEDTLS_SSL_MAX_FRAG_LEN_4096;
    default: break;
    }
#else
    (void)len;
#endif
    *ok = false;
    return 0;
}

/* ---- configuration -------------------------------------------------------- */

static int parse_key(mtc_tls_config *cfg, const mtc_tls_options *opt)
{
    if (opt->client_key_pem != NULL) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        return mbedtls_pk_parse_key(&cfg->own_key, opt->client_key_pem, opt->client_key_pem_len,
                                    NULL, 0, mbedtls_ctr_drbg_random, &cfg->drbg);
#else
        return mbedtls_pk_parse_key(&cfg->own_key, opt->client_key_pem, opt->client_key_pem_len,
                                    NULL, 0);
#endif
    }
#if defined(MBEDTLS_FS_IO)
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_parse_keyfile(&cfg->own_key, opt->client_key_file, NULL,
                                    mbedtls_ctr_drbg_random, &cfg->drbg);
#else
    return mbedtls_pk_parse_keyfile(&cfg->own_key, opt->client_key_file, NULL);
#endif
#else
    return MBEDTLS_ERR_PK_FILE_IO_ERROR;
#endif
}

/* Client certificate + key, when given. Needs the RNG (3.x key parsing). */
static bool load_own_cert(mtc_tls_config *cfg, const mtc_tls_options *opt, char *err,
                          size_t err_size)
{
    bool have_cert = opt->client_cert_pem != NULL ||
                     (opt->client_cert_file != NULL && opt->client_cert_file[0] != '\0');
    bool have_key = opt->client_key_pem != NULL ||
                    (opt->client_key_file != NULL && opt->client_key_file[0] != '\0');
    if (!have_cert && !have_key)
        return true;
    if (have_cert != have_key) {
        snprintf(err, err_size, "a client certificate needs its key, and a key its certificate");
        return false;
    }
    int ret;
    if (opt->client_cert_pem != NULL) {
        ret = mbedtls_x509_crt_parse(&cfg->own_cert, opt->client_cert_pem,
                                     opt->client_cert_pem_len);
    } else {
#if defined(MBEDTLS_FS_IO)
        ret = mbedtls_x509_crt_parse_file(&cfg->own_cert, opt->client_cert_file);
#else
        ret = MBEDTLS_ERR_X509_FILE_IO_ERROR;
#endif
    }
    char why[160];
    if (ret != 0) {
        describe_error(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT, why, sizeof why);
        snprintf(err, err_size, "client certificate: %s", why);
        return false;
    }
    ret = parse_key(cfg, opt);
    if (ret == 0) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        ret = mbedtls_pk_check_pair(&cfg->own_cert.pk, &cfg->own_key, mbedtls_ctr_drbg_random,
                                    &cfg->drbg);
#else
        ret = mbedtls_pk_check_pair(&cfg->own_cert.pk, &cfg->own_key);
#endif
        if (ret != 0) {
            snprintf(err, err_size, "client key does not match the client certificate");
            return false;
        }
        ret = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->own_cert, &cfg->own_key);
    }
    if (ret != 0) {
        describe_error(ret, why, sizeof why);
        snprintf(err, err_size, "client key: %s", why);
        return false;
    }
    return true;
}

static bool config_setup(mtc_tls_config *cfg, const mtc_tls_options *opt, char *err,
                         size_t err_size)
{
    int ret;
#if defined(MTC_TLS_NEEDS_PSA_INIT)
    if (psa_crypto_init() != PSA_SUCCESS) {
        snprintf(err, err_size, "PSA crypto init failed");
        return false;
    }
#endif
    if (opt->ca_pem != NULL) {
        ret = mbedtls_x509_crt_parse(&cfg->ca, opt->ca_pem, opt->ca_pem_len);
    } else if (opt->ca_file != NULL && opt->ca_file[0] != '\0') {
#if defined(MBEDTLS_FS_IO)
        ret = mbedtls_x509_crt_parse_file(&cfg->ca, opt->ca_file);
#else
        snprintf(err, err_size, "no file system: give the CA as PEM");
        return false;
#endif
    } else {
        snprintf(err, err_size, "no CA given");
        return false;
    }
    /* A bundle may hold a few certificates mbedTLS cannot parse (ret > 0):
     * fine as long as at least one was loaded. */
    if (ret < 0 || cfg->ca.raw.p == NULL) {
        char why[160];
        describe_error(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT, why, sizeof why);
        snprintf(err, err_size, "CA %s: %s", opt->ca_pem != NULL ? "buffer" : opt->ca_file,
                 why);
        return false;
    }

    static const unsigned char personal[] = "mqtt-tiny-controller";
    ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy, personal,
                                sizeof personal - 1);
    if (ret != 0) {
        char why[160];
        describe_error(ret, why, sizeof why);
        snprintf(err, err_size, "RNG seed: %s", why);
        return false;
    }

    ret = mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        char why[160];
        describe_error(ret, why, sizeof why);
        snprintf(err, err_size, "TLS config: %s", why);
        return false;
    }
    mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    /* 3.x speaks TLS 1.2 and later only; 2.28 may still offer 1.0/1.1. */
    mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    if (!load_own_cert(cfg, opt, err, err_size))
        return false;
    if (opt->max_fragment_len != 0) {
        bool ok;
        int code = max_frag_code(opt->max_fragment_len, &ok);
        if (!ok) {
            snprintf(err, err_size, "max fragment length %u not supported by this build",
                     (unsigned)opt->max_fragment_len);
            return false;
        }
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
        /* mbedTLS 3.x's TLS 1.3 client offers the extension but rejects the
         * server's answer (seen with 3.6.6 against OpenSSL): stay on 1.2. */
        mbedtls_ssl_conf_max_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
        ret = mbedtls_ssl_conf_max_frag_len(&cfg->conf, (unsigned char)code);
        if (ret != 0) {
            snprintf(err, err_size, "max fragment length %u refused",
                     (unsigned)opt->max_fragment_len);
            return false;
        }
#else
        (void)code;
#endif
    }
    return true;
}

bool mtc_tls_config_init(mtc_tls_config *cfg, const mtc_tls_options *opt, char *err,
                         size_t err_size)
{
    if (err_size > 0)
        err[0] = '\0';
    memset(cfg, 0, sizeof *cfg);
    if (opt == NULL) {
        snprintf(err, err_size, "no TLS options");
        return false;
    }
    HEAP_SCOPE_ENTER();
    install_allocator();
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->own_cert);
    mbedtls_pk_init(&cfg->own_key);
    cfg->ready = true;
    bool ok = config_setup(cfg, opt, err, err_size);
    HEAP_SCOPE_LEAVE();
    if (!ok)
        mtc_tls_config_free(cfg);
    return ok;
}

void mtc_tls_config_free(mtc_tls_config *cfg)
{
    if (!cfg->ready)
        return;
    HEAP_SCOPE_ENTER();
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_pk_free(&cfg->own_key);
    mbedtls_x509_crt_free(&cfg->own_cert);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    mbedtls_x509_crt_free(&cfg->ca);
#if defined(MTC_TLS_NEEDS_PSA_INIT)
    mbedtls_psa_crypto_free();
#endif
    HEAP_SCOPE_LEAVE();
    cfg->ready = false;
}

/* ---- session -------------------------------------------------------------- */

bool mtc_tls_session_open(mtc_tls_session *s, mtc_tls_config *cfg, const char *hostname,
                          mtc_tls_send_fn send_fn, mtc_tls_recv_fn recv_fn, void *io_ctx)
{
    memset(s, 0, sizeof *s);
    if (!cfg->ready || hostname == NULL || hostname[0] == '\0') {
        snprintf(s->error, sizeof s->error, "TLS needs a configuration and a host name");
        return false;
    }
    HEAP_SCOPE_ENTER();
    mbedtls_ssl_init(&s->ssl);
    s->open = true;
    int ret = mbedtls_ssl_setup(&s->ssl, &cfg->conf);
    if (ret == 0)
        ret = mbedtls_ssl_set_hostname(&s->ssl, hostname);
    HEAP_SCOPE_LEAVE();
    if (ret != 0) {
        char why[160];
        describe_error(ret, why, sizeof why);
        snprintf(s->error, sizeof s->error, "TLS setup: %s", why);
        mtc_tls_session_free(s);
        return false;
    }
    mbedtls_ssl_set_bio(&s->ssl, io_ctx, send_fn, recv_fn, NULL);
    return true;
}

static mtc_tls_result session_failure(mtc_tls_session *s, int ret, const char *during)
{
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        s->verify_failed = true;
        describe_verify_flags(mbedtls_ssl_get_verify_result(&s->ssl), s->error,
                              sizeof s->error);
        return MTC_TLS_FAILED;
    }
    if (ret == MTC_TLS_IO_FAILED) {
        snprintf(s->error, sizeof s->error, "transport failed during %s", during);
        return MTC_TLS_FAILED;
    }
    char why[160];
    describe_error(ret, why, sizeof why);
    snprintf(s->error, sizeof s->error, "%s: %s", during, why);
    return MTC_TLS_FAILED;
}

mtc_tls_result mtc_tls_handshake(mtc_tls_session *s)
{
    if (!s->open)
        return MTC_TLS_FAILED;
    if (s->handshake_done)
        return MTC_TLS_OK;
    HEAP_SCOPE_ENTER();
    int ret = mbedtls_ssl_handshake(&s->ssl);
    HEAP_SCOPE_LEAVE();
    if (ret == 0) {
        s->handshake_done = true;
        return MTC_TLS_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return MTC_TLS_WANT_READ;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return MTC_TLS_WANT_WRITE;
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        snprintf(s->error, sizeof s->error, "peer closed the connection during the handshake");
        return MTC_TLS_FAILED;
    }
    return session_failure(s, ret, "TLS handshake");
}

mtc_tls_result mtc_tls_read(mtc_tls_session *s, unsigned char *buf, size_t size, size_t *got)
{
    *got = 0;
    if (!s->open || !s->handshake_done)
        return MTC_TLS_FAILED;
    int ret;
    /* TLS 1.3 session tickets surface as a read result; just read on. */
    for (int tries = 0;; tries++) {
        HEAP_SCOPE_ENTER();
        ret = mbedtls_ssl_read(&s->ssl, buf, size);
        HEAP_SCOPE_LEAVE();
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET && tries < 4)
            continue;
#endif
        (void)tries;
        break;
    }
    if (ret > 0) {
        *got = (size_t)ret;
        return MTC_TLS_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return MTC_TLS_WANT_READ;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return MTC_TLS_WANT_WRITE;
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        snprintf(s->error, sizeof s->error, "peer closed the TLS connection");
        return MTC_TLS_CLOSED;
    }
    return session_failure(s, ret, "TLS read");
}

mtc_tls_result mtc_tls_write(mtc_tls_session *s, const unsigned char *buf, size_t len,
                             size_t *sent)
{
    *sent = 0;
    if (!s->open || !s->handshake_done)
        return MTC_TLS_FAILED;
    /* mbedTLS finishes a pending record first and then reports the length it
     * was given, so repeat exactly the earlier length. */
    size_t n = len;
    if (s->write_pending > 0) {
        if (len < s->write_pending) {
            snprintf(s->error, sizeof s->error, "TLS write retried with fewer bytes");
            return MTC_TLS_FAILED;
        }
        n = s->write_pending;
    }
    if (n == 0)
        return MTC_TLS_OK;
    HEAP_SCOPE_ENTER();
    int ret = mbedtls_ssl_write(&s->ssl, buf, n);
    HEAP_SCOPE_LEAVE();
    if (ret > 0) {
        s->write_pending = 0;
        *sent = (size_t)ret;
        return MTC_TLS_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
        s->write_pending = n;
        return ret == MBEDTLS_ERR_SSL_WANT_WRITE ? MTC_TLS_WANT_WRITE : MTC_TLS_WANT_READ;
    }
    return session_failure(s, ret, "TLS write");
}

size_t mtc_tls_bytes_available(const mtc_tls_session *s)
{
    return s->open ? mbedtls_ssl_get_bytes_avail(&s->ssl) : 0;
}

void mtc_tls_close_notify(mtc_tls_session *s)
{
    if (!s->open || !s->handshake_done)
        return;
    HEAP_SCOPE_ENTER();
    (void)mbedtls_ssl_close_notify(&s->ssl);
    HEAP_SCOPE_LEAVE();
}

void mtc_tls_session_free(mtc_tls_session *s)
{
    if (!s->open)
        return;
    HEAP_SCOPE_ENTER();
    mbedtls_ssl_free(&s->ssl);
    HEAP_SCOPE_LEAVE();
    s->open = false;
    s->handshake_done = false;
    s->write_pending = 0;
}

const char *mtc_tls_error_text(const mtc_tls_session *s)
{
    return s->error;
}
