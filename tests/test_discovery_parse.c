/* test_discovery_parse.c - the configuration endpoint's reply parser
 * (src/discovery_parse.c): AWS's documented example, every short read of
 * it, wrong byte counts, empty and IPv6 ips, no nodes, versions at and past
 * 64 bits, the legacy VALUE form, and what an endpoint that is not one
 * answers.  No server needed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery_parse.h"
#include "harness.h"
#include "mcfast.h"

/* A whole reply around a body (header with its byte count, trailer). */
static size_t wrap(char *out, size_t cap, const char *hdr, const char *body)
{
    int n = snprintf(out, cap, "%s %zu\r\n%s\r\nEND\r\n", hdr, strlen(body), body);
    return n < 0 ? 0 : (size_t)n;
}

static int parse(const char *buf, size_t len, mcf_disc_reply *r, char *err, size_t errlen)
{
    /* An exact-size copy: a read past len shows under ASan. */
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -99;
    memcpy(copy, buf, len);
    int rc = mcf_disc_parse(copy, len, r, err, errlen);
    /* Pointers into the copy are only compared as offsets below. */
    if (rc == MCF_DISC_OK)
        r->nodes = buf + (r->nodes - copy);
    free(copy);
    return rc;
}

/* The example of AWS's "Adding Auto Discovery to your client library". */
static const char aws_body[] = "12\n"
                               "myCluster.pc4ldq.0001.use1.cache.amazonaws.com|10.82.235.120|11211 "
                               "myCluster.pc4ldq.0002.use1.cache.amazonaws.com|10.80.249.27|11211\n";

TEST(parse_aws_example)
{
    char buf[1024], err[256];
    size_t len = wrap(buf, sizeof buf, "CONFIG cluster 0", aws_body);
    mcf_disc_reply r;
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.version == 12);
    CHECK(r.nnodes == 2);
    CHECK(r.consumed == len);
    CHECK(!r.legacy);
    size_t pos = 0;
    mcf_disc_node n;
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 1);
    CHECK(n.host_len == strlen("myCluster.pc4ldq.0001.use1.cache.amazonaws.com"));
    CHECK(n.ip_len == strlen("10.82.235.120") && memcmp(n.ip, "10.82.235.120", n.ip_len) == 0);
    CHECK(n.port == 11211);
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 1);
    CHECK(memcmp(n.ip, "10.80.249.27", n.ip_len) == 0);
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 0);
}

/* Every prefix of a valid reply asks for more; the bytes after it are left. */
TEST(parse_short_reads)
{
    char buf[1024], err[256];
    size_t len = wrap(buf, sizeof buf, "CONFIG cluster 0", aws_body);
    for (size_t k = 0; k < len; k++) {
        mcf_disc_reply r;
        int rc = parse(buf, k, &r, err, sizeof err);
        CHECKF(rc == MCF_DISC_NEED_MORE, "prefix of %zu bytes: %d (%s)", k, rc, err);
    }
    memcpy(buf + len, "VERSION 1.6\r\n", 13);
    mcf_disc_reply r;
    CHECK_RC(parse(buf, len + 13, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.consumed == len);
}

TEST(parse_bad_counts)
{
    char buf[1024], err[256];
    mcf_disc_reply r;
    size_t blen = strlen(aws_body);
    /* One short: the trailer is off by one. */
    int n = snprintf(buf, sizeof buf, "CONFIG cluster 0 %zu\r\n%s\r\nEND\r\n", blen - 1, aws_body);
    CHECK_RC(parse(buf, (size_t)n, &r, err, sizeof err), MCF_DISC_ERROR);
    CHECK(strstr(err, "byte count") != NULL);
    /* One long: the same, once the bytes are there. */
    n = snprintf(buf, sizeof buf, "CONFIG cluster 0 %zu\r\n%s\r\nEND\r\n", blen + 1, aws_body);
    CHECK_RC(parse(buf, (size_t)n, &r, err, sizeof err), MCF_DISC_ERROR);
    /* Not numbers, a negative count, a count past the limit. */
    const char *bad[] = {"CONFIG cluster 0 x\r\n", "CONFIG cluster 0 -5\r\n",
                         "CONFIG cluster 0\r\n", "CONFIG cluster  12\r\n",
                         "CONFIG cluster 0 99999999999999999999999\r\n",
                         "CONFIG cluster 0 1048577\r\n", "CONFIG cluster 0 12\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], strlen(bad[i]), &r, err, sizeof err);
        CHECKF(rc == MCF_DISC_ERROR && err[0], "'%s': %d", bad[i], rc);
    }
    /* The body splits into lines the count disagrees with. */
    n = snprintf(buf, sizeof buf, "CONFIG cluster 0 3\r\n12\n\r\nEND\r\n");
    CHECK_RC(parse(buf, (size_t)n, &r, err, sizeof err), MCF_DISC_ERROR);
    /* A header line that never ends. */
    memset(buf, 'A', 200);
    CHECK_RC(parse(buf, 200, &r, err, sizeof err), MCF_DISC_ERROR);
}

TEST(parse_empty_and_v6_ip)
{
    char buf[1024], err[256];
    mcf_disc_reply r;
    size_t len = wrap(buf, sizeof buf, "CONFIG cluster 0",
                      "3\nnode1.example||11211 node2|::1|11212 n3|fe80::1%lo|7\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.nnodes == 3);
    size_t pos = 0;
    mcf_disc_node n;
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 1);
    CHECK(n.ip_len == 0 && n.host_len == strlen("node1.example") && n.port == 11211);
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 1);
    CHECK(n.ip_len == 3 && memcmp(n.ip, "::1", 3) == 0 && n.port == 11212);
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 1);
    CHECK(n.ip_len == strlen("fe80::1%lo") && n.port == 7);
    /* An ip that is not one, a port out of range, a node without fields. */
    const char *bad[] = {"3\nh|10.0.0.x|1\n", "3\nh|1.2.3.4|0\n", "3\nh|1.2.3.4|65536\n",
                         "3\nh|1.2.3.4\n",    "3\n||11211\n",     "3\nh|%lo|1\n",
                         "3\nh\x01|1.2.3.4|1\n", "3\nh|1.2.3.4|1x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = wrap(buf, sizeof buf, "CONFIG cluster 0", bad[i]);
        int rc = parse(buf, len, &r, err, sizeof err);
        CHECKF(rc == MCF_DISC_ERROR && err[0], "body %zu: %d", i, rc);
    }
}

