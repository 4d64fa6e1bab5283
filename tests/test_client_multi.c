/* test_client_multi.c - the public client API against real memcached
 * processes: multi-key calls: mcf_get_multi in every mode and mcf_multi
 * for every operation, over 4 servers.
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
/* get_multi                                                           */
/* ------------------------------------------------------------------ */

static void get_multi_mode(mcf_get_mode mode, const char *prefix)
{
    SETUP(4, NULL);
    const size_t NK = 500, ND = 40, N = NK + ND;
    keyset ks;
    ks_make(&ks, NK, prefix);
    /* hits: even key numbers */
    const char **hits = calloc(NK, sizeof *hits);
    size_t nh = 0;
    for (size_t i = 0; i < NK; i += 2)
        hits[nh++] = ks.k[i];
    CHECK(set_keys(c, hits, nh, 0, 0) == 0);

    /* request: every key once, plus duplicates of hits and misses, shuffled */
    const char **req = calloc(N, sizeof *req);
    int *want_hit = calloc(N, sizeof *want_hit);
    size_t *num = calloc(N, sizeof *num);
    for (size_t i = 0; i < N; i++)
        num[i] = i < NK ? i : ((i - NK) * 37) % NK;
    uint64_t x = 88172645463325252ull;
    for (size_t i = N - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1)), t = num[i];
        num[i] = num[j];
        num[j] = t;
    }
    for (size_t i = 0; i < N; i++) {
        req[i] = ks.k[num[i]];
        want_hit[i] = num[i] % 2 == 0;
    }

    int gat = mode == MCF_GAT || mode == MCF_GATS;
    int with_cas = mode == MCF_GETS || mode == MCF_GATS;
    gm g;
    CHECK_RC(gm_run(c, &g, mode, gat ? 1000 : 0, req, N), MCF_OK);
    size_t wrong_rc = 0, wrong_val = 0, wrong_cas = 0;
    for (size_t i = 0; i < N; i++) {
        if (g.rc[i] != (want_hit[i] ? MCF_OK : MCF_MISS)) {
            if (wrong_rc++ < 3)
                printf("# %s: key %s rc %d\n", prefix, req[i], g.rc[i]);
            continue;
        }
        if (want_hit[i] && !g.ok[i])
            wrong_val++;
        if (want_hit[i] && (with_cas ? g.cas[i] == 0 : g.cas[i] != 0))
            wrong_cas++;
    }
    CHECKF(wrong_rc == 0, "%zu keys with a wrong rc", wrong_rc);
    CHECKF(wrong_val == 0, "%zu hits with a wrong value", wrong_val);
    CHECKF(wrong_cas == 0, "%zu hits with a wrong cas (want %s)", wrong_cas,
           with_cas ? "nonzero" : "0");
    /* duplicates of one key get the same cas */
    if (with_cas)
        for (size_t i = 0; i < N; i++)
            for (size_t j = i + 1; j < N; j++)
                if (num[i] == num[j] && want_hit[i])
                    CHECKF(g.cas[i] == g.cas[j], "duplicate %s: cas differs", req[i]);
    gm_free(&g);

    /* spread over every server; gat/gats set the TTL where the key lives */
    size_t per[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < NK; i++) {
        size_t s = server_of(c, ks.k[i]);
        if (s < 4)
            per[s]++;
    }
    CHECKF(per[0] && per[1] && per[2] && per[3], "keys per server %zu %zu %zu %zu", per[0],
           per[1], per[2], per[3]);
    for (size_t i = 0; i < 40; i += 2) {
        size_t s = server_of(c, ks.k[i]);
        if (s >= 4)
            continue;
        long t = raw_ttl(&srv[s], ks.k[i]);
        if (gat)
            CHECKF(t > 900 && t <= 1000, "%s: ttl %ld after gat 1000", ks.k[i], t);
        else
            CHECKF(t == -1, "%s: ttl %ld after a plain get", ks.k[i], t);
    }
    free(hits);
    free(req);
    free(want_hit);
    free(num);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(get_multi_get) { get_multi_mode(MCF_GET, "gmget"); }
