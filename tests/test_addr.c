/* test_addr.c - resolution of specs into addresses, interleaving and formatting (src/addr.c).
 *
 * getaddrinfo/freeaddrinfo and getifaddrs/freeifaddrs are interposed here
 * (the test binary's definitions win over libc's at link time) to count
 * resolver calls, to prove literals and "localhost" never reach the
 * resolver, and to script what AI_ADDRCONFIG does on a host like the seed
 * scenario's, which this machine need not be.  Names not under ".test" go
 * to the real resolver; interfaces are real unless a case fakes them.
 * tests/t_netns.sh covers the same on real namespaces. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "harness.h"
#include "test_addrs.h"
#include "mcfast.h"
#include "spec.h"

/* ---- scripted resolver ---------------------------------------------- */

static int gai_calls;
static int gai_flags[8];
static int gai_fail_addrconfig; /* error to return when AI_ADDRCONFIG is set; 0: none */
static int gai_empty_addrconfig; /* answer nothing (rc 0) when AI_ADDRCONFIG is set */
static int gai_fail_always;      /* error to return for every .test call; 0: none */
static int gai_fail_plain;       /* error to return without AI_ADDRCONFIG; 0: none */
static int gai_narrow_to;        /* with AI_ADDRCONFIG keep only this family, as glibc
                                    does on a host with one non-loopback family */
static struct addrinfo *fake_heads[16];

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static struct addrinfo *fake_node(const char *ip)
{
    struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
    struct sockaddr_in *sin = (struct sockaddr_in *)(ai + 1);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(ai + 1);
    if (!ai)
        abort();
    ai->ai_socktype = SOCK_STREAM;
    ai->ai_protocol = IPPROTO_TCP;
    ai->ai_addr = (struct sockaddr *)(ai + 1);
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        ai->ai_family = AF_INET;
        ai->ai_addrlen = sizeof *sin;
    } else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        ai->ai_family = AF_INET6;
        ai->ai_addrlen = sizeof *sin6;
    } else {
        abort();
    }
    return ai;
}

/* Answers for the scripted names, in resolver order. */
static const char *const *fake_answer(const char *node)
{
    static const char *const dual[] = {"2001:db8::99", "127.0.0.1", NULL};
    static const char *const v6only[] = {"2001:db8::99", NULL};
    static const char *const mixed[] = {"192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.1",
                                        "2001:db8::2", "192.0.2.3", NULL};
    static const char *const many[] = {
        "2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5",
        "2001:db8::6", "2001:db8::7", "2001:db8::8", "2001:db8::9", "2001:db8::a",
        "2001:db8::b", "2001:db8::c", "2001:db8::d", "2001:db8::e", "2001:db8::f",
        "2001:db8::10", "2001:db8::11", "2001:db8::12", "2001:db8::13", "2001:db8::14",
        NULL};
    if (strcmp(node, "mixed.test") == 0)
        return mixed;
    if (strcmp(node, "many.test") == 0)
        return many;
    if (strcmp(node, "v6only.test") == 0)
        return v6only;
    return dual;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int flags = hints ? hints->ai_flags : 0;
    const char *const *ips;
    struct addrinfo *head = NULL, **tail = &head;
    size_t i;

    if (!node || !ends_with(node, ".test")) {
        int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
        void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
        if (!sym)
            return EAI_FAIL;
        memcpy(&real, &sym, sizeof real);
        gai_calls++;
        return real(node, service, hints, res);
    }
    if (gai_calls < 8)
        gai_flags[gai_calls] = flags;
    gai_calls++;
    if (gai_fail_always)
        return gai_fail_always;
    if ((flags & AI_ADDRCONFIG) && gai_fail_addrconfig)
        return gai_fail_addrconfig;
    if (!(flags & AI_ADDRCONFIG) && gai_fail_plain)
        return gai_fail_plain;
    if ((flags & AI_ADDRCONFIG) && gai_empty_addrconfig) {
        *res = NULL;
        return 0;
    }
    for (ips = fake_answer(node); *ips; ips++) {
        int fam = strchr(*ips, ':') ? AF_INET6 : AF_INET;
        if ((flags & AI_ADDRCONFIG) && gai_narrow_to && fam != gai_narrow_to)
            continue;
        *tail = fake_node(*ips);
        tail = &(*tail)->ai_next;
    }
    if (!head)
        return EAI_NONAME;
    for (i = 0; i < sizeof fake_heads / sizeof fake_heads[0]; i++) {
        if (!fake_heads[i]) {
            fake_heads[i] = head;
            break;
        }
    }
    *res = head;
    return 0;
}

