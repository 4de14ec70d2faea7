/* Only the process that created a pool may call it: not a forked child (its copy of the pool
 * shares the workers and the control block, and would corrupt both), not a task in a worker.
 *
 * A fork epoch tells them apart without a syscall per call: a pthread_atfork child handler bumps
 * a process-global counter in every child forked through fork(), so a pool made in this process
 * remembers an epoch that no child has. (A child made by a raw clone() or vfork() is not seen; such
 * a child may only exec or _exit anyway.) */
#ifndef SHMPOOL_OWNER_H
#define SHMPOOL_OWNER_H

#include "state.h"

/* This process's fork epoch (installs the atfork handler on first use). */
unsigned shmpool__owner_epoch(void);
/* 0 if the calling process created p; -EPERM if not; -EINVAL for NULL. */
int shmpool__owner_check(const shmpool *p);

#endif
