/* test_async.c - stress and fault tests of the async API (mcfast_async.h)
 * against real memcached processes, each case in the text and the meta
 * protocol.  Every request's done callback is counted in its own record
 * (the callback's arg), so "exactly once" is checked per request, and every
 * value names its key ("v:KEY", optionally padded from the key), so a value
 * handed to another request is caught.
 *
 *   many_in_flight: 5000 requests in flight at once over 4 servers: sets
 *     (single and 50-item multi), then gets/gets, 50 get_multi of 100 keys,
 *     two incrs per counter in flight, touch and delete (hits and misses),
 *     then gets again; also driven through mcf_async_pollset/process.
 *   autopipeline_256: 256 single-key gets in flight on one server all
 *     complete; the server's cmd_get went up by exactly 256.
 *   sigkill_mid_flight / sigstop_mid_flight: 4400 requests with 12 KB
 *     values; one server is SIGKILLed (SIGSTOPped) from a callback, after
 *     its first completions, while most of its replies are still coming.
 *     Every request completes once, with its own value or a typed error
 *     (IO, TIMEOUT, CONNECT), the other servers' requests all succeed; after
 *     mcserver_restart on the same port (SIGCONT) new requests succeed.
 *   cancel_before_loop / cancel_after_sent / cancel_from_callback: a
 *     cancelled request's callback never runs; cancelled before the loop it
 *     sends nothing (server stats), cancelled after it was written its reply
 *     is dropped and later requests on that server still get their own
 *     values; cancelling (and submitting) from another request's callback.
 *   deadline_stopped_server: a 200 ms deadline on a SIGSTOPped server ends
 *     with MCF_ERR_TIMEOUT within a generous bound, the request queued behind
 *     it on that connection times out with it (the contract's reset), a
 *     request on a healthy server with a long deadline is unaffected.
 *   bad_input: bad keys and oversize values make the submit return NULL,
 *     mcf_last_error() names the key, the server received nothing.
 *   blocking_while_inflight: blocking calls fail with MCF_ERR_ARG and send
 *     nothing while async requests are in flight; after the drain they work.
 *   free_with_inflight: mcf_free with requests in flight (some written to a
 *     SIGSTOPped server, some never written) gives each of them exactly one
 *     MCF_ERR_CANCELLED; file descriptors back to where they were; leaks
 *     are LeakSanitizer's (SANITIZE=address).
 *   fork_inflight: the parent forks with requests in flight (written to a
 *     SIGSTOPped server); the child works with its own keys, async and
 *     blocking; the parent completes its own requests: 0 wrong values.
 *   dead_server_in_fleet: a refused port among 4 live servers: its keys
 *     fail with MCF_ERR_CONNECT (the message names it) while the others'
 *     keys hit, in the same get_multi.
 *
 * Tests assert behaviour, not speed: every drive has a bound only to catch
 * a hang (RUN_BOUND_MS). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"

#define MAX_SRV 8
#define KEY_CAP 64
#define VAL_CAP 16384        /* the largest value a case builds (FAULT_PAD + key) */
#define RUN_BOUND_MS 30000   /* a drive that takes longer is a hang */
#define MSG_CAP 256
#define MAX_REPORTED 4       /* failing requests shown one by one */
#define KEY_SEARCH_MAX 100000 /* suffixes tried to place a key on a server */

/* rc values as bits of an allowed set. */
#define RC_BIT(rc) (UINT64_C(1) << (rc))
/* What a request to a server that failed under it may end with. */
#define FAULT_ERRS (RC_BIT(MCF_ERR_IO) | RC_BIT(MCF_ERR_TIMEOUT) | RC_BIT(MCF_ERR_CONNECT))

/* ------------------------------------------------------------------ */
/* values that name their key                                          */
/* ------------------------------------------------------------------ */

/* "v:KEY", and with pad > 0 "|" and pad letters derived from the key: a
 * value names its key, so one handed to another request is caught. */
static size_t value_for(const char *key, size_t pad, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "v:%s", key);
    if (n >= cap)
        return cap - 1;
    if (pad && n + 1 + pad < cap) {
        unsigned h = 0;
        for (const char *p = key; *p; p++)
            h = h * 31u + (unsigned char)*p;
        buf[n++] = '|';
        for (size_t j = 0; j < pad; j++)
            buf[n++] = (char)('a' + (h + j) % 26);
        buf[n] = 0;
    }
    return n;
}

static int value_is(const mcf_value *v, const char *key, size_t pad)
{
    char want[VAL_CAP];
    size_t n = value_for(key, pad, want, sizeof want);
    return v && v->len == n && memcmp(v->data, want, n) == 0;
}

/* What a wrong value looks like, for a FAIL line. */
static void describe_value(char *out, size_t cap, const char *key, int rc, const mcf_value *v)
{
    snprintf(out, cap, "key %s: rc %d (%s), value '%.*s'%s", key, rc, mcf_strerror(rc),
             v ? (int)(v->len < 60 ? v->len : 60) : 6, v ? v->data : "(null)",
             v && v->len > 60 ? "..." : "");
}

/* ------------------------------------------------------------------ */
/* servers and clients                                                 */
/* ------------------------------------------------------------------ */

/* A client for srv[0..n) in protocol proto; extra (a spec) is inserted at
 * position extra_at when not NULL.  NULL after a FAIL line. */
static mcf_client *fleet_client(mcserver *srv, int n, int proto, const char *extra,
                                int extra_at)
{
    char list[MAX_SRV * 200] = "";
    size_t off = 0;
    for (int i = 0; i <= n; i++) {
        if (extra && i == extra_at)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? "," : "", extra);
        if (i < n)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? "," : "",
                                    srv[i].spec);
    }
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, list) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_PROTOCOL, proto) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "client for '%s': %s", list,
               c ? mcf_last_error(c) : "no memory");
        mcf_free(c);
        return NULL;
    }
    return c;
}

/* A case's N servers in srv[] and a client c for them in protocol PROTO
 * (returns after a FAIL line when either cannot be had); TEARDOWN(N)
 * (fixtures.h) frees both. */
#define ASYNC_SETUP(N, PROTO)                                                       \
    mcserver srv[N];                                                                \
    if (start_n(srv, N, NULL) < 0) {                                                \
        t_fail(__FILE__, __LINE__, "cannot start %d memcached server(s)", N);       \
        return;                                                                     \
    }                                                                               \
    mcf_client *c = fleet_client(srv, N, PROTO, NULL, 0);                           \
    if (!c) {                                                                       \
        stop_n(srv, N);                                                             \
        return;                                                                     \
    }

static const char *proto_name(int proto) { return proto == MCF_PROTO_META ? "meta" : "text"; }

/* A key "PREFIX-J-N" that c places on server `want`; "" if none found. */
static void key_on(mcf_client *c, size_t want, const char *prefix, size_t j, char *key,
                   size_t cap)
{
    for (int n = 0; n < KEY_SEARCH_MAX; n++) {
        size_t s;
        snprintf(key, cap, "%s-%zu-%d", prefix, j, n);
        if (mcf_server_for_key(c, key, strlen(key), &s) == MCF_OK && s == want)
            return;
    }
    key[0] = 0;
}

static int server_of_key(mcf_client *c, const char *key)
{
    size_t s;
    return mcf_server_for_key(c, key, strlen(key), &s) == MCF_OK ? (int)s : -1;
}

/* Stores value_for(key, pad) for each key with blocking calls (batches of
 * STORE_BATCH); returns the number not stored. */
#define STORE_BATCH 200
static size_t store_all(mcf_client *c, char (*keys)[KEY_CAP], size_t n, size_t pad)
{
    static char vals[STORE_BATCH][VAL_CAP];
    mcf_item items[STORE_BATCH];
    size_t bad = 0;
    for (size_t from = 0; from < n; from += STORE_BATCH) {
        size_t m = n - from < STORE_BATCH ? n - from : STORE_BATCH;
        for (size_t i = 0; i < m; i++) {
            size_t vl = value_for(keys[from + i], pad, vals[i], sizeof vals[i]);
            items[i] = (mcf_item){.key = keys[from + i], .key_len = strlen(keys[from + i]),
                                  .value = vals[i], .value_len = vl, .rc = -1};
        }
        mcf_multi(c, MCF_OP_SET, items, m, 0);
        for (size_t i = 0; i < m; i++)
            bad += items[i].rc != MCF_OK;
    }
    return bad;
}

/* ------------------------------------------------------------------ */
/* driving                                                             */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* request records: one per request, the done callback's arg           */
/* ------------------------------------------------------------------ */

enum rq_kind { RQ_GET, RQ_STORE, RQ_ITEM, RQ_ARITH_EX };

struct book;
typedef struct rq {
    struct book *b;
    int kind;
    char key[KEY_CAP];
    size_t klen;
    size_t pad;     /* value_for padding of the key's value */
    int server;     /* the key's server */
    int gets;       /* a gets/gats: a hit carries a cas */
    uint64_t allow; /* RC_BIT()s the result may be */
    mcf_request *h; /* from the submit until the done callback */
    int calls;      /* done callbacks */
    int rc;
    int cancelled;
    int value_ok;
    double t_submit, t_done;
    char *val; /* a store's value, the caller's until the done callback */
    size_t vlen;
    mcf_item item;     /* a one-item mcf_async_multi */
    uint64_t number;   /* mcf_async_arith_ex's new value */
    mcf_item_info info;
} rq;

typedef struct book {
    rq *r;
    size_t cap, used;
    mcf_client *c;
    size_t done;                  /* done callbacks, all requests */
    size_t server_done[MAX_SRV];  /* done callbacks per key's server */
    size_t wrong;                 /* a hit whose value is not its key's */
    size_t stray;                 /* twice, after a cancel, or a foreign handle */
    size_t wrong_seen, stray_seen; /* already reported by book_check */
    char first_wrong[MSG_CAP], first_stray[MSG_CAP], first_error[MSG_CAP];
    int record_msgs;              /* keep mcf_last_error() of the first error */
    void (*after_done)(struct book *, rq *); /* runs at the end of each done */
    /* after_done's fault injection */
    mcserver *srv;
    int fault_server, fault_sig, fault_fired;
    size_t fault_after, fault_pending;
} book;

static void book_init(book *b, mcf_client *c, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->c = c;
    b->cap = cap;
    b->r = calloc(cap, sizeof *b->r);
    b->record_msgs = 1;
    b->fault_server = -1;
}

static void book_free(book *b)
{
    for (size_t i = 0; b->r && i < b->used; i++)
        free(b->r[i].val);
    free(b->r);
    b->r = NULL;
}

/* A fresh record for a request on key (NULL when the book is full). */
static rq *rq_new(book *b, int kind, const char *key, uint64_t allow)
{
    if (!b->r || b->used == b->cap)
        return NULL;
    rq *r = &b->r[b->used++];
    memset(r, 0, sizeof *r);
    r->b = b;
    r->kind = kind;
    snprintf(r->key, sizeof r->key, "%s", key);
    r->klen = strlen(r->key);
    r->server = server_of_key(b->c, r->key);
    r->allow = allow;
    r->rc = -1;
    return r;
}

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    rq *r = arg;
    book *b = r->b;
    r->calls++;
    b->done++;
    if (r->calls > 1 || r->cancelled || req != r->h) {
        if (!b->stray++)
            snprintf(b->first_stray, sizeof b->first_stray,
                     "key %s: callback %d, cancelled %d, handle %s", r->key, r->calls,
                     r->cancelled, req == r->h ? "right" : "foreign");
    }
    r->rc = rc;
    r->t_done = now_ms();
    if (r->server >= 0 && r->server < MAX_SRV)
        b->server_done[r->server]++;
    if (r->kind == RQ_GET && rc == MCF_OK) {
        r->value_ok = value_is(v, r->key, r->pad) && (!r->gets || v->cas != 0);
        if (!r->value_ok && !b->wrong++)
            describe_value(b->first_wrong, sizeof b->first_wrong, r->key, rc, v);
    } else if (v && !b->wrong++) {
        describe_value(b->first_wrong, sizeof b->first_wrong, r->key, rc, v);
    }
    if (mcf_is_error(rc) && b->record_msgs && !b->first_error[0])
        snprintf(b->first_error, sizeof b->first_error, "key %s: %s: %s", r->key,
                 mcf_strerror(rc), mcf_last_error(c));
    r->h = NULL;
    if (b->after_done)
        b->after_done(b, r);
}

static int submit_get(rq *r, mcf_get_mode mode, size_t pad)
{
    r->pad = pad;
    r->gets = mode == MCF_GETS || mode == MCF_GATS;
    r->t_submit = now_ms();
    r->h = mcf_async_get(r->b->c, mode, 0, r->key, r->klen, on_done, r);
    return r->h != NULL;
}

static int submit_store(rq *r, size_t pad)
{
    r->kind = RQ_STORE;
    r->pad = pad;
    if (!r->val)
        r->val = malloc(VAL_CAP);
    if (!r->val)
        return 0;
    r->vlen = value_for(r->key, pad, r->val, VAL_CAP);
    r->t_submit = now_ms();
    r->h = mcf_async_store(r->b->c, MCF_SET, r->key, r->klen, r->val, r->vlen, 0, 0, 0, 0,
                           on_done, r);
    return r->h != NULL;
}

/* incr, decr, delete or touch of the one key, as a one-item multi. */
static int submit_item(rq *r, mcf_op op, uint64_t delta)
{
    r->kind = RQ_ITEM;
    r->item = (mcf_item){.key = r->key, .key_len = r->klen, .delta = delta, .rc = -1};
    r->t_submit = now_ms();
    r->h = mcf_async_multi(r->b->c, op, &r->item, 1, 0, on_done, r);
    return r->h != NULL;
}

static void rq_cancel(rq *r)
{
    mcf_async_cancel(r->b->c, r->h);
    r->cancelled = 1;
    r->h = NULL;
}

/* The result a request ended with: a one-item multi's item rc. */
static int rq_result(const rq *r) { return r->kind == RQ_ITEM ? r->item.rc : r->rc; }

static int allowed(uint64_t allow, int rc) { return rc >= 0 && rc < 64 && (allow & RC_BIT(rc)); }

