/*
 * Mcfast.xs - the thin C layer of Cache::Memcached::Mcfast.
 *
 * One Perl object, Cache::Memcached::Mcfast::Client, wraps one mcf_client*.
 * Its methods map 1:1 onto include/mcfast.h and return the library's result
 * codes; everything Cache::Memcached::Fast does in Perl terms (Storable,
 * utf8, compression, return conventions, noreply/nowait choice) lives in
 * lib/Cache/Memcached/Mcfast.pm, so the flag bits are set exactly where
 * Cache::Memcached::Fast sets them.  The C client's own compression stays
 * off: all 32 flag bits pass through untouched.
 *
 * Memory: per call at most one growth of a scratch array kept in the
 * handle (keys, lengths, items); nothing is malloc'ed per key.  get_multi
 * values go straight from the library's read buffer into new Perl scalars
 * inside the callback.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <mcfast.h>
#include <sys/socket.h>

typedef struct mcfx {
    mcf_client *c;
    int last_rc;   /* the last error code (0 when the last call had none) */
    SV *last_msg;  /* its message, copied: mcf_last_error() is short-lived */
    /* scratch, grown to the largest call and reused */
    const char **keys;
    size_t *lens;
    SV **ksv;
    size_t kcap;
    mcf_item *items;
    size_t icap;
} mcfx;

typedef mcfx *Cache__Memcached__Mcfast__Client;

/* Records the outcome of a library call: errors (not misses or NOT_STORED)
 * with their message. */
static int note(pTHX_ mcfx *x, int rc)
{
    if (mcf_is_error(rc)) {
        x->last_rc = rc;
        sv_setpv(x->last_msg, mcf_last_error(x->c));
    } else {
        x->last_rc = 0;
    }
    return rc;
}

static void grow_keys(mcfx *x, size_t n)
{
    if (n <= x->kcap)
        return;
    size_t cap = x->kcap ? x->kcap : 16;
    while (cap < n)
        cap *= 2;
    Renew(x->keys, cap, const char *);
    Renew(x->lens, cap, size_t);
    Renew(x->ksv, cap, SV *);
    x->kcap = cap;
}

static void grow_items(mcfx *x, size_t n)
{
    if (n <= x->icap)
        return;
    size_t cap = x->icap ? x->icap : 16;
    while (cap < n)
        cap *= 2;
    Renew(x->items, cap, mcf_item);
    x->icap = cap;
}

/* The bytes of sv.  A magical (tied, overloaded...) scalar is copied first
 * so it is fetched exactly once and the pointer stays valid for the call. */
static const char *stable_pv(pTHX_ SV *sv, STRLEN *len)
{
    if (SvGAMAGIC(sv))
        sv = sv_2mortal(newSVsv(sv));
    return SvPV_const(sv, *len);
}

static SV *av_elt(pTHX_ AV *av, SSize_t i)
{
    SV **p = av ? av_fetch(av, i, 0) : NULL;
    return p ? *p : NULL;
}

static IV iv_or(pTHX_ SV *sv, IV dflt)
{
    if (!sv)
        return dflt;
    SvGETMAGIC(sv);
    return SvOK(sv) ? SvIV_nomg(sv) : dflt;
}

static UV uv_or(pTHX_ SV *sv, UV dflt)
{
    if (!sv)
        return dflt;
    SvGETMAGIC(sv);
    return SvOK(sv) ? SvUV_nomg(sv) : dflt;
}

static AV *av_arg(pTHX_ SV *sv, const char *what)
{
    if (!SvOK(sv))
        return NULL;
    if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVAV)
        croak("%s: not an array reference", what);
    return (AV *)SvRV(sv);
}

/* ---- get_multi: the callback fills a Perl hash ---- */

typedef struct get_ctx {
#ifdef PERL_IMPLICIT_CONTEXT
    PerlInterpreter *perl;
#endif
    SV **ksv;
    HV *out;
    AV *todo;
    int want_cas;
    U32 mask;
} get_ctx;

