/* test_tls_verify.c - who is trusted, against real memcached -Z:
 *   - mutual TLS (memcached ssl_verify_mode=2): with a client certificate
 *     it works, without one the error names the server and "certificate";
 *   - refusals with OpenSSL's reason: a wrong CA, an expired certificate,
 *     a host name or IP address the certificate does not name, a
 *     self-signed certificate (unless insecure), the system trust store by
 *     default;
 *   - an IP-literal spec verified against the certificate's IP SAN, the
 *     server_name option, a CA directory (ca_path);
 *   - bad configuration refused by mcf_set_tls itself, before anything is
 *     sent (a hostile peer counts the connections: none).
 * Every refusal also checks that the error comes within the connect
 * deadline and that the client then works against a good server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcserver.h"
#include "tlsfix.h"

static int icontains(const char *hay, const char *needle)
{
    if (!hay || !needle)
        return 0;
    for (size_t n = strlen(needle); *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

/* A get on server spec with options o fails with want_rc (0: any error)
 * within the deadline, and the message names the spec and each of the
 * `reasons` (case-insensitive; NULL-terminated).  Then the same client, pointed at a good TLS server (when
 * its options can verify server.pem: then_good), works. */
static void refused(const char *spec, const mcf_tls_options *o, int want_rc,
                    const char *const *reasons, int then_good)
{
    mcf_client *c = tls_client(spec, o, MCF_PROTO_TEXT);
    if (!c)
        return;
    mcf_value v;
    double t0 = now_ms();
    int rc = mcf_get(c, KS("k"), &v);
    double ms = now_ms() - t0;
    const char *msg = mcf_last_error(c);
    printf("INFO: %s: %s: rc %d (%s) after %.0f ms: %s\n", t_case_name, spec, rc,
           mcf_strerror(rc), ms, msg);
    if (want_rc)
        CHECKF(rc == want_rc, "rc %d (%s), want %d (%s): %s", rc, mcf_strerror(rc), want_rc,
               mcf_strerror(want_rc), msg);
    else
        CHECKF(rc != MCF_OK && rc != MCF_MISS, "rc %d: the connection was accepted", rc);
    CHECKF(ms < TLS_TIMEOUT_MS + TLS_SLACK_MS, "took %.0f ms (connect timeout %d ms)", ms,
           TLS_TIMEOUT_MS);
    /* The server as configured: the spec, or at least its host:port. */
    const char *hostport = strncmp(spec, "tls:", 4) == 0 ? spec + 4 : spec;
    CHECKF(contains(msg, hostport), "message does not name %s: %s", hostport, msg);
    for (size_t i = 0; reasons && reasons[i]; i++)
        CHECKF(icontains(msg, reasons[i]), "message lacks '%s': %s", reasons[i], msg);

    /* The same client against a good server. */
    mcserver good;
    if (then_good && tls_server_start(&good, "127.0.0.1", "server", NULL) == 0) {
        char list[300];
        snprintf(list, sizeof list, "tls:127.0.0.1:%d", good.port);
        rc = mcf_set_servers(c, list);
        CHECKF(rc == MCF_OK, "mcf_set_servers(%s) = %d", list, rc);
        tls_roundtrip(c, "after-refusal", 100);
        mcserver_stop(&good);
    }
    mcf_free(c);
}

/* ------------------------------------------------------------------ */
/* Mutual TLS                                                          */
/* ------------------------------------------------------------------ */

static int mtls_server(mcserver *s)
{
    char opts[600];
    snprintf(opts, sizeof opts, "ssl_ca_cert=%s,ssl_verify_mode=2", tls_file("ca.pem"));
    return tls_server_start(s, "127.0.0.1", "server", opts);
}

/* A client certificate, and reconnects.  memcached 1.6.18 with
 * ssl_verify_mode=2 and without ssl_session_cache refuses a resumed
 * session ("internal error" alert: it sets no session id context), so the
 * reconnects there must still work (a full handshake); with
 * ssl_session_cache they resume. */
