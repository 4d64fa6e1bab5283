/* test_meta_features.c - the meta-only calls (mcf_get_ex, mcf_store_ex,
 * mcf_delete_ex, mcf_incr_ex, mcf_decr_ex) against real memcached.
 *
 * Every case starts its own server and checks what the call returned AND
 * what the server holds, through mcserver_raw() (which bypasses mcfast):
 *   - item metadata (TTL, last access, hit-before, no LRU bump, touch);
 *   - stale-while-revalidate with three clients on three threads racing on
 *     one key (exactly one wins, every round), for a missing key (vivify),
 *     a key about to expire (recache) and an invalidated key (md I);
 *   - invalidation by ms with an older CAS, compare-CAS on md/ma/ms;
 *   - ma auto-create;
 *   - refusals that must send nothing (version-gated flags on memcached
 *     1.6.18, the text protocol, flags a call does not take), proved with
 *     the server's own counters ("stats": bytes_read and the per-command
 *     counters) around the refused calls;
 *   - binary keys (space, NUL) with the _ex calls. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"
#include "meta.h" /* mcf_meta_b64_encode: the wire form of binary keys */

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* v holds exactly `want`. */
static int val_is(const mcf_value *v, const char *want)
{
    size_t n = strlen(want);
    return v->len == n && (n == 0 || (v->data && memcmp(v->data, want, n) == 0));
}

static void info_poison(mcf_item_info *info)
{
    memset(info, 0x5a, sizeof *info);
}

/* ------------------------------------------------------------------ */
/* Servers and clients                                                 */
/* ------------------------------------------------------------------ */

static int start_server(mcserver *s)
{
    if (mcserver_start_tcp(s, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return -1;
    }
    return 0;
}

/* SIGKILL: nothing here needs memcached's graceful shutdown. */
static void stop_server(mcserver *s)
{
    mcserver_kill(s, SIGKILL);
}

static mcf_client *client_for(const mcserver *s, int protocol)
{
    mcf_client *c = mcf_new();
    if (!c) {
        t_fail(__FILE__, __LINE__, "mcf_new returned NULL");
        return NULL;
    }
    int rc = mcf_set_servers(c, s->spec);
    if (rc == MCF_OK)
        rc = mcf_set_option(c, MCF_OPT_PROTOCOL, protocol);
    if (rc == MCF_OK)
        rc = mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 3000);
    if (rc != MCF_OK) {
        t_fail(__FILE__, __LINE__, "client setup for %s: %d %s", s->spec, rc, mcf_last_error(c));
        mcf_free(c);
        return NULL;
    }
    return c;
}

#define SERVER_SETUP(PROTO)                                                         \
    mcserver srv;                                                                   \
    if (start_server(&srv) < 0)                                                     \
        return;                                                                     \
    mcf_client *c = client_for(&srv, PROTO);                                        \
    if (!c) {                                                                       \
        stop_server(&srv);                                                          \
        return;                                                                     \
    }
#define SERVER_TEARDOWN()                                                           \
    do {                                                                            \
        mcf_free(c);                                                                \
        stop_server(&srv);                                                          \
    } while (0)

/* ------------------------------------------------------------------ */
/* Raw access to the server (no mcfast involved)                       */
/* ------------------------------------------------------------------ */

/* Sends one meta command (no CRLF in cmd) followed by "mn" and reads up to
 * MN.  line gets the first reply line without CRLF ("VA 3 c5 t99 X",
 * "EN", "HD c5"); val the data block of a VA reply ("" otherwise).
 * 0, or -1 when the server did not answer that way. */
static int raw_meta(const mcserver *s, const char *cmd, char *line, size_t lcap, char *val,
                    size_t vcap)
{
    char req[800];
    static char buf[65536];
    line[0] = 0;
    if (val && vcap)
        val[0] = 0;
    snprintf(req, sizeof req, "%s\r\nmn\r\n", cmd);
    int n = mcserver_raw(s, req, "MN\r\n", buf, sizeof buf);
    if (n < 4 || strcmp(buf + n - 4, "MN\r\n") != 0)
        return -1;
    char *nl = strstr(buf, "\r\n");
    if (!nl || nl == buf + n - 2)
        return -1;
    size_t ll = (size_t)(nl - buf);
    if (ll >= lcap)
        ll = lcap - 1;
    memcpy(line, buf, ll);
    line[ll] = 0;
    if (strncmp(buf, "VA ", 3) == 0 && val && vcap) {
        size_t dl = strtoul(buf + 3, NULL, 10);
        if (nl + 2 + dl + 2 > buf + n)
            return -1;
        if (dl >= vcap)
            dl = vcap - 1;
        memcpy(val, nl + 2, dl);
        val[dl] = 0;
    }
    return 0;
}

/* 1 when the reply line has the bare flag token `tok` ("X", "W", "Z"). */
static int line_has(const char *line, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = strchr(line, ' ');
    while (p) {
        p++;
        if (strncmp(p, tok, tl) == 0 && (p[tl] == ' ' || p[tl] == 0))
            return 1;
        p = strchr(p, ' ');
    }
    return 0;
}

/* The number of flag `letter` in a reply line ("c42" -> 42); 0 and *ok=0
 * when absent. */
static long long line_num(const char *line, char letter, int *ok)
{
    const char *p = strchr(line, ' ');
    *ok = 0;
    while (p) {
        p++;
        if (*p == letter && (p[1] == '-' || (p[1] >= '0' && p[1] <= '9'))) {
            *ok = 1;
            return strtoll(p + 1, NULL, 10);
        }
        p = strchr(p, ' ');
    }
    return 0;
}

/* The server's TTL of a key: -1 never expires, -2 missing, -3 error. */
static long long raw_meta_ttl(const mcserver *s, const char *wire_key_and_flags)
{
    char cmd[600], line[512];
    snprintf(cmd, sizeof cmd, "mg %s t", wire_key_and_flags);
    if (raw_meta(s, cmd, line, sizeof line, NULL, 0) < 0)
        return -3;
    if (strncmp(line, "EN", 2) == 0)
        return -2;
    int ok;
    long long t = line_num(line, 't', &ok);
    return ok ? t : -3;
}

/* 1 when the server holds key (a text key) with exactly this value, 0
 * when it holds another value or none. */
static int raw_meta_has(const mcserver *s, const char *key, const char *want)
{
    char cmd[600], line[512], val[4096];
    snprintf(cmd, sizeof cmd, "mg %s v", key);
    if (raw_meta(s, cmd, line, sizeof line, val, sizeof val) < 0)
        return 0;
    return strncmp(line, "VA ", 3) == 0 && strcmp(val, want) == 0;
}

/* The same through the text protocol's "get", which leaves the meta win
 * token of a stale item alone. */
static int raw_text_has(const mcserver *s, const char *key, const char *want)
{
    char req[600], buf[4096], hdr[700];
    snprintf(req, sizeof req, "get %s\r\n", key);
    int n = mcserver_raw(s, req, "END\r\n", buf, sizeof buf);
    snprintf(hdr, sizeof hdr, "VALUE %s ", key);
    if (n < 0 || strncmp(buf, hdr, strlen(hdr)) != 0)
        return 0;
    char *nl = strstr(buf, "\r\n");
    size_t wl = strlen(want);
    return nl && strncmp(nl + 2, want, wl) == 0 && strcmp(nl + 2 + wl, "\r\nEND\r\n") == 0;
}

/* The server's version as a number (1.6.18 -> 1006018), asked without
 * mcfast (so the client under test learns nothing); 0 if unknown. */
static unsigned raw_version(const mcserver *s, char *str, size_t cap)
{
    char buf[256];
    unsigned a, b, d;
    str[0] = 0;
    if (mcserver_raw(s, "version\r\n", "\r\n", buf, sizeof buf) < 0 ||
        sscanf(buf, "VERSION %u.%u.%u", &a, &b, &d) != 3)
        return 0;
    char *e = strstr(buf, "\r\n");
    if (e)
        *e = 0;
    size_t n = strlen(buf + 8);
    if (n >= cap)
        n = cap - 1;
    memcpy(str, buf + 8, n);
    str[n] = 0;
    return a * 1000000u + b * 1000u + d;
}

static int raw_missing(const mcserver *s, const char *key)
{
    char cmd[600], line[512];
    snprintf(cmd, sizeof cmd, "mg %s v", key);
    return raw_meta(s, cmd, line, sizeof line, NULL, 0) == 0 && strcmp(line, "EN") == 0;
}

/* ---- the server's counters ---- */

