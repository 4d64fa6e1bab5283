/* test_tls_basic.c - verified TLS round trips against real memcached -Z
 * (certificates from tests/tls_certs.sh, verified against their CA):
 *   - each spec form (tls:127.0.0.1:P, tls:[::1]:P, tls:localhost:P), values
 *     around the TLS record size (16 KiB) up to memcached's item limit,
 *     checked byte for byte, text and meta;
 *   - several TLS servers (get_multi, multi), a fleet mixing TLS and
 *     plaintext servers, all_servers without the prefix;
 *   - what mcf_server_info_get reports (version, cipher, resumed), session
 *     resumption after a disconnect, the idle check over TLS;
 *   - fork(): the child makes its own TLS connection, the parent keeps its.
 * Every case starts its own servers. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"
#include "tlsfix.h"

/* memcached's default item size limit (-I 1m) less room for the item
 * header and key: the largest value it stores by default. */
#define MAX_ITEM_VALUE ((1u << 20) - 512)
/* Around the 16 KiB TLS record (RFC 8446 §5.1) and beyond. */
static const size_t sizes[] = {1, 16383, 16384, 16385, 100000, MAX_ITEM_VALUE};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* The spec list "tls:a,tls:b,..." (tls: only where tls[i]) of n servers. */
static void list_of(char *out, size_t cap, const mcserver *s, int n, const int *tls)
{
    size_t off = 0;
    out[0] = 0;
    for (int i = 0; i < n && off < cap; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%s%s", i ? "," : "",
                                tls == NULL || tls[i] ? "tls:" : "", s[i].spec);
}

static void stop_all(mcserver *s, int n)
{
    for (int i = 0; i < n; i++)
        mcserver_stop(&s[i]);
}