/* Every record in [from, to): not cancelled -> one callback with an allowed
 * result (a one-item multi's done rc is its item's error, or no error);
 * cancelled ->
 * no callback.  Plus the book's wrong values and stray callbacks.  Returns
 * the number of bad records. */
static size_t book_check(book *b, size_t from, size_t to, const char *what)
{
    size_t bad = 0;
    for (size_t i = from; i < to && i < b->used; i++) {
        rq *r = &b->r[i];
        int res = rq_result(r);
        const char *why = NULL;
        if (r->cancelled)
            why = r->calls ? "callback after its cancel" : NULL;
        else if (r->calls != 1)
            why = r->calls ? "more than one callback" : "no callback";
        else if (!allowed(r->allow, res))
            why = "result not allowed";
        else if (r->kind == RQ_ITEM && (mcf_is_error(res) ? r->rc != res : mcf_is_error(r->rc)))
            why = "done rc disagrees with the item's"; /* exactly: multi_done_rc */
        if (!why)
            continue;
        if (++bad <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__, "%s: key %s (server %d): %s: %d callback(s), rc %d (%s)%s",
                   what, r->key, r->server, why, r->calls, res, mcf_strerror(res),
                   r->kind == RQ_ITEM ? " (item)" : "");
    }
    CHECKF(bad == 0, "%s: %zu of %zu requests ended wrongly; first error: %s", what, bad,
           to - from, b->first_error);
    /* Wrong values and stray callbacks since the last check: */
    CHECKF(b->wrong == b->wrong_seen, "%s: %zu wrong values; first of all: %s", what,
           b->wrong - b->wrong_seen, b->first_wrong);
    CHECKF(b->stray == b->stray_seen, "%s: %zu stray callbacks; first of all: %s", what,
           b->stray - b->stray_seen, b->first_stray);
    b->wrong_seen = b->wrong;
    b->stray_seen = b->stray;
    return bad;
}

/* Results of records [from, to) by rc, for INFO lines. */
static void rc_summary(const book *b, size_t from, size_t to, int server, char *out, size_t cap)
{
    size_t n[MCF_ERR_LAST + 1] = {0}, other = 0;
    for (size_t i = from; i < to && i < b->used; i++) {
        if (server >= 0 && b->r[i].server != server)
            continue;
        int res = rq_result(&b->r[i]);
        if (res >= 0 && res <= MCF_ERR_LAST)
            n[res]++;
        else
            other++;
    }
    size_t off = 0;
    out[0] = 0;
    for (int rc = 0; rc <= MCF_ERR_LAST; rc++)
        if (n[rc])
            off += (size_t)snprintf(out + off, off < cap ? cap - off : 0, "%s%zu %s",
                                    off ? ", " : "", n[rc], mcf_strerror(rc));
    if (other)
        snprintf(out + off, off < cap ? cap - off : 0, "%s%zu none", off ? ", " : "", other);
}

/* ------------------------------------------------------------------ */
/* get_multi records                                                   */
/* ------------------------------------------------------------------ */

typedef struct gmrq {
    const char **keys;
    size_t n, pad;
    int *calls, *rc;
    uint64_t *allow;     /* per key */
    char (*msg)[MSG_CAP]; /* mcf_last_error() in an error key's callback */
    size_t wrong, out_of_range, after_done;
    int done_calls, done_rc;
    mcf_request *h;
    char first_wrong[MSG_CAP];
} gmrq;

static void gm_new(gmrq *g, size_t n, size_t pad)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->pad = pad;
    g->keys = calloc(n, sizeof *g->keys);
    g->calls = calloc(n, sizeof *g->calls);
    g->rc = calloc(n, sizeof *g->rc);
    g->allow = calloc(n, sizeof *g->allow);
    g->msg = calloc(n, sizeof *g->msg);
    g->done_rc = -1;
}

static void gm_del(gmrq *g)
{
    free(g->keys);
    free(g->calls);
    free(g->rc);
    free(g->allow);
    free(g->msg);
}

static void on_each(mcf_client *c, mcf_request *req, size_t i, int rc, const mcf_value *v,
                    void *arg)
{
    gmrq *g = arg;
    (void)req;
    if (i >= g->n) {
        g->out_of_range++;
        return;
    }
    g->calls[i]++;
    g->rc[i] = rc;
    g->after_done += g->done_calls > 0;
    if (rc == MCF_OK ? !value_is(v, g->keys[i], g->pad) : v != NULL) {
        if (!g->wrong++)
            describe_value(g->first_wrong, sizeof g->first_wrong, g->keys[i], rc, v);
    }
    if (mcf_is_error(rc))
        snprintf(g->msg[i], sizeof g->msg[i], "%s", mcf_last_error(c));
}

static void on_gm_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    gmrq *g = arg;
    (void)c;
    g->done_calls++;
    g->done_rc = rc;
    if (v || req != g->h)
        g->wrong++;
    g->h = NULL;
}

static int gm_submit(mcf_client *c, gmrq *g, mcf_get_mode mode)
{
    g->h = mcf_async_get_multi(c, mode, 0, g->keys, NULL, g->n, on_each, on_gm_done, g);
    return g->h != NULL;
}

/* One callback per key with an allowed rc, one done, no wrong value. */
static size_t gm_check(const gmrq *g, const char *what)
{
    size_t bad = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (g->calls[i] == 1 && allowed(g->allow[i], g->rc[i]))
            continue;
        if (++bad <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__, "%s: key %s: %d callback(s), rc %d (%s) %s", what,
                   g->keys[i], g->calls[i], g->rc[i], mcf_strerror(g->rc[i]), g->msg[i]);
    }
    CHECKF(g->done_calls == 1, "%s: %d done callbacks", what, g->done_calls);
    CHECKF(g->wrong == 0 && g->out_of_range == 0 && g->after_done == 0,
           "%s: %zu wrong values (first: %s), %zu indexes out of range, %zu key callbacks "
           "after done",
           what, g->wrong, g->first_wrong, g->out_of_range, g->after_done);
    return bad;
}

/* ------------------------------------------------------------------ */
/* many_in_flight                                                      */
/* ------------------------------------------------------------------ */

#define FLEET 4
#define MANY 5000
#define MULTI_SET_BATCH 50   /* items per mcf_async_multi SET in the set phase */
#define GM_REQS 50           /* get_multi requests in flight together */
#define NCTR 1000            /* counters, two incrs each in flight */
#define CTR_SPACING 1000     /* counter i starts at i * CTR_SPACING: a result names its key */
#define NMISSING 100         /* touch/delete/incr of keys that do not exist */

static void many_case(int proto, int how)
{
    ASYNC_SETUP(FLEET, proto);
    static char keys[MANY][KEY_CAP];
    for (size_t i = 0; i < MANY; i++)
        snprintf(keys[i], KEY_CAP, "many-%s-%zu", proto_name(proto), i);
    book b;
    book_init(&b, c, 4 * MANY + 4 * NCTR + 4 * NMISSING);
    char summary[512];

    /* sets: half single stores, half 50-item multis, all in flight */
    static mcf_item items[MANY];
    static char vals[MANY][KEY_CAP + 8];
    size_t first = b.used, nsubmit = 0, failed = 0;
    for (size_t i = 0; i < MANY / 2; i++) {
        rq *r = rq_new(&b, RQ_STORE, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_store(r, 0));
        nsubmit++;
    }
    for (size_t from = MANY / 2; from < MANY; from += MULTI_SET_BATCH) {
        for (size_t i = from; i < from + MULTI_SET_BATCH && i < MANY; i++) {
            size_t vl = value_for(keys[i], 0, vals[i], sizeof vals[i]);
            items[i] = (mcf_item){.key = keys[i], .key_len = strlen(keys[i]), .value = vals[i],
                                  .value_len = vl, .rc = -1};
        }
        rq *r = rq_new(&b, RQ_STORE, keys[from], RC_BIT(MCF_OK));
        size_t m = MANY - from < MULTI_SET_BATCH ? MANY - from : MULTI_SET_BATCH;
        if (r) {
            r->t_submit = now_ms();
            r->h = mcf_async_multi(c, MCF_OP_SET, &items[from], m, 0, on_done, r);
        }
        failed += !(r && r->h);
        nsubmit++;
    }
    CHECKF(failed == 0, "set phase: %zu of %zu submits refused: %s", failed, nsubmit,
           mcf_last_error(c));
    CHECKF(mcf_async_inflight(c) == nsubmit - failed, "in flight after the submits: %zu, want %zu",
           mcf_async_inflight(c), nsubmit - failed);
    double t0 = now_ms();
    size_t left = drive(c, how, RUN_BOUND_MS);
    CHECKF(left == 0, "set phase: %zu requests still in flight after %d ms", left, RUN_BOUND_MS);
    book_check(&b, first, b.used, "set phase");
    size_t items_bad = 0;
    for (size_t i = MANY / 2; i < MANY; i++)
        items_bad += items[i].rc != MCF_OK;
    CHECKF(items_bad == 0, "set phase: %zu multi-set items not stored", items_bad);
    printf("INFO: %s: set phase: %zu requests (%zu keys) in %.0f ms\n", t_case_name, nsubmit,
           (size_t)MANY, now_ms() - t0);

    /* gets and gets: MANY in flight */
    first = b.used;
    failed = 0;
    for (size_t i = 0; i < MANY; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, i % 3 == 0 ? MCF_GETS : MCF_GET, 0));
    }
    CHECKF(failed == 0, "get phase: %zu submits refused: %s", failed, mcf_last_error(c));
    CHECKF(mcf_async_inflight(c) == MANY - failed, "in flight: %zu, want %zu",
           mcf_async_inflight(c), (size_t)MANY - failed);
    t0 = now_ms();
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(left == 0, "get phase: %zu still in flight", left);
    book_check(&b, first, b.used, "get phase");
    printf("INFO: %s: get phase: %d gets in %.0f ms\n", t_case_name, MANY, now_ms() - t0);

    /* get_multi: GM_REQS requests, request j has keys i with i % GM_REQS == j
     * plus one missing key */
    gmrq multis[GM_REQS];
    char missing[GM_REQS][KEY_CAP];
    failed = 0;
    for (size_t j = 0; j < GM_REQS; j++) {
        size_t per = MANY / GM_REQS;
        gm_new(&multis[j], per + 1, 0);
        for (size_t k = 0; k < per; k++) {
            multis[j].keys[k] = keys[k * GM_REQS + j];
            multis[j].allow[k] = RC_BIT(MCF_OK);
        }
        snprintf(missing[j], KEY_CAP, "many-%s-missing-%zu", proto_name(proto), j);
        multis[j].keys[per] = missing[j];
        multis[j].allow[per] = RC_BIT(MCF_MISS);
        failed += !gm_submit(c, &multis[j], j % 2 ? MCF_GETS : MCF_GET);
    }
    CHECKF(failed == 0, "get_multi phase: %zu submits refused: %s", failed, mcf_last_error(c));
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(left == 0, "get_multi phase: %zu still in flight", left);
    size_t gm_bad = 0;
    for (size_t j = 0; j < GM_REQS; j++) {
        gm_bad += gm_check(&multis[j], "get_multi phase");
        CHECKF(multis[j].done_rc == MCF_OK, "get_multi %zu: done rc %d (%s)", j, multis[j].done_rc,
               mcf_strerror(multis[j].done_rc));
        gm_del(&multis[j]);
    }
    CHECKF(gm_bad == 0, "get_multi phase: %zu keys wrong", gm_bad);

    /* counters: two incrs per counter in flight; one-item multis, and in meta
     * also mcf_async_arith_ex */
    static char ctr[NCTR][KEY_CAP];
    for (size_t i = 0; i < NCTR; i++)
        snprintf(ctr[i], KEY_CAP, "many-%s-ctr-%zu", proto_name(proto), i);
    failed = 0;
    first = b.used;
    for (size_t i = 0; i < NCTR; i++) {
        rq *r = rq_new(&b, RQ_STORE, ctr[i], RC_BIT(MCF_OK));
        if (!r || !(r->val = malloc(KEY_CAP))) {
            failed++;
            continue;
        }
        r->vlen = (size_t)snprintf(r->val, KEY_CAP, "%zu", i * CTR_SPACING);
        r->h = mcf_async_store(c, MCF_SET, r->key, r->klen, r->val, r->vlen, 0, 0, 0, 0, on_done,
                               r);
        failed += !r->h;
    }
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "counter sets: %zu refused, %zu still in flight", failed,
           left);
    book_check(&b, first, b.used, "counter sets");
    size_t incr_first = b.used;
    for (size_t i = 0; i < NCTR; i++) {
        for (int second = 0; second < 2; second++) {
            uint64_t d = second ? 10 + i % 5 : 1 + i % 7;
            rq *r = rq_new(&b, RQ_ITEM, ctr[i], RC_BIT(MCF_OK));
            if (!r) {
                failed++;
                continue;
            }
            if (proto == MCF_PROTO_META && second) {
                r->kind = RQ_ARITH_EX;
                r->h = mcf_async_arith_ex(c, 1, r->key, r->klen, d, NULL, &r->number, &r->info,
                                          on_done, r);
            } else {
                submit_item(r, MCF_OP_INCR, d);
            }
            failed += !r->h;
        }
    }
    char incr_missing[NMISSING][KEY_CAP];
    for (size_t i = 0; i < NMISSING; i++) {
        snprintf(incr_missing[i], KEY_CAP, "many-%s-noctr-%zu", proto_name(proto), i);
        rq *r = rq_new(&b, RQ_ITEM, incr_missing[i], RC_BIT(MCF_NOT_FOUND));
        failed += !(r && submit_item(r, MCF_OP_INCR, 1));
    }
    CHECKF(failed == 0, "incr phase: %zu submits refused: %s", failed, mcf_last_error(c));
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(left == 0, "incr phase: %zu still in flight", left);
    book_check(&b, incr_first, b.used, "incr phase");
    /* Either incr may be applied first; both results must be this
     * counter's: {base+d1, base+d1+d2} or {base+d2, base+d1+d2}. */
    size_t crossed = 0;
    for (size_t i = 0; i < NCTR; i++) {
        const rq *r1 = &b.r[incr_first + 2 * i], *r2 = &b.r[incr_first + 2 * i + 1];
        uint64_t base = i * CTR_SPACING, d1 = 1 + i % 7, d2 = 10 + i % 5;
        uint64_t n1 = r1->item.number, n2 = r2->kind == RQ_ARITH_EX ? r2->number : r2->item.number;
        int ok = (n1 == base + d1 && n2 == base + d1 + d2) ||
                 (n2 == base + d2 && n1 == base + d1 + d2);
        if (!ok && ++crossed <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__,
                   "counter %s: incrs by %" PRIu64 " and %" PRIu64 " from %" PRIu64
                   " gave %" PRIu64 " and %" PRIu64,
                   ctr[i], d1, d2, base, n1, n2);
    }
    CHECKF(crossed == 0, "incr phase: %zu counters with results not their own", crossed);

    /* touch every key (hits) and missing ones; then delete the even keys
     * and missing ones */
    first = b.used;
    failed = 0;
    char gone[NMISSING][KEY_CAP];
    for (size_t i = 0; i < NMISSING; i++)
        snprintf(gone[i], KEY_CAP, "many-%s-gone-%zu", proto_name(proto), i);
    for (size_t i = 0; i < MANY; i++) {
        rq *r = rq_new(&b, RQ_ITEM, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_item(r, MCF_OP_TOUCH, 0));
    }
    for (size_t i = 0; i < NMISSING; i++) {
        rq *r = rq_new(&b, RQ_ITEM, gone[i], RC_BIT(MCF_NOT_FOUND));
        failed += !(r && submit_item(r, MCF_OP_TOUCH, 0));
    }
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "touch phase: %zu refused, %zu still in flight", failed, left);
    book_check(&b, first, b.used, "touch phase");
    rc_summary(&b, first, b.used, -1, summary, sizeof summary);
    printf("INFO: %s: touch phase: %s\n", t_case_name, summary);

    first = b.used;
    for (size_t i = 0; i < MANY; i += 2) {
        rq *r = rq_new(&b, RQ_ITEM, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_item(r, MCF_OP_DELETE, 0));
    }
    for (size_t i = 0; i < NMISSING; i++) {
        rq *r = rq_new(&b, RQ_ITEM, gone[i], RC_BIT(MCF_NOT_FOUND));
        failed += !(r && submit_item(r, MCF_OP_DELETE, 0));
    }
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "delete phase: %zu refused, %zu still in flight", failed,
           left);
    book_check(&b, first, b.used, "delete phase");

    /* gets again: even keys are gone, odd keys keep their values */
    first = b.used;
    for (size_t i = 0; i < MANY; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(i % 2 ? MCF_OK : MCF_MISS));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "final gets: %zu refused, %zu still in flight", failed, left);
    book_check(&b, first, b.used, "final gets");
    printf("INFO: %s: %zu requests, %zu done callbacks, %zu wrong values\n", t_case_name, b.used,
           b.done, b.wrong);
    book_free(&b);
    TEARDOWN(FLEET);
}

