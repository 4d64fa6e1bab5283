/* cmd_fleet.c - `mcfast stats --fleet`: one table across the servers, a
 * row each and a total, from each server's `stats` and from what the
 * client counted while asking (mcf_server_stats: round-trip latency,
 * connects, timeouts).
 *
 * Each round asks every server at once through the async API, so a dead
 * server costs the table one request deadline, not one per server.
 * Several rounds (--rounds) give the latency columns more than one
 * sample; the server figures are those of the last good answer.  The
 * total's latency is read from the servers' histograms added together
 * (the same buckets everywhere), not from an average of their quantiles. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mcfast_async.h"

#define DEFAULT_ROUNDS 5
#define MAX_ROUNDS 10000
#define REASON_MAX 240
#define US_PER_MS 1000.0
#define PERCENT 100.0
#define MIB (1024.0 * 1024.0)
#define P50 0.5
#define P99 0.99
/* The run loop's wait per turn: every request has its own deadline. */
#define RUN_SLICE_MS 100

/* The STAT lines the table shows. */
typedef struct figures {
    uint64_t curr_items, bytes, limit_maxbytes, get_hits, get_misses, cmd_set, evictions,
        curr_connections;
} figures;

static const struct {
    const char *name;
    size_t offset;
} shown[] = {
    {"curr_items", offsetof(figures, curr_items)},
    {"bytes", offsetof(figures, bytes)},
    {"limit_maxbytes", offsetof(figures, limit_maxbytes)},
    {"get_hits", offsetof(figures, get_hits)},
    {"get_misses", offsetof(figures, get_misses)},
    {"cmd_set", offsetof(figures, cmd_set)},
    {"evictions", offsetof(figures, evictions)},
    {"curr_connections", offsetof(figures, curr_connections)},
};
#define N_SHOWN (sizeof shown / sizeof shown[0])

typedef struct fleet_server {
    figures pending, last;
    int answered; /* some round answered */
    int up;       /* the last round answered */
    size_t *outstanding;
    char reason[REASON_MAX];
} fleet_server;

static void on_stat(void *ctx, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    figures *f = ctx;
    for (size_t i = 0; i < N_SHOWN; i++)
        if (strlen(shown[i].name) == name_len && memcmp(shown[i].name, name, name_len) == 0) {
            uint64_t v = strtoull(value, NULL, 10); /* STAT values end at their line */
            (void)value_len;
            memcpy((char *)f + shown[i].offset, &v, sizeof v);
        }
}

static void on_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *value, void *arg)
{
    (void)req;
    (void)value;
    fleet_server *s = arg;
    --*s->outstanding;
    s->up = rc == MCF_OK;
    if (rc != MCF_OK) {
        /* The cause, kept over the rounds that only skip the server. */
        if (rc != MCF_ERR_SERVER_DOWN || !s->reason[0])
            snprintf(s->reason, sizeof s->reason, "%s", cli_error_text(c, rc));
        return;
    }
    s->last = s->pending;
    s->answered = 1;
}

/* One round: `stats` of every server at once, until each answered or
 * failed. */
static int ask_round(mcf_client *c, fleet_server *srv, size_t n)
{
    size_t outstanding = 0;
    for (size_t i = 0; i < n; i++) {
        srv[i].outstanding = &outstanding;
        memset(&srv[i].pending, 0, sizeof srv[i].pending);
        if (!mcf_async_stats(c, i, NULL, on_stat, &srv[i].pending, on_done, &srv[i])) {
            srv[i].up = 0;
            snprintf(srv[i].reason, sizeof srv[i].reason, "%s", mcf_last_error(c));
            continue;
        }
        outstanding++;
    }
    while (outstanding)
        mcf_async_run(c, RUN_SLICE_MS);
    return 0;
}

static double hit_percent(const figures *f)
{
    uint64_t gets = f->get_hits + f->get_misses;
    return gets ? PERCENT * (double)f->get_hits / (double)gets : 0.0;
}

static void add_figures(figures *t, const figures *f)
{
    t->curr_items += f->curr_items;
    t->bytes += f->bytes;
    t->limit_maxbytes += f->limit_maxbytes;
    t->get_hits += f->get_hits;
    t->get_misses += f->get_misses;
    t->cmd_set += f->cmd_set;
    t->evictions += f->evictions;
    t->curr_connections += f->curr_connections;
}

static void add_client(mcf_server_stats *t, const mcf_server_stats *s)
{
    t->connects += s->connects;
    t->reconnects += s->reconnects;
    t->timeouts += s->timeouts;
    t->latency_count += s->latency_count;
    t->latency_sum_us += s->latency_sum_us;
    if (s->latency_max_us > t->latency_max_us)
        t->latency_max_us = s->latency_max_us;
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++)
        t->latency[b] += s->latency[b];
}

