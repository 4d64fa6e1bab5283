/* cmd_top.c - owns `mcfast top` (see cmd_top.h): a full-screen view of
 * every server's `stats`, refreshed each interval.
 *
 * Each round asks every server for `stats` at once through the async API,
 * so a dead or slow server delays a frame by at most its own request's
 * deadline, not by the sum of them.  One poll() waits for the client's
 * sockets and for the keyboard (q quits) together.  Rates (ops/s, hit
 * rate) are deltas between the last two good samples of a server over the
 * time between them.
 *
 * The screen is plain ANSI/VT100 escapes (alternate screen, cursor home,
 * erase), which every terminal emulator and tmux understand, so no curses
 * library is needed.  The terminal is put back (its termios settings, the
 * main screen, the cursor) on q, ^C, SIGTERM and SIGHUP. */
#include "cli.h"
#include "cmd_top.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mcfast_async.h"


#define DEFAULT_INTERVAL_MS 1000
/* Below this a frame per poll would be all the CPU does. */
#define MIN_INTERVAL_MS 50
#define MAX_INTERVAL_MS 3600000
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL
#define REASON_BUF 200
/* A frame's room: its lines (title, blank, header, one per server, totals)
 * at most this long each (a down row is the spec and the reason). */
#define FRAME_LINE_MAX 512
#define FRAME_FIXED_LINES 4
#define MIN_SPEC_WIDTH 6 /* "SERVER" */
#define MAX_SPEC_WIDTH 48
#define KEY_BUF 64
#define PERCENT 100.0
#define KIB 1024.0
/* Poll slots for the client's sockets before growing: a few per server
 * while connects race. */
#define INITIAL_FDS 16

/* ANSI / VT100 (ECMA-48 and xterm's private modes). */
#define ESC_ALT_SCREEN_ON "\033[?1049h"
#define ESC_ALT_SCREEN_OFF "\033[?1049l"
#define ESC_CURSOR_HIDE "\033[?25l"
#define ESC_CURSOR_SHOW "\033[?25h"
#define ESC_HOME "\033[H"
#define ESC_ERASE_LINE "\033[K"
#define ESC_ERASE_BELOW "\033[J"

/* What a frame shows of one `stats` answer. */
typedef struct sample {
    uint64_t cmd_get, cmd_set, get_hits, get_misses;
    uint64_t bytes, limit_maxbytes, curr_connections, evictions, curr_items;
    uint64_t at_ns;
} sample;

typedef struct top top;

typedef struct top_server {
    top *t;
    sample pending; /* filled by the STAT lines of the request in flight */
    sample cur, prev;
    int samples; /* good samples so far (2 means prev is valid) */
    int up;      /* the last request succeeded */
    mcf_request *req; /* in flight, or NULL */
    char reason[REASON_BUF];
} top_server;

struct top {
    mcf_client *c;
    size_t n;
    top_server *srv;
    size_t outstanding; /* requests of the round in flight */
    int interval_ms;
    int undrawn; /* a round was asked for and not drawn yet */
    int json;    /* --json: run_once writes objects, not a frame */
    struct pollfd *fds;
    size_t cap;
    char *frame;
    size_t frame_cap;
};

