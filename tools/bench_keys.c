/* bench_keys.c - owns the bench's key choice (see bench_keys.h).
 *
 * The generator is SplitMix64 (Steele, Lea, Flood: "Fast splittable
 * pseudorandom number generators", OOPSLA 2014): one add and three
 * multiply-xorshift steps, plenty for picking keys.
 *
 * Zipf sampling is rejection-inversion (W. Hormann, G. Derflinger:
 * "Rejection-inversion to generate variates from monotone discrete
 * distributions", ACM TOMACS 6(3), 1996): O(1) per sample and no table,
 * so a key space of a billion costs no memory and no set-up time.  The
 * continuous hat h(x) = x^-s is integrated (H) and inverted (H^-1) in
 * closed form; a sample x of the hat rounds to rank k, accepted when it
 * falls under the bar of k, which is almost always. */
#include "bench_keys.h"

#include <math.h>

/* SplitMix64's constants (the golden-ratio increment and its mixer). */
#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL
#define SPLITMIX_MUL1 0xbf58476d1ce4e5b9ULL
#define SPLITMIX_MUL2 0x94d049bb133111ebULL
/* The top 53 bits of a 64-bit draw make a double in [0, 1). */
#define UNIT_SHIFT 11
#define UNIT_SCALE 0x1.0p-53
/* Below this |x| the series limits of expm1(x)/x and log1p(x)/x (both 1)
 * replace the quotients, which would lose their digits. */
#define SERIES_EPS 1e-8

void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t z = (r->state += SPLITMIX_GAMMA);
    z = (z ^ (z >> 30)) * SPLITMIX_MUL1;
    z = (z ^ (z >> 27)) * SPLITMIX_MUL2;
    return z ^ (z >> 31);
}

double bench_rng_unit(bench_rng *r)
{
    return (double)(bench_rng_next(r) >> UNIT_SHIFT) * UNIT_SCALE;
}

uint64_t bench_uniform_next(bench_rng *r, uint64_t n)
{
    /* The modulo's bias is below n / 2^64: invisible for any key space. */
    return bench_rng_next(r) % n;
}

/* expm1(x) / x, continuous at 0. */
static double expm1_over(double x)
{
    return fabs(x) > SERIES_EPS ? expm1(x) / x : 1.0 + x / 2.0;
}

/* log1p(x) / x, continuous at 0. */
static double log1p_over(double x)
{
    return fabs(x) > SERIES_EPS ? log1p(x) / x : 1.0 - x / 2.0;
}

/* The hat h(x) = x^-s. */
static double hat(double s, double x)
{
    return exp(-s * log(x));
}

/* H(x) = (x^(1-s) - 1) / (1 - s), written so that s = 1 (log x) needs no
 * special case. */
static double hat_integral(double s, double x)
{
    double lx = log(x);
    return expm1_over((1.0 - s) * lx) * lx;
}

/* H^-1. */
static double hat_integral_inverse(double s, double y)
{
    double t = y * (1.0 - s);
    if (t < -1.0) /* rounding at the far end: the smallest x */
        t = -1.0;
    return exp(log1p_over(t) * y);
}

int bench_zipf_init(bench_zipf *z, uint64_t n, double s)
{
    if (n == 0 || !(s > 0.0) || !isfinite(s))
        return -1;
    z->n = n;
    z->s = s;
    z->h_first = hat_integral(s, 1.5) - 1.0;
    z->h_last = hat_integral(s, (double)n + 0.5);
    z->squeeze = 2.0 - hat_integral_inverse(s, hat_integral(s, 2.5) - hat(s, 2.0));
    return 0;
}

uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r)
{
    for (;;) {
        double u = z->h_last + bench_rng_unit(r) * (z->h_first - z->h_last);
        double x = hat_integral_inverse(z->s, u);
        double k = floor(x + 0.5);
        if (k < 1.0)
            k = 1.0;
        else if (k > (double)z->n)
            k = (double)z->n;
        /* Accept at once inside the squeeze, else under k's bar. */
        if (k - x <= z->squeeze || u >= hat_integral(z->s, k + 0.5) - hat(z->s, k))
            return (uint64_t)k - 1;
    }
}
