/* The machine around the run: how busy other programs kept it, and whether the run left
 * anything of its own in /dev/shm.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

/* CPU time: what the whole machine was busy with (/proc/stat) and what this run used (ours,
   and every child we reaped: workers, the Python coprocess and its pools). The difference is
   other programs' load, which this 2-core machine's timings are sensitive to. */
double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0};
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}
double our_cpu_s(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) * 1e-6;
}

/* The last line of the report: other programs' core-seconds since t0 and the load average. */
void print_other_load(double t0, double busy0, double ours0) {
    double wall = now() - t0, other = machine_busy_s() - busy0 - (our_cpu_s() - ours0);
    int cores = shmpool_cpu_count(SHMPOOL_CPU_LOGICAL);
    printf("\nOther programs' load during the run: %.1f core-seconds of %.1f (%.0f%% of the "
           "machine's %d cores); load average now: ", other < 0 ? 0 : other, wall * cores,
           100 * (other < 0 ? 0 : other) / (wall * cores), cores);
    FILE *la = fopen("/proc/loadavg", "r");
    char lbuf[128] = "?";
    if (la) {
        if (!fgets(lbuf, sizeof lbuf, la))
            lbuf[0] = 0;
        fclose(la);
    }
    printf("%s", lbuf);
}

/* /dev/shm names before and after: the run must leave none of its own */
int shm_names(char names[][256], int max) {
    DIR *d = opendir("/dev/shm");
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    return n;
}

void check_shm_left(char before[][256], int nbefore) {
    static char after[512][256];
    int nafter = shm_names(after, 512);
    for (int i = 0; i < nafter; i++) {
        int found = 0;
        for (int j = 0; j < nbefore && !found; j++)
            found = !strcmp(after[i], before[j]);
        if (found)
            continue;
        /* Ours: shmpool.<our pid>.*, or a name with the Python coprocess's pid (joblib's
           memmapping folder). Other programs may be using /dev/shm meanwhile. */
        char mine[32], py[32];
        pid_t py_seen = py_pid_seen();
        snprintf(mine, sizeof mine, "shmpool.%d.", (int)getpid());
        snprintf(py, sizeof py, "%d", (int)py_seen);
        if (!strncmp(after[i], mine, strlen(mine)) || (py_seen > 0 && strstr(after[i], py)))
            FAIL("left in /dev/shm: %s", after[i]);
        else
            fprintf(stderr, "bench: note: /dev/shm/%s appeared meanwhile (not ours)\n", after[i]);
    }
}
