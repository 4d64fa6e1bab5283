/* test_fork.c - a client used on both sides of fork().
 *
 * The parent connects to two real memcached servers and forks.  A socket
 * is then shared by two processes: whatever one sends, either may read the
 * reply of.  The library must notice it runs in a new process and never
 * touch a socket the parent opened (close it silently, reconnect); the
 * parent must not be disturbed by anything the child does to its copy of
 * the client (mcf_free, mcf_disconnect_all, exit, _exit), also while the
 * parent is busy.
 *
 *   hammer cases: parent and child run the same mix (set, get, incr,
 *     get_multi) on disjoint keys (a prefix per process) in the text and
 *     meta protocols, with and without noreply traffic before the fork
 *     (noreply commands leave the connection "dirty": mcf_free and
 *     mcf_disconnect_all synchronise it with a request of their own).
 *     Every value is checked; the child reports its counts through a pipe.
 *     0 wrong values and 0 errors on both sides.
 *   child_own_connections: the child's calls reach the servers on new
 *     connections (each server's total_connections goes up), not on the
 *     parent's.
 *   child_call_during_parent_call: staged (no timing luck needed): the
 *     child's request to a server goes out while the parent's call still
 *     waits for that server's reply; both must get their own values.
 *   lifecycle cases: a child that only frees the client, only disconnects,
 *     only exit()s or only _exit()s; then (or meanwhile) the parent's calls
 *     see 0 errors and 0 wrong values.
 *
 * Every case has its own servers and client (the fixture); every wait is
 * bounded and a child that does not finish in time is killed. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

#define NSRV 2
#define NKEYS 16              /* keys per process, alternating over the servers */
#define HAMMER_ITERS 400      /* set + get + incr each, get_multi every MULTI_EVERY */
#define MULTI_EVERY 4
#define PARENT_AFTER_ITERS 300 /* parent iterations after a lifecycle child */
#define ROUNDS 20             /* concurrent lifecycle: children forked one after another */
#define ROUND_ITERS 20        /* parent iterations while each of them runs */
#define HAMMER_DEADLINE_MS 60000 /* a hammer stops (and counts an error) after this */
#define CHILD_WAIT_MS 120000  /* a child not done by then is killed: FAIL */
#define KEY_SEARCH_MAX 100000 /* suffixes tried to place a key on a server */
#define PRE_FORK_NOREPLY 8    /* noreply sets per server before the fork */
#define PROBLEM_LEN 300

/* What one process saw.  Small enough for one atomic pipe write. */
typedef struct counts {
    long calls, errors, wrong;
    char first[PROBLEM_LEN]; /* the first problem, for the FAIL line */
} counts;