TEST(get_multi_gets) { get_multi_mode(MCF_GETS, "gmgets"); }
TEST(get_multi_gat) { get_multi_mode(MCF_GAT, "gmgat"); }
TEST(get_multi_gats) { get_multi_mode(MCF_GATS, "gmgats"); }

/* Many keys on one server: the request line is long.  memcached 1.6 accepts
 * a command line over 2048 bytes only for get/gets (it closes the
 * connection otherwise), so gat/gats must still work for 1000 keys. */
static void many_keys_one_server(mcf_get_mode mode, const char *prefix)
{
    SETUP(1, NULL);
    keyset ks;
    ks_make(&ks, 1000, prefix);
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    gm g;
    int rc = gm_run(c, &g, mode, 1000, ks.k, ks.n);
    CHECKF(rc == MCF_OK, "rc %d (%s): %s", rc, mcf_strerror(rc), mcf_last_error(c));
    size_t good = 0;
    for (size_t i = 0; i < ks.n; i++)
        good += g.rc[i] == MCF_OK && g.ok[i];
    CHECKF(good == ks.n, "%zu of %zu hits", good, ks.n);
    gm_free(&g);
    if (mode == MCF_GAT || mode == MCF_GATS) {
        long t = raw_ttl(&srv[0], ks.k[ks.n - 1]);
        CHECKF(t > 900 && t <= 1000, "ttl of the last key %ld", t);
    }
    ks_free(&ks);
    TEARDOWN(1);
}

TEST(get_multi_many_keys_get) { many_keys_one_server(MCF_GET, "mkget-with-a-longer-key-name"); }
TEST(get_multi_many_keys_gets) { many_keys_one_server(MCF_GETS, "mkgets-with-a-longer-key-name"); }
TEST(get_multi_many_keys_gat) { many_keys_one_server(MCF_GAT, "mkgat-with-a-longer-key-name"); }
TEST(get_multi_many_keys_gats) { many_keys_one_server(MCF_GATS, "mkgats-with-a-longer-key-name"); }

TEST(get_multi_duplicates_adjacent)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set(c, KS("d:a"), "v:d:a", 5, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("d:c"), "v:d:c", 5, 0, 0), MCF_OK);
    const char *keys[] = {"d:a", "d:a", "d:b", "d:b", "d:c", "d:a", "d:c", "d:b"};
    const int want[] = {MCF_OK, MCF_OK, MCF_MISS, MCF_MISS, MCF_OK, MCF_OK, MCF_OK, MCF_MISS};
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, keys, 8), MCF_OK);
    for (size_t i = 0; i < 8; i++) {
        CHECKF(g.rc[i] == want[i], "index %zu (%s): rc %d want %d", i, keys[i], g.rc[i], want[i]);
        if (want[i] == MCF_OK)
            CHECKF(g.ok[i], "index %zu: wrong value", i);
    }
    gm_free(&g);
    /* zero keys: nothing to do */
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 0, gm_cb, &g), MCF_OK);
    TEARDOWN(1);
}

TEST(zero_items_fresh_client)
{
    /* the very first call of a client carries no key at all */
    SETUP(1, NULL);
    gm g;
    gm_init(&g, NULL, 0);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, NULL, NULL, 0, gm_cb, &g), MCF_OK);
    gm_free(&g);
    mcf_client *c2 = client_n(srv, 1);
    if (c2) {
        mcf_item it;
        CHECK_RC(mcf_multi(c2, MCF_OP_SET, &it, 0, 0), MCF_OK);
        mcf_free(c2);
    }
    CHECK_RC(mcf_set(c, KS("zi"), "v", 1, 0, 0), MCF_OK);
    CHECK(get_eq(c, "zi", "v"));
    TEARDOWN(1);
}

/* ------------------------------------------------------------------ */
/* mcf_multi                                                           */
/* ------------------------------------------------------------------ */

#define NM 200

typedef struct mitems {
    mcf_item it[NM];
    char key[NM][32];
    char val[NM][64];
} mitems;

static mitems *mi_new(const char *prefix)
{
    mitems *m = calloc(1, sizeof *m);
    for (size_t i = 0; i < NM; i++) {
        snprintf(m->key[i], sizeof m->key[i], "%s:%zu", prefix, i);
        m->it[i].key = m->key[i];
        m->it[i].key_len = strlen(m->key[i]);
        m->it[i].rc = -99;
    }
    return m;
}

