/* test_meta_engine.c - the engine's meta protocol against a scripted
 * server: a forked child on a unix socket that, for each step, reads until
 * it has seen a given request text and then writes a canned reply.  Checks
 * that replies are matched by opaque and key, never by position: reordered
 * answers, answers naming another key, unknown or repeated opaques, and an
 * error line in a one-item pipeline.  MCF_PROTO_AUTO probes a new
 * connection with "version\r\nmn\r\n" and uses meta only when the answer
 * is MN from memcached >= 1.6.10 (or a version it cannot parse).  The _ex
 * calls' version-gated flags (E, md x): the version is asked once per
 * connection ("version\r\n", or learned from the auto probe), the flag is
 * sent to a server that has it and refused, with nothing sent, otherwise.
 * The child records every byte it read (transcript()), so a case can check
 * the whole conversation, not only that the awaited texts came by. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"

typedef struct step {
    const char *until; /* read until this text has arrived */
    const char *reply;
} step;

static char sock_path[108];
static char log_path[128];

/* Appends what the child read to log_path. */
static void log_bytes(const char *p, size_t n)
{
    FILE *f = fopen(log_path, "ab");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Serves one connection with the script, then exits.  Everything read is
 * appended to log_path as it arrives. */
static pid_t serve(const step *steps, size_t n)
{
    snprintf(sock_path, sizeof sock_path, "/tmp/mcf-meta-engine-%d.sock", (int)getpid());
    snprintf(log_path, sizeof log_path, "/tmp/mcf-meta-engine-%d.log", (int)getpid());
    unlink(sock_path);
    unlink(log_path);
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
            log_bytes(buf + have, (size_t)r);
            have += (size_t)r;
        }
        char *at = memmem(buf + seen, have - seen, steps[i].until, strlen(steps[i].until));
        seen = (size_t)(at - buf) + strlen(steps[i].until);
        if (write(fd, steps[i].reply, strlen(steps[i].reply)) < 0)
            _exit(1);
    }
    /* Keep the connection until the client closes it. */
    ssize_t r;
    while (fd >= 0 && (r = read(fd, buf, sizeof buf)) > 0)
        log_bytes(buf, (size_t)r);
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

/* After the client is freed (its connection closed): waits for the child
 * to see the end of the stream and exit (at most its 5 s alarm), then
 * copies everything it read into buf, NUL-terminated; returns the length. */
