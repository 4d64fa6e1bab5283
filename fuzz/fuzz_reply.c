/* fuzz_reply.c - libFuzzer target for the reply parser, mcf_parse_reply().
 *
 * Input: 4 control bytes, then the bytes a server sends.
 *   ctl[0..3]  chunk sizes, used cyclically: the stream arrives in chunks of
 *              ctl[i] bytes (0 = everything that is left), like recv() would
 *              hand it over; the 512th chunk takes all the rest.  The high
 *              nibble of ctl[0] also picks max_value.
 *
 * The client's loop is simulated: accumulate the chunk, parse repeatedly,
 * consume what was parsed, stop at the first error.  Every parse sees the
 * unread bytes in an exact-size heap copy, so a read past `len` is an ASan
 * heap-buffer-overflow.  Invariants checked (abort() on violation):
 *   - a complete reply never claims more bytes than are available, and
 *     ends with CRLF (a metadump "key=" line: with LF);
 *   - key/data pointers lie inside the bytes of that reply;
 *   - VALUE: data_len <= max_value, data ends right before the final CRLF;
 *   - "incomplete" with need != 0 means need > available, and the reply
 *     that later completes is exactly `need` bytes long;
 *   - a reply re-parsed alone (an exact copy of its bytes) gives the same
 *     result (replies are self-delimiting);
 *   - differential: parsing the whole stream at once yields exactly the
 *     same sequence of replies (and the same final error/incomplete state)
 *     as the chunked parse.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define MAX_EVENTS 4096
#define MAX_CHUNKS 512

typedef struct event {
    ssize_t n; /* > 0 reply length; < 0 error code; 0 final incomplete */
    int type;
    size_t key_off, key_len, data_off, data_len; /* offsets from stream start */
    int has_key, has_data;
    uint32_t flags;
    uint64_t cas, number;
} event;

typedef struct trace {
    event ev[MAX_EVENTS];
    size_t nev;
    size_t consumed;
} trace;

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_reply: invariant failed at %s:%d: %s\n", __FILE__,      \
                    __LINE__, #cond);                                                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

static int within(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

/* Checks one complete reply r of n bytes at base (which holds avail bytes)
 * and records it with offsets relative to the stream (base is at stream
 * offset `off`). */
static void check_reply(const char *base, size_t avail, ssize_t n, const mcf_reply *r,
                        size_t max_value, size_t off, event *e)
{
    REQUIRE(n > 0 && (size_t)n <= avail);
    REQUIRE(r->type >= MCF_R_VALUE && r->type <= MCF_R_DUMP);
    size_t len = (size_t)n;
    /* Every reply ends with CRLF, but a metadump line: LF (memcached's). */
    if (r->type == MCF_R_DUMP)
        REQUIRE(len >= 5 && base[len - 1] == '\n' && memcmp(base, "key=", 4) == 0);
    else
        REQUIRE(len >= 2 && base[len - 2] == '\r' && base[len - 1] == '\n');
    memset(e, 0, sizeof *e);
    e->n = n;
    e->type = r->type;
    e->flags = r->flags;
    e->cas = r->cas;
    e->number = r->number;
    if (r->key) {
        REQUIRE(within(r->key, r->key_len, base, len));
        e->has_key = 1;
        e->key_off = off + (size_t)(r->key - base);
        e->key_len = r->key_len;
    } else {
        REQUIRE(r->key_len == 0);
    }
    if (r->data) {
        REQUIRE(within(r->data, r->data_len, base, len));
        e->has_data = 1;
        e->data_off = off + (size_t)(r->data - base);
        e->data_len = r->data_len;
    } else {
        REQUIRE(r->data_len == 0);
    }
    switch (r->type) {
    case MCF_R_VALUE:
        REQUIRE(r->key && r->key_len >= 1 && r->key_len <= 250);
        REQUIRE(r->data && r->data_len <= max_value);
        REQUIRE(r->data + r->data_len + 2 == base + len);
        /* The key is one token: no space, CR or LF inside. */
        REQUIRE(!memchr(r->key, ' ', r->key_len) && !memchr(r->key, '\n', r->key_len));
        /* The header line (up to the first LF) is short. */
        REQUIRE((size_t)(r->data - base) <= MCF_MAX_REPLY_LINE);
        break;
    case MCF_R_STAT:
        REQUIRE(r->key && r->data);
        break;
    default:
        /* Line replies: one line, under the line limit, no LF before the end. */
        REQUIRE(len <= MCF_MAX_REPLY_LINE);
        REQUIRE(memchr(base, '\n', len) == base + len - 1);
        break;
    }
    if (r->type != MCF_R_VALUE)
        REQUIRE(r->cas == 0 && r->flags == 0);
    if (r->type != MCF_R_NUMBER)
        REQUIRE(r->number == 0);

    /* Self-delimiting: the reply alone, in an exact-size copy, parses the same. */
    char *copy = malloc(len);
    REQUIRE(copy);
    memcpy(copy, base, len);
    mcf_reply r2;
    ssize_t n2 = mcf_parse_reply(copy, len, max_value, &r2);
    REQUIRE(n2 == n && r2.type == r->type && r2.key_len == r->key_len &&
            r2.data_len == r->data_len && r2.flags == r->flags && r2.cas == r->cas &&
            r2.number == r->number);
    free(copy);
}

/* Parses the unread window [pos, have) of stream until incomplete or error.
 * Returns 1 when the stream is dead (error). */
static int drain(const uint8_t *stream, size_t have, size_t *pos, size_t max_value, trace *t,
                 size_t *pending_need, int final)
{
    for (;;) {
        size_t avail = have - *pos;
        /* Exact-size copy: any read past avail is a heap overflow. */
        char *win = malloc(avail ? avail : 1);
        REQUIRE(win);
        if (avail)
            memcpy(win, stream + *pos, avail);
        mcf_reply r;
        ssize_t n = mcf_parse_reply(win, avail, max_value, &r);
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
        event e;
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

static int same_event(const event *a, const event *b)
{
    return a->n == b->n && a->type == b->type && a->has_key == b->has_key &&
           a->key_off == b->key_off && a->key_len == b->key_len && a->has_data == b->has_data &&
           a->data_off == b->data_off && a->data_len == b->data_len && a->flags == b->flags &&
           a->cas == b->cas && a->number == b->number;
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
    static const size_t max_values[] = {1024 * 1024, 0, 1, 5, 64, 4096, SIZE_MAX / 2};
    size_t max_value = max_values[(ctl[0] >> 4) % (sizeof max_values / sizeof max_values[0])];

    /* Chunked, as the client's read loop sees it. */
    t_chunked.nev = t_chunked.consumed = 0;
    size_t have = 0, pos = 0, need = 0;
    int dead = 0;
    for (unsigned i = 0; have < len && !dead; i++) {
        size_t step = ctl[i % 4];
        /* At most MAX_CHUNKS chunks: byte-by-byte delivery of a 20 KB input
         * would copy the window 20000 times and starve the fuzzer. */
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
    return 0;
}
