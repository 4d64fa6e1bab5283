/* main.c - mcfast-bench: mcfast against libmemcached (and a raw socket
 * floor) on the same memcached servers, in alternating rounds.
 *
 *   mcfast-bench [--quick] [--rounds N] [--round-time S] [--keys N]
 *                [--workloads a,b,..] [--scaling] [--lmc-variant TEXT] [--no-raw]
 *                [--raw-mode plain|poll|lowat]  (analysis; default plain = the floor)
 *   mcfast-bench --only mcfast|libmemcached|raw --workloads W --calls N [--variant K]
 *       (for bench/callgrind.sh: runs one client's workload, N calls, inside
 *       bench_cg_loop, after a warm-up outside it)
 *   mcfast-bench --list
 *
 * Output, per workload:
 *   config: W mcfast: ... | libmemcached: ... | raw: ...
 *   bench: W mcfast=OPS/s libmemcached=OPS/s ratio=R
 *   floor: W raw=OPS/s mcfast/raw=R
 *   allocs: W mcfast allocs/op=A libmemcached allocs/op=B
 *   spread: W ... (min..max of the rounds)
 *   target: W ... met|MISSED
 * OPS counts keys (100 per call for the *_multi100 workloads, 1000 for
 * get_multi1000_*, 256 for async_get256*).  The async workloads add, per
 * workload (K = thousands of keys per second, medians):
 *   bench: async_get256 servers=N mcfast=K/s libmemcached=K/s ratio=R raw=K/s mcfast/raw=R2
 *   bench: async_get256 libmemcached-mget servers=N mget=K/s mcfast/mget=R (a reference)
 * (the mget reference is timed after raw in each round).  After the
 * workloads, when the scaling workloads ran (--scaling runs only them), one
 * line per server count, K = thousands of keys per second (medians):
 *   bench: scaling get_multi1000 servers=N mcfast=K/s libmemcached=K/s ratio=R
 *   floor: scaling get_multi1000 servers=N raw=K/s mcfast/raw=R
 * (--quick, a smoke run of one very short round, prints them as "quick:"
 * lines instead, so nothing that reads bench: lines takes them for a
 * measurement). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "mcfast.h"

const workload g_workloads[W_COUNT] = {
    {W_GET, "get", 1, 1, 1.05, 0, 1},
    {W_SET, "set", 1, 1, 1.05, 0, 1},
    {W_GETM, "get_multi100", BATCH, 1, 1.4, 0.9, 1},
    {W_GETM4, "get_multi100_4srv", BATCH, NSRV, 1.5, 0, 0},
    {W_SETM, "set_multi100", BATCH, 1, 1.5, 0, 0},
    {W_GET64K, "get_64k", 1, 1, 1.1, 0, 0},
    {W_MISSM, "get_miss_multi100", BATCH, 1, 0, 0, 0},
    {W_GETM_META, "get_multi100_meta", BATCH, 1, 0, 0, 1},
    /* Targets from the async issue: 5x libmemcached's blocking get loop,
     * 0.8 of the multi-get floor. */
    {W_ASYNC, "async_get256", ASYNC_WINDOW, 1, 5.0, 0.8, 0},
    {W_ASYNC4, "async_get256_4srv", ASYNC_WINDOW, NSRV, 5.0, 0.8, 0},
    {W_SCALE1, "get_multi1000_1srv", SCALE_BATCH, 1, 0, 0, 1},
    {W_SCALE8, "get_multi1000_8srv", SCALE_BATCH, 8, 0, 0, 0},
    {W_SCALE32, "get_multi1000_32srv", SCALE_BATCH, MAX_SRV, 0, 0, 0},
};

/* Medians of the scaling workloads that ran, for the table at the end. */
typedef struct scale_result {
    int done, have_lmc, have_raw;
    double mc, lmc, raw;
} scale_result;

static scale_result g_scale[NSCALE];

#define MAX_ROUNDS 101
#define MAX_VARIANTS 8

typedef struct opts {
    int quick;
    int rounds;
    double round_s;  /* target duration of one timed round */
    double probe_s;  /* warm-up / calibration batch */
    size_t nkeys;
    int selected[W_COUNT];
    const char *lmc_variant;
    int no_raw;
    const char *only;
    uint64_t only_calls;
    int only_variant;
} opts;

