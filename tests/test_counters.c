/* test_counters.c - per-server counters and latency (mcf_server_stats)
 * checked against the traffic each case sends, over real memcached:
 *   - keys per server, hits, misses and per-code results equal what was
 *     sent where the placement put it, and memcached's own get_hits and
 *     get_misses agree;
 *   - one latency per server per call with replies, none for noreply;
 *   - errors by code, timeouts, connects and reconnects under SIGKILL and
 *     SIGSTOP, with the RECONNECT and FAILOVER events;
 *   - async requests count as the blocking calls do;
 *   - counters survive a server list change, and reset;
 *   - the histogram's buckets and quantiles.
 * Runs in both protocols (make check runs it again with --meta). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"

#define NSRV 4
#define NKEYS 200
#define NABSENT 50
#define TIMEOUT_MS 300

static mcf_server_stats stats_of(mcf_client *c, size_t i)
{
    mcf_server_stats st;
    memset(&st, 0xff, sizeof st); /* anything not filled shows */
    CHECK_RC(mcf_server_stats_get(c, i, &st, sizeof st), MCF_OK);
    return st;
}

/* The sums every mcf_server_stats must have. */
static void check_consistent(const mcf_server_stats *st, size_t server)
{
    uint64_t sum = 0, err = 0, lat = 0;
    for (int rc = 0; rc < MCF_STATS_CODES; rc++) {
        sum += st->by_code[rc];
        if (mcf_is_error(rc))
            err += st->by_code[rc];
    }
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++)
        lat += st->latency[b];
    CHECKF(sum == st->requests && err == st->errors,
           "server %zu: by_code sums to %llu (requests %llu), errors %llu (%llu)", server,
           (unsigned long long)sum, (unsigned long long)st->requests,
           (unsigned long long)err, (unsigned long long)st->errors);
    CHECKF(lat == st->latency_count, "server %zu: buckets hold %llu, latency_count %llu",
           server, (unsigned long long)lat, (unsigned long long)st->latency_count);
    CHECK(st->latency_sum_us >= st->latency_max_us);
    CHECK(mcf_latency_quantile_us(st, 0.5) <= mcf_latency_quantile_us(st, 0.99));
    CHECK(mcf_latency_quantile_us(st, 0.99) <= st->latency_max_us);
}

/* What each server should have counted. */
typedef struct expect {
    uint64_t set_ok, hits, misses, not_found, deleted, calls_with_replies;
} expect;

