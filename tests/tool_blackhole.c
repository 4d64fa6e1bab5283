/* tool_blackhole - multi-server calls when some servers silently drop SYNs,
 * for tests/t_blackhole.sh, which runs it inside a network namespace.
 *
 *   tool_blackhole DEAD_INDICES SPEC...
 *
 * DEAD_INDICES: comma-separated positions (0-based) in the SPEC list of the
 * servers whose SYNs are dropped.  Speaks the test protocol itself
 * (PASS:/FAIL:/INFO: lines):
 *
 *   blackhole_first_call: a get_multi over keys spread across every server,
 *     connect and I/O timeouts 1000 ms, returns in under 2000 ms (every
 *     server a call needs connects in parallel under one connect deadline,
 *     not one after another), every live server's key hits with its value,
 *     every dead server's key fails with MCF_ERR_TIMEOUT or MCF_ERR_CONNECT
 *     and, in its callback, mcf_last_error() names that server.
 *   blackhole_second_call: with max_failures 1 the dead servers are marked
 *     down by the first call, so a second call costs next to nothing for
 *     them: MCF_ERR_SERVER_DOWN at once, live keys still hit.
 *   blackhole_async_keeps_serving: the async API (mcfast_async.h) keeps
 *     serving while connects hang: async gets of the dead servers' keys are
 *     submitted first (their connects start and hang), then 1000 gets of
 *     live keys in waves of 100, each wave submitted from the callback that
 *     ends the previous one.  All 1000 complete with their own values
 *     before the connect timeout passes, i.e. before any dead server's
 *     request gives up; those then fail with MCF_ERR_TIMEOUT or
 *     MCF_ERR_CONNECT naming their server.
 *
 * Values are stored first through one single-server client per live
 * server, each key on the server mcf_server_for_key() gives it in the full
 * list.  Only the public header is used.  Exit 0 when every case passed. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"

#define MAX_SERVERS 16
#define CONNECT_TIMEOUT_MS 1000
#define IO_TIMEOUT_MS 1000
/* Parallel connects end at one connect deadline plus the I/O; serial ones
 * take a connect timeout per dead server.  The bound separates the two and
 * leaves a whole connect timeout of slack for a loaded machine. */
#define FIRST_CALL_MAX_MS 2000
/* The dead servers are skipped, the live ones connected: a few loopback-ish
 * round trips.  Half a connect timeout: far from "waited for a connect". */
#define SECOND_CALL_MAX_MS 500
#define NKEYS 96
#define MIN_KEYS_PER_SERVER 3
#define KEY_TRIES 100000 /* candidate keys tried to cover every server */



/* ------------------------------------------------------------------ */
/* configuration (from the command line, read-only in cases)           */
/* ------------------------------------------------------------------ */

static const char *g_spec[MAX_SERVERS];
static int g_dead[MAX_SERVERS];
static size_t g_nsrv;

/* ------------------------------------------------------------------ */
/* fixture                                                             */
/* ------------------------------------------------------------------ */

typedef struct fixture {
    mcf_client *c;
    char key[NKEYS][48];
    const char *kp[NKEYS];
    size_t srv[NKEYS];
    /* one get_multi's results */
    int rc[NKEYS];
    int calls[NKEYS];
    int value_ok[NKEYS];
    char msg[NKEYS][256];
} fixture;

static mcf_client *blackhole_client(const char *list, int max_failures)
{
    mcf_client *c = mcf_new();
    if (!c)
        return NULL;
    if (mcf_set_servers(c, list) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_MAX_FAILURES, max_failures) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

static void value_of(const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "v:%s", key);
}

/* Keys covering every server at least MIN_KEYS_PER_SERVER times; each live
 * server's keys stored through a client that knows only that server.
 * Returns 0, or -1 with a FAIL line printed. */