static int g_failures;
static bench_targets g_targets;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mcfast-bench [--quick] [--rounds N] [--round-time SECONDS] [--keys N]\n"
            "                    [--workloads W1,W2,...] [--scaling] [--lmc-variant TEXT] [--no-raw]\n"
            "                    [--raw-mode plain|poll|lowat]  (analysis: raw loop variants)\n"
            "       mcfast-bench --only mcfast|libmemcached|raw --workloads W --calls N [--variant K]\n"
            "       mcfast-bench --list\n"
            "workloads:");
    for (int i = 0; i < W_COUNT; i++)
        fprintf(f, " %s", g_workloads[i].name);
    fprintf(f, "\n");
}

static int select_workloads(opts *o, const char *list)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    memset(o->selected, 0, sizeof o->selected);
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int i = 0; i < W_COUNT; i++)
            if (strcmp(t, g_workloads[i].name) == 0 || strcmp(t, "all") == 0) {
                o->selected[i] = 1;
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "mcfast-bench: unknown workload '%s'\n", t);
            return -1;
        }
    }
    return 0;
}

static int parse_args(opts *o, int argc, char **argv)
{
    o->rounds = 9;
    o->round_s = 0.35;
    o->probe_s = 0.12;
    o->nkeys = 10000;
    o->only_variant = -1;
    for (int i = 0; i < W_COUNT; i++)
        o->selected[i] = 1;
    int rounds_set = 0, keys_set = 0, time_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                              \
    do {                                                                        \
        if (!v) {                                                               \
            fprintf(stderr, "mcfast-bench: %s needs a value\n", a);             \
            return -1;                                                          \
        }                                                                       \
        i++;                                                                    \
    } while (0)
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
        } else if (strcmp(a, "--rounds") == 0) {
            NEED_VALUE;
            o->rounds = atoi(v);
            rounds_set = 1;
            if (o->rounds < 1 || o->rounds > MAX_ROUNDS) {
                fprintf(stderr, "mcfast-bench: --rounds must be 1..%d\n", MAX_ROUNDS);
                return -1;
            }
        } else if (strcmp(a, "--round-time") == 0) {
            NEED_VALUE;
            o->round_s = strtod(v, NULL);
            time_set = 1;
            if (!(o->round_s > 0.001 && o->round_s < 60)) {
                fprintf(stderr, "mcfast-bench: --round-time must be in (0.001, 60) seconds\n");
                return -1;
            }
        } else if (strcmp(a, "--keys") == 0) {
            NEED_VALUE;
            o->nkeys = (size_t)strtoul(v, NULL, 10) / BATCH * BATCH;
            keys_set = 1;
            if (o->nkeys < BATCH || o->nkeys > 1000000) {
                fprintf(stderr, "mcfast-bench: --keys must be %d..1000000\n", BATCH);
                return -1;
            }
        } else if (strcmp(a, "--workloads") == 0 || strcmp(a, "-w") == 0) {
            NEED_VALUE;
            if (select_workloads(o, v) < 0)
                return -1;
        } else if (strcmp(a, "--scaling") == 0) {
            memset(o->selected, 0, sizeof o->selected);
            for (int k = 0; k < NSCALE; k++)
                o->selected[W_SCALE1 + k] = 1;
        } else if (strcmp(a, "--lmc-variant") == 0) {
            NEED_VALUE;
            o->lmc_variant = v;
        } else if (strcmp(a, "--raw-mode") == 0) {
            NEED_VALUE;
            g_raw_mode = strcmp(v, "poll") == 0 ? 1 : strcmp(v, "lowat") == 0 ? 2 : 0;
            if (!g_raw_mode && strcmp(v, "plain") != 0) {
                fprintf(stderr, "mcfast-bench: --raw-mode plain|poll|lowat\n");
                return -1;
            }
        } else if (strcmp(a, "--no-raw") == 0) {
            o->no_raw = 1;
        } else if (strcmp(a, "--only") == 0) {
            NEED_VALUE;
            o->only = v;
            if (strcmp(v, "mcfast") != 0 && strcmp(v, "libmemcached") != 0 &&
                strcmp(v, "raw") != 0) {
                fprintf(stderr, "mcfast-bench: --only mcfast|libmemcached|raw\n");
                return -1;
            }
        } else if (strcmp(a, "--calls") == 0) {
            NEED_VALUE;
            o->only_calls = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--variant") == 0) {
            NEED_VALUE;
            o->only_variant = atoi(v);
        } else if (strcmp(a, "--list") == 0) {
            return 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "mcfast-bench: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        }
#undef NEED_VALUE
    }
    if (o->quick) {
        if (!rounds_set)
            o->rounds = 1;
        if (!time_set)
            o->round_s = 0.02;
        if (!keys_set)
            o->nkeys = 1000;
        o->probe_s = 0.005;
    }
    if (o->only) {
        if (!keys_set)
            o->nkeys = 1000;
        if (o->only_calls == 0)
            o->only_calls = 200;
    }
    for (int k = 0; k < NSCALE; k++)
        if (o->selected[W_SCALE1 + k] && o->nkeys < SCALE_BATCH) {
            fprintf(stderr, "mcfast-bench: %s needs --keys %d or more\n",
                    g_workloads[W_SCALE1 + k].name, SCALE_BATCH);
            return -1;
        }
    return 0;
}

