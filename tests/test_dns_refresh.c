/* test_dns_refresh.c - names looked up again while connected (src/refresh.c,
 * MCF_OPT_DNS_TTL_MS), against two real memcached on the same port of two
 * loopback addresses (127.0.0.1:P and 127.0.0.2:P) and a scripted DNS
 * server (fakedns.h) the client's resolver is pointed at.  Each case has a
 * name of its own, answering 127.0.0.1 with a 1 s TTL, and moves it:
 *
 *   sync_switch: blocking calls keep running while the name moves to
 *     127.0.0.2; within a bound the writes land on the second server (read
 *     there directly on its literal address), mcf_server_info shows the new
 *     address and one re-resolution, no call failed, and every noreply
 *     write sent before the move reached one of the servers.
 *   async_switch: the same through the async API with requests in flight
 *     (gets of keys both servers hold, sets, noreply sets): every request
 *     completes exactly once, with its own value, none failed, and every
 *     noreply set reached one of the servers.
 *   failed_lookup_keeps: the name's DNS answers SERVFAIL, then nothing at
 *     all: lookups are made again and fail, the connection stays on
 *     127.0.0.1 and no call fails.
 *   ttl_zero_never: MCF_OPT_DNS_TTL_MS 0: no query after the connect's
 *     (fakedns counts them) over several TTLs; set to a fixed 300 ms, the
 *     name is asked again (so the wait was long enough to see one).
 *   literal_never: a literal server is never due (dns_expires_in_ms -1).
 *
 * Waits are bounded (BOUND_MS) only to catch a hang: no timing is asserted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fakedns.h"
#include "fixtures.h"
#include "harness.h"
#include "internal.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"
#include "resolve.h"

#define BOUND_MS 15000  /* a switch not seen by then is a failure (TTL 1 s + floor + slack) */
#define STEP_MS 5       /* between two rounds of calls: lets time pass without spinning */
#define NEVER_MS 2500   /* more than two TTLs of 1 s: a refresh would have been due */
#define PORT_TRIES 5    /* the port free on 127.0.0.1 may be taken on 127.0.0.2 */
#define GETS_PER_ROUND 32
#define SETS_PER_ROUND 8
#define MAX_NR 4096     /* noreply keys remembered by sync_switch and async_switch */
#define NR_PER_ROUND 2
#define KEYLEN 64

static struct dnsf_name names[] = {
    {"sync.refresh.test", DNSF_ANSWER, {"127.0.0.1"}, 0, 0, {0}, 1},
    {"async.refresh.test", DNSF_ANSWER, {"127.0.0.1"}, 0, 0, {0}, 1},
    {"fail.refresh.test", DNSF_ANSWER, {"127.0.0.1"}, 0, 0, {0}, 1},
    {"never.refresh.test", DNSF_ANSWER, {"127.0.0.1"}, 0, 0, {0}, 1},
};

static struct dnsf_server dns;
static mcserver srv_a, srv_b; /* 127.0.0.1:P and 127.0.0.2:P */
static int servers_up;

/* Both servers on one port: A on a free port, B on the same one. */
static int start_servers(void)
{
    if (servers_up)
        return 0;
    for (int i = 0; i < PORT_TRIES; i++) {
        if (mcserver_start_tcp(&srv_a, "127.0.0.1", NULL) != 0)
            return -1;
        if (mcserver_start_tcp_port(&srv_b, "127.0.0.2", srv_a.port, NULL) == 0) {
            servers_up = 1;
            return 0;
        }
        mcserver_stop(&srv_a);
    }
    return -1;
}

/* A client of name:P whose resolver asks the scripted server only; name
 * answers 127.0.0.1 again.  NULL after a FAIL line. */
static mcf_client *named_client(const char *name, int ttl_option)
{
    char list[128];
    dnsf_set(&dns, name, DNSF_ANSWER, "127.0.0.1");
    snprintf(list, sizeof list, "%s:%d", name, srv_a.port);
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, list) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_DNS_TTL_MS, ttl_option) != MCF_OK || !mcf_conn_resolver(c) ||
        mcf_resolver_set_servers(c->resolver, dns.csv) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "client for %s: %s", list, c ? mcf_last_error(c) : "no memory");
        mcf_free(c);
        return NULL;
    }
    return c;
}