static int fixture_setup(fixture *f, const char *case_tag, int max_failures)
{
    memset(f, 0, sizeof *f);
    char list[MAX_SERVERS * 64] = "";
    for (size_t s = 0; s < g_nsrv; s++) {
        if (s)
            strcat(list, ",");
        strncat(list, g_spec[s], sizeof list - strlen(list) - 1);
    }
    f->c = blackhole_client(list, max_failures);
    if (!f->c) {
        t_fail(__FILE__, __LINE__, "client setup failed for '%s'", list);
        return -1;
    }
    size_t per[MAX_SERVERS] = {0}, n = 0;
    for (int t = 0; t < KEY_TRIES && n < NKEYS; t++) {
        char k[48];
        size_t s;
        snprintf(k, sizeof k, "bh-%s-%d-%d", case_tag, (int)getpid(), t);
        if (mcf_server_for_key(f->c, k, strlen(k), &s) != MCF_OK || s >= g_nsrv)
            continue;
        /* Fill evenly: a key is taken while its server has fewer than
         * its share, so every server ends with at least the minimum. */
        if (per[s] >= (NKEYS + g_nsrv - 1) / g_nsrv)
            continue;
        snprintf(f->key[n], sizeof f->key[n], "%s", k);
        f->kp[n] = f->key[n];
        f->srv[n] = s;
        per[s]++;
        n++;
    }
    for (size_t s = 0; s < g_nsrv; s++)
        if (per[s] < MIN_KEYS_PER_SERVER || n < NKEYS) {
            t_fail(__FILE__, __LINE__, "could not spread %d keys over the servers", NKEYS);
            return -1;
        }
    for (size_t s = 0; s < g_nsrv; s++) {
        if (g_dead[s])
            continue;
        mcf_client *one = blackhole_client(g_spec[s], 0);
        if (!one) {
            t_fail(__FILE__, __LINE__, "client for %s failed", g_spec[s]);
            return -1;
        }
        for (size_t i = 0; i < NKEYS; i++) {
            if (f->srv[i] != s)
                continue;
            char v[64];
            value_of(f->key[i], v, sizeof v);
            int rc = mcf_set(one, f->key[i], strlen(f->key[i]), v, strlen(v), 0, 0);
            if (rc != MCF_OK) {
                t_fail(__FILE__, __LINE__, "storing %s on live server %s: %s: %s", f->key[i],
                       g_spec[s], mcf_strerror(rc), mcf_last_error(one));
                mcf_free(one);
                return -1;
            }
        }
        mcf_free(one);
    }
    return 0;
}

static void fixture_teardown(fixture *f)
{
    mcf_free(f->c);
    f->c = NULL;
}

static void on_value(void *ctx, size_t i, int rc, const mcf_value *v)
{
    fixture *f = ctx;
    f->rc[i] = rc;
    f->calls[i]++;
    char want[64];
    value_of(f->key[i], want, sizeof want);
    f->value_ok[i] = rc == MCF_OK && v && v->len == strlen(want) &&
                     memcmp(v->data, want, v->len) == 0;
    /* mcfast.h: for an error key, mcf_last_error() names the failure. */
    if (mcf_is_error(rc))
        snprintf(f->msg[i], sizeof f->msg[i], "%s", mcf_last_error(f->c));
}

static double run_get_multi(fixture *f, int *rc)
{
    memset(f->calls, 0, sizeof f->calls);
    double t0 = now_ms();
    *rc = mcf_get_multi(f->c, MCF_GET, 0, f->kp, NULL, NKEYS, on_value, f);
    return now_ms() - t0;
}

#define MAX_REPORTED 4 /* wrong keys shown one by one */

/* Checks every key's outcome: live keys hit with their value, dead keys
 * fail with one of the allowed codes (and, if name_server, a message naming
 * their server).  Returns the number of wrong keys. */
static int check_outcomes(fixture *f, const char *call, int allow1, int allow2, int name_server)
{
    int wrong = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t s = f->srv[i];
        int ok;
        if (f->calls[i] != 1)
            ok = 0;
        else if (!g_dead[s])
            ok = f->value_ok[i];
        else
            ok = (f->rc[i] == allow1 || f->rc[i] == allow2) &&
                 (!name_server || contains(f->msg[i], g_spec[s]));
        if (!ok && ++wrong <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__,
                   "%s: key %s on %s server %s: %d callback(s), rc %d (%s), message '%s'", call,
                   f->key[i], g_dead[s] ? "dead" : "live", g_spec[s], f->calls[i], f->rc[i],
                   mcf_strerror(f->rc[i]), f->msg[i]);
    }
    return wrong;
}

/* ------------------------------------------------------------------ */
/* cases                                                               */
/* ------------------------------------------------------------------ */

TEST(blackhole_first_call)
{
    fixture f;
    if (fixture_setup(&f, "first", 0) < 0) {
        fixture_teardown(&f);
        return;
    }
    int rc;
    double el = run_get_multi(&f, &rc);
    printf("INFO: %s: first get_multi over %d keys on %zu servers (dead ones drop SYNs), "
           "connect/io timeout %d/%d ms: %.0f ms, rc %d (%s): %s\n",
           t_case_name, NKEYS, g_nsrv, CONNECT_TIMEOUT_MS, IO_TIMEOUT_MS, el, rc,
           mcf_strerror(rc), mcf_last_error(f.c));
    CHECKF(el < FIRST_CALL_MAX_MS,
           "the first call took %.0f ms, want < %d ms: the dead servers' connects did not "
           "run in parallel under one %d ms deadline",
           el, FIRST_CALL_MAX_MS, CONNECT_TIMEOUT_MS);
    CHECKF(rc == MCF_ERR_TIMEOUT || rc == MCF_ERR_CONNECT, "rc %d (%s)", rc, mcf_strerror(rc));
    int wrong = check_outcomes(&f, "first call", MCF_ERR_TIMEOUT, MCF_ERR_CONNECT, 1);
    CHECKF(wrong == 0, "%d of %d keys with a wrong outcome", wrong, NKEYS);
    fixture_teardown(&f);
}

