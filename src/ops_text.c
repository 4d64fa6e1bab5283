/* ops_text.c - a call on one server in memcached's text protocol
 * (protocol.txt): its request, built from codec.c's encoders into the
 * server's request buffer (one pipelined request per server: one get line
 * for all keys, or one command per item), and its replies, matched to the
 * items in order.  A value for a key that was not asked is a protocol
 * error, never handed out. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "ops.h"

/* A command name and its length. */
typedef struct cmd_name {
    const char *name;
    size_t len;
} cmd_name;
static const cmd_name cmd_names[] = {{"set", 3},    {"add", 3},     {"replace", 7},
                                       {"append", 6}, {"prepend", 7}, {"cas", 3}};

static MCF_HOT_INLINE int key_matches(const mcf_client *c, const char *key, size_t len,
                                      const mcf_reply *r)
{
    if (r->key_len != c->ns_len + len)
        return 0;
    if (c->ns_len && memcmp(r->key, c->ns, c->ns_len) != 0)
        return 0;
    return memcmp(r->key + c->ns_len, key, len) == 0;
}

/* A value for a key that was not asked (or not now): the server fails. */
MCF_COLD static void not_requested(mcf_client *c, mcf_server *s, const mcf_reply *r,
                                   const char *why)
{
    char msg[320];
    snprintf(msg, sizeof msg, "value for key '%.*s' that was not requested (%s)",
             (int)(r->key_len > MCF_MAX_KEY_LEN ? MCF_MAX_KEY_LEN : r->key_len), r->key, why);
    mcf_fail_server(c, s, MCF_ERR_PROTOCOL, msg);
}

static int reply_error_rc(const mcf_reply *r)
{
    return r->type == MCF_R_CLIENT_ERROR ? MCF_ERR_CLIENT : MCF_ERR_SERVER;
}

static void unexpected(mcf_client *c, mcf_server *s, const mcf_reply *r)
{
    if (r->type == MCF_R_SERVER_ERROR || r->type == MCF_R_CLIENT_ERROR ||
        r->type == MCF_R_ERROR) {
        char msg[MCF_ERROR_TEXT_MAX];
        /* "ERROR metadump not allowed" (memcached -X), "BUSY ..." say why:
         * keep the text; a bare "ERROR" is an unknown command. */
        int texted = r->type == MCF_R_ERROR && r->data_len != sizeof "ERROR" - 1;
        if (texted)
            snprintf(msg, sizeof msg, "server replied %.*s",
                     (int)(r->data_len > MCF_ERROR_TEXT_MAX / 2 ? MCF_ERROR_TEXT_MAX / 2
                                                                 : r->data_len),
                     r->data);
        mcf_fail_server(c, s, reply_error_rc(r),
                        r->type == MCF_R_ERROR
                            ? (texted ? msg : "server replied ERROR (unknown command)")
                            : mcf_error_reply_text(msg, sizeof msg, r->type == MCF_R_CLIENT_ERROR,
                                                   r->data, r->data_len));
        return;
    }
    mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "unexpected reply for this command");
}

/* An error reply to item i (SERVER_ERROR, CLIENT_ERROR), noted with its key. */
MCF_COLD static void note_item_error(mcf_client *c, const mcf_call *call, const mcf_server *s,
                                     size_t i, int rc, const mcf_reply *r)
{
    const char *key;
    char what[MCF_ERROR_TEXT_MAX];
    size_t kl = mcf_call_key(call, i, &key);
    mcf_note_key_error(c, s, rc, key, kl,
                       mcf_error_reply_text(what, sizeof what, r->type == MCF_R_CLIENT_ERROR,
                                            r->data, r->data_len));
}

