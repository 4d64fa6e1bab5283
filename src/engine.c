/* engine.c - runs one call: validates keys, groups them per server, builds
 * one pipelined request per server, and drives every server from a single
 * poll loop under one I/O deadline, matching replies to keys in order.
 * The protocol bytes come from codec.c (text) or meta.c (meta: one quiet
 * pipeline per server, replies matched by opaque, ended by "mn"); sockets
 * from conn.c; the choice of server from dist.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "codec.h"
#include "internal.h"
#include "meta.h"

#define NO_SERVER UINT32_MAX
/* Values up to this size are copied into the request buffer; larger ones
 * are sent from the caller's memory (an iovec) to avoid the copy. */
#define COPY_MAX 2048

typedef struct store_cmd {
    const char *name;
    size_t len;
} store_cmd;
static const store_cmd store_cmds[] = {{"set", 3}, {"add", 3}, {"replace", 7}, {"append", 6}, {"prepend", 7}, {"cas", 3}};

/* The key of item i, as resolved by route(). */
static size_t call_key(const mcf_client *c, size_t i, const char **key)
{
    *key = c->kptr[i];
    return c->klen[i];
}

/* The key of item i as the caller gave it (route() resolves it once). */
static size_t caller_key(const mcf_call *call, size_t i, const char **key)
{
    if (call->kind == CALL_GET) {
        *key = call->keys[i];
        if (!*key)
            return 0;
        return call->key_lens ? call->key_lens[i] : strlen(*key);
    }
    *key = call->items[i].key;
    return call->items[i].key_len;
}

static int is_item_call(const mcf_call *call)
{
    return call->kind == CALL_STORE || call->kind == CALL_ARITH || call->kind == CALL_DELETE ||
           call->kind == CALL_TOUCH;
}

static void finish(mcf_client *c, mcf_call *call, size_t i, int rc, const mcf_value *v)
{
    c->answered[i] = 1;
    if (mcf_is_error(rc) && !call->first_error)
        call->first_error = rc;
    if (call->kind == CALL_GET) {
        if (call->get_cb)
            call->get_cb(call->ctx, i, rc, v);
        else if (call->held && rc != MCF_OK)
            memset(call->held, 0, sizeof *call->held);
    } else if (is_item_call(call)) {
        call->items[i].rc = rc;
    }
}

static void server_done(mcf_server *s)
{
    s->active = 0;
    if (s->await_replies)
        s->noreply_dirty = 0;
}

/* "spec" or "spec (address)" when the address says more than the spec. */
static const char *srv_label(const mcf_server *s, char *buf, size_t len)
{
    if (!s->address[0] || strcmp(s->address, s->spec.text) == 0)
        snprintf(buf, len, "%s", s->spec.text);
    else
        snprintf(buf, len, "%s (%s)", s->spec.text, s->address);
    return buf;
}
#define LABEL_MAX (2 * MCF_ADDRSTR_MAX + 4)

/* Fails every key of s not answered yet, closes the connection (its stream
 * is no longer in a known state) and counts a failure. */
static void fail_server(mcf_client *c, mcf_call *call, mcf_server *s, int rc, const char *cause)
{
    char label[LABEL_MAX];
    mcf_note_error(c, rc, "server %s: %s", srv_label(s, label, sizeof label), cause);
    for (size_t p = 0; p < s->count; p++) {
        size_t i = c->order[s->first + p];
        if (!c->answered[i])
            finish(c, call, i, rc, NULL);
    }
    s->cursor = s->count;
    mcf_conn_close(s);
    mcf_conn_record_failure(c, s);
    s->active = 0;
}

static int key_matches(const mcf_client *c, const char *key, size_t len, const mcf_reply *r)
{
    if (r->key_len != c->ns_len + len)
        return 0;
    if (c->ns_len && memcmp(r->key, c->ns, c->ns_len) != 0)
        return 0;
    return memcmp(r->key + c->ns_len, key, len) == 0;
}

static void deliver_value(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                          const mcf_reply *r)
{
    mcf_value v = {r->data, r->data_len, r->flags, r->cas};
    int inflated = 0;
    /* Bit 0x2 means "zlib" only on clients that use compression; otherwise
     * all 32 flag bits are the caller's. */
    if ((r->flags & MCF_FLAG_COMPRESSED) && c->compress_threshold >= 0) {
        int rc = mcf_inflate(c, r->data, r->data_len, &v.data, &v.len);
        if (rc != MCF_OK) {
            char label[LABEL_MAX];
            mcf_note_error(c, rc, "server %s: key '%.*s': cannot decompress the value: %s",
                           srv_label(s, label, sizeof label), (int)r->key_len, r->key,
                           mcf_strerror(rc));
            finish(c, call, i, rc, NULL);
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
    finish(c, call, i, MCF_OK, &v);
}

static int reply_error_rc(const mcf_reply *r)
{
    return r->type == MCF_R_CLIENT_ERROR ? MCF_ERR_CLIENT : MCF_ERR_SERVER;
}

static void unexpected(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    if (r->type == MCF_R_SERVER_ERROR || r->type == MCF_R_CLIENT_ERROR ||
        r->type == MCF_R_ERROR) {
        char msg[300];
        if (r->type == MCF_R_ERROR)
            snprintf(msg, sizeof msg, "server replied ERROR (unknown command)");
        else
            snprintf(msg, sizeof msg, "%s %.*s",
                     r->type == MCF_R_CLIENT_ERROR ? "CLIENT_ERROR" : "SERVER_ERROR",
                     (int)(r->data_len > 200 ? 200 : r->data_len), r->data ? r->data : "");
        fail_server(c, call, s, reply_error_rc(r), msg);
        return;
    }
    fail_server(c, call, s, MCF_ERR_PROTOCOL, "unexpected reply for this command");
}

/* A per-item reply (storage, arith, delete, touch): maps it to a result. */
static void item_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    size_t i = c->order[s->first + s->cursor];
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
        unexpected(c, call, s, r);
        return;
    }
    if (mcf_is_error(rc)) {
        const char *key;
        char label[LABEL_MAX];
        size_t kl = call_key(c, i, &key);
        mcf_note_error(c, rc, "server %s: key '%.*s': %s%s%.*s", srv_label(s, label, sizeof label),
                       (int)(kl > 250 ? 250 : kl), key,
                       r->type == MCF_R_CLIENT_ERROR ? "CLIENT_ERROR" : "SERVER_ERROR",
                       r->data_len ? " " : "", (int)(r->data_len > 200 ? 200 : r->data_len),
                       r->data ? r->data : "");
    }
    finish(c, call, i, rc, NULL);
    if (++s->cursor == s->count)
        server_done(s);
}

