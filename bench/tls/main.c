/* main.c - mcfast-bench-tls: mcfast over TLS against mcfast over
 * plaintext and against pymemcache over TLS, on one memcached -Z, in
 * alternating rounds; then the handshake times.  See bench_tls.h.
 *
 *   mcfast-bench-tls [--quick] [--rounds N] [--round-time S] [--keys N]
 *                    [--workloads a,b,..] [--handshakes N] [--no-peer]
 *                    [--python PATH] [--peer-script PATH]
 *   mcfast-bench-tls --only mcfast-tls|mcfast-plain --workloads W --calls N
 *       (for callgrind: N calls inside bench_tls_cg_loop after a warm-up
 *       outside it; valgrind --tool=callgrind --collect-atstart=no
 *       --toggle-collect=bench_tls_cg_loop ...)
 *   mcfast-bench-tls --list
 * tests/tls_certs.sh makes the certificates, bench/tls_pymemcache.py is the
 * peer: both are found from the repository root, where the program goes
 * when it is run elsewhere.
 *
 * Output, per workload (OPS counts keys; medians of the rounds):
 *   config: W mcfast-tls: ... | mcfast-plain: ... | pymemcache-tls: ...
 *   bench: W mcfast-tls=OPS/s mcfast-plain=OPS/s ratio=R      (R = tls / plain)
 *   peer: W mcfast-tls=OPS/s pymemcache-tls=OPS/s mcfast/pymemcache=R
 *   cpu: W client process per call, user+sys/wall: ...
 *   spread: W rounds=N ... (min..max of the rounds, paired ratios)
 *   target: W tls/plain=R >= T met|MISSED    (a miss is reported, never fatal)
 * then
 *   bench: tls_handshake full=MS resumed=MS plain_connect=MS (medians of N) ...
 *   summary: N targets met, N missed, N failures, S s
 * Without TLS in the library (make TLS=0) it says so and exits 0; without
 * python3-pymemcache the peer lines are "info: ... skipped: ..." lines. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_tls.h"
#include "mcfast.h"

/* The targets of issue 12: get_multi100 over TLS at least 0.8x plaintext;
 * at least 3x pymemcache over TLS on the three workloads it names. */
const tworkload g_tworkloads[TW_COUNT] = {
    {TW_GET, "tls_get", 1, 0, 3.0},
    {TW_GETM, "tls_get_multi100", BATCH, 0.8, 3.0},
    {TW_SETM, "tls_set_multi100", BATCH, 0, 3.0},
    {TW_SET500K, "tls_set_500k", 1, 0, 0},
};

#define MAX_ROUNDS 101
#define NCLIENTS 3 /* mcfast-tls, mcfast-plain, pymemcache-tls: the order in a round */
#define DEFAULT_PYTHON "/usr/bin/python3" /* where Debian's python3-pymemcache is found */
#define PEER_SCRIPT "bench/tls_pymemcache.py"

typedef struct opts {
    int quick, rounds, handshakes, no_peer;
    double round_s, probe_s;
    size_t nkeys;
    int selected[TW_COUNT];
    const char *python, *script, *only;
    uint64_t only_calls;
} opts;

static int g_failures;
static bench_targets g_targets;
static int g_have_peer;
static char g_peer_why[512];

static void usage(FILE *f)
{
    fprintf(f, "usage: mcfast-bench-tls [--quick] [--rounds N] [--round-time SECONDS] "
               "[--keys N]\n"
               "                        [--workloads W1,W2,...] [--handshakes N] [--no-peer]\n"
               "                        [--python PATH] [--peer-script PATH]\n"
               "       mcfast-bench-tls --only mcfast-tls|mcfast-plain --workloads W --calls N\n"
               "       mcfast-bench-tls --list\n"
               "workloads:");
    for (int i = 0; i < TW_COUNT; i++)
        fprintf(f, " %s", g_tworkloads[i].name);
    fprintf(f, "\n");
}

