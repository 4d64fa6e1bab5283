/* blackhole.h - loopback listeners for connect tests: a plain one, an
 * address nothing listens on, and a "blackhole" whose accept queue is full
 * (listen(fd, 0), filled with connections nobody accepts), so the kernel
 * drops further SYNs and a connect neither succeeds nor fails before its
 * deadline. */
#ifndef MCF_TEST_BLACKHOLE_H
#define MCF_TEST_BLACKHOLE_H

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "test_addrs.h"

#define MAX_FILL 64

/* A TCP listener on ip, port chosen by the kernel; -1 on failure. */
static inline int tcp_listen(const char *ip, int backlog, mcf_addr *out)
{
    mcf_addr a = t_ip_addr(ip, 0);
    int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a.ss, a.len) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a.ss, &a.len) != 0) {
        close(fd);
        return -1;
    }
    *out = a;
    return fd;
}

/* An address nothing listens on: bound, read back, closed. */
static inline int refused_addr(const char *ip, mcf_addr *out)
{
    int fd = tcp_listen(ip, 1, out);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Connects non-blocking fillers to a until one hangs: from then on the
 * accept queue is full and SYNs are dropped.  Returns the filler count,
 * or -1 when the kernel never dropped a SYN (no blackhole possible). */
static inline int fill_tcp(const mcf_addr *a, int *fds)
{
    int k;
    for (k = 0; k < MAX_FILL; k++) {
        struct pollfd p;
        int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        fds[k] = fd;
        if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
            continue;
        if (errno != EINPROGRESS) {
            k++;
            break;
        }
        p.fd = fd;
        p.events = POLLOUT;
        p.revents = 0;
        if (poll(&p, 1, 100) == 0)
            return k + 1; /* this one hangs: the queue is full */
    }
    while (k-- > 0)
        close(fds[k]);
    return -1;
}

typedef struct blackhole {
    int lfd;
    int fill[MAX_FILL];
    int nfill;
    mcf_addr addr;
} blackhole;

static inline int blackhole_open(blackhole *b, const char *ip)
{
    b->lfd = tcp_listen(ip, 0, &b->addr);
    if (b->lfd < 0)
        return -1;
    b->nfill = fill_tcp(&b->addr, b->fill);
    if (b->nfill < 0) {
        close(b->lfd);
        return -1;
    }
    return 0;
}

static inline void blackhole_close(blackhole *b)
{
    while (b->nfill > 0)
        close(b->fill[--b->nfill]);
    if (b->lfd >= 0)
        close(b->lfd);
    b->lfd = -1;
}

#endif
