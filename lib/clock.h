/* Monotonic time, deadlines, and waits on process-shared semaphores that survive EINTR. */
#ifndef SHMPOOL_CLOCK_H
#define SHMPOOL_CLOCK_H

#include <semaphore.h>
#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t shmpool__now_ns(void);
/* The deadline timeout_ms from now; UINT64_MAX for timeout_ms < 0 (no limit). */
uint64_t shmpool__deadline(int timeout_ms);
/* Wait on `sem` until `deadline_ns` (UINT64_MAX: forever), retrying on EINTR.
   0 when the semaphore was taken, -ETIMEDOUT otherwise. */
int shmpool__sem_wait_until(sem_t *sem, uint64_t deadline_ns);
/* Sleep *us microseconds, then double it, up to SHMPOOL_BACKOFF_CAP_US: waits for something
   other processes will do soon (a ring that drains, a slot that retires). */
void shmpool__backoff_sleep(unsigned *us);
/* The CPU's spin-wait hint. */
void shmpool__cpu_relax(void);

#endif
