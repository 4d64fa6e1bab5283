/* conn.c - one server's connection: opening it (through connect.c),
 * its read and write buffers, non-blocking send/recv, and its failure
 * accounting.  Knows nothing of commands. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "connect.h"
#include "internal.h"
#include "tls.h"
#include "transport.h"

#define RBUF_MIN 16384
#define RECV_MIN_ROOM 4096
#define IOV_BATCH 64

void mcf_conn_event(mcf_client *c, const mcf_server *s, mcf_event e)
{
    if (c->on_event)
        c->on_event(c->event_ctx, e, (size_t)(s - c->servers));
}

/* The connection on s.fd is up (its transport's handshake, if any, done). */
static int connected(mcf_client *c, mcf_server *s)
{
    s->ctr.connects++;
    if (s->ever_connected) {
        s->ctr.reconnects++;
        mcf_conn_event(c, s, MCF_EVENT_RECONNECT);
    }
    s->ever_connected = 1;
    return MCF_OK;
}

/* One of our sockets (an attempt's, c-ares's) is about to close: whoever
 * watches it hears first. */
static void socket_closing(void *arg, int fd)
{
    mcf_client *c = arg;
    if (c->fd_closing)
        c->fd_closing(c, fd);
}

/* The addresses are known: Happy Eyeballs begins, with what is left of
 * the connect deadline that began at s->connect_t0_us. */
static int begin_attempts(mcf_client *c, mcf_server *s, const mcf_addrlist *addrs,
                          int64_t now_us)
{
    mcf_connect_opts o = {c->connect_timeout_ms, c->attempt_delay_ms, c->keepalive};
    if (s->connecting == CONNECTING_SOCKET) __builtin_trap();
    for (size_t i = 0; i < s->hev.next; i++) if (s->hev.at[i].fd >= 0) __builtin_trap();
    s->connecting = CONNECTING_SOCKET;
    mcf_hev_start(&s->hev, s->spec.text, addrs, &o, s->connect_t0_us, now_us);
    s->hev.closing = socket_closing;
    s->hev.closing_arg = c;
    return mcf_conn_open_step(c, s, now_us);
}

/* The connect deadline counts from here: resolution, every attempt and the
 * transport's handshake. */
mcf_resolver *mcf_conn_resolver(mcf_client *c)
{
    if (!c->resolver && (c->resolver = mcf_resolver_new()))
        mcf_resolver_on_close(c->resolver, socket_closing, c);
    return c->resolver;
}

int mcf_conn_open_start(mcf_client *c, mcf_server *s, int64_t now_us)
{
    s->connect_t0_us = now_us;
    if (!mcf_conn_resolver(c))
        return mcf_set_error(c, MCF_ERR_NOMEM, "connect %s: out of memory", s->spec.text);
    mcf_lookup_start(c->resolver, &s->spec, &s->lookup);
    if (!s->lookup.done) {
        s->connecting = CONNECTING_RESOLVE;
        return MCF_IN_PROGRESS;
    }
    if (s->lookup.rc != MCF_OK)
        return mcf_set_error(c, s->lookup.rc, "%s", s->lookup.err);
    return begin_attempts(c, s, &s->lookup.list, now_us);
}

/* Lets the client's resolver read what its sockets hold (a zero-timeout
 * poll of them, so the loop owner only has to say "something happened"),
 * then sees whether s's lookup is done or out of time. */
static int resolve_step(mcf_client *c, mcf_server *s, int64_t now_us)
{
    /* The resolver is the client's: when several servers resolve, the
     * first one stepped may already have completed the others' lookups. */
    if (!s->lookup.done)
        mcf_resolver_poll_now(c->resolver);
    if (s->lookup.done) {
        s->connecting = 0;
        if (s->lookup.rc != MCF_OK)
            return mcf_set_error(c, s->lookup.rc, "%s", s->lookup.err);
        return begin_attempts(c, s, &s->lookup.list, now_us);
    }
    int64_t deadline = s->connect_t0_us + (int64_t)c->connect_timeout_ms * 1000;
    if (now_us < deadline)
        return MCF_IN_PROGRESS;
    mcf_lookup_cancel(c->resolver, &s->lookup);
    s->connecting = 0;
    return mcf_set_error(c, MCF_ERR_RESOLVE,
                         "resolve %s: DNS server did not answer within %d ms (the connect "
                         "timeout)",
                         s->spec.text, c->connect_timeout_ms);
}

