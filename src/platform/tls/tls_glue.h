/*
 * TLS client glue over mbedTLS, portable between the Linux build (sockets)
 * and the Pico W (lwIP). The glue never touches a socket: the platform gives
 * it a send and a receive function (mbedTLS's BIO callbacks) that never block
 * and answer MTC_TLS_IO_WANT_READ / MTC_TLS_IO_WANT_WRITE when they would.
 *
 * Two objects:
 *   mtc_tls_config  - CA chain, RNG and settings; built once, reused by every
 *                     connection (parsing a CA bundle on each reconnect would
 *                     cost heap and time).
 *   mtc_tls_session - one TLS connection; opened per transport connection and
 *                     freed completely when it closes, on every path.
 *
 * Works with mbedTLS 2.28 and 3.x. Single-threaded: all calls for one config
 * and its sessions come from the same thread (the platform's event loop).
 */
#ifndef MTC_TLS_GLUE_H
#define MTC_TLS_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbedtls/version.h"
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include "mbedtls/build_info.h"
#else
#if !defined(MBEDTLS_CONFIG_FILE)
#include "mbedtls/config.h"
#else
#include MBEDTLS_CONFIG_FILE
#endif
#endif

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

/* What the platform's send/recv callbacks return instead of a byte count. */
#define MTC_TLS_IO_WANT_READ MBEDTLS_ERR_SSL_WANT_READ
#define MTC_TLS_IO_WANT_WRITE MBEDTLS_ERR_SSL_WANT_WRITE
/* Any other failure of the underlying transport (reset, unreachable ...). */
#define MTC_TLS_IO_FAILED MBEDTLS_ERR_SSL_INTERNAL_ERROR

/* Room for an error description, e.g. a certificate verify report. */
#define MTC_TLS_ERROR_TEXT_SIZE 256

typedef int (*mtc_tls_send_fn)(void *io_ctx, const unsigned char *buf, size_t len);
typedef int (*mtc_tls_recv_fn)(void *io_ctx, unsigned char *buf, size_t len);

typedef struct {
    /* Trusted CAs, PEM. ca_pem includes its terminating NUL in ca_pem_len
     * (mbedTLS's convention for PEM buffers). If ca_pem is NULL, ca_file is
     * read (hosts with a file system only). One of the two is required. */
    const unsigned char *ca_pem;
    size_t ca_pem_len;
    const char *ca_file;
    /* Optional client certificate and its private key (unencrypted), PEM,
     * as buffers (length includes the NUL) or, if the buffer is NULL, files. */
    const unsigned char *client_cert_pem;
    size_t client_cert_pem_len;
    const unsigned char *client_key_pem;
    size_t client_key_pem_len;
    const char *client_cert_file;
    const char *client_key_file;
    /* Ask the server for smaller records (RFC 6066 max_fragment_length):
     * 0 = no request, else 512, 1024, 2048 or 4096. Ignored (with a note in
     * mtc_tls_config_init's err) when the library lacks the extension. */
    uint16_t max_fragment_len;
} mtc_tls_options;

typedef struct {
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt own_cert;   /* client certificate, if any */
    mbedtls_pk_context own_key;
    bool ready;
} mtc_tls_config;

typedef enum {
    MTC_TLS_OK = 0,          /* done (handshake complete, bytes moved) */
    MTC_TLS_WANT_READ,       /* call again when the transport is readable */
    MTC_TLS_WANT_WRITE,      /* call again when the transport is writable */
    MTC_TLS_CLOSED,          /* peer closed (close_notify or EOF) */
    MTC_TLS_FAILED,          /* error; mtc_tls_error_text() tells which */
} mtc_tls_result;

typedef struct {
    mbedtls_ssl_context ssl;
    bool open;
    bool handshake_done;
    bool verify_failed;      /* the failure was the peer's certificate */
    size_t write_pending;    /* length of a write that returned WANT_WRITE */
    char error[MTC_TLS_ERROR_TEXT_SIZE];
} mtc_tls_session;

/* Parses the CA, seeds the RNG, sets VERIFY_REQUIRED. On failure everything
 * is freed and err says why. */
bool mtc_tls_config_init(mtc_tls_config *cfg, const mtc_tls_options *opt, char *err,
                         size_t err_size);
void mtc_tls_config_free(mtc_tls_config *cfg);

/* Prepares one connection: hostname for SNI and certificate name check
 * (required), and the I/O callbacks. On failure the session is freed. */
bool mtc_tls_session_open(mtc_tls_session *s, mtc_tls_config *cfg, const char *hostname,
                          mtc_tls_send_fn send_fn, mtc_tls_recv_fn recv_fn, void *io_ctx);
/* One non-blocking handshake step: OK when complete. */
mtc_tls_result mtc_tls_handshake(mtc_tls_session *s);
/* Reads decrypted bytes: OK with *got > 0, or WANT_READ, CLOSED, FAILED. */
mtc_tls_result mtc_tls_read(mtc_tls_session *s, unsigned char *buf, size_t size, size_t *got);
/* Writes up to len bytes as one or more records: OK with *sent > 0 (may be
 * fewer than len), or WANT_WRITE / FAILED. After WANT_WRITE, call again with
 * the same bytes (at least as many as before). */
mtc_tls_result mtc_tls_write(mtc_tls_session *s, const unsigned char *buf, size_t len,
                             size_t *sent);
/* Decrypted bytes waiting inside mbedTLS (read them before sleeping). */
size_t mtc_tls_bytes_available(const mtc_tls_session *s);
/* Best effort close_notify (one try, never waits). */
void mtc_tls_close_notify(mtc_tls_session *s);
/* Frees everything the session holds; safe to call twice. */
void mtc_tls_session_free(mtc_tls_session *s);
/* Why the last call failed, e.g. "certificate verify failed: ...". */
const char *mtc_tls_error_text(const mtc_tls_session *s);

/* Heap used by mbedTLS, counted by the glue's allocator hook where the
 * library allows one (MBEDTLS_PLATFORM_MEMORY without fixed macros), or by
 * a platform counter that reports through mtc_tls_heap_note_*(). */
typedef struct {
    size_t in_use;
    size_t peak;
    bool counted;            /* false: no counter available in this build */
} mtc_tls_heap_usage;

mtc_tls_heap_usage mtc_tls_heap_get(void);
/* Restarts the peak at the current use (for measuring one connection). */
void mtc_tls_heap_reset_peak(void);
/* For a platform-level counter: true while the calling thread is inside a
 * glue call (so allocations seen now belong to mbedTLS). */
bool mtc_tls_heap_in_scope(void);
void mtc_tls_heap_note_alloc(size_t bytes);
void mtc_tls_heap_note_free(size_t bytes);
void mtc_tls_heap_set_counted(void);

#endif
