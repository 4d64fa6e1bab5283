/* test_client_proto.c - the public client API against real memcached
 * processes: meta protocol specifics: binary keys, opaque matching,
 * mcf_get_ex, MCF_PROTO_AUTO.
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
/* meta protocol                                                       */
/* ------------------------------------------------------------------ */

typedef struct binkey {
    const char *k;
    size_t len;
    const char *name;
} binkey;

/* Callback for keys that are not strings: records calls and outcomes. */
typedef struct binrec {
    int calls[8], rc[8];
} binrec;

static void bin_cb(void *ctx, size_t i, int rc, const mcf_value *v)
{
    binrec *r = ctx;
    (void)v;
    if (i < 8) {
        r->calls[i]++;
        r->rc[i] = rc;
    }
}

static int bin_get_eq(mcf_client *c, const char *k, size_t kl, const char *want)
{
    mcf_value v;
    int rc = mcf_get(c, k, kl, &v);
    return rc == MCF_OK && v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
}

/* Keys with any bytes round-trip in meta mode (sent base64 with 'b');
 * a text client rejects them; what cannot be represented is BAD_KEY. */
TEST(meta_binary_keys)
{
    SETUP(2, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_META), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_PROTOCOL) == MCF_PROTO_META);
    static char b186[186], b187[187], a250[250];
    for (size_t i = 0; i < sizeof b186; i++)
        b186[i] = (char)(i * 7 + 1);
    memset(b187, ' ', sizeof b187);
    memset(a250, 'a', sizeof a250);
    const binkey keys[] = {{"a b", 3, "space"},       {"\0\r\n", 3, "NUL CR LF"},
                           {"\xff\xfe\x80", 3, "non-UTF-8"}, {"get x\r\n", 7, "injection"},
                           {b186, sizeof b186, "186 binary bytes"},
                           {a250, sizeof a250, "250-byte text key"}};
    size_t nk = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nk; i++) {
        const binkey *b = &keys[i];
        char val[64];
        snprintf(val, sizeof val, "val-%zu", i);
        CHECKF(mcf_set(c, b->k, b->len, val, strlen(val), 7, 0) == MCF_OK, "set %s: %s", b->name,
               mcf_last_error(c));
        mcf_value v;
        CHECKF(mcf_gets(c, b->k, b->len, &v) == MCF_OK && v.flags == 7 && v.cas != 0 &&
                   v.len == strlen(val) && memcmp(v.data, val, v.len) == 0,
               "gets %s", b->name);
        CHECKF(mcf_store(c, MCF_APPEND, b->k, b->len, "+", 1, 0, 0, 0, 0) == MCF_OK, "append %s",
               b->name);
        strcat(val, "+");
        CHECKF(bin_get_eq(c, b->k, b->len, val), "get after append %s", b->name);
        CHECKF(mcf_touch(c, b->k, b->len, 600, 0) == MCF_OK, "touch %s", b->name);
        CHECKF(mcf_set(c, b->k, b->len, "41", 2, 0, 0) == MCF_OK, "set number %s", b->name);
        uint64_t nv = 0;
        CHECKF(mcf_incr(c, b->k, b->len, 1, &nv, 0) == MCF_OK && nv == 42, "incr %s", b->name);
        size_t srv_i = 99;
        CHECKF(mcf_server_for_key(c, b->k, b->len, &srv_i) == MCF_OK && srv_i < 2,
               "server_for_key %s", b->name);
    }
    /* the keys are distinct on the server: one multi get sees them all */
    const char *kp[8];
    size_t kl[8];
    for (size_t i = 0; i < nk; i++) {
        kp[i] = keys[i].k;
        kl[i] = keys[i].len;
    }
    kp[nk] = "\x01missing";
    kl[nk] = 8;
    binrec g;
    memset(&g, 0, sizeof g);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, kp, kl, nk + 1, bin_cb, &g), MCF_OK);
    for (size_t i = 0; i < nk; i++)
        CHECKF(g.calls[i] == 1 && g.rc[i] == MCF_OK, "multi get %s: rc %d", keys[i].name, g.rc[i]);
    CHECKF(g.calls[nk] == 1 && g.rc[nk] == MCF_MISS, "multi get miss: rc %d", g.rc[nk]);
    for (size_t i = 0; i < nk; i++) {
        CHECKF(mcf_delete(c, keys[i].k, keys[i].len, 0) == MCF_OK, "delete %s", keys[i].name);
        CHECKF(mcf_delete(c, keys[i].k, keys[i].len, 0) == MCF_NOT_FOUND, "delete again %s",
               keys[i].name);
    }
    /* not representable */
    mcf_value v;
    CHECK_RC(mcf_set(c, b187, sizeof b187, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    CHECKF(contains(mcf_last_error(c), "186"), "last error '%s'", mcf_last_error(c));
    CHECK_RC(mcf_get(c, "", 0, &v), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_get(c, b186, sizeof b186 - 1, &v), MCF_MISS);
    /* with a namespace the limit counts it */
    CHECK_RC(mcf_set_namespace(c, "ns:"), MCF_OK);
    CHECK_RC(mcf_set(c, b186, sizeof b186, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set(c, "a b", 3, "ns", 2, 0, 0), MCF_OK);
    CHECK(bin_get_eq(c, "a b", 3, "ns"));
    CHECK_RC(mcf_set_namespace(c, NULL), MCF_OK);
    /* text mode rejects what meta sends base64 */
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_TEXT), MCF_OK);
    CHECK_RC(mcf_set(c, "a b", 3, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_get(c, "\x01x", 2, &v), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, 3), MCF_ERR_ARG);
    TEARDOWN(2);
}

