/* tlsfix.c - see tlsfix.h. */
#include "tlsfix.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if MCF_TEST_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#include "fixtures.h"
#include "harness.h"

/* ------------------------------------------------------------------ */
/* Certificates                                                        */
/* ------------------------------------------------------------------ */

/* mkdtemp's "/tmp/mcfast-tls-XXXXXX", and a file name in it. */
#define CERT_DIR_CAP 64
#define CERT_PATH_CAP (CERT_DIR_CAP + 64)
static char cert_dir[CERT_DIR_CAP];
static pid_t cert_owner; /* a forked child must not remove the parent's files */

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void remove_cert_dir(void)
{
    if (!cert_dir[0] || getpid() != cert_owner)
        return;
    /* Depth first, links not followed (capath/ holds symlinks). */
    nftw(cert_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
    cert_dir[0] = 0;
}

/* tests/tls_certs.sh: relative to the repository root (where tests/run.sh
 * runs the programs), else to this program (build/tests/test_tls_x). */
static int find_script(char *out, size_t cap)
{
    if (access("tests/tls_certs.sh", R_OK) == 0) {
        snprintf(out, cap, "tests/tls_certs.sh");
        return 0;
    }
    char exe[PATH_MAX - sizeof "/tests/tls_certs.sh"];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    for (int up = 0; up < 3; up++) { /* the program, build/tests, build */
        char *slash = strrchr(exe, '/');
        if (!slash)
            return -1;
        *slash = 0;
    }
    snprintf(out, cap, "%s/tests/tls_certs.sh", exe);
    return access(out, R_OK) == 0 ? 0 : -1;
}

const char *tls_dir(void)
{
    static int tried;
    if (tried)
        return cert_dir[0] ? cert_dir : NULL;
    tried = 1;
    char script[PATH_MAX], cmd[PATH_MAX + CERT_DIR_CAP + 16];
    if (find_script(script, sizeof script) < 0) {
        fprintf(stderr, "tlsfix: tests/tls_certs.sh not found\n");
        return NULL;
    }
    snprintf(cert_dir, sizeof cert_dir, "/tmp/mcfast-tls-XXXXXX");
    if (!mkdtemp(cert_dir)) {
        fprintf(stderr, "tlsfix: mkdtemp: %s\n", strerror(errno));
        cert_dir[0] = 0;
        return NULL;
    }
    cert_owner = getpid();
    atexit(remove_cert_dir);
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", script, cert_dir);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "tlsfix: %s: exit status %d\n", cmd, st);
        remove_cert_dir();
        return NULL;
    }
    return cert_dir;
}

/* A few static buffers used round robin, so that several results can be
 * arguments of one call. */
#define RING_SLOTS 8
static char *ring_next(void)
{
    static char ring[RING_SLOTS][CERT_PATH_CAP + 64];
    static unsigned next;
    return ring[next++ % RING_SLOTS];
}

const char *tls_file(const char *name)
{
    char *out = ring_next();
    snprintf(out, CERT_PATH_CAP + 64, "%s/%.60s", cert_dir, name);
    return out;
}

/* ------------------------------------------------------------------ */
/* main, servers, clients                                              */
/* ------------------------------------------------------------------ */

/* memcached's help names -Z when it was built with TLS. */
static int memcached_has_tls(void)
{
    char cmd[PATH_MAX + 16], line[512];
    snprintf(cmd, sizeof cmd, "%s -h 2>&1", mcserver_binary());
    FILE *f = popen(cmd, "r");
    if (!f)
        return 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "--enable-ssl"))
            found = 1;
    pclose(f);
    return found;
}

const char *tls_unusable(void)
{
    if (!mcserver_binary())
        return "memcached is not installed";
    if (!mcf_tls_available())
        return "libmcfast was built without TLS (mcf_tls_available() = 0)";
    if (!memcached_has_tls())
        return "memcached was built without TLS (no -Z)";
    if (!tls_dir())
        return "cannot make the test certificates (tests/tls_certs.sh, openssl CLI)";
    return NULL;
}

int tls_tests_main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* the hostile peer writes to closed sockets */
    const char *why = tls_unusable();
    if (why)
        t_skip_all(why);
    return t_main(argc, argv);
}

