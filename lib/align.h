/* Rounding up: to a multiple of an alignment, to a power of two. One copy for lib/. */
#ifndef SHMPOOL_ALIGN_H
#define SHMPOOL_ALIGN_H

#include <stddef.h>
#include <stdint.h>

/* v rounded up to a multiple of a, a power of two. */
static inline size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* The smallest power of two >= v (1 for 0), but no more than max, a power of two. */
static inline uint32_t pow2_at_least(uint32_t v, uint32_t max) {
    uint32_t p = 1;
    while (p < v && p < max)
        p <<= 1;
    return p;
}

#endif