void freeaddrinfo(struct addrinfo *ai)
{
    size_t i;
    for (i = 0; ai && i < sizeof fake_heads / sizeof fake_heads[0]; i++) {
        if (fake_heads[i] == ai) {
            fake_heads[i] = NULL;
            while (ai) {
                struct addrinfo *next = ai->ai_next;
                free(ai);
                ai = next;
            }
            return;
        }
    }
    {
        void (*real)(struct addrinfo *);
        void *sym = dlsym(RTLD_NEXT, "freeaddrinfo");
        if (!sym)
            abort();
        memcpy(&real, &sym, sizeof real);
        real(ai);
    }
}

/* ---- scripted interfaces ------------------------------------------- */

enum { IFA_REAL, IFA_V6_ONLY, IFA_DUAL };
static int ifa_mode;
static int ifa_calls;

typedef struct fake_if {
    struct ifaddrs ifa;
    struct sockaddr_storage ss;
} fake_if;
static fake_if fake_ifs[3];

static void fake_if_set(fake_if *f, const char *name, const char *ip, fake_if *next)
{
    memset(f, 0, sizeof *f);
    f->ifa.ifa_name = (char *)name;
    f->ifa.ifa_addr = (struct sockaddr *)&f->ss;
    f->ifa.ifa_next = next ? &next->ifa : NULL;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&f->ss;
        s->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s->sin6_addr);
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&f->ss;
        s->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s->sin_addr);
    }
}

