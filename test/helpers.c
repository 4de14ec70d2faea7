#include "helpers.h"
#include "procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

static int count_dir(const char *path, const char *prefix) {
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        n++;
    }
    closedir(d);
    return n - (prefix ? 0 : 1); /* opendir's own fd */
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Reads pid's parent and state from /proc/pid/stat. */
static int stat_of(pid_t pid, pid_t *ppid, char *state) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    int pp;
    if (sscanf(p + 2, "%c %d", state, &pp) != 2)
        return -1;
    *ppid = pp;
    return 0;
}

int count_descendants(void) {
    pid_t self = getpid();
    pid_t kids[4096];
    int nk = 0, total = 0;
    kids[nk++] = self;
    /* Breadth-first over /proc, a few passes are enough for pool -> helper -> workers. */
    for (int depth = 0; depth < 4; depth++) {
        DIR *d = opendir("/proc");
        if (!d)
            return -1;
        struct dirent *e;
        int before = nk;
        while ((e = readdir(d))) {
            pid_t pid = (pid_t)atoi(e->d_name);
            if (pid <= 0)
                continue;
            pid_t pp;
            char st;
            if (stat_of(pid, &pp, &st) != 0 || st == 'Z')
                continue;
            int known = 0, parent_known = 0;
            for (int i = 0; i < nk; i++) {
                known |= kids[i] == pid;
                parent_known |= kids[i] == pp;
            }
            if (!known && parent_known && nk < 4096)
                kids[nk++] = pid;
        }
        closedir(d);
        if (nk == before)
            break;
    }
    total = nk - 1;
    return total;
}

void resources_snapshot(struct resources *r) {
    r->fds = count_dir("/proc/self/fd", NULL);
    r->mappings = count_lines("/proc/self/maps");
    r->children = count_descendants();
    r->shm = shm_segments_of(getpid()); /* only this process's pools: tests may run in parallel */
}

static int same(const struct resources *before, int mappings) {
    struct resources now;
    for (int i = 0; i < 100; i++) {
        resources_snapshot(&now);
        if (now.fds == before->fds && (!mappings || now.mappings == before->mappings) &&
            now.children == before->children && now.shm == before->shm)
            return 1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "resources differ: fds %d -> %d, mappings %d -> %d, descendants %d -> %d, "
                    "/dev/shm %d -> %d\n",
            before->fds, now.fds, before->mappings, now.mappings, before->children, now.children,
            before->shm, now.shm);
    return 0;
}

/* Under AddressSanitizer or ThreadSanitizer the mapping count belongs to its allocator, which maps
   size-class regions lazily and keeps them; valgrind moves it by one now and then too: only the plain build, run
   plainly, can compare it. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

int resources_same(const struct resources *before) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return same(before, 0);
#else
    return same(before, !RUNNING_ON_VALGRIND);
#endif
}

int resources_same_but_mappings(const struct resources *before) { return same(before, 0); }

int running_on_valgrind(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }

int process_gone(pid_t pid) { return shmpool__pid_ended(pid) != 0; /* unreadable /proc: gone */ }

int shm_segments_of(pid_t parent) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "shmpool.%d.", (int)parent);
    return count_dir("/dev/shm", prefix);
}

int tests_skipped;

int test_exit_code(int failed) {
    if (failed)
        return 1;
    if (tests_skipped) {
        fprintf(stderr, "%d test(s) skipped: reported to ctest as skipped (exit 77)\n", tests_skipped);
        return 77;
    }
    return 0;
}

int run_in_child(int (*fn)(void), pid_t *pid) {
    fflush(NULL);
    pid_t child = fork();
    if (child == 0)
        _exit(fn());
    if (pid)
        *pid = child;
    int st;
    if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}
