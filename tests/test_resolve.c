/* test_resolve.c - the asynchronous resolver (src/resolve.c) on c-ares.
 *
 * Names are answered by a scripted DNS server on 127.0.0.1 (fakedns.h),
 * which every resolver here is pointed at with mcf_resolver_set_servers:
 * no query leaves the machine, and each test knows exactly what the
 * "network" does (answers, NXDOMAIN, SERVFAIL, silence, TCP-only answers,
 * late answers).  getifaddrs is interposed (the test binary's definition
 * wins at link time) so the family rule can be checked on scripted hosts
 * like the seed scenario's.  tests/t_resolve_netns.sh covers a real dead
 * DNS server and a namespace's own hosts file. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "fakedns.h"
#include "fake_ifaddrs.h"
#include "harness.h"
#include "mcfast.h"
#include "resolve.h"
#include "spec.h"

#define SLACK_MS 1200 /* generous: 2 cores, other agents testing too */
#define WAIT_MS 3000  /* for answers that come at once from loopback */

static struct dnsf_name names[] = {
    {"a.test", DNSF_ANSWER, {"192.0.2.10"}, 0, 0, {0}, 0},
    {"dual.test", DNSF_ANSWER, {"2001:db8::10", "192.0.2.10"}, 0, 0, {0}, 0},
    {"v6only.test", DNSF_ANSWER, {"2001:db8::99"}, 0, 0, {0}, 0},
    {"loop4.test", DNSF_ANSWER, {"127.0.0.1"}, 0, 0, {0}, 0},
    {"loop6.test", DNSF_ANSWER, {"::1"}, 0, 0, {0}, 0},
    {"mixed.test", DNSF_ANSWER,
     {"192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.3"}, 0, 0,
     {0}, 0},
    {"many.test", DNSF_ANSWER,
     {"2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5",
      "2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a",
      "2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e", "2001:db8::f",
      "2001:db8::10", "2001:db8::11", "2001:db8::12", "2001:db8::13", "2001:db8::14"},
     0, 0, {0}, 0},
    {"silent.test", DNSF_SILENT, {NULL}, 0, 0, {0}, 0},
    {"servfail.test", DNSF_SERVFAIL, {NULL}, 0, 0, {0}, 0},
    {"tc.test", DNSF_TRUNCATE, {"192.0.2.77"}, 0, 0, {0}, 0},
    {"late.test", DNSF_LATE, {"192.0.2.33"}, 0, 0, {0}, 0},
    {"ttl.test", DNSF_ANSWER, {"192.0.2.7", "2001:db8::7"}, 0, 0, {0}, 7},
};

static struct dnsf_server dns;

/* ---- scripted interfaces -------------------------------------------- */

enum { IFA_REAL, IFA_SEED, IFA_V4_ONLY, IFA_NO_V4 };
static int ifa_mode;

static fake_if fake_ifs[3];

/* IFA_SEED: lo 127.0.0.1 and ::1, eth0 a global IPv6 (the seed host).
 * IFA_V4_ONLY: lo 127.0.0.1, eth0 192.0.2.5, IPv6 switched off entirely.
 * IFA_NO_V4: lo ::1, eth0 2001:db8::5, no IPv4 at all (not even lo). */
int getifaddrs(struct ifaddrs **out)
{
    if (ifa_mode == IFA_REAL) {
        int (*real)(struct ifaddrs **);
        void *sym = dlsym(RTLD_NEXT, "getifaddrs");
        if (!sym)
            return -1;
        memcpy(&real, &sym, sizeof real);
        return real(out);
    }
    if (ifa_mode == IFA_SEED) {
        fake_if_set(&fake_ifs[0], "lo", "127.0.0.1", &fake_ifs[1]);
        fake_if_set(&fake_ifs[1], "lo", "::1", &fake_ifs[2]);
        fake_if_set(&fake_ifs[2], "eth0", "2001:db8::5", NULL);
    } else if (ifa_mode == IFA_V4_ONLY) {
        fake_if_set(&fake_ifs[0], "lo", "127.0.0.1", &fake_ifs[1]);
        fake_if_set(&fake_ifs[1], "eth0", "192.0.2.5", NULL);
    } else {
        fake_if_set(&fake_ifs[0], "lo", "::1", &fake_ifs[1]);
        fake_if_set(&fake_ifs[1], "eth0", "2001:db8::5", NULL);
    }
    *out = &fake_ifs[0].ifa;
    return 0;
}

