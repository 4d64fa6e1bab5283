/* test_client.c - the public client API against real memcached processes.
 *
 * Every case starts its own servers (tests/mcserver.h: 1 for single-server
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

#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

#define KS(s) (s), strlen(s)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Deterministic pseudo-random bytes (incompressible). */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* Compressible text. */
static void fill_text(char *p, size_t n)
{
    static const char words[] = "the quick brown fox jumps over the lazy memcached server ";
    for (size_t i = 0; i < n; i++)
        p[i] = words[i % (sizeof words - 1)];
}

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

/* ------------------------------------------------------------------ */
/* Servers and clients                                                 */
/* ------------------------------------------------------------------ */

static int start_n(mcserver *s, int n, const char *extra)
{
    for (int i = 0; i < n; i++)
        if (mcserver_start_tcp(&s[i], "127.0.0.1", extra) < 0) {
            for (int j = 0; j < i; j++)
                mcserver_stop(&s[j]);
            return -1;
        }
    return 0;
}

/* SIGKILL, not SIGTERM: memcached takes about a second to shut down
 * gracefully, and nothing here needs its shutdown. */
static void stop_n(mcserver *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (s[i].pid > 0 && !s[i].path[0]) {
            kill(s[i].pid, SIGCONT);
            mcserver_kill(&s[i], SIGKILL);
        }
        mcserver_stop(&s[i]); /* unix: also removes the socket directory */
    }
}

/* MCF_TEST_PROTOCOL=meta (or auto) runs every case with that protocol
 * (tests/t_client_meta.sh). */
static int test_protocol = MCF_PROTO_TEXT;

