/* The parent waits for a job to end: spin a little (a short job ends within a wake-up's time), then
 * sleep on the job's semaphore in slices, looking at the pool's health between them, so a dead
 * helper is noticed within a slice and a wait never hangs.
 *
 * Several threads may wait on one job (get on a result, a submitter under back-pressure, cancel):
 * the job's semaphore is posted once, so a waiter that takes the post puts it back (a baton) for
 * the next. The slot is pinned by the caller (slots.h), so it is not reset under a waiter. */
#ifndef SHMPOOL_WAIT_H
#define SHMPOOL_WAIT_H

#include <stdint.h>

#include "state.h"

/* Wait until the job of `desc` ends or `deadline_ns` (CLOCK_MONOTONIC) passes. 0 once it ended, or
   once nothing will end it any more (the pool was terminated or lost its helper: harvest then
   reports it); -ETIMEDOUT. Without the pool's lock; desc's slot pinned. */
int shmpool__wait_job(shmpool *p, uint64_t desc, uint64_t deadline_ns);

#endif
