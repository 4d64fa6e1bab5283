/* fuzz_meta.c - libFuzzer target for the meta reply parser,
 * mcf_meta_parse_reply(), and the base64 key path (src/meta.h).
 * Same structure as fuzz_reply.c.
 *
 * Input: 4 control bytes, then the bytes a server sends.
 *   ctl[0..3]  chunk sizes, used cyclically: the stream arrives in chunks of
 *              ctl[i] bytes (0 = everything that is left), like recv() would
 *              hand it over; the 512th chunk takes all the rest.  The high
 *              nibble of ctl[0] also picks max_value.
 *
 * Reply parsing, as the client's loop does it: accumulate the chunk, parse
 * repeatedly, consume what was parsed, stop at the first error.  Every
 * parse sees the unread bytes in an exact-size heap copy, so a read past
 * `len` is an ASan heap-buffer-overflow.  Invariants (abort() on violation):
 *   - a complete reply never claims more bytes than are available and ends
 *     with CRLF; data/key/opaque pointers lie inside it;
 *   - VA: data_len <= max_value, data ends right before the final CRLF;
 *     other replies are one line under MCF_MAX_REPLY_LINE;
 *   - returned flags are consistent: a key is 1..250 bytes without
 *     space/control bytes; with b it decoded to 1..186 bytes that encode
 *     back to exactly the returned text; O as u32 only for 1-10 digits;
 *     h is 0/1; MN, ME and error lines carry no flags;
 *   - "incomplete" with need != 0 means need > available, and the reply
 *     that later completes is exactly `need` bytes long;
 *   - a reply re-parsed alone (an exact copy of its bytes) gives the same
 *     result (replies are self-delimiting);
 *   - differential: parsing the whole stream at once yields exactly the
 *     same sequence of replies as the chunked parse.
 *
 * base64 / keys, on the stream bytes:
 *   - whatever mcf_meta_b64_decode() accepts encodes back to the same text
 *     (strict and canonical);
 *   - encode then decode gives the bytes back;
 *   - mcf_meta_key_init() with binary allowed: a key it accepts encodes
 *     into at most MCF_META_MAX_REQUEST bytes with every flag, and a reply
 *     returning that wire key ("HD k<key> [b]") matches it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mcfast.h"
#include "meta.h"

#define MAX_EVENTS 4096
#define MAX_CHUNKS 512

typedef struct event {
    ssize_t n; /* > 0 reply length; < 0 error code; 0 final incomplete */
    int type;
    unsigned has;
    size_t key_off, key_len, data_off, data_len, opaque_off, opaque_len;
    uint64_t cas, last_access, size, number;
    int64_t ttl;
    uint32_t client_flags, opaque_u32;
    int hit_before;
    size_t bkey_len;
    unsigned char bkey[MCF_META_MAX_BINARY_KEY];
} event;

typedef struct trace {
    event ev[MAX_EVENTS];
    size_t nev;
    size_t consumed;
} trace;

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_meta: invariant failed at %s:%d: %s\n", __FILE__,       \
                    __LINE__, #cond);                                                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static int within(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static int clean_key(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] == 0x7f)
            return 0;
    return 1;
}

static size_t offset_of(const char *p, const char *base, size_t off)
{
    return p ? off + (size_t)(p - base) : 0;
}

static void record(const mcf_meta_reply *r, ssize_t n, const char *base, size_t off, event *e)
{
    memset(e, 0, sizeof *e);
    e->n = n;
    e->type = r->type;
    e->has = r->has;
    e->key_off = offset_of(r->key, base, off);
    e->key_len = r->key_len;
    e->data_off = offset_of(r->data, base, off);
    e->data_len = r->data_len;
    e->opaque_off = offset_of(r->opaque, base, off);
    e->opaque_len = r->opaque_len;
    e->cas = r->cas;
    e->last_access = r->last_access;
    e->size = r->size;
    e->number = r->number;
    e->ttl = r->ttl;
    e->client_flags = r->client_flags;
    e->opaque_u32 = r->opaque_u32;
    e->hit_before = r->hit_before;
    if ((r->has & MCF_MR_B64) && (r->has & MCF_MR_KEY)) {
        e->bkey_len = r->bkey_len;
        memcpy(e->bkey, r->bkey, r->bkey_len);
    }
}

