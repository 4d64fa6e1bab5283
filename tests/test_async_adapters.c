/*
 * test_async_adapters.c - the async API (include/mcfast_async.h) driven by
 * every loop mcfast ships, against real memcached:
 *   libevent, libuv, libev   the adapters in include/mcfast/adapters/;
 *   poll                     the poll() loop of examples/async_poll.c
 *                            (mcf_async_pollset / mcf_async_process);
 *   epoll                    the epoll loop of examples/async_epoll.c
 *                            (mcf_async_set_loop), behind a wrapper that
 *                            counts watch/stop calls.
 * Per loop, one case per scenario (LOOP_bulk_1srv, ...):
 *   bulk_1srv, bulk_3srv   2000 sets then 2000 gets with 300 in flight,
 *                          kept so by submitting from the done callbacks:
 *                          every request completes exactly once, each get
 *                          returns the value that encodes its key, the
 *                          library's in-flight count matches ours after
 *                          every turn, the servers hold every key;
 *   miss                   single gets and a multi-get: hit and miss;
 *   timeout                a SIGSTOPped server: a request with a short
 *                          deadline, and the one queued behind it, complete
 *                          with MCF_ERR_TIMEOUT through the loop's timer;
 *                          after SIGCONT the next request succeeds;
 *   idle_detach_free       while idle: detaching leaves nothing watched in
 *                          the loop, the blocking API works, attaching
 *                          again works, and mcf_free leaves nothing watched
 *                          and no descriptor open.
 * And example_poll_runs / example_epoll_runs run the two example programs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "mcfast_async.h"

/* libev first: libevent's EV_READ/EV_WRITE macros would rewrite libev's. */
#include "mcfast/adapters/libev.h"
#include "mcfast/adapters/libevent.h"
#include "mcfast/adapters/libuv.h"

/* The examples' loops, without their programs. */
#define ASYNC_EXAMPLE_LOOP_ONLY
#include "../examples/async_epoll.c"
#include "../examples/async_poll.c"

#define BULK_KEYS 2000
#define BULK_INFLIGHT 300
#define BULK_FLAGS 0x5a5au
#define VALUE_CAP 80
#define HANG_LIMIT_MS 30000 /* only to catch a hang, never a timing check */
#define TURN_WAIT_MS 100    /* longest single wait of a turn */
#define SETTLE_TURNS 3      /* extra turns after the work, to catch late callbacks */
#define SETTLE_WAIT_MS 10
#define SHORT_DEADLINE_MS 300
/* The default deadline of the request queued behind (connect + I/O
 * timeout) is made long, so failing with the reset and failing at its own
 * deadline are told apart by a generous bound, half of it. */
#define LONG_IO_TIMEOUT_MS 20000
#define TIMER_SLACK_MS 10   /* a deadline may be rounded to the loop's clock */
#define MS_PER_S 1000
#define US_PER_MS 1000
#define OUTPUT_CAP 8192

/* ------------------------------------------------------------------ */
/* The loops under test                                                */
/* ------------------------------------------------------------------ */

typedef enum loop_kind { LOOP_LIBEVENT, LOOP_LIBUV, LOOP_LIBEV, LOOP_POLL, LOOP_EPOLL } loop_kind;

/* The epoll example's loop behind counting wrappers. */
typedef struct epoll_audit {
    epoll_driver ed;
    size_t watches;          /* watch calls with events */
    size_t stops;            /* watch calls with events 0 */
    size_t stop_of_closed;   /* stops asked after the fd was closed */
    size_t stop_unwatched;   /* stops of an fd that was not watched */
    size_t live;             /* fds watched now */
    size_t detaches;
} epoll_audit;

static void audit_watch(void *data, int fd, int events, void **fd_data)
{
    epoll_audit *a = data;
    if (events == 0) {
        a->stops++;
        if (fcntl(fd, F_GETFD) < 0)
            a->stop_of_closed++;
        if (*fd_data)
            a->live--;
        else
            a->stop_unwatched++;
    } else {
        a->watches++;
        if (!*fd_data)
            a->live++;
    }
    epoll_driver_watch(&a->ed, fd, events, fd_data);
}

static void audit_timer(void *data, int64_t ms)
{
    epoll_driver_timer(&((epoll_audit *)data)->ed, ms);
}

static void audit_detach(void *data)
{
    epoll_audit *a = data;
    a->detaches++;
    epoll_driver_detach(&a->ed);
}

