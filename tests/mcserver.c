/* mcserver.c - see mcserver.h. */
#include "mcserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED 64
static pid_t tracked[MAX_TRACKED];
static int hooks_installed;
/* The process that started the servers.  A test's forked child inherits
 * the atexit hook and the signal handlers: its exit() or crash must not
 * kill the parent's servers. */
static pid_t owner;

static void kill_all(void)
{
    if (getpid() != owner)
        return;
    for (int i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] > 0) {
            kill(tracked[i], SIGKILL);
            waitpid(tracked[i], NULL, 0);
            tracked[i] = 0;
        }
}

static void on_fatal(int sig)
{
    for (int i = 0; i < MAX_TRACKED && getpid() == owner; i++)
        if (tracked[i] > 0)
            kill(tracked[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Sanitizers end the process without atexit handlers or signals: ask them
 * to call us first, when they are linked in. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void track(pid_t pid, int add)
{
    if (!hooks_installed) {
        hooks_installed = 1;
        owner = getpid();
        atexit(kill_all);
        if (__sanitizer_set_death_callback)
            __sanitizer_set_death_callback(kill_all);
        int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], on_fatal);
    }
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (add && tracked[i] == 0) {
            tracked[i] = pid;
            return;
        }
        if (!add && tracked[i] == pid) {
            tracked[i] = 0;
            return;
        }
    }
}