/* Quiet multi-get: misses send nothing back, so results are placed by
 * opaque and key; interleaved hits and misses, duplicates, many servers. */
TEST(meta_opaque_matching)
{
    SETUP(3, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_META), MCF_OK);
    keyset ks;
    ks_make(&ks, 600, "mop");
    /* every third key is stored */
    const char *stored[200];
    for (size_t i = 0; i < 200; i++)
        stored[i] = ks.k[i * 3];
    CHECK(set_keys(c, stored, 200, 5, 0) == 0);
    /* the same key twice */
    ks.k[599] = ks.k[0];
    for (int mode = MCF_GET; mode <= MCF_GATS; mode++) {
        gm g;
        CHECK_RC(gm_run(c, &g, (mcf_get_mode)mode, 600, ks.k, ks.n), MCF_OK);
        size_t bad = 0;
        for (size_t i = 0; i < ks.n; i++) {
            int hit = i % 3 == 0 || i == 599;
            if (hit ? !(g.rc[i] == MCF_OK && g.ok[i] && g.flags[i] == 5 &&
                        (g.cas[i] != 0) == (mode == MCF_GETS || mode == MCF_GATS))
                    : g.rc[i] != MCF_MISS)
                bad++;
        }
        CHECKF(bad == 0, "mode %d: %zu keys with a wrong outcome", mode, bad);
        gm_free(&g);
    }
    /* quiet writes: misses and hits interleaved, each with its own outcome */
    mcf_item it[6] = {{.key = ks.k[0], .key_len = strlen(ks.k[0])},
                      {.key = ks.k[1], .key_len = strlen(ks.k[1])},
                      {.key = ks.k[3], .key_len = strlen(ks.k[3])},
                      {.key = ks.k[4], .key_len = strlen(ks.k[4])},
                      {.key = ks.k[6], .key_len = strlen(ks.k[6])},
                      {.key = ks.k[7], .key_len = strlen(ks.k[7])}};
    for (size_t i = 0; i < 6; i++) {
        it[i].value = "n";
        it[i].value_len = 1;
        it[i].rc = -99;
    }
    CHECK_RC(mcf_multi(c, MCF_OP_ADD, it, 6, 0), MCF_OK);
    for (size_t i = 0; i < 6; i++)
        CHECKF(it[i].rc == (i % 2 ? MCF_OK : MCF_NOT_STORED), "add %zu: rc %d", i, it[i].rc);
    CHECK_RC(mcf_multi(c, MCF_OP_TOUCH, it, 6, 0), MCF_OK);
    for (size_t i = 0; i < 6; i++)
        CHECKF(it[i].rc == MCF_OK, "touch %zu: rc %d", i, it[i].rc);
    for (size_t i = 0; i < 6; i += 2)
        CHECK_RC(mcf_delete(c, it[i].key, it[i].key_len, 0), MCF_OK);
    CHECK_RC(mcf_multi(c, MCF_OP_DELETE, it, 6, 0), MCF_OK);
    for (size_t i = 0; i < 6; i++)
        CHECKF(it[i].rc == (i % 2 ? MCF_OK : MCF_NOT_FOUND), "delete %zu: rc %d", i, it[i].rc);
    ks.k[599] = ks.buf[599];
    ks_free(&ks);
    TEARDOWN(3);
}

