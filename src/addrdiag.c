/* addrdiag.c - owns the `mcfast resolve` report: what getaddrinfo answers
 * with and without AI_ADDRCONFIG, the host's families, and the addresses
 * mcfast's resolver will try (addrdiag.h).  The facts are gathered once
 * (struct facts) and then written as text or as one JSON object. */
#include "addrdiag.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
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

/* An address as mcfast prints it everywhere ("127.0.0.1:11211",
 * "[::1]:11211", a unix path). */
static void addr_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    mcf_addr a;
    memset(&a, 0, sizeof a);
    if (len > sizeof a.ss)
        len = sizeof a.ss;
    memcpy(&a.ss, sa, len);
    a.len = len;
    a.family = sa->sa_family;
    mcf_addr_format(&a, buf, buflen);
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

static const char *family_verdict(int global, int link)
{
    if (global)
        return "yes (global)";
    return link ? "no (link-local only)" : "no";
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


/* ---- the facts, gathered once for either writer ---- */

#define UNIX_STATE_MAX 128 /* a strerror text or "exists, not a socket" */
#define WHY_MAX (MCF_ADDRSTR_MAX + 256)

/* One getaddrinfo call: its answers or its EAI_* code. */
struct gai_answer {
    int rc;
    struct addrinfo *res;
};

/* An address on an interface other than loopback. */
struct iface_addr {
    const char *name; /* points into facts.iflist */
    char ip[NI_MAXHOST];
    int v4, link;
};

/* An address getaddrinfo returns only without AI_ADDRCONFIG. */
struct hidden_addr {
    char ip[NI_MAXHOST];
    const char *reason, *remedy; /* static texts, "" when none */
};

struct facts {
    const mcf_spec *spec;
    char unix_state[UNIX_STATE_MAX]; /* unix spec only */
    struct gai_answer with, without; /* the rest: TCP spec only */
    struct ifaddrs *iflist;
    int if_errno; /* getifaddrs failed with it; 0 when it worked */
    struct iface_addr *ifa;
    size_t n_ifa;
    struct host_families h;
    unsigned keep; /* mcf_host_families() */
    struct hidden_addr *hidden;
    size_t n_hidden;
    int rc; /* mcf_resolve_timeout's: 0 when list holds what mcfast will try */
    mcf_addrlist list;
    char why[WHY_MAX]; /* rc's message */
};

static void gather_unix(struct facts *f)
{
    struct stat st;
    if (stat(f->spec->path, &st) != 0)
        snprintf(f->unix_state, sizeof f->unix_state, "%s", strerror(errno));
    else
        snprintf(f->unix_state, sizeof f->unix_state, "%s",
                 S_ISSOCK(st.st_mode) ? "socket" : "exists, not a socket");
}

static int iface_counted(const struct ifaddrs *ifa)
{
    const struct sockaddr *sa = ifa->ifa_addr;
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return 0;
    return !(ifa->ifa_flags & IFF_LOOPBACK) && !is_loopback(sa);
}

/* 0 or MCF_ERR_NOMEM. */
static int gather_interfaces(struct facts *f)
{
    size_t n = 0;
    if (getifaddrs(&f->iflist) != 0) {
        f->iflist = NULL;
        f->if_errno = errno;
        return 0;
    }
    for (const struct ifaddrs *ifa = f->iflist; ifa; ifa = ifa->ifa_next)
        n += (size_t)iface_counted(ifa);
    f->ifa = calloc(n ? n : 1, sizeof *f->ifa);
    if (f->ifa == NULL)
        return MCF_ERR_NOMEM;
    for (const struct ifaddrs *ifa = f->iflist; ifa; ifa = ifa->ifa_next) {
        struct iface_addr *e;
        const struct sockaddr *sa = ifa->ifa_addr;
        if (!iface_counted(ifa))
            continue;
        e = &f->ifa[f->n_ifa++];
        e->name = ifa->ifa_name;
        e->v4 = sa->sa_family == AF_INET;
        e->link = is_link_local(sa);
        ip_text(sa, e->v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), e->ip,
                sizeof e->ip);
        if (e->v4)
            *(e->link ? &f->h.v4_link : &f->h.v4) = 1;
        else
            *(e->link ? &f->h.v6_link : &f->h.v6) = 1;
    }
    f->h.known = 1;
    return 0;
}

