/* c_mcfast.c - the workloads through mcfast's public API, each result checked. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mcfast.h"
#include "mcfast_async.h"

typedef struct getctx {
    const char *const *keys; /* the batch's keys, indexed like the request */
    unsigned hits, misses, bad;
} getctx;

/* async_get256: each slot of the window has one get in flight at a time;
 * its done callback checks the value and submits the slot's next key. */
typedef struct aslot {
    struct mstate *st;
    size_t key; /* index into g_kget of the key in flight */
} aslot;

typedef struct mstate {
    mcf_client *c;
    mcf_item items[BATCH];
    /* ---- async_get256 only ---- */
    runner *r;
    aslot slots[ASYNC_WINDOW];
    size_t inflight;      /* slots with a request in flight */
    uint64_t completed;   /* good hits since the runner was made */
    uint64_t wanted;      /* run() returns once completed reaches this */
    int draining;         /* sync: completions no longer submit */
    int closing;          /* mcf_free: callbacks (MCF_ERR_CANCELLED) do nothing */
    int failed;           /* r->err says why; nothing more is submitted */
    struct pollfd *fds;   /* mcf_async_pollset's output, grown on demand */
    size_t fds_cap;
} mstate;

static void on_value(void *p, size_t index, int rc, const mcf_value *v)
{
    getctx *g = p;
    if (rc == MCF_OK) {
        if (v->len == VLEN && memcmp(v->data, g->keys[index], KLEN) == 0)
            g->hits++;
        else
            g->bad++;
    } else if (rc == MCF_MISS) {
        g->misses++;
    } else {
        g->bad++;
    }
}

static int fail(runner *r, mcf_client *c, int rc, const char *what)
{
    snprintf(r->err, sizeof r->err, "mcfast %s: rc %d (%s): %s", what, rc, mcf_strerror(rc),
             mcf_last_error(c));
    return -1;
}

static int run_get(runner *r, uint64_t calls)
{
    mstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % g_nkeys);
        mcf_value v;
        int rc = mcf_get(st->c, g_kget[i], KLEN, &v);
        if (rc != MCF_OK || v.len != VLEN || memcmp(v.data, g_kget[i], KLEN) != 0)
            return fail(r, st->c, rc, "get: no hit or a wrong value");
    }
    return 0;
}

static int run_set(runner *r, uint64_t calls)
{
    mstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % g_nkeys);
        int rc = mcf_set(st->c, g_kset[i], KLEN, g_vset + i * VLEN, VLEN, 0, 0);
        if (rc != MCF_OK)
            return fail(r, st->c, rc, "set");
    }
    return 0;
}

/* One get_multi of keys[0..n-1]: every one a good hit (want_hits) or every
 * one a miss. */
static int multi_once(runner *r, const char *const *keys, size_t n, int want_hits)
{
    mstate *st = r->state;
    getctx g = {keys, 0, 0, 0};
    int rc = mcf_get_multi(st->c, MCF_GET, 0, keys, g_klens, n, on_value, &g);
    if (rc != MCF_OK || g.bad || (want_hits ? g.hits : g.misses) != n) {
        snprintf(r->err, sizeof r->err,
                 "mcfast get_multi: rc %d, %u hits, %u misses, %u bad of %zu (from %s): %s", rc,
                 g.hits, g.misses, g.bad, n, keys[0], mcf_last_error(st->c));
        return -1;
    }
    return 0;
}

static int run_get_multi(runner *r, uint64_t calls, const char **keyset, int want_hits)
{
    for (uint64_t n = 0; n < calls; n++)
        if (multi_once(r, keyset + next_batch(r), BATCH, want_hits) != 0)
            return -1;
    return 0;
}

static int run_scale(runner *r, uint64_t calls)
{
    const char **keys = g_kscale[scale_index(r->w)];
    for (uint64_t n = 0; n < calls; n++)
        if (multi_once(r, keys + next_scale_batch(r), SCALE_BATCH, 1) != 0)
            return -1;
    return 0;
}

static int run_getm(runner *r, uint64_t calls)
{
    return run_get_multi(r, calls, g_kget, 1);
}

static int run_missm(runner *r, uint64_t calls)
{
    return run_get_multi(r, calls, g_kmiss, 0);
}