/* mcf_get_ex: item metadata with the value (meta only).  More in
 * tests/test_meta_features.c. */
TEST(meta_get_ex)
{
    SETUP(1, NULL);
    mcf_value v;
    mcf_item_info info;
    const mcf_meta_opts o_ttl = {.flags = MCF_META_GET_TTL};
    const mcf_meta_opts o_all = {.flags = MCF_META_GET_TTL | MCF_META_GET_HIT_BEFORE |
                                          MCF_META_GET_LAST_ACCESS};
    const mcf_meta_opts o_hit = {.flags = MCF_META_GET_HIT_BEFORE};
    const mcf_meta_opts o_nobump = {.flags = MCF_META_NO_BUMP};
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_TEXT), MCF_OK);
    CHECK_RC(mcf_set(c, KS("ex:k"), "val", 3, 9, 1000), MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &o_ttl, &v, &info), MCF_ERR_NOT_SUPPORTED);
    CHECKF(contains(mcf_last_error(c), "meta"), "last error '%s'", mcf_last_error(c));
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_META), MCF_OK);
    /* a flag mg does not take, and a bit that is no flag */
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &(mcf_meta_opts){.flags = MCF_META_INVALIDATE}, &v, &info),
             MCF_ERR_ARG);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &(mcf_meta_opts){.flags = 0x10000u}, &v, &info),
             MCF_ERR_ARG);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &o_all, &v, &info), MCF_OK);
    CHECK(v.len == 3 && memcmp(v.data, "val", 3) == 0 && v.flags == 9 && v.cas != 0);
    CHECKF(info.ttl > 990 && info.ttl <= 1000, "ttl %lld", (long long)info.ttl);
    CHECKF(info.hit_before == 0 && info.last_access <= 2, "hit %d la %llu", info.hit_before,
           (unsigned long long)info.last_access);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &o_hit, &v, &info), MCF_OK);
    CHECK(info.hit_before == 1 && info.ttl == 0);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), &o_nobump, &v, NULL), MCF_OK);
    CHECK(v.len == 3);
    CHECK_RC(mcf_get_ex(c, KS("ex:k"), NULL, &v, NULL), MCF_OK);
    CHECK(v.len == 3 && v.flags == 9);
    CHECK_RC(mcf_set(c, KS("ex:forever"), "f", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("ex:forever"), &o_ttl, &v, &info), MCF_OK);
    CHECKF(info.ttl == -1, "ttl %lld", (long long)info.ttl);
    CHECK_RC(mcf_get_ex(c, KS("ex:missing"), &o_ttl, &v, &info), MCF_MISS);
    CHECK(v.data == NULL);
    TEARDOWN(1);
}

/* MCF_PROTO_AUTO learns meta from memcached 1.6; keys stay text keys. */
TEST(meta_auto)
{
    SETUP(2, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_AUTO), MCF_OK);
    CHECK_RC(mcf_set(c, KS("auto:k"), "v", 1, 0, 0), MCF_OK);
    CHECK(get_eq(c, "auto:k", "v"));
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("auto:missing"), &v), MCF_MISS);
    CHECK_RC(mcf_set(c, "a b", 3, "x", 1, 0, 0), MCF_ERR_BAD_KEY);
    /* after a reconnect the probe runs again */
    mcf_disconnect_all(c);
    CHECK(get_eq(c, "auto:k", "v"));
    TEARDOWN(2);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