static void mi_value(mitems *m, size_t i, const char *fmt)
{
    snprintf(m->val[i], sizeof m->val[i], fmt, m->key[i]);
    m->it[i].value = m->val[i];
    m->it[i].value_len = strlen(m->val[i]);
}

static void mi_reset_rc(mitems *m)
{
    for (size_t i = 0; i < NM; i++) {
        m->it[i].rc = -99;
        m->it[i].number = 0;
    }
}

TEST(multi_set)
{
    SETUP(4, NULL);
    mitems *m = mi_new("ms");
    for (size_t i = 0; i < NM; i++)
        mi_value(m, i, "v:%s");
    CHECK_RC(mcf_multi(c, MCF_OP_SET, m->it, NM, 0), MCF_OK);
    size_t bad = 0, absent = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != MCF_OK;
        absent += !mi_on_server(c, srv, m->key[i], m->val[i]);
    }
    CHECKF(bad == 0, "%zu items not stored", bad);
    CHECKF(absent == 0, "%zu items not on their server", absent);
    free(m);
    TEARDOWN(4);
}

TEST(multi_add)
{
    SETUP(4, NULL);
    mitems *m = mi_new("ma");
    for (size_t i = 0; i < NM; i += 2) /* even ones exist */
        CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "old", 3, 0, 0), MCF_OK);
    for (size_t i = 0; i < NM; i++)
        mi_value(m, i, "new:%s");
    CHECK_RC(mcf_multi(c, MCF_OP_ADD, m->it, NM, 0), MCF_OK);
    size_t bad = 0, wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != (i % 2 ? MCF_OK : MCF_NOT_STORED);
        wrongval += !mi_on_server(c, srv, m->key[i], i % 2 ? m->val[i] : "old");
    }
    CHECKF(bad == 0, "%zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "%zu items with a wrong value on the server", wrongval);
    free(m);
    TEARDOWN(4);
}

TEST(multi_replace)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mr");
    for (size_t i = 0; i < NM; i += 2)
        CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "old", 3, 0, 0), MCF_OK);
    for (size_t i = 0; i < NM; i++)
        mi_value(m, i, "new:%s");
    CHECK_RC(mcf_multi(c, MCF_OP_REPLACE, m->it, NM, 0), MCF_OK);
    size_t bad = 0, wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != (i % 2 ? MCF_NOT_STORED : MCF_OK);
        wrongval += !mi_on_server(c, srv, m->key[i], i % 2 ? NULL : m->val[i]);
    }
    CHECKF(bad == 0, "%zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "%zu items with a wrong value on the server", wrongval);
    free(m);
    TEARDOWN(4);
}

TEST(multi_append_prepend)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mapp");
    for (size_t i = 0; i < NM; i += 2)
        CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "mid", 3, 0, 0), MCF_OK);
    for (size_t i = 0; i < NM; i++)
        mi_value(m, i, "+%s");
    CHECK_RC(mcf_multi(c, MCF_OP_APPEND, m->it, NM, 0), MCF_OK);
    size_t bad = 0;
    for (size_t i = 0; i < NM; i++)
        bad += m->it[i].rc != (i % 2 ? MCF_NOT_STORED : MCF_OK);
    CHECKF(bad == 0, "append: %zu items with a wrong rc", bad);
    mi_reset_rc(m);
    for (size_t i = 0; i < NM; i++)
        mi_value(m, i, "<");
    CHECK_RC(mcf_multi(c, MCF_OP_PREPEND, m->it, NM, 0), MCF_OK);
    bad = 0;
    size_t wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != (i % 2 ? MCF_NOT_STORED : MCF_OK);
        char want[80];
        snprintf(want, sizeof want, "<mid+%s", m->key[i]);
        wrongval += !mi_on_server(c, srv, m->key[i], i % 2 ? NULL : want);
    }
    CHECKF(bad == 0, "prepend: %zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "%zu items with a wrong value on the server", wrongval);
    free(m);
    TEARDOWN(4);
}