int mcf_conn_wants_tls(const mcf_client *c, const mcf_server *s)
{
    return s->spec.tls || (!s->spec.is_unix && c->tls && mcf_tls_all_servers(c->tls));
}

/* The server's TLS connection over fd, from the client's context (made
 * with the defaults when mcf_set_tls was never called). */
static int start_tls(mcf_client *c, mcf_server *s)
{
    char msg[512];
    int rc = MCF_OK;
    if (!c->tls)
        rc = mcf_tls_new(NULL, &c->tls, msg, sizeof msg);
    if (rc == MCF_OK)
        rc = mcf_tls_connection(c->tls, s->fd, s->spec.host, s->tls_session, &s->tr,
                                &s->tr_ctx, msg, sizeof msg);
    s->tls_offered = s->tls_session != NULL;
    if (rc != MCF_OK) {
        mcf_set_error(c, rc, "connect %s: TLS with %s: %s", s->spec.text, s->address, msg);
        s->tr = &mcf_transport_plain;
        s->tr_ctx = NULL;
        mcf_conn_abort(s);
        return rc;
    }
    s->tls_on = 1;
    return MCF_OK;
}

/* A connected socket becomes the server's connection. */
static int adopt(mcf_client *c, mcf_server *s, const mcf_connected *res)
{
    /* Blocking from now on: a single-server call then waits in recv()
     * under SO_RCVTIMEO (one syscall instead of poll + recv); every
     * multi-server path passes MSG_DONTWAIT. */
    int fl = fcntl(res->fd, F_GETFL);
    if (fl < 0 || fcntl(res->fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(res->fd);
        return mcf_set_error(c, MCF_ERR_IO, "connect %s: fcntl: %s", s->spec.text, strerror(e));
    }
    if (s->fd >= 0) __builtin_trap();
    s->fd = res->fd;
    s->tr = &mcf_transport_plain;
    s->tr_ctx = NULL;
    s->tls_on = 0;
    s->rcvtimeo_ms = 0;
    s->rcvlowat = 1;
    s->family = res->addr.family;
    s->connect_ms = res->elapsed_ms;
    mcf_addr_format(&res->addr, s->address, sizeof s->address);
    s->rlen = s->rpos = 0;
    s->rx_bytes = 0;
    s->noreply_dirty = 0;
    c->pid = getpid();
    /* refresh.c schedules the next look at the name from this answer. */
    s->dns.ttl_s = s->lookup.ttl_s;
    s->dns.stale = 0;
    s->dns.check_at_us = 0;
    c->dns_next_us = 0;
    return mcf_conn_wants_tls(c, s) ? start_tls(c, s) : MCF_OK;
}

static int retry_without_session(mcf_client *c, mcf_server *s);

/* After the socket connected: the transport's handshake, if any. */
static int handshake_step(mcf_client *c, mcf_server *s)
{
    int e = s->tr->handshake(s->tr_ctx, s->fd, &s->hs_events);
    if (e == -EAGAIN) {
        s->connecting = CONNECTING_HANDSHAKE;
        return MCF_IN_PROGRESS;
    }
    s->connecting = 0;
    if (e == 0) {
        if (s->tls_on) /* the connect ends with the handshake */
            s->connect_ms = (double)(mcf_now_us() - s->connect_t0_us) / 1000.0;
        return connected(c, s);
    }
    if (e == -EPROTO && s->tls_offered && mcf_tls_alerted(s->tr_ctx))
        return retry_without_session(c, s);
    const char *why = s->tr->error(s->tr_ctx);
    int rc = e == -EPROTO ? MCF_ERR_TLS : MCF_ERR_CONNECT;
    mcf_set_error(c, rc, "connect %s: %s handshake with %s: %s", s->spec.text, s->tr->name,
                  s->address, why ? why : strerror(-e));
    mcf_conn_abort(s);
    return rc;
}

/* A handshake that offered the server's saved session was refused with an
 * alert: the session
 * is dropped and the connect starts over with a full handshake, under the
 * same deadline.  memcached 1.6.18 with ssl_verify_mode=2 and no
 * ssl_session_cache answers a resumed session with "internal error"; a
 * session the server has forgotten otherwise would fail the same way. */
static MCF_COLD int retry_without_session(mcf_client *c, mcf_server *s)
{
    mcf_tls_session_free(s->tls_session);
    s->tls_session = NULL;
    mcf_conn_abort(s);
    return begin_attempts(c, s, &s->lookup.list, mcf_now_us());
}

int mcf_conn_open_step(mcf_client *c, mcf_server *s, int64_t now_us)
{
    if (s->connecting == CONNECTING_RESOLVE)
        return resolve_step(c, s, now_us);
    if (s->connecting == CONNECTING_HANDSHAKE) {
        if (now_us >= s->hev.deadline_us) {
            mcf_set_error(c, MCF_ERR_TIMEOUT,
                          "connect %s: %s handshake with %s timed out (%d ms connect timeout; "
                          "%s)",
                          s->spec.text, s->tr->name, s->address, c->connect_timeout_ms,
                          s->hs_events & POLLOUT ? "the socket did not take our data"
                                                 : "no answer: not a TLS port?");
            s->connecting = 0;
            mcf_conn_abort(s);
            return MCF_ERR_TIMEOUT;
        }
        return handshake_step(c, s);
    }
    mcf_connected res;
    char msg[sizeof c->err];
    int rc = mcf_hev_step(&s->hev, now_us, &res, msg, sizeof msg);
    if (rc == MCF_IN_PROGRESS)
        return rc;
    s->connecting = 0;
    if (rc != MCF_OK)
        return mcf_set_error(c, rc, "%s", msg);
    rc = adopt(c, s, &res);
    if (rc != MCF_OK)
        return rc;
    return handshake_step(c, s);
}

size_t mcf_conn_open_pollset(const mcf_client *c, const mcf_server *s, struct pollfd *out,
                             size_t cap, int64_t *wake_us)
{
    if (s->connecting == CONNECTING_RESOLVE) {
        int64_t timer, deadline = s->connect_t0_us + (int64_t)c->connect_timeout_ms * 1000;
        size_t n = mcf_resolver_pollset(c->resolver, out, cap, &timer);
        *wake_us = timer < deadline ? timer : deadline;
        return n;
    }
    if (s->connecting == CONNECTING_HANDSHAKE) {
        *wake_us = s->hev.deadline_us;
        if (cap == 0)
            return 0;
        out[0] = (struct pollfd){s->fd, s->hs_events, 0};
        return 1;
    }
    return mcf_hev_pollset(&s->hev, out, cap, wake_us);
}

void mcf_conn_open_abort(mcf_client *c, mcf_server *s)
{
    if (s->connecting == CONNECTING_RESOLVE)
        mcf_lookup_cancel(c->resolver, &s->lookup);
    else if (s->connecting == CONNECTING_HANDSHAKE)
        mcf_conn_abort(s);
    else if (s->connecting)
        mcf_hev_abort(&s->hev);
    s->connecting = 0;
    s->healing = 0;
}

int mcf_conn_open(mcf_client *c, mcf_server *s)
{
    int rc = mcf_conn_open_start(c, s, mcf_now_us());
    while (rc == MCF_IN_PROGRESS) {
        struct pollfd pfd[MCF_MAX_ADDRS];
        int64_t wake;
        size_t n = mcf_conn_open_pollset(c, s, pfd, MCF_MAX_ADDRS, &wake);
        (void)poll(pfd, (nfds_t)n, mcf_ms_left(wake)); /* EINTR: step rechecks the time */
        rc = mcf_conn_open_step(c, s, mcf_now_us());
    }
    return rc;
}

static void close_conn(mcf_server *s, int how)
{
    /* A connect still resolving or racing attempts has sockets of its own
     * (a probe's, between calls: heal.c); one in its handshake is s->fd. */
    if (s->connecting && s->connecting != CONNECTING_HANDSHAKE)
        mcf_conn_open_abort(s->client, s);
    s->connecting = 0;
    if (s->fd >= 0) {
        if (s->client->fd_closing)
            s->client->fd_closing(s->client, s->fd);
        if (s->tls_on) {
            /* Kept for the next connection's abbreviated handshake. */
            void *sess = mcf_tls_session_take(s->tr_ctx);
            if (sess) {
                mcf_tls_session_free(s->tls_session);
                s->tls_session = sess;
            }
        }
        s->tr->close(s->tr_ctx, s->fd, how);
    }
    s->fd = -1;
    s->tr_ctx = NULL;
    s->tls_on = 0;
    s->probing = 0; /* a question on it is over with it (probe.c) */
    s->healing = 0; /* and so is a probe that heals it (heal.c) */
    s->proto = PROTO_UNKNOWN; /* learned again on the next connection */
    s->version_known = 0;     /* an upgrade may come with a restart */
    /* rbuf and held_off stay: a value handed out this call lives there. */
    s->noreply_dirty = 0;
    /* Bytes not written are dropped with the connection. */
    mcf_conn_reset_request(s);
    s->wqueued = s->wsent = 0;
}

void mcf_conn_close(mcf_server *s)
{
    close_conn(s, MCF_CLOSE_GRACEFUL);
}

void mcf_conn_abort(mcf_server *s)
{
    close_conn(s, MCF_CLOSE_ABORT);
}

/* getpid() at each call rather than pthread_atfork(): a fork handler would
 * need a registry of every client (global state) and cannot be removed
 * when the library is unloaded; one getpid() per call is cheap. */
int mcf_conn_owned(const mcf_client *c)
{
    return c->pid == 0 || c->pid == getpid();
}

void mcf_conn_check_fork(mcf_client *c)
{
    if (mcf_conn_owned(c))
        return;
    /* Not mcf_conn_sync() nor mcf_conn_abort(): the socket is the parent's
     * (a byte sent would mix into its stream, SO_LINGER would change how
     * the parent's close ends it, a TLS close_notify would end the
     * parent's session) and never shutdown(), which would end it for both
     * processes.  close() only drops the child's reference. */
    for (size_t i = 0; i < c->nservers; i++)
        close_conn(&c->servers[i], MCF_CLOSE_SILENT);
    if (c->side_server)
        close_conn(c->side_server, MCF_CLOSE_SILENT);
    c->pid = 0;
}

void mcf_conn_free(mcf_client *c, mcf_server *s)
{
    mcf_conn_open_abort(c, s);
    mcf_conn_close(s);
    mcf_tls_session_free(s->tls_session);
    s->tls_session = NULL;
    free(s->rbuf);
    free(s->wbuf);
    free(s->segs);
    s->rbuf = s->wbuf = NULL;
    s->segs = NULL;
    s->rcap = s->wcap = s->segcap = 0;
}

int mcf_conn_wreserve(mcf_server *s, size_t n)
{
    if (s->wlen + n <= s->wcap)
        return 0;
    size_t cap = s->wcap ? s->wcap : 4096;
    while (cap < s->wlen + n)
        cap *= 2;
    char *p = realloc(s->wbuf, cap);
    if (!p)
        return -1;
    s->wbuf = p;
    s->wcap = cap;
    return 0;
}

int mcf_conn_seg_reserve(mcf_server *s, size_t n)
{
    if (s->nsegs + n <= s->segcap)
        return 0;
    size_t cap = s->segcap ? s->segcap : 16;
    while (cap < s->nsegs + n)
        cap *= 2;
    mcf_seg *p = realloc(s->segs, cap * sizeof *p);
    if (!p)
        return -1;
    s->segs = p;
    s->segcap = cap;
    return 0;
}

/* Callers reserve room first (mcf_conn_seg_reserve), so this cannot fail. */
void mcf_conn_add_seg(mcf_server *s, int kind, size_t off, const char *ptr, size_t len)
{
    if (len == 0)
        return;
    s->wqueued += len;
    /* Contiguous bytes of the same buffer extend the last segment. */
    if (s->nsegs) {
        mcf_seg *last = &s->segs[s->nsegs - 1];
        if (kind != SEG_EXTERNAL && last->kind == kind && last->store == SEG_LINES &&
            last->off + last->len == off) {
            last->len += len;
            return;
        }
    }
    s->segs[s->nsegs++] = (mcf_seg){kind, SEG_LINES, off, ptr, len};
}

void mcf_conn_add_store_seg(mcf_server *s, int kind, size_t off, const char *ptr, size_t len,
                            int ends)
{
    s->wqueued += len;
    s->segs[s->nsegs++] = (mcf_seg){kind, ends ? SEG_STORE_END : SEG_STORE, off, ptr, len};
}

static const char *seg_base(const mcf_server *s, const mcf_seg *g)
{
    return g->kind == SEG_WBUF ? s->wbuf + g->off : g->ptr;
}

/* The next bytes to write, as iov: every segment left (up to IOV_BATCH). */
static int gather_plain(const mcf_server *s, struct iovec *iov)
{
    int niov = 0;
    for (size_t i = s->seg_i; i < s->nsegs && niov < IOV_BATCH; i++) {
        const mcf_seg *g = &s->segs[i];
        size_t skip = i == s->seg_i ? s->seg_done : 0;
        iov[niov].iov_base = (void *)(uintptr_t)(seg_base(s, g) + skip);
        iov[niov].iov_len = g->len - skip;
        niov++;
    }
    return niov;
}

/* Over TLS: whole requests, up to one record (MCF_TLS_RECORD_MAX), or one
 * storage request bigger than that by itself.  memcached (1.6) reads a
 * value that did not arrive with its command with an SSL_read of exactly
 * the bytes left; what the record holds after it stays inside OpenSSL,
 * where epoll cannot see it, and memcached waits for the socket: the rest
 * of the pipeline stalls until the client sends more.  So a record never
 * goes on past the end of a storage request that began before it, and no
 * record carries part of a request and then another one: each record
 * memcached reads leaves nothing behind.  Lines (gets, deletes, mn ...)
 * may be cut after any line. */
static int gather_tls(const mcf_server *s, struct iovec *iov)
{
    int niov = 0;
    size_t total = 0;
    for (size_t i = s->seg_i; i < s->nsegs && niov < IOV_BATCH; i++) {
        const mcf_seg *g = &s->segs[i];
        size_t skip = i == s->seg_i ? s->seg_done : 0, len = g->len - skip;
        const char *p = seg_base(s, g) + skip;
        if (g->store != SEG_LINES) {
            /* Its start went in an earlier record: this record ends with it. */
            int begun = i == s->seg_i && (skip > 0 || (i > 0 && s->segs[i - 1].store == SEG_STORE));
            size_t j = i, req = len;
            while (s->segs[j].store != SEG_STORE_END && j + 1 < s->nsegs)
                req += s->segs[++j].len;
            if (total && (total + req > MCF_TLS_RECORD_MAX || niov + (j - i + 1) > IOV_BATCH))
                break;
            for (size_t k = i; k <= j; k++) {
                size_t sk = k == s->seg_i ? s->seg_done : 0;
                iov[niov].iov_base = (void *)(uintptr_t)(seg_base(s, &s->segs[k]) + sk);
                iov[niov].iov_len = s->segs[k].len - sk;
                niov++;
            }
            total += req;
            i = j;
            if (begun || total >= MCF_TLS_RECORD_MAX)
                break;
            continue;
        }
        size_t room = MCF_TLS_RECORD_MAX - total;
        if (len > room) {
            /* Cut after the last whole line that fits; a line longer than a
             * record (a get of very many keys) is cut where it must be. */
            size_t take = room;
            while (take > 0 && p[take - 1] != '\n')
                take--;
            if (take == 0 && total == 0)
                take = room;
            if (take) {
                iov[niov].iov_base = (void *)(uintptr_t)p;
                iov[niov].iov_len = take;
                niov++;
            }
            break;
        }
        iov[niov].iov_base = (void *)(uintptr_t)p;
        iov[niov].iov_len = len;
        niov++;
        total += len;
    }
    return niov;
}

int mcf_conn_send(mcf_server *s)
{
    while (s->seg_i < s->nsegs) {
        struct iovec iov[IOV_BATCH];
        int niov = s->tls_on ? gather_tls(s, iov) : gather_plain(s, iov);
        ssize_t w = s->tr->sendv(s->tr_ctx, s->fd, iov, niov);
        if (w == -EAGAIN)
            return 0;
        if (w < 0)
            return (int)w;
        s->wsent += (uint64_t)w;
        size_t left = (size_t)w;
        while (left && s->seg_i < s->nsegs) {
            size_t rest = s->segs[s->seg_i].len - s->seg_done;
            if (left >= rest) {
                left -= rest;
                s->seg_i++;
                s->seg_done = 0;
            } else {
                s->seg_done += left;
                left = 0;
            }
        }
    }
    return 1;
}

/* Room to read: at least RECV_MIN_ROOM free bytes, and space for `need`
 * bytes counted from rpos (a reply whose size is known).  First by moving
 * unread bytes to the front, then by growing.  A held value (single get)
 * is kept in the buffer and its offset adjusted. */
static int has_room(const mcf_server *s, size_t need)
{
    return s->rcap - s->rlen >= RECV_MIN_ROOM && s->rcap - s->rpos >= need;
}

/* make_room's work when the buffer has too little room, out of line. */
static int grow_room(mcf_server *s, size_t need)
{
    size_t keep = s->rpos;
    if (s->held_off != SIZE_MAX && s->held_off < keep)
        keep = s->held_off;
    if (keep > 0) {
        memmove(s->rbuf, s->rbuf + keep, s->rlen - keep);
        s->rlen -= keep;
        s->rpos -= keep;
        if (s->held_off != SIZE_MAX)
            s->held_off -= keep;
        if (has_room(s, need))
            return 0;
    }
    size_t required = s->rlen + RECV_MIN_ROOM;
    if (s->rpos + need > required)
        required = s->rpos + need;
    size_t cap = s->rcap ? s->rcap : RBUF_MIN;
    while (cap < required)
        cap *= 2;
    char *p = realloc(s->rbuf, cap);
    if (!p)
        return -1;
    s->rbuf = p;
    s->rcap = cap;
    return 0;
}

static inline int make_room(mcf_server *s, size_t need)
{
    return has_room(s, need) ? 0 : grow_room(s, need);
}

int mcf_conn_set_rcvtimeo(mcf_server *s, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
        return -errno;
    s->rcvtimeo_ms = ms;
    return 0;
}

int mcf_conn_set_lowat(mcf_server *s, int bytes)
{
    if (bytes == s->rcvlowat)
        return 0;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) < 0)
        return -errno;
    s->rcvlowat = bytes;
    return 0;
}

