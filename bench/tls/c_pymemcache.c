/* c_pymemcache.c - the TLS bench's peer: pymemcache over TLS in a python3
 * child (bench/tls_pymemcache.py), one persistent process driven over two
 * pipes: "round W SECONDS CURSOR MARKER" -> "ok CALLS SECONDS USER SYS".
 * The child times its own calls, so neither the pipe nor Python's start
 * is in a rate. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_tls.h"
#include "tlsfix.h"

/* How long the child may take beyond what it was asked: its start (import,
 * the data, the first handshake) and a round's last call on a loaded
 * machine. */
#define START_WAIT_MS 30000
#define ROUND_SLACK_MS 30000
#define LINE_MAX_LEN 1024

static pid_t g_pid = -1;
static int g_to = -1, g_from = -1; /* the child's stdin, stdout */
static char g_buf[LINE_MAX_LEN];
static size_t g_len;
static char g_version[128];

/* One line from the child (without its newline) within wait_ms; -1 on EOF,
 * a timeout or an error, with why. */
static int read_line(char *out, size_t cap, int wait_ms, char *why, size_t whylen)
{
    double deadline = bench_now_s() + wait_ms / 1000.0;
    for (;;) {
        char *nl = memchr(g_buf, '\n', g_len);
        if (nl) {
            size_t n = (size_t)(nl - g_buf);
            snprintf(out, cap, "%.*s", (int)n, g_buf);
            g_len -= n + 1;
            memmove(g_buf, nl + 1, g_len);
            return 0;
        }
        if (g_len == sizeof g_buf) {
            snprintf(why, whylen, "the peer's line is longer than %d bytes", LINE_MAX_LEN);
            return -1;
        }
        int left = (int)((deadline - bench_now_s()) * 1000);
        struct pollfd p = {.fd = g_from, .events = POLLIN};
        int pr = left > 0 ? poll(&p, 1, left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            snprintf(why, whylen, "the peer did not answer within %d ms", wait_ms);
            return -1;
        }
        ssize_t r = read(g_from, g_buf + g_len, sizeof g_buf - g_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(why, whylen, "the peer exited");
            return -1;
        }
        g_len += (size_t)r;
    }
}

static int send_line(const char *line, char *why, size_t whylen)
{
    size_t n = strlen(line), off = 0;
    while (off < n) {
        ssize_t w = write(g_to, line + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(why, whylen, "the peer exited (write: %s)", strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* A command and its one-line answer; "error ..." answers are failures. */
static int ask(const char *cmd, char *ans, size_t cap, int wait_ms, char *why, size_t whylen)
{
    if (send_line(cmd, why, whylen) != 0 || read_line(ans, cap, wait_ms, why, whylen) != 0)
        return -1;
    if (strncmp(ans, "ok", 2) != 0) {
        snprintf(why, whylen, "%s", ans);
        return -1;
    }
    return 0;
}

int peer_start(const char *python, const char *script, char *why, size_t whylen)
{
    if (access(script, R_OK) != 0) {
        snprintf(why, whylen, "%s: %s", script, strerror(errno));
        return -1;
    }
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(from, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        close(to[0]);
        close(to[1]);
        return -1;
    }
    g_pid = fork();
    if (g_pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        execl(python, python, script, (char *)NULL);
        /* Said as the script says what it lacks. */
        char msg[LINE_MAX_LEN];
        int n = snprintf(msg, sizeof msg, "skip cannot run %.200s: %s\n", python, strerror(errno));
        if (n > 0 && write(1, msg, (size_t)n) < 0)
            _exit(127);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    g_to = to[1];
    g_from = from[0];
    if (g_pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        peer_stop();
        return -1;
    }
    char line[LINE_MAX_LEN], cmd[LINE_MAX_LEN];
    if (read_line(line, sizeof line, START_WAIT_MS, why, whylen) != 0) {
        char tmp[256];
        snprintf(tmp, sizeof tmp, "%s", why);
        snprintf(why, whylen, "%s %s: %s", python, script, tmp);
        peer_stop();
        return -1;
    }
    if (strncmp(line, "ready ", 6) != 0) {
        snprintf(why, whylen, "%s", strncmp(line, "skip ", 5) == 0 ? line + 5 : line);
        peer_stop();
        return -1;
    }
    snprintf(g_version, sizeof g_version, "%.100s", line + 6);
    /* The TLS port of the same memcached, the same CA as mcfast's. */
    const char *spec = tls_server_spec() + 4; /* past "tls:" */
    const char *colon = strrchr(spec, ':');
    snprintf(cmd, sizeof cmd, "init %.*s %s %s %zu %d %d %d %d\n", (int)(colon - spec), spec,
             colon + 1, tls_file("ca.pem"), g_nkeys, VLEN, BATCH, BIGLEN, NBIG);
    if (ask(cmd, line, sizeof line, START_WAIT_MS, why, whylen) != 0) {
        peer_stop();
        return -1;
    }
    return 0;
}

const char *peer_version(void)
{
    return g_version;
}

void peer_stop(void)
{
    if (g_to >= 0) {
        char why[64];
        (void)send_line("quit\n", why, sizeof why);
        close(g_to);
    }
    if (g_from >= 0)
        close(g_from);
    g_to = g_from = -1;
    g_len = 0;
    if (g_pid > 0) {
        /* It exits at "quit" or at the end of its stdin; a child stuck in a
         * call is ended. */
        for (int i = 0; i < 100 && waitpid(g_pid, NULL, WNOHANG) == 0; i++)
            usleep(20000);
        if (waitpid(g_pid, NULL, WNOHANG) == 0) {
            kill(g_pid, SIGKILL);
            waitpid(g_pid, NULL, 0);
        }
    }
    g_pid = -1;
}

static int peer_round(trunner *r, double seconds, round_result *out)
{
    char cmd[128], ans[LINE_MAX_LEN];
    snprintf(cmd, sizeof cmd, "round %s %.6f %llu %c\n", r->w->name, seconds,
             (unsigned long long)r->cursor, tw_is_set(r->w) ? r->marker : '-');
    int wait_ms = (int)(seconds * 1000) + ROUND_SLACK_MS;
    if (g_to < 0) {
        snprintf(r->err, sizeof r->err, "pymemcache: the peer is not running");
        return -1;
    }
    if (ask(cmd, ans, sizeof ans, wait_ms, r->err, sizeof r->err) != 0)
        return -1;
    unsigned long long calls;
    if (sscanf(ans, "ok %llu %lf %lf %lf", &calls, &out->seconds, &out->user_s, &out->sys_s) !=
            4 ||
        calls == 0) {
        snprintf(r->err, sizeof r->err, "pymemcache: unexpected answer '%.400s'", ans);
        return -1;
    }
    out->calls = calls;
    r->cursor += calls;
    return 0;
}

trunner *peer_trunner(const tworkload *w)
{
    trunner *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    static const char *const api[TW_COUNT] = {
        [TW_GET] = "get(key)",
        [TW_GETM] = "get_many(100 keys)",
        [TW_SETM] = "set_many(100 items, noreply=False), no key may fail",
        [TW_SET500K] = "set(key, " BENCH_TLS_STR(BIGLEN) " bytes, noreply=False)",
    };
    r->client = "pymemcache-tls";
    r->w = w;
    r->round = peer_round;
    snprintf(r->config, sizeof r->config,
             "%s, %s, ssl.create_default_context(cafile=the test CA), no_delay=True, one "
             "python3 process",
             api[w->id], g_version);
    return r;
}
