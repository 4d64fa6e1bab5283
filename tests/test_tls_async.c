/* test_tls_async.c - the async API (mcfast_async.h) over TLS, against real
 * memcached -Z:
 *   - many stores, then many gets in flight at once over 2 TLS servers, text
 *     and meta, driven by mcf_async_run and by a plain poll() loop over
 *     mcf_async_pollset / mcf_async_process: each request completes once,
 *     with its own key's value;
 *   - values up to memcached's item limit, and an async get_multi;
 *   - the handshake never blocks the loop: with one server whose TLS port
 *     never answers the handshake, requests to the other server complete
 *     while that one is still in flight (then it times out). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"
#include "tlsfix.h"

#define NKEYS 1000
#define RUN_BOUND_MS 20000 /* a hang ends here, as a FAIL */
#define MAX_ITEM_VALUE ((1u << 20) - 512) /* see test_tls_basic.c */

/* One request: its key, the value it stores or expects, what came back. */
typedef struct rq {
    char key[48];
    const unsigned char *val;
    size_t len;
    int done, rc, wrong;
    double done_at;
} rq;

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    rq *r = arg;
    r->done++;
    r->rc = rc;
    r->done_at = now_ms();
    if (rc == MCF_OK && v && (v->len != r->len || memcmp(v->data, r->val, r->len) != 0))
        r->wrong++;
}

/* Stores every r[i] (async), then gets them all at once; checks each
 * request completed exactly once with MCF_OK and its own value. */
static void store_then_get(mcf_client *c, rq *r, size_t n, int how)
{
    for (int phase = 0; phase < 2; phase++) {
        for (size_t i = 0; i < n; i++) {
            r[i].done = r[i].wrong = 0;
            r[i].rc = -99;
            mcf_request *q =
                phase == 0 ? mcf_async_store(c, MCF_SET, KS(r[i].key), r[i].val, r[i].len, 0, 0,
                                             0, 0, on_done, &r[i])
                           : mcf_async_get(c, MCF_GET, 0, KS(r[i].key), on_done, &r[i]);
            CHECKF(q != NULL, "submit %s: %s", r[i].key, mcf_last_error(c));
        }
        size_t left = drive(c, how, RUN_BOUND_MS);
        CHECKF(left == 0, "%s: %zu requests still in flight after %d ms",
               phase ? "gets" : "stores", left, RUN_BOUND_MS);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            if (r[i].done != 1 || r[i].rc != MCF_OK || r[i].wrong) {
                if (bad++ == 0)
                    t_fail(__FILE__, __LINE__, "%s %s (%zu bytes): done %d times, rc %d (%s)%s",
                           phase ? "get" : "store", r[i].key, r[i].len, r[i].done, r[i].rc,
                           mcf_strerror(r[i].rc), r[i].wrong ? ", wrong value" : "");
            }
        CHECKF(bad == 0, "%s: %zu of %zu requests wrong", phase ? "gets" : "stores", bad, n);
    }
}

static int start_two(mcserver *s)
{
    if (tls_server_start(&s[0], "127.0.0.1", "server", NULL) < 0)
        return -1;
    if (tls_server_start(&s[1], "::1", "server", NULL) < 0) {
        mcserver_stop(&s[0]);
        return -1;
    }
    return 0;
}

static mcf_client *client_two(const mcserver *s, int proto)
{
    char list[300];
    snprintf(list, sizeof list, "%s,%s", tls_spec(&s[0]), tls_spec(&s[1]));
    return tls_client(list, NULL, proto);
}

static void many_case(int proto, int how)
{
    mcserver s[2];
    if (start_two(s) < 0)
        return;
    mcf_client *c = client_two(s, proto);
    rq *r = calloc(NKEYS, sizeof *r);
    unsigned char *vals = malloc((size_t)NKEYS * 64);
    if (c && r && vals) {
        for (size_t i = 0; i < NKEYS; i++) {
            snprintf(r[i].key, sizeof r[i].key, "async:%zu", i);
            r[i].val = vals + i * 64;
            r[i].len = 1 + i % 64;
            fill_random(vals + i * 64, 64, i);
        }
        store_then_get(c, r, NKEYS, how);
        /* Both servers took part. */
        mcf_server_info info;
        for (size_t i = 0; i < 2; i++)
            if (mcf_server_info_get(c, i, &info) == MCF_OK)
                CHECKF(info.connected && info.tls_version && info.tls_version[0],
                       "server %zu: connected %d version '%s'", i, info.connected,
                       info.tls_version ? info.tls_version : "(null)");
    }
    free(r);
    free(vals);
    mcf_free(c);
    mcserver_stop(&s[0]);
    mcserver_stop(&s[1]);
}

