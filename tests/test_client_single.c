/* test_client_single.c - the public client API against real memcached
 * processes: single-key commands (set/get, gets/cas, gat, add, replace,
 * append/prepend, incr/decr, exptime, delete, touch, flush_all, version,
 * stats) and the address families (::1, unix, all three in one client).
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
/* Single-key commands                                                 */
/* ------------------------------------------------------------------ */

TEST(single_set_get)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("sg:key"), "hello", 5, 0, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "sg:key", "hello"));
    CHECK_RC(mcf_get(c, KS("sg:key"), &v), MCF_OK);
    CHECK(v.len == 5 && v.data && memcmp(v.data, "hello", 5) == 0);
    CHECK(v.cas == 0);
    CHECK_RC(mcf_get(c, KS("sg:missing"), &v), MCF_MISS);
    CHECK(v.data == NULL && v.len == 0);
    /* overwrite */
    CHECK_RC(mcf_set(c, KS("sg:key"), "world!", 6, 0, 0), MCF_OK);
    CHECK(get_eq(c, "sg:key", "world!"));
    TEARDOWN(1);
}

TEST(single_gets_cas_nonzero)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("gs:key"), "abc", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_gets(c, KS("gs:key"), &v), MCF_OK);
    CHECK(v.len == 3 && memcmp(v.data, "abc", 3) == 0);
    CHECK(v.cas != 0);
    uint64_t cas1 = v.cas;
    CHECK_RC(mcf_set(c, KS("gs:key"), "abd", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_gets(c, KS("gs:key"), &v), MCF_OK);
    CHECKF(v.cas != 0 && v.cas != cas1, "cas did not change after a set: %" PRIu64, v.cas);
    CHECK_RC(mcf_gets(c, KS("gs:missing"), &v), MCF_MISS);
    TEARDOWN(1);
}

TEST(single_gat_gats)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("gat:key"), "val", 3, 0, 0), MCF_OK);
    CHECK(raw_ttl(&srv[0], "gat:key") == -1);
    CHECK_RC(mcf_gat(c, 1000, KS("gat:key"), &v), MCF_OK);
    CHECK(v.len == 3 && memcmp(v.data, "val", 3) == 0);
    CHECK(v.cas == 0);
    long t = raw_ttl(&srv[0], "gat:key");
    CHECKF(t > 900 && t <= 1000, "ttl after gat 1000 is %ld", t);
    CHECK_RC(mcf_gats(c, 2000, KS("gat:key"), &v), MCF_OK);
    CHECK(v.len == 3 && memcmp(v.data, "val", 3) == 0);
    CHECK(v.cas != 0);
    t = raw_ttl(&srv[0], "gat:key");
    CHECKF(t > 1900 && t <= 2000, "ttl after gats 2000 is %ld", t);
    CHECK_RC(mcf_gat(c, 100, KS("gat:missing"), &v), MCF_MISS);
    CHECK_RC(mcf_gats(c, 100, KS("gat:missing"), &v), MCF_MISS);
    TEARDOWN(1);
}

TEST(single_add)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_store(c, MCF_ADD, KS("add:k"), "first", 5, 0, 0, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_ADD, KS("add:k"), "second", 6, 0, 0, 0, 0), MCF_NOT_STORED);
    CHECK(raw_has(&srv[0], "add:k", "first"));
    CHECK(get_eq(c, "add:k", "first"));
    TEARDOWN(1);
}

TEST(single_replace)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_store(c, MCF_REPLACE, KS("rep:k"), "x", 1, 0, 0, 0, 0), MCF_NOT_STORED);
    CHECK_RC(mcf_get(c, KS("rep:k"), &v), MCF_MISS);
    CHECK_RC(mcf_set(c, KS("rep:k"), "old", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_REPLACE, KS("rep:k"), "new", 3, 0, 0, 0, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "rep:k", "new"));
    TEARDOWN(1);
}