void freeifaddrs(struct ifaddrs *ifa)
{
    void (*real)(struct ifaddrs *);
    void *sym;
    if (ifa == &fake_ifs[0].ifa)
        return;
    sym = dlsym(RTLD_NEXT, "freeifaddrs");
    if (!sym)
        abort();
    memcpy(&real, &sym, sizeof real);
    real(ifa);
}

/* ---- helpers --------------------------------------------------------- */

static mcf_spec spec_of(const char *text)
{
    mcf_spec s;
    char err[256];
    if (mcf_spec_parse(text, strlen(text), &s, err, sizeof err) != 0) {
        printf("# bad spec in test: %s\n", err);
        abort();
    }
    return s;
}

/* A resolver that asks the scripted server only. */
static mcf_resolver *fake_resolver(void)
{
    mcf_resolver *r = mcf_resolver_new();
    if (!r || mcf_resolver_set_servers(r, dns.csv) != MCF_OK)
        abort();
    return r;
}

static const char *fmt(const mcf_addr *a)
{
    static char buf[8][MCF_ADDRSTR_MAX];
    static int k;
    k = (k + 1) % 8;
    mcf_addr_format(a, buf[k], sizeof buf[k]);
    return buf[k];
}

static const char *fmt_list(const mcf_addrlist *l)
{
    static char buf[2048];
    size_t i, used = 0;
    buf[0] = '\0';
    for (i = 0; i < l->n && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? " " : "",
                                 fmt(&l->addr[i]));
    return buf;
}

static int has_addr(const mcf_addrlist *l, const char *want)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        if (strcmp(fmt(&l->addr[i]), want) == 0)
            return 1;
    return 0;
}

/* Families alternate as long as both remain (RFC 8305 §4). */
static int interleaved(const mcf_addrlist *l)
{
    size_t i, left[2] = {0, 0};
    for (i = 0; i < l->n; i++)
        left[l->addr[i].family == AF_INET6]++;
    for (i = 0; i + 1 < l->n; i++) {
        int f = l->addr[i].family == AF_INET6;
        left[f]--;
        if (l->addr[i + 1].family == l->addr[i].family && left[!f] > 0)
            return 0;
    }
    return 1;
}