/* ---- timing ---- */

static int run_sync(runner *r, uint64_t calls)
{
    if (r->run(r, calls) != 0)
        return -1;
    if (r->sync && r->sync(r) != 0) {
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "%s: sync at the end of a round failed", r->client);
        return -1;
    }
    return 0;
}

/* Warm-up and calibration: runs batches of growing size until one lasts
 * at least min_s; *rate is calls per second. */
static int measure_rate(runner *r, double min_s, double *rate)
{
    uint64_t calls = 1;
    for (;;) {
        double t0 = bench_now_s();
        if (run_sync(r, calls) != 0)
            return -1;
        double t = bench_now_s() - t0;
        if (t >= min_s || calls >= ((uint64_t)1 << 32)) {
            *rate = (double)calls / (t > 1e-9 ? t : 1e-9);
            return 0;
        }
        uint64_t next = t > 1e-9 ? (uint64_t)((double)calls * min_s * 1.3 / t) : calls * 8;
        if (next > calls * 8)
            next = calls * 8;
        if (next <= calls)
            next = calls * 2;
        calls = next;
    }
}

static uint64_t calls_for(double rate, double seconds)
{
    double c = rate * seconds;
    return c < 1 ? 1 : (uint64_t)c;
}

/* One timed round of r: returns keys per second, or -1 after printing the failure. */
typedef struct round_acc {
    uint64_t calls, allocs, syscalls;
    double user_s, sys_s, wall_s; /* this process's CPU time during the rounds */
} round_acc;

static char g_marker = 'A';

/* One timed round: calls are made in chunks (sized at calibration to ~1/25
 * of a round) until round_s has passed, so a round lasts round_s however
 * the machine's speed drifts.  Returns keys per second, or -1 after
 * printing the failure. */
