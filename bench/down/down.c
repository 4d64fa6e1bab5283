/* down.c - build/mcfast-bench-down: a multi-get of 100 keys over 4 servers
 * with one of them dead, through mcfast (its defaults: healing,
 * docs/failures.md) and libmemcached with its auto-eject behaviours
 * (MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, SERVER_FAILURE_LIMIT,
 * RETRY_TIMEOUT), in one process, on the same servers, alternating rounds.
 *
 * First with every server alive (get_multi100_4srv_alive, for scale), then
 * two ways to be dead:
 *   - get_multi100_4srv_down: the 4th server was SIGKILLed (a connect is
 *     refused at once);
 *   - get_multi100_4srv_blackhole: the 4th address drops SYNs (a full
 *     accept queue), so a connect waits out its timeout.
 * Each round runs calls for ROUND_S seconds; reported per client: keys
 * per second (median of the rounds), the slowest call, and how many calls
 * took longer than half the connect timeout (calls that paid a timeout).
 * Both clients use a 250 ms connect timeout and the same 2-second retry,
 * so a retry comes round several times per round. */
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "blackhole.h"
#include "mcfast.h"
#include "mcserver.h"

#define NSRV 4
#define NKEYS 1000
#define BATCH 100
#define ROUNDS 5
#define ROUND_S 3.0
#define CONNECT_MS 250
#define IO_MS 1000
#define RETRY_S 2
#define FAILURE_LIMIT 3
#define VLEN 100

static const char *g_keys[NKEYS];
static size_t g_klens[NKEYS];
static char g_ktext[NKEYS * (BENCH_KLEN + 1)];

typedef struct stats {
    double keys_per_s[ROUNDS];
    double slowest_ms;
    long slow_calls, calls;
} stats;

/* ---- mcfast ---- */

static void count_key(void *ctx, size_t i, int rc, const mcf_value *v)
{
    (void)i;
    (void)v;
    *(size_t *)ctx += rc == MCF_OK;
}

static mcf_client *mcfast_client(const char *list)
{
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, list) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_LIBMEMCACHED) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, CONNECT_MS) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_MS) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, FAILURE_LIMIT) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_RETRY_MS, RETRY_S * 1000) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, RETRY_S * 1000) != MCF_OK) {
        fprintf(stderr, "mcfast-bench-down: mcfast client: %s\n", c ? mcf_last_error(c) : "");
        exit(1);
    }
    return c;
}

static size_t mcfast_call(mcf_client *c, size_t first)
{
    size_t hits = 0;
    (void)mcf_get_multi(c, MCF_GET, 0, g_keys + first, g_klens + first, BATCH, count_key, &hits);
    return hits;
}

/* ---- libmemcached ---- */

static memcached_st *lmc_client(const char *const *specs, const int *ports, int n)
{
    memcached_st *m = memcached_create(NULL);
    for (int i = 0; i < n; i++)
        memcached_server_add(m, specs[i], (in_port_t)ports[i]);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, CONNECT_MS);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, IO_MS);
    /* Auto-eject: a server failing SERVER_FAILURE_LIMIT times is taken
     * out of the ring and tried again after RETRY_TIMEOUT seconds. */
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, FAILURE_LIMIT);
    memcached_behavior_set(m, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, RETRY_S);
    return m;
}

static size_t lmc_call(memcached_st *m, size_t first)
{
    size_t hits = 0;
    if (memcached_mget(m, g_keys + first, g_klens + first, BATCH) != MEMCACHED_SUCCESS &&
        memcached_last_error(m) != MEMCACHED_SUCCESS) {
        /* Keys on live servers may still have gone out: read what came. */
    }
    memcached_return_t rc;
    memcached_result_st *r;
    while ((r = memcached_fetch_result(m, NULL, &rc)) != NULL) {
        hits++;
        memcached_result_free(r);
    }
    return hits;
}

/* ---- rounds ---- */

typedef size_t (*call_fn)(void *client, size_t first);
static size_t call_mcfast(void *c, size_t first) { return mcfast_call(c, first); }
static size_t call_lmc(void *c, size_t first) { return lmc_call(c, first); }

static void one_round(call_fn fn, void *client, stats *st, int round, size_t *cursor)
{
    double t0 = bench_now_s(), end = t0 + ROUND_S;
    size_t keys = 0;
    while (bench_now_s() < end) {
        double c0 = bench_now_s();
        fn(client, *cursor);
        double ms = (bench_now_s() - c0) * 1000;
        *cursor = (*cursor + BATCH) % NKEYS;
        keys += BATCH;
        st->calls++;
        if (ms > st->slowest_ms)
            st->slowest_ms = ms;
        if (ms > CONNECT_MS / 2.0)
            st->slow_calls++;
    }
    st->keys_per_s[round] = (double)keys / (bench_now_s() - t0);
}