/* IFA_V6_ONLY is the seed host: lo 127.0.0.1 and ::1, eth0 a global IPv6. */
int getifaddrs(struct ifaddrs **out)
{
    ifa_calls++;
    if (ifa_mode == IFA_REAL) {
        int (*real)(struct ifaddrs **);
        void *sym = dlsym(RTLD_NEXT, "getifaddrs");
        if (!sym)
            return -1;
        memcpy(&real, &sym, sizeof real);
        return real(out);
    }
    fake_if_set(&fake_ifs[0], "lo", "127.0.0.1", &fake_ifs[1]);
    fake_if_set(&fake_ifs[1], "lo", "::1", &fake_ifs[2]);
    fake_if_set(&fake_ifs[2], "eth0", ifa_mode == IFA_V6_ONLY ? "2001:db8::5" : "192.0.2.5",
                NULL);
    if (ifa_mode == IFA_DUAL) {
        /* dual: lo, eth0 192.0.2.5 and eth0 2001:db8::5 */
        fake_if_set(&fake_ifs[1], "eth0", "2001:db8::5", &fake_ifs[2]);
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

static void gai_reset(void)
{
    gai_calls = 0;
    memset(gai_flags, 0, sizeof gai_flags);
    gai_fail_addrconfig = 0;
    gai_empty_addrconfig = 0;
    gai_fail_always = 0;
    gai_fail_plain = 0;
    gai_narrow_to = 0;
    ifa_mode = IFA_REAL;
    ifa_calls = 0;
}

/* ---- helpers --------------------------------------------------------- */

static int resolve(const char *spec, mcf_addrlist *l, char *err, size_t errlen)
{
    mcf_spec sp;
    int rc = mcf_spec_parse(spec, strlen(spec), &sp, err, errlen);
    if (rc)
        return rc;
    return mcf_resolve(&sp, l, err, errlen);
}

static const char *fmt(const mcf_addr *a)
{
    static char buf[8][MCF_ADDRSTR_MAX];
    static int k;
    k = (k + 1) % 8;
    mcf_addr_format(a, buf[k], sizeof buf[k]);
    return buf[k];
}

/* "a b c": every address of the list, formatted, space separated. */
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


/* ---- cases ----------------------------------------------------------- */

TEST(literal_v4)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    CHECK_RC(resolve("127.0.0.1:11300", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && l.addr[0].family == AF_INET);
    CHECK(l.addr[0].len == sizeof(struct sockaddr_in));
    CHECKF(strcmp(fmt(&l.addr[0]), "127.0.0.1:11300") == 0, "%s", fmt(&l.addr[0]));
    CHECK(l.source && strcmp(l.source, "literal") == 0);
    CHECKF(gai_calls == 0, "getaddrinfo called %d times for a literal", gai_calls);
}

TEST(literal_v6)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    CHECK_RC(resolve("[::1]:11212", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && l.addr[0].family == AF_INET6);
    CHECK(l.addr[0].len == sizeof(struct sockaddr_in6));
    CHECKF(strcmp(fmt(&l.addr[0]), "[::1]:11212") == 0, "%s", fmt(&l.addr[0]));
    CHECK_RC(resolve("2001:db8::1", &l, err, sizeof err), 0);
    CHECKF(strcmp(fmt(&l.addr[0]), "[2001:db8::1]:11211") == 0, "%s", fmt(&l.addr[0]));
    CHECK(l.source && strcmp(l.source, "literal") == 0);
    CHECKF(gai_calls == 0, "getaddrinfo called %d times for a literal", gai_calls);
}

TEST(literal_zone_by_name)
{
    SKIP_UNLESS(if_nametoindex("lo"), "no interface named lo");
    mcf_addrlist l;
    char err[256] = "";
    unsigned lo = if_nametoindex("lo");
    gai_reset();
    CHECK_RC(resolve("[fe80::1%lo]:11211", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && l.addr[0].family == AF_INET6);
    CHECKF(((struct sockaddr_in6 *)&l.addr[0].ss)->sin6_scope_id == lo, "scope %u, want %u",
           ((struct sockaddr_in6 *)&l.addr[0].ss)->sin6_scope_id, lo);
    CHECKF(strcmp(fmt(&l.addr[0]), "[fe80::1%lo]:11211") == 0, "%s", fmt(&l.addr[0]));
    /* Bare literal with a zone. */
    CHECK_RC(resolve("fe80::1%lo", &l, err, sizeof err), 0);
    CHECK(((struct sockaddr_in6 *)&l.addr[0].ss)->sin6_scope_id == lo);
    CHECKF(gai_calls == 0, "getaddrinfo called %d times", gai_calls);
}

TEST(literal_zone_by_number)
{
    mcf_addrlist l;
    char err[256] = "", name[IF_NAMESIZE], want[64];
    CHECK_RC(resolve("[fe80::1%1]:11211", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && ((struct sockaddr_in6 *)&l.addr[0].ss)->sin6_scope_id == 1);
    /* Formatted with the interface name when index 1 exists, else the number. */
    if (if_indextoname(1, name))
        snprintf(want, sizeof want, "[fe80::1%%%s]:11211", name);
    else
        snprintf(want, sizeof want, "[fe80::1%%1]:11211");
    CHECKF(strcmp(fmt(&l.addr[0]), want) == 0, "%s, want %s", fmt(&l.addr[0]), want);
    /* An index no interface has is still an index: kept, printed as a number. */
    CHECK_RC(resolve("[fe80::1%4000000]:1", &l, err, sizeof err), 0);
    CHECKF(strcmp(fmt(&l.addr[0]), "[fe80::1%4000000]:1") == 0, "%s", fmt(&l.addr[0]));
}

TEST(literal_unknown_zone)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    CHECK_RC(resolve("[fe80::1%nosuchif9]:11211", &l, err, sizeof err), MCF_ERR_RESOLVE);
    CHECKF(strstr(err, "resolve [fe80::1%nosuchif9]:11211: ") == err &&
               strstr(err, "nosuchif9'"),
           "message: %s", err);
    CHECK_RC(resolve("[fe80::1%4294967296]:11211", &l, err, sizeof err), MCF_ERR_RESOLVE);
    CHECKF(strstr(err, "out of range") != NULL, "message: %s", err);
    CHECK(gai_calls == 0);
}

TEST(localhost_both_families_without_resolver)
{
    static const char *const names[] = {"localhost:11300", "LOCALHOST:11300",
                                        "localhost.:11300", "LocalHost.:11300"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        mcf_addrlist l;
        char err[256] = "";
        gai_reset();
        CHECK_RC(resolve(names[i], &l, err, sizeof err), 0);
        CHECKF(l.n == 2, "%s: %zu addresses", names[i], l.n);
        CHECKF(strcmp(fmt_list(&l), "[::1]:11300 127.0.0.1:11300") == 0, "%s: %s", names[i],
               fmt_list(&l));
        CHECK(l.source && strcmp(l.source, "localhost") == 0);
        CHECKF(gai_calls == 0, "%s: getaddrinfo called %d times", names[i], gai_calls);
    }
}

TEST(unix_path)
{
    mcf_addrlist l;
    char err[256] = "";
    const struct sockaddr_un *sun;
    gai_reset();
    CHECK_RC(resolve("unix:/tmp/mcfast-test.sock:3", &l, err, sizeof err), 0);
    CHECK(l.n == 1 && l.addr[0].family == AF_UNIX);
    sun = (const struct sockaddr_un *)&l.addr[0].ss;
    CHECK(sun->sun_family == AF_UNIX && strcmp(sun->sun_path, "/tmp/mcfast-test.sock") == 0);
    CHECK(l.addr[0].len == offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
    CHECKF(strcmp(fmt(&l.addr[0]), "/tmp/mcfast-test.sock") == 0, "%s", fmt(&l.addr[0]));
    CHECK(l.source && strcmp(l.source, "unix") == 0);
    CHECK(gai_calls == 0);
}

TEST(name_with_addrconfig)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    CHECK_RC(resolve("mc-dual.test:11211", &l, err, sizeof err), 0);
    CHECK(gai_calls == 1 && (gai_flags[0] & AI_ADDRCONFIG));
    CHECK(l.source && strcmp(l.source, "getaddrinfo") == 0);
    CHECKF(strcmp(fmt_list(&l), "[2001:db8::99]:11211 127.0.0.1:11211") == 0, "%s",
           fmt_list(&l));
}

/* The seed scenario: AI_ADDRCONFIG narrows the answer away. */
static void check_retry(int code, const char *label)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    gai_fail_addrconfig = code;
    gai_empty_addrconfig = code == 0;
    CHECKF(resolve("mc-dual.test:11211", &l, err, sizeof err) == 0, "%s: %s", label, err);
    CHECKF(gai_calls == 2, "%s: %d calls", label, gai_calls);
    CHECKF((gai_flags[0] & AI_ADDRCONFIG) && !(gai_flags[1] & AI_ADDRCONFIG),
           "%s: flags %x then %x", label, gai_flags[0], gai_flags[1]);
    CHECKF(l.source && strcmp(l.source, "getaddrinfo without AI_ADDRCONFIG") == 0, "%s: %s",
           label, l.source ? l.source : "(null)");
    CHECKF(strcmp(fmt_list(&l), "[2001:db8::99]:11211 127.0.0.1:11211") == 0, "%s: %s", label,
           fmt_list(&l));
}

TEST(retry_without_addrconfig)
{
#ifdef EAI_ADDRFAMILY
    check_retry(EAI_ADDRFAMILY, "EAI_ADDRFAMILY");
#endif
    check_retry(EAI_NONAME, "EAI_NONAME");
#ifdef EAI_NODATA
    check_retry(EAI_NODATA, "EAI_NODATA");
#endif
    check_retry(0, "empty answer");
}

TEST(no_retry_on_temporary_failure)
{
    mcf_addrlist l;
    char err[256] = "", want[256];
    gai_reset();
    ifa_mode = IFA_DUAL; /* AI_ADDRCONFIG narrows nothing here */
    gai_fail_addrconfig = EAI_AGAIN;
    CHECK_RC(resolve("mc.test:11211", &l, err, sizeof err), MCF_ERR_RESOLVE);
    CHECK(gai_calls == 1);
    snprintf(want, sizeof want, "resolve mc.test:11211: %s", gai_strerror(EAI_AGAIN));
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
}

/* The seed host: AI_ADDRCONFIG narrows the query to IPv6, so a name with
 * an IPv6 and an IPv4 address comes back with the IPv6 one only. */
TEST(narrowed_answer_on_v6_only_host)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    ifa_mode = IFA_V6_ONLY;
    gai_narrow_to = AF_INET6;
    CHECKF(resolve("mc-dual.test:11211", &l, err, sizeof err) == 0, "%s", err);
    CHECKF(gai_calls == 2, "%d calls", gai_calls);
    CHECK(l.source && strcmp(l.source, "getaddrinfo without AI_ADDRCONFIG") == 0);
    CHECKF(strcmp(fmt_list(&l), "[2001:db8::99]:11211 127.0.0.1:11211") == 0, "%s",
           fmt_list(&l));
}

/* A hosts-file name for 127.0.0.1 on the seed host with DNS unreachable:
 * narrowed to IPv6, files have nothing, DNS fails with EAI_AGAIN. */
TEST(temporary_failure_on_v6_only_host_is_retried)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    ifa_mode = IFA_V6_ONLY;
    gai_fail_addrconfig = EAI_AGAIN;
    CHECKF(resolve("mc-dual.test:11211", &l, err, sizeof err) == 0, "%s", err);
    CHECK(gai_calls == 2);
    CHECK(l.source && strcmp(l.source, "getaddrinfo without AI_ADDRCONFIG") == 0);
}

