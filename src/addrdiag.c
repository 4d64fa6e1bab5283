/* addrdiag.c - owns the `mcfast resolve` report: what getaddrinfo answers
 * with and without AI_ADDRCONFIG, the host's families, and the addresses
 * mcfast's resolver will try (addrdiag.h). */
#include "addrdiag.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr.h"
#include "mcfast.h"
#include "resolve.h"

#define PORT_TEXT_MAX 8       /* "65535" and a NUL */
#define V4_LINK_LOCAL_NET 0xa9fe /* 169.254.0.0/16 (RFC 3927), the top 16 bits */
#define V4_NET16_SHIFT 16

static const char *eai_name(int rc)
{
    switch (rc) {
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
#endif
#ifdef EAI_NODATA
    case EAI_NODATA: return "EAI_NODATA";
#endif
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_SYSTEM: return "EAI_SYSTEM";
    default: return "EAI_?";
    }
}

/* The IP of a socket address without port ("127.0.0.1", "fe80::1%eth0"). */
static void ip_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    if (getnameinfo(sa, len, buf, (socklen_t)buflen, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, buflen, "?");
}

static void print_addr(FILE *out, const struct sockaddr *sa, socklen_t len)
{
    mcf_addr a;
    char buf[MCF_ADDRSTR_MAX];
    memset(&a, 0, sizeof a);
    if (len > sizeof a.ss)
        len = sizeof a.ss;
    memcpy(&a.ss, sa, len);
    a.len = len;
    a.family = sa->sa_family;
    mcf_addr_format(&a, buf, sizeof buf);
    fprintf(out, "%s (%s)\n", buf, mcf_family_name(a.family));
}

static int gai_run(const mcf_spec *s, int flags, struct addrinfo **res)
{
    struct addrinfo hints;
    char port[PORT_TEXT_MAX];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", (unsigned)s->port);
    *res = NULL;
    return getaddrinfo(s->host, port, &hints, res);
}

static void gai_print(FILE *out, const mcf_spec *s, const char *label, int rc,
                      const struct addrinfo *res)
{
    fprintf(out, "getaddrinfo(\"%s\", AF_UNSPEC, SOCK_STREAM) %s:\n", s->host, label);
    if (rc != 0) {
        fprintf(out, "  %s: %s\n", eai_name(rc), gai_strerror(rc));
        return;
    }
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fprintf(out, "  ");
        print_addr(out, ai->ai_addr, ai->ai_addrlen);
    }
}

/* What getifaddrs says about this host, loopback excluded; link-local
 * addresses are shown but do not count as "having" the family, since
 * they cannot reach a server off the link. */
struct host_families {
    int known;
    int v4, v4_link;
    int v6, v6_link;
};

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> IN_CLASSA_NSHIFT) == IN_LOOPBACKNET;
    }
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

static int is_link_local(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> V4_NET16_SHIFT) == V4_LINK_LOCAL_NET;
    }
    return IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

static void note_iface_addr(FILE *out, const struct ifaddrs *ifa, struct host_families *h)
{
    const struct sockaddr *sa = ifa->ifa_addr;
    int v4 = sa->sa_family == AF_INET;
    int link = is_link_local(sa);
    char ip[NI_MAXHOST];
    socklen_t len = v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    ip_text(sa, len, ip, sizeof ip);
    fprintf(out, "  %s %s (%s, %s)\n", ifa->ifa_name, ip, v4 ? "IPv4" : "IPv6",
            link ? "link-local: not counted below, though glibc counts it" : "global");
    if (v4)
        *(link ? &h->v4_link : &h->v4) = 1;
    else
        *(link ? &h->v6_link : &h->v6) = 1;
}

static const char *family_verdict(int global, int link)
{
    if (global)
        return "yes (global)";
    return link ? "no (link-local only)" : "no";
}

static void scan_interfaces(FILE *out, struct host_families *h)
{
    struct ifaddrs *list;
    unsigned keep;

    memset(h, 0, sizeof *h);
    fprintf(out, "addresses on interfaces other than loopback (getifaddrs):\n");
    if (getifaddrs(&list) != 0) {
        fprintf(out, "  getifaddrs failed: %s\n", strerror(errno));
        return;
    }
    for (const struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        const struct sockaddr *sa = ifa->ifa_addr;
        if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
            continue;
        if ((ifa->ifa_flags & IFF_LOOPBACK) || is_loopback(sa))
            continue;
        note_iface_addr(out, ifa, h);
    }
    freeifaddrs(list);
    h->known = 1;
    if (!h->v4 && !h->v4_link && !h->v6 && !h->v6_link)
        fprintf(out, "  (none)\n");
    fprintf(out, "  => IPv4: %s, IPv6: %s\n", family_verdict(h->v4, h->v4_link),
            family_verdict(h->v6, h->v6_link));
    /* mcfast's own rule (mcf_addr_keep): loopback counts. */
    keep = mcf_host_families();
    fprintf(out, "  => mcfast keeps answers of: %s (any address counts, loopback too)\n",
            keep == (MCF_FAM_V4 | MCF_FAM_V6) ? "IPv4 and IPv6"
            : keep == MCF_FAM_V4              ? "IPv4 only"
            : keep == MCF_FAM_V6              ? "IPv6 only"
                                              : "no family but loopback");
}

