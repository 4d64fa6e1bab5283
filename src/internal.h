/* internal.h - the client and server objects every library file shares,
 * and the connection (conn.c), compression (compress.c) and error message
 * (error.c) functions below the call machinery (call.h).  Not installed. */
#ifndef MCF_INTERNAL_H
#define MCF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include "addr.h"
#include "connect.h"
#include "counters.h"
#include "resolve.h"
#include "dist.h"
#include "health.h"
#include "mcfast.h"
#include "spec.h"

/* Room for why a down server's last probe failed (mcf_server.down_why). */
#define MCF_DOWN_WHY_MAX 256

/* One piece of an outgoing request: bytes in the server's write buffer
 * (by offset, since the buffer may grow), or elsewhere (a large value in
 * caller memory, or compressed, sent without a copy). */
enum { SEG_WBUF, SEG_EXTERNAL };
/* mcf_seg.store, kept on TLS connections only (conn.c's record cutting):
 * lines (may be cut after any line), or a piece of a storage request, the
 * last one ending it (a record must not continue past such an end). */
enum { SEG_LINES, SEG_STORE, SEG_STORE_END };
typedef struct mcf_seg {
    int kind;
    int store; /* SEG_LINES, SEG_STORE, SEG_STORE_END */
    size_t off;
    const char *ptr;
    size_t len;
} mcf_seg;

struct mcf_slice;
typedef struct mcf_discovery mcf_discovery;

/* Looking a live connection's name up again (refresh.c,
 * MCF_OPT_DNS_TTL_MS). */
typedef struct mcf_dns_refresh {
    int ttl_s;           /* the TTL of the answer this connection was made from */
    int pending;         /* q is being resolved */
    int stale;           /* the connected address is no longer an answer */
    int64_t check_at_us; /* when to ask again; 0 to be scheduled, INT64_MAX never */
    int64_t started_us;  /* when q was started (its deadline counts from here) */
    uint64_t re_resolved; /* stale connections closed for a new address */
    mcf_lookup q;
} mcf_dns_refresh;

typedef struct mcf_server {
    struct mcf_client *client;
    mcf_spec spec;
    int fd; /* -1 when not connected */
    int connecting; /* 0, CONNECTING_RESOLVE, CONNECTING_SOCKET (in hev) or CONNECTING_HANDSHAKE */
    int64_t connect_t0_us; /* when this connect began: its deadline counts from here */
    mcf_lookup lookup;     /* the name's resolution (resolve.h) */
    mcf_hev hev;
    short hs_events; /* the handshake waits for these on fd */
    const struct mcf_transport *tr; /* how bytes move on fd (transport.h) */
    void *tr_ctx;
    int tls_on;          /* the connection on fd is TLS (tr_ctx is tls.h's) */
    void *tls_session;   /* the last TLS session, to resume on reconnect (tls.h) */
    int tls_offered;     /* this connection's handshake offered tls_session */
    char address[MCF_ADDRSTR_MAX];
    int family;
    double connect_ms;

    /* Read buffer: unread bytes are rbuf[rpos..rlen). */
    char *rbuf;
    size_t rcap, rlen, rpos;
    size_t held_off; /* SIZE_MAX, or a value that must survive compaction */

    /* Request being sent. */
    char *wbuf;
    size_t wcap, wlen;
    mcf_seg *segs;
    size_t nsegs, segcap, seg_i, seg_done;

    /* Requests on this connection, oldest first (call.h): replies go to
     * head; build_next is the first not built yet (NULL: all built). */
    struct mcf_slice *head, *tail, *build_next;
    uint64_t wqueued, wsent; /* request bytes appended, and written, on this server */
    int noreply_dirty; /* noreply commands sent since the last reply */
    int build_blocked; /* async: the next build waits for the version (probe.c) */
    int64_t wake_us;   /* async: when to step this server anyway */

    size_t need;       /* bytes the reply being parsed needs in total, if known */
    uint64_t rx_bytes; /* bytes received on this connection */
    int64_t last_used_us; /* when the last call on this connection ended */
    int proto;            /* this connection's protocol: 0 not known yet, PROTO_* */
    /* The server's version, asked once per connection when needed:
     * version_known 0 not asked, 1 parsed into version, -1 not parsable. */
    int version_known;
    uint32_t version; /* MCF_META_VERSION(...) */
    char version_str[32];
    int probing;          /* 0, PROBING_PROTOCOL or PROBING_VERSION (probe.c) */
    /* MCF_PROTO_AUTO through a peer that closes the connection on "mn"
     * with nothing answered (twemproxy does): META_REFUSED_ONCE while a new
     * connection asks "version" alone, META_REFUSED_TEXT once that answered
     * (text from then on, without probing).  Kept across connections. */
    int meta_refused;
    int64_t probe_deadline_us;
    int rcvtimeo_ms;      /* SO_RCVTIMEO now set on fd */
    int rcvlowat;         /* SO_RCVLOWAT now set on fd (poll honours it: 1 before polling) */

    /* Whether it is used (health.h), and the probe that heals it (heal.c):
     * healing set while that probe's connection is being made or asked. */
    mcf_health health;
    int healing;
    char down_why[MCF_DOWN_WHY_MAX]; /* why the last probe failed, "" none */
    int failover_told; /* MCF_EVENT_FAILOVER was told for this down period */
    int ever_connected; /* a connection was opened before (MCF_EVENT_RECONNECT) */

    mcf_counters ctr; /* what was done with it (counters.h) */

    mcf_dns_refresh dns; /* last: not on the hot path */
} mcf_server;

