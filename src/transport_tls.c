/* transport_tls.c - the TLS transport: one OpenSSL connection over a
 * connected socket, through a socket BIO of our own (send with
 * MSG_NOSIGNAL, never SIGPIPE; MSG_DONTWAIT, never blocking), and the
 * words for what failed: the certificate check, a plaintext server, an
 * alert from the server. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* Small pieces of a request are gathered up to one record, so they go out as
 * one record in one send instead of one record each. */
#define STAGE_MAX MCF_TLS_RECORD_MAX
/* Bytes of the server's first answer kept, to say what it was when the
 * handshake fails (a plaintext server's "ERROR"). */
#define FIRST_MAX 16
#define WHY_MAX 320

/* SSL_get_error reads the thread's error queue, so it must be empty before
 * each call; emptying an empty one costs hundreds of instructions. */
static void errors_clear(void)
{
    if (ERR_peek_error())
        ERR_clear_error();
}

typedef struct tls_conn {
    SSL *ssl;
    int fd;
    int sock_errno;             /* the socket's errno when the BIO last failed */
    const char *name;           /* what the certificate is verified against */
    unsigned char first[FIRST_MAX];
    size_t nfirst;
    char why[WHY_MAX];          /* the last -EPROTO, in words */
    int alerted;                /* ... and it was an alert from the server */
    char name_buf[256];
    size_t staged;              /* stage[0 .. staged) is being written */
    unsigned char stage[STAGE_MAX];
} tls_conn;

/* ---- the socket BIO ---- */

