/* meta.h - memcached's meta protocol (mg, ms, md, ma, mn, me) as pure
 * functions, in the style of codec.h: requests are encoded into caller
 * buffers, replies are parsed from caller buffers; no sockets, no
 * allocation.  Protocol: memcached's protocol.txt, "Meta Commands" and the
 * sections after it (shared/reference/memcached-protocol.txt).
 *
 * Behaviour of memcached 1.6.18 (the version tests run against), found by
 * sending requests to it (see tests/test_meta.c, "live_*"):
 *   - every flag below exists except E (new CAS): "CLIENT_ERROR invalid
 *     flag", and so is md x (both came in 1.6.27).  Accepted but
 *     without effect in 1.6.18: mg C, ms s, ms N (append autovivify).
 *   - a miss without q answers "EN" followed by the k/O/b flags asked for
 *     ("EN kfoo O7"), so misses can be matched by opaque too.
 *   - q hides EN for mg and HD for ms/md/ma; mg still answers HD on a hit.
 *     ma q hides even the VA of "ma v" (but not after an N auto-create).
 *     Errors are never hidden and carry no O/k flags, so they can only be
 *     attributed by position in the pipeline.
 *   - O tokens of 32 or more bytes: "CLIENT_ERROR opaque token too long".
 *   - base64 keys must be padded; the key limit (250) applies to the
 *     ENCODED form: "ms <252 chars> .. b" answers CLIENT_ERROR *and then
 *     reads the value as a command* (ERROR) - a desync.  So binary keys are
 *     limited to 186 bytes (248 encoded) and checked before sending.
 *   - returned flags are not in request order ("X W", "Z X", "k.. b O1"),
 *     but requests are evaluated in order: "mg k t T200" answers the TTL
 *     from before the touch, "mg k T200 t" 200.
 *   - ms with I and a CAS older than the item's stores the value but
 *     leaves it stale (X, and Z once a W went out); a plain CAS set with
 *     the current CAS clears that. */
#ifndef MCF_META_H
#define MCF_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for any request header the meta encoders write: command, a 250-byte
 * key, every flag with its largest number, CRLF (the worst case, ma with
 * every flag and extreme numbers, is 412 bytes; test_meta checks it). */
#define MCF_META_MAX_REQUEST 512

/* The longest binary key: base64 of 186 bytes is 248 characters, of 187 it
 * is 252 - over memcached's 250-byte key limit. */
#define MCF_META_MAX_BINARY_KEY 186

/* Longest opaque: protocol.txt says "up to 32 bytes", which the parser
 * accepts; memcached 1.6.18 refuses requests with more than 31 (the token
 * with its 'O' must be under 33 bytes).  The encoders send a u32 (at most
 * 10 digits). */
#define MCF_META_MAX_OPAQUE 32

/* ---- keys ---- */

/* A key as it goes on the wire: ns + key, either verbatim or (b64) as
 * base64 with the 'b' flag.  Filled by mcf_meta_key_init(). */
typedef struct mcf_meta_key {
    const char *ns;
    size_t ns_len;
    const char *key;
    size_t key_len;
    int b64;         /* send base64 + 'b' */
    size_t wire_len; /* bytes the key takes on the wire */
} mcf_meta_key;

/* Decides how ns + key is sent.  A key that passes mcf_check_key() goes
 * verbatim; otherwise, when allow_binary, as base64 if ns + key is 1..186
 * bytes (any bytes: NUL, space, CR, 0xff...).  Returns MCF_OK, or
 * MCF_ERR_BAD_KEY when the key cannot be represented (empty, too long, or
 * forbidden bytes without allow_binary). */
int mcf_meta_key_init(mcf_meta_key *k, const char *ns, size_t ns_len, const char *key,
                      size_t key_len, int allow_binary);

/* base64 (RFC 4648 section 4: standard alphabet, padded, no line breaks).
 * out needs 4 * ceil(len / 3) + 1 bytes (a NUL is written after the text);
 * returns the text length. */
size_t mcf_meta_b64_encode(char *out, const void *in, size_t len);
/* Decodes padded base64 of len bytes into out (cap bytes).  Strict: length
 * a multiple of 4, only A-Z a-z 0-9 + /, '=' only as 1-2 final padding
 * bytes, and zero unused bits (so each binary string has exactly one
 * accepted text).  Returns the decoded length or -1. */
