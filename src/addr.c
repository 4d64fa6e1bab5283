/* addr.c - owns turning a parsed spec into the ordered socket addresses to try. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "mcfast.h"

static int resolve_error(char *err, size_t errlen, const mcf_spec *spec, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "resolve %s: %s", spec->text, why);
    return MCF_ERR_RESOLVE;
}

static int same_addr(const mcf_addr *a, const mcf_addr *b)
{
    if (a->family != b->family)
        return 0;
    if (a->family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Appends unless full or already present (resolvers repeat answers, e.g.
 * a name listed twice in /etc/hosts). */
static void add_unique(mcf_addrlist *l, const struct sockaddr *sa, socklen_t len)
{
    mcf_addr a;
    size_t i;

    if (l->n >= MCF_MAX_ADDRS || len > (socklen_t)sizeof a.ss)
        return;
    memset(&a, 0, sizeof a);
    memcpy(&a.ss, sa, len);
    a.len = len;
    a.family = sa->sa_family;
    for (i = 0; i < l->n; i++)
        if (same_addr(&l->addr[i], &a))
            return;
    l->addr[l->n++] = a;
}

static void add_v4(mcf_addrlist *l, const struct in_addr *ip, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr = *ip;
    add_unique(l, (const struct sockaddr *)&sin, sizeof sin);
}

static void add_v6(mcf_addrlist *l, const struct in6_addr *ip, uint32_t scope, uint16_t port)
{
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    sin6.sin6_addr = *ip;
    sin6.sin6_scope_id = scope;
    add_unique(l, (const struct sockaddr *)&sin6, sizeof sin6);
}

static int is_localhost(const char *h)
{
    return strcasecmp(h, "localhost") == 0 || strcasecmp(h, "localhost.") == 0;
}

/* 1: host was an IP literal and is in l; 0: not a literal; <0: error
 * (a literal with an unknown zone), message in err. */
static int try_literal(const mcf_spec *spec, mcf_addrlist *l, char *err, size_t errlen)
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[MCF_HOST_MAX];
    char *zone;
    uint32_t scope = 0;

    if (inet_pton(AF_INET, spec->host, &a4) == 1) {
        add_v4(l, &a4, spec->port);
        return 1;
    }
    snprintf(buf, sizeof buf, "%s", spec->host);
    zone = strchr(buf, '%');
    if (zone)
        *zone++ = '\0';
    if (inet_pton(AF_INET6, buf, &a6) != 1)
        return 0;
    if (zone) {
        /* A zone is an interface name or its index (RFC 4007 §11.2). */
        size_t i, zl = strlen(zone);
        int numeric = zl > 0 && zl <= 10;
        for (i = 0; i < zl && numeric; i++)
            numeric = zone[i] >= '0' && zone[i] <= '9';
        if (numeric) {
            unsigned long v = strtoul(zone, NULL, 10);
            if (v > UINT32_MAX) {
                char why[64];
                snprintf(why, sizeof why, "zone index %s out of range", zone);
                resolve_error(err, errlen, spec, why);
                return -1;
            }
            scope = (uint32_t)v;
        } else {
            char why[96];
            scope = if_nametoindex(zone);
            if (scope == 0) {
                snprintf(why, sizeof why, "no network interface named '%.32s'", zone);
                resolve_error(err, errlen, spec, why);
                return -1;
            }
        }
    }
    add_v6(l, &a6, scope, spec->port);
    return 1;
}

static int gai(const mcf_spec *spec, int flags, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = flags;
    /* No service: the port is set below, so no services-database lookup. */
    return getaddrinfo(spec->host, NULL, &hints, res);
}

/* Families in an answer: bit 0 IPv4, bit 1 IPv6. */
static int answer_families(const struct addrinfo *r)
{
    int f = 0;
    for (; r; r = r->ai_next)
        f |= r->ai_family == AF_INET ? 1 : r->ai_family == AF_INET6 ? 2 : 0;
    return f;
}

/* Whether the host has an address other than loopback in each family:
 * what AI_ADDRCONFIG looks at (glibc ignores 127.0.0.1 and ::1).  If
 * getifaddrs fails, both stay 0: "may have narrowed", the safe answer. */