static int bio_write(BIO *b, const char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t w = send(t->fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return (int)w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            t->sock_errno = errno;
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = recv(t->fd, buf, (size_t)len, MSG_DONTWAIT);
        if (r > 0 && t->nfirst < FIRST_MAX) {
            size_t k = (size_t)r < FIRST_MAX - t->nfirst ? (size_t)r : FIRST_MAX - t->nfirst;
            memcpy(t->first + t->nfirst, buf, k);
            t->nfirst += k;
        }
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            t->sock_errno = errno;
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* Nothing is buffered here: a flush has nothing to do. */
    return cmd == BIO_CTRL_FLUSH;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method(mcf_tls *ctx)
{
    BIO_METHOD **slot = mcf_tls_bio_method_slot(ctx);
    if (*slot)
        return *slot;
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mcfast socket");
    if (!m || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return *slot = m;
}

/* ---- what went wrong ---- */

/* A plaintext server answers a ClientHello with text ("ERROR\r\n"); a TLS
 * record starts with a content type of 20..23 (RFC 8446 §5.1). */
static int looks_plaintext(const tls_conn *t)
{
    if (t->nfirst == 0 || (t->first[0] >= 20 && t->first[0] <= 23))
        return 0;
    for (size_t i = 0; i < t->nfirst; i++)
        if ((t->first[i] < 0x20 || t->first[i] > 0x7e) && t->first[i] != '\r' &&
            t->first[i] != '\n')
            return 0;
    return 1;
}

/* Sets why for a failed SSL call and returns the transport's code. */
static int failed(tls_conn *t, int ssl_err, const char *during)
{
    /* The handshake's caller names the handshake; later steps are named here. */
    char pre[32] = "";
    if (strcmp(during, "handshake") != 0)
        snprintf(pre, sizeof pre, "TLS %s: ", during);
    unsigned long e = ERR_peek_last_error();
    long verify = SSL_get_verify_result(t->ssl);
    /* OpenSSL reports an alert received as reason SSL_AD_REASON_OFFSET + its code. */
    t->alerted = e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET &&
                 !looks_plaintext(t);
    if (looks_plaintext(t)) {
        size_t n = t->nfirst;
        while (n && (t->first[n - 1] == '\r' || t->first[n - 1] == '\n'))
            n--;
        snprintf(t->why, sizeof t->why,
                 "%sthe server answered in plaintext (\"%.*s\"): not a TLS port?", pre,
                 (int)n, (const char *)t->first);
    } else if (e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        int name = verify == X509_V_ERR_HOSTNAME_MISMATCH ||
                   verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
        snprintf(t->why, sizeof t->why, "%scertificate verify failed: %s%s%s%s", pre,
                 X509_verify_cert_error_string(verify), name ? " (the certificate is not for '" : "",
                 name ? t->name : "", name ? "')" : "");
    } else if (ssl_err == SSL_ERROR_SYSCALL && t->sock_errno) {
        ERR_clear_error();
        return -t->sock_errno; /* a bare EOF was taken by each caller */
    } else {
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        int wants_cert = e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
                         (ERR_GET_REASON(e) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
                          ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
        snprintf(t->why, sizeof t->why, "%s%s%s", pre, reason ? reason : "failed",
                 wants_cert ? " (does the server require a client certificate? see cert_file)"
                            : "");
    }
    ERR_clear_error();
    return -EPROTO;
}

/* An EOF without close_notify: memcached killed or restarted.  Reported
 * as the connection closing, as over plain TCP. */
static int unexpected_eof(void)
{
    unsigned long e = ERR_peek_last_error();
    return e && ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* ---- the transport ---- */

static int tls_handshake(void *ctx, int fd, short *events)
{
    tls_conn *t = ctx;
    (void)fd;
    errors_clear();
    int r = SSL_connect(t->ssl);
    if (r == 1) {
        *events = 0;
        return 0;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return -EAGAIN;
    }
    /* A close with nothing said (memcached killed or restarting, a full
     * listen queue) is the connection failing, as over plain TCP, not a
     * TLS failure: nothing was refused.  A plaintext answer is -EPROTO. */
    if (((e == SSL_ERROR_SYSCALL && !t->sock_errno) || (e == SSL_ERROR_SSL && unexpected_eof())) &&
        !looks_plaintext(t)) {
        snprintf(t->why, sizeof t->why, "the server closed the connection");
        ERR_clear_error();
        return -ECONNRESET;
    }
    return failed(t, e, "handshake");
}

/* A write refused by the socket (reset, closed) may follow the server's
 * alert: in TLS 1.3 a server that rejects our certificate says so after
 * our handshake has ended, and closes; our next write meets the reset
 * while the alert still waits in the socket.  Its reason is what to
 * report: -EPROTO when one was read, else 0 (sock_errno kept). */
static int alert_waiting(tls_conn *t)
{
    unsigned char scratch[256]; /* anything else read here is dropped: the
                                   connection is failing */
    size_t got;
    int sock_errno = t->sock_errno;
    ERR_clear_error();
    if (SSL_read_ex(t->ssl, scratch, sizeof scratch, &got) != 1) {
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_SSL)
            return failed(t, e, "receive");
    }
    ERR_clear_error();
    t->sock_errno = sock_errno;
    return 0;
}

/* Small pieces are copied into the stage, up to one record; a piece of a
 * record or more is written from where it is.  A write that would block
 * must be retried with the same bytes (OpenSSL holds the encrypted record):
 * the caller offers the same bytes again, since nothing was consumed, and a
 * staged write is retried from the stage. */
static ssize_t tls_sendv(void *ctx, int fd, const struct iovec *iov, int iovcnt)
{
    tls_conn *t = ctx;
    const void *p;
    size_t n, done;
    (void)fd;
    if (t->staged) {
        p = t->stage;
        n = t->staged;
    } else if (iovcnt == 1 || iov[0].iov_len >= STAGE_MAX) {
        p = iov[0].iov_base;
        n = iov[0].iov_len;
    } else {
        for (int i = 0; i < iovcnt && t->staged < STAGE_MAX; i++) {
            size_t k = iov[i].iov_len;
            if (k > STAGE_MAX - t->staged)
                k = STAGE_MAX - t->staged;
            memcpy(t->stage + t->staged, iov[i].iov_base, k);
            t->staged += k;
        }
        p = t->stage;
        n = t->staged;
    }
    errors_clear();
    if (SSL_write_ex(t->ssl, p, n, &done) == 1) {
        if (p == t->stage)
            t->staged = 0; /* one record at most: all of it went */
        return (ssize_t)done;
    }
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
        return -EAGAIN;
    if (e == SSL_ERROR_SYSCALL) {
        int alert = alert_waiting(t);
        if (alert)
            return alert;
        if (!t->sock_errno)
            return -EPIPE;
    }
    return failed(t, e, "send");
}

static ssize_t tls_recv(void *ctx, int fd, void *buf, size_t len, int block)
{
    tls_conn *t = ctx;
    size_t got;
    (void)fd;
    (void)block; /* recv_blocks = 0: the caller polls */
    errors_clear();
    if (SSL_read_ex(t->ssl, buf, len, &got) == 1)
        return (ssize_t)got;
    int e = SSL_get_error(t->ssl, 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -EAGAIN;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SSL && unexpected_eof()) ||
        (e == SSL_ERROR_SYSCALL && !t->sock_errno)) {
        errors_clear();
        return 0;
    }
    return failed(t, e, "receive");
}

static size_t tls_pending(void *ctx)
{
    tls_conn *t = ctx;
    return (size_t)SSL_pending(t->ssl);
}

/* Idle, a TLS connection may still receive records that carry no data: a
 * TLS 1.3 server sends its session tickets after the handshake.  Those are
 * taken in; data (a late reply) or the end of the connection is not in
 * step. */
static int tls_idle_ok(void *ctx, int fd)
{
    tls_conn *t = ctx;
    enum { RECORDS_MAX = 8 };
    for (int i = 0; i < RECORDS_MAX; i++) {
        char b;
        if (SSL_pending(t->ssl))
            return 0;
        ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (r == 0)
            return 0;
        size_t got;
        errors_clear();
        if (SSL_read_ex(t->ssl, &b, 1, &got) == 1)
            return 0;
        if (SSL_get_error(t->ssl, 0) != SSL_ERROR_WANT_READ) {
            errors_clear();
            return 0;
        }
    }
    return 0;
}

static const char *tls_error(void *ctx)
{
    tls_conn *t = ctx;
    return t->why[0] ? t->why : NULL;
}

static void tls_close(void *ctx, int fd, int how)
{
    tls_conn *t = ctx;
    if (how == MCF_CLOSE_GRACEFUL) {
        /* One try at close_notify; the socket may be full, which is fine. */
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl);
    } else {
        /* Marked shut down without a word, so OpenSSL does not also take
         * the session as broken (SSL_free would make it unresumable). */
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    ERR_clear_error();
    SSL_free(t->ssl);
    free(t);
    if (how == MCF_CLOSE_ABORT) {
        struct linger lg = {1, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

static const mcf_transport transport_tls = {
    "TLS",       0,           tls_handshake, tls_sendv, tls_recv,
    tls_pending, tls_idle_ok, tls_error,     tls_close,
};

/* ---- a new connection ---- */

/* An IP literal (zone cut off) is checked against the certificate's IP
 * addresses and sends no SNI (RFC 6066 §3: "Literal IPv4 and IPv6
 * addresses are not permitted in HostName"). */
static int set_name(tls_conn *t, mcf_tls *ctx, const char *host)
{
    const char *name = mcf_tls_server_name(ctx) ? mcf_tls_server_name(ctx) : host;
    snprintf(t->name_buf, sizeof t->name_buf, "%s", name);
    char *zone = strchr(t->name_buf, '%');
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, t->name_buf, ip) == 1;
    if (!is_ip) {
        if (zone)
            *zone = '\0';
        is_ip = inet_pton(AF_INET6, t->name_buf, ip) == 1;
        if (!is_ip && zone)
            *zone = '%';
    }
    t->name = t->name_buf;
    if (is_ip)
        return mcf_tls_insecure(ctx) || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
                                                                      t->name_buf) == 1;
    if (SSL_set_tlsext_host_name(t->ssl, t->name_buf) != 1)
        return 0;
    return mcf_tls_insecure(ctx) || SSL_set1_host(t->ssl, t->name_buf) == 1;
}

int mcf_tls_connection(mcf_tls *ctx, int fd, const char *host, void *session,
                       const mcf_transport **tr, void **out, char *err, size_t errlen)
{
    BIO_METHOD *m = bio_method(ctx);
    tls_conn *t = calloc(1, sizeof *t);
    BIO *b = NULL;
    int rc = MCF_ERR_NOMEM;
    ERR_clear_error();
    if (!m || !t || !(t->ssl = SSL_new(mcf_tls_ssl_ctx(ctx))) || !(b = BIO_new(m))) {
        snprintf(err, errlen, "out of memory for a TLS connection");
        goto fail;
    }
    t->fd = fd;
    BIO_set_data(b, t);
    SSL_set_bio(t->ssl, b, b); /* the SSL owns the BIO from here */
    if (!set_name(t, ctx, host)) {
        snprintf(err, errlen, "server name '%s' refused by OpenSSL", t->name_buf);
        rc = MCF_ERR_TLS;
        goto fail;
    }
    if (session && SSL_set_session(t->ssl, session) != 1)
        ERR_clear_error(); /* a session that cannot be offered: a full handshake */
    SSL_set_connect_state(t->ssl);
    *tr = &transport_tls;
    *out = t;
    return MCF_OK;
fail:
    ERR_clear_error();
    if (t && t->ssl)
        SSL_free(t->ssl);
    else
        BIO_free(b);
    free(t);
    return rc;
}

void *mcf_tls_session_take(void *ctx)
{
    tls_conn *t = ctx;
    SSL_SESSION *s = SSL_get1_session(t->ssl);
    if (s && !SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        s = NULL;
    }
    return s;
}

void mcf_tls_session_free(void *session)
{
    SSL_SESSION_free(session);
}

int mcf_tls_alerted(const void *ctx)
{
    const tls_conn *t = ctx;
    return t->alerted;
}

void mcf_tls_describe(const void *ctx, const char **version, const char **cipher, int *resumed)
{
    const tls_conn *t = ctx;
    *version = SSL_get_version(t->ssl);
    *cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl));
    *resumed = SSL_session_reused(t->ssl);
}