/* A per-item reply (storage, arith, delete, touch): maps it to a result. */
static void item_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    mcf_slice *sl = s->head;
    size_t i = call->order[sl->first + sl->cursor];
    int rc = -1;
    switch (r->type) {
    case MCF_R_STORED:
        rc = call->kind == CALL_STORE ? MCF_OK : -1;
        break;
    case MCF_R_DELETED:
        rc = call->kind == CALL_DELETE ? MCF_OK : -1;
        break;
    case MCF_R_TOUCHED:
        rc = call->kind == CALL_TOUCH ? MCF_OK : -1;
        break;
    case MCF_R_NUMBER:
        if (call->kind == CALL_ARITH) {
            call->items[i].number = r->number;
            rc = MCF_OK;
        }
        break;
    case MCF_R_NOT_STORED:
        rc = call->kind == CALL_STORE ? MCF_NOT_STORED : -1;
        break;
    case MCF_R_EXISTS:
        rc = call->kind == CALL_STORE ? MCF_EXISTS : -1;
        break;
    case MCF_R_NOT_FOUND:
        rc = MCF_NOT_FOUND;
        break;
    case MCF_R_SERVER_ERROR:
        /* e.g. "object too large for cache", "out of memory": memcached
         * consumed the request, the stream stays in step. */
        rc = MCF_ERR_SERVER;
        break;
    case MCF_R_CLIENT_ERROR:
        /* incr/decr on a non-number keeps the stream in step; for storage
         * it means the data block was misread, so the stream is lost. */
        if (call->kind == CALL_ARITH || call->kind == CALL_TOUCH)
            rc = MCF_ERR_CLIENT;
        break;
    default:
        break;
    }
    if (rc < 0) {
        unexpected(c, s, r);
        return;
    }
    if (mcf_is_error(rc))
        note_item_error(c, call, s, i, rc, r);
    mcf_finish(c, call, s, i, rc, NULL);
    if (++sl->cursor == sl->count)
        mcf_slice_done(c, s);
}

static void get_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    mcf_slice *sl = s->head;
    if (r->type == MCF_R_END) {
        if (--sl->ends_due > 0)
            return; /* a split gat/gats: more command lines to answer */
        /* Misses are known only now: a key passed over may still have been
         * answered out of order by a misbehaving server. */
        mcf_finish_rest(c, sl, MCF_MISS);
        mcf_slice_done(c, s);
        return;
    }
    if (r->type != MCF_R_VALUE) {
        unexpected(c, s, r);
        return;
    }
    /* memcached answers hits in request order and skips misses, so the key
     * named is normally at or after the cursor; anything else is looked up
     * among the keys not answered yet.  A value is only ever handed to the
     * key it names, and a key not asked for is a protocol error. */
    size_t p, found = SIZE_MAX;
    for (p = sl->cursor; p < sl->count && found == SIZE_MAX; p++) {
        size_t i = call->order[sl->first + p];
        const char *key;
        size_t kl = mcf_call_key(call, i, &key);
        if (!call->answered[i] && key_matches(c, key, kl, r)) {
            found = p;
            sl->cursor = p + 1;
        }
    }
    for (p = 0; p < sl->cursor && found == SIZE_MAX; p++) {
        size_t i = call->order[sl->first + p];
        const char *key;
        size_t kl = mcf_call_key(call, i, &key);
        if (!call->answered[i] && key_matches(c, key, kl, r))
            found = p;
    }
    if (found == SIZE_MAX) {
        not_requested(c, s, r, "or answered twice");
        return;
    }
    mcf_deliver_value(c, call, s, call->order[sl->first + found], r);
}

