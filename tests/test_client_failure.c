/* test_client_failure.c - the public client API against real memcached
 * processes: errors (refused, no servers, bad specs) and server failures:
 * SIGKILL and SIGSTOP among 4 servers, max_failures, failover.
 *
 * Every case starts its own servers (tests/fixtures.h: 1 for single-server
 * cases, 4 for multi-server ones, plus ::1 and a unix socket) and checks
 * what the client returns AND, where it matters, what the server really
 * holds, through mcserver_raw() which bypasses mcfast.  Values are checked
 * by content ("v:" + key), never just by return code. */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

TEST(error_connect_refused)
{
    int port = mcserver_free_port("127.0.0.1");
    CHECK(port > 0);
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    mcf_client *c = new_client();
    CHECK_RC(mcf_set_servers(c, spec), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("k"), &v), MCF_ERR_CONNECT);
    const char *e = mcf_last_error(c);
    CHECKF(contains(e, spec) && contains(e, "refused"), "last error '%s'", e);
    CHECK_RC(mcf_set(c, KS("k"), "v", 1, 0, 0), MCF_ERR_CONNECT);
    e = mcf_last_error(c);
    CHECKF(contains(e, spec) && contains(e, "refused"), "last error '%s'", e);
    const char *keys[] = {"a", "b"};
    gm g;
    gm_init(&g, keys, 2);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 2, gm_cb, &g), MCF_ERR_CONNECT);
    CHECK(g.calls[0] == 1 && g.rc[0] == MCF_ERR_CONNECT && g.calls[1] == 1 &&
          g.rc[1] == MCF_ERR_CONNECT);
    gm_free(&g);
    char buf[32];
    CHECK_RC(mcf_version(c, 0, buf, sizeof buf), MCF_ERR_CONNECT);
    CHECK_RC(mcf_connect_server(c, 0), MCF_ERR_CONNECT);
    mcf_free(c);
}

TEST(error_no_servers)
{
    mcf_client *c = new_client();
    mcf_value v;
    CHECK(mcf_server_count(c) == 0);
    CHECK_RC(mcf_get(c, KS("k"), &v), MCF_ERR_NO_SERVERS);
    CHECK(mcf_last_error(c)[0] != 0);
    CHECK_RC(mcf_set(c, KS("k"), "v", 1, 0, 0), MCF_ERR_NO_SERVERS);
    CHECK_RC(mcf_delete(c, KS("k"), 0), MCF_ERR_NO_SERVERS);
    const char *keys[] = {"a", "b"};
    gm g;
    gm_init(&g, keys, 2);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 2, gm_cb, &g), MCF_ERR_NO_SERVERS);
    CHECK(g.calls[0] == 1 && g.rc[0] == MCF_ERR_NO_SERVERS && g.calls[1] == 1);
    gm_free(&g);
    size_t s;
    CHECK_RC(mcf_server_for_key(c, KS("k"), &s), MCF_ERR_NO_SERVERS);
    CHECK_RC(mcf_flush_all(c, 0, 0), MCF_ERR_NO_SERVERS);
    mcf_free(c);
}

TEST(error_bad_spec)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set(c, KS("bs"), "1", 1, 0, 0), MCF_OK);
    static const char *bad[] = {"127.0.0.1:99999", "[::1", "127.0.0.1:abc", "host:11211:0:9",
                                "[::1]x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char list[300];
        snprintf(list, sizeof list, "%s, %s", srv[0].spec, bad[i]);
        CHECKF(mcf_set_servers(c, list) == MCF_ERR_BAD_SPEC, "'%s' accepted", list);
        CHECKF(mcf_last_error(c)[0] != 0, "no message for '%s'", list);
        CHECK(mcf_server_count(c) == 1);
    }
    CHECK(get_eq(c, "bs", "1"));
    CHECK_RC(mcf_set(c, KS("bs2"), "2", 1, 0, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "bs2", "2"));
    TEARDOWN(1);
}

/* ------------------------------------------------------------------ */
/* failures over 4 servers                                             */
/* ------------------------------------------------------------------ */