struct mcf_client {
    mcf_server *servers;
    size_t nservers;
    mcf_resolver *resolver; /* made on the first connect */
    struct mcf_tls *tls;    /* TLS context: mcf_set_tls, or made on the first TLS connect */
    /* The process that opened the connections (0: none opened since the
     * last fork check): after fork() they are the parent's. */
    pid_t pid;
    mcf_dist dist;
    int dist_dirty;

    /* options */
    int connect_timeout_ms, attempt_delay_ms, io_timeout_ms, keepalive;
    int distribution;
    int hash; /* mcf_hash */
    unsigned ketama_points;
    int hash_namespace, noreply_default, failover;
    size_t max_value_size, max_inflate_size;
    int64_t compress_threshold;
    int compress_ratio;
    int protocol; /* mcf_protocol */
    unsigned max_failures;
    int failure_timeout_s;
    unsigned failure_limit;
    int retry_ms, retry_max_ms, flap_ms;
    int dns_ttl_ms; /* MCF_OPT_DNS_TTL_MS */
    /* When refresh.c's tick must run next (mcf_refresh_tick); 0: at the
     * next call (a connection was made, a lookup is pending). */
    int64_t dns_next_us;
    mcf_health_policy health_policy; /* from the five options above */
    size_t unhealthy;                /* servers not MCF_HEALTH_UP */
    mcf_event_cb on_event;           /* mcf_set_event_callback */
    void *event_ctx;

    char ns[MCF_MAX_KEY_LEN + 1];
    size_t ns_len;

    char err[2048];
    int err_rc;

    /* The blocking calls' per-item arrays (call.h), grown on demand and
     * reused: no allocation per key. */
    uint32_t *srv_of;
    size_t *order;
    size_t *zoff; /* compressed value offset in zbuf per item, SIZE_MAX if none */
    size_t *zlen;
    unsigned char *answered; /* per item: its result was handed out */
    const char **kptr;       /* per item: the key, resolved once when routed (route.c) */
    size_t *klen;
    size_t scratch_cap;
    struct mcf_slice *sync_slices; /* one per server */
    char *zbuf; /* compression output of the call being routed */
    size_t zcap, zused;
    char *ibuf; /* decompressed value handed to the caller */
    size_t icap;
    struct pollfd *pfds; /* MCF_MAX_ADDRS per server, for the event loop */
    mcf_server **pmap;

    struct mcf_async *async; /* async.c's state, made on the first async request */
    size_t inflight;         /* async requests not completed */
    /* Called before the library closes one of its sockets (async.c: the
     * loop must stop watching it first).  NULL when nothing watches. */
    void (*fd_closing)(struct mcf_client *c, int fd);
    int err_overwrite; /* async dispatch: each error replaces the last */
    /* The clock read when bytes last arrived (mcf_engine_take): the time
     * the requests those bytes complete were answered (counters.h). */
    int64_t rx_us;
    int latency; /* MCF_OPT_LATENCY: rx_us is read and latencies recorded */
    mcf_discovery *disc; /* discovery.c's poller, NULL when off */
    /* A server outside c->servers whose connection is the client's too
     * (discovery.c's endpoint): closed with them after fork(). */
    mcf_server *side_server;
};

