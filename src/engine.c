/* engine.c - the core of one call over any number of servers, whatever
 * drives it: starting each server (connection, protocol, request), sending,
 * and turning what was read into replies handed to the protocol's
 * operations (ops_text.c, ops_meta.c).  The waiting (poll, deadlines) is
 * the driver's (sync.c); the routing is route.c's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "engine.h"
#include "heal.h"
#include "refresh.h"
#include "ops.h"
#include "probe.h"
#include "route.h"

/* A connection idle longer than this is checked before reuse (one recv
 * with MSG_PEEK): long enough that back-to-back calls skip the syscall,
 * short enough to catch a server restart or a late reply. */
#define IDLE_CHECK_US 1000

/* Parses every complete reply in the buffer, each in the protocol of the
 * request at the head of s's queue. */
static void parse_replies(mcf_client *c, mcf_server *s)
{
    s->need = 0;
    for (const mcf_slice *h; (h = s->head) && h->built;) {
        ssize_t n = h->meta ? mcf_ops_meta_parse_one(c, s) : mcf_ops_text_parse_one(c, s);
        if (n == 0)
            break;
        if (n < 0) {
            mcf_fail_server(c, s, n == MCF_PARSE_TOO_LARGE ? MCF_ERR_TOO_LARGE : MCF_ERR_PROTOCOL,
                            mcf_parse_strerror(n));
            return;
        }
    }
    /* It answered in protocol: a run of failures ends (health.h). */
    if (s->health.failures || s->health.state != MCF_HEALTH_UP)
        mcf_conn_record_answer(c, s);
}

/* Replies still due on s. */
static int awaiting(const mcf_server *s)
{
    return s->head && s->head->built;
}

/* A send or recv failed with e (-errno). */
static MCF_COLD void fail_io(mcf_client *c, mcf_server *s, long e)
{
    const char *why;
    int rc = mcf_conn_failure(s, e, &why);
    mcf_fail_server(c, s, rc, why);
}

int mcf_engine_take(mcf_client *c, mcf_server *s, ssize_t got)
{
    if (got == -EAGAIN)
        return 0;
    if (got == 0) {
        mcf_fail_server(c, s, MCF_ERR_IO, "connection closed by server");
        return -1;
    }
    if (got < 0) {
        fail_io(c, s, got);
        return -1;
    }
    if (c->latency)
        c->rx_us = mcf_now_us(); /* when these replies came (counters.h) */
    parse_replies(c, s);
    return 1;
}

void mcf_engine_read(mcf_client *c, mcf_server *s)
{
    for (;;) {
        ssize_t got = mcf_conn_recv(s, s->need, 0);
        /* Read again only if the buffer was filled: more may be waiting. */
        int room_filled = got > 0 && s->rlen == s->rcap;
        if (mcf_engine_take(c, s, got) <= 0 || !awaiting(s) || !room_filled)
            return;
    }
}

void mcf_engine_send(mcf_client *c, mcf_server *s)
{
    int r = mcf_conn_send(s);
    if (r < 0) {
        fail_io(c, s, r);
        return;
    }
    mcf_slices_sent(c, s);
}

void mcf_engine_time_out(mcf_client *c, mcf_server *s, int timeout_ms)
{
    char msg[96];
    s->ctr.timeouts++;
    snprintf(msg, sizeof msg, "no %s within the %d ms %s",
             s->seg_i < s->nsegs ? "progress sending the request" : "complete reply", timeout_ms,
             timeout_ms == c->io_timeout_ms ? "I/O timeout" : "deadline");
    mcf_fail_server(c, s, MCF_ERR_TIMEOUT, msg);
}

int mcf_engine_connect(mcf_client *c, mcf_server *s)
{
    int rc = mcf_conn_open(c, s);
    if (rc == MCF_ERR_TIMEOUT)
        s->ctr.timeouts++;
    /* Out of descriptors or memory here is no fault of the server's. */
    if (rc != MCF_OK && rc != MCF_ERR_RESOURCE && rc != MCF_ERR_NOMEM)
        mcf_conn_record_failure(c, s);
    return rc;
}

