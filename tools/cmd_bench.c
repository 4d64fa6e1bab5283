/* cmd_bench.c - owns `mcfast bench` (see cmd_bench.h): its options, the
 * load loop over the async API, the live line and the summary.
 *
 * The load is `--concurrency` slots, each with one request in flight.  A
 * slot's done callback records the latency and submits the slot's next
 * request at once, from inside the callback: every request completed in
 * one loop turn is thus queued before the loop writes again, so the
 * library sends them in one write per server and turns consecutive gets
 * into one multi-get (include/mcfast_async.h, "auto-pipelining").  That is
 * what memaslap-style tools, one request per connection at a time, do not
 * get.  One clock read per request: the completion time is also the next
 * request's start.
 *
 * Before the timed run every key of the key space is set once (the
 * "prepopulating" note), so gets hit from the start; --no-populate skips
 * it. */
#include "cmd_bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_hist.h"
#include "cli.h"
#include "bench_keys.h"
#include "mcfast_async.h"

#define DEFAULT_GET_WEIGHT 9
#define DEFAULT_SET_WEIGHT 1
#define DEFAULT_KEYS 100000
#define DEFAULT_ZIPF_S 0.99
#define DEFAULT_VALUE_SIZE 100
#define DEFAULT_CONCURRENCY 64
#define DEFAULT_DURATION_S 10.0
/* Far above what one client process keeps useful in flight. */
#define MAX_CONCURRENCY 65536
/* memcached's largest item size (-I 1024m). */
#define MAX_VALUE_SIZE (1024u * 1024u * 1024u)
/* Keys are KEY_PREFIX and the index, zero-padded to one width, so every
 * key has the same length (as memaslap's fixed-size keys). */
#define KEY_PREFIX "mcfast-bench:"
#define KEY_PREFIX_LEN (sizeof KEY_PREFIX - 1)
#define MAX_INDEX_DIGITS 20 /* UINT64_MAX */
#define KEY_BUF (KEY_PREFIX_LEN + MAX_INDEX_DIGITS + 1)
/* The value bytes: printable, so a `mcfast get` of a bench key shows text. */
#define VALUE_BYTE 'x'
/* The live line's refresh. */
#define PROGRESS_MS 250
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define US_PER_NS 1e-3
#define ERR_BUF 256
/* One side of --ratio: a 32-bit count's digits and the NUL. */
#define RATIO_PART_MAX 11
#define BAR_WIDTH 40
#define PERCENT 100.0

enum { OP_GET = 0, OP_SET = 1, OP_COUNT };
enum { PHASE_POPULATE, PHASE_RUN };

typedef struct bench_opts {
    unsigned get_weight, set_weight;
    uint64_t keys;
    int zipf;
    int zipf_s_given;
    double zipf_s;
    uint64_t value_size;
    uint64_t concurrency;
    double duration_s;
    int duration_given;
    uint64_t requests; /* 0: run for duration_s */
    uint64_t seed;
    int json;
    int populate;
} bench_opts;

typedef struct bench bench;

/* One request in flight.  Two key buffers: the next request's key is
 * written while the finished one's may still be looked at. */
typedef struct slot {
    bench *b;
    uint64_t start_ns;
    int op;
    unsigned which;
    char key[2][KEY_BUF];
} slot;

struct bench {
    mcf_client *c;
    const bench_opts *o;
    slot *slots;
    char *value;
    unsigned key_width;
    bench_rng rng;
    bench_zipf zipf;
    int phase;
    int stopping;        /* submit nothing more */
    uint64_t deadline_ns; /* the run ends here without --requests */
    uint64_t next_key;   /* populate: the next key to set */
    uint64_t submitted;  /* run phase */
    size_t inflight;
    uint64_t populated, populate_errors;
    uint64_t gets, sets, hits, misses, get_errors, set_errors;
    uint64_t t0_ns, last_ns;
    bench_hist hist[OP_COUNT];
    /* The live line's previous sample. */
    bench_hist seen;
    uint64_t seen_hits, seen_gets, seen_ns;
    int live; /* stdout is a terminal and the output is text */
    FILE *notes; /* where "prepopulating" goes: stdout, or stderr with --json */
    char first_error[ERR_BUF];
};

/* SIGINT ends the run early, with the summary of what was done. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage(const char *fmt, ...);

/* A usage message; returns XC_USAGE. */
static int usage(const char *fmt, ...)
{
    va_list ap;
    fputs("mcfast: bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mcfast --help'.\n", stderr);
    return XC_USAGE;
}