/* A rare path kept out of line, so the hot one around it stays small;
 * MCF_OUT_OF_LINE for a path hot for one driver and not the other;
 * MCF_HOT_INLINE for a per-key step inlined into each of its loops. */
#if defined(__GNUC__)
#define MCF_COLD __attribute__((cold, noinline))
#define MCF_OUT_OF_LINE __attribute__((noinline))
#define MCF_HOT_INLINE inline __attribute__((always_inline))
#else
#define MCF_COLD
#define MCF_OUT_OF_LINE
#define MCF_HOT_INLINE inline
#endif

/* mcf_server.connecting */
enum { CONNECTING_RESOLVE = 1, CONNECTING_SOCKET = 2, CONNECTING_HANDSHAKE = 3 };

/* mcf_server.probing */
enum { PROBING_PROTOCOL = 1, PROBING_VERSION = 2 };
/* mcf_server.meta_refused */
enum { META_REFUSED_ONCE = 1, META_REFUSED_TEXT = 2 };

/* mcf_server.proto */
enum { PROTO_UNKNOWN = 0, PROTO_IS_TEXT = 1, PROTO_IS_META = 2 };

/* ---- conn.c: a server's connection and buffers ---- */
/* Opening a connection without blocking: start, then step whenever a
 * socket from the pollset is ready or its wake time has come.  Each returns
 * MCF_IN_PROGRESS, MCF_OK (s->fd is connected) or an error (message set). */
int mcf_conn_open_start(mcf_client *c, mcf_server *s, int64_t now_us);
int mcf_conn_open_step(mcf_client *c, mcf_server *s, int64_t now_us);
size_t mcf_conn_open_pollset(const mcf_client *c, const mcf_server *s, struct pollfd *out,
                             size_t cap, int64_t *wake_us);
void mcf_conn_open_abort(mcf_client *c, mcf_server *s);
/* The same, blocking until connected or failed. */
int mcf_conn_open(mcf_client *c, mcf_server *s);
/* The client's resolver, made on first use (its sockets' closing is told
 * to c->fd_closing).  NULL on ENOMEM. */
mcf_resolver *mcf_conn_resolver(mcf_client *c);
/* 1 when s is reached over TLS: a tls: spec, or TLS for all servers. */
int mcf_conn_wants_tls(const mcf_client *c, const mcf_server *s);
/* Closes gracefully: bytes already sent still reach the server. */
void mcf_conn_close(mcf_server *s);
/* Closes abortively (RST, SO_LINGER 0): request bytes still queued in our
 * kernel are discarded, so a request the call gave up on is not delivered
 * later.  Bytes the server's kernel already has may still be executed. */
void mcf_conn_abort(mcf_server *s);
/* Run first by every public call that may touch a socket.  In a child
 * after fork() (the pid differs from the one that opened them), closes
 * every connection inherited from the parent without sending a byte on it
 * or changing it (both would reach the parent's socket); they reopen on
 * demand.  Otherwise nothing. */
void mcf_conn_check_fork(mcf_client *c);
/* 1 when the client's connections (if any) belong to this process. */
int mcf_conn_owned(const mcf_client *c);
void mcf_conn_free(mcf_client *c, mcf_server *s);
/* Empties the write buffer (everything in it was written, or is dropped).
 * Inline: once per request built. */
static inline void mcf_conn_reset_request(mcf_server *s)
{
    s->wlen = 0;
    s->nsegs = 0;
    s->seg_i = 0;
    s->seg_done = 0;
}
/* Where the next request begins in s's write buffer (emptied first when
 * everything in it was written), to roll a failed build back to. */
typedef struct mcf_wmark {
    size_t wlen, nsegs;
    uint64_t wqueued;
} mcf_wmark;
static inline mcf_wmark mcf_conn_wmark(mcf_server *s)
{
    if (s->seg_i == s->nsegs)
        mcf_conn_reset_request(s);
    return (mcf_wmark){s->wlen, s->nsegs, s->wqueued};
}
static inline void mcf_conn_wrollback(mcf_server *s, mcf_wmark m)
{
    s->wlen = m.wlen;
    s->nsegs = m.nsegs;
    s->wqueued = m.wqueued;
}
int mcf_conn_wreserve(mcf_server *s, size_t n); /* room for n more wbuf bytes */
int mcf_conn_seg_reserve(mcf_server *s, size_t n);
void mcf_conn_add_seg(mcf_server *s, int kind, size_t off, const char *ptr, size_t len);
/* A piece of a storage request on a TLS connection (never merged): `ends`
 * on its last piece.  See mcf_conn_send. */
