/* The pool's health as its parent sees it: is the fork helper still there? When it is gone,
 * nothing will run or end a job any more: its workers are made sure to be gone (they may still
 * write to buffers) and the pool is marked broken, so every wait ends with SHMPOOL_EHELPER. */
#ifndef SHMPOOL_HEALTH_H
#define SHMPOOL_HEALTH_H

#include <stdbool.h>

#include "state.h"

/* True if the pool can still run work (any thread; takes the lock only when the helper died). */
bool shmpool__health_check(shmpool *p);
/* Our child, the helper: reap it if it has exited. True if it is gone. */
bool shmpool__health_helper_gone(shmpool *p);
/* Make sure no worker of the pool runs any more (the helper is gone). */
void shmpool__health_end_workers(shmpool *p);

#endif