static mcf_server_info info_of(mcf_client *c)
{
    mcf_server_info info;
    memset(&info, 0, sizeof info);
    if (mcf_server_info_get(c, 0, &info) != MCF_OK)
        t_fail(__FILE__, __LINE__, "mcf_server_info_get failed");
    return info;
}

static int on_b(mcf_client *c)
{
    mcf_server_info info = info_of(c);
    return info.connected && info.address && strcmp(info.address, srv_b.spec) == 0;
}

#define SETUP_CASE(NAME, OPT)                                                        \
    SKIP_UNLESS(mcserver_binary() != NULL, "memcached is not installed");             \
    if (start_servers() != 0) {                                                      \
        t_skip_case("cannot run memcached on 127.0.0.1 and 127.0.0.2 on one port");  \
        return;                                                                      \
    }                                                                                \
    mcf_client *c = named_client(NAME, OPT);                                         \
    if (!c)                                                                          \
        return

/* ---- sync --------------------------------------------------------------- */

TEST(sync_switch)
{
    SETUP_CASE("sync.refresh.test", -1);
    static char nr[MAX_NR][KEYLEN];
    size_t nnr = 0;
    int errors = 0, misses = 0, moved = 0, seen_b = 0;
    char key[KEYLEN], val[KEYLEN];
    mcf_value v;

    CHECK_RC(mcf_set(c, KS("before"), KS("a"), 0, 0), MCF_OK);
    CHECKF(raw_has(&srv_a, "before", "a"), "the first write is not on %s", srv_a.spec);
    mcf_server_info info = info_of(c);
    CHECKF(strcmp(info.address, srv_a.spec) == 0, "connected to %s", info.address);
    CHECKF(info.dns_expires_in_ms >= 0, "dns_expires_in_ms %lld for a name",
           (long long)info.dns_expires_in_ms);
    CHECK(info.re_resolved == 0);

    double end = now_ms() + BOUND_MS;
    for (int i = 0; now_ms() < end; i++) {
        snprintf(key, sizeof key, "sync:%d", i);
        snprintf(val, sizeof val, "v:%d", i);
        if (mcf_set(c, KS(key), KS(val), 0, 0) != MCF_OK)
            errors++;
        /* The one get after the move can miss: its set went to A just
         * before the connection moved to B, which never saw the key. */
        int rc = mcf_get(c, KS(key), &v);
        if (rc == MCF_MISS && moved && on_b(c))
            misses++;
        else if (rc != MCF_OK || v.len != strlen(val) || memcmp(v.data, val, v.len) != 0)
            errors++;
        if (nnr < MAX_NR) {
            snprintf(nr[nnr], KEYLEN, "nr:%d", i);
            if (mcf_store(c, MCF_SET, KS(nr[nnr]), KS("n"), 0, 0, 0, MCF_CALL_NOREPLY) != MCF_OK)
                errors++;
            nnr++;
        }
        if (i == 10) {
            dnsf_set(&dns, "sync.refresh.test", DNSF_ANSWER, "127.0.0.2");
            moved = 1;
        }
        if (moved && on_b(c)) {
            seen_b = 1;
            break;
        }
        sleep_ms(STEP_MS);
    }
    CHECKF(seen_b, "still on %s after %d ms", info_of(c).address, BOUND_MS);
    CHECKF(errors == 0, "%d calls failed during the switch: %s", errors, mcf_last_error(c));
    CHECKF(misses <= 1, "%d gets missed on the new server", misses);

    CHECK_RC(mcf_set(c, KS("after"), KS("b"), 0, 0), MCF_OK);
    CHECKF(raw_has(&srv_b, "after", "b"), "the write after the switch is not on %s",
           srv_b.spec);
    CHECKF(!raw_has(&srv_a, "after", "b"), "the write after the switch went to %s",
           srv_a.spec);
    info = info_of(c);
    CHECKF(strcmp(info.address, srv_b.spec) == 0, "address %s", info.address);
    CHECKF(info.re_resolved == 1, "re_resolved %llu", (unsigned long long)info.re_resolved);
    /* Noreply writes were synchronised before the old connection went. */
    size_t lost = 0;
    for (size_t i = 0; i < nnr; i++)
        lost += !raw_has(&srv_a, nr[i], "n") && !raw_has(&srv_b, nr[i], "n");
    CHECKF(lost == 0, "%zu of %zu noreply writes reached neither server", lost, nnr);
    mcf_free(c);
}