static int open_fds(void)
{
    int n = 0, fd;
    for (fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static double ms_since(int64_t t0)
{
    return (double)(mcf_now_us() - t0) / 1000.0;
}

/* Resolves text on r, waiting up to WAIT_MS. */
static int lookup(mcf_resolver *r, const char *text, mcf_lookup *q)
{
    mcf_spec s = spec_of(text);
    mcf_lookup_start(r, &s, q);
    return mcf_lookup_wait(r, q, WAIT_MS);
}

/* ---- cases ----------------------------------------------------------- */

TEST(local_answers_at_once)
{
    static const struct {
        const char *spec, *want, *source;
    } cases[] = {
        {"127.0.0.1:11300", "127.0.0.1:11300", "literal"},
        {"[::1]:11212", "[::1]:11212", "literal"},
        {"2001:db8::1", "[2001:db8::1]:11211", "literal"},
        {"[fe80::1%1]:5", "fe80::1", "literal"},
        {"localhost:7", "[::1]:7 127.0.0.1:7", "localhost"},
        {"LocalHost.:7", "[::1]:7 127.0.0.1:7", "localhost"},
        {"/tmp/mcfast-resolve.sock", "/tmp/mcfast-resolve.sock", "unix"},
    };
    mcf_resolver *r = fake_resolver();
    int fds0 = open_fds();
    size_t i;

    dnsf_reset_counts(&dns);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcf_spec s = spec_of(cases[i].spec);
        mcf_lookup q;
        CHECK_RC(mcf_lookup_start(r, &s, &q), MCF_OK);
        CHECKF(q.done && q.rc == MCF_OK, "%s: done %d rc %d: %s", cases[i].spec, q.done, q.rc,
               q.err);
        CHECKF(strstr(fmt_list(&q.list), cases[i].want) != NULL, "%s: %s, want %s",
               cases[i].spec, fmt_list(&q.list), cases[i].want);
        CHECKF(q.list.source && strcmp(q.list.source, cases[i].source) == 0, "%s: source %s",
               cases[i].spec, q.list.source ? q.list.source : "(null)");
        CHECKF(q.ttl_s == MCF_TTL_NONE, "%s: ttl %d", cases[i].spec, q.ttl_s);
        /* Without a resolver too. */
        CHECK_RC(mcf_lookup_start(NULL, &s, &q), MCF_OK);
        CHECK(q.done && q.rc == MCF_OK && q.list.n >= 1);
    }
    {
        int64_t timer = 0;
        struct pollfd p[MCF_RESOLVER_MAX_FDS];
        CHECK(mcf_resolver_pollset(r, p, MCF_RESOLVER_MAX_FDS, &timer) == 0);
        CHECK(timer == INT64_MAX);
        CHECK(!mcf_resolver_busy(r));
    }
    /* No channel was made: no descriptor, no query. */
    CHECKF(open_fds() == fds0, "%d descriptors open, %d before", open_fds(), fds0);
    CHECK(dnsf_queries(&dns, "a.test", NULL) == 0 && dns.unknown_queries == 0);
    mcf_resolver_free(r);
}

TEST(local_errors_at_once)
{
    mcf_resolver *r = fake_resolver();
    mcf_spec s = spec_of("[fe80::1%nosuchif9]:11211");
    mcf_lookup q;

    CHECK_RC(mcf_lookup_start(r, &s, &q), MCF_ERR_RESOLVE);
    CHECK(q.done && q.rc == MCF_ERR_RESOLVE);
    CHECKF(strstr(q.err, "resolve [fe80::1%nosuchif9]:11211: ") == q.err &&
               strstr(q.err, "nosuchif9'"),
           "%s", q.err);
    CHECK_RC(mcf_lookup_start(r, NULL, &q), MCF_ERR_RESOLVE);
    CHECK(q.done);
    mcf_resolver_free(r);
}

/* A name of this machine's /etc/hosts, other than localhost; its IPs in want. */
static int hosts_name(char *name, size_t len, char want[][INET6_ADDRSTRLEN], size_t *nwant)
{
    FILE *f = fopen("/etc/hosts", "re");
    char line[512];
    int found = 0;

    *nwant = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        char *save = NULL, *ip, *tok;
        unsigned char bin[16];
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        ip = strtok_r(line, " \t\r\n", &save);
        if (!ip || (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1))
            continue;
        while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
            if (!found && strncasecmp(tok, "localhost", 9) != 0 &&
                strncasecmp(tok, "ip6-", 4) != 0 && strlen(tok) < len && !strchr(tok, '%')) {
                snprintf(name, len, "%s", tok);
                found = 1;
            }
            if (found && strcasecmp(tok, name) == 0 && *nwant < 8)
                snprintf(want[(*nwant)++], INET6_ADDRSTRLEN, "%s", ip);
        }
    }
    fclose(f);
    return found;
}

