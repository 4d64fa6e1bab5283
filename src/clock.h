/* clock.h - monotonic milliseconds and deadlines. */
#ifndef MCF_CLOCK_H
#define MCF_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t mcf_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds from now_us until deadline_us, rounded up, never negative. */
static inline int mcf_ms_between(int64_t now_us, int64_t deadline_us)
{
    int64_t left = deadline_us - now_us;
    if (left <= 0)
        return 0;
    return (int)((left + 999) / 1000);
}

/* Milliseconds left until deadline_us, rounded up, never negative: a poll() timeout. */
static inline int mcf_ms_left(int64_t deadline_us)
{
    return mcf_ms_between(mcf_now_us(), deadline_us);
}

#endif
