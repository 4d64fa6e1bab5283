/* connect.h - opening a connection: Happy Eyeballs v2 (RFC 8305 §5) over the
 * resolved addresses, under one deadline, on non-blocking sockets. */
#ifndef MCF_CONNECT_H
#define MCF_CONNECT_H

#include "addr.h"
#include "spec.h"

typedef struct mcf_connect_opts {
    int timeout_ms;       /* the whole connect, resolution included */
    int attempt_delay_ms; /* RFC 8305 "Connection Attempt Delay"; clamped to >= 10 */
    int keepalive;        /* SO_KEEPALIVE on TCP sockets */
} mcf_connect_opts;

typedef struct mcf_connected {
    int fd;          /* non-blocking, FD_CLOEXEC, TCP_NODELAY (TCP) */
    mcf_addr addr;   /* the address that won */
    double elapsed_ms;
} mcf_connected;

/* Resolves spec (at call time) and connects.  Attempts start in list order:
 * the next one after attempt_delay_ms or at once when one fails; earlier
 * attempts keep running; the first to complete wins and the rest are
 * closed.  Returns 0, or MCF_ERR_RESOLVE / MCF_ERR_CONNECT /
 * MCF_ERR_TIMEOUT / MCF_ERR_NOMEM / MCF_ERR_RESOURCE (EMFILE, ENFILE)
 * with err like
 *   "connect mc-dual:11211: [2001:db8::99]:11211 timed out after 1000 ms;
 *    127.0.0.1:11211 connection refused"
 */
int mcf_connect(const mcf_spec *spec, const mcf_connect_opts *opts, mcf_connected *out,
                char *err, size_t errlen);

/* The same, over an already resolved list (for tests and `mcfast resolve`).
 * `label` is the spec text used in the message. */
int mcf_connect_addrs(const char *label, const mcf_addrlist *addrs,
                      const mcf_connect_opts *opts, mcf_connected *out, char *err,
                      size_t errlen);

#endif