TEST(tls_async_many_text_run) { many_case(MCF_PROTO_TEXT, DRIVE_RUN); }
TEST(tls_async_many_text_pollset) { many_case(MCF_PROTO_TEXT, DRIVE_POLLSET); }
TEST(tls_async_many_meta_run) { many_case(MCF_PROTO_META, DRIVE_RUN); }
TEST(tls_async_many_meta_pollset) { many_case(MCF_PROTO_META, DRIVE_POLLSET); }

/* Large values in flight together, around and past the 16 KiB record. */
static void large_case(int proto)
{
    static const size_t sizes[] = {16383, 16384, 16385, 100000, MAX_ITEM_VALUE,
                                   MAX_ITEM_VALUE, 100000, 1};
    enum { N = sizeof sizes / sizeof sizes[0] };
    mcserver s[2];
    if (start_two(s) < 0)
        return;
    mcf_client *c = client_two(s, proto);
    rq r[N];
    unsigned char *vals[N];
    memset(r, 0, sizeof r);
    for (size_t i = 0; i < N; i++) {
        vals[i] = malloc(sizes[i]);
        fill_random(vals[i], sizes[i], i + 100);
        snprintf(r[i].key, sizeof r[i].key, "large:%zu", i);
        r[i].val = vals[i];
        r[i].len = sizes[i];
    }
    if (c)
        store_then_get(c, r, N, DRIVE_POLLSET);
    for (size_t i = 0; i < N; i++)
        free(vals[i]);
    mcf_free(c);
    mcserver_stop(&s[0]);
    mcserver_stop(&s[1]);
}

TEST(tls_async_large_text) { large_case(MCF_PROTO_TEXT); }
TEST(tls_async_large_meta) { large_case(MCF_PROTO_META); }

typedef struct multi_seen {
    const char *const *keys;
    size_t n, calls, wrong;
    int done, rc;
} multi_seen;

static void on_key(mcf_client *c, mcf_request *req, size_t i, int rc, const mcf_value *v,
                   void *arg)
{
    (void)c;
    (void)req;
    multi_seen *m = arg;
    m->calls++;
    char want[80];
    if (i >= m->n || rc != MCF_OK || !v) {
        m->wrong++;
        return;
    }
    val_of(m->keys[i], want, sizeof want);
    if (v->len != strlen(want) || memcmp(v->data, want, v->len) != 0)
        m->wrong++;
}

static void on_multi_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    (void)v;
    multi_seen *m = arg;
    m->done++;
    m->rc = rc;
}

TEST(tls_async_get_multi)
{
    mcserver s[2];
    if (start_two(s) < 0)
        return;
    mcf_client *c = client_two(s, MCF_PROTO_TEXT);
    if (c) {
        keyset ks;
        ks_make(&ks, 500, "am");
        CHECKF(set_keys(c, ks.k, ks.n, 0, 0) == 0, "set_keys: %s", mcf_last_error(c));
        multi_seen m = {.keys = ks.k, .n = ks.n};
        mcf_request *q =
            mcf_async_get_multi(c, MCF_GET, 0, ks.k, NULL, ks.n, on_key, on_multi_done, &m);
        CHECKF(q != NULL, "submit: %s", mcf_last_error(c));
        CHECK(drive(c, DRIVE_RUN, RUN_BOUND_MS) == 0);
        CHECKF(m.done == 1 && m.rc == MCF_OK, "done %d rc %d", m.done, m.rc);
        CHECKF(m.calls == ks.n && m.wrong == 0, "%zu key callbacks for %zu keys, %zu wrong",
               m.calls, ks.n, m.wrong);
        ks_free(&ks);
        mcf_free(c);
    }
    mcserver_stop(&s[0]);
    mcserver_stop(&s[1]);
}

/* ------------------------------------------------------------------ */
/* The handshake does not block the loop                               */
/* ------------------------------------------------------------------ */

#define GOOD_GETS 50

typedef struct stall_watch {
    rq *good;
    rq *stalled;
    int good_done_while_stalled; /* every good get done, the stalled one not yet */
} stall_watch;

