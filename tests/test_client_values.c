/* test_client_values.c - the public client API against real memcached
 * processes: values: empty, binary, large, the size limits, flags;
 * compression (zlib, flag 0x2).
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
/* Values                                                              */
/* ------------------------------------------------------------------ */

TEST(value_empty)
{
    SETUP(1, NULL);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("empty"), "", 0, 7, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("empty"), &v), MCF_OK);
    CHECK(v.len == 0 && v.data != NULL && v.flags == 7);
    uint32_t f = 0;
    size_t l = 99;
    CHECK(raw_get(&srv[0], "empty", &f, NULL, &l) == 1 && l == 0 && f == 7);
    /* NULL value with length 0 is an empty value too */
    CHECK_RC(mcf_set(c, KS("empty2"), NULL, 0, 0, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("empty2"), &v), MCF_OK);
    CHECK(v.len == 0);
    CHECK_RC(mcf_set(c, KS("nullval"), NULL, 5, 0, 0), MCF_ERR_ARG);
    TEARDOWN(1);
}

TEST(value_binary)
{
    SETUP(1, NULL);
    static const char bin[] = "a\0b\r\nEND\r\nVALUE x 0 1\r\n\0\xff\r\n\n\r";
    size_t bl = sizeof bin - 1;
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("bin"), bin, bl, 0, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("bin"), &v), MCF_OK);
    CHECK(v.len == bl && memcmp(v.data, bin, bl) == 0);
    CHECK_RC(mcf_gets(c, KS("bin"), &v), MCF_OK);
    CHECK(v.len == bl && memcmp(v.data, bin, bl) == 0);
    const char *d;
    size_t l;
    CHECK(raw_get(&srv[0], "bin", NULL, &d, &l) == 1 && l == bl && memcmp(d, bin, bl) == 0);
    /* and in a multi get next to other keys */
    CHECK_RC(mcf_set(c, KS("bin:after"), "v:bin:after", 11, 0, 0), MCF_OK);
    const char *keys[] = {"bin", "bin:after", "bin:none"};
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, keys, 3), MCF_OK);
    CHECK(g.rc[0] == MCF_OK && g.rc[1] == MCF_OK && g.ok[1] && g.rc[2] == MCF_MISS);
    gm_free(&g);
    TEARDOWN(1);
}

typedef struct big_check {
    const unsigned char *want;
    size_t len;
    int ok, calls;
} big_check;

static void big_cb(void *ctx, size_t i, int rc, const mcf_value *v)
{
    big_check *b = &((big_check *)ctx)[i];
    b->calls++;
    b->ok = rc == MCF_OK && v && v->len == b->len && memcmp(v->data, b->want, b->len) == 0;
}

TEST(value_500k)
{
    SETUP(1, NULL);
    size_t n = 500 * 1024;
    unsigned char *a = malloc(n), *b = malloc(n);
    fill_random(a, n, 1);
    fill_random(b, n, 2);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("big:a"), a, n, 0, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("big:a"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, a, n) == 0);
    const char *d;
    size_t l;
    CHECK(raw_get(&srv[0], "big:a", NULL, &d, &l) == 1 && l == n && memcmp(d, a, n) == 0);
    /* two big values in one write, then one multi get with a small one */
    mcf_item it[3] = {{.key = "big:b", .key_len = 5, .value = b, .value_len = n},
                      {.key = "big:s", .key_len = 5, .value = "small", .value_len = 5},
                      {.key = "big:c", .key_len = 5, .value = a, .value_len = n}};
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, 3, 0), MCF_OK);
    const char *keys[] = {"big:a", "big:b", "big:s", "big:c", "big:none"};
    big_check bc[5] = {{a, n, 0, 0}, {b, n, 0, 0}, {(const unsigned char *)"small", 5, 0, 0},
                       {a, n, 0, 0}, {NULL, 0, 0, 0}};
    int rc = mcf_get_multi(c, MCF_GET, 0, keys, NULL, 5, big_cb, bc);
    CHECK_RC(rc, MCF_OK);
    for (int i = 0; i < 4; i++)
        CHECKF(bc[i].calls == 1 && bc[i].ok, "multi get of %s", keys[i]);
    CHECK(bc[4].calls == 1 && !bc[4].ok);
    free(a);
    free(b);
    TEARDOWN(1);
}