TEST(hosts_file_name_at_once)
{
    char name[256], text[300], want[8][INET6_ADDRSTRLEN];
    size_t nwant, i;
    mcf_resolver *r = fake_resolver();
    mcf_spec s;
    mcf_lookup q;

    if (!hosts_name(name, sizeof name, want, &nwant)) {
        mcf_resolver_free(r);
        t_skip_case("/etc/hosts lists no name besides localhost");
        return;
    }
    snprintf(text, sizeof text, "%s:11211", name);
    s = spec_of(text);
    dnsf_reset_counts(&dns);
    CHECK_RC(mcf_lookup_start(r, &s, &q), MCF_OK);
    CHECKF(q.done && q.rc == MCF_OK, "%s: done %d rc %d %s", text, q.done, q.rc, q.err);
    CHECK(q.list.source && strcmp(q.list.source, MCF_SOURCE_CARES) == 0);
    CHECKF(q.ttl_s == MCF_TTL_HOSTS, "ttl %d for a hosts-file answer", q.ttl_s);
    for (i = 0; i < nwant; i++) {
        char a[INET6_ADDRSTRLEN + 16];
        snprintf(a, sizeof a, strchr(want[i], ':') ? "[%s]:11211" : "%s:11211", want[i]);
        CHECKF(has_addr(&q.list, a), "%s: %s missing from %s", text, a, fmt_list(&q.list));
    }
    CHECKF(dns.unknown_queries == 0, "%d DNS queries for a hosts-file name",
           dns.unknown_queries);
    printf("# %s -> %s\n", text, fmt_list(&q.list));
    mcf_resolver_free(r);
}

/* The answer's TTL comes out of c-ares: the smallest of its records. */
TEST(dns_ttl)
{
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    CHECK_RC(lookup(r, "ttl.test:11211", &q), MCF_OK);
    CHECKF(q.ttl_s == 7, "ttl %d, want 7", q.ttl_s);
    dnsf_set(&dns, "ttl.test", DNSF_ANSWER, "192.0.2.8");
    CHECK_RC(lookup(r, "ttl.test:11211", &q), MCF_OK);
    CHECKF(q.list.n == 1 && has_addr(&q.list, "192.0.2.8:11211"), "%s after the change",
           fmt_list(&q.list));
    CHECK_RC(lookup(r, "a.test:11211", &q), MCF_OK);
    CHECKF(q.ttl_s == DNSF_TTL, "ttl %d, want %d", q.ttl_s, DNSF_TTL);
    mcf_resolver_free(r);
}

TEST(dns_name)
{
    mcf_resolver *r = fake_resolver();
    mcf_spec s = spec_of("a.test:4242");
    mcf_lookup q;
    struct pollfd p[MCF_RESOLVER_MAX_FDS];
    int64_t timer, now;
    size_t n, i;
    int fds0 = open_fds();

    CHECK_RC(mcf_lookup_start(r, &s, &q), MCF_OK);
    CHECK(!q.done);
    CHECK(mcf_resolver_busy(r));
    now = mcf_now_us();
    n = mcf_resolver_pollset(r, p, MCF_RESOLVER_MAX_FDS, &timer);
    CHECKF(n >= 1, "pollset: %zu descriptors", n);
    CHECKF(timer > now && timer < now + (int64_t)120 * 1000000, "timer %lld us from now",
           (long long)(timer - now));
    for (i = 0; i < n; i++) {
        CHECK(p[i].events & POLLIN);
        /* Our socket functions: close-on-exec and non-blocking from socket(). */
        CHECKF(fcntl(p[i].fd, F_GETFD) & FD_CLOEXEC, "fd %d without FD_CLOEXEC", p[i].fd);
        CHECKF(fcntl(p[i].fd, F_GETFL) & O_NONBLOCK, "fd %d blocking", p[i].fd);
    }
    CHECK_RC(mcf_lookup_wait(r, &q, WAIT_MS), MCF_OK);
    CHECK(q.done && q.list.n == 1);
    CHECKF(strcmp(fmt_list(&q.list), "192.0.2.10:4242") == 0, "%s", fmt_list(&q.list));
    CHECK(q.list.source && strcmp(q.list.source, MCF_SOURCE_CARES) == 0);
    CHECK(q.task == NULL);
    CHECK(!mcf_resolver_busy(r));
    CHECK(mcf_resolver_pollset(r, p, MCF_RESOLVER_MAX_FDS, &timer) == 0 && timer == INT64_MAX);
    mcf_resolver_free(r);
    CHECKF(open_fds() == fds0, "%d descriptors open after free, %d before", open_fds(), fds0);
}