TEST(single_append_prepend)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_store(c, MCF_APPEND, KS("ap:k"), "x", 1, 0, 0, 0, 0), MCF_NOT_STORED);
    CHECK_RC(mcf_store(c, MCF_PREPEND, KS("ap:k"), "x", 1, 0, 0, 0, 0), MCF_NOT_STORED);
    CHECK_RC(mcf_set(c, KS("ap:k"), "mid", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_APPEND, KS("ap:k"), "-end", 4, 0, 0, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_PREPEND, KS("ap:k"), "start-", 6, 0, 0, 0, 0), MCF_OK);
    CHECK(get_eq(c, "ap:k", "start-mid-end"));
    CHECK(raw_has(&srv[0], "ap:k", "start-mid-end"));
    TEARDOWN(1);
}

TEST(single_cas)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("cas:k"), "one", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_gets(c, KS("cas:k"), &v), MCF_OK);
    uint64_t cas = v.cas;
    CHECK(cas != 0);
    CHECK_RC(mcf_store(c, MCF_CAS, KS("cas:k"), "two", 3, 0, 0, cas, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "cas:k", "two"));
    /* the same (now stale) cas again */
    CHECK_RC(mcf_store(c, MCF_CAS, KS("cas:k"), "three", 5, 0, 0, cas, 0), MCF_EXISTS);
    CHECK(raw_has(&srv[0], "cas:k", "two"));
    CHECK_RC(mcf_store(c, MCF_CAS, KS("cas:missing"), "x", 1, 0, 0, cas, 0), MCF_NOT_FOUND);
    TEARDOWN(1);
}

TEST(single_incr_decr)
{
    SETUP(1, NULL);
    uint64_t nv = 12345;
    CHECK_RC(mcf_set(c, KS("num"), "10", 2, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("num"), 5, &nv, 0), MCF_OK);
    CHECKF(nv == 15, "incr 10+5 = %" PRIu64, nv);
    CHECK_RC(mcf_incr(c, KS("num"), 85, &nv, 0), MCF_OK);
    CHECKF(nv == 100, "incr 15+85 = %" PRIu64, nv);
    CHECK(raw_has(&srv[0], "num", "100"));
    CHECK_RC(mcf_decr(c, KS("num"), 1, &nv, 0), MCF_OK);
    CHECKF(nv == 99, "decr 100-1 = %" PRIu64, nv);
    CHECK_RC(mcf_decr(c, KS("num"), 1000, &nv, 0), MCF_OK);
    CHECKF(nv == 0, "decr floors at 0, got %" PRIu64, nv);
    CHECK_RC(mcf_incr(c, KS("num"), 7, NULL, 0), MCF_OK); /* new_value may be NULL */
    mcf_value v;
    /* memcached keeps the length after a decr: "7" padded with spaces */
    CHECK(mcf_get(c, KS("num"), &v) == MCF_OK && v.len >= 1 && v.data[0] == '7' &&
          (v.len == 1 || v.data[1] == ' '));
    CHECK_RC(mcf_incr(c, KS("nonum:missing"), 1, &nv, 0), MCF_NOT_FOUND);
    CHECK_RC(mcf_decr(c, KS("nonum:missing"), 1, &nv, 0), MCF_NOT_FOUND);

    /* non-numeric: CLIENT_ERROR; the same connection keeps working */
    CHECK_RC(mcf_set(c, KS("text"), "abc", 3, 0, 0), MCF_OK);
    mcf_server_info before, after;
    CHECK_RC(mcf_server_info_get(c, 0, &before), MCF_OK);
    CHECK(before.connected);
    CHECK_RC(mcf_incr(c, KS("text"), 1, &nv, 0), MCF_ERR_CLIENT);
    CHECK(mcf_last_error(c)[0] != 0);
    CHECK_RC(mcf_server_info_get(c, 0, &after), MCF_OK);
    CHECKF(after.connected, "connection closed after an incr CLIENT_ERROR");
    CHECK_RC(mcf_decr(c, KS("text"), 1, &nv, 0), MCF_ERR_CLIENT);
    CHECK(get_eq(c, "text", "abc"));
    CHECK_RC(mcf_incr(c, KS("num"), 1, &nv, 0), MCF_OK);
    CHECK(nv == 8);
    TEARDOWN(1);
}

