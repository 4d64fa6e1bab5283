/* test_meta_engine.c - the engine's meta protocol against a scripted
 * server: a forked child on a unix socket that, for each step, reads until
 * it has seen a given request text and then writes a canned reply.  Checks
 * that replies are matched by opaque and key, never by position: reordered
 * answers, answers naming another key, unknown or repeated opaques, and an
 * error line in a one-item pipeline; and that MCF_PROTO_AUTO falls back to
 * text on a server that answers "mn" with ERROR. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "mcfast.h"

typedef struct step {
    const char *until; /* read until this text has arrived */
    const char *reply;
} step;

static char sock_path[108];

/* Serves one connection with the script, then exits. */
static pid_t serve(const step *steps, size_t n)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/mcf-meta-engine-%d.sock", (int)getpid());
    unlink(sock_path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0)
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(l);
        return pid;
    }
    alarm(5);
    int fd = accept(l, NULL, NULL);
    static char buf[65536];
    size_t have = 0, seen = 0;
    for (size_t i = 0; i < n && fd >= 0; i++) {
        while (!memmem(buf + seen, have - seen, steps[i].until, strlen(steps[i].until))) {
            ssize_t r = read(fd, buf + have, sizeof buf - have - 1);
            if (r <= 0)
                _exit(0);
            have += (size_t)r;
        }
        char *at = memmem(buf + seen, have - seen, steps[i].until, strlen(steps[i].until));
        seen = (size_t)(at - buf) + strlen(steps[i].until);
        if (write(fd, steps[i].reply, strlen(steps[i].reply)) < 0)
            _exit(1);
    }
    /* Keep the connection until the client closes it. */
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
    }
    _exit(0);
}

static void reap(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    unlink(sock_path);
}

static mcf_client *client(int protocol)
{
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, sock_path) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_PROTOCOL, protocol) != MCF_OK ||
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 2000) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    return c;
}

typedef struct rec {
    int rc[4];
    int calls[4];
    char val[4][16];
} rec;

static void rec_cb(void *ctx, size_t i, int rc, const mcf_value *v)
{
    rec *r = ctx;
    if (i >= 4)
        return;
    r->calls[i]++;
    r->rc[i] = rc;
    if (v && v->len < sizeof r->val[i]) {
        memcpy(r->val[i], v->data, v->len);
        r->val[i][v->len] = 0;
    }
}

static const char *const abc[] = {"a", "b", "c"};

/* Runs a 3-key multi get against a script; returns the call's rc. */
static int multi_get(const step *steps, size_t n, rec *r)
{
    memset(r, 0, sizeof *r);
    pid_t pid = serve(steps, n);
    if (pid < 0)
        return -1000;
    mcf_client *c = client(MCF_PROTO_META);
    int rc = c ? mcf_get_multi(c, MCF_GET, 0, abc, NULL, 3, rec_cb, r) : -1001;
    mcf_free(c);
    reap(pid);
    return rc;
}

TEST(meta_reordered_replies)
{
    /* c then a (b is a miss: nothing sent), against request order */
    const step s[] = {{"mn\r\n", "VA 2 O2 kc f0\r\nvc\r\nVA 2 O0 ka f3\r\nva\r\nMN\r\n"}};
    rec r;
    CHECK_RC(multi_get(s, 1, &r), MCF_OK);
    CHECK(r.calls[0] == 1 && r.calls[1] == 1 && r.calls[2] == 1);
    CHECK(r.rc[0] == MCF_OK && strcmp(r.val[0], "va") == 0);
    CHECK(r.rc[1] == MCF_MISS);
    CHECK(r.rc[2] == MCF_OK && strcmp(r.val[2], "vc") == 0);
}

TEST(meta_requests_are_quiet_with_opaque)
{
    rec r;
    /* the script only goes on if the requests are exactly these */
    const step s[] = {{"mg a O0 v f k q\r\nmg b O1 v f k q\r\nmg c O2 v f k q\r\nmn\r\n", "MN\r\n"}};
    CHECK_RC(multi_get(s, 1, &r), MCF_OK);
    CHECK(r.rc[0] == MCF_MISS && r.rc[1] == MCF_MISS && r.rc[2] == MCF_MISS);
}

