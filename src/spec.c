/* spec.c - owns parsing of server specs and spec lists: pure text work, no sockets, no DNS. */
#include "spec.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcfast.h"

/* A DNS name is at most 253 bytes (RFC 1035 §2.3.4, without the root dot). */
#define SPEC_NAME_MAX 254
#define SPEC_ECHO_MAX 80 /* bytes of a bad spec quoted in a message */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The message names the spec; the spec may hold any byte (it comes from
 * configuration, and from a fuzzer), so it is quoted with escapes and cut. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int bad_spec(char *err, size_t errlen, const char *s, size_t len, const char *fmt, ...)
{
    char quoted[SPEC_ECHO_MAX * 4 + 8];
    size_t q = 0, i;
    size_t used;
    va_list ap;

    if (!err || errlen == 0)
        return MCF_ERR_BAD_SPEC;
    for (i = 0; i < len && i < SPEC_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
            q += (size_t)snprintf(quoted + q, sizeof quoted - q, "\\x%02x", c);
        else
            quoted[q++] = (char)c;
    }
    if (i < len)
        q += (size_t)snprintf(quoted + q, sizeof quoted - q, "...");
    quoted[q] = '\0';

    snprintf(err, errlen, "bad server spec '%s': ", quoted);
    used = strlen(err);
    if (used + 1 < errlen) {
        va_start(ap, fmt);
        vsnprintf(err + used, errlen - used, fmt, ap);
        va_end(ap);
    }
    return MCF_ERR_BAD_SPEC;
}

/* Decimal digits only (no sign, no spaces, no hex): strtoul would accept
 * " +0x1", and the input is not NUL-terminated anyway. */
static int parse_decimal(const char *p, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (unsigned long)(p[i] - '0');
        if (v > max)
            return -2;
    }
    *out = v;
    return 0;
}

/* An IPv6 literal, optionally with a zone ("fe80::1%eth0", "fe80::1%2").
 * inet_pton is pure parsing; the zone is only checked for shape here and
 * looked up in addr.c. */
static int is_v6_literal(const char *h, size_t n)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a;
    size_t alen = n, i;
    const char *pct = memchr(h, '%', n);

    if (pct) {
        size_t zlen = n - (size_t)(pct - h) - 1;
        const char *z = pct + 1;
        alen = (size_t)(pct - h);
        if (zlen == 0 || zlen >= IF_NAMESIZE)
            return 0;
        for (i = 0; i < zlen; i++)
            if (!is_alnum(z[i]) && z[i] != '-' && z[i] != '_' && z[i] != '.')
                return 0;
    }
    if (alen == 0 || alen >= sizeof buf)
        return 0;
    memcpy(buf, h, alen);
    buf[alen] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Host names and IPv4 literals: LDH plus '_' (used in service names). */