static double timed_round(runner *r, uint64_t chunk, double round_s, round_acc *acc)
{
    const workload *w = r->w;
    int is_set = (w->id == W_SET || w->id == W_SETM) && strcmp(r->client, "raw") != 0;
    size_t first = 0;
    if (is_set) {
        /* A fresh marker in every value: the read-back below proves this
         * round's writes reached the server. */
        g_marker = g_marker == 'Z' ? 'A' : (char)(g_marker + 1);
        data_stamp_set(g_marker);
        first = w->id == W_SET ? (size_t)(r->cursor % g_nkeys)
                               : (size_t)(r->cursor % g_nbatches) * BATCH;
    }
    double u0, s0, u1, s1;
    uint64_t calls = 0;
    int rc = 0;
    bench_cpu_times(&u0, &s0);
    alloc_count_start();
    double t0 = bench_now_s(), t;
    do {
        rc = r->run(r, chunk);
        calls += chunk;
        t = bench_now_s() - t0;
    } while (rc == 0 && t < round_s);
    if (rc == 0 && r->sync && r->sync(r) != 0) {
        if (!r->err[0])
            snprintf(r->err, sizeof r->err, "%s: sync at the end of a round failed", r->client);
        rc = -1;
    }
    t = bench_now_s() - t0;
    uint64_t allocs = alloc_count_stop();
    bench_cpu_times(&u1, &s1);
    uint64_t sys = syscall_count();
    if (rc != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, r->err);
        g_failures++;
        return -1;
    }
    if (is_set) {
        uint64_t keys = calls * w->keys_per_call;
        size_t n = keys > g_nkeys ? g_nkeys : (size_t)keys;
        char why[512];
        if (verify_set_keys(first, n, why, sizeof why) != 0) {
            printf("error: %s %s: %s\n", w->name, r->client, why);
            g_failures++;
            return -1;
        }
    }
    acc->calls += calls;
    acc->allocs += allocs;
    acc->syscalls += sys;
    acc->user_s += u1 - u0;
    acc->sys_s += s1 - s0;
    acc->wall_s += t;
    return (double)calls * w->keys_per_call / (t > 1e-9 ? t : 1e-9);
}

/* Picks the fastest libmemcached configuration: each is warmed up, then
 * timed three times in turn; the best of its three counts.  *ref: the
 * fastest of those that do not do the workload's job (NULL if none). */
static runner *pick_lmc(const workload *w, const opts *o, runner **vs, int nv, char *tried,
                        size_t tried_len, runner **ref)
{
    double best[MAX_VARIANTS] = {0};
    uint64_t calls[MAX_VARIANTS] = {0};
    int ok[MAX_VARIANTS] = {0};
    for (int i = 0; i < nv; i++) {
        double rate;
        if (o->lmc_variant && !strstr(vs[i]->label, o->lmc_variant))
            continue;
        if (measure_rate(vs[i], o->probe_s, &rate) != 0) {
            printf("info: %s libmemcached %s unusable: %s\n", w->name, vs[i]->label, vs[i]->err);
            continue;
        }
        ok[i] = 1;
        calls[i] = calls_for(rate, o->probe_s);
    }
    for (int pass = 0; pass < (o->quick ? 1 : 3); pass++)
        for (int i = 0; i < nv; i++) {
            if (!ok[i])
                continue;
            double t0 = bench_now_s();
            if (run_sync(vs[i], calls[i]) != 0) {
                ok[i] = 0;
                continue;
            }
            double rate = (double)calls[i] * w->keys_per_call / (bench_now_s() - t0);
            if (rate > best[i])
                best[i] = rate;
        }
    int pick = -1, pick_ref = -1;
    tried[0] = 0;
    for (int i = 0; i < nv; i++) {
        if (!ok[i])
            continue;
        size_t l = strlen(tried);
        snprintf(tried + l, tried_len - l, "%s%s=%.0f/s%s", l ? " " : "", vs[i]->label, best[i],
                 vs[i]->not_equivalent ? "(not equivalent)" : "");
        if (!vs[i]->not_equivalent && (pick < 0 || best[i] > best[pick]))
            pick = i;
        if (vs[i]->not_equivalent && (pick_ref < 0 || best[i] > best[pick_ref]))
            pick_ref = i;
    }
    *ref = pick_ref < 0 ? NULL : vs[pick_ref];
    return pick < 0 ? NULL : vs[pick];
}

/* The async workloads' summary line, K = thousands of keys per second
 * (medians; a rate < 0: that client did not run).  --quick prints it as
 * "quick:", as the scaling lines. */