ssize_t mcf_conn_recv(mcf_server *s, size_t need, int block)
{
    if (make_room(s, need) < 0)
        return -ENOMEM;
    ssize_t r = s->tr->recv(s->tr_ctx, s->fd, s->rbuf + s->rlen, s->rcap - s->rlen, block);
    if (r <= 0)
        return r;
    s->rlen += (size_t)r;
    s->rx_bytes += (uint64_t)r;
    /* What the transport already holds (the rest of a TLS record) is
     * taken now: poll() cannot see it, so a caller waiting on the socket
     * for it would wait forever.  (Plain sockets hold nothing: no call.) */
    while (s->tls_on && s->tr->pending(s->tr_ctx)) {
        if (make_room(s, need) < 0)
            return -ENOMEM;
        ssize_t more = s->tr->recv(s->tr_ctx, s->fd, s->rbuf + s->rlen, s->rcap - s->rlen, 0);
        if (more <= 0)
            break;
        s->rlen += (size_t)more;
        s->rx_bytes += (uint64_t)more;
        r += more;
    }
    return r;
}

int mcf_conn_failure(const mcf_server *s, long e, const char **why)
{
    const char *tr_why = e == -EPROTO ? s->tr->error(s->tr_ctx) : NULL;
    if (tr_why) {
        *why = tr_why;
        return MCF_ERR_TLS;
    }
    *why = strerror((int)-e);
    return e == -ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_IO;
}

