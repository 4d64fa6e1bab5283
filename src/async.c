/* async.c - the async driver (include/mcfast_async.h): requests with their
 * own arrays, deadline and completion, queued on the servers' queues
 * (call.c) and driven by the application's loop through the engine
 * (engine.c), never blocking.
 *
 * Submitting routes and validates a request and queues its slices; the
 * building, connecting and sending happen when the loop next calls in, so
 * that every request queued meanwhile on a server goes out in one write
 * and no callback ever runs inside a submit.  After every entry point the
 * driver tells the loop what each socket now waits for (mcf_loop.watch,
 * only the changes) and when to call back (mcf_loop.timer), as curl's
 * multi_socket interface does; a plain poll() loop asks for a pollset
 * instead.  Deadlines are a list of requests sorted by deadline. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "call.h"
#include "clock.h"
#include "discovery.h"
#include "engine.h"
#include "heal.h"
#include "refresh.h"
#include "mcfast_async.h"
#include "route.h"

#define NO_TIMER INT64_MAX
/* Room for one server's sockets while it connects: its attempts, or the
 * resolver's sockets while it resolves. */
#define SERVER_FDS_MAX (MCF_MAX_ADDRS + MCF_RESOLVER_MAX_FDS)

struct mcf_request {
    mcf_call call;
    mcf_client *client;
    mcf_done_cb done;
    mcf_key_cb each;
    void *arg;
    int64_t deadline_us;
    int timeout_ms;
    struct mcf_request *dl_prev, *dl_next; /* in mcf_async's deadline list */
    int in_deadlines;
    int reported;  /* done was called, or the request was cancelled */
    int cancelled;
    int hold;      /* > 0: being worked on; not released even when done */
    uint64_t *new_value; /* mcf_async_arith_ex */
    int item_rc;         /* one-item store or _ex: done gets the item's rc */
    struct mcf_request *next_free;
    /* One key: the call's arrays (call.h) live here. */
    uint32_t srv_of1;
    size_t order1, zoff1, zlen1, klen1;
    unsigned char answered1;
    const char *kptr1;
    mcf_slice slice1;
    const char *key1;
    size_t key1_len;
    mcf_item item1;
    /* More keys: one block for the arrays and one for the slices, kept
     * with the request in the pool for the next one. */
    void *many;
    size_t many_cap;
    mcf_slice *slices;
    size_t slices_cap;
    char *zcopy; /* the compressed values, when there are any */
    char keycopy[MCF_MAX_KEY_LEN]; /* the key of a batched get given up on */
    mcf_meta_opts opts; /* an _ex call's options, copied at submit */
    size_t zcopy_cap;
};

/* A socket the driver reported, by fd. */
typedef struct fd_slot {
    mcf_server *owner; /* NULL: the resolver's */
    void *fd_data;     /* the loop adapter's */
    int asked;         /* events the loop watches for now */
    int want;          /* events wanted in this pass */
    unsigned gen;      /* the pass that last wanted it */
    size_t list_i;     /* in mcf_async.listed, or SIZE_MAX */
} fd_slot;

typedef struct mcf_async {
    mcf_loop loop;
    int attached;
    mcf_request *pool;
    mcf_request *dl_first, *dl_last; /* by deadline, earliest first */
    fd_slot *slots; /* indexed by fd */
    size_t nslots;
    int *listed;    /* fds with a slot in use */
    size_t nlisted, listcap;
    unsigned gen;
    int64_t timer_asked; /* absolute time asked of the loop, NO_TIMER for none */
    int depth;           /* entry points on the stack (a callback submitting) */
    int64_t now;         /* when the outermost one began */
    size_t pending;      /* not reported yet */
    int closing;         /* cancelling everything: no new request */
    struct pollfd *runfds; /* mcf_async_run's */
    size_t runcap;
} mcf_async;

static mcf_async *state(mcf_client *c)
{
    if (!c->async) {
        c->async = calloc(1, sizeof *c->async);
        if (c->async)
            c->async->timer_asked = NO_TIMER;
    }
    return c->async;
}

/* ---- deadlines ---------------------------------------------------------
 * A list of requests sorted by deadline, inserted from the back: requests
 * mostly arrive with the same timeout, so their deadlines arrive in order
 * and insertion, removal and the earliest deadline are O(1) (a binary heap
 * cost about 250 instructions per request at 256 in flight).  A request
 * with a shorter timeout than those queued walks back past them. */

static void deadline_insert(mcf_async *a, mcf_request *r)
{
    mcf_request *after = a->dl_last;
    while (after && after->deadline_us > r->deadline_us)
        after = after->dl_prev;
    r->dl_prev = after;
    r->dl_next = after ? after->dl_next : a->dl_first;
    if (r->dl_next)
        r->dl_next->dl_prev = r;
    else
        a->dl_last = r;
    if (after)
        after->dl_next = r;
    else
        a->dl_first = r;
    r->in_deadlines = 1;
}

static void deadline_remove(mcf_async *a, mcf_request *r)
{
    if (!r->in_deadlines)
        return;
    r->in_deadlines = 0;
    if (r->dl_prev)
        r->dl_prev->dl_next = r->dl_next;
    else
        a->dl_first = r->dl_next;
    if (r->dl_next)
        r->dl_next->dl_prev = r->dl_prev;
    else
        a->dl_last = r->dl_prev;
    r->dl_prev = r->dl_next = NULL;
}

/* ---- requests ------------------------------------------------------- */