static int select_workloads(opts *o, const char *list)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    memset(o->selected, 0, sizeof o->selected);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int i = 0; i < TW_COUNT; i++)
            if (strcmp(t, g_tworkloads[i].name) == 0 || strcmp(t, "all") == 0)
                o->selected[i] = found = 1;
        if (!found) {
            fprintf(stderr, "mcfast-bench-tls: unknown workload '%s'\n", t);
            return -1;
        }
    }
    return 0;
}

/* 0 to run, 1 for --list, -1 on a bad argument. */
static int parse_args(opts *o, int argc, char **argv)
{
    o->rounds = 9;
    o->round_s = 0.35;
    o->probe_s = 0.12;
    o->nkeys = 10000;
    o->handshakes = 50;
    o->python = DEFAULT_PYTHON;
    o->script = PEER_SCRIPT;
    for (int i = 0; i < TW_COUNT; i++)
        o->selected[i] = 1;
    int rounds_set = 0, time_set = 0, hs_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = strcmp(a, "--rounds") == 0 || strcmp(a, "--round-time") == 0 ||
                    strcmp(a, "--keys") == 0 || strcmp(a, "--workloads") == 0 ||
                    strcmp(a, "--handshakes") == 0 || strcmp(a, "--python") == 0 ||
                    strcmp(a, "--peer-script") == 0 || strcmp(a, "--only") == 0 ||
                    strcmp(a, "--calls") == 0;
        if (takes && !v) {
            fprintf(stderr, "mcfast-bench-tls: %s needs a value\n", a);
            return -1;
        }
        if (takes)
            i++;
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--no-peer") == 0) {
            o->no_peer = 1;
        } else if (strcmp(a, "--list") == 0) {
            return 1;
        } else if (strcmp(a, "--rounds") == 0) {
            o->rounds = atoi(v);
            rounds_set = 1;
            if (o->rounds < 1 || o->rounds > MAX_ROUNDS) {
                fprintf(stderr, "mcfast-bench-tls: --rounds must be 1..%d\n", MAX_ROUNDS);
                return -1;
            }
        } else if (strcmp(a, "--round-time") == 0) {
            o->round_s = strtod(v, NULL);
            time_set = 1;
            if (!(o->round_s > 0.001 && o->round_s < 60)) {
                fprintf(stderr, "mcfast-bench-tls: --round-time must be in (0.001, 60) s\n");
                return -1;
            }
        } else if (strcmp(a, "--keys") == 0) {
            o->nkeys = (size_t)strtoul(v, NULL, 10) / BATCH * BATCH;
            if (o->nkeys < BATCH || o->nkeys > 1000000) {
                fprintf(stderr, "mcfast-bench-tls: --keys must be %d..1000000\n", BATCH);
                return -1;
            }
        } else if (strcmp(a, "--workloads") == 0) {
            if (select_workloads(o, v) != 0)
                return -1;
        } else if (strcmp(a, "--handshakes") == 0) {
            o->handshakes = atoi(v);
            hs_set = 1;
            if (o->handshakes < 1 || o->handshakes > 1000) {
                fprintf(stderr, "mcfast-bench-tls: --handshakes must be 1..1000\n");
                return -1;
            }
        } else if (strcmp(a, "--python") == 0) {
            o->python = v;
        } else if (strcmp(a, "--peer-script") == 0) {
            o->script = v;
        } else if (strcmp(a, "--only") == 0) {
            o->only = v;
            if (strcmp(v, "mcfast-tls") != 0 && strcmp(v, "mcfast-plain") != 0) {
                fprintf(stderr, "mcfast-bench-tls: --only takes mcfast-tls or mcfast-plain\n");
                return -1;
            }
        } else if (strcmp(a, "--calls") == 0) {
            o->only_calls = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return -1;
        }
    }
    /* --quick: a smoke run (tests/t_bench_smoke.sh), not a measurement. */
    if (o->quick) {
        if (!rounds_set)
            o->rounds = 1;
        if (!time_set)
            o->round_s = 0.05;
        if (!hs_set)
            o->handshakes = 3;
        o->probe_s = 0.02;
    }
    if (o->only && o->only_calls == 0) {
        fprintf(stderr, "mcfast-bench-tls: --only needs --calls N\n");
        return -1;
    }
    return 0;
}

