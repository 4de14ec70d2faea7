/* The fork helper: a single-threaded process forked by shmpool_create before any worker. It forks
 * every worker (and every replacement), so workers are always forked from a process with one
 * thread, whatever threads the program has started since (Python's forkserver, without exec).
 *
 * It is the workers' parent, so it is the one that learns of a death (SIGCHLD) at once: it repairs
 * what the dead worker held (its job fails with a code naming the signal and the item, or the
 * chunk is queued again; a ring cell it had won is released), then forks a replacement.
 *
 * It watches the pool's parent (PR_SET_PDEATHSIG plus getppid()): when the parent is gone it kills
 * the workers and removes every /dev/shm name of the pool, then exits. */
#ifndef SHMPOOL_HELPER_H
#define SHMPOOL_HELPER_H

#include <sys/types.h>

#include "control.h"

struct seg_view;
/* Parent: fork the helper, which forks the workers. */
int shmpool__helper_start(struct control *cb, struct seg_view *helper_view);
/* Parent: ask the helper to look at the control block now (shutdown, new segments). */
void shmpool__helper_kick(struct control *cb);

#endif