static int parse_positive(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || !(v > 0.0))
        return -1;
    *out = v;
    return 0;
}

/* "GET:SET", two weights, not both 0. */
static int parse_ratio(const char *s, bench_opts *o)
{
    uint64_t g, w;
    char left[RATIO_PART_MAX];
    const char *colon = strchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof left)
        return -1;
    memcpy(left, s, (size_t)(colon - s));
    left[colon - s] = '\0';
    if (cli_parse_u64(left, &g) != 0 || cli_parse_u64(colon + 1, &w) != 0 || g > UINT32_MAX ||
        w > UINT32_MAX || g + w == 0)
        return -1;
    o->get_weight = (unsigned)g;
    o->set_weight = (unsigned)w;
    return 0;
}

/* One option and its value (NULL for the flags). */
static int set_option(bench_opts *o, const char *name, const char *val)
{
    if (strcmp(name, "--ratio") == 0) {
        if (parse_ratio(val, o) != 0)
            return usage("--ratio: '%s' is not GET:SET (two counts, e.g. 9:1)", val);
    } else if (strcmp(name, "--keys") == 0) {
        if (cli_parse_u64(val, &o->keys) != 0 || o->keys == 0)
            return usage("--keys: '%s' is not a count >= 1", val);
    } else if (strcmp(name, "--key-dist") == 0) {
        if (strcmp(val, "uniform") == 0)
            o->zipf = 0;
        else if (strcmp(val, "zipf") == 0)
            o->zipf = 1;
        else
            return usage("--key-dist: '%s' is not uniform or zipf", val);
    } else if (strcmp(name, "--zipf-s") == 0) {
        if (parse_positive(val, &o->zipf_s) != 0)
            return usage("--zipf-s: '%s' is not a number > 0", val);
        o->zipf_s_given = 1;
    } else if (strcmp(name, "--value-size") == 0) {
        if (cli_parse_u64(val, &o->value_size) != 0 || o->value_size > MAX_VALUE_SIZE)
            return usage("--value-size: '%s' is not a size of 0..1 GiB", val);
    } else if (strcmp(name, "--concurrency") == 0) {
        if (cli_parse_u64(val, &o->concurrency) != 0 || o->concurrency == 0 ||
            o->concurrency > MAX_CONCURRENCY)
            return usage("--concurrency: '%s' is not a count of 1..%d", val, MAX_CONCURRENCY);
    } else if (strcmp(name, "--duration") == 0) {
        if (parse_positive(val, &o->duration_s) != 0)
            return usage("--duration: '%s' is not a number of seconds > 0", val);
        o->duration_given = 1;
    } else if (strcmp(name, "--requests") == 0) {
        if (cli_parse_u64(val, &o->requests) != 0 || o->requests == 0)
            return usage("--requests: '%s' is not a count >= 1", val);
    } else if (strcmp(name, "--seed") == 0) {
        if (cli_parse_u64(val, &o->seed) != 0)
            return usage("--seed: '%s' is not a number", val);
    } else {
        return usage("unknown option '%s'", name);
    }
    return 0;
}