TEST(counters_match_traffic)
{
    SETUP(NSRV, NULL);
    CHECK(mcf_get_option(c, MCF_OPT_LATENCY) == 0);
    CHECK_RC(mcf_set_option(c, MCF_OPT_LATENCY, 2), MCF_ERR_ARG);
    CHECK_RC(mcf_set_option(c, MCF_OPT_LATENCY, 1), MCF_OK);
    keyset ks, absent;
    ks_make(&ks, NKEYS, "ctr");
    ks_make(&absent, NABSENT, "ctr-absent");
    expect want[NSRV];
    memset(want, 0, sizeof want);
    long long hits0[NSRV], misses0[NSRV];
    for (int i = 0; i < NSRV; i++) {
        hits0[i] = raw_stat(&srv[i], NULL, "get_hits");
        misses0[i] = raw_stat(&srv[i], NULL, "get_misses");
    }
    int used[NSRV] = {0}, used_absent[NSRV] = {0};
    for (size_t k = 0; k < NKEYS; k++) {
        size_t s = server_of(c, ks.k[k]);
        want[s].set_ok++;
        want[s].hits++;
        used[s] = 1;
    }
    for (size_t k = 0; k < NABSENT; k++) {
        size_t s = server_of(c, absent.k[k]);
        want[s].misses++;
        want[s].not_found++; /* incr of an absent key */
        used_absent[s] = 1;
    }

    /* One multi-set, one multi-get over both sets, one multi-incr of the
     * absent keys: one request per server used in each. */
    CHECK(set_keys(c, ks.k, NKEYS, 0, 0) == 0);
    const char **all = malloc((NKEYS + NABSENT) * sizeof *all);
    memcpy(all, ks.k, NKEYS * sizeof *all);
    memcpy(all + NKEYS, absent.k, NABSENT * sizeof *all);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, all, NKEYS + NABSENT), MCF_OK);
    gm_free(&g);
    mcf_item *items = calloc(NABSENT, sizeof *items);
    for (size_t k = 0; k < NABSENT; k++) {
        items[k].key = absent.k[k];
        items[k].key_len = strlen(absent.k[k]);
        items[k].delta = 1;
    }
    CHECK_RC(mcf_multi(c, MCF_OP_INCR, items, NABSENT, 0), MCF_OK);
    /* Single-key calls: a delete (a reply) and a noreply set (none). */
    size_t s0 = server_of(c, ks.k[0]);
    CHECK_RC(mcf_delete(c, KS(ks.k[0]), 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_SET, KS(ks.k[0]), "nr", 2, 0, 0, 0, MCF_CALL_NOREPLY), MCF_OK);
    want[s0].deleted++;
    want[s0].set_ok++;
    for (int i = 0; i < NSRV; i++)
        want[i].calls_with_replies = (uint64_t)(used[i] + (used[i] || used_absent[i]) +
                                                used_absent[i] + (i == (int)s0) +
                                                /* a quiet meta request's reply: its mn */
                                                (meta_mode() && i == (int)s0));

    for (int i = 0; i < NSRV; i++) {
        mcf_server_stats st = stats_of(c, (size_t)i);
        check_consistent(&st, (size_t)i);
        uint64_t ok = want[i].set_ok + want[i].hits + want[i].deleted;
        printf("INFO: server %d: %llu requests, %llu hits, %llu misses, %llu latencies, "
               "p50 %llu us, max %llu us\n",
               i, (unsigned long long)st.requests, (unsigned long long)st.hits,
               (unsigned long long)st.misses, (unsigned long long)st.latency_count,
               (unsigned long long)mcf_latency_quantile_us(&st, 0.5),
               (unsigned long long)st.latency_max_us);
        CHECKF(st.hits == want[i].hits && st.misses == want[i].misses,
               "server %d: hits %llu (want %llu), misses %llu (want %llu)", i,
               (unsigned long long)st.hits, (unsigned long long)want[i].hits,
               (unsigned long long)st.misses, (unsigned long long)want[i].misses);
        CHECKF(st.by_code[MCF_OK] == ok, "server %d: MCF_OK %llu, want %llu", i,
               (unsigned long long)st.by_code[MCF_OK], (unsigned long long)ok);
        CHECKF(st.by_code[MCF_NOT_FOUND] == want[i].not_found, "server %d: NOT_FOUND %llu", i,
               (unsigned long long)st.by_code[MCF_NOT_FOUND]);
        CHECK(st.errors == 0 && st.timeouts == 0);
        CHECKF(st.requests == ok + want[i].misses + want[i].not_found,
               "server %d: %llu requests", i, (unsigned long long)st.requests);
        CHECKF(st.latency_count == want[i].calls_with_replies,
               "server %d: %llu latencies, want %llu", i, (unsigned long long)st.latency_count,
               (unsigned long long)want[i].calls_with_replies);
        CHECKF(st.connects == (uint64_t)(used[i] || used_absent[i]) && st.reconnects == 0, "server %d: connects %llu", i, (unsigned long long)st.connects);
        /* memcached counted the same gets. */
        long long h = raw_stat(&srv[i], NULL, "get_hits") - hits0[i];
        long long m = raw_stat(&srv[i], NULL, "get_misses") - misses0[i];
        CHECKF(h == (long long)st.hits && m == (long long)st.misses,
               "server %d: memcached says %lld hits, %lld misses", i, h, m);
    }
    free(items);
    free(all);
    ks_free(&ks);
    ks_free(&absent);
    TEARDOWN(NSRV);
}

