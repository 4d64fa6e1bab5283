/* test_connect.c - Happy Eyeballs connect under one deadline (src/connect.c), on real loopback sockets.
 *
 * A "blackhole" is a loopback listener whose accept queue is full
 * (listen(fd, 0), filled with connections nobody accepts): the kernel
 * drops further SYNs, so a connect to it neither succeeds nor fails
 * before the deadline.  The unix-socket equivalent makes connect() fail
 * with EAGAIN. */
#include <arpa/inet.h>
#include <ares.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "connect.h"
#include "fixtures.h"
#include "harness.h"
#include "test_addrs.h"
#include "blackhole.h"
#include "mcfast.h"
#include "spec.h"


static char tmpdir[64];

/* Probed once in main: can this host listen on ::1, and does its kernel
 * drop SYNs to a full accept queue (the blackhole)? */
static int have_v6, have_blackhole;
#define NO_BLACKHOLE "this kernel does not drop SYNs to a full accept queue"

/* ---- a slow resolver: resolution time counts against the deadline ---- */

static int slow_resolver_ms;

/* Names ending in ".slow.test" take slow_resolver_ms inside
 * ares_getaddrinfo (interposed: the test binary's definition wins at link
 * time) and answer 127.0.0.1; every other name goes to c-ares.  Nothing is
 * sent: c-ares answers a numeric host itself. */