const char *mcf_conn_tls_hint(const mcf_server *s)
{
    if (s->fd < 0 || s->tls_on)
        return "";
    /* A TLS record begins with its type (21 alert, 22 handshake) and major
     * version 3 (RFC 8446 §5.1). */
    if (s->rx_bytes && s->rx_bytes <= s->rlen && s->rlen >= 2 &&
        (s->rbuf[0] == 21 || s->rbuf[0] == 22) && s->rbuf[1] == 3)
        return " (the server answered in TLS: write the server as tls:host:port)";
    if (s->rx_bytes == 0)
        return " (nothing came back on this connection: a proxy in front of memcached, such as "
               "twemproxy, closes on a command it does not pass; if it is a TLS port, write the "
               "server as tls:host:port)";
    return "";
}

int mcf_conn_idle_ok(mcf_server *s)
{
    /* Either way (late bytes, or EOF) the caller reconnects before
     * sending, so neither costs the next call its result. */
    return s->tr->pending(s->tr_ctx) == 0 && s->tr->idle_ok(s->tr_ctx, s->fd);
}

void mcf_conn_record_failure(mcf_client *c, mcf_server *s)
{
    if (mcf_health_failed(&s->health, &c->health_policy, mcf_now_us()) == MCF_HEALTH_WENT_DOWN) {
        c->unhealthy++;
        s->failover_told = 0;
        mcf_conn_event(c, s, MCF_EVENT_SERVER_DOWN);
    }
}