static int same_event(const event *a, const event *b)
{
    return a->n == b->n && a->type == b->type && a->has == b->has && a->key_off == b->key_off &&
           a->key_len == b->key_len && a->data_off == b->data_off &&
           a->data_len == b->data_len && a->opaque_off == b->opaque_off &&
           a->opaque_len == b->opaque_len && a->cas == b->cas &&
           a->last_access == b->last_access && a->size == b->size && a->number == b->number &&
           a->ttl == b->ttl && a->client_flags == b->client_flags &&
           a->opaque_u32 == b->opaque_u32 && a->hit_before == b->hit_before &&
           a->bkey_len == b->bkey_len && memcmp(a->bkey, b->bkey, a->bkey_len) == 0;
}

/* Checks one complete reply r of n bytes at base (which holds avail bytes)
 * and records it with offsets relative to the stream (base is at stream
 * offset `off`). */
static void check_reply(const char *base, size_t avail, ssize_t n, const mcf_meta_reply *r,
                        size_t max_value, size_t off, event *e)
{
    REQUIRE(n > 0 && (size_t)n <= avail);
    REQUIRE(r->type >= MCF_M_HD && r->type <= MCF_M_SERVER_ERROR);
    size_t len = (size_t)n;
    REQUIRE(len >= 4 && base[len - 2] == '\r' && base[len - 1] == '\n');
    REQUIRE(r->need == 0);
    if (r->data)
        REQUIRE(within(r->data, r->data_len, base, len));
    else
        REQUIRE(r->data_len == 0);
    if (r->key)
        REQUIRE(within(r->key, r->key_len, base, len));
    else
        REQUIRE(r->key_len == 0);
    if (r->opaque)
        REQUIRE(within(r->opaque, r->opaque_len, base, len));
    else
        REQUIRE(r->opaque_len == 0);

    if (r->type == MCF_M_VA) {
        REQUIRE(r->data && r->data_len <= max_value);
        REQUIRE(r->data + r->data_len + 2 == base + len);
        REQUIRE((size_t)(r->data - base) <= MCF_MAX_REPLY_LINE);
        REQUIRE(memchr(base, '\n', len) == r->data - 1);
        if (r->has & MCF_MR_NUMBER) {
            REQUIRE(r->data_len >= 1 && r->data_len <= 20);
            uint64_t v = 0;
            for (size_t i = 0; i < r->data_len; i++) {
                REQUIRE(r->data[i] >= '0' && r->data[i] <= '9');
                v = v * 10 + (uint64_t)(r->data[i] - '0');
            }
            REQUIRE(v == r->number);
        } else {
            REQUIRE(r->number == 0);
        }
    } else {
        REQUIRE(len <= MCF_MAX_REPLY_LINE);
        REQUIRE(memchr(base, '\n', len) == base + len - 1);
        REQUIRE(!(r->has & MCF_MR_NUMBER) && r->number == 0);
    }
    switch (r->type) {
    case MCF_M_MN:
    case MCF_M_ERROR:
    case MCF_M_CLIENT_ERROR:
    case MCF_M_SERVER_ERROR:
        REQUIRE(r->has == 0 && !r->key && !r->opaque);
        break;
    case MCF_M_ME:
        REQUIRE(r->has == 0 && r->key && r->key_len >= 1 && r->key_len <= 250 &&
                clean_key(r->key, r->key_len) && r->data);
        break;
    default:
        REQUIRE(!r->data || r->type == MCF_M_VA);
        break;
    }
    if (r->type != MCF_M_ME)
        REQUIRE(!!(r->has & MCF_MR_KEY) == !!r->key);
    REQUIRE(!!(r->has & MCF_MR_OPAQUE) == !!r->opaque);
    if (r->has & MCF_MR_KEY) {
        REQUIRE(r->key_len >= 1 && r->key_len <= 250 && clean_key(r->key, r->key_len));
        const char *k;
        size_t kl;
        REQUIRE(mcf_meta_reply_key(r, &k, &kl) == 1);
        if (r->has & MCF_MR_B64) {
            REQUIRE(r->bkey_len >= 1 && r->bkey_len <= MCF_META_MAX_BINARY_KEY);
            REQUIRE(k == (const char *)r->bkey && kl == r->bkey_len);
            char text[260];
            size_t tl = mcf_meta_b64_encode(text, r->bkey, r->bkey_len);
            REQUIRE(tl == r->key_len && memcmp(text, r->key, tl) == 0);
        } else {
            REQUIRE(k == r->key && kl == r->key_len);
        }
    }
    if (r->has & MCF_MR_OPAQUE)
        REQUIRE(r->opaque_len <= MCF_META_MAX_OPAQUE);
    if (r->has & MCF_MR_OPAQUE_U32)
        REQUIRE((r->has & MCF_MR_OPAQUE) && r->opaque_len >= 1 && r->opaque_len <= 10);
    else
        REQUIRE(r->opaque_u32 == 0);
    if (r->has & MCF_MR_HIT)
        REQUIRE(r->hit_before == 0 || r->hit_before == 1);
    else
        REQUIRE(r->hit_before == 0);
    if (!(r->has & MCF_MR_CAS))
        REQUIRE(r->cas == 0);
    if (!(r->has & MCF_MR_TTL))
        REQUIRE(r->ttl == 0);
    if (!(r->has & MCF_MR_FLAGS))
        REQUIRE(r->client_flags == 0);

    record(r, n, base, off, e);

    /* Self-delimiting: the reply alone, in an exact-size copy, parses the same. */
    char *copy = malloc(len);
    REQUIRE(copy);
    memcpy(copy, base, len);
    mcf_meta_reply r2;
    ssize_t n2 = mcf_meta_parse_reply(copy, len, max_value, &r2);
    event e2;
    REQUIRE(n2 == n);
    record(&r2, n2, copy, off, &e2);
    REQUIRE(same_event(e, &e2));
    free(copy);
}

