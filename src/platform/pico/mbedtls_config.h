/*
 * mbedTLS 2.28 configuration for the Pico W firmware: a TLS 1.2 client with
 * certificate verification (RSA and ECDSA chains, e.g. HiveMQ Cloud's),
 * ECDHE key exchange and AES-GCM. Nothing server-side, no TLS 1.0/1.1, no
 * legacy ciphers. The record sizes are the main RAM lever: see
 * docs/footprint.md for the measured peak heap.
 */
#ifndef MTC_MBEDTLS_CONFIG_H
#define MTC_MBEDTLS_CONFIG_H

/* Platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT      /* pico_mbedtls: pico_rand */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
/* Every TLS allocation goes through a counting wrapper (tls_heap.c): the
 * peak is reported in the stats and measured on the host. */
#include <stddef.h>
void *mtc_tls_calloc(size_t count, size_t size);
void mtc_tls_free(void *ptr);
#define MBEDTLS_PLATFORM_CALLOC_MACRO mtc_tls_calloc
#define MBEDTLS_PLATFORM_FREE_MACRO mtc_tls_free
#define MBEDTLS_HAVE_TIME                 /* session start times; no date checks */
#define MBEDTLS_AES_FEWER_TABLES          /* 6 KB less flash/RAM for AES */
#define MBEDTLS_ECP_NIST_OPTIM

/* Record sizes. A peer may send records of up to 16 KB unless it accepts
 * the max_fragment_length extension, so the input buffer keeps the full
 * size by default; our own records are small MQTT packets. */
#ifndef MBEDTLS_SSL_IN_CONTENT_LEN
#if MTC_TLS_SMALL_RECORDS
#define MBEDTLS_SSL_IN_CONTENT_LEN 4096   /* with max_fragment_length 4096 requested */
#else
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#endif
#endif
#ifndef MBEDTLS_SSL_OUT_CONTENT_LEN
#define MBEDTLS_SSL_OUT_CONTENT_LEN 2048
#endif
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH

/* TLS 1.2 client */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_RSA_ENABLED

/* Certificates */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C

/* Public key */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED

/* Symmetric, hashes, randomness */
#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C                    /* still found in old chains */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C                  /* SHA-384 */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

#define MBEDTLS_ERROR_C

#include "mbedtls/check_config.h"

#endif
