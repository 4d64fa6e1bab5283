/* sync.c - the blocking driver: runs a call from start to end on the
 * caller's thread.  Every server under one I/O deadline (it starts once
 * the call's connections are up) in one poll loop; a call on a single
 * server whose request went out whole waits in recv() itself. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "clock.h"
#include "discovery.h"
#include "engine.h"
#include "route.h"
#include "sync.h"
#include "transport.h"

/* The most a single wake-up waits for (SO_RCVLOWAT): about what one read
 * takes in at once. */
#define WAKE_MAX 65536
/* SO_RCVTIMEO is re-set only when it is off from the time left by more
 * than this. */
#define RCVTIMEO_SLACK_MS 2

/* The fewest bytes the replies still due can take: recv() is woken only
 * when they can all be there (SO_RCVLOWAT), so a pipelined write is read
 * in one go instead of in the batches memcached flushes.  Retrieval
 * replies have no useful lower bound. */
static int wake_bytes(const mcf_call *call, const mcf_server *s)
{
    const mcf_slice *sl = s->head;
    size_t min_reply;
    if (call->kind == CALL_GET || sl->meta)
        return 1; /* meta quiet mode: "MN\r\n" may be all there is */
    if (call->kind == CALL_STORE)
        min_reply = 8; /* "STORED\r\n", "EXISTS\r\n" */
    else if (call->kind == CALL_DELETE || call->kind == CALL_TOUCH)
        min_reply = 9; /* "DELETED\r\n", "TOUCHED\r\n" */
    else if (call->kind == CALL_ARITH)
        min_reply = 3; /* "0\r\n" */
    else
        return 1;
    /* One reply due: nothing to batch, so recv() itself waits for it (no
     * poll(): one syscall fewer per single-key write). */
    if (sl->count - sl->cursor <= 1)
        return 1;
    size_t due = (sl->count - sl->cursor) * min_reply, have = s->rlen - s->rpos;
    if (due <= have + 1)
        return 1;
    due -= have;
    return due > WAKE_MAX ? WAKE_MAX : (int)due;
}

/* Waits until fd is readable with at least `lowat` bytes unread (TCP
 * poll honours SO_RCVLOWAT): 1 readable, 0 deadline passed, -errno. */