/* 0 or MCF_ERR_NOMEM.  Needs the resolver's answer (for the remedy). */
static int gather_hidden(struct facts *f)
{
    size_t n = 0;
    for (const struct addrinfo *ai = f->without.res; ai; ai = ai->ai_next)
        n++;
    f->hidden = calloc(n ? n : 1, sizeof *f->hidden);
    if (f->hidden == NULL)
        return MCF_ERR_NOMEM;
    for (const struct addrinfo *ai = f->without.res; ai; ai = ai->ai_next) {
        struct hidden_addr *e;
        if (ai_contains(f->with.res, ai->ai_addr))
            continue;
        e = &f->hidden[f->n_hidden++];
        ip_text(ai->ai_addr, ai->ai_addrlen, e->ip, sizeof e->ip);
        e->reason = hidden_reason(ai->ai_family, &f->h);
        e->remedy = f->rc == 0 ? source_remedy(f->list.source) : "";
    }
    return 0;
}

static void facts_free(struct facts *f)
{
    if (f->with.res)
        freeaddrinfo(f->with.res);
    if (f->without.res)
        freeaddrinfo(f->without.res);
    if (f->iflist)
        freeifaddrs(f->iflist);
    free(f->ifa);
    free(f->hidden);
}

/* Fills f; 0, or MCF_ERR_NOMEM with nothing to write (f freed).  A failed
 * resolution is a fact (f->rc), not a failure here. */
static int gather(struct facts *f, const mcf_spec *spec, int timeout_ms)
{
    memset(f, 0, sizeof *f);
    f->spec = spec;
    if (spec->is_unix) {
        gather_unix(f);
    } else {
        f->with.rc = gai_run(spec, AI_ADDRCONFIG, &f->with.res);
        f->without.rc = gai_run(spec, 0, &f->without.res);
        if (gather_interfaces(f) != 0)
            goto nomem;
        f->keep = mcf_host_families();
    }
    f->rc = mcf_resolve_timeout(spec, &f->list, timeout_ms, f->why, sizeof f->why);
    if (!spec->is_unix && gather_hidden(f) != 0)
        goto nomem;
    return 0;
nomem:
    facts_free(f);
    return MCF_ERR_NOMEM;
}

/* ---- the text writer (line formats: addrdiag.h) ---- */

static void text_addr(FILE *out, const struct sockaddr *sa, socklen_t len)
{
    char buf[MCF_ADDRSTR_MAX];
    addr_text(sa, len, buf, sizeof buf);
    fprintf(out, "%s (%s)\n", buf, mcf_family_name(sa->sa_family));
}

static void text_gai(FILE *out, const mcf_spec *s, const char *label,
                     const struct gai_answer *g)
{
    fprintf(out, "getaddrinfo(\"%s\", AF_UNSPEC, SOCK_STREAM) %s:\n", s->host, label);
    if (g->rc != 0) {
        fprintf(out, "  %s: %s\n", eai_name(g->rc), gai_strerror(g->rc));
        return;
    }
    for (const struct addrinfo *ai = g->res; ai; ai = ai->ai_next) {
        fprintf(out, "  ");
        text_addr(out, ai->ai_addr, ai->ai_addrlen);
    }
}

static void text_interfaces(FILE *out, const struct facts *f)
{
    const struct host_families *h = &f->h;
    fprintf(out, "addresses on interfaces other than loopback (getifaddrs):\n");
    if (!h->known) {
        fprintf(out, "  getifaddrs failed: %s\n", strerror(f->if_errno));
        return;
    }
    for (size_t i = 0; i < f->n_ifa; i++) {
        const struct iface_addr *e = &f->ifa[i];
        fprintf(out, "  %s %s (%s, %s)\n", e->name, e->ip, e->v4 ? "IPv4" : "IPv6",
                e->link ? "link-local: not counted below, though glibc counts it" : "global");
    }
    if (f->n_ifa == 0)
        fprintf(out, "  (none)\n");
    fprintf(out, "  => IPv4: %s, IPv6: %s\n", family_verdict(h->v4, h->v4_link),
            family_verdict(h->v6, h->v6_link));
    /* mcfast's own rule (mcf_addr_keep): loopback counts. */
    fprintf(out, "  => mcfast keeps answers of: %s (any address counts, loopback too)\n",
            f->keep == (MCF_FAM_V4 | MCF_FAM_V6) ? "IPv4 and IPv6"
            : f->keep == MCF_FAM_V4              ? "IPv4 only"
            : f->keep == MCF_FAM_V6              ? "IPv6 only"
                                                 : "no family but loopback");
}

