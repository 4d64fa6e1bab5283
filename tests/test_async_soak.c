/* test_async_soak.c - a bounded soak of the async API (mcfast_async.h):
 * three real memcached servers, two clients (one text, one meta) driven
 * together by one plain poll() loop over their merged pollsets, each with
 * a bounded window of requests in flight (random mixed ops: get, gets,
 * set, noreply set, get_multi, multi set/delete/touch/incr, delete, incr,
 * touch, cancel), refilled both from the loop and from inside callbacks.
 * In the middle a server is SIGKILLed and restarted on the same port (one
 * restart per EVENT_EVERY_S seconds of run, at least one).
 *
 * Asserted:
 *   - completions + cancels == submissions, per client; no stray callback
 *     (a second one, one after a cancel, or a foreign handle); nothing in
 *     flight at the end;
 *   - no wrong value: every value read is checked against a model of what
 *     its key may hold (values carry their key and version, padding derived
 *     from both; counters are numbers in a range of their own);
 *   - errors only of the expected types (CONNECT, IO, TIMEOUT) and only on
 *     keys of a server that was down around the request (or, for a timeout,
 *     while the process was not running: a loop turn STALL_US late with
 *     little CPU time used meanwhile, logged; a late turn that used the CPU
 *     is the client's own and excuses nothing);
 *   - no request outlives its deadline by more than LATE_SLACK_MS (but
 *     across a stall of the process);
 *   - recovery: after the last restart and a settle period every key is
 *     written and read back without one error;
 *   - open file descriptors equal at start and end (clients freed).
 *
 * The model (one request per key in flight at a time, so a key's history
 * is a sequence).  Each key holds a range [lo, hi] of acceptable versions
 * or counter values, plus present_ok / absent_ok.  A write that failed, was
 * cancelled, or went noreply may or may not have been applied: it widens
 * the range.  A write that succeeded narrows it to its value, unless the
 * key's server failed a request of ours shortly before (stale bytes of a
 * reset connection might still be applied after it).  A restart loses the
 * server's data: each server has an epoch bumped at each kill, and a miss
 * is accepted when the epoch moved since the key's last narrowing write.
 *
 * A watchdog ends a run that hangs (SOAK_SECONDS + WATCHDOG_SLACK_S) with
 * a FAIL line, so a hang in the library costs a minute, not the runner's
 * timeout.
 *
 * Environment:
 *   SOAK_SECONDS     run length (default 5)
 *   SOAK_SEED        random seed (default: from time and pid; logged)
 *   SOAK_CANCEL_PCT  share of turns that cancel a request in flight
 *                    (default 3; 0 soaks everything else) */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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
#include "mcfast_async.h"
#include "mcserver.h"

#define NSERVERS 3
#define NWORKERS 2           /* one client per protocol */
#define NDATA 300            /* data keys per client */
#define NCTR 40              /* counter keys per client */
#define NKEYS (NDATA + NCTR)
#define BATCH_MAX 40         /* keys in one multi request */
#define SLOTS 160            /* the in-flight window's bound, per client */
#define WINDOW_MIN 8         /* the window's target moves between these */
#define TOKENS 65536         /* submissions before a callback token is reused */
#define PAD_MAX 400
#define VAL_MAX (PAD_MAX + 96)
#define IO_TIMEOUT_MS 1000   /* the defaults: a shared 2-core box stalls for 100s of ms */
#define CONNECT_TIMEOUT_MS 1000
/* The default request deadline (mcfast_async.h): connect + I/O timeout. */
#define DEADLINE_MS (CONNECT_TIMEOUT_MS + IO_TIMEOUT_MS)
#define LATE_SLACK_MS 1500   /* later than its deadline by this: a hang */
#define GRACE_US 500000      /* after an error, writes to that server do not narrow */
#define POST_DOWN_US (GRACE_US + 2 * DEADLINE_MS * 1000) /* errors explained after a restart */
#define PRE_DOWN_US 20000    /* a request ending just before a kill may see it */
#define POLL_CAP_MS 20       /* the loop also wakes for chaos and refills */
#define DOWN_MS_MIN 300
#define DOWN_MS_MAX 800
#define EVENT_EVERY_S 5
#define DRAIN_BOUND_MS 10000
#define SETTLE_MS 1000
#define CANCEL_PCT_DEFAULT 3
#define WATCHDOG_SLACK_S 60  /* setup, drains, settle and recovery take seconds */
#define CTR_SPAN 1000000000000ull /* counter k lives in [base, base + span) */
#define MAX_REPORTS 30
#define MAXWIN 64
#define STALL_US 100000      /* a loop turn this late is a stall */
#define STALL_CPU_SHARE 2    /* the process ran under 1/2 of a stall: the host's doing */
#define MAXSTALL 256
#define PICK_TRIES 8         /* random probes for an idle key */