TEST(value_max_size)
{
    /* memcached needs room for the item header: -I 2m stores 1 MiB values */
    SETUP(1, "-I 2m");
    size_t max = 1024 * 1024;
    CHECK(mcf_get_option(c, MCF_OPT_MAX_VALUE_SIZE) == (int64_t)max);
    unsigned char *p = malloc(max + 1);
    fill_random(p, max + 1, 3);
    mcf_value v;
    CHECK_RC(mcf_set(c, KS("max:ok"), p, max, 0, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("max:ok"), &v), MCF_OK);
    CHECK(v.len == max && memcmp(v.data, p, max) == 0);

    long long d0 = probe_delta(&srv[0]);
    long long b1 = bytes_read(&srv[0]);
    CHECK_RC(mcf_set(c, KS("max:over"), p, max + 1, 0, 0), MCF_ERR_TOO_LARGE);
    CHECK(mcf_last_error(c)[0] != 0);
    CHECK_RC(mcf_store(c, MCF_ADD, KS("max:over"), p, max + 1, 0, 0, 0, 0), MCF_ERR_TOO_LARGE);
    long long b2 = bytes_read(&srv[0]);
    CHECKF(b2 - b1 == d0, "server read %lld bytes during a rejected set (probe %lld)", b2 - b1,
           d0);
    CHECK(raw_get(&srv[0], "max:over", NULL, NULL, NULL) == 0);
    /* the client still works */
    CHECK_RC(mcf_set(c, KS("max:after"), "x", 1, 0, 0), MCF_OK);
    CHECK(get_eq(c, "max:after", "x"));
    free(p);
    TEARDOWN(1);
}

TEST(value_max_option)
{
    SETUP(1, NULL);
    char buf[2001];
    memset(buf, 'q', sizeof buf);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_VALUE_SIZE, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_set(c, KS("mo:big"), buf, 2000, 0, 0), MCF_OK); /* while the limit is 1 MiB */
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_VALUE_SIZE, 1000), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_MAX_VALUE_SIZE) == 1000);
    CHECK_RC(mcf_set(c, KS("mo:eq"), buf, 1000, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("mo:over"), buf, 1001, 0, 0), MCF_ERR_TOO_LARGE);
    CHECK(raw_get(&srv[0], "mo:over", NULL, NULL, NULL) == 0);
    mcf_item it[3] = {{.key = "mo:a", .key_len = 4, .value = buf, .value_len = 999, .rc = -99},
                      {.key = "mo:b", .key_len = 4, .value = buf, .value_len = 1001, .rc = -99},
                      {.key = "mo:c", .key_len = 4, .value = buf, .value_len = 1000, .rc = -99}};
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, 3, 0), MCF_ERR_TOO_LARGE);
    CHECK_RC(it[0].rc, MCF_OK);
    CHECK_RC(it[1].rc, MCF_ERR_TOO_LARGE);
    CHECK_RC(it[2].rc, MCF_OK);
    CHECK(raw_get(&srv[0], "mo:a", NULL, NULL, NULL) == 1);
    CHECK(raw_get(&srv[0], "mo:b", NULL, NULL, NULL) == 0);
    CHECK(raw_get(&srv[0], "mo:c", NULL, NULL, NULL) == 1);
    /* reading a value over the limit is refused; the client recovers */
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("mo:big"), &v), MCF_ERR_TOO_LARGE);
    CHECK_RC(mcf_get(c, KS("mo:eq"), &v), MCF_OK);
    CHECK(v.len == 1000);
    TEARDOWN(1);
}

TEST(value_server_rejects_too_large)
{
    SKIP_UNLESS(!meta_mode(), "in a quiet meta pipeline an error line cannot be placed among "
                              "several unanswered writes: they all fail (documented)");
    /* default memcached (-I 1m) cannot hold a 1 MiB value: SERVER_ERROR,
     * and the stream stays in step */
    SETUP(1, NULL);
    size_t n = 1024 * 1024;
    char *p = malloc(n);
    fill_text(p, n);
    CHECK_RC(mcf_set(c, KS("srv:ok"), "1", 1, 0, 0), MCF_OK);
    mcf_item it[3] = {{.key = "srv:a", .key_len = 5, .value = "A", .value_len = 1, .rc = -99},
                      {.key = "srv:big", .key_len = 7, .value = p, .value_len = n, .rc = -99},
                      {.key = "srv:b", .key_len = 5, .value = "B", .value_len = 1, .rc = -99}};
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, 3, 0), MCF_ERR_SERVER);
    CHECK_RC(it[0].rc, MCF_OK);
    CHECK_RC(it[1].rc, MCF_ERR_SERVER);
    CHECK_RC(it[2].rc, MCF_OK);
    CHECKF(contains(mcf_last_error(c), "too large"), "last error '%s'", mcf_last_error(c));
    CHECK(get_eq(c, "srv:ok", "1"));
    CHECK(get_eq(c, "srv:b", "B"));
    free(p);
    TEARDOWN(1);
}