TEST(incr_64bit_boundaries)
{
    SETUP(1, NULL);
    uint64_t nv = 0;
    CHECK_RC(mcf_set(c, KS("i64"), "18446744073709551614", 20, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("i64"), 1, &nv, 0), MCF_OK);
    CHECKF(nv == UINT64_MAX, "incr to 2^64-1 gave %" PRIu64, nv);
    CHECK_RC(mcf_incr(c, KS("i64"), 1, &nv, 0), MCF_OK); /* memcached wraps */
    CHECKF(nv == 0, "incr past 2^64-1 gave %" PRIu64, nv);
    CHECK_RC(mcf_set(c, KS("i64"), "0", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("i64"), UINT64_MAX, &nv, 0), MCF_OK);
    CHECKF(nv == UINT64_MAX, "incr by 2^64-1 gave %" PRIu64, nv);
    CHECK_RC(mcf_decr(c, KS("i64"), UINT64_MAX - 9, &nv, 0), MCF_OK);
    CHECKF(nv == 9, "decr gave %" PRIu64, nv);
    CHECK_RC(mcf_incr(c, KS("i64"), 1, &nv, 0), MCF_OK); /* 9 -> 10: one digit more */
    CHECKF(nv == 10, "incr 9+1 gave %" PRIu64, nv);
    CHECK_RC(mcf_incr(c, KS("i64"), 0, &nv, 0), MCF_OK);
    CHECK(nv == 10);
    TEARDOWN(1);
}

TEST(negative_and_absolute_exptime)
{
    SETUP(1, NULL);
    mcf_value v;
    /* a negative exptime: stored already expired */
    CHECK_RC(mcf_set(c, KS("exp:neg"), "x", 1, 0, -1), MCF_OK);
    CHECK_RC(mcf_get(c, KS("exp:neg"), &v), MCF_MISS);
    /* an absolute unix time an hour ahead */
    int64_t at = (int64_t)time(NULL) + 3600;
    CHECK_RC(mcf_set(c, KS("exp:abs"), "x", 1, 0, at), MCF_OK);
    long t = raw_ttl(&srv[0], "exp:abs");
    CHECKF(t > 3500 && t <= 3601, "ttl %ld for an absolute exptime 1 h ahead", t);
    CHECK_RC(mcf_set(c, KS("exp:rel"), "x", 1, 0, 100), MCF_OK);
    t = raw_ttl(&srv[0], "exp:rel");
    CHECKF(t > 90 && t <= 100, "ttl %ld for exptime 100", t);
    /* touch and gat with a negative time expire the item */
    CHECK_RC(mcf_touch(c, KS("exp:rel"), -1, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("exp:rel"), &v), MCF_MISS);
    TEARDOWN(1);
}

TEST(single_delete)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("del:k"), "x", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_delete(c, KS("del:k"), 0), MCF_OK);
    CHECK(raw_get(&srv[0], "del:k", NULL, NULL, NULL) == 0);
    CHECK_RC(mcf_get(c, KS("del:k"), &v), MCF_MISS);
    CHECK_RC(mcf_delete(c, KS("del:k"), 0), MCF_NOT_FOUND);
    TEARDOWN(1);
}

TEST(single_touch)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set(c, KS("touch:k"), "x", 1, 0, 0), MCF_OK);
    CHECK(raw_ttl(&srv[0], "touch:k") == -1);
    CHECK_RC(mcf_touch(c, KS("touch:k"), 500, 0), MCF_OK);
    long t = raw_ttl(&srv[0], "touch:k");
    CHECKF(t > 400 && t <= 500, "ttl after touch 500 is %ld", t);
    CHECK_RC(mcf_touch(c, KS("touch:missing"), 500, 0), MCF_NOT_FOUND);
    CHECK(get_eq(c, "touch:k", "x"));
    TEARDOWN(1);
}

