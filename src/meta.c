/* meta.c - meta protocol encoding and reply parsing; pure (see meta.h).
 * Protocol references are to protocol.txt, "Meta Commands" and the
 * sections "Meta Debug" .. "Meta No-Op". */
#include "meta.h"

#include <string.h>

#include "codec.h"
#include "mcfast.h"

/* ---- base64 ---- */

/* RFC 4648 section 4: the standard alphabet, '=' padding.  memcached's 'b'
 * flag decodes exactly this (protocol.txt, Meta Get: "interpret key as
 * base64 encoded binary value"; memcached's base64.c has this alphabet
 * and wants the padding). */
static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
#define B64_PAD '='
#define B64_BAD 64u /* b64_value() of a byte outside the alphabet */

size_t mcf_meta_b64_encode(char *out, const void *in, size_t len)
{
    /* Each 3 bytes (24 bits) become 4 characters of 6 bits, high bits
     * first; a final 1 or 2 bytes are zero-extended and padded (4648 §4). */
    const unsigned char *src = in;
    char *p = out;
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        uint32_t g = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        *p++ = b64_alphabet[g >> 18];
        *p++ = b64_alphabet[g >> 12 & 0x3f];
        *p++ = b64_alphabet[g >> 6 & 0x3f];
        *p++ = b64_alphabet[g & 0x3f];
    }
    if (len - i) {
        uint32_t g = (uint32_t)src[i] << 16;
        if (len - i == 2)
            g |= (uint32_t)src[i + 1] << 8;
        *p++ = b64_alphabet[g >> 18];
        *p++ = b64_alphabet[g >> 12 & 0x3f];
        *p++ = len - i == 2 ? b64_alphabet[g >> 6 & 0x3f] : B64_PAD;
        *p++ = B64_PAD;
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* 0..63 for a base64 alphabet byte, B64_BAD for anything else. */
static unsigned b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return B64_BAD;
}

ssize_t mcf_meta_b64_decode(void *out, size_t cap, const char *in, size_t len)
{
    /* Strict, as a protocol parser must be (RFC 4648 §3.3 lets an
     * implementation reject anything outside the alphabet): no whitespace,
     * padding only at the end, and the text validated in full before a
     * byte is written. */
    if (len == 0)
        return 0;
    if (len % 4)
        return -1;
    size_t pad = in[len - 1] == B64_PAD ? (in[len - 2] == B64_PAD ? 2 : 1) : 0;
    for (size_t i = 0; i < len - pad; i++)
        if (b64_value((unsigned char)in[i]) == B64_BAD)
            return -1;
    /* Canonical (RFC 4648 §3.5): the bits the padding leaves over must be
     * zero, else two texts would decode to the same key. */
    if (pad == 2 && (b64_value((unsigned char)in[len - 3]) & 0x0f))
        return -1;
    if (pad == 1 && (b64_value((unsigned char)in[len - 2]) & 0x03))
        return -1;
    size_t n = len / 4 * 3 - pad;
    if (n > cap)
        return -1;
    /* Every group but a padded last one gives 3 bytes; that one 1 or 2. */
    unsigned char *dst = out;
    for (size_t i = 0, o = 0; i < len; i += 4) {
        uint32_t g = 0;
        for (size_t j = 0; j < 4; j++) {
            unsigned char ch = (unsigned char)in[i + j];
            g = g << 6 | (ch == B64_PAD ? 0 : b64_value(ch));
        }
        dst[o++] = (unsigned char)(g >> 16);
        if (o < n)
            dst[o++] = (unsigned char)(g >> 8);
        if (o < n)
            dst[o++] = (unsigned char)g;
    }
    return (ssize_t)n;
}

/* ---- keys ---- */

int mcf_meta_key_init(mcf_meta_key *k, const char *ns, size_t ns_len, const char *key,
                      size_t key_len, int allow_binary)
{
    if (!k)
        return MCF_ERR_BAD_KEY;
    memset(k, 0, sizeof *k);
    if (!key || key_len == 0 || (ns_len && !ns))
        return MCF_ERR_BAD_KEY;
    k->ns = ns_len ? ns : NULL;
    k->ns_len = ns_len;
    k->key = key;
    k->key_len = key_len;
    if (mcf_check_key(ns, ns_len, key, key_len) == MCF_OK) {
        k->wire_len = ns_len + key_len;
        return MCF_OK;
    }
    /* Not sendable verbatim: base64 with 'b' (protocol.txt, Meta Get, "b:
     * interpret key as base64 encoded binary value").  The 250-byte limit
     * is checked by memcached on the encoded token. */
    if (!allow_binary || ns_len > MCF_META_MAX_BINARY_KEY ||
        key_len > MCF_META_MAX_BINARY_KEY - ns_len) {
        memset(k, 0, sizeof *k);
        return MCF_ERR_BAD_KEY;
    }
    k->b64 = 1;
    k->wire_len = (ns_len + key_len + 2) / 3 * 4;
    return MCF_OK;
}

