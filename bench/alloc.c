/* alloc.c - counts heap allocations (malloc, calloc, realloc) and socket
 * system calls while a workload runs: the steady state should allocate
 * nothing per key, and the syscalls per call show the I/O pattern.
 *
 * Plain builds: the program defines malloc/calloc/realloc/free (glibc
 * supports replacing them) and forwards to glibc's own allocator through
 * __libc_malloc & co, counting while enabled.  Every allocation in the
 * process, libmcfast.a and libmemcached.so included, goes through them.
 * AddressSanitizer builds: ASan owns malloc, so its allocation hook counts
 * instead. */
#include <dlfcn.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"

static volatile int counting;
static uint64_t count, nsys;

#if defined(__SANITIZE_ADDRESS__)
#define BENCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_ASAN 1
#endif
#endif

#ifdef BENCH_ASAN
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    if (counting)
        count++;
}

static void on_free(const volatile void *p)
{
    (void)p;
}

static int hooks_installed;

const char *alloc_method(void)
{
    return "ASan malloc hook";
}

void alloc_count_start(void)
{
    if (!hooks_installed) {
        __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
        hooks_installed = 1;
    }
    count = 0;
    nsys = 0;
    counting = 1;
}
#else
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void *malloc(size_t n)
{
    if (counting)
        count++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    if (counting)
        count++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    if (counting)
        count++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

const char *alloc_method(void)
{
    return "malloc/calloc/realloc wrapped in the bench binary";
}

void alloc_count_start(void)
{
    count = 0;
    nsys = 0;
    counting = 1;
}
#endif

uint64_t alloc_count_stop(void)
{
    counting = 0;
    return count;
}

uint64_t syscall_count(void)
{
    return nsys;
}

/* Socket I/O entry points, counted and forwarded to the next definition
 * (libc, or the sanitizer's interceptor).  Every client calls these
 * through the PLT: libmcfast.a, libmemcached.so and the raw loop alike. */
static void *next_fn(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

#define COUNTED(ret, name, params, args)                                        \
    ret name params                                                             \
    {                                                                           \
        static ret(*real) params;                                               \
        if (!real) {                                                            \
            void *sym_ = next_fn(#name);                                           \
            memcpy(&real, &sym_, sizeof real);                                      \
        }                                                                       \
        if (counting)                                                           \
            nsys++;                                                             \
        return real args;                                                       \
    }

COUNTED(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f))
COUNTED(ssize_t, sendto,
        (int fd, const void *b, size_t n, int f, __CONST_SOCKADDR_ARG a, socklen_t al),
        (fd, b, n, f, a, al))
COUNTED(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f), (fd, m, f))
COUNTED(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f))
COUNTED(ssize_t, recvfrom,
        (int fd, void *b, size_t n, int f, __SOCKADDR_ARG a, socklen_t *al),
        (fd, b, n, f, a, al))
COUNTED(ssize_t, recvmsg, (int fd, struct msghdr *m, int f), (fd, m, f))
COUNTED(ssize_t, writev, (int fd, const struct iovec *v, int n), (fd, v, n))
COUNTED(ssize_t, readv, (int fd, const struct iovec *v, int n), (fd, v, n))
COUNTED(int, poll, (struct pollfd *p, nfds_t n, int t), (p, n, t))