TEST(flags_roundtrip)
{
    SETUP(4, NULL);
    static const uint32_t fl[] = {0, 1, 0xfffffffdu, 0x80000000u, 0x12345671u, 0x7ffffffdu};
    size_t nf = sizeof fl / sizeof fl[0];
    char key[32];
    const char *keys[8];
    char kb[8][32];
    for (size_t i = 0; i < nf; i++) {
        snprintf(key, sizeof key, "flag:%zu", i);
        snprintf(kb[i], sizeof kb[i], "%s", key);
        keys[i] = kb[i];
        char val[64];
        val_of(key, val, sizeof val);
        CHECK_RC(mcf_set(c, KS(key), val, strlen(val), fl[i], 0), MCF_OK);
        mcf_value v;
        CHECK_RC(mcf_get(c, KS(key), &v), MCF_OK);
        CHECKF(v.flags == fl[i], "flags 0x%x came back 0x%x", fl[i], v.flags);
        CHECK_RC(mcf_gets(c, KS(key), &v), MCF_OK);
        CHECK(v.flags == fl[i]);
        uint32_t rf = 0;
        size_t s = server_of(c, key);
        CHECK(s < 4 && raw_get(&srv[s], key, &rf, NULL, NULL) == 1 && rf == fl[i]);
    }
    gm g;
    CHECK_RC(gm_run(c, &g, MCF_GET, 0, keys, nf), MCF_OK);
    for (size_t i = 0; i < nf; i++)
        CHECKF(g.rc[i] == MCF_OK && g.ok[i] && g.flags[i] == fl[i], "multi flags 0x%x -> 0x%x",
               fl[i], g.flags[i]);
    gm_free(&g);

    /* without compression all 32 bits are the caller's */
    CHECK_RC(mcf_set(c, KS("flag:all"), "x", 1, 0xffffffffu, 0), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("flag:all"), &v), MCF_OK);
    CHECKF(v.flags == 0xffffffffu && v.len == 1, "flags 0x%x", v.flags);
    /* with compression on, the library owns 0x2: it is cleared on store */
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    CHECK_RC(mcf_set(c, KS("flag:owned"), "x", 1, 0xffffffffu, 0), MCF_OK);
    CHECK_RC(mcf_get(c, KS("flag:owned"), &v), MCF_OK);
    CHECKF(v.flags == 0xfffffffdu && v.len == 1 && v.data[0] == 'x', "flags 0x%x", v.flags);
    uint32_t rf = 0;
    size_t s = server_of(c, "flag:owned");
    CHECK(s < 4 && raw_get(&srv[s], "flag:owned", &rf, NULL, NULL) == 1 && rf == 0xfffffffdu);
    TEARDOWN(4);
}

/* ------------------------------------------------------------------ */
/* compression                                                         */
/* ------------------------------------------------------------------ */

TEST(compress_stored_flag)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    size_t n = 10 * 1024;
    char *p = malloc(n);
    fill_text(p, n);
    CHECK_RC(mcf_set(c, KS("z:text"), p, n, 0x100, 0), MCF_OK);
    uint32_t f = 0;
    size_t l = 0;
    CHECK(raw_get(&srv[0], "z:text", &f, NULL, &l) == 1);
    CHECKF(f & MCF_FLAG_COMPRESSED, "flags on the server 0x%x: not compressed", f);
    CHECKF((f & ~MCF_FLAG_COMPRESSED) == 0x100, "caller flags lost: 0x%x", f);
    CHECKF(l < n / 4, "stored %zu bytes for a %zu-byte compressible value", l, n);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("z:text"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, p, n) == 0);
    CHECKF(v.flags == 0x100, "flags 0x%x", v.flags);
    CHECK_RC(mcf_gets(c, KS("z:text"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, p, n) == 0 && v.flags == 0x100 && v.cas);
    /* a client without compression gets the value as stored (header:
     * "values are returned as stored"); one with compression inflates */
    const char *d;
    CHECK(raw_get(&srv[0], "z:text", &f, &d, &l) == 1);
    char *stored = malloc(l ? l : 1);
    memcpy(stored, d, l);
    mcf_client *plain = client_n(srv, 1);
    if (plain) {
        CHECK_RC(mcf_get(plain, KS("z:text"), &v), MCF_OK);
        CHECK(v.len == l && memcmp(v.data, stored, l) == 0 && v.flags == 0x102);
        CHECK_RC(mcf_set_option(plain, MCF_OPT_COMPRESS_THRESHOLD, 1000000), MCF_OK);
        CHECK_RC(mcf_get(plain, KS("z:text"), &v), MCF_OK);
        CHECK(v.len == n && memcmp(v.data, p, n) == 0 && v.flags == 0x100);
        mcf_free(plain);
    }
    free(stored);
    /* below the threshold: stored as is */
    CHECK_RC(mcf_set(c, KS("z:small"), p, 99, 0, 0), MCF_OK);
    CHECK(raw_get(&srv[0], "z:small", &f, NULL, &l) == 1 && f == 0 && l == 99);
    /* MCF_CALL_NO_COMPRESS */
    CHECK_RC(mcf_store(c, MCF_SET, KS("z:nc"), p, n, 0, 0, 0, MCF_CALL_NO_COMPRESS), MCF_OK);
    CHECK(raw_get(&srv[0], "z:nc", &f, NULL, &l) == 1 && f == 0 && l == n);
    free(p);
    TEARDOWN(1);
}

