/* call.h - one call (a command over any number of items or servers) and
 * its results: what the routing, operation, probe and engine files share.
 * The per-key primitives are inline: they run once per key on the hot path
 * and cost nothing to keep in this header.  Not installed. */
#ifndef MCF_CALL_H
#define MCF_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

typedef enum mcf_call_kind {
    CALL_GET,     /* get/gets/gat/gats over keys[] */
    CALL_STORE,   /* items[]: set/add/replace/append/prepend/cas */
    CALL_ARITH,   /* items[]: incr/decr */
    CALL_DELETE,  /* items[] */
    CALL_TOUCH,   /* items[]; mode MCF_TOUCH_EXISTS: mcf_exists */
    CALL_VERSION, /* one server */
    CALL_STATS,   /* one server */
    CALL_FLUSH    /* every server */
} mcf_call_kind;

/* CALL_TOUCH's mode for mcf_exists: "mg KEY" without T (and without v),
 * which answers HD or EN and changes nothing (protocol.txt, Meta Get). */
#define MCF_TOUCH_EXISTS 1

struct mcf_call;

/* One call's share on one server: its items, order[first .. first+count)
 * of the call, and how far its replies have got.  Queued on the server in
 * request order (mcf_server.head .. tail): replies go to the head. */
typedef struct mcf_slice {
    struct mcf_call *call;
    mcf_server *server;
    struct mcf_slice *next; /* in the server's queue */
    int64_t t0_us;          /* its call's start (mcf_call.t0_us), for the latency */
    size_t first, count, cursor;
    size_t ends_due;   /* text retrieval: END lines still to come (one per command line) */
    uint64_t wend;     /* the server's wqueued once this request was appended */
    unsigned char built;   /* its request is in the server's write buffer */
    unsigned char await_replies; /* replies expected (not noreply) */
    unsigned char meta;    /* speaks meta on this server */
    unsigned char zombie;  /* cancelled or timed out after it was built: its replies are
                            * read and dropped, its items are no longer looked at */
    unsigned char settled; /* the blocking driver started it or failed it */
    unsigned char queued;  /* in its server's queue */
    /* Async single-key gets queued together on a server go out as one
     * command (one get line, or mg lines under one mn): a batch.  Its
     * slices are consecutive in the queue; batch_pos counts from its first
     * (the meta opaque), batch_end marks its last. */
    unsigned char batched, batch_end;
    uint32_t batch_pos;
} mcf_slice;

typedef struct mcf_call {
    mcf_call_kind kind;
    int mode; /* mcf_get_mode, mcf_store_mode, or 1=incr/0=decr */
    int noreply;
    int no_compress;
    int64_t exptime; /* gat/gats; flush delay */
    const char *const *keys;
    const size_t *key_lens;
    mcf_item *items;
    size_t n;
    mcf_get_cb get_cb;
    void *ctx;
    /* single get: the value is kept in place (by offset) until the call returns */
    int hold;
    mcf_value *held;
    mcf_server *held_server;
    /* server-level calls */
    size_t server;
    const char *stats_arg;
    mcf_stat_cb stat_cb;
    mcf_dump_cb dump_cb; /* set: a CALL_STATS is "lru_crawler metadump all" */
    char *version_buf;
    size_t version_len;
    int first_error;
    int64_t t0_us; /* when the call began (the async submit): latency counts from here */
    /* The _ex calls (one key, meta only): their options, and where what the
     * server said about the item goes (may be NULL). */
    const mcf_meta_opts *meta;
    mcf_item_info *info;

    /* Per item, filled by routing (route.c): the blocking driver lends the
     * client's reusable arrays, an async request brings its own. */
    uint32_t *srv_of;
    size_t *order;
    size_t *zoff; /* compressed value offset in zbuf, SIZE_MAX if none */
    size_t *zlen;
    unsigned char *answered; /* its result was handed out */
    const char **kptr;       /* the key, resolved once */
    size_t *klen;
    const char *zbuf;        /* the compressed values (set once routing is done) */
    /* Per server: nslices is 1 for a call on one key or one server (slices[0]
     * goes to whichever server routing picks) or the server count (slices[k]
     * is server k's). */
    mcf_slice *slices;
    size_t nslices;
    size_t slices_left; /* queued and not done */
    int copy_values;    /* copy every value into the write buffer (async: the
                         * caller may free it once the request completes early) */
    int defer;          /* routing an async request: hand nothing out yet */
    /* Called once every slice is done (async requests; NULL otherwise). */
    void (*on_done)(mcf_client *c, struct mcf_call *call);
} mcf_call;

/* Room for srv_label(): spec, " (", address, ")". */
#define MCF_LABEL_MAX (2 * MCF_ADDRSTR_MAX + 4)

static inline int mcf_call_has_items(const mcf_call *call)
{
    return call->kind == CALL_STORE || call->kind == CALL_ARITH || call->kind == CALL_DELETE ||
           call->kind == CALL_TOUCH;
}

/* The key of item i, as resolved by routing (route.c). */
static inline size_t mcf_call_key(const mcf_call *call, size_t i, const char **key)
{
    *key = call->kptr[i];
    return call->klen[i];
}

