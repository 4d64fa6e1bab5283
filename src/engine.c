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
#include "ops.h"
#include "probe.h"
#include "route.h"

/* A connection idle longer than this is checked before reuse (one recv
 * with MSG_PEEK): long enough that back-to-back calls skip the syscall,
 * short enough to catch a server restart or a late reply. */
#define IDLE_CHECK_US 1000

/* Parses every complete reply in the buffer, in the protocol of this
 * call on s. */
static void parse_replies(mcf_client *c, mcf_call *call, mcf_server *s)
{
    ssize_t (*parse_one)(mcf_client *, mcf_call *, mcf_server *) =
        s->meta_call ? mcf_ops_meta_parse_one : mcf_ops_text_parse_one;
    s->need = 0;
    while (s->active) {
        ssize_t n = parse_one(c, call, s);
        if (n == 0)
            return;
        if (n < 0) {
            mcf_fail_server(c, call, s,
                            n == MCF_PARSE_TOO_LARGE ? MCF_ERR_TOO_LARGE : MCF_ERR_PROTOCOL,
                            mcf_parse_strerror(n));
            return;
        }
    }
}

int mcf_engine_take(mcf_client *c, mcf_call *call, mcf_server *s, ssize_t got)
{
    if (got == -EAGAIN)
        return 0;
    if (got == 0) {
        mcf_fail_server(c, call, s, MCF_ERR_IO, "connection closed by server");
        return -1;
    }
    if (got < 0) {
        mcf_fail_server(c, call, s, got == -ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_IO,
                        strerror((int)-got));
        return -1;
    }
    parse_replies(c, call, s);
    return 1;
}

void mcf_engine_read(mcf_client *c, mcf_call *call, mcf_server *s)
{
    for (;;) {
        ssize_t got = mcf_conn_recv(s, s->need, 0);
        /* Read again only if the buffer was filled: more may be waiting. */
        int room_filled = got > 0 && s->rlen == s->rcap;
        if (mcf_engine_take(c, call, s, got) <= 0 || !s->active || !room_filled)
            return;
    }
}

static void on_sent(mcf_client *c, mcf_call *call, mcf_server *s)
{
    if (s->await_replies)
        return;
    /* noreply: every item is done once the request is with the kernel. */
    for (size_t p = 0; p < s->count; p++)
        mcf_finish(c, call, c->order[s->first + p], MCF_OK, NULL);
    s->cursor = s->count;
    s->active = 0;
    s->noreply_dirty = 1;
}

void mcf_engine_send(mcf_client *c, mcf_call *call, mcf_server *s)
{
    int r = mcf_conn_send(c, s);
    if (r < 0) {
        mcf_fail_server(c, call, s, MCF_ERR_IO, strerror(-r));
        return;
    }
    if (r == 1)
        on_sent(c, call, s);
}

void mcf_engine_time_out(mcf_client *c, mcf_call *call, mcf_server *s)
{
    char msg[96];
    snprintf(msg, sizeof msg, "no %s within the %d ms I/O timeout",
             s->seg_i < s->nsegs ? "progress sending the request" : "complete reply",
             c->io_timeout_ms);
    mcf_fail_server(c, call, s, MCF_ERR_TIMEOUT, msg);
}

int mcf_engine_connect(mcf_client *c, mcf_server *s)
{
    int rc = mcf_conn_open(c, s);
    /* Out of descriptors or memory here is no fault of the server's. */
    if (rc != MCF_OK && rc != MCF_ERR_RESOURCE && rc != MCF_ERR_NOMEM)
        mcf_conn_record_failure(c, s);
    return rc;
}

/* A server that could not be connected or probed: its items fail with
 * its error, and it is not started. */
static void server_failed(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    mcf_fail_unstarted(c, call, s, rc);
    s->call_settled = 1;
}

static void connect_failed(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    /* Out of descriptors or memory here is no fault of the server's. */
    if (rc != MCF_ERR_RESOURCE && rc != MCF_ERR_NOMEM)
        mcf_conn_record_failure(c, s);
    server_failed(c, call, s, rc);
}

/* Once connected: MCF_PROTO_AUTO's probe, begun here so that the servers
 * of a call are probed side by side too (probe.c counts its failures). */
static int begin_probe(mcf_client *c, mcf_call *call, mcf_server *s, int64_t now)
{
    if (s->proto != PROTO_UNKNOWN || c->protocol != MCF_PROTO_AUTO)
        return MCF_OK; /* start_server settles it from the option */
    int rc = mcf_probe_begin(c, s, 1, now);
    if (rc != MCF_OK && rc != MCF_IN_PROGRESS)
        server_failed(c, call, s, rc);
    return rc;
}

/* Begins the connect of s when it has no connection in step: MCF_IN_PROGRESS
 * while it connects, otherwise the server is ready or has failed. */
