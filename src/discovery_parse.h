/* discovery_parse.h - the reply of an ElastiCache configuration endpoint
 * (Auto Discovery) as a pure function in the style of codec.h: a buffer
 * in, the version number and the node list out; no sockets, no
 * allocation.  Format: Amazon ElastiCache for Memcached User Guide,
 * "Adding Auto Discovery to your client library", Output Format
 * (https://docs.aws.amazon.com/AmazonElastiCache/latest/mem-ug/
 * AutoDiscovery.AddingToYourClientLibrary.html):
 *
 *   CONFIG cluster 0 <bytes>\r\n            ("config get cluster", >= 1.4.14)
 *   <version number>\n
 *   <host>|<ip>|<port> <host>|<ip>|<port> ...\n
 *   \r\n
 *   END\r\n
 *
 * <bytes> counts the two body lines (as a get's data block).  Engines
 * before 1.4.14 answer "get AmazonElastiCache:cluster" with the same body
 * under "VALUE AmazonElastiCache:cluster 0 <bytes>\r\n", accepted too.
 * The ip field may be empty: the host name is used then.  Not installed. */
#ifndef MCF_DISCOVERY_PARSE_H
#define MCF_DISCOVERY_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* mcf_disc_parse's results. */
#define MCF_DISC_OK 0
#define MCF_DISC_NEED_MORE 1
#define MCF_DISC_ERROR (-1)

/* The most body bytes accepted: about 4000 nodes of long names, far more
 * than a cluster has (ElastiCache's default limit is 60 nodes per
 * cluster); more is not an endpoint answering. */
#define MCF_DISC_BODY_MAX (1024 * 1024)

/* Field lengths: a DNS name is at most 253 bytes; an IPv6 literal with a
 * zone fits in 64. */
#define MCF_DISC_HOST_MAX 253
#define MCF_DISC_IP_MAX 64

/* The requests (the header's first word tells the replies apart). */
#define MCF_DISC_REQUEST "config get cluster\r\n"
#define MCF_DISC_REQUEST_LEGACY "get AmazonElastiCache:cluster\r\n"

typedef struct mcf_disc_reply {
    uint64_t version;
    size_t nnodes;
    const char *nodes;   /* the node line inside the buffer, without its LF */
    size_t nodes_len;
    size_t consumed;     /* bytes of the whole reply, END\r\n included */
    int legacy;          /* the VALUE AmazonElastiCache:cluster form */
    int unknown_command; /* MCF_DISC_ERROR because the endpoint answered ERROR */
} mcf_disc_reply;

/* One node: pointers into the buffer (not NUL-terminated). */
typedef struct mcf_disc_node {
    const char *host, *ip;
    size_t host_len, ip_len; /* ip_len 0: none given */
    uint16_t port;
} mcf_disc_node;

/* Parses one reply from buf[0..len): MCF_DISC_OK (*out filled, every node
 * checked), MCF_DISC_NEED_MORE (a prefix of a valid reply so far), or
 * MCF_DISC_ERROR with why in err (NUL-terminated when errlen > 0). */
int mcf_disc_parse(const char *buf, size_t len, mcf_disc_reply *out, char *err, size_t errlen);

/* The nodes of a parsed reply in order: *pos starts at 0; 1 and *node
 * filled, or 0 after the last. */
int mcf_disc_next_node(const mcf_disc_reply *r, size_t *pos, mcf_disc_node *node);

#endif
