/* connect.h - opening a connection: Happy Eyeballs v2 (RFC 8305 §5) over the
 * resolved addresses, under one deadline, on non-blocking sockets. */
#ifndef MCF_CONNECT_H
#define MCF_CONNECT_H

#include <poll.h>
#include <stdint.h>

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

/* ---- Happy Eyeballs as a state machine (the model: curl's cf-ip-happy) ----
 * mcf_hev_start() takes the resolved addresses; then whoever owns the event
 * loop calls mcf_hev_step() whenever one of the sockets from
 * mcf_hev_pollset() is ready or its wake time has come (calling it more
 * often is harmless).  Nothing here ever blocks. */

/* mcf_hev_step: still connecting. */
#define MCF_IN_PROGRESS (-1)

typedef struct mcf_hev_attempt {
    int state;
    int fd;
    int cause; /* errno (or a private code) when it failed */
    int64_t start_us;
    int64_t retry_us; /* a unix socket with a full backlog: when to try again */
} mcf_hev_attempt;

typedef struct mcf_hev {
    char label[MCF_SPEC_TEXT_MAX]; /* the spec text, for the message */
    mcf_addrlist addrs;
    mcf_hev_attempt at[MCF_MAX_ADDRS];
    size_t next;       /* attempts started: at[0 .. next) */
    long winner;       /* index of the connected attempt, or -1 */
    int64_t t0_us;     /* when the whole connect began (resolution included) */
    int64_t resolved_us;
    int64_t deadline_us;
    int64_t next_at;   /* when the next attempt may start */
    int delay_ms, keepalive;
    /* Told before an attempt's socket is closed (an event loop may watch
     * it); NULL after mcf_hev_start, set it after. */
    void (*closing)(void *arg, int fd);
    void *closing_arg;
} mcf_hev;

/* t0_us: when the connect began (the deadline counts from there, so time
 * spent resolving is not given again); now_us: the addresses are known. */
void mcf_hev_start(mcf_hev *h, const char *label, const mcf_addrlist *addrs,
                   const mcf_connect_opts *opts, int64_t t0_us, int64_t now_us);
/* Starts the attempts that are due and collects finished ones.  Returns
 * MCF_IN_PROGRESS, or MCF_OK with *out (the fd is the caller's from then
 * on), or MCF_ERR_CONNECT / MCF_ERR_TIMEOUT / MCF_ERR_NOMEM /
 * MCF_ERR_RESOURCE with err naming every address and its cause; every
 * other socket is closed once it returns anything but MCF_IN_PROGRESS. */
int mcf_hev_step(mcf_hev *h, int64_t now_us, mcf_connected *out, char *err, size_t errlen);
/* The sockets to watch (each for POLLOUT), at most cap, and the absolute
 * time by which mcf_hev_step must run again even without an event. */
size_t mcf_hev_pollset(const mcf_hev *h, struct pollfd *out, size_t cap, int64_t *wake_us);
/* Gives up: closes every attempt's socket. */
void mcf_hev_abort(mcf_hev *h);

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