static mcf_client *new_client(void)
{
    mcf_client *c = mcf_new();
    if (c && test_protocol != MCF_PROTO_TEXT &&
        mcf_set_option(c, MCF_OPT_PROTOCOL, test_protocol) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

static int meta_mode(void) { return test_protocol != MCF_PROTO_TEXT; }

static mcf_client *client_n(mcserver *s, int n)
{
    char list[2048];
    size_t off = 0;
    list[0] = 0;
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? "," : "", s[i].spec);
    mcf_client *c = new_client();
    if (!c) {
        t_fail(__FILE__, __LINE__, "mcf_new returned NULL");
        return NULL;
    }
    int rc = mcf_set_servers(c, list);
    if (rc != MCF_OK) {
        t_fail(__FILE__, __LINE__, "mcf_set_servers(%s) = %d: %s", list, rc, mcf_last_error(c));
        mcf_free(c);
        return NULL;
    }
    return c;
}

#define SETUP(N, EXTRA)                                                             \
    mcserver srv[N];                                                                \
    if (start_n(srv, N, EXTRA) < 0) {                                               \
        t_fail(__FILE__, __LINE__, "cannot start %d memcached server(s)", N);       \
        return;                                                                     \
    }                                                                               \
    mcf_client *c = client_n(srv, N);                                               \
    if (!c) {                                                                       \
        stop_n(srv, N);                                                             \
        return;                                                                     \
    }
#define TEARDOWN(N)                                                                 \
    do {                                                                            \
        mcf_free(c);                                                                \
        stop_n(srv, N);                                                             \
    } while (0)

/* ------------------------------------------------------------------ */
/* Raw access to a server (no mcfast involved)                         */
/* ------------------------------------------------------------------ */

#define RAWBUF_SIZE (3u << 20)
static char *rawbuf;

/* "get key" straight to the server: 1 hit, 0 miss, -1 error.  data points
 * into a static buffer until the next raw call. */
static int raw_get(const mcserver *s, const char *key, uint32_t *flags, const char **data,
                   size_t *len)
{
    char req[600];
    snprintf(req, sizeof req, "get %s\r\n", key);
    int n = mcserver_raw(s, req, "END\r\n", rawbuf, RAWBUF_SIZE);
    if (n < 0)
        return -1;
    if (n == 5 && memcmp(rawbuf, "END\r\n", 5) == 0)
        return 0;
    unsigned f;
    size_t b;
    char k[300];
    if (sscanf(rawbuf, "VALUE %299s %u %zu", k, &f, &b) != 3)
        return -1;
    char *nl = strstr(rawbuf, "\r\n");
    if (!nl)
        return -1;
    size_t hdr = (size_t)(nl + 2 - rawbuf);
    if (hdr + b + 2 + 5 != (size_t)n)
        return -1;
    if (flags)
        *flags = f;
    if (data)
        *data = rawbuf + hdr;
    if (len)
        *len = b;
    return 1;
}

/* 1 when the server holds key with exactly this value. */
static int raw_has(const mcserver *s, const char *key, const char *want)
{
    const char *d;
    size_t l;
    if (raw_get(s, key, NULL, &d, &l) != 1)
        return 0;
    return l == strlen(want) && memcmp(d, want, l) == 0;
}

/* Sends a raw request; 0 if the reply ends with `until`. */
static int raw_cmd(const mcserver *s, const char *req, const char *until)
{
    char buf[4096];
    int n = mcserver_raw(s, req, until, buf, sizeof buf);
    size_t ul = strlen(until);
    return n >= (int)ul && memcmp(buf + n - (int)ul, until, ul) == 0 ? 0 : -1;
}

/* A "stats [arg]" value as a number, -1 if absent. */
static long long raw_stat(const mcserver *s, const char *arg, const char *name)
{
    static char buf[65536];
    char req[64];
    snprintf(req, sizeof req, "stats%s%s\r\n", arg ? " " : "", arg ? arg : "");
    if (mcserver_raw(s, req, "END\r\n", buf, sizeof buf) < 0)
        return -1;
    char pat[80];
    snprintf(pat, sizeof pat, "STAT %s ", name);
    char *p = strstr(buf, pat);
    if (!p)
        return -1;
    return strtoll(p + strlen(pat), NULL, 10);
}

/* Remaining TTL through the meta protocol: -1 never expires, -2 missing,
 * -3 error. */
static long raw_ttl(const mcserver *s, const char *key)
{
    char req[600], buf[256];
    snprintf(req, sizeof req, "mg %s t\r\n", key);
    if (mcserver_raw(s, req, "\r\n", buf, sizeof buf) < 0)
        return -3;
    if (strncmp(buf, "EN", 2) == 0)
        return -2;
    long t;
    if (sscanf(buf, "HD t%ld", &t) == 1)
        return t;
    return -3;
}

/* Bytes the server has read from all clients; used to prove that nothing
 * was sent.  Each raw "stats" adds its own request, so callers compare a
 * delta against a calibrated one. */
static long long bytes_read(const mcserver *s)
{
    return raw_stat(s, NULL, "bytes_read");
}

/* Delta of bytes_read caused by the probe itself (two consecutive reads). */
static long long probe_delta(const mcserver *s)
{
    long long a = bytes_read(s), b = bytes_read(s);
    return b - a;
}

/* ------------------------------------------------------------------ */
/* Key sets and the get_multi collector                                */
/* ------------------------------------------------------------------ */

typedef struct keyset {
    size_t n;
    char (*buf)[64];
    const char **k;
} keyset;

static void ks_make(keyset *ks, size_t n, const char *prefix)
{
    ks->n = n;
    ks->buf = calloc(n ? n : 1, sizeof *ks->buf);
    ks->k = calloc(n ? n : 1, sizeof *ks->k);
    for (size_t i = 0; i < n; i++) {
        snprintf(ks->buf[i], sizeof ks->buf[i], "%s:%zu", prefix, i);
        ks->k[i] = ks->buf[i];
    }
}

static void ks_free(keyset *ks)
{
    free(ks->buf);
    free(ks->k);
}

static void val_of(const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "v:%s", key);
}

/* Sets keys[i] = "v:" + keys[i] with one mcf_multi; returns the number of
 * items that were not stored. */
static size_t set_keys(mcf_client *c, const char *const *keys, size_t n, uint32_t flags,
                       unsigned call_flags)
{
    mcf_item *it = calloc(n ? n : 1, sizeof *it);
    char (*vals)[80] = calloc(n ? n : 1, sizeof *vals);
    for (size_t i = 0; i < n; i++) {
        val_of(keys[i], vals[i], sizeof vals[i]);
        it[i] = (mcf_item){.key = keys[i], .key_len = strlen(keys[i]), .value = vals[i],
                           .value_len = strlen(vals[i]), .flags = flags, .rc = -99};
    }
    mcf_multi(c, MCF_OP_SET, it, n, call_flags);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (it[i].rc != MCF_OK)
            bad++;
    free(it);
    free(vals);
    return bad;
}

typedef struct gm {
    size_t n;
    const char *const *keys;
    int *calls, *rc, *ok;
    uint64_t *cas;
    uint32_t *flags;
    size_t out_of_range, value_on_non_hit;
} gm;

static void gm_init(gm *g, const char *const *keys, size_t n)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->keys = keys;
    g->calls = calloc(n + 1, sizeof *g->calls);
    g->rc = calloc(n + 1, sizeof *g->rc);
    g->ok = calloc(n + 1, sizeof *g->ok);
    g->cas = calloc(n + 1, sizeof *g->cas);
    g->flags = calloc(n + 1, sizeof *g->flags);
    for (size_t i = 0; i < n; i++)
        g->rc[i] = -99;
}

