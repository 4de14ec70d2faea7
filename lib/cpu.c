/* CPU counts: logical (online), physical (distinct cores), usable (affinity and cgroup quota). */
#include "cpu.h"

#include "shmpool.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYS_CPU "/sys/devices/system/cpu"

/* Reads a small text file into buf (NUL-terminated). 0 or -errno. */
static int read_small(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, len - 1, f);
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    buf[n] = '\0';
    return err;
}

/* Calls fn(cpu, arg) for every CPU in a kernel CPU list ("0-3,5,7-8"). Returns the number of
   CPUs listed, or -EINVAL if the list is malformed or fn fails. */
static int for_each_in_list(const char *list, int (*fn)(long cpu, void *arg), void *arg) {
    int count = 0;
    const char *p = list;
    while (*p && *p != '\n') {
        char *end;
        errno = 0;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || errno || lo < 0)
            return -EINVAL;
        p = end;
        if (*p == '-') {
            hi = strtol(p + 1, &end, 10);
            if (end == p + 1 || errno || hi < lo || hi - lo > (1L << 22))
                return -EINVAL;
            p = end;
        }
        for (long c = lo; c <= hi; c++) {
            if (fn && fn(c, arg) != 0)
                return -EINVAL;
            if (count == INT_MAX)
                return -EINVAL;
            count++;
        }
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -EINVAL;
    }
    return count;
}

static int logical_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n >= 1)
        return n > INT_MAX ? INT_MAX : (int)n;
    char buf[4096];
    if (read_small(SYS_CPU "/online", buf, sizeof buf) == 0) {
        int c = for_each_in_list(buf, NULL, NULL);
        if (c >= 1)
            return c;
    }
    return 1;
}

struct core_set {
    struct core { long package, core; } *v;
    size_t n, cap;
    int failed;
};

static int add_core(long cpu, void *arg) {
    struct core_set *s = arg;
    char path[128], buf[64];
    long pkg, core;
    snprintf(path, sizeof path, SYS_CPU "/cpu%ld/topology/physical_package_id", cpu);
    if (read_small(path, buf, sizeof buf) != 0)
        return s->failed = -1;
    pkg = strtol(buf, NULL, 10);
    snprintf(path, sizeof path, SYS_CPU "/cpu%ld/topology/core_id", cpu);
    if (read_small(path, buf, sizeof buf) != 0)
        return s->failed = -1;
    core = strtol(buf, NULL, 10);
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].package == pkg && s->v[i].core == core)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct core *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return s->failed = -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct core){pkg, core};
    return 0;
}

static int physical_count(int logical) {
    char buf[4096];
    struct core_set s = {0};
    int n = 0;
    /* Offline CPUs have no topology directory, so walk the online list only. */
    if (read_small(SYS_CPU "/online", buf, sizeof buf) == 0 &&
        for_each_in_list(buf, add_core, &s) > 0 && !s.failed)
        n = s.n > (size_t)logical ? logical : (int)s.n;
    free(s.v);
    return n >= 1 ? n : logical;
}

static int affinity_count(void) {
    /* The mask may be wider than cpu_set_t on machines with more than 1024 CPUs. */
    for (int ncpu = 1024; ncpu <= (1 << 20); ncpu *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpu);
        if (!set)
            return -ENOMEM;
        size_t sz = CPU_ALLOC_SIZE(ncpu);
        if (sched_getaffinity(0, sz, set) == 0) {
            int n = CPU_COUNT_S(sz, set);
            CPU_FREE(set);
            return n;
        }
        int err = errno;
        CPU_FREE(set);
        if (err != EINVAL)
            return -err;
    }
    return -EINVAL;
}

/* CPUs allowed by one cpu.max file ("max 100000" or "150000 100000"), 0 for no limit. */
static int quota_of_file(const char *path) {
    char buf[128];
    if (read_small(path, buf, sizeof buf) != 0)
        return 0;
    if (strncmp(buf, "max", 3) == 0)
        return 0;
    char *end;
    errno = 0;
    unsigned long long quota = strtoull(buf, &end, 10);
    if (end == buf || errno)
        return 0;
    char *p = end;
    unsigned long long period = strtoull(p, &end, 10);
    if (end == p || errno || period == 0)
        return 0;
    unsigned long long cpus = quota / period + (quota % period != 0);
    if (cpus == 0)
        cpus = 1;
    return cpus > INT_MAX ? INT_MAX : (int)cpus;
}

int shmpool__cpu_quota_from(const char *cgroup_root, const char *proc_self_cgroup_path) {
    if (!cgroup_root || !proc_self_cgroup_path)
        return 0;
    FILE *f = fopen(proc_self_cgroup_path, "re");
    if (!f)
        return 0;
    char line[4096], rel[4096] = "";
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        /* cgroup v2 is the "0::<path>" line; v1 lines name their controllers. */
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(rel, sizeof rel, "%s", line + 3);
            found = 1;
            break;
        }
    }
    fclose(f);
    if (!found)
        return 0;
    /* A cgroup outside our namespace shows as "/../..": only the visible root is checkable. */
    if (rel[0] != '/' || strstr(rel, "/..") != NULL)
        rel[0] = '\0';

    int best = 0;
    char path[8192];
    for (;;) {
        size_t n = strlen(rel);
        while (n > 0 && rel[n - 1] == '/')
            rel[--n] = '\0';
        snprintf(path, sizeof path, "%s%s/cpu.max", cgroup_root, rel);
        int q = quota_of_file(path);
        if (q > 0 && (best == 0 || q < best))
            best = q;
        if (n == 0)
            break;
        char *slash = strrchr(rel, '/');
        *slash = '\0';
    }
    return best;
}

static int usable_count(void) {
    int n = affinity_count();
    if (n < 1)
        n = logical_count();
    int q = shmpool__cpu_quota_from("/sys/fs/cgroup", "/proc/self/cgroup");
    if (q > 0 && q < n)
        n = q;
    return n >= 1 ? n : 1;
}

int shmpool_cpu_count(int kind) {
    switch (kind) {
    case SHMPOOL_CPU_LOGICAL:
        return logical_count();
    case SHMPOOL_CPU_PHYSICAL:
        return physical_count(logical_count());
    case SHMPOOL_CPU_USABLE:
        return usable_count();
    default:
        return -EINVAL;
    }
}
