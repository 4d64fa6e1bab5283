/* test_client_keys.c - the public client API against real memcached
 * processes: keys: the namespace prefix and its hashing; bad keys, which
 * are refused before anything is sent.
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
/* namespace                                                           */
/* ------------------------------------------------------------------ */

TEST(namespace_prefix)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_namespace(c, "ns:"), MCF_OK);
    CHECK_RC(mcf_set(c, KS("key"), "nsval", 5, 0, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "ns:key", "nsval"));
    CHECK(raw_get(&srv[0], "key", NULL, NULL, NULL) == 0);
    CHECK(get_eq(c, "key", "nsval"));
    /* multi get: VALUE lines carry the namespace */
    CHECK_RC(mcf_set(c, KS("k2"), "v:k2", 4, 0, 0), MCF_OK);
    const char *keys[] = {"k2", "none", "k2"};
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GETS, 0, keys, 3), MCF_OK);
    CHECK(g.rc[0] == MCF_OK && g.ok[0] && g.rc[1] == MCF_MISS && g.rc[2] == MCF_OK && g.ok[2]);
    gm_free(&g);
    /* every command uses it */
    uint64_t nv;
    CHECK_RC(mcf_set(c, KS("cnt"), "1", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr(c, KS("cnt"), 1, &nv, 0), MCF_OK);
    CHECK(raw_has(&srv[0], "ns:cnt", "2"));
    CHECK_RC(mcf_touch(c, KS("cnt"), 800, 0), MCF_OK);
    long t = raw_ttl(&srv[0], "ns:cnt");
    CHECK(t > 700 && t <= 800);
    CHECK_RC(mcf_delete(c, KS("cnt"), 0), MCF_OK);
    CHECK(raw_get(&srv[0], "ns:cnt", NULL, NULL, NULL) == 0);
    /* a client without namespace sees the full key */
    mcf_client *plain = client_n(srv, 1);
    if (plain) {
        CHECK(get_eq(plain, "ns:key", "nsval"));
        mcf_free(plain);
    }
    /* removing the namespace */
    CHECK_RC(mcf_set_namespace(c, NULL), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("key"), &v), MCF_MISS);
    CHECK(get_eq(c, "ns:key", "nsval"));
    TEARDOWN(1);
}

TEST(namespace_key_limit)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_namespace(c, "ns:"), MCF_OK);
    char key[300];
    memset(key, 'k', sizeof key);
    CHECK_RC(mcf_set(c, key, 247, "x", 1, 0, 0), MCF_OK); /* 3 + 247 = 250 */
    mcf_value v;
    CHECK_RC(mcf_get(c, key, 247, &v), MCF_OK);
    CHECK_RC(mcf_set(c, key, 248, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_get(c, key, 248, &v), MCF_ERR_BAD_KEY);
    size_t s;
    CHECK_RC(mcf_server_for_key(c, key, 248, &s), MCF_ERR_BAD_KEY);
    char full[260] = "ns:";
    memcpy(full + 3, key, 247);
    full[250] = 0;
    CHECK(raw_get(&srv[0], full, NULL, NULL, NULL) == 1);
    /* namespaces that are not valid key bytes are refused; the old one stays */
    char longns[260];
    memset(longns, 'n', 251);
    longns[251] = 0;
    CHECK_RC(mcf_set_namespace(c, longns), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set_namespace(c, "a b"), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set_namespace(c, "a\r\nflush_all"), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_get(c, key, 247, &v), MCF_OK);
    TEARDOWN(1);
}

static void ns_hash_check(int hash_ns)
{
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH_NAMESPACE, hash_ns), MCF_OK);
    CHECK_RC(mcf_set_namespace(c, "ns:"), MCF_OK);
    mcf_client *plain = client_n(srv, 4);
    keyset ks;
    ks_make(&ks, 120, hash_ns ? "hon" : "hoff");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    size_t misplaced = 0, differ = 0, per[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < ks.n; i++) {
        size_t s = server_of(c, ks.k[i]);
        if (s >= 4) {
            misplaced++;
            continue;
        }
        per[s]++;
        char full[80], want[80];
        snprintf(full, sizeof full, "ns:%s", ks.k[i]);
        val_of(ks.k[i], want, sizeof want);
        if (!raw_has(&srv[s], full, want))
            misplaced++;
        if (plain) {
            size_t ps = SIZE_MAX, fs = SIZE_MAX;
            mcf_server_for_key(plain, KS(ks.k[i]), &ps);
            mcf_server_for_key(plain, KS(full), &fs);
            /* hashing off: like a plain client with the bare key;
             * hashing on: like a plain client with the full key */
            CHECKF((hash_ns ? fs : ps) == s, "%s: server %zu, plain client says %zu", ks.k[i], s,
                   hash_ns ? fs : ps);
            differ += ps != fs;
        }
    }
    CHECKF(misplaced == 0, "%zu keys not on the server mcf_server_for_key names", misplaced);
    CHECK(per[0] && per[1] && per[2] && per[3]);
    CHECKF(differ > 0, "namespace hashing makes no difference for any key");
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, ks.k, ks.n), MCF_OK);
    size_t good = 0;
    for (size_t i = 0; i < ks.n; i++)
        good += g.rc[i] == MCF_OK && g.ok[i];
    CHECK(good == ks.n);
    gm_free(&g);
    ks_free(&ks);
    mcf_free(plain);
    TEARDOWN(4);
}