static int info_of(mcf_client *c, size_t i, mcf_server_info *info)
{
    memset(info, 0, sizeof *info);
    int rc = mcf_server_info_get(c, i, info);
    CHECKF(rc == MCF_OK, "mcf_server_info_get(%zu) = %d", i, rc);
    if (rc != MCF_OK)
        return -1;
    /* Never NULL, so callers may print and compare them. */
    CHECKF(info->tls_version && info->tls_cipher, "server %zu: tls_version %p, tls_cipher %p", i,
           (const void *)info->tls_version, (const void *)info->tls_cipher);
    return info->tls_version && info->tls_cipher ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* One server, each spec form, values of every size                    */
/* ------------------------------------------------------------------ */

static void specs_case(int proto)
{
    mcserver v4, v6;
    if (tls_server_start(&v4, "127.0.0.1", "server", NULL) < 0)
        return;
    if (tls_server_start(&v6, "::1", "server", NULL) < 0) {
        mcserver_stop(&v4);
        return;
    }
    char specs[3][200];
    snprintf(specs[0], sizeof specs[0], "tls:127.0.0.1:%d", v4.port);
    snprintf(specs[1], sizeof specs[1], "tls:[::1]:%d", v6.port);
    /* localhost: ::1 and 127.0.0.1; only 127.0.0.1 listens on this port. */
    snprintf(specs[2], sizeof specs[2], "tls:localhost:%d", v4.port);
    for (int s = 0; s < 3; s++) {
        mcf_client *c = tls_client(specs[s], NULL, proto);
        if (!c)
            continue;
        for (size_t i = 0; i < NSIZES; i++) {
            char key[64];
            snprintf(key, sizeof key, "spec%d:size%zu", s, sizes[i]);
            if (tls_roundtrip(c, key, sizes[i]) < 0)
                printf("INFO: %s: %s: %zu bytes failed\n", t_case_name, specs[s], sizes[i]);
        }
        mcf_server_info info;
        if (info_of(c, 0, &info) == 0) {
            CHECKF(info.tls == 1, "%s: info.tls = %d", specs[s], info.tls);
            CHECKF(info.connected == 1, "%s: not connected after the calls", specs[s]);
            CHECKF(strcmp(info.tls_version, "TLSv1.3") == 0 ||
                       strcmp(info.tls_version, "TLSv1.2") == 0,
                   "%s: tls_version '%s'", specs[s], info.tls_version);
            CHECKF(info.tls_cipher[0] != 0, "%s: tls_cipher empty", specs[s]);
            printf("INFO: %s: %s address=%s %s %s resumed=%d\n", t_case_name, specs[s],
                   info.address, info.tls_version, info.tls_cipher, info.tls_resumed);
        }
        mcf_free(c);
    }
    mcserver_stop(&v4);
    mcserver_stop(&v6);
}

TEST(tls_specs_sizes_text) { specs_case(MCF_PROTO_TEXT); }
TEST(tls_specs_sizes_meta) { specs_case(MCF_PROTO_META); }
TEST(tls_specs_sizes_auto) { specs_case(MCF_PROTO_AUTO); }

/* ------------------------------------------------------------------ */
/* Several servers: get_multi, multi, large values                     */
/* ------------------------------------------------------------------ */

#define FLEET 3
#define FLEET_KEYS 300

static void fleet_roundtrip(mcf_client *c, const char *prefix)
{
    keyset ks;
    ks_make(&ks, FLEET_KEYS, prefix);
    CHECKF(set_keys(c, ks.k, ks.n, 0, 0) == 0, "set_keys: %s", mcf_last_error(c));
    gm g;
    int rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
    CHECKF(rc == MCF_OK, "get_multi = %d (%s): %s", rc, mcf_strerror(rc), mcf_last_error(c));
    size_t ok = 0;
    for (size_t i = 0; i < ks.n; i++)
        ok += g.ok[i] != 0;
    CHECKF(ok == ks.n, "get_multi: %zu of %zu keys with their value", ok, ks.n);
    gm_free(&g);

    /* Large values through mcf_multi: several TLS records per item, all
     * items of a server in one write. */
    enum { BIG = 4, BIG_LEN = 100000 };
    mcf_item it[BIG];
    unsigned char *vals[BIG];
    char keys[BIG][64];
    for (int i = 0; i < BIG; i++) {
        snprintf(keys[i], sizeof keys[i], "%s:big%d", prefix, i);
        vals[i] = malloc(BIG_LEN);
        fill_random(vals[i], BIG_LEN, (uint64_t)i + 7);
        it[i] = (mcf_item){.key = keys[i], .key_len = strlen(keys[i]), .value = vals[i],
                           .value_len = BIG_LEN, .rc = -99};
    }
    rc = mcf_multi(c, MCF_OP_SET, it, BIG, 0);
    CHECKF(rc == MCF_OK, "multi set of %d x %d bytes = %d: %s", BIG, BIG_LEN, rc,
           mcf_last_error(c));
    for (int i = 0; i < BIG; i++) {
        mcf_value v;
        rc = mcf_get(c, KS(keys[i]), &v);
        CHECKF(rc == MCF_OK && v.len == BIG_LEN && memcmp(v.data, vals[i], BIG_LEN) == 0,
               "get %s = %d, %zu bytes: %s", keys[i], rc, rc == MCF_OK ? v.len : 0,
               mcf_last_error(c));
        free(vals[i]);
    }
    ks_free(&ks);
}

static void fleet_case(int proto)
{
    mcserver s[FLEET];
    for (int i = 0; i < FLEET; i++)
        if (tls_server_start(&s[i], i == 1 ? "::1" : "127.0.0.1", "server", NULL) < 0) {
            stop_all(s, i);
            return;
        }
    char list[1024];
    list_of(list, sizeof list, s, FLEET, NULL);
    mcf_client *c = tls_client(list, NULL, proto);
    if (c) {
        fleet_roundtrip(c, "fleet");
        for (size_t i = 0; i < FLEET; i++) {
            mcf_server_info info;
            if (info_of(c, i, &info) == 0)
                CHECKF(info.tls == 1 && info.tls_version[0],
                       "server %zu: tls %d, version '%s' after the calls", i, info.tls,
                       info.tls_version);
        }
        mcf_free(c);
    }
    stop_all(s, FLEET);
}

TEST(tls_fleet_text) { fleet_case(MCF_PROTO_TEXT); }
TEST(tls_fleet_meta) { fleet_case(MCF_PROTO_META); }

/* One write much larger than a TLS record: 2000 sets pipelined to one
 * server, then one get_multi.  (memcached 1.6.18 -Z stalls when a record
 * boundary falls inside a storage request with more requests behind it in
 * the same read: the client must not depend on its luck.) */
static void pipeline_case(int proto)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    mcf_client *c = tls_client(tls_spec(&s), NULL, proto);
    if (c) {
        keyset ks;
        ks_make(&ks, 2000, "pipeline");
        size_t bad = set_keys(c, ks.k, ks.n, 0, 0);
        CHECKF(bad == 0, "multi set: %zu of %zu items not stored: %s", bad, ks.n,
               mcf_last_error(c));
        gm g;
        int rc = gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
        CHECKF(rc == MCF_OK, "get_multi = %d (%s): %s", rc, mcf_strerror(rc), mcf_last_error(c));
        gm_free(&g);
        ks_free(&ks);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_pipeline_text) { pipeline_case(MCF_PROTO_TEXT); }
TEST(tls_pipeline_meta) { pipeline_case(MCF_PROTO_META); }

/* Two TLS and two plaintext servers in one client. */
static void mixed_case(int proto)
{
    mcserver s[4];
    const int tls[4] = {1, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        int r = tls[i] ? tls_server_start(&s[i], "127.0.0.1", "server", NULL)
                       : mcserver_start_tcp(&s[i], "127.0.0.1", NULL);
        if (r < 0) {
            CHECKF(tls[i], "cannot start plaintext memcached");
            stop_all(s, i);
            return;
        }
    }
    char list[1024];
    list_of(list, sizeof list, s, 4, tls);
    mcf_client *c = tls_client(list, NULL, proto);
    if (c) {
        fleet_roundtrip(c, "mixed");
        for (size_t i = 0; i < 4; i++) {
            mcf_server_info info;
            if (info_of(c, i, &info) < 0)
                continue;
            CHECKF(info.tls == tls[i], "server %zu (%s): info.tls = %d", i, info.spec, info.tls);
            if (tls[i]) {
                CHECKF(info.tls_version[0] && info.tls_cipher[0],
                       "TLS server %zu: version '%s' cipher '%s'", i, info.tls_version,
                       info.tls_cipher);
            } else {
                CHECKF(info.tls_version[0] == 0 && info.tls_cipher[0] == 0 &&
                           info.tls_resumed == 0,
                       "plaintext server %zu: version '%s' cipher '%s' resumed %d", i,
                       info.tls_version, info.tls_cipher, info.tls_resumed);
                CHECKF(info.connected == 1, "plaintext server %zu not connected", i);
            }
        }
        mcf_free(c);
    }
    stop_all(s, 4);
}

TEST(tls_mixed_fleet_text) { mixed_case(MCF_PROTO_TEXT); }
TEST(tls_mixed_fleet_meta) { mixed_case(MCF_PROTO_META); }

/* all_servers = 1: every TCP server over TLS without the prefix. */
TEST(tls_all_servers)
{
    mcserver s[2];
    if (tls_server_start(&s[0], "127.0.0.1", "server", NULL) < 0)
        return;
    if (tls_server_start(&s[1], "::1", "server", NULL) < 0) {
        mcserver_stop(&s[0]);
        return;
    }
    const int none[2] = {0, 0};
    char list[512];
    list_of(list, sizeof list, s, 2, none);
    mcf_tls_options o = tls_opts();
    o.all_servers = 1;
    mcf_client *c = tls_client(list, &o, MCF_PROTO_TEXT);
    if (c) {
        fleet_roundtrip(c, "all");
        for (size_t i = 0; i < 2; i++) {
            mcf_server_info info;
            if (info_of(c, i, &info) == 0)
                CHECKF(info.tls == 1 && info.tls_version[0], "server %zu (%s): tls %d '%s'", i,
                       info.spec, info.tls, info.tls_version);
        }
        mcf_free(c);
    }
    stop_all(s, 2);
}

/* min_version 1.3 against memcached (which speaks 1.3): TLSv1.3. */
TEST(tls_min_version_13)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    mcf_tls_options o = tls_opts();
    o.min_version = MCF_TLS_1_3;
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "v13", 10);
        mcf_server_info info;
        if (info_of(c, 0, &info) == 0)
            CHECKF(strcmp(info.tls_version, "TLSv1.3") == 0, "tls_version '%s'",
                   info.tls_version);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

