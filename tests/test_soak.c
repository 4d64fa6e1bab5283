/* test_soak.c - a bounded soak test: four real memcached servers, four
 * client threads (one mcf_client each) running a mixed workload while a
 * chaos thread SIGKILLs and restarts servers and once SIGSTOPs one.  The
 * last server is reached over TLS (memcached -Z) when TLS can be tested.
 *
 * Asserted:
 *   - no wrong value, ever: every value read is checked against a model of
 *     what its key may hold (values carry key, version and a checksum, so
 *     a value handed to the wrong key is caught too);
 *   - errors only on keys of a server that was down (killed or stopped)
 *     during or just before the call, and only of the expected types
 *     (CONNECT, IO, TIMEOUT, SERVER_DOWN; never PROTOCOL);
 *   - no call outlives connect timeout + I/O timeout (plus slack);
 *   - recovery: after the last restart and a settle period every thread
 *     writes and reads back all its keys without one error;
 *   - open file descriptors equal at start and end (clients freed), and
 *     never above start + one socket per (client, server) during the run;
 *   - RSS does not grow between the 25% mark and the end (not under ASan
 *     or valgrind, whose allocators make RSS meaningless).
 *
 * The model.  Each thread owns its keys, so it knows every write made to
 * them.  A key holds a range [lo, hi] of acceptable versions (data keys)
 * or numbers (counter keys), plus present_ok / absent_ok.  A write that
 * failed may or may not have been applied: it widens the range.  A write
 * that succeeded narrows it to exactly its value - unless the server may
 * still hold stale requests of ours (it was SIGSTOPped, or a call to it
 * timed out, shortly before), which may be applied after it: then it only
 * widens.  A restart loses the server's data: each server has an epoch
 * bumped after each kill; a key's epoch is taken at its last narrowing
 * write, and a miss is accepted when the epoch moved since.
 *
 * Environment:
 *   MCF_SOAK_SECONDS      chaos phase length (default 30; 10 in sanitizer
 *                         builds or when MCF_SANITIZED/SANITIZE is set)
 *   MCF_SOAK_SEED         random seed (default: from time and pid; logged)
 *   MCF_SOAK_IO_TIMEOUT_MS  client I/O and connect timeouts (default 200;
 *                         400 under valgrind)
 *   MCF_SOAK_NO_RSS       skip the RSS assertion */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "tlsfix.h"
#include "mcfast.h"
#include "mcserver.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define SOAK_HAVE_VALGRIND_H 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                     \
    __has_feature(memory_sanitizer)
#define SOAK_SANITIZED 1
#endif
#endif
#ifndef SOAK_SANITIZED
#define SOAK_SANITIZED 0
#endif

#define NSERVERS 4
#define NTHREADS 4
#define NDATA 400      /* data keys per thread */
#define NCTR 48        /* counter keys per thread */
#define NKEYS (NDATA + NCTR)
#define BATCH_MAX 100  /* keys in one multi call */
#define PAD_MAX 3000   /* values up to ~3 KB: some above the 2 KB copy limit */
#define VAL_MAX (PAD_MAX + 128)
#define MAXWIN 256
#define MAX_REPORTS 20 /* detail lines per kind of problem */
#define CTR_SPAN 1000000000000ull /* counter k lives in [base, base + span) */

/* ------------------------------------------------------------------ */
/* Time, random numbers, process figures                              */
/* ------------------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi]. */
static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long size = 0, res = 0;
    int ok = fscanf(f, "%ld %ld", &size, &res) == 2;
    fclose(f);
    return ok ? res * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

static int on_valgrind(void)
{
#ifdef SOAK_HAVE_VALGRIND_H
    if (RUNNING_ON_VALGRIND)
        return 1;
#endif
    return 0;
}

/* ------------------------------------------------------------------ */
/* Shared state                                                        */
/* ------------------------------------------------------------------ */

enum { PHASE_INIT, PHASE_RUN, PHASE_SETTLE, PHASE_RECOVER };

static mcserver g_srv[NSERVERS];
static char g_spec[NSERVERS][TLS_SPEC_MAX]; /* mcfast's spec of each: the last over TLS */
static atomic_int g_phase;
static atomic_int g_ready;
static atomic_uint g_epoch[NSERVERS];
/* Calls starting before this time may leave stale requests queued on the
 * server (it was SIGSTOPped): writes then only widen the model. */
static atomic_llong g_unsettled_until[NSERVERS];
static int64_t g_t0;
static int g_io_timeout_ms;
static int64_t g_grace_us = 500000;
/* Healing (docs/failures.md) with short waits, so a restarted server is
 * used again well inside a down window's grace: the longest wait with its
 * jitter, then the probe's round trip (stepped by the next calls). */
#define SOAK_RETRY_MS 100
#define SOAK_RETRY_MAX_MS 400
#define HEAL_BOUND_US ((int64_t)(SOAK_RETRY_MAX_MS + SOAK_RETRY_MAX_MS / 4) * 1000)
static int64_t g_call_limit_us;

/* Down windows: chaos thread appends, client threads read (under lock). */
typedef struct window {
    int server;
    int kind; /* 'K' killed, 'S' stopped */
    int64_t begin, end; /* end = INT64_MAX while open */
} window;
static window g_win[MAXWIN];
static int g_nwin;
static pthread_mutex_t g_win_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_int g_reports; /* detail lines printed so far */
static int g_kills, g_restarts, g_stops, g_restart_failures;
static int g_fd_max;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    if (atomic_fetch_add(&g_reports, 1) >= 3 * MAX_REPORTS)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("INFO: soak: %s\n", buf);
    fflush(stdout);
}

static double rel_s(int64_t t) { return (double)(t - g_t0) / 1e6; }

/* ------------------------------------------------------------------ */
/* Per-thread state and the key model                                  */
/* ------------------------------------------------------------------ */

typedef struct kstate {
    char key[40];
    size_t klen;
    int is_ctr;
    uint32_t server;
    uint32_t khash;
    uint64_t lo, hi;   /* acceptable versions / counter values */
    uint64_t next_ver; /* data: next version to write */
    uint64_t base;     /* counter: its private number range */
    int present_ok, absent_ok;
    unsigned epoch;    /* server epoch at the last narrowing write */
} kstate;