TEST(dns_both_families_dedup_interleave_cap)
{
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    CHECK_RC(lookup(r, "dual.test:80", &q), MCF_OK);
    CHECKF(q.list.n == 2 && has_addr(&q.list, "[2001:db8::10]:80") &&
               has_addr(&q.list, "192.0.2.10:80"),
           "%s", fmt_list(&q.list));
    /* 4 4 6 4(dup) 6 4: five distinct, families alternating. */
    CHECK_RC(lookup(r, "mixed.test:80", &q), MCF_OK);
    CHECKF(q.list.n == 5 && interleaved(&q.list), "%s", fmt_list(&q.list));
    CHECK(has_addr(&q.list, "192.0.2.3:80") && has_addr(&q.list, "[2001:db8::2]:80"));
    CHECK_RC(lookup(r, "many.test:80", &q), MCF_OK);
    CHECKF(q.list.n == MCF_MAX_ADDRS, "%zu addresses", q.list.n);
    mcf_resolver_free(r);
}

TEST(no_such_name)
{
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    CHECK_RC(lookup(r, "nosuch.test:11211", &q), MCF_ERR_RESOLVE);
    CHECKF(strncmp(q.err, "resolve nosuch.test:11211: no such name (c-ares: ", 49) == 0,
           "%s", q.err);
    CHECK(q.list.n == 0);
    mcf_resolver_free(r);
}

TEST(server_failure)
{
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    CHECK_RC(lookup(r, "servfail.test:11211", &q), MCF_ERR_RESOLVE);
    /* c-ares 1.18 moves on after SERVFAIL and, out of servers, reports
     * ARES_ECONNREFUSED; newer ones say ARES_ESERVFAIL.  Either way the
     * message must blame the server, not the name. */
    CHECKF(strstr(q.err, "resolve servfail.test:11211: ") == q.err &&
               (strstr(q.err, "failing") || strstr(q.err, "SERVFAIL")) &&
               !strstr(q.err, "no such name"),
           "%s", q.err);
    mcf_resolver_free(r);
}

/* c-ares giving up by itself (resolv.conf-style options via RES_OPTIONS,
 * read when the channel is made): the message must say the server did not
 * answer, not that the name does not exist. */
TEST(server_timeout_message)
{
    mcf_resolver *r;
    mcf_lookup q;
    int64_t t0;

    setenv("RES_OPTIONS", "retrans:200 retry:1", 1);
    r = fake_resolver();
    dnsf_reset_counts(&dns);
    t0 = mcf_now_us();
    CHECK_RC(lookup(r, "silent.test:11211", &q), MCF_ERR_RESOLVE);
    unsetenv("RES_OPTIONS");
    CHECKF(strcmp(q.err, "resolve silent.test:11211: DNS server did not answer (c-ares: "
                         "Timeout while contacting DNS servers)") == 0,
           "%s", q.err);
    CHECKF(ms_since(t0) < WAIT_MS, "took %.0f ms", ms_since(t0));
    /* One query per family, one try: no retry of any kind. */
    CHECKF(dnsf_queries(&dns, "silent.test", NULL) == 2, "%d queries, want A + AAAA",
           dnsf_queries(&dns, "silent.test", NULL));
    mcf_resolver_free(r);
}

