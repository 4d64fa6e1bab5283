/* test_parallel_connect.c - one call over live servers and servers whose
 * connects hang (loopback listeners with a full accept queue, see
 * blackhole.h): every server of the call connects at once, so the call
 * costs about one connect timeout, not one per hanging server, and the
 * live servers' keys still hit.  The same for MCF_PROTO_AUTO's probes. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "blackhole.h"
#include "clock.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

#define NLIVE 2
#define NSTOPPED 3
#define IO_TIMEOUT_MS 400
#define NDEAD 4
#define NKEYS 200
#define CONNECT_TIMEOUT_MS 400

static mcserver live[NLIVE];
static mcserver stopped[NSTOPPED];
static blackhole dead[NDEAD];
static char dead_spec[NDEAD][MCF_ADDRSTR_MAX];
static int have_blackholes;

typedef struct tally {
    int hits, timeouts, other;
    int wrong; /* a value that is not its key's */
} tally;

static void on_value(void *ctx, size_t i, int rc, const mcf_value *v)
{
    tally *t = ctx;
    char want[32];
    snprintf(want, sizeof want, "value-%zu", i);
    if (rc == MCF_OK) {
        t->hits++;
        if (v->len != strlen(want) || memcmp(v->data, want, v->len) != 0)
            t->wrong++;
    } else if (rc == MCF_ERR_TIMEOUT) {
        t->timeouts++;
    } else {
        t->other++;
    }
}

/* The servers' list: live ones first, then the hanging ones. */
static mcf_client *client_over(int with_dead)
{
    char list[(NLIVE + NDEAD) * (MCF_ADDRSTR_MAX + 1)] = "";
    size_t used = 0;
    for (int k = 0; k < NLIVE; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s ", live[k].spec);
    for (int k = 0; with_dead && k < NDEAD; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s ", dead_spec[k]);
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, list) != MCF_OK)
        return NULL;
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 1000);
    mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_CMF);
    return c;
}

/* Names NKEYS keys "PREFIX:i" and stores "value-i" for each one that c
 * places on a live server (servers 0..NLIVE-1), straight on that server, so
 * a hit proves the key was routed as c routes it.  Returns how many. */
static int make_keys(mcf_client *c, const char *prefix, char keys[][32], const char **kp)
{
    int on_live = 0;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], 32, "%s:%d", prefix, i);
        kp[i] = keys[i];
        size_t srv;
        if (mcf_server_for_key(c, keys[i], strlen(keys[i]), &srv) != MCF_OK || srv >= NLIVE)
            continue;
        char v[32];
        int n = snprintf(v, sizeof v, "value-%d", i);
        mcf_client *one = mcf_new();
        mcf_set_servers(one, live[srv].spec);
        CHECK_RC(mcf_set(one, keys[i], strlen(keys[i]), v, (size_t)n, 0, 0), MCF_OK);
        mcf_free(one);
        on_live++;
    }
    return on_live;
}

TEST(first_call_waits_for_one_connect_timeout)
{
    SKIP_UNLESS(have_blackholes, "this kernel never drops SYNs to a full accept queue");
    mcf_client *all = client_over(1), *lonly = client_over(0);
    static char keys[NKEYS][32];
    const char *kp[NKEYS];
    int on_live = 0;
    if (!all || !lonly) {
        CHECKF(0, "cannot make the clients");
        goto out;
    }
    on_live = make_keys(all, "pc", keys, kp);
    CHECKF(on_live > 0 && on_live < NKEYS, "%d of %d keys on live servers", on_live, NKEYS);
    tally t = {0, 0, 0, 0};
    int64_t t0 = mcf_now_us();
    mcf_get_multi(all, MCF_GET, 0, kp, NULL, NKEYS, on_value, &t);
    double ms = (double)(mcf_now_us() - t0) / 1000.0;
    CHECKF(t.hits == on_live, "%d hits, want %d", t.hits, on_live);
    CHECKF(t.timeouts == NKEYS - on_live, "%d timeouts, want %d", t.timeouts, NKEYS - on_live);
    CHECKF(t.other == 0 && t.wrong == 0, "%d other results, %d wrong values", t.other, t.wrong);
    /* Serial connects would cost NDEAD * CONNECT_TIMEOUT_MS (1600 ms). */
    CHECKF(ms < 2 * CONNECT_TIMEOUT_MS, "the call took %.0f ms with %d hanging servers", ms, NDEAD);
    const char *m = mcf_last_error(all);
    CHECKF(strstr(m, "timed out after") != NULL && strstr(m, "127.0.0.1") != NULL,
           "message '%s'", m);
    printf("# %d hanging servers, connect timeout %d ms: first call %.0f ms\n", NDEAD,
           CONNECT_TIMEOUT_MS, ms);
out:
    mcf_free(all);
    mcf_free(lonly);
}