static int parse_options(char **args, int nargs, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->get_weight = DEFAULT_GET_WEIGHT;
    o->set_weight = DEFAULT_SET_WEIGHT;
    o->keys = DEFAULT_KEYS;
    o->zipf_s = DEFAULT_ZIPF_S;
    o->value_size = DEFAULT_VALUE_SIZE;
    o->concurrency = DEFAULT_CONCURRENCY;
    o->duration_s = DEFAULT_DURATION_S;
    o->populate = 1;
    o->seed = (uint64_t)time(NULL);
    for (int i = 0; i < nargs; i++) {
        const char *arg = args[i];
        if (strcmp(arg, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(arg, "--no-populate") == 0) {
            o->populate = 0;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage("'%s': bench takes options only", arg);
        char name[32];
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name)
            return usage("unknown option '%s'", arg);
        memcpy(name, arg, len);
        name[len] = '\0';
        const char *val = eq ? eq + 1 : i + 1 < nargs ? args[++i] : NULL;
        if (val == NULL)
            return usage("option '%s' needs a value", name);
        int rc = set_option(o, name, val);
        if (rc != 0)
            return rc;
    }
    if (o->duration_given && o->requests)
        return usage("--duration and --requests: give one");
    if (o->zipf_s_given && !o->zipf)
        return usage("--zipf-s needs --key-dist zipf");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static unsigned digits(uint64_t v)
{
    unsigned n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* KEY_PREFIX and index in b->key_width digits; returns the length. */
static size_t format_key(const bench *b, char *buf, uint64_t index)
{
    memcpy(buf, KEY_PREFIX, KEY_PREFIX_LEN);
    char *p = buf + KEY_PREFIX_LEN + b->key_width;
    for (unsigned i = 0; i < b->key_width; i++) {
        *--p = (char)('0' + index % 10);
        index /= 10;
    }
    return KEY_PREFIX_LEN + b->key_width;
}

static void note_error(bench *b, int rc)
{
    if (b->first_error[0])
        return;
    const char *msg = mcf_last_error(b->c);
    snprintf(b->first_error, sizeof b->first_error, "%s%s%s", mcf_strerror(rc),
             msg && *msg ? ": " : "", msg ? msg : "");
}

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *value,
                    void *arg);

/* The run phase's next request: the operation by the ratio, the key by the
 * distribution.  0 when the run is over. */
static int pick(bench *b, uint64_t now, int *op, uint64_t *index)
{
    const bench_opts *o = b->o;
    if (b->stopping)
        return 0;
    if (o->requests ? b->submitted >= o->requests : now >= b->deadline_ns) {
        b->stopping = 1;
        return 0;
    }
    uint64_t weights = (uint64_t)o->get_weight + o->set_weight;
    *op = bench_rng_next(&b->rng) % weights < o->get_weight ? OP_GET : OP_SET;
    *index = o->zipf ? bench_zipf_next(&b->zipf, &b->rng) : bench_uniform_next(&b->rng, o->keys);
    return 1;
}

/* Submits slot s's next request, if there is one. */
static void submit(bench *b, slot *s, uint64_t now)
{
    int op = OP_SET;
    uint64_t index;
    if (b->phase == PHASE_POPULATE) {
        if (b->stopping || b->next_key >= b->o->keys)
            return;
        index = b->next_key++;
    } else if (!pick(b, now, &op, &index)) {
        return;
    }
    s->which ^= 1u;
    char *key = s->key[s->which];
    size_t len = format_key(b, key, index);
    s->op = op;
    s->start_ns = now;
    mcf_request *req =
        op == OP_GET ? mcf_async_get(b->c, MCF_GET, 0, key, len, on_done, s)
                     : mcf_async_store(b->c, MCF_SET, key, len, b->value,
                                       (size_t)b->o->value_size, 0, 0, 0, 0, on_done, s);
    if (req == NULL) {
        /* Refused input (e.g. a value over MCF_OPT_MAX_VALUE_SIZE): every
         * request would be refused alike, so the bench stops.  It counts as
         * a failed request (no latency: nothing was sent). */
        note_error(b, MCF_ERR_ARG);
        if (b->phase == PHASE_POPULATE) {
            b->populate_errors++;
        } else if (op == OP_SET) {
            b->submitted++;
            b->sets++;
            b->set_errors++;
        } else {
            b->submitted++;
            b->gets++;
            b->get_errors++;
        }
        b->stopping = 1;
        return;
    }
    if (b->phase == PHASE_RUN)
        b->submitted++;
    b->inflight++;
}

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *value,
                    void *arg)
{
    (void)c;
    (void)req;
    (void)value;
    slot *s = arg;
    bench *b = s->b;
    uint64_t now = now_ns();
    b->inflight--;
    b->last_ns = now;
    int failed = s->op == OP_GET ? mcf_is_error(rc) : rc != MCF_OK;
    if (failed)
        note_error(b, rc);
    if (b->phase == PHASE_POPULATE) {
        if (failed)
            b->populate_errors++;
        else
            b->populated++;
    } else {
        bench_hist_record(&b->hist[s->op], now - s->start_ns);
        if (s->op == OP_GET) {
            b->gets++;
            if (rc == MCF_OK)
                b->hits++;
            else if (rc == MCF_MISS)
                b->misses++;
            else
                b->get_errors++;
        } else {
            b->sets++;
            b->set_errors += (uint64_t)failed;
        }
    }
    submit(b, s, now);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* "812ns", "45.1us", "1.25ms", "2.00s". */
static const char *fmt_ns(char *buf, size_t size, uint64_t ns)
{
    if (ns < 1000)
        snprintf(buf, size, "%" PRIu64 "ns", ns);
    else if (ns < NS_PER_MS)
        snprintf(buf, size, "%.1fus", (double)ns / 1e3);
    else if (ns < NS_PER_S)
        snprintf(buf, size, "%.2fms", (double)ns / 1e6);
    else
        snprintf(buf, size, "%.2fs", (double)ns / 1e9);
    return buf;
}

static double ratio_of(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

static void live_line(bench *b, uint64_t now)
{
    char p50[16], p99[16], p999[16];
    if (b->phase == PHASE_POPULATE) {
        printf("\rprepopulating: %" PRIu64 "/%" PRIu64 " keys (%.0f%%)\033[K",
               b->populated + b->populate_errors, b->o->keys,
               PERCENT * ratio_of(b->populated + b->populate_errors, b->o->keys));
        fflush(stdout);
        return;
    }
    bench_hist all, last;
    bench_hist_add(&all, &b->hist[OP_GET], &b->hist[OP_SET]);
    bench_hist_sub(&last, &all, &b->seen);
    double dt = (double)(now - b->seen_ns) / (double)NS_PER_S;
    uint64_t gets = b->gets - b->seen_gets, hits = b->hits - b->seen_hits;
    printf("\r%6.1fs %10.0f ops/s  hit %5.1f%%  p50 %s  p99 %s  p999 %s  errors %" PRIu64
           "\033[K",
           (double)(now - b->t0_ns) / (double)NS_PER_S, dt > 0 ? (double)last.total / dt : 0.0,
           PERCENT * ratio_of(hits, gets),
           fmt_ns(p50, sizeof p50, bench_hist_quantile(&last, 0.5)),
           fmt_ns(p99, sizeof p99, bench_hist_quantile(&last, 0.99)),
           fmt_ns(p999, sizeof p999, bench_hist_quantile(&last, 0.999)),
           b->get_errors + b->set_errors);
    fflush(stdout);
    b->seen = all;
    b->seen_gets = b->gets;
    b->seen_hits = b->hits;
    b->seen_ns = now;
}

static double elapsed_s(const bench *b)
{
    if (b->t0_ns == 0) /* interrupted before the run */
        return 0.0;
    uint64_t end = b->last_ns > b->t0_ns ? b->last_ns : b->t0_ns;
    return (double)(end - b->t0_ns) / (double)NS_PER_S;
}

static void print_latency_line(const char *what, const bench_hist *h)
{
    char a[16], b[16], c[16], d[16], e[16], f[16];
    if (h->total == 0)
        return;
    printf("%-10s p50 %s  p90 %s  p99 %s  p999 %s  max %s  mean %s\n", what,
           fmt_ns(a, sizeof a, bench_hist_quantile(h, 0.5)),
           fmt_ns(b, sizeof b, bench_hist_quantile(h, 0.9)),
           fmt_ns(c, sizeof c, bench_hist_quantile(h, 0.99)),
           fmt_ns(d, sizeof d, bench_hist_quantile(h, 0.999)), fmt_ns(e, sizeof e, h->max_ns),
           fmt_ns(f, sizeof f, h->sum_ns / h->total));
}

/* One row per power of two from the first to the last one used. */
static void print_histogram(const bench_hist *h)
{
    unsigned groups = BENCH_HIST_BUCKETS / BENCH_HIST_SUB, first = groups, last = 0;
    uint64_t per[BENCH_HIST_BUCKETS / BENCH_HIST_SUB] = {0}, peak = 0, cum = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        per[i / BENCH_HIST_SUB] += h->count[i];
    for (unsigned g = 0; g < groups; g++) {
        if (per[g] == 0)
            continue;
        first = first < g ? first : g;
        last = g;
        peak = per[g] > peak ? per[g] : peak;
    }
    if (first == groups)
        return;
    printf("latency histogram (all requests):\n");
    for (unsigned g = first; g <= last; g++) {
        uint64_t lo, hi, unused;
        char l[16], r[16], bar[BAR_WIDTH + 1];
        bench_hist_range(g * BENCH_HIST_SUB, &lo, &unused);
        bench_hist_range(g * BENCH_HIST_SUB + BENCH_HIST_SUB - 1, &unused, &hi);
        cum += per[g];
        size_t n = (size_t)((double)BAR_WIDTH * ratio_of(per[g], peak) + 0.5);
        memset(bar, '#', n);
        bar[n] = '\0';
        printf("  %8s - %-8s %10" PRIu64 " %6.2f%% %7.3f%% %s\n", fmt_ns(l, sizeof l, lo),
               fmt_ns(r, sizeof r, hi), per[g], PERCENT * ratio_of(per[g], h->total),
               PERCENT * ratio_of(cum, h->total), bar);
    }
}

static void print_summary(const bench *b)
{
    const bench_opts *o = b->o;
    bench_hist all;
    bench_hist_add(&all, &b->hist[OP_GET], &b->hist[OP_SET]);
    double secs = elapsed_s(b);
    uint64_t done = b->gets + b->sets;
    printf("mcfast bench: %zu server%s, get:set %u:%u, %" PRIu64 " keys %s",
           mcf_server_count(b->c), mcf_server_count(b->c) == 1 ? "" : "s", o->get_weight,
           o->set_weight, o->keys, o->zipf ? "zipf" : "uniform");
    if (o->zipf)
        printf(" (s=%g)", o->zipf_s);
    printf(", %" PRIu64 "-byte values, %" PRIu64 " in flight, seed %" PRIu64 "\n",
           o->value_size, o->concurrency, o->seed);
    printf("requests   %" PRIu64 " in %.3f s: %.0f ops/s\n", done, secs,
           secs > 0 ? (double)done / secs : 0.0);
    printf("gets       %" PRIu64 ": hits %" PRIu64 " (%.2f%%), misses %" PRIu64
           ", errors %" PRIu64 "\n",
           b->gets, b->hits, PERCENT * ratio_of(b->hits, b->gets), b->misses, b->get_errors);
    printf("sets       %" PRIu64 ": errors %" PRIu64 "\n", b->sets, b->set_errors);
    print_latency_line("latency", &all);
    print_latency_line("  get", &b->hist[OP_GET]);
    print_latency_line("  set", &b->hist[OP_SET]);
    print_histogram(&all);
}

static void json_latency(const char *name, const bench_hist *h)
{
    printf("\"%s\":{\"count\":%" PRIu64 ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
           "\"p999\":%.3f,\"max\":%.3f,\"mean\":%.3f}",
           name, h->total, (double)bench_hist_quantile(h, 0.5) * US_PER_NS,
           (double)bench_hist_quantile(h, 0.9) * US_PER_NS,
           (double)bench_hist_quantile(h, 0.99) * US_PER_NS,
           (double)bench_hist_quantile(h, 0.999) * US_PER_NS, (double)h->max_ns * US_PER_NS,
           h->total ? (double)h->sum_ns / (double)h->total * US_PER_NS : 0.0);
}

static void print_json(const bench *b)
{
    const bench_opts *o = b->o;
    bench_hist all;
    bench_hist_add(&all, &b->hist[OP_GET], &b->hist[OP_SET]);
    double secs = elapsed_s(b);
    uint64_t done = b->gets + b->sets;
    printf("{\"servers\":%zu,\"get_weight\":%u,\"set_weight\":%u,\"keys\":%" PRIu64
           ",\"key_dist\":\"%s\",\"zipf_s\":%g,\"value_size\":%" PRIu64
           ",\"concurrency\":%" PRIu64 ",\"prepopulated\":%" PRIu64
           ",\"prepopulate_errors\":%" PRIu64 ",\"seed\":%" PRIu64 ",",
           mcf_server_count(b->c), o->get_weight, o->set_weight, o->keys,
           o->zipf ? "zipf" : "uniform", o->zipf ? o->zipf_s : 0.0, o->value_size,
           o->concurrency, b->populated, b->populate_errors, o->seed);
    printf("\"seconds\":%.6f,\"requests\":%" PRIu64 ",\"ops_per_s\":%.1f,\"gets\":%" PRIu64
           ",\"sets\":%" PRIu64 ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64
           ",\"get_errors\":%" PRIu64 ",\"set_errors\":%" PRIu64 ",\"hit_rate\":%.6f,",
           secs, done, secs > 0 ? (double)done / secs : 0.0, b->gets, b->sets, b->hits,
           b->misses, b->get_errors, b->set_errors, ratio_of(b->hits, b->gets));
    printf("\"latency_us\":{");
    json_latency("all", &all);
    putchar(',');
    json_latency("get", &b->hist[OP_GET]);
    putchar(',');
    json_latency("set", &b->hist[OP_SET]);
    printf("},\"histogram_ns\":[");
    int sep = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        if (all.count[i] == 0)
            continue;
        bench_hist_range(i, &lo, &hi);
        printf("%s{\"from\":%" PRIu64 ",\"to\":%" PRIu64 ",\"count\":%" PRIu64 "}",
               sep ? "," : "", lo, hi, all.count[i]);
        sep = 1;
    }
    printf("],\"first_error\":\"");
    /* mcf_last_error's text is ASCII; quote what JSON needs quoted. */
    for (const char *p = b->first_error; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            printf("\\u%04x", (unsigned)(unsigned char)*p);
        else
            putchar(*p);
    }
    printf("\"}\n");
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

/* Every slot submits; then the loop runs until nothing is in flight,
 * refreshing the live line and watching for ^C and the deadline. */
static void run_phase(bench *b)
{
    uint64_t now = now_ns();
    uint64_t next_tick = now + PROGRESS_MS * NS_PER_MS;
    for (uint64_t i = 0; i < b->o->concurrency; i++)
        submit(b, &b->slots[i], now);
    while (b->inflight > 0) {
        mcf_async_run(b->c, PROGRESS_MS);
        now = now_ns();
        /* The callbacks check the deadline too; this is for a run whose
         * requests all hang (they end at their own deadline). */
        if (interrupted || (b->phase == PHASE_RUN && !b->o->requests && now >= b->deadline_ns))
            b->stopping = 1;
        if (b->live && now >= next_tick) {
            live_line(b, now);
            next_tick = now + PROGRESS_MS * NS_PER_MS;
        }
    }
    if (b->live)
        printf("\r\033[K");
}

static void populate(bench *b)
{
    uint64_t t0 = now_ns();
    fprintf(b->notes, "prepopulating %" PRIu64 " keys with %" PRIu64 "-byte values...\n",
            b->o->keys, b->o->value_size);
    fflush(b->notes);
    b->phase = PHASE_POPULATE;
    run_phase(b);
    fprintf(b->notes, "prepopulated %" PRIu64 " keys in %.2f s (%" PRIu64 " errors)\n",
            b->populated, (double)(now_ns() - t0) / (double)NS_PER_S, b->populate_errors);
    fflush(b->notes);
}

static void measure(bench *b)
{
    b->phase = PHASE_RUN;
    b->t0_ns = b->last_ns = b->seen_ns = now_ns();
    b->deadline_ns = b->t0_ns + (uint64_t)(b->o->duration_s * (double)NS_PER_S);
    run_phase(b);
}

static int bench_init(bench *b, mcf_client *c, const bench_opts *o)
{
    memset(b, 0, sizeof *b);
    b->c = c;
    b->o = o;
    b->key_width = digits(o->keys - 1);
    bench_rng_seed(&b->rng, o->seed);
    if (o->zipf && bench_zipf_init(&b->zipf, o->keys, o->zipf_s) != 0)
        return -1;
    b->slots = calloc((size_t)o->concurrency, sizeof *b->slots);
    /* One byte more than the value: malloc(0) may return NULL. */
    b->value = malloc((size_t)o->value_size + 1);
    if (b->slots == NULL || b->value == NULL)
        return -1;
    memset(b->value, VALUE_BYTE, (size_t)o->value_size);
    for (uint64_t i = 0; i < o->concurrency; i++)
        b->slots[i].b = b;
    b->live = !o->json && isatty(STDOUT_FILENO);
    b->notes = o->json ? stderr : stdout;
    return 0;
}

int mcfast_cmd_bench(mcf_client *c, char **args, int nargs)
{
    bench_opts o;
    int code = parse_options(args, nargs, &o);
    if (code != 0)
        return code;
    bench *b = malloc(sizeof *b);
    if (b == NULL || bench_init(b, c, &o) != 0) {
        fprintf(stderr, "mcfast: bench: %s\n", mcf_strerror(MCF_ERR_NOMEM));
        if (b != NULL) {
            free(b->slots);
            free(b->value);
            free(b);
        }
        return XC_ERROR;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    if (o.populate)
        populate(b);
    /* Populate errors (e.g. SERVER_ERROR out of memory from a full server)
     * are counted and reported, and the run still measures the server. */
    if (!interrupted)
        measure(b);
    sigaction(SIGINT, &old, NULL);
    if (o.json)
        print_json(b);
    else
        print_summary(b);
    uint64_t errors = b->populate_errors + b->get_errors + b->set_errors;
    if (errors) {
        fprintf(stderr, "mcfast: bench: %" PRIu64 " request%s failed; the first: %s\n", errors,
                errors == 1 ? "" : "s", b->first_error);
        code = XC_ERROR;
    }
    free(b->slots);
    free(b->value);
    free(b);
    return code;
}