/* ------------------------------------------------------------------ */
/* time, random numbers, environment                                   */
/* ------------------------------------------------------------------ */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int64_t rng_range(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static uint32_t hash32(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* ------------------------------------------------------------------ */
/* shared state                                                        */
/* ------------------------------------------------------------------ */

/* Callbacks submit follow-up requests only while the run lasts. */
enum { PHASE_SETUP, PHASE_RUN, PHASE_DRAIN, PHASE_RECOVER };

static mcserver g_srv[NSERVERS];
static char g_spec[NSERVERS][TLS_SPEC_MAX]; /* mcfast\'s spec of each: the last over TLS */
static unsigned g_epoch[NSERVERS];
static int g_phase;
static int64_t g_t0;
static int g_reports;
static int g_cancel_pct = CANCEL_PCT_DEFAULT;

typedef struct window {
    int server;
    int64_t begin, end; /* end INT64_MAX while down */
} window;
static window g_win[MAXWIN];
static int g_nwin;
/* Times the process was not running (descheduled on a busy host): nothing
 * could be read in time then. */
static window g_stall[MAXSTALL];
static int g_nstall;
static uint64_t g_stall_excused;
static int g_kills, g_restarts, g_restart_failures;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    if (g_reports++ >= MAX_REPORTS)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("INFO: async soak: %s\n", buf);
}

static double rel_s(int64_t t) { return (double)(t - g_t0) / 1e6; }

static int loop_stalled(int64_t t0, int64_t t1)
{
    for (int i = 0; i < g_nstall; i++)
        if (t1 >= g_stall[i].begin && t0 <= g_stall[i].end)
            return 1;
    return 0;
}

static int server_was_down(int s, int64_t t0, int64_t t1)
{
    for (int i = 0; i < g_nwin; i++) {
        const window *x = &g_win[i];
        int64_t end = x->end == INT64_MAX ? INT64_MAX : x->end + POST_DOWN_US;
        if (x->server == s && t1 >= x->begin - PRE_DOWN_US && t0 <= end)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* per-client state                                                    */
/* ------------------------------------------------------------------ */

typedef struct kstate {
    char key[48];
    size_t klen;
    int is_ctr;
    int server;
    uint32_t khash;
    uint64_t lo, hi;   /* acceptable versions / counter values */
    uint64_t next_ver; /* data: the next version written */
    uint64_t base;     /* counter: its own number range */
    int present_ok, absent_ok;
    unsigned epoch; /* the server's epoch at the last narrowing write */
    int busy;       /* a request on this key is in flight */
} kstate;

enum op {
    OP_GET, OP_GETS, OP_SET, OP_SET_NOREPLY, OP_GET_MULTI, OP_MULTI_SET, OP_DELETE,
    OP_MULTI_DELETE, OP_TOUCH, OP_MULTI_TOUCH, OP_INCR, OP_MULTI_INCR, OP_COUNT
};
static const char *const op_name[OP_COUNT] = {
    "get", "gets", "set", "set_noreply", "get_multi", "multi_set", "delete",
    "multi_delete", "touch", "multi_touch", "incr", "multi_incr"};

struct worker;
typedef struct token { /* a callback's arg: which slot, which submission */
    struct worker *w;
    uint32_t slot;
    uint64_t seq;
} token;

typedef struct slot {
    uint64_t seq; /* the submission in this slot; 0: free */
    int op;
    mcf_request *h;
    int64_t t0;
    size_t n;
    size_t kidx[BATCH_MAX];
    uint64_t x[BATCH_MAX];   /* version/number written, or incr delta */
    unsigned e0[BATCH_MAX];  /* server epoch at the submit */
    int narrow[BATCH_MAX];   /* a success may narrow the model */
    mcf_item items[BATCH_MAX];
    const char *kptr[BATCH_MAX];
    size_t klen[BATCH_MAX];
    char vals[BATCH_MAX][VAL_MAX];
    int gcalls[BATCH_MAX], grc[BATCH_MAX], gform[BATCH_MAX];
    uint64_t gnum[BATCH_MAX];
    char gwhy[BATCH_MAX][96];
} slot;

typedef struct worker {
    int id;
    int proto;
    mcf_client *c;
    uint64_t rng;
    kstate k[NKEYS];
    int64_t unsettled[NSERVERS]; /* writes starting before this do not narrow */
    slot *slots;
    uint32_t free_slot[SLOTS], nfree;
    token *tok;
    uint64_t seq;
    size_t window; /* the in-flight target now */

    /* figures */
    uint64_t submitted, completed, cancelled, refused, stray;
    uint64_t by_op[OP_COUNT];
    uint64_t reads, hits, misses, writes;
    uint64_t errors, wrong, unexplained, badtype, badrc, late;
    uint64_t rec_errors, rec_wrong, rec_ops;
    uint64_t by_rc[MCF_ERR_LAST + 1];
    int64_t max_us;
} worker;

static worker g_w[NWORKERS];

static const char *proto_label(const worker *w)
{
    return w->proto == MCF_PROTO_META ? "meta" : "text";
}

static void make_key(worker *w, size_t i)
{
    kstate *k = &w->k[i];
    k->is_ctr = i >= NDATA;
    k->klen = (size_t)snprintf(k->key, sizeof k->key, "asoak:%s:%c%zu",
                               w->proto == MCF_PROTO_META ? "m" : "t", k->is_ctr ? 'c' : 'd',
                               k->is_ctr ? i - NDATA : i);
    k->khash = hash32(k->key, k->klen);
    size_t s = 0;
    if (mcf_server_for_key(w->c, k->key, k->klen, &s) != MCF_OK)
        s = 0;
    k->server = (int)s;
    k->next_ver = 1;
    k->base = ((uint64_t)w->id * NKEYS + i + 1) * CTR_SPAN;
    k->lo = 1; /* nothing written yet: no version acceptable */
    k->hi = 0;
    k->present_ok = 0;
    k->absent_ok = 1;
    k->epoch = g_epoch[s];
}

/* ------------------------------------------------------------------ */
/* values                                                              */
/* ------------------------------------------------------------------ */

static uint32_t data_flags(const kstate *k, uint64_t ver)
{
    return k->khash ^ (uint32_t)(ver * 0x9E3779B1u);
}

static char pad_char(const kstate *k, uint64_t ver, size_t i)
{
    return (char)('a' + (k->khash + ver + i * 7) % 26);
}

/* "K<key>|V<ver>|" then padding derived from key and version. */
static size_t make_value(worker *w, const kstate *k, uint64_t ver, char *buf)
{
    size_t pad = (size_t)rng_range(&w->rng, 0, PAD_MAX);
    size_t n = (size_t)snprintf(buf, VAL_MAX, "K%s|V%" PRIu64 "|", k->key, ver);
    for (size_t i = 0; i < pad && n < VAL_MAX; i++)
        buf[n++] = pad_char(k, ver, i);
    return n;
}

/* 0 when v is a well-formed value of k (*num: its version or number). */
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
        if (digits == 0 || i != len || flags != k->khash) {
            snprintf(why, whylen, "counter value '%.*s' flags %u", (int)(len > 40 ? 40 : len), v,
                     flags);
            return -1;
        }
        *num = x;
        return 0;
    }
    const char *bar = len > 1 ? memchr(v, '|', len) : NULL;
    if (!bar || v[0] != 'K' || (size_t)(bar - v - 1) != k->klen ||
        memcmp(v + 1, k->key, k->klen) != 0) {
        snprintf(why, whylen, "value of another key: '%.*s'", (int)(len > 60 ? 60 : len), v);
        return -1;
    }
    const char *p = bar + 1, *end = v + len;
    if (p >= end || *p != 'V') {
        snprintf(why, whylen, "no version");
        return -1;
    }
    uint64_t ver = 0;
    for (p++; p < end && *p >= '0' && *p <= '9'; p++)
        ver = ver * 10 + (uint64_t)(*p - '0');
    if (p >= end || *p != '|') {
        snprintf(why, whylen, "malformed version");
        return -1;
    }
    p++;
    for (size_t i = 0; p + i < end; i++)
        if (p[i] != pad_char(k, ver, i)) {
            snprintf(why, whylen, "padding corrupt at byte %zu", (size_t)(p + i - v));
            return -1;
        }
    if (flags != data_flags(k, ver)) {
        snprintf(why, whylen, "flags %u, want %u", flags, data_flags(k, ver));
        return -1;
    }
    *num = ver;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the model                                                           */
/* ------------------------------------------------------------------ */

static int epoch_moved(const kstate *k) { return g_epoch[k->server] != k->epoch; }

static int may_narrow(const worker *w, const kstate *k, int64_t t0)
{
    return t0 >= w->unsettled[k->server];
}

static void wrong(worker *w, const kstate *k, int op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void wrong(worker *w, const kstate *k, int op, const char *fmt, ...)
{
    if (g_phase == PHASE_RECOVER)
        w->rec_wrong++;
    else
        w->wrong++;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    report("WRONG %s %s key %s (server %d) at %.3f s: %s [lo=%" PRIu64 " hi=%" PRIu64
           " present_ok=%d absent_ok=%d epoch=%u now %u]",
           proto_label(w), op_name[op], k->key, k->server, rel_s(now_us()), buf, k->lo, k->hi,
           k->present_ok, k->absent_ok, k->epoch, g_epoch[k->server]);
}

#define SOAK_RETRY_MS 100
#define SOAK_RETRY_MAX_MS 400

static int allowed_type(int rc)
{
    /* SERVER_DOWN: a killed server's keys after the failure limit, until
     * a probe brings it back (docs/failures.md). */
    return rc == MCF_ERR_CONNECT || rc == MCF_ERR_IO || rc == MCF_ERR_TIMEOUT ||
           rc == MCF_ERR_SERVER_DOWN;
}

static void note_error(worker *w, const kstate *k, int rc, int64_t t0, int64_t t1, int op)
{
    if (g_phase == PHASE_RECOVER) {
        w->rec_errors++;
        report("RECOVERY ERROR %s %s key %s (server %d) at %.3f s: rc %d %s: %s", proto_label(w),
               op_name[op], k->key, k->server, rel_s(t1), rc, mcf_strerror(rc),
               mcf_last_error(w->c));
        return;
    }
    w->errors++;
    if (rc >= 0 && rc <= MCF_ERR_LAST)
        w->by_rc[rc]++;
    if (t1 + GRACE_US > w->unsettled[k->server])
        w->unsettled[k->server] = t1 + GRACE_US;
    if (!allowed_type(rc)) {
        w->badtype++;
        report("UNEXPECTED ERROR TYPE %s %s key %s (server %d) at %.3f s: rc %d %s: %s",
               proto_label(w), op_name[op], k->key, k->server, rel_s(t1), rc, mcf_strerror(rc),
               mcf_last_error(w->c));
    }
    if (rc == MCF_ERR_TIMEOUT && !server_was_down(k->server, t0, t1) && loop_stalled(t0, t1)) {
        g_stall_excused++;
        return;
    }
    if (!server_was_down(k->server, t0, t1)) {
        w->unexplained++;
        report("ERROR ON A LIVE SERVER %s %s key %s (server %d) %.3f..%.3f s: rc %d %s: %s",
               proto_label(w), op_name[op], k->key, k->server, rel_s(t0), rel_s(t1), rc,
               mcf_strerror(rc), mcf_last_error(w->c));
    }
}

static void bad_rc(worker *w, const kstate *k, int op, int rc)
{
    w->badrc++;
    report("UNEXPECTED RESULT %s %s key %s: rc %d %s", proto_label(w), op_name[op], k->key, rc,
           mcf_strerror(rc));
}

/* Maybe applied, maybe not (failed, cancelled, noreply). */
static void widen_write(kstate *k, uint64_t x)
{
    if (!k->present_ok)
        k->lo = x;
    if (x > k->hi)
        k->hi = x;
    k->present_ok = 1;
}

static void after_write(worker *w, kstate *k, uint64_t x, int rc, int narrow, unsigned e0,
                        int64_t t0, int64_t t1, int op)
{
    w->writes++;
    if (rc == MCF_OK && narrow) {
        k->lo = k->hi = x;
        k->present_ok = 1;
        k->absent_ok = 0;
        k->epoch = e0;
        return;
    }
    if (rc != MCF_OK) {
        if (mcf_is_error(rc))
            note_error(w, k, rc, t0, t1, op);
        else
            bad_rc(w, k, op, rc);
    }
    widen_write(k, x);
}

static void after_read(worker *w, kstate *k, int rc, int form, uint64_t num, const char *why,
                       int64_t t0, int64_t t1, int op)
{
    w->reads++;
    if (rc == MCF_OK) {
        w->hits++;
        if (form != 0)
            wrong(w, k, op, "%s", why);
        else if (!k->present_ok || num < k->lo || num > k->hi)
            wrong(w, k, op, "read %" PRIu64 ", not an acceptable one", num);
    } else if (rc == MCF_MISS) {
        w->misses++;
        if (!k->absent_ok && !epoch_moved(k))
            wrong(w, k, op, "miss, but the key must exist (its server was not restarted)");
    } else if (mcf_is_error(rc)) {
        note_error(w, k, rc, t0, t1, op);
    } else {
        bad_rc(w, k, op, rc);
    }
}

static void after_delete(worker *w, kstate *k, int rc, int narrow, unsigned e0, int64_t t0,
                         int64_t t1, int op)
{
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
        k->epoch = e0;
    } else {
        k->absent_ok = 1;
    }
}

static void after_touch(worker *w, kstate *k, int rc, int64_t t0, int64_t t1, int op)
{
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

static void after_incr(worker *w, kstate *k, uint64_t d, int rc, uint64_t n, int narrow,
                       unsigned e0, int64_t t0, int64_t t1, int op)
{
    if (rc == MCF_OK) {
        if (!k->present_ok || n < k->lo + d || n > k->hi + d)
            wrong(w, k, op, "incr by %" PRIu64 " gave %" PRIu64, d, n);
        if (narrow) {
            k->lo = k->hi = n;
            k->present_ok = 1;
            k->absent_ok = 0;
            k->epoch = e0;
        } else {
            k->hi += d;
            if (n > k->hi)
                k->hi = n;
        }
        return;
    }
    if (rc == MCF_NOT_FOUND) {
        if (!k->absent_ok && !epoch_moved(k))
            wrong(w, k, op, "incr NOT_FOUND, but the counter must exist");
        if (narrow) {
            k->present_ok = 0;
            k->absent_ok = 1;
            k->lo = k->hi + 1;
            k->epoch = e0;
        } else {
            k->absent_ok = 1;
        }
        return;
    }
    if (mcf_is_error(rc))
        note_error(w, k, rc, t0, t1, op);
    else
        bad_rc(w, k, op, rc);
    k->hi += d; /* maybe applied */
}

/* A cancelled request: what it may have done ("bytes already written stay
 * written"). */
static void after_cancel(worker *w, slot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        kstate *k = &w->k[s->kidx[i]];
        switch (s->op) {
        case OP_SET:
        case OP_SET_NOREPLY:
        case OP_MULTI_SET:
            widen_write(k, s->x[i]);
            break;
        case OP_DELETE:
        case OP_MULTI_DELETE:
            k->absent_ok = 1;
            break;
        case OP_INCR:
        case OP_MULTI_INCR:
            k->hi += s->x[i];
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* submitting and completing                                           */
/* ------------------------------------------------------------------ */

static void submit_one(worker *w);

static uint64_t next_number(kstate *k)
{
    if (!k->is_ctr)
        return k->next_ver++;
    uint64_t x = k->hi + 1;
    return x < k->base ? k->base : x;
}

static void release(worker *w, slot *s)
{
    for (size_t i = 0; i < s->n; i++)
        w->k[s->kidx[i]].busy = 0;
    s->seq = 0;
    s->h = NULL;
    w->free_slot[w->nfree++] = (uint32_t)(s - w->slots);
}

/* The slot a callback is for, or NULL (a stray callback, counted). */
static slot *slot_of(token *t, mcf_request *req, const char *what)
{
    worker *w = t->w;
    slot *s = &w->slots[t->slot];
    if (s->seq != t->seq || s->h != req) {
        w->stray++;
        report("STRAY %s callback %s: token seq %" PRIu64 ", slot holds %" PRIu64 " (%s)",
               proto_label(w), what, t->seq, s->seq, s->seq ? op_name[s->op] : "free");
        return NULL;
    }
    return s;
}

static void complete(worker *w, slot *s, int rc, const mcf_value *v)
{
    int64_t t1 = now_us();
    w->completed++;
    int64_t took = t1 - s->t0;
    if (took > w->max_us)
        w->max_us = took;
    if (took > (int64_t)(DEADLINE_MS + LATE_SLACK_MS) * 1000 && !loop_stalled(s->t0, t1)) {
        w->late++;
        report("LATE %s %s took %.0f ms (deadline %d ms)", proto_label(w), op_name[s->op],
               (double)took / 1e3, DEADLINE_MS);
    }
    kstate *k0 = &w->k[s->kidx[0]];
    int any_error = 0;
    switch (s->op) {
    case OP_GET:
    case OP_GETS: {
        uint64_t num = 0;
        char why[96] = "";
        int form = 0;
        if (rc == MCF_OK && !v) {
            form = -1;
            snprintf(why, sizeof why, "hit without a value");
        } else if (rc == MCF_OK) {
            form = parse_value(k0, v->data, v->len, v->flags, &num, why, sizeof why);
            if (form == 0 && s->op == OP_GETS && v->cas == 0) {
                form = -1;
                snprintf(why, sizeof why, "gets without a cas");
            }
        } else if (v) {
            form = -1;
            snprintf(why, sizeof why, "rc %d with a value", rc);
            rc = MCF_OK; /* so after_read reports it as a wrong value */
        }
        after_read(w, k0, rc, form, num, why, s->t0, t1, s->op);
        break;
    }
    case OP_SET:
    case OP_SET_NOREPLY:
        after_write(w, k0, s->x[0], rc, s->narrow[0], s->e0[0], s->t0, t1, s->op);
        break;
    case OP_GET_MULTI:
        for (size_t i = 0; i < s->n; i++) {
            kstate *k = &w->k[s->kidx[i]];
            if (s->gcalls[i] != 1) {
                wrong(w, k, s->op, "%d key callbacks", s->gcalls[i]);
                continue;
            }
            any_error |= mcf_is_error(s->grc[i]);
            after_read(w, k, s->grc[i], s->gform[i], s->gnum[i], s->gwhy[i], s->t0, t1, s->op);
        }
        break;
    default: /* the mcf_async_multi ops */
        for (size_t i = 0; i < s->n; i++) {
            kstate *k = &w->k[s->kidx[i]];
            int irc = s->items[i].rc;
            any_error |= mcf_is_error(irc);
            if (s->op == OP_MULTI_SET)
                after_write(w, k, s->x[i], irc, s->narrow[i], s->e0[i], s->t0, t1, s->op);
            else if (s->op == OP_DELETE || s->op == OP_MULTI_DELETE)
                after_delete(w, k, irc, s->narrow[i], s->e0[i], s->t0, t1, s->op);
            else if (s->op == OP_TOUCH || s->op == OP_MULTI_TOUCH)
                after_touch(w, k, irc, s->t0, t1, s->op);
            else
                after_incr(w, k, s->x[i], irc, s->items[i].number, s->narrow[i], s->e0[i],
                           s->t0, t1, s->op);
        }
        break;
    }
    /* A multi request's done rc is the first error of its keys, if any. */
    if (s->op >= OP_GET_MULTI && mcf_is_error(rc) != any_error) {
        w->badrc++;
        report("%s %s: done rc %d (%s) but per-key errors=%d", proto_label(w), op_name[s->op], rc,
               mcf_strerror(rc), any_error);
    }
    release(w, s);
    /* Half the time the callback submits the next request itself. */
    if (g_phase == PHASE_RUN && rng_next(&w->rng) % 2)
        submit_one(w);
}

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    token *t = arg;
    slot *s = slot_of(t, req, "done");
    if (s)
        complete(t->w, s, rc, v);
}

static void on_each(mcf_client *c, mcf_request *req, size_t i, int rc, const mcf_value *v,
                    void *arg)
{
    (void)c;
    token *t = arg;
    slot *s = slot_of(t, req, "key");
    if (!s)
        return;
    worker *w = t->w;
    if (i >= s->n) {
        w->stray++;
        report("%s get_multi: key index %zu of %zu", proto_label(w), i, s->n);
        return;
    }
    kstate *k = &w->k[s->kidx[i]];
    s->gcalls[i]++;
    s->grc[i] = rc;
    s->gform[i] = 0;
    s->gwhy[i][0] = 0;
    if (rc == MCF_OK)
        s->gform[i] = v ? parse_value(k, v->data, v->len, v->flags, &s->gnum[i], s->gwhy[i],
                                      sizeof s->gwhy[i])
                        : -1;
    else if (v) {
        s->grc[i] = MCF_OK; /* reported as a wrong value */
        s->gform[i] = -1;
        snprintf(s->gwhy[i], sizeof s->gwhy[i], "rc %d with a value", rc);
    }
}

/* Up to n idle keys from [from, to) into s->kidx, marked busy. */
static size_t pick_keys(worker *w, slot *s, size_t n, size_t from, size_t to)
{
    s->n = 0;
    for (size_t tries = 0; s->n < n && tries < n * PICK_TRIES; tries++) {
        size_t j = from + (size_t)(rng_next(&w->rng) % (to - from));
        if (w->k[j].busy)
            continue;
        w->k[j].busy = 1;
        s->kidx[s->n++] = j;
    }
    return s->n;
}

static int pick_op(worker *w)
{
    int r = (int)(rng_next(&w->rng) % 100);
    static const struct {
        int below;
        int op;
    } mix[] = {{22, OP_GET},    {25, OP_GETS},       {38, OP_SET},          {41, OP_SET_NOREPLY},
               {53, OP_GET_MULTI}, {61, OP_MULTI_SET}, {67, OP_DELETE},     {70, OP_MULTI_DELETE},
               {75, OP_TOUCH},  {78, OP_MULTI_TOUCH}, {93, OP_INCR},         {100, OP_MULTI_INCR}};
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++)
        if (r < mix[i].below)
            return mix[i].op;
    return OP_GET;
}

/* Fills slot s for op over its picked keys and submits it; 1 when sent. */
static int submit_slot(worker *w, slot *s, int op)
{
    mcf_client *c = w->c;
    s->op = op;
    s->t0 = now_us();
    s->seq = ++w->seq;
    token *t = &w->tok[s->seq % TOKENS];
    *t = (token){w, (uint32_t)(s - w->slots), s->seq};
    for (size_t i = 0; i < s->n; i++) {
        kstate *k = &w->k[s->kidx[i]];
        s->e0[i] = g_epoch[k->server];
        s->narrow[i] = may_narrow(w, k, s->t0);
        s->kptr[i] = k->key;
        s->klen[i] = k->klen;
        s->gcalls[i] = 0;
        s->items[i] = (mcf_item){.key = k->key, .key_len = k->klen, .rc = -1};
        if (op == OP_SET || op == OP_SET_NOREPLY || op == OP_MULTI_SET) {
            s->x[i] = next_number(k);
            if (k->is_ctr) {
                s->items[i].value_len =
                    (size_t)snprintf(s->vals[i], VAL_MAX, "%" PRIu64, s->x[i]);
                s->items[i].flags = k->khash;
            } else {
                s->items[i].value_len = make_value(w, k, s->x[i], s->vals[i]);
                s->items[i].flags = data_flags(k, s->x[i]);
            }
            s->items[i].value = s->vals[i];
        } else if (op == OP_INCR || op == OP_MULTI_INCR) {
            s->items[i].delta = s->x[i] = (uint64_t)rng_range(&w->rng, 1, 100);
        }
    }
    const mcf_item *it = &s->items[0];
    switch (op) {
    case OP_GET:
    case OP_GETS:
        s->h = mcf_async_get(c, op == OP_GETS ? MCF_GETS : MCF_GET, 0, it->key, it->key_len,
                             on_done, t);
        break;
    case OP_SET:
    case OP_SET_NOREPLY:
        s->narrow[0] &= op == OP_SET; /* noreply: OK only means "written" */
        s->h = mcf_async_store(c, MCF_SET, it->key, it->key_len, it->value, it->value_len,
                               it->flags, 0, 0, op == OP_SET_NOREPLY ? MCF_CALL_NOREPLY : 0,
                               on_done, t);
        break;
    case OP_GET_MULTI:
        s->h = mcf_async_get_multi(c, rng_next(&w->rng) % 4 ? MCF_GET : MCF_GETS, 0, s->kptr,
                                   s->klen, s->n, on_each, on_done, t);
        break;
    default: {
        mcf_op mop = op == OP_MULTI_SET                            ? MCF_OP_SET
                     : op == OP_DELETE || op == OP_MULTI_DELETE   ? MCF_OP_DELETE
                     : op == OP_TOUCH || op == OP_MULTI_TOUCH     ? MCF_OP_TOUCH
                                                                  : MCF_OP_INCR;
        s->h = mcf_async_multi(c, mop, s->items, s->n, 0, on_done, t);
        break;
    }
    }
    if (!s->h) {
        w->refused++;
        report("REFUSED %s %s: %s", proto_label(w), op_name[op], mcf_last_error(c));
        release(w, s);
        return 0;
    }
    w->submitted++;
    w->by_op[op]++;
    return 1;
}

static void cancel_one(worker *w)
{
    uint32_t start = (uint32_t)(rng_next(&w->rng) % SLOTS);
    for (uint32_t d = 0; d < SLOTS; d++) {
        slot *s = &w->slots[(start + d) % SLOTS];
        if (!s->seq)
            continue;
        mcf_async_cancel(w->c, s->h);
        w->cancelled++;
        after_cancel(w, s);
        release(w, s);
        return;
    }
}

static void submit_one(worker *w)
{
    if (w->nfree == 0 || SLOTS - w->nfree >= w->window)
        return;
    if (rng_next(&w->rng) % 100 < (uint64_t)g_cancel_pct && w->nfree < SLOTS) {
        cancel_one(w);
        return;
    }
    int op = pick_op(w);
    slot *s = &w->slots[w->free_slot[w->nfree - 1]];
    size_t got;
    switch (op) {
    case OP_GET_MULTI:
        got = pick_keys(w, s, (size_t)rng_range(&w->rng, 5, BATCH_MAX), 0, NKEYS);
        break;
    case OP_MULTI_SET:
        got = pick_keys(w, s, (size_t)rng_range(&w->rng, 5, BATCH_MAX), 0, NDATA);
        break;
    case OP_MULTI_DELETE:
    case OP_MULTI_TOUCH:
        got = pick_keys(w, s, (size_t)rng_range(&w->rng, 2, 10), 0, NKEYS);
        break;
    case OP_MULTI_INCR:
        got = pick_keys(w, s, (size_t)rng_range(&w->rng, 2, 10), NDATA, NKEYS);
        break;
    case OP_INCR:
        got = pick_keys(w, s, 1, NDATA, NKEYS);
        break;
    case OP_SET:
    case OP_SET_NOREPLY:
        got = pick_keys(w, s, 1, 0, NKEYS);
        break;
    default:
        got = pick_keys(w, s, 1, 0, NKEYS);
        break;
    }
    if (got == 0)
        return;
    w->nfree--;
    submit_slot(w, s, op);
}

static void refill(worker *w)
{
    if (rng_next(&w->rng) % 64 == 0) /* the window's target wanders */
        w->window = (size_t)rng_range(&w->rng, WINDOW_MIN, SLOTS);
    for (size_t tries = 0; tries < SLOTS && SLOTS - w->nfree < w->window; tries++)
        submit_one(w);
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */
/* ------------------------------------------------------------------ */

/* One turn: both clients' pollsets in one poll(), then each processes its
 * own part. */
static void turn(int max_wait_ms)
{
    static struct pollfd fds[NWORKERS][64];
    size_t n[NWORKERS];
    struct pollfd all[NWORKERS * 64];
    int timeout = max_wait_ms;
    size_t total = 0;
    for (int i = 0; i < NWORKERS; i++) {
        int t = -1;
        n[i] = mcf_async_pollset(g_w[i].c, fds[i], 64, &t);
        if (n[i] > 64)
            n[i] = 64; /* more sockets than three servers need: the rest waits a turn */
        if (t >= 0 && t < timeout)
            timeout = t;
        memcpy(all + total, fds[i], n[i] * sizeof *fds[i]);
        total += n[i];
    }
    if (poll(all, (nfds_t)total, timeout) < 0 && errno != EINTR)
        return;
    total = 0;
    for (int i = 0; i < NWORKERS; i++) {
        mcf_async_process(g_w[i].c, all + total, n[i]);
        total += n[i];
    }
}

static size_t inflight_all(void)
{
    size_t n = 0;
    for (int i = 0; i < NWORKERS; i++)
        n += mcf_async_inflight(g_w[i].c);
    return n;
}

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int g_busy_stalls;

/* Records a stall when this turn comes STALL_US after the last one: a host
 * stall when the process used little CPU meanwhile, else a busy one (ours,
 * excusing nothing). */
static void note_turn(int64_t *last, int64_t *last_cpu)
{
    int64_t t = now_us(), cpu = cpu_us();
    if (*last && t - *last > STALL_US) {
        int host = (cpu - *last_cpu) * STALL_CPU_SHARE < t - *last;
        if (host && g_nstall < MAXSTALL)
            g_stall[g_nstall++] = (window){-1, *last, t};
        g_busy_stalls += !host;
        report("%s STALL: a loop turn %.0f ms late at %.3f s, %.0f ms of CPU meanwhile",
               host ? "HOST" : "BUSY", (double)(t - *last) / 1e3, rel_s(*last),
               (double)(cpu - *last_cpu) / 1e3);
    }
    *last = t;
    *last_cpu = cpu;
}

static int drain(int bound_ms)
{
    int64_t end = now_us() + (int64_t)bound_ms * 1000;
    while (inflight_all() > 0 && now_us() < end)
        turn(POLL_CAP_MS);
    return inflight_all() == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* the run                                                             */
/* ------------------------------------------------------------------ */

static int64_t g_seconds;
static uint64_t g_seed;
static int g_fd_start, g_fd_end, g_fd_max;
static int g_drained;
static int g_setup_errors;
/* One soak per process: the first case that needs it sets it up (and runs
 * it), so any case also works alone. */
enum { SOAK_NOT_STARTED, SOAK_READY, SOAK_FAILED, SOAK_DONE };
static int g_soak = SOAK_NOT_STARTED;

static mcf_client *soak_client(int proto)
{
    char list[NSERVERS * TLS_SPEC_MAX];
    size_t off = 0;
    for (int i = 0; i < NSERVERS; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? "," : "",
                                g_spec[i]);
    mcf_client *c = mcf_new();
    if (!c)
        return NULL;
    if (mcf_set_servers(c, list) != MCF_OK || tls_soak_client(c) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_PROTOCOL, proto) ||
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS) ||
        mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS) ||
        /* Short healing waits: a restarted server is back within the run. */
        mcf_set_option(c, MCF_OPT_RETRY_MS, SOAK_RETRY_MS) ||
        mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, SOAK_RETRY_MAX_MS)) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

/* Every key of every client written, then read back, in batches; returns
 * the errors and wrong values it met. */
static uint64_t full_round(void)
{
    uint64_t before = 0, after = 0;
    for (int i = 0; i < NWORKERS; i++)
        before += g_w[i].errors + g_w[i].wrong + g_w[i].rec_errors + g_w[i].rec_wrong +
                  g_w[i].badrc + g_w[i].refused;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < NWORKERS; i++) {
            worker *w = &g_w[i];
            for (size_t from = 0; from < NKEYS; from += BATCH_MAX) {
                slot *s = &w->slots[w->free_slot[--w->nfree]];
                s->n = 0;
                for (size_t j = from; j < from + BATCH_MAX && j < NKEYS; j++) {
                    w->k[j].busy = 1;
                    s->kidx[s->n++] = j;
                }
                submit_slot(w, s, pass == 0 ? OP_MULTI_SET : OP_GET_MULTI);
                w->rec_ops += g_phase == PHASE_RECOVER;
            }
        }
        drain(DRAIN_BOUND_MS);
    }
    for (int i = 0; i < NWORKERS; i++)
        after += g_w[i].errors + g_w[i].wrong + g_w[i].rec_errors + g_w[i].rec_wrong +
                 g_w[i].badrc + g_w[i].refused;
    return after - before;
}

