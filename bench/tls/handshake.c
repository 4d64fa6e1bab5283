/* handshake.c - how long a connect takes: plaintext TCP, a full TLS
 * handshake (a fresh client: no saved session) and a resumed one (the same
 * client after mcf_disconnect_all: it offers the server's last session).
 * Each is mcf_connect_server alone: TCP connect and handshake, no request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_tls.h"
#include "mcfast.h"
#include "tlsfix.h"

#define HS_MAX 1000

static int connect_timed(mcf_client *c, double *ms, char *why, size_t whylen)
{
    double t0 = bench_now_s();
    int rc = mcf_connect_server(c, 0);
    *ms = (bench_now_s() - t0) * 1000;
    if (rc != MCF_OK) {
        snprintf(why, whylen, "connect: rc %d (%s): %s", rc, mcf_strerror(rc),
                 mcf_last_error(c));
        return -1;
    }
    return 0;
}

/* A round trip on a new connection: the server's session tickets (TLS 1.3
 * sends them after the handshake) are read with the reply, so the session
 * can be resumed; and the close that follows is clean (a close with the
 * tickets unread resets the connection, and memcached 1.6.18 then prints a
 * getpeername error). */
static int one_get(mcf_client *c, char *why, size_t whylen)
{
    mcf_value v;
    int rc = mcf_get(c, g_kget[0], KLEN, &v);
    if (rc != MCF_OK || v.len != VLEN || memcmp(v.data, g_vget, VLEN) != 0) {
        snprintf(why, whylen, "get after the handshake: rc %d (%s): %s", rc, mcf_strerror(rc),
                 mcf_last_error(c));
        return -1;
    }
    return 0;
}

static void spread(const double *a, int n, double *lo, double *hi)
{
    *lo = *hi = a[0];
    for (int i = 1; i < n; i++) {
        *lo = a[i] < *lo ? a[i] : *lo;
        *hi = a[i] > *hi ? a[i] : *hi;
    }
}

int handshake_measure(int n, hs_result *out, char *why, size_t whylen)
{
    static double plain[HS_MAX], full[HS_MAX], resumed[HS_MAX];
    if (n < 1 || n > HS_MAX)
        n = n < 1 ? 1 : HS_MAX;
    memset(out, 0, sizeof *out);
    mcf_tls_options o = tls_opts();
    int ok = 0;
    for (int i = 0; i < n && ok == 0; i++) {
        mcf_client *p = mcf_new(), *c = mcf_new();
        mcf_server_info info;
        ok = -1;
        if (!p || !c || mcf_set_servers(p, plain_server_spec()) != MCF_OK ||
            mcf_set_tls(c, &o) != MCF_OK || mcf_set_servers(c, tls_server_spec()) != MCF_OK ||
            mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, BENCH_TIMEOUT_MS) != MCF_OK ||
            mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, BENCH_TIMEOUT_MS) != MCF_OK) {
            snprintf(why, whylen, "cannot set up the clients: %s",
                     c ? mcf_last_error(c) : "out of memory");
        } else if (connect_timed(p, &plain[i], why, whylen) == 0 &&
                   one_get(p, why, whylen) == 0 &&
                   connect_timed(c, &full[i], why, whylen) == 0 &&
                   mcf_server_info_get(c, 0, &info) == MCF_OK) {
            if (info.tls_resumed)
                snprintf(why, whylen, "a fresh client's first handshake says it resumed");
            else if (one_get(c, why, whylen) == 0) {
                snprintf(out->version, sizeof out->version, "%s", info.tls_version);
                snprintf(out->cipher, sizeof out->cipher, "%s", info.tls_cipher);
                mcf_disconnect_all(c);
                if (connect_timed(c, &resumed[i], why, whylen) == 0 &&
                    mcf_server_info_get(c, 0, &info) == MCF_OK) {
                    if (!info.tls_resumed)
                        snprintf(why, whylen,
                                 "the reconnect did a full handshake (tls_resumed=0, %s %s): "
                                 "the saved session was not resumed",
                                 info.tls_version, info.tls_cipher);
                    else
                        ok = one_get(c, why, whylen);
                }
            }
        }
        mcf_free(p);
        mcf_free(c);
    }
    if (ok != 0)
        return -1;
    out->n = n;
    out->plain_ms = bench_median(plain, n);
    out->full_ms = bench_median(full, n);
    out->resumed_ms = bench_median(resumed, n);
    spread(full, n, &out->full_min, &out->full_max);
    spread(resumed, n, &out->res_min, &out->res_max);
    return 0;
}