ssize_t mcf_meta_b64_decode(void *out, size_t cap, const char *in, size_t len);

/* ---- requests ---- */

/* Request flags (mcf_meta_args.flags).  Single-letter flags: */
#define MCF_MF_V 0x00001u /* v  return the value (mg, ma) */
#define MCF_MF_F 0x00002u /* f  return client flags (mg) */
#define MCF_MF_C 0x00004u /* c  return CAS (mg; ms, ma: the new CAS) */
#define MCF_MF_T 0x00008u /* t  return remaining TTL, -1 = never (mg, ma) */
#define MCF_MF_L 0x00010u /* l  seconds since last access (mg) */
#define MCF_MF_H 0x00020u /* h  hit before, 0/1 (mg) */
#define MCF_MF_K 0x00040u /* k  echo the key (mg, ms, md, ma) */
#define MCF_MF_S 0x00080u /* s  item size (mg) */
#define MCF_MF_U 0x00100u /* u  no LRU bump, no access update (mg) */
#define MCF_MF_Q 0x00200u /* q  quiet: hide EN (mg) / HD (ms, md, ma) */
#define MCF_MF_I 0x00400u /* I  invalidate: ms with C older than the item's
                           *    stores it stale; md marks stale, bumps CAS */
#define MCF_MF_X 0x00800u /* x  md: empty the value, keep the item (>= 1.6.27) */
/* Flags with a token, taken from the mcf_meta_args field named: */
#define MCF_MF_OPAQUE 0x01000u  /* O opaque (all) */
#define MCF_MF_TTL 0x02000u     /* T ttl: mg/ma update TTL, ms TTL, md with I */
#define MCF_MF_VIVIFY 0x04000u  /* N vivify_ttl: mg create stub on miss
                                 *   (W/Z flags), ma auto-create */
#define MCF_MF_RECACHE 0x08000u /* R recache: mg win (W) when TTL below */
#define MCF_MF_CAS 0x10000u     /* C cas: compare (ms, md, ma) */
#define MCF_MF_NEWCAS 0x20000u  /* E new_cas (mg, ms, md, ma): NOT in 1.6.18 */
#define MCF_MF_CFLAGS 0x40000u  /* F client_flags (ms; absent = 0) */
#define MCF_MF_DELTA 0x80000u   /* D delta (ma; absent = 1) */
#define MCF_MF_INITIAL 0x100000u /* J initial (ma, with N; absent = 0) */
#define MCF_MF_MODE 0x200000u   /* M mode (ms, ma) */

/* The flags each command accepts; anything else makes its encoder fail. */
#define MCF_MG_FLAGS                                                                    \
    (MCF_MF_V | MCF_MF_F | MCF_MF_C | MCF_MF_T | MCF_MF_L | MCF_MF_H | MCF_MF_K |        \
     MCF_MF_S | MCF_MF_U | MCF_MF_Q | MCF_MF_OPAQUE | MCF_MF_TTL | MCF_MF_VIVIFY |       \
     MCF_MF_RECACHE | MCF_MF_NEWCAS)
#define MCF_MS_FLAGS                                                                    \
    (MCF_MF_C | MCF_MF_K | MCF_MF_Q | MCF_MF_I | MCF_MF_OPAQUE | MCF_MF_TTL |           \
     MCF_MF_CAS | MCF_MF_NEWCAS | MCF_MF_CFLAGS | MCF_MF_MODE)
#define MCF_MD_FLAGS                                                                    \
    (MCF_MF_K | MCF_MF_Q | MCF_MF_I | MCF_MF_X | MCF_MF_OPAQUE | MCF_MF_TTL | MCF_MF_CAS |          \
     MCF_MF_NEWCAS)
#define MCF_MA_FLAGS                                                                    \
    (MCF_MF_V | MCF_MF_C | MCF_MF_T | MCF_MF_K | MCF_MF_Q | MCF_MF_OPAQUE | MCF_MF_TTL | \
     MCF_MF_VIVIFY | MCF_MF_CAS | MCF_MF_NEWCAS | MCF_MF_DELTA | MCF_MF_INITIAL |        \
     MCF_MF_MODE)

