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
    CALL_TOUCH,   /* items[] */
    CALL_VERSION, /* one server */
    CALL_STATS,   /* one server */
    CALL_FLUSH    /* every server */
} mcf_call_kind;

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
    char *version_buf;
    size_t version_len;
    int first_error;
    /* The _ex calls (one key, meta only): their options, and where what the
     * server said about the item goes (may be NULL). */
    const mcf_meta_opts *meta;
    mcf_item_info *info;
} mcf_call;

/* Room for srv_label(): spec, " (", address, ")". */
#define MCF_LABEL_MAX (2 * MCF_ADDRSTR_MAX + 4)

static inline int mcf_call_has_items(const mcf_call *call)
{
    return call->kind == CALL_STORE || call->kind == CALL_ARITH || call->kind == CALL_DELETE ||
           call->kind == CALL_TOUCH;
}

/* The key of item i, as resolved by routing (route.c). */
static inline size_t mcf_call_key(const mcf_client *c, size_t i, const char **key)
{
    *key = c->kptr[i];
    return c->klen[i];
}

/* Hands out item i's result: the callback of a multi-get, the caller's
 * mcf_value of a single get (zeroed unless a hit), or the item's rc. */
static inline void mcf_finish(mcf_client *c, mcf_call *call, size_t i, int rc,
                              const mcf_value *v)
{
    c->answered[i] = 1;
    if (mcf_is_error(rc) && !call->first_error)
        call->first_error = rc;
    if (call->kind == CALL_GET) {
        if (call->get_cb)
            call->get_cb(call->ctx, i, rc, v);
        else if (call->held && rc != MCF_OK)
            memset(call->held, 0, sizeof *call->held);
    } else if (mcf_call_has_items(call)) {
        call->items[i].rc = rc;
    }
}

/* Finishes every item of s not answered yet with rc: s has no more
 * replies for this call. */
static inline void mcf_finish_rest(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    for (size_t p = 0; p < s->count; p++) {
        size_t i = c->order[s->first + p];
        if (!c->answered[i])
            mcf_finish(c, call, i, rc, NULL);
    }
    s->cursor = s->count;
}

/* Server s has every reply of this call. */
static inline void mcf_server_done(mcf_server *s)
{
    s->active = 0;
    if (s->await_replies)
        s->noreply_dirty = 0;
}

/* ---- call.c ---- */

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
/* Fails every key of s not answered yet, closes the connection abortively
 * (its stream is no longer in a known state, and request bytes not sent
 * yet must not reach the server later) and counts a failure. */
void mcf_fail_server(mcf_client *c, mcf_call *call, mcf_server *s, int rc, const char *cause);
/* Fails every item of a server that could not be started (nothing sent). */
void mcf_fail_unstarted(mcf_client *c, mcf_call *call, mcf_server *s, int rc);
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
void mcf_block_append(mcf_client *c, mcf_server *s, size_t start, size_t i, const mcf_block *b);

#endif
