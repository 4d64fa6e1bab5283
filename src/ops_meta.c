/* ops_meta.c - a call on one server in the meta protocol (protocol.txt,
 * "Meta Commands"): its request, one quiet pipeline built from meta.c's
 * encoders (every request carries O<position in the server's group> and,
 * for plain keys, k; most are quiet; "mn" ends it), and its replies,
 * matched by opaque and checked by key.  At MN every item without a reply
 * gets its quiet outcome. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "ops.h"

/* ---- replies ----
 * A reply is matched by its opaque, then its key is checked; sl->cursor is
 * one past the position of the last reply seen (replies come in request
 * order). */

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
    mcf_slice *sl = s->head;
    if (sl->zombie) {
        /* Given up on: its items are no longer looked at. */
        sl->cursor = sl->count;
        mcf_slice_done(c, s);
        return;
    }
    int rc = meta_quiet_rc(call);
    for (size_t p = 0; p < sl->count; p++) {
        size_t i = call->order[sl->first + p];
        if (call->answered[i])
            continue;
        if (rc < 0) {
            mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "no reply to a request before MN");
            return;
        }
        mcf_finish(c, call, s, i, rc, NULL);
    }
    sl->cursor = sl->count;
    mcf_slice_done(c, s);
}

/* An error line: it carries no opaque, so only its position places it.
 * The item is known when one request at most is still unanswered at or
 * after the cursor, or when the requests are not quiet (ma v); otherwise
 * every unanswered item of the server fails. */
static void meta_error(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_meta_reply *r)
{
    mcf_slice *sl = s->head;
    int rc = r->type == MCF_M_CLIENT_ERROR ? MCF_ERR_CLIENT : MCF_ERR_SERVER;
    char text[MCF_ERROR_TEXT_MAX];
    const char *msg = r->type == MCF_M_ERROR
                          ? "server replied ERROR (unknown command: no meta protocol?)"
                          : mcf_error_reply_text(text, sizeof text,
                                                 r->type == MCF_M_CLIENT_ERROR, r->data,
                                                 r->data_len);
    if (call->noreply) {
        /* Nothing to report (as with text noreply); the stream may be out
         * of step, so the connection goes. */
        mcf_finish_rest(c, sl, MCF_OK);
        mcf_conn_abort(s);
        mcf_fail_queue(c, s, MCF_ERR_IO); /* requests behind it shared the stream */
        return;
    }
    /* After ms, CLIENT_ERROR may mean the data block was read as a command. */
    if (r->type == MCF_M_ERROR || (r->type == MCF_M_CLIENT_ERROR && call->kind == CALL_STORE)) {
        mcf_fail_server(c, s, rc, msg);
        return;
    }
    size_t p, cand = SIZE_MAX, ncand = 0;
    for (p = sl->cursor; p < sl->count; p++)
        if (!call->answered[call->order[sl->first + p]]) {
            if (cand == SIZE_MAX)
                cand = p;
            ncand++;
        }
    if (cand == SIZE_MAX) {
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL,
                        "error line after every request was answered");
        return;
    }
    if (ncand > 1 && call->kind != CALL_ARITH) {
        mcf_fail_server(c, s, rc, msg);
        return;
    }
    size_t i = call->order[sl->first + cand];
    const char *key;
    size_t kl = mcf_call_key(call, i, &key);
    mcf_note_key_error(c, s, rc, key, kl, msg);
    sl->cursor = cand + 1;
    mcf_finish(c, call, s, i, rc, NULL);
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
static int meta_reply_is_for(const mcf_client *c, const mcf_call *call, const mcf_meta_reply *r,
                             size_t i)
{
    /* Plain keys are sent with k: compare the echo (the key was checked
     * when the call was routed, so no second look at its bytes). */
    mcf_meta_key mk = {.ns = c->ns, .ns_len = c->ns_len, .key = call->kptr[i], .key_len = call->klen[i]};
    if ((r->has & MCF_MR_KEY) && mcf_meta_reply_key_is(r, &mk))
        return 1;
    /* Base64 keys go without k (meta_k): the opaque alone places them. */
    return mcf_meta_key_init(&mk, c->ns, c->ns_len, call->kptr[i], call->klen[i], 1) == MCF_OK &&
           mk.b64;
}

static void deliver_meta_value(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                               const mcf_meta_reply *r);

/* A reply to a batch of single-key gets (mg lines under one mn): matched by
 * its opaque (the slice's batch_pos) and checked by key; the slices passed
 * over were misses; MN ends the batch. */