static void problem(counts *n, int is_error, mcf_client *c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(counts *n, int is_error, mcf_client *c, const char *fmt, ...)
{
    if (is_error)
        n->errors++;
    else
        n->wrong++;
    if (n->first[0])
        return;
    char what[PROBLEM_LEN / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(n->first, sizeof n->first, "%s%s%s", what, is_error ? ": " : "",
             is_error ? mcf_last_error(c) : "");
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */
/* ------------------------------------------------------------------ */

typedef struct fixture {
    mcserver srv[NSRV];
    int nsrv;
    mcf_client *c;
    int proto;
    int noreply; /* MCF_OPT_NOREPLY on, noreply sets sent before the fork */
} fixture;

static int fixture_setup(fixture *f, int proto, int noreply)
{
    memset(f, 0, sizeof *f);
    f->proto = proto;
    f->noreply = noreply;
    for (int i = 0; i < NSRV; i++) {
        if (mcserver_start_tcp(&f->srv[i], "127.0.0.1", NULL) < 0)
            return -1;
        f->nsrv++;
    }
    f->c = mcf_new();
    if (!f->c)
        return -1;
    char list[NSRV * (sizeof f->srv[0].spec + 1)] = "";
    for (int i = 0; i < NSRV; i++) {
        if (i)
            strcat(list, ",");
        strcat(list, f->srv[i].spec);
    }
    if (mcf_set_servers(f->c, list) != MCF_OK ||
        mcf_set_option(f->c, MCF_OPT_PROTOCOL, proto) != MCF_OK ||
        mcf_set_option(f->c, MCF_OPT_NOREPLY, noreply) != MCF_OK)
        return -1;
    return 0;
}

static void fixture_teardown(fixture *f)
{
    mcf_free(f->c);
    for (int i = 0; i < f->nsrv; i++)
        mcserver_kill(&f->srv[i], SIGKILL);
}

/* A key with prefix `p` and number `j` that lives on server `want`. */
static void key_on(mcf_client *c, size_t want, const char *p, int j, char *key, size_t cap)
{
    for (int n = 0; n < KEY_SEARCH_MAX; n++) {
        size_t s;
        snprintf(key, cap, "%s-%d-%d", p, j, n);
        if (mcf_server_for_key(c, key, strlen(key), &s) == MCF_OK && s == want)
            return;
    }
}

/* Connects every server and, in noreply mode, leaves noreply commands
 * behind on each connection.  0 when every server is connected. */
static int prepare_parent(fixture *f, const char *p)
{
    for (size_t s = 0; s < NSRV; s++) {
        if (mcf_connect_server(f->c, s) != MCF_OK)
            return -1;
        for (int i = 0; f->noreply && i < PRE_FORK_NOREPLY; i++) {
            char key[64];
            key_on(f->c, s, p, i, key, sizeof key);
            if (mcf_set(f->c, key, strlen(key), "pre", 3, 0, 0) != MCF_OK)
                return -1;
        }
    }
    for (size_t s = 0; s < NSRV; s++) {
        mcf_server_info info;
        if (mcf_server_info_get(f->c, s, &info) != MCF_OK || !info.connected)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* the hammer: one process's checked workload                          */
/* ------------------------------------------------------------------ */

typedef struct hammer {
    mcf_client *c;
    char key[NKEYS][64];
    const char *kp[NKEYS];
    char want[NKEYS][64]; /* the value key i must have, "" for a miss */
    int known[NKEYS];     /* want[] is certain (no failed write since) */
    char ctr[NSRV][64];   /* a counter on each server */
    uint64_t ctr_val[NSRV];
    int ctr_known[NSRV];
    int iter;
    counts n;
} hammer;

static void hammer_init(hammer *h, mcf_client *c, const char *prefix)
{
    memset(h, 0, sizeof *h);
    h->c = c;
    for (int i = 0; i < NKEYS; i++) {
        key_on(c, (size_t)(i % NSRV), prefix, i, h->key[i], sizeof h->key[i]);
        h->kp[i] = h->key[i];
        h->known[i] = 1; /* fresh keys: a miss */
    }
    for (int s = 0; s < NSRV; s++) {
        char p[64];
        snprintf(p, sizeof p, "%s-ctr", prefix);
        key_on(c, (size_t)s, p, s, h->ctr[s], sizeof h->ctr[s]);
    }
}

typedef struct multi_ctx {
    hammer *h;
    int seen[NKEYS];
} multi_ctx;

static void on_multi(void *ctx, size_t i, int rc, const mcf_value *v)
{
    multi_ctx *m = ctx;
    hammer *h = m->h;
    m->seen[i]++;
    if (mcf_is_error(rc)) {
        problem(&h->n, 1, h->c, "get_multi %s: %s", h->key[i], mcf_strerror(rc));
        h->known[i] = 0;
        return;
    }
    if (!h->known[i])
        return;
    size_t wl = strlen(h->want[i]);
    if (wl == 0 ? rc != MCF_MISS
                : rc != MCF_OK || !v || v->len != wl || memcmp(v->data, h->want[i], wl) != 0)
        problem(&h->n, 0, h->c, "get_multi %s: rc %d '%.*s', want '%s'", h->key[i], rc,
                v && rc == MCF_OK ? (int)(v->len < 60 ? v->len : 60) : 0,
                v && rc == MCF_OK ? v->data : "", wl ? h->want[i] : "(miss)");
}

/* One iteration: set key j, read it back, bump a counter, and every few
 * iterations read all keys at once; every outcome is checked. */
static void hammer_step(hammer *h)
{
    mcf_client *c = h->c;
    int it = h->iter++;
    int j = it % NKEYS, s = it % NSRV;
    char val[64];
    snprintf(val, sizeof val, "%s=%d", h->key[j], it);

    /* set (noreply when the client's default is noreply) */
    h->n.calls++;
    int rc = mcf_set(c, h->key[j], strlen(h->key[j]), val, strlen(val), 0, 0);
    if (rc == MCF_OK) {
        snprintf(h->want[j], sizeof h->want[j], "%s", val);
        h->known[j] = 1;
    } else {
        problem(&h->n, mcf_is_error(rc), c, "set %s: rc %d", h->key[j], rc);
        h->known[j] = 0;
    }

    /* get */
    mcf_value v;
    h->n.calls++;
    rc = mcf_get(c, h->key[j], strlen(h->key[j]), &v);
    if (mcf_is_error(rc))
        problem(&h->n, 1, c, "get %s: rc %d", h->key[j], rc);
    else if (h->known[j] && (rc != MCF_OK || v.len != strlen(val) ||
                             memcmp(v.data, val, v.len) != 0))
        problem(&h->n, 0, c, "get %s: rc %d '%.*s', want '%s'", h->key[j], rc,
                rc == MCF_OK ? (int)(v.len < 60 ? v.len : 60) : 0, rc == MCF_OK ? v.data : "",
                val);

    /* incr on server s's counter (created, with a reply, when unknown) */
    if (!h->ctr_known[s]) {
        h->n.calls++;
        rc = mcf_store(c, MCF_SET, h->ctr[s], strlen(h->ctr[s]), "0", 1, 0, 0, 0,
                       MCF_CALL_REPLY);
        if (rc == MCF_OK) {
            h->ctr_known[s] = 1;
            h->ctr_val[s] = 0;
        } else {
            problem(&h->n, mcf_is_error(rc), c, "set %s: rc %d", h->ctr[s], rc);
        }
    }
    if (h->ctr_known[s]) {
        uint64_t nv = 0;
        h->n.calls++;
        rc = mcf_incr(c, h->ctr[s], strlen(h->ctr[s]), 1, &nv, MCF_CALL_REPLY);
        if (rc != MCF_OK) {
            problem(&h->n, mcf_is_error(rc), c, "incr %s: rc %d", h->ctr[s], rc);
            h->ctr_known[s] = 0;
        } else if (nv != ++h->ctr_val[s]) {
            problem(&h->n, 0, c, "incr %s = %" PRIu64 ", want %" PRIu64, h->ctr[s], nv,
                    h->ctr_val[s]);
            h->ctr_known[s] = 0;
        }
    }

    /* get_multi over every key */
    if (it % MULTI_EVERY == MULTI_EVERY - 1) {
        multi_ctx m = {.h = h};
        h->n.calls++;
        mcf_get_multi(c, MCF_GET, 0, h->kp, NULL, NKEYS, on_multi, &m);
        for (int i = 0; i < NKEYS; i++)
            if (m.seen[i] != 1)
                problem(&h->n, 0, c, "get_multi %s: %d callbacks", h->key[i], m.seen[i]);
    }
}

static void hammer_run(hammer *h, int iters, double deadline_ms)
{
    for (int i = 0; i < iters; i++) {
        if (now_ms() > deadline_ms) {
            problem(&h->n, 1, h->c, "deadline: %d of %d iterations done", i, iters);
            return;
        }
        hammer_step(h);
    }
}

/* ------------------------------------------------------------------ */
/* children                                                            */
/* ------------------------------------------------------------------ */

typedef struct child {
    pid_t pid;
    int rfd; /* read end of its report pipe, -1 if it reports nothing */
} child;

/* Forks; in the child runs fn(arg, report_fd) and _exit()s with its
 * result, unless fn ends the process itself. */
static int spawn(child *ch, int (*fn)(void *, int), void *arg, int reports)
{
    int p[2] = {-1, -1};
    if (reports && pipe(p) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        if (reports) {
            close(p[0]);
            close(p[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (reports)
            close(p[0]);
        _exit(fn(arg, reports ? p[1] : -1));
    }
    if (reports)
        close(p[1]);
    ch->pid = pid;
    ch->rfd = reports ? p[0] : -1;
    return 0;
}

/* Reads the child's report (len bytes into out, if it reports) and reaps
 * it, within CHILD_WAIT_MS.  Returns its exit status (-1: killed after the
 * wait, or no whole report). */
static int reap(child *ch, void *out, size_t len)
{
    double deadline = now_ms() + CHILD_WAIT_MS;
    int ok = 1;
    if (ch->rfd >= 0) {
        size_t got = 0;
        while (got < len && ok) {
            struct pollfd p = {ch->rfd, POLLIN, 0};
            int left = (int)(deadline - now_ms());
            if (left <= 0) {
                ok = 0; /* no report in time */
                break;
            }
            int pr = poll(&p, 1, left);
            if (pr < 0 && errno == EINTR)
                continue;
            if (pr <= 0) {
                ok = 0;
                break;
            }
            ssize_t r = read(ch->rfd, (char *)out + got, len - got);
            if (r > 0)
                got += (size_t)r;
            else if (r == 0 || errno != EINTR)
                ok = 0; /* the child ended before a whole report */
        }
        close(ch->rfd);
        ch->rfd = -1;
    }
    int status = 0;
    for (;;) {
        pid_t w = waitpid(ch->pid, &status, WNOHANG);
        if (w == ch->pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (now_ms() > deadline) {
            kill(ch->pid, SIGKILL);
            waitpid(ch->pid, &status, 0);
            return -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!ok)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

typedef struct hammer_arg {
    fixture *f;
    char prefix[32];
} hammer_arg;

static int child_hammer(void *arg, int wfd)
{
    hammer_arg *a = arg;
    hammer h;
    hammer_init(&h, a->f->c, a->prefix);
    hammer_run(&h, HAMMER_ITERS, now_ms() + HAMMER_DEADLINE_MS);
    mcf_free(a->f->c);
    ssize_t w = write(wfd, &h.n, sizeof h.n);
    return w == (ssize_t)sizeof h.n ? 0 : 1;
}

static void report(const char *who, const counts *n)
{
    printf("INFO: %s: %s: %ld calls, %ld errors, %ld wrong values%s%s\n", t_case_name, who,
           n->calls, n->errors, n->wrong, n->first[0] ? "; first: " : "", n->first);
    CHECKF(n->errors == 0 && n->wrong == 0, "%s: %ld errors, %ld wrong values; first: %s", who,
           n->errors, n->wrong, n->first);
}

#define SETUP_OR_RETURN(f, proto, noreply)                                             \
    do {                                                                              \
        if (fixture_setup((f), (proto), (noreply)) < 0 || prepare_parent((f), "pre") < 0) { \
            t_fail(__FILE__, __LINE__, "setup: servers, client or first connect failed: %s", \
                   (f)->c ? mcf_last_error((f)->c) : "no client");                    \
            fixture_teardown(f);                                                      \
            return;                                                                   \
        }                                                                             \
    } while (0)

/* Parent and child hammer the shared client at the same time. */
static void hammer_case(int proto, int noreply)
{
    fixture f;
    SETUP_OR_RETURN(&f, proto, noreply);
    hammer h;
    hammer_arg a = {.f = &f};
    snprintf(a.prefix, sizeof a.prefix, "c%d", (int)getpid());
    child ch;
    if (spawn(&ch, child_hammer, &a, 1) < 0) {
        t_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
        fixture_teardown(&f);
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "p%d", (int)getpid());
    hammer_init(&h, f.c, prefix);
    hammer_run(&h, HAMMER_ITERS, now_ms() + HAMMER_DEADLINE_MS);
    counts cn;
    memset(&cn, 0, sizeof cn);
    int st = reap(&ch, &cn, sizeof cn);
    CHECKF(st == 0, "child: exit status %d (no complete report, or killed after %d ms)", st,
           CHILD_WAIT_MS);
    report("parent", &h.n);
    if (st == 0)
        report("child", &cn);
    fixture_teardown(&f);
}

TEST(fork_hammer_text) { hammer_case(MCF_PROTO_TEXT, 0); }
TEST(fork_hammer_text_noreply) { hammer_case(MCF_PROTO_TEXT, 1); }
TEST(fork_hammer_meta) { hammer_case(MCF_PROTO_META, 0); }
TEST(fork_hammer_meta_noreply) { hammer_case(MCF_PROTO_META, 1); }

/* ------------------------------------------------------------------ */
/* the child's calls use connections of its own                        */
/* ------------------------------------------------------------------ */

static void on_stat(void *ctx, const char *name, size_t nl, const char *value, size_t vl)
{
    char num[32];
    if (nl == strlen("total_connections") && memcmp(name, "total_connections", nl) == 0 &&
        vl < sizeof num) {
        memcpy(num, value, vl);
        num[vl] = 0;
        *(long *)ctx = strtol(num, NULL, 10);
    }
}

static int child_get_each(void *arg, int wfd)
{
    fixture *f = arg;
    hammer h;
    hammer_init(&h, f->c, "own");
    /* One set and one get on each server, checked. */
    for (int i = 0; i < NSRV; i++)
        hammer_step(&h);
    ssize_t w = write(wfd, &h.n, sizeof h.n);
    return w == (ssize_t)sizeof h.n ? 0 : 1;
}

TEST(fork_child_own_connections)
{
    fixture f;
    SETUP_OR_RETURN(&f, MCF_PROTO_TEXT, 0);
    long before[NSRV], after[NSRV];
    for (size_t s = 0; s < NSRV; s++) {
        before[s] = after[s] = -1;
        CHECK_RC(mcf_stats(f.c, s, NULL, on_stat, &before[s]), MCF_OK);
    }
    child ch;
    counts cn;
    memset(&cn, 0, sizeof cn);
    CHECK(spawn(&ch, child_get_each, &f, 1) == 0);
    int st = reap(&ch, &cn, sizeof cn);
    CHECKF(st == 0, "child: exit status %d", st);
    if (st == 0)
        report("child", &cn);
    for (size_t s = 0; s < NSRV; s++) {
        CHECK_RC(mcf_stats(f.c, s, NULL, on_stat, &after[s]), MCF_OK);
        printf("INFO: %s: server %zu total_connections %ld before the child, %ld after\n",
               t_case_name, s, before[s], after[s]);
        CHECKF(before[s] >= 0 && after[s] > before[s],
               "server %zu: total_connections %ld -> %ld: the child used the parent's socket",
               s, before[s], after[s]);
    }
    fixture_teardown(&f);
}

/* ------------------------------------------------------------------ */
/* a child's call while the parent's call waits on the same server     */
/* ------------------------------------------------------------------ */
/* Staged, so it does not depend on timing: server 1 is stopped; the
 * parent's get_multi over a key on each server delivers server 0's value
 * and, from inside that callback, lets the child ask server 1 for its own
 * key, waits until the child's request has reached server 1 (its unread
 * bytes grow), and resumes server 1.  Two requests for server 1 are then
 * outstanding from two processes: on one shared socket, whichever process
 * reads first takes both replies. */

#define STAGED_IO_TIMEOUT_MS 4000 /* both calls outlive the staged wait */
#define STAGE_WAIT_MS 3000         /* for the child's request to reach server 1 */
#define STAGE_POLL_MS 2

typedef struct child_result {
    int rc, ok;
    char msg[256];
} child_result;

typedef struct stage {
    fixture *f;
    int go[2];           /* parent -> child: ask now */
    char pkey[NSRV][64]; /* the parent's keys, one per server */
    char ckey[64];       /* the child's key, on server 1 */
    int calls[NSRV], rc[NSRV], ok[NSRV];
    int first;           /* index of the first key delivered, -1 before */
    int reached;         /* the child's request reached server 1 in time */
    uint64_t unread_before, unread_after;
} stage;

static void value_for(const char *key, char *v, size_t len)
{
    snprintf(v, len, "value-of-%s", key);
}

static int child_staged(void *arg, int wfd)
{
    stage *st = arg;
    child_result r;
    memset(&r, 0, sizeof r);
    r.rc = -1;
    struct pollfd p = {st->go[0], POLLIN, 0};
    char b;
    if (poll(&p, 1, CHILD_WAIT_MS) == 1 && read(st->go[0], &b, 1) == 1) {
        mcf_value v;
        char want[96];
        value_for(st->ckey, want, sizeof want);
        r.rc = mcf_get(st->f->c, st->ckey, strlen(st->ckey), &v);
        r.ok = r.rc == MCF_OK && v.len == strlen(want) && memcmp(v.data, want, v.len) == 0;
        snprintf(r.msg, sizeof r.msg, "%s", mcf_last_error(st->f->c));
    } else {
        snprintf(r.msg, sizeof r.msg, "no go from the parent");
    }
    ssize_t w = write(wfd, &r, sizeof r);
    return w == (ssize_t)sizeof r ? 0 : 1;
}

static void on_staged(void *ctx, size_t i, int rc, const mcf_value *v)
{
    stage *st = ctx;
    char want[96];
    value_for(st->pkey[i], want, sizeof want);
    st->calls[i]++;
    st->rc[i] = rc;
    st->ok[i] = rc == MCF_OK && v && v->len == strlen(want) && memcmp(v->data, want, v->len) == 0;
    if (st->first >= 0)
        return;
    st->first = (int)i;
    mcserver *s1 = &st->f->srv[1];
    uint64_t tx;
    mcserver_tcp_queues(s1, &st->unread_before, &tx);
    ssize_t w = write(st->go[1], "g", 1);
    double deadline = now_ms() + STAGE_WAIT_MS;
    st->unread_after = st->unread_before;
    while (w == 1 && now_ms() < deadline) {
        if (mcserver_tcp_queues(s1, &st->unread_after, &tx) >= 0 &&
            st->unread_after > st->unread_before) {
            st->reached = 1;
            break;
        }
        struct timespec ts = {0, STAGE_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(s1->pid, SIGCONT);
}

static void staged_case(int proto)
{
    fixture f;
    SETUP_OR_RETURN(&f, proto, 0);
    stage st;
    memset(&st, 0, sizeof st);
    st.f = &f;
    st.first = -1;
    st.go[0] = st.go[1] = -1;
    CHECK_RC(mcf_set_option(f.c, MCF_OPT_IO_TIMEOUT_MS, STAGED_IO_TIMEOUT_MS), MCF_OK);
    for (size_t s = 0; s < NSRV; s++)
        key_on(f.c, s, "staged-p", (int)s, st.pkey[s], sizeof st.pkey[s]);
    key_on(f.c, 1, "staged-c", 0, st.ckey, sizeof st.ckey);
    const char *all[NSRV + 1] = {st.pkey[0], st.pkey[1], st.ckey};
    for (size_t k = 0; k < NSRV + 1; k++) {
        char v[96];
        value_for(all[k], v, sizeof v);
        CHECK_RC(mcf_set(f.c, all[k], strlen(all[k]), v, strlen(v), 0, 0), MCF_OK);
    }
    if (pipe(st.go) != 0) {
        t_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
        fixture_teardown(&f);
        return;
    }
    mcserver_kill(&f.srv[1], SIGSTOP);
    child ch;
    int spawned = spawn(&ch, child_staged, &st, 1) == 0;
    CHECKF(spawned, "fork: %s", strerror(errno));
    const char *pk[NSRV] = {st.pkey[0], st.pkey[1]};
    int rc = spawned ? mcf_get_multi(f.c, MCF_GET, 0, pk, NULL, NSRV, on_staged, &st) : -1;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mcf_last_error(f.c));
    kill(f.srv[1].pid, SIGCONT); /* in case no callback came */
    if (st.first < 0)
        CHECK(write(st.go[1], "g", 1) == 1); /* let the child finish anyway */
    child_result cr;
    memset(&cr, 0, sizeof cr);
    int status = spawned ? reap(&ch, &cr, sizeof cr) : -1;
    close(st.go[0]);
    close(st.go[1]);
    printf("INFO: %s: server 1 unread bytes %" PRIu64 " -> %" PRIu64 " while the parent's call "
           "waited; parent: rc %d (%s): %s; child: rc %d (%s): %s\n",
           t_case_name, st.unread_before, st.unread_after, rc, mcf_strerror(rc), msg, cr.rc,
           mcf_strerror(cr.rc), cr.msg);
    CHECKF(st.first == 0, "premise: the first value delivered is key %d, want server 0's key",
           st.first);
    CHECKF(st.reached, "premise: the child's request did not reach server 1 within %d ms",
           STAGE_WAIT_MS);
    CHECKF(status == 0, "child: exit status %d (no report, or killed after %d ms)", status,
           CHILD_WAIT_MS);
    CHECKF(cr.rc == MCF_OK && cr.ok, "child: get %s = %d (%s), value %s: %s", st.ckey, cr.rc,
           mcf_strerror(cr.rc), cr.ok ? "right" : "wrong or missing", cr.msg);
    CHECKF(rc == MCF_OK, "parent: get_multi = %d (%s): %s", rc, mcf_strerror(rc), msg);
    for (size_t s = 0; s < NSRV; s++)
        CHECKF(st.calls[s] == 1 && st.rc[s] == MCF_OK && st.ok[s],
               "parent: key %s on server %zu: %d callback(s), rc %d (%s), value %s", st.pkey[s],
               s, st.calls[s], st.rc[s], mcf_strerror(st.rc[s]), st.ok[s] ? "right" : "wrong");
    fixture_teardown(&f);
}

/* ------------------------------------------------------------------ */
/* a child that only ends its copy of the client                        */
/* ------------------------------------------------------------------ */

enum { END_FREE, END_DISCONNECT, END_EXIT, END__EXIT };

typedef struct end_arg {
    fixture *f;
    int how;
} end_arg;

static int child_end(void *arg, int wfd)
{
    end_arg *a = arg;
    (void)wfd;
    switch (a->how) {
    case END_FREE:
        mcf_free(a->f->c);
        break;
    case END_DISCONNECT:
        mcf_disconnect_all(a->f->c);
        break;
    case END_EXIT:
        exit(0); /* atexit handlers and stdio, as a real program ends */
    case END__EXIT:
        _exit(0);
    }
    return 0;
}

/* The child ends, then the parent works. */
static void end_then_parent(int how)
{
    fixture f;
    SETUP_OR_RETURN(&f, MCF_PROTO_TEXT, 1);
    end_arg a = {&f, how};
    child ch;
    CHECK(spawn(&ch, child_end, &a, 0) == 0);
    CHECKF(reap(&ch, NULL, 0) == 0, "child did not exit cleanly");
    hammer h;
    hammer_init(&h, f.c, "after");
    hammer_run(&h, PARENT_AFTER_ITERS, now_ms() + HAMMER_DEADLINE_MS);
    report("parent", &h.n);
    fixture_teardown(&f);
}

/* ROUNDS children, each ending while the parent works: before each fork
 * the parent's connections carry fresh noreply commands, so a child's
 * mcf_free/mcf_disconnect_all would have something to synchronise. */
static void end_while_parent(int how)
{
    fixture f;
    SETUP_OR_RETURN(&f, MCF_PROTO_TEXT, 1);
    hammer h;
    hammer_init(&h, f.c, "during");
    double deadline = now_ms() + HAMMER_DEADLINE_MS;
    int bad_children = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t s = 0; s < NSRV; s++) {
            char key[64];
            key_on(f.c, s, "dirty", r, key, sizeof key);
            h.n.calls++;
            int rc = mcf_set(f.c, key, strlen(key), "d", 1, 0, 0);
            if (rc != MCF_OK)
                problem(&h.n, 1, f.c, "noreply set %s: rc %d", key, rc);
        }
        end_arg a = {&f, how};
        child ch;
        if (spawn(&ch, child_end, &a, 0) < 0) {
            bad_children++;
            continue;
        }
        hammer_run(&h, ROUND_ITERS, deadline);
        bad_children += reap(&ch, NULL, 0) != 0;
    }
    CHECKF(bad_children == 0, "%d children did not exit cleanly", bad_children);
    report("parent", &h.n);
    fixture_teardown(&f);
}

TEST(fork_child_call_during_parent_call_text) { staged_case(MCF_PROTO_TEXT); }
TEST(fork_child_call_during_parent_call_meta) { staged_case(MCF_PROTO_META); }

TEST(fork_child_free_then_parent) { end_then_parent(END_FREE); }
TEST(fork_child_disconnect_then_parent) { end_then_parent(END_DISCONNECT); }
TEST(fork_child_exit_then_parent) { end_then_parent(END_EXIT); }
TEST(fork_child__exit_then_parent) { end_then_parent(END__EXIT); }
TEST(fork_child_free_while_parent) { end_while_parent(END_FREE); }
TEST(fork_child_disconnect_while_parent) { end_while_parent(END_DISCONNECT); }
TEST(fork_child_exit_while_parent) { end_while_parent(END_EXIT); }

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* the library must not raise it; mcserver_raw could */
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    return t_main(argc, argv);
}
