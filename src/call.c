/* call.c - a call's results and what every operation file shares: server
 * labels and error notes, failing a server's keys, handing out a value,
 * and the data block of a storage item (text "set" and meta "ms" alike). */
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "codec.h"

/* Values up to this size are copied into the request buffer; larger ones
 * are sent from the caller's memory (an iovec) to avoid the copy. */
#define COPY_MAX 2048
/* Longest key shown in a message. */
#define KEY_SHOWN_MAX MCF_MAX_KEY_LEN
/* Longest part of a server's error message shown in ours. */
#define ERROR_SHOWN_MAX 200

/* The MCF_META_* flags each _ex call takes. */
#define EX_GET_FLAGS                                                                    \
    (MCF_META_GET_TTL | MCF_META_GET_LAST_ACCESS | MCF_META_GET_HIT_BEFORE |            \
     MCF_META_NO_BUMP | MCF_META_SET_TTL | MCF_META_VIVIFY | MCF_META_RECACHE |         \
     MCF_META_NEW_CAS)
#define EX_STORE_FLAGS (MCF_META_INVALIDATE | MCF_META_NEW_CAS)
#define EX_DELETE_FLAGS                                                                 \
    (MCF_META_INVALIDATE | MCF_META_SET_TTL | MCF_META_COMPARE_CAS | MCF_META_NEW_CAS |  \
     MCF_META_REMOVE_VALUE)
#define EX_ARITH_FLAGS                                                                  \
    (MCF_META_GET_TTL | MCF_META_SET_TTL | MCF_META_VIVIFY | MCF_META_COMPARE_CAS |     \
     MCF_META_NEW_CAS)

int mcf_call_of_op(mcf_client *c, const char *fn, mcf_call *call, mcf_op op, mcf_item *items,
                   size_t n, unsigned call_flags)
{
    call->items = items;
    call->n = n;
    call->noreply = mcf_call_noreply(c, call_flags);
    call->no_compress = (call_flags & MCF_CALL_NO_COMPRESS) != 0;
    switch (op) {
    case MCF_OP_SET: case MCF_OP_ADD: case MCF_OP_REPLACE:
    case MCF_OP_APPEND: case MCF_OP_PREPEND: case MCF_OP_CAS:
        call->kind = CALL_STORE;
        call->mode = (int)op;
        return MCF_OK;
    case MCF_OP_INCR: case MCF_OP_DECR:
        call->kind = CALL_ARITH;
        call->mode = op == MCF_OP_INCR;
        return MCF_OK;
    case MCF_OP_DELETE:
        call->kind = CALL_DELETE;
        return MCF_OK;
    case MCF_OP_TOUCH:
        call->kind = CALL_TOUCH;
        call->mode = 0; /* a real touch; mcf_exists sets MCF_TOUCH_EXISTS itself */
        return MCF_OK;
    default:
        return mcf_set_error(c, MCF_ERR_ARG, "%s: unknown operation %d", fn, (int)op);
    }
}

/* "stats cachedump 1 3" has words: each must pass the key rules (no
 * control character, no space, at most a key's length), and one space
 * goes between them, so the argument stays one command line. */
int mcf_call_check_stats_arg(mcf_client *c, const char *fn, const char *arg)
{
    if (!arg || !*arg)
        return MCF_OK;
    for (const char *w = arg;;) {
        size_t len = strcspn(w, " ");
        if (mcf_check_key(NULL, 0, w, len) != MCF_OK)
            return mcf_set_error(c, MCF_ERR_ARG,
                                 "%s: argument has a control character, an empty word (a "
                                 "space at either end or two in a row) or a word over %d "
                                 "bytes",
                                 fn, MCF_MAX_KEY_LEN);
        if (w[len] == '\0')
            return MCF_OK;
        w += len + 1;
    }
}