/* On a dual-stack host a one-family answer is the whole truth: one call. */
TEST(one_family_answer_on_dual_host_not_retried)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    ifa_mode = IFA_DUAL;
    CHECKF(resolve("v6only.test:11211", &l, err, sizeof err) == 0, "%s", err);
    CHECKF(gai_calls == 1, "%d calls", gai_calls);
    CHECK(l.source && strcmp(l.source, "getaddrinfo") == 0);
    CHECKF(strcmp(fmt_list(&l), "[2001:db8::99]:11211") == 0, "%s", fmt_list(&l));
    /* Both families in the answer: not even the interfaces are looked at. */
    gai_reset();
    ifa_mode = IFA_V6_ONLY;
    CHECKF(resolve("mc-dual.test:11211", &l, err, sizeof err) == 0, "%s", err);
    CHECK(gai_calls == 1 && ifa_calls == 0);
}

/* The wider query failing must not lose what the first one found. */
TEST(failed_retry_keeps_first_answer)
{
    mcf_addrlist l;
    char err[256] = "";
    gai_reset();
    ifa_mode = IFA_V6_ONLY;
    gai_narrow_to = AF_INET6;
    gai_fail_plain = EAI_AGAIN;
    CHECKF(resolve("mc-dual.test:11211", &l, err, sizeof err) == 0, "%s", err);
    CHECK(gai_calls == 2);
    CHECK(l.source && strcmp(l.source, "getaddrinfo") == 0);
    CHECKF(strcmp(fmt_list(&l), "[2001:db8::99]:11211") == 0, "%s", fmt_list(&l));
}