/* ---- requests ---- */

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_key(char *p, const mcf_meta_key *k)
{
    if (!k->b64) {
        if (k->ns_len)
            p = put(p, k->ns, k->ns_len);
        return put(p, k->key, k->key_len);
    }
    unsigned char raw[MCF_META_MAX_BINARY_KEY];
    if (k->ns_len)
        memcpy(raw, k->ns, k->ns_len);
    memcpy(raw + k->ns_len, k->key, k->key_len);
    /* Writes a NUL after the text; enc() always writes more after the key
     * (at least CRLF), so it stays inside the request. */
    return p + mcf_meta_b64_encode(p, raw, k->ns_len + k->key_len);
}

/* Letter flags, written in this order. */
static const struct {
    unsigned bit;
    char ch;
} letters[] = {{MCF_MF_V, 'v'}, {MCF_MF_F, 'f'}, {MCF_MF_C, 'c'}, {MCF_MF_T, 't'},
               {MCF_MF_L, 'l'}, {MCF_MF_H, 'h'}, {MCF_MF_K, 'k'}, {MCF_MF_S, 's'},
               {MCF_MF_U, 'u'}, {MCF_MF_Q, 'q'}, {MCF_MF_I, 'I'}, {MCF_MF_X, 'x'}};

static char *put_u(char *p, char flag, uint64_t v)
{
    *p++ = ' ';
    *p++ = flag;
    return p + mcf_u64_to_dec(p, v);
}

static char *put_i(char *p, char flag, int64_t v)
{
    *p++ = ' ';
    *p++ = flag;
    return p + mcf_i64_to_dec(p, v);
}

/* cmd: two letters; allowed: the command's MCF_*_FLAGS; modes: the M
 * tokens it knows; datalen written when with_len (ms). */
static size_t enc(char *out, const char *cmd, unsigned allowed, const char *modes,
                  const mcf_meta_key *k, int with_len, size_t datalen, const mcf_meta_args *a)
{
    static const mcf_meta_args none;
    if (!a)
        a = &none;
    unsigned f = a->flags;
    if (f & ~allowed)
        return 0;
    if ((f & MCF_MF_MODE) && (a->mode == 0 || !strchr(modes, (int)a->mode)))
        return 0;
    /* Only what mcf_meta_key_init() produced keeps the request (and the
     * base64 scratch in put_key) in bounds: check that it is one. */
    if (!k || !k->key || k->wire_len == 0 || k->wire_len > MCF_MAX_KEY_LEN ||
        (k->ns_len && !k->ns))
        return 0;
    if (k->b64 ? k->ns_len + k->key_len > MCF_META_MAX_BINARY_KEY ||
                     k->wire_len != (k->ns_len + k->key_len + 2) / 3 * 4
               : k->wire_len != k->ns_len + k->key_len)
        return 0;
    char *p = put(out, cmd, 2);
    *p++ = ' ';
    p = put_key(p, k);
    if (with_len) {
        *p++ = ' ';
        p += mcf_u64_to_dec(p, datalen);
    }
    /* "ms <key> <datalen> <flags>*": b is a flag like any other, after the
     * length (Meta Set). */
    if (k->b64)
        p = put(p, " b", 2);
    if (f & MCF_MF_OPAQUE)
        p = put_u(p, 'O', a->opaque);
    if (f & MCF_MF_TTL)
        p = put_i(p, 'T', a->ttl);
    if (f & MCF_MF_VIVIFY)
        p = put_i(p, 'N', a->vivify_ttl);
    if (f & MCF_MF_RECACHE)
        p = put_i(p, 'R', a->recache);
    if (f & MCF_MF_CAS)
        p = put_u(p, 'C', a->cas);
    if (f & MCF_MF_NEWCAS)
        p = put_u(p, 'E', a->new_cas);
    if (f & MCF_MF_CFLAGS)
        p = put_u(p, 'F', a->client_flags);
    if (f & MCF_MF_DELTA)
        p = put_u(p, 'D', a->delta);
    if (f & MCF_MF_INITIAL)
        p = put_u(p, 'J', a->initial);
    if (f & MCF_MF_MODE) {
        p = put(p, " M", 2);
        *p++ = (char)a->mode;
    }
    /* Letters after the tokens: memcached 1.6.18 answers in flag order, so
     * "mg k t T200" returns the TTL from before the touch, "mg k T200 t"
     * the new one (found against the real server; see test_meta). */
    for (size_t i = 0; i < sizeof letters / sizeof letters[0]; i++)
        if (f & letters[i].bit) {
            *p++ = ' ';
            *p++ = letters[i].ch;
        }
    p = put(p, "\r\n", 2);
    return (size_t)(p - out);
}