/* ciphersuites reaches OpenSSL: against memcached limited to TLS 1.3
 * (ssl_min_version=3), the one suite asked for is the one negotiated. */
TEST(tls_ciphersuite_chosen)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", "ssl_min_version=3") < 0)
        return;
    mcf_tls_options o = tls_opts();
    o.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "suite", 10);
        mcf_server_info info;
        if (info_of(c, 0, &info) == 0)
            CHECKF(strcmp(info.tls_cipher, "TLS_CHACHA20_POLY1305_SHA256") == 0,
                   "tls_cipher '%s'", info.tls_cipher);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

/* ------------------------------------------------------------------ */
/* Session details, resumption, the idle check                         */
/* ------------------------------------------------------------------ */

/* Nothing open yet: "" and 0; tls says what the spec asked for. */
TEST(tls_info_before_connect)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    char list[300];
    snprintf(list, sizeof list, "%s,127.0.0.1:1", tls_spec(&s));
    mcf_client *c = tls_client(list, NULL, MCF_PROTO_TEXT);
    if (c) {
        mcf_server_info info;
        if (info_of(c, 0, &info) == 0)
            CHECKF(info.tls == 1 && !info.tls_version[0] && !info.tls_cipher[0] &&
                       !info.tls_resumed && !info.connected,
                   "TLS server before connect: tls %d '%s' '%s' %d connected %d", info.tls,
                   info.tls_version, info.tls_cipher, info.tls_resumed, info.connected);
        if (info_of(c, 1, &info) == 0)
            CHECKF(info.tls == 0 && !info.tls_version[0], "plaintext server: tls %d '%s'",
                   info.tls, info.tls_version);
        /* Connected, then disconnected: nothing open, so "" again. */
        CHECK_RC(mcf_connect_server(c, 0), MCF_OK);
        if (info_of(c, 0, &info) == 0)
            CHECKF(info.connected && info.tls_version[0], "connected %d '%s'", info.connected,
                   info.tls_version);
        mcf_disconnect_all(c);
        if (info_of(c, 0, &info) == 0)
            CHECKF(!info.tls_version[0] && !info.tls_cipher[0] && !info.connected,
                   "after mcf_disconnect_all: '%s' '%s' connected %d", info.tls_version,
                   info.tls_cipher, info.connected);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

/* Connect, disconnect, connect: the second handshake resumes the first
 * session.  memcached 1.6.18 issues TLS 1.3 tickets (and TLS 1.2 session
 * tickets) without ssl_session_cache; with it the server also keeps a
 * stateful cache.  Both are tried. */
static void resume_case(const char *ssl_opts)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", ssl_opts) < 0)
        return;
    mcf_client *c = tls_client(tls_spec(&s), NULL, MCF_PROTO_TEXT);
    if (c) {
        mcf_server_info info;
        tls_roundtrip(c, "resume", 100);
        if (info_of(c, 0, &info) == 0)
            CHECKF(info.tls_resumed == 0, "first connection: tls_resumed = %d",
                   info.tls_resumed);
        for (int round = 1; round <= 2; round++) {
            mcf_disconnect_all(c);
            tls_roundtrip(c, "resume", 100);
            if (info_of(c, 0, &info) == 0) {
                CHECKF(info.tls_resumed == 1, "reconnect %d: tls_resumed = %d (%s)", round,
                       info.tls_resumed, info.tls_version);
                printf("INFO: %s: reconnect %d: %s %s resumed=%d connect_ms=%.3f\n",
                       t_case_name, round, info.tls_version, info.tls_cipher,
                       info.tls_resumed, info.connect_ms);
            }
        }
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_resume_tickets) { resume_case(NULL); }
TEST(tls_resume_session_cache) { resume_case("ssl_session_cache"); }

/* A restarted memcached has new ticket keys and an empty cache: the
 * remembered session is refused, and a full handshake follows (no error). */
TEST(tls_resume_after_restart)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", "ssl_session_cache") < 0)
        return;
    mcf_client *c = tls_client(tls_spec(&s), NULL, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "restart", 10);
        mcserver_kill(&s, SIGKILL);
        CHECKF(mcserver_restart(&s) == 0, "restart on port %d failed", s.port);
        /* The first call may meet the dead connection: one retry. */
        mcf_value v;
        int rc = mcf_get(c, KS("restart"), &v);
        if (rc != MCF_MISS)
            printf("INFO: %s: first call after restart = %d: %s\n", t_case_name, rc,
                   mcf_last_error(c));
        tls_roundtrip(c, "restart", 10);
        mcf_server_info info;
        if (info_of(c, 0, &info) == 0)
            printf("INFO: %s: after restart: %s resumed=%d\n", t_case_name, info.tls_version,
                   info.tls_resumed);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

typedef struct stat_one {
    const char *name;
    long long value;
} stat_one;

static void stat_one_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    stat_one *s = ctx;
    char num[32];
    if (nl == strlen(s->name) && memcmp(name, s->name, nl) == 0 && vl < sizeof num) {
        memcpy(num, value, vl);
        num[vl] = 0;
        s->value = atoll(num);
    }
}