static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig)
{
    quit_signal = sig;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Sampling                                                            */
/* ------------------------------------------------------------------ */

static uint64_t to_u64(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* The STAT lines a frame uses, by name. */
static const struct {
    const char *name;
    size_t offset;
} wanted_stats[] = {
    {"cmd_get", offsetof(sample, cmd_get)},
    {"cmd_set", offsetof(sample, cmd_set)},
    {"get_hits", offsetof(sample, get_hits)},
    {"get_misses", offsetof(sample, get_misses)},
    {"bytes", offsetof(sample, bytes)},
    {"limit_maxbytes", offsetof(sample, limit_maxbytes)},
    {"curr_connections", offsetof(sample, curr_connections)},
    {"evictions", offsetof(sample, evictions)},
    {"curr_items", offsetof(sample, curr_items)},
};
#define N_WANTED (sizeof wanted_stats / sizeof wanted_stats[0])

static void on_stat(void *ctx, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    sample *s = ctx;
    for (size_t i = 0; i < N_WANTED; i++) {
        if (strlen(wanted_stats[i].name) == name_len &&
            memcmp(wanted_stats[i].name, name, name_len) == 0) {
            uint64_t v = to_u64(value, value_len);
            memcpy((char *)s + wanted_stats[i].offset, &v, sizeof v);
            return;
        }
    }
}

static void on_stats_done(mcf_client *c, mcf_request *req, int rc, const mcf_value *value,
                          void *arg)
{
    (void)req;
    (void)value;
    top_server *s = arg;
    s->req = NULL;
    s->t->outstanding--;
    if (rc != MCF_OK) {
        const char *msg = mcf_last_error(c);
        snprintf(s->reason, sizeof s->reason, "%s", msg && *msg ? msg : mcf_strerror(rc));
        s->up = 0;
        return;
    }
    s->pending.at_ns = now_ns();
    s->prev = s->cur;
    s->cur = s->pending;
    s->samples++;
    s->up = 1;
}

/* Asks every server not still answering the last round. */
static void start_round(top *t)
{
    for (size_t i = 0; i < t->n; i++) {
        top_server *s = &t->srv[i];
        if (s->req != NULL)
            continue;
        memset(&s->pending, 0, sizeof s->pending);
        s->req = mcf_async_stats(t->c, i, NULL, on_stat, &s->pending, on_stats_done, s);
        if (s->req == NULL) {
            const char *msg = mcf_last_error(t->c);
            snprintf(s->reason, sizeof s->reason, "%s", msg && *msg ? msg : "stats refused");
            s->up = 0;
            continue;
        }
        t->outstanding++;
    }
    t->undrawn = 1;
}

/* ------------------------------------------------------------------ */
/* A frame                                                             */
/* ------------------------------------------------------------------ */

typedef struct frame {
    char *buf;
    size_t cap;
    size_t len;
    int escapes; /* erase each line's rest (full screen) */
} frame;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(frame *f, const char *fmt, ...);

static void put(frame *f, const char *fmt, ...)
{
    va_list ap;
    if (f->len + 1 >= f->cap)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(f->buf + f->len, f->cap - f->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        f->len += (size_t)n < f->cap - f->len ? (size_t)n : f->cap - f->len - 1;
}

static void end_line(frame *f)
{
    put(f, "%s\n", f->escapes ? ESC_ERASE_LINE : "");
}

/* "512B", "1.5K", "64.0M", "2.00G". */
static const char *fmt_bytes(char *buf, size_t size, uint64_t v)
{
    static const char units[] = "BKMGTP";
    double d = (double)v;
    unsigned u = 0;
    while (d >= KIB && u + 1 < sizeof units - 1) {
        d /= KIB;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%" PRIu64 "B", v);
    else
        snprintf(buf, size, "%.1f%c", d, units[u]);
    return buf;
}

/* Interval figures of one server; have = 0 until two samples exist (or
 * when a counter went back: the server restarted). */
typedef struct rates {
    int have;
    double ops;
    uint64_t gets, hits;
} rates;

static rates rates_of(const top_server *s)
{
    rates r = {0, 0.0, 0, 0};
    if (s->samples < 2 || !s->up)
        return r;
    const sample *a = &s->prev, *b = &s->cur;
    if (b->cmd_get < a->cmd_get || b->cmd_set < a->cmd_set || b->get_hits < a->get_hits ||
        b->at_ns <= a->at_ns)
        return r;
    double dt = (double)(b->at_ns - a->at_ns) / (double)NS_PER_S;
    r.have = 1;
    r.ops = (double)((b->cmd_get - a->cmd_get) + (b->cmd_set - a->cmd_set)) / dt;
    r.gets = b->cmd_get - a->cmd_get;
    r.hits = b->get_hits - a->get_hits;
    return r;
}

static void put_row(frame *f, int w, const char *name, const char *state, const rates *r,
                    const sample *s)
{
    char hit[16], used[16], limit[16], mem[48];
    if (r->have && r->gets)
        snprintf(hit, sizeof hit, "%.1f%%", PERCENT * (double)r->hits / (double)r->gets);
    else
        snprintf(hit, sizeof hit, "-");
    snprintf(mem, sizeof mem, "%s/%s %.1f%%", fmt_bytes(used, sizeof used, s->bytes),
             fmt_bytes(limit, sizeof limit, s->limit_maxbytes),
             s->limit_maxbytes ? PERCENT * (double)s->bytes / (double)s->limit_maxbytes : 0.0);
    put(f, "%-*.*s %-5s ", w, w, name, state);
    if (r->have)
        put(f, "%10.0f", r->ops);
    else
        put(f, "%10s", "-");
    put(f, " %6s %-20s %6" PRIu64 " %10" PRIu64 " %10" PRIu64, hit, mem, s->curr_connections,
        s->evictions, s->curr_items);
    end_line(f);
}

/* A live server's figures into the totals row (render, render_json). */
static void add_to_total(rates *total, sample *sum, const rates *r, const sample *s)
{
    total->have &= r->have;
    total->ops += r->ops;
    total->gets += r->gets;
    total->hits += r->hits;
    sum->bytes += s->bytes;
    sum->limit_maxbytes += s->limit_maxbytes;
    sum->curr_connections += s->curr_connections;
    sum->evictions += s->evictions;
    sum->curr_items += s->curr_items;
}

static void render(top *t, frame *f)
{
    int w = MIN_SPEC_WIDTH;
    size_t up = 0;
    for (size_t i = 0; i < t->n; i++) {
        mcf_server_info info;
        if (mcf_server_info_get(t->c, i, &info) == MCF_OK && (int)strlen(info.spec) > w)
            w = (int)strlen(info.spec);
        up += (size_t)t->srv[i].up;
    }
    if (w > MAX_SPEC_WIDTH)
        w = MAX_SPEC_WIDTH;
    char clock[16];
    time_t wall = time(NULL);
    struct tm tm;
    strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&wall, &tm));
    put(f, "mcfast top  %s  %zu/%zu servers up  every %d ms%s", clock, up, t->n,
        t->interval_ms, f->escapes ? "  (q quits)" : "");
    end_line(f);
    end_line(f);
    put(f, "%-*s %-5s %10s %6s %-20s %6s %10s %10s", w, "SERVER", "STATE", "OPS/S", "HIT%",
        "MEMORY (USED/LIMIT)", "CONNS", "EVICTIONS", "ITEMS");
    end_line(f);
    rates total = {1, 0.0, 0, 0};
    sample sum;
    memset(&sum, 0, sizeof sum);
    for (size_t i = 0; i < t->n; i++) {
        const top_server *s = &t->srv[i];
        mcf_server_info info;
        const char *spec = mcf_server_info_get(t->c, i, &info) == MCF_OK ? info.spec : "?";
        if (!s->up) {
            put(f, "%-*.*s %-5s %s", w, w, spec, "down",
                s->reason[0] ? s->reason : "no answer yet");
            end_line(f);
            continue;
        }
        rates r = rates_of(s);
        put_row(f, w, spec, "up", &r, &s->cur);
        add_to_total(&total, &sum, &r, &s->cur);
    }
    total.have &= up > 0;
    put_row(f, w, "TOTAL", "", &total, &sum);
}

/* One server's figures as JSON fields (the rates left out until two samples). */
static void json_figures(struct jobj *j, const rates *r, const sample *s)
{
    if (r->have)
        cli_jdouble(j, "ops_per_s", r->ops);
    if (r->have && r->gets)
        cli_jdouble(j, "hit_rate", (double)r->hits / (double)r->gets);
    cli_ju64(j, "bytes", s->bytes);
    cli_ju64(j, "limit_maxbytes", s->limit_maxbytes);
    cli_ju64(j, "curr_connections", s->curr_connections);
    cli_ju64(j, "evictions", s->evictions);
    cli_ju64(j, "curr_items", s->curr_items);
}

/* --json: what render() shows, one object per server and one for the
 * totals ({"total":true,...}), after the same two samples. */
static void render_json(top *t)
{
    rates total = {1, 0.0, 0, 0};
    sample sum;
    size_t up = 0;
    memset(&sum, 0, sizeof sum);
    for (size_t i = 0; i < t->n; i++) {
        const top_server *s = &t->srv[i];
        mcf_server_info info;
        struct jobj j;
        cli_jbegin(&j);
        cli_jstr(&j, "server", mcf_server_info_get(t->c, i, &info) == MCF_OK ? info.spec : "?");
        cli_jstr(&j, "state", s->up ? "up" : "down");
        if (!s->up) {
            cli_jstr(&j, "reason", s->reason[0] ? s->reason : "no answer yet");
            cli_jend(&j);
            continue;
        }
        up++;
        rates r = rates_of(s);
        json_figures(&j, &r, &s->cur);
        cli_jend(&j);
        add_to_total(&total, &sum, &r, &s->cur);
    }
    total.have &= up > 0;
    struct jobj j;
    cli_jbegin(&j);
    cli_jbool(&j, "total", 1);
    cli_ju64(&j, "servers", t->n);
    cli_ju64(&j, "up", up);
    json_figures(&j, &total, &sum);
    cli_jend(&j);
}

/* ------------------------------------------------------------------ */
/* The terminal                                                        */
/* ------------------------------------------------------------------ */

typedef struct term {
    int raw; /* termios changed: restore saved */
    struct termios saved;
    int screen; /* alternate screen entered */
} term;

static void term_enter(term *tm)
{
    struct termios raw;
    memset(tm, 0, sizeof *tm);
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tm->saved) == 0) {
        raw = tm->saved;
        /* Keys one at a time, not echoed; ^C still signals (ISIG kept). */
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tm->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    fputs(ESC_ALT_SCREEN_ON ESC_CURSOR_HIDE, stdout);
    fflush(stdout);
    tm->screen = 1;
}

static void term_leave(term *tm)
{
    if (tm->screen) {
        fputs(ESC_CURSOR_SHOW ESC_ALT_SCREEN_OFF, stdout);
        fflush(stdout);
    }
    if (tm->raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &tm->saved);
    tm->screen = tm->raw = 0;
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */
/* ------------------------------------------------------------------ */

/* One poll over the keyboard (when watched) and the client's sockets, at
 * most wait_ms.  Returns 1 when q was pressed (or stdin ended), 0, or -1
 * with errno. */
static int turn(top *t, int keyboard, int wait_ms)
{
    int lib_ms;
    size_t base = keyboard ? 1 : 0;
    size_t n = mcf_async_pollset(t->c, t->fds + base, t->cap - base, &lib_ms);
    while (n + base > t->cap) {
        struct pollfd *more = realloc(t->fds, (n + base) * sizeof *more);
        if (more == NULL)
            return -1;
        t->fds = more;
        t->cap = n + base;
        n = mcf_async_pollset(t->c, t->fds + base, t->cap - base, &lib_ms);
    }
    if (keyboard) {
        t->fds[0].fd = STDIN_FILENO;
        t->fds[0].events = POLLIN;
        t->fds[0].revents = 0;
    }
    if (lib_ms >= 0 && lib_ms < wait_ms)
        wait_ms = lib_ms;
    if (poll(t->fds, (nfds_t)(n + base), wait_ms) < 0) {
        if (errno != EINTR)
            return -1;
        for (size_t i = 0; i < n + base; i++)
            t->fds[i].revents = 0;
    }
    mcf_async_process(t->c, t->fds + base, n);
    if (keyboard && (t->fds[0].revents & (POLLIN | POLLHUP))) {
        char keys[KEY_BUF];
        ssize_t got = read(STDIN_FILENO, keys, sizeof keys);
        if (got == 0)
            return 1;
        for (ssize_t i = 0; i < got; i++)
            if (keys[i] == 'q' || keys[i] == 'Q')
                return 1;
    }
    return 0;
}

static int ms_until(uint64_t when, uint64_t now)
{
    return when > now ? (int)((when - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
}

/* --once: two rounds an interval apart (rates need two samples), then one
 * plain frame. */
static int run_once(top *t)
{
    for (int round = 0; round < 2; round++) {
        uint64_t next = now_ns() + (uint64_t)t->interval_ms * NS_PER_MS;
        start_round(t);
        while (t->outstanding > 0 && !quit_signal)
            if (turn(t, 0, t->interval_ms) < 0)
                return XC_ERROR;
        if (round == 0)
            while (now_ns() < next && !quit_signal)
                if (turn(t, 0, ms_until(next, now_ns())) < 0)
                    return XC_ERROR;
    }
    if (t->json) {
        render_json(t);
    } else {
        frame f = {t->frame, t->frame_cap, 0, 0};
        render(t, &f);
        fwrite(f.buf, 1, f.len, stdout);
    }
    for (size_t i = 0; i < t->n; i++)
        if (!t->srv[i].up)
            return XC_ERROR;
    return XC_OK;
}

/* Full screen on a terminal.  Otherwise (a pipe, a file) plain frames one
 * after another, as `top -b` does, until a signal; the keyboard is only
 * read from a terminal, so `< /dev/null` does not end it at once. */
static int run_screen(top *t)
{
    term tm;
    int code = XC_OK, keyboard = isatty(STDIN_FILENO), screen = isatty(STDOUT_FILENO);
    uint64_t next = now_ns();
    memset(&tm, 0, sizeof tm);
    if (screen)
        term_enter(&tm);
    while (!quit_signal) {
        uint64_t now = now_ns();
        if (t->outstanding == 0 && now >= next) {
            start_round(t);
            next = now + (uint64_t)t->interval_ms * NS_PER_MS;
        }
        int rc = turn(t, keyboard, t->outstanding ? t->interval_ms : ms_until(next, now));
        if (rc < 0) {
            code = XC_ERROR;
            break;
        }
        if (rc > 0)
            break;
        if (t->outstanding == 0 && t->undrawn) {
            frame f = {t->frame, t->frame_cap, 0, screen};
            put(&f, "%s", screen ? ESC_HOME : "");
            render(t, &f);
            put(&f, "%s", screen ? ESC_ERASE_BELOW : "\n");
            fwrite(f.buf, 1, f.len, stdout);
            fflush(stdout);
            t->undrawn = 0;
        }
    }
    term_leave(&tm);
    if (code != XC_OK)
        fprintf(stderr, "mcfast: top: %s\n", strerror(errno));
    return code;
}

static int parse_options(char **args, int nargs, int *interval_ms, int *once, int *json)
{
    *interval_ms = DEFAULT_INTERVAL_MS;
    *once = *json = 0;
    for (int i = 0; i < nargs; i++) {
        const char *arg = args[i];
        if (strcmp(arg, "--once") == 0) {
            *once = 1;
            continue;
        }
        if (strcmp(arg, "--json") == 0) { /* --once, written as JSON */
            *once = *json = 1;
            continue;
        }
        const char *val = NULL;
        if (strncmp(arg, "--interval=", strlen("--interval=")) == 0)
            val = arg + strlen("--interval=");
        else if (strcmp(arg, "--interval") == 0 && i + 1 < nargs)
            val = args[++i];
        else if (strcmp(arg, "--interval") == 0)
            val = "";
        if (val == NULL) {
            fprintf(stderr, "mcfast: top: unknown option '%s'\nTry 'mcfast --help'.\n", arg);
            return XC_USAGE;
        }
        char *end;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (*val == '\0' || *end != '\0' || errno == ERANGE || v < MIN_INTERVAL_MS ||
            v > MAX_INTERVAL_MS) {
            fprintf(stderr,
                    "mcfast: top: --interval: '%s' is not a number of milliseconds of %d..%d\n"
                    "Try 'mcfast --help'.\n",
                    val, MIN_INTERVAL_MS, MAX_INTERVAL_MS);
            return XC_USAGE;
        }
        *interval_ms = (int)v;
    }
    return XC_OK;
}

int mcfast_cmd_top(mcf_client *c, char **args, int nargs)
{
    top t;
    int once, json;
    memset(&t, 0, sizeof t);
    int code = parse_options(args, nargs, &t.interval_ms, &once, &json);
    if (code != XC_OK)
        return code;
    t.c = c;
    t.n = mcf_server_count(c);
    t.srv = calloc(t.n ? t.n : 1, sizeof *t.srv);
    t.fds = calloc(INITIAL_FDS, sizeof *t.fds);
    t.cap = INITIAL_FDS;
    t.frame_cap = (t.n + FRAME_FIXED_LINES) * FRAME_LINE_MAX;
    t.frame = malloc(t.frame_cap);
    if (t.srv == NULL || t.fds == NULL || t.frame == NULL) {
        fprintf(stderr, "mcfast: top: %s\n", mcf_strerror(MCF_ERR_NOMEM));
        code = XC_ERROR;
    } else {
        for (size_t i = 0; i < t.n; i++)
            t.srv[i].t = &t;
        t.json = json;
        struct sigaction sa, old_int, old_term, old_hup;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_quit_signal;
        sigemptyset(&sa.sa_mask);
        quit_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGHUP, &sa, &old_hup);
        code = once ? run_once(&t) : run_screen(&t);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        /* A round still in flight (q during a slow server's answer): its
         * callbacks must not run once t is gone. */
        for (size_t i = 0; i < t.n; i++)
            if (t.srv[i].req != NULL)
                mcf_async_cancel(c, t.srv[i].req);
    }
    free(t.srv);
    free(t.fds);
    free(t.frame);
    return code;
}