TEST(flush_all_now)
{
    SETUP(4, NULL);
    keyset ks;
    ks_make(&ks, 40, "fl");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    CHECK_RC(mcf_flush_all(c, 0, 0), MCF_OK);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    size_t hits = 0;
    for (size_t i = 0; i < ks.n; i++)
        hits += g.rc[i] == MCF_OK;
    CHECKF(hits == 0, "%zu keys survived flush_all", hits);
    gm_free(&g);
    for (int i = 0; i < 4; i++)
        CHECKF(raw_stat(&srv[i], NULL, "cmd_flush") == 1, "server %d did not get flush_all", i);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(flush_all_delay)
{
    SETUP(4, NULL);
    keyset ks;
    ks_make(&ks, 40, "fld");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    /* Cache::Memcached::Fast's spread: 100 s over 4 servers is 100, 67, 33
     * and 0, so exactly the last server's keys go at once. */
    CHECK_RC(mcf_flush_all(c, 100, 0), MCF_OK);
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    for (size_t i = 0; i < ks.n; i++) {
        size_t srv_i = 99;
        CHECK_RC(mcf_server_for_key(c, ks.k[i], strlen(ks.k[i]), &srv_i), MCF_OK);
        int hit = g.rc[i] == MCF_OK && g.ok[i];
        CHECKF(hit == (srv_i != 3), "key %s on server %zu: hit %d right after a delayed flush",
               ks.k[i], srv_i, hit);
    }
    gm_free(&g);
    for (int i = 0; i < 4; i++)
        CHECKF(raw_stat(&srv[i], NULL, "cmd_flush") == 1, "server %d did not get flush_all", i);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(flush_all_single_delay)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set(c, KS("fsd"), "x", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_flush_all(c, 30, 0), MCF_OK);
    CHECK(get_eq(c, "fsd", "x"));
    CHECK(raw_has(&srv[0], "fsd", "x"));
    CHECK_RC(mcf_flush_all(c, 0, 0), MCF_OK);
    CHECK(raw_get(&srv[0], "fsd", NULL, NULL, NULL) == 0);
    TEARDOWN(1);
}

TEST(version)
{
    SETUP(1, NULL);
    char buf[64];
    CHECK_RC(mcf_version(c, 0, buf, sizeof buf), MCF_OK);
    CHECKF(strncmp(buf, "1.6", 3) == 0, "version '%s'", buf);
    char raw[128];
    int n = mcserver_raw(&srv[0], "version\r\n", "\r\n", raw, sizeof raw);
    CHECK(n > 10);
    if (n > 10) {
        raw[n - 2] = 0;
        CHECKF(strcmp(raw + 8, buf) == 0, "version '%s' vs server '%s'", buf, raw + 8);
    }
    char tiny[4];
    CHECK_RC(mcf_version(c, 0, tiny, sizeof tiny), MCF_OK);
    CHECK(strcmp(tiny, "1.6") == 0);
    CHECK_RC(mcf_version(c, 1, buf, sizeof buf), MCF_ERR_ARG);
    TEARDOWN(1);
}

TEST(stats)
{
    SETUP(1, "-m 32");
    stats_seen s;
    memset(&s, 0, sizeof s);
    CHECK_RC(mcf_stats(c, 0, NULL, stats_cb, &s), MCF_OK);
    CHECKF(s.count > 20, "only %d stats", s.count);
    CHECK(s.bad == 0);
    CHECKF(atol(s.pid) == (long)srv[0].pid, "pid stat '%s' vs %ld", s.pid, (long)srv[0].pid);
    memset(&s, 0, sizeof s);
    CHECK_RC(mcf_stats(c, 0, "settings", stats_cb, &s), MCF_OK);
    CHECKF(strcmp(s.maxbytes, "33554432") == 0, "maxbytes '%s' (server has -m 32)", s.maxbytes);
    CHECK(s.pid[0] == 0); /* "stats settings" has no pid */
    memset(&s, 0, sizeof s);
    CHECK_RC(mcf_stats(c, 0, "", stats_cb, &s), MCF_OK);
    CHECK(s.pid[0] != 0);
    /* the connection stays usable after stats */
    CHECK_RC(mcf_set(c, KS("after-stats"), "1", 1, 0, 0), MCF_OK);
    CHECK(get_eq(c, "after-stats", "1"));
    TEARDOWN(1);
}

/* Records the ITEM lines of "stats cachedump" and one "stats items" value. */
typedef struct dump_seen {
    int found;         /* the key was listed */
    char bracket[64];  /* its "[S b; T s]" */
    char cls[16];      /* the slab class of "items:CLASS:number" */
} dump_seen;

static void dump_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    dump_seen *d = ctx;
    if (nl == 9 && memcmp(name, "dump-me:1", 9) == 0) {
        d->found++;
        snprintf(d->bracket, sizeof d->bracket, "%.*s", (int)vl, value);
    }
    /* items:<class>:number */
    if (nl > 13 && memcmp(name, "items:", 6) == 0 && memcmp(name + nl - 7, ":number", 7) == 0)
        snprintf(d->cls, sizeof d->cls, "%.*s", (int)(nl - 13), name + 6);
}

