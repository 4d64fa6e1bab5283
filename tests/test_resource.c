/* test_resource.c - running out of file descriptors is reported as what it
 * is: MCF_ERR_RESOURCE with "too many open files" and the server in
 * mcf_last_error(), not as a refused or unreachable server.
 *
 * Each case starts real memcached servers first, then lowers this
 * process's RLIMIT_NOFILE just above the descriptors it has and fills the
 * rest with dup()s of /dev/null, so the library's next socket() fails with
 * EMFILE.  The fixture gives every descriptor back and restores the limit,
 * and the case then checks that the same client recovers.  (ENFILE, the
 * system-wide table being full, cannot be provoked safely on a shared
 * machine; it takes the same path in the library.) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"

#define NSRV 2
/* Headroom over the highest descriptor in use: the limit is set this far
 * above it and every free slot below the limit is then filled. */
#define FILL_HEADROOM 32
#define MAX_FILL 4096 /* fillers at most: FILL_HEADROOM plus holes below */
#define NKEYS 64
#define EMFILE_TEXT "too many open files"
#define KEY_SEARCH_MAX 100000 /* suffixes tried to place a key on a server */
#define MAX_REPORTED 3 /* wrong keys shown one by one */

typedef struct fixture {
    mcserver srv[NSRV];
    int nsrv;
    mcf_client *c;
    struct rlimit saved;
    int limited;
    int fill[MAX_FILL];
    int nfill;
    /* per-key results of a get_multi */
    int rc[NKEYS];
    int calls[NKEYS];
    char msg[NKEYS][512];
} fixture;

static int highest_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int hi = -1, self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd != self && fd > hi)
            hi = (int)fd;
    }
    closedir(d);
    return hi;
}

static int fixture_setup(fixture *f, int nsrv)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < nsrv; i++) {
        if (mcserver_start_tcp(&f->srv[i], "127.0.0.1", NULL) < 0)
            return -1;
        f->nsrv++;
    }
    f->c = mcf_new();
    if (!f->c)
        return -1;
    char list[NSRV * sizeof f->srv[0].spec + NSRV] = "";
    for (int i = 0; i < nsrv; i++) {
        if (i)
            strcat(list, ",");
        strcat(list, f->srv[i].spec);
    }
    return mcf_set_servers(f->c, list) == MCF_OK ? 0 : -1;
}

/* Lowers RLIMIT_NOFILE and takes every descriptor below it: 0, or -1 when
 * the process could not be brought to EMFILE. */
static int exhaust_fds(fixture *f)
{
    int hi = highest_fd();
    if (hi < 0 || getrlimit(RLIMIT_NOFILE, &f->saved) != 0)
        return -1;
    struct rlimit lim = f->saved;
    lim.rlim_cur = (rlim_t)hi + 1 + FILL_HEADROOM;
    if (lim.rlim_cur > f->saved.rlim_cur)
        lim.rlim_cur = f->saved.rlim_cur;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    f->limited = 1;
    while (f->nfill < MAX_FILL) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == EMFILE ? 0 : -1;
        f->fill[f->nfill++] = fd;
    }
    return -1; /* MAX_FILL descriptors and still no EMFILE */
}

static void release_fds(fixture *f)
{
    for (int i = 0; i < f->nfill; i++)
        close(f->fill[i]);
    f->nfill = 0;
    if (f->limited)
        setrlimit(RLIMIT_NOFILE, &f->saved);
    f->limited = 0;
}

static void fixture_teardown(fixture *f)
{
    release_fds(f);
    mcf_free(f->c);
    for (int i = 0; i < f->nsrv; i++)
        mcserver_kill(&f->srv[i], SIGKILL);
}


#define SETUP_OR_RETURN(f, n)                                                        \
    do {                                                                            \
        if (fixture_setup((f), (n)) < 0) {                                          \
            t_fail(__FILE__, __LINE__, "setup: memcached or client did not start"); \
            fixture_teardown(f);                                                    \
            return;                                                                 \
        }                                                                           \
    } while (0)

#define EXHAUST_OR_RETURN(f)                                                         \
    do {                                                                            \
        if (exhaust_fds(f) < 0) {                                                   \
            int e_ = errno;                                                         \
            release_fds(f);                                                         \
            t_fail(__FILE__, __LINE__, "premise: could not run out of descriptors: %s", \
                   strerror(e_));                                                   \
            fixture_teardown(f);                                                    \
            return;                                                                 \
        }                                                                           \
    } while (0)

/* ------------------------------------------------------------------ */

TEST(resource_get_on_fresh_server)
{
    fixture f;
    SETUP_OR_RETURN(&f, 1);
    EXHAUST_OR_RETURN(&f);
    mcf_value v;
    int rc = mcf_get(f.c, "rk", 2, &v);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mcf_last_error(f.c));
    release_fds(&f);
    printf("INFO: %s: mcf_get with no descriptor left: %d (%s): %s\n", t_case_name, rc,
           mcf_strerror(rc), msg);
    CHECKF(rc == MCF_ERR_RESOURCE, "mcf_get = %d (%s), want MCF_ERR_RESOURCE: %s", rc,
           mcf_strerror(rc), msg);
    CHECKF(contains(msg, EMFILE_TEXT), "message does not say '" EMFILE_TEXT "': %s", msg);
    CHECKF(contains(msg, f.srv[0].spec), "message does not name %s: %s", f.srv[0].spec, msg);
    /* Descriptors back: the same client connects and works. */
    CHECK_RC(mcf_set(f.c, "rk", 2, "v1", 2, 0, 0), MCF_OK);
    CHECK_RC(mcf_get(f.c, "rk", 2, &v), MCF_OK);
    CHECK(v.len == 2 && memcmp(v.data, "v1", 2) == 0);
    fixture_teardown(&f);
}

