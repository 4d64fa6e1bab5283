/* transport.h - the seam under the connection layer: how bytes move on a
 * connected socket.  conn.c talks to a server only through this table, so
 * another transport (TLS, next) plugs in here and nowhere else, as hiredis
 * does with its redisContextFuncs.
 *
 * Every operation is non-blocking unless told otherwise (recv's block) and
 * reports errors as -errno; none raises SIGPIPE.  -EPROTO is a failure of
 * the transport's own protocol (TLS); error() then says what it was (it
 * may also explain another -errno, e.g. an EOF in the handshake). */
#ifndef MCF_TRANSPORT_H
#define MCF_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* How close() ends a connection. */
enum {
    MCF_CLOSE_GRACEFUL, /* bytes sent still reach the peer (TLS: close_notify) */
    MCF_CLOSE_ABORT,    /* RST: discard what our kernel still holds for the peer */
    MCF_CLOSE_SILENT    /* send nothing, change nothing: only drop our reference
                           (a socket inherited across fork() is the parent's) */
};

typedef struct mcf_transport {
    const char *name; /* "tcp" (TCP and unix sockets), "TLS" */
    /* 1: recv(block = 1) may wait in the kernel under SO_RCVTIMEO; 0: the
     * caller polls first (a TLS record may need several reads). */
    int recv_blocks;
    /* Continues a handshake after the socket connected: 0 done, or
     * -EAGAIN with *events (POLLIN/POLLOUT) to wait for, or -errno. */
    int (*handshake)(void *ctx, int fd, short *events);
    /* Sends from iov: bytes sent (> 0), -EAGAIN when nothing could be sent
     * now, or -errno. */
    ssize_t (*sendv)(void *ctx, int fd, const struct iovec *iov, int iovcnt);
    /* Reads into buf: bytes (> 0), 0 at EOF, -EAGAIN (nothing now, or
     * SO_RCVTIMEO passed when block), or -errno.  block = 0 never waits. */
    ssize_t (*recv)(void *ctx, int fd, void *buf, size_t len, int block);
    /* Bytes already read from the socket and held by the transport (a TLS
     * record), which poll() cannot see. */
    size_t (*pending)(void *ctx);
    /* 1 when an idle connection is in step: nothing to read, not closed. */
    int (*idle_ok)(void *ctx, int fd);
    /* What the last -EPROTO was, for a message (NULL if nothing to say). */
    const char *(*error)(void *ctx);
    /* Closes fd and frees ctx, as `how` (MCF_CLOSE_*) says. */
    void (*close)(void *ctx, int fd, int how);
} mcf_transport;

/* Plain sockets: TCP and unix. */
extern const mcf_transport mcf_transport_plain;

#endif