static void print_async(const workload *w, const opts *o, double mc, double lmc, double raw,
                        const runner *ref, double ref_rate)
{
    const char *tag = o->quick ? "quick" : "bench";
    const double kilo = 1000;
    char lmc_s[64] = "libmemcached=n/a ratio=n/a", raw_s[64] = "raw=n/a mcfast/raw=n/a";
    if (lmc > 0)
        snprintf(lmc_s, sizeof lmc_s, "libmemcached=%.0fK/s ratio=%.2f", lmc / kilo, mc / lmc);
    if (raw > 0)
        snprintf(raw_s, sizeof raw_s, "raw=%.0fK/s mcfast/raw=%.2f", raw / kilo, mc / raw);
    printf("%s: async_get256 servers=%d mcfast=%.0fK/s %s %s\n", tag, w->nsrv, mc / kilo, lmc_s,
           raw_s);
    if (ref && ref_rate > 0)
        printf("%s: async_get256 libmemcached-mget servers=%d mget=%.0fK/s mcfast/mget=%.2f "
               "(%s: %d keys per memcached_mget, collected before the first is sent; a "
               "reference, not the headline)\n",
               tag, w->nsrv, ref_rate / kilo, mc / ref_rate, ref->label, ASYNC_WINDOW);
}

static void run_workload(const workload *w, const opts *o)
{
    runner *mc = mcfast_runner(w);
    runner *raw = o->no_raw ? NULL : raw_runner(w);
    runner *vs[MAX_VARIANTS];
    const char *why = NULL;
    int nv = lmc_runners(w, vs, MAX_VARIANTS, &why);
    if (!mc) {
        printf("error: %s: cannot set up mcfast\n", w->name);
        g_failures++;
        goto out;
    }
    double rate;
    if (measure_rate(mc, o->probe_s, &rate) != 0) {
        printf("error: %s mcfast: %s\n", w->name, mc->err);
        g_failures++;
        goto out;
    }
    uint64_t mc_calls = calls_for(rate, o->round_s / 25);

    char tried[512] = "";
    runner *ref = NULL;
    runner *lmc = nv ? pick_lmc(w, o, vs, nv, tried, sizeof tried, &ref) : NULL;
    uint64_t lmc_calls = 0, ref_calls = 0;
    /* Only the async workloads time a configuration that is not
     * equivalent (mget of the window): it shows what batching the keys up
     * front would give, next to the headline. */
    if (!is_async(w))
        ref = NULL;
    if (nv && !lmc) {
        printf("error: %s: no libmemcached configuration worked\n", w->name);
        g_failures++;
        goto out;
    }
    if (lmc) {
        if (measure_rate(lmc, o->probe_s, &rate) != 0) {
            printf("error: %s libmemcached: %s\n", w->name, lmc->err);
            g_failures++;
            goto out;
        }
        lmc_calls = calls_for(rate, o->round_s / 25);
    }
    if (ref) {
        if (measure_rate(ref, o->probe_s, &rate) != 0) {
            printf("error: %s libmemcached %s: %s\n", w->name, ref->label, ref->err);
            g_failures++;
            goto out;
        }
        ref_calls = calls_for(rate, o->round_s / 25);
    }
    /* Close the connections of the configurations not picked. */
    for (int i = 0; i < nv; i++)
        if (vs[i] != lmc && vs[i] != ref) {
            runner_free(vs[i]);
            vs[i] = NULL;
        }
    uint64_t raw_calls = 0;
    if (raw) {
        if (measure_rate(raw, o->probe_s, &rate) != 0) {
            printf("error: %s raw: %s\n", w->name, raw->err);
            g_failures++;
            goto out;
        }
        raw_calls = calls_for(rate, o->round_s / 25);
    }

    printf("config: %s mcfast: %s | libmemcached: %s | raw: %s\n", w->name, mc->config,
           lmc ? lmc->config : why, raw ? raw->config : "skipped (--no-raw)");
    if (lmc)
        printf("config: %s libmemcached configurations tried at warm-up (keys/s): %s; kept %s\n",
               w->name, tried, lmc->label);
    fflush(stdout);

    double r_mc[MAX_ROUNDS], r_lmc[MAX_ROUNDS], r_raw[MAX_ROUNDS], r_ref[MAX_ROUNDS];
    round_acc a_mc, a_lmc, a_raw, a_ref;
    memset(&a_mc, 0, sizeof a_mc);
    memset(&a_lmc, 0, sizeof a_lmc);
    memset(&a_raw, 0, sizeof a_raw);
    memset(&a_ref, 0, sizeof a_ref);
    for (int k = 0; k < o->rounds; k++) {
        if ((r_mc[k] = timed_round(mc, mc_calls, o->round_s, &a_mc)) < 0)
            goto out;
        if (lmc && (r_lmc[k] = timed_round(lmc, lmc_calls, o->round_s, &a_lmc)) < 0)
            goto out;
        if (raw && (r_raw[k] = timed_round(raw, raw_calls, o->round_s, &a_raw)) < 0)
            goto out;
        if (ref && (r_ref[k] = timed_round(ref, ref_calls, o->round_s, &a_ref)) < 0)
            goto out;
    }
    int n = o->rounds;
    double m_mc = bench_median(r_mc, n);
    double kpc = w->keys_per_call;
    double mc_apo = (double)a_mc.allocs / ((double)a_mc.calls * kpc);
    if (lmc) {
        double m_lmc = bench_median(r_lmc, n);
        printf("bench: %s mcfast=%.0f/s libmemcached=%.0f/s ratio=%.2f\n", w->name, m_mc, m_lmc,
               m_mc / m_lmc);
    } else {
        printf("bench: %s mcfast=%.0f/s libmemcached=n/a ratio=n/a (libmemcached cannot: %s)\n",
               w->name, m_mc, why ? why : "?");
    }
    if (raw)
        printf("floor: %s raw=%.0f/s mcfast/raw=%.2f\n", w->name, bench_median(r_raw, n),
               m_mc / bench_median(r_raw, n));
    if (raw && lmc)
        printf("bound: %s raw/libmemcached=%.2f (the ratio a client that costs nothing would "
               "reach here)\n",
               w->name, bench_median(r_raw, n) / bench_median(r_lmc, n));
    printf("allocs: %s mcfast allocs/op=%.3f (%llu in %llu calls)", w->name, mc_apo,
           (unsigned long long)a_mc.allocs, (unsigned long long)a_mc.calls);
    if (lmc)
        printf(" libmemcached allocs/op=%.3f (%llu in %llu calls)",
               (double)a_lmc.allocs / ((double)a_lmc.calls * kpc),
               (unsigned long long)a_lmc.allocs, (unsigned long long)a_lmc.calls);
    printf("\n");
    printf("syscalls: %s per call: mcfast=%.2f", w->name,
           (double)a_mc.syscalls / (double)a_mc.calls);
    if (lmc)
        printf(" libmemcached=%.2f", (double)a_lmc.syscalls / (double)a_lmc.calls);
    if (raw)
        printf(" raw=%.2f", (double)a_raw.syscalls / (double)a_raw.calls);
    printf(" (send*, recv*, poll)\n");
    printf("cpu: %s client process per call, user+sys/wall: mcfast=%.2f+%.2f/%.2f us", w->name,
           a_mc.user_s * 1e6 / (double)a_mc.calls, a_mc.sys_s * 1e6 / (double)a_mc.calls,
           a_mc.wall_s * 1e6 / (double)a_mc.calls);
    if (lmc)
        printf(" libmemcached=%.2f+%.2f/%.2f us", a_lmc.user_s * 1e6 / (double)a_lmc.calls,
               a_lmc.sys_s * 1e6 / (double)a_lmc.calls, a_lmc.wall_s * 1e6 / (double)a_lmc.calls);
    if (raw)
        printf(" raw=%.2f+%.2f/%.2f us", a_raw.user_s * 1e6 / (double)a_raw.calls,
               a_raw.sys_s * 1e6 / (double)a_raw.calls, a_raw.wall_s * 1e6 / (double)a_raw.calls);
    printf("\n");
    printf("spread: %s rounds=%d mcfast=%.0f..%.0f", w->name, n, bench_min(r_mc, n), bench_max(r_mc, n));
    if (lmc)
        printf(" libmemcached=%.0f..%.0f", bench_min(r_lmc, n), bench_max(r_lmc, n));
    if (raw)
        printf(" raw=%.0f..%.0f", bench_min(r_raw, n), bench_max(r_raw, n));
    printf(" calls/round=%llu/%llu/%llu", (unsigned long long)(a_mc.calls / (uint64_t)n),
           (unsigned long long)(a_lmc.calls / (uint64_t)n),
           (unsigned long long)(a_raw.calls / (uint64_t)n));
    if (lmc) {
        /* Each round's own mcfast/libmemcached ratio: drifts of the
         * machine between rounds cancel out. */
        double pr[MAX_ROUNDS];
        for (int k = 0; k < n; k++)
            pr[k] = r_mc[k] / r_lmc[k];
        printf(" paired-ratio-median=%.2f", bench_median(pr, n));
    }
    printf("\n");
    if (is_async(w))
        print_async(w, o, m_mc, lmc ? bench_median(r_lmc, n) : -1, raw ? bench_median(r_raw, n) : -1,
                    ref, ref ? bench_median(r_ref, n) : -1);
    int k = scale_index(w);
    if (k >= 0) {
        g_scale[k].done = 1;
        g_scale[k].mc = m_mc;
        g_scale[k].have_lmc = lmc != NULL;
        g_scale[k].lmc = lmc ? bench_median(r_lmc, n) : 0;
        g_scale[k].have_raw = raw != NULL;
        g_scale[k].raw = raw ? bench_median(r_raw, n) : 0;
    }
    if (lmc && w->ratio_target > 0)
        bench_target(&g_targets, w->name, "ratio", m_mc / bench_median(r_lmc, n), w->ratio_target, 1);
    if (raw && w->raw_target > 0)
        bench_target(&g_targets, w->name, "mcfast/raw", m_mc / bench_median(r_raw, n), w->raw_target, 1);
    if (w->alloc_target_zero)
        bench_target(&g_targets, w->name, "allocs/op", mc_apo, 0, 0);
    fflush(stdout);
out:
    runner_free(mc);
    runner_free(raw);
    for (int i = 0; i < nv; i++)
        runner_free(vs[i]);
}

