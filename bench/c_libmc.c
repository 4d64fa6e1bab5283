/* c_libmc.c - the workloads through libmemcached, tuned as its documentation
 * recommends: MEMCACHED_BEHAVIOR_NO_BLOCK and MEMCACHED_BEHAVIOR_TCP_NODELAY
 * always; for each workload every reasonable protocol/API combination is
 * offered and the bench keeps the fastest one measured at warm-up. */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* API_MGET_WINDOW: the async workloads' reference, one memcached_mget of
 * ASYNC_WINDOW keys + memcached_fetch_result (the others with one key). */
enum {
    API_GET,
    API_MGET_FETCH,
    API_FETCH_EXECUTE,
    API_SET,
    API_SET_BUFFERED,
    API_SET_BUFFERED_FETCH,
    API_MGET_WINDOW
};

typedef struct lcounts {
    unsigned hits, bad;
    size_t want_len;
} lcounts;

typedef struct lstate {
    memcached_st *m;
    memcached_result_st res; /* reused by memcached_fetch_result */
    int binary, api;
} lstate;

static int lfail(runner *r, memcached_return_t rc, const char *what)
{
    lstate *st = r->state;
    snprintf(r->err, sizeof r->err, "libmemcached %s: %s (%s)", what,
             memcached_strerror(st->m, rc), memcached_last_error_message(st->m));
    return -1;
}

/* A hit is good when its value starts with its own key and has the length wanted. */
static void count_result(lcounts *c, const memcached_result_st *res)
{
    if (memcached_result_length(res) == c->want_len && memcached_result_key_length(res) == KLEN &&
        memcmp(memcached_result_value(res), memcached_result_key_value(res), KLEN) == 0)
        c->hits++;
    else
        c->bad++;
}

static memcached_return_t on_result(const memcached_st *m, memcached_result_st *res, void *ctx)
{
    (void)m;
    count_result(ctx, res);
    return MEMCACHED_SUCCESS;
}

/* mget then fetch every result; the outcome is in *c. */
static int mget_fetch(runner *r, const char *const *keys, const size_t *lens, size_t n,
                      lcounts *c)
{
    lstate *st = r->state;
    memcached_return_t rc = memcached_mget(st->m, keys, lens, n);
    if (rc != MEMCACHED_SUCCESS)
        return lfail(r, rc, "memcached_mget");
    if (st->api == API_FETCH_EXECUTE) {
        memcached_execute_fn cb[1] = {on_result};
        rc = memcached_fetch_execute(st->m, cb, c, 1);
        if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND)
            return lfail(r, rc, "memcached_fetch_execute");
        return 0;
    }
    memcached_result_st *res;
    while ((res = memcached_fetch_result(st->m, &st->res, &rc)) != NULL)
        count_result(c, res);
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND)
        return lfail(r, rc, "memcached_fetch_result");
    return 0;
}

static int get_one(runner *r, const char *key, size_t want_len, const char *want_tail)
{
    lstate *st = r->state;
    if (st->api == API_GET) {
        size_t len = 0;
        uint32_t flags;
        memcached_return_t rc;
        char *v = memcached_get(st->m, key, KLEN, &len, &flags, &rc);
        int ok = v && rc == MEMCACHED_SUCCESS && len == want_len && memcmp(v, key, KLEN) == 0 &&
                 (!want_tail || v[len - 1] == *want_tail);
        free(v);
        if (!ok)
            return lfail(r, rc, "memcached_get: no hit or a wrong value");
        return 0;
    }
    lcounts c = {0, 0, want_len};
    size_t kl = KLEN;
    if (mget_fetch(r, &key, &kl, 1, &c) != 0)
        return -1;
    if (c.hits != 1 || c.bad) {
        snprintf(r->err, sizeof r->err, "libmemcached get %s: %u hits, %u bad", key, c.hits,
                 c.bad);
        return -1;
    }
    return 0;
}

static int run_get(runner *r, uint64_t calls)
{
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % g_nkeys);
        if (get_one(r, g_kget[i], VLEN, NULL) != 0)
            return -1;
    }
    return 0;
}

static int run_get64k(runner *r, uint64_t calls)
{
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % NBIG);
        if (get_one(r, g_kbig[i], BIGLEN, &g_vbig[i * BIGLEN + BIGLEN - 1]) != 0)
            return -1;
    }
    return 0;
}

