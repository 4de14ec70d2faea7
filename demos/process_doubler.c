/* process_doubler: five processes, each doubling one number and printing its pid.
 *
 * Mirrors the tutorial's "The Process Class (low level process parallelism)"
 * (../shared/seed/parallel-processing-in-python.md). shmpool_process_start forks a child that runs
 * fn(arg) and exits with its return value; the child sees arg because fork copied our memory.
 * A child's return value is only an 8-bit exit status: to send real results back, use a queue
 * (process_queue) or a pool (pool_doubler).
 *
 *     process_doubler [--numbers 5,10,15,20,25]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmpool.h"

#define MAX_NUMBERS 64

static int doubler(void *arg) {
    long number = *(const long *)arg;
    long result = number * 2;
    printf("%ld doubled to %ld by process id: %ld\n", number, result, (long)getpid());
    return result == number + number ? 0 : 1; /* the exit status: 0 when the doubling checks */
}

int main(int argc, char **argv) {
    long numbers[MAX_NUMBERS] = {5, 10, 15, 20, 25};
    size_t count = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--numbers") && i + 1 < argc) {
            count = 0;
            for (char *p = argv[++i], *end; *p && count < MAX_NUMBERS; p = *end ? end + 1 : end) {
                numbers[count++] = strtol(p, &end, 10);
                if (end == p)
                    return 2;
            }
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: process_doubler [--numbers 5,10,15,20,25]\n");
            return help ? 0 : 2;
        }
    }

    shmpool_process *procs[MAX_NUMBERS] = {0};
    int status = 0;
    for (size_t i = 0; i < count; i++) {
        int rc = shmpool_process_start(&procs[i], doubler, &numbers[i]);
        if (rc) {
            fprintf(stderr, "process_doubler: start: %s\n", shmpool_strerror(rc));
            status = 1;
            break;
        }
    }
    /* wait for the workers to end */
    for (size_t i = 0; i < count && procs[i]; i++) {
        int code = -1;
        if (shmpool_process_join(procs[i], -1) != 0 ||
            shmpool_process_exitcode(procs[i], &code) != 0 || code != 0) {
            fprintf(stderr, "process_doubler: FAIL: process %ld exited with %d\n",
                    (long)shmpool_process_pid(procs[i]), code);
            status = 1;
        }
        shmpool_process_free(procs[i]);
    }
    if (!status)
        printf("ok: %zu processes, all exited with status 0\n", count);
    return status;
}