static mcf_request *of_call(mcf_call *call)
{
    return (mcf_request *)(void *)((char *)call - offsetof(mcf_request, call));
}

/* Hands the request's result to its done callback, once. */
static void report(mcf_request *r, int rc, const mcf_value *v)
{
    if (r->reported)
        return;
    r->reported = 1;
    mcf_client *c = r->client;
    c->async->pending--;
    if (r->cancelled || !r->done)
        return;
    if (r->new_value && rc == MCF_OK)
        *r->new_value = r->item1.number;
    r->done(c, r, rc, v, r->arg);
}

/* Every slice is done and nobody works on it: back to the pool. */
static void release(mcf_request *r)
{
    mcf_client *c = r->client;
    mcf_async *a = c->async;
    if (!r->reported) {
        const mcf_call *call = &r->call;
        int rc = r->item_rc ? call->items[0].rc : call->first_error;
        report(r, rc, NULL);
    }
    deadline_remove(a, r);
    c->inflight--;
    r->next_free = a->pool;
    a->pool = r;
}

static void slices_done(mcf_client *c, mcf_call *call)
{
    (void)c;
    mcf_request *r = of_call(call);
    if (!r->hold)
        release(r);
}

static void unhold(mcf_request *r)
{
    if (--r->hold == 0 && r->call.slices_left == 0)
        release(r);
}

/* Each key's result (call.h's get_cb): a single get completes with it. */
static void key_result(void *ctx, size_t index, int rc, const mcf_value *v)
{
    mcf_request *r = ctx;
    if (r->reported)
        return;
    if (r->call.n == 1 && !r->each)
        report(r, rc, v);
    else if (r->each)
        r->each(r->client, r, index, rc, v, r->arg);
}

static mcf_request *take_request(mcf_client *c)
{
    mcf_async *a = state(c);
    if (!a)
        return NULL;
    mcf_request *r = a->pool;
    if (r)
        a->pool = r->next_free;
    else if (!(r = calloc(1, sizeof *r)))
        return NULL;
    /* What the submit does not set itself (the call is described whole,
     * its arrays and slices are written by routing). */
    r->each = NULL;
    r->reported = r->cancelled = r->hold = r->item_rc = 0;
    r->new_value = NULL;
    r->client = c;
    return r;
}

static void put_back(mcf_client *c, mcf_request *r)
{
    r->next_free = c->async->pool;
    c->async->pool = r;
}

/* The per-item arrays and slices of a request of n items. */
static int give_arrays(mcf_client *c, mcf_request *r)
{
    mcf_call *call = &r->call;
    size_t n = call->n;
    call->nslices = mcf_route_nslices(c, call);
    if (n <= 1) {
        call->srv_of = &r->srv_of1;
        call->order = &r->order1;
        call->zoff = &r->zoff1;
        call->zlen = &r->zlen1;
        call->klen = &r->klen1;
        call->answered = &r->answered1;
        call->kptr = &r->kptr1;
    } else {
        /* size_t arrays first, then pointers, then the narrower ones: each
         * part stays aligned. */
        size_t need = n * (4 * sizeof(size_t) + sizeof(char *) + sizeof(uint32_t) + 1);
        if (need > r->many_cap) {
            void *m = realloc(r->many, need);
            if (!m)
                return MCF_ERR_NOMEM;
            r->many = m;
            r->many_cap = need;
        }
        char *p = r->many;
        call->order = (size_t *)(void *)p;
        call->zoff = call->order + n;
        call->zlen = call->zoff + n;
        call->klen = call->zlen + n;
        call->kptr = (const char **)(void *)(call->klen + n);
        call->srv_of = (uint32_t *)(void *)(call->kptr + n);
        call->answered = (unsigned char *)(call->srv_of + n);
    }
    if (call->nslices == 1) {
        call->slices = &r->slice1;
    } else {
        if (call->nslices > r->slices_cap) {
            mcf_slice *s = realloc(r->slices, call->nslices * sizeof *s);
            if (!s)
                return MCF_ERR_NOMEM;
            r->slices = s;
            r->slices_cap = call->nslices;
        }
        call->slices = r->slices;
    }
    return MCF_OK;
}

static void flush(mcf_client *c);

/* Routes, validates and queues a described request; NULL (nothing sent,
 * the message set) when any item is refused. */