static void run(const char *name, mcf_client *mc, memcached_st *lmc)
{
    stats a = {0}, b = {0};
    size_t ca = 0, cb = 0;
    /* The first calls of each mark the dead server (they pay for it). */
    for (int i = 0; i < FAILURE_LIMIT + 1; i++) {
        mcfast_call(mc, 0);
        lmc_call(lmc, 0);
    }
    for (int r = 0; r < ROUNDS; r++) {
        one_round(call_mcfast, mc, &a, r, &ca);
        one_round(call_lmc, lmc, &b, r, &cb);
    }
    double ma = bench_median(a.keys_per_s, ROUNDS), mb = bench_median(b.keys_per_s, ROUNDS);
    printf("bench: %s mcfast=%.0f keys/s libmemcached=%.0f keys/s ratio=%.2f\n", name, ma, mb,
           mb > 0 ? ma / mb : 0);
    printf("info: %s mcfast: %ld calls, %ld over %d ms, slowest %.1f ms; libmemcached: %ld "
           "calls, %ld over %d ms, slowest %.1f ms\n",
           name, a.calls, a.slow_calls, CONNECT_MS / 2, a.slowest_ms, b.calls, b.slow_calls,
           CONNECT_MS / 2, b.slowest_ms);
}

/* Stores every key through both clients (each where its ring puts it). */
static void fill(mcf_client *mc, memcached_st *lmc)
{
    char v[VLEN];
    memset(v, 'v', sizeof v);
    for (size_t i = 0; i < NKEYS; i++) {
        mcf_set(mc, g_keys[i], g_klens[i], v, sizeof v, 0, 0);
        memcached_set(lmc, g_keys[i], g_klens[i], v, sizeof v, 0, 0);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bench_make_keys(g_keys, g_ktext, "bd:", NKEYS);
    for (size_t i = 0; i < NKEYS; i++)
        g_klens[i] = BENCH_KLEN;
    mcserver srv[NSRV];
    for (int i = 0; i < NSRV; i++)
        if (mcserver_start_tcp(&srv[i], "127.0.0.1", "-t 1") < 0) {
            fprintf(stderr, "mcfast-bench-down: cannot start memcached\n");
            return 1;
        }
    const char *hosts[NSRV];
    int ports[NSRV];
    char list[1024] = "";
    for (int i = 0; i < NSRV; i++) {
        hosts[i] = "127.0.0.1";
        ports[i] = srv[i].port;
        size_t off = strlen(list);
        snprintf(list + off, sizeof list - off, "%s%s", i ? "," : "", srv[i].spec);
    }

    /* A killed server: refused at once. */
    mcf_client *mc = mcfast_client(list);
    memcached_st *lmc = lmc_client(hosts, ports, NSRV);
    fill(mc, lmc);
    /* The same with every server alive, for scale. */
    run("get_multi100_4srv_alive", mc, lmc);
    mcserver_kill(&srv[NSRV - 1], SIGKILL);
    run("get_multi100_4srv_down", mc, lmc);
    mcf_free(mc);
    memcached_free(lmc);

    /* A blackholed address in its place: a connect waits its timeout. */
    blackhole b;
    if (blackhole_open(&b, "127.0.0.1") < 0) {
        printf("info: get_multi100_4srv_blackhole skipped: cannot fill a loopback accept queue\n");
    } else {
        char bh[MCF_ADDRSTR_MAX];
        mcf_addr_format(&b.addr, bh, sizeof bh);
        const char *colon = strrchr(bh, ':');
        ports[NSRV - 1] = atoi(colon + 1);
        size_t off = 0;
        for (int i = 0; i < NSRV - 1; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s,", srv[i].spec);
        snprintf(list + off, sizeof list - off, "%s", bh);
        mc = mcfast_client(list);
        lmc = lmc_client(hosts, ports, NSRV);
        fill(mc, lmc);
        run("get_multi100_4srv_blackhole", mc, lmc);
        mcf_free(mc);
        memcached_free(lmc);
        blackhole_close(&b);
    }
    for (int i = 0; i < NSRV - 1; i++)
        mcserver_stop(&srv[i]);
    return 0;
}