static void watch_turn(void *arg)
{
    stall_watch *w = arg;
    if (w->good_done_while_stalled || w->stalled->done)
        return;
    for (int i = 0; i < GOOD_GETS; i++)
        if (!w->good[i].done)
            return;
    w->good_done_while_stalled = 1;
}

/* A key of server `want` of c: "prefix:N" for the first N that maps there. */
static void key_on(mcf_client *c, size_t want, const char *prefix, int from, char *out,
                   size_t cap)
{
    for (int i = from; i < from + 10000; i++) {
        size_t srv;
        snprintf(out, cap, "%s:%d", prefix, i);
        if (mcf_server_for_key(c, KS(out), &srv) == MCF_OK && srv == want)
            return;
    }
    t_fail(__FILE__, __LINE__, "no key of server %zu", want);
}

TEST(tls_async_handshake_never_blocks)
{
    mcserver good, backend;
    if (tls_server_start(&good, "127.0.0.1", "server", NULL) < 0)
        return;
    if (mcserver_start_tcp(&backend, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        mcserver_stop(&good);
        return;
    }
    tls_peer *p = tls_peer_start(&backend);
    char list[300];
    snprintf(list, sizeof list, "tls:127.0.0.1:%d,%s", p ? tls_peer_port(p) : 1,
             tls_spec(&good));
    mcf_client *c = p ? tls_client(list, NULL, MCF_PROTO_TEXT) : NULL;
    if (c) {
        tls_peer_next(p, TP_SILENT);
        rq stalled;
        rq goodr[GOOD_GETS];
        memset(&stalled, 0, sizeof stalled);
        memset(goodr, 0, sizeof goodr);
        key_on(c, 0, "stall", 0, stalled.key, sizeof stalled.key);
        /* The stalled server's get first: its connect starts first. */
        CHECK(mcf_async_get(c, MCF_GET, 0, KS(stalled.key), on_done, &stalled) != NULL);
        int from = 0;
        for (int i = 0; i < GOOD_GETS; i++) {
            key_on(c, 1, "good", from, goodr[i].key, sizeof goodr[i].key);
            from = atoi(strchr(goodr[i].key, ':') + 1) + 1;
            CHECK(mcf_async_get(c, MCF_GET, 0, KS(goodr[i].key), on_done, &goodr[i]) != NULL);
        }
        stall_watch w = {.good = goodr, .stalled = &stalled};
        double t0 = now_ms();
        size_t left = drive_pollset(c, RUN_BOUND_MS, watch_turn, &w);
        double ms = now_ms() - t0;
        CHECKF(left == 0, "%zu requests in flight after %d ms", left, RUN_BOUND_MS);
        CHECKF(w.good_done_while_stalled,
               "the good server's gets did not all complete while the handshake with the "
               "silent server was pending");
        int good_ok = 0;
        for (int i = 0; i < GOOD_GETS; i++)
            good_ok += goodr[i].done == 1 && goodr[i].rc == MCF_MISS;
        CHECKF(good_ok == GOOD_GETS, "%d of %d gets to the good server missed cleanly", good_ok,
               GOOD_GETS);
        CHECKF(stalled.done == 1 && stalled.rc == MCF_ERR_TIMEOUT,
               "stalled get: done %d rc %d (%s), want MCF_ERR_TIMEOUT: %s", stalled.done,
               stalled.rc, mcf_strerror(stalled.rc), mcf_last_error(c));
        CHECKF(ms < 2 * TLS_TIMEOUT_MS + TLS_SLACK_MS, "took %.0f ms", ms);
        printf("INFO: %s: good gets done %.0f ms after start, the stalled one %.0f ms\n",
               t_case_name, goodr[GOOD_GETS - 1].done_at - t0, stalled.done_at - t0);
        /* The stalled server's next connection relays to memcached. */
        stalled.done = 0;
        stalled.len = 0;
        CHECK(mcf_async_get(c, MCF_GET, 0, KS(stalled.key), on_done, &stalled) != NULL);
        CHECK(drive(c, DRIVE_RUN, RUN_BOUND_MS) == 0);
        CHECKF(stalled.done == 1 && stalled.rc == MCF_MISS, "after the stall: rc %d (%s): %s",
               stalled.rc, mcf_strerror(stalled.rc), mcf_last_error(c));
        mcf_free(c);
    }
    tls_peer_stop(p);
    mcserver_stop(&backend);
    mcserver_stop(&good);
}

int main(int argc, char **argv) { return tls_tests_main(argc, argv); }