static int same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    if (a->sa_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
           x->sin6_scope_id == y->sin6_scope_id;
}

static int ai_contains(const struct addrinfo *list, const struct sockaddr *sa)
{
    for (; list; list = list->ai_next)
        if (same_ip(list->ai_addr, sa))
            return 1;
    return 0;
}

static void print_addrlist(FILE *out, const mcf_addrlist *l)
{
    fprintf(out, "mcfast will try, in this order (source: %s):\n",
            l->source ? l->source : "?");
    for (size_t i = 0; i < l->n; i++) {
        fprintf(out, "  %zu. ", i + 1);
        print_addr(out, (const struct sockaddr *)&l->addr[i].ss, l->addr[i].len);
    }
}

/* Why glibc hid an address: it counts a family only when the host has an
 * address of it other than 127.0.0.1 / ::1. */
static const char *hidden_reason(int family, const struct host_families *h)
{
    if (!h->known)
        return "";
    if (family == AF_INET && !h->v4)
        return h->v4_link ? " because this host has only loopback and link-local IPv4 addresses"
                          : " because this host has no IPv4 address other than loopback";
    if (family == AF_INET6 && !h->v6)
        return h->v6_link ? " because this host has only loopback and link-local IPv6 addresses"
                          : " because this host has no IPv6 address other than loopback";
    return "";
}

static const char *source_remedy(const char *source)
{
    if (source == NULL)
        return "";
    if (strcmp(source, "literal") == 0)
        return "; mcfast parses IP literals itself and does not use AI_ADDRCONFIG for them";
    if (strcmp(source, "localhost") == 0)
        return "; mcfast answers \"localhost\" itself with ::1 and 127.0.0.1";
    if (strncmp(source, MCF_SOURCE_CARES, strlen(MCF_SOURCE_CARES)) == 0)
        return "; mcfast asks c-ares without AI_ADDRCONFIG and never drops a loopback answer";
    return "";
}

static void explain_hidden(FILE *out, const struct addrinfo *with,
                           const struct addrinfo *without, const struct host_families *h,
                           const mcf_addrlist *l)
{
    for (const struct addrinfo *ai = without; ai; ai = ai->ai_next) {
        char ip[NI_MAXHOST];
        if (ai_contains(with, ai->ai_addr))
            continue;
        ip_text(ai->ai_addr, ai->ai_addrlen, ip, sizeof ip);
        fprintf(out, "note: getaddrinfo with AI_ADDRCONFIG hides %s%s%s\n", ip,
                hidden_reason(ai->ai_family, h), l ? source_remedy(l->source) : "");
    }
}

static void describe_unix(FILE *out, const mcf_spec *s)
{
    struct stat st;
    const char *state = "exists, not a socket";
    if (stat(s->path, &st) != 0)
        state = strerror(errno);
    else if (S_ISSOCK(st.st_mode))
        state = "socket";
    fprintf(out, "unix socket path: %s (%s)\n", s->path, state);
}

int mcf_addr_diagnose(FILE *out, const mcf_spec *spec, int timeout_ms, char *err,
                      size_t errlen)
{
    mcf_addrlist list;
    struct addrinfo *with = NULL, *without = NULL;
    struct host_families h;
    char why[MCF_ADDRSTR_MAX + 256];
    int rc;

    memset(&h, 0, sizeof h);
    if (spec->is_unix) {
        describe_unix(out, spec);
    } else {
        int rc_with, rc_without;
        fprintf(out, "spec %s: host %s, port %u\n", spec->text, spec->host,
                (unsigned)spec->port);
        rc_with = gai_run(spec, AI_ADDRCONFIG, &with);
        gai_print(out, spec, "with AI_ADDRCONFIG", rc_with, with);
        rc_without = gai_run(spec, 0, &without);
        gai_print(out, spec, "without AI_ADDRCONFIG", rc_without, without);
        scan_interfaces(out, &h);
    }
    rc = mcf_resolve_timeout(spec, &list, timeout_ms, why, sizeof why);
    if (rc == 0)
        print_addrlist(out, &list);
    else
        fprintf(out, "mcfast will try nothing: %s\n", why);
    if (rc != 0 && err && errlen)
        snprintf(err, errlen, "%s", why);
    if (!spec->is_unix)
        explain_hidden(out, with, without, &h, rc == 0 ? &list : NULL);
    if (with)
        freeaddrinfo(with);
    if (without)
        freeaddrinfo(without);
    return rc;
}