/* Hands out item i's result, got from server s: the callback of a multi-get, the caller's
 * mcf_value of a single get (zeroed unless a hit), or the item's rc. */
static inline void mcf_finish(mcf_client *c, mcf_call *call, mcf_server *s, size_t i, int rc,
                              const mcf_value *v)
{
    (void)c;
    call->answered[i] = 1;
    /* Counted on s (NULL: refused before a server was chosen). */
    if (s)
        s->ctr.rc[call->kind == CALL_GET][rc]++;
    if (mcf_is_error(rc) && !call->first_error)
        call->first_error = rc;
    if (call->defer)
        return;
    if (call->kind == CALL_GET) {
        if (call->get_cb)
            call->get_cb(call->ctx, i, rc, v);
        else if (call->held && rc != MCF_OK)
            memset(call->held, 0, sizeof *call->held);
    } else if (mcf_call_has_items(call)) {
        call->items[i].rc = rc;
    }
}

/* Finishes every item of slice sl not answered yet with rc: it has no more
 * replies.  A zombie's items are no longer looked at. */
static inline void mcf_finish_rest(mcf_client *c, mcf_slice *sl, int rc)
{
    mcf_call *call = sl->call;
    if (!sl->zombie)
        for (size_t p = 0; p < sl->count; p++) {
            size_t i = call->order[sl->first + p];
            if (!call->answered[i])
                mcf_finish(c, call, sl->server, i, rc, NULL);
        }
    sl->cursor = sl->count;
}

/* The server has requests queued (sent, being sent or waiting to be built). */
static inline int mcf_server_busy(const mcf_server *s)
{
    return s->head != NULL;
}

/* ---- call.c ---- */

/* Appends sl to its server's queue.  Inline: once per call and server. */
static inline void mcf_slice_enqueue(mcf_slice *sl)
{
    mcf_server *s = sl->server;
    sl->next = NULL;
    sl->built = 0;
    sl->queued = 1;
    sl->t0_us = sl->call->t0_us;
    if (s->tail)
        s->tail->next = sl;
    else
        s->head = sl;
    s->tail = sl;
    if (!s->build_next)
        s->build_next = sl;
    sl->call->slices_left++;
}
/* Removes sl from its server's queue (wherever it is). */
void mcf_slice_unlink(mcf_slice *sl);
/* Every noreply slice at the head of s whose bytes are all written is
 * done (its items MCF_OK).  The inline check is all a request awaiting
 * replies costs. */
void mcf_slices_sent_noreply(mcf_client *c, mcf_server *s);
static inline void mcf_slices_sent(mcf_client *c, mcf_server *s)
{
    if (s->head && !s->head->await_replies && s->head->built)
        mcf_slices_sent_noreply(c, s);
}
/* sl has left its queue: its call ends with its last slice (on_done). */
static inline void mcf_slice_left(mcf_client *c, mcf_slice *sl)
{
    mcf_call *call = sl->call;
    if (--call->slices_left == 0 && call->on_done)
        call->on_done(c, call);
}

/* The head of s leaves the queue. */
static inline void mcf_slice_pop(mcf_client *c, mcf_server *s)
{
    mcf_slice *sl = s->head;
    s->head = sl->next;
    if (!s->head)
        s->tail = NULL;
    if (s->build_next == sl)
        s->build_next = sl->next;
    sl->next = NULL;
    sl->queued = 0;
    mcf_slice_left(c, sl);
}

/* The request of slice sl, at the head of s, has its reply: its latency
 * is counted (the clock read when the bytes came, c->rx_us). */
static inline void mcf_slice_answered(mcf_client *c, mcf_server *s, const mcf_slice *sl)
{
    if (c->latency)
        mcf_counters_latency(&s->ctr, c->rx_us - sl->t0_us);
}

/* The head slice of s has every reply: it leaves the queue, and its call
 * ends when it was the call's last.  Then every noreply slice now at the
 * head whose bytes are written is done too.  Inline: once per call and
 * server. */
static inline void mcf_slice_done(mcf_client *c, mcf_server *s)
{
    if (s->head->await_replies) {
        s->noreply_dirty = 0;
        mcf_slice_answered(c, s, s->head);
    }
    mcf_slice_pop(c, s);
    mcf_slices_sent(c, s);
}

/* A batch at the head of s has its terminator (END, MN): every slice of it
 * not answered is a miss, and it leaves the queue. */
static inline void mcf_batch_end(mcf_client *c, mcf_server *s)
{
    for (;;) {
        mcf_slice *h = s->head;
        int last = h->batch_end;
        mcf_finish_rest(c, h, MCF_MISS);
        if (last) /* mcf_slice_done counts its latency */
            break;
        mcf_slice_answered(c, s, h);
        mcf_slice_pop(c, s);
    }
    mcf_slice_done(c, s);
}

/* A reply in a batch answers slice x (the head or after it): the slices
 * before x got no reply, so they are misses (memcached answers hits in
 * request order).  Leaves x at the head. */