void mcf_conn_add_store_seg(mcf_server *s, int kind, size_t off, const char *ptr, size_t len,
                            int ends);
/* Sends what it can: 1 all sent, 0 would block, -errno on error. */
int mcf_conn_send(mcf_server *s);
/* Reads what is there, making room for `need` unread bytes in total first:
 * > 0 bytes read, 0 peer closed, -EAGAIN nothing now (or SO_RCVTIMEO passed
 * when blocking), other -errno error, -ENOMEM when room cannot be made.
 * Sockets are blocking; block = 0 adds MSG_DONTWAIT. */
ssize_t mcf_conn_recv(mcf_server *s, size_t need, int block);
/* Sets SO_RCVTIMEO for a blocking recv that must end by the deadline. */
int mcf_conn_set_rcvtimeo(mcf_server *s, int ms);
/* Sets SO_RCVLOWAT if it differs from what is set. */
int mcf_conn_set_lowat(mcf_server *s, int bytes);
/* The code and the words for a send or recv that failed with e (-errno):
 * MCF_ERR_TLS and the transport's reason, MCF_ERR_NOMEM or MCF_ERR_IO. */
int mcf_conn_failure(const mcf_server *s, long e, const char **why);
/* For a message about a failed plaintext connection: a hint when it looks
 * like a TLS port (nothing ever came back, or a TLS record did), else "". */
const char *mcf_conn_tls_hint(const mcf_server *s);
/* 1 if an idle connection is still in step: nothing unread, not closed. */
int mcf_conn_idle_ok(mcf_server *s);
/* Counts a failure of s (health.h; it may mark s down), or an answer from
 * it (a failure count or a down state ends). */
void mcf_conn_record_failure(mcf_client *c, mcf_server *s);
/* Tells the event callback (mcf_set_event_callback), if any. */
void mcf_conn_event(mcf_client *c, const mcf_server *s, mcf_event e);
void mcf_conn_record_answer(mcf_client *c, mcf_server *s);
/* Whether a call skips s now: down with its wait not over, or being
 * probed.  A server whose wait is over is still skipped here: its probe is
 * started by heal.c (mcf_heal_tick). */
int mcf_conn_check_down(mcf_client *c, mcf_server *s, int64_t now_us);
static inline int mcf_conn_is_down(mcf_client *c, mcf_server *s, int64_t now_us)
{
    return s->health.state != MCF_HEALTH_UP && mcf_conn_check_down(c, s, now_us);
}
/* Sends all of buf by deadline_us (waiting in poll when the socket is
 * full): 0, -ETIMEDOUT, or -errno. */
int mcf_conn_send_bytes(mcf_server *s, const char *buf, size_t len, int64_t deadline_us);
/* Waits for any outstanding noreply commands to be processed. */
void mcf_conn_sync(mcf_client *c, mcf_server *s);

/* ---- compress.c ---- */
/* Compresses src into c->zbuf (appending); returns 1 and the offset/length
 * when the result is small enough to keep, 0 when not worth it, <0 error. */
int mcf_compress(mcf_client *c, const void *src, size_t len, size_t *off, size_t *out_len);
/* Inflates a zlib stream into c->ibuf; MCF_OK, MCF_ERR_COMPRESS or MCF_ERR_TOO_LARGE. */
int mcf_inflate(mcf_client *c, const char *src, size_t len, const char **out, size_t *out_len);

/* Records the first error of a call: sets the message only if none is set
 * since the call began (mcf_engine_begin clears it).  Returns rc. */
int mcf_note_error(mcf_client *c, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A step beside the caller's traffic (heal.c's probe, discovery.c's poll)
 * has messages of its own: the caller's last error is set aside first and
 * put back after (mcf_error_restore); meanwhile each error replaces the
 * last, so c->err holds the step's latest. */
typedef struct mcf_saved_error {
    int rc, overwrite;
    char msg[sizeof ((mcf_client *)0)->err];
} mcf_saved_error;
void mcf_error_aside(mcf_client *c, mcf_saved_error *e);
void mcf_error_restore(mcf_client *c, const mcf_saved_error *e);
int mcf_set_error(mcf_client *c, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
