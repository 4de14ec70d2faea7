/* What /proc/<pid>/stat says of a process: its state, its parent and when it started. The start
 * time tells a process from a later one that reuses its pid, so the pool never signals or waits
 * for a stranger. And one answer to "has this process ended" for the command-line tool (a pool
 * whose parent has ended leaves names nobody will remove), libshmpool_mpi (a peer rank on this
 * host that has vanished) and the tests; .ci/run has the same check in bash (`alive`). */
#ifndef SHMPOOL_PROCSTAT_H
#define SHMPOOL_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

#include "shmpool.h"

struct procstat {
    char state;           /* R, S, D, T, t, Z, X... */
    pid_t ppid;
    uint64_t start_ticks; /* since boot, in clock ticks; never 0 for a real process */
};

/* 0, or -ENOENT if no process has that pid (here: another PID namespace sees nothing), or
   another -errno when /proc cannot be read. */
int shmpool__procstat_read(pid_t pid, struct procstat *out);
/* It has ended: a zombie nobody reaped yet, or dead. It runs no code and holds no mapping. */
static inline int shmpool__procstat_ended(const struct procstat *s) {
    return s->state == 'Z' || s->state == 'X';
}
/* The process `pid` that started at `start_ticks` still runs (a zombie has ended). */
int shmpool__procstat_alive(pid_t pid, uint64_t start_ticks);

/* 1 if pid has ended: no such process, or a zombie (or dead) one nobody has reaped yet: it runs
   no code and holds no mapping any more. 0 if it runs (also when it is somebody else's: kill()
   says EPERM). -errno if kill() says it exists but its /proc/<pid>/stat cannot be read (-ENOENT:
   it ended just now, or /proc is not mounted): the caller decides what that means. Exported for
   libshmpool_mpi only: not API (the `shmpool__` prefix). */
SHMPOOL_EXTERN int shmpool__pid_ended(pid_t pid);

#endif