static void nonloopback_families(int *v4, int *v6)
{
    struct ifaddrs *ifa = NULL, *i;

    *v4 = *v6 = 0;
    if (getifaddrs(&ifa) != 0)
        return;
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)(void *)i->ifa_addr;
            if ((ntohl(s->sin_addr.s_addr) >> 24) != 127)
                *v4 = 1;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(void *)i->ifa_addr;
            if (!IN6_IS_ADDR_LOOPBACK(&s->sin6_addr))
                *v6 = 1;
        }
    }
    freeifaddrs(ifa);
}

/* Whether to ask again without AI_ADDRCONFIG.  glibc's AI_ADDRCONFIG
 * ignores loopback, so on a host whose only IPv4 (or IPv6) is loopback it
 * narrows the query to the other family and hides exactly the addresses a
 * local memcached listens on (seed scenario): a name for 127.0.0.1 fails
 * (EAI_ADDRFAMILY, EAI_NONAME, EAI_NODATA, or EAI_AGAIN when the names
 * then go on to an unreachable DNS server), and a name with an IPv6 and
 * an IPv4 address comes back with the IPv6 one only.  So: always on the
 * "no such address" errors and on an empty answer; on other errors and
 * on a one-family answer only when narrowing can have happened, which
 * keeps the common dual-stack host at one resolver call. */
static int addrconfig_may_have_hidden(int rc, const struct addrinfo *res)
{
    int v4, v6;

    switch (rc) {
    case 0:
        if (answer_families(res) == 3)
            return 0; /* both families: nothing was narrowed away */
        if (answer_families(res) == 0)
            return 1;
        break;
    case EAI_NONAME:
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
#if defined(EAI_NODATA) && EAI_NODATA != EAI_NONAME
    case EAI_NODATA:
#endif
        return 1;
    case EAI_MEMORY:
        return 0;
    default:
        break;
    }
    nonloopback_families(&v4, &v6);
    return !(v4 && v6);
}

static int resolve_name(const mcf_spec *spec, mcf_addrlist *l, char *err, size_t errlen)
{
    struct addrinfo *res = NULL, *r;
    int rc, saved_errno;

    l->source = "getaddrinfo";
    rc = gai(spec, AI_ADDRCONFIG, &res);
    saved_errno = errno;
    if (rc != 0)
        res = NULL;
    if (addrconfig_may_have_hidden(rc, res)) {
        struct addrinfo *res2 = NULL;
        int rc2 = gai(spec, 0, &res2);
        int saved2 = errno;
        if (rc2 != 0)
            res2 = NULL;
        if (rc2 == 0 && answer_families(res2) != 0) {
            if (res)
                freeaddrinfo(res);
            res = res2;
            rc = 0;
            l->source = "getaddrinfo without AI_ADDRCONFIG";
        } else if (rc == 0 && answer_families(res) != 0) {
            /* The wider query failed (a flaky resolver): keep what we have. */
            if (res2)
                freeaddrinfo(res2);
        } else {
            /* Both failed: the wider query's error is the one to report. */
            if (res)
                freeaddrinfo(res);
            res = res2;
            rc = rc2;
            saved_errno = saved2;
            l->source = "getaddrinfo without AI_ADDRCONFIG";
        }
    }
    if (rc != 0) {
        char why[160];
        if (rc == EAI_SYSTEM)
            snprintf(why, sizeof why, "%s", strerror(saved_errno));
        else
            snprintf(why, sizeof why, "%s", gai_strerror(rc));
        return resolve_error(err, errlen, spec, why);
    }
    for (r = res; r; r = r->ai_next) {
        if (r->ai_family == AF_INET && r->ai_addrlen >= sizeof(struct sockaddr_in)) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(void *)r->ai_addr;
            add_v4(l, &sin->sin_addr, spec->port);
        } else if (r->ai_family == AF_INET6 &&
                   r->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(void *)r->ai_addr;
            add_v6(l, &sin6->sin6_addr, sin6->sin6_scope_id, spec->port);
        }
    }
    if (res)
        freeaddrinfo(res); /* musl's freeaddrinfo does not accept NULL */
    if (l->n == 0)
        return resolve_error(err, errlen, spec, "no IPv4 or IPv6 address");
    return 0;
}