static const char *const stat_names[] = {
    "bytes_read",   "cmd_get",       "cmd_set",     "cmd_touch",    "get_hits",
    "get_misses",   "get_expired",   "delete_hits", "delete_misses", "incr_hits",
    "incr_misses",  "decr_hits",     "decr_misses", "cas_hits",     "cas_misses",
    "cas_badval",   "touch_hits",    "touch_misses", "curr_items",  "total_items"};
#define NSTATS (sizeof stat_names / sizeof stat_names[0])

typedef struct snap {
    long long v[NSTATS];
} snap;

/* One "stats": every counter above; -1 for one the server lacks. */
static int take_snap(const mcserver *s, snap *out)
{
    static char buf[65536];
    if (mcserver_raw(s, "stats\r\n", "END\r\n", buf, sizeof buf) < 0)
        return -1;
    for (size_t i = 0; i < NSTATS; i++) {
        char pat[80];
        snprintf(pat, sizeof pat, "STAT %s ", stat_names[i]);
        char *p = strstr(buf, pat);
        out->v[i] = p ? strtoll(p + strlen(pat), NULL, 10) : -1;
    }
    return out->v[0] >= 0 ? 0 : -1;
}

/* What one "stats" request adds to bytes_read ("stats\r\n": 7). */
static long long snap_cost(const mcserver *s)
{
    snap a, b;
    if (take_snap(s, &a) < 0 || take_snap(s, &b) < 0)
        return -1;
    return b.v[0] - a.v[0];
}

/* Between snapshots a and b (b taken after the refused calls and one
 * synchronising mcf_version, i.e. a "version\r\n"), the server must have
 * read exactly `extra` bytes besides b's own request, and no command
 * counter may have moved. */
static void check_nothing_sent(const snap *a, const snap *b, long long cost, long long extra,
                               const char *what, int line)
{
    long long got = b->v[0] - a->v[0] - cost;
    if (got != extra)
        t_fail(__FILE__, line, "%s: the server read %lld bytes, want %lld", what, got, extra);
    for (size_t i = 1; i < NSTATS; i++)
        if (a->v[i] != b->v[i])
            t_fail(__FILE__, line, "%s: server counter %s moved from %lld to %lld", what,
                   stat_names[i], a->v[i], b->v[i]);
}

/* include/mcfast.h: NEW_CAS and REMOVE_VALUE need memcached >= 1.6.27. */
#define GATED_SINCE 1006027u

/* A call that needs a reply on the connection the refused calls would have
 * used: everything they might have written is read by the server by the
 * time it returns.  "version\r\n" is 9 bytes. */
#define SYNC_BYTES 9
static void sync_conn(mcf_client *c)
{
    char buf[64];
    int rc = mcf_version(c, 0, buf, sizeof buf);
    CHECKF(rc == MCF_OK, "mcf_version (sync): %d %s", rc, mcf_last_error(c));
}

/* ------------------------------------------------------------------ */
/* Three clients on three threads, racing on one key                   */
/* ------------------------------------------------------------------ */

#define NRACERS 3

typedef struct racer_out {
    int rc;
    size_t len;
    char val[64];
    uint32_t flags;
    uint64_t cas;
    mcf_item_info info;
    char err[256];
} racer_out;

typedef struct race {
    pthread_barrier_t start, done;
    int quit;
    const char *key;
    size_t klen;
    mcf_meta_opts opts;
    mcf_client *c[NRACERS];
    racer_out out[NRACERS];
    pthread_t th[NRACERS];
    int idx[NRACERS];
} race;

static race g_race;

