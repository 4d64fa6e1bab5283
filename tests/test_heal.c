/* test_heal.c - failures that heal by themselves (docs/failures.md), with
 * real memcached servers killed (SIGKILL), stopped (SIGSTOP) and a
 * blackholed address:
 *   - after the failure limit, the server's keys fail at once with
 *     MCF_ERR_SERVER_DOWN and no connect is tried;
 *   - the other servers' keys are served meanwhile;
 *   - a stopped server (whose kernel still accepts connections) stays down
 *     until it answers;
 *   - after a restart it is used again within the backoff bound, with no
 *     call of the caller's waiting for the probe;
 *   - with the async API the probe runs in the background, no request in
 *     flight;
 *   - a server that flaps waits longer;
 *   - MCF_OPT_FAILURE_LIMIT 0 turns it off.
 * Waits are shortened (200 ms first, 800 ms most) so the cases are quick;
 * the bounds asserted are deadlines (a call never waits for a probe), not
 * speeds. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "blackhole.h"
#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"

#define NSRV 4
#define DEAD 1
#define RETRY_MS 200
#define RETRY_MAX_MS 800
#define FLAP_MS 5000
#define TIMEOUT_MS 500
#define LIMIT 3
/* A call that skips a down server must end long before a connect or I/O
 * timeout could have passed. */
#define FAST_MS (TIMEOUT_MS / 2)
/* The most a restarted server may take to be used again: the longest wait
 * with its jitter, plus a probe's round trip and the caller's pace. */
#define BACK_BOUND_MS (RETRY_MAX_MS + RETRY_MAX_MS / 4 + 400)
#define PACE_MS 10

static void heal_options(mcf_client *c)
{
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_RETRY_MS, RETRY_MS);
    mcf_set_option(c, MCF_OPT_RETRY_MAX_MS, RETRY_MAX_MS);
    mcf_set_option(c, MCF_OPT_FLAP_MS, FLAP_MS);
}

static mcf_server_info info_of(mcf_client *c, size_t i)
{
    mcf_server_info info;
    memset(&info, 0, sizeof info);
    mcf_server_info_get(c, i, &info);
    return info;
}

/* Gets key until the server is skipped; returns how many calls failed
 * before that (each within the deadline of one connect or I/O timeout),
 * or -1 if it never was. */
static int calls_until_down(mcf_client *c, const char *key)
{
    mcf_value v;
    for (int n = 0; n < 20; n++) {
        double t0 = now_ms();
        int rc = mcf_get(c, key, strlen(key), &v);
        double ms = now_ms() - t0;
        CHECKF(ms < 2 * TIMEOUT_MS + 200, "call %d took %.0f ms", n, ms);
        if (rc == MCF_ERR_SERVER_DOWN)
            return n;
        CHECKF(rc == MCF_ERR_CONNECT || rc == MCF_ERR_IO || rc == MCF_ERR_TIMEOUT,
               "call %d before the server is down: rc %d (%s): %s", n, rc, mcf_strerror(rc),
               mcf_last_error(c));
    }
    return -1;
}

/* Calls get(key) every PACE_MS until it is a hit or a miss; each call
 * must end fast (never waiting for the probe).  Milliseconds it took, or
 * -1 after bound_ms. */
static double until_back(mcf_client *c, const char *key, double bound_ms)
{
    double t0 = now_ms();
    mcf_value v;
    while (now_ms() - t0 < bound_ms) {
        double c0 = now_ms();
        int rc = mcf_get(c, key, strlen(key), &v);
        double ms = now_ms() - c0;
        CHECKF(ms < FAST_MS, "a call while the server heals took %.0f ms (rc %d: %s)", ms, rc,
               mcf_last_error(c));
        if (rc == MCF_OK || rc == MCF_MISS)
            return now_ms() - t0;
        CHECKF(rc == MCF_ERR_SERVER_DOWN, "while it heals: rc %d (%s): %s", rc, mcf_strerror(rc),
               mcf_last_error(c));
        sleep_ms(PACE_MS);
    }
    return -1;
}

