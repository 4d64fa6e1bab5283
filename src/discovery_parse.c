/* discovery_parse.c - the configuration endpoint's reply (discovery_parse.h):
 * header, version line, node line, trailer, each checked before anything
 * is handed out, so the poller (discovery.c) never applies half a list. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "discovery_parse.h"

/* The header line is "CONFIG cluster <flags> <bytes>\r\n" or the legacy
 * VALUE line: well under this with any sane numbers. */
#define HEADER_MAX 128
/* Decimal digits of UINT64_MAX. */
#define U64_DIGITS_MAX 20

static const char config_hdr[] = "CONFIG cluster ";
static const char legacy_hdr[] = "VALUE AmazonElastiCache:cluster ";
static const char trailer[] = "\r\nEND\r\n";
#define LIT_LEN(s) (sizeof(s) - 1)

static int fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return MCF_DISC_ERROR;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits p[0..n) into *v: 0, or -1 when empty, not digits, or past
 * UINT64_MAX. */
static int parse_u64(const char *p, size_t n, uint64_t *v)
{
    if (n == 0 || n > U64_DIGITS_MAX)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* A host name's bytes: anything printable but the separators. */
static int host_char(char c)
{
    return c > ' ' && c < 0x7f && c != '|';
}

/* An IP literal: IPv4 dotted or IPv6 hex and colons, an IPv6 zone
 * ("%eth0") after them.  Which address it is, resolve.c decides. */
static int ip_ok(const char *p, size_t n)
{
    size_t i = 0;
    for (; i < n && p[i] != '%'; i++) {
        char c = p[i];
        if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
              c == ':'))
            return 0;
    }
    if (i == 0 && n)
        return 0;
    if (i < n && i + 1 == n)
        return 0; /* an empty zone */
    for (i++; i < n; i++)
        if (!host_char(p[i]) || p[i] == '%')
            return 0;
    return 1;
}

/* Splits one "host|ip|port" token: 0, or -1 with why in err. */
static int parse_node(const char *t, size_t n, mcf_disc_node *node, char *err, size_t errlen)
{
    const char *bar1 = memchr(t, '|', n);
    const char *bar2 = bar1 ? memchr(bar1 + 1, '|', n - (size_t)(bar1 + 1 - t)) : NULL;
    int show = n > 80 ? 80 : (int)n;
    if (!bar2)
        return fail(err, errlen, "node '%.*s' is not host|ip|port", show, t);
    node->host = t;
    node->host_len = (size_t)(bar1 - t);
    node->ip = bar1 + 1;
    node->ip_len = (size_t)(bar2 - bar1 - 1);
    const char *port = bar2 + 1;
    size_t port_len = n - (size_t)(port - t);
    if (node->host_len == 0 && node->ip_len == 0)
        return fail(err, errlen, "node '%.*s' has neither a host nor an ip", show, t);
    if (node->host_len > MCF_DISC_HOST_MAX)
        return fail(err, errlen, "node '%.*s': host longer than %d bytes", show, t,
                    MCF_DISC_HOST_MAX);
    for (size_t i = 0; i < node->host_len; i++)
        if (!host_char(node->host[i]))
            return fail(err, errlen, "node '%.*s': a byte 0x%02x in the host", show, t,
                        (unsigned char)node->host[i]);
    if (node->ip_len > MCF_DISC_IP_MAX)
        return fail(err, errlen, "node '%.*s': ip longer than %d bytes", show, t,
                    MCF_DISC_IP_MAX);
    if (!ip_ok(node->ip, node->ip_len))
        return fail(err, errlen, "node '%.*s': ip is not an address", show, t);
    uint64_t p;
    if (parse_u64(port, port_len, &p) < 0 || p == 0 || p > UINT16_MAX)
        return fail(err, errlen, "node '%.*s': port is not 1..65535", show, t);
    node->port = (uint16_t)p;
    return 0;
}

int mcf_disc_next_node(const mcf_disc_reply *r, size_t *pos, mcf_disc_node *node)
{
    size_t i = *pos;
    while (i < r->nodes_len && r->nodes[i] == ' ')
        i++;
    if (i >= r->nodes_len) {
        *pos = i;
        return 0;
    }
    const char *sp = memchr(r->nodes + i, ' ', r->nodes_len - i);
    size_t end = sp ? (size_t)(sp - r->nodes) : r->nodes_len;
    /* mcf_disc_parse checked every token: this cannot fail. */
    if (parse_node(r->nodes + i, end - i, node, NULL, 0) < 0)
        return 0;
    *pos = end;
    return 1;
}

