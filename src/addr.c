/* addr.c - owns socket addresses: specs answered without a resolver, the
 * list to try (dedup, interleaving), the family rule and formatting. */
#include "addr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
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

int mcf_addr_local(const mcf_spec *spec, mcf_addrlist *out, int *need_lookup, char *err,
                   size_t errlen)
{
    int rc;

    *need_lookup = 0;
    memset(out, 0, sizeof *out);
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

    /* Answered here, as curl does: the resolver may drop either loopback
     * family, and /etc/hosts often lists only one.  ::1 first, following
     * RFC 6724's preference for IPv6; if the server listens on 127.0.0.1
     * only, ::1 is refused at once on loopback and Happy Eyeballs moves on
     * without waiting (RFC 8305 §5). */
    if (is_localhost(spec->host)) {
        struct in_addr a4;
        a4.s_addr = htonl(INADDR_LOOPBACK);
        add_v6(out, &in6addr_loopback, 0, spec->port);
        add_v4(out, &a4, spec->port);
        out->source = "localhost";
        return 0;
    }

    /* Literals never reach a resolver: with AI_ADDRCONFIG glibc fails
     * "127.0.0.1" on a host whose only IPv4 is loopback (EAI_ADDRFAMILY). */
    rc = try_literal(spec, out, err, errlen);
    if (rc < 0)
        return MCF_ERR_RESOLVE;
    if (rc > 0) {
        out->source = "literal";
        return 0;
    }
    *need_lookup = 1;
    return 0;
}

int mcf_addr_add(mcf_addrlist *l, const struct sockaddr *sa, socklen_t len, uint16_t port)
{
    size_t before = l->n;

    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
        add_v4(l, &sin->sin_addr, port);
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
        add_v6(l, &sin6->sin6_addr, sin6->sin6_scope_id, port);
    }
    return l->n > before;
}

unsigned mcf_host_families(void)
{
    struct ifaddrs *ifa = NULL, *i;
    unsigned f = 0;

    if (getifaddrs(&ifa) != 0)
        return MCF_FAM_V4 | MCF_FAM_V6; /* unknown: drop nothing */
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET)
            f |= MCF_FAM_V4;
        else if (i->ifa_addr->sa_family == AF_INET6)
            f |= MCF_FAM_V6;
    }
    freeifaddrs(ifa);
    return f;
}

int mcf_addr_keep(const struct sockaddr *sa, unsigned host_families)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        /* 127.0.0.0/8 (RFC 1122 §3.2.1.3): the class A network 127. */
        int loopback = (ntohl(s->sin_addr.s_addr) >> IN_CLASSA_NSHIFT) == IN_LOOPBACKNET;
        return (host_families & MCF_FAM_V4) || loopback;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        return (host_families & MCF_FAM_V6) || IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
    }
    return 1;
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
