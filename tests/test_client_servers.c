/* test_client_servers.c - the public client API against real memcached
 * processes: noreply, server info and weights; key distribution over
 * real servers (modula, ketama) and switching it live.
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
/* noreply                                                             */
/* ------------------------------------------------------------------ */

static void noreply_ops(mcf_client *c, mcserver *s, unsigned fl)
{
    mcf_value v;
    uint64_t nv = 0;
    CHECK_RC(mcf_store(c, MCF_SET, KS("nr:k"), "val", 3, 0, 0, 0, fl), MCF_OK);
    CHECK(get_eq(c, "nr:k", "val"));
    /* add on an existing key: no reply to say NOT_STORED */
    CHECK_RC(mcf_store(c, MCF_ADD, KS("nr:k"), "zzz", 3, 0, 0, 0, fl), MCF_OK);
    CHECK(get_eq(c, "nr:k", "val"));
    CHECK_RC(mcf_delete(c, KS("nr:k"), fl), MCF_OK);
    CHECK_RC(mcf_get(c, KS("nr:k"), &v), MCF_MISS);
    CHECK_RC(mcf_store(c, MCF_SET, KS("nr:n"), "5", 1, 0, 0, 0, fl), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("nr:n"), 3, &nv, fl), MCF_OK);
    CHECK_RC(mcf_decr(c, KS("nr:n"), 1, &nv, fl), MCF_OK);
    CHECK(get_eq(c, "nr:n", "7"));
    CHECK_RC(mcf_incr(c, KS("nr:missing"), 3, &nv, fl), MCF_OK); /* no NOT_FOUND without reply */
    CHECK_RC(mcf_touch(c, KS("nr:n"), 700, fl), MCF_OK);
    /* a call with a reply on the same connection: the touch is done */
    CHECK(get_eq(c, "nr:n", "7"));
    long t = raw_ttl(s, "nr:n");
    CHECKF(t > 600 && t <= 700, "ttl after noreply touch: %ld", t);
    /* a noreply error must not desync the stream */
    CHECK_RC(mcf_store(c, MCF_SET, KS("nr:t"), "abc", 3, 0, 0, 0, fl), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("nr:t"), 1, &nv, fl), MCF_OK);
    CHECK(get_eq(c, "nr:t", "abc"));
    /* multi */
    keyset ks;
    ks_make(&ks, 100, "nrm");
    CHECK(set_keys(c, ks.k, ks.n, 0, fl) == 0);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    size_t good = 0;
    for (size_t i = 0; i < ks.n; i++)
        good += g.rc[i] == MCF_OK && g.ok[i];
    CHECKF(good == ks.n, "%zu of %zu noreply multi sets found", good, ks.n);
    gm_free(&g);
    ks_free(&ks);
    CHECK_RC(mcf_flush_all(c, 0, fl), MCF_OK);
    CHECK_RC(mcf_get(c, KS("nr:n"), &v), MCF_MISS);
    CHECK(raw_get(s, "nr:n", NULL, NULL, NULL) == 0);
    CHECK(raw_stat(s, NULL, "cmd_flush") >= 1);
}

TEST(noreply_per_call)
{
    SETUP(1, NULL);
    noreply_ops(c, &srv[0], MCF_CALL_NOREPLY);
    TEARDOWN(1);
}

TEST(noreply_client_default)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_NOREPLY, 1), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_NOREPLY) == 1);
    noreply_ops(c, &srv[0], 0);
    /* MCF_CALL_REPLY overrides the default: outcomes come back again */
    CHECK_RC(mcf_store(c, MCF_SET, KS("nrd:k"), "1", 1, 0, 0, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_ADD, KS("nrd:k"), "2", 1, 0, 0, 0, MCF_CALL_REPLY), MCF_NOT_STORED);
    CHECK_RC(mcf_delete(c, KS("nrd:none"), MCF_CALL_REPLY), MCF_NOT_FOUND);
    uint64_t nv = 0;
    CHECK_RC(mcf_incr(c, KS("nrd:k"), 4, &nv, MCF_CALL_REPLY), MCF_OK);
    CHECK(nv == 5);
    TEARDOWN(1);
}