static void mtls_case(const char *more_opts, int want_resumed)
{
    mcserver s;
    char opts[700];
    snprintf(opts, sizeof opts, "ssl_ca_cert=%s,ssl_verify_mode=2%s%s", tls_file("ca.pem"),
             more_opts ? "," : "", more_opts ? more_opts : "");
    if (tls_server_start(&s, "127.0.0.1", "server", opts) < 0)
        return;
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", tls_file("client.pem"));
    snprintf(key, sizeof key, "%s", tls_file("client.key"));
    mcf_tls_options o = tls_opts();
    o.cert_file = cert;
    o.key_file = key;
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "mtls", 1000);
        tls_roundtrip(c, "mtls-big", 200000);
        for (int i = 1; i <= 3; i++) {
            mcf_disconnect_all(c);
            tls_roundtrip(c, "mtls", 1000);
            mcf_server_info info;
            if (mcf_server_info_get(c, 0, &info) == MCF_OK && want_resumed)
                CHECKF(info.tls_resumed == 1, "reconnect %d: not resumed", i);
        }
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_mtls_with_cert) { mtls_case(NULL, 0); }
TEST(tls_mtls_with_cert_session_cache) { mtls_case("ssl_session_cache", 1); }

/* The certificate and the key in one file, key_file NULL. */
TEST(tls_mtls_cert_and_key_in_one_file)
{
    mcserver s;
    if (mtls_server(&s) < 0)
        return;
    char both[600];
    snprintf(both, sizeof both, "%s/client-both.pem", tls_dir());
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", tls_file("client.pem"),
             tls_file("client.key"), both);
    CHECK(system(cmd) == 0);
    mcf_tls_options o = tls_opts();
    o.cert_file = both;
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "mtls-one-file", 100);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

/* memcached requires a certificate; the client has none.  In TLS 1.3 the
 * client's handshake ends before the server checks: the refusal (alert
 * "certificate required") comes with the first read. */
TEST(tls_mtls_without_cert)
{
    mcserver s;
    if (mtls_server(&s) < 0)
        return;
    static const char *const why[] = {"certificate", NULL};
    refused(tls_spec(&s), NULL, MCF_ERR_TLS, why, 1);
    mcserver_stop(&s);
}

/* A client certificate from another CA. */
TEST(tls_mtls_wrong_client_cert)
{
    mcserver s;
    if (mtls_server(&s) < 0)
        return;
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", tls_file("selfsigned.pem"));
    snprintf(key, sizeof key, "%s", tls_file("selfsigned.key"));
    mcf_tls_options o = tls_opts();
    o.cert_file = cert;
    o.key_file = key;
    /* OpenSSL's alert text: "tlsv1 alert unknown ca". */
    static const char *const why[] = {"unknown ca", NULL};
    refused(tls_spec(&s), &o, MCF_ERR_TLS, why, 0);
    mcserver_stop(&s);
}

/* ------------------------------------------------------------------ */
/* The server's certificate                                            */
/* ------------------------------------------------------------------ */

TEST(tls_wrong_ca)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    char ca2[512];
    snprintf(ca2, sizeof ca2, "%s", tls_file("ca2.pem"));
    mcf_tls_options o = tls_opts();
    o.ca_file = ca2;
    static const char *const why[] = {"unable to get local issuer certificate", NULL};
    refused(tls_spec(&s), &o, MCF_ERR_TLS, why, 0);
    mcserver_stop(&s);
}

/* Verification is on by default, against the system trust store, which
 * does not hold the test CA. */
TEST(tls_default_trust_store_refuses_test_ca)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    mcf_tls_options o;
    memset(&o, 0, sizeof o);
    static const char *const why[] = {"verif", NULL};
    refused(tls_spec(&s), &o, MCF_ERR_TLS, why, 0);
    /* mcf_set_tls never called: the defaults, as documented. */
    mcf_client *c = mcf_new();
    /* The default context reads the whole system bundle at the first
     * connect: slow under valgrind.  The case is about the code. */
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, 10 * TLS_TIMEOUT_MS);
    mcf_set_servers(c, tls_spec(&s));
    mcf_value v;
    int rc = mcf_get(c, KS("k"), &v);
    CHECKF(rc == MCF_ERR_TLS, "without mcf_set_tls: rc %d (%s), want MCF_ERR_TLS: %s", rc,
           mcf_strerror(rc), mcf_last_error(c));
    mcf_free(c);
    mcserver_stop(&s);
}