/* Parses the unread window [pos, have) of stream until incomplete or error.
 * Returns 1 when the stream is dead (error). */
static int drain(const uint8_t *stream, size_t have, size_t *pos, size_t max_value, trace *t,
                 size_t *pending_need, int final)
{
    for (;;) {
        size_t avail = have - *pos;
        char *win = malloc(avail ? avail : 1);
        REQUIRE(win);
        if (avail)
            memcpy(win, stream + *pos, avail);
        static mcf_meta_reply r;
        ssize_t n = mcf_meta_parse_reply(win, avail, max_value, &r);
        if (n == 0) {
            REQUIRE(avail < MCF_MAX_REPLY_LINE || memchr(win, '\n', MCF_MAX_REPLY_LINE));
            if (r.need) {
                REQUIRE(r.need > avail);
                if (*pending_need)
                    REQUIRE(*pending_need == r.need);
                *pending_need = r.need;
            }
            free(win);
            if (final && t->nev < MAX_EVENTS) {
                event *e = &t->ev[t->nev++];
                memset(e, 0, sizeof *e);
            }
            return 0;
        }
        if (n < 0) {
            REQUIRE(n == MCF_PARSE_BAD_LINE || n == MCF_PARSE_LINE_TOO_LONG ||
                    n == MCF_PARSE_TOO_LARGE || n == MCF_PARSE_BAD_DATA);
            REQUIRE(mcf_parse_strerror(n) != NULL);
            free(win);
            if (t->nev < MAX_EVENTS) {
                event *e = &t->ev[t->nev++];
                memset(e, 0, sizeof *e);
                e->n = n;
            }
            return 1;
        }
        static event e;
        check_reply(win, avail, n, &r, max_value, *pos, &e);
        if (*pending_need)
            REQUIRE((size_t)n == *pending_need);
        *pending_need = 0;
        free(win);
        if (t->nev < MAX_EVENTS)
            t->ev[t->nev++] = e;
        *pos += (size_t)n;
        t->consumed = *pos;
    }
}