typedef struct test_loop {
    loop_kind kind;
    int fds_before_loop;   /* descriptors open before the loop was made */
    int fds_before_client; /* and once it exists */
    /* libevent */
    struct event_base *le_base;
    struct event *le_tick;
    int le_baseline; /* events the base has of its own */
    /* libuv */
    uv_loop_t uv_loop;
    uv_timer_t uv_tick;
    /* libev */
    struct ev_loop *lv_loop;
    ev_timer lv_tick;
    /* the examples */
    poll_driver pd;
    epoll_audit audit;
} test_loop;

static void le_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}
static void uv_tick_cb(uv_timer_t *t) { (void)t; }
static void lv_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

static int loop_open(test_loop *l, loop_kind kind)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    if (kind == LOOP_LIBUV) {
        /* The first uv_loop_init opens libuv's process-wide signal pipe,
         * kept to exit: open it before counting. */
        uv_loop_t warm;
        if (uv_loop_init(&warm) == 0)
            uv_loop_close(&warm);
    }
    l->fds_before_loop = count_fds();
    int ok = 0;
    switch (kind) {
    case LOOP_LIBEVENT:
        l->le_base = event_base_new();
        l->le_tick = l->le_base ? evtimer_new(l->le_base, le_tick_cb, NULL) : NULL;
        ok = l->le_tick != NULL;
        if (ok)
            l->le_baseline = event_base_get_num_events(l->le_base, EVENT_BASE_COUNT_ADDED);
        break;
    case LOOP_LIBUV:
        ok = uv_loop_init(&l->uv_loop) == 0 && uv_timer_init(&l->uv_loop, &l->uv_tick) == 0;
        break;
    case LOOP_LIBEV:
        l->lv_loop = ev_loop_new(EVFLAG_AUTO); /* not the default loop: it reaps children */
        ev_timer_init(&l->lv_tick, lv_tick_cb, 0.0, 0.0);
        ok = l->lv_loop != NULL;
        break;
    case LOOP_POLL:
        ok = poll_driver_init(&l->pd) == 0;
        break;
    case LOOP_EPOLL:
        ok = epoll_driver_init(&l->audit.ed) == 0;
        break;
    }
    CHECKF(ok, "cannot create the event loop (kind %d)", (int)kind);
    l->fds_before_client = count_fds();
    return ok ? 0 : -1;
}

/* Attaches c (the poll loop needs nothing). */
static int loop_attach(test_loop *l, mcf_client *c)
{
    switch (l->kind) {
    case LOOP_LIBEVENT:
        return mcf_libevent_attach(c, l->le_base);
    case LOOP_LIBUV:
        return mcf_libuv_attach(c, &l->uv_loop);
    case LOOP_LIBEV:
        return mcf_libev_attach(c, l->lv_loop);
    case LOOP_POLL:
        return MCF_OK;
    case LOOP_EPOLL: {
        mcf_loop ml = {&l->audit, audit_watch, audit_timer, audit_detach};
        l->audit.ed.client = c;
        return mcf_async_set_loop(c, &ml);
    }
    }
    return MCF_ERR_ARG;
}

/* One turn of the loop, waiting at most max_wait_ms (a tick timer of the
 * test's own bounds the event libraries' waits).  0, or -1 on failure. */
static int loop_turn(test_loop *l, mcf_client *c, int max_wait_ms)
{
    switch (l->kind) {
    case LOOP_LIBEVENT: {
        struct timeval tv = {max_wait_ms / MS_PER_S, (max_wait_ms % MS_PER_S) * US_PER_MS};
        evtimer_add(l->le_tick, &tv);
        int rc = event_base_loop(l->le_base, EVLOOP_ONCE);
        evtimer_del(l->le_tick);
        return rc < 0 ? -1 : 0;
    }
    case LOOP_LIBUV:
        uv_timer_start(&l->uv_tick, uv_tick_cb, (uint64_t)max_wait_ms, 0);
        uv_run(&l->uv_loop, UV_RUN_ONCE);
        uv_timer_stop(&l->uv_tick);
        return 0;
    case LOOP_LIBEV:
        ev_timer_set(&l->lv_tick, (ev_tstamp)max_wait_ms / MS_PER_S, 0.0);
        ev_timer_start(l->lv_loop, &l->lv_tick);
        ev_run(l->lv_loop, EVRUN_ONCE);
        ev_timer_stop(l->lv_loop, &l->lv_tick);
        return 0;
    case LOOP_POLL:
        return poll_driver_turn(&l->pd, c, max_wait_ms);
    case LOOP_EPOLL:
        return epoll_driver_turn(&l->audit.ed, max_wait_ms);
    }
    return -1;
}