static int run_set(runner *r, uint64_t calls)
{
    lstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t i = (size_t)(r->cursor++ % g_nkeys);
        memcached_return_t rc = memcached_set(st->m, g_kset[i], KLEN, g_vset + i * VLEN, VLEN, 0, 0);
        if (rc != MEMCACHED_SUCCESS)
            return lfail(r, rc, "memcached_set");
    }
    return 0;
}

static int run_setm(runner *r, uint64_t calls)
{
    lstate *st = r->state;
    for (uint64_t n = 0; n < calls; n++) {
        size_t base = next_batch(r);
        for (size_t j = 0; j < BATCH; j++) {
            memcached_return_t rc = memcached_set(st->m, g_kset[base + j], KLEN,
                                                  g_vset + (base + j) * VLEN, VLEN, 0, 0);
            if (rc != MEMCACHED_BUFFERED && rc != MEMCACHED_SUCCESS)
                return lfail(r, rc, "memcached_set (buffered)");
        }
        memcached_return_t rc = memcached_flush_buffers(st->m);
        if (rc != MEMCACHED_SUCCESS)
            return lfail(r, rc, "memcached_flush_buffers");
        if (st->api != API_SET_BUFFERED_FETCH)
            continue;
        /* Binary protocol: each SET reply comes back as one result of
         * memcached_fetch_result (MEMCACHED_SUCCESS when stored), then
         * MEMCACHED_END. */
        unsigned ok = 0;
        while (memcached_fetch_result(st->m, &st->res, &rc) != NULL) {
            if (rc != MEMCACHED_SUCCESS)
                return lfail(r, rc, "memcached_fetch_result after buffered sets");
            ok++;
        }
        if ((rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND) || ok != BATCH) {
            snprintf(r->err, sizeof r->err,
                     "libmemcached buffered sets: %u of %d replies said stored (last rc %s)", ok,
                     BATCH, memcached_strerror(st->m, rc));
            return -1;
        }
    }
    return 0;
}

/* Buffered sets leave replies unread (libmemcached reads and discards them
 * later): an mget reads every pending reply first, so the round ends with
 * the server having answered everything. */
static int sync_setm(runner *r)
{
    lcounts c = {0, 0, VLEN};
    size_t kl = KLEN;
    if (mget_fetch(r, &g_kget[0], &kl, 1, &c) != 0)
        return -1;
    return c.hits == 1 ? 0 : -1;
}

/* One mget of n keys from keys[0..n-1]: every one a good hit (want_hits) or
 * every one a miss. */
static int multi_once(runner *r, const char *const *keys, size_t n, int want_hits)
{
    lcounts c = {0, 0, VLEN};
    if (mget_fetch(r, keys, g_klens, n, &c) != 0)
        return -1;
    if (c.bad || c.hits != (want_hits ? n : 0u)) {
        snprintf(r->err, sizeof r->err, "libmemcached get_multi: %u hits, %u bad of %zu (from %s)",
                 c.hits, c.bad, n, keys[0]);
        return -1;
    }
    return 0;
}

static int run_multi(runner *r, uint64_t calls, const char **keyset, int want_hits)
{
    for (uint64_t n = 0; n < calls; n++)
        if (multi_once(r, keyset + next_batch(r), BATCH, want_hits) != 0)
            return -1;
    return 0;
}

static int run_scale(runner *r, uint64_t calls)
{
    const char **keys = g_kscale[scale_index(r->w)];
    for (uint64_t n = 0; n < calls; n++)
        if (multi_once(r, keys + next_scale_batch(r), SCALE_BATCH, 1) != 0)
            return -1;
    return 0;
}

static int run_getm(runner *r, uint64_t calls)
{
    return run_multi(r, calls, g_kget, 1);
}

static int run_missm(runner *r, uint64_t calls)
{
    return run_multi(r, calls, g_kmiss, 0);
}

/* async_get256: libmemcached has no asynchronous API (NO_BLOCK only makes
 * its own I/O non-blocking; each call still returns only with its reply),
 * so the fastest way it has to do independent gets, each started without
 * waiting for the batch it could belong to, is one blocking get per key:
 * memcached_get, or a one-key mget + fetch (the bench keeps the faster).
 * memcached_mget of the 256 keys is not equivalent: it needs every key
 * before the first is sent and returns them as one batch, which is
 * get_multi, not independent requests; it is timed as a reference only
 * (API_MGET_WINDOW, never the headline). */