static void get_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    if (r->type == MCF_R_END) {
        if (--s->ends_due > 0)
            return; /* a split gat/gats: more command lines to answer */
        /* Misses are known only now: a key passed over may still have been
         * answered out of order by a misbehaving server. */
        for (size_t p = 0; p < s->count; p++) {
            size_t i = c->order[s->first + p];
            if (!c->answered[i])
                finish(c, call, i, MCF_MISS, NULL);
        }
        s->cursor = s->count;
        server_done(s);
        return;
    }
    if (r->type != MCF_R_VALUE) {
        unexpected(c, call, s, r);
        return;
    }
    /* memcached answers hits in request order and skips misses, so the key
     * named is normally at or after the cursor; anything else is looked up
     * among the keys not answered yet.  A value is only ever handed to the
     * key it names, and a key not asked for is a protocol error. */
    size_t p, found = SIZE_MAX;
    for (p = s->cursor; p < s->count && found == SIZE_MAX; p++) {
        size_t i = c->order[s->first + p];
        const char *key;
        size_t kl = call_key(c, i, &key);
        if (!c->answered[i] && key_matches(c, key, kl, r)) {
            found = p;
            s->cursor = p + 1;
        }
    }
    for (p = 0; p < s->cursor && found == SIZE_MAX; p++) {
        size_t i = c->order[s->first + p];
        const char *key;
        size_t kl = call_key(c, i, &key);
        if (!c->answered[i] && key_matches(c, key, kl, r))
            found = p;
    }
    if (found == SIZE_MAX) {
        char msg[320];
        snprintf(msg, sizeof msg, "value for key '%.*s' that was not requested (or answered twice)",
                 (int)(r->key_len > 250 ? 250 : r->key_len), r->key);
        fail_server(c, call, s, MCF_ERR_PROTOCOL, msg);
        return;
    }
    deliver_value(c, call, s, c->order[s->first + found], r);
}

static void server_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    switch (call->kind) {
    case CALL_VERSION:
        if (r->type != MCF_R_VERSION)
            break;
        if (call->version_buf && call->version_len) {
            size_t n = r->data_len < call->version_len - 1 ? r->data_len : call->version_len - 1;
            memcpy(call->version_buf, r->data, n);
            call->version_buf[n] = 0;
        }
        s->cursor = s->count;
        server_done(s);
        return;
    case CALL_STATS:
        if (r->type == MCF_R_STAT) {
            if (call->stat_cb)
                call->stat_cb(call->ctx, r->key, r->key_len, r->data, r->data_len);
            return;
        }
        if (r->type != MCF_R_END)
            break;
        s->cursor = s->count;
        server_done(s);
        return;
    case CALL_FLUSH:
        if (r->type != MCF_R_OK)
            break;
        s->cursor = s->count;
        server_done(s);
        return;
    default:
        break;
    }
    unexpected(c, call, s, r);
}

static void dispatch_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_reply *r)
{
    if (call->kind == CALL_GET)
        get_reply(c, call, s, r);
    else if (is_item_call(call))
        item_reply(c, call, s, r);
    else
        server_reply(c, call, s, r);
}

/* ---- meta replies ----
 * Every request carries O<position in the server's group> and k, most are
 * quiet, and "mn" ends the pipeline.  A reply is matched by its opaque,
 * then its key is checked; s->cursor is one past the position of the last
 * reply seen (replies come in request order).  At MN every item without a
 * reply gets its quiet outcome. */

/* The outcome of an item the server did not answer before MN. */
static int meta_quiet_rc(const mcf_call *call)
{
    if (call->noreply)
        return MCF_OK;
    switch (call->kind) {
    case CALL_GET: return MCF_MISS;
    case CALL_TOUCH: return MCF_NOT_FOUND;
    case CALL_STORE:
    case CALL_DELETE: return MCF_OK;
    default: return -1; /* ma v is never quiet */
    }
}

static void meta_end(mcf_client *c, mcf_call *call, mcf_server *s)
{
    int rc = meta_quiet_rc(call);
    for (size_t p = 0; p < s->count; p++) {
        size_t i = c->order[s->first + p];
        if (c->answered[i])
            continue;
        if (rc < 0) {
            fail_server(c, call, s, MCF_ERR_PROTOCOL, "no reply to a request before MN");
            return;
        }
        finish(c, call, i, rc, NULL);
    }
    s->cursor = s->count;
    server_done(s);
}

/* An error line: it carries no opaque, so only its position places it.
 * The item is known when one request at most is still unanswered at or
 * after the cursor, or when the requests are not quiet (ma v); otherwise
 * every unanswered item of the server fails. */
static void meta_error(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_meta_reply *r)
{
    int rc = r->type == MCF_M_CLIENT_ERROR ? MCF_ERR_CLIENT : MCF_ERR_SERVER;
    char msg[300];
    if (r->type == MCF_M_ERROR)
        snprintf(msg, sizeof msg, "server replied ERROR (unknown command: no meta protocol?)");
    else
        snprintf(msg, sizeof msg, "%s %.*s",
                 r->type == MCF_M_CLIENT_ERROR ? "CLIENT_ERROR" : "SERVER_ERROR",
                 (int)(r->data_len > 200 ? 200 : r->data_len), r->data ? r->data : "");
    if (call->noreply) {
        /* Nothing to report (as with text noreply); the stream may be out
         * of step, so the connection goes. */
        for (size_t p = 0; p < s->count; p++) {
            size_t i = c->order[s->first + p];
            if (!c->answered[i])
                finish(c, call, i, MCF_OK, NULL);
        }
        s->cursor = s->count;
        mcf_conn_close(s);
        s->active = 0;
        return;
    }
    /* After ms, CLIENT_ERROR may mean the data block was read as a command. */
    if (r->type == MCF_M_ERROR || (r->type == MCF_M_CLIENT_ERROR && call->kind == CALL_STORE)) {
        fail_server(c, call, s, rc, msg);
        return;
    }
    size_t p, cand = SIZE_MAX, ncand = 0;
    for (p = s->cursor; p < s->count; p++)
        if (!c->answered[c->order[s->first + p]]) {
            if (cand == SIZE_MAX)
                cand = p;
            ncand++;
        }
    if (cand == SIZE_MAX) {
        fail_server(c, call, s, MCF_ERR_PROTOCOL, "error line after every request was answered");
        return;
    }
    if (ncand > 1 && call->kind != CALL_ARITH) {
        fail_server(c, call, s, rc, msg);
        return;
    }
    size_t i = c->order[s->first + cand];
    const char *key;
    char label[LABEL_MAX];
    size_t kl = call_key(c, i, &key);
    mcf_note_error(c, rc, "server %s: key '%.*s': %s", srv_label(s, label, sizeof label),
                   (int)(kl > 250 ? 250 : kl), key, msg);
    s->cursor = cand + 1;
    finish(c, call, i, rc, NULL);
}

/* What a reply said about the item, for the _ex calls (one item each). */
static void note_item_info(mcf_item_info *info, const mcf_meta_reply *r)
{
    if (r->has & MCF_MR_TTL)
        info->ttl = r->ttl;
    if (r->has & MCF_MR_LA)
        info->last_access = r->last_access;
    if (r->has & MCF_MR_HIT)
        info->hit_before = r->hit_before;
    if (r->has & MCF_MR_CAS)
        info->cas = r->cas;
    info->win = (r->has & MCF_MR_WIN) != 0;
    info->stale = (r->has & MCF_MR_STALE) != 0;
    info->won = (r->has & MCF_MR_WON) != 0;
}

/* Nonzero when a reply matched to item i by opaque is about its key. */
static int meta_reply_is_for(const mcf_client *c, const mcf_meta_reply *r, size_t i)
{
    /* Plain keys are sent with k: compare the echo (the key was checked in
     * route(), so no second look at its bytes). */
    mcf_meta_key mk = {.ns = c->ns, .ns_len = c->ns_len, .key = c->kptr[i], .key_len = c->klen[i]};
    if ((r->has & MCF_MR_KEY) && mcf_meta_reply_key_is(r, &mk))
        return 1;
    /* Base64 keys go without k (meta_k): the opaque alone places them. */
    return mcf_meta_key_init(&mk, c->ns, c->ns_len, c->kptr[i], c->klen[i], 1) == MCF_OK &&
           mk.b64;
}