TEST(compress_incompressible)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    size_t n = 10 * 1024;
    unsigned char *p = malloc(n);
    fill_random(p, n, 42);
    CHECK_RC(mcf_set(c, KS("z:rand"), p, n, 0, 0), MCF_OK);
    uint32_t f = 99;
    size_t l = 0;
    const char *d;
    CHECK(raw_get(&srv[0], "z:rand", &f, &d, &l) == 1);
    CHECKF(f == 0 && l == n && memcmp(d, p, n) == 0, "flags 0x%x, %zu bytes", f, l);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("z:rand"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, p, n) == 0 && v.flags == 0);
    free(p);
    TEARDOWN(1);
}

TEST(compress_append_never)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    size_t n = 10 * 1024;
    char *p = malloc(n), *all = malloc(n * 2 + 10);
    fill_text(p, n);
    CHECK_RC(mcf_set(c, KS("z:ap"), "0123456789", 10, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_APPEND, KS("z:ap"), p, n, 0, 0, 0, 0), MCF_OK);
    CHECK_RC(mcf_store(c, MCF_PREPEND, KS("z:ap"), p, n, 0, 0, 0, 0), MCF_OK);
    memcpy(all, p, n);
    memcpy(all + n, "0123456789", 10);
    memcpy(all + n + 10, p, n);
    uint32_t f = 99;
    size_t l = 0;
    const char *d;
    CHECK(raw_get(&srv[0], "z:ap", &f, &d, &l) == 1);
    CHECKF(f == 0 && l == 2 * n + 10 && memcmp(d, all, l) == 0, "flags 0x%x, %zu bytes", f, l);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("z:ap"), &v), MCF_OK);
    CHECK(v.len == 2 * n + 10 && memcmp(v.data, all, v.len) == 0);
    /* mcf_multi append too */
    mcf_item it = {.key = "z:ap", .key_len = 4, .value = p, .value_len = n, .rc = -99};
    CHECK_RC(mcf_multi(c, MCF_OP_APPEND, &it, 1, 0), MCF_OK);
    CHECK(raw_get(&srv[0], "z:ap", &f, NULL, &l) == 1 && f == 0 && l == 3 * n + 10);
    free(p);
    free(all);
    TEARDOWN(1);
}

TEST(compress_multi_many)
{
    /* many compressed values in one request, over 4 servers */
    SETUP(4, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    const size_t N = 60, n = 20000;
    char *vals = malloc(N * n);
    mcf_item *it = calloc(N, sizeof *it);
    char (*keys)[32] = calloc(N, sizeof *keys);
    const char **kp = calloc(N, sizeof *kp);
    for (size_t i = 0; i < N; i++) {
        char *v = vals + i * n;
        fill_text(v, n);
        snprintf(v, 32, "value number %zu:", i); /* each one different */
        snprintf(keys[i], sizeof keys[i], "zm:%zu", i);
        kp[i] = keys[i];
        it[i] = (mcf_item){.key = keys[i], .key_len = strlen(keys[i]), .value = v,
                           .value_len = i % 7 == 0 ? 50 : n, .rc = -99};
    }
    CHECK_RC(mcf_multi(c, MCF_OP_SET, it, N, 0), MCF_OK);
    big_check *bc = calloc(N, sizeof *bc);
    for (size_t i = 0; i < N; i++) {
        bc[i].want = (const unsigned char *)vals + i * n;
        bc[i].len = it[i].value_len;
    }
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, kp, NULL, N, big_cb, bc), MCF_OK);
    size_t bad = 0, notz = 0;
    for (size_t i = 0; i < N; i++) {
        bad += !(bc[i].calls == 1 && bc[i].ok);
        size_t s = server_of(c, kp[i]);
        uint32_t f = 0;
        if (s < 4 && raw_get(&srv[s], kp[i], &f, NULL, NULL) == 1)
            notz += (it[i].value_len >= 100) != ((f & MCF_FLAG_COMPRESSED) != 0);
        else
            notz++;
    }
    CHECKF(bad == 0, "%zu values did not come back identical", bad);
    CHECKF(notz == 0, "%zu values with the wrong compression flag on the server", notz);
    free(vals);
    free(it);
    free(keys);
    free(kp);
    free(bc);
    TEARDOWN(4);
}