size_t mcf_meta_enc_mg(char *out, const mcf_meta_key *key, const mcf_meta_args *args)
{
    return enc(out, "mg", MCF_MG_FLAGS, "", key, 0, 0, args);
}

size_t mcf_meta_enc_ms(char *out, const mcf_meta_key *key, size_t datalen,
                       const mcf_meta_args *args)
{
    return enc(out, "ms", MCF_MS_FLAGS, "SEAPR", key, 1, datalen, args);
}

size_t mcf_meta_enc_md(char *out, const mcf_meta_key *key, const mcf_meta_args *args)
{
    return enc(out, "md", MCF_MD_FLAGS, "", key, 0, 0, args);
}

size_t mcf_meta_enc_ma(char *out, const mcf_meta_key *key, const mcf_meta_args *args)
{
    /* "+" and "-" are aliases of I and D; one spelling is enough. */
    return enc(out, "ma", MCF_MA_FLAGS, "ID", key, 0, 0, args);
}

size_t mcf_meta_enc_mn(char *out)
{
    memcpy(out, "mn\r\n", 4);
    return 4;
}

size_t mcf_meta_enc_me(char *out, const mcf_meta_key *key)
{
    return enc(out, "me", 0, "", key, 0, 0, NULL);
}

/* ---- reply parsing ---- */

