/* test_abort_pipeline.c - a call that gives up on a connection must not
 * leave its request queued in our kernel for later delivery.
 *
 * One real memcached is SIGSTOPped (checked: /proc/PID/stat says T) and a
 * pipelined mcf_multi SET far larger than both sockets' buffers is sent to
 * it with a 500 ms I/O timeout.  The call must fail with MCF_ERR_TIMEOUT.
 * A thread samples /proc/net/tcp during the call: how many request bytes
 * sit in the server's receive queue (R: they reached memcached's socket,
 * nothing can take them back) and in our send queue (S).  Then, the server
 * still stopped:
 *   - our kernel must hold nothing more for that server: a connection
 *     abandoned by a call is closed abortively (SO_LINGER 0), which drops
 *     S at once; a graceful close leaves an orphaned socket that delivers
 *     S as soon as the server reads again.
 *   - after SIGCONT, once the server is idle (stats stop changing), the
 *     stored items must be a prefix of the pipeline no longer than what R
 *     holds (plus margin), and never the whole pipeline.
 * (R is sampled during the call because after an abortive close the
 * server's side leaves the table too.)
 *
 * Two shapes, each with replies and with noreply: few large values (sent
 * from caller memory) and many small sets (one big write buffer).  With
 * replies, memcached's first replies reach our orphaned socket, which
 * answers them with a reset that ends the delivery early; with noreply
 * nothing stops it, so the whole send queue arrives.  INFO lines report
 * R, S and the counts. */
#include <errno.h>
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
#include "mcfast.h"
#include "mcserver.h"

#define SERVER_HOST "127.0.0.1"
#define IO_TIMEOUT_MS 500
/* The call must end by its I/O deadline; generous slack for a loaded host. */
#define CALL_SLACK_MS 3000
/* Enough memory that nothing is evicted even if the whole pipeline arrived
 * (so the count is what arrived), and values up to LARGE_VALUE. */
#define SERVER_ARGS "-m 512"
/* Idle: cmd_set and curr_items unchanged over IDLE_SAMPLES samples taken
 * IDLE_STEP_MS apart, waiting at most IDLE_MAX_MS. */
#define IDLE_SAMPLES 4
#define IDLE_STEP_MS 150
#define IDLE_MAX_MS 20000
/* Bound margin over R: a quarter of it, at least one socket-buffer's worth
 * of slack for memcached reading the queue while the counts are taken. */
#define MARGIN_MIN_BYTES (256 * 1024)
#define MARGIN_FRACTION 4
/* The pipeline is at least this many times the buffers it must overflow. */
#define OVERFLOW_FACTOR 2

#define LARGE_VALUE (64 * 1024)
#define LARGE_ITEMS 2048 /* 128 MiB of values */
#define SMALL_VALUE 64
#define SMALL_ITEMS 200000 /* about 18 MiB */



/* Samples mcserver_tcp_queues() while a call runs, keeping the largest values. */
#define SAMPLE_MS 5
typedef struct sampler {
    const mcserver *srv;
    atomic_int stop;
    uint64_t rx_max, tx_max;
    int samples, unreadable;
    pthread_t th;
} sampler;