void ares_getaddrinfo(ares_channel channel, const char *node, const char *service,
                      const struct ares_addrinfo_hints *hints, ares_addrinfo_callback cb,
                      void *arg)
{
    void (*real)(ares_channel, const char *, const char *, const struct ares_addrinfo_hints *,
                 ares_addrinfo_callback, void *);
    void *sym = dlsym(RTLD_NEXT, "ares_getaddrinfo");
    size_t n = node ? strlen(node) : 0;

    if (!sym)
        abort();
    memcpy(&real, &sym, sizeof real);
    if (n > 10 && strcmp(node + n - 10, ".slow.test") == 0) {
        struct timespec ts;
        ts.tv_sec = slow_resolver_ms / 1000;
        ts.tv_nsec = (long)(slow_resolver_ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        node = "127.0.0.1";
    }
    real(channel, node, service, hints, cb, arg);
}

/* ---- helpers ---------------------------------------------------------- */


static unsigned addr_port(const mcf_addr *a)
{
    if (a->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static const char *fmt(const mcf_addr *a)
{
    static char buf[4][MCF_ADDRSTR_MAX];
    static int k;
    k = (k + 1) % 4;
    mcf_addr_format(a, buf[k], sizeof buf[k]);
    return buf[k];
}

static int unix_listen(const char *name, int backlog, mcf_addr *out)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(out, 0, sizeof *out);
    sun->sun_family = AF_UNIX;
    snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s", tmpdir, name);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
    out->family = AF_UNIX;
    if (fd < 0)
        return -1;
    unlink(sun->sun_path);
    if (bind(fd, (struct sockaddr *)sun, out->len) != 0 || listen(fd, backlog) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Fills a unix listener's backlog until connect() says EAGAIN. */
static int fill_unix(const mcf_addr *a, int *fds)
{
    int k;
    for (k = 0; k < MAX_FILL; k++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        if (connect(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
            int e = errno;
            close(fd);
            if (e == EAGAIN)
                return k;
            break;
        }
        fds[k] = fd;
    }
    while (k-- > 0)
        close(fds[k]);
    return -1;
}

static mcf_addrlist list_of(size_t n, const mcf_addr *a)
{
    mcf_addrlist l;
    size_t i;
    memset(&l, 0, sizeof l);
    for (i = 0; i < n && i < MCF_MAX_ADDRS; i++)
        l.addr[l.n++] = a[i];
    l.source = "test";
    return l;
}

static mcf_connect_opts opts(int timeout_ms, int delay_ms)
{
    mcf_connect_opts o;
    o.timeout_ms = timeout_ms;
    o.attempt_delay_ms = delay_ms;
    o.keepalive = 0;
    return o;
}

static int same(const mcf_addr *a, const mcf_addr *b)
{
    return a->family == b->family && strcmp(fmt(a), fmt(b)) == 0;
}

static int int_sockopt(int fd, int level, int opt)
{
    int v = -1;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, opt, &v, &l) != 0)
        return -1;
    return v;
}

static int blackhole_works(void)
{
    blackhole b;
    if (blackhole_open(&b, "127.0.0.1") != 0)
        return 0;
    blackhole_close(&b);
    return 1;
}

static int v6_loopback_works(void)
{
    mcf_addr a;
    int fd = tcp_listen("::1", 1, &a);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* ---- cases ------------------------------------------------------------- */

static void check_refused(const char *ip)
{
    mcf_addr a;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(1000, 250);
    char err[512] = "", want[256];

    if (refused_addr(ip, &a) != 0) {
        CHECKF(0, "no free port on %s", ip);
        return;
    }
    l = list_of(1, &a);
    CHECK_RC(mcf_connect_addrs("mc-test", &l, &o, &c, err, sizeof err), MCF_ERR_CONNECT);
    CHECK(c.fd == -1);
    snprintf(want, sizeof want, "connect mc-test: %s connection refused", fmt(&a));
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
}

TEST(refused_v4) { check_refused("127.0.0.1"); }
TEST(refused_v6)
{
    SKIP_UNLESS(have_v6, "no IPv6 on loopback");
    check_refused("::1");
}

static void check_success(const char *ip, int keepalive)
{
    mcf_addr a;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(1000, 250);
    char err[512] = "";
    int lfd = tcp_listen(ip, 8, &a), afd;

    if (lfd < 0) {
        CHECKF(0, "cannot listen on %s", ip);
        return;
    }
    o.keepalive = keepalive;
    l = list_of(1, &a);
    CHECK_RC(mcf_connect_addrs("mc-test", &l, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECKF(same(&c.addr, &a), "won %s, want %s", fmt(&c.addr), fmt(&a));
        CHECK(c.elapsed_ms >= 0 && c.elapsed_ms < 1000);
        CHECK(fcntl(c.fd, F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
        CHECK(int_sockopt(c.fd, IPPROTO_TCP, TCP_NODELAY) != 0);
        CHECK((int_sockopt(c.fd, SOL_SOCKET, SO_KEEPALIVE) != 0) == (keepalive != 0));
        afd = accept(lfd, NULL, NULL);
        CHECK(afd >= 0);
        if (afd >= 0) {
            /* The connection really works end to end. */
            CHECK(send(c.fd, "x", 1, MSG_NOSIGNAL) == 1);
            char ch = 0;
            CHECK(recv(afd, &ch, 1, 0) == 1 && ch == 'x');
            close(afd);
        }
        close(c.fd);
    }
    close(lfd);
}

TEST(success_v4) { check_success("127.0.0.1", 0); }
TEST(success_v4_keepalive) { check_success("127.0.0.1", 1); }
TEST(success_v6)
{
    SKIP_UNLESS(have_v6, "no IPv6 on loopback");
    check_success("::1", 0);
}

/* Through a spec: parse, resolve and connect in one call. */
static void check_spec(const char *fmt_spec, const char *listen_ip, const char *want_ip)
{
    mcf_addr a;
    mcf_spec sp;
    mcf_connected c;
    mcf_connect_opts o = opts(2000, 1000);
    char spec[128], err[512] = "";
    int lfd = tcp_listen(listen_ip, 8, &a);

    if (lfd < 0) {
        CHECKF(0, "cannot listen on %s", listen_ip);
        return;
    }
    snprintf(spec, sizeof spec, fmt_spec, addr_port(&a));
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    CHECKF(mcf_connect(&sp, &o, &c, err, sizeof err) == 0, "%s: %s", spec, err);
    if (c.fd >= 0) {
        mcf_addr want = t_ip_addr(want_ip, addr_port(&a));
        CHECKF(same(&c.addr, &want), "%s: won %s", spec, fmt(&c.addr));
        /* A refused first address costs no attempt delay (RFC 8305 §5). */
        CHECKF(c.elapsed_ms < 500, "%s: %.1f ms", spec, c.elapsed_ms);
        printf("# %s -> %s in %.2f ms\n", spec, fmt(&c.addr), c.elapsed_ms);
        close(c.fd);
    }
    close(lfd);
}

TEST(spec_v4_literal) { check_spec("127.0.0.1:%u", "127.0.0.1", "127.0.0.1"); }
TEST(spec_v6_literal)
{
    SKIP_UNLESS(have_v6, "no IPv6 on loopback");
    check_spec("[::1]:%u", "::1", "::1");
}
TEST(spec_localhost_v4_only_server) { check_spec("localhost:%u", "127.0.0.1", "127.0.0.1"); }
TEST(spec_localhost_v6_server)
{
    SKIP_UNLESS(have_v6, "no IPv6 on loopback");
    check_spec("localhost:%u", "::1", "::1");
}

TEST(unix_success_and_missing)
{
    mcf_addr a;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(1000, 250);
    mcf_spec sp;
    char spec[200], err[512] = "", want[300];
    int lfd = unix_listen("ok.sock", 8, &a);
    const char *path = ((struct sockaddr_un *)&a.ss)->sun_path;

    if (lfd < 0) {
        CHECKF(0, "cannot listen on a unix socket");
        return;
    }
    snprintf(spec, sizeof spec, "unix:%s", path);
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    CHECK_RC(mcf_connect(&sp, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECK(c.addr.family == AF_UNIX);
        CHECK(strcmp(fmt(&c.addr), path) == 0);
        CHECK(fcntl(c.fd, F_GETFL) & O_NONBLOCK);
        CHECK(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
        close(c.fd);
    }
    close(lfd);
    unlink(path);

    /* The same path, now gone. */
    CHECK_RC(mcf_connect(&sp, &o, &c, err, sizeof err), MCF_ERR_CONNECT);
    CHECK(c.fd == -1);
    snprintf(want, sizeof want, "connect %s: %s no such file or directory", spec, path);
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);

    /* Listening socket file left behind by a dead server. */
    lfd = unix_listen("ok.sock", 8, &a);
    close(lfd);
    l = list_of(1, &a);
    CHECK_RC(mcf_connect_addrs("stale", &l, &o, &c, err, sizeof err), MCF_ERR_CONNECT);
    CHECKF(strstr(err, "connection refused") != NULL, "message: %s", err);
    unlink(path);
}

TEST(happy_eyeballs_refused_then_good)
{
    mcf_addr a[2];
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(5000, 2000);
    char err[512] = "";
    int lfd = tcp_listen("127.0.0.1", 8, &a[1]);

    if (lfd < 0 || refused_addr("127.0.0.1", &a[0]) != 0) {
        CHECKF(0, "setup");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    l = list_of(2, a);
    CHECK_RC(mcf_connect_addrs("he", &l, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECKF(same(&c.addr, &a[1]), "won %s", fmt(&c.addr));
        /* Far below the 2000 ms attempt delay: a failure starts the next at once. */
        CHECKF(c.elapsed_ms < 1000, "%.1f ms", c.elapsed_ms);
        printf("# refused then good: %.2f ms\n", c.elapsed_ms);
        close(c.fd);
    }
    close(lfd);
}

TEST(deadline_tcp_full_backlog)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(300, 250);
    char err[512] = "", want[256];
    int64_t t0;
    double ms;

    if (blackhole_open(&b, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make a full-backlog listener");
        return;
    }
    l = list_of(1, &b.addr);
    t0 = mcf_now_us();
    CHECK_RC(mcf_connect_addrs("bh", &l, &o, &c, err, sizeof err), MCF_ERR_TIMEOUT);
    ms = (double)(mcf_now_us() - t0) / 1000.0;
    CHECK(c.fd == -1);
    CHECKF(ms >= 295 && ms < 2000, "%.1f ms", ms);
    CHECKF(c.elapsed_ms >= 295 && c.elapsed_ms < 2000, "elapsed_ms %.1f", c.elapsed_ms);
    snprintf(want, sizeof want, "connect bh: %s timed out after 300 ms", fmt(&b.addr));
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
    printf("# full backlog, timeout 300 ms: %.1f ms\n", ms);
    blackhole_close(&b);
}

TEST(deadline_unix_full_backlog)
{
    mcf_addr a;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(300, 250);
    char err[512] = "", want[300];
    int fds[MAX_FILL], n, lfd = unix_listen("full.sock", 0, &a);
    int64_t t0;
    double ms;

    if (lfd < 0 || (n = fill_unix(&a, fds)) < 0) {
        CHECKF(0, "cannot fill a unix backlog");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    l = list_of(1, &a);
    t0 = mcf_now_us();
    CHECK_RC(mcf_connect_addrs("ux", &l, &o, &c, err, sizeof err), MCF_ERR_TIMEOUT);
    ms = (double)(mcf_now_us() - t0) / 1000.0;
    CHECK(c.fd == -1);
    CHECKF(ms >= 295 && ms < 2000, "%.1f ms", ms);
    snprintf(want, sizeof want, "connect ux: %s timed out after 300 ms (listen backlog full)",
             fmt(&a));
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
    printf("# unix full backlog, timeout 300 ms: %.1f ms\n", ms);
    while (n-- > 0)
        close(fds[n]);
    close(lfd);
    unlink(((struct sockaddr_un *)&a.ss)->sun_path);
}

typedef struct delayed_accept {
    int lfd;
    int ms;
    int afd;
} delayed_accept;

static void *accept_later(void *p)
{
    delayed_accept *d = p;
    struct timespec ts;
    ts.tv_sec = d->ms / 1000;
    ts.tv_nsec = (long)(d->ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
    d->afd = accept(d->lfd, NULL, NULL);
    return NULL;
}

/* EAGAIN on a full unix backlog is retried: once the server accepts one
 * connection, the waiting connect gets in. */
TEST(unix_backlog_frees_up)
{
    mcf_addr a;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(2000, 250);
    char err[512] = "";
    int fds[MAX_FILL], n, lfd = unix_listen("busy.sock", 0, &a);
    delayed_accept d;
    pthread_t th;

    if (lfd < 0 || (n = fill_unix(&a, fds)) < 0) {
        CHECKF(0, "cannot fill a unix backlog");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    d.lfd = lfd;
    d.ms = 100;
    d.afd = -1;
    CHECK(pthread_create(&th, NULL, accept_later, &d) == 0);
    l = list_of(1, &a);
    CHECK_RC(mcf_connect_addrs("ux", &l, &o, &c, err, sizeof err), 0);
    pthread_join(th, NULL);
    if (c.fd >= 0) {
        CHECKF(c.elapsed_ms >= 90, "%.1f ms", c.elapsed_ms);
        printf("# unix backlog freed after 100 ms: connected in %.1f ms\n", c.elapsed_ms);
        close(c.fd);
    }
    if (d.afd >= 0)
        close(d.afd);
    while (n-- > 0)
        close(fds[n]);
    close(lfd);
    unlink(((struct sockaddr_un *)&a.ss)->sun_path);
}

/* Three connects driven side by side from one poll loop through the state
 * machine (mcf_hev_*), as the engine does for the servers of one call: two
 * that hang (full backlogs) and one that works.  The good one completes
 * while the others are still pending, and the two hanging ones time out
 * together, not one after the other. */
TEST(state_machine_connects_in_parallel)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b1, b2;
    mcf_addr good;
    int lfd = tcp_listen("127.0.0.1", 16, &good);
    if (lfd < 0 || blackhole_open(&b1, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make the listeners");
        if (lfd >= 0)
            close(lfd);
        return;
    }
    if (blackhole_open(&b2, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make the second full-backlog listener");
        blackhole_close(&b1);
        close(lfd);
        return;
    }
    mcf_connect_opts o = opts(400, 250);
    mcf_addrlist l[3] = {list_of(1, &b1.addr), list_of(1, &good), list_of(1, &b2.addr)};
    static mcf_hev h[3];
    mcf_connected c[3];
    char err[3][512];
    int rc[3], done[3] = {0, 0, 0};
    double done_ms[3] = {0, 0, 0};
    int64_t t0 = mcf_now_us();
    for (int k = 0; k < 3; k++) {
        mcf_hev_start(&h[k], k == 1 ? "good" : "bh", &l[k], &o, t0, t0);
        rc[k] = MCF_IN_PROGRESS;
    }
    int pending_seen_after_good = 0;
    for (int rounds = 0; rounds < 10000 && (!done[0] || !done[1] || !done[2]); rounds++) {
        struct pollfd pfd[3 * MCF_MAX_ADDRS];
        size_t np = 0;
        int64_t wake = INT64_MAX, now = mcf_now_us();
        for (int k = 0; k < 3; k++) {
            if (done[k])
                continue;
            rc[k] = mcf_hev_step(&h[k], now, &c[k], err[k], sizeof err[k]);
            if (rc[k] != MCF_IN_PROGRESS) {
                done[k] = 1;
                done_ms[k] = (double)(mcf_now_us() - t0) / 1000.0;
                continue;
            }
            if (done[1])
                pending_seen_after_good = 1;
            int64_t w;
            np += mcf_hev_pollset(&h[k], pfd + np, 3 * MCF_MAX_ADDRS - np, &w);
            if (w < wake)
                wake = w;
        }
        if (done[0] && done[1] && done[2])
            break;
        now = mcf_now_us();
        poll(pfd, (nfds_t)np, wake > now ? (int)((wake - now + 999) / 1000) : 0);
    }
    CHECK_RC(rc[1], MCF_OK);
    CHECK_RC(rc[0], MCF_ERR_TIMEOUT);
    CHECK_RC(rc[2], MCF_ERR_TIMEOUT);
    CHECKF(pending_seen_after_good, "the hanging connects were not still pending after the good one");
    CHECKF(done_ms[1] < done_ms[0] && done_ms[1] < done_ms[2], "good %.1f ms, hanging %.1f / %.1f ms",
           done_ms[1], done_ms[0], done_ms[2]);
    /* One timeout for both, not two in a row. */
    CHECKF(done_ms[0] >= 395 && done_ms[2] >= 395 && done_ms[0] < 780 && done_ms[2] < 780,
           "hanging connects ended at %.1f and %.1f ms (400 ms timeout each, in parallel)",
           done_ms[0], done_ms[2]);
    CHECKF(strstr(err[0], "connect bh: 127.0.0.1:") == err[0] &&
               strstr(err[0], " timed out after ") != NULL,
           "message '%s'", err[0]);
    printf("# parallel: good %.1f ms, hanging %.1f and %.1f ms\n", done_ms[1], done_ms[0], done_ms[2]);
    if (rc[1] == MCF_OK)
        close(c[1].fd);
    blackhole_close(&b1);
    blackhole_close(&b2);
    close(lfd);
}

TEST(attempt_delay_then_second_address)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b;
    mcf_addr a[2];
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(3000, 100);
    char err[512] = "";
    int lfd;

    if (blackhole_open(&b, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make a full-backlog listener");
        return;
    }
    lfd = tcp_listen("127.0.0.1", 8, &a[1]);
    a[0] = b.addr;
    l = list_of(2, a);
    CHECK_RC(mcf_connect_addrs("delay", &l, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECKF(same(&c.addr, &a[1]), "won %s", fmt(&c.addr));
        /* The second attempt may not start before the attempt delay. */
        CHECKF(c.elapsed_ms >= 99, "%.1f ms", c.elapsed_ms);
        printf("# attempt delay 100 ms: second address won after %.1f ms\n", c.elapsed_ms);
        close(c.fd);
    }
    close(lfd);
    blackhole_close(&b);
}

TEST(attempt_delay_clamped_to_10ms)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b;
    mcf_addr a[2];
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(3000, 0);
    char err[512] = "";
    int lfd;

    if (blackhole_open(&b, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make a full-backlog listener");
        return;
    }
    lfd = tcp_listen("127.0.0.1", 8, &a[1]);
    a[0] = b.addr;
    l = list_of(2, a);
    CHECK_RC(mcf_connect_addrs("clamp", &l, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECKF(c.elapsed_ms >= 9.9, "%.2f ms", c.elapsed_ms);
        close(c.fd);
    }
    close(lfd);
    blackhole_close(&b);
}

/* Every address is in the message: timed out, refused, never started. */
TEST(message_lists_every_address)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b1, b2;
    mcf_addr a[4], r;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(300, 200);
    char err[1024] = "", want[1024];

    if (blackhole_open(&b1, "127.0.0.1") != 0 || blackhole_open(&b2, "127.0.0.1") != 0 ||
        refused_addr("127.0.0.1", &r) != 0) {
        CHECKF(0, "setup");
        return;
    }
    /* b1 starts at 0; r after the 200 ms delay, refused at once; b2 right
     * after that failure; the second b1 never (deadline at 300). */
    a[0] = b1.addr;
    a[1] = r;
    a[2] = b2.addr;
    a[3] = b1.addr;
    l = list_of(4, a);
    CHECK_RC(mcf_connect_addrs("mc-many", &l, &o, &c, err, sizeof err), MCF_ERR_TIMEOUT);
    {
        char head[512], tail[256];
        const char *p;
        snprintf(head, sizeof head,
                 "connect mc-many: %s timed out after 300 ms; %s connection refused; "
                 "%s timed out after ",
                 fmt(&a[0]), fmt(&a[1]), fmt(&a[2]));
        snprintf(tail, sizeof tail, " ms; %s not attempted (deadline)", fmt(&a[3]));
        /* b2's time depends on when the refusal was seen: about 100 ms. */
        p = err + strlen(head);
        CHECKF(strncmp(err, head, strlen(head)) == 0 && atoi(p) > 50 && atoi(p) <= 100 &&
                   strstr(p, tail) && strcmp(strstr(p, tail), tail) == 0,
               "message\n  '%s', want\n  '%s<about 100>%s'", err, head, tail);
        printf("# %s\n", err);
    }

    /* All refused before the deadline: MCF_ERR_CONNECT, each named. */
    {
        mcf_addr r2;
        mcf_addr rr[2];
        CHECK(refused_addr("127.0.0.1", &r2) == 0);
        rr[0] = r;
        rr[1] = r2;
        l = list_of(2, rr);
        CHECK_RC(mcf_connect_addrs("mc-dead", &l, &o, &c, err, sizeof err), MCF_ERR_CONNECT);
        snprintf(want, sizeof want,
                 "connect mc-dead: %s connection refused; %s connection refused", fmt(&r),
                 fmt(&r2));
        CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
    }
    blackhole_close(&b1);
    blackhole_close(&b2);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* poll() interrupted every 10 ms must neither end the wait early nor
 * restart the full timeout. */
TEST(eintr_keeps_deadline)
{
    SKIP_UNLESS(have_blackhole, NO_BLACKHOLE);
    blackhole b;
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(300, 250);
    char err[512] = "";
    struct sigaction sa, old;
    struct itimerval it, off;
    int64_t t0;
    double ms;

    if (blackhole_open(&b, "127.0.0.1") != 0) {
        CHECKF(0, "cannot make a full-backlog listener");
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: poll fails with EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    memset(&it, 0, sizeof it);
    it.it_interval.tv_usec = 10000;
    it.it_value.tv_usec = 10000;
    memset(&off, 0, sizeof off);
    alarms = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    l = list_of(1, &b.addr);
    t0 = mcf_now_us();
    CHECK_RC(mcf_connect_addrs("intr", &l, &o, &c, err, sizeof err), MCF_ERR_TIMEOUT);
    ms = (double)(mcf_now_us() - t0) / 1000.0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    CHECKF(ms >= 295 && ms < 2000, "%.1f ms", ms);
    CHECKF(alarms >= 5, "only %d signals", (int)alarms);
    printf("# %d signals during a 300 ms connect: %.1f ms\n", (int)alarms, ms);
    blackhole_close(&b);
}

/* The deadline covers name resolution: a resolver slower than the whole
 * timeout leaves nothing to attempt. */
TEST(deadline_includes_resolution)
{
    mcf_spec sp;
    mcf_connected c;
    mcf_connect_opts o = opts(200, 250);
    char err[512] = "";
    int lfd;
    mcf_addr a;

    lfd = tcp_listen("127.0.0.1", 8, &a);
    {
        char spec[64];
        snprintf(spec, sizeof spec, "mc.slow.test:%u", addr_port(&a));
        CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    }
    slow_resolver_ms = 300;
    CHECK_RC(mcf_connect(&sp, &o, &c, err, sizeof err), MCF_ERR_TIMEOUT);
    CHECK(c.fd == -1);
    CHECKF(strstr(err, "not attempted (deadline)") && strstr(err, "name resolution took"),
           "message: %s", err);
    printf("# %s\n", err);

    /* A slow but not too slow resolver: its time is in elapsed_ms. */
    slow_resolver_ms = 100;
    o.timeout_ms = 1000;
    CHECK_RC(mcf_connect(&sp, &o, &c, err, sizeof err), 0);
    if (c.fd >= 0) {
        CHECKF(c.elapsed_ms >= 99, "%.1f ms", c.elapsed_ms);
        close(c.fd);
    }
    close(lfd);
}

TEST(empty_and_bad_arguments)
{
    mcf_addrlist l;
    mcf_connected c;
    mcf_connect_opts o = opts(100, 10);
    char err[256] = "";
    memset(&l, 0, sizeof l);
    CHECK_RC(mcf_connect_addrs("none", &l, &o, &c, err, sizeof err), MCF_ERR_CONNECT);
    CHECK(c.fd == -1 && strstr(err, "connect none: ") == err);
    CHECK_RC(mcf_connect_addrs("none", NULL, &o, &c, err, sizeof err), MCF_ERR_ARG);
    CHECK_RC(mcf_connect(NULL, &o, &c, err, sizeof err), MCF_ERR_ARG);
    /* NULL opts: defaults; a NULL or tiny error buffer is fine. */
    {
        mcf_addr r;
        CHECK(refused_addr("127.0.0.1", &r) == 0);
        l = list_of(1, &r);
        CHECK_RC(mcf_connect_addrs("x", &l, NULL, &c, NULL, 0), MCF_ERR_CONNECT);
        CHECK_RC(mcf_connect_addrs("x", &l, NULL, &c, err, 5), MCF_ERR_CONNECT);
        CHECK(strlen(err) == 4);
    }
}

static int fds_at_start;

TEST(no_fd_leaks)
{
    int now = count_fds();
    CHECKF(now == fds_at_start, "%d fds open, %d at start", now, fds_at_start);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mcf-connect-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL: setup: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    fds_at_start = count_fds();
    have_v6 = v6_loopback_works();
    have_blackhole = blackhole_works();
    int rc = t_main(argc, argv);
    rmdir(tmpdir);
    return rc;
}