TEST(namespace_hash_on) { ns_hash_check(1); }
TEST(namespace_hash_off) { ns_hash_check(0); }

/* ------------------------------------------------------------------ */
/* bad keys                                                            */
/* ------------------------------------------------------------------ */

/* Why the bad-key cases are text-only. */
#define META_KEYS_VALID                                                             \
    "keys with spaces or control bytes are valid in meta mode (sent base64); see meta_binary_keys"

typedef struct badkey {
    const char *k;
    size_t len;
    const char *what;
} badkey;

static char key251[252];
static const badkey badkeys[] = {
    {"a b", 3, "space"},        {"a\rb", 3, "CR"},      {"a\nb", 3, "LF"},
    {"ab\0", 3, "NUL"},         {"a\tb", 3, "tab"},     {"a\x7f", 2, "DEL"},
    {key251, 251, "251 bytes"}, {"", 0, "empty"},       {NULL, 0, "NULL"},
    {NULL, 5, "NULL+len"},      {"x\x01y", 3, "0x01"},  {"\x20", 1, "lone space"},
};

TEST(bad_keys_single)
{
    SKIP_UNLESS(!meta_mode(), META_KEYS_VALID);
    SETUP(1, NULL);
    memset(key251, 'k', 251);
    /* connect first, so "nothing sent" is about requests, not connects */
    CHECK_RC(mcf_set(c, KS("good"), "g", 1, 0, 0), MCF_OK);
    long long d0 = probe_delta(&srv[0]);
    long long b1 = bytes_read(&srv[0]);
    for (size_t i = 0; i < sizeof badkeys / sizeof badkeys[0]; i++) {
        const badkey *b = &badkeys[i];
        mcf_value v;
        uint64_t nv;
        size_t s;
        CHECKF(mcf_set(c, b->k, b->len, "x", 1, 0, 0) == MCF_ERR_BAD_KEY, "set %s", b->what);
        const char *e = mcf_last_error(c);
        CHECKF(e[0] && (contains(e, "bad key") || (b->len > 1 && b->k && contains(e, "a"))),
               "%s: last error '%s'", b->what, e);
        CHECKF(mcf_get(c, b->k, b->len, &v) == MCF_ERR_BAD_KEY, "get %s", b->what);
        CHECKF(mcf_gets(c, b->k, b->len, &v) == MCF_ERR_BAD_KEY, "gets %s", b->what);
        CHECKF(mcf_gat(c, 10, b->k, b->len, &v) == MCF_ERR_BAD_KEY, "gat %s", b->what);
        CHECKF(mcf_store(c, MCF_APPEND, b->k, b->len, "x", 1, 0, 0, 0, 0) == MCF_ERR_BAD_KEY,
               "append %s", b->what);
        CHECKF(mcf_store(c, MCF_SET, b->k, b->len, "x", 1, 0, 0, 0, MCF_CALL_NOREPLY) ==
                   MCF_ERR_BAD_KEY,
               "noreply set %s", b->what);
        CHECKF(mcf_incr(c, b->k, b->len, 1, &nv, 0) == MCF_ERR_BAD_KEY, "incr %s", b->what);
        CHECKF(mcf_decr(c, b->k, b->len, 1, &nv, 0) == MCF_ERR_BAD_KEY, "decr %s", b->what);
        CHECKF(mcf_delete(c, b->k, b->len, 0) == MCF_ERR_BAD_KEY, "delete %s", b->what);
        CHECKF(mcf_touch(c, b->k, b->len, 10, 0) == MCF_ERR_BAD_KEY, "touch %s", b->what);
        CHECKF(mcf_server_for_key(c, b->k, b->len, &s) == MCF_ERR_BAD_KEY, "server_for_key %s",
               b->what);
    }
    long long b2 = bytes_read(&srv[0]);
    CHECKF(b2 - b1 == d0, "the server read %lld bytes during bad-key calls (probe alone: %lld)",
           b2 - b1, d0);
    CHECK(get_eq(c, "good", "g"));
    CHECK_RC(mcf_set(c, key251, 250, "250", 3, 0, 0), MCF_OK); /* 250 bytes is the limit */
    CHECK(get_eq(c, (key251[250] = 0, key251), "250"));
    key251[250] = 'k';
    /* a printable key with every allowed byte class works */
    CHECK_RC(mcf_set(c, KS("ok:~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./\x80\xff"), "1", 1, 0, 0),
             MCF_OK);
    TEARDOWN(1);
}