/* Events seen, in order (the first few). */
typedef struct events {
    int n;
    mcf_event e[32];
    size_t server[32];
} events;

static void on_event(void *ctx, mcf_event e, size_t server)
{
    events *ev = ctx;
    if (ev->n < 32) {
        ev->e[ev->n] = e;
        ev->server[ev->n] = server;
    }
    ev->n++;
}

static int count_events(const events *ev, mcf_event e, size_t server)
{
    int n = 0;
    for (int i = 0; i < ev->n && i < 32; i++)
        n += ev->e[i] == e && ev->server[i] == server;
    return n;
}

TEST(counters_errors_timeouts_reconnects)
{
    SETUP(2, NULL);
    events ev = {0};
    mcf_set_event_callback(c, on_event, &ev);
    mcf_set_option(c, MCF_OPT_LATENCY, 1);
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 2);
    mcf_set_option(c, MCF_OPT_RETRY_MS, 100);
    mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, 200);
    char key[64];
    key_for(c, 1, "ce", key, sizeof key);
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);

    /* Stopped: a get times out (its connection is reset), the next one
     * connects (the stopped server's kernel accepts) and times out too,
     * which reaches the limit of 2; a third fails fast. */
    mcserver_kill(&srv[1], SIGSTOP);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_TIMEOUT);
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_TIMEOUT);
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_SERVER_DOWN);
    mcf_server_stats st = stats_of(c, 1);
    check_consistent(&st, 1);
    CHECKF(st.by_code[MCF_ERR_TIMEOUT] == 2 && st.by_code[MCF_ERR_SERVER_DOWN] == 1 &&
               st.errors == 3 && st.timeouts == 2,
           "timeouts %llu by code, %llu counted; down %llu; errors %llu",
           (unsigned long long)st.by_code[MCF_ERR_TIMEOUT], (unsigned long long)st.timeouts,
           (unsigned long long)st.by_code[MCF_ERR_SERVER_DOWN], (unsigned long long)st.errors);
    CHECK(st.by_code[MCF_OK] == 1 && st.requests == 4 && st.latency_count == 1);
    CHECK(count_events(&ev, MCF_EVENT_SERVER_DOWN, 1) == 1);
    CHECK(stats_of(c, 0).requests == 0);

    /* Continued: a probe brings it back on a new connection. */
    kill(srv[1].pid, SIGCONT);
    double t0 = now_ms();
    int rc;
    while ((rc = mcf_get(c, KS(key), &v)) == MCF_ERR_SERVER_DOWN && now_ms() - t0 < 3000)
        sleep_ms(10);
    CHECKF(rc == MCF_OK, "not back: rc %d: %s", rc, mcf_last_error(c));
    st = stats_of(c, 1);
    /* The first connection, the one the second get made, the probe's. */
    CHECKF(st.connects == 3 && st.reconnects == 2, "connects %llu, reconnects %llu",
           (unsigned long long)st.connects, (unsigned long long)st.reconnects);
    CHECK(count_events(&ev, MCF_EVENT_RECONNECT, 1) == 2);
    CHECK(count_events(&ev, MCF_EVENT_SERVER_UP, 1) == 1);
    CHECK(st.hits >= 1);

    /* Killed: the connection is lost (I/O), then connects are refused. */
    mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 0);
    mcserver_kill(&srv[1], SIGKILL);
    mcf_stats_reset(c);
    for (int i = 0; i < 3; i++) {
        rc = mcf_get(c, KS(key), &v);
        CHECKF(mcf_is_error(rc), "get %d of a killed server: rc %d", i, rc);
    }
    st = stats_of(c, 1);
    check_consistent(&st, 1);
    CHECKF(st.requests == 3 && st.errors == 3 &&
               st.by_code[MCF_ERR_IO] + st.by_code[MCF_ERR_CONNECT] == 3 &&
               st.by_code[MCF_ERR_CONNECT] >= 2,
           "after SIGKILL: %llu IO, %llu CONNECT", (unsigned long long)st.by_code[MCF_ERR_IO],
           (unsigned long long)st.by_code[MCF_ERR_CONNECT]);
    CHECK(st.connects == 0 && st.latency_count == 0);
    TEARDOWN(2);
}