typedef struct worker {
    int id;
    mcf_client *c;
    uint64_t rng;
    int max_failures; /* exercises MCF_OPT_MAX_FAILURES/FAILURE_TIMEOUT_S */
    int64_t post_grace_us;
    kstate k[NKEYS];
    int64_t local_unsettled[NSERVERS];

    /* scratch for multi calls */
    uint32_t mark[NKEYS], stamp; /* pick_keys: chosen in this pick */
    size_t sel[BATCH_MAX];
    const char *kptr[BATCH_MAX];
    size_t klen[BATCH_MAX];
    mcf_item items[BATCH_MAX];
    char (*vals)[VAL_MAX];
    int grc[BATCH_MAX];        /* get_multi: rc per index */
    int gform[BATCH_MAX];      /* get_multi: value well formed */
    uint64_t gnum[BATCH_MAX];  /* get_multi: version/number */
    int gcalls[BATCH_MAX];     /* get_multi: callbacks per index */
    char gwhy[BATCH_MAX][96];

    /* figures */
    uint64_t ops, gets, sets, deletes, incrs, touches, hits, misses;
    uint64_t errors, wrong, unexplained, badtype, badrc, slow;
    uint64_t rec_errors, rec_wrong, rec_ops;
    uint64_t by_rc[MCF_ERR_LAST + 1];
    int64_t max_call_us;
    int init_errors;
} worker;

static worker g_w[NTHREADS];

static void make_key(worker *w, size_t i)
{
    kstate *k = &w->k[i];
    k->is_ctr = i >= NDATA;
    k->klen = (size_t)snprintf(k->key, sizeof k->key, "soak:t%d:%c%zu", w->id,
                               k->is_ctr ? 'c' : 'd', k->is_ctr ? i - NDATA : i);
    k->khash = (uint32_t)fnv1a(k->key, k->klen);
    size_t srv = 0;
    if (mcf_server_for_key(w->c, k->key, k->klen, &srv) != MCF_OK)
        srv = 0;
    k->server = (uint32_t)srv;
    k->next_ver = 1;
    k->base = ((uint64_t)w->id * NKEYS + i + 1) * CTR_SPAN;
    k->lo = 1; /* nothing written: no version acceptable */
    k->hi = 0;
    k->present_ok = 0;
    k->absent_ok = 1;
    k->epoch = atomic_load(&g_epoch[srv]);
}

static uint32_t data_flags(const kstate *k, uint64_t ver)
{
    return k->khash ^ (uint32_t)(ver * 0x9E3779B1u);
}

/* "K<key>|V<ver>|<pad>|C<16 hex>" with the checksum over all before "|C". */
static size_t make_value(worker *w, const kstate *k, uint64_t ver, char *buf)
{
    size_t pad = rng_next(&w->rng) % 5 == 0 ? (size_t)rng_range(&w->rng, 2100, PAD_MAX)
                                            : (size_t)rng_range(&w->rng, 0, 200);
    size_t n = (size_t)snprintf(buf, VAL_MAX, "K%s|V%" PRIu64 "|", k->key, ver);
    for (size_t i = 0; i < pad; i++)
        buf[n++] = (char)('a' + (ver + i * 7) % 26);
    uint64_t h = fnv1a(buf, n);
    n += (size_t)snprintf(buf + n, VAL_MAX - n, "|C%016" PRIx64, h);
    return n;
}

/* Well formed for this key?  Fills *num with the version or counter value. */
static int parse_value(const kstate *k, const char *v, size_t len, uint32_t flags, uint64_t *num,
                       char *why, size_t whylen)
{
    if (k->is_ctr) {
        uint64_t x = 0;
        size_t i = 0;
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
            x = x * 10 + (uint64_t)(v[i] - '0');
        size_t digits = i;
        while (i < len && v[i] == ' ') /* memcached pads a shrunk number */
            i++;
        if (digits == 0 || i != len) {
            snprintf(why, whylen, "counter value '%.*s' is not a number", (int)(len > 40 ? 40 : len),
                     v);
            return -1;
        }
        if (flags != k->khash) {
            snprintf(why, whylen, "counter flags %u, want %u", flags, k->khash);
            return -1;
        }
        *num = x;
        return 0;
    }
    if (len < 20 || v[0] != 'K' || len > VAL_MAX) {
        snprintf(why, whylen, "malformed value (%zu bytes) '%.*s'", len, (int)(len > 40 ? 40 : len), v);
        return -1;
    }
    const char *bar = memchr(v, '|', len);
    if (!bar || (size_t)(bar - v - 1) != k->klen || memcmp(v + 1, k->key, k->klen) != 0) {
        snprintf(why, whylen, "value of another key: '%.*s'",
                 (int)(bar ? (bar - v > 60 ? 60 : bar - v) : 40), v);
        return -1;
    }
    size_t body = len - 18;
    if (v[body] != '|' || v[body + 1] != 'C') {
        snprintf(why, whylen, "value has no checksum trailer");
        return -1;
    }
    char hex[17];
    memcpy(hex, v + body + 2, 16);
    hex[16] = 0;
    if (strtoull(hex, NULL, 16) != fnv1a(v, body)) {
        snprintf(why, whylen, "checksum mismatch (%zu bytes)", len);
        return -1;
    }
    const char *p = bar + 1;
    if (*p != 'V') {
        snprintf(why, whylen, "no version");
        return -1;
    }
    uint64_t ver = strtoull(p + 1, NULL, 10);
    if (flags != data_flags(k, ver)) {
        snprintf(why, whylen, "flags %u, want %u for version %" PRIu64, flags, data_flags(k, ver),
                 ver);
        return -1;
    }
    *num = ver;
    return 0;
}

static int epoch_moved(const kstate *k) { return atomic_load(&g_epoch[k->server]) != k->epoch; }

/* A write starting at t0 may narrow the model only when no stale request
 * of ours can still be applied after it. */
static int may_narrow(const worker *w, const kstate *k, int64_t t0)
{
    return t0 >= atomic_load(&g_unsettled_until[k->server]) && t0 >= w->local_unsettled[k->server];
}