TEST(tls_expired_cert)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "expired", NULL) < 0)
        return;
    static const char *const why[] = {"expired", NULL};
    refused(tls_spec(&s), NULL, MCF_ERR_TLS, why, 1);
    mcserver_stop(&s);
}

/* tls:localhost against a certificate for wrong.example only. */
TEST(tls_wrong_host_name)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "wrongname", NULL) < 0)
        return;
    char spec[200];
    snprintf(spec, sizeof spec, "tls:localhost:%d", s.port);
    static const char *const why[] = {"mismatch", NULL};
    refused(spec, NULL, MCF_ERR_TLS, why, 1);
    mcserver_stop(&s);
}

/* An IP literal is checked against the IP SAN: server.pem has 127.0.0.1
 * and ::1; wrongname.pem has no IP at all. */
TEST(tls_ip_literal_matches_ip_san)
{
    mcserver v4, v6;
    if (tls_server_start(&v4, "127.0.0.1", "server", NULL) < 0)
        return;
    if (tls_server_start(&v6, "::1", "server", NULL) < 0) {
        mcserver_stop(&v4);
        return;
    }
    char list[300];
    snprintf(list, sizeof list, "%s,%s", tls_spec(&v4), tls_spec(&v6));
    mcf_client *c = tls_client(list, NULL, MCF_PROTO_TEXT);
    if (c) {
        for (int i = 0; i < 20; i++) { /* keys on both servers */
            char key[32];
            snprintf(key, sizeof key, "ip%d", i);
            tls_roundtrip(c, key, 10);
        }
        mcf_free(c);
    }
    mcserver_stop(&v4);
    mcserver_stop(&v6);
}

TEST(tls_ip_literal_without_ip_san)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "wrongname", NULL) < 0)
        return;
    static const char *const why[] = {"mismatch", NULL};
    refused(tls_spec(&s), NULL, MCF_ERR_TLS, why, 1);
    mcserver_stop(&s);
}

/* server_name replaces the spec's host for verification (and SNI). */
TEST(tls_server_name_option)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "wrongname", NULL) < 0)
        return;
    mcf_tls_options o = tls_opts();
    o.server_name = "wrong.example";
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "sni", 10);
        mcf_free(c);
    }
    /* And a name the certificate lacks is refused even for an IP spec. */
    o.server_name = "other.example";
    static const char *const why[] = {"mismatch", NULL};
    refused(tls_spec(&s), &o, MCF_ERR_TLS, why, 0);
    mcserver_stop(&s);
}

TEST(tls_ca_path)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "server", NULL) < 0)
        return;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tls_file("capath"));
    mcf_tls_options o;
    memset(&o, 0, sizeof o);
    o.ca_path = dir;
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "capath", 10);
        mcf_free(c);
    }
    mcserver_stop(&s);
}

TEST(tls_selfsigned_insecure)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "selfsigned", NULL) < 0)
        return;
    mcf_tls_options o = tls_opts();
    o.insecure = 1;
    mcf_client *c = tls_client(tls_spec(&s), &o, MCF_PROTO_TEXT);
    if (c) {
        tls_roundtrip(c, "insecure", 100);
        mcf_free(c);
    }
    /* insecure also skips the name: wrongname.pem through tls:localhost. */
    mcserver w;
    if (tls_server_start(&w, "127.0.0.1", "wrongname", NULL) == 0) {
        char spec[200];
        snprintf(spec, sizeof spec, "tls:localhost:%d", w.port);
        c = tls_client(spec, &o, MCF_PROTO_TEXT);
        if (c) {
            tls_roundtrip(c, "insecure-name", 100);
            mcf_free(c);
        }
        mcserver_stop(&w);
    }
    mcserver_stop(&s);
}

TEST(tls_selfsigned_refused)
{
    mcserver s;
    if (tls_server_start(&s, "127.0.0.1", "selfsigned", NULL) < 0)
        return;
    static const char *const why[] = {"self", NULL};
    refused(tls_spec(&s), NULL, MCF_ERR_TLS, why, 1);
    mcserver_stop(&s);
}

