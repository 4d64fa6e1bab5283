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

void mcf_fail_server(mcf_client *c, mcf_call *call, mcf_server *s, int rc, const char *cause)
{
    char label[MCF_LABEL_MAX];
    mcf_note_error(c, rc, "server %s: %s", mcf_srv_label(s, label, sizeof label), cause);
    mcf_finish_rest(c, call, s, rc);
    mcf_conn_abort(s);
    mcf_conn_record_failure(c, s);
    s->active = 0;
}

void mcf_fail_unstarted(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    for (size_t p = 0; p < s->count; p++)
        mcf_finish(c, call, c->order[s->first + p], rc, NULL);
    s->cursor = s->count;
    s->active = 0;
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
            char what[128];
            snprintf(what, sizeof what, "cannot decompress the value: %s", mcf_strerror(rc));
            mcf_note_key_error(c, s, rc, r->key, r->key_len, what);
            mcf_finish(c, call, i, rc, NULL);
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
    mcf_finish(c, call, i, MCF_OK, &v);
}

void mcf_block_of(const mcf_client *c, const mcf_call *call, size_t i, mcf_block *b)
{
    const mcf_item *it = &call->items[i];
    b->compressed = c->zoff[i] != SIZE_MAX;
    b->value = it->value;
    b->len = b->compressed ? c->zlen[i] : it->value_len;
    b->flags = it->flags;
    if (b->compressed)
        b->flags |= MCF_FLAG_COMPRESSED;
    else if (c->compress_threshold >= 0)
        b->flags &= ~MCF_FLAG_COMPRESSED; /* reserved: a reader would try to inflate */
    b->copy = !b->compressed && b->len <= COPY_MAX;
}

/* Small values are copied next to the header; large and compressed ones
 * are sent from where they are (caller memory, zbuf) without a copy. */
void mcf_block_append(mcf_client *c, mcf_server *s, size_t start, size_t i, const mcf_block *b)
{
    if (b->copy) {
        if (b->len)
            memcpy(s->wbuf + s->wlen, b->value, b->len);
        s->wlen += b->len;
    } else {
        mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
        if (b->compressed)
            mcf_conn_add_seg(s, SEG_ZBUF, c->zoff[i], NULL, b->len);
        else
            mcf_conn_add_seg(s, SEG_EXTERNAL, 0, b->value, b->len);
        start = s->wlen;
    }
    memcpy(s->wbuf + s->wlen, "\r\n", 2);
    s->wlen += 2;
    mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
}