static size_t transcript(pid_t pid, char *buf, size_t cap)
{
    if (pid > 0)
        waitpid(pid, NULL, 0);
    unlink(sock_path);
    buf[0] = 0;
    FILE *f = fopen(log_path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    unlink(log_path);
    buf[n] = 0;
    return n;
}

/* How often needle occurs in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Printable form of a transcript for failure messages (CR LF as \r\n). */
static const char *show(const char *t)
{
    static char out[2048];
    size_t o = 0;
    for (; *t && o + 4 < sizeof out; t++) {
        if (*t == '\r' || *t == '\n') {
            out[o++] = '\\';
            out[o++] = *t == '\r' ? 'r' : 'n';
        } else {
            out[o++] = *t;
        }
    }
    out[o] = 0;
    return out;
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
    /* memcached 1.4/1.5: no meta commands, "mn" is an ERROR */
    const step s[] = {{"version\r\nmn\r\n", "VERSION 1.5.22\r\nERROR\r\n"},
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
    char t[4096];
    transcript(pid, t, sizeof t);
    CHECKF(strcmp(t, "version\r\nmn\r\nget a\r\n") == 0, "transcript '%s'", show(t));
}

TEST(meta_protocol_change_on_open_connection)
{
    /* meta, then text on the same connection: the option takes effect at once */
    const step s[] = {{"mg a O0 v f k q\r\nmn\r\n", "MN\r\n"},
                      {"get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"},
                      {"version\r\nmn\r\n", "VERSION 1.6.18\r\nMN\r\n"},
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

/* ---- MCF_PROTO_AUTO: the version decides ---- */

/* A server answering the auto probe with `version_line` and MN: the next
 * get is meta (mg) when want_meta, else text (get). */
static void auto_probe_case(const char *version_line, int want_meta)
{
    char probe_reply[128];
    snprintf(probe_reply, sizeof probe_reply, "%s\r\nMN\r\n", version_line);
    const step s_meta[] = {{"version\r\nmn\r\n", probe_reply},
                           {"mg a O0 v f k q\r\nmn\r\n", "VA 1 O0 ka f0\r\ny\r\nMN\r\n"}};
    const step s_text[] = {{"version\r\nmn\r\n", probe_reply},
                           {"get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"}};
    pid_t pid = serve(want_meta ? s_meta : s_text, 2);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_AUTO);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        int rc = mcf_get(c, "a", 1, &v);
        CHECKF(rc == MCF_OK && v.len == 1 && v.data[0] == (want_meta ? 'y' : 'x'),
               "%s: rc %d %s", version_line, rc, mcf_last_error(c));
        if (!want_meta) {
            /* a text connection: the _ex calls are refused, nothing is sent */
            mcf_item_info info;
            CHECK_RC(mcf_get_ex(c, "a", 1, NULL, &v, &info), MCF_ERR_NOT_SUPPORTED);
            CHECK_RC(mcf_delete_ex(c, "a", 1, NULL), MCF_ERR_NOT_SUPPORTED);
        }
    }
    mcf_free(c);
    char t[4096];
    transcript(pid, t, sizeof t);
    const char *want = want_meta ? "version\r\nmn\r\nmg a O0 v f k q\r\nmn\r\n"
                                 : "version\r\nmn\r\nget a\r\n";
    CHECKF(strcmp(t, want) == 0, "%s: transcript '%s'", version_line, show(t));
}

TEST(meta_auto_version_decides)
{
    auto_probe_case("VERSION 1.6.9", 0);  /* meta replies said OK, not HD, before 1.6.10 */
    auto_probe_case("VERSION 1.6.10", 1);
    auto_probe_case("VERSION 1.6.18", 1);
    auto_probe_case("VERSION 1.10.2", 1); /* numbers, not strings: 10 > 6 */
    auto_probe_case("VERSION 2.0.0", 1);
    auto_probe_case("VERSION 1.5.99", 0);
    auto_probe_case("VERSION custom-cache", 1); /* not memcached's numbering: MN decides */
}

/* ---- version-gated flags ---- */

/* A meta client on a server whose "version" says `vers` (>= 1.6.27, which
 * has E and md x): the flags are sent, the version asked once. */
TEST(meta_new_cas_sent_when_supported)
{
    const step s[] = {
        {"version\r\n", "VERSION 1.6.30\r\n"},
        {" E77", ""}, /* the script goes on only if E77 is in the request */
        {"mn\r\n", "VA 1 O0 ka f0 c77\r\nx\r\nMN\r\n"},
        {" x", ""}, /* md ... x */
        {"mn\r\n", "HD O0 kb\r\nMN\r\n"},
        {" E9", ""},
        {"mn\r\n", "VA 2 O0 kn c9\r\n12\r\nMN\r\n"},
        {" E5", ""},
        {"mn\r\n", "HD O0 ks c5\r\nMN\r\n"},
    };
    pid_t pid = serve(s, sizeof s / sizeof s[0]);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_META);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        mcf_item_info info;
        uint64_t nv = 0;
        int rc = mcf_get_ex(c, "a", 1, &(mcf_meta_opts){.flags = MCF_META_NEW_CAS, .new_cas = 77},
                            &v, &info);
        CHECKF(rc == MCF_OK && v.len == 1 && v.data[0] == 'x' && v.cas == 77,
               "get_ex NEW_CAS: rc %d %s", rc, mcf_last_error(c));
        rc = mcf_delete_ex(c, "b", 1, &(mcf_meta_opts){.flags = MCF_META_REMOVE_VALUE});
        CHECKF(rc == MCF_OK, "delete_ex REMOVE_VALUE: rc %d %s", rc, mcf_last_error(c));
        rc = mcf_incr_ex(c, "n", 1, 1, &(mcf_meta_opts){.flags = MCF_META_NEW_CAS, .new_cas = 9},
                         &nv, &info);
        CHECKF(rc == MCF_OK && nv == 12 && info.cas == 9, "incr_ex NEW_CAS: rc %d %s", rc,
               mcf_last_error(c));
        rc = mcf_store_ex(c, MCF_SET, "s", 1, "v", 1, 0, 0, 0,
                          &(mcf_meta_opts){.flags = MCF_META_NEW_CAS, .new_cas = 5}, &info);
        CHECKF(rc == MCF_OK && info.cas == 5, "store_ex NEW_CAS: rc %d %s", rc,
               mcf_last_error(c));
    }
    mcf_free(c);
    char t[8192];
    transcript(pid, t, sizeof t);
    CHECKF(count_of(t, "version\r\n") == 1 && strncmp(t, "version\r\n", 9) == 0,
           "the version is asked once, first: '%s'", show(t));
    CHECKF(count_of(t, "\r\nmn\r\n") == 4, "four pipelines: '%s'", show(t));
    CHECKF(contains(t, "\r\nmg a ") && contains(t, "\r\nmd b ") && contains(t, "\r\nma n ") &&
               contains(t, "\r\nms s "),
           "commands: '%s'", show(t));
}

