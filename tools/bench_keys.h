/* bench_keys.h - which key `mcfast bench` asks for next: a small fast
 * random generator, and uniform or Zipf-distributed indexes into a key
 * space of n keys. */
#ifndef MCFAST_BENCH_KEYS_H
#define MCFAST_BENCH_KEYS_H

#include <stdint.h>

typedef struct bench_rng {
    uint64_t state;
} bench_rng;

void bench_rng_seed(bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(bench_rng *r);
/* Uniform in [0, 1). */
double bench_rng_unit(bench_rng *r);

/* Zipf over ranks 1..n with exponent s > 0: P(k) proportional to k^-s. */
typedef struct bench_zipf {
    uint64_t n;
    double s;
    double h_first; /* H(1.5) - 1 */
    double h_last;  /* H(n + 0.5) */
    double squeeze; /* the acceptance shortcut's width */
} bench_zipf;

/* 0, or -1 when n is 0 or s is not a positive finite number. */
int bench_zipf_init(bench_zipf *z, uint64_t n, double s);
/* An index in [0, n): index 0 is the most frequent key. */
uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r);

/* An index in [0, n) with every index equally likely. */
uint64_t bench_uniform_next(bench_rng *r, uint64_t n);

#endif