static void wrong(worker *w, const kstate *k, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wrong(worker *w, const kstate *k, const char *op, const char *fmt, ...)
{
    int recovering = atomic_load(&g_phase) == PHASE_RECOVER;
    if (recovering)
        w->rec_wrong++;
    else
        w->wrong++;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    report("WRONG t%d %s key %s (server %u) at %.3f s: %s [model lo=%" PRIu64 " hi=%" PRIu64
           " present_ok=%d absent_ok=%d epoch=%u now %u]",
           w->id, op, k->key, k->server, rel_s(now_us()), buf, k->lo, k->hi, k->present_ok,
           k->absent_ok, k->epoch, atomic_load(&g_epoch[k->server]));
}

static int allowed_type(int rc)
{
    return rc == MCF_ERR_CONNECT || rc == MCF_ERR_IO || rc == MCF_ERR_TIMEOUT ||
           rc == MCF_ERR_SERVER_DOWN;
}

/* Was server s down (or being taken down) around [t0, t1]? */
static int server_was_down(const worker *w, uint32_t s, int64_t t0, int64_t t1)
{
    int ok = 0;
    pthread_mutex_lock(&g_win_lock);
    for (int i = 0; i < g_nwin && !ok; i++) {
        const window *x = &g_win[i];
        if (x->server != (int)s)
            continue;
        int64_t end = x->end == INT64_MAX ? INT64_MAX : x->end + w->post_grace_us;
        if (t1 >= x->begin - 20000 && t0 <= end)
            ok = 1;
    }
    pthread_mutex_unlock(&g_win_lock);
    return ok;
}

/* Accounts an error rc on key k for a call over [t0, t1]. */
static void note_error(worker *w, const kstate *k, int rc, int64_t t0, int64_t t1, const char *op)
{
    int recovering = atomic_load(&g_phase) == PHASE_RECOVER;
    if (recovering) {
        w->rec_errors++;
        report("RECOVERY ERROR t%d %s key %s (server %u %s) at %.3f s: rc %d %s: %s", w->id, op,
               k->key, k->server, g_srv[k->server].spec, rel_s(t1), rc, mcf_strerror(rc),
               mcf_last_error(w->c));
        return;
    }
    w->errors++;
    if (rc >= 0 && rc <= MCF_ERR_LAST)
        w->by_rc[rc]++;
    /* Stale requests may still be queued on that server. */
    if (t1 + g_grace_us > w->local_unsettled[k->server])
        w->local_unsettled[k->server] = t1 + g_grace_us;
    if (!allowed_type(rc)) {
        w->badtype++;
        report("UNEXPECTED ERROR TYPE t%d %s key %s (server %u) at %.3f s: rc %d %s: %s", w->id, op,
               k->key, k->server, rel_s(t1), rc, mcf_strerror(rc), mcf_last_error(w->c));
    }
    if (!server_was_down(w, k->server, t0, t1)) {
        w->unexplained++;
        report("ERROR ON A LIVE SERVER t%d %s key %s (server %u) call %.3f..%.3f s: rc %d %s: %s",
               w->id, op, k->key, k->server, rel_s(t0), rel_s(t1), rc, mcf_strerror(rc),
               mcf_last_error(w->c));
    }
}

static void bad_rc(worker *w, const kstate *k, const char *op, int rc)
{
    w->badrc++;
    report("UNEXPECTED RESULT t%d %s key %s: rc %d %s: %s", w->id, op, k->key, rc, mcf_strerror(rc),
           mcf_last_error(w->c));
}

static void call_done(worker *w, int64_t t0, int64_t t1, const char *op)
{
    w->ops++;
    if (t1 - t0 > w->max_call_us)
        w->max_call_us = t1 - t0;
    if (t1 - t0 > g_call_limit_us) {
        w->slow++;
        report("SLOW CALL t%d %s took %.0f ms (limit %.0f ms) at %.3f s", w->id, op,
               (double)(t1 - t0) / 1e3, (double)g_call_limit_us / 1e3, rel_s(t1));
    }
}

/* ---- model transitions ---- */

/* A write of version/number x to k; rc is its outcome. */
static void after_write(worker *w, kstate *k, uint64_t x, int rc, int narrow, unsigned epoch0,
                        int64_t t0, int64_t t1, const char *op)
{
    w->sets++;
    if (rc == MCF_OK && narrow) {
        k->lo = k->hi = x;
        k->present_ok = 1;
        k->absent_ok = 0;
        k->epoch = epoch0;
        return;
    }
    if (rc != MCF_OK) {
        if (mcf_is_error(rc))
            note_error(w, k, rc, t0, t1, op);
        else
            bad_rc(w, k, op, rc);
    }
    /* Maybe applied, maybe not, maybe overtaken by a stale request. */
    if (!k->present_ok)
        k->lo = x;
    if (x > k->hi)
        k->hi = x;
    k->present_ok = 1;
}

/* A read of k that returned rc and, on a hit, a well-formed (form == 0)
 * value numbered num. */
static void after_read(worker *w, kstate *k, int rc, int form, uint64_t num, const char *why,
                       int64_t t0, int64_t t1, const char *op)
{
    w->gets++;
    if (rc == MCF_OK) {
        w->hits++;
        if (form != 0)
            wrong(w, k, op, "%s", why);
        else if (!k->present_ok || num < k->lo || num > k->hi)
            wrong(w, k, op, "read %s %" PRIu64 ", not an acceptable one",
                  k->is_ctr ? "number" : "version", num);
        return;
    }
    if (rc == MCF_MISS) {
        w->misses++;
        if (!k->absent_ok && !epoch_moved(k))
            wrong(w, k, op, "miss, but the key must exist (its server was not restarted)");
        return;
    }
    if (mcf_is_error(rc))
        note_error(w, k, rc, t0, t1, op);
    else
        bad_rc(w, k, op, rc);
}

/* delete: DELETED / NOT_FOUND / error. */
static void after_delete(worker *w, kstate *k, int rc, int narrow, unsigned epoch0, int64_t t0,
                         int64_t t1, const char *op)
{
    w->deletes++;
    if (rc == MCF_OK && !k->present_ok)
        wrong(w, k, op, "DELETED a key that cannot exist");
    else if (rc == MCF_NOT_FOUND && !k->absent_ok && !epoch_moved(k))
        wrong(w, k, op, "NOT_FOUND, but the key must exist");
    else if (rc != MCF_OK && rc != MCF_NOT_FOUND) {
        if (mcf_is_error(rc))
            note_error(w, k, rc, t0, t1, op);
        else
            bad_rc(w, k, op, rc);
    }
    if ((rc == MCF_OK || rc == MCF_NOT_FOUND) && narrow) {
        k->present_ok = 0;
        k->absent_ok = 1;
        k->lo = k->hi + 1;
        k->epoch = epoch0;
    } else {
        k->absent_ok = 1;
    }
}

static void after_touch(worker *w, kstate *k, int rc, int64_t t0, int64_t t1, const char *op)
{
    w->touches++;
    if (rc == MCF_OK && !k->present_ok)
        wrong(w, k, op, "TOUCHED a key that cannot exist");
    else if (rc == MCF_NOT_FOUND && !k->absent_ok && !epoch_moved(k))
        wrong(w, k, op, "NOT_FOUND, but the key must exist");
    else if (rc != MCF_OK && rc != MCF_NOT_FOUND) {
        if (mcf_is_error(rc))
            note_error(w, k, rc, t0, t1, op);
        else
            bad_rc(w, k, op, rc);
    }
}

/* incr by d: returns 1 when the counter is gone (NOT_FOUND). */
static int after_incr(worker *w, kstate *k, uint64_t d, int rc, uint64_t n, int narrow,
                      unsigned epoch0, int64_t t0, int64_t t1, const char *op)
{
    w->incrs++;
    if (rc == MCF_OK) {
        if (!k->present_ok || n < k->lo + d || n > k->hi + d)
            wrong(w, k, op, "incr by %" PRIu64 " gave %" PRIu64, d, n);
        if (narrow) {
            k->lo = k->hi = n;
            k->present_ok = 1;
            k->absent_ok = 0;
            k->epoch = epoch0;
        } else {
            k->hi += d;
            if (n > k->hi)
                k->hi = n;
        }
        return 0;
    }
    if (rc == MCF_NOT_FOUND) {
        if (!k->absent_ok && !epoch_moved(k))
            wrong(w, k, op, "incr NOT_FOUND, but the counter must exist");
        if (narrow) {
            k->present_ok = 0;
            k->absent_ok = 1;
            k->lo = k->hi + 1;
            k->epoch = epoch0;
        } else {
            k->absent_ok = 1;
        }
        return 1;
    }
    if (mcf_is_error(rc))
        note_error(w, k, rc, t0, t1, op);
    else
        bad_rc(w, k, op, rc);
    k->hi += d; /* maybe applied */
    return 0;
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* The next value written to k: a new version, or a counter number above
 * every earlier one. */
static uint64_t next_number(kstate *k)
{
    if (!k->is_ctr)
        return k->next_ver++;
    uint64_t x = k->hi + 1;
    if (x < k->base)
        x = k->base;
    return x;
}

static size_t fill_item(worker *w, size_t slot, kstate *k, uint64_t x)
{
    char *buf = w->vals[slot];
    size_t n;
    uint32_t flags;
    if (k->is_ctr) {
        n = (size_t)snprintf(buf, VAL_MAX, "%" PRIu64, x);
        flags = k->khash;
    } else {
        n = make_value(w, k, x, buf);
        flags = data_flags(k, x);
    }
    w->items[slot] = (mcf_item){.key = k->key, .key_len = k->klen, .value = buf, .value_len = n,
                                .flags = flags};
    return n;
}

static void op_store(worker *w, kstate *k, unsigned call_flags)
{
    uint64_t x = next_number(k);
    fill_item(w, 0, k, x);
    unsigned e0 = atomic_load(&g_epoch[k->server]);
    int64_t t0 = now_us();
    int rc = mcf_store(w->c, MCF_SET, k->key, k->klen, w->items[0].value, w->items[0].value_len,
                       w->items[0].flags, 0, 0, call_flags);
    int64_t t1 = now_us();
    const char *name = call_flags & MCF_CALL_NOREPLY ? "set_noreply" : "set";
    call_done(w, t0, t1, name);
    /* noreply: OK only means "handed to the kernel" - it never narrows. */
    after_write(w, k, x, rc, !(call_flags & MCF_CALL_NOREPLY) && may_narrow(w, k, t0), e0, t0, t1,
                name);
}

static void op_set(worker *w, kstate *k) { op_store(w, k, 0); }

/* Closes every connection (synchronising noreply traffic first). */
static void op_disconnect(worker *w)
{
    int64_t t0 = now_us();
    mcf_disconnect_all(w->c);
    call_done(w, t0, now_us(), "disconnect_all");
}

static void op_get(worker *w, kstate *k, int gets)
{
    mcf_value v;
    int64_t t0 = now_us();
    int rc = gets ? mcf_gets(w->c, k->key, k->klen, &v) : mcf_get(w->c, k->key, k->klen, &v);
    int64_t t1 = now_us();
    call_done(w, t0, t1, gets ? "gets" : "get");
    uint64_t num = 0;
    char why[96] = "";
    int form = rc == MCF_OK ? parse_value(k, v.data, v.len, v.flags, &num, why, sizeof why) : 0;
    if (rc == MCF_OK && gets && v.cas == 0) {
        form = -1;
        snprintf(why, sizeof why, "gets returned cas 0");
    }
    after_read(w, k, rc, form, num, why, t0, t1, gets ? "gets" : "get");
}

static void op_delete(worker *w, kstate *k)
{
    unsigned e0 = atomic_load(&g_epoch[k->server]);
    int64_t t0 = now_us();
    int rc = mcf_delete(w->c, k->key, k->klen, 0);
    int64_t t1 = now_us();
    call_done(w, t0, t1, "delete");
    after_delete(w, k, rc, may_narrow(w, k, t0), e0, t0, t1, "delete");
}

static void op_touch(worker *w, kstate *k)
{
    int64_t t0 = now_us();
    int rc = mcf_touch(w->c, k->key, k->klen, 0, 0);
    int64_t t1 = now_us();
    call_done(w, t0, t1, "touch");
    after_touch(w, k, rc, t0, t1, "touch");
}

static void op_incr(worker *w, kstate *k)
{
    uint64_t d = (uint64_t)rng_range(&w->rng, 1, 100), n = 0;
    unsigned e0 = atomic_load(&g_epoch[k->server]);
    int64_t t0 = now_us();
    int rc = mcf_incr(w->c, k->key, k->klen, d, &n, 0);
    int64_t t1 = now_us();
    call_done(w, t0, t1, "incr");
    if (after_incr(w, k, d, rc, n, may_narrow(w, k, t0), e0, t0, t1, "incr"))
        op_set(w, k); /* the counter is gone (restart or delete): start it again */
}

/* Picks n distinct keys from [from, to) of the key array into w->sel. */
static size_t pick_keys(worker *w, size_t n, size_t from, size_t to)
{
    size_t span = to - from;
    if (n > span)
        n = span;
    if (++w->stamp == 0) {
        memset(w->mark, 0, sizeof w->mark);
        w->stamp = 1;
    }
    for (size_t i = 0; i < n;) {
        size_t j = from + (size_t)(rng_next(&w->rng) % span);
        if (w->mark[j] == w->stamp)
            continue;
        w->mark[j] = w->stamp;
        w->sel[i++] = j;
    }
    return n;
}

typedef struct getctx {
    worker *w;
    size_t n;
    int bad_index;
} getctx;

static void multi_cb(void *ctx, size_t index, int rc, const mcf_value *v)
{
    getctx *g = ctx;
    worker *w = g->w;
    if (index >= g->n) {
        g->bad_index++;
        return;
    }
    w->gcalls[index]++;
    w->grc[index] = rc;
    w->gform[index] = 0;
    w->gnum[index] = 0;
    w->gwhy[index][0] = 0;
    if (rc == MCF_OK) {
        if (!v) {
            w->gform[index] = -1;
            snprintf(w->gwhy[index], sizeof w->gwhy[index], "hit with NULL value");
        } else {
            w->gform[index] = parse_value(&w->k[w->sel[index]], v->data, v->len, v->flags,
                                          &w->gnum[index], w->gwhy[index], sizeof w->gwhy[index]);
        }
    } else if (v) {
        w->gform[index] = -1;
        snprintf(w->gwhy[index], sizeof w->gwhy[index], "rc %d with a value", rc);
    }
}

/* get_multi over the keys in w->sel[0..n). */
static void get_multi_sel(worker *w, size_t n, mcf_get_mode mode)
{
    for (size_t i = 0; i < n; i++) {
        w->kptr[i] = w->k[w->sel[i]].key;
        w->klen[i] = w->k[w->sel[i]].klen;
        w->gcalls[i] = 0;
    }
    getctx ctx = {w, n, 0};
    int64_t t0 = now_us();
    int rc = mcf_get_multi(w->c, mode, 0, w->kptr, w->klen, n, multi_cb, &ctx);
    int64_t t1 = now_us();
    call_done(w, t0, t1, "get_multi");
    int any_error = 0;
    if (ctx.bad_index)
        wrong(w, &w->k[w->sel[0]], "get_multi", "%d callbacks with an index out of range",
              ctx.bad_index);
    for (size_t i = 0; i < n; i++) {
        kstate *k = &w->k[w->sel[i]];
        if (w->gcalls[i] != 1) {
            wrong(w, k, "get_multi", "%d callbacks for one key", w->gcalls[i]);
            continue;
        }
        if (mcf_is_error(w->grc[i]))
            any_error = 1;
        after_read(w, k, w->grc[i], w->gform[i], w->gnum[i], w->gwhy[i], t0, t1, "get_multi");
    }
    if (mcf_is_error(rc) != any_error) {
        w->badrc++;
        report("get_multi t%d returned %d but per-key errors=%d", w->id, rc, any_error);
    }
}

/* mcf_multi over w->sel[0..n): SET, DELETE, TOUCH or INCR. */
static void multi_sel(worker *w, size_t n, mcf_op op)
{
    uint64_t x[BATCH_MAX];
    unsigned e0[BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        kstate *k = &w->k[w->sel[i]];
        e0[i] = atomic_load(&g_epoch[k->server]);
        if (op == MCF_OP_SET) {
            x[i] = next_number(k);
            fill_item(w, i, k, x[i]);
        } else {
            w->items[i] = (mcf_item){.key = k->key, .key_len = k->klen};
            if (op == MCF_OP_INCR)
                w->items[i].delta = x[i] = (uint64_t)rng_range(&w->rng, 1, 100);
        }
        w->items[i].rc = -1;
    }
    const char *name = op == MCF_OP_SET      ? "multi_set"
                       : op == MCF_OP_DELETE ? "multi_delete"
                       : op == MCF_OP_TOUCH  ? "multi_touch"
                                             : "multi_incr";
    int64_t t0 = now_us();
    int rc = mcf_multi(w->c, op, w->items, n, 0);
    int64_t t1 = now_us();
    call_done(w, t0, t1, name);
    int any_error = 0;
    for (size_t i = 0; i < n; i++) {
        kstate *k = &w->k[w->sel[i]];
        int irc = w->items[i].rc, narrow = may_narrow(w, k, t0);
        if (mcf_is_error(irc))
            any_error = 1;
        if (irc == -1) {
            wrong(w, k, name, "item left without a result");
            continue;
        }
        if (op == MCF_OP_SET)
            after_write(w, k, x[i], irc, narrow, e0[i], t0, t1, name);
        else if (op == MCF_OP_DELETE)
            after_delete(w, k, irc, narrow, e0[i], t0, t1, name);
        else if (op == MCF_OP_TOUCH)
            after_touch(w, k, irc, t0, t1, name);
        else if (after_incr(w, k, x[i], irc, w->items[i].number, narrow, e0[i], t0, t1, name))
            op_set(w, k);
    }
    if (mcf_is_error(rc) != any_error) {
        w->badrc++;
        report("%s t%d returned %d but per-item errors=%d", name, w->id, rc, any_error);
    }
}

/* Writes every key (in batches), then reads every key back. */
static void full_round(worker *w)
{
    for (size_t from = 0; from < NKEYS; from += BATCH_MAX) {
        size_t n = NKEYS - from < BATCH_MAX ? NKEYS - from : BATCH_MAX;
        for (size_t i = 0; i < n; i++)
            w->sel[i] = from + i;
        multi_sel(w, n, MCF_OP_SET);
    }
    for (size_t from = 0; from < NKEYS; from += BATCH_MAX) {
        size_t n = NKEYS - from < BATCH_MAX ? NKEYS - from : BATCH_MAX;
        for (size_t i = 0; i < n; i++)
            w->sel[i] = from + i;
        get_multi_sel(w, n, MCF_GET);
    }
}

static void workload_step(worker *w)
{
    int r = (int)(rng_next(&w->rng) % 100);
    size_t any = (size_t)(rng_next(&w->rng) % NKEYS);
    size_t data = (size_t)(rng_next(&w->rng) % NDATA);
    size_t ctr = NDATA + (size_t)(rng_next(&w->rng) % NCTR);
    if (r < 22)
        op_get(w, &w->k[r < 4 ? ctr : data], 0);
    else if (r < 25)
        op_get(w, &w->k[any], 1);
    else if (r < 38)
        op_set(w, &w->k[data]);
    else if (r < 40)
        op_store(w, &w->k[data], MCF_CALL_NOREPLY);
    else if (r < 53)
        get_multi_sel(w, pick_keys(w, (size_t)rng_range(&w->rng, 20, 100), 0, NKEYS),
                      r < 50 ? MCF_GET : MCF_GETS);
    else if (r < 63)
        multi_sel(w, pick_keys(w, (size_t)rng_range(&w->rng, 5, 50), 0, NDATA), MCF_OP_SET);
    else if (r < 70)
        op_delete(w, &w->k[any]);
    else if (r < 80)
        op_incr(w, &w->k[ctr]);
    else if (r < 85)
        multi_sel(w, pick_keys(w, (size_t)rng_range(&w->rng, 2, 10), NDATA, NKEYS), MCF_OP_INCR);
    else if (r < 91)
        op_touch(w, &w->k[any]);
    else if (r < 95)
        multi_sel(w, pick_keys(w, (size_t)rng_range(&w->rng, 2, 10), 0, NKEYS), MCF_OP_DELETE);
    else if (r < 99)
        multi_sel(w, pick_keys(w, (size_t)rng_range(&w->rng, 5, 20), 0, NKEYS), MCF_OP_TOUCH);
    else
        op_disconnect(w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    /* Before the chaos: every key written and read back, no error. */
    uint64_t e = w->errors + w->badrc + w->badtype;
    full_round(w);
    w->init_errors = (int)(w->errors + w->badrc + w->badtype - e);
    atomic_fetch_add(&g_ready, 1);
    while (atomic_load(&g_phase) == PHASE_INIT)
        sleep_ms(1);
    while (atomic_load(&g_phase) == PHASE_RUN)
        workload_step(w);
    /* Settling: with no event loop, a down server's probe is stepped by
     * the client's next calls (docs/failures.md), so the client keeps
     * calling, results unjudged (a version per server: no key's model
     * moves).  Idle, a server restarted just before the chaos ended would
     * still be down when the recovery round's first call came. */
    while (atomic_load(&g_phase) == PHASE_SETTLE) {
        char version[64];
        for (size_t i = 0; i < NSERVERS; i++)
            (void)mcf_version(w->c, i, version, sizeof version);
        sleep_ms(5);
    }
    /* Recovery: every key written and read back, no error. */
    uint64_t ops0 = w->ops;
    full_round(w);
    for (size_t from = NDATA; from < NKEYS; from += BATCH_MAX) {
        size_t n = NKEYS - from < BATCH_MAX ? NKEYS - from : BATCH_MAX;
        for (size_t i = 0; i < n; i++)
            w->sel[i] = from + i;
        multi_sel(w, n, MCF_OP_INCR);
    }
    for (int i = 0; i < 40; i++) {
        kstate *k = &w->k[(size_t)(rng_next(&w->rng) % NKEYS)];
        op_set(w, k);
        op_get(w, k, 0);
    }
    w->rec_ops = w->ops - ops0;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Chaos                                                               */
/* ------------------------------------------------------------------ */

static uint64_t g_chaos_rng;
static int64_t g_run_end_us;
static int g_stop_ms = 1000;

static int open_window(int s, int kind)
{
    pthread_mutex_lock(&g_win_lock);
    int i = g_nwin < MAXWIN ? g_nwin++ : -1;
    if (i >= 0)
        g_win[i] = (window){s, kind, now_us(), INT64_MAX};
    pthread_mutex_unlock(&g_win_lock);
    return i;
}

static void close_window(int i)
{
    if (i < 0)
        return;
    pthread_mutex_lock(&g_win_lock);
    g_win[i].end = now_us();
    pthread_mutex_unlock(&g_win_lock);
}

static void *chaos_main(void *arg)
{
    (void)arg;
    /* Short runs (valgrind) space events closer so both kinds fit. */
    int short_run = g_run_end_us - now_us() < 10000000;
    int64_t gap_lo = short_run ? 1500 : 2000, gap_hi = short_run ? 2000 : 3000;
    int64_t next = now_us() + rng_range(&g_chaos_rng, 1000, short_run ? 1500 : 2000) * 1000;
    int events = 0;
    for (;;) {
        int stop = events == 1; /* the second event is the SIGSTOP */
        int64_t down_ms = stop ? g_stop_ms : rng_range(&g_chaos_rng, 500, 1000);
        if (next + down_ms * 1000 + 300000 > g_run_end_us)
            break;
        sleep_ms((next - now_us()) / 1000);
        int s = (int)rng_range(&g_chaos_rng, 0, NSERVERS - 1);
        events++;
        if (stop) {
            atomic_store(&g_unsettled_until[s], INT64_MAX);
            int wi = open_window(s, 'S');
            mcserver_kill(&g_srv[s], SIGSTOP);
            g_stops++;
            printf("INFO: soak: %.3f s: SIGSTOP server %d (%s) for %lld ms\n", rel_s(now_us()), s,
                   g_srv[s].spec, (long long)down_ms);
            sleep_ms(down_ms);
            mcserver_kill(&g_srv[s], SIGCONT);
            close_window(wi);
            atomic_store(&g_unsettled_until[s], now_us() + g_grace_us);
            printf("INFO: soak: %.3f s: SIGCONT server %d\n", rel_s(now_us()), s);
        } else {
            int wi = open_window(s, 'K');
            mcserver_kill(&g_srv[s], SIGKILL);
            /* After the kill: a write that starts later cannot succeed
             * before the restart, one that started earlier is counted
             * as lost. */
            atomic_fetch_add(&g_epoch[s], 1);
            g_kills++;
            printf("INFO: soak: %.3f s: SIGKILL server %d (%s), restart in %lld ms\n",
                   rel_s(now_us()), s, g_srv[s].spec, (long long)down_ms);
            sleep_ms(down_ms);
            int ok = -1;
            for (int tries = 0; tries < 5 && ok != 0; tries++)
                if ((ok = mcserver_restart(&g_srv[s])) != 0)
                    sleep_ms(200);
            if (ok == 0)
                g_restarts++;
            else
                g_restart_failures++;
            close_window(wi);
            printf("INFO: soak: %.3f s: restart server %d: %s\n", rel_s(now_us()), s,
                   ok == 0 ? "up" : "FAILED");
        }
        fflush(stdout);
        next += rng_range(&g_chaos_rng, gap_lo, gap_hi) * 1000;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Servers and clients                                                 */
/* ------------------------------------------------------------------ */

static mcf_client *soak_client(int id, int io_ms)
{
    char list[1024];
    size_t off = 0;
    for (int i = 0; i < NSERVERS; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? "," : "", g_spec[i]);
    mcf_client *c = mcf_new();
    if (!c)
        return NULL;
    int rc = mcf_set_servers(c, list);
    rc |= tls_soak_client(c);
    rc |= mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, io_ms);
    rc |= mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, io_ms);
    rc |= mcf_set_option(c, MCF_OPT_RETRY_MS, SOAK_RETRY_MS);
    rc |= mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, SOAK_RETRY_MAX_MS);
    if (id == 1)
        rc |= mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_CMF);
    if (id == 2)
        rc |= mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_LIBMEMCACHED);
    if (id == NTHREADS - 1) {
        rc |= mcf_set_option(c, MCF_OPT_MAX_FAILURES, 2);
        rc |= mcf_set_option(c, MCF_OPT_FAILURE_TIMEOUT_S, 1);
    }
    if (rc != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

static void stop_servers(void)
{
    for (int i = 0; i < NSERVERS; i++)
        if (g_srv[i].pid > 0) {
            kill(g_srv[i].pid, SIGCONT);
            mcserver_kill(&g_srv[i], SIGKILL);
        }
}

/* ------------------------------------------------------------------ */
/* The run, shared by every case                                       */
/* ------------------------------------------------------------------ */

/* The configuration main reads from the environment. */
static int64_t g_seconds;
static uint64_t g_seed;
static int g_valgrind, g_sanitized, g_check_rss;

/* What the run measured, for the cases to assert on. */
typedef struct figures {
    int fd_start, fd_end;
    long rss_25, rss_end; /* KB at the 25% mark and at the end */
    int64_t settle_ms, max_call;
    uint64_t ops, gets, sets, dels, incrs, touches, hits, misses;
    uint64_t errors, wrongs, unexplained, badtype, badrc, slow;
    uint64_t rec_errors, rec_wrong, rec_ops, by_rc[MCF_ERR_LAST + 1];
} figures;
static figures F;

/* One soak per process: the first case that needs it sets it up and runs
 * it, so any case also works alone. */
enum { SOAK_NOT_STARTED, SOAK_READY, SOAK_FAILED, SOAK_DONE };
static int g_soak = SOAK_NOT_STARTED;
static pthread_t g_th[NTHREADS];
static int g_nthreads; /* worker threads started and not joined yet */

/* Servers up, clients made, every worker has written and read back its
 * keys.  0 when ready; after a failure (a FAIL line in the case that
 * tried) later cases are skipped. */
static int soak_setup(void)
{
    if (g_soak == SOAK_FAILED) {
        t_skip_case("the soak could not be set up");
        return -1;
    }
    if (g_soak != SOAK_NOT_STARTED)
        return 0;
    g_soak = SOAK_FAILED;
    printf("INFO: soak: seed=%" PRIu64 " seconds=%" PRId64 " io_timeout_ms=%d threads=%d servers=%d"
           " keys/thread=%d%s%s (replay: MCF_SOAK_SEED=%" PRIu64 " MCF_SOAK_SECONDS=%" PRId64 ")\n",
           g_seed, g_seconds, g_io_timeout_ms, NTHREADS, NSERVERS, NKEYS,
           g_sanitized ? " sanitized" : "", g_valgrind ? " valgrind" : "", g_seed, g_seconds);
    /* Under valgrind a TLS handshake alone outlasts the soak's timeouts. */
    if (tls_soak_servers(g_srv, NSERVERS, "-m 64 -c 4096", g_spec,
                         g_valgrind ? "under valgrind (handshakes outlast the timeouts)" : NULL) < 0)
        return -1;
    g_t0 = now_us();
    F.fd_start = count_fds();
    g_fd_max = F.fd_start;
    for (int i = 0; i < NTHREADS; i++) {
        worker *w = &g_w[i];
        w->id = i;
        w->rng = (g_seed + (uint64_t)i * 0x51ED27u) * 0x9E3779B97F4A7C15ull | 1;
        w->max_failures = i == NTHREADS - 1;
        /* After a restart: Cache::Memcached::Fast's counting waits out its
         * second; healing its wait and a probe. */
        w->post_grace_us = g_grace_us + (w->max_failures ? 1000000 : HEAL_BOUND_US) +
                           g_io_timeout_ms * 1000;
        w->c = soak_client(i, g_io_timeout_ms);
        w->vals = calloc(BATCH_MAX, VAL_MAX);
        if (!w->c || !w->vals) {
            t_fail(__FILE__, __LINE__, "cannot create client %d", i);
            return -1;
        }
        for (size_t j = 0; j < NKEYS; j++)
            make_key(w, j);
    }
    for (int i = 0; i < NTHREADS; i++) {
        if (pthread_create(&g_th[i], NULL, worker_main, &g_w[i]) != 0) {
            t_fail(__FILE__, __LINE__, "pthread_create");
            abort();
        }
        g_nthreads++;
    }
    while (atomic_load(&g_ready) < NTHREADS)
        sleep_ms(5);
    g_soak = SOAK_READY;
    return 0;
}

/* The chaos phase, the settling and the recovery round, then the figures;
 * 0 when they are there. */
static int soak_run(void)
{
    if (soak_setup() != 0)
        return -1;
    if (g_soak == SOAK_DONE)
        return 0;

    /* ---- chaos ---- */
    int64_t run_start = now_us();
    g_run_end_us = run_start + g_seconds * 1000000;
    atomic_store(&g_phase, PHASE_RUN);
    pthread_t chaos;
    if (pthread_create(&chaos, NULL, chaos_main, NULL) != 0)
        abort();
    F.rss_25 = -1;
    int64_t mark25 = run_start + g_seconds * 250000;
    while (now_us() < g_run_end_us) {
        sleep_ms(100);
        int n = count_fds();
        if (n > g_fd_max)
            g_fd_max = n;
        if (F.rss_25 < 0 && now_us() >= mark25)
            F.rss_25 = rss_kb();
    }
    pthread_join(chaos, NULL); /* every server is up and running again */
    atomic_store(&g_phase, PHASE_SETTLE);
    F.settle_ms = 1500 + g_io_timeout_ms; /* > FAILURE_TIMEOUT_S of the max_failures client */
    printf("INFO: soak: %.3f s: chaos over, settling %lld ms\n", rel_s(now_us()),
           (long long)F.settle_ms);
    sleep_ms(F.settle_ms);
    atomic_store(&g_phase, PHASE_RECOVER);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(g_th[i], NULL);
    g_nthreads = 0;
    F.rss_end = rss_kb();
    for (int i = 0; i < NTHREADS; i++) {
        mcf_free(g_w[i].c);
        g_w[i].c = NULL;
    }
    F.fd_end = count_fds();

    /* ---- figures ---- */
    for (int i = 0; i < NTHREADS; i++) {
        worker *w = &g_w[i];
        F.ops += w->ops, F.gets += w->gets, F.sets += w->sets, F.dels += w->deletes;
        F.incrs += w->incrs, F.touches += w->touches, F.hits += w->hits, F.misses += w->misses;
        F.errors += w->errors, F.wrongs += w->wrong, F.unexplained += w->unexplained;
        F.badtype += w->badtype, F.badrc += w->badrc, F.slow += w->slow;
        F.rec_errors += w->rec_errors, F.rec_wrong += w->rec_wrong, F.rec_ops += w->rec_ops;
        for (int r = 0; r <= MCF_ERR_LAST; r++)
            F.by_rc[r] += w->by_rc[r];
        if (w->max_call_us > F.max_call)
            F.max_call = w->max_call_us;
        printf("INFO: soak: thread %d%s: ops=%" PRIu64 " errors=%" PRIu64 " wrong=%" PRIu64
               " max_call_ms=%.1f\n",
               i, w->max_failures ? " (max_failures=2)" : "", w->ops, w->errors, w->wrong,
               (double)w->max_call_us / 1e3);
    }
    printf("INFO: soak: errors by type: connect=%" PRIu64 " io=%" PRIu64 " timeout=%" PRIu64
           " server_down=%" PRIu64 " protocol=%" PRIu64 " other=%" PRIu64 "\n",
           F.by_rc[MCF_ERR_CONNECT], F.by_rc[MCF_ERR_IO], F.by_rc[MCF_ERR_TIMEOUT],
           F.by_rc[MCF_ERR_SERVER_DOWN], F.by_rc[MCF_ERR_PROTOCOL],
           F.errors - F.by_rc[MCF_ERR_CONNECT] - F.by_rc[MCF_ERR_IO] - F.by_rc[MCF_ERR_TIMEOUT] -
               F.by_rc[MCF_ERR_SERVER_DOWN] - F.by_rc[MCF_ERR_PROTOCOL]);
    printf("INFO: soak: ops=%" PRIu64 " gets=%" PRIu64 " sets=%" PRIu64 " errors=%" PRIu64
           " wrong=%" PRIu64 " kills=%d restarts=%d stops=%d fd_start=%d fd_end=%d"
           " rss_kb_25%%=%ld rss_kb_end=%ld fd_max=%d deletes=%" PRIu64 " incrs=%" PRIu64
           " touches=%" PRIu64 " hits=%" PRIu64 " misses=%" PRIu64 " max_call_ms=%.1f"
           " recovery_ops=%" PRIu64 " recovery_errors=%" PRIu64 " seed=%" PRIu64 "\n",
           F.ops, F.gets, F.sets, F.errors, F.wrongs, g_kills, g_restarts, g_stops, F.fd_start,
           F.fd_end, F.rss_25, F.rss_end, g_fd_max, F.dels, F.incrs, F.touches, F.hits, F.misses,
           (double)F.max_call / 1e3, F.rec_ops, F.rec_errors, g_seed);
    g_soak = SOAK_DONE;
    return 0;
}

/* After the cases: a soak set up but never run lets its workers finish
 * their recovery round; then clients and servers go. */
static void soak_teardown(void)
{
    if (g_nthreads > 0) {
        atomic_store(&g_phase, PHASE_RECOVER);
        for (int i = 0; i < g_nthreads; i++)
            pthread_join(g_th[i], NULL);
        g_nthreads = 0;
    }
    for (int i = 0; i < NTHREADS; i++) {
        mcf_free(g_w[i].c);
        g_w[i].c = NULL;
    }
    stop_servers();
    for (int i = 0; i < NTHREADS; i++)
        free(g_w[i].vals);
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */
/* ------------------------------------------------------------------ */

TEST(soak_setup)
{
    if (soak_setup() != 0)
        return;
    for (int i = 0; i < NTHREADS; i++)
        CHECKF(g_w[i].init_errors == 0 && g_w[i].wrong == 0,
               "thread %d: %d errors and %" PRIu64 " wrong values writing/reading its keys "
               "before any fault", i, g_w[i].init_errors, g_w[i].wrong);
}

TEST(soak_workload_ran)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NTHREADS; i++)
        CHECKF(g_w[i].ops > 100 && g_w[i].hits > 0 && g_w[i].incrs > 0 && g_w[i].deletes > 0 &&
                   g_w[i].touches > 0,
               "thread %d did too little: ops=%" PRIu64 " hits=%" PRIu64, i, g_w[i].ops,
               g_w[i].hits);
}

TEST(soak_faults_injected)
{
    if (soak_run() != 0)
        return;
    CHECKF(g_kills >= 1 && g_restarts == g_kills && g_restart_failures == 0,
           "kills=%d restarts=%d restart failures=%d", g_kills, g_restarts, g_restart_failures);
    CHECKF(g_stops == 1, "stops=%d (the run is too short for a SIGSTOP?)", g_stops);
    CHECKF(F.errors > 0, "no error seen at all: did the faults reach the clients?");
}

TEST(soak_no_wrong_values)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.wrongs == 0, "%" PRIu64 " wrong values or outcomes during the run (see WRONG lines)",
           F.wrongs);
}

