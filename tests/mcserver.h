/* mcserver.h - real memcached processes for tests, on free loopback ports or
 * unix sockets, killed at exit even when a test fails or crashes via a
 * SIGABRT/SIGSEGV handler and atexit. */
#ifndef MCF_TEST_MCSERVER_H
#define MCF_TEST_MCSERVER_H

#include <stdint.h>
#include <sys/types.h>

typedef struct mcserver {
    pid_t pid;
    int port;        /* TCP port, 0 for unix */
    char host[64];   /* "127.0.0.1" or "::1" */
    char path[108];  /* unix socket path, "" for TCP */
    char spec[160];  /* a spec mcfast parses: "127.0.0.1:P", "[::1]:P", "/path" */
    char args[512];  /* extra memcached arguments it was started with (TLS
                      * options carry three certificate paths) */
} mcserver;

/* Path of memcached, or NULL when it is not installed. */
const char *mcserver_binary(void);

/* Starts memcached listening on host ("127.0.0.1" or "::1") on a free port.
 * extra: extra arguments separated by spaces, or NULL.  Returns 0 once the
 * server accepts connections, -1 on failure (message on stderr).  With -Z
 * (TLS) in extra, accepting a TCP connection is still the readiness test:
 * no handshake is needed. */
int mcserver_start_tcp(mcserver *s, const char *host, const char *extra);
/* The same on a given port (host may be any loopback address, e.g.
 * "127.0.0.2", to run a second server on another's port).  -1 when the
 * port is taken or memcached fails. */
int mcserver_start_tcp_port(mcserver *s, const char *host, int port, const char *extra);
/* Starts memcached on a unix socket in a fresh temporary directory. */
int mcserver_start_unix(mcserver *s, const char *extra);
/* Restarts a stopped/killed server on the same port or path. */
int mcserver_restart(mcserver *s);
void mcserver_kill(mcserver *s, int sig); /* send sig; SIGKILL also reaps */
void mcserver_stop(mcserver *s);          /* SIGTERM + reap */

/* A free TCP port on host (bind to port 0, read it back, close). */
int mcserver_free_port(const char *host);

/* Raw round trip for checks that must not go through mcfast: sends req to
 * the server and reads until `until` is seen at the end of the reply (or
 * 2 s pass).  Returns bytes read into buf (NUL-terminated) or -1. */
int mcserver_raw(const mcserver *s, const char *req, const char *until, char *buf,
                 size_t buflen);

/* The process state letter from /proc/PID/stat ('T' when stopped), or 0. */
char mcserver_proc_state(pid_t pid);

/* The TCP queues of a 127.0.0.1 server's connections, from /proc/net/tcp:
 * *server_unread = bytes received by the server's sockets and not read by
 * memcached yet; *client_unsent = bytes the clients' sockets (this
 * machine's, orphaned ones included) still hold unacknowledged.  Returns
 * the number of client sockets seen, -1 if not a 127.0.0.1 server or the
 * table is unreadable. */
int mcserver_tcp_queues(const mcserver *s, uint64_t *server_unread, uint64_t *client_unsent);

#endif