static mcf_request *submit(mcf_client *c, mcf_request *r)
{
    mcf_async *a = c->async;
    mcf_call *call = &r->call;
    /* A list discovery keeps pending goes in before the first request
     * routed when none is in flight (at the top: no server is held). */
    if (c->disc && a->depth == 0 && !c->inflight)
        mcf_discovery_apply(c);
    c->err[0] = 0;
    c->err_rc = 0;
    if (a->closing) {
        put_back(c, r);
        mcf_set_error(c, MCF_ERR_CANCELLED, "the client is being freed or disconnected");
        return NULL;
    }
    if (call->n == 0) {
        put_back(c, r);
        mcf_set_error(c, MCF_ERR_ARG, "a request with no keys");
        return NULL;
    }
    if (give_arrays(c, r) != MCF_OK) {
        put_back(c, r);
        mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    call->copy_values = 1;
    call->defer = 1;
    call->on_done = slices_done;
    if (call->kind == CALL_GET) {
        call->get_cb = key_result;
        call->ctx = r;
    }
    /* Inside a dispatch (a callback submitting) its clock is recent enough. */
    int64_t now = call->t0_us = a->depth ? a->now : mcf_now_us();
    int rc = mcf_route_call(c, call, now);
    /* Routing notes an error for every item it refuses. */
    if (rc != MCF_OK || c->err_rc) {
        /* route.c named the item; the whole request is refused. */
        put_back(c, r);
        return NULL;
    }
    call->defer = 0;
    if (c->zused) {
        /* Compressed values outlive this submit's use of c->zbuf. */
        if (c->zused > r->zcopy_cap) {
            char *z = realloc(r->zcopy, c->zused);
            if (!z) {
                put_back(c, r);
                mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
                return NULL;
            }
            r->zcopy = z;
            r->zcopy_cap = c->zused;
        }
        memcpy(r->zcopy, c->zbuf, c->zused);
        call->zbuf = r->zcopy;
    }
    r->timeout_ms = c->connect_timeout_ms + c->io_timeout_ms;
    r->deadline_us = now + (int64_t)r->timeout_ms * 1000;
    deadline_insert(a, r);
    for (size_t k = 0; k < call->nslices; k++)
        if (call->slices[k].count)
            mcf_slice_enqueue(&call->slices[k]);
    a->pending++;
    c->inflight++;
    if (a->depth == 0)
        flush(c);
    return r;
}

/* ---- stepping the servers ---------------------------------------------- */

static int awaiting(const mcf_server *s)
{
    return s->head && s->head->built;
}

/* s has requests and is down or being probed (health.h): routing queued
 * them there so that they fail in a dispatch (a submit never calls back);
 * they fail now, with no connect tried. */
static int down_with_requests(mcf_client *c, mcf_server *s, int64_t now)
{
    return mcf_server_busy(s) && s->health.state != MCF_HEALTH_UP &&
           mcf_conn_is_down(c, s, now);
}

static void fail_down(mcf_client *c, mcf_server *s, int64_t now)
{
    mcf_route_note_down(c, s, now);
    mcf_fail_queue(c, s, MCF_ERR_SERVER_DOWN);
}

/* Builds what is queued on s and sends what the socket takes, once s is
 * ready (connecting first when it has no connection). */
static void pump(mcf_client *c, mcf_server *s, int64_t now)
{
    /* Never a connect to a down server (its probe is heal.c's).  What a
     * callback queues on it meanwhile fails in the next pass: mark_wants
     * asks the loop to come back at once. */
    if (down_with_requests(c, s, now)) {
        fail_down(c, s, now);
        return;
    }
    if (s->health.state != MCF_HEALTH_UP && mcf_conn_is_down(c, s, now))
        return;
    if (!mcf_server_busy(s) || mcf_engine_connecting(s))
        return;
    /* A connection whose address is no longer the name's (refresh.h)
     * takes nothing new: once what is in flight drained, it is closed and
     * the requests queued go to the new address. */
    int draining = c->dns_next_us == 0 && s->dns.stale && s->fd >= 0; /* 0: see refresh.c */
    if (draining && s->head == s->build_next) {
        mcf_refresh_retire(c, s, MCF_RETIRE_NOWAIT);
        draining = 0;
    }
    if ((s->fd < 0 || s->head == s->build_next) && mcf_engine_ready(c, s, now) != MCF_OK)
        return;
    if (draining)
        s->build_blocked = 1; /* the loop waits for replies, not to write */
    else if (s->build_next)
        mcf_engine_build(c, s, now);
    if (s->fd >= 0 && s->seg_i < s->nsegs)
        mcf_engine_send(c, s);
    /* A blocking call may have left a higher SO_RCVLOWAT (sync.c): the loop
     * must wake for any reply, "OK\r\n" included. */
    if (s->fd >= 0 && s->rcvlowat != 1 && mcf_conn_set_lowat(s, 1) < 0)
        mcf_fail_server(c, s, MCF_ERR_IO, strerror(errno));
}

/* Whatever s can do now: connect, build what is queued, send, read. */
static void step_server(mcf_client *c, mcf_server *s, int events, int64_t now)
{
    if (down_with_requests(c, s, now))
        fail_down(c, s, now);
    if (mcf_engine_connecting(s)) {
        if (mcf_engine_connect_step(c, s, now))
            return;
        events = 0;
    }
    pump(c, s, now);
    if ((events & MCF_EV_READ) && s->fd >= 0 && awaiting(s)) {
        mcf_engine_read(c, s);
        s->last_used_us = now;
        /* What the callbacks queued meanwhile (or a request that waited for
         * the connection to empty) goes out now. */
        pump(c, s, now);
    }
}

/* A request given up on (cancelled, timed out) keeps its slice in the
 * queue until the replies to it are read; the caller may free its keys
 * now.  A batched get's reply is matched by key among the batch's, so its
 * key is copied; any other slice becomes a zombie, read without its keys. */
static void give_up(mcf_request *r, mcf_slice *sl)
{
    if (!sl->batched) {
        sl->zombie = 1;
        return;
    }
    mcf_call *call = &r->call;
    memcpy(r->keycopy, call->kptr[0], call->klen[0]);
    call->kptr[0] = r->keycopy;
}

/* Expires the requests whose deadline passed.  A request the server has
 * not answered although it is the oldest on the connection (or only
 * requests given up on are ahead of it) resets the connection: an
 * in-order stream cannot skip a reply (memcached's proxy does the same on
 * a backend timeout).  One further back only gives up: its replies are
 * dropped when they come.  A request given up on that is still queued
 * after a further I/O timeout resets its connections too. */
static void expire(mcf_client *c, mcf_request *r, int64_t now)
{
    mcf_call *call = &r->call;
    r->hold++;
    int drained_late = r->reported;
    if (!drained_late)
        mcf_set_error(c, MCF_ERR_TIMEOUT, "request deadline of %d ms passed", r->timeout_ms);
    for (size_t k = 0; k < call->nslices; k++) {
        mcf_slice *sl = &call->slices[k];
        if (!sl->count || !sl->queued)
            continue;
        mcf_server *s = sl->server;
        const mcf_slice *ahead = s->head;
        while (ahead != sl && ahead->zombie)
            ahead = ahead->next;
        if (!sl->built) {
            s->ctr.timeouts++;
            mcf_fail_unstarted(c, sl, MCF_ERR_TIMEOUT);
        } else if (drained_late || ahead == sl)
            mcf_engine_time_out(c, s, drained_late ? c->io_timeout_ms : r->timeout_ms);
        else {
            s->ctr.timeouts++;
            mcf_finish_rest(c, sl, MCF_ERR_TIMEOUT);
            give_up(r, sl);
        }
    }
    report(r, MCF_ERR_TIMEOUT, NULL);
    if (call->slices_left) {
        r->deadline_us = now + (int64_t)c->io_timeout_ms * 1000;
        deadline_insert(c->async, r);
    }
    unhold(r);
}

static void expire_due(mcf_client *c, int64_t now)
{
    mcf_async *a = c->async;
    while (a->dl_first && a->dl_first->deadline_us <= now) {
        mcf_request *r = a->dl_first;
        deadline_remove(a, r);
        expire(c, r, now);
    }
}

/* Connects that wait for a timer, servers to start, probes of down
 * servers (heal.h), deadlines. */
static void run_timers(mcf_client *c, int64_t now)
{
    mcf_heal_tick(c, now);
    if (now >= c->dns_next_us)
        mcf_refresh_tick(c, now, MCF_RETIRE_NOWAIT);
    mcf_discovery_tick(c, now);
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (mcf_engine_connecting(s) ? now >= s->wake_us || down_with_requests(c, s, now)
                                     : mcf_server_busy(s) && s->fd < 0)
            step_server(c, s, 0, now);
    }
    expire_due(c, now);
}