static int run_async_loop(runner *r, uint64_t calls)
{
    for (uint64_t n = 0; n < calls; n++)
        for (size_t j = 0; j < ASYNC_WINDOW; j++) {
            size_t i = (size_t)(r->cursor++ % g_nkeys);
            if (get_one(r, g_kget[i], VLEN, NULL) != 0)
                return -1;
        }
    return 0;
}

static int run_async_mget(runner *r, uint64_t calls)
{
    for (uint64_t n = 0; n < calls; n++)
        if (multi_once(r, g_kget + next_window(r), ASYNC_WINDOW, 1) != 0)
            return -1;
    return 0;
}

static void destroy(runner *r)
{
    lstate *st = r->state;
    if (!st)
        return;
    if (st->m) {
        memcached_result_free(&st->res);
        memcached_free(st->m);
    }
    free(st);
}

/* libmemcached's consistent hashing as tests/tool_libmemcached.c configures
 * it (and t_dist_compat.sh proves MCF_DIST_KETAMA_LIBMEMCACHED matches):
 * the distribution first, then KETAMA_WEIGHTED (which also selects MD5 for
 * keys); the other order would switch weighting off again. */
static int set_ketama(memcached_st *m)
{
    return memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                  MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) == MEMCACHED_SUCCESS &&
           memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) == MEMCACHED_SUCCESS;
}

int lmc_owners(int nsrv, const char *const *keys, size_t n, unsigned char *owner)
{
    memcached_st *m = memcached_create(NULL);
    int ok = m && set_ketama(m);
    for (int i = 0; ok && i < nsrv; i++)
        ok = memcached_server_add(m, g_srv[i].host, (in_port_t)g_srv[i].port) == MEMCACHED_SUCCESS;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t s = memcached_generate_hash(m, keys[i], strlen(keys[i]));
        ok = s < (uint32_t)nsrv;
        owner[i] = (unsigned char)s;
    }
    memcached_free(m);
    return ok ? 0 : -1;
}

static runner *make(const workload *w, int binary, int api)
{
    runner *r = calloc(1, sizeof *r);
    lstate *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return NULL;
    }
    r->client = "libmemcached";
    r->w = w;
    r->state = st;
    r->destroy = destroy;
    st->binary = binary;
    st->api = api;
    st->m = memcached_create(NULL);
    if (!st->m) {
        runner_free(r);
        return NULL;
    }
    memcached_result_create(st->m, &st->res);
    memcached_st *m = st->m;
    int ok = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_NO_BLOCK, 1) == MEMCACHED_SUCCESS &&
             memcached_behavior_set(m, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) == MEMCACHED_SUCCESS &&
             memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, (uint64_t)binary) ==
                 MEMCACHED_SUCCESS;
    if (ok && scale_index(w) >= 0)
        ok = set_ketama(m);
    if (ok && (api == API_SET_BUFFERED || api == API_SET_BUFFERED_FETCH))
        ok = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1) == MEMCACHED_SUCCESS;
    for (int i = 0; ok && i < w->nsrv; i++)
        ok = memcached_server_add(m, g_srv[i].host, (in_port_t)g_srv[i].port) == MEMCACHED_SUCCESS;
    if (!ok) {
        fprintf(stderr, "bench: libmemcached: cannot configure: %s\n",
                memcached_last_error_message(m));
        runner_free(r);
        return NULL;
    }
    const char *how = "";
    if (api == API_MGET_WINDOW && g_nkeys < ASYNC_WINDOW) {
        fprintf(stderr, "bench: libmemcached: %s needs --keys >= %d\n", w->name, ASYNC_WINDOW);
        runner_free(r);
        return NULL;
    }
    switch (w->id) {
    case W_GET:
        r->run = run_get;
        break;
    case W_GET64K:
        r->run = run_get64k;
        break;
    case W_SET:
        r->run = run_set;
        how = "memcached_set, reply checked";
        break;
    case W_GETM:
    case W_GETM4:
    case W_GETM_META:
        r->run = run_getm;
        break;
    case W_MISSM:
        r->run = run_missm;
        break;
    case W_SCALE1:
    case W_SCALE8:
    case W_SCALE32:
        r->run = run_scale;
        break;
    case W_ASYNC:
    case W_ASYNC4:
        if (api == API_MGET_WINDOW) {
            r->run = run_async_mget;
            r->not_equivalent = 1;
            how = "memcached_mget of " BENCH_STR(ASYNC_WINDOW) " keys + "
                  "memcached_fetch_result: one batch collected before the first is sent, not "
                  "independent gets: a reference, not compared";
        } else {
            r->run = run_async_loop;
        }
        break;
    case W_SETM:
        r->run = run_setm;
        r->sync = sync_setm;
        if (api == API_SET_BUFFERED_FETCH) {
            how = "MEMCACHED_BEHAVIOR_BUFFER_REQUESTS=1: 100 x memcached_set (each "
                  "MEMCACHED_BUFFERED) + memcached_flush_buffers, then memcached_fetch_result "
                  "until MEMCACHED_END: one MEMCACHED_SUCCESS per stored item (binary protocol "
                  "only), so every reply is read and checked in the call";
        } else {
            how = "MEMCACHED_BEHAVIOR_BUFFER_REQUESTS=1: 100 x memcached_set + "
                  "memcached_flush_buffers, replies NOT read in the call (libmemcached reads "
                  "and discards them later): not equivalent, shown for reference only";
            r->not_equivalent = 1;
        }
        break;
    default:
        break;
    }