int tls_server_start(mcserver *s, const char *host, const char *cert, const char *ssl_opts)
{
    char extra[sizeof s->args];
    int n = snprintf(extra, sizeof extra, "-Z -o ssl_chain_cert=%s/%s.pem,ssl_key=%s/%s.key%s%s",
                     cert_dir, cert, cert_dir, cert, ssl_opts ? "," : "",
                     ssl_opts ? ssl_opts : "");
    if (n < 0 || (size_t)n >= sizeof extra) {
        t_fail(__FILE__, __LINE__, "memcached arguments too long for mcserver: %s", extra);
        return -1;
    }
    if (mcserver_start_tcp(s, host, extra) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached %s on %s", extra, host);
        return -1;
    }
    return 0;
}

const char *tls_spec(const mcserver *s)
{
    char *out = ring_next();
    snprintf(out, CERT_PATH_CAP + 64, "tls:%s", s->spec);
    return out;
}

#define TLS_TIMEOUT_DEFAULT_MS 500
int tls_timeout_ms(void)
{
    static int ms;
    if (!ms)
        ms = (int)env_int("MCF_TLS_TIMEOUT_MS", TLS_TIMEOUT_DEFAULT_MS);
    return ms;
}

mcf_tls_options tls_opts(void)
{
    mcf_tls_options o;
    memset(&o, 0, sizeof o);
    static char ca[CERT_PATH_CAP];
    snprintf(ca, sizeof ca, "%s/ca.pem", cert_dir);
    o.ca_file = ca;
    return o;
}

mcf_client *tls_client(const char *servers, const mcf_tls_options *o, int proto)
{
    mcf_tls_options dflt = tls_opts();
    mcf_client *c = mcf_new();
    if (!c) {
        t_fail(__FILE__, __LINE__, "mcf_new returned NULL");
        return NULL;
    }
    int rc;
    if ((rc = mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TLS_TIMEOUT_MS)) != MCF_OK ||
        (rc = mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, TLS_TIMEOUT_MS)) != MCF_OK ||
        (rc = mcf_set_option(c, MCF_OPT_PROTOCOL, proto)) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "mcf_set_option: %d: %s", rc, mcf_last_error(c));
        mcf_free(c);
        return NULL;
    }
    if ((rc = mcf_set_tls(c, o ? o : &dflt)) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "mcf_set_tls = %d (%s): %s", rc, mcf_strerror(rc),
               mcf_last_error(c));
        mcf_free(c);
        return NULL;
    }
    if ((rc = mcf_set_servers(c, servers)) != MCF_OK) {
        t_fail(__FILE__, __LINE__, "mcf_set_servers(%s) = %d: %s", servers, rc,
               mcf_last_error(c));
        mcf_free(c);
        return NULL;
    }
    return c;
}

