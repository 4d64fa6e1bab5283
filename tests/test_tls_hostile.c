/* test_tls_hostile.c - TLS against peers that misbehave, and protocol
 * mismatches:
 *   - a hostile TLS peer (tlsfix.c, threads of this process) that accepts
 *     TCP and never handshakes, that handshakes and then answers garbage
 *     (inside TLS records, or as bytes that are not TLS), that closes in the
 *     middle of a record, or that answers the ClientHello with a plaintext
 *     "ERROR\r\n";
 *   - a TLS client against a plaintext memcached, a plaintext client
 *     against memcached -Z.
 * Each gives a typed error within the deadline (connect or I/O timeout
 * plus slack), naming the server; then the same client works against the
 * same server entry (the peer's next connection is TLS in front of a real
 * memcached), and no descriptor is left open after mcf_free and the peer's end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"
#include "tlsfix.h"

/* rc is one of the n codes in want. */
static int rc_in(int rc, const int *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == want[i])
            return 1;
    return 0;
}

static void print_want(char *out, size_t cap, const int *want, size_t n)
{
    size_t off = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && off < cap; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%d (%s)", i ? " or " : "", want[i],
                                mcf_strerror(want[i]));
}

/* One call through c on the peer's server: an error in want, within the
 * deadline, naming spec.  Returns the message (the client's buffer). */
static const char *expect_error(mcf_client *c, const char *spec, int set, const int *want,
                                size_t nwant)
{
    mcf_value v;
    double t0 = now_ms();
    int rc = set ? mcf_set(c, KS("hk"), "v", 1, 0, 0) : mcf_get(c, KS("hk"), &v);
    double ms = now_ms() - t0;
    const char *msg = mcf_last_error(c);
    printf("INFO: %s: %s: rc %d (%s) after %.0f ms: %s\n", t_case_name, set ? "set" : "get", rc,
           mcf_strerror(rc), ms, msg);
    char w[256];
    print_want(w, sizeof w, want, nwant);
    CHECKF(rc_in(rc, want, nwant), "rc %d (%s), want %s: %s", rc, mcf_strerror(rc), w, msg);
    /* Connect timeout, then (for errors after the handshake) the I/O timeout. */
    CHECKF(ms < 2 * TLS_TIMEOUT_MS + TLS_SLACK_MS, "took %.0f ms (timeouts %d ms)", ms,
           TLS_TIMEOUT_MS);
    CHECKF(contains(msg, spec + (strncmp(spec, "tls:", 4) == 0 ? 4 : 0)),
           "message does not name %s: %s", spec, msg);
    return msg;
}