TEST(meta_opaque_names_other_key)
{
    /* O0 is "a" but the reply names b: never handed to a (nor to b) */
    const step s[] = {{"mn\r\n", "VA 2 O0 kb\r\nvb\r\nMN\r\n"}};
    rec r;
    CHECK_RC(multi_get(s, 1, &r), MCF_ERR_PROTOCOL);
    for (int i = 0; i < 3; i++)
        CHECKF(r.calls[i] == 1 && r.rc[i] == MCF_ERR_PROTOCOL, "key %d: rc %d", i, r.rc[i]);
}

TEST(meta_unknown_or_repeated_opaque)
{
    rec r;
    const step s1[] = {{"mn\r\n", "VA 2 O7 ka\r\nva\r\nMN\r\n"}};
    CHECK_RC(multi_get(s1, 1, &r), MCF_ERR_PROTOCOL);
    CHECK(r.rc[0] == MCF_ERR_PROTOCOL);
    const step s2[] = {{"mn\r\n", "VA 2 O0 ka\r\nva\r\nVA 2 O0 ka\r\nva\r\nMN\r\n"}};
    CHECK_RC(multi_get(s2, 1, &r), MCF_ERR_PROTOCOL);
    CHECK(r.calls[0] == 1 && r.rc[0] == MCF_OK); /* delivered once, before the repeat */
    CHECK(r.rc[1] == MCF_ERR_PROTOCOL && r.rc[2] == MCF_ERR_PROTOCOL);
    const step s3[] = {{"mn\r\n", "VA 2 ka\r\nva\r\nMN\r\n"}}; /* no opaque at all */
    CHECK_RC(multi_get(s3, 1, &r), MCF_ERR_PROTOCOL);
}

TEST(meta_single_store_error_placed)
{
    /* one item: the error line can only be its own; the stream goes on */
    const step s[] = {{"mn\r\n", "SERVER_ERROR out of memory storing object\r\nMN\r\n"},
                      {"mn\r\n", "VA 1 O0 kk f0\r\nx\r\nMN\r\n"}};
    pid_t pid = serve(s, 2);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_META);
    CHECK(c != NULL);
    if (c) {
        CHECK_RC(mcf_set(c, "k", 1, "x", 1, 0, 0), MCF_ERR_SERVER);
        mcf_value v;
        CHECK_RC(mcf_get(c, "k", 1, &v), MCF_OK);
        CHECK(v.len == 1 && v.data[0] == 'x');
    }
    mcf_free(c);
    reap(pid);
}

TEST(meta_auto_falls_back_to_text)
{
    const step s[] = {{"mn\r\n", "ERROR\r\n"},
                      {"get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"}};
    pid_t pid = serve(s, 2);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_AUTO);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        CHECKF(mcf_get(c, "a", 1, &v) == MCF_OK && v.len == 1 && v.data[0] == 'x', "%s",
               mcf_last_error(c));
    }
    mcf_free(c);
    reap(pid);
}

TEST(meta_protocol_change_on_open_connection)
{
    /* meta, then text on the same connection: the option takes effect at once */
    const step s[] = {{"mg a O0 v f k q\r\nmn\r\n", "MN\r\n"},
                      {"get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"},
                      {"mn\r\n", "MN\r\n"},
                      {"mg a O0 v f k q\r\nmn\r\n", "VA 1 O0 ka f0\r\ny\r\nMN\r\n"}};
    pid_t pid = serve(s, 4);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_META);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        CHECK_RC(mcf_get(c, "a", 1, &v), MCF_MISS);
        CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_TEXT), MCF_OK);
        CHECKF(mcf_get(c, "a", 1, &v) == MCF_OK && v.len == 1 && v.data[0] == 'x', "%s",
               mcf_last_error(c));
        /* auto probes the open connection */
        CHECK_RC(mcf_set_option(c, MCF_OPT_PROTOCOL, MCF_PROTO_AUTO), MCF_OK);
        CHECKF(mcf_get(c, "a", 1, &v) == MCF_OK && v.len == 1 && v.data[0] == 'y', "%s",
               mcf_last_error(c));
    }
    mcf_free(c);
    reap(pid);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    RUN(meta_reordered_replies);
    RUN(meta_requests_are_quiet_with_opaque);
    RUN(meta_opaque_names_other_key);
    RUN(meta_unknown_or_repeated_opaque);
    RUN(meta_single_store_error_placed);
    RUN(meta_auto_falls_back_to_text);
    RUN(meta_protocol_change_on_open_connection);
    return t_exit_code();
}