static void count_active_handle(uv_handle_t *h, void *arg)
{
    size_t *n = arg;
    if (uv_is_active(h))
        (*n)++;
}

/* Watchers and timers the loop still has beyond the test's own (its tick
 * is stopped between turns).  0 for the poll loop, which holds nothing. */
static int loop_armed(test_loop *l)
{
    switch (l->kind) {
    case LOOP_LIBEVENT:
        return event_base_get_num_events(l->le_base, EVENT_BASE_COUNT_ADDED) - l->le_baseline;
    case LOOP_LIBUV: {
        size_t n = 0;
        uv_walk(&l->uv_loop, count_active_handle, &n);
        return (int)n;
    }
    case LOOP_LIBEV:
        /* ev_run returns whether watchers are still active; without
         * waiting it only handles what is ready now. */
        return ev_run(l->lv_loop, EVRUN_NOWAIT) ? 1 : 0;
    case LOOP_POLL:
        return 0;
    case LOOP_EPOLL:
        return (int)l->audit.ed.watched + (l->audit.ed.timer_due_ms >= 0);
    }
    return -1;
}

/* After the clients on it were freed. */
static void loop_close(test_loop *l)
{
    switch (l->kind) {
    case LOOP_LIBEVENT:
        if (l->le_tick)
            event_free(l->le_tick);
        if (l->le_base)
            event_base_free(l->le_base);
        break;
    case LOOP_LIBUV:
        uv_close((uv_handle_t *)&l->uv_tick, NULL);
        uv_run(&l->uv_loop, UV_RUN_NOWAIT); /* the close callbacks free the handles */
        CHECK_RC(uv_loop_close(&l->uv_loop), 0); /* UV_EBUSY: a handle left open */
        break;
    case LOOP_LIBEV:
        if (l->lv_loop)
            ev_loop_destroy(l->lv_loop);
        break;
    case LOOP_POLL:
        poll_driver_free(&l->pd);
        break;
    case LOOP_EPOLL:
        CHECKF(l->audit.stop_of_closed == 0, "%zu stops asked after the fd was closed",
               l->audit.stop_of_closed);
        CHECKF(l->audit.stop_unwatched == 0, "%zu stops of fds not watched",
               l->audit.stop_unwatched);
        epoll_driver_close(&l->audit.ed);
        break;
    }
    CHECKF(count_fds() == l->fds_before_loop, "descriptors after closing the loop: %d, before %d",
           count_fds(), l->fds_before_loop);
}

/* After mcf_free, before loop_close: the client closed every socket. */
static void check_client_fds_closed(const test_loop *l)
{
    int now = count_fds();
    CHECKF(now == l->fds_before_client, "descriptors after mcf_free: %d, before the client %d",
           now, l->fds_before_client);
}