static void *racer_main(void *p)
{
    int i = *(int *)p;
    race *r = &g_race;
    for (;;) {
        pthread_barrier_wait(&r->start);
        if (r->quit)
            break;
        racer_out *o = &r->out[i];
        memset(o, 0, sizeof *o);
        info_poison(&o->info);
        mcf_value v;
        o->rc = mcf_get_ex(r->c[i], r->key, r->klen, &r->opts, &v, &o->info);
        if (o->rc == MCF_OK) {
            o->len = v.len;
            memcpy(o->val, v.data, v.len < sizeof o->val - 1 ? v.len : sizeof o->val - 1);
            o->flags = v.flags;
            o->cas = v.cas;
        } else {
            snprintf(o->err, sizeof o->err, "%s", mcf_last_error(r->c[i]));
        }
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

/* Every racer runs mcf_get_ex(key, opts) at once (released together by a
 * barrier); returns when all are done. */
static void race_run(const char *key, const mcf_meta_opts *opts)
{
    g_race.key = key;
    g_race.klen = strlen(key);
    g_race.opts = *opts;
    pthread_barrier_wait(&g_race.start);
    pthread_barrier_wait(&g_race.done);
}

/* Three clients, each connected (a get_ex of a missing key: MCF_MISS),
 * then three threads waiting for race_run(). */
static int race_start(const mcserver *s)
{
    memset(&g_race, 0, sizeof g_race);
    for (int i = 0; i < NRACERS; i++) {
        g_race.c[i] = client_for(s, MCF_PROTO_META);
        if (!g_race.c[i]) {
            for (int j = 0; j < i; j++)
                mcf_free(g_race.c[j]);
            return -1;
        }
    }
    if (pthread_barrier_init(&g_race.start, NULL, NRACERS + 1) != 0 ||
        pthread_barrier_init(&g_race.done, NULL, NRACERS + 1) != 0) {
        printf("FAIL: %s: pthread_barrier_init failed\n", t_case_name);
        exit(1);
    }
    for (int i = 0; i < NRACERS; i++) {
        g_race.idx[i] = i;
        if (pthread_create(&g_race.th[i], NULL, racer_main, &g_race.idx[i]) != 0) {
            /* the others wait on a barrier that can never fill */
            printf("FAIL: %s: pthread_create failed\n", t_case_name);
            exit(1);
        }
    }
    mcf_meta_opts none = {0};
    race_run("race:warmup", &none);
    for (int i = 0; i < NRACERS; i++)
        CHECKF(g_race.out[i].rc == MCF_MISS, "warm-up get_ex on racer %d: %d %s", i,
               g_race.out[i].rc, g_race.out[i].err);
    return 0;
}

static void race_stop(void)
{
    g_race.quit = 1;
    pthread_barrier_wait(&g_race.start);
    for (int i = 0; i < NRACERS; i++) {
        pthread_join(g_race.th[i], NULL);
        mcf_free(g_race.c[i]);
    }
    pthread_barrier_destroy(&g_race.start);
    pthread_barrier_destroy(&g_race.done);
}

/* The racers' outcomes, for failure messages. */
static const char *race_dump(void)
{
    static char buf[1024];
    size_t off = 0;
    for (int i = 0; i < NRACERS && off < sizeof buf; i++) {
        const racer_out *o = &g_race.out[i];
        off += (size_t)snprintf(buf + off, sizeof buf - off,
                                "[%d: rc %d len %zu '%s' win %d won %d stale %d ttl %lld%s%s] ", i,
                                o->rc, o->len, o->val, o->info.win, o->info.won, o->info.stale,
                                (long long)o->info.ttl, o->err[0] ? " err " : "", o->err);
    }
    return buf;
}

/* The number of racers with info.win; *winner is the last of them (-1). */
static int race_winners(int *winner)
{
    int n = 0;
    *winner = -1;
    for (int i = 0; i < NRACERS; i++)
        if (g_race.out[i].info.win) {
            n++;
            *winner = i;
        }
    return n;
}

static int out_is(const racer_out *o, const char *want)
{
    return o->len == strlen(want) && memcmp(o->val, want, o->len) == 0;
}

/* ------------------------------------------------------------------ */
/* 1. get_ex metadata                                                  */
/* ------------------------------------------------------------------ */

TEST(get_ex_metadata)
{
    SERVER_SETUP(MCF_PROTO_META);
    mcf_value v;
    mcf_item_info info;
    CHECK_RC(mcf_set(c, KS("md:k"), "hello", 5, 9, 1000), MCF_OK);

    /* TTL, CAS as mcf_gets, and every field not asked for is 0 */
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:k"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
             MCF_OK);
    CHECK(val_is(&v, "hello") && v.flags == 9 && v.cas != 0);
    uint64_t cas = v.cas;
    CHECKF(info.ttl >= 990 && info.ttl <= 1000, "ttl %lld", (long long)info.ttl);
    CHECKF(info.last_access == 0 && info.hit_before == 0 && info.win == 0 && info.won == 0 &&
               info.stale == 0,
           "fields not asked for: la %llu hit %d win %d won %d stale %d",
           (unsigned long long)info.last_access, info.hit_before, info.win, info.won, info.stale);
    CHECK_RC(mcf_gets(c, KS("md:k"), &v), MCF_OK);
    CHECKF(v.cas == cas, "gets cas %llu, get_ex cas %llu", (unsigned long long)v.cas,
           (unsigned long long)cas);

    /* opts and info may be NULL: a plain get */
    CHECK_RC(mcf_get_ex(c, KS("md:k"), NULL, &v, NULL), MCF_OK);
    CHECK(val_is(&v, "hello") && v.flags == 9 && v.cas == cas);

    /* a key that never expires */
    CHECK_RC(mcf_set(c, KS("md:forever"), "f", 1, 0, 0), MCF_OK);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:forever"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v,
                        &info),
             MCF_OK);
    CHECKF(info.ttl == -1, "ttl %lld", (long long)info.ttl);

    /* HIT_BEFORE and NO_BUMP: a NO_BUMP read does not count as a hit */
    const mcf_meta_opts hb = {.flags = MCF_META_GET_HIT_BEFORE};
    const mcf_meta_opts hb_nb = {.flags = MCF_META_GET_HIT_BEFORE | MCF_META_NO_BUMP};
    CHECK_RC(mcf_set(c, KS("md:nb"), "nb", 2, 0, 0), MCF_OK);
    for (int i = 0; i < 2; i++) {
        info_poison(&info);
        CHECK_RC(mcf_get_ex(c, KS("md:nb"), &hb_nb, &v, &info), MCF_OK);
        CHECK(val_is(&v, "nb"));
        CHECKF(info.hit_before == 0, "NO_BUMP read %d: hit_before %d", i, info.hit_before);
    }
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:nb"), &hb, &v, &info), MCF_OK);
    CHECKF(info.hit_before == 0, "first bumping read after NO_BUMP reads: hit_before %d",
           info.hit_before);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:nb"), &hb, &v, &info), MCF_OK);
    CHECKF(info.hit_before == 1, "second bumping read: hit_before %d", info.hit_before);
    CHECKF(info.ttl == 0 && info.last_access == 0, "not asked: ttl %lld la %llu",
           (long long)info.ttl, (unsigned long long)info.last_access);

    /* LAST_ACCESS: seconds since the item was last read */
    CHECK_RC(mcf_set(c, KS("md:la"), "la", 2, 0, 0), MCF_OK);
    const mcf_meta_opts la = {.flags = MCF_META_GET_LAST_ACCESS | MCF_META_NO_BUMP};
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:la"), &la, &v, &info), MCF_OK);
    CHECKF(info.last_access <= 1, "fresh item: last_access %llu",
           (unsigned long long)info.last_access);
    sleep_ms(2200);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:la"), &la, &v, &info), MCF_OK);
    CHECKF(info.last_access >= 1 && info.last_access <= 5, "after 2.2 s: last_access %llu",
           (unsigned long long)info.last_access);
    CHECK(val_is(&v, "la"));

    /* SET_TTL: get-and-touch; a following get_ex sees the new TTL */
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:k"), &(mcf_meta_opts){.flags = MCF_META_SET_TTL, .ttl = 500},
                        &v, &info),
             MCF_OK);
    CHECK(val_is(&v, "hello") && v.flags == 9);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:k"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
             MCF_OK);
    CHECKF(info.ttl >= 490 && info.ttl <= 500, "ttl after touch to 500: %lld",
           (long long)info.ttl);
    long long t = raw_meta_ttl(&srv, "md:k");
    CHECKF(t >= 490 && t <= 500, "server ttl after touch to 500: %lld", t);

    /* misses */
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:missing"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v,
                        &info),
             MCF_MISS);
    CHECK(v.data == NULL && v.len == 0);
    CHECKF(info.win == 0 && info.won == 0 && info.stale == 0 && info.ttl == 0,
           "miss: win %d won %d stale %d ttl %lld", info.win, info.won, info.stale,
           (long long)info.ttl);
    CHECK_RC(mcf_get_ex(c, KS("md:missing"),
                        &(mcf_meta_opts){.flags = MCF_META_SET_TTL, .ttl = 100}, &v, &info),
             MCF_MISS);
    CHECK(raw_missing(&srv, "md:missing"));

    /* VIVIFY on one client: the stub is created, this caller wins, the next is told */
    const mcf_meta_opts viv = {.flags = MCF_META_VIVIFY | MCF_META_GET_TTL, .vivify_ttl = 30};
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:viv"), &viv, &v, &info), MCF_OK);
    CHECKF(v.len == 0 && info.win == 1 && info.won == 0 && info.stale == 0,
           "vivify: len %zu win %d won %d stale %d", v.len, info.win, info.won, info.stale);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("md:viv"), &viv, &v, &info), MCF_OK);
    CHECKF(v.len == 0 && info.win == 0 && info.won == 1 && info.ttl > 25 && info.ttl <= 30,
           "vivify again: len %zu win %d won %d ttl %lld", v.len, info.win, info.won,
           (long long)info.ttl);
    char line[256], val[64];
    CHECK(raw_meta(&srv, "mg md:viv v t", line, sizeof line, val, sizeof val) == 0 &&
          strncmp(line, "VA 0 ", 5) == 0 && line_has(line, "Z"));
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 2. stale-while-revalidate: three clients race                       */
/* ------------------------------------------------------------------ */

#define SWR_ROUNDS 20

TEST(swr_vivify_race)
{
    mcserver srv;
    if (start_server(&srv) < 0)
        return;
    if (race_start(&srv) < 0) {
        stop_server(&srv);
        return;
    }
    const mcf_meta_opts o = {.flags = MCF_META_VIVIFY | MCF_META_RECACHE, .vivify_ttl = 30,
                             .recache_ttl = 30};
    for (int round = 0; round < SWR_ROUNDS && !t_case_failed; round++) {
        char key[32], want[32];
        snprintf(key, sizeof key, "swr:%d", round);
        snprintf(want, sizeof want, "computed-%d", round);
        race_run(key, &o);
        int w, nw = race_winners(&w);
        CHECKF(nw == 1, "round %d: %d winners: %s", round, nw, race_dump());
        for (int i = 0; i < NRACERS; i++) {
            const racer_out *r = &g_race.out[i];
            int ok = r->rc == MCF_OK && r->len == 0 && r->info.stale == 0 &&
                     (i == w ? r->info.won == 0 : r->info.won == 1 && r->info.win == 0);
            CHECKF(ok, "round %d racer %d: %s", round, i, race_dump());
        }
        if (w < 0)
            break;
        /* the winner computes and stores the value */
        CHECK_RC(mcf_set(g_race.c[w], KS(key), want, strlen(want), 5, 300), MCF_OK);
        race_run(key, &o);
        for (int i = 0; i < NRACERS; i++) {
            const racer_out *r = &g_race.out[i];
            CHECKF(r->rc == MCF_OK && out_is(r, want) && r->flags == 5 && r->info.win == 0 &&
                       r->info.won == 0 && r->info.stale == 0,
                   "round %d after the store, racer %d: %s", round, i, race_dump());
        }
        CHECKF(raw_meta_has(&srv, key, want), "round %d: the server does not hold '%s'", round, want);
    }
    race_stop();
    stop_server(&srv);
}

TEST(swr_recache_race)
{
    mcserver srv;
    if (start_server(&srv) < 0)
        return;
    mcf_client *c = client_for(&srv, MCF_PROTO_META);
    if (!c || race_start(&srv) < 0) {
        mcf_free(c);
        stop_server(&srv);
        return;
    }
    const mcf_meta_opts o = {.flags = MCF_META_RECACHE | MCF_META_GET_TTL, .recache_ttl = 200};
    for (int round = 0; round < 5 && !t_case_failed; round++) {
        char key[32];
        snprintf(key, sizeof key, "recache:%d", round);
        CHECK_RC(mcf_set(c, KS(key), "old", 3, 0, 100), MCF_OK);
        race_run(key, &o);
        int w, nw = race_winners(&w);
        CHECKF(nw == 1, "round %d: %d winners: %s", round, nw, race_dump());
        for (int i = 0; i < NRACERS; i++) {
            const racer_out *r = &g_race.out[i];
            /* the TTL left (100) is below 200: one wins, the others still get the value */
            int ok = r->rc == MCF_OK && out_is(r, "old") && r->info.stale == 0 &&
                     r->info.ttl >= 90 && r->info.ttl <= 100 &&
                     (i == w ? r->info.won == 0 : r->info.won == 1 && r->info.win == 0);
            CHECKF(ok, "round %d racer %d: %s", round, i, race_dump());
        }
        if (w < 0)
            break;
        CHECK_RC(mcf_set(g_race.c[w], KS(key), "new", 3, 0, 1000), MCF_OK);
        race_run(key, &o);
        for (int i = 0; i < NRACERS; i++) {
            const racer_out *r = &g_race.out[i];
            CHECKF(r->rc == MCF_OK && out_is(r, "new") && r->info.win == 0 && r->info.won == 0 &&
                       r->info.ttl >= 990 && r->info.ttl <= 1000,
                   "round %d after the store, racer %d: %s", round, i, race_dump());
        }
    }
    race_stop();
    mcf_free(c);
    stop_server(&srv);
}