/* The server's total_connections, asked through c (over TLS). */
static long long total_connections(mcf_client *c)
{
    stat_one s = {"total_connections", -1};
    int rc = mcf_stats(c, 0, NULL, stat_one_cb, &s);
    CHECKF(rc == MCF_OK, "stats = %d: %s", rc, mcf_last_error(c));
    return s.value;
}

/* A healthy idle TLS connection is kept: TLS 1.3 session tickets arrive
 * after the handshake, so bytes may wait in the socket that are not a
 * stray reply; and calls after a pause (the idle check) reuse it. */
static void idle_case(int connect_first)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    mcf_client *c = tls_client(tls_spec(&s), NULL, MCF_PROTO_TEXT);
    if (c) {
        if (connect_first) {
            int rc = mcf_connect_server(c, 0);
            CHECKF(rc == MCF_OK, "mcf_connect_server = %d: %s", rc, mcf_last_error(c));
        } else {
            tls_roundtrip(c, "idle", 10);
        }
        sleep_ms(20); /* past the idle check's threshold (1 ms) */
        long long before = total_connections(c);
        for (int i = 0; i < 3; i++) {
            sleep_ms(20);
            tls_roundtrip(c, "idle", 10);
        }
        long long after = total_connections(c);
        CHECKF(before > 0 && after == before,
               "total_connections %lld -> %lld: the idle check closed a healthy TLS "
               "connection",
               before, after);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_idle_keeps_connection) { idle_case(0); }