TEST(bad_keys_multi)
{
    SKIP_UNLESS(!meta_mode(), META_KEYS_VALID);
    SETUP(4, NULL);
    memset(key251, 'k', 251);
    keyset ks;
    ks_make(&ks, 60, "bkm");
    CHECK(set_keys(c, ks.k, ks.n, 0, 0) == 0);
    size_t nb = sizeof badkeys / sizeof badkeys[0], n = ks.n + nb;
    const char **keys = calloc(n, sizeof *keys);
    size_t *lens = calloc(n, sizeof *lens);
    int *isbad = calloc(n, sizeof *isbad);
    for (size_t i = 0, g = 0, b = 0; i < n; i++) {
        if (i % 6 == 3 && b < nb) {
            keys[i] = badkeys[b].k;
            lens[i] = badkeys[b].len;
            isbad[i] = 1;
            b++;
        } else if (g < ks.n) {
            keys[i] = ks.k[g];
            lens[i] = strlen(ks.k[g]);
            g++;
        } else {
            keys[i] = badkeys[b].k;
            lens[i] = badkeys[b].len;
            isbad[i] = 1;
            b++;
        }
    }
    gm g;
    gm_init(&g, keys, n);
    int rc = mcf_get_multi(c, MCF_GET, 0, keys, lens, n, gm_cb, &g);
    CHECK_RC(rc, MCF_ERR_BAD_KEY);
    CHECK(contains(mcf_last_error(c), "bad key"));
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = g.calls[i] == 1 &&
                 (isbad[i] ? g.rc[i] == MCF_ERR_BAD_KEY : (g.rc[i] == MCF_OK && g.ok[i]));
        if (!ok && wrong++ < 3)
            printf("# index %zu (%s): calls %d rc %d\n", i, isbad[i] ? "bad" : keys[i],
                   g.calls[i], g.rc[i]);
    }
    CHECKF(wrong == 0, "%zu keys with a wrong outcome", wrong);
    gm_free(&g);

    /* mcf_multi set: bad items fail alone */
    mcf_item *it = calloc(n, sizeof *it);
    for (size_t i = 0; i < n; i++)
        it[i] = (mcf_item){.key = keys[i], .key_len = lens[i], .value = "new", .value_len = 3,
                           .rc = -99};
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, n, 0), MCF_ERR_BAD_KEY);
    wrong = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].rc != (isbad[i] ? MCF_ERR_BAD_KEY : MCF_OK))
            wrong++;
        else if (!isbad[i] && !mi_on_server(c, srv, keys[i], "new"))
            wrong++;
    }
    CHECKF(wrong == 0, "multi set: %zu items with a wrong outcome", wrong);
    /* delete with bad keys */
    for (size_t i = 0; i < n; i++)
        it[i].rc = -99;
    CHECK_RC(mcf_multi(c, MCF_OP_DELETE, it, n, 0), MCF_ERR_BAD_KEY);
    wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += it[i].rc != (isbad[i] ? MCF_ERR_BAD_KEY : MCF_OK);
    CHECKF(wrong == 0, "multi delete: %zu items with a wrong outcome", wrong);
    free(it);
    free(keys);
    free(lens);
    free(isbad);
    ks_free(&ks);
    TEARDOWN(4);
}

TEST(bad_key_injection)
{
    SKIP_UNLESS(!meta_mode(),
                "meta mode sends such keys base64: no injection possible; see meta_binary_keys");
    SETUP(1, NULL);
    CHECK_RC(mcf_set(c, KS("sentinel"), "alive", 5, 0, 0), MCF_OK);
    static const char inj[] = "a\r\nflush_all";
    static const char inj2[] = "a flush_all\r\nget";
    mcf_value v;
    uint64_t nv;
    CHECK_RC(mcf_set(c, KS(inj), "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_get(c, KS(inj), &v), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_delete(c, KS(inj), 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_delete(c, KS(inj), MCF_CALL_NOREPLY), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_incr(c, KS(inj), 1, &nv, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_touch(c, KS(inj2), 1, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set(c, "a\0\r\nflush_all", 13, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    const char *keys[] = {"sentinel", inj, inj2};
    gm g;
    gm_init(&g, keys, 3);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 3, gm_cb, &g), MCF_ERR_BAD_KEY);
    CHECK(g.rc[0] == MCF_OK && g.rc[1] == MCF_ERR_BAD_KEY && g.rc[2] == MCF_ERR_BAD_KEY);
    gm_free(&g);
    stats_seen st;
    memset(&st, 0, sizeof st);
    CHECK_RC(mcf_stats(c, 0, "settings\r\nflush_all", stats_cb, &st), MCF_ERR_ARG);
    /* Words are allowed (one command line); bytes that end it or split it are not. */
    CHECK_RC(mcf_stats(c, 0, "items\nflush_all", stats_cb, &st), MCF_ERR_ARG);
    CHECK_RC(mcf_stats(c, 0, "items \rflush_all", stats_cb, &st), MCF_ERR_ARG);
    CHECK_RC(mcf_stats(c, 0, "items flush_all", stats_cb, &st), MCF_OK);
    CHECK(get_eq(c, "sentinel", "alive"));
    CHECK(raw_has(&srv[0], "sentinel", "alive"));
    CHECKF(raw_stat(&srv[0], NULL, "cmd_flush") == 0, "a flush_all reached the server");
    TEARDOWN(1);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