static void server_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    mcf_slice *sl = s->head;
    switch (call->kind) {
    case CALL_VERSION:
        if (r->type != MCF_R_VERSION)
            break;
        if (call->version_buf && call->version_len) {
            size_t n = r->data_len < call->version_len - 1 ? r->data_len : call->version_len - 1;
            memcpy(call->version_buf, r->data, n);
            call->version_buf[n] = 0;
        }
        sl->cursor = sl->count;
        mcf_slice_done(c, s);
        return;
    case CALL_STATS:
        if (r->type == MCF_R_DUMP && call->dump_cb) {
            call->dump_cb(call->ctx, r->data, r->data_len);
            return;
        }
        if (r->type == MCF_R_STAT && !call->dump_cb) {
            if (call->stat_cb)
                call->stat_cb(call->ctx, r->key, r->key_len, r->data, r->data_len);
            return;
        }
        if (r->type != MCF_R_END)
            break;
        sl->cursor = sl->count;
        mcf_slice_done(c, s);
        return;
    case CALL_FLUSH:
        if (r->type != MCF_R_OK)
            break;
        sl->cursor = sl->count;
        mcf_slice_done(c, s);
        return;
    default:
        break;
    }
    unexpected(c, s, r);
}

/* A reply to a request given up on (cancelled, or timed out behind
 * others): only counted, so the stream stays in step; its keys are no
 * longer looked at (the caller may have freed them). */
MCF_COLD static void zombie_reply(mcf_client *c, mcf_call *call, mcf_server *s,
                                  const mcf_reply *r)
{
    mcf_slice *sl = s->head;
    if (call->kind == CALL_GET) {
        if (r->type == MCF_R_END) {
            if (--sl->ends_due == 0)
                mcf_slice_done(c, s);
        } else if (r->type != MCF_R_VALUE) {
            unexpected(c, s, r);
        }
        return;
    }
    /* stats: STAT lines up to END (metadump: key= lines). */
    if (call->kind == CALL_STATS && (r->type == MCF_R_STAT || r->type == MCF_R_DUMP))
        return;
    /* Item and server commands answer one line per item (END for stats). */
    if (++sl->cursor >= sl->count)
        mcf_slice_done(c, s);
}

/* A reply to a batch of single-key gets (one get line): a value goes to
 * the first slice on from the head whose key it names, and the slices
 * passed over were misses; END ends the batch.  A value for no key of the
 * batch is a protocol error, never handed out. */
MCF_OUT_OF_LINE static void batch_reply(mcf_client *c, mcf_server *s,
                                         const mcf_reply *r)
{
    if (r->type == MCF_R_END) {
        mcf_batch_end(c, s);
        return;
    }
    if (r->type != MCF_R_VALUE) {
        unexpected(c, s, r);
        return;
    }
    const mcf_slice *x = s->head;
    for (;;) {
        const mcf_call *xc = x->call;
        if (key_matches(c, xc->kptr[0], xc->klen[0], r))
            break;
        if (x->batch_end || !(x = x->next)) {
            not_requested(c, s, r, "or out of order");
            return;
        }
    }
    mcf_batch_skip_to(c, s, x);
    mcf_deliver_value(c, x->call, s, 0, r);
    mcf_batch_answered(c, s);
}

static void dispatch_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    if (s->head->batched)
        batch_reply(c, s, r);
    else if (s->head->zombie)
        zombie_reply(c, call, s, r);
    else if (call->kind == CALL_GET)
        get_reply(c, call, s, r);
    else if (mcf_call_has_items(call))
        item_reply(c, call, s, r);
    else
        server_reply(c, call, s, r);
}

ssize_t mcf_ops_text_parse_one(mcf_client *c, mcf_server *s)
{
    mcf_reply r;
    ssize_t n = mcf_parse_reply(s->rbuf + s->rpos, s->rlen - s->rpos, c->max_value_size, &r);
    if (n > 0) {
        s->rpos += (size_t)n;
        dispatch_reply(c, s->head->call, s, &r);
    } else if (n == 0) {
        s->need = r.need;
    }
    return n;
}

/* ---- requests ---- */

/* memcached 1.6 reads a command line longer than 2048 bytes only when it
 * starts with "get " or "gets " (it closes the connection otherwise), so
 * gat/gats requests are split into lines below that. */
#define GAT_LINE_MAX 2000