const char *mcserver_binary(void)
{
    static const char *paths[] = {"/usr/bin/memcached", "/usr/local/bin/memcached",
                                  "/usr/sbin/memcached"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static int fill_sockaddr(const char *host, int port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

int mcserver_free_port(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (fill_sockaddr(host, 0, &ss, &len) < 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int connect_once(const mcserver *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd;
    if (s->path[0]) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        memset(un, 0, sizeof *un);
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof un->sun_path, "%s", s->path);
        len = sizeof *un;
    } else if (fill_sockaddr(s->host, s->port, &ss, &len) < 0) {
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* memcached -Z (1.6.18) prints "accept4(): Resource temporarily
 * unavailable" and "accept(): Invalid argument" on stderr for a
 * connection closed before it was accepted, as the readiness probe's is.
 * With TLS the probe half-closes and waits (bounded) until memcached has
 * taken the connection and closed its side, so nothing is printed.  It
 * half-closes only after a grace period: memcached runs SSL_accept as it
 * accepts, and a FIN already there fails it at once, which prints them too
 * (seen under strace); once accepted, the handshake waits for a ClientHello
 * and the FIN ends it quietly. */
#define TLS_PROBE_WAIT_MS 1000
#define TLS_ACCEPT_GRACE_MS 20
static void close_after_server(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    (void)poll(&pfd, 1, TLS_ACCEPT_GRACE_MS); /* memcached sends nothing: a bounded wait */
    shutdown(fd, SHUT_WR);
    char buf[256];
    while (poll(&pfd, 1, TLS_PROBE_WAIT_MS) > 0 && recv(fd, buf, sizeof buf, 0) > 0)
        ;
    close(fd);
}

static int spawn(mcserver *s)
{
    const char *bin = mcserver_binary();
    if (!bin) {
        fprintf(stderr, "mcserver: memcached is not installed\n");
        return -1;
    }
    char *argv[48];
    int argc = 0;
    char portbuf[16];
    char argcopy[sizeof s->args];
    argv[argc++] = (char *)bin;
    argv[argc++] = "-u";
    argv[argc++] = "root";
    argv[argc++] = "-U";
    argv[argc++] = "0";
    if (s->path[0]) {
        argv[argc++] = "-s";
        argv[argc++] = s->path;
    } else {
        snprintf(portbuf, sizeof portbuf, "%d", s->port);
        argv[argc++] = "-l";
        argv[argc++] = s->host;
        argv[argc++] = "-p";
        argv[argc++] = portbuf;
    }
    snprintf(argcopy, sizeof argcopy, "%s", s->args);
    for (char *save = NULL, *tok = strtok_r(argcopy, " ", &save); tok && argc < 46;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", 0);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execv(bin, argv);
        _exit(127);
    }
    s->pid = pid;
    track(pid, 1);
    /* Ready when it accepts a connection; give up after 5 s. */
    for (int i = 0; i < 500; i++) {
        int fd = connect_once(s);
        if (fd >= 0) {
            if (strstr(s->args, "-Z"))
                close_after_server(fd);
            else
                close(fd);
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            track(pid, 0);
            s->pid = 0;
            fprintf(stderr, "mcserver: memcached exited at start (%s)\n", s->spec);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "mcserver: memcached did not start listening (%s)\n", s->spec);
    mcserver_stop(s);
    return -1;
}

int mcserver_start_tcp(mcserver *s, const char *host, const char *extra)
{
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "%s", host);
    snprintf(s->args, sizeof s->args, "%s", extra ? extra : "");
    for (int tries = 0; tries < 5; tries++) {
        s->port = mcserver_free_port(host);
        if (s->port <= 0)
            return -1;
        if (strchr(host, ':'))
            snprintf(s->spec, sizeof s->spec, "[%s]:%d", host, s->port);
        else
            snprintf(s->spec, sizeof s->spec, "%s:%d", host, s->port);
        if (spawn(s) == 0)
            return 0;
    }
    return -1;
}

int mcserver_start_tcp_port(mcserver *s, const char *host, int port, const char *extra)
{
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "%s", host);
    snprintf(s->args, sizeof s->args, "%s", extra ? extra : "");
    s->port = port;
    if (strchr(host, ':'))
        snprintf(s->spec, sizeof s->spec, "[%s]:%d", host, port);
    else
        snprintf(s->spec, sizeof s->spec, "%s:%d", host, port);
    return spawn(s);
}

int mcserver_start_unix(mcserver *s, const char *extra)
{
    memset(s, 0, sizeof *s);
    char dir[] = "/tmp/mcfast-test-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    snprintf(s->path, sizeof s->path, "%s/mc.sock", dir);
    snprintf(s->spec, sizeof s->spec, "%s", s->path);
    snprintf(s->args, sizeof s->args, "%s", extra ? extra : "");
    return spawn(s);
}

int mcserver_restart(mcserver *s)
{
    if (s->pid > 0)
        mcserver_stop(s);
    if (s->path[0])
        unlink(s->path);
    return spawn(s);
}

char mcserver_proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *paren = strrchr(buf, ')'); /* the command name may hold spaces */
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

void mcserver_kill(mcserver *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    if (sig == SIGSTOP) {
        /* kill() returns before the process stops: a request sent at once
         * could still be served.  Wait (at most 2 s) until it is stopped. */
        for (int i = 0; i < 2000 && mcserver_proc_state(s->pid) != 'T'; i++) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (sig == SIGKILL || sig == SIGTERM) {
        waitpid(s->pid, NULL, 0);
        track(s->pid, 0);
        s->pid = 0;
    }
}

void mcserver_stop(mcserver *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT); /* a SIGSTOPped server must run to die on SIGTERM */
    mcserver_kill(s, SIGTERM);
    if (s->path[0]) {
        unlink(s->path);
        char dir[sizeof s->path];
        snprintf(dir, sizeof dir, "%s", s->path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            rmdir(dir);
        }
    }
}

#define TCP_LISTEN_STATE 0x0A /* /proc/net/tcp "st" column (include/net/tcp_states.h) */

int mcserver_tcp_queues(const mcserver *s, uint64_t *server_unread, uint64_t *client_unsent)
{
    struct in_addr a;
    *server_unread = *client_unsent = 0;
    if (s->path[0] || inet_pton(AF_INET, s->host, &a) != 1)
        return -1;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return -1;
    char line[512];
    int clients = 0;
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned la, lp, ra, rp, st;
        unsigned long txq, rxq;
        if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X %8lX:%8lX", &la, &lp, &ra, &rp, &st, &txq,
                   &rxq) != 7)
            continue;
        /* Addresses are printed as the raw (network order) 32-bit value. */
        if (la == a.s_addr && (int)lp == s->port && st != TCP_LISTEN_STATE)
            *server_unread += rxq;
        if (ra == a.s_addr && (int)rp == s->port) {
            *client_unsent += txq;
            clients++;
        }
    }
    fclose(f);
    return clients;
}

int mcserver_raw(const mcserver *s, const char *req, const char *until, char *buf,
                 size_t buflen)
{
    int fd = connect_once(s);
    if (fd < 0)
        return -1;
    size_t reqlen = strlen(req), off = 0;
    while (off < reqlen) {
        ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    size_t got = 0, ulen = strlen(until);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < buflen) {
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, buflen - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = 0;
        if (got >= ulen && memcmp(buf + got - ulen, until, ulen) == 0)
            break;
    }
    buf[got] = 0;
    close(fd);
    return (int)got;
}