TEST(counters_failover_event_once)
{
    SETUP(3, NULL);
    events ev = {0};
    mcf_set_event_callback(c, on_event, &ev);
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 1);
    mcf_set_option(c, MCF_OPT_RETRY_MS, 60000);
    mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, 60000);
    mcf_set_option(c, MCF_OPT_FAILOVER, 1);
    char key[64];
    key_for(c, 1, "cf", key, sizeof key);
    mcserver_kill(&srv[1], SIGKILL);
    mcf_value v;
    int rc = mcf_get(c, KS(key), &v);
    CHECKF(rc == MCF_ERR_CONNECT, "first get: rc %d", rc);
    for (int i = 0; i < 10; i++)
        CHECK_RC(mcf_get(c, KS(key), &v), MCF_MISS); /* served by the next server */
    CHECK(count_events(&ev, MCF_EVENT_SERVER_DOWN, 1) == 1);
    CHECKF(count_events(&ev, MCF_EVENT_FAILOVER, 1) == 1, "%d FAILOVER events",
           count_events(&ev, MCF_EVENT_FAILOVER, 1));
    mcf_server_stats dead = stats_of(c, 1), alt = stats_of(c, 2);
    CHECK(dead.requests == 1 && dead.by_code[MCF_ERR_CONNECT] == 1);
    CHECKF(alt.misses == 10, "the failover server counted %llu misses",
           (unsigned long long)alt.misses);
    TEARDOWN(3);
}

typedef struct async_tally {
    int done, ok, wrong;
} async_tally;

static void async_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    async_tally *t = arg;
    t->done++;
    t->ok += rc == MCF_OK && v && v->len >= 2 && memcmp(v->data, "v:", 2) == 0;
    t->wrong += rc != MCF_OK;
}

TEST(counters_async_requests)
{
    SETUP(2, NULL);
    keyset ks;
    ks_make(&ks, NKEYS, "ca");
    mcf_set_option(c, MCF_OPT_LATENCY, 1);
    CHECK(set_keys(c, ks.k, NKEYS, 0, 0) == 0);
    mcf_stats_reset(c);
    uint64_t want[2] = {0, 0};
    async_tally t = {0};
    for (size_t k = 0; k < NKEYS; k++) {
        want[server_of(c, ks.k[k])]++;
        CHECK(mcf_async_get(c, MCF_GET, 0, KS(ks.k[k]), async_done, &t) != NULL);
    }
    CHECK(drive(c, DRIVE_POLLSET, 5000) == 0);
    CHECKF(t.done == NKEYS && t.ok == NKEYS, "%d done, %d ok", t.done, t.ok);
    for (size_t i = 0; i < 2; i++) {
        mcf_server_stats st = stats_of(c, i);
        check_consistent(&st, i);
        /* Single-key requests: each is a request with its own latency,
         * batched or not. */
        CHECKF(st.hits == want[i] && st.requests == want[i] && st.latency_count == want[i],
               "server %zu: %llu hits, %llu requests, %llu latencies; want %llu", i,
               (unsigned long long)st.hits, (unsigned long long)st.requests,
               (unsigned long long)st.latency_count, (unsigned long long)want[i]);
    }
    /* Off: counted, not timed. */
    mcf_set_option(c, MCF_OPT_LATENCY, 0);
    mcf_stats_reset(c);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, NKEYS), MCF_OK);
    gm_free(&g);
    mcf_server_stats s0 = stats_of(c, 0), s1 = stats_of(c, 1);
    CHECK(s0.hits + s1.hits == NKEYS && s0.latency_count == 0 && s1.latency_count == 0);
    ks_free(&ks);
    TEARDOWN(2);
}