int tls_roundtrip(mcf_client *c, const char *key, size_t len)
{
    unsigned char *v = malloc(len ? len : 1);
    if (!v) {
        t_fail(__FILE__, __LINE__, "out of memory");
        return -1;
    }
    fill_random(v, len, len);
    int bad = 0;
    int rc = mcf_set(c, KS(key), v, len, 0, 0);
    CHECKF(rc == MCF_OK, "set %s (%zu bytes) = %d (%s): %s", key, len, rc, mcf_strerror(rc),
           mcf_last_error(c));
    bad |= rc != MCF_OK;
    mcf_value got;
    rc = mcf_get(c, KS(key), &got);
    CHECKF(rc == MCF_OK, "get %s (%zu bytes) = %d (%s): %s", key, len, rc, mcf_strerror(rc),
           mcf_last_error(c));
    if (rc == MCF_OK) {
        CHECKF(got.len == len && memcmp(got.data, v, len) == 0,
               "get %s: %zu bytes, want %zu, %s", key, got.len, len,
               got.len == len ? "contents differ" : "length differs");
        bad |= got.len != len || memcmp(got.data, v, len) != 0;
    }
    bad |= rc != MCF_OK;
    free(v);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The hostile peer                                                    */
/* ------------------------------------------------------------------ */

#if MCF_TEST_TLS

#define PEER_MAX_CONNS 64
#define PEER_QUEUE 8
#define PEER_POLL_MS 50 /* how often a waiting thread looks at the stop flag */
#define TLS_RECORD_APPDATA 0x17  /* RFC 8446 §5.1 ContentType application_data */
#define TLS_RECORD_LEGACY_VER 0x0303 /* legacy_record_version of every TLS 1.2+ record */
#define TLS_RECORD_MAX 16384     /* RFC 8446 §5.1: 2^14 bytes of plaintext per record */

struct tls_peer {
    int lfd, port, backend_port;
    SSL_CTX *ctx;
    pthread_t acceptor;
    atomic_int stop, accepted;
    pthread_mutex_t mu;
    tls_peer_mode queue[PEER_QUEUE];
    int qhead, qlen;
    pthread_t threads[PEER_MAX_CONNS];
    int nthreads;
};

typedef struct peer_conn {
    tls_peer *p;
    int fd;
    tls_peer_mode mode;
} peer_conn;

/* Waits until fd is ready for events: 0, or -1 once the peer stops or the
 * socket has an error or hang-up (and no data). */
static int peer_wait(tls_peer *p, int fd, short events)
{
    while (!atomic_load(&p->stop)) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, PEER_POLL_MS);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0)
            return (pfd.revents & events) ? 0 : -1;
    }
    return -1;
}

/* SSL_accept/read/write on a non-blocking socket: waits on what OpenSSL
 * wants.  Return as OpenSSL's call (> 0 success), -1 on failure or stop. */
static int ssl_wait(tls_peer *p, SSL *ssl, int fd, int r)
{
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return peer_wait(p, fd, POLLIN);
    if (e == SSL_ERROR_WANT_WRITE)
        return peer_wait(p, fd, POLLOUT);
    return -1;
}

static int ssl_accept_wait(tls_peer *p, SSL *ssl, int fd)
{
    for (;;) {
        int r = SSL_accept(ssl);
        if (r == 1)
            return 0;
        if (ssl_wait(p, ssl, fd, r) < 0)
            return -1;
    }
}

static int ssl_read_wait(tls_peer *p, SSL *ssl, int fd, char *buf, int cap)
{
    for (;;) {
        int r = SSL_read(ssl, buf, cap);
        if (r > 0)
            return r;
        if (ssl_wait(p, ssl, fd, r) < 0)
            return -1;
    }
}

static int ssl_write_all(tls_peer *p, SSL *ssl, int fd, const char *buf, size_t len)
{
    while (len > 0) {
        int chunk = len > TLS_RECORD_MAX ? TLS_RECORD_MAX : (int)len;
        int r = SSL_write(ssl, buf, chunk);
        if (r > 0) {
            buf += r;
            len -= (size_t)r;
        } else if (ssl_wait(p, ssl, fd, r) < 0) {
            return -1;
        }
    }
    return 0;
}