/* M tokens. */
typedef enum mcf_meta_mode {
    MCF_MM_SET = 'S',     /* ms (the default) */
    MCF_MM_ADD = 'E',     /* ms: NS if the item exists */
    MCF_MM_APPEND = 'A',  /* ms: NS on a miss */
    MCF_MM_PREPEND = 'P', /* ms: NS on a miss */
    MCF_MM_REPLACE = 'R', /* ms: NS on a miss */
    MCF_MM_INCR = 'I',    /* ma (the default) */
    MCF_MM_DECR = 'D'     /* ma: stops at 0 */
} mcf_meta_mode;

typedef struct mcf_meta_args {
    unsigned flags;        /* MCF_MF_* */
    uint32_t opaque;       /* O, written in decimal */
    int64_t ttl;           /* T (exptime rules as in protocol.txt "Expiration times") */
    int64_t vivify_ttl;    /* N */
    int64_t recache;       /* R */
    uint64_t cas;          /* C */
    uint64_t new_cas;      /* E */
    uint32_t client_flags; /* F: 1.6.18 silently wraps values over 32 bits */
    uint64_t delta;        /* D */
    uint64_t initial;      /* J */
    mcf_meta_mode mode;    /* M: S E A P R for ms, I D for ma */
} mcf_meta_args;

/* Encoders: write into out (at least MCF_META_MAX_REQUEST bytes) and return
 * the length, or 0 when args has a flag the command does not take or a mode
 * it does not know (nothing is then worth sending).  The key must come from
 * mcf_meta_key_init().  Flags go out in a fixed order: b, the tokens in the
 * order of the MCF_MF_* bits, then the letters in bit order, e.g.
 *   mg <key> O<opaque> v f c k q\r\n
 * Tokens first because 1.6.18 evaluates flags in order: "t T30" would
 * return the TTL from before the update, "T30 t" returns 30.
 * args may be NULL for "no flags". */
size_t mcf_meta_enc_mg(char *out, const mcf_meta_key *key, const mcf_meta_args *args);
/* The header line only: the caller sends datalen bytes and "\r\n" after it. */
size_t mcf_meta_enc_ms(char *out, const mcf_meta_key *key, size_t datalen,
                       const mcf_meta_args *args);
size_t mcf_meta_enc_md(char *out, const mcf_meta_key *key, const mcf_meta_args *args);
size_t mcf_meta_enc_ma(char *out, const mcf_meta_key *key, const mcf_meta_args *args);
/* "mn\r\n": answered "MN\r\n" after every earlier request on the connection. */
size_t mcf_meta_enc_mn(char *out);
/* "me <key> [b]\r\n" (debug). */
size_t mcf_meta_enc_me(char *out, const mcf_meta_key *key);

/* ---- server versions ----
 * What each memcached release added, from its release notes
 * (github.com/memcached/memcached/wiki/ReleaseNotesNNN): 1.6.10 the HD/NS/
 * EX/NF codes (before: OK), "ms <key> <datalen>" and base64 keys (b);
 * 1.6.27 E (new CAS) and md x.  A client that speaks meta to an older
 * server misreads its replies, and an unknown flag costs a CLIENT_ERROR,
 * so these are checked before sending. */
#define MCF_META_VERSION(major, minor, patch)                                          \
    ((uint32_t)(major) * 1000000u + (uint32_t)(minor) * 1000u + (uint32_t)(patch))
#define MCF_META_SINCE_HD MCF_META_VERSION(1, 6, 10)
#define MCF_META_SINCE_NEWCAS MCF_META_VERSION(1, 6, 27)
#define MCF_META_SINCE_X MCF_META_VERSION(1, 6, 27)

/* Parses the version in a "VERSION 1.6.18[suffix]" line (or a bare
 * "1.6.18"): 1 and *v = MCF_META_VERSION(...), or 0 when it is not three
 * dot-separated numbers of at most 3 digits (other servers, odd builds). */
int mcf_meta_parse_version(const char *s, size_t len, uint32_t *v);

/* The first of the request flags (MCF_MF_*) a server of this version does
 * not have: that flag, with *since the version that added it; 0 when the
 * server has them all. */
unsigned mcf_meta_unsupported(unsigned flags, uint32_t version, uint32_t *since);

/* ---- replies ---- */

