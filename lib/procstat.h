/* What /proc/<pid>/stat says of a process: its state, its parent and when it started. The start
 * time tells a process from a later one that reuses its pid, so the pool never signals or waits
 * for a stranger. */
#ifndef SHMPOOL_PROCSTAT_H
#define SHMPOOL_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct procstat {
    char state;           /* R, S, D, T, t, Z, X... */
    pid_t ppid;
    uint64_t start_ticks; /* since boot, in clock ticks; never 0 for a real process */
};

/* 0, or -ENOENT if no process has that pid (here: another PID namespace sees nothing). */
int shmpool__procstat_read(pid_t pid, struct procstat *out);
/* The process `pid` that started at `start_ticks` still runs (a zombie has ended). */
int shmpool__procstat_alive(pid_t pid, uint64_t start_ticks);

#endif