/* The scaling table: get_multi1000 against the number of servers. */
static void print_scaling(const opts *o)
{
    const char *tag = o->quick ? "quick" : "bench";
    const double kilo = 1000;
    for (int k = 0; k < NSCALE; k++) {
        const scale_result *s = &g_scale[k];
        int nsrv = g_workloads[W_SCALE1 + k].nsrv;
        if (!s->done)
            continue;
        if (s->have_lmc)
            printf("%s: scaling get_multi1000 servers=%d mcfast=%.0fK/s libmemcached=%.0fK/s "
                   "ratio=%.2f\n",
                   tag, nsrv, s->mc / kilo, s->lmc / kilo, s->mc / s->lmc);
        else
            printf("%s: scaling get_multi1000 servers=%d mcfast=%.0fK/s libmemcached=n/a "
                   "ratio=n/a\n",
                   tag, nsrv, s->mc / kilo);
    }
    for (int k = 0; k < NSCALE; k++) {
        const scale_result *s = &g_scale[k];
        if (s->done && s->have_raw)
            printf("%s: scaling get_multi1000 servers=%d raw=%.0fK/s mcfast/raw=%.2f\n",
                   o->quick ? "quick" : "floor", g_workloads[W_SCALE1 + k].nsrv, s->raw / kilo,
                   s->mc / s->raw);
    }
}