static void json_row(const char *server, int up, const char *reason, const figures *f,
                     const mcf_server_stats *st, int answered)
{
    struct jobj j, cl;
    cli_jbegin(&j);
    if (server)
        cli_jstr(&j, "server", server);
    else
        cli_jbool(&j, "total", 1);
    if (server) {
        cli_jstr(&j, "state", up ? "up" : "down");
        if (!up)
            cli_jstr(&j, "error", reason);
    } else {
        cli_ju64(&j, "servers_up", (uint64_t)up);
    }
    if (answered) {
        cli_ju64(&j, "curr_items", f->curr_items);
        cli_ju64(&j, "bytes", f->bytes);
        cli_ju64(&j, "limit_maxbytes", f->limit_maxbytes);
        cli_ju64(&j, "get_hits", f->get_hits);
        cli_ju64(&j, "get_misses", f->get_misses);
        cli_jdouble(&j, "hit_percent", hit_percent(f));
        cli_ju64(&j, "cmd_set", f->cmd_set);
        cli_ju64(&j, "evictions", f->evictions);
        cli_ju64(&j, "curr_connections", f->curr_connections);
    }
    cli_jobject(&j, "client", &cl);
    cli_ju64(&cl, "rtt_count", st->latency_count);
    cli_ju64(&cl, "rtt_p50_us", mcf_latency_quantile_us(st, P50));
    cli_ju64(&cl, "rtt_p99_us", mcf_latency_quantile_us(st, P99));
    cli_ju64(&cl, "rtt_max_us", st->latency_max_us);
    cli_ju64(&cl, "connects", st->connects);
    cli_ju64(&cl, "reconnects", st->reconnects);
    cli_ju64(&cl, "timeouts", st->timeouts);
    cli_jclose(&cl);
    cli_jend(&j);
}

static void text_header(int w)
{
    printf("%-*s %-5s %8s %8s %10s %9s %6s %10s %10s %10s %9s %6s\n", w, "SERVER", "STATE",
           "RTT_P50", "RTT_MAX", "ITEMS", "USED_MB", "HIT%", "GET_HITS", "GET_MISSES", "SETS",
           "EVICTIONS", "CONNS");
}

static void text_row(int w, const char *name, const char *state, const figures *f,
                     const mcf_server_stats *st, int answered, const char *reason)
{
    char p50[16], max[16];
    if (st->latency_count) {
        snprintf(p50, sizeof p50, "%.2fms",
                 (double)mcf_latency_quantile_us(st, P50) / US_PER_MS);
        snprintf(max, sizeof max, "%.2fms", (double)st->latency_max_us / US_PER_MS);
    } else {
        snprintf(p50, sizeof p50, "-");
        snprintf(max, sizeof max, "-");
    }
    if (!answered) {
        printf("%-*s %-5s %8s %8s  %s\n", w, name, state, p50, max, reason);
        return;
    }
    printf("%-*s %-5s %8s %8s %10" PRIu64 " %9.1f %6.1f %10" PRIu64 " %10" PRIu64 " %10" PRIu64
           " %9" PRIu64 " %6" PRIu64 "\n",
           w, name, state, p50, max, f->curr_items, (double)f->bytes / MIB, hit_percent(f),
           f->get_hits, f->get_misses, f->cmd_set, f->evictions, f->curr_connections);
}

static int parse_rounds(char **args, int nargs, int *rounds)
{
    *rounds = DEFAULT_ROUNDS;
    for (int i = 0; i < nargs; i++) {
        if (strcmp(args[i], "--rounds") == 0 && i + 1 < nargs) {
            char *end;
            long v = strtol(args[++i], &end, 10);
            if (*end || v < 1 || v > MAX_ROUNDS) {
                fprintf(stderr, "mcfast: stats --fleet: --rounds takes 1..%d, not '%s'\n",
                        MAX_ROUNDS, args[i]);
                return -1;
            }
            *rounds = (int)v;
        } else {
            fprintf(stderr, "mcfast: stats --fleet: unknown argument '%s' (takes --rounds N)\n",
                    args[i]);
            return -1;
        }
    }
    return 0;
}

int cmd_fleet(struct run *r, char **args, int nargs)
{
    mcf_client *c = r->c;
    int rounds;
    if (parse_rounds(args, nargs, &rounds) < 0)
        return XC_USAGE;
    size_t n = mcf_server_count(c);
    fleet_server *srv = calloc(n ? n : 1, sizeof *srv);
    if (!srv)
        return cli_report(r, MCF_ERR_NOMEM, "");
    /* The round trips of these requests are the latency columns. */
    mcf_set_option(c, MCF_OPT_LATENCY, 1);
    mcf_stats_reset(c);
    for (int k = 0; k < rounds; k++)
        ask_round(c, srv, n);

    int w = (int)strlen("SERVER"), code = XC_OK;
    for (size_t i = 0; i < n; i++) {
        int len = (int)strlen(cli_server_spec(c, i));
        if (len > w)
            w = len;
    }
    if (!r->o->json)
        text_header(w);
    figures total;
    mcf_server_stats ctotal;
    memset(&total, 0, sizeof total);
    memset(&ctotal, 0, sizeof ctotal);
    int up = 0;
    for (size_t i = 0; i < n; i++) {
        mcf_server_stats st;
        mcf_server_stats_get(c, i, &st, sizeof st);
        add_client(&ctotal, &st);
        if (srv[i].answered)
            add_figures(&total, &srv[i].last);
        up += srv[i].up;
        if (!srv[i].up)
            code = XC_ERROR;
        if (r->o->json)
            json_row(cli_server_spec(c, i), srv[i].up, srv[i].reason, &srv[i].last, &st,
                     srv[i].answered);
        else
            text_row(w, cli_server_spec(c, i), srv[i].up ? "up" : "down", &srv[i].last, &st,
                     srv[i].answered, srv[i].reason);
    }
    if (r->o->json) {
        json_row(NULL, up, NULL, &total, &ctotal, 1);
    } else {
        char state[32];
        snprintf(state, sizeof state, "%d/%zu", up, n);
        text_row(w, "TOTAL", state, &total, &ctotal, 1, "");
    }
    free(srv);
    return code;
}