/* ---- async -------------------------------------------------------------- */

typedef struct rec {
    char key[KEYLEN];
    int calls, rc, right;
} rec;

static void get_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    rec *r = arg;
    char want[KEYLEN + 4];
    (void)c;
    (void)req;
    snprintf(want, sizeof want, "v:%s", r->key);
    r->calls++;
    r->rc = rc;
    r->right = rc == MCF_OK && v && v->len == strlen(want) && memcmp(v->data, want, v->len) == 0;
}

static void set_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    rec *r = arg;
    (void)c;
    (void)req;
    (void)v;
    r->calls++;
    r->rc = rc;
    r->right = rc == MCF_OK;
}

/* Keys every round gets: both servers hold them, so a get is right on
 * either side of the move. */
static int seed_both(void)
{
    char req[256], key[KEYLEN];
    for (int i = 0; i < GETS_PER_ROUND; i++) {
        snprintf(key, sizeof key, "g:%d", i);
        int n = snprintf(req, sizeof req, "set %s 0 0 %zu\r\nv:%s\r\n", key, strlen(key) + 2, key);
        if (n <= 0 || raw_cmd(&srv_a, req, "STORED\r\n") != 0 ||
            raw_cmd(&srv_b, req, "STORED\r\n") != 0)
            return -1;
    }
    return 0;
}