TEST(many_in_flight_text) { many_case(MCF_PROTO_TEXT, DRIVE_RUN); }
TEST(many_in_flight_meta) { many_case(MCF_PROTO_META, DRIVE_RUN); }
TEST(many_in_flight_pollset_text) { many_case(MCF_PROTO_TEXT, DRIVE_POLLSET); }
TEST(many_in_flight_pollset_meta) { many_case(MCF_PROTO_META, DRIVE_POLLSET); }

/* ------------------------------------------------------------------ */
/* multi_done_rc: a multi's done rc is MCF_OK or the first error       */
/* ------------------------------------------------------------------ */

/* mcfast_async.h: multi-key requests complete with "MCF_OK, or the first
 * error met (as the blocking call would return)", and mcf_multi returns
 * MCF_OK when no item has an error (NOT_FOUND, NOT_STORED are outcomes).
 * The same for one item ("a single incr, delete or touch is a one-item
 * array") as for two. */
enum { MD_ONE_INCR, MD_ONE_DELETE, MD_ONE_TOUCH, MD_ONE_ADD, MD_TWO_DELETE, MD_TWO_ADD, MD_N };

static void multi_done_rc_case(int proto)
{
    ASYNC_SETUP(1, proto);
    char exists[KEY_CAP], none[MD_N][2][KEY_CAP];
    snprintf(exists, sizeof exists, "md-%s-exists", proto_name(proto));
    CHECK_RC(mcf_set(c, exists, strlen(exists), "1", 1, 0, 0), MCF_OK);
    static const char *const what[MD_N] = {"one-item incr of a missing key",
                                           "one-item delete of a missing key",
                                           "one-item touch of a missing key",
                                           "one-item add of an existing key",
                                           "two-item delete of missing keys",
                                           "two-item add of existing keys"};
    static const mcf_op op[MD_N] = {MCF_OP_INCR, MCF_OP_DELETE, MCF_OP_TOUCH,
                                    MCF_OP_ADD,  MCF_OP_DELETE, MCF_OP_ADD};
    static const size_t nitems[MD_N] = {1, 1, 1, 1, 2, 2};
    static const int item_rc[MD_N] = {MCF_NOT_FOUND, MCF_NOT_FOUND, MCF_NOT_FOUND,
                                      MCF_NOT_STORED, MCF_NOT_FOUND, MCF_NOT_STORED};
    mcf_item items[MD_N][2], blocking[MD_N][2];
    book b;
    book_init(&b, c, MD_N);
    rq *r[MD_N];
    for (int m = 0; m < MD_N; m++) {
        for (size_t i = 0; i < nitems[m]; i++) {
            snprintf(none[m][i], KEY_CAP, "md-%s-none-%d-%zu", proto_name(proto), m, i);
            const char *k = op[m] == MCF_OP_ADD ? exists : none[m][i];
            items[m][i] = (mcf_item){.key = k, .key_len = strlen(k), .value = "2",
                                     .value_len = 1, .delta = 1, .rc = -1};
            blocking[m][i] = items[m][i];
        }
        int brc = mcf_multi(c, op[m], blocking[m], nitems[m], 0);
        CHECKF(brc == MCF_OK && blocking[m][0].rc == item_rc[m],
               "premise: blocking %s: rc %d (%s), item rc %d", what[m], brc, mcf_strerror(brc),
               blocking[m][0].rc);
    }
    /* then the same requests async (no blocking call while they are in flight) */
    for (int m = 0; m < MD_N; m++) {
        r[m] = rq_new(&b, RQ_ITEM, items[m][0].key, RC_BIT(item_rc[m]));
        if (r[m])
            r[m]->h = mcf_async_multi(c, op[m], items[m], nitems[m], 0, on_done, r[m]);
        CHECKF(r[m] && r[m]->h, "%s: submit refused: %s", what[m], mcf_last_error(c));
    }
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu still in flight", left);
    for (int m = 0; m < MD_N; m++) {
        if (!r[m] || !r[m]->calls)
            continue;
        CHECKF(items[m][0].rc == item_rc[m], "%s: item rc %d (%s), want %d", what[m],
               items[m][0].rc, mcf_strerror(items[m][0].rc), item_rc[m]);
        CHECKF(r[m]->rc == MCF_OK,
               "%s: done rc %d (%s), want MCF_OK as mcf_multi returns (no item has an error)",
               what[m], r[m]->rc, mcf_strerror(r[m]->rc));
    }
    book_free(&b);
    TEARDOWN(1);
}