/* A stats argument of several words goes out as one command line: the
 * cachedump of the key's slab class lists it, with its size.  (cachedump
 * walks the COLD LRU only while the segmented LRU is on: memcached's
 * items.c; no_lru_maintainer turns it off, so a new item is listed.) */
TEST(stats_several_words)
{
    SETUP(1, "-o no_lru_maintainer");
    dump_seen d;
    memset(&d, 0, sizeof d);
    CHECK_RC(mcf_set(c, KS("dump-me:1"), "12345", 5, 0, 0), MCF_OK);
    CHECK_RC(mcf_stats(c, 0, "items", dump_cb, &d), MCF_OK);
    CHECKF(d.cls[0] != 0, "no items:CLASS:number in stats items");
    char arg[64];
    snprintf(arg, sizeof arg, "cachedump %s 100", d.cls);
    CHECK_RC(mcf_stats(c, 0, arg, dump_cb, &d), MCF_OK);
    CHECKF(d.found == 1, "dump-me:1 listed %d times by '%s'", d.found, arg);
    CHECKF(strcmp(d.bracket, "[5 b; 0 s]") == 0, "bracket '%s'", d.bracket);
    /* refused before anything is sent; the connection stays in step */
    CHECK_RC(mcf_stats(c, 0, " items", dump_cb, &d), MCF_ERR_ARG);
    CHECK_RC(mcf_stats(c, 0, "items ", dump_cb, &d), MCF_ERR_ARG);
    CHECK_RC(mcf_stats(c, 0, "cachedump  1 3", dump_cb, &d), MCF_ERR_ARG);
    CHECK_RC(mcf_stats(c, 0, "cachedump 1\x7f 3", dump_cb, &d), MCF_ERR_ARG);
    CHECK(contains(mcf_last_error(c), "empty word") || contains(mcf_last_error(c), "control"));
    CHECK(get_eq(c, "dump-me:1", "12345"));
    TEARDOWN(1);
}

/* Collects metadump lines. */
typedef struct dump_lines {
    int n;
    int mine;            /* lines for the keys of the test */
    char line[256]; /* the line of key "md:a%b" */
} dump_lines;

static void dump_line_cb(void *ctx, const char *line, size_t len)
{
    dump_lines *d = ctx;
    d->n++;
    /* memcached URL-encodes ':' too */
    if (len > 9 && memcmp(line, "key=md%3A", 9) == 0)
        d->mine++;
    if (len > 15 && memcmp(line, "key=md%3Aa%25b ", 15) == 0)
        snprintf(d->line, sizeof d->line, "%.*s", (int)len, line);
}

/* mcf_metadump: every item's line, URL-encoded key, size and expiry; a
 * server with dumping off (-X) is an error naming it. */
TEST(metadump)
{
    SETUP(1, "");
    dump_lines d;
    memset(&d, 0, sizeof d);
    char key[32];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "md:%d", i);
        CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);
    }
    CHECK_RC(mcf_set(c, KS("md:a%b"), "hello", 5, 0, 0), MCF_OK);
    CHECKF(mcf_metadump(c, 0, dump_line_cb, &d) == MCF_OK, "%s", mcf_last_error(c));
    CHECKF(d.mine == 51, "%d of 51 keys dumped (%d lines)", d.mine, d.n);
    CHECKF(contains(d.line, " exp=-1 ") && contains(d.line, " size="), "line '%s'", d.line);
    CHECK(get_eq(c, "md:a%b", "hello")); /* in step after the dump */
    CHECK_RC(mcf_metadump(c, 1, dump_line_cb, &d), MCF_ERR_ARG);
    CHECK_RC(mcf_metadump(c, 0, NULL, &d), MCF_ERR_ARG);
    TEARDOWN(1);
}

