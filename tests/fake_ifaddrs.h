/* fake_ifaddrs.h - scripted network interfaces for tests that interpose
 * getifaddrs() (the host's address families decide which resolver answers
 * are kept): one entry with a name and an address, chained to the next. */
#ifndef MCF_TEST_FAKE_IFADDRS_H
#define MCF_TEST_FAKE_IFADDRS_H

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef struct fake_if {
    struct ifaddrs ifa;
    struct sockaddr_storage ss;
} fake_if;
static inline void fake_if_set(fake_if *f, const char *name, const char *ip, fake_if *next)
{
    memset(f, 0, sizeof *f);
    f->ifa.ifa_name = (char *)name;
    f->ifa.ifa_addr = (struct sockaddr *)&f->ss;
    f->ifa.ifa_next = next ? &next->ifa : NULL;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&f->ss;
        s->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s->sin6_addr);
    } else {
        struct sockaddr_in *s = (struct sockaddr_in *)&f->ss;
        s->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s->sin_addr);
    }
}

#endif