/* The resolver's sockets serve every server that resolves. */
static void step_resolving(mcf_client *c, int64_t now)
{
    /* The lookups of live connections' names too (refresh.h). */
    mcf_refresh_tick(c, now, MCF_RETIRE_NOWAIT);
    for (size_t k = 0; k < c->nservers; k++)
        if (c->servers[k].connecting == CONNECTING_RESOLVE)
            step_server(c, &c->servers[k], 0, now);
    mcf_discovery_tick(c, now); /* its endpoint may be resolving too */
}

/* A socket's owner is ready: a key server, or discovery's endpoint. */
static void step_owner(mcf_client *c, mcf_server *s, int events, int64_t now)
{
    if (mcf_discovery_owns(c, s))
        mcf_discovery_tick(c, now);
    else
        step_server(c, s, events, now);
}

/* ---- telling the loop ---------------------------------------------------- */

static fd_slot *slot_of(mcf_async *a, int fd)
{
    if (fd < 0)
        return NULL;
    if ((size_t)fd >= a->nslots) {
        size_t n = a->nslots ? a->nslots : 64;
        while (n <= (size_t)fd)
            n *= 2;
        fd_slot *s = realloc(a->slots, n * sizeof *s);
        if (!s)
            return NULL;
        for (size_t i = a->nslots; i < n; i++)
            s[i] = (fd_slot){.list_i = SIZE_MAX};
        a->slots = s;
        a->nslots = n;
    }
    return &a->slots[fd];
}

static void unlist(mcf_async *a, int fd)
{
    fd_slot *sl = &a->slots[fd];
    size_t i = sl->list_i;
    a->listed[i] = a->listed[--a->nlisted];
    a->slots[a->listed[i]].list_i = i;
    *sl = (fd_slot){.list_i = SIZE_MAX};
}

/* fd is wanted for events in this pass (owner NULL: the resolver). */
static void want(mcf_async *a, int fd, int events, mcf_server *owner)
{
    fd_slot *sl = slot_of(a, fd);
    if (!sl)
        return;
    if (sl->list_i == SIZE_MAX) {
        if (a->nlisted == a->listcap) {
            size_t cap = a->listcap ? 2 * a->listcap : 16;
            int *l = realloc(a->listed, cap * sizeof *l);
            if (!l)
                return;
            a->listed = l;
            a->listcap = cap;
        }
        sl->list_i = a->nlisted;
        a->listed[a->nlisted++] = fd;
    }
    if (sl->gen != a->gen) {
        sl->gen = a->gen;
        sl->want = 0;
    }
    sl->want |= events;
    sl->owner = owner;
}

static int to_events(short poll_events)
{
    return ((poll_events & POLLIN) ? MCF_EV_READ : 0) | ((poll_events & POLLOUT) ? MCF_EV_WRITE : 0);
}