TEST(heal_sigkill_fails_fast_then_comes_back)
{
    SETUP(NSRV, NULL);
    heal_options(c);
    char key[64], other[64];
    key_for(c, DEAD, "hk", key, sizeof key);
    key_for(c, 0, "ho", other, sizeof other);
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);
    CHECK_RC(mcf_set(c, KS(other), "o", 1, 0, 0), MCF_OK);
    mcserver_kill(&srv[DEAD], SIGKILL);

    CHECK(calls_until_down(c, key) == LIMIT);
    const char *msg = mcf_last_error(c);
    CHECKF(contains(msg, srv[DEAD].spec) && contains(msg, "down"),
           "the message does not name the down server: %s", msg);
    mcf_server_info in = info_of(c, DEAD);
    CHECK(in.down == 1 && in.downs == 1);
    CHECKF(in.retry_in_ms <= RETRY_MS + RETRY_MS / 4, "first wait %lld ms",
           (long long)in.retry_in_ms);

    /* While down: fast failures for its keys, the others served. */
    double t0 = now_ms();
    mcf_value v;
    for (int i = 0; i < 50; i++)
        CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_SERVER_DOWN);
    double ms = now_ms() - t0;
    printf("INFO: 50 gets of a down server's key: %.1f ms\n", ms);
    CHECKF(ms < FAST_MS, "50 skipped gets took %.0f ms", ms);
    CHECK(get_eq(c, other, "o"));

    CHECK(mcserver_restart(&srv[DEAD]) == 0);
    double back = until_back(c, key, BACK_BOUND_MS);
    printf("INFO: back %.0f ms after the restart\n", back);
    CHECKF(back >= 0, "not back within %d ms of the restart: %s", BACK_BOUND_MS,
           mcf_last_error(c));
    in = info_of(c, DEAD);
    CHECK(in.down == 0 && in.failures == 0);
    CHECK_RC(mcf_set(c, KS(key), "back", 4, 0, 0), MCF_OK);
    CHECK(raw_has(&srv[DEAD], key, "back"));
    TEARDOWN(NSRV);
}

/* A stopped memcached's kernel accepts connections: only an answer to the
 * probe brings it back. */
TEST(heal_sigstop_needs_an_answer)
{
    SETUP(2, NULL);
    heal_options(c);
    char key[64];
    key_for(c, DEAD, "hs", key, sizeof key);
    CHECK_RC(mcf_set(c, KS(key), "v", 1, 0, 0), MCF_OK);
    mcserver_kill(&srv[DEAD], SIGSTOP);
    CHECK(calls_until_down(c, key) == LIMIT);
    /* Probes connect, ask, and get no answer: it stays down. */
    mcf_value v;
    double t0 = now_ms();
    while (now_ms() - t0 < 3 * RETRY_MAX_MS) {
        double c0 = now_ms();
        CHECK_RC(mcf_get(c, KS(key), &v), MCF_ERR_SERVER_DOWN);
        CHECKF(now_ms() - c0 < FAST_MS, "a call took %.0f ms", now_ms() - c0);
        sleep_ms(PACE_MS);
    }
    mcf_server_info in = info_of(c, DEAD);
    printf("INFO: after %d ms stopped: down %d, last probe: %s\n", 3 * RETRY_MAX_MS, in.down,
           in.down_why);
    CHECK(in.down == 1);
    CHECKF(contains(in.down_why, "version") && contains(in.down_why, srv[DEAD].spec),
           "why the probe failed: '%s'", in.down_why);
    kill(srv[DEAD].pid, SIGCONT);
    CHECKF(until_back(c, key, BACK_BOUND_MS + TIMEOUT_MS) >= 0, "not back after SIGCONT: %s",
           mcf_last_error(c));
    TEARDOWN(2);
}

/* A blackholed server among live ones: no call pays more than one connect
 * timeout (the servers connect side by side), and after the limit none
 * pays any. */