static void write_text(FILE *out, const struct facts *f)
{
    const mcf_spec *s = f->spec;
    if (s->is_unix) {
        fprintf(out, "unix socket path: %s (%s)\n", s->path, f->unix_state);
    } else {
        fprintf(out, "spec %s: host %s, port %u\n", s->text, s->host, (unsigned)s->port);
        text_gai(out, s, "with AI_ADDRCONFIG", &f->with);
        text_gai(out, s, "without AI_ADDRCONFIG", &f->without);
        text_interfaces(out, f);
    }
    if (f->rc == 0) {
        fprintf(out, "mcfast will try, in this order (source: %s):\n",
                f->list.source ? f->list.source : "?");
        for (size_t i = 0; i < f->list.n; i++) {
            fprintf(out, "  %zu. ", i + 1);
            text_addr(out, (const struct sockaddr *)&f->list.addr[i].ss, f->list.addr[i].len);
        }
    } else {
        fprintf(out, "mcfast will try nothing: %s\n", f->why);
    }
    for (size_t i = 0; i < f->n_hidden; i++)
        fprintf(out, "note: getaddrinfo with AI_ADDRCONFIG hides %s%s%s\n", f->hidden[i].ip,
                f->hidden[i].reason, f->hidden[i].remedy);
}

/* ---- the JSON writer: one object on one line (RFC 8259) ---- */

#define UTF8_CONT_MASK 0xc0 /* continuation bytes are 10xxxxxx */
#define UTF8_CONT 0x80
#define UTF8_CONT_BITS 6
#define UNICODE_MAX 0x10ffff
#define SURROGATE_FIRST 0xd800
#define SURROGATE_LAST 0xdfff

/* The length of the well-formed UTF-8 sequence (RFC 3629) at p, or 0:
 * no overlong forms, no surrogates, at most U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t len;
    unsigned cp, min;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, min = 0x80, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, min = 0x800, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, min = 0x10000, cp = p[0] & 0x07u;
    else
        return 0;
    if (left < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & UTF8_CONT_MASK) != UTF8_CONT)
            return 0;
        cp = cp << UTF8_CONT_BITS | (p[k] & (unsigned)~UTF8_CONT_MASK);
    }
    if (cp < min || cp > UNICODE_MAX || (cp >= SURROGATE_FIRST && cp <= SURROGATE_LAST))
        return 0;
    return len;
}

/* A JSON string: quote and backslash escaped, control characters as
 * \uXXXX; a byte that is not part of well-formed UTF-8 (an interface name
 * or a spec is bytes, JSON text is Unicode) becomes U+FFFD. */
static void json_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    fputc('"', out);
    while (left) {
        size_t n = utf8_seq(p, left);
        if (n == 0) {
            fputs("\\ufffd", out);
            n = 1;
        } else if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fwrite(p, 1, n, out);
        }
        p += n;
        left -= n;
    }
    fputc('"', out);
}

static void json_key(FILE *out, const char *key)
{
    json_str(out, key);
    fputc(':', out);
}

static void json_addr(FILE *out, const struct sockaddr *sa, socklen_t len)
{
    char buf[MCF_ADDRSTR_MAX];
    addr_text(sa, len, buf, sizeof buf);
    fputs("{\"address\":", out);
    json_str(out, buf);
    fputs(",\"family\":", out);
    json_str(out, mcf_family_name(sa->sa_family));
    fputc('}', out);
}

static void json_gai(FILE *out, const struct gai_answer *g)
{
    if (g->rc != 0) {
        fputs("{\"error\":", out);
        json_str(out, eai_name(g->rc));
        fputs(",\"message\":", out);
        json_str(out, gai_strerror(g->rc));
        fputc('}', out);
        return;
    }
    fputs("{\"addresses\":[", out);
    for (const struct addrinfo *ai = g->res; ai; ai = ai->ai_next) {
        if (ai != g->res)
            fputc(',', out);
        json_addr(out, ai->ai_addr, ai->ai_addrlen);
    }
    fputs("]}", out);
}

/* The JSON form of family_verdict. */
static const char *json_verdict(int global, int link)
{
    if (global)
        return "yes";
    return link ? "link-local-only" : "no";
}