/* The header line l[0..n), LF included: the body's length, or an error. */
static int parse_header(const char *l, size_t n, mcf_disc_reply *out, uint64_t *bytes,
                        char *err, size_t errlen)
{
    int show = (int)(n - 1);
    if (n < 2 || l[n - 2] != '\r')
        return fail(err, errlen, "header line '%.*s' does not end in CRLF", show, l);
    size_t body = n - 2; /* without CRLF */
    if (body == LIT_LEN("ERROR") && memcmp(l, "ERROR", body) == 0) {
        out->unknown_command = 1;
        return fail(err, errlen, "the endpoint answered ERROR: it does not know the command "
                                 "(not an ElastiCache configuration endpoint?)");
    }
    if (body == LIT_LEN("END") && memcmp(l, "END", body) == 0)
        return fail(err, errlen, "the endpoint has no cluster configuration (END alone)");
    const char *p;
    if (body > LIT_LEN(config_hdr) && memcmp(l, config_hdr, LIT_LEN(config_hdr)) == 0) {
        p = l + LIT_LEN(config_hdr);
    } else if (body > LIT_LEN(legacy_hdr) && memcmp(l, legacy_hdr, LIT_LEN(legacy_hdr)) == 0) {
        p = l + LIT_LEN(legacy_hdr);
        out->legacy = 1;
    } else {
        return fail(err, errlen, "unexpected answer '%.*s'", show - 1, l);
    }
    const char *end = l + body;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    uint64_t flags;
    if (!sp || parse_u64(p, (size_t)(sp - p), &flags) < 0 ||
        parse_u64(sp + 1, (size_t)(end - sp - 1), bytes) < 0)
        return fail(err, errlen, "header '%.*s': flags and byte count are not numbers",
                    show - 1, l);
    if (*bytes > MCF_DISC_BODY_MAX)
        return fail(err, errlen, "header '%.*s': a body of more than %d bytes", show - 1, l,
                    MCF_DISC_BODY_MAX);
    return 0;
}

/* A line b[0..n) ending in LF (or CRLF): its length without them. */
static size_t chomp(const char *b, size_t n)
{
    n--; /* LF */
    if (n && b[n - 1] == '\r')
        n--;
    return n;
}

/* The body b[0..n): version line, node line (each ending in LF). */
static int parse_body(const char *b, size_t n, mcf_disc_reply *out, char *err, size_t errlen)
{
    const char *lf = memchr(b, '\n', n);
    if (!lf)
        return fail(err, errlen, "the body (%zu bytes) has no version line", n);
    size_t vlen = chomp(b, (size_t)(lf - b) + 1);
    if (parse_u64(b, vlen, &out->version) < 0)
        return fail(err, errlen, "version '%.*s' is not a number up to %llu",
                    vlen > 40 ? 40 : (int)vlen, b, (unsigned long long)UINT64_MAX);
    const char *nodes = lf + 1;
    size_t rest = n - (size_t)(nodes - b);
    const char *lf2 = rest ? memchr(nodes, '\n', rest) : NULL;
    if (!lf2)
        return fail(err, errlen, "the body has no node line ending in LF");
    if (lf2 + 1 != b + n)
        return fail(err, errlen, "bytes after the node line: the byte count is wrong");
    out->nodes = nodes;
    out->nodes_len = chomp(nodes, (size_t)(lf2 - nodes) + 1);
    out->nnodes = 0;
    for (size_t i = 0; i < out->nodes_len;) {
        if (out->nodes[i] == ' ') {
            i++;
            continue;
        }
        const char *sp = memchr(out->nodes + i, ' ', out->nodes_len - i);
        size_t end = sp ? (size_t)(sp - out->nodes) : out->nodes_len;
        mcf_disc_node node;
        if (parse_node(out->nodes + i, end - i, &node, err, errlen) < 0)
            return MCF_DISC_ERROR;
        out->nnodes++;
        i = end;
    }
    return 0;
}

int mcf_disc_parse(const char *buf, size_t len, mcf_disc_reply *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    if (len == 0)
        return MCF_DISC_NEED_MORE; /* buf may be NULL then */
    const char *lf = memchr(buf, '\n', len < HEADER_MAX ? len : HEADER_MAX);
    if (!lf)
        return len < HEADER_MAX ? MCF_DISC_NEED_MORE
                                : fail(err, errlen, "no header line in the first %d bytes",
                                       HEADER_MAX);
    size_t hlen = (size_t)(lf - buf) + 1;
    uint64_t bytes = 0;
    if (parse_header(buf, hlen, out, &bytes, err, errlen) < 0)
        return MCF_DISC_ERROR;
    size_t total = hlen + (size_t)bytes + LIT_LEN(trailer);
    if (len < total) {
        /* The trailer's bytes that are there must be right already. */
        size_t have = len > hlen + bytes ? len - hlen - (size_t)bytes : 0;
        if (have && memcmp(buf + hlen + bytes, trailer, have) != 0)
            return fail(err, errlen, "the body is not followed by CRLF END CRLF: the byte "
                                     "count is wrong");
        return MCF_DISC_NEED_MORE;
    }
    if (memcmp(buf + hlen + bytes, trailer, LIT_LEN(trailer)) != 0)
        return fail(err, errlen,
                    "the body is not followed by CRLF END CRLF: the byte count is wrong");
    if (parse_body(buf + hlen, (size_t)bytes, out, err, errlen) < 0)
        return MCF_DISC_ERROR;
    out->consumed = total;
    return MCF_DISC_OK;
}