TEST(tls_idle_after_connect_server) { idle_case(1); }

/* ------------------------------------------------------------------ */
/* fork()                                                              */
/* ------------------------------------------------------------------ */

#define FORK_ROUNDS 50
#define CHILD_WAIT_MS 20000

/* ROUNDS set+get of prefix:i; the first failure's message into err. */
static int hammer(mcf_client *c, const char *prefix, char *err, size_t cap)
{
    for (int i = 0; i < FORK_ROUNDS; i++) {
        char key[64], val[96];
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        snprintf(val, sizeof val, "value of %s", key);
        int rc = mcf_set(c, KS(key), val, strlen(val), 0, 0);
        mcf_value v;
        if (rc == MCF_OK)
            rc = mcf_get(c, KS(key), &v);
        if (rc != MCF_OK) {
            snprintf(err, cap, "%s: rc %d (%s): %s", key, rc, mcf_strerror(rc),
                     mcf_last_error(c));
            return -1;
        }
        if (v.len != strlen(val) || memcmp(v.data, val, v.len) != 0) {
            snprintf(err, cap, "%s: wrong value '%.*s'", key, (int)v.len, v.data);
            return -1;
        }
    }
    return 0;
}

static void fork_case(int proto)
{
    mcserver s[2];
    if (tls_server_start(&s[0], "127.0.0.1", "server", NULL) < 0)
        return;
    if (tls_server_start(&s[1], "127.0.0.1", "server", NULL) < 0) {
        mcserver_stop(&s[0]);
        return;
    }
    char list[512];
    list_of(list, sizeof list, s, 2, NULL);
    mcf_client *c = tls_client(list, NULL, proto);
    if (!c) {
        stop_all(s, 2);
        return;
    }
    char err[512] = "";
    CHECKF(hammer(c, "pre", err, sizeof err) == 0, "before fork: %s", err);
    int pfd[2];
    if (pipe(pfd) < 0) {
        t_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        goto out;
    }
    pid_t pid = fork();
    if (pid < 0) {
        t_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        goto out;
    }
    if (pid == 0) {
        close(pfd[0]);
        char msg[600] = "";
        int bad = hammer(c, "child", msg, sizeof msg);
        mcf_server_info info;
        if (!bad && mcf_server_info_get(c, 0, &info) == MCF_OK) {
            if (!info.connected || !info.tls_version || !info.tls_version[0]) {
                snprintf(msg, sizeof msg, "child: server 0 connected %d, tls_version '%s'",
                         info.connected, info.tls_version ? info.tls_version : "(null)");
                bad = 1;
            } else {
                snprintf(msg, sizeof msg, "child: %s resumed=%d", info.tls_version,
                         info.tls_resumed);
            }
        }
        ssize_t w = write(pfd[1], msg, strlen(msg));
        (void)w;
        mcf_free(c);
        _exit(bad ? 1 : 0);
    }
    close(pfd[1]);
    CHECKF(hammer(c, "parent", err, sizeof err) == 0, "parent after fork: %s", err);
    int st = -1;
    for (int waited = 0; waited < CHILD_WAIT_MS; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
        st = -1;
        sleep_ms(10);
    }
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    char msg[600];
    ssize_t n = read(pfd[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = 0;
    close(pfd[0]);
    CHECKF(st == 0, "child: exit status %d: %s", st, msg);
    if (st == 0)
        printf("INFO: %s: %s\n", t_case_name, msg);
    /* The parent's connections were not disturbed by the child's. */
    CHECKF(hammer(c, "parent2", err, sizeof err) == 0, "parent after the child: %s", err);
out:
    mcf_free(c);
    stop_all(s, 2);
}

TEST(tls_fork_text) { fork_case(MCF_PROTO_TEXT); }
TEST(tls_fork_meta) { fork_case(MCF_PROTO_META); }

int main(int argc, char **argv) { return tls_tests_main(argc, argv); }