static int soak_setup(void)
{
    g_soak = SOAK_FAILED;
    if (tls_soak_servers(g_srv, NSERVERS, "-m 64 -c 4096", g_spec, NULL) < 0)
        return -1;
    g_t0 = now_us();
    g_fd_start = g_fd_max = count_fds();
    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &g_w[i];
        w->id = i;
        w->proto = i == 0 ? MCF_PROTO_TEXT : MCF_PROTO_META;
        w->rng = (g_seed + (uint64_t)i * 0x51ED27u) * 0x9E3779B97F4A7C15ull | 1;
        w->c = soak_client(w->proto);
        w->slots = calloc(SLOTS, sizeof *w->slots);
        w->tok = calloc(TOKENS, sizeof *w->tok);
        if (!w->c || !w->slots || !w->tok) {
            t_fail(__FILE__, __LINE__, "cannot create client %d", i);
            return -1;
        }
        for (uint32_t s = 0; s < SLOTS; s++)
            w->free_slot[w->nfree++] = SLOTS - 1 - s;
        w->window = SLOTS / 2;
        for (size_t j = 0; j < NKEYS; j++)
            make_key(w, j);
    }
    g_setup_errors = (int)full_round();
    g_soak = SOAK_READY;
    return 0;
}

static void chaos_kill(int s, int64_t t)
{
    mcserver_kill(&g_srv[s], SIGKILL);
    g_epoch[s]++; /* after the kill: a write starting later cannot reach this epoch */
    if (g_nwin < MAXWIN)
        g_win[g_nwin++] = (window){s, t, INT64_MAX};
    g_kills++;
    printf("INFO: async soak: %.3f s: SIGKILL server %d (%s)\n", rel_s(t), s, g_srv[s].spec);
}

