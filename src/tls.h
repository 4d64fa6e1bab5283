/* tls.h - TLS under the connection layer: a client's TLS context, built
 * once from mcf_tls_options and shared by its connections (tls_context.c),
 * and the TLS connections made from it, the transport they run over
 * (transport_tls.c).  A
 * build without OpenSSL has tls_none.c instead: every entry refuses with
 * MCF_ERR_TLS ("built without TLS"). */
#ifndef MCF_TLS_H
#define MCF_TLS_H

#include <stddef.h>

#include "mcfast.h"
#include "transport.h"

typedef struct mcf_tls mcf_tls;

/* The largest plaintext of one TLS record (RFC 8446 §5.1, RFC 5246
 * §6.2.1): conn.c cuts TLS writes to it, transport_tls.c gathers small
 * pieces up to it. */
#define MCF_TLS_RECORD_MAX 16384

/* 1 when the library was built with OpenSSL. */
int mcf_tls_built_in(void);

/* Builds a context from o (NULL: defaults): reads the CA, the client
 * certificate and key, applies versions and ciphers.  MCF_OK, or
 * MCF_ERR_TLS / MCF_ERR_NOMEM with err naming the file and the reason. */
int mcf_tls_new(const mcf_tls_options *o, mcf_tls **out, char *err, size_t errlen);
void mcf_tls_free(mcf_tls *t);
/* o->all_servers of the options it was built from. */
int mcf_tls_all_servers(const mcf_tls *t);

/* A TLS connection over the connected socket fd, to be verified against
 * `host` (a name, or an IP literal, zone allowed) unless the context has
 * its own server name.  *session, when not NULL, is offered for
 * resumption.  On MCF_OK *tr and *ctx are the connection's transport (its
 * handshake still to run); fd stays the caller's on failure. */
int mcf_tls_connection(mcf_tls *t, int fd, const char *host, void *session,
                       const mcf_transport **tr, void **ctx, char *err, size_t errlen);

/* The TLS transport's handshake, recv and sendv return -EPROTO for a TLS
 * failure; its error() then says why. */

/* The connection's session, to resume on the next connection to the
 * server: a new reference (free with mcf_tls_session_free), or NULL when it
 * cannot be resumed.  Taken before the connection is closed. */
void *mcf_tls_session_take(void *ctx);
void mcf_tls_session_free(void *session);

/* 1 when the connection's last TLS failure was an alert the server sent
 * (not a plaintext answer, garbage or our own verification). */
int mcf_tls_alerted(const void *ctx);

/* What the open connection negotiated: static strings. */
void mcf_tls_describe(const void *ctx, const char **version, const char **cipher,
                      int *resumed);

/* For transport_tls.c, from the context (OpenSSL builds only). */
struct ssl_ctx_st;
struct bio_method_st;
struct ssl_ctx_st *mcf_tls_ssl_ctx(const mcf_tls *t);
/* The context's socket BIO method: made by transport_tls.c on first use,
 * freed with the context (OpenSSL 3 has no static BIO methods). */
struct bio_method_st **mcf_tls_bio_method_slot(mcf_tls *t);
const char *mcf_tls_server_name(const mcf_tls *t); /* NULL: each server's host */
int mcf_tls_insecure(const mcf_tls *t);

#endif