/* memcached's help names -Z (--enable-ssl) when it was built with TLS. */
static int memcached_has_tls(void)
{
    char cmd[256], line[512];
    snprintf(cmd, sizeof cmd, "%s -h 2>&1", mcserver_binary());
    FILE *f = popen(cmd, "r");
    int found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        found |= strstr(line, "--enable-ssl") != NULL;
    pclose(f);
    return found;
}

static char g_marker = 'A';

/* One timed round of r; its rate in keys per second, or -1 after an error line. */
static double timed_round(trunner *r, double seconds, round_result *acc)
{
    const tworkload *w = r->w;
    uint64_t first = r->cursor;
    if (tw_is_set(w)) {
        /* A fresh marker in every value: the read-back proves this round's
         * writes reached the server. */
        g_marker = g_marker == 'Z' ? 'A' : (char)(g_marker + 1);
        data_stamp(g_marker);
        r->marker = g_marker;
    }
    round_result res;
    memset(&res, 0, sizeof res);
    if (r->round(r, seconds, &res) != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, r->err);
        g_failures++;
        return -1;
    }
    char why[512];
    if (tw_is_set(w) && verify_sets(w, first, res.calls, why, sizeof why) != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, why);
        g_failures++;
        return -1;
    }
    acc->calls += res.calls;
    acc->seconds += res.seconds;
    acc->user_s += res.user_s;
    acc->sys_s += res.sys_s;
    return (double)res.calls * w->keys_per_call / (res.seconds > 1e-9 ? res.seconds : 1e-9);
}

static double cpu_per_call(const round_result *a)
{
    return (a->user_s + a->sys_s) / (double)a->calls;
}

static void print_cpu(const char *name, const round_result *a)
{
    double c = (double)a->calls;
    printf(" %s=%.2f+%.2f/%.2f us", name, a->user_s * 1e6 / c, a->sys_s * 1e6 / c,
           a->seconds * 1e6 / c);
}