int mcf_call_check_ex(mcf_client *c, const char *fn, mcf_call_kind kind, int mode,
                      const mcf_meta_opts *opts)
{
    if (c->protocol == MCF_PROTO_TEXT)
        return mcf_set_error(c, MCF_ERR_NOT_SUPPORTED,
                             "%s: needs the meta protocol, and the client is set to text "
                             "(MCF_OPT_PROTOCOL meta, or auto on memcached >= 1.6.10)",
                             fn);
    unsigned allowed = kind == CALL_GET      ? EX_GET_FLAGS
                       : kind == CALL_STORE  ? EX_STORE_FLAGS
                       : kind == CALL_DELETE ? EX_DELETE_FLAGS
                                             : EX_ARITH_FLAGS;
    if (kind == CALL_STORE && (mode < MCF_SET || mode > MCF_CAS))
        return mcf_set_error(c, MCF_ERR_ARG, "%s: unknown mode", fn);
    if (!opts)
        return MCF_OK;
    if (opts->flags & ~allowed)
        return mcf_set_error(c, MCF_ERR_ARG, "%s: option flags 0x%x do not apply to it", fn,
                             opts->flags & ~allowed);
    if (kind == CALL_STORE && (opts->flags & MCF_META_INVALIDATE) && mode != MCF_CAS)
        return mcf_set_error(c, MCF_ERR_ARG, "%s: MCF_META_INVALIDATE needs mode MCF_CAS", fn);
    /* md takes T only with I (protocol.txt, Meta Delete). */
    if (kind == CALL_DELETE && (opts->flags & MCF_META_SET_TTL) &&
        !(opts->flags & MCF_META_INVALIDATE))
        return mcf_set_error(c, MCF_ERR_ARG, "%s: MCF_META_SET_TTL needs MCF_META_INVALIDATE",
                             fn);
    return MCF_OK;
}

const char *mcf_srv_label(const mcf_server *s, char *buf, size_t len)
{
    if (!s->address[0] || strcmp(s->address, s->spec.text) == 0)
        snprintf(buf, len, "%s", s->spec.text);
    else
        snprintf(buf, len, "%s (%s)", s->spec.text, s->address);
    return buf;
}

void mcf_note_key_error(mcf_client *c, const mcf_server *s, int rc, const char *key, size_t kl,
                        const char *what)
{
    char label[MCF_LABEL_MAX];
    mcf_note_error(c, rc, "server %s: key '%.*s': %s", mcf_srv_label(s, label, sizeof label),
                   (int)(kl > KEY_SHOWN_MAX ? KEY_SHOWN_MAX : kl), key, what);
}

const char *mcf_error_reply_text(char *buf, size_t len, int client_error, const char *msg,
                                 size_t msg_len)
{
    snprintf(buf, len, "%s%s%.*s", client_error ? "CLIENT_ERROR" : "SERVER_ERROR",
             msg_len ? " " : "", (int)(msg_len > ERROR_SHOWN_MAX ? ERROR_SHOWN_MAX : msg_len),
             msg ? msg : "");
    return buf;
}

void mcf_slice_unlink(mcf_slice *sl)
{
    mcf_server *s = sl->server;
    mcf_slice *prev = NULL, *p = s->head;
    while (p && p != sl) {
        prev = p;
        p = p->next;
    }
    if (!p)
        return;
    if (prev)
        prev->next = sl->next;
    else
        s->head = sl->next;
    if (s->tail == sl)
        s->tail = prev;
    if (s->build_next == sl)
        s->build_next = sl->next;
    sl->next = NULL;
    sl->queued = 0;
}

void mcf_slices_sent_noreply(mcf_client *c, mcf_server *s)
{
    while (s->head && s->head->built && !s->head->await_replies &&
           s->head->wend <= s->wsent) {
        mcf_slice *sl = s->head;
        /* noreply: every item is done once the request is with the kernel. */
        s->noreply_dirty = 1;
        mcf_finish_rest(c, sl, MCF_OK);
        mcf_slice_pop(c, s);
    }
}

void mcf_fail_queue(mcf_client *c, mcf_server *s, int rc)
{
    /* Taken off first: a callback may queue new requests on s, which are
     * not this failure's. */
    mcf_slice *sl = s->head;
    s->head = s->tail = s->build_next = NULL;
    for (mcf_slice *x = sl; x; x = x->next)
        x->queued = 0; /* a callback cancelling one of them must not unlink it */
    while (sl) {
        mcf_slice *next = sl->next;
        sl->next = NULL;
        mcf_finish_rest(c, sl, rc);
        mcf_slice_left(c, sl); /* may free sl (an async request's end) */
        sl = next;
    }
}

void mcf_fail_built(mcf_client *c, mcf_server *s, int rc)
{
    while (s->head && s->head->built) {
        mcf_finish_rest(c, s->head, rc);
        mcf_slice_pop(c, s);
    }
}