static void hostile_case(tls_peer_mode mode, int set, const int *want, size_t nwant)
{
    mcserver backend;
    if (mcserver_start_tcp(&backend, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    int fds0 = count_fds();
    tls_peer *p = tls_peer_start(&backend);
    if (!p) {
        mcserver_stop(&backend);
        return;
    }
    char spec[64];
    snprintf(spec, sizeof spec, "tls:127.0.0.1:%d", tls_peer_port(p));
    mcf_client *c = tls_client(spec, NULL, MCF_PROTO_TEXT);
    if (c) {
        tls_peer_next(p, mode);
        expect_error(c, spec, set, want, nwant);
        /* The next connection is a good server. */
        tls_roundtrip(c, "after-hostile", 1000);
        tls_roundtrip(c, "after-hostile-big", 100000);
        CHECKF(tls_peer_accepted(p) == 2, "%d connections, want 2 (the hostile one, then one)",
               tls_peer_accepted(p));
        /* And once more, the same misbehaviour on a later connection. */
        mcf_disconnect_all(c);
        tls_peer_next(p, mode);
        expect_error(c, spec, set, want, nwant);
        tls_roundtrip(c, "after-hostile", 1000);
        mcf_free(c);
    }
    tls_peer_stop(p); /* its connections' descriptors are ours too: counted after it */
    int fds_end = count_fds();
    CHECKF(fds_end == fds0, "%d descriptors at the end, %d at the start", fds_end, fds0);
    mcserver_stop(&backend);
}

/* The handshake never completes: the connect deadline ends it. */
TEST(tls_hostile_silent)
{
    static const int want[] = {MCF_ERR_TIMEOUT};
    hostile_case(TP_SILENT, 0, want, 1);
}

TEST(tls_hostile_garbage_in_records)
{
    static const int want[] = {MCF_ERR_PROTOCOL};
    hostile_case(TP_GARBAGE_APP, 0, want, 1);
}

TEST(tls_hostile_garbage_in_records_set)
{
    static const int want[] = {MCF_ERR_PROTOCOL};
    hostile_case(TP_GARBAGE_APP, 1, want, 1);
}

TEST(tls_hostile_garbage_not_tls)
{
    static const int want[] = {MCF_ERR_TLS, MCF_ERR_IO, MCF_ERR_PROTOCOL};
    hostile_case(TP_GARBAGE_RAW, 0, want, 3);
}

TEST(tls_hostile_close_mid_record)
{
    static const int want[] = {MCF_ERR_TLS, MCF_ERR_IO};
    hostile_case(TP_CLOSE_MID_RECORD, 0, want, 2);
}

TEST(tls_hostile_close_mid_record_set)
{
    static const int want[] = {MCF_ERR_TLS, MCF_ERR_IO};
    hostile_case(TP_CLOSE_MID_RECORD, 1, want, 2);
}

/* What a plaintext memcached does with a ClientHello that holds a line
 * end; the message should say a plaintext server answered. */
TEST(tls_hostile_plaintext_answer)
{
    static const int want[] = {MCF_ERR_TLS, MCF_ERR_PROTOCOL, MCF_ERR_IO};
    hostile_case(TP_PLAINTEXT_ERROR, 0, want, 3);
}

/* A close with nothing said during the handshake is the connection
 * failing (a memcached killed or restarting), as over plain TCP: it is
 * MCF_ERR_CONNECT, not a TLS failure, and says the server closed. */
TEST(tls_hostile_close_at_hello)
{
    static const int want[] = {MCF_ERR_CONNECT};
    hostile_case(TP_CLOSE_AT_HELLO, 0, want, 1);
    mcserver backend;
    if (mcserver_start_tcp(&backend, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    tls_peer *p = tls_peer_start(&backend);
    if (p) {
        char spec[64];
        snprintf(spec, sizeof spec, "tls:127.0.0.1:%d", tls_peer_port(p));
        mcf_client *c = tls_client(spec, NULL, MCF_PROTO_TEXT);
        if (c) {
            tls_peer_next(p, TP_CLOSE_AT_HELLO);
            const char *msg = expect_error(c, spec, 1, want, 1);
            CHECKF(contains(msg, "handshake") && contains(msg, "closed the connection"),
                   "the message does not say the server closed during the handshake: %s", msg);
            mcf_free(c);
        }
        tls_peer_stop(p);
    }
    mcserver_stop(&backend);
}

/* ------------------------------------------------------------------ */
/* Protocol mismatches with real memcached                             */
/* ------------------------------------------------------------------ */

/* tls: against a plaintext memcached: it reads the ClientHello as a
 * command (no line end: it waits; one in it: ERROR), so the handshake
 * fails or times out. */
static void tls_to_plain(int proto)
{
    mcserver s;
    if (mcserver_start_tcp(&s, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    char spec[200];
    snprintf(spec, sizeof spec, "tls:%s", s.spec);
    mcf_client *c = tls_client(spec, NULL, proto);
    if (c) {
        static const int want[] = {MCF_ERR_TLS, MCF_ERR_TIMEOUT, MCF_ERR_PROTOCOL, MCF_ERR_IO};
        expect_error(c, spec, 0, want, 4);
        expect_error(c, spec, 1, want, 4);
        /* The same server without TLS works from another client. */
        mcf_client *plain = mcf_new();
        CHECK_RC(mcf_set_servers(plain, s.spec), MCF_OK);
        CHECK_RC(mcf_set(plain, KS("plain"), "v", 1, 0, 0), MCF_OK);
        mcf_free(plain);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_client_to_plaintext_server_text) { tls_to_plain(MCF_PROTO_TEXT); }
TEST(tls_client_to_plaintext_server_auto) { tls_to_plain(MCF_PROTO_AUTO); }

/* A plaintext client on memcached -Z: memcached's handshake fails on the
 * request bytes and it closes (after a TLS alert).  The message should say
 * that a TLS port was reached without TLS. */
static void plain_to_tls(int proto)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    mcf_client *c = mcf_new();
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TLS_TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, TLS_TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_PROTOCOL, proto);
    CHECK_RC(mcf_set_servers(c, s.spec), MCF_OK);
    static const int want[] = {MCF_ERR_IO, MCF_ERR_PROTOCOL, MCF_ERR_TLS, MCF_ERR_TIMEOUT};
    const char *msg = expect_error(c, s.spec, 0, want, 4);
    CHECKF(strstr(msg, "TLS") != NULL, "the message does not mention TLS: %s", msg);
    expect_error(c, s.spec, 1, want, 4);
    mcf_free(c);
    mcserver_stop(&s);
}

TEST(tls_plaintext_client_to_tls_server_text) { plain_to_tls(MCF_PROTO_TEXT); }
TEST(tls_plaintext_client_to_tls_server_meta) { plain_to_tls(MCF_PROTO_META); }
TEST(tls_plaintext_client_to_tls_server_auto) { plain_to_tls(MCF_PROTO_AUTO); }

int main(int argc, char **argv) { return tls_tests_main(argc, argv); }