#define ASYNC_LOOP_HOW                                                                     \
    "one key per blocking call, " BENCH_STR(ASYNC_WINDOW) " calls in turn (libmemcached has " \
    "no async API): "
    if (api == API_GET)
        how = is_async(w) ? ASYNC_LOOP_HOW "memcached_get (value malloc'd, freed)"
                          : "memcached_get (value malloc'd, freed)";
    else if (api == API_MGET_FETCH)
        how = is_async(w) ? ASYNC_LOOP_HOW "one-key memcached_mget + memcached_fetch_result"
                          : "memcached_mget + memcached_fetch_result with a reused result struct";
    else if (api == API_FETCH_EXECUTE)
        how = "memcached_mget + memcached_fetch_execute callback";
    static const char *const api_names[] = {"memcached_get", "mget+fetch_result",
                                            "mget+fetch_execute", "memcached_set",
                                            "buffered_set+flush(unchecked)",
                                            "buffered_set+flush+fetch_result",
                                            "mget" BENCH_STR(ASYNC_WINDOW) "+fetch_result"};
    snprintf(r->label, sizeof r->label, "%s/%s", binary ? "binary" : "text", api_names[api]);
    const char *dist = scale_index(w) >= 0
                           ? ", DISTRIBUTION=CONSISTENT_KETAMA then KETAMA_WEIGHTED=1 (MD5)"
                       : w->nsrv > 1 ? ", default distribution (modula, one-at-a-time hash)"
                                     : "";
    snprintf(r->config, sizeof r->config,
             "libmemcached %s, %s protocol, NO_BLOCK=1, TCP_NODELAY=1%s, %s", LIBMEMCACHED_VERSION_STRING,
             binary ? "binary" : "text", dist, how);
    return r;
}

int lmc_runners(const workload *w, runner **out, int max, const char **why)
{
    int apis[3], napi = 0;
    *why = NULL;
    switch (w->id) {
    case W_GET:
    case W_GET64K:
        apis[napi++] = API_MGET_FETCH;
        apis[napi++] = API_GET;
        break;
    case W_SET:
        apis[napi++] = API_SET;
        break;
    case W_GETM:
    case W_GETM4:
    case W_GETM_META:
    case W_MISSM:
    case W_SCALE1:
    case W_SCALE8:
    case W_SCALE32:
        apis[napi++] = API_MGET_FETCH;
        apis[napi++] = API_FETCH_EXECUTE;
        break;
    case W_SETM:
        apis[napi++] = API_SET_BUFFERED_FETCH;
        apis[napi++] = API_SET_BUFFERED;
        break;
    case W_ASYNC:
    case W_ASYNC4:
        /* One key per blocking call (see run_async_loop), then the mget
         * reference. */
        apis[napi++] = API_GET;
        apis[napi++] = API_MGET_FETCH;
        apis[napi++] = API_MGET_WINDOW;
        break;
    default:
        *why = "no equivalent";
        return 0;
    }
    int n = 0;
    for (int binary = 0; binary <= 1; binary++)
        for (int a = 0; a < napi && n < max; a++) {
            /* Only the binary protocol hands buffered-set replies to
             * memcached_fetch_result. */
            if (apis[a] == API_SET_BUFFERED_FETCH && !binary)
                continue;
            runner *r = make(w, binary, apis[a]);
            if (r)
                out[n++] = r;
        }
    return n;
}