/* Turns the loop while *pending > 0.  0, or -1 (FAIL line) on a hang. */
static int run_while(test_loop *l, mcf_client *c, const size_t *pending,
                     void (*after_turn)(void *), void *ctx)
{
    double start = now_ms();
    while (*pending > 0) {
        if (loop_turn(l, c, TURN_WAIT_MS) < 0) {
            t_fail(__FILE__, __LINE__, "the loop failed: %s", strerror(errno));
            return -1;
        }
        if (after_turn)
            after_turn(ctx);
        if (*pending > 0 && now_ms() - start > HANG_LIMIT_MS) {
            t_fail(__FILE__, __LINE__, "%zu requests still pending after %d ms (in flight: %zu)",
                   *pending, HANG_LIMIT_MS, mcf_async_inflight(c));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* One request's outcome                                               */
/* ------------------------------------------------------------------ */

typedef struct outcome {
    size_t *pending;
    int calls;
    int rc;
    int had_value;
    char value[VALUE_CAP];
    size_t len;
    char error[512];
    double at_ms;
} outcome;

static void outcome_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req;
    outcome *o = arg;
    o->calls++;
    o->rc = rc;
    o->had_value = v != NULL;
    o->len = v ? v->len : 0;
    if (v)
        snprintf(o->value, sizeof o->value, "%.*s", (int)v->len, v->data);
    snprintf(o->error, sizeof o->error, "%s", mcf_last_error(c));
    o->at_ms = now_ms();
    if (*o->pending > 0)
        (*o->pending)--;
}

/* Submitted: counts one pending; refused: FAIL line. */
static int submitted(mcf_client *c, mcf_request *r, size_t *pending)
{
    CHECKF(r != NULL, "submit refused: %s", mcf_last_error(c));
    if (r)
        (*pending)++;
    return r != NULL;
}

static void set_one(test_loop *l, mcf_client *c, const char *key, const char *value)
{
    size_t pending = 0;
    outcome o = {.pending = &pending};
    if (submitted(c, mcf_async_store(c, MCF_SET, KS(key), value, strlen(value), 0, 0, 0, 0,
                                     outcome_done, &o),
                  &pending))
        run_while(l, c, &pending, NULL, NULL);
    CHECKF(o.calls == 1 && o.rc == MCF_OK, "set %s: %d calls, rc %d (%s)", key, o.calls, o.rc,
           o.error);
}

/* ------------------------------------------------------------------ */
/* Scenario: bulk                                                      */
/* ------------------------------------------------------------------ */

typedef struct bulk bulk;
typedef struct bulk_req {
    bulk *b;
    size_t i;
} bulk_req;

struct bulk {
    mcf_client *c;
    keyset ks;
    char (*val)[VALUE_CAP];
    bulk_req *reqs;
    int *set_calls, *get_calls; /* completions per key and phase */
    size_t n, next, finished, inflight;
    int getting, stopping;
    size_t bad_set, bad_get, wrong_value, refused, late;
    size_t inflight_mismatch, max_lib_inflight;
};

static void bulk_top_up(bulk *b);

static void bulk_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    bulk_req *br = arg;
    bulk *b = br->b;
    size_t i = br->i;
    if (b->stopping) {
        b->late++;
        return;
    }
    if (!b->getting) {
        b->set_calls[i]++;
        if (rc != MCF_OK)
            b->bad_set++;
    } else {
        b->get_calls[i]++;
        if (rc != MCF_OK || !v)
            b->bad_get++;
        else if (v->len != strlen(b->val[i]) || memcmp(v->data, b->val[i], v->len) != 0 ||
                 v->flags != BULK_FLAGS)
            b->wrong_value++;
    }
    b->inflight--;
    b->finished++;
    bulk_top_up(b);
}

static void bulk_top_up(bulk *b)
{
    while (!b->stopping) {
        while (b->inflight < BULK_INFLIGHT && b->next < b->n) {
            size_t i = b->next++;
            const char *k = b->ks.k[i];
            mcf_request *r =
                b->getting ? mcf_async_get(b->c, MCF_GET, 0, KS(k), bulk_done, &b->reqs[i])
                           : mcf_async_store(b->c, MCF_SET, KS(k), b->val[i], strlen(b->val[i]),
                                             BULK_FLAGS, 0, 0, 0, bulk_done, &b->reqs[i]);
            if (!r) {
                b->refused++;
                b->finished++;
                continue;
            }
            b->inflight++;
        }
        if (!b->getting && b->finished == b->n) {
            b->getting = 1;
            b->next = 0;
            b->finished = 0;
            continue;
        }
        return;
    }
}

/* After each turn, outside any callback: the library counts what we count. */
static void bulk_sample(void *ctx)
{
    bulk *b = ctx;
    size_t lib = mcf_async_inflight(b->c);
    if (lib != b->inflight)
        b->inflight_mismatch++;
    if (lib > b->max_lib_inflight)
        b->max_lib_inflight = lib;
}

static size_t count_calls(const int *calls, size_t n, size_t *first_bad)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (calls[i] != 1 && bad++ == 0)
            *first_bad = i;
    return bad;
}