TEST(soak_errors_typed)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.badtype == 0, "%" PRIu64 " errors of an unexpected type (protocol: %" PRIu64 ")",
           F.badtype, F.by_rc[MCF_ERR_PROTOCOL]);
    CHECKF(F.badrc == 0, "%" PRIu64 " unexpected non-error results or call/item rc mismatches",
           F.badrc);
}

TEST(soak_errors_only_when_down)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.unexplained == 0,
           "%" PRIu64 " of %" PRIu64 " errors on a server that was not down around the call "
           "(see ERROR ON A LIVE SERVER lines)",
           F.unexplained, F.errors);
}

TEST(soak_call_time_bounded)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.slow == 0, "%" PRIu64 " calls over %.0f ms (max %.1f ms)", F.slow,
           (double)g_call_limit_us / 1e3, (double)F.max_call / 1e3);
}

TEST(soak_recovery)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.rec_errors == 0 && F.rec_wrong == 0,
           "after the last restart and %lld ms: %" PRIu64 " errors, %" PRIu64 " wrong values",
           (long long)F.settle_ms, F.rec_errors, F.rec_wrong);
    CHECKF(F.rec_ops > 0, "no recovery round ran");
}

TEST(soak_fd_flat)
{
    if (soak_run() != 0)
        return;
    CHECKF(F.fd_start > 0 && F.fd_end == F.fd_start,
           "open fds: %d at start, %d at end (clients freed)", F.fd_start, F.fd_end);
    CHECKF(g_fd_max <= F.fd_start + NTHREADS * NSERVERS + 4,
           "open fds reached %d during the run: start %d + %d sockets at most", g_fd_max,
           F.fd_start, NTHREADS * NSERVERS);
}