TEST(deadline_loop)
{
    mcf_resolver *r = fake_resolver();
    mcf_spec s = spec_of("silent.test:11211");
    mcf_lookup q;
    int64_t t0 = mcf_now_us();
    double ms;
    struct pollfd p[MCF_RESOLVER_MAX_FDS];
    int64_t timer;

    mcf_lookup_start(r, &s, &q);
    CHECK(!q.done);
    CHECK_RC(mcf_lookup_wait(r, &q, 300), MCF_ERR_RESOLVE);
    ms = ms_since(t0);
    CHECKF(ms >= 290 && ms < 300 + SLACK_MS, "returned after %.0f ms", ms);
    CHECKF(strcmp(q.err, "resolve silent.test:11211: DNS server did not answer within 300 ms") ==
               0,
           "%s", q.err);
    CHECK(q.done && q.task == NULL && q.list.n == 0);
    /* Nothing pending any more: c-ares's queries were cancelled. */
    CHECK(!mcf_resolver_busy(r));
    CHECK(mcf_resolver_pollset(r, p, MCF_RESOLVER_MAX_FDS, &timer) == 0 && timer == INT64_MAX);
    mcf_resolver_free(r);

    /* The blocking form, on the same dead server. */
    {
        t0 = mcf_now_us();
        r = fake_resolver();
        mcf_lookup_start(r, &s, &q);
        CHECK_RC(mcf_lookup_wait(r, &q, 0), MCF_ERR_RESOLVE);
        CHECKF(ms_since(t0) < SLACK_MS, "timeout 0 took %.0f ms", ms_since(t0));
        mcf_resolver_free(r);
    }
}

/* A cancelled lookup is never written, even when c-ares answers later or
 * is destroyed with its query still out. */
TEST(cancel)
{
    mcf_resolver *r = fake_resolver();
    mcf_spec dead = spec_of("silent.test:1"), late = spec_of("late.test:2");
    mcf_lookup q1, q2, snap;
    mcf_lookup *heap = malloc(sizeof *heap);

    if (!heap)
        abort();
    mcf_lookup_start(r, &dead, &q1);
    mcf_lookup_start(r, &late, heap);
    CHECK(!q1.done && !heap->done);
    mcf_lookup_cancel(r, &q1);
    mcf_lookup_cancel(r, heap);
    free(heap); /* a write to it now would be a use after free (ASan, valgrind) */
    CHECK(!mcf_resolver_busy(r));
    memcpy(&snap, &q1, sizeof snap);

    /* Another lookup drives the channel while late.test's answer arrives
     * for the cancelled one. */
    CHECK_RC(lookup(r, "late.test:3", &q2), MCF_OK);
    CHECKF(strcmp(fmt_list(&q2.list), "192.0.2.33:3") == 0, "%s", fmt_list(&q2.list));
    CHECK(memcmp(&q1, &snap, sizeof q1) == 0);
    CHECK(!q1.done && q1.task == NULL);

    /* Cancelling what is done or never started changes nothing. */
    mcf_lookup_cancel(r, &q2);
    CHECK(q2.done && q2.rc == MCF_OK && q2.list.n == 1);
    mcf_lookup_cancel(NULL, &q2);

    /* Freed with a lookup out: it is never written either. */
    mcf_lookup_start(r, &dead, &q1);
    memcpy(&snap, &q1, sizeof snap);
    mcf_resolver_free(r);
    CHECK(memcmp(&q1, &snap, sizeof q1) == 0);
}

/* Truncated UDP answer: c-ares asks again over TCP, through our socket
 * functions (connect, sendmsg, recvfrom on a stream). */
TEST(tcp_fallback)
{
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    CHECK_RC(lookup(r, "tc.test:11211", &q), MCF_OK);
    CHECKF(strcmp(fmt_list(&q.list), "192.0.2.77:11211") == 0, "%s: %s", fmt_list(&q.list),
           q.err);
    mcf_resolver_free(r);
}