MCF_OUT_OF_LINE static void batch_reply(mcf_client *c, mcf_server *s,
                                         const mcf_meta_reply *r)
{
    if (r->type == MCF_M_MN) {
        mcf_batch_end(c, s);
        return;
    }
    if (r->type == MCF_M_ERROR || r->type == MCF_M_CLIENT_ERROR || r->type == MCF_M_SERVER_ERROR) {
        /* No opaque: it cannot be placed among the quiet gets. */
        mcf_fail_server(c, s, r->type == MCF_M_CLIENT_ERROR ? MCF_ERR_CLIENT : MCF_ERR_SERVER,
                        "error line in a batch of gets");
        return;
    }
    const mcf_slice *x = s->head;
    if (r->has & MCF_MR_OPAQUE_U32)
        while (x->batch_pos < r->opaque_u32 && !x->batch_end && x->next)
            x = x->next;
    if (!(r->has & MCF_MR_OPAQUE_U32) || x->batch_pos != r->opaque_u32 ||
        !meta_reply_is_for(c, x->call, r, 0)) {
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL,
                        "reply in a batch of gets without the opaque and key of a request "
                        "still due");
        return;
    }
    mcf_batch_skip_to(c, s, x);
    if (r->type == MCF_M_VA)
        deliver_meta_value(c, x->call, s, 0, r);
    else if (r->type == MCF_M_EN)
        mcf_finish(c, x->call, s, 0, MCF_MISS, NULL);
    else {
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "unexpected meta reply for a get");
        return;
    }
    mcf_batch_answered(c, s);
}

static void deliver_meta_value(mcf_client *c, mcf_call *call, mcf_server *s, size_t i,
                               const mcf_meta_reply *r)
{
    mcf_reply tr = {.type = MCF_R_VALUE, .key = r->key, .key_len = r->key_len,
                    .data = r->data, .data_len = r->data_len,
                    .flags = (r->has & MCF_MR_FLAGS) ? r->client_flags : 0,
                    .cas = (r->has & MCF_MR_CAS) ? r->cas : 0};
    mcf_deliver_value(c, call, s, i, &tr);
}

static void meta_reply(mcf_client *c, mcf_call *call, mcf_server *s, const mcf_meta_reply *r)
{
    mcf_slice *sl = s->head;
    if (sl->batched) {
        batch_reply(c, s, r);
        return;
    }
    if (r->type == MCF_M_MN) {
        meta_end(c, call, s);
        return;
    }
    /* A request given up on: its replies are dropped until its MN; its
     * keys are no longer looked at. */
    if (sl->zombie)
        return;
    if (r->type == MCF_M_ERROR || r->type == MCF_M_CLIENT_ERROR || r->type == MCF_M_SERVER_ERROR) {
        meta_error(c, call, s, r);
        return;
    }
    if (!(r->has & MCF_MR_OPAQUE_U32) || r->opaque_u32 >= sl->count) {
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "reply without an opaque that was sent");
        return;
    }
    size_t p = r->opaque_u32, i = call->order[sl->first + p];
    if (call->answered[i]) {
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "a second reply for one request");
        return;
    }
    if (!meta_reply_is_for(c, call, r, i)) {
        char msg[320];
        snprintf(msg, sizeof msg, "reply with opaque %zu names key '%.*s', not the one asked",
                 p, (int)(r->key_len > MCF_MAX_KEY_LEN ? MCF_MAX_KEY_LEN : r->key_len),
                 r->key ? r->key : "");
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL, msg);
        return;
    }
    if (p + 1 > sl->cursor)
        sl->cursor = p + 1;
    if (call->info)
        note_item_info(call->info, r);
    int rc = -1;
    switch (call->kind) {
    case CALL_GET:
        if (r->type == MCF_M_VA) {
            deliver_meta_value(c, call, s, i, r);
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
        mcf_fail_server(c, s, MCF_ERR_PROTOCOL, "unexpected meta reply for this command");
        return;
    }
    mcf_finish(c, call, s, i, call->noreply && !mcf_is_error(rc) ? MCF_OK : rc, NULL);
}

ssize_t mcf_ops_meta_parse_one(mcf_client *c, mcf_server *s)
{
    mcf_meta_reply r;
    ssize_t n =
        mcf_meta_parse_reply(s->rbuf + s->rpos, s->rlen - s->rpos, c->max_value_size, &r);
    if (n > 0) {
        s->rpos += (size_t)n;
        meta_reply(c, s->head->call, s, &r);
    } else if (n == 0) {
        s->need = r.need;
    }
    return n;
}