/* A server that could not be connected: every request queued on it fails
 * with its error, nothing sent. */
static void connect_failed(mcf_client *c, mcf_server *s, int rc)
{
    if (rc == MCF_ERR_TIMEOUT)
        s->ctr.timeouts++;
    /* Out of descriptors or memory here is no fault of the server's. */
    if (rc != MCF_ERR_RESOURCE && rc != MCF_ERR_NOMEM)
        mcf_conn_record_failure(c, s);
    mcf_fail_queue(c, s, rc);
}

/* Once connected: MCF_PROTO_AUTO's probe, begun here so that the servers
 * of a call are probed side by side too (probe.c counts its failures). */
static int begin_probe(mcf_client *c, mcf_server *s, int64_t now)
{
    if (s->proto != PROTO_UNKNOWN || c->protocol != MCF_PROTO_AUTO)
        return MCF_OK; /* start_slice settles it from the option */
    if (s->meta_refused == META_REFUSED_TEXT) {
        s->proto = PROTO_IS_TEXT;
        return MCF_OK;
    }
    int rc = mcf_probe_begin(c, s, s->meta_refused != META_REFUSED_ONCE, now);
    if (rc != MCF_OK && rc != MCF_IN_PROGRESS)
        mcf_fail_queue(c, s, rc);
    return rc;
}

int mcf_engine_ready(mcf_client *c, mcf_server *s, int64_t now)
{
    if (mcf_engine_connecting(s))
        return MCF_IN_PROGRESS;
    /* Unread bytes before a request means the stream is out of step (a
     * late reply): never let them be read as this request's answers.  Only
     * checked with nothing in flight (the oldest request not sent yet). */
    if (s->fd >= 0 && s->head == s->build_next &&
        (s->rlen != s->rpos ||
         (now - s->last_used_us > IDLE_CHECK_US && !mcf_conn_idle_ok(s))))
        mcf_conn_close(s);
    if (s->fd >= 0)
        return begin_probe(c, s, now);
    int rc = mcf_conn_open_start(c, s, now);
    if (rc == MCF_OK)
        return begin_probe(c, s, now);
    if (rc != MCF_IN_PROGRESS)
        connect_failed(c, s, rc);
    return rc;
}

/* The common case of mcf_engine_ready, inline: a connection in use a
 * moment ago, nothing unread, protocol settled. */
static inline int ready_now(mcf_client *c, mcf_server *s, int64_t now)
{
    if (s->fd >= 0 && !mcf_engine_connecting(s) && s->rlen == s->rpos &&
        now - s->last_used_us <= IDLE_CHECK_US &&
        (s->proto != PROTO_UNKNOWN || c->protocol != MCF_PROTO_AUTO))
        return MCF_OK;
    return mcf_engine_ready(c, s, now);
}

int mcf_engine_connect_step(mcf_client *c, mcf_server *s, int64_t now)
{
    int rc;
    if (s->healing)
        return mcf_heal_step(c, s, now);
    if (s->probing) {
        rc = mcf_probe_step(c, s, now);
        if (rc == MCF_PROBE_RECONNECT) {
            /* Connected again at once; its probe asks the version alone. */
            rc = mcf_conn_open_start(c, s, now);
            if (rc == MCF_OK)
                return begin_probe(c, s, now) == MCF_IN_PROGRESS;
            if (rc == MCF_IN_PROGRESS)
                return 1;
            connect_failed(c, s, rc);
            return 0;
        }
        if (rc != MCF_OK && rc != MCF_IN_PROGRESS)
            mcf_fail_queue(c, s, rc);
        return rc == MCF_IN_PROGRESS;
    }
    rc = mcf_conn_open_step(c, s, now);
    if (rc == MCF_IN_PROGRESS)
        return 1;
    if (rc != MCF_OK) {
        connect_failed(c, s, rc);
        return 0;
    }
    return begin_probe(c, s, now) == MCF_IN_PROGRESS;
}

