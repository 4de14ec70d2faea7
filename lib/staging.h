/* Staging blocks: shared memory the library copies parent-memory inputs and outputs through (and
 * keeps by-value contexts and reduction partials in). A few freed blocks are kept for the next
 * call: a new segment costs a shm_open, a fallocate and a page fault per page in every process
 * that touches it (a staged map of 20M doubles took 25x a serial copy), a kept one only the copy.
 * Kept blocks hold /dev/shm space: they are given back when an allocation finds it full. */
#ifndef SHMPOOL_STAGING_H
#define SHMPOOL_STAGING_H

#include <stddef.h>

#include "state.h"

/* Under the lock: a block of at least `bytes` (contents undefined), or NULL with errno. */
void *shmpool__staging_get(shmpool *p, size_t bytes);
/* Under the lock: give a block back (kept for reuse, or freed). */
void shmpool__staging_put(shmpool *p, void *block);
/* Under the lock: free every kept block (/dev/shm is full, or the pool goes). */
void shmpool__staging_drop(shmpool *p);

#endif