/* ------------------------------------------------------------------ */
/* 3. md: mark stale, compare-CAS                                      */
/* ------------------------------------------------------------------ */

TEST(delete_ex_invalidate)
{
    mcserver srv;
    if (start_server(&srv) < 0)
        return;
    mcf_client *c = client_for(&srv, MCF_PROTO_META);
    if (!c || race_start(&srv) < 0) {
        mcf_free(c);
        stop_server(&srv);
        return;
    }
    mcf_value v;
    mcf_item_info info;
    CHECK_RC(mcf_set(c, KS("st:k"), "old", 3, 6, 1000), MCF_OK);
    CHECK_RC(mcf_gets(c, KS("st:k"), &v), MCF_OK);
    uint64_t cas0 = v.cas;

    /* compare-CAS mismatch: EXISTS, nothing changes */
    CHECK_RC(mcf_delete_ex(c, KS("st:k"),
                           &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = cas0 + 1000}),
             MCF_EXISTS);
    CHECK_RC(mcf_delete_ex(c, KS("st:k"),
                           &(mcf_meta_opts){.flags = MCF_META_INVALIDATE | MCF_META_COMPARE_CAS,
                                            .cas = cas0 + 1000}),
             MCF_EXISTS);
    char line[256], val[64];
    CHECK(raw_meta(&srv, "mg st:k v c t", line, sizeof line, val, sizeof val) == 0);
    int ok;
    CHECKF(strcmp(val, "old") == 0 && !line_has(line, "X") &&
               (uint64_t)line_num(line, 'c', &ok) == cas0,
           "after refused deletes: %s / %s", line, val);

    /* mark stale with a new TTL: still readable, stale, new CAS */
    CHECK_RC(mcf_delete_ex(c, KS("st:k"),
                           &(mcf_meta_opts){.flags = MCF_META_INVALIDATE | MCF_META_SET_TTL,
                                            .ttl = 30}),
             MCF_OK);
    /* (a text get: an mg would take the win token before the readers below) */
    CHECK(raw_text_has(&srv, "st:k", "old"));

    /* the readers after it: all get the old value marked stale, exactly one wins */
    const mcf_meta_opts o = {.flags = MCF_META_GET_TTL};
    race_run("st:k", &o);
    int w, nw = race_winners(&w);
    CHECKF(nw == 1, "%d winners among readers of a stale item: %s", nw, race_dump());
    for (int i = 0; i < NRACERS; i++) {
        const racer_out *r = &g_race.out[i];
        CHECKF(r->rc == MCF_OK && out_is(r, "old") && r->flags == 6 && r->info.stale == 1 &&
                   r->info.ttl > 25 && r->info.ttl <= 30 && r->cas != cas0 && r->cas != 0 &&
                   (i == w ? r->info.won == 0 : r->info.won == 1),
               "racer %d: %s", i, race_dump());
    }
    /* one more reader: stale, and told that someone else won */
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("st:k"), &o, &v, &info), MCF_OK);
    CHECKF(val_is(&v, "old") && info.stale == 1 && info.win == 0 && info.won == 1,
           "late reader: stale %d win %d won %d", info.stale, info.win, info.won);
    uint64_t cas1 = v.cas;
    long long t = raw_meta_ttl(&srv, "st:k");
    CHECKF(t > 25 && t <= 30, "server ttl after md I T30: %lld", t);

    /* the winner stores the new value: fresh again */
    if (w >= 0)
        CHECK_RC(mcf_set(g_race.c[w], KS("st:k"), "new", 3, 6, 1000), MCF_OK);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("st:k"), &o, &v, &info), MCF_OK);
    CHECKF(val_is(&v, "new") && info.stale == 0 && info.win == 0 && info.won == 0 &&
               info.ttl > 990,
           "after the store: stale %d win %d won %d ttl %lld", info.stale, info.win, info.won,
           (long long)info.ttl);
    CHECK(v.cas != cas1);

    /* compare-CAS match: deleted for real */
    CHECK_RC(mcf_delete_ex(c, KS("st:k"),
                           &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = v.cas}),
             MCF_OK);
    CHECK(raw_missing(&srv, "st:k"));
    CHECK_RC(mcf_get_ex(c, KS("st:k"), NULL, &v, NULL), MCF_MISS);

    /* missing keys */
    CHECK_RC(mcf_delete_ex(c, KS("st:k"), NULL), MCF_NOT_FOUND);
    CHECK_RC(mcf_delete_ex(c, KS("st:none"), &(mcf_meta_opts){.flags = MCF_META_INVALIDATE}),
             MCF_NOT_FOUND);
    CHECK(raw_missing(&srv, "st:none"));

    /* no options: a plain delete */
    CHECK_RC(mcf_set(c, KS("st:plain"), "p", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_delete_ex(c, KS("st:plain"), NULL), MCF_OK);
    CHECK(raw_missing(&srv, "st:plain"));

    race_stop();
    mcf_free(c);
    stop_server(&srv);
}

/* ------------------------------------------------------------------ */
/* 4. ms: invalidate with an older CAS, info->cas                      */
/* ------------------------------------------------------------------ */