TEST(multi_cas)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mcas");
    /* i%3: 0 fresh cas, 1 stale cas, 2 missing */
    const char *keys[NM];
    for (size_t i = 0; i < NM; i++) {
        keys[i] = m->key[i];
        if (i % 3 != 2)
            CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "orig", 4, 0, 0), MCF_OK);
    }
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GETS, 0, keys, NM), MCF_OK);
    for (size_t i = 0; i < NM; i++) {
        m->it[i].cas = i % 3 == 2 ? 12345 : g.cas[i];
        if (i % 3 != 2)
            CHECK(g.cas[i] != 0);
        if (i % 3 == 1) /* someone else changes it */
            CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "other", 5, 0, 0), MCF_OK);
        mi_value(m, i, "cas:%s");
    }
    gm_free(&g);
    CHECK_RC(mcf_multi(c, MCF_OP_CAS, m->it, NM, 0), MCF_OK);
    static const int want[3] = {MCF_OK, MCF_EXISTS, MCF_NOT_FOUND};
    size_t bad = 0, wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        if (m->it[i].rc != want[i % 3] && bad++ < 3)
            printf("# %s: rc %d want %d\n", m->key[i], m->it[i].rc, want[i % 3]);
        const char *wv = i % 3 == 0 ? m->val[i] : i % 3 == 1 ? "other" : NULL;
        wrongval += !mi_on_server(c, srv, m->key[i], wv);
    }
    CHECKF(bad == 0, "%zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "%zu items with a wrong value on the server", wrongval);
    free(m);
    TEARDOWN(4);
}

TEST(multi_incr_decr)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mid");
    /* i%4: 0,1 numeric "10", 2 missing, 3 non-numeric */
    for (size_t i = 0; i < NM; i++) {
        if (i % 4 < 2)
            CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "10", 2, 0, 0), MCF_OK);
        else if (i % 4 == 3)
            CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "abc", 3, 0, 0), MCF_OK);
        m->it[i].delta = i;
    }
    CHECK_RC(mcf_multi(c, MCF_OP_INCR, m->it, NM, 0), MCF_ERR_CLIENT);
    size_t bad = 0, wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        int w = i % 4 < 2 ? MCF_OK : i % 4 == 2 ? MCF_NOT_FOUND : MCF_ERR_CLIENT;
        if (m->it[i].rc != w && bad++ < 3)
            printf("# incr %s: rc %d want %d\n", m->key[i], m->it[i].rc, w);
        if (w == MCF_OK) {
            char want[32];
            snprintf(want, sizeof want, "%zu", 10 + i);
            if (m->it[i].number != 10 + i)
                wrongval++;
            wrongval += !mi_on_server(c, srv, m->key[i], want);
        }
    }
    CHECKF(bad == 0, "incr: %zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "incr: %zu wrong numbers", wrongval);
    /* decr: 1 from numeric ones, floor at 0 for the odd ones */
    mi_reset_rc(m);
    for (size_t i = 0; i < NM; i++)
        m->it[i].delta = i % 2 ? 1000000 : 1;
    CHECK_RC(mcf_multi(c, MCF_OP_DECR, m->it, NM, 0), MCF_ERR_CLIENT);
    bad = wrongval = 0;
    for (size_t i = 0; i < NM; i++) {
        int w = i % 4 < 2 ? MCF_OK : i % 4 == 2 ? MCF_NOT_FOUND : MCF_ERR_CLIENT;
        bad += m->it[i].rc != w;
        if (w == MCF_OK && m->it[i].number != (i % 2 ? 0 : 10 + i - 1))
            wrongval++;
    }
    CHECKF(bad == 0, "decr: %zu items with a wrong rc", bad);
    CHECKF(wrongval == 0, "decr: %zu wrong numbers", wrongval);
    CHECK(mcf_last_error(c)[0] != 0);
    free(m);
    TEARDOWN(4);
}

TEST(multi_delete)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mdel");
    for (size_t i = 0; i < NM; i += 2)
        CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "x", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_multi(c, MCF_OP_DELETE, m->it, NM, 0), MCF_OK);
    size_t bad = 0, present = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != (i % 2 ? MCF_NOT_FOUND : MCF_OK);
        present += !mi_on_server(c, srv, m->key[i], NULL);
    }
    CHECKF(bad == 0, "%zu items with a wrong rc", bad);
    CHECKF(present == 0, "%zu items still on their server", present);
    free(m);
    TEARDOWN(4);
}