TEST(counters_kept_by_set_servers_and_reset)
{
    SETUP(3, NULL);
    char key[64];
    mcf_set_option(c, MCF_OPT_LATENCY, 1);
    key_for(c, 2, "ck", key, sizeof key);
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);
    CHECK(stats_of(c, 2).requests == 1);
    /* srv[2] stays (now first), srv[0] and srv[1] go, a new one comes. */
    mcserver extra;
    CHECK(start_n(&extra, 1, NULL) == 0);
    char list[512];
    snprintf(list, sizeof list, "%s,%s", srv[2].spec, extra.spec);
    CHECK_RC(mcf_set_servers(c, list), MCF_OK);
    mcf_server_stats kept = stats_of(c, 0), fresh = stats_of(c, 1);
    CHECK(kept.requests == 1 && kept.by_code[MCF_OK] == 1 && kept.connects == 1);
    CHECK(fresh.requests == 0 && fresh.connects == 0 && fresh.latency_count == 0);
    /* A smaller struct (an older caller) is filled up to its size. */
    mcf_server_stats part;
    memset(&part, 0xee, sizeof part);
    CHECK_RC(mcf_server_stats_get(c, 0, &part, offsetof(mcf_server_stats, hits)), MCF_OK);
    CHECK(part.requests == 1);
    unsigned char *tail = (unsigned char *)&part.hits;
    CHECK(tail[0] == 0xee);
    CHECK_RC(mcf_server_stats_get(c, 2, &part, sizeof part), MCF_ERR_ARG);
    mcf_stats_reset(c);
    kept = stats_of(c, 0);
    CHECK(kept.requests == 0 && kept.connects == 0 && kept.latency_count == 0);
    stop_n(&extra, 1);
    TEARDOWN(3);
}

TEST(counters_histogram_shape)
{
    /* Buckets are contiguous from 0, each at most 1/8 of its value wide. */
    uint64_t prev_hi = 0;
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++) {
        uint64_t lo, hi;
        mcf_latency_bucket_us(b, &lo, &hi);
        CHECKF(lo == prev_hi && hi > lo, "bucket %zu: [%llu, %llu) after %llu", b,
               (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)prev_hi);
        if (b + 1 < MCF_LATENCY_BUCKETS)
            CHECKF(lo < 8 || (hi - lo) * 8 <= lo, "bucket %zu too wide: [%llu, %llu)", b,
                   (unsigned long long)lo, (unsigned long long)hi);
        prev_hi = hi;
    }
    CHECK(prev_hi == UINT64_MAX);
    /* Quantiles of a made-up histogram: 90 at ~100 us, 10 at ~10 ms. */
    mcf_server_stats st;
    memset(&st, 0, sizeof st);
    size_t b100 = 0, b10k = 0;
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++) {
        uint64_t lo, hi;
        mcf_latency_bucket_us(b, &lo, &hi);
        if (lo <= 100 && 100 < hi)
            b100 = b;
        if (lo <= 10000 && 10000 < hi)
            b10k = b;
    }
    st.latency[b100] = 90;
    st.latency[b10k] = 10;
    st.latency_count = 100;
    st.latency_max_us = 10000;
    uint64_t p50 = mcf_latency_quantile_us(&st, 0.5), p95 = mcf_latency_quantile_us(&st, 0.95);
    CHECKF(p50 >= 100 && p50 <= 100 + 100 / 8, "p50 %llu", (unsigned long long)p50);
    CHECKF(p95 == 10000, "p95 %llu (capped by the max)", (unsigned long long)p95);
    CHECK(mcf_latency_quantile_us(&st, 0.9) <= 100 + 100 / 8);
    memset(&st, 0, sizeof st);
    CHECK(mcf_latency_quantile_us(&st, 0.99) == 0);
}

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
