/* Has a process ended: gone, or a zombie (pid_ended.h). */
#include "pid_ended.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int shmpool__pid_ended(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the state follows the command name, which may hold ')' */
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}