static int begin_connect(mcf_client *c, mcf_call *call, mcf_server *s, int64_t now)
{
    s->call_settled = 0;
    /* Unread bytes before a request means the stream is out of step (a
     * late reply): never let them be read as this call's answers. */
    if (s->fd >= 0 && (s->rlen != s->rpos ||
                       (now - s->last_used_us > IDLE_CHECK_US && !mcf_conn_idle_ok(s))))
        mcf_conn_close(s);
    if (s->fd >= 0)
        return begin_probe(c, call, s, now);
    int rc = mcf_conn_open_start(c, s, now);
    if (rc == MCF_OK)
        return begin_probe(c, call, s, now);
    if (rc != MCF_IN_PROGRESS)
        connect_failed(c, call, s, rc);
    return rc;
}

int mcf_engine_connect_step(mcf_client *c, mcf_call *call, mcf_server *s, int64_t now)
{
    int rc;
    if (s->probing) {
        rc = mcf_probe_step(c, s, now);
        if (rc != MCF_OK && rc != MCF_IN_PROGRESS)
            server_failed(c, call, s, rc);
        return rc == MCF_IN_PROGRESS;
    }
    rc = mcf_conn_open_step(c, s, now);
    if (rc == MCF_IN_PROGRESS)
        return 1;
    if (rc != MCF_OK) {
        connect_failed(c, call, s, rc);
        return 0;
    }
    return begin_probe(c, call, s, now) == MCF_IN_PROGRESS;
}

size_t mcf_engine_connect_pollset(const mcf_client *c, const mcf_server *s,
                                  struct pollfd *out, size_t cap, int64_t *wake_us)
{
    if (s->probing)
        return mcf_probe_pollset(s, out, cap, wake_us);
    return mcf_conn_open_pollset(c, s, out, cap, wake_us);
}

static int build_request(mcf_client *c, const mcf_call *call, mcf_server *s)
{
    mcf_conn_reset_request(s);
    return s->meta_call ? mcf_ops_meta_build(c, call, s) : mcf_ops_text_build(c, call, s);
}

/* Brings s to the point where its request is ready to send: a connection
 * in step, its protocol known, the meta calls' version checks passed, the
 * request built.  MCF_OK, or the error its items were failed with. */
static inline int start_server(mcf_client *c, mcf_call *call, mcf_server *s)
{
    s->rlen = s->rpos = 0;
    s->held_off = SIZE_MAX;
    s->need = 0;
    int rc = MCF_OK;
    if (s->proto == PROTO_UNKNOWN)
        rc = mcf_probe_protocol(c, s);
    if (rc == MCF_OK) {
        /* version, stats and flush_all always speak text. */
        s->meta_call =
            s->proto == PROTO_IS_META && (call->kind == CALL_GET || mcf_call_has_items(call));
        if (call->meta)
            rc = mcf_probe_check_meta(c, call, s);
    }
    if (rc == MCF_OK) {
        rc = build_request(c, call, s);
        if (rc != MCF_OK)
            mcf_note_error(c, rc, "server %s: out of memory building the request",
                           s->spec.text);
    }
    if (rc != MCF_OK) {
        mcf_fail_unstarted(c, call, s, rc);
        return rc;
    }
    s->active = 1;
    s->await_replies = !call->noreply || call->kind == CALL_GET || call->kind == CALL_VERSION ||
                       call->kind == CALL_STATS || s->meta_call;
    return MCF_OK;
}

/* Starts s once it is ready, at most once per call. */
static size_t start_once(mcf_client *c, mcf_call *call, mcf_server *s)
{
    if (s->call_settled)
        return 0;
    s->call_settled = 1;
    return start_server(c, call, s) == MCF_OK;
}

int mcf_engine_begin(mcf_client *c, mcf_call *call, size_t *connecting, size_t *started)
{
    mcf_conn_check_fork(c);
    c->err[0] = 0;
    c->err_rc = 0;
    call->first_error = 0;
    call->held_server = NULL;
    *connecting = *started = 0;
    int64_t now = mcf_now_us();
    int rc = mcf_route_call(c, call, now);
    if (rc != MCF_OK)
        return rc;
    /* A server whose connection is ready starts at once (the common case:
     * one pass, no second loop); the others once their connect is done. */
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (!s->count)
            continue;
        int brc = begin_connect(c, call, s, now);
        if (brc == MCF_IN_PROGRESS)
            ++*connecting;
        else if (brc == MCF_OK)
            *started += start_once(c, call, s);
    }
    return MCF_OK;
}

size_t mcf_engine_start(mcf_client *c, mcf_call *call)
{
    size_t started = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (s->count)
            started += start_once(c, call, s);
    }
    return started;
}
