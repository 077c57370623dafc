/*
 * tun_bridge: joins a TUN device (IPv4 packets, no packet information) and a
 * SLIP byte stream (RFC 1055) on stdin/stdout. emu/run.mjs starts it with
 * --slip-cmd and connects the emulated chip's UART1 to it: what the chip
 * sends arrives on stdin and leaves as packets on the TUN device; packets the
 * host routes to the device go out on stdout as SLIP frames.
 *
 *   cc -O2 -Wall -Wextra -Werror -o tun_bridge emu/tun_bridge.c
 *   tun_bridge IFNAME        (needs CAP_NET_ADMIN, e.g. root in a namespace)
 *
 * The device may already exist (`ip tuntap add dev IFNAME mode tun`, then
 * addresses and `ip link set IFNAME up`); otherwise it is created and lives
 * as long as this process. Ends when stdin closes. Frames that are empty,
 * longer than 2048 bytes or carry a bad escape are dropped and counted on
 * stderr.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SLIP_END 0xC0
#define SLIP_ESC 0xDB
#define SLIP_ESC_END 0xDC
#define SLIP_ESC_ESC 0xDD
#define MAX_PACKET 2048

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int open_tun(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) {
        fprintf(stderr, "tun_bridge: cannot open /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (strlen(name) >= sizeof ifr.ifr_name) {
        fprintf(stderr, "tun_bridge: interface name too long: %s\n", name);
        close(fd);
        return -1;
    }
    memcpy(ifr.ifr_name, name, strlen(name) + 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "tun_bridge: TUNSETIFF %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* One packet from the TUN device, SLIP-framed, to stdout. */
static int send_frame(const unsigned char *pkt, size_t n)
{
    unsigned char out[2 * MAX_PACKET + 2];
    size_t k = 0;
    out[k++] = SLIP_END;   /* flushes any line noise at the receiver */
    for (size_t i = 0; i < n; i++) {
        if (pkt[i] == SLIP_END) {
            out[k++] = SLIP_ESC;
            out[k++] = SLIP_ESC_END;
        } else if (pkt[i] == SLIP_ESC) {
            out[k++] = SLIP_ESC;
            out[k++] = SLIP_ESC_ESC;
        } else {
            out[k++] = pkt[i];
        }
    }
    out[k++] = SLIP_END;
    return write_all(STDOUT_FILENO, out, k);
}

struct decoder {
    unsigned char buf[MAX_PACKET];
    size_t len;
    int escaped;
    int broken;   /* too long or a bad escape: dropped at the next END */
    unsigned long dropped;
};

static void decode(struct decoder *d, int tun, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == SLIP_END) {
            if (d->len > 0 && !d->broken) {
                if (write(tun, d->buf, d->len) < 0)
                    fprintf(stderr, "tun_bridge: write to TUN (%zu bytes): %s\n", d->len, strerror(errno));
            } else if (d->broken) {
                d->dropped++;
                fprintf(stderr, "tun_bridge: dropped a bad frame (%lu so far)\n", d->dropped);
            }
            d->len = 0;
            d->escaped = 0;
            d->broken = 0;
            continue;
        }
        if (d->escaped) {
            d->escaped = 0;
            if (c == SLIP_ESC_END)
                c = SLIP_END;
            else if (c == SLIP_ESC_ESC)
                c = SLIP_ESC;
            else
                d->broken = 1;
        } else if (c == SLIP_ESC) {
            d->escaped = 1;
            continue;
        }
        if (d->len >= sizeof d->buf)
            d->broken = 1;
        else
            d->buf[d->len++] = c;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tun_bridge IFNAME  (SLIP on stdin/stdout)\n");
        return 2;
    }
    int tun = open_tun(argv[1]);
    if (tun < 0)
        return 1;
    fprintf(stderr, "tun_bridge: attached to %s\n", argv[1]);
    static struct decoder dec;
    static unsigned char buf[65536];
    struct pollfd fds[2] = {
        { .fd = STDIN_FILENO, .events = POLLIN },
        { .fd = tun, .events = POLLIN },
    };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("tun_bridge: poll");
            return 1;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
            if (n == 0)
                return 0;   /* the runner is gone */
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                perror("tun_bridge: read stdin");
                return 1;
            }
            if (n > 0)
                decode(&dec, tun, buf, (size_t)n);
        }
        if (fds[1].revents & POLLIN) {
            ssize_t n = read(tun, buf, sizeof buf);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                perror("tun_bridge: read TUN");
                return 1;
            }
            if (n > 0 && (size_t)n <= MAX_PACKET && send_frame(buf, (size_t)n) < 0) {
                perror("tun_bridge: write stdout");
                return 1;
            }
        }
    }
}