TEST(store_ex_invalidate_and_cas)
{
    SERVER_SETUP(MCF_PROTO_META);
    mcf_value v;
    mcf_item_info info;
    char line[256], val[64];
    int ok;

    /* info->cas is the CAS the item then has */
    info_poison(&info);
    CHECK_RC(mcf_store_ex(c, MCF_SET, KS("ms:k"), "v1", 2, 7, 100, 0, NULL, &info), MCF_OK);
    CHECKF(info.win == 0 && info.won == 0 && info.stale == 0 && info.ttl == 0 &&
               info.last_access == 0 && info.hit_before == 0,
           "store info: win %d won %d stale %d ttl %lld", info.win, info.won, info.stale,
           (long long)info.ttl);
    uint64_t cas1 = info.cas;
    CHECK_RC(mcf_gets(c, KS("ms:k"), &v), MCF_OK);
    CHECKF(val_is(&v, "v1") && v.flags == 7 && v.cas == cas1 && cas1 != 0,
           "gets cas %llu, store_ex info.cas %llu", (unsigned long long)v.cas,
           (unsigned long long)cas1);
    long long t = raw_meta_ttl(&srv, "ms:k");
    CHECKF(t >= 95 && t <= 100, "server ttl %lld", t);

    CHECK_RC(mcf_store_ex(c, MCF_SET, KS("ms:k"), "v2", 2, 7, 100, 0, NULL, &info), MCF_OK);
    uint64_t cas2 = info.cas;
    CHECK(cas2 != 0 && cas2 != cas1);

    /* an older CAS without INVALIDATE: EXISTS, nothing changes */
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:k"), "vx", 2, 7, 100, cas1, NULL, &info),
             MCF_EXISTS);
    CHECK(raw_meta_has(&srv, "ms:k", "v2"));

    /* an older CAS with INVALIDATE: stored, but stale */
    const mcf_meta_opts inval = {.flags = MCF_META_INVALIDATE};
    info_poison(&info);
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:k"), "v3", 2, 7, 100, cas1, &inval, &info), MCF_OK);
    uint64_t cas3 = info.cas;
    CHECK(cas3 != 0 && cas3 != cas2);
    CHECK(raw_meta(&srv, "mg ms:k v c", line, sizeof line, val, sizeof val) == 0);
    CHECKF(strcmp(val, "v3") == 0 && line_has(line, "X") &&
               (uint64_t)line_num(line, 'c', &ok) == cas3,
           "server after ms I with an older CAS: %s / %s (info.cas %llu)", line, val,
           (unsigned long long)cas3);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("ms:k"), NULL, &v, &info), MCF_OK);
    CHECKF(val_is(&v, "v3") && v.cas == cas3 && info.stale == 1,
           "get_ex after the invalidating store: stale %d cas %llu", info.stale,
           (unsigned long long)v.cas);
    /* the first reader of a stale item wins (the raw mg above was it), the next is told */
    CHECKF(info.win == 0 && info.won == 1, "reader after the raw one: win %d won %d", info.win,
           info.won);

    /* again with an older CAS: stored, and the item stays stale */
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:k"), "v3b", 3, 7, 100, cas1, &inval, &info), MCF_OK);
    uint64_t cas3b = info.cas;
    CHECK(raw_meta(&srv, "mg ms:k v c", line, sizeof line, val, sizeof val) == 0);
    CHECKF(strcmp(val, "v3b") == 0 && line_has(line, "X") &&
               (uint64_t)line_num(line, 'c', &ok) == cas3b,
           "server after a second ms I: %s / %s", line, val);

    /* the current CAS, no INVALIDATE: stored and no longer stale */
    info_poison(&info);
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:k"), "v4", 2, 8, 200, cas3b, NULL, &info), MCF_OK);
    uint64_t cas4 = info.cas;
    CHECK_RC(mcf_gets(c, KS("ms:k"), &v), MCF_OK);
    CHECKF(val_is(&v, "v4") && v.flags == 8 && v.cas == cas4 && cas4 != cas3b,
           "gets after the CAS store: cas %llu, info.cas %llu", (unsigned long long)v.cas,
           (unsigned long long)cas4);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("ms:k"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
             MCF_OK);
    CHECKF(val_is(&v, "v4") && info.stale == 0 && info.win == 0 && info.won == 0 &&
               info.ttl > 190 && info.ttl <= 200,
           "after the CAS store: stale %d win %d won %d ttl %lld", info.stale, info.win, info.won,
           (long long)info.ttl);

    /* the old CAS once more, without INVALIDATE: EXISTS */
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:k"), "v5", 2, 7, 100, cas1, NULL, &info),
             MCF_EXISTS);
    CHECK(raw_meta_has(&srv, "ms:k", "v4"));

    /* CAS on a missing key; the other modes */
    CHECK_RC(mcf_store_ex(c, MCF_CAS, KS("ms:none"), "x", 1, 0, 0, cas4, NULL, &info),
             MCF_NOT_FOUND);
    CHECK(raw_missing(&srv, "ms:none"));
    CHECK_RC(mcf_store_ex(c, MCF_ADD, KS("ms:k"), "add", 3, 0, 0, 0, NULL, &info),
             MCF_NOT_STORED);
    CHECK_RC(mcf_store_ex(c, MCF_REPLACE, KS("ms:none"), "rep", 3, 0, 0, 0, NULL, NULL),
             MCF_NOT_STORED);
    CHECK_RC(mcf_store_ex(c, MCF_APPEND, KS("ms:k"), "+", 1, 0, 0, 0, NULL, &info), MCF_OK);
    CHECK_RC(mcf_gets(c, KS("ms:k"), &v), MCF_OK);
    CHECKF(val_is(&v, "v4+") && v.cas == info.cas, "after append: cas %llu, info.cas %llu",
           (unsigned long long)v.cas, (unsigned long long)info.cas);
    CHECK_RC(mcf_store_ex(c, MCF_ADD, KS("ms:new"), "a", 1, 3, 0, 0, NULL, &info), MCF_OK);
    CHECK(raw_meta_has(&srv, "ms:new", "a"));
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 5. ma: auto-create, compare-CAS, TTL                                */
/* ------------------------------------------------------------------ */