static void meta_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_meta_reply *r)
{
    if (r->type == MCF_M_MN) {
        meta_end(c, call, s);
        return;
    }
    if (r->type == MCF_M_ERROR || r->type == MCF_M_CLIENT_ERROR || r->type == MCF_M_SERVER_ERROR) {
        meta_error(c, call, s, r);
        return;
    }
    if (!(r->has & MCF_MR_OPAQUE_U32) || r->opaque_u32 >= s->count) {
        fail_server(c, call, s, MCF_ERR_PROTOCOL, "reply without an opaque that was sent");
        return;
    }
    size_t p = r->opaque_u32, i = c->order[s->first + p];
    if (c->answered[i]) {
        fail_server(c, call, s, MCF_ERR_PROTOCOL, "a second reply for one request");
        return;
    }
    if (!meta_reply_is_for(c, r, i)) {
        char msg[320];
        snprintf(msg, sizeof msg, "reply with opaque %zu names key '%.*s', not the one asked",
                 p, (int)(r->key_len > 250 ? 250 : r->key_len), r->key ? r->key : "");
        fail_server(c, call, s, MCF_ERR_PROTOCOL, msg);
        return;
    }
    if (p + 1 > s->cursor)
        s->cursor = p + 1;
    if (call->info)
        note_item_info(call->info, r);
    int rc = -1;
    switch (call->kind) {
    case CALL_GET:
        if (r->type == MCF_M_VA) {
            mcf_reply tr = {.type = MCF_R_VALUE, .key = r->key, .key_len = r->key_len,
                            .data = r->data, .data_len = r->data_len,
                            .flags = (r->has & MCF_MR_FLAGS) ? r->client_flags : 0,
                            .cas = (r->has & MCF_MR_CAS) ? r->cas : 0};
            deliver_value(c, call, s, i, &tr);
            return;
        }
        if (r->type == MCF_M_EN)
            rc = MCF_MISS;
        break;
    case CALL_TOUCH:
        rc = r->type == MCF_M_HD ? MCF_OK : r->type == MCF_M_EN ? MCF_NOT_FOUND : -1;
        break;
    case CALL_STORE:
        rc = r->type == MCF_M_HD   ? MCF_OK
             : r->type == MCF_M_NS ? MCF_NOT_STORED
             : r->type == MCF_M_EX ? MCF_EXISTS
             : r->type == MCF_M_NF ? MCF_NOT_FOUND
                                   : -1;
        break;
    case CALL_DELETE:
        /* EX: a compare-CAS (mcf_delete_ex) did not match. */
        rc = r->type == MCF_M_HD   ? MCF_OK
             : r->type == MCF_M_NF ? MCF_NOT_FOUND
             : r->type == MCF_M_EX ? MCF_EXISTS
                                   : -1;
        break;
    case CALL_ARITH:
        if (r->type == MCF_M_VA && (r->has & MCF_MR_NUMBER)) {
            call->items[i].number = r->number;
            rc = MCF_OK;
        } else {
            /* EX and NS: compare-CAS and auto-create (mcf_incr_ex). */
            rc = r->type == MCF_M_HD   ? MCF_OK
                 : r->type == MCF_M_NF ? MCF_NOT_FOUND
                 : r->type == MCF_M_EX ? MCF_EXISTS
                 : r->type == MCF_M_NS ? MCF_NOT_STORED
                                       : -1;
        }
        break;
    default:
        break;
    }
    if (rc < 0) {
        fail_server(c, call, s, MCF_ERR_PROTOCOL, "unexpected meta reply for this command");
        return;
    }
    finish(c, call, i, call->noreply && !mcf_is_error(rc) ? MCF_OK : rc, NULL);
}

/* Parses one reply of the server's protocol and hands it on: > 0 consumed,
 * 0 incomplete (s->need set), < 0 a MCF_PARSE_* error. */
static ssize_t parse_one(mcf_client *c, mcf_call *call, mcf_server *s)
{
    const char *buf = s->rbuf + s->rpos;
    size_t len = s->rlen - s->rpos;
    ssize_t n;
    if (s->meta_call) {
        mcf_meta_reply r;
        n = mcf_meta_parse_reply(buf, len, c->max_value_size, &r);
        if (n > 0) {
            s->rpos += (size_t)n;
            meta_reply(c, call, s, &r);
        } else if (n == 0) {
            s->need = r.need;
        }
    } else {
        mcf_reply r;
        n = mcf_parse_reply(buf, len, c->max_value_size, &r);
        if (n > 0) {
            s->rpos += (size_t)n;
            dispatch_reply(c, call, s, &r);
        } else if (n == 0) {
            s->need = r.need;
        }
    }
    return n;
}

/* Parses every complete reply in the buffer. */
static void parse_replies(mcf_client *c, mcf_call *call, mcf_server *s)
{
    s->need = 0;
    while (s->active) {
        ssize_t n = parse_one(c, call, s);
        if (n == 0)
            return;
        if (n < 0) {
            fail_server(c, call, s, n == MCF_PARSE_TOO_LARGE ? MCF_ERR_TOO_LARGE : MCF_ERR_PROTOCOL,
                        mcf_parse_strerror(n));
            return;
        }
    }
}

static void on_readable(mcf_client *c, mcf_call *call, mcf_server *s)
{
    for (;;) {
        ssize_t got = mcf_conn_recv(s, s->need, 0);
        if (got == -EAGAIN)
            return;
        if (got == 0) {
            fail_server(c, call, s, MCF_ERR_IO, "connection closed by server");
            return;
        }
        if (got < 0) {
            fail_server(c, call, s, got == -ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_IO,
                        strerror((int)-got));
            return;
        }
        size_t room_filled = s->rlen == s->rcap;
        parse_replies(c, call, s);
        /* Read again only if the buffer was filled: more may be waiting. */
        if (!s->active || !room_filled)
            return;
    }
}

static void on_sent(mcf_client *c, mcf_call *call, mcf_server *s)
{
    if (s->await_replies)
        return;
    /* noreply: every item is done once the request is with the kernel. */
    for (size_t p = 0; p < s->count; p++)
        finish(c, call, c->order[s->first + p], MCF_OK, NULL);
    s->cursor = s->count;
    s->active = 0;
    s->noreply_dirty = 1;
}

static void try_send(mcf_client *c, mcf_call *call, mcf_server *s)
{
    int r = mcf_conn_send(c, s);
    if (r < 0) {
        fail_server(c, call, s, MCF_ERR_IO, strerror(-r));
        return;
    }
    if (r == 1)
        on_sent(c, call, s);
}

/* ---- request building ---- */

/* memcached 1.6 reads a command line longer than 2048 bytes only when it
 * starts with "get " or "gets " (it closes the connection otherwise), so
 * gat/gats requests are split into lines below that. */
#define GAT_LINE_MAX 2000

static char *put_get_command(char *w, const mcf_call *call)
{
    static const char *const cmd[] = {"get", "gets", "gat", "gats"};
    const char *name = cmd[call->mode & 3];
    size_t nl = strlen(name);
    memcpy(w, name, nl);
    w += nl;
    if (call->mode == MCF_GAT || call->mode == MCF_GATS) {
        *w++ = ' ';
        w += mcf_i64_to_dec(w, call->exptime);
    }
    return w;
}