/* ---- requests: O<position> k on every request, quiet where the
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

void mcf_ops_meta_opts(const mcf_call *call, mcf_meta_args *a)
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
static size_t enc_meta_simple(const mcf_client *c, const mcf_call *call, size_t p, size_t i,
                              char *w)
{
    mcf_meta_key k;
    if (mcf_meta_key_init(&k, c->ns, c->ns_len, call->kptr[i], call->klen[i], 1) != MCF_OK)
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
        mcf_ops_meta_opts(call, &a);
        return mcf_meta_enc_mg(w, &k, &a);
    case CALL_TOUCH:
        a.flags |= MCF_MF_Q;
        if (call->mode != MCF_TOUCH_EXISTS) {
            a.flags |= MCF_MF_TTL;
            a.ttl = call->items[i].exptime;
        }
        return mcf_meta_enc_mg(w, &k, &a);
    case CALL_DELETE:
        a.flags |= MCF_MF_Q;
        mcf_ops_meta_opts(call, &a);
        return mcf_meta_enc_md(w, &k, &a);
    case CALL_ARITH:
        /* ma q would hide the new value: quiet only for noreply. */
        a.flags |= MCF_MF_DELTA | MCF_MF_MODE | (call->noreply ? MCF_MF_Q : MCF_MF_V);
        a.delta = call->items[i].delta;
        a.mode = call->mode ? MCF_MM_INCR : MCF_MM_DECR;
        mcf_ops_meta_opts(call, &a);
        return mcf_meta_enc_ma(w, &k, &a);
    default:
        return 0;
    }
}

static int build_meta_store(mcf_client *c, const mcf_call *call, mcf_server *s, size_t p,
                            size_t i)
{
    const mcf_item *it = &call->items[i];
    mcf_block b;
    mcf_block_of(c, call, i, &b);
    if (mcf_conn_wreserve(s, MCF_META_MAX_REQUEST + mcf_block_room(&b)) < 0 ||
        mcf_conn_seg_reserve(s, MCF_BLOCK_SEGS) < 0)
        return MCF_ERR_NOMEM;
    mcf_meta_key k;
    if (mcf_meta_key_init(&k, c->ns, c->ns_len, call->kptr[i], call->klen[i], 1) != MCF_OK)
        return MCF_ERR_BAD_KEY;
    mcf_meta_args a = {.flags = MCF_MF_OPAQUE | meta_k(&k) | MCF_MF_Q | MCF_MF_TTL |
                                MCF_MF_CFLAGS | MCF_MF_MODE,
                       .opaque = (uint32_t)p,
                       .ttl = it->exptime,
                       .client_flags = b.flags,
                       .mode = (mcf_meta_mode)meta_store_mode[call->mode]};
    if (call->mode == MCF_CAS) {
        a.flags |= MCF_MF_CAS;
        a.cas = it->cas;
    }
    mcf_ops_meta_opts(call, &a);
    size_t start = s->wlen;
    size_t hl = mcf_meta_enc_ms(s->wbuf + s->wlen, &k, b.len, &a);
    if (!hl)
        return MCF_ERR_ARG;
    s->wlen += hl;
    mcf_block_append(s, start, &b);
    return MCF_OK;
}

int mcf_ops_meta_build_batch(mcf_client *c, mcf_slice *first, size_t n)
{
    mcf_server *s = first->server;
    size_t start = s->wlen;
    const mcf_slice *x = first;
    for (size_t i = 0; i < n; i++, x = x->next) {
        if (mcf_conn_wreserve(s, MCF_META_MAX_REQUEST) < 0)
            return MCF_ERR_NOMEM;
        size_t len = enc_meta_simple(c, x->call, i, 0, s->wbuf + s->wlen);
        if (!len)
            return MCF_ERR_ARG;
        s->wlen += len;
    }
    if (mcf_conn_wreserve(s, 8) < 0 || mcf_conn_seg_reserve(s, 1) < 0)
        return MCF_ERR_NOMEM;
    s->wlen += mcf_meta_enc_mn(s->wbuf + s->wlen);
    mcf_conn_add_seg(s, SEG_WBUF, start, NULL, s->wlen - start);
    return MCF_OK;
}

/* One quiet pipeline for the server's items, ended by "mn".  Consecutive
 * wbuf bytes share one segment. */
int mcf_ops_meta_build(mcf_client *c, mcf_slice *sl)
{
    const mcf_call *call = sl->call;
    mcf_server *s = sl->server;
    size_t start = s->wlen;
    for (size_t p = 0; p < sl->count; p++) {
        size_t i = call->order[sl->first + p];
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