static void chaos_restart(int s)
{
    int ok = -1;
    for (int tries = 0; tries < 5 && ok != 0; tries++)
        if ((ok = mcserver_restart(&g_srv[s])) != 0)
            sleep_ms(200);
    g_restarts += ok == 0;
    g_restart_failures += ok != 0;
    for (int i = 0; i < g_nwin; i++)
        if (g_win[i].server == s && g_win[i].end == INT64_MAX)
            g_win[i].end = now_us();
    printf("INFO: async soak: %.3f s: restart server %d: %s\n", rel_s(now_us()), s,
           ok == 0 ? "up" : "FAILED");
}

static int soak_run(void)
{
    if (g_soak == SOAK_NOT_STARTED && soak_setup() != 0)
        return -1;
    if (g_soak == SOAK_FAILED) {
        t_skip_case("the soak could not be set up");
        return -1;
    }
    if (g_soak == SOAK_DONE)
        return 0;
    uint64_t chaos_rng = g_seed * 0x9E3779B97F4A7C15ull + 7;
    int64_t start = now_us(), end = start + g_seconds * 1000000;
    int nevents = (int)(g_seconds / EVENT_EVERY_S);
    if (nevents < 1)
        nevents = 1;
    int next_event = 0, down = -1;
    int64_t restart_at = 0;
    g_phase = PHASE_RUN;
    int64_t last_turn = 0, last_cpu = 0;
    while (now_us() < end || down >= 0) {
        note_turn(&last_turn, &last_cpu);
        int64_t t = now_us();
        if (down < 0 && next_event < nevents &&
            t >= start + (next_event + 1) * (end - start) / (nevents + 1)) {
            down = (int)rng_range(&chaos_rng, 0, NSERVERS - 1);
            restart_at = t + rng_range(&chaos_rng, DOWN_MS_MIN, DOWN_MS_MAX) * 1000;
            chaos_kill(down, t);
            next_event++;
        } else if (down >= 0 && t >= restart_at) {
            chaos_restart(down);
            down = -1;
            last_turn = now_us(); /* the restart's own wait is not a stall */
        }
        for (int i = 0; i < NWORKERS; i++)
            refill(&g_w[i]);
        turn(POLL_CAP_MS);
        int fds = count_fds();
        if (fds > g_fd_max)
            g_fd_max = fds;
    }
    g_phase = PHASE_DRAIN;
    g_drained = drain(DRAIN_BOUND_MS) == 0;
    printf("INFO: async soak: %.3f s: run over, drained: %s; settling %d ms\n", rel_s(now_us()),
           g_drained ? "yes" : "NO", SETTLE_MS);
    sleep_ms(SETTLE_MS);
    g_phase = PHASE_RECOVER;
    full_round();
    for (int i = 0; i < NWORKERS; i++) {
        mcf_free(g_w[i].c);
        g_w[i].c = NULL;
    }
    g_fd_end = count_fds();
    for (int i = 0; i < NWORKERS; i++) {
        worker *w = &g_w[i];
        char ops[512];
        size_t off = 0;
        for (int o = 0; o < OP_COUNT; o++)
            off += (size_t)snprintf(ops + off, sizeof ops - off, " %s=%" PRIu64, op_name[o],
                                    w->by_op[o]);
        printf("INFO: async soak: %s client: submitted=%" PRIu64 " completed=%" PRIu64
               " cancelled=%" PRIu64 " stray=%" PRIu64 " refused=%" PRIu64 " reads=%" PRIu64
               " hits=%" PRIu64 " misses=%" PRIu64 " writes=%" PRIu64 " errors=%" PRIu64
               " (connect=%" PRIu64 " io=%" PRIu64 " timeout=%" PRIu64 ") wrong=%" PRIu64
               " unexplained=%" PRIu64 " late=%" PRIu64 " max_ms=%.1f recovery_errors=%" PRIu64
               "%s\n",
               proto_label(w), w->submitted, w->completed, w->cancelled, w->stray, w->refused,
               w->reads, w->hits, w->misses, w->writes, w->errors, w->by_rc[MCF_ERR_CONNECT],
               w->by_rc[MCF_ERR_IO], w->by_rc[MCF_ERR_TIMEOUT], w->wrong, w->unexplained,
               w->late, (double)w->max_us / 1e3, w->rec_errors, ops);
    }
    printf("INFO: async soak: seconds=%" PRId64 " seed=%" PRIu64 " kills=%d restarts=%d "
           "fd_start=%d fd_max=%d fd_end=%d host stalls=%d (timeouts excused by them: %" PRIu64
           ") busy stalls=%d (replay: SOAK_SEED=%" PRIu64 " SOAK_SECONDS=%" PRId64 ")\n",
           g_seconds, g_seed, g_kills, g_restarts, g_fd_start, g_fd_max, g_fd_end, g_nstall,
           g_stall_excused, g_busy_stalls, g_seed, g_seconds);
    g_soak = SOAK_DONE;
    return 0;
}

