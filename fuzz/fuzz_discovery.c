/* fuzz_discovery.c - libFuzzer target for the configuration endpoint's
 * reply parser, mcf_disc_parse() (src/discovery_parse.h).
 *
 * Input: the bytes an endpoint sends.  Every parse sees an exact-size heap
 * copy (a read past len is an ASan heap-buffer-overflow).  Invariants
 * (abort() on violation):
 *   - results are MCF_DISC_OK, MCF_DISC_NEED_MORE or MCF_DISC_ERROR; an
 *     error writes a message, a NEED_MORE never comes for a buffer that a
 *     shorter prefix already settled;
 *   - OK: consumed <= len, the reply ends in "END\r\n", the node line lies
 *     inside it, and mcf_disc_next_node yields exactly nnodes nodes, each
 *     with a host or an ip, fields within their limits, a port >= 1;
 *   - every prefix of an OK reply is NEED_MORE (short reads), and the reply
 *     alone parses the same (it is self-delimiting);
 *   - a tiny error buffer stays NUL-terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery_parse.h"

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_discovery: invariant failed at %s:%d: %s\n", __FILE__,  \
                    __LINE__, #cond);                                                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* How many prefixes of an OK reply are re-checked (all of a short one). */
#define PREFIX_CHECKS 64

static int parse_copy(const uint8_t *data, size_t len, mcf_disc_reply *r, char *err,
                      size_t errlen, const char **base)
{
    char *copy = malloc(len ? len : 1);
    REQUIRE(copy);
    if (len)
        memcpy(copy, data, len);
    int rc = mcf_disc_parse(copy, len, r, err, errlen);
    *base = copy;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcf_disc_reply r;
    char err[256];
    err[0] = 'X';
    const char *buf;
    int rc = parse_copy(data, size, &r, err, sizeof err, &buf);
    REQUIRE(rc == MCF_DISC_OK || rc == MCF_DISC_NEED_MORE || rc == MCF_DISC_ERROR);
    REQUIRE(memchr(err, 0, sizeof err));
    if (rc == MCF_DISC_ERROR)
        REQUIRE(err[0] != 0 && err[0] != 'X');
    if (rc == MCF_DISC_OK) {
        REQUIRE(r.consumed >= 5 && r.consumed <= size);
        REQUIRE(memcmp(buf + r.consumed - 5, "END\r\n", 5) == 0);
        REQUIRE(r.nodes >= buf && r.nodes + r.nodes_len <= buf + r.consumed);
        size_t pos = 0, n = 0;
        mcf_disc_node node;
        while (mcf_disc_next_node(&r, &pos, &node)) {
            REQUIRE(node.host_len || node.ip_len);
            REQUIRE(node.host_len <= MCF_DISC_HOST_MAX && node.ip_len <= MCF_DISC_IP_MAX);
            REQUIRE(node.port >= 1);
            REQUIRE(node.host >= r.nodes && node.host + node.host_len <= r.nodes + r.nodes_len);
            n++;
            REQUIRE(n <= r.nnodes);
        }
        REQUIRE(n == r.nnodes);

        /* Short reads: every prefix wants more. */
        size_t step = r.consumed > PREFIX_CHECKS ? r.consumed / PREFIX_CHECKS : 1;
        for (size_t k = 0; k < r.consumed; k += step) {
            mcf_disc_reply p;
            const char *pb;
            REQUIRE(parse_copy(data, k, &p, NULL, 0, &pb) == MCF_DISC_NEED_MORE);
            free((void *)pb);
        }
        /* The reply alone means the same. */
        mcf_disc_reply a;
        const char *ab;
        REQUIRE(parse_copy(data, r.consumed, &a, NULL, 0, &ab) == MCF_DISC_OK);
        REQUIRE(a.version == r.version && a.nnodes == r.nnodes && a.legacy == r.legacy &&
                a.consumed == r.consumed && a.nodes_len == r.nodes_len);
        free((void *)ab);
    }
    free((void *)buf);

    /* A tiny error buffer. */
    char tiny[3];
    size_t tl = size ? data[0] % 4 : 0;
    memset(tiny, 'X', sizeof tiny);
    const char *tb;
    int rc2 = parse_copy(data, size, &r, tl ? tiny : NULL, tl, &tb);
    REQUIRE(rc2 == rc);
    if (rc2 == MCF_DISC_ERROR && tl)
        REQUIRE(memchr(tiny, 0, tl));
    free((void *)tb);
    return 0;
}
