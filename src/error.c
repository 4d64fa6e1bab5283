/* error.c - names of result codes and the client's error message buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *mcf_strerror(int rc)
{
    switch (rc) {
    case MCF_OK: return "success";
    case MCF_MISS: return "miss (key not found)";
    case MCF_NOT_STORED: return "not stored";
    case MCF_EXISTS: return "exists (item changed since it was fetched)";
    case MCF_NOT_FOUND: return "not found";
    case MCF_ERR_ARG: return "invalid argument";
    case MCF_ERR_BAD_KEY: return "bad key (empty, over 250 bytes, or has a space or control character)";
    case MCF_ERR_TOO_LARGE: return "value too large";
    case MCF_ERR_BAD_SPEC: return "malformed server specification";
    case MCF_ERR_NO_SERVERS: return "no servers configured";
    case MCF_ERR_RESOLVE: return "host name did not resolve";
    case MCF_ERR_CONNECT: return "connection refused or unreachable";
    case MCF_ERR_TIMEOUT: return "timed out";
    case MCF_ERR_IO: return "connection lost";
    case MCF_ERR_PROTOCOL: return "protocol error (unexpected reply from server)";
    case MCF_ERR_SERVER: return "server error";
    case MCF_ERR_CLIENT: return "client error reported by server";
    case MCF_ERR_SERVER_DOWN: return "server marked down after repeated failures";
    case MCF_ERR_NOMEM: return "out of memory";
    case MCF_ERR_COMPRESS: return "compression error";
    case MCF_ERR_NOT_SUPPORTED: return "not supported";
    case MCF_ERR_RESOURCE: return "out of system resources (file descriptors)";
    case MCF_ERR_CANCELLED: return "request cancelled (the client was freed or disconnected)";
    case MCF_ERR_TLS: return "TLS failed (handshake, certificate or configuration)";
    default: return "unknown error code";
    }
}

static void set_message(mcf_client *c, int rc, const char *fmt, va_list ap)
{
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    c->err_rc = rc;
}

int mcf_set_error(mcf_client *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(c, rc, fmt, ap);
    va_end(ap);
    return rc;
}

int mcf_note_error(mcf_client *c, int rc, const char *fmt, ...)
{
    /* A blocking call reports its first error; async dispatch the latest,
     * which is about the request whose callback runs next. */
    if (c->err_rc && !c->err_overwrite)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    set_message(c, rc, fmt, ap);
    va_end(ap);
    return rc;
}

const char *mcf_last_error(const mcf_client *c)
{
    return c ? c->err : "no client";
}

void mcf_error_aside(mcf_client *c, mcf_saved_error *e)
{
    e->rc = c->err_rc;
    e->overwrite = c->err_overwrite;
    memcpy(e->msg, c->err, sizeof e->msg);
    c->err_rc = 0;
    c->err[0] = 0;
    c->err_overwrite = 1;
}

void mcf_error_restore(mcf_client *c, const mcf_saved_error *e)
{
    c->err_rc = e->rc;
    c->err_overwrite = e->overwrite;
    memcpy(c->err, e->msg, sizeof c->err);
}