static void soak_teardown(void)
{
    for (int i = 0; i < NWORKERS; i++) {
        mcf_free(g_w[i].c);
        g_w[i].c = NULL;
        free(g_w[i].slots);
        free(g_w[i].tok);
    }
    for (int i = 0; i < NSERVERS; i++)
        if (g_srv[i].pid > 0)
            mcserver_kill(&g_srv[i], SIGKILL);
}

/* ------------------------------------------------------------------ */
/* cases                                                               */
/* ------------------------------------------------------------------ */

TEST(async_soak_setup)
{
    if (g_soak == SOAK_NOT_STARTED && soak_setup() != 0)
        return;
    if (g_soak == SOAK_FAILED) {
        t_skip_case("the soak could not be set up");
        return;
    }
    CHECKF(g_setup_errors == 0, "%d errors or wrong values writing/reading every key before any "
           "fault", g_setup_errors);
}

TEST(async_soak_workload_ran)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++) {
        const worker *w = &g_w[i];
        int missing = -1;
        for (int o = 0; o < OP_COUNT && missing < 0; o++)
            if (w->by_op[o] == 0)
                missing = o;
        CHECKF(w->submitted > 1000 && w->hits > 0 && (w->cancelled > 0 || !g_cancel_pct) &&
                   missing < 0,
               "%s client did too little: submitted=%" PRIu64 " hits=%" PRIu64
               " cancelled=%" PRIu64 ", no %s",
               proto_label(w), w->submitted, w->hits, w->cancelled,
               missing >= 0 ? op_name[missing] : "-");
    }
}