void mcf_fail_server(mcf_client *c, mcf_server *s, int rc, const char *cause)
{
    char label[MCF_LABEL_MAX];
    /* A TLS port resets a plaintext client (memcached closes on the bad
     * record); a timeout is more often just a slow server. */
    /* twemproxy closes the connection on a meta command (it passes text
     * commands only). */
    int meta_refused = rc == MCF_ERR_IO && s->head && s->head->meta && s->rx_bytes == 0;
    const char *hint = rc == MCF_ERR_TIMEOUT ? "" : mcf_conn_tls_hint(s);
    if (meta_refused && !s->tls_on)
        hint = " on a meta command, nothing answered (a proxy without meta commands, such as "
               "twemproxy, closes on them: use the text protocol; if it is a TLS port, write the "
               "server as tls:host:port)";
    mcf_note_error(c, rc, "server %s: %s%s", mcf_srv_label(s, label, sizeof label), cause, hint);
    mcf_conn_abort(s);
    mcf_conn_record_failure(c, s);
    mcf_fail_queue(c, s, rc);
}

void mcf_fail_unstarted(mcf_client *c, mcf_slice *sl, int rc)
{
    mcf_finish_rest(c, sl, rc);
    mcf_slice_unlink(sl);
    mcf_slice_left(c, sl);
}

/* A value that does not inflate: the item fails, named with its cause. */
MCF_COLD static void inflate_failed(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                                    const mcf_reply *r, int rc)
{
    char what[128];
    snprintf(what, sizeof what, "cannot decompress the value: %s", mcf_strerror(rc));
    mcf_note_key_error(c, s, rc, r->key, r->key_len, what);
    mcf_finish(c, call, s, i, rc, NULL);
}

void mcf_deliver_value(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                       const mcf_reply *r)
{
    mcf_value v = {r->data, r->data_len, r->flags, r->cas};
    int inflated = 0;
    /* Bit 0x2 means "zlib" only on clients that use compression; otherwise
     * all 32 flag bits are the caller's. */
    if ((r->flags & MCF_FLAG_COMPRESSED) && c->compress_threshold >= 0) {
        int rc = mcf_inflate(c, r->data, r->data_len, &v.data, &v.len);
        if (rc != MCF_OK) {
            inflate_failed(c, call, s, i, r, rc);
            return;
        }
        v.flags &= ~MCF_FLAG_COMPRESSED;
        inflated = 1;
    }
    if (call->held) {
        *call->held = v;
        if (!inflated) {
            /* Keep the bytes in place; the pointer is fixed up when the
             * call returns, since rbuf may still move while END is read. */
            s->held_off = (size_t)(r->data - s->rbuf);
            call->held_server = s;
        }
    }
    mcf_finish(c, call, s, i, MCF_OK, &v);
}

void mcf_block_of(const mcf_client *c, const mcf_call *call, size_t i, mcf_block *b)
{
    const mcf_item *it = &call->items[i];
    b->compressed = call->zoff[i] != SIZE_MAX;
    b->value = b->compressed ? call->zbuf + call->zoff[i] : it->value;
    b->len = b->compressed ? call->zlen[i] : it->value_len;
    b->flags = it->flags;
    if (b->compressed)
        b->flags |= MCF_FLAG_COMPRESSED;
    else if (c->compress_threshold >= 0)
        b->flags &= ~MCF_FLAG_COMPRESSED; /* reserved: a reader would try to inflate */
    b->copy = call->copy_values || (!b->compressed && b->len <= COPY_MAX);
}

/* Small values are copied next to the header; large and compressed ones
 * are sent from where they are (caller memory, zbuf) without a copy. */
/* One piece of a storage request.  Over TLS each piece is marked (and the
 * last one ends the request), so no record cuts the request short of its
 * end (conn.c, mcf_conn_send); plain pieces may merge with their
 * neighbours. */
static inline void add_piece(mcf_server *s, int kind, size_t off, const char *ptr, size_t len,
                             int ends)
{
    if (s->tls_on)
        mcf_conn_add_store_seg(s, kind, off, ptr, len, ends);
    else
        mcf_conn_add_seg(s, kind, off, ptr, len);
}

void mcf_block_append(mcf_server *s, size_t start, const mcf_block *b)
{
    if (b->copy) {
        if (b->len)
            memcpy(s->wbuf + s->wlen, b->value, b->len);
        s->wlen += b->len;
    } else {
        add_piece(s, SEG_WBUF, start, NULL, s->wlen - start, 0);
        add_piece(s, SEG_EXTERNAL, 0, b->value, b->len, 0);
        start = s->wlen;
    }
    memcpy(s->wbuf + s->wlen, "\r\n", 2);
    s->wlen += 2;
    add_piece(s, SEG_WBUF, start, NULL, s->wlen - start, 1);
}
