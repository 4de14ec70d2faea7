/* PSS of a process tree: the root and its descendants (found through /proc/N/stat's ppid),
 * leaving out the subtree of `exclude` (the Python coprocess, when measuring the C side).
 * A thread samples it every 5 ms during a warm-up run (measure.c).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static long read_pss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Pss:", 4)) {
            kb = strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* The parent of process `name` (a /proc entry), or -1. */
static int read_ppid(const char *name) {
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = 0;
    char *rp = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    int pp;
    if (!rp || sscanf(rp + 1, " %*c %d", &pp) != 1)
        return -1;
    return pp;
}

static long tree_pss_kb(pid_t root, pid_t exclude) {
    enum { MAXP = 8192 };
    static pid_t pid[MAXP], ppid[MAXP];
    static unsigned char in[MAXP];
    int np = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && np < MAXP) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int pp = read_ppid(e->d_name);
        if (pp < 0)
            continue;
        pid[np] = atoi(e->d_name), ppid[np] = pp, in[np] = pid[np] == root;
        np++;
    }
    closedir(d);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < np; i++) {
            if (in[i] || pid[i] == exclude)
                continue;
            for (int j = 0; j < np; j++)
                if (in[j] && pid[j] == ppid[i]) {
                    in[i] = 1, changed = 1;
                    break;
                }
        }
    }
    long kb = 0;
    for (int i = 0; i < np; i++)
        if (in[i])
            kb += read_pss_kb(pid[i]);
    return kb;
}

static void *sampler_main(void *arg) {
    struct sampler *s = arg;
    do {
        long kb = tree_pss_kb(s->root, s->exclude);
        if (kb > s->peak_kb)
            s->peak_kb = kb;
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    } while (!atomic_load(&s->stop));
    long kb = tree_pss_kb(s->root, s->exclude);
    if (kb > s->peak_kb)
        s->peak_kb = kb;
    return NULL;
}

int sampler_start(struct sampler *s) {
    return pthread_create(&s->th, NULL, sampler_main, s);
}

long sampler_stop(struct sampler *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    return s->peak_kb;
}