typedef enum mcf_meta_type {
    MCF_M_HD = 1,      /* success without a value */
    MCF_M_VA,          /* VA <size> + data block (mg v; ma v: the number) */
    MCF_M_EN,          /* mg miss */
    MCF_M_NF,          /* not found (md, ma, ms with C) */
    MCF_M_NS,          /* not stored */
    MCF_M_EX,          /* CAS mismatch */
    MCF_M_MN,          /* answer to mn */
    MCF_M_ME,          /* me: key in key, "k=v ..." in data */
    MCF_M_ERROR,       /* ERROR [msg] (msg in data) */
    MCF_M_CLIENT_ERROR, /* msg in data */
    MCF_M_SERVER_ERROR  /* msg in data */
} mcf_meta_type;

/* Which returned flags a reply carried (mcf_meta_reply.has). */
#define MCF_MR_OPAQUE 0x0001u  /* O: opaque/opaque_len */
#define MCF_MR_OPAQUE_U32 0x0002u /* O was 1-10 digits <= UINT32_MAX: opaque_u32 */
#define MCF_MR_KEY 0x0004u     /* k: key/key_len, decoded in bkey when b */
#define MCF_MR_B64 0x0008u     /* b: the returned key is base64 */
#define MCF_MR_CAS 0x0010u     /* c */
#define MCF_MR_FLAGS 0x0020u   /* f */
#define MCF_MR_TTL 0x0040u     /* t */
#define MCF_MR_LA 0x0080u      /* l */
#define MCF_MR_HIT 0x0100u     /* h */
#define MCF_MR_SIZE 0x0200u    /* s */
#define MCF_MR_WIN 0x0400u     /* W: this client won the right to recache */
#define MCF_MR_STALE 0x0800u   /* X: the item is stale */
#define MCF_MR_WON 0x1000u     /* Z: another client already got W */
#define MCF_MR_NUMBER 0x2000u  /* VA whose data is a decimal u64: number (ma v) */

typedef struct mcf_meta_reply {
    mcf_meta_type type;
    unsigned has;       /* MCF_MR_* */
    const char *data;   /* VA data block; ME "k=v ..." text; error message */
    size_t data_len;
    const char *opaque; /* O token, without the 'O' (may be empty) */
    size_t opaque_len;
    const char *key; /* k token as sent (base64 if MCF_MR_B64), ME key */
    size_t key_len;
    uint32_t opaque_u32;
    uint32_t client_flags; /* f */
    uint64_t cas;          /* c */
    int64_t ttl;           /* t: -1 = no expiry */
    uint64_t last_access;  /* l: seconds */
    uint64_t size;         /* s */
    uint64_t number;       /* VA data as a number */
    int hit_before;        /* h: 0/1 */
    size_t need; /* when more input is needed: total bytes of this reply if known, else 0 */
    size_t bkey_len; /* decoded key length when MCF_MR_KEY | MCF_MR_B64 */
    /* Last: not cleared for replies without a base64 key. */
    unsigned char bkey[MCF_META_MAX_BINARY_KEY + 2];
} mcf_meta_reply;

/* Parses one meta reply from buf[0..len); same convention as
 * mcf_parse_reply():
 *   > 0  a complete reply of that many bytes is in *r (pointers into buf)
 *   = 0  incomplete: read more (r->need says how much in total when known)
 *   < 0  malformed: a MCF_PARSE_* code (codec.h; mcf_parse_strerror())
 * Lines are bounded by MCF_MAX_REPLY_LINE, a VA data block by max_value
 * (MCF_PARSE_TOO_LARGE).  Strict: numbers must fit their field, known flags
 * must be well formed and not repeated, k must be a valid key (and valid
 * base64 with b); unknown flag letters are skipped (newer servers add
 * flags). */
ssize_t mcf_meta_parse_reply(const char *buf, size_t len, size_t max_value, mcf_meta_reply *r);

/* The key a reply returned, decoded when it came base64: sets *key and *len and
 * returns 1, or returns 0 when the reply has no k flag. */
int mcf_meta_reply_key(const mcf_meta_reply *r, const char **key, size_t *len);

/* Nonzero when the key a reply returned is ns + key (what was asked):
 * the check an engine does after matching a reply by opaque.  A reply
 * without k does not match. */
int mcf_meta_reply_key_is(const mcf_meta_reply *r, const mcf_meta_key *k);

#endif
