/* codec.c - text protocol encoding and reply parsing; pure (see codec.h). */
#include "codec.h"

#include <string.h>

#include "mcfast.h"

size_t mcf_u64_to_dec(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t mcf_i64_to_dec(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        /* via unsigned so INT64_MIN does not overflow */
        return 1 + mcf_u64_to_dec(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return mcf_u64_to_dec(out, (uint64_t)v);
}

/* Nonzero if any byte is <= 0x20 or 0x7f: such bytes would split or end
 * the command line, so they are rejected rather than escaped (no protocol
 * injection).  Eight bytes at a time with the exact word tests "has a byte
 * less than n" and "has a zero byte" (Sean Anderson, Bit Twiddling Hacks,
 * graphics.stanford.edu/~seander/bithacks.html#HasLessInWord). */
#define ONES ((uint64_t)0x0101010101010101ull)
#define HIGHS ((uint64_t)0x8080808080808080ull)
static int word_has_forbidden_byte(uint64_t x)
{
    uint64_t lt21 = (x - ONES * 0x21) & ~x & HIGHS;
    uint64_t y = x ^ (ONES * 0x7f);
    uint64_t del = (y - ONES) & ~y & HIGHS;
    return (lt21 | del) != 0;
}

static int has_forbidden_byte(const char *p, size_t n)
{
    uint64_t x;
    if (n < 8) {
        /* Padded with a byte that is allowed, so the word test covers the
         * short key (most keys) in one step. */
        x = ONES * 'a';
        memcpy(&x, p, n);
        return word_has_forbidden_byte(x);
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        if (word_has_forbidden_byte(x))
            return 1;
    }
    if (i == n)
        return 0;
    /* The last 8 bytes, overlapping those already checked. */
    memcpy(&x, p + n - 8, 8);
    return word_has_forbidden_byte(x);
}

int mcf_check_key(const char *ns, size_t ns_len, const char *key, size_t key_len)
{
    if (!key || key_len == 0 || ns_len + key_len > MCF_MAX_KEY_LEN)
        return MCF_ERR_BAD_KEY;
    if (has_forbidden_byte(key, key_len) || (ns_len && has_forbidden_byte(ns, ns_len)))
        return MCF_ERR_BAD_KEY;
    return MCF_OK;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_key(char *p, const char *ns, size_t ns_len, const char *key, size_t key_len)
{
    if (ns_len)
        p = put(p, ns, ns_len);
    return put(p, key, key_len);
}

static char *put_end(char *p, int noreply)
{
    if (noreply)
        p = put(p, " noreply", 8);
    return put(p, "\r\n", 2);
}

size_t mcf_enc_storage(char *out, const char *cmd, size_t cmd_len, const char *ns,
                       size_t ns_len, const char *key, size_t key_len, uint32_t flags,
                       int64_t exptime, size_t bytes, uint64_t cas, int with_cas,
                       int noreply)
{
    char *p = put(out, cmd, cmd_len);
    *p++ = ' ';
    p = put_key(p, ns, ns_len, key, key_len);
    *p++ = ' ';
    p += mcf_u64_to_dec(p, flags);
    *p++ = ' ';
    p += mcf_i64_to_dec(p, exptime);
    *p++ = ' ';
    p += mcf_u64_to_dec(p, bytes);
    if (with_cas) {
        *p++ = ' ';
        p += mcf_u64_to_dec(p, cas);
    }
    p = put_end(p, noreply);
    return (size_t)(p - out);
}

size_t mcf_enc_arith(char *out, int incr, const char *ns, size_t ns_len, const char *key,
                     size_t key_len, uint64_t delta, int noreply)
{
    char *p = put(out, incr ? "incr " : "decr ", 5);
    p = put_key(p, ns, ns_len, key, key_len);
    *p++ = ' ';
    p += mcf_u64_to_dec(p, delta);
    p = put_end(p, noreply);
    return (size_t)(p - out);
}

size_t mcf_enc_delete(char *out, const char *ns, size_t ns_len, const char *key,
                      size_t key_len, int noreply)
{
    char *p = put(out, "delete ", 7);
    p = put_key(p, ns, ns_len, key, key_len);
    p = put_end(p, noreply);
    return (size_t)(p - out);
}

size_t mcf_enc_touch(char *out, const char *ns, size_t ns_len, const char *key,
                     size_t key_len, int64_t exptime, int noreply)
{
    char *p = put(out, "touch ", 6);
    p = put_key(p, ns, ns_len, key, key_len);
    *p++ = ' ';
    p += mcf_i64_to_dec(p, exptime);
    p = put_end(p, noreply);
    return (size_t)(p - out);
}

/* ---- reply parsing ---- */

/* Parses an unsigned decimal token at p (< end): the position after it,
 * or NULL for an empty token or a value above max.  Up to 19 digits cannot
 * overflow 64 bits, so the common case accumulates in one pass without
 * checks.  (Pointers in and out, not through a pointer to a pointer: the
 * cursor then stays in a register.) */
static const char *parse_u64(const char *p, const char *end, uint64_t max, uint64_t *out)
{
    const char *q = p;
    uint64_t v = 0;
    while (q < end && (unsigned)(*q - '0') < 10) {
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    size_t n = (size_t)(q - p);
    if (n == 0)
        return NULL;
    if (n > 19) {
        v = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(p[i] - '0');
            if (v > (UINT64_MAX - d) / 10)
                return NULL;
            v = v * 10 + d;
        }
    }
    if (v > max)
        return NULL;
    *out = v;
    return q;
}

/* One or more spaces at p: the position after them, else NULL. */
static const char *eat_space(const char *p, const char *end)
{
    if (p >= end || *p != ' ')
        return NULL;
    do
        p++;
    while (p < end && *p == ' ');
    return p;
}

static int starts(const char *line, size_t len, const char *word, size_t wlen)
{
    return len >= wlen && memcmp(line, word, wlen) == 0;
}

static int is(const char *line, size_t len, const char *word, size_t wlen)
{
    return len == wlen && memcmp(line, word, wlen) == 0;
}

#define LIT(s) s, sizeof(s) - 1

/* "VALUE <key> <flags> <bytes> [<cas>]" */
static ssize_t parse_value(const char *buf, size_t len, const char *line, size_t line_len,
                           size_t header_len, size_t max_value, mcf_reply *r)
{
    const char *p = line + 6, *end = line + line_len;
    uint64_t flags, bytes, cas = 0;
    r->key = p;
    p = memchr(p, ' ', (size_t)(end - p));
    if (!p)
        return MCF_PARSE_BAD_LINE;
    r->key_len = (size_t)(p - r->key);
    if (r->key_len == 0 || r->key_len > MCF_MAX_KEY_LEN)
        return MCF_PARSE_BAD_LINE;
    if (!(p = eat_space(p, end)) || !(p = parse_u64(p, end, UINT32_MAX, &flags)))
        return MCF_PARSE_BAD_LINE;
    if (!(p = eat_space(p, end)) || !(p = parse_u64(p, end, UINT64_MAX, &bytes)))
        return MCF_PARSE_BAD_LINE;
    if (p < end) {
        if (!(p = eat_space(p, end)) || !(p = parse_u64(p, end, UINT64_MAX, &cas)))
            return MCF_PARSE_BAD_LINE;
        while (p < end && *p == ' ')
            p++;
        if (p != end)
            return MCF_PARSE_BAD_LINE;
    }
    if (bytes > max_value)
        return MCF_PARSE_TOO_LARGE;
    r->type = MCF_R_VALUE;
    r->flags = (uint32_t)flags;
    r->cas = cas;
    size_t total = header_len + (size_t)bytes + 2;
    if (len < total) {
        r->need = total;
        return 0;
    }
    r->data = buf + header_len;
    r->data_len = (size_t)bytes;
    if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
        return MCF_PARSE_BAD_DATA;
    return (ssize_t)total;
}

ssize_t mcf_reply_line(const char *buf, size_t len)
{
    if (len == 0)
        return 0; /* memchr must not see a NULL buf */
    size_t scan = len < MCF_MAX_REPLY_LINE ? len : MCF_MAX_REPLY_LINE;
    const char *nl = memchr(buf, '\n', scan);
    if (!nl)
        return len >= MCF_MAX_REPLY_LINE ? MCF_PARSE_LINE_TOO_LONG : 0;
    size_t line_len = (size_t)(nl - buf) + 1;
    if (line_len < 2 || nl[-1] != '\r')
        return MCF_PARSE_BAD_LINE;
    return (ssize_t)line_len;
}

/* "STAT <name> <value>" and the like after a prefix of skip bytes: the
 * first word is r->key, the rest of the line r->data. */
static void parse_stat(const char *line, size_t ll, size_t skip, mcf_reply *r)
{
    const char *p = line + skip, *end = line + ll;
    r->key = p;
    while (p < end && *p != ' ')
        p++;
    r->key_len = (size_t)(p - r->key);
    if (p < end)
        p++;
    r->data = p;
    r->data_len = (size_t)(end - p);
    r->type = MCF_R_STAT;
}

/* "lru_crawler metadump": key=<url-encoded> exp=... (protocol.txt).
 * memcached 1.6 ends these lines with a bare LF (only its END has CRLF);
 * a CR before it is taken too. */
static ssize_t parse_dump_line(const char *buf, size_t len, mcf_reply *r)
{
    size_t scan = len < MCF_MAX_REPLY_LINE ? len : MCF_MAX_REPLY_LINE;
    const char *nl = memchr(buf, '\n', scan);
    if (!nl)
        return len >= MCF_MAX_REPLY_LINE ? MCF_PARSE_LINE_TOO_LONG : 0;
    size_t ll = (size_t)(nl - buf);
    if (!starts(buf, ll, LIT("key=")))
        return MCF_PARSE_BAD_LINE;
    r->type = MCF_R_DUMP;
    r->data = buf;
    r->data_len = ll && buf[ll - 1] == '\r' ? ll - 1 : ll;
    return (ssize_t)(ll + 1);
}

ssize_t mcf_parse_reply(const char *buf, size_t len, size_t max_value, mcf_reply *r)
{
    memset(r, 0, sizeof *r);
    /* The lines that end most replies ("END" after every retrieval,
     * "STORED" after every set), recognised by one compare before the
     * general line scan; the first byte keeps VALUE lines off it. */
    if (len && buf[0] == 'E' && starts(buf, len, LIT("END\r\n"))) {
        r->type = MCF_R_END;
        return (ssize_t)(sizeof "END\r\n" - 1);
    }
    if (len && buf[0] == 'S' && starts(buf, len, LIT("STORED\r\n"))) {
        r->type = MCF_R_STORED;
        return (ssize_t)(sizeof "STORED\r\n" - 1);
    }
    if (len && buf[0] == 'k')
        return parse_dump_line(buf, len, r);
    ssize_t found = mcf_reply_line(buf, len);
    if (found <= 0)
        return found;
    size_t header_len = (size_t)found;
    const char *line = buf;
    size_t ll = header_len - 2;

    switch (line[0]) {
    case 'V':
        if (starts(line, ll, LIT("VALUE ")))
            return parse_value(buf, len, line, ll, header_len, max_value, r);
        if (starts(line, ll, LIT("VERSION "))) {
            r->type = MCF_R_VERSION;
            r->data = line + 8;
            r->data_len = ll - 8;
            return (ssize_t)header_len;
        }
        break;
    case 'E':
        if (is(line, ll, LIT("END")))
            r->type = MCF_R_END;
        else if (is(line, ll, LIT("EXISTS")))
            r->type = MCF_R_EXISTS;
        else if (is(line, ll, LIT("ERROR")) || starts(line, ll, LIT("ERROR "))) {
            r->type = MCF_R_ERROR;
            r->data = line;
            r->data_len = ll;
        }
        break;
    case 'S':
        if (is(line, ll, LIT("STORED")))
            r->type = MCF_R_STORED;
        else if (starts(line, ll, LIT("STAT ")))
            parse_stat(line, ll, sizeof "STAT " - 1, r);
        else if (starts(line, ll, LIT("SERVER_ERROR"))) {
            r->type = MCF_R_SERVER_ERROR;
            r->data = line + (ll > 13 ? 13 : ll);
            r->data_len = ll > 13 ? ll - 13 : 0;
        }
        break;
    case 'B':
        /* lru_crawler's refusals (protocol.txt, "LRU_Crawler"): another
         * crawl is running, or the argument names no class (a memcached
         * before 1.6.9 for "metadump hash").  Errors with their text. */
        if (starts(line, ll, LIT("BUSY")) || starts(line, ll, LIT("BADCLASS"))) {
            r->type = MCF_R_ERROR;
            r->data = line;
            r->data_len = ll;
        }
        break;
    case 'I':
        /* "stats cachedump": ITEM <key> [<size> b; <exptime> s] (memcached's
         * items.c, item_cachedump; protocol.txt does not describe it) */
        if (starts(line, ll, LIT("ITEM ")))
            parse_stat(line, ll, sizeof "ITEM " - 1, r);
        break;
    case 'N':
        if (is(line, ll, LIT("NOT_STORED")))
            r->type = MCF_R_NOT_STORED;
        else if (is(line, ll, LIT("NOT_FOUND")))
            r->type = MCF_R_NOT_FOUND;
        break;
    case 'D':
        if (is(line, ll, LIT("DELETED")))
            r->type = MCF_R_DELETED;
        break;
    case 'T':
        if (is(line, ll, LIT("TOUCHED")))
            r->type = MCF_R_TOUCHED;
        break;
    case 'O':
        if (is(line, ll, LIT("OK")))
            r->type = MCF_R_OK;
        break;
    case 'C':
        if (starts(line, ll, LIT("CLIENT_ERROR"))) {
            r->type = MCF_R_CLIENT_ERROR;
            r->data = line + (ll > 13 ? 13 : ll);
            r->data_len = ll > 13 ? ll - 13 : 0;
        }
        break;
    default:
        if (line[0] >= '0' && line[0] <= '9') {
            /* incr/decr: memcached may pad the number with trailing spaces
             * after a decr shortens it (protocol.txt, "Increment/Decrement"). */
            const char *p = line, *end = line + ll;
            if (!(p = parse_u64(p, end, UINT64_MAX, &r->number)))
                return MCF_PARSE_BAD_LINE;
            while (p < end && *p == ' ')
                p++;
            if (p != end)
                return MCF_PARSE_BAD_LINE;
            r->type = MCF_R_NUMBER;
        }
        break;
    }
    if (r->type == 0)
        return MCF_PARSE_BAD_LINE;
    return (ssize_t)header_len;
}

const char *mcf_parse_strerror(ssize_t code)
{
    switch (code) {
    case MCF_PARSE_BAD_LINE:
        return "malformed reply line";
    case MCF_PARSE_LINE_TOO_LONG:
        return "reply line too long (no CRLF within 8192 bytes)";
    case MCF_PARSE_TOO_LARGE:
        return "value larger than the client's max value size";
    case MCF_PARSE_BAD_DATA:
        return "value data not terminated by CRLF (length mismatch)";
    default:
        return "unknown parse error";
    }
}