TEST(blackhole_second_call)
{
    fixture f;
    if (fixture_setup(&f, "second", 1) < 0) {
        fixture_teardown(&f);
        return;
    }
    int rc;
    double first = run_get_multi(&f, &rc);
    int wrong = check_outcomes(&f, "first call", MCF_ERR_TIMEOUT, MCF_ERR_CONNECT, 0);
    CHECKF(wrong == 0, "first call: %d of %d keys with a wrong outcome", wrong, NKEYS);
    double second = run_get_multi(&f, &rc);
    printf("INFO: %s: with max_failures 1: first call %.0f ms, second call %.0f ms, rc %d "
           "(%s): %s\n",
           t_case_name, first, second, rc, mcf_strerror(rc), mcf_last_error(f.c));
    CHECKF(second < SECOND_CALL_MAX_MS,
           "the second call took %.0f ms, want < %d ms: servers marked down still cost time",
           second, SECOND_CALL_MAX_MS);
    CHECK_RC(rc, MCF_ERR_SERVER_DOWN);
    wrong = check_outcomes(&f, "second call", MCF_ERR_SERVER_DOWN, MCF_ERR_SERVER_DOWN, 0);
    CHECKF(wrong == 0, "second call: %d of %d keys with a wrong outcome", wrong, NKEYS);
    int named = 0;
    for (size_t s = 0; s < g_nsrv; s++)
        named += g_dead[s] && contains(mcf_last_error(f.c), g_spec[s]);
    CHECKF(named > 0, "last error names no dead server: %s", mcf_last_error(f.c));
    fixture_teardown(&f);
}

/* ---- the async API while connects hang ---- */

#define ASYNC_LIVE_GETS 1000
#define ASYNC_WAVE 100 /* live gets in flight together */
/* Hangs only: the dead servers' requests end at the connect timeout. */
#define ASYNC_RUN_BOUND_MS (10 * CONNECT_TIMEOUT_MS)

typedef struct async_state {
    fixture *f;
    size_t live[NKEYS], nlive; /* indexes of the keys on live servers */
    size_t submitted, in_wave, done, wrong, errors, refused;
    size_t dead_submitted, dead_done, dead_bad, dead_early;
    double t0, live_end_ms, first_dead_ms;
    char first_problem[256];
} async_state;

static async_state g_as;

static void as_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void as_problem(const char *fmt, ...)
{
    if (g_as.first_problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_as.first_problem, sizeof g_as.first_problem, fmt, ap);
    va_end(ap);
}

static void on_live_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg);

/* The next wave of live gets, cycling over the live keys. */
static void submit_wave(mcf_client *c)
{
    for (size_t k = 0; k < ASYNC_WAVE && g_as.submitted < ASYNC_LIVE_GETS; k++) {
        size_t i = g_as.live[g_as.submitted % g_as.nlive];
        const char *key = g_as.f->key[i];
        if (!mcf_async_get(c, MCF_GET, 0, key, strlen(key), on_live_done, (void *)(uintptr_t)i)) {
            g_as.refused++;
            as_problem("submit of %s refused: %s", key, mcf_last_error(c));
            continue;
        }
        g_as.submitted++;
        g_as.in_wave++;
    }
}

static void on_live_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req;
    size_t i = (size_t)(uintptr_t)arg;
    const char *key = g_as.f->key[i];
    char want[64];
    value_of(key, want, sizeof want);
    g_as.done++;
    g_as.in_wave--;
    if (rc != MCF_OK) {
        g_as.errors++;
        as_problem("live key %s: rc %d (%s): %s", key, rc, mcf_strerror(rc), mcf_last_error(c));
    } else if (!v || v->len != strlen(want) || memcmp(v->data, want, v->len) != 0) {
        g_as.wrong++;
        int shown = v ? (int)(v->len < 60 ? v->len : 60) : 0;
        as_problem("live key %s: a value not its own: '%.*s'", key, shown, v ? v->data : "");
    }
    if (g_as.done == ASYNC_LIVE_GETS)
        g_as.live_end_ms = now_ms() - g_as.t0;
    if (g_as.in_wave == 0)
        submit_wave(c);
}