static int wait_lowat(mcf_server *s, int lowat, int64_t deadline)
{
    int e = mcf_conn_set_lowat(s, lowat);
    if (e < 0)
        return e;
    for (;;) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int left = mcf_ms_left(deadline);
        if (left == 0)
            return 0;
        int r = poll(&p, 1, left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* Reads for the single-server case; returns the last time it read the
 * clock (`now` when it never had to), for the call's end.  Retrieval
 * blocks in recv() itself under SO_RCVTIMEO (re-set only when the time
 * left differs from it by more than a couple of milliseconds, so steady
 * state costs no extra syscall).  A pipelined write waits in poll() for
 * the fewest bytes its replies can take, so it wakes once instead of once
 * per batch memcached flushes.  (SO_RCVLOWAT is not used on a blocking
 * recv: a recv that has copied part of the data sleeps until the *unread*
 * bytes reach the mark, which may never happen.) */
static int64_t wait_one(mcf_client *c, mcf_call *call, mcf_server *s, int64_t deadline,
                        int64_t now)
{
    /* The first wait starts from the clock read that began the I/O
     * deadline a moment ago; each later one reads the clock again. */
    for (int first = 1; mcf_server_busy(s); first = 0) {
        if (!first)
            now = mcf_now_us();
        int left = mcf_ms_between(now, deadline);
        if (left == 0) {
            mcf_engine_time_out(c, s, c->io_timeout_ms);
            return now;
        }
        int lowat = wake_bytes(call, s), block = lowat == 1 && s->tr->recv_blocks;
        if (block) {
            int e = mcf_conn_set_lowat(s, 1);
            if (e == 0 && (s->rcvtimeo_ms == 0 || s->rcvtimeo_ms > left + RCVTIMEO_SLACK_MS ||
                           s->rcvtimeo_ms < left - RCVTIMEO_SLACK_MS))
                e = mcf_conn_set_rcvtimeo(s, left);
            if (e < 0) {
                mcf_fail_server(c, s, MCF_ERR_IO, strerror(-e));
                return now;
            }
        } else {
            int w = wait_lowat(s, lowat, deadline);
            if (w == 0)
                continue; /* the deadline check above times it out */
            if (w < 0) {
                mcf_fail_server(c, s, MCF_ERR_IO, strerror(-w));
                return now;
            }
        }
        /* -EAGAIN: SO_RCVTIMEO passed or a spurious wakeup; the loop
         * rechecks the deadline. */
        if (mcf_engine_take(c, s, mcf_conn_recv(s, s->need, block)) < 0)
            return now;
    }
    return now;
}

/* Every active server in one poll loop until each is done or the deadline
 * passes. */
static void poll_loop(mcf_client *c, int64_t deadline)
{
    for (;;) {
        nfds_t nfds = 0;
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            if (!mcf_server_busy(s))
                continue;
            short ev = (short)((s->seg_i < s->nsegs ? POLLOUT : 0) |
                               (s->head->await_replies ? POLLIN : 0));
            if (s->rcvlowat != 1 && mcf_conn_set_lowat(s, 1) < 0) {
                mcf_fail_server(c, s, MCF_ERR_IO, strerror(errno));
                continue;
            }
            c->pfds[nfds] = (struct pollfd){s->fd, ev, 0};
            c->pmap[nfds++] = s;
        }
        if (nfds == 0)
            return;
        int left = mcf_ms_left(deadline);
        if (left == 0) {
            for (nfds_t k = 0; k < nfds; k++)
                mcf_engine_time_out(c, c->pmap[k], c->io_timeout_ms);
            return;
        }
        int r = poll(c->pfds, nfds, left);
        if (r < 0) {
            if (errno == EINTR)
                continue; /* the deadline is absolute: nothing to recompute */
            for (nfds_t k = 0; k < nfds; k++)
                mcf_fail_server(c, c->pmap[k], MCF_ERR_IO, strerror(errno));
            return;
        }
        for (nfds_t k = 0; k < nfds; k++) {
            mcf_server *s = c->pmap[k];
            short re = c->pfds[k].revents;
            if (!re || !mcf_server_busy(s))
                continue;
            if ((re & (POLLOUT | POLLERR | POLLHUP)) && s->seg_i < s->nsegs)
                mcf_engine_send(c, s);
            if (mcf_server_busy(s) && (re & (POLLIN | POLLERR | POLLHUP)))
                mcf_engine_read(c, s);
        }
    }
}

/* Connects every server of the call that is connecting, all at once:
 * resolution, Happy Eyeballs and the transport handshake of each run side
 * by side in one poll loop, each under its own connect deadline, so the
 * call waits for the slowest connect, not for their sum. */
static void connect_all(mcf_client *c, size_t pending)
{
    while (pending) {
        size_t np = 0, cap = c->nservers * MCF_MAX_ADDRS;
        int64_t wake = INT64_MAX;
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            int64_t w;
            if (!mcf_engine_connecting(s) || (s->healing && !mcf_server_busy(s)))
                continue; /* a probe (heal.h) is not this call's to wait for */
            np += mcf_engine_connect_pollset(c, s, c->pfds + np, cap - np, &w);
            if (w < wake)
                wake = w;
        }
        /* EINTR or a timer: every connect below rechecks its own time. */
        (void)poll(c->pfds, (nfds_t)np, mcf_ms_left(wake));
        int64_t now = mcf_now_us();
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            if (mcf_engine_connecting(s) && (!s->healing || mcf_server_busy(s)) &&
                !mcf_engine_connect_step(c, s, now))
                pending--;
        }
    }
}

int mcf_run(mcf_client *c, mcf_call *call)
{
    if (c->inflight)
        return mcf_set_error(c, MCF_ERR_ARG,
                             "a blocking call while %zu async requests are in flight on this "
                             "client (mcfast_async.h): nothing was sent",
                             c->inflight);
    /* Discovery's poll is stepped, and a new list installed, before the
     * call is routed: nothing of it points at a server yet. */
    if (c->disc)
        mcf_discovery_before_call(c);
    int rc = mcf_route_lend_scratch(c, call);
    if (rc != MCF_OK)
        return rc;
    size_t connecting, started;
    int64_t t0;
    rc = mcf_engine_begin(c, call, &connecting, &started, &t0);
    if (rc != MCF_OK)
        return rc;
    if (connecting) {
        connect_all(c, connecting);
        started += mcf_engine_start(c, call);
        t0 = mcf_now_us();
    }

    /* The I/O deadline starts once connections are up (at the call's
     * beginning when they were: a clock read saved). */
    int64_t deadline = t0 + (int64_t)c->io_timeout_ms * 1000;
    mcf_server *only = NULL;
    size_t nactive = 0;
    for (size_t k = 0; k < call->nslices; k++) {
        mcf_server *s = call->slices[k].server;
        if (!call->slices[k].count || !mcf_server_busy(s))
            continue;
        mcf_engine_send(c, s);
        if (mcf_server_busy(s)) {
            only = s;
            nactive++;
        }
    }
    /* One server with its whole request sent: wait in recv() itself. */
    int64_t end = 0;
    if (nactive == 1 && only->seg_i == only->nsegs && only->head->await_replies)
        end = wait_one(c, call, only, deadline, t0);

    if (started && (!end || nactive > 1 || mcf_server_busy(only))) {
        poll_loop(c, deadline);
        end = 0;
    }
    /* The end of the call, for the idle check of its connections: the clock
     * read just before the last reply arrived is close enough. */
    return mcf_engine_end(call, end ? end : mcf_now_us());
}