TEST(family_rule)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    mcf_resolver *r = fake_resolver();
    mcf_lookup q;

    /* The rule itself. */
    memset(&v4, 0, sizeof v4);
    memset(&v6, 0, sizeof v6);
    v4.sin_family = AF_INET;
    v6.sin6_family = AF_INET6;
    inet_pton(AF_INET, "192.0.2.1", &v4.sin_addr);
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    CHECK(mcf_addr_keep((struct sockaddr *)&v4, MCF_FAM_V4));
    CHECK(!mcf_addr_keep((struct sockaddr *)&v4, MCF_FAM_V6));
    CHECK(mcf_addr_keep((struct sockaddr *)&v6, MCF_FAM_V6));
    CHECK(!mcf_addr_keep((struct sockaddr *)&v6, MCF_FAM_V4));
    inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
    CHECK(mcf_addr_keep((struct sockaddr *)&v4, 0)); /* loopback is never dropped */
    inet_pton(AF_INET, "127.1.2.3", &v4.sin_addr);
    CHECK(mcf_addr_keep((struct sockaddr *)&v4, MCF_FAM_V6));
    v6.sin6_addr = in6addr_loopback;
    CHECK(mcf_addr_keep((struct sockaddr *)&v6, 0));

    /* The seed host: IPv4 only on loopback.  It still has IPv4, so nothing
     * is dropped (glibc's AI_ADDRCONFIG would drop every A answer). */
    ifa_mode = IFA_SEED;
    CHECK(mcf_host_families() == (MCF_FAM_V4 | MCF_FAM_V6));
    CHECK_RC(lookup(r, "dual.test:1", &q), MCF_OK);
    CHECKF(q.list.n == 2, "%s", fmt_list(&q.list));
    CHECK(strcmp(q.list.source, MCF_SOURCE_CARES) == 0);
    CHECK_RC(lookup(r, "loop4.test:1", &q), MCF_OK);
    CHECKF(strcmp(fmt_list(&q.list), "127.0.0.1:1") == 0, "%s", fmt_list(&q.list));

    /* IPv6 switched off: AAAA answers are dropped, except ::1. */
    ifa_mode = IFA_V4_ONLY;
    CHECK(mcf_host_families() == MCF_FAM_V4);
    CHECK_RC(lookup(r, "dual.test:1", &q), MCF_OK);
    CHECKF(strcmp(fmt_list(&q.list), "192.0.2.10:1") == 0, "%s", fmt_list(&q.list));
    CHECKF(strcmp(q.list.source, MCF_SOURCE_CARES_NO_V6) == 0, "%s", q.list.source);
    CHECK_RC(lookup(r, "v6only.test:1", &q), MCF_ERR_RESOLVE);
    CHECKF(strcmp(q.err, "resolve v6only.test:1: only IPv6 addresses, and this host has no "
                         "IPv6 address") == 0,
           "%s", q.err);
    CHECK_RC(lookup(r, "loop6.test:1", &q), MCF_OK);
    CHECKF(strcmp(fmt_list(&q.list), "[::1]:1") == 0, "%s", fmt_list(&q.list));

    /* No IPv4 anywhere, not even on lo. */
    ifa_mode = IFA_NO_V4;
    CHECK_RC(lookup(r, "a.test:1", &q), MCF_ERR_RESOLVE);
    CHECKF(strstr(q.err, "only IPv4 addresses, and this host has no IPv4 address"), "%s", q.err);
    CHECK_RC(lookup(r, "loop4.test:1", &q), MCF_OK);
    CHECK(q.list.n == 1);
    ifa_mode = IFA_REAL;
    mcf_resolver_free(r);
}

/* A child must not use its parent's c-ares sockets: it would read the
 * parent's answers.  It starts its pending lookup again on a socket of its
 * own; both processes get their answer. */