TEST(heal_blackhole_costs_one_timeout_then_none)
{
    SETUP(3, NULL);
    blackhole b;
    if (blackhole_open(&b, "127.0.0.1") < 0) {
        printf("SKIP: cannot fill a loopback accept queue\n");
        TEARDOWN(3);
        return;
    }
    char bh[MCF_ADDRSTR_MAX], list[4 * MCF_ADDRSTR_MAX + 4 * 64];
    mcf_addr_format(&b.addr, bh, sizeof bh);
    snprintf(list, sizeof list, "%s,%s,%s,%s", srv[0].spec, srv[1].spec, srv[2].spec, bh);
    CHECK_RC(mcf_set_servers(c, list), MCF_OK);
    heal_options(c);
    keyset ks;
    ks_make(&ks, 100, "hb");
    for (int call = 0; call < LIMIT + 5; call++) {
        gm g;
        double t0 = now_ms();
        gm_run(c, &g, MCF_GET, 0, ks.k, ks.n);
        double ms = now_ms() - t0;
        size_t down = 0, timeout = 0, served = 0;
        for (size_t i = 0; i < ks.n; i++) {
            down += g.rc[i] == MCF_ERR_SERVER_DOWN;
            timeout += g.rc[i] == MCF_ERR_TIMEOUT;
            served += g.rc[i] == MCF_MISS || g.rc[i] == MCF_OK;
        }
        printf("INFO: call %d: %.0f ms, %zu served, %zu timed out, %zu skipped\n", call, ms,
               served, timeout, down);
        CHECKF(ms < TIMEOUT_MS + 300, "call %d took %.0f ms: more than one connect timeout",
               call, ms);
        if (call >= LIMIT) {
            CHECKF(ms < FAST_MS, "call %d after the limit took %.0f ms", call, ms);
            CHECKF(timeout == 0 && down > 0, "call %d: %zu timed out, %zu skipped", call, timeout,
                   down);
        }
        CHECKF(served + down + timeout == ks.n, "call %d: %zu keys unaccounted for", call,
               ks.n - served - down - timeout);
        gm_free(&g);
    }
    ks_free(&ks);
    blackhole_close(&b);
    TEARDOWN(3);
}

/* The async core probes in the background: with nothing in flight, the
 * loop alone brings a restarted server back. */
TEST(heal_async_probes_in_the_background)
{
    SETUP(2, NULL);
    heal_options(c);
    char key[64];
    key_for(c, DEAD, "ha", key, sizeof key);
    mcserver_kill(&srv[DEAD], SIGKILL);
    CHECK(calls_until_down(c, key) == LIMIT);
    CHECK(mcserver_restart(&srv[DEAD]) == 0);
    double t0 = now_ms();
    int back = 0;
    while (!back && now_ms() - t0 < BACK_BOUND_MS) {
        struct pollfd fds[16];
        int timeout;
        size_t n = mcf_async_pollset(c, fds, 16, &timeout);
        CHECKF(timeout >= 0, "a down server and no timer asked of the loop");
        if (timeout < 0 || timeout > 50)
            timeout = 50;
        poll(fds, (nfds_t)(n < 16 ? n : 16), timeout);
        mcf_async_process(c, fds, n < 16 ? n : 16);
        CHECK(mcf_async_inflight(c) == 0);
        back = !info_of(c, DEAD).down;
    }
    printf("INFO: async: back %.0f ms after the restart, no request sent\n", now_ms() - t0);
    CHECKF(back, "the loop did not bring it back within %d ms", BACK_BOUND_MS);
    mcf_value v;
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_MISS);
    TEARDOWN(2);
}