TEST(resource_connect_server)
{
    fixture f;
    SETUP_OR_RETURN(&f, 1);
    EXHAUST_OR_RETURN(&f);
    int rc = mcf_connect_server(f.c, 0);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mcf_last_error(f.c));
    release_fds(&f);
    CHECKF(rc == MCF_ERR_RESOURCE, "mcf_connect_server = %d (%s), want MCF_ERR_RESOURCE: %s",
           rc, mcf_strerror(rc), msg);
    CHECKF(contains(msg, EMFILE_TEXT), "message does not say '" EMFILE_TEXT "': %s", msg);
    CHECKF(contains(msg, f.srv[0].spec), "message does not name %s: %s", f.srv[0].spec, msg);
    CHECK_RC(mcf_connect_server(f.c, 0), MCF_OK);
    fixture_teardown(&f);
}

TEST(resource_set_on_fresh_server)
{
    fixture f;
    SETUP_OR_RETURN(&f, 1);
    EXHAUST_OR_RETURN(&f);
    int rc = mcf_set(f.c, "rs", 2, "v", 1, 0, 0);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mcf_last_error(f.c));
    release_fds(&f);
    CHECKF(rc == MCF_ERR_RESOURCE, "mcf_set = %d (%s), want MCF_ERR_RESOURCE: %s", rc,
           mcf_strerror(rc), msg);
    CHECKF(contains(msg, EMFILE_TEXT) && contains(msg, f.srv[0].spec), "message: %s", msg);
    /* Nothing was stored, and now it can be. */
    char raw[256];
    CHECK(mcserver_raw(&f.srv[0], "get rs\r\n", "END\r\n", raw, sizeof raw) > 0 &&
          strcmp(raw, "END\r\n") == 0);
    CHECK_RC(mcf_set(f.c, "rs", 2, "v", 1, 0, 0), MCF_OK);
    fixture_teardown(&f);
}

static void on_key(void *ctx, size_t i, int rc, const mcf_value *v)
{
    (void)v;
    fixture *f = ctx;
    f->rc[i] = rc;
    f->calls[i]++;
    /* mcfast.h: in the callback, mcf_last_error() names an error key's failure. */
    if (mcf_is_error(rc))
        snprintf(f->msg[i], sizeof f->msg[i], "%s", mcf_last_error(f->c));
}

/* Server 0 connected before the descriptors run out, server 1 not: the
 * connected one still answers, the other's keys get MCF_ERR_RESOURCE. */
TEST(resource_get_multi_one_connected)
{
    fixture f;
    SETUP_OR_RETURN(&f, 2);
    char keys[NKEYS][32];
    const char *kp[NKEYS];
    size_t where[NKEYS];
    /* Key i lives on server i % NSRV (a suffix searched for; bounded). */
    for (int i = 0; i < NKEYS; i++) {
        for (int j = 0; j < KEY_SEARCH_MAX; j++) {
            snprintf(keys[i], sizeof keys[i], "rm%d-%d-%d", i % NSRV, i, j);
            if (mcf_server_for_key(f.c, keys[i], strlen(keys[i]), &where[i]) == MCF_OK &&
                where[i] == (size_t)(i % NSRV))
                break;
        }
        kp[i] = keys[i];
    }
    CHECK_RC(mcf_connect_server(f.c, 0), MCF_OK);
    EXHAUST_OR_RETURN(&f);
    int rc = mcf_get_multi(f.c, MCF_GET, 0, kp, NULL, NKEYS, on_key, &f);
    char last[1024];
    snprintf(last, sizeof last, "%s", mcf_last_error(f.c));
    release_fds(&f);
    printf("INFO: %s: get_multi with server 1 unreachable for lack of descriptors: %d (%s): %s\n",
           t_case_name, rc, mcf_strerror(rc), last);
    CHECKF(rc == MCF_ERR_RESOURCE, "mcf_get_multi = %d (%s), want MCF_ERR_RESOURCE: %s", rc,
           mcf_strerror(rc), last);
    int wrong = 0;
    for (int i = 0; i < NKEYS; i++) {
        int ok;
        if (f.calls[i] != 1)
            ok = 0;
        else if (where[i] == 0)
            ok = f.rc[i] == MCF_MISS; /* connected: answers as usual */
        else
            ok = f.rc[i] == MCF_ERR_RESOURCE && contains(f.msg[i], EMFILE_TEXT) &&
                 contains(f.msg[i], f.srv[1].spec);
        if (!ok && ++wrong <= MAX_REPORTED)
            t_fail(__FILE__, __LINE__,
                   "key %s on server %zu: %d callback(s), %d (%s), want %s: message '%s'",
                   keys[i], where[i], f.calls[i], f.rc[i], mcf_strerror(f.rc[i]),
                   where[i] == 0 ? "MCF_MISS" : "MCF_ERR_RESOURCE naming the server",
                   f.msg[i]);
    }
    CHECKF(wrong == 0, "%d of %d keys with a wrong outcome", wrong, NKEYS);
    /* Descriptors back: every key answers (misses: nothing was stored). */
    memset(f.calls, 0, sizeof f.calls);
    CHECK_RC(mcf_get_multi(f.c, MCF_GET, 0, kp, NULL, NKEYS, on_key, &f), MCF_OK);
    fixture_teardown(&f);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!mcserver_binary()) {
        t_skip_all("memcached is not installed");
        return t_main(argc, argv);
    }
    return t_main(argc, argv);
}