static void json_interfaces(FILE *out, const struct facts *f)
{
    fputs(",\"interfaces\":[", out);
    for (size_t i = 0; i < f->n_ifa; i++) {
        const struct iface_addr *e = &f->ifa[i];
        fputs(i ? ",{\"name\":" : "{\"name\":", out);
        json_str(out, e->name);
        fputs(",\"address\":", out);
        json_str(out, e->ip);
        fprintf(out, ",\"family\":\"%s\",\"scope\":\"%s\"}", e->v4 ? "IPv4" : "IPv6",
                e->link ? "link-local" : "global");
    }
    fputc(']', out);
    if (!f->h.known) {
        fputs(",\"interfaces_error\":", out);
        json_str(out, strerror(f->if_errno));
        return;
    }
    fprintf(out, ",\"families\":{\"ipv4\":\"%s\",\"ipv6\":\"%s\"}",
            json_verdict(f->h.v4, f->h.v4_link), json_verdict(f->h.v6, f->h.v6_link));
    fprintf(out, ",\"mcfast_keeps\":[%s%s%s]", (f->keep & MCF_FAM_V4) ? "\"IPv4\"" : "",
            (f->keep & MCF_FAM_V4) && (f->keep & MCF_FAM_V6) ? "," : "",
            (f->keep & MCF_FAM_V6) ? "\"IPv6\"" : "");
}

static void json_notes(FILE *out, const struct facts *f)
{
    char text[NI_MAXHOST + WHY_MAX];
    fputs(",\"notes\":[", out);
    for (size_t i = 0; i < f->n_hidden; i++) {
        const struct hidden_addr *e = &f->hidden[i];
        snprintf(text, sizeof text, "getaddrinfo with AI_ADDRCONFIG hides %s%s%s", e->ip,
                 e->reason, e->remedy);
        fputs(i ? ",{\"hidden\":" : "{\"hidden\":", out);
        json_str(out, e->ip);
        fputs(",\"text\":", out);
        json_str(out, text);
        fputc('}', out);
    }
    fputc(']', out);
}

static void write_json(FILE *out, const struct facts *f)
{
    const mcf_spec *s = f->spec;
    fputc('{', out);
    json_key(out, "spec");
    json_str(out, s->text);
    if (s->is_unix) {
        fputc(',', out);
        json_key(out, "unix");
        json_str(out, s->path);
        fputc(',', out);
        json_key(out, "state");
        json_str(out, f->unix_state);
    } else {
        fputc(',', out);
        json_key(out, "host");
        json_str(out, s->host);
        fprintf(out, ",\"port\":%u,\"getaddrinfo\":{\"addrconfig\":", (unsigned)s->port);
        json_gai(out, &f->with);
        fputs(",\"no_addrconfig\":", out);
        json_gai(out, &f->without);
        fputc('}', out);
        json_interfaces(out, f);
    }
    fputs(",\"will_try\":[", out);
    for (size_t i = 0; f->rc == 0 && i < f->list.n; i++) {
        if (i)
            fputc(',', out);
        json_addr(out, (const struct sockaddr *)&f->list.addr[i].ss, f->list.addr[i].len);
    }
    fputs("],", out);
    if (f->rc == 0) {
        json_key(out, "source");
        json_str(out, f->list.source ? f->list.source : "?");
    } else {
        json_key(out, "error");
        json_str(out, f->why);
    }
    if (!s->is_unix)
        json_notes(out, f);
    fputs("}\n", out);
}

/* ---- the entry points ---- */

static int diagnose(FILE *out, const mcf_spec *spec, int timeout_ms, char *err, size_t errlen,
                    void (*writer)(FILE *, const struct facts *))
{
    struct facts f;
    int rc = gather(&f, spec, timeout_ms);
    if (rc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "resolve %s: %s", spec->text, mcf_strerror(rc));
        return rc;
    }
    writer(out, &f);
    rc = f.rc;
    if (rc != 0 && err && errlen)
        snprintf(err, errlen, "%s", f.why);
    facts_free(&f);
    return rc;
}

int mcf_addr_diagnose(FILE *out, const mcf_spec *spec, int timeout_ms, char *err,
                      size_t errlen)
{
    return diagnose(out, spec, timeout_ms, err, errlen, write_text);
}

int mcf_addr_diagnose_json(FILE *out, const mcf_spec *spec, int timeout_ms, char *err,
                           size_t errlen)
{
    return diagnose(out, spec, timeout_ms, err, errlen, write_json);
}