TEST(fork_child_uses_own_socket)
{
    mcf_resolver *r = fake_resolver();
    mcf_spec s = spec_of("late.test:9");
    mcf_lookup q;
    int status = -1, i, distinct = 0;
    pid_t pid;

    dnsf_reset_counts(&dns);
    mcf_lookup_start(r, &s, &q);
    CHECK(!q.done);
    for (i = 0; i < 100 && dnsf_queries(&dns, "late.test", NULL) == 0; i++)
        usleep(10000);
    CHECK(dnsf_queries(&dns, "late.test", NULL) >= 1);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int rc = mcf_lookup_wait(r, &q, WAIT_MS);
        int ok = rc == MCF_OK && q.list.n == 1 && strcmp(fmt(&q.list.addr[0]), "192.0.2.33:9") == 0;
        mcf_resolver_free(r);
        _exit(ok ? 0 : rc == MCF_OK ? 2 : 3);
    }
    CHECK(pid > 0);
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
    CHECK_RC(mcf_lookup_wait(r, &q, WAIT_MS), MCF_OK);
    CHECKF(strcmp(fmt_list(&q.list), "192.0.2.33:9") == 0, "parent: %s %s", fmt_list(&q.list),
           q.err);
    dnsf_queries(&dns, "late.test", &distinct);
    CHECKF(distinct >= 2, "queries came from %d source port(s): the child reused its "
                          "parent's socket", distinct);
    mcf_resolver_free(r);
}

/* Out of descriptors when c-ares opens its socket: MCF_ERR_RESOURCE, not
 * "DNS server unreachable".  In a child, whose descriptor limit we lower. */
TEST(out_of_descriptors)
{
    int status = -1;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        mcf_resolver *r = fake_resolver();
        mcf_lookup q;
        struct rlimit rl;
        int fillers[1024], nf = 0, code = 0, i, top = 0, fd;

        if (lookup(r, "a.test:1", &q) != MCF_OK) /* the channel exists */
            _exit(10);
        /* Same servers again: c-ares closes its idle socket, so the next
         * query must open one. */
        if (mcf_resolver_set_servers(r, dns.csv) != MCF_OK)
            _exit(11);
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(12);
        for (fd = 0; fd < 1024; fd++)
            if (fcntl(fd, F_GETFD) != -1)
                top = fd;
        /* A few above the highest descriptor in use, then fill every gap. */
        rl.rlim_cur = (rlim_t)top + 1 + 4;
        if (rl.rlim_cur > rl.rlim_max || setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(13);
        while (nf < 1024) {
            fd = dup(0);
            if (fd < 0)
                break;
            fillers[nf++] = fd;
        }
        if (errno != EMFILE)
            _exit(14);
        if (lookup(r, "a.test:1", &q) != MCF_ERR_RESOURCE)
            code = 20 + (q.rc & 0xf);
        else if (!strstr(q.err, strerror(EMFILE)))
            code = 40;
        for (i = 0; i < nf; i++)
            close(fillers[i]);
        if (!code && lookup(r, "a.test:1", &q) != MCF_OK)
            code = 50; /* recovers once descriptors are back */
        mcf_resolver_free(r);
        _exit(code);
    }
    CHECK(pid > 0);
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "child: status %d (exit %d: 10-14 setup, 2x wrong code, 40 message, 50 no recovery)",
           status, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

TEST(blocking_resolve_local)
{
    mcf_spec s = spec_of("127.0.0.1:5");
    mcf_addrlist l;
    char err[256] = "";

    CHECK_RC(mcf_resolve_timeout(&s, &l, 100, err, sizeof err), MCF_OK);
    CHECK(l.n == 1 && strcmp(fmt(&l.addr[0]), "127.0.0.1:5") == 0);
    CHECK_RC(mcf_resolve(&s, &l, err, sizeof err), MCF_OK);
    CHECK_RC(mcf_resolve_timeout(NULL, &l, 100, err, sizeof err), MCF_ERR_RESOLVE);
    CHECK(strcmp(err, "resolve: no spec") == 0);
}

int main(int argc, char **argv)
{
    if (!dnsf_start_or_skip(&dns, names, sizeof names / sizeof names[0]))
        return t_main(argc, argv);
    int rc = t_main(argc, argv);
    dnsf_stop(&dns);
    return rc;
}
