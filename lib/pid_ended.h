/* Has a process ended? One answer for the command-line tool (a pool whose parent has ended leaves
 * names nobody will remove), libshmpool_mpi (a peer rank on this host that has vanished) and the
 * tests. .ci/run has the same check in bash (`alive`).
 *
 * Exported for libshmpool_mpi only: not API (the `shmpool__` prefix). */
#ifndef SHMPOOL_PID_ENDED_H
#define SHMPOOL_PID_ENDED_H

#include <sys/types.h>

#include "shmpool.h"

/* 1 if pid has ended: no such process, or a zombie (or dead) one nobody has reaped yet — it runs
   no code and holds no mapping any more. 0 if it runs (also when it is somebody else's: kill()
   says EPERM). -errno if kill() says it exists but its /proc/<pid>/stat cannot be read (-ENOENT:
   it ended just now, or /proc is not mounted): the caller decides what that means. */
SHMPOOL_EXTERN int shmpool__pid_ended(pid_t pid);

#endif