size_t mcf_engine_connect_pollset(const mcf_client *c, const mcf_server *s,
                                  struct pollfd *out, size_t cap, int64_t *wake_us)
{
    if (s->probing)
        return mcf_probe_pollset(s, out, cap, wake_us);
    return mcf_conn_open_pollset(c, s, out, cap, wake_us);
}

/* Which protocol sl speaks: version, stats and flush_all always text. */
static void settle_protocol(mcf_slice *sl)
{
    const mcf_call *call = sl->call;
    sl->meta = sl->server->proto == PROTO_IS_META &&
               (call->kind == CALL_GET || mcf_call_has_items(call));
}

/* Appends sl's request to its server's write buffer (the first slice not
 * built yet, on a connection in step whose protocol is known, meta checks
 * passed): MCF_OK, or the error its items were failed with. */
static int build_slice(mcf_client *c, mcf_slice *sl)
{
    mcf_server *s = sl->server;
    const mcf_call *call = sl->call;
    mcf_wmark mark = mcf_conn_wmark(s);
    int rc = sl->meta ? mcf_ops_meta_build(c, sl) : mcf_ops_text_build(c, sl);
    if (rc != MCF_OK) {
        mcf_conn_wrollback(s, mark);
        if (rc == MCF_ERR_NOMEM)
            mcf_note_error(c, rc, "server %s: out of memory building the request",
                           s->spec.text);
        mcf_fail_unstarted(c, sl, rc);
        return rc;
    }
    sl->built = 1;
    sl->wend = s->wqueued;
    s->build_next = sl->next;
    sl->await_replies = !call->noreply || call->kind == CALL_GET ||
                        call->kind == CALL_VERSION || call->kind == CALL_STATS || sl->meta;
    return MCF_OK;
}

/* Brings sl, the next slice of its server to build, to the point where
 * its request is ready to send: protocol known, meta checks passed, built.
 * MCF_OK, or the error its items were failed with. */
static inline int start_slice(mcf_client *c, mcf_slice *sl)
{
    mcf_server *s = sl->server;
    if (s->head == sl) {
        /* Nothing in flight: the read buffer starts over. */
        s->rlen = s->rpos = 0;
        s->held_off = SIZE_MAX;
        s->need = 0;
    }
    int rc = MCF_OK;
    if (s->proto == PROTO_UNKNOWN)
        rc = mcf_probe_protocol(c, s);
    if (rc == MCF_OK) {
        settle_protocol(sl);
        if (sl->call->meta)
            rc = mcf_probe_check_meta(c, sl);
    }
    if (rc != MCF_OK) {
        mcf_fail_unstarted(c, sl, rc);
        return rc;
    }
    return build_slice(c, sl);
}

/* Starts sl once its server is ready, at most once per call. */
static size_t start_once(mcf_client *c, mcf_slice *sl)
{
    if (sl->settled || sl->cursor == sl->count)
        return 0; /* started, or failed with its server */
    sl->settled = 1;
    return start_slice(c, sl) == MCF_OK;
}

/* The most slices one batch takes: a get line of this many keys is still
 * a few tens of KB, which memcached reads key by key. */
#define BATCH_MAX 1024

/* An async single-key get or gets without options: it can share one
 * command with the ones queued after it. */
static int batchable(const mcf_slice *sl)
{
    const mcf_call *call = sl->call;
    return call->on_done && call->kind == CALL_GET && call->n == 1 && !call->meta &&
           (call->mode == MCF_GET || call->mode == MCF_GETS);
}