/* Down again soon after coming back: held down longer. */
TEST(heal_flap_waits_longer)
{
    SETUP(2, NULL);
    heal_options(c);
    char key[64];
    key_for(c, DEAD, "hf", key, sizeof key);
    mcserver_kill(&srv[DEAD], SIGKILL);
    CHECK(calls_until_down(c, key) == LIMIT);
    int64_t first = info_of(c, DEAD).retry_in_ms;
    CHECK(mcserver_restart(&srv[DEAD]) == 0);
    CHECK(until_back(c, key, BACK_BOUND_MS) >= 0);
    mcserver_kill(&srv[DEAD], SIGKILL);
    CHECK(calls_until_down(c, key) == LIMIT);
    mcf_server_info in = info_of(c, DEAD);
    printf("INFO: first wait %lld ms, after a flap %lld ms\n", (long long)first,
           (long long)in.retry_in_ms);
    CHECK(in.downs == 2);
    /* First: 200 ms +-25%; after the flap at least the doubled 400 -25%. */
    CHECKF(first <= RETRY_MS + RETRY_MS / 4 && in.retry_in_ms > 2 * RETRY_MS - RETRY_MS / 2 - 20,
           "waits %lld then %lld ms", (long long)first, (long long)in.retry_in_ms);
    TEARDOWN(2);
}

TEST(heal_failover_while_down)
{
    SETUP(NSRV, NULL);
    heal_options(c);
    mcf_set_option(c, MCF_OPT_FAILOVER, 1);
    char key[64];
    key_for(c, DEAD, "hv", key, sizeof key);
    CHECK_RC(mcf_set(c, KS(key), "home", 4, 0, 0), MCF_OK);
    mcserver_kill(&srv[DEAD], SIGKILL);
    mcf_value v;
    for (int i = 0; i < LIMIT; i++)
        CHECK(mcf_is_error(mcf_get(c, KS(key), &v)));
    /* Down: its keys go to a live server. */
    CHECK_RC(mcf_set(c, KS(key), "away", 4, 0, 0), MCF_OK);
    CHECK(get_eq(c, key, "away"));
    CHECK(mcserver_restart(&srv[DEAD]) == 0);
    double t0 = now_ms();
    while (info_of(c, DEAD).down && now_ms() - t0 < BACK_BOUND_MS) {
        (void)mcf_get(c, KS("hv:pace"), &v);
        sleep_ms(PACE_MS);
    }
    CHECK(!info_of(c, DEAD).down);
    /* Back home: the restarted server is empty. */
    CHECK_RC(mcf_get(c, KS(key), &v), MCF_MISS);
    TEARDOWN(NSRV);
}

TEST(heal_off_with_failure_limit_zero)
{
    SETUP(2, NULL);
    heal_options(c);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 0), MCF_OK);
    char key[64];
    key_for(c, DEAD, "hz", key, sizeof key);
    mcserver_kill(&srv[DEAD], SIGKILL);
    mcf_value v;
    for (int i = 0; i < 10; i++) {
        int rc = mcf_get(c, KS(key), &v);
        CHECKF(rc == MCF_ERR_CONNECT || rc == MCF_ERR_IO, "call %d: rc %d (%s)", i, rc,
               mcf_strerror(rc));
    }
    CHECK(info_of(c, DEAD).down == 0);
    TEARDOWN(2);
}

typedef struct events {
    int down, up;
    size_t last_server;
} events;

static void on_event(void *ctx, mcf_event e, size_t server)
{
    events *ev = ctx;
    ev->down += e == MCF_EVENT_SERVER_DOWN;
    ev->up += e == MCF_EVENT_SERVER_UP;
    ev->last_server = server;
}

/* One SERVER_DOWN when it is marked down, one SERVER_UP when it is back,
 * and nothing for the failed probes between. */
