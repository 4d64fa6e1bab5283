/* test_sockets.c - who owns the client's sockets and how they end:
 *   - after fork() the child never writes to (or reads, or shuts down) a
 *     socket the parent opened, and connects anew on demand;
 *   - running out of descriptors is MCF_ERR_RESOURCE, not a failure of
 *     the server;
 *   - a connection given up on (I/O timeout) is reset, so request bytes
 *     still queued on the client's side never reach the server, while a
 *     healthy idle connection closes gracefully.
 * The server is a listening socket of this test (the kernel completes the
 * connect; the test accepts and reads what the client sent), so every
 * byte on every connection can be seen. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "mcfast.h"

#define IO_TIMEOUT_MS 300
/* Generous: the machine is shared and loaded. */
#define WAIT_MS 5000

typedef struct fake_server {
    int lfd;
    char spec[64];
} fake_server;

/* A listening socket on 127.0.0.1; rcvbuf > 0 caps the receive buffer of
 * the connections it accepts (inherited from the listener). */
static int fake_start(fake_server *f, int rcvbuf)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0)
        return -1;
    if (rcvbuf > 0)
        (void)setsockopt(f->lfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(f->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(f->lfd, 8) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) < 0) {
        close(f->lfd);
        f->lfd = -1;
        return -1;
    }
    snprintf(f->spec, sizeof f->spec, "127.0.0.1:%d", ntohs(a.sin_port));
    return 0;
}

/* The next connection the client made, or -1 when none comes within ms. */
static int fake_accept(fake_server *f, int ms)
{
    struct pollfd p = {f->lfd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return -1;
    return accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads what is there within ms into buf (NUL-terminated): bytes read,
 * and *end = 0 still open, 1 EOF, -errno reset or error. */
static size_t drain(int fd, char *buf, size_t cap, int ms, int *end)
{
    size_t got = 0;
    *end = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0)
            break;
        char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) {
            *end = r == 0 ? 1 : -errno;
            break;
        }
        if (buf && got + (size_t)r < cap) {
            memcpy(buf + got, tmp, (size_t)r);
            buf[got + (size_t)r] = 0;
        }
        got += (size_t)r;
    }
    return got;
}

