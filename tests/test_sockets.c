/* test_sockets.c - the client's sockets:
 *   - running out of descriptors is MCF_ERR_RESOURCE, not a failure of
 *     the server.
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
    mcf_free(c); /* its noreply sync times out: nobody answers */
    if (a >= 0)
        close(a);
    close(f.lfd);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* the test's own sockets; the library never raises it */
    RUN(emfile_is_resource_not_server_failure);
    return t_exit_code();
}