TEST(heal_events)
{
    SETUP(2, NULL);
    heal_options(c);
    events ev = {0};
    mcf_set_event_callback(c, on_event, &ev);
    char key[64];
    key_for(c, DEAD, "he", key, sizeof key);
    mcserver_kill(&srv[DEAD], SIGKILL);
    CHECK(calls_until_down(c, key) == LIMIT);
    CHECK(ev.down == 1 && ev.up == 0 && ev.last_server == DEAD);
    mcf_value v;
    double t0 = now_ms();
    while (now_ms() - t0 < 2 * RETRY_MAX_MS) { /* several probes fail meanwhile */
        (void)mcf_get(c, KS(key), &v);
        sleep_ms(PACE_MS);
    }
    CHECKF(ev.down == 1 && ev.up == 0, "while dead: %d down, %d up events", ev.down, ev.up);
    CHECK(mcserver_restart(&srv[DEAD]) == 0);
    CHECK(until_back(c, key, BACK_BOUND_MS) >= 0);
    CHECKF(ev.down == 1 && ev.up == 1 && ev.last_server == DEAD, "%d down, %d up events", ev.down,
           ev.up);
    TEARDOWN(2);
}

typedef struct async_down {
    int key_down, key_ok, done, done_rc, resubmitted;
    const char *down_key;
} async_down;

static void ad_each(mcf_client *c, mcf_request *req, size_t i, int rc, const mcf_value *v,
                    void *arg)
{
    (void)c, (void)req, (void)i, (void)v;
    async_down *a = arg;
    a->key_down += rc == MCF_ERR_SERVER_DOWN;
    a->key_ok += rc == MCF_OK;
}

static void ad_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)req, (void)v;
    async_down *a = arg;
    a->done++;
    a->done_rc = rc;
    /* A callback that asks the down server again: that request fails too,
     * in a later pass, with no connect tried. */
    if (!a->resubmitted) {
        a->resubmitted = 1;
        CHECK(mcf_async_get(c, MCF_GET, 0, a->down_key, strlen(a->down_key), ad_done, a) != NULL);
    }
}

/* An async request that touches a down server is not refused: its keys on
 * live servers are served, the down server's fail with SERVER_DOWN from
 * the loop, never from inside the submit. */
TEST(heal_async_request_to_a_down_server)
{
    SETUP(2, NULL);
    heal_options(c);
    char down[64], live[64];
    key_for(c, DEAD, "hd", down, sizeof down);
    key_for(c, 0, "hl", live, sizeof live);
    CHECK_RC(mcf_set(c, KS(live), "v", 1, 0, 0), MCF_OK);
    mcserver_kill(&srv[DEAD], SIGKILL);
    CHECK(calls_until_down(c, down) == LIMIT);
    int fds0 = count_fds();
    async_down a = {.down_key = down};
    const char *keys[2] = {live, down};
    mcf_request *r = mcf_async_get_multi(c, MCF_GET, 0, keys, NULL, 2, ad_each, ad_done, &a);
    CHECKF(r != NULL, "refused: %s", mcf_last_error(c));
    CHECK(a.done == 0 && a.key_down == 0); /* nothing handed out inside the submit */
    CHECK(drive(c, DRIVE_POLLSET, 2000) == 0);
    CHECKF(a.key_ok == 1 && a.key_down == 1, "%d ok, %d down", a.key_ok, a.key_down);
    CHECKF(a.done == 2 && a.done_rc == MCF_ERR_SERVER_DOWN, "%d done, rc %d", a.done, a.done_rc);
    CHECKF(count_fds() <= fds0 + 1, "descriptors %d -> %d: a connect to the down server?", fds0,
           count_fds());
    TEARDOWN(2);
}

TEST(heal_options_checked)
{
    mcf_client *c = mcf_new();
    CHECK(mcf_get_option(c, MCF_OPT_FAILURE_LIMIT) == 3);
    CHECK(mcf_get_option(c, MCF_OPT_RETRY_MS) == 1000);
    CHECK(mcf_get_option(c, MCF_OPT_RETRY_MAX_MS) == 30000);
    CHECK(mcf_get_option(c, MCF_OPT_FLAP_MS) == 60000);
    CHECK_RC(mcf_set_option(c, MCF_OPT_RETRY_MS, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, -1), MCF_ERR_ARG);
    CHECK_RC(mcf_set_option(c, MCF_OPT_FLAP_MS, -1), MCF_ERR_ARG);
    mcf_free(c);
}

int main(int argc, char **argv)
{
    return client_tests_main(argc, argv);
}
