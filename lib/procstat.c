#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int shmpool__procstat_read(pid_t pid, struct procstat *out) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno; /* -ENOENT: no such process (here); else /proc cannot be read */
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -ENOENT;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: parse after its last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -ENOENT;
    unsigned long long start = 0;
    int ppid = 0;
    /* fields 3 (state), 4 (ppid), then 5-21 skipped, 22 (starttime) */
    if (sscanf(p + 1, " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &out->state, &ppid, &start) != 3)
        return -ENOENT;
    out->ppid = ppid;
    out->start_ticks = start;
    return 0;
}

int shmpool__procstat_alive(pid_t pid, uint64_t start_ticks) {
    struct procstat s;
    return pid > 0 && shmpool__procstat_read(pid, &s) == 0 && s.start_ticks == start_ticks &&
           !shmpool__procstat_ended(&s);
}

int shmpool__pid_ended(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    struct procstat s;
    int rc = shmpool__procstat_read(pid, &s);
    if (rc)
        return rc;
    return shmpool__procstat_ended(&s);
}