/* Marks what every server waits for now; returns the earliest wake. */
static int64_t mark_wants(mcf_client *c, int64_t now)
{
    mcf_async *a = c->async;
    int64_t wake = a->dl_first ? a->dl_first->deadline_us : NO_TIMER;
    /* A down server's probe begins when its wait is over, in the
     * background: no request of the caller's waits for it. */
    int64_t retry = mcf_heal_next_retry(c);
    if (retry < wake)
        wake = retry;
    a->gen++;
    /* Names looked up again (refresh.h): when the next answer expires
     * (c->dns_next_us, exact unless 0), or while something is pending the
     * resolver's sockets and its timer. */
    if (c->dns_next_us == 0) {
        struct pollfd rf[MCF_RESOLVER_MAX_FDS];
        int64_t rw;
        size_t rn = mcf_refresh_pollset(c, rf, MCF_RESOLVER_MAX_FDS, &rw);
        for (size_t i = 0; i < rn; i++)
            want(a, rf[i].fd, to_events(rf[i].events), NULL);
        if (rw < wake)
            wake = rw;
    } else if (c->dns_next_us < wake) {
        wake = c->dns_next_us;
    }
    if (c->disc) {
        /* Discovery's poll, and when the next one is due. */
        struct pollfd pf[SERVER_FDS_MAX];
        int64_t w;
        size_t n = mcf_discovery_pollset(c, pf, SERVER_FDS_MAX, &w);
        mcf_server *owner = c->side_server->connecting == CONNECTING_RESOLVE ? NULL
                                                                            : c->side_server;
        for (size_t i = 0; i < n; i++)
            want(a, pf[i].fd, to_events(pf[i].events), owner);
        if (w < wake)
            wake = w;
    }
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (mcf_server_busy(s) && s->health.state != MCF_HEALTH_UP)
            wake = now; /* its requests may fail at once (down_with_requests) */
        if (mcf_engine_connecting(s)) {
            struct pollfd pf[SERVER_FDS_MAX];
            int64_t w;
            size_t n = mcf_engine_connect_pollset(c, s, pf, SERVER_FDS_MAX, &w);
            mcf_server *owner = s->connecting == CONNECTING_RESOLVE ? NULL : s;
            for (size_t i = 0; i < n; i++)
                want(a, pf[i].fd, to_events(pf[i].events), owner);
            s->wake_us = w;
            if (w < wake)
                wake = w;
        } else if (mcf_server_busy(s) && s->fd >= 0) {
            int ev = (awaiting(s) ? MCF_EV_READ : 0) |
                     (s->seg_i < s->nsegs || (s->build_next && !s->build_blocked) ? MCF_EV_WRITE
                                                                                   : 0);
            if (ev)
                want(a, s->fd, ev, s);
        } else if (mcf_server_busy(s)) {
            wake = now; /* to connect: at once, from the loop */
        }
    }
    return wake;
}

/* After every entry point: the loop hears what changed. */
static void flush(mcf_client *c)
{
    mcf_async *a = c->async;
    if (!a || !a->attached)
        return;
    int64_t now = mcf_now_us();
    int64_t wake = mark_wants(c, now);
    for (size_t i = 0; i < a->nlisted;) {
        int fd = a->listed[i];
        fd_slot *sl = &a->slots[fd];
        if (sl->gen != a->gen) {
            a->loop.watch(a->loop.data, fd, 0, &sl->fd_data);
            unlist(a, fd); /* the last one moved here: look at i again */
            continue;
        }
        if (sl->want != sl->asked) {
            sl->asked = sl->want;
            a->loop.watch(a->loop.data, fd, sl->asked, &sl->fd_data);
        }
        i++;
    }
    if (wake != a->timer_asked) {
        a->timer_asked = wake;
        a->loop.timer(a->loop.data,
                      wake == NO_TIMER ? -1 : wake <= now ? 0 : (wake - now + 999) / 1000);
    }
}

/* Before one of our sockets closes: the loop stops watching it. */
static void fd_closing(mcf_client *c, int fd)
{
    mcf_async *a = c->async;
    if (!a || fd < 0 || (size_t)fd >= a->nslots || a->slots[fd].list_i == SIZE_MAX)
        return;
    fd_slot *sl = &a->slots[fd];
    if (a->attached && sl->asked)
        a->loop.watch(a->loop.data, fd, 0, &sl->fd_data);
    unlist(a, fd);
}

/* ---- entry points -------------------------------------------------------- */

/* A driving entry point begins: in a child after fork(), the requests
 * sent on the parent's connections end (the connections stay the
 * parent's); the ones not sent yet go on a new connection. */
static void enter(mcf_client *c)
{
    mcf_async *a = c->async;
    if (a->depth++ == 0) {
        a->now = mcf_now_us();
        c->err_overwrite = 1;
        if (!mcf_conn_owned(c)) {
            mcf_set_error(c, MCF_ERR_CANCELLED,
                          "request sent by the parent process before fork(): its connection "
                          "stays the parent's");
            mcf_conn_check_fork(c);
            for (size_t k = 0; k < c->nservers; k++)
                mcf_fail_built(c, &c->servers[k], MCF_ERR_CANCELLED);
        }
    }
}

static void leave(mcf_client *c)
{
    mcf_async *a = c->async;
    if (a->depth == 1) {
        /* What the callbacks queued on other servers than the one just
         * read goes out now, not one loop turn later. */
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            if (s->build_next && s->fd >= 0 && !s->build_blocked)
                pump(c, s, a->now);
        }
    }
    if (--a->depth == 0) {
        c->err_overwrite = 0;
        /* The last request done: a list discovery keeps pending goes in
         * now, before the loop hears what to watch. */
        if (c->disc && !c->inflight)
            mcf_discovery_apply(c);
        flush(c);
    }
}