static int check_name(const char *s, size_t len, const char *h, size_t n, char *err,
                      size_t errlen)
{
    size_t i;

    if (n == 0)
        return bad_spec(err, errlen, s, len, "empty host");
    if (n >= SPEC_NAME_MAX)
        return bad_spec(err, errlen, s, len, "host name longer than %d bytes",
                        SPEC_NAME_MAX - 1);
    for (i = 0; i < n; i++)
        if (!is_alnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
            return bad_spec(err, errlen, s, len,
                            (h[i] == '[' || h[i] == ']')
                                ? "misplaced '%c' (an IPv6 address is written [addr]:port)"
                                : "invalid character '%c' in host name",
                            h[i]);
    return 0;
}

static int take_port(const char *s, size_t len, const char *p, size_t n, mcf_spec *out,
                     char *err, size_t errlen)
{
    unsigned long v = 0;
    int r;

    if (n == 0)
        return bad_spec(err, errlen, s, len, "empty port after ':'");
    r = parse_decimal(p, n, 65535, &v);
    if (r == -1)
        return bad_spec(err, errlen, s, len, "port '%.*s' is not a decimal number",
                        (int)(n > 16 ? 16 : n), p);
    if (r == -2 || v == 0)
        return bad_spec(err, errlen, s, len, "port %.*s out of range 1..65535",
                        (int)(n > 16 ? 16 : n), p);
    out->port = (uint16_t)v;
    out->port_written = 1;
    return 0;
}

static int take_weight(const char *s, size_t len, const char *p, size_t n, mcf_spec *out,
                       char *err, size_t errlen)
{
    unsigned long v = 0;
    int r;

    if (n == 0)
        return bad_spec(err, errlen, s, len, "empty weight after ':'");
    r = parse_decimal(p, n, MCF_SPEC_WEIGHT_MAX, &v);
    if (r == -1)
        return bad_spec(err, errlen, s, len, "weight '%.*s' is not a decimal number",
                        (int)(n > 16 ? 16 : n), p);
    if (r == -2 || v == 0)
        return bad_spec(err, errlen, s, len, "weight %.*s out of range 1..%u",
                        (int)(n > 16 ? 16 : n), p, MCF_SPEC_WEIGHT_MAX);
    out->weight = (unsigned)v;
    out->weight_written = 1;
    return 0;
}

/* "port" or "port:weight" (the part after a host's ':'). */
static int take_port_weight(const char *s, size_t len, const char *p, size_t n,
                            mcf_spec *out, char *err, size_t errlen)
{
    const char *c = memchr(p, ':', n);
    int rc;

    if (!c)
        return take_port(s, len, p, n, out, err, errlen);
    if (memchr(c + 1, ':', n - (size_t)(c - p) - 1))
        return bad_spec(err, errlen, s, len,
                        "too many ':' fields (expected host:port:weight)");
    rc = take_port(s, len, p, (size_t)(c - p), out, err, errlen);
    if (rc)
        return rc;
    return take_weight(s, len, c + 1, n - (size_t)(c - p) - 1, out, err, errlen);
}

static int set_host(const char *s, size_t len, const char *h, size_t n, mcf_spec *out,
                    char *err, size_t errlen)
{
    if (n >= sizeof out->host)
        return bad_spec(err, errlen, s, len, "host too long");
    memcpy(out->host, h, n);
    out->host[n] = '\0';
    return 0;
}

static int set_text(const char *s, size_t len, size_t textlen, mcf_spec *out, char *err,
                    size_t errlen)
{
    if (textlen >= sizeof out->text)
        return bad_spec(err, errlen, s, len, "spec longer than %zu bytes",
                        sizeof out->text - 1);
    memcpy(out->text, s, textlen);
    out->text[textlen] = '\0';
    return 0;
}

/* "/abs/path" or "unix:/abs/path", each optionally followed by ":weight".
 * A path may legitimately contain ':', so only a trailing ':' + digits is
 * taken as the weight (libmemcached's "/path.sock:weight"); a socket whose
 * file name really ends in ":<digits>" cannot be written as a spec. */
static int parse_unix(const char *s, size_t len, size_t prefix, mcf_spec *out, char *err,
                      size_t errlen)
{
    const char *path = s + prefix;
    size_t plen = len - prefix, textlen = len, i;
    int rc;

    for (i = plen; i > 0 && is_digit(path[i - 1]); i--)
        ;
    if (i > 0 && i < plen && path[i - 1] == ':') {
        rc = take_weight(s, len, path + i, plen - i, out, err, errlen);
        if (rc)
            return rc;
        plen = i - 1;
        textlen = prefix + plen;
    }
    if (plen == 0)
        return bad_spec(err, errlen, s, len, "empty unix socket path");
    if (path[0] != '/')
        return bad_spec(err, errlen, s, len, "unix socket path must be absolute");
    if (plen >= sizeof out->path)
        return bad_spec(err, errlen, s, len,
                        "unix socket path too long (%zu bytes, at most %zu fit in sun_path)",
                        plen, sizeof out->path - 1);
    memcpy(out->path, path, plen);
    out->path[plen] = '\0';
    out->is_unix = 1;
    return set_text(s, len, textlen, out, err, errlen);
}

/* "[v6]", "[v6]:port", "[v6]:port:weight"; the zone stays in host. */
static int parse_bracketed(const char *s, size_t len, mcf_spec *out, char *err,
                           size_t errlen)
{
    const char *rb = memchr(s, ']', len);
    size_t hlen, after;
    int rc;

    if (!rb)
        return bad_spec(err, errlen, s, len, "missing ']'");
    hlen = (size_t)(rb - s) - 1;
    if (hlen == 0)
        return bad_spec(err, errlen, s, len, "empty host between [ and ]");
    if (memchr(s + 1, '[', hlen))
        return bad_spec(err, errlen, s, len, "misplaced '['");
    if (!is_v6_literal(s + 1, hlen))
        return bad_spec(err, errlen, s, len,
                        "'%.*s' between [ and ] is not an IPv6 address (zone: %%name or %%number)",
                        (int)(hlen > 64 ? 64 : hlen), s + 1);
    rc = set_host(s, len, s + 1, hlen, out, err, errlen);
    if (rc)
        return rc;
    after = len - (size_t)(rb - s) - 1;
    if (after > 0) {
        if (rb[1] != ':')
            return bad_spec(err, errlen, s, len,
                            "unexpected characters after ']' (expected ':port')");
        rc = take_port_weight(s, len, rb + 2, after - 1, out, err, errlen);
        if (rc)
            return rc;
    }
    /* The weight is the only field after the port: cut at the second ':' after ']'. */
    {
        size_t textlen = len;
        if (after > 0) {
            const char *c = memchr(rb + 2, ':', after - 1);
            if (c)
                textlen = (size_t)(c - s);
        }
        return set_text(s, len, textlen, out, err, errlen);
    }
}

#define TLS_PREFIX "tls:"
#define TLS_PREFIX_LEN (sizeof TLS_PREFIX - 1)

/* "port" or "port:weight": what may follow a host named "tls". */
static int is_port_weight(const char *p, size_t n)
{
    size_t i = 0, fields = 1;
    if (n == 0 || !is_digit(p[0]))
        return 0;
    for (; i < n; i++) {
        if (p[i] == ':' && i + 1 < n && is_digit(p[i + 1]) && fields++ < 2)
            continue;
        if (!is_digit(p[i]))
            return 0;
    }
    return 1;
}

static int parse_plain(const char *s, size_t len, mcf_spec *out, char *err, size_t errlen);

/* "tls:" + a spec: TLS to that server.  The text keeps the prefix, so
 * messages say which servers were meant to be TLS.  "tls:11211" and
 * "tls:11211:2" stay a host named tls with a port (as "unix:11211" does). */
static int parse_one(const char *s, size_t len, mcf_spec *out, char *err, size_t errlen)
{
    int rc;
    size_t n = len;
    const char *p = s;
    while (n > 0 && is_space(p[0])) {
        p++;
        n--;
    }
    if (n <= TLS_PREFIX_LEN || memcmp(p, TLS_PREFIX, TLS_PREFIX_LEN) != 0 ||
        is_port_weight(p + TLS_PREFIX_LEN, n - TLS_PREFIX_LEN))
        return parse_plain(s, len, out, err, errlen);
    rc = parse_plain(p + TLS_PREFIX_LEN, n - TLS_PREFIX_LEN, out, err, errlen);
    if (rc) {
        /* The message quotes the spec as written: "bad server spec 'tls:...'". */
        static const char quote[] = "bad server spec '";
        size_t q = sizeof quote - 1, el = err ? strlen(err) : 0;
        if (el >= q && memcmp(err, quote, q) == 0 && el + TLS_PREFIX_LEN < errlen) {
            memmove(err + q + TLS_PREFIX_LEN, err + q, el - q + 1);
            memcpy(err + q, TLS_PREFIX, TLS_PREFIX_LEN);
        }
        return rc;
    }
    if (out->is_unix)
        return bad_spec(err, errlen, s, len,
                        "TLS over a unix socket is not supported (memcached serves TLS on TCP "
                        "only)");
    size_t tl = strlen(out->text);
    if (tl + TLS_PREFIX_LEN >= sizeof out->text)
        return bad_spec(err, errlen, s, len, "spec longer than %zu bytes",
                        sizeof out->text - 1);
    memmove(out->text + TLS_PREFIX_LEN, out->text, tl + 1);
    memcpy(out->text, TLS_PREFIX, TLS_PREFIX_LEN);
    out->tls = 1;
    return 0;
}

static int parse_plain(const char *s, size_t len, mcf_spec *out, char *err, size_t errlen)
{
    size_t i, colons = 0;
    const char *c1, *c2;
    int rc;

    if (!out)
        return MCF_ERR_BAD_SPEC;
    memset(out, 0, sizeof *out);
    out->port = MCF_DEFAULT_PORT;
    out->weight = 1;
    if (!s)
        return bad_spec(err, errlen, "", 0, "empty server spec");
    /* Surrounding blanks are a configuration accident, not part of a name. */
    while (len > 0 && is_space(s[0])) {
        s++;
        len--;
    }
    while (len > 0 && is_space(s[len - 1]))
        len--;
    if (len == 0)
        return bad_spec(err, errlen, s, len, "empty server spec");
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return bad_spec(err, errlen, s, len, "contains a blank or control character");
    }

    if (s[0] == '/')
        return parse_unix(s, len, 0, out, err, errlen);
    /* "unix:/path"; "unix:11211" stays a host named unix with a port. */
    if (len >= 5 && memcmp(s, "unix:", 5) == 0 && (len == 5 || !is_digit(s[5])))
        return parse_unix(s, len, 5, out, err, errlen);
    if (s[0] == '[')
        return parse_bracketed(s, len, out, err, errlen);

    for (i = 0; i < len; i++)
        colons += s[i] == ':';

    /* Two or more colons without brackets: a bare IPv6 literal, port
     * 11211.  Only if it is not one may it be host:port:weight; "::1:11212"
     * is rejected rather than guessed (is "::1:1121" an address or not?). */
    if (colons >= 2 && is_v6_literal(s, len)) {
        rc = set_host(s, len, s, len, out, err, errlen);
        return rc ? rc : set_text(s, len, len, out, err, errlen);
    }
    if (colons > 2 || (colons == 2 && s[0] == ':'))
        return bad_spec(err, errlen, s, len,
                        "neither host:port:weight nor an IPv6 address "
                        "(an IPv6 address with a port is written [addr]:port)");

    c1 = memchr(s, ':', len);
    c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 - s) - 1) : NULL;
    {
        size_t hlen = c1 ? (size_t)(c1 - s) : len;
        rc = check_name(s, len, s, hlen, err, errlen);
        if (rc)
            return rc;
        rc = set_host(s, len, s, hlen, out, err, errlen);
        if (rc)
            return rc;
    }
    if (c1) {
        rc = take_port_weight(s, len, c1 + 1, len - (size_t)(c1 - s) - 1, out, err, errlen);
        if (rc)
            return rc;
    }
    return set_text(s, len, c2 ? (size_t)(c2 - s) : len, out, err, errlen);
}