TEST(failure_sigkill_one_of_four)
{
    SETUP(4, NULL);
    keyset ks;
    ks_make(&ks, 400, "fk");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    const int dead = 2;
    mcserver_kill(&srv[dead], SIGKILL);
    gm g;
    int rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    CHECKF(rc == MCF_ERR_CONNECT || rc == MCF_ERR_IO, "get_multi rc %d", rc);
    const char *e = mcf_last_error(c);
    CHECKF(contains(e, srv[dead].spec), "last error '%s' does not name %s", e, srv[dead].spec);
    size_t hits = 0, errs = 0, wrong = 0, ndead = 0;
    for (size_t i = 0; i < ks.n; i++) {
        size_t s = server_of(c, ks.k[i]);
        if ((int)s == dead) {
            ndead++;
            if (g.rc[i] == MCF_ERR_CONNECT || g.rc[i] == MCF_ERR_IO)
                errs++;
            else
                wrong++;
        } else if (g.rc[i] == MCF_OK && g.ok[i]) {
            hits++;
        } else {
            wrong++;
        }
    }
    CHECK(ndead > 0);
    CHECKF(wrong == 0 && hits + errs == ks.n, "hits %zu, errors %zu, wrong %zu", hits, errs,
           wrong);
    gm_free(&g);
    /* a second call: connect refused now */
    rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    CHECK_RC(rc, MCF_ERR_CONNECT);
    CHECKF(contains(mcf_last_error(c), srv[dead].spec) && contains(mcf_last_error(c), "refused"),
           "last error '%s'", mcf_last_error(c));
    gm_free(&g);

    CHECK(mcserver_restart(&srv[dead]) == 0);
    const char **mine = calloc(ks.n, sizeof *mine);
    size_t nm = 0;
    for (size_t i = 0; i < ks.n; i++)
        if ((int)server_of(c, ks.k[i]) == dead)
            mine[nm++] = ks.k[i];
    CHECK(set_keys(c, mine, nm, 0, 0) == 0);
    rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    CHECK_RC(rc, MCF_OK);
    hits = 0;
    for (size_t i = 0; i < ks.n; i++)
        hits += g.rc[i] == MCF_OK && g.ok[i];
    CHECKF(hits == ks.n, "after restart: %zu of %zu hits", hits, ks.n);
    gm_free(&g);
    for (size_t i = 0; i < nm && i < 20; i++) {
        char want[80];
        val_of(mine[i], want, sizeof want);
        CHECK(raw_has(&srv[dead], mine[i], want));
    }
    free(mine);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(failure_sigstop_timeout)
{
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 300), MCF_OK);
    keyset ks;
    ks_make(&ks, 400, "fs");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    const int stopped = 1;
    mcserver_kill(&srv[stopped], SIGSTOP);
    gm g;
    double t0 = now_ms();
    int rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    double el = now_ms() - t0;
    printf("# get_multi with one SIGSTOPped server (io timeout 300 ms): %.0f ms\n", el);
    CHECK_RC(rc, MCF_ERR_TIMEOUT);
    CHECKF(el >= 250 && el < 2000, "took %.0f ms", el);
    CHECKF(contains(mcf_last_error(c), srv[stopped].spec), "last error '%s'", mcf_last_error(c));
    size_t wrong = 0, to = 0;
    for (size_t i = 0; i < ks.n; i++) {
        size_t s = server_of(c, ks.k[i]);
        if ((int)s == stopped) {
            to += g.rc[i] == MCF_ERR_TIMEOUT;
            wrong += g.rc[i] != MCF_ERR_TIMEOUT;
        } else {
            wrong += !(g.rc[i] == MCF_OK && g.ok[i]);
        }
    }
    CHECK(to > 0);
    CHECKF(wrong == 0, "%zu keys with a wrong outcome", wrong);
    gm_free(&g);
    kill(srv[stopped].pid, SIGCONT);
    rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    CHECK_RC(rc, MCF_OK);
    size_t hits = 0;
    for (size_t i = 0; i < ks.n; i++)
        hits += g.rc[i] == MCF_OK && g.ok[i];
    CHECKF(hits == ks.n, "after SIGCONT: %zu of %zu hits", hits, ks.n);
    gm_free(&g);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(failure_sigstop_single_server)
{
    /* one server: the call waits in recv() itself; the deadline must hold */
    SETUP(1, "-I 2m");
    CHECK_RC(mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 300), MCF_OK);
    /* Every call meets the stopped server: none is skipped (test_heal.c). */
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("ss:k"), "v", 1, 0, 0), MCF_OK);
    mcserver_kill(&srv[0], SIGSTOP);
    mcf_value v;
    uint64_t nv;
    double t0 = now_ms();
    CHECK_RC(mcf_get(c, KS("ss:k"), &v), MCF_ERR_TIMEOUT);
    double el = now_ms() - t0;
    printf("# get from a SIGSTOPped server: %.0f ms\n", el);
    CHECKF(el >= 250 && el < 2000, "get took %.0f ms", el);
    CHECKF(contains(mcf_last_error(c), srv[0].spec), "last error '%s'", mcf_last_error(c));
    t0 = now_ms();
    CHECK_RC(mcf_set(c, KS("ss:k"), "w", 1, 0, 0), MCF_ERR_TIMEOUT);
    CHECK_RC(mcf_incr(c, KS("ss:n"), 1, &nv, 0), MCF_ERR_TIMEOUT);
    /* pipelined items, with values too big for the socket buffers */
    size_t n = 1000 * 1000;
    char *big = malloc(n);
    fill_text(big, n);
    mcf_item it[6];
    for (int i = 0; i < 6; i++)
        it[i] = (mcf_item){.key = "ss:big", .key_len = 6, .value = big, .value_len = n,
                           .rc = -99};
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, 6, 0), MCF_ERR_TIMEOUT);
    for (int i = 0; i < 6; i++)
        CHECK_RC(it[i].rc, MCF_ERR_TIMEOUT);
    el = now_ms() - t0;
    printf("# set, incr and a 6 MB pipelined set to a SIGSTOPped server: %.0f ms\n", el);
    CHECKF(el >= 750 && el < 4000, "three calls took %.0f ms", el);
    kill(srv[0].pid, SIGCONT);
    /* the timed-out set may still be applied once the server runs again:
     * "v" or "w", but a hit */
    CHECK_RC(mcf_get(c, KS("ss:k"), &v), MCF_OK);
    CHECK(v.len == 1 && (v.data[0] == 'v' || v.data[0] == 'w'));
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, 6, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("ss:big"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, big, n) == 0);
    free(big);
    TEARDOWN(1);
}