void mcf_async_server_moved(mcf_client *c, int fd, mcf_server *s)
{
    mcf_async *a = c->async;
    if (a && fd >= 0 && (size_t)fd < a->nslots && a->slots[fd].list_i != SIZE_MAX)
        a->slots[fd].owner = s;
}

void mcf_async_on_fd(mcf_client *c, int fd, int events)
{
    if (!c || !c->async)
        return;
    mcf_async *a = c->async;
    enter(c);
    int64_t now = mcf_now_us();
    if (fd >= 0 && (size_t)fd < a->nslots && a->slots[fd].list_i != SIZE_MAX) {
        mcf_server *s = a->slots[fd].owner;
        if (s)
            step_owner(c, s, events, now);
        else
            step_resolving(c, now);
    }
    expire_due(c, now);
    leave(c);
}

void mcf_async_on_timer(mcf_client *c)
{
    if (!c || !c->async)
        return;
    enter(c);
    c->async->timer_asked = NO_TIMER; /* it fired */
    run_timers(c, mcf_now_us());
    leave(c);
}

size_t mcf_async_pollset(mcf_client *c, struct pollfd *fds, size_t cap, int *timeout_ms)
{
    mcf_async *a = c ? state(c) : NULL;
    if (timeout_ms)
        *timeout_ms = -1;
    if (!a)
        return 0;
    int64_t now = mcf_now_us();
    int64_t wake = mark_wants(c, now);
    size_t n = 0;
    for (size_t i = 0; i < a->nlisted;) {
        int fd = a->listed[i];
        fd_slot *sl = &a->slots[fd];
        if (sl->gen != a->gen) {
            unlist(a, fd);
            continue;
        }
        if (n < cap)
            fds[n] = (struct pollfd){fd, (short)(((sl->want & MCF_EV_READ) ? POLLIN : 0) |
                                                 ((sl->want & MCF_EV_WRITE) ? POLLOUT : 0)),
                                     0};
        n++;
        i++;
    }
    if (timeout_ms && wake != NO_TIMER) {
        int64_t ms = wake <= now ? 0 : (wake - now + 999) / 1000;
        *timeout_ms = ms > INT32_MAX ? INT32_MAX : (int)ms;
    }
    return n;
}

void mcf_async_process(mcf_client *c, const struct pollfd *fds, size_t n)
{
    if (!c || !c->async)
        return;
    mcf_async *a = c->async;
    enter(c);
    int64_t now = mcf_now_us();
    int resolver_ready = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (!fds[i].revents || fd < 0 || (size_t)fd >= a->nslots ||
            a->slots[fd].list_i == SIZE_MAX)
            continue;
        int ev = to_events(fds[i].revents) |
                 ((fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) ? MCF_EV_READ | MCF_EV_WRITE
                                                                   : 0);
        mcf_server *s = a->slots[fd].owner;
        if (s)
            step_owner(c, s, ev, now);
        else
            resolver_ready = 1;
    }
    if (resolver_ready)
        step_resolving(c, now);
    run_timers(c, mcf_now_us());
    leave(c);
}

size_t mcf_async_run(mcf_client *c, int timeout_ms)
{
    if (!c)
        return 0;
    mcf_async *a = state(c);
    if (!a)
        return c->inflight;
    int64_t end = timeout_ms < 0 ? INT64_MAX : mcf_now_us() + (int64_t)timeout_ms * 1000;
    while (c->inflight) {
        int t;
        size_t n = mcf_async_pollset(c, a->runfds, a->runcap, &t);
        if (n > a->runcap) {
            struct pollfd *p = realloc(a->runfds, n * sizeof *p);
            if (!p)
                break;
            a->runfds = p;
            a->runcap = n;
            n = mcf_async_pollset(c, a->runfds, a->runcap, &t);
        }
        int left = mcf_ms_left(end);
        if (left == 0)
            break;
        if (t < 0 || t > left)
            t = left;
        if (poll(a->runfds, (nfds_t)n, t) < 0 && errno != EINTR)
            break;
        mcf_async_process(c, a->runfds, n);
    }
    return c->inflight;
}

int mcf_async_set_loop(mcf_client *c, const mcf_loop *loop)
{
    mcf_async *a = c ? state(c) : NULL;
    if (!a)
        return MCF_ERR_NOMEM;
    if (loop && (!loop->watch || !loop->timer))
        return mcf_set_error(c, MCF_ERR_ARG, "mcf_async_set_loop: watch and timer are required");
    if (a->attached) {
        for (size_t i = 0; i < a->nlisted; i++) {
            fd_slot *sl = &a->slots[a->listed[i]];
            if (sl->asked)
                a->loop.watch(a->loop.data, a->listed[i], 0, &sl->fd_data);
            sl->asked = 0;
            sl->fd_data = NULL;
        }
        if (a->timer_asked != NO_TIMER)
            a->loop.timer(a->loop.data, -1);
        if (a->loop.detach)
            a->loop.detach(a->loop.data);
    }
    for (size_t i = a->nlisted; i-- > 0;)
        unlist(a, a->listed[i]);
    a->timer_asked = NO_TIMER;
    a->attached = loop != NULL;
    c->fd_closing = loop ? fd_closing : NULL;
    if (loop) {
        a->loop = *loop;
        if (a->depth == 0)
            flush(c);
    }
    return MCF_OK;
}

/* ---- submitting ------------------------------------------------------------ */