TEST(async_soak_faults_injected)
{
    if (soak_run() != 0)
        return;
    CHECKF(g_kills >= 1 && g_restarts == g_kills && g_restart_failures == 0,
           "kills=%d restarts=%d restart failures=%d", g_kills, g_restarts, g_restart_failures);
    uint64_t errors = 0;
    for (int i = 0; i < NWORKERS; i++)
        errors += g_w[i].errors;
    CHECKF(errors > 0, "no error at all: did the kill reach the clients?");
}

TEST(async_soak_each_request_once)
{
    if (soak_run() != 0)
        return;
    CHECKF(g_drained, "requests still in flight %d ms after the run", DRAIN_BOUND_MS);
    for (int i = 0; i < NWORKERS; i++) {
        const worker *w = &g_w[i];
        CHECKF(w->completed + w->cancelled == w->submitted && w->stray == 0,
               "%s client: %" PRIu64 " completed + %" PRIu64 " cancelled != %" PRIu64
               " submitted; %" PRIu64 " stray callbacks",
               proto_label(w), w->completed, w->cancelled, w->submitted, w->stray);
    }
}

TEST(async_soak_no_wrong_values)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++)
        CHECKF(g_w[i].wrong == 0, "%s client: %" PRIu64 " wrong values or outcomes (WRONG lines)",
               proto_label(&g_w[i]), g_w[i].wrong);
}