static void on_dead_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req;
    size_t i = (size_t)(uintptr_t)arg;
    const char *key = g_as.f->key[i];
    const char *spec = g_spec[g_as.f->srv[i]];
    if (!g_as.dead_done++)
        g_as.first_dead_ms = now_ms() - g_as.t0;
    if (g_as.done < ASYNC_LIVE_GETS)
        g_as.dead_early++;
    const char *m = mcf_last_error(c);
    if (v || (rc != MCF_ERR_TIMEOUT && rc != MCF_ERR_CONNECT) || !contains(m, spec)) {
        g_as.dead_bad++;
        as_problem("dead key %s on %s: rc %d (%s): '%s'", key, spec, rc, mcf_strerror(rc), m);
    }
}

TEST(blackhole_async_keeps_serving)
{
    fixture f;
    if (fixture_setup(&f, "async", 0) < 0) {
        fixture_teardown(&f);
        return;
    }
    memset(&g_as, 0, sizeof g_as);
    g_as.f = &f;
    for (size_t i = 0; i < NKEYS; i++)
        if (!g_dead[f.srv[i]])
            g_as.live[g_as.nlive++] = i;
    g_as.t0 = now_ms();
    for (size_t i = 0; i < NKEYS; i++) {
        if (!g_dead[f.srv[i]])
            continue;
        if (mcf_async_get(f.c, MCF_GET, 0, f.key[i], strlen(f.key[i]), on_dead_done,
                          (void *)(uintptr_t)i))
            g_as.dead_submitted++;
        else
            g_as.refused++;
    }
    submit_wave(f.c);
    size_t left = mcf_async_run(f.c, ASYNC_RUN_BOUND_MS);
    double el = now_ms() - g_as.t0;
    printf("INFO: %s: %zu live gets in waves of %d: all done after %.0f ms; %zu dead servers' "
           "gets: the first gave up after %.0f ms, all done after %.0f ms (connect timeout %d "
           "ms); %s\n",
           t_case_name, g_as.done, ASYNC_WAVE, g_as.live_end_ms, g_as.dead_submitted,
           g_as.first_dead_ms, el, CONNECT_TIMEOUT_MS, g_as.first_problem);
    CHECKF(left == 0, "%zu requests still in flight after %d ms", left, ASYNC_RUN_BOUND_MS);
    CHECKF(g_as.refused == 0, "%zu submits refused: %s", g_as.refused, g_as.first_problem);
    CHECKF(g_as.dead_submitted > 0, "premise: no key on a dead server");
    CHECKF(g_as.done == ASYNC_LIVE_GETS && g_as.errors == 0 && g_as.wrong == 0,
           "live gets: %zu of %d done, %zu errors, %zu wrong values: %s", g_as.done,
           ASYNC_LIVE_GETS, g_as.errors, g_as.wrong, g_as.first_problem);
    CHECKF(g_as.dead_early == 0,
           "%zu dead servers' requests gave up before the %d live gets were done: the live "
           "servers were not served while the connects hung",
           g_as.dead_early, ASYNC_LIVE_GETS);
    CHECKF(g_as.done == ASYNC_LIVE_GETS && g_as.live_end_ms < CONNECT_TIMEOUT_MS,
           "the live gets took %.0f ms, not done before the %d ms connect timeout",
           g_as.live_end_ms, CONNECT_TIMEOUT_MS);
    CHECKF(g_as.dead_done == g_as.dead_submitted && g_as.dead_bad == 0,
           "dead servers' gets: %zu of %zu done, %zu ended wrongly: %s", g_as.dead_done,
           g_as.dead_submitted, g_as.dead_bad, g_as.first_problem);
    fixture_teardown(&f);
}

static int usage(void)
{
    fprintf(stderr, "usage: tool_blackhole DEAD_INDICES SPEC...\n");
    return 64;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3 || (size_t)(argc - 2) > MAX_SERVERS)
        return usage();
    g_nsrv = (size_t)(argc - 2);
    for (size_t s = 0; s < g_nsrv; s++)
        g_spec[s] = argv[2 + s];
    char dead[256];
    snprintf(dead, sizeof dead, "%s", argv[1]);
    size_t ndead = 0;
    for (char *save = NULL, *t = strtok_r(dead, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long i = strtol(t, &end, 10);
        if (*end || i < 0 || (size_t)i >= g_nsrv)
            return usage();
        ndead += !g_dead[i];
        g_dead[i] = 1;
    }
    if (ndead == 0 || ndead == g_nsrv)
        return usage();
    return t_main(1, argv); /* argv holds servers, not case names: every case */
}