TEST(parse_zero_nodes)
{
    char buf[256], err[256];
    mcf_disc_reply r;
    size_t len = wrap(buf, sizeof buf, "CONFIG cluster 0", "7\n\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.version == 7 && r.nnodes == 0);
    size_t pos = 0;
    mcf_disc_node n;
    CHECK(mcf_disc_next_node(&r, &pos, &n) == 0);
}

TEST(parse_huge_version)
{
    char buf[256], err[256];
    mcf_disc_reply r;
    size_t len = wrap(buf, sizeof buf, "CONFIG cluster 0", "18446744073709551615\nh|1.2.3.4|1\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.version == UINT64_MAX);
    len = wrap(buf, sizeof buf, "CONFIG cluster 0", "18446744073709551616\nh|1.2.3.4|1\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_ERROR);
    CHECK(strstr(err, "version") != NULL);
    len = wrap(buf, sizeof buf, "CONFIG cluster 0", "\nh|1.2.3.4|1\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_ERROR);
    len = wrap(buf, sizeof buf, "CONFIG cluster 0", "-1\nh|1.2.3.4|1\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_ERROR);
}

TEST(parse_legacy_and_not_an_endpoint)
{
    char buf[1024], err[256];
    mcf_disc_reply r;
    size_t len = wrap(buf, sizeof buf, "VALUE AmazonElastiCache:cluster 0", aws_body);
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.legacy && r.version == 12 && r.nnodes == 2);
    CHECK_RC(parse("ERROR\r\n", 7, &r, err, sizeof err), MCF_DISC_ERROR);
    CHECK(r.unknown_command);
    CHECK_RC(parse("END\r\n", 5, &r, err, sizeof err), MCF_DISC_ERROR);
    CHECK(!r.unknown_command && strstr(err, "END") != NULL);
    CHECK_RC(parse("VERSION 1.6.18\r\n", 16, &r, err, sizeof err), MCF_DISC_ERROR);
    CHECK_RC(parse("VALUE other 0 3\r\n", 17, &r, err, sizeof err), MCF_DISC_ERROR);
    /* CRLF line ends inside the body are taken too. */
    len = wrap(buf, sizeof buf, "CONFIG cluster 0", "5\r\nh|1.2.3.4|1\r\n");
    CHECK_RC(parse(buf, len, &r, err, sizeof err), MCF_DISC_OK);
    CHECK(r.version == 5 && r.nnodes == 1);
    /* A tiny error buffer stays terminated. */
    char tiny[4] = "xyz";
    CHECK_RC(parse("SERVER_ERROR x\r\n", 16, &r, tiny, sizeof tiny), MCF_DISC_ERROR);
    CHECK(memchr(tiny, 0, sizeof tiny) != NULL);
    CHECK_RC(parse("SERVER_ERROR x\r\n", 16, &r, NULL, 0), MCF_DISC_ERROR);
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