TEST(incr_ex_auto_create)
{
    SERVER_SETUP(MCF_PROTO_META);
    mcf_value v;
    mcf_item_info info;
    uint64_t nv;
    const mcf_meta_opts viv = {.flags = MCF_META_VIVIFY | MCF_META_GET_TTL, .vivify_ttl = 100,
                               .initial = 5};

    /* a miss with VIVIFY creates the item with the initial value */
    nv = 0;
    info_poison(&info);
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 1, &viv, &nv, &info), MCF_OK);
    CHECKF(nv == 5, "created: %" PRIu64, nv);
    CHECKF(info.ttl >= 95 && info.ttl <= 100 && info.cas != 0 && info.win == 0 &&
               info.stale == 0,
           "created: ttl %lld cas %llu", (long long)info.ttl, (unsigned long long)info.cas);
    CHECK(raw_meta_has(&srv, "ma:cnt", "5"));
    nv = 0;
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 1, &viv, &nv, &info), MCF_OK);
    CHECKF(nv == 6, "again: %" PRIu64, nv);
    CHECKF(info.ttl >= 95 && info.ttl <= 100, "ttl %lld", (long long)info.ttl);
    CHECK_RC(mcf_gets(c, KS("ma:cnt"), &v), MCF_OK);
    CHECKF(val_is(&v, "6") && v.cas == info.cas, "gets cas %llu, incr_ex info.cas %llu",
           (unsigned long long)v.cas, (unsigned long long)info.cas);

    nv = 0;
    CHECK_RC(mcf_decr_ex(c, KS("ma:cnt"), 2, &viv, &nv, &info), MCF_OK);
    CHECKF(nv == 4, "decr: %" PRIu64, nv);
    nv = 99;
    CHECK_RC(mcf_decr_ex(c, KS("ma:cnt"), 10, NULL, &nv, NULL), MCF_OK);
    CHECKF(nv == 0, "decr stops at 0: %" PRIu64, nv);
    CHECK(raw_meta_has(&srv, "ma:cnt", "0"));

    /* decr with VIVIFY on a miss creates too */
    nv = 0;
    CHECK_RC(mcf_decr_ex(c, KS("ma:down"), 1,
                         &(mcf_meta_opts){.flags = MCF_META_VIVIFY, .vivify_ttl = 0,
                                          .initial = 10},
                         &nv, &info),
             MCF_OK);
    CHECKF(nv == 10, "decr created: %" PRIu64, nv);
    CHECK(raw_meta_ttl(&srv, "ma:down") == -1);

    /* without VIVIFY a miss is NOT_FOUND and nothing is created */
    CHECK_RC(mcf_incr_ex(c, KS("ma:none"), 1, NULL, &nv, &info), MCF_NOT_FOUND);
    CHECK_RC(mcf_incr_ex(c, KS("ma:none"), 1, &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &nv,
                         &info),
             MCF_NOT_FOUND);
    CHECK_RC(mcf_decr_ex(c, KS("ma:none"), 1, NULL, &nv, NULL), MCF_NOT_FOUND);
    CHECK(raw_missing(&srv, "ma:none"));

    /* compare-CAS */
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 1, NULL, &nv, &info), MCF_OK);
    uint64_t cas = info.cas;
    CHECK(nv == 1 && cas != 0);
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 1,
                         &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = cas + 1000}, &nv,
                         &info),
             MCF_EXISTS);
    CHECK_RC(mcf_decr_ex(c, KS("ma:cnt"), 1,
                         &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = cas + 1000}, &nv,
                         &info),
             MCF_EXISTS);
    CHECK(raw_meta_has(&srv, "ma:cnt", "1"));
    nv = 0;
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 10,
                         &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = cas}, &nv, &info),
             MCF_OK);
    CHECKF(nv == 11 && info.cas != cas, "compare-CAS match: %" PRIu64, nv);

    /* SET_TTL on success, GET_TTL reports it */
    nv = 0;
    info_poison(&info);
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 1,
                         &(mcf_meta_opts){.flags = MCF_META_SET_TTL | MCF_META_GET_TTL, .ttl = 50},
                         &nv, &info),
             MCF_OK);
    CHECKF(nv == 12 && info.ttl > 45 && info.ttl <= 50, "touch: %" PRIu64 " ttl %lld", nv,
           (long long)info.ttl);
    long long t = raw_meta_ttl(&srv, "ma:cnt");
    CHECKF(t > 45 && t <= 50, "server ttl %lld", t);

    /* not a number: the server's CLIENT_ERROR; the connection goes on */
    CHECK_RC(mcf_set(c, KS("ma:txt"), "abc", 3, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr_ex(c, KS("ma:txt"), 1, NULL, &nv, NULL), MCF_ERR_CLIENT);
    CHECK_RC(mcf_get(c, KS("ma:txt"), &v), MCF_OK);
    CHECK(val_is(&v, "abc"));

    /* new_value and info may be NULL */
    CHECK_RC(mcf_incr_ex(c, KS("ma:cnt"), 8, NULL, NULL, NULL), MCF_OK);
    CHECK(raw_meta_has(&srv, "ma:cnt", "20"));
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 6. version-gated flags on memcached 1.6.18: refused, nothing sent   */
/* ------------------------------------------------------------------ */

static void check_gate_msg(mcf_client *c, const char *vers, const char *what)
{
    const char *m = mcf_last_error(c);
    char want[64];
    snprintf(want, sizeof want, "(version %s)", vers);
    CHECKF(contains(m, "not supported by server") && contains(m, want), "%s: message '%s'", what,
           m);
}

TEST(version_gated_flags_refused)
{
    SERVER_SETUP(MCF_PROTO_META);
    mcf_value v;
    mcf_item_info info;
    uint64_t nv = 77;
    char vers[64];
    unsigned ver = raw_version(&srv, vers, sizeof vers);
    if (ver == 0 || ver >= GATED_SINCE) {
        char why[128];
        snprintf(why, sizeof why, "memcached %s has the gated flags (E, md x)", vers);
        t_skip_case(why);
        SERVER_TEARDOWN();
        return;
    }
    CHECK_RC(mcf_set(c, KS("vg:k"), "orig", 4, 4, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("vg:n"), "10", 2, 0, 0), MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("vg:k"), NULL, &v, NULL), MCF_OK); /* the connection is meta */
    char k_before[256], k_val[64], n_before[256], n_val[64], line[256], val[64];
    CHECK(raw_meta(&srv, "mg vg:k v c f", k_before, sizeof k_before, k_val, sizeof k_val) == 0);
    CHECK(raw_meta(&srv, "mg vg:n v c f", n_before, sizeof n_before, n_val, sizeof n_val) == 0);
    long long cost = snap_cost(&srv);
    CHECK(cost > 0);
    snap a, b;

    /* the first gated call on the connection asks the version ("version\r\n") and
     * sends nothing else */
    const mcf_meta_opts nc = {.flags = MCF_META_NEW_CAS, .new_cas = 424242};
    CHECK(take_snap(&srv, &a) == 0);
    CHECK_RC(mcf_get_ex(c, KS("vg:k"), &nc, &v, &info), MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "get_ex NEW_CAS");
    sync_conn(c);
    CHECK(take_snap(&srv, &b) == 0);
    check_nothing_sent(&a, &b, cost, 9 + SYNC_BYTES, "first gated call (one version request)",
                       __LINE__);

    /* then every gated call is refused without a byte */
    CHECK(take_snap(&srv, &a) == 0);
    CHECK_RC(mcf_get_ex(c, KS("vg:k"), &nc, &v, &info), MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "get_ex NEW_CAS again");
    CHECK_RC(mcf_get_ex(c, KS("vg:viv"),
                        &(mcf_meta_opts){.flags = MCF_META_VIVIFY | MCF_META_NEW_CAS,
                                         .vivify_ttl = 30, .new_cas = 5},
                        &v, &info),
             MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "get_ex VIVIFY|NEW_CAS");
    CHECK_RC(mcf_store_ex(c, MCF_SET, KS("vg:k"), "new", 3, 0, 0, 0, &nc, &info),
             MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "store_ex NEW_CAS");
    CHECK_RC(mcf_delete_ex(c, KS("vg:k"), &nc), MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "delete_ex NEW_CAS");
    CHECK_RC(mcf_delete_ex(c, KS("vg:k"),
                           &(mcf_meta_opts){.flags = MCF_META_INVALIDATE | MCF_META_NEW_CAS,
                                            .new_cas = 9}),
             MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "delete_ex INVALIDATE|NEW_CAS");
    CHECK_RC(mcf_delete_ex(c, KS("vg:k"), &(mcf_meta_opts){.flags = MCF_META_REMOVE_VALUE}),
             MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "delete_ex REMOVE_VALUE");
    CHECK_RC(mcf_incr_ex(c, KS("vg:n"), 1, &nc, &nv, &info), MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "incr_ex NEW_CAS");
    CHECK_RC(mcf_decr_ex(c, KS("vg:n"), 1, &nc, &nv, &info), MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "decr_ex NEW_CAS");
    sync_conn(c);
    CHECK(take_snap(&srv, &b) == 0);
    check_nothing_sent(&a, &b, cost, SYNC_BYTES, "refused gated calls", __LINE__);

    /* the items are as they were */
    CHECK(raw_meta(&srv, "mg vg:k v c f", line, sizeof line, val, sizeof val) == 0);
    CHECKF(strcmp(line, k_before) == 0 && strcmp(val, "orig") == 0, "vg:k '%s' '%s', was '%s'",
           line, val, k_before);
    CHECK(raw_meta(&srv, "mg vg:n v c f", line, sizeof line, val, sizeof val) == 0);
    CHECKF(strcmp(line, n_before) == 0 && strcmp(val, "10") == 0, "vg:n '%s' '%s', was '%s'",
           line, val, n_before);
    CHECK(raw_missing(&srv, "vg:viv"));

    /* the connection is fine, and the same calls without the flag work */
    CHECK_RC(mcf_get_ex(c, KS("vg:k"), NULL, &v, NULL), MCF_OK);
    CHECK(val_is(&v, "orig"));
    CHECK_RC(mcf_incr_ex(c, KS("vg:n"), 1, NULL, &nv, NULL), MCF_OK);
    CHECK(nv == 11);

    /* a new connection asks again, once */
    mcf_disconnect_all(c);
    CHECK(take_snap(&srv, &a) == 0);
    CHECK_RC(mcf_delete_ex(c, KS("vg:k"), &(mcf_meta_opts){.flags = MCF_META_REMOVE_VALUE}),
             MCF_ERR_NOT_SUPPORTED);
    check_gate_msg(c, vers, "delete_ex REMOVE_VALUE on a new connection");
    CHECK_RC(mcf_store_ex(c, MCF_SET, KS("vg:k"), "new", 3, 0, 0, 0, &nc, &info),
             MCF_ERR_NOT_SUPPORTED);
    sync_conn(c);
    CHECK(take_snap(&srv, &b) == 0);
    check_nothing_sent(&a, &b, cost, 9 + SYNC_BYTES, "new connection (one version request)",
                       __LINE__);
    CHECK(raw_meta_has(&srv, "vg:k", "orig"));
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 7. text protocol: every _ex call refused, nothing sent              */
/* ------------------------------------------------------------------ */

TEST(text_protocol_refuses_ex)
{
    SERVER_SETUP(MCF_PROTO_TEXT);
    mcf_value v;
    mcf_item_info info;
    uint64_t nv;
    CHECK_RC(mcf_set(c, KS("tx:k"), "v", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("tx:n"), "5", 1, 0, 0), MCF_OK);
    long long cost = snap_cost(&srv);
    snap a, b;
    CHECK(take_snap(&srv, &a) == 0);
#define REFUSED(call, what)                                                         \
    do {                                                                            \
        int rc_ = (call);                                                           \
        CHECKF(rc_ == MCF_ERR_NOT_SUPPORTED, "%s: rc %d", what, rc_);               \
        CHECKF(contains(mcf_last_error(c), "meta"), "%s: message '%s'", what,       \
               mcf_last_error(c));                                                  \
    } while (0)
    REFUSED(mcf_get_ex(c, KS("tx:k"), NULL, &v, &info), "get_ex");
    REFUSED(mcf_get_ex(c, KS("tx:k"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
            "get_ex GET_TTL");
    REFUSED(mcf_get_ex(c, KS("tx:viv"),
                       &(mcf_meta_opts){.flags = MCF_META_VIVIFY, .vivify_ttl = 30}, &v, &info),
            "get_ex VIVIFY");
    REFUSED(mcf_store_ex(c, MCF_SET, KS("tx:k"), "w", 1, 0, 0, 0, NULL, &info), "store_ex");
    REFUSED(mcf_store_ex(c, MCF_CAS, KS("tx:k"), "w", 1, 0, 0, 1,
                         &(mcf_meta_opts){.flags = MCF_META_INVALIDATE}, &info),
            "store_ex CAS INVALIDATE");
    REFUSED(mcf_delete_ex(c, KS("tx:k"), NULL), "delete_ex");
    REFUSED(mcf_delete_ex(c, KS("tx:k"), &(mcf_meta_opts){.flags = MCF_META_INVALIDATE}),
            "delete_ex INVALIDATE");
    REFUSED(mcf_incr_ex(c, KS("tx:n"), 1, NULL, &nv, &info), "incr_ex");
    REFUSED(mcf_decr_ex(c, KS("tx:n"), 1, NULL, &nv, &info), "decr_ex");
    REFUSED(mcf_incr_ex(c, KS("tx:new"), 1,
                        &(mcf_meta_opts){.flags = MCF_META_VIVIFY, .initial = 3}, &nv, &info),
            "incr_ex VIVIFY");
#undef REFUSED
    sync_conn(c);
    CHECK(take_snap(&srv, &b) == 0);
    check_nothing_sent(&a, &b, cost, SYNC_BYTES, "text protocol _ex calls", __LINE__);
    CHECK(raw_meta_has(&srv, "tx:k", "v"));
    CHECK(raw_meta_has(&srv, "tx:n", "5"));
    CHECK(raw_missing(&srv, "tx:viv"));
    CHECK(raw_missing(&srv, "tx:new"));
    /* the same client in meta mode: they work */
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_META), MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("tx:k"), NULL, &v, &info), MCF_OK);
    CHECK(val_is(&v, "v"));
    SERVER_TEARDOWN();
}