/* ---- callgrind mode ---- */

/* Everything a call costs on the client side is under this function, which
 * bench/callgrind.sh names in --toggle-collect.  Called through a volatile
 * pointer so the compiler cannot inline or clone it. */
__attribute__((noinline)) int bench_cg_loop(runner *r, uint64_t calls)
{
    return r->run(r, calls);
}

static int run_only(const opts *o)
{
    const workload *w = NULL;
    for (int i = 0; i < W_COUNT; i++)
        if (o->selected[i]) {
            if (w) {
                fprintf(stderr, "mcfast-bench: --only takes exactly one workload\n");
                return 2;
            }
            w = &g_workloads[i];
        }
    if (!w) {
        fprintf(stderr, "mcfast-bench: --only needs --workloads W\n");
        return 2;
    }
    runner *r = NULL, *vs[MAX_VARIANTS];
    int nv = 0;
    const char *why;
    if (strcmp(o->only, "mcfast") == 0) {
        r = mcfast_runner(w);
    } else if (strcmp(o->only, "raw") == 0) {
        r = raw_runner(w);
    } else {
        nv = lmc_runners(w, vs, MAX_VARIANTS, &why);
        int k = o->only_variant < 0 ? 0 : o->only_variant;
        if (k >= nv) {
            fprintf(stderr, "mcfast-bench: --variant %d: libmemcached has %d for %s\n", k, nv,
                    w->name);
            return 2;
        }
        r = vs[k];
    }
    if (!r)
        return 1;
    /* Warm-up outside the collected function: connections, buffers. */
    if (run_sync(r, 20) != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, r->err);
        return 1;
    }
    int (*volatile loop)(runner *, uint64_t) = bench_cg_loop;
    double t0 = bench_now_s();
    int rc = loop(r, o->only_calls);
    double t = bench_now_s() - t0;
    if (rc == 0 && r->sync)
        rc = r->sync(r);
    if (rc != 0) {
        printf("error: %s %s: %s\n", w->name, r->client, r->err);
        return 1;
    }
    printf("only: client=%s workload=%s variant=%d variants=%d label=%s calls=%llu keys=%llu "
           "equivalent=%d\n",
           r->client, w->name, o->only_variant < 0 ? 0 : o->only_variant, nv, r->label,
           (unsigned long long)o->only_calls,
           (unsigned long long)(o->only_calls * w->keys_per_call), !r->not_equivalent);
    printf("only-config: %s\n", r->config);
    printf("only-time: %.3f us/call %.0f keys/s\n", t * 1e6 / (double)o->only_calls,
           (double)(o->only_calls * w->keys_per_call) / t);
    if (nv)
        for (int i = 0; i < nv; i++)
            runner_free(vs[i]);
    else
        runner_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int pr = parse_args(&o, argc, argv);
    if (pr < 0)
        return 2;
    if (pr == 1) {
        for (int i = 0; i < W_COUNT; i++)
            printf("%s\n", g_workloads[i].name);
        return 0;
    }
    if (!mcserver_binary()) {
        fprintf(stderr, "mcfast-bench: memcached is not installed\n");
        return 1;
    }
    double t_start = bench_now_s();
    int need_srv = 1, need_base = 0, need_big = 0;
    for (int i = 0; i < W_COUNT; i++)
        if (o.selected[i]) {
            const workload *w = &g_workloads[i];
            if (w->nsrv > need_srv)
                need_srv = w->nsrv;
            /* The scaling workloads have their own keys; only the others
             * need the bk/bs keys on every server they use. */
            if (scale_index(w) < 0 && w->nsrv > need_base)
                need_base = w->nsrv;
            if (w->id == W_GET64K)
                need_big = 1;
        }
    if (data_init(o.nkeys) != 0) {
        fprintf(stderr, "mcfast-bench: out of memory\n");
        return 1;
    }
    if (servers_start(need_srv) != 0 || servers_fill(need_base, need_big) != 0)
        return 1;
    for (int k = 0; k < NSCALE; k++)
        if (o.selected[W_SCALE1 + k] && scale_fill(&g_workloads[W_SCALE1 + k]) != 0)
            return 1;

    if (o.only) {
        int rc = run_only(&o);
        servers_stop();
        data_free();
        return rc;
    }

    printf("info: memcached %d server%s (-t 1) on 127.0.0.1, %zu keys per set of keys, %d-byte "
           "values (get_64k: %d), %d round%s of ~%.2f s per client, order mcfast, "
           "libmemcached, raw in every round; OPS counts keys; alloc counting: %s\n",
           need_srv, need_srv > 1 ? "s" : "", o.nkeys, VLEN, BIGLEN, o.rounds,
           o.rounds > 1 ? "s" : "", o.round_s, alloc_method());
    for (int i = 0; i < W_COUNT; i++)
        if (o.selected[i])
            run_workload(&g_workloads[i], &o);
    print_scaling(&o);
    printf("summary: %d targets met, %d missed, %d failure%s, %.1f s\n", g_targets.met, g_targets.missed,
           g_failures, g_failures == 1 ? "" : "s", bench_now_s() - t_start);
    servers_stop();
    data_free();
    return g_failures ? 1 : 0;
}
