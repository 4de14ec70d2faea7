/* cpu_count: logical, physical and usable cores.
 *
 * Mirrors the tutorial's "Guess the number of processors in your computer"
 * (../shared/seed/parallel-processing-in-python.md): mp.cpu_count() and psutil.cpu_count().
 * Python's cpu_count() counts logical CPUs and ignores the affinity mask and the cgroup CPU quota
 * (a container limited to 2 CPUs on a 64-CPU host still says 64); shmpool's usable count respects
 * both, and the pool uses it as its default worker count.
 *
 *     cpu_count
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "shmpool.h"

int main(int argc, char **argv) {
    if (argc > 1) {
        fprintf(strcmp(argv[1], "--help") ? stderr : stdout, "usage: cpu_count\n");
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    int logical = shmpool_cpu_count(SHMPOOL_CPU_LOGICAL);
    int physical = shmpool_cpu_count(SHMPOOL_CPU_PHYSICAL);
    int usable = shmpool_cpu_count(SHMPOOL_CPU_USABLE);
    printf("Number of logical cores:  %d\n", logical);
    printf("Number of physical cores: %d\n", physical);
    printf("Number of usable cores:   %d (the pool's default worker count)\n", usable);

    /* Why usable differs: the affinity mask (taskset, cpusets) or the cgroup v2 quota (cpu.max,
       e.g. docker --cpus). */
    cpu_set_t set;
    int affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : logical;
    if (usable != logical) {
        if (affinity < logical)
            printf("why: the affinity mask allows %d of the %d logical CPUs\n", affinity, logical);
        if (usable < affinity)
            printf("why: the cgroup CPU quota (cpu.max) allows about %d CPU%s\n", usable,
                   usable == 1 ? "" : "s");
    } else {
        printf("usable = logical: no affinity mask or cgroup quota limits this process\n");
    }

    if (logical < 1 || physical < 1 || physical > logical || usable < 1 || usable > logical) {
        fprintf(stderr, "cpu_count: FAIL: inconsistent counts\n");
        return 1;
    }
    return 0;
}
