/* test_midcall.c - a server SIGKILLed in the middle of a multi-key get over
 * four real memcached servers: the other servers' keys still come back, the
 * dead server's keys fail with a clear error, and after a restart the next
 * call reconnects.  The kill is made deterministic by stopping the victim
 * first and killing it from inside the first callback, while the client is
 * still waiting for its reply. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

#define NSRV 4
#define NKEYS 400

static mcserver srv[NSRV];
static char keybuf[NKEYS][32];
static const char *keys[NKEYS];

typedef struct result {
    int rc[NKEYS];
    int calls[NKEYS];
    int value_ok[NKEYS];
    mcserver *victim; /* killed at the first callback, then NULL */
} result;

static void on_value(void *ctx, size_t i, int rc, const mcf_value *v)
{
    result *r = ctx;
    if (r->victim) {
        mcserver_kill(r->victim, SIGKILL);
        r->victim = NULL;
    }
    r->rc[i] = rc;
    r->calls[i]++;
    char want[48];
    snprintf(want, sizeof want, "value-of-%s", keys[i]);
    r->value_ok[i] = rc == MCF_OK && v && v->len == strlen(want) &&
                     memcmp(v->data, want, v->len) == 0;
}

TEST(sigkill_mid_multi_get)
{
    mcf_client *c = mcf_new();
    char list[NSRV * 170] = "";
    for (int i = 0; i < NSRV; i++) {
        if (i)
            strcat(list, ",");
        strcat(list, srv[i].spec);
    }
    if (mcf_set_servers(c, list) != MCF_OK) {
        CHECKF(0, "mcf_set_servers(%s): %s", list, mcf_last_error(c));
        mcf_free(c);
        return;
    }
    CHECK_RC(mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 2000), MCF_OK);
    for (int i = 0; i < NKEYS; i++) {
        char val[48];
        snprintf(val, sizeof val, "value-of-%s", keys[i]);
        CHECK_RC(mcf_set(c, keys[i], strlen(keys[i]), val, strlen(val), 0, 0), MCF_OK);
    }
    const int dead = 1;
    size_t on_dead = 0;
    int where[NKEYS];
    for (int i = 0; i < NKEYS; i++) {
        size_t s = 0;
        CHECK_RC(mcf_server_for_key(c, keys[i], strlen(keys[i]), &s), MCF_OK);
        where[i] = (int)s;
        on_dead += s == (size_t)dead;
    }
    CHECK(on_dead > 0 && on_dead < NKEYS);

    /* Stopped, the victim cannot answer: the call is surely waiting for it
     * when the first other server's value is handed out. */
    mcserver_kill(&srv[dead], SIGSTOP);
    static result r;
    memset(&r, 0, sizeof r);
    r.victim = &srv[dead];
    double t0 = now_ms();
    int rc = mcf_get_multi(c, MCF_GET, 0, keys, NULL, NKEYS, on_value, &r);
    double took = now_ms() - t0;
    printf("# multi get with a server killed mid-call: %.0f ms, rc %d: %s\n", took, rc,
           mcf_last_error(c));
    CHECK(r.victim == NULL); /* the kill happened inside the call */
    CHECKF(rc == MCF_ERR_IO, "rc %d (%s)", rc, mcf_strerror(rc));
    CHECKF(strstr(mcf_last_error(c), srv[dead].spec) != NULL, "error '%s' does not name %s",
           mcf_last_error(c), srv[dead].spec);
    CHECKF(took < 1500, "took %.0f ms: the dead server's EOF should end the wait", took);
    size_t hits = 0, dead_errors = 0, wrong = 0;
    for (int i = 0; i < NKEYS; i++) {
        CHECKF(r.calls[i] == 1, "key %s got %d callbacks", keys[i], r.calls[i]);
        if (where[i] == dead)
            dead_errors += r.rc[i] == MCF_ERR_IO;
        else if (r.value_ok[i])
            hits++;
        else
            wrong++;
    }
    CHECKF(hits == NKEYS - on_dead && dead_errors == on_dead && wrong == 0,
           "hits %zu of %zu, dead-server errors %zu of %zu, wrong %zu", hits, NKEYS - on_dead,
           dead_errors, on_dead, wrong);

    /* Restarted (empty): the next call reconnects; its keys are misses
     * until written again, then hits. */
    CHECK(mcserver_restart(&srv[dead]) == 0);
    memset(&r, 0, sizeof r);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, NKEYS, on_value, &r), MCF_OK);
    for (int i = 0; i < NKEYS; i++)
        CHECKF(where[i] == dead ? r.rc[i] == MCF_MISS : r.value_ok[i], "after restart: key %s rc %d",
               keys[i], r.rc[i]);
    for (int i = 0; i < NKEYS; i++)
        if (where[i] == dead) {
            char val[48];
            snprintf(val, sizeof val, "value-of-%s", keys[i]);
            CHECK_RC(mcf_set(c, keys[i], strlen(keys[i]), val, strlen(val), 0, 0), MCF_OK);
        }
    memset(&r, 0, sizeof r);
    CHECK_RC(mcf_get_multi(c, MCF_GET, 0, keys, NULL, NKEYS, on_value, &r), MCF_OK);
    size_t all = 0;
    for (int i = 0; i < NKEYS; i++)
        all += r.value_ok[i];
    CHECKF(all == NKEYS, "after rewrite: %zu of %d hits", all, NKEYS);
    mcf_free(c);
}

int main(int argc, char **argv)
{
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    for (int i = 0; i < NSRV; i++)
        if (mcserver_start_tcp(&srv[i], "127.0.0.1", NULL) < 0) {
            printf("FAIL: setup: cannot start memcached\n");
            return 1;
        }
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keybuf[i], sizeof keybuf[i], "mid:%d", i);
        keys[i] = keybuf[i];
    }
    int rc = t_main(argc, argv);
    for (int i = 0; i < NSRV; i++)
        mcserver_stop(&srv[i]);
    return rc;
}