static void on_value(void *vctx, size_t i, int rc, const mcf_value *v)
{
    get_ctx *g = vctx;
#ifdef PERL_IMPLICIT_CONTEXT
    dTHXa(g->perl);
#endif
    if (rc != MCF_OK)
        return;
    SV *val = newSVpvn(v->data, v->len);
    SV *item = val;
    if (g->want_cas) {
        AV *pair = newAV();
        av_extend(pair, 1);
        av_push(pair, newSVuv((UV)v->cas));
        av_push(pair, val);
        item = newRV_noinc((SV *)pair);
    }
    if (!hv_store_ent(g->out, g->ksv[i], item, 0))
        SvREFCNT_dec(item);
    /* Values whose flags the Perl layer must act on (thaw, inflate,
     * decode) are listed as index, flags. */
    if (v->flags & g->mask) {
        av_push(g->todo, newSVuv((UV)i));
        av_push(g->todo, newSVuv((UV)v->flags));
    }
}

MODULE = Cache::Memcached::Mcfast    PACKAGE = Cache::Memcached::Mcfast    PREFIX = mcfx_

PROTOTYPES: DISABLE

const char *
mcfx_strerror(rc)
        int rc
    CODE:
        RETVAL = mcf_strerror(rc);
    OUTPUT:
        RETVAL

const char *
mcfx_library_version()
    CODE:
        RETVAL = MCF_VERSION_STRING;
    OUTPUT:
        RETVAL

void
mcfx__constants()
    PPCODE:
        /* name => value pairs; Mcfast.pm turns them into constant subs. */
#define C(n) do { mXPUSHp(#n, sizeof(#n) - 1); mXPUSHi((IV)(n)); } while (0)
        C(MCF_OK); C(MCF_MISS); C(MCF_NOT_STORED); C(MCF_EXISTS); C(MCF_NOT_FOUND);
        C(MCF_ERR_FIRST); C(MCF_ERR_ARG); C(MCF_ERR_BAD_KEY); C(MCF_ERR_TOO_LARGE);
        C(MCF_ERR_BAD_SPEC); C(MCF_ERR_NO_SERVERS); C(MCF_ERR_RESOLVE); C(MCF_ERR_CONNECT);
        C(MCF_ERR_TIMEOUT); C(MCF_ERR_IO); C(MCF_ERR_PROTOCOL); C(MCF_ERR_SERVER);
        C(MCF_ERR_CLIENT); C(MCF_ERR_SERVER_DOWN); C(MCF_ERR_NOMEM); C(MCF_ERR_COMPRESS);
        C(MCF_ERR_NOT_SUPPORTED); C(MCF_ERR_RESOURCE); C(MCF_ERR_CANCELLED); C(MCF_ERR_TLS);
        C(MCF_ERR_LAST);
        C(MCF_DIST_MODULA); C(MCF_DIST_KETAMA_CMF); C(MCF_DIST_KETAMA_LIBMEMCACHED);
        C(MCF_OPT_CONNECT_TIMEOUT_MS); C(MCF_OPT_ATTEMPT_DELAY_MS); C(MCF_OPT_IO_TIMEOUT_MS);
        C(MCF_OPT_TCP_KEEPALIVE); C(MCF_OPT_DISTRIBUTION); C(MCF_OPT_KETAMA_POINTS);
        C(MCF_OPT_HASH_NAMESPACE); C(MCF_OPT_NOREPLY); C(MCF_OPT_MAX_VALUE_SIZE);
        C(MCF_OPT_COMPRESS_THRESHOLD); C(MCF_OPT_COMPRESS_RATIO); C(MCF_OPT_MAX_FAILURES);
        C(MCF_OPT_FAILURE_TIMEOUT_S); C(MCF_OPT_FAILOVER); C(MCF_OPT_MAX_INFLATE_SIZE);
        C(MCF_SET); C(MCF_ADD); C(MCF_REPLACE); C(MCF_APPEND); C(MCF_PREPEND); C(MCF_CAS);
        C(MCF_OP_SET); C(MCF_OP_ADD); C(MCF_OP_REPLACE); C(MCF_OP_APPEND); C(MCF_OP_PREPEND);
        C(MCF_OP_CAS); C(MCF_OP_INCR); C(MCF_OP_DECR); C(MCF_OP_DELETE); C(MCF_OP_TOUCH);
        C(MCF_GET); C(MCF_GETS); C(MCF_GAT); C(MCF_GATS);
        C(MCF_CALL_NOREPLY); C(MCF_CALL_REPLY); C(MCF_CALL_NO_COMPRESS);
        C(MCF_FLAG_COMPRESSED); C(MCF_MAX_KEY_LEN);
