/*
 * Mcfast.xs - Cache::Memcached::Mcfast's methods, in C over libmcfast.
 *
 * Every method of Cache::Memcached::Fast 0.28 that takes a key or a value
 * is an XSUB here, called straight from the user's code as CMF's are: so
 * argument handling, warnings ("Use of uninitialized value in subroutine
 * entry", "isn't numeric"), croaks and their locations (the caller's
 * line) come out as CMF's do, and no Perl code runs per key.  Per item,
 * in C: CMF's flag logic (Storable 0x1, gzip 0x2, utf8 0x4), the
 * serialise and compress decisions with the ratio check, max_size, the
 * noreply choice, and the Perl results.  Perl code runs only for
 * references (serialize_methods, by default Storable's nfreeze/thaw, which
 * has no C API) and for compress_methods the user gave; the default
 * compression is memGzip's bytes made in C (mcfx_gzip.c).
 *
 * The object is a blessed scalar holding the mcfx pointer, like CMF's.
 * lib/Cache/Memcached/Mcfast.pm parses the constructor's options and
 * configures the handle through the _ methods at the end of this file.
 *
 * Missing arguments are taken as undef.  (CMF reads past the end of the
 * argument list, whatever is on Perl's stack there: not reproducible.)
 *
 * Memory: the per-item arrays live in the handle and grow to the largest
 * call; values are copied once, from the library's read buffer into the
 * Perl scalar returned.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <mcfast.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mcfx_gzip.h"

/* Cache::Memcached::Fast's flag bits. */
#define F_STORABLE 0x1u
#define F_COMPRESS 0x2u
#define F_UTF8 0x4u

/* A per-item result of a _multi call, before it becomes a Perl scalar. */
enum { RES_NONE = -1, RES_FALSE = 0, RES_TRUE = 1, RES_NUMBER = 2 };

typedef struct mcfx {
    mcf_client *c;
    int last_rc;  /* the first error of the last method (0: none) */
    SV *last_msg; /* its message */
    /* configuration, set by Mcfast.pm's new() */
    AV *servers;  /* addresses as given: keys of flush_all's and server_versions' hashes */
    char *noreply; /* per server: noreply => 1 */
    size_t nsrv;
    int any_noreply, all_noreply, nowait;
    int pending; /* noreply requests sent since the last nowait_push */
    UV max_size;
    IV cthr;     /* compress_threshold; <= 0 off (enable_compress flips the sign) */
    NV cratio;
    SV *comp, *decomp; /* the user's compress_methods, or NULL: gzip here */
    SV *ser, *deser;   /* serialize_methods (code refs) */
    int utf8;
    SV *ns;       /* the namespace (the C API has no getter) */
    SV *on_event; /* on_event => CODE, or NULL */
    int in_event; /* on_event is running: no method may be called */
    mcfx_gz gz;
    /* per-item scratch, grown to the largest call */
    size_t cap;
    mcf_item *items;
    size_t *pos;        /* items[j] is argument pos[j] */
    SV **ksv;           /* per argument: the key scalar */
    const char **keys;
    size_t *lens;
    signed char *res;   /* per argument: RES_* */
    uint64_t *num;      /* per argument: incr/decr value */
    int *krc;           /* per argument: get_multi's code */
    SV **dval;          /* get_multi values left for decoding */
    size_t *didx;
    uint32_t *dflags;
    uint64_t *dcas;
} mcfx;

/* ------------------------------------------------------------------ errors */

static void clear_error(mcfx *x)
{
    x->last_rc = 0;
}

/* The first error of a method is kept (a miss or NOT_STORED is none). */
static int note(pTHX_ mcfx *x, int rc)
{
    if (mcf_is_error(rc) && !x->last_rc) {
        x->last_rc = rc;
        sv_setpv(x->last_msg, mcf_last_error(x->c));
    }
    return rc;
}

