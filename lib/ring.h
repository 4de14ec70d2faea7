/* A bounded multi-producer multi-consumer ring of fixed-size cells in shared memory.
 *
 * Dmitry Vyukov's bounded MPMC queue: each cell carries a sequence number that says whose turn it
 * is, so producers and consumers meet only on the cell they take and on one counter each (kept on
 * separate cache lines). The ring holds exactly `capacity` items (a power of two); a full ring makes
 * try_push fail so the caller can wait (back-pressure), it never drops an item.
 *
 * Everything lives in one block of shared memory with no pointers inside, so the ring works at any
 * address in any process that maps the block.
 *
 * Crash repair: a consumer that dies between winning a cell and releasing it would stall every
 * producer once the ring wraps to that cell. shmpool__ring_try_pop records the position it is taking in a
 * caller-owned word (`claim`, e.g. in the worker table) before it takes it and clears it after the
 * release, so whoever reaps the dead consumer can call shmpool__ring_repair_claim(). */
#ifndef SHMPOOL_RING_H
#define SHMPOOL_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_CACHELINE 64
#define RING_NO_CLAIM 0 /* value of a claim word when no pop is in progress */

struct ring {
    _Alignas(RING_CACHELINE) _Atomic uint64_t enq; /* next position to push */
    _Alignas(RING_CACHELINE) _Atomic uint64_t deq; /* next position to pop */
    _Alignas(RING_CACHELINE) uint32_t capacity;
    uint32_t cell_bytes; /* header + payload, a multiple of 8 */
    uint32_t payload;    /* bytes copied in and out per item */
    uint32_t magic;
    /* cells follow, each: _Atomic uint64_t seq; unsigned char data[payload] */
};

/* Bytes a ring of `capacity` cells of `payload` bytes needs; 0 if capacity is not a power of two
   or the size overflows. */
size_t shmpool__ring_bytes(uint32_t capacity, size_t payload);
/* Lay out a ring in `mem` (shmpool__ring_bytes() bytes, 64-byte aligned). 0 or -EINVAL. */
int shmpool__ring_init(struct ring *r, uint32_t capacity, size_t payload);
/* Copy one item in. False when the ring is full. */
bool shmpool__ring_try_push(struct ring *r, const void *item);
/* Copy the oldest item out. False when the ring is empty. `claim` may be NULL; if given, it holds
   the position (+1) while the pop is in progress and still holds it after a successful pop, so a
   reaper can tell the item was taken: the caller clears it (RING_NO_CLAIM) once the item is safe
   elsewhere. */
bool shmpool__ring_try_pop(struct ring *r, void *item, _Atomic uint64_t *claim);
/* Items in the ring now (a snapshot: exact only when nobody pushes or pops). */
size_t shmpool__ring_count(const struct ring *r);

enum ring_repair {
    RING_REPAIR_NOTHING, /* no pop was in progress, or it never took a cell */
    RING_REPAIR_REPUSH,  /* it took the cell but died before copying: `item` holds the item, the
                            cell is released; push the item again */
    RING_REPAIR_TAKEN,   /* the cell was copied out and released: the dead consumer's own copy
                            holds the item (or it lost the race and holds nothing new) */
    RING_REPAIR_RETRY,   /* a live consumer records the same position: it may own the cell; try
                            again later */
};
/* The owner of `claim` died: make sure it does not stall the ring. `others` are the claim words of
   the consumers still alive. Clears *claim unless the answer is RETRY. */
enum ring_repair shmpool__ring_repair_claim(struct ring *r, _Atomic uint64_t *claim,
                                   _Atomic uint64_t *const others[], size_t nothers, void *item);

#endif
