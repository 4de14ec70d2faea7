/* The pool's lifecycle: create, close, join, terminate, destroy. What other parts of the library
 * ask of a pool as a whole. */
#ifndef SHMPOOL_POOL_H
#define SHMPOOL_POOL_H

#include <stdint.h>

#include "shmpool.h"

/* Flags the pool was created with (array I/O reads SHMPOOL_FLAG_NO_IO_URING). */
uint32_t shmpool__pool_flags(const shmpool *pool);

#endif