TEST(async_soak_errors_typed)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++)
        CHECKF(g_w[i].badtype == 0 && g_w[i].badrc == 0 && g_w[i].refused == 0,
               "%s client: %" PRIu64 " errors of an unexpected type, %" PRIu64
               " unexpected results, %" PRIu64 " refused submits",
               proto_label(&g_w[i]), g_w[i].badtype, g_w[i].badrc, g_w[i].refused);
}

TEST(async_soak_errors_only_when_down)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++)
        CHECKF(g_w[i].unexplained == 0,
               "%s client: %" PRIu64 " of %" PRIu64 " errors on a server that was not down "
               "(ERROR ON A LIVE SERVER lines)",
               proto_label(&g_w[i]), g_w[i].unexplained, g_w[i].errors);
}

TEST(async_soak_deadlines_kept)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++)
        CHECKF(g_w[i].late == 0, "%s client: %" PRIu64 " requests over %d ms (max %.1f ms)",
               proto_label(&g_w[i]), g_w[i].late, DEADLINE_MS + LATE_SLACK_MS,
               (double)g_w[i].max_us / 1e3);
}

TEST(async_soak_recovery)
{
    if (soak_run() != 0)
        return;
    for (int i = 0; i < NWORKERS; i++)
        CHECKF(g_w[i].rec_errors == 0 && g_w[i].rec_wrong == 0 && g_w[i].rec_ops > 0,
               "%s client after the last restart and %d ms: %" PRIu64 " errors, %" PRIu64
               " wrong values in %" PRIu64 " requests",
               proto_label(&g_w[i]), SETTLE_MS, g_w[i].rec_errors, g_w[i].rec_wrong,
               g_w[i].rec_ops);
}