TEST(resolve_error_message)
{
    mcf_addrlist l;
    char err[256] = "", want[256];
    gai_reset();
    gai_fail_always = EAI_NONAME;
    CHECK_RC(resolve("mc.test:11211", &l, err, sizeof err), MCF_ERR_RESOLVE);
    CHECK(gai_calls == 2); /* retried without AI_ADDRCONFIG, failed again */
    snprintf(want, sizeof want, "resolve mc.test:11211: %s", gai_strerror(EAI_NONAME));
    CHECKF(strcmp(err, want) == 0, "message '%s', want '%s'", err, want);
}

TEST(dedup_interleave_cap)
{
    mcf_addrlist l;
    char err[256] = "";
    const char *want = "192.0.2.1:80 [2001:db8::1]:80 192.0.2.2:80 [2001:db8::2]:80 "
                       "192.0.2.3:80";
    gai_reset();
    /* 4 4 6 4(dup) 6 4 -> dedup 4 4 6 6 4 -> interleave 4 6 4 6 4 */
    CHECK_RC(resolve("mixed.test:80", &l, err, sizeof err), 0);
    CHECKF(strcmp(fmt_list(&l), want) == 0, "%s", fmt_list(&l));

    CHECK_RC(resolve("many.test:80", &l, err, sizeof err), 0);
    CHECKF(l.n == MCF_MAX_ADDRS, "%zu addresses", l.n);
    CHECKF(strcmp(fmt(&l.addr[MCF_MAX_ADDRS - 1]), "[2001:db8::10]:80") == 0, "%s",
           fmt(&l.addr[MCF_MAX_ADDRS - 1]));
}