static void set_error(pTHX_ mcfx *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(pTHX_ mcfx *x, int rc, const char *fmt, ...)
{
    if (x->last_rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    x->last_rc = rc;
    sv_vsetpvf(x->last_msg, fmt, &ap);
    va_end(ap);
}

/* Dies as Cache::Memcached::Fast does, with last_error saying the same. */
static void arg_croak(pTHX_ mcfx *x, const char *msg) __attribute__((noreturn));
static void arg_croak(pTHX_ mcfx *x, const char *msg)
{
    x->last_rc = 0;
    set_error(aTHX_ x, MCF_ERR_ARG, "%s", msg);
    croak("%s", msg);
}

/* ------------------------------------------------------------------ arguments */

static mcfx *self_of(pTHX_ SV *sv)
{
    if (SvROK(sv)) {
        SV *r = SvRV(sv);
        if (SvOBJECT(r) && SvIOK(r) && SvIVX(r)) {
            mcfx *x = INT2PTR(mcfx *, SvIVX(r));
            /* The library is in the middle of a call (mcf_set_event_callback). */
            if (x->in_event)
                croak("Cache::Memcached::Mcfast: a method called from the on_event callback");
            return x;
        }
    }
    croak("Not a Cache::Memcached::Mcfast object");
}

/* mcf_event_cb: on_event->(NAME, SERVER).  Run under G_EVAL: a die must
 * not unwind through the library, which is in the middle of a call. */
static void event_cb(void *ctx, mcf_event e, size_t server)
{
    dTHX;
    mcfx *x = ctx;
    static const char *const names[] = {"", "server_down", "server_up", "failover", "reconnect"};
    const char *name = (size_t)e < sizeof names / sizeof names[0] ? names[e] : "unknown";
    SV **spec = av_fetch(x->servers, (SSize_t)server, 0);
    if (!x->on_event || x->in_event)
        return;
    x->in_event = 1;
    {
        dSP;
        ENTER;
        SAVETMPS;
        PUSHMARK(SP);
        mXPUSHp(name, strlen(name));
        XPUSHs(spec ? *spec : &PL_sv_undef);
        PUTBACK;
        call_sv(x->on_event, G_DISCARD | G_EVAL);
        if (SvTRUE(ERRSV))
            warn("Cache::Memcached::Mcfast: on_event died: %" SVf, SVfARG(ERRSV));
        FREETMPS;
        LEAVE;
    }
    x->in_event = 0;
}

/* The bytes of sv, fetched once: a magical scalar (tied, overloaded) is
 * copied first, so the pointer stays valid for the call.  An undef warns
 * "Use of uninitialized value in subroutine entry" under the caller's
 * warnings, as in CMF. */
static const char *pv_stable(pTHX_ SV *sv, STRLEN *len)
{
    if (SvGAMAGIC(sv))
        sv = sv_2mortal(newSVsv(sv));
    return SvPV_const(sv, *len);
}

/* An element CMF requires (a key, a value, a cas): missing or undef dies. */
static SV *need_elt(pTHX_ mcfx *x, AV *av, SSize_t i)
{
    SV **p = av_fetch(av, i, 0);
    SV *sv = p ? *p : NULL;
    if (sv && SvGMAGICAL(sv))
        sv = sv_mortalcopy(sv);
    if (!sv || !SvOK(sv))
        arg_croak(aTHX_ x, "undefined value passed to av_fetch");
    return sv;
}

/* An optional element: NULL when missing or undef (get magic once). */
static SV *opt_elt(pTHX_ AV *av, SSize_t i)
{
    if (av_len(av) < i)
        return NULL;
    SV **p = av_fetch(av, i, 0);
    if (!p)
        return NULL;
    SvGETMAGIC(*p);
    return SvOK(*p) ? *p : NULL;
}

/* An optional argument at position i: NULL when absent or undef. */
static SV *opt_arg(pTHX_ SV **base, I32 items, I32 i)
{
    if (i >= items)
        return NULL;
    SV *sv = base[i];
    SvGETMAGIC(sv);
    return SvOK(sv) ? sv : NULL;
}

/* CMF's exptime and delay fields are C ints (exptime signed, delay
 * unsigned): larger numbers keep their low 32 bits. */
static int64_t exptime_of(pTHX_ SV *sv)
{
    return sv ? (int64_t)(int32_t)(uint32_t)(UV)SvIV_nomg(sv) : 0;
}

/* gat's exptime goes to the server as the scalar's text in CMF (undef is
 * "0"), and memcached takes only a decimal integer that fits an int
 * (safe_strtol).  Anything else the server refuses; here it is refused
 * before sending, with the same outcome.  Returns 0 when refused. */
static int gat_exptime(pTHX_ SV *sv, int64_t *out)
{
    *out = 0;
    if (!sv)
        return 1;
    STRLEN len;
    const char *p = SvPV_nomg_const(sv, len);
    const char *end = p + len;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == end)
        return 0;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
        if (v > (int64_t)INT32_MAX + 1)
            return 0;
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return 0;
    *out = v;
    return 1;
}

static void grow(mcfx *x, size_t n)
{
    if (n <= x->cap)
        return;
    size_t cap = x->cap ? x->cap : 16;
    while (cap < n)
        cap *= 2;
    Renew(x->items, cap, mcf_item);
    Renew(x->pos, cap, size_t);
    Renew(x->ksv, cap, SV *);
    Renew(x->keys, cap, const char *);
    Renew(x->lens, cap, size_t);
    Renew(x->res, cap, signed char);
    Renew(x->num, cap, uint64_t);
    Renew(x->krc, cap, int);
    Renew(x->dval, cap, SV *);
    Renew(x->didx, cap, size_t);
    Renew(x->dflags, cap, uint32_t);
    Renew(x->dcas, cap, uint64_t);
    x->cap = cap;
}

/* ------------------------------------------------------------------ values */

/* CMF's serialize() then compress(): the scalar whose bytes are stored
 * (sv itself or a mortal) and its flags. */
static SV *encode(pTHX_ mcfx *x, SV *sv, uint32_t *flags)
{
    *flags = 0;
    if (SvROK(sv)) {
        dSP;
        PUSHMARK(SP);
        XPUSHs(sv);
        PUTBACK;
        int count = call_sv(x->ser, G_SCALAR);
        SPAGAIN;
        if (count != 1)
            croak("Serialize method returned nothing");
        sv = POPs;
        PUTBACK;
        *flags |= F_STORABLE;
    } else if (SvUTF8(sv)) {
        sv = sv_2mortal(newSVsv(sv));
        if (x->utf8) {
            sv_utf8_encode(sv);
            *flags |= F_UTF8;
        } else {
            sv_utf8_downgrade(sv, 0); /* dies "Wide character in subroutine entry" */
        }
    }
    if (x->cthr <= 0)
        return sv;
    STRLEN len;
    const char *p = SvPV_const(sv, len); /* CMF's sv_len(): warns on undef too */
    if (len < (STRLEN)x->cthr)
        return sv;
    if (x->comp) {
        SV *csv = sv_newmortal();
        dSP;
        PUSHMARK(SP);
        XPUSHs(sv_2mortal(newRV_inc(sv)));
        XPUSHs(sv_2mortal(newRV_inc(csv)));
        PUTBACK;
        int count = call_sv(x->comp, G_SCALAR);
        SPAGAIN;
        if (count != 1)
            croak("Compress method returned nothing");
        SV *ok = POPs;
        PUTBACK;
        if (SvTRUE(ok) && (NV)sv_len(csv) <= (NV)len * x->cratio) {
            *flags |= F_COMPRESS;
            return csv;
        }
        return sv;
    }
    size_t bound = mcfx_gzip_bound(&x->gz, len);
    SV *csv = sv_2mortal(newSV(bound));
    size_t clen = mcfx_gzip(&x->gz, p, len, (unsigned char *)SvPVX(csv));
    if (clen && (NV)clen <= (NV)len * x->cratio) {
        SvCUR_set(csv, clen);
        *SvEND(csv) = '\0';
        SvPOK_only(csv);
        *flags |= F_COMPRESS;
        return csv;
    }
    return sv;
}

static int needs_decode(mcfx *x, uint32_t flags)
{
    return (flags & (F_STORABLE | F_COMPRESS)) || ((flags & F_UTF8) && x->utf8);
}

/* CMF's decompress() then deserialize() on *svp (an owned scalar, replaced
 * by the result).  0 when the value does not decode: CMF reports a miss;
 * last_error says why. */
static int decode(pTHX_ mcfx *x, SV **svp, uint32_t flags, SV *key)
{
    if (flags & F_COMPRESS) {
        int ok;
        if (x->decomp) {
            SV *rsv = newSV(0);
            dSP;
            PUSHMARK(SP);
            XPUSHs(sv_2mortal(newRV_inc(*svp)));
            XPUSHs(sv_2mortal(newRV_inc(rsv)));
            PUTBACK;
            int count = call_sv(x->decomp, G_SCALAR);
            SPAGAIN;
            if (count != 1)
                croak("Decompress method returned nothing");
            ok = SvTRUE(POPs);
            PUTBACK;
            if (ok) {
                SvREFCNT_dec(*svp);
                *svp = rsv;
            } else {
                SvREFCNT_dec(rsv);
            }
        } else {
            STRLEN len;
            const char *p = SvPV_const(*svp, len);
            const unsigned char *out;
            size_t olen;
            int r = mcfx_gunzip(&x->gz, p, len, &out, &olen);
            if (r < 0)
                croak("Cache::Memcached::Mcfast: out of memory inflating a value");
            /* The default method returns what it inflated: "" and "0" are
             * false there, so CMF takes them as a failure too. */
            ok = r > 0 && !(olen == 0 || (olen == 1 && out[0] == '0'));
            if (ok) {
                SvREFCNT_dec(*svp);
                *svp = newSVpvn((const char *)out, olen);
            }
        }
        if (!ok) {
            set_error(aTHX_ x, MCF_ERR_COMPRESS,
                      "key '%" SVf "': value flagged compressed (0x2) did not decompress; "
                      "reported as a miss", SVfARG(key));
            return 0;
        }
    }
    if (flags & F_STORABLE) {
        dSP;
        PUSHMARK(SP);
        XPUSHs(*svp);
        PUTBACK;
        int count = call_sv(x->deser, G_SCALAR | G_EVAL);
        SPAGAIN;
        if (count != 1)
            croak("Deserialize method returned nothing");
        SV *rsv = POPs;
        PUTBACK;
        if (SvTRUE(ERRSV)) {
            SV *why = sv_2mortal(newSVsv(ERRSV));
            STRLEN wl;
            const char *w = SvPV_const(why, wl);
            while (wl && isSPACE(w[wl - 1]))
                wl--;
            set_error(aTHX_ x, MCF_ERR_PROTOCOL,
                      "key '%" SVf "': value flagged serialised (0x1) did not deserialise "
                      "(%.*s); reported as a miss", SVfARG(key), (int)wl, w);
            return 0;
        }
        SvREFCNT_dec(*svp);
        *svp = SvREFCNT_inc(rsv);
    } else if ((flags & F_UTF8) && x->utf8) {
        if (!sv_utf8_decode(*svp)) {
            set_error(aTHX_ x, MCF_ERR_PROTOCOL,
                      "key '%" SVf "': value flagged utf8 (0x4) is not valid UTF-8; "
                      "reported as a miss", SVfARG(key));
            return 0;
        }
    }
    return 1;
}

static void too_large(pTHX_ mcfx *x, SV *key, STRLEN len)
{
    set_error(aTHX_ x, MCF_ERR_TOO_LARGE,
              "key '%" SVf "': value of %lu bytes is over max_size (%lu bytes); nothing was sent",
              SVfARG(key), (unsigned long)len, (unsigned long)x->max_size);
}

/* ------------------------------------------------------------------ failures */

/* After a call on many keys or servers that had errors, last_error's
 * message (the library's first error, naming its server and cause) gets a
 * summary of every server that failed and how:
 *   connect 127.0.0.1:2: ... refused [16 of 30 keys failed: 127.0.0.1:1
 *   connection refused or unreachable (8 keys); 127.0.0.1:2 ... (8 keys)]
 * Keys refused before sending (a bad key, a value over max_size) are
 * counted apart. */
typedef struct failures {
    size_t *count; /* per server: keys failed */
    int *code;     /* per server: the first code */
    size_t failed, refused;
} failures;

static void fail_begin(mcfx *x, failures *f)
{
    Zero(f, 1, failures);
    Newxz(f->count, x->nsrv + 1, size_t);
    Newxz(f->code, x->nsrv + 1, int);
}

static void fail_note(mcfx *x, failures *f, const char *k, size_t kl, int rc)
{
    size_t s;
    if (!mcf_is_error(rc))
        return;
    f->failed++;
    if (rc == MCF_ERR_BAD_KEY || rc == MCF_ERR_TOO_LARGE || rc == MCF_ERR_ARG ||
        mcf_server_for_key(x->c, k, kl, &s) != MCF_OK || s >= x->nsrv) {
        f->refused++;
        return;
    }
    if (!f->count[s]++)
        f->code[s] = rc;
}

static void server_failed(failures *f, size_t s, int rc)
{
    f->failed++;
    if (!f->count[s]++)
        f->code[s] = rc;
}

static void fail_end(pTHX_ mcfx *x, failures *f, size_t total, const char *what)
{
    if (f->failed && x->last_rc) {
        const char *sep = "";
        mcf_server_info info;
        sv_catpvf(x->last_msg, " [%lu of %lu %s failed: ", (unsigned long)f->failed,
                  (unsigned long)total, what);
        for (size_t s = 0; s < x->nsrv; s++) {
            if (!f->count[s])
                continue;
            sv_catpvf(x->last_msg, "%s%s %s", sep,
                      mcf_server_info_get(x->c, s, &info) == MCF_OK && info.spec ? info.spec : "?",
                      mcf_strerror(f->code[s]));
            if (*what == 'k')
                sv_catpvf(x->last_msg, " (%lu)", (unsigned long)f->count[s]);
            sep = "; ";
        }
        if (f->refused)
            sv_catpvf(x->last_msg, "%s%lu refused before sending (bad key or value too large)", sep,
                      (unsigned long)f->refused);
        sv_catpvs(x->last_msg, "]");
    }
    Safefree(f->count);
    Safefree(f->code);
}

/* The summary for mcf_multi's items[0..m) plus `skipped` arguments not sent. */
static void describe_items(pTHX_ mcfx *x, size_t m, size_t skipped, size_t total)
{
    failures f;
    if (!x->last_rc)
        return;
    fail_begin(x, &f);
    for (size_t j = 0; j < m; j++)
        fail_note(x, &f, x->items[j].key, x->items[j].key_len, x->items[j].rc);
    f.failed += skipped;
    f.refused += skipped;
    fail_end(aTHX_ x, &f, total, "keys");
}

/* ------------------------------------------------------------------ noreply */

static int server_noreply(mcfx *x, const char *k, size_t kl)
{
    size_t s;
    return mcf_server_for_key(x->c, k, kl, &s) == MCF_OK && s < x->nsrv && x->noreply[s];
}

/* The call flags of a write called in void context: noreply where CMF
 * would not wait either (nowait, or the key's server has noreply => 1). */
static unsigned void_flags(mcfx *x, const char *k, size_t kl)
{
    if (!(x->nowait || x->all_noreply || (x->any_noreply && server_noreply(x, k, kl))))
        return 0;
    x->pending = 1;
    return MCF_CALL_NOREPLY;
}

/* mcf_multi over x->items[0..m); in void context, noreply as void_flags
 * says, in two calls when only some servers are noreply. */
static void run_multi(pTHX_ mcfx *x, mcf_op op, size_t m, int is_void)
{
    if (!m)
        return;
    unsigned cf = 0;
    if (is_void && (x->nowait || x->all_noreply)) {
        cf = MCF_CALL_NOREPLY;
        x->pending = 1;
    } else if (is_void && x->any_noreply) {
        /* noreply items first, then the others (results are not returned) */
        size_t nr = 0;
        for (size_t j = 0; j < m; j++) {
            if (server_noreply(x, x->items[j].key, x->items[j].key_len)) {
                mcf_item t = x->items[j];
                x->items[j] = x->items[nr];
                x->items[nr++] = t;
            }
        }
        if (nr) {
            x->pending = 1;
            note(aTHX_ x, mcf_multi(x->c, op, x->items, nr, MCF_CALL_NOREPLY));
        }
        if (m > nr)
            note(aTHX_ x, mcf_multi(x->c, op, x->items + nr, m - nr, 0));
        return;
    }
    note(aTHX_ x, mcf_multi(x->c, op, x->items, m, cf));
}

/* ------------------------------------------------------------------ results */

static SV *result_sv(pTHX_ mcfx *x, size_t i)
{
    switch (x->res[i]) {
    case RES_TRUE:
        return newSViv(1);
    case RES_FALSE:
        return newSVpvs("");
    case RES_NUMBER:
        return x->num[i] ? newSVpvf("%" UVuf, (UV)x->num[i]) : newSVpvs("0E0");
    default:
        return NULL;
    }
}

/* Per-item outcome of a store, delete or touch. */
static signed char rc_result(int rc)
{
    return rc == MCF_OK ? RES_TRUE : rc < MCF_ERR_FIRST ? RES_FALSE : RES_NONE;
}

/* The results of a _multi call as CMF returns them, stored from sp + 1
 * on (the caller extended the stack for n + 1): in list context one per argument up to the last that has one
 * (undef for those without); in scalar context a hash of key => result
 * for those that have one.  Returns how many were pushed. */
static I32 push_results(pTHX_ mcfx *x, SV **sp, size_t n, I32 gimme)
{
    if (gimme == G_VOID)
        return 0;
    if (gimme == G_SCALAR) {
        HV *hv = newHV();
        for (size_t i = 0; i < n; i++) {
            SV *r = result_sv(aTHX_ x, i);
            if (r && !hv_store_ent(hv, x->ksv[i], r, 0))
                SvREFCNT_dec(r);
        }
        *++sp = sv_2mortal(newRV_noinc((SV *)hv));
        return 1;
    }
    size_t last = n;
    while (last && x->res[last - 1] == RES_NONE)
        last--;
    for (size_t i = 0; i < last; i++) {
        SV *r = result_sv(aTHX_ x, i);
        *++sp = r ? sv_2mortal(r) : &PL_sv_undef;
    }
    return (I32)last;
}

/* ------------------------------------------------------------------ get_multi */

typedef struct get_ctx {
#ifdef PERL_IMPLICIT_CONTEXT
    PerlInterpreter *perl;
#endif
    mcfx *x;
    HV *out;
    int want_cas;
    size_t ndefer;
} get_ctx;

static void store_hit(pTHX_ get_ctx *g, size_t i, SV *val, uint64_t cas)
{
    SV *item = val;
    if (g->want_cas) {
        SV *pair[2];
        pair[0] = newSVuv((UV)cas);
        pair[1] = val;
        item = newRV_noinc((SV *)av_make(2, pair));
        SvREFCNT_dec(pair[0]);
        SvREFCNT_dec(pair[1]);
    }
    if (!hv_store_ent(g->out, g->x->ksv[i], item, 0))
        SvREFCNT_dec(item);
}

static void on_value(void *vctx, size_t i, int rc, const mcf_value *v)
{
    get_ctx *g = vctx;
#ifdef PERL_IMPLICIT_CONTEXT
    dTHXa(g->perl);
#endif
    mcfx *x = g->x;
    x->krc[i] = rc;
    if (rc != MCF_OK)
        return;
    SV *val = newSVpvn(v->data, v->len);
    /* No Perl code runs inside the library's call: values to thaw or
     * inflate wait for the end of it. */
    if (needs_decode(x, v->flags)) {
        size_t d = g->ndefer++;
        x->dval[d] = val;
        x->didx[d] = i;
        x->dflags[d] = v->flags;
        x->dcas[d] = v->cas;
        return;
    }
    store_hit(aTHX_ g, i, val, v->cas);
}

/* get_multi and friends over n key arguments at args[0..n). */
static HV *get_multi(pTHX_ mcfx *x, mcf_get_mode mode, int64_t exptime, int exptime_ok,
                     SV **args, size_t n)
{
    grow(x, n);
    for (size_t i = 0; i < n; i++) {
        STRLEN len;
        x->ksv[i] = args[i];
        x->keys[i] = pv_stable(aTHX_ args[i], &len);
        x->lens[i] = len;
    }
    HV *hv = newHV();
    sv_2mortal((SV *)hv);
    if (!exptime_ok) {
        set_error(aTHX_ x, MCF_ERR_ARG,
                  "exptime is not an integer memcached takes; nothing was sent");
        return hv;
    }
    if (!n)
        return hv;
    /* Room for every hit at once: no rehashing as the hash fills. */
    hv_ksplit(hv, (IV)n);
    get_ctx g;
#ifdef PERL_IMPLICIT_CONTEXT
    g.perl = aTHX;
#endif
    g.x = x;
    g.out = hv;
    g.want_cas = mode == MCF_GETS || mode == MCF_GATS;
    g.ndefer = 0;
    if (note(aTHX_ x, mcf_get_multi(x->c, mode, exptime, x->keys, x->lens, n, on_value, &g)) !=
        MCF_OK) {
        failures f;
        fail_begin(x, &f);
        for (size_t i = 0; i < n; i++)
            fail_note(x, &f, x->keys[i], x->lens[i], x->krc[i]);
        fail_end(aTHX_ x, &f, n, "keys");
    }
    for (size_t d = 0; d < g.ndefer; d++) {
        size_t i = x->didx[d];
        SV *val = x->dval[d];
        if (decode(aTHX_ x, &val, x->dflags[d], x->ksv[i]))
            store_hit(aTHX_ &g, i, val, x->dcas[d]);
        else
            SvREFCNT_dec(val);
    }
    return hv;
}

/* A single-key value with its flags: the Perl result, or NULL. */
static SV *single_value(pTHX_ mcfx *x, const mcf_value *v, int want_cas, SV *key)
{
    SV *val = newSVpvn(v->data, v->len);
    if (needs_decode(x, v->flags) && !decode(aTHX_ x, &val, v->flags, key)) {
        SvREFCNT_dec(val);
        return NULL;
    }
    if (!want_cas)
        return val;
    SV *pair[2];
    pair[0] = newSVuv((UV)v->cas);
    pair[1] = val;
    SV *r = newRV_noinc((SV *)av_make(2, pair));
    SvREFCNT_dec(pair[0]);
    SvREFCNT_dec(pair[1]);
    return r;
}

#define ARG(i) ((i) < items ? ST(i) : &PL_sv_undef)

MODULE = Cache::Memcached::Mcfast    PACKAGE = Cache::Memcached::Mcfast

PROTOTYPES: DISABLE

const char *
strerror(rc)
        int rc
    CODE:
        RETVAL = mcf_strerror(rc);
    OUTPUT:
        RETVAL

const char *
library_version()
    CODE:
        RETVAL = MCF_VERSION_STRING;
    OUTPUT:
        RETVAL

void
_constants()
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
        C(MCF_DIST_LIBMEMCACHED); C(MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED);
        C(MCF_DIST_PYMEMCACHE); C(MCF_DIST_NUTCRACKER_KETAMA); C(MCF_DIST_NUTCRACKER_MODULA);
        C(MCF_HASH_DEFAULT); C(MCF_HASH_ONE_AT_A_TIME); C(MCF_HASH_MD5); C(MCF_HASH_CRC);
        C(MCF_HASH_FNV1_64); C(MCF_HASH_FNV1A_64); C(MCF_HASH_FNV1_32); C(MCF_HASH_FNV1A_32);
        C(MCF_HASH_HSIEH); C(MCF_HASH_MURMUR); C(MCF_HASH_JENKINS); C(MCF_HASH_CRC32);
        C(MCF_HASH_MURMUR3);
        C(MCF_OPT_FAILURE_LIMIT); C(MCF_OPT_RETRY_MS); C(MCF_OPT_RETRY_MAX_MS); C(MCF_OPT_FLAP_MS);
        C(MCF_OPT_HASH); C(MCF_OPT_PROTOCOL); C(MCF_PROTO_TEXT); C(MCF_PROTO_META); C(MCF_PROTO_AUTO);
        C(MCF_OPT_CONNECT_TIMEOUT_MS); C(MCF_OPT_ATTEMPT_DELAY_MS); C(MCF_OPT_IO_TIMEOUT_MS);
        C(MCF_OPT_TCP_KEEPALIVE); C(MCF_OPT_DISTRIBUTION); C(MCF_OPT_KETAMA_POINTS);
        C(MCF_OPT_HASH_NAMESPACE); C(MCF_OPT_NOREPLY); C(MCF_OPT_MAX_VALUE_SIZE);
        C(MCF_OPT_COMPRESS_THRESHOLD); C(MCF_OPT_COMPRESS_RATIO); C(MCF_OPT_MAX_FAILURES);
        C(MCF_OPT_FAILURE_TIMEOUT_S); C(MCF_OPT_FAILOVER); C(MCF_OPT_MAX_INFLATE_SIZE);
        C(MCF_OPT_LATENCY); C(MCF_OPT_DNS_TTL_MS);
        C(MCF_SET); C(MCF_ADD); C(MCF_REPLACE); C(MCF_APPEND); C(MCF_PREPEND); C(MCF_CAS);
        C(MCF_OP_SET); C(MCF_OP_ADD); C(MCF_OP_REPLACE); C(MCF_OP_APPEND); C(MCF_OP_PREPEND);
        C(MCF_OP_CAS); C(MCF_OP_INCR); C(MCF_OP_DECR); C(MCF_OP_DELETE); C(MCF_OP_TOUCH);
        C(MCF_GET); C(MCF_GETS); C(MCF_GAT); C(MCF_GATS);
        C(MCF_CALL_NOREPLY); C(MCF_CALL_REPLY); C(MCF_CALL_NO_COMPRESS);
        C(MCF_FLAG_COMPRESSED); C(MCF_MAX_KEY_LEN);
#undef C

void
set(memd, ...)
        SV *memd
    ALIAS:
        add = MCF_ADD
        replace = MCF_REPLACE
        append = MCF_APPEND
        prepend = MCF_PREPEND
        cas = MCF_CAS
    PREINIT:
        mcfx *x;
        STRLEN kl, vl;
        const char *k, *v;
        uint64_t cas = 0;
        uint32_t flags;
        SV *ksv, *vsv;
        I32 arg = 1;
        int rc, is_void;
    PPCODE:
        /* (key, [cas,] value, exptime), as CMF reads them. */
        x = self_of(aTHX_ memd);
        clear_error(x);
        is_void = GIMME_V == G_VOID;
        ksv = ARG(arg);
        k = pv_stable(aTHX_ ksv, &kl);
        arg++;
        if (ix == MCF_CAS) {
            cas = (uint64_t)SvUV(ARG(arg));
            arg++;
        }
        vsv = encode(aTHX_ x, ARG(arg), &flags);
        arg++;
        v = pv_stable(aTHX_ vsv, &vl);
        if (vl > x->max_size) {
            too_large(aTHX_ x, ksv, vl);
            XSRETURN_EMPTY;
        }
        rc = note(aTHX_ x, mcf_store(x->c, (mcf_store_mode)ix, k, kl, v, vl, flags,
                                     exptime_of(aTHX_ opt_arg(aTHX_ &ST(0), items, arg)), cas,
                                     is_void ? void_flags(x, k, kl) : 0));
        if (is_void || mcf_is_error(rc))
            XSRETURN_EMPTY;
        ST(0) = rc == MCF_OK ? sv_2mortal(newSViv(1)) : sv_2mortal(newSVpvs(""));
        XSRETURN(1);

void
set_multi(memd, ...)
        SV *memd
    ALIAS:
        add_multi = MCF_ADD
        replace_multi = MCF_REPLACE
        append_multi = MCF_APPEND
        prepend_multi = MCF_PREPEND
        cas_multi = MCF_CAS
    PREINIT:
        mcfx *x;
        size_t n, m = 0, i, j;
        I32 gimme;
    PPCODE:
        /* ([key, [cas,] value, exptime], ...) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        gimme = GIMME_V;
        n = (size_t)(items - 1);
        grow(x, n);
        for (i = 0; i < n; i++) {
            SV *sv = ST(i + 1), *vsv;
            AV *av;
            STRLEN kl, vl;
            SSize_t a = 0;
            uint64_t cas = 0;
            uint32_t flags;
            const char *k, *v;
            if (!(SvROK(sv) && SvTYPE(SvRV(sv)) == SVt_PVAV))
                arg_croak(aTHX_ x, "Not an array reference");
            av = (AV *)SvRV(sv);
            x->res[i] = RES_NONE;
            x->ksv[i] = need_elt(aTHX_ x, av, a++);
            k = pv_stable(aTHX_ x->ksv[i], &kl);
            if (ix == MCF_CAS) {
                SV *csv = need_elt(aTHX_ x, av, a++);
                cas = (uint64_t)SvUV(csv);
            }
            vsv = need_elt(aTHX_ x, av, a++);
            vsv = encode(aTHX_ x, vsv, &flags);
            v = pv_stable(aTHX_ vsv, &vl);
            if (vl > x->max_size) {
                too_large(aTHX_ x, x->ksv[i], vl);
                continue;
            }
            mcf_item *it = &x->items[m];
            Zero(it, 1, mcf_item);
            it->key = k;
            it->key_len = kl;
            it->value = v;
            it->value_len = vl;
            it->flags = flags;
            it->cas = cas;
            it->exptime = exptime_of(aTHX_ opt_elt(aTHX_ av, a));
            x->pos[m++] = i;
        }
        run_multi(aTHX_ x, (mcf_op)ix, m, gimme == G_VOID);
        describe_items(aTHX_ x, m, n - m, n);
        if (gimme == G_VOID)
            XSRETURN_EMPTY;
        for (j = 0; j < m; j++)
            x->res[x->pos[j]] = rc_result(x->items[j].rc);
        EXTEND(SP, (SSize_t)n + 1);
        XSRETURN(push_results(aTHX_ x, SP, n, gimme));

void
get(memd, ...)
        SV *memd
    ALIAS:
        gets = MCF_GETS
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        mcf_value v;
        int rc;
        SV *r, *ksv;
    PPCODE:
        x = self_of(aTHX_ memd);
        clear_error(x);
        ksv = ARG(1);
        k = SvPV_const(ksv, kl);
        rc = ix == MCF_GETS ? mcf_gets(x->c, k, kl, &v) : mcf_get(x->c, k, kl, &v);
        note(aTHX_ x, rc);
        if (rc != MCF_OK || !(r = single_value(aTHX_ x, &v, ix == MCF_GETS, ksv)))
            XSRETURN_EMPTY;
        ST(0) = sv_2mortal(r);
        XSRETURN(1);

void
gat(memd, ...)
        SV *memd
    ALIAS:
        gats = MCF_GATS
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        mcf_value v;
        int rc, ok;
        int64_t e;
        SV *r, *ksv;
    PPCODE:
        /* (exptime, key) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        ok = gat_exptime(aTHX_ opt_arg(aTHX_ &ST(0), items, 1), &e);
        ksv = ARG(2);
        k = SvPV_const(ksv, kl);
        if (!ok) {
            set_error(aTHX_ x, MCF_ERR_ARG,
                      "exptime is not an integer memcached takes; nothing was sent");
            XSRETURN_EMPTY;
        }
        rc = ix == MCF_GATS ? mcf_gats(x->c, e, k, kl, &v) : mcf_gat(x->c, e, k, kl, &v);
        note(aTHX_ x, rc);
        if (rc != MCF_OK || !(r = single_value(aTHX_ x, &v, ix == MCF_GATS, ksv)))
            XSRETURN_EMPTY;
        ST(0) = sv_2mortal(r);
        XSRETURN(1);

void
get_multi(memd, ...)
        SV *memd
    ALIAS:
        gets_multi = MCF_GETS
    PREINIT:
        mcfx *x;
        HV *hv;
    PPCODE:
        x = self_of(aTHX_ memd);
        clear_error(x);
        hv = get_multi(aTHX_ x, (mcf_get_mode)ix, 0, 1, &ST(1), (size_t)(items - 1));
        ST(0) = sv_2mortal(newRV_inc((SV *)hv));
        XSRETURN(1);

void
gat_multi(memd, ...)
        SV *memd
    ALIAS:
        gats_multi = MCF_GATS
    PREINIT:
        mcfx *x;
        HV *hv;
        int64_t e;
        int ok;
    PPCODE:
        /* (exptime, key, ...) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        ok = gat_exptime(aTHX_ opt_arg(aTHX_ &ST(0), items, 1), &e);
        hv = get_multi(aTHX_ x, ix == MCF_GATS ? MCF_GATS : MCF_GAT, e, ok, &ST(2),
                       items > 2 ? (size_t)(items - 2) : 0);
        ST(0) = sv_2mortal(newRV_inc((SV *)hv));
        XSRETURN(1);

void
incr(memd, ...)
        SV *memd
    ALIAS:
        decr = 1
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        uint64_t delta = 1, nv = 0;
        SV *d;
        int rc, is_void;
    PPCODE:
        /* (key, delta) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        is_void = GIMME_V == G_VOID;
        k = pv_stable(aTHX_ ARG(1), &kl);
        if ((d = opt_arg(aTHX_ &ST(0), items, 2)))
            delta = (uint64_t)SvUV_nomg(d);
        rc = ix ? mcf_decr(x->c, k, kl, delta, &nv, is_void ? void_flags(x, k, kl) : 0)
                : mcf_incr(x->c, k, kl, delta, &nv, is_void ? void_flags(x, k, kl) : 0);
        note(aTHX_ x, rc);
        if (is_void || mcf_is_error(rc))
            XSRETURN_EMPTY;
        /* The reply's digits, as text; a zero is "0E0" (true). */
        ST(0) = rc != MCF_OK ? sv_2mortal(newSVpvs(""))
              : nv ? sv_2mortal(newSVpvf("%" UVuf, (UV)nv)) : sv_2mortal(newSVpvs("0E0"));
        XSRETURN(1);

void
incr_multi(memd, ...)
        SV *memd
    ALIAS:
        decr_multi = 1
    PREINIT:
        mcfx *x;
        size_t n, i;
        I32 gimme;
    PPCODE:
        /* (key | [key, delta], ...) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        gimme = GIMME_V;
        n = (size_t)(items - 1);
        grow(x, n);
        for (i = 0; i < n; i++) {
            SV *sv = ST(i + 1), *d = NULL;
            STRLEN kl;
            mcf_item *it = &x->items[i];
            if (!SvROK(sv)) {
                x->ksv[i] = sv;
            } else {
                if (SvTYPE(SvRV(sv)) != SVt_PVAV)
                    arg_croak(aTHX_ x, "Not an array reference");
                x->ksv[i] = need_elt(aTHX_ x, (AV *)SvRV(sv), 0);
                d = opt_elt(aTHX_ (AV *)SvRV(sv), 1);
            }
            Zero(it, 1, mcf_item);
            it->key = pv_stable(aTHX_ x->ksv[i], &kl);
            it->key_len = kl;
            it->delta = d ? (uint64_t)SvUV_nomg(d) : 1;
            x->pos[i] = i;
        }
        run_multi(aTHX_ x, ix ? MCF_OP_DECR : MCF_OP_INCR, n, gimme == G_VOID);
        describe_items(aTHX_ x, n, 0, n);
        if (gimme == G_VOID)
            XSRETURN_EMPTY;
        for (i = 0; i < n; i++) {
            int rc = x->items[i].rc;
            x->res[i] = rc == MCF_OK ? RES_NUMBER : rc < MCF_ERR_FIRST ? RES_FALSE : RES_NONE;
            x->num[i] = x->items[i].number;
        }
        EXTEND(SP, (SSize_t)n + 1);
        XSRETURN(push_results(aTHX_ x, SP, n, gimme));

void
delete(memd, ...)
        SV *memd
    ALIAS:
        remove = 1
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        SV *d;
        int rc, is_void;
    PPCODE:
        /* (key, delay): the delay is from old memcached versions, ignored */
        PERL_UNUSED_VAR(ix);
        x = self_of(aTHX_ memd);
        clear_error(x);
        is_void = GIMME_V == G_VOID;
        k = pv_stable(aTHX_ ARG(1), &kl);
        if ((d = opt_arg(aTHX_ &ST(0), items, 2)) && SvUV_nomg(d) != 0)
            warn("non-zero delete expiration time is ignored");
        rc = note(aTHX_ x, mcf_delete(x->c, k, kl, is_void ? void_flags(x, k, kl) : 0));
        if (is_void || mcf_is_error(rc))
            XSRETURN_EMPTY;
        ST(0) = rc == MCF_OK ? sv_2mortal(newSViv(1)) : sv_2mortal(newSVpvs(""));
        XSRETURN(1);

void
delete_multi(memd, ...)
        SV *memd
    PREINIT:
        mcfx *x;
        size_t n, i;
        I32 gimme;
    PPCODE:
        /* (key | [key, delay], ...) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        gimme = GIMME_V;
        n = (size_t)(items - 1);
        grow(x, n);
        for (i = 0; i < n; i++) {
            SV *sv = ST(i + 1), *d;
            STRLEN kl;
            mcf_item *it = &x->items[i];
            if (!SvROK(sv)) {
                x->ksv[i] = sv;
            } else {
                if (SvTYPE(SvRV(sv)) != SVt_PVAV)
                    arg_croak(aTHX_ x, "Not an array reference");
                x->ksv[i] = need_elt(aTHX_ x, (AV *)SvRV(sv), 0);
                if ((d = opt_elt(aTHX_ (AV *)SvRV(sv), 1)) && SvUV_nomg(d) != 0)
                    warn("non-zero delete expiration time is ignored");
            }
            Zero(it, 1, mcf_item);
            it->key = pv_stable(aTHX_ x->ksv[i], &kl);
            it->key_len = kl;
            x->pos[i] = i;
        }
        run_multi(aTHX_ x, MCF_OP_DELETE, n, gimme == G_VOID);
        describe_items(aTHX_ x, n, 0, n);
        if (gimme == G_VOID)
            XSRETURN_EMPTY;
        for (i = 0; i < n; i++)
            x->res[i] = rc_result(x->items[i].rc);
        EXTEND(SP, (SSize_t)n + 1);
        XSRETURN(push_results(aTHX_ x, SP, n, gimme));

void
touch(memd, ...)
        SV *memd
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        int rc, is_void;
    PPCODE:
        /* (key, exptime) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        is_void = GIMME_V == G_VOID;
        k = pv_stable(aTHX_ ARG(1), &kl);
        rc = note(aTHX_ x, mcf_touch(x->c, k, kl, exptime_of(aTHX_ opt_arg(aTHX_ &ST(0), items, 2)),
                                     is_void ? void_flags(x, k, kl) : 0));
        if (is_void || mcf_is_error(rc))
            XSRETURN_EMPTY;
        ST(0) = rc == MCF_OK ? sv_2mortal(newSViv(1)) : sv_2mortal(newSVpvs(""));
        XSRETURN(1);

void
touch_multi(memd, ...)
        SV *memd
    PREINIT:
        mcfx *x;
        size_t n, i;
        I32 gimme;
    PPCODE:
        /* ([key, exptime], ...) */
        x = self_of(aTHX_ memd);
        clear_error(x);
        gimme = GIMME_V;
        n = (size_t)(items - 1);
        grow(x, n);
        for (i = 0; i < n; i++) {
            SV *sv = ST(i + 1);
            AV *av;
            STRLEN kl;
            mcf_item *it = &x->items[i];
            if (!(SvROK(sv) && SvTYPE(SvRV(sv)) == SVt_PVAV))
                arg_croak(aTHX_ x, "Not an array reference");
            av = (AV *)SvRV(sv);
            x->ksv[i] = need_elt(aTHX_ x, av, 0);
            Zero(it, 1, mcf_item);
            it->key = pv_stable(aTHX_ x->ksv[i], &kl);
            it->key_len = kl;
            it->exptime = exptime_of(aTHX_ opt_elt(aTHX_ av, 1));
            x->pos[i] = i;
        }
        run_multi(aTHX_ x, MCF_OP_TOUCH, n, gimme == G_VOID);
        describe_items(aTHX_ x, n, 0, n);
        if (gimme == G_VOID)
            XSRETURN_EMPTY;
        for (i = 0; i < n; i++)
            x->res[i] = rc_result(x->items[i].rc);
        EXTEND(SP, (SSize_t)n + 1);
        XSRETURN(push_results(aTHX_ x, SP, n, gimme));

void
flush_all(memd, ...)
        SV *memd
    PREINIT:
        mcfx *x;
        SV *d;
        int64_t delay = 0;
        unsigned cf = 0;
        int rc;
        size_t i;
        HV *hv;
        mcf_server_info info;
        failures f;
    PPCODE:
        /* (delay): { server => 1 } for each server that flushed */
        x = self_of(aTHX_ memd);
        clear_error(x);
        if ((d = opt_arg(aTHX_ &ST(0), items, 1)))
            delay = (int64_t)(uint32_t)SvUV_nomg(d);
        if (GIMME_V == G_VOID && (x->nowait || x->all_noreply)) {
            cf = MCF_CALL_NOREPLY;
            x->pending = 1;
        }
        rc = note(aTHX_ x, mcf_flush_all(x->c, delay, cf));
        hv = newHV();
        fail_begin(x, &f);
        for (i = 0; i < x->nsrv; i++) {
            /* A server that failed has had its connection closed. */
            if (rc == MCF_OK || (mcf_server_info_get(x->c, i, &info) == MCF_OK && info.connected)) {
                SV **a = av_fetch(x->servers, (SSize_t)i, 0);
                if (a)
                    (void)hv_store_ent(hv, *a, newSViv(1), 0);
            } else {
                server_failed(&f, i, rc);
            }
        }
        fail_end(aTHX_ x, &f, x->nsrv, "servers");
        ST(0) = sv_2mortal(newRV_noinc((SV *)hv));
        XSRETURN(1);

void
server_versions(memd)
        SV *memd
    PREINIT:
        mcfx *x;
        size_t i;
        HV *hv;
        char buf[256];
        failures f;
    PPCODE:
        /* { server => version }, one server after the other */
        x = self_of(aTHX_ memd);
        clear_error(x);
        hv = newHV();
        fail_begin(x, &f);
        for (i = 0; i < x->nsrv; i++) {
            int rc = note(aTHX_ x, mcf_version(x->c, i, buf, sizeof buf));
            if (rc == MCF_OK) {
                SV **a = av_fetch(x->servers, (SSize_t)i, 0);
                if (a)
                    (void)hv_store_ent(hv, *a, newSVpv(buf, 0), 0);
            } else {
                server_failed(&f, i, rc);
            }
        }
        fail_end(aTHX_ x, &f, x->nsrv, "servers");
        ST(0) = sv_2mortal(newRV_noinc((SV *)hv));
        XSRETURN(1);

void
_server_stats(memd)
        SV *memd
    PREINIT:
        mcfx *x;
        size_t i;
        int rc;
        HV *all;
    PPCODE:
        /* { server => { counters } }: by_code keyed by number (Mcfast.pm
         * names them). */
        x = self_of(aTHX_ memd);
        clear_error(x);
        all = newHV();
        for (i = 0; i < x->nsrv; i++) {
            mcf_server_stats st;
            mcf_server_info info;
            HV *h, *codes;
            SV **a = av_fetch(x->servers, (SSize_t)i, 0);
            if (!a || mcf_server_stats_get(x->c, i, &st, sizeof st) != MCF_OK ||
                mcf_server_info_get(x->c, i, &info) != MCF_OK)
                continue;
            h = newHV();
            codes = newHV();
            for (rc = 0; rc < MCF_STATS_CODES; rc++)
                if (st.by_code[rc]) {
                    char k[16];
                    int kl = snprintf(k, sizeof k, "%d", rc);
                    (void)hv_store(codes, k, kl, newSVuv((UV)st.by_code[rc]), 0);
                }
#define PUT(name, v) (void)hv_stores(h, name, newSVuv((UV)(v)))
            PUT("requests", st.requests);
            PUT("hits", st.hits);
            PUT("misses", st.misses);
            PUT("errors", st.errors);
            PUT("timeouts", st.timeouts);
            PUT("connects", st.connects);
            PUT("reconnects", st.reconnects);
            PUT("latency_count", st.latency_count);
            PUT("latency_max_us", st.latency_max_us);
            PUT("latency_p50_us", mcf_latency_quantile_us(&st, 0.5));
            PUT("latency_p99_us", mcf_latency_quantile_us(&st, 0.99));
            PUT("down", info.down);
            PUT("failures", info.failures);
            PUT("downs", info.downs);
#undef PUT
            (void)hv_stores(h, "latency_mean_us",
                            newSVnv(st.latency_count ? (NV)st.latency_sum_us /
                                                           (NV)st.latency_count
                                                     : 0.0));
            (void)hv_stores(h, "by_code", newRV_noinc((SV *)codes));
            (void)hv_store_ent(all, *a, newRV_noinc((SV *)h), 0);
        }
        ST(0) = sv_2mortal(newRV_noinc((SV *)all));
        XSRETURN(1);

void
stats_reset(memd)
        SV *memd
    PREINIT:
        mcfx *x;
    PPCODE:
        x = self_of(aTHX_ memd);
        clear_error(x);
        mcf_stats_reset(x->c);
        XSRETURN_EMPTY;

void
_set_on_event(memd, cb)
        SV *memd
        SV *cb
    PREINIT:
        mcfx *x;
    PPCODE:
        x = self_of(aTHX_ memd);
        SvREFCNT_dec(x->on_event);
        x->on_event = SvOK(cb) ? newSVsv(cb) : NULL;
        mcf_set_event_callback(x->c, x->on_event ? event_cb : NULL, x);
        XSRETURN_EMPTY;

void
nowait_push(memd)
        SV *memd
    PREINIT:
        mcfx *x;
        size_t i;
        mcf_server_info info;
        char buf[256];
        failures f;
    PPCODE:
        /* A reply to "version" means the server has processed everything
         * sent before it on that connection. */
        x = self_of(aTHX_ memd);
        clear_error(x);
        if (x->pending) {
            x->pending = 0;
            fail_begin(x, &f);
            for (i = 0; i < x->nsrv; i++) {
                if (mcf_server_info_get(x->c, i, &info) == MCF_OK && info.connected) {
                    int rc = note(aTHX_ x, mcf_version(x->c, i, buf, sizeof buf));
                    if (rc != MCF_OK)
                        server_failed(&f, i, rc);
                }
            }
            fail_end(aTHX_ x, &f, x->nsrv, "servers");
        }
        XSRETURN_EMPTY;

void
disconnect_all(memd)
        SV *memd
    PREINIT:
        mcfx *x;
    PPCODE:
        x = self_of(aTHX_ memd);
        clear_error(x);
        mcf_disconnect_all(x->c);
        x->pending = 0;
        XSRETURN_EMPTY;

void
enable_compress(memd, enable)
        SV *memd
        bool enable
    PREINIT:
        mcfx *x;
    PPCODE:
        x = self_of(aTHX_ memd);
        clear_error(x);
        if ((x->cthr > 0) != enable)
            x->cthr = -x->cthr;
        XSRETURN_EMPTY;

void
namespace(memd, ...)
        SV *memd
    PREINIT:
        mcfx *x;
        SV *old;
        STRLEN len;
        const char *p;
    PPCODE:
        /* Returns the namespace before the call; sets it to the argument. */
        x = self_of(aTHX_ memd);
        clear_error(x);
        old = sv_2mortal(newSVsv(x->ns));
        if (items > 1) {
            p = SvPV_const(ST(1), len);
            if (strlen(p) != len || mcf_set_namespace(x->c, p) != MCF_OK) {
                SV *msg = sv_2mortal(newSVpvf("Cache::Memcached::Mcfast: namespace '%s': a namespace "
                                              "is part of every key: no space or control character, "
                                              "under 250 bytes", p));
                arg_croak(aTHX_ x, SvPVX(msg));
            }
            sv_setpvn(x->ns, p, len);
        }
        ST(0) = old;
        XSRETURN(1);

void
_handle_new(class)
        const char *class
    PREINIT:
        mcfx *x;
    PPCODE:
        /* A new, unconfigured handle, as the IV that Mcfast.pm blesses. */
        PERL_UNUSED_VAR(class);
        Newxz(x, 1, mcfx);
        x->c = mcf_new();
        if (!x->c) {
            Safefree(x);
            croak("Not enough memory");
        }
        x->last_msg = newSVpvs("");
        x->ns = newSVpvs("");
        x->servers = newAV();
        x->max_size = 1024 * 1024;
        x->cthr = -1;
        x->cratio = 0.8;
        ST(0) = sv_2mortal(newSViv(PTR2IV(x)));
        XSRETURN(1);

void
_destroy(memd)
        SV *memd
    PREINIT:
        mcfx *x;
    CODE:
        x = self_of(aTHX_ memd);
        sv_setiv(SvRV(memd), 0);
        mcf_free(x->c); /* synchronises noreply traffic first */
        SvREFCNT_dec(x->last_msg);
        SvREFCNT_dec(x->ns);
        SvREFCNT_dec(x->on_event);
        SvREFCNT_dec(x->servers);
        SvREFCNT_dec(x->comp);
        SvREFCNT_dec(x->decomp);
        SvREFCNT_dec(x->ser);
        SvREFCNT_dec(x->deser);
        mcfx_gz_free(&x->gz);
        Safefree(x->noreply);
        Safefree(x->items);
        Safefree(x->pos);
        Safefree(x->ksv);
        Safefree(x->keys);
        Safefree(x->lens);
        Safefree(x->res);
        Safefree(x->num);
        Safefree(x->krc);
        Safefree(x->dval);
        Safefree(x->didx);
        Safefree(x->dflags);
        Safefree(x->dcas);
        Safefree(x);

int
_add_server(memd, spec, weight, noreply, address)
        SV *memd
        const char *spec
        double weight
        int noreply
        SV *address
    PREINIT:
        mcfx *x;
    CODE:
        x = self_of(aTHX_ memd);
        RETVAL = note(aTHX_ x, mcf_add_server_weight(x->c, spec, weight));
        if (RETVAL == MCF_OK) {
            av_push(x->servers, newSVsv(address));
            Renew(x->noreply, x->nsrv + 1, char);
            x->noreply[x->nsrv++] = noreply ? 1 : 0;
            x->any_noreply = x->any_noreply || noreply;
            x->all_noreply = (x->nsrv == 1 || x->all_noreply) && noreply;
        }
    OUTPUT:
        RETVAL

int
_set_option(memd, opt, value)
        SV *memd
        int opt
        IV value
    PREINIT:
        mcfx *x;
    CODE:
        x = self_of(aTHX_ memd);
        RETVAL = note(aTHX_ x, mcf_set_option(x->c, (mcf_option)opt, (int64_t)value));
    OUTPUT:
        RETVAL

int
_set_namespace(memd, ns)
        SV *memd
        SV *ns
    PREINIT:
        mcfx *x;
        STRLEN len;
        const char *p;
    CODE:
        x = self_of(aTHX_ memd);
        p = SvPV_const(ns, len);
        if (strlen(p) != len)
            RETVAL = MCF_ERR_BAD_KEY; /* a NUL byte: the C API takes a C string */
        else
            RETVAL = note(aTHX_ x, mcf_set_namespace(x->c, p));
        if (RETVAL == MCF_OK)
            sv_setpvn(x->ns, p, len);
    OUTPUT:
        RETVAL

void
_configure(memd, conf)
        SV *memd
        HV *conf
    PREINIT:
        mcfx *x;
        SV **v;
    CODE:
        /* The value-handling options, as Mcfast.pm resolved them:
         * nowait, max_size, compress_threshold, compress_ratio, comp and
         * decomp (absent: the default gzip here), ser, deser, utf8. */
        x = self_of(aTHX_ memd);
#define GET(name) ((v = hv_fetchs(conf, name, 0)) && SvOK(*v))
        if (GET("nowait")) x->nowait = SvTRUE(*v);
        if (GET("max_size")) x->max_size = SvUV(*v);
        if (GET("compress_threshold")) x->cthr = SvIV(*v);
        if (GET("compress_ratio")) x->cratio = SvNV(*v);
        if (GET("utf8")) x->utf8 = SvTRUE(*v);
#define CODE_SV(field, name) do { SvREFCNT_dec(x->field); x->field = GET(name) ? newSVsv(*v) : NULL; } while (0)
        CODE_SV(comp, "comp");
        CODE_SV(decomp, "decomp");
        CODE_SV(ser, "ser");
        CODE_SV(deser, "deser");
#undef CODE_SV
#undef GET
        if (!x->ser)
            croak("Serialize method is not specified");
        if (!x->deser)
            croak("Deserialize method is not specified");

int
tls_available(...)
    CODE:
        /* 1 when the linked libmcfast was built with TLS. */
        PERL_UNUSED_VAR(items);
        RETVAL = mcf_tls_available();
    OUTPUT:
        RETVAL

int
_set_tls_opts(memd, opts)
        SV *memd
        HV *opts
    PREINIT:
        mcfx *x;
        mcf_tls_options o;
        SV **v;
    CODE:
        /* The strings stay valid: mcf_set_tls copies them before returning. */
        x = self_of(aTHX_ memd);
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

void
_error(memd)
        SV *memd
    PREINIT:
        mcfx *x;
    PPCODE:
        /* (code, message) of the last method's first error, or (). */
        x = self_of(aTHX_ memd);
        if (x->last_rc) {
            EXTEND(SP, 2);
            mPUSHi(x->last_rc);
            PUSHs(sv_2mortal(newSVsv(x->last_msg)));
        }

void
_clear_error(memd)
        SV *memd
    CODE:
        clear_error(self_of(aTHX_ memd));

SV *
_num(sv, kind)
        SV *sv
        const char *kind
    CODE:
        /* A constructor option as Cache::Memcached::Fast's XS reads it,
         * with its warnings: 'i' SvIV, 'u' SvUV, 'n' SvNV, 's' SvPV. */
        switch (*kind) {
        case 'i': RETVAL = newSViv(SvIV(sv)); break;
        case 'u': RETVAL = newSVuv(SvUV(sv)); break;
        case 'n': RETVAL = newSVnv(SvNV(sv)); break;
        default: {
            STRLEN len;
            const char *p = SvPV_const(sv, len);
            RETVAL = newSVpvn_flags(p, len, SvUTF8(sv) ? SVf_UTF8 : 0);
        }
        }
    OUTPUT:
        RETVAL

SV *
_gzip(data)
        SV *data
    PREINIT:
        mcfx_gz gz;
        STRLEN len;
        const char *p;
        size_t bound, n;
    CODE:
        /* The default compression alone, for t/07-gzip.t (memGzip's bytes). */
        memset(&gz, 0, sizeof gz);
        p = SvPV_const(data, len);
        bound = mcfx_gzip_bound(&gz, len);
        RETVAL = newSV(bound);
        n = mcfx_gzip(&gz, p, len, (unsigned char *)SvPVX(RETVAL));
        mcfx_gz_free(&gz);
        if (n) {
            SvCUR_set(RETVAL, n);
            SvPOK_only(RETVAL);
        }
    OUTPUT:
        RETVAL

SV *
_gunzip(data)
        SV *data
    PREINIT:
        mcfx_gz gz;
        STRLEN len;
        const char *p;
        const unsigned char *out;
        size_t olen;
    CODE:
        /* The default inflation alone: undef where memGunzip returns undef. */
        memset(&gz, 0, sizeof gz);
        p = SvPV_const(data, len);
        RETVAL = mcfx_gunzip(&gz, p, len, &out, &olen) > 0 ? newSVpvn((const char *)out, olen)
                                                           : &PL_sv_undef;
        mcfx_gz_free(&gz);
    OUTPUT:
        RETVAL

SV *
_server_for_key(memd, key)
        SV *memd
        SV *key
    PREINIT:
        mcfx *x;
        STRLEN kl;
        const char *k;
        size_t server = 0;
    CODE:
        x = self_of(aTHX_ memd);
        k = pv_stable(aTHX_ key, &kl);
        RETVAL = mcf_server_for_key(x->c, k, kl, &server) == MCF_OK ? newSVuv((UV)server)
                                                                   : &PL_sv_undef;
    OUTPUT:
        RETVAL