TEST(noreply_free_keeps_last)
{
    SETUP(1, NULL);
    char key[32], val[64];
    /* the last set is big so it is still in flight when mcf_free runs */
    size_t bn = 400 * 1024;
    char *big = malloc(bn);
    fill_text(big, bn);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "nrf:%d", i);
        val_of(key, val, sizeof val);
        int rc = i == 999 ? mcf_store(c, MCF_SET, KS(key), big, bn, 0, 0, 0, MCF_CALL_NOREPLY)
                          : mcf_store(c, MCF_SET, KS(key), val, strlen(val), 0, 0, 0,
                                      MCF_CALL_NOREPLY);
        if (rc != MCF_OK) {
            CHECK_RC(rc, MCF_OK);
            break;
        }
    }
    mcf_free(c);
    c = client_n(srv, 1);
    if (c) {
        mcf_value v;
        CHECK_RC(mcf_get(c, KS("nrf:999"), &v), MCF_OK);
        CHECK(v.len == bn && memcmp(v.data, big, bn) == 0);
        CHECK(get_eq(c, "nrf:998", "v:nrf:998"));
        CHECK(get_eq(c, "nrf:0", "v:nrf:0"));
    }
    /* also through the client default and a small last value */
    mcf_free(c);
    c = client_n(srv, 1);
    if (c) {
        CHECK_RC(mcf_set_option(c, MCF_OPT_NOREPLY, 1), MCF_OK);
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, "nrg:%d", i);
            val_of(key, val, sizeof val);
            CHECK_RC(mcf_set(c, KS(key), val, strlen(val), 0, 0), MCF_OK);
        }
        CHECK_RC(mcf_delete(c, KS("nrg:0"), 0), MCF_OK);
        mcf_free(c);
    }
    c = client_n(srv, 1);
    if (c) {
        mcf_value v;
        CHECK(get_eq(c, "nrg:999", "v:nrg:999"));
        CHECK_RC(mcf_get(c, KS("nrg:0"), &v), MCF_MISS);
    }
    free(big);
    TEARDOWN(1);
}

TEST(noreply_synced_on_disconnect_and_new_list)
{
    SETUP(2, NULL);
    mcf_client *one = client_n(srv, 1);
    if (one) {
        size_t bn = 300 * 1024;
        char *big = malloc(bn);
        fill_text(big, bn);
        /* noreply, then mcf_disconnect_all: the set must have been applied */
        CHECK_RC(mcf_store(one, MCF_SET, KS("nrs:a"), big, bn, 0, 0, 0, MCF_CALL_NOREPLY),
                 MCF_OK);
        mcf_disconnect_all(one);
        mcf_server_info info;
        CHECK_RC(mcf_server_info_get(one, 0, &info), MCF_OK);
        CHECK(!info.connected);
        const char *d;
        size_t l = 0;
        CHECK(raw_get(&srv[0], "nrs:a", NULL, &d, &l) == 1 && l == bn && memcmp(d, big, bn) == 0);
        /* the client reconnects by itself */
        CHECK_RC(mcf_get(one, KS("nrs:a"), &(mcf_value){0}), MCF_OK);
        /* noreply, then a new server list: synced before the old one goes */
        CHECK_RC(mcf_store(one, MCF_SET, KS("nrs:b"), big, bn, 0, 0, 0, MCF_CALL_NOREPLY),
                 MCF_OK);
        CHECK_RC(mcf_set_servers(one, srv[1].spec), MCF_OK);
        CHECK(raw_get(&srv[0], "nrs:b", NULL, NULL, &l) == 1 && l == bn);
        CHECK_RC(mcf_set(one, KS("nrs:c"), "c", 1, 0, 0), MCF_OK);
        CHECK(raw_has(&srv[1], "nrs:c", "c"));
        CHECK(raw_get(&srv[0], "nrs:c", NULL, NULL, NULL) == 0);
        free(big);
        mcf_free(one);
    }
    TEARDOWN(2);
}

/* A number from a raw "stats" of s (the stats connection counts too). */
static long stat_of(const mcserver *s, const char *name)
{
    char buf[8192], key[64];
    if (mcserver_raw(s, "stats\r\n", "END\r\n", buf, sizeof buf) < 0)
        return -1;
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}
#define accepted(s) stat_of(s, "total_connections")

/* A new list keeps the connections of the servers that stay (reordered,
 * reweighted, spelled with or without the default port), and their keys
 * keep working; a server that goes is closed. */