/* ------------------------------------------------------------------ */
/* Bad configuration: refused by mcf_set_tls, nothing sent             */
/* ------------------------------------------------------------------ */

/* mcf_set_tls(o) on a client whose only server is a hostile peer fails
 * with MCF_ERR_TLS naming `named`; the peer saw no connection. */
static void bad_config(const mcf_tls_options *o, const char *named)
{
    mcserver backend;
    if (mcserver_start_tcp(&backend, "127.0.0.1", NULL) < 0) {
        t_fail(__FILE__, __LINE__, "cannot start memcached");
        return;
    }
    tls_peer *p = tls_peer_start(&backend);
    if (!p) {
        mcserver_stop(&backend);
        return;
    }
    mcf_client *c = mcf_new();
    char spec[64];
    snprintf(spec, sizeof spec, "tls:127.0.0.1:%d", tls_peer_port(p));
    CHECK_RC(mcf_set_servers(c, spec), MCF_OK);
    int rc = mcf_set_tls(c, o);
    const char *msg = mcf_last_error(c);
    printf("INFO: %s: mcf_set_tls = %d (%s): %s\n", t_case_name, rc, mcf_strerror(rc), msg);
    CHECKF(rc == MCF_ERR_TLS, "mcf_set_tls = %d (%s), want MCF_ERR_TLS", rc, mcf_strerror(rc));
    CHECKF(contains(msg, named), "message does not name '%s': %s", named, msg);
    sleep_ms(50); /* a connect would have been accepted by now */
    CHECKF(tls_peer_accepted(p) == 0, "%d connections reached the server",
           tls_peer_accepted(p));
    /* A good configuration afterwards works. */
    mcf_tls_options good = tls_opts();
    CHECK_RC(mcf_set_tls(c, &good), MCF_OK);
    tls_roundtrip(c, "after-bad-config", 10);
    mcf_free(c);
    tls_peer_stop(p);
    mcserver_stop(&backend);
}

TEST(tls_config_missing_ca_file)
{
    mcf_tls_options o = tls_opts();
    char missing[512];
    snprintf(missing, sizeof missing, "%s", tls_file("no-such-ca.pem"));
    o.ca_file = missing;
    bad_config(&o, missing);
}

TEST(tls_config_missing_ca_path)
{
    mcf_tls_options o;
    memset(&o, 0, sizeof o);
    char missing[512];
    snprintf(missing, sizeof missing, "%s", tls_file("no-such-dir"));
    o.ca_path = missing;
    bad_config(&o, missing);
}

TEST(tls_config_ca_file_not_pem)
{
    mcf_tls_options o = tls_opts();
    char key[512]; /* a private key is not a CA bundle */
    snprintf(key, sizeof key, "%s", tls_file("ca.key"));
    o.ca_file = key;
    bad_config(&o, key);
}

TEST(tls_config_missing_cert_file)
{
    mcf_tls_options o = tls_opts();
    char missing[512], key[512];
    snprintf(missing, sizeof missing, "%s", tls_file("no-such-cert.pem"));
    snprintf(key, sizeof key, "%s", tls_file("client.key"));
    o.cert_file = missing;
    o.key_file = key;
    bad_config(&o, missing);
}

TEST(tls_config_key_does_not_match_cert)
{
    mcf_tls_options o = tls_opts();
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s", tls_file("client.pem"));
    snprintf(key, sizeof key, "%s", tls_file("server.key"));
    o.cert_file = cert;
    o.key_file = key;
    bad_config(&o, key);
}

TEST(tls_config_unknown_ciphers)
{
    mcf_tls_options o = tls_opts();
    o.ciphers = "NO-SUCH-CIPHER";
    bad_config(&o, "NO-SUCH-CIPHER");
}

TEST(tls_config_unknown_ciphersuites)
{
    mcf_tls_options o = tls_opts();
    o.ciphersuites = "TLS_NO_SUCH_SUITE";
    bad_config(&o, "TLS_NO_SUCH_SUITE");
}

int main(int argc, char **argv) { return tls_tests_main(argc, argv); }