static void run_workload(const tworkload *w, const opts *o)
{
    trunner *rs[NCLIENTS] = {mcfast_trunner(w, 1), mcfast_trunner(w, 0),
                             g_have_peer ? peer_trunner(w) : NULL};
    int nc = g_have_peer ? NCLIENTS : NCLIENTS - 1;
    double rate[NCLIENTS][MAX_ROUNDS];
    round_result acc[NCLIENTS];
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < nc; i++)
        if (!rs[i]) {
            printf("error: %s: cannot set up client %d\n", w->name, i);
            g_failures++;
            goto out;
        }
    /* Warm-up: connections (the TLS handshakes), buffers, the peer's
     * first calls. */
    for (int i = 0; i < nc; i++) {
        round_result warm;
        memset(&warm, 0, sizeof warm);
        if (timed_round(rs[i], o->probe_s, &warm) < 0)
            goto out;
    }
    printf("config: %s mcfast-tls: %s | mcfast-plain: %s | pymemcache-tls: %s\n", w->name,
           rs[0]->config, rs[1]->config, g_have_peer ? rs[2]->config : "skipped");
    for (int k = 0; k < o->rounds; k++)
        for (int i = 0; i < nc; i++)
            if ((rate[i][k] = timed_round(rs[i], o->round_s, &acc[i])) < 0)
                goto out;
    int n = o->rounds;
    double tls = bench_median(rate[0], n), plain = bench_median(rate[1], n);
    double pr[MAX_ROUNDS], pp[MAX_ROUNDS];
    for (int k = 0; k < n; k++) {
        pr[k] = rate[0][k] / rate[1][k];
        if (g_have_peer)
            pp[k] = rate[0][k] / rate[2][k];
    }
    printf("bench: %s mcfast-tls=%.0f/s mcfast-plain=%.0f/s ratio=%.2f\n", w->name, tls, plain,
           tls / plain);
    double peer = g_have_peer ? bench_median(rate[2], n) : 0;
    if (g_have_peer)
        printf("peer: %s mcfast-tls=%.0f/s pymemcache-tls=%.0f/s mcfast/pymemcache=%.2f\n",
               w->name, tls, peer, tls / peer);
    else
        printf("info: %s pymemcache skipped: %s\n", w->name, g_peer_why);
    printf("cpu: %s client process per call, user+sys/wall:", w->name);
    print_cpu("mcfast-tls", &acc[0]);
    print_cpu("mcfast-plain", &acc[1]);
    if (g_have_peer) {
        print_cpu("pymemcache-tls", &acc[2]);
        /* The clients' own cost, which the wall-clock ratio hides when
         * memcached and the kernel take most of a call (a single get). */
        printf(" cpu-ratio pymemcache/mcfast-tls=%.2f",
               cpu_per_call(&acc[2]) / cpu_per_call(&acc[0]));
    }
    printf("\n");
    printf("spread: %s rounds=%d mcfast-tls=%.0f..%.0f mcfast-plain=%.0f..%.0f", w->name, n,
           bench_min(rate[0], n), bench_max(rate[0], n), bench_min(rate[1], n), bench_max(rate[1], n));
    if (g_have_peer)
        printf(" pymemcache-tls=%.0f..%.0f", bench_min(rate[2], n), bench_max(rate[2], n));
    /* Each round's own ratio: drifts of the machine between rounds cancel out. */
    printf(" paired-ratio-median tls/plain=%.2f", bench_median(pr, n));
    if (g_have_peer)
        printf(" mcfast/pymemcache=%.2f", bench_median(pp, n));
    printf("\n");
    if (w->plain_target > 0)
        bench_target(&g_targets, w->name, "tls/plain", tls / plain, w->plain_target, 1);
    if (g_have_peer && w->peer_target > 0)
        bench_target(&g_targets, w->name, "mcfast/pymemcache", tls / peer, w->peer_target, 1);
out:
    for (int i = 0; i < NCLIENTS; i++)
        trunner_free(rs[i]);
}

static void run_handshakes(const opts *o)
{
    hs_result h;
    char why[512];
    if (handshake_measure(o->handshakes, &h, why, sizeof why) != 0) {
        printf("error: tls_handshake: %s\n", why);
        g_failures++;
        return;
    }
    printf("bench: tls_handshake full=%.3fms resumed=%.3fms plain_connect=%.3fms (medians of "
           "%d; mcf_connect_server: TCP connect and handshake; %s %s, EC P-256 certificate)\n",
           h.full_ms, h.resumed_ms, h.plain_ms, h.n, h.version, h.cipher);
    printf("spread: tls_handshake full=%.3f..%.3fms resumed=%.3f..%.3fms (every reconnect "
           "resumed: tls_resumed=1)\n",
           h.full_min, h.full_max, h.res_min, h.res_max);
}

/* ---- callgrind mode ---- */

/* Everything a call costs on the client side is under this function
 * (--toggle-collect=bench_tls_cg_loop); called through a volatile pointer
 * so it is neither inlined nor cloned. */
__attribute__((noinline)) int bench_tls_cg_loop(trunner *r, uint64_t calls);
__attribute__((noinline)) int bench_tls_cg_loop(trunner *r, uint64_t calls)
{
    return r->run(r, calls);
}

/* Warm-up calls outside the collected function: the connection (and its
 * handshake), buffers. */
#define ONLY_WARMUP_CALLS 20

