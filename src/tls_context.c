/* tls_context.c - a client's TLS context: one OpenSSL SSL_CTX built from
 * mcf_tls_options (trust, client certificate, versions, ciphers) and
 * shared by every TLS connection of the client.  Files are read here, so
 * a bad configuration is refused before anything is sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

struct mcf_tls {
    SSL_CTX *ctx;
    BIO_METHOD *bio_method;
    char *server_name;
    int insecure, all_servers;
};

int mcf_tls_built_in(void)
{
    return 1;
}

/* err = "<what>: <OpenSSL's reason>"; OpenSSL's error queue emptied. */
static int refuse(char *err, size_t errlen, int rc, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason)
        snprintf(err, errlen, "%s: %s", what, reason);
    else
        snprintf(err, errlen, "%s", what);
    ERR_clear_error();
    return rc;
}

/* A file or directory we cannot read, said with errno's words (OpenSSL
 * would only say "system lib"). */
static int unreadable(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path || access(path, R_OK) == 0)
        return 0;
    snprintf(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
    return 1;
}

static int load_trust(SSL_CTX *ctx, const mcf_tls_options *o, char *err, size_t errlen)
{
    char what[600];
    if (!o->ca_file && !o->ca_path) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1)
            return refuse(err, errlen, MCF_ERR_TLS, "cannot load the system's trust store");
        return MCF_OK;
    }
    if (unreadable("CA file", o->ca_file, err, errlen) ||
        unreadable("CA directory", o->ca_path, err, errlen))
        return MCF_ERR_TLS;
    if (SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_path) != 1) {
        snprintf(what, sizeof what, "cannot load CA %s '%s'", o->ca_file ? "file" : "directory",
                 o->ca_file ? o->ca_file : o->ca_path);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    return MCF_OK;
}

static int load_identity(SSL_CTX *ctx, const mcf_tls_options *o, char *err, size_t errlen)
{
    char what[600];
    if (!o->cert_file) {
        if (o->key_file) {
            snprintf(err, errlen, "a key file ('%s') without a certificate file", o->key_file);
            return MCF_ERR_TLS;
        }
        return MCF_OK;
    }
    const char *key = o->key_file ? o->key_file : o->cert_file;
    if (unreadable("certificate file", o->cert_file, err, errlen) ||
        unreadable("private key file", key, err, errlen))
        return MCF_ERR_TLS;
    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        snprintf(what, sizeof what, "cannot load certificate file '%s'", o->cert_file);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof what, "cannot load private key file '%s'", key);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof what, "private key '%s' does not match certificate '%s'", key,
                 o->cert_file);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    return MCF_OK;
}

static int configure(mcf_tls *t, const mcf_tls_options *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = t->ctx;
    int min;
    switch (o->min_version) {
    case MCF_TLS_DEFAULT:
    case MCF_TLS_1_2:
        min = TLS1_2_VERSION;
        break;
    case MCF_TLS_1_3:
        min = TLS1_3_VERSION;
        break;
    default:
        snprintf(err, errlen, "min_version %d: use MCF_TLS_1_2 or MCF_TLS_1_3", o->min_version);
        return MCF_ERR_ARG;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1)
        return refuse(err, errlen, MCF_ERR_TLS, "cannot set the minimum TLS version");
    if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
        char what[300];
        snprintf(what, sizeof what, "cipher list '%.200s' refused", o->ciphers);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    if (o->ciphersuites && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1) {
        char what[300];
        snprintf(what, sizeof what, "TLS 1.3 cipher suites '%.200s' refused", o->ciphersuites);
        return refuse(err, errlen, MCF_ERR_TLS, what);
    }
    int rc = o->insecure ? MCF_OK : load_trust(ctx, o, err, errlen);
    if (rc == MCF_OK)
        rc = load_identity(ctx, o, err, errlen);
    if (rc != MCF_OK)
        return rc;
    SSL_CTX_set_verify(ctx, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    /* Partial writes: SSL_write returns after each record, so a large
     * value is sent from the caller's memory record by record; the buffer
     * may move between retries (the write buffer can grow). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* A renegotiation request from the server is refused: memcached never
     * sends one, and it would make any read want to write. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* Sessions are kept per server by the connection layer, not in
     * OpenSSL's cache (which would be keyed by nothing useful here). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (o->server_name && !(t->server_name = strdup(o->server_name))) {
        snprintf(err, errlen, "out of memory");
        return MCF_ERR_NOMEM;
    }
    t->insecure = o->insecure != 0;
    t->all_servers = o->all_servers != 0;
    return MCF_OK;
}

int mcf_tls_new(const mcf_tls_options *o, mcf_tls **out, char *err, size_t errlen)
{
    static const mcf_tls_options defaults;
    *out = NULL;
    mcf_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return MCF_ERR_NOMEM;
    }
    ERR_clear_error();
    if (!(t->ctx = SSL_CTX_new(TLS_client_method()))) {
        free(t);
        return refuse(err, errlen, MCF_ERR_NOMEM, "cannot make an OpenSSL context");
    }
    int rc = configure(t, o ? o : &defaults, err, errlen);
    if (rc != MCF_OK) {
        mcf_tls_free(t);
        return rc;
    }
    *out = t;
    return MCF_OK;
}

void mcf_tls_free(mcf_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->bio_method);
    free(t->server_name);
    free(t);
}

int mcf_tls_all_servers(const mcf_tls *t)
{
    return t->all_servers;
}

SSL_CTX *mcf_tls_ssl_ctx(const mcf_tls *t)
{
    return t->ctx;
}

BIO_METHOD **mcf_tls_bio_method_slot(mcf_tls *t)
{
    return &t->bio_method;
}

const char *mcf_tls_server_name(const mcf_tls *t)
{
    return t->server_name;
}

int mcf_tls_insecure(const mcf_tls *t)
{
    return t->insecure;
}