/* Builds sl and the batchable slices queued right after it with the same
 * mode as one command (auto-pipelining turned into a multi-get): the
 * number built, or 0 when sl is better built alone (nothing to batch, or
 * the batch could not be built). */
static size_t build_batch(mcf_client *c, mcf_slice *sl)
{
    mcf_server *s = sl->server;
    size_t n = 1;
    const mcf_slice *x = sl->next;
    while (n < BATCH_MAX && x && batchable(x) && x->call->mode == sl->call->mode) {
        n++;
        x = x->next;
    }
    if (n < 2)
        return 0;
    mcf_wmark mark = mcf_conn_wmark(s);
    int rc = sl->meta ? mcf_ops_meta_build_batch(c, sl, n) : mcf_ops_text_build_batch(c, sl, n);
    if (rc != MCF_OK) {
        mcf_conn_wrollback(s, mark);
        return 0;
    }
    mcf_slice *y = sl;
    for (size_t i = 0; i < n; i++, y = y->next) {
        y->meta = sl->meta;
        y->built = y->batched = y->await_replies = 1;
        y->batch_pos = (uint32_t)i;
        y->batch_end = i == n - 1;
        y->wend = s->wqueued;
    }
    s->build_next = x ? (mcf_slice *)x : NULL;
    return n;
}

void mcf_engine_build(mcf_client *c, mcf_server *s, int64_t now)
{
    s->build_blocked = 0;
    while (s->build_next && s->fd >= 0 && !mcf_engine_connecting(s)) {
        mcf_slice *sl = s->build_next;
        if (s->proto != PROTO_UNKNOWN) {
            settle_protocol(sl);
            if (mcf_probe_needs_version(sl)) {
                /* The version is asked without blocking, on a connection
                 * with nothing in flight (the answer must come first). */
                if (s->head != sl) {
                    s->build_blocked = 1;
                    return;
                }
                int rc = mcf_probe_begin(c, s, 0, now);
                if (rc != MCF_OK && rc != MCF_IN_PROGRESS)
                    mcf_fail_queue(c, s, rc);
                if (rc != MCF_OK)
                    return;
            }
            if (batchable(sl) && build_batch(c, sl))
                continue;
        }
        start_slice(c, sl);
    }
}

int mcf_engine_begin(mcf_client *c, mcf_call *call, size_t *connecting, size_t *started,
                     int64_t *now_us)
{
    mcf_conn_check_fork(c);
    c->err[0] = 0;
    c->err_rc = 0;
    call->first_error = 0;
    call->held_server = NULL;
    *connecting = *started = 0;
    int64_t now = *now_us = call->t0_us = mcf_now_us();
    /* Down servers whose wait is over are probed beside this call, which
     * skips them (heal.h). */
    if (c->unhealthy)
        mcf_heal_tick(c, now);
    /* Names whose answer expired are looked up again beside this call
     * (refresh.h); one comparison when none is due. */
    if (now >= c->dns_next_us)
        mcf_refresh_tick(c, now, MCF_RETIRE_SYNC);
    int rc = mcf_route_call(c, call, now);
    if (rc != MCF_OK)
        return rc;
    /* A server whose connection is ready starts at once (the common case:
     * one pass, no second loop); the others once their connect is done. */
    for (size_t k = 0; k < call->nslices; k++) {
        mcf_slice *sl = &call->slices[k];
        if (!sl->count)
            continue;
        mcf_slice_enqueue(sl);
        int brc = ready_now(c, sl->server, now);
        if (brc == MCF_IN_PROGRESS)
            ++*connecting;
        else if (brc == MCF_OK)
            *started += start_once(c, sl);
    }
    return MCF_OK;
}

size_t mcf_engine_start(mcf_client *c, mcf_call *call)
{
    size_t started = 0;
    for (size_t k = 0; k < call->nslices; k++) {
        mcf_slice *sl = &call->slices[k];
        if (sl->count)
            started += start_once(c, sl);
    }
    return started;
}