TEST(async_soak_fd_flat)
{
    if (soak_run() != 0)
        return;
    CHECKF(g_fd_start > 0 && g_fd_end == g_fd_start,
           "open fds: %d at start, %d at the end (clients freed)", g_fd_start, g_fd_end);
}

/* The run hung: say so, then end as on SIGTERM (mcserver's handler stops
 * the servers).  Only async-signal-safe calls. */
static void on_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: async_soak_watchdog: the soak did not finish in time "
                              "(a hang: see the last INFO lines)\n";
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    raise(SIGTERM);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    g_seconds = env_int("SOAK_SECONDS", 5);
    if (g_seconds < 1)
        g_seconds = 1;
    g_seed = (uint64_t)env_int("SOAK_SEED", 0);
    if (!g_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g_seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()) %
                     1000000007u +
                 1;
    }
    g_cancel_pct = (int)env_int("SOAK_CANCEL_PCT", CANCEL_PCT_DEFAULT);
    if (g_cancel_pct < 0 || g_cancel_pct > 100)
        g_cancel_pct = CANCEL_PCT_DEFAULT;
    printf("INFO: async soak: seed=%" PRIu64 " seconds=%" PRId64 " servers=%d clients=%d "
           "keys/client=%d window<=%d cancel%%=%d\n",
           g_seed, g_seconds, NSERVERS, NWORKERS, NKEYS, SLOTS, g_cancel_pct);
    signal(SIGALRM, on_watchdog);
    alarm((unsigned)(g_seconds + WATCHDOG_SLACK_S));
    int rc = t_main(argc, argv);
    soak_teardown();
    return rc;
}