TEST(interleave_hand_made)
{
    static const struct {
        const char *in[8];
        const char *out;
    } cases[] = {
        {{"::6", "::7", "::8", "4.0.0.1"}, "[::6]:1 4.0.0.1:1 [::7]:1 [::8]:1"},
        {{"4.0.0.1", "4.0.0.2", "::6", "::7", "::8"},
         "4.0.0.1:1 [::6]:1 4.0.0.2:1 [::7]:1 [::8]:1"},
        {{"::6", "::7", "4.0.0.1", "4.0.0.2"}, "[::6]:1 4.0.0.1:1 [::7]:1 4.0.0.2:1"},
        {{"4.0.0.1", "4.0.0.2", "4.0.0.3"}, "4.0.0.1:1 4.0.0.2:1 4.0.0.3:1"},
        {{"4.0.0.1", "::6"}, "4.0.0.1:1 [::6]:1"},
        {{"::6"}, "[::6]:1"},
        {{NULL}, ""},
    };
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcf_addrlist l;
        memset(&l, 0, sizeof l);
        for (k = 0; k < 8 && cases[i].in[k]; k++)
            l.addr[l.n++] = t_ip_addr(cases[i].in[k], 1);
        mcf_addr_interleave(&l);
        CHECKF(strcmp(fmt_list(&l), cases[i].out) == 0, "case %zu: %s, want %s", i,
               fmt_list(&l), cases[i].out);
    }
}

TEST(format_and_family_names)
{
    mcf_addr a = t_ip_addr("192.0.2.9", 65535), b = t_ip_addr("2001:db8::abcd", 1);
    char small[6];
    CHECK(strcmp(fmt(&a), "192.0.2.9:65535") == 0);
    CHECK(strcmp(fmt(&b), "[2001:db8::abcd]:1") == 0);
    mcf_addr_format(&a, small, sizeof small); /* truncated, terminated */
    CHECK(strcmp(small, "192.0") == 0);
    mcf_addr_format(&a, NULL, 0);
    CHECK(strcmp(mcf_family_name(AF_INET), "IPv4") == 0);
    CHECK(strcmp(mcf_family_name(AF_INET6), "IPv6") == 0);
    CHECK(strcmp(mcf_family_name(AF_UNIX), "unix") == 0);
    CHECK(strcmp(mcf_family_name(12345), "unknown") == 0);
}

/* The real resolver, on this machine's own name (normally in /etc/hosts,
 * so no network is needed). */
static int own_hostname(char *host, size_t len)
{
    struct addrinfo hints, *res = NULL;

    if (gethostname(host, len) != 0)
        return 0;
    host[len - 1] = '\0';
    if (host[0] == '\0' || ends_with(host, ".test"))
        return 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    freeaddrinfo(res);
    return 1;
}

TEST(real_resolver_own_hostname)
{
    char host[256], spec[300], err[256] = "";
    mcf_addrlist l;

    if (!own_hostname(host, sizeof host)) {
        t_skip_case("this machine's host name does not resolve");
        return;
    }
    snprintf(spec, sizeof spec, "%s:11211", host);
    gai_reset();
    CHECKF(resolve(spec, &l, err, sizeof err) == 0, "%s", err);
    CHECK(l.n >= 1);
    CHECK(gai_calls >= 1);
    CHECK(l.source && strncmp(l.source, "getaddrinfo", 11) == 0);
    printf("# %s -> %s (%s)\n", spec, fmt_list(&l), l.source ? l.source : "?");
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