static int build_get(mcf_client *c, const mcf_call *call, mcf_server *s)
{
    int split = call->mode == MCF_GAT || call->mode == MCF_GATS;
    size_t total = 0;
    for (size_t p = 0; p < s->count; p++) {
        const char *key;
        total += 1 + c->ns_len + call_key(c, c->order[s->first + p], &key);
    }
    /* Worst case every key starts a line of its own. */
    size_t per_line = 32 + 2;
    if (mcf_conn_wreserve(s, total + per_line * (split ? s->count : 1)) < 0 ||
        mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    char *w = s->wbuf + s->wlen, *start = w, *line = w;
    w = put_get_command(w, call);
    s->ends_due = 1;
    for (size_t p = 0; p < s->count; p++) {
        const char *key;
        size_t kl = call_key(c, c->order[s->first + p], &key);
        if (split && p > 0 && (size_t)(w - line) + 1 + c->ns_len + kl > GAT_LINE_MAX) {
            *w++ = '\r';
            *w++ = '\n';
            line = w;
            w = put_get_command(w, call);
            s->ends_due++;
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

/* Appends a storage request's data block and CRLF after its header line,
 * which begins at wbuf offset `start` (text "set ..." and meta "ms ..."
 * alike).  Small values are copied next to the header; large and compressed
 * ones are sent from where they are (caller memory, zbuf) without a copy.
 * The caller has reserved room for vlen (if copied) + 2 bytes and 3 segments. */
static void append_data_block(mcf_client *c, mcf_server *s, size_t start, const void *value,
                              size_t i, size_t vlen, int compressed, int copy)
{
    if (copy) {
        if (vlen)
            memcpy(s->wbuf + s->wlen, value, vlen);
        s->wlen += vlen;
    } else {
        mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
        if (compressed)
            mcf_conn_add_seg(s, SEG_ZBUF, c->zoff[i], NULL, vlen);
        else
            mcf_conn_add_seg(s, SEG_EXTERNAL, 0, value, vlen);
        start = s->wlen;
    }
    memcpy(s->wbuf + s->wlen, "\r\n", 2);
    s->wlen += 2;
    mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
}

static int build_store_item(mcf_client *c, const mcf_call *call, mcf_server *s, size_t i)
{
    const mcf_item *it = &call->items[i];
    const store_cmd *cmd = &store_cmds[call->mode];
    int compressed = c->zoff[i] != SIZE_MAX;
    size_t vlen = compressed ? c->zlen[i] : it->value_len;
    uint32_t flags = it->flags;
    if (compressed)
        flags |= MCF_FLAG_COMPRESSED;
    else if (c->compress_threshold >= 0)
        flags &= ~MCF_FLAG_COMPRESSED; /* reserved: a reader would try to inflate */
    int copy = !compressed && vlen <= COPY_MAX;
    if (mcf_conn_wreserve(s, MCF_MAX_REQUEST_HEADER + (copy ? vlen : 0) + 2) < 0 ||
        mcf_conn_seg_reserve(s, 3) < 0)
        return MCF_ERR_NOMEM;
    size_t start = s->wlen;
    s->wlen += mcf_enc_storage(s->wbuf + s->wlen, cmd->name, cmd->len, c->ns, c->ns_len, it->key,
                               it->key_len, flags, it->exptime, vlen, it->cas,
                               call->mode == MCF_CAS, call->noreply);
    append_data_block(c, s, start, it->value, i, vlen, compressed, copy);
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

/* ---- meta requests: O<position> k on every request, quiet where the
 * outcome can be implied, then "mn" ---- */

/* k (echo the key) for the check after matching by opaque; not for base64
 * keys: memcached 1.6.18 echoes the key of an appended/prepended/touched
 * binary item raw ("ka b" for "a b"), so those are matched by opaque alone. */
static unsigned meta_k(const mcf_meta_key *k)
{
    return k->b64 ? 0 : MCF_MF_K;
}

/* The request flag each MCF_META_* option becomes. */
static const struct {
    unsigned opt, flag;
} meta_opt_flags[] = {
    {MCF_META_GET_TTL, MCF_MF_T},         {MCF_META_GET_LAST_ACCESS, MCF_MF_L},
    {MCF_META_GET_HIT_BEFORE, MCF_MF_H},  {MCF_META_NO_BUMP, MCF_MF_U},
    {MCF_META_SET_TTL, MCF_MF_TTL},       {MCF_META_VIVIFY, MCF_MF_VIVIFY},
    {MCF_META_RECACHE, MCF_MF_RECACHE},   {MCF_META_INVALIDATE, MCF_MF_I},
    {MCF_META_COMPARE_CAS, MCF_MF_CAS},   {MCF_META_NEW_CAS, MCF_MF_NEWCAS},
    {MCF_META_REMOVE_VALUE, MCF_MF_X},
};

/* The request flags and tokens of an _ex call's options (call->meta). */
static void apply_meta_opts(const mcf_call *call, mcf_meta_args *a)
{
    const mcf_meta_opts *o = call->meta;
    if (!o)
        return;
    for (size_t i = 0; i < sizeof meta_opt_flags / sizeof meta_opt_flags[0]; i++)
        if (o->flags & meta_opt_flags[i].opt)
            a->flags |= meta_opt_flags[i].flag;
    /* Tokens the encoder writes only with their flag; ttl and cas also
     * serve ms's own T and C, so they are taken only when asked for. */
    a->vivify_ttl = o->vivify_ttl;
    a->recache = o->recache_ttl;
    a->new_cas = o->new_cas;
    if (o->flags & MCF_META_SET_TTL)
        a->ttl = o->ttl;
    if (o->flags & MCF_META_COMPARE_CAS)
        a->cas = o->cas;
    /* ma creates the item with J (Meta Arithmetic: "initial value"). */
    if ((o->flags & MCF_META_VIVIFY) && call->kind == CALL_ARITH) {
        a->flags |= MCF_MF_INITIAL;
        a->initial = o->initial;
    }
    /* The item's CAS after a write goes to info->cas; q would hide the HD
     * that carries it. */
    if (call->kind == CALL_STORE || call->kind == CALL_ARITH) {
        a->flags |= MCF_MF_C;
        a->flags &= ~MCF_MF_Q;
    }
}

static const char meta_store_mode[] = {MCF_MM_SET,    MCF_MM_ADD,     MCF_MM_REPLACE,
                                       MCF_MM_APPEND, MCF_MM_PREPEND, MCF_MM_SET};

/* The request line of item p (position in the server's group) for every
 * meta command but ms; returns its length (0: refused by the encoder). */
static size_t enc_meta_simple(mcf_client *c, const mcf_call *call, size_t p, size_t i, char *w)
{
    mcf_meta_key k;
    if (mcf_meta_key_init(&k, c->ns, c->ns_len, c->kptr[i], c->klen[i], 1) != MCF_OK)
        return 0;
    mcf_meta_args a = {.flags = MCF_MF_OPAQUE | meta_k(&k), .opaque = (uint32_t)p};
    switch (call->kind) {
    case CALL_GET:
        a.flags |= MCF_MF_V | MCF_MF_F | MCF_MF_Q;
        if (call->mode == MCF_GETS || call->mode == MCF_GATS)
            a.flags |= MCF_MF_C;
        if (call->mode == MCF_GAT || call->mode == MCF_GATS) {
            a.flags |= MCF_MF_TTL;
            a.ttl = call->exptime;
        }
        apply_meta_opts(call, &a);
        return mcf_meta_enc_mg(w, &k, &a);
    case CALL_TOUCH:
        a.flags |= MCF_MF_Q | MCF_MF_TTL;
        a.ttl = call->items[i].exptime;
        return mcf_meta_enc_mg(w, &k, &a);
    case CALL_DELETE:
        a.flags |= MCF_MF_Q;
        apply_meta_opts(call, &a);
        return mcf_meta_enc_md(w, &k, &a);
    case CALL_ARITH:
        /* ma q would hide the new value: quiet only for noreply. */
        a.flags |= MCF_MF_DELTA | MCF_MF_MODE | (call->noreply ? MCF_MF_Q : MCF_MF_V);
        a.delta = call->items[i].delta;
        a.mode = call->mode ? MCF_MM_INCR : MCF_MM_DECR;
        apply_meta_opts(call, &a);
        return mcf_meta_enc_ma(w, &k, &a);
    default:
        return 0;
    }
}

static int build_meta_store(mcf_client *c, const mcf_call *call, mcf_server *s, size_t p,
                            size_t i)
{
    const mcf_item *it = &call->items[i];
    int compressed = c->zoff[i] != SIZE_MAX;
    size_t vlen = compressed ? c->zlen[i] : it->value_len;
    uint32_t flags = it->flags;
    if (compressed)
        flags |= MCF_FLAG_COMPRESSED;
    else if (c->compress_threshold >= 0)
        flags &= ~MCF_FLAG_COMPRESSED;
    int copy = !compressed && vlen <= COPY_MAX;
    if (mcf_conn_wreserve(s, MCF_META_MAX_REQUEST + (copy ? vlen : 0) + 2) < 0 ||
        mcf_conn_seg_reserve(s, 3) < 0)
        return MCF_ERR_NOMEM;
    mcf_meta_key k;
    if (mcf_meta_key_init(&k, c->ns, c->ns_len, c->kptr[i], c->klen[i], 1) != MCF_OK)
        return MCF_ERR_BAD_KEY;
    mcf_meta_args a = {.flags = MCF_MF_OPAQUE | meta_k(&k) | MCF_MF_Q | MCF_MF_TTL |
                                MCF_MF_CFLAGS | MCF_MF_MODE,
                       .opaque = (uint32_t)p,
                       .ttl = it->exptime,
                       .client_flags = flags,
                       .mode = (mcf_meta_mode)meta_store_mode[call->mode]};
    if (call->mode == MCF_CAS) {
        a.flags |= MCF_MF_CAS;
        a.cas = it->cas;
    }
    apply_meta_opts(call, &a);
    size_t start = s->wlen;
    size_t hl = mcf_meta_enc_ms(s->wbuf + s->wlen, &k, vlen, &a);
    if (!hl)
        return MCF_ERR_ARG;
    s->wlen += hl;
    append_data_block(c, s, start, it->value, i, vlen, compressed, copy);
    return MCF_OK;
}

/* One quiet pipeline for the server's items, ended by "mn".  Consecutive
 * wbuf bytes share one segment. */
static int build_meta(mcf_client *c, const mcf_call *call, mcf_server *s)
{
    size_t start = s->wlen;
    for (size_t p = 0; p < s->count; p++) {
        size_t i = c->order[s->first + p];
        if (call->kind == CALL_STORE) {
            if (s->wlen > start) {
                if (mcf_conn_seg_reserve(s, 1) < 0)
                    return MCF_ERR_NOMEM;
                mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
            }
            int rc = build_meta_store(c, call, s, p, i);
            if (rc != MCF_OK)
                return rc;
            start = s->wlen;
            continue;
        }
        if (mcf_conn_wreserve(s, MCF_META_MAX_REQUEST) < 0)
            return MCF_ERR_NOMEM;
        size_t n = enc_meta_simple(c, call, p, i, s->wbuf + s->wlen);
        if (!n)
            return MCF_ERR_ARG;
        s->wlen += n;
    }
    if (mcf_conn_wreserve(s, 8) < 0 || mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    s->wlen += mcf_meta_enc_mn(s->wbuf + s->wlen);
    mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
    return MCF_OK;
}

static int build_request(mcf_client *c, const mcf_call *call, mcf_server *s)
{
    mcf_conn_reset_request(s);
    if (s->meta_call)
        return build_meta(c, call, s);
    if (call->kind == CALL_GET)
        return build_get(c, call, s);
    if (!is_item_call(call))
        return build_server_cmd(c, call, s);
    for (size_t p = 0; p < s->count; p++) {
        size_t i = c->order[s->first + p];
        int rc = call->kind == CALL_STORE ? build_store_item(c, call, s, i)
                                          : build_simple_item(c, call, s, i);
        if (rc != MCF_OK)
            return rc;
    }
    return MCF_OK;
}

/* ---- preparation ---- */

static int ensure_scratch(mcf_client *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 0;
    size_t cap = c->scratch_cap ? c->scratch_cap : 64;
    while (cap < n)
        cap *= 2;
    uint32_t *srv = realloc(c->srv_of, cap * sizeof *srv);
    if (!srv)
        return -1;
    c->srv_of = srv;
    size_t *o = realloc(c->order, cap * sizeof *o);
    if (!o)
        return -1;
    c->order = o;
    o = realloc(c->zoff, cap * sizeof *o);
    if (!o)
        return -1;
    c->zoff = o;
    o = realloc(c->zlen, cap * sizeof *o);
    if (!o)
        return -1;
    c->zlen = o;
    unsigned char *a = realloc(c->answered, cap);
    if (!a)
        return -1;
    c->answered = a;
    const char **kp = realloc(c->kptr, cap * sizeof *kp);
    if (!kp)
        return -1;
    c->kptr = kp;
    o = realloc(c->klen, cap * sizeof *o);
    if (!o)
        return -1;
    c->klen = o;
    c->scratch_cap = cap;
    return 0;
}

static uint32_t pick_server(mcf_client *c, const char *key, size_t kl)
{
    if (c->nservers == 1)
        return 0;
    if (c->hash_namespace && c->ns_len) {
        char buf[2 * MCF_MAX_KEY_LEN + 2];
        memcpy(buf, c->ns, c->ns_len);
        memcpy(buf + c->ns_len, key, kl);
        return mcf_dist_pick(&c->dist, buf, c->ns_len + kl);
    }
    return mcf_dist_pick(&c->dist, key, kl);
}

int mcf_engine_prepare_dist(mcf_client *c);

int mcf_key_ok(const mcf_client *c, const char *key, size_t len)
{
    if (!key)
        return MCF_ERR_BAD_KEY;
    if (c->protocol == MCF_PROTO_META) {
        /* Up to 186 bytes every key can be sent, verbatim or base64: no
         * need to look at its bytes here (enc_meta_simple decides which). */
        if (len && c->ns_len + len <= MCF_META_MAX_BINARY_KEY)
            return MCF_OK;
        mcf_meta_key k;
        return mcf_meta_key_init(&k, c->ns, c->ns_len, key, len, 1);
    }
    return mcf_check_key(c->ns, c->ns_len, key, len);
}

/* Server for item i, or NO_SERVER after finishing it with an error. */
static uint32_t route(mcf_client *c, mcf_call *call, size_t i, int64_t now)
{
    if (!is_item_call(call) && call->kind != CALL_GET)
        return call->kind == CALL_FLUSH ? (uint32_t)i : (uint32_t)call->server;
    const char *key;
    size_t kl = caller_key(call, i, &key);
    c->kptr[i] = key;
    c->klen[i] = kl;
    c->zoff[i] = SIZE_MAX;
    if (mcf_key_ok(c, key, kl) != MCF_OK) {
        mcf_note_error(c, MCF_ERR_BAD_KEY,
                       c->protocol == MCF_PROTO_META
                           ? "bad key '%.*s' (%zu bytes with namespace): keys are 1..250 bytes, "
                             "or 1..186 bytes of any kind (sent base64); nothing was sent for it"
                           : "bad key '%.*s' (%zu bytes with namespace): keys are 1..250 bytes "
                             "with no space or control character; nothing was sent for it",
                       (int)(kl > 250 || !key ? (key ? 250 : 0) : kl), key ? key : "",
                       kl + c->ns_len);
        finish(c, call, i, MCF_ERR_BAD_KEY, NULL);
        return NO_SERVER;
    }
    if (call->kind == CALL_STORE) {
        const mcf_item *it = &call->items[i];
        if (!it->value && it->value_len) {
            mcf_note_error(c, MCF_ERR_ARG, "key '%.*s': NULL value with nonzero length",
                           (int)kl, key);
            finish(c, call, i, MCF_ERR_ARG, NULL);
            return NO_SERVER;
        }
        if (it->value_len > c->max_value_size) {
            mcf_note_error(c, MCF_ERR_TOO_LARGE,
                           "key '%.*s': value of %zu bytes is over the max value size of %zu "
                           "bytes; nothing was sent",
                           (int)kl, key, it->value_len, c->max_value_size);
            finish(c, call, i, MCF_ERR_TOO_LARGE, NULL);
            return NO_SERVER;
        }
        /* Appending compressed bytes to a value would corrupt it. */
        if (c->compress_threshold >= 0 && !call->no_compress &&
            (int64_t)it->value_len >= c->compress_threshold && call->mode != MCF_APPEND &&
            call->mode != MCF_PREPEND) {
            size_t off, zl;
            int zr = mcf_compress(c, it->value, it->value_len, &off, &zl);
            if (zr < 0) {
                mcf_note_error(c, zr, "key '%.*s': compression failed", (int)kl, key);
                finish(c, call, i, zr, NULL);
                return NO_SERVER;
            }
            if (zr == 1) {
                c->zoff[i] = off;
                c->zlen[i] = zl;
            }
        }
    }
    uint32_t srv = pick_server(c, key, kl);
    if (mcf_conn_is_down(c, &c->servers[srv], now)) {
        if (c->failover) {
            /* Remap to the next live server in list order for the down period. */
            for (size_t k = 1; k < c->nservers; k++) {
                uint32_t alt = (uint32_t)((srv + k) % c->nservers);
                if (!mcf_conn_is_down(c, &c->servers[alt], now))
                    return alt;
            }
        }
        mcf_server *s = &c->servers[srv];
        mcf_note_error(c, MCF_ERR_SERVER_DOWN,
                       "server %s skipped: it failed %u times within %d s; retrying after %lld ms",
                       s->spec.text, c->max_failures, c->failure_timeout_s,
                       (long long)((s->down_until_us - now) / 1000));
        finish(c, call, i, MCF_ERR_SERVER_DOWN, NULL);
        return NO_SERVER;
    }
    return srv;
}

/* Fails every item of a server that could not be started. */
static void fail_unstarted(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    for (size_t p = 0; p < s->count; p++)
        finish(c, call, c->order[s->first + p], rc, NULL);
    s->cursor = s->count;
    s->active = 0;
}

/* A connection idle longer than this is checked before reuse (one recv
 * with MSG_PEEK): long enough that back-to-back calls skip the syscall,
 * short enough to catch a server restart or a late reply. */
#define IDLE_CHECK_US 1000

/* One synchronous exchange on a fresh or idle connection: sends req and
 * reads until `lines` lines have arrived, all within the I/O timeout.
 * Returns NULL and the lines in s->rbuf[rpos..rlen), or why it failed
 * (*rc set; the caller closes the connection). */
static const char *exchange(mcf_client *c, mcf_server *s, const char *req, size_t len,
                            int lines, int *rc)
{
    *rc = MCF_ERR_IO;
    ssize_t w;
    do
        w = send(s->fd, req, len, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w != (ssize_t)len)
        return w < 0 ? strerror(errno) : "short send";
    int64_t deadline = mcf_now_us() + (int64_t)c->io_timeout_ms * 1000;
    for (;;) {
        int have = 0;
        for (size_t i = s->rpos; i < s->rlen; i++)
            have += s->rbuf[i] == '\n';
        if (have >= lines)
            return NULL;
        if (s->rlen - s->rpos > 256) {
            *rc = MCF_ERR_PROTOCOL;
            return "unexpected answer";
        }
        int ms = mcf_ms_left(deadline);
        if (ms == 0 || mcf_conn_set_lowat(s, 1) < 0 || mcf_conn_set_rcvtimeo(s, ms) < 0) {
            if (ms != 0)
                return strerror(errno);
            *rc = MCF_ERR_TIMEOUT;
            return "no answer within the I/O timeout";
        }
        ssize_t got = mcf_conn_recv(s, 0, 1);
        if (got == 0)
            return "connection closed by server";
        if (got < 0 && got != -EAGAIN)
            return strerror((int)-got);
    }
}

/* Takes the server's version from a "VERSION x.y.z\r\n" line (len bytes,
 * LF included): 0, or -1 when the line is not one. */
static int take_version(mcf_server *s, const char *l, size_t len)
{
    if (len < 10 || memcmp(l, "VERSION ", 8) != 0 || l[len - 1] != '\n')
        return -1;
    size_t vlen = len - 9 - (l[len - 2] == '\r');
    size_t n = vlen < sizeof s->version_str ? vlen : sizeof s->version_str - 1;
    memcpy(s->version_str, l + 8, n);
    s->version_str[n] = 0;
    s->version_known = mcf_meta_parse_version(l + 8, vlen, &s->version) ? 1 : -1;
    return 0;
}

/* Sets s->proto from the answer to "mn" (len bytes, LF included): 0, or -1
 * when it is neither MN nor ERROR.  Needs the version taken first. */
static int take_protocol(mcf_server *s, const char *l, size_t len)
{
    if (len == 4 && memcmp(l, "MN\r\n", 4) == 0)
        s->proto = s->version_known > 0 && s->version < MCF_META_SINCE_HD ? PROTO_IS_TEXT
                                                                         : PROTO_IS_META;
    else if (len >= 7 && memcmp(l, "ERROR", 5) == 0 && l[len - 1] == '\n')
        s->proto = PROTO_IS_TEXT;
    else
        return -1;
    return 0;
}

/* Asks a connection its version, once: with_mn (MCF_PROTO_AUTO, right after
 * connecting) also whether it speaks meta, in the same round trip: "mn" is
 * answered "MN" by memcached >= 1.6, "ERROR" before.  Meta is used from
 * 1.6.10 on (MCF_META_SINCE_HD: older meta replies say OK, not HD), or when
 * the version is not memcached's x.y.z and the server answers MN.  MCF_OK
 * (s->version_known, and s->proto with with_mn, set), or an error (the
 * connection is then closed). */
static int probe(mcf_client *c, mcf_server *s, int with_mn)
{
    static const char req[] = "version\r\nmn\r\n";
    char label[LABEL_MAX];
    int rc;
    size_t req_len = with_mn ? sizeof req - 1 : sizeof "version\r\n" - 1;
    const char *why = exchange(c, s, req, req_len, with_mn ? 2 : 1, &rc);
    if (!why) {
        const char *l = s->rbuf + s->rpos, *end = s->rbuf + s->rlen;
        const char *l2 = (const char *)memchr(l, '\n', (size_t)(end - l)) + 1;
        if (take_version(s, l, (size_t)(l2 - l)) < 0 ||
            (with_mn && take_protocol(s, l2, (size_t)(end - l2)) < 0)) {
            rc = MCF_ERR_PROTOCOL;
            why = "unexpected answer";
        }
    }
    s->rlen = s->rpos = 0;
    if (!why)
        return MCF_OK;
    mcf_note_error(c, rc, "server %s: %s: %s", srv_label(s, label, sizeof label),
                   with_mn ? "protocol probe (version, mn)" : "version request", why);
    mcf_conn_close(s);
    return rc;
}

/* The public name of an _ex call, for messages. */
static const char *ex_name(const mcf_call *call)
{
    switch (call->kind) {
    case CALL_GET: return "mcf_get_ex";
    case CALL_STORE: return "mcf_store_ex";
    case CALL_DELETE: return "mcf_delete_ex";
    case CALL_ARITH: return call->mode ? "mcf_incr_ex" : "mcf_decr_ex";
    default: return "a meta call";
    }
}

/* An _ex call on server s: MCF_OK when s speaks meta and its version has
 * every flag the call would send; otherwise the error, nothing sent. */
static int check_meta_call(mcf_client *c, mcf_call *call, mcf_server *s)
{
    char label[LABEL_MAX];
    if (!s->meta_call && c->protocol == MCF_PROTO_TEXT)
        return mcf_note_error(c, MCF_ERR_NOT_SUPPORTED,
                              "%s: needs the meta protocol, and the client is set to text "
                              "(MCF_OPT_PROTOCOL meta, or auto on memcached >= 1.6.10)",
                              ex_name(call));
    if (!s->meta_call)
        return mcf_note_error(c, MCF_ERR_NOT_SUPPORTED,
                              "%s: needs the meta protocol, and server %s has none (version "
                              "%s; meta needs memcached >= 1.6.10)",
                              ex_name(call), srv_label(s, label, sizeof label),
                              s->version_known ? s->version_str : "unknown");
    mcf_meta_args a = {0};
    apply_meta_opts(call, &a);
    uint32_t since;
    if (!mcf_meta_unsupported(a.flags, 0, &since))
        return MCF_OK; /* nothing version-gated */
    if (!s->version_known) {
        int rc = probe(c, s, 0);
        if (rc != MCF_OK) {
            mcf_conn_record_failure(c, s);
            return rc;
        }
    }
    unsigned bad;
    if (s->version_known < 0 || !(bad = mcf_meta_unsupported(a.flags, s->version, &since)))
        return MCF_OK; /* not memcached's numbering: let the server judge */
    const char *what = bad == MCF_MF_NEWCAS ? "flag E (MCF_META_NEW_CAS)"
                                            : "md flag x (MCF_META_REMOVE_VALUE)";
    return mcf_note_error(c, MCF_ERR_NOT_SUPPORTED,
                          "%s: %s not supported by server %s (version %s); it needs memcached "
                          ">= %u.%u.%u",
                          ex_name(call), what, srv_label(s, label, sizeof label), s->version_str,
                          (unsigned)(since / 1000000), (unsigned)(since / 1000 % 1000),
                          (unsigned)(since % 1000));
}

/* A connect that failed: the server's items fail with its error. */
static void connect_failed(mcf_client *c, mcf_call *call, mcf_server *s, int rc)
{
    mcf_conn_record_failure(c, s);
    fail_unstarted(c, call, s, rc);
    s->call_failed = 1;
}

/* Connects every server of this call that has no usable connection, all
 * at once: resolution, Happy Eyeballs and the transport handshake of each
 * run side by side from one poll loop, each under its own connect
 * deadline, so the call waits for the slowest connect, not their sum. */
static void connect_servers(mcf_client *c, mcf_call *call, int64_t now)
{
    size_t pending = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        s->call_failed = 0;
        if (!s->count)
            continue;
        /* Unread bytes before a request means the stream is out of step (a
         * late reply): never let them be read as this call's answers. */
        if (s->fd >= 0 && (s->rlen != s->rpos ||
                           (now - s->last_used_us > IDLE_CHECK_US && !mcf_conn_idle_ok(s))))
            mcf_conn_close(s);
        if (s->fd >= 0)
            continue;
        int rc = mcf_conn_open_start(c, s, now);
        if (rc == MCF_IN_PROGRESS)
            pending++;
        else if (rc != MCF_OK)
            connect_failed(c, call, s, rc);
    }
    while (pending) {
        size_t np = 0, cap = c->nservers * MCF_MAX_ADDRS;
        int64_t wake = INT64_MAX;
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            int64_t w;
            if (!s->connecting)
                continue;
            np += mcf_conn_open_pollset(s, c->pfds + np, cap - np, &w);
            if (w < wake)
                wake = w;
        }
        /* EINTR or a timer: every connect below rechecks its own time. */
        (void)poll(c->pfds, (nfds_t)np, mcf_ms_left(wake));
        now = mcf_now_us();
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            if (!s->connecting)
                continue;
            int rc = mcf_conn_open_step(c, s, now);
            if (rc == MCF_IN_PROGRESS)
                continue;
            pending--;
            if (rc != MCF_OK)
                connect_failed(c, call, s, rc);
        }
    }
}

static int start_server(mcf_client *c, mcf_call *call, mcf_server *s, int64_t now)
{
    (void)now;
    if (s->call_failed)
        return MCF_ERR_CONNECT; /* its items are already answered */
    s->rlen = s->rpos = 0;
    s->held_off = SIZE_MAX;
    s->need = 0;
    if (s->proto == PROTO_UNKNOWN) {
        if (c->protocol == MCF_PROTO_AUTO) {
            int rc = probe(c, s, 1);
            if (rc != MCF_OK) {
                mcf_conn_record_failure(c, s);
                fail_unstarted(c, call, s, rc);
                return rc;
            }
        } else {
            s->proto = c->protocol == MCF_PROTO_META ? PROTO_IS_META : PROTO_IS_TEXT;
        }
    }
    /* version, stats and flush_all always speak text. */
    s->meta_call = s->proto == PROTO_IS_META && (call->kind == CALL_GET || is_item_call(call));
    if (call->meta) {
        int rc = check_meta_call(c, call, s);
        if (rc != MCF_OK) {
            fail_unstarted(c, call, s, rc);
            return rc;
        }
    }
    int rc = build_request(c, call, s);
    if (rc != MCF_OK) {
        mcf_note_error(c, rc, "server %s: out of memory building the request", s->spec.text);
        fail_unstarted(c, call, s, rc);
        return rc;
    }
    s->active = 1;
    s->await_replies = !call->noreply || call->kind == CALL_GET || call->kind == CALL_VERSION ||
                       call->kind == CALL_STATS || s->meta_call;
    return MCF_OK;
}

static void time_out(mcf_client *c, mcf_call *call, mcf_server *s)
{
    char msg[96];
    snprintf(msg, sizeof msg, "no %s within the %d ms I/O timeout",
             s->seg_i < s->nsegs ? "progress sending the request" : "complete reply",
             c->io_timeout_ms);
    fail_server(c, call, s, MCF_ERR_TIMEOUT, msg);
}

/* The fewest bytes the replies still due can take: recv() is woken only
 * when they can all be there (SO_RCVLOWAT), so a pipelined write is read
 * in one go instead of in the batches memcached flushes.  Retrieval
 * replies have no useful lower bound. */
static int wake_bytes(const mcf_client *c, const mcf_call *call, const mcf_server *s)
{
    size_t min_reply;
    if (s->meta_call)
        return 1; /* quiet: "MN\r\n" may be all there is */
    if (call->kind == CALL_STORE)
        min_reply = 8; /* "STORED\r\n", "EXISTS\r\n" */
    else if (call->kind == CALL_DELETE || call->kind == CALL_TOUCH)
        min_reply = 9; /* "DELETED\r\n", "TOUCHED\r\n" */
    else if (call->kind == CALL_ARITH)
        min_reply = 3; /* "0\r\n" */
    else
        return 1;
    (void)c;
    size_t due = (s->count - s->cursor) * min_reply, have = s->rlen - s->rpos;
    if (due <= have + 1)
        return 1;
    due -= have;
    return due > 65536 ? 65536 : (int)due;
}

/* Waits until fd is readable with at least `lowat` bytes unread (TCP
 * poll honours SO_RCVLOWAT): 1 readable, 0 deadline passed, -errno. */
static int wait_lowat(mcf_server *s, int lowat, int64_t deadline)
{
    int e = mcf_conn_set_lowat(s, lowat);
    if (e < 0)
        return e;
    for (;;) {
        struct pollfd p = {s->fd, POLLIN, 0};
        int left = mcf_ms_left(deadline);
        if (left == 0)
            return 0;
        int r = poll(&p, 1, left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

/* Reads for the single-server case.  Retrieval blocks in recv() itself
 * under SO_RCVTIMEO (re-set only when the time left differs from it by
 * more than a couple of milliseconds, so steady state costs no extra
 * syscall).  A pipelined write waits in poll() for the fewest bytes its
 * replies can take, so it wakes once instead of once per batch memcached
 * flushes.  (SO_RCVLOWAT is not used on a blocking recv: a recv that has
 * copied part of the data sleeps until the *unread* bytes reach the mark,
 * which may never happen.) */
static void wait_one(mcf_client *c, mcf_call *call, mcf_server *s, int64_t deadline)
{
    while (s->active) {
        int left = mcf_ms_left(deadline);
        if (left == 0) {
            time_out(c, call, s);
            return;
        }
        int lowat = wake_bytes(c, call, s), block = lowat == 1;
        if (block) {
            int e = mcf_conn_set_lowat(s, 1);
            if (e == 0 && (s->rcvtimeo_ms == 0 || s->rcvtimeo_ms > left + 2 ||
                           s->rcvtimeo_ms < left - 2))
                e = mcf_conn_set_rcvtimeo(s, left);
            if (e < 0) {
                fail_server(c, call, s, MCF_ERR_IO, strerror(-e));
                return;
            }
        } else {
            int w = wait_lowat(s, lowat, deadline);
            if (w == 0)
                continue; /* the deadline check above times it out */
            if (w < 0) {
                fail_server(c, call, s, MCF_ERR_IO, strerror(-w));
                return;
            }
        }
        ssize_t got = mcf_conn_recv(s, s->need, block);
        if (got == -EAGAIN)
            continue; /* SO_RCVTIMEO passed or a spurious wakeup: recheck the deadline */
        if (got == 0) {
            fail_server(c, call, s, MCF_ERR_IO, "connection closed by server");
            return;
        }
        if (got < 0) {
            fail_server(c, call, s, got == -ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_IO,
                        strerror((int)-got));
            return;
        }
        parse_replies(c, call, s);
    }
}

int mcf_run(mcf_client *c, mcf_call *call)
{
    c->err[0] = 0;
    c->err_rc = 0;
    call->first_error = 0;
    call->held_server = NULL;
    if (ensure_scratch(c, call->n) < 0)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    if (c->nservers == 0) {
        for (size_t i = 0; i < call->n; i++)
            finish(c, call, i, MCF_ERR_NO_SERVERS, NULL);
        return mcf_set_error(c, MCF_ERR_NO_SERVERS, "no servers configured");
    }
    if (mcf_engine_prepare_dist(c) != MCF_OK)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    c->zused = 0;
    if (call->n)
        memset(c->answered, 0, call->n);

    /* Route every item, then group them per server (a counting sort into
     * order[]), so each server gets one request with its keys in order. */
    int64_t now = mcf_now_us();
    for (size_t k = 0; k < c->nservers; k++)
        c->servers[k].count = 0;
    for (size_t i = 0; i < call->n; i++) {
        uint32_t srv = route(c, call, i, now);
        c->srv_of[i] = srv;
        if (srv != NO_SERVER)
            c->servers[srv].count++;
    }
    size_t off = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        s->first = off;
        s->cursor = 0;
        s->active = 0;
        off += s->count;
    }
    for (size_t i = 0; i < call->n; i++)
        if (c->srv_of[i] != NO_SERVER) {
            mcf_server *s = &c->servers[c->srv_of[i]];
            c->order[s->first + s->cursor++] = i;
        }

    connect_servers(c, call, now);
    size_t active = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        s->cursor = 0;
        if (s->count && start_server(c, call, s, now) == MCF_OK)
            active++;
    }

    /* The I/O deadline starts once connections are up. */
    int64_t deadline = mcf_now_us() + (int64_t)c->io_timeout_ms * 1000;
    for (size_t k = 0; k < c->nservers; k++)
        if (c->servers[k].active)
            try_send(c, call, &c->servers[k]);

    /* One server with its whole request sent: wait in recv() itself. */
    mcf_server *only = NULL;
    size_t nactive = 0;
    for (size_t k = 0; k < c->nservers; k++)
        if (c->servers[k].active) {
            only = &c->servers[k];
            nactive++;
        }
    if (nactive == 1 && only->seg_i == only->nsegs && only->await_replies)
        wait_one(c, call, only, deadline);

    while (active) {
        nfds_t nfds = 0;
        for (size_t k = 0; k < c->nservers; k++) {
            mcf_server *s = &c->servers[k];
            if (!s->active)
                continue;
            short ev = (short)((s->seg_i < s->nsegs ? POLLOUT : 0) | (s->await_replies ? POLLIN : 0));
            if (s->rcvlowat != 1 && mcf_conn_set_lowat(s, 1) < 0) {
                fail_server(c, call, s, MCF_ERR_IO, strerror(errno));
                continue;
            }
            c->pfds[nfds] = (struct pollfd){s->fd, ev, 0};
            c->pmap[nfds++] = s;
        }
        if (nfds == 0)
            break;
        int left = mcf_ms_left(deadline);
        if (left == 0) {
            for (nfds_t k = 0; k < nfds; k++)
                time_out(c, call, c->pmap[k]);
            break;
        }
        int r = poll(c->pfds, nfds, left);
        if (r < 0) {
            if (errno == EINTR)
                continue; /* the deadline is absolute: nothing to recompute */
            for (nfds_t k = 0; k < nfds; k++)
                fail_server(c, call, c->pmap[k], MCF_ERR_IO, strerror(errno));
            break;
        }
        for (nfds_t k = 0; k < nfds; k++) {
            mcf_server *s = c->pmap[k];
            short re = c->pfds[k].revents;
            if (!re || !s->active)
                continue;
            if ((re & (POLLOUT | POLLERR | POLLHUP)) && s->seg_i < s->nsegs)
                try_send(c, call, s);
            if (s->active && (re & (POLLIN | POLLERR | POLLHUP)))
                on_readable(c, call, s);
        }
    }

    int64_t end = mcf_now_us();
    for (size_t k = 0; k < c->nservers; k++)
        if (c->servers[k].count)
            c->servers[k].last_used_us = end;
    if (call->held_server) {
        mcf_server *s = call->held_server;
        if (s->held_off != SIZE_MAX)
            call->held->data = s->rbuf + s->held_off;
        s->held_off = SIZE_MAX;
    }
    return call->first_error;
}