TEST(server_list_change_keeps_connections)
{
    SETUP(3, NULL);
    CHECK_RC(mcf_connect_server(c, 0), MCF_OK);
    CHECK_RC(mcf_connect_server(c, 1), MCF_OK);
    /* memcached counts a connection when a worker thread takes it, after
     * the accept: a request answered on each makes sure both are counted
     * (else the stats connection's worker can report first: 3 then 5). */
    char version[64];
    CHECK_RC(mcf_version(c, 0, version, sizeof version), MCF_OK);
    CHECK_RC(mcf_version(c, 1, version, sizeof version), MCF_OK);
    long before = accepted(&srv[0]), leaving = stat_of(&srv[1], "curr_connections");
    char list[512];
    snprintf(list, sizeof list, "%s %s:3", srv[2].spec, srv[0].spec);
    CHECK_RC(mcf_set_servers(c, list), MCF_OK);
    mcf_server_info info;
    CHECK_RC(mcf_server_info_get(c, 1, &info), MCF_OK);
    CHECKF(info.connected && info.weight == 3, "kept server: connected %d weight %u",
           info.connected, info.weight);
    CHECK_RC(mcf_server_info_get(c, 0, &info), MCF_OK);
    CHECK(!info.connected);
    /* Every key works on the new list, through the kept connection for srv[0]. */
    for (int i = 0; i < 20; i++) {
        char k[32];
        snprintf(k, sizeof k, "keep:%d", i);
        CHECK_RC(mcf_set(c, k, strlen(k), "v", 1, 0, 0), MCF_OK);
        CHECK_RC(mcf_get(c, k, strlen(k), &(mcf_value){0}), MCF_OK);
    }
    /* One accept since: the raw stats connection of this check itself. */
    long after = accepted(&srv[0]);
    CHECKF(before >= 0 && after == before + 1, "srv[0] accepted %ld then %ld", before, after);
    /* The server that left was closed: srv[1] counts one connection less
     * (once its event loop has seen the close). */
    long now_open = leaving;
    for (int i = 0; i < 100 && now_open == leaving; i++) {
        sleep_ms(20);
        now_open = stat_of(&srv[1], "curr_connections");
    }
    CHECKF(leaving > 0 && now_open == leaving - 1, "srv[1] connections %ld then %ld", leaving,
           now_open);
    TEARDOWN(3);
}

TEST(server_info_and_connect)
{
    SETUP(2, NULL);
    CHECK(mcf_server_count(c) == 2);
    mcf_server_info info;
    CHECK_RC(mcf_server_info_get(c, 1, &info), MCF_OK);
    CHECK(!info.connected && info.family == 0 && info.weight == 1);
    CHECKF(strcmp(info.spec, srv[1].spec) == 0, "spec '%s'", info.spec);
    CHECK_RC(mcf_connect_server(c, 1), MCF_OK);
    CHECK_RC(mcf_server_info_get(c, 1, &info), MCF_OK);
    CHECK(info.connected && info.family == AF_INET && info.connect_ms >= 0);
    CHECKF(strcmp(info.address, srv[1].spec) == 0, "address '%s'", info.address);
    CHECK_RC(mcf_server_info_get(c, 0, &info), MCF_OK);
    CHECK(!info.connected);
    CHECK_RC(mcf_server_info_get(c, 2, &info), MCF_ERR_ARG);
    CHECK_RC(mcf_connect_server(c, 2), MCF_ERR_ARG);
    TEARDOWN(2);
}

TEST(add_server_weights)
{
    mcserver srv[2];
    if (start_n(srv, 2, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    mcf_client *c = new_client();
    CHECK_RC(mcf_add_server(c, srv[0].spec, 1), MCF_OK);
    CHECK_RC(mcf_add_server(c, srv[1].spec, 3), MCF_OK);
    CHECK_RC(mcf_add_server(c, srv[1].spec, 0), MCF_ERR_ARG);
    /* The weight is the argument's: a spec carrying one is refused. */
    char weighted[200];
    snprintf(weighted, sizeof weighted, "%s:2", srv[1].spec);
    CHECK_RC(mcf_add_server(c, weighted, 3), MCF_ERR_BAD_SPEC);
    CHECK(strstr(mcf_last_error(c), "weight") != NULL);
    CHECK(mcf_server_count(c) == 2);
    mcf_server_info info;
    CHECK(mcf_server_info_get(c, 1, &info) == MCF_OK && info.weight == 3);
    for (int mode = 0; mode < 3; mode++) {
        CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, mode), MCF_OK);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "w%d", mode);
        keyset ks;
        ks_make(&ks, 400, prefix);
        CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
        size_t per[2] = {0, 0}, wrong = 0;
        for (size_t i = 0; i < ks.n; i++) {
            size_t s = server_of(c, ks.k[i]);
            char want[80];
            val_of(ks.k[i], want, sizeof want);
            if (s < 2 && raw_has(&srv[s], ks.k[i], want))
                per[s]++;
            else
                wrong++;
        }
        CHECKF(wrong == 0, "mode %d: %zu keys not where predicted", mode, wrong);
        /* weight 3 vs 1: clearly more keys on the second server */
        CHECKF(per[1] > per[0] * 3 / 2, "mode %d: weights 1:3 gave %zu:%zu keys", mode, per[0],
               per[1]);
        ks_free(&ks);
    }
    mcf_free(c);
    stop_n(srv, 2);
}