static void scenario_bulk(loop_kind kind, int nsrv, const char *prefix)
{
    mcserver srv[3];
    if (start_n(srv, nsrv, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start %d memcached server(s)", nsrv);
        return;
    }
    test_loop l;
    if (loop_open(&l, kind) < 0) {
        stop_n(srv, nsrv);
        return;
    }
    mcf_client *c = client_n(srv, nsrv);
    bulk b = {.c = c, .n = BULK_KEYS};
    ks_make(&b.ks, b.n, prefix);
    b.val = calloc(b.n, sizeof *b.val);
    b.reqs = calloc(b.n, sizeof *b.reqs);
    b.set_calls = calloc(b.n, sizeof *b.set_calls);
    b.get_calls = calloc(b.n, sizeof *b.get_calls);
    if (!c || !b.val || !b.reqs || !b.set_calls || !b.get_calls) {
        t_fail(__FILE__, __LINE__, "setup failed: %s", c ? mcf_last_error(c) : "no client");
        goto out;
    }
    for (size_t i = 0; i < b.n; i++) {
        val_of(b.ks.k[i], b.val[i], VALUE_CAP);
        b.reqs[i] = (bulk_req){&b, i};
    }
    CHECK_RC(loop_attach(&l, c), MCF_OK);

    bulk_top_up(&b);
    CHECKF(mcf_async_inflight(c) == BULK_INFLIGHT, "in flight after the first submits: %zu",
           mcf_async_inflight(c));
    bulk_sample(&b);
    run_while(&l, c, &b.inflight, bulk_sample, &b);

    size_t first = 0, bad;
    CHECKF(b.getting && b.finished == b.n, "phase %s, %zu of %zu finished",
           b.getting ? "get" : "set", b.finished, b.n);
    bad = count_calls(b.set_calls, b.n, &first);
    CHECKF(bad == 0, "%zu sets did not complete exactly once (first: key %zu, %d calls)", bad,
           first, bad ? b.set_calls[first] : 0);
    bad = count_calls(b.get_calls, b.n, &first);
    CHECKF(bad == 0, "%zu gets did not complete exactly once (first: key %zu, %d calls)", bad,
           first, bad ? b.get_calls[first] : 0);
    CHECKF(b.refused == 0, "%zu submits refused", b.refused);
    CHECKF(b.bad_set == 0, "%zu sets failed", b.bad_set);
    CHECKF(b.bad_get == 0, "%zu gets did not hit", b.bad_get);
    CHECKF(b.wrong_value == 0, "%zu gets returned another key's value or flags", b.wrong_value);
    CHECKF(b.inflight_mismatch == 0, "mcf_async_inflight differed from the callbacks' count "
           "after %zu turns", b.inflight_mismatch);
    CHECKF(b.max_lib_inflight == BULK_INFLIGHT, "most in flight: %zu, want %d",
           b.max_lib_inflight, BULK_INFLIGHT);
    CHECK(mcf_async_inflight(c) == 0);

    /* Nothing completes twice later. */
    for (int t = 0; t < SETTLE_TURNS; t++)
        loop_turn(&l, c, SETTLE_WAIT_MS);
    CHECK(count_calls(b.set_calls, b.n, &first) == 0 && count_calls(b.get_calls, b.n, &first) == 0);

    /* The servers, asked directly, hold every key; three servers share them. */
    long long total = 0;
    for (int s = 0; s < nsrv; s++) {
        long long items = raw_stat(&srv[s], NULL, "curr_items");
        CHECKF(items > 0, "server %d holds %lld items", s, items);
        total += items;
    }
    CHECKF(total == (long long)b.n, "servers hold %lld items, want %zu", total, b.n);
    if (nsrv == 1)
        CHECK(raw_has(&srv[0], b.ks.k[b.n - 1], b.val[b.n - 1]));

out:
    b.stopping = 1;
    mcf_free(c);
    CHECKF(b.late == 0, "%zu callbacks ran during mcf_free with nothing in flight", b.late);
    CHECKF(loop_armed(&l) == 0, "the loop still has %d of the client's watchers", loop_armed(&l));
    check_client_fds_closed(&l);
    loop_close(&l);
    stop_n(srv, nsrv);
    ks_free(&b.ks);
    free(b.val);
    free(b.reqs);
    free(b.set_calls);
    free(b.get_calls);
}

/* ------------------------------------------------------------------ */
/* Scenario: a miss                                                    */
/* ------------------------------------------------------------------ */

/* A multi-get's outcome: done's (first, so outcome_done takes it too) and
 * each key's. */
typedef struct multi_outcome {
    outcome done;
    int calls[2];
    int rc[2];
    int value_ok;
} multi_outcome;

static void multi_each(mcf_client *c, mcf_request *req, size_t index, int rc, const mcf_value *v,
                       void *arg)
{
    (void)c;
    (void)req;
    multi_outcome *m = arg;
    if (index >= 2)
        return;
    m->calls[index]++;
    m->rc[index] = rc;
    if (index == 0 && v && v->len == 4 && memcmp(v->data, "v:mk", 4) == 0)
        m->value_ok = 1;
}

static void scenario_miss(loop_kind kind)
{
    mcserver srv[1];
    if (start_n(srv, 1, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    test_loop l;
    if (loop_open(&l, kind) < 0) {
        stop_n(srv, 1);
        return;
    }
    mcf_client *c = client_n(srv, 1);
    if (!c || loop_attach(&l, c) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "setup failed: %s", c ? mcf_last_error(c) : "no client");
        goto out;
    }
    set_one(&l, c, "mk", "v:mk");

    size_t pending = 0;
    outcome hit = {.pending = &pending}, miss = {.pending = &pending};
    submitted(c, mcf_async_get(c, MCF_GET, 0, KS("mk"), outcome_done, &hit), &pending);
    submitted(c, mcf_async_get(c, MCF_GET, 0, KS("never-set"), outcome_done, &miss), &pending);
    run_while(&l, c, &pending, NULL, NULL);
    CHECKF(hit.calls == 1 && hit.rc == MCF_OK && strcmp(hit.value, "v:mk") == 0,
           "hit: %d calls, rc %d, value '%s'", hit.calls, hit.rc, hit.value);
    CHECKF(miss.calls == 1 && miss.rc == MCF_MISS && !miss.had_value,
           "miss: %d calls, rc %d, value %s", miss.calls, miss.rc, miss.had_value ? "set" : "NULL");

    /* One multi-get of both: each key's own result, then done. */
    multi_outcome m = {.done = {.pending = &pending}};
    const char *keys[2] = {"mk", "never-set-either"};
    submitted(c, mcf_async_get_multi(c, MCF_GET, 0, keys, NULL, 2, multi_each, outcome_done, &m),
              &pending);
    run_while(&l, c, &pending, NULL, NULL);
    CHECKF(m.done.calls == 1 && m.done.rc == MCF_OK && !m.done.had_value,
           "multi done: %d calls, rc %d", m.done.calls, m.done.rc);
    CHECKF(m.calls[0] == 1 && m.rc[0] == MCF_OK && m.value_ok, "multi key 0: %d calls, rc %d",
           m.calls[0], m.rc[0]);
    CHECKF(m.calls[1] == 1 && m.rc[1] == MCF_MISS, "multi key 1: %d calls, rc %d", m.calls[1],
           m.rc[1]);
    CHECK(mcf_async_inflight(c) == 0);
out:
    mcf_free(c);
    CHECK(loop_armed(&l) == 0);
    check_client_fds_closed(&l);
    loop_close(&l);
    stop_n(srv, 1);
}

/* ------------------------------------------------------------------ */
/* Scenario: a deadline against a stopped server                       */
/* ------------------------------------------------------------------ */

static void scenario_timeout(loop_kind kind)
{
    mcserver srv[1];
    if (start_n(srv, 1, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    test_loop l;
    if (loop_open(&l, kind) < 0) {
        stop_n(srv, 1);
        return;
    }
    mcf_client *c = client_n(srv, 1);
    if (!c || loop_attach(&l, c) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "setup failed: %s", c ? mcf_last_error(c) : "no client");
        goto out;
    }
    CHECK_RC(mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, LONG_IO_TIMEOUT_MS), MCF_OK);
    set_one(&l, c, "warm", "v:warm"); /* the connection is up before the stop */

    mcserver_kill(&srv[0], SIGSTOP);
    CHECK(mcserver_proc_state(srv[0].pid) == 'T');
    size_t pending = 0;
    outcome first = {.pending = &pending}, behind = {.pending = &pending};
    double start = now_ms();
    mcf_request *r = mcf_async_get(c, MCF_GET, 0, KS("warm"), outcome_done, &first);
    if (submitted(c, r, &pending))
        mcf_async_set_timeout(r, SHORT_DEADLINE_MS);
    /* Queued behind it on the same connection, with the default deadline:
     * the reset connection fails it too. */
    submitted(c, mcf_async_get(c, MCF_GET, 0, KS("warm"), outcome_done, &behind), &pending);
    run_while(&l, c, &pending, NULL, NULL);

    CHECKF(first.calls == 1 && first.rc == MCF_ERR_TIMEOUT, "short deadline: %d calls, rc %d (%s)",
           first.calls, first.rc, first.error);
    CHECKF(first.calls == 0 || first.at_ms - start >= SHORT_DEADLINE_MS - TIMER_SLACK_MS,
           "timed out %.0f ms after the submit, before its %d ms deadline", first.at_ms - start,
           SHORT_DEADLINE_MS);
    char port[16];
    snprintf(port, sizeof port, "%d", srv[0].port);
    CHECKF(contains(first.error, port), "the error names the server: '%s'", first.error);
    CHECKF(behind.calls == 1 && behind.rc == MCF_ERR_TIMEOUT, "queued behind: %d calls, rc %d (%s)",
           behind.calls, behind.rc, behind.error);
    CHECKF(behind.calls == 0 || behind.at_ms - start < LONG_IO_TIMEOUT_MS / 2,
           "queued behind: failed %.0f ms after the submit, at its own deadline, not with the "
           "reset of the connection", behind.at_ms - start);
    CHECK(mcf_async_inflight(c) == 0);

    kill(srv[0].pid, SIGCONT);
    outcome after = {.pending = &pending};
    submitted(c, mcf_async_get(c, MCF_GET, 0, KS("warm"), outcome_done, &after), &pending);
    run_while(&l, c, &pending, NULL, NULL);
    CHECKF(after.calls == 1 && after.rc == MCF_OK && strcmp(after.value, "v:warm") == 0,
           "after SIGCONT: %d calls, rc %d (%s)", after.calls, after.rc, after.error);
    CHECKF(first.calls == 1 && behind.calls == 1, "a timed-out request completed again");
out:
    mcf_free(c);
    CHECK(loop_armed(&l) == 0);
    check_client_fds_closed(&l);
    loop_close(&l);
    stop_n(srv, 1);
}

/* ------------------------------------------------------------------ */
/* Scenario: detach and free while idle                                */
/* ------------------------------------------------------------------ */

#define IDLE_KEYS 10

static void get_through_loop(test_loop *l, mcf_client *c, const char *key, const char *want)
{
    size_t pending = 0;
    outcome o = {.pending = &pending};
    if (submitted(c, mcf_async_get(c, MCF_GET, 0, KS(key), outcome_done, &o), &pending))
        run_while(l, c, &pending, NULL, NULL);
    CHECKF(o.calls == 1 && o.rc == MCF_OK && strcmp(o.value, want) == 0,
           "get %s: %d calls, rc %d, '%s' (%s)", key, o.calls, o.rc, o.value, o.error);
}

static void scenario_idle(loop_kind kind)
{
    mcserver srv[3];
    if (start_n(srv, 3, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    test_loop l;
    if (loop_open(&l, kind) < 0) {
        stop_n(srv, 3);
        return;
    }
    mcf_client *c = client_n(srv, 3);
    if (!c || loop_attach(&l, c) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "setup failed: %s", c ? mcf_last_error(c) : "no client");
        goto out;
    }
    keyset ks;
    ks_make(&ks, IDLE_KEYS, "idle");
    char val[VALUE_CAP];
    for (size_t i = 0; i < ks.n; i++) { /* connects to every server */
        val_of(ks.k[i], val, sizeof val);
        set_one(&l, c, ks.k[i], val);
    }
    val_of(ks.k[0], val, sizeof val);
    get_through_loop(&l, c, ks.k[0], val);
    CHECK(mcf_async_inflight(c) == 0);

    if (kind != LOOP_POLL) {
        /* Idle, with open connections: detach. */
        CHECK_RC(mcf_async_set_loop(c, NULL), MCF_OK);
        CHECKF(loop_armed(&l) == 0, "after detaching the loop has %d of the client's watchers",
               loop_armed(&l));
        if (kind == LOOP_EPOLL)
            CHECKF(l.audit.detaches == 1 && l.audit.live == 0,
                   "detach callbacks %zu, fds still watched %zu", l.audit.detaches,
                   l.audit.live);
    }
    /* Nothing in flight: the blocking API works on the same client. */
    mcf_value v;
    for (size_t i = 0; i < ks.n; i++) {
        val_of(ks.k[i], val, sizeof val);
        int rc = mcf_get(c, KS(ks.k[i]), &v);
        CHECKF(rc == MCF_OK && v.len == strlen(val) && memcmp(v.data, val, v.len) == 0,
               "blocking get %s: rc %d (%s)", ks.k[i], rc, mcf_last_error(c));
    }
    /* Attached again, the loop drives it again. */
    CHECK_RC(loop_attach(&l, c), MCF_OK);
    for (size_t i = 0; i < ks.n; i++) {
        val_of(ks.k[i], val, sizeof val);
        get_through_loop(&l, c, ks.k[i], val);
    }
    ks_free(&ks);
out:
    mcf_free(c); /* idle: stops every watch, detaches */
    CHECKF(loop_armed(&l) == 0, "after mcf_free the loop has %d of the client's watchers",
           loop_armed(&l));
    if (kind == LOOP_EPOLL)
        CHECKF(l.audit.live == 0 && l.audit.detaches == 2 && l.audit.stops > 0,
               "after mcf_free: %zu fds watched, %zu detaches, %zu stops", l.audit.live,
               l.audit.detaches, l.audit.stops);
    check_client_fds_closed(&l);
    loop_close(&l);
    stop_n(srv, 3);
}

/* ------------------------------------------------------------------ */
/* The cases                                                           */
/* ------------------------------------------------------------------ */

TEST(libevent_bulk_1srv) { scenario_bulk(LOOP_LIBEVENT, 1, "le1"); }
TEST(libevent_bulk_3srv) { scenario_bulk(LOOP_LIBEVENT, 3, "le3"); }
TEST(libevent_miss) { scenario_miss(LOOP_LIBEVENT); }
TEST(libevent_timeout) { scenario_timeout(LOOP_LIBEVENT); }
TEST(libevent_idle_detach_free) { scenario_idle(LOOP_LIBEVENT); }

TEST(libuv_bulk_1srv) { scenario_bulk(LOOP_LIBUV, 1, "uv1"); }
TEST(libuv_bulk_3srv) { scenario_bulk(LOOP_LIBUV, 3, "uv3"); }
TEST(libuv_miss) { scenario_miss(LOOP_LIBUV); }
TEST(libuv_timeout) { scenario_timeout(LOOP_LIBUV); }
TEST(libuv_idle_detach_free) { scenario_idle(LOOP_LIBUV); }

TEST(libev_bulk_1srv) { scenario_bulk(LOOP_LIBEV, 1, "ev1"); }
TEST(libev_bulk_3srv) { scenario_bulk(LOOP_LIBEV, 3, "ev3"); }
TEST(libev_miss) { scenario_miss(LOOP_LIBEV); }
TEST(libev_timeout) { scenario_timeout(LOOP_LIBEV); }
TEST(libev_idle_detach_free) { scenario_idle(LOOP_LIBEV); }

TEST(poll_bulk_1srv) { scenario_bulk(LOOP_POLL, 1, "po1"); }
TEST(poll_bulk_3srv) { scenario_bulk(LOOP_POLL, 3, "po3"); }
TEST(poll_miss) { scenario_miss(LOOP_POLL); }
TEST(poll_timeout) { scenario_timeout(LOOP_POLL); }
TEST(poll_idle_free) { scenario_idle(LOOP_POLL); }

TEST(epoll_bulk_1srv) { scenario_bulk(LOOP_EPOLL, 1, "ep1"); }
TEST(epoll_bulk_3srv) { scenario_bulk(LOOP_EPOLL, 3, "ep3"); }
TEST(epoll_miss) { scenario_miss(LOOP_EPOLL); }
TEST(epoll_timeout) { scenario_timeout(LOOP_EPOLL); }
TEST(epoll_idle_detach_free) { scenario_idle(LOOP_EPOLL); }

/* ------------------------------------------------------------------ */
/* The example programs, end to end                                    */
/* ------------------------------------------------------------------ */

/* build/examples/NAME (MCF_BUILD, as tests/run.sh sets it). */
static void example_path(const char *name, char *out, size_t cap)
{
    const char *b = getenv("MCF_BUILD");
    snprintf(out, cap, "%s/examples/%s", b && *b ? b : "build", name);
}

/* Runs the command; its output (stderr too) into out.  Exit status, or -1. */
static int run_command(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(example_poll_runs)
{
    char prog[256];
    example_path("async_poll", prog, sizeof prog);
    SKIP_UNLESS(access(prog, X_OK) == 0, "examples not built (make examples)");
    mcserver srv[1];
    if (start_n(srv, 1, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    /* Two in flight over five keys: completions submit the rest. */
    char cmd[512], out[OUTPUT_CAP];
    snprintf(cmd, sizeof cmd, "%s -n 2 %s xa xb xc xd xe 2>&1", prog, srv[0].spec);
    int st = run_command(cmd, out, sizeof out);
    CHECKF(st == 0, "exit status %d, output: %s", st, out);
    const char *keys[] = {"xa", "xb", "xc", "xd", "xe"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char line[64];
        snprintf(line, sizeof line, "%s = value of %s\n", keys[i], keys[i]);
        CHECKF(contains(out, line), "no '%s' in: %s", keys[i], out);
    }
    CHECK(raw_has(&srv[0], "xc", "value of xc"));
    stop_n(srv, 1);
}

TEST(example_epoll_runs)
{
    char prog[256];
    example_path("async_epoll", prog, sizeof prog);
    SKIP_UNLESS(access(prog, X_OK) == 0, "examples not built (make examples)");
    mcserver srv[1];
    if (start_n(srv, 1, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    char cmd[512], out[OUTPUT_CAP];
    snprintf(cmd, sizeof cmd, "%s %s ya=1 yb=two ya yb yc 2>&1", prog, srv[0].spec);
    int st = run_command(cmd, out, sizeof out);
    CHECKF(st == 0, "exit status %d, output: %s", st, out);
    const char *want[] = {"set ya: stored\n", "set yb: stored\n", "ya = 1\n", "yb = two\n",
                          "yc: miss\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECKF(contains(out, want[i]), "no '%s' in: %s", want[i], out);
    stop_n(srv, 1);
}

int main(int argc, char **argv) { return client_tests_main(argc, argv); }