/* mcf_exists: HD/EN from "mg KEY" with no flags.  The value is never sent
 * (a 20000-byte value moves bytes_written by a few bytes), the TTL stays,
 * touch counters do not move; on a text client it is refused, nothing sent. */
TEST(exists_reads_nothing)
{
    SERVER_SETUP(MCF_PROTO_META);
    static char big[20000];
    memset(big, 'x', sizeof big);
    CHECK_RC(mcf_set(c, KS("ex:big"), big, sizeof big, 0, 500), MCF_OK);
    long long w0 = raw_stat(&srv, NULL, "bytes_written");
    long long t0 = raw_stat(&srv, NULL, "cmd_touch");
    CHECK_RC(mcf_exists(c, KS("ex:big")), MCF_OK);
    CHECK_RC(mcf_exists(c, KS("ex:none")), MCF_MISS);
    long long w1 = raw_stat(&srv, NULL, "bytes_written");
    /* the first raw_stat's reply is counted between w0 and w1: allow a
     * stats reply, far below the value */
    CHECKF(w1 - w0 < (long long)sizeof big / 4, "bytes_written moved by %lld", w1 - w0);
    CHECK(raw_stat(&srv, NULL, "cmd_touch") == t0);
    long long ttl = raw_meta_ttl(&srv, "ex:big");
    CHECKF(ttl > 400 && ttl <= 500, "ttl %lld after mcf_exists", ttl);
    CHECK_RC(mcf_exists(c, "", 0), MCF_ERR_BAD_KEY);
    /* text: refused before sending */
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_TEXT), MCF_OK);
    CHECK_RC(mcf_exists(c, KS("ex:big")), MCF_ERR_NOT_SUPPORTED);
    CHECK(contains(mcf_last_error(c), "mcf_exists") && contains(mcf_last_error(c), "meta"));
    /* auto on a server with meta: works */
    CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_AUTO), MCF_OK);
    CHECK_RC(mcf_exists(c, KS("ex:big")), MCF_OK);
    CHECK(raw_meta_has(&srv, "ex:big", "") == 0); /* still the big value */
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 8. flags a call does not take: MCF_ERR_ARG, nothing sent            */
/* ------------------------------------------------------------------ */

TEST(invalid_flags_rejected)
{
    SERVER_SETUP(MCF_PROTO_META);
    mcf_value v;
    mcf_item_info info;
    uint64_t nv;
    CHECK_RC(mcf_set(c, KS("if:k"), "v", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS("if:n"), "1", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("if:k"), NULL, &v, NULL), MCF_OK);
    long long cost = snap_cost(&srv);
    snap a, b;
    CHECK(take_snap(&srv, &a) == 0);
    const unsigned unknown[] = {0x0800u, 0x1000u, 0x80000000u};
    const unsigned get_bad[] = {MCF_META_INVALIDATE, MCF_META_COMPARE_CAS,
                                MCF_META_REMOVE_VALUE, MCF_META_GET_TTL | MCF_META_INVALIDATE};
    const unsigned store_bad[] = {MCF_META_GET_TTL,       MCF_META_GET_LAST_ACCESS,
                                  MCF_META_GET_HIT_BEFORE, MCF_META_NO_BUMP,
                                  MCF_META_SET_TTL,        MCF_META_VIVIFY,
                                  MCF_META_RECACHE,        MCF_META_REMOVE_VALUE,
                                  MCF_META_COMPARE_CAS};
    const unsigned delete_bad[] = {MCF_META_GET_TTL, MCF_META_GET_LAST_ACCESS,
                                   MCF_META_GET_HIT_BEFORE, MCF_META_NO_BUMP, MCF_META_VIVIFY,
                                   MCF_META_RECACHE,
                                   /* md takes T only with I */
                                   MCF_META_SET_TTL};
    const unsigned arith_bad[] = {MCF_META_GET_LAST_ACCESS, MCF_META_GET_HIT_BEFORE,
                                  MCF_META_NO_BUMP,         MCF_META_RECACHE,
                                  MCF_META_INVALIDATE,      MCF_META_REMOVE_VALUE};
    for (int pass = 0; pass < 2; pass++) {
        const unsigned *list[4] = {get_bad, store_bad, delete_bad, arith_bad};
        size_t len[4] = {sizeof get_bad / sizeof *get_bad, sizeof store_bad / sizeof *store_bad,
                         sizeof delete_bad / sizeof *delete_bad,
                         sizeof arith_bad / sizeof *arith_bad};
        if (pass == 1) /* bits that are no flag at all, for every call */
            for (int k = 0; k < 4; k++) {
                list[k] = unknown;
                len[k] = sizeof unknown / sizeof *unknown;
            }
        for (size_t i = 0; i < len[0]; i++) {
            mcf_meta_opts o = {.flags = list[0][i], .ttl = 10, .cas = 1};
            int rc = mcf_get_ex(c, KS("if:k"), &o, &v, &info);
            CHECKF(rc == MCF_ERR_ARG, "get_ex flags 0x%x: rc %d", o.flags, rc);
        }
        for (size_t i = 0; i < len[1]; i++) {
            mcf_meta_opts o = {.flags = list[1][i], .ttl = 10, .vivify_ttl = 10, .cas = 1};
            int rc = mcf_store_ex(c, MCF_SET, KS("if:k"), "bad", 3, 0, 0, 0, &o, &info);
            CHECKF(rc == MCF_ERR_ARG, "store_ex flags 0x%x: rc %d", o.flags, rc);
        }
        for (size_t i = 0; i < len[2]; i++) {
            mcf_meta_opts o = {.flags = list[2][i], .ttl = 10, .vivify_ttl = 10};
            int rc = mcf_delete_ex(c, KS("if:k"), &o);
            CHECKF(rc == MCF_ERR_ARG, "delete_ex flags 0x%x: rc %d", o.flags, rc);
        }
        for (size_t i = 0; i < len[3]; i++) {
            mcf_meta_opts o = {.flags = list[3][i], .ttl = 10, .recache_ttl = 10};
            int rc = mcf_incr_ex(c, KS("if:n"), 1, &o, &nv, &info);
            CHECKF(rc == MCF_ERR_ARG, "incr_ex flags 0x%x: rc %d", o.flags, rc);
            rc = mcf_decr_ex(c, KS("if:n"), 1, &o, &nv, &info);
            CHECKF(rc == MCF_ERR_ARG, "decr_ex flags 0x%x: rc %d", o.flags, rc);
        }
    }
    /* INVALIDATE on a store needs mode MCF_CAS */
    const mcf_meta_opts inval = {.flags = MCF_META_INVALIDATE};
    for (int mode = MCF_SET; mode < MCF_CAS; mode++) {
        int rc = mcf_store_ex(c, (mcf_store_mode)mode, KS("if:k"), "bad", 3, 0, 0, 1, &inval,
                              &info);
        CHECKF(rc == MCF_ERR_ARG, "store_ex mode %d INVALIDATE: rc %d", mode, rc);
    }
    CHECK_RC(mcf_store_ex(c, (mcf_store_mode)99, KS("if:k"), "bad", 3, 0, 0, 0, NULL, &info),
             MCF_ERR_ARG);
    CHECK_RC(mcf_get_ex(c, KS("if:k"), NULL, NULL, &info), MCF_ERR_ARG);
    sync_conn(c);
    CHECK(take_snap(&srv, &b) == 0);
    check_nothing_sent(&a, &b, cost, SYNC_BYTES, "calls with invalid flags", __LINE__);
    CHECK(raw_meta_has(&srv, "if:k", "v"));
    CHECK(raw_meta_has(&srv, "if:n", "1"));
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* 9. binary keys (space, NUL) with the _ex calls                      */
/* ------------------------------------------------------------------ */

/* "mg <base64 of key> b <flags>" as raw_meta sends it. */
static void b64_cmd(char *out, size_t cap, const char *verb, const char *key, size_t klen,
                    const char *flags)
{
    char enc[256];
    mcf_meta_b64_encode(enc, key, klen);
    snprintf(out, cap, "%s %s b %s", verb, enc, flags);
}

TEST(binary_keys_ex)
{
    SERVER_SETUP(MCF_PROTO_META);
    static const char bk[] = "bin key\0end";  /* 11 bytes: a space and a NUL */
    static const char bk2[] = "bin key\0other";
    static const char ck[] = "ctr \r\n\0x";   /* 8 bytes */
    const size_t bkl = sizeof bk - 1, bk2l = sizeof bk2 - 1, ckl = sizeof ck - 1;
    mcf_value v;
    mcf_item_info info;
    uint64_t nv;
    char cmd[400], line[256], val[64];
    int ok;

    CHECK_RC(mcf_set(c, bk, bkl, "bv", 2, 3, 500), MCF_OK);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, bk, bkl,
                        &(mcf_meta_opts){.flags = MCF_META_GET_TTL | MCF_META_GET_HIT_BEFORE}, &v,
                        &info),
             MCF_OK);
    CHECKF(val_is(&v, "bv") && v.flags == 3 && info.ttl > 490 && info.ttl <= 500 &&
               info.hit_before == 0,
           "get_ex binary key: flags %u ttl %lld hit %d", v.flags, (long long)info.ttl,
           info.hit_before);
    uint64_t cas0 = v.cas;
    /* the server holds it under the base64 of all 11 bytes */
    b64_cmd(cmd, sizeof cmd, "mg", bk, bkl, "v c");
    CHECK(raw_meta(&srv, cmd, line, sizeof line, val, sizeof val) == 0);
    CHECKF(strcmp(val, "bv") == 0 && (uint64_t)line_num(line, 'c', &ok) == cas0, "raw: %s / %s",
           line, val);
    /* a key equal up to the NUL is another key */
    CHECK_RC(mcf_get_ex(c, bk2, bk2l, NULL, &v, NULL), MCF_MISS);
    CHECK_RC(mcf_delete_ex(c, bk2, bk2l, NULL), MCF_NOT_FOUND);

    /* store_ex: info->cas */
    CHECK_RC(mcf_store_ex(c, MCF_CAS, bk, bkl, "b2", 2, 3, 500, cas0, NULL, &info), MCF_OK);
    uint64_t cas1 = info.cas;
    CHECK_RC(mcf_gets(c, bk, bkl, &v), MCF_OK);
    CHECKF(val_is(&v, "b2") && v.cas == cas1 && cas1 != cas0, "gets cas %llu, info.cas %llu",
           (unsigned long long)v.cas, (unsigned long long)cas1);

    /* delete_ex: compare-CAS mismatch, mark stale, delete */
    CHECK_RC(mcf_delete_ex(c, bk, bkl,
                           &(mcf_meta_opts){.flags = MCF_META_COMPARE_CAS, .cas = cas1 + 99}),
             MCF_EXISTS);
    CHECK_RC(mcf_delete_ex(c, bk, bkl,
                           &(mcf_meta_opts){.flags = MCF_META_INVALIDATE | MCF_META_SET_TTL,
                                            .ttl = 60}),
             MCF_OK);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, bk, bkl, &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
             MCF_OK);
    CHECKF(val_is(&v, "b2") && info.stale == 1 && info.win == 1 && info.ttl > 55 &&
               info.ttl <= 60,
           "after md I: stale %d win %d ttl %lld", info.stale, info.win, (long long)info.ttl);
    CHECK_RC(mcf_delete_ex(c, bk, bkl, NULL), MCF_OK);
    CHECK(raw_meta(&srv, cmd, line, sizeof line, val, sizeof val) == 0 && strcmp(line, "EN") == 0);
    CHECK_RC(mcf_get_ex(c, bk, bkl, NULL, &v, &info), MCF_MISS);
    CHECK_RC(mcf_delete_ex(c, bk, bkl, NULL), MCF_NOT_FOUND);

    /* incr_ex / decr_ex with auto-create */
    const mcf_meta_opts viv = {.flags = MCF_META_VIVIFY | MCF_META_GET_TTL, .vivify_ttl = 300,
                               .initial = 10};
    nv = 0;
    CHECK_RC(mcf_incr_ex(c, ck, ckl, 1, &viv, &nv, &info), MCF_OK);
    CHECKF(nv == 10 && info.ttl > 290 && info.ttl <= 300, "created: %" PRIu64 " ttl %lld", nv,
           (long long)info.ttl);
    CHECK_RC(mcf_incr_ex(c, ck, ckl, 5, &viv, &nv, &info), MCF_OK);
    CHECKF(nv == 15, "incr: %" PRIu64, nv);
    CHECK_RC(mcf_decr_ex(c, ck, ckl, 3, NULL, &nv, &info), MCF_OK);
    CHECKF(nv == 12, "decr: %" PRIu64, nv);
    CHECK_RC(mcf_get(c, ck, ckl, &v), MCF_OK);
    CHECK(val_is(&v, "12"));
    b64_cmd(cmd, sizeof cmd, "mg", ck, ckl, "v");
    CHECK(raw_meta(&srv, cmd, line, sizeof line, val, sizeof val) == 0 && strcmp(val, "12") == 0);
    CHECK_RC(mcf_incr_ex(c, ck, ckl - 1, 1, NULL, &nv, NULL), MCF_NOT_FOUND);
    SERVER_TEARDOWN();
}