int mcf_spec_parse(const char *s, size_t len, mcf_spec *out, char *err, size_t errlen)
{
    int rc = parse_one(s, len, out, err, errlen);

    /* No half-filled spec on error: callers may keep it around. */
    if (rc && out) {
        memset(out, 0, sizeof *out);
        out->port = MCF_DEFAULT_PORT;
        out->weight = 1;
    }
    return rc;
}

static int is_list_sep(char c) { return c == ',' || is_space(c); }

int mcf_spec_parse_list(const char *list, mcf_spec **out, size_t *n, char *err,
                        size_t errlen)
{
    size_t count = 0, k = 0, i, len;
    int want_spec = 0; /* a ',' was seen and no spec has followed it yet */
    mcf_spec *v;

    if (!out || !n)
        return MCF_ERR_BAD_SPEC;
    *out = NULL;
    *n = 0;
    len = list ? strlen(list) : 0;

    /* Pass 1: shape and count.  An empty field between commas is an error
     * rather than skipped: "a,,b" usually means a missing variable, and
     * dropping a server silently would move keys. */
    for (i = 0; i < len;) {
        if (is_space(list[i])) {
            i++;
        } else if (list[i] == ',') {
            if (want_spec || count == 0) {
                if (err && errlen)
                    snprintf(err, errlen,
                             "bad server list: empty spec before ',' at offset %zu", i);
                return MCF_ERR_BAD_SPEC;
            }
            want_spec = 1;
            i++;
        } else {
            while (i < len && !is_list_sep(list[i]))
                i++;
            count++;
            want_spec = 0;
        }
    }
    if (count == 0) {
        if (err && errlen)
            snprintf(err, errlen, "bad server list: empty list");
        return MCF_ERR_BAD_SPEC;
    }
    if (want_spec) {
        if (err && errlen)
            snprintf(err, errlen, "bad server list: empty spec after the last ','");
        return MCF_ERR_BAD_SPEC;
    }

    v = calloc(count, sizeof *v);
    if (!v) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory for %zu server specs", count);
        return MCF_ERR_NOMEM;
    }
    for (i = 0; i < len;) {
        size_t start;
        int rc;
        if (is_list_sep(list[i])) {
            i++;
            continue;
        }
        start = i;
        while (i < len && !is_list_sep(list[i]))
            i++;
        rc = mcf_spec_parse(list + start, i - start, &v[k], err, errlen);
        if (rc) {
            free(v);
            return rc;
        }
        k++;
    }
    *out = v;
    *n = k;
    return 0;
}
