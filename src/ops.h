/* ops.h - the request and the replies of a call on one server, per
 * protocol: ops_text.c (memcached's text protocol) and ops_meta.c (the
 * meta protocol).  Both write into the server's request buffer (conn.c)
 * and hand results out through call.h; neither knows of sockets or of the
 * loop that drives them.  Not installed. */
#ifndef MCF_OPS_H
#define MCF_OPS_H

#include <sys/types.h>

#include "call.h"
#include "meta.h"

/* ---- ops_text.c ---- */

/* Appends the text request for slice sl's items (or the server command) to
 * its server's write buffer: MCF_OK or MCF_ERR_NOMEM. */
int mcf_ops_text_build(mcf_client *c, mcf_slice *sl);
/* Appends one get/gets line for n consecutive single-key get slices from
 * first (a batch, call.h): MCF_OK or MCF_ERR_NOMEM. */
int mcf_ops_text_build_batch(mcf_client *c, mcf_slice *first, size_t n);
/* Parses the next text reply in s's read buffer (codec.c) and hands it to
 * the slice at the head of s's queue: matches it to the item it answers, or fails the server when it answers
 * nothing that was asked.  > 0 bytes consumed, 0 incomplete (s->need set),
 * < 0 a MCF_PARSE_* error. */
ssize_t mcf_ops_text_parse_one(mcf_client *c, mcf_server *s);

/* ---- ops_meta.c ---- */

/* Appends one quiet meta pipeline for s's items, ended by "mn". */
int mcf_ops_meta_build(mcf_client *c, mcf_slice *sl);
/* The same for a batch: one quiet mg per slice (opaque: its batch_pos),
 * one mn after the last. */
int mcf_ops_meta_build_batch(mcf_client *c, mcf_slice *first, size_t n);
/* The same for the next meta reply (meta.c): matched by opaque, checked by
 * key. */
ssize_t mcf_ops_meta_parse_one(mcf_client *c, mcf_server *s);
/* Adds the request flags and tokens of an _ex call's options (call->meta;
 * none when NULL) to a. */
void mcf_ops_meta_opts(const mcf_call *call, mcf_meta_args *a);

#endif