/* A key that lives on server `want`. */
static int key_on(mcf_client *c, size_t want, char *key, size_t cap, const char *prefix)
{
    for (int i = 0; i < 10000; i++) {
        snprintf(key, cap, "%s:%d", prefix, i);
        if (server_of(c, key) == want)
            return 0;
    }
    return -1;
}

TEST(max_failures_server_down)
{
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_FAILURES, 2), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILURE_TIMEOUT_S, 1), MCF_OK);
    const int dead = 3;
    char key[64], other[64];
    CHECK(key_on(c, dead, key, sizeof key, "mf") == 0);
    CHECK(key_on(c, 0, other, sizeof other, "mfo") == 0);
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS(other), "o", 1, 0, 0), MCF_OK);
    mcserver_kill(&srv[dead], SIGKILL);
    mcf_value v;
    int r1 = mcf_get(c, KS(key), &v);
    CHECKF(r1 == MCF_ERR_IO || r1 == MCF_ERR_CONNECT, "1st call rc %d", r1);
    int r2 = mcf_get(c, KS(key), &v);
    CHECKF(r2 == MCF_ERR_IO || r2 == MCF_ERR_CONNECT, "2nd call rc %d", r2);
    double t0 = now_ms();
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_SERVER_DOWN);
    printf("# third call failed in %.1f ms\n", now_ms() - t0);
    CHECKF(contains(mcf_last_error(c), srv[dead].spec), "last error '%s'", mcf_last_error(c));
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_ERR_SERVER_DOWN);
    /* other servers unaffected */
    CHECK(get_eq(c, other, "o"));
    CHECK(mcserver_restart(&srv[dead]) == 0);
    sleep_ms(1300);
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_MISS); /* reachable again, restarted empty */
    CHECK_RC(mcf_set(c, KS(key), "back", 4, 0, 0), MCF_OK);
    CHECK(get_eq(c, key, "back"));
    CHECK(raw_has(&srv[dead], key, "back"));
    TEARDOWN(4);
}

TEST(failover)
{
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_FAILURES, 2), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILURE_TIMEOUT_S, 30), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILOVER, 1), MCF_OK);
    const int dead = 1;
    char key[64];
    CHECK(key_on(c, dead, key, sizeof key, "fo") == 0);
    mcserver_kill(&srv[dead], SIGKILL);
    mcf_value v;
    int r1 = mcf_get(c, KS(key), &v), r2 = mcf_get(c, KS(key), &v);
    CHECKF(mcf_is_error(r1) && mcf_is_error(r2), "rc %d %d while the server is dead", r1, r2);
    /* now down: its keys go elsewhere */
    CHECK_RC(mcf_set(c, KS(key), "moved", 5, 0, 0), MCF_OK);
    CHECK(get_eq(c, key, "moved"));
    int found = 0;
    for (int i = 0; i < 4; i++)
        if (i != dead && raw_has(&srv[i], key, "moved"))
            found++;
    CHECKF(found == 1, "the failed-over key is on %d live servers", found);
    /* a multi get of many keys: all served */
    keyset ks;
    ks_make(&ks, 100, "fom");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    size_t good = 0;
    for (size_t i = 0; i < ks.n; i++)
        good += g.rc[i] == MCF_OK && g.ok[i];
    CHECKF(good == ks.n, "%zu of %zu keys served with one server down", good, ks.n);
    gm_free(&g);
    ks_free(&ks);
    TEARDOWN(4);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
