/* test_addrs.h - builds an mcf_addr from an IP literal and port, for tests
 * that hand the address layer lists of their own. */
#ifndef MCF_TEST_ADDRS_H
#define MCF_TEST_ADDRS_H

#include <arpa/inet.h>
#include <string.h>

#include "addr.h"

static inline mcf_addr t_ip_addr(const char *ip, unsigned port)
{
    mcf_addr a;
    memset(&a, 0, sizeof a);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a.ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &s->sin6_addr);
        a.len = sizeof *s;
        a.family = AF_INET6;
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &s->sin_addr);
        a.len = sizeof *s;
        a.family = AF_INET;
    }
    return a;
}

#endif
