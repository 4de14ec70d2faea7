/* The fork helper: a single-threaded process forked by shmpool_create before any worker. It forks
 * every worker (and every replacement), so workers are always forked from a process with one
 * thread, whatever threads the program has started since (Python's forkserver, without exec).
 *
 * It is the workers' parent, so it is the one that learns of a death (SIGCHLD) at once: it repairs
 * what the dead worker held (its job fails with a code naming the signal and the item, or the
 * chunk is queued again; a ring cell it had won is released), then forks a replacement.
 *
 * It watches the pool's parent (PR_SET_PDEATHSIG plus getppid()): when the parent is gone it kills
 * the workers and removes every /dev/shm name of the pool, then exits. The same when the parent
 * calls exec() without destroy: the parent holds the write end of a pipe, close-on-exec, and the
 * helper the read end, with O_ASYNC; exec closes it, the helper gets SIGIO and sees the hang-up.
 *
 * It runs in a process group of its own (with its workers): a SIGKILL to the program's group
 * (a shell's job control, a supervisor) ends the parent, not the helper, which then cleans up. */
#ifndef SHMPOOL_HELPER_H
#define SHMPOOL_HELPER_H

#include <sys/types.h>

#include "control.h"

struct seg_view;
/* Parent: fork the helper, which forks the workers. *lifeline gets the parent's end of the
   lifeline, to close when the helper has been reaped. */
int shmpool__helper_start(struct control *cb, struct seg_view *helper_view, int *lifeline);
/* "/shmpool.<parent>.<helper>.lock": the pool's liveness lock, held shared by the helper and its
   workers for their life (`shmpool clean` keeps the names of a pool whose lock it cannot take). */
void shmpool__helper_lock_name(pid_t parent, pid_t helper, char *buf, size_t len);
/* Parent, once the helper is gone: remove its liveness lock, which a helper killed outright
   (SIGKILL, a crash) left in /dev/shm. */
void shmpool__helper_lock_remove(const struct control *cb);
/* Parent: ask the helper to look at the control block now (shutdown, new segments). */
void shmpool__helper_kick(struct control *cb);

#endif