TEST(multi_touch)
{
    SETUP(4, NULL);
    mitems *m = mi_new("mtouch");
    for (size_t i = 0; i < NM; i += 2)
        CHECK_RC(mcf_set(c, m->key[i], m->it[i].key_len, "x", 1, 0, 0), MCF_OK);
    for (size_t i = 0; i < NM; i++)
        m->it[i].exptime = 600 + (int64_t)(i % 3) * 1000;
    CHECK_RC(mcf_multi(c, MCF_OP_TOUCH, m->it, NM, 0), MCF_OK);
    size_t bad = 0, wrongttl = 0;
    for (size_t i = 0; i < NM; i++) {
        bad += m->it[i].rc != (i % 2 ? MCF_NOT_FOUND : MCF_OK);
        if (i % 2 == 0 && i < 60) {
            size_t s = server_of(c, m->key[i]);
            long t = s < 4 ? raw_ttl(&srv[s], m->key[i]) : -3;
            if (!(t > m->it[i].exptime - 100 && t <= m->it[i].exptime))
                wrongttl++;
        }
    }
    CHECKF(bad == 0, "%zu items with a wrong rc", bad);
    CHECKF(wrongttl == 0, "%zu items with a wrong ttl", wrongttl);
    free(m);
    TEARDOWN(4);
}

TEST(multi_many_items_one_server)
{
    /* thousands of pipelined items on one server, every op */
    SETUP(1, NULL);
    const size_t N = 5000;
    mcf_item *it = calloc(N, sizeof *it);
    char (*keys)[24] = calloc(N, sizeof *keys);
    char (*vals)[24] = calloc(N, sizeof *vals);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "mm:%zu", i);
        snprintf(vals[i], sizeof vals[i], "%zu", i);
        it[i] = (mcf_item){.key = keys[i], .key_len = strlen(keys[i]), .value = vals[i],
                           .value_len = strlen(vals[i]), .delta = 1, .exptime = 900};
    }
    static const mcf_op ops[] = {MCF_OP_SET, MCF_OP_ADD, MCF_OP_INCR, MCF_OP_DECR,
                                 MCF_OP_TOUCH, MCF_OP_DELETE, MCF_OP_DELETE, MCF_OP_TOUCH};
    static const int want[] = {MCF_OK, MCF_NOT_STORED, MCF_OK, MCF_OK,
                               MCF_OK, MCF_OK, MCF_NOT_FOUND, MCF_NOT_FOUND};
    /* a few rounds: a stall that hits only some pipelines still shows */
    int failed = 0;
    for (int round = 0; round < 6 && !failed; round++) {
        for (size_t k = 0; k < sizeof ops / sizeof ops[0] && !failed; k++) {
            for (size_t i = 0; i < N; i++)
                it[i].rc = -99;
            double t0 = now_ms();
            int rc = mcf_multi(c, ops[k], it, N, 0);
            size_t bad = 0, badnum = 0;
            for (size_t i = 0; i < N; i++) {
                bad += it[i].rc != want[k];
                if (ops[k] == MCF_OP_INCR)
                    badnum += it[i].number != i + 1;
                if (ops[k] == MCF_OP_DECR)
                    badnum += it[i].number != i;
            }
            if (rc != MCF_OK || bad || badnum) {
                failed = 1;
                t_fail(__FILE__, __LINE__,
                       "round %d, op %d: rc %d after %.0f ms, %zu wrong rc, %zu wrong numbers: %s",
                       round, (int)ops[k], rc, now_ms() - t0, bad, badnum, mcf_last_error(c));
            }
            if (!failed && ops[k] == MCF_OP_TOUCH && want[k] == MCF_OK) {
                long t = raw_ttl(&srv[0], keys[N - 1]);
                CHECKF(t > 800 && t <= 900, "ttl %ld", t);
            }
        }
    }
    free(it);
    free(keys);
    free(vals);
    TEARDOWN(1);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