/* base64 and keys over the raw stream bytes. */
static void check_base64_and_keys(const uint8_t *data, size_t len)
{
    /* decode: accepted text is canonical */
    static unsigned char out[4096];
    static char text[8192];
    size_t dl = len < 4096 ? len : 4096;
    char *in = malloc(dl ? dl : 1);
    REQUIRE(in);
    memcpy(in, data, dl);
    ssize_t n = mcf_meta_b64_decode(out, sizeof out, in, dl);
    if (n >= 0) {
        REQUIRE((size_t)n <= sizeof out && (size_t)n == dl / 4 * 3 - (dl && in[dl - 1] == '=') -
                                                           (dl > 1 && in[dl - 2] == '='));
        size_t tl = mcf_meta_b64_encode(text, out, (size_t)n);
        REQUIRE(tl == dl && memcmp(text, in, dl) == 0);
    }
    free(in);

    /* encode, then decode */
    size_t el = len < 3000 ? len : 3000;
    size_t tl = mcf_meta_b64_encode(text, data, el);
    REQUIRE(tl == (el + 2) / 3 * 4 && text[tl] == '\0');
    REQUIRE(mcf_meta_b64_decode(out, sizeof out, text, tl) == (ssize_t)el &&
            (el == 0 || memcmp(out, data, el) == 0));

    /* the stream as a key: first byte splits namespace and key */
    if (len < 1)
        return;
    size_t split = data[0] % 8;
    const char *rest = (const char *)data + 1;
    size_t rl = len - 1;
    if (split > rl)
        split = rl;
    mcf_meta_key k;
    int rc = mcf_meta_key_init(&k, rest, split, rest + split, rl - split, 1);
    if (rc != MCF_OK) {
        REQUIRE(rc == MCF_ERR_BAD_KEY);
        return;
    }
    REQUIRE(k.wire_len >= 1 && k.wire_len <= 250);
    static char req[MCF_META_MAX_REQUEST + 64];
    memset(req, 0x5a, sizeof req);
    mcf_meta_args a = {.flags = MCF_MA_FLAGS, .opaque = UINT32_MAX, .ttl = INT64_MIN,
                       .vivify_ttl = INT64_MIN, .cas = UINT64_MAX, .new_cas = UINT64_MAX,
                       .delta = UINT64_MAX, .initial = UINT64_MAX, .mode = MCF_MM_DECR};
    size_t rq = mcf_meta_enc_ma(req, &k, &a);
    REQUIRE(rq > 0 && rq <= MCF_META_MAX_REQUEST);
    for (size_t i = rq; i < sizeof req; i++)
        REQUIRE(req[i] == 0x5a);
    /* one line: no CR/LF/NUL before the final CRLF, key is one token */
    REQUIRE(req[rq - 2] == '\r' && req[rq - 1] == '\n');
    for (size_t i = 0; i + 2 < rq; i++)
        REQUIRE(req[i] != '\r' && req[i] != '\n' && req[i] != '\0');
    REQUIRE(memcmp(req, "ma ", 3) == 0 && req[3 + k.wire_len] == ' ');
    REQUIRE(clean_key(req + 3, k.wire_len));
    /* the server echoing that key back matches it */
    char reply[300];
    int m = snprintf(reply, sizeof reply, "HD k%.*s%s\r\n", (int)k.wire_len, req + 3,
                     k.b64 ? " b" : "");
    REQUIRE(m > 0 && (size_t)m < sizeof reply);
    mcf_meta_reply r;
    REQUIRE(mcf_meta_parse_reply(reply, (size_t)m, 0, &r) == m);
    REQUIRE(mcf_meta_reply_key_is(&r, &k));
}

static trace t_chunked, t_whole;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    const uint8_t *ctl = data;
    const uint8_t *stream = data + 4;
    size_t len = size - 4;

    /* The version line parser reads server bytes too (the probe's answer). */
    uint32_t version;
    if (mcf_meta_parse_version((const char *)stream, len, &version) &&
        version > MCF_META_VERSION(999, 999, 999))
        abort();
    static const size_t max_values[] = {1024 * 1024, 0, 1, 5, 64, 4096, SIZE_MAX / 2, SIZE_MAX};
    size_t max_value = max_values[(ctl[0] >> 4) % (sizeof max_values / sizeof max_values[0])];

    /* Chunked, as the client's read loop sees it. */
    t_chunked.nev = t_chunked.consumed = 0;
    size_t have = 0, pos = 0, need = 0;
    int dead = 0;
    for (unsigned i = 0; have < len && !dead; i++) {
        size_t step = ctl[i % 4];
        if (i + 1 >= MAX_CHUNKS || step == 0 || step > len - have)
            step = len - have;
        have += step;
        dead = drain(stream, have, &pos, max_value, &t_chunked, &need, have == len);
    }
    if (len == 0)
        drain(stream, 0, &pos, max_value, &t_chunked, &need, 1);

    /* All at once. */
    t_whole.nev = t_whole.consumed = 0;
    size_t pos2 = 0, need2 = 0;
    drain(stream, len, &pos2, max_value, &t_whole, &need2, 1);

    REQUIRE(t_chunked.nev == t_whole.nev);
    for (size_t i = 0; i < t_whole.nev; i++)
        REQUIRE(same_event(&t_chunked.ev[i], &t_whole.ev[i]));
    REQUIRE(t_chunked.consumed == t_whole.consumed);
    REQUIRE(pos == pos2);

    check_base64_and_keys(stream, len);
    return 0;
}