/* A server older than the flags: every gated call is refused with the
 * version in the message, and nothing but the one version request is
 * sent; calls without the flags go on as usual. */
static void gated_refused_case(int protocol, const step *s, size_t n, const char *vers,
                               const char *want_transcript)
{
    pid_t pid = serve(s, n);
    CHECK(pid > 0);
    mcf_client *c = client(protocol);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        mcf_item_info info;
        uint64_t nv;
        char want_msg[64];
        snprintf(want_msg, sizeof want_msg, "(version %s)", vers);
        const mcf_meta_opts nc = {.flags = MCF_META_NEW_CAS, .new_cas = 77};
        const mcf_meta_opts rv = {.flags = MCF_META_REMOVE_VALUE};
        int rc[6];
        const char *what[6] = {"get_ex NEW_CAS", "store_ex NEW_CAS", "delete_ex NEW_CAS",
                               "delete_ex REMOVE_VALUE", "incr_ex NEW_CAS", "decr_ex NEW_CAS"};
        for (int i = 0; i < 6; i++) {
            switch (i) {
            case 0: rc[i] = mcf_get_ex(c, "a", 1, &nc, &v, &info); break;
            case 1: rc[i] = mcf_store_ex(c, MCF_SET, "a", 1, "v", 1, 0, 0, 0, &nc, &info); break;
            case 2: rc[i] = mcf_delete_ex(c, "a", 1, &nc); break;
            case 3: rc[i] = mcf_delete_ex(c, "a", 1, &rv); break;
            case 4: rc[i] = mcf_incr_ex(c, "a", 1, 1, &nc, &nv, &info); break;
            default: rc[i] = mcf_decr_ex(c, "a", 1, 1, &nc, &nv, &info); break;
            }
            const char *m = mcf_last_error(c);
            CHECKF(rc[i] == MCF_ERR_NOT_SUPPORTED && contains(m, "not supported by server") &&
                       contains(m, want_msg),
                   "%s on %s: rc %d '%s'", what[i], vers, rc[i], m);
        }
        /* the connection is in step: a plain get is a plain mg */
        CHECK_RC(mcf_get(c, "a", 1, &v), MCF_MISS);
    }
    mcf_free(c);
    char t[4096];
    transcript(pid, t, sizeof t);
    CHECKF(strcmp(t, want_transcript) == 0, "%s: transcript '%s'", vers, show(t));
}