/* ------------------------------------------------------------------ */
/* MCF_PROTO_AUTO: the _ex calls on a server that has meta             */
/* ------------------------------------------------------------------ */

TEST(auto_protocol_ex)
{
    SERVER_SETUP(MCF_PROTO_AUTO);
    mcf_value v;
    mcf_item_info info;
    uint64_t nv;
    CHECK_RC(mcf_set(c, KS("au:k"), "val", 3, 2, 100), MCF_OK);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("au:k"), &(mcf_meta_opts){.flags = MCF_META_GET_TTL}, &v, &info),
             MCF_OK);
    CHECKF(val_is(&v, "val") && v.flags == 2 && info.ttl > 90 && info.ttl <= 100,
           "get_ex: %s (ttl %lld)", mcf_last_error(c), (long long)info.ttl);
    info_poison(&info);
    CHECK_RC(mcf_get_ex(c, KS("au:viv"),
                        &(mcf_meta_opts){.flags = MCF_META_VIVIFY, .vivify_ttl = 30}, &v, &info),
             MCF_OK);
    CHECK(v.len == 0 && info.win == 1 && info.won == 0);
    nv = 0;
    CHECK_RC(mcf_incr_ex(c, KS("au:n"), 1,
                         &(mcf_meta_opts){.flags = MCF_META_VIVIFY, .initial = 3}, &nv, &info),
             MCF_OK);
    CHECK(nv == 3);
    CHECK_RC(mcf_delete_ex(c, KS("au:k"), &(mcf_meta_opts){.flags = MCF_META_INVALIDATE}),
             MCF_OK);
    CHECK_RC(mcf_get_ex(c, KS("au:k"), NULL, &v, &info), MCF_OK);
    CHECK(val_is(&v, "val") && info.stale == 1);
    CHECK_RC(mcf_store_ex(c, MCF_SET, KS("au:k"), "v2", 2, 0, 0, 0, NULL, &info), MCF_OK);
    CHECK(info.cas != 0 && raw_meta_has(&srv, "au:k", "v2"));

    /* version-gated flags: auto learned the version with its probe, so the
     * refusal costs no request at all */
    char vers[64];
    unsigned ver = raw_version(&srv, vers, sizeof vers);
    if (ver && ver < GATED_SINCE) {
        long long cost = snap_cost(&srv);
        snap a, b;
        CHECK(take_snap(&srv, &a) == 0);
        CHECK_RC(mcf_get_ex(c, KS("au:k"),
                            &(mcf_meta_opts){.flags = MCF_META_NEW_CAS, .new_cas = 5}, &v, &info),
                 MCF_ERR_NOT_SUPPORTED);
        check_gate_msg(c, vers, "auto: get_ex NEW_CAS");
        CHECK_RC(mcf_delete_ex(c, KS("au:k"), &(mcf_meta_opts){.flags = MCF_META_REMOVE_VALUE}),
                 MCF_ERR_NOT_SUPPORTED);
        check_gate_msg(c, vers, "auto: delete_ex REMOVE_VALUE");
        sync_conn(c);
        CHECK(take_snap(&srv, &b) == 0);
        check_nothing_sent(&a, &b, cost, SYNC_BYTES, "auto: refused gated calls", __LINE__);
        CHECK(raw_meta_has(&srv, "au:k", "v2"));
    }
    SERVER_TEARDOWN();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* only mcserver_raw could hit it; the library must not */
    if (!mcserver_binary())
        t_skip_all("memcached is not installed");
    return t_main(argc, argv);
}
