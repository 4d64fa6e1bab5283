/* codec.h - the memcached text protocol as pure functions: requests are
 * encoded into caller buffers, replies are parsed from caller buffers.  No
 * sockets, no allocation, so it can be fuzzed and unit-tested alone.
 * Protocol: memcached's protocol.txt (shared/reference/memcached-protocol.txt). */
#ifndef MCF_CODEC_H
#define MCF_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest reply line we accept before the data block.  Real lines are
 * short (a VALUE line is < 320 bytes); a server that sends megabytes without
 * CRLF is broken and must cost an error, not memory. */
#define MCF_MAX_REPLY_LINE 8192

/* Room for any request header the encoders write (command, 250-byte key,
 * numbers, "noreply", CRLF). */
#define MCF_MAX_REQUEST_HEADER 400

typedef enum mcf_reply_type {
    MCF_R_VALUE = 1,  /* VALUE key flags bytes [cas] + data block */
    MCF_R_END,        /* END */
    MCF_R_STORED,
    MCF_R_NOT_STORED,
    MCF_R_EXISTS,
    MCF_R_NOT_FOUND,
    MCF_R_DELETED,
    MCF_R_TOUCHED,
    MCF_R_OK,           /* flush_all, verbosity */
    MCF_R_NUMBER,       /* incr/decr result */
    MCF_R_VERSION,      /* VERSION text (text in data) */
    MCF_R_STAT,         /* STAT name value (name in key, value in data) */
    MCF_R_ERROR,        /* ERROR */
    MCF_R_CLIENT_ERROR, /* CLIENT_ERROR msg (msg in data) */
    MCF_R_SERVER_ERROR, /* SERVER_ERROR msg (msg in data) */
    MCF_R_DUMP          /* an lru_crawler metadump line "key=..." (all of it in data) */
} mcf_reply_type;

typedef struct mcf_reply {
    mcf_reply_type type;
    const char *key; /* VALUE key, STAT name */
    size_t key_len;
    const char *data; /* VALUE data block, VERSION text, STAT value, error message */
    size_t data_len;
    uint32_t flags;
    uint64_t cas;    /* VALUE with cas (gets/gats); 0 otherwise */
    uint64_t number; /* NUMBER */
    size_t need;     /* when more input is needed: total bytes of this reply if known, else 0 */
} mcf_reply;

/* Parses one reply from buf[0..len).
 *   > 0  a complete reply of that many bytes is in *r (pointers into buf)
 *   = 0  incomplete: read more (r->need says how much in total when known)
 *   < 0  malformed: one of the MCF_PARSE_* codes below
 * max_value bounds a VALUE's data block: larger is MCF_PARSE_TOO_LARGE. */
#define MCF_PARSE_BAD_LINE (-1)  /* unknown reply or malformed numbers */
#define MCF_PARSE_LINE_TOO_LONG (-2)
#define MCF_PARSE_TOO_LARGE (-3)
#define MCF_PARSE_BAD_DATA (-4)  /* data block not followed by CRLF */
ssize_t mcf_parse_reply(const char *buf, size_t len, size_t max_value, mcf_reply *r);

/* The length of the CRLF-terminated line at buf, CRLF included: > 0 found,
 * 0 not complete yet, MCF_PARSE_LINE_TOO_LONG past MCF_MAX_REPLY_LINE,
 * MCF_PARSE_BAD_LINE for a bare LF.  Shared by the text and meta parsers. */
ssize_t mcf_reply_line(const char *buf, size_t len);

/* A short description of a MCF_PARSE_* code. */
const char *mcf_parse_strerror(ssize_t code);

/* Checks a key (already with namespace) for the text protocol: 1..250 bytes,
 * no byte <= 0x20 and no 0x7f.  Returns 0 or MCF_ERR_BAD_KEY. */
int mcf_check_key(const char *ns, size_t ns_len, const char *key, size_t key_len);

/* Request encoders.  Each writes into out (at least MCF_MAX_REQUEST_HEADER
 * bytes) and returns the bytes written.  Keys are written as ns + key.
 * Storage requests are the header line only: the caller sends the value
 * and "\r\n" after it. */
size_t mcf_enc_storage(char *out, const char *cmd, size_t cmd_len, const char *ns,
                       size_t ns_len, const char *key, size_t key_len, uint32_t flags,
                       int64_t exptime, size_t bytes, uint64_t cas, int with_cas,
                       int noreply);
/* "incr key delta", "decr ...". */
size_t mcf_enc_arith(char *out, int incr, const char *ns, size_t ns_len, const char *key,
                     size_t key_len, uint64_t delta, int noreply);
size_t mcf_enc_delete(char *out, const char *ns, size_t ns_len, const char *key,
                      size_t key_len, int noreply);
size_t mcf_enc_touch(char *out, const char *ns, size_t ns_len, const char *key,
                     size_t key_len, int64_t exptime, int noreply);

/* Writes the decimal form of v; returns the length (at most 20). */
size_t mcf_u64_to_dec(char *out, uint64_t v);
size_t mcf_i64_to_dec(char *out, int64_t v);

#endif