TEST(meta_new_cas_refused_by_old_server)
{
    const char *plain_get = "mg a O0 v f k q\r\nmn\r\n";
    char want[256];
    snprintf(want, sizeof want, "version\r\n%s", plain_get);
    const step s165[] = {{"version\r\n", "VERSION 1.6.5\r\n"}, {plain_get, "MN\r\n"}};
    gated_refused_case(MCF_PROTO_META, s165, 2, "1.6.5", want);
    const step s1618[] = {{"version\r\n", "VERSION 1.6.18\r\n"}, {plain_get, "MN\r\n"}};
    gated_refused_case(MCF_PROTO_META, s1618, 2, "1.6.18", want);
    const step s1620[] = {{"version\r\n", "VERSION 1.6.20\r\n"}, {plain_get, "MN\r\n"}};
    gated_refused_case(MCF_PROTO_META, s1620, 2, "1.6.20", want);
    /* auto: the probe's version is used; no second version request */
    snprintf(want, sizeof want, "version\r\nmn\r\n%s", plain_get);
    const step sauto[] = {{"version\r\nmn\r\n", "VERSION 1.6.18\r\nMN\r\n"},
                          {plain_get, "MN\r\n"}};
    gated_refused_case(MCF_PROTO_AUTO, sauto, 2, "1.6.18", want);
}

/* auto on a new-enough server: the probe's version lets E through at once. */
TEST(meta_auto_new_cas_uses_probe_version)
{
    const step s[] = {{"version\r\nmn\r\n", "VERSION 1.6.30\r\nMN\r\n"},
                      {" E9", ""},
                      {"mn\r\n", "MN\r\n"}};
    pid_t pid = serve(s, 3);
    CHECK(pid > 0);
    mcf_client *c = client(MCF_PROTO_AUTO);
    CHECK(c != NULL);
    if (c) {
        mcf_value v;
        mcf_item_info info;
        int rc = mcf_get_ex(c, "a", 1, &(mcf_meta_opts){.flags = MCF_META_NEW_CAS, .new_cas = 9},
                            &v, &info);
        CHECKF(rc == MCF_MISS, "get_ex NEW_CAS: rc %d %s", rc, mcf_last_error(c));
    }
    mcf_free(c);
    char t[4096];
    transcript(pid, t, sizeof t);
    CHECKF(count_of(t, "version\r\n") == 1 && strncmp(t, "version\r\nmn\r\nmg a ", 17) == 0,
           "transcript '%s'", show(t));
}

/* Answers to the version request that are not one: a protocol error that
 * names the exchange, the connection closed, nothing else sent.  A long
 * version is shown from its start and still gates by its number. */
static void version_answer_case(int protocol, const char *req, const char *answer,
                                int want_rc, const char *want_msg)
{
    const step s[] = {{req, answer}};
    pid_t pid = serve(s, 1);
    CHECK(pid > 0);
    mcf_client *c = client(protocol);
    CHECK(c != NULL);
    if (c) {
        const mcf_meta_opts nc = {.flags = MCF_META_NEW_CAS, .new_cas = 77};
        mcf_value v;
        int rc = mcf_get_ex(c, "a", 1, &nc, &v, NULL);
        CHECKF(rc == want_rc && contains(mcf_last_error(c), want_msg), "answer '%s': rc %d '%s'",
               show(answer), rc, mcf_last_error(c));
    }
    mcf_free(c);
    char t[4096];
    transcript(pid, t, sizeof t);
    CHECKF(strcmp(t, req) == 0, "answer '%s': transcript '%s'", show(answer), show(t));
}

TEST(meta_version_answer_checked)
{
    version_answer_case(MCF_PROTO_META, "version\r\n", "ERROR\r\n", MCF_ERR_PROTOCOL,
                        "version request: unexpected answer");
    version_answer_case(MCF_PROTO_META, "version\r\n", "VERSION\r\n", MCF_ERR_PROTOCOL,
                        "version request: unexpected answer");
    version_answer_case(MCF_PROTO_AUTO, "version\r\nmn\r\n", "HELLO\r\nMN\r\n",
                        MCF_ERR_PROTOCOL, "protocol probe (version, mn): unexpected answer");
    version_answer_case(MCF_PROTO_AUTO, "version\r\nmn\r\n", "VERSION 1.6.18\r\nOK\r\n",
                        MCF_ERR_PROTOCOL, "protocol probe (version, mn): unexpected answer");
    version_answer_case(MCF_PROTO_META, "version\r\n",
                        "VERSION 1.6.18-a-very-long-build-suffix-here\r\n",
                        MCF_ERR_NOT_SUPPORTED, "(version 1.6.18-a-very-long-build-suffix)");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    return t_main(argc, argv);
}