#undef C

MODULE = Cache::Memcached::Mcfast    PACKAGE = Cache::Memcached::Mcfast::Client

int
tls_available()
    CODE:
        RETVAL = mcf_tls_available();
    OUTPUT:
        RETVAL

Cache::Memcached::Mcfast::Client
new(class)
        const char *class
    CODE:
        PERL_UNUSED_VAR(class);
        Newxz(RETVAL, 1, mcfx);
        RETVAL->c = mcf_new();
        if (!RETVAL->c) {
            Safefree(RETVAL);
            croak("Cache::Memcached::Mcfast: out of memory");
        }
        RETVAL->last_msg = newSVpvs("");
    OUTPUT:
        RETVAL

void
DESTROY(x)
        Cache::Memcached::Mcfast::Client x
    CODE:
        mcf_free(x->c); /* synchronises noreply traffic first */
        SvREFCNT_dec(x->last_msg);
        Safefree(x->keys);
        Safefree(x->lens);
        Safefree(x->ksv);
        Safefree(x->items);
        Safefree(x);

int
CLONE_SKIP(...)
    CODE:
        /* A thread gets a fresh client from Mcfast.pm's CLONE; the C
         * client (sockets, buffers) is never shared between threads. */
        PERL_UNUSED_VAR(items);
        RETVAL = 1;
    OUTPUT:
        RETVAL

int
add_server(x, spec, weight)
        Cache::Memcached::Mcfast::Client x
        const char *spec
        unsigned weight
    CODE:
        RETVAL = note(aTHX_ x, mcf_add_server(x->c, spec, weight));
    OUTPUT:
        RETVAL

int
set_tls(x, opts)
        Cache::Memcached::Mcfast::Client x
        HV *opts
    PREINIT:
        mcf_tls_options o;
        SV **v;
    CODE:
        /* The strings stay valid: mcf_set_tls copies them before returning. */
        memset(&o, 0, sizeof o);