TEST(metadump_refused)
{
    SETUP(1, "-X");
    dump_lines d;
    memset(&d, 0, sizeof d);
    CHECK_RC(mcf_set(c, KS("md:x"), "v", 1, 0, 0), MCF_OK);
    int rc = mcf_metadump(c, 0, dump_line_cb, &d);
    CHECKF(mcf_is_error(rc), "rc %d", rc);
    CHECKF(contains(mcf_last_error(c), srv[0].spec) &&
               contains(mcf_last_error(c), "metadump not allowed"),
           "message '%s'", mcf_last_error(c));
    CHECK(d.n == 0);
    CHECK(get_eq(c, "md:x", "v"));
    TEARDOWN(1);
}

static void set_get_on(mcserver *s, int family)
{
    mcf_client *c = client_n(s, 1);
    if (!c)
        return;
    CHECK_RC(mcf_set(c, KS("fam:k"), "famval", 6, 0, 0), MCF_OK);
    CHECK(get_eq(c, "fam:k", "famval"));
    CHECK(raw_has(s, "fam:k", "famval"));
    const char *keys[] = {"fam:k", "fam:none"};
    gm g;
    gm_init(&g, keys, 2);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 2, gm_cb, &g), MCF_OK);
    CHECK(g.calls[0] == 1 && g.rc[0] == MCF_OK && g.calls[1] == 1 && g.rc[1] == MCF_MISS);
    gm_free(&g);
    mcf_server_info info;
    CHECK_RC(mcf_server_info_get(c, 0, &info), MCF_OK);
    CHECKF(info.family == family, "family %d, want %d", info.family, family);
    CHECK(info.connected);
    mcf_free(c);
}

TEST(ipv6_set_get)
{
    mcserver s;
    if (mcserver_start_tcp(&s, "::1", NULL) < 0) {
        t_skip_case("cannot start memcached on ::1 (no IPv6 loopback?)");
        return;
    }
    set_get_on(&s, AF_INET6);
    mcserver_stop(&s);
}

TEST(unix_set_get)
{
    mcserver s;
    if (mcserver_start_unix(&s, NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached on a unix socket");
        return;
    }
    set_get_on(&s, AF_UNIX);
    mcserver_stop(&s);
}

TEST(mixed_families)
{
    /* 127.0.0.1 + ::1 + unix in one client, one get_multi */
    mcserver s[3];
    if (mcserver_start_tcp(&s[0], "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    if (mcserver_start_unix(&s[1], NULL) < 0) {
        mcserver_stop(&s[0]);
        t_fail(__FILE__, __LINE__, "cannot start memcached on a unix socket");
        return;
    }
    if (mcserver_start_tcp(&s[2], "::1", NULL) < 0) {
        stop_n(s, 2);
        t_skip_case("cannot start memcached on ::1");
        return;
    }
    mcf_client *c = client_n(s, 3);
    if (c) {
        keyset ks;
        ks_make(&ks, 90, "mix");
        CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
        gm g;
        CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
        size_t good = 0, per[3] = {0, 0, 0};
        for (size_t i = 0; i < ks.n; i++) {
            good += g.rc[i] == MCF_OK && g.ok[i];
            size_t sv = server_of(c, ks.k[i]);
            if (sv < 3) {
                per[sv]++;
                char want[80];
                val_of(ks.k[i], want, sizeof want);
                CHECKF(raw_has(&s[sv], ks.k[i], want), "key %s not on server %zu", ks.k[i], sv);
            }
        }
        CHECK(good == ks.n);
        CHECK(per[0] && per[1] && per[2]);
        gm_free(&g);
        ks_free(&ks);
        mcf_free(c);
    }
    stop_n(s, 3);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
