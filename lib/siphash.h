/* SipHash-2-4 (Aumasson and Bernstein), a keyed hash whose output cannot be predicted, nor its key
 * recovered, from any number of outputs. Segment names use it: an invertible mix let another local
 * user recover the pool's secret from two names and squat the next ones. */
#ifndef SHMPOOL_SIPHASH_H
#define SHMPOOL_SIPHASH_H

#include <stdint.h>

/* The hash of one 64-bit word (its 8 little-endian bytes) under the 128-bit key k. */
uint64_t shmpool__siphash_u64(const uint64_t k[2], uint64_t word);

#endif
