/* fixtures.h - helpers shared by the test programs (tests/fixtures.c):
 * time, strings, file descriptors, test data; and for the test_client_*
 * programs, which run the public client API against real memcached
 * processes: servers, clients in the protocol under test, raw access to a
 * server that bypasses mcfast, key sets and a get_multi collector.
 * Failures are reported into the running case (harness.h). */
#ifndef MCF_TEST_FIXTURES_H
#define MCF_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

/* A NUL-terminated key as the (pointer, length) pair the API takes. */
#define KS(s) (s), strlen(s)

/* ---- small helpers ---- */

double now_ms(void);              /* CLOCK_MONOTONIC in milliseconds */
void sleep_ms(int64_t ms);        /* the whole time, across EINTR; <= 0: no sleep */
int contains(const char *hay, const char *needle); /* NULL-safe strstr */
int count_fds(void);              /* open descriptors of this process, -1 on error */
/* The integer in environment variable name (any base strtoll takes), or
 * dflt when it is unset, empty or not a whole number. */
int64_t env_int(const char *name, int64_t dflt);
/* Deterministic pseudo-random bytes (incompressible). */
void fill_random(unsigned char *p, size_t n, uint64_t seed);
/* Compressible text. */
void fill_text(char *p, size_t n);

/* ---- servers and clients (test_client_*) ---- */

/* main() of a test_client_* program: skips every case without memcached,
 * reads MCF_TEST_PROTOCOL (text, meta or auto; tests/t_client_meta.sh
 * runs the programs again with meta), then t_main(). */
int client_tests_main(int argc, char **argv);

/* n memcached servers on 127.0.0.1 (extra: memcached arguments or NULL);
 * 0, or -1 with none left running. */
int start_n(mcserver *s, int n, const char *extra);
/* SIGKILL (a stopped server is continued first) and reap; unix servers'
 * socket directories are removed. */
void stop_n(mcserver *s, int n);
/* mcf_new() set to the protocol under test; NULL on failure. */
mcf_client *new_client(void);
int meta_mode(void); /* the protocol under test is not text */
/* A client for s[0..n-1]; NULL after a FAIL line. */
mcf_client *client_n(mcserver *s, int n);

/* A case's N servers in srv[] and a client c for them (returns after a
 * FAIL line when either cannot be had); TEARDOWN(N) frees both. */
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

/* ---- raw access to a server (no mcfast involved) ---- */

/* Room for the largest reply a case reads raw (values up to 1 MiB and
 * multi-key scans). */
#define RAWBUF_SIZE (3u << 20)
extern char rawbuf[RAWBUF_SIZE];

/* "get key" straight to the server: 1 hit, 0 miss, -1 error.  data points
 * into rawbuf until the next raw call. */
int raw_get(const mcserver *s, const char *key, uint32_t *flags, const char **data, size_t *len);
/* 1 when the server holds key with exactly this value. */
int raw_has(const mcserver *s, const char *key, const char *want);
/* Sends a raw request; 0 if the reply ends with `until`. */
int raw_cmd(const mcserver *s, const char *req, const char *until);
/* A "stats [arg]" value as a number, -1 if absent. */
long long raw_stat(const mcserver *s, const char *arg, const char *name);
/* Remaining TTL through the meta protocol: -1 never expires, -2 missing,
 * -3 error. */
long raw_ttl(const mcserver *s, const char *key);
/* Bytes the server has read from all clients; used to prove that nothing
 * was sent.  Each raw "stats" adds its own request, so callers compare a
 * delta against a calibrated one. */
long long bytes_read(const mcserver *s);
/* Delta of bytes_read caused by the probe itself (two consecutive reads). */
long long probe_delta(const mcserver *s);

/* mcf_stats callback recording into a stats_seen. */
typedef struct stats_seen {
    int count;
    char pid[32];
    char maxbytes[32];
    int bad; /* entries without a name or value */
} stats_seen;
void stats_cb(void *ctx, const char *name, size_t nl, const char *value, size_t vl);

/* ---- key sets and the get_multi collector ---- */

typedef struct keyset {
    size_t n;
    char (*buf)[64];
    const char **k;
} keyset;

void ks_make(keyset *ks, size_t n, const char *prefix); /* "prefix:0" ... */
void ks_free(keyset *ks);
void val_of(const char *key, char *out, size_t cap);    /* "v:" + key */
/* Sets keys[i] = "v:" + keys[i] with one mcf_multi; returns the number of
 * items that were not stored. */
size_t set_keys(mcf_client *c, const char *const *keys, size_t n, uint32_t flags,
                unsigned call_flags);

typedef struct gm {
    size_t n;
    const char *const *keys;
    int *calls, *rc, *ok;
    uint64_t *cas;
    uint32_t *flags;
    size_t out_of_range, value_on_non_hit;
} gm;

void gm_init(gm *g, const char *const *keys, size_t n);
void gm_free(gm *g);
/* Records every callback; a hit's value must be "v:" + key. */
void gm_cb(void *ctx, size_t i, int rc, const mcf_value *v);
/* get_multi of keys; checks each callback ran once.  Returns the call's rc. */
int gm_run(mcf_client *c, gm *g, mcf_get_mode mode, int64_t exptime, const char *const *keys,
           size_t n);
/* Single get of a key expected to hold `want`. */
int get_eq(mcf_client *c, const char *key, const char *want);
/* The index of key's server (SIZE_MAX after a FAIL line). */
size_t server_of(mcf_client *c, const char *key);
/* A key "prefix:N" that lands on server `want` (into key[cap]). */
void key_for(mcf_client *c, size_t want, const char *prefix, char *key, size_t cap);
/* Where is key really, and with what value?  1 when key's server among the
 * 4 in srv[] holds exactly want (want NULL: does not hold key at all);
 * checked through the server. */
int mi_on_server(mcf_client *c, mcserver *srv, const char *key, const char *want);

/* ---- driving the async API (include/mcfast_async.h) ---- */
enum { DRIVE_RUN, DRIVE_POLLSET };
/* A plain poll() loop over mcf_async_pollset/process until nothing is in
 * flight or bound_ms passed; on_turn (may be NULL) runs after every turn.
 * Returns what is still in flight. */
size_t drive_pollset(mcf_client *c, int bound_ms, void (*on_turn)(void *), void *arg);
/* DRIVE_RUN (mcf_async_run) or DRIVE_POLLSET, bounded by bound_ms. */
size_t drive(mcf_client *c, int how, int bound_ms);

#endif