#define TLS_STR(field) \
        if ((v = hv_fetchs(opts, #field, 0)) && SvOK(*v)) o.field = SvPV_nolen(*v)
        TLS_STR(ca_file); TLS_STR(ca_path); TLS_STR(cert_file); TLS_STR(key_file);
        TLS_STR(server_name); TLS_STR(ciphers); TLS_STR(ciphersuites);
#undef TLS_STR
        if ((v = hv_fetchs(opts, "min_version", 0)) && SvOK(*v)) o.min_version = (int)SvIV(*v);
        if ((v = hv_fetchs(opts, "insecure", 0)) && SvOK(*v)) o.insecure = SvTRUE(*v);
        if ((v = hv_fetchs(opts, "all_servers", 0)) && SvOK(*v)) o.all_servers = SvTRUE(*v);
        RETVAL = note(aTHX_ x, mcf_set_tls(x->c, &o));
    OUTPUT:
        RETVAL

int
set_option(x, opt, value)
        Cache::Memcached::Mcfast::Client x
        int opt
        IV value
    CODE:
        RETVAL = note(aTHX_ x, mcf_set_option(x->c, (mcf_option)opt, (int64_t)value));
    OUTPUT:
        RETVAL

IV
get_option(x, opt)
        Cache::Memcached::Mcfast::Client x
        int opt
    CODE:
        RETVAL = (IV)mcf_get_option(x->c, (mcf_option)opt);
    OUTPUT:
        RETVAL

int
set_namespace(x, ns)
        Cache::Memcached::Mcfast::Client x
        SV *ns
    PREINIT:
        STRLEN len;
        const char *p;
    CODE:
        p = SvOK(ns) ? SvPV_const(ns, len) : "";
        if (SvOK(ns) && strlen(p) != len)
            RETVAL = MCF_ERR_BAD_KEY; /* a NUL byte: the C API takes a C string */
        else
            RETVAL = note(aTHX_ x, mcf_set_namespace(x->c, p));
    OUTPUT:
        RETVAL

void
last_error(x)
        Cache::Memcached::Mcfast::Client x
    PPCODE:
        if (x->last_rc) {
            mXPUSHi(x->last_rc);
            XPUSHs(sv_2mortal(newSVsv(x->last_msg)));
        }

void
set_error(x, rc, msg)
        Cache::Memcached::Mcfast::Client x
        int rc
        SV *msg
    CODE:
        /* For errors found in Perl (max_size, a value that does not thaw). */
        x->last_rc = rc;
        sv_setsv(x->last_msg, msg);

void
clear_error(x)
        Cache::Memcached::Mcfast::Client x
    CODE:
        x->last_rc = 0;

int
store(x, mode, key, value, flags, exptime, cas, call_flags)
        Cache::Memcached::Mcfast::Client x
        int mode
        SV *key
        SV *value
        U32 flags
        SV *exptime
        SV *cas
        unsigned call_flags
    PREINIT:
        STRLEN kl, vl;
        const char *k, *v;
    CODE:
        k = stable_pv(aTHX_ key, &kl);
        v = stable_pv(aTHX_ value, &vl);
        RETVAL = note(aTHX_ x, mcf_store(x->c, (mcf_store_mode)mode, k, kl, v, vl, flags,
                                         (int64_t)iv_or(aTHX_ exptime, 0),
                                         (uint64_t)uv_or(aTHX_ cas, 0), call_flags));
    OUTPUT:
        RETVAL

void
get(x, mode, exptime, key)
        Cache::Memcached::Mcfast::Client x
        int mode
        SV *exptime
        SV *key
    PREINIT:
        STRLEN kl;
        const char *k;
        mcf_value v;
        int rc;
        int64_t e;
    PPCODE:
        /* (value, flags, cas) on a hit; () on a miss or an error. */
        k = stable_pv(aTHX_ key, &kl);
        e = (int64_t)iv_or(aTHX_ exptime, 0);
        switch (mode) {
        case MCF_GET: rc = mcf_get(x->c, k, kl, &v); break;
        case MCF_GETS: rc = mcf_gets(x->c, k, kl, &v); break;
        case MCF_GAT: rc = mcf_gat(x->c, e, k, kl, &v); break;
        case MCF_GATS: rc = mcf_gats(x->c, e, k, kl, &v); break;
        default: croak("get: unknown mode %d", mode);
        }
        note(aTHX_ x, rc);
        if (rc == MCF_OK) {
            EXTEND(SP, 3);
            mPUSHp(v.data, v.len);
            mPUSHu((UV)v.flags);
            mPUSHu((UV)v.cas);
        }

void
arith(x, op, key, delta, call_flags)
        Cache::Memcached::Mcfast::Client x
        int op
        SV *key
        SV *delta
        unsigned call_flags
    PREINIT:
        STRLEN kl;
        const char *k;
        uint64_t n = 0;
        int rc;
    PPCODE:
        /* (rc, new value) */
        k = stable_pv(aTHX_ key, &kl);
        if (op == MCF_OP_INCR)
            rc = mcf_incr(x->c, k, kl, (uint64_t)uv_or(aTHX_ delta, 1), &n, call_flags);
        else
            rc = mcf_decr(x->c, k, kl, (uint64_t)uv_or(aTHX_ delta, 1), &n, call_flags);
        note(aTHX_ x, rc);
        EXTEND(SP, 2);
        mPUSHi(rc);
        /* As text, like the server's reply (Cache::Memcached::Fast returns
         * the reply's digits). */
        PUSHs(sv_2mortal(newSVpvf("%" UVuf, (UV)n)));

int
delete(x, key, call_flags)
        Cache::Memcached::Mcfast::Client x
        SV *key
        unsigned call_flags
    PREINIT:
        STRLEN kl;
        const char *k;
    CODE:
        k = stable_pv(aTHX_ key, &kl);
        RETVAL = note(aTHX_ x, mcf_delete(x->c, k, kl, call_flags));
    OUTPUT:
        RETVAL

int
touch(x, key, exptime, call_flags)
        Cache::Memcached::Mcfast::Client x
        SV *key
        SV *exptime
        unsigned call_flags
    PREINIT:
        STRLEN kl;
        const char *k;
    CODE:
        k = stable_pv(aTHX_ key, &kl);
        RETVAL = note(aTHX_ x, mcf_touch(x->c, k, kl, (int64_t)iv_or(aTHX_ exptime, 0),
                                         call_flags));
    OUTPUT:
        RETVAL

int
multi(x, op, call_flags, keys_sv, values_sv, flags_sv, exptimes_sv, cas_sv, deltas_sv, out_rc_sv, out_num_sv)
        Cache::Memcached::Mcfast::Client x
        int op
        unsigned call_flags
        SV *keys_sv
        SV *values_sv
        SV *flags_sv
        SV *exptimes_sv
        SV *cas_sv
        SV *deltas_sv
        SV *out_rc_sv
        SV *out_num_sv
    PREINIT:
        AV *keys, *values, *flags, *exptimes, *cas, *deltas, *out_rc, *out_num;
        SSize_t n, i;
    CODE:
        /* mcf_multi over parallel arrays (undef where an op has no such
         * field); per-item codes go to @$out_rc, incr/decr values to
         * @$out_num. */
        keys = av_arg(aTHX_ keys_sv, "keys");
        values = av_arg(aTHX_ values_sv, "values");
        flags = av_arg(aTHX_ flags_sv, "flags");
        exptimes = av_arg(aTHX_ exptimes_sv, "exptimes");
        cas = av_arg(aTHX_ cas_sv, "cas");
        deltas = av_arg(aTHX_ deltas_sv, "deltas");
        out_rc = av_arg(aTHX_ out_rc_sv, "out_rc");
        out_num = av_arg(aTHX_ out_num_sv, "out_num");
        n = keys ? av_len(keys) + 1 : 0;
        grow_items(x, (size_t)n);
        for (i = 0; i < n; i++) {
            mcf_item *it = &x->items[i];
            SV *sv;
            STRLEN len = 0;
            memset(it, 0, sizeof *it);
            sv = av_elt(aTHX_ keys, i);
            it->key = sv ? stable_pv(aTHX_ sv, &len) : "";
            it->key_len = sv ? len : 0;
            if (values) {
                sv = av_elt(aTHX_ values, i);
                len = 0;
                it->value = sv ? stable_pv(aTHX_ sv, &len) : "";
                it->value_len = len;
            }
            it->flags = (uint32_t)uv_or(aTHX_ av_elt(aTHX_ flags, i), 0);
            it->exptime = (int64_t)iv_or(aTHX_ av_elt(aTHX_ exptimes, i), 0);
            it->cas = (uint64_t)uv_or(aTHX_ av_elt(aTHX_ cas, i), 0);
            it->delta = (uint64_t)uv_or(aTHX_ av_elt(aTHX_ deltas, i), 1);
        }
        RETVAL = n ? note(aTHX_ x, mcf_multi(x->c, (mcf_op)op, x->items, (size_t)n, call_flags))
                   : note(aTHX_ x, MCF_OK);
        if (out_rc) {
            av_clear(out_rc);
            if (n)
                av_extend(out_rc, n - 1);
            for (i = 0; i < n; i++)
                av_store(out_rc, i, newSViv(x->items[i].rc));
        }
        if (out_num) {
            av_clear(out_num);
            if (n)
                av_extend(out_num, n - 1);
            for (i = 0; i < n; i++)
                av_store(out_num, i, newSVpvf("%" UVuf, (UV)x->items[i].number));
        }
    OUTPUT:
        RETVAL

int
get_multi(x, mode, exptime, keys_sv, want_cas, mask, out_sv, todo_sv)
        Cache::Memcached::Mcfast::Client x
        int mode
        SV *exptime
        SV *keys_sv
        int want_cas
        U32 mask
        SV *out_sv
        SV *todo_sv
    PREINIT:
        AV *keys, *todo;
        SSize_t n, i;
        get_ctx g;
    CODE:
        /* Hits go into %$out_sv (key => value, or key => [cas, value]
         * with want_cas); values with flags & mask are listed in @$todo_sv
         * as (index, flags) for the Perl layer to decode. */
        keys = av_arg(aTHX_ keys_sv, "keys");
        todo = av_arg(aTHX_ todo_sv, "todo");
        if (!SvROK(out_sv) || SvTYPE(SvRV(out_sv)) != SVt_PVHV)
            croak("get_multi: out is not a hash reference");
        if (!todo)
            croak("get_multi: todo is not an array reference");
        n = keys ? av_len(keys) + 1 : 0;
        grow_keys(x, (size_t)n);
        for (i = 0; i < n; i++) {
            SV *sv = av_elt(aTHX_ keys, i);
            STRLEN len = 0;
            if (!sv)
                sv = sv_2mortal(newSVpvs(""));
            x->keys[i] = stable_pv(aTHX_ sv, &len);
            x->lens[i] = len;
            x->ksv[i] = sv;
        }
#ifdef PERL_IMPLICIT_CONTEXT
        g.perl = aTHX;
#endif
        g.ksv = x->ksv;
        g.out = (HV *)SvRV(out_sv);
        g.todo = todo;
        g.want_cas = want_cas;
        g.mask = mask;
        RETVAL = n ? note(aTHX_ x, mcf_get_multi(x->c, (mcf_get_mode)mode,
                                                 (int64_t)iv_or(aTHX_ exptime, 0), x->keys,
                                                 x->lens, (size_t)n, on_value, &g))
                   : note(aTHX_ x, MCF_OK);
    OUTPUT:
        RETVAL

int
flush_all(x, delay, call_flags)
        Cache::Memcached::Mcfast::Client x
        SV *delay
        unsigned call_flags
    CODE:
        RETVAL = note(aTHX_ x, mcf_flush_all(x->c, (int64_t)iv_or(aTHX_ delay, 0), call_flags));
    OUTPUT:
        RETVAL

SV *
version(x, server)
        Cache::Memcached::Mcfast::Client x
        UV server
    PREINIT:
        char buf[256];
        int rc;
    CODE:
        rc = note(aTHX_ x, mcf_version(x->c, (size_t)server, buf, sizeof buf));
        RETVAL = rc == MCF_OK ? newSVpv(buf, 0) : &PL_sv_undef;
    OUTPUT:
        RETVAL

UV
server_count(x)
        Cache::Memcached::Mcfast::Client x
    CODE:
        RETVAL = (UV)mcf_server_count(x->c);
    OUTPUT:
        RETVAL

SV *
server_for_key(x, key)
        Cache::Memcached::Mcfast::Client x
        SV *key
    PREINIT:
        STRLEN kl;
        const char *k;
        size_t server = 0;
    CODE:
        k = stable_pv(aTHX_ key, &kl);
        RETVAL = mcf_server_for_key(x->c, k, kl, &server) == MCF_OK ? newSVuv((UV)server)
                                                                   : &PL_sv_undef;
    OUTPUT:
        RETVAL

SV *
server_info(x, server)
        Cache::Memcached::Mcfast::Client x
        UV server
    PREINIT:
        mcf_server_info info;
        HV *hv;
        const char *fam;
    CODE:
        if (mcf_server_info_get(x->c, (size_t)server, &info) != MCF_OK) {
            RETVAL = &PL_sv_undef;
        } else {
            hv = newHV();
            fam = info.family == AF_INET ? "IPv4" : info.family == AF_INET6 ? "IPv6"
                : info.family == AF_UNIX ? "unix" : "";
            hv_stores(hv, "spec", newSVpv(info.spec ? info.spec : "", 0));
            hv_stores(hv, "address", newSVpv(info.address ? info.address : "", 0));
            hv_stores(hv, "family", newSVpv(fam, 0));
            hv_stores(hv, "weight", newSVuv(info.weight));
            hv_stores(hv, "connect_ms", newSVnv(info.connect_ms));
            hv_stores(hv, "connected", newSViv(info.connected ? 1 : 0));
            RETVAL = newRV_noinc((SV *)hv);
        }
    OUTPUT:
        RETVAL

int
connect_server(x, server)
        Cache::Memcached::Mcfast::Client x
        UV server
    CODE:
        RETVAL = note(aTHX_ x, mcf_connect_server(x->c, (size_t)server));
    OUTPUT:
        RETVAL

void
disconnect_all(x)
        Cache::Memcached::Mcfast::Client x
    CODE:
        mcf_disconnect_all(x->c);