static void gm_free(gm *g)
{
    free(g->calls);
    free(g->rc);
    free(g->ok);
    free(g->cas);
    free(g->flags);
}

/* Records every callback; a hit's value must be "v:" + key. */
static void gm_cb(void *ctx, size_t i, int rc, const mcf_value *v)
{
    gm *g = ctx;
    if (i >= g->n) {
        g->out_of_range++;
        return;
    }
    g->calls[i]++;
    g->rc[i] = rc;
    if (rc == MCF_OK) {
        char want[128];
        val_of(g->keys[i] ? g->keys[i] : "", want, sizeof want);
        size_t wl = strlen(want);
        g->ok[i] = v && v->data && v->len == wl && memcmp(v->data, want, wl) == 0;
        if (v) {
            g->cas[i] = v->cas;
            g->flags[i] = v->flags;
        }
    } else if (v) {
        g->value_on_non_hit++;
    }
}

/* get_multi of keys; checks each callback ran once.  Returns the call's rc. */
static int gm_run(mcf_client *c, gm *g, mcf_get_mode mode, int64_t exptime,
                  const char *const *keys, size_t n)
{
    gm_init(g, keys, n);
    int rc = mcf_get_multi(c, mode, exptime, keys, NULL, n, gm_cb, g);
    size_t wrong_calls = 0;
    for (size_t i = 0; i < n; i++)
        if (g->calls[i] != 1)
            wrong_calls++;
    CHECKF(wrong_calls == 0, "%zu of %zu keys did not get exactly one callback", wrong_calls, n);
    CHECKF(g->out_of_range == 0, "%zu callbacks with an index out of range", g->out_of_range);
    CHECKF(g->value_on_non_hit == 0, "%zu non-hit callbacks with a value", g->value_on_non_hit);
    return rc;
}

/* Single get of a key expected to hold "v:" + key or `want`. */
static int get_eq(mcf_client *c, const char *key, const char *want)
{
    mcf_value v;
    int rc = mcf_get(c, KS(key), &v);
    if (rc != MCF_OK)
        return 0;
    return v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
}

static size_t server_of(mcf_client *c, const char *key)
{
    size_t s = SIZE_MAX;
    int rc = mcf_server_for_key(c, KS(key), &s);
    CHECKF(rc == MCF_OK, "mcf_server_for_key(%s) = %d", key, rc);
    return s;
}

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

typedef struct stats_seen {
    int count;
    char pid[32];
    char maxbytes[32];
    int bad;
} stats_seen;

static void stats_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    stats_seen *s = ctx;
    s->count++;
    if (!name || nl == 0 || !value)
        s->bad++;
    if (nl == 3 && memcmp(name, "pid", 3) == 0)
        snprintf(s->pid, sizeof s->pid, "%.*s", (int)vl, value);
    if (nl == 8 && memcmp(name, "maxbytes", 8) == 0)
        snprintf(s->maxbytes, sizeof s->maxbytes, "%.*s", (int)vl, value);
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

/* Where is key i really, and with what value?  Checks via the server. */
static int mi_on_server(mcf_client *c, mcserver *srv, const char *key, const char *want)
{
    size_t s = server_of(c, key);
    if (s >= 4)
        return 0;
    if (!want)
        return raw_get(&srv[s], key, NULL, NULL, NULL) == 0;
    return raw_has(&srv[s], key, want);
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
    CHECK_RC(mcf_stats(c, 0, "items flush_all", stats_cb, &st), MCF_ERR_ARG);
    CHECK(get_eq(c, "sentinel", "alive"));
    CHECK(raw_has(&srv[0], "sentinel", "alive"));
    CHECKF(raw_stat(&srv[0], NULL, "cmd_flush") == 0, "a flush_all reached the server");
    TEARDOWN(1);
}

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
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* only mcserver_raw could hit it; the library must not */
    if (!mcserver_binary())
        t_skip_all("memcached is not installed");
    const char *proto = getenv("MCF_TEST_PROTOCOL");
    if (proto && strcmp(proto, "meta") == 0)
        test_protocol = MCF_PROTO_META;
    else if (proto && strcmp(proto, "auto") == 0)
        test_protocol = MCF_PROTO_AUTO;
    else if (proto && *proto && strcmp(proto, "text") != 0) {
        printf("FAIL: test_client: MCF_TEST_PROTOCOL=%s is not text, meta or auto\n", proto);
        return 1;
    }
    rawbuf = malloc(RAWBUF_SIZE);
    int rc = t_main(argc, argv);
    free(rawbuf);
    return rc;
}