/* MCF_PROTO_AUTO asks each new connection what it speaks.  Servers that
 * accept connections but never answer (SIGSTOPped: the kernel still
 * completes the handshake) are probed side by side, so the call costs one
 * I/O timeout, not one per silent server, and the live servers answer. */
TEST(auto_probes_run_in_parallel)
{
    char list[(NLIVE + NSTOPPED) * 64] = "";
    size_t used = 0;
    for (int k = 0; k < NLIVE; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s ", live[k].spec);
    for (int k = 0; k < NSTOPPED; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s ", stopped[k].spec);
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, list) != MCF_OK) {
        CHECKF(0, "cannot make the client");
        mcf_free(c);
        return;
    }
    mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_AUTO);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS);
    static char keys[NKEYS][32];
    const char *kp[NKEYS];
    int on_live = 0;
    on_live = make_keys(c, "pp", keys, kp);
    for (int k = 0; k < NSTOPPED; k++)
        mcserver_kill(&stopped[k], SIGSTOP);
    tally t = {0, 0, 0, 0};
    int64_t t0 = mcf_now_us();
    mcf_get_multi(c, MCF_GET, 0, kp, NULL, NKEYS, on_value, &t);
    double ms = (double)(mcf_now_us() - t0) / 1000.0;
    for (int k = 0; k < NSTOPPED; k++)
        mcserver_kill(&stopped[k], SIGCONT);
    CHECKF(t.hits == on_live, "%d hits, want %d", t.hits, on_live);
    CHECKF(t.timeouts == NKEYS - on_live, "%d timeouts, want %d", t.timeouts, NKEYS - on_live);
    CHECKF(t.other == 0 && t.wrong == 0, "%d other results, %d wrong values", t.other, t.wrong);
    /* One probe after another would cost NSTOPPED * IO_TIMEOUT_MS. */
    CHECKF(ms < 2 * IO_TIMEOUT_MS, "the call took %.0f ms with %d silent servers", ms, NSTOPPED);
    const char *m = mcf_last_error(c);
    CHECKF(strstr(m, "protocol probe") != NULL, "message '%s'", m);
    printf("# %d silent servers, auto protocol, I/O timeout %d ms: first call %.0f ms\n",
           NSTOPPED, IO_TIMEOUT_MS, ms);
    mcf_free(c);
}

int main(int argc, char **argv)
{
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    for (int k = 0; k < NLIVE; k++)
        if (mcserver_start_tcp(&live[k], "127.0.0.1", NULL) != 0) {
            printf("FAIL: setup: cannot start memcached\n");
            return 1;
        }
    for (int k = 0; k < NSTOPPED; k++)
        if (mcserver_start_tcp(&stopped[k], "127.0.0.1", NULL) != 0) {
            printf("FAIL: setup: cannot start memcached\n");
            return 1;
        }
    int ndead = 0;
    for (; ndead < NDEAD; ndead++) {
        if (blackhole_open(&dead[ndead], "127.0.0.1") != 0)
            break;
        char a[MCF_ADDRSTR_MAX];
        mcf_addr_format(&dead[ndead].addr, a, sizeof a);
        snprintf(dead_spec[ndead], sizeof dead_spec[ndead], "%s", a);
    }
    have_blackholes = ndead == NDEAD;
    int rc = t_main(argc, argv);
    while (ndead > 0)
        blackhole_close(&dead[--ndead]);
    for (int k = 0; k < NLIVE; k++)
        mcserver_stop(&live[k]);
    for (int k = 0; k < NSTOPPED; k++)
        mcserver_stop(&stopped[k]);
    return rc;
}