TEST(async_switch)
{
    SETUP_CASE("async.refresh.test", -1);
    static rec gets[GETS_PER_ROUND], sets[SETS_PER_ROUND];
    int bad = 0, moved = 0, seen_b = 0, round;
    static char sv[SETS_PER_ROUND][KEYLEN];
    static char nr[MAX_NR][KEYLEN];
    static rec nr_rec[MAX_NR];
    size_t nnr = 0;

    if (seed_both() != 0) {
        t_fail(__FILE__, __LINE__, "cannot seed the servers");
        mcf_free(c);
        return;
    }
    double end = now_ms() + BOUND_MS;
    for (round = 0; now_ms() < end; round++) {
        memset(gets, 0, sizeof gets);
        memset(sets, 0, sizeof sets);
        for (int i = 0; i < GETS_PER_ROUND; i++) {
            snprintf(gets[i].key, KEYLEN, "g:%d", i);
            if (!mcf_async_get(c, MCF_GET, 0, KS(gets[i].key), get_done, &gets[i]))
                bad++;
            if (i % (GETS_PER_ROUND / SETS_PER_ROUND) == 0) {
                int k = i / (GETS_PER_ROUND / SETS_PER_ROUND);
                snprintf(sets[k].key, KEYLEN, "as:%d:%d", round, k);
                snprintf(sv[k], KEYLEN, "v:%s", sets[k].key);
                if (!mcf_async_store(c, MCF_SET, KS(sets[k].key), KS(sv[k]), 0, 0, 0, 0,
                                     set_done, &sets[k]))
                    bad++;
            }
        }
        /* noreply sets: done once written; each must reach a server. */
        for (int k = 0; k < NR_PER_ROUND && nnr < MAX_NR; k++, nnr++) {
            snprintf(nr[nnr], KEYLEN, "anr:%d:%d", round, k);
            memset(&nr_rec[nnr], 0, sizeof nr_rec[nnr]);
            if (!mcf_async_store(c, MCF_SET, KS(nr[nnr]), KS("n"), 0, 0, 0, MCF_CALL_NOREPLY,
                                 set_done, &nr_rec[nnr]))
                bad++;
        }
        if (round == 5) {
            dnsf_set(&dns, "async.refresh.test", DNSF_ANSWER, "127.0.0.2");
            moved = 1;
        }
        size_t left = mcf_async_run(c, BOUND_MS);
        CHECKF(left == 0, "round %d: %zu requests still in flight", round, left);
        for (int i = 0; i < GETS_PER_ROUND; i++)
            if (gets[i].calls != 1 || !gets[i].right) {
                if (bad < 4)
                    t_fail(__FILE__, __LINE__, "round %d get %s: %d calls, rc %d (%s)", round,
                           gets[i].key, gets[i].calls, gets[i].rc, mcf_strerror(gets[i].rc));
                bad++;
            }
        for (int k = 0; k < SETS_PER_ROUND; k++)
            if (sets[k].calls != 1 || !sets[k].right) {
                if (bad < 4)
                    t_fail(__FILE__, __LINE__, "round %d set %s: %d calls, rc %d (%s)", round,
                           sets[k].key, sets[k].calls, sets[k].rc, mcf_strerror(sets[k].rc));
                bad++;
            }
        if (left || bad)
            break;
        if (moved && on_b(c)) {
            seen_b = 1;
            break;
        }
        sleep_ms(STEP_MS);
    }
    CHECKF(bad == 0, "%d requests wrong during the switch", bad);
    CHECKF(seen_b, "still on %s after %d rounds", info_of(c).address, round);
    /* The last round's sets went to the new server. */
    for (int k = 0; seen_b && k < SETS_PER_ROUND; k++)
        CHECKF(raw_has(&srv_b, sets[k].key, sv[k]), "%s is not on %s", sets[k].key, srv_b.spec);
    CHECK(info_of(c).re_resolved == 1);
    size_t lost = 0, wrong = 0;
    for (size_t i = 0; i < nnr; i++) {
        wrong += nr_rec[i].calls != 1 || !nr_rec[i].right;
        lost += !raw_has(&srv_a, nr[i], "n") && !raw_has(&srv_b, nr[i], "n");
    }
    CHECKF(wrong == 0, "%zu of %zu noreply sets did not complete once with MCF_OK", wrong, nnr);
    CHECKF(lost == 0, "%zu of %zu noreply sets reached neither server", lost, nnr);
    mcf_free(c);
}

/* ---- failures ----------------------------------------------------------- */

/* Calls run until the name has had `more` queries beyond `base`; returns
 * the failed calls, or -1 when the bound passed first. */
static int run_until_queries(mcf_client *c, const char *name, int base, int more)
{
    int errors = 0;
    char val[KEYLEN];
    mcf_value v;
    double end = now_ms() + BOUND_MS;
    for (int i = 0; dnsf_queries(&dns, name, NULL) < base + more; i++) {
        if (now_ms() >= end)
            return -1;
        snprintf(val, sizeof val, "v:%d", i);
        if (mcf_set(c, KS("f"), KS(val), 0, 0) != MCF_OK)
            errors++;
        if (mcf_get(c, KS("f"), &v) != MCF_OK || v.len != strlen(val) ||
            memcmp(v.data, val, v.len) != 0)
            errors++;
        sleep_ms(STEP_MS);
    }
    return errors;
}

