/* transport_plain.c - the plain-socket transport (TCP and unix sockets):
 * sendmsg/recv with MSG_NOSIGNAL and MSG_DONTWAIT, nothing buffered. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

static int plain_handshake(void *ctx, int fd, short *events)
{
    (void)ctx;
    (void)fd;
    *events = 0;
    return 0; /* nothing beyond the TCP handshake */
}

static ssize_t plain_sendv(void *ctx, int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh;
    (void)ctx;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = (struct iovec *)(uintptr_t)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    for (;;) {
        /* MSG_NOSIGNAL: a closed peer must give EPIPE, never SIGPIPE. */
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t plain_recv(void *ctx, int fd, void *buf, size_t len, int block)
{
    (void)ctx;
    for (;;) {
        ssize_t r = recv(fd, buf, len, block ? 0 : MSG_DONTWAIT);
        if (r >= 0)
            return r;
        /* A blocking caller must recheck its deadline after a signal. */
        if (errno == EINTR && !block)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return -EAGAIN;
        return -errno;
    }
}

static size_t plain_pending(void *ctx)
{
    (void)ctx;
    return 0;
}

static int plain_idle_ok(void *ctx, int fd)
{
    /* Between calls a healthy memcached connection has nothing to read.
     * Bytes waiting mean a late or unsolicited reply that would be taken
     * as the next answer; EOF means the server closed it (restart, idle
     * timeout). */
    char b;
    (void)ctx;
    ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static const char *plain_error(void *ctx)
{
    (void)ctx;
    return NULL;
}

static void plain_close(void *ctx, int fd, int how)
{
    (void)ctx;
    if (how == MCF_CLOSE_ABORT) {
        /* SO_LINGER {1, 0}: close() sends RST and drops unsent bytes. */
        struct linger lg = {1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

const mcf_transport mcf_transport_plain = {
    "tcp",         1,          plain_handshake, plain_sendv, plain_recv,
    plain_pending, plain_idle_ok, plain_error,     plain_close,
};