static char *put_get_command(char *w, const mcf_call *call)
{
    static const cmd_name cmd[] = {{"get", 3}, {"gets", 4}, {"gat", 3}, {"gats", 4}};
    if (call->mode == MCF_GET) {
        memcpy(w, "get", 3); /* the common case: a constant-size copy */
        return w + 3;
    }
    const cmd_name *name = &cmd[call->mode & 3];
    memcpy(w, name->name, name->len);
    w += name->len;
    if (call->mode == MCF_GAT || call->mode == MCF_GATS) {
        *w++ = ' ';
        w += mcf_i64_to_dec(w, call->exptime);
    }
    return w;
}

static int build_get(mcf_client *c, const mcf_call *call, mcf_server *s, mcf_slice *sl)
{
    int split = call->mode == MCF_GAT || call->mode == MCF_GATS;
    size_t total = 0;
    for (size_t p = 0; p < sl->count; p++) {
        const char *key;
        total += 1 + c->ns_len + mcf_call_key(call, call->order[sl->first + p], &key);
    }
    /* Worst case every key starts a line of its own. */
    size_t per_line = 32 + 2;
    if (mcf_conn_wreserve(s, total + per_line * (split ? sl->count : 1)) < 0 ||
        mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    char *w = s->wbuf + s->wlen, *start = w, *line = w;
    w = put_get_command(w, call);
    sl->ends_due = 1;
    for (size_t p = 0; p < sl->count; p++) {
        const char *key;
        size_t kl = mcf_call_key(call, call->order[sl->first + p], &key);
        if (split && p > 0 && (size_t)(w - line) + 1 + c->ns_len + kl > GAT_LINE_MAX) {
            *w++ = '\r';
            *w++ = '\n';
            line = w;
            w = put_get_command(w, call);
            sl->ends_due++;
        }
        *w++ = ' ';
        if (c->ns_len) {
            memcpy(w, c->ns, c->ns_len);
            w += c->ns_len;
        }
        memcpy(w, key, kl);
        w += kl;
    }
    *w++ = '\r';
    *w++ = '\n';
    mcf_conn_add_seg(s, SEG_WBUF, s->wlen, NULL, (size_t)(w - start));
    s->wlen += (size_t)(w - start);
    return MCF_OK;
}

static int build_store_item(mcf_client *c, const mcf_call *call, mcf_server *s, size_t i)
{
    const mcf_item *it = &call->items[i];
    const cmd_name *cmd = &cmd_names[call->mode];
    mcf_block b;
    mcf_block_of(c, call, i, &b);
    if (mcf_conn_wreserve(s, MCF_MAX_REQUEST_HEADER + mcf_block_room(&b)) < 0 ||
        mcf_conn_seg_reserve(s, MCF_BLOCK_SEGS) < 0)
        return MCF_ERR_NOMEM;
    size_t start = s->wlen;
    s->wlen += mcf_enc_storage(s->wbuf + s->wlen, cmd->name, cmd->len, c->ns, c->ns_len, it->key,
                               it->key_len, b.flags, it->exptime, b.len, it->cas,
                               call->mode == MCF_CAS, call->noreply);
    mcf_block_append(s, start, &b);
    return MCF_OK;
}

static int build_simple_item(mcf_client *c, const mcf_call *call, mcf_server *s, size_t i)
{
    const mcf_item *it = &call->items[i];
    if (mcf_conn_wreserve(s, MCF_MAX_REQUEST_HEADER) < 0 || mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    char *w = s->wbuf + s->wlen;
    size_t n;
    if (call->kind == CALL_ARITH)
        n = mcf_enc_arith(w, call->mode, c->ns, c->ns_len, it->key, it->key_len, it->delta,
                          call->noreply);
    else if (call->kind == CALL_DELETE)
        n = mcf_enc_delete(w, c->ns, c->ns_len, it->key, it->key_len, call->noreply);
    else
        n = mcf_enc_touch(w, c->ns, c->ns_len, it->key, it->key_len, it->exptime,
                          call->noreply);
    mcf_conn_add_seg(s, SEG_WBUF, s->wlen, NULL, n);
    s->wlen += n;
    return MCF_OK;
}

static int build_server_cmd(mcf_client *c, const mcf_call *call, mcf_server *s)
{
    size_t idx = (size_t)(s - c->servers);
    if (mcf_conn_wreserve(s, 64 + (call->stats_arg ? strlen(call->stats_arg) : 0)) < 0 ||
        mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    char *w = s->wbuf + s->wlen, *start = w;
    if (call->kind == CALL_VERSION) {
        memcpy(w, "version", 7);
        w += 7;
    } else if (call->kind == CALL_STATS && call->dump_cb) {
        /* "hash" walks the hash table: "all" walks the LRUs, and misses
         * items the LRU maintainer moves between them meanwhile (seen in
         * t_cli_commands.sh: a key just touched was not listed).
         * memcached >= 1.6.9 (its release notes: hash table walk mode). */
        static const char dump[] = "lru_crawler metadump hash";
        memcpy(w, dump, sizeof dump - 1);
        w += sizeof dump - 1;
    } else if (call->kind == CALL_STATS) {
        memcpy(w, "stats", 5);
        w += 5;
        if (call->stats_arg && *call->stats_arg) {
            size_t al = strlen(call->stats_arg);
            *w++ = ' ';
            memcpy(w, call->stats_arg, al);
            w += al;
        }
    } else {
        memcpy(w, "flush_all", 9);
        w += 9;
        if (call->exptime > 0) {
            /* Spread the flush as Cache::Memcached::Fast does (its
             * client.c, client_flush_all): server i of n flushes after
             * round(delay - delay * i / (n - 1)) seconds, the last at once. */
            double d = (double)call->exptime, n = (double)c->nservers;
            int64_t at = c->nservers > 1 ? (int64_t)(d - d * (double)idx / (n - 1) + 0.5)
                                         : call->exptime;
            *w++ = ' ';
            w += mcf_i64_to_dec(w, at);
        }
        if (call->noreply) {
            memcpy(w, " noreply", 8);
            w += 8;
        }
    }
    *w++ = '\r';
    *w++ = '\n';
    mcf_conn_add_seg(s, SEG_WBUF, s->wlen, NULL, (size_t)(w - start));
    s->wlen += (size_t)(w - start);
    return MCF_OK;
}

int mcf_ops_text_build_batch(mcf_client *c, mcf_slice *first, size_t n)
{
    mcf_server *s = first->server;
    size_t total = 0;
    const mcf_slice *x = first;
    for (size_t i = 0; i < n; i++, x = x->next)
        total += 1 + c->ns_len + x->call->klen[0];
    if (mcf_conn_wreserve(s, total + 32) < 0 || mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    char *w = s->wbuf + s->wlen, *start = w;
    w = put_get_command(w, first->call);
    x = first;
    for (size_t i = 0; i < n; i++, x = x->next) {
        *w++ = ' ';
        if (c->ns_len) {
            memcpy(w, c->ns, c->ns_len);
            w += c->ns_len;
        }
        memcpy(w, x->call->kptr[0], x->call->klen[0]);
        w += x->call->klen[0];
    }
    *w++ = '\r';
    *w++ = '\n';
    mcf_conn_add_seg(s, SEG_WBUF, s->wlen, NULL, (size_t)(w - start));
    s->wlen += (size_t)(w - start);
    return MCF_OK;
}

int mcf_ops_text_build(mcf_client *c, mcf_slice *sl)
{
    const mcf_call *call = sl->call;
    mcf_server *s = sl->server;
    if (call->kind == CALL_GET)
        return build_get(c, call, s, sl);
    if (!mcf_call_has_items(call))
        return build_server_cmd(c, call, s);
    for (size_t p = 0; p < sl->count; p++) {
        size_t i = call->order[sl->first + p];
        int rc = call->kind == CALL_STORE ? build_store_item(c, call, s, i)
                                          : build_simple_item(c, call, s, i);
        if (rc != MCF_OK)
            return rc;
    }
    return MCF_OK;
}