static int run_setm(runner *r, uint64_t calls)
{
    mstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t base = next_batch(r);
        for (size_t j = 0; j < BATCH; j++) {
            mcf_item *it = &st->items[j];
            it->key = g_kset[base + j];
            it->value = g_vset + (base + j) * VLEN;
            it->rc = -1;
        }
        int rc = mcf_multi(st->c, MCF_OP_SET, st->items, BATCH, 0);
        if (rc != MCF_OK)
            return fail(r, st->c, rc, "multi set");
        for (size_t j = 0; j < BATCH; j++)
            if (st->items[j].rc != MCF_OK)
                return fail(r, st->c, st->items[j].rc, "multi set: an item was not stored");
    }
    return 0;
}

static int run_get64k(runner *r, uint64_t calls)
{
    mstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % NBIG);
        mcf_value v;
        int rc = mcf_get(st->c, g_kbig[i], KLEN, &v);
        if (rc != MCF_OK || v.len != BIGLEN || memcmp(v.data, g_kbig[i], KLEN) != 0 ||
            v.data[BIGLEN - 1] != g_vbig[i * BIGLEN + BIGLEN - 1])
            return fail(r, st->c, rc, "get 64k: no hit or a wrong value");
    }
    return 0;
}

/* ---- async_get256: ASYNC_WINDOW independent gets in flight ----
 *
 * The window is kept full across run() calls (a completion submits the
 * slot's next key), so a timed round measures the steady state, not
 * ramp-ups; sync() drains it at the end of the round, inside the timing.
 * The drained keys are not counted, so a round's rate errs low, by at
 * most ASYNC_WINDOW keys of a round's many thousands. */

static void async_fail(mstate *st, int rc, const char *what, size_t key)
{
    if (st->failed)
        return;
    st->failed = 1;
    snprintf(st->r->err, sizeof st->r->err, "mcfast %s (key %s): rc %d (%s): %s", what,
             g_kget[key], rc, mcf_strerror(rc), mcf_last_error(st->c));
}

static void on_async_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v,
                          void *arg);

/* Submits the next key of the run in slot s. */
static void async_submit(mstate *st, aslot *s)
{
    s->key = (size_t)(st->r->cursor++ % g_nkeys);
    if (!mcf_async_get(st->c, MCF_GET, 0, g_kget[s->key], KLEN, on_async_done, s)) {
        async_fail(st, MCF_ERR_ARG, "mcf_async_get refused the request", s->key);
        return;
    }
    st->inflight++;
}

static void on_async_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v,
                          void *arg)
{
    (void)c;
    (void)req;
    aslot *s = arg;
    mstate *st = s->st;
    st->inflight--;
    if (st->closing)
        return;
    if (rc != MCF_OK || !v || v->len != VLEN || memcmp(v->data, g_kget[s->key], KLEN) != 0) {
        async_fail(st, rc, rc == MCF_OK ? "async get: a wrong value" : "async get: no hit",
                   s->key);
        return;
    }
    st->completed++;
    if (!st->draining && !st->failed)
        async_submit(st, s);
}

/* One turn of a plain poll() loop, as an application without an event
 * library drives the client: what to wait for, poll, hand over. */
static int async_turn(runner *r)
{
    mstate *st = r->state;
    int timeout_ms = -1;
    size_t n = mcf_async_pollset(st->c, st->fds, st->fds_cap, &timeout_ms);
    if (n > st->fds_cap) {
        struct pollfd *p = realloc(st->fds, n * sizeof *p);
        if (!p) {
            snprintf(r->err, sizeof r->err, "mcfast async: out of memory for %zu pollfds", n);
            return -1;
        }
        st->fds = p;
        st->fds_cap = n;
        n = mcf_async_pollset(st->c, st->fds, st->fds_cap, &timeout_ms);
    }
    if (n == 0 && timeout_ms < 0) {
        /* Would block for ever: a library bug, reported rather than hung on. */
        snprintf(r->err, sizeof r->err,
                 "mcfast async: %zu requests in flight, but no fd to poll and no timer",
                 mcf_async_inflight(st->c));
        return -1;
    }
    if (poll(st->fds, (nfds_t)n, timeout_ms) < 0 && errno != EINTR) {
        snprintf(r->err, sizeof r->err, "mcfast async: poll: %s", strerror(errno));
        return -1;
    }
    mcf_async_process(st->c, st->fds, n);
    return st->failed ? -1 : 0;
}

