/* tlsfix.h - what the TLS test programs (tests/test_tls_*.c) share:
 *   - certificates made at run time by tests/tls_certs.sh, once per
 *     program, in a temporary directory removed at exit;
 *   - memcached with TLS (-Z) on 127.0.0.1 or ::1;
 *   - clients verified against the test CA;
 *   - a hostile TLS peer: a listener in threads of this process whose
 *     connections each follow a scripted behaviour (OpenSSL server side).
 * Linked into the TLS programs only, with -lssl -lcrypto (Makefile). */
#ifndef MCF_TEST_TLSFIX_H
#define MCF_TEST_TLSFIX_H

#include "mcfast.h"
#include "mcserver.h"

/* Connect and I/O timeouts of the clients the cases build (500 ms;
 * MCF_TLS_TIMEOUT_MS for a slow run, e.g. under valgrind), and how far past
 * a deadline an error may come (sanitizers, a loaded 2-core machine). */
int tls_timeout_ms(void);
#define TLS_TIMEOUT_MS tls_timeout_ms()
#define TLS_SLACK_MS 2500

/* main() of a test_tls_* program: every case is SKIPped (with the reason)
 * when memcached is missing or lacks -Z, the library has no TLS
 * (mcf_tls_available() == 0), or the certificates cannot be made; then
 * t_main(). */
int tls_tests_main(int argc, char **argv);
/* Why TLS cannot be tested here (one of the reasons above), or NULL. */
const char *tls_unusable(void);

/* The certificate directory (NULL when tls_certs.sh failed; message on
 * stderr), and DIR/name for a file in it ("ca.pem").  tls_file returns one
 * of a few static buffers, reused round robin: copy it to keep it long. */
const char *tls_dir(void);
const char *tls_file(const char *name);

/* memcached -Z on host ("127.0.0.1" or "::1") with certificate `cert`
 * (tls_certs.sh's name without extension: "server", "expired", ...).
 * ssl_opts: more -o options, comma separated ("ssl_verify_mode=2", ...),
 * or NULL; "ca" in them is not expanded, pass tls_file("ca.pem").
 * 0, or -1 after a FAIL line. */
int tls_server_start(mcserver *s, const char *host, const char *cert, const char *ssl_opts);
/* A TLS spec for s: "tls:127.0.0.1:P" / "tls:[::1]:P". */
const char *tls_spec(const mcserver *s);

/* Options verifying against the test CA (ca.pem), everything else default. */
mcf_tls_options tls_opts(void);
/* A client for `servers` with timeouts TLS_TIMEOUT_MS, protocol proto and
 * TLS options o (NULL: tls_opts()).  NULL after a FAIL line. */
mcf_client *tls_client(const char *servers, const mcf_tls_options *o, int proto);

/* set then get of key = a value of len bytes (fill_random, seeded by
 * len), compared byte for byte; CHECKs on failure.  Returns 0 on success. */
int tls_roundtrip(mcf_client *c, const char *key, size_t len);

/* ---- the soaks' servers --------------------------------------------- */

#define TLS_SPEC_MAX 200
/* Starts n memcached on 127.0.0.1 with `extra` arguments, the last one
 * over TLS when TLS can be tested here and no_tls is NULL (an INFO line
 * says which, or why not: no_tls, or what is missing), and writes each
 * one's spec for mcfast ("tls:127.0.0.1:P" for the TLS one) into specs.
 * 0, or -1 after a FAIL line. */
int tls_soak_servers(mcserver *srv, int n, const char *extra, char (*specs)[TLS_SPEC_MAX],
                     const char *no_tls);
/* The TLS options a soak client needs for those servers (MCF_OK and
 * nothing when every server is plaintext). */
int tls_soak_client(mcf_client *c);

/* ---- the hostile peer ---------------------------------------------- */

typedef enum tls_peer_mode {
    TP_RELAY = 0,         /* a good server: TLS handshake, then the bytes relayed to
                             and from a plaintext memcached (the backend) */
    TP_SILENT,            /* accepts TCP, reads everything, never answers */
    TP_GARBAGE_APP,       /* handshake, reads the request, answers garbage inside
                             well-formed TLS records */
    TP_GARBAGE_RAW,       /* handshake, reads the request, answers bytes that are not
                             TLS records at all */
    TP_CLOSE_MID_RECORD,  /* handshake, reads the request, sends a record header
                             announcing 16 KiB and a few bytes of it, then closes */
    TP_PLAINTEXT_ERROR,   /* reads the ClientHello and answers "ERROR\r\n" in
                             plaintext, as memcached without TLS does, then waits */
    TP_CLOSE_AT_HELLO     /* reads the ClientHello and closes without a word, as a
                             memcached killed mid-handshake looks */
} tls_peer_mode;

typedef struct tls_peer tls_peer;

/* Listens on 127.0.0.1 (certificate server.pem); TP_RELAY connections go to
 * the plaintext memcached `backend`.  NULL after a FAIL line. */
tls_peer *tls_peer_start(const mcserver *backend);
int tls_peer_port(const tls_peer *p);
/* The next accepted connection behaves as m; connections with nothing
 * queued relay.  Up to 8 may be queued. */
void tls_peer_next(tls_peer *p, tls_peer_mode m);
/* Connections accepted so far. */
int tls_peer_accepted(tls_peer *p);
/* Closes the listener and every connection, joins the threads. */
void tls_peer_stop(tls_peer *p);

#endif
