/* test_addr.c - specs answered without a resolver, the address list
 * (dedup, cap, interleaving), the host's families and formatting
 * (src/addr.c), through mcf_resolve where a spec is involved.
 *
 * getaddrinfo is interposed (the test binary's definition wins over libc's
 * at link time) as a tripwire: nothing in the library may call it, least of
 * all for literals and "localhost" (glibc's AI_ADDRCONFIG drops 127.0.0.1
 * on the seed host).  getifaddrs is interposed to script the host's
 * interfaces.  Names are resolved by c-ares: tests/test_resolve.c. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
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
#include "fake_ifaddrs.h"
#include "harness.h"
#include "test_addrs.h"
#include "mcfast.h"
#include "spec.h"

/* ---- tripwire resolver ----------------------------------------------- */

static int gai_calls;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    (void)node;
    (void)service;
    (void)hints;
    *res = NULL;
    gai_calls++;
    return EAI_FAIL;
}

/* ---- scripted interfaces ------------------------------------------- */

enum { IFA_REAL, IFA_V6_ONLY, IFA_DUAL, IFA_LO4_ONLY, IFA_FAIL };
static int ifa_mode;
static int ifa_calls;

static fake_if fake_ifs[3];

/* IFA_V6_ONLY is the seed host: lo 127.0.0.1 and ::1, eth0 a global IPv6.
 * IFA_LO4_ONLY: nothing but 127.0.0.1 (IPv6 switched off). */
int getifaddrs(struct ifaddrs **out)
{
    ifa_calls++;
    if (ifa_mode == IFA_FAIL) {
        errno = ENOMEM;
        return -1;
    }
    if (ifa_mode == IFA_LO4_ONLY) {
        fake_if_set(&fake_ifs[0], "lo", "127.0.0.1", NULL);
        *out = &fake_ifs[0].ifa;
        return 0;
    }
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

TEST(add_dedup_cap)
{
    mcf_addrlist l;
    mcf_addr a = t_ip_addr("192.0.2.1", 9), b = t_ip_addr("2001:db8::1", 9);
    struct sockaddr_un sun;
    unsigned i;

    memset(&l, 0, sizeof l);
    /* The port is replaced; a repeat (same address, new port) is dropped. */
    CHECK(mcf_addr_add(&l, (struct sockaddr *)&a.ss, a.len, 80) == 1);
    CHECK(mcf_addr_add(&l, (struct sockaddr *)&a.ss, a.len, 80) == 0);
    CHECK(mcf_addr_add(&l, (struct sockaddr *)&b.ss, b.len, 80) == 1);
    CHECKF(strcmp(fmt_list(&l), "192.0.2.1:80 [2001:db8::1]:80") == 0, "%s", fmt_list(&l));
    /* Too short for its family, or another family: not added. */
    CHECK(mcf_addr_add(&l, (struct sockaddr *)&b.ss, sizeof(struct sockaddr_in), 80) == 0);
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    CHECK(mcf_addr_add(&l, (struct sockaddr *)&sun, sizeof sun, 80) == 0);
    CHECK(l.n == 2);
    /* Full at MCF_MAX_ADDRS. */
    for (i = 0; i < 2 * MCF_MAX_ADDRS; i++) {
        char ip[32];
        mcf_addr c;
        snprintf(ip, sizeof ip, "198.51.100.%u", i + 1);
        c = t_ip_addr(ip, 1);
        mcf_addr_add(&l, (struct sockaddr *)&c.ss, c.len, 80);
    }
    CHECKF(l.n == MCF_MAX_ADDRS, "%zu addresses", l.n);
}

/* Loopback counts (the family rule of resolve.h), unlike glibc's
 * AI_ADDRCONFIG: the seed host has IPv4. */
TEST(host_families)
{
    gai_reset();
    ifa_mode = IFA_V6_ONLY;
    CHECK(mcf_host_families() == (MCF_FAM_V4 | MCF_FAM_V6));
    ifa_mode = IFA_DUAL;
    CHECK(mcf_host_families() == (MCF_FAM_V4 | MCF_FAM_V6));
    ifa_mode = IFA_LO4_ONLY;
    CHECK(mcf_host_families() == MCF_FAM_V4);
    ifa_mode = IFA_FAIL; /* unknown: both, so nothing is dropped */
    CHECK(mcf_host_families() == (MCF_FAM_V4 | MCF_FAM_V6));
    ifa_mode = IFA_REAL;
    CHECK(mcf_host_families() != 0);
    CHECK(gai_calls == 0);
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

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
