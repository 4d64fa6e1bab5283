/* fixtures.c - helpers shared by the test programs; see fixtures.h. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "mcfast_async.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

void fill_text(char *p, size_t n)
{
    static const char words[] = "the quick brown fox jumps over the lazy memcached server ";
    for (size_t i = 0; i < n; i++)
        p[i] = words[i % (sizeof words - 1)];
}

/* ------------------------------------------------------------------ */
/* Servers and clients                                                 */
/* ------------------------------------------------------------------ */

int start_n(mcserver *s, int n, const char *extra)
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
void stop_n(mcserver *s, int n)
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

mcf_client *new_client(void)
{
    mcf_client *c = mcf_new();
    if (c && test_protocol != MCF_PROTO_TEXT &&
        mcf_set_option(c, MCF_OPT_PROTOCOL, test_protocol) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

int meta_mode(void) { return test_protocol != MCF_PROTO_TEXT; }

mcf_client *client_n(mcserver *s, int n)
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

int client_tests_main(int argc, char **argv)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "test_client";
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
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
        printf("FAIL: %s: MCF_TEST_PROTOCOL=%s is not text, meta or auto\n", prog, proto);
        return 1;
    }
    return t_main(argc, argv);
}

/* ------------------------------------------------------------------ */
/* Raw access to a server (no mcfast involved)                         */
/* ------------------------------------------------------------------ */

char rawbuf[RAWBUF_SIZE];

/* "get key" straight to the server: 1 hit, 0 miss, -1 error.  data points
 * into rawbuf until the next raw call. */
int raw_get(const mcserver *s, const char *key, uint32_t *flags, const char **data, size_t *len)
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
int raw_has(const mcserver *s, const char *key, const char *want)
{
    const char *d;
    size_t l;
    if (raw_get(s, key, NULL, &d, &l) != 1)
        return 0;
    return l == strlen(want) && memcmp(d, want, l) == 0;
}

/* Sends a raw request; 0 if the reply ends with `until`. */
int raw_cmd(const mcserver *s, const char *req, const char *until)
{
    char buf[4096];
    int n = mcserver_raw(s, req, until, buf, sizeof buf);
    size_t ul = strlen(until);
    return n >= (int)ul && memcmp(buf + n - (int)ul, until, ul) == 0 ? 0 : -1;
}

/* A "stats [arg]" value as a number, -1 if absent. */
long long raw_stat(const mcserver *s, const char *arg, const char *name)
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
long raw_ttl(const mcserver *s, const char *key)
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
long long bytes_read(const mcserver *s)
{
    return raw_stat(s, NULL, "bytes_read");
}

/* Delta of bytes_read caused by the probe itself (two consecutive reads). */
long long probe_delta(const mcserver *s)
{
    long long a = bytes_read(s), b = bytes_read(s);
    return b - a;
}

/* stats callback: counts the stats, keeps pid and maxbytes. */
void stats_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
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

/* ------------------------------------------------------------------ */
/* Key sets and the get_multi collector                                */
/* ------------------------------------------------------------------ */

void ks_make(keyset *ks, size_t n, const char *prefix)
{
    ks->n = n;
    ks->buf = calloc(n ? n : 1, sizeof *ks->buf);
    ks->k = calloc(n ? n : 1, sizeof *ks->k);
    for (size_t i = 0; i < n; i++) {
        snprintf(ks->buf[i], sizeof ks->buf[i], "%s:%zu", prefix, i);
        ks->k[i] = ks->buf[i];
    }
}

void ks_free(keyset *ks)
{
    free(ks->buf);
    free(ks->k);
}

void val_of(const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "v:%s", key);
}

/* Sets keys[i] = "v:" + keys[i] with one mcf_multi; returns the number of
 * items that were not stored. */
size_t set_keys(mcf_client *c, const char *const *keys, size_t n, uint32_t flags,
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

void gm_init(gm *g, const char *const *keys, size_t n)
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

void gm_free(gm *g)
{
    free(g->calls);
    free(g->rc);
    free(g->ok);
    free(g->cas);
    free(g->flags);
}

/* Records every callback; a hit's value must be "v:" + key. */
void gm_cb(void *ctx, size_t i, int rc, const mcf_value *v)
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
int gm_run(mcf_client *c, gm *g, mcf_get_mode mode, int64_t exptime, const char *const *keys,
           size_t n)
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

/* Single get of a key expected to hold `want`. */
int get_eq(mcf_client *c, const char *key, const char *want)
{
    mcf_value v;
    int rc = mcf_get(c, KS(key), &v);
    if (rc != MCF_OK)
        return 0;
    return v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
}

size_t server_of(mcf_client *c, const char *key)
{
    size_t s = SIZE_MAX;
    int rc = mcf_server_for_key(c, KS(key), &s);
    CHECKF(rc == MCF_OK, "mcf_server_for_key(%s) = %d", key, rc);
    return s;
}

void key_for(mcf_client *c, size_t want, const char *prefix, char *key, size_t cap)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(key, cap, "%s:%d", prefix, i);
        if (server_of(c, key) == want)
            return;
    }
    snprintf(key, cap, "%s:none", prefix);
}

/* Where is key i really, and with what value?  Checks via the server. */
int mi_on_server(mcf_client *c, mcserver *srv, const char *key, const char *want)
{
    size_t s = server_of(c, key);
    if (s >= 4)
        return 0;
    if (!want)
        return raw_get(&srv[s], key, NULL, NULL, NULL) == 0;
    return raw_has(&srv[s], key, want);
}

int64_t env_int(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long long x = strtoll(v, &end, 0);
    return *end ? dflt : (int64_t)x;
}

/* The pollfd array starts small and grows when the pollset asks for more. */
#define POLLFD_START 4

size_t drive_pollset(mcf_client *c, int bound_ms, void (*on_turn)(void *), void *arg)
{
    double end = now_ms() + bound_ms;
    size_t cap = POLLFD_START;
    struct pollfd *fds = malloc(cap * sizeof *fds);
    while (fds && mcf_async_inflight(c) > 0) {
        double left = end - now_ms();
        if (left <= 0)
            break;
        int timeout = -1;
        size_t n = mcf_async_pollset(c, fds, cap, &timeout);
        if (n > cap) { /* more sockets than room: ask again with enough */
            struct pollfd *more = realloc(fds, n * sizeof *fds);
            if (!more)
                break;
            fds = more;
            cap = n;
            continue;
        }
        if (timeout < 0 || timeout > left)
            timeout = (int)left + 1;
        if (poll(fds, (nfds_t)n, timeout) < 0) {
            if (errno != EINTR)
                break;
            for (size_t i = 0; i < n; i++)
                fds[i].revents = 0;
        }
        mcf_async_process(c, fds, n);
        if (on_turn)
            on_turn(arg);
    }
    free(fds);
    return mcf_async_inflight(c);
}

size_t drive(mcf_client *c, int how, int bound_ms)
{
    return how == DRIVE_POLLSET ? drive_pollset(c, bound_ms, NULL, NULL)
                                : mcf_async_run(c, bound_ms);
}