static inline void mcf_batch_skip_to(mcf_client *c, mcf_server *s, const mcf_slice *x)
{
    while (s->head != x) {
        mcf_finish_rest(c, s->head, MCF_MISS);
        mcf_slice_answered(c, s, s->head);
        mcf_slice_pop(c, s);
    }
}

/* x, at the head of its batch, has its answer: it leaves the queue unless
 * it is the batch's last (whose terminator is still to come). */
static inline void mcf_batch_answered(mcf_client *c, mcf_server *s)
{
    mcf_slice *x = s->head;
    x->cursor = x->count;
    if (!x->batch_end) {
        mcf_slice_answered(c, s, x);
        mcf_slice_pop(c, s);
    }
}

/* Fails every item of every slice queued on s with rc and empties the
 * queue (nothing closed, no failure counted). */
void mcf_fail_queue(mcf_client *c, mcf_server *s, int rc);
/* The same for the slices already built (at the head of the queue): those
 * whose bytes went on a connection that is gone. */
void mcf_fail_built(mcf_client *c, mcf_server *s, int rc);

/* Whether a call with these MCF_CALL_* flags is noreply: MCF_CALL_REPLY
 * overrides MCF_OPT_NOREPLY, MCF_CALL_NOREPLY sets it. */
static inline int mcf_call_noreply(const mcf_client *c, unsigned call_flags)
{
    if (call_flags & MCF_CALL_REPLY)
        return 0;
    return (call_flags & MCF_CALL_NOREPLY) || c->noreply_default;
}
/* Describes mcf_multi's op over items (kind, mode, noreply, compression)
 * in *call, which the caller zeroed: MCF_OK, or MCF_ERR_ARG for an unknown
 * op with the message naming fn. */
int mcf_call_of_op(mcf_client *c, const char *fn, mcf_call *call, mcf_op op, mcf_item *items,
                   size_t n, unsigned call_flags);
/* MCF_OK when a stats argument (NULL or "" for none) can go on the
 * command line (the rules of a key); else MCF_ERR_ARG naming fn. */
int mcf_call_check_stats_arg(mcf_client *c, const char *fn, const char *arg);
/* MCF_OK when an _ex call's mode and options (NULL: none) go together and
 * the client may speak meta; else MCF_ERR_ARG (MCF_ERR_NOT_SUPPORTED on a
 * text client) with the message naming fn. */
int mcf_call_check_ex(mcf_client *c, const char *fn, mcf_call_kind kind, int mode,
                      const mcf_meta_opts *opts);
/* "spec" or "spec (address)" when the address says more than the spec;
 * buf has MCF_LABEL_MAX bytes. */
const char *mcf_srv_label(const mcf_server *s, char *buf, size_t len);
/* Notes "server S: key 'K': what" as the call's error (keys cut at 250). */
void mcf_note_key_error(mcf_client *c, const mcf_server *s, int rc, const char *key, size_t kl,
                        const char *what);
/* "CLIENT_ERROR msg" or "SERVER_ERROR msg" for an error reply of either
 * protocol (the server's message cut short); returns buf. */
const char *mcf_error_reply_text(char *buf, size_t len, int client_error, const char *msg,
                                 size_t msg_len);
/* Room for mcf_error_reply_text(). */
#define MCF_ERROR_TEXT_MAX 240
/* Fails every key queued on s not answered yet (every call's), closes the
 * connection abortively (its stream is no longer in a known state, and
 * request bytes not sent yet must not reach the server later) and counts
 * a failure. */
void mcf_fail_server(mcf_client *c, mcf_server *s, int rc, const char *cause);
/* Fails the items of slice sl, which was not started (nothing sent), and
 * takes it out of its server's queue. */
void mcf_fail_unstarted(mcf_client *c, mcf_slice *sl, int rc);
/* Hands a VALUE (codec.h; meta replies are put in that form) to item i:
 * inflated when it carries the zlib flag, kept in s->rbuf by offset for a
 * single get. */
struct mcf_reply;
void mcf_deliver_value(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                       const struct mcf_reply *r);

/* A storage item's data block as it goes on the wire: its compressed bytes
 * (zbuf) or the caller's, the flags to send, and whether it is copied next
 * to the header (small) or sent from where it is. */
typedef struct mcf_block {
    const void *value;
    size_t len;
    uint32_t flags;
    int compressed, copy;
} mcf_block;
void mcf_block_of(const mcf_client *c, const mcf_call *call, size_t i, mcf_block *b);
/* Bytes of wbuf a block needs beyond its header: the copied value, CRLF. */
static inline size_t mcf_block_room(const mcf_block *b)
{
    return (b->copy ? b->len : 0) + 2;
}
/* Segments a header + block may take. */
#define MCF_BLOCK_SEGS 3
/* Appends the data block and CRLF after its header line, which begins at
 * wbuf offset `start` (text "set ..." and meta "ms ..." alike).  The caller
 * has reserved mcf_block_room() bytes and MCF_BLOCK_SEGS segments. */
void mcf_block_append(mcf_server *s, size_t start, const mcf_block *b);

#endif
