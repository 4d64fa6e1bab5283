/* tls_none.c - the TLS entries of a library built without OpenSSL
 * (make TLS=0, or no libssl-dev): each refuses, saying why. */
#include <errno.h>
#include <stdio.h>

#include "tls.h"

#define NO_TLS "this libmcfast was built without TLS (rebuild with libssl-dev installed)"

int mcf_tls_built_in(void)
{
    return 0;
}

int mcf_tls_new(const mcf_tls_options *o, mcf_tls **out, char *err, size_t errlen)
{
    (void)o;
    *out = NULL;
    snprintf(err, errlen, "%s", NO_TLS);
    return MCF_ERR_TLS;
}

void mcf_tls_free(mcf_tls *t)
{
    (void)t;
}

int mcf_tls_all_servers(const mcf_tls *t)
{
    (void)t;
    return 0;
}

int mcf_tls_connection(mcf_tls *t, int fd, const char *host, void *session,
                       const mcf_transport **tr, void **ctx, char *err, size_t errlen)
{
    (void)t;
    (void)fd;
    (void)host;
    (void)session;
    (void)tr;
    (void)ctx;
    snprintf(err, errlen, "%s", NO_TLS);
    return MCF_ERR_TLS;
}

void *mcf_tls_session_take(void *ctx)
{
    (void)ctx;
    return NULL;
}

void mcf_tls_session_free(void *session)
{
    (void)session;
}

int mcf_tls_alerted(const void *ctx)
{
    (void)ctx;
    return 0;
}

void mcf_tls_describe(const void *ctx, const char **version, const char **cipher, int *resumed)
{
    (void)ctx;
    *version = *cipher = "";
    *resumed = 0;
}