TEST(multi_done_rc_text) { multi_done_rc_case(MCF_PROTO_TEXT); }
TEST(multi_done_rc_meta) { multi_done_rc_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* autopipeline_256                                                    */
/* ------------------------------------------------------------------ */

#define PIPELINED 256

static void autopipeline_case(int proto)
{
    ASYNC_SETUP(1, proto);
    static char keys[PIPELINED][KEY_CAP];
    for (size_t i = 0; i < PIPELINED; i++)
        snprintf(keys[i], KEY_CAP, "pipe-%s-%zu", proto_name(proto), i);
    CHECKF(store_all(c, keys, PIPELINED, 0) == 0, "storing the keys: %s", mcf_last_error(c));
    long long gets0 = raw_stat(&srv[0], NULL, "cmd_get");
    long long hits0 = raw_stat(&srv[0], NULL, "get_hits");
    book b;
    book_init(&b, c, PIPELINED);
    size_t failed = 0;
    for (size_t i = 0; i < PIPELINED; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    CHECKF(mcf_async_inflight(c) == PIPELINED, "in flight: %zu, want %d", mcf_async_inflight(c),
           PIPELINED);
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu gets still in flight", left);
    book_check(&b, 0, b.used, "pipelined gets");
    long long gets1 = raw_stat(&srv[0], NULL, "cmd_get");
    long long hits1 = raw_stat(&srv[0], NULL, "get_hits");
    CHECKF(gets1 - gets0 == PIPELINED && hits1 - hits0 == PIPELINED,
           "server: cmd_get +%lld, get_hits +%lld, want +%d each", gets1 - gets0, hits1 - hits0,
           PIPELINED);
    book_free(&b);
    TEARDOWN(1);
}

TEST(autopipeline_256_text) { autopipeline_case(MCF_PROTO_TEXT); }
TEST(autopipeline_256_meta) { autopipeline_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* async_after_blocking: async requests on a connection a blocking call  */
/* used before                                                           */
/* ------------------------------------------------------------------ */

/* Each round: a blocking multi set of PIPELINED keys, then PIPELINED async
 * gets of them on the same connection.  Every get completes with its own
 * value (none times out: the server answered them all). */
#define AB_ROUNDS 5

static void async_after_blocking_case(int proto)
{
    ASYNC_SETUP(1, proto);
    static char keys[AB_ROUNDS][PIPELINED][KEY_CAP];
    book b;
    book_init(&b, c, AB_ROUNDS * PIPELINED);
    size_t rounds_bad = 0;
    for (size_t round = 0; round < AB_ROUNDS; round++) {
        for (size_t i = 0; i < PIPELINED; i++)
            snprintf(keys[round][i], KEY_CAP, "ab-%s-%zu-%zu", proto_name(proto), round, i);
        /* one blocking call over all the keys, as an application would */
        static char vals[PIPELINED][KEY_CAP + 8];
        mcf_item items[PIPELINED];
        for (size_t i = 0; i < PIPELINED; i++) {
            size_t vl = value_for(keys[round][i], 0, vals[i], sizeof vals[i]);
            items[i] = (mcf_item){.key = keys[round][i], .key_len = strlen(keys[round][i]),
                                  .value = vals[i], .value_len = vl, .rc = -1};
        }
        CHECK_RC(mcf_multi(c, MCF_OP_SET, items, PIPELINED, 0), MCF_OK);
        size_t first = b.used, failed = 0;
        for (size_t i = 0; i < PIPELINED; i++) {
            rq *r = rq_new(&b, RQ_GET, keys[round][i], RC_BIT(MCF_OK));
            failed += !(r && submit_get(r, MCF_GET, 0));
        }
        size_t left = mcf_async_run(c, RUN_BOUND_MS);
        CHECKF(failed == 0 && left == 0, "round %zu: %zu refused, %zu in flight", round, failed,
               left);
        rounds_bad += book_check(&b, first, b.used, "async gets after a blocking call") > 0;
    }
    printf("INFO: %s: %zu of %d rounds with gets that did not complete with their value: %s\n",
           t_case_name, rounds_bad, AB_ROUNDS, b.first_error);
    book_free(&b);
    TEARDOWN(1);
}

TEST(async_after_blocking_text) { async_after_blocking_case(MCF_PROTO_TEXT); }
TEST(async_after_blocking_meta) { async_after_blocking_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* ex_opts_lifetime: what a submit must keep valid                      */
/* ------------------------------------------------------------------ */

/* mcfast_async.h: "keys, values and mcf_item arrays given to a submit stay
 * the caller's and must stay valid until the request's done callback";
 * an mcf_meta_opts is not among them, so the caller may reuse it once the
 * submit returns.  Each _ex call's opts is rewritten right after its
 * submit with options that would change its outcome (a new TTL; a CAS
 * that does not match); the requests must run as they were submitted. */
#define EXO_TTL_AFTER 100 /* seconds; the key was stored without a TTL */
#define EXO_WRONG_CAS 1   /* no item's CAS */
enum { EXO_GET, EXO_DELETE, EXO_INCR, EXO_N };

static void ex_opts_lifetime_case(void)
{
    ASYNC_SETUP(1, MCF_PROTO_META);
    char k[EXO_N][KEY_CAP];
    for (int i = 0; i < EXO_N; i++)
        snprintf(k[i], KEY_CAP, "exo-%d", i);
    char v0[KEY_CAP];
    size_t v0len = value_for(k[EXO_GET], 0, v0, sizeof v0);
    CHECK_RC(mcf_set(c, k[EXO_GET], strlen(k[EXO_GET]), v0, v0len, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, k[EXO_DELETE], strlen(k[EXO_DELETE]), "x", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, k[EXO_INCR], strlen(k[EXO_INCR]), "5", 1, 0, 0), MCF_OK);
    book b;
    book_init(&b, c, EXO_N);
    mcf_meta_opts opts[EXO_N] = {{.flags = MCF_META_GET_TTL}, {.flags = 0}, {.flags = 0}};
    rq *r[EXO_N];
    r[EXO_GET] = rq_new(&b, RQ_GET, k[EXO_GET], RC_BIT(MCF_OK));
    r[EXO_DELETE] = rq_new(&b, RQ_STORE, k[EXO_DELETE], RC_BIT(MCF_OK));
    r[EXO_INCR] = rq_new(&b, RQ_ARITH_EX, k[EXO_INCR], RC_BIT(MCF_OK));
    if (r[EXO_GET])
        r[EXO_GET]->h = mcf_async_get_ex(c, k[EXO_GET], strlen(k[EXO_GET]), &opts[EXO_GET],
                                         &r[EXO_GET]->info, on_done, r[EXO_GET]);
    if (r[EXO_DELETE])
        r[EXO_DELETE]->h = mcf_async_delete_ex(c, k[EXO_DELETE], strlen(k[EXO_DELETE]),
                                               &opts[EXO_DELETE], on_done, r[EXO_DELETE]);
    if (r[EXO_INCR])
        r[EXO_INCR]->h = mcf_async_arith_ex(c, 1, k[EXO_INCR], strlen(k[EXO_INCR]), 1,
                                            &opts[EXO_INCR], &r[EXO_INCR]->number, NULL,
                                            on_done, r[EXO_INCR]);
    for (int i = 0; i < EXO_N; i++)
        CHECKF(r[i] && r[i]->h, "submit %d refused: %s", i, mcf_last_error(c));
    /* the caller's structs, reused after the submits */
    opts[EXO_GET] = (mcf_meta_opts){.flags = MCF_META_SET_TTL, .ttl = EXO_TTL_AFTER};
    opts[EXO_DELETE] = (mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = EXO_WRONG_CAS};
    opts[EXO_INCR] = (mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = EXO_WRONG_CAS};
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu still in flight", left);
    book_check(&b, 0, b.used, "_ex requests whose opts were rewritten after the submit");
    CHECKF(r[EXO_GET] && r[EXO_GET]->info.ttl == -1,
           "get_ex asked for the TTL: info.ttl %" PRId64 ", want -1 (never expires)",
           r[EXO_GET] ? r[EXO_GET]->info.ttl : 0);
    long ttl = raw_ttl(&srv[0], k[EXO_GET]);
    CHECKF(ttl == -1, "the key's TTL is now %ld: the get ran with the options written after "
           "its submit", ttl);
    CHECKF(r[EXO_INCR] && r[EXO_INCR]->number == 6, "arith_ex gave %" PRIu64 ", want 6",
           r[EXO_INCR] ? r[EXO_INCR]->number : 0);
    book_free(&b);
    TEARDOWN(1);
}

TEST(ex_opts_lifetime_meta) { ex_opts_lifetime_case(); }

/* ------------------------------------------------------------------ */
/* servers SIGKILLed / SIGSTOPped mid-flight                           */
/* ------------------------------------------------------------------ */

#define FAULT_KEYS 4000        /* gets over the fleet */
#define FAULT_STORE_EVERY 10   /* and a store of a new key after every 10th get */
#define FAULT_PAD 12000        /* 12 KB values: the fault server's replies (~13 MB) are more
                                  than the sockets buffer, so most are still to come when
                                  its first ones arrive */
#define FAULT_SERVER 2
#define FAULT_AFTER 10         /* the fault comes at the fault server's 10th completion */
#define KILL_DEADLINE_MS 5000  /* fault server's requests: long enough not to matter */
#define STOP_DEADLINE_MS 1500  /* fault server's requests while it is stopped */
#define LONG_DEADLINE_MS 20000 /* the healthy servers' requests */
#define WAVE2_KEYS 400         /* new requests after the restart */

static void fault_hook(book *b, rq *r)
{
    if (b->fault_fired || r->server != b->fault_server ||
        b->server_done[b->fault_server] < b->fault_after)
        return;
    b->fault_fired = 1;
    for (size_t i = 0; i < b->used; i++)
        b->fault_pending += b->r[i].server == b->fault_server && !b->r[i].calls;
    /* mcserver_kill waits until a SIGSTOPped server is stopped. */
    mcserver_kill(&b->srv[b->fault_server], b->fault_sig);
}

static void fault_case(int proto, int sig)
{
    ASYNC_SETUP(FLEET, proto);
    const char *sname = sig == SIGKILL ? "kill" : "stop";
    static char keys[FAULT_KEYS][KEY_CAP];
    for (size_t i = 0; i < FAULT_KEYS; i++)
        snprintf(keys[i], KEY_CAP, "f%s-%s-%zu", sname, proto_name(proto), i);
    size_t unstored = store_all(c, keys, FAULT_KEYS, FAULT_PAD);
    CHECKF(unstored == 0, "preload: %zu keys not stored: %s", unstored, mcf_last_error(c));

    book b;
    book_init(&b, c, FAULT_KEYS + FAULT_KEYS / FAULT_STORE_EVERY + 2 * WAVE2_KEYS);
    b.srv = srv;
    b.fault_server = FAULT_SERVER;
    b.fault_sig = sig;
    b.fault_after = FAULT_AFTER;
    b.after_done = fault_hook;
    size_t failed = 0;
    for (size_t i = 0; i < FAULT_KEYS; i++) {
        int on_fault = server_of_key(c, keys[i]) == FAULT_SERVER;
        uint64_t allow = RC_BIT(MCF_OK) | (on_fault ? FAULT_ERRS : 0);
        int deadline = !on_fault ? LONG_DEADLINE_MS
                       : sig == SIGKILL ? KILL_DEADLINE_MS
                                        : STOP_DEADLINE_MS;
        rq *r = rq_new(&b, RQ_GET, keys[i], allow);
        if (!(r && submit_get(r, MCF_GET, FAULT_PAD))) {
            failed++;
            continue;
        }
        mcf_async_set_timeout(r->h, deadline);
        if (i % FAULT_STORE_EVERY == FAULT_STORE_EVERY - 1) {
            char k[KEY_CAP];
            snprintf(k, sizeof k, "f%s-%s-new-%zu", sname, proto_name(proto), i);
            on_fault = server_of_key(c, k) == FAULT_SERVER;
            r = rq_new(&b, RQ_STORE, k, RC_BIT(MCF_OK) | (on_fault ? FAULT_ERRS : 0));
            if (!(r && submit_store(r, FAULT_PAD))) {
                failed++;
                continue;
            }
            mcf_async_set_timeout(r->h, !on_fault ? LONG_DEADLINE_MS
                                        : sig == SIGKILL ? KILL_DEADLINE_MS
                                                         : STOP_DEADLINE_MS);
        }
    }
    size_t wave1 = b.used;
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    double t0 = now_ms();
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    double el = now_ms() - t0;
    CHECKF(left == 0, "%zu requests still in flight after %d ms", left, RUN_BOUND_MS);
    book_check(&b, 0, wave1, "mid-flight");
    size_t fault_errors = 0;
    for (size_t i = 0; i < wave1; i++)
        fault_errors += b.r[i].server == FAULT_SERVER && mcf_is_error(rq_result(&b.r[i]));
    char summary[512];
    rc_summary(&b, 0, wave1, FAULT_SERVER, summary, sizeof summary);
    printf("INFO: %s: %zu requests in %.0f ms; SIG%s server %d after %d of its completions, "
           "with %zu of its requests pending: %s; first error: %s\n",
           t_case_name, wave1, el, sig == SIGKILL ? "KILL" : "STOP", FAULT_SERVER, FAULT_AFTER,
           b.fault_pending, summary, b.first_error);
    CHECKF(b.fault_fired && b.fault_pending > 0,
           "premise: the fault came with %zu requests pending on the server (fired %d)",
           b.fault_pending, b.fault_fired);
    CHECKF(fault_errors > 0, "premise: no request of the faulty server failed");

    /* after the restart (same port) or SIGCONT, new requests succeed */
    b.after_done = NULL;
    if (sig == SIGKILL)
        CHECKF(mcserver_restart(&srv[FAULT_SERVER]) == 0, "restart of server %d failed",
               FAULT_SERVER);
    else
        kill(srv[FAULT_SERVER].pid, SIGCONT);
    size_t w2 = b.used;
    for (size_t i = 0; i < WAVE2_KEYS; i++) {
        char k[KEY_CAP];
        snprintf(k, sizeof k, "f%s-%s-w2-%zu", sname, proto_name(proto), i);
        rq *r = rq_new(&b, RQ_STORE, k, RC_BIT(MCF_OK));
        failed += !(r && submit_store(r, FAULT_PAD));
    }
    left = mcf_async_run(c, RUN_BOUND_MS);
    size_t w2_gets = b.used;
    for (size_t i = w2; i < w2_gets; i++) {
        rq *r = rq_new(&b, RQ_GET, b.r[i].key, RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, FAULT_PAD));
    }
    left += mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "after recovery: %zu refused, %zu still in flight", failed,
           left);
    book_check(&b, w2, b.used, "after recovery");
    size_t w2_fault = 0;
    for (size_t i = w2; i < b.used; i++)
        w2_fault += b.r[i].server == FAULT_SERVER;
    CHECKF(w2_fault > 0, "premise: no new request went to the recovered server");
    if (sig == SIGSTOP) { /* its data survived: the old keys read back too */
        size_t old = b.used;
        for (size_t i = 0; i < FAULT_KEYS && b.used < b.cap; i++)
            if (server_of_key(c, keys[i]) == FAULT_SERVER) {
                rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
                failed += !(r && submit_get(r, MCF_GET, FAULT_PAD));
            }
        left = mcf_async_run(c, RUN_BOUND_MS);
        CHECKF(failed == 0 && left == 0, "old keys after SIGCONT: %zu refused, %zu in flight",
               failed, left);
        book_check(&b, old, b.used, "old keys after SIGCONT");
    }
    book_free(&b);
    TEARDOWN(FLEET);
}

TEST(sigkill_mid_flight_text) { fault_case(MCF_PROTO_TEXT, SIGKILL); }
TEST(sigkill_mid_flight_meta) { fault_case(MCF_PROTO_META, SIGKILL); }
TEST(sigstop_mid_flight_text) { fault_case(MCF_PROTO_TEXT, SIGSTOP); }
TEST(sigstop_mid_flight_meta) { fault_case(MCF_PROTO_META, SIGSTOP); }

/* ------------------------------------------------------------------ */
/* cancel                                                              */
/* ------------------------------------------------------------------ */

#define CANCEL_GETS 20
#define CANCEL_STORES 10
#define CANCEL_ITEMS 5
#define SHORT_RUN_MS 200 /* drives that have nothing to wait for */

/* Server counters a request of each kind moves. */
typedef struct cmd_stats {
    long long get, set, touch, incr, delete_;
} cmd_stats;

static cmd_stats stats_of(const mcserver *s)
{
    cmd_stats st;
    st.get = raw_stat(s, NULL, "cmd_get");
    st.set = raw_stat(s, NULL, "cmd_set");
    st.touch = raw_stat(s, NULL, "cmd_touch");
    st.incr = raw_stat(s, NULL, "incr_hits") + raw_stat(s, NULL, "incr_misses");
    st.delete_ = raw_stat(s, NULL, "delete_hits") + raw_stat(s, NULL, "delete_misses");
    return st;
}

static void cancel_before_loop_case(int proto)
{
    ASYNC_SETUP(1, proto);
    char keep[KEY_CAP], val[KEY_CAP + 8];
    snprintf(keep, sizeof keep, "cb-%s-keep", proto_name(proto));
    size_t vl = value_for(keep, 0, val, sizeof val);
    CHECK_RC(mcf_set(c, keep, strlen(keep), val, vl, 0, 0), MCF_OK); /* connected */
    cmd_stats st0 = stats_of(&srv[0]);
    long long pd = probe_delta(&srv[0]);
    long long bytes0 = bytes_read(&srv[0]);

    book b;
    book_init(&b, c, CANCEL_GETS + CANCEL_STORES + 3 * CANCEL_ITEMS + 1);
    size_t failed = 0;
    for (size_t i = 0; i < CANCEL_GETS; i++) {
        rq *r = rq_new(&b, RQ_GET, keep, 0);
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    for (size_t i = 0; i < CANCEL_STORES; i++) {
        char k[KEY_CAP];
        snprintf(k, sizeof k, "cb-%s-new-%zu", proto_name(proto), i);
        rq *r = rq_new(&b, RQ_STORE, k, 0);
        failed += !(r && submit_store(r, 0));
    }
    for (size_t i = 0; i < CANCEL_ITEMS; i++) {
        static const mcf_op ops[] = {MCF_OP_DELETE, MCF_OP_TOUCH, MCF_OP_INCR};
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            rq *r = rq_new(&b, RQ_ITEM, keep, 0);
            failed += !(r && submit_item(r, ops[o], 1));
        }
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    size_t submitted = b.used;
    CHECKF(mcf_async_inflight(c) == submitted, "in flight %zu, want %zu", mcf_async_inflight(c),
           submitted);
    for (size_t i = 0; i < b.used; i++)
        if (b.r[i].h)
            rq_cancel(&b.r[i]);
    CHECKF(mcf_async_inflight(c) == 0, "in flight after cancelling all: %zu",
           mcf_async_inflight(c));
    size_t left = mcf_async_run(c, SHORT_RUN_MS);
    long long bytes1 = bytes_read(&srv[0]);
    CHECKF(left == 0, "%zu in flight after the cancels and a run", left);
    CHECKF(b.done == 0, "%zu callbacks of cancelled requests", b.done);
    CHECKF(bytes1 - bytes0 == pd, "the server read %lld bytes, want %lld (its own stats probe)",
           bytes1 - bytes0, pd);

    /* the client still works; nothing cancelled was applied */
    rq *r = rq_new(&b, RQ_GET, keep, RC_BIT(MCF_OK));
    CHECK(r && submit_get(r, MCF_GET, 0));
    left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "the last get still in flight");
    book_check(&b, 0, b.used, "cancel before the loop");
    cmd_stats st1 = stats_of(&srv[0]);
    CHECKF(st1.get - st0.get == 1 && st1.set == st0.set && st1.touch == st0.touch &&
               st1.incr == st0.incr && st1.delete_ == st0.delete_,
           "server counters moved: get +%lld (want +1), set +%lld, touch +%lld, incr +%lld, "
           "delete +%lld (want 0)",
           st1.get - st0.get, st1.set - st0.set, st1.touch - st0.touch, st1.incr - st0.incr,
           st1.delete_ - st0.delete_);
    CHECKF(raw_has(&srv[0], keep, val), "the kept key was changed");
    book_free(&b);
    TEARDOWN(1);
}

TEST(cancel_before_loop_text) { cancel_before_loop_case(MCF_PROTO_TEXT); }
TEST(cancel_before_loop_meta) { cancel_before_loop_case(MCF_PROTO_META); }

#define SENT_GETS 40
#define SENT_STORES 6
#define STAGE_STEP_MS 20    /* one drive step while waiting for bytes to reach the server */
#define STAGE_MAX_MS 5000   /* the requests must reach the stopped server by then */

/* Drives c in short steps until the stopped server s has received request
 * bytes and the count stopped growing; returns them (0: never reached). */
static uint64_t drive_until_received(mcf_client *c, const mcserver *s)
{
    uint64_t unread = 0, prev = 0, unsent;
    double end = now_ms() + STAGE_MAX_MS;
    while (now_ms() < end) {
        mcf_async_run(c, STAGE_STEP_MS);
        if (mcserver_tcp_queues(s, &unread, &unsent) < 0)
            return 0;
        if (unread > 0 && unread == prev)
            return unread;
        prev = unread;
    }
    return unread;
}

static void cancel_after_sent_case(int proto)
{
    ASYNC_SETUP(1, proto);
    static char keys[SENT_GETS][KEY_CAP];
    for (size_t i = 0; i < SENT_GETS; i++)
        snprintf(keys[i], KEY_CAP, "cs-%s-%zu", proto_name(proto), i);
    CHECKF(store_all(c, keys, SENT_GETS, 0) == 0, "preload: %s", mcf_last_error(c));
    long long gets0 = raw_stat(&srv[0], NULL, "cmd_get");
    mcserver_kill(&srv[0], SIGSTOP);

    book b;
    book_init(&b, c, 2 * SENT_GETS + SENT_STORES);
    size_t failed = 0;
    for (size_t i = 0; i < SENT_GETS; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
        if (r && r->h)
            mcf_async_set_timeout(r->h, LONG_DEADLINE_MS);
    }
    for (size_t i = 0; i < SENT_STORES; i++) {
        char k[KEY_CAP];
        snprintf(k, sizeof k, "cs-%s-new-%zu", proto_name(proto), i);
        rq *r = rq_new(&b, RQ_STORE, k, RC_BIT(MCF_OK));
        failed += !(r && submit_store(r, 0));
        if (r && r->h)
            mcf_async_set_timeout(r->h, LONG_DEADLINE_MS);
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    size_t wave_a = b.used;
    uint64_t received = drive_until_received(c, &srv[0]);
    CHECKF(received > 0, "premise: the requests never reached the stopped server");
    CHECKF(b.done == 0, "%zu requests completed while the server was stopped", b.done);
    /* cancel every odd get and every store, now that they are written */
    size_t ncancelled = 0;
    for (size_t i = 0; i < wave_a; i++)
        if (b.r[i].h && (b.r[i].kind == RQ_STORE || i % 2)) {
            rq_cancel(&b.r[i]);
            ncancelled++;
        }
    CHECKF(mcf_async_inflight(c) == wave_a - ncancelled, "in flight %zu, want %zu",
           mcf_async_inflight(c), wave_a - ncancelled);
    kill(srv[0].pid, SIGCONT);
    /* later requests on the same server */
    for (size_t i = 0; i < SENT_GETS; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[SENT_GETS - 1 - i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(failed == 0 && left == 0, "%zu refused, %zu still in flight", failed, left);
    book_check(&b, 0, b.used, "cancel after sent");
    long long gets1 = raw_stat(&srv[0], NULL, "cmd_get");
    printf("INFO: %s: %" PRIu64 " request bytes on the stopped server, %zu cancelled; server "
           "cmd_get +%lld\n",
           t_case_name, received, ncancelled, gets1 - gets0);
    /* the cancelled gets were written, so the server executed them */
    CHECKF(gets1 - gets0 == 2 * SENT_GETS, "server cmd_get +%lld, want +%d (written, cancelled "
           "gets are still executed)", gets1 - gets0, 2 * SENT_GETS);
    book_free(&b);
    TEARDOWN(1);
}

TEST(cancel_after_sent_text) { cancel_after_sent_case(MCF_PROTO_TEXT); }
TEST(cancel_after_sent_meta) { cancel_after_sent_case(MCF_PROTO_META); }

/* The same for incr, touch and delete: written to a stopped server, then
 * cancelled; a kept incr among them, and a two-item incr and a get behind
 * them on the same connection, get their own results. */
enum { CI_INCR, CI_INCR_MISSING, CI_TOUCH, CI_DELETE_MISSING, CI_ARITH_EX, CI_KEPT_INCR,
       CI_BEHIND_1, CI_BEHIND_2, CI_N };
#define CI_CANCELLED CI_KEPT_INCR /* the first CI_CANCELLED are cancelled */

static void cancel_after_sent_items_case(int proto)
{
    ASYNC_SETUP(1, proto);
    char ctr[CI_N][KEY_CAP];
    for (int i = 0; i < CI_N; i++) {
        snprintf(ctr[i], KEY_CAP, "ci-%s-%d", proto_name(proto), i);
        char v[32];
        int n = snprintf(v, sizeof v, "%d", i * CTR_SPACING);
        if (i != CI_INCR_MISSING && i != CI_DELETE_MISSING)
            CHECK_RC(mcf_set(c, ctr[i], strlen(ctr[i]), v, (size_t)n, 0, 0), MCF_OK);
    }
    char probe_key[KEY_CAP];
    snprintf(probe_key, sizeof probe_key, "ci-%s-probe", proto_name(proto));
    CHECKF(store_all(c, &probe_key, 1, 0) == 0, "preload: %s", mcf_last_error(c));
    mcserver_kill(&srv[0], SIGSTOP);
    book b;
    book_init(&b, c, CI_N + 1);
    rq *r[CI_N] = {0};
    static const mcf_op op[CI_KEPT_INCR + 1] = {MCF_OP_INCR, MCF_OP_INCR, MCF_OP_TOUCH,
                                                MCF_OP_DELETE, MCF_OP_INCR, MCF_OP_INCR};
    size_t failed = 0;
    for (int i = 0; i <= CI_KEPT_INCR; i++) {
        r[i] = rq_new(&b, RQ_ITEM, ctr[i], i == CI_KEPT_INCR ? RC_BIT(MCF_OK) : 0);
        if (!r[i]) {
            failed++;
            continue;
        }
        if (i == CI_ARITH_EX && proto == MCF_PROTO_META) {
            r[i]->kind = RQ_ARITH_EX;
            r[i]->h = mcf_async_arith_ex(c, 1, r[i]->key, r[i]->klen, 1, NULL, &r[i]->number,
                                         NULL, on_done, r[i]);
        } else {
            submit_item(r[i], op[i], 1);
        }
        failed += !r[i]->h;
        if (r[i]->h)
            mcf_async_set_timeout(r[i]->h, LONG_DEADLINE_MS);
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    uint64_t received = drive_until_received(c, &srv[0]);
    CHECKF(received > 0, "premise: the requests never reached the stopped server");
    CHECKF(b.done == 0, "%zu requests completed while the server was stopped", b.done);
    for (int i = 0; i < CI_CANCELLED; i++)
        if (r[i] && r[i]->h)
            rq_cancel(r[i]);
    kill(srv[0].pid, SIGCONT);
    mcf_item behind[2] = {{.key = ctr[CI_BEHIND_1], .key_len = strlen(ctr[CI_BEHIND_1]), .delta = 1,
                           .rc = -1},
                          {.key = ctr[CI_BEHIND_2], .key_len = strlen(ctr[CI_BEHIND_2]), .delta = 1,
                           .rc = -1}};
    r[CI_BEHIND_1] = rq_new(&b, RQ_STORE, ctr[CI_BEHIND_1], RC_BIT(MCF_OK)); /* done rc only */
    if (r[CI_BEHIND_1])
        r[CI_BEHIND_1]->h = mcf_async_multi(c, MCF_OP_INCR, behind, 2, 0, on_done, r[CI_BEHIND_1]);
    rq *g = rq_new(&b, RQ_GET, probe_key, RC_BIT(MCF_OK));
    CHECK(r[CI_BEHIND_1] && r[CI_BEHIND_1]->h && g && submit_get(g, MCF_GET, 0));
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu still in flight", left);
    book_check(&b, 0, b.used, "cancelled incr/touch/delete after sent");
    uint64_t kept = r[CI_KEPT_INCR] ? r[CI_KEPT_INCR]->item.number : 0;
    CHECKF(kept == (uint64_t)CI_KEPT_INCR * CTR_SPACING + 1,
           "the kept incr among the cancelled ones gave %" PRIu64 ", want %d", kept,
           CI_KEPT_INCR * CTR_SPACING + 1);
    for (int k = 0; k < 2; k++) {
        uint64_t want = (uint64_t)(CI_BEHIND_1 + k) * CTR_SPACING + 1;
        CHECKF(behind[k].rc == MCF_OK && behind[k].number == want,
               "two-item incr behind the cancelled requests: item %d rc %d (%s) = %" PRIu64
               ", want %" PRIu64 ": %s",
               k, behind[k].rc, mcf_strerror(behind[k].rc), behind[k].number, want,
               b.first_error);
    }
    book_free(&b);
    TEARDOWN(1);
}

TEST(cancel_after_sent_items_text) { cancel_after_sent_items_case(MCF_PROTO_TEXT); }
TEST(cancel_after_sent_items_meta) { cancel_after_sent_items_case(MCF_PROTO_META); }

/* cancel_from_callback: the first request's callback cancels requests
 * queued behind it on its own server and on another one, submits two
 * more, and cancels one of those at once. */
enum { CB_FIRST, CB_VICTIM_SAME, CB_KEPT_SAME, CB_VICTIM_OTHER, CB_KEPT_OTHER, CB_VICTIM_LATE,
       CB_NREQ };
#define CB_NEW 2 /* requests submitted from the callback */

typedef struct cb_ctx {
    book b;
    mcserver *other; /* stopped until the canceller ran: its requests are in flight then */
    rq *req[CB_NREQ];
    rq *fresh[CB_NEW];
    char fresh_key[CB_NEW][KEY_CAP];
} cb_ctx;

static cb_ctx g_cb;

static void canceller_hook(book *b, rq *r)
{
    if (r != g_cb.req[CB_FIRST])
        return;
    b->after_done = NULL;
    rq_cancel(g_cb.req[CB_VICTIM_SAME]);
    rq_cancel(g_cb.req[CB_VICTIM_OTHER]);
    rq_cancel(g_cb.req[CB_VICTIM_LATE]);
    kill(g_cb.other->pid, SIGCONT);
    for (int i = 0; i < CB_NEW; i++) {
        g_cb.fresh[i] = rq_new(b, RQ_GET, g_cb.fresh_key[i], RC_BIT(MCF_OK));
        if (g_cb.fresh[i])
            submit_get(g_cb.fresh[i], MCF_GET, 0);
    }
    if (g_cb.fresh[0] && g_cb.fresh[0]->h)
        rq_cancel(g_cb.fresh[0]);
}

static void cancel_from_callback_case(int proto)
{
    ASYNC_SETUP(2, proto);
    memset(&g_cb, 0, sizeof g_cb);
    char keys[CB_NREQ + CB_NEW][KEY_CAP];
    /* server 0: first, victim, kept, late victim; server 1: victim, kept */
    static const int on_server[CB_NREQ] = {0, 0, 0, 1, 1, 0};
    char pfx[32];
    snprintf(pfx, sizeof pfx, "cc-%s", proto_name(proto));
    for (int i = 0; i < CB_NREQ; i++)
        key_on(c, (size_t)on_server[i], pfx, (size_t)i, keys[i], KEY_CAP);
    for (int i = 0; i < CB_NEW; i++) {
        key_on(c, (size_t)i, pfx, (size_t)(CB_NREQ + i), keys[CB_NREQ + i], KEY_CAP);
        snprintf(g_cb.fresh_key[i], KEY_CAP, "%s", keys[CB_NREQ + i]);
    }
    CHECKF(store_all(c, keys, CB_NREQ + CB_NEW, 0) == 0, "preload: %s", mcf_last_error(c));
    book_init(&g_cb.b, c, CB_NREQ + CB_NEW + 1);
    g_cb.b.after_done = canceller_hook;
    /* Nothing orders server 1's replies after the first request's: stopped,
     * its requests are still in flight when the callback cancels one. */
    g_cb.other = &srv[1];
    mcserver_kill(&srv[1], SIGSTOP);
    size_t failed = 0;
    for (int i = 0; i < CB_NREQ; i++) {
        g_cb.req[i] = rq_new(&g_cb.b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(g_cb.req[i] && submit_get(g_cb.req[i], MCF_GET, 0));
    }
    if (failed) {
        CHECKF(0, "%zu submits refused: %s", failed, mcf_last_error(c));
        book_free(&g_cb.b);
        TEARDOWN(2);
        return;
    }
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    kill(srv[1].pid, SIGCONT); /* if the callback never ran */
    CHECKF(left == 0, "%zu still in flight", left);
    CHECKF(g_cb.fresh[0] && g_cb.fresh[1] && g_cb.fresh[1]->calls == 1,
           "the requests submitted from the callback: %s",
           g_cb.fresh[1] ? "the kept one did not complete" : "not submitted");
    book_check(&g_cb.b, 0, g_cb.b.used, "cancel from a callback");
    /* the same server still answers in order after the dropped replies */
    rq *r = rq_new(&g_cb.b, RQ_GET, keys[CB_VICTIM_SAME], RC_BIT(MCF_OK));
    CHECK(r && submit_get(r, MCF_GET, 0));
    left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0 && r && r->calls == 1 && r->rc == MCF_OK && r->value_ok,
           "a get after the cancels: rc %d", r ? r->rc : -1);
    book_free(&g_cb.b);
    TEARDOWN(2);
}

TEST(cancel_from_callback_text) { cancel_from_callback_case(MCF_PROTO_TEXT); }
TEST(cancel_from_callback_meta) { cancel_from_callback_case(MCF_PROTO_META); }

/* cancel_in_failing_queue: requests A and B wait on a server whose connect
 * is refused; when the library fails that server's queue, A's callback
 * cancels B (still in the queue being failed) and submits C, a get on a
 * live server.  C must get its own value, D after it too, and the client
 * must not hang.  Run in a child so a hang fails the case. */
enum { FQ_A, FQ_B, FQ_C, FQ_D, FQ_N };
#define FQ_BOUND_MS 10000 /* it takes milliseconds; a hang fails after this */

typedef struct fq_report {
    int calls[FQ_N], rc[FQ_N], value_ok[FQ_N];
    long left;
    char msg[FQ_N][MSG_CAP];
} fq_report;

typedef struct fq_state {
    mcf_client *c;
    char key[FQ_N][KEY_CAP];
    mcf_request *h[FQ_N];
    fq_report rep;
} fq_state;

static fq_state g_fq;

static void fq_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req;
    int who = (int)(intptr_t)arg;
    g_fq.rep.calls[who]++;
    g_fq.rep.rc[who] = rc;
    g_fq.rep.value_ok[who] = rc == MCF_OK && value_is(v, g_fq.key[who], 0);
    snprintf(g_fq.rep.msg[who], MSG_CAP, "%s", mcf_is_error(rc) ? mcf_last_error(c) : "");
    if (who == FQ_A) {
        mcf_async_cancel(c, g_fq.h[FQ_B]);
        g_fq.h[FQ_C] = mcf_async_get(c, MCF_GET, 0, g_fq.key[FQ_C], strlen(g_fq.key[FQ_C]),
                                     fq_done, (void *)(intptr_t)FQ_C);
    }
}

static void fq_child(int wfd)
{
    mcf_client *c = g_fq.c;
    for (int who = FQ_A; who <= FQ_B; who++)
        g_fq.h[who] = mcf_async_get(c, MCF_GET, 0, g_fq.key[who], strlen(g_fq.key[who]), fq_done,
                                    (void *)(intptr_t)who);
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    g_fq.h[FQ_D] = mcf_async_get(c, MCF_GET, 0, g_fq.key[FQ_D], strlen(g_fq.key[FQ_D]), fq_done,
                                 (void *)(intptr_t)FQ_D);
    left += mcf_async_run(c, RUN_BOUND_MS);
    g_fq.rep.left = (long)left;
    ssize_t w = write(wfd, &g_fq.rep, sizeof g_fq.rep);
    _exit(w == (ssize_t)sizeof g_fq.rep ? 0 : 1);
}

static int reap_child(pid_t pid, int rfd, void *rep, size_t len, int bound_ms);

static void cancel_in_failing_queue_case(int proto)
{
    ASYNC_SETUP(2, proto);
    memset(&g_fq, 0, sizeof g_fq);
    g_fq.c = c;
    char pfx[32];
    snprintf(pfx, sizeof pfx, "fq-%s", proto_name(proto));
    static const int on_server[FQ_N] = {0, 0, 1, 1};
    for (int i = 0; i < FQ_N; i++)
        key_on(c, (size_t)on_server[i], pfx, (size_t)i, g_fq.key[i], KEY_CAP);
    /* Only server 1 is ever connected; server 0 dies first, so A and B wait
     * for a connect that is refused. */
    CHECKF(store_all(c, &g_fq.key[FQ_C], 2, 0) == 0, "preload: %s", mcf_last_error(c));
    mcserver_kill(&srv[0], SIGKILL);
    int p[2];
    if (pipe(p) != 0) {
        t_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        TEARDOWN(2);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        fq_child(p[1]);
    }
    close(p[1]);
    fq_report rep;
    memset(&rep, 0, sizeof rep);
    int status = pid > 0 ? reap_child(pid, p[0], &rep, sizeof rep, FQ_BOUND_MS) : -1;
    if (pid < 0)
        close(p[0]);
    CHECKF(status == 0, "the client hung or crashed (exit status %d; bound %d ms)", status,
           FQ_BOUND_MS);
    if (status == 0) {
        static const char *const name[FQ_N] = {"A (dead server)", "B (cancelled)",
                                               "C (live, submitted by A's callback)",
                                               "D (live, afterwards)"};
        CHECKF(rep.calls[FQ_A] == 1 && rep.rc[FQ_A] == MCF_ERR_CONNECT, "%s: %d callbacks, rc %d",
               name[FQ_A], rep.calls[FQ_A], rep.rc[FQ_A]);
        CHECKF(rep.calls[FQ_B] == 0, "%s: %d callbacks", name[FQ_B], rep.calls[FQ_B]);
        for (int who = FQ_C; who <= FQ_D; who++)
            CHECKF(rep.calls[who] == 1 && rep.rc[who] == MCF_OK && rep.value_ok[who],
                   "%s: %d callbacks, rc %d (%s), value %s: %s", name[who], rep.calls[who],
                   rep.rc[who], mcf_strerror(rep.rc[who]), rep.value_ok[who] ? "right" : "wrong",
                   rep.msg[who]);
        CHECKF(rep.left == 0, "%ld requests left in flight", rep.left);
    }
    TEARDOWN(2);
}

TEST(cancel_in_failing_queue_text) { cancel_in_failing_queue_case(MCF_PROTO_TEXT); }
TEST(cancel_in_failing_queue_meta) { cancel_in_failing_queue_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* deadlines                                                           */
/* ------------------------------------------------------------------ */

#define SHORT_DEADLINE_MS 200
#define DEADLINE_SLACK_MS 3000  /* a timeout later than its deadline by this is a hang */
#define CLOCK_SLACK_MS 5        /* timer granularity below the deadline */

enum { DL_SHORT, DL_BEHIND, DL_HEALTHY_GET, DL_HEALTHY_SET, DL_NREQ };

static void deadline_case(int proto, int how)
{
    ASYNC_SETUP(2, proto);
    char keys[DL_NREQ][KEY_CAP];
    static const int on_server[DL_NREQ] = {0, 0, 1, 1};
    char pfx[32];
    snprintf(pfx, sizeof pfx, "dl-%s", proto_name(proto));
    for (int i = 0; i < DL_NREQ; i++)
        key_on(c, (size_t)on_server[i], pfx, (size_t)i, keys[i], KEY_CAP);
    CHECKF(store_all(c, keys, DL_NREQ, 0) == 0, "preload: %s", mcf_last_error(c)); /* connects */
    mcserver_kill(&srv[0], SIGSTOP);
    book b;
    book_init(&b, c, DL_NREQ + 1);
    rq *r[DL_NREQ];
    static const int deadline[DL_NREQ] = {SHORT_DEADLINE_MS, LONG_DEADLINE_MS, LONG_DEADLINE_MS,
                                          LONG_DEADLINE_MS};
    /* The first one times out; the one behind it on the same connection
     * fails with it (the contract's reset), the healthy server's are
     * unaffected. */
    static const uint64_t want[DL_NREQ] = {RC_BIT(MCF_ERR_TIMEOUT), RC_BIT(MCF_ERR_TIMEOUT),
                                           RC_BIT(MCF_OK), RC_BIT(MCF_OK)};
    size_t failed = 0;
    for (int i = 0; i < DL_NREQ; i++) {
        r[i] = rq_new(&b, RQ_GET, keys[i], want[i]);
        int ok = r[i] && (i == DL_HEALTHY_SET ? submit_store(r[i], 0)
                                              : submit_get(r[i], MCF_GET, 0));
        if (ok)
            mcf_async_set_timeout(r[i]->h, deadline[i]);
        failed += !ok;
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    double t0 = now_ms();
    size_t left = drive(c, how, RUN_BOUND_MS);
    kill(srv[0].pid, SIGCONT);
    CHECKF(left == 0, "%zu still in flight", left);
    book_check(&b, 0, b.used, "deadlines");
    if (!failed) {
        double short_ms = r[DL_SHORT]->t_done - t0, behind_ms = r[DL_BEHIND]->t_done - t0;
        printf("INFO: %s: %d ms deadline on the stopped server: done after %.0f ms (%s); "
               "the one behind it after %.0f ms; healthy get after %.0f ms; %s\n",
               t_case_name, SHORT_DEADLINE_MS, short_ms, mcf_strerror(r[DL_SHORT]->rc), behind_ms,
               r[DL_HEALTHY_GET]->t_done - t0, b.first_error);
        CHECKF(short_ms >= SHORT_DEADLINE_MS - CLOCK_SLACK_MS &&
                   short_ms <= SHORT_DEADLINE_MS + DEADLINE_SLACK_MS,
               "the %d ms deadline ended the request after %.0f ms", SHORT_DEADLINE_MS, short_ms);
        CHECKF(behind_ms <= SHORT_DEADLINE_MS + DEADLINE_SLACK_MS,
               "the request behind it waited %.0f ms (its own deadline is %d ms): the "
               "connection was not reset",
               behind_ms, LONG_DEADLINE_MS);
        CHECKF(r[DL_HEALTHY_GET]->t_done <= r[DL_SHORT]->t_done,
               "the healthy server's get completed after the stopped server's timeout");
        CHECKF(contains(b.first_error, srv[0].spec) || contains(b.first_error, "timed out") ||
                   contains(b.first_error, "timeout"),
               "the timeout's message: %s", b.first_error);
    }
    /* after SIGCONT the stopped server answers new requests */
    rq *again = rq_new(&b, RQ_GET, keys[DL_SHORT], RC_BIT(MCF_OK));
    CHECK(again && submit_get(again, MCF_GET, 0));
    left = drive(c, how, RUN_BOUND_MS);
    CHECKF(left == 0 && again && again->calls == 1 && again->rc == MCF_OK && again->value_ok,
           "a get after SIGCONT: rc %d (%s): %s", again ? again->rc : -1,
           mcf_strerror(again ? again->rc : -1), b.first_error);
    book_free(&b);
    TEARDOWN(2);
}

TEST(deadline_stopped_server_text) { deadline_case(MCF_PROTO_TEXT, DRIVE_RUN); }
TEST(deadline_stopped_server_meta) { deadline_case(MCF_PROTO_META, DRIVE_RUN); }
TEST(deadline_stopped_server_pollset_text) { deadline_case(MCF_PROTO_TEXT, DRIVE_POLLSET); }
TEST(deadline_stopped_server_pollset_meta) { deadline_case(MCF_PROTO_META, DRIVE_POLLSET); }

/* ------------------------------------------------------------------ */
/* bad input                                                           */
/* ------------------------------------------------------------------ */

#define SMALL_MAX_VALUE 1000 /* MCF_OPT_MAX_VALUE_SIZE for the oversize cases */
#define LONG_KEY_LEN (MCF_MAX_KEY_LEN + 1)
#define NAME_PREFIX 20 /* a long key is named by at least its first bytes */

static size_t g_bad_callbacks;

static void on_bad_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c, (void)req, (void)rc, (void)v, (void)arg;
    g_bad_callbacks++;
}

static void on_bad_each(mcf_client *c, mcf_request *req, size_t i, int rc, const mcf_value *v,
                        void *arg)
{
    (void)c, (void)req, (void)i, (void)rc, (void)v, (void)arg;
    g_bad_callbacks++;
}

/* The submit was refused and the message names the key (by its first
 * NAME_PREFIX bytes; "" for an empty key: any message). */
static void refused(mcf_client *c, mcf_request *req, const char *what, const char *key)
{
    char name[NAME_PREFIX + 1];
    snprintf(name, sizeof name, "%s", key);
    CHECKF(req == NULL, "%s: the submit was accepted", what);
    const char *m = mcf_last_error(c);
    CHECKF(m && *m && (!*key || contains(m, name)), "%s: mcf_last_error() '%s' does not name '%s'",
           what, m ? m : "(null)", name);
}

static void bad_input_case(int proto)
{
    ASYNC_SETUP(1, proto);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_VALUE_SIZE, SMALL_MAX_VALUE), MCF_OK);
    char good[3][KEY_CAP];
    for (size_t i = 0; i < 3; i++)
        snprintf(good[i], KEY_CAP, "bi-%s-good-%zu", proto_name(proto), i);
    CHECK_RC(mcf_set(c, good[0], strlen(good[0]), "x", 1, 0, 0), MCF_OK); /* connected */
    CHECK_RC(mcf_delete(c, good[0], strlen(good[0]), 0), MCF_OK);
    /* Two long keys with different first bytes: consecutive refusals name
     * different keys, so a message left from the one before cannot pass. */
    char longkey[LONG_KEY_LEN + 1], longkey2[LONG_KEY_LEN + 1];
    snprintf(longkey, sizeof longkey, "bi-%s-longA-", proto_name(proto));
    snprintf(longkey2, sizeof longkey2, "bi-%s-longB-", proto_name(proto));
    for (size_t i = strlen(longkey); i < LONG_KEY_LEN; i++)
        longkey[i] = longkey2[i] = 'k';
    longkey[LONG_KEY_LEN] = longkey2[LONG_KEY_LEN] = 0;
    char spacekey[KEY_CAP];
    snprintf(spacekey, sizeof spacekey, "bi-%s bad", proto_name(proto));
    static char big[SMALL_MAX_VALUE + 1];
    memset(big, 'b', sizeof big);
    g_bad_callbacks = 0;
    long long pd = probe_delta(&srv[0]);
    long long bytes0 = bytes_read(&srv[0]);

    refused(c, mcf_async_get(c, MCF_GET, 0, longkey, strlen(longkey), on_bad_done, NULL),
            "get of a 251-byte key", longkey);
    refused(c, mcf_async_get(c, MCF_GET, 0, good[0], 0, on_bad_done, NULL), "get of an empty key",
            "");
    if (proto == MCF_PROTO_TEXT) /* meta sends any bytes (base64) */
        refused(c, mcf_async_get(c, MCF_GET, 0, spacekey, strlen(spacekey), on_bad_done, NULL),
                "text get of a key with a space", spacekey);
    refused(c,
            mcf_async_store(c, MCF_SET, good[1], strlen(good[1]), big, sizeof big, 0, 0, 0, 0,
                            on_bad_done, NULL),
            "store of an oversize value", good[1]);
    refused(c,
            mcf_async_store(c, MCF_SET, longkey, strlen(longkey), "v", 1, 0, 0, 0, 0, on_bad_done,
                            NULL),
            "store with a 251-byte key", longkey);
    const char *mixed[4] = {good[0], good[1], longkey2, good[2]};
    refused(c, mcf_async_get_multi(c, MCF_GET, 0, mixed, NULL, 4, on_bad_each, on_bad_done, NULL),
            "get_multi with one bad key", longkey2);
    mcf_item set_items[3] = {
        {.key = good[0], .key_len = strlen(good[0]), .value = "v", .value_len = 1},
        {.key = good[1], .key_len = strlen(good[1]), .value = big, .value_len = sizeof big},
        {.key = good[2], .key_len = strlen(good[2]), .value = "v", .value_len = 1}};
    refused(c, mcf_async_multi(c, MCF_OP_SET, set_items, 3, 0, on_bad_done, NULL),
            "multi set with one oversize value", good[1]);
    mcf_item incr_items[2] = {{.key = good[0], .key_len = strlen(good[0]), .delta = 1},
                              {.key = longkey, .key_len = strlen(longkey), .delta = 1}};
    refused(c, mcf_async_multi(c, MCF_OP_INCR, incr_items, 2, 0, on_bad_done, NULL),
            "multi incr with one bad key", longkey);
    /* Alive to the end of the case: a wrongly accepted request reads it later
     * (ex_opts_lifetime is about that). */
    mcf_meta_opts bad_opts = {.flags = MCF_META_INVALIDATE}; /* not a get flag */
    if (proto == MCF_PROTO_META) {
        CHECKF(mcf_async_get_ex(c, good[0], strlen(good[0]), &bad_opts, NULL, on_bad_done,
                                NULL) == NULL,
               "get_ex with a flag get does not take was accepted");
    }
    CHECKF(mcf_async_inflight(c) == 0, "%zu in flight after refused submits",
           mcf_async_inflight(c));
    size_t left = mcf_async_run(c, SHORT_RUN_MS);
    long long bytes1 = bytes_read(&srv[0]);
    CHECKF(left == 0 && g_bad_callbacks == 0, "%zu in flight, %zu callbacks of refused requests",
           left, g_bad_callbacks);
    CHECKF(bytes1 - bytes0 == pd, "the server read %lld bytes, want %lld (its own stats probe)",
           bytes1 - bytes0, pd);
    for (size_t i = 0; i < 3; i++)
        CHECKF(raw_get(&srv[0], good[i], NULL, NULL, NULL) == 0,
               "%s is on the server: a refused request was sent", good[i]);
    TEARDOWN(1);
}

TEST(bad_input_text) { bad_input_case(MCF_PROTO_TEXT); }
TEST(bad_input_meta) { bad_input_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* blocking calls while async requests are in flight                   */
/* ------------------------------------------------------------------ */

#define BW_GETS 20

static void on_gm_blocking(void *ctx, size_t i, int rc, const mcf_value *v)
{
    (void)i, (void)rc, (void)v;
    ++*(size_t *)ctx;
}

static void blocking_while_inflight_case(int proto)
{
    ASYNC_SETUP(1, proto);
    static char keys[BW_GETS][KEY_CAP];
    for (size_t i = 0; i < BW_GETS; i++)
        snprintf(keys[i], KEY_CAP, "bw-%s-%zu", proto_name(proto), i);
    CHECKF(store_all(c, keys, BW_GETS, 0) == 0, "preload: %s", mcf_last_error(c));
    char blocked[KEY_CAP];
    snprintf(blocked, sizeof blocked, "bw-%s-blocked", proto_name(proto));
    cmd_stats st0 = stats_of(&srv[0]);
    book b;
    book_init(&b, c, BW_GETS);
    size_t failed = 0;
    for (size_t i = 0; i < BW_GETS; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    mcf_value v;
    uint64_t nv;
    size_t gm_calls = 0;
    const char *two[2] = {keys[0], keys[1]};
    mcf_item item = {.key = blocked, .key_len = strlen(blocked), .value = "x", .value_len = 1};
    CHECK_RC(mcf_get(c, keys[0], strlen(keys[0]), &v), MCF_ERR_ARG);
    CHECK_RC(mcf_set(c, blocked, strlen(blocked), "x", 1, 0, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_incr(c, keys[0], strlen(keys[0]), 1, &nv, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_delete(c, keys[1], strlen(keys[1]), 0), MCF_ERR_ARG);
    CHECK_RC(mcf_touch(c, keys[2], strlen(keys[2]), 0, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, two, NULL, 2, on_gm_blocking, &gm_calls), MCF_ERR_ARG);
    CHECK_RC(mcf_multi(c, MCF_OP_SET, &item, 1, 0), MCF_ERR_ARG);
    CHECKF(mcf_async_inflight(c) == BW_GETS, "in flight %zu, want %d", mcf_async_inflight(c),
           BW_GETS);
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu still in flight", left);
    book_check(&b, 0, b.used, "async gets around refused blocking calls");
    cmd_stats st1 = stats_of(&srv[0]);
    CHECKF(st1.get - st0.get == BW_GETS && st1.set == st0.set && st1.incr == st0.incr &&
               st1.delete_ == st0.delete_ && st1.touch == st0.touch,
           "server counters: get +%lld (want +%d), set +%lld, incr +%lld, delete +%lld, touch "
           "+%lld (want 0): a refused blocking call sent something",
           st1.get - st0.get, BW_GETS, st1.set - st0.set, st1.incr - st0.incr,
           st1.delete_ - st0.delete_, st1.touch - st0.touch);
    /* drained: blocking calls work again */
    CHECK_RC(mcf_set(c, blocked, strlen(blocked), "x", 1, 0, 0), MCF_OK);
    int rc = mcf_get(c, keys[3], strlen(keys[3]), &v);
    CHECKF(rc == MCF_OK && value_is(&v, keys[3], 0), "blocking get after the drain: rc %d (%s)",
           rc, mcf_strerror(rc));
    CHECK(raw_has(&srv[0], blocked, "x"));
    book_free(&b);
    TEARDOWN(1);
}

TEST(blocking_while_inflight_text) { blocking_while_inflight_case(MCF_PROTO_TEXT); }
TEST(blocking_while_inflight_meta) { blocking_while_inflight_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* mcf_free with requests in flight                                    */
/* ------------------------------------------------------------------ */

#define FREE_GETS 500
#define FREE_STORES 100
#define FREE_UNSENT 100
#define FREE_BOUND_MS 5000 /* mcf_free must not wait for a stopped server longer */
/* The live server's requests are done by the free, or cancelled by it if
 * their replies had not been read yet. */
#define FREE_LIVE (RC_BIT(MCF_OK) | RC_BIT(MCF_ERR_CANCELLED))

static void free_case(int proto)
{
    mcserver srv[2];
    if (start_n(srv, 2, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start 2 memcached servers");
        return;
    }
    int fds0 = count_fds(); /* before the client: its sockets must all be gone after mcf_free */
    mcf_client *c = fleet_client(srv, 2, proto, NULL, 0);
    if (!c) {
        stop_n(srv, 2);
        return;
    }
    static char keys[FREE_GETS][KEY_CAP];
    for (size_t i = 0; i < FREE_GETS; i++)
        snprintf(keys[i], KEY_CAP, "fr-%s-%zu", proto_name(proto), i);
    CHECKF(store_all(c, keys, FREE_GETS, 0) == 0, "preload: %s", mcf_last_error(c));
    mcserver_kill(&srv[1], SIGSTOP);
    book b;
    book_init(&b, c, FREE_GETS + FREE_STORES + FREE_UNSENT);
    b.record_msgs = 0; /* callbacks during mcf_free: the client is going away */
    size_t failed = 0;
    for (size_t i = 0; i < FREE_GETS; i++) {
        int on_stopped = server_of_key(c, keys[i]) == 1;
        rq *r = rq_new(&b, RQ_GET, keys[i], on_stopped ? RC_BIT(MCF_ERR_CANCELLED) : FREE_LIVE);
        failed += !(r && submit_get(r, MCF_GET, 0));
        if (r && r->h)
            mcf_async_set_timeout(r->h, LONG_DEADLINE_MS);
    }
    for (size_t i = 0; i < FREE_STORES; i++) {
        char k[KEY_CAP];
        snprintf(k, sizeof k, "fr-%s-new-%zu", proto_name(proto), i);
        int on_stopped = server_of_key(c, k) == 1;
        rq *r = rq_new(&b, RQ_STORE, k, on_stopped ? RC_BIT(MCF_ERR_CANCELLED) : FREE_LIVE);
        failed += !(r && submit_store(r, 0));
        if (r && r->h)
            mcf_async_set_timeout(r->h, LONG_DEADLINE_MS);
    }
    uint64_t received = drive_until_received(c, &srv[1]);
    size_t done_before = b.done;
    size_t written = b.used;
    /* and some never written: submitted, no loop run before the free */
    for (size_t i = 0; i < FREE_UNSENT; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_ERR_CANCELLED));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    size_t inflight = mcf_async_inflight(c);
    CHECKF(received > 0, "premise: nothing reached the stopped server");
    CHECKF(inflight > FREE_UNSENT, "premise: only %zu in flight before the free", inflight);
    double t0 = now_ms();
    mcf_free(c);
    c = NULL;
    double free_ms = now_ms() - t0;
    size_t cancelled = 0;
    for (size_t i = 0; i < b.used; i++)
        cancelled += b.r[i].calls == 1 && b.r[i].rc == MCF_ERR_CANCELLED;
    printf("INFO: %s: %zu requests, %zu done before the free (%zu written in all), %zu in "
           "flight at the free, %zu MCF_ERR_CANCELLED; mcf_free took %.0f ms\n",
           t_case_name, b.used, done_before, written, inflight, cancelled, free_ms);
    CHECKF(cancelled == inflight, "%zu MCF_ERR_CANCELLED callbacks, %zu were in flight",
           cancelled, inflight);
    CHECKF(free_ms < FREE_BOUND_MS, "mcf_free took %.0f ms", free_ms);
    book_check(&b, 0, b.used, "free with requests in flight");
    kill(srv[1].pid, SIGCONT);
    int fds1 = count_fds();
    CHECKF(fds1 == fds0, "open fds: %d before the client, %d after mcf_free", fds0, fds1);
    book_free(&b);
    TEARDOWN(2);
}

TEST(free_with_inflight_text) { free_case(MCF_PROTO_TEXT); }
TEST(free_with_inflight_meta) { free_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* fork with requests in flight                                        */
/* ------------------------------------------------------------------ */

#define FORK_PARENT_GETS 400
#define FORK_CHILD_KEYS 200
#define FORK_CHILD_BLOCKING 50
#define CHILD_WAIT_MS 60000

/* What the child saw: small enough for one pipe write. */
typedef struct child_report {
    long own, own_errors, own_wrong, blocking_errors, blocking_wrong;
    long inherited_calls, inherited_twice, inherited_wrong;
    long inherited_by_rc[MCF_ERR_LAST + 1];
    long left_inflight;
    char first[MSG_CAP];
} child_report;

static void child_work(mcf_client *c, book *parent, int proto, child_report *rep)
{
    /* The parent's records as inherited: snapshot their callback counts
     * so the child's own callbacks for them can be told apart. */
    int *calls0 = calloc(parent->used, sizeof *calls0);
    for (size_t i = 0; calls0 && i < parent->used; i++)
        calls0[i] = parent->r[i].calls;
    size_t pwrong0 = parent->wrong;
    book own;
    book_init(&own, c, 2 * FORK_CHILD_KEYS);
    size_t failed = 0;
    for (size_t i = 0; i < FORK_CHILD_KEYS; i++) {
        char k[KEY_CAP];
        snprintf(k, sizeof k, "fork-%s-child-%zu", proto_name(proto), i);
        rq *r = rq_new(&own, RQ_STORE, k, RC_BIT(MCF_OK));
        failed += !(r && submit_store(r, 0));
    }
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    for (size_t i = 0; i < FORK_CHILD_KEYS; i++) {
        rq *r = rq_new(&own, RQ_GET, own.r[i].key, RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
    }
    left += mcf_async_run(c, RUN_BOUND_MS);
    rep->left_inflight = (long)left;
    rep->own = (long)own.used;
    rep->own_wrong = (long)(own.wrong + own.stray);
    rep->own_errors = (long)failed;
    for (size_t i = 0; i < own.used; i++)
        if (own.r[i].calls != 1 || own.r[i].rc != MCF_OK) {
            if (!rep->own_errors++)
                snprintf(rep->first, sizeof rep->first, "own %s: %d callbacks, rc %d (%s): %.120s",
                         own.r[i].key, own.r[i].calls, own.r[i].rc, mcf_strerror(own.r[i].rc),
                         own.first_error);
        }
    for (size_t i = 0; i < FORK_CHILD_BLOCKING; i++) {
        char k[KEY_CAP], val[KEY_CAP + 8];
        snprintf(k, sizeof k, "fork-%s-childb-%zu", proto_name(proto), i);
        size_t vl = value_for(k, 0, val, sizeof val);
        mcf_value v;
        int rc = mcf_set(c, k, strlen(k), val, vl, 0, 0);
        int rc2 = rc == MCF_OK ? mcf_get(c, k, strlen(k), &v) : rc;
        if (rc != MCF_OK || rc2 != MCF_OK) {
            if (!rep->blocking_errors++ && !rep->first[0])
                snprintf(rep->first, sizeof rep->first, "blocking %s: rc %d/%d: %s", k, rc, rc2,
                         mcf_last_error(c));
        } else if (!value_is(&v, k, 0)) {
            rep->blocking_wrong++;
        }
    }
    for (size_t i = 0; calls0 && i < parent->used; i++) {
        int n = parent->r[i].calls - calls0[i];
        if (n <= 0)
            continue;
        rep->inherited_calls++;
        rep->inherited_twice += parent->r[i].calls > 1;
        int rc = parent->r[i].rc;
        if (rc >= 0 && rc <= MCF_ERR_LAST)
            rep->inherited_by_rc[rc]++;
    }
    rep->inherited_wrong = (long)(parent->wrong - pwrong0);
    free(calls0);
    book_free(&own);
}

/* Reads the child's report (len bytes) and reaps it within bound_ms; its
 * exit status, or -1 (no whole report, or killed after the wait). */
static int reap_child(pid_t pid, int rfd, void *rep, size_t len, int bound_ms)
{
    double end = now_ms() + bound_ms;
    size_t got = 0;
    while (got < len) {
        int left = (int)(end - now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {rfd, POLLIN, 0};
        int pr = poll(&p, 1, left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            break;
        ssize_t n = read(rfd, (char *)rep + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the child ended before a whole report */
        got += (size_t)n;
    }
    close(rfd);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(5);
    }
    if (got != len)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void fork_case(int proto)
{
    ASYNC_SETUP(2, proto);
    static char keys[FORK_PARENT_GETS][KEY_CAP];
    for (size_t i = 0; i < FORK_PARENT_GETS; i++)
        snprintf(keys[i], KEY_CAP, "fork-%s-parent-%zu", proto_name(proto), i);
    CHECKF(store_all(c, keys, FORK_PARENT_GETS, 0) == 0, "preload: %s", mcf_last_error(c));
    /* Server 0 stopped: the parent's requests to it are written and wait
     * for their replies across the fork. */
    mcserver_kill(&srv[0], SIGSTOP);
    book b;
    book_init(&b, c, FORK_PARENT_GETS);
    size_t failed = 0;
    for (size_t i = 0; i < FORK_PARENT_GETS; i++) {
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(MCF_OK));
        failed += !(r && submit_get(r, MCF_GET, 0));
        if (r && r->h)
            mcf_async_set_timeout(r->h, LONG_DEADLINE_MS);
    }
    CHECKF(failed == 0, "%zu submits refused: %s", failed, mcf_last_error(c));
    uint64_t received = drive_until_received(c, &srv[0]);
    CHECKF(received > 0, "premise: the parent's requests never reached the stopped server");
    size_t inflight = mcf_async_inflight(c);
    int p[2];
    if (pipe(p) != 0) {
        t_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        kill(srv[0].pid, SIGCONT);
        book_free(&b);
        TEARDOWN(2);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_report rep;
        memset(&rep, 0, sizeof rep);
        child_work(c, &b, proto, &rep);
        ssize_t w = write(p[1], &rep, sizeof rep);
        _exit(w == (ssize_t)sizeof rep ? 0 : 1);
    }
    close(p[1]);
    kill(srv[0].pid, SIGCONT); /* both processes run from here */
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    child_report rep;
    memset(&rep, 0, sizeof rep);
    int status = pid > 0 ? reap_child(pid, p[0], &rep, sizeof rep, CHILD_WAIT_MS) : -1;
    if (pid < 0)
        close(p[0]);
    CHECKF(pid > 0, "fork: %s", strerror(errno));
    CHECKF(left == 0, "parent: %zu still in flight", left);
    book_check(&b, 0, b.used, "parent after fork");
    char inh[256] = "";
    size_t off = 0;
    for (int rc = 0; rc <= MCF_ERR_LAST; rc++)
        if (rep.inherited_by_rc[rc])
            off += (size_t)snprintf(inh + off, sizeof inh - off, "%s%ld %s", off ? ", " : "",
                                    rep.inherited_by_rc[rc], mcf_strerror(rc));
    printf("INFO: %s: parent forked with %zu requests in flight (%" PRIu64 " bytes on the "
           "stopped server); parent: %zu done, %zu wrong; child: %ld own requests, %ld errors, "
           "%ld wrong, blocking errors %ld; inherited requests completed in the child: %ld "
           "(%s); %s\n",
           t_case_name, inflight, received, b.done, b.wrong, rep.own, rep.own_errors,
           rep.own_wrong, rep.blocking_errors, rep.inherited_calls, inh[0] ? inh : "none",
           rep.first);
    CHECKF(status == 0, "child: exit status %d (no report, or killed after %d ms)", status,
           CHILD_WAIT_MS);
    CHECKF(rep.own_errors == 0 && rep.own_wrong == 0 && rep.left_inflight == 0,
           "child: %ld errors, %ld wrong values, %ld left in flight in its own requests: %s",
           rep.own_errors, rep.own_wrong, rep.left_inflight, rep.first);
    CHECKF(rep.blocking_errors == 0 && rep.blocking_wrong == 0,
           "child: blocking calls: %ld errors, %ld wrong values: %s", rep.blocking_errors,
           rep.blocking_wrong, rep.first);
    CHECKF(rep.inherited_twice == 0 && rep.inherited_wrong == 0,
           "child: inherited requests: %ld completed twice, %ld with a wrong value",
           rep.inherited_twice, rep.inherited_wrong);
    book_free(&b);
    TEARDOWN(2);
}

TEST(fork_inflight_text) { fork_case(MCF_PROTO_TEXT); }
TEST(fork_inflight_meta) { fork_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* a dead server in the fleet                                          */
/* ------------------------------------------------------------------ */

#define DEAD_AT 2      /* its position in the server list */
#define DEAD_KEYS 200
#define DEAD_SINGLES 20 /* single gets alongside the get_multi */

static void dead_server_case(int proto)
{
    mcserver srv[FLEET];
    if (start_n(srv, FLEET, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start %d memcached servers", FLEET);
        return;
    }
    int port = mcserver_free_port("127.0.0.1"); /* nothing listens there: refused */
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", port);
    mcf_client *c = fleet_client(srv, FLEET, proto, dead, DEAD_AT);
    if (!c) {
        stop_n(srv, FLEET);
        return;
    }
    static char keys[DEAD_KEYS][KEY_CAP];
    size_t on_dead = 0;
    for (size_t i = 0; i < DEAD_KEYS; i++) {
        snprintf(keys[i], KEY_CAP, "dead-%s-%zu", proto_name(proto), i);
        on_dead += server_of_key(c, keys[i]) == DEAD_AT;
    }
    CHECKF(on_dead > 0 && on_dead < DEAD_KEYS, "premise: %zu of %d keys on the dead server",
           on_dead, DEAD_KEYS);
    size_t unstored = store_all(c, keys, DEAD_KEYS, 0);
    CHECKF(unstored == on_dead, "preload: %zu keys not stored, want the %zu dead ones", unstored,
           on_dead);
    gmrq g;
    gm_new(&g, DEAD_KEYS, 0);
    for (size_t i = 0; i < DEAD_KEYS; i++) {
        g.keys[i] = keys[i];
        g.allow[i] = RC_BIT(server_of_key(c, keys[i]) == DEAD_AT ? MCF_ERR_CONNECT : MCF_OK);
    }
    book b;
    book_init(&b, c, DEAD_SINGLES);
    CHECKF(gm_submit(c, &g, MCF_GET), "get_multi refused: %s", mcf_last_error(c));
    for (size_t i = 0; i < DEAD_SINGLES; i++) {
        int d = server_of_key(c, keys[i]) == DEAD_AT;
        rq *r = rq_new(&b, RQ_GET, keys[i], RC_BIT(d ? MCF_ERR_CONNECT : MCF_OK));
        CHECK(r && submit_get(r, MCF_GET, 0));
    }
    size_t left = mcf_async_run(c, RUN_BOUND_MS);
    CHECKF(left == 0, "%zu still in flight", left);
    size_t bad = gm_check(&g, "get_multi with a dead server");
    CHECKF(bad == 0, "%zu keys with a wrong outcome", bad);
    CHECKF(g.done_rc == MCF_ERR_CONNECT, "get_multi done rc %d (%s), want the first error "
           "(MCF_ERR_CONNECT)", g.done_rc, mcf_strerror(g.done_rc));
    size_t unnamed = 0;
    for (size_t i = 0; i < DEAD_KEYS; i++)
        if (g.allow[i] == RC_BIT(MCF_ERR_CONNECT) && !contains(g.msg[i], dead) &&
            ++unnamed <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__, "key %s: message '%s' does not name %s", keys[i], g.msg[i],
                   dead);
    book_check(&b, 0, b.used, "single gets with a dead server");
    printf("INFO: %s: %zu of %d keys on dead %s; get_multi done rc %d (%s)\n", t_case_name,
           on_dead, DEAD_KEYS, dead, g.done_rc, mcf_strerror(g.done_rc));
    gm_del(&g);
    book_free(&b);
    TEARDOWN(FLEET);
}

TEST(dead_server_in_fleet_text) { dead_server_case(MCF_PROTO_TEXT); }
TEST(dead_server_in_fleet_meta) { dead_server_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* server commands                                                     */
/* ------------------------------------------------------------------ */

typedef struct srvcmd {
    int calls, rc, stats, pid_seen;
} srvcmd;

static void srvcmd_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    (void)v;
    srvcmd *sc = arg;
    sc->calls++;
    sc->rc = rc;
}

static void srvcmd_stat(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    (void)value;
    (void)vl;
    srvcmd *sc = ctx;
    sc->stats++;
    sc->pid_seen |= nl == 3 && memcmp(name, "pid", 3) == 0;
}

/* version, stats and flush_all through the async API: each completes once
 * with the server's answer, and keys stored before the flush are gone. */
static void server_commands_case(int proto)
{
    ASYNC_SETUP(2, proto);
    char buf[64];
    srvcmd v = {0}, st = {0}, fl = {0};
    CHECKF(mcf_async_version(c, 1, buf, sizeof buf, srvcmd_done, &v) != NULL, "version: %s",
           mcf_last_error(c));
    CHECKF(mcf_async_stats(c, 0, NULL, srvcmd_stat, &st, srvcmd_done, &st) != NULL,
           "stats: %s", mcf_last_error(c));
    /* words are allowed (mcf_stats' rule); an empty word or a control byte is not */
    CHECKF(mcf_async_stats(c, 0, "bad  arg", srvcmd_stat, &st, srvcmd_done, &st) == NULL,
           "stats with an empty word in its argument was accepted");
    CHECKF(mcf_async_stats(c, 0, "bad\targ", srvcmd_stat, &st, srvcmd_done, &st) == NULL,
           "stats with a tab in its argument was accepted");
    CHECKF(mcf_async_version(c, 2, buf, sizeof buf, srvcmd_done, &v) == NULL,
           "version of a server that does not exist was accepted");
    CHECKF(mcf_async_run(c, RUN_BOUND_MS) == 0, "still in flight: %s", mcf_last_error(c));
    CHECKF(v.calls == 1 && v.rc == MCF_OK && buf[0] >= '1' && buf[0] <= '9',
           "version: %d calls, rc %d, '%s'", v.calls, v.rc, buf);
    CHECKF(st.calls == 1 && st.rc == MCF_OK && st.stats > 10 && st.pid_seen,
           "stats: %d calls, rc %d, %d STAT lines, pid %s", st.calls, st.rc, st.stats,
           st.pid_seen ? "seen" : "missing");
    CHECKF(mcf_set(c, "sc-a", 4, "x", 1, 0, 0) == MCF_OK, "set: %s", mcf_last_error(c));
    CHECKF(mcf_async_flush_all(c, 0, 0, srvcmd_done, &fl) != NULL, "flush_all: %s",
           mcf_last_error(c));
    CHECKF(mcf_async_run(c, RUN_BOUND_MS) == 0, "flush still in flight");
    CHECKF(fl.calls == 1 && fl.rc == MCF_OK, "flush_all: %d calls, rc %d", fl.calls, fl.rc);
    mcf_value val;
    CHECK_RC(mcf_get(c, "sc-a", 4, &val), MCF_MISS);
    TEARDOWN(2);
}

TEST(server_commands_text) { server_commands_case(MCF_PROTO_TEXT); }
TEST(server_commands_meta) { server_commands_case(MCF_PROTO_META); }

/* ------------------------------------------------------------------ */
/* paths that wait without blocking                                    */
/* ------------------------------------------------------------------ */

typedef struct outcome {
    int calls, rc;
    char msg[512];
} outcome;

static void outcome_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req;
    (void)v;
    outcome *o = arg;
    o->calls++;
    o->rc = rc;
    snprintf(o->msg, sizeof o->msg, "%s", mcf_last_error(c));
}

/* An _ex call with a version-gated flag on a meta connection whose version
 * is not known (MCF_PROTO_META asks none): the driver asks it without
 * blocking, then refuses the flag memcached 1.6.18 lacks; a plain get queued
 * after it still gets its value. */
TEST(ex_version_gated_meta)
{
    ASYNC_SETUP(1, MCF_PROTO_META);
    CHECK_RC(mcf_set(c, "vg-k", 4, "vg-v", 4, 0, 0), MCF_OK);
    mcf_meta_opts o = {.flags = MCF_META_NEW_CAS, .new_cas = 12345};
    outcome ex = {0}, plain = {0};
    CHECKF(mcf_async_get_ex(c, "vg-k", 4, &o, NULL, outcome_done, &ex) != NULL, "submit: %s",
           mcf_last_error(c));
    CHECKF(mcf_async_get(c, MCF_GET, 0, "vg-k", 4, outcome_done, &plain) != NULL,
           "submit: %s", mcf_last_error(c));
    CHECKF(mcf_async_run(c, RUN_BOUND_MS) == 0, "still in flight");
    CHECKF(ex.calls == 1 && ex.rc == MCF_ERR_NOT_SUPPORTED && contains(ex.msg, "1.6.27"),
           "get_ex with NEW_CAS: %d calls, rc %d: %s", ex.calls, ex.rc, ex.msg);
    CHECKF(plain.calls == 1 && plain.rc == MCF_OK, "the get behind it: %d calls, rc %d: %s",
           plain.calls, plain.rc, plain.msg);
    TEARDOWN(1);
}

/* A request cancelled after it was written to a server that then stops:
 * its replies cannot drain, so after one I/O timeout the connection is
 * reset and nothing stays in flight (a blocking call works again). */
static void zombie_drain_case(int proto)
{
    ASYNC_SETUP(1, proto);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 300);
    CHECK_RC(mcf_set(c, "zd-k", 4, "zd-v", 4, 0, 0), MCF_OK);
    outcome o = {0};
    mcf_request *r = mcf_async_get(c, MCF_GET, 0, "zd-k", 4, outcome_done, &o);
    CHECKF(r != NULL, "submit: %s", mcf_last_error(c));
    mcserver_kill(&srv[0], SIGSTOP);
    /* One turn writes the request; the stopped server never answers. */
    mcf_async_run(c, 50);
    mcf_async_cancel(c, r);
    CHECKF(mcf_async_inflight(c) == 0, "a cancelled request still counts as in flight");
    double t0 = now_ms();
    size_t left = mcf_async_run(c, 5000);
    double el = now_ms() - t0;
    kill(srv[0].pid, SIGCONT);
    CHECKF(left == 0, "the cancelled request's slice never drained (%.0f ms)", el);
    CHECKF(o.calls == 0, "a cancelled request got %d callbacks", o.calls);
    mcf_value v;
    CHECK_RC(mcf_get(c, "zd-k", 4, &v), MCF_OK);
    TEARDOWN(1);
}

TEST(zombie_drain_resets_text) { zombie_drain_case(MCF_PROTO_TEXT); }
TEST(zombie_drain_resets_meta) { zombie_drain_case(MCF_PROTO_META); }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* the library must not raise it; mcserver_raw could */
    if (!mcserver_binary())
        t_skip_all("memcached is not installed");
    return t_main(argc, argv);
}