static int run_async(runner *r, uint64_t calls)
{
    mstate *st = r->state;
    st->wanted += calls * ASYNC_WINDOW;
    /* Empty only before the first run and after a sync: otherwise every
     * completion has already put its slot back in flight. */
    if (st->inflight == 0)
        for (size_t i = 0; i < ASYNC_WINDOW && !st->failed; i++)
            async_submit(st, &st->slots[i]);
    while (st->completed < st->wanted) {
        if (st->failed || st->inflight == 0) {
            if (!st->failed)
                snprintf(r->err, sizeof r->err, "mcfast async: nothing in flight");
            return -1;
        }
        if (async_turn(r) != 0)
            return -1;
    }
    return 0;
}

/* The end of a round: the window's last requests complete (and are
 * checked) without new ones; the next run() refills every slot. */
static int sync_async(runner *r)
{
    mstate *st = r->state;
    st->draining = 1;
    int rc = 0;
    while (rc == 0 && st->inflight > 0)
        rc = async_turn(r);
    st->draining = 0;
    st->wanted = st->completed;
    return rc == 0 && !st->failed ? 0 : -1;
}

static void destroy(runner *r)
{
    mstate *st = r->state;
    if (st) {
        st->closing = 1;
        mcf_free(st->c);
        free(st->fds);
        free(st);
    }
}

runner *mcfast_runner(const workload *w)
{
    runner *r = calloc(1, sizeof *r);
    mstate *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return NULL;
    }
    r->client = "mcfast";
    r->w = w;
    r->state = st;
    r->destroy = destroy;
    st->r = r;
    for (size_t i = 0; i < ASYNC_WINDOW; i++)
        st->slots[i].st = st;
    st->c = mcf_new();
    char list[MAX_SRV * (sizeof g_srv[0].spec + 1)] = "";
    for (int i = 0; i < w->nsrv; i++) {
        strcat(list, i ? "," : "");
        strcat(list, srv_spec(i));
    }
    if (!st->c || mcf_set_servers(st->c, list) != MCF_OK) {
        fprintf(stderr, "bench: mcfast: cannot set servers %s\n", list);
        runner_free(r);
        return NULL;
    }
    for (size_t j = 0; j < BATCH; j++) {
        st->items[j].key_len = KLEN;
        st->items[j].value_len = VLEN;
    }
    const char *api = "";
    char async_api[200];
    snprintf(async_api, sizeof async_api,
             "mcf_async_get, %d in flight (each done callback checks its value and submits the "
             "next key), driven by mcf_async_pollset + poll() + mcf_async_process",
             ASYNC_WINDOW);
    switch (w->id) {
    case W_GET:
        r->run = run_get;
        api = "mcf_get";
        break;
    case W_SET:
        r->run = run_set;
        api = "mcf_set, reply checked";
        break;
    case W_GETM:
    case W_GETM4:
    case W_GETM_META:
        r->run = run_getm;
        api = "mcf_get_multi + callback";
        break;
    case W_MISSM:
        r->run = run_missm;
        api = "mcf_get_multi + callback (every key a miss)";
        break;
    case W_SCALE1:
    case W_SCALE8:
    case W_SCALE32:
        r->run = run_scale;
        api = "mcf_get_multi + callback";
        break;
    case W_SETM:
        r->run = run_setm;
        api = "mcf_multi(MCF_OP_SET), every item's reply checked";
        break;
    case W_GET64K:
        r->run = run_get64k;
        api = "mcf_get";
        break;
    case W_ASYNC:
    case W_ASYNC4:
        r->run = run_async;
        r->sync = sync_async;
        api = async_api;
        break;
    default:
        runner_free(r);
        return NULL;
    }
    int meta = w->id == W_GETM_META;
    if (meta && mcf_set_option(st->c, MCF_OPT_PROTOCOL, MCF_PROTO_META) != MCF_OK) {
        runner_free(r);
        return NULL;
    }
    int ketama = scale_index(w) >= 0;
    if (ketama && mcf_set_option(st->c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_LIBMEMCACHED) !=
                      MCF_OK) {
        runner_free(r);
        return NULL;
    }
    snprintf(r->label, sizeof r->label, meta ? "meta" : "text");
    snprintf(r->config, sizeof r->config, "%s, %s, %d server%s, %s (%s)", api,
             meta ? "meta protocol (quiet mg pipeline + mn; libmemcached and raw: text)"
                  : "text protocol",
             w->nsrv, w->nsrv > 1 ? "s" : "",
             ketama ? "MCF_OPT_DISTRIBUTION=MCF_DIST_KETAMA_LIBMEMCACHED, otherwise default options"
                    : "default options",
             ketama ? "libmemcached's weighted MD5 ketama"
             : w->nsrv > 1 ? "modula crc32" : "one server");
    return r;
}