TEST(soak_rss_flat)
{
    SKIP_UNLESS(g_check_rss, g_sanitized ? "sanitizer build"
                             : g_valgrind ? "under valgrind"
                                          : "MCF_SOAK_NO_RSS");
    if (soak_run() != 0)
        return;
    long limit = 2048;
    CHECKF(F.rss_25 > 0 && F.rss_end > 0 && F.rss_end - F.rss_25 <= limit,
           "RSS grew from %ld KB at 25%% to %ld KB at the end (limit +%ld KB)", F.rss_25,
           F.rss_end, limit);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    g_valgrind = on_valgrind();
    const char *san_env = getenv("SANITIZE");
    g_sanitized = SOAK_SANITIZED || getenv("MCF_SANITIZED") || (san_env && *san_env);
    g_seconds = env_int("MCF_SOAK_SECONDS", g_sanitized ? 10 : 30);
    if (g_seconds < 3)
        g_seconds = 3;
    g_seed = (uint64_t)env_int("MCF_SOAK_SEED", 0);
    if (!g_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g_seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()) %
                     1000000007u +
                 1;
    }
    g_io_timeout_ms = (int)env_int("MCF_SOAK_IO_TIMEOUT_MS", g_valgrind ? 400 : 200);
    if (g_io_timeout_ms < 10)
        g_io_timeout_ms = 10;
    g_stop_ms = g_io_timeout_ms * 3 > 1000 ? g_io_timeout_ms * 3 : 1000;
    /* A call may connect (one deadline) then do I/O (another); the rest is
     * scheduling slack (two cores, four servers, five threads). */
    g_call_limit_us =
        (int64_t)(2 * g_io_timeout_ms + (g_sanitized || g_valgrind ? 1500 : 800)) * 1000;
    g_check_rss = !g_sanitized && !g_valgrind && !getenv("MCF_SOAK_NO_RSS");
    g_chaos_rng = g_seed * 0x9E3779B97F4A7C15ull + 7;

    int rc = t_main(argc, argv);
    soak_teardown();
    return rc;
}