TEST(failed_lookup_keeps)
{
    SETUP_CASE("fail.refresh.test", -1);
    const char *name = "fail.refresh.test";

    CHECK_RC(mcf_set(c, KS("f"), KS("x"), 0, 0), MCF_OK);
    CHECK(strcmp(info_of(c).address, srv_a.spec) == 0);
    /* SERVFAIL: c-ares reports it at once. */
    dnsf_set(&dns, name, DNSF_SERVFAIL, NULL);
    int base = dnsf_queries(&dns, name, NULL);
    int errors = run_until_queries(c, name, base, 3);
    CHECKF(errors == 0, "%d calls failed while the DNS server failed (%s)", errors,
           errors < 0 ? "no new query seen" : mcf_last_error(c));
    /* No answer at all: each lookup runs out of time.  A lookup asks for
     * A and AAAA: more than two queries means a lookup came after one had
     * run out of time (or c-ares retransmitted): calls ran on meanwhile. */
    dnsf_set(&dns, name, DNSF_SILENT, NULL);
    base = dnsf_queries(&dns, name, NULL);
    errors = run_until_queries(c, name, base, 4);
    CHECKF(errors == 0, "%d calls failed while the DNS server was silent (%s)", errors,
           errors < 0 ? "no new query seen" : mcf_last_error(c));
    mcf_server_info info = info_of(c);
    CHECKF(info.connected && strcmp(info.address, srv_a.spec) == 0, "connected %d to %s",
           info.connected, info.address);
    CHECK(info.re_resolved == 0);
    CHECK_RC(mcf_set(c, KS("f"), KS("final"), 0, 0), MCF_OK);
    CHECKF(raw_has(&srv_a, "f", "final"), "the last write is not on %s", srv_a.spec);
    mcf_free(c);
}

/* ---- never -------------------------------------------------------------- */

TEST(ttl_zero_never)
{
    SETUP_CASE("never.refresh.test", 0);
    const char *name = "never.refresh.test";
    mcf_value v;
    int errors = 0;

    dnsf_reset_counts(&dns);
    CHECK_RC(mcf_set(c, KS("n"), KS("x"), 0, 0), MCF_OK);
    int after_connect = dnsf_queries(&dns, name, NULL);
    CHECK(after_connect >= 1);
    CHECKF(info_of(c).dns_expires_in_ms == -1, "dns_expires_in_ms %lld with the option 0",
           (long long)info_of(c).dns_expires_in_ms);
    double end = now_ms() + NEVER_MS;
    while (now_ms() < end) {
        errors += mcf_get(c, KS("n"), &v) != MCF_OK;
        sleep_ms(STEP_MS);
    }
    CHECKF(dnsf_queries(&dns, name, NULL) == after_connect, "%d queries after the connect's %d",
           dnsf_queries(&dns, name, NULL), after_connect);
    /* A fixed interval: the name is asked again, on the same connection. */
    CHECK_RC(mcf_set_option(c, MCF_OPT_DNS_TTL_MS, 300), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_DNS_TTL_MS) == 300);
    end = now_ms() + BOUND_MS;
    while (dnsf_queries(&dns, name, NULL) == after_connect && now_ms() < end) {
        errors += mcf_get(c, KS("n"), &v) != MCF_OK;
        sleep_ms(STEP_MS);
    }
    CHECKF(dnsf_queries(&dns, name, NULL) > after_connect, "no query with a 300 ms interval");
    CHECK(errors == 0);
    CHECK(info_of(c).re_resolved == 0);
    CHECK_RC(mcf_set_option(c, MCF_OPT_DNS_TTL_MS, -2), MCF_ERR_ARG);
    mcf_free(c);
}

TEST(literal_never)
{
    SKIP_UNLESS(mcserver_binary() != NULL, "memcached is not installed");
    if (start_servers() != 0) {
        t_skip_case("cannot run memcached on 127.0.0.1 and 127.0.0.2 on one port");
        return;
    }
    mcf_client *c = mcf_new();
    CHECK(c && mcf_set_servers(c, srv_a.spec) == MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_DNS_TTL_MS) == -1);
    CHECK_RC(mcf_set(c, KS("l"), KS("x"), 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("l"), KS("y"), 0, 0), MCF_OK);
    CHECKF(info_of(c).dns_expires_in_ms == -1, "dns_expires_in_ms %lld for a literal",
           (long long)info_of(c).dns_expires_in_ms);
    mcf_free(c);
}

int main(int argc, char **argv)
{
    if (!dnsf_start_or_skip(&dns, names, sizeof names / sizeof names[0]))
        return t_main(argc, argv);
    int rc = t_main(argc, argv);
    if (servers_up) {
        mcserver_stop(&srv_a);
        mcserver_stop(&srv_b);
    }
    dnsf_stop(&dns);
    return rc;
}
