/* The tutorial's prime_factors (trial division), shared by the primes demo and the benchmark so
   both measure the same kernel. */
#ifndef SHMPOOL_DEMO_PRIME_FACTORS_H
#define SHMPOOL_DEMO_PRIME_FACTORS_H

#include <stdint.h>

#define MAX_FACTORS 64 /* 2^60 > 1e18: no number up to 1e18 has more */

struct factors {
    uint32_t count;
    uint64_t f[MAX_FACTORS];
};

static inline void prime_factors(uint64_t n, struct factors *out) {
    out->count = 0;
    uint64_t divisor = 2;
    while (n > 1) {
        while (n % divisor == 0) {
            out->f[out->count++] = divisor;
            n /= divisor;
        }
        divisor++;
        if (divisor * divisor > n && n > 1) {
            out->f[out->count++] = n;
            break;
        }
    }
}

/* One number per task: in is a uint64_t, out a struct factors. */
static inline int factor_task(const void *in, void *out, void *ctx) {
    (void)ctx;
    prime_factors(*(const uint64_t *)in, out);
    return 0;
}

#endif