static mcf_client *client_for(const fake_server *f)
{
    mcf_client *c = mcf_new();
    if (!c)
        return NULL;
    if (mcf_set_servers(c, f->spec) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

/* A client connected to a fresh fake server (*a: the server's end), or
 * NULL after recording why not. */
static mcf_client *connected_client(fake_server *f, int rcvbuf, int *a)
{
    *a = -1;
    CHECK(fake_start(f, rcvbuf) == 0);
    mcf_client *c = client_for(f);
    CHECK(c != NULL);
    if (!c)
        return NULL;
    CHECK_RC(mcf_connect_server(c, 0), MCF_OK);
    *a = fake_accept(f, WAIT_MS);
    CHECK(*a >= 0);
    return c;
}

static void done(mcf_client *c, fake_server *f, int a)
{
    if (a >= 0)
        close(a);
    mcf_free(c);
    close(f->lfd);
}

/* Child exit codes of fork_child_never_uses_parent_socket. */
enum { CHILD_OK = 0, CHILD_SAW_CONNECTED = 10, CHILD_GET_RC = 11 };

TEST(fork_child_never_uses_parent_socket)
{
    fake_server f;
    int a;
    mcf_client *c = connected_client(&f, 0, &a);
    if (!c)
        return;
    /* A noreply write: the parent's connection now has noreply traffic
     * that mcf_free would sync with a "version" round trip. */
    CHECK_RC(mcf_store(c, MCF_SET, "k", 1, "v", 1, 0, 0, 0, MCF_CALL_NOREPLY), MCF_OK);
    char buf[4096];
    int end;
    drain(a, buf, sizeof buf, WAIT_MS / 10, &end);
    CHECKF(strstr(buf, "set k ") != NULL, "server got '%s'", buf);

    pid_t pid = fork();
    if (pid == 0) {
        mcf_server_info info;
        int code = CHILD_OK;
        if (mcf_server_info_get(c, 0, &info) != MCF_OK || info.connected)
            code = CHILD_SAW_CONNECTED;
        /* Nobody answers on the new connection: the get times out. */
        mcf_value v;
        if (code == CHILD_OK && mcf_get(c, "k", 1, &v) != MCF_ERR_TIMEOUT)
            code = CHILD_GET_RC;
        mcf_free(c);
        _exit(code);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK, "child status 0x%x", status);

    /* Not a byte from the child on the parent's connection, and it is not
     * shut down. */
    size_t n = drain(a, buf, sizeof buf, 0, &end);
    CHECKF(n == 0 && end == 0, "parent's connection got %zu bytes ('%s'), end %d", n,
           n ? buf : "", end);
    /* The child's get went out on a connection of its own. */
    int b = fake_accept(&f, 0);
    CHECK(b >= 0);
    if (b >= 0) {
        n = drain(b, buf, sizeof buf, WAIT_MS / 10, &end);
        CHECKF(strstr(buf, "get k\r\n") != NULL, "child's connection got '%s'", buf);
        close(b);
    }
    /* The parent's connection is still the parent's: its noreply sync goes
     * out on it. */
    mcf_server_info info;
    CHECK(mcf_server_info_get(c, 0, &info) == MCF_OK && info.connected);
    mcf_disconnect_all(c);
    n = drain(a, buf, sizeof buf, WAIT_MS / 10, &end);
    CHECKF(strstr(buf, "version\r\n") != NULL, "parent's sync: got '%s'", buf);
    done(c, &f, a);
}

/* Descriptors this test keeps open while it runs out of them. */
#define FD_LIMIT 64

TEST(emfile_is_resource_not_server_failure)
{
    fake_server f;
    CHECK(fake_start(&f, 0) == 0);
    mcf_client *c = client_for(&f);
    CHECK(c != NULL);
    if (!c)
        return;
    /* One counted failure would mark the server down. */
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_FAILURES, 1), MCF_OK);
    struct rlimit old, low;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = FD_LIMIT;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    int fill[FD_LIMIT], nfill = 0;
    while (nfill < FD_LIMIT) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fill[nfill++] = fd;
    }
    int rc = mcf_store(c, MCF_SET, "k", 1, "v", 1, 0, 0, 0, MCF_CALL_NOREPLY);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mcf_last_error(c));
    while (nfill > 0)
        close(fill[--nfill]);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);

    CHECK_RC(rc, MCF_ERR_RESOURCE);
    CHECKF(strstr(msg, "too many open files") != NULL, "message: %s", msg);
    /* Descriptors back: the server was not marked down. */
    CHECK_RC(mcf_store(c, MCF_SET, "k", 1, "v", 1, 0, 0, 0, MCF_CALL_NOREPLY), MCF_OK);
    int a = fake_accept(&f, WAIT_MS);
    CHECK(a >= 0);
    done(c, &f, a); /* its noreply sync times out: nobody answers */
}

/* Larger than every buffer between the client and a server that does not
 * read (the client's send buffer grows to a few MB at most). */
#define BIG_VALUE (32u * 1024 * 1024)
#define SMALL_RCVBUF 4096

TEST(timeout_resets_connection)
{
    fake_server f;
    int a;
    mcf_client *c = connected_client(&f, SMALL_RCVBUF, &a);
    char *value = malloc(BIG_VALUE);
    CHECK(value != NULL);
    if (!c || !value) {
        free(value);
        if (c)
            done(c, &f, a);
        return;
    }
    memset(value, 'x', BIG_VALUE);
    CHECK_RC(mcf_set_option(c, MCF_OPT_MAX_VALUE_SIZE, BIG_VALUE), MCF_OK);
    /* The server reads nothing: the request cannot all go out. */
    CHECK_RC(mcf_set(c, "big", 3, value, BIG_VALUE, 0, 0), MCF_ERR_TIMEOUT);
    int end = 0;
    size_t n = a >= 0 ? drain(a, NULL, 0, WAIT_MS, &end) : 0;
    /* Reset: what was still queued on the client's side was dropped.  A
     * graceful close would deliver it all and end with EOF. */
    CHECKF(end == -ECONNRESET, "server saw %zu bytes then end %d, want a reset", n, end);
    CHECKF(n < BIG_VALUE, "server got %zu bytes of %u", n, BIG_VALUE);
    free(value);
    done(c, &f, a);
}

TEST(idle_close_is_graceful)
{
    fake_server f;
    int a;
    mcf_client *c = connected_client(&f, 0, &a);
    if (!c)
        return;
    mcf_disconnect_all(c);
    int end = 0;
    size_t n = a >= 0 ? drain(a, NULL, 0, WAIT_MS, &end) : 0;
    CHECKF(n == 0 && end == 1, "server saw %zu bytes then end %d, want EOF", n, end);
    done(c, &f, a);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* the test's own sockets; the library never raises it */
    return t_main(argc, argv);
}