static int run_only(const opts *o)
{
    const tworkload *w = NULL;
    for (int i = 0; i < TW_COUNT; i++)
        if (o->selected[i]) {
            if (w) {
                fprintf(stderr, "mcfast-bench-tls: --only takes exactly one workload\n");
                return 2;
            }
            w = &g_tworkloads[i];
        }
    if (!w)
        return 2;
    trunner *r = mcfast_trunner(w, strcmp(o->only, "mcfast-tls") == 0);
    if (!r)
        return 1;
    int (*volatile loop)(trunner *, uint64_t) = bench_tls_cg_loop;
    if (tw_is_set(w))
        data_stamp('A');
    int rc = r->run(r, ONLY_WARMUP_CALLS);
    double t0 = bench_now_s();
    if (rc == 0)
        rc = loop(r, o->only_calls);
    double t = bench_now_s() - t0;
    if (rc != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, r->err);
        trunner_free(r);
        return 1;
    }
    printf("only: client=%s workload=%s calls=%llu keys=%llu\n", r->client, w->name,
           (unsigned long long)o->only_calls,
           (unsigned long long)(o->only_calls * w->keys_per_call));
    printf("only-config: %s\n", r->config);
    printf("only-time: %.3f us/call\n", t * 1e6 / (double)o->only_calls);
    trunner_free(r);
    return 0;
}

/* The certificates' script and the peer are named from the repository
 * root: run elsewhere, the program goes there (two levels up from it:
 * BUILD_DIR/mcfast-bench-tls). */
static void chdir_to_root(void)
{
    char exe[4096];
    if (access("tests/tls_certs.sh", R_OK) == 0)
        return;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) { /* the program, its build directory */
        char *slash = strrchr(exe, '/');
        if (!slash)
            return;
        *slash = 0;
    }
    if (chdir(exe) != 0)
        fprintf(stderr, "mcfast-bench-tls: chdir %s: %s\n", exe, strerror(errno));
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a peer that exited: its pipe's write fails instead */
    int pr = parse_args(&o, argc, argv);
    if (pr < 0)
        return 2;
    if (pr == 1) {
        for (int i = 0; i < TW_COUNT; i++)
            printf("%s\n", g_tworkloads[i].name);
        return 0;
    }
    if (!mcf_tls_available()) {
        printf("info: TLS not built in (libmcfast built with TLS=0): the TLS bench is "
               "skipped\n");
        return 0;
    }
    if (!mcserver_binary()) {
        fprintf(stderr, "mcfast-bench-tls: memcached is not installed\n");
        return 1;
    }
    if (!memcached_has_tls()) {
        printf("info: memcached was built without TLS (no -Z): the TLS bench is skipped\n");
        return 0;
    }
    chdir_to_root();
    double t_start = bench_now_s();
    if (data_init(o.nkeys) != 0) {
        fprintf(stderr, "mcfast-bench-tls: out of memory\n");
        return 1;
    }
    if (server_start() != 0 || server_fill() != 0)
        return 1;
    if (o.only) {
        int rc = run_only(&o);
        server_stop();
        data_free();
        return rc;
    }
    if (o.no_peer)
        snprintf(g_peer_why, sizeof g_peer_why, "--no-peer");
    else
        g_have_peer = peer_start(o.python, o.script, g_peer_why, sizeof g_peer_why) == 0;
    printf("info: memcached 1 server (-t 1) with -Z on 127.0.0.1: TLS %s, plaintext %s (the "
           "same process); %zu keys per set of keys, %d-byte values; %d round%s of ~%.2f s "
           "per client, order mcfast-tls, mcfast-plain, pymemcache-tls in every round; OPS "
           "counts keys; peer: %s\n",
           tls_server_spec(), plain_server_spec(), o.nkeys, VLEN, o.rounds,
           o.rounds > 1 ? "s" : "", o.round_s, g_have_peer ? peer_version() : "none");
    if (!g_have_peer)
        printf("info: pymemcache skipped: %s\n", g_peer_why);
    for (int i = 0; i < TW_COUNT; i++)
        if (o.selected[i])
            run_workload(&g_tworkloads[i], &o);
    run_handshakes(&o);
    peer_stop();
    printf("summary: %d targets met, %d missed, %d failure%s, %.1f s%s\n", g_targets.met, g_targets.missed,
           g_failures, g_failures == 1 ? "" : "s", bench_now_s() - t_start,
           o.quick ? " (--quick: a smoke run, not a measurement)" : "");
    server_stop();
    data_free();
    return g_failures ? 1 : 0;
}