void mcf_conn_record_answer(mcf_client *c, mcf_server *s)
{
    if (mcf_health_answered(&s->health, mcf_now_us()) == MCF_HEALTH_CAME_UP) {
        if (c->unhealthy)
            c->unhealthy--;
        mcf_conn_event(c, s, MCF_EVENT_SERVER_UP);
    }
}

int mcf_conn_check_down(mcf_client *c, mcf_server *s, int64_t now_us)
{
    mcf_health_use use = mcf_health_check(&s->health, &c->health_policy, now_us);
    if (use == MCF_HEALTH_USE) {
        /* Cache::Memcached::Fast's counting: its time is over */
        if (c->unhealthy)
            c->unhealthy--;
        mcf_conn_event(c, s, MCF_EVENT_SERVER_UP);
    }
    return use != MCF_HEALTH_USE;
}

int mcf_conn_send_bytes(mcf_server *s, const char *buf, size_t len, int64_t deadline_us)
{
    size_t off = 0;
    while (off < len) {
        struct iovec iov = {(void *)(uintptr_t)(buf + off), len - off};
        ssize_t w = s->tr->sendv(s->tr_ctx, s->fd, &iov, 1);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w != -EAGAIN)
            return w < 0 ? (int)w : -EPIPE;
        struct pollfd p = {s->fd, POLLOUT, 0};
        int left = mcf_ms_left(deadline_us);
        if (left == 0)
            return -ETIMEDOUT;
        if (poll(&p, 1, left) < 0 && errno != EINTR)
            return -errno;
    }
    return 0;
}

void mcf_conn_sync(mcf_client *c, mcf_server *s)
{
    if (s->fd < 0 || !s->noreply_dirty)
        return;
    /* memcached answers in order: once "version" is answered, every noreply
     * command sent before it has been processed. */
    static const char req[] = "version\r\n";
    int64_t deadline = mcf_now_us() + (int64_t)c->io_timeout_ms * 1000;
    if (mcf_conn_send_bytes(s, req, sizeof req - 1, deadline) != 0)
        return;
    mcf_conn_set_lowat(s, 1);
    for (;;) {
        if (s->rlen > s->rpos && memchr(s->rbuf + s->rpos, '\n', s->rlen - s->rpos))
            break;
        ssize_t r = mcf_conn_recv(s, 0, 0);
        if (r > 0)
            continue;
        if (r != -EAGAIN)
            break;
        struct pollfd p = {s->fd, POLLIN, 0};
        int left = mcf_ms_left(deadline);
        if (left == 0 || poll(&p, 1, left) <= 0)
            break;
    }
    s->noreply_dirty = 0;
    s->rpos = s->rlen = 0;
}