/* ------------------------------------------------------------------ */
/* distribution                                                        */
/* ------------------------------------------------------------------ */

/* Which of the keys does server s hold?  Marks found[i] |= 1 << s. */
static void raw_scan(const mcserver *s, int si, const char *const *keys, size_t n,
                     unsigned *found)
{
    static char req[16384];
    for (size_t start = 0; start < n; start += 50) {
        size_t off = (size_t)snprintf(req, sizeof req, "get");
        size_t end = start + 50 < n ? start + 50 : n;
        for (size_t i = start; i < end; i++)
            off += (size_t)snprintf(req + off, sizeof req - off, " %s", keys[i]);
        snprintf(req + off, sizeof req - off, "\r\n");
        int r = mcserver_raw(s, req, "END\r\n", rawbuf, RAWBUF_SIZE);
        if (r < 0)
            continue;
        for (char *p = rawbuf; (p = strstr(p, "VALUE ")) != NULL; p += 6) {
            char k[300];
            if (sscanf(p, "VALUE %299s", k) != 1)
                continue;
            for (size_t i = start; i < end; i++)
                if (strcmp(k, keys[i]) == 0)
                    found[i] |= 1u << si;
        }
    }
}

static void distribution_check(int mode, const char *prefix)
{
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, mode), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_DISTRIBUTION) == mode);
    keyset ks;
    ks_make(&ks, 300, prefix);
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    unsigned *found = calloc(ks.n, sizeof *found);
    for (int s = 0; s < 4; s++)
        raw_scan(&srv[s], s, ks.k, ks.n, found);
    size_t wrong = 0, per[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < ks.n; i++) {
        size_t s = server_of(c, ks.k[i]);
        if (s < 4)
            per[s]++;
        if (s >= 4 || found[i] != 1u << s) {
            if (wrong++ < 3)
                printf("# %s: predicted server %zu, found on mask 0x%x\n", ks.k[i], s, found[i]);
        }
    }
    CHECKF(wrong == 0, "%zu keys not (only) on the predicted server", wrong);
    CHECKF(per[0] && per[1] && per[2] && per[3], "keys per server %zu %zu %zu %zu", per[0],
           per[1], per[2], per[3]);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    size_t good = 0;
    for (size_t i = 0; i < ks.n; i++)
        good += g.rc[i] == MCF_OK && g.ok[i];
    CHECK(good == ks.n);
    gm_free(&g);
    free(found);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(distribution_modula) { distribution_check(MCF_DIST_MODULA, "dmod"); }
TEST(distribution_ketama_cmf) { distribution_check(MCF_DIST_KETAMA_CMF, "dkcmf"); }
TEST(distribution_ketama_libmemcached)
{
    distribution_check(MCF_DIST_KETAMA_LIBMEMCACHED, "dklmc");
}

TEST(distribution_switch_live)
{
    /* changing the mode on a client with connections takes effect next call */
    SETUP(4, NULL);
    keyset ks;
    ks_make(&ks, 200, "dsw");
    size_t *before = calloc(ks.n, sizeof *before);
    for (size_t i = 0; i < ks.n; i++)
        before[i] = server_of(c, ks.k[i]);
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_LIBMEMCACHED), MCF_OK);
    size_t moved = 0;
    for (size_t i = 0; i < ks.n; i++)
        moved += server_of(c, ks.k[i]) != before[i];
    CHECKF(moved > 0, "no key moved after switching distribution");
    gm g;
    gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    size_t hits = 0;
    for (size_t i = 0; i < ks.n; i++)
        hits += g.rc[i] == MCF_OK;
    CHECKF(hits == ks.n - moved, "hits %zu, want %zu (keys that did not move)", hits,
           ks.n - moved);
    gm_free(&g);
    free(before);
    ks_free(&ks);
    TEARDOWN(4);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