/* Unsigned decimal of exactly [s, end), at most max.  No sign, no empty. */
static int dec_u64(const char *s, const char *end, uint64_t max, uint64_t *out)
{
    if (s == end)
        return -1;
    uint64_t v = 0;
    for (; s < end; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int dec_i64(const char *s, const char *end, int64_t *out)
{
    uint64_t v;
    if (s < end && *s == '-') {
        if (dec_u64(s + 1, end, (uint64_t)INT64_MAX + 1, &v))
            return -1;
        /* via v - 1 so that -9223372036854775808 does not overflow */
        *out = v ? -(int64_t)(v - 1) - 1 : 0;
        return 0;
    }
    if (dec_u64(s, end, INT64_MAX, &v))
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int bad_key_byte(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch == 0x7f)
            return 1;
    }
    return 0;
}

/* One returned flag token [t, end) (protocol.txt, "Meta Commands": a flag
 * is one character, its token follows it up to the next space). */
static int parse_flag(const char *t, const char *end, mcf_meta_reply *r)
{
    const char *arg = t + 1;
    size_t arg_len = (size_t)(end - arg);
    unsigned bit;
    uint64_t v;
    char ch = *t;
    switch (ch) {
    case 'O':
        bit = MCF_MR_OPAQUE;
        break;
    case 'k':
        bit = MCF_MR_KEY;
        break;
    case 'b':
        bit = MCF_MR_B64;
        break;
    case 'c':
        bit = MCF_MR_CAS;
        break;
    case 'f':
        bit = MCF_MR_FLAGS;
        break;
    case 't':
        bit = MCF_MR_TTL;
        break;
    case 'l':
        bit = MCF_MR_LA;
        break;
    case 'h':
        bit = MCF_MR_HIT;
        break;
    case 's':
        bit = MCF_MR_SIZE;
        break;
    case 'W':
        bit = MCF_MR_WIN;
        break;
    case 'X':
        bit = MCF_MR_STALE;
        break;
    case 'Z':
        bit = MCF_MR_WON;
        break;
    default:
        /* A flag is a letter; unknown letters are newer flags, skipped. */
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
            return 0;
        return -1;
    }
    if (r->has & bit)
        return -1; /* never sent twice */
    r->has |= bit;
    switch (ch) {
    case 'O':
        if (arg_len > MCF_META_MAX_OPAQUE)
            return -1;
        r->opaque = arg;
        r->opaque_len = arg_len;
        if (arg_len <= 10 && dec_u64(arg, end, UINT32_MAX, &v) == 0) {
            r->has |= MCF_MR_OPAQUE_U32;
            r->opaque_u32 = (uint32_t)v;
        }
        return 0;
    case 'k':
        if (arg_len == 0 || arg_len > MCF_MAX_KEY_LEN || bad_key_byte(arg, arg_len))
            return -1;
        r->key = arg;
        r->key_len = arg_len;
        return 0;
    case 'b':
    case 'W':
    case 'X':
    case 'Z':
        return arg_len ? -1 : 0;
    case 'c':
        return dec_u64(arg, end, UINT64_MAX, &r->cas);
    case 'f':
        if (dec_u64(arg, end, UINT32_MAX, &v))
            return -1;
        r->client_flags = (uint32_t)v;
        return 0;
    case 't':
        return dec_i64(arg, end, &r->ttl);
    case 'l':
        return dec_u64(arg, end, UINT64_MAX, &r->last_access);
    case 'h':
        if (arg_len != 1 || (*arg != '0' && *arg != '1'))
            return -1;
        r->hit_before = *arg - '0';
        return 0;
    default: /* 's' */
        return dec_u64(arg, end, UINT64_MAX, &r->size);
    }
}

/* The flags after the code (and size) up to the end of the line.  Tokens
 * are separated by one or more spaces; trailing spaces are accepted. */
static int parse_flags(const char *p, const char *end, mcf_meta_reply *r)
{
    while (p < end) {
        if (*p != ' ')
            return -1;
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        const char *t = p;
        while (p < end && *p != ' ')
            p++;
        if (parse_flag(t, p, r))
            return -1;
    }
    /* 'b' says the returned key is base64 (Meta Get, "b:"); 1.6.18 sends
     * it only with k, but alone it is harmless. */
    if ((r->has & (MCF_MR_B64 | MCF_MR_KEY)) == (MCF_MR_B64 | MCF_MR_KEY)) {
        ssize_t n = mcf_meta_b64_decode(r->bkey, MCF_META_MAX_BINARY_KEY, r->key, r->key_len);
        if (n <= 0)
            return -1;
        r->bkey_len = (size_t)n;
    }
    return 0;
}

static int is2(const char *line, size_t ll, char a, char b)
{
    /* "XY" alone or followed by a space */
    return ll >= 2 && line[0] == a && line[1] == b && (ll == 2 || line[2] == ' ');
}

static int starts(const char *line, size_t len, const char *word, size_t wlen)
{
    return len >= wlen && memcmp(line, word, wlen) == 0;
}

#define LIT(s) s, sizeof(s) - 1

/* "VA <size> <flags>*" + data block + CRLF (Meta Get). */
static ssize_t parse_va(const char *buf, size_t len, size_t ll, size_t header_len,
                        size_t max_value, mcf_meta_reply *r)
{
    const char *p = buf + 3, *end = buf + ll, *s = p;
    uint64_t bytes;
    if (ll < 4)
        return MCF_PARSE_BAD_LINE;
    while (p < end && *p != ' ')
        p++;
    if (dec_u64(s, p, UINT64_MAX, &bytes) || parse_flags(p, end, r))
        return MCF_PARSE_BAD_LINE;
    if (bytes > max_value || bytes > SIZE_MAX - header_len - 2)
        return MCF_PARSE_TOO_LARGE;
    r->type = MCF_M_VA;
    size_t total = header_len + (size_t)bytes + 2;
    if (len < total) {
        r->need = total;
        return 0;
    }
    if (buf[total - 2] != '\r' || buf[total - 1] != '\n')
        return MCF_PARSE_BAD_DATA;
    r->data = buf + header_len;
    r->data_len = (size_t)bytes;
    /* ma with v answers the new value as the data block (Meta Arithmetic). */
    if (r->data_len && r->data_len <= 20 &&
        dec_u64(r->data, r->data + r->data_len, UINT64_MAX, &r->number) == 0)
        r->has |= MCF_MR_NUMBER;
    else
        r->number = 0;
    return (ssize_t)total;
}

ssize_t mcf_meta_parse_reply(const char *buf, size_t len, size_t max_value, mcf_meta_reply *r)
{
    /* bkey is large and only meaningful with MCF_MR_B64: leave it alone. */
    memset(r, 0, offsetof(mcf_meta_reply, bkey));
    ssize_t found = mcf_reply_line(buf, len);
    if (found <= 0)
        return found;
    size_t header_len = (size_t)found;
    const char *line = buf, *end = buf + header_len - 2;
    size_t ll = header_len - 2;

    if (ll < 2)
        return MCF_PARSE_BAD_LINE;
    if (is2(line, ll, 'V', 'A'))
        return parse_va(buf, len, ll, header_len, max_value, r);
    if (is2(line, ll, 'H', 'D'))
        r->type = MCF_M_HD;
    else if (is2(line, ll, 'E', 'N'))
        r->type = MCF_M_EN;
    else if (is2(line, ll, 'N', 'F'))
        r->type = MCF_M_NF;
    else if (is2(line, ll, 'N', 'S'))
        r->type = MCF_M_NS;
    else if (is2(line, ll, 'E', 'X'))
        r->type = MCF_M_EX;
    else if (is2(line, ll, 'M', 'N')) {
        /* "MN" carries nothing (Meta No-Op); trailing spaces tolerated. */
        for (const char *p = line + 2; p < end; p++)
            if (*p != ' ')
                return MCF_PARSE_BAD_LINE;
        r->type = MCF_M_MN;
        return (ssize_t)header_len;
    } else if (is2(line, ll, 'M', 'E')) {
        /* "ME <key> <k>=<v>*" (Meta Debug): the key, then free text. */
        const char *p = line + 3, *k = p;
        if (ll < 4)
            return MCF_PARSE_BAD_LINE;
        while (p < end && *p != ' ')
            p++;
        size_t kl = (size_t)(p - k);
        if (kl == 0 || kl > MCF_MAX_KEY_LEN || bad_key_byte(k, kl))
            return MCF_PARSE_BAD_LINE;
        r->type = MCF_M_ME;
        r->key = k;
        r->key_len = kl;
        if (p < end)
            p++;
        r->data = p;
        r->data_len = (size_t)(end - p);
        return (ssize_t)header_len;
    } else if (ll == 5 && memcmp(line, "ERROR", 5) == 0) {
        r->type = MCF_M_ERROR;
        r->data = line;
        r->data_len = ll;
        return (ssize_t)header_len;
    } else if (starts(line, ll, LIT("ERROR "))) {
        r->type = MCF_M_ERROR;
        r->data = line;
        r->data_len = ll;
        return (ssize_t)header_len;
    } else if ((starts(line, ll, LIT("CLIENT_ERROR")) || starts(line, ll, LIT("SERVER_ERROR"))) &&
               (ll == 12 || line[12] == ' ')) {
        /* Same shape as codec.c: the message after "XXX_ERROR ". */
        r->type = line[0] == 'C' ? MCF_M_CLIENT_ERROR : MCF_M_SERVER_ERROR;
        r->data = line + (ll > 13 ? 13 : ll);
        r->data_len = ll > 13 ? ll - 13 : 0;
        return (ssize_t)header_len;
    } else {
        return MCF_PARSE_BAD_LINE;
    }
    if (parse_flags(line + 2, end, r))
        return MCF_PARSE_BAD_LINE;
    return (ssize_t)header_len;
}

int mcf_meta_reply_key(const mcf_meta_reply *r, const char **key, size_t *len)
{
    if (!(r->has & MCF_MR_KEY))
        return 0;
    if (r->has & MCF_MR_B64) {
        *key = (const char *)r->bkey;
        *len = r->bkey_len;
    } else {
        *key = r->key;
        *len = r->key_len;
    }
    return 1;
}

int mcf_meta_reply_key_is(const mcf_meta_reply *r, const mcf_meta_key *k)
{
    const char *got;
    size_t n;
    if (!mcf_meta_reply_key(r, &got, &n) || !k || n != k->ns_len + k->key_len)
        return 0;
    return (k->ns_len == 0 || memcmp(got, k->ns, k->ns_len) == 0) &&
           memcmp(got + k->ns_len, k->key, k->key_len) == 0;
}

/* ---- server versions ---- */

int mcf_meta_parse_version(const char *s, size_t len, uint32_t *v)
{
    if (len >= 8 && memcmp(s, "VERSION ", 8) == 0) {
        s += 8;
        len -= 8;
    }
    uint32_t part[3];
    size_t i = 0;
    for (int n = 0; n < 3; n++) {
        if (n > 0) {
            if (i >= len || s[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        part[n] = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            part[n] = part[n] * 10 + (uint32_t)(s[i++] - '0');
        if (i == start || (i < len && s[i] >= '0' && s[i] <= '9'))
            return 0;
    }
    *v = MCF_META_VERSION(part[0], part[1], part[2]);
    return 1;
}

unsigned mcf_meta_unsupported(unsigned flags, uint32_t version, uint32_t *since)
{
    static const struct {
        unsigned flag;
        uint32_t since;
    } gated[] = {{MCF_MF_NEWCAS, MCF_META_SINCE_NEWCAS}, {MCF_MF_X, MCF_META_SINCE_X}};
    for (size_t i = 0; i < sizeof gated / sizeof gated[0]; i++)
        if ((flags & gated[i].flag) && version < gated[i].since) {
            *since = gated[i].since;
            return gated[i].flag;
        }
    return 0;
}