static void *sample_loop(void *arg)
{
    sampler *sm = arg;
    while (!atomic_load(&sm->stop)) {
        uint64_t rx, tx;
        if (mcserver_tcp_queues(sm->srv, &rx, &tx) < 0) {
            sm->unreadable++;
        } else {
            sm->samples++;
            if (rx > sm->rx_max)
                sm->rx_max = rx;
            if (tx > sm->tx_max)
                sm->tx_max = tx;
        }
        struct timespec ts = {0, SAMPLE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void sysctl_max(const char *path, uint64_t *out)
{
    /* "min default max" */
    unsigned long long a, b, c;
    FILE *f = fopen(path, "r");
    *out = 0;
    if (!f)
        return;
    if (fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3)
        *out = c;
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */
/* ------------------------------------------------------------------ */

static int64_t stat_value(const char *stats, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "STAT %s ", name);
    const char *p = strstr(stats, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* Waits until the server stops changing (cmd_set, curr_items stable):
 * 0 and the counts, -1 if it never settled or could not be asked. */
static int wait_idle(const mcserver *s, int64_t *cmd_set, int64_t *curr_items)
{
    static char buf[16384];
    int64_t last_set = -2, last_items = -2;
    int stable = 0;
    double t0 = now_ms();
    while (now_ms() - t0 < IDLE_MAX_MS) {
        if (mcserver_raw(s, "stats\r\n", "END\r\n", buf, sizeof buf) > 0) {
            int64_t cs = stat_value(buf, "cmd_set"), ci = stat_value(buf, "curr_items");
            if (cs >= 0 && cs == last_set && ci == last_items) {
                if (++stable >= IDLE_SAMPLES - 1) {
                    *cmd_set = cs;
                    *curr_items = ci;
                    return 0;
                }
            } else {
                stable = 0;
            }
            last_set = cs;
            last_items = ci;
        }
        sleep_ms(IDLE_STEP_MS);
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */
/* ------------------------------------------------------------------ */

typedef struct fixture {
    mcserver srv;
    int started;
    mcf_client *c;
    size_t n;
    char (*keys)[24];
    const char **kptr;
    mcf_item *items;
    char *values; /* n values of vlen bytes, or one shared when shared_value */
    size_t vlen;
    int shared_value;
    /* the prefix check */
    unsigned char *hit;
    size_t nhit, badval;
} fixture;

static void value_of(size_t i, char *v, size_t len)
{
    /* Distinct per item where it fits, so a value from the wrong item shows. */
    for (size_t j = 0; j < len; j++)
        v[j] = (char)('a' + (i + j) % 26);
    char num[24];
    int w = snprintf(num, sizeof num, "%zu-", i);
    if (w > 0 && (size_t)w <= len)
        memcpy(v, num, (size_t)w);
}

static int fixture_setup(fixture *f, size_t n, size_t vlen, int shared_value, const char *prefix)
{
    memset(f, 0, sizeof *f);
    if (mcserver_start_tcp(&f->srv, SERVER_HOST, SERVER_ARGS) < 0)
        return -1;
    f->started = 1;
    f->n = n;
    f->vlen = vlen;
    f->shared_value = shared_value;
    f->keys = calloc(n, sizeof *f->keys);
    f->kptr = calloc(n, sizeof *f->kptr);
    f->items = calloc(n, sizeof *f->items);
    f->hit = calloc(n, 1);
    f->values = malloc(shared_value ? vlen : n * vlen);
    f->c = mcf_new();
    if (!f->keys || !f->kptr || !f->items || !f->hit || !f->values || !f->c)
        return -1;
    if (shared_value)
        value_of(0, f->values, vlen);
    for (size_t i = 0; i < n; i++) {
        snprintf(f->keys[i], sizeof f->keys[i], "%s%zu", prefix, i);
        f->kptr[i] = f->keys[i];
        char *v = shared_value ? f->values : f->values + i * vlen;
        if (!shared_value)
            value_of(i, v, vlen);
        f->items[i] = (mcf_item){.key = f->keys[i], .key_len = strlen(f->keys[i]),
                                 .value = v, .value_len = vlen, .rc = -1};
    }
    if (mcf_set_servers(f->c, f->srv.spec) != MCF_OK ||
        mcf_set_option(f->c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS) != MCF_OK)
        return -1;
    return 0;
}

static void fixture_teardown(fixture *f)
{
    mcf_free(f->c);
    if (f->started) {
        kill(f->srv.pid, SIGCONT);
        mcserver_kill(&f->srv, SIGKILL);
    }
    free(f->keys);
    free(f->kptr);
    free(f->items);
    free(f->values);
    free(f->hit);
}

static void on_value(void *ctx, size_t i, int rc, const mcf_value *v)
{
    fixture *f = ctx;
    if (rc != MCF_OK)
        return;
    f->hit[i] = 1;
    f->nhit++;
    const char *want = f->shared_value ? f->values : f->values + i * f->vlen;
    if (!v || v->len != f->vlen || memcmp(v->data, want, f->vlen) != 0)
        f->badval++;
}

/* The smallest a set of item i can be on the wire: "set K 0 0 N\r\n" V "\r\n". */
static size_t wire_size(const fixture *f, size_t i)
{
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "set %s 0 0 %zu\r\n", f->keys[i], f->vlen);
    return (size_t)h + f->vlen + 2;
}

/* ------------------------------------------------------------------ */
/* the scenario                                                        */
/* ------------------------------------------------------------------ */

static void abort_pipeline(size_t n, size_t vlen, int shared_value, const char *prefix,
                           unsigned call_flags)
{
    fixture f;
    if (fixture_setup(&f, n, vlen, shared_value, prefix) < 0) {
        t_fail(__FILE__, __LINE__, "setup failed (memcached start or out of memory)");
        fixture_teardown(&f);
        return;
    }
    mcf_value v;
    /* Connected and accepted before the stop, so the request goes out at once. */
    CHECK_RC(mcf_get(f.c, "warmup", 6, &v), MCF_MISS);

    mcserver_kill(&f.srv, SIGSTOP);
    char st = mcserver_proc_state(f.srv.pid);
    if (st != 'T') {
        t_fail(__FILE__, __LINE__, "memcached %d did not stop (state '%c')", (int)f.srv.pid,
               st ? st : '?');
        fixture_teardown(&f);
        return;
    }

    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += wire_size(&f, i);
    uint64_t rmem_max, wmem_max;
    sysctl_max("/proc/sys/net/ipv4/tcp_rmem", &rmem_max);
    sysctl_max("/proc/sys/net/ipv4/tcp_wmem", &wmem_max);

    sampler sm = {.srv = &f.srv};
    atomic_init(&sm.stop, 0);
    int sampling = pthread_create(&sm.th, NULL, sample_loop, &sm) == 0;
    CHECKF(sampling, "cannot start the sampling thread");
    double t0 = now_ms();
    int rc = mcf_multi(f.c, MCF_OP_SET, f.items, n, call_flags);
    double el = now_ms() - t0;
    if (sampling) {
        atomic_store(&sm.stop, 1);
        pthread_join(sm.th, NULL);
    }
    CHECK_RC(rc, MCF_ERR_TIMEOUT);
    CHECKF(el < IO_TIMEOUT_MS + CALL_SLACK_MS, "mcf_multi took %.0f ms with a %d ms I/O timeout",
           el, IO_TIMEOUT_MS);
    CHECKF(strstr(mcf_last_error(f.c), f.srv.spec) != NULL, "last error '%s' does not name %s",
           mcf_last_error(f.c), f.srv.spec);
    size_t not_timeout = 0;
    for (size_t i = 0; i < n; i++)
        not_timeout += f.items[i].rc != MCF_ERR_TIMEOUT;
    CHECKF(not_timeout == 0, "%zu items did not get MCF_ERR_TIMEOUT", not_timeout);

    /* What our kernel still holds after the call, the server still stopped. */
    uint64_t rx_after = 0, tx_after = 0;
    int clients = mcserver_tcp_queues(&f.srv, &rx_after, &tx_after);
    uint64_t rx = sm.rx_max, tx = sm.tx_max;
    char st2 = mcserver_proc_state(f.srv.pid);
    printf("INFO: %s: %zu items of %zu bytes, %" PRIu64 " bytes on the wire; call %.0f ms: %s\n",
           t_case_name, n, vlen, total, el, mcf_last_error(f.c));
    printf("INFO: %s: during the call (%d samples): server receive queue up to %" PRIu64
           " bytes, our send queue up to %" PRIu64 " bytes (tcp_rmem max %" PRIu64
           ", tcp_wmem max %" PRIu64 "); after it: %" PRIu64 " bytes still queued by our "
           "kernel on %d socket(s)\n",
           t_case_name, sm.samples, rx, tx, rmem_max, wmem_max, tx_after, clients);
    CHECKF(st2 == 'T', "memcached ran while the queues were read (state '%c')", st2 ? st2 : '?');
    CHECKF(clients >= 0 && sm.samples > 0 && rx > 0,
           "premise: no receive queue seen in /proc/net/tcp (%d samples, %d unreadable)",
           sm.samples, sm.unreadable);
    CHECKF(tx_after == 0,
           "after the call gave up, our kernel still holds %" PRIu64 " request bytes for the "
           "server: the connection was closed gracefully, not with SO_LINGER 0",
           tx_after);
    /* The scenario needs a pipeline that overflows what both sides hold. */
    CHECKF(total >= OVERFLOW_FACTOR * (rx + tx),
           "premise: pipeline of %" PRIu64 " bytes does not dwarf the %" PRIu64 " queued bytes",
           total, rx + tx);

    kill(f.srv.pid, SIGCONT);
    int64_t cmd_set = -1, curr_items = -1;
    double t1 = now_ms();
    int idle = wait_idle(&f.srv, &cmd_set, &curr_items);
    CHECKF(idle == 0, "the server did not become idle within %d ms", IDLE_MAX_MS);

    /* Which items exist (a fresh client: ours may be anything now). */
    mcf_client *q = mcf_new();
    CHECK(q != NULL);
    if (q) {
        CHECK_RC(mcf_set_servers(q, f.srv.spec), MCF_OK);
        mcf_set_option(q, MCF_OPT_IO_TIMEOUT_MS, 30000);
        CHECK_RC(mcf_get_multi(q, MCF_GET, 0, f.kptr, NULL, n, on_value, &f), MCF_OK);
        mcf_free(q);
    }
    size_t prefix_len = 0;
    while (prefix_len < n && f.hit[prefix_len])
        prefix_len++;

    uint64_t margin = rx / MARGIN_FRACTION;
    if (margin < MARGIN_MIN_BYTES)
        margin = MARGIN_MIN_BYTES;
    size_t min_wire = wire_size(&f, 0); /* keys grow: item 0 is the shortest */
    uint64_t bound = (rx + margin) / min_wire + 1;
    uint64_t today = (rx + tx) / min_wire;
    printf("INFO: %s: after SIGCONT (idle after %.0f ms): cmd_set %" PRId64 ", curr_items %" PRId64
           ", %zu keys present (prefix of %zu); bound from the receive queue %" PRIu64
           " items, receive + send queue would be ~%" PRIu64 " items, whole pipeline %zu\n",
           t_case_name, now_ms() - t1, cmd_set, curr_items, f.nhit, prefix_len, bound, today, n);

    CHECKF(f.badval == 0, "%zu stored values differ from what was sent", f.badval);
    CHECKF(f.nhit == prefix_len, "stored keys are not a prefix: %zu present, prefix %zu",
           f.nhit, prefix_len);
    CHECKF(curr_items < 0 || (uint64_t)curr_items == f.nhit,
           "curr_items %" PRId64 " but %zu of our keys present", curr_items, f.nhit);
    CHECKF(f.nhit < n, "the whole pipeline (%zu items) was delivered after the call gave up", n);
    CHECKF(f.nhit <= bound,
           "%zu items stored after the call gave up, more than the %" PRIu64
           " that fit in the server's receive queue (%" PRIu64 " bytes + %" PRIu64
           " margin): our kernel delivered the abandoned send queue (%" PRIu64
           " bytes left after the call): the connection was closed gracefully, not with "
           "SO_LINGER 0",
           f.nhit, bound, rx, margin, tx_after);
    fixture_teardown(&f);
}

TEST(abort_pipeline_large_values)
{
    abort_pipeline(LARGE_ITEMS, LARGE_VALUE, 1, "apl:", 0);
}

TEST(abort_pipeline_many_small_sets)
{
    abort_pipeline(SMALL_ITEMS, SMALL_VALUE, 0, "aps:", 0);
}

/* noreply: memcached sends nothing back, so nothing makes our kernel reset
 * an orphaned socket early: a graceful close delivers its whole queue. */
TEST(abort_pipeline_large_values_noreply)
{
    abort_pipeline(LARGE_ITEMS, LARGE_VALUE, 1, "apln:", MCF_CALL_NOREPLY);
}

TEST(abort_pipeline_many_small_sets_noreply)
{
    abort_pipeline(SMALL_ITEMS, SMALL_VALUE, 0, "apsn:", MCF_CALL_NOREPLY);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* only mcserver_raw could hit it; the library must not */
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    return t_main(argc, argv);
}