static mcf_request *new_request(mcf_client *c, mcf_done_cb done, void *arg)
{
    if (!c)
        return NULL;
    mcf_request *r = take_request(c);
    if (!r) {
        mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->done = done;
    r->arg = arg;
    return r;
}

mcf_request *mcf_async_get(mcf_client *c, mcf_get_mode mode, int64_t exptime, const char *key,
                           size_t key_len, mcf_done_cb done, void *arg)
{
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->key1 = key;
    r->key1_len = key_len;
    r->call = (mcf_call){.kind = CALL_GET, .mode = mode, .exptime = exptime,
                         .keys = &r->key1, .key_lens = &r->key1_len, .n = 1};
    return submit(c, r);
}

mcf_request *mcf_async_get_multi(mcf_client *c, mcf_get_mode mode, int64_t exptime,
                                 const char *const *keys, const size_t *key_lens, size_t n,
                                 mcf_key_cb each, mcf_done_cb done, void *arg)
{
    if (c && !keys && n) {
        mcf_set_error(c, MCF_ERR_ARG, "mcf_async_get_multi: keys is NULL");
        return NULL;
    }
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->each = each;
    r->call = (mcf_call){.kind = CALL_GET, .mode = mode, .exptime = exptime, .keys = keys,
                         .key_lens = key_lens, .n = n};
    return submit(c, r);
}


mcf_request *mcf_async_store(mcf_client *c, mcf_store_mode mode, const char *key,
                             size_t key_len, const void *value, size_t value_len, uint32_t flags,
                             int64_t exptime, uint64_t cas, unsigned call_flags,
                             mcf_done_cb done, void *arg)
{
    if (c && (unsigned)mode > MCF_CAS) {
        mcf_set_error(c, MCF_ERR_ARG, "mcf_async_store: unknown store mode %d", (int)mode);
        return NULL;
    }
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->item1 = (mcf_item){.key = key, .key_len = key_len, .value = value, .value_len = value_len,
                          .flags = flags, .exptime = exptime, .cas = cas};
    r->call = (mcf_call){.kind = CALL_STORE, .mode = mode, .items = &r->item1, .n = 1,
                         .noreply = mcf_call_noreply(c, call_flags),
                         .no_compress = (call_flags & MCF_CALL_NO_COMPRESS) != 0};
    r->item_rc = 1;
    return submit(c, r);
}

mcf_request *mcf_async_multi(mcf_client *c, mcf_op op, mcf_item *items, size_t n,
                             unsigned call_flags, mcf_done_cb done, void *arg)
{
    if (c && !items && n) {
        mcf_set_error(c, MCF_ERR_ARG, "mcf_async_multi: items is NULL");
        return NULL;
    }
    mcf_call call = {0};
    if (c && mcf_call_of_op(c, "mcf_async_multi", &call, op, items, n, call_flags) != MCF_OK)
        return NULL;
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->call = call;
    return submit(c, r);
}

mcf_request *mcf_async_version(mcf_client *c, size_t server, char *buf, size_t buflen,
                               mcf_done_cb done, void *arg)
{
    if (c && (!buf || !buflen || server >= c->nservers)) {
        mcf_set_error(c, MCF_ERR_ARG, "mcf_async_version: invalid argument");
        return NULL;
    }
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    buf[0] = 0;
    r->call = (mcf_call){.kind = CALL_VERSION, .n = 1, .server = server, .version_buf = buf,
                         .version_len = buflen};
    return submit(c, r);
}

mcf_request *mcf_async_stats(mcf_client *c, size_t server, const char *stats_arg,
                             mcf_stat_cb cb, void *ctx, mcf_done_cb done, void *arg)
{
    if (c && (!cb || server >= c->nservers)) {
        mcf_set_error(c, MCF_ERR_ARG, "mcf_async_stats: invalid argument");
        return NULL;
    }
    if (c && mcf_call_check_stats_arg(c, "mcf_async_stats", stats_arg) != MCF_OK)
        return NULL;
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->call = (mcf_call){.kind = CALL_STATS, .n = 1, .server = server, .stats_arg = stats_arg,
                         .stat_cb = cb, .ctx = ctx};
    return submit(c, r);
}

mcf_request *mcf_async_flush_all(mcf_client *c, int64_t delay, unsigned call_flags,
                                 mcf_done_cb done, void *arg)
{
    if (c && c->nservers == 0) {
        mcf_set_error(c, MCF_ERR_NO_SERVERS, "no servers configured");
        return NULL;
    }
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    r->call = (mcf_call){.kind = CALL_FLUSH, .n = c->nservers, .exptime = delay < 0 ? 0 : delay,
                         .noreply = mcf_call_noreply(c, call_flags)};
    return submit(c, r);
}

mcf_request *mcf_async_get_ex(mcf_client *c, const char *key, size_t key_len,
                              const mcf_meta_opts *opts, mcf_item_info *info, mcf_done_cb done,
                              void *arg)
{
    if (c && mcf_call_check_ex(c, "mcf_async_get_ex", CALL_GET, MCF_GETS, opts) != MCF_OK)
        return NULL;
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    static const mcf_meta_opts none;
    if (info)
        memset(info, 0, sizeof *info);
    r->opts = opts ? *opts : none;
    r->key1 = key;
    r->key1_len = key_len;
    r->call = (mcf_call){.kind = CALL_GET, .mode = MCF_GETS, .keys = &r->key1,
                         .key_lens = &r->key1_len, .n = 1, .meta = &r->opts, .info = info};
    return submit(c, r);
}

/* One item of an _ex call, checked as the blocking call checks it. */
static mcf_request *submit_ex(mcf_client *c, const char *fn, mcf_call_kind kind, int mode,
                              const mcf_item *item, const mcf_meta_opts *opts,
                              mcf_item_info *info, mcf_done_cb done, void *arg)
{
    static const mcf_meta_opts none;
    if (!c || mcf_call_check_ex(c, fn, kind, mode, opts) != MCF_OK)
        return NULL;
    mcf_request *r = new_request(c, done, arg);
    if (!r)
        return NULL;
    if (info)
        memset(info, 0, sizeof *info);
    r->item1 = *item;
    r->opts = opts ? *opts : none;
    r->call = (mcf_call){.kind = kind, .mode = mode, .items = &r->item1, .n = 1,
                         .meta = &r->opts, .info = info};
    r->item_rc = 1;
    return submit(c, r);
}

mcf_request *mcf_async_store_ex(mcf_client *c, mcf_store_mode mode, const char *key,
                                size_t key_len, const void *value, size_t value_len,
                                uint32_t flags, int64_t exptime, uint64_t cas,
                                const mcf_meta_opts *opts, mcf_item_info *info,
                                mcf_done_cb done, void *arg)
{
    mcf_item it = {.key = key, .key_len = key_len, .value = value, .value_len = value_len,
                   .flags = flags, .exptime = exptime, .cas = cas};
    return submit_ex(c, "mcf_async_store_ex", CALL_STORE, (int)mode, &it, opts, info, done, arg);
}

mcf_request *mcf_async_delete_ex(mcf_client *c, const char *key, size_t key_len,
                                 const mcf_meta_opts *opts, mcf_done_cb done, void *arg)
{
    mcf_item it = {.key = key, .key_len = key_len};
    return submit_ex(c, "mcf_async_delete_ex", CALL_DELETE, 0, &it, opts, NULL, done, arg);
}

mcf_request *mcf_async_arith_ex(mcf_client *c, int incr, const char *key, size_t key_len,
                                uint64_t delta, const mcf_meta_opts *opts, uint64_t *new_value,
                                mcf_item_info *info, mcf_done_cb done, void *arg)
{
    mcf_item it = {.key = key, .key_len = key_len, .delta = delta};
    mcf_request *r = submit_ex(c, incr ? "mcf_async_arith_ex (incr)" : "mcf_async_arith_ex (decr)", CALL_ARITH,
                               incr != 0, &it, opts, info, done, arg);
    if (r)
        r->new_value = new_value;
    return r;
}

void mcf_async_set_timeout(mcf_request *r, int timeout_ms)
{
    if (!r || r->reported || !r->in_deadlines)
        return;
    mcf_async *a = r->client->async;
    deadline_remove(a, r);
    r->timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
    r->deadline_us = mcf_now_us() + (int64_t)r->timeout_ms * 1000;
    deadline_insert(a, r);
    if (a->depth == 0)
        flush(r->client);
}

void mcf_async_cancel(mcf_client *c, mcf_request *r)
{
    if (!c || !r || r->reported)
        return;
    mcf_async *a = c->async;
    mcf_call *call = &r->call;
    r->cancelled = 1;
    report(r, MCF_ERR_CANCELLED, NULL);
    r->hold++;
    deadline_remove(a, r);
    for (size_t k = 0; k < call->nslices; k++) {
        mcf_slice *sl = &call->slices[k];
        if (!sl->count)
            continue;
        if (!sl->queued) {
            /* Taken off a failing queue (mcf_fail_queue): it ends there,
             * without looking at the caller's items again. */
            sl->zombie = 1;
            continue;
        }
        if (sl->built)
            give_up(r, sl); /* written: its replies are read and dropped */
        else
            mcf_fail_unstarted(c, sl, MCF_ERR_CANCELLED);
    }
    if (call->slices_left) {
        /* Bounded: replies not drained within an I/O timeout reset it. */
        r->deadline_us = mcf_now_us() + (int64_t)c->io_timeout_ms * 1000;
        deadline_insert(a, r);
    }
    unhold(r);
    if (a->depth == 0)
        flush(c);
}

size_t mcf_async_inflight(const mcf_client *c)
{
    return c && c->async ? c->async->pending : 0;
}

void mcf_async_cancel_all(mcf_client *c)
{
    mcf_async *a = c->async;
    if (!a || !c->inflight)
        return;
    a->depth++;
    a->closing = 1;
    c->err_overwrite = 1;
    mcf_set_error(c, MCF_ERR_CANCELLED, "request cancelled: the client was freed or disconnected");
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (!mcf_server_busy(s))
            continue;
        /* Requests written and unanswered leave the stream mid-way. */
        if (s->head->built)
            mcf_conn_abort(s);
        mcf_conn_open_abort(c, s);
        mcf_fail_queue(c, s, MCF_ERR_CANCELLED);
    }
    c->err_overwrite = 0;
    a->closing = 0;
    a->depth--;
}

void mcf_async_free(mcf_client *c)
{
    mcf_async *a = c->async;
    if (!a)
        return;
    mcf_async_set_loop(c, NULL);
    while (a->pool) {
        mcf_request *r = a->pool;
        a->pool = r->next_free;
        free(r->many);
        free(r->slices);
        free(r->zcopy);
        free(r);
    }
    free(a->slots);
    free(a->listed);
    free(a->runfds);
    free(a);
    c->async = NULL;
}