int mcf_resolve(const mcf_spec *spec, mcf_addrlist *out, char *err, size_t errlen)
{
    int rc;

    if (!out)
        return MCF_ERR_RESOLVE;
    memset(out, 0, sizeof *out);
    if (!spec) {
        if (err && errlen)
            snprintf(err, errlen, "resolve: no spec");
        return MCF_ERR_RESOLVE;
    }

    if (spec->is_unix) {
        struct sockaddr_un sun;
        size_t pl = strnlen(spec->path, sizeof spec->path);
        if (pl == 0 || pl >= sizeof sun.sun_path)
            return resolve_error(err, errlen, spec, "bad unix socket path");
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, spec->path, pl);
        out->source = "unix";
        add_unique(out, (const struct sockaddr *)&sun,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl + 1));
        return 0;
    }

    if (spec->host[0] == '\0')
        return resolve_error(err, errlen, spec, "empty host");

    /* Answered here, as curl does: the resolver (and AI_ADDRCONFIG) may
     * drop either loopback family, and /etc/hosts often lists only one.
     * ::1 first, following RFC 6724's preference for IPv6; if the server
     * listens on 127.0.0.1 only, ::1 is refused at once on loopback and
     * Happy Eyeballs moves on without waiting (RFC 8305 §5). */
    if (is_localhost(spec->host)) {
        struct in_addr a4;
        a4.s_addr = htonl(INADDR_LOOPBACK);
        add_v6(out, &in6addr_loopback, 0, spec->port);
        add_v4(out, &a4, spec->port);
        out->source = "localhost";
        return 0;
    }

    /* Literals never reach getaddrinfo: with AI_ADDRCONFIG glibc fails
     * "127.0.0.1" on a host whose only IPv4 is loopback (EAI_ADDRFAMILY). */
    rc = try_literal(spec, out, err, errlen);
    if (rc < 0)
        return MCF_ERR_RESOLVE;
    if (rc > 0) {
        out->source = "literal";
        return 0;
    }

    rc = resolve_name(spec, out, err, errlen);
    if (rc)
        return rc;
    mcf_addr_interleave(out);
    return 0;
}

/* RFC 8305 §4: alternate families, starting with the family of the first
 * answer (First Address Family Count = 1), order within a family kept. */
void mcf_addr_interleave(mcf_addrlist *l)
{
    mcf_addr first[MCF_MAX_ADDRS], other[MCF_MAX_ADDRS];
    size_t nf = 0, no = 0, i, f = 0, o = 0, k = 0;

    if (!l || l->n < 3)
        return; /* 0-2 entries: already in the only interleaved order */
    if (l->n > MCF_MAX_ADDRS)
        l->n = MCF_MAX_ADDRS;
    for (i = 0; i < l->n; i++) {
        if (l->addr[i].family == l->addr[0].family)
            first[nf++] = l->addr[i];
        else
            other[no++] = l->addr[i];
    }
    while (f < nf || o < no) {
        if (f < nf)
            l->addr[k++] = first[f++];
        if (o < no)
            l->addr[k++] = other[o++];
    }
}

void mcf_addr_format(const mcf_addr *a, char *buf, size_t buflen)
{
    char ip[INET6_ADDRSTRLEN];

    if (!buf || buflen == 0)
        return;
    buf[0] = '\0';
    if (!a) {
        snprintf(buf, buflen, "(no address)");
        return;
    }
    switch (a->family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
        if (!inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip))
            snprintf(ip, sizeof ip, "?");
        snprintf(buf, buflen, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
        return;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
        char zone[IF_NAMESIZE + 2] = "";
        if (!inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip))
            snprintf(ip, sizeof ip, "?");
        if (sin6->sin6_scope_id != 0) {
            char name[IF_NAMESIZE];
            if (if_indextoname(sin6->sin6_scope_id, name))
                snprintf(zone, sizeof zone, "%%%s", name);
            else
                snprintf(zone, sizeof zone, "%%%u", (unsigned)sin6->sin6_scope_id);
        }
        snprintf(buf, buflen, "[%s%s]:%u", ip, zone, (unsigned)ntohs(sin6->sin6_port));
        return;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t max = a->len > off ? (size_t)a->len - off : 0;
        if (max > sizeof sun->sun_path)
            max = sizeof sun->sun_path;
        snprintf(buf, buflen, "%.*s", (int)strnlen(sun->sun_path, max), sun->sun_path);
        return;
    }
    default:
        snprintf(buf, buflen, "(address family %d)", a->family);
    }
}

const char *mcf_family_name(int family)
{
    switch (family) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_UNIX: return "unix";
    default: return "unknown";
    }
}