TEST(compress_inflate_limit)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    size_t n = 100000;
    char *p = malloc(n);
    fill_text(p, n);
    CHECK_RC(mcf_set(c, KS("zl:k"), p, n, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("zl:small"), "v:zl:small", 10, 0, 0), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_INFLATE_SIZE, (int64_t)n), MCF_OK);
    CHECK_RC(mcf_get(c, KS("zl:k"), &v), MCF_OK); /* exactly the limit */
    CHECK(v.len == n && memcmp(v.data, p, n) == 0);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_INFLATE_SIZE, (int64_t)n - 1), MCF_OK);
    CHECK_RC(mcf_get(c, KS("zl:k"), &v), MCF_ERR_TOO_LARGE);
    const char *keys[] = {"zl:k", "zl:small"};
    gm g;
    gm_init(&g, keys, 2);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 2, gm_cb, &g), MCF_ERR_TOO_LARGE);
    CHECK(g.rc[0] == MCF_ERR_TOO_LARGE && g.rc[1] == MCF_OK && g.ok[1]);
    gm_free(&g);
    CHECK(get_eq(c, "zl:small", "v:zl:small"));
    free(p);
    TEARDOWN(1);
}

TEST(compress_ratio)
{
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    size_t n = 10000;
    char *p = malloc(n);
    /* half text, half random: compresses to roughly 50-60% */
    fill_text(p, n / 2);
    fill_random((unsigned char *)p + n / 2, n / 2, 7);
    uint32_t f;
    size_t l;
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_RATIO, 40), MCF_OK);
    CHECK_RC(mcf_set(c, KS("zr:k"), p, n, 0, 0), MCF_OK);
    CHECK(raw_get(&srv[0], "zr:k", &f, NULL, &l) == 1);
    CHECKF(f == 0 && l == n, "ratio 40%%: flags %u, %zu bytes", f, l);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_RATIO, 80), MCF_OK);
    CHECK_RC(mcf_set(c, KS("zr:k"), p, n, 0, 0), MCF_OK);
    CHECK(raw_get(&srv[0], "zr:k", &f, NULL, &l) == 1);
    CHECKF((f & 2) && l < n * 80 / 100 && l > n * 40 / 100, "ratio 80%%: flags %u, %zu bytes",
           f, l);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_RATIO, 0), MCF_ERR_ARG);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("zr:k"), &v), MCF_OK);
    CHECK(v.len == n && memcmp(v.data, p, n) == 0);
    free(p);
    TEARDOWN(1);
}

TEST(compress_corrupt_value)
{
    /* a value flagged compressed that is not zlib data: an error for that
     * key only, the stream stays usable */
    SETUP(1, NULL);
    CHECK_RC(mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, 100), MCF_OK);
    CHECK(raw_cmd(&srv[0], "set zc:bad 2 0 10\r\n0123456789\r\n", "STORED\r\n") == 0);
    CHECK_RC(mcf_set(c, KS("zc:a"), "v:zc:a", 6, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("zc:b"), "v:zc:b", 6, 0, 0), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS("zc:bad"), &v), MCF_ERR_COMPRESS);
    CHECK(mcf_last_error(c)[0] != 0);
    const char *keys[] = {"zc:a", "zc:bad", "zc:b"};
    gm g;
    gm_init(&g, keys, 3);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, 3, gm_cb, &g), MCF_ERR_COMPRESS);
    CHECK(g.rc[0] == MCF_OK && g.ok[0]);
    CHECK(g.rc[1] == MCF_ERR_COMPRESS);
    CHECK(g.rc[2] == MCF_OK && g.ok[2]);
    gm_free(&g);
    CHECK(get_eq(c, "zc:a", "v:zc:a"));
    TEARDOWN(1);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