static int raw_write_all(tls_peer *p, int fd, const void *buf, size_t len)
{
    const char *b = buf;
    while (len > 0) {
        ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            len -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (peer_wait(p, fd, POLLOUT) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads and drops what arrives until the other side closes or the peer stops. */
static void drain(tls_peer *p, int fd)
{
    char buf[4096];
    while (peer_wait(p, fd, POLLIN) == 0) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return;
    }
}

static int connect_backend(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* TLS in front of the plaintext backend, until either side closes. */
static void relay(tls_peer *p, SSL *ssl, int fd)
{
    int bfd = connect_backend(p->backend_port);
    if (bfd < 0)
        return;
    char buf[TLS_RECORD_MAX];
    while (!atomic_load(&p->stop)) {
        if (SSL_pending(ssl) == 0) {
            struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = bfd, .events = POLLIN}};
            int r = poll(pfd, 2, PEER_POLL_MS);
            if (r < 0 && errno != EINTR)
                break;
            if (r <= 0)
                continue;
            if (pfd[1].revents) {
                ssize_t n = recv(bfd, buf, sizeof buf, 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                    break;
                if (n > 0 && ssl_write_all(p, ssl, fd, buf, (size_t)n) < 0)
                    break;
            }
            if (!pfd[0].revents)
                continue;
        }
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) {
            if (raw_write_all(p, bfd, buf, (size_t)n) < 0)
                break;
        } else {
            int e = SSL_get_error(ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                break;
        }
    }
    close(bfd);
}

static void *peer_conn_main(void *arg)
{
    peer_conn *k = arg;
    tls_peer *p = k->p;
    int fd = k->fd;
    char buf[TLS_RECORD_MAX];
    if (k->mode == TP_SILENT) {
        drain(p, fd);
    } else if (k->mode == TP_CLOSE_AT_HELLO) {
        if (peer_wait(p, fd, POLLIN) == 0)
            (void)recv(fd, buf, sizeof buf, 0);
    } else if (k->mode == TP_PLAINTEXT_ERROR) {
        /* A plaintext memcached reads the ClientHello as a command line: it
         * answers ERROR and keeps the connection open. */
        static const char reply[] = "ERROR\r\n";
        if (peer_wait(p, fd, POLLIN) == 0 && recv(fd, buf, sizeof buf, 0) > 0 &&
            raw_write_all(p, fd, reply, sizeof reply - 1) == 0)
            drain(p, fd);
    } else {
        SSL *ssl = SSL_new(p->ctx);
        if (ssl && SSL_set_fd(ssl, fd) == 1 && ssl_accept_wait(p, ssl, fd) == 0) {
            if (k->mode == TP_RELAY) {
                relay(p, ssl, fd);
            } else if (ssl_read_wait(p, ssl, fd, buf, sizeof buf) > 0) {
                if (k->mode == TP_GARBAGE_APP) {
                    static const char junk[] = "\x01\x02\xfe\xff not memcached \x7f\r\n";
                    if (ssl_write_all(p, ssl, fd, junk, sizeof junk - 1) == 0)
                        drain(p, fd);
                } else if (k->mode == TP_GARBAGE_RAW) {
                    static const char junk[] = "\x01\x02\xfe\xff not a TLS record \x7f\r\n";
                    if (raw_write_all(p, fd, junk, sizeof junk - 1) == 0)
                        drain(p, fd);
                } else if (k->mode == TP_CLOSE_MID_RECORD) {
                    /* A record header (type, version, length: RFC 8446
                     * §5.1) promising 16 KiB, then 5 bytes of it. */
                    const unsigned char rec[] = {TLS_RECORD_APPDATA,
                                                 TLS_RECORD_LEGACY_VER >> 8,
                                                 TLS_RECORD_LEGACY_VER & 0xff,
                                                 TLS_RECORD_MAX >> 8,
                                                 TLS_RECORD_MAX & 0xff,
                                                 'a', 'b', 'c', 'd', 'e'};
                    raw_write_all(p, fd, rec, sizeof rec);
                }
            }
        }
        SSL_free(ssl); /* no close_notify: every mode ends abruptly */
    }
    close(fd);
    free(k);
    return NULL;
}

static void *peer_accept_main(void *arg)
{
    tls_peer *p = arg;
    while (peer_wait(p, p->lfd, POLLIN) == 0) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            continue;
        atomic_fetch_add(&p->accepted, 1);
        peer_conn *k = malloc(sizeof *k);
        pthread_mutex_lock(&p->mu);
        tls_peer_mode m = TP_RELAY;
        if (p->qlen > 0) {
            m = p->queue[p->qhead];
            p->qhead = (p->qhead + 1) % PEER_QUEUE;
            p->qlen--;
        }
        int slot = p->nthreads;
        pthread_mutex_unlock(&p->mu);
        if (!k || slot >= PEER_MAX_CONNS) {
            free(k);
            close(fd);
            continue;
        }
        *k = (peer_conn){.p = p, .fd = fd, .mode = m};
        if (pthread_create(&p->threads[slot], NULL, peer_conn_main, k) != 0) {
            free(k);
            close(fd);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        p->nthreads++;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

tls_peer *tls_peer_start(const mcserver *backend)
{
    tls_peer *p = calloc(1, sizeof *p);
    if (!p) {
        t_fail(__FILE__, __LINE__, "out of memory");
        return NULL;
    }
    p->lfd = -1;
    p->backend_port = backend->port;
    pthread_mutex_init(&p->mu, NULL);
    p->ctx = SSL_CTX_new(TLS_server_method());
    if (!p->ctx || SSL_CTX_use_certificate_chain_file(p->ctx, tls_file("server.pem")) != 1 ||
        SSL_CTX_use_PrivateKey_file(p->ctx, tls_file("server.key"), SSL_FILETYPE_PEM) != 1) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        t_fail(__FILE__, __LINE__, "hostile peer: OpenSSL context: %s", err);
        goto fail;
    }
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(p->lfd, SOMAXCONN) < 0 || getsockname(p->lfd, (struct sockaddr *)&a, &alen) < 0) {
        t_fail(__FILE__, __LINE__, "hostile peer: listen: %s", strerror(errno));
        goto fail;
    }
    p->port = ntohs(a.sin_port);
    if (pthread_create(&p->acceptor, NULL, peer_accept_main, p) != 0) {
        t_fail(__FILE__, __LINE__, "hostile peer: pthread_create failed");
        goto fail;
    }
    return p;
fail:
    if (p->lfd >= 0)
        close(p->lfd);
    SSL_CTX_free(p->ctx);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

int tls_peer_port(const tls_peer *p) { return p->port; }

void tls_peer_next(tls_peer *p, tls_peer_mode m)
{
    pthread_mutex_lock(&p->mu);
    if (p->qlen < PEER_QUEUE) {
        p->queue[(p->qhead + p->qlen) % PEER_QUEUE] = m;
        p->qlen++;
    }
    pthread_mutex_unlock(&p->mu);
}

int tls_peer_accepted(tls_peer *p) { return atomic_load(&p->accepted); }

void tls_peer_stop(tls_peer *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->acceptor, NULL);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    close(p->lfd);
    SSL_CTX_free(p->ctx);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

#else /* a build without OpenSSL: every case SKIPs before it needs a peer */

tls_peer *tls_peer_start(const mcserver *backend)
{
    (void)backend;
    t_fail(__FILE__, __LINE__, "hostile peer: built without OpenSSL (TLS=0)");
    return NULL;
}
int tls_peer_port(const tls_peer *p) { (void)p; return -1; }
void tls_peer_next(tls_peer *p, tls_peer_mode m) { (void)p; (void)m; }
int tls_peer_accepted(tls_peer *p) { (void)p; return 0; }
void tls_peer_stop(tls_peer *p) { (void)p; }

#endif

/* ---- the soaks' servers ---------------------------------------------- */

static int soak_tls_index = -1;

int tls_soak_servers(mcserver *srv, int n, const char *extra, char (*specs)[TLS_SPEC_MAX],
                     const char *no_tls)
{
    const char *why = no_tls ? no_tls : tls_unusable();
    soak_tls_index = why ? -1 : n - 1;
    if (why)
        printf("INFO: soak: every server plaintext: %s\n", why);
    for (int i = 0; i < n; i++) {
        char args[sizeof srv[i].args];
        int len = snprintf(args, sizeof args, "%s", extra);
        if (i == soak_tls_index)
            len = snprintf(args, sizeof args, "%s -Z -o ssl_chain_cert=%s/server.pem,"
                           "ssl_key=%s/server.key", extra, cert_dir, cert_dir);
        if (len < 0 || (size_t)len >= sizeof args || mcserver_start_tcp(&srv[i], "127.0.0.1", args) < 0) {
            t_fail(__FILE__, __LINE__, "cannot start memcached %d (%s)", i, args);
            return -1;
        }
        snprintf(specs[i], TLS_SPEC_MAX, "%s%s", i == soak_tls_index ? "tls:" : "", srv[i].spec);
    }
    if (soak_tls_index >= 0)
        printf("INFO: soak: server %d (%s) over TLS\n", soak_tls_index, specs[soak_tls_index]);
    return 0;
}

int tls_soak_client(mcf_client *c)
{
    if (soak_tls_index < 0)
        return MCF_OK;
    mcf_tls_options o = tls_opts();
    return mcf_set_tls(c, &o);
}
