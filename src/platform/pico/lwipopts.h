/*
 * lwIP options for the Pico W firmware: NO_SYS (raw/altcp API, everything
 * runs in the main loop through pico_cyw43_arch_lwip_poll), IPv4, DHCP,
 * DNS, TCP through altcp with TLS (mbedTLS), the SNTP and HTTP-client apps.
 * Sized for one MQTT connection, one HTTP request and SNTP at a time.
 */
#ifndef MTC_LWIPOPTS_H
#define MTC_LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 1

/* Memory: lwIP's own heap for pbufs and PCB state. */
#define MEM_LIBC_MALLOC 0
#define MEM_ALIGNMENT 4
#define MEM_SIZE 8000
#define MEMP_NUM_TCP_SEG 32
#define MEMP_NUM_TCP_PCB 4
#define MEMP_NUM_UDP_PCB 4
#define MEMP_NUM_ARP_QUEUE 10
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)
#define PBUF_POOL_SIZE 16

#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_DHCP 1
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define LWIP_DNS 1
#define DNS_TABLE_SIZE 2
#define DNS_MAX_NAME_LENGTH 128
#define LWIP_UDP 1
#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)
#define TCP_SND_QUEUELEN ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_TX_SINGLE_PBUF 1
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_CHKSUM_ALGORITHM 3

/* altcp: one API for plain TCP and TLS. */
#define LWIP_ALTCP 1
#define LWIP_ALTCP_TLS 1
#define LWIP_ALTCP_TLS_MBEDTLS 1
#define ALTCP_MBEDTLS_AUTHMODE MBEDTLS_SSL_VERIFY_REQUIRED

/* SNTP: the servers are given by name (resolved through DNS); the time is
 * handed to our clock module. */
#define SNTP_SERVER_DNS 1
#define SNTP_MAX_SERVERS 2
void mtc_sntp_set_time(unsigned long seconds_since_1970);
#define SNTP_SET_SYSTEM_TIME(sec) mtc_sntp_set_time((unsigned long)(sec))
#define SNTP_UPDATE_DELAY (6 * 60 * 60 * 1000)   /* every 6 hours */

/* HTTP client (public IP). */
#define LWIP_HTTPC_HAVE_FILE_IO 0

#define LWIP_STATS 0
#define LWIP_STATS_DISPLAY 0
#define MEM_STATS 0
#define SYS_STATS 0
#define MEMP_STATS 0
#define LINK_STATS 0
#define LWIP_DEBUG 0

#endif
